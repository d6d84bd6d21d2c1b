//! Login sessions: a random token handed to the client once, its hash kept in the store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Result, SessionId, SessionToken, Timestamp, User, UserId};

/// A login session. Holds no secret: the token itself is only ever returned by
/// [`SessionStore::create_session`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id (safe to show, e.g. in a "your devices" list).
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// When it was last validated (updated at most once per configured touch interval).
    pub last_activity_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// The client's user agent, if the host recorded it.
    pub user_agent: Option<String>,
}

impl Session {
    /// The rule for a presented session, on every backend: revoked, expired, or of a
    /// deactivated user is [`crate::Error::InvalidSession`].
    pub fn check_valid(&self, user: &User, now: Timestamp) -> Result<()> {
        if self.revoked_at.is_some() || self.expires_at <= now || !user.is_active {
            return Err(crate::Error::InvalidSession);
        }
        Ok(())
    }

    /// True when the session's last activity should be moved to `now`: at most once per
    /// `interval`, so validating a session stays a read most of the time.
    pub fn needs_touch(&self, now: Timestamp, interval: Duration) -> bool {
        now.saturating_duration_since(self.last_activity_at) >= interval
    }
}

/// Options for a new session.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// How long the session lasts; the configured default when `None`.
    pub ttl: Option<Duration>,
    /// The client's user agent, for display.
    pub user_agent: Option<String>,
}

impl NewSession {
    /// The session these options open for `user` at `now`, lasting `ttl` unless they
    /// say otherwise: a lifetime that is not positive or a malformed user agent is
    /// [`crate::Error::Validation`].
    pub fn prepare(&self, user: UserId, default_ttl: Duration, now: Timestamp) -> Result<Session> {
        let ttl = self.ttl.unwrap_or(default_ttl);
        if ttl.is_zero() {
            return Err(crate::Error::validation("ttl", "must be positive"));
        }
        Ok(Session {
            id: SessionId::new(),
            user_id: user,
            created_at: now,
            expires_at: now + ttl,
            last_activity_at: now,
            revoked_at: None,
            user_agent: crate::validate::optional_text("user_agent", self.user_agent.as_deref())?,
        })
    }
}

/// Creating, validating and revoking login sessions.
pub trait SessionStore: Send + Sync {
    /// Opens a session for an active user and returns it with its token. The token is
    /// not stored, only its blake3 hash: hand it to the client now.
    ///
    /// A deactivated user is [`crate::Error::UserInactive`].
    fn create_session(&self, user: UserId, options: &NewSession)
    -> Result<(Session, SessionToken)>;

    /// Checks a token: it must belong to an unexpired, unrevoked session of an active
    /// user. Records the activity. Anything else is [`crate::Error::InvalidSession`].
    fn validate_session(&self, token: &SessionToken) -> Result<(Session, User)>;

    /// Revokes the session holding this token. Revoking an unknown or already revoked
    /// token is [`crate::Error::InvalidSession`].
    fn revoke_session(&self, token: &SessionToken) -> Result<()>;

    /// Revokes one of the user's sessions by id (for a "log out that device" button).
    fn revoke_session_by_id(&self, user: UserId, session: SessionId) -> Result<()>;

    /// Revokes every live session of the user; returns how many.
    fn revoke_all_sessions(&self, user: UserId) -> Result<u64>;

    /// The user's live (unexpired, unrevoked) sessions, newest first.
    fn list_sessions(&self, user: UserId) -> Result<Vec<Session>>;
}
