//! The first month of a team living with a stack: commits that follow
//! prunes, updates that add and remove components, hand edits that stay,
//! rollbacks, and a repo holding two clusters.

use crate::support;

use std::path::{Path, PathBuf};

use support::{World, git, stderr, stdout};

const VALUES: &str = "  app:\n    greeting: hi\n  gateway:\n    domain: example.com\n";

fn run(world: &World, dir: &Path, args: &[&str]) -> std::process::Output {
    world.cairn_in(dir, args).output().unwrap()
}

fn ok(world: &World, dir: &Path, args: &[&str]) -> String {
    let output = run(world, dir, args);
    assert!(
        output.status.success(),
        "cairn {args:?}:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

fn write_config(path: &Path, stack: &Path, version: &str, values: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!(
            "stack:\n  source: {}\n  version: \"{version}\"\n{}values:\n{values}",
            stack.display(),
            support::trusted()
        ),
    )
    .unwrap();
}

/// A GitOps repository holding two clusters, prod and staging, on the
/// test stack at v0.1.0, both generated and committed.
fn two_clusters(world: &World) -> (PathBuf, PathBuf) {
    let stack = world.stack_repo();
    let repo = world.path("fleet");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["config", "user.name", "Test"]);
    git(&repo, &["config", "user.email", "test@example.com"]);
    for cluster in ["prod", "staging"] {
        let config = repo.join(format!("clusters/{cluster}/cairn.yaml"));
        write_config(&config, &stack, "v0.1.0", VALUES);
        ok(
            world,
            &repo,
            &["generate", "--commit", "--config", config.to_str().unwrap()],
        );
    }
    (stack, repo)
}

#[test]
fn a_commit_follows_a_prune_from_the_cluster_and_from_the_repo_root() {
    let world = World::new();
    let (_, repo) = two_clusters(&world);
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    // Turning a component off prunes its directory; the commit records it,
    // run from the cluster's directory...
    let prod = repo.join("clusters/prod");
    let config = prod.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("  gateway:\n", "  gateway:\n    enabled: false\n"),
    )
    .unwrap();
    let out = ok(&world, &prod, &["generate", "--commit"]);
    assert!(out.contains("committed"), "{out}");
    assert!(!prod.join("gateway").exists());
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert!(git(&repo, &["show", "--stat", "HEAD"]).contains("clusters/prod/gateway/"));

    // ...and from the repository's root, naming the cluster's cairn.yaml.
    let config = repo.join("clusters/staging/cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("  gateway:\n", "  gateway:\n    enabled: false\n"),
    )
    .unwrap();
    ok(
        &world,
        &repo,
        &[
            "generate",
            "--commit",
            "--config",
            "clusters/staging/cairn.yaml",
        ],
    );
    assert!(!repo.join("clusters/staging/gateway").exists());
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn a_generate_left_uncommitted_is_committed_by_the_next_commit() {
    let world = World::new();
    let (_, repo) = two_clusters(&world);
    let prod = repo.join("clusters/prod");
    let config = prod.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("  gateway:\n", "  gateway:\n    enabled: false\n"),
    )
    .unwrap();
    // Written, not committed (a failed commit leaves the same state).
    ok(&world, &prod, &["generate"]);
    assert!(!git(&repo, &["status", "--porcelain"]).is_empty());

    let out = ok(&world, &prod, &["generate", "--commit"]);
    assert!(
        out.contains("nothing to change") && out.contains("committed"),
        "{out}"
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    let log = git(&repo, &["log", "-1", "--format=%B"]);
    assert!(
        log.starts_with("cairn: record test-stack v0.1.0 as generated"),
        "{log}"
    );
    assert!(git(&repo, &["show", "--stat", "HEAD"]).contains("clusters/prod/gateway/"));

    // With everything committed, --commit makes no empty commit.
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let out = ok(&world, &prod, &["generate", "--commit"]);
    assert!(!out.contains("committed"), "{out}");
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
}

/// A stack whose releases move as a real one does: v1.0.0 (app,
/// sealed-secrets), v1.1.0 drops sealed-secrets and adds metrics, v1.2.0
/// ships app release 2 with a new default color.
fn team_stack(world: &World) -> PathBuf {
    use support::StackEntry;
    let dir = world.path("team");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    let entry = |name, crate_name| StackEntry {
        name,
        crate_name,
        enabled: true,
    };
    let releases = [
        (
            "v1.0.0",
            vec![
                entry("app", "app"),
                entry("sealed-secrets", "sealed-secrets"),
            ],
            "First release.",
        ),
        (
            "v1.1.0",
            vec![entry("app", "app"), entry("metrics", "metrics")],
            "Drops sealed-secrets; adds metrics.",
        ),
        (
            "v1.2.0",
            vec![entry("app", "app-v2"), entry("metrics", "metrics")],
            "App 2: green by default.",
        ),
    ];
    for (tag, entries, changelog) in releases {
        support::write_stack(&dir, &entries, changelog);
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", tag]);
        support::release(&dir, tag);
    }
    dir
}

/// A GitOps repo on `stack` at `version`, generated and committed.
fn team_repo(world: &World, stack: &Path, version: &str, values: &str) -> PathBuf {
    let dir = world.gitops(stack, version, values);
    ok(world, &dir, &["generate", "--commit"]);
    dir
}

const TEAM: &str = "  app:\n    greeting: hi\n  sealed-secrets:\n    enabled: true\n";

#[test]
fn an_update_adds_and_removes_component_blocks_and_check_says_so() {
    let world = World::new();
    let stack = team_stack(&world);
    let gitops = team_repo(&world, &stack, "v1.0.0", TEAM);

    // --check tells what the newest release adds and removes, changes
    // nothing, and exits 1: there is an update.
    let before = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    let output = run(&world, &gitops, &["update", "--check"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    for expected in [
        "+ component metrics",
        "- component sealed-secrets",
        "values.sealed-secrets would be commented out: v1.2.0 has no component sealed-secrets",
        "values.metrics would be added",
        "v1.2.0 is available; `cairn update --to v1.2.0` moves cairn.yaml to it",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    assert_eq!(
        std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap(),
        before
    );

    let out = ok(&world, &gitops, &["update", "--to", "v1.1.0"]);
    assert!(
        out.contains("values.metrics added with its options commented out"),
        "{out}"
    );
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    assert!(
        config.contains("  # sealed-secrets:\n  #   enabled: true\n")
            && config.contains("  metrics:\n    enabled: true\n    # alertmanager (boolean)")
            && config.contains("version: v1.1.0")
            && config.contains("  app:\n    greeting: hi\n"),
        "{config}"
    );
    let out = ok(&world, &gitops, &["generate"]);
    assert!(
        out.contains("+ component metrics") && out.contains("- component sealed-secrets"),
        "{out}"
    );
    assert!(gitops.join("metrics").is_dir() && !gitops.join("sealed-secrets").exists());
}

#[test]
fn values_for_a_component_a_release_removed_say_so() {
    let world = World::new();
    let stack = team_stack(&world);
    let gitops = team_repo(&world, &stack, "v1.0.0", TEAM);
    // The version moved by hand, the block left in place.
    let config = gitops.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("v1.0.0", "v1.1.0")).unwrap();
    let output = run(&world, &gitops, &["generate"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("values.sealed-secrets: stack test-stack at v1.1.0 has no component \"sealed-secrets\"; it was in v1.0.0, which cairn.lock records, so this release removed it"),
        "{err}"
    );
}

#[test]
fn rolling_back_moves_to_the_older_release_and_says_what_is_undone() {
    let world = World::new();
    let stack = team_stack(&world);
    let gitops = team_repo(&world, &stack, "v1.0.0", TEAM);
    ok(&world, &gitops, &["update"]);
    ok(&world, &gitops, &["generate"]);
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(lock.contains("tag: v1.2.0"), "{lock}");

    let out = ok(&world, &gitops, &["update", "--to", "1.0.0"]);
    assert!(out.contains("rolling back to v1.0.0, undoing:"), "{out}");
    let undone = out.find("v1.2.0").unwrap() < out.find("v1.1.0").unwrap();
    assert!(undone && out.contains("App 2: green by default."), "{out}");
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    assert!(config.contains("version: v1.0.0"), "{config}");
    let out = ok(&world, &gitops, &["generate"]);
    assert!(out.contains("stack test-stack: v1.2.0 -> v1.0.0"), "{out}");
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(lock.contains("tag: v1.0.0"), "{lock}");

    // On the oldest release, --check finds an update (exit 1); a version
    // that does not exist is an error (exit 2), with or without --check.
    assert_eq!(
        run(&world, &gitops, &["update", "--check"]).status.code(),
        Some(1)
    );
    let output = run(&world, &gitops, &["update", "--check", "--to", "9.9.9"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("has no version 9.9.9; its versions are: v1.0.0, v1.1.0, v1.2.0"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_same_object_from_two_components_is_refused_naming_both() {
    use support::StackEntry;
    let world = World::new();
    let dir = world.path("twice");
    std::fs::create_dir_all(&dir).unwrap();
    support::write_stack(
        &dir,
        &[
            StackEntry {
                name: "app",
                crate_name: "app",
                enabled: true,
            },
            StackEntry {
                name: "copy",
                crate_name: "app",
                enabled: true,
            },
        ],
        "",
    );
    let gitops = world.path("gitops");
    std::fs::create_dir_all(&gitops).unwrap();
    std::fs::write(
        gitops.join("cairn.yaml"),
        format!("stack:\n  source: {}\n", dir.display()),
    )
    .unwrap();
    for command in ["generate", "lint"] {
        let output = run(&world, &gitops, &[command]);
        assert_eq!(output.status.code(), Some(2), "{command}");
        let err = stderr(&output);
        assert!(
            err.contains("component \"copy\", file \"namespace.yaml\": Namespace/apps is also rendered by component \"app\" (\"app/namespace.yaml\")"),
            "{command}: {err}"
        );
    }
    assert!(!gitops.join("cairn.lock").exists());
}

#[test]
fn lint_checks_what_is_on_disk_hand_edits_and_your_own_files_included() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    ok(&world, &gitops, &["generate"]);
    let schemas = support::shared_schemas();
    let schemas = schemas.to_str().unwrap();
    let out = ok(&world, &gitops, &["lint", "--schemas", schemas]);
    assert!(out.contains(", 0 problems"), "{out}");

    // A hand edit Flux's CRD refuses, and a file of your own.
    let release = gitops.join("gateway/helmrelease.yaml");
    let text = std::fs::read_to_string(&release).unwrap();
    std::fs::write(&release, text.replace("interval: 30m", "interval: banana")).unwrap();
    std::fs::create_dir_all(gitops.join("local")).unwrap();
    std::fs::write(
        gitops.join("local/sync.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: extra\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./extra\n  prune: maybe\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    )
    .unwrap();
    let output = run(&world, &gitops, &["lint", "--schemas", schemas]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains(
            "gateway/helmrelease.yaml: HelmRelease/envoy-gateway: spec.interval: \"banana\""
        ) && out.contains("local/sync.yaml: Kustomization/extra: spec.prune: \"maybe\""),
        "{out}"
    );
}

#[test]
fn verify_accepts_the_hand_edits_generate_kept_and_fails_on_new_ones() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    ok(&world, &gitops, &["generate"]);
    let configmap = gitops.join("app/configmap.yaml");
    let text = std::fs::read_to_string(&configmap).unwrap();
    std::fs::write(&configmap, text.replace("greeting: hi", "greeting: mine")).unwrap();
    // Not seen by generate yet: verify fails.
    assert_eq!(run(&world, &gitops, &["verify"]).status.code(), Some(1));
    let out = ok(&world, &gitops, &["generate"]);
    assert!(
        out.contains("kept your edits to app/configmap.yaml"),
        "{out}"
    );
    let out = ok(&world, &gitops, &["verify"]);
    assert!(
        out.contains("hold hand edits the last generate kept: app/configmap.yaml")
            && out.contains("the repo matches cairn.lock"),
        "{out}"
    );
    // An edit made since: verify fails again, naming it.
    let text = std::fs::read_to_string(&configmap).unwrap();
    std::fs::write(
        &configmap,
        text.replace("greeting: mine", "greeting: later"),
    )
    .unwrap();
    let output = run(&world, &gitops, &["verify"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("edited: app/configmap.yaml"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn force_takes_the_new_render_for_conflicting_fields_only() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    ok(&world, &gitops, &["generate"]);
    let configmap = gitops.join("app/configmap.yaml");
    let text = std::fs::read_to_string(&configmap).unwrap();
    std::fs::write(
        &configmap,
        text.replace("release: '1'", "release: mine")
            .replace("greeting: hi", "greeting: mine"),
    )
    .unwrap();
    ok(&world, &gitops, &["update"]);
    let output = run(&world, &gitops, &["generate"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("data.release (was \"1\", yours \"mine\", new render \"2\")")
            && err.contains("`cairn show COMPONENT`")
            && err.contains("--force to take the new render for these fields only"),
        "{err}"
    );
    let output = run(&world, &gitops, &["generate", "--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--force took the new render over your edit: app/configmap.yaml: ConfigMap/apps/app-settings (v1): data.release"),
        "{}",
        stderr(&output)
    );
    let merged = std::fs::read_to_string(&configmap).unwrap();
    assert!(
        merged.contains("release: '2'") && merged.contains("greeting: mine"),
        "{merged}"
    );
}

#[test]
fn your_own_directory_is_applied_last_and_never_touched() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    std::fs::create_dir_all(gitops.join("local")).unwrap();
    let mine = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n  namespace: apps\ndata:\n  a: b\n";
    std::fs::write(gitops.join("local/mine.yaml"), mine).unwrap();
    ok(&world, &gitops, &["generate"]);
    let layers = std::fs::read_to_string(gitops.join("layers.yaml")).unwrap();
    let local = layers
        .split("---\n")
        .find(|d| d.contains("  name: local\n"))
        .unwrap_or_else(|| panic!("no local layer in:\n{layers}"));
    assert!(
        local.contains("path: ./local")
            && local.contains("- name: app")
            && local.contains("- name: gateway-config"),
        "{local}"
    );
    ok(&world, &gitops, &["update"]);
    ok(&world, &gitops, &["generate", "--force"]);
    assert_eq!(
        std::fs::read_to_string(gitops.join("local/mine.yaml")).unwrap(),
        mine
    );
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(!lock.contains("local/"), "{lock}");
}

#[test]
fn init_into_an_unreachable_source_fails_clearly_and_leaves_nothing() {
    let world = World::new();
    let target = world.path("new/cluster");
    let output = world
        .cairn()
        .args(["init", "ssh://git@127.0.0.1:9/acme/nope.git", "--path"])
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot clone stack source ssh://git@127.0.0.1:9/acme/nope.git"),
        "{}",
        stderr(&output)
    );
    assert!(
        !world.path("new").exists(),
        "init left its directory behind"
    );
}

#[test]
fn options_are_documented_in_cairn_yaml_and_shown_by_show() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.path("gitops");
    ok(
        &world,
        world.dir.path(),
        &[
            "init",
            stack.to_str().unwrap(),
            "--version",
            "^0.1",
            "--path",
            gitops.to_str().unwrap(),
        ],
    );
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    assert!(
        config.starts_with("# yaml-language-server: $schema=cairn.schema.json\n")
            && config.contains("    # color (string): ")
            && config.contains("    # color: blue\n"),
        "{config}"
    );
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gitops.join("cairn.schema.json")).unwrap())
            .unwrap();
    assert!(
        schema["properties"]["values"]["properties"]["app"]["properties"]["color"].is_object(),
        "{schema}"
    );

    let out = ok(&world, &gitops, &["show"]);
    assert!(
        out.contains("on  app") && out.contains("on  gateway"),
        "{out}"
    );
    let out = ok(&world, &gitops, &["show", "app"]);
    assert!(
        out.contains("Options, under values.app in cairn.yaml:")
            && out.contains("  color  (string, default \"blue\")"),
        "{out}"
    );
    let out = ok(
        &world,
        world.dir.path(),
        &["show", "gateway", "--stack", stack.to_str().unwrap()],
    );
    assert!(
        out.contains("Provides facts:") && out.contains("gateway.name"),
        "{out}"
    );
    let output = run(&world, &gitops, &["show", "gatway"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("(did you mean \"gateway\"?)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn value_errors_come_all_at_once_with_lines_and_likely_typos() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(
        &stack,
        "v0.1.0",
        "  app:\n    greeting: hi\n    colr: red\n  gatewya:\n    domain: x\n  gateway:\n    replicas: 2\n",
    );
    let output = run(&world, &gitops, &["generate"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for expected in [
        // (cairn.yaml's stack takes 6 lines: source, version, signers.)
        "line 10: values.gatewya: stack test-stack has no component \"gatewya\" (did you mean \"gateway\"?)",
        "line 9: values.app.colr: unknown option (did you mean \"color\"?)",
        "line 13: values.gateway.replicas: unknown option",
    ] {
        assert!(err.contains(expected), "{expected:?} in:\n{err}");
    }

    let config = gitops.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let quoted = text
        .replace("    colr: red\n", "    enabled: \"false\"\n")
        .replace("  gatewya:\n    domain: x\n", "")
        .replace("    replicas: 2\n", "    enabled: \"false\"\n");
    std::fs::write(&config, quoted).unwrap();
    let err = stderr(&run(&world, &gitops, &["generate"]));
    assert!(
        err.contains("values.app.enabled must be true or false, not \"false\"")
            && err.contains("values.gateway.enabled must be true or false"),
        "{err}"
    );
}

#[test]
fn pruning_a_namespace_warns_what_flux_will_delete() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    ok(&world, &gitops, &["generate"]);
    let config = gitops.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("  app:\n", "  app:\n    enabled: false\n"),
    )
    .unwrap();
    for command in ["diff", "generate"] {
        let output = run(&world, &gitops, &[command]);
        assert!(
            stderr(&output).contains("app/namespace.yaml is pruned: Flux deletes Namespace/apps from the cluster and with it everything in that namespace, PersistentVolumeClaims and their volumes included"),
            "{command}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_cairn_quietly() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    // `cairn diff | head -0`: the pipe is closed before cairn writes.
    let mut child = world
        .cairn_process(&gitops, &["diff"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
}

#[test]
fn an_update_documents_the_options_a_release_adds() {
    let world = World::new();
    let dir = world.path("stack");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    // Release 2 of `web` is another build with another option (`image`).
    for (tag, crate_name) in [("v1.0.0", "app"), ("v2.0.0", "admin")] {
        support::write_stack(
            &dir,
            &[support::StackEntry {
                name: "web",
                crate_name,
                enabled: true,
            }],
            tag,
        );
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", tag]);
        support::release(&dir, tag);
    }
    let gitops = world.gitops(&dir, "v1.0.0", "  web:\n    greeting: hi # mine\n");
    let check = run(&world, &gitops, &["update", "--check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check)
            .contains("values.web: new options would be documented (commented out): image"),
        "{}",
        stdout(&check)
    );
    let update = run(&world, &gitops, &["update"]);
    assert!(update.status.success(), "{}", stderr(&update));
    assert!(
        stdout(&update).contains("values.web: new options documented (commented out): image"),
        "{}",
        stdout(&update)
    );
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    assert!(
        config.contains("  web:\n    greeting: hi # mine\n    # image (string or null): The agent's image.\n    # image: null\n"),
        "{config}"
    );
}
