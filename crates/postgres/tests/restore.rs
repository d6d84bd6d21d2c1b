//! `PgStore::restore_backup`: a backup comes back whole, over a store that has changed
//! since; a file cut short, edited to run other SQL, of another schema version or not a
//! backup at all is refused with the store unchanged.

mod common;

use chatstore::{
    BackupDestination, ConversationStore, Error, MaintenanceStore, MessageStore, NewConversation,
    NewMessage, NewUser, RbacStore, UserStore,
};
use chatstore_postgres::PgStore;
use common::TempSchema;

fn open(schema: &TempSchema) -> PgStore {
    PgStore::open_with(schema.config(), &schema.options()).expect("opens")
}

/// A store with ada, a conversation of two messages and a role of its own, and its
/// backup in a file.
fn backed_up(
    store: &PgStore,
) -> (
    chatstore::UserId,
    chatstore::ConversationId,
    tempfile::NamedTempFile,
) {
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("user");
    store.create_role("editor", None).expect("role");
    let chat = store
        .create_conversation(ada.id, &NewConversation::titled("Pensions"))
        .expect("chat");
    for text in ["first question", "an answer with 'quotes', \\ and\ttabs"] {
        store
            .append_message(ada.id, chat.id, &NewMessage::user(text))
            .expect("append");
    }
    let file = tempfile::NamedTempFile::new().expect("file");
    store
        .backup(BackupDestination::File(file.path()))
        .expect("backup");
    (ada.id, chat.id, file)
}

fn texts(store: &PgStore, user: chatstore::UserId, chat: chatstore::ConversationId) -> Vec<String> {
    store
        .last_messages(user, chat, 10)
        .expect("messages")
        .into_iter()
        .map(|m| m.content)
        .collect()
}

#[test]
fn a_backup_comes_back_over_a_changed_store() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let (ada, chat, file) = backed_up(&store);
    let before = texts(&store, ada, chat);
    store
        .append_message(ada, chat, &NewMessage::user("written after the backup"))
        .expect("append");
    let bob = store
        .create_user(&NewUser::new("bob", "bob@example.com", "another password"))
        .expect("bob");

    let version = store.restore_backup(file.path()).expect("restores");
    assert_eq!(version, store.schema_version().unwrap());
    assert_eq!(texts(&store, ada, chat), before);
    assert!(matches!(store.user(bob.id), Err(Error::NotFound { .. })));
    store.check_integrity().expect("sound");
    // Identities moved past the restored rows, and appends carry on after them.
    store.create_role("auditor", None).expect("a new role");
    store
        .append_message(ada, chat, &NewMessage::user("after the restore"))
        .expect("append");
    assert_eq!(texts(&store, ada, chat).len(), 3);
}

#[test]
fn bad_files_are_refused_and_the_store_is_unchanged() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let (ada, chat, file) = backed_up(&store);
    store
        .append_message(ada, chat, &NewMessage::user("kept"))
        .expect("append");
    let script = std::fs::read_to_string(file.path()).expect("read");
    let attempt = |text: &str| {
        let bad = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(bad.path(), text).expect("write");
        store.restore_backup(bad.path())
    };

    let cut = &script[..script.len() / 2];
    let edited = script.replacen("COMMIT;", "DROP TABLE users CASCADE;\nCOMMIT;", 1);
    let foreign_table = script.replacen(
        "COPY messages FROM stdin;",
        "COPY pg_catalog.pg_class FROM stdin;",
        1,
    );
    let version = store.schema_version().unwrap();
    let older = script.replacen(
        &format!("schema version {version},"),
        &format!("schema version {},", version - 1),
        1,
    );
    for (what, text) in [
        ("cut short", cut.to_owned()),
        ("other SQL", edited),
        ("another table", foreign_table),
        ("another version", older),
        ("not a backup", "SELECT 1;\nCOMMIT;\n".to_owned()),
    ] {
        let err = attempt(&text).expect_err(what);
        assert!(matches!(err, Error::Validation { .. }), "{what}: {err}");
        assert_eq!(
            texts(&store, ada, chat).len(),
            3,
            "{what}: the store is unchanged"
        );
    }
    let missing = store.restore_backup(std::path::Path::new("/nonexistent/backup.sql"));
    assert!(missing.is_err());
    store.check_integrity().expect("sound");
}
