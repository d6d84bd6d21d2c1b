//! [`SqliteOptions`]: how the SQLite files are opened, beside the core's
//! [`chatstore::Config`] (policy, location and the connection pool).

use std::time::Duration;

use chatstore::config::{flag, whole_number};
use chatstore::{Config, Result, RetryPolicy};

/// Settings of the SQLite files themselves, shared by `chatstore.db` and `files.db`:
/// what no other backend has. Start from [`SqliteOptions::default`] (the main file) or
/// [`SqliteOptions::for_attachments`], or read them with [`SqliteOptions::from_env`].
///
/// ```
/// use chatstore_sqlite::SqliteOptions;
/// use std::time::Duration;
///
/// let options = SqliteOptions::from_vars(|name| match name {
///     "CHATSTORE_FSYNC_EVERY_COMMIT" => Some("true".to_owned()),
///     _ => None,
/// })?;
/// assert!(options.fsync_every_commit);
/// assert_eq!(options.busy_timeout, Duration::from_secs(5));
/// # Ok::<(), chatstore::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a statement waits for another process's lock before giving up.
    pub busy_timeout: Duration,
    /// Flush every commit to stable storage before acknowledging it (`synchronous=FULL`).
    /// Off by default: a crash of the process never loses an acknowledged write either
    /// way; with this on, a power loss or OS crash cannot either, at one fsync per write.
    pub fsync_every_commit: bool,
    /// Bytes of the file each connection maps into memory (0: none). Mapping spares a
    /// copy per page read; it suits read-heavy files such as the attachment store.
    pub mmap_size: u64,
    /// Page size of a file created by this open (`None`: SQLite's 4096).
    pub page_size: Option<u32>,
    /// Open the file as it is, without applying pending migrations (an operator's tool
    /// that shows or moves the schema version by hand). A store opened so may lack
    /// tables its methods need: use it for `schema_version` and `migrate_to` only.
    pub skip_migrations: bool,
    /// Overwrite deleted content with zeros (`PRAGMA secure_delete`), so that what a
    /// deletion removes (a deleted user's messages, a purged attachment) does not stay
    /// readable in the file's free pages. Off by default: it costs extra writes on
    /// every deletion. Backups taken earlier still hold the data.
    pub secure_delete: bool,
}

impl Default for SqliteOptions {
    /// The main file's settings: 5 s lock wait, `synchronous=NORMAL`, no mapping.
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(5),
            fsync_every_commit: false,
            mmap_size: 0,
            page_size: None,
            skip_migrations: false,
            secure_delete: false,
        }
    }
}

impl SqliteOptions {
    /// The attachment file's settings: as the main file's, with 1 GiB mapped.
    pub fn for_attachments(&self) -> SqliteOptions {
        SqliteOptions {
            mmap_size: 1 << 30,
            ..self.clone()
        }
    }

    /// Reads the options from the process environment; see [`SqliteOptions::from_vars`].
    pub fn from_env() -> Result<SqliteOptions> {
        SqliteOptions::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the options from variables looked up by `var`; unset ones keep their
    /// defaults, and a set one that does not parse is [`chatstore::Error::Validation`].
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `CHATSTORE_BUSY_TIMEOUT_MS` | lock wait per statement | 5000 |
    /// | `CHATSTORE_FSYNC_EVERY_COMMIT` | `1`/`true` to fsync each commit | off |
    /// | `CHATSTORE_SECURE_DELETE` | `1`/`true` to zero deleted content | off |
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<SqliteOptions> {
        let mut options = SqliteOptions::default();
        if let Some(ms) = whole_number(&var, "CHATSTORE_BUSY_TIMEOUT_MS")? {
            options.busy_timeout = Duration::from_millis(ms);
        }
        if let Some(on) = flag(&var, "CHATSTORE_FSYNC_EVERY_COMMIT")? {
            options.fsync_every_commit = on;
        }
        if let Some(on) = flag(&var, "CHATSTORE_SECURE_DELETE")? {
            options.secure_delete = on;
        }
        Ok(options)
    }

    /// Sets the lock wait per statement.
    pub fn busy_timeout(mut self, timeout: Duration) -> SqliteOptions {
        self.busy_timeout = timeout;
        self
    }

    /// Sets whether opening leaves the schema as it is ([`SqliteOptions::skip_migrations`]).
    pub fn skip_migrations(mut self, skip: bool) -> SqliteOptions {
        self.skip_migrations = skip;
        self
    }

    /// Sets whether deleted content is overwritten ([`SqliteOptions::secure_delete`]).
    pub fn secure_delete(mut self, on: bool) -> SqliteOptions {
        self.secure_delete = on;
        self
    }

    /// Sets whether every commit is flushed to stable storage.
    pub fn fsync_every_commit(mut self, on: bool) -> SqliteOptions {
        self.fsync_every_commit = on;
        self
    }
}

/// How a database file is opened and its connections set up: the core's policy and
/// pool, the SQLite options, and the log folding of this file.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// The SQLite settings.
    pub sqlite: SqliteOptions,
    /// How long opening waits for a file another process holds locked.
    pub startup_timeout: Duration,
    /// Reader connections.
    pub pool_size: u32,
    /// Wait for a free reader connection.
    pub pool_timeout: Duration,
    /// Retries of writes that find the file busy.
    pub write_retry: RetryPolicy,
    /// Statements slower than this are logged.
    pub slow_query_threshold: Duration,
    /// Log every statement (at DEBUG, target `chatstore::sql`), as the seeds'
    /// `DATABASE_ECHO` does.
    pub echo: bool,
    /// Pages the write-ahead log may hold before a commit folds it into the database
    /// file itself (SQLite's default is 1000). Each fold rewrites the pages and syncs
    /// the file. With `background_checkpoint`, this is only the backstop.
    pub checkpoint_pages: u32,
    /// Fold the log on a background thread shortly after writes instead of inline.
    pub background_checkpoint: bool,
}

impl DbOptions {
    /// The options of a file opened with `config` and `sqlite`: the one place the core's
    /// settings meet SQLite's, for both files.
    pub fn new(config: &Config, sqlite: &SqliteOptions) -> DbOptions {
        DbOptions {
            sqlite: sqlite.clone(),
            startup_timeout: config.pool.startup_timeout,
            pool_size: config.pool.size,
            pool_timeout: config.pool.timeout,
            write_retry: config.write_retry,
            slow_query_threshold: config.slow_query_threshold,
            echo: config.echo,
            checkpoint_pages: 4000,
            background_checkpoint: true,
        }
    }
}
