//! How long a whole store takes to copy between backends (`chatstore::transfer`): a
//! SQLite store with W1's conversations and messages, attachments and a document's
//! chunks with embeddings is copied to PostgreSQL (a schema of its own, `copy_<pid>`,
//! dropped at the end) and back into a new SQLite store; each copy is timed apart from
//! its verification. One JSON line per direction.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin store_copy -- \
//!     --url postgresql://postgres@127.0.0.1/test 100 100 200
//! ```
//! (conversations, messages per conversation, attachments of 100 KB)

use std::time::Instant;

use chatstore::transfer::TableTransfer;
use chatstore::transfer::{CopyOptions, Endpoint, copy_store, verify_copy};
use chatstore::{
    BlobStore, ChatStore, CollectionSpec, Config, Distance, NewAttachment, NewChunk,
    NewConversation, NewDocument, NewUser, NoVectorIndex, PasswordParams, Store,
};
use chatstore_benches::{ScratchSchema, w1_message};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::{PgOptions, PgStore};
use chatstore_sqlite::SqliteStore;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let url = match args.iter().position(|a| a == "--url") {
        Some(i) => {
            let url = args.get(i + 1).cloned().expect("--url needs a value");
            args.drain(i..=i + 1);
            url
        }
        None => "postgresql://postgres@127.0.0.1:5432/test".to_owned(),
    };
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|a| a.parse().expect("a number"))
            .unwrap_or(default)
    };
    let (conversations, messages, attachments) = (number(0, 100), number(1, 100), number(2, 200));

    let dir = tempfile::tempdir().expect("temporary directory");
    let config = || Config::new("copy").password_params(PasswordParams::fast_for_tests());
    let sqlite = |name: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(&path).expect("directory");
        let store =
            SqliteStore::open(config().database_url(path.join("chatstore.db").to_string_lossy()))
                .expect("SQLite opens");
        let blobs =
            SqliteBlobStore::open(BlobConfig::new(path.join("files.db"))).expect("files.db");
        ChatStore::new(store, blobs, NoVectorIndex).expect("tied")
    };
    let source = sqlite("source");
    let started = Instant::now();
    fill(&source, conversations, messages, attachments);
    eprintln!(
        "filled the source in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let schema = ScratchSchema::new(&url, "copy");
    let pg_store = PgStore::open_with(
        config().database_url(url.clone()),
        &PgOptions::default().schema(schema.name.clone()),
    )
    .expect("PostgreSQL opens");
    let pg_blobs = pg_store.blobs(64 << 20);
    let back = sqlite("back");

    measure(
        "sqlite_to_postgres",
        Endpoint {
            rows: source.store(),
            blobs: source.blobs(),
        },
        Endpoint {
            rows: &pg_store,
            blobs: &pg_blobs,
        },
    );
    measure(
        "postgres_to_sqlite",
        Endpoint {
            rows: &pg_store,
            blobs: &pg_blobs,
        },
        Endpoint {
            rows: back.store(),
            blobs: back.blobs(),
        },
    );
}

/// Copies without verifying, then verifies; prints one JSON line.
fn measure(direction: &str, source: Endpoint<'_>, target: Endpoint<'_>) {
    let options = CopyOptions {
        verify: false,
        ..CopyOptions::default()
    };
    let started = Instant::now();
    let report = copy_store(source, target, &options, &mut |_| {}).expect("copy");
    let copy = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let checks = verify_copy(source, target, options.batch_rows, &mut |_| {}).expect("verify");
    let verify = started.elapsed().as_secs_f64();
    assert!(checks.iter().all(|check| check.matches()), "{checks:?}");
    let rows = report.rows_written();
    let bytes = report.blobs.bytes;
    println!(
        "{{\"direction\":\"{direction}\",\"rows\":{rows},\"attachments\":{},\"attachment_mb\":{:.1},\"copy_s\":{copy:.2},\"rows_per_s\":{:.0},\"verify_s\":{verify:.2}}}",
        report.blobs.copied,
        bytes as f64 / 1e6,
        rows as f64 / copy,
    );
}

/// Users with W1's conversations (messages of 300 bytes with metadata), attachments
/// of 100 KB and a document of 500 chunks with 384-dimensional embeddings.
fn fill<S: Store + TableTransfer, B: BlobStore>(
    chat: &ChatStore<S, B, NoVectorIndex>,
    conversations: usize,
    messages: usize,
    attachments: usize,
) {
    let s = chat.store();
    let users: Vec<_> = (0..10)
        .map(|i| {
            s.create_user(&NewUser::new(
                &format!("user{i}"),
                &format!("user{i}@example.com"),
                "a password of some length",
            ))
            .expect("user")
        })
        .collect();
    let mut with_files = 0;
    for c in 0..conversations {
        let user = &users[c % users.len()];
        let talk = s
            .create_conversation(user.id, &NewConversation::titled(&format!("talk {c}")))
            .expect("conversation");
        for m in 0..messages {
            if with_files < attachments && m == 0 {
                let bytes: Vec<u8> = (0..100_000u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8 ^ c as u8)
                    .collect();
                chat.append_with_attachments(
                    user.id,
                    talk.id,
                    &w1_message(m, 300),
                    vec![NewAttachment::new(
                        "data.bin",
                        "application/octet-stream",
                        bytes,
                    )],
                )
                .expect("attachment");
                with_files += 1;
            } else {
                s.append_message(user.id, talk.id, &w1_message(m, 300))
                    .expect("append");
            }
        }
    }
    let spec = CollectionSpec::new("copy", 384, Distance::Cosine).expect("spec");
    s.create_embedding_collection(&spec).expect("collection");
    let owner = users[0].id;
    let document = s
        .create_document(
            owner,
            &NewDocument::new("handbook.pdf", "/docs/handbook.pdf"),
        )
        .expect("document");
    s.start_processing(owner, document.id).expect("processing");
    let chunks: Vec<NewChunk> = (0..500)
        .map(|i| {
            NewChunk::new(
                i,
                format!("chunk {i} of the handbook, about lamps and lenses"),
            )
        })
        .collect();
    let vectors: Vec<Vec<f32>> = (0..500)
        .map(|i| {
            (0..384)
                .map(|d| ((i * 31 + d) % 97) as f32 / 97.0)
                .collect()
        })
        .collect();
    s.complete_with_chunks(owner, document.id, "copy", &chunks, &vectors)
        .expect("chunks");
}
