//! The SOPS file format, for age recipients: what Flux's kustomize-controller
//! decrypts (`decryption.provider: sops`) and what the `sops` CLI edits.
//!
//! A document is encrypted value by value. A random 32-byte data key
//! encrypts every leaf under a key matching [`ENCRYPTED_REGEX`] with
//! AES-256-GCM (32-byte IV; the path of keys, joined and ended by `:`, as
//! associated data) into `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`. The data
//! key is sealed to each age recipient (armored) under `sops.age`. A MAC, the
//! upper-case hex SHA-512 over every leaf's plaintext in document order, is
//! encrypted with the data key (associated data: `sops.lastmodified`) so that
//! a changed or reordered value fails decryption.
//!
//! Written here over the `age`, `aes-gcm` and `sha2` crates rather than a
//! SOPS crate: cairn must reuse an unchanged value's ciphertext byte for byte
//! (so an unchanged secret is an unchanged file), which needs control of the
//! data key and IVs that the available crates do not offer.

use std::io::{Read, Write};

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use age::secrecy::ExposeSecret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::{OsRng, RngCore};
use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha512};

/// The keys whose values cairn encrypts: a Secret's payload, nothing else,
/// so that names, labels and kinds stay reviewable.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";
/// The SOPS format version cairn writes.
pub const VERSION: &str = "3.10.2";

type Cipher = AesGcm<Aes256, U32>;

/// Why a SOPS document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    #[error("it is not a SOPS document (no `sops` metadata)")]
    NotEncrypted,
    #[error("none of the available age identities can open it (recipients: {0})")]
    NoIdentity(String),
    #[error("its `sops` metadata is invalid: {0}")]
    Metadata(String),
    #[error("value at {0} does not decrypt: the file was altered or is corrupt")]
    Value(String),
    #[error("its MAC does not match its values: the file was altered after encryption")]
    Mac,
}

/// A data key with the age stanzas that seal it.
pub struct DataKey {
    key: [u8; 32],
    /// `sops.age`, as written.
    stanzas: Value,
}

impl DataKey {
    /// A fresh data key sealed to `recipients`.
    pub fn generate(recipients: &[age::x25519::Recipient]) -> anyhow::Result<Self> {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let mut stanzas = Vec::new();
        for recipient in recipients {
            let mut stanza = Mapping::new();
            stanza.insert("recipient".into(), recipient.to_string().into());
            stanza.insert("enc".into(), seal_to(recipient, &key)?.into());
            stanzas.push(Value::Mapping(stanza));
        }
        Ok(Self {
            key,
            stanzas: Value::Sequence(stanzas),
        })
    }
}

fn seal_to(recipient: &age::x25519::Recipient, key: &[u8]) -> anyhow::Result<String> {
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))?;
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)?;
    let mut writer = encryptor.wrap_output(armor)?;
    writer.write_all(key)?;
    writer.finish()?.finish()?;
    let mut text = String::from_utf8(armored)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Whether `doc` carries SOPS metadata.
pub fn is_encrypted(doc: &Value) -> bool {
    doc.get("sops").is_some_and(Value::is_mapping)
}

/// The age recipients a SOPS document is sealed to.
pub fn recipients(doc: &Value) -> Vec<String> {
    doc.get("sops")
        .and_then(|s| s.get("age"))
        .and_then(Value::as_sequence)
        .map(|stanzas| {
            stanzas
                .iter()
                .filter_map(|s| s.get("recipient").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Encrypts `doc` (a mapping without `sops`) under `key`: every leaf below a
/// key matching [`ENCRYPTED_REGEX`], then the metadata. `lastmodified` is an
/// RFC 3339 UTC timestamp.
pub fn encrypt(doc: &Value, key: &DataKey, lastmodified: &str) -> anyhow::Result<Value> {
    let Value::Mapping(map) = doc else {
        anyhow::bail!("only a mapping can be encrypted");
    };
    let mut hash = Sha512::new();
    let mut out = Mapping::new();
    for (k, v) in map {
        let name = key_name(k)?;
        let mut path = vec![name.to_string()];
        out.insert(
            k.clone(),
            encrypt_value(v, &mut path, secret_key(name), &key.key, &mut hash)?,
        );
    }
    let mac = format!("{:X}", hash.finalize());
    let mut meta = Mapping::new();
    meta.insert("age".into(), key.stanzas.clone());
    meta.insert("lastmodified".into(), lastmodified.into());
    meta.insert(
        "mac".into(),
        seal_value(&Value::String(mac), &key.key, lastmodified)?.into(),
    );
    meta.insert("encrypted_regex".into(), ENCRYPTED_REGEX.into());
    meta.insert("version".into(), VERSION.into());
    out.insert("sops".into(), Value::Mapping(meta));
    Ok(Value::Mapping(out))
}

/// Whether a key matches [`ENCRYPTED_REGEX`].
fn secret_key(name: &str) -> bool {
    name == "data" || name == "stringData"
}

fn key_name(key: &Value) -> anyhow::Result<&str> {
    key.as_str()
        .ok_or_else(|| anyhow::anyhow!("SOPS supports only string keys, found {key:?}"))
}

fn encrypt_value(
    value: &Value,
    path: &mut Vec<String>,
    encrypted: bool,
    key: &[u8; 32],
    hash: &mut Sha512,
) -> anyhow::Result<Value> {
    Ok(match value {
        Value::Mapping(map) => {
            let mut out = Mapping::new();
            for (k, v) in map {
                let name = key_name(k)?;
                path.push(name.to_string());
                let inner = encrypt_value(v, path, encrypted || secret_key(name), key, hash)?;
                path.pop();
                out.insert(k.clone(), inner);
            }
            Value::Mapping(out)
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|v| encrypt_value(v, path, encrypted, key, hash))
                .collect::<anyhow::Result<_>>()?,
        ),
        Value::Tagged(tagged) => encrypt_value(&tagged.value, path, encrypted, key, hash)?,
        Value::Null => Value::Null,
        leaf => {
            hash.update(leaf_bytes(leaf));
            if encrypted {
                Value::String(seal_value(leaf, key, &aad(path))?)
            } else {
                leaf.clone()
            }
        }
    })
}

fn aad(path: &[String]) -> String {
    let mut out = path.join(":");
    out.push(':');
    out
}

/// A leaf's bytes as SOPS hashes and encrypts them (booleans title-cased,
/// as the original Python implementation wrote them).
fn leaf_bytes(leaf: &Value) -> Vec<u8> {
    match leaf {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Number(n) => n.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

fn leaf_type(leaf: &Value) -> &'static str {
    match leaf {
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        _ => "str",
    }
}

/// One `ENC[...]` value; SOPS leaves empty strings as they are.
fn seal_value(leaf: &Value, key: &[u8; 32], aad: &str) -> anyhow::Result<String> {
    let plain = leaf_bytes(leaf);
    if plain.is_empty() && leaf.is_string() {
        return Ok(String::new());
    }
    let mut iv = [0u8; 32];
    OsRng.fill_bytes(&mut iv);
    let cipher = Cipher::new(key.into());
    let sealed = cipher
        .encrypt(
            Nonce::<U32>::from_slice(&iv),
            Payload {
                msg: &plain,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("AES-GCM encryption failed"))?;
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
        B64.encode(data),
        B64.encode(iv),
        B64.encode(tag),
        leaf_type(leaf)
    ))
}

/// The parts of an `ENC[...]` value.
struct Sealed {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse_sealed(text: &str) -> Option<Sealed> {
    let body = text.strip_prefix("ENC[AES256_GCM,")?.strip_suffix(']')?;
    let (mut data, mut iv, mut tag, mut kind) = (None, None, None, None);
    for part in body.split(',') {
        let (name, value) = part.split_once(':')?;
        match name {
            "data" => data = B64.decode(value).ok(),
            "iv" => iv = B64.decode(value).ok(),
            "tag" => tag = B64.decode(value).ok(),
            "type" => kind = Some(value.to_string()),
            _ => return None,
        }
    }
    Some(Sealed {
        data: data?,
        iv: iv?,
        tag: tag?,
        kind: kind?,
    })
}

fn open_value(text: &str, key: &[u8; 32], aad: &str) -> Option<Value> {
    let sealed = parse_sealed(text)?;
    if sealed.iv.len() != 32 || sealed.tag.len() != 16 {
        return None;
    }
    let mut msg = sealed.data;
    msg.extend_from_slice(&sealed.tag);
    let plain = Cipher::new(key.into())
        .decrypt(
            Nonce::<U32>::from_slice(&sealed.iv),
            Payload {
                msg: &msg,
                aad: aad.as_bytes(),
            },
        )
        .ok()?;
    let plain = String::from_utf8(plain).ok()?;
    Some(match sealed.kind.as_str() {
        "str" | "bytes" => Value::String(plain),
        "int" => Value::Number(plain.parse::<i64>().ok()?.into()),
        "float" => Value::Number(plain.parse::<f64>().ok()?.into()),
        "bool" => Value::Bool(plain.eq_ignore_ascii_case("true")),
        _ => return None,
    })
}

/// The data key of `doc`, opened with one of `identities`.
pub fn data_key(doc: &Value, identities: &[age::x25519::Identity]) -> Result<DataKey, SopsError> {
    let meta = doc.get("sops").ok_or(SopsError::NotEncrypted)?;
    let stanzas = meta
        .get("age")
        .and_then(Value::as_sequence)
        .ok_or_else(|| SopsError::Metadata("no `age` recipients".into()))?;
    for stanza in stanzas {
        let Some(enc) = stanza.get("enc").and_then(Value::as_str) else {
            continue;
        };
        if let Some(key) = open_key(enc, identities) {
            return Ok(DataKey {
                key,
                stanzas: Value::Sequence(stanzas.clone()),
            });
        }
    }
    Err(SopsError::NoIdentity(recipients(doc).join(", ")))
}

fn open_key(armored: &str, identities: &[age::x25519::Identity]) -> Option<[u8; 32]> {
    let reader = age::armor::ArmoredReader::new(armored.as_bytes());
    let decryptor = age::Decryptor::new(reader).ok()?;
    let mut stream = decryptor
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .ok()?;
    let mut key = Vec::new();
    stream.read_to_end(&mut key).ok()?;
    key.try_into().ok()
}

/// Decrypts `doc` with `identities`, checking its MAC; returns the plaintext
/// document without `sops`.
pub fn decrypt(doc: &Value, identities: &[age::x25519::Identity]) -> Result<Value, SopsError> {
    let key = data_key(doc, identities)?;
    decrypt_with(doc, &key)
}

/// Decrypts `doc` with an already opened data key.
pub fn decrypt_with(doc: &Value, key: &DataKey) -> Result<Value, SopsError> {
    let meta = doc.get("sops").ok_or(SopsError::NotEncrypted)?;
    if meta.get("mac_only_encrypted").and_then(Value::as_bool) == Some(true) {
        return Err(SopsError::Metadata(
            "mac_only_encrypted is not supported; re-encrypt without it".into(),
        ));
    }
    let Value::Mapping(map) = doc else {
        return Err(SopsError::NotEncrypted);
    };
    let mut hash = Sha512::new();
    let mut out = Mapping::new();
    for (k, v) in map {
        if k.as_str() == Some("sops") {
            continue;
        }
        let name = k
            .as_str()
            .ok_or_else(|| SopsError::Metadata(format!("non-string key {k:?}")))?;
        let mut path = vec![name.to_string()];
        out.insert(k.clone(), decrypt_value(v, &mut path, &key.key, &mut hash)?);
    }
    let lastmodified = meta
        .get("lastmodified")
        .and_then(Value::as_str)
        .ok_or_else(|| SopsError::Metadata("no lastmodified".into()))?;
    let mac = meta
        .get("mac")
        .and_then(Value::as_str)
        .and_then(|m| open_value(m, &key.key, lastmodified))
        .ok_or(SopsError::Mac)?;
    if mac.as_str() != Some(format!("{:X}", hash.finalize()).as_str()) {
        return Err(SopsError::Mac);
    }
    Ok(Value::Mapping(out))
}

fn decrypt_value(
    value: &Value,
    path: &mut Vec<String>,
    key: &[u8; 32],
    hash: &mut Sha512,
) -> Result<Value, SopsError> {
    Ok(match value {
        Value::Mapping(map) => {
            let mut out = Mapping::new();
            for (k, v) in map {
                let name = k
                    .as_str()
                    .ok_or_else(|| SopsError::Metadata(format!("non-string key {k:?}")))?;
                path.push(name.to_string());
                let inner = decrypt_value(v, path, key, hash)?;
                path.pop();
                out.insert(k.clone(), inner);
            }
            Value::Mapping(out)
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|v| decrypt_value(v, path, key, hash))
                .collect::<Result<_, _>>()?,
        ),
        Value::Tagged(tagged) => decrypt_value(&tagged.value, path, key, hash)?,
        Value::Null => Value::Null,
        Value::String(s) if s.starts_with("ENC[AES256_GCM,") => {
            let plain =
                open_value(s, key, &aad(path)).ok_or_else(|| SopsError::Value(path.join(".")))?;
            hash.update(leaf_bytes(&plain));
            plain
        }
        leaf => {
            hash.update(leaf_bytes(leaf));
            leaf.clone()
        }
    })
}

/// Parses age identities (`AGE-SECRET-KEY-1...` lines; `#` comments and
/// blank lines skipped), as in an age identity file or `SOPS_AGE_KEY`.
pub fn parse_identities(text: &str) -> anyhow::Result<Vec<age::x25519::Identity>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.parse::<age::x25519::Identity>()
                .map_err(|e| anyhow::anyhow!("not an age identity: {e}"))
        })
        .collect()
}

/// An identity's text, for writing to a 0600 file.
pub fn identity_text(identity: &age::x25519::Identity) -> String {
    identity.to_string().expose_secret().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Value {
        serde_yaml::from_str(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels:\n    a: 'true'\ntype: Opaque\nstringData:\n  password: hunter2\n  empty: ''\ndata:\n  token: aGk=\nimmutable: true\nreplicas: 3\n",
        )
        .unwrap()
    }

    #[test]
    fn round_trips_and_encrypts_only_the_payload() {
        let identity = age::x25519::Identity::generate();
        let key = DataKey::generate(&[identity.to_public()]).unwrap();
        let sealed = encrypt(&secret(), &key, "2026-01-02T03:04:05Z").unwrap();
        let text = serde_yaml::to_string(&sealed).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("aGk="),
            "{text}"
        );
        assert!(
            text.contains("name: s") && text.contains("kind: Secret"),
            "{text}"
        );
        assert_eq!(sealed["stringData"]["empty"], Value::String(String::new()));
        assert_eq!(recipients(&sealed), [identity.to_public().to_string()]);
        assert_eq!(decrypt(&sealed, &[identity]).unwrap(), secret());
    }

    #[test]
    fn refuses_a_changed_value_a_changed_plain_field_and_a_stranger() {
        let identity = age::x25519::Identity::generate();
        let key = DataKey::generate(&[identity.to_public()]).unwrap();
        let sealed = encrypt(&secret(), &key, "2026-01-02T03:04:05Z").unwrap();

        let mut renamed = sealed.clone();
        renamed["metadata"]["name"] = "other".into();
        assert!(matches!(
            decrypt(&renamed, std::slice::from_ref(&identity)),
            Err(SopsError::Mac)
        ));

        let mut moved = sealed.clone();
        let token = moved["data"]["token"].clone();
        moved["stringData"]["password"] = token;
        assert!(matches!(
            decrypt(&moved, std::slice::from_ref(&identity)),
            Err(SopsError::Value(_))
        ));

        let stranger = age::x25519::Identity::generate();
        assert!(matches!(
            decrypt(&sealed, &[stranger]),
            Err(SopsError::NoIdentity(_))
        ));
    }
}
