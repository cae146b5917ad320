//! The components' workspace builds and tests every Rust crate under
//! plugins/: `make plugins` and `make test-plugins` run the whole
//! workspace, so a crate left out of its members would be neither built
//! nor tested.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every directory under `dir` holding a Cargo.toml, tools' and build
/// directories aside.
fn crates(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !path.is_dir()
            || name.starts_with('.')
            || ["node_modules", "target", "build"].contains(&name.as_str())
        {
            continue;
        }
        if path.join("Cargo.toml").is_file() {
            out.insert(path.canonicalize().unwrap());
        }
        crates(&path, out);
    }
}

#[test]
fn every_rust_crate_under_plugins_is_a_workspace_member() {
    let plugins = support::root().join("plugins");
    let output = std::process::Command::new("cargo")
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(&plugins)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", support::stderr(&output));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let members: BTreeSet<PathBuf> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .canonicalize()
                .unwrap()
        })
        .collect();
    let mut found = BTreeSet::new();
    crates(&plugins, &mut found);
    let missing: Vec<_> = found.difference(&members).collect();
    assert!(
        missing.is_empty(),
        "not members of plugins/Cargo.toml, so never built or tested: {missing:?}; add them to `members`"
    );
    assert!(members.len() >= 8, "{members:?}");
}
