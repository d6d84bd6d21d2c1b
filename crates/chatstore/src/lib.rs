//! # chatstore
//!
//! The persistence layer of an LLM chat / RAG application: users and login sessions,
//! roles and permissions, conversations and messages with their RAG metadata, documents
//! and chunks, agent logs, token usage and cost, and full-text search.
//!
//! This crate holds what every backend shares: the domain types, the [`Store`] trait (the
//! union of one focused trait per concern), the [`Error`] type, [`Config`], validation,
//! pricing, password and token hashing, and [`ChatStore`], which keeps a store, an
//! attachment store and a vector index consistent. Backends live in their own crates:
//! `chatstore-sqlite` (embedded, the default), with `chatstore-blob` for attachments and
//! `chatstore-vector` for semantic search.
//!
//! ```no_run
//! use chatstore::{NewConversation, NewMessage, NewUser, Password, Store};
//!
//! fn chat(store: &dyn Store) -> chatstore::Result<()> {
//!     let ada = store.create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))?;
//!     let ada = store.authenticate("ada", &Password::new("correct horse"))?;
//!     let conversation = store.create_conversation(ada.id, &NewConversation::titled("Eligibility"))?;
//!     store.append_message(ada.id, conversation.id, &NewMessage::user("Who is eligible?"))?;
//!     let context = store.last_messages(ada.id, conversation.id, 20)?;
//!     assert_eq!(context.len(), 1);
//!     Ok(())
//! }
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod enums;

pub mod agent_logs;
pub mod attachments;
pub mod blob;
pub mod chunking;
pub mod cleanup;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod conversations;
pub mod documents;
pub mod embeddings;
pub mod error;
pub mod export;
pub mod ids;
pub mod json;
pub mod maintenance;
pub mod messages;
pub mod migrations;
pub mod orchestration;
pub mod page;
pub mod pricing;
pub mod rbac;
pub mod search;
pub mod secrets;
pub mod sessions;
pub mod slow_query;
pub mod store;
pub mod system;
pub mod timestamp;
pub mod transfer;
pub mod usage;
pub mod users;
pub mod validate;
pub mod vector;

pub use agent_logs::{AgentLog, AgentLogStore, AgentStatus, NewAgentLog};
pub use attachments::{AttachmentData, FileMeta, NewAttachment};
pub use blob::{BlobInfo, BlobKey, BlobRead, BlobStats, BlobStore, NoBlobStore};
pub use cleanup::Cleanup;
pub use config::{BackendKind, Config, PoolSettings, RetryPolicy};
pub use conversations::{
    Conversation, ConversationOp, ConversationQuery, ConversationStatus, ConversationStore,
    ConversationSummary, NewConversation, Visibility,
};
pub use documents::{
    Chunk, Document, DocumentAnalysis, DocumentQuery, DocumentScope, DocumentStore, DocumentUpdate,
    NewChunk, NewDocument, ProcessingStatus,
};
pub use embeddings::{EmbedError, Embedder, EmbeddingStore};
pub use error::{ConflictKind, Error, Result, StartupError};
pub use ids::{
    AgentLogId, ChunkId, ConversationId, DocumentId, IdKind, MessageId, SessionId, UsageId, UserId,
};
pub use maintenance::{BackupDestination, MaintenanceStore};
pub use messages::{
    GroundingEvidence, Message, MessageMetadata, MessageQuery, MessageRole, MessageStore,
    NewMessage, RagMetadata, ReasoningStep, RetrievedDocument, RoleCounts, SourceRef,
};
pub use orchestration::{
    AttachmentAudit, ChatStore, Citation, CleanupPlan, CleanupReport, Ingested, LegacyProgress,
    LegacyReport, ORPHAN_GRACE, REMOVALS_KEPT, Retrieval, sources,
};
pub use page::{Cursor, Order, Page};
pub use pricing::{Cost, Price, PriceTable};
pub use rbac::{Permission, RbacStore, Role};
pub use search::{SearchHit, SearchQuery, SearchStore};
pub use secrets::{HashScheme, Password, PasswordHasher, PasswordParams, SessionToken};
pub use sessions::{NewSession, Session, SessionStore};
pub use store::Store;
pub use system::{ConversationSize, Retirement, StoreFigures, SystemStore, UserSize};
pub use timestamp::{Clock, ManualClock, SystemClock, Timestamp};
pub use usage::{
    DailyUsage, ModelUsage, NewUsage, OperationType, TimeRange, UsageBreakdown, UsageRecord,
    UsageStore, UsageTotals,
};
pub use users::{ExplainabilityLevel, NewUser, ProfileUpdate, User, UserQuery, UserStore};
pub use vector::{
    CollectionInfo, CollectionSpec, Distance, EmbeddingChanges, EmbeddingSource, NoVectorIndex,
    SyncReport, VectorFilter, VectorHit, VectorIndex, VectorRecord,
};
