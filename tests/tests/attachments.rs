//! Attachments on messages through `ChatStore` on the SQLite stack: a large streamed
//! upload, the legacy inline format and its migration. What any combination of backends
//! must show (storing and reading back through the owner, refusals that leave nothing
//! behind, deletion flows, the orphan sweep) is checked by the chat conformance suite
//! (`chat_conformance.rs`).

use std::io::{Cursor, Read};

use base64::Engine;
use chatstore::{
    BlobKey, BlobStore, ConversationStore, Error, FileMeta, MessageStore, NewAttachment,
    NewConversation, NewMessage, NewUser, SystemStore, User, UserStore,
};
use chatstore_tests::TempChat;

fn register(t: &TempChat, name: &str) -> User {
    t.chat
        .store()
        .create_user(&NewUser::new(
            name,
            &format!("{name}@example.com"),
            "password1",
        ))
        .expect("user")
}

fn start(t: &TempChat, user: &User) -> chatstore::Conversation {
    t.chat
        .store()
        .create_conversation(user.id, &NewConversation::titled("files"))
        .expect("conversation")
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn keys(t: &TempChat) -> u64 {
    t.chat.blobs().stats().expect("stats").keys
}

fn legacy(name: &str, data: &[u8], thumbnail: Option<&[u8]>) -> FileMeta {
    let engine = base64::engine::general_purpose::STANDARD;
    FileMeta {
        name: name.to_owned(),
        mime_type: "image/png".to_owned(),
        size: 0,
        has_thumbnail: false,
        hash: None,
        data: Some(engine.encode(data)),
        thumbnail: thumbnail.map(|t| engine.encode(t)),
    }
}

#[test]
fn a_large_attachment_streams_in_without_being_held_whole() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let chat = start(&t, &ada);
    let data = bytes(3, 5 * 1024 * 1024);
    let upload = NewAttachment::stream(
        "video.mp4",
        "video/mp4",
        data.len() as u64,
        Box::new(Cursor::new(data.clone())),
    )
    .with_thumbnail(b"frame".to_vec());
    let message = t
        .chat
        .append_with_attachments(ada.id, chat.id, &NewMessage::user("video"), vec![upload])
        .expect("append");
    assert_eq!(message.files[0].size, data.len() as u64);
    let (_, mut stream) = t
        .chat
        .open_message_file(ada.id, message.id, 0)
        .expect("open");
    let mut read = Vec::new();
    stream.read_to_end(&mut read).expect("read");
    assert!(read == data);
    assert_eq!(
        t.chat
            .message_thumbnail(ada.id, message.id, 0)
            .expect("thumb")
            .1,
        b"frame"
    );
}

#[test]
fn legacy_inline_files_are_served_from_the_message() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let chat = start(&t, &ada);
    let photo = bytes(5, 3000);
    let mut message = NewMessage::user("old format");
    message.files = vec![legacy("old.png", &photo, Some(b"old thumb"))];
    let stored = t
        .chat
        .store()
        .append_message(ada.id, chat.id, &message)
        .expect("append");
    assert!(stored.files[0].is_legacy());
    assert_eq!(
        t.chat.message_file(ada.id, stored.id, 0).expect("file").1,
        photo
    );
    assert_eq!(
        t.chat
            .message_thumbnail(ada.id, stored.id, 0)
            .expect("thumb")
            .1,
        b"old thumb"
    );
    let (_, mut stream) = t
        .chat
        .open_message_file(ada.id, stored.id, 0)
        .expect("stream");
    let mut read = Vec::new();
    stream.read_to_end(&mut read).expect("read");
    assert_eq!(read, photo);
    let mut broken = NewMessage::user("broken");
    broken.files = vec![FileMeta {
        data: Some("not base64!".into()),
        ..legacy("bad.png", b"", None)
    }];
    let broken = t
        .chat
        .store()
        .append_message(ada.id, chat.id, &broken)
        .expect("append");
    assert!(matches!(
        t.chat.message_file(ada.id, broken.id, 0),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn legacy_files_migrate_in_batches_resume_and_roll_back() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let chat = start(&t, &ada);
    let store = t.chat.store();
    let mut ids = Vec::new();
    for i in 0..230 {
        let mut message = NewMessage::user(format!("legacy {i}"));
        message.files = vec![legacy(
            "a.png",
            &bytes(i as u8, 500 + i),
            (i % 2 == 0).then_some(b"th".as_slice()),
        )];
        if i % 3 == 0 {
            message
                .files
                .push(legacy("b.png", &bytes(i as u8 + 1, 100), None));
        }
        ids.push(
            store
                .append_message(ada.id, chat.id, &message)
                .expect("append")
                .id,
        );
    }
    store
        .append_message(ada.id, chat.id, &NewMessage::user("no files"))
        .expect("append");
    let mut seen = Vec::new();
    let report = t
        .chat
        .migrate_legacy_files(&mut |p| seen.push(p))
        .expect("migrate");
    assert_eq!(seen.len(), 3, "batches of 100");
    assert_eq!(
        seen.iter().map(|p| p.messages_seen).collect::<Vec<_>>(),
        [100, 200, 230]
    );
    assert_eq!(
        (report.messages_changed, report.files_moved),
        (230, 230 + 77)
    );
    for (i, id) in ids.iter().enumerate() {
        let message = store.message(ada.id, *id).expect("message");
        let file = &message.files[0];
        assert!(!file.is_legacy() && file.thumbnail.is_none() && file.hash.is_some());
        assert_eq!(
            (file.size, file.has_thumbnail),
            (500 + i as u64, i % 2 == 0)
        );
        assert_eq!(
            t.chat.message_file(ada.id, *id, 0).expect("from blobs").1,
            bytes(i as u8, 500 + i)
        );
    }
    assert_eq!(keys(&t), 230 + 115 + 77);

    let again = t.chat.migrate_legacy_files(&mut |_| {}).expect("again");
    assert_eq!(
        again.messages_changed, 0,
        "already migrated entries are skipped"
    );

    // An interrupted run: some messages still inline, their blobs not yet written.
    for id in &ids[..40] {
        let message = store.message(ada.id, *id).expect("message");
        let (_, data) = t.chat.message_file(ada.id, *id, 0).expect("file");
        let mut files = message.files.clone();
        files[0] = FileMeta {
            name: files[0].name.clone(),
            ..legacy("a.png", &data, None)
        };
        store
            .set_message_files(*id, &files)
            .expect("back to inline");
        t.chat
            .blobs()
            .delete(&BlobKey::file(*id, 0))
            .expect("drop blob");
    }
    let resumed = t.chat.migrate_legacy_files(&mut |_| {}).expect("resume");
    assert_eq!((resumed.messages_changed, resumed.files_moved), (40, 40));
    assert_eq!(
        t.chat.message_file(ada.id, ids[0], 0).expect("file").1,
        bytes(0, 500)
    );

    let rolled = t.chat.rollback_legacy_files(&mut |_| {}).expect("rollback");
    assert_eq!(rolled.messages_changed, 230);
    assert_eq!(keys(&t), 0, "the blobs are gone, the bytes inline again");
    for (i, id) in ids.iter().enumerate() {
        let message = store.message(ada.id, *id).expect("message");
        assert!(message.files.iter().all(FileMeta::is_legacy));
        assert_eq!(
            t.chat.message_file(ada.id, *id, 0).expect("inline").1,
            bytes(i as u8, 500 + i)
        );
    }
    assert_eq!(
        t.chat
            .message_thumbnail(ada.id, ids[40], 0)
            .expect("inline thumb")
            .1,
        b"th"
    );
    assert_eq!(
        t.chat
            .rollback_legacy_files(&mut |_| {})
            .expect("again")
            .messages_changed,
        0
    );
}
