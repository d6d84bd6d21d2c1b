//! Crash safety: a writer process is killed (SIGKILL) at random moments, many times, on
//! the same database. Afterwards every acknowledged write is there, counters match the
//! rows, positions have no gaps, nothing dangles, and the search index, once a search
//! has indexed what the killed writer left waiting, matches the messages exactly.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chatstore::{Config, PasswordParams, SearchQuery, SearchStore};
use chatstore_sqlite::SqliteStore;
use chatstore_tests::run_and_kill;

use rusqlite::Connection;

const RUNS: u64 = 25;

#[test]
fn killed_writers_lose_no_acknowledged_write_and_leave_no_dangling_reference() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("crash.db");
    let mut acknowledged: HashMap<String, HashSet<String>> = HashMap::new();
    let mut purging: HashSet<String> = HashSet::new();
    let mut purged: HashSet<String> = HashSet::new();
    let mut total_acks = 0;
    for run in 0..RUNS {
        let lines = run_and_kill(
            env!("CARGO_BIN_EXE_crash_writer"),
            &path,
            run + 1,
            Duration::from_millis(200),
        );
        for line in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["append", chat, message] => {
                    acknowledged
                        .entry(chat.to_string())
                        .or_default()
                        .insert(message.to_string());
                    total_acks += 1;
                }
                ["purging", chat] => {
                    purging.insert(chat.to_string());
                }
                ["purged", chat] => {
                    purged.insert(chat.to_string());
                }
                _ => panic!("unexpected line {line:?}"),
            }
        }
        verify(&path, &acknowledged, &purging, &purged);
    }
    assert!(
        total_acks > 100,
        "the writer made progress ({total_acks} acknowledged appends)"
    );
}

/// Checks the database against what the writers acknowledged. A conversation whose purge
/// was announced may be gone (the writer may have died after purging but before saying
/// so), but then all of it must be gone.
fn verify(
    path: &std::path::Path,
    acknowledged: &HashMap<String, HashSet<String>>,
    purging: &HashSet<String>,
    purged: &HashSet<String>,
) {
    // A search first indexes the messages the killed writer left waiting.
    let store = SqliteStore::open(
        Config::new(path.to_string_lossy()).password_params(PasswordParams::fast_for_tests()),
    )
    .expect("opens after crash");
    let user = chatstore_tests::writer(&store);
    store
        .search_messages(user.id, &SearchQuery::new("crash"))
        .expect("search");
    drop(store);
    let conn = Connection::open(path).expect("open after crash");
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(ok, "ok");
    assert_eq!(
        count("SELECT count(*) FROM pragma_foreign_key_check"),
        0,
        "dangling references"
    );
    conn.execute(
        "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .expect("search index matches the messages");
    assert_eq!(
        count(
            "SELECT count(*) FROM conversations v WHERE message_count <> (SELECT count(*) FROM messages m WHERE m.conversation_id = v.id)"
        ),
        0,
        "message counters match the rows"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM conversations v WHERE message_count <> coalesce((SELECT max(seq) FROM messages m WHERE m.conversation_id = v.id), 0)"
        ),
        0,
        "positions have no gaps"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM messages m WHERE parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages p WHERE p.id = m.parent_id AND p.conversation_id = m.conversation_id)"
        ),
        0,
        "every parent exists in the same conversation"
    );
    let mut message_exists = conn
        .prepare("SELECT 1 FROM messages WHERE id = ?1")
        .expect("prepare");
    let mut chat_exists = conn
        .prepare("SELECT 1 FROM conversations WHERE id = ?1")
        .expect("prepare");
    for (chat, messages) in acknowledged {
        if purging.contains(chat) && !chat_exists.exists([chat]).expect("lookup") {
            continue;
        }
        for message in messages {
            assert!(
                message_exists.exists([message]).expect("lookup"),
                "acknowledged message {message} lost"
            );
        }
    }
    for chat in purged {
        assert!(
            !chat_exists.exists([chat]).expect("lookup"),
            "a purged conversation came back"
        );
        assert_eq!(
            conn.query_row(
                "SELECT count(*) FROM messages WHERE conversation_id = ?1",
                [chat],
                |r| r.get::<_, i64>(0)
            )
            .expect("count"),
            0,
            "a purged conversation left messages"
        );
    }
}
