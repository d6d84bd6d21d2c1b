//! Concurrency: what a store must keep true when many threads, through one store or
//! through two stores on the same database, write at once. SQLite gets most of it from
//! its single writer; a multi-writer database needs the locks or conditional updates
//! docs/architecture.md lists under "Check-then-write sequences".
//!
//! Every check starts its threads together (a barrier), repeats the race where one try
//! proves little, and asserts only outcomes, never times: a check fails whenever an
//! interleaving it provokes breaks a rule (it cannot prove a rarer one never does).

use std::collections::HashSet;
use std::sync::Barrier;
use std::thread;

use super::support::{
    all_users, conversation, conversations_of, document, documents_of, password, user,
};
use super::{Backend, test_config};
use crate::{
    ConflictKind, ConversationId, Error, Message, MessageId, NewConversation, NewMessage, NewUser,
    Password, PasswordParams, SearchQuery, Store, Visibility,
};

/// Two stores on one database, sharing one configuration and clock: the second is what
/// another process (or another pool) of the application would see.
fn two_stores(backend: &dyn Backend) -> (Box<dyn Store>, Box<dyn Store>) {
    let (config, _clock) = test_config();
    let first = backend.open(config.clone()).expect("backend opens");
    let second = backend
        .open(config)
        .expect("backend opens a second store on the same database");
    (first, second)
}

/// Appends to one conversation from many threads, through two stores, take unique,
/// gap-free positions 1..=n in the order each thread made them; every message but the
/// first names the one just before it as its parent; the conversation's count is exactly
/// n; every message is searchable. Readers meanwhile only ever see a gap-free tail, and
/// never a count below a position they already saw.
pub fn concurrency_appends_get_unique_contiguous_positions(backend: &dyn Backend) {
    const WRITERS: usize = 6;
    const EACH: usize = 40;
    const TOTAL: u64 = (WRITERS * EACH) as u64;
    let (first, second) = two_stores(backend);
    let stores: [&dyn Store; 2] = [&*first, &*second];
    let ada = user(stores[0], "ada");
    let chat = conversation(stores[0], ada.id, "busy");
    let barrier = Barrier::new(WRITERS + 2);
    let written: Vec<Vec<Message>> = thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (store, barrier) = (stores[w % 2], &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    (0..EACH)
                        .map(|i| {
                            store
                                .append_message(
                                    ada.id,
                                    chat.id,
                                    &NewMessage::user(format!("writer{w} message{i} zebra")),
                                )
                                .expect("a concurrent append succeeds")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (store, barrier) = (stores[r % 2], &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    for _ in 0..60 {
                        let last = store
                            .last_messages(ada.id, chat.id, 20)
                            .expect("reading during appends");
                        assert!(
                            last.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
                            "a reader saw a gap: {:?}",
                            last.iter().map(|m| m.seq).collect::<Vec<_>>()
                        );
                        let seen = last.last().map_or(0, |m| m.seq);
                        let count = store
                            .conversation(ada.id, chat.id)
                            .expect("conversation")
                            .message_count;
                        assert!(
                            count >= seen,
                            "message_count {count} read after seeing position {seen}"
                        );
                    }
                })
            })
            .collect();
        readers
            .into_iter()
            .for_each(|r| r.join().expect("reader thread"));
        writers
            .into_iter()
            .map(|w| w.join().expect("writer thread"))
            .collect()
    });

    for (w, mine) in written.iter().enumerate() {
        assert!(
            mine.windows(2).all(|p| p[0].seq < p[1].seq),
            "writer {w}'s messages are out of its order"
        );
    }
    let mut seqs: Vec<u64> = written.iter().flatten().map(|m| m.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=TOTAL).collect::<Vec<u64>>(), "positions");

    let stored = super::support::messages_of(stores[1], ada.id, chat.id);
    assert_eq!(stored.len() as u64, TOTAL);
    let ids: HashSet<MessageId> = written.iter().flatten().map(|m| m.id).collect();
    assert_eq!(
        ids,
        stored.iter().map(|m| m.id).collect(),
        "every append stored"
    );
    for (i, m) in stored.iter().enumerate() {
        assert_eq!(m.seq, i as u64 + 1, "listing order");
        let previous = i.checked_sub(1).map(|p| stored[p].id);
        assert_eq!(
            m.parent_id, previous,
            "message {} follows the one before",
            m.seq
        );
    }
    let counted = stores[0]
        .conversation(ada.id, chat.id)
        .expect("conversation");
    assert_eq!(counted.message_count, TOTAL, "message_count is exact");
    assert_eq!(
        counted.last_message_at,
        stored.last().map(|m| m.created_at),
        "last_message_at is the last message's time"
    );
    let mut query = SearchQuery::new("zebra");
    query.limit = 1000;
    let hits = stores[0]
        .search_messages(ada.id, &query)
        .expect("search after concurrent appends");
    assert_eq!(hits.len() as u64, TOTAL, "every message is searchable");
}

/// Concurrent registrations of one e-mail address (and, separately, of one username in
/// different letter cases), through two stores: exactly one succeeds, every other is a
/// [`ConflictKind::Unique`] conflict, and one account exists.
pub fn concurrency_registrations_of_one_email_let_exactly_one_through(backend: &dyn Backend) {
    const THREADS: usize = 8;
    let (first, second) = two_stores(backend);
    let stores: [&dyn Store; 2] = [&*first, &*second];
    let same_email: Vec<NewUser> = (0..THREADS)
        .map(|i| NewUser::new(&format!("user{i}"), "same@example.com", &password("same")))
        .collect();
    let same_name: Vec<NewUser> = ["Zoë", "zoë", "ZOË", "zoË"]
        .iter()
        .cycle()
        .take(THREADS)
        .enumerate()
        .map(|(i, name)| NewUser::new(name, &format!("zoe{i}@example.com"), &password("zoe")))
        .collect();
    for (what, attempts) in [("one e-mail", same_email), ("one username", same_name)] {
        let before = all_users(stores[0]).len();
        let barrier = Barrier::new(THREADS);
        let outcomes: Vec<_> = thread::scope(|scope| {
            let threads: Vec<_> = attempts
                .iter()
                .enumerate()
                .map(|(i, new)| {
                    let (store, barrier) = (stores[i % 2], &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        store.create_user(new)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("registration thread"))
                .collect()
        });
        let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert_eq!(
            winners.len(),
            1,
            "{what}: exactly one registration succeeds"
        );
        for outcome in &outcomes {
            if let Err(error) = outcome {
                assert!(
                    matches!(
                        error,
                        Error::Conflict {
                            kind: ConflictKind::Unique,
                            ..
                        }
                    ),
                    "{what}: a losing registration is a unique conflict, got {error:?}"
                );
            }
        }
        let after = all_users(stores[1]);
        assert_eq!(after.len(), before + 1, "{what}: one account more");
        assert!(
            after.contains(winners[0]),
            "{what}: the account is the winner's"
        );
    }
}

/// Many threads creating conversations for one user at once, through two stores, lose
/// none: every id is distinct, and the listing shows exactly the ones created.
pub fn concurrency_conversation_creations_lose_none(backend: &dyn Backend) {
    const THREADS: usize = 4;
    const EACH: usize = 25;
    let (first, second) = two_stores(backend);
    let stores: [&dyn Store; 2] = [&*first, &*second];
    let ada = user(stores[0], "ada");
    let barrier = Barrier::new(THREADS);
    let created: Vec<ConversationId> = thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (store, barrier) = (stores[t % 2], &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    (0..EACH)
                        .map(|i| conversation(store, ada.id, &format!("{t}-{i}")).id)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().expect("creating thread"))
            .collect()
    });
    let unique: HashSet<ConversationId> = created.iter().copied().collect();
    assert_eq!(unique.len(), THREADS * EACH, "ids are distinct");
    for store in stores {
        let listed: HashSet<ConversationId> = conversations_of(store, ada.id, &[], Visibility::All)
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(
            listed, unique,
            "the listing shows every conversation created"
        );
    }
}

/// A document deleted while conversations select it leaves no selection naming it.
/// Each round deletes a document while other threads (through the other store) select
/// it for existing conversations and start a new conversation with it selected; a
/// selection either lands first (and the deletion removes it from the conversation) or
/// fails with not-found. Afterwards every conversation selects only existing documents.
pub fn concurrency_deleted_document_leaves_no_dangling_selection(backend: &dyn Backend) {
    const ROUNDS: usize = 30;
    const SELECTORS: usize = 3;
    let (first, second) = two_stores(backend);
    let stores: [&dyn Store; 2] = [&*first, &*second];
    let ada = user(stores[0], "ada");
    let kept = document(stores[0], ada.id, "kept.pdf");
    let chats: Vec<ConversationId> = (0..SELECTORS)
        .map(|i| conversation(stores[0], ada.id, &format!("chat {i}")).id)
        .collect();
    let refused_or_ok = |what: &str, outcome: crate::Result<Vec<crate::DocumentId>>| match outcome {
        Ok(selected) => assert!(
            selected.contains(&kept.id),
            "{what}: a selection that landed holds what was asked"
        ),
        Err(Error::NotFound { .. }) => {}
        Err(other) => panic!("{what}: expected success or not-found, got {other:?}"),
    };
    for round in 0..ROUNDS {
        let doomed = document(stores[0], ada.id, &format!("doomed-{round}.pdf"));
        let wanted = [kept.id, doomed.id];
        let barrier = Barrier::new(SELECTORS + 2);
        thread::scope(|scope| {
            let (barrier, wanted) = (&barrier, &wanted);
            let deleter = {
                let store = stores[round % 2];
                scope.spawn(move || {
                    barrier.wait();
                    store.delete_document(ada.id, doomed.id)
                })
            };
            let selectors: Vec<_> = chats
                .iter()
                .map(|&chat| {
                    let store = stores[(round + 1) % 2];
                    scope.spawn(move || {
                        barrier.wait();
                        store
                            .set_selected_documents(ada.id, chat, wanted)
                            .map(|c| c.selected_document_ids)
                    })
                })
                .collect();
            let creator = {
                let store = stores[(round + 1) % 2];
                scope.spawn(move || {
                    barrier.wait();
                    let new = NewConversation {
                        selected_document_ids: wanted.to_vec(),
                        ..NewConversation::titled(&format!("started in round {round}"))
                    };
                    store
                        .create_conversation(ada.id, &new)
                        .map(|c| c.selected_document_ids)
                })
            };
            deleter
                .join()
                .expect("deleting thread")
                .expect("the document is deleted");
            for selector in selectors {
                refused_or_ok("select", selector.join().expect("selecting thread"));
            }
            refused_or_ok("create", creator.join().expect("creating thread"));
        });
        let existing: HashSet<_> = documents_of(stores[0], ada.id)
            .iter()
            .map(|d| d.id)
            .collect();
        assert!(!existing.contains(&doomed.id), "round {round}: deleted");
        for summary in conversations_of(stores[1], ada.id, &[], Visibility::All) {
            let selected = stores[1]
                .conversation(ada.id, summary.id)
                .expect("conversation")
                .selected_document_ids;
            assert!(
                selected.iter().all(|d| existing.contains(d)),
                "round {round}: conversation {} selects a deleted document: {selected:?}",
                summary.id
            );
        }
    }
}

/// A password change racing a login whose rehash (the store has new hashing parameters)
/// replaces the stored hash: the change always wins. The login may succeed (it read the
/// account first) or be refused, but afterwards the old password never works again and
/// the new one does; a login's rehash must only replace the hash it verified.
pub fn concurrency_password_change_is_not_undone_by_a_login(backend: &dyn Backend) {
    const ROUNDS: usize = 20;
    let (config, _clock) = test_config();
    let plain = backend.open(config.clone()).expect("backend opens");
    let stronger = PasswordParams {
        memory_kib: 2048,
        iterations: 2,
        parallelism: 1,
    };
    let rehashing = backend
        .open(config.password_params(stronger))
        .expect("backend opens with other hashing parameters");
    let ada = user(&*plain, "ada");
    for round in 0..ROUNDS {
        let old = Password::new(format!("old password {round}"));
        let new = Password::new(format!("new password {round}"));
        plain.set_password(ada.id, &old).expect("reset");
        let barrier = Barrier::new(2);
        let (login, change) = thread::scope(|scope| {
            let login = scope.spawn(|| {
                barrier.wait();
                rehashing.authenticate("ada", &old)
            });
            let change = scope.spawn(|| {
                barrier.wait();
                plain.set_password(ada.id, &new)
            });
            (
                login.join().expect("login thread"),
                change.join().expect("password thread"),
            )
        });
        change.expect("the password change succeeds");
        match login {
            Ok(_) | Err(Error::InvalidCredentials) => {}
            Err(other) => panic!("round {round}: login failed with {other:?}"),
        }
        assert_err!(
            plain.authenticate("ada", &old),
            Error::InvalidCredentials,
            "round {round}: the old password works again after it was changed"
        );
        plain
            .authenticate("ada", &new)
            .unwrap_or_else(|e| panic!("round {round}: the new password fails: {e:?}"));
    }
}
