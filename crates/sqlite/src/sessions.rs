//! [`SessionStore`] on SQLite. Tokens are looked up by their blake3 hash; the token
//! itself never reaches the database.

use chatstore::{
    Error, NewSession, Result, Session, SessionId, SessionStore, SessionToken, User, UserId,
};
use rusqlite::Row;

use crate::SqliteStore;
use crate::db::Conn;
use crate::row::RowExt;
use crate::users::{USER_COLUMNS, user_from_row};

const SESSION_COLUMNS: &str =
    "s.id, s.user_id, s.created_at, s.expires_at, s.last_activity_at, s.revoked_at, s.user_agent";

fn session_from_row(row: &Row<'_>) -> Result<Session> {
    Ok(Session {
        id: row.parse(0)?,
        user_id: row.parse(1)?,
        created_at: row.ts(2)?,
        expires_at: row.ts(3)?,
        last_activity_at: row.ts(4)?,
        revoked_at: row.opt_ts(5)?,
        user_agent: row.opt_text(6)?,
    })
}

/// Revokes every live session of a user, inside the caller's transaction.
pub(crate) fn revoke_all(conn: &Conn<'_>, user: UserId, now: &str) -> Result<u64> {
    conn.execute(
        "UPDATE user_sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
        &[&now, &user.to_string()],
    )
    .map(|n| n as u64)
}

impl SessionStore for SqliteStore {
    fn create_session(
        &self,
        user: UserId,
        options: &NewSession,
    ) -> Result<(Session, SessionToken)> {
        let session = options.prepare(user, self.config.session_ttl, self.now())?;
        let token = SessionToken::generate();
        self.db.write(|c| {
            let active = c.row(
                "SELECT is_active FROM users WHERE id = ?1",
                &[&user.to_string()],
                |row| row.boolean(0),
            )?;
            match active {
                None => return Err(Error::not_found("user", user)),
                Some(false) => return Err(Error::UserInactive),
                Some(true) => {}
            }
            c.execute(
                "INSERT INTO user_sessions
                    (id, user_id, token_hash, created_at, expires_at, last_activity_at, user_agent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)",
                &[
                    &session.id.to_string(),
                    &user.to_string(),
                    &token.hash(),
                    &session.created_at.to_string(),
                    &session.expires_at.to_string(),
                    &session.user_agent,
                ],
            )
            .map(drop)
        })?;
        Ok((session, token))
    }

    fn validate_session(&self, token: &SessionToken) -> Result<(Session, User)> {
        let hash = token.hash();
        let found = self.db.read(|c| {
            c.row(
                &format!(
                    "SELECT {SESSION_COLUMNS}, {USER_COLUMNS}
                     FROM user_sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1"
                ),
                &[&hash],
                |row| Ok((session_from_row(row)?, user_from_row(row, 7)?)),
            )
        })?;
        let now = self.now();
        let (mut session, user) = found.ok_or(Error::InvalidSession)?;
        session.check_valid(&user, now)?;
        if session.needs_touch(now, self.config.session_touch_interval) {
            self.db.write(|c| {
                c.execute(
                    "UPDATE user_sessions SET last_activity_at = ?1 WHERE token_hash = ?2",
                    &[&now.to_string(), &hash],
                )
            })?;
            session.last_activity_at = now;
        }
        Ok((session, user))
    }

    fn revoke_session(&self, token: &SessionToken) -> Result<()> {
        let now = self.now().to_string();
        let changed = self.db.write(|c| {
            c.execute(
                "UPDATE user_sessions SET revoked_at = ?1
                 WHERE token_hash = ?2 AND revoked_at IS NULL",
                &[&now, &token.hash()],
            )
        })?;
        if changed == 0 {
            return Err(Error::InvalidSession);
        }
        Ok(())
    }

    fn revoke_session_by_id(&self, user: UserId, session: SessionId) -> Result<()> {
        let now = self.now().to_string();
        let changed = self.db.write(|c| {
            c.execute(
                "UPDATE user_sessions SET revoked_at = ?1
                 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL",
                &[&now, &session.to_string(), &user.to_string()],
            )
        })?;
        if changed == 0 {
            return Err(Error::not_found("session", session));
        }
        Ok(())
    }

    fn revoke_all_sessions(&self, user: UserId) -> Result<u64> {
        let now = self.now().to_string();
        self.db.write(|c| {
            crate::users::require_user(c, user)?;
            revoke_all(c, user, &now)
        })
    }

    fn list_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        let now = self.now().to_string();
        self.db.read(|c| {
            crate::users::require_user(c, user)?;
            c.rows(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM user_sessions s
                     WHERE s.user_id = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2
                     ORDER BY s.created_at DESC, s.id DESC"
                ),
                &[&user.to_string(), &now],
                session_from_row,
            )
        })
    }
}
