//! For component and stack authors: scaffold, build and test components in
//! Rust, JavaScript and Python, and build and check stacks.
//!
//! Builds call each language's own toolchain: cargo for Rust, componentize-js
//! (through node) for JavaScript, componentize-py for Python. The WIT they
//! build against is the one compiled into cairn, so a component always
//! matches the host that runs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::compose::{self, ComponentFiles, Published};
use crate::config::{STACK_FILE, StackDefinition};
use crate::render::ComponentFailure;
use crate::runtime::{FactValue, Runtime};
use crate::values;

/// The WIT contract, as compiled into this cairn.
pub const WIT: &str = include_str!("../../wit/component.wit");
/// The world components implement.
pub const WORLD: &str = "stack-component";
/// A JavaScript or Python component's manifest.
pub const MANIFEST: &str = "component.yaml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    Js,
    Python,
    /// C through wit-bindgen, clang and wasm-tools (`build:` in
    /// component.yaml drives them).
    C,
    /// Any other toolchain that makes a WebAssembly component: `build:`
    /// and `output:` in component.yaml say how and where.
    Other,
}

impl Language {
    /// Every language, by the name `component new --lang` takes.
    pub const ALL: [(&str, Language); 5] = [
        ("rust", Language::Rust),
        ("js", Language::Js),
        ("python", Language::Python),
        ("c", Language::C),
        ("other", Language::Other),
    ];
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "no language {name:?}; choose one of {} (`other` for any toolchain that makes a WebAssembly component: component.yaml's `build:` runs it)",
                    names.join(", ")
                )
            })
    }
}

/// `component.yaml`: what a non-Rust component is and how it is built.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub language: Language,
    /// The JavaScript module, or the Python module name.
    #[serde(default)]
    pub entry: String,
    /// A shell command (`sh -c`, in the component's directory) that builds
    /// the component, for any toolchain; it gets `CAIRN_WIT` (a directory
    /// holding the WIT), `CAIRN_WORLD` and `CAIRN_OUT` in its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// Where `build` leaves the component, relative to the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// What a component directory holds.
pub struct Project {
    pub dir: PathBuf,
    pub name: String,
    pub language: Language,
    entry: String,
    command: Option<(String, String)>,
}

impl Project {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let manifest = dir.join(MANIFEST);
        if manifest.exists() {
            let text = std::fs::read_to_string(&manifest)?;
            let m: Manifest = crate::yaml::from_str(&text).with_context(|| {
                format!("{} is not a valid component manifest", manifest.display())
            })?;
            let command = match (m.build, m.output) {
                (Some(build), Some(output)) => Some((build, output)),
                (None, None) => None,
                _ => bail!(
                    "{}: `build:` and `output:` go together: the command that builds the component, and where it leaves it",
                    manifest.display()
                ),
            };
            if command.is_none() && matches!(m.language, Language::C | Language::Other) {
                bail!(
                    "{}: cairn has no built-in toolchain for `language: {}`; say how to build it with `build:` (a shell command) and `output:` (where it leaves the .wasm); see docs/authoring.md, \"Any other language\"",
                    manifest.display(),
                    if m.language == Language::C {
                        "c"
                    } else {
                        "other"
                    }
                );
            }
            if command.is_none() && m.entry.is_empty() {
                bail!("{}: `entry:` names the module to build", manifest.display());
            }
            return Ok(Self {
                dir: dir.to_path_buf(),
                name: m.name,
                language: m.language,
                entry: m.entry,
                command,
            });
        }
        let cargo = dir.join("Cargo.toml");
        if cargo.exists() {
            let text = std::fs::read_to_string(&cargo)?;
            let toml: toml::Table = text
                .parse()
                .with_context(|| format!("{} is not valid TOML", cargo.display()))?;
            let name = toml
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .with_context(|| format!("{} has no package.name", cargo.display()))?;
            return Ok(Self {
                dir: dir.to_path_buf(),
                name: name.into(),
                language: Language::Rust,
                entry: String::new(),
                command: None,
            });
        }
        bail!(
            "{} is not a component: it has neither {MANIFEST} nor Cargo.toml; `cairn component new NAME --lang rust|js|python|c|other` makes one, and for any other toolchain a {MANIFEST} with `language: other`, `build:` and `output:` is enough (docs/authoring.md, \"Any other language\")",
            dir.display()
        )
    }

    /// Where `build` writes the component by default.
    pub fn default_output(&self) -> PathBuf {
        self.dir.join("build").join(format!("{}.wasm", self.name))
    }
}

/// Builds the component in `dir` to `out` (default `build/NAME.wasm`).
pub fn build(
    dir: &Path,
    out: Option<&Path>,
    progress: &dyn crate::progress::Progress,
) -> anyhow::Result<PathBuf> {
    let project = Project::open(dir)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| project.default_output());
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let task = progress.start(&format!("building {}", project.name));
    let result = match (&project.command, project.language) {
        (Some((command, output)), _) => build_command(&project, command, output, &out),
        (None, Language::Rust) => build_rust(&project, &out),
        (None, Language::Js) => build_js(&project, &out),
        (None, Language::Python) => build_python(&project, &out),
        (None, Language::C | Language::Other) => unreachable!("checked when opened"),
    };
    drop(task);
    result.with_context(|| {
        format!(
            "cannot build component {} in {}",
            project.name,
            dir.display()
        )
    })?;
    Ok(out)
}

fn run(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {what}; is it installed (see docs/authoring.md)?"))?;
    if !output.status.success() {
        bail!(
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn build_rust(project: &Project, out: &Path) -> anyhow::Result<()> {
    let manifest = project.dir.join("Cargo.toml").canonicalize()?;
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // From the component's directory, so cargo finds its configuration
    // (.cargo/config.toml: target dir, flags) as it would for the author.
    cargo
        .current_dir(&project.dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest);
    let stdout = run(cargo, "cargo build --target wasm32-wasip2")?;
    // The artifact is wherever cargo put it: ask cargo rather than guess.
    let artifact = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| {
            msg["reason"] == "compiler-artifact"
                && msg["manifest_path"] == manifest.to_string_lossy().as_ref()
        })
        .flat_map(|msg| msg["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .context("cargo built no .wasm; is the crate a cdylib (crate-type = [\"cdylib\"])?")?;
    std::fs::copy(&artifact, out)
        .with_context(|| format!("cannot copy {} to {}", artifact.display(), out.display()))?;
    Ok(())
}

/// Runs component.yaml's `build:` in the component's directory and copies
/// what it leaves at `output` to `out`.
fn build_command(project: &Project, command: &str, output: &str, out: &Path) -> anyhow::Result<()> {
    let wit = wit_dir()?;
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(command)
        .current_dir(&project.dir)
        .env("CAIRN_WIT", wit.path())
        .env("CAIRN_WORLD", WORLD)
        .env("CAIRN_OUT", std::path::absolute(out)?);
    run(shell, &format!("the build command of {MANIFEST}"))?;
    let built = project.dir.join(output);
    let bytes = std::fs::read(&built).with_context(|| {
        format!(
            "the build command left nothing at {} (`output:` in {MANIFEST})",
            built.display()
        )
    })?;
    if bytes.get(..8) == Some(&[0, b'a', b's', b'm', 1, 0, 0, 0]) {
        bail!(
            "{} is a core WebAssembly module, not a component: wrap it with `wasm-tools component new CORE.wasm --adapt wasi_snapshot_preview1=wasi_snapshot_preview1.reactor.wasm -o COMPONENT.wasm` (docs/authoring.md, \"Any other language\")",
            built.display()
        );
    }
    if built != out {
        std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// The WIT in a temporary directory, for toolchains that read it from disk.
fn wit_dir() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("component.wit"), WIT)?;
    Ok(dir)
}

/// componentize-js: `$CAIRN_COMPONENTIZE_JS`, or found like node finds
/// packages, in `node_modules` of the component's directory or a parent.
fn componentize_js(dir: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("CAIRN_COMPONENTIZE_JS") {
        return Ok(PathBuf::from(path));
    }
    let dir = dir.canonicalize()?;
    dir.ancestors()
        .map(|d| d.join("node_modules/@bytecodealliance/componentize-js"))
        .find(|p| p.join("package.json").exists())
        .context("componentize-js is not installed: run `npm install` in the component's directory (its package.json pins it)")
}

const JS_BUILD: &str = r#"
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const [pkg, source, wit, world, out] = process.argv.slice(2);
const meta = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'));
const entry = (meta.exports && (meta.exports.import || meta.exports['.'])) || meta.main || 'src/componentize.js';
const { componentize } = await import(pathToFileURL(join(pkg, typeof entry === 'string' ? entry : entry.import)));
const { component } = await componentize({ sourcePath: source, witPath: wit, worldName: world, disableFeatures: ['http', 'fetch-event'] });
await writeFile(out, component);
"#;

fn build_js(project: &Project, out: &Path) -> anyhow::Result<()> {
    let package = componentize_js(&project.dir)?;
    let wit = wit_dir()?;
    let script = wit.path().join("build.mjs");
    std::fs::write(&script, JS_BUILD)?;
    let mut node = Command::new("node");
    node.arg(&script)
        .arg(&package)
        .arg(project.dir.join(&project.entry).canonicalize()?)
        .arg(wit.path().join("component.wit"))
        .arg(WORLD)
        .arg(std::path::absolute(out)?);
    run(node, "node (componentize-js)")?;
    Ok(())
}

fn build_python(project: &Project, out: &Path) -> anyhow::Result<()> {
    let tool = std::env::var("CAIRN_COMPONENTIZE_PY").unwrap_or_else(|_| "componentize-py".into());
    let wit = wit_dir()?;
    let mut command = Command::new(&tool);
    command
        .arg("-d")
        .arg(wit.path())
        .args(["-w", WORLD, "componentize", "-p"])
        .arg(&project.dir)
        .arg(&project.entry)
        .arg("-o")
        .arg(std::path::absolute(out)?);
    run(command, &format!("{tool} (pip install componentize-py)"))?;
    Ok(())
}

/// One fixture's outcome.
#[derive(Debug, Serialize)]
pub struct CaseResult {
    pub case: String,
    /// Unified diffs of files that differ from the expected ones.
    pub diffs: Vec<String>,
    /// What else went wrong: an error the fixture did not expect, an
    /// expected error or diagnostic that did not come.
    pub problems: Vec<String>,
    pub blessed: bool,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.blessed || (self.diffs.is_empty() && self.problems.is_empty())
    }
}

/// `tests/CASE/expect.yaml`: what a fixture expects besides files.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The run must fail, with this in its message.
    #[serde(default)]
    error: Option<String>,
    /// Diagnostics the component must return (on success, or with
    /// `invalid-config`).
    #[serde(default)]
    diagnostics: Vec<ExpectedDiagnostic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedDiagnostic {
    severity: crate::runtime::Severity,
    #[serde(default)]
    field: Option<String>,
    /// Text the message must contain.
    message: String,
}

/// What running one fixture gave: the files (by path as they land), or why
/// it failed; and the diagnostics either way.
struct Ran {
    files: Result<BTreeMap<String, String>, String>,
    diagnostics: Vec<crate::runtime::Diagnostic>,
}

/// Runs the component in the real sandbox against every fixture in
/// `tests/*/`: `values.yaml` (the component's values), optional `facts.yaml`
/// (fact key to value), optional `expect.yaml` (an `error` the run must
/// fail with, `diagnostics` it must return), and the files expected under
/// `expected/`. Every fixture is run and reported, whatever the others
/// did. With `bless`, the current output becomes the expected one.
pub fn test(
    runtime: &Runtime,
    dir: &Path,
    wasm: &Path,
    bless: bool,
) -> anyhow::Result<Vec<CaseResult>> {
    let bytes = std::fs::read(wasm)
        .with_context(|| format!("cannot read {}; build it first", wasm.display()))?;
    let component = runtime.load(&bytes).map_err(|error| ComponentFailure {
        component: wasm.display().to_string(),
        error,
    })?;
    let tests = dir.join("tests");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&tests)
        .with_context(|| format!("{} has no tests/ directory of fixtures", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("values.yaml").exists())
        .collect();
    cases.sort();
    if cases.is_empty() {
        bail!(
            "no fixtures in {}: add tests/NAME/values.yaml",
            tests.display()
        );
    }
    let mut results = Vec::new();
    for case in cases {
        let label = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut result = CaseResult {
            case: label.clone(),
            diffs: Vec::new(),
            problems: Vec::new(),
            blessed: false,
        };
        let expect: Expect = match std::fs::read_to_string(case.join("expect.yaml")) {
            Ok(text) => match crate::yaml::from_str(&text) {
                Ok(expect) => expect,
                Err(err) => {
                    result
                        .problems
                        .push(format!("{label}/expect.yaml is not valid: {err:#}"));
                    results.push(result);
                    continue;
                }
            },
            Err(_) => Expect::default(),
        };
        let ran = run_case(runtime, &component, &case, &label);
        for wanted in &expect.diagnostics {
            let found = ran.diagnostics.iter().any(|d| {
                d.severity == wanted.severity
                    && (wanted.field.is_none() || d.field == wanted.field)
                    && d.message.contains(&wanted.message)
            });
            if !found {
                result.problems.push(format!(
                    "expected a {} diagnostic{} containing {:?}; got: {}",
                    wanted.severity.name(),
                    wanted
                        .field
                        .as_deref()
                        .map(|f| format!(" at {f}"))
                        .unwrap_or_default(),
                    wanted.message,
                    if ran.diagnostics.is_empty() {
                        "none".to_string()
                    } else {
                        ran.diagnostics
                            .iter()
                            .map(crate::runtime::Diagnostic::shown)
                            .collect::<Vec<_>>()
                            .join("; ")
                    }
                ));
            }
        }
        let actual = match (ran.files, &expect.error) {
            (Err(error), Some(wanted)) => {
                if !error.contains(wanted.as_str()) {
                    result.problems.push(format!(
                        "expected an error containing {wanted:?}; it failed with: {error}"
                    ));
                }
                results.push(result);
                continue;
            }
            (Ok(_), Some(wanted)) => {
                result.problems.push(format!(
                    "expected an error containing {wanted:?}; it rendered"
                ));
                results.push(result);
                continue;
            }
            (Err(error), None) => {
                result.problems.push(error);
                results.push(result);
                continue;
            }
            (Ok(files), None) => files,
        };
        let expected_dir = case.join("expected");
        if bless {
            if expected_dir.exists() {
                std::fs::remove_dir_all(&expected_dir)?;
            }
            for (path, content) in &actual {
                let target = expected_dir.join(path);
                std::fs::create_dir_all(target.parent().unwrap_or(&expected_dir))?;
                std::fs::write(target, content)?;
            }
            result.blessed = result.problems.is_empty();
            results.push(result);
            continue;
        }
        let expected = read_dir_files(&expected_dir)?;
        let paths: std::collections::BTreeSet<&String> =
            actual.keys().chain(expected.keys()).collect();
        for path in paths {
            let (want, got) = (expected.get(path), actual.get(path));
            if want == got {
                continue;
            }
            let diff = similar::TextDiff::from_lines(
                want.map_or("", String::as_str),
                got.map_or("", String::as_str),
            );
            result.diffs.push(
                diff.unified_diff()
                    .header(&format!("expected/{path}"), &format!("actual/{path}"))
                    .to_string(),
            );
        }
        results.push(result);
    }
    Ok(results)
}

/// Runs one fixture: its values validated, facts given, `facts` and
/// `render` called, the output checked as a real render checks it.
fn run_case(
    runtime: &Runtime,
    component: &crate::runtime::Loaded,
    case: &Path,
    label: &str,
) -> Ran {
    let name = component.metadata.name.clone();
    let mut diagnostics = Vec::new();
    let failure = |error: crate::runtime::CallError, diagnostics: &mut Vec<_>| {
        if let crate::runtime::Failure::InvalidConfig(found) = &error.failure {
            diagnostics.extend(found.iter().cloned());
        }
        format!(
            "{:#}",
            anyhow::Error::new(ComponentFailure {
                component: name.clone(),
                error,
            })
        )
    };
    let files = (|| -> Result<BTreeMap<String, String>, String> {
        let read_yaml = |file: &str| -> Result<Option<serde_json::Value>, String> {
            match std::fs::read_to_string(case.join(file)) {
                Ok(text) => crate::yaml::from_str(&text)
                    .map_err(|e| format!("{label}/{file} is not valid YAML: {e:#}")),
                Err(_) => Ok(None),
            }
        };
        let given = read_yaml("values.yaml")?;
        let config = values::prepare(&component.metadata.config_schema, given.as_ref())
            .map_err(|e| describe_values(&name, &e))?
            .to_string();
        let table = fixture_facts(read_yaml("facts.yaml")?, label).map_err(|e| format!("{e:#}"))?;
        let facts =
            compose::facts_for(&name, &component.metadata.reads, &table).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
        if !component.metadata.provides.is_empty() {
            runtime
                .facts(component, &config, false)
                .map_err(|error| failure(error, &mut diagnostics))?;
        }
        let rendered = runtime
            .render(component, &config, &facts, false)
            .map_err(|error| failure(error, &mut diagnostics))?;
        diagnostics.extend(rendered.diagnostics.iter().cloned());
        // The same output checks as a real render (paths, YAML, objects).
        compose::assemble(
            vec![ComponentFiles {
                component: name.clone(),
                files: rendered.files.clone(),
            }],
            runtime.limits(),
        )
        .map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        // Config-layer files are expected under config/, where they land.
        Ok(rendered
            .files
            .into_iter()
            .map(|f| match f.layer {
                crate::runtime::Layer::Main => (f.path, f.content),
                crate::runtime::Layer::Config => (
                    format!("{}/{}", crate::config::layout::CONFIG_DIR, f.path),
                    f.content,
                ),
            })
            .collect())
    })();
    Ran { files, diagnostics }
}

fn describe_values(component: &str, err: &values::ValuesError) -> String {
    match err {
        values::ValuesError::Invalid(violations) => violations
            .iter()
            .map(|v| format!("{component}.{}: {}", v.field, v.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `facts.yaml`: fact key to a string, bool, integer or list of strings.
fn fixture_facts(
    value: Option<serde_json::Value>,
    label: &str,
) -> anyhow::Result<BTreeMap<String, Published>> {
    let mut table = BTreeMap::new();
    let Some(value) = value else { return Ok(table) };
    let map = value
        .as_object()
        .with_context(|| format!("{label}/facts.yaml must map fact keys to values"))?;
    for (key, v) in map {
        let value = match v {
            serde_json::Value::String(s) => FactValue::Text(s.clone()),
            serde_json::Value::Bool(b) => FactValue::Flag(*b),
            serde_json::Value::Number(n) if n.is_i64() => {
                FactValue::Number(n.as_i64().unwrap_or_default())
            }
            serde_json::Value::Array(items) => FactValue::Texts(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect(),
            ),
            _ => bail!(
                "{label}/facts.yaml: {key} must be a string, bool, integer or list of strings"
            ),
        };
        table.insert(
            key.clone(),
            Published {
                provider: "fixture".into(),
                value,
            },
        );
    }
    Ok(table)
}

fn read_dir_files(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path)?);
            }
        }
    }
    Ok(out)
}

/// Creates a component that builds, renders and passes `component test`.
/// `sdk` is a local path to the Rust SDK (`plugins/sdk`).
pub fn scaffold(
    name: &str,
    language: Language,
    dir: &Path,
    sdk: Option<&Path>,
) -> anyhow::Result<()> {
    if !crate::names::component(name) {
        bail!(
            "{name:?} is not a valid component name: lower-case letters, digits and '-', at most 63 characters"
        );
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty; choose another --path",
            dir.display()
        );
    }
    let fill = |template: &str| template.replace("{{name}}", name);
    let mut files: Vec<(&str, String)> = vec![
        (".gitignore", "/build/\n/target/\n/node_modules/\n".into()),
        (
            "tests/default/values.yaml",
            "# Values for this fixture; expected/ holds what they render.\n{}\n".into(),
        ),
    ];
    let language_name = match language {
        Language::Rust => "Rust",
        Language::Js => "JavaScript",
        Language::Python => "Python",
        Language::C => "C",
        Language::Other => "a language of your choice",
    };
    files.push((
        "README.md",
        fill(include_str!("../templates/README.md.tmpl")).replace("{{language}}", language_name),
    ));
    let namespace = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
    // Every language's scaffold renders these same bytes.
    let greeting = "hello";
    files.push(("tests/default/expected/namespace.yaml", namespace));
    files.push((
        "tests/default/expected/configmap.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {name}\ndata:\n  greeting: {greeting}\n"),
    ));
    match language {
        Language::Rust => {
            let sdk = match sdk {
                Some(path) => format!(
                    "cairn-sdk = {{ path = {:?} }}",
                    path.canonicalize()
                        .with_context(|| format!("the SDK path {} does not exist", path.display()))?
                        .display()
                ),
                None => "cairn-sdk = \"0.1\"".into(),
            };
            files.push((
                "Cargo.toml",
                fill(include_str!("../templates/rust/Cargo.toml.tmpl")).replace("{{sdk}}", &sdk),
            ));
            files.push((
                "src/lib.rs",
                fill(include_str!("../templates/rust/lib.rs.tmpl")),
            ));
        }
        Language::Js => {
            files.push((
                MANIFEST,
                format!("name: {name}\nlanguage: js\nentry: component.js\n"),
            ));
            files.push((
                "component.js",
                fill(include_str!("../templates/js/component.js.tmpl")),
            ));
            files.push((
                "package.json",
                fill(include_str!("../templates/js/package.json.tmpl")),
            ));
        }
        Language::Python => {
            files.push((
                MANIFEST,
                format!("name: {name}\nlanguage: python\nentry: app\n"),
            ));
            files.push((
                "app.py",
                fill(include_str!("../templates/python/app.py.tmpl")),
            ));
        }
        Language::C => {
            files.push((
                MANIFEST,
                fill(include_str!("../templates/c/component.yaml.tmpl")),
            ));
            files.push((
                "component.c",
                fill(include_str!("../templates/c/component.c.tmpl")),
            ));
        }
        Language::Other => {
            files.push((MANIFEST, fill(include_str!("../templates/other.yaml.tmpl"))));
        }
    }
    for (path, content) in files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap_or(dir))?;
        std::fs::write(&target, content)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

/// What `stack build` or `stack check` found, per component.
#[derive(Debug, Serialize)]
pub struct StackComponentReport {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// For `check`: the sha256 stack.yaml declares, when it differs.
    pub declared: Option<String>,
}

/// `stack build`: builds components that name a `source`, loads every
/// component, checks names and schemas, and fills in the sha256s.
/// `stack check` (`write: false`) does the same without building or
/// writing, and reports drift.
///
/// With `out`, the built stack (stack.yaml and components) is written there
/// and `dir` is left as it is: the way to build a stack from a source tree
/// whose JavaScript and Python builds are not byte-reproducible.
pub fn stack(
    runtime: &Runtime,
    dir: &Path,
    write: bool,
    out: Option<&Path>,
    progress: &dyn crate::progress::Progress,
) -> anyhow::Result<Vec<StackComponentReport>> {
    let path = dir.join(STACK_FILE);
    let target = out.unwrap_or(dir);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let origin = path.display().to_string();
    let definition = StackDefinition::parse(&text, &origin)?;
    let mut reports = Vec::new();
    let mut updated = text.clone();
    for component in &definition.components {
        let wasm_path = target.join(&component.path);
        if write
            && let Some(source) = &component.source
            && !up_to_date(&wasm_path, &dir.join(source))
        {
            build(&dir.join(source), Some(&wasm_path), progress)?;
        }
        let bytes = std::fs::read(&wasm_path).with_context(|| {
            format!(
                "{origin}: component {:?}: cannot read {}{}",
                component.name,
                component.path,
                if write {
                    ""
                } else {
                    "; run `cairn stack build` first"
                }
            )
        })?;
        let loaded = runtime
            .load(&bytes)
            .map_err(|error| ComponentFailure {
                component: component.name.clone(),
                error,
            })
            .context(origin.clone())?;
        values::check_schema(&loaded.metadata.config_schema)
            .map_err(|e| anyhow::anyhow!("{origin}: component {:?}: {e}", component.name))?;
        let declared = (!component.sha256.eq_ignore_ascii_case(&loaded.sha256))
            .then(|| component.sha256.clone());
        if write && declared.is_some() {
            updated = crate::edit::set_in_named_item(
                &updated,
                &origin,
                "components",
                &component.name,
                "sha256",
                &loaded.sha256,
            )?;
        }
        reports.push(StackComponentReport {
            name: component.name.clone(),
            version: loaded.metadata.version.clone(),
            sha256: loaded.sha256.clone(),
            declared,
        });
    }
    if write && (updated != text || out.is_some()) {
        std::fs::create_dir_all(target)?;
        crate::files::write_atomic(&target.join(STACK_FILE), updated.as_bytes())
            .with_context(|| format!("cannot write {}", target.join(STACK_FILE).display()))?;
    }
    Ok(reports)
}

/// Whether `wasm` is newer than every source file under `source` (build
/// outputs and dependencies aside), so building again would change nothing.
fn up_to_date(wasm: &Path, source: &Path) -> bool {
    let Ok(built) = std::fs::metadata(wasm).and_then(|m| m.modified()) else {
        return false;
    };
    let mut stack = vec![source.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return false;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if matches!(
                name.to_str(),
                Some("build" | "target" | "node_modules" | "__pycache__" | "tests")
            ) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .map_or(true, |m| m > built)
            {
                return false;
            }
        }
    }
    true
}

/// Refuses a stack whose stack.yaml does not match its built components,
/// saying to rebuild and then `next`.
fn check_built(
    runtime: &Runtime,
    dir: &Path,
    progress: &dyn crate::progress::Progress,
    next: &str,
) -> anyhow::Result<()> {
    let stale: Vec<String> = stack(runtime, dir, false, None, progress)?
        .into_iter()
        .filter(|r| r.declared.is_some())
        .map(|r| r.name)
        .collect();
    if !stale.is_empty() {
        bail!(
            "{}: the sha256 of {} does not match; run `cairn stack build`, {next}",
            dir.join(STACK_FILE).display(),
            stale.join(", ")
        );
    }
    Ok(())
}

/// What `stack release` made.
#[derive(Debug, Serialize)]
pub struct ReleaseReport {
    pub tag: String,
    pub commit: String,
    /// The fingerprint of the key that signed it.
    pub signer: String,
}

/// `stack release`: checks the stack in `dir` (every sha256 matches its
/// component, as `stack check`), requires stack.yaml to be committed as it
/// is, and tags HEAD `tag` with an annotated tag signed by the SSH key in
/// `key_file`, as `git tag -s` with `gpg.format=ssh` would: `git
/// verify-tag` and every cairn that trusts the key accept it. Publishing is
/// then pushing the tag.
pub fn release(
    runtime: &Runtime,
    dir: &Path,
    tag: &str,
    key_file: &Path,
    progress: &dyn crate::progress::Progress,
) -> anyhow::Result<ReleaseReport> {
    use gix::objs::WriteTo;

    let version = tag.strip_prefix('v').unwrap_or(tag);
    let version = semver::Version::parse(version)
        .with_context(|| format!("{tag:?} is not a semver version (like v1.2.0)"))?;
    let tag = format!("v{version}");
    check_built(runtime, dir, progress, "commit, then release")?;
    let repo = gix::open(dir).with_context(|| {
        format!(
            "{} is not the root of a git repository; a stack is released by tagging its repository",
            dir.display()
        )
    })?;
    let head = repo
        .head_commit()
        .context("the repository has no commit to release")?;
    let committed = head
        .tree()?
        .lookup_entry_by_path(STACK_FILE)?
        .map(|entry| entry.object().map(|o| o.data.clone()))
        .transpose()?;
    let on_disk = std::fs::read(dir.join(STACK_FILE))?;
    if committed.as_deref() != Some(on_disk.as_slice()) {
        bail!(
            "{} differs from the committed one; commit it, then release",
            dir.join(STACK_FILE).display()
        );
    }
    let name = format!("refs/tags/{tag}");
    if repo.try_find_reference(name.as_str())?.is_some() {
        bail!("{tag} already exists; a release never changes: release a new version");
    }
    let tagger = repo
        .committer()
        .context("set user.name and user.email in git's configuration: they name the tagger")?
        .context("git's user.name or user.email is not valid")?
        .to_owned()?;
    let changelog =
        StackDefinition::parse(&String::from_utf8_lossy(&on_disk), STACK_FILE)?.changelog;
    let mut object = gix::objs::Tag {
        target: head.id,
        target_kind: gix::objs::Kind::Commit,
        name: tag.as_str().into(),
        tagger: Some(tagger),
        message: format!("{tag}\n\n{}\n", changelog.trim_end()).into(),
        signature: None,
    };
    let mut payload = Vec::new();
    object.write_to(&mut payload)?;
    let (armored, signer) = crate::signing::sign(&payload, key_file)?;
    object.message.extend_from_slice(armored.as_bytes());
    let id = repo.write_object(&object)?.detach();
    repo.reference(
        name.as_str(),
        id,
        gix::refs::transaction::PreviousValue::MustNotExist,
        format!("cairn stack release {tag}"),
    )?;
    Ok(ReleaseReport {
        tag,
        commit: head.id.to_string(),
        signer: signer.fingerprint,
    })
}

/// What `stack push` published.
#[derive(Debug, Serialize)]
pub struct PushReport {
    pub reference: String,
    pub digest: String,
    /// The fingerprint of the key that signed it, when signed.
    pub signer: Option<String>,
}

/// `stack push`: checks the stack in `dir` as `stack check` does and
/// publishes it to an OCI registry as `reference` (`oci://HOST/REPO:TAG`),
/// signed with the SSH key in `key_file` when given. A tag that exists is
/// refused: a release never changes.
pub fn push(
    runtime: &Runtime,
    dir: &Path,
    reference: &str,
    key_file: Option<&Path>,
    progress: &dyn crate::progress::Progress,
) -> anyhow::Result<PushReport> {
    let parsed = crate::oci::Reference::parse(reference)?;
    let tag = parsed
        .tag
        .clone()
        .with_context(|| format!("{reference}: name the release's tag (oci://HOST/REPO:v1.2.0)"))?;
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(&tag))
        .with_context(|| format!("{tag:?} is not a semver version (like v1.2.0)"))?;
    check_built(runtime, dir, progress, "then push")?;
    let text = std::fs::read_to_string(dir.join(STACK_FILE))?;
    let definition = StackDefinition::parse(&text, STACK_FILE)?;
    let mut files = vec![(
        STACK_FILE.to_string(),
        text.into_bytes(),
        crate::oci::STACK_FILE_TYPE,
    )];
    for component in &definition.components {
        let bytes = std::fs::read(dir.join(&component.path))
            .with_context(|| format!("cannot read {}", component.path))?;
        files.push((component.path.clone(), bytes, crate::oci::COMPONENT_TYPE));
    }
    let client = crate::oci::Client::new(&parsed)?;
    if client.manifest(&tag)?.is_some() {
        bail!("{reference} already exists; a release never changes: push a new version");
    }
    let _task = progress.start(&format!("pushing {reference}"));
    let digest = crate::oci::push_stack(&client, &tag, &files, &definition.name)?;
    let signer = match key_file {
        Some(key) => {
            let (armored, signer) =
                crate::signing::sign_in(crate::oci::NAMESPACE, digest.as_bytes(), key)?;
            crate::oci::push_signature(&client, &digest, &armored)?;
            Some(signer.fingerprint)
        }
        None => None,
    };
    Ok(PushReport {
        reference: reference.to_string(),
        digest,
        signer,
    })
}
