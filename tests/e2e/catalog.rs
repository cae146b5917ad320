//! Catalogs of stacks: two publishers' catalogs followed, pinned, searched,
//! and their stacks named for a source by `init` and `show`.

use std::path::{Path, PathBuf};

use crate::support;
use support::{World, git, stderr, stdout};

/// A catalog repository listing `entries` (name, source, description,
/// categories), tagged `tag`.
fn publish(dir: &Path, name: &str, entries: &[(&str, &Path, &str, &str)], tag: &str) {
    std::fs::create_dir_all(dir).unwrap();
    if !dir.join(".git").exists() {
        git(dir, &["init", "-q"]);
    }
    let mut text =
        format!("name: {name}\ndescription: Stacks by {name}\npublisher: {name} inc\nstacks:\n");
    for (stack, source, description, categories) in entries {
        text.push_str(&format!(
            "  - name: {stack}\n    source: {}\n    description: {description:?}\n    categories: [{categories}]\n",
            source.display()
        ));
    }
    std::fs::write(dir.join("catalog.yaml"), text).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", tag]);
    support::release(dir, tag);
}

fn run(world: &World, args: &[&str]) -> std::process::Output {
    world.cairn().args(args).output().unwrap()
}

fn ok(world: &World, args: &[&str]) -> String {
    let output = run(world, args);
    assert!(
        output.status.success(),
        "cairn {args:?}:\n{}",
        stderr(&output)
    );
    stdout(&output)
}

fn two_catalogs(world: &World) -> (PathBuf, PathBuf, PathBuf) {
    let stack = world.stack_repo();
    let acme = world.path("catalogs/acme");
    publish(
        &acme,
        "acme",
        &[(
            "platform",
            &stack,
            "Routing and apps, the ACME way",
            "networking, apps",
        )],
        "v1.0.0",
    );
    let community = world.path("catalogs/community");
    publish(
        &community,
        "community",
        &[
            ("platform", &stack, "The community's take", "networking"),
            (
                "observability",
                &stack,
                "Metrics and logs\nfor everyone",
                "observability",
            ),
        ],
        "v2.0.0",
    );
    (stack, acme, community)
}

#[test]
fn stacks_are_found_in_two_catalogs_and_named_for_their_source() {
    let world = World::new();
    let (stack, acme, community) = two_catalogs(&world);
    let added = ok(&world, &["catalog", "add", acme.to_str().unwrap()]);
    assert!(added.contains("following catalog acme"), "{added}");
    assert!(added.contains("at v1.0.0: 1 stack\n"), "{added}");
    ok(
        &world,
        &[
            "catalog",
            "add",
            community.to_str().unwrap(),
            "--version",
            "^2",
        ],
    );

    let listed: serde_json::Value =
        serde_json::from_str(&ok(&world, &["catalog", "list", "-o", "json"])).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "community"]);
    // A catalog's text is someone else's: one line each.
    assert_eq!(
        listed[1]["stacks"][1]["description"],
        "Metrics and logs for everyone"
    );

    // Search across both; by category; nothing found is exit 1.
    let found = ok(&world, &["catalog", "search", "platform"]);
    assert!(
        found.contains("acme/platform") && found.contains("community/platform"),
        "{found}"
    );
    let found = ok(
        &world,
        &["catalog", "search", "--category", "observability"],
    );
    assert!(
        found.contains("community/observability") && !found.contains("platform"),
        "{found}"
    );
    let none = run(&world, &["catalog", "search", "kafka"]);
    assert_eq!(none.status.code(), Some(1));

    // A stack's name stands for its source; two catalogs listing one name
    // must be told apart.
    let ambiguous = run(&world, &["init", "platform", "--path", "c0"]);
    assert_eq!(ambiguous.status.code(), Some(2));
    assert!(
        stderr(&ambiguous).contains("say which, as acme/platform or community/platform"),
        "{}",
        stderr(&ambiguous)
    );
    ok(
        &world,
        &[
            "init",
            "acme/platform",
            "--path",
            "c1",
            "--version",
            "v0.1.0",
        ],
    );
    let config = std::fs::read_to_string(world.path("c1/cairn.yaml")).unwrap();
    assert!(
        config.contains(&format!("source: {}", stack.display())),
        "{config}"
    );
    let shown = ok(&world, &["show", "--stack", "community/observability"]);
    assert!(shown.contains("stack test-stack v0.2.0"), "{shown}");

    // Pinned: a new release is taken only by `catalog update`, and a tag
    // moved under a pinned version is refused.
    publish(
        &acme,
        "acme",
        &[
            (
                "platform",
                &stack,
                "Routing and apps, the ACME way",
                "networking",
            ),
            ("edge", &stack, "Edge clusters", "networking"),
        ],
        "v1.1.0",
    );
    assert!(!ok(&world, &["catalog", "list"]).contains("edge"));
    let moved = ok(&world, &["catalog", "update", "acme"]);
    assert!(moved.contains("acme: v1.0.0 -> v1.1.0"), "{moved}");
    assert!(ok(&world, &["catalog", "list"]).contains("Edge clusters"));
    git(&acme, &["commit", "-q", "--allow-empty", "-m", "moved"]);
    git(&acme, &["tag", "-f", "v1.1.0"]);
    let refused = run(&world, &["catalog", "update"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("tampering?"),
        "{}",
        stderr(&refused)
    );

    ok(&world, &["catalog", "remove", "community"]);
    let listed = ok(&world, &["catalog", "list"]);
    assert!(!listed.contains("community"), "{listed}");
}

#[test]
fn a_hostile_catalog_is_refused_and_the_shipped_one_reads() {
    let world = World::new();
    let hostile = world.path("catalogs/hostile");
    std::fs::create_dir_all(&hostile).unwrap();
    git(&hostile, &["init", "-q"]);
    std::fs::write(
        hostile.join("catalog.yaml"),
        "name: evil\nstacks:\n  - &a {name: x, source: /s}\n  - *a\n",
    )
    .unwrap();
    git(&hostile, &["add", "-A"]);
    git(&hostile, &["commit", "-qm", "v1"]);
    git(&hostile, &["tag", "v1.0.0"]);
    let refused = run(&world, &["catalog", "add", hostile.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("is not a valid catalog.yaml"),
        "{}",
        stderr(&refused)
    );
    assert!(!world.config_dir().join("cairn/catalogs.yaml").exists());

    // The catalog this repository ships, beside the built reference stack.
    let shipped = support::reference_stack().parent().unwrap().to_path_buf();
    ok(&world, &["catalog", "add", shipped.to_str().unwrap()]);
    let shown = ok(&world, &["show", "--stack", "reference"]);
    assert!(shown.contains("stack reference"), "{shown}");
    assert!(shown.contains("gateway"), "{shown}");
}
