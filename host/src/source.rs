//! Where stacks come from: a git repository (local or remote) whose semver
//! tags are its versions, or a plain directory.
//!
//! Git is read with `gix`; no `git` binary is needed. A local repository
//! (a path or a `file://` URL) is read in place. A remote one is cloned bare
//! into the user's cache (`$XDG_CACHE_HOME/cairn/git/`), which git's object
//! store makes content-addressed: a commit that is there is never fetched
//! again, and `--offline` uses only what is there.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

/// A stack version: a semver tag and the commit it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagVersion {
    pub version: semver::Version,
    pub tag: String,
    pub commit: String,
}

/// What a version requirement resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pin {
    pub version: Option<semver::Version>,
    pub tag: Option<String>,
    /// Absent only for a plain directory.
    pub commit: Option<String>,
    /// The fingerprint of the key whose signature on the release tag was
    /// verified, once it has been.
    pub signer: Option<String>,
}

impl Pin {
    /// `v1.2.0`, `commit 0123abcd`, or `working directory`.
    pub fn describe(&self) -> String {
        match (&self.tag, &self.commit) {
            (Some(tag), _) => tag.clone(),
            (None, Some(commit)) => format!("commit {}", &commit[..commit.len().min(12)]),
            (None, None) => "working directory".into(),
        }
    }
}

/// A release's signature: the bytes signed, the armored SSH signature,
/// and the namespace it was made in.
pub struct ReleaseSignature {
    pub payload: Vec<u8>,
    pub armored: Vec<u8>,
    pub namespace: &'static str,
    /// The version the signed content names (a git tag object's `tag`,
    /// an OCI manifest's version annotation), so that a signed release
    /// cannot be passed off under another version; and the commit or
    /// digest it names.
    pub names: (Option<String>, Option<String>),
}

/// An opened stack source.
pub struct StackSource {
    /// The source as the user wrote it.
    pub spec: String,
    kind: Kind,
}

enum Kind {
    /// A directory that is not a git repository: one unversioned snapshot.
    Dir(PathBuf),
    /// A git repository readable on disk: local, or the cache's clone.
    Git(Box<gix::ThreadSafeRepository>),
    /// A repository of an OCI registry (`oci://`).
    Oci(Box<OciSource>),
}

/// An OCI repository, with what was learnt of it kept in the cache so
/// that it reads offline: its tags' digests, and the releases pulled.
struct OciSource {
    client: crate::oci::Client,
    /// The cache directory of this repository.
    cache: PathBuf,
    /// Tags and the manifest digests they named when last listed.
    tags: Vec<(String, String)>,
}

const OCI_TAGS: &str = "tags.json";

impl OciSource {
    fn open(spec: &str, options: &SourceOptions<'_>, fetch: bool) -> anyhow::Result<Self> {
        let reference = crate::oci::Reference::parse(spec)?;
        if reference.tag.is_some() {
            bail!(
                "stack source {spec:?} names a tag; name the repository ({}) and give the version under `version:`",
                reference.source()
            );
        }
        let key = format!("{:x}", Sha256::digest(reference.source().as_bytes()));
        let cache = options.cache.join("oci").join(&key[..32]);
        let client = crate::oci::Client::new(&reference)?;
        let cached: Option<Vec<(String, String)>> =
            crate::files::read_text_bounded(&cache.join(OCI_TAGS), 8 << 20)
                .ok()
                .flatten()
                .and_then(|text| serde_json::from_str(&text).ok());
        let tags = match cached {
            Some(tags) if !fetch || options.offline => tags,
            None if options.offline => bail!(
                "stack source {spec} is not in the cache and --offline forbids fetching it; run once without --offline"
            ),
            _ => {
                let _task = options.progress.start(&format!("listing {spec}"));
                let mut tags = Vec::new();
                for tag in client
                    .tags()
                    .with_context(|| format!("cannot reach stack source {spec}"))?
                {
                    let semver =
                        semver::Version::parse(tag.strip_prefix('v').unwrap_or(&tag)).is_ok();
                    if !semver {
                        continue;
                    }
                    if let Some((_, digest)) = client.manifest(&tag)? {
                        tags.push((tag, digest));
                    }
                }
                std::fs::create_dir_all(&cache)?;
                crate::files::write_atomic(
                    &cache.join(OCI_TAGS),
                    serde_json::to_string(&tags)?.as_bytes(),
                )?;
                tags
            }
        };
        Ok(Self {
            client,
            cache,
            tags,
        })
    }

    /// The release `digest`, pulled into the cache once.
    fn snapshot(&self, digest: &str) -> anyhow::Result<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .with_context(|| format!("{digest:?} is not a sha256 manifest digest"))?;
        let dir = self.cache.join("releases").join(hex);
        // What the cache holds is used only if its stack.yaml is the one
        // the manifest (checked against its digest) names; the components
        // are then checked against stack.yaml as from any source.
        if !self.stack_file_matches(digest, &dir) {
            std::fs::create_dir_all(crate::files::parent_of(&dir))?;
            crate::oci::pull_stack(&self.client, digest, &dir, 256 << 20)?;
            if !self.stack_file_matches(digest, &dir) {
                bail!("{digest}: the stack.yaml pulled is not the one its manifest names");
            }
        }
        Ok(dir)
    }

    /// Whether `dir` holds the stack.yaml the manifest `digest` names.
    fn stack_file_matches(&self, digest: &str, dir: &Path) -> bool {
        let manifest = self.manifest(digest).ok();
        let layer = manifest.as_ref().and_then(|m| {
            m.layers.iter().find(|l| {
                l.annotations.get(crate::oci::TITLE).map(String::as_str)
                    == Some(crate::config::STACK_FILE)
            })
        });
        let Some(layer) = layer else {
            return false;
        };
        match crate::files::read_bounded(&dir.join(crate::config::STACK_FILE), 1 << 20) {
            Ok(Some(bytes)) => crate::oci::digest_of(&bytes) == layer.digest,
            _ => false,
        }
    }

    /// The manifest `digest`, from the cache when kept there (checked
    /// against its digest either way).
    fn manifest(&self, digest: &str) -> anyhow::Result<crate::oci::Manifest> {
        let kept = self
            .cache
            .join("manifests")
            .join(digest.trim_start_matches("sha256:"));
        let bytes = match std::fs::read(&kept) {
            Ok(bytes) if crate::oci::digest_of(&bytes) == digest => bytes,
            _ => {
                let (bytes, _) = self
                    .client
                    .manifest(digest)?
                    .with_context(|| format!("the registry has no manifest {digest}"))?;
                std::fs::create_dir_all(crate::files::parent_of(&kept))?;
                crate::files::write_atomic(&kept, &bytes)?;
                bytes
            }
        };
        serde_json::from_slice(&bytes).with_context(|| format!("manifest {digest} cannot be read"))
    }
}

/// Options for opening sources.
pub struct SourceOptions<'a> {
    /// Relative local paths are resolved from here (the `cairn.yaml` dir).
    pub base: &'a Path,
    /// Where remote repositories are cloned.
    pub cache: PathBuf,
    /// Never touch the network.
    pub offline: bool,
    /// Told about fetches and clones, which can take a while.
    pub progress: &'a dyn crate::progress::Progress,
}

impl StackSource {
    /// Opens `spec`; for remote sources with `fetch`, updates the cached
    /// clone first (its tags and branches).
    pub fn open(spec: &str, options: &SourceOptions<'_>, fetch: bool) -> anyhow::Result<Self> {
        let kind = if spec.starts_with("oci://") {
            Kind::Oci(Box::new(OciSource::open(spec, options, fetch)?))
        } else {
            match local_path(spec, options.base) {
                Some(path) => open_local(spec, &path)?,
                None => Kind::Git(Box::new(open_remote(spec, options, fetch)?)),
            }
        };
        Ok(Self {
            spec: spec.into(),
            kind,
        })
    }

    /// Every semver tag, oldest first. Tags that are not semver (`latest`,
    /// `release-2024`) are ignored.
    pub fn versions(&self) -> anyhow::Result<Vec<TagVersion>> {
        if let Kind::Oci(oci) = &self.kind {
            let mut versions: Vec<TagVersion> = oci
                .tags
                .iter()
                .filter_map(|(tag, digest)| {
                    Some(TagVersion {
                        version: semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag))
                            .ok()?,
                        tag: tag.clone(),
                        commit: digest.clone(),
                    })
                })
                .collect();
            versions.sort_by(|a, b| a.version.cmp(&b.version).then(a.tag.cmp(&b.tag)));
            return Ok(versions);
        }
        let Kind::Git(repo) = &self.kind else {
            return Ok(Vec::new());
        };
        let repo = repo.to_thread_local();
        let mut versions = Vec::new();
        let references = repo.references().context("cannot read the stack's tags")?;
        for reference in references.tags().context("cannot read the stack's tags")? {
            let Ok(mut reference) = reference else {
                continue;
            };
            let tag = reference.name().shorten().to_string();
            let Ok(version) = semver::Version::parse(tag.strip_prefix('v').unwrap_or(&tag)) else {
                continue;
            };
            let Ok(commit) = reference.peel_to_commit() else {
                continue;
            };
            versions.push(TagVersion {
                version,
                tag,
                commit: commit.id.to_string(),
            });
        }
        versions.sort_by(|a, b| a.version.cmp(&b.version).then(a.tag.cmp(&b.tag)));
        Ok(versions)
    }

    /// The raw object of tag `tag` when it is an annotated tag (which can
    /// carry a signature); `None` for a lightweight tag or a source
    /// without git.
    pub fn tag_object(&self, tag: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let Kind::Git(repo) = &self.kind else {
            return Ok(None);
        };
        let repo = repo.to_thread_local();
        let Ok(reference) = repo.find_reference(&format!("refs/tags/{tag}")) else {
            return Ok(None);
        };
        let Some(id) = reference.target().try_id().map(ToOwned::to_owned) else {
            return Ok(None);
        };
        let object = repo
            .find_object(id)
            .with_context(|| format!("cannot read tag {tag} of {}", self.spec))?;
        Ok((object.kind == gix::object::Kind::Tag).then(|| object.data.clone()))
    }

    /// Whether this source has releases to sign (a git repository or an
    /// OCI repository) rather than being a plain directory.
    pub fn is_git(&self) -> bool {
        matches!(self.kind, Kind::Git(_) | Kind::Oci(_))
    }

    /// The signed bytes, the armored SSH signature and its namespace of the
    /// release `pin` names, when it is signed: a git tag's own signature,
    /// or the signature pushed beside an OCI manifest (over its digest).
    pub fn release_signature(&self, pin: &Pin) -> anyhow::Result<Option<ReleaseSignature>> {
        match &self.kind {
            Kind::Oci(oci) => {
                let Some(digest) = &pin.commit else {
                    return Ok(None);
                };
                let cached = oci.cache.join("signatures").join(digest.replace(':', "-"));
                let armored = match std::fs::read(&cached) {
                    Ok(bytes) => Some(bytes),
                    Err(_) => {
                        let found = crate::oci::signature_of(&oci.client, digest)?;
                        if let Some(bytes) = &found {
                            std::fs::create_dir_all(crate::files::parent_of(&cached))?;
                            crate::files::write_atomic(&cached, bytes)?;
                        }
                        found
                    }
                };
                let Some(armored) = armored else {
                    return Ok(None);
                };
                // The version the signed manifest names (its digest covers
                // its annotations).
                let version = oci
                    .manifest(digest)?
                    .annotations
                    .get("org.opencontainers.image.version")
                    .cloned();
                Ok(Some(ReleaseSignature {
                    payload: digest.as_bytes().to_vec(),
                    armored,
                    namespace: crate::oci::NAMESPACE,
                    names: (version, Some(digest.clone())),
                }))
            }
            _ => {
                let Some(tag) = &pin.tag else {
                    return Ok(None);
                };
                Ok(self.tag_object(tag)?.and_then(|raw| {
                    crate::signing::split_tag(&raw).map(|(payload, sig)| {
                        // The tag object's own headers: what it is named
                        // and what it points at, both under the signature.
                        let header = |name: &str| {
                            String::from_utf8_lossy(payload)
                                .lines()
                                .take_while(|l| !l.is_empty())
                                .find_map(|l| l.strip_prefix(name).map(str::to_string))
                        };
                        ReleaseSignature {
                            payload: payload.to_vec(),
                            armored: sig.to_vec(),
                            namespace: "git",
                            names: (header("tag "), header("object ")),
                        }
                    })
                }))
            }
        }
    }

    /// Resolves a requirement: an exact tag (`v1.2.0` or `1.2.0`), a semver
    /// range (`^1.2`, `~1.2.3`, `>=1, <2`: the newest match, pre-releases only
    /// when asked for), or a commit (hex, at least 7 digits).
    pub fn resolve(&self, requirement: Option<&str>) -> anyhow::Result<Pin> {
        let repo = match &self.kind {
            Kind::Dir(dir) => {
                if let Some(req) = requirement {
                    bail!(
                        "stack {} is a plain directory, which has no versions; remove `version: {req}` from cairn.yaml or make it a git repository with tags",
                        dir.display()
                    );
                }
                return Ok(Pin::default());
            }
            Kind::Git(repo) => Some(repo.to_thread_local()),
            Kind::Oci(_) => None,
        };
        let versions = self.versions()?;
        let Some(req) = requirement
            .map(str::trim)
            .filter(|r| !r.is_empty() && *r != "*")
        else {
            return match versions.iter().rev().find(|v| v.version.pre.is_empty()) {
                Some(newest) => Ok(pin(newest)),
                None => bail!(
                    "stack {} has no semver tags (such as v0.1.0); tag a release, or set `version:` to a commit",
                    self.spec
                ),
            };
        };
        let exact = req.strip_prefix('v').unwrap_or(req);
        if let Some(found) = versions
            .iter()
            .find(|v| v.tag == req || v.version.to_string() == exact)
        {
            return Ok(pin(found));
        }
        if let (None, Some(digest)) = (&repo, req.strip_prefix("sha256:")) {
            let digest = format!("sha256:{digest}");
            return Ok(Pin {
                tag: versions
                    .iter()
                    .find(|v| v.commit == digest)
                    .map(|v| v.tag.clone()),
                commit: Some(digest),
                ..Pin::default()
            });
        }
        if let Some(repo) = &repo
            && req.len() >= 7
            && req.bytes().all(|b| b.is_ascii_hexdigit())
        {
            let id = repo
                .rev_parse_single(req)
                .with_context(|| format!("stack {} has no commit {req}", self.spec))?;
            let commit = id
                .object()
                .context("cannot read the commit")?
                .peel_to_commit()
                .with_context(|| format!("{req} in stack {} is not a commit", self.spec))?;
            return Ok(Pin {
                commit: Some(commit.id.to_string()),
                ..Pin::default()
            });
        }
        let range = semver::VersionReq::parse(req).map_err(|err| {
            anyhow::anyhow!(
                "version {req:?} is not a tag, commit or semver requirement (such as ^1.2): {err}"
            )
        })?;
        match versions.iter().rev().find(|v| range.matches(&v.version)) {
            Some(found) => Ok(pin(found)),
            None => {
                let known: Vec<&str> = versions.iter().map(|v| v.tag.as_str()).collect();
                bail!(
                    "stack {} has no version matching {req}; it has: {}",
                    self.spec,
                    if known.is_empty() {
                        "no semver tags".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            }
        }
    }

    /// The stack's files at `pin`.
    pub fn snapshot(&self, pin: &Pin) -> anyhow::Result<Snapshot> {
        match (&self.kind, &pin.commit) {
            (Kind::Dir(dir), _) => Ok(Snapshot::Dir(dir.clone())),
            (Kind::Oci(oci), Some(digest)) => Ok(Snapshot::Dir(oci.snapshot(digest)?)),
            (Kind::Oci(_), None) => bail!(
                "stack {} is an OCI repository: a release (tag or digest) is required",
                self.spec
            ),
            (Kind::Git(repo), Some(commit)) => {
                let local = repo.to_thread_local();
                let id = gix::ObjectId::from_hex(commit.as_bytes())
                    .context("a locked commit is not a hex id")?;
                let tree = local
                    .find_commit(id)
                    .with_context(|| {
                        format!(
                            "stack {} has no commit {commit}; it may have been rewritten, or is not fetched (run without --offline)",
                            self.spec
                        )
                    })?
                    .tree_id()
                    .context("cannot read the commit's tree")?
                    .detach();
                Ok(Snapshot::Tree {
                    repo: repo.clone(),
                    tree,
                    label: format!("{} at {}", self.spec, pin.describe()),
                })
            }
            (Kind::Git(_), None) => bail!(
                "stack {} is a git repository: a commit is required",
                self.spec
            ),
        }
    }
}

fn pin(version: &TagVersion) -> Pin {
    Pin {
        version: Some(version.version.clone()),
        tag: Some(version.tag.clone()),
        commit: Some(version.commit.clone()),
        signer: None,
    }
}

/// A file of a stack larger than cairn reads.
#[derive(Debug, thiserror::Error)]
#[error("{what} is {}, more than the {} cairn reads", bytesize::ByteSize::b(*.size), bytesize::ByteSize::b(*.max))]
pub struct TooLarge {
    pub what: String,
    pub size: u64,
    pub max: u64,
}

/// The stack's files at one version.
#[derive(Clone)]
pub enum Snapshot {
    Dir(PathBuf),
    Tree {
        repo: Box<gix::ThreadSafeRepository>,
        tree: gix::ObjectId,
        label: String,
    },
}

impl Snapshot {
    /// The bytes of `path`, relative to the stack's root, refused when
    /// larger than `max` (checked before reading: a stack is untrusted).
    pub fn read(&self, path: &str, max: u64) -> anyhow::Result<Vec<u8>> {
        let too_large = |size: u64| {
            anyhow::Error::new(TooLarge {
                what: format!("{path} in {}", self.label()),
                size,
                max,
            })
        };
        match self {
            Snapshot::Dir(dir) => {
                crate::files::check_relative(path).map_err(|why| {
                    anyhow::anyhow!("{path:?} in {}: the path {why}", self.label())
                })?;
                crate::files::no_links(dir, Path::new(path))?;
                let full = dir.join(path);
                match crate::files::read_bounded(&full, max) {
                    Ok(Some(bytes)) => Ok(bytes),
                    Ok(None) => bail!("cannot read {}: it does not exist", full.display()),
                    Err(err) if err.kind() == std::io::ErrorKind::InvalidData => Err(too_large(
                        std::fs::metadata(&full).map_or(max + 1, |m| m.len()),
                    )),
                    Err(err) => Err(err).with_context(|| format!("cannot read {}", full.display())),
                }
            }
            Snapshot::Tree { repo, tree, label } => {
                let repo = repo.to_thread_local();
                let tree = repo
                    .find_tree(*tree)
                    .context("cannot read the stack's tree")?;
                let entry = tree
                    .lookup_entry_by_path(path)
                    .with_context(|| format!("cannot read {path} in {label}"))?
                    .with_context(|| format!("{label} has no file {path}"))?;
                if !entry.mode().is_blob() {
                    bail!(
                        "{path} in {label} is not a file (a link or a directory); a stack's files must be plain files"
                    );
                }
                let size = repo
                    .find_header(entry.object_id())
                    .with_context(|| format!("cannot read {path} in {label}"))?
                    .size();
                if size > max {
                    return Err(too_large(size));
                }
                let object = entry
                    .object()
                    .with_context(|| format!("cannot read {path} in {label}"))?;
                Ok(object.detach().data)
            }
        }
    }

    /// An identity of the content at `path` that changes whenever the
    /// content does (the git blob id, or for a plain directory the file's
    /// inode, size and modification time), and the content's size. `None`
    /// when there is none.
    pub fn content_id(&self, path: &str) -> Option<(String, u64)> {
        match self {
            Snapshot::Dir(dir) => {
                use std::os::unix::fs::MetadataExt;
                let full = std::path::absolute(dir.join(path)).ok()?;
                let meta = std::fs::metadata(&full).ok()?;
                let id = format!(
                    "file:{}:{}:{}:{}.{}",
                    full.display(),
                    meta.ino(),
                    meta.len(),
                    meta.mtime(),
                    meta.mtime_nsec()
                );
                Some((id, meta.len()))
            }
            Snapshot::Tree { repo, tree, .. } => {
                let repo = repo.to_thread_local();
                let tree = repo.find_tree(*tree).ok()?;
                let entry = tree.lookup_entry_by_path(path).ok()??;
                let size = repo.find_header(entry.object_id()).ok()?.size();
                Some((format!("git:{}", entry.object_id()), size))
            }
        }
    }

    /// Where this snapshot is, for messages.
    pub fn label(&self) -> String {
        match self {
            Snapshot::Dir(dir) => dir.display().to_string(),
            Snapshot::Tree { label, .. } => label.clone(),
        }
    }
}

/// `spec` as seen from `to` instead of `from`: a relative local path is
/// rewritten relative to `to`; anything else is returned as is.
pub fn relocate(spec: &str, from: &Path, to: &Path) -> String {
    if spec.contains("://") || crate::names::scp_like(spec) || Path::new(spec).is_absolute() {
        return spec.to_string();
    }
    let target = from.join(spec);
    match pathdiff::diff_paths(&target, to) {
        Some(rel) if rel.as_os_str().is_empty() => ".".into(),
        Some(rel) => rel.to_string_lossy().into_owned(),
        None => target.to_string_lossy().into_owned(),
    }
}

/// Whether `spec` names a remote repository (a URL other than `file://`,
/// or `git@host:org/repo`) rather than a local path.
pub fn is_remote(spec: &str) -> bool {
    crate::names::remote_source(spec)
}

/// The local path `spec` names, if it is local (`file://` or a path).
fn local_path(spec: &str, base: &Path) -> Option<PathBuf> {
    if let Some(path) = spec.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    let remote = spec.contains("://") || crate::names::scp_like(spec);
    (!remote).then(|| base.join(spec))
}

fn open_local(spec: &str, path: &Path) -> anyhow::Result<Kind> {
    if !path.exists() {
        bail!(
            "stack source {spec:?}: {} does not exist; check `stack.source` in cairn.yaml",
            path.display()
        );
    }
    let is_repo =
        path.join(".git").exists() || (path.join("HEAD").exists() && path.join("objects").is_dir());
    if !is_repo {
        return Ok(Kind::Dir(path.to_path_buf()));
    }
    let repo = gix::open(path).with_context(|| {
        format!(
            "stack source {spec:?}: cannot open the git repository at {}",
            path.display()
        )
    })?;
    Ok(Kind::Git(Box::new(repo.into_sync())))
}

/// The cached bare clone of a remote, fetched first when asked and allowed.
/// Where the clone of the remote source `spec` is kept under `cache`.
pub fn clone_path(spec: &str, cache: &Path) -> anyhow::Result<PathBuf> {
    let url = gix::url::parse(gix::bstr::BStr::new(spec))
        .with_context(|| format!("stack source {spec:?} is not a valid git URL"))?;
    let key = format!("{:x}", Sha256::digest(url.to_bstring()));
    Ok(cache.join(&key[..32]))
}

fn open_remote(
    spec: &str,
    options: &SourceOptions<'_>,
    fetch: bool,
) -> anyhow::Result<gix::ThreadSafeRepository> {
    let url = gix::url::parse(gix::bstr::BStr::new(spec))
        .with_context(|| format!("stack source {spec:?} is not a valid git URL"))?;
    let path = clone_path(spec, &options.cache)?;
    let interrupt = AtomicBool::new(false);
    if path.join("HEAD").exists() {
        let repo = gix::open(&path).with_context(|| {
            format!(
                "the cached clone of {spec} is damaged; delete {}",
                path.display()
            )
        })?;
        if fetch && !options.offline {
            let _task = options.progress.start(&format!("fetching {spec}"));
            let remote = repo.find_remote("origin").with_context(|| {
                format!(
                    "the cached clone of {spec} has no origin; delete {}",
                    path.display()
                )
            })?;
            remote
                .connect(gix::remote::Direction::Fetch)
                .with_context(|| format!("cannot reach stack source {spec}"))?
                .prepare_fetch(gix::progress::Discard, Default::default())
                .with_context(|| format!("cannot fetch from {spec}"))?
                .receive(gix::progress::Discard, &interrupt)
                .with_context(|| format!("cannot fetch from {spec}"))?;
        }
        return Ok(repo.into_sync());
    }
    if options.offline {
        bail!(
            "stack source {spec} is not in the cache ({}) and --offline forbids fetching it; run once without --offline",
            options.cache.display()
        );
    }
    std::fs::create_dir_all(&options.cache)?;
    let task = options.progress.start(&format!("cloning {spec}"));
    let staging = tempfile::Builder::new()
        .prefix(".clone-")
        .tempdir_in(&options.cache)?;
    let (repo, _) = gix::prepare_clone_bare(url, staging.path())
        .with_context(|| format!("cannot clone {spec}"))?
        .configure_remote(|remote| {
            remote.with_refspecs(["+refs/tags/*:refs/tags/*"], gix::remote::Direction::Fetch)
        })
        .fetch_only(gix::progress::Discard, &interrupt)
        .with_context(|| {
            format!("cannot clone stack source {spec}; check the URL and your access to it")
        })?;
    drop(repo);
    // Another run may have cloned it meanwhile; either copy is complete.
    if std::fs::rename(staging.path(), &path).is_ok() {
        let _ = staging.keep();
    }
    drop(task);
    Ok(gix::open(&path)?.into_sync())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_local_from_remote() {
        let base = Path::new("/repo");
        assert_eq!(
            local_path("./stack", base),
            Some(PathBuf::from("/repo/./stack"))
        );
        assert_eq!(
            local_path("file:///srv/stack", base),
            Some(PathBuf::from("/srv/stack"))
        );
        assert_eq!(
            local_path("/srv/stack", base),
            Some(PathBuf::from("/srv/stack"))
        );
        assert_eq!(local_path("https://example.com/s.git", base), None);
        assert_eq!(local_path("git@example.com:org/s.git", base), None);
    }
}
