//! [`EmbeddingStore`] and [`EmbeddingSource`] on PostgreSQL: embeddings as
//! little-endian float32 `bytea` beside their chunks, and the embedding cache.
//!
//! Versions follow commit order: every write takes its versions from the one row of
//! `embedding_version` (`UPDATE ... RETURNING latest`), whose lock, held to commit,
//! makes writers take turns; removals take theirs in the schema's trigger the same way.

use std::collections::HashMap;

use chatstore::documents::{chunk_ids_keeping, prepare_chunks};
use chatstore::embeddings::check_one_vector_per_chunk;
use chatstore::{
    Chunk, ChunkId, CollectionSpec, Document, DocumentId, EmbeddingChanges, EmbeddingSource,
    EmbeddingStore, Error, NewChunk, ProcessingStatus, Result, UserId, VectorRecord,
};
use postgres::Row;
use uuid::Uuid;

use crate::PgStore;
use crate::db::Conn;
use crate::documents::{COMPLETE, Lock, editable_while_processing, insert_chunks, transition};
use crate::row::{RowExt, UuidId, at};

/// Ids per statement when loading many embeddings.
const BATCH: usize = 5000;

/// A vector as stored.
pub(crate) fn encode(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode(row: &Row, idx: usize) -> Result<Vec<f32>> {
    let bytes: &[u8] = row.value(idx)?;
    if !bytes.len().is_multiple_of(4) {
        return Err(row.corrupt(idx, format!("{} bytes is no float32 vector", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn spec_from_row(row: &Row) -> Result<CollectionSpec> {
    let dimension: i32 = row.value(1)?;
    Ok(CollectionSpec {
        name: row.text(0)?,
        dimension: u32::try_from(dimension)
            .map_err(|_| row.corrupt(1, format!("{dimension} is out of range")))?,
        distance: row.parse(2)?,
    })
}

/// The collection's spec, or not-found; `lock` is appended to the statement (`FOR
/// SHARE` keeps a drop or a re-create waiting until the transaction ends).
fn load_spec(conn: &mut Conn<'_, '_>, name: &str, lock: &str) -> Result<CollectionSpec> {
    CollectionSpec::check_name(name)?;
    conn.row(
        &format!(
            "SELECT name, dimension, distance FROM embedding_collections WHERE name = $1{lock}"
        ),
        &[&name],
    )?
    .map(|row| spec_from_row(&row))
    .transpose()?
    .ok_or_else(|| Error::not_found("collection", name))
}

/// A (chunk, version) row.
fn versioned(row: &Row) -> Result<(ChunkId, u64)> {
    Ok((row.id(0)?, row.uint(1)?))
}

/// Every embedding of a collection as (chunk, version).
fn versions(conn: &mut Conn<'_, '_>, collection: &str) -> Result<Vec<(ChunkId, u64)>> {
    conn.rows(
        "SELECT chunk_id, version FROM chunk_embeddings WHERE collection = $1 ORDER BY version",
        &[&collection],
    )?
    .iter()
    .map(versioned)
    .collect()
}

/// The newest version written or removed (0 before the first embedding).
pub(crate) fn latest_version(conn: &mut Conn<'_, '_>) -> Result<u64> {
    conn.row("SELECT latest FROM embedding_version WHERE id = 1", &[])?
        .map(|row| row.uint(0))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Takes `count` embedding versions from the commit-ordered counter (its row lock,
/// held to commit, orders the writers); returns the last: the versions are
/// last-count+1 ..= last.
pub(crate) fn take_versions(conn: &mut Conn<'_, '_>, count: i64) -> Result<i64> {
    conn.row(
        "UPDATE embedding_version SET latest = latest + $1 WHERE id = 1 RETURNING latest",
        &[&count],
    )?
    .ok_or_else(|| Error::Corrupt {
        detail: "embedding_version has no row".to_owned(),
    })?
    .value(0)
}

/// Inserts the embeddings of `chunks` (one vector each, encoded), numbering them with
/// versions taken at once from `embedding_version`: latest-n+1 ..= latest.
fn insert_embeddings(
    conn: &mut Conn<'_, '_>,
    collection: &str,
    chunks: &[Chunk],
    vectors: &[Vec<u8>],
) -> Result<()> {
    if chunks.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(chunks.len())
        .map_err(|_| Error::validation("chunks", "too many in one call"))?;
    let latest = take_versions(conn, count)?;
    let ids: Vec<Uuid> = chunks.iter().map(|k| k.id.stored()).collect();
    conn.execute(
        "INSERT INTO chunk_embeddings (version, collection, chunk_id, vector)
         SELECT $1::bigint - $2::bigint + e.ord, $3, e.chunk_id, e.vector
         FROM unnest($4::uuid[], $5::bytea[]) WITH ORDINALITY AS e(chunk_id, vector, ord)",
        &[&latest, &count, &collection, &ids, &vectors],
    )
    .map(drop)
}

impl EmbeddingSource for PgStore {
    fn embedding_versions(&self, collection: &str) -> Result<Vec<(ChunkId, u64)>> {
        self.db.read_snapshot(|c| {
            load_spec(c, collection, "")?;
            versions(c, collection)
        })
    }

    fn embedding_changes(&self, collection: &str, since: u64) -> Result<EmbeddingChanges> {
        self.db.read_snapshot(|c| {
            load_spec(c, collection, "")?;
            // Every version up to `latest` is committed in this snapshot: versions are
            // handed out in commit order.
            let latest = latest_version(c)?;
            let forgotten: u64 = c
                .row(
                    "SELECT through FROM embedding_removals_forgotten WHERE id = 1",
                    &[],
                )?
                .map(|row| row.uint(0))
                .transpose()?
                .unwrap_or(0);
            // From nothing, everything is the short answer. Past the latest version, the
            // index saw a history this database does not have (it was restored from an
            // older copy): only everything is safe.
            if since == 0 || since < forgotten || since > latest {
                return Ok(EmbeddingChanges::Everything(versions(c, collection)?));
            }
            let since =
                i64::try_from(since).map_err(|_| Error::validation("since", "is too large"))?;
            let written = c
                .rows(
                    "SELECT chunk_id, version FROM chunk_embeddings
                     WHERE version > $2 AND collection = $1 ORDER BY version",
                    &[&collection, &since],
                )?
                .iter()
                .map(versioned)
                .collect::<Result<Vec<_>>>()?;
            let removed = c
                .rows(
                    "SELECT DISTINCT r.chunk_id FROM embedding_removals r
                     WHERE r.version > $2 AND r.collection = $1
                       AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e
                                       WHERE e.collection = r.collection
                                         AND e.chunk_id = r.chunk_id)",
                    &[&collection, &since],
                )?
                .iter()
                .map(|row| row.id(0))
                .collect::<Result<Vec<_>>>()?;
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
            let ids: Vec<Uuid> = batch.iter().map(UuidId::stored).collect();
            let rows = self.db.read(|c| {
                c.rows(
                    "SELECT e.chunk_id, k.document_id,
                            CASE d.scope WHEN 'global' THEN NULL ELSE d.owner_id END, e.vector
                     FROM chunk_embeddings e
                     JOIN document_chunks k ON k.id = e.chunk_id
                     JOIN documents d ON d.id = k.document_id
                     WHERE e.collection = $1 AND e.chunk_id = ANY($2)",
                    &[&collection, &ids],
                )
            })?;
            for row in &rows {
                records.push(VectorRecord {
                    chunk: row.id(0)?,
                    document: row.id(1)?,
                    owner: row.opt_id(2)?,
                    vector: decode(row, 3)?,
                });
            }
        }
        Ok(records)
    }
}

impl EmbeddingStore for PgStore {
    fn create_embedding_collection(&self, spec: &CollectionSpec) -> Result<()> {
        spec.validate()?;
        let dimension = i32::try_from(spec.dimension)
            .map_err(|_| Error::validation("dimension", "is out of range"))?;
        let now = at(self.now());
        self.db.write(|c| {
            c.execute(
                "INSERT INTO embedding_collections (name, dimension, distance, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                &[&spec.name, &dimension, &spec.distance.as_str(), &now],
            )?;
            spec.check_same_as(&load_spec(c, &spec.name, "")?)
        })
    }

    fn embedding_collections(&self) -> Result<Vec<CollectionSpec>> {
        self.db
            .read(|c| {
                c.rows(
                    "SELECT name, dimension, distance FROM embedding_collections ORDER BY name",
                    &[],
                )
            })?
            .iter()
            .map(spec_from_row)
            .collect()
    }

    fn drop_embedding_collection(&self, name: &str) -> Result<bool> {
        CollectionSpec::check_name(name)?;
        self.db
            .write(|c| {
                let dropped = c.execute(
                    "DELETE FROM embedding_collections WHERE name = $1",
                    &[&name],
                )?;
                // An index drops the whole collection with it: no removal to replay.
                c.execute(
                    "DELETE FROM embedding_removals WHERE collection = $1",
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
        let now = at(self.now());
        self.db.write(|c| {
            // The collection FOR SHARE: a drop, or a re-create with another dimension,
            // waits until these vectors are in.
            let spec = load_spec(c, collection, " FOR SHARE")?;
            vectors.iter().try_for_each(|v| spec.check(v))?;
            // The document FOR UPDATE before its chunks are read: another completion
            // waits, then finds it completed.
            editable_while_processing(c, user, document, "replaced", Lock::Update)?;
            let previous = c
                .rows(
                    "SELECT id, content FROM document_chunks WHERE document_id = $1",
                    &[&document.stored()],
                )?
                .iter()
                .map(|row| Ok((row.id(0)?, row.text(1)?)))
                .collect::<Result<Vec<(ChunkId, String)>>>()?;
            let ids = chunk_ids_keeping(&previous, chunks);
            let stored = prepare_chunks(document, chunks, &ids, Some(collection))?;
            c.execute(
                "DELETE FROM document_chunks WHERE document_id = $1",
                &[&document.stored()],
            )?;
            insert_chunks(c, &stored)?;
            insert_embeddings(c, collection, &stored, &encoded)?;
            let completed = transition(
                c,
                user,
                document,
                ProcessingStatus::Completed,
                COMPLETE,
                now,
                &[],
            )?;
            Ok((completed, stored))
        })
    }

    fn cached_embeddings(&self, keys: &[String]) -> Result<Vec<Option<Vec<f32>>>> {
        let mut found = HashMap::with_capacity(keys.len());
        for batch in keys.chunks(BATCH) {
            let rows = self.db.read(|c| {
                c.rows(
                    "SELECT key, vector FROM embedding_cache WHERE key = ANY($1)",
                    &[&batch],
                )
            })?;
            for row in &rows {
                found.insert(row.text(0)?, decode(row, 1)?);
            }
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    fn cache_embeddings(
        &self,
        owner: Option<UserId>,
        entries: &[(String, Vec<f32>)],
    ) -> Result<()> {
        // One row per key, the last entry winning (as replacing one by one would): an
        // `ON CONFLICT DO UPDATE` cannot touch a row twice in one statement.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            last.insert(key.as_str(), i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        if keep.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = keep.iter().map(|&i| entries[i].0.as_str()).collect();
        let vectors: Vec<Vec<u8>> = keep.iter().map(|&i| encode(&entries[i].1)).collect();
        let now = at(self.now());
        let owner_id = owner.map(|user| user.stored());
        self.db.write(|c| {
            if let Some(user) = owner {
                crate::users::require_user(c, user)?;
            }
            c.execute(
                "INSERT INTO embedding_cache (key, vector, created_at, owner_id)
                 SELECT e.key, e.vector, $3, $4 FROM unnest($1::text[], $2::bytea[]) AS e(key, vector)
                 ON CONFLICT (key) DO UPDATE
                 SET vector = excluded.vector, created_at = excluded.created_at,
                     owner_id = excluded.owner_id",
                &[&keys, &vectors, &now, &owner_id],
            )
            .map(drop)
        })
    }
}
