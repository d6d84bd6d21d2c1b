//! Documents and chunks: registration, scope and visibility, listing, editing, the
//! processing lifecycle, chunk storage and deletion.

use super::support::{
    admin, document, documents_of, global_document, new_chunk, process, secs, start, user, walk,
};
use super::{Backend, fixture};
use crate::rbac::{permissions, roles};
use crate::{
    Chunk, ChunkId, Clock, ConflictKind, Cursor, Document, DocumentAnalysis, DocumentId,
    DocumentQuery, DocumentScope, DocumentUpdate, Error, NewChunk, NewConversation, NewDocument,
    ProcessingStatus, Result, Store, UserId,
};

/// Asserts `result` is an `InvalidState` conflict and the document is unchanged.
fn refused<T: std::fmt::Debug>(
    store: &dyn Store,
    before: &Document,
    what: &str,
    result: Result<T>,
) {
    assert_err!(
        result,
        Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        },
        "{what} on a {} document",
        before.status
    );
    assert_eq!(
        &store
            .document(before.owner_id, before.id)
            .expect("readable"),
        before,
        "{what} on a {} document changed it",
        before.status
    );
}

fn chunks_of(store: &dyn Store, user: UserId, id: DocumentId) -> Vec<Chunk> {
    store.chunks(user, id).expect("chunks")
}

/// A new document is pending and private with its fields; the title defaults to the file name.
pub fn documents_create_defaults(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let doc = document(s, ada.id, "report.pdf");
    assert_eq!(doc.owner_id, ada.id);
    assert_eq!(doc.filename, "report.pdf");
    assert_eq!(doc.file_path, "/files/report.pdf");
    assert_eq!(
        doc.title, "report.pdf",
        "the title defaults to the file name"
    );
    assert_eq!(doc.scope, DocumentScope::User);
    assert_eq!(doc.status, ProcessingStatus::Pending);
    assert_eq!((doc.num_chunks, doc.num_tokens), (0, 0));
    assert_eq!(doc.uploaded_at, start());
    assert_eq!(doc.processed_at, None);
    assert_eq!(doc.error_message, None);
    assert_eq!(doc.summarized_at, None);
    assert!(doc.tags.is_empty() && doc.auto_keywords.is_empty() && doc.auto_topics.is_empty());
    assert_eq!(s.document(ada.id, doc.id).expect("read back"), doc);

    let full = s
        .create_document(
            ada.id,
            &NewDocument {
                file_type: Some("pdf".into()),
                file_size: Some(123_456),
                title: Some("Annual report".into()),
                description: Some("The 2025 figures".into()),
                category: Some("finance".into()),
                tags: vec!["2025".into(), "annual".into()],
                ..NewDocument::new("annual.pdf", "/files/annual.pdf")
            },
        )
        .expect("create with every field");
    assert_eq!(full.title, "Annual report");
    assert_eq!(full.file_type.as_deref(), Some("pdf"));
    assert_eq!(full.file_size, Some(123_456));
    assert_eq!(full.description.as_deref(), Some("The 2025 figures"));
    assert_eq!(full.category.as_deref(), Some("finance"));
    assert_eq!(full.tags, vec!["2025".to_owned(), "annual".to_owned()]);
    assert_eq!(s.document(ada.id, full.id).expect("read back"), full);
}

/// A blank file name or path is a validation error registering nothing; unknown users: not found.
pub fn documents_create_rejects_bad_input(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    assert_err!(
        s.create_document(ada.id, &NewDocument::new("  ", "/files/x")),
        Error::Validation {
            field: "filename",
            ..
        }
    );
    assert_err!(
        s.create_document(ada.id, &NewDocument::new("x.pdf", "")),
        Error::Validation {
            field: "file_path",
            ..
        }
    );
    assert_err!(
        s.create_document(
            ada.id,
            &NewDocument {
                title: Some("t".repeat(501)),
                ..NewDocument::new("x.pdf", "/files/x.pdf")
            }
        ),
        Error::Validation { field: "title", .. }
    );
    assert!(documents_of(s, ada.id).is_empty());
    assert_err!(
        s.create_document(UserId::new(), &NewDocument::new("x.pdf", "/files/x.pdf")),
        Error::NotFound { .. }
    );
}

/// A global document needs `admin:full` (`Forbidden`, nothing stored); everyone then sees it.
pub fn documents_global_scope_needs_admin_full(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let viewer = user(s, "viewer");
    let analyst = user(s, "analyst");
    s.assign_role(analyst.id, roles::ANALYST).expect("analyst");
    let global = |filename: &str| NewDocument {
        scope: DocumentScope::Global,
        ..NewDocument::new(filename, "/shared/x")
    };
    for who in [&viewer, &analyst] {
        assert_err!(
            s.create_document(who.id, &global("shared.pdf")),
            Error::Forbidden { ref permission } if permission == permissions::ADMIN_FULL,
            "{}",
            who.username
        );
        assert!(documents_of(s, who.id).is_empty(), "nothing registered");
    }
    let boss = admin(s, "boss");
    let doc = s
        .create_document(boss.id, &global("shared.pdf"))
        .expect("an admin registers a global document");
    assert_eq!(doc.scope, DocumentScope::Global);
    for who in [&viewer, &analyst] {
        assert_eq!(s.document(who.id, doc.id).expect("visible to all"), doc);
        assert_eq!(documents_of(s, who.id), vec![doc.clone()]);
    }
}

/// Users see their own and global documents; another user's private document is not found.
pub fn documents_visibility(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let adas = document(s, ada.id, "ada.pdf");
    f.clock.advance(secs(1));
    let bobs = document(s, bob.id, "bob.pdf");
    f.clock.advance(secs(1));
    let shared = global_document(s, boss.id, "shared.pdf");
    assert_eq!(documents_of(s, ada.id), vec![shared.clone(), adas.clone()]);
    assert_eq!(documents_of(s, bob.id), vec![shared.clone(), bobs.clone()]);
    assert_err!(s.document(ada.id, bobs.id), Error::NotFound { .. });
    assert_err!(s.chunks(ada.id, bobs.id), Error::NotFound { .. });
    assert_err!(s.document(bob.id, adas.id), Error::NotFound { .. });
    assert_err!(
        s.document(ada.id, DocumentId::new()),
        Error::NotFound { .. }
    );
}

/// Listings run newest upload first, filter by scope and status, and page without gaps or repeats.
pub fn documents_list_filters_and_pages(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    let mut made = Vec::new();
    for i in 0..7 {
        if i % 2 == 0 {
            f.clock.advance(secs(1));
        }
        made.push(if i == 3 {
            global_document(s, boss.id, &format!("doc{i}"))
        } else {
            document(s, ada.id, &format!("doc{i}"))
        });
    }
    process(s, ada.id, &made[1], &["one"]);
    process(s, ada.id, &made[5], &["five"]);
    let newest_first: Vec<DocumentId> = documents_of(s, ada.id).iter().map(|d| d.id).collect();
    assert_eq!(newest_first.len(), 7);
    let times: Vec<_> = documents_of(s, ada.id)
        .iter()
        .map(|d| d.uploaded_at)
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest upload first"
    );

    for limit in [1, 2, 3, 7] {
        let pages = walk(|cursor| {
            s.list_documents(
                ada.id,
                &DocumentQuery {
                    limit,
                    cursor,
                    ..DocumentQuery::default()
                },
            )
            .expect("page")
        });
        let walked: Vec<DocumentId> = pages.into_iter().flatten().map(|d| d.id).collect();
        assert_eq!(walked, newest_first, "limit {limit}");
    }
    let filtered = |scope, status| -> Vec<DocumentId> {
        let mut ids: Vec<DocumentId> = walk(|cursor| {
            s.list_documents(
                ada.id,
                &DocumentQuery {
                    scope,
                    status,
                    limit: 2,
                    cursor,
                },
            )
            .expect("filtered page")
        })
        .into_iter()
        .flatten()
        .map(|d| d.id)
        .collect();
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<DocumentId>| {
        ids.sort();
        ids
    };
    assert_eq!(
        filtered(Some(DocumentScope::Global), None),
        vec![made[3].id]
    );
    assert_eq!(filtered(Some(DocumentScope::User), None).len(), 6);
    assert_eq!(
        filtered(None, Some(ProcessingStatus::Completed)),
        sorted(vec![made[1].id, made[5].id])
    );
    assert_eq!(filtered(None, Some(ProcessingStatus::Pending)).len(), 5);
    assert!(filtered(None, Some(ProcessingStatus::Failed)).is_empty());
    assert_eq!(
        filtered(Some(DocumentScope::Global), Some(ProcessingStatus::Pending)),
        vec![made[3].id]
    );

    for text in ["", "bogus", "2026-01-01T00:00:00.000000Z~nope"] {
        assert_err!(
            s.list_documents(
                ada.id,
                &DocumentQuery {
                    cursor: Some(Cursor::new(text)),
                    ..DocumentQuery::default()
                }
            ),
            Error::Validation {
                field: "cursor",
                ..
            },
            "{text:?}"
        );
    }
    for limit in [0, 1001] {
        assert_err!(
            s.list_documents(
                ada.id,
                &DocumentQuery {
                    limit,
                    ..DocumentQuery::default()
                }
            ),
            Error::Validation { field: "limit", .. }
        );
    }
}

/// Updates change exactly the given fields; a blank title is a validation error changing nothing.
pub fn documents_update(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let doc = document(s, ada.id, "notes.txt");
    let updated = s
        .update_document(
            ada.id,
            doc.id,
            &DocumentUpdate {
                title: Some("Meeting notes".into()),
                description: Some(Some("From Monday".into())),
                category: Some(Some("meetings".into())),
                tags: Some(vec!["monday".into(), "team".into()]),
            },
        )
        .expect("update");
    assert_eq!(updated.title, "Meeting notes");
    assert_eq!(updated.description.as_deref(), Some("From Monday"));
    assert_eq!(updated.category.as_deref(), Some("meetings"));
    assert_eq!(updated.tags, vec!["monday".to_owned(), "team".to_owned()]);
    assert_eq!(updated.filename, "notes.txt");
    assert_eq!(s.document(ada.id, doc.id).expect("read"), updated);

    let untouched = s
        .update_document(ada.id, doc.id, &DocumentUpdate::default())
        .expect("empty update");
    assert_eq!(untouched.title, updated.title);
    assert_eq!(untouched.description, updated.description);
    assert_eq!(untouched.tags, updated.tags);

    let cleared = s
        .update_document(
            ada.id,
            doc.id,
            &DocumentUpdate {
                description: Some(None),
                category: Some(None),
                tags: Some(Vec::new()),
                ..DocumentUpdate::default()
            },
        )
        .expect("clear");
    assert_eq!(cleared.description, None);
    assert_eq!(cleared.category, None);
    assert!(cleared.tags.is_empty());
    assert_eq!(cleared.title, "Meeting notes");

    assert_err!(
        s.update_document(
            ada.id,
            doc.id,
            &DocumentUpdate {
                title: Some("   ".into()),
                category: Some(Some("changed".into())),
                ..DocumentUpdate::default()
            }
        ),
        Error::Validation { field: "title", .. }
    );
    assert_eq!(s.document(ada.id, doc.id).expect("read"), cleared);
    assert_err!(
        s.update_document(ada.id, DocumentId::new(), &DocumentUpdate::default()),
        Error::NotFound { .. }
    );
}

/// Recording an analysis stores every generated field, stamped with `summarized_at`.
pub fn documents_analysis(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let doc = document(s, ada.id, "policy.pdf");
    f.clock.advance(secs(90));
    let analysed = s
        .set_document_analysis(
            ada.id,
            doc.id,
            &DocumentAnalysis {
                auto_summary: Some("Who may open joint accounts.".into()),
                auto_keywords: vec!["joint".into(), "account".into()],
                auto_topics: vec!["banking".into()],
                content_type: Some("legal".into()),
                summarization_model: Some("deepseek-chat".into()),
                summarization_tokens: Some(812),
            },
        )
        .expect("analysis");
    assert_eq!(
        analysed.auto_summary.as_deref(),
        Some("Who may open joint accounts.")
    );
    assert_eq!(
        analysed.auto_keywords,
        vec!["joint".to_owned(), "account".to_owned()]
    );
    assert_eq!(analysed.auto_topics, vec!["banking".to_owned()]);
    assert_eq!(analysed.content_type.as_deref(), Some("legal"));
    assert_eq!(
        analysed.summarization_model.as_deref(),
        Some("deepseek-chat")
    );
    assert_eq!(analysed.summarization_tokens, Some(812));
    assert_eq!(analysed.summarized_at, Some(f.clock.now()));
    assert_eq!(
        analysed.status,
        ProcessingStatus::Pending,
        "status untouched"
    );
    assert_eq!(s.document(ada.id, doc.id).expect("read"), analysed);
}

/// Every allowed processing step works, failing records a reason and retrying clears it.
pub fn documents_lifecycle_allowed_steps(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let doc = document(s, ada.id, "scan.pdf");
    let processing = s.start_processing(ada.id, doc.id).expect("start");
    assert_eq!(processing.status, ProcessingStatus::Processing);
    let failed = s
        .fail_processing(ada.id, doc.id, "OCR timed out")
        .expect("fail");
    assert_eq!(failed.status, ProcessingStatus::Failed);
    assert_eq!(failed.error_message.as_deref(), Some("OCR timed out"));
    let retry = s.start_processing(ada.id, doc.id).expect("retry");
    assert_eq!(retry.status, ProcessingStatus::Processing);
    assert_eq!(retry.error_message, None, "retrying clears the error");
    f.clock.advance(secs(30));
    let done = s.complete_processing(ada.id, doc.id).expect("complete");
    assert_eq!(done.status, ProcessingStatus::Completed);
    assert_eq!(done.processed_at, Some(f.clock.now()));
    assert_eq!(done.error_message, None);
    let again = s.start_processing(ada.id, doc.id).expect("reprocess");
    assert_eq!(again.status, ProcessingStatus::Processing);
    f.clock.advance(secs(30));
    let redone = s
        .complete_processing(ada.id, doc.id)
        .expect("complete again");
    assert_eq!(redone.status, ProcessingStatus::Completed);
    assert_eq!(redone.processed_at, Some(f.clock.now()));
    assert_eq!(s.document(ada.id, doc.id).expect("read"), redone);
}

/// Documents left `processing` since before the cut-off (their ingestion died) become
/// `failed` with a reason and can be processed again, keeping their chunks; documents
/// processing since later, and documents in other states, are not touched.
pub fn documents_interrupted_processing_fails(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let stuck = document(s, ada.id, "stuck.pdf");
    process(s, ada.id, &stuck, &["kept"]);
    s.start_processing(ada.id, stuck.id).expect("start again");
    let done = document(s, bob.id, "done.pdf");
    process(s, bob.id, &done, &["done"]);
    let pending = document(s, bob.id, "pending.pdf");
    f.clock.advance(secs(3600));
    let cut_off = f.clock.now();
    f.clock.advance(secs(1));
    let recent = document(s, bob.id, "recent.pdf");
    s.start_processing(bob.id, recent.id).expect("start");
    let untouched: Vec<Document> = [(bob.id, done.id), (bob.id, pending.id), (bob.id, recent.id)]
        .iter()
        .map(|(owner, id)| s.document(*owner, *id).expect("document"))
        .collect();

    assert_eq!(
        s.fail_interrupted_processing(cut_off).expect("sweep"),
        vec![stuck.id]
    );
    let failed = s.document(ada.id, stuck.id).expect("document");
    assert_eq!(failed.status, ProcessingStatus::Failed);
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("interrupted"),
        "{failed:?}"
    );
    assert_eq!(
        s.chunks(ada.id, stuck.id).expect("chunks")[0].content,
        "kept"
    );
    for before in &untouched {
        assert_eq!(&s.document(bob.id, before.id).expect("document"), before);
    }
    assert!(
        s.fail_interrupted_processing(cut_off)
            .expect("again")
            .is_empty()
    );
    let restarted = s
        .start_processing(ada.id, stuck.id)
        .expect("processed again");
    assert_eq!(restarted.status, ProcessingStatus::Processing);
}

/// Every processing step not allowed from the current status is `InvalidState`, changing nothing.
pub fn documents_lifecycle_disallowed_steps(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let u = ada.id;
    let pending = document(s, u, "pending.pdf");
    let processing = document(s, u, "processing.pdf");
    let processing = s.start_processing(u, processing.id).expect("start");
    let (completed, _) = process(s, u, &document(s, u, "completed.pdf"), &["text"]);
    let failed = document(s, u, "failed.pdf");
    s.start_processing(u, failed.id).expect("start");
    let failed = s.fail_processing(u, failed.id, "broken").expect("fail");
    f.clock.advance(secs(60));

    refused(
        s,
        &pending,
        "complete",
        s.complete_processing(u, pending.id),
    );
    refused(s, &pending, "fail", s.fail_processing(u, pending.id, "x"));
    refused(
        s,
        &processing,
        "start",
        s.start_processing(u, processing.id),
    );
    refused(
        s,
        &completed,
        "complete",
        s.complete_processing(u, completed.id),
    );
    refused(
        s,
        &completed,
        "fail",
        s.fail_processing(u, completed.id, "x"),
    );
    refused(s, &failed, "complete", s.complete_processing(u, failed.id));
    refused(s, &failed, "fail", s.fail_processing(u, failed.id, "again"));
}

/// Chunks are added or deleted only while processing (`InvalidState` otherwise, nothing changed).
pub fn documents_chunks_only_while_processing(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let u = ada.id;
    let pending = document(s, u, "pending.pdf");
    let (completed, completed_chunks) = process(s, u, &document(s, u, "done.pdf"), &["a", "b"]);
    let failed = document(s, u, "failed.pdf");
    s.start_processing(u, failed.id).expect("start");
    s.add_chunks(u, failed.id, &[new_chunk(0, "partial", None)])
        .expect("add while processing");
    let failed = s.fail_processing(u, failed.id, "broken").expect("fail");
    let failed_chunks = chunks_of(s, u, failed.id);
    for (doc, chunks) in [
        (&pending, Vec::new()),
        (&completed, completed_chunks),
        (&failed, failed_chunks),
    ] {
        refused(
            s,
            doc,
            "add chunks",
            s.add_chunks(u, doc.id, &[new_chunk(9, "late", Some(1))]),
        );
        refused(s, doc, "delete chunks", s.delete_chunks(u, doc.id));
        assert_eq!(
            chunks_of(s, u, doc.id),
            chunks,
            "{} chunks kept",
            doc.status
        );
    }
}

/// A reused chunk index is a unique conflict and none of its batch is stored.
pub fn documents_duplicate_chunk_index_stores_nothing(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let doc = document(s, ada.id, "doc.pdf");
    s.start_processing(ada.id, doc.id).expect("start");
    let first = s
        .add_chunks(
            ada.id,
            doc.id,
            &[new_chunk(0, "zero", Some(1)), new_chunk(1, "one", Some(1))],
        )
        .expect("first batch");
    for batch in [
        vec![new_chunk(2, "two", None), new_chunk(1, "one again", None)],
        vec![
            new_chunk(3, "three", None),
            new_chunk(3, "three again", None),
        ],
    ] {
        assert_err!(
            s.add_chunks(ada.id, doc.id, &batch),
            Error::Conflict {
                kind: ConflictKind::Unique,
                ..
            }
        );
        assert_eq!(
            chunks_of(s, ada.id, doc.id),
            first,
            "none of the batch stored"
        );
    }
    assert_err!(
        s.add_chunks(
            ada.id,
            doc.id,
            &[new_chunk(2, "fine", None), new_chunk(3, "  \n", None)]
        ),
        Error::Validation { .. }
    );
    assert_eq!(chunks_of(s, ada.id, doc.id), first);
    let more = s
        .add_chunks(
            ada.id,
            doc.id,
            &[new_chunk(2, "two", None), new_chunk(3, "three", None)],
        )
        .expect("the indexes are still free");
    assert_eq!(more.len(), 2);
    assert_eq!(chunks_of(s, ada.id, doc.id).len(), 4);
}

/// Chunks read back in index order; completing sets the chunk and token counts from them.
pub fn documents_chunks_and_completion_counts(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let doc = document(s, ada.id, "book.pdf");
    s.start_processing(ada.id, doc.id).expect("start");
    let added = s
        .add_chunks(
            ada.id,
            doc.id,
            &[
                NewChunk {
                    chunk_index: 2,
                    content: "Chapter three.".into(),
                    num_tokens: Some(30),
                    page_number: Some(9),
                    section: Some("3".into()),
                },
                new_chunk(0, "Chapter one.", Some(10)),
                new_chunk(1, "Chapter two.", None),
            ],
        )
        .expect("add");
    assert_eq!(added.len(), 3);
    assert!(
        added
            .iter()
            .all(|c| c.document_id == doc.id && c.embedding_id.is_none())
    );
    let stored = chunks_of(s, ada.id, doc.id);
    let indexes: Vec<u32> = stored.iter().map(|c| c.chunk_index).collect();
    assert_eq!(indexes, vec![0, 1, 2], "index order");
    for chunk in &added {
        assert_eq!(
            stored.iter().find(|c| c.id == chunk.id),
            Some(chunk),
            "chunk {} reads back as returned",
            chunk.chunk_index
        );
    }
    assert_eq!(stored[2].page_number, Some(9));
    assert_eq!(stored[2].section.as_deref(), Some("3"));
    let done = s.complete_processing(ada.id, doc.id).expect("complete");
    assert_eq!(done.num_chunks, 3);
    assert_eq!(done.num_tokens, 40);
}

/// `chunks_by_ids` keeps the order asked and leaves out missing and invisible chunks.
pub fn documents_chunks_by_ids(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let (_, mine) = process(
        s,
        ada.id,
        &document(s, ada.id, "a.pdf"),
        &["a0", "a1", "a2"],
    );
    let (_, bobs) = process(s, bob.id, &document(s, bob.id, "b.pdf"), &["b0"]);
    let (_, shared) = process(s, boss.id, &global_document(s, boss.id, "g.pdf"), &["g0"]);
    let asked = vec![
        mine[2].id,
        bobs[0].id,
        ChunkId::new(),
        shared[0].id,
        mine[0].id,
    ];
    let got = s.chunks_by_ids(ada.id, &asked).expect("chunks by ids");
    assert_eq!(
        got,
        vec![mine[2].clone(), shared[0].clone(), mine[0].clone()]
    );
    assert!(s.chunks_by_ids(ada.id, &[]).expect("none asked").is_empty());
    let got = s
        .chunks_by_ids(bob.id, &[mine[1].id, bobs[0].id])
        .expect("bob's view");
    assert_eq!(got, vec![bobs[0].clone()]);
}

/// Deleting a processing document's chunks counts and removes them, allowing re-chunking.
pub fn documents_delete_chunks(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (doc, old) = process(s, ada.id, &document(s, ada.id, "a.pdf"), &["x", "y"]);
    s.start_processing(ada.id, doc.id).expect("reprocess");
    assert_eq!(s.delete_chunks(ada.id, doc.id).expect("delete"), 2);
    assert!(chunks_of(s, ada.id, doc.id).is_empty());
    let ids: Vec<ChunkId> = old.iter().map(|c| c.id).collect();
    assert!(s.chunks_by_ids(ada.id, &ids).expect("gone").is_empty());
    assert_eq!(s.delete_chunks(ada.id, doc.id).expect("none left"), 0);
    s.add_chunks(ada.id, doc.id, &[new_chunk(0, "new x", Some(5))])
        .expect("re-chunk");
    let done = s.complete_processing(ada.id, doc.id).expect("complete");
    assert_eq!((done.num_chunks, done.num_tokens), (1, 5));
}

/// Deleting a document returns its cleanup, removes its chunks and every selection of it.
pub fn documents_delete_document(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    let (own, own_chunks) = process(s, ada.id, &document(s, ada.id, "own.pdf"), &["o"]);
    let keep = document(s, ada.id, "keep.pdf");
    let shared = global_document(s, boss.id, "shared.pdf");
    let chat = s
        .create_conversation(
            ada.id,
            &NewConversation {
                selected_document_ids: vec![own.id, keep.id, shared.id],
                ..NewConversation::titled("docs")
            },
        )
        .expect("conversation");
    let boss_chat = s
        .create_conversation(
            boss.id,
            &NewConversation {
                selected_document_ids: vec![shared.id],
                ..NewConversation::titled("boss")
            },
        )
        .expect("conversation");

    let cleanup = s.delete_document(ada.id, own.id).expect("delete");
    assert_eq!(cleanup.documents, vec![own.id]);
    assert_eq!(cleanup.deleted, 1);
    assert_err!(s.document(ada.id, own.id), Error::NotFound { .. });
    assert_err!(s.chunks(ada.id, own.id), Error::NotFound { .. });
    assert!(
        s.chunks_by_ids(ada.id, &[own_chunks[0].id])
            .expect("chunks")
            .is_empty()
    );
    let mut left = s
        .conversation(ada.id, chat.id)
        .expect("chat")
        .selected_document_ids;
    left.sort();
    let mut want = vec![keep.id, shared.id];
    want.sort();
    assert_eq!(left, want);

    let cleanup = s
        .delete_document(boss.id, shared.id)
        .expect("delete global");
    assert_eq!(cleanup.documents, vec![shared.id]);
    assert_eq!(
        s.conversation(ada.id, chat.id)
            .expect("chat")
            .selected_document_ids,
        vec![keep.id]
    );
    assert!(
        s.conversation(boss.id, boss_chat.id)
            .expect("boss chat")
            .selected_document_ids
            .is_empty()
    );
    assert_eq!(documents_of(s, ada.id), vec![keep]);
    assert_err!(s.delete_document(ada.id, own.id), Error::NotFound { .. });
}

/// Changing another user's global document is `Forbidden` without `admin:full`, changing nothing.
pub fn documents_global_changes_need_admin_full(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let other_admin = admin(s, "deputy");
    let ada = user(s, "ada");
    let shared = global_document(s, boss.id, "shared.pdf");
    let forbidden = |what: &str, result: Result<Document>| {
        assert_err!(
            result,
            Error::Forbidden { ref permission } if permission == permissions::ADMIN_FULL,
            "{what}"
        );
    };
    let u = ada.id;
    forbidden(
        "update",
        s.update_document(
            u,
            shared.id,
            &DocumentUpdate {
                title: Some("mine now".into()),
                ..DocumentUpdate::default()
            },
        ),
    );
    forbidden(
        "analysis",
        s.set_document_analysis(u, shared.id, &DocumentAnalysis::default()),
    );
    forbidden("start", s.start_processing(u, shared.id));
    assert_err!(s.delete_document(u, shared.id), Error::Forbidden { .. });
    assert_eq!(s.document(u, shared.id).expect("still there"), shared);

    s.start_processing(boss.id, shared.id)
        .expect("owner starts");
    let processing = s.document(u, shared.id).expect("read");
    assert_err!(
        s.add_chunks(u, shared.id, &[new_chunk(0, "spam", None)]),
        Error::Forbidden { .. }
    );
    assert_err!(s.delete_chunks(u, shared.id), Error::Forbidden { .. });
    forbidden("complete", s.complete_processing(u, shared.id));
    forbidden("fail", s.fail_processing(u, shared.id, "no"));
    assert_eq!(s.document(u, shared.id).expect("read"), processing);
    assert!(chunks_of(s, u, shared.id).is_empty());

    let renamed = s
        .update_document(
            other_admin.id,
            shared.id,
            &DocumentUpdate {
                title: Some("Handbook".into()),
                ..DocumentUpdate::default()
            },
        )
        .expect("another admin may change a global document");
    assert_eq!(renamed.title, "Handbook");
    assert_eq!(renamed.owner_id, boss.id);
}
