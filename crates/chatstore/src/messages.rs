//! Messages: the append-only log of a conversation, with typed request and RAG metadata.
//!
//! A message is never changed after it is written. An edited question or a regenerated
//! answer is a new message whose parent is the message it replaces' parent, so the
//! conversation is a tree whose branches all stay readable.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::enums::string_enum;
use crate::{
    ChunkId, ConversationId, Cursor, DocumentId, Error, FileMeta, MessageId, Order, Page, Result,
    Timestamp, UserId, validate,
};

string_enum! {
    /// Who wrote a message.
    MessageRole, field = "role" {
        /// The human.
        User = "user",
        /// The model.
        Assistant = "assistant",
        /// Instructions or notices from the application.
        System = "system",
    }
}

/// A retrieved chunk as recorded on an answer (seed 002's `retrieved_documents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievedDocument {
    /// The chunk's document.
    pub document_id: DocumentId,
    /// The chunk.
    pub chunk_id: ChunkId,
    /// The chunk text shown to the model.
    pub content: String,
    /// Similarity to the question, higher is closer.
    pub similarity_score: f64,
    /// Page the chunk came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u32>,
}

/// A cited source (seed 002's `sources`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The cited document.
    pub id: DocumentId,
    /// Its file name.
    pub filename: String,
    /// Its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// How relevant it was, 0–1.
    pub relevance_score: f64,
    /// The passage cited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cited_text: Option<String>,
    /// Page of the passage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

/// One step of an answer's reasoning (seed 002's `reasoning_chain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningStep {
    /// Position in the chain, from 1.
    pub step: u32,
    /// The agent that took the step.
    pub agent: String,
    /// What it did.
    pub action: String,
    /// Why.
    pub reasoning: String,
    /// Seconds it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<f64>,
}

/// How well an answer is backed by its sources (seed 002's `grounding_evidence`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GroundingEvidence {
    /// Overall grounding score, 0–1.
    pub score: f64,
    /// Claims found in the sources.
    #[serde(default)]
    pub verified_claims: Vec<String>,
    /// Claims not found in the sources.
    #[serde(default)]
    pub unverified_claims: Vec<String>,
    /// Where each verified claim was found.
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Everything recorded about a message besides its text. All fields are optional.
///
/// The request fields (`request_id` … `latency_ms`) are seed 000's `msg_metadata`; the
/// RAG fields are seed 002's message columns; `extra` holds anything else the host wants.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageMetadata {
    /// The request that produced the message, for end-to-end tracing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Where it came from (`llm_generation`, `cache`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Tokens the message used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u32>,
    /// Model that wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// Generation latency in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Chunks retrieved for the answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retrieved_documents: Vec<RetrievedDocument>,
    /// Sources cited.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRef>,
    /// Confidence in the answer, 0–1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_score: Option<f64>,
    /// Set when confidence is low (below 0.30 in the seeds' application).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub low_confidence_warning: bool,
    /// The reasoning chain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasoning_chain: Vec<ReasoningStep>,
    /// Grounding verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grounding_evidence: Option<GroundingEvidence>,
    /// Agents that processed the message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents_involved: Vec<String>,
    /// Any other JSON the host attaches.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// The list-shaped part of [`MessageMetadata`]: what backends store together as one
/// JSON object, since most messages have none of it and one NULL column is cheaper to
/// read than six. Only its non-empty fields are written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RagMetadata {
    /// See [`MessageMetadata::retrieved_documents`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retrieved_documents: Vec<RetrievedDocument>,
    /// See [`MessageMetadata::sources`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRef>,
    /// See [`MessageMetadata::reasoning_chain`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasoning_chain: Vec<ReasoningStep>,
    /// See [`MessageMetadata::grounding_evidence`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grounding_evidence: Option<GroundingEvidence>,
    /// See [`MessageMetadata::agents_involved`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents_involved: Vec<String>,
    /// See [`MessageMetadata::extra`].
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl MessageMetadata {
    /// The list-shaped part, or `None` when all of it is empty.
    pub fn rag(&self) -> Option<RagMetadata> {
        let empty = self.retrieved_documents.is_empty()
            && self.sources.is_empty()
            && self.reasoning_chain.is_empty()
            && self.grounding_evidence.is_none()
            && self.agents_involved.is_empty()
            && self.extra.is_empty();
        (!empty).then(|| RagMetadata {
            retrieved_documents: self.retrieved_documents.clone(),
            sources: self.sources.clone(),
            reasoning_chain: self.reasoning_chain.clone(),
            grounding_evidence: self.grounding_evidence.clone(),
            agents_involved: self.agents_involved.clone(),
            extra: self.extra.clone(),
        })
    }

    /// This metadata with its list-shaped part taken from `rag`.
    pub fn with_rag(self, rag: RagMetadata) -> MessageMetadata {
        MessageMetadata {
            retrieved_documents: rag.retrieved_documents,
            sources: rag.sources,
            reasoning_chain: rag.reasoning_chain,
            grounding_evidence: rag.grounding_evidence,
            agents_involved: rag.agents_involved,
            extra: rag.extra,
            ..self
        }
    }

    /// Parses metadata from a JSON object, as a host receives it over HTTP.
    ///
    /// Known keys must have the right types; unknown keys must go under `extra`; the
    /// whole may nest at most [`crate::json::MAX_DEPTH`] levels, as on every write.
    /// Anything else is [`Error::Validation`] on the `metadata` field.
    ///
    /// ```
    /// use chatstore::MessageMetadata;
    ///
    /// let m = MessageMetadata::from_json(r#"{"request_id":"req-1","tokens":245}"#).unwrap();
    /// assert_eq!(m.tokens, Some(245));
    /// assert!(MessageMetadata::from_json(r#"{"tokens":"many"}"#).is_err());
    /// assert!(MessageMetadata::from_json("[1,2]").is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<MessageMetadata> {
        crate::json::check_depth("metadata", text)?;
        serde_json::from_str(text).map_err(|e| Error::validation("metadata", e.to_string()))
    }

    /// Checks the values: scores within 0–1 and finite, texts within length limits, a
    /// latency a database integer holds, and the whole at most `max_bytes` of JSON
    /// nested at most [`crate::json::MAX_DEPTH`] levels.
    pub fn validate(&self, max_bytes: usize) -> Result<()> {
        for (field, value) in [
            ("metadata.request_id", &self.request_id),
            ("metadata.source", &self.source),
            ("metadata.model_name", &self.model_name),
        ] {
            validate::optional_text(field, value.as_deref())?;
        }
        if self.latency_ms.is_some_and(|ms| i64::try_from(ms).is_err()) {
            return Err(Error::validation(
                "metadata.latency_ms",
                format!("must be at most {} milliseconds", i64::MAX),
            ));
        }
        if let Some(score) = self.confidence_score {
            validate::unit_interval("metadata.confidence_score", score)?;
        }
        for doc in &self.retrieved_documents {
            if !doc.similarity_score.is_finite() {
                return Err(Error::validation(
                    "metadata.retrieved_documents",
                    "similarity_score must be finite",
                ));
            }
        }
        for source in &self.sources {
            validate::unit_interval("metadata.sources.relevance_score", source.relevance_score)?;
        }
        for step in &self.reasoning_chain {
            if let Some(seconds) = step.execution_time {
                validate::non_negative("metadata.reasoning_chain.execution_time", seconds)?;
            }
        }
        if let Some(grounding) = &self.grounding_evidence {
            validate::unit_interval("metadata.grounding_evidence.score", grounding.score)?;
        }
        validate::json_within("metadata", self, max_bytes).map(drop)
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The message's id.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Position in the conversation, from 1, in append order.
    pub seq: u64,
    /// The message it follows or answers; `None` only for a conversation's first message.
    pub parent_id: Option<MessageId>,
    /// Who wrote it.
    pub role: MessageRole,
    /// The text.
    pub content: String,
    /// Request and RAG metadata.
    pub metadata: MessageMetadata,
    /// Attached files (their bytes are in the blob store).
    pub files: Vec<FileMeta>,
    /// When it was appended.
    pub created_at: Timestamp,
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The id to give it; a new one when `None`. An id chosen ahead must come from
    /// [`MessageId::reserve`] for the appending user, in this process (as
    /// [`crate::ChatStore`] does when it stores attachments before the message that
    /// names them); any other id is refused with [`Error::Validation`], whether or not
    /// a message has it, so that ids cannot be probed.
    pub id: Option<MessageId>,
    /// Who wrote it.
    pub role: MessageRole,
    /// The text: not blank, at most the configured maximum size.
    pub content: String,
    /// The message it follows. `None` means the conversation's latest message, which is
    /// what a linear chat wants; name an earlier message to start a branch (an edited
    /// question or a regenerated answer). It must be in the same conversation.
    pub parent: Option<MessageId>,
    /// Metadata.
    pub metadata: MessageMetadata,
    /// Attached files' metadata. Use [`crate::ChatStore::append_with_attachments`] to
    /// store the bytes and fill this in.
    pub files: Vec<FileMeta>,
}

impl NewMessage {
    /// A message following the conversation's latest one, without metadata.
    pub fn new(role: MessageRole, content: impl Into<String>) -> NewMessage {
        NewMessage {
            id: None,
            role,
            content: content.into(),
            parent: None,
            metadata: MessageMetadata::default(),
            files: Vec::new(),
        }
    }

    /// A message from the user.
    pub fn user(content: impl Into<String>) -> NewMessage {
        NewMessage::new(MessageRole::User, content)
    }

    /// A message from the assistant.
    pub fn assistant(content: impl Into<String>) -> NewMessage {
        NewMessage::new(MessageRole::Assistant, content)
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> NewMessage {
        NewMessage::new(MessageRole::System, content)
    }

    /// Checks that a chosen id was reserved for `user` (see [`NewMessage::id`]).
    pub fn check_id(&self, user: UserId) -> Result<()> {
        match self.id {
            Some(id) if !id.is_reserved_for(user) => Err(Error::validation(
                "id",
                "a chosen message id must come from MessageId::reserve for the same user",
            )),
            _ => Ok(()),
        }
    }

    /// Checks the message and gives what a backend stores besides its own fields: the
    /// chosen id must have been reserved for `user` ([`NewMessage::check_id`]), the
    /// content not blank, at most `max_message_bytes`
    /// ([`crate::Config::max_message_bytes`]) and without NUL, the metadata valid
    /// within `max_metadata_bytes` ([`MessageMetadata::validate`],
    /// [`crate::Config::max_metadata_bytes`]) and the files valid
    /// ([`crate::attachments::validate_files`]), checked in that order. Anything else is
    /// [`Error::Validation`] naming the field. The content, metadata and files are then
    /// stored as given.
    ///
    /// ```
    /// use chatstore::{NewMessage, UserId};
    ///
    /// let user = UserId::new();
    /// let prepared = NewMessage::user("Who is eligible?").prepare(user, 1024, 1024).unwrap();
    /// assert_eq!(prepared.latency_ms, None);
    /// assert!(NewMessage::user(" ").prepare(user, 1024, 1024).is_err());
    /// assert!(NewMessage::user("too long").prepare(user, 4, 1024).is_err());
    /// ```
    pub fn prepare(
        &self,
        user: UserId,
        max_message_bytes: usize,
        max_metadata_bytes: usize,
    ) -> Result<PreparedMessage> {
        self.check_id(user)?;
        validate::body("content", &self.content, max_message_bytes)?;
        self.metadata.validate(max_metadata_bytes)?;
        crate::attachments::validate_files(&self.files)?;
        let latency_ms = self
            .metadata
            .latency_ms
            .map(i64::try_from)
            .transpose()
            .map_err(|_| Error::validation("metadata.latency_ms", "is out of range"))?;
        Ok(PreparedMessage {
            id: self.id.unwrap_or_else(MessageId::new),
            latency_ms,
        })
    }

    /// Sets the parent (starting a branch).
    pub fn reply_to(mut self, parent: MessageId) -> NewMessage {
        self.parent = Some(parent);
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: MessageMetadata) -> NewMessage {
        self.metadata = metadata;
        self
    }
}

/// What [`NewMessage::prepare`] gives a backend besides the message's own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedMessage {
    /// The message's id: the one chosen ahead, or a new one.
    pub id: MessageId,
    /// `metadata.latency_ms` as a database integer.
    pub latency_ms: Option<i64>,
}

/// A page of a conversation's messages, by position.
#[derive(Debug, Clone)]
pub struct MessageQuery {
    /// Oldest first (`Asc`) or newest first (`Desc`).
    pub order: Order,
    /// Page size, 1–1000.
    pub limit: u32,
    /// Where to continue from.
    pub cursor: Option<Cursor>,
}

impl Default for MessageQuery {
    fn default() -> Self {
        MessageQuery {
            order: Order::Asc,
            limit: 100,
            cursor: None,
        }
    }
}

/// Message counts by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoleCounts {
    /// Messages from the user.
    pub user: u64,
    /// Messages from the assistant.
    pub assistant: u64,
    /// System messages.
    pub system: u64,
}

impl RoleCounts {
    /// All messages.
    pub fn total(&self) -> u64 {
        self.user + self.assistant + self.system
    }
}

/// Counts from `(role, count)` pairs, as a `GROUP BY role` query returns them.
impl FromIterator<(MessageRole, u64)> for RoleCounts {
    fn from_iter<I: IntoIterator<Item = (MessageRole, u64)>>(pairs: I) -> RoleCounts {
        let mut counts = RoleCounts::default();
        for (role, n) in pairs {
            match role {
                MessageRole::User => counts.user += n,
                MessageRole::Assistant => counts.assistant += n,
                MessageRole::System => counts.system += n,
            }
        }
        counts
    }
}

/// Appending and reading messages. Every method takes the owner's id; another user's
/// conversation or message is [`crate::Error::NotFound`].
pub trait MessageStore: Send + Sync {
    /// Appends a message. In one transaction: the message, its full-text index entry and
    /// the conversation's `message_count` and `last_message_at`. Appending undoes an
    /// automatic hide. Only active conversations take messages
    /// ([`crate::ConflictKind::InvalidState`] otherwise).
    fn append_message(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: &NewMessage,
    ) -> Result<Message>;

    /// One message.
    fn message(&self, user: UserId, id: MessageId) -> Result<Message>;

    /// The last `n` messages (all branches), oldest first: the LLM's context window.
    fn last_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        n: u32,
    ) -> Result<Vec<Message>>;

    /// A page of messages by position.
    fn messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        query: &MessageQuery,
    ) -> Result<Page<Message>>;

    /// The branch ending at `leaf`: its ancestors and itself, root first, at most `limit`
    /// (the ones nearest the leaf).
    fn branch(&self, user: UserId, leaf: MessageId, limit: u32) -> Result<Vec<Message>>;

    /// The messages whose parent is `parent` (the alternatives at a branch point), in
    /// append order.
    fn children(&self, user: UserId, parent: MessageId) -> Result<Vec<Message>>;

    /// Message counts by role, in one conversation or (with `None`) all the user's.
    fn count_messages_by_role(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
    ) -> Result<RoleCounts>;

    /// The conversation's messages whose metadata `source` equals `source`, oldest first.
    fn messages_by_source(
        &self,
        user: UserId,
        conversation: ConversationId,
        source: &str,
    ) -> Result<Vec<Message>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
        match result {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn file(name: &str) -> FileMeta {
        FileMeta {
            name: name.into(),
            mime_type: "text/plain".into(),
            size: 1,
            has_thumbnail: false,
            hash: None,
            data: None,
            thumbnail: None,
        }
    }

    #[test]
    fn new_messages_are_checked_in_order() {
        let (ada, bob) = (UserId::new(), UserId::new());
        let prepare = |message: &NewMessage| message.prepare(ada, 100, 1000);

        let mut foreign_id = NewMessage::user("hi");
        foreign_id.id = Some(MessageId::reserve(bob));
        assert_eq!(field(prepare(&foreign_id)), "id");
        foreign_id.id = Some(MessageId::new());
        assert_eq!(field(prepare(&foreign_id)), "id");
        // The id comes first: a bad id with bad content still names the id.
        foreign_id.content = String::new();
        assert_eq!(field(prepare(&foreign_id)), "id");

        assert_eq!(field(prepare(&NewMessage::user(" \n"))), "content");
        assert_eq!(
            field(prepare(&NewMessage::user("x".repeat(101)))),
            "content"
        );
        assert_eq!(field(prepare(&NewMessage::user("a\0b"))), "content");

        let metadata = |m: MessageMetadata| NewMessage::assistant("answer").with_metadata(m);
        let score = MessageMetadata {
            confidence_score: Some(1.5),
            ..MessageMetadata::default()
        };
        assert_eq!(
            field(prepare(&metadata(score))),
            "metadata.confidence_score"
        );
        let long_source = MessageMetadata {
            source: Some("s".repeat(501)),
            ..MessageMetadata::default()
        };
        assert_eq!(field(prepare(&metadata(long_source))), "metadata.source");
        let latency = MessageMetadata {
            latency_ms: Some(u64::MAX),
            ..MessageMetadata::default()
        };
        assert_eq!(field(prepare(&metadata(latency))), "metadata.latency_ms");
        let mut big = MessageMetadata::default();
        big.extra
            .insert("k".into(), Value::String("v".repeat(1000)));
        assert_eq!(field(prepare(&metadata(big))), "metadata");

        let mut unnamed = NewMessage::user("see file");
        unnamed.files = vec![file(" ")];
        assert_eq!(field(prepare(&unnamed)), "file name");
        let mut many = NewMessage::user("see files");
        many.files = vec![file("a.txt"); crate::attachments::MAX_ATTACHMENTS + 1];
        assert_eq!(field(prepare(&many)), "files");
    }

    #[test]
    fn prepared_messages_carry_their_id_and_latency() {
        let ada = UserId::new();
        let reserved = MessageId::reserve(ada);
        let mut message = NewMessage::user("hi").with_metadata(MessageMetadata {
            latency_ms: Some(1200),
            ..MessageMetadata::default()
        });
        message.id = Some(reserved);
        let prepared = message.prepare(ada, 100, 1000).unwrap();
        assert_eq!(prepared.id, reserved);
        assert_eq!(prepared.latency_ms, Some(1200));

        let fresh = NewMessage::user("hi").prepare(ada, 100, 1000).unwrap();
        assert_ne!(fresh.id, reserved);
        assert_eq!(fresh.latency_ms, None);
    }
}
