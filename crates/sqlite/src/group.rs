//! Group commit. SQLite lets one writer in at a time, so when many threads append at
//! once, each waiting its turn for a transaction of its own, throughput is one commit
//! per append however many threads there are. Here the appends that arrive while a
//! transaction is being written wait in a queue, and the next transaction takes them all:
//! one thread (whichever finds no transaction under way) writes the whole group, each
//! append inside a savepoint of its own, and commits once. Each caller returns only
//! after the commit that holds its append; an append that fails is rolled back to its
//! savepoint and fails alone; appends run one after the other in the order they
//! arrived, so every conversation's positions and counters stay exact.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use chatstore::{Error, Result};

use crate::db::{Conn, Db};

/// A write waiting in the queue, with where its outcome goes.
trait Pending: Send {
    /// Runs the write; false when it failed.
    fn run(&mut self, c: &Conn<'_>) -> bool;
    /// The group did not commit: the write fails with `error`.
    fn fail(&mut self, error: &Error);
    /// Its outcome is final: wakes its caller to take it.
    fn finish(&self);
    /// Wakes its caller to write the next group.
    fn hand_over(&self);
}

/// Where a caller waits, and finds its outcome.
struct Slot<T> {
    outcome: Mutex<Option<Result<T>>>,
    done: AtomicBool,
    lead: AtomicBool,
    /// Waited on with the queue's lock held.
    wake: Condvar,
}

struct Job<T, F> {
    work: F,
    slot: Arc<Slot<T>>,
}

impl<T: Send, F: FnMut(&Conn<'_>) -> Result<T> + Send> Pending for Job<T, F> {
    fn run(&mut self, c: &Conn<'_>) -> bool {
        let outcome = (self.work)(c);
        let ok = outcome.is_ok();
        *lock(&self.slot.outcome) = Some(outcome);
        ok
    }

    fn fail(&mut self, error: &Error) {
        *lock(&self.slot.outcome) = Some(Err(same_error(error)));
    }

    fn finish(&self) {
        self.slot.done.store(true, Ordering::Release);
        self.slot.wake.notify_one();
    }

    fn hand_over(&self) {
        self.slot.lead.store(true, Ordering::Release);
        self.slot.wake.notify_one();
    }
}

/// The queue of writes waiting for a transaction, and whether a thread is writing.
#[derive(Default)]
struct Queue {
    waiting: Vec<Box<dyn Pending>>,
    writing: bool,
}

/// Writes that join one transaction when they arrive together.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

/// Groups one thread writes, one after the other, before it hands the writing over:
/// enough that waiting callers are not woken between every group, few enough that its
/// own caller is not kept long.
const GROUPS_PER_TURN: usize = 4;

/// The savepoint each write of a group runs in.
const SAVEPOINT: &str = "SAVEPOINT chatstore_group_write";
const RELEASE: &str = "RELEASE chatstore_group_write";
const ROLL_BACK: &str = "ROLLBACK TO chatstore_group_write";

impl GroupCommit {
    /// Runs `work` on `db` in the next transaction, with whatever other writes are
    /// waiting, and returns its outcome once that transaction has committed (or the
    /// error that kept it from committing). `work` may run more than once (a group is
    /// retried as a whole while another process holds the database), so it must have no
    /// effect outside the database.
    pub(crate) fn write<T, F>(&self, db: &Db, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&Conn<'_>) -> Result<T> + Send + 'static,
    {
        let slot = Arc::new(Slot {
            outcome: Mutex::new(None),
            done: AtomicBool::new(false),
            lead: AtomicBool::new(false),
            wake: Condvar::new(),
        });
        let mut queue = lock(&self.queue);
        queue.waiting.push(Box::new(Job {
            work,
            slot: slot.clone(),
        }));
        if !queue.writing {
            queue.writing = true;
            slot.lead.store(true, Ordering::Relaxed);
        }
        while !slot.done.load(Ordering::Acquire) {
            if !slot.lead.swap(false, Ordering::AcqRel) {
                queue = slot
                    .wake
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // This thread writes what waits (its own write among it), a few groups at
            // most, then hands the writing to the first caller still waiting.
            for _ in 0..GROUPS_PER_TURN {
                if queue.waiting.is_empty() {
                    break;
                }
                let mut group = std::mem::take(&mut queue.waiting);
                drop(queue);
                write_group_safely(db, &mut group);
                queue = lock(&self.queue);
                group.iter().for_each(|job| job.finish());
            }
            match queue.waiting.first() {
                Some(next) => next.hand_over(),
                None => queue.writing = false,
            }
        }
        drop(queue);
        lock(&slot.outcome).take().unwrap_or_else(|| {
            Err(Error::Backend {
                detail: "a grouped write finished without an outcome".into(),
            })
        })
    }
}

/// [`write_group`], failing every write of the group should one panic, so that nobody
/// waits forever.
fn write_group_safely(db: &Db, group: &mut [Box<dyn Pending>]) {
    if catch_unwind(AssertUnwindSafe(|| write_group(db, group))).is_err() {
        let panicked = Error::Backend {
            detail: "a grouped write panicked".into(),
        };
        group.iter_mut().for_each(|job| job.fail(&panicked));
    }
}

/// Writes `group` in one transaction: each write in a savepoint of its own (a lone write
/// needs none: its failure rolls back the transaction), then one commit. When the
/// transaction fails as a whole, every write in it fails.
fn write_group(db: &Db, group: &mut [Box<dyn Pending>]) {
    let alone = group.len() == 1;
    let written = db.write(|c| {
        for job in group.iter_mut() {
            if alone {
                if !job.run(c) {
                    return Err(Error::Backend {
                        detail: LONE_WRITE_FAILED.into(),
                    });
                }
                continue;
            }
            c.execute(SAVEPOINT, &[])?;
            if !job.run(c) {
                c.execute(ROLL_BACK, &[])?;
            }
            c.execute(RELEASE, &[])?;
        }
        Ok(())
    });
    match written {
        Ok(()) => {}
        // The write's own error is already its outcome.
        Err(Error::Backend { detail }) if detail == LONE_WRITE_FAILED => {}
        Err(error) => group.iter_mut().for_each(|job| job.fail(&error)),
    }
}

/// What a lone write's failure rolls its transaction back with (never shown: the
/// write's own error is its outcome).
const LONE_WRITE_FAILED: &str = "the grouped write failed";

/// `error` again, for every write of a group that failed as a whole.
fn same_error(error: &Error) -> Error {
    match error {
        Error::Busy { detail } => Error::Busy {
            detail: detail.clone(),
        },
        Error::Unavailable { detail } => Error::Unavailable {
            detail: detail.clone(),
        },
        Error::Corrupt { detail } => Error::Corrupt {
            detail: detail.clone(),
        },
        Error::Io { path, source } => Error::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => Error::Backend {
            detail: other.to_string(),
        },
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
