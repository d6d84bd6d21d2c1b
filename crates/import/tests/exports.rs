//! Importing ChatGPT's and Claude's `conversations.json` into one user's account, on
//! SQLite (and PostgreSQL when `CHATSTORE_PG_URL` is set): samples in the published
//! formats (see `fixtures/exports.rs`).

mod common;
#[path = "fixtures/exports.rs"]
mod fixtures;

use chatstore::transfer::{TableTransfer, table};
use chatstore::{
    ConversationId, ConversationStatus, ConversationStore, Error, Message, MessageQuery,
    MessageRole, MessageStore, NewUser, SystemStore, Timestamp, UserId, UserStore,
};
use chatstore_import::{ExportFormat, ImportOptions, ImportReport, import_export};
use common::sqlite_store;
use fixtures::{CHATGPT, CLAUDE, CLAUDE_CHAT, GPT_ARCHIVED, GPT_TREE};

fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("conversations.json");
    std::fs::write(&path, text).expect("write the export");
    (dir, path)
}

fn run(
    format: ExportFormat,
    text: &str,
    store: &dyn TableTransfer,
    user: UserId,
    strict: bool,
) -> chatstore::Result<ImportReport> {
    let (_dir, path) = file(text);
    let options = ImportOptions {
        strict,
        now: "2026-03-01T00:00:00Z".parse().expect("time"),
        ..ImportOptions::default()
    };
    import_export(format, &path, store, user, &options, &mut |_| {})
}

fn alice(store: &dyn UserStore) -> UserId {
    store
        .create_user(&NewUser::new(
            "alice",
            "alice@example.com",
            "a long password",
        ))
        .expect("alice")
        .id
}

fn conversation(store: &dyn SystemStore, source: &str, original: &str) -> ConversationId {
    let id = store
        .imported_id(source, "conversation", original)
        .expect("lookup")
        .expect("imported");
    ConversationId::from_uuid(id).expect("a conversation id")
}

fn messages<S: MessageStore>(store: &S, user: UserId, id: ConversationId) -> Vec<Message> {
    store
        .messages(user, id, &MessageQuery::default())
        .expect("messages")
        .items
}

fn secs(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(micros).expect("time")
}

fn chatgpt_tree<S>(store: &S)
where
    S: UserStore + ConversationStore + MessageStore + SystemStore + TableTransfer,
{
    let user = alice(store);
    let report = run(ExportFormat::ChatGpt, CHATGPT, store, user, false).expect("import");
    assert_eq!(report.source, "chatgpt");
    assert_eq!(report.counts("conversation").imported, 2);
    assert_eq!(report.counts("message").imported, 7);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    for note in [
        "1 hidden system messages not imported",
        "1 tool messages not imported",
        "1 assistant calls to tools not imported",
        "1 non-text parts kept as a placeholder (image_asset_pointer)",
    ] {
        assert!(report.notes.iter().any(|n| n == note), "{:?}", report.notes);
    }

    let tree = conversation(store, "chatgpt", GPT_TREE);
    let c = store.conversation(user, tree).expect("conversation");
    assert_eq!(c.title.as_deref(), Some("Rust questions"));
    assert_eq!(c.message_count, 5);
    assert_eq!(c.created_at, secs(1_700_000_000_250_000));
    let m = messages(store, user, tree);
    let by = |text: &str| m.iter().find(|x| x.content.contains(text)).expect(text);
    let (u1, a1, a2) = (by("What is Rust"), by("A language"), by("A systems"));
    let (u2, a3) = (by("What does this code print"), by("It prints 1"));
    assert_eq!(u1.parent_id, None);
    assert_eq!(u1.role, MessageRole::User);
    assert_eq!(u1.created_at, secs(1_700_000_010_500_000));
    assert_eq!(a1.parent_id, Some(u1.id), "the first answer is a branch");
    assert_eq!(
        a2.parent_id,
        Some(u1.id),
        "the regenerated answer is another"
    );
    assert_eq!(a1.metadata.model_name.as_deref(), Some("gpt-4"));
    assert_eq!(u2.parent_id, Some(a2.id));
    assert_eq!(u2.created_at, a2.created_at, "no time: its parent's");
    assert!(
        u2.content
            .starts_with("[image: file-service://file-AbC123]")
    );
    assert_eq!(u2.metadata.extra["attachments"][0]["name"], "code.png");
    assert_eq!(a3.parent_id, Some(u2.id), "re-parented over the tool call");
    assert_eq!(a3.created_at, secs(1_700_000_300_000_000));
    let archived = conversation(store, "chatgpt", GPT_ARCHIVED);
    let c = store.conversation(user, archived).expect("archived");
    assert_eq!(c.status, ConversationStatus::Archived);
    assert!(
        store
            .imported_id("chatgpt", "message", "a-3")
            .expect("lookup")
            .is_some()
    );

    let again = run(ExportFormat::ChatGpt, CHATGPT, store, user, false).expect("again");
    assert_eq!(again.counts("message").imported, 0);
    assert_eq!(again.counts("message").present, 7);
    assert_eq!(again.counts("conversation").present, 2);
}

fn claude_linear<S>(store: &S)
where
    S: UserStore + ConversationStore + MessageStore + SystemStore + TableTransfer,
{
    let user = alice(store);
    let report = run(ExportFormat::Claude, CLAUDE, store, user, false).expect("import");
    assert_eq!(report.counts("conversation").imported, 2);
    assert_eq!(report.counts("message").imported, 3);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let id = conversation(store, "claude", CLAUDE_CHAT);
    let c = store.conversation(user, id).expect("conversation");
    assert_eq!(c.title.as_deref(), Some("Reading my notes"));
    assert_eq!(c.created_at, "2024-06-20T14:00:00Z".parse().unwrap());
    let m = messages(store, user, id);
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].role, MessageRole::User);
    assert_eq!(m[0].parent_id, None);
    assert_eq!(
        m[0].metadata.extra["attachments"][0]["file_name"],
        "notes.txt"
    );
    assert_eq!(m[1].role, MessageRole::Assistant);
    assert_eq!(m[1].parent_id, Some(m[0].id));
    assert_eq!(m[1].created_at, "2024-06-20T14:00:20.5Z".parse().unwrap());
    assert!(m[1].content.contains("[tool_use: web_search]"));
    assert!(m[1].content.ends_with("Your notes: buy milk, call Bob."));
    assert_eq!(m[2].content, "Thanks!", "the text field when no blocks");
    assert_eq!(m[2].parent_id, Some(m[1].id));
    let again = run(ExportFormat::Claude, CLAUDE, store, user, false).expect("again");
    assert_eq!(again.imported(), 0);
    assert_eq!(again.counts("message").present, 3);
}

#[test]
fn chatgpt_tree_into_sqlite() {
    let (_dir, store) = sqlite_store();
    chatgpt_tree(&store);
}

#[test]
fn claude_export_into_sqlite() {
    let (_dir, store) = sqlite_store();
    claude_linear(&store);
}

#[test]
fn exports_into_postgres() {
    if let Some(pg) = common::pg_schema("exports_chatgpt") {
        chatgpt_tree(&pg.store);
    }
    if let Some(pg) = common::pg_schema("exports_claude") {
        claude_linear(&pg.store);
    }
}

#[test]
fn malformed_json_is_refused_with_nothing_written() {
    let (_dir, store) = sqlite_store();
    let user = alice(&store);
    for (format, text) in [
        (ExportFormat::ChatGpt, &CHATGPT[..CHATGPT.len() / 2]),
        (ExportFormat::Claude, "{\"uuid\": \"x\"}"),
    ] {
        let err = run(format, text, &store, user, false).expect_err("refused");
        assert!(
            matches!(
                err,
                Error::Validation {
                    field: "export",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    let conversations = table("conversations").expect("table");
    assert_eq!(store.count_rows(conversations).expect("count"), 0);
}

#[test]
fn an_unknown_user_is_refused() {
    let (_dir, store) = sqlite_store();
    let nobody = UserId::derived(secs(0), b"nobody");
    let err = run(ExportFormat::Claude, CLAUDE, &store, nobody, false).expect_err("refused");
    assert!(
        matches!(err, Error::NotFound { entity: "user", .. }),
        "{err:?}"
    );
}

#[test]
fn a_bad_record_is_skipped_or_stops_a_strict_import() {
    let (_dir, store) = sqlite_store();
    let user = alice(&store);
    let bad = CHATGPT.replacen(r#""role": "user""#, r#""role": "critic""#, 1);
    let err = run(ExportFormat::ChatGpt, &bad, &store, user, true).expect_err("strict");
    assert!(err.to_string().contains("u-1"), "{err}");
    let conversations = table("conversations").expect("table");
    assert_eq!(store.count_rows(conversations).expect("count"), 0);

    let report = run(ExportFormat::ChatGpt, &bad, &store, user, false).expect("lenient");
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].original_id, "u-1");
    assert!(report.skipped[0].reason.contains("critic"));
    assert_eq!(report.counts("message").imported, 6);
    let tree = conversation(&store, "chatgpt", GPT_TREE);
    let m = messages(&store, user, tree);
    let first = m.iter().find(|x| x.content == "A language.").expect("a-1");
    assert_eq!(first.parent_id, None, "its parent was skipped: the root");

    let bad = CLAUDE.replacen(r#""sender": "human""#, r#""sender": "robot""#, 1);
    let report = run(ExportFormat::Claude, &bad, &store, user, false).expect("lenient");
    assert_eq!(report.skipped[0].table, "conversations.json");
    assert!(report.skipped[0].reason.contains("robot"));
    assert_eq!(report.counts("message").imported, 2);
}
