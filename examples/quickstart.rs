//! The main job: open a store in a directory, register a user, log in, ingest a short
//! document into the vector index, hold a short conversation whose answer cites the
//! chunks retrieved for the question, with an attached file and a regenerated answer
//! (a branch), search it, record token usage and print a usage report.
//!
//! ```text
//! cargo run --example quickstart [DIRECTORY]     # default: ./quickstart-data
//! DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test cargo run --example quickstart
//! ```
//!
//! With `DATABASE_URL` naming a PostgreSQL server, the main store and the attachments
//! are there (in the schema `CHATSTORE_PG_SCHEMA`, default `public`), and the vector
//! index's snapshots stay in the directory. Run it twice: the second run logs the same
//! user in again and adds a conversation.

use std::path::PathBuf;

use chatstore::chunking::{ChunkingOptions, TextPart};
use chatstore::embeddings::{EmbedError, Embedder};
use chatstore::{
    BackendKind, BlobStore, ChatStore, CollectionSpec, Config, ConflictKind, ConversationQuery,
    Distance, DocumentQuery, Error, MessageMetadata, NewAttachment, NewConversation, NewDocument,
    NewMessage, NewSession, NewUsage, NewUser, OperationType, Password, SearchQuery, Store,
    TimeRange, VectorFilter, VectorIndex, sources,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_postgres::{PgOptions, PgStore};
use chatstore_sqlite::SqliteStore;
use chatstore_vector::{HnswIndex, IndexConfig};

/// The host's embedding model. A real host calls its model service here; this stand-in
/// hashes words into 64 dimensions, so texts sharing words are close.
struct WordHashEmbedder;

impl Embedder for WordHashEmbedder {
    fn model(&self) -> &str {
        "word-hash-64"
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0.0; 64];
                vector[0] = 0.01;
                for word in text
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() > 3)
                {
                    let word = word.to_lowercase();
                    let hash = word
                        .bytes()
                        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
                    vector[hash as usize % 64] += 1.0;
                }
                vector
            })
            .collect())
    }

    /// Words stand in for tokens here; a real host asks its tokenizer.
    fn count_tokens(&self, text: &str) -> Option<u32> {
        u32::try_from(text.split_whitespace().count()).ok()
    }
}

const HANDBOOK: [&str; 3] = [
    "Joint accounts: any two adults may open a joint account once both pass the identity check.",
    "Savings accounts pay interest monthly; the rate depends on the balance held.",
    "Lost cards must be reported within two days; a replacement card arrives by post.",
];

fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let directory = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("quickstart-data"));
    std::fs::create_dir_all(&directory).map_err(|source| Error::Io {
        path: directory.clone(),
        source,
    })?;
    // The vector index keeps its snapshots in the directory; the embeddings themselves
    // live in the main store, so a lost snapshot is rebuilt on open.
    let vectors = HnswIndex::new(IndexConfig::new(directory.join("vectors")))?;
    match std::env::var("DATABASE_URL") {
        Ok(url) if BackendKind::of_url(&url)? == BackendKind::Postgres => {
            let main = PgStore::open_with(Config::from_env()?, &PgOptions::from_env()?)?;
            let files = main.blobs(256 << 20);
            println!(
                "opened PostgreSQL schema {} (attachments too)",
                main.schema()
            );
            run(ChatStore::new(main, files, vectors)?)
        }
        _ => {
            let main = SqliteStore::open_path(directory.join("chatstore.db"))?;
            let files = SqliteBlobStore::open(BlobConfig::beside(main.path()))?;
            println!(
                "opened {} and {}",
                main.path().display(),
                files.config().path.display()
            );
            run(ChatStore::new(main, files, vectors)?)
        }
    }
}

/// The job itself, on whichever stores were opened.
fn run<S: Store, B: BlobStore>(chat: ChatStore<S, B, HnswIndex>) -> Result<(), Error> {
    let store = chat.store();

    // Register (or, on a second run, find) a user; log in; open a session.
    let password = Password::new("correct horse battery staple");
    let registration = NewUser {
        full_name: Some("Ada Lovelace".into()),
        ..NewUser::new("ada", "ada@example.com", password.expose())
    };
    match store.create_user(&registration) {
        Ok(user) => println!("registered {} <{}>", user.username, user.email),
        Err(Error::Conflict {
            kind: ConflictKind::Unique,
            ..
        }) => println!("ada is already registered"),
        Err(other) => return Err(other),
    }
    let ada = store.authenticate("ada@example.com", &password)?;
    let (_session, token) = store.create_session(ada.id, &NewSession::default())?;
    let (_, same) = store.validate_session(&token)?;
    println!(
        "logged in as {} (session valid for {})",
        same.username, same.email
    );

    // A short handbook, one page per topic, chunked, embedded and indexed. A second
    // run finds the handbook and ingests it again: its chunks are replaced, and every
    // chunk's embedding comes from the cache.
    let collection = CollectionSpec::new("rag_documents_custom", 64, Distance::Cosine)?;
    let uploaded = store.list_documents(ada.id, &DocumentQuery::default())?;
    let handbook = match uploaded
        .items
        .into_iter()
        .find(|d| d.filename == "handbook.txt")
    {
        Some(document) => document,
        None => store.create_document(
            ada.id,
            &NewDocument::new("handbook.txt", "/files/handbook.txt"),
        )?,
    };
    let pages: Vec<TextPart> = (1..)
        .zip(HANDBOOK)
        .map(|(n, text)| TextPart::page(text, n))
        .collect();
    let ingested = chat.ingest_document(
        ada.id,
        handbook.id,
        &collection,
        &pages,
        &WordHashEmbedder,
        &ChunkingOptions::default(),
    )?;
    println!(
        "ingested {}: {} chunks ({} embedded, {} from the cache), status {}",
        ingested.document.filename,
        ingested.document.num_chunks,
        ingested.embedded,
        ingested.cached,
        ingested.document.status
    );

    // A conversation with metadata, and an answer regenerated as a second branch.
    let conversation = store.create_conversation(
        ada.id,
        &NewConversation {
            llm_provider: Some("custom".into()),
            llm_model: Some("deepseek-chat".into()),
            ..NewConversation::titled("Account eligibility")
        },
    )?;
    // The question comes with a scanned form and its thumbnail: the bytes go to
    // files.db, the message keeps their name, type, size and hash.
    let form = b"%PDF-1.7 joint account application form ...".repeat(100);
    let question = chat.append_with_attachments(
        ada.id,
        conversation.id,
        &NewMessage::user("Who is eligible for a joint account?").with_metadata(MessageMetadata {
            request_id: Some("req-1".into()),
            ..MessageMetadata::default()
        }),
        vec![
            NewAttachment::new("application.pdf", "application/pdf", form.clone())
                .with_thumbnail(b"tiny preview".to_vec()),
        ],
    )?;
    let (meta, bytes) = chat.message_file(ada.id, question.id, 0)?;
    let (_, thumbnail) = chat.message_thumbnail(ada.id, question.id, 0)?;
    println!(
        "attached {} ({}, {} bytes, thumbnail {} bytes), read back intact: {}",
        meta.name,
        meta.mime_type,
        meta.size,
        thumbnail.len(),
        bytes == form
    );
    let retrieved = chat.retrieve(
        &collection.name,
        "Who is eligible for a joint account?",
        2,
        &VectorFilter::for_conversation(&conversation),
        &WordHashEmbedder,
    )?;
    for hit in &retrieved {
        println!(
            "retrieved {} page {} (score {:.2}): {}",
            hit.document.filename,
            hit.chunk.page_number.unwrap_or_default(),
            hit.score,
            hit.chunk.content
        );
    }
    let first_answer = store.append_message(
        ada.id,
        conversation.id,
        &NewMessage::assistant("Any two adults who both pass the identity check.").with_metadata(
            MessageMetadata {
                request_id: Some("req-1".into()),
                source: Some("llm_generation".into()),
                tokens: Some(245),
                model_name: Some("deepseek-chat".into()),
                latency_ms: Some(1234),
                confidence_score: Some(0.82),
                retrieved_documents: retrieved.iter().map(|r| r.retrieved_document()).collect(),
                sources: sources(&retrieved),
                ..MessageMetadata::default()
            },
        ),
    )?;
    let cited = store.message(ada.id, first_answer.id)?;
    for source in &cited.metadata.sources {
        println!(
            "answer cites {} page {}: {:?}",
            source.filename,
            source.page.unwrap_or_default(),
            source.cited_text.as_deref().unwrap_or_default()
        );
    }
    let regenerated = store.append_message(
        ada.id,
        conversation.id,
        &NewMessage::assistant(
            "Two adults, each with verified identity, may open a joint account.",
        )
        .reply_to(question.id),
    )?;
    let alternatives = store.children(ada.id, question.id)?;
    println!(
        "conversation {:?}: {} messages, {} answers to the question (the first is message #{}, the regenerated one #{})",
        conversation.title.as_deref().unwrap_or(""),
        store.conversation(ada.id, conversation.id)?.message_count,
        alternatives.len(),
        first_answer.seq,
        regenerated.seq,
    );
    let branch = store.branch(ada.id, regenerated.id, 20)?;
    for message in &branch {
        println!("  [{}] {}", message.role, message.content);
    }

    // Full-text search across Ada's conversations.
    for hit in store.search_messages(ada.id, &SearchQuery::new("joint account"))? {
        println!(
            "search hit in {:?}: {}",
            hit.conversation_title.as_deref().unwrap_or(""),
            hit.snippet
        );
    }

    // Token usage and a report.
    let mut usage = NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 1_200, 245);
    usage.conversation_id = Some(conversation.id);
    usage.message_id = Some(first_answer.id);
    store.record_usage(ada.id, &usage)?;
    // The embedding call is billed for what was actually sent to the embedder: nothing
    // on a second run, when every chunk comes from the cache.
    if ingested.embedded_tokens > 0 {
        let mut embedding =
            NewUsage::new("ollama", "nomic-embed-text", OperationType::Embedding, 0, 0);
        embedding.embedding_tokens = ingested.embedded_tokens;
        store.record_usage(ada.id, &embedding)?;
    }

    println!("usage by provider and operation:");
    for row in store.usage_by_provider(ada.id, TimeRange::ALL)? {
        println!(
            "  {:<8} {:<10} {:>3} calls {:>7} tokens {:>7} embedding  ${:.6}",
            row.provider,
            row.operation_type,
            row.totals.requests,
            row.totals.total_tokens,
            row.totals.embedding_tokens,
            row.totals.cost
        );
    }
    let page = store.list_conversations(ada.id, &ConversationQuery::default())?;
    println!("ada has {} conversation(s):", page.items.len());
    for conversation in page.items {
        println!(
            "  {} - {} messages, last at {}",
            conversation.title.as_deref().unwrap_or_default(),
            conversation.message_count,
            conversation.last_activity_at
        );
    }
    store.revoke_session(&token)?;
    chat.vectors().save()?;
    Ok(())
}
