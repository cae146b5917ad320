//! `init`: starts a project from a stack: writes cairn.yaml with every
//! component's defaults, each commented with what it is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use super::Options;
use super::config_text;
use super::session::open_source;
use super::tree::load_components;
use crate::runtime::Loaded;
use crate::stack::Stack;

/// The stack to start from.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// A git URL (https, ssh, file://) or a local path, relative to the
    /// current directory.
    pub source: String,
    /// A semver range, a tag or a commit; default the newest release.
    pub version: Option<String>,
    /// The SSH public key the release must be signed with; default: trust
    /// the key that signed it, shown in the report.
    pub signer: Option<String>,
    /// Start from a release that is not signed, recording the opt-out.
    pub unsigned: bool,
}

/// What `init` wrote.
#[derive(Debug, Serialize)]
pub struct InitReport {
    /// The cairn.yaml written.
    pub path: PathBuf,
    pub stack: String,
    /// The version requirement written, if any.
    pub requirement: Option<String>,
    pub components: usize,
    /// The fingerprint of the key that signed the release, now trusted in
    /// cairn.yaml; `None` for a plain directory or an unsigned opt-out.
    pub signer: Option<String>,
    /// Whether cairn.yaml opts out of signature checks.
    pub unsigned: bool,
}

/// `cairn init`: writes `options.config` for the stack, with each
/// component's defaults commented with its description.
pub fn init(options: &Options, what: &InitOptions) -> anyhow::Result<InitReport> {
    let dir = options
        .config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The directories this run creates, removed again if it fails: a
    // failed init leaves nothing behind.
    let created: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    let schema = dir.join(config_text::SCHEMA_FILE);
    let schema_existed = schema.exists();
    let result = write_config(options, what);
    if result.is_err() {
        if !schema_existed {
            let _ = std::fs::remove_file(&schema);
        }
        for dir in &created {
            let _ = std::fs::remove_dir(dir);
        }
    }
    result
}

fn write_config(options: &Options, what: &InitOptions) -> anyhow::Result<InitReport> {
    // A bundle (`cairn bundle export`) stands for the release it holds,
    // read offline; a stack's name in the followed catalogs for its source.
    let bundled = if Path::new(&what.source).is_file() {
        Some(super::bundle::import(options, Path::new(&what.source))?)
    } else {
        None
    };
    let offline_options;
    let options = match &bundled {
        Some(_) => {
            offline_options = Options {
                offline: true,
                ..options.clone()
            };
            &offline_options
        }
        None => options,
    };
    let found = match &bundled {
        Some(_) => None,
        None => super::catalog::lookup(options, &what.source)?,
    };
    let source_spec = match (&bundled, found) {
        (Some(meta), _) => meta.source.clone(),
        (None, Some(found)) => found.stack.source,
        (None, None) => what.source.clone(),
    };
    let source_spec = source_spec.as_str();
    let version = match &bundled {
        Some(meta) => Some(what.version.as_deref().unwrap_or(meta.tag.as_str())),
        None => what.version.as_deref(),
    };
    let config_path = options.config.clone();
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if config_path.exists() {
        bail!(
            "{} already exists; edit it, or use `cairn update` to change the version",
            config_path.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A local path is given relative to where the user is, but cairn.yaml
    // resolves it relative to itself.
    let cwd = std::env::current_dir()?;
    let source_spec = &crate::source::relocate(source_spec, &cwd, &cwd.join(dir));
    let source = open_source(source_spec, dir, options, true)?;
    let pin = source.resolve(version)?;
    let requirement = match (version, &pin.version) {
        (Some(v), _) => Some(v.to_string()),
        (None, Some(v)) => Some(format!("^{v}")),
        (None, None) => None,
    };
    // Whom to trust: the key that signed this release (the user checks
    // the fingerprint shown), or the one --signer names.
    let signer = if source.is_git() && !what.unsigned {
        let signer = super::session::release_signer(
            &source,
            &pin,
            source_spec,
            "or start from it anyway with --unsigned (recorded in cairn.yaml)",
        )?;
        if let Some(wanted) = &what.signer {
            let wanted = crate::signing::parse_key(wanted)?;
            if wanted.fingerprint != signer.fingerprint {
                bail!(
                    "release {} of stack {source_spec} is signed by {}, not by the key --signer gives ({}); refusing it",
                    pin.describe(),
                    signer.fingerprint,
                    wanted.fingerprint
                );
            }
        }
        Some(signer)
    } else {
        None
    };
    let stack = Stack::load(&source, pin)?;
    let runtime = options.sandbox.runtime()?;
    let def = &stack.definition;
    let names: Vec<&str> = def.components.iter().map(|c| c.name.as_str()).collect();
    let (loaded, index) = load_components(&runtime, &*options.sandbox.progress, &stack, &names)?;
    let loaded: Vec<&Loaded> = index.into_iter().map(|i| &loaded[i]).collect();

    let mut text = format!(
        "{}# cairn.yaml: the stack this directory is generated from, and your values.\n\
         # Every option is listed, commented out with its default: uncomment what you change.\n\
         # Run `cairn generate` after changing it; `cairn diff` shows what would change.\n\
         stack:\n  source: {}\n",
        config_text::schema_modeline(),
        yaml_scalar(source_spec)
    );
    if let Some(req) = &requirement {
        text.push_str(&format!("  version: {}\n", yaml_scalar(req)));
    }
    if let Some(signer) = &signer {
        text.push_str(&format!(
            "  # Releases must be signed by one of these keys ({}).\n  signers:\n    - {}\n",
            signer.fingerprint,
            yaml_scalar(&signer.key)
        ));
    } else if what.unsigned && source.is_git() {
        text.push_str("  # Releases are run without checking their signature.\n  unsigned: true\n");
    }
    text.push_str("# Where generated files go, relative to this file.\noutput: .\nvalues:\n");
    let mut described = Vec::new();
    for (component, loaded) in def.components.iter().zip(&loaded) {
        text.push_str(&config_text::component_block(
            &component.name,
            component.enabled,
            &loaded.metadata,
        ));
        described.push((component.name.as_str(), &loaded.metadata));
    }
    let schema = config_text::file_schema(&def.name, &described);
    let schema_path = dir.join(config_text::SCHEMA_FILE);
    crate::files::write_atomic(
        &schema_path,
        format!("{}\n", serde_json::to_string_pretty(&schema)?).as_bytes(),
    )
    .with_context(|| format!("cannot write {}", schema_path.display()))?;
    crate::files::write_atomic(&config_path, text.as_bytes())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    Ok(InitReport {
        path: config_path,
        stack: def.name.clone(),
        requirement,
        components: def.components.len(),
        signer: signer.map(|s| s.fingerprint),
        unsigned: what.unsigned,
    })
}

fn yaml_scalar(text: &str) -> String {
    serde_yaml::to_string(text)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| format!("{text:?}"))
}
