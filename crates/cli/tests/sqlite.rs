//! Every command of the `chatstore` binary on temporary SQLite stores, good paths and
//! bad: a missing store, bad arguments, a foreign database left untouched, password
//! input, backups rotated and restored, a corrupt backup refused with nothing changed,
//! `check`'s exit code on a damaged store, and a cleanup dry run that deletes nothing.

mod common;

use std::path::{Path, PathBuf};

use chatstore::{
    ChatStore, Config, ConversationStore, MessageStore, NewAttachment, NewConversation, NewMessage,
    NewSession, NewUsage, NoVectorIndex, OperationType, Password, PasswordParams, SessionStore,
    UsageStore, UserStore,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::SqliteStore;
use common::{on, on_with_stdin, run};

const PASSWORD: &str = "correct horse battery staple";

/// A store made by `chatstore init` in a fresh directory, with user ada.
fn store_with_ada() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("store");
    on(&dir, &["init"]).ok();
    on_with_stdin(
        &dir,
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
    (tmp, dir)
}

/// The store in `dir` opened by the library, with its attachments.
fn library(dir: &Path) -> ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex> {
    let main = dir.join("chatstore.db");
    let store = SqliteStore::open(
        Config::new(main.to_string_lossy()).password_params(PasswordParams::fast_for_tests()),
    )
    .expect("store");
    let blobs = SqliteBlobStore::open(BlobConfig::beside(&main)).expect("blobs");
    ChatStore::new(store, blobs, NoVectorIndex).expect("chat")
}

/// Ada's conversation about eligibility with an attachment, and her usage.
fn seed(dir: &Path) {
    let chat = library(dir);
    let ada = chat.store().user_by_username("ada").expect("ada");
    let talk = chat
        .store()
        .create_conversation(ada.id, &NewConversation::titled("Eligibility"))
        .expect("conversation");
    chat.append_with_attachments(
        ada.id,
        talk.id,
        &NewMessage::user("Who is eligible for a joint account?"),
        vec![NewAttachment::new(
            "form.txt",
            "text/plain",
            b"the form".to_vec(),
        )],
    )
    .expect("message with a file");
    chat.store()
        .record_usage(
            ada.id,
            &NewUsage::new("openai", "gpt-4o", OperationType::Chat, 1000, 500),
        )
        .expect("usage");
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

#[test]
fn init_creates_both_files_and_a_second_init_changes_nothing() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("new-store");
    let first = on(&dir, &["--json", "init"]).ok().json();
    assert_eq!(first["created"], true);
    assert_eq!(first["schema_version"], chatstore_sqlite::LATEST_VERSION);
    assert!(dir.join("chatstore.db").is_file() && dir.join("files.db").is_file());
    let second = on(&dir, &["init"]).ok();
    assert!(second.stdout.contains("already exists"), "{second:?}");
}

#[test]
fn a_missing_store_is_reported_and_not_created() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("nothing-here");
    for args in [
        &["stats"][..],
        &["check"],
        &["backup"],
        &["users", "list"],
        &["vacuum"],
    ] {
        let result = on(&dir, args);
        assert_ne!(result.code, 0, "{args:?}");
        assert!(result.stderr.contains("chatstore init"), "{result:?}");
    }
    assert!(!dir.exists(), "no command but init creates a store");

    let nowhere = run(&["stats"]);
    assert_eq!(nowhere.code, 2);
    assert!(nowhere.stderr.contains("--store"), "{nowhere:?}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let (_tmp, dir) = store_with_ada();
    assert_eq!(on(&dir, &["migrate", "down"]).code, 2, "down needs --to");
    assert_eq!(on(&dir, &["frobnicate"]).code, 2);
    assert_eq!(
        on(&dir, &["usage", "--by", "day"]).code,
        2,
        "by day needs a user"
    );
    assert_eq!(on(&dir, &["backup", "--keep", "0"]).code, 2);
    assert_eq!(on(&dir, &["search", "--user", "ada"]).code, 2, "no query");
    assert_eq!(
        on(&dir, &["migrate", "up", "--to", "3"]).code,
        2,
        "up cannot go down"
    );
}

#[test]
fn a_foreign_database_is_left_untouched_and_import_is_suggested() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("legacy");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("chatstore.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("legacy db");
        conn.execute_batch(
            "CREATE TABLE chats (id INTEGER PRIMARY KEY, title TEXT);
             INSERT INTO chats (title) VALUES ('old');",
        )
        .expect("legacy schema");
    }
    let before = file_bytes(&path);
    for args in [
        &["stats"][..],
        &["init"],
        &["check"],
        &["migrate", "status"],
    ] {
        let result = on(&dir, args);
        assert_ne!(result.code, 0, "{args:?}");
        assert!(result.stderr.contains("chatstore import"), "{result:?}");
    }
    assert_eq!(file_bytes(&path), before, "the file is unchanged");
    assert!(!dir.join("chatstore.db-wal").exists());
}

#[test]
fn migrate_shows_an_old_store_as_old_and_moves_it_down_and_up_with_backups() {
    let (_tmp, dir) = store_with_ada();
    let latest = chatstore_sqlite::LATEST_VERSION;
    let status = on(&dir, &["--json", "migrate", "status"]).ok().json();
    assert_eq!(status["current"], latest);
    assert_eq!(
        status["migrations"].as_array().map(Vec::len),
        Some(latest as usize)
    );

    let down = on(&dir, &["--json", "migrate", "down", "--to", "6"])
        .ok()
        .json();
    assert_eq!(down["to"], 6);
    let backup = PathBuf::from(down["backup"].as_str().expect("a backup was taken"));
    assert!(backup.join("chatstore.db").is_file() && backup.join("files.db").is_file());

    let old = on(&dir, &["--json", "migrate", "status"]).ok().json();
    assert_eq!(old["current"], 6, "opening to look did not migrate it");
    assert_eq!(old["up_to_date"], false);
    let unhealthy = on(&dir, &["check"]);
    assert_eq!(
        unhealthy.code, 0,
        "an old schema is a warning: {unhealthy:?}"
    );
    assert!(unhealthy.stdout.contains("migrate up"));

    let up = on(&dir, &["--json", "migrate", "up", "--no-backup"])
        .ok()
        .json();
    assert_eq!(up["to"], latest);
    assert!(up["backup"].is_null());
    let again = on(&dir, &["migrate", "up"]).ok();
    assert!(again.stdout.contains("nothing to do"), "{again:?}");
    assert_eq!(on(&dir, &["migrate", "up", "--to", "99"]).code, 1);
}

#[test]
fn users_are_created_listed_deactivated_and_given_new_passwords_from_stdin() {
    let (_tmp, dir) = store_with_ada();
    let listed = on(&dir, &["--json", "users", "list"]).ok();
    assert!(!listed.stdout.contains(PASSWORD));
    let users = listed.json();
    assert_eq!(users[0]["username"], "ada");
    assert!(users[0].get("password_hash").is_none());

    // No password: nothing created.
    let empty = on_with_stdin(
        &dir,
        &[
            "users",
            "create",
            "bob",
            "bob@example.com",
            "--password-stdin",
        ],
        "\n",
    );
    assert_eq!(empty.code, 1, "{empty:?}");
    // Not a terminal and no --password-stdin: refused rather than read blindly.
    let blind = on_with_stdin(&dir, &["users", "create", "bob", "bob@example.com"], "pw\n");
    assert_eq!(blind.code, 2, "{blind:?}");
    // Too short for the password rules.
    let short = on_with_stdin(
        &dir,
        &[
            "users",
            "create",
            "bob",
            "bob@example.com",
            "--password-stdin",
        ],
        "x\n",
    );
    assert_ne!(short.code, 0);
    let users = on(&dir, &["--json", "users", "list"]).ok().json();
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(1),
        "bob was never created"
    );

    let changed = on_with_stdin(
        &dir,
        &[
            "users",
            "reset-password",
            "ada@example.com",
            "--password-stdin",
        ],
        "a brand new passphrase\n",
    )
    .ok();
    assert!(!changed.stdout.contains("brand new"));
    let chat = library(&dir);
    chat.store()
        .authenticate("ada", &Password::new("a brand new passphrase"))
        .expect("the new password works");
    assert!(
        chat.store()
            .authenticate("ada", &Password::new(PASSWORD))
            .is_err()
    );
    drop(chat);

    on(&dir, &["users", "deactivate", "ada"]).ok();
    let inactive = on(&dir, &["--json", "users", "list", "--active", "false"])
        .ok()
        .json();
    assert_eq!(inactive[0]["is_active"], false);
    on(&dir, &["users", "activate", "ada"]).ok();
    assert_eq!(on(&dir, &["users", "deactivate", "nobody"]).code, 1);
}

#[test]
fn stats_usage_and_search_read_the_store() {
    let (_tmp, dir) = store_with_ada();
    seed(&dir);
    let stats = on(&dir, &["--json", "stats"]).ok().json();
    assert_eq!(stats["users"], 1);
    assert_eq!(stats["attachments"]["keys"], 1);
    assert_eq!(stats["usage"]["requests"], 1);
    assert_eq!(stats["rows"]["messages"], 1);
    let by_model = on(&dir, &["--json", "usage", "--by", "model"]).ok().json();
    assert_eq!(by_model["by_model"][0]["model"], "gpt-4o");
    assert_eq!(by_model["by_model"][0]["totals"]["requests"], 1);
    assert_eq!(stats["rows"]["users"], 1);
    assert_eq!(stats["messages_by_role"]["user"], 1);
    assert_eq!(stats["largest_conversations"][0]["title"], "Eligibility");
    assert_eq!(stats["busiest_users"][0]["username"], "ada");
    let human = on(&dir, &["stats"]).ok().stdout;
    assert!(
        human.contains("schema version") && human.contains("busiest users"),
        "{human}"
    );

    let usage = on(&dir, &["--json", "usage", "--user", "ada"]).ok().json();
    assert_eq!(usage["total"]["total_tokens"], 1500);
    let all = on(&dir, &["usage"]).ok();
    assert!(all.stdout.contains("openai"), "{all:?}");
    let daily = on(&dir, &["--json", "usage", "--user", "ada", "--by", "day"])
        .ok()
        .json();
    assert_eq!(daily["days"].as_array().map(Vec::len), Some(1));

    let hits = on(
        &dir,
        &["--json", "search", "--user", "ada", "joint", "account"],
    )
    .ok()
    .json();
    assert_eq!(hits.as_array().map(Vec::len), Some(1));
    let none = on(&dir, &["search", "--user", "ada", "zebra"]).ok();
    assert!(none.stdout.starts_with("0 messages"));
    assert_eq!(on(&dir, &["search", "--user", "nobody", "joint"]).code, 1);
}

#[test]
fn backups_are_verified_rotated_listed_and_restored() {
    let (_tmp, dir) = store_with_ada();
    seed(&dir);
    let backups = dir.join("elsewhere");
    let b = backups.to_str().expect("UTF-8");
    let mut names = Vec::new();
    for _ in 0..3 {
        let taken = on(&dir, &["--json", "backup", "--dir", b, "--keep", "2"])
            .ok()
            .json();
        names.push(taken["backup"]["name"].as_str().expect("name").to_owned());
    }
    let listed = on(&dir, &["--json", "backup", "list", "--dir", b])
        .ok()
        .json();
    let listed: Vec<&str> = listed["backups"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        listed,
        vec![names[2].as_str(), names[1].as_str()],
        "newest first, oldest gone"
    );

    // A user added after the backup is gone after restoring it.
    on_with_stdin(
        &dir,
        &[
            "users",
            "create",
            "bob",
            "bob@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .ok();
    let refused = on(&dir, &["restore", "--dir", b, &names[2]]);
    assert_eq!(
        refused.code, 2,
        "an existing store needs --force: {refused:?}"
    );
    on(&dir, &["restore", "--dir", b, &names[2], "--force"]).ok();
    let users = on(&dir, &["--json", "users", "list"]).ok().json();
    assert_eq!(users.as_array().map(Vec::len), Some(1));
    assert_eq!(on(&dir, &["check"]).code, 0);
    let stats = on(&dir, &["--json", "stats"]).ok().json();
    assert_eq!(
        stats["attachments"]["keys"], 1,
        "the attachments came back too"
    );

    // Into a new directory: a store is created from the backup.
    let fresh = dir.with_file_name("restored");
    let path = backups.join(&names[1]);
    on(&fresh, &["restore", path.to_str().expect("UTF-8")]).ok();
    assert_eq!(
        on(&fresh, &["--json", "users", "list"]).ok().json()[0]["username"],
        "ada"
    );
}

#[test]
fn a_corrupt_backup_is_refused_and_the_store_left_as_it_was() {
    let (_tmp, dir) = store_with_ada();
    let taken = on(&dir, &["--json", "backup"]).ok().json();
    let backup = PathBuf::from(taken["backup"]["path"].as_str().expect("path"));
    on_with_stdin(
        &dir,
        &[
            "users",
            "create",
            "bob",
            "bob@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .ok();
    // Damage the backup's main file past its header.
    let main = backup.join("chatstore.db");
    let mut bytes = file_bytes(&main);
    let len = bytes.len();
    for byte in &mut bytes[4096..len.min(4096 * 8)] {
        *byte = 0x5a;
    }
    std::fs::write(&main, &bytes).expect("damage");
    let before = file_bytes(&dir.join("chatstore.db"));

    let refused = on(
        &dir,
        &["restore", backup.to_str().expect("UTF-8"), "--force"],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("unchanged"), "{refused:?}");
    assert_eq!(file_bytes(&dir.join("chatstore.db")), before);
    assert_eq!(file_bytes(&main), bytes, "the backup itself is not touched");
    let users = on(&dir, &["--json", "users", "list"]).ok().json();
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(2),
        "bob is still there"
    );
    assert_ne!(on(&dir, &["restore", "no-such-backup", "--force"]).code, 0);
}

#[test]
fn a_restore_is_refused_while_a_host_has_the_store_open() {
    let (_tmp, dir) = store_with_ada();
    let taken = on(&dir, &["--json", "backup"]).ok().json();
    let backup = taken["backup"]["path"].as_str().expect("path").to_owned();
    let host = library(&dir);
    let refused = on(&dir, &["restore", &backup, "--force"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("stop it first"), "{refused:?}");
    drop(host);
    on(&dir, &["restore", &backup, "--force"]).ok();
}

#[test]
fn check_says_healthy_or_not_in_its_exit_code() {
    let (_tmp, dir) = store_with_ada();
    seed(&dir);
    let healthy = on(&dir, &["--json", "check", "--contents"]).ok().json();
    assert_eq!(healthy["healthy"], true);

    // An attachment lost from files.db: the message now points at nothing.
    {
        let conn = rusqlite::Connection::open(dir.join("files.db")).expect("files.db");
        conn.execute("DELETE FROM blobs", [])
            .expect("lose the blobs");
    }
    let damaged = on(&dir, &["--json", "check"]);
    assert_eq!(damaged.code, 2, "{damaged:?}");
    let report = damaged.json();
    assert_eq!(report["healthy"], false);
    let human = on(&dir, &["check"]);
    assert_eq!(human.code, 2);
    assert!(human.stdout.contains("attachments missing"), "{human:?}");
}

#[test]
fn check_fails_on_a_damaged_main_file() {
    let (_tmp, dir) = store_with_ada();
    seed(&dir);
    on(&dir, &["vacuum"]).ok(); // everything into the file itself, none in its log
    let path = dir.join("chatstore.db");
    let mut bytes = file_bytes(&path);
    assert!(bytes.len() > 4096, "more than the header page");
    for byte in &mut bytes[4096..] {
        *byte = 0xa5;
    }
    std::fs::write(&path, &bytes).expect("damage");
    let result = on(&dir, &["check"]);
    assert_ne!(result.code, 0, "{result:?}");
}

#[test]
fn cleanup_dry_run_deletes_nothing_and_the_real_run_deletes_the_same() {
    let (_tmp, dir) = store_with_ada();
    seed(&dir);
    {
        let chat = library(&dir);
        let store = chat.store();
        let ada = store.user_by_username("ada").expect("ada");
        let (_, token) = store
            .create_session(ada.id, &NewSession::default())
            .expect("session");
        store.revoke_session(&token).expect("revoked");
        let gone = store
            .create_conversation(ada.id, &NewConversation::titled("Old"))
            .expect("conversation");
        store
            .append_message(ada.id, gone.id, &NewMessage::user("forget me"))
            .expect("message");
        store
            .delete_conversation(ada.id, gone.id)
            .expect("soft delete");
    }
    let args = ["--json", "cleanup", "--purge-after-days", "0"];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    for _ in 0..2 {
        let report = on(&dir, &dry).ok().json();
        assert_eq!(report["dry_run"], true);
        assert_eq!(report["report"]["expired_sessions"], 1);
        assert_eq!(report["report"]["purged_conversations"], 1);
    }
    assert!(
        std::fs::read_dir(&dir).expect("dir").all(|e| !e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .contains("dry-run")),
        "the scratch copy is gone"
    );
    let real = on(&dir, &args).ok().json();
    assert_eq!(real["report"]["expired_sessions"], 1);
    assert_eq!(real["report"]["purged_conversations"], 1);
    let after = on(&dir, &args).ok().json();
    assert_eq!(after["report"]["purged_conversations"], 0);
    assert!(on(&dir, &["cleanup"]).ok().stdout.contains("cleaned up"));
}

#[test]
fn vacuum_reports_both_files() {
    let (_tmp, dir) = store_with_ada();
    let report = on(&dir, &["--json", "vacuum"]).ok().json();
    assert_eq!(report["vacuumed"].as_array().map(Vec::len), Some(2));
    assert_eq!(on(&dir, &["check"]).code, 0);
}

#[test]
fn the_environment_names_the_store_as_for_a_host() {
    let (_tmp, dir) = store_with_ada();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_chatstore"))
        .args(["--json", "users", "list"])
        .env("DATABASE_URL", dir.join("chatstore.db"))
        .env_remove("BLOB_STORAGE_PATH")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let users: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(users[0]["username"], "ada");
}

#[test]
fn copy_makes_a_verified_copy_that_logs_in_and_a_second_run_writes_nothing() {
    let (tmp, dir) = store_with_ada();
    seed(&dir);
    let copy = tmp.path().join("copy");
    let to = copy.to_str().expect("UTF-8");
    let first = on(&dir, &["--json", "copy", "--to-store", to]).ok().json();
    assert_eq!(first["verified"], true);
    assert!(
        first["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .all(|check| check["matches"] == true),
        "{first}"
    );
    assert_eq!(first["attachments"]["copied"], 1);
    let again = on(&dir, &["--json", "copy", "--to-store", to]).ok().json();
    let written: u64 = again["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["written"].as_u64().expect("written"))
        .sum();
    assert_eq!(written, 0, "{again}");
    assert_eq!(again["attachments"]["copied"], 0);
    let copied = library(&copy);
    copied
        .store()
        .authenticate("ada", &Password::new(PASSWORD))
        .expect("ada logs in on the copy with her password");
    drop(copied);
    assert_eq!(on(&copy, &["--json", "check"]).ok().json()["healthy"], true);
}

#[test]
fn copy_refuses_a_target_with_other_data_and_bad_arguments() {
    let (tmp, dir) = store_with_ada();
    let (_other_tmp, other) = store_with_ada();
    let before = file_bytes(&other.join("chatstore.db"));
    let refused = on(
        &dir,
        &["copy", "--to-store", other.to_str().expect("UTF-8")],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("rows the source does not have"),
        "{refused:?}"
    );
    let after = library(&other);
    assert_eq!(
        after
            .store()
            .list_users(&Default::default())
            .expect("users")
            .items
            .len(),
        1,
        "the target keeps what it had, and only that"
    );
    drop(after);
    assert_eq!(
        file_bytes(&other.join("chatstore.db")),
        before,
        "not a byte written"
    );

    assert_eq!(on(&dir, &["copy"]).code, 2, "a target is required");
    let same = on(&dir, &["copy", "--to-store", dir.to_str().expect("UTF-8")]);
    assert_eq!(same.code, 2, "{same:?}");
    let zero = on(
        &dir,
        &[
            "copy",
            "--to-store",
            tmp.path().join("x").to_str().expect("UTF-8"),
            "--batch",
            "0",
        ],
    );
    assert_eq!(zero.code, 2, "{zero:?}");
    assert_eq!(
        on(
            &tmp.path().join("missing"),
            &[
                "copy",
                "--to-store",
                tmp.path().join("y").to_str().expect("UTF-8")
            ]
        )
        .code,
        1,
        "a missing source is not created"
    );
    assert!(!tmp.path().join("missing").exists());
}

#[test]
fn cleanup_retires_archived_conversations_by_age_and_temporary_ones_when_expired() {
    let (_tmp, dir) = store_with_ada();
    let (archived, temporary, kept) = {
        let chat = library(&dir);
        let store = chat.store();
        let ada = store.user_by_username("ada").expect("ada");
        let archived = store
            .create_conversation(ada.id, &NewConversation::titled("Archived"))
            .expect("conversation");
        store
            .archive_conversation(ada.id, archived.id)
            .expect("archive");
        let temporary = store
            .create_conversation(
                ada.id,
                &NewConversation::titled("Brief").temporary(std::time::Duration::from_secs(1)),
            )
            .expect("temporary");
        let kept = store
            .create_conversation(ada.id, &NewConversation::titled("Kept"))
            .expect("conversation");
        (archived.id, temporary.id, kept.id)
    };
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let dry = on(
        &dir,
        &[
            "--json",
            "cleanup",
            "--dry-run",
            "--delete-archived-after-days",
            "0",
        ],
    )
    .ok()
    .json();
    assert_eq!(dry["report"]["retired_conversations"], 2, "{dry}");
    let without_age = on(&dir, &["--json", "cleanup"]).ok().json();
    assert_eq!(
        without_age["report"]["retired_conversations"], 1,
        "only the expired one without an age for archives"
    );
    let with_age = on(
        &dir,
        &["--json", "cleanup", "--delete-archived-after-days", "0"],
    )
    .ok()
    .json();
    assert_eq!(with_age["report"]["retired_conversations"], 1);
    let chat = library(&dir);
    let ada = chat.store().user_by_username("ada").expect("ada");
    for gone in [archived, temporary] {
        assert!(chat.store().conversation(ada.id, gone).is_err());
    }
    chat.store()
        .conversation(ada.id, kept)
        .expect("the other conversation stays");
}

#[test]
fn export_writes_a_users_data_and_refuses_a_used_directory_or_unknown_user() {
    let (tmp, dir) = store_with_ada();
    seed(&dir);
    let out = tmp.path().join("ada-export");
    let o = out.to_str().expect("UTF-8");
    let done = on(&dir, &["--json", "export", "--user", "ada", "--out", o])
        .ok()
        .json();
    assert_eq!(done["summary"]["conversations"], 1);
    assert_eq!(done["summary"]["files"], 1);
    assert_eq!(done["summary"]["usage_records"], 1);
    let export: serde_json::Value =
        serde_json::from_slice(&file_bytes(&out.join("export.json"))).expect("export.json");
    assert_eq!(export["user"]["username"], "ada");
    assert_eq!(
        export["conversations"][0]["messages"][0]["content"],
        "Who is eligible for a joint account?"
    );
    let path = export["conversations"][0]["attachments"][0]["path"]
        .as_str()
        .expect("path");
    assert_eq!(file_bytes(&out.join(path)), b"the form");
    assert!(out.join("messages.csv").is_file() && out.join("usage.csv").is_file());
    assert!(!export.to_string().contains("argon2"), "no password hash");

    let again = on(&dir, &["export", "--user", "ada", "--out", o]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("not empty"), "{again:?}");
    let nobody = on(
        &dir,
        &[
            "export",
            "--user",
            "nobody",
            "--out",
            tmp.path().join("x").to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(nobody.code, 1, "{nobody:?}");
    let bad = on(
        &dir,
        &[
            "export",
            "--user",
            "ada",
            "--conversation",
            "nope",
            "--out",
            tmp.path().join("y").to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
}

#[test]
fn cleanup_trims_the_embedding_cache_only_when_asked() {
    let (_tmp, dir) = store_with_ada();
    {
        let chat = library(&dir);
        let entries: Vec<(String, Vec<f32>)> = (0..3)
            .map(|i| (format!("key{i}"), vec![i as f32]))
            .collect();
        chatstore::EmbeddingStore::cache_embeddings(chat.store(), None, &entries).expect("cache");
    }
    let plain = on(&dir, &["--json", "cleanup"]).ok().json();
    assert_eq!(plain["report"]["embedding_cache_entries"], 0);
    let trimmed = on(
        &dir,
        &["--json", "cleanup", "--embedding-cache-max-entries", "1"],
    )
    .ok()
    .json();
    assert_eq!(trimmed["report"]["embedding_cache_entries"], 2);
}

/// Backups taken while a host keeps appending messages with attachments (and purging
/// conversations) each restore into a store that passes `check`: no message points at an
/// attachment the backup lacks.
#[test]
fn backups_taken_while_writing_restore_to_healthy_stores() {
    let (tmp, dir) = store_with_ada();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let chat = library(&dir);
            let ada = chat.store().user_by_username("ada").expect("ada");
            let mut written = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let talk = chat
                    .store()
                    .create_conversation(ada.id, &NewConversation::titled("busy"))
                    .expect("conversation");
                for i in 0..5u8 {
                    chat.append_with_attachments(
                        ada.id,
                        talk.id,
                        &NewMessage::user("with a file"),
                        vec![NewAttachment::new(
                            "f.bin",
                            "application/octet-stream",
                            vec![i; 30_000],
                        )],
                    )
                    .expect("append");
                    written += 1;
                }
                if written.is_multiple_of(15) {
                    chat.store()
                        .delete_conversation(ada.id, talk.id)
                        .expect("delete");
                    chat.purge_conversation(ada.id, talk.id).expect("purge");
                }
            }
            written
        })
    };
    let backups = tmp.path().join("backups");
    let b = backups.to_str().expect("UTF-8");
    let mut names = Vec::new();
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(150));
        let taken = on(&dir, &["--json", "backup", "--dir", b]).ok().json();
        names.push(taken["backup"]["name"].as_str().expect("name").to_owned());
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.join().expect("the writer");
    assert!(written > 0, "the writer wrote during the backups");
    for (i, name) in names.iter().enumerate() {
        let restored = tmp.path().join(format!("restored{i}"));
        on(
            &restored,
            &["restore", backups.join(name).to_str().expect("UTF-8")],
        )
        .ok();
        let check = on(&restored, &["--json", "check"]);
        assert_eq!(check.code, 0, "backup {name}: {check:?}");
        assert_eq!(check.json()["healthy"], true);
    }
}
