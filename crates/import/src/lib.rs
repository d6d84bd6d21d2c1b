//! Imports an existing deployment of the Python chat app chatstore replaces (its
//! SQLite databases: [`Source`]) into any chatstore store, on either backend, and the
//! conversation exports people already have ([`ExportFormat`]).
//!
//! The source file is opened read-only and never changed. Every record is checked
//! with chatstore's own rules first; a bad one is reported with its source table and
//! id and skipped, or, with [`ImportOptions::strict`], stops the import before anything
//! is written. Records keep their original timestamps, and their original ids beside
//! the new ones in the `imported_ids` table ([`chatstore::SystemStore::imported_id`]
//! finds them), so old links can be redirected. New ids are derived from the source,
//! the kind and the original id (a UUIDv7 whose time is the record's creation time),
//! and rows are written with `ON CONFLICT DO NOTHING`, so an import run twice writes
//! nothing twice and an interrupted one is finished by running it again.
//!
//! Users keep their password hashes; chatstore verifies the old schemes and rehashes
//! to argon2id at the next login ([`chatstore::HashScheme`]). Users whose hash format
//! is unknown are listed in [`ImportReport::must_reset`]: they alone must reset.
//!
//! chatstore's own export (a directory written by `ChatStore::export_user`) comes back
//! with [`import_chatstore_export`]: its records keep their ids, and its attachments go
//! into the target's blob store.
//!
//! ```no_run
//! # fn demo(
//! #     target: &chatstore::ChatStore<chatstore_sqlite::SqliteStore, chatstore_blob::SqliteBlobStore>,
//! # ) -> chatstore::Result<()> {
//! use chatstore::transfer::Endpoint;
//! use chatstore_import::{ImportOptions, Source, import};
//!
//! let report = import(
//!     Source::Seed001,
//!     "chatbot.db".as_ref(), // with the files.db beside it
//!     Endpoint { rows: target.store(), blobs: target.blobs() },
//!     &ImportOptions::default(),
//!     &mut |_| {},
//! )?;
//! println!("{} records imported", report.imported());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod chat;
mod chatgpt;
mod chatstore_export;
mod claude;
mod exports;
mod files;
mod linked;
mod metadata;
mod report;
mod seed000;
mod seed001;
mod seed002;
mod source;
mod users;
mod writer;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chatstore::transfer::{Endpoint, TableTransfer};
use chatstore::{BlobStore, Config, Error, NoBlobStore, Result, Timestamp, UserId};

pub use chatstore_export::import_chatstore_export;
pub use report::{Counts, ImportReport, MustReset, Skipped};

use chat::{PlannedConversation, PlannedMessage};
use files::PlannedFile;
use linked::Linked;
use source::SourceDb;
use users::PlannedUser;
use writer::Writer;

/// Which of the old app's databases is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Seed 000's `organic-fishstick.db`: users, conversations, messages.
    Seed000,
    /// Seed 001's `chatbot.db` with its `files.db`: users, conversations, messages with
    /// their attachments (in `files.db`, or inline as base64 from before it existed),
    /// and message costs.
    Seed001,
    /// Seed 002's RAG schema: users with their roles, documents and chunks,
    /// conversations, messages with their RAG metadata, agent logs, token usage.
    Seed002,
}

impl Source {
    /// The source's name: `seed000`, `seed001` or `seed002`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Seed000 => seed000::SOURCE,
            Source::Seed001 => seed001::SOURCE,
            Source::Seed002 => seed002::SOURCE,
        }
    }
}

impl std::str::FromStr for Source {
    type Err = Error;

    fn from_str(text: &str) -> Result<Source> {
        match text {
            "seed000" => Ok(Source::Seed000),
            "seed001" => Ok(Source::Seed001),
            "seed002" => Ok(Source::Seed002),
            other => Err(Error::validation(
                "source",
                format!("{other:?} is not a source chatstore imports (seed000, seed001, seed002)"),
            )),
        }
    }
}

/// A conversation export people already have, imported into one user's account
/// with [`import_export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportFormat {
    /// ChatGPT's `conversations.json` ("Export data"): message trees, kept as branches.
    ChatGpt,
    /// Claude's `conversations.json` (its data export): linear conversations.
    Claude,
}

impl ExportFormat {
    /// The format's name, also its source in `imported_ids`: `chatgpt`, `claude`.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::ChatGpt => chatgpt::SOURCE,
            ExportFormat::Claude => claude::SOURCE,
        }
    }
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Stop at the first bad record, before anything is written, instead of skipping it.
    pub strict: bool,
    /// The largest message accepted, in bytes ([`Config::max_message_bytes`]).
    pub max_message_bytes: usize,
    /// The largest metadata accepted, in bytes ([`Config::max_metadata_bytes`]).
    pub max_metadata_bytes: usize,
    /// The time written in `imported_ids.imported_at`.
    pub now: Timestamp,
    /// Seed 001's attachment database; by default the `files.db` beside the source,
    /// when there is one (without it, only attachments kept inline come over).
    pub files: Option<PathBuf>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        let config = Config::new("");
        ImportOptions {
            strict: false,
            max_message_bytes: config.max_message_bytes,
            max_metadata_bytes: config.max_metadata_bytes,
            now: Timestamp::now(),
            files: None,
        }
    }
}

/// Where an import is: the kind of record being written, how many of them are done
/// and how many there are.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// `user`, `conversation`, `message`, ...
    pub kind: &'a str,
    /// How many records of that kind are written (or found already there).
    pub done: u64,
    /// How many records of that kind there are to write.
    pub total: u64,
}

/// Imports the database at `path`, of the schema `source` names, into `target`
/// (attachments into its blob store). Calls `progress` as records are written. See
/// the crate documentation for what is guaranteed.
pub fn import(
    source: Source,
    path: &Path,
    target: Endpoint<'_>,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport> {
    let db = SourceDb::open(path)?;
    let plan = match source {
        Source::Seed000 => seed000::plan(&db, options)?,
        Source::Seed001 => seed001::plan(&db, path, options)?,
        Source::Seed002 => seed002::plan(&db, options)?,
    };
    drop(db);
    plan.write(target.rows, target.blobs, options, progress)
}

/// Imports the conversations of the export at `path` into the account of `user`, who
/// must exist in `target` ([`Error::NotFound`] otherwise). A file that is not JSON,
/// or not an array, is refused with [`Error::Validation`] before anything is written.
/// Everything else is as for [`import`]: checked records, original ids in
/// `imported_ids` under [`ExportFormat::name`], original times, idempotent re-runs;
/// what was left out on purpose (tool messages, non-text parts) is counted in
/// [`ImportReport::notes`].
///
/// ```no_run
/// # fn demo(target: &chatstore_sqlite::SqliteStore, user: chatstore::UserId) -> chatstore::Result<()> {
/// use chatstore_import::{ExportFormat, ImportOptions, import_export};
///
/// let report = import_export(
///     ExportFormat::ChatGpt,
///     "conversations.json".as_ref(),
///     target,
///     user,
///     &ImportOptions::default(),
///     &mut |_| {},
/// )?;
/// println!("{} messages imported", report.counts("message").imported);
/// # Ok(()) }
/// ```
pub fn import_export(
    format: ExportFormat,
    path: &Path,
    target: &dyn TableTransfer,
    user: UserId,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport> {
    let what = match format {
        ExportFormat::ChatGpt => "a ChatGPT conversations.json",
        ExportFormat::Claude => "a Claude conversations.json",
    };
    let conversations = exports::read(path, what)?;
    exports::require_user(target, user)?;
    let plan = match format {
        ExportFormat::ChatGpt => chatgpt::plan(conversations, user, options),
        ExportFormat::Claude => claude::plan(conversations, user, options),
    };
    // An export's conversations have no attachments.
    plan.write(target, &NoBlobStore, options, progress)
}

/// Everything read and checked, before anything is written.
pub(crate) struct Plan {
    source: &'static str,
    report: ImportReport,
    users: Vec<PlannedUser>,
    user_ids: HashMap<String, UserId>,
    /// Source ids of owners already in the target (an export's target user).
    owners: HashSet<String>,
    conversations: Vec<PlannedConversation>,
    messages: Vec<PlannedMessage>,
    /// Attachments, by the source id of their message.
    files: HashMap<String, Vec<PlannedFile>>,
    /// The attachment database the files stored there are read from while writing.
    files_db: Option<SourceDb>,
    /// Records that belong to the users, conversations and messages, in the order
    /// their links accept.
    linked: Vec<Linked>,
}

impl Plan {
    fn new(source: &'static str) -> Plan {
        Plan {
            source,
            report: ImportReport {
                source: source.to_owned(),
                ..ImportReport::default()
            },
            users: Vec::new(),
            user_ids: HashMap::new(),
            owners: HashSet::new(),
            conversations: Vec::new(),
            messages: Vec::new(),
            files: HashMap::new(),
            files_db: None,
            linked: Vec::new(),
        }
    }

    fn skip(&mut self, kind: &str, table: &str, original_id: &str, reason: String) {
        self.report.skip(kind, table, original_id, reason);
    }

    /// Reports a message skipped because its conversation is not imported.
    fn skip_message_of(&mut self, original: &str, conversation: &str) {
        self.skip(
            "message",
            "messages",
            original,
            format!("its conversation {conversation} is not imported"),
        );
    }

    /// Checks a user read from the source (or the reason they could not be read) and
    /// plans them, or reports them skipped; `taken` holds the login names given so far.
    fn add_user(
        &mut self,
        original: String,
        user: Result<users::SourceUser>,
        taken: &mut HashSet<String>,
        options: &ImportOptions,
    ) {
        let planned = user
            .map_err(|e| e.to_string())
            .and_then(|u| users::plan(self.source, u, taken, options.max_metadata_bytes));
        match planned {
            Ok(planned) => {
                self.user_ids.insert(original, planned.id());
                self.users.push(planned);
            }
            Err(why) => self.skip("user", "users", &original, why),
        }
    }

    fn write(
        mut self,
        target: &dyn TableTransfer,
        blobs: &dyn BlobStore,
        options: &ImportOptions,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<ImportReport> {
        if options.strict
            && let Some(first) = self.report.skipped.first()
        {
            return Err(Error::validation(
                "import",
                format!(
                    "{} {} is refused ({}); nothing was imported (--strict)",
                    first.table, first.original_id, first.reason
                ),
            ));
        }
        let writer = Writer::new(target, self.source, options.now);
        let users = std::mem::take(&mut self.users);
        let mut present_users = users::write(
            &writer,
            &mut self.report,
            "users",
            users,
            options.strict,
            progress,
        )?;
        present_users.extend(std::mem::take(&mut self.owners));

        let (conversations, orphaned): (Vec<_>, Vec<_>) = std::mem::take(&mut self.conversations)
            .into_iter()
            .partition(|c| present_users.contains(&c.owner));
        let mut dropped = HashSet::new();
        for c in orphaned {
            self.report.skip(
                "conversation",
                "conversations",
                &c.original_id,
                format!("its user {} is not imported", c.owner),
            );
            dropped.insert(c.original_id);
        }
        let (messages, orphaned): (Vec<_>, Vec<_>) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| !dropped.contains(&m.conversation));
        for m in orphaned {
            self.skip_message_of(&m.original_id, &m.conversation);
        }
        let (mut conversations, mut messages) =
            chat::assemble(self.source, conversations, messages)?;
        writer.write(
            &mut self.report,
            "conversation",
            "conversations",
            &mut conversations,
            progress,
        )?;
        let attachments = files::Attachments::new(
            blobs,
            self.files_db.as_ref(),
            std::mem::take(&mut self.files),
        )?;
        writer.write_prepared(
            &mut self.report,
            "message",
            "messages",
            &mut messages,
            &mut |report, batch| attachments.store(report, batch),
            progress,
        )?;
        let mut present = linked::Present::new();
        present.insert("user", present_users);
        present.insert("conversation", originals(&conversations));
        present.insert("message", originals(&messages));
        linked::write(
            &writer,
            &mut self.report,
            std::mem::take(&mut self.linked),
            &mut present,
            progress,
        )?;
        Ok(self.report)
    }
}

fn originals(records: &[writer::Record]) -> HashSet<String> {
    records.iter().map(|r| r.original_id.clone()).collect()
}
