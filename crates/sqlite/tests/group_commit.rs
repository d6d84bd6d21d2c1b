//! Appends from many threads at once (group commit): every append that returned is
//! stored, positions and counters of every conversation stay exact, each message follows
//! the one before it, and an append that fails (a closed conversation, a parent from
//! elsewhere) fails alone while the appends sharing its transaction are stored.

use std::collections::HashMap;
use std::sync::Arc;

use chatstore::{
    Config, ConversationId, ConversationStore, Error, MessageQuery, MessageStore, NewConversation,
    NewMessage, NewUser, PasswordParams, UserStore,
};
use chatstore_sqlite::SqliteStore;

const THREADS: usize = 8;
const APPENDS_PER_THREAD: usize = 150;

#[test]
fn concurrent_appends_are_exact_and_failures_stay_alone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(
        SqliteStore::open(
            Config::new(dir.path().join("chatstore.db").to_string_lossy())
                .password_params(PasswordParams::fast_for_tests()),
        )
        .expect("opens"),
    );
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("ada");
    // Four conversations every thread writes to, and one that refuses messages.
    let shared: Vec<ConversationId> = (0..4)
        .map(|i| {
            store
                .create_conversation(ada.id, &NewConversation::titled(&format!("shared {i}")))
                .expect("conversation")
                .id
        })
        .collect();
    let closed = store
        .create_conversation(ada.id, &NewConversation::titled("closed"))
        .expect("closed");
    store
        .append_message(ada.id, closed.id, &NewMessage::user("before closing"))
        .expect("append");
    let elsewhere = store.last_messages(ada.id, closed.id, 1).expect("messages")[0].id;
    store.close_conversation(ada.id, closed.id).expect("close");

    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, shared) = (store.clone(), shared.clone());
            std::thread::spawn(move || {
                let mut stored = Vec::new();
                let mut refused = 0;
                for i in 0..APPENDS_PER_THREAD {
                    let chat = shared[(t + i) % shared.len()];
                    let text = format!("thread {t} append {i}");
                    let outcome = match i % 25 {
                        // Into a closed conversation: refused.
                        7 => store.append_message(ada.id, closed.id, &NewMessage::user(&text)),
                        // Answering a message of another conversation: refused.
                        13 => store.append_message(
                            ada.id,
                            chat,
                            &NewMessage::user(&text).reply_to(elsewhere),
                        ),
                        _ => store.append_message(ada.id, chat, &NewMessage::user(&text)),
                    };
                    match outcome {
                        Ok(message) => stored.push((chat, message.seq, message.content)),
                        Err(Error::Conflict { .. } | Error::NotFound { .. }) => refused += 1,
                        Err(other) => panic!("unexpected error {other:?}"),
                    }
                }
                (stored, refused)
            })
        })
        .collect();
    let mut acknowledged: HashMap<ConversationId, HashMap<u64, String>> = HashMap::new();
    let mut refused = 0;
    for thread in threads {
        let (stored, r) = thread.join().expect("thread");
        refused += r;
        for (chat, seq, content) in stored {
            let previous = acknowledged.entry(chat).or_default().insert(seq, content);
            assert!(previous.is_none(), "position {seq} given twice in {chat}");
        }
    }
    assert_eq!(refused, THREADS * 2 * APPENDS_PER_THREAD / 25);

    for chat in &shared {
        let conversation = store.conversation(ada.id, *chat).expect("conversation");
        let messages = store
            .messages(
                ada.id,
                *chat,
                &MessageQuery {
                    limit: 1000,
                    ..MessageQuery::default()
                },
            )
            .expect("messages")
            .items;
        let expected = &acknowledged[chat];
        assert_eq!(conversation.message_count as usize, expected.len());
        assert_eq!(
            messages.len(),
            expected.len(),
            "every acknowledged append is stored"
        );
        for (n, message) in messages.iter().enumerate() {
            assert_eq!(message.seq, n as u64 + 1, "positions without gaps");
            assert_eq!(expected[&message.seq], message.content);
            let parent = n.checked_sub(1).map(|p| messages[p].id);
            assert_eq!(message.parent_id, parent, "each follows the one before");
        }
    }
    let closed_now = store.conversation(ada.id, closed.id).expect("closed");
    assert_eq!(
        closed_now.message_count, 1,
        "the refused appends left no trace"
    );
}
