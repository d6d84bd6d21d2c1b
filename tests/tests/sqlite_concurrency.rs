//! Other processes holding the SQLite database lock: writes retry with backoff and fail
//! as retriable `Busy` when it is not let go, reads go on. (What any backend must show
//! under concurrent writers, appends, registrations, creations, deletions racing
//! selections, is in the conformance suite: `chatstore::conformance::concurrency`.)

use std::time::Duration;

use chatstore::{Error, NewUser, RetryPolicy, UserStore};
use chatstore_sqlite::SqliteOptions;
use chatstore_tests::TempSqlite;
use rusqlite::Connection;

fn config() -> chatstore::Config {
    chatstore::conformance::test_config().0
}

/// A short lock wait per statement, so that retries come quickly.
fn quick_waits() -> SqliteOptions {
    SqliteOptions::default().busy_timeout(Duration::from_millis(20))
}

fn quick_retry(attempts: u32) -> chatstore::Config {
    config().write_retry(RetryPolicy {
        attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    })
}

#[test]
fn a_write_blocked_by_another_process_fails_as_retriable_busy_and_changes_nothing() {
    let db = TempSqlite::new();
    let store = db
        .open_sqlite_with(&quick_waits(), quick_retry(2))
        .expect("opens");
    let other = Connection::open(db.path()).expect("other process");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("holds the write lock");
    let error = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect_err("cannot write");
    assert!(
        matches!(error, Error::Busy { .. }) && error.is_retriable(),
        "{error:?}"
    );
    other.execute_batch("ROLLBACK").expect("release");
    assert!(matches!(
        store.user_by_email("ada@example.com"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_write_is_retried_until_the_other_process_lets_go() {
    let db = TempSqlite::new();
    let store = db
        .open_sqlite_with(&quick_waits(), quick_retry(50))
        .expect("opens");
    let path = db.path();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let other = Connection::open(path).expect("other process");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("holds the write lock");
        locked_tx.send(()).expect("signal");
        std::thread::sleep(Duration::from_millis(150));
        other.execute_batch("COMMIT").expect("release");
    });
    locked_rx.recv().expect("lock taken");
    store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("succeeds after retries");
    holder.join().expect("holder");
}

#[test]
fn reads_go_on_while_another_process_writes() {
    let db = TempSqlite::new();
    let store = db
        .open_sqlite_with(&quick_waits(), quick_retry(1))
        .expect("opens");
    let user = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    let other = Connection::open(db.path()).expect("other process");
    other
        .execute_batch("BEGIN IMMEDIATE; UPDATE users SET full_name = 'uncommitted';")
        .expect("writes");
    let seen = store.user(user.id).expect("read is not blocked");
    assert_eq!(seen.full_name, None, "uncommitted writes are invisible");
    other.execute_batch("COMMIT").expect("commit");
    assert_eq!(
        store.user(user.id).expect("read").full_name.as_deref(),
        Some("uncommitted")
    );
}
