//! Messages: appending, positions and parents, branches, validation, metadata, reading
//! and paging.

use serde_json::json;

use super::support::{answer, conversation, fixture_with, messages_of, say, secs, user, walk};
use super::{Backend, fixture};
use crate::{
    ChunkId, Clock, ConflictKind, Conversation, Cursor, DocumentId, Error, GroundingEvidence,
    Message, MessageId, MessageMetadata, MessageQuery, MessageRole, NewMessage, Order,
    ReasoningStep, RetrievedDocument, RoleCounts, SourceRef, Store, UserId,
};

/// Asserts that the conversation and its messages are as they were.
fn unchanged(store: &dyn Store, user: UserId, before: &Conversation, messages: &[Message]) {
    assert_eq!(
        &store.conversation(user, before.id).expect("conversation"),
        before,
        "the conversation changed"
    );
    assert_eq!(
        messages_of(store, user, before.id),
        messages,
        "the messages changed"
    );
}

/// Metadata with every field set.
fn full_metadata() -> MessageMetadata {
    let serde_json::Value::Object(extra) = json!({
        "ui": {"collapsed": true},
        "tags": ["a", "b"],
        "score": 0.25,
        "note": null
    }) else {
        unreachable!("an object literal")
    };
    MessageMetadata {
        request_id: Some("req-42".into()),
        source: Some("llm_generation".into()),
        tokens: Some(245),
        model_name: Some("deepseek-chat".into()),
        latency_ms: Some(1830),
        retrieved_documents: vec![RetrievedDocument {
            document_id: DocumentId::new(),
            chunk_id: ChunkId::new(),
            content: "Joint accounts need two signatures.".into(),
            similarity_score: 0.8731,
            page_number: Some(4),
        }],
        sources: vec![
            SourceRef {
                id: DocumentId::new(),
                filename: "policy.pdf".into(),
                title: Some("Policy".into()),
                relevance_score: 0.91,
                cited_text: Some("two signatures".into()),
                page: Some(4),
            },
            SourceRef {
                id: DocumentId::new(),
                filename: "faq.txt".into(),
                title: None,
                relevance_score: 0.0,
                cited_text: None,
                page: None,
            },
        ],
        confidence_score: Some(0.27),
        low_confidence_warning: true,
        reasoning_chain: vec![
            ReasoningStep {
                step: 1,
                agent: "ResearchAgent".into(),
                action: "retrieve".into(),
                reasoning: "look up the policy".into(),
                execution_time: Some(0.42),
            },
            ReasoningStep {
                step: 2,
                agent: "AnalyzerAgent".into(),
                action: "answer".into(),
                reasoning: "summarise".into(),
                execution_time: None,
            },
        ],
        grounding_evidence: Some(GroundingEvidence {
            score: 1.0,
            verified_claims: vec!["two signatures".into()],
            unverified_claims: vec!["same day".into()],
            evidence: vec!["policy.pdf p.4".into()],
        }),
        agents_involved: vec!["ResearchAgent".into(), "AnalyzerAgent".into()],
        extra,
    }
}

/// Appends take positions 1, 2, 3… and bump `message_count` and `last_message_at`.
pub fn messages_append_updates_conversation(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    for n in 1..=3u64 {
        f.clock.advance(secs(7));
        let m = say(s, ada.id, chat.id, &format!("message {n}"));
        assert_eq!(m.seq, n);
        assert_eq!(m.conversation_id, chat.id);
        assert_eq!(m.role, MessageRole::User);
        assert_eq!(m.created_at, f.clock.now());
        assert_eq!(s.message(ada.id, m.id).expect("read back"), m);
        let c = s.conversation(ada.id, chat.id).expect("conversation");
        assert_eq!(c.message_count, n);
        assert_eq!(c.last_message_at, Some(f.clock.now()));
        assert_eq!(c.last_activity_at(), f.clock.now());
    }
    let seqs: Vec<u64> = messages_of(s, ada.id, chat.id)
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

/// Without a parent a message follows the conversation's latest one; the first has none.
pub fn messages_default_parent_is_previous(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let q = say(s, ada.id, chat.id, "question");
    let a = answer(s, ada.id, chat.id, "answer");
    let q2 = say(s, ada.id, chat.id, "follow-up");
    assert_eq!(q.parent_id, None);
    assert_eq!(a.parent_id, Some(q.id));
    assert_eq!(q2.parent_id, Some(a.id));
    assert_eq!(
        s.message(ada.id, q2.id).expect("read").parent_id,
        Some(a.id)
    );
    let other = conversation(s, ada.id, "other");
    assert_eq!(
        say(s, ada.id, other.id, "first elsewhere").parent_id,
        None,
        "the first message of each conversation has no parent"
    );
}

/// An explicit parent starts a branch: `children` lists alternatives, `branch` walks root to leaf.
pub fn messages_branches(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let q1 = say(s, ada.id, chat.id, "q1");
    let a1 = answer(s, ada.id, chat.id, "a1");
    let q2 = say(s, ada.id, chat.id, "q2");
    let a2 = answer(s, ada.id, chat.id, "a2");
    let regenerated = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("a2 again").reply_to(q2.id),
        )
        .expect("regenerate");
    assert_eq!(regenerated.parent_id, Some(q2.id));
    assert_eq!(regenerated.seq, 5);
    let edited = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::user("q2 edited").reply_to(a1.id),
        )
        .expect("edit");
    let after_edit = answer(s, ada.id, chat.id, "answer to the edit");
    assert_eq!(
        after_edit.parent_id,
        Some(edited.id),
        "default follows the latest"
    );

    let ids = |v: Vec<Message>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.children(ada.id, q2.id).expect("children")),
        vec![a2.id, regenerated.id]
    );
    assert_eq!(
        ids(s.children(ada.id, a1.id).expect("children")),
        vec![q2.id, edited.id]
    );
    assert!(s.children(ada.id, after_edit.id).expect("leaf").is_empty());
    assert_eq!(
        ids(s.branch(ada.id, regenerated.id, 100).expect("branch")),
        vec![q1.id, a1.id, q2.id, regenerated.id]
    );
    assert_eq!(
        ids(s.branch(ada.id, after_edit.id, 100).expect("branch")),
        vec![q1.id, a1.id, edited.id, after_edit.id]
    );
    assert_eq!(
        ids(s.branch(ada.id, regenerated.id, 2).expect("branch")),
        vec![q2.id, regenerated.id],
        "the nearest ones to the leaf"
    );
    assert_eq!(ids(s.branch(ada.id, q1.id, 10).expect("root")), vec![q1.id]);
    assert_eq!(
        messages_of(s, ada.id, chat.id).len(),
        7,
        "every branch stays readable"
    );
}

/// A parent from another conversation, or an unknown one, is not found and stores nothing.
pub fn messages_parent_must_be_in_the_conversation(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let other = conversation(s, ada.id, "other");
    say(s, ada.id, chat.id, "here");
    let elsewhere = say(s, ada.id, other.id, "there");
    let before = s.conversation(ada.id, chat.id).expect("conversation");
    let messages = messages_of(s, ada.id, chat.id);
    f.clock.advance(secs(5));
    for parent in [elsewhere.id, MessageId::new()] {
        assert_err!(
            s.append_message(ada.id, chat.id, &NewMessage::user("reply").reply_to(parent)),
            Error::NotFound { .. }
        );
        unchanged(s, ada.id, &before, &messages);
    }
    assert_eq!(messages_of(s, ada.id, other.id), vec![elsewhere]);
}

/// Empty or whitespace-only content is a validation error on `content` and stores nothing.
pub fn messages_reject_blank_content(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    for blank in ["", " ", "\n\t  \r\n"] {
        assert_err!(
            s.append_message(ada.id, chat.id, &NewMessage::user(blank)),
            Error::Validation {
                field: "content",
                ..
            },
            "{blank:?}"
        );
    }
    unchanged(s, ada.id, &chat, &[]);
}

/// Content over the configured byte limit is a validation error storing nothing; the limit fits.
pub fn messages_reject_oversized_content(backend: &dyn Backend) {
    let f = fixture_with(backend, |c| c.max_message_bytes(64));
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let over = "x".repeat(65);
    let multibyte = "é".repeat(33); // 33 characters, 66 bytes
    for big in [over.as_str(), multibyte.as_str()] {
        assert_err!(
            s.append_message(ada.id, chat.id, &NewMessage::user(big)),
            Error::Validation {
                field: "content",
                ..
            },
            "{} bytes",
            big.len()
        );
    }
    unchanged(s, ada.id, &chat, &[]);
    let exact = say(s, ada.id, chat.id, &"y".repeat(64));
    assert_eq!(exact.content.len(), 64);
}

/// Out-of-range or non-finite metadata is a validation error on `metadata…`, storing nothing.
pub fn messages_reject_invalid_metadata(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    say(s, ada.id, chat.id, "question");
    let before = s.conversation(ada.id, chat.id).expect("conversation");
    let messages = messages_of(s, ada.id, chat.id);
    let base = full_metadata();
    let mut bad = Vec::new();
    for score in [1.5, -0.1, f64::NAN, f64::INFINITY] {
        bad.push((
            "confidence",
            MessageMetadata {
                confidence_score: Some(score),
                ..base.clone()
            },
        ));
    }
    let mut m = base.clone();
    m.sources[0].relevance_score = 1.01;
    bad.push(("relevance", m));
    let mut m = base.clone();
    m.retrieved_documents[0].similarity_score = f64::NAN;
    bad.push(("similarity", m));
    let mut m = base.clone();
    m.reasoning_chain[0].execution_time = Some(-1.0);
    bad.push(("execution time", m));
    let mut m = base.clone();
    m.grounding_evidence = Some(GroundingEvidence {
        score: 2.0,
        ..GroundingEvidence::default()
    });
    bad.push(("grounding", m));
    bad.push((
        "model name",
        MessageMetadata {
            model_name: Some("m".repeat(501)),
            ..MessageMetadata::default()
        },
    ));
    for (what, metadata) in bad {
        let result = s.append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("answer").with_metadata(metadata),
        );
        match result {
            Err(Error::Validation { field, .. }) if field.starts_with("metadata") => {}
            other => panic!("{what}: expected a metadata validation error, got {other:?}"),
        }
    }
    unchanged(s, ada.id, &before, &messages);
}

/// Metadata over the configured JSON size is a validation error on `metadata`, storing nothing.
pub fn messages_reject_oversized_metadata(backend: &dyn Backend) {
    let f = fixture_with(backend, |mut c| {
        c.max_metadata_bytes = 256;
        c
    });
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let mut extra = serde_json::Map::new();
    extra.insert("blob".into(), json!("z".repeat(300)));
    let big = MessageMetadata {
        extra,
        ..MessageMetadata::default()
    };
    assert_err!(
        s.append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("answer").with_metadata(big)
        ),
        Error::Validation {
            field: "metadata",
            ..
        }
    );
    unchanged(s, ada.id, &chat, &[]);
    let small = MessageMetadata {
        request_id: Some("req-1".into()),
        ..MessageMetadata::default()
    };
    let m = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("answer").with_metadata(small.clone()),
        )
        .expect("small metadata fits");
    assert_eq!(s.message(ada.id, m.id).expect("read").metadata, small);
}

/// Every metadata field, `extra` included, reads back exactly as appended.
pub fn messages_metadata_round_trips(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    say(s, ada.id, chat.id, "Who can open a joint account?");
    let metadata = full_metadata();
    let m = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("Two adults.").with_metadata(metadata.clone()),
        )
        .expect("append with metadata");
    assert_eq!(m.metadata, metadata);
    assert_eq!(s.message(ada.id, m.id).expect("message").metadata, metadata);
    assert_eq!(
        s.last_messages(ada.id, chat.id, 1).expect("last")[0].metadata,
        metadata
    );
    assert_eq!(messages_of(s, ada.id, chat.id)[1], m);
    let plain = say(s, ada.id, chat.id, "thanks");
    assert_eq!(
        s.message(ada.id, plain.id).expect("message").metadata,
        MessageMetadata::default(),
        "no metadata reads back as the default"
    );
}

/// `MessageMetadata::from_json` takes well-typed objects and rejects anything else as `metadata`.
pub fn messages_metadata_from_json(_backend: &dyn Backend) {
    let parsed = MessageMetadata::from_json(
        r#"{"request_id":"req-1","tokens":245,"confidence_score":0.5,
            "low_confidence_warning":true,"agents_involved":["A"],
            "extra":{"anything":[1,{"x":2}]}}"#,
    )
    .expect("well-typed metadata parses");
    assert_eq!(parsed.request_id.as_deref(), Some("req-1"));
    assert_eq!(parsed.tokens, Some(245));
    assert_eq!(parsed.confidence_score, Some(0.5));
    assert!(parsed.low_confidence_warning);
    assert_eq!(parsed.agents_involved, vec!["A".to_owned()]);
    assert_eq!(parsed.extra["anything"], json!([1, {"x": 2}]));
    assert_eq!(
        MessageMetadata::from_json("{}").expect("empty object"),
        MessageMetadata::default()
    );
    let full = full_metadata();
    let text = serde_json::to_string(&full).expect("serialises");
    assert_eq!(MessageMetadata::from_json(&text).expect("round trip"), full);
    for bad in [
        r#"{"tokens":"many"}"#,
        r#"{"tokens":-1}"#,
        r#"{"unknown_key":1}"#,
        r#"{"confidence_score":"high"}"#,
        r#"{"sources":[{"filename":"x"}]}"#,
        "[1,2]",
        "null",
        "\"text\"",
        "not json",
        "",
    ] {
        assert_err!(
            MessageMetadata::from_json(bad),
            Error::Validation {
                field: "metadata",
                ..
            },
            "{bad:?}"
        );
    }
}

/// `last_messages(n)` gives the last `n` messages across branches, oldest first.
pub fn messages_last_messages(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let all: Vec<Message> = (1..=5)
        .map(|i| {
            f.clock.advance(secs(1));
            say(s, ada.id, chat.id, &format!("m{i}"))
        })
        .collect();
    assert_eq!(
        s.last_messages(ada.id, chat.id, 3).expect("last 3"),
        all[2..]
    );
    assert_eq!(
        s.last_messages(ada.id, chat.id, 1).expect("last 1"),
        all[4..]
    );
    assert_eq!(s.last_messages(ada.id, chat.id, 50).expect("all"), all);
    let empty = conversation(s, ada.id, "empty");
    assert!(
        s.last_messages(ada.id, empty.id, 5)
            .expect("none")
            .is_empty()
    );
}

/// Messages page by position both ways with cursors; bad cursors and sizes are validation errors.
pub fn messages_paging(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    for i in 1..=7 {
        say(s, ada.id, chat.id, &format!("m{i}"));
    }
    let seqs = |order: Order, limit: u32| -> Vec<Vec<u64>> {
        walk(|cursor| {
            s.messages(
                ada.id,
                chat.id,
                &MessageQuery {
                    order,
                    limit,
                    cursor,
                },
            )
            .expect("page")
        })
        .into_iter()
        .map(|page| page.iter().map(|m| m.seq).collect())
        .collect()
    };
    assert_eq!(
        seqs(Order::Asc, 3),
        vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]
    );
    assert_eq!(
        seqs(Order::Desc, 3),
        vec![vec![7, 6, 5], vec![4, 3, 2], vec![1]]
    );
    assert_eq!(seqs(Order::Asc, 7), vec![vec![1, 2, 3, 4, 5, 6, 7]]);
    assert_eq!(seqs(Order::Desc, 100), vec![vec![7, 6, 5, 4, 3, 2, 1]]);

    let empty = conversation(s, ada.id, "empty");
    let page = s
        .messages(ada.id, empty.id, &MessageQuery::default())
        .expect("empty page");
    assert!(page.is_empty() && page.next.is_none());

    for text in ["", "x", "-1", "1~2"] {
        assert_err!(
            s.messages(
                ada.id,
                chat.id,
                &MessageQuery {
                    cursor: Some(Cursor::new(text)),
                    ..MessageQuery::default()
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
            s.messages(
                ada.id,
                chat.id,
                &MessageQuery {
                    limit,
                    ..MessageQuery::default()
                }
            ),
            Error::Validation { field: "limit", .. }
        );
    }
}

/// Role counts cover one conversation, or all of the user's with `None`.
pub fn messages_count_by_role(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let one = conversation(s, ada.id, "one");
    let two = conversation(s, ada.id, "two");
    let empty = conversation(s, ada.id, "empty");
    say(s, ada.id, one.id, "q");
    answer(s, ada.id, one.id, "a");
    say(s, ada.id, one.id, "q again");
    s.append_message(ada.id, one.id, &NewMessage::system("be brief"))
        .expect("system");
    say(s, ada.id, two.id, "other");
    let bobs = conversation(s, bob.id, "bob's");
    say(s, bob.id, bobs.id, "not ada's");
    let counts = s.count_messages_by_role(ada.id, Some(one.id)).expect("one");
    assert_eq!(
        counts,
        RoleCounts {
            user: 2,
            assistant: 1,
            system: 1
        }
    );
    assert_eq!(counts.total(), 4);
    assert_eq!(
        s.count_messages_by_role(ada.id, None).expect("all"),
        RoleCounts {
            user: 3,
            assistant: 1,
            system: 1
        }
    );
    assert_eq!(
        s.count_messages_by_role(ada.id, Some(empty.id))
            .expect("empty"),
        RoleCounts::default()
    );
}

/// `messages_by_source` gives the conversation's messages with that source, oldest first.
pub fn messages_by_source(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let other = conversation(s, ada.id, "other");
    let with_source = |conversation, text: &str, source: &str| {
        s.append_message(
            ada.id,
            conversation,
            &NewMessage::assistant(text).with_metadata(MessageMetadata {
                source: Some(source.into()),
                ..MessageMetadata::default()
            }),
        )
        .expect("append")
    };
    let a = with_source(chat.id, "a", "cache");
    with_source(chat.id, "b", "llm_generation");
    say(s, ada.id, chat.id, "no source");
    let c = with_source(chat.id, "c", "cache");
    with_source(other.id, "elsewhere", "cache");
    assert_eq!(
        s.messages_by_source(ada.id, chat.id, "cache")
            .expect("cache"),
        vec![a, c]
    );
    assert_eq!(
        s.messages_by_source(ada.id, chat.id, "llm_generation")
            .expect("llm")
            .len(),
        1
    );
    assert!(
        s.messages_by_source(ada.id, chat.id, "unknown")
            .expect("none")
            .is_empty()
    );
}

/// Archived, closed and deleted conversations refuse messages (`InvalidState`), unchanged.
pub fn messages_append_requires_active_conversation(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let u = ada.id;
    let archived = conversation(s, u, "archived");
    let closed = conversation(s, u, "closed");
    let deleted = conversation(s, u, "deleted");
    for c in [&archived, &closed, &deleted] {
        say(s, u, c.id, "before");
    }
    s.archive_conversation(u, archived.id).expect("archive");
    s.close_conversation(u, closed.id).expect("close");
    s.delete_conversation(u, deleted.id).expect("delete");
    f.clock.advance(secs(30));
    for c in [&archived, &closed, &deleted] {
        let before = s.conversation(u, c.id).expect("conversation");
        let messages = messages_of(s, u, c.id);
        assert_err!(
            s.append_message(u, c.id, &NewMessage::user("after")),
            Error::Conflict {
                kind: ConflictKind::InvalidState,
                ..
            },
            "append to a {} conversation",
            before.status
        );
        unchanged(s, u, &before, &messages);
    }
    s.reopen_conversation(u, closed.id).expect("reopen");
    assert_eq!(say(s, u, closed.id, "after reopening").seq, 2);
}

/// Every message read or append naming an unknown message or conversation is not found.
pub fn messages_unknown_ids_are_not_found(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let m = MessageId::new();
    let c = crate::ConversationId::new();
    assert_err!(s.message(ada.id, m), Error::NotFound { .. });
    assert_err!(s.branch(ada.id, m, 10), Error::NotFound { .. });
    assert_err!(s.children(ada.id, m), Error::NotFound { .. });
    assert_err!(s.last_messages(ada.id, c, 10), Error::NotFound { .. });
    assert_err!(
        s.messages(ada.id, c, &MessageQuery::default()),
        Error::NotFound { .. }
    );
    assert_err!(
        s.count_messages_by_role(ada.id, Some(c)),
        Error::NotFound { .. }
    );
    assert_err!(
        s.messages_by_source(ada.id, c, "cache"),
        Error::NotFound { .. }
    );
    assert_err!(
        s.append_message(ada.id, c, &NewMessage::user("hello")),
        Error::NotFound { .. }
    );
}

/// A JSON array nested `levels` deep, with a number at the bottom.
fn nested_array(levels: usize) -> serde_json::Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

/// Metadata whose `extra` holds an array nested `levels` deep (the whole metadata is two
/// levels deeper).
fn nested_metadata(levels: usize) -> MessageMetadata {
    let mut metadata = MessageMetadata::default();
    metadata.extra.insert("deep".into(), nested_array(levels));
    metadata
}

/// Metadata nested deeper than [`crate::json::MAX_DEPTH`] is refused, whether built in
/// code or parsed with `from_json`, and nothing about the conversation changes; the
/// deepest accepted metadata reads back through every read. (Deep metadata was once
/// stored and then made every read of its conversation fail.)
pub fn messages_reject_deeply_nested_metadata(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let first = say(s, ada.id, chat.id, "question");
    let before = s.conversation(ada.id, chat.id).expect("conversation");
    let messages = messages_of(s, ada.id, chat.id);
    let deepest = crate::json::MAX_DEPTH - 2;
    for levels in [deepest + 1, 126, 127, 998] {
        let metadata = nested_metadata(levels);
        assert_err!(
            s.append_message(
                ada.id,
                chat.id,
                &NewMessage::assistant("answer").with_metadata(metadata.clone())
            ),
            Error::Validation {
                field: "metadata",
                ..
            },
            "extra nested {levels} deep"
        );
        let text = serde_json::to_string(&metadata).expect("encodes");
        assert_err!(
            MessageMetadata::from_json(&text),
            Error::Validation {
                field: "metadata",
                ..
            },
            "from_json of extra nested {levels} deep"
        );
    }
    unchanged(s, ada.id, &before, &messages);

    let metadata = nested_metadata(deepest);
    let text = serde_json::to_string(&metadata).expect("encodes");
    assert_eq!(
        MessageMetadata::from_json(&text).expect("the deepest metadata parses"),
        metadata
    );
    let stored = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("answer").with_metadata(metadata.clone()),
        )
        .expect("the deepest accepted metadata is stored");
    assert_eq!(s.message(ada.id, stored.id).expect("message"), stored);
    assert_eq!(
        s.last_messages(ada.id, chat.id, 20).expect("last messages"),
        vec![first.clone(), stored.clone()]
    );
    assert_eq!(
        s.branch(ada.id, stored.id, 20).expect("branch"),
        vec![first, stored.clone()]
    );
    assert_eq!(messages_of(s, ada.id, chat.id)[1].metadata, metadata);
}

/// `latency_ms` beyond what a store can hold (`i64::MAX`) is refused, not clamped.
pub fn messages_reject_out_of_range_latency(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let before = s.conversation(ada.id, chat.id).expect("conversation");
    for latency in [u64::MAX, i64::MAX as u64 + 1] {
        let metadata = MessageMetadata {
            latency_ms: Some(latency),
            ..MessageMetadata::default()
        };
        assert_err!(
            s.append_message(
                ada.id,
                chat.id,
                &NewMessage::assistant("slow").with_metadata(metadata)
            ),
            Error::Validation {
                field: "metadata.latency_ms",
                ..
            },
            "latency {latency}"
        );
    }
    unchanged(s, ada.id, &before, &[]);
    let metadata = MessageMetadata {
        latency_ms: Some(i64::MAX as u64),
        ..MessageMetadata::default()
    };
    let stored = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("slow").with_metadata(metadata),
        )
        .expect("the largest storable latency");
    assert_eq!(s.message(ada.id, stored.id).expect("message"), stored);
}
