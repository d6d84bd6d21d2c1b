//! Fixtures the fuzz targets share: a real SQLite store opened once per process, and a
//! vector index snapshot with the small in-memory embedding source it was saved from.
//!
//! Everything goes through the crates' public API only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chatstore::{
    ChunkId, CollectionSpec, Config, ConversationId, ConversationQuery, ConversationStore,
    Distance, DocumentId, DocumentQuery, DocumentStore, EmbeddingSource, Error, MessageId,
    MessageStore, NewConversation, NewDocument, NewMessage, NewUser, Order, PasswordParams, Result,
    UserId, UserQuery, UserStore, VectorIndex, VectorRecord, Visibility,
};
use chatstore_sqlite::SqliteStore;
use chatstore_vector::{BuildParams, HnswIndex, IndexConfig};

/// A scratch directory for one fuzzing process: in memory (`/dev/shm`) when there is
/// one, so the store's and the index's writes cost no disk flushes.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = tempfile::Builder::new().prefix(prefix).to_owned();
    let dir = if shm.is_dir() {
        builder.tempdir_in(shm)
    } else {
        builder.tempdir()
    };
    dir.expect("cannot create a scratch directory")
}

/// A store holding one user's conversations, messages and documents, and the full
/// listings of each (one page of up to 1000), to compare pages against.
pub struct Chat {
    pub store: SqliteStore,
    pub user: UserId,
    pub conversation: ConversationId,
    pub messages: Vec<MessageId>,
    pub all_users: Vec<UserId>,
    pub all_conversations: Vec<ConversationId>,
    pub all_documents: Vec<DocumentId>,
    _dir: tempfile::TempDir,
}

/// Message texts: plain words, accents, other scripts, digits, FTS5 punctuation.
pub const MESSAGES: [&str; 6] = [
    "Who is eligible for a joint account?",
    "Joint accounts need two holders: both must sign.",
    "Café déjà vu — naïve résumé",
    "Налоговый вычет 2024 года",
    "NEAR AND OR NOT \"quoted\" col:umn ^start prefix* (group)",
    "日本語のテキスト 123 ½ ²",
];

/// The store, opened on first use and kept for the whole process.
pub fn chat() -> &'static Chat {
    static CHAT: OnceLock<Chat> = OnceLock::new();
    CHAT.get_or_init(|| open_chat().expect("cannot set up the store"))
}

fn open_chat() -> Result<Chat> {
    let dir = scratch_dir("chatstore-fuzz-");
    let path = dir.path().join("chat.db");
    let config =
        Config::new(path.to_string_lossy()).password_params(PasswordParams::fast_for_tests());
    let store = SqliteStore::open(config)?;
    let ada = store.create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))?;
    store.create_user(&NewUser::new("bob", "bob@example.com", "correct horse"))?;
    store.create_user(&NewUser::new("cyd", "cyd@example.com", "correct horse"))?;
    let mut conversation = None;
    for title in ["Eligibility", "Taxes", "Misc"] {
        let chat = store.create_conversation(ada.id, &NewConversation::titled(title))?;
        conversation.get_or_insert(chat.id);
    }
    let conversation = conversation.expect("three conversations were made");
    let mut messages = Vec::new();
    for (i, text) in MESSAGES.iter().enumerate() {
        let message = if i % 2 == 0 {
            NewMessage::user(*text)
        } else {
            NewMessage::assistant(*text)
        };
        messages.push(store.append_message(ada.id, conversation, &message)?.id);
    }
    for name in ["a.pdf", "b.txt", "c.md"] {
        store.create_document(ada.id, &NewDocument::new(name, &format!("/docs/{name}")))?;
    }
    let all_users = store
        .list_users(&UserQuery {
            limit: 1000,
            ..UserQuery::default()
        })?
        .items
        .iter()
        .map(|u| u.id)
        .collect();
    let all_conversations = store
        .list_conversations(
            ada.id,
            &ConversationQuery {
                visibility: Visibility::All,
                limit: 1000,
                ..ConversationQuery::default()
            },
        )?
        .items
        .iter()
        .map(|c| c.id)
        .collect();
    let all_documents = store
        .list_documents(
            ada.id,
            &DocumentQuery {
                limit: 1000,
                ..DocumentQuery::default()
            },
        )?
        .items
        .iter()
        .map(|d| d.id)
        .collect();
    Ok(Chat {
        store,
        user: ada.id,
        conversation,
        messages,
        all_users,
        all_conversations,
        all_documents,
        _dir: dir,
    })
}

impl Chat {
    /// The conversation's message ids in `order`.
    pub fn messages_in(&self, order: Order) -> Vec<MessageId> {
        let mut ids = self.messages.clone();
        if order == Order::Desc {
            ids.reverse();
        }
        ids
    }
}

/// Asserts that `page` is a run of consecutive items of `all` (what a keyset page after
/// any position is), at most `limit` long.
pub fn assert_contiguous<T: PartialEq + std::fmt::Debug>(page: &[T], all: &[T], limit: u32) {
    assert!(
        page.len() <= limit as usize,
        "{} items on a page of {limit}",
        page.len()
    );
    if let Some(first) = page.first() {
        let start = all
            .iter()
            .position(|x| x == first)
            .expect("an item the listing does not have");
        assert_eq!(
            page,
            &all[start..start + page.len()],
            "a page that skips or reorders items"
        );
    }
}

/// Asserts the only error a listing or search may give for bad input: validation.
pub fn assert_validation<T: std::fmt::Debug>(result: &Result<T>, what: &str) {
    if let Err(error) = result {
        assert!(
            matches!(error, Error::Validation { .. }),
            "{what}: expected Ok or Error::Validation, got {error:?}"
        );
    }
}

/// A chatstore id of `kind_tag` (its lowest hex digit) numbered `n`, as fixed text, so
/// that the snapshot seed stays valid across processes.
fn fixed_id(n: u64, kind_tag: u8) -> String {
    format!("01900000-0000-7000-8000-{n:011x}{kind_tag:x}")
}

/// The collection the snapshot target syncs.
pub fn spec() -> CollectionSpec {
    CollectionSpec::new("docs", DIMENSION as u32, Distance::L2).expect("a valid spec")
}

/// Vector length of the fixture collection.
pub const DIMENSION: usize = 4;
/// Chunks in the fixture source.
pub const CHUNKS: usize = 40;

/// An embedding source held in memory: chunk → (version, record).
pub struct MemorySource {
    pub records: BTreeMap<ChunkId, (u64, VectorRecord)>,
}

impl EmbeddingSource for MemorySource {
    fn embedding_versions(&self, _collection: &str) -> Result<Vec<(ChunkId, u64)>> {
        Ok(self.records.iter().map(|(c, (v, _))| (*c, *v)).collect())
    }

    fn load_embeddings(&self, _collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        Ok(chunks
            .iter()
            .filter_map(|c| self.records.get(c).map(|(_, r)| r.clone()))
            .collect())
    }
}

/// The fixture source: [`CHUNKS`] chunks of 5 documents (two global, three of one
/// user), deterministic ids and vectors, versions 1 to [`CHUNKS`].
pub fn source() -> &'static MemorySource {
    static SOURCE: OnceLock<MemorySource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let owner: UserId = fixed_id(1, 1).parse().expect("a user id");
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut unit = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f32 / 1000.0 - 1.0
        };
        let records = (0..CHUNKS)
            .map(|i| {
                let document: DocumentId =
                    fixed_id(i as u64 % 5, 5).parse().expect("a document id");
                let chunk: ChunkId = fixed_id(i as u64, 6).parse().expect("a chunk id");
                let record = VectorRecord {
                    chunk,
                    document,
                    owner: (i % 5 >= 2).then_some(owner),
                    vector: (0..DIMENSION).map(|_| unit()).collect(),
                };
                (chunk, (i as u64 + 1, record))
            })
            .collect();
        MemorySource { records }
    })
}

/// How the snapshot target's index is set up: a graph from 16 vectors on, built in the
/// calling thread.
pub fn index_config(directory: &Path) -> IndexConfig {
    IndexConfig {
        build: BuildParams {
            m: 4,
            ef_construction: 32,
        },
        graph_min: 16,
        delta_max: 8,
        background_rebuild: false,
        ..IndexConfig::new(directory)
    }
}

/// The snapshot file of the fixture collection in `directory`.
pub fn snapshot_path(directory: &Path) -> PathBuf {
    directory.join("docs.csvx")
}

/// Real snapshots of the fixture source, saved by the index: one whose vectors are in
/// a graph (with three replaced vectors left as tombstones), and one with no graph
/// (every vector waiting outside it).
pub fn real_snapshots() -> Vec<Vec<u8>> {
    let dir = scratch_dir("chatstore-fuzz-seed-");
    let mut out = Vec::new();
    for graph_min in [16, 1000] {
        let config = IndexConfig {
            graph_min,
            ..index_config(dir.path())
        };
        let _ = std::fs::remove_file(snapshot_path(dir.path()));
        let index = HnswIndex::new(config).expect("an index");
        index
            .sync(&spec(), source())
            .expect("a sync from the source");
        let replaced: Vec<VectorRecord> = source()
            .records
            .values()
            .take(3)
            .map(|(_, r)| r.clone())
            .collect();
        index.upsert("docs", &replaced).expect("an upsert");
        index.save().expect("a save");
        out.push(std::fs::read(snapshot_path(dir.path())).expect("the saved snapshot"));
    }
    out
}
