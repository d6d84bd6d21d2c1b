//! Workload W1 (see ../shared/anchors/README.md) through chatstore's public API with
//! default settings: C conversations over 20 users; M rounds appending one message to
//! every conversation; R reads of the last 20 messages of a random conversation; L
//! listings of one user's conversations newest first. Prints one JSON line.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin w1_chat -- [C M R L]   # 200 50 10000 1000
//! ```

use std::time::Instant;

use chatstore::{ConversationQuery, ConversationStore, MessageStore};
use chatstore_benches::{BenchStore, w1_message};
use rand::{RngExt, SeedableRng};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are whole numbers: C M R L"))
        .collect();
    let (c_n, m_n, r_n, l_n) = match args[..] {
        [c, m, r, l] => (c, m, r, l),
        _ => (200, 50, 10_000, 1_000),
    };
    let bench = BenchStore::open();
    let store = &bench.store;
    let (users, conversations) = bench.populate(20, c_n);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let messages: Vec<_> = (0..m_n)
        .map(|m| w1_message(m, 100 + rng.random_range(0..400)))
        .collect();

    let started = Instant::now();
    for message in &messages {
        for &(user, conversation) in &conversations {
            store
                .append_message(user, conversation, message)
                .expect("append");
        }
    }
    let append = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for _ in 0..r_n {
        let (user, conversation) = conversations[rng.random_range(0..c_n)];
        let last = store
            .last_messages(user, conversation, 20)
            .expect("last 20");
        assert_eq!(last.len(), 20.min(m_n));
    }
    let read = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for i in 0..l_n {
        let page = store
            .list_conversations(users[i % users.len()], &ConversationQuery::default())
            .expect("listing");
        assert!(!page.items.is_empty() && page.items[0].message_count == m_n as u64);
    }
    let list = started.elapsed().as_secs_f64();

    println!(
        r#"{{"impl": "chatstore-sqlite", "messages": {}, "append_per_s": {}, "last20_per_s": {}, "list_per_s": {}}}"#,
        c_n * m_n,
        ((c_n * m_n) as f64 / append) as u64,
        (r_n as f64 / read) as u64,
        (l_n as f64 / list) as u64
    );
}
