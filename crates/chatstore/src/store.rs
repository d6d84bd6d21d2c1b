//! [`Store`]: everything a backend provides, as the union of the focused traits.

use crate::{
    AgentLogStore, ConversationStore, DocumentStore, EmbeddingStore, MaintenanceStore,
    MessageStore, RbacStore, SearchStore, SessionStore, SystemStore, UsageStore, UserStore,
};

/// A complete storage backend: users, sessions, roles, conversations, messages, search,
/// documents, embeddings, agent logs, usage, maintenance and the system operations
/// that reach across users ([`SystemStore`]).
///
/// Every method is synchronous and takes `&self`; a store is `Send + Sync`, so one value
/// can serve many threads (an async host calls it through `spawn_blocking`). It is
/// implemented automatically for any type implementing all the parts, and usable as
/// `&dyn Store`.
///
/// Every timestamp a store writes comes from its configured [`crate::Clock`], read by
/// [`MaintenanceStore::now`]; never from the system clock directly.
pub trait Store:
    UserStore
    + SessionStore
    + RbacStore
    + ConversationStore
    + MessageStore
    + SearchStore
    + DocumentStore
    + EmbeddingStore
    + AgentLogStore
    + UsageStore
    + MaintenanceStore
    + SystemStore
{
}

impl<T> Store for T where
    T: UserStore
        + SessionStore
        + RbacStore
        + ConversationStore
        + MessageStore
        + SearchStore
        + DocumentStore
        + EmbeddingStore
        + AgentLogStore
        + UsageStore
        + MaintenanceStore
        + SystemStore
        + ?Sized
{
}
