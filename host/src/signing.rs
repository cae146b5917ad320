//! Release signatures: SSH signatures on annotated git tags, as `git tag -s`
//! makes them with `gpg.format=ssh` and `git verify-tag` checks them (and
//! `ssh-keygen -Y verify`, namespace `git`). A tag object carries its
//! signature at the end of its message; the signed bytes are the object up
//! to it. The signature holds the signer's public key: what is checked
//! here is that the signature is valid for that key; whether the key is
//! one the user trusts is the caller's question.

use std::path::Path;

use anyhow::{Context, bail};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The namespace git signs with.
const NAMESPACE: &str = "git";
const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";

/// At most 60 characters of `text`, on one line, for a message.
fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(60).collect()
}

/// Who signed: a public key and its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The key in OpenSSH form, without a comment (`ssh-ed25519 AAAA...`).
    pub key: String,
    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

impl Signer {
    fn of(key: &PublicKey) -> anyhow::Result<Self> {
        let mut bare = key.clone();
        bare.set_comment("");
        Ok(Self {
            key: bare.to_openssh()?.trim().to_string(),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        })
    }
}

/// A public key in OpenSSH form (`ssh-ed25519 AAAA... comment`), or `None`
/// with why not.
pub fn parse_key(text: &str) -> anyhow::Result<Signer> {
    let key = PublicKey::from_openssh(text.trim()).with_context(|| {
        format!(
            "{:?} is not an SSH public key (expected `ssh-ed25519 AAAA...`, as in a .pub file)",
            shown(text)
        )
    })?;
    Signer::of(&key)
}

/// The signed bytes and the armored signature of a raw tag object, when it
/// carries an SSH signature.
pub fn split_tag(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let text = raw;
    let mut at = None;
    let mut start = 0;
    while let Some(found) = find(&text[start..], BEGIN.as_bytes()) {
        let pos = start + found;
        if pos == 0 || text[pos - 1] == b'\n' {
            at = Some(pos);
        }
        start = pos + 1;
    }
    let at = at?;
    Some((&raw[..at], &raw[at..]))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Checks that `armored` is a valid git signature of `payload`, and returns
/// the key that made it.
pub fn verify(payload: &[u8], armored: &[u8]) -> anyhow::Result<Signer> {
    verify_in(NAMESPACE, payload, armored)
}

/// [`verify`] for a signature made in `namespace`.
pub fn verify_in(namespace: &str, payload: &[u8], armored: &[u8]) -> anyhow::Result<Signer> {
    let signature =
        SshSig::from_pem(armored).context("the release's SSH signature cannot be read")?;
    if signature.namespace() != namespace {
        bail!(
            "the release is signed for namespace {:?}, not {namespace:?}",
            shown(signature.namespace())
        );
    }
    let key = PublicKey::from(signature.public_key().clone());
    key.verify(namespace, payload, &signature)
        .context("the release's SSH signature does not match its content (it was altered)")?;
    Signer::of(&key)
}

/// Signs `payload` as git would, with the private key in `key_file`
/// (OpenSSH format, not encrypted).
pub fn sign(payload: &[u8], key_file: &Path) -> anyhow::Result<(String, Signer)> {
    sign_in(NAMESPACE, payload, key_file)
}

/// [`sign`] in `namespace`.
pub fn sign_in(
    namespace: &str,
    payload: &[u8],
    key_file: &Path,
) -> anyhow::Result<(String, Signer)> {
    let key = PrivateKey::read_openssh_file(key_file)
        .with_context(|| format!("cannot read the SSH private key {}", key_file.display()))?;
    if key.is_encrypted() {
        bail!(
            "{} is encrypted with a passphrase, which cairn cannot ask for; sign with `git tag -s` (gpg.format=ssh) instead, or use a key for releases without one",
            key_file.display()
        );
    }
    let signature = key
        .sign(namespace, HashAlg::Sha512, payload)
        .context("cannot sign")?;
    Ok((
        signature.to_pem(LineEnding::LF)?,
        Signer::of(key.public_key())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_verifies_and_detects_changes() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
        let path = dir.path().join("id");
        key.write_openssh_file(&path, LineEnding::LF).unwrap();
        let payload = b"object 0123\ntype commit\ntag v1.0.0\n\nRelease v1.0.0\n";
        let (armored, signer) = sign(payload, &path).unwrap();
        let mut raw = payload.to_vec();
        raw.extend_from_slice(armored.as_bytes());

        let (signed, sig) = split_tag(&raw).unwrap();
        assert_eq!(signed, payload);
        assert_eq!(verify(signed, sig).unwrap(), signer);
        assert!(signer.fingerprint.starts_with("SHA256:"));
        assert_eq!(
            parse_key(&format!("{} me@host", signer.key)).unwrap(),
            signer
        );

        let mut altered = raw.clone();
        altered[payload.len() - 3] = b'1';
        let (signed, sig) = split_tag(&altered).unwrap();
        assert!(verify(signed, sig).is_err());
        assert!(split_tag(b"object 0123\n\nno signature\n").is_none());
        assert!(parse_key("not a key").is_err());
    }
}
