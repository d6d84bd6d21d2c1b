//! `ChatStore::audit_attachments` and `clean_up` on the SQLite stores: a message whose
//! blob went missing is found, an orphan blob is found without being removed, and the
//! cleanup removes the orphan.

use chatstore::{
    BlobKey, BlobStore, ChatStore, CleanupPlan, Config, ConversationStore, MaintenanceStore,
    MessageId, NewAttachment, NewConversation, NewMessage, NewUser, NoVectorIndex, PasswordParams,
    UserStore,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::SqliteStore;

#[test]
fn dangling_references_and_orphans_are_found_and_only_orphans_swept() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let main = dir.path().join("chatstore.db");
    let store = SqliteStore::open(
        Config::new(main.to_string_lossy()).password_params(PasswordParams::fast_for_tests()),
    )
    .expect("store");
    let blobs = SqliteBlobStore::open(BlobConfig::beside(&main)).expect("blobs");
    let chat = ChatStore::new(store, blobs, NoVectorIndex).expect("chat");
    let ada = chat
        .store()
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("ada");
    let talk = chat
        .store()
        .create_conversation(ada.id, &NewConversation::titled("files"))
        .expect("conversation");
    let message = chat
        .append_with_attachments(
            ada.id,
            talk.id,
            &NewMessage::user("see attached"),
            vec![NewAttachment::new("a.txt", "text/plain", b"hello".to_vec())],
        )
        .expect("append");
    let later = chat.store().now() + std::time::Duration::from_secs(7200);

    let healthy = chat.audit_attachments(later).expect("audit");
    assert!(healthy.is_consistent());
    assert_eq!(healthy.messages_checked, 1);
    assert!(healthy.orphans.is_empty());

    let orphan = MessageId::new();
    chat.blobs()
        .put(&BlobKey::file(orphan, 0), b"nobody's")
        .expect("orphan blob");
    chat.blobs()
        .delete(&BlobKey::file(message.id, 0))
        .expect("lose a blob");
    let damaged = chat.audit_attachments(later).expect("audit");
    assert_eq!(damaged.dangling, vec![BlobKey::file(message.id, 0)]);
    assert_eq!(damaged.orphans, vec![orphan]);
    assert_eq!(
        chat.orphan_blob_messages(later).expect("again"),
        vec![orphan]
    );

    // The cleanup's own cut-off is now minus the grace: the orphan is too young.
    let report = chat.clean_up(&CleanupPlan::default()).expect("clean up");
    assert_eq!(report.orphan_blobs, 0);
    assert_eq!(chat.sweep_orphan_blobs(later).expect("sweep"), 1);
    assert!(chat.orphan_blob_messages(later).expect("after").is_empty());
}
