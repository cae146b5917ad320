//! The trust boundary, tried from every side: a component (its describe,
//! schema, output and logs), a stack, and a pull request to the GitOps repo
//! (cairn.yaml, cairn.lock, the journal, links). Every attack is refused
//! with a clear error naming the culprit, within bounded time and memory,
//! and nothing is read, written, renamed or deleted outside the output.
//! docs/security.md lists which test covers which threat.

use crate::support;

use std::path::{Path, PathBuf};

use support::{StackEntry, World, bounded, git, read_tree, stderr, stdout, write_stack};

/// Seconds and MiB any single command here may take: a normal run takes
/// well under a second and 100 MiB.
const SECONDS: u64 = 30;
const MIB: u64 = 1024;

/// Every file of `dir` except git's own.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, String> {
    read_tree(dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".git/"))
        .collect()
}

/// `cairn render` of `components` (crate names) with `values`, bounded;
/// asserts it is refused with `expected` and that `out` is untouched.
fn render_refused(
    world: &World,
    values: &str,
    components: &[&str],
    extra: &[&str],
    expected: &str,
) -> String {
    let values_file = world.write("values.yaml", values);
    let mut args = vec!["render".to_string(), "--values".into()];
    args.push(values_file.display().to_string());
    args.push("--out".into());
    args.push(world.path("out").display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    for c in components {
        args.push(support::wasm(c).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = bounded(world.cairn_process(world.dir.path(), &args), SECONDS, MIB);
    let err = stderr(&run.output);
    assert_eq!(run.output.status.code(), Some(2), "not refused:\n{err}");
    assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    assert!(!world.path("out").exists(), "something was written");
    err
}

/// A file `hostile-output` emits, as values for it.
fn emit(files: &[(&str, &str)]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(path, content)| serde_json::json!({"path": path, "content": content}))
        .collect();
    format!(
        "hostile-output: {}\n",
        serde_json::json!({ "files": files })
    )
}

#[test]
fn a_component_sleeping_past_its_deadline_is_stopped() {
    let world = World::new();
    let err = render_refused(
        &world,
        "hostile-loop: {sleep: true}\n",
        &["hostile-loop"],
        &["--limit", "deadline=2s"],
        "component \"hostile-loop\": exceeded the 2s render deadline",
    );
    assert!(!err.contains("woke up"), "{err}");
}

#[test]
fn yaml_bombs_and_tricks_are_refused_before_any_value_is_built() {
    let world = World::new();
    // 1.2 MB that libyaml would expand to 40 billion nodes.
    let bomb = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata:\n  a: &a [{}]\n  b: [{}]\n",
        "x,".repeat(200_000),
        "*a,".repeat(200_000)
    );
    let deep = "[".repeat(100_000);
    let merged = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n<<: {stringData: {password: hunter22}}\n";
    let tagged = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: !!map {a: b}\n";
    let list = "apiVersion: v1\nkind: List\nmetadata: {name: l}\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n  stringData: {password: hunter22}\n";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("bomb.yaml", &bomb)],
            "an anchor (&name) at line 5 is not allowed",
        ),
        (
            &[("deep.yaml", &deep)],
            "collections nest deeper than 64 levels",
        ),
        (
            &[("merge.yaml", merged)],
            "a merge key (<<) at line 4 is not allowed",
        ),
        (
            &[("tag.yaml", tagged)],
            "an explicit tag (!tag) at line 4 is not allowed",
        ),
        (
            &[("list.yaml", list)],
            "is a List: write each object as its own document",
        ),
        (
            &[("a.yaml", cm), ("a.yaml/b.yaml", cm)],
            "file \"a.yaml/b.yaml\": lies inside \"a.yaml\"",
        ),
    ];
    for (files, expected) in cases {
        let err = render_refused(&world, &emit(files), &["hostile-output"], &[], expected);
        assert!(err.contains("component \"hostile-output\""), "{err}");
    }
}

#[test]
fn a_schema_that_applies_itself_forever_is_refused_at_load() {
    let world = World::new();
    render_refused(
        &world,
        "{}",
        &["hostile-schema"],
        &[],
        "config-schema: #/allOf/0/$ref applies itself to the same value through $ref or a combinator, which never ends",
    );
}

/// A git repository holding a stack of `entries`, tagged v1.0.0.
fn stack_repo(world: &World, entries: &[StackEntry<'_>]) -> PathBuf {
    let dir = world.path("stack");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    write_stack(&dir, entries, "First release.");
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "v1.0.0"]);
    support::release(&dir, "v1.0.0");
    dir
}

fn gitops_dir(world: &World) -> PathBuf {
    let dir = world.path("gitops");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    dir
}

#[test]
fn component_text_never_breaks_out_of_comments_or_into_the_terminal() {
    let world = World::new();
    let stack = stack_repo(
        &world,
        &[StackEntry {
            name: "hostile-describe",
            crate_name: "hostile-describe",
            enabled: true,
        }],
    );
    let gitops = gitops_dir(&world);
    let run = bounded(
        world.cairn_process(&gitops, &["init", stack.to_str().unwrap()]),
        SECONDS,
        MIB,
    );
    assert!(run.output.status.success(), "{}", stderr(&run.output));
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    assert!(
        !config.contains('\u{1b}') && !config.contains('\u{7}'),
        "{config:?}"
    );
    // The description stays one comment line; no key of its text is read.
    let parsed: serde_yaml::Value = serde_yaml::from_str(&config).unwrap();
    let values = parsed["values"].as_mapping().unwrap();
    assert_eq!(values.len(), 1, "{config}");
    let own = &values[&serde_yaml::Value::from("hostile-describe")];
    for key in ["injected", "evil", "token", "home"] {
        assert!(own.get(key).is_none(), "{key} in {config}");
    }
    // Secret fields get a commented example, never the schema's default.
    assert!(
        config.contains("    # token: {env: NAME}") && !config.contains("/etc/hostname"),
        "{config}"
    );
    // Options are written commented out: the block sets only `enabled`,
    // and defaults that refer to their own schema stop after one level.
    assert_eq!(own.as_mapping().unwrap().len(), 1, "{config}");
    assert!(config.contains("    # a: {}\n"), "{config}");

    // The next command takes the cairn.yaml init wrote, and the component
    // gets no host file through a default.
    let run = bounded(world.cairn_process(&gitops, &["generate"]), SECONDS, MIB);
    assert!(run.output.status.success(), "{}", stderr(&run.output));
    let loot = std::fs::read_to_string(gitops.join("hostile-describe/loot.yaml")).unwrap();
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    assert!(
        hostname.trim().is_empty() || !loot.contains(hostname.trim()),
        "{loot}"
    );

    // inspect and every message print component text escaped.
    let run = bounded(
        world.cairn_process(
            &gitops,
            &[
                "inspect",
                support::wasm("hostile-describe").to_str().unwrap(),
            ],
        ),
        SECONDS,
        MIB,
    );
    for stream in [&run.output.stdout, &run.output.stderr] {
        assert!(
            !stream.contains(&0x1b) && !stream.contains(&0x07),
            "{}",
            String::from_utf8_lossy(stream)
        );
    }
    assert!(stdout(&run.output).contains("Innocent. injected: true values:"));
}

#[test]
fn a_secret_a_component_echoes_is_refused_and_never_shown() {
    let world = World::new();
    let stack = stack_repo(
        &world,
        &[StackEntry {
            name: "hostile-describe",
            crate_name: "hostile-describe",
            enabled: true,
        }],
    );
    let gitops = gitops_dir(&world);
    const SECRET: &str = "correct-horse-battery";
    let config = |fail: bool| {
        std::fs::write(
            gitops.join("cairn.yaml"),
            format!(
                "stack:\n  source: {}\n  version: v1.0.0\n{}values:\n  hostile-describe:\n    token: {{env: HOSTILE_TOKEN}}\n    fail: {fail}\n",
                stack.display(),
                support::trusted()
            ),
        )
        .unwrap()
    };
    config(false);
    let mut cmd = world.cairn_process(&gitops, &["generate", "--verbose"]);
    cmd.env("HOSTILE_TOKEN", SECRET);
    let run = bounded(cmd, SECONDS, MIB);
    let err = stderr(&run.output);
    assert_eq!(run.output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("file \"loot.yaml\": holds the secret value of hostile-describe.token outside a sealed Secret"),
        "{err}"
    );
    assert!(
        !err.contains(SECRET) && !stdout(&run.output).contains(SECRET),
        "{err}"
    );
    assert!(!gitops.join("hostile-describe").exists());

    // Its failure message and its log hide the secret too.
    config(true);
    let mut cmd = world.cairn_process(&gitops, &["generate"]);
    cmd.env("HOSTILE_TOKEN", SECRET);
    let run = bounded(cmd, SECONDS, MIB);
    let err = stderr(&run.output);
    assert_eq!(run.output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("failing with (secret)") && err.contains("the token is (secret)"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
}

/// A GitOps repo generated from the stack of the stack tests.
fn generated(world: &World) -> PathBuf {
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", "  app:\n    greeting: hi\n");
    let run = bounded(world.cairn_process(&gitops, &["generate"]), SECONDS, MIB);
    assert!(run.output.status.success(), "{}", stderr(&run.output));
    gitops
}

/// Runs `args` in `gitops`, bounded, and asserts a refusal saying
/// `expected` that changed nothing in the repo.
fn repo_refused(world: &World, gitops: &Path, args: &[&str], expected: &str) -> String {
    let before = snapshot(gitops);
    let run = bounded(world.cairn_process(gitops, args), SECONDS, MIB);
    let err = stderr(&run.output);
    assert_eq!(
        run.output.status.code(),
        Some(2),
        "{args:?} not refused:\n{err}{}",
        stdout(&run.output)
    );
    assert!(
        err.contains(expected),
        "{args:?}: expected {expected:?} in:\n{err}"
    );
    assert_eq!(snapshot(gitops), before, "{args:?} changed the repo");
    err
}

#[test]
fn a_committed_journal_is_refused_and_never_replayed() {
    let world = World::new();
    let gitops = generated(&world);
    let victim = world.write("victim/data.txt", "precious\n");
    world.write("gitops/.cairn/staging/0", "#!/bin/sh\necho pwned\n");
    let journals = [
        // The format cairn writes, pointed outside the output.
        format!(
            "- op: rename\n  from: .cairn/staging/0\n  to: .git/hooks/pre-commit\n- op: delete\n  path: {}\n  stop: /\n",
            victim.display()
        ),
        // The format of earlier versions, as an attacker would commit it.
        format!(
            "- !rename {{from: .cairn/staging/0, to: .git/hooks/pre-commit}}\n- !delete {{path: {}, stop: /}}\n",
            victim.display()
        ),
        "- op: rename\n  from: ../../payload\n  to: app/x.yaml\n".to_string(),
    ];
    for journal in journals {
        world.write("gitops/.cairn/journal.yaml", &journal);
        // The CI command does not replay a journal at all.
        repo_refused(
            &world,
            &gitops,
            &["verify"],
            "a `cairn generate` was interrupted here and left .cairn/journal.yaml",
        );
        // generate checks it, and refuses one cairn would never write.
        repo_refused(
            &world,
            &gitops,
            &["generate"],
            "is not a journal cairn wrote",
        );
        assert!(!gitops.join(".git/hooks/pre-commit").exists());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }
}

#[test]
fn a_tampered_lock_cannot_reach_outside_the_output() {
    let world = World::new();
    let gitops = generated(&world);
    let victim = world.write("victim2/data.txt", "precious\n");
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    let tampered = lock.replace(
        "files:\n",
        &format!(
            "files:\n  ../victim2/data.txt: {}\n",
            support::sha256_file(&victim)
        ),
    );
    std::fs::write(gitops.join("cairn.lock"), tampered).unwrap();
    for command in ["generate", "diff", "verify", "status"] {
        repo_refused(
            &world,
            &gitops,
            &[command],
            "cairn.lock: files: \"../victim2/data.txt\": the path contains '..'",
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[cfg(unix)]
#[test]
fn links_in_the_repo_are_never_followed() {
    let world = World::new();
    let gitops = generated(&world);
    let outside = world.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "mine\n").unwrap();

    // A component's directory replaced by a link to a directory elsewhere.
    std::fs::remove_dir_all(gitops.join("app")).unwrap();
    std::os::unix::fs::symlink(&outside, gitops.join("app")).unwrap();
    for args in [&["generate", "--force"][..], &["verify"], &["diff"]] {
        repo_refused(
            &world,
            &gitops,
            args,
            "app is a symbolic link; cairn never follows links",
        );
    }
    assert_eq!(
        read_tree(&outside).len(),
        1,
        "something was written outside"
    );
    std::fs::remove_file(gitops.join("app")).unwrap();

    // A generated file replaced by a link to a file elsewhere.
    let generated_file = gitops.join("app/kustomization.yaml");
    let secret = world.write("outside/secret.txt", "do not read\n");
    std::fs::create_dir_all(gitops.join("app")).unwrap();
    std::os::unix::fs::symlink(&secret, &generated_file).unwrap();
    repo_refused(
        &world,
        &gitops,
        &["generate", "--force"],
        "is a symbolic link",
    );
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "do not read\n");
    std::fs::remove_file(&generated_file).unwrap();

    // cairn's own scratch directory replaced by a link.
    std::os::unix::fs::symlink(&outside, gitops.join(".cairn")).unwrap();
    repo_refused(
        &world,
        &gitops,
        &["generate", "--force"],
        ".cairn is a symbolic link",
    );
    assert_eq!(
        read_tree(&outside).len(),
        2,
        "something was written outside"
    );
}

#[test]
fn a_directory_where_a_generated_file_goes_is_a_clear_error() {
    let world = World::new();
    let gitops = generated(&world);
    std::fs::remove_file(gitops.join("app/kustomization.yaml")).unwrap();
    std::fs::create_dir_all(gitops.join("app/kustomization.yaml/inner")).unwrap();
    repo_refused(
        &world,
        &gitops,
        &["generate", "--force"],
        "app/kustomization.yaml is a directory, but cairn needs a file there; move it away",
    );
}

#[test]
fn a_hostile_stack_definition_is_refused() {
    let world = World::new();
    let dir = world.path("stack");
    std::fs::create_dir_all(&dir).unwrap();
    let gitops = gitops_dir(&world);
    let cases = [
        (
            "name: s\ncomponents: &c []\nother: *c\n".to_string(),
            "an anchor (&name) at line 2 is not allowed",
        ),
        (
            "name: s\ncomponents:\n  - name: x\n    path: ../../outside.wasm\n    sha256: ''\n"
                .to_string(),
            "path \"../../outside.wasm\" must stay inside the stack",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.join("stack.yaml"), text).unwrap();
        let run = bounded(
            world.cairn_process(&gitops, &["init", dir.to_str().unwrap()]),
            SECONDS,
            MIB,
        );
        let err = stderr(&run.output);
        assert_eq!(run.output.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
        assert!(!gitops.join("cairn.yaml").exists());
    }

    // A component larger than the limit is refused before it is read.
    let stack = stack_repo(
        &world,
        &[StackEntry {
            name: "app",
            crate_name: "app",
            enabled: true,
        }],
    );
    let run = bounded(
        world.cairn_process(
            &gitops,
            &[
                "init",
                stack.to_str().unwrap(),
                "--limit",
                "component-size=10KiB",
            ],
        ),
        SECONDS,
        MIB,
    );
    let err = stderr(&run.output);
    assert_eq!(run.output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("component \"app\": components/app.wasm in")
            && err.contains("more than the 10.0 KiB cairn reads; raise --limit component-size"),
        "{err}"
    );
}

#[test]
fn cache_entries_sealed_with_another_key_are_never_loaded() {
    let world = World::isolated();
    let values = world.write("values.yaml", "{}");
    let render = |data: &Path| {
        let mut cmd = world.cairn_process(
            world.dir.path(),
            &[
                "render",
                "--values",
                values.to_str().unwrap(),
                "--out",
                world.path("out").to_str().unwrap(),
                support::wasm("gateway").to_str().unwrap(),
            ],
        );
        cmd.env("XDG_DATA_HOME", data);
        let run = bounded(cmd, SECONDS, MIB);
        assert!(run.output.status.success(), "{}", stderr(&run.output));
    };
    let entry = || {
        let dir = world.cache_dir().join("cairn/compiled");
        let path = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .unwrap();
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().ino()
    };
    let (ours, theirs) = (world.path("ours"), world.path("theirs"));
    render(&theirs);
    let forged = entry();
    // Someone else's entry (sealed with their key) is compiled afresh and
    // replaced, never loaded.
    render(&ours);
    let replaced = entry();
    assert_ne!(forged, replaced);
    // Our own is loaded as it is.
    render(&ours);
    assert_eq!(entry(), replaced);
}

#[test]
fn components_running_at_once_stay_within_the_total_memory() {
    let world = World::new();
    let values = world.write("values.yaml", "{}");
    let mut args = vec![
        "render".to_string(),
        "--values".into(),
        values.display().to_string(),
        "--out".into(),
        world.path("out").display().to_string(),
        "--limit".into(),
        "memory=64MiB".into(),
        "--limit".into(),
        "memory-total=128MiB".into(),
    ];
    for i in 0..8 {
        args.push(format!("a{i}={}", support::wasm("hostile-alloc").display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = world.cairn_process(world.dir.path(), &args);
    // As many threads as copies: only the total bounds how many run at once.
    cmd.env("RAYON_NUM_THREADS", "8");
    // Eight copies at 64 MiB each would be 512 MiB at once; two at a time
    // stay near 128 MiB above cairn's own.
    let run = bounded(cmd, SECONDS, 400);
    let err = stderr(&run.output);
    assert_eq!(run.output.status.code(), Some(2), "{err}");
    assert_eq!(
        err.matches("exceeded the 64.0 MiB memory limit").count(),
        8,
        "{err}"
    );
}
