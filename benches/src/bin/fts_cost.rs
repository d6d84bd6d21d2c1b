//! Diagnostic: what keeping the full-text index costs appends (the indexer's batches,
//! which take the write lock from appends).
//! Runs W1's append phase twice through the public API: once as shipped, once on a
//! store whose search index was dropped behind its back (its indexer then fails and
//! tries again at the next append). Prints one JSON line.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin fts_cost -- [C M]   # 200 50
//! ```

use std::time::Instant;

use chatstore::MessageStore;
use chatstore_benches::{BenchStore, w1_message};

fn appends_per_second(bench: &BenchStore, conversations: usize, rounds: usize) -> u64 {
    let (_, conversations) = bench.populate(20, conversations);
    let messages: Vec<_> = (0..rounds)
        .map(|m| w1_message(m, 100 + (m * 97) % 400))
        .collect();
    let started = Instant::now();
    for message in &messages {
        for &(user, conversation) in &conversations {
            bench
                .store
                .append_message(user, conversation, message)
                .expect("append");
        }
    }
    ((conversations.len() * rounds) as f64 / started.elapsed().as_secs_f64()) as u64
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are whole numbers: C M"))
        .collect();
    let (c_n, m_n) = match args[..] {
        [c, m] => (c, m),
        _ => (200, 50),
    };
    let with_index = appends_per_second(&BenchStore::open(), c_n, m_n);
    let without = BenchStore::open();
    rusqlite::Connection::open(without.store.path())
        .and_then(|conn| {
            conn.execute_batch("DROP TRIGGER messages_fts_delete; DROP TABLE messages_fts;")
        })
        .expect("index dropped");
    let without_index = appends_per_second(&without, c_n, m_n);
    println!(
        r#"{{"impl": "chatstore-sqlite", "messages": {}, "append_per_s_with_search_index": {with_index}, "append_per_s_without_search_index": {without_index}}}"#,
        c_n * m_n
    );
}
