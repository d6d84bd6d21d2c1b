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

/// Chunks read per opening of the blob. SQLite finds a position inside a blob by walking
/// its chain of overflow pages from the start, so a stream that opened the blob once per
/// chunk would walk the chain once per chunk: a cost growing with the square of the
/// blob's size (`blob_stream`: 64 MiB took 165 ms opened per chunk, 27 ms a window at a
/// time, against 96 ms for one `get`).
const WINDOW: usize = 16;

/// A blob being read as a stream; see [`BlobRead`].
///
/// The stream reads [`WINDOW`] chunks ([`CHUNK`]) at a time into a buffer of its own and
/// checks each chunk against its checksum before any of it is handed on. When a chunk
/// fails, the chunks before it are still handed on, then this read and every later one
/// fail: nothing from the failing chunk or past it is ever handed on.
pub(crate) struct BlobStreamReader {
    conn: ReadConnection,
    content: i64,
    info: BlobInfo,
    check: ReadCheck,
    /// The next chunk to read from the file.
    next: usize,
    /// Checked bytes being handed on, and how much of them has been.
    pending: Vec<u8>,
    handed: usize,
    /// Why the chunk after `pending` failed, to be reported once `pending` is handed on.
    failing: Option<String>,
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
            failing: None,
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

    /// Reads the next window of chunks into `pending` and checks them one by one; keeps
    /// the chunks before the first that fails (the rest is zeroed and dropped, and the
    /// failure reported once the good ones are handed on).
    fn fill(&mut self) -> io::Result<()> {
        let offset = self.next * CHUNK;
        let left = usize::try_from(self.info.size).unwrap_or(usize::MAX) - offset;
        let mut window = std::mem::take(&mut self.pending);
        window.clear();
        window.resize(left.min(WINDOW * CHUNK), 0);
        let content = self.content;
        let read = self.conn.run(|c| {
            let blob = c
                .raw()
                .blob_open(MAIN_DB, c"contents", c"data", content, true)
                .map_err(from_sqlite)?;
            Ok(blob.read_at_exact(&mut window, offset).is_ok())
        });
        let whole = read.map_err(io::Error::other)?;
        let mut good = 0;
        for (i, chunk) in window.chunks(CHUNK).enumerate() {
            let index = self.next + i;
            let why = if !whole {
                format!("the stored bytes end inside chunk {index}")
            } else if !self.check.chunk(index, chunk) {
                format!("chunk {index} of the stored bytes does not match its checksum")
            } else {
                good += chunk.len();
                continue;
            };
            self.failing = Some(why);
            break;
        }
        window[good..].fill(0);
        window.truncate(good);
        self.next += good.div_ceil(CHUNK);
        self.pending = window;
        self.handed = 0;
        Ok(())
    }
}

/// How a damaged blob fails a read: [`io::ErrorKind::InvalidData`] carrying
/// [`Error::Corrupt`].
fn corrupt_data(key: &BlobKey, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, damaged(key, why))
}

impl Read for BlobStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(why) = &self.failed {
                return Err(corrupt_data(&self.info.key, why));
            }
            if buf.is_empty() {
                return Ok(0);
            }
            if self.handed < self.pending.len() {
                // At most a chunk per read, as every stream of the store hands them on.
                let n = buf.len().min(self.pending.len() - self.handed).min(CHUNK);
                buf[..n].copy_from_slice(&self.pending[self.handed..self.handed + n]);
                self.handed += n;
                return Ok(n);
            }
            if let Some(why) = self.failing.take() {
                return Err(self.fail(why));
            }
            if self.next as u64 * CHUNK as u64 >= self.info.size {
                if !self.finished {
                    if !self.check.finish() {
                        let why = "the stored bytes do not match their hash".to_owned();
                        return Err(self.fail(why));
                    }
                    self.finished = true;
                }
                return Ok(0);
            }
            self.fill()?;
        }
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
