//! [`EmbeddingStore`] and [`EmbeddingSource`] on SQLite: embeddings as little-endian
//! float32 blobs beside their chunks, and the embedding cache.

use chatstore::documents::{chunk_ids_keeping, prepare_chunks};
use chatstore::embeddings::check_one_vector_per_chunk;
use chatstore::{
    Chunk, ChunkId, CollectionSpec, Document, DocumentId, EmbeddingChanges, EmbeddingSource,
    EmbeddingStore, Error, NewChunk, ProcessingStatus, Result, UserId, VectorRecord,
};
use rusqlite::Row;

use crate::SqliteStore;
use crate::db::Conn;
use crate::documents::{COMPLETE, editable_while_processing, insert_chunks, transition};
use crate::row::{RowExt, json_text};

/// Ids per statement when loading many embeddings.
const BATCH: usize = 5000;

/// A vector as stored.
pub(crate) fn encode(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode(row: &Row<'_>, idx: usize) -> Result<Vec<f32>> {
    let bytes = row.value(idx)?.as_blob().map_err(|e| row.corrupt(idx, e))?;
    if bytes.len() % 4 != 0 {
        return Err(row.corrupt(idx, format!("{} bytes is no float32 vector", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn spec_from_row(row: &Row<'_>) -> Result<CollectionSpec> {
    Ok(CollectionSpec {
        name: row.text(0)?,
        dimension: row.uint(1)?,
        distance: row.parse(2)?,
    })
}

fn load_spec(conn: &Conn<'_>, name: &str) -> Result<CollectionSpec> {
    CollectionSpec::check_name(name)?;
    conn.row(
        "SELECT name, dimension, distance FROM embedding_collections WHERE name = ?1",
        &[&name],
        spec_from_row,
    )?
    .ok_or_else(|| Error::not_found("collection", name))
}

/// Every embedding of a collection as (chunk, version).
fn versions(conn: &Conn<'_>, collection: &str) -> Result<Vec<(ChunkId, u64)>> {
    conn.rows(
        "SELECT chunk_id, version FROM chunk_embeddings WHERE collection = ?1 ORDER BY version",
        &[&collection],
        |row| Ok((row.parse(0)?, row.uint(1)?)),
    )
}

/// The newest version written or removed (0 before the first embedding).
pub(crate) fn latest_version(conn: &Conn<'_>) -> Result<u64> {
    Ok(conn
        .row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'chunk_embeddings'",
            &[],
            |row| row.uint(0),
        )?
        .unwrap_or(0))
}

impl EmbeddingSource for SqliteStore {
    fn embedding_versions(&self, collection: &str) -> Result<Vec<(ChunkId, u64)>> {
        self.db.read_snapshot(|c| {
            load_spec(c, collection)?;
            versions(c, collection)
        })
    }

    fn embedding_changes(&self, collection: &str, since: u64) -> Result<EmbeddingChanges> {
        self.db.read_snapshot(|c| {
            load_spec(c, collection)?;
            let latest = latest_version(c)?;
            let forgotten: u64 = c
                .row(
                    "SELECT through FROM embedding_removals_forgotten",
                    &[],
                    |row| row.uint(0),
                )?
                .unwrap_or(0);
            // From nothing, everything is the short answer. Past the latest version, the
            // index saw a history this file does not have (it was restored from an older
            // copy): only everything is safe.
            if since == 0 || since < forgotten || since > latest {
                return Ok(EmbeddingChanges::Everything(versions(c, collection)?));
            }
            let since = since as i64;
            // `+collection` keeps the planner on the version range rather than the
            // (collection, chunk) index, which would visit the whole collection.
            let written = c.rows(
                "SELECT chunk_id, version FROM chunk_embeddings
                 WHERE version > ?2 AND +collection = ?1 ORDER BY version",
                &[&collection, &since],
                |row| Ok((row.parse(0)?, row.uint(1)?)),
            )?;
            let removed = c.rows(
                "SELECT DISTINCT r.chunk_id FROM embedding_removals r
                 WHERE r.version > ?2 AND r.collection = ?1
                   AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e
                                   WHERE e.collection = r.collection AND e.chunk_id = r.chunk_id)",
                &[&collection, &since],
                |row| row.parse(0),
            )?;
            Ok(EmbeddingChanges::Since {
                written,
                removed,
                latest,
            })
        })
    }

    fn load_embeddings(&self, collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        CollectionSpec::check_name(collection)?;
        let mut records = Vec::with_capacity(chunks.len());
        for batch in chunks.chunks(BATCH) {
            let ids: Vec<String> = batch.iter().map(ToString::to_string).collect();
            let ids = json_text(&ids)?;
            records.extend(self.db.read(|c| {
                c.rows(
                    "SELECT e.chunk_id, k.document_id,
                            CASE d.scope WHEN 'global' THEN NULL ELSE d.owner_id END, e.vector
                     FROM chunk_embeddings e
                     JOIN document_chunks k ON k.id = e.chunk_id
                     JOIN documents d ON d.id = k.document_id
                     WHERE e.collection = ?1 AND e.chunk_id IN (SELECT value FROM json_each(?2))",
                    &[&collection, &ids],
                    |row| {
                        Ok(VectorRecord {
                            chunk: row.parse(0)?,
                            document: row.parse(1)?,
                            owner: row.opt_parse(2)?,
                            vector: decode(row, 3)?,
                        })
                    },
                )
            })?);
        }
        Ok(records)
    }
}

impl EmbeddingStore for SqliteStore {
    fn create_embedding_collection(&self, spec: &CollectionSpec) -> Result<()> {
        spec.validate()?;
        let now = self.now().to_string();
        self.db.write(|c| {
            c.execute(
                "INSERT INTO embedding_collections (name, dimension, distance, created_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
                &[&spec.name, &spec.dimension, &spec.distance.as_str(), &now],
            )?;
            spec.check_same_as(&load_spec(c, &spec.name)?)
        })
    }

    fn embedding_collections(&self) -> Result<Vec<CollectionSpec>> {
        self.db.read(|c| {
            c.rows(
                "SELECT name, dimension, distance FROM embedding_collections ORDER BY name",
                &[],
                spec_from_row,
            )
        })
    }

    fn drop_embedding_collection(&self, name: &str) -> Result<bool> {
        CollectionSpec::check_name(name)?;
        self.db
            .write(|c| {
                let dropped = c.execute(
                    "DELETE FROM embedding_collections WHERE name = ?1",
                    &[&name],
                )?;
                // An index drops the whole collection with it: no removal to replay.
                c.execute(
                    "DELETE FROM embedding_removals WHERE collection = ?1",
                    &[&name],
                )?;
                Ok(dropped)
            })
            .map(|n| n > 0)
    }

    fn complete_with_chunks(
        &self,
        user: UserId,
        document: DocumentId,
        collection: &str,
        chunks: &[NewChunk],
        vectors: &[Vec<f32>],
    ) -> Result<(Document, Vec<Chunk>)> {
        check_one_vector_per_chunk(chunks, vectors)?;
        let encoded: Vec<Vec<u8>> = vectors.iter().map(|v| encode(v)).collect();
        let now = self.now().to_string();
        let document_text = document.to_string();
        self.db.write(|c| {
            let spec = load_spec(c, collection)?;
            vectors.iter().try_for_each(|v| spec.check(v))?;
            editable_while_processing(c, user, document, "replaced")?;
            let previous = c.rows(
                "SELECT id, content FROM document_chunks WHERE document_id = ?1",
                &[&document_text],
                |row| Ok((row.parse(0)?, row.text(1)?)),
            )?;
            let ids = chunk_ids_keeping(&previous, chunks);
            let stored = prepare_chunks(document, chunks, &ids, Some(collection))?;
            c.execute(
                "DELETE FROM document_chunks WHERE document_id = ?1",
                &[&document_text],
            )?;
            insert_chunks(c, &stored)?;
            for (chunk, vector) in stored.iter().zip(&encoded) {
                c.execute(
                    "INSERT INTO chunk_embeddings (collection, chunk_id, vector) VALUES (?1, ?2, ?3)",
                    &[&collection, &chunk.id.to_string(), vector],
                )?;
            }
            let completed =
                transition(c, user, document, ProcessingStatus::Completed, COMPLETE, &now, &[])?;
            Ok((completed, stored))
        })
    }

    fn cached_embeddings(&self, keys: &[String]) -> Result<Vec<Option<Vec<f32>>>> {
        let mut found = std::collections::HashMap::with_capacity(keys.len());
        for batch in keys.chunks(BATCH) {
            let wanted = json_text(&batch)?;
            found.extend(self.db.read(|c| {
                c.rows(
                    "SELECT key, vector FROM embedding_cache
                     WHERE key IN (SELECT value FROM json_each(?1))",
                    &[&wanted],
                    |row| Ok((row.text(0)?, decode(row, 1)?)),
                )
            })?);
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    fn cache_embeddings(
        &self,
        owner: Option<UserId>,
        entries: &[(String, Vec<f32>)],
    ) -> Result<()> {
        let now = self.now().to_string();
        let owner_text = owner.map(|user| user.to_string());
        let encoded: Vec<(&String, Vec<u8>)> =
            entries.iter().map(|(k, v)| (k, encode(v))).collect();
        self.db.write(|c| {
            if let Some(user) = owner {
                crate::users::require_user(c, user)?;
            }
            for (key, vector) in &encoded {
                c.execute(
                    "INSERT OR REPLACE INTO embedding_cache (key, vector, created_at, owner_id)
                     VALUES (?1, ?2, ?3, ?4)",
                    &[key, vector, &now, &owner_text],
                )?;
            }
            Ok(())
        })
    }
}
