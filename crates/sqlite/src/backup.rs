//! Online backups of a database file, shared by `chatstore.db` and `files.db`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chatstore::{BackupDestination, Error, Result};
use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use crate::db::Db;
use crate::errors::SqliteResultExt;
use crate::row::RowExt;

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
        self.read(|c| copy_database(c.raw(), target, Some(PAGES_PER_STEP)))
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

/// Writes consistent copies of several databases that belong together (a store's
/// `chatstore.db` and its `files.db`) to their targets, each under a temporary name
/// renamed into place. A read snapshot of every database is taken, back to back, before
/// any copying starts, and each copy is of its snapshot: however long the copying takes,
/// the copies show the databases as they were within moments of each other, so a write
/// spanning both (attachments stored, then the message naming them) is very rarely
/// caught half-way; a caller that must rule it out checks the pair and takes it again.
pub fn backup_together(copies: &[(&Db, &Path)]) -> Result<()> {
    let readers = copies
        .iter()
        .map(|(db, _)| db.reader())
        .collect::<Result<Vec<_>>>()?;
    // A deferred transaction's snapshot starts at its first read.
    let result = readers
        .iter()
        .try_for_each(|reader| {
            reader.run(|c| {
                c.execute("BEGIN", &[])?;
                c.row("SELECT count(*) FROM sqlite_schema", &[], |row| row.int(0))
                    .map(drop)
            })
        })
        .and_then(|()| {
            copies
                .iter()
                .zip(&readers)
                .try_for_each(|((_, target), reader)| {
                    let partial = target.with_extension("partial");
                    reader.run(|c| copy_database(c.raw(), &partial, None))?;
                    std::fs::rename(&partial, target).map_err(Error::io(target))
                })
        });
    // Ends the snapshots (on a reader that never began one, a harmless error).
    for reader in &readers {
        let _ = reader.run(|c| c.execute("COMMIT", &[]));
    }
    result
}

/// Copies the database `source` reads into a new file at `target` (replacing one
/// there), as a file in rollback-journal mode that opens on its own: [`PAGES_PER_STEP`]
/// pages at a time, or, with `None`, every page in one step, all from the snapshot of
/// the transaction `source` has open.
fn copy_database(source: &Connection, target: &Path, pages: Option<i32>) -> Result<()> {
    let _ = std::fs::remove_file(target);
    let mut copy = Connection::open(target).db()?;
    let backup = Backup::new(source, &mut copy).db()?;
    match pages {
        Some(pages) => backup
            .run_to_completion(pages, Duration::from_millis(1), None)
            .db()?,
        None => loop {
            match backup.step(-1).db()? {
                StepResult::Done => break,
                StepResult::More => {}
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        },
    }
    drop(backup);
    copy.execute_batch("PRAGMA journal_mode = DELETE;").db()?;
    copy.close().map_err(|(_, e)| e).db()
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
