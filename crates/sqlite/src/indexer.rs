//! Keeping the full-text index up to date in batches. Appends write nothing for the
//! index: the messages not yet in it are those whose row key is above the high-water
//! mark in `search_indexed` (migration 13; migration 12 queued keys in a table instead).
//! They are moved into the index by a thread of the store's, 50 ms after the first
//! append of a quiet spell or as soon as a thousand have gathered, one FTS5 segment per
//! batch instead of one per append (which cost appends 42% of their speed; batches of a
//! thousand cost nothing measurable, batches of a few hundred more: `fts_cost`). Every
//! search first indexes what is still waiting, so it sees every message whose append
//! returned before it began, from this process or any other. What waits is in the
//! database, never only in memory: a crash loses nothing, and the next indexing takes
//! it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use chatstore::Result;

use crate::db::{Conn, Db};
use crate::row::RowExt;

/// Messages moved into the index per transaction, so that other writers wait at most
/// one such batch.
const BATCH: i64 = 2_000;
/// Appends after which the thread indexes without waiting out [`GATHER`]. A search
/// indexes what waits first, so this bounds a search's extra work too.
const WAKE_AFTER: usize = 1024;
/// How long the thread lets appends gather after the first one of a quiet spell.
const GATHER: Duration = Duration::from_millis(50);

/// Moves up to [`BATCH`] waiting messages, the oldest first, into the index and raises
/// the mark past them; returns how many it moved.
fn index_batch(c: &Conn<'_>) -> Result<i64> {
    let (from, upto, count) = c
        .row(
            "SELECT (SELECT upto FROM search_indexed), max(pk), count(*)
             FROM (SELECT pk FROM messages WHERE pk > (SELECT upto FROM search_indexed)
                   ORDER BY pk LIMIT ?1)",
            &[&BATCH],
            |row| Ok((row.int(0)?, row.opt_int(1)?, row.int(2)?)),
        )?
        .unwrap_or((0, None, 0));
    let Some(upto) = upto else {
        return Ok(0);
    };
    c.execute(
        "INSERT INTO messages_fts(rowid, content)
         SELECT pk, content FROM messages WHERE pk > ?1 AND pk <= ?2",
        &[&from, &upto],
    )?;
    c.execute("UPDATE search_indexed SET upto = ?1", &[&upto])?;
    Ok(count)
}

/// Indexes every message waiting, in batches; returns how many.
pub(crate) fn index_waiting(db: &Db) -> Result<u64> {
    let mut indexed = 0;
    loop {
        let n = before_migration_13(db.write(index_batch), 0)?;
        indexed += n as u64;
        if n < BATCH {
            return Ok(indexed);
        }
    }
}

/// Whether any message waits to be indexed.
pub(crate) fn any_waiting(db: &Db) -> Result<bool> {
    before_migration_13(
        db.read(|c| {
            c.exists(
                "SELECT 1 FROM messages WHERE pk > (SELECT upto FROM search_indexed)",
                &[],
            )
        }),
        false,
    )
}

/// `result`, or `nothing` when the schema is older than migration 13 (a store migrated
/// down): before migration 12 its triggers index every append inline, so nothing ever
/// waits; at 12, what waits in its queue is indexed by migration 13 on the way up.
fn before_migration_13<T>(result: Result<T>, nothing: T) -> Result<T> {
    match result {
        Err(chatstore::Error::Backend { detail })
            if detail.contains("no such table: search_indexed") =>
        {
            Ok(nothing)
        }
        other => other,
    }
}

/// The store's indexing thread; dropping it stops the thread (what still waits stays
/// waiting, in the database).
#[derive(Debug)]
pub(crate) struct Indexer {
    wake: Option<SyncSender<()>>,
    appended: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Indexer {
    /// Starts the thread for the store on `db`, and has it index at once what an earlier
    /// run left waiting.
    pub(crate) fn start(db: Arc<Db>) -> Result<Indexer> {
        let (wake, woken) = mpsc::sync_channel(1);
        let appended = Arc::new(AtomicUsize::new(0));
        let counter = appended.clone();
        let thread = std::thread::Builder::new()
            .name("chatstore-search-index".into())
            .spawn(move || run(&db, &woken, &counter))
            .map_err(|e| chatstore::Error::Unavailable {
                detail: format!("cannot start the search indexer: {e}"),
            })?;
        let indexer = Indexer {
            wake: Some(wake),
            appended,
            thread: Some(thread),
        };
        indexer.wake();
        Ok(indexer)
    }

    /// Tells the thread that `n` messages were appended (never blocks).
    pub(crate) fn appended(&self, n: usize) {
        let before = self.appended.fetch_add(n, Ordering::Relaxed);
        if before == 0 || before + n >= WAKE_AFTER {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

fn run(db: &Db, woken: &Receiver<()>, appended: &AtomicUsize) {
    while woken.recv().is_ok() {
        // Let appends gather, unless enough have already (a second wake).
        if let Err(RecvTimeoutError::Disconnected) = woken.recv_timeout(GATHER) {
            return;
        }
        appended.store(0, Ordering::Relaxed);
        if let Err(error) = index_waiting(db) {
            tracing::debug!(%error, "search indexing put off to the next search or append");
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
