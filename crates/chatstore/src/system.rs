//! [`SystemStore`]: the operations that reach across users, kept apart from the
//! user-scoped traits.
//!
//! Every method of [`crate::MessageStore`], [`crate::ConversationStore`],
//! [`crate::DocumentStore`] and [`crate::SessionStore`] that reads or changes a user's
//! data takes that user and stays inside their data. The operations here do not: they
//! serve the library's own orchestration (attachment sweeps and migrations, recovery
//! after a crash) and an operator's scheduled jobs (retention). A host that hands request
//! code a `&dyn MessageStore` therefore cannot reach another user's messages through it;
//! only code holding a `SystemStore` (or a whole [`crate::Store`]) can:
//!
//! ```compile_fail
//! use chatstore::{FileMeta, MessageId, MessageStore};
//!
//! fn request_handler(messages: &dyn MessageStore, id: MessageId) {
//!     // error: `set_message_files` is not a method of `MessageStore`
//!     messages.set_message_files(id, &[]).unwrap();
//! }
//! ```
//!
//! ```
//! use chatstore::{MessageId, SystemStore};
//!
//! fn attachment_migration(system: &dyn SystemStore, id: MessageId) -> chatstore::Result<()> {
//!     system.set_message_files(id, &[])
//! }
//! ```

use std::time::Duration;

use uuid::Uuid;

use crate::{Cleanup, DocumentId, FileMeta, Message, MessageId, Result, Timestamp, UserId};

/// Which conversations a retention cleanup purges (of every user, whatever their status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retirement {
    /// Temporary conversations whose expiry is at or before this time.
    pub expired_by: Timestamp,
    /// Archived conversations archived before this time, if given (seed 000: "delete
    /// archived after 90 days").
    pub archived_before: Option<Timestamp>,
    /// Conversations whose last activity (last message, or creation) is before this
    /// time, if given.
    pub idle_before: Option<Timestamp>,
}

impl Retirement {
    /// Expired temporary conversations only, as of `now`.
    pub fn expired(now: Timestamp) -> Retirement {
        Retirement {
            expired_by: now,
            archived_before: None,
            idle_before: None,
        }
    }
}

/// What an operator's summary of a store shows (seed 000's admin figures).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StoreFigures {
    /// Login sessions neither expired nor revoked.
    pub active_sessions: u64,
    /// Every message, by role.
    pub messages_by_role: crate::RoleCounts,
    /// The conversations with the most messages, most first.
    pub largest_conversations: Vec<ConversationSize>,
    /// The users with the most messages, most first.
    pub busiest_users: Vec<UserSize>,
}

/// A conversation and how many messages it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConversationSize {
    /// The conversation.
    pub id: crate::ConversationId,
    /// Its owner.
    pub user_id: crate::UserId,
    /// Its title.
    pub title: Option<String>,
    /// Its messages.
    pub message_count: u64,
}

/// A user and how much they have written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserSize {
    /// The user.
    pub id: crate::UserId,
    /// Their username.
    pub username: String,
    /// Their conversations.
    pub conversations: u64,
    /// The messages in them.
    pub messages: u64,
}

/// Operations across all users: sweeps, retention and attachment migrations.
pub trait SystemStore: Send + Sync {
    /// Which of these messages exist, in any conversation of any user (at most
    /// [`crate::validate::MAX_IDS`] ids). The orphan sweep of attachments uses it.
    fn existing_messages(&self, ids: &[MessageId]) -> Result<Vec<MessageId>>;

    /// Messages that have files, in id order after `after`, at most `limit`.
    /// Migrations of attachment storage walk them.
    fn messages_with_files(&self, after: Option<MessageId>, limit: u32) -> Result<Vec<Message>>;

    /// Replaces a message's file metadata (and nothing else: what was said never
    /// changes). Attachment migrations use it.
    fn set_message_files(&self, id: MessageId, files: &[FileMeta]) -> Result<()>;

    /// Purges every conversation (of every user) soft-deleted before `deleted_before`.
    /// Returns what other stores must remove ([`crate::ChatStore::purge_deleted_conversations`] does
    /// that).
    fn purge_deleted_conversations(&self, deleted_before: Timestamp) -> Result<Cleanup>;

    /// Purges every conversation (of every user) that `rule` retires: temporary ones
    /// expired by then, and, where the rule says so, archived or idle ones past their
    /// age. Returns what other stores must remove
    /// ([`crate::ChatStore::clean_up`] does that).
    fn purge_retired_conversations(&self, rule: &Retirement) -> Result<Cleanup>;

    /// Hides (with `auto_hidden` set) every visible conversation, of every user, with no
    /// activity — message or opening — for longer than `idle_for` (the configured
    /// default when `None`). Returns how many were hidden.
    fn auto_hide_idle_conversations(&self, idle_for: Option<Duration>) -> Result<u64>;

    /// Moves every document that has been `processing` since before `started_before` to
    /// `failed`, saying that processing was interrupted, and returns their ids. A process
    /// that dies while ingesting leaves its document `processing`, which no step may
    /// leave except by finishing; this frees such documents to be ingested again. Their
    /// previous chunks stay.
    fn fail_interrupted_processing(&self, started_before: Timestamp) -> Result<Vec<DocumentId>>;

    /// The figures an operator's summary shows: active sessions, messages by role, and
    /// the `top` largest conversations and busiest users (ties by id).
    fn store_figures(&self, top: u32) -> Result<StoreFigures>;

    /// Trims the embedding cache: entries cached before `cached_before` go, and then
    /// all but the `keep_at_most` most recently cached (each limit only when given).
    /// Returns how many entries went. A trimmed entry costs one more call to the
    /// embedding model when its text comes again, nothing else.
    fn trim_embedding_cache(
        &self,
        cached_before: Option<Timestamp>,
        keep_at_most: Option<u64>,
    ) -> Result<u64>;
    /// Replaces a user's password hash with one made by another application (an
    /// imported account), stored as it is, and revokes the user's sessions as a password
    /// change does. The hash must pass [`crate::validate::password_hash`] (a scheme
    /// chatstore verifies); the user's next successful login verifies it in its own
    /// scheme and replaces it with argon2id. An unknown user is [`crate::Error::NotFound`].
    fn set_password_hash(&self, id: UserId, stored: &str) -> Result<()>;

    /// The scheme of a user's stored password hash, `None` when chatstore does not know
    /// it (that user cannot log in until their password is reset): an operator sees
    /// who still has an imported hash. An unknown user is [`crate::Error::NotFound`].
    fn password_scheme(&self, id: UserId) -> Result<Option<crate::HashScheme>>;

    /// The id a record brought over from another system was given here, found by where
    /// it came from (`source`, say "seed002"), its `kind` ("user", "conversation",
    /// "message", ...) and the id it had there; `None` when it was not imported. Old
    /// links are redirected with it; see the `imported_ids` table.
    fn imported_id(&self, source: &str, kind: &str, original_id: &str) -> Result<Option<Uuid>>;

    /// Deletes sessions that have expired or were revoked (TTL cleanup); returns how many.
    fn delete_expired_sessions(&self) -> Result<u64>;

    /// Forgets the records of embedding removals made before `before`, which let a
    /// vector index catch up with only what changed ([`crate::EmbeddingChanges`]); an
    /// index whose snapshot is older than what was forgotten rebuilds its view from the
    /// whole collection instead. Returns how many records went. Each call marks the
    /// version reached with the time, and a later call forgets up to the newest mark
    /// older than `before`: run it regularly ([`crate::ChatStore::new`] does, keeping
    /// [`crate::orchestration::REMOVALS_KEPT`]). A store that keeps no such records has
    /// nothing to forget.
    fn forget_embedding_removals(&self, before: Timestamp) -> Result<u64> {
        let _ = before;
        Ok(0)
    }
}
