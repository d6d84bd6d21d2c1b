//! `chatstore import` run as a binary on a fixture made with seed 000's own DDL:
//! counts and contents, old passwords logging in, a second run importing nothing, a
//! bad record skipped or (with `--strict`) stopping the import before anything is
//! written, and the source file's bytes unchanged. With `CHATSTORE_PG_URL`, the same
//! import into PostgreSQL. ChatGPT and Claude exports imported into one user's account.

mod common;
#[path = "../../import/tests/fixtures/exports.rs"]
mod exports;
#[path = "../../import/tests/fixtures/seed000.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use chatstore::{
    Config, ConversationId, ConversationStore, HashScheme, MessageQuery, MessageStore, Password,
    PasswordParams, SystemStore, UserStore,
};
use chatstore_sqlite::SqliteStore;
use common::{on, run};
use fixtures::{ELIGIBILITY, SEED000_DDL, sample_sql};

/// A seed 000 database with the sample (and `extra` SQL) in a fresh directory.
fn source(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let path = tmp.path().join("organic-fishstick.db");
    let conn = rusqlite::Connection::open(&path).expect("fixture");
    conn.execute_batch(SEED000_DDL).expect("the seed's DDL");
    conn.execute_batch(&sample_sql()).expect("the sample");
    conn.execute_batch(extra).expect("extra rows");
    drop(conn);
    (tmp, path)
}

fn library(dir: &Path) -> SqliteStore {
    let main = dir.join("chatstore.db");
    SqliteStore::open(
        Config::new(main.to_string_lossy()).password_params(PasswordParams::fast_for_tests()),
    )
    .expect("store")
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn import_seed000_into_a_new_store_twice() {
    let (tmp, db) = source("");
    let before = std::fs::read(&db).expect("source bytes");
    let store = tmp.path().join("store");
    let first = on(&store, &["import", "seed000", path_arg(&db), "--json"])
        .ok()
        .json();
    assert_eq!(first["kinds"]["user"]["imported"], 3);
    assert_eq!(first["kinds"]["conversation"]["imported"], 3);
    assert_eq!(first["kinds"]["message"]["imported"], 5);
    assert_eq!(first["skipped"].as_array().map(Vec::len), Some(0));
    assert_eq!(first["must_reset"][0]["email"], "old@example.com");

    let second = on(&store, &["import", "seed000", path_arg(&db)]).ok();
    assert!(second.stdout.contains("already there"), "{}", second.stdout);
    let again = on(&store, &["import", "seed000", path_arg(&db), "--json"])
        .ok()
        .json();
    assert_eq!(again["kinds"]["message"]["imported"], 0);
    assert_eq!(again["kinds"]["message"]["present"], 5);
    assert_eq!(std::fs::read(&db).expect("source bytes"), before);

    let s = library(&store);
    let john = s.user_by_email("user1@example.com").expect("john");
    s.authenticate("user1", &Password::new(fixtures_password()))
        .expect("the old bcrypt password logs in");
    assert_eq!(
        s.password_scheme(john.id).expect("scheme"),
        Some(HashScheme::Argon2)
    );
    let id = s
        .imported_id("seed000", "conversation", ELIGIBILITY)
        .expect("lookup")
        .expect("imported");
    let id = ConversationId::from_uuid(id).expect("conversation id");
    let messages = s
        .messages(john.id, id, &MessageQuery::default())
        .expect("messages");
    assert_eq!(messages.items.len(), 4);
    assert_eq!(
        messages.items[0].created_at,
        "2026-02-15T14:15:00Z".parse().unwrap()
    );
    assert_eq!(s.conversation(john.id, id).expect("c").message_count, 4);
    on(&store, &["check"]).ok();
}

fn fixtures_password() -> &'static str {
    "correct horse battery"
}

#[test]
fn a_bad_record_is_skipped_or_stops_a_strict_import() {
    let (tmp, db) = source(
        "INSERT INTO messages VALUES ('m-bad', 'conv-archived', 'robot', 'beep', NULL,
                                      '2026-01-07 09:00:00', NULL);",
    );
    let before = std::fs::read(&db).expect("source bytes");
    let strict = tmp.path().join("strict");
    let refused = on(&strict, &["import", "seed000", path_arg(&db), "--strict"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("m-bad"), "{}", refused.stderr);
    let s = library(&strict);
    assert!(
        s.user_by_email("user1@example.com").is_err(),
        "nothing written"
    );

    let lenient = tmp.path().join("lenient");
    let report = on(&lenient, &["import", "seed000", path_arg(&db), "--json"])
        .ok()
        .json();
    assert_eq!(report["skipped"][0]["table"], "messages");
    assert_eq!(report["skipped"][0]["original_id"], "m-bad");
    assert!(
        report["skipped"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("role")),
        "{report}"
    );
    assert_eq!(report["kinds"]["message"]["imported"], 5);
    assert_eq!(std::fs::read(&db).expect("source bytes"), before);
}

#[test]
fn import_refuses_a_missing_file_and_files_for_seed000() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let store = tmp.path().join("store");
    let missing = on(&store, &["import", "seed000", "/nonexistent/organic.db"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("not a file"), "{}", missing.stderr);
    let (_src, db) = source("");
    let files = on(
        &store,
        &["import", "seed000", path_arg(&db), "--files", "files.db"],
    );
    assert_eq!(files.code, 2, "{files:?}");
    let unknown = run(&["import", "seed999", path_arg(&db)]);
    assert_eq!(unknown.code, 2);
}

/// A store with the user `alice`, and the export `text` beside it.
fn store_with_alice(text: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let store = tmp.path().join("store");
    on(&store, &["init"]).ok();
    library(&store)
        .create_user(&chatstore::NewUser::new(
            "alice",
            "alice@example.com",
            "a long password",
        ))
        .expect("alice");
    let export = tmp.path().join("conversations.json");
    std::fs::write(&export, text).expect("export");
    (tmp, store, export)
}

#[test]
fn import_chatgpt_and_claude_exports_twice() {
    for (source, text, conversations, messages, original) in [
        ("chatgpt", exports::CHATGPT, 2, 7, exports::GPT_TREE),
        ("claude", exports::CLAUDE, 2, 3, exports::CLAUDE_CHAT),
    ] {
        let (_tmp, store, export) = store_with_alice(text);
        let args = ["import", source, path_arg(&export), "--user", "alice"];
        let first = on(&store, &[&args[..], &["--json"]].concat()).ok().json();
        assert_eq!(first["source"], source);
        assert_eq!(first["kinds"]["conversation"]["imported"], conversations);
        assert_eq!(first["kinds"]["message"]["imported"], messages);
        let human = on(&store, &args).ok();
        assert!(human.stdout.contains("already there"), "{}", human.stdout);
        let again = on(&store, &[&args[..], &["--json"]].concat()).ok().json();
        assert_eq!(again["kinds"]["message"]["imported"], 0);
        assert_eq!(again["kinds"]["message"]["present"], messages);

        let s = library(&store);
        let alice = s.user_by_username("alice").expect("alice");
        let id = s
            .imported_id(source, "conversation", original)
            .expect("lookup")
            .expect("imported");
        let id = ConversationId::from_uuid(id).expect("conversation id");
        let thread = s
            .messages(alice.id, id, &MessageQuery::default())
            .expect("messages")
            .items;
        assert!(!thread.is_empty());
        on(&store, &["check"]).ok();
    }
}

#[test]
fn chatgpt_branches_come_over() {
    let (_tmp, store, export) = store_with_alice(exports::CHATGPT);
    let report = on(
        &store,
        &[
            "import",
            "chatgpt",
            path_arg(&export),
            "--user",
            "alice@example.com",
            "--json",
        ],
    )
    .ok()
    .json();
    assert!(
        report["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n == "1 tool messages not imported")),
        "{report}"
    );
    let s = library(&store);
    let alice = s.user_by_username("alice").expect("alice");
    let id = s
        .imported_id("chatgpt", "conversation", exports::GPT_TREE)
        .expect("lookup")
        .expect("imported");
    let id = ConversationId::from_uuid(id).expect("conversation id");
    let thread = s
        .messages(alice.id, id, &MessageQuery::default())
        .expect("messages")
        .items;
    let question = thread
        .iter()
        .find(|m| m.content == "What is Rust?")
        .expect("u-1");
    let answers = thread
        .iter()
        .filter(|m| m.parent_id == Some(question.id))
        .count();
    assert_eq!(answers, 2, "the regenerated answer is a branch");
}

#[test]
fn export_imports_refuse_bad_input() {
    let (tmp, store, export) = store_with_alice(exports::CLAUDE);
    let unknown = on(
        &store,
        &["import", "claude", path_arg(&export), "--user", "bob"],
    );
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("bob"), "{}", unknown.stderr);
    let missing_user = on(&store, &["import", "claude", path_arg(&export)]);
    assert_eq!(missing_user.code, 2, "{missing_user:?}");

    let broken = tmp.path().join("broken.json");
    std::fs::write(&broken, "[{\"uuid\": ").expect("broken");
    let refused = on(
        &store,
        &["import", "claude", path_arg(&broken), "--user", "alice"],
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("malformed JSON"),
        "{}",
        refused.stderr
    );

    let bad = tmp.path().join("bad.json");
    let text = exports::CLAUDE.replacen(r#""sender": "human""#, r#""sender": "robot""#, 1);
    std::fs::write(&bad, text).expect("bad");
    let strict = on(
        &store,
        &[
            "import",
            "claude",
            path_arg(&bad),
            "--user",
            "alice",
            "--strict",
        ],
    );
    assert_ne!(strict.code, 0);
    assert!(strict.stderr.contains("robot"), "{}", strict.stderr);
    let s = library(&store);
    assert_eq!(
        s.imported_id("claude", "conversation", exports::CLAUDE_CHAT)
            .expect("lookup"),
        None,
        "nothing written"
    );
    let lenient = on(
        &store,
        &[
            "import",
            "claude",
            path_arg(&bad),
            "--user",
            "alice",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        lenient["skipped"][0]["original_id"],
        "b3c4d5e6-0001-4000-8000-000000000001"
    );
    assert_eq!(lenient["kinds"]["message"]["imported"], 2);
}

/// `import chatstore`: a directory `chatstore export` wrote, brought into a new store.
mod chatstore_export {
    use super::*;
    use chatstore::{ChatStore, NewAttachment, NewConversation, NewMessage, NoVectorIndex};
    use chatstore_blob::{BlobConfig, SqliteBlobStore};

    const PASSWORD: &str = "a long password";

    /// A store holding ada, with a conversation whose message carries a file, exported
    /// by the binary; returns the temporary directory and the export's path.
    fn exported() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let source = tmp.path().join("source");
        on(&source, &["init"]).ok();
        common::on_with_stdin(
            &source,
            &[
                "users",
                "create",
                "ada",
                "ada@example.com",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
        .ok();
        {
            let main = source.join("chatstore.db");
            let blobs = SqliteBlobStore::open(BlobConfig::beside(&main)).expect("blobs");
            let chat = ChatStore::new(library(&source), blobs, NoVectorIndex).expect("chat");
            let ada = chat.store().user_by_username("ada").expect("ada");
            let talk = chat
                .store()
                .create_conversation(ada.id, &NewConversation::titled("Eligibility"))
                .expect("conversation");
            chat.append_with_attachments(
                ada.id,
                talk.id,
                &NewMessage::user("Who is eligible?"),
                vec![NewAttachment::new(
                    "form.txt",
                    "text/plain",
                    b"the form".to_vec(),
                )],
            )
            .expect("message with a file");
        }
        let out = tmp.path().join("ada-export");
        on(
            &source,
            &["export", "--user", "ada", "--out", path_arg(&out)],
        )
        .ok();
        (tmp, out)
    }

    #[test]
    fn a_chatstore_export_comes_back_into_a_new_store_once() {
        let (tmp, export) = exported();
        let store = tmp.path().join("target");
        let args = ["import", "chatstore", path_arg(&export), "--json"];
        let first = on(&store, &args).ok().json();
        assert_eq!(first["source"], "chatstore");
        assert_eq!(first["kinds"]["user"]["imported"], 1);
        assert_eq!(first["kinds"]["conversation"]["imported"], 1);
        assert_eq!(first["kinds"]["message"]["imported"], 1);
        assert_eq!(first["kinds"]["attachment"]["imported"], 1);
        assert_eq!(first["must_reset"][0]["username"], "ada");
        let again = on(&store, &args).ok().json();
        assert_eq!(again["kinds"]["message"]["imported"], 0);
        assert_eq!(again["kinds"]["message"]["present"], 1);
        assert_eq!(again["kinds"]["attachment"]["present"], 1);
        on(&store, &["check"]).ok();

        let main = store.join("chatstore.db");
        let blobs = SqliteBlobStore::open(BlobConfig::beside(&main)).expect("blobs");
        let chat = ChatStore::new(library(&store), blobs, NoVectorIndex).expect("chat");
        let ada = chat.store().user_by_username("ada").expect("ada");
        for password in ["", PASSWORD] {
            assert!(
                chat.store()
                    .authenticate("ada", &Password::new(password))
                    .is_err(),
                "no password logs in before a reset"
            );
        }
        let talk = chat
            .store()
            .list_conversations(ada.id, &chatstore::ConversationQuery::default())
            .expect("list")
            .items[0]
            .id;
        let message = &chat
            .store()
            .messages(ada.id, talk, &MessageQuery::default())
            .expect("messages")
            .items[0];
        let (_, mut reader) = chat
            .open_message_file(ada.id, message.id, 0)
            .expect("the file");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut bytes).expect("read");
        assert_eq!(bytes, b"the form");
    }

    #[test]
    fn a_chatstore_import_is_refused_with_user_or_a_taken_email() {
        let (tmp, export) = exported();
        let store = tmp.path().join("target");
        let with_user = on(
            &store,
            &["import", "chatstore", path_arg(&export), "--user", "ada"],
        );
        assert_eq!(with_user.code, 2, "{with_user:?}");
        assert!(with_user.stderr.contains("--user"), "{with_user:?}");

        on(&store, &["init"]).ok();
        common::on_with_stdin(
            &store,
            &[
                "users",
                "create",
                "someone",
                "ada@example.com",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
        .ok();
        let taken = on(&store, &["import", "chatstore", path_arg(&export)]);
        assert_ne!(taken.code, 0, "{taken:?}");
        assert!(taken.stderr.contains("ada@example.com"), "{taken:?}");
        let s = library(&store);
        assert!(s.user_by_username("ada").is_err(), "nothing imported");
        let none = on(
            &store,
            &["import", "chatstore", path_arg(&tmp.path().join("nothing"))],
        );
        assert_ne!(none.code, 0, "{none:?}");
    }
}
