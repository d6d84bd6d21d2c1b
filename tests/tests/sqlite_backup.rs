//! Backups of the SQLite files: what a stream receives is a database file that opens on
//! its own with everything the store held, and no temporary file is left behind.

use chatstore::{
    BackupDestination, ConversationStore, MaintenanceStore, MessageStore, NewConversation,
    NewMessage, NewUser, SearchQuery, SearchStore, UserStore,
};
use chatstore_tests::TempSqlite;

#[test]
fn a_stream_backup_is_a_database_that_opens_with_every_message() {
    let db = TempSqlite::new();
    let config = chatstore::conformance::test_config().0;
    let store = db.open_sqlite(config.clone()).expect("opens");
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    let chat = store
        .create_conversation(ada.id, &NewConversation::titled("Backups"))
        .expect("chat");
    for text in ["first pension question", "second answer", "third remark"] {
        store
            .append_message(ada.id, chat.id, &NewMessage::user(text))
            .expect("append");
    }
    let before: Vec<_> = std::fs::read_dir(db.dir()).expect("dir").collect();

    let mut copy = Vec::new();
    store
        .backup(BackupDestination::Stream(&mut copy))
        .expect("backup to a stream");
    let after: Vec<_> = std::fs::read_dir(db.dir()).expect("dir").collect();
    assert_eq!(
        after.len(),
        before.len(),
        "no temporary file is left behind"
    );
    assert!(
        copy.starts_with(b"SQLite format 3\0"),
        "the stream holds a database file"
    );

    let restored = TempSqlite::new();
    std::fs::write(restored.path(), &copy).expect("write the copy");
    let reopened = restored.open_sqlite(config).expect("the copy opens");
    reopened.check_integrity().expect("the copy is sound");
    let messages = reopened
        .last_messages(ada.id, chat.id, 10)
        .expect("messages");
    let texts: Vec<_> = messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        texts,
        ["first pension question", "second answer", "third remark"]
    );
    let hits = reopened
        .search_messages(ada.id, &SearchQuery::new("pension"))
        .expect("search");
    assert_eq!(hits.len(), 1, "the search index came along");
}
