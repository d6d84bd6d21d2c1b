//! Finding and opening the store the global options (or the environment) name.

use std::path::{Path, PathBuf};

use chatstore::{BackendKind, ChatStore, Config, NoVectorIndex};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::{PgBlobStore, PgOptions, PgStore};
use chatstore_sqlite::{SqliteOptions, SqliteStore};

use crate::cli::Global;
use crate::error::{CliError, Result};

/// The main database's file name in a store directory.
pub const MAIN_FILE: &str = "chatstore.db";

/// The largest attachment a PostgreSQL store accepts when opened here.
const PG_MAX_BLOB_BYTES: u64 = 256 << 20;

/// Where the store is.
#[derive(Debug, Clone)]
pub enum Target {
    /// An embedded SQLite store: the main file and the attachment file.
    Sqlite {
        /// The settings, with `database_url` the main file.
        config: Config,
        /// The attachment file's settings.
        blobs: Box<BlobConfig>,
    },
    /// A PostgreSQL store.
    Postgres {
        /// The settings, with `database_url` the server.
        config: Config,
        /// The schema.
        options: PgOptions,
    },
}

impl Target {
    /// The store the options name: `--store DIR`, `--url` (with `--schema`), or else
    /// `DATABASE_URL` (with `CHATSTORE_PG_SCHEMA` and `BLOB_STORAGE_PATH`). The other
    /// settings (pool, timeouts, password cost) come from the environment as for a host.
    pub fn resolve(global: &Global) -> Result<Target> {
        let mut config = Config::from_env()?;
        let sqlite = SqliteOptions::from_env()?;
        let url = match (&global.store, &global.url) {
            (Some(dir), _) => {
                config.database_url = dir.join(MAIN_FILE).to_string_lossy().into_owned();
                let blobs = BlobConfig::from_main(&config, &sqlite, None)?;
                return Ok(Target::Sqlite {
                    config,
                    blobs: Box::new(blobs),
                });
            }
            (None, Some(url)) => url.clone(),
            (None, None) => match std::env::var("DATABASE_URL") {
                Ok(url) if !url.trim().is_empty() => url,
                _ => {
                    return Err(CliError::usage(
                        "no store given: pass --store DIR (SQLite) or --url postgresql://... , or set DATABASE_URL",
                    ));
                }
            },
        };
        config.database_url = url.clone();
        match BackendKind::of_url(&url)? {
            BackendKind::Postgres => {
                let mut options = PgOptions::from_env()?;
                if let Some(schema) = &global.schema {
                    options = options.schema(schema.clone());
                }
                options.validate()?;
                Ok(Target::Postgres { config, options })
            }
            _ => {
                let blob_path = if global.url.is_some() {
                    None
                } else {
                    std::env::var("BLOB_STORAGE_PATH").ok()
                };
                let blobs = BlobConfig::from_main(&config, &sqlite, blob_path.as_deref())?;
                Ok(Target::Sqlite {
                    config,
                    blobs: Box::new(blobs),
                })
            }
        }
    }

    /// The main SQLite file, for a SQLite store.
    pub fn main_file(&self) -> Option<PathBuf> {
        match self {
            Target::Sqlite { config, .. } => {
                chatstore_sqlite::database_path(&config.database_url).ok()
            }
            Target::Postgres { .. } => None,
        }
    }

    /// A short description: the files, or the server's schema.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite { blobs, .. } => format!(
                "{} and {}",
                self.main_file().unwrap_or_default().display(),
                blobs.path.display()
            ),
            Target::Postgres { options, .. } => format!(
                "PostgreSQL schema {}",
                options.schema.as_deref().unwrap_or("public")
            ),
        }
    }
}

/// An open store with its attachments (no vector index: commands never need one).
pub enum Opened {
    /// The SQLite store and `files.db`.
    Sqlite(Box<ChatStore<SqliteStore, SqliteBlobStore, NoVectorIndex>>),
    /// The PostgreSQL store and its attachments.
    Postgres(Box<ChatStore<PgStore, PgBlobStore, NoVectorIndex>>),
}

/// Runs an expression on the `ChatStore` inside an [`Opened`], whichever backend it is.
#[macro_export]
macro_rules! with_chat {
    ($opened:expr, $chat:ident => $body:expr) => {
        match $opened {
            $crate::open::Opened::Sqlite($chat) => $body,
            $crate::open::Opened::Postgres($chat) => $body,
        }
    };
}

/// How opening treats the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The store must exist; it is migrated as a host's open would, and the opening
    /// clean-ups run (the orphan sweep, interrupted documents).
    Existing,
    /// The store must exist; nothing is changed on open: no migration, no sweeps (for
    /// checks, dry runs, `migrate`).
    Inspect,
    /// The store is created if missing (`init`).
    Create,
}

/// Opens the store at `target`.
pub fn open(target: &Target, mode: Mode) -> Result<Opened> {
    match target {
        Target::Sqlite { config, blobs } => {
            let main = chatstore_sqlite::database_path(&config.database_url)?;
            if mode == Mode::Create {
                if let Some(dir) = main.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        CliError::new(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            } else {
                require_file(&main)?;
            }
            let options = SqliteOptions::from_env()?.skip_migrations(mode == Mode::Inspect);
            let store = SqliteStore::open_with(config.clone(), &options)?;
            let files = SqliteBlobStore::open(BlobConfig::clone(blobs))?;
            Ok(Opened::Sqlite(Box::new(assemble(store, files, mode)?)))
        }
        Target::Postgres { config, options } => {
            let options = options.clone().skip_migrations(mode == Mode::Inspect);
            let store = PgStore::open_with(config.clone(), &options)?;
            if mode == Mode::Inspect && store.schema_version().unwrap_or(0) == 0 {
                return Err(CliError::new(format!(
                    "no chatstore store in schema {}: run `chatstore init` first",
                    store.schema()
                )));
            }
            let files = store.blobs(PG_MAX_BLOB_BYTES);
            Ok(Opened::Postgres(Box::new(assemble(store, files, mode)?)))
        }
    }
}

/// Fails unless the main file of a SQLite store exists (commands other than `init`
/// never create a store).
pub fn require_file(main: &Path) -> Result<()> {
    if main.is_file() {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "no store at {}: run `chatstore init` to create one, or pass the right --store",
            main.display()
        )))
    }
}

fn assemble<S: chatstore::Store, B: chatstore::BlobStore>(
    store: S,
    files: B,
    mode: Mode,
) -> Result<ChatStore<S, B, NoVectorIndex>> {
    Ok(match mode {
        Mode::Inspect => ChatStore::assemble(store, files, NoVectorIndex),
        _ => ChatStore::new(store, files, NoVectorIndex)?,
    })
}
