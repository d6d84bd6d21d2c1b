//! Checking an export against chatstore's rules and the target before anything is
//! written: the user (joined or created), their documents and usage. Conversations
//! are in [`super::conversations`]. Every bad record is put in the report with what
//! depends on it; what is left is a [`Plan`] of rows ready to write.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chatstore::transfer::{Row, TableTransfer, Value};
use chatstore::{
    AgentLogId, ConflictKind, ConversationId, DocumentId, Error, MessageId, Result, User, UserId,
    validate,
};
use uuid::Uuid;

use super::files::Blob;
use super::read::{DocumentItem, ExportFile, Item};
use super::{SOURCE, rows};
use crate::ImportOptions;
use crate::exports::Notes;
use crate::report::{ImportReport, MustReset};
use crate::writer::target_table;

/// What an imported user gets in place of the password hash an export leaves out: a
/// value of no scheme chatstore verifies, so no password (the empty one included)
/// logs in until an operator resets it.
pub(super) const NO_PASSWORD: &str = "!no-password: imported from a chatstore export";

/// A message ready to write, with the attachments to store before it.
pub(super) struct PlannedMessage {
    /// Its row.
    pub row: Row,
    /// Its files and thumbnails (counted as present where the target holds them).
    pub blobs: Vec<Blob>,
}

/// Everything checked, in write order.
#[derive(Default)]
pub(super) struct Plan {
    /// Counts so far, the skipped records and the notes.
    pub report: ImportReport,
    /// The user's row, when the target does not have them yet.
    pub user: Option<Row>,
    /// Their role grants.
    pub grants: Vec<Row>,
    /// Documents, then their chunks.
    pub documents: Vec<Row>,
    /// Chunks.
    pub chunks: Vec<Row>,
    /// Conversations.
    pub conversations: Vec<Row>,
    /// Messages in conversation and append order.
    pub messages: Vec<PlannedMessage>,
    /// Agent runs.
    pub agent_logs: Vec<Row>,
    /// Usage records.
    pub usage: Vec<Row>,
}

/// The checker's state: the plan growing, and the ids kept and skipped so far.
pub(super) struct Planner<'a> {
    pub dir: &'a Path,
    pub target: &'a dyn TableTransfer,
    pub options: &'a ImportOptions,
    pub user: UserId,
    pub plan: Plan,
    pub notes: Notes,
    /// Every id seen, to refuse a record that repeats one.
    pub seen: HashSet<Uuid>,
    /// Ids of records skipped, whose dependents go too (or lose their link).
    pub skipped: HashSet<Uuid>,
    pub conversations: HashSet<ConversationId>,
    /// Messages kept, with their conversation.
    pub messages: HashMap<MessageId, ConversationId>,
    pub agent_logs: HashSet<AgentLogId>,
    pub documents: HashSet<DocumentId>,
}

/// Checks `export` (read from `dir`) against `target`. A user who cannot be imported
/// is an error; bad records are skipped in the plan's report.
pub(super) fn plan(
    dir: &Path,
    export: ExportFile,
    target: &dyn TableTransfer,
    options: &ImportOptions,
) -> Result<Plan> {
    let mut planner = Planner {
        dir,
        target,
        options,
        user: export.user.id,
        plan: Plan {
            report: ImportReport {
                source: SOURCE.to_owned(),
                ..ImportReport::default()
            },
            ..Plan::default()
        },
        notes: Notes::default(),
        seen: HashSet::new(),
        skipped: HashSet::new(),
        conversations: HashSet::new(),
        messages: HashMap::new(),
        agent_logs: HashSet::new(),
        documents: HashSet::new(),
    };
    planner.user(export.user, &export.roles)?;
    for _ in 0..export.sessions {
        planner.notes.add(
            "login sessions not imported (an export holds no session tokens: the user logs in again)",
        );
    }
    for item in export.documents {
        planner.document(item)?;
    }
    for item in export.conversations {
        planner.conversation(item)?;
    }
    for item in export.usage {
        planner.usage(item)?;
    }
    let mut plan = planner.plan;
    plan.report.notes.extend(planner.notes.lines());
    Ok(plan)
}

/// The target's row of `table` with the one-column key `id`, if there is one.
pub(super) fn existing(target: &dyn TableTransfer, table: &str, id: Uuid) -> Result<Option<Row>> {
    let table = target_table(table)?;
    let before = Value::Id(Uuid::from_u128(id.as_u128().wrapping_sub(1)));
    let rows = target.read_rows(table, Some(&[before]), 1)?;
    Ok(rows
        .into_iter()
        .next()
        .filter(|row| row[0] == Value::Id(id)))
}

impl Planner<'_> {
    /// Skips a record of `kind` (in the export's list `table`) for `reason`, and
    /// remembers its id so that what depends on it goes too.
    pub(super) fn skip(&mut self, kind: &str, table: &str, id: &str, reason: String) {
        if let Ok(uuid) = Uuid::try_parse(id) {
            self.skipped.insert(uuid);
        }
        self.plan.report.skip(kind, table, id, reason);
    }

    /// `Some(reason)` when `id` repeats an earlier record's, or the target holds a
    /// record with this id whose `column` is not `owner` (another user's record: a
    /// forged export must not reach into it).
    pub(super) fn collision(
        &mut self,
        table: &str,
        id: Uuid,
        column: &str,
        owner: Uuid,
    ) -> Result<Option<String>> {
        if !self.seen.insert(id) {
            return Ok(Some("its id appears twice in the export".to_owned()));
        }
        let Some(row) = existing(self.target, table, id)? else {
            return Ok(None);
        };
        let index = target_table(table)?
            .columns
            .iter()
            .position(|c| c.name == column)
            .unwrap_or(0);
        Ok((row[index] != Value::Id(owner)).then(|| {
            format!(
                "the target holds a record with this id that belongs elsewhere ({column} differs)"
            )
        }))
    }

    fn user(&mut self, mut user: User, roles: &[String]) -> Result<()> {
        user.email = validate::email(&user.email)?;
        user.username = validate::username(&user.username)?;
        validate::optional_text("full_name", user.full_name.as_deref())?;
        validate::required_text("preferred_llm", &user.preferred_llm)?;
        validate::json_within("metadata", &user.metadata, self.options.max_metadata_bytes)?;
        if let Some(account) = existing(self.target, "users", user.id.as_uuid())? {
            // The id alone does not let a file join an account: the email must match.
            let same = matches!(&account[3], Value::Text(email)
                if validate::email_key(email) == validate::email_key(&user.email));
            if !same {
                return Err(Error::conflict(
                    ConflictKind::Unique,
                    "users",
                    format!(
                        "the target's account {} has another email than the export's user: nothing was imported",
                        user.id
                    ),
                ));
            }
            self.plan.report.written("user", 0, 1);
            self.notes.add(format!(
                "account {} is already in the target: the data joins it, and its password and roles are left as they are",
                user.id
            ));
            return Ok(());
        }
        self.refuse_taken(&user)?;
        self.plan.user = Some(rows::user(&user, NO_PASSWORD)?);
        let by_name =
            crate::writer::Writer::new(self.target, SOURCE, self.options.now).role_ids()?;
        for name in roles {
            match by_name.get(name) {
                Some(id) => self.plan.grants.push(rows::grant(&user, id.clone())?),
                None => self.notes.add(format!(
                    "role {name:?} not granted (the target has no role of that name)"
                )),
            }
        }
        self.notes.add(format!(
            "account {} created without a password (an export holds no password hash): it must be reset before {} can log in",
            user.username, user.username
        ));
        self.plan.report.must_reset.push(MustReset {
            original_id: user.id.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
        });
        Ok(())
    }

    /// Fails with [`Error::Conflict`] when another account of the target has the
    /// user's email or username.
    fn refuse_taken(&self, user: &User) -> Result<()> {
        let key = validate::username_key(&user.username);
        let writer = crate::writer::Writer::new(self.target, SOURCE, self.options.now);
        for row in writer.read_all("users")? {
            let taken = match (&row[2], &row[3]) {
                (Value::Text(k), _) if *k == key => Some(format!("username {}", user.username)),
                (_, Value::Text(e)) if *e == user.email => Some(format!("email {}", user.email)),
                _ => None,
            };
            if let Some(what) = taken {
                let other = match &row[0] {
                    Value::Id(id) => id.to_string(),
                    _ => "?".to_owned(),
                };
                return Err(Error::conflict(
                    ConflictKind::Unique,
                    "users",
                    format!(
                        "the target's account {other} already has the {what}: the export's user {} cannot be created beside it; nothing was imported",
                        user.id
                    ),
                ));
            }
        }
        Ok(())
    }

    fn document(&mut self, item: DocumentItem) -> Result<()> {
        let document = match item.document {
            Ok(d) => d,
            Err(bad) => {
                let reason = bad.reason;
                self.skip("document", "documents", &bad.id, reason);
                let why = format!("its document {} is skipped", bad.id);
                self.skip_all("chunk", "chunks", item.chunks, &why);
                return Ok(());
            }
        };
        let id = document.id.to_string();
        let reason = if document.owner_id != self.user {
            Some(format!(
                "it belongs to user {}, not to the export's",
                document.owner_id
            ))
        } else if let Err(e) = check_document(&document) {
            Some(e.to_string())
        } else {
            self.collision(
                "documents",
                document.id.as_uuid(),
                "owner_id",
                self.user.as_uuid(),
            )?
        };
        if let Some(reason) = reason {
            self.skip("document", "documents", &id, reason);
            let why = format!("its document {id} is skipped");
            self.skip_all("chunk", "chunks", item.chunks, &why);
            return Ok(());
        }
        self.plan.documents.push(rows::document(&document)?);
        self.documents.insert(document.id);
        let mut indexes = HashSet::new();
        for chunk in item.chunks {
            let chunk = match chunk {
                Ok(c) => c,
                Err(bad) => {
                    self.skip("chunk", "chunks", &bad.id, bad.reason);
                    continue;
                }
            };
            let reason = if chunk.document_id != document.id {
                Some(format!("it names document {}, not {id}", chunk.document_id))
            } else if chunk.content.trim().is_empty() {
                Some("content must not be empty".to_owned())
            } else if !indexes.insert(chunk.chunk_index) {
                Some(format!("chunk_index {} appears twice", chunk.chunk_index))
            } else {
                self.collision(
                    "document_chunks",
                    chunk.id.as_uuid(),
                    "document_id",
                    document.id.as_uuid(),
                )?
            };
            match reason {
                Some(reason) => self.skip("chunk", "chunks", &chunk.id.to_string(), reason),
                None => {
                    if chunk.embedding_id.is_some() {
                        self.notes.add("chunks imported without their vectors (an export holds none): embed them again");
                    }
                    self.plan.chunks.push(rows::chunk(&chunk)?);
                }
            }
        }
        Ok(())
    }

    /// Skips every record of `items` for `reason` (what depended on a skipped record).
    pub(super) fn skip_all<T: Identified>(
        &mut self,
        kind: &str,
        table: &str,
        items: Vec<Item<T>>,
        reason: &str,
    ) {
        for item in items {
            let id = match &item {
                Ok(record) => record.record_id(),
                Err(bad) => bad.id.clone(),
            };
            self.skip(kind, table, &id, reason.to_owned());
        }
    }

    fn usage(&mut self, item: Item<chatstore::UsageRecord>) -> Result<()> {
        let mut usage = match item {
            Ok(u) => u,
            Err(bad) => {
                self.skip("usage", "usage", &bad.id, bad.reason);
                return Ok(());
            }
        };
        let id = usage.id.to_string();
        let mut reason = if usage.user_id != self.user {
            Some(format!(
                "it belongs to user {}, not to the export's",
                usage.user_id
            ))
        } else {
            check_usage(&usage).err().map(|e| e.to_string())
        };
        let links = [
            usage.conversation_id.map(|c| c.as_uuid()),
            usage.message_id.map(|m| m.as_uuid()),
            usage.agent_log_id.map(|a| a.as_uuid()),
        ];
        let known = |uuid: Uuid| {
            ConversationId::from_uuid(uuid).is_ok_and(|c| self.conversations.contains(&c))
                || MessageId::from_uuid(uuid).is_ok_and(|m| self.messages.contains_key(&m))
                || AgentLogId::from_uuid(uuid).is_ok_and(|a| self.agent_logs.contains(&a))
        };
        for link in links.into_iter().flatten() {
            if reason.is_none() && !known(link) && !self.skipped.contains(&link) {
                reason = Some(format!("it names {link}, which is not in the export"));
            }
        }
        if let (Some(message), Some(conversation), None) =
            (usage.message_id, usage.conversation_id, &reason)
            && self
                .messages
                .get(&message)
                .is_some_and(|c| *c != conversation)
        {
            reason = Some("its message belongs to another conversation".to_owned());
        }
        if reason.is_none() {
            reason = self.collision(
                "token_usage",
                usage.id.as_uuid(),
                "user_id",
                self.user.as_uuid(),
            )?;
        }
        if let Some(reason) = reason {
            self.skip("usage", "usage", &id, reason);
            return Ok(());
        }
        let cut = |uuid: Option<Uuid>, skipped: &HashSet<Uuid>| {
            uuid.is_some_and(|u| skipped.contains(&u))
        };
        if cut(links[0], &self.skipped) {
            usage.conversation_id = None;
        }
        if cut(links[1], &self.skipped) {
            usage.message_id = None;
        }
        if cut(links[2], &self.skipped) {
            usage.agent_log_id = None;
        }
        if links.iter().any(|l| cut(*l, &self.skipped)) {
            self.notes
                .add("usage records kept with their link to a skipped record cleared");
        }
        self.plan.usage.push(rows::usage(&usage)?);
        Ok(())
    }
}

/// A record's id as the report names it.
pub(super) trait Identified {
    /// Its id.
    fn record_id(&self) -> String;
}

macro_rules! identified_by_id {
    ($($t:ty),*) => {$(
        impl Identified for $t {
            fn record_id(&self) -> String {
                self.id.to_string()
            }
        }
    )*};
}

identified_by_id!(chatstore::Chunk, chatstore::Message, chatstore::AgentLog);

impl Identified for chatstore::export::ExportedFile {
    fn record_id(&self) -> String {
        self.path.clone()
    }
}

fn check_document(d: &chatstore::Document) -> Result<()> {
    validate::required_text("filename", &d.filename)?;
    validate::required_text("file_path", &d.file_path)?;
    validate::required_text("title", &d.title)?;
    validate::optional_text("file_type", d.file_type.as_deref())?;
    validate::optional_text("category", d.category.as_deref())?;
    validate::optional_long_text(
        "description",
        d.description.as_deref(),
        chatstore::documents::MAX_DOCUMENT_TEXT,
    )?;
    validate::tags("tags", &d.tags)?;
    Ok(())
}

fn check_usage(u: &chatstore::UsageRecord) -> Result<()> {
    validate::required_text("provider", &u.provider)?;
    validate::required_text("model", &u.model)?;
    validate::required_text("currency", &u.currency)?;
    validate::non_negative("estimated_cost", u.estimated_cost)?;
    for (field, count) in [
        ("prompt_tokens", u.prompt_tokens),
        ("completion_tokens", u.completion_tokens),
        ("embedding_tokens", u.embedding_tokens),
    ] {
        if count > chatstore::usage::MAX_TOKENS_PER_CALL {
            return Err(Error::validation(field, "is more than one call can use"));
        }
    }
    if u.total_tokens != u.prompt_tokens + u.completion_tokens {
        return Err(Error::validation(
            "total_tokens",
            "is not prompt_tokens + completion_tokens",
        ));
    }
    Ok(())
}
