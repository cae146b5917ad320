//! `configure`: a cluster's cairn.yaml as components to turn on and forms
//! to fill, and the edits a front end makes to it. The same checks, diff
//! and structural edits as the CLI: a draft is turned into cairn.yaml text
//! by `edit` (comments and layout kept), checked as `generate` checks
//! values, reviewed by `diff`, and written only by [`save`].

use std::collections::BTreeMap;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Options;
use super::generate::{GenerateReport, diff};
use super::session::Session;
use super::session::{Access, settle};
use super::tree::{FieldProblem, check_values, load_components};
use crate::config::{Lock, Project, UserConfig};
use crate::render::RenderError;
use crate::runtime::{FactDecl, Failure};
use crate::stack::Stack;

/// A cluster's configuration as a front end shows it.
#[derive(Debug, Serialize)]
pub struct ConfigureState {
    /// The cairn.yaml edited.
    pub config: String,
    pub stack: StackInfo,
    pub components: Vec<ComponentForm>,
    /// cairn.yaml as it is on disk.
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct StackInfo {
    pub name: String,
    pub source: String,
    /// The version shown: the locked one, else the newest the requirement
    /// allows.
    pub version: String,
}

/// One component: what it is, and its form.
#[derive(Debug, Serialize)]
pub struct ComponentForm {
    pub name: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub version: String,
    pub readme: String,
    pub provides: Vec<FactDecl>,
    pub reads: Vec<FactDecl>,
    pub crd_groups: Vec<String>,
    /// On by default in the stack.
    pub default_enabled: bool,
    /// On for this cluster.
    pub enabled: bool,
    /// The JSON Schema of its values.
    pub schema: Value,
    /// What the form starts from: the schema's defaults, under the values
    /// of `include:` files, under this cairn.yaml's own.
    pub values: Value,
    /// The dotted paths of fields the schema marks secret: given only as
    /// references (`{env: NAME}`, `{file: PATH}`, `{sops: FILE, key: K}`).
    pub secrets: Vec<String>,
    /// The files it rendered into the repo at the last `generate`.
    pub files: Vec<String>,
    /// The other stack it comes from (cairn.yaml `stacks:`), by name.
    pub from_stack: Option<String>,
}

/// What a front end wants cairn.yaml to say: each component on or off, and
/// the whole form of each (unchanged fields are left as they are written).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub components: BTreeMap<String, DraftComponent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftComponent {
    pub enabled: bool,
    #[serde(default)]
    pub values: Value,
}

/// A draft, checked.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// The cairn.yaml the draft makes.
    pub text: String,
    /// Problems at a component's field, in the words `generate` uses.
    pub fields: Vec<FieldProblem>,
    /// Problems with the file as a whole.
    pub problems: Vec<String>,
}

impl CheckReport {
    pub fn is_valid(&self) -> bool {
        self.fields.is_empty() && self.problems.is_empty()
    }
}

/// The stack the project's cairn.yaml names, at the version `generate`
/// would use.
fn open_stack(options: &Options) -> anyhow::Result<(Session, Stack)> {
    let session = Session::open(options, Access::Read)?;
    let (_, stack) = session.stack(options)?;
    Ok((session, stack))
}

/// The configuration of the cluster `options` names, as forms.
pub fn state(options: &Options) -> anyhow::Result<ConfigureState> {
    let (session, stack) = open_stack(options)?;
    let project = &session.project;
    let def = &stack.definition;
    let names: Vec<&str> = def.components.iter().map(|c| c.name.as_str()).collect();
    let (loaded, index) =
        load_components(&session.runtime, &*options.sandbox.progress, &stack, &names)?;
    let own = own_values(project)?;
    let mut components = Vec::new();
    for (component, i) in def.components.iter().zip(index) {
        let meta = &loaded[i].metadata;
        let name = &component.name;
        let schema = meta.config_schema.clone();
        let mut secrets = Vec::new();
        let mut values = form_values(project, &own, name, &schema);
        crate::values::secret_fields(&schema, &mut values, &mut |path, _| {
            secrets.push(path.to_string());
        });
        components.push(ComponentForm {
            name: name.clone(),
            title: meta.title.clone(),
            description: meta.description.clone(),
            category: meta.category.clone(),
            version: meta.version.clone(),
            readme: meta.readme.clone(),
            provides: meta.provides.clone(),
            reads: meta.reads.clone(),
            crd_groups: meta.crd_groups.clone(),
            default_enabled: component.enabled,
            enabled: project.enabled(name).unwrap_or(component.enabled),
            schema,
            values,
            secrets,
            files: rendered_files(session.lock.as_ref(), name),
            from_stack: stack.stack_of(name).map(|s| s.name.clone()),
        });
    }
    Ok(ConfigureState {
        config: project.config_path.display().to_string(),
        stack: StackInfo {
            name: def.name.clone(),
            source: project.config.stack.source.clone(),
            version: stack.pin.describe(),
        },
        components,
        text: project.text.clone(),
    })
}

/// The values a cairn.yaml gives itself, without its `include:` files.
fn own_values(project: &Project) -> anyhow::Result<BTreeMap<String, Value>> {
    let origin = project.config_path.display().to_string();
    Ok(UserConfig::parse(&project.text, &origin)?.values)
}

/// Defaults, under inherited values, under the cluster's own, without
/// `enabled`.
fn form_values(
    project: &Project,
    own: &BTreeMap<String, Value>,
    name: &str,
    schema: &Value,
) -> Value {
    let mut values = crate::values::defaults(schema).unwrap_or(Value::Null);
    if !values.is_object() {
        values = Value::Object(Default::default());
    }
    for layer in [project.inherited.get(name), own.get(name)]
        .into_iter()
        .flatten()
    {
        crate::config::merge(&mut values, layer.clone());
    }
    if let Some(map) = values.as_object_mut() {
        map.remove("enabled");
    }
    values
}

fn rendered_files(lock: Option<&Lock>, name: &str) -> Vec<String> {
    let prefix = format!("{name}/");
    lock.map(|l| {
        l.files
            .keys()
            .filter(|path| path.starts_with(&prefix))
            .cloned()
            .collect()
    })
    .unwrap_or_default()
}

/// The cairn.yaml text `draft` makes of the one `options` names: only what
/// differs from what the file (with its includes and the schema's
/// defaults) already says is written, as structural edits.
pub fn apply(options: &Options, draft: &Draft) -> anyhow::Result<String> {
    let (session, stack) = open_stack(options)?;
    let project = &session.project;
    let own = own_values(project)?;
    let names: Vec<&str> = draft.components.keys().map(String::as_str).collect();
    for name in &names {
        if stack.definition.component(name).is_none() {
            anyhow::bail!("stack {} has no component {name:?}", stack.definition.name);
        }
    }
    let (loaded, index) =
        load_components(&session.runtime, &*options.sandbox.progress, &stack, &names)?;
    let origin = project.config_path.display().to_string();
    let mut text = project.text.clone();
    for ((name, wanted), i) in draft.components.iter().zip(index) {
        let component = stack.definition.component(name).expect("checked above");
        let enabled = project.enabled(name).unwrap_or(component.enabled);
        if wanted.enabled != enabled {
            text = crate::edit::set_value(
                &text,
                &origin,
                &["values", name, "enabled"],
                &serde_yaml::Value::Bool(wanted.enabled),
            )?;
        }
        if !wanted.enabled || wanted.values.is_null() {
            continue;
        }
        let schema = &loaded[i].metadata.config_schema;
        let base = form_values(project, &own, name, schema);
        let mut path = vec!["values".to_string(), name.clone()];
        text = apply_changes(
            text,
            &origin,
            &mut path,
            &base,
            own.get(name),
            &wanted.values,
        )?;
    }
    Ok(text)
}

/// Writes into `text` each field of `wanted` that differs from `base`, and
/// removes fields of the cluster's own values (`own`) that `wanted` drops.
/// Mappings are followed field by field; anything else is one value.
fn apply_changes(
    mut text: String,
    origin: &str,
    path: &mut Vec<String>,
    base: &Value,
    own: Option<&Value>,
    wanted: &Value,
) -> anyhow::Result<String> {
    let (Some(base_map), Some(wanted_map)) = (base.as_object(), wanted.as_object()) else {
        if base != wanted {
            let keys: Vec<&str> = path.iter().map(String::as_str).collect();
            let value = serde_yaml::to_value(wanted).context("a value of the form")?;
            text = crate::edit::set_value(&text, origin, &keys, &value)?;
        }
        return Ok(text);
    };
    for (key, value) in wanted_map {
        if path.len() == 2 && key == "enabled" {
            continue;
        }
        path.push(key.clone());
        let own_here = own.and_then(|o| o.get(key));
        text = match base_map.get(key) {
            Some(before) => apply_changes(text, origin, path, before, own_here, value)?,
            None => {
                let keys: Vec<&str> = path.iter().map(String::as_str).collect();
                let value = serde_yaml::to_value(value).context("a value of the form")?;
                crate::edit::set_value(&text, origin, &keys, &value)?
            }
        };
        path.pop();
    }
    if let Some(own) = own.and_then(Value::as_object) {
        for key in own.keys() {
            let top_enabled = path.len() == 2 && key == "enabled";
            if !top_enabled && !wanted_map.contains_key(key) {
                path.push(key.clone());
                let keys: Vec<&str> = path.iter().map(String::as_str).collect();
                text = crate::edit::remove(&text, origin, &keys)?;
                path.pop();
            }
        }
    }
    Ok(text)
}

/// `draft` applied and checked the way `generate` checks values, writing
/// nothing.
pub fn check(options: &Options, draft: &Draft) -> anyhow::Result<CheckReport> {
    let text = match apply(options, draft) {
        Ok(text) => text,
        Err(err) => {
            return Ok(CheckReport {
                text: String::new(),
                fields: Vec::new(),
                problems: vec![format!("{err:#}")],
            });
        }
    };
    Ok(check_text(options, text))
}

fn check_text(options: &Options, text: String) -> CheckReport {
    let mut report = CheckReport {
        text: text.clone(),
        fields: Vec::new(),
        problems: Vec::new(),
    };
    let drafted = Options {
        draft: Some(text),
        ..options.clone()
    };
    let checked = open_stack(&drafted).and_then(|(session, stack)| {
        check_values(
            &session.runtime,
            &*options.sandbox.progress,
            &session.project,
            &stack,
        )
    });
    match checked {
        Ok(Ok(())) => {}
        Ok(Err(invalid)) => report.fields = invalid.fields,
        Err(err) => report.problems.push(format!("{err:#}")),
    }
    report
}

/// What `cairn diff` would show once `draft` is saved: a checked draft
/// only.
pub fn review(
    options: &Options,
    draft: &Draft,
) -> anyhow::Result<Result<GenerateReport, CheckReport>> {
    let checked = check(options, draft)?;
    if !checked.is_valid() {
        return Ok(Err(checked));
    }
    let drafted = Options {
        draft: Some(checked.text.clone()),
        ..options.clone()
    };
    match diff(&drafted) {
        Ok(report) => Ok(Ok(report)),
        // What only rendering finds (a component rejecting its values, an
        // object that would not converge) is shown like a check's problems.
        Err(err) => Ok(Err(rendering_problems(checked.text, &err))),
    }
}

/// The problems of a failed render: a component's own rejection of its
/// values at their fields, anything else as it would be printed.
fn rendering_problems(text: String, err: &anyhow::Error) -> CheckReport {
    let mut report = CheckReport {
        text,
        fields: Vec::new(),
        problems: Vec::new(),
    };
    let rejected = err
        .chain()
        .find_map(|e| match e.downcast_ref::<RenderError>() {
            Some(RenderError::Components(failures)) => Some(failures),
            _ => None,
        });
    match rejected {
        Some(failures) => {
            for failure in failures {
                match &failure.error.failure {
                    Failure::InvalidConfig(diagnostics) => {
                        report
                            .fields
                            .extend(diagnostics.iter().map(|d| FieldProblem {
                                component: failure.component.clone(),
                                field: d.field.clone().unwrap_or_default(),
                                message: d.message.clone(),
                            }))
                    }
                    other => report
                        .problems
                        .push(format!("component {:?}: {other}", failure.component)),
                }
            }
        }
        None => report.problems.push(format!("{err:#}")),
    }
    report
}

/// Writes the cairn.yaml `draft` makes, when it checks out: atomically,
/// never generating or committing. The file must not have changed since
/// `expected` was read from it, so nobody's edit is lost.
pub fn save(
    options: &Options,
    draft: &Draft,
    expected: &str,
) -> anyhow::Result<Result<CheckReport, CheckReport>> {
    let project = options.project()?;
    if project.text != expected {
        anyhow::bail!(
            "{} changed since it was opened here; reload to see the change, then make yours again",
            project.config_path.display()
        );
    }
    settle(&project, Access::Read)?;
    let checked = check(options, draft)?;
    if !checked.is_valid() {
        return Ok(Err(checked));
    }
    crate::files::write_atomic(&project.config_path, checked.text.as_bytes())
        .with_context(|| format!("cannot write {}", project.config_path.display()))?;
    Ok(Ok(checked))
}
