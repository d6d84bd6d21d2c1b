//! Whole reads ([`chatstore::BlobStore::get`]): one statement finds the key's content;
//! a small content comes with the row, a large one is copied chunk by chunk straight
//! into the result through incremental blob I/O, opened while the row is still being
//! read so that both see one snapshot without a transaction of their own. Every chunk
//! is checked against its checksum while it is in cache.

use chatstore::{BlobKey, Error, Result};
use chatstore_sqlite::engine::{Conn, RowExt, from_sqlite};
use rusqlite::MAIN_DB;

use crate::checks::{CHUNK, ReadCheck};
use crate::store::{damaged, key_params};

/// The key's content: its id and size, its hash only when it has no checksums (the
/// hash is then what the read checks), its checksums, and its bytes when they fit in
/// one chunk.
const FIND_SQL: &str = "SELECT c.id, c.size, CASE WHEN k.checks IS NULL THEN c.hash END,
        k.checks, CASE WHEN c.size <= ?4 THEN c.data END
     FROM blobs b JOIN contents c ON c.id = b.content_id
     LEFT JOIN content_checks k ON k.content_id = c.id
     WHERE b.message_id = ?1 AND b.idx = ?2 AND b.thumbnail = ?3";

/// The checked bytes under `key`: [`Error::NotFound`] when there are none,
/// [`Error::Corrupt`] when they do not match their checksums (or hash).
pub(crate) fn read_whole(conn: &Conn<'_>, key: &BlobKey) -> Result<Vec<u8>> {
    let (message, index, thumbnail) = key_params(key);
    let params: [&dyn rusqlite::ToSql; 4] = [&message, &index, &thumbnail, &(CHUNK as i64)];
    conn.row(FIND_SQL, &params, |row| {
        let content = row.int(0)?;
        let size = row.uint::<usize>(1)?;
        let hash = row
            .value(2)?
            .as_str_or_null()
            .map_err(|e| row.corrupt(2, e))?;
        let checks = row
            .value(3)?
            .as_blob_or_null()
            .map_err(|e| row.corrupt(3, e))?;
        let mut check = ReadCheck::new(
            checks.map(<[u8]>::to_vec),
            size as u64,
            hash.unwrap_or_default().to_owned(),
        )
        .map_err(|()| damaged(key, "its stored checksums are damaged"))?;
        match row
            .value(4)?
            .as_blob_or_null()
            .map_err(|e| row.corrupt(4, e))?
        {
            Some(data) if data.len() == size && check.all(data) => Ok(data.to_vec()),
            Some(_) => Err(damaged(key, "the stored bytes do not match their checksum")),
            None => read_chunks(conn, key, content, size, &mut check),
        }
    })?
    .ok_or_else(|| Error::not_found("blob", key))
}

/// Copies content `content` of `size` bytes chunk by chunk, checking each.
fn read_chunks(
    conn: &Conn<'_>,
    key: &BlobKey,
    content: i64,
    size: usize,
    check: &mut ReadCheck,
) -> Result<Vec<u8>> {
    let blob = conn
        .raw()
        .blob_open(MAIN_DB, c"contents", c"data", content, true)
        .map_err(from_sqlite)?;
    let mut data = vec![0u8; size];
    for (i, chunk) in data.chunks_mut(CHUNK).enumerate() {
        blob.read_at_exact(chunk, i * CHUNK)
            .map_err(|_| damaged(key, "the stored bytes end before their size"))?;
        if !check.chunk(i, chunk) {
            return Err(damaged(
                key,
                &format!("chunk {i} of the stored bytes does not match its checksum"),
            ));
        }
    }
    if !check.finish() {
        return Err(damaged(key, "the stored bytes do not match their hash"));
    }
    Ok(data)
}
