//! Soak: eight threads of mixed work for a while, on one store and on two handles to
//! the same files (two writer connections contending for SQLite's lock, as two
//! processes would). No call may fail — not busy, not locked, nothing — and at the end
//! every counter matches what the threads did, every message and attachment reads back,
//! and both files pass their integrity checks.
//!
//! `CHATSTORE_SOAK_SECS` sets how long each of the two runs lasts (3 s by default; the
//! long run before a release uses 600, see docs/operations.md).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chatstore::{
    AgentLogStore, ChatStore, Config, ConversationQuery, ConversationStore, MaintenanceStore,
    MessageStore, NewAgentLog, NewAttachment, NewConversation, NewMessage, NewSession, NewUsage,
    NewUser, NoVectorIndex, OperationType, PasswordParams, SearchQuery, SearchStore, SessionStore,
    TimeRange, UsageStore, UserStore,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::SqliteStore;

type Handle = ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex>;

const THREADS: u64 = 8;

fn open(dir: &Path) -> Handle {
    let config = Config::new(dir.join("chatstore.db").to_string_lossy())
        .password_params(PasswordParams::fast_for_tests());
    let store = SqliteStore::open(config).expect("store opens");
    let blobs = SqliteBlobStore::open(BlobConfig::new(dir.join("files.db"))).expect("blobs open");
    ChatStore::new(store, blobs, NoVectorIndex).expect("stores tie together")
}

fn soak_seconds() -> Duration {
    Duration::from_secs(
        std::env::var("CHATSTORE_SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3),
    )
}

#[test]
fn eight_threads_on_one_handle() {
    soak(1);
}

#[test]
fn eight_threads_on_two_handles() {
    soak(2);
}

/// What one thread did, to check the store against.
#[derive(Default)]
struct Done {
    appended: u64,
    with_files: u64,
    usage_tokens: u64,
    usage_records: u64,
    reads: u64,
}

fn soak(handles: usize) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let stores: Vec<Arc<Handle>> = (0..handles).map(|_| Arc::new(open(dir.path()))).collect();
    let deadline = Instant::now() + soak_seconds();
    let started = Instant::now();
    let ops = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let chat = Arc::clone(&stores[t as usize % handles]);
            let ops = Arc::clone(&ops);
            std::thread::spawn(move || work(&chat, t, deadline, &ops))
        })
        .collect();
    let done: Vec<(chatstore::User, chatstore::Conversation, Done)> = workers
        .into_iter()
        .map(|w| w.join().expect("a worker panicked"))
        .collect();

    // Checked through a fresh handle, after the others closed.
    drop(stores);
    let chat = open(dir.path());
    let store = chat.store();
    for (user, conversation, done) in &done {
        let stored = store
            .conversation(user.id, conversation.id)
            .expect("conversation");
        assert_eq!(stored.message_count, done.appended, "{}", user.username);
        let all = store
            .last_messages(user.id, conversation.id, 1000)
            .expect("messages");
        let newest: Vec<u64> = all.iter().map(|m| m.seq).collect();
        let first = done.appended.saturating_sub(1000) + 1;
        assert_eq!(
            newest,
            (first..=done.appended).collect::<Vec<_>>(),
            "positions"
        );
        let files = all.iter().filter(|m| !m.files.is_empty()).count() as u64;
        assert!(files <= done.with_files);
        for message in all.iter().filter(|m| !m.files.is_empty()) {
            let (_, bytes) = chat
                .message_file(user.id, message.id, 0)
                .expect("attachment reads back");
            assert_eq!(bytes.len(), 4096);
        }
        let usage = store.usage_totals(user.id, TimeRange::ALL).expect("usage");
        assert_eq!(usage.requests, done.usage_records);
        assert_eq!(usage.prompt_tokens, done.usage_tokens);
        assert!(done.reads > 0);
    }
    store.check_integrity().expect("main store sound");
    chat.blobs()
        .check_integrity()
        .expect("attachment store sound");
    eprintln!(
        "soak on {handles} handle(s): {} operations by {THREADS} threads in {:.1?}, no error",
        ops.load(Ordering::Relaxed),
        started.elapsed()
    );
}

/// One thread's mixed work until `deadline`; any error fails the test.
fn work(
    chat: &Handle,
    thread: u64,
    deadline: Instant,
    ops: &AtomicU64,
) -> (chatstore::User, chatstore::Conversation, Done) {
    let store = chat.store();
    let name = format!("soak{thread}-{}", chatstore::UserId::new());
    let user = store
        .create_user(&NewUser::new(
            &name[..20],
            &format!("{name}@example.com"),
            "password1",
        ))
        .expect("user");
    let (_, token) = store
        .create_session(user.id, &NewSession::default())
        .expect("session");
    let conversation = store
        .create_conversation(user.id, &NewConversation::titled("soak"))
        .expect("conversation");
    let side = store
        .create_conversation(user.id, &NewConversation::titled("side"))
        .expect("conversation");
    let mut done = Done::default();
    let mut round = thread;
    while Instant::now() < deadline {
        round += 1;
        match round % 10 {
            0 => {
                let file = NewAttachment::new("f.bin", "application/octet-stream", vec![7; 4096]);
                chat.append_with_attachments(
                    user.id,
                    conversation.id,
                    &NewMessage::user(format!("with a file {round}")),
                    vec![file],
                )
                .expect("append with attachment");
                done.appended += 1;
                done.with_files += 1;
            }
            1 => {
                let tokens = round % 500;
                store
                    .record_usage(
                        user.id,
                        &NewUsage::new("custom", "deepseek-chat", OperationType::Chat, tokens, 1),
                    )
                    .expect("usage");
                done.usage_records += 1;
                done.usage_tokens += tokens;
            }
            2 => {
                store
                    .search_messages(user.id, &SearchQuery::new("soak message"))
                    .expect("search");
                done.reads += 1;
            }
            3 => {
                store.validate_session(&token).expect("session");
                store
                    .list_conversations(user.id, &ConversationQuery::default())
                    .expect("listing");
                done.reads += 1;
            }
            4 => {
                let archived = store
                    .archive_conversation(user.id, side.id)
                    .expect("archive");
                assert!(archived.archived_at.is_some());
                store
                    .unarchive_conversation(user.id, side.id)
                    .expect("unarchive");
            }
            5 => {
                let last = store
                    .last_messages(user.id, conversation.id, 20)
                    .expect("last messages");
                if let Some(message) = last.last() {
                    store
                        .record_agent_log(user.id, message.id, &NewAgentLog::new("SoakAgent"))
                        .expect("agent log");
                }
                done.reads += 1;
            }
            _ => {
                store
                    .append_message(
                        user.id,
                        conversation.id,
                        &NewMessage::user(format!("soak message {round} from {thread}")),
                    )
                    .expect("append");
                done.appended += 1;
            }
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
    (user, conversation, done)
}
