//! Attachments of imported messages: their bytes, kept inline in the message (base64,
//! from before the old app had a blob store) or in its `files.db` under
//! `<message id>/<index>` (and `.thumb`), stored in the target's blob store under the
//! message's new id before the message itself is written, so that an import stopped at
//! any point leaves no message pointing at a missing attachment.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use base64::Engine;
use chatstore::attachments::{MAX_ATTACHMENTS, validate_files};
use chatstore::transfer::Value;
use chatstore::{BlobInfo, BlobKey, BlobStore, Error, FileMeta, MessageId, Result};

use crate::report::ImportReport;
use crate::source::SourceDb;
use crate::writer::{Record, target_table};

/// Where an attachment's bytes are.
pub(crate) enum Bytes {
    /// In the message, already decoded.
    Inline(Vec<u8>),
    /// In the source's `files.db`, under this key.
    Stored(String),
}

/// One attachment of a message, checked.
pub(crate) struct PlannedFile {
    /// Its name as uploaded.
    pub name: String,
    /// Its media type.
    pub mime_type: String,
    /// The file.
    pub file: Bytes,
    /// Its thumbnail, when it has one.
    pub thumbnail: Option<Bytes>,
}

/// The attachments of message `original` as its `files` JSON describes them (seed 001's
/// entries: `name`, `type`, and either inline `data` and `thumbnail`, or bytes under
/// `stored` keys). Entries whose bytes are nowhere are left out and their keys pushed
/// to `missing`; `Err` is the reason to skip the message (not a JSON array, bad base64,
/// a bad name or type, too many files).
pub(crate) fn plan(
    raw: Option<&str>,
    original: &str,
    stored: &HashSet<String>,
    missing: &mut Vec<String>,
) -> std::result::Result<Vec<PlannedFile>, String> {
    let entries = match raw.map(str::trim) {
        None | Some("") | Some("null") => return Ok(Vec::new()),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Array(entries)) => entries,
            Ok(_) => return Err("files is not a JSON array".to_owned()),
            Err(e) => return Err(format!("files is not JSON: {e}")),
        },
    };
    if entries.len() > MAX_ATTACHMENTS {
        return Err(format!("files has more than {MAX_ATTACHMENTS} attachments"));
    }
    let mut files = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let field = |name: &str| entry.get(name).and_then(serde_json::Value::as_str);
        let key = format!("{original}/{index}");
        let thumb_key = format!("{key}.thumb");
        let file = match field("data") {
            Some(data) => Bytes::Inline(decode(&format!("files[{index}].data"), data)?),
            None if stored.contains(&key) => Bytes::Stored(key),
            None => {
                missing.push(key);
                continue;
            }
        };
        let thumbnail = match field("thumbnail") {
            Some(data) => Some(Bytes::Inline(decode(
                &format!("files[{index}].thumbnail"),
                data,
            )?)),
            None if stored.contains(&thumb_key) => Some(Bytes::Stored(thumb_key)),
            None => None,
        };
        files.push(PlannedFile {
            name: field("name")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("attachment-{index}")),
            mime_type: field("type")
                .filter(|t| !t.trim().is_empty())
                .unwrap_or("application/octet-stream")
                .to_owned(),
            file,
            thumbnail,
        });
    }
    let described: Vec<FileMeta> = files.iter().map(|f| meta(f, 0, false, None)).collect();
    validate_files(&described).map_err(|e| e.to_string())?;
    Ok(files)
}

fn decode(field: &str, data: &str) -> std::result::Result<Vec<u8>, String> {
    // Data URLs (`data:image/png;base64,...`) carry the base64 after the comma.
    let payload = data.split_once(";base64,").map_or(data, |(_, b64)| b64);
    base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| format!("{field} is not base64: {e}"))
}

fn meta(file: &PlannedFile, size: u64, has_thumbnail: bool, hash: Option<String>) -> FileMeta {
    FileMeta {
        name: file.name.clone(),
        mime_type: file.mime_type.clone(),
        size,
        has_thumbnail,
        hash,
        data: None,
        thumbnail: None,
    }
}

/// Stores the attachments of messages about to be written.
pub(crate) struct Attachments<'a> {
    blobs: &'a dyn BlobStore,
    files_db: Option<&'a SourceDb>,
    files: HashMap<String, Vec<PlannedFile>>,
    column: usize,
}

impl<'a> Attachments<'a> {
    /// Attachments `files` (by the source id of their message), read from `files_db`
    /// where stored there, written to `blobs`.
    pub(crate) fn new(
        blobs: &'a dyn BlobStore,
        files_db: Option<&'a SourceDb>,
        files: HashMap<String, Vec<PlannedFile>>,
    ) -> Result<Attachments<'a>> {
        let column = target_table("messages")?
            .columns
            .iter()
            .position(|c| c.name == "files")
            .ok_or_else(|| Error::Backend {
                detail: "messages has no files column".into(),
            })?;
        Ok(Attachments {
            blobs,
            files_db,
            files,
            column,
        })
    }

    /// Stores the attachments of the messages in `batch` and names them in each
    /// message's `files`. An attachment the target refuses (too large) is left out of
    /// its message and reported; the message is still imported.
    pub(crate) fn store(&self, report: &mut ImportReport, batch: &mut [Record]) -> Result<()> {
        for record in batch {
            let Some(files) = self.files.get(&record.original_id) else {
                continue;
            };
            let message = MessageId::from_uuid(record.new_id)?;
            let mut described = Vec::with_capacity(files.len());
            for file in files {
                let index = described.len() as u32;
                let source_key = format!("{}/{index}", record.original_id);
                let info = match self.put(report, BlobKey::file(message, index), &file.file)? {
                    Ok(info) => info,
                    Err(why) => {
                        report.skip("attachment", "files", &source_key, why);
                        continue;
                    }
                };
                let has_thumbnail = match &file.thumbnail {
                    None => false,
                    Some(bytes) => {
                        match self.put(report, BlobKey::thumbnail(message, index), bytes)? {
                            Ok(_) => true,
                            Err(why) => {
                                report.skip(
                                    "attachment",
                                    "files",
                                    &format!("{source_key}.thumb"),
                                    why,
                                );
                                false
                            }
                        }
                    }
                };
                described.push(meta(file, info.size, has_thumbnail, Some(info.hash)));
            }
            if !described.is_empty() {
                let json = serde_json::to_value(&described)
                    .map_err(|e| Error::validation("files", e.to_string()))?;
                record.row[self.column] = Value::Json(json);
            }
        }
        Ok(())
    }

    /// Puts `bytes` under `key` unless an earlier run did; `Ok(Err(reason))` when the
    /// target refuses them.
    fn put(
        &self,
        report: &mut ImportReport,
        key: BlobKey,
        bytes: &Bytes,
    ) -> Result<std::result::Result<BlobInfo, String>> {
        let blobs = self.blobs;
        if let Some(info) = blobs.info(&key)? {
            report.written("attachment", 0, 1);
            return Ok(Ok(info));
        }
        let data = match bytes {
            Bytes::Inline(data) => Cow::Borrowed(data),
            Bytes::Stored(source_key) => {
                let found = match self.files_db {
                    Some(db) => db.bytes("SELECT data FROM blobs WHERE key = ?1", source_key)?,
                    None => None,
                };
                match found {
                    Some(data) => Cow::Owned(data),
                    None => return Ok(Err(format!("{source_key} is no longer in files.db"))),
                }
            }
        };
        match blobs.put(&key, &data) {
            Ok(info) => {
                report.written("attachment", 1, 0);
                Ok(Ok(info))
            }
            Err(e @ Error::Validation { .. }) => Ok(Err(e.to_string())),
            Err(e) => Err(e),
        }
    }
}
