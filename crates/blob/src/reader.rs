//! Streaming reads: a blob read chunk by chunk inside one read transaction (so a
//! concurrent delete cannot pull the bytes away mid-read), each chunk checked against
//! its checksum before any of its bytes are handed on.

use std::io::{self, Read};

use chatstore::{BlobInfo, BlobKey, BlobRead, Error, Result};
use chatstore_sqlite::engine::{ReadConnection, RowExt, from_sqlite};
use rusqlite::MAIN_DB;

use crate::SqliteBlobStore;
use crate::checks::{CHUNK, ReadCheck};
use crate::store::{damaged, key_params};

/// A blob being read as a stream; see [`BlobRead`].
///
/// Reads hand on at most one chunk ([`CHUNK`]) at a time. A chunk is read whole and
/// checked before any of it is handed on, straight into the caller's buffer when it
/// holds a whole chunk and through a buffer of the reader's otherwise. Once a chunk
/// fails its check, every later read fails too: nothing past it is ever handed on.
pub(crate) struct BlobStreamReader {
    conn: ReadConnection,
    content: i64,
    info: BlobInfo,
    check: ReadCheck,
    /// The next chunk to read from the file.
    next: usize,
    /// A checked chunk being handed on in pieces, and how much of it has been.
    pending: Vec<u8>,
    handed: usize,
    /// Why the stream failed, once it has: every later read fails the same way.
    failed: Option<String>,
    /// Whether the end-of-content check has passed.
    finished: bool,
}

impl BlobStreamReader {
    pub(crate) fn open(store: &SqliteBlobStore, key: &BlobKey) -> Result<BlobStreamReader> {
        let conn = store.db.reader()?;
        let (message, index, thumbnail) = key_params(key);
        let found = conn.run(|c| {
            c.execute("BEGIN", &[])?;
            c.row(
                "SELECT c.id, c.size, c.hash, k.checks FROM blobs b
                 JOIN contents c ON c.id = b.content_id
                 LEFT JOIN content_checks k ON k.content_id = c.id
                 WHERE b.message_id = ?1 AND b.idx = ?2 AND b.thumbnail = ?3",
                &[&message, &index, &thumbnail],
                |row| {
                    let checks = row
                        .value(3)?
                        .as_blob_or_null()
                        .map_err(|e| row.corrupt(3, e))?
                        .map(<[u8]>::to_vec);
                    Ok((row.int(0)?, row.uint(1)?, row.text(2)?, checks))
                },
            )
        });
        let opened = found
            .and_then(|found| found.ok_or_else(|| Error::not_found("blob", key)))
            .and_then(|(content, size, hash, checks)| {
                let check = ReadCheck::new(checks, size, String::clone(&hash))
                    .map_err(|()| damaged(key, "its stored checksums are damaged"))?;
                Ok((content, size, hash, check))
            });
        let (content, size, hash, check) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                let _ = conn.run(|c| c.execute("ROLLBACK", &[]));
                return Err(error);
            }
        };
        Ok(BlobStreamReader {
            conn,
            content,
            info: BlobInfo {
                key: *key,
                size,
                hash,
            },
            check,
            next: 0,
            pending: Vec::new(),
            handed: 0,
            failed: None,
            finished: false,
        })
    }

    /// Fails the stream for good: this read and every later one.
    fn fail(&mut self, why: String) -> io::Error {
        let error = corrupt_data(&self.info.key, &why);
        self.failed = Some(why);
        error
    }

    /// Reads chunk `self.next` into `into` (exactly its length) and checks it; on
    /// failure `into` is zeroed, so that none of the bad bytes stay where the caller
    /// may look.
    fn read_chunk(&mut self, into: &mut [u8]) -> io::Result<()> {
        let (content, index) = (self.content, self.next);
        let read = self.conn.run(|c| {
            let blob = c
                .raw()
                .blob_open(MAIN_DB, c"contents", c"data", content, true)
                .map_err(from_sqlite)?;
            Ok(blob.read_at_exact(into, index * CHUNK).is_ok())
        });
        let whole = read.map_err(io::Error::other)?;
        let why = if !whole {
            format!("the stored bytes end inside chunk {index}")
        } else if !self.check.chunk(index, into) {
            format!("chunk {index} of the stored bytes does not match its checksum")
        } else {
            self.next += 1;
            return Ok(());
        };
        into.fill(0);
        Err(self.fail(why))
    }
}

/// How a damaged blob fails a read: [`io::ErrorKind::InvalidData`] carrying
/// [`Error::Corrupt`].
fn corrupt_data(key: &BlobKey, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, damaged(key, why))
}

impl Read for BlobStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = &self.failed {
            return Err(corrupt_data(&self.info.key, why));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.handed < self.pending.len() {
            let n = buf.len().min(self.pending.len() - self.handed);
            buf[..n].copy_from_slice(&self.pending[self.handed..self.handed + n]);
            self.handed += n;
            return Ok(n);
        }
        let offset = self.next as u64 * CHUNK as u64;
        if offset >= self.info.size {
            if !self.finished {
                if !self.check.finish() {
                    let why = "the stored bytes do not match their hash".to_owned();
                    return Err(self.fail(why));
                }
                self.finished = true;
            }
            return Ok(0);
        }
        let len = usize::try_from(self.info.size - offset).map_or(CHUNK, |left| left.min(CHUNK));
        if buf.len() >= len {
            self.read_chunk(&mut buf[..len])?;
            return Ok(len);
        }
        let mut pending = std::mem::take(&mut self.pending);
        pending.resize(len, 0);
        let read = self.read_chunk(&mut pending);
        self.pending = pending;
        self.handed = 0;
        if let Err(error) = read {
            self.pending.clear();
            return Err(error);
        }
        self.read(buf)
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
