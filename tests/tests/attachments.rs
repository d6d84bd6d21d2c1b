//! Attachments on messages through `ChatStore`: storing, reading back through the
//! owner, refusals that leave nothing behind, the legacy inline format and its
//! migration, deletion flows and the orphan sweep.

use std::io::{Cursor, Read};
use std::time::Duration;

use base64::Engine;
use chatstore::{
    BlobKey, BlobStore, Clock, ConflictKind, ConversationStore, Error, FileMeta, MessageId,
    MessageStore, NewAttachment, NewConversation, NewMessage, NewUser, SystemStore, Timestamp,
    User, UserStore,
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
fn attachments_are_stored_and_read_back_with_their_metadata() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let chat = start(&t, &ada);
    let photo = bytes(1, 40_000);
    let pdf = bytes(2, 120_000);
    let message = t
        .chat
        .append_with_attachments(
            ada.id,
            chat.id,
            &NewMessage::user("two files"),
            vec![
                NewAttachment::new("cat.png", "image/png", photo.clone())
                    .with_thumbnail(b"tiny cat".to_vec()),
                NewAttachment::new("report.pdf", "application/pdf", pdf.clone()),
            ],
        )
        .expect("append");
    assert_eq!(message.files.len(), 2);
    assert_eq!(message.files[0].name, "cat.png");
    assert_eq!(
        (message.files[0].size, message.files[0].has_thumbnail),
        (40_000, true)
    );
    assert_eq!(
        message.files[0].hash.as_deref(),
        Some(blake3::hash(&photo).to_hex().as_str())
    );
    assert!(!message.files[1].has_thumbnail && !message.files[1].is_legacy());
    assert_eq!(
        t.chat
            .store()
            .message(ada.id, message.id)
            .expect("stored")
            .files,
        message.files
    );

    let (meta, read) = t.chat.message_file(ada.id, message.id, 0).expect("file 0");
    assert_eq!((meta.name.as_str(), read), ("cat.png", photo));
    assert_eq!(
        t.chat
            .message_thumbnail(ada.id, message.id, 0)
            .expect("thumb")
            .1,
        b"tiny cat"
    );
    let (_, mut stream) = t
        .chat
        .open_message_file(ada.id, message.id, 1)
        .expect("stream");
    let mut streamed = Vec::new();
    stream.read_to_end(&mut streamed).expect("read");
    assert_eq!(streamed, pdf);
    assert!(matches!(
        t.chat.message_thumbnail(ada.id, message.id, 1),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        t.chat.message_file(ada.id, message.id, 2),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(keys(&t), 3);
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
fn another_users_files_are_not_found() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let eve = register(&t, "eve");
    let chat = start(&t, &ada);
    let message = t
        .chat
        .append_with_attachments(
            ada.id,
            chat.id,
            &NewMessage::user("secret"),
            vec![
                NewAttachment::new("secret.txt", "text/plain", b"top secret".to_vec())
                    .with_thumbnail(b"t".to_vec()),
            ],
        )
        .expect("append");
    assert!(matches!(
        t.chat.message_file(eve.id, message.id, 0),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        t.chat.message_thumbnail(eve.id, message.id, 0),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        t.chat.open_message_file(eve.id, message.id, 0),
        Err(Error::NotFound { .. })
    ));
    let eves = start(&t, &eve);
    assert!(matches!(
        t.chat.append_with_attachments(
            eve.id,
            chat.id,
            &NewMessage::user("into ada's"),
            vec![NewAttachment::new("x.txt", "text/plain", b"x".to_vec())],
        ),
        Err(Error::NotFound { .. })
    ));
    t.chat
        .append_with_attachments(eve.id, eves.id, &NewMessage::user("own"), vec![])
        .expect("eve's own conversation works");
    assert_eq!(
        t.chat.message_file(ada.id, message.id, 0).expect("ada's").1,
        b"top secret"
    );
    assert_eq!(keys(&t), 2, "nothing stored by the refused append");
}

#[test]
fn a_refused_append_leaves_no_blobs() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let chat = start(&t, &ada);
    let file = || {
        vec![NewAttachment::new(
            "a.bin",
            "application/octet-stream",
            bytes(4, 1000),
        )]
    };
    t.chat
        .store()
        .archive_conversation(ada.id, chat.id)
        .expect("archive");
    assert!(matches!(
        t.chat
            .append_with_attachments(ada.id, chat.id, &NewMessage::user("late"), file()),
        Err(Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        })
    ));
    t.chat
        .store()
        .unarchive_conversation(ada.id, chat.id)
        .expect("unarchive");
    let blank_name = vec![NewAttachment::new(" ", "text/plain", b"x".to_vec())];
    assert!(matches!(
        t.chat
            .append_with_attachments(ada.id, chat.id, &NewMessage::user("x"), blank_name),
        Err(Error::Validation { .. })
    ));
    let mut chosen = NewMessage::user("x");
    chosen.id = Some(MessageId::new());
    assert!(matches!(
        t.chat
            .append_with_attachments(ada.id, chat.id, &chosen, file()),
        Err(Error::Validation { field: "id", .. })
    ));
    // Refused by the store after the blobs were written: empty content.
    assert!(matches!(
        t.chat
            .append_with_attachments(ada.id, chat.id, &NewMessage::user("   "), file()),
        Err(Error::Validation {
            field: "content",
            ..
        })
    ));
    let short_stream = vec![NewAttachment::stream(
        "s.bin",
        "application/octet-stream",
        100,
        Box::new(Cursor::new(vec![1u8; 10])),
    )];
    assert!(matches!(
        t.chat
            .append_with_attachments(ada.id, chat.id, &NewMessage::user("short"), short_stream),
        Err(Error::Validation { .. })
    ));
    assert_eq!(keys(&t), 0, "no blob survives a refused append");
    assert_eq!(
        t.chat
            .store()
            .conversation(ada.id, chat.id)
            .expect("chat")
            .message_count,
        0
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

#[test]
fn deleting_conversations_and_users_removes_their_blobs_only() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let bob = register(&t, "bob");
    let attach = |user: &User, chat: &chatstore::Conversation, seed: u8| {
        t.chat
            .append_with_attachments(
                user.id,
                chat.id,
                &NewMessage::user("file"),
                vec![
                    NewAttachment::new("f.bin", "application/octet-stream", bytes(seed, 2000))
                        .with_thumbnail(vec![seed]),
                ],
            )
            .expect("append")
    };
    let first = start(&t, &ada);
    let second = start(&t, &ada);
    let bobs = start(&t, &bob);
    attach(&ada, &first, 1);
    attach(&ada, &first, 2);
    let kept = attach(&ada, &second, 3);
    let bobs_message = attach(&bob, &bobs, 4);
    assert_eq!(keys(&t), 8);
    t.chat
        .store()
        .delete_conversation(ada.id, first.id)
        .expect("soft delete");
    assert_eq!(keys(&t), 8, "a soft delete keeps the files");
    let cleanup = t.chat.purge_conversation(ada.id, first.id).expect("purge");
    assert_eq!(cleanup.messages_with_files.len(), 2);
    assert_eq!(keys(&t), 4);
    assert_eq!(
        t.chat.message_file(ada.id, kept.id, 0).expect("kept").1,
        bytes(3, 2000)
    );
    t.chat
        .store()
        .delete_conversation(ada.id, second.id)
        .expect("soft delete");
    t.clock.advance(Duration::from_secs(86_400));
    t.chat
        .purge_deleted_conversations(t.clock.now())
        .expect("purge old");
    assert_eq!(keys(&t), 2);
    let other = start(&t, &ada);
    attach(&ada, &other, 5);
    t.chat.delete_user(ada.id).expect("delete user");
    assert_eq!(keys(&t), 2, "only bob's remain");
    assert_eq!(
        t.chat
            .message_file(bob.id, bobs_message.id, 0)
            .expect("bob's")
            .1,
        bytes(4, 2000)
    );
}

#[test]
fn the_sweep_removes_blobs_of_messages_that_were_never_written() {
    let t = TempChat::new();
    let ada = register(&t, "ada");
    let chat = start(&t, &ada);
    let real = t
        .chat
        .append_with_attachments(
            ada.id,
            chat.id,
            &NewMessage::user("real"),
            vec![NewAttachment::new("r.txt", "text/plain", b"real".to_vec())],
        )
        .expect("append");
    let orphan = MessageId::new();
    t.chat
        .blobs()
        .put_all(&[
            (BlobKey::file(orphan, 0), b"orphan".as_slice()),
            (BlobKey::thumbnail(orphan, 0), b"o".as_slice()),
        ])
        .expect("put");
    t.clock.advance(Duration::from_secs(7200));
    let young = MessageId::new();
    t.chat
        .blobs()
        .put(&BlobKey::file(young, 0), b"in flight")
        .expect("put");
    let cutoff: Timestamp = t.clock.now() - Duration::from_secs(3600);
    assert_eq!(t.chat.sweep_orphan_blobs(cutoff).expect("sweep"), 2);
    assert!(
        !t.chat
            .blobs()
            .exists(&BlobKey::file(orphan, 0))
            .expect("exists")
    );
    assert!(
        t.chat
            .blobs()
            .exists(&BlobKey::file(young, 0))
            .expect("young kept")
    );
    assert_eq!(
        t.chat
            .message_file(ada.id, real.id, 0)
            .expect("real kept")
            .1,
        b"real"
    );
    assert_eq!(t.chat.sweep_orphan_blobs(cutoff).expect("again"), 0);

    // Opening sweeps too, by the stores' clock: two hours on, the young orphan is old.
    let clock = t.clock.clone();
    clock.advance(Duration::from_secs(7200));
    let reopened = TempChat::open_with_clock(t.location, clock);
    assert!(
        !reopened
            .chat
            .blobs()
            .exists(&BlobKey::file(young, 0))
            .expect("swept on open")
    );
    assert_eq!(
        reopened
            .chat
            .message_file(ada.id, real.id, 0)
            .expect("real kept")
            .1,
        b"real"
    );
}
