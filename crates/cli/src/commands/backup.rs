//! `chatstore backup`, `backup list` and `restore`.
//!
//! A SQLite backup is a directory `chatstore-<UTC time>` holding `chatstore.db` and
//! `files.db`, copied while the store stays in use (the main database first: a message
//! names attachments that were stored before it, so they are in the later copy of
//! `files.db` unless a purge ran in between, which the verification catches and the
//! backup then retries). It is written as `<name>.partial`, verified on a scratch copy
//! (both files open, pass the integrity checks, every attachment's bytes match their
//! hash, no message names a missing attachment) and only then renamed to its name.
//! A PostgreSQL backup is the backend's `psql` script, `chatstore-<schema>-<time>.sql`,
//! restored in one checked transaction ([`chatstore_postgres::PgStore::restore_backup`]).

use std::path::{Path, PathBuf};

use chatstore::{ChatStore, Config, MaintenanceStore, NoVectorIndex};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::engine::backup_together;
use chatstore_sqlite::{SqliteOptions, SqliteStore};
use serde::Serialize;
use serde_json::json;

use crate::cli::{BackupAction, BackupArgs, Global, RestoreArgs};
use crate::error::{CliError, Result};
use crate::open::{MAIN_FILE, Mode, Opened, Target, open};
use crate::output::{Output, Table, bytes};
use crate::progress::Spinner;

/// The attachment file's name inside a backup.
pub const FILES_FILE: &str = "files.db";

/// Backups taken again when the pair's check finds a purge ran between the two copies.
const PAIR_ATTEMPTS: usize = 3;

/// One backup in a backup directory.
#[derive(Debug, Clone, Serialize)]
pub struct BackupEntry {
    /// Its name (a directory for SQLite, a `.sql` file for PostgreSQL).
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Bytes on disk.
    pub size: u64,
}

/// What verifying a SQLite backup found (all of it good, or it is an error).
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// The schema version of the backup.
    pub schema_version: u32,
    /// Messages with attachments whose attachments were all found.
    pub messages_with_files: u64,
}

/// Runs `backup` or `backup list`.
pub fn run(global: &Global, args: BackupArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    if let Some(BackupAction::List { dir }) = args.action {
        let dir = match dir.or(args.dir) {
            Some(dir) => dir,
            None => default_dir(&target)?,
        };
        return list_output(&dir);
    }
    let dir = match args.dir {
        Some(dir) => dir,
        None => default_dir(&target)?,
    };
    if args.keep == Some(0) {
        return Err(CliError::usage("--keep must be at least 1"));
    }
    let opened = open(&target, Mode::Inspect)?;
    let entry = match &opened {
        Opened::Sqlite(chat) => take_sqlite(chat, &dir)?,
        Opened::Postgres(chat) => take_postgres(chat.store(), &dir)?,
    };
    let removed = match args.keep {
        Some(keep) => rotate(&dir, keep)?,
        None => Vec::new(),
    };
    let mut human = format!(
        "backup {} written and verified ({})",
        entry.path.display(),
        bytes(entry.size)
    );
    for old in &removed {
        human.push_str(&format!("\nremoved old backup {old}"));
    }
    Ok(Output::new(
        json!({ "backup": entry, "removed": removed }),
        human,
    ))
}

/// Where backups go when `--dir` is not given: `backups` beside a SQLite store's main
/// file. A PostgreSQL store has no directory of its own, so `--dir` is required.
pub fn default_dir(target: &Target) -> Result<PathBuf> {
    match target.main_file() {
        Some(main) => Ok(main
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join("backups")),
        None => Err(CliError::usage(
            "a PostgreSQL store has no directory of its own: pass --dir",
        )),
    }
}

/// A backup's name for the current time (UTC, to the millisecond, so that names sort
/// in time order).
fn stamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// A name not yet taken in `dir`.
fn fresh_name(dir: &Path, base: &str, extension: &str) -> String {
    let mut name = format!("{base}{extension}");
    let mut n = 2;
    while dir.join(&name).exists() || dir.join(format!("{name}.partial")).exists() {
        name = format!("{base}-{n}{extension}");
        n += 1;
    }
    name
}

/// Takes a verified backup of a SQLite store into a new directory in `dir`.
pub fn take_sqlite(
    chat: &ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex>,
    dir: &Path,
) -> Result<BackupEntry> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    let name = fresh_name(dir, &format!("chatstore-{}", stamp()), "");
    let partial = dir.join(format!("{name}.partial"));
    let spinner = Spinner::start(format!("backing up to {}", dir.join(&name).display()));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial)?;
        spinner.step("copying chatstore.db and files.db");
        copy_pair(chat, &partial.join(MAIN_FILE), &partial.join(FILES_FILE))?;
        spinner.step("verifying the copy");
        match verify_sqlite(&partial.join(MAIN_FILE), &partial.join(FILES_FILE)) {
            Ok(_) => break,
            Err(error)
                if attempt < PAIR_ATTEMPTS && error.message.contains("missing attachment") =>
            {
                continue;
            }
            Err(error) => {
                let _ = std::fs::remove_dir_all(&partial);
                return Err(CliError::new(format!(
                    "the backup failed its verification and was removed: {}",
                    error.message
                )));
            }
        }
    }
    let path = dir.join(&name);
    std::fs::rename(&partial, &path)?;
    Ok(BackupEntry {
        size: size_of(&path),
        name,
        path,
    })
}

/// Copies a SQLite store's two files as one snapshot ([`backup_together`]).
pub fn copy_pair(
    chat: &ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex>,
    main: &Path,
    files: &Path,
) -> Result<()> {
    backup_together(&[
        (chat.store().engine(), main),
        (chat.blobs().engine(), files),
    ])?;
    Ok(())
}

/// Writes a PostgreSQL store's backup script into `dir` and checks it is complete.
fn take_postgres(store: &chatstore_postgres::PgStore, dir: &Path) -> Result<BackupEntry> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    let name = fresh_name(
        dir,
        &format!("chatstore-{}-{}", store.schema(), stamp()),
        ".sql",
    );
    let path = dir.join(&name);
    let spinner = Spinner::start(format!("backing up to {}", path.display()));
    store.backup_to(&path)?;
    drop(spinner);
    let text = std::fs::read(&path)?;
    if !text.ends_with(b"COMMIT;\n") {
        let _ = std::fs::remove_file(&path);
        return Err(CliError::new(
            "the backup script is incomplete (no closing COMMIT) and was removed",
        ));
    }
    Ok(BackupEntry {
        size: size_of(&path),
        name,
        path,
    })
}

/// Verifies a SQLite backup pair without changing it: both files are copied to a
/// scratch directory, opened there (without migrating), integrity-checked, every
/// attachment's bytes compared with their hash, and every message's attachments looked
/// up. Returns the scratch copy, for a restore to use what was verified.
fn verify_copy(main: &Path, files: &Path) -> Result<(tempfile::TempDir, Verified)> {
    let parent = main.parent().unwrap_or(Path::new("."));
    let scratch = tempfile::Builder::new()
        .prefix(".chatstore-verify-")
        .tempdir_in(parent)?;
    let (main_copy, files_copy) = (
        scratch.path().join(MAIN_FILE),
        scratch.path().join(FILES_FILE),
    );
    std::fs::copy(main, &main_copy)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", main.display())))?;
    if files.is_file() {
        std::fs::copy(files, &files_copy)
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", files.display())))?;
    }
    let verified = {
        let store = SqliteStore::open_with(
            Config::new(main_copy.to_string_lossy()),
            &SqliteOptions::default().skip_migrations(true),
        )
        .map_err(|e| CliError::new(format!("{} does not open: {e}", main.display())))?;
        store
            .check_integrity()
            .map_err(|e| CliError::new(format!("{} is damaged: {e}", main.display())))?;
        let schema_version = store.schema_version()?;
        let blobs = SqliteBlobStore::open(BlobConfig::new(&files_copy))
            .map_err(|e| CliError::new(format!("{} does not open: {e}", files.display())))?;
        blobs
            .check_integrity()
            .map_err(|e| CliError::new(format!("{} is damaged: {e}", files.display())))?;
        let damaged = blobs.verify_contents()?;
        if !damaged.is_empty() {
            return Err(CliError::new(format!(
                "{} holds {} attachments whose bytes do not match their hash",
                files.display(),
                damaged.len()
            )));
        }
        let chat = ChatStore::assemble(store, blobs, NoVectorIndex);
        let mut messages_with_files = 0;
        if schema_version == chatstore_sqlite::LATEST_VERSION {
            let audit = chat.audit_attachments(chat.store().now())?;
            if let Some(key) = audit.dangling.first() {
                return Err(CliError::new(format!(
                    "{} messages name a missing attachment (first: {key})",
                    audit.dangling.len()
                )));
            }
            messages_with_files = audit.messages_checked;
        }
        Verified {
            schema_version,
            messages_with_files,
        }
    };
    Ok((scratch, verified))
}

/// Verifies a SQLite backup pair on a scratch copy (both files open and pass their
/// integrity checks, every attachment matches its hash, no message names a missing
/// attachment), changing nothing.
pub fn verify_sqlite(main: &Path, files: &Path) -> Result<Verified> {
    verify_copy(main, files).map(|(_, verified)| verified)
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<BackupEntry>> {
    let mut entries = Vec::new();
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
        Err(e) => return Err(CliError::new(format!("cannot read {}: {e}", dir.display()))),
    };
    for item in read {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        let pair = path.is_dir() && path.join(MAIN_FILE).is_file();
        let script = path.is_file() && name.ends_with(".sql");
        if name.starts_with("chatstore-") && !name.ends_with(".partial") && (pair || script) {
            entries.push(BackupEntry {
                size: size_of(&path),
                name,
                path,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn list_output(dir: &Path) -> Result<Output> {
    let entries = list(dir)?;
    let mut table = Table::new(&["backup", "size"]);
    for entry in entries.iter().rev() {
        table.row(vec![entry.name.clone(), bytes(entry.size)]);
    }
    let human = if entries.is_empty() {
        format!("no backups in {}", dir.display())
    } else {
        format!(
            "{} backups in {}\n\n{}",
            entries.len(),
            dir.display(),
            table.render()
        )
    };
    let newest_first: Vec<_> = entries.into_iter().rev().collect();
    Ok(Output::new(
        json!({ "dir": dir.display().to_string(), "backups": newest_first }),
        human,
    ))
}

/// Deletes all but the newest `keep` backups in `dir`; returns the names deleted.
pub fn rotate(dir: &Path, keep: usize) -> Result<Vec<String>> {
    let entries = list(dir)?;
    let excess = entries.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for entry in entries.into_iter().take(excess) {
        if entry.path.is_dir() {
            std::fs::remove_dir_all(&entry.path)?;
        } else {
            std::fs::remove_file(&entry.path)?;
        }
        removed.push(entry.name);
    }
    Ok(removed)
}

/// Bytes on disk of a file, or of the files in a directory.
fn size_of(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|read| {
                read.filter_map(|e| e.ok())
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    } else {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}

/// Runs `restore`: verifies the backup, then replaces the store's files with it, only
/// when no process has the store open.
pub fn restore(global: &Global, args: RestoreArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    let Target::Sqlite { config, blobs } = &target else {
        return restore_postgres(&target, &args);
    };
    let live_main = chatstore_sqlite::database_path(&config.database_url)?;
    let live_files = blobs.path.clone();
    let source = if args.backup.exists() {
        args.backup.clone()
    } else {
        let dir = match &args.dir {
            Some(dir) => dir.clone(),
            None => default_dir(&target)?,
        };
        dir.join(&args.backup)
    };
    let (main, files) = if source.is_dir() {
        (source.join(MAIN_FILE), source.join(FILES_FILE))
    } else {
        let beside = source.with_file_name(FILES_FILE);
        (source.clone(), beside)
    };
    if !main.is_file() {
        return Err(CliError::new(format!("no backup at {}", source.display())));
    }
    let exists = live_main.is_file();
    if exists && !args.force {
        return Err(CliError::usage(format!(
            "{} exists: pass --force to replace it with the backup",
            live_main.display()
        )));
    }
    let spinner = Spinner::start("verifying the backup");
    let (scratch, verified) = verify_copy(&main, &files).map_err(|e| {
        CliError::new(format!(
            "the backup was refused, the store is unchanged: {}",
            e.message
        ))
    })?;
    spinner.step("restoring");
    let (main_copy, files_copy) = (
        scratch.path().join(MAIN_FILE),
        scratch.path().join(FILES_FILE),
    );
    if let Some(dir) = live_main.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // The attachments first: a running host holds both files open, so its store is
    // refused at the first replacement, before anything has changed.
    put_in_place(&files_copy, &live_files)?;
    put_in_place(&main_copy, &live_main)?;
    drop(spinner);
    Ok(Output::new(
        json!({ "restored": source.display().to_string(), "store": target.describe(),
                "schema_version": verified.schema_version,
                "messages_with_files": verified.messages_with_files }),
        format!(
            "restored {} into {} (schema version {}; opening the store applies any newer migrations)",
            source.display(),
            target.describe(),
            verified.schema_version
        ),
    ))
}

/// Restores a PostgreSQL backup script into the store: everything the store holds is
/// replaced, in one transaction, after the script is checked (`--force` required).
fn restore_postgres(target: &Target, args: &RestoreArgs) -> Result<Output> {
    let script = match (&args.dir, args.backup.exists()) {
        (Some(dir), false) => dir.join(&args.backup),
        _ => args.backup.clone(),
    };
    if !script.is_file() {
        return Err(CliError::new(format!("no backup at {}", script.display())));
    }
    if !args.force {
        return Err(CliError::usage(format!(
            "restoring replaces everything {} holds: stop the hosts using it and pass --force",
            target.describe()
        )));
    }
    let opened = open(target, Mode::Inspect)?;
    let Opened::Postgres(chat) = &opened else {
        return Err(CliError::new("not a PostgreSQL store"));
    };
    let spinner = Spinner::start("restoring");
    let version = chat.store().restore_backup(&script).map_err(|e| {
        CliError::new(format!(
            "the backup was refused, the store is unchanged: {e}"
        ))
    })?;
    drop(spinner);
    Ok(Output::new(
        json!({ "restored": script.display().to_string(), "store": target.describe(),
                "schema_version": version }),
        format!(
            "restored {} into {} (schema version {version})",
            script.display(),
            target.describe()
        ),
    ))
}

/// Replaces `live` with the verified copy `copy`: through SQLite (refused while the file
/// is open) when `live` exists, by copying when it does not.
fn put_in_place(copy: &Path, live: &Path) -> Result<()> {
    if live.is_file() {
        chatstore_sqlite::restore_database(copy, live).map_err(|e| {
            CliError::new(format!(
                "{} cannot be replaced: {e} (is a host using the store? stop it first)",
                live.display()
            ))
        })
    } else if copy.is_file() {
        std::fs::copy(copy, live)?;
        Ok(())
    } else {
        Ok(())
    }
}
