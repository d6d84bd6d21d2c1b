//! Conversations, messages and message search on PostgreSQL, against the real server:
//! what the conformance suite (`tests/conformance.rs`) does not reach on its own, such as
//! many writers appending to one conversation at once and the locks behind it.

mod common;

use std::sync::Arc;

use chatstore::{
    ConflictKind, ConversationId, ConversationQuery, ConversationStatus, ConversationStore,
    DocumentId, Error, FileMeta, MessageId, MessageMetadata, MessageQuery, MessageRole,
    MessageStore, NewConversation, NewMessage, NewUser, Order, SearchQuery, SearchStore, UserId,
    UserStore, Visibility,
};
use chatstore_postgres::PgStore;
use common::TempSchema;

fn open(schema: &TempSchema) -> PgStore {
    PgStore::open_with(schema.config(), &schema.options()).expect("opens")
}

fn user(store: &PgStore, name: &str) -> UserId {
    store
        .create_user(&NewUser::new(
            name,
            &format!("{name}@example.com"),
            "correct horse",
        ))
        .expect("registers")
        .id
}

fn chat(store: &PgStore, user: UserId, title: &str) -> ConversationId {
    store
        .create_conversation(user, &NewConversation::titled(title))
        .expect("creates")
        .id
}

fn say(store: &PgStore, user: UserId, chat: ConversationId, text: &str) -> MessageId {
    store
        .append_message(user, chat, &NewMessage::user(text))
        .expect("appends")
        .id
}

fn is_not_found<T: std::fmt::Debug>(result: chatstore::Result<T>) -> bool {
    matches!(result, Err(Error::NotFound { .. }))
}

fn is_invalid_state<T: std::fmt::Debug>(result: chatstore::Result<T>) -> bool {
    matches!(
        result,
        Err(Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        })
    )
}

#[test]
fn conversations_follow_the_lifecycle_and_stay_private() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let (ada, bob) = (user(&store, "ada"), user(&store, "bob"));
    let new = NewConversation {
        title: Some("  Taxes ".into()),
        llm_provider: Some("ollama".into()),
        llm_model: Some(" llama3 ".into()),
        selected_document_ids: Vec::new(),
        expires_in: None,
    };
    let created = store.create_conversation(ada, &new).expect("creates");
    let id = created.id;
    assert_eq!(created.title.as_deref(), Some("Taxes"));
    assert_eq!(created.llm_model.as_deref(), Some("llama3"));
    assert_eq!(created.status, ConversationStatus::Active);
    assert_eq!(created.message_count, 0);
    assert!(created.selected_document_ids.is_empty());
    assert_eq!(store.conversation(ada, id).expect("reads"), created);

    // Another user's conversation is not found, for reads and every change.
    assert!(is_not_found(store.conversation(bob, id)));
    assert!(is_not_found(store.rename_conversation(bob, id, Some("x"))));
    assert!(is_not_found(store.delete_conversation(bob, id)));
    assert!(is_not_found(store.purge_conversation(bob, id)));
    assert!(is_not_found(store.conversation(ada, ConversationId::new())));
    assert!(
        is_not_found(store.create_conversation(UserId::new(), &NewConversation::default())),
        "an unknown user"
    );

    let renamed = store
        .rename_conversation(ada, id, Some("Pensions"))
        .expect("renames");
    assert_eq!(renamed.title.as_deref(), Some("Pensions"));
    assert_eq!(
        store
            .rename_conversation(ada, id, None)
            .expect("clears")
            .title,
        None
    );
    let model = store
        .set_conversation_model(ada, id, Some("openai"), Some("gpt"))
        .expect("sets the model");
    assert_eq!(
        (model.llm_provider.as_deref(), model.llm_model.as_deref()),
        (Some("openai"), Some("gpt"))
    );

    // Archive, close, reopen.
    let archived = store.archive_conversation(ada, id).expect("archives");
    assert_eq!(archived.status, ConversationStatus::Archived);
    assert!(archived.archived_at.is_some());
    assert!(is_invalid_state(store.archive_conversation(ada, id)));
    assert!(is_invalid_state(store.reopen_conversation(ada, id)));
    let closed = store.close_conversation(ada, id).expect("closes");
    assert_eq!(closed.status, ConversationStatus::Closed);
    assert!(closed.closed_at.is_some() && closed.archived_at.is_none());
    assert!(is_invalid_state(store.unarchive_conversation(ada, id)));
    let reopened = store.reopen_conversation(ada, id).expect("reopens");
    assert_eq!(reopened.status, ConversationStatus::Active);
    assert!(reopened.closed_at.is_none());

    // Delete and restore to the status it had; a purge needs a delete first.
    store.archive_conversation(ada, id).expect("archives");
    assert!(is_invalid_state(store.purge_conversation(ada, id)));
    let deleted = store.delete_conversation(ada, id).expect("deletes");
    assert_eq!(deleted.status, ConversationStatus::Deleted);
    assert!(deleted.deleted_at.is_some());
    let before = store.conversation(ada, id).expect("reads");
    let refused = store
        .rename_conversation(ada, id, Some("no"))
        .expect_err("refused");
    match refused {
        Error::Conflict {
            kind: ConflictKind::InvalidState,
            detail,
            ..
        } => assert!(
            detail.contains("cannot rename conversation") && detail.contains("deleted"),
            "{detail}"
        ),
        other => panic!("expected an invalid-state conflict, got {other:?}"),
    }
    assert!(is_invalid_state(store.hide_conversation(ada, id)));
    assert!(is_invalid_state(store.delete_conversation(ada, id)));
    assert_eq!(
        store.conversation(ada, id).expect("reads"),
        before,
        "unchanged"
    );
    let restored = store.restore_conversation(ada, id).expect("restores");
    assert_eq!(restored.status, ConversationStatus::Archived);
    assert!(restored.deleted_at.is_none());
    assert!(is_invalid_state(store.restore_conversation(ada, id)));

    // Hide and open: a hand hide survives opening.
    let hidden = store.hide_conversation(ada, id).expect("hides");
    assert!(hidden.is_hidden && !hidden.auto_hidden && hidden.hidden_at.is_some());
    let opened = store.mark_conversation_opened(ada, id).expect("opens");
    assert!(opened.is_hidden && opened.last_opened_at.is_some());
    assert!(
        !store
            .unhide_conversation(ada, id)
            .expect("unhides")
            .is_hidden
    );

    // Purge.
    store.delete_conversation(ada, id).expect("deletes");
    let cleanup = store.purge_conversation(ada, id).expect("purges");
    assert_eq!(cleanup.deleted, 1);
    assert!(is_not_found(store.conversation(ada, id)));
}

#[test]
fn selected_documents_must_be_visible() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let (ada, bob) = (user(&store, "ada"), user(&store, "bob"));
    let (mine, global, bobs) = (DocumentId::new(), DocumentId::new(), DocumentId::new());
    for (doc, owner, scope) in [
        (mine, ada, "user"),
        (global, bob, "global"),
        (bobs, bob, "user"),
    ] {
        schema.execute(&format!(
            "INSERT INTO documents (id, owner_id, filename, file_path, title, scope, uploaded_at,
                 updated_at)
             VALUES ('{}', '{}', 'f.txt', 'f.txt', 'F', '{scope}', now(), now())",
            doc.as_uuid(),
            owner.as_uuid()
        ));
    }
    let id = chat(&store, ada, "docs");
    let selected = store
        .set_selected_documents(ada, id, &[mine, global, mine])
        .expect("selects");
    let mut expected = vec![mine, global];
    expected.sort();
    assert_eq!(selected.selected_document_ids, expected);
    assert!(is_not_found(store.set_selected_documents(
        ada,
        id,
        &[mine, bobs]
    )));
    assert!(is_not_found(store.set_selected_documents(
        ada,
        id,
        &[DocumentId::new()]
    )));
    assert_eq!(
        store
            .conversation(ada, id)
            .expect("reads")
            .selected_document_ids,
        expected
    );
    assert!(
        store
            .set_selected_documents(ada, id, &[])
            .expect("clears")
            .selected_document_ids
            .is_empty()
    );
    let created = store
        .create_conversation(
            ada,
            &NewConversation {
                selected_document_ids: vec![global],
                ..NewConversation::default()
            },
        )
        .expect("creates with a selection");
    assert_eq!(created.selected_document_ids, [global]);
    assert!(is_not_found(store.create_conversation(
        ada,
        &NewConversation {
            selected_document_ids: vec![bobs],
            ..NewConversation::default()
        },
    )));
    // The status is checked before the documents.
    store.delete_conversation(ada, id).expect("deletes");
    assert!(is_invalid_state(store.set_selected_documents(
        ada,
        id,
        &[bobs]
    )));
}

#[test]
fn listings_page_by_activity_and_filter() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (config, clock) = chatstore::conformance::test_config();
    let store = PgStore::open_with(config.database_url(schema.url.clone()), &schema.options())
        .expect("opens");
    let (ada, bob) = (user(&store, "ada"), user(&store, "bob"));
    let ids: Vec<ConversationId> = (0..7)
        .map(|i| chat(&store, ada, &format!("c{i}")))
        .collect();
    chat(&store, bob, "bob's");
    store.archive_conversation(ada, ids[1]).expect("archives");
    store.delete_conversation(ada, ids[2]).expect("deletes");
    store.hide_conversation(ada, ids[3]).expect("hides");

    let mut seen = Vec::new();
    let mut query = ConversationQuery {
        limit: 2,
        ..ConversationQuery::default()
    };
    loop {
        let page = store.list_conversations(ada, &query).expect("lists");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|s| s.id));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    // Equal activity times: newest id first.
    let mut expected: Vec<ConversationId> = ids
        .iter()
        .copied()
        .filter(|id| *id != ids[2] && *id != ids[3])
        .collect();
    expected.sort();
    expected.reverse();
    assert_eq!(seen, expected);

    let only = |statuses: Vec<ConversationStatus>, visibility: Visibility| {
        store
            .list_conversations(
                ada,
                &ConversationQuery {
                    statuses,
                    visibility,
                    ..ConversationQuery::default()
                },
            )
            .expect("lists")
            .items
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        only(vec![ConversationStatus::Deleted], Visibility::All),
        [ids[2]]
    );
    assert_eq!(
        only(vec![ConversationStatus::Archived], Visibility::Visible),
        [ids[1]]
    );
    assert_eq!(only(vec![], Visibility::Hidden), [ids[3]]);
    assert_eq!(only(vec![], Visibility::All).len(), 6);

    // A message moves its conversation to the top, with its count.
    clock.advance(std::time::Duration::from_secs(60));
    say(&store, ada, ids[0], "hello");
    let first = &store
        .list_conversations(ada, &ConversationQuery::default())
        .expect("lists")
        .items[0];
    assert_eq!((first.id, first.message_count), (ids[0], 1));

    let bad = ConversationQuery {
        cursor: Some(chatstore::Cursor::new("not a cursor")),
        ..ConversationQuery::default()
    };
    assert!(matches!(
        store.list_conversations(ada, &bad),
        Err(Error::Validation { .. })
    ));
}

#[test]
fn appends_number_link_and_page_messages() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let (ada, bob) = (user(&store, "ada"), user(&store, "bob"));
    let id = chat(&store, ada, "thread");
    let metadata = MessageMetadata {
        source: Some("rag".into()),
        tokens: Some(42),
        latency_ms: Some(1200),
        confidence_score: Some(0.75),
        agents_involved: vec!["retriever".into()],
        ..MessageMetadata::default()
    };
    let question = store
        .append_message(ada, id, &NewMessage::user("Who is eligible?"))
        .expect("appends");
    let answer = store
        .append_message(
            ada,
            id,
            &NewMessage::assistant("Everyone over 18.").with_metadata(metadata.clone()),
        )
        .expect("appends");
    assert_eq!((question.seq, answer.seq), (1, 2));
    assert_eq!(question.parent_id, None);
    assert_eq!(answer.parent_id, Some(question.id));
    assert_eq!(store.message(ada, answer.id).expect("reads"), answer);
    assert_eq!(answer.metadata, metadata);
    assert!(is_not_found(store.message(bob, answer.id)));

    // A branch: another answer to the question.
    let retry = store
        .append_message(
            ada,
            id,
            &NewMessage::assistant("Adults.").reply_to(question.id),
        )
        .expect("branches");
    assert_eq!((retry.seq, retry.parent_id), (3, Some(question.id)));
    let follow_up = say(&store, ada, id, "And children?");
    assert_eq!(
        store.message(ada, follow_up).expect("reads").parent_id,
        Some(retry.id),
        "the default parent is the latest message"
    );
    let children: Vec<MessageId> = store
        .children(ada, question.id)
        .expect("children")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(children, [answer.id, retry.id]);
    let branch: Vec<MessageId> = store
        .branch(ada, follow_up, 100)
        .expect("branch")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(branch, [question.id, retry.id, follow_up]);
    assert_eq!(store.branch(ada, follow_up, 2).expect("branch").len(), 2);
    assert!(is_not_found(store.branch(bob, follow_up, 10)));
    assert!(is_not_found(store.children(bob, question.id)));

    // A parent from another conversation is not found, and nothing is written.
    let other = chat(&store, ada, "other");
    assert!(is_not_found(store.append_message(
        ada,
        other,
        &NewMessage::user("x").reply_to(question.id)
    )));
    assert_eq!(
        store.conversation(ada, other).expect("reads").message_count,
        0
    );

    // Attachments are stored and reported by a purge.
    let mut with_file = NewMessage::user("see attached");
    with_file.files = vec![FileMeta {
        name: "a.txt".into(),
        mime_type: "text/plain".into(),
        size: 1,
        has_thumbnail: false,
        hash: None,
        data: None,
        thumbnail: None,
    }];
    let attached = store
        .append_message(ada, other, &with_file)
        .expect("appends with a file");
    assert_eq!(
        store.message(ada, attached.id).expect("reads").files,
        with_file.files
    );

    for i in 0..6 {
        say(&store, ada, id, &format!("message {i}"));
    }
    let conversation = store.conversation(ada, id).expect("reads");
    assert_eq!(conversation.message_count, 10);
    assert!(conversation.last_message_at.is_some());

    let last: Vec<u64> = store
        .last_messages(ada, id, 3)
        .expect("last")
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(last, [8, 9, 10]);
    assert!(is_not_found(store.last_messages(bob, id, 3)));
    assert!(
        store
            .last_messages(ada, other_empty(&store, ada), 3)
            .expect("empty")
            .is_empty()
    );

    for order in [Order::Asc, Order::Desc] {
        let mut query = MessageQuery {
            order,
            limit: 4,
            cursor: None,
        };
        let mut seqs = Vec::new();
        loop {
            let page = store.messages(ada, id, &query).expect("pages");
            seqs.extend(page.items.iter().map(|m| m.seq));
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => break,
            }
        }
        let mut expected: Vec<u64> = (1..=10).collect();
        if order == Order::Desc {
            expected.reverse();
        }
        assert_eq!(seqs, expected, "{order:?}");
    }
    assert!(is_not_found(store.messages(
        bob,
        id,
        &MessageQuery::default()
    )));

    let counts = store.count_messages_by_role(ada, Some(id)).expect("counts");
    assert_eq!((counts.user, counts.assistant, counts.system), (8, 2, 0));
    assert_eq!(
        store
            .count_messages_by_role(ada, None)
            .expect("counts")
            .total(),
        11
    );
    assert!(is_not_found(store.count_messages_by_role(bob, Some(id))));
    let by_source = store.messages_by_source(ada, id, "rag").expect("by source");
    assert_eq!(by_source.len(), 1);
    assert_eq!(by_source[0].id, answer.id);

    // Only active conversations take messages.
    let archived = store.archive_conversation(ada, id).expect("archives");
    assert!(is_invalid_state(store.append_message(
        ada,
        id,
        &NewMessage::user("late")
    )));
    assert_eq!(
        store.conversation(ada, id).expect("reads"),
        archived,
        "unchanged"
    );
    assert!(is_not_found(store.append_message(
        bob,
        other,
        &NewMessage::user("intruder")
    )));
    assert!(matches!(
        store.append_message(ada, other, &NewMessage::user("a\0b")),
        Err(Error::Validation {
            field: "content",
            ..
        })
    ));

    store.delete_conversation(ada, other).expect("deletes");
    let cleanup = store.purge_conversation(ada, other).expect("purges");
    assert_eq!(cleanup.messages_with_files, [attached.id]);
}

fn other_empty(store: &PgStore, user: UserId) -> ConversationId {
    chat(store, user, "empty")
}

#[test]
fn an_automatic_hide_is_undone_by_a_message() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let ada = user(&store, "ada");
    let id = chat(&store, ada, "idle");
    schema.execute(&format!(
        "UPDATE conversations SET is_hidden = true, auto_hidden = true, hidden_at = now()
         WHERE id = '{}'",
        id.as_uuid()
    ));
    say(&store, ada, id, "back again");
    let conversation = store.conversation(ada, id).expect("reads");
    assert!(!conversation.is_hidden && !conversation.auto_hidden);
    assert!(conversation.hidden_at.is_none());
}

#[test]
fn concurrent_appends_get_contiguous_positions() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = Arc::new(open(&schema));
    let ada = user(&store, "ada");
    let id = chat(&store, ada, "busy");
    const THREADS: usize = 8;
    const EACH: usize = 10;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..EACH)
                    .map(|i| {
                        store
                            .append_message(ada, id, &NewMessage::user(format!("t{t} m{i}")))
                            .expect("every append is acknowledged")
                            .seq
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acknowledged: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    acknowledged.sort_unstable();
    let total = (THREADS * EACH) as u64;
    assert_eq!(acknowledged, (1..=total).collect::<Vec<_>>());
    assert_eq!(
        store.conversation(ada, id).expect("reads").message_count,
        total
    );
    let stored = store
        .messages(
            ada,
            id,
            &MessageQuery {
                limit: 1000,
                ..MessageQuery::default()
            },
        )
        .expect("reads")
        .items;
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    // Each message's default parent is the one before it.
    for pair in stored.windows(2) {
        assert_eq!(pair[1].parent_id, Some(pair[0].id));
    }
}

fn found(store: &PgStore, user: UserId, query: &SearchQuery) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = store
        .search_messages(user, query)
        .expect("searches")
        .iter()
        .map(|h| h.message_id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<MessageId>) -> Vec<MessageId> {
    ids.sort();
    ids
}

#[test]
fn search_ranks_prefixes_highlights_and_stays_private() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let (ada, bob) = (user(&store, "ada"), user(&store, "bob"));
    let pensions = chat(&store, ada, "Pensions");
    let accounts = chat(&store, ada, "Accounts");
    let question = say(&store, ada, pensions, "How does the state pension work?");
    let answer = store
        .append_message(
            ada,
            pensions,
            &NewMessage::assistant(
                "The state pension is paid weekly; a pension credit tops up a low pension.",
            ),
        )
        .expect("appends")
        .id;
    let joint = say(
        &store,
        ada,
        accounts,
        "Is a JOINT account-holder eligible? (it's \"joint\" & 50% OR more)",
    );
    let bobs = say(&store, bob, chat(&store, bob, "Bob"), "my joint pension");

    let hits = store
        .search_messages(ada, &SearchQuery::new("pension"))
        .expect("searches");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [answer, question],
        "three mentions beat one"
    );
    assert!(hits[0].score > hits[1].score);
    assert_eq!(hits[0].conversation_id, pensions);
    assert_eq!(hits[0].conversation_title.as_deref(), Some("Pensions"));
    assert_eq!(hits[0].role, MessageRole::Assistant);
    assert!(
        hits[0].snippet.contains("**pension**"),
        "{}",
        hits[0].snippet
    );

    // Every word, any order and case; the last one as a prefix.
    assert_eq!(
        found(&store, ada, &SearchQuery::new("PENSION state")),
        sorted(vec![question, answer])
    );
    assert_eq!(found(&store, ada, &SearchQuery::new("joint acc")), [joint]);
    assert!(found(&store, ada, &SearchQuery::new("acc joint")).is_empty());
    assert_eq!(found(&store, ada, &SearchQuery::new("pens")).len(), 2);
    // Query syntax in the text is only words.
    assert_eq!(
        found(&store, ada, &SearchQuery::new("'joint' & !(eligible):*")),
        [joint]
    );
    assert_eq!(found(&store, ada, &SearchQuery::new("50 or")), [joint]);

    let mut marked = SearchQuery::new("joint");
    marked.highlight_start = "<mark class=\"x\">".into();
    marked.highlight_end = "</mark>".into();
    let hits = store.search_messages(ada, &marked).expect("searches");
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].snippet.contains("<mark class=\"x\">JOINT</mark>"),
        "{}",
        hits[0].snippet
    );
    assert!(!hits[0].snippet.contains("**"));

    // Filters.
    assert_eq!(
        found(
            &store,
            ada,
            &SearchQuery::new("pension").in_conversation(accounts)
        ),
        Vec::<MessageId>::new()
    );
    let mut by_role = SearchQuery::new("pension");
    by_role.role = Some(MessageRole::User);
    assert_eq!(found(&store, ada, &by_role), [question]);
    let mut one = SearchQuery::new("pension");
    one.limit = 1;
    assert_eq!(found(&store, ada, &one), [answer]);

    // Another user's messages are never found; deleted conversations are not searched.
    assert_eq!(found(&store, bob, &SearchQuery::new("joint")), [bobs]);
    store.delete_conversation(ada, pensions).expect("deletes");
    assert!(found(&store, ada, &SearchQuery::new("pension")).is_empty());
    store.restore_conversation(ada, pensions).expect("restores");
    assert_eq!(found(&store, ada, &SearchQuery::new("pension")).len(), 2);

    assert!(matches!(
        store.search_messages(ada, &SearchQuery::new(" -*- ")),
        Err(Error::Validation { .. })
    ));
    let mut nul = SearchQuery::new("joint");
    nul.highlight_start = "\0".into();
    assert!(matches!(
        store.search_messages(ada, &nul),
        Err(Error::Validation { .. })
    ));
}

#[test]
fn search_words_split_like_the_core_and_accents_fold_case() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let ada = user(&store, "ada");
    let id = chat(&store, ada, "words");
    let address = say(
        &store,
        ada,
        id,
        "Write to ada.lovelace@example.com or see https://example.com/guide/setup",
    );
    let cafe = say(&store, ada, id, "CAFÉ CRÈME, Москва");
    for query in [
        "lovelace",
        "example com",
        "guide/setup",
        "ada.lovelace@example.com",
    ] {
        assert_eq!(
            found(&store, ada, &SearchQuery::new(query)),
            [address],
            "{query}"
        );
    }
    for query in ["café", "crème", "москва", "caf"] {
        assert_eq!(
            found(&store, ada, &SearchQuery::new(query)),
            [cafe],
            "{query}"
        );
    }
    let hits = store
        .search_messages(ada, &SearchQuery::new("café"))
        .expect("searches");
    assert!(hits[0].snippet.contains("**CAFÉ**"), "{}", hits[0].snippet);
}

#[test]
fn the_largest_message_appends_and_is_found_by_both_ends() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let max = schema.config().max_message_bytes;
    let ada = user(&store, "ada");
    let id = chat(&store, ada, "long");
    let (head, tail) = ("aardvark", "zymurgy");
    let mut text = String::with_capacity(max + 1);
    text.push_str(head);
    let mut i = 0u32;
    while text.len() + tail.len() + 16 < max {
        text.push_str(&format!(" filler{i}"));
        i += 1;
    }
    while text.len() + tail.len() < max {
        text.push(' ');
    }
    text.push_str(tail);
    assert_eq!(text.len(), max);
    let long = say(&store, ada, id, &text);
    let short = say(&store, ada, id, "aardvark and zymurgy, briefly");
    let both = sorted(vec![long, short]);
    assert_eq!(found(&store, ada, &SearchQuery::new(head)), both);
    assert_eq!(found(&store, ada, &SearchQuery::new(tail)), both);
    assert_eq!(
        found(&store, ada, &SearchQuery::new("zymurgy aardvark")),
        both
    );
    assert_eq!(
        found(&store, ada, &SearchQuery::new("filler1000")),
        [long],
        "a word near the start"
    );
    let hits = store
        .search_messages(ada, &SearchQuery::new(tail).in_conversation(id))
        .expect("searches");
    let hit = hits
        .iter()
        .find(|h| h.message_id == long)
        .expect("the long message is a hit");
    assert!(hit.snippet.contains("**zymurgy**"), "{}", hit.snippet);
    assert_eq!(store.message(ada, long).expect("reads").content, text);
    text.push('x');
    assert!(matches!(
        store.append_message(ada, id, &NewMessage::user(text)),
        Err(Error::Validation {
            field: "content",
            ..
        })
    ));
}
