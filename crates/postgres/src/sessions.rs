//! [`SessionStore`] on PostgreSQL. Tokens are looked up by their blake3 hash; the token
//! itself never reaches the database.

use chatstore::{
    Error, NewSession, Result, Session, SessionId, SessionStore, SessionToken, User, UserId,
};
use postgres::Row;
use time::OffsetDateTime;

use crate::PgStore;
use crate::db::Conn;
use crate::row::{RowExt, UuidId, at};
use crate::users::{USER_COLUMNS, require_user, user_from_row};

const SESSION_COLUMNS: &str =
    "s.id, s.user_id, s.created_at, s.expires_at, s.last_activity_at, s.revoked_at, s.user_agent";

fn session_from_row(row: &Row) -> Result<Session> {
    Ok(Session {
        id: row.id(0)?,
        user_id: row.id(1)?,
        created_at: row.ts(2)?,
        expires_at: row.ts(3)?,
        last_activity_at: row.ts(4)?,
        revoked_at: row.opt_ts(5)?,
        user_agent: row.opt_text(6)?,
    })
}

/// Revokes every live session of a user, inside the caller's transaction.
pub(crate) fn revoke_all(
    conn: &mut Conn<'_, '_>,
    user: UserId,
    now: OffsetDateTime,
) -> Result<u64> {
    conn.execute(
        "UPDATE user_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        &[&now, &user.stored()],
    )
}

impl SessionStore for PgStore {
    fn create_session(
        &self,
        user: UserId,
        options: &NewSession,
    ) -> Result<(Session, SessionToken)> {
        let session = options.prepare(user, self.config.session_ttl, self.now())?;
        let token = SessionToken::generate();
        self.db.write(|c| {
            // Shared lock on the user: a deactivation or password change (which revoke
            // every session) cannot commit between this check and the insert.
            let active = c.row(
                "SELECT is_active FROM users WHERE id = $1 FOR SHARE",
                &[&user.stored()],
            )?;
            match active.map(|row| row.boolean(0)).transpose()? {
                None => return Err(Error::not_found("user", user)),
                Some(false) => return Err(Error::UserInactive),
                Some(true) => {}
            }
            c.execute(
                "INSERT INTO user_sessions
                    (id, user_id, token_hash, created_at, expires_at, last_activity_at, user_agent)
                 VALUES ($1, $2, $3, $4, $5, $4, $6)",
                &[
                    &session.id.stored(),
                    &user.stored(),
                    &token.hash(),
                    &at(session.created_at),
                    &at(session.expires_at),
                    &session.user_agent,
                ],
            )
            .map(drop)
        })?;
        Ok((session, token))
    }

    fn validate_session(&self, token: &SessionToken) -> Result<(Session, User)> {
        let hash = token.hash();
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, {USER_COLUMNS}
             FROM user_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1"
        );
        let found = self.db.read(|c| c.row(&sql, &[&hash]))?;
        let row = found.ok_or(Error::InvalidSession)?;
        let (mut session, user) = (session_from_row(&row)?, user_from_row(&row, 7)?);
        let now = self.now();
        session.check_valid(&user, now)?;
        if session.needs_touch(now, self.config.session_touch_interval) {
            // Never moves the activity time backwards when touches race.
            self.db.write(|c| {
                c.execute(
                    "UPDATE user_sessions SET last_activity_at = $1
                     WHERE token_hash = $2 AND last_activity_at < $1",
                    &[&at(now), &hash],
                )
            })?;
            session.last_activity_at = now;
        }
        Ok((session, user))
    }

    fn revoke_session(&self, token: &SessionToken) -> Result<()> {
        let now = at(self.now());
        let changed = self.db.write(|c| {
            c.execute(
                "UPDATE user_sessions SET revoked_at = $1
                 WHERE token_hash = $2 AND revoked_at IS NULL",
                &[&now, &token.hash()],
            )
        })?;
        if changed == 0 {
            return Err(Error::InvalidSession);
        }
        Ok(())
    }

    fn revoke_session_by_id(&self, user: UserId, session: SessionId) -> Result<()> {
        let now = at(self.now());
        let changed = self.db.write(|c| {
            c.execute(
                "UPDATE user_sessions SET revoked_at = $1
                 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
                &[&now, &session.stored(), &user.stored()],
            )
        })?;
        if changed == 0 {
            return Err(Error::not_found("session", session));
        }
        Ok(())
    }

    fn revoke_all_sessions(&self, user: UserId) -> Result<u64> {
        let now = at(self.now());
        self.db.write(|c| {
            require_user(c, user)?;
            revoke_all(c, user, now)
        })
    }

    fn list_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        let now = at(self.now());
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM user_sessions s
             WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
             ORDER BY s.created_at DESC, s.id DESC"
        );
        self.db.read_snapshot(|c| {
            require_user(c, user)?;
            c.rows(&sql, &[&user.stored(), &now])?
                .iter()
                .map(session_from_row)
                .collect()
        })
    }
}
