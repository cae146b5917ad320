//! Shared by the end-to-end tests: the real `cairn` binary, the real
//! components built by `make plugins`, and temp dirs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A component built from `plugins/`, by crate name (`gateway`).
pub fn wasm(name: &str) -> PathBuf {
    let path = root()
        .join("target/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is missing: run `make plugins` first",
        path.display()
    );
    path
}

/// A test's own world: a temp dir, its own config directory, and the user
/// cache cairn runs with.
pub struct World {
    pub dir: tempfile::TempDir,
    cache: PathBuf,
}

impl World {
    /// A world sharing the tests' user cache (compiled components, clones,
    /// merge bases): each component is compiled once per build, not once
    /// per test. For tests that are not about the cache.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            cache: shared_cache(),
        }
    }

    /// A world with a cache of its own, empty at first: for tests that
    /// look into the cache, damage it or need it cold.
    pub fn isolated() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        Self { dir, cache }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `$XDG_CACHE_HOME` for this world's cairn.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache.clone()
    }

    /// The test's own config directory, where bootstrap keeps keys.
    pub fn config_dir(&self) -> PathBuf {
        self.path("config")
    }

    /// `cairn` with an isolated cache and config directory, and none of the
    /// user's age identities.
    pub fn cairn(&self) -> Command {
        let mut cmd = Command::cargo_bin("cairn").unwrap();
        cmd.env("XDG_CACHE_HOME", self.cache_dir())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("XDG_DATA_HOME", test_data_dir())
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .current_dir(self.dir.path());
        cmd
    }

    /// The same `cairn` as [`World::cairn`], as a plain process, for
    /// [`bounded`].
    pub fn cairn_process(&self, dir: &Path, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.env("XDG_CACHE_HOME", self.cache_dir())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("XDG_DATA_HOME", test_data_dir())
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .current_dir(dir)
            .args(args);
        cmd
    }

    /// Writes `content` to `rel`, returning its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// `cairn render` of `components` with `values` into `out`.
    pub fn render(&self, values: &str, out: &str, components: &[&str]) -> Command {
        let values = self.write("values.yaml", values);
        let mut cmd = self.cairn();
        cmd.arg("render")
            .arg("--values")
            .arg(values)
            .arg("--out")
            .arg(self.path(out));
        for c in components {
            match c.split_once('=') {
                Some((name, crate_name)) => {
                    cmd.arg(format!("{name}={}", wasm(crate_name).display()))
                }
                None => cmd.arg(wasm(c)),
            };
        }
        cmd
    }
}

/// Every file under `dir`, by relative path, with its content.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// The tree as one string, for snapshots.
pub fn tree_text(dir: &Path) -> String {
    read_tree(dir)
        .into_iter()
        .map(|(path, content)| format!("=== {path}\n{content}"))
        .collect()
}

/// What a process did, within its bounds.
pub struct Bounded {
    pub output: std::process::Output,
}

/// Runs `cmd`, killing it after `seconds`, and asserts that it finished in
/// time, within `mib` of memory, and without a panic: bounded work,
/// whatever its input.
// The child is reaped by `wait4` below, which also reports its peak memory.
#[allow(clippy::zombie_processes)]
pub fn bounded(mut cmd: std::process::Command, seconds: u64, mib: u64) -> Bounded {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cairn starts");
    let pid = child.id() as libc::pid_t;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out_thread = reader(Box::new(child.stdout.take().unwrap()));
    let err_thread = reader(Box::new(child.stderr.take().unwrap()));
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 fills it in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our child; WNOHANG returns at once.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            break (status, usage);
        }
        if started.elapsed() > std::time::Duration::from_secs(seconds) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "cairn {:?} ran past {seconds}s",
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let output = std::process::Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    };
    let peak_mib = usage.ru_maxrss as u64 / 1024;
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        !text.contains("panicked") && output.status.code() != Some(101),
        "cairn panicked:\n{text}"
    );
    assert!(
        peak_mib <= mib,
        "cairn {:?} used {peak_mib} MiB, more than {mib}",
        cmd.get_args().collect::<Vec<_>>()
    );
    Bounded { output }
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Real kubectl, installed by `tests/tools/install-k8s-tools` (`make test`
/// runs it).
pub fn kubectl() -> std::process::Command {
    let path = root().join("target/tools/bin/kubectl");
    assert!(
        path.exists(),
        "{} is missing: run tests/tools/install-k8s-tools",
        path.display()
    );
    std::process::Command::new(path)
}

/// Runs git (for setting up fixtures only; cairn itself never needs it).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    stdout(&output)
}

/// The SSH key test stacks sign their releases with (made once with
/// ssh-keygen, under target/test-data): the private key file and the
/// public key line.
pub fn release_key() -> (PathBuf, String) {
    static KEY: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let dir = test_data_dir().join("release-key");
        let private = dir.join("id_ed25519");
        if !private.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            let made = std::process::Command::new(system_tool("ssh-keygen"))
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "releases@test", "-f"])
                .arg(dir.join("new"))
                .output()
                .expect("ssh-keygen runs");
            assert!(made.status.success(), "{}", stderr(&made));
            std::fs::rename(dir.join("new.pub"), dir.join("id_ed25519.pub")).unwrap();
            std::fs::rename(dir.join("new"), &private).unwrap();
        }
        let public = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
        (private, public.trim().to_string())
    })
    .clone()
}

/// Tags HEAD of `dir` as `tag`, signed with [`release_key`] by git itself
/// (`git tag -s`, gpg.format=ssh): a release as publishers make them.
pub fn release(dir: &Path, tag: &str) {
    release_signed_by(dir, tag, &release_key().0);
}

/// [`release`], signed with the SSH private key in `key`.
pub fn release_signed_by(dir: &Path, tag: &str, key: &Path) {
    let key = format!("user.signingkey={}", key.display());
    git(
        dir,
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &key,
            "tag",
            "-s",
            "-m",
            tag,
            tag,
        ],
    );
}

/// The lines of cairn.yaml's `stack:` that trust [`release_key`].
pub fn trusted() -> String {
    format!("  signers:\n    - {}\n", release_key().1)
}

/// The hex sha256 of a text.
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// The hex sha256 of a file.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// One component of a test stack: its name in the stack, the crate it is
/// built from, and whether it is on by default.
pub struct StackEntry<'a> {
    pub name: &'a str,
    pub crate_name: &'a str,
    pub enabled: bool,
}

/// Writes a stack (its components' .wasm and stack.yaml) into `dir`.
pub fn write_stack(dir: &Path, entries: &[StackEntry<'_>], changelog: &str) {
    write_named_stack(dir, "test-stack", entries, changelog);
}

/// [`write_stack`] for a stack called `name`.
pub fn write_named_stack(dir: &Path, name: &str, entries: &[StackEntry<'_>], changelog: &str) {
    let mut yaml = format!("name: {name}\ndescription: A stack for tests\ncomponents:\n");
    for entry in entries {
        let rel = format!("components/{}.wasm", entry.name);
        let target = dir.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(wasm(entry.crate_name), &target).unwrap();
        yaml.push_str(&format!(
            "  - name: {}\n    path: {rel}\n    sha256: {}\n    enabled: {}\n",
            entry.name,
            sha256_file(&target),
            entry.enabled
        ));
    }
    yaml.push_str(&format!(
        "changelog: {changelog:?}\nmessage: \"Review the changes, then commit and push.\"\n"
    ));
    std::fs::write(dir.join("stack.yaml"), yaml).unwrap();
}

impl World {
    /// A stack repository with tags v0.1.0 (app, gateway), v0.2.0 (app
    /// changed, cert-manager added) and a non-semver tag `latest`.
    pub fn stack_repo(&self) -> PathBuf {
        let dir = self.path("stack");
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q"]);
        write_stack(
            &dir,
            &[
                StackEntry {
                    name: "app",
                    crate_name: "app",
                    enabled: true,
                },
                StackEntry {
                    name: "gateway",
                    crate_name: "gateway",
                    enabled: true,
                },
            ],
            "First release.",
        );
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", "v0.1.0"]);
        release(&dir, "v0.1.0");
        write_stack(
            &dir,
            &[
                StackEntry {
                    name: "app",
                    crate_name: "app-v2",
                    enabled: true,
                },
                StackEntry {
                    name: "gateway",
                    crate_name: "gateway",
                    enabled: true,
                },
                StackEntry {
                    name: "cert-manager",
                    crate_name: "cert-manager",
                    enabled: false,
                },
            ],
            "App release 2; adds cert-manager.",
        );
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", "v0.2.0"]);
        release(&dir, "v0.2.0");
        git(&dir, &["tag", "latest"]);
        dir
    }

    /// A GitOps repo with a cairn.yaml for the stack at `version`.
    pub fn gitops(&self, stack: &Path, version: &str, values: &str) -> PathBuf {
        let dir = self.path("gitops");
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q"]);
        git(&dir, &["config", "user.name", "Test"]);
        git(&dir, &["config", "user.email", "test@example.com"]);
        std::fs::write(
            dir.join("cairn.yaml"),
            format!(
                "stack:\n  source: {}\n  version: \"{version}\"\n{}values:\n{values}",
                stack.display(),
                trusted()
            ),
        )
        .unwrap();
        dir
    }

    /// `cairn SUBCOMMAND` in the GitOps repo.
    pub fn cairn_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.cairn();
        cmd.current_dir(dir).args(args);
        cmd
    }
}

/// The reference stack built by `make stack`.
pub fn reference_stack() -> PathBuf {
    let path = root().join("target/stacks/reference");
    assert!(
        path.join("stack.yaml").exists(),
        "{} is missing: run `make stack` first",
        path.display()
    );
    path
}

/// Where the tests' cairn keeps its cache key: one for all tests, so that
/// a compile cache shared between tests verifies, and never the user's own.
pub fn test_data_dir() -> PathBuf {
    root().join("target/test-data")
}

/// The user cache the tests share (see [`World::new`]); its cache key is in
/// [`test_data_dir`], so entries verify across tests.
pub fn shared_cache() -> PathBuf {
    root().join("target/test-cache")
}

/// The Python tools installed by `make component-tools`.
pub fn py_tool(name: &str) -> PathBuf {
    let path = root().join("target/tools/py/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `make component-tools`",
        path.display()
    );
    path
}

/// The real Flux, cert-manager, Gateway API and Envoy Gateway CRDs in
/// `../shared/schemas`. A test that needs them fails without them.
pub fn shared_schemas() -> PathBuf {
    let schemas = root().join("../shared/schemas");
    assert!(
        schemas.join("flux").is_dir(),
        "{} is missing: the CRD schemas the tests validate against (Flux, cert-manager, Gateway API, Envoy Gateway) are expected there",
        schemas.display()
    );
    schemas
}

/// A program the tests need from the system, by name.
pub fn system_tool(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not on PATH: run `make test`, which installs it (tests/tools/install-age)")
        })
}

/// Checks SOPS files with the `age` CLI and Python's `cryptography`
/// (tests/tools/sops-check), returning the decrypted documents.
pub fn sops_check(identity: &Path, files: &[PathBuf]) -> serde_json::Value {
    system_tool("age");
    let output = std::process::Command::new(py_tool("python"))
        .arg(root().join("tests/tools/sops-check"))
        .arg(identity)
        .args(files)
        .output()
        .unwrap();
    assert!(output.status.success(), "sops-check: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A SOPS document for `recipient` made from the YAML `plain` by the
/// independent implementation in tests/tools/sops-check (every value
/// encrypted, as the sops CLI does by default).
pub fn sops_encrypt(recipient: &str, plain: &str) -> String {
    use std::io::Write as _;
    system_tool("age");
    let mut child = std::process::Command::new(py_tool("python"))
        .arg(root().join("tests/tools/sops-check"))
        .args(["--encrypt", recipient])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plain.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "sops-check --encrypt: {}",
        stderr(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A host key of github.com in known_hosts form, for bootstrap.
pub const KNOWN_HOSTS: &str =
    "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";

/// A GitOps repo (git work tree) with `clusters/demo/cairn.yaml` on the
/// reference stack, and `known_hosts` in the world for bootstrap.
pub fn cluster_repo(world: &World, extra_values: &str) -> PathBuf {
    let dir = world.path("gitops");
    let cluster = dir.join("clusters/demo");
    std::fs::create_dir_all(&cluster).unwrap();
    git(&dir, &["init", "-q"]);
    std::fs::write(
        cluster.join("cairn.yaml"),
        format!(
            "stack:\n  source: {}\nvalues:\n  cert-manager:\n    issuer:\n      email: ops@example.com\n  namespaces:\n    enabled: false\n{extra_values}",
            reference_stack().display()
        ),
    )
    .unwrap();
    world.write("known_hosts", KNOWN_HOSTS);
    dir
}

/// `git daemon` serving the repositories under a directory on the
/// loopback address, as a remote git host: `git://127.0.0.1:PORT/NAME`.
pub struct GitDaemon(pub std::process::Child, pub u16);

impl GitDaemon {
    pub fn serve(base: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The daemon itself, not the `git daemon` wrapper, so that killing
        // it stops the server.
        let exec_path = git(base, &["--exec-path"]);
        let child = std::process::Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Dropped (killed and reaped) if it never comes up.
        let daemon = Self(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return daemon;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("git daemon did not start");
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real OCI registry (Debian's docker-registry, the CNCF distribution
/// registry) on a loopback port, storing under a temp dir; stopped when
/// dropped.
pub struct Registry {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new(system_tool("docker-registry"))
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Self {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return registry;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("docker-registry did not start");
    }

    /// `oci://127.0.0.1:PORT/REPO`.
    pub fn url(&self, repo: &str) -> String {
        format!("oci://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh ed25519 key made by ssh-keygen under the world's `keys/`: the
/// private key file and the public key line.
pub fn keygen(world: &World, name: &str) -> (PathBuf, String) {
    let path = world.path(&format!("keys/{name}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let made = std::process::Command::new(system_tool("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_string())
}
