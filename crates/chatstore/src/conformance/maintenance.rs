//! Maintenance: schema version, integrity check, vacuum and backups.

use std::path::PathBuf;

use super::support::{
    answer, conversation, document, documents_of, listed, messages_of, process, say, user,
};
use super::{Backend, fixture};
use crate::{
    BackupDestination, Error, NewAgentLog, NewUsage, OperationType, SearchQuery, Store, TimeRange,
    UserId,
};

/// Some data of every kind, for maintenance to keep intact.
fn populate(store: &dyn Store) -> UserId {
    let ada = user(store, "ada");
    let chat = conversation(store, ada.id, "Pensions");
    say(store, ada.id, chat.id, "How does the state pension work?");
    let a = answer(store, ada.id, chat.id, "It pays weekly.");
    store
        .record_agent_log(ada.id, a.id, &NewAgentLog::new("ResearchAgent"))
        .expect("agent log");
    store
        .record_usage(
            ada.id,
            &NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 10, 20),
        )
        .expect("usage");
    process(
        store,
        ada.id,
        &document(store, ada.id, "policy.pdf"),
        &["a", "b"],
    );
    ada.id
}

/// A path in the temporary directory that no other check uses.
fn scratch_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("chatstore-conformance-{}-{name}", UserId::new()))
}

/// The schema version is positive and the same when the store is opened again.
pub fn maintenance_schema_version(backend: &dyn Backend) {
    let f = fixture(backend);
    let version = f.store.schema_version().expect("schema version");
    assert!(version > 0);
    let again = fixture(backend);
    assert_eq!(
        again.store.schema_version().expect("schema version"),
        version
    );
}

/// A store in ordinary use passes its integrity check, before and after deletions.
pub fn maintenance_integrity_check_passes(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    s.check_integrity().expect("an empty store is sound");
    let ada = populate(s);
    s.check_integrity().expect("a populated store is sound");
    s.delete_user(ada).expect("delete user");
    s.check_integrity().expect("sound after deletions");
}

/// The integrity check agrees with the data while the store is in use: checks run
/// between appends and searches on the same handle never report damage that is not
/// there (a reader holding a stale view of the search index once made them fail).
pub fn maintenance_integrity_check_agrees_while_appending(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "busy");
    for round in 0..30 {
        for i in 0..40 {
            say(
                s,
                ada.id,
                chat.id,
                &format!("pension question {round} {i} lorem ipsum"),
            );
        }
        if round % 3 == 0 {
            s.search_messages(ada.id, &SearchQuery::new("pension"))
                .expect("search");
        }
        if let Err(error) = s.check_integrity() {
            panic!("round {round}: the check reported {error} on a sound store");
        }
    }
}

/// Vacuuming keeps every row and the search index.
pub fn maintenance_vacuum_keeps_data(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = populate(s);
    let doomed = user(s, "doomed");
    let chat = conversation(s, doomed.id, "gone soon");
    say(s, doomed.id, chat.id, "pension pension");
    s.delete_user(doomed.id).expect("delete");
    let conversations = listed(s, ada);
    let messages = messages_of(s, ada, conversations[0]);
    let documents = documents_of(s, ada);
    let usage = s.usage_totals(ada, TimeRange::ALL).expect("usage");
    s.vacuum().expect("vacuum");
    assert_eq!(listed(s, ada), conversations);
    assert_eq!(messages_of(s, ada, conversations[0]), messages);
    assert_eq!(documents_of(s, ada), documents);
    assert_eq!(s.usage_totals(ada, TimeRange::ALL).expect("usage"), usage);
    let hits = s
        .search_messages(ada, &SearchQuery::new("pension"))
        .expect("search");
    assert_eq!(hits.len(), 1);
    s.check_integrity().expect("sound after vacuum");
}

/// A backup writes a non-empty file, replaces an existing one, and leaves the store usable.
pub fn maintenance_backup_writes_a_file(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = populate(s);
    let path = scratch_path("backup.db");
    s.backup_to(&path).expect("backup");
    let size = std::fs::metadata(&path).expect("the backup exists").len();
    assert!(size > 0, "the backup is not empty");

    std::fs::write(&path, b"stale").expect("overwrite with junk");
    say(s, ada, listed(s, ada)[0], "written after the first backup");
    s.backup_to(&path).expect("backup over an existing file");
    let replaced = std::fs::read(&path).expect("the backup exists");
    assert!(replaced.len() > 5, "the old file was replaced");
    assert_ne!(replaced, b"stale");
    say(s, ada, listed(s, ada)[0], "the store is still writable");
    s.check_integrity().expect("sound after backups");
    let _ = std::fs::remove_file(&path);
}

/// A backup into a stream writes a non-empty copy and leaves the store as it was; a
/// stream that fails is [`Error::Io`] and changes nothing stored.
pub fn maintenance_backup_writes_a_stream(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = populate(s);
    let conversations = listed(s, ada);
    let messages = messages_of(s, ada, conversations[0]);
    let mut copy = Vec::new();
    s.backup(BackupDestination::Stream(&mut copy))
        .expect("backup to a stream");
    assert!(!copy.is_empty(), "the stream received the copy");

    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the destination went away"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    assert_err!(
        s.backup(BackupDestination::Stream(&mut Broken)),
        Error::Io { .. }
    );
    assert_eq!(listed(s, ada), conversations);
    assert_eq!(messages_of(s, ada, conversations[0]), messages);
    say(s, ada, conversations[0], "the store is still writable");
    s.check_integrity().expect("sound after backups");
}

/// The store's clock is the configured one, and what it writes is stamped by it.
pub fn maintenance_now_is_the_configured_clock(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    assert_eq!(s.now(), super::support::start());
    f.clock.advance(super::support::secs(90));
    let now = s.now();
    assert_eq!(now, super::support::start() + super::support::secs(90));
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "timed");
    assert_eq!((ada.created_at, chat.created_at), (now, now));
}

/// The operator's figures: sessions neither expired nor revoked, every message by role,
/// and the largest conversations and busiest users, most first, at most `top`.
pub fn maintenance_store_figures_count_what_an_operator_asks(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    user(s, "carol");
    s.create_session(ada.id, &crate::NewSession::default())
        .expect("session");
    let (_, gone) = s
        .create_session(bob.id, &crate::NewSession::default())
        .expect("session");
    s.revoke_session(&gone).expect("revoke");
    let big = conversation(s, ada.id, "big");
    let small = conversation(s, bob.id, "small");
    for _ in 0..3 {
        say(s, ada.id, big.id, "question");
        answer(s, ada.id, big.id, "answer");
    }
    say(s, bob.id, small.id, "hello");
    let figures = s.store_figures(10).expect("figures");
    assert_eq!(figures.active_sessions, 1);
    assert_eq!(
        (
            figures.messages_by_role.user,
            figures.messages_by_role.assistant
        ),
        (4, 3)
    );
    let sizes: Vec<_> = figures
        .largest_conversations
        .iter()
        .map(|c| (c.id, c.message_count))
        .collect();
    assert_eq!(sizes, [(big.id, 6), (small.id, 1)]);
    let users: Vec<_> = figures
        .busiest_users
        .iter()
        .map(|u| (u.username.as_str(), u.conversations, u.messages))
        .collect();
    assert_eq!(users, [("ada", 1, 6), ("bob", 1, 1)]);
    let top = s.store_figures(1).expect("figures");
    assert_eq!(top.largest_conversations.len(), 1);
    assert_eq!(top.busiest_users.len(), 1);
    assert_err!(s.store_figures(0), crate::Error::Validation { .. });
}
