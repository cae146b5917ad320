//! Renders a set of components into one tree: values are validated against
//! each component's schema, phase 1 collects facts, phase 2 renders, and
//! `compose` validates and assembles the files.
//!
//! Components run in parallel within each phase. Every problem of a phase is
//! collected before failing, so the user fixes them in one pass. Nothing here
//! writes anywhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rayon::prelude::*;

use crate::compose::{
    self, ComponentFiles, FactError, OutputProblem, Publication, Published, Tree,
};
use crate::runtime::{CallError, Diagnostic, Failure, Loaded, Runtime, Severity};
use crate::secrets::{MIN_CHECKED, REFERENCE_HELP, Resolved, Resolver, Sealer};
use crate::values::{self, ValuesError, Violation};

/// How a render treats secrets.
pub struct SecretHandling<'a> {
    /// Resolves the references given for secret values.
    pub resolver: &'a Resolver,
    /// Seals rendered Secrets; without one, a rendered Secret is refused.
    pub sealer: Option<&'a Sealer>,
}

/// One component to render, under `name`, with the user's values for it.
pub struct Instance<'a> {
    pub name: String,
    pub component: &'a Loaded,
    pub values: Option<serde_json::Value>,
}

/// A successful render.
pub struct Rendering {
    pub tree: Tree,
    pub components: Vec<ComponentSummary>,
    /// Every fact published, by key.
    pub facts: BTreeMap<String, Published>,
    /// Warnings and notes components returned, with the component's name.
    pub diagnostics: Vec<(String, Diagnostic)>,
    /// What each component printed or logged while rendering, for
    /// `--verbose`; only components that printed something.
    pub logs: Vec<(String, String)>,
    /// The objects sealed, for the lock.
    pub sealed: std::collections::BTreeSet<String>,
    /// Sealed objects whose previous ciphertext no identity here opens.
    pub unopened: std::collections::BTreeSet<String>,
}

/// What one component contributed.
pub struct ComponentSummary {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// The configuration it rendered with: the user's values plus defaults,
    /// with each secret value replaced by the reference it was given as.
    pub config: serde_json::Value,
    /// Files it produced, not counting the generated kustomization.
    pub files: usize,
    /// The facts it reads and waits for: it is applied after their
    /// providers on a cluster.
    pub waits_for: Vec<String>,
    /// The API groups whose CRDs its charts install.
    pub crd_groups: Vec<String>,
}

/// One component that failed to load or run, and how. Its message names
/// the component, then the diagnostics and the tail of what it printed.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_failure(.component, .error))]
pub struct ComponentFailure {
    pub component: String,
    pub error: CallError,
}

/// Why a render failed. Each variant holds every problem of its stage.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{}", describe_values(.0))]
    Values(Vec<(String, ValuesError)>),
    #[error("{}", describe_failures(.0))]
    Components(Vec<ComponentFailure>),
    #[error("{}", bulleted("facts do not resolve:", .0))]
    Facts(Vec<FactError>),
    #[error("{}", bulleted("invalid output:", .0))]
    Output(Vec<OutputProblem>),
    #[error(
        "more than one component is named {0:?}; give each copy its own name (NAME=COMPONENT.wasm)"
    )]
    DuplicateName(String),
}

/// Checks the values of `instances` against their schemas (secret
/// references resolved) without running anything: every problem, as
/// [`render`] would report it.
pub fn check_values(instances: &[Instance<'_>], resolver: &Resolver) -> Result<(), RenderError> {
    let invalid: Vec<(String, ValuesError)> = instances
        .iter()
        .filter_map(|i| {
            prepare_values(i, resolver, None)
                .err()
                .map(|e| (i.name.clone(), e))
        })
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(RenderError::Values(invalid))
    }
}

/// Renders `instances` with `runtime`. Every secret value resolved for
/// them is kept out of the output (refused) and out of what components
/// say (redacted).
pub fn render(
    runtime: &Runtime,
    instances: &[Instance<'_>],
    secrets: &SecretHandling<'_>,
) -> Result<Rendering, RenderError> {
    if let Some(name) = compose::duplicate_names(instances.iter().map(|i| i.name.as_str()))
        .into_iter()
        .next()
    {
        return Err(RenderError::DuplicateName(name.into()));
    }

    let mut configs = Vec::new();
    let mut redacted = Vec::new();
    let mut secret = Vec::new();
    let mut invalid = Vec::new();
    let mut resolved = Resolved::default();
    let mut short = Vec::new();
    for instance in instances {
        match prepare_values(instance, secrets.resolver, Some(runtime)) {
            Ok((config, shown, plains)) => {
                configs.push(config);
                redacted.push(shown);
                secret.push(!plains.is_empty());
                for (field, plain) in plains {
                    if !resolved.add(&instance.name, &field, &plain) {
                        short.push((instance.name.clone(), field));
                    }
                }
            }
            Err(err) => invalid.push((instance.name.clone(), err)),
        }
    }
    if !invalid.is_empty() {
        return Err(RenderError::Values(invalid));
    }
    let prepared = PreparedValues {
        configs,
        redacted,
        secret,
    };
    let rendering = render_checked(runtime, instances, secrets, prepared, &resolved);
    match rendering {
        Ok(mut rendering) => {
            for (component, field) in short {
                rendering.diagnostics.push((
                    component,
                    Diagnostic {
                        severity: Severity::Warning,
                        message: format!(
                            "the secret is shorter than {MIN_CHECKED} characters, too short for cairn to check that no output holds it; use a longer one"
                        ),
                        field: Some(field),
                        file: None,
                    },
                ));
            }
            for (_, d) in &mut rendering.diagnostics {
                d.message = resolved.redact(&d.message);
            }
            for (_, log) in &mut rendering.logs {
                *log = resolved.redact(log);
            }
            Ok(rendering)
        }
        Err(err) => Err(err.redacted(&resolved)),
    }
}

/// The phases of [`render`] after values are prepared; the caller redacts
/// what it returns.
fn render_checked(
    runtime: &Runtime,
    instances: &[Instance<'_>],
    secrets: &SecretHandling<'_>,
    prepared: PreparedValues,
    resolved: &Resolved,
) -> Result<Rendering, RenderError> {
    let PreparedValues {
        configs,
        redacted,
        secret,
    } = prepared;
    let config_json: Vec<String> = configs.iter().map(|c| c.to_string()).collect();

    // Phase 1: facts. A component that declares none cannot publish any,
    // so it is not called. Calls are memoized, except those given a secret:
    // nothing computed from a secret is kept on disk.
    let published = collect(instances.par_iter().zip(&config_json).zip(&secret).map(
        |((instance, config), secret)| {
            if instance.component.metadata.provides.is_empty() {
                return Ok(Vec::new());
            }
            runtime
                .facts(instance.component, config, !secret)
                .map_err(|error| failure(instance, error))
        },
    ))?;
    let publications = instances
        .iter()
        .zip(published)
        .map(|(instance, facts)| Publication {
            component: &instance.name,
            provides: &instance.component.metadata.provides,
            facts,
        })
        .collect();
    let table = compose::resolve_facts(publications).map_err(RenderError::Facts)?;

    let mut inputs = Vec::new();
    let mut missing = Vec::new();
    for instance in instances {
        match compose::facts_for(&instance.name, &instance.component.metadata.reads, &table) {
            Ok(facts) => inputs.push(facts),
            Err(errors) => missing.extend(errors),
        }
    }
    if !missing.is_empty() {
        return Err(RenderError::Facts(missing));
    }

    // Phase 2: render, memoized unless the component was given a secret or
    // reads a fact from one that was.
    let tainted: Vec<&str> = instances
        .iter()
        .zip(&secret)
        .filter(|(_, secret)| **secret)
        .map(|(i, _)| i.name.as_str())
        .collect();
    let memoize: Vec<bool> = inputs
        .iter()
        .zip(&secret)
        .map(|(facts, secret)| {
            !secret
                && facts.iter().all(|f| {
                    table
                        .get(&f.key)
                        .is_none_or(|p| !tainted.contains(&p.provider.as_str()))
                })
        })
        .collect();
    let rendered = collect(
        instances
            .par_iter()
            .zip(&config_json)
            .zip(&inputs)
            .zip(&memoize)
            .map(|(((instance, config), facts), memoize)| {
                let rendered = runtime
                    .render(instance.component, config, facts, *memoize)
                    .map_err(|error| failure(instance, error))?;
                let errors: Vec<Diagnostic> = rendered
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .cloned()
                    .collect();
                if !errors.is_empty() {
                    return Err(failure(
                        instance,
                        CallError {
                            failure: Failure::InvalidConfig(errors),
                            log: rendered.log.clone(),
                        },
                    ));
                }
                Ok(rendered)
            }),
    )?;

    let mut diagnostics = Vec::new();
    let mut logs = Vec::new();
    let mut outputs = Vec::new();
    let mut components = Vec::new();
    for ((instance, rendered), config) in instances.iter().zip(rendered).zip(redacted) {
        if !rendered.log.is_empty() {
            logs.push((instance.name.clone(), rendered.log.clone()));
        }
        diagnostics.extend(
            rendered
                .diagnostics
                .into_iter()
                .map(|d| (instance.name.clone(), d)),
        );
        components.push(ComponentSummary {
            name: instance.name.clone(),
            version: instance.component.metadata.version.clone(),
            sha256: instance.component.sha256.clone(),
            config,
            files: rendered.files.len(),
            waits_for: instance
                .component
                .metadata
                .reads
                .iter()
                .filter(|d| d.wait)
                .map(|d| d.key.clone())
                .collect(),
            crd_groups: instance.component.metadata.crd_groups.clone(),
        });
        outputs.push(ComponentFiles {
            component: instance.name.clone(),
            files: rendered.files,
        });
    }
    let mut tree = compose::assemble(outputs, runtime.limits()).map_err(RenderError::Output)?;
    let sealed = match secrets.sealer {
        Some(sealer) => sealer.seal(&mut tree).map_err(RenderError::Output)?,
        None => Default::default(),
    };
    diagnostics.extend(sealed.warnings.into_iter().map(|(component, message)| {
        (
            component,
            Diagnostic {
                severity: Severity::Warning,
                message,
                field: None,
                file: None,
            },
        )
    }));
    // On exactly what would be written: nothing in plaintext gets past,
    // neither a Secret nor a secret value a component echoed elsewhere.
    let mut leaks = compose::plaintext_problems(&tree);
    leaks.extend(resolved.leaks(&tree));
    if !leaks.is_empty() {
        return Err(RenderError::Output(leaks));
    }
    Ok(Rendering {
        tree,
        components,
        facts: table,
        diagnostics,
        logs,
        sealed: sealed.objects,
        unopened: sealed.unopened,
    })
}

/// Resolves the secret references of an instance's values, then fills in
/// defaults and validates. Returns the configuration the component gets and
/// the one shown and hashed, with each secret as the reference it was given
/// as. A secret written in plaintext is refused, and no message repeats a
/// secret's value.
type Prepared = (serde_json::Value, serde_json::Value, Vec<(String, String)>);

/// Every instance's configuration, as given to it and as shown, and
/// whether it holds a secret value.
struct PreparedValues {
    configs: Vec<serde_json::Value>,
    redacted: Vec<serde_json::Value>,
    secret: Vec<bool>,
}

/// With `runtime`, a configuration prepared before for the same values
/// (holding no secret) is taken from its memo, and a new one kept.
fn prepare_values(
    instance: &Instance<'_>,
    resolver: &Resolver,
    runtime: Option<&Runtime>,
) -> Result<Prepared, ValuesError> {
    let schema = &instance.component.metadata.config_schema;
    let mut values = instance.values.clone();
    let mut references = BTreeMap::new();
    let mut plains: Vec<String> = Vec::new();
    let mut fields = Vec::new();
    let mut problems = Vec::new();
    if let Some(values) = values.as_mut() {
        values::secret_fields(schema, values, &mut |field, value| {
            if Resolver::is_reference(value) {
                match resolver.resolve(value) {
                    Ok(plain) => {
                        references.insert(field.to_string(), value.clone());
                        plains.push(plain.clone());
                        fields.push((field.to_string(), plain.clone()));
                        *value = serde_json::Value::String(plain);
                    }
                    Err(message) => problems.push(Violation {
                        field: field.to_string(),
                        message,
                    }),
                }
            } else if !(value.is_null() || value.is_object()) {
                problems.push(Violation {
                    field: field.to_string(),
                    message: format!(
                        "is a secret, and cairn.yaml is committed: never write it in plaintext; {REFERENCE_HELP}"
                    ),
                });
            }
        });
    }
    if !problems.is_empty() {
        return Err(ValuesError::Invalid(problems));
    }
    let memo = runtime.filter(|_| plains.is_empty()).map(|runtime| {
        let key = values
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        (runtime, key)
    });
    let recalled = memo
        .as_ref()
        .and_then(|(runtime, key)| runtime.recall_config(instance.component, key));
    let config = match recalled {
        Some(config) => config,
        None => {
            let config = prepare_config(schema, values.as_ref(), &plains)?;
            if let Some((runtime, key)) = &memo {
                runtime.remember_config(instance.component, key, &config);
            }
            config
        }
    };
    let mut shown = config.clone();
    values::secret_fields(schema, &mut shown, &mut |field, value| {
        *value = references
            .get(field)
            .cloned()
            .unwrap_or_else(|| serde_json::Value::String("(secret)".into()));
    });
    Ok((config, shown, fields))
}

/// Defaults filled in and validated; no message repeats a secret.
fn prepare_config(
    schema: &serde_json::Value,
    values: Option<&serde_json::Value>,
    plains: &[String],
) -> Result<serde_json::Value, ValuesError> {
    values::prepare(schema, values).map_err(|err| match err {
        ValuesError::Invalid(violations) => ValuesError::Invalid(
            violations
                .into_iter()
                .map(|mut v| {
                    // Messages quote values as JSON; a long enough value is
                    // also hidden wherever else it appears.
                    for plain in plains.iter().filter(|p| !p.is_empty()) {
                        let quoted = serde_json::Value::String(plain.clone()).to_string();
                        v.message = v.message.replace(&quoted, "(secret)");
                        if plain.len() >= 6 {
                            v.message = v.message.replace(plain.as_str(), "(secret)");
                        }
                    }
                    v
                })
                .collect(),
        ),
        other => other,
    })
}

impl RenderError {
    /// The same error with every resolved secret value hidden in what
    /// components said and in the problems found in their output.
    fn redacted(self, resolved: &Resolved) -> Self {
        match self {
            RenderError::Components(failures) => RenderError::Components(
                failures
                    .into_iter()
                    .map(|mut f| {
                        f.error.log = resolved.redact(&f.error.log);
                        f.error.failure = f.error.failure.redacted(&|t| resolved.redact(t));
                        f
                    })
                    .collect(),
            ),
            RenderError::Output(problems) => RenderError::Output(
                problems
                    .into_iter()
                    .map(|mut p| {
                        p.problem = resolved.redact(&p.problem);
                        p
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

fn failure(instance: &Instance<'_>, error: CallError) -> ComponentFailure {
    ComponentFailure {
        component: instance.name.clone(),
        error,
    }
}

/// Collects parallel results in order, keeping every failure.
fn collect<T: Send>(
    results: impl IndexedParallelIterator<Item = Result<T, ComponentFailure>>,
) -> Result<Vec<T>, RenderError> {
    let results: Vec<Result<T, ComponentFailure>> = results.collect();
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for result in results {
        match result {
            Ok(value) => ok.push(value),
            Err(failure) => failed.push(failure),
        }
    }
    if failed.is_empty() {
        Ok(ok)
    } else {
        Err(RenderError::Components(failed))
    }
}

fn bulleted<T: std::fmt::Display>(title: &str, items: &[T]) -> String {
    let mut out = title.to_string();
    for item in items {
        let _ = write!(out, "\n  - {item}");
    }
    out
}

fn describe_values(invalid: &[(String, ValuesError)]) -> String {
    let mut out = String::from("invalid values:");
    for (component, err) in invalid {
        match err {
            ValuesError::Invalid(violations) => {
                for v in violations {
                    let field = if v.field.is_empty() {
                        component.clone()
                    } else {
                        format!("{component}.{}", v.field)
                    };
                    let _ = write!(out, "\n  - {field}: {}", v.message);
                }
            }
            ValuesError::BadSchema(_) => {
                let _ = write!(out, "\n  - component {component:?}: {err}");
            }
        }
    }
    out
}

fn describe_failures(failures: &[ComponentFailure]) -> String {
    let mut out = String::new();
    for (i, f) in failures.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&f.to_string());
    }
    out
}

/// `component "loki": exceeded the 10s render deadline`, then the
/// diagnostics and the captured log, indented.
fn describe_failure(component: &str, error: &CallError) -> String {
    let mut out = format!("component {component:?}: {}", error.failure);
    if let Failure::InvalidConfig(diags) = &error.failure {
        for d in diags {
            let _ = write!(out, "\n  - {}", d.shown());
        }
    }
    let log = error.log.trim_end();
    if !log.is_empty() {
        let lines: Vec<&str> = log.lines().collect();
        let shown = &lines[lines.len().saturating_sub(LOG_LINES)..];
        if shown.len() < lines.len() {
            let _ = write!(
                out,
                "\n  its output (last {} of {} lines):",
                shown.len(),
                lines.len()
            );
        } else {
            let _ = write!(out, "\n  its output:");
        }
        for line in shown {
            match line.char_indices().nth(LOG_LINE_CHARS) {
                Some((cut, _)) => {
                    let _ = write!(out, "\n  | {}...", &line[..cut]);
                }
                None => {
                    let _ = write!(out, "\n  | {line}");
                }
            }
        }
    }
    out
}

/// How much of a failed component's output an error shows.
const LOG_LINES: usize = 20;
const LOG_LINE_CHARS: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Phase;

    fn failure(failure: Failure, log: &str) -> ComponentFailure {
        ComponentFailure {
            component: "loki".into(),
            error: CallError {
                failure,
                log: log.into(),
            },
        }
    }

    #[test]
    fn failures_name_the_component_and_show_the_end_of_its_output() {
        let many: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let long = format!("{}\n", "y".repeat(500));
        let cut = format!("  | {}...", "y".repeat(LOG_LINE_CHARS));
        let uncut = "y".repeat(LOG_LINE_CHARS + 1);
        let cases = [
            (
                "a deadline, nothing printed",
                failure(
                    Failure::Deadline {
                        phase: Phase::Render,
                        limit: std::time::Duration::from_secs(10),
                    },
                    "",
                ),
                vec!["component \"loki\": exceeded the 10s render deadline"],
                vec!["its output"],
            ),
            (
                "rejected values, each with its field",
                failure(
                    Failure::InvalidConfig(vec![Diagnostic {
                        severity: Severity::Error,
                        message: "must be positive".into(),
                        field: Some("replicas".into()),
                        file: None,
                    }]),
                    "",
                ),
                vec![
                    "component \"loki\": rejected its configuration",
                    "\n  - error: replicas: must be positive",
                ],
                vec![],
            ),
            (
                "a long log: the last lines, counted",
                failure(
                    Failure::Failed {
                        phase: Phase::Facts,
                        message: "boom".into(),
                    },
                    &many,
                ),
                vec![
                    "failed during facts: boom",
                    "its output (last 20 of 30 lines):",
                    "  | line 30",
                    "  | line 11",
                ],
                vec!["  | line 10\n"],
            ),
            (
                "a long line, cut",
                failure(Failure::Output("too big".into()), &long),
                vec![cut.as_str()],
                vec![uncut.as_str()],
            ),
        ];
        for (what, failure, has, lacks) in cases {
            let text = failure.to_string();
            for part in has {
                assert!(text.contains(part), "{what}: no {part:?} in\n{text}");
            }
            for part in lacks {
                assert!(!text.contains(part), "{what}: {part:?} in\n{text}");
            }
        }
    }

    #[test]
    fn every_invalid_value_is_listed_under_its_field() {
        let violation = |field: &str, message: &str| Violation {
            field: field.into(),
            message: message.into(),
        };
        let err = RenderError::Values(vec![
            (
                "app".into(),
                ValuesError::Invalid(vec![
                    violation("replicas", "must be an integer"),
                    violation("", "unknown field \"x\""),
                ]),
            ),
            (
                "db".into(),
                ValuesError::Invalid(vec![violation("size", "too large")]),
            ),
        ]);
        assert_eq!(
            err.to_string(),
            "invalid values:\n  - app.replicas: must be an integer\n  - app: unknown field \"x\"\n  - db.size: too large"
        );
    }
}
