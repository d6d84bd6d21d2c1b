//! [`PgBlobStore`]: the [`BlobStore`] (attachments and thumbnails) in the same
//! PostgreSQL schema as the [`PgStore`], on its connection pool.
//!
//! Content-addressed as in `chatstore-blob`'s `files.db`: each distinct content is one
//! `blob_contents` row (its blake3 hash, size, and how many keys point at it), its
//! bytes `blob_chunks` rows of [`CHUNK_BYTES`], each with its fast checksum
//! ([`chunk_checksum`], checked on every read before the chunk is handed on), and each
//! key a `blobs` row pointing at its content. The content goes in the same transaction
//! as the last key pointing at it. Content with a given hash is created or taken under
//! a transaction-level advisory lock on the hash, so that two writers of the same new
//! bytes never both create it.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;

use chatstore::blob::{Incoming, chunk_checksum, content_hash, describe_all};
use chatstore::{
    BlobInfo, BlobKey, BlobRead, BlobStats, BlobStore, Clock, Config, Error, MessageId, Result,
    Timestamp, validate,
};
use postgres::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Conn, Db};
use crate::errors::PgResultExt;
use crate::row::{RowExt, UuidId, at};
use crate::{PgOptions, PgStore, PooledConnection};

/// The size of the chunks blob bytes are stored, written and read in: 256 KiB (the
/// last chunk of a blob is shorter).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// How many times storing under a key tries again when another writer deletes or
/// inserts the same key at the same moment.
const LINK_TRIES: u32 = 10;

/// A key, its content's size and hash, and the content's first chunk with its checksum
/// (NULL when it has none), in one round trip: a small blob needs no other. The chunk's
/// bytes come only for a content of at most $4 bytes (one that is larger is read again
/// in a transaction).
const OPEN_SQL: &str = "SELECT c.id, c.size, c.hash,
            CASE WHEN c.size <= $4 THEN k.data END, k.checksum FROM blobs b
     JOIN blob_contents c ON c.id = b.content_id
     LEFT JOIN blob_chunks k ON k.content_id = c.id AND k.n = 0
     WHERE b.message_id = $1 AND b.idx = $2 AND b.thumbnail = $3";

const CHUNK_SQL: &str = "SELECT data, checksum FROM blob_chunks WHERE content_id = $1 AND n = $2";

/// Content-addressed, hash-checked attachment bytes in the store's PostgreSQL schema.
///
/// Made from an open store with [`PgStore::blobs`] (sharing its pool, retries, slow
/// query log and clock) or opened on its own with [`PgBlobStore::open`].
///
/// ```no_run
/// use chatstore::{BlobKey, BlobStore, Config, MessageId};
/// use chatstore_postgres::PgStore;
///
/// let store = PgStore::open(Config::new("postgresql://chat@db.internal/chat"))?;
/// let blobs = store.blobs(256 << 20);
/// let message = MessageId::new();
/// let (file, thumb) = (BlobKey::file(message, 0), BlobKey::thumbnail(message, 0));
/// blobs.put_all(&[(file, b"%PDF-1.7 ...".as_slice()), (thumb, b"small".as_slice())])?;
/// assert_eq!(blobs.get(&file)?, b"%PDF-1.7 ...");
/// assert_eq!(blobs.delete_by_prefixes(&[message])?, 2);
/// # Ok::<(), chatstore::Error>(())
/// ```
#[derive(Clone)]
pub struct PgBlobStore {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
    max_blob_bytes: u64,
}

impl std::fmt::Debug for PgBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBlobStore")
            .field("pool", &self.db.pool.state())
            .field("max_blob_bytes", &self.max_blob_bytes)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// The attachment store in this store's schema, on its connection pool, with its
    /// retries, slow query log and clock, accepting blobs of at most `max_blob_bytes`.
    pub fn blobs(&self, max_blob_bytes: u64) -> PgBlobStore {
        PgBlobStore {
            db: Arc::clone(&self.db),
            clock: Arc::clone(&self.config.clock),
            max_blob_bytes,
        }
    }
}

impl PgBlobStore {
    /// Opens the attachment store of the database `config` names, with a pool of its
    /// own: the same startup check and migrations as [`PgStore::open_with`]. (A host
    /// that has a [`PgStore`] open shares its pool with [`PgStore::blobs`] instead.)
    pub fn open(config: &Config, options: &PgOptions, max_blob_bytes: u64) -> Result<PgBlobStore> {
        Ok(PgStore::open_with(config.clone(), options)?.blobs(max_blob_bytes))
    }

    /// The largest blob accepted, in bytes.
    pub fn max_blob_bytes(&self) -> u64 {
        self.max_blob_bytes
    }

    /// Re-reads every stored content and compares it with its blake3 hash (the content
    /// address); returns the keys whose bytes are damaged (empty when all is well).
    /// Reads every blob: run it at a quiet time.
    ///
    /// Chunks of intact contents whose fast checksums (what every read checks) are
    /// missing — stored before the checksums existed — or damaged get them recorded
    /// afresh.
    pub fn verify_contents(&self) -> Result<Vec<BlobKey>> {
        let mut damaged = Vec::new();
        let mut after = 0i64;
        loop {
            let batch: Vec<(i64, u64, String)> = self.db.read(|c| {
                c.rows(
                    "SELECT id, size, hash FROM blob_contents
                     WHERE id > $1 AND hash IS NOT NULL ORDER BY id LIMIT 100",
                    &[&after],
                )?
                .iter()
                .map(|row| Ok((row.value(0)?, row.uint(1)?, row.text(2)?)))
                .collect()
            })?;
            let Some(last) = batch.last() else {
                return Ok(damaged);
            };
            after = last.0;
            // Checksums to record, for the whole batch at once: (content, chunk, checksum).
            let mut fixes: (Vec<i64>, Vec<i32>, Vec<i64>) = Default::default();
            for (content, size, hash) in batch {
                let verdict = self
                    .db
                    .read_snapshot(|c| verify_content(c, content, size, &hash))?;
                let intact = verdict.is_some();
                for (n, checksum) in verdict.unwrap_or_default() {
                    fixes.0.push(content);
                    fixes.1.push(n);
                    fixes.2.push(checksum);
                }
                if !intact {
                    damaged.extend(self.db.read(|c| {
                        c.rows(
                            "SELECT message_id, idx, thumbnail FROM blobs WHERE content_id = $1
                             ORDER BY message_id, idx, thumbnail",
                            &[&content],
                        )?
                        .iter()
                        .map(|row| {
                            Ok(BlobKey {
                                message: row.id(0)?,
                                index: row.uint(1)?,
                                thumbnail: row.boolean(2)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                    })?);
                }
            }
            if !fixes.0.is_empty() {
                // Chunks never change once written: a chunk deleted since is left alone.
                self.db.write(|c| {
                    c.execute(
                        "UPDATE blob_chunks k SET checksum = f.checksum
                         FROM unnest($1::bigint[], $2::integer[], $3::bigint[])
                             AS f (content_id, n, checksum)
                         WHERE k.content_id = f.content_id AND k.n = f.n",
                        &[&fixes.0, &fixes.1, &fixes.2],
                    )
                    .map(drop)
                })?;
            }
        }
    }

    fn now(&self) -> OffsetDateTime {
        at(self.clock.now())
    }

    /// The bytes of `key`, checked; `None` when the content is larger than `up_to`
    /// bytes (left unread).
    fn read_whole(
        &self,
        c: &mut Conn<'_, '_>,
        key: &BlobKey,
        up_to: i64,
    ) -> Result<Option<Vec<u8>>> {
        let (message, index, thumbnail) = key_params(key);
        let Some(row) = c.row(OPEN_SQL, &[&message, &index, &thumbnail, &up_to])? else {
            return Err(Error::not_found("blob", key));
        };
        let content: i64 = row.value(0)?;
        let mut check = Check::new(row.uint(1)?, row.text(2)?);
        if check.size > up_to as u64 {
            return Ok(None);
        }
        // The size is as stored: a damaged one must not reserve memory unchecked.
        let capacity = check.size.min(self.max_blob_bytes.max(CHUNK_BYTES as u64));
        let mut data = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let first_checksum = row.value::<Option<i64>>(4)?;
        let mut first = row
            .value::<Option<&[u8]>>(3)?
            .map(|chunk| (chunk, first_checksum));
        let mut n = 0i32;
        while !check.complete() {
            let fetched;
            let chunk = match first.take() {
                Some(chunk) => chunk,
                None if n == 0 => return Err(corrupt(key, "its first chunk is missing")),
                None => {
                    fetched = next_chunk(c, content, n)?
                        .ok_or_else(|| corrupt(key, &format!("chunk {n} is missing")))?;
                    chunk_of(&fetched)?
                }
            };
            check
                .add(chunk)
                .map_err(|why| corrupt(key, &format!("chunk {n}: {why}")))?;
            data.extend_from_slice(chunk.0);
            n += 1;
        }
        check.finish().map_err(|why| corrupt(key, why))?;
        Ok(Some(data))
    }
}

/// Reads every chunk of `content` and compares the whole with its size and `hash`:
/// `None` when they differ, else the chunks (by number) whose stored checksum is
/// missing or wrong, with the right one.
fn verify_content(
    c: &mut Conn<'_, '_>,
    content: i64,
    size: u64,
    hash: &str,
) -> Result<Option<Vec<(i32, i64)>>> {
    let mut hasher = blake3::Hasher::new();
    let mut fixes = Vec::new();
    let (mut seen, mut n) = (0u64, 0i32);
    while seen < size {
        let Some(row) = next_chunk(c, content, n)? else {
            return Ok(None);
        };
        let (chunk, stored) = chunk_of(&row)?;
        if chunk.is_empty() {
            return Ok(None);
        }
        seen += chunk.len() as u64;
        hasher.update(chunk);
        let checksum = stored_checksum(chunk);
        if stored != Some(checksum) {
            fixes.push((n, checksum));
        }
        n += 1;
    }
    let intact = seen == size && hasher.finalize().to_hex().as_str() == hash;
    Ok(intact.then_some(fixes))
}

/// The columns identifying a key in `blobs`, bound as $1 $2 $3.
fn key_params(key: &BlobKey) -> (Uuid, i64, bool) {
    (key.message.stored(), i64::from(key.index), key.thumbnail)
}

fn info_from_row(row: &Row, message: MessageId) -> Result<BlobInfo> {
    Ok(BlobInfo {
        key: BlobKey {
            message,
            index: row.uint(0)?,
            thumbnail: row.boolean(1)?,
        },
        size: row.uint(2)?,
        hash: row.text(3)?,
    })
}

fn corrupt(key: &BlobKey, why: &str) -> Error {
    Error::Corrupt {
        detail: format!("blob {key}: {why}"),
    }
}

/// Holds, until the transaction ends, the lock under which content with `hash` is
/// created or taken.
fn lock_hash(c: &mut Conn<'_, '_>, hash: &str) -> Result<()> {
    // The hash's first 64 bits: as good a lock key as any (a collision only makes two
    // writers of different bytes take turns).
    let lock = hash
        .get(..16)
        .and_then(|prefix| u64::from_str_radix(prefix, 16).ok())
        .unwrap_or(0) as i64;
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .map(drop)
}

/// Takes one more reference to the content holding `hash`, if there is one. The
/// caller holds the hash's lock.
fn take_content(c: &mut Conn<'_, '_>, hash: &str) -> Result<Option<i64>> {
    c.row(
        "UPDATE blob_contents SET refs = refs + 1 WHERE hash = $1 RETURNING id",
        &[&hash],
    )?
    .map(|row| row.value(0))
    .transpose()
}

/// The content holding these bytes, with one more reference: the existing one when the
/// same bytes are stored, else a new one. The caller holds the hash's lock.
fn store_content(c: &mut Conn<'_, '_>, hash: &str, data: &[u8]) -> Result<i64> {
    if let Some(existing) = take_content(c, hash)? {
        return Ok(existing);
    }
    let size = data.len() as i64;
    let id: i64 = c
        .row(
            "INSERT INTO blob_contents (hash, size, refs) VALUES ($1, $2, 1) RETURNING id",
            &[&hash, &size],
        )?
        .ok_or_else(|| Error::Backend {
            detail: "inserting a blob content returned no row".to_owned(),
        })?
        .value(0)?;
    for (n, chunk) in data.chunks(CHUNK_BYTES).enumerate() {
        write_chunk(c, id, n, chunk)?;
    }
    Ok(id)
}

fn write_chunk(c: &mut Conn<'_, '_>, content: i64, n: usize, data: &[u8]) -> Result<()> {
    let n = i32::try_from(n).map_err(|_| Error::validation("blob", "has too many chunks"))?;
    let checksum = stored_checksum(data);
    c.execute(
        "INSERT INTO blob_chunks (content_id, n, data, checksum) VALUES ($1, $2, $3, $4)",
        &[&content, &n, &data, &checksum],
    )
    .map(drop)
}

/// Points `key` at `content` (whose reference the caller took), releasing the content
/// it pointed at before. A new key (the usual case) costs one statement.
fn link(c: &mut Conn<'_, '_>, key: &BlobKey, content: i64, now: &OffsetDateTime) -> Result<()> {
    let (message, index, thumbnail) = key_params(key);
    for _ in 0..LINK_TRIES {
        let inserted = c.execute(
            "INSERT INTO blobs (message_id, idx, thumbnail, content_id, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&message, &index, &thumbnail, &content, now],
        )?;
        if inserted == 1 {
            return Ok(());
        }
        let previous = c.row(
            "SELECT content_id FROM blobs
             WHERE message_id = $1 AND idx = $2 AND thumbnail = $3 FOR UPDATE",
            &[&message, &index, &thumbnail],
        )?;
        // Gone again since the insert found it: insert once more.
        let Some(previous) = previous else { continue };
        let previous: i64 = previous.value(0)?;
        c.execute(
            "UPDATE blobs SET content_id = $4, created_at = $5
             WHERE message_id = $1 AND idx = $2 AND thumbnail = $3",
            &[&message, &index, &thumbnail, &content, now],
        )?;
        return release(c, &[previous]);
    }
    Err(Error::Busy {
        detail: format!("{key} kept being stored and deleted by others"),
    })
}

/// Drops one reference to each of `contents` (a content listed twice loses two), and
/// deletes, chunks and all, those no key points at any more.
fn release(c: &mut Conn<'_, '_>, contents: &[i64]) -> Result<()> {
    if contents.is_empty() {
        return Ok(());
    }
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for id in contents {
        *counts.entry(*id).or_default() += 1;
    }
    let ids: Vec<i64> = counts.keys().copied().collect();
    let released: Vec<i64> = counts.values().copied().collect();
    c.execute(
        "UPDATE blob_contents c SET refs = c.refs - r.n
         FROM unnest($1::bigint[], $2::bigint[]) AS r (id, n) WHERE c.id = r.id",
        &[&ids, &released],
    )?;
    // The update holds these rows' locks: no one takes a reference in between.
    c.execute(
        "DELETE FROM blob_contents WHERE id = ANY($1) AND refs = 0",
        &[&ids],
    )
    .map(drop)
}

/// Chunk `n` of `content`, if stored.
fn next_chunk(c: &mut Conn<'_, '_>, content: i64, n: i32) -> Result<Option<Row>> {
    c.row(CHUNK_SQL, &[&content, &n])
}

/// The checksum of a chunk as `blob_chunks.checksum` holds it (a bigint: the same 64
/// bits, signed).
fn stored_checksum(chunk: &[u8]) -> i64 {
    chunk_checksum(chunk) as i64
}

/// A stored chunk's bytes and checksum (NULL for chunks stored before checksums).
type StoredChunk<'a> = (&'a [u8], Option<i64>);

/// Reads a chunk row of [`CHUNK_SQL`].
fn chunk_of(row: &Row) -> Result<StoredChunk<'_>> {
    Ok((row.value(0)?, row.value(1)?))
}

/// Bytes of a blob checked as they are read, each chunk before any of it is handed on:
/// against its stored checksum, or, for a content stored before the checksums (its
/// first chunk has none), against the content's blake3 hash once the last byte was
/// read. The chunks must add up to its size.
struct Check {
    size: u64,
    hash: String,
    seen: u64,
    /// The blake3 of the bytes so far, for a content without checksums.
    whole: Option<Box<blake3::Hasher>>,
}

impl Check {
    fn new(size: u64, hash: String) -> Check {
        Check {
            size,
            hash,
            seen: 0,
            whole: None,
        }
    }

    /// True once every byte of the size was seen.
    fn complete(&self) -> bool {
        self.seen >= self.size
    }

    /// Takes the next chunk and its stored checksum; one that is empty, runs past the
    /// size or does not match its checksum is damage.
    fn add(&mut self, (chunk, checksum): StoredChunk<'_>) -> std::result::Result<(), &'static str> {
        if chunk.is_empty() {
            return Err("a stored chunk is empty");
        }
        if self.seen == 0 && checksum.is_none() {
            self.whole = Some(Box::new(blake3::Hasher::new()));
        }
        self.seen += chunk.len() as u64;
        if self.seen > self.size {
            return Err("the stored chunks hold more than its size");
        }
        match (&mut self.whole, checksum) {
            (Some(hasher), _) => {
                hasher.update(chunk);
                Ok(())
            }
            (None, Some(stored)) if stored == stored_checksum(chunk) => Ok(()),
            (None, Some(_)) => Err("a stored chunk does not match its checksum"),
            (None, None) => Err("a stored chunk has lost its checksum"),
        }
    }

    /// The last word, once every chunk was added: a content without checksums is
    /// compared with its hash, and so is an empty one (no chunk said anything).
    fn finish(&self) -> std::result::Result<(), &'static str> {
        let intact = match &self.whole {
            Some(hasher) => hasher.finalize().to_hex().as_str() == self.hash,
            None if self.seen == 0 => content_hash(&[]) == self.hash,
            None => true,
        };
        if intact {
            Ok(())
        } else {
            Err("the stored bytes do not match their hash")
        }
    }
}

impl BlobStore for PgBlobStore {
    fn put_all(&self, items: &[(BlobKey, &[u8])]) -> Result<Vec<BlobInfo>> {
        let infos = describe_all(items, self.max_blob_bytes)?;
        if items.is_empty() {
            return Ok(infos);
        }
        // Locked in one order, so that two batches never wait on each other's.
        let mut hashes: Vec<&str> = infos.iter().map(|info| info.hash.as_str()).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let now = self.now();
        self.db.write(|c| {
            for hash in &hashes {
                lock_hash(c, hash)?;
            }
            for (info, (_, data)) in infos.iter().zip(items) {
                let content = store_content(c, &info.hash, data)?;
                link(c, &info.key, content, &now)?;
            }
            Ok(())
        })?;
        Ok(infos)
    }

    fn put_stream(&self, key: &BlobKey, size: u64, reader: &mut dyn Read) -> Result<BlobInfo> {
        let mut incoming = Incoming::new(key, size, self.max_blob_bytes, reader)?;
        let length =
            i64::try_from(size).map_err(|_| Error::validation("blob", "size is too large"))?;
        let now = self.now();
        let mut consumed = false;
        let hash = self.db.write_once(|c| {
            if consumed {
                // Run again after the stream was read: it cannot be read twice.
                return Err(Error::Busy {
                    detail: format!("{key}: the store was busy after the stream was read"),
                });
            }
            // A content of no hash yet (hashes are unique; NULLs are not compared).
            let fresh: i64 = c
                .row(
                    "INSERT INTO blob_contents (hash, size, refs) VALUES (NULL, $1, 0)
                     RETURNING id",
                    &[&length],
                )?
                .ok_or_else(|| Error::Backend {
                    detail: "inserting a blob content returned no row".to_owned(),
                })?
                .value(0)?;
            consumed = true;
            let mut chunk = vec![0u8; CHUNK_BYTES];
            let mut filled = 0;
            let mut n = 0;
            loop {
                let got = incoming
                    .next_chunk(&mut chunk[filled..])?
                    .map_or(0, <[u8]>::len);
                filled += got;
                if filled == CHUNK_BYTES || (got == 0 && filled > 0) {
                    write_chunk(c, fresh, n, &chunk[..filled])?;
                    n += 1;
                    filled = 0;
                }
                if got == 0 {
                    break;
                }
            }
            let hash = incoming.hash();
            lock_hash(c, &hash)?;
            let content = match take_content(c, &hash)? {
                Some(existing) => {
                    c.execute("DELETE FROM blob_contents WHERE id = $1", &[&fresh])?;
                    existing
                }
                None => {
                    c.execute(
                        "UPDATE blob_contents SET hash = $1, refs = 1 WHERE id = $2",
                        &[&hash, &fresh],
                    )?;
                    fresh
                }
            };
            link(c, key, content, &now)?;
            Ok(hash)
        })?;
        Ok(BlobInfo {
            key: *key,
            size,
            hash,
        })
    }

    fn get(&self, key: &BlobKey) -> Result<Vec<u8>> {
        // Most blobs are one chunk: one statement, which sees one snapshot on its own.
        // A larger one is read in a transaction, so that its chunks are one content's
        // even while it is being deleted.
        let one_chunk = CHUNK_BYTES as i64;
        match self.db.read(|c| self.read_whole(c, key, one_chunk))? {
            Some(data) => Ok(data),
            None => self
                .db
                .read_snapshot(|c| self.read_whole(c, key, i64::MAX))?
                .ok_or_else(|| corrupt(key, "its size is out of range")),
        }
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobRead + '_>> {
        Ok(Box::new(PgBlobReader::open(self, key)?))
    }

    fn info(&self, key: &BlobKey) -> Result<Option<BlobInfo>> {
        let (message, index, thumbnail) = key_params(key);
        self.db.read(|c| {
            c.row(
                "SELECT b.idx, b.thumbnail, c.size, c.hash FROM blobs b
                 JOIN blob_contents c ON c.id = b.content_id
                 WHERE b.message_id = $1 AND b.idx = $2 AND b.thumbnail = $3",
                &[&message, &index, &thumbnail],
            )?
            .map(|row| info_from_row(&row, key.message))
            .transpose()
        })
    }

    fn delete(&self, key: &BlobKey) -> Result<bool> {
        let (message, index, thumbnail) = key_params(key);
        self.db.write(|c| {
            let released: Vec<i64> = c
                .rows(
                    "DELETE FROM blobs WHERE message_id = $1 AND idx = $2 AND thumbnail = $3
                     RETURNING content_id",
                    &[&message, &index, &thumbnail],
                )?
                .iter()
                .map(|row| row.value(0))
                .collect::<Result<_>>()?;
            release(c, &released)?;
            Ok(!released.is_empty())
        })
    }

    fn list(&self, message: MessageId) -> Result<Vec<BlobInfo>> {
        self.db.read(|c| {
            c.rows(
                "SELECT b.idx, b.thumbnail, c.size, c.hash FROM blobs b
                 JOIN blob_contents c ON c.id = b.content_id
                 WHERE b.message_id = $1 ORDER BY b.idx, b.thumbnail",
                &[&message.stored()],
            )?
            .iter()
            .map(|row| info_from_row(row, message))
            .collect()
        })
    }

    fn delete_by_prefixes(&self, messages: &[MessageId]) -> Result<u64> {
        if messages.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = messages.iter().map(UuidId::stored).collect();
        self.db.write(|c| {
            let released: Vec<i64> = c
                .rows(
                    "DELETE FROM blobs WHERE message_id = ANY($1) RETURNING content_id",
                    &[&ids],
                )?
                .iter()
                .map(|row| row.value(0))
                .collect::<Result<_>>()?;
            release(c, &released)?;
            Ok(released.len() as u64)
        })
    }

    fn messages_with_blobs(
        &self,
        stored_before: Timestamp,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<MessageId>> {
        let limit = i64::from(validate::page_limit(limit)?);
        let after = after.map_or(Uuid::nil(), |id| id.stored());
        let before = at(stored_before);
        self.db.read(|c| {
            c.rows(
                "SELECT DISTINCT message_id FROM blobs
                 WHERE message_id > $1 AND created_at < $2 ORDER BY message_id LIMIT $3",
                &[&after, &before, &limit],
            )?
            .iter()
            .map(|row| row.id(0))
            .collect()
        })
    }

    fn stats(&self) -> Result<BlobStats> {
        self.db.read_snapshot(|c| {
            let totals = |row: Option<Row>| -> Result<(u64, u64)> {
                match row {
                    Some(row) => Ok((row.uint(0)?, row.uint(1)?)),
                    None => Ok((0, 0)),
                }
            };
            let (keys, bytes) = totals(c.row(
                "SELECT count(*), coalesce(sum(c.size), 0)::bigint FROM blobs b
                 JOIN blob_contents c ON c.id = b.content_id",
                &[],
            )?)?;
            let (contents, stored_bytes) = totals(c.row(
                "SELECT count(*), coalesce(sum(size), 0)::bigint FROM blob_contents
                 WHERE hash IS NOT NULL",
                &[],
            )?)?;
            Ok(BlobStats {
                keys,
                bytes,
                contents,
                stored_bytes,
            })
        })
    }
}

/// A blob being read as a stream, chunk by chunk, inside one REPEATABLE READ READ ONLY
/// transaction on a connection of its own: a key deleted or replaced meanwhile keeps
/// its bytes for this reader. Hashed as it goes and checked at the end.
struct PgBlobReader {
    db: Arc<Db>,
    connection: PooledConnection,
    /// Whether the read transaction is still open.
    in_transaction: bool,
    content: i64,
    info: BlobInfo,
    check: Check,
    /// The first chunk and its checksum, read with the key, until it is handed out.
    first: Option<(Vec<u8>, Option<i64>)>,
    /// The chunk being handed out, and how much of it has been.
    chunk: Vec<u8>,
    handed: usize,
    /// The number of the next chunk to fetch.
    next: i32,
    /// What was found damaged: every read from then on fails with it.
    damage: Option<String>,
    checked: bool,
}

impl PgBlobReader {
    fn open(store: &PgBlobStore, key: &BlobKey) -> Result<PgBlobReader> {
        let mut connection = store.db.connection()?;
        connection
            .client()
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .db()?;
        let (message, index, thumbnail) = key_params(key);
        let found = store.db.on(&mut connection, |c| {
            c.row(OPEN_SQL, &[&message, &index, &thumbnail, &i64::MAX])?
                .map(|row| {
                    let checksum = row.value::<Option<i64>>(4)?;
                    Ok((
                        row.value::<i64>(0)?,
                        row.uint::<u64>(1)?,
                        row.text(2)?,
                        row.value::<Option<Vec<u8>>>(3)?
                            .map(|chunk| (chunk, checksum)),
                    ))
                })
                .transpose()
        });
        let (content, size, hash, first) = match found {
            Ok(Some(found)) => found,
            other => {
                let _ = connection.client().batch_execute("ROLLBACK");
                return Err(other.err().unwrap_or_else(|| Error::not_found("blob", key)));
            }
        };
        Ok(PgBlobReader {
            db: Arc::clone(&store.db),
            connection,
            in_transaction: true,
            content,
            check: Check::new(size, hash.clone()),
            info: BlobInfo {
                key: *key,
                size,
                hash,
            },
            first,
            chunk: Vec::new(),
            handed: 0,
            next: 0,
            damage: None,
            checked: false,
        })
    }

    /// Records damage found: this read and every later one fail with it.
    fn damaged(&mut self, why: &str) -> io::Error {
        let damage = format!("blob {}: {why}", self.info.key);
        self.damage = Some(damage.clone());
        io::Error::new(io::ErrorKind::InvalidData, damage)
    }

    /// Makes `chunk` the next stored chunk (the first came with the key).
    fn fetch(&mut self) -> io::Result<()> {
        let n = self.next;
        let (chunk, checksum) = match self.first.take() {
            Some(first) => first,
            None => {
                let content = self.content;
                let row = self
                    .db
                    .on(&mut self.connection, |c| next_chunk(c, content, n))
                    .map_err(io::Error::other)?;
                let Some(row) = row else {
                    return Err(self.damaged(&format!("chunk {n} is missing")));
                };
                (
                    row.value::<Vec<u8>>(0).map_err(io::Error::other)?,
                    row.value::<Option<i64>>(1).map_err(io::Error::other)?,
                )
            }
        };
        // Checked before any of it is handed on.
        if let Err(why) = self.check.add((&chunk, checksum)) {
            return Err(self.damaged(&format!("chunk {n}: {why}")));
        }
        self.chunk = chunk;
        self.next += 1;
        self.handed = 0;
        Ok(())
    }

    /// Compares what was read with the stored hash, once, at the end, and ends the
    /// read transaction.
    fn finish(&mut self) -> io::Result<()> {
        if self.checked {
            return Ok(());
        }
        self.checked = true;
        self.end();
        self.check.finish().map_err(|why| self.damaged(why))
    }

    fn end(&mut self) {
        if std::mem::take(&mut self.in_transaction) {
            // A connection left inside a transaction would hand it to its next user.
            if self.connection.client().batch_execute("ROLLBACK").is_err() {
                tracing::warn!("could not end a blob read's transaction");
            }
        }
    }
}

impl Read for PgBlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(damage) = &self.damage {
            return Err(io::Error::new(io::ErrorKind::InvalidData, damage.clone()));
        }
        if self.handed >= self.chunk.len() {
            if self.check.complete() {
                self.finish()?;
                return Ok(0);
            }
            self.fetch()?;
        }
        let n = buf.len().min(self.chunk.len() - self.handed);
        buf[..n].copy_from_slice(&self.chunk[self.handed..self.handed + n]);
        self.handed += n;
        Ok(n)
    }
}

impl BlobRead for PgBlobReader {
    fn info(&self) -> &BlobInfo {
        &self.info
    }
}

impl Drop for PgBlobReader {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(chunk: &[u8]) -> StoredChunk<'_> {
        (chunk, Some(stored_checksum(chunk)))
    }

    #[test]
    fn chunks_must_add_up_to_the_size_and_match_their_checksums() {
        let data = b"some bytes of a blob";
        let mut check = Check::new(data.len() as u64, content_hash(data));
        assert!(check.add(stored(&data[..5])).is_ok());
        assert!(!check.complete());
        assert!(check.add(stored(&[])).is_err(), "an empty chunk");
        assert!(check.add(stored(&data[5..])).is_ok());
        assert!(check.complete());
        assert!(check.finish().is_ok());

        let mut long = Check::new(3, content_hash(b"abc"));
        assert!(long.add(stored(b"abcd")).is_err());
        let mut wrong = Check::new(3, content_hash(b"abc"));
        assert!(wrong.add((b"abd", Some(stored_checksum(b"abc")))).is_err());
        let mut lost = Check::new(6, content_hash(b"abcdef"));
        assert!(lost.add(stored(b"abc")).is_ok());
        assert!(lost.add((b"def", None)).is_err(), "a checksum gone");
        let emptied = Check::new(0, content_hash(b"abc"));
        assert!(emptied.complete());
        assert!(
            emptied.finish().is_err(),
            "an empty content's hash is known"
        );
        assert!(Check::new(0, content_hash(b"")).finish().is_ok());
    }

    #[test]
    fn contents_without_checksums_are_checked_against_their_hash_at_the_end() {
        let data = b"stored before the checksums";
        let mut good = Check::new(data.len() as u64, content_hash(data));
        assert!(good.add((&data[..10], None)).is_ok());
        assert!(good.add((&data[10..], Some(0))).is_ok(), "the hash decides");
        assert!(good.finish().is_ok());
        let mut bad = Check::new(data.len() as u64, content_hash(data));
        assert!(bad.add((b"stored before the checksumz", None)).is_ok());
        assert!(bad.finish().is_err());
    }
}
