//! An import of seed 001's databases killed (SIGKILL) at points spread over the whole
//! run, users, conversations, messages with their attachments and costs: after every
//! kill the target is a sound database in which no message names a missing attachment,
//! and the run that finishes leaves exactly what an import never interrupted leaves.

#[path = "../../crates/import/tests/fixtures/seed001.rs"]
mod seed001;

use std::path::Path;

use chatstore::transfer::{Endpoint, TableTransfer, table};
use chatstore::{BlobStore, Timestamp};
use chatstore_import::{ImportOptions, Source, import};
use chatstore_tests::{open_chat, run_until, sound_messages};
use rusqlite::{Connection, params};

const USERS: usize = 60;
const CONVERSATIONS_PER_USER: usize = 3;
const MESSAGES_PER_CONVERSATION: usize = 14;

/// Kill points: the n-th progress line of a kind (spread over users, messages and
/// usage records, the kinds an import spends its time on).
const KILLS: &[(&str, usize)] = &[
    ("user", 5),
    ("user", 40),
    ("conversation", 1),
    ("message", 1),
    ("message", 2),
    ("message", 3),
    ("message", 4),
    ("usage", 1),
];

#[test]
fn a_killed_import_finishes_without_dangling_attachments() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).expect("source");
    write_source(&source);
    std::fs::create_dir_all(dir.path().join("target")).expect("target");

    let mut cut_mid_import = 0;
    for (run, (kind, nth)) in KILLS.iter().enumerate() {
        let mut seen = 0;
        let binary = env!("CARGO_BIN_EXE_crash_importer");
        let finished = run_until(binary, dir.path(), run as u64 + 1, |line| {
            seen += usize::from(line.split(' ').nth(1) == Some(*kind));
            seen >= *nth
        });
        let messages = check_consistent(&dir.path().join("target"));
        if !finished && messages > 0 {
            cut_mid_import += 1;
        }
    }
    assert!(
        cut_mid_import >= 3,
        "killed mid-import {cut_mid_import} times"
    );

    let target = open_chat(&dir.path().join("target"));
    let last = import(
        Source::Seed001,
        &source.join("chatbot.db"),
        Endpoint {
            rows: target.store(),
            blobs: target.blobs(),
        },
        &ImportOptions::default(),
        &mut |_| {},
    )
    .expect("the last run finishes the import");
    assert!(last.counts("user").present > 0, "the last run resumed");

    let whole_dir = tempfile::tempdir().expect("temporary directory");
    let whole = open_chat(whole_dir.path());
    import(
        Source::Seed001,
        &source.join("chatbot.db"),
        Endpoint {
            rows: whole.store(),
            blobs: whole.blobs(),
        },
        &ImportOptions::default(),
        &mut |_| {},
    )
    .expect("an import never interrupted");
    for name in [
        "users",
        "conversations",
        "messages",
        "token_usage",
        "imported_ids",
    ] {
        let t = table(name).expect("table");
        assert_eq!(
            target.store().count_rows(t).unwrap(),
            whole.store().count_rows(t).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        target.blobs().stats().unwrap().keys,
        whole.blobs().stats().unwrap().keys
    );
    let audit = target.audit_attachments(Timestamp::MAX).expect("audit");
    assert!(
        audit.dangling.is_empty() && audit.orphans.is_empty(),
        "{audit:?}"
    );
}

/// `chatbot.db` and `files.db` in `dir`: users with conversations, every fifth message
/// with an attachment in `files.db` (and a thumbnail), every seventh with one inline in
/// base64, and a cost for every answer.
fn write_source(dir: &Path) {
    let chatbot = Connection::open(dir.join("chatbot.db")).expect("chatbot.db");
    chatbot.execute_batch(seed001::CHATBOT_DDL).expect("DDL");
    let files = Connection::open(dir.join("files.db")).expect("files.db");
    files.execute_batch(seed001::FILES_DDL).expect("DDL");
    chatbot.execute_batch("BEGIN").unwrap();
    files.execute_batch("BEGIN").unwrap();
    let inline = "data:text/plain;base64,aW5saW5lIGJ5dGVz";
    for u in 0..USERS {
        chatbot
            .execute(
                "INSERT INTO users VALUES (?1, ?2, ?3, NULL, '2025-01-01T00:00:00')",
                params![
                    format!("u{u}"),
                    format!("user{u}@example.com"),
                    format!("User {u}")
                ],
            )
            .unwrap();
        for c in 0..CONVERSATIONS_PER_USER {
            let conversation = format!("c{u}-{c}");
            chatbot
                .execute(
                    "INSERT INTO conversations VALUES (?1, ?2, 'talk', 'gemini-3-flash-preview',
                     '2025-01-02T00:00:00', '2025-01-02T00:00:00')",
                    params![conversation, format!("u{u}")],
                )
                .unwrap();
            for m in 0..MESSAGES_PER_CONVERSATION {
                let id = format!("m{u}-{c}-{m}");
                let at = format!("2025-01-02T00:{:02}:{:02}", c * 10 + m / 60, m % 60);
                let role = if m % 2 == 0 { "user" } else { "assistant" };
                let files_json = if m % 5 == 0 {
                    let bytes = vec![(u + c + m) as u8; 6_000 + m];
                    let thumb = vec![(u * m) as u8; 300];
                    files
                        .execute(
                            "INSERT INTO blobs VALUES (?1, ?2, 'image/png', ?3, ?4)",
                            params![format!("{id}/0"), bytes, bytes.len() as i64, at],
                        )
                        .unwrap();
                    files
                        .execute(
                            "INSERT INTO blobs VALUES (?1, ?2, 'image/jpeg', ?3, ?4)",
                            params![format!("{id}/0.thumb"), thumb, thumb.len() as i64, at],
                        )
                        .unwrap();
                    r#"[{"name": "shot.png", "type": "image/png", "has_thumbnail": true}]"#
                        .to_owned()
                } else if m % 7 == 0 {
                    format!(r#"[{{"name": "note.txt", "type": "text/plain", "data": "{inline}"}}]"#)
                } else {
                    "[]".to_owned()
                };
                chatbot
                    .execute(
                        "INSERT INTO messages VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
                        params![
                            id,
                            conversation,
                            role,
                            format!("message {m}"),
                            files_json,
                            at
                        ],
                    )
                    .unwrap();
                if role == "assistant" {
                    chatbot
                        .execute(
                            "INSERT INTO message_costs VALUES (?1, ?2, ?3, ?4,
                             'gemini-3-flash-preview', 100, 20, 0.0001, ?5)",
                            params![format!("cost-{id}"), id, conversation, format!("u{u}"), at],
                        )
                        .unwrap();
                }
            }
        }
    }
    chatbot.execute_batch("COMMIT").unwrap();
    files.execute_batch("COMMIT").unwrap();
}

/// The target as a killed importer left it: a sound main file whose foreign keys hold,
/// with no message naming an attachment that is not stored; returns how many messages
/// it holds.
fn check_consistent(target: &Path) -> u64 {
    let messages = sound_messages(&target.join("chatstore.db"));
    let chat = open_chat(target);
    let audit = chat.audit_attachments(Timestamp::MAX).expect("audit");
    assert!(audit.dangling.is_empty(), "{:?}", audit.dangling);
    messages
}
