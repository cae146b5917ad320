//! Air-gapped bundles: a stack release exported on a machine that reaches
//! its git host initialises a cluster on one that reaches nothing, with
//! the lock it would have had from the source.

use std::path::{Path, PathBuf};

use crate::support;
use support::{GitDaemon, World, stderr, stdout};

fn flux_manifests() -> PathBuf {
    support::root().join("tests/fixtures/flux/install.yaml")
}

/// `init SOURCE` and `generate` (`extra` added to generate: `--offline`).
fn init_and_generate(world: &World, source: &str, dir: &Path, extra: &[&str]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    support::git(dir, &["init", "-q"]);
    let init = world
        .cairn_in(dir, &["init", source, "--version", "v0.1.0"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", stderr(&init));
    let config = dir.join("cairn.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("    # domain: null", "    domain: example.com"),
    )
    .unwrap();
    let generate = world
        .cairn_in(dir, &["generate"])
        .args(extra)
        .output()
        .unwrap();
    assert!(generate.status.success(), "{}", stderr(&generate));
    std::fs::read_to_string(dir.join("cairn.lock")).unwrap()
}

#[test]
fn a_bundle_initialises_a_cluster_with_no_network_and_the_same_lock() {
    // The connected machine: the stack on a git host, exported with Flux.
    let connected = World::isolated();
    let stack = connected.stack_repo();
    let daemon = GitDaemon::serve(stack.parent().unwrap());
    let url = format!("git://127.0.0.1:{}/stack", daemon.1);
    let bundle = connected.path("platform.cairn");
    let export = connected
        .cairn()
        .args([
            "bundle",
            "export",
            &url,
            "--version",
            "v0.1.0",
            "--flux-manifests",
        ])
        .arg(flux_manifests())
        .arg("-O")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", stderr(&export));
    let said = stdout(&export);
    assert!(
        said.contains(&format!("stack {url} v0.1.0")) && said.contains("signed by SHA256:"),
        "{said}"
    );
    let expected = init_and_generate(&connected, &url, &connected.path("online"), &[]);
    drop(daemon);

    // The machine with no network: nothing cached, the git host gone.
    let offline = World::isolated();
    let carried = offline.path("platform.cairn");
    std::fs::copy(&bundle, &carried).unwrap();
    // (No network: generate is told so, as on an air-gapped machine.)
    let lock = init_and_generate(
        &offline,
        carried.to_str().unwrap(),
        &offline.path("gitops"),
        &["--offline"],
    );
    let stack_part = |lock: &str| lock.split("valuesSha256").next().unwrap().to_string();
    assert_eq!(stack_part(&lock), stack_part(&expected));
    assert!(lock.contains(&format!("source: {url}")), "{lock}");
    assert_eq!(lock, expected);

    // Bootstrap takes Flux's manifests from the bundle.
    offline.write("known_hosts", support::KNOWN_HOSTS);
    let bootstrap = offline
        .cairn_in(
            &offline.path("gitops"),
            &[
                "bootstrap",
                "--cluster",
                "edge",
                "--path",
                ".",
                "--url",
                "ssh://git@github.com/acme/fleet.git",
                "--offline",
                "--known-hosts",
            ],
        )
        .arg(offline.path("known_hosts"))
        .arg("--keys-dir")
        .arg(offline.path("keys"))
        .arg("--flux-manifests")
        .arg(&carried)
        .output()
        .unwrap();
    assert!(bootstrap.status.success(), "{}", stderr(&bootstrap));
    let components =
        std::fs::read_to_string(offline.path("gitops/flux-system/gotk-components.yaml")).unwrap();
    // The bundled manifests, under bootstrap's header.
    assert!(
        components.ends_with(&std::fs::read_to_string(flux_manifests()).unwrap()),
        "{components}"
    );
}

/// Adds a hostile entry to a bundle.
type Entry = fn(&mut tar::Builder<std::fs::File>);

#[test]
fn a_hostile_bundle_is_refused() {
    let world = World::isolated();
    let cases: [(&str, Entry); 3] = [
        ("leaves the bundle", |b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_cksum();
            let name = b"../evil";
            // Written raw: the tar crate refuses to build such a path.
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, &b"x"[..]).unwrap();
        }),
        ("is not a plain file or directory", |b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, "stack/HEAD", "/etc/passwd").unwrap();
        }),
        ("is not a cairn bundle (no cairn-bundle.yaml)", |b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(2);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, "stack/HEAD", &b"x\n"[..]).unwrap();
        }),
    ];
    for (expected, build) in cases {
        let file = world.path("hostile.cairn");
        let mut builder = tar::Builder::new(std::fs::File::create(&file).unwrap());
        build(&mut builder);
        builder.finish().unwrap();
        drop(builder);
        let out = world
            .cairn()
            .args(["init", file.to_str().unwrap(), "--path", "c"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{expected}");
        assert!(
            stderr(&out).contains(expected),
            "{expected}: {}",
            stderr(&out)
        );
        assert!(!world.path("evil").exists());
        assert!(!world.path("c/cairn.yaml").exists());
    }
}
