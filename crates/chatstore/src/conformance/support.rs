//! Helpers shared by the checks: making users, conversations, messages and documents,
//! reading whole listings back, and naming durations.

use std::time::Duration;

use super::{Backend, Fixture, START, test_config};
use crate::rbac::roles;
use crate::{
    Chunk, Config, Conversation, ConversationId, ConversationQuery, ConversationStatus,
    ConversationSummary, Cursor, Document, DocumentQuery, DocumentScope, Message, MessageQuery,
    NewChunk, NewConversation, NewDocument, NewMessage, NewUser, Page, Store, Timestamp, User,
    UserId, UserQuery, Visibility,
};

/// A fixture whose configuration `adjust` changes first (sizes, prices, idle times).
pub(super) fn fixture_with(
    backend: &dyn Backend,
    adjust: impl FnOnce(Config) -> Config,
) -> Fixture {
    let (config, clock) = test_config();
    let store = backend
        .open(adjust(config))
        .expect("backend opens with the adjusted configuration");
    Fixture { store, clock }
}

/// Where every fixture's clock starts.
pub(super) fn start() -> Timestamp {
    START.parse().expect("START is a valid timestamp")
}

/// `n` seconds.
pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` days.
pub(super) fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

/// True when two amounts of money agree to a billionth.
pub(super) fn same_amount(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The password [`user`] registers `name` with.
pub(super) fn password(name: &str) -> String {
    format!("{name} correct horse battery")
}

/// Registers `name` (email `name@example.com`, password [`password`]).
pub(super) fn user(store: &dyn Store, name: &str) -> User {
    store
        .create_user(&NewUser::new(
            name,
            &format!("{name}@example.com"),
            &password(name),
        ))
        .expect("a well-formed user registers")
}

/// Registers `name` and gives them the `admin` role.
pub(super) fn admin(store: &dyn Store, name: &str) -> User {
    let admin = user(store, name);
    store
        .assign_role(admin.id, roles::ADMIN)
        .expect("the admin role can be assigned");
    admin
}

/// Starts a titled conversation.
pub(super) fn conversation(store: &dyn Store, user: UserId, title: &str) -> Conversation {
    store
        .create_conversation(user, &NewConversation::titled(title))
        .expect("a conversation can be started")
}

/// Appends a user message.
pub(super) fn say(
    store: &dyn Store,
    user: UserId,
    conversation: ConversationId,
    text: &str,
) -> Message {
    store
        .append_message(user, conversation, &NewMessage::user(text))
        .expect("a user message can be appended")
}

/// Appends an assistant message.
pub(super) fn answer(
    store: &dyn Store,
    user: UserId,
    conversation: ConversationId,
    text: &str,
) -> Message {
    store
        .append_message(user, conversation, &NewMessage::assistant(text))
        .expect("an assistant message can be appended")
}

/// Every message of a conversation, in append order.
pub(super) fn messages_of(
    store: &dyn Store,
    user: UserId,
    conversation: ConversationId,
) -> Vec<Message> {
    let query = MessageQuery {
        limit: 1000,
        ..MessageQuery::default()
    };
    store
        .messages(user, conversation, &query)
        .expect("the owner can read the messages")
        .items
}

/// Follows `next` cursors from the first page to the last; returns every page.
pub(super) fn walk<T>(mut fetch: impl FnMut(Option<Cursor>) -> Page<T>) -> Vec<Vec<T>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(cursor);
        cursor = page.next;
        pages.push(page.items);
        match &cursor {
            None => return pages,
            Some(_) if pages.len() > 1000 => panic!("listing never ends: more than 1000 pages"),
            Some(_) => {}
        }
    }
}

/// The user's conversations with these statuses and this visibility, in listing order.
pub(super) fn conversations_of(
    store: &dyn Store,
    user: UserId,
    statuses: &[ConversationStatus],
    visibility: Visibility,
) -> Vec<ConversationSummary> {
    let query = ConversationQuery {
        statuses: statuses.to_vec(),
        visibility,
        limit: 1000,
        cursor: None,
    };
    store
        .list_conversations(user, &query)
        .expect("the user's conversations can be listed")
        .items
}

/// The ids of the user's conversations in the default listing, in order.
pub(super) fn listed(store: &dyn Store, user: UserId) -> Vec<ConversationId> {
    conversations_of(store, user, &[], Visibility::Visible)
        .iter()
        .map(|c| c.id)
        .collect()
}

/// Every user, oldest account first.
pub(super) fn all_users(store: &dyn Store) -> Vec<User> {
    let query = UserQuery {
        limit: 1000,
        ..UserQuery::default()
    };
    store.list_users(&query).expect("users can be listed").items
}

/// Registers a private document `filename` at `/files/filename`.
pub(super) fn document(store: &dyn Store, user: UserId, filename: &str) -> Document {
    store
        .create_document(
            user,
            &NewDocument::new(filename, &format!("/files/{filename}")),
        )
        .expect("a private document can be registered")
}

/// Registers a global document; `admin` must hold `admin:full`.
pub(super) fn global_document(store: &dyn Store, admin: UserId, filename: &str) -> Document {
    let new = NewDocument {
        scope: DocumentScope::Global,
        ..NewDocument::new(filename, &format!("/shared/{filename}"))
    };
    store
        .create_document(admin, &new)
        .expect("an admin can register a global document")
}

/// A chunk to store.
pub(super) fn new_chunk(index: u32, content: &str, tokens: Option<u32>) -> NewChunk {
    NewChunk {
        chunk_index: index,
        content: content.to_owned(),
        num_tokens: tokens,
        page_number: None,
        section: None,
    }
}

/// Takes a pending document through processing with one chunk per text (each
/// `10 × (index + 1)` tokens) to `completed`; returns it and its chunks.
pub(super) fn process(
    store: &dyn Store,
    user: UserId,
    document: &Document,
    texts: &[&str],
) -> (Document, Vec<Chunk>) {
    store
        .start_processing(user, document.id)
        .expect("a pending document starts processing");
    let chunks: Vec<NewChunk> = (0u32..)
        .zip(texts)
        .map(|(i, text)| new_chunk(i, text, Some(10 * (i + 1))))
        .collect();
    let stored = store
        .add_chunks(user, document.id, &chunks)
        .expect("chunks can be added while processing");
    let done = store
        .complete_processing(user, document.id)
        .expect("a processing document completes");
    (done, stored)
}

/// Every document the user can see, in listing order.
pub(super) fn documents_of(store: &dyn Store, user: UserId) -> Vec<Document> {
    let query = DocumentQuery {
        limit: 1000,
        ..DocumentQuery::default()
    };
    store
        .list_documents(user, &query)
        .expect("the user's documents can be listed")
        .items
}
