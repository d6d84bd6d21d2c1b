//! [`SystemStore`] on PostgreSQL: the operations that reach across users.

use std::time::Duration;

use chatstore::{
    Cleanup, ConversationSize, DocumentId, Error, FileMeta, HashScheme, Message, MessageId, Result,
    Retirement, RoleCounts, StoreFigures, SystemStore, Timestamp, UserId, UserSize, attachments,
    validate,
};
use postgres::types::ToSql;
use uuid::Uuid;

use crate::PgStore;
use crate::conversations::messages_with_files;
use crate::messages::{MESSAGE_COLUMNS, any_message};
use crate::row::{RowExt, UuidId, at, json_or_null};

impl PgStore {
    /// Deletes the conversations (of any user) `condition` selects, in one transaction;
    /// returns what other stores must remove. They are locked first: a conversation
    /// changed meanwhile (restored, appended to) either commits before, and is judged
    /// as it is then, or waits, and is gone when it resumes.
    fn purge_conversations(
        &self,
        condition: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Cleanup> {
        let select = format!("SELECT id FROM conversations WHERE {condition} FOR UPDATE");
        self.db.write(|c| {
            let ids: Vec<Uuid> = c
                .rows(&select, params)?
                .iter()
                .map(|row| row.value(0))
                .collect::<Result<_>>()?;
            let messages_with_files = messages_with_files(c, "v.id = ANY($1)", &[&ids])?;
            let deleted = c.execute("DELETE FROM conversations WHERE id = ANY($1)", &[&ids])?;
            Ok(Cleanup {
                messages_with_files,
                documents: Vec::new(),
                deleted,
            })
        })
    }
}

impl SystemStore for PgStore {
    fn existing_messages(&self, ids: &[MessageId]) -> Result<Vec<MessageId>> {
        validate::id_batch(ids.len())?;
        let wanted: Vec<Uuid> = ids.iter().map(UuidId::stored).collect();
        self.db
            .read(|c| c.rows("SELECT id FROM messages WHERE id = ANY($1)", &[&wanted]))?
            .iter()
            .map(|row| row.id(0))
            .collect()
    }

    fn messages_with_files(&self, after: Option<MessageId>, limit: u32) -> Result<Vec<Message>> {
        let limit = i64::from(validate::page_limit(limit)?);
        let after = after.map(|id| id.stored()).unwrap_or(Uuid::nil());
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             WHERE m.files IS NOT NULL AND m.id > $1 ORDER BY m.id LIMIT $2"
        );
        self.db
            .read(|c| c.rows(&sql, &[&after, &limit]))?
            .iter()
            .map(any_message)
            .collect()
    }

    fn set_message_files(&self, id: MessageId, files: &[FileMeta]) -> Result<()> {
        attachments::validate_files(files)?;
        let files = json_or_null(&files)?;
        let changed = self.db.write(|c| {
            c.execute(
                "UPDATE messages SET files = $1 WHERE id = $2",
                &[&files, &id.stored()],
            )
        })?;
        if changed == 0 {
            return Err(Error::not_found("message", id));
        }
        Ok(())
    }

    fn store_figures(&self, top: u32) -> Result<StoreFigures> {
        let top = i64::from(validate::page_limit(top)?);
        let now = at(self.now());
        self.db.read_snapshot(|c| {
            let active_sessions = c
                .row(
                    "SELECT count(*) FROM user_sessions
                     WHERE revoked_at IS NULL AND expires_at > $1",
                    &[&now],
                )?
                .map(|row| row.uint(0))
                .transpose()?
                .unwrap_or(0);
            let messages_by_role = c
                .rows("SELECT role, count(*) FROM messages GROUP BY role", &[])?
                .iter()
                .map(|row| Ok((row.parse(0)?, row.uint::<u64>(1)?)))
                .collect::<Result<RoleCounts>>()?;
            let largest_conversations = c
                .rows(
                    "SELECT id, user_id, title, message_count FROM conversations
                     ORDER BY message_count DESC, id LIMIT $1",
                    &[&top],
                )?
                .iter()
                .map(|row| {
                    Ok(ConversationSize {
                        id: row.id(0)?,
                        user_id: row.id(1)?,
                        title: row.opt_text(2)?,
                        message_count: row.uint(3)?,
                    })
                })
                .collect::<Result<_>>()?;
            let busiest_users = c
                .rows(
                    "SELECT u.id, u.username, count(v.id),
                            coalesce(sum(v.message_count), 0)::bigint AS m
                     FROM users u JOIN conversations v ON v.user_id = u.id
                     GROUP BY u.id ORDER BY m DESC, u.id LIMIT $1",
                    &[&top],
                )?
                .iter()
                .map(|row| {
                    Ok(UserSize {
                        id: row.id(0)?,
                        username: row.text(1)?,
                        conversations: row.uint(2)?,
                        messages: row.uint(3)?,
                    })
                })
                .collect::<Result<_>>()?;
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
        let before = cached_before.map(at);
        let keep = keep_at_most.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        self.db.write(|c| {
            let old = c.execute(
                "DELETE FROM embedding_cache WHERE created_at < $1",
                &[&before],
            )?;
            let surplus = c.execute(
                "DELETE FROM embedding_cache WHERE $1::bigint IS NOT NULL AND key IN (
                     SELECT key FROM embedding_cache
                     ORDER BY created_at DESC, key DESC OFFSET $1)",
                &[&keep],
            )?;
            Ok(old + surplus)
        })
    }

    fn set_password_hash(&self, id: UserId, stored: &str) -> Result<()> {
        validate::password_hash(stored)?;
        let now = at(self.now());
        self.db.write(|c| {
            let changed = c.execute(
                "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
                &[&stored, &now, &id.stored()],
            )?;
            if changed == 0 {
                return Err(Error::not_found("user", id));
            }
            crate::sessions::revoke_all(c, id, now).map(drop)
        })
    }

    fn password_scheme(&self, id: UserId) -> Result<Option<HashScheme>> {
        let stored = self.db.read(|c| {
            c.row(
                "SELECT password_hash FROM users WHERE id = $1",
                &[&id.stored()],
            )
        })?;
        let stored = stored.ok_or_else(|| Error::not_found("user", id))?;
        Ok(HashScheme::of(&stored.text(0)?))
    }

    fn imported_id(&self, source: &str, kind: &str, original_id: &str) -> Result<Option<Uuid>> {
        let row = self.db.read(|c| {
            c.row(
                "SELECT new_id FROM imported_ids
                 WHERE source = $1 AND kind = $2 AND original_id = $3",
                &[&source, &kind, &original_id],
            )
        })?;
        row.map(|row| row.value::<Uuid>(0)).transpose()
    }

    fn purge_retired_conversations(&self, rule: &Retirement) -> Result<Cleanup> {
        let expired_by = at(rule.expired_by);
        let archived_before = rule.archived_before.map(at);
        let idle_before = rule.idle_before.map(at);
        self.purge_conversations(
            "expires_at <= $1
             OR (status = 'archived' AND archived_at < $2)
             OR last_activity_at < $3",
            &[&expired_by, &archived_before, &idle_before],
        )
    }

    fn purge_deleted_conversations(&self, deleted_before: Timestamp) -> Result<Cleanup> {
        let before = at(deleted_before);
        self.purge_conversations("status = 'deleted' AND deleted_at < $1", &[&before])
    }

    fn auto_hide_idle_conversations(&self, idle_for: Option<Duration>) -> Result<u64> {
        let now = self.now();
        let cutoff = at(now - idle_for.unwrap_or(self.config.auto_hide_after));
        let now = at(now);
        self.db.write(|c| {
            c.execute(
                "UPDATE conversations
                 SET is_hidden = true, auto_hidden = true, hidden_at = $1, updated_at = $1
                 WHERE is_hidden = false AND status <> 'deleted'
                   AND greatest(last_activity_at, coalesce(last_opened_at, '-infinity')) < $2",
                &[&now, &cutoff],
            )
        })
    }

    fn fail_interrupted_processing(&self, started_before: Timestamp) -> Result<Vec<DocumentId>> {
        let now = at(self.now());
        let before = at(started_before);
        self.db
            .write(|c| {
                c.rows(
                    "UPDATE documents SET processing_status = 'failed', is_processed = false,
                            error_message = 'processing was interrupted before it finished: ingest the document again',
                            updated_at = $1
                     WHERE processing_status = 'processing' AND updated_at < $2
                     RETURNING id",
                    &[&now, &before],
                )
            })?
            .iter()
            .map(|row| row.id(0))
            .collect()
    }

    fn delete_expired_sessions(&self) -> Result<u64> {
        let now = at(self.now());
        self.db.write(|c| {
            c.execute(
                "DELETE FROM user_sessions WHERE expires_at <= $1 OR revoked_at IS NOT NULL",
                &[&now],
            )
        })
    }

    fn forget_embedding_removals(&self, before: Timestamp) -> Result<u64> {
        let now = at(self.now());
        let before = at(before);
        self.db.write(|c| {
            c.execute(
                "INSERT INTO embedding_removal_marks (version, marked_at)
                 SELECT latest, $1 FROM embedding_version WHERE id = 1
                 ON CONFLICT (version) DO NOTHING",
                &[&now],
            )?;
            let mark: Option<i64> = c
                .row(
                    "SELECT max(version) FROM embedding_removal_marks WHERE marked_at < $1",
                    &[&before],
                )?
                .map(|row| row.value::<Option<i64>>(0))
                .transpose()?
                .flatten();
            let Some(mark) = mark else { return Ok(0) };
            // Only what is really forgotten moves the horizon: an index synced before a
            // stretch without removals can still catch up across it.
            c.execute(
                "UPDATE embedding_removals_forgotten SET through = greatest(through,
                     coalesce((SELECT max(version) FROM embedding_removals WHERE version <= $1), 0))",
                &[&mark],
            )?;
            let forgotten =
                c.execute("DELETE FROM embedding_removals WHERE version <= $1", &[&mark])?;
            c.execute(
                "DELETE FROM embedding_removal_marks WHERE version < $1",
                &[&mark],
            )?;
            Ok(forgotten)
        })
    }
}
