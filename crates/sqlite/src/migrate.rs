//! The main store's schema migrations (`migrations/NNNN_name.up.sql` and `.down.sql`)
//! and how SQLite runs one; the bookkeeping (order, checksums, refusing newer schemas)
//! is the core's ([`chatstore::migrations`]).

use chatstore::Result;
use chatstore::migrations::{self, Direction, MigrationExecutor};
use rusqlite::{Connection, params};

use crate::errors::SqliteResultExt;

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

/// Every migration of the main store, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_users_sessions"),
    migration!(2, "0002_rbac"),
    migration!(3, "0003_conversations_messages"),
    migration!(4, "0004_message_search"),
    migration!(5, "0005_documents"),
    migration!(6, "0006_agent_logs_usage"),
    migration!(7, "0007_embeddings"),
    migration!(8, "0008_embedding_removals"),
    migration!(9, "0009_temporary_conversations"),
    migration!(10, "0010_imported_ids"),
    migration!(11, "0011_embedding_cache_owner"),
    migration!(12, "0012_search_in_batches"),
    migration!(13, "0013_search_high_water_mark"),
    migration!(14, "0014_messages_role_check"),
    migration!(15, "0015_checks_without_lists"),
];

/// The schema version this code writes.
pub const LATEST_VERSION: u32 = latest(MIGRATIONS);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT";

/// Runs migrations on a SQLite connection, recording them in `schema_migrations`.
struct Executor<'a>(&'a Connection);

impl MigrationExecutor for Executor<'_> {
    fn applied(&mut self) -> Result<Vec<(u32, String)>> {
        self.0.execute_batch(CREATE_TABLE).db()?;
        let mut statement = self
            .0
            .prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .db()?;
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()
    }

    fn run(&mut self, migration: &Migration, direction: Direction) -> Result<(), String> {
        let conn = self.0;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| e.to_string())?;
        let result = match direction {
            Direction::Up => conn.execute_batch(migration.up()).and_then(|()| {
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at)
                     VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now'))",
                    params![migration.version, migration.name, migration.checksum()],
                )
            }),
            Direction::Down => conn.execute_batch(migration.down()).and_then(|()| {
                conn.execute(
                    "DELETE FROM schema_migrations WHERE version = ?1",
                    params![migration.version],
                )
            }),
        };
        match result.and_then(|_| conn.execute_batch("COMMIT")) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e.to_string())
            }
        }
    }
}

/// The version the database is at (0 when nothing is applied).
pub fn current_version(conn: &Connection) -> Result<u32> {
    migrations::current_version(&mut Executor(conn))
}

/// Brings the schema to `target`, up or down through `migrations`, one transaction per
/// migration.
pub fn migrate_to(conn: &Connection, migrations: &[Migration], target: u32) -> Result<()> {
    migrations::migrate_to(&mut Executor(conn), migrations, target)
}
