//! Shared set-up for the benches and workload binaries: a store in a temporary directory
//! and the W1 message shape.

use chatstore::{
    Config, ConversationId, ConversationStore, MessageMetadata, NewConversation, NewMessage,
    NewUser, UserId, UserStore,
};
use chatstore_sqlite::SqliteStore;

/// A store with default settings in a temporary directory that lives as long as it.
pub struct BenchStore {
    /// The store.
    pub store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl BenchStore {
    /// Opens a store with the default configuration (as a host would).
    pub fn open() -> BenchStore {
        BenchStore::with_config(|config| config)
    }

    /// Opens a store with a configuration adjusted by `adjust`.
    pub fn with_config(adjust: impl FnOnce(Config) -> Config) -> BenchStore {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bench.db");
        let config = adjust(Config::new(path.to_string_lossy()));
        let store = SqliteStore::open(config).expect("store opens");
        BenchStore { store, _dir: dir }
    }

    /// Registers `users` users and spreads `conversations` conversations over them
    /// round-robin, as W1 does.
    pub fn populate(
        &self,
        users: usize,
        conversations: usize,
    ) -> (Vec<UserId>, Vec<(UserId, ConversationId)>) {
        let users: Vec<UserId> = (0..users)
            .map(|u| {
                self.store
                    .create_user(&NewUser::new(
                        &format!("user{u}"),
                        &format!("user{u}@example.com"),
                        "bench password",
                    ))
                    .expect("user")
                    .id
            })
            .collect();
        let conversations = (0..conversations)
            .map(|c| {
                let user = users[c % users.len()];
                let conversation = self
                    .store
                    .create_conversation(user, &NewConversation::titled(&format!("chat {c}")))
                    .expect("conversation");
                (user, conversation.id)
            })
            .collect();
        (users, conversations)
    }
}

/// The W1 message of round `round`: alternating user/assistant, `length` bytes of text,
/// metadata `{request_id, tokens, model_name, latency_ms}`.
pub fn w1_message(round: usize, length: usize) -> NewMessage {
    const BODY: &str = "lorem ipsum dolor sit amet ";
    let text: String = BODY.repeat(length / BODY.len() + 1)[..length].to_owned();
    let message = if round.is_multiple_of(2) {
        NewMessage::user(text)
    } else {
        NewMessage::assistant(text)
    };
    message.with_metadata(MessageMetadata {
        request_id: Some(format!("req-{round}")),
        tokens: Some(245),
        model_name: Some("llama3.2:3b".into()),
        latency_ms: Some(1234),
        ..MessageMetadata::default()
    })
}
