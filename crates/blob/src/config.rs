//! Settings of the attachment store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chatstore::{Clock, Config, Error, Result};
use chatstore_sqlite::SqliteOptions;
use chatstore_sqlite::engine::DbOptions;

/// The file name of the attachment store, as in the source system.
pub const DEFAULT_FILE_NAME: &str = "files.db";

/// Attachment store settings: where the file is, the largest blob, and the two parts it
/// shares with the main store — the core's [`Config`] (pool, retries, slow query log,
/// clock; its `database_url` is not used) and the [`SqliteOptions`] (with 1 GiB mapped by
/// default, as reads dominate).
///
/// ```
/// use chatstore_blob::BlobConfig;
///
/// let config = BlobConfig::beside("data/chatstore.db");
/// assert_eq!(config.path, std::path::PathBuf::from("data/files.db"));
/// assert_eq!(config.max_blob_bytes, 256 << 20);
/// assert_eq!(config.sqlite.mmap_size, 1 << 30);
/// ```
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// The attachment database file.
    pub path: PathBuf,
    /// Largest blob accepted, in bytes.
    pub max_blob_bytes: u64,
    /// Pool, retries, slow query log and clock (blob creation times, which the orphan
    /// sweep reads): the main store's, when made by [`BlobConfig::from_main`].
    pub shared: Config,
    /// How the SQLite file is opened.
    pub sqlite: SqliteOptions,
}

impl BlobConfig {
    /// Defaults for an attachment store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> BlobConfig {
        let path = path.into();
        BlobConfig {
            shared: Config::new(path.to_string_lossy()),
            path,
            max_blob_bytes: 256 << 20,
            sqlite: SqliteOptions::default().for_attachments(),
        }
    }

    /// Defaults for `files.db` in the directory of the main database at `main_db`.
    pub fn beside(main_db: impl AsRef<Path>) -> BlobConfig {
        let directory = main_db.as_ref().parent().unwrap_or(Path::new(""));
        BlobConfig::new(directory.join(DEFAULT_FILE_NAME))
    }

    /// The attachment store of a main store opened with `config` and `sqlite`: the same
    /// pool, retries, slow query log and clock, the same SQLite options (with the
    /// attachment file's mapping), and `files.db` beside its database — or at
    /// `BLOB_STORAGE_PATH` when `blob_storage_path` (that variable's value) is given.
    pub fn from_main(
        config: &Config,
        sqlite: &SqliteOptions,
        blob_storage_path: Option<&str>,
    ) -> Result<BlobConfig> {
        let main = chatstore_sqlite::database_path(&config.database_url)?;
        let mut blob = match blob_storage_path.map(str::trim) {
            Some("") => {
                return Err(Error::validation("BLOB_STORAGE_PATH", "is empty"));
            }
            Some(path) => BlobConfig::new(path),
            None => BlobConfig::beside(main),
        };
        blob.shared = config.clone();
        blob.sqlite = sqlite.for_attachments();
        Ok(blob)
    }

    /// [`BlobConfig::from_main`] with the SQLite options and `BLOB_STORAGE_PATH` read
    /// from the environment.
    pub fn from_env(config: &Config) -> Result<BlobConfig> {
        BlobConfig::from_main(
            config,
            &SqliteOptions::from_env()?,
            std::env::var("BLOB_STORAGE_PATH").ok().as_deref(),
        )
    }

    /// Sets the largest blob accepted.
    pub fn max_blob_bytes(mut self, bytes: u64) -> BlobConfig {
        self.max_blob_bytes = bytes;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> BlobConfig {
        self.shared.clock = clock;
        self
    }

    pub(crate) fn db_options(&self) -> DbOptions {
        let page = self.sqlite.page_size.unwrap_or(4096).max(512);
        DbOptions {
            // Blob writes are large: fold the log less often, at about 64 MiB of it
            // whatever the page size.
            checkpoint_pages: (64 << 20) / page,
            ..DbOptions::new(&self.shared, &self.sqlite)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_goes_beside_the_main_database_unless_configured() {
        let main = Config::new("sqlite:///var/chat/main.db");
        let sqlite = SqliteOptions::default();
        let beside = BlobConfig::from_main(&main, &sqlite, None).unwrap();
        assert_eq!(beside.path, PathBuf::from("var/chat/files.db"));
        let elsewhere = BlobConfig::from_main(&main, &sqlite, Some("/mnt/blobs/files.db")).unwrap();
        assert_eq!(elsewhere.path, PathBuf::from("/mnt/blobs/files.db"));
        assert!(BlobConfig::from_main(&main, &sqlite, Some(" ")).is_err());
    }

    #[test]
    fn the_main_store_settings_are_shared_not_copied_one_by_one() {
        let main = Config::new("chat.db").pool_size(9);
        let sqlite = SqliteOptions::default().fsync_every_commit(true);
        let blob = BlobConfig::from_main(&main, &sqlite, None).unwrap();
        let options = blob.db_options();
        assert_eq!(options.pool_size, 9);
        assert_eq!(options.pool_timeout, main.pool.timeout);
        assert!(options.sqlite.fsync_every_commit);
        assert_eq!(options.sqlite.mmap_size, 1 << 30);
        assert_eq!(
            BlobConfig::beside("main.db").path,
            PathBuf::from("files.db")
        );
    }

    #[test]
    fn the_log_is_folded_at_the_same_size_whatever_the_page_size() {
        let mut config = BlobConfig::new("files.db");
        assert_eq!(config.db_options().checkpoint_pages, 16_384);
        config.sqlite.page_size = Some(65_536);
        assert_eq!(config.db_options().checkpoint_pages, 1_024);
        config.sqlite.page_size = Some(16_384);
        assert_eq!(config.db_options().checkpoint_pages, 4_096);
    }
}
