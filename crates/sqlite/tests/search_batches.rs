//! The full-text index kept in batches (migrations 12 and 13): a search sees every message
//! appended before it began, whichever process appended it and whether or not its
//! indexer ran; deleting messages that wait to be indexed leaves no hit pointing at
//! nothing; the index ends equal to the messages; a rebuild starts from scratch.

use chatstore::{
    Config, ConversationId, ConversationStore, MaintenanceStore, MessageStore, NewConversation,
    NewMessage, NewUser, PasswordParams, SearchQuery, SearchStore, UserId, UserStore,
};
use chatstore_sqlite::SqliteStore;
use rusqlite::Connection;

fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(
        Config::new(path.to_string_lossy()).password_params(PasswordParams::fast_for_tests()),
    )
    .expect("opens")
}

fn hits(store: &SqliteStore, user: UserId, words: &str) -> usize {
    store
        .search_messages(user, &SearchQuery::new(words))
        .expect("search")
        .len()
}

/// The index equals the messages, FTS5's own check against its content table.
fn index_matches_messages(path: &std::path::Path) {
    let conn = Connection::open(path).expect("open");
    conn.execute(
        "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .expect("the index matches the messages");
}

fn waiting(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .expect("open")
        .query_row(
            "SELECT count(*) FROM messages WHERE pk > (SELECT upto FROM search_indexed)",
            [],
            |r| r.get(0),
        )
        .expect("count")
}

/// Appends a message to `chat` through a connection of its own, as another program
/// would: no store is told.
fn write_by_hand(path: &std::path::Path, chat: ConversationId, content: &str) {
    let raw = Connection::open(path).expect("open");
    raw.execute(
        "INSERT INTO messages (id, conversation_id, seq, role, content, created_at)
         SELECT ?2, id, message_count + 1, 'user', ?3, created_at
         FROM conversations WHERE id = ?1",
        [
            chat.to_string(),
            chatstore::MessageId::new().to_string(),
            content.to_owned(),
        ],
    )
    .expect("a row written by another program");
    raw.execute(
        "UPDATE conversations SET message_count = message_count + 1 WHERE id = ?1",
        [chat.to_string()],
    )
    .expect("its counter");
}

/// A store at `path` with ada and a conversation of hers called `title`.
fn with_chat(path: &std::path::Path, title: &str) -> (SqliteStore, UserId, ConversationId) {
    let store = open(path);
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("ada");
    let chat = store
        .create_conversation(ada.id, &NewConversation::titled(title))
        .expect("chat");
    (store, ada.id, chat.id)
}

#[test]
fn a_search_sees_every_message_appended_before_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let (store, ada, chat) = with_chat(&path, "lighthouses");
    for round in 0..50 {
        store
            .append_message(
                ada,
                chat,
                &NewMessage::user(format!("keeper{round} trims the wick")),
            )
            .expect("append");
        assert_eq!(
            hits(&store, ada, &format!("keeper{round}")),
            1,
            "round {round}"
        );
    }

    // Another handle on the file (another process, say) appends and closes before its
    // indexer runs; a row a foreign connection wrote waits too. This store's searches
    // find both.
    let other = open(&path);
    other
        .append_message(
            ada,
            chat,
            &NewMessage::user("lantern from the other handle"),
        )
        .expect("append");
    drop(other);
    write_by_hand(&path, chat, "foghorn written by hand");
    // Nothing told this store's indexer about the foreign row: unless its timer happens
    // to fire in these microseconds, the search below is what indexes it.
    assert_eq!(hits(&store, ada, "lantern"), 1);
    assert_eq!(hits(&store, ada, "foghorn"), 1);
    assert_eq!(waiting(&path), 0, "the search indexed what waited");
    index_matches_messages(&path);
}

#[test]
fn messages_purged_before_they_are_indexed_leave_no_hits() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let (store, ada, keep) = with_chat(&path, "keep");
    store
        .append_message(ada, keep, &NewMessage::user("beacon kept"))
        .expect("append");
    assert_eq!(hits(&store, ada, "beacon"), 1, "indexed");
    for _ in 0..20 {
        let gone = store
            .create_conversation(ada, &NewConversation::titled("gone"))
            .expect("gone");
        for i in 0..5 {
            store
                .append_message(ada, gone.id, &NewMessage::user(format!("beacon lost {i}")))
                .expect("append");
        }
        // Purged at once: some of its messages are still waiting, some indexed.
        store.delete_conversation(ada, gone.id).expect("delete");
        store.purge_conversation(ada, gone.id).expect("purge");
    }
    assert_eq!(hits(&store, ada, "beacon"), 1, "only the kept message");
    assert_eq!(waiting(&path), 0);
    index_matches_messages(&path);
    store.check_integrity().expect("sound");
}

#[test]
fn a_rebuild_starts_from_scratch_and_nothing_waits_after_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let (store, ada, chat) = with_chat(&path, "rebuild");
    for i in 0..300 {
        store
            .append_message(ada, chat, &NewMessage::user(format!("buoy {i}")))
            .expect("append");
    }
    Connection::open(&path)
        .expect("open")
        .execute(
            "INSERT INTO messages_fts(messages_fts) VALUES ('delete-all')",
            [],
        )
        .expect("the index emptied behind the store's back");
    store.rebuild_search_index().expect("rebuild");
    assert_eq!(waiting(&path), 0);
    assert_eq!(
        store
            .search_messages(
                ada,
                &SearchQuery {
                    limit: 500,
                    ..SearchQuery::new("buoy")
                }
            )
            .expect("search")
            .len(),
        300
    );
    index_matches_messages(&path);
}

#[test]
fn closing_leaves_a_complete_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let (store, ada, chat) = with_chat(&path, "close");
    store
        .append_message(ada, chat, &NewMessage::user("tide table"))
        .expect("append");
    store.close().expect("close");
    assert_eq!(waiting(&path), 0, "closing indexes what waits");
    index_matches_messages(&path);
}

fn largest_key(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .expect("open")
        .query_row("SELECT coalesce(max(pk), 0) FROM messages", [], |r| {
            r.get(0)
        })
        .expect("max")
}

#[test]
fn row_keys_given_again_after_the_newest_messages_are_purged_are_indexed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let (store, ada, keep) = with_chat(&path, "keep");
    store
        .append_message(ada, keep, &NewMessage::user("anchor kept"))
        .expect("append");
    for (round, indexed_first) in [(0, true), (1, false), (2, true)] {
        let newest = store
            .create_conversation(ada, &NewConversation::titled("newest"))
            .expect("newest");
        for i in 0..4 {
            store
                .append_message(
                    ada,
                    newest.id,
                    &NewMessage::user(format!("gull {round} {i}")),
                )
                .expect("append");
        }
        if indexed_first {
            assert_eq!(hits(&store, ada, "gull"), 4, "round {round}: indexed");
        }
        let largest = largest_key(&path);
        store.delete_conversation(ada, newest.id).expect("delete");
        store.purge_conversation(ada, newest.id).expect("purge");
        store
            .append_message(ada, keep, &NewMessage::user(format!("petrel{round}")))
            .expect("append");
        assert!(
            largest_key(&path) < largest,
            "round {round}: the new message took a key the purged ones had"
        );
        assert_eq!(hits(&store, ada, "gull"), 0, "round {round}");
        assert_eq!(
            hits(&store, ada, &format!("petrel{round}")),
            1,
            "round {round}"
        );
        assert_eq!(waiting(&path), 0);
        index_matches_messages(&path);
    }
}

#[test]
fn messages_waiting_across_migrations_down_and_up_end_in_the_index() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let (store, ada, chat) = with_chat(&path, "migrations");
    store
        .append_message(ada, chat, &NewMessage::user("indexed cormorant"))
        .expect("append");
    assert_eq!(hits(&store, ada, "cormorant"), 1);
    // Rows written behind the store's back wait above the mark: no indexer was told.
    write_by_hand(&path, chat, "waiting cormorant one");
    assert_eq!(waiting(&path), 1);

    // Down to 12: the waiting row goes to its queue; down to 11: into the index.
    store.migrate_to(12).expect("down to 12");
    write_by_hand(&path, chat, "queued cormorant two");
    store.migrate_to(11).expect("down to 11");
    index_matches_messages(&path);
    assert_eq!(hits(&store, ada, "cormorant"), 3);

    // Up to 12 with a row queued there, then up to the mark: indexed on the way.
    store.migrate_to(12).expect("up to 12");
    write_by_hand(&path, chat, "queued cormorant three");
    store
        .migrate_to(chatstore_sqlite::LATEST_VERSION)
        .expect("up to the latest");
    index_matches_messages(&path);
    assert_eq!(waiting(&path), 0);
    assert_eq!(hits(&store, ada, "cormorant"), 4);
}
