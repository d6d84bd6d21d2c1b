//! A writer for the attachment crash test: appends messages with one or two attached
//! files (some with thumbnails) to DIR's stores until it is killed, printing a line
//! for every file of every message the store acknowledged:
//!
//! ```text
//! file <message id> <index> <blake3 hex>
//! ```

use std::io::Write;

use chatstore::{
    ChatStore, Config, ConversationStore, NewAttachment, NewConversation, NewMessage,
    NoVectorIndex, PasswordParams,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::SqliteStore;

fn main() {
    let (dir, mut random) = chatstore_tests::child_args("crash_attacher DIR SEED");
    let config = Config::new(dir.join("chatstore.db").to_string_lossy())
        .password_params(PasswordParams::fast_for_tests());
    let store = SqliteStore::open(config).expect("main store opens");
    let blobs =
        SqliteBlobStore::open(BlobConfig::new(dir.join("files.db"))).expect("blob store opens");
    let chat = ChatStore::new(store, blobs, NoVectorIndex).expect("stores tie together");
    let user = chatstore_tests::writer(chat.store());
    let conversation = chat
        .store()
        .create_conversation(user.id, &NewConversation::titled("crash"))
        .expect("conversation");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}", chatstore_tests::READY).expect("stdout");
    out.flush().expect("flush");
    loop {
        let attachments: Vec<NewAttachment> = (0..1 + random(2))
            .map(|i| {
                let size = 1 + random(300_000) as usize;
                let salt = random(u64::MAX);
                let bytes: Vec<u8> = (0..size).map(|j| (j as u64 ^ salt) as u8).collect();
                let file =
                    NewAttachment::new(&format!("f{i}.bin"), "application/octet-stream", bytes);
                if random(2) == 0 {
                    file.with_thumbnail(vec![7; 100])
                } else {
                    file
                }
            })
            .collect();
        let message = chat
            .append_with_attachments(
                user.id,
                conversation.id,
                &NewMessage::user("with files"),
                attachments,
            )
            .expect("append");
        for (index, file) in message.files.iter().enumerate() {
            let hash = file.hash.as_deref().expect("stored files have a hash");
            writeln!(out, "file {} {index} {hash}", message.id).expect("stdout");
        }
        out.flush().expect("flush");
    }
}
