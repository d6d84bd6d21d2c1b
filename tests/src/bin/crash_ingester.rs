//! A writer for the ingestion crash test: uploads and ingests documents into DIR's
//! stores until it is killed, saving the vector snapshot every few documents, and
//! prints a line for every document the store acknowledged as completed:
//!
//! ```text
//! completed <document id> <chunks>
//! ```

use std::io::Write;

use chatstore::chunking::{ChunkingOptions, TextPart};
use chatstore::{DocumentStore, NewDocument, VectorIndex};
use chatstore_tests::{WordEmbedder, word_collection};

const WORDS: [&str; 12] = [
    "account",
    "balance",
    "card",
    "deposit",
    "interest",
    "loan",
    "payment",
    "rate",
    "savings",
    "transfer",
    "branch",
    "statement",
];

fn main() {
    let (dir, mut random) = chatstore_tests::child_args("crash_ingester DIR SEED");
    let chat = chatstore_tests::open_chat(&dir);
    let user = chatstore_tests::writer(chat.store());
    let embedder = WordEmbedder::default();
    let options = ChunkingOptions {
        size: 200,
        overlap: 40,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}", chatstore_tests::READY).expect("stdout");
    out.flush().expect("flush");
    for n in 0.. {
        let document = chat
            .store()
            .create_document(user.id, &NewDocument::new("doc.txt", "/files/doc.txt"))
            .expect("document");
        let text: Vec<String> = (0..20 + random(200))
            .map(|_| WORDS[random(WORDS.len() as u64) as usize].to_owned())
            .collect();
        let text = TextPart::text(text.join(" ") + &format!(" unique{}", random(u64::MAX)));
        let done = chat
            .ingest_document(
                user.id,
                document.id,
                &word_collection(),
                &[text],
                &embedder,
                &options,
            )
            .expect("ingest");
        writeln!(out, "completed {} {}", document.id, done.chunks.len()).expect("stdout");
        out.flush().expect("flush");
        if n % 7 == 6 {
            chat.vectors().save().expect("snapshot");
        }
    }
}
