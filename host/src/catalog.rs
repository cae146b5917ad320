//! Catalogs of stacks: a `catalog.yaml` a publisher keeps in a git
//! repository, listing stacks (anyone can publish one), and the user's
//! list of the catalogs they follow, each pinned to a commit like a stack
//! in a lock. Parsing and validation only: fetching is `source`'s, and the
//! commands are `ops::catalog`'s.
//!
//! A catalog is someone else's text: it is bounded, strictly typed, and
//! every text in it is cut to one line before anyone sees it. It only
//! names stacks; a stack found through it is fetched, pinned and checked
//! as any other when it is used.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The file a catalog repository holds at its root.
pub const CATALOG_FILE: &str = "catalog.yaml";
/// The largest `catalog.yaml` read.
pub const MAX_CATALOG: u64 = 1 << 20;
/// The most stacks one catalog may list.
const MAX_STACKS: usize = 1000;
/// The user's catalogs, under `$XDG_CONFIG_HOME/cairn`.
const USER_FILE: &str = "catalogs.yaml";

/// `catalog.yaml`: who publishes it and the stacks it lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// A short name users refer to it by (`cairn catalog add` takes it).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Who publishes the catalog; each stack's publisher defaults to it.
    #[serde(default)]
    pub publisher: String,
    pub stacks: Vec<CatalogStack>,
}

/// A stack a catalog lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogStack {
    pub name: String,
    /// A git URL, or a path relative to a catalog read from a local
    /// directory.
    pub source: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub publisher: String,
}

impl Catalog {
    /// Parses and checks a `catalog.yaml`; `origin` names it in errors.
    /// Texts are cut to one line; `local` is the directory of a catalog
    /// read from disk, against which relative stack sources resolve (a
    /// catalog fetched from elsewhere must name stacks by URL or absolute
    /// path).
    pub fn parse(text: &str, origin: &str, local: Option<&Path>) -> anyhow::Result<Self> {
        let mut catalog: Catalog = crate::yaml::from_str(text)
            .with_context(|| format!("{origin} is not a valid {CATALOG_FILE}"))?;
        let mut problems = Vec::new();
        if !crate::names::component(&catalog.name) {
            problems.push(format!(
                "name {:?} must be lower-case letters, digits and `-`",
                catalog.name
            ));
        }
        if catalog.stacks.len() > MAX_STACKS {
            problems.push(format!(
                "lists {} stacks, more than the {MAX_STACKS} a catalog may",
                catalog.stacks.len()
            ));
            catalog.stacks.truncate(MAX_STACKS);
        }
        catalog.description = crate::text::one_line(&catalog.description, 300);
        catalog.publisher = crate::text::one_line(&catalog.publisher, 80);
        let mut seen = std::collections::BTreeSet::new();
        for (i, stack) in catalog.stacks.iter_mut().enumerate() {
            if !crate::names::component(&stack.name) {
                problems.push(format!(
                    "stacks[{i}].name {:?} must be lower-case letters, digits and `-`",
                    crate::text::one_line(&stack.name, 80)
                ));
            } else if !seen.insert(stack.name.clone()) {
                problems.push(format!("stacks[{i}].name {:?} is listed twice", stack.name));
            }
            let source = stack.source.trim();
            if source.is_empty() || source.len() > 2048 || source.chars().any(char::is_control) {
                problems.push(format!("stacks[{i}].source must be a git URL or a path"));
            } else if is_relative_path(source) {
                match local {
                    Some(dir) => stack.source = dir.join(source).to_string_lossy().into_owned(),
                    None => problems.push(format!(
                        "stacks[{i}].source {source:?} is a relative path; a published catalog names stacks by URL"
                    )),
                }
            }
            stack.description = crate::text::one_line(&stack.description, 300);
            stack.publisher = crate::text::one_line(&stack.publisher, 80);
            if stack.publisher.is_empty() {
                stack.publisher = catalog.publisher.clone();
            }
            stack.categories.truncate(16);
            for category in &mut stack.categories {
                *category = crate::text::one_line(category, 40);
            }
        }
        match problems.as_slice() {
            [] => Ok(catalog),
            [one] => bail!("{origin}: {one}"),
            many => bail!(
                "{origin}:{}",
                many.iter()
                    .map(|p| format!("\n  - {p}"))
                    .collect::<String>()
            ),
        }
    }
}

fn is_relative_path(source: &str) -> bool {
    !(source.contains("://") || source.starts_with('/') || crate::names::scp_like(source))
}

/// The catalogs a user follows: `$XDG_CONFIG_HOME/cairn/catalogs.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Followed {
    #[serde(default)]
    pub catalogs: Vec<FollowedCatalog>,
}

/// One catalog a user follows, pinned like a stack in a lock: later reads
/// are of this commit only, until `cairn catalog update` moves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowedCatalog {
    pub name: String,
    /// A git URL or an absolute path.
    pub source: String,
    /// The version requirement given when it was added, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The commit read; absent for a plain directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl Followed {
    /// Where the user's list is kept.
    pub fn path() -> anyhow::Result<PathBuf> {
        Ok(dirs::config_dir()
            .context("no configuration directory (set XDG_CONFIG_HOME)")?
            .join("cairn")
            .join(USER_FILE))
    }

    /// The user's list at `path`; empty when there is none.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        match crate::files::read_text_bounded(path, MAX_CATALOG)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            None => Ok(Self::default()),
            Some(text) => crate::yaml::from_str(&text).with_context(|| {
                format!(
                    "{} is not a valid list of catalogs; fix it or remove it and add them again",
                    path.display()
                )
            }),
        }
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let dir = crate::files::parent_of(path);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let text = format!(
            "# The catalogs of stacks cairn searches; `cairn catalog add/update/remove` edit it.\n{}",
            serde_yaml::to_string(self)?
        );
        crate::files::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_catalogs_and_refuses_what_is_wrong() {
        let good = "name: acme\npublisher: ACME\nstacks:\n  - name: platform\n    source: https://git.example/platform.git\n    description: \"Ingress\\nand more\"\n    categories: [networking]\n  - name: local\n    source: stacks/local\n";
        let catalog = Catalog::parse(good, "catalog.yaml", Some(Path::new("/cat"))).unwrap();
        assert_eq!(catalog.stacks[0].publisher, "ACME");
        assert!(!catalog.stacks[0].description.contains('\n'));
        assert_eq!(catalog.stacks[1].source, "/cat/stacks/local");

        let cases = [
            (
                good,
                None,
                "a relative path; a published catalog names stacks by URL",
            ),
            ("name: Bad Name\nstacks: []\n", None, "name \"Bad Name\""),
            (
                "name: a\nstacks:\n  - {name: x, source: /s}\n  - {name: x, source: /t}\n",
                None,
                "stacks[1].name \"x\" is listed twice",
            ),
            (
                "name: a\nstacks:\n  - {name: x, source: ''}\n",
                None,
                "stacks[0].source must be",
            ),
            (
                "name: a\nstacks: []\nextra: 1\n",
                None,
                "not a valid catalog.yaml",
            ),
            ("name: &a a\nstacks: []\n", None, "not a valid catalog.yaml"),
        ];
        for (text, local, expected) in cases {
            let err = format!(
                "{:#}",
                Catalog::parse(text, "catalog.yaml", local).unwrap_err()
            );
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
