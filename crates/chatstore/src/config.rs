//! Settings that hold on every backend, from code or from environment variables: the
//! database location, the connection pool and the application's policy.
//!
//! ```
//! use chatstore::Config;
//! use std::time::Duration;
//!
//! let config = Config::new("data/chat.db")
//!     .slow_query_threshold(Duration::from_millis(50))
//!     .session_ttl(Duration::from_secs(8 * 3600));
//! assert_eq!(config.pool.size, 5);
//!
//! let from_env = Config::from_vars(|name| match name {
//!     "DATABASE_URL" => Some("sqlite:///data/chat.db".to_owned()),
//!     "SLOW_QUERY_THRESHOLD_MS" => Some("250".to_owned()),
//!     _ => None,
//! }).unwrap();
//! assert_eq!(from_env.slow_query_threshold, Duration::from_millis(250));
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::{Clock, Error, PasswordParams, PriceTable, Result, SystemClock};

/// How writes that find the database busy are retried: `attempts` tries in all, waiting
/// `base_delay`, then twice that, and so on up to `max_delay`, between them. Reads are
/// never retried: they fail fast with [`Error::Busy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry.
    pub base_delay: Duration,
    /// Longest wait between tries.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (from 1), with up to 25% random jitter so
    /// that competing writers spread out.
    pub fn delay(&self, retry: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(
                1u32.checked_shl(retry.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_delay);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        exponential + exponential.mul_f64(f64::from(nanos % 1000) / 4000.0)
    }

    /// Runs `op` (one whole transaction) until it succeeds, fails with anything but
    /// [`Error::Busy`], or has been tried `attempts` times, sleeping [`RetryPolicy::delay`]
    /// between tries. Every backend retries its writes with it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use chatstore::{Error, RetryPolicy};
    ///
    /// let policy = RetryPolicy { attempts: 3, base_delay: Duration::ZERO, max_delay: Duration::ZERO };
    /// let mut tries = 0;
    /// let busy = policy.run(|| -> chatstore::Result<()> {
    ///     tries += 1;
    ///     Err(Error::Busy { detail: "locked".into() })
    /// });
    /// assert!(matches!(busy, Err(Error::Busy { .. })));
    /// assert_eq!(tries, 3);
    /// ```
    pub fn run<T>(&self, mut op: impl FnMut() -> Result<T>) -> Result<T> {
        let mut attempt = 1;
        loop {
            match op() {
                Err(Error::Busy { .. }) if attempt < self.attempts => {
                    std::thread::sleep(self.delay(attempt));
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

impl Default for RetryPolicy {
    /// The seeds' policy: 3 tries, from 100 ms.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// Which kind of backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// A SQLite file: a path, `sqlite:///relative.db` or `sqlite:////absolute.db`.
    Sqlite,
    /// A PostgreSQL server: `postgresql://` or `postgres://` (served by `chatstore-postgres`).
    Postgres,
}

impl BackendKind {
    /// The backend a database URL names; an unknown scheme is [`Error::Validation`].
    ///
    /// ```
    /// use chatstore::config::BackendKind;
    ///
    /// assert_eq!(BackendKind::of_url("data/chat.db").unwrap(), BackendKind::Sqlite);
    /// assert_eq!(BackendKind::of_url("sqlite:///chat.db").unwrap(), BackendKind::Sqlite);
    /// assert_eq!(BackendKind::of_url("postgresql://app@db/chat").unwrap(), BackendKind::Postgres);
    /// assert!(BackendKind::of_url("mysql://db/chat").is_err());
    /// ```
    pub fn of_url(url: &str) -> Result<BackendKind> {
        let url = url.trim();
        match url.split_once("://") {
            None => Ok(BackendKind::Sqlite),
            Some((scheme, _)) => match scheme.to_ascii_lowercase().as_str() {
                "sqlite" => Ok(BackendKind::Sqlite),
                "postgresql" | "postgres" => Ok(BackendKind::Postgres),
                _ => Err(Error::validation(
                    "database_url",
                    format!(
                        "{scheme}:// is not a supported database: use a SQLite path or sqlite:///path, or postgresql://"
                    ),
                )),
            },
        }
    }

    /// The name the seeds' `DATABASE_TYPE` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgresql",
        }
    }
}

/// The connection pool every backend keeps (the seeds' `DATABASE_POOL_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections kept open. On SQLite, the readers (there is one writer besides).
    pub size: u32,
    /// Connections opened beyond `size` under load and closed when idle. A server
    /// backend's; SQLite's readers are a fixed set, so it does not apply there.
    pub max_overflow: u32,
    /// How long a caller waits for a free connection.
    pub timeout: Duration,
    /// Connections older than this are replaced (`None`: never). A server backend's, so
    /// that connections do not outlive a server-side timeout; a SQLite connection has
    /// nothing to expire, so it does not apply there.
    pub recycle: Option<Duration>,
    /// How long opening waits for the database: for a locked SQLite file, or for a
    /// server to accept the connection.
    pub startup_timeout: Duration,
}

impl Default for PoolSettings {
    /// The seeds' defaults: 5 connections, 10 overflow, 30 s waits, recycled hourly.
    fn default() -> Self {
        PoolSettings {
            size: 5,
            max_overflow: 10,
            timeout: Duration::from_secs(30),
            recycle: Some(Duration::from_secs(3600)),
            startup_timeout: Duration::from_secs(30),
        }
    }
}

/// Store settings that hold on every backend: where the database is, its connection
/// pool, and the application's policy (limits, lifetimes, prices, password cost, retries,
/// logging, clock). A backend's own settings are its own (for SQLite,
/// `chatstore_sqlite::SqliteOptions`). Start from [`Config::new`] or
/// [`Config::from_env`] and adjust with the chainable setters (or the public fields).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the database is: a SQLite path or URL (`sqlite:///relative.db`,
    /// `sqlite:////absolute.db`), or a `postgresql://` URL.
    pub database_url: String,
    /// The connection pool.
    pub pool: PoolSettings,
    /// Retries of writes that find the database busy.
    pub write_retry: RetryPolicy,
    /// Statements slower than this are logged (at WARN, target `chatstore::slow_query`).
    pub slow_query_threshold: Duration,
    /// Log every statement (at DEBUG, target `chatstore::sql`, parameters redacted as in
    /// the slow query log): the seeds' `DATABASE_ECHO`.
    pub echo: bool,
    /// Argon2id cost for new password hashes.
    pub password: PasswordParams,
    /// Lifetime of a login session.
    pub session_ttl: Duration,
    /// A session's `last_activity_at` is rewritten at most this often.
    pub session_touch_interval: Duration,
    /// Conversations idle longer than this are hidden by
    /// [`crate::SystemStore::auto_hide_idle_conversations`].
    pub auto_hide_after: Duration,
    /// Largest message text, in bytes.
    pub max_message_bytes: usize,
    /// Largest JSON metadata (message metadata, agent log data), in bytes.
    pub max_metadata_bytes: usize,
    /// Token prices for usage records.
    pub pricing: PriceTable,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
}

/// Reads variable `name` as a whole number: `None` when unset, [`Error::Validation`]
/// naming it when set to something else. Shared by every reader of settings.
pub fn whole_number(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<u64>> {
    match var(name) {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| {
            Error::validation(
                "environment",
                format!("{name}={text:?} is not a whole number"),
            )
        }),
    }
}

/// Reads variable `name` as true (`1`, `true`, `yes`, `on`) or false (`0`, `false`,
/// `no`, `off`, empty): `None` when unset, [`Error::Validation`] naming it otherwise.
pub fn flag(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<bool>> {
    let Some(text) = var(name) else {
        return Ok(None);
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" | "" => Ok(Some(false)),
        _ => Err(Error::validation(
            "environment",
            format!("{name}={text:?} is not true or false"),
        )),
    }
}

impl Config {
    /// The seeds' defaults for a database at `database_url`.
    pub fn new(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            pool: PoolSettings::default(),
            write_retry: RetryPolicy::default(),
            slow_query_threshold: Duration::from_millis(100),
            echo: false,
            password: PasswordParams::OWASP,
            session_ttl: Duration::from_secs(24 * 3600),
            session_touch_interval: Duration::from_secs(60),
            auto_hide_after: Duration::from_secs(30 * 24 * 3600),
            max_message_bytes: 1 << 20,
            max_metadata_bytes: 256 << 10,
            pricing: PriceTable::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads the configuration from the process environment; see [`Config::from_vars`].
    pub fn from_env() -> Result<Config> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from variables looked up by `var`. Unset variables keep
    /// their defaults; a set variable that does not parse is [`Error::Validation`].
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `DATABASE_URL` | database location: a SQLite path or `sqlite:///` URL, or `postgresql://` | `chatstore.db` |
    /// | `DATABASE_TYPE` | `sqlite` or `postgresql`; when set, must agree with `DATABASE_URL` | from the URL |
    /// | `DATABASE_TIMEOUT` | seconds to wait for the database at startup | 30 |
    /// | `DATABASE_POOL_SIZE` | connections kept | 5 |
    /// | `DATABASE_MAX_OVERFLOW` | extra connections under load (server backends) | 10 |
    /// | `DATABASE_POOL_TIMEOUT` | seconds to wait for a free connection | 30 |
    /// | `DATABASE_POOL_RECYCLE` | seconds before a connection is replaced, `-1` never (server backends) | 3600 |
    /// | `DATABASE_ECHO` | `true` to log every statement at DEBUG | off |
    /// | `DATABASE_INIT_RETRY_COUNT` | tries for a busy write | 3 |
    /// | `DATABASE_INIT_RETRY_DELAY_MS` | first retry delay | 100 |
    /// | `SLOW_QUERY_THRESHOLD_MS` | slow query log threshold | 100 |
    /// | `CHATSTORE_SESSION_TTL_SECS` | session lifetime | 86400 |
    /// | `CHATSTORE_AUTO_HIDE_DAYS` | idle days before auto-hide | 30 |
    /// | `CHATSTORE_MAX_MESSAGE_BYTES` | largest message | 1048576 |
    /// | `CHATSTORE_ARGON2_MEMORY_KIB` | argon2id memory | 19456 |
    /// | `CHATSTORE_ARGON2_ITERATIONS` | argon2id passes | 2 |
    /// | `CHATSTORE_ARGON2_PARALLELISM` | argon2id lanes | 1 |
    ///
    /// A backend reads its own variables beside these (SQLite:
    /// `CHATSTORE_BUSY_TIMEOUT_MS`, `CHATSTORE_FSYNC_EVERY_COMMIT`).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let number = |name: &str| whole_number(&var, name);
        let small = |name: &str| -> Result<Option<u32>> {
            number(name)?
                .map(|n| {
                    u32::try_from(n).map_err(|_| {
                        Error::validation("environment", format!("{name}={n} is too large"))
                    })
                })
                .transpose()
        };
        let mut config = Config::new(var("DATABASE_URL").unwrap_or_else(|| "chatstore.db".into()));
        if let Some(kind) = var("DATABASE_TYPE") {
            let named = BackendKind::of_url(&config.database_url)?;
            let kind = kind.trim().to_ascii_lowercase();
            let agrees =
                kind == named.as_str() || (kind == "postgres" && named == BackendKind::Postgres);
            if !agrees {
                return Err(Error::validation(
                    "environment",
                    format!(
                        "DATABASE_TYPE={kind:?} disagrees with DATABASE_URL, which names a {} database",
                        named.as_str()
                    ),
                ));
            }
        }
        if let Some(s) = number("DATABASE_TIMEOUT")? {
            config.pool.startup_timeout = Duration::from_secs(s);
        }
        if let Some(n) = small("DATABASE_POOL_SIZE")? {
            config.pool.size = n;
        }
        if let Some(n) = small("DATABASE_MAX_OVERFLOW")? {
            config.pool.max_overflow = n;
        }
        if let Some(s) = number("DATABASE_POOL_TIMEOUT")? {
            config.pool.timeout = Duration::from_secs(s);
        }
        match var("DATABASE_POOL_RECYCLE").as_deref().map(str::trim) {
            Some("-1") => config.pool.recycle = None,
            Some(_) => {
                config.pool.recycle = number("DATABASE_POOL_RECYCLE")?.map(Duration::from_secs);
            }
            None => {}
        }
        if let Some(on) = flag(&var, "DATABASE_ECHO")? {
            config.echo = on;
        }
        if let Some(n) = small("DATABASE_INIT_RETRY_COUNT")? {
            config.write_retry.attempts = n;
        }
        if let Some(ms) = number("DATABASE_INIT_RETRY_DELAY_MS")? {
            config.write_retry.base_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = number("SLOW_QUERY_THRESHOLD_MS")? {
            config.slow_query_threshold = Duration::from_millis(ms);
        }
        if let Some(s) = number("CHATSTORE_SESSION_TTL_SECS")? {
            config.session_ttl = Duration::from_secs(s);
        }
        if let Some(days) = number("CHATSTORE_AUTO_HIDE_DAYS")? {
            config.auto_hide_after = Duration::from_secs(days.saturating_mul(24 * 3600));
        }
        if let Some(n) = number("CHATSTORE_MAX_MESSAGE_BYTES")? {
            config.max_message_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = small("CHATSTORE_ARGON2_MEMORY_KIB")? {
            config.password.memory_kib = n;
        }
        if let Some(n) = small("CHATSTORE_ARGON2_ITERATIONS")? {
            config.password.iterations = n;
        }
        if let Some(n) = small("CHATSTORE_ARGON2_PARALLELISM")? {
            config.password.parallelism = n;
        }
        config.validate()?;
        Ok(config)
    }

    /// The backend [`Config::database_url`] names.
    pub fn backend(&self) -> Result<BackendKind> {
        BackendKind::of_url(&self.database_url)
    }

    /// Checks the settings are usable: a location of a supported backend, at least one
    /// connection, one try, a positive session lifetime, prices within bounds, and
    /// argon2 parameters argon2 accepts.
    pub fn validate(&self) -> Result<()> {
        let fail = |reason: &str| Err(Error::validation("config", reason.to_owned()));
        if self.database_url.trim().is_empty() {
            return fail("database_url is empty");
        }
        self.backend()?;
        if self.pool.size == 0 {
            return fail("pool.size must be at least 1");
        }
        if self.write_retry.attempts == 0 {
            return fail("write_retry.attempts must be at least 1");
        }
        if self.session_ttl.is_zero() {
            return fail("session_ttl must be positive");
        }
        if self.max_message_bytes == 0 || self.max_metadata_bytes == 0 {
            return fail("message and metadata size limits must be positive");
        }
        self.pricing.validate()?;
        crate::PasswordHasher::new(self.password).map(drop)
    }

    /// Sets the database location.
    pub fn database_url(mut self, url: impl Into<String>) -> Config {
        self.database_url = url.into();
        self
    }

    /// Sets how long opening waits for the database.
    pub fn startup_timeout(mut self, timeout: Duration) -> Config {
        self.pool.startup_timeout = timeout;
        self
    }

    /// Sets the number of connections kept.
    pub fn pool_size(mut self, size: u32) -> Config {
        self.pool.size = size;
        self
    }

    /// Sets the retry policy for busy writes.
    pub fn write_retry(mut self, policy: RetryPolicy) -> Config {
        self.write_retry = policy;
        self
    }

    /// Sets the slow query log threshold.
    pub fn slow_query_threshold(mut self, threshold: Duration) -> Config {
        self.slow_query_threshold = threshold;
        self
    }

    /// Sets the argon2id cost.
    pub fn password_params(mut self, params: PasswordParams) -> Config {
        self.password = params;
        self
    }

    /// Sets the session lifetime.
    pub fn session_ttl(mut self, ttl: Duration) -> Config {
        self.session_ttl = ttl;
        self
    }

    /// Sets the idle time before conversations are auto-hidden.
    pub fn auto_hide_after(mut self, idle: Duration) -> Config {
        self.auto_hide_after = idle;
        self
    }

    /// Sets the largest message size in bytes.
    pub fn max_message_bytes(mut self, bytes: usize) -> Config {
        self.max_message_bytes = bytes;
        self
    }

    /// Sets the price table.
    pub fn pricing(mut self, prices: PriceTable) -> Config {
        self.pricing = prices;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Config {
        self.clock = clock;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_seeds() {
        let config = from(&[]).unwrap();
        assert_eq!(config.database_url, "chatstore.db");
        assert_eq!(config.slow_query_threshold, Duration::from_millis(100));
        assert_eq!(config.pool, PoolSettings::default());
        assert_eq!(config.write_retry.attempts, 3);
        assert_eq!(config.write_retry.base_delay, Duration::from_millis(100));
        assert_eq!(config.backend().unwrap(), BackendKind::Sqlite);
        assert!(!config.echo);
        assert_eq!(config.password, PasswordParams::OWASP);
    }

    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            ("DATABASE_URL", "sqlite:////var/lib/chat.db"),
            ("DATABASE_TIMEOUT", "7"),
            ("DATABASE_POOL_SIZE", "12"),
            ("DATABASE_POOL_TIMEOUT", "3"),
            ("DATABASE_TYPE", "sqlite"),
            ("DATABASE_MAX_OVERFLOW", "4"),
            ("DATABASE_POOL_RECYCLE", "600"),
            ("DATABASE_ECHO", "true"),
            ("DATABASE_INIT_RETRY_COUNT", "5"),
            ("DATABASE_INIT_RETRY_DELAY_MS", "20"),
            ("SLOW_QUERY_THRESHOLD_MS", "250"),
            ("CHATSTORE_SESSION_TTL_SECS", "60"),
            ("CHATSTORE_AUTO_HIDE_DAYS", "2"),
            ("CHATSTORE_MAX_MESSAGE_BYTES", "1000"),
            ("CHATSTORE_ARGON2_MEMORY_KIB", "65536"),
            ("CHATSTORE_ARGON2_ITERATIONS", "3"),
            ("CHATSTORE_ARGON2_PARALLELISM", "2"),
        ])
        .unwrap();
        assert_eq!(config.database_url, "sqlite:////var/lib/chat.db");
        assert_eq!(
            config.pool,
            PoolSettings {
                size: 12,
                max_overflow: 4,
                timeout: Duration::from_secs(3),
                recycle: Some(Duration::from_secs(600)),
                startup_timeout: Duration::from_secs(7),
            }
        );
        assert!(config.echo);
        assert_eq!(config.write_retry.attempts, 5);
        assert_eq!(config.write_retry.base_delay, Duration::from_millis(20));
        assert_eq!(config.slow_query_threshold, Duration::from_millis(250));
        assert_eq!(config.session_ttl, Duration::from_secs(60));
        assert_eq!(config.auto_hide_after, Duration::from_secs(2 * 24 * 3600));
        assert_eq!(config.max_message_bytes, 1000);
        assert_eq!(
            config.password,
            PasswordParams {
                memory_kib: 65536,
                iterations: 3,
                parallelism: 2
            }
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("SLOW_QUERY_THRESHOLD_MS", "fast"),
            ("DATABASE_POOL_SIZE", "-1"),
            ("DATABASE_POOL_SIZE", "99999999999"),
            ("DATABASE_ECHO", "sometimes"),
            ("DATABASE_POOL_RECYCLE", "soon"),
            ("DATABASE_TYPE", "postgresql"),
        ] {
            let err = from(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
        assert!(from(&[("DATABASE_POOL_SIZE", "0")]).is_err());
        assert!(from(&[("CHATSTORE_ARGON2_ITERATIONS", "0")]).is_err());
        assert!(from(&[("DATABASE_URL", " ")]).is_err());
        assert!(from(&[("DATABASE_URL", "mysql://db/chat")]).is_err());
    }

    #[test]
    fn a_postgresql_url_is_a_choice_of_backend() {
        let config = from(&[
            ("DATABASE_URL", "postgresql://app@127.0.0.1:5432/chat"),
            ("DATABASE_TYPE", "postgresql"),
            ("DATABASE_POOL_RECYCLE", "-1"),
        ])
        .unwrap();
        assert_eq!(config.backend().unwrap(), BackendKind::Postgres);
        assert_eq!(config.pool.recycle, None);
    }

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.delay(1) >= Duration::from_millis(100));
        assert!(policy.delay(1) <= Duration::from_millis(125));
        assert!(policy.delay(2) >= Duration::from_millis(200));
        assert!(policy.delay(40) <= Duration::from_millis(2500));
    }
}
