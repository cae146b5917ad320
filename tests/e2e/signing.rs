//! Signed releases: a stack's releases are SSH-signed tags, checked by
//! default against the keys cairn.yaml trusts. Signatures made by git
//! (`git tag -s`) are accepted, and those `cairn stack release` makes pass
//! `git verify-tag`.

use std::path::{Path, PathBuf};

use crate::support;
use support::{StackEntry, World, git, keygen, stderr, stdout};

/// The SHA256 fingerprint ssh-keygen gives a public key file.
fn fingerprint(private: &Path) -> String {
    let out = std::process::Command::new(support::system_tool("ssh-keygen"))
        .arg("-lf")
        .arg(private.with_extension("pub"))
        .output()
        .unwrap();
    stdout(&out).split_whitespace().nth(1).unwrap().to_string()
}

/// Tags HEAD with git itself, signed with `key` (or unsigned).
fn tag(dir: &Path, tag: &str, key: Option<&Path>) {
    match key {
        Some(key) => support::release_signed_by(dir, tag, key),
        None => {
            git(dir, &["tag", tag]);
        }
    }
}

/// A stack repository with one component, released as `v1.0.0`.
fn stack(world: &World, key: Option<&Path>) -> PathBuf {
    let dir = world.path("stack");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    next(&dir, "v1.0.0", key);
    dir
}

/// Another release of the stack in `dir`.
fn next(dir: &Path, version: &str, key: Option<&Path>) {
    let entries = [StackEntry {
        name: "gateway",
        crate_name: "gateway",
        enabled: true,
    }];
    support::write_stack(dir, &entries, &format!("Release {version}."));
    std::fs::write(dir.join("VERSION"), version).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", version]);
    tag(dir, version, key);
}

fn cairn(world: &World, dir: &Path, args: &[&str]) -> std::process::Output {
    world.cairn_in(dir, args).output().unwrap()
}

fn values(world: &World) -> PathBuf {
    let dir = world.path("gitops");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    dir
}

fn set_domain(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        config,
        text.replace("    # domain: null", "    domain: example.com"),
    )
    .unwrap();
}

#[test]
fn an_unsigned_release_is_refused_unless_the_opt_out_is_recorded() {
    let world = World::new();
    let stack = stack(&world, None);
    let gitops = values(&world);
    let refused = cairn(&world, &gitops, &["init", stack.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    assert!(
        err.contains("release v1.0.0 of stack")
            && err.contains("is not signed")
            && err.contains("--unsigned"),
        "{err}"
    );
    assert!(!gitops.join("cairn.yaml").exists());

    let init = cairn(
        &world,
        &gitops,
        &["init", stack.to_str().unwrap(), "--unsigned"],
    );
    assert!(init.status.success(), "{}", stderr(&init));
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    assert!(config.contains("  unsigned: true\n"), "{config}");
    set_domain(&gitops.join("cairn.yaml"));
    let generate = cairn(&world, &gitops, &["generate"]);
    assert!(generate.status.success(), "{}", stderr(&generate));
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(lock.contains("  unsigned: true\n"), "{lock}");

    // Without the opt-out, the same release is refused by every command
    // that resolves it.
    let text = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    let text = text.replace("  unsigned: true\n", "");
    std::fs::write(gitops.join("cairn.yaml"), text).unwrap();
    for args in [&["generate"][..], &["verify"], &["diff"]] {
        let out = cairn(&world, &gitops, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("is not signed"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_signed_release_is_pinned_and_a_new_key_needs_trust() {
    let world = World::new();
    let (key_a, public_a) = keygen(&world, "publisher-a");
    let (key_b, _) = keygen(&world, "publisher-b");
    let stack = stack(&world, Some(&key_a));
    let gitops = values(&world);

    // --signer that is not the release's key: refused.
    let (_, other) = keygen(&world, "someone-else");
    let wrong = cairn(
        &world,
        &gitops,
        &["init", stack.to_str().unwrap(), "--signer", &other],
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains(&format!("is signed by {}", fingerprint(&key_a))));

    // init trusts the key that signed the release, and says which.
    let init = cairn(&world, &gitops, &["init", stack.to_str().unwrap()]);
    assert!(init.status.success(), "{}", stderr(&init));
    assert!(
        stdout(&init).contains(&format!("the release is signed by {}", fingerprint(&key_a))),
        "{}",
        stdout(&init)
    );
    let config = std::fs::read_to_string(gitops.join("cairn.yaml")).unwrap();
    let key_a_only = public_a.rsplit_once(' ').unwrap().0;
    assert!(
        config.contains(&format!("  signers:\n    - {key_a_only}\n")),
        "{config}"
    );
    set_domain(&gitops.join("cairn.yaml"));
    let generate = cairn(&world, &gitops, &["generate"]);
    assert!(generate.status.success(), "{}", stderr(&generate));
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(
        lock.contains(&format!("signer: {}", fingerprint(&key_a))),
        "{lock}"
    );

    // The next release comes signed by another key: refused, naming it.
    next(&stack, "v1.1.0", Some(&key_b));
    let update = cairn(&world, &gitops, &["update"]);
    assert_eq!(update.status.code(), Some(2));
    let err = stderr(&update);
    let fp_b = fingerprint(&key_b);
    assert!(
        err.contains(&format!(
            "release v1.1.0 of stack {} is signed by {fp_b}",
            stack.display()
        )) && err.contains(&format!("it trusts {}", fingerprint(&key_a)))
            && err.contains(&format!("`cairn trust {fp_b}`")),
        "{err}"
    );

    // Trusting takes the fingerprint checked with the publisher, and shows
    // the keys before.
    let mistaken = cairn(&world, &gitops, &["trust", &fingerprint(&key_a)]);
    assert_eq!(mistaken.status.code(), Some(2));
    assert!(stderr(&mistaken).contains(&format!("is signed by {fp_b}, not by")));
    let trust = cairn(&world, &gitops, &["trust", &fp_b]);
    assert!(trust.status.success(), "{}", stderr(&trust));
    let said = stdout(&trust);
    assert!(
        said.contains(&format!("trusted before: {}", fingerprint(&key_a)))
            && said.contains(&format!("trusted now, too: {fp_b}")),
        "{said}"
    );
    let update = cairn(&world, &gitops, &["update"]);
    assert!(update.status.success(), "{}", stderr(&update));
    let generate = cairn(&world, &gitops, &["generate"]);
    assert!(generate.status.success(), "{}", stderr(&generate));
    let lock = std::fs::read_to_string(gitops.join("cairn.lock")).unwrap();
    assert!(lock.contains(&format!("signer: {fp_b}")), "{lock}");

    // A signed release copied under a newer version's name: refused.
    git(&stack, &["tag", "v9.0.0", "v1.0.0"]);
    let copied = cairn(&world, &gitops, &["update", "--to", "v9.0.0"]);
    assert_eq!(copied.status.code(), Some(2));
    assert!(
        stderr(&copied).contains("release v9.0.0 of stack")
            && stderr(&copied).contains("carries the signature of v1.0.0"),
        "{}",
        stderr(&copied)
    );
    git(&stack, &["tag", "-d", "v9.0.0"]);

    // A signed tag whose content was changed afterwards: refused.
    let raw = git(&stack, &["cat-file", "tag", "v1.1.0"]);
    let forged = raw.replace("tag v1.1.0\n", "tag v1.2.0\n");
    let id = {
        let mut child = std::process::Command::new("git")
            .args(["hash-object", "-t", "tag", "-w", "--stdin"])
            .current_dir(&stack)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(forged.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        stdout(&out).trim().to_string()
    };
    git(&stack, &["update-ref", "refs/tags/v1.2.0", &id]);
    let update = cairn(&world, &gitops, &["update"]);
    assert_eq!(update.status.code(), Some(2));
    assert!(
        stderr(&update).contains("does not match its content"),
        "{}",
        stderr(&update)
    );
}

#[test]
fn stack_release_signs_tags_that_git_verifies() {
    let world = World::new();
    let (key, public) = keygen(&world, "publisher");
    let dir = world.path("stack");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    support::write_stack(
        &dir,
        &[StackEntry {
            name: "gateway",
            crate_name: "gateway",
            enabled: true,
        }],
        "First.",
    );
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "first"]);

    let mut release = world.cairn_in(&dir, &["stack", "release", "v1.0.0", "--key"]);
    release
        .arg(&key)
        .env("GIT_COMMITTER_NAME", "Pub")
        .env("GIT_COMMITTER_EMAIL", "pub@example.com");
    let out = release.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("signed by {}", fingerprint(&key))));

    // git checks it with OpenSSH's ssh-keygen -Y verify.
    let allowed = world.write("allowed_signers", &format!("pub@example.com {public}\n"));
    let verified = std::process::Command::new("git")
        .args([
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", allowed.display()),
        ])
        .args(["verify-tag", "v1.0.0"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(
        stderr(&verified).contains("Good \"git\" signature"),
        "{}",
        stderr(&verified)
    );

    // A release never changes, and only a committed stack is released.
    let again = world
        .cairn_in(&dir, &["stack", "release", "v1.0.0", "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("v1.0.0 already exists"));
    std::fs::write(
        dir.join("stack.yaml"),
        std::fs::read_to_string(dir.join("stack.yaml")).unwrap() + "# more\n",
    )
    .unwrap();
    let dirty = world
        .cairn_in(&dir, &["stack", "release", "v1.0.1", "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(dirty.status.code(), Some(2));
    assert!(
        stderr(&dirty).contains("differs from the committed one"),
        "{}",
        stderr(&dirty)
    );
    git(&dir, &["checkout", "stack.yaml"]);

    // And a cluster trusting the key runs it.
    let gitops = values(&world);
    let init = cairn(
        &world,
        &gitops,
        &["init", dir.to_str().unwrap(), "--signer", &public],
    );
    assert!(init.status.success(), "{}", stderr(&init));
    set_domain(&gitops.join("cairn.yaml"));
    let generate = cairn(&world, &gitops, &["generate"]);
    assert!(generate.status.success(), "{}", stderr(&generate));
}
