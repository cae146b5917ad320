//! Stacks published to an OCI registry: a real registry (the CNCF
//! distribution registry, Debian's docker-registry) on the loopback
//! address, started and stopped by the test.

use std::path::{Path, PathBuf};

use crate::support;
use support::{Registry, StackEntry, World, keygen, stderr, stdout};

/// A stack directory with the gateway component, its changelog `note`.
fn stack_dir(world: &World, note: &str) -> PathBuf {
    let dir = world.path(&format!("stack-{}", note.len()));
    support::write_stack(
        &dir,
        &[StackEntry {
            name: "gateway",
            crate_name: "gateway",
            enabled: true,
        }],
        note,
    );
    dir
}

fn push(world: &World, dir: &Path, reference: &str, key: Option<&Path>) -> std::process::Output {
    let mut cmd = world.cairn();
    cmd.args(["stack", "push", reference, "--dir"]).arg(dir);
    if let Some(key) = key {
        cmd.arg("--key").arg(key);
    }
    cmd.output().unwrap()
}

fn cairn(world: &World, dir: &Path, args: &[&str]) -> std::process::Output {
    world.cairn_in(dir, args).output().unwrap()
}

#[test]
fn signed_oci_releases_are_accepted_and_others_refused() {
    let registry = Registry::start();
    let world = World::isolated();
    let (key, _) = keygen(&world, "publisher");
    let (other_key, _) = keygen(&world, "stranger");
    let source = registry.url("stacks/platform");

    let pushed = push(
        &world,
        &stack_dir(&world, "First."),
        &format!("{source}:v1.0.0"),
        Some(&key),
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let said = stdout(&pushed);
    let digest = said.split(['(', ')']).nth(1).unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{said}");
    // A release never changes.
    let again = push(
        &world,
        &stack_dir(&world, "First."),
        &format!("{source}:v1.0.0"),
        Some(&key),
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    // init pins the signer; the lock pins the manifest digest.
    let gitops = world.path("gitops");
    std::fs::create_dir_all(&gitops).unwrap();
    support::git(&gitops, &["init", "-q"]);
    let init = cairn(&world, &gitops, &["init", &source]);
    assert!(init.status.success(), "{}", stderr(&init));
    let config = gitops.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("    # domain: null", "    domain: example.com"),
    )
    .unwrap();
    let generate = cairn(&world, &gitops, &["generate"]);
    assert!(generate.status.success(), "{}", stderr(&generate));
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(
        lock.contains(&format!("source: {source}\n"))
            && lock.contains("tag: v1.0.0\n")
            && lock.contains(&format!("commit: {digest}\n"))
            && lock.contains("signer: SHA256:"),
        "{lock}"
    );
    let verify = cairn(&world, &gitops, &["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));

    // Signed by a key cairn.yaml does not trust: refused, naming it.
    let pushed = push(
        &world,
        &stack_dir(&world, "Second release."),
        &format!("{source}:v1.1.0"),
        Some(&other_key),
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let update = cairn(&world, &gitops, &["update"]);
    assert_eq!(update.status.code(), Some(2));
    assert!(
        stderr(&update).contains("release v1.1.0 of stack")
            && stderr(&update).contains("is signed by SHA256:"),
        "{}",
        stderr(&update)
    );

    // Not signed at all: refused.
    let pushed = push(
        &world,
        &stack_dir(&world, "Third release, unsigned."),
        &format!("{source}:v1.2.0"),
        None,
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let update = cairn(&world, &gitops, &["update", "--to", "v1.2.0"]);
    assert_eq!(update.status.code(), Some(2));
    assert!(
        stderr(&update).contains("release v1.2.0 of stack")
            && stderr(&update).contains("is not signed"),
        "{}",
        stderr(&update)
    );

    // A signature that is not of this release: refused.
    let pushed = push(
        &world,
        &stack_dir(&world, "Fourth release, its signature swapped."),
        &format!("{source}:v1.3.0"),
        None,
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let fourth = stdout(&pushed)
        .split(['(', ')'])
        .nth(1)
        .unwrap()
        .to_string();
    let (wrong, _) =
        cairn::signing::sign_in(cairn::oci::NAMESPACE, digest.as_bytes(), &key).unwrap();
    let client = cairn::oci::Client::new(&cairn::oci::Reference::parse(&source).unwrap()).unwrap();
    cairn::oci::push_signature(&client, &fourth, &wrong).unwrap();
    let update = cairn(&world, &gitops, &["update", "--to", "v1.3.0"]);
    assert_eq!(update.status.code(), Some(2));
    assert!(
        stderr(&update).contains("does not match its content"),
        "{}",
        stderr(&update)
    );

    // The signed v1.0.0 copied, byte for byte, under a newer tag: the
    // signature holds for its digest, but the release it signs is v1.0.0.
    let http = reqwest::blocking::Client::new();
    let manifests = format!(
        "http://127.0.0.1:{}/v2/stacks/platform/manifests",
        registry.port
    );
    let bytes = http
        .get(format!("{manifests}/v1.0.0"))
        .header("Accept", cairn::oci::MANIFEST)
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let put = http
        .put(format!("{manifests}/v9.0.0"))
        .header("Content-Type", cairn::oci::MANIFEST)
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let update = cairn(&world, &gitops, &["update", "--to", "v9.0.0"]);
    assert_eq!(update.status.code(), Some(2));
    assert!(
        stderr(&update).contains("carries the signature of v1.0.0"),
        "{}",
        stderr(&update)
    );

    // A release planted in the cache (another stack.yaml) is not used: it
    // is pulled again and checked against the signed manifest.
    let releases: Vec<PathBuf> = walk(&world.cache_dir().join("cairn/git/oci"))
        .into_iter()
        .filter(|p| p.ends_with("stack.yaml"))
        .collect();
    assert!(!releases.is_empty());
    for planted in &releases {
        std::fs::write(planted, "name: planted\ncomponents: []\n").unwrap();
    }
    let verify = cairn(&world, &gitops, &["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    let locked = digest.trim_start_matches("sha256:");
    let used = releases
        .iter()
        .find(|p| p.parent().unwrap().ends_with(locked))
        .expect("the locked release is cached");
    assert!(!std::fs::read_to_string(used).unwrap().contains("planted"));

    // The accepted release still generates, offline, from the cache.
    let offline = cairn(&world, &gitops, &["generate", "--offline"]);
    assert!(offline.status.success(), "{}", stderr(&offline));
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
