//! Fleets: many clusters in one GitOps repository, run from its root with
//! `--all` (or several `--config`), sharing values through `include`.

use crate::support;

use std::path::{Path, PathBuf};

use support::{World, git, stderr, stdout};

/// A repository with clusters `prod` and `staging` on the test stack,
/// both including `shared/values.yaml`, and a `broken` one.
fn fleet(world: &World) -> PathBuf {
    let stack = world.stack_repo();
    let repo = world.path("fleet");
    std::fs::create_dir_all(repo.join("shared")).unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["config", "user.name", "Test"]);
    git(&repo, &["config", "user.email", "test@example.com"]);
    std::fs::write(
        repo.join("shared/values.yaml"),
        "values:\n  app:\n    greeting: shared\n    color: red\n  gateway:\n    domain: example.com\n",
    )
    .unwrap();
    for (cluster, own) in [("prod", "  app:\n    color: blue\n"), ("staging", "")] {
        let dir = repo.join("clusters").join(cluster);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("cairn.yaml"),
            format!(
                "stack:\n  source: {}\n  version: v0.1.0\n{}include:\n  - ../../shared/values.yaml\nvalues:\n{own}",
                stack.display(),
                support::trusted()
            ),
        )
        .unwrap();
    }
    std::fs::create_dir_all(repo.join("clusters/broken")).unwrap();
    std::fs::write(repo.join("clusters/broken/cairn.yaml"), "stack: [\n").unwrap();
    repo
}

fn run(world: &World, dir: &Path, args: &[&str]) -> std::process::Output {
    world.cairn_in(dir, args).output().unwrap()
}

#[test]
fn a_fleet_generates_together_and_a_broken_cluster_stops_only_itself() {
    let world = World::new();
    let repo = fleet(&world);
    let output = run(&world, &repo, &["generate", "--all", "--commit"]);
    // One cluster failed: exit 2, the others generated and were committed.
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("clusters/prod: stack test-stack v0.1.0")
            && out.contains("clusters/staging:   app: 4 created")
            && out.contains("3 clusters: 2 ok, 0 with findings, 1 failed (clusters/broken)")
            && out.contains("committed"),
        "{out}"
    );
    assert!(
        stderr(&output).contains(
            "clusters/broken: error: ./clusters/broken/cairn.yaml is not a valid cairn.yaml"
        ),
        "{}",
        stderr(&output)
    );
    let log = git(&repo, &["log", "--format=%B", "-1"]);
    assert!(
        log.starts_with("cairn: generate 2 cluster(s)")
            && log.contains("clusters/prod: cairn: generate test-stack v0.1.0")
            && log.contains("clusters/staging: cairn: generate test-stack v0.1.0"),
        "{log}"
    );
    assert_eq!(git(&repo, &["log", "--oneline"]).lines().count(), 1);
    let status = git(&repo, &["status", "--porcelain"]);
    assert!(
        !status.contains("clusters/prod") && !status.contains("clusters/staging"),
        "{status}"
    );

    // Shared values, each cluster's own on top.
    let read = |cluster: &str| {
        std::fs::read_to_string(repo.join(format!("clusters/{cluster}/app/configmap.yaml")))
            .unwrap()
    };
    assert!(read("prod").contains("color: blue") && read("prod").contains("greeting: shared"));
    assert!(
        read("staging").contains("color: red"),
        "{}",
        read("staging")
    );

    // A shared value changes: every cluster including it has a diff.
    std::fs::remove_dir_all(repo.join("clusters/broken")).unwrap();
    let shared = repo.join("shared/values.yaml");
    let text = std::fs::read_to_string(&shared).unwrap();
    std::fs::write(&shared, text.replace("greeting: shared", "greeting: new")).unwrap();
    let output = run(&world, &repo, &["diff", "--all"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("clusters/prod: +  greeting: new")
            && out.contains("clusters/staging: +  greeting: new")
            && out.contains("2 clusters: 0 ok, 2 with findings, 0 failed"),
        "{out}"
    );

    // As JSON, a record per cluster; --config names clusters.
    let output = run(
        &world,
        &repo,
        &[
            "verify",
            "-o",
            "json",
            "--config",
            "clusters/prod/cairn.yaml",
            "--config",
            "clusters/staging/cairn.yaml",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["clusters"][0]["cluster"], "clusters/prod");
    assert_eq!(json["clusters"][0]["status"], "findings");
    assert_eq!(json["clusters"][0]["report"]["values_changed"], true);
    assert_eq!(json["summary"]["clusters"], 2);
}

#[test]
fn includes_stay_inside_the_repository() {
    let world = World::new();
    let repo = fleet(&world);
    std::fs::remove_dir_all(repo.join("clusters/broken")).unwrap();
    let config = repo.join("clusters/prod/cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let outside = world.write("outside.yaml", "values:\n  app: {greeting: stolen}\n");
    for (include, expected) in [
        (outside.display().to_string(), "is outside"),
        ("../../../outside.yaml".to_string(), "is outside"),
        ("../../shared/missing.yaml".to_string(), "does not exist"),
    ] {
        std::fs::write(&config, text.replace("../../shared/values.yaml", &include)).unwrap();
        let output = run(&world, &repo.join("clusters/prod"), &["diff"]);
        assert_eq!(output.status.code(), Some(2), "{include}");
        assert!(
            stderr(&output).contains(&format!("include {include:?} {expected}")),
            "{include}: {}",
            stderr(&output)
        );
    }
    // Nor through a link that leads outside.
    std::os::unix::fs::symlink(&outside, repo.join("shared/link.yaml")).unwrap();
    std::fs::write(&config, text.replace("values.yaml", "link.yaml")).unwrap();
    let output = run(&world, &repo.join("clusters/prod"), &["diff"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("symbolic link"),
        "{}",
        stderr(&output)
    );
}
