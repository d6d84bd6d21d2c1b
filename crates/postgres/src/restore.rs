//! Restoring a backup script (what [`chatstore::MaintenanceStore::backup`] writes for a
//! PostgreSQL store) into a store: the file is checked to be a whole chatstore backup of
//! the store's schema version before anything changes, then loaded in one transaction
//! that also checks the store's invariants, so the store ends up either the backup's or
//! as it was.
//!
//! Only the rows are taken from the file (its `COPY` blocks, into chatstore's own
//! tables); the statements around them are chatstore's own, not the file's, so a file
//! that was edited cannot run other SQL.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use chatstore::{Error, Result};

use crate::PgStore;
use crate::db::Conn;
use crate::errors::from_postgres;
use crate::maintenance::{TABLES, broken_invariants, reset_identities, truncate_all};

/// How long a restore waits for the locks of transactions in flight (a host still
/// running) before it gives up, leaving the store as it was.
const LOCK_TIMEOUT: &str = "10s";

/// The first line of every backup, before its schema version.
const HEADER: &str = "-- chatstore PostgreSQL backup: every table of a store at schema version ";

/// The starts of the lines a backup has around its rows.
const FRAME: &[&str] = &[
    "--",
    "BEGIN;",
    "COMMIT;",
    "DO $check$ BEGIN",
    "IF (SELECT max(version) FROM schema_migrations) IS DISTINCT FROM ",
    "RAISE EXCEPTION 'this backup is of schema version ",
    "END IF;",
    "END $check$;",
    "TRUNCATE ",
    "SELECT setval(pg_get_serial_sequence(",
];

impl PgStore {
    /// Replaces everything the store holds with the backup at `path`, in one
    /// transaction, and returns the backup's schema version. Refused, with the store
    /// unchanged: a file that is not a whole chatstore backup ([`Error::Validation`]), a
    /// backup of another schema version than the store's (migrate the store to it
    /// first), a backup that would break the store's invariants ([`Error::Corrupt`]),
    /// and a store whose tables stay locked by transactions in flight for 10 seconds
    /// ([`Error::Busy`] or [`Error::Unavailable`]: stop the hosts first).
    pub fn restore_backup(&self, path: &Path) -> Result<u32> {
        let version = backup_version(path)?;
        let current = self.schema_version()?;
        if version != current {
            return Err(Error::validation(
                "backup",
                format!(
                    "{} is a backup of schema version {version} and the store is at {current}: migrate the store to {version} first",
                    path.display()
                ),
            ));
        }
        self.db.write_once(|c| {
            c.batch(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))?;
            c.batch(&truncate_all())?;
            load_rows(c, path)?;
            c.batch(&reset_identities())?;
            let broken = broken_invariants(c)?;
            if broken.is_empty() {
                return Ok(());
            }
            Err(Error::Corrupt {
                detail: format!(
                    "{} would leave the store broken ({}); the store is unchanged",
                    path.display(),
                    broken.join("; ")
                ),
            })
        })?;
        Ok(version)
    }
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::validation(
        "backup",
        format!("{} is not a whole chatstore backup: {why}", path.display()),
    )
}

/// The schema version a backup file says it is of, after checking that the file
/// starts as a backup does and ends with its `COMMIT;` (a file cut short is refused).
fn backup_version(path: &Path) -> Result<u32> {
    let mut file = File::open(path).map_err(Error::io(path))?;
    let mut first = String::new();
    BufReader::new(&mut file)
        .take(4096)
        .read_line(&mut first)
        .map_err(Error::io(path))?;
    let version = first
        .strip_prefix(HEADER)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| invalid(path, "its first line is not a chatstore backup's"))?;
    let length = file.seek(SeekFrom::End(0)).map_err(Error::io(path))?;
    file.seek(SeekFrom::Start(length.saturating_sub(64)))
        .map_err(Error::io(path))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(Error::io(path))?;
    if !String::from_utf8_lossy(&tail)
        .trim_end()
        .ends_with("\nCOMMIT;")
    {
        return Err(invalid(
            path,
            "it does not end with its COMMIT (cut short?)",
        ));
    }
    Ok(version)
}

/// Reads the next line of the file into `line` (counting it); false at the end.
fn next_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    number: &mut u64,
    path: &Path,
) -> Result<bool> {
    line.clear();
    *number += 1;
    Ok(reader.read_until(b'\n', line).map_err(Error::io(path))? > 0)
}

/// Copies the rows of each `COPY` block of the file into its table; every other line
/// must be one of a backup's own.
fn load_rows(c: &mut Conn<'_, '_>, path: &Path) -> Result<()> {
    let mut reader = BufReader::new(File::open(path).map_err(Error::io(path))?);
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut loaded = Vec::new();
    while next_line(&mut reader, &mut line, &mut number, path)? {
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if let Some(table) = text
            .strip_prefix("COPY ")
            .and_then(|rest| rest.strip_suffix(" FROM stdin;"))
        {
            let table = TABLES
                .iter()
                .find(|t| **t == table)
                .ok_or_else(|| invalid(path, format!("line {number} copies into {table}")))?;
            let mut rows = c.copy_in(&format!("COPY {table} FROM STDIN"))?;
            loop {
                if !next_line(&mut reader, &mut line, &mut number, path)? {
                    return Err(invalid(path, format!("the rows of {table} do not end")));
                }
                if line.strip_suffix(b"\n").unwrap_or(&line) == b"\\." {
                    break;
                }
                rows.write_all(&line).map_err(|e| Error::Unavailable {
                    detail: format!("restoring {table}: {e}"),
                })?;
            }
            rows.finish().map_err(from_postgres)?;
            loaded.push(*table);
        } else if !text.is_empty() && !FRAME.iter().any(|start| text.starts_with(start)) {
            return Err(invalid(path, format!("line {number} is not a backup's")));
        }
    }
    match TABLES.iter().find(|t| !loaded.contains(t)) {
        Some(missing) => Err(invalid(path, format!("it has no rows for {missing}"))),
        None => Ok(()),
    }
}
