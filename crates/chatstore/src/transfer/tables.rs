//! The tables a store copy moves, in an order their foreign keys accept, with what each
//! column holds. Derived data is not among them: each backend rebuilds its own search
//! index, hands out its own embedding versions and keeps its own change log.

/// What a column holds, whichever backend stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A UUID (text on SQLite, `uuid` on PostgreSQL).
    Id,
    /// Text.
    Text,
    /// A 64-bit integer.
    Integer,
    /// A 64-bit float.
    Real,
    /// A boolean (0/1 on SQLite).
    Bool,
    /// A point in time, to the microsecond.
    Time,
    /// A JSON document (text on SQLite, `jsonb` on PostgreSQL).
    Json,
    /// Bytes.
    Bytes,
}

/// One column of a copied table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name, the same on every backend.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
}

/// How a table is brought over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMode {
    /// Rows are added in key order, one batch per transaction; rows the target already
    /// has are left alone, so an interrupted copy resumes where it stopped.
    Append,
    /// The target's table is made equal to the source's in one transaction: the small
    /// tables every new store seeds (roles and permissions), whose seeded rows the
    /// source may have changed.
    Mirror,
}

/// One copied table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Its name, the same on every backend.
    pub name: &'static str,
    /// Its columns, the key first.
    pub columns: &'static [Column],
    /// How many leading columns form the key the copy orders and resumes by.
    pub key_len: usize,
    /// How it is brought over.
    pub mode: CopyMode,
    /// Columns a stored row never changes (what a message said): a copy that finds a
    /// row already there leaves them alone.
    pub immutable: &'static [&'static str],
}

impl Table {
    /// The key columns.
    pub fn key(&self) -> &'static [Column] {
        &self.columns[..self.key_len]
    }

    /// The columns after the key.
    pub fn rest(&self) -> &'static [Column] {
        &self.columns[self.key_len..]
    }

    /// The columns after the key that a stored row may change.
    pub fn mutable(&self) -> impl Iterator<Item = &'static Column> + '_ {
        self.rest()
            .iter()
            .filter(|column| !self.immutable.contains(&column.name))
    }
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

const fn append(name: &'static str, key_len: usize, columns: &'static [Column]) -> Table {
    Table {
        name,
        columns,
        key_len,
        mode: CopyMode::Append,
        immutable: &[],
    }
}

const fn mirror(name: &'static str, key_len: usize, columns: &'static [Column]) -> Table {
    Table {
        name,
        columns,
        key_len,
        mode: CopyMode::Mirror,
        immutable: &[],
    }
}

use Kind::{Bool, Bytes, Id, Integer, Json, Real, Text, Time};

/// Every copied table, parents before the tables that refer to them.
pub const TABLES: &[Table] = &[
    mirror(
        "roles",
        1,
        &[
            col("id", Integer),
            col("name", Text),
            col("description", Text),
            col("created_at", Time),
        ],
    ),
    mirror(
        "permissions",
        1,
        &[
            col("id", Integer),
            col("name", Text),
            col("description", Text),
            col("resource", Text),
            col("action", Text),
        ],
    ),
    mirror(
        "role_permissions",
        2,
        &[col("role_id", Integer), col("permission_id", Integer)],
    ),
    append(
        "users",
        1,
        &[
            col("id", Id),
            col("username", Text),
            col("username_key", Text),
            col("email", Text),
            col("password_hash", Text),
            col("full_name", Text),
            col("is_active", Bool),
            col("created_at", Time),
            col("updated_at", Time),
            col("last_login_at", Time),
            col("preferred_llm", Text),
            col("explainability_level", Text),
            col("metadata", Json),
        ],
    ),
    append(
        "user_roles",
        2,
        &[col("user_id", Id), col("role_id", Integer)],
    ),
    append(
        "user_sessions",
        1,
        &[
            col("id", Id),
            col("user_id", Id),
            col("token_hash", Text),
            col("created_at", Time),
            col("expires_at", Time),
            col("last_activity_at", Time),
            col("revoked_at", Time),
            col("user_agent", Text),
        ],
    ),
    append(
        "conversations",
        1,
        &[
            col("id", Id),
            col("user_id", Id),
            col("title", Text),
            col("status", Text),
            col("status_before_delete", Text),
            col("message_count", Integer),
            col("created_at", Time),
            col("updated_at", Time),
            col("last_message_at", Time),
            col("last_activity_at", Time),
            col("last_opened_at", Time),
            col("archived_at", Time),
            col("closed_at", Time),
            col("deleted_at", Time),
            col("is_hidden", Bool),
            col("hidden_at", Time),
            col("auto_hidden", Bool),
            col("llm_provider", Text),
            col("llm_model", Text),
            col("selected_document_ids", Json),
            col("expires_at", Time),
        ],
    ),
    Table {
        name: "messages",
        key_len: 1,
        mode: CopyMode::Append,
        // What was said is append-only (a trigger refuses changes); the rest of a
        // message (its metadata, its attachments' descriptions) may change.
        immutable: &[
            "conversation_id",
            "seq",
            "parent_id",
            "role",
            "content",
            "created_at",
        ],
        columns: &[
            col("id", Id),
            col("conversation_id", Id),
            col("seq", Integer),
            col("parent_id", Id),
            col("role", Text),
            col("content", Text),
            col("request_id", Text),
            col("source", Text),
            col("tokens", Integer),
            col("model_name", Text),
            col("latency_ms", Integer),
            col("confidence_score", Real),
            col("low_confidence_warning", Bool),
            col("rag_metadata", Json),
            col("files", Json),
            col("created_at", Time),
        ],
    },
    append(
        "documents",
        1,
        &[
            col("id", Id),
            col("owner_id", Id),
            col("filename", Text),
            col("file_path", Text),
            col("file_type", Text),
            col("file_size", Integer),
            col("title", Text),
            col("description", Text),
            col("category", Text),
            col("tags", Json),
            col("scope", Text),
            col("auto_summary", Text),
            col("auto_keywords", Json),
            col("auto_topics", Json),
            col("content_type", Text),
            col("summarization_model", Text),
            col("summarization_tokens", Integer),
            col("summarized_at", Time),
            col("is_processed", Bool),
            col("processing_status", Text),
            col("error_message", Text),
            col("num_chunks", Integer),
            col("num_tokens", Integer),
            col("uploaded_at", Time),
            col("processed_at", Time),
            col("updated_at", Time),
        ],
    ),
    append(
        "document_chunks",
        1,
        &[
            col("id", Id),
            col("document_id", Id),
            col("chunk_index", Integer),
            col("content", Text),
            col("num_tokens", Integer),
            col("page_number", Integer),
            col("section", Text),
            col("embedding_id", Text),
        ],
    ),
    append(
        "embedding_collections",
        1,
        &[
            col("name", Text),
            col("dimension", Integer),
            col("distance", Text),
            col("created_at", Time),
        ],
    ),
    append(
        "chunk_embeddings",
        2,
        &[
            col("collection", Text),
            col("chunk_id", Id),
            col("vector", Bytes),
        ],
    ),
    append(
        "embedding_cache",
        1,
        &[
            col("key", Text),
            col("vector", Bytes),
            col("created_at", Time),
        ],
    ),
    append(
        "agent_logs",
        1,
        &[
            col("id", Id),
            col("message_id", Id),
            col("agent_name", Text),
            col("agent_type", Text),
            col("action", Text),
            col("input_data", Json),
            col("output_data", Json),
            col("execution_time", Real),
            col("tokens_used", Integer),
            col("status", Text),
            col("error_message", Text),
            col("reasoning", Text),
            col("confidence", Real),
            col("created_at", Time),
        ],
    ),
    append(
        "token_usage",
        1,
        &[
            col("id", Id),
            col("user_id", Id),
            col("conversation_id", Id),
            col("message_id", Id),
            col("agent_log_id", Id),
            col("provider", Text),
            col("model", Text),
            col("operation_type", Text),
            col("prompt_tokens", Integer),
            col("completion_tokens", Integer),
            col("total_tokens", Integer),
            col("embedding_tokens", Integer),
            col("estimated_cost", Real),
            col("currency", Text),
            col("created_at", Time),
        ],
    ),
    append(
        "imported_ids",
        3,
        &[
            col("source", Text),
            col("kind", Text),
            col("original_id", Text),
            col("new_id", Id),
            col("imported_at", Time),
        ],
    ),
];

/// The copied table called `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|table| table.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_key_and_unique_column_names() {
        for table in TABLES {
            assert!(
                table.key_len >= 1 && table.key_len <= table.columns.len(),
                "{}",
                table.name
            );
            let mut names: Vec<_> = table.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.columns.len(), "{}", table.name);
            for column in table.key() {
                assert!(
                    !matches!(column.kind, Kind::Json | Kind::Real | Kind::Bytes),
                    "{}.{} cannot order a copy",
                    table.name,
                    column.name
                );
            }
        }
        assert!(table("messages").is_some());
        assert!(table("schema_migrations").is_none());
    }
}
