//! The floor for workload W1 on PostgreSQL (see ../shared/anchors/README.md): the bare
//! `postgres` crate, one connection per thread, one prepared statement per step, one
//! transaction per appended message (bump the conversation's counters RETURNING its
//! count, insert the message). Its own minimal tables, with the columns chatstore writes
//! for a message, its `tsvector` (`to_tsvector('simple', content)`) and a GIN index on
//! it, so that the floor does the same indexing work. In a schema of its own
//! (`w1raw_<pid>`), dropped at the end. Same arguments and JSON line as `w1_chat`.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin w1_raw_postgres -- \
//!     --url postgresql://postgres@127.0.0.1/test --threads 4 200 20 5000 500
//! ```

use std::time::{Duration, Instant, SystemTime};

use chatstore_benches::{ScratchSchema, W1Args, percentile_us, w1_message};
use rand::{RngExt, SeedableRng};
use uuid::Uuid;

const SCHEMA: &str = "
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);
CREATE TABLE conversations (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title text,
    status text NOT NULL DEFAULT 'active',
    message_count bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    last_message_at timestamptz,
    last_activity_at timestamptz NOT NULL
);
CREATE INDEX idx_conversations_user_activity ON conversations(user_id, last_activity_at DESC);
CREATE TABLE messages (
    id uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    parent_id uuid,
    role text NOT NULL,
    content text NOT NULL,
    request_id text,
    source text,
    tokens bigint,
    model_name text,
    latency_ms bigint,
    confidence_score double precision,
    low_confidence_warning boolean NOT NULL DEFAULT false,
    rag_metadata jsonb,
    files jsonb,
    created_at timestamptz NOT NULL,
    search_vector tsvector NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE INDEX idx_messages_search ON messages USING gin (search_vector);
";

/// Step 1 of an append: the conversation's counters, and the new message's position.
const BUMP: &str = "UPDATE conversations SET message_count = message_count + 1,
        last_message_at = $1, last_activity_at = $1
    WHERE id = $2 RETURNING message_count";
/// Step 2: the message, its parent (the previous one) found in the same statement.
const INSERT: &str = "INSERT INTO messages (id, conversation_id, seq, parent_id, role, content,
        request_id, tokens, model_name, latency_ms, created_at, search_vector)
    VALUES ($1, $2, $3,
            (SELECT p.id FROM messages p WHERE p.conversation_id = $2 AND p.seq = $3::bigint - 1),
            $4, $5, $6, $7, $8, $9, $10, to_tsvector('simple', $5))";
/// The last 20 messages of a conversation, every column chatstore reads.
const LAST20: &str = "SELECT id, seq, parent_id, role, content, request_id, source, tokens,
        model_name, latency_ms, confidence_score, low_confidence_warning, rag_metadata,
        files, created_at
    FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 20";
/// A user's conversations newest first, with their message counts.
const LIST: &str = "SELECT id, title, status, message_count, last_activity_at
    FROM conversations WHERE user_id = $1 AND status <> 'deleted'
    ORDER BY last_activity_at DESC, id DESC LIMIT 50";

/// Statements per operation: BEGIN, BUMP, INSERT, COMMIT; LAST20; LIST.
const STATEMENTS_PER_APPEND: usize = 4;
const STATEMENTS_PER_LAST20: usize = 1;
const STATEMENTS_PER_LIST: usize = 1;

fn main() {
    let args = W1Args::from_env();
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1:5432/test".to_owned());
    let schema = ScratchSchema::new(&url, "w1raw");
    {
        let mut admin =
            postgres::Client::connect(&url, postgres::NoTls).expect("connects to PostgreSQL");
        admin
            .batch_execute(&format!("CREATE SCHEMA {}", schema.name))
            .expect("schema");
    }
    let mut db = schema.connect();
    db.batch_execute(SCHEMA).expect("tables");

    let (c_n, m_n, threads) = (args.conversations, args.rounds, args.threads);
    let users: Vec<Uuid> = (0..20)
        .map(|u| {
            let id = Uuid::now_v7();
            db.execute(
                "INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3)",
                &[&id, &format!("user{u}@example.com"), &SystemTime::now()],
            )
            .expect("user");
            id
        })
        .collect();
    let conversations: Vec<Uuid> = (0..c_n)
        .map(|c| {
            let id = Uuid::now_v7();
            let now = SystemTime::now();
            db.execute(
                "INSERT INTO conversations (id, user_id, title, created_at, last_activity_at)
                 VALUES ($1, $2, $3, $4, $4)",
                &[&id, &users[c % users.len()], &format!("chat {c}"), &now],
            )
            .expect("conversation");
            id
        })
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let messages: Vec<_> = (0..m_n)
        .map(|m| w1_message(m, 100 + rng.random_range(0..400)))
        .collect();

    // Every thread connects and prepares before the clock starts, as a pool would have.
    let mut clients: Vec<_> = (0..threads)
        .map(|_| {
            let mut client = schema.connect();
            let bump = client.prepare(BUMP).expect("prepare");
            let insert = client.prepare(INSERT).expect("prepare");
            (client, bump, insert)
        })
        .collect();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = clients
            .iter_mut()
            .enumerate()
            .map(|(t, (client, bump, insert))| {
                let (conversations, messages) = (&conversations, &messages);
                scope.spawn(move || {
                    let mine: Vec<_> = conversations.iter().skip(t).step_by(threads).collect();
                    let mut latencies = Vec::with_capacity(mine.len() * messages.len());
                    for message in messages {
                        let meta = &message.metadata;
                        let tokens = meta.tokens.map(i64::from);
                        let latency = meta.latency_ms.map(|l| l as i64);
                        for &conversation in &mine {
                            let one = Instant::now();
                            let now = SystemTime::now();
                            let mut tx = client.transaction().expect("begin");
                            let seq: i64 = tx
                                .query_one(&*bump, &[&now, conversation])
                                .expect("bump")
                                .get(0);
                            tx.execute(
                                &*insert,
                                &[
                                    &Uuid::now_v7(),
                                    conversation,
                                    &seq,
                                    &message.role.as_str(),
                                    &message.content,
                                    &meta.request_id,
                                    &tokens,
                                    &meta.model_name,
                                    &latency,
                                    &now,
                                ],
                            )
                            .expect("insert");
                            tx.commit().expect("commit");
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
    drop(clients);

    let last20 = db.prepare(LAST20).expect("prepare");
    let started = Instant::now();
    for _ in 0..args.reads {
        let conversation = conversations[rng.random_range(0..c_n)];
        let rows = db.query(&last20, &[&conversation]).expect("last 20");
        // Every column decoded, as chatstore's reader does.
        type Message = (
            Uuid,
            i64,
            Option<Uuid>,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<f64>,
            bool,
            Option<serde_json::Value>,
            Option<serde_json::Value>,
            SystemTime,
        );
        let mut decoded: Vec<Message> = rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    r.get(7),
                    r.get(8),
                    r.get(9),
                    r.get(10),
                    r.get(11),
                    r.get(12),
                    r.get(13),
                    r.get(14),
                )
            })
            .collect();
        decoded.reverse();
        assert_eq!(decoded.len(), 20.min(m_n));
    }
    let read = started.elapsed().as_secs_f64();

    let list = db.prepare(LIST).expect("prepare");
    let started = Instant::now();
    for i in 0..args.listings {
        let rows = db
            .query(&list, &[&users[i % users.len()]])
            .expect("listing");
        type Summary = (Uuid, Option<String>, String, i64, SystemTime);
        let decoded: Vec<Summary> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        assert!(!decoded.is_empty() && decoded[0].3 == m_n as i64);
    }
    let list = started.elapsed().as_secs_f64();
    drop(db);

    println!(
        r#"{{"impl": "raw-postgres", "messages": {}, "threads": {threads}, "append_per_s": {}, "append_p50_us": {}, "append_p99_us": {}, "last20_per_s": {}, "list_per_s": {}, "statements_per_append": {STATEMENTS_PER_APPEND}, "statements_per_last20": {STATEMENTS_PER_LAST20}, "statements_per_list": {STATEMENTS_PER_LIST}}}"#,
        c_n * m_n,
        ((c_n * m_n) as f64 / append) as u64,
        percentile_us(&latencies, 50),
        percentile_us(&latencies, 99),
        (args.reads as f64 / read) as u64,
        (args.listings as f64 / list) as u64
    );
}
