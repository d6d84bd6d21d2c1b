//! Keeping a PostgreSQL store healthy: the application's invariants checked, tables
//! vacuumed and analysed, and backups as one consistent snapshot of every table.

use std::io::{Read, Write};
use std::path::Path;

use chatstore::{BackupDestination, Error, Result};
use postgres::IsolationLevel;

use crate::PgStore;
use crate::db::Conn;
use crate::errors::PgResultExt;
use crate::row::RowExt;

/// chatstore's tables, parents before children (the order a restore loads them in).
/// `schema_migrations` is not among them: a backup restores into a store at its version.
pub const TABLES: &[&str] = &[
    "users",
    "user_sessions",
    "roles",
    "permissions",
    "user_roles",
    "role_permissions",
    "conversations",
    "messages",
    "message_search_parts",
    "documents",
    "document_chunks",
    "agent_logs",
    "token_usage",
    "imported_ids",
    "embedding_collections",
    "embedding_version",
    "chunk_embeddings",
    "embedding_cache",
    "embedding_removals",
    "embedding_removal_marks",
    "embedding_removals_forgotten",
    "blob_contents",
    "blob_chunks",
    "blobs",
];

/// The tables whose ids come from an identity column, to set after a restore.
const IDENTITIES: &[&str] = &["roles", "permissions", "blob_contents"];

/// Each invariant the store keeps beyond what the constraints enforce, as a query
/// counting the rows that break it.
const INVARIANTS: &[(&str, &str)] = &[
    (
        "conversations whose message count differs from their messages",
        "SELECT count(*) FROM conversations v
         WHERE v.message_count <> (SELECT count(*) FROM messages m WHERE m.conversation_id = v.id)
            OR v.message_count <> coalesce((SELECT max(seq) FROM messages m WHERE m.conversation_id = v.id), 0)",
    ),
    (
        "completed documents whose chunk count differs from their chunks",
        "SELECT count(*) FROM documents d
         WHERE d.processing_status = 'completed'
           AND d.num_chunks <> (SELECT count(*) FROM document_chunks k WHERE k.document_id = d.id)",
    ),
    (
        "embeddings whose length does not fit their collection",
        "SELECT count(*) FROM chunk_embeddings e JOIN embedding_collections c ON c.name = e.collection
         WHERE length(e.vector) <> 4 * c.dimension",
    ),
    (
        "embedding versions above the version counter",
        "SELECT count(*) FROM embedding_version v
         WHERE v.latest < greatest(
             coalesce((SELECT max(version) FROM chunk_embeddings), 0),
             coalesce((SELECT max(version) FROM embedding_removals), 0))",
    ),
    (
        "blob contents whose reference count differs from the keys pointing at them",
        "SELECT count(*) FROM blob_contents c
         WHERE c.hash IS NOT NULL
           AND c.refs <> (SELECT count(*) FROM blobs b WHERE b.content_id = c.id)",
    ),
    (
        "blob contents whose chunks do not add up to their size",
        "SELECT count(*) FROM blob_contents c
         WHERE c.hash IS NOT NULL
           AND c.size <> coalesce((SELECT sum(octet_length(k.data)) FROM blob_chunks k
                                   WHERE k.content_id = c.id), 0)",
    ),
];

/// The statement emptying every table (a restore's first step).
pub(crate) fn truncate_all() -> String {
    format!("TRUNCATE {} RESTART IDENTITY CASCADE;", TABLES.join(", "))
}

/// The statements setting each identity past the largest id loaded (a restore's last
/// step), one per line.
pub(crate) fn reset_identities() -> String {
    IDENTITIES
        .iter()
        .map(|table| {
            format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table};\n"
            )
        })
        .collect()
}

/// Each broken invariant, with how many rows break it (none in a healthy store).
pub(crate) fn broken_invariants(c: &mut Conn<'_, '_>) -> Result<Vec<String>> {
    let mut broken = Vec::new();
    for (what, sql) in INVARIANTS {
        let rows = c
            .row(sql, &[])?
            .map(|row| row.get::<_, i64>(0))
            .unwrap_or(0);
        if rows > 0 {
            broken.push(format!("{rows} {what}"));
        }
    }
    Ok(broken)
}

impl PgStore {
    /// Counts the rows that break each of the store's invariants; damage is
    /// [`Error::Corrupt`] naming each broken one. (Foreign keys, unique keys and checks
    /// the server enforces itself; its own page checks, amcheck, need a superuser.)
    pub(crate) fn check_invariants(&self) -> Result<()> {
        let broken = self.db.read_snapshot(broken_invariants)?;
        if broken.is_empty() {
            return Ok(());
        }
        Err(Error::Corrupt {
            detail: format!("schema {}: {}", self.schema(), broken.join("; ")),
        })
    }

    /// `VACUUM (ANALYZE)` of every table of the store (not the rest of the database).
    pub(crate) fn vacuum_tables(&self) -> Result<()> {
        let mut connection = self.connection()?;
        connection
            .client()
            .batch_execute(&format!("VACUUM (ANALYZE) {}", TABLES.join(", ")))
            .db()
    }

    /// Writes every table, as one consistent snapshot, as a script `psql` restores into
    /// a store at the same schema version (see the script's first lines).
    pub(crate) fn write_backup(&self, destination: BackupDestination<'_>) -> Result<()> {
        match destination {
            BackupDestination::Stream(out) => self.backup_script(out),
            BackupDestination::File(path) => {
                // Written under a temporary name and renamed, so a crash never leaves
                // a half-written backup under the file's name.
                let partial = path.with_extension("partial");
                let mut file = std::fs::File::create(&partial).map_err(Error::io(&partial))?;
                self.backup_script(&mut file)?;
                file.sync_all().map_err(Error::io(&partial))?;
                std::fs::rename(&partial, path).map_err(Error::io(path))
            }
        }
    }

    fn backup_script(&self, out: &mut dyn Write) -> Result<()> {
        let stream = Path::new("<backup stream>");
        let write = |out: &mut dyn Write, text: &str| {
            out.write_all(text.as_bytes()).map_err(Error::io(stream))
        };
        let version = self.schema_version()?;
        let mut connection = self.connection()?;
        let mut tx = connection
            .client()
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .db()?;
        write(
            out,
            &format!(
                "-- chatstore PostgreSQL backup: every table of a store at schema version {version},\n\
                 -- as one consistent snapshot, taken {}.\n\
                 -- Restore into a store opened at the same version (which created its tables), with\n\
                 -- that store's schema on the search path; what the store held is replaced:\n\
                 --   PGOPTIONS='-c search_path=SCHEMA' psql -v ON_ERROR_STOP=1 -d DATABASE -f THIS_FILE\n\
                 BEGIN;\n\
                 DO $check$ BEGIN\n\
                   IF (SELECT max(version) FROM schema_migrations) IS DISTINCT FROM {version} THEN\n\
                     RAISE EXCEPTION 'this backup is of schema version {version}: restore it into a store at that version';\n\
                   END IF;\n\
                 END $check$;\n\
                 {}\n",
                self.now(),
                truncate_all()
            ),
        )?;
        let mut buffer = vec![0u8; 64 << 10];
        for table in TABLES {
            write(out, &format!("COPY {table} FROM stdin;\n"))?;
            let mut rows = tx.copy_out(&format!("COPY {table} TO STDOUT")).db()?;
            loop {
                let n = rows.read(&mut buffer).map_err(|e| Error::Unavailable {
                    detail: format!("reading {table} for the backup: {e}"),
                })?;
                if n == 0 {
                    break;
                }
                out.write_all(&buffer[..n]).map_err(Error::io(stream))?;
            }
            write(out, "\\.\n")?;
        }
        write(out, &reset_identities())?;
        write(out, "COMMIT;\n")?;
        tx.commit().db()?;
        out.flush().map_err(Error::io(stream))
    }
}

impl chatstore::MaintenanceStore for PgStore {
    fn now(&self) -> chatstore::Timestamp {
        PgStore::now(self)
    }

    fn schema_version(&self) -> Result<u32> {
        PgStore::schema_version(self)
    }

    fn check_integrity(&self) -> Result<()> {
        self.check_invariants()
    }

    fn rebuild_search_index(&self) -> Result<()> {
        // In batches by id, each its own transaction: the index is derived data, so a
        // rebuild interrupted half-way leaves every message searchable, old or new.
        let mut after = uuid::Uuid::nil();
        loop {
            let batch = self.db.read(|c| {
                c.rows(
                    "SELECT id, content FROM messages WHERE id > $1 ORDER BY id LIMIT 500",
                    &[&after],
                )
            })?;
            let Some(last) = batch.last() else {
                return Ok(());
            };
            after = last.value(0)?;
            let rows: Vec<(uuid::Uuid, (String, Vec<String>))> = batch
                .iter()
                .map(|row| Ok((row.value(0)?, crate::search::search_texts(&row.text(1)?))))
                .collect::<Result<_>>()?;
            self.db.write(|c| {
                for (id, (own, parts)) in &rows {
                    c.execute(
                        "UPDATE messages SET search_vector = to_tsvector('simple', $2) WHERE id = $1",
                        &[id, own],
                    )?;
                    crate::search::replace_search_parts(c, *id, parts)?;
                }
                Ok(())
            })?;
        }
    }

    fn vacuum(&self) -> Result<()> {
        self.vacuum_tables()
    }

    fn backup(&self, destination: BackupDestination<'_>) -> Result<()> {
        self.write_backup(destination)
    }
}
