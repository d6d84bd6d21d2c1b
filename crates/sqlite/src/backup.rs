//! Online backups of a database file, shared by `chatstore.db` and `files.db`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chatstore::{BackupDestination, Error, Result};
use rusqlite::Connection;
use rusqlite::backup::Backup;

use crate::db::Db;
use crate::errors::SqliteResultExt;

/// Pages copied per step of SQLite's online backup; writers get the lock between steps.
const PAGES_PER_STEP: i32 = 256;

impl Db {
    /// Writes a consistent copy of the database while it stays in use (SQLite's online
    /// backup, which restarts a step when a writer changed a page it had copied). The
    /// copy is a complete database file in rollback-journal mode, so it opens on its own.
    pub fn backup(&self, destination: BackupDestination<'_>) -> Result<()> {
        match destination {
            BackupDestination::File(path) => {
                // Copy to a temporary name and rename, so a crash mid-backup never leaves
                // a half-written file under the backup's name.
                let partial = path.with_extension("partial");
                self.copy_to(&partial)?;
                std::fs::rename(&partial, path).map_err(Error::io(path))
            }
            BackupDestination::Stream(out) => {
                let partial = self.scratch_path();
                let result = self.copy_to(&partial).and_then(|()| send(&partial, out));
                let _ = std::fs::remove_file(&partial);
                result
            }
        }
    }

    /// Copies the database into a new file at `target` (replacing one there).
    fn copy_to(&self, target: &Path) -> Result<()> {
        let _ = std::fs::remove_file(target);
        self.read(|c| {
            let mut copy = Connection::open(target).db()?;
            let backup = Backup::new(c.raw(), &mut copy).db()?;
            backup
                .run_to_completion(PAGES_PER_STEP, Duration::from_millis(1), None)
                .db()?;
            drop(backup);
            copy.execute_batch("PRAGMA journal_mode = DELETE;").db()?;
            copy.close().map_err(|(_, e)| e).db()
        })
    }

    /// A fresh name beside the database for a copy on its way to a stream.
    fn scratch_path(&self) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut name = self.path().file_name().unwrap_or_default().to_os_string();
        name.push(format!(".backup-{}-{n}.partial", std::process::id()));
        self.path().with_file_name(name)
    }
}

/// Writes the file at `path` into `out`. An error of `out` names the stream rather than
/// the file, so the message says which side failed.
fn send(path: &Path, out: &mut dyn Write) -> Result<()> {
    let stream = Path::new("<backup stream>");
    let mut file = File::open(path).map_err(Error::io(path))?;
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(Error::io(path))?;
        if n == 0 {
            return out.flush().map_err(Error::io(stream));
        }
        out.write_all(&buffer[..n]).map_err(Error::io(stream))?;
    }
}
