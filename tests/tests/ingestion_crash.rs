//! Crash safety of ingestion: a process ingesting documents (and saving vector
//! snapshots now and then) is killed at random moments, many times. Afterwards every
//! acknowledged document is completed with all its chunks, every chunk of a completed
//! document has its embedding, no other document has any, and the reopened index holds
//! exactly the store's embeddings.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chatstore::{
    DocumentId, DocumentQuery, DocumentStore, EmbeddingSource, ProcessingStatus, UserStore,
    VectorIndex,
};
use chatstore_tests::{TempChat, TempSqlite, run_and_kill, word_collection};

const RUNS: u64 = 12;

#[test]
fn killed_ingestion_never_leaves_a_half_indexed_document() {
    let location = TempSqlite::new();
    let mut acknowledged: HashMap<DocumentId, u32> = HashMap::new();
    for run in 0..RUNS {
        let lines = run_and_kill(
            env!("CARGO_BIN_EXE_crash_ingester"),
            location.dir(),
            run + 1,
            Duration::from_millis(350),
        );
        for line in lines {
            match line.split(' ').collect::<Vec<_>>().as_slice() {
                ["completed", document, chunks] => {
                    let document = document.parse().expect("document id");
                    acknowledged.insert(document, chunks.parse().expect("count"));
                }
                _ => panic!("unexpected line {line:?}"),
            }
        }
    }
    assert!(
        acknowledged.len() > 20,
        "the writer made progress ({} documents)",
        acknowledged.len()
    );

    let t = TempChat::open(location);
    let store = t.chat.store();
    let writer = store.user_by_username("writer").expect("writer");
    let mut documents = Vec::new();
    let mut query = DocumentQuery {
        limit: 100,
        ..DocumentQuery::default()
    };
    loop {
        let page = store.list_documents(writer.id, &query).expect("documents");
        documents.extend(page.items);
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let collection = word_collection().name;
    let embedded: HashSet<_> = store
        .embedding_versions(&collection)
        .expect("versions")
        .into_iter()
        .map(|(chunk, _)| chunk)
        .collect();
    let mut completed_chunks = 0;
    for document in &documents {
        let chunks = store.chunks(writer.id, document.id).expect("chunks");
        if let Some(&count) = acknowledged.get(&document.id) {
            assert_eq!(
                document.status,
                ProcessingStatus::Completed,
                "acknowledged {}",
                document.id
            );
            assert_eq!(
                chunks.len() as u32,
                count,
                "acknowledged {} lost chunks",
                document.id
            );
        }
        match document.status {
            ProcessingStatus::Completed => {
                assert_eq!(document.num_chunks as usize, chunks.len());
                assert!(
                    chunks.iter().all(|c| embedded.contains(&c.id)),
                    "a chunk without its embedding"
                );
                completed_chunks += chunks.len();
            }
            other => assert!(chunks.is_empty(), "a {other} document has chunks"),
        }
    }
    assert_eq!(
        embedded.len(),
        completed_chunks,
        "embeddings of no completed chunk"
    );
    let ids: Vec<_> = embedded.iter().copied().collect();
    assert_eq!(
        t.chat.vectors().get(&collection, &ids).expect("get").len(),
        ids.len()
    );
    assert_eq!(
        t.chat.vectors().collections().expect("collections")[0].count as usize,
        ids.len()
    );
    eprintln!(
        "documents: {}, acknowledged: {}, chunks: {completed_chunks}",
        documents.len(),
        acknowledged.len()
    );
}
