//! The reference stack, as users get it: rendered for two value sets and
//! checked with independent tools (kubectl's kustomize, kubernetes-validate,
//! the real Flux and cert-manager CRDs), and golden-tested.

mod support;

use std::path::{Path, PathBuf};

use support::{World, read_tree, stderr, stdout};

const MINIMAL: &str = r#"  cert-manager:
    issuer:
      email: ops@example.com
"#;

const EVERYTHING: &str = r#"  ingress-nginx:
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
    let output = world
        .cairn_in(&gitops, &["generate"])
        .env("XDG_CACHE_HOME", support::shared_cache())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    gitops
}

/// The generated tree without cairn's own files, for snapshots.
fn manifests(gitops: &Path) -> String {
    read_tree(gitops)
        .into_iter()
        .filter(|(p, _)| p != "cairn.yaml" && p != "cairn.lock")
        .map(|(path, content)| format!("=== {path}\n{content}"))
        .collect()
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
        !grafana.contains("ingressClassName")
            && grafana.contains("type: loki")
            && grafana.contains("type: prometheus")
    );
    insta::assert_snapshot!("reference_minimal", manifests(&gitops));
}

#[test]
fn everything_on_renders_the_golden_tree_wired_by_facts() {
    let world = World::new();
    let gitops = generate(&world, EVERYTHING);
    let tree = read_tree(&gitops);
    // oauth2-proxy serves Grafana's host with TLS, so Grafana has no Ingress.
    let proxy = &tree["oauth2-proxy/helmrelease.yaml"];
    assert!(
        proxy.contains("grafana.example.com")
            && proxy.contains("cert-manager.io/cluster-issuer: letsencrypt"),
        "{proxy}"
    );
    assert!(
        proxy.contains("upstream: \"http://grafana.monitoring.svc:80\""),
        "{proxy}"
    );
    assert!(!tree["grafana/helmrelease.yaml"].contains("ingressClassName"));
    // The namespaces' policies admit the ingress controller's namespace.
    assert!(tree["namespaces/shop.yaml"].contains("kubernetes.io/metadata.name: ingress-nginx"));
    insta::assert_snapshot!("reference_everything", manifests(&gitops));
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
    let Some(schemas) = support::shared_schemas() else {
        return;
    };
    let world = World::new();
    let gitops = generate(&world, EVERYTHING);
    let output = world
        .cairn_in(&gitops, &["lint", "--schemas"])
        .arg(&schemas)
        .env("XDG_CACHE_HOME", support::shared_cache())
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    assert!(out.contains(", 0 problems"), "{out}");
    for kind in [
        "HelmRelease",
        "HelmRepository",
        "GitRepository",
        "Kustomization",
        "ClusterIssuer",
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
        checked >= 18,
        "too few objects checked against CRDs:\n{out}"
    );
}

#[test]
fn the_built_stack_passes_stack_check() {
    let world = World::new();
    let output = world
        .cairn()
        .args(["stack", "check"])
        .arg(support::reference_stack())
        .env("XDG_CACHE_HOME", support::shared_cache())
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
        .env("XDG_CACHE_HOME", support::shared_cache())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("component \"namespaces\" said:\n  | [info] 1 namespaces"),
        "{err}"
    );
}
