//! Versioned schema migrations: the bookkeeping every backend shares.
//!
//! A backend lists its [`Migration`]s (SQL each way, in its own dialect) and provides a
//! [`MigrationExecutor`] that runs one migration in one transaction and records it; the
//! runner here decides what to run. Migrations apply in order, each in its own
//! transaction, so an interrupted upgrade resumes where it stopped; each is recorded
//! with a checksum of its SQL, and a database whose recorded migrations this code does
//! not know is refused; one written by a newer version is [`Error::SchemaTooNew`] rather
//! than silently downgraded.

use crate::{Error, Result};

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

    /// The SQL that applies the migration.
    pub fn up(&self) -> &'static str {
        self.up
    }

    /// The SQL that undoes it.
    pub fn down(&self) -> &'static str {
        self.down
    }

    /// A short hash of the migration's SQL, recorded when it is applied: an applied
    /// migration whose file has since changed is reported instead of ignored.
    pub fn checksum(&self) -> String {
        blake3::hash(self.up.as_bytes()).to_hex()[..16].to_owned()
    }
}

/// The last version of a list of migrations (0 for none).
pub const fn latest(migrations: &[Migration]) -> u32 {
    match migrations.last() {
        Some(last) => last.version,
        None => 0,
    }
}

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Apply it (run `up`, record it).
    Up,
    /// Undo it (run `down`, forget it).
    Down,
}

/// What a backend provides the runner: its record of applied migrations, and running
/// one migration.
pub trait MigrationExecutor {
    /// The applied migrations as recorded, `(version, checksum)` in version order
    /// (creating the record on first use).
    fn applied(&mut self) -> Result<Vec<(u32, String)>>;

    /// Runs `migration` in `direction` in one transaction, recording it (up) or
    /// forgetting it (down) in the same transaction; on failure nothing changes and
    /// the error says why.
    fn run(&mut self, migration: &Migration, direction: Direction) -> Result<(), String>;
}

/// The version the database is at (0 when nothing is applied).
pub fn current_version(executor: &mut dyn MigrationExecutor) -> Result<u32> {
    Ok(executor
        .applied()?
        .iter()
        .map(|(version, _)| *version)
        .max()
        .unwrap_or(0))
}

/// Brings the schema to `target`, up or down through `migrations`, one transaction per
/// migration.
pub fn migrate_to(
    executor: &mut dyn MigrationExecutor,
    migrations: &[Migration],
    target: u32,
) -> Result<()> {
    let newest = latest(migrations);
    if target > newest {
        return Err(Error::validation(
            "schema version",
            format!("{target} is beyond the newest known version {newest}"),
        ));
    }
    let applied = executor.applied()?;
    let current = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    if current > newest {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: newest,
        });
    }
    for (version, checksum) in &applied {
        let known = migrations.iter().find(|m| m.version == *version);
        if known.map(Migration::checksum).as_deref() != Some(checksum.as_str()) {
            return Err(Error::Corrupt {
                detail: format!(
                    "schema migration {version} was recorded with checksum {checksum}, which this chatstore does not know"
                ),
            });
        }
    }
    let ups = migrations
        .iter()
        .filter(|m| m.version > current && m.version <= target)
        .map(|m| (m, Direction::Up));
    let downs = migrations
        .iter()
        .rev()
        .filter(|m| m.version <= current && m.version > target)
        .map(|m| (m, Direction::Down));
    for (migration, direction) in ups.chain(downs) {
        executor
            .run(migration, direction)
            .map_err(|detail| Error::Migration {
                version: migration.version,
                name: migration.name,
                detail,
            })?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            ?direction,
            "schema migration applied"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applied migrations in memory; fails the migration named "broken".
    #[derive(Default)]
    struct Memory(Vec<(u32, String)>, Vec<(u32, Direction)>);

    impl MigrationExecutor for Memory {
        fn applied(&mut self) -> Result<Vec<(u32, String)>> {
            Ok(self.0.clone())
        }

        fn run(&mut self, m: &Migration, direction: Direction) -> Result<(), String> {
            if m.name == "broken" {
                return Err("syntax error".into());
            }
            self.1.push((m.version, direction));
            match direction {
                Direction::Up => self.0.push((m.version, m.checksum())),
                Direction::Down => self.0.retain(|(v, _)| *v != m.version),
            }
            Ok(())
        }
    }

    const THREE: &[Migration] = &[
        Migration::new(1, "one", "a", "-a"),
        Migration::new(2, "two", "b", "-b"),
        Migration::new(3, "three", "c", "-c"),
    ];

    #[test]
    fn up_in_order_and_down_in_reverse() {
        let mut db = Memory::default();
        migrate_to(&mut db, THREE, 3).unwrap();
        migrate_to(&mut db, THREE, 1).unwrap();
        assert_eq!(current_version(&mut db).unwrap(), 1);
        use Direction::*;
        assert_eq!(db.1, [(1, Up), (2, Up), (3, Up), (3, Down), (2, Down)]);
    }

    #[test]
    fn newer_unknown_and_failing_migrations_are_refused() {
        let mut db = Memory::default();
        migrate_to(&mut db, THREE, 3).unwrap();
        assert!(matches!(
            migrate_to(&mut db, &THREE[..2], 2),
            Err(Error::SchemaTooNew {
                found: 3,
                supported: 2
            })
        ));
        assert!(matches!(
            migrate_to(&mut db, THREE, 4),
            Err(Error::Validation { .. })
        ));
        let changed = [Migration::new(1, "one", "a!", "-a"), THREE[1], THREE[2]];
        assert!(matches!(
            migrate_to(&mut db, &changed, 3),
            Err(Error::Corrupt { .. })
        ));
        let broken = [
            THREE[0],
            THREE[1],
            THREE[2],
            Migration::new(4, "broken", "x", "-x"),
        ];
        assert!(matches!(
            migrate_to(&mut db, &broken, 4),
            Err(Error::Migration { version: 4, .. })
        ));
        assert_eq!(current_version(&mut db).unwrap(), 3);
    }
}
