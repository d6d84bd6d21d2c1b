//! Exporting a user's data, or one conversation, to a directory: what a data-access
//! request asks for, readable by people and by programs.
//!
//! ```text
//! export.json                   everything, as JSON (format "chatstore-export/1")
//! attachments/<message>/<n>     each attachment's bytes (and <n>.thumb, a thumbnail)
//! conversations/<nnn>-<id>.md   each conversation as Markdown
//! messages.csv                  every message, one row each
//! usage.csv                     every model call with its tokens and cost (whole-user exports)
//! ```
//!
//! `export.json` holds the user's profile, roles and sessions (their metadata: tokens are
//! never stored, and password hashes are not exported), every conversation in every
//! status with its messages (metadata, branches and attachment descriptions included),
//! agent runs, the documents the user owns with their chunks, and every usage record;
//! each attachment entry names its file and blake3 hash. It is written last, so a
//! directory with `export.json` holds a complete export.

mod markdown;
mod tables;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    AgentLog, BlobStore, ChatStore, Chunk, Conversation, ConversationId, ConversationQuery,
    ConversationStatus, Document, DocumentQuery, Error, Message, MessageId, MessageQuery, Result,
    Role, Session, Store, TimeRange, Timestamp, UsageRecord, User, UserId, VectorIndex, Visibility,
};

/// The format name `export.json` carries.
pub const FORMAT: &str = "chatstore-export/1";

/// Everything an export holds, as `export.json` stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserExport {
    /// [`FORMAT`].
    pub format: String,
    /// When the export was made.
    pub exported_at: Timestamp,
    /// The user.
    pub user: User,
    /// Their roles.
    pub roles: Vec<Role>,
    /// Their open login sessions (metadata only).
    pub sessions: Vec<Session>,
    /// Their conversations (one, for a conversation export).
    pub conversations: Vec<ConversationExport>,
    /// The documents they own, with chunks (empty for a conversation export).
    pub documents: Vec<DocumentExport>,
    /// Their model calls (empty for a conversation export).
    pub usage: Vec<UsageRecord>,
}

/// One conversation with everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationExport {
    /// The conversation.
    pub conversation: Conversation,
    /// Its messages, in append order.
    pub messages: Vec<Message>,
    /// The agent runs recorded on its messages.
    pub agent_logs: Vec<AgentLog>,
    /// Its attachments, as written beside `export.json`.
    pub attachments: Vec<ExportedFile>,
}

/// An attachment written to the export directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedFile {
    /// Its message.
    pub message_id: MessageId,
    /// Its index among the message's files.
    pub index: u32,
    /// Whether this is the file's thumbnail.
    pub thumbnail: bool,
    /// The file's name as uploaded.
    pub name: String,
    /// Its media type.
    pub mime_type: String,
    /// Its length in bytes.
    pub size: u64,
    /// Its path, relative to the export directory.
    pub path: String,
}

/// A document the user owns, with its chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentExport {
    /// The document.
    pub document: Document,
    /// Its chunks, in order.
    pub chunks: Vec<Chunk>,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExportSummary {
    /// Conversations.
    pub conversations: u64,
    /// Messages.
    pub messages: u64,
    /// Attachment files (thumbnails included).
    pub files: u64,
    /// Bytes of attachments.
    pub file_bytes: u64,
    /// Documents.
    pub documents: u64,
    /// Usage records.
    pub usage_records: u64,
}

/// Page size when reading a user's data for an export.
const PAGE: u32 = 500;

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Writes everything of `user`'s to `dir` (see the [module](self) for the layout).
    /// `dir` must not exist or be empty; on an error it may hold part of an export, but
    /// no `export.json`.
    pub fn export_user(&self, user: UserId, dir: &Path) -> Result<ExportSummary> {
        self.export(user, None, dir)
    }

    /// Writes one of `user`'s conversations to `dir`, as [`ChatStore::export_user`] does
    /// (without documents and usage). Another user's conversation is not-found.
    pub fn export_conversation(
        &self,
        user: UserId,
        conversation: ConversationId,
        dir: &Path,
    ) -> Result<ExportSummary> {
        self.export(user, Some(conversation), dir)
    }

    fn export(
        &self,
        user: UserId,
        only: Option<ConversationId>,
        dir: &Path,
    ) -> Result<ExportSummary> {
        let store = self.store();
        let profile = store.user(user)?;
        let conversations = match only {
            Some(id) => vec![store.conversation(user, id)?],
            None => all_conversations(store, user)?,
        };
        prepare_directory(dir)?;
        let mut summary = ExportSummary::default();
        let mut exported = Vec::with_capacity(conversations.len());
        for conversation in conversations {
            let messages = all_messages(store, user, conversation.id)?;
            let attachments = self.write_attachments(user, &messages, dir, &mut summary)?;
            summary.conversations += 1;
            summary.messages += messages.len() as u64;
            exported.push(ConversationExport {
                agent_logs: store.conversation_agent_logs(user, conversation.id)?,
                conversation,
                messages,
                attachments,
            });
        }
        let (documents, usage) = match only {
            Some(_) => (Vec::new(), Vec::new()),
            None => (
                owned_documents(store, user)?,
                store.usage_records(user, TimeRange::ALL)?,
            ),
        };
        summary.documents = documents.len() as u64;
        summary.usage_records = usage.len() as u64;
        let export = UserExport {
            format: FORMAT.to_owned(),
            exported_at: store.now(),
            roles: store.user_roles(user)?,
            sessions: store.list_sessions(user)?,
            user: profile,
            conversations: exported,
            documents,
            usage,
        };
        markdown::write_conversations(&export, dir)?;
        tables::write_messages(&export, &dir.join("messages.csv"))?;
        if only.is_none() {
            tables::write_usage(&export, &dir.join("usage.csv"))?;
        }
        let json = serde_json::to_vec_pretty(&export).map_err(|e| Error::Backend {
            detail: format!("cannot encode the export: {e}"),
        })?;
        write_file(&dir.join("export.json"), &json)?;
        Ok(summary)
    }

    /// Streams each attachment (and thumbnail) of `messages` to
    /// `attachments/<message>/<index>[.thumb]`.
    fn write_attachments(
        &self,
        user: UserId,
        messages: &[Message],
        dir: &Path,
        summary: &mut ExportSummary,
    ) -> Result<Vec<ExportedFile>> {
        let mut files = Vec::new();
        for message in messages.iter().filter(|m| !m.files.is_empty()) {
            let folder = dir.join("attachments").join(message.id.to_string());
            fs::create_dir_all(&folder).map_err(Error::io(&folder))?;
            for (index, meta) in (0u32..).zip(&message.files) {
                let path = folder.join(index.to_string());
                let (_, mut reader) = self.open_message_file(user, message.id, index)?;
                let mut out = fs::File::create(&path).map_err(Error::io(&path))?;
                let size = io::copy(&mut reader, &mut out).map_err(Error::io(&path))?;
                files.push(exported(message.id, index, false, meta, size));
                summary.files += 1;
                summary.file_bytes += size;
                if meta.has_thumbnail {
                    let (_, bytes) = self.message_thumbnail(user, message.id, index)?;
                    write_file(&folder.join(format!("{index}.thumb")), &bytes)?;
                    files.push(exported(message.id, index, true, meta, bytes.len() as u64));
                    summary.files += 1;
                    summary.file_bytes += bytes.len() as u64;
                }
            }
        }
        Ok(files)
    }
}

fn exported(
    message: MessageId,
    index: u32,
    thumbnail: bool,
    meta: &crate::FileMeta,
    size: u64,
) -> ExportedFile {
    let suffix = if thumbnail { ".thumb" } else { "" };
    ExportedFile {
        message_id: message,
        index,
        thumbnail,
        name: meta.name.clone(),
        mime_type: meta.mime_type.clone(),
        size,
        path: format!("attachments/{message}/{index}{suffix}"),
    }
}

/// Every conversation of the user's, in every status, hidden or not, newest activity
/// first.
fn all_conversations(store: &dyn Store, user: UserId) -> Result<Vec<Conversation>> {
    let mut query = ConversationQuery {
        statuses: vec![
            ConversationStatus::Active,
            ConversationStatus::Archived,
            ConversationStatus::Closed,
            ConversationStatus::Deleted,
        ],
        visibility: Visibility::All,
        limit: PAGE,
        cursor: None,
    };
    let mut all = Vec::new();
    loop {
        let page = store.list_conversations(user, &query)?;
        for summary in &page.items {
            all.push(store.conversation(user, summary.id)?);
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(all),
        }
    }
}

fn all_messages(
    store: &dyn Store,
    user: UserId,
    conversation: ConversationId,
) -> Result<Vec<Message>> {
    let mut query = MessageQuery {
        limit: PAGE,
        ..MessageQuery::default()
    };
    let mut all = Vec::new();
    loop {
        let page = store.messages(user, conversation, &query)?;
        all.extend(page.items);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// The documents `user` owns (not the global ones others share), with their chunks.
fn owned_documents(store: &dyn Store, user: UserId) -> Result<Vec<DocumentExport>> {
    let mut query = DocumentQuery {
        limit: PAGE,
        ..DocumentQuery::default()
    };
    let mut all = Vec::new();
    loop {
        let page = store.list_documents(user, &query)?;
        for document in page.items.into_iter().filter(|d| d.owner_id == user) {
            all.push(DocumentExport {
                chunks: store.chunks(user, document.id)?,
                document,
            });
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// Creates `dir`, or checks that it is empty.
fn prepare_directory(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = fs::read_dir(dir).map_err(Error::io(dir))?;
        if entries.next().is_some() {
            return Err(Error::validation(
                "directory",
                format!(
                    "{} is not empty: export into a new directory",
                    dir.display()
                ),
            ));
        }
    }
    fs::create_dir_all(dir).map_err(Error::io(dir))
}

/// Writes `bytes` to `path`, creating its folder.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    fs::write(path, bytes).map_err(Error::io(path))
}

/// A conversation's Markdown file name: its position and id.
fn conversation_file(position: usize, id: ConversationId) -> PathBuf {
    PathBuf::from("conversations").join(format!("{:03}-{id}.md", position + 1))
}
