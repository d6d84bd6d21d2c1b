//! Importing seed 001's `chatbot.db` with its `files.db`: attachments from the blob
//! store and from the legacy base64 form, lost and broken ones, message costs,
//! re-runs and interrupted runs.

mod common;
#[path = "fixtures/seed001.rs"]
mod fixtures;

use chatstore::conformance::{FailingBlobs, Interrupting};
use chatstore::transfer::{Endpoint, TableTransfer, table};
use chatstore::{
    BlobStore, ConversationId, ConversationStore, MessageId, MessageQuery, MessageRole,
    MessageStore, SystemStore, TimeRange, UsageStore, UserStore,
};
use chatstore_import::{ImportOptions, ImportReport, Source, import};
use common::{Fixture, SqliteChat, sqlite_chat};
use fixtures::*;

/// `chatbot.db` and `files.db` side by side, as the old app kept them.
struct Sample {
    chatbot: Fixture,
    files: std::path::PathBuf,
}

fn sample() -> Sample {
    let chatbot = Fixture::new("chatbot.db", CHATBOT_DDL);
    chatbot.exec(CHATBOT_SAMPLE);
    let files = chatbot.path.with_file_name("files.db");
    let conn = rusqlite::Connection::open(&files).expect("files.db");
    conn.execute_batch(FILES_DDL).expect("files.db schema");
    conn.execute_batch(&files_sample())
        .expect("files.db sample");
    Sample { chatbot, files }
}

fn options() -> ImportOptions {
    ImportOptions {
        now: "2026-03-01T00:00:00Z".parse().expect("time"),
        ..ImportOptions::default()
    }
}

fn run_into(
    sample: &Sample,
    rows: &dyn TableTransfer,
    blobs: &dyn BlobStore,
    options: &ImportOptions,
) -> chatstore::Result<ImportReport> {
    import(
        Source::Seed001,
        &sample.chatbot.path,
        Endpoint { rows, blobs },
        options,
        &mut |_| {},
    )
}

fn run(sample: &Sample, chat: &SqliteChat) -> chatstore::Result<ImportReport> {
    run_into(sample, chat.store(), chat.blobs(), &options())
}

fn message(chat: &SqliteChat, original: &str) -> MessageId {
    let id = chat
        .store()
        .imported_id("seed001", "message", original)
        .expect("lookup")
        .unwrap_or_else(|| panic!("{original} is imported"));
    MessageId::from_uuid(id).expect("a message id")
}

#[test]
fn imports_users_conversations_messages_attachments_and_costs() {
    let sample = sample();
    let (before, files_before) = (
        sample.chatbot.bytes(),
        std::fs::read(&sample.files).unwrap(),
    );
    let (_dir, chat) = sqlite_chat();
    let report = run(&sample, &chat).expect("the import succeeds");
    assert_eq!(sample.chatbot.bytes(), before, "chatbot.db is not changed");
    assert_eq!(
        std::fs::read(&sample.files).unwrap(),
        files_before,
        "nor files.db"
    );

    assert_eq!(report.counts("user").imported, 2);
    assert_eq!(report.counts("conversation").imported, 2);
    assert_eq!(report.counts("message").imported, 6, "{:?}", report.skipped);
    assert_eq!(
        report.counts("attachment").imported,
        5,
        "photo, thumb, notes, pattern, thumb"
    );
    assert_eq!(report.counts("usage").imported, 2);
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.table.as_str(), s.original_id.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("files", "m-4/0"),
            ("messages", "m-5"),
            ("message_costs", "cost-5")
        ]
    );
    assert!(
        report.skipped[1].reason.contains("base64"),
        "{:?}",
        report.skipped[1]
    );
    assert_eq!(
        report.must_reset.len(),
        2,
        "signed in with Google: no password"
    );

    let store = chat.store();
    let alice = store.user_by_email("alice@example.com").expect("alice");
    assert_eq!(alice.full_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(alice.metadata["picture"], "https://example.com/alice.png");
    assert_eq!(
        alice.created_at,
        "2025-06-01T10:00:00.123456Z".parse().unwrap()
    );
    assert!(
        store
            .authenticate("alice", &chatstore::Password::new(""))
            .is_err()
    );

    let holiday = ConversationId::from_uuid(
        store
            .imported_id("seed001", "conversation", "c-holiday")
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let c = store.conversation(alice.id, holiday).expect("conversation");
    assert_eq!(c.title.as_deref(), Some("Holiday photos"));
    assert_eq!(c.llm_model.as_deref(), Some("gemini-3-flash-preview"));
    assert_eq!(c.message_count, 4);
    let page = store
        .messages(alice.id, holiday, &MessageQuery::default())
        .expect("messages");
    let files: Vec<usize> = page.items.iter().map(|m| m.files.len()).collect();
    assert_eq!(files, [1, 0, 2, 0], "m-4's lost file is left out");
    assert_eq!(
        page.items[1].metadata.extra["sources"][0]["title"], "Sunsets",
        "columns chatstore has no place for are kept in the metadata"
    );

    let m1 = message(&chat, "m-1");
    let (meta, bytes) = chat.message_file(alice.id, m1, 0).expect("the photo");
    assert_eq!((meta.name.as_str(), bytes.as_slice()), ("beach.jpg", PHOTO));
    assert_eq!(
        meta.hash.as_deref(),
        Some(blake3::hash(PHOTO).to_hex().as_str())
    );
    let (_, thumb) = chat.message_thumbnail(alice.id, m1, 0).expect("thumbnail");
    assert_eq!(thumb, PHOTO_THUMB);

    let m3 = message(&chat, "m-3");
    let (notes, bytes) = chat.message_file(alice.id, m3, 0).expect("notes");
    assert_eq!(
        (notes.mime_type.as_str(), bytes.as_slice()),
        ("text/plain", NOTES)
    );
    assert!(
        notes.data.is_none(),
        "moved out of the JSON into the blob store"
    );
    let (_, pattern) = chat.message_file(alice.id, m3, 1).expect("pattern");
    assert_eq!(pattern, (0u8..64).collect::<Vec<_>>());
    let (_, thumb) = chat.message_thumbnail(alice.id, m3, 1).expect("thumb");
    assert_eq!(thumb, TINY_THUMB);

    let bob = store.user_by_email("bob@example.com").expect("bob");
    let bob_chat = store
        .list_conversations(bob.id, &Default::default())
        .unwrap();
    let roles: Vec<MessageRole> = store
        .messages(bob.id, bob_chat.items[0].id, &MessageQuery::default())
        .unwrap()
        .items
        .iter()
        .map(|m| m.role)
        .collect();
    assert_eq!(roles, [MessageRole::User, MessageRole::Assistant]);

    let usage = store
        .usage_records(alice.id, TimeRange::ALL)
        .expect("usage");
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (
            usage[0].provider.as_str(),
            usage[0].prompt_tokens,
            usage[0].completion_tokens
        ),
        ("google", 120, 40)
    );
    assert!((usage[0].estimated_cost - 0.0003).abs() < 1e-12);
    assert_eq!(usage[0].message_id, Some(message(&chat, "m-2")));
}

#[test]
fn running_it_again_imports_nothing_twice() {
    let sample = sample();
    let (_dir, chat) = sqlite_chat();
    run(&sample, &chat).expect("first run");
    let keys = chat.blobs().stats().unwrap().keys;
    let again = run(&sample, &chat).expect("second run");
    assert_eq!(again.imported(), 0, "{:?}", again.kinds);
    assert_eq!(again.counts("message").present, 6);
    assert_eq!(again.counts("attachment").present, 5);
    assert_eq!(chat.blobs().stats().unwrap().keys, keys);
}

/// Stopped at any write (rows or attachments), an import run again finishes with the
/// same store as one never stopped, and no message ever names a missing attachment.
#[test]
fn an_interrupted_import_continues_without_dangling_attachments() {
    let sample = sample();
    let (_whole_dir, whole) = sqlite_chat();
    run(&sample, &whole).expect("an import never stopped");
    let count =
        |chat: &SqliteChat, name: &str| chat.store().count_rows(table(name).unwrap()).unwrap();
    for fail_after in 0..6 {
        for rows_fail in [true, false] {
            let (_dir, chat) = sqlite_chat();
            let failing_rows = Interrupting::new(chat.store(), fail_after);
            let failing_blobs = FailingBlobs::new(chat.blobs(), fail_after);
            let (rows, blobs): (&dyn TableTransfer, &dyn BlobStore) = if rows_fail {
                (&failing_rows, chat.blobs())
            } else {
                (chat.store(), &failing_blobs)
            };
            let first = run_into(&sample, rows, blobs, &options());
            if first.is_ok() {
                continue;
            }
            let audit = chat
                .audit_attachments(chatstore::Timestamp::MAX)
                .expect("audit");
            assert!(audit.dangling.is_empty(), "after {fail_after}: {audit:?}");
            run(&sample, &chat).expect("the import is finished");
            for name in [
                "users",
                "conversations",
                "messages",
                "token_usage",
                "imported_ids",
            ] {
                assert_eq!(
                    count(&chat, name),
                    count(&whole, name),
                    "{name} after {fail_after}"
                );
            }
            assert_eq!(
                chat.blobs().stats().unwrap().keys,
                whole.blobs().stats().unwrap().keys
            );
        }
    }
}

#[test]
fn without_files_db_only_inline_attachments_come_over() {
    let sample = sample();
    let elsewhere = sample.files.with_file_name("elsewhere.db");
    std::fs::rename(&sample.files, &elsewhere).unwrap();
    let (_dir, chat) = sqlite_chat();
    let report = run(&sample, &chat).expect("import");
    assert_eq!(
        report.counts("attachment").imported,
        3,
        "notes, pattern and its thumbnail"
    );
    assert!(
        report.notes.iter().any(|n| n.contains("--files")),
        "{:?}",
        report.notes
    );

    let (_dir, chat) = sqlite_chat();
    let given = ImportOptions {
        files: Some(elsewhere.clone()),
        ..options()
    };
    let report = run_into(&sample, chat.store(), chat.blobs(), &given).expect("import");
    assert_eq!(report.counts("attachment").imported, 5);

    let (_dir, chat) = sqlite_chat();
    let wrong = ImportOptions {
        files: Some(sample.chatbot.path.clone()),
        ..options()
    };
    let err = run_into(&sample, chat.store(), chat.blobs(), &wrong).expect_err("not a files.db");
    assert!(err.to_string().contains("no table blobs"), "{err}");
    assert_eq!(chat.store().count_rows(table("users").unwrap()).unwrap(), 0);
}

#[test]
fn strict_stops_before_writing_and_other_schemas_are_refused() {
    let sample = sample();
    let (_dir, chat) = sqlite_chat();
    let strict = ImportOptions {
        strict: true,
        ..options()
    };
    let err = run_into(&sample, chat.store(), chat.blobs(), &strict).expect_err("m-4 and m-5");
    assert!(err.to_string().contains("m-4/0"), "{err}");
    assert_eq!(chat.store().count_rows(table("users").unwrap()).unwrap(), 0);
    assert_eq!(chat.blobs().stats().unwrap().keys, 0);

    let other = Fixture::new(
        "chatbot.db",
        "CREATE TABLE users (user_id TEXT PRIMARY KEY, email TEXT, created_at TEXT);
         CREATE TABLE conversations (id TEXT); CREATE TABLE messages (id TEXT);",
    );
    let err = import(
        Source::Seed001,
        &other.path,
        Endpoint {
            rows: chat.store(),
            blobs: chat.blobs(),
        },
        &options(),
        &mut |_| {},
    )
    .expect_err("seed 000's users table");
    assert!(err.to_string().contains("no column id"), "{err}");
}
