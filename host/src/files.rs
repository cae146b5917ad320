//! Reading and writing files under a directory cairn was pointed at, where
//! every path inside may come from someone else: a lock or journal in a
//! pull request, a component's output, a symbolic link committed to the repo.
//!
//! - [`check_relative`] is the one definition of a path cairn accepts from
//!   data: relative, portable, without `..`;
//! - [`no_links`] refuses a path that would pass through a symbolic link
//!   below the directory it is relative to, so nothing is ever read, written
//!   or deleted outside it because of a link;
//! - [`write_atomic`] and [`sync_dir`] make a rename survive power loss.
//!
//! A bottom module: it uses nothing else in cairn.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The longest path (in bytes) cairn accepts from data.
pub const MAX_PATH: usize = 1024;

/// Why a path from data is refused, in words that finish "the path ...".
pub fn check_relative(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("is empty".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!("is longer than {MAX_PATH} bytes"));
    }
    if path.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    if path.contains('\\') {
        return Err("contains a backslash; use '/' between directories".into());
    }
    if path.starts_with('/') || path.as_bytes().get(1) == Some(&b':') {
        return Err("is absolute; it must be relative".into());
    }
    for segment in path.split('/') {
        match segment {
            ".." => return Err("contains '..'".into()),
            "." | "" => return Err("has an empty or '.' segment".into()),
            _ if segment.chars().any(char::is_control) => {
                return Err("contains a control character".into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// A path that cannot be used without following a link or replacing
/// something that is not what cairn expects.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error(
        "{} is a symbolic link; cairn never follows links inside the directories it manages: replace it with a real directory or file",
        .0.display()
    )]
    Link(PathBuf),
    #[error(
        "{} is a file, but cairn needs a directory there; move it away",
        .0.display()
    )]
    NotADirectory(PathBuf),
    #[error(
        "{} is a directory, but cairn needs a file there; move it away",
        .0.display()
    )]
    NotAFile(PathBuf),
    #[error("cannot inspect {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks that `base.join(rel)` reaches its target through real
/// directories only: no component below `base` (the target included) is a
/// symbolic link, every existing parent is a directory, and the target, if
/// it exists, is a file. `rel` must be relative and free of `..` (see
/// [`check_relative`]); `base` itself is the user's choice and trusted.
pub fn no_links(base: &Path, rel: &Path) -> Result<(), PathError> {
    let mut current = base.to_path_buf();
    let parts: Vec<Component<'_>> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let Component::Normal(name) = part else {
            // `.` is harmless; anything else was refused by the caller.
            continue;
        };
        current.push(name);
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            // Nothing here yet: nothing below can exist either.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(PathError::Io {
                    path: current,
                    source,
                });
            }
        };
        let last = i + 1 == parts.len();
        if meta.file_type().is_symlink() {
            return Err(PathError::Link(current));
        }
        if !last && !meta.is_dir() {
            return Err(PathError::NotADirectory(current));
        }
        if last && meta.is_dir() {
            return Err(PathError::NotAFile(current));
        }
    }
    Ok(())
}

/// Like [`no_links`] for a directory: every component, the last included,
/// must be a real directory where it exists.
pub fn no_links_dir(base: &Path, rel: &Path) -> Result<(), PathError> {
    let mut current = base.to_path_buf();
    for part in rel.components() {
        let Component::Normal(name) = part else {
            continue;
        };
        current.push(name);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(PathError::Link(current)),
            Ok(meta) if !meta.is_dir() => return Err(PathError::NotADirectory(current)),
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(PathError::Io {
                    path: current,
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Reads the file at `path` (its last component never followed if it is a
/// link), refusing more than `max` bytes. `None` when it does not exist.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is larger than {}, more than cairn reads",
                path.display(),
                bytesize::ByteSize::b(max)
            ),
        ));
    }
    Ok(Some(bytes))
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text_bounded(path: &Path, max: u64) -> std::io::Result<Option<String>> {
    match read_bounded(path, max)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not UTF-8 text", path.display()),
            )
        }),
    }
}

/// Replaces one file atomically and durably: a synced temporary file beside
/// it, a rename, and a sync of the directory so the rename survives a power
/// loss. A link at `path` is replaced, never followed.
pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = parent_of(path);
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes the entries of `dir` (renames and removals in it) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The hex SHA-256 of `bytes`: how the lock and the caches name content.
pub fn sha256(bytes: impl AsRef<[u8]>) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_from_data_are_checked() {
        for ok in ["a.yaml", "a/b.yaml", "x-y/z_1.yml"] {
            assert_eq!(check_relative(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("", "empty"),
            ("../x", "'..'"),
            ("a/../../x", "'..'"),
            ("/etc/passwd", "absolute"),
            ("C:/x", "absolute"),
            ("a\\b", "backslash"),
            ("a//b", "empty"),
            ("./a", "'.'"),
            ("a/\u{1b}b", "control"),
            ("a\0b", "NUL"),
        ];
        for (path, why) in bad {
            let err = check_relative(path).unwrap_err();
            assert!(err.contains(why), "{path:?}: {err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_below_the_base_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(base.join("real/sub")).unwrap();
        std::fs::write(base.join("real/file.yaml"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), base.join("link")).unwrap();
        std::os::unix::fs::symlink(base.join("real/file.yaml"), base.join("real/l.yaml")).unwrap();

        no_links(base, Path::new("real/file.yaml")).unwrap();
        no_links(base, Path::new("real/new/deeper.yaml")).unwrap();
        no_links(base, Path::new("absent/x.yaml")).unwrap();
        assert!(matches!(
            no_links(base, Path::new("link/x.yaml")),
            Err(PathError::Link(_))
        ));
        assert!(matches!(
            no_links(base, Path::new("real/l.yaml")),
            Err(PathError::Link(_))
        ));
        assert!(matches!(
            no_links(base, Path::new("real/file.yaml/x.yaml")),
            Err(PathError::NotADirectory(_))
        ));
        assert!(matches!(
            no_links(base, Path::new("real/sub")),
            Err(PathError::NotAFile(_))
        ));
        no_links_dir(base, Path::new("real/sub")).unwrap();
        assert!(no_links_dir(base, Path::new("link")).is_err());

        // The last component is not followed when read.
        let err = read_bounded(&base.join("real/l.yaml"), 10).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        assert!(read_bounded(&base.join("real/file.yaml"), 0).is_err());
        assert_eq!(
            read_bounded(&base.join("real/file.yaml"), 1).unwrap(),
            Some(b"x".to_vec())
        );
    }
}
