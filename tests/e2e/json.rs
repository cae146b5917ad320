//! `-o json` of every command that reports something, parsed as a program
//! would: one JSON document on stdout, the same exit status as text, and
//! errors as `{"error": {"kind", "message", ...}}`.

use crate::support;

use std::path::Path;

use serde_json::Value;
use support::{World, stderr, stdout};

const VALUES: &str = "  app:\n    greeting: hi\n  gateway:\n    domain: example.com\n";

/// Runs `cairn -o json ARGS` in `dir`, checks the exit status, and parses
/// stdout.
fn json(world: &World, dir: &Path, args: &[&str], status: i32) -> Value {
    let output = world
        .cairn_in(dir, &["-o", "json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(status),
        "cairn {args:?}:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("cairn {args:?}: not JSON ({e}):\n{}", stdout(&output)))
}

#[test]
fn the_lifecycle_reports_as_json() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);

    let diff = json(&world, &gitops, &["diff"], 1);
    assert_eq!(diff["stack"], "test-stack");
    assert!(
        diff["components"]["app"]["created"].as_u64().unwrap() > 0,
        "{diff}"
    );
    assert!(
        diff["patch"].as_str().unwrap().contains("+++ app/"),
        "{diff}"
    );
    assert_eq!(diff["wrote"], false);

    let generate = json(&world, &gitops, &["generate"], 0);
    assert_eq!(generate["wrote"], true);
    assert_eq!(generate["to"], "v0.1.0");
    let changes = generate["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["path"] == "app/configmap.yaml" && c["action"] == "create"),
        "{generate}"
    );
    // The order Flux applies the layers in.
    assert!(
        !generate["order"].as_array().unwrap().is_empty(),
        "{generate}"
    );

    let diff = json(&world, &gitops, &["diff"], 0);
    assert_eq!(diff["changes"], Value::Array(vec![]));

    let verify = json(&world, &gitops, &["verify"], 0);
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["edited"], Value::Array(vec![]));

    let lint = json(&world, &gitops, &["lint"], 0);
    assert_eq!(lint["ok"], true, "{lint}");
    assert!(lint["objects"].as_u64().unwrap() > 0);

    let status = json(&world, &gitops, &["status"], 0);
    assert_eq!(status["locked"], "v0.1.0");
    assert_eq!(status["components"][0]["name"], "app");
    assert_eq!(status["components"][0]["enabled"], true);

    // A hand edit is drift: verify says so in JSON too, with exit 1.
    let configmap = gitops.join("app/configmap.yaml");
    let text = std::fs::read_to_string(&configmap).unwrap();
    std::fs::write(&configmap, format!("{text}# mine\n")).unwrap();
    let verify = json(&world, &gitops, &["verify"], 1);
    assert_eq!(verify["ok"], false);
    assert_eq!(verify["edited"][0], "app/configmap.yaml");

    let update = json(&world, &gitops, &["update"], 0);
    assert_eq!(update["status"], "updated");
    assert_eq!(update["requirement"], "v0.2.0");
}

#[test]
fn errors_are_json_with_a_kind_to_branch_on() {
    let world = World::new();
    let stack = world.stack_repo();
    let gitops = world.gitops(&stack, "v0.1.0", VALUES);
    world.cairn_in(&gitops, &["generate"]).assert().success();
    // An edit the update changes too: a conflict, nothing written.
    let configmap = gitops.join("app/configmap.yaml");
    let edited = std::fs::read_to_string(&configmap)
        .unwrap()
        .replace("release: '1'", "release: mine");
    std::fs::write(&configmap, &edited).unwrap();
    world.cairn_in(&gitops, &["update"]).assert().success();

    let error = json(&world, &gitops, &["generate"], 2);
    let error = &error["error"];
    assert_eq!(error["kind"], "conflicts", "{error}");
    assert_eq!(error["conflicts"][0]["path"], "app/configmap.yaml");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("conflicts; nothing was written"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&configmap).unwrap(), edited);

    // Invalid values name the component.
    std::fs::write(&configmap, edited.replace("release: mine", "release: '1'")).unwrap();
    let config = gitops.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("greeting: hi", "greeting: 7")).unwrap();
    let error = json(&world, &gitops, &["diff"], 2);
    assert_eq!(error["error"]["kind"], "values", "{error}");
    assert_eq!(error["error"]["components"][0], "app", "{error}");

    // Anything else is kind `error`, with the message text shows.
    let elsewhere = world.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let error = json(&world, &elsewhere, &["status"], 2);
    assert_eq!(error["error"]["kind"], "error", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cairn.yaml"),
        "{error}"
    );
}

#[test]
fn inspect_render_and_bootstrap_report_as_json() {
    let world = World::new();
    let gateway = support::wasm("gateway");
    let inspect = json(
        &world,
        world.dir.path(),
        &["inspect", gateway.to_str().unwrap()],
        0,
    );
    assert_eq!(inspect["name"], "gateway");
    assert!(
        inspect["configSchema"]["properties"].is_object(),
        "{inspect}"
    );
    assert!(
        inspect["crdGroups"]
            .as_array()
            .unwrap()
            .contains(&Value::from("gateway.networking.k8s.io")),
        "{inspect}"
    );

    let out = world.path("out");
    let render = json(
        &world,
        world.dir.path(),
        &[
            "render",
            "--out",
            out.to_str().unwrap(),
            gateway.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(render["components"][0]["name"], "gateway");
    assert!(render["files"].as_u64().unwrap() > 1, "{render}");

    // bootstrap: the report, and never the private keys.
    let dir = support::cluster_repo(&world, "");
    let known_hosts = world.path("known_hosts");
    let manifests = support::root().join("tests/fixtures/flux/install.yaml");
    let args = [
        "bootstrap",
        "--cluster",
        "demo",
        "--url",
        "ssh://git@github.com/acme/fleet.git",
        "--known-hosts",
        known_hosts.to_str().unwrap(),
        "--flux-manifests",
        manifests.to_str().unwrap(),
    ];
    let output = world
        .cairn_in(&dir, &["-o", "json"])
        .args(args)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let bootstrap: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(bootstrap["cluster"], "demo");
    assert_eq!(bootstrap["flux_version"], "2.9.4");
    assert!(
        bootstrap["deploy_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 "),
        "{bootstrap}"
    );
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("AGE-SECRET-KEY"),
        "{text}"
    );

    // --print-secrets owns stdout, so it cannot share it with JSON.
    let output = world
        .cairn_in(&dir, &["-o", "json"])
        .args(args)
        .arg("--print-secrets")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--print-secrets"),
        "{error}"
    );
}
