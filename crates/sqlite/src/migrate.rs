//! Versioned schema migrations.
//!
//! Each migration is a pair of SQL files (`migrations/NNNN_name.up.sql` and `.down.sql`),
//! applied in order, each in its own transaction, and recorded in `schema_migrations`
//! with a checksum of its SQL. Opening a database applies whatever is missing; opening
//! one written by a newer chatstore is refused rather than silently downgraded.

use chatstore::{Error, Result};
use rusqlite::{Connection, params};

use crate::errors::SqliteResultExt;

/// One schema change and its undo: SQL run in one transaction each way.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Position in the sequence, from 1.
    pub version: u32,
    /// File name stem.
    pub name: &'static str,
    up: &'static str,
    down: &'static str,
}

impl Migration {
    /// A migration from its position (from 1, without gaps), name and SQL.
    pub const fn new(
        version: u32,
        name: &'static str,
        up: &'static str,
        down: &'static str,
    ) -> Migration {
        Migration {
            version,
            name,
            up,
            down,
        }
    }

    /// A short hash of the migration's SQL, recorded when it is applied: an applied
    /// migration whose file has since changed is reported instead of ignored.
    fn checksum(&self) -> String {
        blake3::hash(self.up.as_bytes()).to_hex()[..16].to_owned()
    }
}

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
];

/// The schema version this code writes.
pub const LATEST_VERSION: u32 = latest(MIGRATIONS);

/// The last version of a list of migrations (0 for none).
pub const fn latest(migrations: &[Migration]) -> u32 {
    match migrations.last() {
        Some(last) => last.version,
        None => 0,
    }
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT";

/// The version the database is at (0 when nothing is applied).
pub fn current_version(conn: &Connection) -> Result<u32> {
    conn.execute_batch(CREATE_TABLE).db()?;
    conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )
    .db()
}

/// Brings the schema to `target`, up or down through `migrations`, one transaction per
/// migration.
pub fn migrate_to(conn: &Connection, migrations: &[Migration], target: u32) -> Result<()> {
    let newest = latest(migrations);
    if target > newest {
        return Err(Error::validation(
            "schema version",
            format!("{target} is beyond the newest known version {newest}"),
        ));
    }
    let current = current_version(conn)?;
    if current > newest {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: newest,
        });
    }
    verify_checksums(conn, migrations)?;
    for migration in migrations
        .iter()
        .filter(|m| m.version > current && m.version <= target)
    {
        apply(conn, migration, migration.up, true)?;
    }
    for migration in migrations
        .iter()
        .rev()
        .filter(|m| m.version <= current && m.version > target)
    {
        apply(conn, migration, migration.down, false)?;
    }
    Ok(())
}

/// Refuses to run against a database whose applied migrations differ from this code's.
fn verify_checksums(conn: &Connection, migrations: &[Migration]) -> Result<()> {
    let mut statement = conn
        .prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .db()?;
    let recorded = statement
        .query_map([], |row| {
            Ok((row.get::<_, u32>(0)?, row.get::<_, String>(1)?))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    for (version, checksum) in recorded {
        let known = migrations.iter().find(|m| m.version == version);
        if known.map(Migration::checksum).as_deref() != Some(checksum.as_str()) {
            return Err(Error::Corrupt {
                detail: format!(
                    "schema migration {version} was recorded with checksum {checksum}, which this chatstore does not know"
                ),
            });
        }
    }
    Ok(())
}

fn apply(conn: &Connection, migration: &Migration, sql: &str, up: bool) -> Result<()> {
    let failed = |e: rusqlite::Error| Error::Migration {
        version: migration.version,
        name: migration.name,
        detail: e.to_string(),
    };
    conn.execute_batch("BEGIN IMMEDIATE").map_err(failed)?;
    let result = conn.execute_batch(sql).and_then(|()| {
        if up {
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at)
                 VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now'))",
                params![migration.version, migration.name, migration.checksum()],
            )
        } else {
            conn.execute(
                "DELETE FROM schema_migrations WHERE version = ?1",
                params![migration.version],
            )
        }
    });
    match result.and_then(|_| conn.execute_batch("COMMIT")) {
        Ok(()) => {
            tracing::info!(
                version = migration.version,
                name = migration.name,
                direction = if up { "up" } else { "down" },
                "schema migration applied"
            );
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(failed(e))
        }
    }
}
