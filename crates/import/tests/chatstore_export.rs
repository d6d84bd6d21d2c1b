//! Importing chatstore's own export back: a user with conversations in every status, a
//! branch, attachments with thumbnails, agent runs, documents with chunks and usage,
//! exported from SQLite and imported into an empty SQLite store and (with
//! `CHATSTORE_PG_URL`) PostgreSQL, compared through the public API; a second run
//! importing nothing; and the refusals: a flipped byte in an attachment, a path out of
//! the export directory, no `export.json`, another format, a taken email.

mod common;

use std::path::{Path, PathBuf};

use chatstore::transfer::{Endpoint, TableTransfer};
use chatstore::{
    AgentLog, BlobKey, BlobStore, ChatStore, Chunk, Conversation, ConversationQuery,
    ConversationStatus, Document, DocumentQuery, Error, Message, MessageId, MessageQuery,
    NewAgentLog, NewAttachment, NewChunk, NewConversation, NewDocument, NewMessage, NewSession,
    NewUsage, NoVectorIndex, OperationType, Password, Store, TimeRange, UsageRecord, UsageTotals,
    UserId, Visibility,
};
use chatstore::{
    AgentLogStore, ConversationStore, DocumentStore, MessageStore, RbacStore, SessionStore,
    UsageStore, UserStore,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_import::{ImportOptions, ImportReport, import_chatstore_export};
use chatstore_sqlite::SqliteStore;

type Chat = ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex>;

/// A SQLite store with its attachment file, in a temporary directory.
fn chat() -> (tempfile::TempDir, Chat) {
    let (dir, store) = common::sqlite_store();
    let blobs =
        SqliteBlobStore::open(BlobConfig::beside(dir.path().join("chatstore.db"))).expect("blobs");
    (
        dir,
        ChatStore::new(store, blobs, NoVectorIndex).expect("chat"),
    )
}

/// Ada's data, as varied as a store holds: returns her id and the id of the message
/// carrying a file and a thumbnail.
fn seed(chat: &Chat) -> (UserId, MessageId) {
    let s = chat.store();
    let ada = s
        .create_user(&chatstore::NewUser::new(
            "ada",
            "ada@example.com",
            "a long password",
        ))
        .expect("ada")
        .id;
    s.assign_role(ada, "analyst").expect("analyst");
    s.create_role("auditor", None).expect("auditor role");
    s.assign_role(ada, "auditor").expect("auditor");
    s.create_session(ada, &NewSession::default())
        .expect("session");

    let talk = s
        .create_conversation(ada, &NewConversation::titled("Eligibility"))
        .expect("conversation");
    let mut form = NewAttachment::new("form.pdf", "application/pdf", b"%PDF the form".to_vec());
    form.thumbnail = Some(b"tiny picture".to_vec());
    let question = chat
        .append_with_attachments(
            ada,
            talk.id,
            &NewMessage::user("Who is eligible?"),
            vec![
                form,
                NewAttachment::new("notes.txt", "text/plain", b"notes".to_vec()),
            ],
        )
        .expect("question");
    let answer = s
        .append_message(ada, talk.id, &NewMessage::assistant("Residents are."))
        .expect("answer");
    s.record_agent_log(ada, answer.id, &NewAgentLog::new("ResearchAgent"))
        .expect("agent log");
    let edited = s
        .append_message(
            ada,
            talk.id,
            &NewMessage::user("Who else is eligible?").reply_to(question.id),
        )
        .expect("branch");
    s.append_message(
        ada,
        talk.id,
        &NewMessage::assistant("Students too.").reply_to(edited.id),
    )
    .expect("branch answer");
    let mut usage = NewUsage::new("openai", "gpt-4o", OperationType::Chat, 1000, 500);
    usage.conversation_id = Some(talk.id);
    usage.message_id = Some(answer.id);
    s.record_usage(ada, &usage).expect("usage");
    s.record_usage(
        ada,
        &NewUsage::new("ollama", "nomic", OperationType::Embedding, 0, 0),
    )
    .expect("usage without links");

    for (title, status) in [
        ("Old", ConversationStatus::Archived),
        ("Done", ConversationStatus::Closed),
        ("Gone", ConversationStatus::Deleted),
    ] {
        let c = s
            .create_conversation(ada, &NewConversation::titled(title))
            .expect("conversation");
        s.append_message(ada, c.id, &NewMessage::user(title))
            .expect("message");
        match status {
            ConversationStatus::Archived => drop(s.archive_conversation(ada, c.id)),
            ConversationStatus::Closed => drop(s.close_conversation(ada, c.id)),
            _ => {
                s.archive_conversation(ada, c.id).expect("archive");
                s.delete_conversation(ada, c.id).expect("delete");
            }
        }
    }

    let doc = s
        .create_document(ada, &NewDocument::new("policy.pdf", "/files/policy.pdf"))
        .expect("document");
    s.start_processing(ada, doc.id).expect("processing");
    s.add_chunks(
        ada,
        doc.id,
        &[
            NewChunk::new(0, "Residents qualify."),
            NewChunk::new(1, "So do students."),
        ],
    )
    .expect("chunks");
    s.complete_processing(ada, doc.id).expect("processed");
    (ada, question.id)
}

/// Everything the public API shows of a user's data.
#[derive(Debug, PartialEq)]
struct Snapshot {
    conversations: Vec<(Conversation, Vec<Message>, Vec<AgentLog>)>,
    documents: Vec<(Document, Vec<Chunk>)>,
    usage: Vec<UsageRecord>,
    totals: UsageTotals,
    attachments: Vec<(BlobKey, Vec<u8>)>,
}

fn snapshot(store: &dyn Store, blobs: &dyn BlobStore, user: UserId) -> Snapshot {
    let query = ConversationQuery {
        statuses: vec![
            ConversationStatus::Active,
            ConversationStatus::Archived,
            ConversationStatus::Closed,
            ConversationStatus::Deleted,
        ],
        visibility: Visibility::All,
        limit: 100,
        cursor: None,
    };
    let mut conversations = Vec::new();
    let mut attachments = Vec::new();
    for summary in store.list_conversations(user, &query).expect("list").items {
        let c = store.conversation(user, summary.id).expect("conversation");
        let messages = store
            .messages(user, c.id, &MessageQuery::default())
            .expect("messages")
            .items;
        for m in &messages {
            for info in blobs.list(m.id).expect("blobs") {
                attachments.push((info.key, blobs.get(&info.key).expect("bytes")));
            }
        }
        let logs = store.conversation_agent_logs(user, c.id).expect("logs");
        conversations.push((c, messages, logs));
    }
    let documents = store
        .list_documents(user, &DocumentQuery::default())
        .expect("documents")
        .items
        .into_iter()
        .map(|d| {
            let chunks = store.chunks(user, d.id).expect("chunks");
            (d, chunks)
        })
        .collect();
    Snapshot {
        conversations,
        documents,
        usage: store.usage_records(user, TimeRange::ALL).expect("usage"),
        totals: store.usage_totals(user, TimeRange::ALL).expect("totals"),
        attachments,
    }
}

/// Ada's store and her export in a directory of its own.
struct Exported {
    _tmp: tempfile::TempDir,
    source: Chat,
    ada: UserId,
    question: MessageId,
    dir: PathBuf,
}

fn exported() -> Exported {
    let (tmp, source) = chat();
    let (ada, question) = seed(&source);
    let dir = tmp.path().join("ada-export");
    source.export_user(ada, &dir).expect("export");
    Exported {
        _tmp: tmp,
        source,
        ada,
        question,
        dir,
    }
}

fn options(strict: bool) -> ImportOptions {
    ImportOptions {
        strict,
        ..ImportOptions::default()
    }
}

fn import(
    dir: &Path,
    rows: &dyn TableTransfer,
    blobs: &dyn BlobStore,
    strict: bool,
) -> chatstore::Result<ImportReport> {
    import_chatstore_export(dir, Endpoint { rows, blobs }, &options(strict), &mut |_| {})
}

/// Imports the export into `target` twice and compares it with the source.
fn round_trip(e: &Exported, store: &(impl Store + TableTransfer), blobs: &dyn BlobStore) {
    let report = import(&e.dir, store, blobs, false).expect("import");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.source, "chatstore");
    assert_eq!(report.counts("user").imported, 1);
    assert_eq!(report.counts("conversation").imported, 4);
    assert_eq!(report.counts("message").imported, 7);
    assert_eq!(report.counts("attachment").imported, 3);
    assert_eq!(report.counts("agent_log").imported, 1);
    assert_eq!(report.counts("document").imported, 1);
    assert_eq!(report.counts("chunk").imported, 2);
    assert_eq!(report.counts("usage").imported, 2);
    assert_eq!(report.must_reset.len(), 1);
    assert_eq!(report.must_reset[0].email, "ada@example.com");
    let notes = report.notes.join("\n");
    assert!(notes.contains("1 login sessions not imported"), "{notes}");
    assert!(notes.contains("role \"auditor\" not granted"), "{notes}");

    let expected = snapshot(e.source.store(), e.source.blobs(), e.ada);
    assert_eq!(snapshot(store, blobs, e.ada), expected);
    let roles: Vec<String> = store
        .user_roles(e.ada)
        .expect("roles")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(roles.contains(&"analyst".to_owned()), "{roles:?}");
    let user = store.user(e.ada).expect("ada is there");
    assert_eq!(user, e.source.store().user(e.ada).expect("source ada"));
    for password in [
        "",
        "a long password",
        "!no-password: imported from a chatstore export",
    ] {
        assert!(
            store.authenticate("ada", &Password::new(password)).is_err(),
            "{password:?} must not log in"
        );
    }
    let restored = store
        .restore_conversation(
            e.ada,
            expected
                .conversations
                .iter()
                .find(|(c, ..)| c.status == ConversationStatus::Deleted)
                .expect("a deleted one")
                .0
                .id,
        )
        .expect("restore");
    assert_eq!(restored.status, ConversationStatus::Archived);

    let again = import(&e.dir, store, blobs, false).expect("second run");
    assert_eq!(again.imported(), 0, "{again:?}");
    assert_eq!(again.counts("message").present, 7);
    assert_eq!(again.counts("attachment").present, 3);
    assert_eq!(again.counts("usage").present, 2);
    assert_eq!(again.counts("user").present, 1);
}

#[test]
fn round_trip_sqlite_to_sqlite() {
    let e = exported();
    let (_dir, target) = chat();
    round_trip(&e, target.store(), target.blobs());
    assert!(target.dangling_attachments().expect("audit").is_empty());
    let talk = target
        .store()
        .message(e.ada, e.question)
        .expect("question")
        .conversation_id;
    let next = target
        .store()
        .append_message(
            e.ada,
            talk,
            &NewMessage::user("a new message after the import"),
        )
        .expect("an imported conversation takes new messages");
    assert_eq!(next.seq, 5);
    let (_, bytes) = target
        .message_thumbnail(e.ada, e.question, 0)
        .expect("thumbnail");
    assert_eq!(bytes, b"tiny picture");
}

#[test]
fn round_trip_sqlite_to_postgres() {
    let Some(pg) = common::pg_schema("round_trip_sqlite_to_postgres") else {
        return;
    };
    let e = exported();
    let blobs = pg.store.blobs(1 << 20);
    round_trip(&e, &pg.store, &blobs);
}

#[test]
fn the_exporting_store_already_holds_everything() {
    let e = exported();
    let report = import(&e.dir, e.source.store(), e.source.blobs(), true).expect("import");
    assert_eq!(report.imported(), 0, "{report:?}");
    assert!(report.must_reset.is_empty(), "the account exists: no reset");
    assert!(
        report.notes.iter().any(|n| n.contains("joins it")),
        "{:?}",
        report.notes
    );
    e.source
        .store()
        .authenticate("ada", &Password::new("a long password"))
        .expect("her password is untouched");
}

#[test]
fn an_earlier_partial_import_is_finished() {
    let e = exported();
    let (tmp, target) = chat();
    let one = tmp.path().join("one-conversation");
    let talk = e
        .source
        .store()
        .message(e.ada, e.question)
        .expect("q")
        .conversation_id;
    e.source
        .export_conversation(e.ada, talk, &one)
        .expect("export one");
    let first = import(&one, target.store(), target.blobs(), true).expect("one conversation");
    assert_eq!(first.counts("message").imported, 4);
    let rest = import(&e.dir, target.store(), target.blobs(), true).expect("everything");
    assert_eq!(rest.counts("message").present, 4);
    assert_eq!(rest.counts("message").imported, 3);
    assert_eq!(
        snapshot(target.store(), target.blobs(), e.ada),
        snapshot(e.source.store(), e.source.blobs(), e.ada)
    );
}

/// Flips one byte of the file of attachment 0 of `message`.
fn corrupt(dir: &Path, message: MessageId) {
    let path = dir.join(format!("attachments/{message}/0"));
    let mut bytes = std::fs::read(&path).expect("attachment");
    bytes[0] ^= 0x01;
    std::fs::write(&path, bytes).expect("write");
}

fn empty(target: &Chat, ada: UserId) {
    assert!(target.store().user(ada).is_err(), "no user written");
    assert_eq!(
        target.blobs().stats().expect("stats").keys,
        0,
        "no attachment written"
    );
}

#[test]
fn a_corrupted_attachment_skips_its_message_or_stops_a_strict_import() {
    let e = exported();
    corrupt(&e.dir, e.question);
    let (_s, strict) = chat();
    let err = import(&e.dir, strict.store(), strict.blobs(), true).expect_err("strict");
    assert!(matches!(err, Error::Validation { .. }), "{err}");
    assert!(err.to_string().contains(&e.question.to_string()), "{err}");
    assert!(err.to_string().contains("blake3"), "{err}");
    empty(&strict, e.ada);

    let (_l, lenient) = chat();
    let report = import(&e.dir, lenient.store(), lenient.blobs(), false).expect("lenient");
    let skipped: Vec<&str> = report
        .skipped
        .iter()
        .map(|s| s.original_id.as_str())
        .collect();
    assert_eq!(report.skipped[0].original_id, e.question.to_string());
    // The question goes with its files, the answer and branch that follow it, the
    // answer's agent run; the usage record stays, its message link cleared.
    assert_eq!(report.counts("message").skipped, 4, "{skipped:?}");
    assert_eq!(report.counts("attachment").skipped, 3, "{skipped:?}");
    assert_eq!(report.counts("agent_log").skipped, 1, "{skipped:?}");
    assert_eq!(report.counts("message").imported, 3);
    assert_eq!(report.counts("usage").imported, 2);
    let s = lenient.store();
    assert!(s.message(e.ada, e.question).is_err());
    assert!(lenient.dangling_attachments().expect("audit").is_empty());
    let usage = s.usage_records(e.ada, TimeRange::ALL).expect("usage");
    assert!(usage.iter().all(|u| u.message_id.is_none()));
    assert_eq!(lenient.blobs().stats().expect("stats").keys, 0);
}

#[test]
fn a_path_out_of_the_export_is_refused() {
    let e = exported();
    std::fs::write(e.dir.parent().expect("parent").join("secret"), b"secret").expect("secret");
    let json = e.dir.join("export.json");
    let text = std::fs::read_to_string(&json).expect("read");
    let path = format!("attachments/{}/0\"", e.question);
    assert!(text.contains(&path));
    std::fs::write(&json, text.replacen(&path, "../secret\"", 1)).expect("write");
    let (_s, target) = chat();
    let err = import(&e.dir, target.store(), target.blobs(), true).expect_err("strict");
    assert!(
        err.to_string().contains("not a path inside the export"),
        "{err}"
    );
    empty(&target, e.ada);
    let report = import(&e.dir, target.store(), target.blobs(), false).expect("lenient");
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.reason.contains("../secret")),
        "{:?}",
        report.skipped
    );
    assert!(target.store().message(e.ada, e.question).is_err());
}

#[test]
fn not_an_export_is_refused_before_anything_is_written() {
    let e = exported();
    let (_s, target) = chat();
    let json = e.dir.join("export.json");
    let text = std::fs::read_to_string(&json).expect("read");

    std::fs::write(
        &json,
        text.replacen("chatstore-export/1", "chatstore-export/9", 1),
    )
    .expect("w");
    let err = import(&e.dir, target.store(), target.blobs(), false).expect_err("format");
    assert!(
        matches!(
            err,
            Error::Validation {
                field: "format",
                ..
            }
        ),
        "{err}"
    );

    std::fs::write(&json, &text[..text.len() / 2]).expect("w");
    let err = import(&e.dir, target.store(), target.blobs(), false).expect_err("not JSON");
    assert!(err.to_string().contains("is not JSON"), "{err}");

    std::fs::remove_file(&json).expect("remove");
    let err = import(&e.dir, target.store(), target.blobs(), false).expect_err("no file");
    assert!(err.to_string().contains("has no export.json"), "{err}");
    let err = import(
        &e.dir.join("nothing"),
        target.store(),
        target.blobs(),
        false,
    )
    .expect_err("no directory");
    assert!(matches!(err, Error::Validation { .. }), "{err}");
    empty(&target, e.ada);
}

#[test]
fn a_message_outside_its_conversation_is_skipped() {
    let e = exported();
    let json = e.dir.join("export.json");
    let mut export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("read")).expect("JSON");
    let stranger = chatstore::ConversationId::new().to_string();
    let talk = export["conversations"]
        .as_array_mut()
        .expect("conversations")
        .iter_mut()
        .find(|c| c["messages"].as_array().is_some_and(|m| m.len() == 4))
        .expect("the conversation with a branch");
    let last = talk["messages"][3]["id"].as_str().expect("id").to_owned();
    talk["messages"][3]["conversation_id"] = stranger.clone().into();
    std::fs::write(&json, serde_json::to_vec(&export).expect("encode")).expect("write");
    let (_s, target) = chat();
    let err = import(&e.dir, target.store(), target.blobs(), true).expect_err("strict");
    assert!(err.to_string().contains(&last), "{err}");
    empty(&target, e.ada);
    let report = import(&e.dir, target.store(), target.blobs(), false).expect("lenient");
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(report.skipped[0].reason.contains(&stranger));
    assert_eq!(report.counts("message").imported, 6);
}

#[test]
fn another_account_with_the_email_refuses_the_import() {
    let e = exported();
    let (_s, target) = chat();
    target
        .store()
        .create_user(&chatstore::NewUser::new(
            "someone",
            "Ada@Example.com",
            "another long password",
        ))
        .expect("someone");
    let err = import(&e.dir, target.store(), target.blobs(), false).expect_err("taken");
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("ada@example.com"), "{err}");
    empty(&target, e.ada);
    assert_eq!(
        target
            .store()
            .count_rows(chatstore::transfer::table("conversations").expect("t"))
            .expect("count"),
        0
    );
}

/// An export whose user has the id of an account of the target but another email does
/// not join that account: the id alone is not enough.
#[test]
fn an_account_with_the_id_but_another_email_refuses_the_import() {
    let e = exported();
    let path = e.dir.join("export.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("JSON");
    json["user"]["email"] = "mallory@example.com".into();
    json["conversations"][0]["messages"] = serde_json::json!([]);
    std::fs::write(&path, serde_json::to_vec(&json).expect("encode")).expect("write");
    let before = e
        .source
        .store()
        .count_rows(chatstore::transfer::table("messages").expect("t"))
        .expect("count");
    let err = import(&e.dir, e.source.store(), e.source.blobs(), false).expect_err("refused");
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("another email"), "{err}");
    let after = e
        .source
        .store()
        .count_rows(chatstore::transfer::table("messages").expect("t"))
        .expect("count");
    assert_eq!(before, after);
}
