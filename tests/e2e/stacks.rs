//! A cluster taking components from two published stacks: names kept
//! unique with an alias, facts flowing across stacks, each stack locked,
//! verified and updated on its own.

use std::path::{Path, PathBuf};

use crate::support;
use support::{StackEntry, World, git, read_tree, stderr, stdout};

/// A second publisher's stack, `observability`: its own `app` (a name the
/// first stack uses too) and cert-manager, which reads the first stack's
/// gateway facts. Tags v1.0.0 and v1.1.0.
fn observability_repo(world: &World) -> PathBuf {
    let dir = world.path("observability");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    let entries = [
        StackEntry {
            name: "app",
            crate_name: "app-v2",
            enabled: true,
        },
        StackEntry {
            name: "cert-manager",
            crate_name: "cert-manager",
            enabled: true,
        },
    ];
    for (tag, changelog) in [("v1.0.0", "First release."), ("v1.1.0", "Second release.")] {
        support::write_named_stack(&dir, "observability", &entries, changelog);
        std::fs::write(dir.join("RELEASE"), tag).unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", tag]);
        support::release(&dir, tag);
    }
    dir
}

/// A cluster on the test stack at v0.1.0 and `observability` at v1.0.0;
/// `app` is the first stack's, off (both stacks' apps render the same
/// objects, which only one component may).
fn cluster(world: &World, alias: &str) -> (PathBuf, PathBuf) {
    let main = world.stack_repo();
    let other = observability_repo(world);
    let dir = world.gitops(
        &main,
        "v0.1.0",
        "  app:\n    enabled: false\n  gateway:\n    domain: example.com\n  cert-manager:\n    issuer:\n      email: ops@example.com\n",
    );
    let config = dir.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "values:\n",
        &format!(
            "stacks:\n  - source: {}\n    version: v1.0.0\n    signers:\n      - {}\n{alias}values:\n",
            other.display(),
            support::release_key().1
        ),
    );
    std::fs::write(&config, text).unwrap();
    (dir, other)
}

fn run(world: &World, dir: &Path, args: &[&str]) -> std::process::Output {
    world.cairn_in(dir, args).output().unwrap()
}

#[test]
fn two_stacks_with_one_name_need_an_alias() {
    let world = World::new();
    let (dir, other) = cluster(&world, "");
    let output = run(&world, &dir, &["generate"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "component \"app\" of stack observability ({}) has the name of a component of the main stack test-stack",
            other.display()
        )) && err.contains("alias: {app: observability-app}"),
        "{err}"
    );
    assert!(!dir.join("cairn.lock").exists());
}

#[test]
fn a_cluster_combines_components_of_two_stacks() {
    let world = World::new();
    let (dir, other) = cluster(&world, "    alias:\n      app: obs-app\n");
    let output = run(&world, &dir, &["generate"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let tree = read_tree(&dir);
    assert!(!tree.contains_key("app/kustomization.yaml"));
    assert!(tree.contains_key("obs-app/kustomization.yaml"));
    assert!(tree.contains_key("gateway/kustomization.yaml"));
    // Facts flow across stacks: the second stack's cert-manager solves
    // through the first stack's Gateway.
    let issuer = &tree["cert-manager/config/clusterissuer.yaml"];
    assert!(issuer.contains("gatewayHTTPRoute"), "{issuer}");

    // Each stack is locked; each component says where it came from.
    let lock = &tree["cairn.lock"];
    let other_source = other.display().to_string();
    assert!(lock.contains("stacks:\n- name: observability\n"), "{lock}");
    assert!(lock.contains("tag: v1.0.0"), "{lock}");
    assert!(lock.contains("alias:\n    app: obs-app"), "{lock}");
    assert!(lock.contains("obs-app:\n    version: 0.2.0\n"), "{lock}");
    assert!(lock.contains(&format!("stack: {other_source}")), "{lock}");

    let verify = run(&world, &dir, &["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    let status = stdout(&run(&world, &dir, &["status"]));
    assert!(
        status.contains(&format!(
            "also:       observability ({other_source}), requires v1.0.0, locked v1.0.0"
        )),
        "{status}"
    );
    assert!(
        status.contains(&format!("on  obs-app (from {other_source})")),
        "{status}"
    );
    assert!(status.contains("off app\n"), "{status}");

    // The main stack's update leaves the other alone; --stack moves it.
    let check = run(
        &world,
        &dir,
        &["update", "--check", "--stack", "observability"],
    );
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert!(stdout(&check).contains("v1.1.0"), "{}", stdout(&check));
    let update = run(&world, &dir, &["update", "--stack", "observability"]);
    assert!(update.status.success(), "{}", stderr(&update));
    let config = std::fs::read_to_string(dir.join("cairn.yaml")).unwrap();
    assert!(config.contains("    version: v1.1.0\n"), "{config}");
    assert!(config.contains("  version: \"v0.1.0\"\n"), "{config}");
    let output = run(&world, &dir, &["generate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lock = std::fs::read_to_string(dir.join("cairn.lock")).unwrap();
    assert!(lock.contains("tag: v1.1.0"), "{lock}");
    let verify = run(&world, &dir, &["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));

    // Its publisher's new key is trusted for that stack only, explicitly.
    let (key, _) = support::keygen(&world, "observability-2026");
    support::write_named_stack(
        &other,
        "observability",
        &[StackEntry {
            name: "app",
            crate_name: "app-v2",
            enabled: true,
        }],
        "Third release, new key.",
    );
    git(&other, &["add", "-A"]);
    git(&other, &["commit", "-qm", "v1.2.0"]);
    support::release_signed_by(&other, "v1.2.0", &key);
    let refused = run(&world, &dir, &["update", "--stack", "observability"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    let fingerprint = err
        .split("`cairn trust ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    let trust = run(
        &world,
        &dir,
        &["trust", &fingerprint, "--stack", "observability"],
    );
    assert!(trust.status.success(), "{}", stderr(&trust));
    let config = std::fs::read_to_string(dir.join("cairn.yaml")).unwrap();
    assert_eq!(config.matches("ssh-ed25519").count(), 3, "{config}");
    let update = run(&world, &dir, &["update", "--stack", "observability"]);
    assert!(update.status.success(), "{}", stderr(&update));

    let unknown = run(&world, &dir, &["update", "--stack", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains(&format!(
            "its other stacks are: observability ({other_source})"
        )),
        "{}",
        stderr(&unknown)
    );
}
