//! The PostgreSQL schema's migrations (`migrations/NNNN_name.up.sql` and `.down.sql`)
//! and how one runs here; the bookkeeping is the core's ([`chatstore::migrations`]).
//! Several servers may start at once: the runner holds an advisory lock for the schema
//! while it works, so they take turns and the later ones find nothing to do.

use chatstore::Result;
use chatstore::migrations::{self, Direction, MigrationExecutor};
use postgres::Client;

use crate::errors::PgResultExt;

pub use chatstore::migrations::{Migration, latest};

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration::new(
            $version,
            $name,
            include_str!(concat!("../migrations/", $name, ".up.sql")),
            include_str!(concat!("../migrations/", $name, ".down.sql")),
        )
    };
}

/// Every migration of the PostgreSQL schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_users_sessions"),
    migration!(2, "0002_rbac"),
    migration!(3, "0003_conversations_messages"),
    migration!(4, "0004_message_search"),
    migration!(5, "0005_documents"),
    migration!(6, "0006_agent_logs_usage"),
    migration!(7, "0007_embeddings"),
    migration!(8, "0008_embedding_removals"),
    migration!(9, "0009_embedding_notifications"),
    migration!(10, "0010_blobs"),
    migration!(11, "0011_temporary_conversations"),
    migration!(12, "0012_imported_ids"),
    migration!(13, "0013_embedding_cache_owner"),
    migration!(14, "0014_blob_chunk_checksums"),
];

/// The schema version this code writes.
pub const LATEST_VERSION: u32 = latest(MIGRATIONS);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL
)";

/// Runs migrations on one connection, recording them in `schema_migrations`.
struct Executor<'a>(&'a mut Client);

impl MigrationExecutor for Executor<'_> {
    fn applied(&mut self) -> Result<Vec<(u32, String)>> {
        self.0.batch_execute(CREATE_TABLE).db()?;
        let rows = self
            .0
            .query(
                "SELECT version, checksum FROM schema_migrations ORDER BY version",
                &[],
            )
            .db()?;
        rows.iter()
            .map(|row| {
                let version: i32 = row.get(0);
                let version = u32::try_from(version).map_err(|_| chatstore::Error::Corrupt {
                    detail: format!("schema_migrations holds version {version}"),
                })?;
                Ok((version, row.get(1)))
            })
            .collect()
    }

    fn run(&mut self, migration: &Migration, direction: Direction) -> Result<(), String> {
        let version = i32::try_from(migration.version).map_err(|e| e.to_string())?;
        let mut tx = self.0.transaction().map_err(|e| e.to_string())?;
        match direction {
            Direction::Up => {
                tx.batch_execute(migration.up())
                    .map_err(|e| e.to_string())?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at)
                     VALUES ($1, $2, $3, now())",
                    &[&version, &migration.name, &migration.checksum()],
                )
                .map_err(|e| e.to_string())?;
            }
            Direction::Down => {
                tx.batch_execute(migration.down())
                    .map_err(|e| e.to_string())?;
                tx.execute(
                    "DELETE FROM schema_migrations WHERE version = $1",
                    &[&version],
                )
                .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())
    }
}

/// The version the schema is at (0 when nothing is applied).
pub fn current_version(client: &mut Client) -> Result<u32> {
    migrations::current_version(&mut Executor(client))
}

/// Creates the schema if missing and brings it to `target`, under the schema's advisory
/// lock, one transaction per migration. (`CREATE SCHEMA IF NOT EXISTS` itself races
/// with another server's; under the lock it cannot.)
pub fn migrate_to(client: &mut Client, schema: &str, target: u32) -> Result<()> {
    let key = format!("chatstore migrations {schema}");
    client
        .execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", &[&key])
        .db()?;
    let result = client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .db()
        .and_then(|()| migrations::migrate_to(&mut Executor(client), MIGRATIONS, target));
    let unlocked = client
        .execute(
            "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
            &[&key],
        )
        .db();
    result.and(unlocked.map(drop))
}
