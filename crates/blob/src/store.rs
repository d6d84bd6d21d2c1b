//! [`SqliteBlobStore`]: the [`BlobStore`] on its own SQLite file.

use chatstore::blob::{Incoming, describe_all};
use std::io::Read;

use chatstore::{
    BlobInfo, BlobKey, BlobRead, BlobStats, BlobStore, Error, MessageId, Result, Timestamp,
    validate,
};
use chatstore_sqlite::engine::{Conn, Db, Migration, RowExt, json_text};
use rusqlite::{MAIN_DB, Row};

use crate::BlobConfig;
use crate::checks::{CHUNK, ChecksWriter, checks_of};
use crate::get::read_whole;
use crate::reader::BlobStreamReader;

/// The attachment store's schema.
pub const MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "0001_blobs",
        include_str!("../migrations/0001_blobs.up.sql"),
        include_str!("../migrations/0001_blobs.down.sql"),
    ),
    Migration::new(
        2,
        "0002_content_checks",
        include_str!("../migrations/0002_content_checks.up.sql"),
        include_str!("../migrations/0002_content_checks.down.sql"),
    ),
];

/// Content-addressed, checksummed attachment bytes in a SQLite file of their own
/// (seed 001's `files.db`).
///
/// ```
/// use chatstore::{BlobKey, BlobStore, MessageId};
/// use chatstore_blob::{BlobConfig, SqliteBlobStore};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let blobs = SqliteBlobStore::open(BlobConfig::new(dir.path().join("files.db")))?;
/// let message = MessageId::new();
/// let (file, thumb) = (BlobKey::file(message, 0), BlobKey::thumbnail(message, 0));
/// blobs.put_all(&[(file, b"%PDF-1.7 ...".as_slice()), (thumb, b"small".as_slice())])?;
/// assert_eq!(blobs.get(&file)?, b"%PDF-1.7 ...");
/// assert_eq!(blobs.delete_by_prefixes(&[message])?, 2);
/// # Ok::<(), chatstore::Error>(())
/// ```
#[derive(Debug)]
pub struct SqliteBlobStore {
    pub(crate) db: Db,
    pub(crate) config: BlobConfig,
}

/// The columns identifying a key in `blobs`, bound as ?1 ?2 ?3.
pub(crate) fn key_params(key: &BlobKey) -> (String, i64, bool) {
    (key.message.to_string(), i64::from(key.index), key.thumbnail)
}

fn info_from_row(row: &Row<'_>, message: MessageId) -> Result<BlobInfo> {
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

/// [`Error::Corrupt`] for the bytes under `key`, saying `why`.
pub(crate) fn damaged(key: &BlobKey, why: &str) -> Error {
    Error::Corrupt {
        detail: format!("blob {key}: {why}"),
    }
}

/// The content holding `hash`, if any.
fn content_with_hash(conn: &Conn<'_>, hash: &str) -> Result<Option<i64>> {
    conn.row("SELECT id FROM contents WHERE hash = ?1", &[&hash], |row| {
        row.int(0)
    })
}

/// The content holding these bytes: a new row, or (when the same bytes are already
/// stored) the existing one, given the checksums it lacks if it was stored before them.
fn store_content(conn: &Conn<'_>, hash: &str, data: &[u8]) -> Result<i64> {
    // No RETURNING: SQLite would journal the statement on its own and gather the row
    // in a temporary table (a sixth of the instructions of a small write).
    let inserted = conn.execute(
        "INSERT INTO contents (hash, size, data) VALUES (?1, ?2, ?3)
         ON CONFLICT (hash) DO NOTHING",
        &[&hash, &(data.len() as i64), &data],
    )?;
    let (id, new) = if inserted == 1 {
        (conn.raw().last_insert_rowid(), true)
    } else {
        let id = content_with_hash(conn, hash)?.ok_or_else(|| Error::Backend {
            detail: format!("content {hash} neither inserted nor found"),
        })?;
        (id, false)
    };
    record_checks(conn, id, &checks_of(data), new)?;
    Ok(id)
}

/// Records the checksums of content `id`. A content just inserted (`new`) gets them
/// outright, replacing any row left under its id by a deletion made outside the store
/// (the store's own connections delete them with the content; a shell's, without
/// foreign keys, does not), since SQLite takes the highest id again once it is
/// deleted. An existing content keeps the checksums it has, and one stored before
/// checksums existed gets them now.
fn record_checks(conn: &Conn<'_>, id: i64, checks: &[u8], new: bool) -> Result<()> {
    let sql = if new {
        "INSERT INTO content_checks (content_id, checks) VALUES (?1, ?2)
         ON CONFLICT (content_id) DO UPDATE SET checks = excluded.checks"
    } else {
        "INSERT INTO content_checks (content_id, checks) VALUES (?1, ?2)
         ON CONFLICT (content_id) DO NOTHING"
    };
    conn.execute(sql, &[&id, &checks]).map(drop)
}

/// Points `key` at `content`, and drops the content it pointed at before if nothing
/// else uses it. A new key (the usual case) costs one statement.
fn link(conn: &Conn<'_>, key: &BlobKey, content: i64, now: &str) -> Result<()> {
    let (message, index, thumbnail) = key_params(key);
    let inserted = conn.execute(
        "INSERT INTO blobs (message_id, idx, thumbnail, content_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        &[&message, &index, &thumbnail, &content, &now],
    )?;
    if inserted == 1 {
        return Ok(());
    }
    let previous = conn.row(
        "SELECT content_id FROM blobs WHERE message_id = ?1 AND idx = ?2 AND thumbnail = ?3",
        &[&message, &index, &thumbnail],
        |row| row.int(0),
    )?;
    conn.execute(
        "UPDATE blobs SET content_id = ?4, created_at = ?5
         WHERE message_id = ?1 AND idx = ?2 AND thumbnail = ?3",
        &[&message, &index, &thumbnail, &content, &now],
    )?;
    match previous {
        Some(old) if old != content => release(conn, &[old]),
        _ => Ok(()),
    }
}

/// Deletes the contents among `ids` that no key points at any more.
fn release(conn: &Conn<'_>, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    conn.execute(
        "DELETE FROM contents WHERE id IN (SELECT value FROM json_each(?1))
           AND NOT EXISTS (SELECT 1 FROM blobs WHERE content_id = contents.id)",
        &[&json_text(&ids)?],
    )
    .map(drop)
}

impl SqliteBlobStore {
    /// The database engine under the store, for maintenance that spans the store and
    /// the main store ([`chatstore_sqlite::engine::backup_together`]).
    pub fn engine(&self) -> &Db {
        &self.db
    }

    /// Opens (creating if needed) the attachment store, with the same startup check,
    /// connection handling and migrations as the main SQLite store.
    pub fn open(config: BlobConfig) -> Result<SqliteBlobStore> {
        let db = Db::open(&config.path, &config.db_options(), MIGRATIONS)?;
        Ok(SqliteBlobStore { db, config })
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &BlobConfig {
        &self.config
    }

    /// Closes the store, folding its write-ahead log into the file.
    pub fn close(self) -> Result<()> {
        self.db.close()
    }

    fn now(&self) -> String {
        self.config.shared.clock.now().to_string()
    }

    /// Writes the incoming bytes into a new content row inside the caller's
    /// transaction; returns the row, the hash and the packed checksums.
    fn stream_into_new_content(
        conn: &Conn<'_>,
        incoming: &mut Incoming<'_>,
    ) -> Result<(i64, String, Vec<u8>)> {
        let length = i64::try_from(incoming.size())
            .map_err(|_| Error::validation("blob", "size is too large"))?;
        let placeholder = "writing";
        conn.execute(
            "INSERT INTO contents (hash, size, data) VALUES (?1, ?2, zeroblob(?2))",
            &[&placeholder, &length],
        )?;
        let id = conn.raw().last_insert_rowid();
        let mut blob = conn
            .raw()
            .blob_open(MAIN_DB, c"contents", c"data", id, false)
            .map_err(chatstore_sqlite::engine::from_sqlite)?;
        let mut buffer = vec![0u8; CHUNK];
        let mut checks = ChecksWriter::new();
        loop {
            let offset = incoming.received() as usize;
            let Some(chunk) = incoming.next_chunk(&mut buffer)? else {
                break;
            };
            checks.update(chunk);
            blob.write_at(chunk, offset)
                .map_err(chatstore_sqlite::engine::from_sqlite)?;
        }
        drop(blob);
        Ok((id, incoming.hash(), checks.finish()))
    }
}

impl BlobStore for SqliteBlobStore {
    fn put_all(&self, items: &[(BlobKey, &[u8])]) -> Result<Vec<BlobInfo>> {
        let infos = describe_all(items, self.config.max_blob_bytes)?;
        let now = self.now();
        self.db.write(|c| {
            for (info, (_, data)) in infos.iter().zip(items) {
                let content = store_content(c, &info.hash, data)?;
                link(c, &info.key, content, &now)?;
            }
            Ok(())
        })?;
        Ok(infos)
    }

    fn put_stream(&self, key: &BlobKey, size: u64, reader: &mut dyn Read) -> Result<BlobInfo> {
        let mut incoming = Incoming::new(key, size, self.config.max_blob_bytes, reader)?;
        let now = self.now();
        let mut consumed = false;
        let hash = self.db.write(|c| {
            if consumed {
                // A retry after the stream was read cannot read it again.
                return Err(Error::Busy {
                    detail: format!("{key}: the store was busy after the stream was read"),
                });
            }
            consumed = true;
            let (fresh, hash, checks) = SqliteBlobStore::stream_into_new_content(c, &mut incoming)?;
            let (content, new) = match content_with_hash(c, &hash)? {
                Some(existing) => {
                    c.execute("DELETE FROM contents WHERE id = ?1", &[&fresh])?;
                    (existing, false)
                }
                None => {
                    c.execute(
                        "UPDATE contents SET hash = ?1 WHERE id = ?2",
                        &[&hash, &fresh],
                    )?;
                    (fresh, true)
                }
            };
            record_checks(c, content, &checks, new)?;
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
        self.db.read(|c| read_whole(c, key))
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobRead + '_>> {
        Ok(Box::new(BlobStreamReader::open(self, key)?))
    }

    fn info(&self, key: &BlobKey) -> Result<Option<BlobInfo>> {
        let (message, index, thumbnail) = key_params(key);
        self.db.read(|c| {
            c.row(
                "SELECT b.idx, b.thumbnail, c.size, c.hash FROM blobs b
                 JOIN contents c ON c.id = b.content_id
                 WHERE b.message_id = ?1 AND b.idx = ?2 AND b.thumbnail = ?3",
                &[&message, &index, &thumbnail],
                |row| info_from_row(row, key.message),
            )
        })
    }

    fn delete(&self, key: &BlobKey) -> Result<bool> {
        let (message, index, thumbnail) = key_params(key);
        self.db.write(|c| {
            let released = c.rows(
                "DELETE FROM blobs WHERE message_id = ?1 AND idx = ?2 AND thumbnail = ?3
                 RETURNING content_id",
                &[&message, &index, &thumbnail],
                |row| row.int(0),
            )?;
            release(c, &released)?;
            Ok(!released.is_empty())
        })
    }

    fn list(&self, message: MessageId) -> Result<Vec<BlobInfo>> {
        self.db.read(|c| {
            c.rows(
                "SELECT b.idx, b.thumbnail, c.size, c.hash FROM blobs b
                 JOIN contents c ON c.id = b.content_id
                 WHERE b.message_id = ?1 ORDER BY b.idx, b.thumbnail",
                &[&message.to_string()],
                |row| info_from_row(row, message),
            )
        })
    }

    fn delete_by_prefixes(&self, messages: &[MessageId]) -> Result<u64> {
        if messages.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = messages.iter().map(ToString::to_string).collect();
        let ids = json_text(&ids)?;
        self.db.write(|c| {
            let mut released = c.rows(
                "DELETE FROM blobs WHERE message_id IN (SELECT value FROM json_each(?1))
                 RETURNING content_id",
                &[&ids],
                |row| row.int(0),
            )?;
            let deleted = released.len() as u64;
            released.sort_unstable();
            released.dedup();
            release(c, &released)?;
            Ok(deleted)
        })
    }

    fn messages_with_blobs(
        &self,
        stored_before: Timestamp,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<MessageId>> {
        let limit = validate::page_limit(limit)?;
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        self.db.read(|c| {
            c.rows(
                "SELECT DISTINCT message_id FROM blobs
                 WHERE message_id > ?1 AND created_at < ?2 ORDER BY message_id LIMIT ?3 + 0",
                &[&after, &stored_before.to_string(), &limit],
                |row| row.parse(0),
            )
        })
    }

    fn stats(&self) -> Result<BlobStats> {
        self.db.read_snapshot(|c| {
            let (keys, bytes) = c
                .row(
                    "SELECT count(*), coalesce(sum(c.size), 0) FROM blobs b
                     JOIN contents c ON c.id = b.content_id",
                    &[],
                    |row| Ok((row.uint(0)?, row.uint(1)?)),
                )?
                .unwrap_or_default();
            let (contents, stored_bytes) = c
                .row(
                    "SELECT count(*), coalesce(sum(size), 0) FROM contents",
                    &[],
                    |row| Ok((row.uint(0)?, row.uint(1)?)),
                )?
                .unwrap_or_default();
            Ok(BlobStats {
                keys,
                bytes,
                contents,
                stored_bytes,
            })
        })
    }
}
