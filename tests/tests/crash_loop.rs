//! The crash loop: a child process appends messages with attachments, ingests and
//! deletes documents and purges conversations on the full stack, and is killed with
//! SIGKILL at a random moment, again and again on the same files. After every kill the
//! parent opens the stores as a restarted host would and checks:
//! - every acknowledged write is there (messages with their words, attachments with
//!   their hashes, documents with their chunks), and nothing acknowledged as removed
//!   came back;
//! - both files pass their integrity checks;
//! - no message points at a missing attachment;
//! - the vector index caught up: it holds exactly the store's embeddings;
//! - the search index finds every acknowledged message.
//!
//! `CHATSTORE_CRASH_KILLS` sets the number of kills (50 by default; the long run before
//! a release uses 1000, see docs/operations.md).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use chatstore::{
    BlobKey, BlobStore, ChunkId, ConversationId, ConversationStore, DocumentId, DocumentStore,
    EmbeddingSource, MaintenanceStore, MessageId, MessageStore, SearchQuery, SearchStore,
    SystemStore, UserId, VectorIndex,
};
use chatstore_tests::{open_chat, run_and_kill, word_collection, writer};

/// What the children acknowledged, over all runs.
#[derive(Default)]
struct Acknowledged {
    /// Message → (conversation, word, file hashes).
    messages: HashMap<MessageId, (ConversationId, String, Vec<String>)>,
    /// Document → its chunks as of its last acknowledged ingestion.
    documents: HashMap<DocumentId, Vec<ChunkId>>,
    deleting: HashSet<DocumentId>,
    deleted: HashSet<DocumentId>,
    purging: HashSet<ConversationId>,
    purged: HashSet<ConversationId>,
}

impl Acknowledged {
    fn take(&mut self, line: &str) {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["append", chat, message, word, hashes] => {
                let hashes = match *hashes {
                    "-" => Vec::new(),
                    list => list.split(',').map(str::to_owned).collect(),
                };
                let id = message.parse().expect("message id");
                let chat = chat.parse().expect("conversation id");
                self.messages.insert(id, (chat, (*word).to_owned(), hashes));
            }
            ["ingested", document, chunks] => {
                let chunks = chunks
                    .split(',')
                    .map(|c| c.parse().expect("chunk id"))
                    .collect();
                self.documents
                    .insert(document.parse().expect("document id"), chunks);
            }
            ["deleting", document] => {
                self.deleting.insert(document.parse().expect("document id"));
            }
            ["deleted", document] => {
                self.deleted.insert(document.parse().expect("document id"));
            }
            ["purging", chat] => {
                self.purging.insert(chat.parse().expect("conversation id"));
            }
            ["purged", chat] => {
                self.purged.insert(chat.parse().expect("conversation id"));
            }
            _ => panic!("unexpected line {line:?}"),
        }
    }
}

#[test]
fn killed_at_random_moments_the_stores_lose_nothing_acknowledged() {
    let kills: u64 = std::env::var("CHATSTORE_CRASH_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let started = Instant::now();
    let (mut messages, mut documents) = (0, 0);
    let mut kill = 0;
    while kill < kills {
        // Rounds of ROUND kills on fresh files keep each check's work bounded.
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut acknowledged = Acknowledged::default();
        for _ in 0..ROUND.min(kills - kill) {
            kill += 1;
            let lines = run_and_kill(
                env!("CARGO_BIN_EXE_crash_mixed"),
                dir.path(),
                kill,
                Duration::from_millis(400),
            );
            for line in &lines {
                acknowledged.take(line);
            }
            verify(dir.path(), &acknowledged, kill);
        }
        messages += acknowledged.messages.len();
        documents += acknowledged.documents.len();
    }
    eprintln!(
        "crash loop: {kills} kills survived in {:.0?}; {messages} acknowledged messages and {documents} documents, each checked after every later kill of its round",
        started.elapsed(),
    );
    assert!(
        messages > kills as usize,
        "the children made progress ({messages} messages)"
    );
}

/// Kills on the same files before starting afresh.
const ROUND: u64 = 50;

/// Opens the stores as a restarted host would and checks them against `acknowledged`.
fn verify(dir: &Path, acknowledged: &Acknowledged, kill: u64) {
    let chat = open_chat(dir);
    let store = chat.store();
    let user = writer(store).id;
    let at = |what: &str| format!("after kill {kill}: {what}");
    if let Err(e) = store.check_integrity() {
        panic!("{}", at(&format!("main store damaged: {e}")));
    }
    if let Err(e) = chat.blobs().check_integrity() {
        panic!("{}", at(&format!("attachment store damaged: {e}")));
    }

    for (id, (conversation, word, hashes)) in &acknowledged.messages {
        let gone_with_conversation = acknowledged.purged.contains(conversation)
            || (acknowledged.purging.contains(conversation)
                && store.conversation(user, *conversation).is_err());
        let found = store.message(user, *id);
        if gone_with_conversation {
            assert!(found.is_err(), "{}", at(&format!("{id} came back")));
            continue;
        }
        let message = found.unwrap_or_else(|e| panic!("{}", at(&format!("{id} lost: {e}"))));
        assert!(message.content.starts_with(word.as_str()));
        let stored: Vec<&str> = message
            .files
            .iter()
            .filter_map(|f| f.hash.as_deref())
            .collect();
        assert_eq!(stored, *hashes, "{}", at("file hashes"));
        if acknowledged.purging.contains(conversation) {
            continue; // soft-deleted by a purge cut short: search rightly skips it
        }
        let hits = store
            .search_messages(user, &SearchQuery::new(word))
            .expect("search");
        assert!(
            hits.iter().any(|hit| hit.message_id == *id),
            "{}",
            at(&format!("search misses {id}"))
        );
    }
    no_dangling_attachments(&chat, user, &at);
    vectors_caught_up(&chat, user, acknowledged, &at);
    if kill % 5 == 4 {
        // Now and then the restarted host saves a snapshot, so that later opens
        // catch up from a snapshot rather than rebuild.
        if let Err(e) = chat.vectors().save() {
            panic!("{}", at(&format!("snapshot not saved: {e}")));
        }
    }
}

/// Every message with files has every one of its blobs, intact.
fn no_dangling_attachments(
    chat: &chatstore_tests::Chat,
    user: UserId,
    at: &dyn Fn(&str) -> String,
) {
    let mut after = None;
    loop {
        let page = chat
            .store()
            .messages_with_files(after, 500)
            .expect("messages with files");
        let Some(last) = page.last() else {
            return;
        };
        after = Some(last.id);
        for message in &page {
            for (index, file) in message.files.iter().enumerate() {
                let (meta, bytes) = chat
                    .message_file(user, message.id, index as u32)
                    .unwrap_or_else(|e| {
                        panic!("{}", at(&format!("{} file {index}: {e}", message.id)))
                    });
                assert_eq!(meta.hash, file.hash);
                assert_eq!(
                    Some(blake3::hash(&bytes).to_hex().to_string()),
                    file.hash,
                    "{}",
                    at("attachment bytes")
                );
                let thumbnail = BlobKey::thumbnail(message.id, index as u32);
                assert!(
                    chat.blobs().info(&thumbnail).is_ok(),
                    "{}",
                    at("thumbnail present")
                );
            }
        }
    }
}

/// The index holds exactly the store's embeddings; acknowledged documents have their
/// chunks, deleted ones none.
fn vectors_caught_up(
    chat: &chatstore_tests::Chat,
    user: UserId,
    acknowledged: &Acknowledged,
    at: &dyn Fn(&str) -> String,
) {
    let collection = word_collection().name;
    let Ok(in_store) = chat.store().embedding_versions(&collection) else {
        return; // no document ingested yet
    };
    let ids: Vec<ChunkId> = in_store.iter().map(|(c, _)| *c).collect();
    let in_index = chat.vectors().get(&collection, &ids).expect("index get");
    assert_eq!(
        in_index.len(),
        ids.len(),
        "{}",
        at("index holds every embedding")
    );
    let counted = chat.vectors().collections().expect("collections");
    assert_eq!(
        counted.iter().map(|c| c.count).sum::<u64>(),
        ids.len() as u64,
        "{}",
        at("and nothing else")
    );
    for (document, chunks) in &acknowledged.documents {
        let gone = acknowledged.deleted.contains(document)
            || (acknowledged.deleting.contains(document)
                && chat.store().document(user, *document).is_err());
        if gone {
            assert!(chat.store().document(user, *document).is_err());
            assert!(
                chat.vectors()
                    .get(&collection, chunks)
                    .expect("get")
                    .is_empty(),
                "{}",
                at("a deleted document's vectors are gone")
            );
            continue;
        }
        let current: HashSet<ChunkId> = chat
            .store()
            .chunks(user, *document)
            .unwrap_or_else(|e| panic!("{}", at(&format!("document {document} lost: {e}"))))
            .into_iter()
            .map(|c| c.id)
            .collect();
        // The chunks of the acknowledged ingestion, or of a later one the child did not
        // live to report: never none.
        assert!(
            !current.is_empty(),
            "{}",
            at("an ingested document keeps chunks")
        );
        let indexed = chat
            .vectors()
            .get(&collection, &current.iter().copied().collect::<Vec<_>>())
            .expect("get");
        assert_eq!(
            indexed.len(),
            current.len(),
            "{}",
            at("document chunks indexed")
        );
    }
}
