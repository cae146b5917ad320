//! The stack lifecycle on real git repositories made in temp dirs: init,
//! generate, prune, hand edits across updates, conflicts, diff, verify,
//! update, tampering, bad input and interrupted runs. All offline.

use crate::support;

use std::path::Path;

use support::{GitDaemon, World, git, read_tree, stderr, stdout};

const VALUES: &str = "  app:\n    greeting: hi\n  gateway:\n    domain: example.com\n";

/// Every file of the GitOps repo except git's own, for before/after checks.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, String> {
    read_tree(dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".git/"))
        .collect()
}

fn generated(world: &World) -> (std::path::PathBuf, std::path::PathBuf) {
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    world.cairn_in(&gitops, &["generate"]).assert().success();
    (stack, gitops)
}

#[test]
fn init_writes_defaults_and_generate_is_idempotent() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.path("gitops");
    let output = world
        .cairn()
        .args([
            "init",
            &stack.display().to_string(),
            "--version",
            "^0.1",
            "--path",
        ])
        .arg(&gitops)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    for expected in [
        "version: ^0.1",
        "# App: A small app, for tests.",
        "  app:\n    enabled: true\n",
        "    # color: blue\n",
        "className: envoy",
    ] {
        assert!(
            config.contains(expected),
            "missing {expected:?} in:\n{config}"
        );
    }

    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("stack test-stack v0.1.0"), "{out}");
    assert!(out.contains("app: 4 created"), "{out}");
    assert!(
        out.contains("Review the changes"),
        "the stack's message is shown:\n{out}"
    );
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(
        lock.contains("tag: v0.1.0") && lock.contains("app/configmap.yaml:"),
        "{lock}"
    );

    let before = snapshot(&gitops);
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success());
    assert!(
        stdout(&output).contains("nothing to change"),
        "{}",
        stdout(&output)
    );
    assert_eq!(snapshot(&gitops), before);
}

#[test]
fn disabling_a_component_prunes_its_files_but_not_the_users() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    std::fs::write(gitops.join("gateway/my-notes.yaml"), "mine: true\n").unwrap();
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    std::fs::write(
        gitops.join("cairn.yaml"),
        config.replace("  gateway:\n", "  gateway:\n    enabled: false\n"),
    )
    .unwrap();

    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("gateway: 8 deleted"),
        "{}",
        stdout(&output)
    );
    assert!(!gitops.join("gateway/helmrelease.yaml").exists());
    assert_eq!(
        std::fs::read_to_string(gitops.join("gateway/my-notes.yaml")).unwrap(),
        "mine: true\n"
    );
    assert!(
        !std::fs::read_to_string(gitops.join("layers.yaml"))
            .unwrap()
            .contains("gateway")
    );
}

#[test]
fn hand_edits_survive_an_update() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    let configmap = gitops.join("app/configmap.yaml");
    let edited = std::fs::read_to_string(&configmap)
        .unwrap()
        .replace("greeting: hi", "greeting: edited-by-hand");
    std::fs::write(&configmap, &edited).unwrap();

    let output = world.cairn_in(&gitops, &["update"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // An exact pin stays exact.
    assert!(
        stdout(&output).contains("cairn.yaml now requires v0.2.0"),
        "{}",
        stdout(&output)
    );
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("v0.1.0 -> v0.2.0"),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains("app: 1 merged"),
        "{}",
        stdout(&output)
    );

    let merged = std::fs::read_to_string(&configmap).unwrap();
    assert!(
        merged.contains("greeting: edited-by-hand"),
        "the edit was lost:\n{merged}"
    );
    assert!(
        merged.contains("release: '2'"),
        "the new release was not taken:\n{merged}"
    );
    // The new default reaches files the user did not touch.
    assert!(merged.contains("color: green"), "{merged}");
}

#[test]
fn an_edit_to_a_key_the_update_changes_is_a_conflict_and_nothing_is_written() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    let configmap = gitops.join("app/configmap.yaml");
    let edited = std::fs::read_to_string(&configmap)
        .unwrap()
        .replace("release: '1'", "release: mine");
    std::fs::write(&configmap, &edited).unwrap();
    world.cairn_in(&gitops, &["update"]).assert().success();

    let before = snapshot(&gitops);
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("conflicts; nothing was written"), "{err}");
    assert!(
        err.contains("app/configmap.yaml: your edits and the new render change the same fields"),
        "{err}"
    );
    assert!(
        err.contains("ConfigMap/apps/app-settings (v1): data.release"),
        "{err}"
    );
    assert_eq!(snapshot(&gitops), before);

    world
        .cairn_in(&gitops, &["generate", "--force"])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&configmap)
            .unwrap()
            .contains("release: '2'")
    );
}

#[test]
fn diff_and_verify_exit_codes() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    world.cairn_in(&gitops, &["diff"]).assert().code(0);
    world.cairn_in(&gitops, &["verify"]).assert().code(0);

    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    std::fs::write(
        gitops.join("cairn.yaml"),
        config.replace("greeting: hi", "greeting: howdy"),
    )
    .unwrap();
    let before = snapshot(&gitops);
    let output = world.cairn_in(&gitops, &["diff"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("-  greeting: hi\n+  greeting: howdy"), "{out}");
    assert!(out.contains("app: 1 updated would be"), "{out}");
    assert_eq!(snapshot(&gitops), before, "diff wrote something");
    let output = world.cairn_in(&gitops, &["verify"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("values in cairn.yaml changed"),
        "{}",
        stdout(&output)
    );

    std::fs::write(gitops.join("cairn.yaml"), config).unwrap();
    let deployment = gitops.join("app/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(&deployment, text.replace("replicas: 1", "replicas: 5")).unwrap();
    let output = world.cairn_in(&gitops, &["verify"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("edited: app/deployment.yaml"),
        "{}",
        stdout(&output)
    );
    std::fs::remove_file(gitops.join("app/namespace.yaml")).unwrap();
    let output = world.cairn_in(&gitops, &["verify"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("missing: app/namespace.yaml"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn update_check_reports_json_and_ignores_non_semver_tags() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    let output = world
        .cairn_in(&gitops, &["update", "--check", "-o", "json"])
        .output()
        .unwrap();
    // An update is available: exit status 1, as `diff` with changes.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["status"], "update-available");
    assert_eq!(json["current"], "0.1.0");
    assert_eq!(json["latest"], "0.2.0");
    assert_eq!(json["versions"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["versions"][0]["tag"], "v0.2.0");
    assert_eq!(json["versions"][0]["within_requirement"], false);
    assert!(
        json["versions"][0]["changelog"]
            .as_str()
            .unwrap()
            .contains("adds cert-manager")
    );
    // --check changes nothing.
    assert!(
        std::fs::read_to_string(gitops.join("cairn.yaml"))
            .unwrap()
            .contains("version: \"v0.1.0\"")
    );
}

#[test]
fn a_tampered_component_is_refused() {
    let world = World::new();
    let (stack, gitops) = generated(&world);
    // A release whose app.wasm is not the one stack.yaml declares.
    std::fs::copy(support::wasm("app"), stack.join("components/app.wasm")).unwrap();
    git(&stack, &["commit", "-qam", "swap the binary"]);
    support::release(&stack, "v0.2.1");
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    std::fs::write(
        gitops.join("cairn.yaml"),
        config.replace("v0.1.0", "v0.2.1"),
    )
    .unwrap();
    let before = snapshot(&gitops);
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("component \"app\": components/app.wasm has sha256"),
        "{err}"
    );
    assert!(err.contains("tampered"), "{err}");
    assert_eq!(snapshot(&gitops), before);

    // The same version moved to different bytes after it was locked.
    std::fs::write(gitops.join("cairn.yaml"), config).unwrap();
    support::write_stack(
        &stack,
        &[
            support::StackEntry {
                name: "app",
                crate_name: "app-v2",
                enabled: true,
            },
            support::StackEntry {
                name: "gateway",
                crate_name: "gateway",
                enabled: true,
            },
        ],
        "retagged",
    );
    git(&stack, &["commit", "-qam", "retag"]);
    support::release(&stack, "v0.1.0-moved");
    git(&stack, &["tag", "-f", "v0.1.0", "v0.1.0-moved"]);
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("tag v0.1.0 of stack"), "{err}");
    assert!(
        err.contains("the published release changed under the same version"),
        "{err}"
    );
}

/// Bad input: a clear error naming the problem, and the repo untouched.
fn refused(world: &World, gitops: &Path, expected: &str) {
    let before = snapshot(gitops);
    let output = world.cairn_in(gitops, &["generate"]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    assert_eq!(snapshot(gitops), before);
}

#[test]
fn bad_input_gives_clear_errors_and_leaves_the_repo_untouched() {
    let world = World::new();
    let (stack, gitops) = generated(&world);
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    let with = |text: String| std::fs::write(gitops.join("cairn.yaml"), text).unwrap();

    with(config.replace(
        &stack.display().to_string(),
        "file:///nonexistent/stack.git",
    ));
    refused(
        &world,
        &gitops,
        "/nonexistent/stack.git does not exist; check `stack.source` in cairn.yaml",
    );

    with(config.replace("v0.1.0", "^9.0"));
    refused(
        &world,
        &gitops,
        "has no version matching ^9.0; it has: v0.1.0, v0.2.0",
    );

    with(config.replace("  gateway:", "  gatewya:"));
    refused(
        &world,
        &gitops,
        "values.gatewya: stack test-stack has no component \"gatewya\" (did you mean \"gateway\"?)",
    );

    with(config.replace("greeting: hi", "greeting: hi\n    replicas: many"));
    refused(
        &world,
        &gitops,
        "app.replicas: \"many\" is not of type \"integer\"",
    );

    with(config.clone());
    std::fs::write(gitops.join("cairn.lock"), "lockVersion: [what\n").unwrap();
    refused(
        &world,
        &gitops,
        "cairn.lock is corrupt; restore it from git",
    );
}

#[test]
fn a_run_killed_mid_apply_is_completed_and_one_killed_before_leaves_the_old_state() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    let old = snapshot(&gitops);
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    std::fs::write(
        gitops.join("cairn.yaml"),
        config
            .replace("greeting: hi", "greeting: new")
            .replace("  gateway:\n", "  gateway:\n    enabled: false\n"),
    )
    .unwrap();

    // Killed after staging, before the journal: nothing changed.
    let output = world
        .cairn_in(&gitops, &["generate"])
        .env("CAIRN_FAILPOINT", "stage")
        .output()
        .unwrap();
    assert!(!output.status.success());
    world.cairn_in(&gitops, &["status"]).assert().success();
    let mut expected_old = old.clone();
    expected_old.insert(
        "cairn.yaml".into(),
        std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap(),
    );
    assert_eq!(
        snapshot(&gitops),
        expected_old,
        "an interrupted run before its commit point changed files"
    );

    // Killed after two of its operations: the next command completes it.
    let output = world
        .cairn_in(&gitops, &["generate"])
        .env("CAIRN_FAILPOINT", "apply:2")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(gitops.join(".cairn/journal.yaml").exists());
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("completed an interrupted generate first"),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains("nothing to change"),
        "{}",
        stdout(&output)
    );
    world.cairn_in(&gitops, &["verify"]).assert().code(0);
    assert!(!gitops.join(".cairn").exists());
    assert!(!gitops.join("gateway").exists());
}

#[test]
fn generate_commit_records_the_change_and_refuses_other_staged_work() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    std::fs::write(gitops.join("README.md"), "mine\n").unwrap();
    git(&gitops, &["add", "README.md"]);
    let output = world
        .cairn_in(&gitops, &["generate", "--commit"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("other changes are staged (README.md)"),
        "{}",
        stderr(&output)
    );
    git(&gitops, &["commit", "-qm", "readme"]);

    let output = world
        .cairn_in(&gitops, &["generate", "--commit"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let log = git(&gitops, &["log", "-1", "--format=%B"]);
    assert!(
        log.starts_with("cairn: generate test-stack v0.1.0"),
        "{log}"
    );
    assert!(log.contains("app: 4 created"), "{log}");
    assert_eq!(
        git(&gitops, &["status", "--porcelain"]),
        "",
        "everything generated is committed"
    );

    world.cairn_in(&gitops, &["update"]).assert().success();
    world
        .cairn_in(&gitops, &["generate", "--commit"])
        .assert()
        .success();
    let log = git(&gitops, &["log", "-1", "--format=%B"]);
    assert!(
        log.starts_with("cairn: update test-stack from v0.1.0 to v0.2.0"),
        "{log}"
    );
    assert_eq!(git(&gitops, &["status", "--porcelain"]), "");
}

#[test]
fn status_shows_versions_components_and_edits() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    let deployment = gitops.join("app/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(&deployment, text.replace("replicas: 1", "replicas: 2")).unwrap();
    let output = world.cairn_in(&gitops, &["status"]).output().unwrap();
    let out = stdout(&output);
    for expected in [
        "locked:     v0.1.0",
        "newest:     v0.2.0",
        "on  app",
        "files:      14 generated, 1 with hand edits",
        "edited: app/deployment.yaml",
        // Flux applies the gateway's Gateway once its chart is ready.
        "  1. app, gateway\n  2. gateway-config\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn lint_validates_flux_objects_against_the_real_crds() {
    let schemas = support::shared_schemas();
    let world = World::new();
    let (_, gitops) = generated(&world);
    let output = world
        .cairn_in(&gitops, &["lint", "--schemas"])
        .arg(&schemas)
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    assert!(out.contains("0 problems"), "{out}");
    assert!(out.contains("note: no schema for v1 ConfigMap"), "{out}");
    assert!(!out.contains("HelmRelease\n"), "{out}");
}

#[test]
fn output_can_live_in_a_subdirectory_and_init_takes_paths_from_where_it_runs() {
    let world = World::new();
    world.stack_repo();
    // `stack` relative to the working directory, cairn.yaml two levels down.
    let output = world
        .cairn()
        .args([
            "init",
            "stack",
            "--version",
            "v0.1.0",
            "--path",
            "gitops/clusters",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let root = world.path("gitops/clusters");
    let config = std::fs::read_to_string(root.join("cairn.yaml")).unwrap();
    assert!(config.contains("source: ../../stack"), "{config}");
    std::fs::write(
        root.join("cairn.yaml"),
        config.replace("output: .", "output: prod"),
    )
    .unwrap();

    world
        .cairn_in(&root, &["generate", "--offline"])
        .assert()
        .success();
    assert!(root.join("prod/app/configmap.yaml").exists());
    assert!(root.join("prod/kustomization.yaml").exists());
    let lock = std::fs::read_to_string(root.join("cairn.lock")).unwrap();
    assert!(
        lock.contains("\n  app/configmap.yaml:"),
        "lock paths are relative to the output:\n{lock}"
    );

    let config = std::fs::read_to_string(root.join("cairn.yaml")).unwrap();
    std::fs::write(
        root.join("cairn.yaml"),
        config.replace("  app:\n    enabled: true", "  app:\n    enabled: false"),
    )
    .unwrap();
    world.cairn_in(&root, &["generate"]).assert().success();
    assert!(
        !root.join("prod/app").exists(),
        "the pruned component's directory is removed"
    );
    world.cairn_in(&root, &["verify"]).assert().code(0);
}

/// `git daemon` serving `base` on a free loopback port, stopped on drop. It
/// only stands in for a remote host; cairn talks to it with gix.
#[test]
fn remote_stacks_are_cloned_once_and_work_offline_from_the_cache() {
    let world = World::isolated();
    let stack = world.stack_repo();
    let daemon = GitDaemon::serve(stack.parent().unwrap());
    let url = format!("git://127.0.0.1:{}/stack", daemon.1);
    let gitops = world.path("gitops");
    std::fs::create_dir_all(&gitops).unwrap();
    std::fs::write(
        gitops.join("cairn.yaml"),
        format!(
            "stack:\n  source: {url}\n  version: ^0.1\n{}values:\n{VALUES}",
            support::trusted()
        ),
    )
    .unwrap();

    // Offline before anything is cached: a clear error, nothing written.
    let output = world
        .cairn_in(&gitops, &["generate", "--offline"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is not in the cache"),
        "{}",
        stderr(&output)
    );
    assert!(!gitops.join("cairn.lock").exists());

    world.cairn_in(&gitops, &["generate"]).assert().success();
    assert!(gitops.join("app/configmap.yaml").exists());

    // A new release while the lock pins v0.1.0: update sees it by fetching.
    support::release(&stack, "v0.3.0");
    let output = world
        .cairn_in(&gitops, &["update", "--check", "-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["latest"], "0.3.0", "{json}");

    // With the host gone, the locked version still renders from the cache.
    drop(daemon);
    world
        .cairn_in(&gitops, &["generate", "--offline"])
        .assert()
        .success();
    world
        .cairn_in(&gitops, &["verify", "--offline"])
        .assert()
        .code(0);
    let output = world
        .cairn_in(&gitops, &["update", "--check"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("cannot reach stack source {url}")),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_flags_a_plaintext_secret_added_by_hand() {
    let world = World::new();
    let (_, gitops) = generated(&world);
    let configmap = gitops.join("app/configmap.yaml");
    let text = std::fs::read_to_string(&configmap).unwrap();
    std::fs::write(&configmap, format!("{text}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: oops\ndata:\n  token: aHVudGVyMg==\n")).unwrap();
    let output = world.cairn_in(&gitops, &["verify"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains("plaintext secret: app/configmap.yaml Secret \"oops\" has plaintext data"),
        "{out}"
    );
}

#[test]
fn hand_edits_merge_even_when_the_cached_previous_render_is_gone() {
    let world = World::isolated();
    let (_, gitops) = generated(&world);
    let configmap = gitops.join("app/configmap.yaml");
    let edited = std::fs::read_to_string(&configmap)
        .unwrap()
        .replace("greeting: hi", "greeting: mine");
    std::fs::write(&configmap, &edited).unwrap();
    // Another machine: no copies of earlier renders. cairn re-renders the
    // locked version with the same values to get the merge base.
    std::fs::remove_dir_all(world.cache_dir().join("cairn/blobs")).unwrap();
    world.cairn_in(&gitops, &["update"]).assert().success();
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let merged = std::fs::read_to_string(&configmap).unwrap();
    assert!(
        merged.contains("greeting: mine") && merged.contains("release: '2'"),
        "{merged}"
    );
}

#[test]
fn a_component_built_against_the_0_1_contract_still_runs() {
    let world = World::new();
    let stack = world.path("legacy-stack");
    std::fs::create_dir_all(&stack).unwrap();
    git(&stack, &["init", "-q"]);
    support::write_stack(
        &stack,
        &[
            support::StackEntry {
                name: "legacy",
                crate_name: "legacy",
                enabled: true,
            },
            support::StackEntry {
                name: "gateway",
                crate_name: "gateway",
                enabled: true,
            },
        ],
        "Old and new.",
    );
    git(&stack, &["add", "-A"]);
    git(&stack, &["commit", "-qm", "v1.0.0"]);
    support::release(&stack, "v1.0.0");
    let gitops = world.gitops(&stack, "v1.0.0", "  gateway:\n    domain: example.com\n");
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    // Its facts arrive, its files are in the main layer, and, knowing
    // nothing of `wait`, it waits for every fact it reads.
    let configmap = std::fs::read_to_string(gitops.join("legacy/configmap.yaml")).unwrap();
    assert!(configmap.contains("domain: \"example.com\""), "{configmap}");
    let layers = std::fs::read_to_string(gitops.join("layers.yaml")).unwrap();
    let legacy = layers
        .split("---\n")
        .find(|d| d.contains("  name: legacy\n"))
        .unwrap();
    assert!(
        legacy.contains("dependsOn:\n  - name: gateway-config\n"),
        "{legacy}"
    );
    assert!(legacy.contains("path: ./legacy\n"), "{legacy}");
}
