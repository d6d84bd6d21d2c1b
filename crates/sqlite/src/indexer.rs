//! Keeping the full-text index up to date in batches. An append records only its
//! message's row key in `search_pending` (migration 12); the messages waiting there are
//! moved into the index by a thread of the store's, 50 ms after the first append of a
//! quiet spell or as soon as a thousand have gathered, one FTS5 segment per batch
//! instead of one per append (batches of a thousand cost appends about a tenth of their
//! speed, batches of a few hundred about a quarter: `fts_cost`). Every search first indexes what is still
//! waiting, so it sees every message whose append returned before it began, from this
//! process or any other. What waits is in the database, never only in memory: a crash
//! loses nothing, and the next indexing takes it.

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

/// Moves up to [`BATCH`] waiting messages, the oldest first, into the index; returns
/// how many it moved.
fn index_batch(c: &Conn<'_>) -> Result<i64> {
    let upto: Option<i64> = c
        .row(
            "SELECT max(pk) FROM (SELECT pk FROM search_pending ORDER BY pk LIMIT ?1)",
            &[&BATCH],
            |row| row.opt_int(0),
        )?
        .flatten();
    let Some(upto) = upto else {
        return Ok(0);
    };
    c.execute(
        "INSERT INTO messages_fts(rowid, content)
         SELECT m.pk, m.content FROM messages m
         WHERE m.pk IN (SELECT pk FROM search_pending WHERE pk <= ?1)",
        &[&upto],
    )?;
    c.execute("DELETE FROM search_pending WHERE pk <= ?1", &[&upto])
        .map(|n| n as i64)
}

/// Indexes every message waiting, in batches; returns how many.
pub(crate) fn index_waiting(db: &Db) -> Result<u64> {
    let mut indexed = 0;
    loop {
        let n = before_migration_12(db.write(index_batch), 0)?;
        indexed += n as u64;
        if n < BATCH {
            return Ok(indexed);
        }
    }
}

/// Whether any message waits to be indexed.
pub(crate) fn any_waiting(db: &Db) -> Result<bool> {
    before_migration_12(
        db.read(|c| c.exists("SELECT 1 FROM search_pending", &[])),
        false,
    )
}

/// `result`, or `nothing` when the schema is older than migration 12 (a store opened
/// without migrating, or migrated down): its triggers index every append inline, so
/// nothing ever waits.
fn before_migration_12<T>(result: Result<T>, nothing: T) -> Result<T> {
    match result {
        Err(chatstore::Error::Backend { detail })
            if detail.contains("no such table: search_pending") =>
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
