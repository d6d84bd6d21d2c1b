//! # chatstore-sqlite
//!
//! The embedded SQLite backend of [chatstore]: [`SqliteStore`] implements
//! every part of [`chatstore::Store`] on one SQLite file in WAL mode.
//!
//! ```
//! use chatstore::{Config, NewConversation, NewMessage, NewUser, PasswordParams};
//! use chatstore::{ConversationStore, MessageStore, UserStore};
//! use chatstore_sqlite::SqliteStore;
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("chat.db");
//! let config = Config::new(path.to_str().unwrap())
//!     .password_params(PasswordParams::fast_for_tests()); // keep the default in production
//! let store = SqliteStore::open(config)?;
//!
//! let ada = store.create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))?;
//! let chat = store.create_conversation(ada.id, &NewConversation::titled("Hello"))?;
//! store.append_message(ada.id, chat.id, &NewMessage::user("Hi there"))?;
//! assert_eq!(store.last_messages(ada.id, chat.id, 20)?.len(), 1);
//! # Ok::<(), chatstore::Error>(())
//! ```
//!
//! What it does beyond the trait contracts:
//! - **Connections**: one writer connection behind a mutex and a pool of read-only
//!   connections (r2d2), WAL journal, `synchronous=NORMAL` (or `FULL` with
//!   [`SqliteOptions::fsync_every_commit`]), foreign keys on.
//! - **Transactions**: every write is one `BEGIN IMMEDIATE` transaction, retried with
//!   backoff while another process holds the lock; reads fail fast.
//! - **Startup check**: a missing or unwritable directory, an unreadable file, a file
//!   that is not a database and a database locked by another process are each a distinct
//!   [`FileError`].
//! - **Migrations**: applied on open, one transaction each; see [`MIGRATIONS`] and
//!   [`SqliteStore::migrate_to`].
//! - **Slow query log**: statements slower than the configured threshold are logged with
//!   `tracing` (target `chatstore::slow_query`), secrets redacted.
//! - **A file gone underneath**: if the database file is deleted or replaced while the
//!   store has it open, writes fail with [`chatstore::Error::Io`] naming it (checked
//!   after every commit, so nothing written into a vanishing file is acknowledged), and
//!   reads within a quarter of a second.
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod agent_logs;
mod backup;
mod checkpoint;
mod conversations;
mod db;
mod documents;
mod embeddings;
mod errors;
mod group;
mod identity;
mod indexer;
mod maintenance;
mod messages;
mod migrate;
mod options;
mod pool;
mod rbac;
mod restore;
mod row;
mod search;
mod sessions;
mod slow_log;
mod startup;
mod system;
mod transfer;
mod usage;
mod users;

use std::path::Path;
use std::sync::Arc;

use chatstore::{Config, PasswordHasher, Result, Timestamp};

pub use migrate::{LATEST_VERSION, MIGRATIONS, Migration};
pub use options::SqliteOptions;
pub use restore::restore_database;

use group::GroupCommit;
use indexer::Indexer;

/// The README's examples, compiled as doctests so they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub use startup::{FileError, database_path};

use db::{Db, DbOptions};

/// Building blocks for other stores kept in SQLite files, as the attachment store
/// (`chatstore-blob`) is: a supported part of this crate's API, so that such a store
/// opens its file with the project's settings and startup check, runs its own migrations
/// with the core's runner, and shares the integrity check, the online backup, the
/// handling of busy and vanished files and the error mapping, rather than copying them.
///
/// - `Db`: `Db::open` (startup check, settings, migrations), reads and retried write
///   transactions, `check_integrity`, `vacuum`, `backup`, `close`.
/// - `DbOptions::new`: a file's settings from the core's [`Config`] and the
///   [`SqliteOptions`].
/// - `RowExt`, `from_sqlite`: typed column access and error mapping.
pub mod engine {
    pub use crate::backup::backup_together;
    pub use crate::db::{Conn, Db, ReadConnection};
    pub use crate::errors::{SqliteResultExt, from_sqlite};
    pub use crate::migrate::{Migration, current_version, latest, migrate_to};
    pub use crate::options::DbOptions;
    pub use crate::row::{RowExt, json_or_null, json_text};
}

/// A chatstore [`Store`](chatstore::Store) on a SQLite database file.
///
/// Cheap to share: wrap it in an `Arc` and call it from any number of threads.
#[derive(Debug)]
pub struct SqliteStore {
    // Dropped first: the indexing thread stops before the database closes.
    indexer: Indexer,
    db: Arc<Db>,
    appends: GroupCommit,
    config: Config,
    hasher: PasswordHasher,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `config.database_url` with the
    /// default [`SqliteOptions`], checks it, and applies pending migrations.
    pub fn open(config: Config) -> Result<SqliteStore> {
        SqliteStore::open_with(config, &SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with SQLite options of the host's.
    pub fn open_with(config: Config, options: &SqliteOptions) -> Result<SqliteStore> {
        config.validate()?;
        let path = database_path(&config.database_url)?;
        let db = Arc::new(Db::open(
            &path,
            &DbOptions::new(&config, options),
            MIGRATIONS,
        )?);
        let hasher = PasswordHasher::new(config.password)?;
        Ok(SqliteStore {
            indexer: Indexer::start(db.clone())?,
            db,
            appends: GroupCommit::default(),
            config,
            hasher,
        })
    }

    /// Opens the database at `path` with default settings.
    pub fn open_path(path: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open(Config::new(path.as_ref().to_string_lossy()))
    }

    /// Opens the database the environment describes (see [`Config::from_env`] and
    /// [`SqliteOptions::from_env`]).
    pub fn open_from_env() -> Result<SqliteStore> {
        SqliteStore::open_with(Config::from_env()?, &SqliteOptions::from_env()?)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The database engine under the store, for maintenance that spans the store and
    /// its attachment file ([`engine::backup_together`]).
    pub fn engine(&self) -> &engine::Db {
        &self.db
    }

    /// Moves the schema to `version`, applying migrations or their down-migrations in
    /// order, each in its own transaction. Going down drops data: back up first.
    pub fn migrate_to(&self, version: u32) -> Result<()> {
        self.db
            .with_writer(|conn| migrate::migrate_to(conn.raw(), MIGRATIONS, version))
    }

    /// Closes the store cleanly: folds the write-ahead log into the database file, so the
    /// file alone is a complete copy, and closes every connection, reporting any error.
    /// (Dropping the store also closes it, silently.)
    pub fn close(self) -> Result<()> {
        let SqliteStore { indexer, db, .. } = self;
        drop(indexer);
        indexer::index_waiting(&db)?;
        match Arc::try_unwrap(db) {
            Ok(db) => db.close(),
            Err(_) => Err(chatstore::Error::Backend {
                detail: "the database is still in use by the search indexer".into(),
            }),
        }
    }

    /// The time on the configured clock, which every timestamp written comes from.
    fn now(&self) -> Timestamp {
        self.config.clock.now()
    }
}
