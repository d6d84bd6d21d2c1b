//! The startup check: each way opening a database can fail is a distinct, actionable
//! error naming the path, and a failed open changes nothing on disk.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chatstore::{Config, Error, PasswordParams, StartupError};
use chatstore_sqlite::{FileError, SqliteStore};

const NOBODY: u32 = 65534;

/// Runs the probe on `path`, as `nobody` when the tests run as root (root ignores
/// permission bits), and returns the word it printed.
fn probe(path: &Path) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_open_probe"));
    command.arg(path);
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        command.uid(NOBODY).gid(NOBODY);
    }
    let output = command.output().expect("probe runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A directory `nobody` can enter, holding whatever the test puts there.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

fn config(path: &Path) -> Config {
    Config::new(path.to_string_lossy())
        .password_params(PasswordParams::fast_for_tests())
        .startup_timeout(Duration::from_millis(200))
}

/// The file error an open failed with, or a panic saying what came instead.
fn file_error(opened: chatstore::Result<SqliteStore>) -> FileError {
    match opened {
        Err(Error::Startup(StartupError::Backend(inner))) => match inner.downcast::<FileError>() {
            Ok(file) => *file,
            Err(other) => panic!("expected a FileError, got {other:?}"),
        },
        other => panic!("expected a startup error, got {other:?}"),
    }
}

#[test]
fn missing_directory_is_named() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("no/such/dir/chat.db");
    match file_error(SqliteStore::open(config(&path))) {
        FileError::MissingDirectory { path: missing } => {
            assert_eq!(missing, dir.path().join("no/such/dir"));
        }
        other => panic!("expected MissingDirectory, got {other:?}"),
    }
    assert!(!dir.path().join("no").exists(), "nothing was created");
}

#[test]
fn unwritable_directory_is_named() {
    let dir = shared_dir();
    let locked = dir.path().join("read-only");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    assert_eq!(probe(&locked.join("chat.db")), "UnwritableDirectory");
    assert_eq!(std::fs::read_dir(&locked).expect("list").count(), 0);
}

#[test]
fn unreadable_file_is_named() {
    let dir = shared_dir();
    let path = dir.path().join("chat.db");
    drop(SqliteStore::open(config(&path)).expect("created as root"));
    for file in ["chat.db", "chat.db-wal", "chat.db-shm"] {
        let file = dir.path().join(file);
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
    }
    let before = std::fs::read(&path).expect("read");
    assert_eq!(probe(&path), "UnreadableFile");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "file untouched"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_named_and_kept() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chat.db");
    let text = b"these are someone's notes, not a database\n".repeat(100);
    std::fs::write(&path, &text).expect("write");
    match file_error(SqliteStore::open(config(&path))) {
        FileError::NotADatabase { path: named } => assert_eq!(named, path),
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), text, "file untouched");
    let tiny = dir.path().join("tiny.db");
    std::fs::write(&tiny, b"SQLite").expect("write");
    assert!(matches!(
        file_error(SqliteStore::open(config(&tiny))),
        FileError::NotADatabase { .. }
    ));
}

#[test]
fn a_database_locked_by_another_process_is_named() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chat.db");
    drop(SqliteStore::open(config(&path)).expect("created"));
    let other = rusqlite::Connection::open(&path).expect("other connection");
    other.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    match file_error(SqliteStore::open(config(&path))) {
        FileError::Locked { path: named } => assert_eq!(named, path),
        other => panic!("expected Locked, got {other:?}"),
    }
    other.execute_batch("COMMIT").expect("unlock");
    SqliteStore::open(config(&path)).expect("opens once the lock is gone");
}

#[test]
fn every_startup_error_says_what_to_do() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("gone/chat.db");
    let message = SqliteStore::open(config(&missing))
        .expect_err("fails")
        .to_string();
    assert!(
        message.contains("does not exist") && message.contains("create it"),
        "{message}"
    );
    assert!(message.contains(&dir.path().join("gone").display().to_string()));
}

#[test]
fn urls_that_are_not_sqlite_files_are_rejected() {
    for url in ["postgresql://db/chat", "sqlite://:memory:", " "] {
        assert!(
            matches!(
                SqliteStore::open(
                    Config::new(url).password_params(PasswordParams::fast_for_tests())
                ),
                Err(Error::Validation { .. })
            ),
            "{url}"
        );
    }
}

/// The Python app's own database (seed 001's `chatbot.db` shape), in rollback-journal
/// mode as SQLAlchemy leaves it.
fn python_apps_database(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("create");
    conn.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE, password_hash TEXT);
         CREATE TABLE conversations (id TEXT PRIMARY KEY, user_id INTEGER, title TEXT);
         CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation_id TEXT, role TEXT,
                                content TEXT, msg_metadata TEXT);
         INSERT INTO users (username, password_hash) VALUES ('ada', 'pbkdf2:sha256:1$x$y');",
    )
    .expect("schema");
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (e.file_name(), std::fs::read(e.path()).expect("read"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn another_applications_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatbot.db");
    python_apps_database(&path);
    let before = snapshot(dir.path());
    match file_error(SqliteStore::open(config(&path))) {
        FileError::ForeignDatabase {
            path: named,
            tables,
        } => {
            assert_eq!(named, path);
            assert_eq!(tables, ["conversations", "messages", "users"]);
        }
        other => panic!("expected ForeignDatabase, got {other:?}"),
    }
    let files = dir.path().join("files.db");
    std::fs::copy(&path, &files).expect("a legacy files.db");
    let before_files = snapshot(dir.path());
    let blob = chatstore_blob::SqliteBlobStore::open(chatstore_blob::BlobConfig::new(&files));
    assert!(matches!(
        blob.as_ref().err().and_then(FileError::of),
        Some(FileError::ForeignDatabase { .. })
    ));
    assert_eq!(
        snapshot(dir.path()),
        before_files,
        "nothing written, no journal files"
    );
    std::fs::remove_file(&files).expect("remove");
    assert_eq!(
        snapshot(dir.path()),
        before,
        "the file and its directory are as they were"
    );
    let journal: String = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("mode");
    assert_eq!(journal, "delete", "still in the application's journal mode");
}

#[test]
fn a_chatstore_database_and_an_empty_sqlite_file_still_open() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chat.db");
    drop(SqliteStore::open(config(&path)).expect("created"));
    SqliteStore::open(config(&path)).expect("ours reopens");
    let empty = dir.path().join("empty.db");
    rusqlite::Connection::open(&empty)
        .expect("create")
        .execute_batch("PRAGMA user_version = 1;")
        .expect("an empty SQLite database with a header");
    SqliteStore::open(config(&empty)).expect("a database without tables is taken");
}
