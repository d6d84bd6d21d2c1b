//! Streaming reads: a blob read in chunks inside one read transaction (so a concurrent
//! delete cannot pull the bytes away mid-read), hashed as it goes and checked at the end.

use std::io::{self, Read};

use chatstore::{BlobInfo, BlobKey, BlobRead, Error, Result};
use chatstore_sqlite::engine::{ReadConnection, RowExt, from_sqlite};
use rusqlite::MAIN_DB;

use crate::SqliteBlobStore;
use crate::store::key_params;

/// A blob being read as a stream; see [`BlobRead`].
pub(crate) struct BlobStreamReader {
    conn: ReadConnection,
    content: i64,
    info: BlobInfo,
    offset: u64,
    hasher: blake3::Hasher,
    checked: bool,
}

impl BlobStreamReader {
    pub(crate) fn open(store: &SqliteBlobStore, key: &BlobKey) -> Result<BlobStreamReader> {
        let conn = store.db.reader()?;
        let (message, index, thumbnail) = key_params(key);
        let found = conn.run(|c| {
            c.execute("BEGIN", &[])?;
            c.row(
                "SELECT c.id, c.size, c.hash FROM blobs b JOIN contents c ON c.id = b.content_id
                 WHERE b.message_id = ?1 AND b.idx = ?2 AND b.thumbnail = ?3",
                &[&message, &index, &thumbnail],
                |row| Ok((row.int(0)?, row.uint(1)?, row.text(2)?)),
            )
        });
        let found = match found {
            Ok(Some(found)) => found,
            other => {
                let _ = conn.run(|c| c.execute("ROLLBACK", &[]));
                return Err(other.err().unwrap_or_else(|| Error::not_found("blob", key)));
            }
        };
        let (content, size, hash) = found;
        Ok(BlobStreamReader {
            conn,
            content,
            info: BlobInfo {
                key: *key,
                size,
                hash,
            },
            offset: 0,
            hasher: blake3::Hasher::new(),
            checked: false,
        })
    }

    /// Compares what was read with the stored hash, once, at the end.
    fn check(&mut self) -> io::Result<()> {
        if self.checked {
            return Ok(());
        }
        self.checked = true;
        if self.hasher.finalize().to_hex().as_str() == self.info.hash {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {}: the stored bytes do not match their hash",
                    self.info.key
                ),
            ))
        }
    }
}

impl Read for BlobStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset >= self.info.size {
            self.check()?;
            return Ok(0);
        }
        let want = usize::try_from(self.info.size - self.offset)
            .unwrap_or(usize::MAX)
            .min(buf.len())
            .min(crate::store::CHUNK);
        let (content, offset) = (self.content, self.offset);
        let read = self.conn.run(|c| {
            let blob = c
                .raw()
                .blob_open(MAIN_DB, c"contents", c"data", content, true)
                .map_err(from_sqlite)?;
            blob.read_at(&mut buf[..want], offset as usize)
                .map_err(|e| Error::Corrupt {
                    detail: format!("reading a blob: {e}"),
                })
        });
        let read = read.map_err(io::Error::other)?;
        self.hasher.update(&buf[..read]);
        self.offset += read as u64;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("blob {} ended before its recorded size", self.info.key),
            ));
        }
        Ok(read)
    }
}

impl BlobRead for BlobStreamReader {
    fn info(&self) -> &BlobInfo {
        &self.info
    }
}

impl Drop for BlobStreamReader {
    fn drop(&mut self) {
        // Ends the read transaction; a connection left inside one would be retired.
        let _ = self.conn.run(|c| c.execute("ROLLBACK", &[]));
    }
}
