//! Workload W2 (see ../shared/anchors/README.md) through chatstore-blob's public API
//! with default settings (blake3 on write, a checksum check on every read): N attachments,
//! each a file of S bytes plus a thumbnail of S/8 bytes stored together under
//! `<message id>/<index>` and `<message id>/<index>.thumb`; then R reads of random files.
//! Prints one JSON line.
//!
//! Unlike the anchor, every attachment has its own bytes: identical files would all be
//! stored once here (the store is content-addressed), which would flatter the writes.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin w2_blob -- [N S R [PAGE]]   # 10000 10240 20000
//! cargo run --release -p chatstore-benches --bin w2_blob -- --url postgresql://postgres@127.0.0.1/test [N S R]
//! ```
//!
//! PAGE, when given, is the page size `files.db` is created with (to compare layouts).
//! With `--url`, the attachments go to a PostgreSQL store (`PgBlobStore`) in a schema of
//! its own, dropped at the end.

use std::time::Instant;

use chatstore::{BlobKey, BlobStore, Config, MessageId};
use chatstore_benches::ScratchSchema;
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::{PgOptions, PgStore};
use rand::{RngExt, SeedableRng};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let url = match args.first().map(String::as_str) {
        Some("--url") if args.len() > 1 => Some(args.drain(..2).nth(1).expect("a url")),
        _ => None,
    };
    let args: Vec<usize> = args
        .iter()
        .map(|a| a.parse().expect("arguments are whole numbers: N S R"))
        .collect();
    let (n, size, reads, page) = match args[..] {
        [n, s, r] => (n, s, r, None),
        [n, s, r, page] => (n, s, r, Some(page as u32)),
        _ => (10_000, 10_240, 20_000, None),
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    // Declared before the store: dropped after it.
    let schema = url.as_deref().map(|url| ScratchSchema::new(url, "w2"));
    let (store, name): (Box<dyn BlobStore>, _) = match &schema {
        Some(schema) => {
            let options = PgOptions::default().schema(schema.name.as_str());
            let main = PgStore::open_with(Config::new(schema.url.as_str()), &options)
                .expect("PostgreSQL store opens");
            (Box::new(main.blobs(1 << 30)), "chatstore-postgres-blob")
        }
        None => {
            let mut config = BlobConfig::new(dir.path().join("files.db"));
            if page.is_some() {
                config.sqlite.page_size = page;
            }
            let store = SqliteBlobStore::open(config).expect("blob store opens");
            (Box::new(store), "chatstore-blob")
        }
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let base: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let keys: Vec<BlobKey> = (0..n)
        .map(|i| BlobKey::file(MessageId::new(), (i % 3) as u32))
        .collect();
    let order: Vec<usize> = (0..reads).map(|_| rng.random_range(0..n)).collect();

    let mut file = base.clone();
    let started = Instant::now();
    for (i, key) in keys.iter().enumerate() {
        // Distinct bytes per attachment: its number in the first eight bytes.
        file[..8.min(size)].copy_from_slice(&(i as u64).to_le_bytes()[..8.min(size)]);
        let thumb = BlobKey::thumbnail(key.message, key.index);
        store
            .put_all(&[(*key, &file), (thumb, &file[..size / 8])])
            .expect("put");
    }
    let write = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut total = 0;
    for &i in &order {
        total += store.get(&keys[i]).expect("get").len();
    }
    let read = started.elapsed().as_secs_f64();
    assert_eq!(total, reads * size);
    let page = page
        .map(|p| format!(r#", "page_size": {p}"#))
        .unwrap_or_default();
    println!(
        r#"{{"impl": "{name}", "attachments": {n}, "size": {size}{page}, "write_per_s": {}, "read_per_s": {}}}"#,
        (n as f64 / write) as u64,
        (reads as f64 / read) as u64
    );
}
