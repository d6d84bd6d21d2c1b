//! Workload W2 (see ../shared/anchors/README.md) on the layout issue 11 weighs for large
//! attachments: contents stored as files beside `files.db`, named by their blake3 hash,
//! with a SQLite row per key and per content (size, and the xxh3-64 of every 64 KiB
//! chunk, as `chatstore-blob` keeps them). A write hashes the file, writes it under a
//! temporary name, syncs it (unless the fourth argument is 0), renames it into place and
//! then commits the rows; a read looks the key up, reads the file and checks each chunk.
//! Not a store: no deletion, sweep or backup, only the cost of the two paths. Prints one
//! JSON line, as `w2_blob` does.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin w2_files_option -- [N S R [SYNC]]   # 1000 1048576 2000 1
//! ```

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rusqlite::{Connection, params};
use xxhash_rust::xxh3::xxh3_64;

/// The chunk each checksum covers.
const CHUNK: usize = 64 * 1024;

fn checks(data: &[u8]) -> Vec<u8> {
    data.chunks(CHUNK)
        .flat_map(|chunk| xxh3_64(chunk).to_le_bytes())
        .collect()
}

/// Stores `data` under `key`: the file first (synced when `sync`), then the rows.
fn put(db: &Connection, dir: &Path, key: &str, data: &[u8], sync: bool) -> rusqlite::Result<()> {
    let hash = blake3::hash(data).to_hex().to_string();
    let temporary = dir.join(format!("{hash}.tmp"));
    let mut file = std::fs::File::create(&temporary).expect("create the file");
    file.write_all(data).expect("write the file");
    if sync {
        file.sync_all().expect("sync the file");
    }
    std::fs::rename(&temporary, dir.join(&hash)).expect("rename the file");
    let tx = db.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO contents (hash, size, checks) VALUES (?1, ?2, ?3)",
        params![hash, data.len() as i64, checks(data)],
    )?;
    tx.execute(
        "INSERT INTO blobs (key, content_id) VALUES (?1, ?2)",
        params![key, tx.last_insert_rowid()],
    )?;
    tx.commit()
}

/// The checked bytes under `key`.
fn get(db: &Connection, dir: &Path, key: &str) -> rusqlite::Result<Vec<u8>> {
    let (hash, size, stored): (String, i64, Vec<u8>) = db
        .prepare_cached(
            "SELECT c.hash, c.size, c.checks FROM blobs b JOIN contents c ON c.id = b.content_id
             WHERE b.key = ?1",
        )?
        .query_row([key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    let data = std::fs::read(dir.join(hash)).expect("read the file");
    assert_eq!(data.len() as i64, size, "{key}: size");
    assert!(checks(&data) == stored, "{key}: checksums");
    Ok(data)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("arguments are whole numbers: N S R [SYNC]")
        })
        .collect();
    let (n, size, reads, sync) = match args[..] {
        [n, s, r] => (n, s, r, true),
        [n, s, r, sync] => (n, s, r, sync != 0),
        _ => (1000, 1 << 20, 2000, true),
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let contents = dir.path().join("contents");
    std::fs::create_dir(&contents).expect("contents directory");
    let db = Connection::open(dir.path().join("files.db")).expect("open files.db");
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 1073741824;
         CREATE TABLE contents (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
                                size INTEGER NOT NULL, checks BLOB NOT NULL) STRICT;
         CREATE TABLE blobs (key TEXT PRIMARY KEY, content_id INTEGER NOT NULL) STRICT, WITHOUT ROWID;",
    )
    .expect("schema");
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let keys: Vec<String> = (0..n)
        .map(|i| format!("{}/{}", uuid::Uuid::now_v7(), i % 3))
        .collect();
    let order: Vec<usize> = (0..reads).map(|_| rng.random_range(0..n)).collect();

    let mut file: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let started = Instant::now();
    for (i, key) in keys.iter().enumerate() {
        // Distinct bytes per attachment, as in w2_blob.
        file[..8.min(size)].copy_from_slice(&(i as u64).to_le_bytes()[..8.min(size)]);
        put(&db, &contents, key, &file, sync).expect("put");
    }
    let write = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut total = 0;
    for &i in &order {
        total += get(&db, &contents, &keys[i]).expect("get").len();
    }
    let read = started.elapsed().as_secs_f64();
    assert_eq!(total, reads * size);
    let name = if sync {
        "files-option"
    } else {
        "files-option-unsynced"
    };
    println!(
        r#"{{"impl": "{name}", "attachments": {n}, "size": {size}, "write_per_s": {}, "read_per_s": {}}}"#,
        (n as f64 / write) as u64,
        (reads as f64 / read) as u64
    );
}
