//! Secrets never reach git in plaintext: secret values come from references,
//! rendered Secrets are sealed with SOPS for age recipients (checked with the
//! `age` CLI and Python's `cryptography`), an unchanged secret keeps its
//! ciphertext, and verify/lint catch a plaintext secret anywhere.

use crate::support;

use std::path::{Path, PathBuf};

use support::{World, stderr, stdout};

const PASSWORD: &str = "correct-horse-battery";

/// An age identity made by the `age-keygen` CLI: (identity file, recipient).
fn age_identity(world: &World, name: &str) -> (PathBuf, String) {
    let path = world.path(&format!("keys/{name}.txt"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let output = std::process::Command::new(support::system_tool("age-keygen"))
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (path, recipient)
}

/// A GitOps repo (a git work tree) whose cairn.yaml uses the reference stack
/// with grafana's admin password from `password` and `secrets`.
fn gitops(world: &World, password: &str, secrets: &str) -> PathBuf {
    let dir = world.path("gitops");
    std::fs::create_dir_all(&dir).unwrap();
    support::git(&dir, &["init", "-q"]);
    write_config(&dir, password, secrets);
    dir
}

fn write_config(dir: &Path, password: &str, secrets: &str) {
    std::fs::write(
        dir.join("cairn.yaml"),
        format!(
            "stack:\n  source: {}\nvalues:\n  cert-manager:\n    issuer:\n      email: ops@example.com\n  namespaces:\n    enabled: false\n  grafana:\n    adminPassword: {password}\n{secrets}",
            support::reference_stack().display()
        ),
    )
    .unwrap();
}

/// A GitOps repo taking grafana's password from `$GRAFANA_PASSWORD`,
/// sealing for `recipient`.
fn env_repo(world: &World, recipient: &str) -> PathBuf {
    gitops(world, "{env: GRAFANA_PASSWORD}", &recipients(&[recipient]))
}

fn recipients(list: &[&str]) -> String {
    let mut out = String::from("secrets:\n  age:\n");
    for r in list {
        out.push_str(&format!("    - {r}\n"));
    }
    out
}

fn cairn(world: &World, dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = world.cairn_in(dir, args);
    cmd.env("GRAFANA_PASSWORD", PASSWORD);
    cmd
}

fn run(mut cmd: assert_cmd::Command) -> std::process::Output {
    cmd.output().unwrap()
}

fn ok(cmd: assert_cmd::Command) -> String {
    let output = run(cmd);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

#[test]
fn a_secret_written_in_plaintext_is_refused_and_nothing_is_written() {
    let world = World::new();
    let (_, recipient) = age_identity(&world, "team");
    let dir = gitops(&world, PASSWORD, &recipients(&[&recipient]));
    let output = run(cairn(&world, &dir, &["generate"]));
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("cairn.yaml")
            && err.contains("grafana.adminPassword: is a secret")
            && err.contains("{env: NAME}"),
        "{err}"
    );
    assert!(
        !err.contains(PASSWORD),
        "the error repeats the secret: {err}"
    );
    assert!(!dir.join("cairn.lock").exists() && !dir.join("grafana").exists());
}

#[test]
fn a_rendered_secret_without_recipients_is_refused() {
    let world = World::new();
    let dir = gitops(&world, "{env: GRAFANA_PASSWORD}", "");
    let output = run(cairn(&world, &dir, &["generate"]));
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("component \"grafana\", file \"admin-secret.yaml\"")
            && err.contains("plaintext stringData")
            && err.contains("secrets.age"),
        "{err}"
    );
    assert!(!dir.join("cairn.lock").exists());
}

#[test]
fn sealed_secrets_open_with_independent_tools_and_nothing_leaks() {
    let world = World::new();
    let (team, team_recipient) = age_identity(&world, "team");
    let (cluster, cluster_recipient) = age_identity(&world, "cluster");
    let dir = gitops(
        &world,
        "{env: GRAFANA_PASSWORD}",
        &recipients(&[&team_recipient, &cluster_recipient]),
    );
    ok(cairn(&world, &dir, &["generate"]));

    let sealed = dir.join("grafana/admin-secret.yaml");
    let text = std::fs::read_to_string(&sealed).unwrap();
    assert!(
        text.contains("admin-password: ENC[AES256_GCM,")
            && text.contains("encrypted_regex: ^(data|stringData)$")
            && text.contains("name: grafana-admin"),
        "{text}"
    );
    // Either recipient opens it, with tools that share no code with cairn.
    for identity in [&team, &cluster] {
        let docs = support::sops_check(identity, std::slice::from_ref(&sealed));
        assert_eq!(docs[0]["stringData"]["admin-password"], PASSWORD);
        assert_eq!(docs[0]["metadata"]["namespace"], "monitoring");
    }

    // Nowhere in the repository, lock included, is the password, its
    // unsalted hash, or a key.
    let plain_hash = support::sha256_hex(PASSWORD);
    for (path, content) in support::read_tree(&dir) {
        assert!(!content.contains(PASSWORD), "{path} holds the password");
        assert!(!content.contains(&plain_hash), "{path} holds its hash");
        assert!(
            !content.contains("AGE-SECRET-KEY-1") && !content.contains("PRIVATE KEY"),
            "{path} holds a key"
        );
    }
    // The lock names the sealed object and holds nothing computed from its
    // plaintext, which would let a reader of the repo test guesses offline.
    let lock = std::fs::read_to_string(dir.join("cairn.lock")).unwrap();
    assert!(
        lock.contains("sealed:\n- grafana/admin-secret.yaml#Secret/monitoring/grafana-admin\n")
            && !lock.contains("salt"),
        "{lock}"
    );

    // A .sops.yaml lets the sops CLI edit what cairn wrote.
    let rules = std::fs::read_to_string(dir.join(".sops.yaml")).unwrap();
    assert!(
        rules.contains(r"path_regex: \.ya?ml$")
            && rules.contains(&format!("{team_recipient},{cluster_recipient}"))
            && rules.contains("encrypted_regex: ^(data|stringData)$"),
        "{rules}"
    );
    assert!(ok(cairn(&world, &dir, &["verify"])).contains("matches"));

    // The grafana layer's Flux Kustomization decrypts with the cluster's
    // identity, and kustomize, the first stage of Flux's kustomize-controller,
    // builds its directory and hands the Secret on with its SOPS metadata
    // intact, for the controller to decrypt.
    let layers = std::fs::read_to_string(dir.join("layers.yaml")).unwrap();
    let grafana = layers
        .split("---\n")
        .find(|d| d.contains("  name: grafana\n"))
        .unwrap();
    assert!(
        grafana.contains("decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"),
        "{grafana}"
    );
    let output = support::kubectl()
        .arg("kustomize")
        .arg(dir.join("grafana"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let built = stdout(&output);
    let secret = cairn::yaml::documents(&built)
        .into_iter()
        .map(Result::unwrap)
        .find(|d| d["kind"] == "Secret")
        .unwrap();
    let original: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(secret["sops"], original["sops"]);
    assert_eq!(secret["stringData"], original["stringData"]);
}

#[test]
fn an_unchanged_secret_keeps_its_ciphertext_where_an_identity_opens_it() {
    let world = World::new();
    let (identity, recipient) = age_identity(&world, "team");
    let dir = env_repo(&world, &recipient);
    ok(cairn(&world, &dir, &["generate"]));
    let sealed = dir.join("grafana/admin-secret.yaml");
    let first = std::fs::read(&sealed).unwrap();
    let with_identity = |args: &[&str]| {
        let mut cmd = cairn(&world, &dir, args);
        cmd.env("SOPS_AGE_KEY_FILE", &identity);
        cmd
    };

    // An identity among the recipients opens the previous ciphertext: the
    // value is unchanged, so is the file.
    let out = ok(with_identity(&["generate"]));
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(std::fs::read(&sealed).unwrap(), first);

    // Without one, verify cannot check the sealed object, says so, checks
    // the rest, and writes nothing.
    let out = ok(cairn(&world, &dir, &["verify"]));
    assert!(
        out.contains("not checked") && out.contains("grafana-admin") && out.contains("matches"),
        "{out}"
    );
    assert_eq!(std::fs::read(&sealed).unwrap(), first);

    // ... and generate cannot tell whether it changed: it seals afresh and
    // says why. What it wrote still opens to the same password.
    let output = run(cairn(&world, &dir, &["generate"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("encrypted afresh") && err.contains("SOPS_AGE_KEY_FILE"),
        "{err}"
    );
    assert_ne!(std::fs::read(&sealed).unwrap(), first);
    let docs = support::sops_check(&identity, std::slice::from_ref(&sealed));
    assert_eq!(docs[0]["stringData"]["admin-password"], PASSWORD);
    let resealed = std::fs::read(&sealed).unwrap();

    // diff says a sealed object would change, and never shows ciphertext.
    let mut cmd = with_identity(&["diff"]);
    cmd.env("GRAFANA_PASSWORD", "a-new-password");
    let output = run(cmd);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let shown = stdout(&output);
    assert!(
        shown.contains("# Secret/monitoring/grafana-admin: sealed with SOPS (ciphertext ")
            && !shown.contains("ENC[")
            && !shown.contains("a-new-password"),
        "{shown}"
    );

    // A new password is a new ciphertext, which opens to it.
    let mut cmd = with_identity(&["generate"]);
    cmd.env("GRAFANA_PASSWORD", "a-new-password");
    let out = ok(cmd);
    assert!(out.contains("grafana: 1 updated"), "{out}");
    assert_ne!(std::fs::read(&sealed).unwrap(), resealed);
    let docs = support::sops_check(&identity, std::slice::from_ref(&sealed));
    assert_eq!(docs[0]["stringData"]["admin-password"], "a-new-password");

    // verify re-renders with the same references and finds it unchanged.
    let mut cmd = with_identity(&["verify"]);
    cmd.env("GRAFANA_PASSWORD", "a-new-password");
    let out = ok(cmd);
    assert!(!out.contains("not checked"), "{out}");
}

#[test]
fn file_and_sops_references_resolve_and_a_file_in_the_repo_is_refused() {
    let world = World::new();
    let (identity, recipient) = age_identity(&world, "team");
    let dir = gitops(&world, "{file: secret.txt}", &recipients(&[&recipient]));
    std::fs::write(dir.join("secret.txt"), format!("{PASSWORD}\n")).unwrap();
    let output = run(cairn(&world, &dir, &["generate"]));
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("grafana.adminPassword: {file: secret.txt} is inside the git repository"),
        "{err}"
    );

    // Outside the repository, it is read (one trailing newline dropped).
    let outside = world.write("private/grafana.txt", &format!("{PASSWORD}\n"));
    write_config(
        &dir,
        &format!("{{file: {}}}", outside.display()),
        &recipients(&[&recipient]),
    );
    ok(cairn(&world, &dir, &["generate"]));
    let sealed = dir.join("grafana/admin-secret.yaml");
    let docs = support::sops_check(&identity, std::slice::from_ref(&sealed));
    assert_eq!(docs[0]["stringData"]["admin-password"], PASSWORD);

    // A SOPS file may live in the repository: the value is read from it
    // with the user's identity.
    std::fs::copy(&sealed, dir.join("team-secrets.yaml")).unwrap();
    write_config(
        &dir,
        "{sops: team-secrets.yaml, key: stringData.admin-password}",
        &recipients(&[&recipient]),
    );
    let output = run(cairn(&world, &dir, &["generate"]));
    assert!(
        stderr(&output).contains("cannot decrypt") && stderr(&output).contains("SOPS_AGE_KEY_FILE"),
        "{}",
        stderr(&output)
    );
    let mut cmd = cairn(&world, &dir, &["generate"]);
    cmd.env("SOPS_AGE_KEY_FILE", &identity);
    let out = ok(cmd);
    // Same password, same ciphertext: only the reference changed.
    assert!(!out.contains("grafana: 1 updated"), "{out}");
    let docs = support::sops_check(&identity, std::slice::from_ref(&sealed));
    assert_eq!(docs[0]["stringData"]["admin-password"], PASSWORD);
}

#[test]
fn verify_and_lint_fail_on_a_plaintext_secret_anywhere_in_the_repo() {
    let world = World::new();
    let (_, recipient) = age_identity(&world, "team");
    let dir = env_repo(&world, &recipient);
    ok(cairn(&world, &dir, &["generate"]));
    std::fs::create_dir_all(dir.join("extra")).unwrap();
    std::fs::write(
        dir.join("extra/leak.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  token: hunter2\n",
    )
    .unwrap();
    let output = run(cairn(&world, &dir, &["verify"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("plaintext secret: extra/leak.yaml Secret \"leak\""),
        "{}",
        stdout(&output)
    );
    let output = run(cairn(&world, &dir, &["lint"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("extra/leak.yaml: Secret \"leak\" has plaintext stringData"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_hand_replaced_sealed_file_is_not_taken_for_cairns_own() {
    let world = World::new();
    let (_, recipient) = age_identity(&world, "team");
    let dir = env_repo(&world, &recipient);
    ok(cairn(&world, &dir, &["generate"]));
    let sealed = dir.join("grafana/admin-secret.yaml");
    let ours = std::fs::read_to_string(&sealed).unwrap();

    // Someone puts another sealed password in its place (as `sops` would).
    let elsewhere = World::new();
    let other = env_repo(&elsewhere, &recipient);
    let mut cmd = cairn(&elsewhere, &other, &["generate"]);
    cmd.env("GRAFANA_PASSWORD", "someone-elses-password");
    ok(cmd);
    let theirs = std::fs::read_to_string(other.join("grafana/admin-secret.yaml")).unwrap();
    assert_ne!(theirs, ours);
    std::fs::write(&sealed, &theirs).unwrap();
    let lock = std::fs::read_to_string(dir.join("cairn.lock")).unwrap();

    // Without an identity cairn cannot read it, so it does not vouch for it:
    // the edit is a conflict, and nothing is written.
    let output = run(cairn(&world, &dir, &["generate"]));
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("grafana/admin-secret.yaml"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&sealed).unwrap(), theirs);
    assert_eq!(
        std::fs::read_to_string(dir.join("cairn.lock")).unwrap(),
        lock
    );
}

#[test]
fn init_says_how_to_give_a_secret_value() {
    let world = World::new();
    let dir = world.path("gitops");
    std::fs::create_dir_all(&dir).unwrap();
    let stack = support::reference_stack();
    ok(cairn(&world, &dir, &["init", stack.to_str().unwrap()]));
    let config = std::fs::read_to_string(dir.join("cairn.yaml")).unwrap();
    assert!(
        config.contains(
            "    # adminPassword: {env: NAME}  # a secret: {env: NAME}, {file: PATH} or {sops: FILE, key: KEY}\n"
        ) && !config.contains("    adminPassword:"),
        "{config}"
    );
    assert!(config.contains("    # adminSecret: null\n"), "{config}");
}

#[test]
fn a_secret_the_schema_refuses_is_reported_without_its_value() {
    let world = World::new();
    let (_, recipient) = age_identity(&world, "team");
    let dir = env_repo(&world, &recipient);
    // grafana asks for at least 8 characters.
    let mut cmd = cairn(&world, &dir, &["generate"]);
    cmd.env("GRAFANA_PASSWORD", "short");
    let output = run(cmd);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("grafana.adminPassword: (secret) is shorter than 8 characters"),
        "{err}"
    );
    assert!(!err.contains("short\""), "{err}");
}

#[test]
fn a_sops_file_made_by_another_implementation_is_read_and_its_tampering_caught() {
    let world = World::new();
    let (identity, recipient) = age_identity(&world, "team");
    let dir = gitops(
        &world,
        "{sops: team.sops.yaml, key: grafana.password}",
        &recipients(&[&recipient]),
    );
    let encrypted = support::sops_encrypt(
        &recipient,
        &format!("grafana:\n  password: {PASSWORD}\n  port: 3000\n  admin: true\n"),
    );
    assert!(!encrypted.contains(PASSWORD));
    std::fs::write(dir.join("team.sops.yaml"), &encrypted).unwrap();
    let mut cmd = cairn(&world, &dir, &["generate"]);
    cmd.env("SOPS_AGE_KEY_FILE", &identity);
    ok(cmd);
    let sealed = dir.join("grafana/admin-secret.yaml");
    let docs = support::sops_check(&identity, std::slice::from_ref(&sealed));
    assert_eq!(docs[0]["stringData"]["admin-password"], PASSWORD);

    // Two encrypted values swapped: the MAC (or the path bound into each
    // value) gives it away, and nothing is written.
    let doc: serde_yaml::Value = serde_yaml::from_str(&encrypted).unwrap();
    let mut swapped = doc.clone();
    swapped["grafana"]["port"] = doc["grafana"]["admin"].clone();
    swapped["grafana"]["admin"] = doc["grafana"]["port"].clone();
    std::fs::write(
        dir.join("team.sops.yaml"),
        serde_yaml::to_string(&swapped).unwrap(),
    )
    .unwrap();
    let before = std::fs::read_to_string(&sealed).unwrap();
    let mut cmd = cairn(&world, &dir, &["generate"]);
    cmd.env("SOPS_AGE_KEY_FILE", &identity);
    let output = run(cmd);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot decrypt") && stderr(&output).contains("team.sops.yaml"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&sealed).unwrap(), before);
}

#[test]
fn nothing_computed_from_a_secret_is_kept_in_the_cache() {
    let world = World::isolated();
    let (_, recipient) = age_identity(&world, "team");
    let dir = env_repo(&world, &recipient);
    ok(cairn(&world, &dir, &["generate"]));
    // Renders are memoized, but not grafana's, which holds the secret.
    let mut files = vec![world.cache_dir()];
    let mut memoized = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.to_string_lossy().contains(".render-") {
            memoized += 1;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{} holds the secret",
            path.display()
        );
    }
    assert!(memoized > 0, "no render was memoized");
}
