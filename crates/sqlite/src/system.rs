//! [`SystemStore`] on SQLite: the operations that reach across users.

use std::time::Duration;

use chatstore::{
    Cleanup, ConversationSize, DocumentId, Error, FileMeta, HashScheme, Message, MessageId, Result,
    Retirement, RoleCounts, StoreFigures, SystemStore, Timestamp, UserId, UserSize, attachments,
    validate,
};
use rusqlite::ToSql;

use uuid::Uuid;

use crate::SqliteStore;
use crate::conversations::messages_with_files;
use crate::embeddings::latest_version;
use crate::messages::{WITH_FILES, any_message};
use crate::row::{RowExt, json_or_null, json_text};

impl SqliteStore {
    /// Deletes the conversations (of any user) `condition` selects (a condition on `v`,
    /// the conversations table), in one transaction; returns what other stores must
    /// remove.
    fn purge_conversations(&self, condition: &str, params: &[&dyn ToSql]) -> Result<Cleanup> {
        self.db.write(|c| {
            let messages_with_files = messages_with_files(c, condition, params)?;
            let deleted = c.execute(
                &format!("DELETE FROM conversations AS v WHERE {condition}"),
                params,
            )?;
            Ok(Cleanup {
                messages_with_files,
                documents: Vec::new(),
                deleted: deleted as u64,
            })
        })
    }
}

impl SystemStore for SqliteStore {
    fn existing_messages(&self, ids: &[MessageId]) -> Result<Vec<MessageId>> {
        validate::id_batch(ids.len())?;
        let wanted: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.db.read(|c| {
            c.rows(
                "SELECT id FROM messages WHERE id IN (SELECT value FROM json_each(?1))",
                &[&json_text(&wanted)?],
                |row| row.parse(0),
            )
        })
    }

    fn messages_with_files(&self, after: Option<MessageId>, limit: u32) -> Result<Vec<Message>> {
        let limit = validate::page_limit(limit)?;
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        self.db
            .read(|c| c.rows(&WITH_FILES, &[&after, &limit], any_message))
    }

    fn set_message_files(&self, id: MessageId, files: &[FileMeta]) -> Result<()> {
        attachments::validate_files(files)?;
        let files = json_or_null(&files)?;
        let changed = self.db.write(|c| {
            c.execute(
                "UPDATE messages SET files = ?1 WHERE id = ?2",
                &[&files, &id.to_string()],
            )
        })?;
        if changed == 0 {
            return Err(Error::not_found("message", id));
        }
        Ok(())
    }

    fn set_password_hash(&self, id: UserId, stored: &str) -> Result<()> {
        validate::password_hash(stored)?;
        let now = self.now().to_string();
        self.db.write(|c| {
            let changed = c.execute(
                "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
                &[&stored, &now, &id.to_string()],
            )?;
            if changed == 0 {
                return Err(Error::not_found("user", id));
            }
            crate::sessions::revoke_all(c, id, &now).map(drop)
        })
    }

    fn password_scheme(&self, id: UserId) -> Result<Option<HashScheme>> {
        let stored = self.db.read(|c| {
            c.row(
                "SELECT password_hash FROM users WHERE id = ?1",
                &[&id.to_string()],
                |row| row.text(0),
            )
        })?;
        let stored = stored.ok_or_else(|| Error::not_found("user", id))?;
        Ok(HashScheme::of(&stored))
    }

    fn imported_id(&self, source: &str, kind: &str, original_id: &str) -> Result<Option<Uuid>> {
        self.db.read(|c| {
            c.row(
                "SELECT new_id FROM imported_ids
                 WHERE source = ?1 AND kind = ?2 AND original_id = ?3",
                &[&source, &kind, &original_id],
                |row| {
                    let text = row.str(0)?;
                    Uuid::try_parse(text).map_err(|e| row.corrupt(0, e))
                },
            )
        })
    }

    fn purge_deleted_conversations(&self, deleted_before: Timestamp) -> Result<Cleanup> {
        let before = deleted_before.to_string();
        self.purge_conversations("v.status = 'deleted' AND v.deleted_at < ?1", &[&before])
    }

    fn purge_retired_conversations(&self, rule: &Retirement) -> Result<Cleanup> {
        let expired_by = rule.expired_by.to_string();
        let archived_before = rule.archived_before.map(|at| at.to_string());
        let idle_before = rule.idle_before.map(|at| at.to_string());
        self.purge_conversations(
            "(v.expires_at <= ?1
              OR (v.status = 'archived' AND v.archived_at < ?2)
              OR v.last_activity_at < ?3)",
            &[&expired_by, &archived_before, &idle_before],
        )
    }

    fn store_figures(&self, top: u32) -> Result<StoreFigures> {
        let top = i64::from(validate::page_limit(top)?);
        let now = self.now().to_string();
        self.db.read_snapshot(|c| {
            let active_sessions = c
                .row(
                    "SELECT count(*) FROM user_sessions
                     WHERE revoked_at IS NULL AND expires_at > ?1",
                    &[&now],
                    |row| row.uint(0),
                )?
                .unwrap_or(0);
            let messages_by_role: RoleCounts = c
                .rows(
                    "SELECT role, count(*) FROM messages GROUP BY role",
                    &[],
                    |row| Ok((row.parse(0)?, row.uint::<u64>(1)?)),
                )?
                .into_iter()
                .collect();
            let largest_conversations = c.rows(
                "SELECT id, user_id, title, message_count FROM conversations
                 ORDER BY message_count DESC, id LIMIT ?1",
                &[&top],
                |row| {
                    Ok(ConversationSize {
                        id: row.parse(0)?,
                        user_id: row.parse(1)?,
                        title: row.opt_text(2)?,
                        message_count: row.uint(3)?,
                    })
                },
            )?;
            let busiest_users = c.rows(
                "SELECT u.id, u.username, count(v.id), coalesce(sum(v.message_count), 0) AS m
                 FROM users u JOIN conversations v ON v.user_id = u.id
                 GROUP BY u.id ORDER BY m DESC, u.id LIMIT ?1",
                &[&top],
                |row| {
                    Ok(UserSize {
                        id: row.parse(0)?,
                        username: row.text(1)?,
                        conversations: row.uint(2)?,
                        messages: row.uint(3)?,
                    })
                },
            )?;
            Ok(StoreFigures {
                active_sessions,
                messages_by_role,
                largest_conversations,
                busiest_users,
            })
        })
    }

    fn trim_embedding_cache(
        &self,
        cached_before: Option<Timestamp>,
        keep_at_most: Option<u64>,
    ) -> Result<u64> {
        let before = cached_before.map(|at| at.to_string());
        let keep = keep_at_most.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        self.db.write(|c| {
            let old = c.execute(
                "DELETE FROM embedding_cache WHERE created_at < ?1",
                &[&before],
            )?;
            let surplus = c.execute(
                "DELETE FROM embedding_cache WHERE ?1 IS NOT NULL AND key IN (
                     SELECT key FROM embedding_cache
                     ORDER BY created_at DESC, key DESC LIMIT -1 OFFSET ?1)",
                &[&keep],
            )?;
            Ok((old + surplus) as u64)
        })
    }

    fn auto_hide_idle_conversations(&self, idle_for: Option<Duration>) -> Result<u64> {
        let now = self.now();
        let cutoff = (now - idle_for.unwrap_or(self.config.auto_hide_after)).to_string();
        let now = now.to_string();
        self.db
            .write(|c| {
                c.execute(
                    "UPDATE conversations
                     SET is_hidden = 1, auto_hidden = 1, hidden_at = ?1, updated_at = ?1
                     WHERE is_hidden = 0 AND status <> 'deleted'
                       AND max(last_activity_at, coalesce(last_opened_at, '')) < ?2",
                    &[&now, &cutoff],
                )
            })
            .map(|n| n as u64)
    }

    fn fail_interrupted_processing(&self, started_before: Timestamp) -> Result<Vec<DocumentId>> {
        let now = self.now().to_string();
        self.db.write(|c| {
            c.rows(
                "UPDATE documents SET processing_status = 'failed', is_processed = 0,
                        error_message = 'processing was interrupted before it finished: ingest the document again',
                        updated_at = ?1
                 WHERE processing_status = 'processing' AND updated_at < ?2
                 RETURNING id",
                &[&now, &started_before.to_string()],
                |row| row.parse(0),
            )
        })
    }

    fn delete_expired_sessions(&self) -> Result<u64> {
        let now = self.now().to_string();
        self.db
            .write(|c| {
                c.execute(
                    "DELETE FROM user_sessions WHERE expires_at <= ?1 OR revoked_at IS NOT NULL",
                    &[&now],
                )
            })
            .map(|n| n as u64)
    }

    fn forget_embedding_removals(&self, before: Timestamp) -> Result<u64> {
        let now = self.now().to_string();
        self.db.write(|c| {
            let reached = latest_version(c)? as i64;
            c.execute(
                "INSERT OR IGNORE INTO embedding_removal_marks (version, marked_at) VALUES (?1, ?2)",
                &[&reached, &now],
            )?;
            let mark: Option<i64> = c
                .row(
                    "SELECT max(version) FROM embedding_removal_marks WHERE marked_at < ?1",
                    &[&before.to_string()],
                    |row| row.opt_int(0),
                )?
                .flatten();
            let Some(mark) = mark else { return Ok(0) };
            // Only what is really forgotten moves the horizon: an index synced before a
            // stretch without removals can still catch up across it.
            c.execute(
                "UPDATE embedding_removals_forgotten SET through = max(through,
                     coalesce((SELECT max(version) FROM embedding_removals WHERE version <= ?1), 0))",
                &[&mark],
            )?;
            let forgotten = c.execute("DELETE FROM embedding_removals WHERE version <= ?1", &[&mark])?;
            c.execute("DELETE FROM embedding_removal_marks WHERE version < ?1", &[&mark])?;
            Ok(forgotten as u64)
        })
    }
}
