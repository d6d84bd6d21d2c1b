//! A writer for the crash tests: appends messages, opens and purges conversations and
//! records usage against the database at PATH until it is killed, printing a line for
//! every write the store acknowledged:
//!
//! ```text
//! append <conversation id> <message id>
//! purging <conversation id>      (printed before the purge starts)
//! purged <conversation id>
//! ```
//!
//! Run repeatedly on the same file, it continues where the last run was cut off.

use std::io::Write;

use chatstore::{
    Config, ConversationQuery, ConversationStatus, ConversationStore, MessageMetadata,
    MessageStore, NewConversation, NewMessage, NewUsage, OperationType, PasswordParams, UsageStore,
    Visibility,
};
use chatstore_sqlite::SqliteStore;

fn main() {
    let (path, mut random) = chatstore_tests::child_args("crash_writer PATH SEED");
    let store = SqliteStore::open(
        Config::new(path.to_string_lossy()).password_params(PasswordParams::fast_for_tests()),
    )
    .expect("opens");
    let user = chatstore_tests::writer(&store);
    let query = ConversationQuery {
        statuses: vec![ConversationStatus::Active],
        visibility: Visibility::All,
        limit: 1000,
        cursor: None,
    };
    let mut chats: Vec<_> = store
        .list_conversations(user.id, &query)
        .expect("listing")
        .items
        .into_iter()
        .map(|c| c.id)
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}", chatstore_tests::READY).expect("stdout");
    out.flush().expect("flush");
    loop {
        match random(100) {
            0..=4 => {
                let chat = store
                    .create_conversation(user.id, &NewConversation::titled("crash"))
                    .expect("create");
                chats.push(chat.id);
            }
            5 if chats.len() > 1 => {
                let chat = chats.swap_remove(random(chats.len() as u64) as usize);
                writeln!(out, "purging {chat}").expect("stdout");
                out.flush().expect("flush");
                store.delete_conversation(user.id, chat).expect("delete");
                store.purge_conversation(user.id, chat).expect("purge");
                writeln!(out, "purged {chat}").expect("stdout");
            }
            6..=9 if !chats.is_empty() => {
                let mut usage =
                    NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 100, 20);
                usage.conversation_id = Some(chats[random(chats.len() as u64) as usize]);
                store.record_usage(user.id, &usage).expect("usage");
            }
            _ if !chats.is_empty() => {
                let chat = chats[random(chats.len() as u64) as usize];
                let length = 20 + random(2000) as usize;
                let message = NewMessage::user("crash safety ".repeat(length / 13 + 1))
                    .with_metadata(MessageMetadata {
                        request_id: Some(format!("req-{}", random(1_000_000))),
                        ..MessageMetadata::default()
                    });
                let stored = store
                    .append_message(user.id, chat, &message)
                    .expect("append");
                writeln!(out, "append {chat} {}", stored.id).expect("stdout");
            }
            _ => {}
        }
        out.flush().expect("flush");
    }
}
