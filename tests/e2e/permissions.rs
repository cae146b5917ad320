//! What components may do to the cluster: the permission manifest derived
//! from what they render, what a new release asks for, and `policy:`.

use std::path::{Path, PathBuf};

use crate::support;
use support::{StackEntry, World, git, stderr, stdout};

fn run(world: &World, dir: &Path, args: &[&str]) -> std::process::Output {
    world.cairn_in(dir, args).output().unwrap()
}

#[test]
fn the_reference_stack_shows_what_each_component_may_do() {
    let world = World::new();
    let repo = support::cluster_repo(&world, "  gateway:\n    domain: example.com\n");
    let cluster = repo.join("clusters/demo");
    let shown = run(&world, &cluster, &["show", "metrics"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(
        text.contains(
            "kube-prometheus-stack 88.5.3 from https://prometheus-community.github.io/helm-charts"
        ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&run(
        &world,
        &cluster,
        &["show", "gateway", "-o", "json"],
    )))
    .unwrap();
    let permissions = &json["component"]["permissions"];
    let has = |section: &str, entry: &str| {
        permissions[section]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains(entry))
    };
    assert!(
        has("kinds", "GatewayClass.gateway.networking.k8s.io"),
        "{permissions:#}"
    );
    assert!(
        has("cluster_scoped", "GatewayClass/envoy"),
        "{permissions:#}"
    );
    assert!(has("namespaces", "envoy-gateway-system"), "{permissions:#}");
    assert!(
        has("charts", "oci://docker.io/envoyproxy/gateway-helm"),
        "{permissions:#}"
    );
    assert_eq!(permissions["rbac"], serde_json::json!([]));

    // A policy that keeps components to one namespace stops the others,
    // naming component, file, object and rule.
    let config = cluster.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}policy:\n  namespaces: [monitoring, flux-system]\n"),
    )
    .unwrap();
    let refused = run(&world, &cluster, &["generate"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    assert!(
        err.contains("the policy refuses what components render")
            && err.contains("component \"gateway\", file \"gateway/namespace.yaml\": Namespace/envoy-gateway-system: namespace envoy-gateway-system is not among policy.namespaces"),
        "{err}"
    );
    assert!(!cluster.join("cairn.lock").exists());
}

/// A stack whose v1.0.0 has `app`, and whose v1.1.0 adds `admin`, which
/// asks for cluster-admin and more.
fn stack_adding_admin(world: &World) -> PathBuf {
    let dir = world.path("stack");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    let app = StackEntry {
        name: "app",
        crate_name: "app",
        enabled: true,
    };
    support::write_stack(&dir, &[app], "Just the app.");
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "v1.0.0"]);
    support::release(&dir, "v1.0.0");
    let app = StackEntry {
        name: "app",
        crate_name: "app",
        enabled: true,
    };
    let admin = StackEntry {
        name: "admin",
        crate_name: "admin",
        enabled: true,
    };
    support::write_stack(&dir, &[app, admin], "Adds a node agent.");
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "v1.1.0"]);
    support::release(&dir, "v1.1.0");
    dir
}

#[test]
fn a_release_asking_for_cluster_admin_says_so_and_policy_stops_it() {
    let world = World::new();
    let stack = stack_adding_admin(&world);
    let gitops = world.gitops(&stack, "^1.0.0", "  app:\n    greeting: hi\n");
    // Lock v1.0.0 first.
    let config = gitops.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"^1.0.0\"", "v1.0.0")).unwrap();
    let first = run(&world, &gitops, &["generate"]);
    assert!(first.status.success(), "{}", stderr(&first));

    // The update says what the new release asks for.
    let check = run(&world, &gitops, &["update", "--check"]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let said = stdout(&check);
    for expected in [
        "It asks for more on the cluster than the current version:",
        "  admin:",
        "ClusterRoleBinding/agent-admin binds cluster-admin",
        "ClusterRole/agent-everything grants wildcards",
        "ClusterRole/agent-everything grants impersonate",
        "MutatingWebhookConfiguration/agent-inject",
        "DaemonSet/ops/agent: hostNetwork, hostPID, hostPath /, privileged container agent",
        "registry.example/agent:1.0",
    ] {
        assert!(said.contains(expected), "{expected:?} in:\n{said}");
    }
    let json: serde_json::Value = serde_json::from_str(&stdout(&run(
        &world,
        &gitops,
        &["update", "--check", "-o", "json"],
    )))
    .unwrap();
    assert!(
        json["new_permissions"]["admin"]["rbac"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("binds cluster-admin")),
        "{json:#}"
    );
    assert!(json["new_permissions"].get("app").is_none(), "{json:#}");

    // Taken, then generated; a policy added afterwards: lint reports what
    // is on disk, generate refuses.
    assert!(run(&world, &gitops, &["update"]).status.success());
    let generated = run(&world, &gitops, &["generate"]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}policy:\n  clusterAdmin: false\n  hostAccess: false\n  webhooks: false\n  registries: [docker.io/, nginx]\n"),
    )
    .unwrap();
    let lint = run(&world, &gitops, &["lint"]);
    assert_eq!(lint.status.code(), Some(1), "{}", stderr(&lint));
    let found = stdout(&lint);
    for expected in [
        "component \"admin\", file \"admin/rbac.yaml\": ClusterRoleBinding/agent-admin: binds cluster-admin, which policy.clusterAdmin: false forbids",
        "component \"admin\", file \"admin/webhook.yaml\": MutatingWebhookConfiguration/agent-inject: is an admission webhook",
        "component \"admin\", file \"admin/daemonset.yaml\": DaemonSet/ops/agent: image registry.example/agent:1.0 is from no registry in policy.registries",
        "DaemonSet/ops/agent: runs pods with host access or privileges",
    ] {
        assert!(found.contains(expected), "{expected:?} in:\n{found}");
    }
    assert!(!found.contains("component \"app\""), "{found}");
    let refused = run(&world, &gitops, &["generate"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("ClusterRoleBinding/agent-admin: binds cluster-admin"),
        "{}",
        stderr(&refused)
    );
    // Turning the component off satisfies the policy.
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("  admin:\n    enabled: true\n"), "{text}");
    std::fs::write(
        &config,
        text.replace(
            "  admin:\n    enabled: true\n",
            "  admin:\n    enabled: false\n",
        ),
    )
    .unwrap();
    let ok = run(&world, &gitops, &["generate"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
}
