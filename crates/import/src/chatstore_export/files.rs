//! Attachment files of an export: each path resolved inside the export directory
//! (never outside it, through `..`, an absolute path or a link), its bytes hashed, and
//! later streamed into the target's blob store and checked again.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use chatstore::export::ExportedFile;
use chatstore::{BlobKey, BlobStore, Error, Result};

/// An attachment file found, read and hashed.
#[derive(Debug, Clone)]
pub(super) struct Blob {
    /// Its key in the blob store.
    pub key: BlobKey,
    /// The file.
    pub path: PathBuf,
    /// Its length.
    pub size: u64,
    /// The blake3 hash of its bytes (hex).
    pub hash: String,
}

/// Finds and hashes the file `entry` names in `dir`; `Err` is the reason to refuse it.
pub(super) fn check(dir: &Path, entry: &ExportedFile) -> std::result::Result<Blob, String> {
    let path = resolve(dir, &entry.path)?;
    let (size, hash) = hash(&path).map_err(|e| format!("{} cannot be read: {e}", entry.path))?;
    if size != entry.size {
        return Err(format!(
            "{} holds {size} bytes, the export says {}",
            entry.path, entry.size
        ));
    }
    let key = if entry.thumbnail {
        BlobKey::thumbnail(entry.message_id, entry.index)
    } else {
        BlobKey::file(entry.message_id, entry.index)
    };
    Ok(Blob {
        key,
        path,
        size,
        hash,
    })
}

/// `relative` inside `dir`: a path of plain names only, to a file that, links
/// followed, is still inside `dir`.
fn resolve(dir: &Path, relative: &str) -> std::result::Result<PathBuf, String> {
    let escapes = || format!("{relative:?} is not a path inside the export directory");
    let path = Path::new(relative);
    if relative.is_empty()
        || path
            .components()
            .any(|part| !matches!(part, Component::Normal(_)))
    {
        return Err(escapes());
    }
    let missing = |e: std::io::Error| format!("{relative} is missing from the export ({e})");
    let root = dir.canonicalize().map_err(missing)?;
    let found = dir.join(path).canonicalize().map_err(missing)?;
    if !found.starts_with(&root) {
        return Err(format!("{} (it links outside)", escapes()));
    }
    if !found.is_file() {
        return Err(format!("{relative} is not a file"));
    }
    Ok(found)
}

/// The length and blake3 hash (hex) of the file at `path`, read as a stream.
fn hash(path: &Path) -> std::io::Result<(u64, String)> {
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok((size, hasher.finalize().to_hex().to_string()))
}

/// Streams `blob` into `store` unless the store already holds the same bytes under its
/// key; true when it was written. Bytes that changed since they were checked are
/// removed again and refused with [`Error::Validation`].
pub(super) fn put(store: &dyn BlobStore, blob: &Blob) -> Result<bool> {
    if let Some(info) = store.info(&blob.key)?
        && info.size == blob.size
        && info.hash.eq_ignore_ascii_case(&blob.hash)
    {
        return Ok(false);
    }
    let mut file = File::open(&blob.path).map_err(Error::io(&blob.path))?;
    let info = store.put_stream(&blob.key, blob.size, &mut file)?;
    if !info.hash.eq_ignore_ascii_case(&blob.hash) {
        store.delete(&blob.key)?;
        return Err(Error::validation(
            "attachment",
            format!(
                "{} changed while it was imported; nothing of its message was written",
                blob.path.display()
            ),
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_export_directory() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("export");
        std::fs::create_dir_all(dir.join("attachments")).unwrap();
        std::fs::write(dir.join("attachments/a"), b"x").unwrap();
        std::fs::write(outer.path().join("secret"), b"s").unwrap();
        assert!(resolve(&dir, "attachments/a").is_ok());
        for bad in [
            "../secret",
            "/etc/passwd",
            "attachments/../../secret",
            "",
            "./x",
        ] {
            let reason = resolve(&dir, bad).unwrap_err();
            assert!(reason.contains("not a path inside"), "{bad}: {reason}");
        }
        assert!(
            resolve(&dir, "attachments/none")
                .unwrap_err()
                .contains("missing")
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("secret"), dir.join("link")).unwrap();
            assert!(resolve(&dir, "link").unwrap_err().contains("links outside"));
        }
    }
}
