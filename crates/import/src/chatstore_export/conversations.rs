//! Checking one exported conversation: the conversation itself, its messages in append
//! order (each following a parent kept before it, each attachment present, inside the
//! export directory and of the hash its message records), its attachment files and
//! its agent runs. A bad message takes its replies, attachments and agent runs with it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chatstore::export::ExportedFile;
use chatstore::{BlobKey, Conversation, Message, MessageId, Result, validate};

use super::files::{self, Blob};
use super::plan::{PlannedMessage, Planner, existing};
use super::read::{ConversationItem, Item};
use super::rows;

impl Planner<'_> {
    pub(super) fn conversation(&mut self, item: ConversationItem) -> Result<()> {
        let conversation = match item.conversation {
            Ok(c) => c,
            Err(bad) => {
                self.skip("conversation", "conversations", &bad.id, bad.reason);
                self.skip_contents(&bad.id, item.messages, item.agent_logs, item.attachments);
                return Ok(());
            }
        };
        let id = conversation.id.to_string();
        let reason = match self.check_conversation(&conversation) {
            Err(e) => Some(e.to_string()),
            Ok(()) => self.collision(
                "conversations",
                conversation.id.as_uuid(),
                "user_id",
                self.user.as_uuid(),
            )?,
        };
        if let Some(reason) = reason {
            self.skip("conversation", "conversations", &id, reason);
            self.skip_contents(&id, item.messages, item.agent_logs, item.attachments);
            return Ok(());
        }
        let blobs = self.attachments(&conversation, &item.messages, item.attachments);
        let kept = self.messages_of(&conversation, item.messages, blobs)?;
        let last = kept.last().map(|m| m.created_at);
        let selected = self.selection(&conversation)?;
        self.plan.conversations.push(rows::conversation(
            &conversation,
            kept.len() as u64,
            last,
            &selected,
        )?);
        self.conversations.insert(conversation.id);
        for log in item.agent_logs {
            let log = match log {
                Ok(l) => l,
                Err(bad) => {
                    self.skip("agent_log", "agent_logs", &bad.id, bad.reason);
                    continue;
                }
            };
            let log_id = log.id.to_string();
            let reason = if self.skipped.contains(&log.message_id.as_uuid()) {
                Some(format!("its message {} is skipped", log.message_id))
            } else if self.messages.get(&log.message_id) != Some(&conversation.id) {
                Some(format!(
                    "its message {} is not in conversation {id}",
                    log.message_id
                ))
            } else if log.agent_name.trim().is_empty() {
                Some("agent_name must not be empty".to_owned())
            } else {
                self.collision(
                    "agent_logs",
                    log.id.as_uuid(),
                    "message_id",
                    log.message_id.as_uuid(),
                )?
            };
            match reason {
                Some(reason) => self.skip("agent_log", "agent_logs", &log_id, reason),
                None => {
                    self.plan.agent_logs.push(rows::agent_log(&log)?);
                    self.agent_logs.insert(log.id);
                }
            }
        }
        Ok(())
    }

    fn check_conversation(&self, c: &Conversation) -> Result<()> {
        if c.user_id != self.user {
            return Err(chatstore::Error::validation(
                "user_id",
                format!("is {}, not the export's user", c.user_id),
            ));
        }
        chatstore::conversations::prepare_title(c.title.as_deref())?;
        chatstore::conversations::prepare_model(c.llm_provider.as_deref(), c.llm_model.as_deref())?;
        validate::document_selection(&c.selected_document_ids)?;
        Ok(())
    }

    /// The documents the conversation is restricted to that are imported or already in
    /// the target; the others are left out, with a note.
    fn selection(&mut self, c: &Conversation) -> Result<Vec<chatstore::DocumentId>> {
        let mut kept = Vec::new();
        for document in &c.selected_document_ids {
            if self.documents.contains(document)
                || existing(self.target, "documents", document.as_uuid())?.is_some()
            {
                kept.push(*document);
            } else {
                self.notes.add("selected documents left out of their conversation (not in the export or the target)");
            }
        }
        Ok(kept)
    }

    /// Reports everything of a skipped conversation as skipped with it.
    fn skip_contents(
        &mut self,
        conversation: &str,
        messages: Vec<Item<Message>>,
        logs: Vec<Item<chatstore::AgentLog>>,
        attachments: Vec<Item<ExportedFile>>,
    ) {
        let why = format!("its conversation {conversation} is skipped");
        self.skip_all("message", "messages", messages, &why);
        self.skip_all("agent_log", "agent_logs", logs, &why);
        self.skip_all("attachment", "attachments", attachments, &why);
    }

    /// The attachment files of the conversation, found and hashed by key; an entry for
    /// a message the conversation does not hold, or repeated, is skipped alone.
    fn attachments(
        &mut self,
        c: &Conversation,
        messages: &[Item<Message>],
        entries: Vec<Item<ExportedFile>>,
    ) -> HashMap<BlobKey, std::result::Result<Blob, String>> {
        let ids: HashSet<MessageId> = messages.iter().flatten().map(|m| m.id).collect();
        let mut found = HashMap::new();
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(bad) => {
                    self.skip("attachment", "attachments", &bad.id, bad.reason);
                    continue;
                }
            };
            let key = if entry.thumbnail {
                BlobKey::thumbnail(entry.message_id, entry.index)
            } else {
                BlobKey::file(entry.message_id, entry.index)
            };
            let reason = if !ids.contains(&entry.message_id) {
                format!(
                    "its message {} is not in conversation {}",
                    entry.message_id, c.id
                )
            } else if let Entry::Vacant(slot) = found.entry(key) {
                slot.insert(files::check(self.dir, &entry));
                continue;
            } else {
                format!("a second file for {key}")
            };
            self.skip("attachment", "attachments", &entry.path, reason);
        }
        found
    }

    /// Checks the messages in append order and plans the ones kept, numbered from 1;
    /// returns them.
    fn messages_of(
        &mut self,
        c: &Conversation,
        items: Vec<Item<Message>>,
        mut blobs: HashMap<BlobKey, std::result::Result<Blob, String>>,
    ) -> Result<Vec<Message>> {
        let mut messages = Vec::new();
        for item in items {
            match item {
                Ok(m) => messages.push(m),
                Err(bad) => self.skip("message", "messages", &bad.id, bad.reason),
            }
        }
        messages.sort_by_key(|m| m.seq);
        let mut kept: Vec<Message> = Vec::new();
        let mut seqs = HashSet::new();
        for message in messages {
            let id = message.id.to_string();
            let reason = match self.check_message(c, &message, &mut seqs, &mut blobs)? {
                Ok(found) => {
                    let seq = kept.len() as u64 + 1;
                    self.plan.messages.push(PlannedMessage {
                        row: rows::message(&message, seq)?,
                        blobs: found,
                    });
                    self.messages.insert(message.id, c.id);
                    kept.push(message);
                    continue;
                }
                Err(reason) => reason,
            };
            self.skip("message", "messages", &id, reason);
            for index in 0..message.files.len() as u32 {
                for key in [
                    BlobKey::file(message.id, index),
                    BlobKey::thumbnail(message.id, index),
                ] {
                    if blobs.remove(&key).is_some() {
                        let why = format!("its message {id} is skipped");
                        self.plan
                            .report
                            .skip("attachment", "attachments", &key.to_string(), why);
                    }
                }
            }
        }
        for key in blobs.into_keys() {
            let why = format!("message {} has no attachment {}", key.message, key.index);
            self.plan
                .report
                .skip("attachment", "attachments", &key.to_string(), why);
        }
        Ok(kept)
    }

    /// `Ok(Ok(files))`: the message is good, with its attachment files to store;
    /// `Ok(Err(reason))`: it is skipped.
    fn check_message(
        &mut self,
        c: &Conversation,
        m: &Message,
        seqs: &mut HashSet<u64>,
        blobs: &mut HashMap<BlobKey, std::result::Result<Blob, String>>,
    ) -> Result<std::result::Result<Vec<Blob>, String>> {
        if m.conversation_id != c.id {
            return Ok(Err(format!(
                "its conversation {} is not the one it is exported in ({})",
                m.conversation_id, c.id
            )));
        }
        if !seqs.insert(m.seq) {
            return Ok(Err(format!("seq {} appears twice", m.seq)));
        }
        if let Some(parent) = m.parent_id
            && self.messages.get(&parent) != Some(&c.id)
        {
            return Ok(Err(format!(
                "its parent {parent} is skipped or not an earlier message of the conversation"
            )));
        }
        let checks = validate::body("content", &m.content, self.options.max_message_bytes)
            .and_then(|()| m.metadata.validate(self.options.max_metadata_bytes))
            .and_then(|()| chatstore::attachments::validate_files(&m.files));
        if let Err(e) = checks {
            return Ok(Err(e.to_string()));
        }
        let mut found = Vec::new();
        for (index, meta) in (0u32..).zip(&m.files) {
            let mut keys = vec![BlobKey::file(m.id, index)];
            if meta.has_thumbnail {
                keys.push(BlobKey::thumbnail(m.id, index));
            }
            for key in keys {
                let blob = match blobs.get(&key) {
                    None => return Ok(Err(format!("attachment {key} has no file in the export"))),
                    Some(Err(reason)) => return Ok(Err(format!("attachment {key}: {reason}"))),
                    Some(Ok(blob)) => blob.clone(),
                };
                if !key.thumbnail {
                    match &meta.hash {
                        Some(hash) if !hash.eq_ignore_ascii_case(&blob.hash) => {
                            return Ok(Err(format!(
                                "attachment {key}: the file's blake3 hash is {}, the message records {hash}",
                                blob.hash
                            )));
                        }
                        Some(_) => {}
                        None => self.notes.add("attachments without a recorded hash imported unchecked (legacy entries)"),
                    }
                }
                found.push(blob);
            }
        }
        if let Some(reason) = self.collision(
            "messages",
            m.id.as_uuid(),
            "conversation_id",
            c.id.as_uuid(),
        )? {
            return Ok(Err(reason));
        }
        for blob in &found {
            blobs.remove(&blob.key);
        }
        Ok(Ok(found))
    }
}
