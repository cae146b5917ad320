//! Everything cairn prints, and its exit status. Each report is printed as
//! text for people or, with `-o json`, as one JSON document on stdout.
//! Texts that components and stacks control reach the terminal with their
//! control characters escaped, never interpreted (see
//! [`cairn::text::terminal`]).
//!
//! Exit status: 0 success; 1 the command worked and found something (a
//! diff, drift, lint problems, failing fixtures, stale sha256s); 2 an error.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::args::Format;
use cairn::author::{CaseResult, StackComponentReport};
use cairn::bootstrap::BootstrapReport;
use cairn::ops::{
    ConflictError, ConvergenceError, GenerateReport, InitReport, InspectReport, InvalidValues,
    LintReport, RenderReport, ShowReport, StatusReport, UpdateReport, UpdateStatus, VerifyReport,
};
use cairn::render::{ComponentFailure, RenderError};

macro_rules! out {
    ($($arg:tt)*) => {
        write_out(&cairn::text::terminal(&format!($($arg)*)))
    };
}
macro_rules! outln {
    () => {
        write_out("\n")
    };
    ($($arg:tt)*) => {
        write_out(&format!("{}\n", cairn::text::terminal(&format!($($arg)*))))
    };
}
macro_rules! errln {
    ($($arg:tt)*) => {
        write_err(&format!("{}\n", cairn::text::terminal(&format!($($arg)*))))
    };
}

thread_local! {
    /// What every line printed starts with (a fleet's cluster), and
    /// whether the next character starts a line.
    static PREFIX: std::cell::RefCell<(String, bool)> =
        const { std::cell::RefCell::new((String::new(), true)) };
}

/// Starts every line printed from now on with `prefix` (empty: none).
fn set_prefix(prefix: &str) {
    PREFIX.with(|p| *p.borrow_mut() = (prefix.to_string(), true));
}

/// `text` with the prefix at the start of each of its lines.
fn prefixed(text: &str) -> std::borrow::Cow<'_, str> {
    PREFIX.with(|p| {
        let mut p = p.borrow_mut();
        let (prefix, at_start) = &mut *p;
        if prefix.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + prefix.len());
        for c in text.chars() {
            if *at_start {
                out.push_str(prefix);
            }
            out.push(c);
            *at_start = c == '\n';
        }
        std::borrow::Cow::Owned(out)
    })
}

/// Writes to stdout. When its reader has gone (`cairn diff | head`), ends
/// quietly with the status a shell gives a process a broken pipe stopped
/// (128 + SIGPIPE). SIGPIPE itself stays ignored, so a pipe to a child
/// (ssh, say) that closes early is an error cairn reports, not a silent
/// death.
fn write_out(text: &str) {
    use std::io::Write;
    let text = prefixed(text);
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && err.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}

/// Writes to stderr; nothing more to be done if that fails.
fn write_err(text: &str) {
    use std::io::Write;
    let text = prefixed(text);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// How a command that worked ended.
pub enum Outcome {
    /// Nothing to report beyond the result: exit 0.
    Clean,
    /// Differences or problems found: exit 1.
    Findings,
    /// Some of a fleet's clusters failed, each error printed: exit 2.
    Failed,
}

impl Outcome {
    pub fn findings_if(found: bool) -> Self {
        if found { Self::Findings } else { Self::Clean }
    }
}

/// Prints an error, if the command failed, and gives the exit status. The
/// one place exit statuses are decided.
pub fn finish(result: anyhow::Result<Outcome>, format: Format) -> ExitCode {
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::Failed) => ExitCode::from(2),
        Err(err) => {
            match format {
                Format::Text => errln!("error: {err:#}"),
                Format::Json => {
                    let report = serde_json::json!({ "error": describe_error(&err) });
                    outln!("{}", pretty(&report));
                }
            }
            ExitCode::from(2)
        }
    }
}

/// An error as JSON: its kind (for programs to branch on), the message a
/// person would read, and the details of the typed errors.
fn describe_error(err: &anyhow::Error) -> serde_json::Value {
    let message = format!("{err:#}");
    for cause in err.chain() {
        if let Some(ConflictError(conflicts)) = cause.downcast_ref() {
            return serde_json::json!({
                "kind": "conflicts", "message": message, "conflicts": conflicts,
            });
        }
        if let Some(ConvergenceError(problems)) = cause.downcast_ref() {
            return serde_json::json!({
                "kind": "convergence", "message": message, "problems": problems,
            });
        }
        if let Some(invalid) = cause.downcast_ref::<InvalidValues>() {
            return serde_json::json!({
                "kind": "values", "message": message,
                "components": invalid.components, "problems": invalid.problems,
            });
        }
        if let Some(failure) = cause.downcast_ref::<ComponentFailure>() {
            return serde_json::json!({
                "kind": "component", "message": message,
                "components": [failure.component],
            });
        }
        if let Some(render) = cause.downcast_ref::<RenderError>() {
            let (kind, components) = match render {
                RenderError::Values(v) => ("values", v.iter().map(|(c, _)| c.clone()).collect()),
                RenderError::Components(f) => {
                    ("component", f.iter().map(|f| f.component.clone()).collect())
                }
                RenderError::Facts(_) => ("facts", Vec::new()),
                RenderError::Output(_) => ("output", Vec::new()),
                RenderError::DuplicateName(name) => ("values", vec![name.clone()]),
            };
            return serde_json::json!({
                "kind": kind, "message": message, "components": components,
            });
        }
    }
    serde_json::json!({ "kind": "error", "message": message })
}

/// How each cluster of a fleet is printed and judged.
pub struct Per<'a, R> {
    /// Prints a cluster's report as text.
    pub text: &'a dyn Fn(&R),
    /// Whether the report has findings (exit 1).
    pub findings: &'a dyn Fn(&R) -> bool,
}

/// A fleet's results: each cluster's report (or error) with every line
/// naming the cluster, then a summary; as JSON, one document with a
/// record per cluster. The exit status sums them up: 2 when a cluster
/// failed, else 1 when one found something, else 0.
pub fn fleet<R: Serialize>(
    results: &[cairn::ops::fleet::ClusterResult<R>],
    format: Format,
    per: Per<'_, R>,
) -> Outcome {
    let status = |r: &anyhow::Result<R>| match r {
        Err(_) => "failed",
        Ok(report) if (per.findings)(report) => "findings",
        Ok(_) => "ok",
    };
    let failed: Vec<&str> = results
        .iter()
        .filter(|c| c.result.is_err())
        .map(|c| c.cluster.as_str())
        .collect();
    let found = results
        .iter()
        .filter(|c| status(&c.result) == "findings")
        .count();
    if format == Format::Json {
        let records: Vec<serde_json::Value> = results
            .iter()
            .map(|c| match &c.result {
                Ok(report) => serde_json::json!({
                    "cluster": c.cluster,
                    "status": status(&c.result),
                    "report": report,
                }),
                Err(err) => serde_json::json!({
                    "cluster": c.cluster,
                    "status": "failed",
                    "error": describe_error(err),
                }),
            })
            .collect();
        json(&serde_json::json!({
            "clusters": records,
            "summary": {
                "clusters": results.len(),
                "findings": found,
                "failed": failed,
            },
        }));
    } else {
        for cluster in results {
            set_prefix(&format!("{}: ", cluster.cluster));
            match &cluster.result {
                Ok(report) => (per.text)(report),
                Err(err) => errln!("error: {err:#}"),
            }
            set_prefix("");
        }
        let mut summary = format!(
            "{} clusters: {} ok, {found} with findings, {} failed",
            results.len(),
            results.len() - found - failed.len(),
            failed.len()
        );
        if !failed.is_empty() {
            summary.push_str(&format!(" ({})", failed.join(", ")));
        }
        outln!("{summary}");
    }
    if !failed.is_empty() {
        Outcome::Failed
    } else {
        Outcome::findings_if(found > 0)
    }
}

/// The commits a fleet's `generate --commit` made.
pub fn committed(commits: &[String], format: Format) {
    if format == Format::Text {
        for commit in commits {
            outln!("committed {}", &commit[..commit.len().min(12)]);
        }
    }
}

fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("reports serialise")
}

fn json(value: &impl Serialize) {
    outln!("{}", pretty(value));
}

/// A report with the verdict a program checks first.
#[derive(Serialize)]
struct Checked<'a, T> {
    ok: bool,
    #[serde(flatten)]
    report: &'a T,
}

/// Prints components' captured output to stderr, indented under their names.
pub fn logs(logs: &[(String, String)]) {
    for (component, log) in logs {
        errln!("component {component:?} said:");
        for line in log.lines() {
            errln!("  | {line}");
        }
    }
}

pub fn render(report: &RenderReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    for c in &report.components {
        outln!("rendered {} {} ({} files)", c.name, c.version, c.files);
    }
    for (component, d) in &report.diagnostics {
        errln!("{}", d.shown_for(component));
    }
    outln!("wrote {} files to {}", report.files, report.out.display());
}

pub fn inspect(report: &InspectReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!("{} {} - {}", report.name, report.version, report.title);
    outln!("  {}", report.description);
    outln!("category: {}", report.category);
    outln!("sha256:   {}", report.sha256);
    for (title, decls, read) in [
        ("provides facts", &report.provides, false),
        ("reads facts", &report.reads, true),
    ] {
        outln!("{title}:");
        if decls.is_empty() {
            outln!("  (none)");
        }
        fact_lines(decls, read, 24);
    }
    // The contract and WASI versions it was built against.
    let versions = |prefix: &str| -> Vec<String> {
        let mut found: Vec<String> = report
            .imports
            .iter()
            .filter(|i| i.starts_with(prefix))
            .filter_map(|i| i.rsplit_once('@').map(|(_, v)| v.to_string()))
            .collect();
        found.sort();
        found.dedup();
        found
    };
    let wasi = versions("wasi:");
    outln!(
        "built for: cairn:component@{}, WASI {}",
        versions("cairn:").join(", "),
        if wasi.is_empty() {
            "none".to_string()
        } else {
            wasi.join(", ")
        }
    );
    outln!("imports (capabilities):");
    for import in &report.imports {
        outln!("  {import}");
    }
    outln!("options:");
    options(&cairn::values::options(&report.config_schema));
    outln!("(the raw configuration schema: `cairn inspect -o json`)");
    if !report.readme.trim().is_empty() {
        outln!();
        outln!("readme:");
        for line in report.readme.trim_end().lines() {
            outln!("  {line}");
        }
    }
}

pub fn show(report: &ShowReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    let Some(page) = &report.component else {
        outln!(
            "stack {} {} ({})",
            report.stack,
            report.version,
            report.source
        );
        for c in &report.components {
            let on = c.enabled.unwrap_or(c.default_enabled);
            outln!(
                "  {} {:<16} {:<14} {}: {}",
                if on { "on " } else { "off" },
                c.name,
                c.category,
                c.title,
                c.description
            );
        }
        outln!("`cairn show COMPONENT` shows a component's options.");
        return;
    };
    outln!("{} {} - {}", page.name, page.version, page.title);
    outln!("  {}", page.description);
    outln!("category: {}", page.category);
    outln!("stack:    {} {}", report.stack, report.version);
    outln!();
    outln!("Options, under values.{} in cairn.yaml:", page.name);
    options(&page.options);
    for (title, decls, read) in [
        ("Provides facts", &page.provides, false),
        ("Reads facts", &page.reads, true),
    ] {
        if !decls.is_empty() {
            outln!();
            outln!("{title}:");
            fact_lines(decls, read, 28);
        }
    }
    if !page.crd_groups.is_empty() {
        outln!();
        outln!("Installs the CRDs of: {}", page.crd_groups.join(", "));
    }
    outln!();
    match (&page.permissions, &page.permissions_unknown) {
        (Some(permissions), _) => {
            outln!("What it may do to the cluster (from what it renders here):");
            permissions_text(permissions, "  ");
        }
        (None, Some(why)) => outln!("What it may do to the cluster: not known: {why}"),
        (None, None) => {}
    }
    if !page.readme.trim().is_empty() {
        outln!();
        for line in page.readme.trim_end().lines() {
            outln!("  {line}");
        }
    }
}

/// A component's options, one paragraph each.
fn options(options: &[cairn::values::OptionDoc]) {
    if options.is_empty() {
        outln!("  (none)");
    }
    for option in options {
        let mut about = option.kind.clone();
        if option.required {
            about.push_str(", required");
        }
        if option.secret {
            about.push_str(", a secret: {env: NAME}, {file: PATH} or {sops: FILE, key: KEY}");
        } else if let Some(default) = &option.default {
            let shown = serde_json::to_string(default).unwrap_or_default();
            about.push_str(&format!(", default {}", cairn::text::one_line(&shown, 80)));
        }
        outln!("  {}  ({about})", option.name);
        if !option.description.is_empty() {
            outln!("      {}", cairn::text::one_line(&option.description, 600));
        }
    }
}

pub fn init(report: &InitReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!("wrote {}", report.path.display());
    if let Some(signer) = &report.signer {
        outln!(
            "the release is signed by {signer}; cairn.yaml now trusts this key only: check the fingerprint with the stack's publisher"
        );
    }
    if report.unsigned {
        outln!("releases of this stack are not signature-checked (unsigned: true in cairn.yaml)");
    }
    outln!("set your values there, then run `cairn generate`");
}

pub fn generate(report: &GenerateReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    summary(report, "");
    if let Some(commit) = &report.commit {
        outln!("committed {}", &commit[..commit.len().min(12)]);
    }
    if report.wrote && !report.message.trim().is_empty() {
        outln!();
        outln!("{}", report.message.trim_end());
    }
}

pub fn diff(report: &GenerateReport, format: Format) {
    let patch = report.patch();
    if format == Format::Json {
        #[derive(Serialize)]
        struct Diff<'a> {
            #[serde(flatten)]
            report: &'a GenerateReport,
            /// The unified diff, as the text output prints it.
            patch: &'a str,
        }
        return json(&Diff {
            report,
            patch: &patch,
        });
    }
    out!("{patch}");
    summary(report, "would be");
}

/// Every change as a unified diff, paths relative to where cairn.yaml is.
fn summary(report: &GenerateReport, verb: &str) {
    if report.recovered {
        outln!("completed an interrupted generate first");
    }
    match &report.from {
        Some(from) if *from != report.to => {
            outln!("stack {}: {from} -> {}", report.stack, report.to)
        }
        _ => outln!("stack {} {}", report.stack, report.to),
    }
    for name in &report.added {
        outln!("  + component {name}");
    }
    for name in &report.removed {
        outln!("  - component {name}");
    }
    if report.components.is_empty() {
        outln!("nothing to change");
    }
    let verb = if verb.is_empty() {
        String::new()
    } else {
        format!(" {verb}")
    };
    for (component, c) in &report.components {
        let parts: Vec<String> = [
            (c.created, "created"),
            (c.updated, "updated"),
            (c.merged, "merged"),
            (c.deleted, "deleted"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        outln!("  {component}: {}{verb}", parts.join(", "));
    }
    for path in &report.kept_edits {
        outln!("  kept your edits to {path}");
    }
    if report.order_changed {
        order(&report.order);
    }
    for diagnostic in &report.diagnostics {
        errln!("{diagnostic}");
    }
    for warning in &report.warnings {
        errln!("warning: {warning}");
    }
}

/// The waves Flux brings the stack up in.
fn order(order: &[Vec<String>]) {
    outln!("Flux brings the stack up in this order, each step once those before are ready:");
    outln!(
        "  0. {} (Flux itself, and the list of layers)",
        cairn::config::layout::FLUX_NAME
    );
    for (i, wave) in order.iter().enumerate() {
        outln!("  {}. {}", i + 1, wave.join(", "));
    }
}

pub fn lint(report: &LintReport, format: Format) {
    if format == Format::Json {
        return json(&Checked {
            ok: report.ok(),
            report,
        });
    }
    for problem in &report.problems {
        outln!("{problem}");
    }
    if let Some(schemas) = &report.schemas {
        for kind in &report.unchecked_kinds {
            outln!("note: no schema for {kind} in {}", schemas.display());
        }
        outln!(
            "{} objects, {} checked against CRD schemas, {} problems",
            report.objects,
            report.checked,
            report.problems.len()
        );
    } else if report.problems.is_empty() {
        outln!("{} objects, values and output valid", report.objects);
    } else {
        outln!(
            "{} objects, {} problems",
            report.objects,
            report.problems.len()
        );
    }
}

pub fn update(report: &UpdateReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!(
        "stack {}: current: {}, latest: {}",
        report.stack,
        report.current.as_deref().unwrap_or("none"),
        report.latest.as_deref().unwrap_or("none")
    );
    if report.rollback
        && let Some(target) = &report.target
    {
        outln!("rolling back to {target}, undoing:");
    }
    for v in &report.versions {
        let within = if v.within_requirement || report.rollback {
            ""
        } else {
            " (beyond your version requirement)"
        };
        outln!(
            "\n{} {}{within}",
            v.tag,
            &v.commit[..v.commit.len().min(12)]
        );
        for line in v.changelog.trim_end().lines() {
            outln!("  {line}");
        }
    }
    if !report.added.is_empty() || !report.removed.is_empty() {
        outln!();
        for name in &report.added {
            outln!("  + component {name}");
        }
        for name in &report.removed {
            outln!("  - component {name}");
        }
    }
    for migration in &report.migrations {
        outln!("  {migration}");
    }
    if !report.new_permissions.is_empty() {
        outln!();
        outln!("It asks for more on the cluster than the current version:");
        for (component, added) in &report.new_permissions {
            outln!("  {component}:");
            permissions_text(added, "    ");
        }
    }
    if let Some(why) = &report.permissions_unknown
        && report.target.is_some()
    {
        outln!("\nWhat it may do to the cluster could not be compared: {why}");
    }
    match (&report.requirement, report.status) {
        (Some(req), _) => {
            outln!("\ncairn.yaml now requires {req}; run `cairn generate` to apply it")
        }
        (None, UpdateStatus::UpToDate) => outln!("up to date"),
        (None, UpdateStatus::UpdateAvailable) => outln!(
            "\n{} is available; `cairn update{}` moves cairn.yaml to it",
            report.target.as_deref().unwrap_or("a new version"),
            report
                .target
                .as_deref()
                .map(|t| format!(" --to {t}"))
                .unwrap_or_default()
        ),
        _ => {}
    }
}

pub fn verify(report: &VerifyReport, format: Format) {
    if format == Format::Json {
        return json(&Checked {
            ok: report.ok(),
            report,
        });
    }
    if !report.unchecked.is_empty() {
        outln!(
            "note: no age identity here opens {} sealed object(s), so they were not checked against the locked inputs (set SOPS_AGE_KEY_FILE): {}",
            report.unchecked.len(),
            report.unchecked.join(", ")
        );
    }
    if !report.accepted.is_empty() {
        outln!(
            "note: {} file(s) hold hand edits the last generate kept: {}",
            report.accepted.len(),
            report.accepted.join(", ")
        );
    }
    if report.ok() {
        outln!("the repo matches cairn.lock");
        return;
    }
    if report.values_changed {
        outln!("values in cairn.yaml changed since the last generate; run `cairn generate`");
    }
    for path in &report.edited {
        outln!("edited: {path} (since the last generate, which keeps it when run again)");
    }
    for path in &report.missing {
        outln!("missing: {path}");
    }
    for path in &report.drift {
        outln!("renders differently from the lock: {path}");
    }
    for p in &report.plaintext {
        outln!("plaintext secret: {} {}", p.path, p.why);
    }
}

pub fn status(report: &StatusReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!("stack:      {} ({})", report.stack, report.source);
    outln!(
        "requires:   {}",
        report.requirement.as_deref().unwrap_or("any")
    );
    outln!(
        "locked:     {}",
        report.locked.as_deref().unwrap_or("not generated yet")
    );
    outln!(
        "newest:     {}",
        report.newest_known.as_deref().unwrap_or("unknown")
    );
    for other in &report.stacks {
        outln!(
            "also:       {} ({}), requires {}, locked {}",
            other.name,
            other.source,
            other.requirement.as_deref().unwrap_or("any"),
            other.locked.as_deref().unwrap_or("not yet")
        );
    }
    outln!("components:");
    for c in &report.components {
        let from = c
            .stack
            .as_deref()
            .map(|s| format!(" (from {s})"))
            .unwrap_or_default();
        outln!(
            "  {} {}{from}",
            if c.enabled { "on " } else { "off" },
            c.name
        );
    }
    outln!(
        "files:      {} generated, {} with hand edits",
        report.files_owned,
        report.edited.len()
    );
    for path in &report.edited {
        outln!("  edited: {path}");
    }
    outln!(
        "flux:       {}",
        report
            .flux
            .as_deref()
            .unwrap_or("not bootstrapped (cairn bootstrap)")
    );
    if !report.order.is_empty() {
        order(&report.order);
    }
    if report.recipients == 0 {
        outln!("secrets:    off (no age recipients under secrets.age)");
    } else {
        outln!(
            "secrets:    {} sealed for {} age recipients",
            report.sealed,
            report.recipients
        );
    }
}

/// With `print_secrets`, stdout carries the Secret manifests only, and the
/// report goes to stderr.
pub fn bootstrap(report: &BootstrapReport, format: Format, print_secrets: bool) {
    if print_secrets {
        out!("{}", report.manifests);
    }
    if format == Format::Json {
        return json(report);
    }
    let say = |line: String| {
        if print_secrets {
            errln!("{line}");
        } else {
            outln!("{line}");
        }
    };
    say(format!(
        "cluster {} at {} with Flux {} ({})",
        report.cluster, report.path, report.flux_version, report.flux_source
    ));
    if report.converted {
        say(format!(
            "url: {} (Flux accepts only ssh:// URLs, so the scp form was converted)",
            report.url
        ));
    }
    if report.written.is_empty() {
        say("nothing changed".into());
    }
    for path in &report.written {
        say(format!("  wrote {path}"));
    }
    let keys = report.keys_dir.display();
    if report.generated.is_empty() {
        say(format!("keys: reused those in {keys}"));
    } else {
        say(format!(
            "keys: generated {} in {keys} (private, never in the repository)",
            report.generated.join(" and ")
        ));
    }
    say(String::new());
    say("Add this deploy key to the repository (read-only is enough):".into());
    say(format!("  {}", report.deploy_key));
    if let Some(recipient) = &report.age_recipient {
        say(format!(
            "Secrets are encrypted for the cluster's age recipient {recipient}"
        ));
    }
    say(String::new());
    let path = &report.path;
    let mut step = 0;
    let mut next = |text: String| {
        step += 1;
        say(format!("{step}. {text}"));
    };
    if report.needs_generate {
        next(format!(
            "cd {path} && cairn generate   # lists flux-system in the cluster's kustomization, encrypts secrets"
        ));
    }
    next("commit and push".into());
    next(format!(
        "kubectl apply --server-side -f {path}/{}/{}",
        cairn::config::layout::FLUX_DIR,
        cairn::config::layout::COMPONENTS_FILE
    ));
    next(format!(
        "kubectl apply -f {}",
        report.keys_dir.join(cairn::keys::SECRETS_FILE).display()
    ));
    next(format!(
        "kubectl apply --server-side -k {path}/{}",
        cairn::config::layout::FLUX_DIR
    ));
}

pub fn scaffolded(name: &str, dir: &Path, format: Format) {
    if format == Format::Json {
        return json(&serde_json::json!({ "name": name, "path": dir }));
    }
    outln!("created {} in {}", name, dir.display());
    outln!("next: cd {} && cairn component test", dir.display());
}

pub fn built(path: &Path, format: Format) {
    if format == Format::Json {
        return json(&serde_json::json!({ "path": path }));
    }
    outln!("built {}", path.display());
}

/// Returns how many fixtures failed.
pub fn component_test(results: &[CaseResult], format: Format) -> usize {
    let failed = results.iter().filter(|r| !r.passed()).count();
    if format == Format::Json {
        json(&Checked {
            ok: failed == 0,
            report: &serde_json::json!({ "cases": results }),
        });
        return failed;
    }
    for result in results {
        if result.blessed {
            outln!("blessed {}", result.case);
        } else if result.passed() {
            outln!("ok      {}", result.case);
        } else {
            outln!("FAILED  {}", result.case);
            for problem in &result.problems {
                for (i, line) in problem.lines().enumerate() {
                    outln!("{}{line}", if i == 0 { "  - " } else { "    " });
                }
            }
            for diff in &result.diffs {
                out!("{diff}");
            }
        }
    }
    outln!("{} passed, {failed} failed", results.len() - failed);
    if failed > 0 {
        outln!("if the new output is right, accept it with `cairn component test --bless`");
    }
    failed
}

/// Returns how many components' sha256 in stack.yaml is stale (`check`).
pub fn stack(reports: &[StackComponentReport], write: bool, format: Format) -> usize {
    let stale = if write {
        0
    } else {
        reports.iter().filter(|r| r.declared.is_some()).count()
    };
    if format == Format::Json {
        json(&Checked {
            ok: stale == 0,
            report: &serde_json::json!({ "components": reports }),
        });
        return stale;
    }
    for r in reports {
        match (&r.declared, write) {
            (Some(declared), false) => outln!(
                "{} {}: sha256 {} but stack.yaml says {declared}",
                r.name,
                r.version,
                r.sha256
            ),
            (Some(_), true) => outln!("{} {}: sha256 updated to {}", r.name, r.version, r.sha256),
            (None, _) => outln!("{} {}: ok", r.name, r.version),
        }
    }
    if stale > 0 {
        outln!("stack.yaml is out of date; run `cairn stack build`");
    }
    stale
}

/// What `configure --init` wrote: on stderr, stdout being the address.
pub fn configure_init(report: &InitReport) {
    errln!("wrote {}", report.path.display());
    if let Some(signer) = &report.signer {
        errln!(
            "the release is signed by {signer}; cairn.yaml now trusts this key only: check the fingerprint with the stack's publisher"
        );
    }
}

/// Where the configure page is: on stdout, first line the address alone,
/// so a script can read it.
pub fn configure_started(url: &str, config: &std::path::Path) {
    outln!("{url}");
    errln!(
        "configuring {} at the address above (127.0.0.1 only; the address holds this session's secret)",
        config.display()
    );
    errln!("Ctrl-C stops it; nothing is written until you save");
}

pub fn opened(ok: bool) {
    if !ok {
        errln!("could not open a browser: open the address yourself");
    }
}

pub fn configure_stopped(stopped: cairn::web::Stopped) {
    errln!(
        "{}",
        match stopped {
            cairn::web::Stopped::Quit => "stopped",
            cairn::web::Stopped::Idle => "stopped: no request from the page for the idle timeout",
            cairn::web::Stopped::Interrupted => "stopped (Ctrl-C)",
        }
    );
}

pub fn catalog_added(view: &cairn::ops::catalog::CatalogView, format: Format) {
    if format == Format::Json {
        return json(view);
    }
    let n = view.stacks.len();
    outln!(
        "following catalog {} ({}) at {}: {n} {}",
        view.name,
        view.source,
        view.version,
        if n == 1 { "stack" } else { "stacks" }
    );
}

pub fn catalogs(views: &[cairn::ops::catalog::CatalogView], format: Format) {
    if format == Format::Json {
        return json(&views);
    }
    if views.is_empty() {
        outln!("you follow no catalog; `cairn catalog add SOURCE` follows one");
    }
    for view in views {
        outln!("{} ({}) at {}", view.name, view.source, view.version);
        if !view.description.is_empty() {
            outln!("  {}", view.description);
        }
        for stack in &view.stacks {
            outln!("  {:<20} {}", stack.name, stack.description);
        }
    }
}

pub fn found_stacks(found: &[cairn::ops::catalog::FoundStack], format: Format) {
    if format == Format::Json {
        return json(&found);
    }
    if found.is_empty() {
        errln!("no stack matches");
    }
    for f in found {
        outln!("{}/{}  {}", f.catalog, f.stack.name, f.stack.description);
        outln!(
            "  source: {}  categories: {}  publisher: {}",
            f.stack.source,
            if f.stack.categories.is_empty() {
                "-".to_string()
            } else {
                f.stack.categories.join(", ")
            },
            if f.stack.publisher.is_empty() {
                "-"
            } else {
                &f.stack.publisher
            }
        );
    }
}

pub fn catalogs_updated(moved: &[cairn::ops::catalog::CatalogUpdate], format: Format) {
    if format == Format::Json {
        return json(&moved);
    }
    if moved.is_empty() {
        outln!("catalogs up to date");
    }
    for m in moved {
        outln!("{}: {} -> {}", m.name, m.from, m.to);
    }
}

pub fn catalog_removed(name: &str, format: Format) {
    if format == Format::Json {
        return json(&serde_json::json!({ "removed": name }));
    }
    outln!("no longer following catalog {name}");
}

pub fn released(report: &cairn::author::ReleaseReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!(
        "tagged {} at {}, signed by {}",
        report.tag,
        &report.commit[..report.commit.len().min(12)],
        report.signer
    );
    outln!("publish it: git push origin {}", report.tag);
}

pub fn trusted(report: &cairn::ops::TrustReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!("stack {}, release {}", report.stack, report.release);
    if report.before.is_empty() {
        outln!("  trusted before: no key");
    }
    for old in &report.before {
        outln!("  trusted before: {old}");
    }
    if report.already {
        outln!("  {} is trusted already; nothing changed", report.added);
    } else {
        outln!("  trusted now, too: {}", report.added);
    }
}

/// A permission manifest, one section per kind of permission.
fn permissions_text(permissions: &cairn::permissions::Permissions, indent: &str) {
    if permissions.is_empty() {
        outln!("{indent}nothing");
    }
    for (section, entries) in permissions.sections() {
        if entries.is_empty() {
            continue;
        }
        outln!("{indent}{section}:");
        for entry in entries {
            outln!("{indent}  {entry}");
        }
    }
}

pub fn bundled(report: &cairn::ops::bundle::BundleReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!(
        "wrote {}: stack {} {} ({}){}{}",
        report.file.display(),
        report.source,
        report.tag,
        &report.commit[..report.commit.len().min(12)],
        report
            .signer
            .as_deref()
            .map(|s| format!(", signed by {s}"))
            .unwrap_or_else(|| ", not signed".into()),
        if report.flux {
            ", with Flux's install manifests"
        } else {
            ""
        }
    );
    outln!(
        "there: `cairn init {}` and `cairn bootstrap --flux-manifests {}`",
        report.file.display(),
        report.file.display()
    );
}

pub fn pushed(report: &cairn::author::PushReport, format: Format) {
    if format == Format::Json {
        return json(report);
    }
    outln!(
        "pushed {} ({}), {}",
        report.reference,
        report.digest,
        match &report.signer {
            Some(signer) => format!("signed by {signer}"),
            None => "not signed (clusters must opt out to use it)".to_string(),
        }
    );
}

/// One line per fact, key padded to `width`; for facts read, whether each
/// is required and whether it waits for its provider.
fn fact_lines(decls: &[cairn::runtime::FactDecl], read: bool, width: usize) {
    for d in decls {
        let mut notes = Vec::new();
        if read {
            notes.push(if d.required { "required" } else { "optional" });
            if d.wait {
                notes.push("applied after its provider");
            }
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        };
        outln!("  {:<width$} {}{notes}", d.key, d.description);
    }
}
