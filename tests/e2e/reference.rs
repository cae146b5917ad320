//! The reference stack, as users get it: rendered for two value sets and
//! checked with independent tools (kubectl's kustomize, kubernetes-validate,
//! the real Flux, cert-manager, Gateway API and Envoy Gateway CRDs), for
//! convergence from an empty cluster, and golden-tested.

use crate::support;

use std::path::PathBuf;

use support::{World, read_tree, stderr, stdout};

const MINIMAL: &str = r#"  cert-manager:
    issuer:
      email: ops@example.com
"#;

const EVERYTHING: &str = r#"  gateway:
    domain: example.com
  cert-manager:
    issuer:
      email: ops@example.com
  metrics:
    retention: 30d
    storageSize: 100Gi
  logs:
    retention: 336h
  grafana:
    dashboards:
      team: '{"title": "Team", "panels": []}'
  flux-sync:
    enabled: true
    url: ssh://git@github.com/acme/fleet.git
    path: ./clusters/prod
  oauth2-proxy:
    enabled: true
    provider: oidc
    oidcIssuerUrl: https://login.example.com
  namespaces:
    namespaces:
      - name: shop
        labels: {team: checkout}
        quota: {cpu: "8", memory: 16Gi, pods: 50}
      - name: data
        isolate: false
"#;

/// A GitOps repo generated from the reference stack with `values`.
fn generate(world: &World, values: &str) -> PathBuf {
    let gitops = world.path("gitops");
    std::fs::create_dir_all(&gitops).unwrap();
    std::fs::write(
        gitops.join("cairn.yaml"),
        format!(
            "stack:\n  source: {}\nvalues:\n{values}",
            support::reference_stack().display()
        ),
    )
    .unwrap();
    let output = world.cairn_in(&gitops, &["generate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    gitops
}

#[test]
fn minimal_values_render_the_golden_tree() {
    let world = World::new();
    let gitops = generate(&world, MINIMAL);
    let tree = read_tree(&gitops);
    // Off by default: flux-sync needs a URL, oauth2-proxy an identity provider.
    assert!(
        !tree
            .keys()
            .any(|p| p.starts_with("flux-sync/") || p.starts_with("oauth2-proxy/"))
    );
    // No domain: Grafana is not exposed, and has datasources for both.
    let grafana = &tree["grafana/helmrelease.yaml"];
    assert!(
        !tree.contains_key("grafana/route.yaml")
            && grafana.contains("type: loki")
            && grafana.contains("type: prometheus")
    );
    // Every component has its Flux Kustomization; the kinds charts install
    // are in config layers, applied after them.
    let layers = &tree["layers.yaml"];
    for name in [
        "gateway",
        "gateway-config",
        "cert-manager",
        "cert-manager-config",
        "metrics",
        "logs",
        "grafana",
        "sealed-secrets",
        "namespaces",
    ] {
        assert!(
            layers.contains(&format!("  name: {name}\n")),
            "{name}:\n{layers}"
        );
    }
    assert!(tree.contains_key("cert-manager/config/clusterissuer.yaml"));
}

#[test]
fn everything_on_renders_the_golden_tree_wired_by_facts() {
    let world = World::new();
    let gitops = generate(&world, EVERYTHING);
    let tree = read_tree(&gitops);
    // oauth2-proxy serves Grafana's host through the Gateway, on an HTTPS
    // listener of its own whose certificate cert-manager issues; Grafana
    // then has no route of its own.
    let route = &tree["oauth2-proxy/route.yaml"];
    assert!(
        route.contains("kind: ListenerSet")
            && route.contains("hostname: grafana.example.com")
            && route.contains("cert-manager.io/cluster-issuer: letsencrypt")
            && route.contains("kind: HTTPRoute"),
        "{route}"
    );
    let proxy = &tree["oauth2-proxy/helmrelease.yaml"];
    assert!(
        proxy.contains("upstream: \"http://grafana.monitoring.svc:80\"")
            && proxy.contains("redirect-url: \"https://grafana.example.com/oauth2/callback\""),
        "{proxy}"
    );
    assert!(!tree.contains_key("grafana/route.yaml"));
    // cert-manager answers HTTP-01 challenges on the Gateway's HTTP listener.
    assert!(tree["cert-manager/config/clusterissuer.yaml"].contains("gatewayHTTPRoute"));
    // The namespaces' policies admit the gateway's proxies.
    assert!(
        tree["namespaces/shop.yaml"].contains("kubernetes.io/metadata.name: envoy-gateway-system")
    );
    // The order follows what each component waits for.
    let layers = &tree["layers.yaml"];
    for (layer, depends) in [
        ("cert-manager", "gateway-config"),
        ("oauth2-proxy", "gateway-config"),
        ("grafana", "metrics"),
        ("cert-manager-config", "cert-manager"),
    ] {
        let doc = layers
            .split("---\n")
            .find(|d| d.contains(&format!("  name: {layer}\n")))
            .unwrap();
        assert!(
            doc.contains(&format!("- name: {depends}\n")),
            "{layer}:\n{doc}"
        );
    }
    // The whole topology, for a reviewer to see how Flux brings it up.
    insta::assert_snapshot!("reference_layers", layers);
}

#[test]
fn kustomize_builds_the_tree_and_every_component_directory() {
    let world = World::new();
    let gitops = generate(&world, EVERYTHING);
    let mut dirs = vec![gitops.clone()];
    dirs.extend(
        std::fs::read_dir(&gitops)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir()),
    );
    assert!(dirs.len() >= 10, "{dirs:?}");
    for dir in dirs {
        let output = support::kubectl()
            .arg("kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "kubectl kustomize {}: {}",
            dir.display(),
            stderr(&output)
        );
    }
}

#[test]
fn core_kinds_validate_against_kubernetes_1_35() {
    let world = World::new();
    let gitops = generate(&world, EVERYTHING);
    let files: Vec<PathBuf> = read_tree(&gitops)
        .into_keys()
        .filter(|p| p.ends_with(".yaml") && !p.ends_with("kustomization.yaml") && p != "cairn.yaml")
        .map(|p| gitops.join(p))
        .collect();
    let output = std::process::Command::new(support::py_tool("kubernetes-validate"))
        .args(["--kubernetes-version", "1.35.0", "--strict"])
        .args(&files)
        .output()
        .unwrap();
    let out = format!("{}{}", stdout(&output), stderr(&output));
    assert!(output.status.success(), "{out}");
    for kind in [
        "namespace/shop",
        "resourcequota/quota",
        "networkpolicy/isolate",
        "configmap/dashboard-cluster-overview",
    ] {
        assert!(
            out.contains(&format!("passed for resource {kind}")),
            "{kind} not validated:\n{out}"
        );
    }
}

#[test]
fn flux_and_cert_manager_objects_validate_against_their_crds() {
    let schemas = support::shared_schemas();
    let world = World::new();
    let gitops = generate(&world, EVERYTHING);
    let output = world
        .cairn_in(&gitops, &["lint", "--schemas"])
        .arg(&schemas)
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    assert!(out.contains(", 0 problems"), "{out}");
    for kind in [
        "HelmRelease",
        "HelmRepository",
        "OCIRepository",
        "GitRepository",
        "Kustomization",
        "ClusterIssuer",
        "GatewayClass",
        "Gateway",
        "ListenerSet",
        "HTTPRoute",
        "EnvoyProxy",
    ] {
        assert!(
            !out.contains(&format!("no schema for {kind}")) && !out.contains(&format!(" {kind}\n")),
            "{kind} unchecked:\n{out}"
        );
    }
    let checked: usize = out
        .rsplit(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        checked >= 30,
        "too few objects checked against CRDs:\n{out}"
    );
}

#[test]
fn the_tree_converges_and_one_kustomization_for_everything_would_not() {
    let world = World::new();
    let gitops = generate(&world, EVERYTHING);
    let lint = |world: &World| world.cairn_in(&gitops, &["lint"]).output().unwrap();
    let output = lint(&world);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );

    // The layout before layers: the cluster's sync applies every component
    // directory at once. Flux's dry-run of the ClusterIssuer (and every
    // other kind a chart of the same stage installs) fails.
    let tree = read_tree(&gitops);
    let dirs: Vec<String> = tree
        .keys()
        .filter(|p| p.ends_with("/kustomization.yaml"))
        .map(|p| p.trim_end_matches("/kustomization.yaml").to_string())
        .collect();
    let mut root = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for dir in &dirs {
        root.push_str(&format!("- {dir}\n"));
    }
    std::fs::write(gitops.join("kustomization.yaml"), root).unwrap();
    let output = lint(&world);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    assert!(
        out.contains("layer flux-system, cert-manager/config/clusterissuer.yaml: ClusterIssuer letsencrypt: its CRD is installed by a HelmRelease in this same layer, so Flux's dry-run fails (\"no matches for kind ClusterIssuer\")"),
        "{out}"
    );
    assert!(
        out.contains("gateway/config/gateway.yaml: Gateway envoy-gateway-system/public: its CRD is installed by a HelmRelease in this same layer"),
        "{out}"
    );
}

#[test]
fn the_built_stack_passes_stack_check() {
    let world = World::new();
    let output = world
        .cairn()
        .args(["stack", "check"])
        .arg(support::reference_stack())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(
        stdout(&output).matches(": ok").count(),
        9,
        "{}",
        stdout(&output)
    );
}

#[test]
fn stack_check_fails_on_drift_and_stack_build_repairs_it() {
    let world = World::new();
    let stack = world.path("stack");
    std::fs::create_dir_all(stack.join("components")).unwrap();
    let built = support::reference_stack();
    std::fs::copy(
        built.join("components/sealed-secrets.wasm"),
        stack.join("components/sealed-secrets.wasm"),
    )
    .unwrap();
    std::fs::write(
        stack.join("stack.yaml"),
        format!("name: tiny\ncomponents:\n  - name: sealed-secrets # the only one\n    path: components/sealed-secrets.wasm\n    sha256: {}\n", "0".repeat(64)),
    )
    .unwrap();
    let output = world
        .cairn()
        .args(["stack", "check"])
        .arg(&stack)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("stack.yaml is out of date; run `cairn stack build`"),
        "{}",
        stdout(&output)
    );

    world
        .cairn()
        .args(["stack", "build"])
        .arg(&stack)
        .assert()
        .success();
    let text = std::fs::read_to_string(stack.join("stack.yaml")).unwrap();
    assert!(
        text.contains("- name: sealed-secrets # the only one"),
        "comments are kept:\n{text}"
    );
    world
        .cairn()
        .args(["stack", "check"])
        .arg(&stack)
        .assert()
        .success();
}

#[test]
fn verbose_shows_what_components_logged() {
    let world = World::new();
    let gitops = generate(&world, MINIMAL);
    std::fs::remove_file(gitops.join("cairn.lock")).unwrap();
    std::fs::remove_dir_all(gitops.join("namespaces")).unwrap();
    let output = world
        .cairn_in(&gitops, &["generate", "--force", "--verbose"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("component \"namespaces\" said:\n  | [info] 1 namespaces"),
        "{err}"
    );
}
