//! Stores tied together: the guarantees a [`ChatStore`] gives whatever [`Store`],
//! [`BlobStore`] and [`VectorIndex`] it ties together.
//!
//! A combination of backends implements [`ChatBackend`] for throwaway places to keep
//! the three and expands [`chat_conformance_suite!`](crate::chat_conformance_suite)
//! once; every check then runs as its own `#[test]`:
//!
//! ```ignore
//! struct TempChat(tempfile::TempDir);
//!
//! impl chatstore::conformance::ChatBackend for TempChat {
//!     type Store = SqliteStore;
//!     type Blobs = SqliteBlobStore;
//!     type Vectors = HnswIndex;
//!
//!     fn open(
//!         &self,
//!         config: chatstore::Config,
//!     ) -> chatstore::Result<(SqliteStore, SqliteBlobStore, HnswIndex)> {
//!         let dir = self.0.path();
//!         let blobs = BlobConfig::new(dir.join("files.db")).clock(config.clock.clone());
//!         let main = config.database_url(dir.join("chatstore.db").to_string_lossy());
//!         Ok((
//!             SqliteStore::open(main)?,
//!             SqliteBlobStore::open(blobs)?,
//!             HnswIndex::new(IndexConfig::new(dir.join("vectors")))?,
//!         ))
//!     }
//! }
//!
//! chatstore::chat_conformance_suite!(TempChat(tempfile::tempdir().unwrap()));
//! ```
//!
//! The checks ingest documents with a small deterministic embedder of their own
//! (letter counts) into a Euclidean collection of 27 dimensions, and store attachments
//! of at most a few hundred KiB. They move the configured [`ManualClock`] to age blobs
//! and documents past [`ORPHAN_GRACE`].

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::blob::{bytes, hash};
use super::support::{admin, conversation, days, document, global_document, secs, user};
use super::test_config;
use crate::NewConversation;
use crate::chunking::{ChunkingOptions, TextPart};
use crate::embeddings::{EmbedError, Embedder};
use crate::{
    BlobInfo, BlobKey, BlobRead, BlobStats, BlobStore, ChatStore, Chunk, ChunkId, Clock,
    CollectionInfo, CollectionSpec, Config, ConflictKind, ConversationStore, Distance, DocumentId,
    DocumentScope, DocumentStore, EmbeddingSource, Error, FileMeta, Ingested, ManualClock,
    MessageId, MessageMetadata, MessageStore, NewAttachment, NewChunk, NewMessage, ORPHAN_GRACE,
    ProcessingStatus, REMOVALS_KEPT, Result, Retrieval, Store, SyncReport, SystemStore, Timestamp,
    UserId, UserStore, VectorFilter, VectorHit, VectorIndex, VectorRecord,
};

/// A combination of backends under test: opens a store, a blob store and a vector
/// index on places that belong to this value.
pub trait ChatBackend {
    /// The main store.
    type Store: Store;
    /// The attachment store.
    type Blobs: BlobStore;
    /// The vector index.
    type Vectors: VectorIndex;

    /// Opens the three with `config` (whose location the backend replaces with its
    /// own). The blob store must stamp blobs with `config.clock`, as the store does:
    /// the orphan sweep compares the two. Opening again after the earlier three are
    /// dropped reaches the same data, and the index reaches what an earlier one saved
    /// ([`VectorIndex::save`]).
    fn open(&self, config: Config) -> Result<(Self::Store, Self::Blobs, Self::Vectors)>;
}

/// The stores a backend opens, tied together.
type Chat<C> =
    ChatStore<<C as ChatBackend>::Store, <C as ChatBackend>::Blobs, <C as ChatBackend>::Vectors>;

/// The collection every check ingests into.
const COLLECTION: &str = "chat_letters";

/// The length of [`Letters`]' vectors: a count for each letter a-z, and a constant.
const DIMENSION: usize = 27;

/// Chunks of at most 200 characters: each page of [`pages`] is one chunk.
const OPTIONS: ChunkingOptions = ChunkingOptions {
    size: 200,
    overlap: 20,
};

/// The spec of [`COLLECTION`].
fn collection() -> CollectionSpec {
    CollectionSpec::new(COLLECTION, DIMENSION as u32, Distance::L2).expect("a valid spec")
}

/// Opens the backend's three parts with a configuration reading `clock`.
fn parts<C: ChatBackend>(backend: &C, clock: &ManualClock) -> (C::Store, C::Blobs, C::Vectors) {
    let config = test_config().0.clock(Arc::new(clock.clone()));
    backend.open(config).expect("the backend opens")
}

/// Opens the backend's stores tied together, with a configuration reading `clock`.
fn open<C: ChatBackend>(backend: &C, clock: &ManualClock) -> Chat<C> {
    let (store, blobs, vectors) = parts(backend, clock);
    ChatStore::new(store, blobs, vectors).expect("ChatStore::new ties the three together")
}

/// Opens the backend's stores with a clock stopped at [`super::START`].
fn fresh<C: ChatBackend>(backend: &C) -> (Chat<C>, ManualClock) {
    let clock = test_config().1;
    (open(backend, &clock), clock)
}

/// A small deterministic embedder: a text becomes the counts of its letters a-z (case
/// folded) and a constant 1. It counts the texts it is asked to embed, and counts
/// words as tokens.
#[derive(Default)]
struct Letters {
    embedded: AtomicUsize,
}

impl Letters {
    /// The vector of one text.
    fn vector(text: &str) -> Vec<f32> {
        let mut vector = vec![0.0; DIMENSION];
        vector[DIMENSION - 1] = 1.0;
        for letter in text.chars().map(|c| c.to_ascii_lowercase()) {
            if letter.is_ascii_lowercase() {
                vector[usize::from(letter as u8 - b'a')] += 1.0;
            }
        }
        vector
    }

    /// The number of texts embedded so far.
    fn embedded(&self) -> usize {
        self.embedded.load(Ordering::SeqCst)
    }
}

impl Embedder for Letters {
    fn model(&self) -> &str {
        "letters-v1"
    }

    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        self.embedded.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts.iter().map(|t| Letters::vector(t)).collect())
    }

    fn count_tokens(&self, text: &str) -> Option<u32> {
        Some(text.split_whitespace().count() as u32)
    }
}

/// An embedder that fails in a chosen way.
#[derive(Debug, Clone, Copy)]
enum Broken {
    /// It reports an error.
    Fails,
    /// One vector fewer than texts.
    WrongCount,
    /// Vectors of the wrong length.
    WrongDimension,
    /// A NaN component.
    NotFinite,
}

impl Embedder for Broken {
    /// [`Letters`]' model, so that a broken vector that got into the cache would be
    /// used by a later ingestion.
    fn model(&self) -> &str {
        "letters-v1"
    }

    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, EmbedError> {
        let good = texts.iter().map(|t| Letters::vector(t));
        match self {
            Broken::Fails => Err("the model server answered 503".into()),
            Broken::WrongCount => Ok(good.skip(1).collect()),
            Broken::WrongDimension => Ok(texts.iter().map(|_| vec![1.0; 3]).collect()),
            Broken::NotFinite => Ok(good
                .map(|mut v| {
                    v[4] = f32::NAN;
                    v
                })
                .collect()),
        }
    }
}

/// The page texts of a document about `topic`: three pages of under 200 characters,
/// each one chunk, with letter counts of their own.
fn texts(topic: &str) -> [String; 3] {
    [
        format!("{topic}: joint accounts need two verified adults."),
        format!("{topic}: savings pay interest monthly on the balance held."),
        format!("{topic}: lost cards must be reported within two days."),
    ]
}

/// [`texts`] as numbered pages.
fn pages(texts: &[String]) -> Vec<TextPart> {
    (1..)
        .zip(texts)
        .map(|(n, text)| TextPart::page(text.as_str(), n))
        .collect()
}

/// Ingests `text` into [`COLLECTION`].
fn ingest<S: Store, B: BlobStore, V: VectorIndex>(
    chat: &ChatStore<S, B, V>,
    user: UserId,
    document: DocumentId,
    text: &[String],
    embedder: &dyn Embedder,
) -> Result<Ingested> {
    chat.ingest_document(
        user,
        document,
        &collection(),
        &pages(text),
        embedder,
        &OPTIONS,
    )
}

/// Ingests a document about `topic` that must succeed; returns its chunks.
fn ingested<S: Store, B: BlobStore, V: VectorIndex>(
    chat: &ChatStore<S, B, V>,
    user: UserId,
    document: DocumentId,
    topic: &str,
) -> Vec<Chunk> {
    ingest(chat, user, document, &texts(topic), &Letters::default())
        .expect("the document is ingested")
        .chunks
}

/// The ids of `chunks`.
fn ids(chunks: &[Chunk]) -> Vec<ChunkId> {
    chunks.iter().map(|c| c.id).collect()
}

/// The index's records of these chunks in [`COLLECTION`], sorted by chunk.
fn indexed(vectors: &dyn VectorIndex, chunks: &[ChunkId]) -> Vec<VectorRecord> {
    let mut found = vectors.get(COLLECTION, chunks).expect("get");
    found.sort_by_key(|r| r.chunk);
    found
}

/// The records the index should hold for `chunks` of a document owned by `owner` (`None`:
/// a global document), sorted by chunk.
fn records_of(chunks: &[Chunk], owner: Option<UserId>) -> Vec<VectorRecord> {
    let mut records: Vec<VectorRecord> = chunks
        .iter()
        .map(|c| VectorRecord {
            chunk: c.id,
            document: c.document_id,
            owner,
            vector: Letters::vector(&c.content),
        })
        .collect();
    records.sort_by_key(|r| r.chunk);
    records
}

/// Every chunk a search of the index admits under `filter` (a search for more chunks
/// than any check stores).
fn searchable(vectors: &dyn VectorIndex, filter: &VectorFilter) -> BTreeSet<ChunkId> {
    let query = Letters::vector("any question at all");
    let hits: Vec<VectorHit> = vectors
        .search(COLLECTION, &query, 1000, filter)
        .expect("the search runs");
    hits.iter().map(|h| h.chunk).collect()
}

/// Every chunk retrieval returns under `filter`, checking that each comes with its
/// completed document and that the best come first.
fn retrieved<S: Store, B: BlobStore, V: VectorIndex>(
    chat: &ChatStore<S, B, V>,
    filter: &VectorFilter,
) -> BTreeSet<ChunkId> {
    let query = Letters::vector("any question at all");
    let found = chat
        .retrieve_by_vector(COLLECTION, &query, 1000, filter)
        .expect("retrieval runs");
    assert_retrievals(&found);
    found.iter().map(|r| r.chunk.id).collect()
}

/// Asserts that retrievals come best first, each chunk with its own completed document.
fn assert_retrievals(found: &[Retrieval]) {
    assert!(
        found.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    for r in found {
        assert_eq!(
            r.chunk.document_id, r.document.id,
            "the chunk's own document"
        );
        assert_eq!(r.document.status, ProcessingStatus::Completed);
    }
}

/// The set of these chunk lists' ids.
fn set(chunks: &[&[Chunk]]) -> BTreeSet<ChunkId> {
    chunks.iter().flat_map(|c| ids(c)).collect()
}

/// Reads a stream to its end.
fn read_all(mut reader: impl Read) -> Vec<u8> {
    let mut data = Vec::new();
    reader
        .read_to_end(&mut data)
        .expect("the stream reads to its end");
    data
}

/// The blob store's totals.
fn stats(blobs: &dyn BlobStore) -> BlobStats {
    blobs.stats().expect("stats")
}

/// The keys of a message's blobs.
fn keys_of(blobs: &dyn BlobStore, message: MessageId) -> Vec<BlobKey> {
    blobs
        .list(message)
        .expect("list")
        .into_iter()
        .map(|info| info.key)
        .collect()
}

/// A file and its thumbnail, made from `label`.
fn photo(label: &str) -> NewAttachment {
    NewAttachment::new(
        &format!("{label}.png"),
        "image/png",
        bytes(label, 2000 + label.len()),
    )
    .with_thumbnail(bytes(&format!("{label} thumbnail"), 100))
}

/// Appends a user message with one [`photo`] that must be accepted.
fn with_photo<S: Store, B: BlobStore, V: VectorIndex>(
    chat: &ChatStore<S, B, V>,
    user: UserId,
    conversation: crate::ConversationId,
    label: &str,
) -> crate::Message {
    chat.append_with_attachments(
        user,
        conversation,
        &NewMessage::user(label),
        vec![photo(label)],
    )
    .expect("a message with a photo is appended")
}

/// Asserts that file 0 of `message` holds the [`photo`] made from `label`, read through
/// `user` by every way of reading it.
fn assert_photo<S: Store, B: BlobStore, V: VectorIndex>(
    chat: &ChatStore<S, B, V>,
    user: UserId,
    message: MessageId,
    label: &str,
) {
    let data = bytes(label, 2000 + label.len());
    let (meta, read) = chat
        .message_file(user, message, 0)
        .unwrap_or_else(|e| panic!("{label}: the file reads: {e:?}"));
    assert_eq!(meta.hash, Some(hash(&data)), "{label}");
    assert!(read == data, "{label}: the file's bytes");
    let (_, thumbnail) = chat
        .message_thumbnail(user, message, 0)
        .unwrap_or_else(|e| panic!("{label}: the thumbnail reads: {e:?}"));
    assert!(
        thumbnail == bytes(&format!("{label} thumbnail"), 100),
        "{label}: the thumbnail's bytes"
    );
    let (_, stream) = chat
        .open_message_file(user, message, 0)
        .unwrap_or_else(|e| panic!("{label}: the file opens: {e:?}"));
    assert!(read_all(stream) == data, "{label}: the streamed bytes");
}

/// What reading file `index` of a message gives, without the bytes.
fn file_meta<S: Store, B: BlobStore, V: VectorIndex>(
    chat: &ChatStore<S, B, V>,
    user: UserId,
    message: MessageId,
    index: u32,
) -> [Result<FileMeta>; 3] {
    [
        chat.message_file(user, message, index).map(|(m, _)| m),
        chat.message_thumbnail(user, message, index).map(|(m, _)| m),
        chat.open_message_file(user, message, index).map(|(m, _)| m),
    ]
}

/// Attached files come back byte-exact with the metadata the message records (name,
/// type, size, thumbnail, blake3 hash): read whole, streamed, and as thumbnails, from
/// bytes in memory and from a stream alike. Their blobs are stored under the message's
/// keys; files and thumbnails the message does not have are not found.
pub fn chat_attachments_are_stored_and_read_back<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let ada = user(s, "ada");
    let talk = conversation(s, ada.id, "files");
    let cat = bytes("cat", 40_000);
    let cat_thumbnail = bytes("cat thumbnail", 300);
    let pdf = bytes("pdf", 120_001);
    let clip = bytes("clip", 300_000);
    let message = chat
        .append_with_attachments(
            ada.id,
            talk.id,
            &NewMessage::user("three files"),
            vec![
                NewAttachment::new("cat.png", "image/png", cat.clone())
                    .with_thumbnail(cat_thumbnail.clone()),
                NewAttachment::new("report.pdf", "application/pdf", pdf.clone()),
                NewAttachment::stream(
                    "clip.mp4",
                    "video/mp4",
                    clip.len() as u64,
                    Box::new(io::Cursor::new(clip.clone())),
                )
                .with_thumbnail(b"frame".to_vec()),
            ],
        )
        .expect("append with attachments");
    assert_eq!(message.content, "three files");
    let expected = [
        ("cat.png", "image/png", &cat, true),
        ("report.pdf", "application/pdf", &pdf, false),
        ("clip.mp4", "video/mp4", &clip, true),
    ];
    assert_eq!(message.files.len(), expected.len());
    for (index, (file, (name, mime, data, thumbnail))) in
        (0u32..).zip(message.files.iter().zip(expected))
    {
        assert_eq!(
            (
                file.name.as_str(),
                file.mime_type.as_str(),
                file.size,
                file.has_thumbnail
            ),
            (name, mime, data.len() as u64, thumbnail),
            "file {index}"
        );
        assert_eq!(file.hash, Some(hash(data)), "file {index}: its blake3 hash");
        assert!(!file.is_legacy(), "file {index}: no bytes inline");
        let (meta, read) = chat
            .message_file(ada.id, message.id, index)
            .expect("the file reads");
        assert_eq!(meta, *file, "file {index}");
        assert!(read == *data, "file {index}: byte-exact");
        let (meta, stream) = chat
            .open_message_file(ada.id, message.id, index)
            .expect("the file opens");
        assert_eq!(meta, *file, "file {index}");
        assert!(
            read_all(stream) == *data,
            "file {index}: streamed byte-exact"
        );
        let info = chat
            .blobs()
            .info(&BlobKey::file(message.id, index))
            .expect("info");
        assert_eq!(
            info,
            Some(BlobInfo {
                key: BlobKey::file(message.id, index),
                size: data.len() as u64,
                hash: hash(data),
            }),
            "file {index}: stored under the message's key"
        );
    }
    assert_eq!(
        chat.message_thumbnail(ada.id, message.id, 0)
            .expect("thumbnail")
            .1,
        cat_thumbnail
    );
    assert_eq!(
        chat.message_thumbnail(ada.id, message.id, 2)
            .expect("thumbnail")
            .1,
        b"frame"
    );
    assert_err!(
        chat.message_thumbnail(ada.id, message.id, 1),
        Error::NotFound { .. },
        "a file without a thumbnail"
    );
    for read in file_meta(&chat, ada.id, message.id, 3) {
        assert_err!(read, Error::NotFound { .. }, "a fourth file");
    }
    assert_eq!(
        s.message(ada.id, message.id)
            .expect("the message reads")
            .files,
        message.files,
        "the stored message names the files"
    );
    assert_eq!(
        keys_of(chat.blobs(), message.id),
        vec![
            BlobKey::file(message.id, 0),
            BlobKey::thumbnail(message.id, 0),
            BlobKey::file(message.id, 1),
            BlobKey::file(message.id, 2),
            BlobKey::thumbnail(message.id, 2),
        ]
    );
    let plain = chat
        .append_with_attachments(ada.id, talk.id, &NewMessage::user("no files"), vec![])
        .expect("a message without attachments");
    assert!(plain.files.is_empty());
    assert!(keys_of(chat.blobs(), plain.id).is_empty());
    assert_eq!(stats(chat.blobs()).keys, 5);
}

/// Attachments are read only through their owner: another user's reads of them are
/// not found, and appending with attachments to another user's conversation is not
/// found and stores no blob.
pub fn chat_attachments_are_read_only_through_their_owner<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, eve) = (user(s, "ada"), user(s, "eve"));
    let talk = conversation(s, ada.id, "secret");
    let message = with_photo(&chat, ada.id, talk.id, "secret");
    for read in file_meta(&chat, eve.id, message.id, 0) {
        assert_err!(read, Error::NotFound { .. }, "eve reading ada's file");
    }
    let before = stats(chat.blobs());
    assert_err!(
        chat.append_with_attachments(
            eve.id,
            talk.id,
            &NewMessage::user("into ada's"),
            vec![photo("intruder")],
        ),
        Error::NotFound { .. }
    );
    assert_eq!(stats(chat.blobs()), before, "nothing stored for eve");
    let hers = conversation(s, eve.id, "own");
    let own = with_photo(&chat, eve.id, hers.id, "eve's own");
    assert_photo(&chat, eve.id, own.id, "eve's own");
    assert_photo(&chat, ada.id, message.id, "secret");
    assert_eq!(
        s.conversation(ada.id, talk.id)
            .expect("conversation")
            .message_count,
        1
    );
}

/// An append that is refused leaves no blob behind and no message: refused before the
/// blobs are stored (the conversation archived, closed or deleted; a bad file name; an
/// id chosen by the caller; too many files) or after (blank content, a parent from
/// elsewhere, a stream shorter than announced after a first file was stored).
pub fn chat_a_refused_append_leaves_nothing_behind<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let ada = user(s, "ada");
    let talk = conversation(s, ada.id, "files");
    let other = conversation(s, ada.id, "other");
    let kept = with_photo(&chat, ada.id, talk.id, "kept");
    let elsewhere = s
        .append_message(ada.id, other.id, &NewMessage::user("elsewhere"))
        .expect("append");
    let before = stats(chat.blobs());
    let unchanged = |what: &str| {
        assert_eq!(stats(chat.blobs()), before, "{what}: no blob left behind");
        assert_eq!(
            chat.blobs()
                .messages_with_blobs(Timestamp::MAX, None, 100)
                .expect("messages with blobs"),
            vec![kept.id],
            "{what}"
        );
        let now = s.conversation(ada.id, talk.id).expect("conversation");
        assert_eq!(now.message_count, 1, "{what}: no message");
        assert_photo(&chat, ada.id, kept.id, "kept");
    };
    let append = |message: &NewMessage, attachments: Vec<NewAttachment>| {
        chat.append_with_attachments(ada.id, talk.id, message, attachments)
    };
    let invalid_state = |result: Result<crate::Message>, what: &str| {
        assert_err!(
            result,
            Error::Conflict {
                kind: ConflictKind::InvalidState,
                ..
            },
            "{what}"
        );
        unchanged(what);
    };

    s.archive_conversation(ada.id, talk.id).expect("archive");
    invalid_state(
        append(&NewMessage::user("late"), vec![photo("a")]),
        "archived",
    );
    s.unarchive_conversation(ada.id, talk.id)
        .expect("unarchive");
    s.close_conversation(ada.id, talk.id).expect("close");
    invalid_state(
        append(&NewMessage::user("late"), vec![photo("b")]),
        "closed",
    );
    s.reopen_conversation(ada.id, talk.id).expect("reopen");
    s.delete_conversation(ada.id, talk.id).expect("delete");
    invalid_state(
        append(&NewMessage::user("late"), vec![photo("c")]),
        "deleted",
    );
    s.restore_conversation(ada.id, talk.id).expect("restore");

    let blank_name = NewAttachment::new(" ", "text/plain", b"x".to_vec());
    assert_err!(
        append(&NewMessage::user("x"), vec![photo("d"), blank_name]),
        Error::Validation { .. }
    );
    unchanged("a blank file name");
    let mut chosen = NewMessage::user("x");
    chosen.id = Some(MessageId::reserve(ada.id));
    assert_err!(
        append(&chosen, vec![photo("e")]),
        Error::Validation { field: "id", .. }
    );
    unchanged("an id chosen by the caller");
    let many: Vec<NewAttachment> = (0..33).map(|i| photo(&format!("many {i}"))).collect();
    assert_err!(
        append(&NewMessage::user("x"), many),
        Error::Validation { .. }
    );
    unchanged("too many files");
    assert_err!(
        append(&NewMessage::user("   "), vec![photo("f"), photo("g")]),
        Error::Validation {
            field: "content",
            ..
        }
    );
    unchanged("blank content");
    assert_err!(
        append(
            &NewMessage::user("reply").reply_to(elsewhere.id),
            vec![photo("h")]
        ),
        Error::NotFound { .. }
    );
    unchanged("a parent in another conversation");
    let short = NewAttachment::stream(
        "short.bin",
        "application/octet-stream",
        1000,
        Box::new(io::Cursor::new(vec![7u8; 10])),
    );
    assert_err!(
        append(&NewMessage::user("short"), vec![photo("i"), short]),
        Error::Validation { .. }
    );
    unchanged("a short stream");
    let next = with_photo(&chat, ada.id, talk.id, "next");
    assert_photo(&chat, ada.id, next.id, "next");
}

/// Purging a conversation (one, or every one deleted before a cut-off) removes its
/// messages and then their attachments, and reports the messages that had files; a
/// soft delete keeps them, and other conversations' and users' attachments stay.
pub fn chat_purging_conversations_removes_their_attachments<C: ChatBackend>(backend: &C) {
    let (chat, clock) = fresh(backend);
    let s = chat.store();
    let (ada, bob) = (user(s, "ada"), user(s, "bob"));
    let (first, second, third) = (
        conversation(s, ada.id, "first"),
        conversation(s, ada.id, "second"),
        conversation(s, ada.id, "third"),
    );
    let bobs = conversation(s, bob.id, "bob's");
    let one = with_photo(&chat, ada.id, first.id, "one");
    s.append_message(ada.id, first.id, &NewMessage::assistant("no file"))
        .expect("append");
    let two = with_photo(&chat, ada.id, first.id, "two");
    let three = with_photo(&chat, ada.id, second.id, "three");
    let four = with_photo(&chat, ada.id, third.id, "four");
    let his = with_photo(&chat, bob.id, bobs.id, "his");
    assert_eq!(stats(chat.blobs()).keys, 10);

    s.delete_conversation(ada.id, first.id).expect("delete");
    assert_eq!(
        stats(chat.blobs()).keys,
        10,
        "a soft delete keeps the files"
    );
    let cleanup = chat.purge_conversation(ada.id, first.id).expect("purge");
    let mut with_files = cleanup.messages_with_files.clone();
    with_files.sort();
    let mut expected = vec![one.id, two.id];
    expected.sort();
    assert_eq!(with_files, expected, "the messages that had files");
    assert_eq!(cleanup.deleted, 1);
    for message in [one.id, two.id] {
        assert_err!(s.message(ada.id, message), Error::NotFound { .. });
        assert!(
            keys_of(chat.blobs(), message).is_empty(),
            "its blobs are gone"
        );
    }
    assert_photo(&chat, ada.id, three.id, "three");

    s.delete_conversation(ada.id, second.id).expect("delete");
    clock.advance(days(1));
    s.delete_conversation(ada.id, third.id).expect("delete");
    let cleanup = chat
        .purge_deleted_conversations(clock.now() - secs(12 * 3600))
        .expect("purge the old ones");
    assert_eq!(cleanup.messages_with_files, vec![three.id]);
    assert_eq!(cleanup.deleted, 1);
    assert!(keys_of(chat.blobs(), three.id).is_empty());
    assert_eq!(
        keys_of(chat.blobs(), four.id).len(),
        2,
        "deleted after the cut-off"
    );
    s.restore_conversation(ada.id, third.id).expect("restore");
    assert_photo(&chat, ada.id, four.id, "four");
    assert_photo(&chat, bob.id, his.id, "his");
    assert_eq!(stats(chat.blobs()).keys, 4);
}

/// Deleting a user removes their rows and then their messages' attachments and their
/// documents' vectors; other users' attachments and vectors, and global documents'
/// The cleanup removes expired temporary conversations and, by the plan's ages, old
/// archived ones, each with its attachments; the report counts them, and the other
/// conversations and their files stay.
pub fn chat_cleanup_retires_expired_and_old_conversations_with_their_files<C: ChatBackend>(
    backend: &C,
) {
    let (chat, clock) = fresh(backend);
    let s = chat.store();
    let ada = user(s, "ada");
    let brief = s
        .create_conversation(
            ada.id,
            &NewConversation::titled("brief").temporary(std::time::Duration::from_secs(600)),
        )
        .expect("temporary");
    let old = conversation(s, ada.id, "old");
    let kept = conversation(s, ada.id, "kept");
    let gone_soon = with_photo(&chat, ada.id, brief.id, "brief");
    let archived = with_photo(&chat, ada.id, old.id, "old");
    let stays = with_photo(&chat, ada.id, kept.id, "kept");
    s.archive_conversation(ada.id, old.id).expect("archive");
    clock.advance(days(2));

    let plan = crate::CleanupPlan::default();
    let report = chat.clean_up(&plan).expect("cleanup");
    assert_eq!(report.retired_conversations, 1, "the expired one only");
    assert!(
        keys_of(chat.blobs(), gone_soon.id).is_empty(),
        "its files went"
    );
    assert_photo(&chat, ada.id, archived.id, "old");

    let plan = crate::CleanupPlan {
        delete_archived_after: Some(days(1)),
        ..plan
    };
    let report = chat.clean_up(&plan).expect("cleanup");
    assert_eq!(report.retired_conversations, 1, "the archived one");
    assert_eq!(report.purged_messages_with_files, 1);
    assert!(keys_of(chat.blobs(), archived.id).is_empty());
    assert_err!(s.conversation(ada.id, old.id), Error::NotFound { .. });
    assert_photo(&chat, ada.id, stays.id, "kept");
}

/// vectors, stay.
pub fn chat_deleting_a_user_removes_their_attachments_and_vectors<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, bob, root) = (user(s, "ada"), user(s, "bob"), admin(s, "root"));
    let adas = with_photo(&chat, ada.id, conversation(s, ada.id, "a").id, "ada's");
    let bobs = with_photo(&chat, bob.id, conversation(s, bob.id, "b").id, "bob's");
    let her_document = document(s, ada.id, "ada.txt");
    let hers = ingested(&chat, ada.id, her_document.id, "ada");
    let his = ingested(&chat, bob.id, document(s, bob.id, "bob.txt").id, "bob");
    let shared = ingested(
        &chat,
        root.id,
        global_document(s, root.id, "policy.txt").id,
        "policy",
    );

    let cleanup = chat.delete_user(ada.id).expect("delete ada");
    assert_eq!(cleanup.messages_with_files, vec![adas.id]);
    assert_eq!(cleanup.documents, vec![her_document.id]);
    assert_err!(s.user(ada.id), Error::NotFound { .. });
    assert!(
        keys_of(chat.blobs(), adas.id).is_empty(),
        "her blobs are gone"
    );
    assert!(
        indexed(chat.vectors(), &ids(&hers)).is_empty(),
        "her vectors are gone"
    );
    assert_eq!(
        searchable(chat.vectors(), &VectorFilter::user(ada.id)),
        set(&[&shared]),
        "searching as her finds only global chunks"
    );
    assert_eq!(
        searchable(chat.vectors(), &VectorFilter::user(bob.id)),
        set(&[&his, &shared])
    );
    assert_eq!(
        retrieved(&chat, &VectorFilter::user(bob.id)),
        set(&[&his, &shared])
    );
    assert_photo(&chat, bob.id, bobs.id, "bob's");
    assert_eq!(stats(chat.blobs()).keys, 2);
}

/// Deleting a document removes its row and chunks and then its vectors: no search or
/// retrieval returns its chunks; other documents' vectors stay. Deleting a global
/// document takes it from every user's results.
pub fn chat_deleting_a_document_removes_its_vectors<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, eve, root) = (user(s, "ada"), user(s, "eve"), admin(s, "root"));
    let kept = ingested(&chat, ada.id, document(s, ada.id, "kept.txt").id, "kept");
    let doomed = document(s, ada.id, "gone.txt");
    let gone = ingested(&chat, ada.id, doomed.id, "gone");
    let eves = ingested(&chat, eve.id, document(s, eve.id, "eve.txt").id, "eve");
    let policy = global_document(s, root.id, "policy.txt");
    let shared = ingested(&chat, root.id, policy.id, "policy");

    let cleanup = chat.delete_document(ada.id, doomed.id).expect("delete");
    assert_eq!(cleanup.documents, vec![doomed.id]);
    assert_eq!(cleanup.deleted, 1);
    assert_err!(s.document(ada.id, doomed.id), Error::NotFound { .. });
    assert!(
        s.chunks_by_ids(ada.id, &ids(&gone))
            .expect("chunks")
            .is_empty()
    );
    assert!(
        indexed(chat.vectors(), &ids(&gone)).is_empty(),
        "its vectors are gone"
    );
    let filter = VectorFilter::user(ada.id);
    assert_eq!(searchable(chat.vectors(), &filter), set(&[&kept, &shared]));
    assert_eq!(retrieved(&chat, &filter), set(&[&kept, &shared]));
    for chunk in &gone {
        let found = chat
            .retrieve(COLLECTION, &chunk.content, 3, &filter, &Letters::default())
            .expect("retrieve");
        assert!(
            found.iter().all(|r| r.document.id != doomed.id),
            "{}",
            chunk.content
        );
    }
    assert_eq!(
        indexed(chat.vectors(), &ids(&eves)),
        records_of(&eves, Some(eve.id)),
        "other users' vectors stay"
    );

    chat.delete_document(root.id, policy.id).expect("delete");
    assert_eq!(searchable(chat.vectors(), &filter), set(&[&kept]));
    assert_eq!(
        searchable(chat.vectors(), &VectorFilter::user(eve.id)),
        set(&[&eves])
    );
    assert!(indexed(chat.vectors(), &ids(&shared)).is_empty());
}

/// A deletion the store refuses (a conversation not soft-deleted, another user's
/// conversation or document, an unknown user) removes no attachment and no vector:
/// rows go first, and only what they held is cleaned after.
pub fn chat_a_refused_deletion_removes_nothing<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, eve) = (user(s, "ada"), user(s, "eve"));
    let talk = conversation(s, ada.id, "files");
    let message = with_photo(&chat, ada.id, talk.id, "kept");
    let handbook = document(s, ada.id, "handbook.txt");
    let chunks = ingested(&chat, ada.id, handbook.id, "handbook");
    let blobs_before = stats(chat.blobs());
    let vectors_before = chat.vectors().collections().expect("collections");
    let unchanged = |what: &str| {
        assert_eq!(stats(chat.blobs()), blobs_before, "{what}: the blobs stay");
        assert_photo(&chat, ada.id, message.id, "kept");
        assert_eq!(
            chat.vectors().collections().expect("collections"),
            vectors_before,
            "{what}: the vectors stay"
        );
        assert_eq!(
            indexed(chat.vectors(), &ids(&chunks)),
            records_of(&chunks, Some(ada.id)),
            "{what}"
        );
        assert_eq!(
            retrieved(&chat, &VectorFilter::user(ada.id)),
            set(&[&chunks]),
            "{what}"
        );
    };

    assert_err!(
        chat.purge_conversation(ada.id, talk.id),
        Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        }
    );
    unchanged("purging an active conversation");
    s.delete_conversation(ada.id, talk.id).expect("delete");
    assert_err!(
        chat.purge_conversation(eve.id, talk.id),
        Error::NotFound { .. }
    );
    s.restore_conversation(ada.id, talk.id).expect("restore");
    unchanged("purging another user's conversation");
    assert_err!(
        chat.delete_document(eve.id, handbook.id),
        Error::NotFound { .. }
    );
    unchanged("deleting another user's document");
    assert_err!(chat.delete_user(UserId::new()), Error::NotFound { .. });
    unchanged("deleting an unknown user");
}

/// A blob store or vector index wrapped so that its deletions can be made to fail, as
/// when the file holding them is unreachable for a moment.
struct Flaky<T> {
    inner: T,
    failing: Arc<AtomicBool>,
}

impl<T> Flaky<T> {
    /// Fails deletions while `failing` is set.
    fn new(inner: T, failing: &Arc<AtomicBool>) -> Flaky<T> {
        Flaky {
            inner,
            failing: Arc::clone(failing),
        }
    }

    /// An error if deletions fail now.
    fn check(&self) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Unavailable {
                detail: "deletions fail for this check".to_owned(),
            });
        }
        Ok(())
    }
}

impl<T: BlobStore> BlobStore for Flaky<T> {
    fn put(&self, key: &BlobKey, data: &[u8]) -> Result<BlobInfo> {
        self.inner.put(key, data)
    }

    fn put_all(&self, items: &[(BlobKey, &[u8])]) -> Result<Vec<BlobInfo>> {
        self.inner.put_all(items)
    }

    fn put_stream(&self, key: &BlobKey, size: u64, reader: &mut dyn Read) -> Result<BlobInfo> {
        self.inner.put_stream(key, size, reader)
    }

    fn get(&self, key: &BlobKey) -> Result<Vec<u8>> {
        self.inner.get(key)
    }

    fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobRead + '_>> {
        self.inner.open(key)
    }

    fn info(&self, key: &BlobKey) -> Result<Option<BlobInfo>> {
        self.inner.info(key)
    }

    fn exists(&self, key: &BlobKey) -> Result<bool> {
        self.inner.exists(key)
    }

    fn delete(&self, key: &BlobKey) -> Result<bool> {
        self.check()?;
        self.inner.delete(key)
    }

    fn list(&self, message: MessageId) -> Result<Vec<BlobInfo>> {
        self.inner.list(message)
    }

    fn delete_by_prefixes(&self, messages: &[MessageId]) -> Result<u64> {
        self.check()?;
        self.inner.delete_by_prefixes(messages)
    }

    fn messages_with_blobs(
        &self,
        stored_before: Timestamp,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<MessageId>> {
        self.inner.messages_with_blobs(stored_before, after, limit)
    }

    fn stats(&self) -> Result<BlobStats> {
        self.inner.stats()
    }
}

impl<T: VectorIndex> VectorIndex for Flaky<T> {
    fn create_collection(&self, spec: &CollectionSpec) -> Result<()> {
        self.inner.create_collection(spec)
    }

    fn drop_collection(&self, name: &str) -> Result<bool> {
        self.inner.drop_collection(name)
    }

    fn collections(&self) -> Result<Vec<CollectionInfo>> {
        self.inner.collections()
    }

    fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        self.inner.upsert(collection, records)
    }

    fn delete(&self, collection: &str, chunks: &[ChunkId]) -> Result<u64> {
        self.check()?;
        self.inner.delete(collection, chunks)
    }

    fn remove_documents(&self, documents: &[DocumentId]) -> Result<u64> {
        self.check()?;
        self.inner.remove_documents(documents)
    }

    fn get(&self, collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        self.inner.get(collection, chunks)
    }

    fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>> {
        self.inner.search(collection, query, k, filter)
    }

    fn sync(&self, spec: &CollectionSpec, source: &dyn EmbeddingSource) -> Result<SyncReport> {
        self.inner.sync(spec, source)
    }

    fn save(&self) -> Result<()> {
        self.inner.save()
    }
}

/// When removing attachments or vectors fails after a deletion, the deletion still
/// stands and succeeds: the rows are gone, and what is left in the other stores is
/// only orphans nothing refers to. Retrieval skips the orphan vectors, the orphan
/// sweep removes the blobs once they are older than the grace, and opening again
/// leaves the index without the vectors.
pub fn chat_a_failed_cleanup_leaves_orphans_that_are_swept<C: ChatBackend>(backend: &C) {
    let clock = test_config().1;
    let failing = Arc::new(AtomicBool::new(false));
    let (store, blobs, vectors) = parts(backend, &clock);
    let chat = ChatStore::new(
        store,
        Flaky::new(blobs, &failing),
        Flaky::new(vectors, &failing),
    )
    .expect("ChatStore::new ties the three together");
    let s = chat.store();
    let ada = user(s, "ada");
    let talk = conversation(s, ada.id, "files");
    let message = with_photo(&chat, ada.id, talk.id, "orphaned");
    let kept = with_photo(&chat, ada.id, conversation(s, ada.id, "kept").id, "kept");
    let handbook = document(s, ada.id, "handbook.txt");
    let chunks = ingested(&chat, ada.id, handbook.id, "handbook");
    let other = ingested(&chat, ada.id, document(s, ada.id, "other.txt").id, "other");
    chat.vectors().save().expect("save");

    failing.store(true, Ordering::SeqCst);
    s.delete_conversation(ada.id, talk.id).expect("delete");
    let cleanup = chat
        .purge_conversation(ada.id, talk.id)
        .expect("the purge stands though the blobs stay");
    assert_eq!(cleanup.messages_with_files, vec![message.id]);
    assert_err!(s.message(ada.id, message.id), Error::NotFound { .. });
    assert_eq!(keys_of(chat.blobs(), message.id).len(), 2, "orphan blobs");
    let cleanup = chat
        .delete_document(ada.id, handbook.id)
        .expect("the deletion stands though the vectors stay");
    assert_eq!(cleanup.documents, vec![handbook.id]);
    assert_err!(s.document(ada.id, handbook.id), Error::NotFound { .. });
    assert_eq!(
        indexed(chat.vectors(), &ids(&chunks)).len(),
        3,
        "orphan vectors"
    );
    let filter = VectorFilter::user(ada.id);
    assert_eq!(
        retrieved(&chat, &filter),
        set(&[&other]),
        "retrieval skips the orphans"
    );
    failing.store(false, Ordering::SeqCst);

    let cut_off = clock.now() - ORPHAN_GRACE;
    assert_eq!(
        chat.sweep_orphan_blobs(cut_off).expect("sweep"),
        0,
        "too young"
    );
    clock.advance(ORPHAN_GRACE + secs(60));
    let cut_off = clock.now() - ORPHAN_GRACE;
    assert_eq!(chat.sweep_orphan_blobs(cut_off).expect("sweep"), 2);
    assert!(keys_of(chat.blobs(), message.id).is_empty());
    assert_photo(&chat, ada.id, kept.id, "kept");
    drop(chat);

    let chat = open(backend, &clock);
    assert!(
        indexed(chat.vectors(), &ids(&chunks)).is_empty(),
        "opening again leaves out the orphan vectors"
    );
    assert_eq!(searchable(chat.vectors(), &filter), set(&[&other]));
    assert_photo(&chat, ada.id, kept.id, "kept");
}

/// The orphan sweep removes the blobs of messages that do not exist (never written, as
/// when the process died between storing the blobs and appending the message) stored
/// before the cut-off; younger ones wait, and the blobs of messages that exist stay,
/// those of a soft-deleted conversation included.
pub fn chat_orphan_sweep_removes_old_blobs_of_missing_messages<C: ChatBackend>(backend: &C) {
    let (chat, clock) = fresh(backend);
    let s = chat.store();
    let ada = user(s, "ada");
    let real = with_photo(&chat, ada.id, conversation(s, ada.id, "real").id, "real");
    let binned = conversation(s, ada.id, "binned");
    let deleted = with_photo(&chat, ada.id, binned.id, "deleted");
    s.delete_conversation(ada.id, binned.id).expect("delete");
    let orphan = MessageId::reserve(ada.id);
    chat.blobs()
        .put_all(&[
            (BlobKey::file(orphan, 0), b"never written".as_slice()),
            (BlobKey::thumbnail(orphan, 0), b"t".as_slice()),
        ])
        .expect("put");
    clock.advance(2 * ORPHAN_GRACE);
    let young = MessageId::reserve(ada.id);
    chat.blobs()
        .put(&BlobKey::file(young, 0), b"being appended")
        .expect("put");

    let cut_off = clock.now() - ORPHAN_GRACE;
    assert_eq!(chat.sweep_orphan_blobs(cut_off).expect("sweep"), 2);
    assert!(
        keys_of(chat.blobs(), orphan).is_empty(),
        "the old orphan went"
    );
    assert_eq!(keys_of(chat.blobs(), young), vec![BlobKey::file(young, 0)]);
    assert_eq!(
        keys_of(chat.blobs(), deleted.id).len(),
        2,
        "its message exists"
    );
    assert_photo(&chat, ada.id, real.id, "real");
    assert_eq!(chat.sweep_orphan_blobs(cut_off).expect("again"), 0);

    clock.advance(2 * ORPHAN_GRACE);
    let cut_off = clock.now() - ORPHAN_GRACE;
    assert_eq!(
        chat.sweep_orphan_blobs(cut_off).expect("sweep"),
        1,
        "now old"
    );
    assert!(keys_of(chat.blobs(), young).is_empty());
    s.restore_conversation(ada.id, binned.id).expect("restore");
    assert_photo(&chat, ada.id, deleted.id, "deleted");
    assert_photo(&chat, ada.id, real.id, "real");
    assert_eq!(stats(chat.blobs()).keys, 4);
}

/// Opening cleans up after a crash, by the stores' clock: blobs of messages never
/// written that are older than [`ORPHAN_GRACE`] are swept (younger ones stay), and a
/// document left `processing` since before the grace is marked failed (a younger one
/// stays processing) and can be ingested again.
pub fn chat_opening_cleans_up_after_a_crash<C: ChatBackend>(backend: &C) {
    let (chat, clock) = fresh(backend);
    let s = chat.store();
    let ada = user(s, "ada");
    let real = with_photo(&chat, ada.id, conversation(s, ada.id, "real").id, "real");
    let orphan = MessageId::reserve(ada.id);
    chat.blobs()
        .put(&BlobKey::file(orphan, 0), b"never written")
        .expect("put");
    let stale = document(s, ada.id, "stale.txt");
    s.start_processing(ada.id, stale.id).expect("start");
    clock.advance(ORPHAN_GRACE + secs(60));
    let young = MessageId::reserve(ada.id);
    chat.blobs()
        .put(&BlobKey::file(young, 0), b"being appended")
        .expect("put");
    let recent = document(s, ada.id, "recent.txt");
    s.start_processing(ada.id, recent.id).expect("start");
    drop(chat);

    let chat = open(backend, &clock);
    let s = chat.store();
    assert!(keys_of(chat.blobs(), orphan).is_empty(), "swept on opening");
    assert_eq!(keys_of(chat.blobs(), young).len(), 1, "too young to sweep");
    assert_photo(&chat, ada.id, real.id, "real");
    let stale_now = s.document(ada.id, stale.id).expect("document");
    assert_eq!(stale_now.status, ProcessingStatus::Failed);
    assert!(stale_now.error_message.is_some(), "it says why");
    assert_eq!(
        s.document(ada.id, recent.id).expect("document").status,
        ProcessingStatus::Processing
    );
    let chunks = ingested(&chat, ada.id, stale.id, "stale");
    assert_eq!(
        s.document(ada.id, stale.id).expect("document").status,
        ProcessingStatus::Completed,
        "ingested again"
    );
    assert_eq!(
        indexed(chat.vectors(), &ids(&chunks)),
        records_of(&chunks, Some(ada.id))
    );
}

/// Retrieval for a user returns chunks of their own private documents and of global
/// ones, never another user's, even when the question is that user's text or the
/// filter names their documents; each comes with its completed document, best first.
pub fn chat_retrieval_returns_own_and_global_chunks_only<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, eve, root) = (user(s, "ada"), user(s, "eve"), admin(s, "root"));
    let hers = ingested(&chat, ada.id, document(s, ada.id, "ada.txt").id, "ada");
    let eve_document = document(s, eve.id, "eve.txt");
    let eves = ingested(&chat, eve.id, eve_document.id, "eve");
    let shared = ingested(
        &chat,
        root.id,
        global_document(s, root.id, "policy.txt").id,
        "policy",
    );
    for (who, expected) in [
        (ada.id, set(&[&hers, &shared])),
        (eve.id, set(&[&eves, &shared])),
        (root.id, set(&[&shared])),
    ] {
        let filter = VectorFilter::user(who);
        assert_eq!(retrieved(&chat, &filter), expected);
        assert_eq!(searchable(chat.vectors(), &filter), expected);
    }
    let letters = Letters::default();
    let ada_filter = VectorFilter::user(ada.id);
    for chunk in &eves {
        let found = chat
            .retrieve(COLLECTION, &chunk.content, 10, &ada_filter, &letters)
            .expect("retrieve");
        assert_retrievals(&found);
        assert_eq!(found.len(), 6, "all of hers and the global ones");
        assert!(
            found.iter().all(|r| r.document.id != eve_document.id),
            "never eve's, even for her own text"
        );
    }
    for chunk in hers.iter().chain(&shared) {
        let found = chat
            .retrieve(COLLECTION, &chunk.content, 1, &ada_filter, &letters)
            .expect("retrieve");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].chunk, *chunk, "its own text finds the chunk");
    }
    let naming_eves = VectorFilter {
        documents: Some(vec![eve_document.id]),
        ..VectorFilter::user(ada.id)
    };
    assert!(retrieved(&chat, &naming_eves).is_empty());
    let global_only = VectorFilter {
        scope: Some(DocumentScope::Global),
        ..VectorFilter::user(ada.id)
    };
    assert_eq!(retrieved(&chat, &global_only), set(&[&shared]));
}

/// A conversation's retrieval covers the documents it selected, or everything its
/// owner may see when it selected none.
pub fn chat_retrieval_follows_the_conversations_selection<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, root) = (user(s, "ada"), admin(s, "root"));
    let first = document(s, ada.id, "first.txt");
    let firsts = ingested(&chat, ada.id, first.id, "first");
    let second = document(s, ada.id, "second.txt");
    let seconds = ingested(&chat, ada.id, second.id, "second");
    let policy = global_document(s, root.id, "policy.txt");
    let shared = ingested(&chat, root.id, policy.id, "policy");
    let talk = conversation(s, ada.id, "questions");
    let everything = set(&[&firsts, &seconds, &shared]);
    assert_eq!(
        retrieved(&chat, &VectorFilter::for_conversation(&talk)),
        everything
    );
    for (selection, expected) in [
        (vec![second.id], set(&[&seconds])),
        (vec![second.id, policy.id], set(&[&seconds, &shared])),
        (vec![], everything.clone()),
    ] {
        s.set_selected_documents(ada.id, talk.id, &selection)
            .expect("select");
        let now = s.conversation(ada.id, talk.id).expect("conversation");
        assert_eq!(
            retrieved(&chat, &VectorFilter::for_conversation(&now)),
            expected,
            "{selection:?}"
        );
    }
}

/// An answer's citations resolve to the chunks as they are now: after re-ingestion the
/// chunks whose text did not change still resolve and the changed one is `None`, with
/// the text the answer saw kept; after the document is deleted every one is `None`.
/// Another user's message is not found.
pub fn chat_citations_show_the_chunks_as_they_are_now<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, eve) = (user(s, "ada"), user(s, "eve"));
    let handbook = document(s, ada.id, "handbook.txt");
    let first = ingested(&chat, ada.id, handbook.id, "handbook");
    let letters = Letters::default();
    let found = chat
        .retrieve(
            COLLECTION,
            "lost cards",
            3,
            &VectorFilter::user(ada.id),
            &letters,
        )
        .expect("retrieve");
    assert_eq!(found.len(), 3);
    let recorded: Vec<_> = found.iter().map(Retrieval::retrieved_document).collect();
    let talk = conversation(s, ada.id, "cards");
    let answer = s
        .append_message(
            ada.id,
            talk.id,
            &NewMessage::assistant("See the handbook.").with_metadata(MessageMetadata {
                retrieved_documents: recorded.clone(),
                sources: crate::sources(&found),
                ..MessageMetadata::default()
            }),
        )
        .expect("append");
    let citations = chat.citations(ada.id, answer.id).expect("citations");
    assert_eq!(citations.len(), 3);
    for (citation, r) in citations.iter().zip(&found) {
        assert_eq!(citation.recorded, r.retrieved_document());
        assert_eq!(citation.chunk.as_ref(), Some(&r.chunk));
    }

    let mut text = texts("handbook");
    text[1] = "handbook: savings now pay interest weekly.".to_owned();
    let second = ingest(&chat, ada.id, handbook.id, &text, &letters)
        .expect("ingested again")
        .chunks;
    let citations = chat.citations(ada.id, answer.id).expect("citations");
    for (citation, recorded) in citations.iter().zip(&recorded) {
        assert_eq!(citation.recorded, *recorded, "what the answer saw");
        let now = second.iter().find(|c| c.id == recorded.chunk_id);
        assert_eq!(citation.chunk.as_ref(), now, "{}", recorded.content);
    }
    let resolved = citations.iter().filter(|c| c.chunk.is_some()).count();
    assert_eq!(resolved, 2, "the unchanged chunks resolve");
    assert!(
        citations
            .iter()
            .any(|c| c.chunk.is_none() && c.recorded.content == first[1].content),
        "the changed chunk is gone"
    );

    chat.delete_document(ada.id, handbook.id).expect("delete");
    let citations = chat.citations(ada.id, answer.id).expect("citations");
    assert_eq!(citations.len(), 3);
    for (citation, recorded) in citations.iter().zip(&recorded) {
        assert_eq!(citation.chunk, None);
        assert_eq!(citation.recorded, *recorded);
    }
    assert_err!(chat.citations(eve.id, answer.id), Error::NotFound { .. });
    let plain = s
        .append_message(ada.id, talk.id, &NewMessage::user("thanks"))
        .expect("append");
    assert!(chat.citations(ada.id, plain.id).expect("none").is_empty());
}

/// Ingesting completes the document with its chunks in order (pages, token counts)
/// and indexes one vector per chunk with the document and its owner (none for a global
/// document), which a search for the chunk's text finds first.
pub fn chat_ingestion_completes_and_indexes_the_document<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, eve, root) = (user(s, "ada"), user(s, "eve"), admin(s, "root"));
    let letters = Letters::default();
    let handbook = document(s, ada.id, "handbook.txt");
    let text = texts("handbook");
    let done = ingest(&chat, ada.id, handbook.id, &text, &letters).expect("ingest");
    assert_eq!(done.document.status, ProcessingStatus::Completed);
    assert_eq!(done.document.num_chunks, 3);
    assert_eq!((done.embedded, done.cached), (3, 0));
    assert_eq!(letters.embedded(), 3);
    let words: Vec<u32> = text
        .iter()
        .map(|t| t.split_whitespace().count() as u32)
        .collect();
    assert_eq!(
        done.embedded_tokens,
        words.iter().map(|&w| u64::from(w)).sum::<u64>()
    );
    for (i, chunk) in done.chunks.iter().enumerate() {
        assert_eq!(chunk.document_id, handbook.id);
        assert_eq!(chunk.chunk_index, i as u32);
        assert_eq!(chunk.content, text[i]);
        assert_eq!(chunk.page_number, Some(i as u32 + 1));
        assert_eq!(chunk.num_tokens, Some(words[i]));
    }
    assert_eq!(
        s.document(ada.id, handbook.id).expect("document"),
        done.document
    );
    assert_eq!(s.chunks(ada.id, handbook.id).expect("chunks"), done.chunks);
    assert_eq!(
        indexed(chat.vectors(), &ids(&done.chunks)),
        records_of(&done.chunks, Some(ada.id)),
        "one vector per chunk, with its document and owner"
    );
    let filter = VectorFilter::user(ada.id);
    for chunk in &done.chunks {
        let found = chat
            .retrieve(COLLECTION, &chunk.content, 1, &filter, &letters)
            .expect("retrieve");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].chunk, *chunk);
        assert_eq!(found[0].document, done.document);
    }

    let policy = global_document(s, root.id, "policy.txt");
    let global = ingest(&chat, root.id, policy.id, &texts("policy"), &letters).expect("ingest");
    assert_eq!(
        indexed(chat.vectors(), &ids(&global.chunks)),
        records_of(&global.chunks, None),
        "a global document's vectors have no owner"
    );
    assert_eq!(
        retrieved(&chat, &VectorFilter::user(eve.id)),
        set(&[&global.chunks])
    );
    assert_eq!(
        chat.vectors()
            .collections()
            .expect("collections")
            .into_iter()
            .map(|c| (c.spec, c.count))
            .collect::<Vec<_>>(),
        vec![(collection(), 6)]
    );
}

/// Ingesting a document again replaces its chunks and vectors: chunks whose text did
/// not change keep their ids (and their cached embeddings), the changed one gets a new
/// id, and the index holds exactly the new chunks' vectors.
pub fn chat_reingestion_keeps_the_ids_of_unchanged_chunks<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let ada = user(s, "ada");
    let letters = Letters::default();
    let handbook = document(s, ada.id, "handbook.txt");
    let first = ingest(&chat, ada.id, handbook.id, &texts("handbook"), &letters)
        .expect("ingest")
        .chunks;
    let mut text = texts("handbook");
    text[1] = "handbook: savings now pay interest weekly.".to_owned();
    let again = ingest(&chat, ada.id, handbook.id, &text, &letters).expect("ingest again");
    assert_eq!((again.embedded, again.cached), (1, 2));
    assert_eq!(letters.embedded(), 4, "only the changed text was embedded");
    let second = again.chunks;
    assert_eq!(second[0].id, first[0].id, "unchanged text keeps its id");
    assert_eq!(second[2].id, first[2].id, "unchanged text keeps its id");
    assert_ne!(second[1].id, first[1].id, "changed text gets a new id");
    assert_eq!(second[1].content, text[1]);
    assert_eq!(s.chunks(ada.id, handbook.id).expect("chunks"), second);
    // Each chunk once: the unchanged ones are in both.
    let every: Vec<ChunkId> = set(&[&first, &second]).into_iter().collect();
    assert_eq!(
        indexed(chat.vectors(), &every),
        records_of(&second, Some(ada.id)),
        "exactly the new chunks' vectors"
    );
    let filter = VectorFilter::user(ada.id);
    assert_eq!(searchable(chat.vectors(), &filter), set(&[&second]));
    let found = chat
        .retrieve(COLLECTION, &text[1], 1, &filter, &letters)
        .expect("retrieve");
    assert_eq!(found[0].chunk, second[1]);

    let same = ingest(&chat, ada.id, handbook.id, &text, &letters).expect("the same again");
    assert_eq!((same.embedded, same.cached), (0, 3));
    assert_eq!(
        ids(&same.chunks),
        ids(&second),
        "the same text, the same ids"
    );
    assert_eq!(
        indexed(chat.vectors(), &every),
        records_of(&second, Some(ada.id))
    );
}

/// An ingestion whose embedder fails (an error, too few vectors, vectors of the wrong
/// length or not finite) or whose text is blank leaves the document `failed` with the
/// error's message and nothing half-written: no chunks, no embeddings in the store,
/// no vectors in the index, nothing cached. A failed re-ingestion keeps the previous
/// chunks and vectors, and retrieval skips the failed document until it completes
/// again. Another user cannot ingest the document.
pub fn chat_a_failed_ingestion_leaves_nothing_half_written<C: ChatBackend>(backend: &C) {
    let (chat, _clock) = fresh(backend);
    let s = chat.store();
    let (ada, eve) = (user(s, "ada"), user(s, "eve"));
    let letters = Letters::default();
    let kept = ingested(&chat, ada.id, document(s, ada.id, "kept.txt").id, "kept");
    let versions = |what: &str| {
        s.embedding_versions(COLLECTION)
            .unwrap_or_else(|e| panic!("{what}: versions: {e:?}"))
            .len()
    };
    let filter = VectorFilter::user(ada.id);
    let nothing_of = |id: DocumentId, what: &str| {
        assert!(
            s.chunks(ada.id, id).expect("chunks").is_empty(),
            "{what}: no chunks"
        );
        assert_eq!(versions(what), 3, "{what}: no embeddings stored");
        let only = VectorFilter {
            documents: Some(vec![id]),
            ..VectorFilter::user(ada.id)
        };
        assert!(
            searchable(chat.vectors(), &only).is_empty(),
            "{what}: no vectors"
        );
        assert_eq!(searchable(chat.vectors(), &filter), set(&[&kept]), "{what}");
    };
    for broken in [
        Broken::Fails,
        Broken::WrongCount,
        Broken::WrongDimension,
        Broken::NotFinite,
    ] {
        let what = format!("{broken:?}");
        let doc = document(s, ada.id, "broken.txt");
        let error = ingest(&chat, ada.id, doc.id, &texts("broken"), &broken)
            .expect_err("a broken embedder fails the ingestion");
        assert!(matches!(error, Error::Embedder { .. }), "{what}: {error:?}");
        let after = s.document(ada.id, doc.id).expect("document");
        assert_eq!(after.status, ProcessingStatus::Failed, "{what}");
        assert_eq!(after.error_message, Some(error.to_string()), "{what}");
        nothing_of(doc.id, &what);
    }
    let blank = document(s, ada.id, "blank.txt");
    assert_err!(
        ingest(&chat, ada.id, blank.id, &["  \n ".to_owned()], &letters),
        Error::Validation { .. }
    );
    assert_eq!(
        s.document(ada.id, blank.id).expect("document").status,
        ProcessingStatus::Failed
    );
    nothing_of(blank.id, "blank text");

    let handbook = document(s, ada.id, "handbook.txt");
    let done = ingest(&chat, ada.id, handbook.id, &texts("broken"), &letters)
        .expect("a good embedder succeeds");
    assert_eq!(done.embedded, 3, "nothing broken was cached");
    let mut text = texts("broken");
    text[2] = "broken: cards are now replaced by courier.".to_owned();
    assert_err!(
        ingest(&chat, ada.id, handbook.id, &text, &Broken::Fails),
        Error::Embedder { .. }
    );
    let after = s.document(ada.id, handbook.id).expect("document");
    assert_eq!(after.status, ProcessingStatus::Failed);
    assert_eq!(
        s.chunks(ada.id, handbook.id).expect("chunks"),
        done.chunks,
        "the previous chunks stay"
    );
    assert_eq!(
        indexed(chat.vectors(), &ids(&done.chunks)),
        records_of(&done.chunks, Some(ada.id)),
        "the previous vectors stay"
    );
    assert_eq!(
        retrieved(&chat, &filter),
        set(&[&kept]),
        "retrieval skips the failed document"
    );
    assert_err!(
        ingest(&chat, eve.id, handbook.id, &text, &letters),
        Error::NotFound { .. }
    );
    assert_eq!(
        s.document(ada.id, handbook.id).expect("document"),
        after,
        "eve changed nothing"
    );
    let redone = ingest(&chat, ada.id, handbook.id, &text, &letters).expect("ingest");
    assert_eq!(
        retrieved(&chat, &filter),
        set(&[&kept, &redone.chunks]),
        "completed again"
    );
}

/// Stores a document's chunks with their embeddings through the store alone, as
/// another process would while the index is closed.
fn complete_in_store(store: &dyn Store, user: UserId, document: DocumentId, text: &[String]) {
    store
        .start_processing(user, document)
        .expect("start processing");
    let chunks: Vec<NewChunk> = (0u32..)
        .zip(text)
        .map(|(i, t)| NewChunk::new(i, t.as_str()))
        .collect();
    let vectors: Vec<Vec<f32>> = text.iter().map(|t| Letters::vector(t)).collect();
    store
        .complete_with_chunks(user, document, COLLECTION, &chunks, &vectors)
        .expect("complete with chunks");
}

/// Asserts that the index holds exactly the embeddings the store holds for `user`'s
/// documents and that retrieval returns exactly `expected`.
fn assert_caught_up<S: Store, B: BlobStore, V: VectorIndex>(
    chat: &ChatStore<S, B, V>,
    user: UserId,
    every: &[ChunkId],
    expected: &BTreeSet<ChunkId>,
    what: &str,
) {
    let mut in_store = chat
        .store()
        .load_embeddings(COLLECTION, every)
        .expect("load embeddings");
    in_store.sort_by_key(|r| r.chunk);
    assert_eq!(
        indexed(chat.vectors(), every),
        in_store,
        "{what}: the index holds exactly the store's embeddings"
    );
    let filter = VectorFilter::user(user);
    assert_eq!(searchable(chat.vectors(), &filter), *expected, "{what}");
    assert_eq!(retrieved(chat, &filter), *expected, "{what}");
}

/// Opening again brings the index up to date with the store: after closing without
/// saving it holds what was ingested; after saving, what the store alone changed while
/// the index was closed is applied (a deleted document's chunks are no longer
/// returned, a document completed or re-ingested meanwhile is searchable with its new
/// chunks). The same after the store forgot its records of removals older than
/// [`REMOVALS_KEPT`].
pub fn chat_reopening_brings_the_index_up_to_date<C: ChatBackend>(backend: &C) {
    let (chat, clock) = fresh(backend);
    let s = chat.store();
    let ada = user(s, "ada");
    let (first, second, third) = (
        document(s, ada.id, "first.txt"),
        document(s, ada.id, "second.txt"),
        document(s, ada.id, "third.txt"),
    );
    let firsts = ingested(&chat, ada.id, first.id, "first");
    let seconds = ingested(&chat, ada.id, second.id, "second");
    drop(chat);

    let chat = open(backend, &clock);
    let both = set(&[&firsts, &seconds]);
    let ingested_ids: Vec<ChunkId> = both.iter().copied().collect();
    assert_caught_up(
        &chat,
        ada.id,
        &ingested_ids,
        &both,
        "reopened without saving",
    );
    chat.vectors().save().expect("save");
    drop(chat);

    let (store, blobs, vectors) = parts(backend, &clock);
    drop((blobs, vectors));
    store.delete_document(ada.id, second.id).expect("delete");
    let mut changed = texts("first");
    changed[0] = "first: joint accounts need one adult now.".to_owned();
    complete_in_store(&store, ada.id, first.id, &changed);
    complete_in_store(&store, ada.id, third.id, &texts("third"));
    let now_first = store.chunks(ada.id, first.id).expect("chunks");
    let thirds = store.chunks(ada.id, third.id).expect("chunks");
    drop(store);

    let chat = open(backend, &clock);
    // Each chunk once: the re-ingested document kept the ids of its unchanged chunks.
    let every: Vec<ChunkId> = set(&[&firsts, &seconds, &now_first, &thirds])
        .into_iter()
        .collect();
    assert_caught_up(
        &chat,
        ada.id,
        &every,
        &set(&[&now_first, &thirds]),
        "reopened",
    );
    assert!(indexed(chat.vectors(), &ids(&seconds)).is_empty());
    let found = chat
        .retrieve(
            COLLECTION,
            &changed[0],
            1,
            &VectorFilter::user(ada.id),
            &Letters::default(),
        )
        .expect("retrieve");
    assert_eq!(found[0].chunk, now_first[0], "the re-ingested chunk");
    chat.vectors().save().expect("save");
    drop(chat);

    let (store, blobs, vectors) = parts(backend, &clock);
    drop((blobs, vectors));
    store.delete_document(ada.id, third.id).expect("delete");
    store
        .forget_embedding_removals(clock.now() - REMOVALS_KEPT)
        .expect("forget");
    drop(store);
    clock.advance(REMOVALS_KEPT + days(1));
    let chat = open(backend, &clock);
    assert_caught_up(
        &chat,
        ada.id,
        &every,
        &set(&[&now_first]),
        "reopened after the removals were forgotten",
    );
}

/// Expands to one `#[test]` per check of the `ChatStore` suite, each on a backend made
/// by `$make` (an expression evaluated afresh for every test).
#[macro_export]
macro_rules! chat_conformance_suite {
    ($make:expr) => {
        $crate::chat_conformance_suite!(@tests $make;
            chat_attachments_are_stored_and_read_back,
            chat_attachments_are_read_only_through_their_owner,
            chat_a_refused_append_leaves_nothing_behind,
            chat_purging_conversations_removes_their_attachments,
            chat_cleanup_retires_expired_and_old_conversations_with_their_files,
            chat_deleting_a_user_removes_their_attachments_and_vectors,
            chat_deleting_a_document_removes_its_vectors,
            chat_a_refused_deletion_removes_nothing,
            chat_a_failed_cleanup_leaves_orphans_that_are_swept,
            chat_orphan_sweep_removes_old_blobs_of_missing_messages,
            chat_opening_cleans_up_after_a_crash,
            chat_retrieval_returns_own_and_global_chunks_only,
            chat_retrieval_follows_the_conversations_selection,
            chat_citations_show_the_chunks_as_they_are_now,
            chat_ingestion_completes_and_indexes_the_document,
            chat_reingestion_keeps_the_ids_of_unchanged_chunks,
            chat_a_failed_ingestion_leaves_nothing_half_written,
            chat_reopening_brings_the_index_up_to_date,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let backend = $make;
                $crate::conformance::$check(&backend);
            }
        )*
    };
}
