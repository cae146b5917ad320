//! Stacks in OCI registries: `oci://HOST/REPOSITORY[:TAG]`. A stack
//! release is an OCI image manifest (artifact type
//! `application/vnd.cairn.stack.v1`) whose layers are the stack's files,
//! each titled with its path (`org.opencontainers.image.title`):
//! `stack.yaml` as `application/vnd.cairn.stack.v1+yaml`, components as
//! `application/wasm`. Its signature is an SSH signature (namespace
//! `cairn-oci`) over the manifest's digest, pushed as an artifact of type
//! `application/vnd.cairn.signature.v1` under the tag `sha256-HEX.sig`
//! (cosign's convention for where a signature lives), so every registry
//! keeps it without the referrers API.
//!
//! A small client of the distribution API over `reqwest`: tags, manifests
//! and blobs, anonymous bearer tokens, uploads. Everything read is bounded
//! and checked against its digest. Plain HTTP only for the loopback
//! address.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const STACK_ARTIFACT: &str = "application/vnd.cairn.stack.v1";
pub const STACK_CONFIG: &str = "application/vnd.cairn.stack.config.v1+json";
pub const STACK_FILE_TYPE: &str = "application/vnd.cairn.stack.v1+yaml";
pub const COMPONENT_TYPE: &str = "application/wasm";
pub const SIGNATURE_ARTIFACT: &str = "application/vnd.cairn.signature.v1";
pub const SIGNATURE_TYPE: &str = "application/vnd.cairn.signature.v1+sshsig";
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const TITLE: &str = "org.opencontainers.image.title";
/// The namespace signatures of OCI releases are made in.
pub const NAMESPACE: &str = "cairn-oci";
const MAX_MANIFEST: u64 = 4 << 20;
const MAX_TAGS: u64 = 8 << 20;

/// `oci://HOST[:PORT]/REPOSITORY[:TAG]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
}

impl Reference {
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let rest = spec
            .strip_prefix("oci://")
            .with_context(|| format!("{spec:?} is not an oci:// reference"))?;
        let (registry, path) = rest
            .split_once('/')
            .with_context(|| format!("{spec:?} names no repository (oci://HOST/REPOSITORY)"))?;
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_string())),
            _ => (path, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        };
        if registry.is_empty() || registry.contains('@') || !valid(repository) {
            bail!("{spec:?} is not a valid OCI reference (oci://HOST/repository/path:tag)");
        }
        Ok(Self {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
        })
    }

    /// The reference without its tag: the stack's source.
    pub fn source(&self) -> String {
        format!("oci://{}/{}", self.registry, self.repository)
    }
}

/// A blob or manifest as a manifest refers to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An OCI image manifest, as cairn writes and reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    pub media_type: String,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The tag a release's signature is kept under.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// A client of one repository of one registry.
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    repository: String,
    token: std::sync::Mutex<Option<String>>,
}

impl Client {
    pub fn new(reference: &Reference) -> anyhow::Result<Self> {
        let host = reference.registry.split(':').next().unwrap_or_default();
        let scheme = if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            "http"
        } else {
            "https"
        };
        Ok(Self {
            http: reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(300))
                .redirect(reqwest::redirect::Policy::limited(5))
                .build()?,
            base: format!("{scheme}://{}", reference.registry),
            repository: reference.repository.clone(),
            token: std::sync::Mutex::new(None),
        })
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.repository)
    }

    /// Sends `build(url)`, fetching an anonymous bearer token once when
    /// the registry asks for one.
    fn send(
        &self,
        build: &dyn Fn() -> reqwest::blocking::RequestBuilder,
    ) -> anyhow::Result<reqwest::blocking::Response> {
        let with_token = |request: reqwest::blocking::RequestBuilder| match self
            .token
            .lock()
            .ok()
            .and_then(|t| t.clone())
        {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = with_token(build()).send()?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            bail!("the registry wants credentials cairn does not have ({challenge})");
        };
        let field = |name: &str| {
            params.split(',').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                (k == name).then(|| v.trim_matches('"').to_string())
            })
        };
        let realm = field("realm").context("the registry's token challenge names no realm")?;
        let mut query = Vec::new();
        if let Some(service) = field("service") {
            query.push(("service", service));
        }
        if let Some(scope) = field("scope") {
            query.push(("scope", scope));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let mut url =
            reqwest::Url::parse(&realm).context("the registry's token realm is not a URL")?;
        url.query_pairs_mut().extend_pairs(&query);
        let response = self
            .http
            .get(url)
            .send()?
            .error_for_status()
            .context("the registry refused an anonymous token")?;
        let token: Token = serde_json::from_slice(&Self::bounded(response, 64 << 10, "a token")?)?;
        if let Ok(mut slot) = self.token.lock() {
            *slot = token.token.or(token.access_token);
        }
        Ok(with_token(build()).send()?)
    }

    fn bounded(
        response: reqwest::blocking::Response,
        max: u64,
        what: &str,
    ) -> anyhow::Result<Vec<u8>> {
        use std::io::Read;
        let mut bytes = Vec::new();
        response.take(max + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max {
            bail!("{what} is larger than the {max} bytes cairn reads");
        }
        Ok(bytes)
    }

    /// Every tag of the repository.
    pub fn tags(&self) -> anyhow::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let response = self.send(&|| self.http.get(self.url("tags/list")))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let response = response
            .error_for_status()
            .context("cannot list the tags")?;
        let tags: Tags =
            serde_json::from_slice(&Self::bounded(response, MAX_TAGS, "the tag list")?)?;
        Ok(tags.tags.unwrap_or_default())
    }

    /// The manifest `reference` (a tag or a digest) names, and its digest,
    /// checked when the reference is one. `None` when there is none.
    pub fn manifest(&self, reference: &str) -> anyhow::Result<Option<(Vec<u8>, String)>> {
        let response = self.send(&|| {
            self.http
                .get(self.url(&format!("manifests/{reference}")))
                .header(reqwest::header::ACCEPT, MANIFEST)
        })?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = response
            .error_for_status()
            .with_context(|| format!("cannot read manifest {reference}"))?;
        let bytes = Self::bounded(response, MAX_MANIFEST, "a manifest")?;
        let digest = digest_of(&bytes);
        if reference.starts_with("sha256:") && digest != reference {
            bail!("manifest {reference} has digest {digest}; the registry returned something else");
        }
        Ok(Some((bytes, digest)))
    }

    /// The blob `digest`, at most `max` bytes, checked against its digest.
    pub fn blob(&self, digest: &str, max: u64) -> anyhow::Result<Vec<u8>> {
        let response = self
            .send(&|| self.http.get(self.url(&format!("blobs/{digest}"))))?
            .error_for_status()
            .with_context(|| format!("cannot read blob {digest}"))?;
        let bytes = Self::bounded(response, max, &format!("blob {digest}"))?;
        if digest_of(&bytes) != digest {
            bail!("blob {digest} does not match its digest; refusing it");
        }
        Ok(bytes)
    }

    /// Uploads `bytes` as a blob of `media_type`.
    pub fn push_blob(&self, bytes: &[u8], media_type: &str) -> anyhow::Result<Descriptor> {
        let digest = digest_of(bytes);
        let start = self
            .send(&|| self.http.post(self.url("blobs/uploads/")))?
            .error_for_status()
            .context("the registry refused an upload")?;
        let location = start
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|h| h.to_str().ok())
            .context("the registry gave no upload location")?
            .to_string();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        self.send(&|| {
            self.http
                .put(&put)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec())
        })?
        .error_for_status()
        .with_context(|| format!("cannot upload blob {digest}"))?;
        Ok(Descriptor {
            media_type: media_type.to_string(),
            digest,
            size: bytes.len() as u64,
            annotations: Default::default(),
        })
    }

    /// Uploads `manifest` under `tag`; returns its digest.
    pub fn push_manifest(&self, tag: &str, manifest: &Manifest) -> anyhow::Result<String> {
        let bytes = serde_json::to_vec(manifest)?;
        self.send(&|| {
            self.http
                .put(self.url(&format!("manifests/{tag}")))
                .header(reqwest::header::CONTENT_TYPE, MANIFEST)
                .body(bytes.clone())
        })?
        .error_for_status()
        .with_context(|| format!("cannot push manifest {tag}"))?;
        Ok(digest_of(&bytes))
    }
}

/// Pushes a stack release under `tag`: `files` (path, bytes, media type:
/// `stack.yaml` as [`STACK_FILE_TYPE`], components as [`COMPONENT_TYPE`])
/// as layers titled with their paths. Returns the manifest's digest.
pub fn push_stack(
    client: &Client,
    tag: &str,
    files: &[(String, Vec<u8>, &str)],
    stack_name: &str,
) -> anyhow::Result<String> {
    let config = serde_json::to_vec(&serde_json::json!({ "name": stack_name, "version": tag }))?;
    let config = client.push_blob(&config, STACK_CONFIG)?;
    let mut layers = Vec::new();
    for (path, bytes, media_type) in files {
        let mut layer = client.push_blob(bytes, media_type)?;
        layer.annotations.insert(TITLE.into(), path.clone());
        layers.push(layer);
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST.into(),
        artifact_type: Some(STACK_ARTIFACT.into()),
        config,
        layers,
        annotations: [(
            "org.opencontainers.image.version".to_string(),
            tag.to_string(),
        )]
        .into(),
    };
    client.push_manifest(tag, &manifest)
}

/// Pushes `armored`, a signature of the manifest `digest`, where
/// [`signature_of`] finds it.
pub fn push_signature(client: &Client, digest: &str, armored: &str) -> anyhow::Result<()> {
    let config = client.push_blob(b"{}", EMPTY)?;
    let layer = client.push_blob(armored.as_bytes(), SIGNATURE_TYPE)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST.into(),
        artifact_type: Some(SIGNATURE_ARTIFACT.into()),
        config,
        layers: vec![layer],
        annotations: [("dev.cairn.signed".to_string(), digest.to_string())].into(),
    };
    client.push_manifest(&signature_tag(digest), &manifest)?;
    Ok(())
}

/// The armored signature pushed for the manifest `digest`, if any.
pub fn signature_of(client: &Client, digest: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let Some((bytes, _)) = client.manifest(&signature_tag(digest))? else {
        return Ok(None);
    };
    let manifest: Manifest =
        serde_json::from_slice(&bytes).context("a signature manifest cannot be read")?;
    let Some(layer) = manifest
        .layers
        .iter()
        .find(|l| l.media_type == SIGNATURE_TYPE)
    else {
        return Ok(None);
    };
    Ok(Some(client.blob(&layer.digest, 64 << 10)?))
}

/// Downloads the stack release `digest` into `dir` (created), each file
/// at the path its layer is titled with, checked to stay inside `dir`.
pub fn pull_stack(client: &Client, digest: &str, dir: &Path, max_file: u64) -> anyhow::Result<()> {
    let (bytes, _) = client
        .manifest(digest)?
        .with_context(|| format!("the registry has no manifest {digest}"))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("manifest {digest} cannot be read"))?;
    if manifest.artifact_type.as_deref() != Some(STACK_ARTIFACT)
        && manifest.config.media_type != STACK_CONFIG
    {
        bail!("{digest} is not a cairn stack (artifact type {STACK_ARTIFACT})");
    }
    if manifest.layers.len() > 1001 {
        bail!("{digest} has more files than a stack may");
    }
    // Every layer within the size a file may be, and all within a bound,
    // as said by the manifest before anything is downloaded (and checked
    // again on each blob).
    let total: u64 = manifest.layers.iter().map(|l| l.size).sum();
    if manifest.layers.iter().any(|l| l.size > max_file) || total > 16 * max_file {
        bail!("{digest} is larger than cairn reads of a stack; refusing it");
    }
    let staging = tempfile::Builder::new()
        .prefix(".pull-")
        .tempdir_in(crate::files::parent_of(dir))?;
    for layer in &manifest.layers {
        let path = layer
            .annotations
            .get(TITLE)
            .with_context(|| format!("a layer of {digest} has no title"))?;
        crate::files::check_relative(path).map_err(|why| {
            anyhow::anyhow!("a layer of {digest} is titled {path:?}: the path {why}")
        })?;
        let bytes = client.blob(&layer.digest, max_file)?;
        let target = staging.path().join(path);
        std::fs::create_dir_all(crate::files::parent_of(&target))?;
        std::fs::write(&target, bytes)?;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(staging.keep(), dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = Reference::parse("oci://127.0.0.1:5000/stacks/platform:v1.2.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "stacks/platform");
        assert_eq!(r.tag.as_deref(), Some("v1.2.0"));
        assert_eq!(r.source(), "oci://127.0.0.1:5000/stacks/platform");
        assert_eq!(
            Reference::parse("oci://ghcr.io/acme/stack").unwrap().tag,
            None
        );
        for bad in [
            "oci://host",
            "https://x/y",
            "oci:///x",
            "oci://h/UPPER",
            "oci://a@b/x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(signature_tag("sha256:ab"), "sha256-ab.sig");
    }
}
