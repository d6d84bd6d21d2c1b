//! [`ChatStore::clean_up`]: the scheduled cleanup an operator runs (daily, say) as one
//! call: expired sessions, soft-deleted conversations past their grace period with
//! their attachments and vectors, idle conversations hidden, and orphan blobs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ChatStore, ORPHAN_GRACE};
use crate::{BlobStore, Result, Store, VectorIndex};

/// What [`ChatStore::clean_up`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupPlan {
    /// Soft-deleted conversations are purged once deleted longer ago than this
    /// (`None`: kept until purged by hand).
    pub purge_deleted_after: Option<Duration>,
    /// Archived conversations are purged once archived longer ago than this (`None`:
    /// kept).
    pub delete_archived_after: Option<Duration>,
    /// Conversations of any status are purged once idle (no message since, or since
    /// creation) longer than this (`None`: kept).
    pub delete_idle_after: Option<Duration>,
    /// Hide conversations idle longer than the store's configured auto-hide period.
    pub hide_idle: bool,
    /// Blobs without a message are removed once stored longer ago than this (at least
    /// [`ORPHAN_GRACE`] is used, so that no append in flight loses its attachments).
    pub orphan_grace: Duration,
}

impl Default for CleanupPlan {
    /// Purge soft-deleted conversations after 30 days, keep archived and idle ones,
    /// hide idle conversations, orphan grace of [`ORPHAN_GRACE`]. Expired temporary
    /// conversations are always purged.
    fn default() -> Self {
        CleanupPlan {
            purge_deleted_after: Some(Duration::from_secs(30 * 24 * 3600)),
            delete_archived_after: None,
            delete_idle_after: None,
            hide_idle: true,
            orphan_grace: ORPHAN_GRACE,
        }
    }
}

/// What [`ChatStore::clean_up`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// Expired or revoked login sessions deleted.
    pub expired_sessions: u64,
    /// Soft-deleted conversations purged.
    pub purged_conversations: u64,
    /// Expired temporary conversations, and archived or idle ones past the plan's age,
    /// purged.
    pub retired_conversations: u64,
    /// Messages with attachments among the purged ones (their blobs went too).
    pub purged_messages_with_files: u64,
    /// Idle conversations hidden.
    pub hidden_conversations: u64,
    /// Orphan blobs removed.
    pub orphan_blobs: u64,
}

impl<S: Store, B: BlobStore, V: VectorIndex> ChatStore<S, B, V> {
    /// Runs the cleanup `plan` describes, in an order that leaves only garbage behind
    /// if interrupted: sessions, then purges (rows first, attachments and vectors
    /// after), then hiding, then the orphan sweep.
    pub fn clean_up(&self, plan: &CleanupPlan) -> Result<CleanupReport> {
        let now = self.store.now();
        let mut report = CleanupReport {
            expired_sessions: self.store.delete_expired_sessions()?,
            ..CleanupReport::default()
        };
        if let Some(grace) = plan.purge_deleted_after {
            let purged = self.purge_deleted_conversations(now - grace)?;
            report.purged_conversations = purged.deleted;
            report.purged_messages_with_files = purged.messages_with_files.len() as u64;
        }
        let retired = self.purge_retired_conversations(&crate::Retirement {
            expired_by: now,
            archived_before: plan.delete_archived_after.map(|age| now - age),
            idle_before: plan.delete_idle_after.map(|age| now - age),
        })?;
        report.retired_conversations = retired.deleted;
        report.purged_messages_with_files += retired.messages_with_files.len() as u64;
        if plan.hide_idle {
            report.hidden_conversations = self.store.auto_hide_idle_conversations(None)?;
        }
        report.orphan_blobs = self.sweep_orphan_blobs(now - plan.orphan_grace.max(ORPHAN_GRACE))?;
        Ok(report)
    }
}
