//! Settings shared by every backend, from code or from environment variables.
//!
//! ```
//! use chatstore::Config;
//! use std::time::Duration;
//!
//! let config = Config::new("data/chat.db")
//!     .slow_query_threshold(Duration::from_millis(50))
//!     .session_ttl(Duration::from_secs(8 * 3600));
//! assert_eq!(config.pool_size, 5);
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

/// Store settings. Start from [`Config::new`] or [`Config::from_env`] and adjust with the
/// chainable setters (or the public fields).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the database is: a path, or a URL the backend understands
    /// (`sqlite:///relative.db`, `sqlite:////absolute.db`).
    pub database_url: String,
    /// How long a statement waits for another connection's lock before giving up.
    pub busy_timeout: Duration,
    /// How long opening waits for a database another process holds locked.
    pub startup_timeout: Duration,
    /// Connections kept for concurrent readers.
    pub pool_size: u32,
    /// Flush every commit to stable storage before acknowledging it. Off by default: a
    /// crash of the process never loses an acknowledged write either way; with this on,
    /// a power loss or OS crash cannot either, at the cost of one fsync per write.
    pub fsync_every_commit: bool,
    /// How long a caller waits for a free connection.
    pub pool_timeout: Duration,
    /// Retries of writes that find the database busy.
    pub write_retry: RetryPolicy,
    /// Statements slower than this are logged (at WARN, target `chatstore::slow_query`).
    pub slow_query_threshold: Duration,
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

impl Config {
    /// The seeds' defaults for a database at `database_url`.
    pub fn new(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            busy_timeout: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(30),
            pool_size: 5,
            fsync_every_commit: false,
            pool_timeout: Duration::from_secs(30),
            write_retry: RetryPolicy::default(),
            slow_query_threshold: Duration::from_millis(100),
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
    /// | `DATABASE_URL` | database location | `chatstore.db` |
    /// | `DATABASE_TIMEOUT` | seconds to wait for a locked database at startup | 30 |
    /// | `DATABASE_POOL_SIZE` | reader connections | 5 |
    /// | `DATABASE_POOL_TIMEOUT` | seconds to wait for a free connection | 30 |
    /// | `DATABASE_INIT_RETRY_COUNT` | tries for a busy write | 3 |
    /// | `DATABASE_INIT_RETRY_DELAY_MS` | first retry delay | 100 |
    /// | `SLOW_QUERY_THRESHOLD_MS` | slow query log threshold | 100 |
    /// | `CHATSTORE_BUSY_TIMEOUT_MS` | lock wait per statement | 5000 |
    /// | `CHATSTORE_FSYNC_EVERY_COMMIT` | `1`/`true` to fsync each commit | off |
    /// | `CHATSTORE_SESSION_TTL_SECS` | session lifetime | 86400 |
    /// | `CHATSTORE_AUTO_HIDE_DAYS` | idle days before auto-hide | 30 |
    /// | `CHATSTORE_MAX_MESSAGE_BYTES` | largest message | 1048576 |
    /// | `CHATSTORE_ARGON2_MEMORY_KIB` | argon2id memory | 19456 |
    /// | `CHATSTORE_ARGON2_ITERATIONS` | argon2id passes | 2 |
    /// | `CHATSTORE_ARGON2_PARALLELISM` | argon2id lanes | 1 |
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let number = |name: &str| -> Result<Option<u64>> {
            match var(name) {
                None => Ok(None),
                Some(text) => text.trim().parse().map(Some).map_err(|_| {
                    Error::validation(
                        "environment",
                        format!("{name}={text:?} is not a whole number"),
                    )
                }),
            }
        };
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
        if let Some(s) = number("DATABASE_TIMEOUT")? {
            config.startup_timeout = Duration::from_secs(s);
        }
        if let Some(n) = small("DATABASE_POOL_SIZE")? {
            config.pool_size = n;
        }
        if let Some(s) = number("DATABASE_POOL_TIMEOUT")? {
            config.pool_timeout = Duration::from_secs(s);
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
        if let Some(ms) = number("CHATSTORE_BUSY_TIMEOUT_MS")? {
            config.busy_timeout = Duration::from_millis(ms);
        }
        if let Some(text) = var("CHATSTORE_FSYNC_EVERY_COMMIT") {
            config.fsync_every_commit = match text.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" | "" => false,
                _ => {
                    return Err(Error::validation(
                        "environment",
                        format!("CHATSTORE_FSYNC_EVERY_COMMIT={text:?} is not true or false"),
                    ));
                }
            };
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

    /// Checks the settings are usable: a non-empty location, at least one connection,
    /// one try, a positive session lifetime, prices within bounds, and argon2
    /// parameters argon2 accepts.
    pub fn validate(&self) -> Result<()> {
        let fail = |reason: &str| Err(Error::validation("config", reason.to_owned()));
        if self.database_url.trim().is_empty() {
            return fail("database_url is empty");
        }
        if self.pool_size == 0 {
            return fail("pool_size must be at least 1");
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

    /// Sets the lock wait per statement.
    pub fn busy_timeout(mut self, timeout: Duration) -> Config {
        self.busy_timeout = timeout;
        self
    }

    /// Sets how long opening waits for a locked database.
    pub fn startup_timeout(mut self, timeout: Duration) -> Config {
        self.startup_timeout = timeout;
        self
    }

    /// Sets the number of reader connections.
    pub fn pool_size(mut self, size: u32) -> Config {
        self.pool_size = size;
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
        assert_eq!(config.pool_size, 5);
        assert_eq!(config.write_retry.attempts, 3);
        assert_eq!(config.write_retry.base_delay, Duration::from_millis(100));
        assert_eq!(config.startup_timeout, Duration::from_secs(30));
        assert_eq!(config.password, PasswordParams::OWASP);
    }

    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            ("DATABASE_URL", "sqlite:////var/lib/chat.db"),
            ("DATABASE_TIMEOUT", "7"),
            ("DATABASE_POOL_SIZE", "12"),
            ("DATABASE_POOL_TIMEOUT", "3"),
            ("DATABASE_INIT_RETRY_COUNT", "5"),
            ("DATABASE_INIT_RETRY_DELAY_MS", "20"),
            ("SLOW_QUERY_THRESHOLD_MS", "250"),
            ("CHATSTORE_BUSY_TIMEOUT_MS", "900"),
            ("CHATSTORE_SESSION_TTL_SECS", "60"),
            ("CHATSTORE_FSYNC_EVERY_COMMIT", "true"),
            ("CHATSTORE_AUTO_HIDE_DAYS", "2"),
            ("CHATSTORE_MAX_MESSAGE_BYTES", "1000"),
            ("CHATSTORE_ARGON2_MEMORY_KIB", "65536"),
            ("CHATSTORE_ARGON2_ITERATIONS", "3"),
            ("CHATSTORE_ARGON2_PARALLELISM", "2"),
        ])
        .unwrap();
        assert_eq!(config.database_url, "sqlite:////var/lib/chat.db");
        assert_eq!(config.startup_timeout, Duration::from_secs(7));
        assert_eq!(config.pool_size, 12);
        assert_eq!(config.pool_timeout, Duration::from_secs(3));
        assert_eq!(config.write_retry.attempts, 5);
        assert_eq!(config.write_retry.base_delay, Duration::from_millis(20));
        assert_eq!(config.slow_query_threshold, Duration::from_millis(250));
        assert_eq!(config.busy_timeout, Duration::from_millis(900));
        assert_eq!(config.session_ttl, Duration::from_secs(60));
        assert!(config.fsync_every_commit);
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
            ("CHATSTORE_FSYNC_EVERY_COMMIT", "sometimes"),
        ] {
            let err = from(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
        assert!(from(&[("DATABASE_POOL_SIZE", "0")]).is_err());
        assert!(from(&[("CHATSTORE_ARGON2_ITERATIONS", "0")]).is_err());
        assert!(from(&[("DATABASE_URL", " ")]).is_err());
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
