//! Background checkpoints: folding the write-ahead log into the database file on a
//! thread of its own, shortly after writes, so that writers do not pay for it inline
//! and readers keep finding pages in the (memory-mapped) database file rather than in a
//! long log. SQLite's own inline checkpoint stays on, at a higher threshold, as a
//! backstop should the background one fall behind.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// How long the checkpointer lets writes accumulate before folding them.
const GATHER: Duration = Duration::from_millis(20);

/// A running background checkpointer; dropping it stops the thread.
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`.
    pub(crate) fn start(path: &Path) -> rusqlite::Result<Checkpointer> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        let (wake, woken) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("chatstore-checkpoint".into())
            .spawn(move || run(&conn, &woken))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Tells the thread that something was committed (never blocks).
    pub(crate) fn committed(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        // Let further commits gather for a moment, to fold them in one go; stop at
        // once if the store closes meanwhile.
        let deadline = Instant::now() + GATHER;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match woken.recv_timeout(left) {
                Ok(()) if !left.is_zero() => {}
                Err(RecvTimeoutError::Disconnected) => return,
                Ok(()) | Err(RecvTimeoutError::Timeout) => break,
            }
        }
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(%error, "background checkpoint skipped");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
