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

/// The files a component renders, in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub files: Vec<(String, String)>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Output {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file holding `objects` as a multi-document YAML stream.
    pub fn file<T: Serialize>(mut self, path: &str, objects: &[T]) -> Result<Self, Error> {
        self.files.push((path.into(), to_yaml(objects)?));
        Ok(self)
    }

    /// Adds a file with the given text, already YAML.
    pub fn raw_file(mut self, path: &str, content: impl Into<String>) -> Self {
        self.files.push((path.into(), content.into()));
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

    /// The content of the file at `path`, for tests.
    pub fn content(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c.as_str())
    }

    pub(crate) fn into_wit(self) -> wit::RenderOutput {
        wit::RenderOutput {
            files: self
                .files
                .into_iter()
                .map(|(path, content)| wit::File { path, content })
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
