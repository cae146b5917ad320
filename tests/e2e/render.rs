//! `cairn render` and `cairn inspect` with the real first-party components.

use crate::support;

use support::{World, read_tree, stderr, stdout, tree_text};

const VALUES: &str = "\
gateway:
  domain: example.com
  name: edge
cert-manager:
  issuer:
    email: ops@example.com
";

#[test]
fn renders_both_components_with_facts_flowing() {
    let world = World::new();
    let output = world
        .render(VALUES, "out", &["gateway", "cert-manager"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("rendered cert-manager 0.2.0 (4 files)"));

    let tree = read_tree(&world.path("out"));
    // The Gateway the gateway component publishes reaches cert-manager's
    // solver; the kinds each chart installs are in its config layer.
    let issuer = &tree["cert-manager/config/clusterissuer.yaml"];
    assert!(
        issuer.contains("gatewayHTTPRoute") && issuer.contains("name: edge"),
        "{issuer}"
    );
    assert!(tree["gateway/config/gateway.yaml"].contains("name: edge"));
    assert!(!tree["gateway/kustomization.yaml"].contains("- config"));
    assert!(tree["gateway/config/kustomization.yaml"].contains("- gateway.yaml"));
    // The root lists every layer's directory, for kustomize to build it all.
    assert!(tree["kustomization.yaml"].contains("- cert-manager/config\n"));
    insta::assert_snapshot!("two_components", tree_text(&world.path("out")));
}

#[test]
fn output_is_identical_across_runs_and_cache_states() {
    let world = World::isolated();
    let components = ["gateway", "cert-manager"];
    world.render(VALUES, "cold", &components).assert().success();
    world.render(VALUES, "warm", &components).assert().success();
    world
        .render(VALUES, "uncached", &components)
        .arg("--no-cache")
        .assert()
        .success();
    let cold = read_tree(&world.path("cold"));
    assert!(!cold.is_empty());
    assert_eq!(cold, read_tree(&world.path("warm")));
    assert_eq!(cold, read_tree(&world.path("uncached")));
}

#[test]
fn compiled_components_are_cached_and_corrupt_entries_recompiled() {
    let world = World::isolated();
    world
        .render(VALUES, "out", &["gateway", "cert-manager"])
        .assert()
        .success();
    let entries: Vec<_> = std::fs::read_dir(world.cache_dir().join("cairn/compiled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");

    // A damaged entry is never loaded: it is recompiled and replaced.
    for entry in &entries {
        let mut bytes = std::fs::read(entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(entry, bytes).unwrap();
    }
    world
        .render(VALUES, "again", &["gateway", "cert-manager"])
        .assert()
        .success();
    assert_eq!(
        read_tree(&world.path("out")),
        read_tree(&world.path("again"))
    );
}

#[test]
fn descriptions_are_kept_with_the_compiled_code_and_only_authentic_ones_used() {
    let world = World::isolated();
    world
        .render(VALUES, "out", &["gateway", "cert-manager"])
        .assert()
        .success();
    let entries: Vec<_> = std::fs::read_dir(world.cache_dir().join("cairn/compiled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "about"))
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");

    let inspect = |world: &World| {
        let output = world
            .cairn()
            .args(["inspect", "-o", "json"])
            .arg(support::wasm("gateway"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let title = inspect(&world)["title"].as_str().unwrap().to_string();
    // An entry is the magic, a MAC under the user's cache key, then JSON.
    let header = 12 + 32;
    let key =
        cairn::cache::CacheKey::at(&support::test_data_dir().join("cairn/cache.key")).unwrap();
    let retitle = |entry: &std::path::Path, seal: bool| {
        let bytes = std::fs::read(entry).unwrap();
        let body = String::from_utf8(bytes[header..].to_vec())
            .unwrap()
            .replace(&title, "Retitled");
        let stem = entry.file_stem().unwrap().to_string_lossy().into_owned();
        let mac = if seal {
            key.seal(&[b"about", stem.as_bytes(), body.as_bytes()])
        } else {
            bytes[12..header].try_into().unwrap()
        };
        let mut out = bytes[..12].to_vec();
        out.extend_from_slice(&mac);
        out.extend_from_slice(body.as_bytes());
        std::fs::write(entry, out).unwrap();
    };

    // Changed by someone without the key: ignored, described afresh.
    for entry in &entries {
        retitle(entry, false);
    }
    assert_eq!(inspect(&world)["title"], title.as_str());

    // Sealed with the key, it is what a warm run uses instead of calling
    // the component: the cache is read.
    for entry in &entries {
        retitle(entry, true);
    }
    assert_eq!(inspect(&world)["title"], "Retitled");

    // A damaged description is described again and replaced.
    for entry in &entries {
        std::fs::write(entry, "{not json").unwrap();
    }
    world
        .render(VALUES, "again", &["gateway", "cert-manager"])
        .assert()
        .success();
    assert_eq!(
        read_tree(&world.path("out")),
        read_tree(&world.path("again"))
    );
    assert_eq!(inspect(&world)["title"], title.as_str());
}

#[test]
fn values_failing_the_schema_are_all_reported_with_field_paths() {
    let world = World::new();
    let values = "\
gateway:
  name: [two]
  serviceType: Ingress
  colour: blue
cert-manager:
  issuer:
    email: not-an-email
";
    let output = world
        .render(values, "out", &["gateway", "cert-manager"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for expected in [
        "gateway.name: [\"two\"] is not of type \"string\"",
        "gateway.serviceType:",
        "gateway.colour: unknown option; the options here are: chartVersion, className, domain",
        "cert-manager.issuer.email: \"not-an-email\" is not a \"email\"",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!world.path("out").exists());
}

#[test]
fn a_component_rejecting_its_config_names_the_field() {
    let world = World::new();
    let output = world
        .render("{}", "out", &["cert-manager"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("component \"cert-manager\": rejected its configuration"),
        "{err}"
    );
    assert!(
        err.contains("  - error: issuer.email: an e-mail is required"),
        "{err}"
    );
    assert!(!world.path("out").exists());
}

#[test]
fn values_for_an_unknown_component_suggest_the_closest_name() {
    let world = World::new();
    let output = world
        .render("gatewya: {}\n", "out", &["gateway"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("values for \"gatewya\""), "{err}");
    assert!(err.contains("did you mean \"gateway\"?"), "{err}");
}

#[test]
fn copies_of_a_component_render_under_their_own_names() {
    let world = World::new();
    let values = "\
public: {namespace: certs-public, issuer: {email: ops@example.com}}
private: {namespace: certs-private, issuer: {enabled: false}}
";
    world
        .render(
            values,
            "out",
            &["public=cert-manager", "private=cert-manager"],
        )
        .assert()
        .success();
    let tree = read_tree(&world.path("out"));
    assert!(tree["public/namespace.yaml"].contains("name: certs-public"));
    assert!(tree["private/namespace.yaml"].contains("name: certs-private"));
    assert!(!tree.contains_key("private/clusterissuer.yaml"));
    assert!(tree["kustomization.yaml"].contains("- private\n- public\n"));

    let output = world
        .render("{}", "dup", &["gateway", "gateway"])
        .output()
        .unwrap();
    assert!(stderr(&output).contains("more than one component is named \"gateway\""));
}

#[test]
fn two_components_publishing_one_fact_is_a_conflict() {
    let world = World::new();
    let output = world
        .render("{}", "out", &["edge=gateway", "internal=gateway"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains(
            "the fact \"gateway.http-listener\" is published by both \"edge\" and \"internal\""
        ),
        "{err}"
    );
    assert!(!world.path("out").exists());
}

#[test]
fn render_replaces_its_own_output_but_never_a_foreign_directory() {
    let world = World::new();
    world
        .render(VALUES, "out", &["gateway", "cert-manager"])
        .assert()
        .success();
    // Re-rendering with fewer components replaces the tree as a whole.
    world
        .render(
            VALUES.split("cert-manager").next().unwrap(),
            "out",
            &["gateway"],
        )
        .assert()
        .success();
    assert!(!world.path("out/cert-manager").exists());

    world.write("mine/notes.txt", "precious");
    let output = world
        .render(VALUES, "mine", &["gateway", "cert-manager"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("was not generated by cairn"));
    assert_eq!(
        std::fs::read_to_string(world.path("mine/notes.txt")).unwrap(),
        "precious"
    );
}

#[test]
fn inspect_shows_identity_facts_capabilities_and_schema() {
    let world = World::new();
    let output = world
        .cairn()
        .arg("inspect")
        .arg(support::wasm("cert-manager"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "cert-manager 0.2.0 - cert-manager",
        "category: security",
        "certs.cluster-issuer",
        "gateway.name",
        "wasi:cli/environment@0.2",
        "\"email\"",
        // Whether a fact it reads is required, the contract and WASI it
        // was built for, its readme.
        "(optional, applied after its provider)",
        "built for: cairn:component@0.2.0, WASI 0.2.6",
        "readme:\n  # cert-manager",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let output = world
        .cairn()
        .args(["inspect", "-o", "json"])
        .arg(support::wasm("gateway"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["name"], "gateway");
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(json["provides"][0]["key"], "gateway.name");
    assert_eq!(
        json["configSchema"]["properties"]["name"]["default"],
        "public"
    );
    assert!(
        json["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("wasi:cli/"))
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused_clearly() {
    let world = World::new();
    let bogus = world.write("bogus.wasm", "not wasm");
    let output = world.cairn().arg("inspect").arg(&bogus).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a valid WebAssembly component"),
        "{}",
        stderr(&output)
    );

    // A core module (what most toolchains make first) says how to wrap it.
    let core = world.path("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let output = world.cairn().arg("inspect").arg(&core).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is a core WebAssembly module, not a component")
            && stderr(&output).contains("wasm-tools component new"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn kustomize_builds_the_tree_and_each_component_directory() {
    let world = World::new();
    world
        .render(VALUES, "out", &["gateway", "cert-manager"])
        .assert()
        .success();
    for (dir, kind) in [
        ("out", "HelmRelease"),
        ("out/gateway", "HelmRelease"),
        ("out/gateway/config", "Gateway"),
        ("out/cert-manager", "HelmRelease"),
        ("out/cert-manager/config", "ClusterIssuer"),
    ] {
        let output = support::kubectl()
            .arg("kustomize")
            .arg(world.path(dir))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "kubectl kustomize {dir}: {}",
            stderr(&output)
        );
        let built = stdout(&output);
        assert!(
            built.contains(&format!("kind: {kind}\n")),
            "{dir}:\n{built}"
        );
    }
    let all = support::kubectl()
        .arg("kustomize")
        .arg(world.path("out"))
        .output()
        .unwrap();
    assert_eq!(
        stdout(&all).matches("\nkind: ").count(),
        10,
        "{}",
        stdout(&all)
    );
}

#[test]
fn renders_are_memoized_and_only_authentic_results_used() {
    let world = World::isolated();
    world
        .render(VALUES, "out", &["gateway", "cert-manager"])
        .assert()
        .success();
    let compiled = world.cache_dir().join("cairn/compiled");
    let results = |phase: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&compiled)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e.to_string_lossy().starts_with(phase))
            })
            .collect()
    };
    // Both render; both publish facts.
    assert_eq!(results("render-").len(), 2);
    assert_eq!(results("facts-").len(), 2);

    let key =
        cairn::cache::CacheKey::at(&support::test_data_dir().join("cairn/cache.key")).unwrap();
    let header = 12 + 32;
    let edit = |entry: &std::path::Path, seal: bool| {
        let bytes = std::fs::read(entry).unwrap();
        let body = String::from_utf8(bytes[header..].to_vec())
            .unwrap()
            .replace("envoy-gateway-system", "elsewhere");
        let stem = entry.file_stem().unwrap().to_string_lossy().into_owned();
        let ext = entry.extension().unwrap().to_string_lossy().into_owned();
        let mac = if seal {
            key.seal(&[ext.as_bytes(), stem.as_bytes(), body.as_bytes()])
        } else {
            bytes[12..header].try_into().unwrap()
        };
        let mut out = bytes[..12].to_vec();
        out.extend_from_slice(&mac);
        out.extend_from_slice(body.as_bytes());
        std::fs::write(entry, out).unwrap();
    };
    let gateway = |dir: &str| read_tree(&world.path(dir))["gateway/helmrelease.yaml"].clone();

    // Changed by someone without the key: ignored, rendered afresh.
    for entry in results("render-") {
        edit(&entry, false);
    }
    world
        .render(VALUES, "tampered", &["gateway", "cert-manager"])
        .assert()
        .success();
    assert_eq!(
        read_tree(&world.path("out")),
        read_tree(&world.path("tampered"))
    );

    // Sealed with the key, it is what the next run uses instead of calling
    // the component: the memo is read.
    for entry in results("render-") {
        edit(&entry, true);
    }
    world
        .render(VALUES, "recalled", &["gateway", "cert-manager"])
        .assert()
        .success();
    assert!(
        gateway("recalled").contains("elsewhere"),
        "{}",
        gateway("recalled")
    );

    // Other values are another call: rendered, and kept beside.
    let other = VALUES.replace("name: edge", "name: other");
    world
        .render(&other, "other", &["gateway", "cert-manager"])
        .assert()
        .success();
    assert!(!gateway("other").contains("elsewhere"));
    assert_eq!(results("render-").len(), 4);
}

/// Records the slow steps the library reports.
#[derive(Default)]
struct Steps(std::sync::Mutex<Vec<String>>);

impl cairn::progress::Progress for Steps {
    fn start(&self, message: &str) -> cairn::progress::Task {
        self.0.lock().unwrap().push(message.to_string());
        cairn::progress::Task::none()
    }
}

#[test]
fn compiling_is_said_once_per_component_version_and_compiler() {
    use cairn::runtime::{CodeCache, Compiler, Runtime};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let key = cairn::cache::CacheKey::at(&dir.path().join("cache.key")).unwrap();
    let wasm = std::fs::read(support::wasm("gateway")).unwrap();
    let sha256 = support::sha256_file(&support::wasm("gateway"));
    let load = |compiler: Compiler| {
        let steps = Arc::new(Steps::default());
        let runtime = Runtime::with_compiler(
            cairn::limits::Limits::default(),
            Some(CodeCache::at(
                dir.path().join("compiled"),
                Some(key.clone()),
            )),
            compiler,
        )
        .unwrap()
        .reporting(steps.clone());
        let bytes = wasm.clone();
        runtime
            .load_deferred(
                "gateway",
                sha256.clone(),
                Box::new(move || Ok(bytes.clone())),
            )
            .unwrap();
        steps.0.lock().unwrap().clone()
    };

    let first = load(Compiler::Baseline);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].starts_with("compiling gateway (")
            && first[0].ends_with(", once per version of it"),
        "{first:?}"
    );
    // Cached: nothing to compile, nothing said.
    assert_eq!(load(Compiler::Baseline), Vec::<String>::new());
    // The other compiler's code is its own entry.
    assert_eq!(load(Compiler::Optimizing).len(), 1);
    assert_eq!(load(Compiler::Optimizing), Vec::<String>::new());
}

#[test]
fn both_compilers_render_the_same_bytes() {
    let world = World::isolated();
    world
        .render(VALUES, "winch", &["gateway", "cert-manager"])
        .assert()
        .success();
    world
        .render(VALUES, "cranelift", &["gateway", "cert-manager"])
        .args(["--compiler", "cranelift"])
        .assert()
        .success();
    assert_eq!(
        read_tree(&world.path("winch")),
        read_tree(&world.path("cranelift"))
    );
    // Each compiler's code is cached apart, and neither run reused the
    // other's results: two code entries per component.
    let code = std::fs::read_dir(world.cache_dir().join("cairn/compiled"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "cwasm")
        })
        .count();
    assert_eq!(code, 4);
}
