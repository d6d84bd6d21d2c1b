//! With `SqliteOptions::secure_delete`, what a deletion removes is not left readable in
//! the database file's free pages: a deleted user's message text is gone from the file's
//! bytes once the write-ahead log is folded in.

use chatstore::conformance::test_config;
use chatstore::{ConversationStore, MessageStore, NewConversation, NewMessage, NewUser, UserStore};
use chatstore_sqlite::SqliteOptions;
use chatstore_tests::TempSqlite;

const MARKER: &str = "Kumquat-Zebra-0451 my bank PIN";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn file_after_deleting_a_user(secure: bool) -> Vec<u8> {
    let location = TempSqlite::new();
    let options = SqliteOptions::default().secure_delete(secure);
    let store = location
        .open_sqlite_with(&options, test_config().0)
        .expect("opens");
    let ada = store
        .create_user(&NewUser::new(
            "ada",
            "ada@example.com",
            "correct horse battery",
        ))
        .expect("user");
    let talk = store
        .create_conversation(ada.id, &NewConversation::titled("private"))
        .expect("conversation");
    store
        .append_message(ada.id, talk.id, &NewMessage::user(MARKER))
        .expect("message");
    store
        .close()
        .expect("closes: the log is folded into the file");
    let store = location
        .open_sqlite_with(&options, test_config().0)
        .expect("opens again");
    assert!(
        contains(
            &std::fs::read(location.path()).expect("file"),
            MARKER.as_bytes()
        ),
        "the text is in the file before the deletion"
    );
    store.delete_user(ada.id).expect("delete");
    store.close().expect("closes");
    std::fs::read(location.path()).expect("file")
}

#[test]
fn secure_delete_leaves_no_deleted_text_in_the_file() {
    assert!(!contains(
        &file_after_deleting_a_user(true),
        MARKER.as_bytes()
    ));
}

/// Without it SQLite leaves deleted cells in free space (what the option is for).
#[test]
fn without_secure_delete_the_text_stays_in_free_space() {
    assert!(contains(
        &file_after_deleting_a_user(false),
        MARKER.as_bytes()
    ));
}
