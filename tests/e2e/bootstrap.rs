//! `cairn bootstrap` in a real git repository: the Flux files (golden, and
//! valid against Flux's CRDs), the manifests' sources (a file, a download
//! served over loopback with its digest checked), keys kept outside the repo
//! and checked with OpenSSH's and age's own tools, idempotence, and the
//! wiring with `generate`.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use support::{KNOWN_HOSTS, World, stderr, stdout};

const URL: &str = "ssh://git@github.com/acme/fleet.git";
fn fixture() -> PathBuf {
    support::root().join("tests/fixtures/flux/install.yaml")
}

fn repo(world: &World, extra_values: &str) -> PathBuf {
    support::cluster_repo(world, extra_values)
}

fn bootstrap(world: &World, dir: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = world.cairn_in(dir, &["bootstrap", "--cluster", "demo", "--known-hosts"]);
    cmd.arg(world.path("known_hosts"));
    if !extra.contains(&"--url") {
        cmd.args(["--url", URL]);
    }
    cmd.args(extra)
        // No `flux` CLI of the machine's: sources are chosen explicitly.
        .env("PATH", "/usr/bin:/bin");
    cmd
}

/// A stand-in for the program `name` in a fresh `bin/` of the world: it
/// fails unless called with exactly `args`, then runs `body`. Returns the
/// directory to put first on PATH.
fn stand_in(world: &World, name: &str, args: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = world.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\n[ \"$*\" = \"{args}\" ] || {{ echo \"unexpected: $*\" >&2; exit 1; }}\n{body}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn ok(mut cmd: assert_cmd::Command) -> String {
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

fn fails(mut cmd: assert_cmd::Command) -> String {
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    stderr(&output)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn writes_the_flux_files_golden_and_valid_against_fluxs_crds() {
    let world = World::new();
    let dir = repo(&world, "");
    let manifests = fixture();
    let out = ok(bootstrap(
        &world,
        &dir,
        &[
            "--flux-manifests",
            manifests.to_str().unwrap(),
            "--interval",
            "5m",
            "--branch",
            "release",
        ],
    ));
    assert!(out.contains("with Flux 2.9.4 (file)"), "{out}");
    let flux = dir.join("clusters/demo/flux-system");
    insta::assert_snapshot!("gotk-sync", read(&flux.join("gotk-sync.yaml")));
    insta::assert_snapshot!("flux-kustomization", read(&flux.join("kustomization.yaml")));
    let components = read(&flux.join("gotk-components.yaml"));
    assert!(
        components.starts_with("# Flux v2.9.4 install manifests")
            && components.ends_with(&read(&manifests)),
        "{components}"
    );

    let schemas = support::shared_schemas();
    let crds = cairn::crd::load_dir(&schemas.join("flux")).unwrap();
    let objects = cairn::crd::objects(&read(&flux.join("gotk-sync.yaml")));
    assert_eq!(objects.len(), 2);
    for object in objects {
        let errors = crds
            .validate(&object)
            .unwrap_or_else(|| panic!("no schema for {}", cairn::crd::type_of(&object)));
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn scp_urls_are_converted_and_bad_input_is_refused_before_anything_is_written() {
    let world = World::new();
    let dir = repo(&world, "");
    let manifests = fixture();
    let manifests = manifests.to_str().unwrap();

    let out = ok(bootstrap(
        &world,
        &dir,
        &[
            "--flux-manifests",
            manifests,
            "--url",
            "git@github.com:acme/fleet.git",
        ],
    ));
    assert!(
        out.contains(&format!("url: {URL} (Flux accepts only ssh:// URLs")),
        "{out}"
    );
    assert!(
        read(&dir.join("clusters/demo/flux-system/gotk-sync.yaml"))
            .contains(&format!("url: {URL}"))
    );

    let world = World::new();
    let dir = repo(&world, "");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--interval", "10"],
            "--interval: \"10\" is not a duration Flux accepts; use a number and a unit",
        ),
        (
            &["--url", "https://github.com/acme/fleet.git"],
            "is not an SSH URL; bootstrap sets up an SSH deploy key",
        ),
        (
            &["--url", "git@github.com:2222/fleet.git"],
            "could be a port; write it as ssh://",
        ),
        (
            &["--flux-version", "two"],
            "--flux-version \"two\" is not a version",
        ),
        (
            &["--path", "../elsewhere"],
            "must be a directory inside the repository",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["--flux-manifests", manifests];
        all.extend_from_slice(args);
        let err = fails(bootstrap(&world, &dir, &all));
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let not_flux = world.write(
        "not-flux.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n",
    );
    let err = fails(bootstrap(
        &world,
        &dir,
        &["--flux-manifests", not_flux.to_str().unwrap()],
    ));
    assert!(
        err.contains("does not look like Flux's install manifests"),
        "{err}"
    );
    let mut cmd = world.cairn_in(&dir, &["bootstrap", "--cluster", "demo", "--url", URL]);
    cmd.args(["--flux-manifests", manifests]);
    let err = fails(cmd);
    assert!(
        err.contains("no known_hosts for the git host: pass --known-hosts FILE"),
        "{err}"
    );
    // Nothing was written, and no key was made.
    assert!(!dir.join("clusters/demo/flux-system").exists());
    assert_eq!(
        support::read_tree(&dir.join("clusters"))
            .keys()
            .collect::<Vec<_>>(),
        ["demo/cairn.yaml"]
    );
}

#[test]
fn keys_stay_outside_the_repo_private_and_valid_for_ssh_and_age() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new();
    let dir = repo(&world, "");
    let manifests = fixture();
    let out = ok(bootstrap(
        &world,
        &dir,
        &["--flux-manifests", manifests.to_str().unwrap()],
    ));
    let keys = world.config_dir().join("cairn/keys/demo");
    assert!(
        out.contains(&format!(
            "generated SSH deploy key and age identity in {}",
            keys.display()
        )),
        "{out}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    for file in ["identity", "age.agekey", "secrets.yaml"] {
        assert_eq!(mode(&keys.join(file)), 0o600, "{file}");
    }

    // OpenSSH derives the same public key from the private one, which is
    // also the deploy key printed for the user.
    let public = read(&keys.join("identity.pub"));
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    assert!(out.contains(public.trim()), "{out}");
    let derived = std::process::Command::new(support::system_tool("ssh-keygen"))
        .args(["-y", "-f"])
        .arg(keys.join("identity"))
        .output()
        .unwrap();
    assert!(derived.status.success(), "{}", stderr(&derived));
    assert_eq!(
        stdout(&derived)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>(),
        public.split_whitespace().take(2).collect::<Vec<_>>()
    );

    // age derives the recipient bootstrap put into cairn.yaml.
    let recipient = std::process::Command::new(support::system_tool("age-keygen"))
        .arg("-y")
        .arg(keys.join("age.agekey"))
        .output()
        .unwrap();
    let recipient = stdout(&recipient).trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    let config = read(&dir.join("clusters/demo/cairn.yaml"));
    assert!(
        config.contains(&format!("secrets:\n  age:\n    - {recipient}\n")),
        "{config}"
    );
    assert!(
        config.starts_with("stack:\n"),
        "the user's file was rewritten: {config}"
    );

    // The Secret manifests Flux reads, ready to apply.
    let manifests: Vec<serde_yaml::Value> =
        cairn::yaml::documents(&read(&keys.join("secrets.yaml")))
            .into_iter()
            .map(Result::unwrap)
            .collect();
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests[0]["metadata"]["name"], "flux-system");
    assert_eq!(manifests[0]["metadata"]["namespace"], "flux-system");
    assert_eq!(manifests[0]["stringData"]["known_hosts"], KNOWN_HOSTS);
    assert!(
        manifests[0]["stringData"]["identity"]
            .as_str()
            .unwrap()
            .contains("BEGIN OPENSSH PRIVATE KEY")
    );
    assert_eq!(manifests[0]["stringData"]["identity.pub"], public.as_str());
    assert_eq!(manifests[1]["metadata"]["name"], "sops-age");
    assert!(
        manifests[1]["stringData"]["age.agekey"]
            .as_str()
            .unwrap()
            .contains("AGE-SECRET-KEY-1")
    );

    // No key material anywhere in the repository.
    for (path, content) in support::read_tree(&dir) {
        assert!(
            !content.contains("PRIVATE KEY") && !content.contains("AGE-SECRET-KEY-1"),
            "{path}"
        );
    }

    // --print-secrets: the manifests alone on stdout, for kubectl apply -f -.
    let mut cmd = bootstrap(&world, &dir, &["--print-secrets"]);
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), read(&keys.join("secrets.yaml")));

    // ECDSA P-384 on request, for another cluster.
    let mut cmd = world.cairn_in(
        &dir,
        &[
            "bootstrap",
            "--cluster",
            "edge",
            "--url",
            URL,
            "--key-type",
            "ecdsa-p384",
            "--known-hosts",
        ],
    );
    std::fs::create_dir_all(dir.join("clusters/edge")).unwrap();
    std::fs::copy(
        dir.join("clusters/demo/cairn.yaml"),
        dir.join("clusters/edge/cairn.yaml"),
    )
    .unwrap();
    cmd.arg(world.path("known_hosts")).args([
        "--flux-manifests",
        fixture().to_str().unwrap(),
        "--no-sops",
    ]);
    ok(cmd);
    let edge = read(&world.config_dir().join("cairn/keys/edge/identity.pub"));
    assert!(edge.starts_with("ecdsa-sha2-nistp384 "), "{edge}");
    assert!(!read(&dir.join("clusters/edge/flux-system/gotk-sync.yaml")).contains("decryption"));
}

#[test]
fn bootstrapping_twice_changes_nothing_and_keeps_the_keys() {
    let world = World::new();
    let dir = repo(&world, "");
    let manifests = fixture();
    ok(bootstrap(
        &world,
        &dir,
        &["--flux-manifests", manifests.to_str().unwrap()],
    ));
    let repo_before = support::read_tree(&dir.join("clusters"));
    let keys = world.config_dir().join("cairn/keys/demo");
    let keys_before = support::read_tree(&keys);

    // The users' own kustomization for flux-system is theirs: kept as edited.
    let own = dir.join("clusters/demo/flux-system/kustomization.yaml");
    let edited = format!("{}patches: []\n", read(&own));
    std::fs::write(&own, &edited).unwrap();

    let out = ok(bootstrap(&world, &dir, &[]));
    assert!(
        out.contains("nothing changed") && out.contains("keys: reused"),
        "{out}"
    );
    let mut expected = repo_before.clone();
    expected.insert("demo/flux-system/kustomization.yaml".into(), edited);
    assert_eq!(support::read_tree(&dir.join("clusters")), expected);
    assert_eq!(support::read_tree(&keys), keys_before);
}

/// Serves `files` (URL path → body) over HTTP on loopback until the test
/// ends; returns the base URL. The bodies can be changed while it runs.
fn serve(files: Arc<Mutex<Vec<(String, String)>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request);
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let body = files
                .lock()
                .unwrap()
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, b)| b.clone());
            let response = match body {
                Some(body) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .into(),
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    base
}

#[test]
fn downloads_are_cached_pinned_in_the_lock_and_upgrades_touch_only_the_manifests() {
    let world = World::isolated();
    let dir = repo(&world, "");
    let v294 = read(&fixture());
    let v293 = v294.replace("v2.9.4", "v2.9.3");
    let files = Arc::new(Mutex::new(vec![
        ("/v2.9.4/install.yaml".to_string(), v294.clone()),
        ("/v2.9.3/install.yaml".to_string(), v293.clone()),
    ]));
    let base = serve(files.clone());
    let download = |world: &World, args: &[&str]| {
        let mut cmd = bootstrap(world, &dir, args);
        cmd.env("CAIRN_FLUX_RELEASES_URL", &base);
        cmd
    };

    let out = ok(download(&world, &["--flux-version", "2.9.4"]));
    assert!(
        out.contains(&format!("Flux 2.9.4 ({base}/v2.9.4/install.yaml)")),
        "{out}"
    );
    let lock = read(&dir.join("clusters/demo/cairn.lock"));
    assert!(
        lock.contains(&format!("sha256: {}", support::sha256_hex(&v294)))
            && lock.contains("version: 2.9.4"),
        "{lock}"
    );
    assert!(
        world
            .cache_dir()
            .join("cairn/flux/v2.9.4/install.yaml")
            .exists()
    );

    // The upgrade rewrites gotk-components.yaml (and the lock's record) only.
    let before = support::read_tree(&dir.join("clusters"));
    let out = ok(download(&world, &["--flux-version", "2.9.3"]));
    assert!(out.contains("with Flux 2.9.3"), "{out}");
    let after = support::read_tree(&dir.join("clusters"));
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert_eq!(
        changed,
        ["demo/cairn.lock", "demo/flux-system/gotk-components.yaml"]
    );
    assert!(after["demo/flux-system/gotk-components.yaml"].starts_with("# Flux v2.9.3 "));

    // The release changes under its version: with the cache gone and the
    // manifests to write again, the digest in the lock refuses it.
    std::fs::remove_dir_all(world.cache_dir().join("cairn/flux")).unwrap();
    std::fs::remove_file(dir.join("clusters/demo/flux-system/gotk-components.yaml")).unwrap();
    files.lock().unwrap()[1].1 = v293.replace("kind: Namespace", "kind: Namespace\n# changed");
    let err = fails(download(&world, &["--flux-version", "2.9.3"]));
    assert!(
        err.contains("Flux 2.9.3's manifests from") && err.contains("but cairn.lock recorded"),
        "{err}"
    );
    assert!(
        !dir.join("clusters/demo/flux-system/gotk-components.yaml")
            .exists()
    );

    // Offline, an uncached release is refused with what to do.
    let err = fails(download(&world, &["--flux-version", "2.9.3", "--offline"]));
    assert!(
        err.contains("--offline forbids downloading") && err.contains("--flux-manifests"),
        "{err}"
    );
    // A version the server does not have.
    let err = fails(download(&world, &["--flux-version", "9.9.9"]));
    assert!(err.contains("404"), "{err}");
}

#[test]
fn generate_lists_flux_system_and_refuses_a_competing_sync() {
    let world = World::new();
    let dir = repo(
        &world,
        "  flux-sync:\n    enabled: true\n    url: ssh://git@github.com/acme/fleet.git\n    path: ./clusters/demo\n",
    );
    let manifests = fixture();
    ok(bootstrap(
        &world,
        &dir,
        &["--flux-manifests", manifests.to_str().unwrap()],
    ));
    let cluster = dir.join("clusters/demo");
    let generate = |world: &World| world.cairn_in(&cluster, &["generate"]);
    let err = fails(generate(&world));
    assert!(
        err.contains("component \"flux-sync\"")
            && err.contains("GitRepository/flux-system/flux-system competes with the cluster sync `cairn bootstrap` owns")
            && err.contains("flux-sync: {enabled: false}"),
        "{err}"
    );
    assert!(!read(&cluster.join("cairn.lock")).contains("files:"));

    // flux-sync for another path and name is fine beside bootstrap's.
    let config = read(&cluster.join("cairn.yaml")).replace(
        "    path: ./clusters/demo\n",
        "    path: ./tenants/shop\n    name: shop\n",
    );
    std::fs::write(cluster.join("cairn.yaml"), config).unwrap();
    ok(generate(&world));
    // The cluster's sync applies Flux itself and the layers, each
    // component's own Kustomization.
    let root = read(&cluster.join("kustomization.yaml"));
    assert!(
        root.contains("- flux-system\n") && root.contains("- layers.yaml\n"),
        "{root}"
    );
    let layers = read(&cluster.join("layers.yaml"));
    assert!(
        layers.contains("name: grafana\n") && layers.contains("path: ./clusters/demo/grafana\n"),
        "{layers}"
    );
    // Bootstrap's lock record survives generate, and status shows it.
    assert!(read(&cluster.join("cairn.lock")).contains("flux:\n  version: 2.9.4"));
    let status = ok(world.cairn_in(&cluster, &["status"]));
    assert!(
        status.contains("flux:       2.9.4 (from file)")
            && status.contains("secrets:    0 sealed for 1 age recipients"),
        "{status}"
    );

    // lint checks bootstrap's sync against Flux's CRDs with the rest.
    {
        let schemas = support::shared_schemas();
        let mut cmd = world.cairn_in(&cluster, &["lint", "--schemas"]);
        cmd.arg(&schemas);
        let out = ok(cmd);
        assert!(out.contains(", 0 problems"), "{out}");
        let mut broken = read(&cluster.join("flux-system/gotk-sync.yaml"));
        broken = broken.replace("  prune: true\n", "  prune: yes-please\n");
        std::fs::write(cluster.join("flux-system/gotk-sync.yaml"), &broken).unwrap();
        let mut cmd = world.cairn_in(&cluster, &["lint", "--schemas"]);
        cmd.arg(&schemas);
        let output = cmd.output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        assert!(
            stdout(&output)
                .contains("flux-system/gotk-sync.yaml: Kustomization/flux-system: spec.prune"),
            "{}",
            stdout(&output)
        );
        ok(bootstrap(&world, &dir, &[]));
    }

    // kubectl's kustomize builds the cluster as Flux will: Flux itself,
    // its sync, and the stack.
    let output = support::kubectl()
        .args(["kustomize"])
        .arg(&cluster)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let built = stdout(&output);
    assert!(
        built.contains("name: gitrepositories.source.toolkit.fluxcd.io")
            && built.contains("path: ./clusters/demo")
            && built.contains("name: grafana"),
        "{built}"
    );
}

#[test]
fn a_flux_cli_on_path_makes_the_manifests_when_no_file_is_given() {
    let world = World::new();
    let dir = repo(&world, "");
    // A stand-in `flux` that answers `flux install --export` as the real one
    // does (its output is the fixture).
    let bin = stand_in(
        &world,
        "flux",
        "install --export --version=v2.9.4",
        &format!("cat {}", fixture().display()),
    );
    let mut cmd = bootstrap(&world, &dir, &["--flux-version", "2.9.4"]);
    cmd.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    let out = ok(cmd);
    assert!(out.contains("with Flux 2.9.4 (flux CLI)"), "{out}");
    assert!(read(&dir.join("clusters/demo/cairn.lock")).contains("source: flux CLI"));
}

#[test]
fn an_output_in_a_subdirectory_is_wired_into_a_root_kustomization_bootstrap_keeps() {
    let world = World::new();
    let dir = repo(&world, "");
    let cluster = dir.join("clusters/demo");
    let config = read(&cluster.join("cairn.yaml")).replace("values:\n", "output: stack\nvalues:\n");
    std::fs::write(cluster.join("cairn.yaml"), config).unwrap();
    let manifests = fixture();
    let manifests = manifests.to_str().unwrap();
    ok(bootstrap(&world, &dir, &["--flux-manifests", manifests]));
    let root = cluster.join("kustomization.yaml");
    let text = read(&root);
    assert!(text.contains("  - flux-system\n  - stack\n"), "{text}");

    // The user's additions stay; a missing entry is added back.
    std::fs::write(
        &root,
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- stack\n- extra.yaml\n",
    )
    .unwrap();
    ok(bootstrap(&world, &dir, &[]));
    let text = read(&root);
    assert!(
        text.contains("- stack\n- extra.yaml\n- flux-system\n"),
        "{text}"
    );

    ok(world.cairn_in(&cluster, &["generate"]));
    assert!(!read(&cluster.join("stack/kustomization.yaml")).contains("flux-system"));
}

#[test]
fn scanning_the_host_key_is_an_explicit_request_and_uses_the_urls_host_and_port() {
    let world = World::new();
    let dir = repo(&world, "");
    // A stand-in for OpenSSH's ssh-keyscan: no SSH server runs in tests.
    let bin = stand_in(
        &world,
        "ssh-keyscan",
        "-p 2222 git.example.com",
        "echo '[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'",
    );
    let mut cmd = world.cairn_in(
        &dir,
        &[
            "bootstrap",
            "--cluster",
            "demo",
            "--url",
            "ssh://git@git.example.com:2222/org/fleet.git",
            "--scan-host-key",
            "--flux-manifests",
        ],
    );
    cmd.arg(fixture())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    ok(cmd);
    let keys = world.config_dir().join("cairn/keys/demo");
    assert!(read(&keys.join("known_hosts")).starts_with("[git.example.com]:2222 ssh-ed25519 "));
    assert!(read(&keys.join("secrets.yaml")).contains("[git.example.com]:2222 ssh-ed25519"));
}
