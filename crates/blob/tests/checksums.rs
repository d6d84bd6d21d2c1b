//! The fast checksums every read checks: a byte changed in any chunk of a large blob
//! fails `get` and stops a stream before that chunk, with nothing of it handed on;
//! `verify_contents` still finds damage by the blake3 hash; damaged checksums are
//! reported and recorded afresh; and a store written before the checksums existed reads
//! correctly after the migration, getting its checksums from the next verification.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use chatstore::{BlobKey, BlobStore, Error, MessageId};
use chatstore_blob::{BlobConfig, MIGRATIONS, SqliteBlobStore};

/// The chunk every checksum covers (and a stream hands on at most).
const CHUNK: usize = 64 * 1024;

struct Files {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("files.db");
        Files { _dir: dir, path }
    }

    fn open(&self) -> SqliteBlobStore {
        SqliteBlobStore::open(BlobConfig::new(&self.path)).expect("blob store opens")
    }

    /// Stores each blob, then closes the store (folding its log into the file).
    fn write(&self, blobs: &[(BlobKey, &[u8])]) {
        let store = self.open();
        for (key, data) in blobs {
            store.put(key, data).expect("put");
        }
        store.close().expect("close");
    }

    /// Flips one bit of byte `at` of `data` where the closed file holds it.
    fn damage(&self, data: &[u8], at: usize) {
        let mut file = std::fs::read(&self.path).expect("read the file");
        // The bytes around `at`, found in the file: a window that does not cross the
        // end of one of SQLite's pages is found for one of these starts.
        let place = [at, at.saturating_sub(40)]
            .into_iter()
            .find_map(|start| {
                let window = &data[start..(start + 32).min(data.len())];
                let found = file.windows(window.len()).position(|w| w == window)?;
                Some(found + at - start)
            })
            .expect("the bytes are in the file");
        file[place] ^= 0x04;
        std::fs::write(&self.path, &file).expect("damage the file");
    }

    fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("open the file directly")
    }
}

/// `len` bytes in which every 32-byte window is unique (so it can be found in the file).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn key() -> BlobKey {
    BlobKey::file(MessageId::new(), 0)
}

fn expect_corrupt<T: std::fmt::Debug>(result: chatstore::Result<T>, key: &BlobKey, says: &str) {
    match result {
        Err(Error::Corrupt { detail }) => {
            assert!(detail.contains(&key.to_string()), "{detail}");
            assert!(detail.contains(says), "{detail}");
        }
        other => panic!("expected Corrupt ({says}), got {other:?}"),
    }
}

/// Reads `key` as a stream in reads of `buffer` bytes until it fails; returns what was
/// handed on before the failure. The failure must be `InvalidData` carrying
/// `Error::Corrupt`, and every read after it must fail too.
fn stream_until_failure(store: &SqliteBlobStore, key: &BlobKey, buffer: usize) -> Vec<u8> {
    let mut reader = store.open(key).expect("open");
    let mut handed = Vec::new();
    let mut chunk = vec![0u8; buffer];
    let error = loop {
        // Zeroed before each read: what a failed read leaves in it is what it wrote.
        chunk.fill(0);
        match reader.read(&mut chunk) {
            Ok(0) => panic!(
                "the damaged stream ended cleanly after {} bytes",
                handed.len()
            ),
            Ok(n) => handed.extend_from_slice(&chunk[..n]),
            Err(error) => break error,
        }
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .expect("the error carries chatstore's");
    assert!(matches!(inner, Error::Corrupt { .. }), "{inner:?}");
    let failed_chunk = (reader.info().size as usize - handed.len()).min(CHUNK);
    if buffer >= failed_chunk {
        assert!(
            chunk[..failed_chunk].iter().all(|&b| b == 0),
            "a failed read into a buffer that holds the chunk leaves none of its bytes there"
        );
    }
    for _ in 0..2 {
        let again = reader
            .read(&mut chunk)
            .expect_err("a failed stream stays failed");
        assert_eq!(again.kind(), std::io::ErrorKind::InvalidData);
    }
    handed
}

#[test]
fn a_changed_byte_in_any_chunk_fails_get_and_stops_the_stream_before_that_chunk() {
    // Five whole chunks and a short last one.
    let len = 5 * CHUNK + 1000;
    for (bad_chunk, at) in [(0, 10), (2, 2 * CHUNK + 777), (5, 5 * CHUNK + 500)] {
        let files = Files::new();
        let (damaged, intact) = (key(), key());
        let data = noise(bad_chunk as u64 + 1, len);
        let other = noise(99, len);
        files.write(&[(damaged, &data), (intact, &other)]);
        files.damage(&data, at);

        let store = files.open();
        expect_corrupt(
            store.get(&damaged),
            &damaged,
            &format!("chunk {bad_chunk} of the stored bytes does not match its checksum"),
        );
        // Buffers smaller than a chunk, exactly one, and larger: what is handed on is
        // the intact chunks before the damaged one, never a byte of it or past it.
        for buffer in [1000, CHUNK, 3 * CHUNK] {
            let handed = stream_until_failure(&store, &damaged, buffer);
            assert_eq!(
                handed,
                data[..bad_chunk * CHUNK],
                "chunk {bad_chunk}, reads of {buffer}"
            );
        }
        assert_eq!(store.get(&intact).expect("the other blob is intact"), other);
        assert_eq!(store.verify_contents().expect("verify"), vec![damaged]);
        store
            .check_integrity()
            .expect("the file's structure is intact");
    }
}

#[test]
fn a_changed_byte_in_a_small_blob_fails_get_and_the_stream_hands_on_nothing() {
    let files = Files::new();
    let (damaged, thumb) = (key(), key());
    let data = noise(5, 10_240);
    files.write(&[(damaged, &data), (thumb, &noise(6, 1280))]);
    files.damage(&data, 5000);

    let store = files.open();
    expect_corrupt(store.get(&damaged), &damaged, "do not match their checksum");
    for buffer in [100, CHUNK] {
        assert!(stream_until_failure(&store, &damaged, buffer).is_empty());
    }
    assert_eq!(store.get(&thumb).expect("intact"), noise(6, 1280));
}

/// What the checksums would catch, the scheduled verification catches by the content
/// address itself, and reports by key.
#[test]
fn verify_contents_finds_by_hash_what_the_checksums_find() {
    let files = Files::new();
    let (small, large, shared_a, shared_b) = (key(), key(), key(), key());
    let (small_data, large_data, shared) = (noise(1, 3000), noise(2, 3 * CHUNK), noise(3, 70_000));
    files.write(&[
        (small, &small_data),
        (large, &large_data),
        (shared_a, &shared),
        (shared_b, &shared),
    ]);
    let store = files.open();
    assert!(store.verify_contents().expect("verify").is_empty());
    store.close().expect("close");

    files.damage(&large_data, CHUNK + 1);
    files.damage(&shared, 69_000);
    let store = files.open();
    let mut damaged = store.verify_contents().expect("verify");
    damaged.sort();
    let mut expected = vec![large, shared_a, shared_b];
    expected.sort();
    assert_eq!(damaged, expected, "every key of a damaged content");
    // The checksums agree on each: reads fail for the same keys, and only those.
    for key in &expected {
        assert!(
            matches!(store.get(key), Err(Error::Corrupt { .. })),
            "{key}"
        );
    }
    assert_eq!(store.get(&small).expect("intact"), small_data);
    // Damaged bytes are never given fresh checksums.
    let damaged_checks = store.verify_contents().expect("verify again");
    assert_eq!(damaged_checks.len(), 3);
    assert!(matches!(store.get(&large), Err(Error::Corrupt { .. })));
}

#[test]
fn damaged_checksums_are_reported_and_recorded_afresh_by_verify_contents() {
    let files = Files::new();
    let (wrong, short) = (key(), key());
    let (wrong_data, short_data) = (noise(7, 2 * CHUNK + 9), noise(8, 500));
    files.write(&[(wrong, &wrong_data), (short, &short_data)]);
    {
        let sql = files.sql();
        let changed = sql
            .execute(
                "UPDATE content_checks SET checks = zeroblob(length(checks))
                 WHERE content_id = (SELECT id FROM contents WHERE size = ?1)",
                [wrong_data.len() as i64],
            )
            .expect("zero one content's checksums");
        assert_eq!(changed, 1);
        sql.execute(
            "UPDATE content_checks SET checks = substr(checks, 1, 4)
             WHERE content_id = (SELECT id FROM contents WHERE size = 500)",
            [],
        )
        .expect("cut another's short");
    }

    let store = files.open();
    expect_corrupt(
        store.get(&wrong),
        &wrong,
        "chunk 0 of the stored bytes does not match its checksum",
    );
    assert!(stream_until_failure(&store, &wrong, CHUNK).is_empty());
    expect_corrupt(
        store.get(&short),
        &short,
        "its stored checksums are damaged",
    );
    assert!(matches!(
        store.open(&short).err(),
        Some(Error::Corrupt { .. })
    ));

    assert!(
        store.verify_contents().expect("verify").is_empty(),
        "the bytes match their hash"
    );
    assert_eq!(
        store.get(&wrong).expect("checksums recorded afresh"),
        wrong_data
    );
    assert_eq!(
        store.get(&short).expect("checksums recorded afresh"),
        short_data
    );
}

/// Takes the file back to the schema before the checksums (running the migration's
/// down step), as a store written by the previous version would be.
fn back_to_version_1(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open");
    chatstore_sqlite::engine::migrate_to(&conn, MIGRATIONS, 1).expect("migrate down");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'content%'")
        .expect("tables")
        .query_map([], |row| row.get(0))
        .expect("tables")
        .collect::<rusqlite::Result<_>>()
        .expect("tables");
    assert_eq!(tables, ["contents"], "no checksums table any more");
}

fn unchecked_contents(files: &Files) -> i64 {
    files
        .sql()
        .query_row(
            "SELECT count(*) FROM contents
             WHERE id NOT IN (SELECT content_id FROM content_checks)",
            [],
            |row| row.get(0),
        )
        .expect("count")
}

#[test]
fn a_store_written_before_the_checksums_reads_correctly_after_the_migration() {
    let files = Files::new();
    let blobs: Vec<(BlobKey, Vec<u8>)> = [0, 1, 10_240, CHUNK, 4 * CHUNK + 3]
        .into_iter()
        .enumerate()
        .map(|(i, len)| (key(), noise(i as u64 + 20, len)))
        .collect();
    let (damaged, damaged_data) = (key(), noise(40, 3 * CHUNK));
    let mut all: Vec<(BlobKey, &[u8])> = blobs.iter().map(|(k, d)| (*k, d.as_slice())).collect();
    all.push((damaged, &damaged_data));
    files.write(&all);
    back_to_version_1(&files.path);
    files.damage(&damaged_data, 2 * CHUNK + 10);

    let store = files.open();
    assert_eq!(
        unchecked_contents(&files),
        6,
        "the migration leaves them unchecked"
    );
    for (key, data) in &blobs {
        assert_eq!(&store.get(key).expect("get by the hash"), data);
        let mut streamed = Vec::new();
        store
            .open(key)
            .expect("open")
            .read_to_end(&mut streamed)
            .expect("stream by the hash");
        assert_eq!(&streamed, data);
    }
    // Without checksums, damage is still an error, found by the hash at the end.
    expect_corrupt(store.get(&damaged), &damaged, "do not match their hash");
    let mut streamed = Vec::new();
    let error = store
        .open(&damaged)
        .expect("open")
        .read_to_end(&mut streamed)
        .expect_err("the stream fails at the end");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);

    assert_eq!(store.verify_contents().expect("verify"), vec![damaged]);
    assert_eq!(
        unchecked_contents(&files),
        1,
        "every intact content has its checksums now, the damaged one none"
    );
    for (key, data) in &blobs {
        assert_eq!(&store.get(key).expect("get by the checksums"), data);
    }
    expect_corrupt(store.get(&damaged), &damaged, "do not match their hash");
    store.check_integrity().expect("sound");
}

#[test]
fn storing_the_bytes_of_an_unchecked_content_again_records_its_checksums() {
    let files = Files::new();
    let (first, second) = (key(), key());
    let (put_data, stream_data) = (noise(50, 2 * CHUNK + 1), noise(51, CHUNK + 2));
    files.write(&[(first, &put_data), (second, &stream_data)]);
    back_to_version_1(&files.path);

    let store = files.open();
    assert_eq!(unchecked_contents(&files), 2);
    store.put(&key(), &put_data).expect("the same bytes, put");
    assert_eq!(unchecked_contents(&files), 1);
    store
        .put_stream(
            &key(),
            stream_data.len() as u64,
            &mut Cursor::new(stream_data.clone()),
        )
        .expect("the same bytes, streamed");
    assert_eq!(unchecked_contents(&files), 0);
    assert_eq!(
        store.stats().expect("stats").contents,
        2,
        "still stored once each"
    );
    assert_eq!(store.get(&first).expect("get"), put_data);
    assert_eq!(store.get(&second).expect("get"), stream_data);
}

#[test]
fn streamed_and_whole_writes_record_the_same_checksums() {
    let files = Files::new();
    let store = files.open();
    let data = noise(60, 3 * CHUNK + 17);
    let (put, streamed) = (key(), key());
    store.put(&put, &data).expect("put");
    let checks_of_put: Vec<u8> = files
        .sql()
        .query_row("SELECT checks FROM content_checks", [], |row| row.get(0))
        .expect("checks");
    store.delete(&put).expect("delete");
    // A reader that hands the bytes on in uneven pieces.
    struct Uneven(Cursor<Vec<u8>>);
    impl Read for Uneven {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7_777);
            self.0.read(&mut buf[..n])
        }
    }
    store
        .put_stream(
            &streamed,
            data.len() as u64,
            &mut Uneven(Cursor::new(data.clone())),
        )
        .expect("stream");
    let checks_of_stream: Vec<u8> = files
        .sql()
        .query_row("SELECT checks FROM content_checks", [], |row| row.get(0))
        .expect("checks");
    assert_eq!(checks_of_stream, checks_of_put);
    assert_eq!(checks_of_put.len(), 4 * 8, "eight bytes per chunk");
    assert_eq!(store.get(&streamed).expect("get"), data);
}

/// A content's checksums go with it: a content stored later under the same row id
/// (SQLite reuses the highest id once it is deleted) is checked against its own.
#[test]
fn checksums_go_with_their_content() {
    let files = Files::new();
    let store = files.open();
    let (first, second) = (key(), key());
    store.put(&first, &noise(70, 2 * CHUNK)).expect("put");
    let id_of = |files: &Files| -> i64 {
        files
            .sql()
            .query_row("SELECT max(id) FROM contents", [], |row| row.get(0))
            .expect("id")
    };
    let first_id = id_of(&files);
    store.delete(&first).expect("delete");
    let checks: i64 = files
        .sql()
        .query_row("SELECT count(*) FROM content_checks", [], |row| row.get(0))
        .expect("count");
    assert_eq!(checks, 0, "deleting the content deleted its checksums");
    let data = noise(71, 2 * CHUNK);
    store.put(&second, &data).expect("put other bytes");
    assert_eq!(id_of(&files), first_id, "the row id was taken again");
    assert_eq!(store.get(&second).expect("checked against its own"), data);
    assert!(store.verify_contents().expect("verify").is_empty());
}

/// A content deleted outside the store (a shell's connection, where foreign keys are
/// off, so its checksums stay behind) does not lend its checksums to the next content
/// stored under its row id, whether put whole or streamed.
#[test]
fn checksums_left_behind_by_a_deletion_outside_the_store_are_replaced() {
    for streamed in [false, true] {
        let files = Files::new();
        let (first, second) = (key(), key());
        files.write(&[(first, &noise(80, CHUNK + 5))]);
        {
            let sql = files.sql();
            // As the sqlite3 shell opens a file (this build of SQLite turns them on).
            sql.execute_batch("PRAGMA foreign_keys = OFF")
                .expect("foreign keys off");
            sql.execute("DELETE FROM blobs", [])
                .expect("delete the key");
            sql.execute("DELETE FROM contents", [])
                .expect("delete the content, foreign keys off");
            let left: i64 = sql
                .query_row("SELECT count(*) FROM content_checks", [], |row| row.get(0))
                .expect("count");
            assert_eq!(left, 1, "its checksums stayed behind");
        }
        let store = files.open();
        let data = noise(81, CHUNK + 5);
        if streamed {
            store
                .put_stream(&second, data.len() as u64, &mut Cursor::new(data.clone()))
                .expect("stream");
        } else {
            store.put(&second, &data).expect("put");
        }
        assert_eq!(
            store.get(&second).expect("its own checksums"),
            data,
            "streamed: {streamed}"
        );
        let mut read = Vec::new();
        store
            .open(&second)
            .expect("open")
            .read_to_end(&mut read)
            .expect("stream");
        assert_eq!(read, data);
        assert!(!store.exists(&first).expect("exists"));
    }
}
