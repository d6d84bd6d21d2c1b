//! Shared set-up for the benches and workload binaries: a store in a temporary directory
//! and the W1 message shape.

use chatstore::{
    Config, ConversationId, ConversationStore, MessageMetadata, NewConversation, NewMessage,
    NewUser, UserId, UserStore,
};
use chatstore_sqlite::{SqliteOptions, SqliteStore};

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

    /// Opens a store with a configuration adjusted by `adjust`, and the SQLite options
    /// of the environment, as a host reads them (`CHATSTORE_FSYNC_EVERY_COMMIT=1`, ...).
    pub fn with_config(adjust: impl FnOnce(Config) -> Config) -> BenchStore {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bench.db");
        let config = adjust(Config::new(path.to_string_lossy()));
        let options = SqliteOptions::from_env().expect("SQLite options");
        let store = SqliteStore::open_with(config, &options).expect("store opens");
        BenchStore { store, _dir: dir }
    }

    /// Registers `users` users and spreads `conversations` conversations over them
    /// round-robin, as W1 does.
    pub fn populate(
        &self,
        users: usize,
        conversations: usize,
    ) -> (Vec<UserId>, Vec<(UserId, ConversationId)>) {
        populate(&self.store, users, conversations)
    }
}

/// Registers `users` users in `store` and spreads `conversations` conversations over
/// them round-robin, as W1 does (any backend).
pub fn populate<S: UserStore + ConversationStore>(
    store: &S,
    users: usize,
    conversations: usize,
) -> (Vec<UserId>, Vec<(UserId, ConversationId)>) {
    let users: Vec<UserId> = (0..users)
        .map(|u| {
            store
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
            let conversation = store
                .create_conversation(user, &NewConversation::titled(&format!("chat {c}")))
                .expect("conversation");
            (user, conversation.id)
        })
        .collect();
    (users, conversations)
}

/// The command line of the W1 binaries: `[--url postgresql://...] [--threads N] [C M R L]`.
#[derive(Debug, Clone)]
pub struct W1Args {
    /// Conversations.
    pub conversations: usize,
    /// Rounds: messages appended to every conversation.
    pub rounds: usize,
    /// Reads of the last 20 messages of a random conversation.
    pub reads: usize,
    /// Listings of one user's conversations.
    pub listings: usize,
    /// The PostgreSQL server, when the run is on PostgreSQL.
    pub url: Option<String>,
    /// Threads appending, each owning every `threads`-th conversation.
    pub threads: usize,
}

impl W1Args {
    /// Reads the process's arguments; exits with the usage on a mistake.
    pub fn from_env() -> W1Args {
        W1Args::parse(std::env::args().skip(1)).unwrap_or_else(|problem| {
            eprintln!("{problem}\nusage: [--url postgresql://...] [--threads N] [C M R L]");
            std::process::exit(2)
        })
    }

    /// Parses `args` (without the program's name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<W1Args, String> {
        let mut url = None;
        let mut threads = 1;
        let mut numbers = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--url" => url = Some(args.next().ok_or("--url needs a value")?),
                "--threads" => {
                    threads = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n: &usize| n >= 1)
                        .ok_or("--threads needs a whole number of at least 1")?;
                }
                number => numbers.push(
                    number
                        .parse::<usize>()
                        .map_err(|_| format!("{number:?}: C M R L are whole numbers"))?,
                ),
            }
        }
        let (conversations, rounds, reads, listings) = match numbers[..] {
            [c, m, r, l] => (c, m, r, l),
            // As before the options: anything but four numbers is the default size.
            _ => (200, 50, 10_000, 1_000),
        };
        Ok(W1Args {
            conversations,
            rounds,
            reads,
            listings,
            url,
            threads,
        })
    }
}

/// The `q`-th percentile (0 to 100) of sorted durations, in whole microseconds.
pub fn percentile_us(sorted: &[std::time::Duration], q: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() - 1) * q / 100].as_micros() as u64
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

/// A schema of its own for one run on PostgreSQL (`<prefix>_<pid>`), dropped with
/// everything in it when this guard goes (also when the run panics).
pub struct ScratchSchema {
    /// The server's URL.
    pub url: String,
    /// The schema's name.
    pub name: String,
}

impl ScratchSchema {
    /// Names the schema for this process; nothing is created yet.
    pub fn new(url: &str, prefix: &str) -> ScratchSchema {
        ScratchSchema {
            url: url.to_owned(),
            name: format!("{prefix}_{}", std::process::id()),
        }
    }

    /// A plain connection whose search path is the schema.
    pub fn connect(&self) -> postgres::Client {
        let mut config: postgres::Config = self.url.parse().expect("a PostgreSQL URL");
        config.options(&format!("-c search_path={}", self.name));
        config.connect(postgres::NoTls).expect("connects")
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        let dropped = postgres::Client::connect(&self.url, postgres::NoTls).and_then(|mut c| {
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
        });
        if let Err(e) = dropped {
            eprintln!("could not drop schema {}: {e}", self.name);
        }
    }
}
