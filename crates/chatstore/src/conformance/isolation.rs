//! Isolation between users: a second user can neither read nor change the first one's
//! conversations, messages, documents, sessions, agent logs or usage through any
//! method that takes a user id. Every such call is "not found" (or "forbidden" for a
//! global document, which everyone may read), and the owner's data stays as it was.

use super::support::{
    admin, conversation, conversations_of, document, documents_of, global_document, messages_of,
    new_chunk, process, say, user,
};
use super::{Backend, Fixture, fixture};
use crate::rbac::permissions;
use crate::{
    AgentLog, Chunk, Conversation, ConversationId, ConversationStatus, Document, DocumentAnalysis,
    DocumentUpdate, Error, Message, MessageMetadata, MessageQuery, NewAgentLog, NewConversation,
    NewMessage, NewSession, NewUsage, OperationType, Result, RoleCounts, SearchQuery, Session,
    SessionToken, Store, TimeRange, UsageTotals, User, Visibility,
};

/// Every conversation status.
const ALL_STATUSES: [ConversationStatus; 4] = [
    ConversationStatus::Active,
    ConversationStatus::Archived,
    ConversationStatus::Closed,
    ConversationStatus::Deleted,
];

/// Ada's data of every kind, and Bob, who tries to reach it.
struct World {
    ada: User,
    bob: User,
    chat: Conversation,
    deleted: Conversation,
    bob_chat: Conversation,
    question: Message,
    reply: Message,
    log: AgentLog,
    private: Document,
    private_chunks: Vec<Chunk>,
    shared: Document,
    shared_chunks: Vec<Chunk>,
    session: Session,
    token: SessionToken,
}

fn world(f: &Fixture) -> World {
    let s = &*f.store;
    let ada = admin(s, "ada");
    let bob = user(s, "bob");
    let (private, private_chunks) = process(
        s,
        ada.id,
        &document(s, ada.id, "private.pdf"),
        &["private text"],
    );
    let (shared, shared_chunks) = process(
        s,
        ada.id,
        &global_document(s, ada.id, "shared.pdf"),
        &["shared text"],
    );
    let chat = s
        .create_conversation(
            ada.id,
            &NewConversation {
                selected_document_ids: vec![private.id],
                ..NewConversation::titled("Pensions")
            },
        )
        .expect("ada's conversation");
    let question = say(s, ada.id, chat.id, "How does the state pension work?");
    let reply = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::assistant("The pension pays weekly.").with_metadata(MessageMetadata {
                source: Some("cache".into()),
                ..MessageMetadata::default()
            }),
        )
        .expect("ada's answer");
    let log = s
        .record_agent_log(ada.id, reply.id, &NewAgentLog::new("ResearchAgent"))
        .expect("ada's agent log");
    s.record_usage(
        ada.id,
        &NewUsage {
            conversation_id: Some(chat.id),
            message_id: Some(reply.id),
            agent_log_id: Some(log.id),
            ..NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 100, 50)
        },
    )
    .expect("ada's usage");
    let deleted = conversation(s, ada.id, "Deleted pension chat");
    say(s, ada.id, deleted.id, "pension secrets");
    let deleted = s
        .delete_conversation(ada.id, deleted.id)
        .expect("soft delete");
    let (session, token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("ada's session");
    let bob_chat = conversation(s, bob.id, "Bob's chat");
    say(s, bob.id, bob_chat.id, "bob's own words");
    World {
        ada,
        bob,
        chat,
        deleted,
        bob_chat,
        question,
        reply,
        log,
        private,
        private_chunks,
        shared,
        shared_chunks,
        session,
        token,
    }
}

/// Everything Ada can read about her own data.
#[derive(Debug, PartialEq)]
struct Snapshot {
    user: User,
    conversations: Vec<Conversation>,
    messages: Vec<Message>,
    deleted_messages: Vec<Message>,
    logs: Vec<AgentLog>,
    documents: Vec<Document>,
    chunks: Vec<Chunk>,
    sessions: Vec<Session>,
    usage: UsageTotals,
    conversation_usage: UsageTotals,
    roles: Vec<String>,
}

fn snapshot(store: &dyn Store, w: &World) -> Snapshot {
    let ada = w.ada.id;
    let mut chunks = store.chunks(ada, w.private.id).expect("chunks");
    chunks.extend(store.chunks(ada, w.shared.id).expect("chunks"));
    Snapshot {
        user: store.user(ada).expect("ada"),
        conversations: conversations_of(store, ada, &ALL_STATUSES, Visibility::All)
            .iter()
            .map(|c| store.conversation(ada, c.id).expect("ada's conversation"))
            .collect(),
        messages: messages_of(store, ada, w.chat.id),
        deleted_messages: messages_of(store, ada, w.deleted.id),
        logs: store
            .conversation_agent_logs(ada, w.chat.id)
            .expect("agent logs"),
        documents: documents_of(store, ada),
        chunks,
        sessions: store.list_sessions(ada).expect("sessions"),
        usage: store.usage_totals(ada, TimeRange::ALL).expect("usage"),
        conversation_usage: store
            .conversation_usage(ada, w.chat.id)
            .expect("conversation usage"),
        roles: store
            .user_roles(ada)
            .expect("roles")
            .into_iter()
            .map(|r| r.name)
            .collect(),
    }
}

fn not_found<T: std::fmt::Debug>(what: &str, result: Result<T>) {
    assert_err!(result, Error::NotFound { .. }, "{what} by another user");
}

/// Another user's conversations are not found by any conversation method and stay unchanged.
pub fn isolation_conversations(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let w = world(&f);
    let before = snapshot(s, &w);
    let bob = w.bob.id;
    for id in [w.chat.id, w.deleted.id] {
        not_found("conversation", s.conversation(bob, id));
        not_found("rename", s.rename_conversation(bob, id, Some("mine")));
        not_found(
            "model",
            s.set_conversation_model(bob, id, Some("p"), Some("m")),
        );
        not_found("select", s.set_selected_documents(bob, id, &[]));
        not_found("archive", s.archive_conversation(bob, id));
        not_found("unarchive", s.unarchive_conversation(bob, id));
        not_found("close", s.close_conversation(bob, id));
        not_found("reopen", s.reopen_conversation(bob, id));
        not_found("delete", s.delete_conversation(bob, id));
        not_found("restore", s.restore_conversation(bob, id));
        not_found("hide", s.hide_conversation(bob, id));
        not_found("unhide", s.unhide_conversation(bob, id));
        not_found("open", s.mark_conversation_opened(bob, id));
        not_found("purge", s.purge_conversation(bob, id));
    }
    not_found(
        "select another user's document",
        s.set_selected_documents(bob, w.bob_chat.id, &[w.private.id]),
    );
    not_found(
        "create selecting another user's document",
        s.create_conversation(
            bob,
            &NewConversation {
                selected_document_ids: vec![w.private.id],
                ..NewConversation::default()
            },
        ),
    );
    let bobs: Vec<ConversationId> = conversations_of(s, bob, &ALL_STATUSES, Visibility::All)
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(bobs, vec![w.bob_chat.id], "bob lists only his own");
    assert_eq!(
        s.conversation(bob, w.bob_chat.id)
            .expect("bob's chat")
            .selected_document_ids,
        Vec::new()
    );
    assert_eq!(snapshot(s, &w), before);
}

/// Another user's messages are not found by any message method and stay unchanged.
pub fn isolation_messages(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let w = world(&f);
    let before = snapshot(s, &w);
    let bob = w.bob.id;
    not_found(
        "append",
        s.append_message(bob, w.chat.id, &NewMessage::user("intrusion")),
    );
    not_found(
        "append under another user's parent",
        s.append_message(
            bob,
            w.bob_chat.id,
            &NewMessage::user("branch").reply_to(w.question.id),
        ),
    );
    for id in [w.question.id, w.reply.id] {
        not_found("message", s.message(bob, id));
        not_found("branch", s.branch(bob, id, 10));
        not_found("children", s.children(bob, id));
    }
    for id in [w.chat.id, w.deleted.id] {
        not_found("last messages", s.last_messages(bob, id, 10));
        not_found("messages", s.messages(bob, id, &MessageQuery::default()));
        not_found("count", s.count_messages_by_role(bob, Some(id)));
        not_found("by source", s.messages_by_source(bob, id, "cache"));
    }
    assert_eq!(
        s.count_messages_by_role(bob, None).expect("bob's counts"),
        RoleCounts {
            user: 1,
            assistant: 0,
            system: 0
        }
    );
    assert_eq!(messages_of(s, bob, w.bob_chat.id).len(), 1);
    assert_eq!(snapshot(s, &w), before);
}

/// Search finds only the searching user's messages, even when aimed at another's conversation.
pub fn isolation_search(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let w = world(&f);
    let bob = w.bob.id;
    assert!(
        s.search_messages(bob, &SearchQuery::new("pension"))
            .expect("search")
            .is_empty()
    );
    for id in [w.chat.id, w.deleted.id] {
        match s.search_messages(bob, &SearchQuery::new("pension").in_conversation(id)) {
            Ok(hits) => assert!(hits.is_empty(), "bob found {hits:?}"),
            Err(Error::NotFound { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let own = s
        .search_messages(bob, &SearchQuery::new("words"))
        .expect("search");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].conversation_id, w.bob_chat.id);
    assert_eq!(
        s.search_messages(w.ada.id, &SearchQuery::new("pension"))
            .expect("ada's search")
            .len(),
        2,
        "ada's own search is unaffected (her deleted conversation excluded)"
    );
}

/// Another's private document is not found, their global one is read-only; nothing changes.
pub fn isolation_documents(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let w = world(&f);
    let before = snapshot(s, &w);
    let bob = w.bob.id;
    let id = w.private.id;
    not_found("document", s.document(bob, id));
    not_found("chunks", s.chunks(bob, id));
    not_found(
        "update",
        s.update_document(
            bob,
            id,
            &DocumentUpdate {
                title: Some("mine".into()),
                ..DocumentUpdate::default()
            },
        ),
    );
    not_found(
        "analysis",
        s.set_document_analysis(bob, id, &DocumentAnalysis::default()),
    );
    not_found("start", s.start_processing(bob, id));
    not_found("complete", s.complete_processing(bob, id));
    not_found("fail", s.fail_processing(bob, id, "sabotage"));
    not_found(
        "add chunks",
        s.add_chunks(bob, id, &[new_chunk(7, "spam", None)]),
    );
    not_found("delete chunks", s.delete_chunks(bob, id));
    not_found("delete", s.delete_document(bob, id));

    let forbidden = |what: &str, result: Result<Document>| {
        assert_err!(
            result,
            Error::Forbidden { ref permission } if permission == permissions::ADMIN_FULL,
            "{what} on a global document by a non-admin"
        );
    };
    let g = w.shared.id;
    assert_eq!(s.document(bob, g).expect("global is readable"), w.shared);
    assert_eq!(s.chunks(bob, g).expect("global chunks"), w.shared_chunks);
    forbidden(
        "update",
        s.update_document(
            bob,
            g,
            &DocumentUpdate {
                title: Some("mine".into()),
                ..DocumentUpdate::default()
            },
        ),
    );
    forbidden(
        "analysis",
        s.set_document_analysis(bob, g, &DocumentAnalysis::default()),
    );
    forbidden("start", s.start_processing(bob, g));
    forbidden("complete", s.complete_processing(bob, g));
    forbidden("fail", s.fail_processing(bob, g, "sabotage"));
    assert_err!(
        s.add_chunks(bob, g, &[new_chunk(7, "spam", None)]),
        Error::Forbidden { .. }
    );
    assert_err!(s.delete_chunks(bob, g), Error::Forbidden { .. });
    assert_err!(s.delete_document(bob, g), Error::Forbidden { .. });

    let asked: Vec<_> = w
        .private_chunks
        .iter()
        .chain(&w.shared_chunks)
        .map(|c| c.id)
        .collect();
    assert_eq!(
        s.chunks_by_ids(bob, &asked).expect("chunks by ids"),
        w.shared_chunks,
        "only the global document's chunks are visible"
    );
    assert_eq!(documents_of(s, bob), vec![w.shared.clone()]);
    assert_eq!(snapshot(s, &w), before);
}

/// Another user's sessions cannot be listed or revoked, and stay valid.
pub fn isolation_sessions(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let w = world(&f);
    let before = snapshot(s, &w);
    let bob = w.bob.id;
    let (bobs, _) = s
        .create_session(bob, &NewSession::default())
        .expect("bob's session");
    not_found(
        "revoke session by id",
        s.revoke_session_by_id(bob, w.session.id),
    );
    assert_eq!(
        s.list_sessions(bob).expect("bob's sessions"),
        vec![bobs],
        "bob lists only his own"
    );
    assert_eq!(s.revoke_all_sessions(bob).expect("revoke bob's"), 1);
    let (session, owner) = s.validate_session(&w.token).expect("ada's token works");
    assert_eq!(session.id, w.session.id);
    assert_eq!(owner.id, w.ada.id);
    assert_eq!(snapshot(s, &w), before);
}

/// Another user's messages and conversations neither take nor show agent logs.
pub fn isolation_agent_logs(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let w = world(&f);
    let before = snapshot(s, &w);
    let bob = w.bob.id;
    not_found(
        "record agent log",
        s.record_agent_log(bob, w.reply.id, &NewAgentLog::new("Intruder")),
    );
    not_found("agent logs", s.agent_logs(bob, w.reply.id));
    not_found(
        "conversation agent logs",
        s.conversation_agent_logs(bob, w.chat.id),
    );
    assert_eq!(
        s.agent_logs(w.ada.id, w.reply.id).expect("ada's logs"),
        vec![w.log.clone()]
    );
    assert_eq!(snapshot(s, &w), before);
}

/// Usage cannot be linked to or read from another user's data; each user sums only their own.
pub fn isolation_usage(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let w = world(&f);
    let before = snapshot(s, &w);
    let bob = w.bob.id;
    let base = || NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 1, 1);
    not_found(
        "usage on another user's conversation",
        s.record_usage(
            bob,
            &NewUsage {
                conversation_id: Some(w.chat.id),
                ..base()
            },
        ),
    );
    not_found(
        "usage on another user's message",
        s.record_usage(
            bob,
            &NewUsage {
                message_id: Some(w.reply.id),
                ..base()
            },
        ),
    );
    not_found(
        "usage on another user's agent run",
        s.record_usage(
            bob,
            &NewUsage {
                agent_log_id: Some(w.log.id),
                ..base()
            },
        ),
    );
    not_found("conversation usage", s.conversation_usage(bob, w.chat.id));
    assert_eq!(
        s.usage_totals(bob, TimeRange::ALL).expect("bob's totals"),
        UsageTotals::default()
    );
    assert!(
        s.usage_by_provider(bob, TimeRange::ALL)
            .expect("bob's breakdown")
            .is_empty()
    );
    assert!(
        s.daily_usage(bob, TimeRange::ALL)
            .expect("bob's days")
            .is_empty()
    );
    s.record_usage(bob, &base()).expect("bob's own usage");
    assert_eq!(snapshot(s, &w), before, "ada's usage is unchanged");
    assert_eq!(
        s.usage_totals(bob, TimeRange::ALL).expect("bob").requests,
        1
    );
}

/// A chosen message id tells Bob nothing about Ada's messages: an id of hers, her
/// reservation and an id nobody has are all refused with the same answer, and only an
/// id reserved for Bob himself is taken. (A duplicate id once answered "unique
/// conflict on messages.id", confirming that the id existed.)
pub fn isolation_message_ids_cannot_be_probed(backend: &dyn Backend) {
    use crate::MessageId;
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let hers = conversation(s, ada.id, "hers");
    let taken = say(s, ada.id, hers.id, "private");
    let reserved_for_her = MessageId::reserve(ada.id);
    let attached = s
        .append_message(
            ada.id,
            hers.id,
            &NewMessage {
                id: Some(reserved_for_her),
                ..NewMessage::user("with an id reserved ahead")
            },
        )
        .expect("her reserved id is taken");
    assert_eq!(attached.id, reserved_for_her);
    let his = conversation(s, bob.id, "his");
    let answers: Vec<String> = [taken.id, reserved_for_her, MessageId::new()]
        .into_iter()
        .map(|id| {
            let result = s.append_message(
                bob.id,
                his.id,
                &NewMessage {
                    id: Some(id),
                    ..NewMessage::user("probe")
                },
            );
            match result {
                Err(error @ Error::Validation { field: "id", .. }) => error.to_string(),
                other => panic!("a probe with {id} gave {other:?}"),
            }
        })
        .collect();
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert!(messages_of(s, bob.id, his.id).is_empty());
    let own = MessageId::reserve(bob.id);
    let new = NewMessage {
        id: Some(own),
        ..NewMessage::user("mine")
    };
    assert_eq!(s.append_message(bob.id, his.id, &new).expect("own").id, own);
    assert_err!(
        s.append_message(bob.id, his.id, &new),
        Error::Conflict { .. },
        "his own id twice"
    );
    assert_eq!(messages_of(s, ada.id, hers.id), vec![taken, attached]);
}
