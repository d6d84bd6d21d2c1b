//! The store copy ([`crate::transfer`]) between two backends: everything arrives, the
//! copy is verified, an interrupted copy finishes when run again, and a target holding
//! another store's data is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::support::{admin, conversation, password, say, user};
use super::test_config;
use crate::transfer::{
    CopyOptions, CopyReport, Endpoint, Row, TABLES, Table, TableTransfer, Value, copy_store, table,
    verify_copy,
};
use crate::{
    AgentLogStore, ConversationStore, DocumentStore, EmbeddingStore, RbacStore, SearchStore,
    SessionStore, UsageStore, UserStore,
};
use crate::{
    BlobKey, BlobStore, ChatStore, CollectionSpec, Config, ConflictKind, ConversationId,
    ConversationQuery, Distance, Error, ManualClock, MessageId, MessageMetadata, NewAgentLog,
    NewAttachment, NewChunk, NewDocument, NewMessage, NewSession, NewUsage, NoVectorIndex,
    OperationType, Password, Result, SearchQuery, SessionToken, Store, TimeRange, UserId,
    embeddings::cache_key,
};

/// One side of a copy under test: opens a store and its attachment store on places
/// that belong to this value.
pub trait CopyBackend {
    /// The store.
    type Store: Store + TableTransfer;
    /// Its attachment store.
    type Blobs: BlobStore;

    /// Opens both with `config` (whose location the backend replaces with its own).
    fn open(&self, config: Config) -> Result<(Self::Store, Self::Blobs)>;
}

/// A store and its attachments, tied together.
type Opened<B> = ChatStore<<B as CopyBackend>::Store, <B as CopyBackend>::Blobs, NoVectorIndex>;

fn open<B: CopyBackend>(backend: &B, clock: &ManualClock) -> Opened<B> {
    let config = test_config().0.clock(Arc::new(clock.clone()));
    let (store, blobs) = backend.open(config).expect("the backend opens");
    ChatStore::new(store, blobs, NoVectorIndex).expect("the stores tie together")
}

fn endpoint<S: Store + TableTransfer, B: BlobStore>(
    opened: &ChatStore<S, B, NoVectorIndex>,
) -> Endpoint<'_> {
    Endpoint {
        rows: opened.store(),
        blobs: opened.blobs(),
    }
}

const COLLECTION: &str = "copy_vectors";

/// What [`populate`] wrote that the checks look for.
struct Sample {
    ada: UserId,
    bob: UserId,
    token: SessionToken,
    plans: ConversationId,
    answer: MessageId,
    files: MessageId,
    cache_key: String,
}

/// A store with a row in every copied table and something unusual in most: a custom
/// role and permission, a standard role with a permission taken away, a deactivated
/// user, a revoked session, an archived, a deleted and a hidden conversation, a branch,
/// RAG metadata, attachments with a thumbnail, a processed document with embeddings,
/// a cache entry, an agent run and priced usage.
fn populate<S: Store + TableTransfer, B: BlobStore>(
    chat: &ChatStore<S, B, NoVectorIndex>,
    clock: &ManualClock,
) -> Sample {
    let s = chat.store();
    let ada = admin(s, "ada");
    let bob = user(s, "bob");
    let carol = user(s, "carol");
    s.set_user_active(carol.id, false).expect("deactivate");
    s.create_role("auditor", Some("Reads the logs"))
        .expect("custom role");
    s.create_permission("audit:read", Some("Read audit trails"))
        .expect("custom permission");
    s.grant_permission("auditor", "audit:read").expect("grant");
    s.assign_role(bob.id, "auditor").expect("assign");
    s.revoke_permission("viewer", "explain:view")
        .expect("revoke a standard grant");
    let (_, token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    let (_, revoked) = s
        .create_session(bob.id, &NewSession::default())
        .expect("session");
    s.revoke_session(&revoked).expect("revoke");

    clock.advance(std::time::Duration::from_secs(60));
    let plans = conversation(s, ada.id, "Plans for the lighthouse");
    let question = say(
        s,
        ada.id,
        plans.id,
        "Which lamp keeps the lighthouse bright?",
    );
    let metadata = MessageMetadata {
        model_name: Some("llama3".into()),
        tokens: Some(42),
        latency_ms: Some(1234),
        confidence_score: Some(0.8125),
        agents_involved: vec!["retriever".into(), "writer".into()],
        extra: serde_json::json!({"zeta": 1.5, "alpha": [1, 2, {"deep": null}]})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..MessageMetadata::default()
    };
    let answer = s
        .append_message(
            ada.id,
            plans.id,
            &NewMessage::assistant("The Fresnel lens keeps the lighthouse bright.")
                .with_metadata(metadata),
        )
        .expect("answer");
    s.append_message(
        ada.id,
        plans.id,
        &NewMessage::user("And the fog horn? (a branch)").reply_to(question.id),
    )
    .expect("branch");
    let files = chat
        .append_with_attachments(
            ada.id,
            plans.id,
            &NewMessage::user("the drawings"),
            vec![
                NewAttachment::new("lens.png", "image/png", pattern("lens", 70_000))
                    .with_thumbnail(pattern("thumb", 900)),
                NewAttachment::new("notes.txt", "text/plain", b"keep the wick trimmed".to_vec()),
            ],
        )
        .expect("attachments")
        .id;
    let old = conversation(s, ada.id, "Old logbook");
    say(s, ada.id, old.id, "archived words");
    s.archive_conversation(ada.id, old.id).expect("archive");
    let gone = conversation(s, bob.id, "Regrets");
    say(s, bob.id, gone.id, "soft deleted words");
    s.delete_conversation(bob.id, gone.id).expect("delete");
    let quiet = conversation(s, bob.id, "Quiet");
    s.hide_conversation(bob.id, quiet.id).expect("hide");

    clock.advance(std::time::Duration::from_secs(60));
    let spec = CollectionSpec::new(COLLECTION, 3, Distance::Cosine).expect("spec");
    s.create_embedding_collection(&spec).expect("collection");
    let manual = s
        .create_document(ada.id, &NewDocument::new("manual.pdf", "/docs/manual.pdf"))
        .expect("document");
    s.start_processing(ada.id, manual.id).expect("processing");
    s.complete_with_chunks(
        ada.id,
        manual.id,
        COLLECTION,
        &[
            NewChunk::new(0, "Trim the wick at dusk."),
            NewChunk::new(1, "Wind the clockwork every four hours."),
        ],
        &[vec![1.0, 0.0, 0.5], vec![0.0, 1.0, 0.25]],
    )
    .expect("chunks and embeddings");
    s.set_selected_documents(ada.id, plans.id, &[manual.id])
        .expect("selection");
    let cache_key = cache_key(Some(ada.id), "minilm", "Trim the wick at dusk.");
    s.cache_embeddings(Some(ada.id), &[(cache_key.clone(), vec![0.5, 0.25, -1.0])])
        .expect("cache");
    let mut run = NewAgentLog::new("retriever");
    run.input_data = Some(serde_json::json!({"query": "lamp", "k": 4}));
    run.execution_time = Some(0.375);
    run.confidence = Some(0.5);
    let run = s
        .record_agent_log(ada.id, answer.id, &run)
        .expect("agent log");
    let mut usage = NewUsage::new("openai", "gpt-4o", OperationType::Chat, 1200, 300);
    usage.conversation_id = Some(plans.id);
    usage.message_id = Some(answer.id);
    usage.agent_log_id = Some(run.id);
    s.record_usage(ada.id, &usage).expect("usage");
    let imported = chat
        .store()
        .insert_rows(
            table("imported_ids").expect("a copied table"),
            &[vec![
                Value::Text("seed002".into()),
                Value::Text("message".into()),
                Value::Text("42".into()),
                Value::Id(answer.id.as_uuid()),
                Value::Time(crate::Clock::now(clock)),
            ]],
        )
        .expect("an imported id");
    assert_eq!(imported, 1);
    Sample {
        ada: ada.id,
        bob: bob.id,
        token,
        plans: plans.id,
        answer: answer.id,
        files,
        cache_key,
    }
}

fn pattern(seed: &str, len: usize) -> Vec<u8> {
    let seed = seed.as_bytes();
    (0..len)
        .map(|i| seed[i % seed.len()].wrapping_add((i / 7) as u8))
        .collect()
}

fn copy(from: Endpoint<'_>, to: Endpoint<'_>, options: &CopyOptions) -> Result<CopyReport> {
    copy_store(from, to, options, &mut |_| {})
}

fn count(store: &dyn TableTransfer, name: &str) -> u64 {
    store
        .count_rows(table(name).expect("a copied table"))
        .expect("count")
}

fn counts(store: &dyn TableTransfer) -> Vec<(&'static str, u64)> {
    TABLES
        .iter()
        .map(|t| (t.name, store.count_rows(t).expect("count")))
        .collect()
}

/// Every table and attachment arrives, the report says so, and the target behaves as
/// the source did: logins, sessions, permissions, listings, messages, search,
/// documents, embeddings, the cache, agent runs, usage and attachment bytes; and it
/// takes new writes.
pub fn copy_moves_every_row_and_attachment<S: CopyBackend, T: CopyBackend>(source: &S, target: &T) {
    let clock = test_config().1;
    let from = open(source, &clock);
    let sample = populate(&from, &clock);
    let to = open(target, &clock);
    let mut seen = Vec::new();
    let report = copy_store(
        endpoint(&from),
        endpoint(&to),
        &CopyOptions::default(),
        &mut |progress| seen.push(progress.item),
    )
    .expect("the copy succeeds");
    for t in TABLES {
        assert!(seen.contains(&t.name), "progress names {}", t.name);
    }
    assert_eq!(
        report.checks.len(),
        TABLES.len() + 1,
        "every table and the attachments"
    );
    assert!(
        report.checks.iter().all(|check| check.matches()),
        "{:?}",
        report.checks
    );
    for t in TABLES {
        let rows = count(from.store(), t.name);
        assert!(rows > 0, "the sample fills {}", t.name);
        assert_eq!(count(to.store(), t.name), rows, "{} rows", t.name);
    }
    assert_eq!(report.blobs.copied, 3, "two files and a thumbnail");
    assert_eq!(to.blobs().stats().expect("stats").keys, 3);

    let (a, b) = (from.store(), to.store());
    let ada = b
        .authenticate("ada", &Password::new(password("ada")))
        .expect("the old password logs in on the target");
    assert_eq!(ada.id, sample.ada);
    assert!(matches!(
        b.authenticate("carol", &Password::new(password("carol"))),
        Err(Error::UserInactive)
    ));
    let (_, who) = b
        .validate_session(&sample.token)
        .expect("a session survives the copy");
    assert_eq!(who.id, sample.ada);
    assert_eq!(
        b.list_sessions(sample.bob).expect("sessions"),
        a.list_sessions(sample.bob).expect("sessions")
    );
    assert!(b.has_permission(sample.bob, "audit:read").expect("rbac"));
    assert_eq!(
        b.role_permissions("viewer").expect("viewer"),
        a.role_permissions("viewer").expect("viewer"),
        "a standard role keeps the grants the source changed"
    );
    assert_eq!(b.roles().expect("roles"), a.roles().expect("roles"));
    for user in [sample.ada, sample.bob] {
        let query = ConversationQuery::default();
        let listed = a.list_conversations(user, &query).expect("list").items;
        assert_eq!(
            b.list_conversations(user, &query).expect("list").items,
            listed
        );
        for summary in &listed {
            assert_eq!(
                b.conversation(user, summary.id).expect("conversation"),
                a.conversation(user, summary.id).expect("conversation")
            );
            assert_eq!(
                super::support::messages_of(b, user, summary.id),
                super::support::messages_of(a, user, summary.id)
            );
        }
    }
    let hits = b
        .search_messages(sample.ada, &SearchQuery::new("fresnel"))
        .expect("search");
    assert_eq!(
        hits.len(),
        1,
        "the target's search index covers copied messages"
    );
    assert_eq!(hits[0].message_id, sample.answer);
    let documents = a
        .list_documents(sample.ada, &Default::default())
        .expect("documents")
        .items;
    assert_eq!(
        b.list_documents(sample.ada, &Default::default())
            .expect("documents")
            .items,
        documents
    );
    assert_eq!(
        b.chunks(sample.ada, documents[0].id).expect("chunks"),
        a.chunks(sample.ada, documents[0].id).expect("chunks")
    );
    let chunk_ids = |store: &dyn Store| {
        let mut ids: Vec<_> = store
            .embedding_versions(COLLECTION)
            .expect("versions")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        chunk_ids(b),
        chunk_ids(a),
        "embeddings arrive, with versions of the target's own"
    );
    assert_eq!(
        b.cached_embeddings(std::slice::from_ref(&sample.cache_key))
            .expect("cache"),
        vec![Some(vec![0.5, 0.25, -1.0])]
    );
    assert_eq!(
        b.agent_logs(sample.ada, sample.answer).expect("logs"),
        a.agent_logs(sample.ada, sample.answer).expect("logs")
    );
    assert_eq!(
        b.usage_totals(sample.ada, TimeRange::ALL).expect("usage"),
        a.usage_totals(sample.ada, TimeRange::ALL).expect("usage")
    );
    for key in [
        BlobKey::file(sample.files, 0),
        BlobKey::thumbnail(sample.files, 0),
        BlobKey::file(sample.files, 1),
    ] {
        assert_eq!(
            to.blobs().get(&key).expect("blob"),
            from.blobs().get(&key).expect("blob")
        );
    }
    assert_eq!(
        to.message_file(sample.ada, sample.files, 0)
            .expect("file")
            .1,
        pattern("lens", 70_000)
    );

    // The target is a store of its own now: sequences, counters and ids carry on.
    let plans = b.conversation(sample.ada, sample.plans).expect("plans");
    let next = say(b, sample.ada, plans.id, "after the copy");
    assert_eq!(next.seq, plans.message_count + 1, "positions continue");
    b.create_role("keeper", None)
        .expect("a new role gets a fresh id");
    b.create_permission("lamp:light", None)
        .expect("a new permission gets a fresh id");
    user(b, "dora");
}

/// A copy interrupted while writing rows, and again while writing attachments, is
/// finished by running it again: nothing is copied twice, the result verifies, and a
/// third run writes nothing at all.
pub fn copy_resumes_after_an_interruption<S: CopyBackend, T: CopyBackend>(source: &S, target: &T) {
    let clock = test_config().1;
    let from = open(source, &clock);
    populate(&from, &clock);
    let to = open(target, &clock);
    let small = CopyOptions {
        batch_rows: 2,
        ..CopyOptions::default()
    };

    let failing_rows = Interrupting::new(to.store(), 5);
    let first = copy(
        endpoint(&from),
        Endpoint {
            rows: &failing_rows,
            blobs: to.blobs(),
        },
        &small,
    );
    assert!(matches!(first, Err(Error::Unavailable { .. })), "{first:?}");
    let partly: u64 = counts(to.store()).iter().map(|(_, n)| n).sum();
    let whole: u64 = counts(from.store()).iter().map(|(_, n)| n).sum();
    assert!(
        partly > 0 && partly < whole,
        "the first run stopped half-way"
    );

    let failing_blobs = FailingBlobs::new(to.blobs(), 1);
    let second = copy(
        endpoint(&from),
        Endpoint {
            rows: to.store(),
            blobs: &failing_blobs,
        },
        &small,
    );
    assert!(
        matches!(second, Err(Error::Unavailable { .. })),
        "{second:?}"
    );
    assert_eq!(counts(to.store()), counts(from.store()), "every row is in");
    assert_eq!(
        to.blobs().stats().expect("stats").keys,
        1,
        "one attachment is in"
    );

    let third = copy(endpoint(&from), endpoint(&to), &small).expect("the copy finishes");
    assert!(third.checks.iter().all(|check| check.matches()));
    assert_eq!(third.blobs.copied, 2, "only the attachments still missing");
    assert_eq!(third.blobs.present, 1);
    assert_eq!(counts(to.store()), counts(from.store()));

    let fourth = copy(endpoint(&from), endpoint(&to), &small).expect("a finished copy again");
    assert_eq!(fourth.rows_written(), 0, "{:?}", fourth.tables);
    assert_eq!((fourth.blobs.copied, fourth.blobs.present), (0, 3));
}

/// Rows the source gains after a copy make the verification fail; running the copy
/// again brings them over, and the stores compare equal again.
pub fn copy_catches_up_with_a_changed_source<S: CopyBackend, T: CopyBackend>(
    source: &S,
    target: &T,
) {
    let clock = test_config().1;
    let from = open(source, &clock);
    let sample = populate(&from, &clock);
    let to = open(target, &clock);
    copy(endpoint(&from), endpoint(&to), &CopyOptions::default()).expect("copy");

    say(
        from.store(),
        sample.ada,
        sample.plans,
        "written after the copy",
    );
    let checks = verify_copy(endpoint(&from), endpoint(&to), 100, &mut |_| {}).expect("verify");
    let differing: Vec<_> = checks
        .iter()
        .filter(|check| !check.matches())
        .map(|check| check.table)
        .collect();
    assert_eq!(differing, ["conversations", "messages"], "{checks:?}");

    let again = copy(endpoint(&from), endpoint(&to), &CopyOptions::default()).expect("copy again");
    assert!(again.checks.iter().all(|check| check.matches()));
    let hits = to
        .store()
        .search_messages(sample.ada, &SearchQuery::new("written"))
        .expect("search");
    assert_eq!(hits.len(), 1);
}

/// A target that holds another store's data is refused before anything is written,
/// and keeps what it had.
pub fn copy_refuses_a_target_with_other_data<S: CopyBackend, T: CopyBackend>(
    source: &S,
    target: &T,
) {
    let clock = test_config().1;
    let from = open(source, &clock);
    populate(&from, &clock);
    let to = open(target, &clock);
    let zed = user(to.store(), "zed");
    let before = counts(to.store());
    let refused = copy(endpoint(&from), endpoint(&to), &CopyOptions::default());
    assert!(
        matches!(
            refused,
            Err(Error::Conflict {
                kind: ConflictKind::InvalidState,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(counts(to.store()), before, "nothing was written");
    assert_eq!(to.store().user(zed.id).expect("zed stays").username, "zed");
    assert!(to.store().user_by_username("ada").is_err());
}

/// Rows that do not fit a table are refused whole: the wrong number of values, a value
/// of the wrong kind, a key of the wrong shape; and a batch size of zero.
pub fn copy_rejects_rows_that_do_not_fit<S: CopyBackend, T: CopyBackend>(source: &S, target: &T) {
    let clock = test_config().1;
    let from = open(source, &clock);
    let to = open(target, &clock);
    let users = table("users").expect("users");
    let mut row: Row = vec![Value::Null; users.columns.len()];
    row[0] = Value::Id(uuid::Uuid::now_v7());
    let short: Row = row[..3].to_vec();
    let mut wrong = row.clone();
    wrong[6] = Value::Text("yes".into());
    let store: &dyn TableTransfer = to.store();
    for bad in [vec![short], vec![wrong]] {
        assert!(
            matches!(
                store.insert_rows(users, &bad),
                Err(Error::Validation { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        store.read_rows(users, Some(&[Value::Integer(1)]), 10),
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        store.contains_key(users, &[]),
        Err(Error::Validation { .. })
    ));
    assert_eq!(count(store, "users"), 0, "nothing was inserted");
    let zero = CopyOptions {
        batch_rows: 0,
        ..CopyOptions::default()
    };
    assert!(matches!(
        copy(endpoint(&from), endpoint(&to), &zero),
        Err(Error::Validation { .. })
    ));
}

/// A message of the maximum size arrives whole and stays searchable at its end on the
/// target, whose search index may have to split it (PostgreSQL's `tsvector` limit).
pub fn copy_keeps_the_largest_message_searchable<S: CopyBackend, T: CopyBackend>(
    source: &S,
    target: &T,
) {
    let clock = test_config().1;
    let from = open(source, &clock);
    let s = from.store();
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "long");
    let max = test_config().0.max_message_bytes;
    let mut text = String::from("aardvark");
    let mut i = 0u32;
    while text.len() + 24 < max {
        text.push_str(&format!(" filler{i}"));
        i += 1;
    }
    text.push_str(" zymurgy");
    let long = say(s, ada.id, chat.id, &text);
    let to = open(target, &clock);
    copy(endpoint(&from), endpoint(&to), &CopyOptions::default()).expect("copy");
    let b = to.store();
    let copied = super::support::messages_of(b, ada.id, chat.id);
    assert_eq!(copied.len(), 1);
    assert_eq!(copied[0].content, text, "the message arrives whole");
    for word in ["aardvark", "zymurgy", "filler45678"] {
        let hits = b
            .search_messages(ada.id, &SearchQuery::new(word))
            .expect("search");
        assert_eq!(
            hits.iter().map(|hit| hit.message_id).collect::<Vec<_>>(),
            [long.id],
            "{word}"
        );
    }
}

/// A [`TableTransfer`] whose writes fail ([`Error::Unavailable`]) after a number of
/// batches have gone through, like a connection lost half-way: for tests of resuming.
pub struct Interrupting<'a> {
    inner: &'a dyn TableTransfer,
    batches_left: AtomicUsize,
}

impl<'a> Interrupting<'a> {
    /// Wraps `inner`, letting `batches` writes through.
    pub fn new(inner: &'a dyn TableTransfer, batches: usize) -> Interrupting<'a> {
        Interrupting {
            inner,
            batches_left: AtomicUsize::new(batches),
        }
    }

    fn take(&self) -> Result<()> {
        take_one(&self.batches_left)
    }
}

/// Counts one write down, failing once none are left.
fn take_one(left: &AtomicUsize) -> Result<()> {
    let now = left.load(Ordering::SeqCst);
    if now == 0 {
        return Err(Error::Unavailable {
            detail: "interrupted by the test".into(),
        });
    }
    left.store(now - 1, Ordering::SeqCst);
    Ok(())
}

impl TableTransfer for Interrupting<'_> {
    fn count_rows(&self, table: &Table) -> Result<u64> {
        self.inner.count_rows(table)
    }
    fn read_rows(&self, table: &Table, after: Option<&[Value]>, limit: u32) -> Result<Vec<Row>> {
        self.inner.read_rows(table, after, limit)
    }
    fn last_key(&self, table: &Table) -> Result<Option<Row>> {
        self.inner.last_key(table)
    }
    fn contains_key(&self, table: &Table, key: &[Value]) -> Result<bool> {
        self.inner.contains_key(table, key)
    }
    fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        self.take()?;
        self.inner.insert_rows(table, rows)
    }
    fn refresh_rows(&self, table: &Table, rows: &[Row]) -> Result<u64> {
        self.take()?;
        self.inner.refresh_rows(table, rows)
    }
    fn mirror_rows(&self, table: &Table, rows: &[Row]) -> Result<()> {
        self.inner.mirror_rows(table, rows)
    }
    fn finish_copy(&self) -> Result<()> {
        self.inner.finish_copy()
    }
}

/// An attachment store whose writes fail ([`Error::Unavailable`]) after a number of
/// blobs have gone through: for tests of resuming.
pub struct FailingBlobs<'a> {
    inner: &'a dyn BlobStore,
    puts_left: AtomicUsize,
}

impl<'a> FailingBlobs<'a> {
    /// Wraps `inner`, letting `puts` writes through.
    pub fn new(inner: &'a dyn BlobStore, puts: usize) -> FailingBlobs<'a> {
        FailingBlobs {
            inner,
            puts_left: AtomicUsize::new(puts),
        }
    }

    fn take(&self) -> Result<()> {
        take_one(&self.puts_left)
    }
}

impl BlobStore for FailingBlobs<'_> {
    fn put_all(&self, items: &[(BlobKey, &[u8])]) -> Result<Vec<crate::BlobInfo>> {
        self.take()?;
        self.inner.put_all(items)
    }
    fn put_stream(
        &self,
        key: &BlobKey,
        size: u64,
        reader: &mut dyn std::io::Read,
    ) -> Result<crate::BlobInfo> {
        self.take()?;
        self.inner.put_stream(key, size, reader)
    }
    fn get(&self, key: &BlobKey) -> Result<Vec<u8>> {
        self.inner.get(key)
    }
    fn open(&self, key: &BlobKey) -> Result<Box<dyn crate::BlobRead + '_>> {
        self.inner.open(key)
    }
    fn info(&self, key: &BlobKey) -> Result<Option<crate::BlobInfo>> {
        self.inner.info(key)
    }
    fn delete(&self, key: &BlobKey) -> Result<bool> {
        self.inner.delete(key)
    }
    fn list(&self, message: MessageId) -> Result<Vec<crate::BlobInfo>> {
        self.inner.list(message)
    }
    fn delete_by_prefixes(&self, messages: &[MessageId]) -> Result<u64> {
        self.inner.delete_by_prefixes(messages)
    }
    fn messages_with_blobs(
        &self,
        stored_before: crate::Timestamp,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<MessageId>> {
        self.inner.messages_with_blobs(stored_before, after, limit)
    }
    fn stats(&self) -> Result<crate::BlobStats> {
        self.inner.stats()
    }
}

/// Expands to one `#[test]` per check of the copy suite, copying from a backend made by
/// `$source` into one made by `$target` (expressions evaluated afresh for every test).
#[macro_export]
macro_rules! copy_conformance_suite {
    ($source:expr, $target:expr) => {
        $crate::copy_conformance_suite!(@tests $source, $target;
            copy_moves_every_row_and_attachment,
            copy_resumes_after_an_interruption,
            copy_catches_up_with_a_changed_source,
            copy_refuses_a_target_with_other_data,
            copy_rejects_rows_that_do_not_fit,
            copy_keeps_the_largest_message_searchable,
        );
    };
    (@tests $source:expr, $target:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let source = $source;
                let target = $target;
                $crate::conformance::$check(&source, &target);
            }
        )*
    };
}
