//! Settings of the attachment store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chatstore::{Clock, Config, Error, Result, SystemClock};
use chatstore_sqlite::engine::DbOptions;

/// The file name of the attachment store, as in the source system.
pub const DEFAULT_FILE_NAME: &str = "files.db";

/// Attachment store settings.
///
/// ```
/// use chatstore_blob::BlobConfig;
///
/// let config = BlobConfig::beside("data/chatstore.db");
/// assert_eq!(config.path, std::path::PathBuf::from("data/files.db"));
/// assert_eq!(config.max_blob_bytes, 256 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// The attachment database file.
    pub path: PathBuf,
    /// Largest blob accepted, in bytes.
    pub max_blob_bytes: u64,
    /// Bytes of the file each connection maps into memory: reads then copy straight
    /// from the mapping (0 turns it off).
    pub mmap_size: u64,
    /// Flush every commit to stable storage (see the main store's setting of the
    /// same name).
    pub fsync_every_commit: bool,
    /// Lock wait per statement.
    pub busy_timeout: Duration,
    /// How long opening waits for a file another process holds locked.
    pub startup_timeout: Duration,
    /// Reader connections.
    pub pool_size: u32,
    /// Retries of writes that find the file busy.
    pub write_retry: chatstore::RetryPolicy,
    /// Statements slower than this are logged.
    pub slow_query_threshold: Duration,
    /// Where "now" comes from (blob creation times, which the orphan sweep reads).
    pub clock: Arc<dyn Clock>,
}

impl BlobConfig {
    /// Defaults for an attachment store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> BlobConfig {
        BlobConfig {
            path: path.into(),
            max_blob_bytes: 256 << 20,
            mmap_size: 1 << 30,
            fsync_every_commit: false,
            busy_timeout: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(30),
            pool_size: 5,
            write_retry: chatstore::RetryPolicy::default(),
            slow_query_threshold: Duration::from_millis(100),
            clock: Arc::new(SystemClock),
        }
    }

    /// Defaults for `files.db` in the directory of the main database at `main_db`.
    pub fn beside(main_db: impl AsRef<Path>) -> BlobConfig {
        let directory = main_db.as_ref().parent().unwrap_or(Path::new(""));
        BlobConfig::new(directory.join(DEFAULT_FILE_NAME))
    }

    /// The settings the main store's configuration implies (timeouts, pool, retries,
    /// slow-query threshold, clock), for `files.db` beside its database — or at
    /// `BLOB_STORAGE_PATH` when `blob_storage_path` (that variable's value) is given.
    pub fn from_main(config: &Config, blob_storage_path: Option<&str>) -> Result<BlobConfig> {
        let main = chatstore_sqlite::database_path(&config.database_url)?;
        let mut blob = match blob_storage_path.map(str::trim) {
            Some("") => {
                return Err(Error::validation("BLOB_STORAGE_PATH", "is empty"));
            }
            Some(path) => BlobConfig::new(path),
            None => BlobConfig::beside(main),
        };
        blob.fsync_every_commit = config.fsync_every_commit;
        blob.busy_timeout = config.busy_timeout;
        blob.startup_timeout = config.startup_timeout;
        blob.pool_size = config.pool_size;
        blob.write_retry = config.write_retry;
        blob.slow_query_threshold = config.slow_query_threshold;
        blob.clock = Arc::clone(&config.clock);
        Ok(blob)
    }

    /// [`BlobConfig::from_main`] with `BLOB_STORAGE_PATH` read from the environment.
    pub fn from_env(config: &Config) -> Result<BlobConfig> {
        BlobConfig::from_main(config, std::env::var("BLOB_STORAGE_PATH").ok().as_deref())
    }

    /// Sets the largest blob accepted.
    pub fn max_blob_bytes(mut self, bytes: u64) -> BlobConfig {
        self.max_blob_bytes = bytes;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> BlobConfig {
        self.clock = clock;
        self
    }

    pub(crate) fn db_options(&self) -> DbOptions {
        DbOptions {
            busy_timeout: self.busy_timeout,
            startup_timeout: self.startup_timeout,
            fsync_every_commit: self.fsync_every_commit,
            pool_size: self.pool_size,
            pool_timeout: Duration::from_secs(30),
            write_retry: self.write_retry,
            slow_query_threshold: self.slow_query_threshold,
            mmap_size: self.mmap_size,
            page_size: None,
            checkpoint_pages: 16_000,
            background_checkpoint: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_goes_beside_the_main_database_unless_configured() {
        let main = Config::new("sqlite:///var/chat/main.db");
        let beside = BlobConfig::from_main(&main, None).unwrap();
        assert_eq!(beside.path, PathBuf::from("var/chat/files.db"));
        let elsewhere = BlobConfig::from_main(&main, Some("/mnt/blobs/files.db")).unwrap();
        assert_eq!(elsewhere.path, PathBuf::from("/mnt/blobs/files.db"));
        assert!(BlobConfig::from_main(&main, Some(" ")).is_err());
        assert_eq!(
            BlobConfig::beside("main.db").path,
            PathBuf::from("files.db")
        );
    }
}
