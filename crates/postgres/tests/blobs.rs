//! The PostgreSQL attachment store against a real server: damaged chunks are caught on
//! every read, large streams go in and out in chunks, a failed upload leaves nothing,
//! a reader keeps its bytes while the key is deleted, and the store shares the main
//! store's pool and schema (its reference counts among the checked invariants).

mod common;

use std::io::{self, Read};

use chatstore::{BlobKey, BlobStore, Error, MaintenanceStore, MessageId};
use chatstore_postgres::{CHUNK_BYTES, PgBlobStore, PgStore};
use common::TempSchema;

const MAX_BLOB_BYTES: u64 = 64 << 20;

fn open() -> Option<(TempSchema, PgStore, PgBlobStore)> {
    let schema = TempSchema::new()?;
    let store = PgStore::open_with(schema.config(), &schema.options()).expect("opens");
    let blobs = store.blobs(MAX_BLOB_BYTES);
    Some((schema, store, blobs))
}

/// `len` bytes derived from `label`, made as they are read: never all in memory.
fn generated(label: &str, len: u64) -> impl Read {
    let mut hasher = blake3::Hasher::new();
    hasher.update(label.as_bytes());
    hasher.finalize_xof().take(len)
}

fn bytes(label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    generated(label, len as u64)
        .read_to_end(&mut out)
        .expect("generated");
    out
}

/// The blake3 hash of what `reader` holds, read in pieces of `step` bytes.
fn hash_of(mut reader: impl Read, step: usize) -> io::Result<(u64, String)> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; step];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            return Ok((total, hasher.finalize().to_hex().to_string()));
        }
        total += n as u64;
        hasher.update(&buffer[..n]);
    }
}

fn number(schema: &mut TempSchema, sql: &str) -> i64 {
    schema.texts(&format!("SELECT ({sql})::text"))[0]
        .parse()
        .expect("a number")
}

/// Rows of each blob table: contents, chunks, keys.
fn rows(schema: &mut TempSchema) -> (i64, i64, i64) {
    (
        number(schema, "SELECT count(*) FROM blob_contents"),
        number(schema, "SELECT count(*) FROM blob_chunks"),
        number(schema, "SELECT count(*) FROM blobs"),
    )
}

/// Hands out `good` bytes, a few at a time, then fails like an interrupted upload.
struct Interrupted {
    source: Box<dyn Read>,
    good: u64,
}

impl Read for Interrupted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::other("connection reset by the browser"));
        }
        let want = buf.len().min(7000).min(self.good as usize);
        let n = self.source.read(&mut buf[..want])?;
        self.good -= n as u64;
        Ok(n)
    }
}

#[test]
fn a_flipped_byte_in_a_stored_chunk_is_corrupt_on_every_read() {
    let Some((mut schema, _store, blobs)) = open() else {
        return;
    };
    let message = MessageId::new();
    let (large, small) = (BlobKey::file(message, 0), BlobKey::thumbnail(message, 0));
    let data = bytes("three chunks", 2 * CHUNK_BYTES + 1234);
    blobs.put(&large, &data).expect("put");
    blobs.put(&small, b"a small thumbnail").expect("put");
    let other = BlobKey::file(MessageId::new(), 0);
    blobs.put(&other, b"untouched").expect("put");
    assert!(blobs.verify_contents().expect("verify").is_empty());

    // One bit of one byte in the middle chunk of the large blob, and of the small one.
    schema.execute(
        "UPDATE blob_chunks SET data = set_byte(data, 1000, get_byte(data, 1000) # 1)
         WHERE n = 1 AND content_id = (SELECT id FROM blob_contents WHERE size > 500000);
         UPDATE blob_chunks SET data = set_byte(data, 2, get_byte(data, 2) # 128)
         WHERE content_id = (SELECT id FROM blob_contents WHERE size = 17);",
    );
    for key in [large, small] {
        match blobs.get(&key) {
            Err(Error::Corrupt { detail }) => assert!(detail.contains(&key.to_string())),
            other => panic!("get {key}: expected Corrupt, got {other:?}"),
        }
        let mut reader = blobs
            .open(&key)
            .expect("opens: the damage shows at the end");
        let mut read = Vec::new();
        let error = reader.read_to_end(&mut read).expect_err("damaged bytes");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{key}: {error}");
    }
    assert_eq!(blobs.get(&other).expect("get"), b"untouched");
    let mut damaged = blobs.verify_contents().expect("verify");
    damaged.sort();
    let mut expected = vec![large, small];
    expected.sort();
    assert_eq!(damaged, expected);

    // A chunk gone, or one too long, is damage too.
    schema.execute("DELETE FROM blob_chunks WHERE n = 2");
    assert!(matches!(blobs.get(&large), Err(Error::Corrupt { .. })));
    let error = blobs
        .open(&large)
        .expect("opens")
        .read_to_end(&mut Vec::new())
        .expect_err("a missing chunk");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    schema.execute(
        "UPDATE blob_chunks SET data = data || '\\x00'::bytea
         WHERE content_id = (SELECT id FROM blob_contents WHERE size = 9)",
    );
    assert!(matches!(blobs.get(&other), Err(Error::Corrupt { .. })));
}

#[test]
fn a_20_mb_stream_goes_in_and_out_in_chunks() {
    let Some((mut schema, store, blobs)) = open() else {
        return;
    };
    const SIZE: u64 = 20 * 1024 * 1024 + 12_345;
    let key = BlobKey::file(MessageId::new(), 0);
    let (_, expected) = hash_of(generated("twenty megabytes", SIZE), 1 << 16).expect("hash");
    let info = blobs
        .put_stream(&key, SIZE, &mut generated("twenty megabytes", SIZE))
        .expect("stored");
    assert_eq!((info.size, &info.hash), (SIZE, &expected));
    assert_eq!(
        number(&mut schema, "SELECT count(*) FROM blob_chunks"),
        SIZE.div_ceil(CHUNK_BYTES as u64) as i64,
        "stored in chunks"
    );
    assert_eq!(
        number(
            &mut schema,
            "SELECT max(octet_length(data)) FROM blob_chunks"
        ),
        CHUNK_BYTES as i64
    );
    for step in [8 * 1024, 1 << 20] {
        let reader = blobs.open(&key).expect("opens");
        assert_eq!(reader.info(), &info);
        assert_eq!(
            hash_of(reader, step).expect("reads to the end"),
            (SIZE, expected.clone())
        );
    }
    // The same bytes again are kept once.
    let again = BlobKey::file(MessageId::new(), 0);
    blobs
        .put_stream(&again, SIZE, &mut generated("twenty megabytes", SIZE))
        .expect("stored again");
    let stats = blobs.stats().expect("stats");
    assert_eq!((stats.keys, stats.contents), (2, 1));
    assert_eq!((stats.bytes, stats.stored_bytes), (2 * SIZE, SIZE));
    store
        .check_integrity()
        .expect("the reference counts add up");
    assert!(blobs.delete(&key).expect("delete"));
    assert_eq!(
        hash_of(blobs.open(&again).expect("opens"), 1 << 16).expect("reads"),
        (SIZE, expected)
    );
    assert!(blobs.delete(&again).expect("delete"));
    assert_eq!(
        rows(&mut schema),
        (0, 0, 0),
        "the content went with its last key"
    );
}

#[test]
fn a_reader_that_fails_mid_stream_stores_nothing() {
    let Some((mut schema, store, blobs)) = open() else {
        return;
    };
    let message = MessageId::new();
    let kept = BlobKey::file(message, 0);
    blobs.put(&kept, b"already there").expect("put");
    let before = rows(&mut schema);
    for key in [BlobKey::file(message, 1), kept] {
        for good in [0, 1, CHUNK_BYTES as u64 * 5 + 99] {
            let mut reader = Interrupted {
                source: Box::new(generated("interrupted", 10 << 20)),
                good,
            };
            match blobs.put_stream(&key, 10 << 20, &mut reader) {
                Err(Error::Validation { reason, .. }) => {
                    assert!(reason.contains("reset by the browser"), "{reason}");
                }
                other => panic!("{key}, {good} bytes: expected Validation, got {other:?}"),
            }
            assert_eq!(rows(&mut schema), before, "{key}: nothing stored");
        }
    }
    assert_eq!(blobs.get(&kept).expect("get"), b"already there");
    assert_eq!(blobs.info(&BlobKey::file(message, 1)).expect("info"), None);
    // The connection the failed upload used serves the next one.
    let key = BlobKey::file(message, 2);
    blobs
        .put_stream(&key, 3, &mut &b"abc"[..])
        .expect("stored after the failures");
    assert_eq!(blobs.get(&key).expect("get"), b"abc");
    store.check_integrity().expect("consistent");
}

#[test]
fn a_reader_keeps_its_bytes_while_the_key_is_deleted() {
    let Some((mut schema, _store, blobs)) = open() else {
        return;
    };
    let key = BlobKey::file(MessageId::new(), 0);
    let data = bytes("read while deleted", 4 * CHUNK_BYTES + 10);
    blobs.put(&key, &data).expect("put");
    let mut reader = blobs.open(&key).expect("opens");
    let mut read = vec![0u8; 100_000];
    reader.read_exact(&mut read).expect("the first bytes");
    assert!(blobs.delete(&key).expect("deleted meanwhile"));
    assert_eq!(rows(&mut schema), (0, 0, 0));
    reader
        .read_to_end(&mut read)
        .expect("the rest, from the snapshot");
    assert!(read == data, "the bytes as they were when opened");
    drop(reader);
    assert_eq!(blobs.info(&key).expect("info"), None);
}

#[test]
fn blobs_share_the_main_store_and_its_checks() {
    let Some((mut schema, store, blobs)) = open() else {
        return;
    };
    let other = PgBlobStore::open(&schema.config(), &schema.options(), 10).expect("opens");
    let key = BlobKey::file(MessageId::new(), 3);
    blobs.put(&key, b"shared pool").expect("put");
    assert_eq!(other.get(&key).expect("the same schema"), b"shared pool");
    assert!(matches!(
        other.put(&key, b"more than ten bytes"),
        Err(Error::Validation { .. })
    ));
    // Stored at the time on the store's (manual) clock: the sweep compares with it.
    let stored = store.now();
    let second = std::time::Duration::from_secs(1);
    let swept = |before| blobs.messages_with_blobs(before, None, 10).expect("listed");
    assert_eq!(swept(stored + second), vec![key.message]);
    assert_eq!(
        swept(stored),
        Vec::<MessageId>::new(),
        "not before its time"
    );
    assert_eq!(swept(stored - second), Vec::<MessageId>::new());
    store.check_integrity().expect("consistent");
    schema.execute("UPDATE blob_contents SET refs = refs + 1");
    match store.check_integrity() {
        Err(Error::Corrupt { detail }) => assert!(detail.contains("reference count"), "{detail}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn writers_and_deleters_of_the_same_bytes_at_once_keep_the_counts_right() {
    let Some((mut schema, store, blobs)) = open() else {
        return;
    };
    let data = bytes("everyone's upload", CHUNK_BYTES + 500);
    let blobs = &blobs;
    let data = &data;
    std::thread::scope(|scope| {
        for t in 0..4u32 {
            scope.spawn(move || {
                let message = MessageId::new();
                for round in 0..8u32 {
                    let key = BlobKey::file(message, round % 2);
                    // Streams, batches and single puts of the same new bytes, while the
                    // other threads delete their keys (and with them, perhaps, the
                    // content) at the same moment.
                    match (t + round) % 3 {
                        0 => {
                            blobs
                                .put_stream(&key, data.len() as u64, &mut data.as_slice())
                                .expect("put_stream");
                        }
                        1 => {
                            blobs
                                .put_all(&[(key, data.as_slice()), (key, b"x".as_slice())])
                                .expect("put_all");
                            blobs.put(&key, data).expect("put");
                        }
                        _ => {
                            blobs.put(&key, data).expect("put");
                        }
                    }
                    assert!(blobs.get(&key).expect("get") == *data);
                    if round % 3 == 2 {
                        blobs.delete_by_prefixes(&[message]).expect("delete");
                    }
                }
            });
        }
    });
    store.check_integrity().expect("every reference counted");
    let stats = blobs.stats().expect("stats");
    assert_eq!(stats.contents, 1, "the same bytes are kept once");
    assert_eq!(stats.stored_bytes, data.len() as u64);
    assert_eq!(stats.bytes, stats.keys * data.len() as u64);
    assert_eq!(
        number(&mut schema, "SELECT refs FROM blob_contents") as u64,
        stats.keys
    );
}

/// Reads `key` as a stream, a chunk's worth at a time, until its end or its first
/// error: what was handed on, and the error (which every later read repeats).
fn stream_until_failure(blobs: &PgBlobStore, key: &BlobKey) -> (Vec<u8>, Option<io::Error>) {
    let mut reader = blobs.open(key).expect("opens");
    let mut handed = Vec::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return (handed, None),
            Ok(n) => handed.extend_from_slice(&buffer[..n]),
            Err(error) => {
                let again = reader.read(&mut buffer).expect_err("fails for good");
                assert_eq!(again.to_string(), error.to_string());
                return (handed, Some(error));
            }
        }
    }
}

fn expect_corrupt<T: std::fmt::Debug>(result: chatstore::Result<T>, key: &BlobKey, says: &str) {
    match result {
        Err(Error::Corrupt { detail }) => {
            assert!(detail.contains(&key.to_string()), "{detail}");
            assert!(detail.contains(says), "{detail} should say {says:?}");
        }
        other => panic!("{key}: expected Corrupt saying {says:?}, got {other:?}"),
    }
}

/// Runs `sql` on the chunks of `key`'s content (`WHERE` is added: `{content}` in
/// `condition` is its id).
fn change_chunks(schema: &mut TempSchema, key: &BlobKey, set: &str, condition: &str) {
    let content = format!(
        "(SELECT content_id FROM blobs WHERE message_id = '{}' AND idx = {} AND thumbnail = {})",
        key.message, key.index, key.thumbnail
    );
    schema.execute(&format!(
        "UPDATE blob_chunks SET {set} WHERE content_id = {content} AND {condition}"
    ));
}

#[test]
fn a_changed_byte_in_any_chunk_fails_get_and_stops_the_stream_before_that_chunk() {
    let Some((mut schema, _store, blobs)) = open() else {
        return;
    };
    for damaged in 0..4usize {
        let key = BlobKey::file(MessageId::new(), 0);
        let data = bytes(
            &format!("four chunks, {damaged} damaged"),
            3 * CHUNK_BYTES + 77,
        );
        blobs.put(&key, &data).expect("put");
        change_chunks(
            &mut schema,
            &key,
            "data = set_byte(data, 5, get_byte(data, 5) # 4)",
            &format!("n = {damaged}"),
        );
        expect_corrupt(
            blobs.get(&key),
            &key,
            &format!("chunk {damaged}: a stored chunk does not match its checksum"),
        );
        let (handed, error) = stream_until_failure(&blobs, &key);
        assert_eq!(
            handed.len(),
            damaged * CHUNK_BYTES,
            "every chunk before the damaged one, none of it"
        );
        assert_eq!(handed, data[..handed.len()]);
        let error = error.expect("the damaged chunk fails");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        assert!(error.to_string().contains(&format!("chunk {damaged}")));
        assert_eq!(blobs.verify_contents().expect("verify"), vec![key]);
        assert!(blobs.delete(&key).expect("delete"));
    }
}

#[test]
fn damaged_or_lost_checksums_are_reported_and_recorded_afresh_by_verify_contents() {
    let Some((mut schema, _store, blobs)) = open() else {
        return;
    };
    let (wrong, lost) = (
        BlobKey::file(MessageId::new(), 0),
        BlobKey::file(MessageId::new(), 0),
    );
    let (wrong_data, lost_data) = (
        bytes("a wrong checksum", 2 * CHUNK_BYTES + 9),
        bytes("a lost checksum", 2 * CHUNK_BYTES + 10),
    );
    blobs.put(&wrong, &wrong_data).expect("put");
    blobs.put(&lost, &lost_data).expect("put");
    change_chunks(&mut schema, &wrong, "checksum = checksum # 1", "n = 1");
    change_chunks(&mut schema, &lost, "checksum = NULL", "n = 2");

    expect_corrupt(
        blobs.get(&wrong),
        &wrong,
        "chunk 1: a stored chunk does not match its checksum",
    );
    expect_corrupt(
        blobs.get(&lost),
        &lost,
        "chunk 2: a stored chunk has lost its checksum",
    );
    let (handed, error) = stream_until_failure(&blobs, &lost);
    assert_eq!(handed, lost_data[..2 * CHUNK_BYTES]);
    assert!(error.is_some());

    assert!(
        blobs.verify_contents().expect("verify").is_empty(),
        "the bytes match their hash"
    );
    assert_eq!(blobs.get(&wrong).expect("recorded afresh"), wrong_data);
    assert_eq!(blobs.get(&lost).expect("recorded afresh"), lost_data);
}

#[test]
fn blobs_stored_before_the_checksums_read_and_verify_after_the_migration() {
    let Some((mut schema, store, blobs)) = open() else {
        return;
    };
    let (large, small, empty) = (
        BlobKey::file(MessageId::new(), 0),
        BlobKey::thumbnail(MessageId::new(), 0),
        BlobKey::file(MessageId::new(), 1),
    );
    let data = bytes("stored by version 13", 2 * CHUNK_BYTES + 500);
    blobs.put(&large, &data).expect("put");
    blobs.put(&small, b"a thumbnail").expect("put");
    blobs.put(&empty, b"").expect("put");
    let version = chatstore_postgres::LATEST_VERSION;
    store
        .migrate_to(13)
        .expect("back to the schema without checksums");
    store.migrate_to(version).expect("and up again");
    let unchecked = "SELECT count(*) FROM blob_chunks WHERE checksum IS NULL";
    assert_eq!(number(&mut schema, unchecked), 4);

    assert_eq!(blobs.get(&large).expect("read by the hash"), data);
    assert_eq!(blobs.get(&small).expect("read by the hash"), b"a thumbnail");
    assert_eq!(blobs.get(&empty).expect("empty"), b"");
    let (handed, error) = stream_until_failure(&blobs, &large);
    assert!(error.is_none());
    assert_eq!(handed, data);

    // Without checksums, damage shows once the last byte was read.
    let flip_a_bit = "data = set_byte(data, 9, get_byte(data, 9) # 1)";
    change_chunks(&mut schema, &large, flip_a_bit, "n = 1");
    expect_corrupt(
        blobs.get(&large),
        &large,
        "the stored bytes do not match their hash",
    );
    let (_, error) = stream_until_failure(&blobs, &large);
    assert_eq!(error.expect("damaged").kind(), io::ErrorKind::InvalidData);
    assert_eq!(blobs.verify_contents().expect("verify"), vec![large]);
    assert_eq!(
        number(&mut schema, unchecked),
        3,
        "the damaged content's chunks are left as they are"
    );

    // Mended (the same bit flipped back), the next verification records its checksums too.
    change_chunks(&mut schema, &large, flip_a_bit, "n = 1");
    assert!(blobs.verify_contents().expect("verify").is_empty());
    assert_eq!(number(&mut schema, unchecked), 0);
    assert_eq!(blobs.get(&large).expect("read by the checksums"), data);
    assert_eq!(
        blobs.get(&small).expect("read by the checksums"),
        b"a thumbnail"
    );
}
