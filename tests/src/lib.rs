//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chatstore::conformance::test_config;
use chatstore::embeddings::{EmbedError, Embedder};
use chatstore::{
    ChatStore, CollectionSpec, Config, Distance, ManualClock, Result, Store, UserStore,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::{SqliteOptions, SqliteStore};
use chatstore_vector::{HnswIndex, IndexConfig};

/// A SQLite database in a temporary directory, removed when dropped.
pub struct TempSqlite {
    dir: tempfile::TempDir,
}

impl TempSqlite {
    /// A fresh, empty location.
    pub fn new() -> TempSqlite {
        TempSqlite {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The directory holding the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("chatstore.db")
    }

    /// Opens the concrete store with `config` pointed at this location.
    pub fn open_sqlite(&self, config: Config) -> Result<SqliteStore> {
        self.open_sqlite_with(&SqliteOptions::default(), config)
    }

    /// [`TempSqlite::open_sqlite`] with SQLite options of the test's.
    pub fn open_sqlite_with(&self, options: &SqliteOptions, config: Config) -> Result<SqliteStore> {
        SqliteStore::open_with(config.database_url(self.path().to_string_lossy()), options)
    }
}

impl Default for TempSqlite {
    fn default() -> Self {
        TempSqlite::new()
    }
}

/// A main store, an attachment store and a vector index (snapshots in `vectors/`) side
/// by side in a temporary directory, tied together by a [`ChatStore`], with a manual
/// clock.
pub struct TempChat {
    /// The stores.
    pub chat: ChatStore<SqliteStore, SqliteBlobStore, HnswIndex>,
    /// The clock both stores read.
    pub clock: ManualClock,
    /// Where the files are.
    pub location: TempSqlite,
}

impl TempChat {
    /// Fresh stores.
    pub fn new() -> TempChat {
        TempChat::open(TempSqlite::new())
    }

    /// Opens the stores at `location` (again, if they exist), with a clock at
    /// [`chatstore::conformance::START`].
    pub fn open(location: TempSqlite) -> TempChat {
        TempChat::open_with_clock(location, test_config().1)
    }

    /// Opens the stores at `location` with `clock` (say, one a test moved on).
    pub fn open_with_clock(location: TempSqlite, clock: ManualClock) -> TempChat {
        let config = test_config().0.clock(Arc::new(clock.clone()));
        let store = location.open_sqlite(config).expect("main store opens");
        let blobs = SqliteBlobStore::open(
            BlobConfig::new(location.dir().join("files.db")).clock(Arc::new(clock.clone())),
        )
        .expect("blob store opens");
        let vectors = HnswIndex::new(IndexConfig::new(location.dir().join("vectors")))
            .expect("vector index opens");
        let chat = ChatStore::new(store, blobs, vectors).expect("stores tie together");
        TempChat {
            chat,
            clock,
            location,
        }
    }
}

impl Default for TempChat {
    fn default() -> Self {
        TempChat::new()
    }
}

/// The full stack: main store, attachment store and vector index.
pub type Chat = ChatStore<SqliteStore, SqliteBlobStore, HnswIndex>;

/// The full stack on `dir` as a host process opens it (system clock, fast password
/// hashing): `chatstore.db`, `files.db` and the vector snapshots in `vectors/`.
pub fn open_chat(dir: &Path) -> Chat {
    let config = Config::new(dir.join("chatstore.db").to_string_lossy())
        .password_params(chatstore::PasswordParams::fast_for_tests());
    let store = SqliteStore::open(config).expect("main store opens");
    let blobs = SqliteBlobStore::open(BlobConfig::new(dir.join("files.db"))).expect("blobs open");
    let vectors = HnswIndex::new(IndexConfig::new(dir.join("vectors"))).expect("index opens");
    ChatStore::new(store, blobs, vectors).expect("stores tie together")
}

/// The user `writer`, registered on first use: the crash and soak children write as it.
pub fn writer(store: &dyn Store) -> chatstore::User {
    match store.user_by_username("writer") {
        Ok(user) => user,
        Err(_) => store
            .create_user(&chatstore::NewUser::new(
                "writer",
                "writer@example.com",
                "password1",
            ))
            .expect("user"),
    }
}

/// The collection [`WordEmbedder`] fills.
pub fn word_collection() -> CollectionSpec {
    CollectionSpec::new(
        "rag_documents_test",
        WORD_DIMENSION as u32,
        Distance::Cosine,
    )
    .expect("valid spec")
}

/// Dimensions of [`WordEmbedder`]'s vectors.
pub const WORD_DIMENSION: usize = 64;

/// A test embedder: a bag of words hashed into 64 dimensions, so texts sharing words
/// are close. Counts the texts it is asked to embed.
#[derive(Debug, Default)]
pub struct WordEmbedder {
    /// Texts embedded so far.
    pub calls: AtomicUsize,
}

impl WordEmbedder {
    /// Texts embedded so far.
    pub fn embedded(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The vector for one text.
    pub fn vector(text: &str) -> Vec<f32> {
        let mut vector = vec![0.0; WORD_DIMENSION];
        vector[0] = 0.01; // never all zero
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
        {
            let hash = blake3::hash(word.to_lowercase().as_bytes());
            vector[hash.as_bytes()[0] as usize % WORD_DIMENSION] += 1.0;
        }
        vector
    }
}

impl Embedder for WordEmbedder {
    fn model(&self) -> &str {
        "words-v1"
    }

    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        self.calls.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts.iter().map(|t| WordEmbedder::vector(t)).collect())
    }

    fn count_tokens(&self, text: &str) -> Option<u32> {
        Some(text.split_whitespace().count() as u32)
    }
}

impl TempChat {
    /// Registers `name` (email `name@example.com`, password `password1`).
    pub fn register(&self, name: &str) -> chatstore::User {
        let new = chatstore::NewUser::new(name, &format!("{name}@example.com"), "password1");
        self.chat.store().create_user(&new).expect("user registers")
    }
}

/// A crash-test child's arguments, `TARGET SEED`: the path it works on, and a
/// pseudo-random generator seeded with SEED whose calls `random(n)` give `0..n`.
pub fn child_args(usage: &str) -> (PathBuf, impl FnMut(u64) -> u64) {
    let mut args = std::env::args().skip(1);
    let target = PathBuf::from(args.next().unwrap_or_else(|| panic!("usage: {usage}")));
    let mut seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    (target, random)
}

/// The line a crash-test child prints once its stores are open and it starts writing.
pub const READY: &str = "ready";

/// Starts a crash-test child (`binary TARGET SEED`), waits until it prints [`READY`]
/// (so it is never killed while it is still opening or migrating the store), lets it
/// run for a random time below `window` (chosen from `seed`), kills it with SIGKILL and
/// returns the other lines it printed: what it saw acknowledged.
pub fn run_and_kill(
    binary: &str,
    target: &Path,
    seed: u64,
    window: std::time::Duration,
) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    let mut child = Command::new(binary)
        .arg(target)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let (ready_tx, ready) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if line == READY {
                let _ = ready_tx.send(());
            } else {
                lines.push(line);
            }
        }
        lines
    });
    if ready
        .recv_timeout(std::time::Duration::from_secs(120))
        .is_err()
    {
        let _ = child.kill();
        let status = child.wait().expect("reaped");
        panic!("{binary} never became ready ({status})");
    }
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    state ^= state >> 29;
    let fraction = (state % 10_000) as f64 / 10_000.0;
    std::thread::sleep(window.mul_f64(fraction));
    child.kill().expect("kill");
    child.wait().expect("reaped");
    reader.join().expect("reader")
}

/// Starts a crash-test child (`binary DIR SEED`) that prints a line per step of its work
/// and `done` at the end, kills it (SIGKILL) once `stop` says yes to a line it printed,
/// and returns whether it printed `done` first.
pub fn run_until(binary: &str, dir: &Path, seed: u64, mut stop: impl FnMut(&str) -> bool) -> bool {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(binary)
        .arg(dir)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut finished = false;
    for line in BufReader::new(stdout)
        .lines()
        .map_while(std::result::Result::ok)
    {
        if line == "done" {
            finished = true;
            break;
        }
        if stop(&line) {
            break;
        }
    }
    child.kill().ok();
    child.wait().expect("reaped");
    finished
}

/// The main database file at `path` as a killed writer left it: it passes SQLite's
/// integrity check and its foreign keys hold. Returns how many messages it holds.
pub fn sound_messages(path: &Path) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("open after the kill");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(ok, "ok");
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign keys");
    assert_eq!(dangling, 0, "dangling references");
    conn.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
        .expect("count") as u64
}
