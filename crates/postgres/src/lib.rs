//! # chatstore-postgres
//!
//! The PostgreSQL backend of [chatstore], for a team that outgrew one machine: several
//! application servers on one PostgreSQL server, chosen by `DATABASE_URL=postgresql://...`
//! alone.
//!
//! [`PgStore`] implements the whole [`chatstore::Store`] and passes the same conformance
//! suite as SQLite (`tests/conformance.rs`): users, sessions, roles, conversations,
//! messages with full-text search (a `tsvector` per message, split over several for a
//! message too large for one), documents, embeddings with versions in commit order,
//! agent logs, usage, system operations and maintenance (invariant checks, vacuum, and
//! backups as a `psql` script of one consistent snapshot). [`PgBlobStore`] keeps the
//! attachments ([`chatstore::BlobStore`]) in the same schema, on the same pool
//! ([`PgStore::blobs`]): content-addressed (blake3), each chunk checksummed (xxh3) and checked on every read, streamed in
//! and out in chunks of [`CHUNK_BYTES`]. It stands on: the connection
//! pool (the seeds' size, overflow, timeout and recycle settings; `TimeZone=UTC`; health
//! judged by each connection's outcome), the startup check that names what went wrong
//! ([`chatstore::StartupError`]: server unreachable, authentication failed, no such
//! database, server too old; a newer schema is [`chatstore::Error::SchemaTooNew`]),
//! errors mapped by SQLSTATE to the same kinds as on SQLite (serialization failures,
//! deadlocks and lock timeouts retriable), and the schema's migrations, run by the
//! core's runner under an advisory lock so that servers starting together take turns.
//! Each connection keeps its prepared statements; every write is one READ COMMITTED
//! transaction, retried whole on a serialization failure, deadlock or lock timeout.
//!
//! ```no_run
//! use chatstore::Config;
//! use chatstore_postgres::{PgOptions, PgStore};
//!
//! let config = Config::new("postgresql://chat@db.internal:5432/chat");
//! let store = PgStore::open_with(config, &PgOptions::default().schema("chatstore"))?;
//! assert_eq!(store.schema_version()?, chatstore_postgres::LATEST_VERSION);
//! # Ok::<(), chatstore::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod agent_logs;
mod blob;
mod conversations;
mod db;
mod documents;
mod embeddings;
mod errors;
mod listen;
mod maintenance;
mod messages;
mod migrate;
mod options;
mod rbac;
mod restore;
mod row;
mod search;
mod sessions;
mod system;
mod transfer;
mod usage;
mod users;

use std::sync::Arc;
use std::time::Duration;

use chatstore::{BackendKind, Config, Error, Result, StartupError};
use postgres::{Client, NoTls};

pub use blob::{CHUNK_BYTES, PgBlobStore};
pub use db::{Connection, Manager};
pub use errors::{from_postgres, is_retriable};
pub use listen::EmbeddingListener;
pub use maintenance::TABLES;
pub use migrate::{LATEST_VERSION, MIGRATIONS, Migration};
pub use options::PgOptions;

use errors::{PgResultExt, startup_error};

/// The oldest server chatstore runs on (`server_version_num`): PostgreSQL 13.
pub const OLDEST_SERVER: i32 = 130_000;

/// A connection from the store's pool.
pub type PooledConnection = r2d2::PooledConnection<db::Manager>;

/// How long an overflow connection may sit idle before the pool closes it.
const OVERFLOW_IDLE: Duration = Duration::from_secs(600);

/// A chatstore store on a PostgreSQL database (one schema of it).
///
/// Cheap to share: wrap it in an `Arc` and call it from any number of threads.
pub struct PgStore {
    db: Arc<db::Db>,
    config: Config,
    options: PgOptions,
    hasher: chatstore::PasswordHasher,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.options.schema_name())
            .field("pool", &self.db.pool.state())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Opens the database at `config.database_url` (a `postgresql://` URL) with the
    /// default [`PgOptions`], checks it, and applies pending migrations.
    pub fn open(config: Config) -> Result<PgStore> {
        PgStore::open_with(config, &PgOptions::default())
    }

    /// [`PgStore::open`] with options of the host's.
    pub fn open_with(config: Config, options: &PgOptions) -> Result<PgStore> {
        config.validate()?;
        options.validate()?;
        if config.backend()? != BackendKind::Postgres {
            return Err(Error::validation(
                "database_url",
                "is not a postgresql:// URL: open a SQLite location with chatstore-sqlite",
            ));
        }
        let connect = connection_config(&config, options)?;
        let mut first = connect_checked(&connect)?;
        if !options.skip_migrations {
            migrate::migrate_to(&mut first, options.schema_name(), LATEST_VERSION)?;
        }
        drop(first);
        let manager = db::Manager {
            config: connect.clone(),
        };
        let pool = r2d2::Pool::builder()
            .min_idle(Some(config.pool.size))
            .max_size(config.pool.size.saturating_add(config.pool.max_overflow))
            .idle_timeout(Some(OVERFLOW_IDLE))
            .max_lifetime(config.pool.recycle)
            .connection_timeout(config.pool.timeout)
            // Health by outcome: a connection is dropped when a statement finds it
            // closed, not pinged before every use.
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| Error::Unavailable {
                detail: format!("cannot open the connection pool: {e}"),
            })?;
        let db = Arc::new(db::Db {
            pool,
            connect,
            retry: config.write_retry,
            timing: db::Timing {
                slow: config.slow_query_threshold,
                echo: config.echo,
            },
        });
        let hasher = chatstore::PasswordHasher::new(config.password)?;
        Ok(PgStore {
            db,
            config,
            options: options.clone(),
            hasher,
        })
    }

    /// Opens the database the environment describes ([`Config::from_env`] and
    /// [`PgOptions::from_env`]).
    pub fn open_from_env() -> Result<PgStore> {
        PgStore::open_with(Config::from_env()?, &PgOptions::from_env()?)
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The schema chatstore's tables are in.
    pub fn schema(&self) -> &str {
        self.options.schema_name()
    }

    /// A connection from the pool, for statements of the host's own; none free within
    /// the pool timeout is [`Error::Unavailable`].
    pub fn connection(&self) -> Result<PooledConnection> {
        self.db.connection()
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32> {
        migrate::current_version(self.connection()?.client())
    }

    /// Moves the schema to `version`, applying migrations or their down-migrations in
    /// order, each in its own transaction, under the schema's advisory lock. Going down
    /// drops data: back up first.
    pub fn migrate_to(&self, version: u32) -> Result<()> {
        migrate::migrate_to(self.connection()?.client(), self.schema(), version)
    }

    /// A connection of its own that wakes when another server (or this one) changes the
    /// embeddings of this store's schema: a server's loop waits on it and then calls
    /// [`chatstore::ChatStore::catch_up`] (see [`EmbeddingListener`]).
    pub fn listen_for_embedding_changes(&self) -> Result<EmbeddingListener> {
        EmbeddingListener::start(self.db.connect.clone(), self.schema())
    }

    /// The time on the configured clock, which every timestamp written comes from.
    pub fn now(&self) -> chatstore::Timestamp {
        self.config.clock.now()
    }
}

/// The connection settings: the URL's, with the startup timeout, UTC, the schema on the
/// search path and the application's name.
fn connection_config(config: &Config, options: &PgOptions) -> Result<postgres::Config> {
    let mut connect: postgres::Config = config.database_url.trim().parse().map_err(|e| {
        Error::validation(
            "database_url",
            format!("is not a usable PostgreSQL URL: {e}"),
        )
    })?;
    connect.connect_timeout(config.pool.startup_timeout);
    connect.options(&format!(
        "-c TimeZone=UTC -c search_path={}",
        options.schema_name()
    ));
    if connect.get_application_name().is_none() {
        connect.application_name("chatstore");
    }
    Ok(connect)
}

/// Connects once, turning each way that can fail into a [`StartupError`], and checks
/// the server's version.
fn connect_checked(connect: &postgres::Config) -> Result<Client> {
    let target = describe_hosts(connect);
    let user = connect.get_user().unwrap_or("(default)").to_owned();
    let database = connect.get_dbname().unwrap_or("(default)").to_owned();
    let mut client = connect
        .connect(NoTls)
        .map_err(|e| startup_error(e, &target, &user, &database))?;
    let version: String = client
        .query_one("SHOW server_version_num", &[])
        .db()?
        .get(0);
    let number: i32 = version.trim().parse().unwrap_or(0);
    if number < OLDEST_SERVER {
        return Err(Error::Startup(StartupError::ServerTooOld {
            found: version,
            required: OLDEST_SERVER.to_string(),
        }));
    }
    Ok(client)
}

/// The hosts and ports of the connection settings, for error messages.
fn describe_hosts(connect: &postgres::Config) -> String {
    let ports = connect.get_ports();
    connect
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
