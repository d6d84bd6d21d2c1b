//! Conversations: threads of messages owned by one user, with a lifecycle (active,
//! archived, closed, deleted), visibility (hidden by hand or for being idle) and the LLM
//! and document selection they use.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::{
    Cleanup, ConversationId, Cursor, DocumentId, Page, Result, Timestamp, UserId, validate,
};

string_enum! {
    /// Where a conversation is in its lifecycle.
    ///
    /// ```text
    /// active ⇄ archived      active/archived → closed → (reopen) active
    /// any → deleted (soft) → restore → the status it had; deleted → purged (gone)
    /// ```
    ConversationStatus, field = "status" {
        /// Open for new messages.
        Active = "active",
        /// Kept but put away; unarchive to continue.
        Archived = "archived",
        /// Finished; reopen to continue.
        Closed = "closed",
        /// Soft-deleted: restorable until purged.
        Deleted = "deleted",
    }
}

/// What can be done to a conversation. [`ConversationStatus::allows`] says in which
/// statuses; every backend asks it, so the lifecycle is the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConversationOp {
    /// Append a message.
    Append,
    /// Change the title.
    Rename,
    /// Change the provider and model.
    ChangeModel,
    /// Change the documents selected for retrieval.
    SelectDocuments,
    /// Hide it from the default listing.
    Hide,
    /// Show it again.
    Unhide,
    /// Record that the user opened it.
    Open,
    /// Put it away.
    Archive,
    /// Take it out of the archive.
    Unarchive,
    /// Finish it.
    Close,
    /// Continue a closed one.
    Reopen,
    /// Soft-delete it.
    Delete,
    /// Undo a soft delete.
    Restore,
    /// Remove a soft-deleted one for good.
    Purge,
}

impl ConversationOp {
    /// The operation as a verb, for error messages ("cannot {verb} conversation ...").
    pub fn verb(self) -> &'static str {
        use ConversationOp::*;
        match self {
            Append => "append to",
            Rename => "rename",
            ChangeModel => "change the model of",
            SelectDocuments => "select documents for",
            Hide => "hide",
            Unhide => "unhide",
            Open => "open",
            Archive => "archive",
            Unarchive => "unarchive",
            Close => "close",
            Reopen => "reopen",
            Delete => "delete",
            Restore => "restore",
            Purge => "purge (delete it first)",
        }
    }
}

impl ConversationStatus {
    /// True when a conversation in this status allows `op`: only active conversations
    /// take messages; every status but deleted allows editing, hiding and deleting;
    /// the status changes follow the diagram on [`ConversationStatus`].
    ///
    /// ```
    /// use chatstore::{ConversationOp, ConversationStatus};
    ///
    /// assert!(ConversationStatus::Active.allows(ConversationOp::Append));
    /// assert!(!ConversationStatus::Archived.allows(ConversationOp::Append));
    /// assert!(ConversationStatus::Archived.allows(ConversationOp::Close));
    /// assert!(!ConversationStatus::Active.allows(ConversationOp::Purge));
    /// ```
    pub fn allows(self, op: ConversationOp) -> bool {
        use ConversationOp::*;
        use ConversationStatus::*;
        match op {
            Append | Archive => self == Active,
            Unarchive => self == Archived,
            Close => matches!(self, Active | Archived),
            Reopen => self == Closed,
            Restore | Purge => self == Deleted,
            Rename | ChangeModel | SelectDocuments | Hide | Unhide | Open | Delete => {
                self != Deleted
            }
        }
    }
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The conversation's id.
    pub id: ConversationId,
    /// Its owner.
    pub user_id: UserId,
    /// Title (topic).
    pub title: Option<String>,
    /// Lifecycle status.
    pub status: ConversationStatus,
    /// Number of messages (kept up to date by every append).
    pub message_count: u64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When any of its fields last changed.
    pub updated_at: Timestamp,
    /// When the last message was appended.
    pub last_message_at: Option<Timestamp>,
    /// When the user last opened it.
    pub last_opened_at: Option<Timestamp>,
    /// When it was archived, while archived.
    pub archived_at: Option<Timestamp>,
    /// When it was closed, while closed.
    pub closed_at: Option<Timestamp>,
    /// When it was soft-deleted, while deleted.
    pub deleted_at: Option<Timestamp>,
    /// Hidden from the default listing.
    pub is_hidden: bool,
    /// When it was hidden.
    pub hidden_at: Option<Timestamp>,
    /// Hidden automatically for being idle (undone when opened or written to).
    pub auto_hidden: bool,
    /// LLM provider used.
    pub llm_provider: Option<String>,
    /// Specific model used.
    pub llm_model: Option<String>,
    /// Documents that retrieval is restricted to; empty means all accessible documents.
    pub selected_document_ids: Vec<DocumentId>,
    /// When a temporary conversation expires: from then on it is never listed, found
    /// or written to, and the cleanup removes it ([`crate::SystemStore::purge_retired_conversations`]).
    pub expires_at: Option<Timestamp>,
}

impl Conversation {
    /// True when the conversation is temporary and its time is up at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Not-found for an expired conversation, exactly as for a missing one: what every
    /// backend reports once a temporary conversation's time is up.
    pub fn check_unexpired(&self, now: Timestamp) -> Result<()> {
        if self.is_expired(now) {
            return Err(crate::Error::not_found("conversation", self.id));
        }
        Ok(())
    }
    /// Checks that the conversation's status allows `op`; otherwise the
    /// [`crate::ConflictKind::InvalidState`] conflict every backend reports.
    pub fn check(&self, op: ConversationOp) -> Result<()> {
        if self.status.allows(op) {
            return Ok(());
        }
        Err(crate::Error::conflict(
            crate::ConflictKind::InvalidState,
            "conversation status",
            format!(
                "cannot {} conversation {} while it is {}",
                op.verb(),
                self.id,
                self.status
            ),
        ))
    }
}

impl Conversation {
    /// The time of the latest activity: the last message, or creation if there is none.
    /// Listings are ordered by it, newest first.
    pub fn last_activity_at(&self) -> Timestamp {
        self.last_message_at.unwrap_or(self.created_at)
    }
}

/// A conversation as a listing shows it: what a sidebar needs, read cheaply. Fetch the
/// full [`Conversation`] with [`ConversationStore::conversation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// The conversation's id.
    pub id: ConversationId,
    /// Title (topic).
    pub title: Option<String>,
    /// Lifecycle status.
    pub status: ConversationStatus,
    /// Number of messages.
    pub message_count: u64,
    /// The last message's time, or the creation time before the first message: what
    /// listings are ordered by, newest first.
    pub last_activity_at: Timestamp,
    /// Hidden from the default listing.
    pub is_hidden: bool,
    /// Hidden automatically for being idle.
    pub auto_hidden: bool,
}

/// What creating a conversation takes; everything is optional.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    /// Title.
    pub title: Option<String>,
    /// LLM provider.
    pub llm_provider: Option<String>,
    /// LLM model.
    pub llm_model: Option<String>,
    /// Documents to restrict retrieval to; each must be visible to the user.
    pub selected_document_ids: Vec<DocumentId>,
    /// A temporary conversation: it expires this long after it is created (see
    /// [`Conversation::expires_at`]). At least a second, at most [`MAX_LIFETIME`].
    pub expires_in: Option<Duration>,
}

/// The longest a temporary conversation may be given to live: ten years.
pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl NewConversation {
    /// This conversation, temporary: it expires `lifetime` after it is created.
    pub fn temporary(mut self, lifetime: Duration) -> NewConversation {
        self.expires_in = Some(lifetime);
        self
    }

    /// A conversation with a title.
    pub fn titled(title: &str) -> NewConversation {
        NewConversation {
            title: Some(title.to_owned()),
            ..NewConversation::default()
        }
    }

    /// Checks the conversation and gives the values a backend stores: the title as
    /// [`prepare_title`] leaves it, provider and model as [`prepare_model`] does, and
    /// the selection as [`validate::document_selection`] does. Anything else is
    /// [`crate::Error::Validation`] naming the field. That each selected document is
    /// visible to the user is the backend's to check.
    ///
    /// ```
    /// use chatstore::{DocumentId, NewConversation};
    ///
    /// let doc = DocumentId::new();
    /// let new = NewConversation {
    ///     title: Some("  ".into()),
    ///     llm_model: Some(" llama3 ".into()),
    ///     selected_document_ids: vec![doc, doc],
    ///     ..Default::default()
    /// };
    /// let prepared = new.prepare().unwrap();
    /// assert_eq!(prepared.title, None);
    /// assert_eq!(prepared.llm_model.as_deref(), Some("llama3"));
    /// assert_eq!(prepared.selected_document_ids, [doc]);
    /// ```
    pub fn prepare(&self) -> Result<PreparedConversation> {
        let title = prepare_title(self.title.as_deref())?;
        let (llm_provider, llm_model) =
            prepare_model(self.llm_provider.as_deref(), self.llm_model.as_deref())?;
        if let Some(lifetime) = self.expires_in
            && !(Duration::from_secs(1)..=MAX_LIFETIME).contains(&lifetime)
        {
            return Err(crate::Error::validation(
                "expires_in",
                "must be between a second and ten years",
            ));
        }
        Ok(PreparedConversation {
            title,
            llm_provider,
            llm_model,
            selected_document_ids: validate::document_selection(&self.selected_document_ids)?,
            expires_in: self.expires_in,
        })
    }
}

/// A conversation checked by [`NewConversation::prepare`]: the values a backend stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedConversation {
    /// Title, trimmed; `None` when blank.
    pub title: Option<String>,
    /// LLM provider, trimmed.
    pub llm_provider: Option<String>,
    /// LLM model, trimmed.
    pub llm_model: Option<String>,
    /// Selected documents, sorted and without repeats (each still to be checked visible).
    pub selected_document_ids: Vec<DocumentId>,
    /// How long a temporary conversation lives.
    pub expires_in: Option<Duration>,
}

impl PreparedConversation {
    /// When the conversation expires if created at `now`, for a temporary one.
    pub fn expires_at(&self, now: Timestamp) -> Option<Timestamp> {
        self.expires_in.map(|lifetime| now + lifetime)
    }
}

/// Checks a conversation's title (on creation and [`ConversationStore::rename_conversation`])
/// and gives the value a backend stores: trimmed, `None` when blank, a short text
/// ([`validate::optional_text`] on `title`).
///
/// ```
/// use chatstore::conversations::prepare_title;
///
/// assert_eq!(prepare_title(Some(" Taxes ")).unwrap().as_deref(), Some("Taxes"));
/// assert_eq!(prepare_title(Some("")).unwrap(), None);
/// assert!(prepare_title(Some(&"x".repeat(501))).is_err());
/// ```
pub fn prepare_title(title: Option<&str>) -> Result<Option<String>> {
    validate::optional_text("title", title)
}

/// Checks a conversation's LLM provider and model (on creation and
/// [`ConversationStore::set_conversation_model`]) and gives the values a backend
/// stores: each a short text, trimmed, `None` when blank (fields `llm_provider` and
/// `llm_model`).
///
/// ```
/// use chatstore::conversations::prepare_model;
///
/// let (provider, model) = prepare_model(Some(" ollama "), None).unwrap();
/// assert_eq!((provider.as_deref(), model), (Some("ollama"), None));
/// assert!(prepare_model(None, Some("a\0b")).is_err());
/// ```
pub fn prepare_model(
    provider: Option<&str>,
    model: Option<&str>,
) -> Result<(Option<String>, Option<String>)> {
    Ok((
        validate::optional_text("llm_provider", provider)?,
        validate::optional_text("llm_model", model)?,
    ))
}

/// Which of a user's conversations a listing shows, hidden ones included or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Only conversations that are not hidden (the default).
    #[default]
    Visible,
    /// Only hidden ones (by hand or automatically).
    Hidden,
    /// Both.
    All,
}

/// A listing of a user's conversations, newest activity first.
#[derive(Debug, Clone)]
pub struct ConversationQuery {
    /// Only conversations with these statuses; empty means every status but `deleted`.
    pub statuses: Vec<ConversationStatus>,
    /// Hidden, visible or both.
    pub visibility: Visibility,
    /// Page size, 1–1000.
    pub limit: u32,
    /// Where to continue from.
    pub cursor: Option<Cursor>,
}

impl Default for ConversationQuery {
    fn default() -> Self {
        ConversationQuery {
            statuses: Vec::new(),
            visibility: Visibility::Visible,
            limit: 50,
            cursor: None,
        }
    }
}

/// Storing conversations. Every method takes the owner's id: a conversation of another
/// user is [`crate::Error::NotFound`], exactly like a missing one.
///
/// A change the conversation's status does not allow (renaming a deleted conversation,
/// archiving a closed one) is [`crate::Error::Conflict`] with
/// [`crate::ConflictKind::InvalidState`] and changes nothing.
pub trait ConversationStore: Send + Sync {
    /// Starts a conversation.
    fn create_conversation(&self, user: UserId, new: &NewConversation) -> Result<Conversation>;

    /// One conversation, whatever its status (soft-deleted ones included).
    fn conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// A page of the user's conversations, newest activity first, each with its message
    /// count, in one query.
    fn list_conversations(
        &self,
        user: UserId,
        query: &ConversationQuery,
    ) -> Result<Page<ConversationSummary>>;

    /// Changes the title (`None` clears it).
    fn rename_conversation(
        &self,
        user: UserId,
        id: ConversationId,
        title: Option<&str>,
    ) -> Result<Conversation>;

    /// Records the LLM provider and model the conversation uses.
    fn set_conversation_model(
        &self,
        user: UserId,
        id: ConversationId,
        provider: Option<&str>,
        model: Option<&str>,
    ) -> Result<Conversation>;

    /// Restricts retrieval to these documents (empty: all accessible). Each must be
    /// visible to the user, or the call is [`crate::Error::NotFound`].
    fn set_selected_documents(
        &self,
        user: UserId,
        id: ConversationId,
        documents: &[DocumentId],
    ) -> Result<Conversation>;

    /// Active → archived.
    fn archive_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Archived → active.
    fn unarchive_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Active or archived → closed.
    fn close_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Closed → active.
    fn reopen_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Soft delete: hidden from listings, restorable until purged.
    fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Undoes a soft delete, returning the conversation to the status it had.
    fn restore_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Removes a soft-deleted conversation and its messages for good. Returns what other
    /// stores must remove ([`crate::ChatStore::purge_conversation`] does that).
    fn purge_conversation(&self, user: UserId, id: ConversationId) -> Result<Cleanup>;

    /// Hides a conversation by hand.
    fn hide_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Shows a hidden conversation again.
    fn unhide_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;

    /// Records that the user opened the conversation; undoes an automatic hide.
    fn mark_conversation_opened(&self, user: UserId, id: ConversationId) -> Result<Conversation>;
}

#[cfg(test)]
mod tests {
    use super::ConversationOp::*;
    use super::ConversationStatus::*;
    use super::*;

    fn field<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
        match result {
            Err(crate::Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn new_conversations_are_checked() {
        let bad = |change: fn(&mut NewConversation)| {
            let mut new = NewConversation::default();
            change(&mut new);
            field(new.prepare())
        };
        assert_eq!(bad(|n| n.title = Some("t".repeat(501))), "title");
        assert_eq!(bad(|n| n.llm_provider = Some("p\0".into())), "llm_provider");
        assert_eq!(bad(|n| n.llm_model = Some("m".repeat(501))), "llm_model");
        assert_eq!(
            bad(|n| {
                n.selected_document_ids = (0..=crate::validate::MAX_SELECTED_DOCUMENTS)
                    .map(|_| DocumentId::new())
                    .collect()
            }),
            "selected_document_ids"
        );
        let empty = NewConversation::default().prepare().unwrap();
        assert_eq!(
            empty,
            PreparedConversation {
                title: None,
                llm_provider: None,
                llm_model: None,
                selected_document_ids: Vec::new(),
                expires_in: None,
            }
        );
        for bad in [Duration::ZERO, Duration::from_millis(999), MAX_LIFETIME * 2] {
            assert!(
                matches!(
                    NewConversation::titled("t").temporary(bad).prepare(),
                    Err(crate::Error::Validation {
                        field: "expires_in",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        let temporary = NewConversation::titled("t")
            .temporary(Duration::from_secs(60))
            .prepare()
            .unwrap();
        let now = Timestamp::from_unix_micros(1_000_000).unwrap();
        assert_eq!(
            temporary.expires_at(now),
            Some(Timestamp::from_unix_micros(61_000_000).unwrap())
        );
        let (a, b) = (DocumentId::new(), DocumentId::new());
        let selection = NewConversation {
            selected_document_ids: vec![b, a, b],
            ..NewConversation::default()
        };
        let mut sorted = vec![a, b];
        sorted.sort();
        assert_eq!(selection.prepare().unwrap().selected_document_ids, sorted);
    }

    #[test]
    fn titles_and_models_are_checked_alone() {
        assert_eq!(prepare_title(None).unwrap(), None);
        assert_eq!(field(prepare_title(Some("a\0"))), "title");
        assert_eq!(
            field(prepare_model(Some(&"p".repeat(501)), None)),
            "llm_provider"
        );
        assert_eq!(field(prepare_model(None, Some("m\0"))), "llm_model");
        assert_eq!(
            prepare_model(Some(" "), Some(" llama3 ")).unwrap(),
            (None, Some("llama3".to_owned()))
        );
    }

    #[test]
    fn each_operation_is_allowed_in_exactly_the_lifecycles_statuses() {
        let all = [Active, Archived, Closed, Deleted];
        let table: [(ConversationOp, &[ConversationStatus]); 14] = [
            (Append, &[Active]),
            (Archive, &[Active]),
            (Unarchive, &[Archived]),
            (Close, &[Active, Archived]),
            (Reopen, &[Closed]),
            (Delete, &[Active, Archived, Closed]),
            (Restore, &[Deleted]),
            (Purge, &[Deleted]),
            (Rename, &[Active, Archived, Closed]),
            (ChangeModel, &[Active, Archived, Closed]),
            (SelectDocuments, &[Active, Archived, Closed]),
            (Hide, &[Active, Archived, Closed]),
            (Unhide, &[Active, Archived, Closed]),
            (Open, &[Active, Archived, Closed]),
        ];
        for (op, allowed) in table {
            for status in all {
                assert_eq!(
                    status.allows(op),
                    allowed.contains(&status),
                    "{op:?} {status}"
                );
            }
        }
    }
}
