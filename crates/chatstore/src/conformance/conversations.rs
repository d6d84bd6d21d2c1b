//! Conversations: creation, listing and paging, the status lifecycle, hiding and
//! auto-hiding, document selection and purging.

use super::support::{
    admin, conversation, conversations_of, days, document, fixture_with, listed, messages_of, say,
    secs, start, user, walk,
};
use super::{Backend, fixture};
use crate::{
    Clock, ConflictKind, Conversation, ConversationId, ConversationQuery, ConversationStatus,
    ConversationSummary, Cursor, DocumentId, Error, NewConversation, NewMessage, Result, Store,
    UserId, Visibility,
};

use ConversationStatus::{Active, Archived, Closed, Deleted};

/// Asserts `result` is an `InvalidState` conflict and the conversation is unchanged.
fn refused(store: &dyn Store, before: &Conversation, what: &str, result: Result<Conversation>) {
    assert_err!(
        result,
        Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        },
        "{what} on a {} conversation",
        before.status
    );
    assert_eq!(
        &store
            .conversation(before.user_id, before.id)
            .expect("still readable"),
        before,
        "{what} on a {} conversation changed it",
        before.status
    );
}

/// Asserts that a listing entry agrees with the full conversation.
fn assert_summarises(summary: &ConversationSummary, full: &Conversation) {
    assert_eq!(summary.id, full.id);
    assert_eq!(summary.title, full.title);
    assert_eq!(summary.status, full.status);
    assert_eq!(summary.message_count, full.message_count);
    assert_eq!(summary.last_activity_at, full.last_activity_at());
    assert_eq!(summary.is_hidden, full.is_hidden);
    assert_eq!(summary.auto_hidden, full.auto_hidden);
}

/// Asserts that every entry of the user's complete listing agrees with its conversation.
fn assert_listing_agrees(store: &dyn Store, user: UserId) {
    let every = [Active, Archived, Closed, Deleted];
    for summary in conversations_of(store, user, &every, Visibility::All) {
        let full = store
            .conversation(user, summary.id)
            .expect("listed, so readable");
        assert_summarises(&summary, &full);
    }
}

/// A conversation in each status: active, archived, closed, deleted.
fn one_of_each(store: &dyn Store, user: UserId) -> [Conversation; 4] {
    let active = conversation(store, user, "active");
    let archived = conversation(store, user, "archived");
    let closed = conversation(store, user, "closed");
    let deleted = conversation(store, user, "deleted");
    say(store, user, active.id, "hello");
    [
        store.conversation(user, active.id).expect("active"),
        store
            .archive_conversation(user, archived.id)
            .expect("archive"),
        store.close_conversation(user, closed.id).expect("close"),
        store.delete_conversation(user, deleted.id).expect("delete"),
    ]
}

/// A new conversation is active, empty and visible, with its fields and the clock's time.
pub fn conversations_create_and_get(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = s
        .create_conversation(
            ada.id,
            &NewConversation {
                title: Some("Eligibility".into()),
                llm_provider: Some("custom".into()),
                llm_model: Some("deepseek-chat".into()),
                selected_document_ids: Vec::new(),
                expires_in: None,
            },
        )
        .expect("create");
    assert_eq!(chat.user_id, ada.id);
    assert_eq!(chat.title.as_deref(), Some("Eligibility"));
    assert_eq!(chat.status, Active);
    assert_eq!(chat.message_count, 0);
    assert_eq!(chat.created_at, start());
    assert_eq!(chat.updated_at, start());
    assert_eq!(chat.last_activity_at(), start());
    for stamp in [
        chat.last_message_at,
        chat.last_opened_at,
        chat.archived_at,
        chat.closed_at,
        chat.deleted_at,
        chat.hidden_at,
    ] {
        assert_eq!(stamp, None);
    }
    assert!(!chat.is_hidden && !chat.auto_hidden);
    assert_eq!(chat.llm_provider.as_deref(), Some("custom"));
    assert_eq!(chat.llm_model.as_deref(), Some("deepseek-chat"));
    assert!(chat.selected_document_ids.is_empty());
    assert_eq!(s.conversation(ada.id, chat.id).expect("get"), chat);

    let untitled = s
        .create_conversation(ada.id, &NewConversation::default())
        .expect("everything is optional");
    assert_eq!(untitled.title, None);
    assert_eq!(untitled.llm_provider, None);
}

/// An over-long title is a validation error creating nothing; unknown users/ids are not found.
pub fn conversations_create_rejects_bad_input(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    assert_err!(
        s.create_conversation(ada.id, &NewConversation::titled(&"t".repeat(501))),
        Error::Validation { field: "title", .. }
    );
    assert!(conversations_of(s, ada.id, &[], Visibility::All).is_empty());
    assert_err!(
        s.create_conversation(UserId::new(), &NewConversation::titled("x")),
        Error::NotFound { .. }
    );
    assert_err!(
        s.conversation(ada.id, ConversationId::new()),
        Error::NotFound { .. }
    );
}

/// Every change on a conversation id that does not exist is not found.
pub fn conversations_unknown_id_is_not_found(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let real = conversation(s, ada.id, "real");
    let id = ConversationId::new();
    let u = ada.id;
    let calls: Vec<(&str, Result<Conversation>)> = vec![
        ("rename", s.rename_conversation(u, id, Some("x"))),
        ("model", s.set_conversation_model(u, id, Some("p"), None)),
        ("select", s.set_selected_documents(u, id, &[])),
        ("archive", s.archive_conversation(u, id)),
        ("unarchive", s.unarchive_conversation(u, id)),
        ("close", s.close_conversation(u, id)),
        ("reopen", s.reopen_conversation(u, id)),
        ("delete", s.delete_conversation(u, id)),
        ("restore", s.restore_conversation(u, id)),
        ("hide", s.hide_conversation(u, id)),
        ("unhide", s.unhide_conversation(u, id)),
        ("open", s.mark_conversation_opened(u, id)),
    ];
    for (what, result) in calls {
        assert_err!(result, Error::NotFound { .. }, "{what}");
    }
    assert_err!(s.purge_conversation(u, id), Error::NotFound { .. });
    assert_eq!(s.conversation(u, real.id).expect("real"), real);
}

/// Title and model are set and cleared (also while archived or closed), moving `updated_at`.
pub fn conversations_rename_and_set_model(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "Old");
    f.clock.advance(secs(5));
    let renamed = s
        .rename_conversation(ada.id, chat.id, Some("New"))
        .expect("rename");
    assert_eq!(renamed.title.as_deref(), Some("New"));
    assert_eq!(renamed.updated_at, f.clock.now());
    assert_eq!(renamed.created_at, chat.created_at);
    let cleared = s
        .rename_conversation(ada.id, chat.id, None)
        .expect("clear title");
    assert_eq!(cleared.title, None);
    f.clock.advance(secs(5));
    let model = s
        .set_conversation_model(ada.id, chat.id, Some("custom"), Some("deepseek-chat"))
        .expect("set model");
    assert_eq!(model.llm_provider.as_deref(), Some("custom"));
    assert_eq!(model.llm_model.as_deref(), Some("deepseek-chat"));
    assert_eq!(model.updated_at, f.clock.now());
    let none = s
        .set_conversation_model(ada.id, chat.id, None, None)
        .expect("clear model");
    assert_eq!((none.llm_provider, none.llm_model), (None, None));
    assert_err!(
        s.rename_conversation(ada.id, chat.id, Some(&"t".repeat(501))),
        Error::Validation { field: "title", .. }
    );
    assert_eq!(s.conversation(ada.id, chat.id).expect("get").title, None);

    s.archive_conversation(ada.id, chat.id).expect("archive");
    let archived = s
        .rename_conversation(ada.id, chat.id, Some("Archived title"))
        .expect("an archived conversation can be renamed");
    assert_eq!(archived.status, Archived);
    assert_eq!(archived.title.as_deref(), Some("Archived title"));
    s.close_conversation(ada.id, chat.id).expect("close");
    let closed = s
        .set_conversation_model(ada.id, chat.id, Some("ollama"), Some("llama3.2:3b"))
        .expect("a closed conversation's model can be set");
    assert_eq!(closed.status, Closed);
    assert_eq!(closed.llm_provider.as_deref(), Some("ollama"));
}

/// Selected documents must be visible (own or global); others are not found and change nothing.
pub fn conversations_selected_documents(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let boss = admin(s, "boss");
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let own = document(s, ada.id, "own.pdf");
    let global = super::support::global_document(s, boss.id, "global.pdf");
    let others = document(s, bob.id, "bob.pdf");

    let chat = s
        .create_conversation(
            ada.id,
            &NewConversation {
                selected_document_ids: vec![own.id, global.id],
                ..NewConversation::titled("with docs")
            },
        )
        .expect("visible documents can be selected");
    let mut want = vec![own.id, global.id];
    want.sort();
    let mut got = chat.selected_document_ids.clone();
    got.sort();
    assert_eq!(got, want);

    let only_global = s
        .set_selected_documents(ada.id, chat.id, &[global.id])
        .expect("reselect");
    assert_eq!(only_global.selected_document_ids, vec![global.id]);
    for bad in [others.id, DocumentId::new()] {
        assert_err!(
            s.set_selected_documents(ada.id, chat.id, &[own.id, bad]),
            Error::NotFound { .. }
        );
    }
    assert_eq!(s.conversation(ada.id, chat.id).expect("get"), only_global);
    let cleared = s
        .set_selected_documents(ada.id, chat.id, &[])
        .expect("clear");
    assert!(cleared.selected_document_ids.is_empty());

    assert_err!(
        s.create_conversation(
            ada.id,
            &NewConversation {
                selected_document_ids: vec![others.id],
                ..NewConversation::titled("sneaky")
            },
        ),
        Error::NotFound { .. }
    );
    assert_eq!(listed(s, ada.id), vec![chat.id], "nothing was created");
}

/// Listings run newest activity first, each summary agreeing with its conversation.
pub fn conversations_list_newest_activity_first(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let mut made = Vec::new();
    for i in 0..4 {
        f.clock.advance(secs(10));
        made.push(conversation(s, ada.id, &format!("c{i}")).id);
    }
    assert_eq!(
        listed(s, ada.id),
        made.iter().rev().copied().collect::<Vec<_>>()
    );
    f.clock.advance(secs(10));
    say(s, ada.id, made[1], "one");
    say(s, ada.id, made[1], "two");
    f.clock.advance(secs(10));
    say(s, ada.id, made[0], "three");
    let list = conversations_of(s, ada.id, &[], Visibility::Visible);
    let order: Vec<ConversationId> = list.iter().map(|c| c.id).collect();
    assert_eq!(order, vec![made[0], made[1], made[3], made[2]]);
    let counts: Vec<u64> = list.iter().map(|c| c.message_count).collect();
    assert_eq!(counts, vec![1, 2, 0, 0]);
    assert_eq!(list[0].last_activity_at, f.clock.now());
    for summary in &list {
        let full = s
            .conversation(ada.id, summary.id)
            .expect("full conversation");
        assert_summarises(summary, &full);
    }
}

/// Keyset paging yields every conversation once, in listing order, for any page size and ties.
pub fn conversations_keyset_paging(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    for i in 0..13 {
        if i % 3 == 0 {
            f.clock.advance(secs(1));
        }
        let chat = conversation(s, ada.id, &format!("c{i}"));
        if i % 4 == 0 {
            f.clock.advance(secs(1));
            say(s, ada.id, chat.id, "bump");
        }
    }
    let full = conversations_of(s, ada.id, &[], Visibility::Visible);
    assert_eq!(full.len(), 13);
    assert!(
        full.windows(2)
            .all(|w| w[0].last_activity_at >= w[1].last_activity_at),
        "newest activity first"
    );
    for limit in [1, 2, 5, 12, 13] {
        let pages = walk(|cursor| {
            s.list_conversations(
                ada.id,
                &ConversationQuery {
                    limit,
                    cursor,
                    ..ConversationQuery::default()
                },
            )
            .expect("page")
        });
        assert_eq!(
            pages.len(),
            13usize.div_ceil(limit as usize),
            "limit {limit}"
        );
        assert!(pages.iter().all(|p| p.len() <= limit as usize));
        let walked: Vec<ConversationSummary> = pages.into_iter().flatten().collect();
        assert_eq!(
            walked, full,
            "limit {limit}: same order, no gaps or repeats"
        );
    }
}

/// A cursor keeps its place while newer conversations are started: no repeats, no gaps.
pub fn conversations_paging_is_stable_under_inserts(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let mut made = Vec::new();
    for i in 0..6 {
        f.clock.advance(secs(1));
        made.push(conversation(s, ada.id, &format!("c{i}")).id);
    }
    let query = |cursor| ConversationQuery {
        limit: 3,
        cursor,
        ..ConversationQuery::default()
    };
    let first = s.list_conversations(ada.id, &query(None)).expect("page 1");
    f.clock.advance(secs(1));
    conversation(s, ada.id, "newer");
    let second = s
        .list_conversations(ada.id, &query(first.next.clone()))
        .expect("page 2");
    let ids: Vec<ConversationId> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, made.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(second.next, None);
}

/// A cursor the store did not make, or a page size outside 1–1000, is a validation error.
pub fn conversations_list_rejects_bad_cursor_and_limit(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    conversation(s, ada.id, "c");
    for text in ["", "nonsense", "2026-01-01T00:00:00.000000Z~x", "1~2~3"] {
        assert_err!(
            s.list_conversations(
                ada.id,
                &ConversationQuery {
                    cursor: Some(Cursor::new(text)),
                    ..ConversationQuery::default()
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
            s.list_conversations(
                ada.id,
                &ConversationQuery {
                    limit,
                    ..ConversationQuery::default()
                }
            ),
            Error::Validation { field: "limit", .. }
        );
    }
}

/// No status filter shows all but deleted; a filter shows exactly the statuses asked for.
pub fn conversations_status_filters(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let [active, archived, closed, deleted] = one_of_each(s, ada.id);
    let ids = |statuses: &[ConversationStatus]| {
        let mut ids: Vec<ConversationId> = conversations_of(s, ada.id, statuses, Visibility::All)
            .iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<ConversationId>| {
        v.sort();
        v
    };
    assert_eq!(ids(&[]), sorted(vec![active.id, archived.id, closed.id]));
    assert_eq!(ids(&[Active]), vec![active.id]);
    assert_eq!(ids(&[Archived]), vec![archived.id]);
    assert_eq!(ids(&[Closed]), vec![closed.id]);
    assert_eq!(ids(&[Deleted]), vec![deleted.id]);
    assert_eq!(
        ids(&[Archived, Closed]),
        sorted(vec![archived.id, closed.id])
    );
    assert_eq!(
        ids(&[Active, Archived, Closed, Deleted]),
        sorted(vec![active.id, archived.id, closed.id, deleted.id])
    );
    assert_listing_agrees(s, ada.id);
}

/// Hidden conversations are left out by default, alone under `Hidden`, included under `All`.
pub fn conversations_visibility_filters(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let shown = conversation(s, ada.id, "shown");
    f.clock.advance(secs(1));
    let hidden = conversation(s, ada.id, "hidden");
    s.hide_conversation(ada.id, hidden.id).expect("hide");
    let ids = |v| {
        conversations_of(s, ada.id, &[], v)
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(Visibility::Visible), vec![shown.id]);
    assert_eq!(ids(Visibility::Hidden), vec![hidden.id]);
    assert_eq!(ids(Visibility::All), vec![hidden.id, shown.id]);
    assert_listing_agrees(s, ada.id);
}

/// Archive sets `archived`/`archived_at`; unarchive returns to `active` and clears it.
pub fn conversations_archive_and_unarchive(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    f.clock.advance(secs(5));
    let archived = s.archive_conversation(ada.id, chat.id).expect("archive");
    assert_eq!(archived.status, Archived);
    assert_eq!(archived.archived_at, Some(f.clock.now()));
    assert_eq!(s.conversation(ada.id, chat.id).expect("get"), archived);
    f.clock.advance(secs(5));
    let active = s
        .unarchive_conversation(ada.id, chat.id)
        .expect("unarchive");
    assert_eq!(active.status, Active);
    assert_eq!(active.archived_at, None);
    assert_eq!(active.updated_at, f.clock.now());
}

/// Close works from active and archived (clearing `archived_at`); reopen makes it active again.
pub fn conversations_close_and_reopen(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    f.clock.advance(secs(5));
    let closed = s.close_conversation(ada.id, chat.id).expect("close");
    assert_eq!(closed.status, Closed);
    assert_eq!(closed.closed_at, Some(f.clock.now()));
    let reopened = s.reopen_conversation(ada.id, chat.id).expect("reopen");
    assert_eq!(reopened.status, Active);
    assert_eq!(reopened.closed_at, None);

    s.archive_conversation(ada.id, chat.id).expect("archive");
    f.clock.advance(secs(5));
    let closed = s
        .close_conversation(ada.id, chat.id)
        .expect("close an archived conversation");
    assert_eq!(closed.status, Closed);
    assert_eq!(closed.archived_at, None, "no longer archived");
    assert_eq!(closed.closed_at, Some(f.clock.now()));
    assert_eq!(s.conversation(ada.id, chat.id).expect("get"), closed);
}

/// Soft delete keeps a conversation readable; restore returns it to the status it had.
pub fn conversations_delete_and_restore(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let [active, archived, closed, _] = one_of_each(s, ada.id);
    for before in [active, archived, closed] {
        f.clock.advance(secs(5));
        let deleted = s.delete_conversation(ada.id, before.id).expect("delete");
        assert_eq!(deleted.status, Deleted);
        assert_eq!(deleted.deleted_at, Some(f.clock.now()));
        assert_eq!(
            s.conversation(ada.id, before.id).expect("readable"),
            deleted
        );
        assert!(!listed(s, ada.id).contains(&before.id));
        let restored = s.restore_conversation(ada.id, before.id).expect("restore");
        assert_eq!(restored.status, before.status, "back to {}", before.status);
        assert_eq!(restored.deleted_at, None);
        assert_eq!(restored.message_count, before.message_count);
        assert_eq!(restored.archived_at, before.archived_at);
        assert_eq!(restored.closed_at, before.closed_at);
    }
    assert_eq!(listed(s, ada.id).len(), 3);
}

/// Every step the lifecycle forbids is an `InvalidState` conflict that changes nothing.
pub fn conversations_disallowed_transitions_change_nothing(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let u = ada.id;
    let [active, archived, closed, deleted] = one_of_each(s, u);
    f.clock.advance(secs(60));

    refused(
        s,
        &active,
        "unarchive",
        s.unarchive_conversation(u, active.id),
    );
    refused(s, &active, "reopen", s.reopen_conversation(u, active.id));
    refused(s, &active, "restore", s.restore_conversation(u, active.id));

    refused(
        s,
        &archived,
        "archive",
        s.archive_conversation(u, archived.id),
    );
    refused(
        s,
        &archived,
        "reopen",
        s.reopen_conversation(u, archived.id),
    );
    refused(
        s,
        &archived,
        "restore",
        s.restore_conversation(u, archived.id),
    );

    refused(s, &closed, "archive", s.archive_conversation(u, closed.id));
    refused(
        s,
        &closed,
        "unarchive",
        s.unarchive_conversation(u, closed.id),
    );
    refused(s, &closed, "close", s.close_conversation(u, closed.id));
    refused(s, &closed, "restore", s.restore_conversation(u, closed.id));

    refused(
        s,
        &deleted,
        "archive",
        s.archive_conversation(u, deleted.id),
    );
    refused(
        s,
        &deleted,
        "unarchive",
        s.unarchive_conversation(u, deleted.id),
    );
    refused(s, &deleted, "close", s.close_conversation(u, deleted.id));
    refused(s, &deleted, "reopen", s.reopen_conversation(u, deleted.id));
    refused(s, &deleted, "delete", s.delete_conversation(u, deleted.id));
    refused(
        s,
        &deleted,
        "rename",
        s.rename_conversation(u, deleted.id, Some("x")),
    );
    refused(
        s,
        &deleted,
        "set model",
        s.set_conversation_model(u, deleted.id, Some("p"), Some("m")),
    );
    refused(
        s,
        &deleted,
        "select documents",
        s.set_selected_documents(u, deleted.id, &[]),
    );

    for live in [&active, &archived, &closed] {
        assert_err!(
            s.purge_conversation(u, live.id),
            Error::Conflict {
                kind: ConflictKind::InvalidState,
                ..
            },
            "purge a {} conversation",
            live.status
        );
        assert_eq!(&s.conversation(u, live.id).expect("kept"), live);
    }
    assert_eq!(messages_of(s, u, active.id).len(), 1);
}

/// Purging a soft-deleted conversation removes it and its messages; purging again is not found.
pub fn conversations_purge(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let keep = conversation(s, ada.id, "keep");
    let m = say(s, ada.id, chat.id, "to be purged");
    say(s, ada.id, keep.id, "kept");
    s.delete_conversation(ada.id, chat.id).expect("delete");
    let cleanup = s.purge_conversation(ada.id, chat.id).expect("purge");
    assert_eq!(cleanup.deleted, 1);
    assert!(cleanup.documents.is_empty());
    assert!(cleanup.messages_with_files.is_empty());
    assert_err!(s.conversation(ada.id, chat.id), Error::NotFound { .. });
    assert_err!(s.message(ada.id, m.id), Error::NotFound { .. });
    assert!(conversations_of(s, ada.id, &[Deleted], Visibility::All).is_empty());
    assert_err!(
        s.purge_conversation(ada.id, chat.id),
        Error::NotFound { .. }
    );
    assert_err!(
        s.restore_conversation(ada.id, chat.id),
        Error::NotFound { .. }
    );
    assert_eq!(messages_of(s, ada.id, keep.id).len(), 1);
    assert_eq!(
        s.count_messages_by_role(ada.id, None)
            .expect("counts")
            .total(),
        1
    );
}

/// Bulk purge removes, across users, exactly the conversations deleted before the cut-off.
pub fn conversations_purge_deleted_before_cut_off(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let first = conversation(s, ada.id, "first");
    let second = conversation(s, ada.id, "second");
    let bobs = conversation(s, bob.id, "bob's");
    let live = conversation(s, ada.id, "live");
    say(s, ada.id, first.id, "bye");
    s.delete_conversation(ada.id, first.id).expect("delete");
    f.clock.advance(days(1));
    let second_deleted = s.delete_conversation(ada.id, second.id).expect("delete");
    f.clock.advance(days(1));
    s.delete_conversation(bob.id, bobs.id).expect("delete");

    let cut = second_deleted.deleted_at.expect("deleted_at");
    let cleanup = s.purge_deleted_conversations(cut).expect("purge");
    assert_eq!(
        cleanup.deleted, 1,
        "only the one deleted before the cut-off"
    );
    assert_err!(s.conversation(ada.id, first.id), Error::NotFound { .. });
    assert_eq!(
        s.conversation(ada.id, second.id).expect("kept").status,
        Deleted
    );
    let cleanup = s
        .purge_deleted_conversations(f.clock.now() + secs(1))
        .expect("purge all");
    assert_eq!(cleanup.deleted, 2, "both users' deleted conversations");
    assert_err!(s.conversation(ada.id, second.id), Error::NotFound { .. });
    assert_err!(s.conversation(bob.id, bobs.id), Error::NotFound { .. });
    assert_eq!(s.conversation(ada.id, live.id).expect("live"), live);
    assert_eq!(
        s.purge_deleted_conversations(f.clock.now() + days(365))
            .expect("nothing left")
            .deleted,
        0
    );
}

/// A temporary conversation works like any other until its time is up; from then on
/// it is never listed, opened, written to, changed or found by search (not-found, as a
/// missing one), whoever asks; the purge of retired conversations removes it and
/// nothing else. A lifetime below a second or above ten years is refused.
pub fn conversations_temporary_ones_expire(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let kept = conversation(s, ada.id, "kept");
    let brief = s
        .create_conversation(
            ada.id,
            &NewConversation::titled("brief").temporary(std::time::Duration::from_secs(3600)),
        )
        .expect("a temporary conversation");
    assert_eq!(brief.expires_at, Some(start() + secs(3600)));
    say(s, ada.id, brief.id, "an ephemeral kumquat");
    say(s, ada.id, kept.id, "a lasting kumquat");
    assert_eq!(listed(s, ada.id).len(), 2);
    let kumquats = |s: &dyn Store| {
        s.search_messages(ada.id, &crate::SearchQuery::new("kumquat"))
            .expect("search")
            .len()
    };
    assert_eq!(kumquats(s), 2);

    f.clock.advance(secs(3600));
    assert_eq!(
        listed(s, ada.id),
        vec![kept.id],
        "an expired one is not listed"
    );
    let all = ConversationQuery {
        statuses: vec![Active, Archived, Closed, Deleted],
        visibility: Visibility::All,
        ..ConversationQuery::default()
    };
    assert_eq!(
        s.list_conversations(ada.id, &all)
            .expect("list")
            .items
            .len(),
        1,
        "not under any status or visibility"
    );
    assert_err!(s.conversation(ada.id, brief.id), Error::NotFound { .. });
    assert_err!(
        s.append_message(ada.id, brief.id, &NewMessage::user("too late")),
        Error::NotFound { .. }
    );
    assert_err!(
        s.rename_conversation(ada.id, brief.id, Some("renamed")),
        Error::NotFound { .. }
    );
    assert_err!(
        s.archive_conversation(ada.id, brief.id),
        Error::NotFound { .. }
    );
    assert_eq!(kumquats(s), 1, "search leaves it out");

    let nothing_old = crate::Retirement::expired(start());
    assert_eq!(
        s.purge_retired_conversations(&nothing_old)
            .expect("purge")
            .deleted,
        0,
        "not expired as of an earlier time"
    );
    let cleanup = s
        .purge_retired_conversations(&crate::Retirement::expired(f.clock.now()))
        .expect("purge");
    assert_eq!(cleanup.deleted, 1);
    assert_eq!(
        s.conversation(ada.id, kept.id).expect("kept").message_count,
        1
    );
    assert_eq!(messages_of(s, ada.id, kept.id).len(), 1);

    for bad in [0, 10 * 366 * 24 * 3600] {
        assert_err!(
            s.create_conversation(
                ada.id,
                &NewConversation::titled("bad").temporary(std::time::Duration::from_secs(bad))
            ),
            Error::Validation {
                field: "expires_in",
                ..
            }
        );
    }
    assert_eq!(listed(s, ada.id), vec![kept.id], "nothing was created");
}

/// Retention by age: archived conversations archived before the cut-off and
/// conversations idle (no message, or none since creation) before theirs are purged,
/// of every user; recent ones, and every one when the rule names no age, stay.
pub fn conversations_retention_purges_old_archived_and_idle(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let archived = conversation(s, ada.id, "archived long ago");
    say(s, ada.id, archived.id, "old news");
    s.archive_conversation(ada.id, archived.id)
        .expect("archive");
    let idle = conversation(s, bob.id, "idle");
    let busy = conversation(s, ada.id, "busy");
    f.clock.advance(days(100));
    say(s, ada.id, busy.id, "still here");
    let recent_archive = conversation(s, bob.id, "archived today");
    s.archive_conversation(bob.id, recent_archive.id)
        .expect("archive");
    let now = f.clock.now();

    let none = crate::Retirement::expired(now);
    assert_eq!(
        s.purge_retired_conversations(&none).expect("purge").deleted,
        0
    );
    let archived_rule = crate::Retirement {
        archived_before: Some(now - days(90)),
        ..none
    };
    assert_eq!(
        s.purge_retired_conversations(&archived_rule)
            .expect("purge")
            .deleted,
        1
    );
    assert_err!(s.conversation(ada.id, archived.id), Error::NotFound { .. });
    let idle_rule = crate::Retirement {
        idle_before: Some(now - days(90)),
        ..none
    };
    assert_eq!(
        s.purge_retired_conversations(&idle_rule)
            .expect("purge")
            .deleted,
        1
    );
    assert_err!(s.conversation(bob.id, idle.id), Error::NotFound { .. });
    assert_eq!(listed(s, ada.id), vec![busy.id]);
    assert_eq!(listed(s, bob.id), vec![recent_archive.id]);
}

/// A hand hide sets `is_hidden`/`hidden_at` and survives opening; unhiding clears it.
pub fn conversations_hide_and_unhide(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    f.clock.advance(secs(5));
    let hidden = s.hide_conversation(ada.id, chat.id).expect("hide");
    assert!(hidden.is_hidden);
    assert!(!hidden.auto_hidden);
    assert_eq!(hidden.hidden_at, Some(f.clock.now()));
    assert!(listed(s, ada.id).is_empty());
    f.clock.advance(secs(5));
    let opened = s.mark_conversation_opened(ada.id, chat.id).expect("open");
    assert_eq!(opened.last_opened_at, Some(f.clock.now()));
    assert!(opened.is_hidden, "opening does not undo a hide by hand");
    let shown = s.unhide_conversation(ada.id, chat.id).expect("unhide");
    assert!(!shown.is_hidden);
    assert_eq!(shown.hidden_at, None);
    assert_eq!(listed(s, ada.id), vec![chat.id]);
}

/// Auto-hide hides, across users, exactly the visible conversations idle longer than allowed.
pub fn conversations_auto_hide_idle(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let old = conversation(s, ada.id, "old");
    let bobs = conversation(s, bob.id, "bob's");
    let hand = conversation(s, ada.id, "hidden by hand");
    s.hide_conversation(ada.id, hand.id).expect("hide");
    let opened = conversation(s, ada.id, "opened");
    f.clock.advance(days(10));
    let written = conversation(s, ada.id, "written");
    f.clock.advance(days(10));
    say(s, ada.id, written.id, "activity");
    s.mark_conversation_opened(ada.id, opened.id).expect("open");

    f.clock.set(start() + days(30));
    assert_eq!(
        s.auto_hide_idle_conversations(None).expect("auto-hide"),
        0,
        "idle exactly 30 days is not longer than 30 days"
    );
    f.clock.advance(secs(1));
    assert_eq!(s.auto_hide_idle_conversations(None).expect("auto-hide"), 2);
    for (user, id) in [(ada.id, old.id), (bob.id, bobs.id)] {
        let c = s.conversation(user, id).expect("get");
        assert!(c.is_hidden && c.auto_hidden);
        assert_eq!(c.hidden_at, Some(f.clock.now()));
    }
    let hand_now = s.conversation(ada.id, hand.id).expect("get");
    assert!(
        !hand_now.auto_hidden,
        "a hand-hidden one stays hidden by hand"
    );
    assert_eq!(listed(s, ada.id), vec![written.id, opened.id]);
    assert_eq!(s.auto_hide_idle_conversations(None).expect("again"), 0);
    assert_listing_agrees(s, ada.id);
    assert_listing_agrees(s, bob.id);

    assert_eq!(
        s.auto_hide_idle_conversations(Some(days(5)))
            .expect("shorter idle time"),
        2,
        "the written and opened ones are idle for more than 5 days"
    );
    assert!(listed(s, ada.id).is_empty());
}

/// The configured idle time is the default for auto-hide.
pub fn conversations_auto_hide_uses_configured_idle_time(backend: &dyn Backend) {
    let f = fixture_with(backend, |c| c.auto_hide_after(secs(3600)));
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    f.clock.advance(secs(3600));
    assert_eq!(s.auto_hide_idle_conversations(None).expect("auto-hide"), 0);
    f.clock.advance(secs(1));
    assert_eq!(s.auto_hide_idle_conversations(None).expect("auto-hide"), 1);
    assert!(s.conversation(ada.id, chat.id).expect("get").auto_hidden);
}

/// Opening or appending shows an auto-hidden conversation again, but not a hand-hidden one.
pub fn conversations_auto_hide_undone_by_open_and_append(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let opened = conversation(s, ada.id, "opened");
    let written = conversation(s, ada.id, "written");
    let hand = conversation(s, ada.id, "hand");
    f.clock.advance(days(31));
    assert_eq!(s.auto_hide_idle_conversations(None).expect("auto-hide"), 3);
    // Hiding by hand replaces the automatic hide.
    s.hide_conversation(ada.id, hand.id).expect("hide by hand");
    assert!(listed(s, ada.id).is_empty());

    let shown = s.mark_conversation_opened(ada.id, opened.id).expect("open");
    assert!(!shown.is_hidden && !shown.auto_hidden);
    assert_eq!(shown.hidden_at, None);
    assert_eq!(shown.last_opened_at, Some(f.clock.now()));

    s.append_message(ada.id, written.id, &NewMessage::user("back again"))
        .expect("append");
    let after = s.conversation(ada.id, written.id).expect("get");
    assert!(!after.is_hidden && !after.auto_hidden);

    say(s, ada.id, hand.id, "still hidden");
    let hand_now = s.conversation(ada.id, hand.id).expect("get");
    assert!(hand_now.is_hidden, "a hand hide survives a new message");
    assert_eq!(listed(s, ada.id), vec![written.id, opened.id]);
}

/// `updated_at` moves to the clock's time with every change to a conversation's fields.
pub fn conversations_updated_at_tracks_every_change(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let u = ada.id;
    let chat = conversation(s, u, "c");
    let id = chat.id;
    type Step<'a> = (&'a str, Box<dyn Fn() -> Result<Conversation> + 'a>);
    let steps: Vec<Step<'_>> = vec![
        (
            "rename",
            Box::new(|| s.rename_conversation(u, id, Some("t"))),
        ),
        (
            "set model",
            Box::new(|| s.set_conversation_model(u, id, Some("p"), None)),
        ),
        (
            "select documents",
            Box::new(|| s.set_selected_documents(u, id, &[])),
        ),
        ("archive", Box::new(|| s.archive_conversation(u, id))),
        ("unarchive", Box::new(|| s.unarchive_conversation(u, id))),
        ("close", Box::new(|| s.close_conversation(u, id))),
        ("reopen", Box::new(|| s.reopen_conversation(u, id))),
        ("hide", Box::new(|| s.hide_conversation(u, id))),
        ("unhide", Box::new(|| s.unhide_conversation(u, id))),
        ("open", Box::new(|| s.mark_conversation_opened(u, id))),
        (
            "append",
            Box::new(|| {
                s.append_message(u, id, &NewMessage::user("hi"))?;
                s.conversation(u, id)
            }),
        ),
        (
            "auto-hide",
            Box::new(|| {
                s.auto_hide_idle_conversations(Some(secs(1)))?;
                s.conversation(u, id)
            }),
        ),
        ("delete", Box::new(|| s.delete_conversation(u, id))),
        ("restore", Box::new(|| s.restore_conversation(u, id))),
    ];
    let mut failures = Vec::new();
    for (what, step) in steps {
        f.clock.advance(secs(60));
        let changed = step().unwrap_or_else(|e| panic!("{what}: {e}"));
        let stored = s.conversation(u, id).expect("get");
        assert_eq!(changed, stored, "{what} returns the stored conversation");
        if stored.updated_at != f.clock.now() {
            failures.push(format!("{what} left updated_at at {}", stored.updated_at));
        }
    }
    assert!(
        failures.is_empty(),
        "updated_at did not follow every change (now {}): {failures:?}",
        f.clock.now()
    );
}
