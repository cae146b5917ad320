//! What a component returns: files and diagnostics, or a typed error.

use serde::Serialize;

use crate::bindings::cairn::component::types as wit;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// A message about the configuration or the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// The configuration field, as a dotted path (`acme.email`).
    pub field: Option<String>,
    pub file: Option<String>,
}

impl Diagnostic {
    fn into_wit(self) -> wit::Diagnostic {
        wit::Diagnostic {
            severity: match self.severity {
                Severity::Error => wit::Severity::Error,
                Severity::Warning => wit::Severity::Warning,
                Severity::Info => wit::Severity::Info,
            },
            message: self.message,
            field: self.field,
            file: self.file,
        }
    }
}

/// Why a component could not produce its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The configuration is unusable; each diagnostic says where and why.
    InvalidConfig(Vec<Diagnostic>),
    /// Anything else.
    Failed(String),
}

impl Error {
    /// One configuration problem at `field` (a dotted path), or about the
    /// configuration as a whole.
    pub fn invalid(field: Option<&str>, message: &str) -> Self {
        Error::InvalidConfig(vec![Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            field: field.map(Into::into),
            file: None,
        }])
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    pub(crate) fn into_wit(self) -> wit::RenderError {
        match self {
            Error::InvalidConfig(diags) => wit::RenderError::InvalidConfig(
                diags.into_iter().map(Diagnostic::into_wit).collect(),
            ),
            Error::Failed(message) => wit::RenderError::Failed(message),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidConfig(diags) => {
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    match &d.field {
                        Some(field) => write!(f, "{field}: {}", d.message)?,
                        None => f.write_str(&d.message)?,
                    }
                }
                Ok(())
            }
            Error::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// When Flux applies a file, relative to the component's other files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Applied first: namespaces, chart sources, HelmReleases, and objects
    /// of built-in kinds or of kinds other components install.
    Main,
    /// Applied once `Main` is ready: objects of the kinds this component's
    /// own charts install (see `Metadata::crd_groups`). cairn writes these
    /// under `config/` in the component's directory.
    Config,
}

/// One file of a component's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub path: String,
    pub content: String,
    pub layer: Layer,
}

/// The files a component renders, in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub files: Vec<OutputFile>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Output {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file holding `objects` as a multi-document YAML stream, in
    /// the `main` layer.
    pub fn file<T: Serialize>(self, path: &str, objects: &[T]) -> Result<Self, Error> {
        Ok(self.raw_file(path, to_yaml(objects)?))
    }

    /// Adds a file holding `objects` to the `config` layer: objects of the
    /// kinds this component's own charts install, which Flux applies once
    /// the charts are ready. It lands in `config/PATH`.
    pub fn config_file<T: Serialize>(mut self, path: &str, objects: &[T]) -> Result<Self, Error> {
        self.files.push(OutputFile {
            path: path.into(),
            content: to_yaml(objects)?,
            layer: Layer::Config,
        });
        Ok(self)
    }

    /// Adds a file with the given text, already YAML, in the `main` layer.
    pub fn raw_file(mut self, path: &str, content: impl Into<String>) -> Self {
        self.files.push(OutputFile {
            path: path.into(),
            content: content.into(),
            layer: Layer::Main,
        });
        self
    }

    /// Adds a warning for the user.
    pub fn warn(mut self, field: Option<&str>, message: &str) -> Self {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            field: field.map(Into::into),
            file: None,
        });
        self
    }

    /// The content of the file at `path`, for tests; `config/PATH` names
    /// a file of the config layer, where cairn writes it.
    pub fn content(&self, path: &str) -> Option<&str> {
        let (layer, path) = match path.strip_prefix("config/") {
            Some(rest) => (Layer::Config, rest),
            None => (Layer::Main, path),
        };
        self.files
            .iter()
            .find(|f| f.layer == layer && f.path == path)
            .map(|f| f.content.as_str())
    }

    pub(crate) fn into_wit(self) -> wit::RenderOutput {
        wit::RenderOutput {
            files: self
                .files
                .into_iter()
                .map(|f| wit::File {
                    path: f.path,
                    content: f.content,
                    layer: match f.layer {
                        Layer::Main => wit::Layer::Main,
                        Layer::Config => wit::Layer::Config,
                    },
                })
                .collect(),
            diagnostics: self
                .diagnostics
                .into_iter()
                .map(Diagnostic::into_wit)
                .collect(),
        }
    }
}

/// Serialises objects as one YAML stream, `---` between documents.
pub fn to_yaml<T: Serialize>(objects: &[T]) -> Result<String, Error> {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let doc = serde_yaml::to_string(object)
            .map_err(|err| Error::failed(format!("cannot serialise a manifest: {err}")))?;
        out.push_str(&doc);
    }
    Ok(out)
}
