//! Workload W1 (see ../shared/anchors/README.md) through chatstore's public API with
//! default settings: C conversations over 20 users; M rounds appending one message to
//! every conversation; R reads of the last 20 messages of a random conversation; L
//! listings of one user's conversations newest first. Prints one JSON line.
//!
//! On SQLite by default (a store in a temporary directory); with `--url postgresql://...`
//! on PostgreSQL, in a schema of its own (`w1_<pid>`) dropped at the end. With
//! `--threads N` the appends come from N threads, thread t owning conversations t, t+N,
//! t+2N...; the line then also gives the median and 99th percentile of one append's
//! latency. Reads and listings stay on one thread.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin w1_chat -- [C M R L]   # 200 50 10000 1000
//! cargo run --release -p chatstore-benches --bin w1_chat -- \
//!     --url postgresql://postgres@127.0.0.1/test --threads 4 200 20 5000 500
//! ```

use std::time::{Duration, Instant};

use chatstore::{ConversationQuery, ConversationStore, MessageStore, UserStore};
use chatstore_benches::{BenchStore, ScratchSchema, W1Args, percentile_us, populate, w1_message};
use chatstore_postgres::{PgOptions, PgStore};
use rand::{RngExt, SeedableRng};

/// Statements one operation sends to PostgreSQL, counted from crates/postgres/src (each a
/// round trip once the connection has prepared it).
///
/// `append_message` (messages.rs, through `Db::write` in db.rs): START TRANSACTION, the
/// conversation's UPDATE ... RETURNING, the message's INSERT (the default parent found
/// inside it), COMMIT. (A named parent adds its check; a message too large for one
/// tsvector adds the INSERT of its parts; neither happens in W1.)
const PG_STATEMENTS_PER_APPEND: usize = 4;
/// `last_messages` (messages.rs): one SELECT outside any transaction (the conversation is
/// loaded too only when the conversation has no messages).
const PG_STATEMENTS_PER_LAST20: usize = 1;
/// `list_conversations` (conversations.rs): one SELECT (`LIST_FIRST_PAGE`).
const PG_STATEMENTS_PER_LIST: usize = 1;

/// What one run measured.
struct Figures {
    append_per_s: u64,
    append_p50_us: u64,
    append_p99_us: u64,
    last20_per_s: u64,
    list_per_s: u64,
}

fn main() {
    let args = W1Args::from_env();
    let messages = args.conversations * args.rounds;
    match &args.url {
        None => {
            let bench = BenchStore::open();
            let f = run(&bench.store, &args);
            if args.threads == 1 {
                println!(
                    r#"{{"impl": "chatstore-sqlite", "messages": {messages}, "append_per_s": {}, "last20_per_s": {}, "list_per_s": {}}}"#,
                    f.append_per_s, f.last20_per_s, f.list_per_s
                );
            } else {
                println!(
                    r#"{{"impl": "chatstore-sqlite", "messages": {messages}, "threads": {}, "append_per_s": {}, "append_p50_us": {}, "append_p99_us": {}, "last20_per_s": {}, "list_per_s": {}}}"#,
                    args.threads,
                    f.append_per_s,
                    f.append_p50_us,
                    f.append_p99_us,
                    f.last20_per_s,
                    f.list_per_s
                );
            }
        }
        Some(url) => {
            let schema = ScratchSchema::new(url, "w1");
            let f = {
                let store = PgStore::open_with(
                    chatstore::Config::new(url.as_str()),
                    &PgOptions::default().schema(schema.name.as_str()),
                )
                .expect("PostgreSQL store opens");
                run(&store, &args)
            };
            println!(
                r#"{{"impl": "chatstore-postgres", "messages": {messages}, "threads": {}, "append_per_s": {}, "append_p50_us": {}, "append_p99_us": {}, "last20_per_s": {}, "list_per_s": {}, "statements_per_append": {PG_STATEMENTS_PER_APPEND}, "statements_per_last20": {PG_STATEMENTS_PER_LAST20}, "statements_per_list": {PG_STATEMENTS_PER_LIST}}}"#,
                args.threads,
                f.append_per_s,
                f.append_p50_us,
                f.append_p99_us,
                f.last20_per_s,
                f.list_per_s
            );
        }
    }
}

/// W1 on `store`.
fn run<S: UserStore + ConversationStore + MessageStore + Sync>(
    store: &S,
    args: &W1Args,
) -> Figures {
    let (c_n, m_n, threads) = (args.conversations, args.rounds, args.threads);
    let (users, conversations) = populate(store, 20, c_n);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let messages: Vec<_> = (0..m_n)
        .map(|m| w1_message(m, 100 + rng.random_range(0..400)))
        .collect();

    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (conversations, messages) = (&conversations, &messages);
                scope.spawn(move || {
                    let mine: Vec<_> = conversations.iter().skip(t).step_by(threads).collect();
                    let mut latencies = Vec::with_capacity(mine.len() * messages.len());
                    for message in messages {
                        for &&(user, conversation) in &mine {
                            let one = Instant::now();
                            store
                                .append_message(user, conversation, message)
                                .expect("append");
                            latencies.push(one.elapsed());
                        }
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("appending thread"))
            .collect()
    });
    let append = started.elapsed().as_secs_f64();
    latencies.sort_unstable();

    let started = Instant::now();
    for _ in 0..args.reads {
        let (user, conversation) = conversations[rng.random_range(0..c_n)];
        let last = store
            .last_messages(user, conversation, 20)
            .expect("last 20");
        assert_eq!(last.len(), 20.min(m_n));
    }
    let read = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for i in 0..args.listings {
        let page = store
            .list_conversations(users[i % users.len()], &ConversationQuery::default())
            .expect("listing");
        assert!(!page.items.is_empty() && page.items[0].message_count == m_n as u64);
    }
    let list = started.elapsed().as_secs_f64();

    Figures {
        append_per_s: ((c_n * m_n) as f64 / append) as u64,
        append_p50_us: percentile_us(&latencies, 50),
        append_p99_us: percentile_us(&latencies, 99),
        last20_per_s: (args.reads as f64 / read) as u64,
        list_per_s: (args.listings as f64 / list) as u64,
    }
}
