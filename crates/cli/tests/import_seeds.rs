//! `chatstore import seed001` and `seed002` run as a binary on fixtures written from the
//! seeds (seed 001's `chatbot.db` with its `files.db`; seed 002's RAG schema): counts,
//! attachments that `check` then finds whole, a second run importing nothing, and the
//! options each source refuses.

mod common;
#[path = "../../import/tests/fixtures/seed001.rs"]
mod seed001;
#[path = "../../import/tests/fixtures/seed002.rs"]
mod seed002;

use std::path::{Path, PathBuf};

use chatstore::{Password, PasswordHasher, PasswordParams};
use common::on;

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Seed 001's two files, side by side in a fresh directory.
fn seed001_source() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let chatbot = tmp.path().join("chatbot.db");
    let conn = rusqlite::Connection::open(&chatbot).expect("chatbot.db");
    conn.execute_batch(seed001::CHATBOT_DDL).expect("DDL");
    conn.execute_batch(seed001::CHATBOT_SAMPLE).expect("sample");
    let files = tmp.path().join("files.db");
    let conn = rusqlite::Connection::open(&files).expect("files.db");
    conn.execute_batch(seed001::FILES_DDL).expect("DDL");
    conn.execute_batch(&seed001::files_sample())
        .expect("sample");
    (tmp, chatbot, files)
}

#[test]
fn import_seed001_with_its_files_db() {
    let (tmp, chatbot, files) = seed001_source();
    let store = tmp.path().join("store");
    let args = [
        "import",
        "seed001",
        path_arg(&chatbot),
        "--files",
        path_arg(&files),
        "--json",
    ];
    let first = on(&store, &args).ok().json();
    assert_eq!(first["source"], "seed001");
    assert_eq!(first["kinds"]["message"]["imported"], 6);
    assert_eq!(first["kinds"]["attachment"]["imported"], 5);
    assert_eq!(first["kinds"]["usage"]["imported"], 2);
    assert_eq!(first["skipped"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["must_reset"].as_array().map(Vec::len), Some(2));

    let check = on(&store, &["check", "--json"]);
    assert_eq!(check.code, 0, "{check:?}");
    let second = on(&store, &args).ok().json();
    assert_eq!(second["kinds"]["message"]["imported"], 0);
    assert_eq!(second["kinds"]["attachment"]["present"], 5);
}

#[test]
fn seed001_refuses_user_and_seed002_refuses_files() {
    let (tmp, chatbot, files) = seed001_source();
    let store = tmp.path().join("store");
    let user = on(
        &store,
        &["import", "seed001", path_arg(&chatbot), "--user", "alice"],
    );
    assert_eq!(user.code, 2, "{user:?}");
    let files = on(
        &store,
        &[
            "import",
            "seed002",
            path_arg(&chatbot),
            "--files",
            path_arg(&files),
        ],
    );
    assert_eq!(files.code, 2, "{files:?}");
    let wrong = on(&store, &["import", "seed002", path_arg(&chatbot)]);
    assert_ne!(wrong.code, 0);
    assert!(wrong.stderr.contains("no column"), "{}", wrong.stderr);
}

#[test]
fn import_seed002_and_log_in() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let rag = tmp.path().join("rag.db");
    let hash = PasswordHasher::new(PasswordParams::fast_for_tests())
        .and_then(|h| h.hash(&Password::new("correct horse battery")))
        .expect("hash");
    let conn = rusqlite::Connection::open(&rag).expect("rag.db");
    conn.execute_batch(seed002::SEED002_DDL).expect("DDL");
    conn.execute_batch(&seed002::sample_sql(&hash))
        .expect("sample");
    drop(conn);
    let store = tmp.path().join("store");
    let report = on(&store, &["import", "seed002", path_arg(&rag), "--json"])
        .ok()
        .json();
    for (kind, n) in [
        ("user", 2),
        ("document", 2),
        ("chunk", 2),
        ("agent_log", 2),
        ("usage", 2),
    ] {
        assert_eq!(report["kinds"][kind]["imported"], n, "{kind}");
    }
    let usage = on(&store, &["usage", "--by", "model", "--json"])
        .ok()
        .json();
    assert!(usage.to_string().contains("deepseek-chat"), "{usage}");
    let users = on(&store, &["users", "list", "--json"]).ok().json();
    assert!(users.to_string().contains("grace"), "{users}");
}
