//! Many threads on one store, and other processes holding the database lock: writes
//! queue or retry with backoff, reads go on, nothing is lost or duplicated.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chatstore::{
    ConversationStore, Error, MessageStore, NewConversation, NewMessage, NewUser, RetryPolicy,
    SearchQuery, SearchStore, UserStore,
};
use chatstore_tests::TempSqlite;
use rusqlite::Connection;

fn config() -> chatstore::Config {
    chatstore::conformance::test_config().0
}

#[test]
fn concurrent_appends_get_unique_contiguous_positions() {
    let db = TempSqlite::new();
    let store = Arc::new(db.open_sqlite(config()).expect("opens"));
    let user = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    let chat = store
        .create_conversation(user.id, &NewConversation::titled("busy"))
        .expect("chat");
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..60)
                    .map(|i| {
                        store
                            .append_message(
                                user.id,
                                chat.id,
                                &NewMessage::user(format!("writer{w} message{i} zebra")),
                            )
                            .expect("append")
                            .seq
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let last = store.last_messages(user.id, chat.id, 20).expect("read");
                    assert!(
                        last.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
                        "a snapshot is contiguous"
                    );
                }
            })
        })
        .collect();
    let mut seqs: Vec<u64> = writers
        .into_iter()
        .flat_map(|t| t.join().expect("writer"))
        .collect();
    readers.into_iter().for_each(|t| t.join().expect("reader"));
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=360).collect::<Vec<u64>>());
    assert_eq!(
        store
            .conversation(user.id, chat.id)
            .expect("chat")
            .message_count,
        360
    );
    let mut query = SearchQuery::new("zebra");
    query.limit = 1000;
    assert_eq!(
        store
            .search_messages(user.id, &query)
            .expect("search")
            .len(),
        360
    );
}

#[test]
fn concurrent_registrations_of_one_email_let_exactly_one_through() {
    let db = TempSqlite::new();
    let store = Arc::new(db.open_sqlite(config()).expect("opens"));
    let outcomes: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store.create_user(&NewUser::new(
                    &format!("user{i}"),
                    "same@example.com",
                    "password1",
                ))
            })
        })
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .all(|e| matches!(e, Error::Conflict { .. }))
    );
}

fn quick_retry(attempts: u32) -> chatstore::Config {
    config()
        .busy_timeout(Duration::from_millis(20))
        .write_retry(RetryPolicy {
            attempts,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
        })
}

#[test]
fn a_write_blocked_by_another_process_fails_as_retriable_busy_and_changes_nothing() {
    let db = TempSqlite::new();
    let store = db.open_sqlite(quick_retry(2)).expect("opens");
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
    let store = db.open_sqlite(quick_retry(50)).expect("opens");
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
    let store = db.open_sqlite(quick_retry(1)).expect("opens");
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

#[test]
fn many_threads_creating_conversations_lose_none() {
    let db = TempSqlite::new();
    let store = Arc::new(db.open_sqlite(config()).expect("opens"));
    let user = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    let ids: HashSet<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        store
                            .create_conversation(
                                user.id,
                                &NewConversation::titled(&format!("{t}-{i}")),
                            )
                            .expect("create")
                            .id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(ids.len(), 100);
    let query = chatstore::ConversationQuery {
        limit: 1000,
        ..Default::default()
    };
    let listed: HashSet<_> = store
        .list_conversations(user.id, &query)
        .expect("list")
        .items
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, ids);
}
