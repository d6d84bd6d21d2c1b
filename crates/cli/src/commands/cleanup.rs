//! `chatstore cleanup [--dry-run]`: expired sessions, soft-deleted conversations past
//! their grace period (with their attachments), idle conversations hidden, orphan
//! blobs — [`chatstore::ChatStore::clean_up`].
//!
//! A dry run runs the same cleanup on a scratch copy, then deletes it, so the counts are
//! exactly what a real run would remove at that moment and the store itself is not
//! touched: a SQLite store's two files are copied with the online backup (beside the
//! store); a PostgreSQL store is copied table by table into a scratch SQLite store in
//! the temporary directory (`chatstore::transfer::copy_store`, the copy `chatstore copy`
//! makes, which both backends clean up alike).

use std::time::Duration;

use chatstore::transfer::{CopyOptions, Endpoint, copy_store};
use chatstore::{
    BlobStore, ChatStore, CleanupPlan, CleanupReport, Config, MaintenanceStore, NoVectorIndex,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::{PgBlobStore, PgStore};
use chatstore_sqlite::{SqliteOptions, SqliteStore};
use serde_json::json;

use crate::cli::{CleanupArgs, Global};
use crate::error::{CliError, Result};
use crate::open::{MAIN_FILE, Mode, Opened, Target, open};
use crate::output::{Output, Table};
use crate::progress::Spinner;

/// Runs `cleanup`.
pub fn run(global: &Global, args: CleanupArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    let days = |n: u32| Duration::from_secs(u64::from(n) * 24 * 3600);
    let plan = CleanupPlan {
        purge_deleted_after: Some(days(args.purge_after_days)),
        delete_archived_after: args.delete_archived_after_days.map(days),
        delete_idle_after: args.delete_idle_after_days.map(days),
        embedding_cache_max_age: args.embedding_cache_max_age_days.map(days),
        embedding_cache_max_entries: args.embedding_cache_max_entries,
        hide_idle: !args.no_hide_idle,
        ..CleanupPlan::default()
    };
    // Opened without the sweeps of a normal open, so that the report counts them.
    let opened = open(&target, Mode::Inspect)?;
    let latest = match &opened {
        Opened::Sqlite(_) => chatstore_sqlite::LATEST_VERSION,
        Opened::Postgres(_) => chatstore_postgres::LATEST_VERSION,
    };
    let version = crate::with_chat!(&opened, chat => chat.store().schema_version())?;
    if version != latest {
        return Err(CliError::new(format!(
            "the store is at schema version {version}, not {latest}: run `chatstore migrate up` first"
        )));
    }
    let spinner = Spinner::start(if args.dry_run {
        "working out what a cleanup would remove"
    } else {
        "cleaning up"
    });
    let report = match (&opened, args.dry_run) {
        (Opened::Sqlite(chat), true) => dry_run(chat, &plan)?,
        (Opened::Postgres(chat), true) => dry_run_postgres(chat, &plan)?,
        (_, false) => crate::with_chat!(&opened, chat => chat.clean_up(&plan))?,
    };
    drop(spinner);
    let mut table = Table::new(&["what", "count"]);
    for (what, n) in [
        ("expired or revoked sessions", report.expired_sessions),
        (
            "soft-deleted conversations purged",
            report.purged_conversations,
        ),
        (
            "expired, old archived or idle conversations purged",
            report.retired_conversations,
        ),
        (
            "  messages with attachments among the purged",
            report.purged_messages_with_files,
        ),
        ("idle conversations hidden", report.hidden_conversations),
        ("embedding cache entries", report.embedding_cache_entries),
        ("orphan attachments", report.orphan_blobs),
    ] {
        table.row(vec![what.to_owned(), n.to_string()]);
    }
    let heading = if args.dry_run {
        "dry run: nothing was changed; a cleanup now would remove"
    } else {
        "cleaned up"
    };
    Ok(Output::new(
        json!({ "dry_run": args.dry_run, "report": report }),
        format!("{heading}\n\n{}", table.render()),
    ))
}

/// The cleanup run on a scratch copy of a SQLite store, beside it.
fn dry_run(
    chat: &ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex>,
    plan: &CleanupPlan,
) -> Result<CleanupReport> {
    let parent = chat
        .store()
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let scratch = tempfile::Builder::new()
        .prefix(".chatstore-dry-run-")
        .tempdir_in(parent)?;
    let (main, files) = (
        scratch.path().join(MAIN_FILE),
        scratch.path().join("files.db"),
    );
    crate::commands::backup::copy_pair(chat, &main, &files)?;
    let options = SqliteOptions::default().skip_migrations(true);
    clean_scratch(scratch, chat.store().config(), &options, plan)
}

/// The cleanup run on a scratch SQLite copy of a PostgreSQL store.
fn dry_run_postgres(
    chat: &ChatStore<PgStore, PgBlobStore, NoVectorIndex>,
    plan: &CleanupPlan,
) -> Result<CleanupReport> {
    let scratch = tempfile::Builder::new()
        .prefix("chatstore-dry-run-")
        .tempdir()?;
    {
        let copy = open_scratch(
            scratch.path(),
            chat.store().config(),
            &SqliteOptions::default(),
        )?;
        let options = CopyOptions {
            verify: false,
            ..CopyOptions::default()
        };
        copy_store(
            Endpoint {
                rows: chat.store(),
                blobs: chat.blobs(),
            },
            Endpoint {
                rows: copy.store(),
                blobs: copy.blobs(),
            },
            &options,
            &mut |_| {},
        )?;
    }
    let mut report = clean_scratch(
        scratch,
        chat.store().config(),
        &SqliteOptions::default(),
        plan,
    )?;
    // The copy's attachments were all stored just now, too recently for the orphan
    // sweep: the store's own orphans are counted where they are, without removing them.
    let cut_off = chat.store().now() - plan.orphan_grace.max(chatstore::ORPHAN_GRACE);
    report.orphan_blobs = 0;
    for message in chat.orphan_blob_messages(cut_off)? {
        report.orphan_blobs += chat.blobs().list(message)?.len() as u64;
    }
    Ok(report)
}

/// Opens the scratch copy in `scratch` with the store's own settings (auto-hide period,
/// clock), cleans it up, and removes it.
fn clean_scratch(
    scratch: tempfile::TempDir,
    settings: &Config,
    options: &SqliteOptions,
    plan: &CleanupPlan,
) -> Result<CleanupReport> {
    let copy = open_scratch(scratch.path(), settings, options)?;
    let report = copy.clean_up(plan)?;
    drop(copy);
    remove_scratch(scratch)?;
    Ok(report)
}

/// The scratch store in `dir`, with the store's own settings (auto-hide period, clock).
fn open_scratch(
    dir: &std::path::Path,
    settings: &Config,
    options: &SqliteOptions,
) -> Result<ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex>> {
    let mut config = settings.clone();
    config.database_url = dir.join(MAIN_FILE).to_string_lossy().into_owned();
    Ok(ChatStore::assemble(
        SqliteStore::open_with(config, options)?,
        SqliteBlobStore::open(BlobConfig::new(dir.join("files.db")))?,
        NoVectorIndex,
    ))
}

/// Removes the scratch copy. A reader connection the copy's pool was still opening in
/// the background when the copy was dropped can create a `-shm` file a moment later and
/// make one removal find the directory not empty, so removal is tried a few times.
fn remove_scratch(scratch: tempfile::TempDir) -> std::io::Result<()> {
    let path = scratch.keep();
    let mut tries = 0;
    loop {
        match std::fs::remove_dir_all(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound && tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => return Ok(()),
        }
    }
}
