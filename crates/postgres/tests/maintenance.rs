//! Maintenance on PostgreSQL: the invariants check finds damage the constraints cannot,
//! vacuum keeps the data, and a backup is a script `psql` restores into another store.

mod common;

use chatstore::{
    BackupDestination, ConversationStore, Error, MaintenanceStore, MessageStore, NewConversation,
    NewMessage, NewUser, UserStore,
};
use chatstore_postgres::{PgStore, TABLES};
use common::TempSchema;

fn open(schema: &TempSchema) -> PgStore {
    PgStore::open_with(schema.config(), &schema.options()).expect("opens")
}

#[test]
fn the_backup_covers_every_table_of_the_schema() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    drop(open(&schema));
    let mut tables = schema.texts(
        "SELECT tablename::text FROM pg_tables
         WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'
         ORDER BY tablename",
    );
    let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    tables.sort();
    listed.sort();
    assert_eq!(listed, tables, "a table the backup would leave out");
}

#[test]
fn a_backup_restores_into_another_store_with_psql() {
    let Some(source_schema) = TempSchema::new() else {
        return;
    };
    let Some(target_schema) = TempSchema::new() else {
        return;
    };
    let source = open(&source_schema);
    let ada = source
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("user");
    chatstore::RbacStore::create_role(&source, "editor", None).expect("a role of its own");
    let chat = source
        .create_conversation(ada.id, &NewConversation::titled("Pensions"))
        .expect("chat");
    for text in [
        "first question",
        "an answer with 'quotes' and \\ backslashes\tand tabs",
    ] {
        source
            .append_message(ada.id, chat.id, &NewMessage::user(text))
            .expect("append");
    }
    let mut script = Vec::new();
    source
        .backup(BackupDestination::Stream(&mut script))
        .expect("backup");
    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), &script).expect("write");

    let target = open(&target_schema);
    let restored = std::process::Command::new("psql")
        .env(
            "PGOPTIONS",
            format!("-c search_path={}", target_schema.name),
        )
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-d",
            &target_schema.url,
            "-f",
        ])
        .arg(file.path())
        .output()
        .expect("psql runs");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let messages = target.last_messages(ada.id, chat.id, 10).expect("messages");
    let texts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        texts,
        [
            "first question",
            "an answer with 'quotes' and \\ backslashes\tand tabs"
        ]
    );
    target.check_integrity().expect("the copy is sound");
    let roles: Vec<String> = chatstore::RbacStore::roles(&target)
        .expect("roles")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(roles, ["admin", "analyst", "editor", "viewer"]);
    assert_eq!(target.user(ada.id).expect("user").email, "ada@example.com");
    // The identity sequences were moved past the restored rows.
    chatstore::RbacStore::create_role(&target, "auditor", None).expect("a new role gets a new id");
}

#[test]
fn broken_invariants_are_corruption_and_vacuum_keeps_the_data() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("user");
    let chat = store
        .create_conversation(ada.id, &NewConversation::titled("Counts"))
        .expect("chat");
    store
        .append_message(ada.id, chat.id, &NewMessage::user("one"))
        .expect("append");
    store.vacuum().expect("vacuum");
    store.check_integrity().expect("sound");
    assert_eq!(
        store
            .last_messages(ada.id, chat.id, 5)
            .expect("messages")
            .len(),
        1
    );
    schema.execute("UPDATE conversations SET message_count = 7");
    match store.check_integrity() {
        Err(Error::Corrupt { detail }) => assert!(detail.contains("message count"), "{detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
