//! Noticing that a database file was deleted or replaced while a store had it open.
//! SQLite goes on reading and writing the file it opened even after its name is gone,
//! so without this check a write to a deleted `chatstore.db` or `files.db` would be
//! acknowledged and then vanish with the file when the store closes.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chatstore::{Error, Result};

/// How long a successful check vouches for reads. Reads from a file that is gone still
/// return its (intact) bytes, so they need not pay for a `stat` each; writes always check.
const READ_RECHECK: Duration = Duration::from_millis(250);

/// The file a path named when the store opened it.
#[derive(Debug)]
pub(crate) struct FileIdentity {
    path: PathBuf,
    device: u64,
    inode: u64,
    opened: Instant,
    /// When the last check passed, in nanoseconds after `opened`.
    passed_at: AtomicU64,
    /// The last check found the file gone: every call checks again.
    gone: AtomicBool,
}

impl FileIdentity {
    /// The file `path` names now (the path made absolute, as SQLite does when opening).
    pub(crate) fn of(path: &Path) -> Result<FileIdentity> {
        let io_error = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let path = std::path::absolute(path).map_err(io_error)?;
        let (device, inode) = device_and_inode(&std::fs::metadata(&path).map_err(io_error)?);
        Ok(FileIdentity {
            path,
            device,
            inode,
            opened: Instant::now(),
            passed_at: AtomicU64::new(0),
            gone: AtomicBool::new(false),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// [`FileIdentity::check`], skipped when one passed less than [`READ_RECHECK`] ago.
    pub(crate) fn check_for_read(&self) -> Result<()> {
        let fresh = self
            .now()
            .saturating_sub(self.passed_at.load(Ordering::Relaxed))
            < READ_RECHECK.as_nanos() as u64;
        if fresh && !self.gone.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.check()
    }

    /// Fails with [`Error::Io`] naming the file unless its path still names the file
    /// that was opened. Not retriable: the open store cannot get its file back.
    pub(crate) fn check(&self) -> Result<()> {
        let gone = |what: &str, kind: io::ErrorKind| {
            self.gone.store(true, Ordering::Relaxed);
            Error::Io {
                path: self.path.clone(),
                source: io::Error::new(
                    kind,
                    format!(
                        "the database file was {what} while the store had it open, and \
                         nothing written to it now would be kept: restore the file from a \
                         backup and reopen the store (reopening without one starts an empty \
                         store)"
                    ),
                ),
            }
        };
        match std::fs::metadata(&self.path) {
            Ok(now) if device_and_inode(&now) == (self.device, self.inode) => {
                self.gone.store(false, Ordering::Relaxed);
                self.passed_at.store(self.now(), Ordering::Relaxed);
                Ok(())
            }
            Ok(_) => Err(gone("replaced by another file", io::ErrorKind::Other)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(gone("deleted", io::ErrorKind::NotFound))
            }
            Err(source) => Err(Error::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

#[cfg(unix)]
fn device_and_inode(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

/// Elsewhere a file SQLite holds open cannot be deleted or replaced; only its presence
/// is checked.
#[cfg(not(unix))]
fn device_and_inode(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}
