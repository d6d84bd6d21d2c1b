//! The crash loop's child: works on the full stack in DIR (main store, attachment store,
//! vector index) until it is killed, and prints a line for every write the stores
//! acknowledged (the parent checks them after the kill):
//!
//! ```text
//! append <conversation> <message> <word> <file hash>,<file hash>,...   ("-": no files)
//! ingested <document> <chunk id>,<chunk id>,...
//! deleting <document>        (printed before the deletion starts)
//! deleted <document>
//! purging <conversation>     (printed before the purge starts)
//! purged <conversation>
//! ```
//!
//! Each message carries a word no other message has, so that the parent can search for
//! it. Run repeatedly on the same DIR, it continues with what is there.

use std::io::Write;

use chatstore::chunking::{ChunkingOptions, TextPart};
use chatstore::{
    ConflictKind, ConversationQuery, ConversationStatus, ConversationStore, DocumentQuery,
    DocumentStore, Error, NewAttachment, NewConversation, NewDocument, NewMessage, Visibility,
};
use chatstore_tests::{WordEmbedder, open_chat, word_collection, writer};

const WORDS: [&str; 10] = [
    "account", "balance", "card", "deposit", "interest", "loan", "payment", "rate", "savings",
    "transfer",
];

fn main() {
    let (dir, mut random) = chatstore_tests::child_args("crash_mixed DIR SEED");
    let run = random(1 << 40);
    let chat = open_chat(&dir);
    let store = chat.store();
    let user = writer(store);
    let active = ConversationQuery {
        statuses: vec![ConversationStatus::Active],
        visibility: Visibility::All,
        limit: 1000,
        cursor: None,
    };
    let mut chats: Vec<_> = store
        .list_conversations(user.id, &active)
        .expect("listing")
        .items
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut documents: Vec<_> = store
        .list_documents(user.id, &DocumentQuery::default())
        .expect("documents")
        .items
        .into_iter()
        .map(|d| d.id)
        .collect();
    let embedder = WordEmbedder::default();
    let options = ChunkingOptions {
        size: 120,
        overlap: 20,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}", chatstore_tests::READY).expect("stdout");
    out.flush().expect("flush");
    for step in 0u64.. {
        match random(100) {
            0..=4 => {
                let chat = store
                    .create_conversation(user.id, &NewConversation::titled("crash loop"))
                    .expect("create");
                chats.push(chat.id);
            }
            5..=7 if chats.len() > 2 => {
                let gone = chats.swap_remove(random(chats.len() as u64) as usize);
                writeln!(out, "purging {gone}").expect("stdout");
                out.flush().expect("flush");
                store.delete_conversation(user.id, gone).expect("delete");
                chat.purge_conversation(user.id, gone).expect("purge");
                writeln!(out, "purged {gone}").expect("stdout");
            }
            8..=15 => {
                let document = if documents.is_empty() || random(3) == 0 {
                    let new = NewDocument::new("notes.txt", "/files/notes.txt");
                    let document = store.create_document(user.id, &new).expect("upload");
                    documents.push(document.id);
                    document.id
                } else {
                    documents[random(documents.len() as u64) as usize]
                };
                let pages: Vec<TextPart> = (1..=1 + random(5) as u32)
                    .map(|page| {
                        let words: Vec<&str> = (0..10 + random(30))
                            .map(|_| WORDS[random(WORDS.len() as u64) as usize])
                            .collect();
                        TextPart::page(words.join(" "), page)
                    })
                    .collect();
                let ingested = match chat.ingest_document(
                    user.id,
                    document,
                    &word_collection(),
                    &pages,
                    &embedder,
                    &options,
                ) {
                    Ok(ingested) => ingested,
                    // Left `processing` by a child killed mid-ingestion: opening fails
                    // such documents only after ORPHAN_GRACE, in case another process
                    // is still at work on them.
                    Err(Error::Conflict {
                        kind: ConflictKind::InvalidState,
                        ..
                    }) => continue,
                    Err(error) => panic!("ingest: {error}"),
                };
                let chunks: Vec<String> =
                    ingested.chunks.iter().map(|c| c.id.to_string()).collect();
                writeln!(out, "ingested {document} {}", chunks.join(",")).expect("stdout");
            }
            16..=17 if documents.len() > 2 => {
                let gone = documents.swap_remove(random(documents.len() as u64) as usize);
                writeln!(out, "deleting {gone}").expect("stdout");
                out.flush().expect("flush");
                chat.delete_document(user.id, gone)
                    .expect("delete document");
                writeln!(out, "deleted {gone}").expect("stdout");
            }
            _ if !chats.is_empty() => {
                let conversation = chats[random(chats.len() as u64) as usize];
                let word = format!("w{run}x{step}z"); // no word is a prefix of another
                let message = NewMessage::user(format!(
                    "{word} {}",
                    "crash loop text ".repeat(1 + random(40) as usize)
                ));
                let files: Vec<NewAttachment> = (0..random(3).saturating_sub(1))
                    .map(|i| {
                        let size = 1 + random(20_000) as usize;
                        let salt = random(256) as u8;
                        let bytes: Vec<u8> = (0..size).map(|j| (j as u8) ^ salt).collect();
                        NewAttachment::new(&format!("f{i}.bin"), "application/octet-stream", bytes)
                            .with_thumbnail(vec![salt; 64])
                    })
                    .collect();
                let stored = chat
                    .append_with_attachments(user.id, conversation, &message, files)
                    .expect("append");
                let hashes: Vec<&str> = stored
                    .files
                    .iter()
                    .map(|f| f.hash.as_deref().expect("stored files have a hash"))
                    .collect();
                let hashes = if hashes.is_empty() {
                    "-".to_owned()
                } else {
                    hashes.join(",")
                };
                writeln!(out, "append {conversation} {} {word} {hashes}", stored.id)
                    .expect("stdout");
            }
            _ => {}
        }
        out.flush().expect("flush");
    }
}
