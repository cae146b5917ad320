//! Shared by the end-to-end tests: the real `cairn` binary, the real
//! components built by `make plugins`, and temp dirs.

#![allow(dead_code)]

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

/// A component built from `plugins/`, by crate name (`ingress-nginx`).
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

/// A test's own world: a temp dir with its own compiled-component cache.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.path("cache")
    }

    /// `cairn` with an isolated cache and no inherited XDG settings.
    pub fn cairn(&self) -> Command {
        let mut cmd = Command::cargo_bin("cairn").unwrap();
        cmd.env("XDG_CACHE_HOME", self.cache_dir())
            .current_dir(self.dir.path());
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
