//! [`UserStore`] on PostgreSQL.

use chatstore::Cursor;
use chatstore::{
    Cleanup, Error, NewUser, Page, Password, ProfileUpdate, Result, Timestamp, User, UserId,
    UserQuery, UserStore, rbac::roles, validate,
};
use postgres::Row;

use crate::PgStore;
use crate::db::Conn;
use crate::row::{RowExt, UuidId, at};

pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.full_name, u.is_active, \
     u.created_at, u.updated_at, u.last_login_at, u.preferred_llm, u.explainability_level, \
     u.metadata";

/// Reads a user from [`USER_COLUMNS`] starting at column `at`.
pub(crate) fn user_from_row(row: &Row, at: usize) -> Result<User> {
    Ok(User {
        id: row.id(at)?,
        username: row.text(at + 1)?,
        email: row.text(at + 2)?,
        full_name: row.opt_text(at + 3)?,
        is_active: row.boolean(at + 4)?,
        created_at: row.ts(at + 5)?,
        updated_at: row.ts(at + 6)?,
        last_login_at: row.opt_ts(at + 7)?,
        preferred_llm: row.text(at + 8)?,
        explainability_level: row.parse(at + 9)?,
        metadata: row.json(at + 10)?,
    })
}

/// The user with this id.
pub(crate) fn load_user(conn: &mut Conn<'_, '_>, id: UserId) -> Result<User> {
    let row = conn.row(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"),
        &[&id.stored()],
    )?;
    row.map(|row| user_from_row(&row, 0))
        .transpose()?
        .ok_or_else(|| Error::not_found("user", id))
}

/// Fails with not-found unless the user exists.
pub(crate) fn require_user(conn: &mut Conn<'_, '_>, id: UserId) -> Result<()> {
    match conn.row("SELECT 1 FROM users WHERE id = $1", &[&id.stored()])? {
        Some(_) => Ok(()),
        None => Err(Error::not_found("user", id)),
    }
}

/// Not-found unless an `UPDATE` changed a row.
fn changed(rows: u64, id: UserId) -> Result<()> {
    match rows {
        0 => Err(Error::not_found("user", id)),
        _ => Ok(()),
    }
}

impl PgStore {
    fn find_user(&self, column: &str, value: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.{column} = $1");
        self.db
            .read(|c| c.row(&sql, &[&value]))?
            .map(|row| user_from_row(&row, 0))
            .transpose()?
            .ok_or_else(|| Error::not_found("user", value))
    }
}

impl UserStore for PgStore {
    fn create_user(&self, new: &NewUser) -> Result<User> {
        let account = new.prepare()?;
        // Hashing is deliberately slow: do it before the transaction.
        let hash = self.hasher.hash(&new.password)?;
        let id = UserId::new();
        let now = at(self.now());
        self.db.write(|c| {
            c.execute(
                "INSERT INTO users (id, username, username_key, email, password_hash, full_name,
                     created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                &[
                    &id.stored(),
                    &account.username,
                    &account.username_key,
                    &account.email,
                    &hash,
                    &account.full_name,
                    &now,
                ],
            )?;
            c.execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = $2",
                &[&id.stored(), &roles::VIEWER],
            )?;
            load_user(c, id)
        })
    }

    fn user(&self, id: UserId) -> Result<User> {
        self.db.read(|c| load_user(c, id))
    }

    fn user_by_email(&self, email: &str) -> Result<User> {
        self.find_user("email", &validate::email_key(email))
    }

    fn user_by_username(&self, username: &str) -> Result<User> {
        self.find_user("username_key", &validate::username_key(username))
    }

    fn list_users(&self, query: &UserQuery) -> Result<Page<User>> {
        let limit = validate::page_limit(query.limit)?;
        let after = query
            .cursor
            .as_ref()
            .map(Cursor::key2::<Timestamp, UserId>)
            .transpose()?;
        let fetch = i64::from(limit) + 1;
        // Separate statements for the optional filters: a generic plan can ignore an
        // index behind `$1 IS NULL OR ...`.
        let rows = self.db.read(|c| match (query.active, after) {
            (active, Some((created, id))) => c.rows(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users u
                     WHERE ($1::boolean IS NULL OR u.is_active = $1)
                       AND (u.created_at, u.id) > ($2, $3)
                     ORDER BY u.created_at, u.id LIMIT $4"
                ),
                &[&active, &at(created), &id.stored(), &fetch],
            ),
            (active, None) => c.rows(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users u
                     WHERE ($1::boolean IS NULL OR u.is_active = $1)
                     ORDER BY u.created_at, u.id LIMIT $2"
                ),
                &[&active, &fetch],
            ),
        })?;
        let users = rows
            .iter()
            .map(|row| user_from_row(row, 0))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(users, limit, |u| {
            Cursor::from_key(&[&u.created_at, &u.id])
        }))
    }

    fn authenticate(&self, login: &str, password: &Password) -> Result<User> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u
             WHERE u.email = $1 OR u.username_key = $1"
        );
        let key = validate::username_key(login);
        let found = self
            .db
            .read(|c| c.row(&sql, &[&key]))?
            .map(|row| Ok::<_, Error>((user_from_row(&row, 0)?, row.text(11)?)))
            .transpose()?;
        let account = found.as_ref().map(|(user, hash)| (user, hash.as_str()));
        let (user, new_hash) = self.hasher.login(password, account)?;
        let verified = account.map(|(_, hash)| hash.to_owned());
        let now = at(self.now());
        // The rehash replaces only the hash just verified: a password set since the read
        // above (another transaction) must not be overwritten with the old one's rehash.
        self.db.write(|c| {
            c.execute(
                "UPDATE users SET last_login_at = $1,
                        password_hash = CASE WHEN password_hash = $4
                                        THEN coalesce($2, password_hash)
                                        ELSE password_hash END
                 WHERE id = $3",
                &[&now, &new_hash, &user.id.stored(), &verified],
            )?;
            load_user(c, user.id)
        })
    }

    fn set_password(&self, id: UserId, password: &Password) -> Result<()> {
        let hash = self.hasher.hash(password)?;
        let now = at(self.now());
        self.db.write(|c| {
            changed(
                c.execute(
                    "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
                    &[&hash, &now, &id.stored()],
                )?,
                id,
            )?;
            crate::sessions::revoke_all(c, id, now).map(drop)
        })
    }

    fn set_user_active(&self, id: UserId, active: bool) -> Result<User> {
        let now = at(self.now());
        self.db.write(|c| {
            changed(
                c.execute(
                    "UPDATE users SET is_active = $1, updated_at = $2 WHERE id = $3",
                    &[&active, &now, &id.stored()],
                )?,
                id,
            )?;
            if !active {
                crate::sessions::revoke_all(c, id, now)?;
            }
            load_user(c, id)
        })
    }

    fn update_profile(&self, id: UserId, update: &ProfileUpdate) -> Result<User> {
        let update = update.prepare(self.config.max_metadata_bytes)?;
        let level = update.explainability_level.map(|l| l.as_str());
        let now = at(self.now());
        self.db.write(|c| {
            changed(
                c.execute(
                    "UPDATE users SET
                        full_name = CASE WHEN $1 THEN $2 ELSE full_name END,
                        preferred_llm = coalesce($3, preferred_llm),
                        explainability_level = coalesce($4, explainability_level),
                        metadata = coalesce($5::text::jsonb, metadata),
                        updated_at = $6
                     WHERE id = $7",
                    &[
                        &update.full_name.is_some(),
                        &update.full_name.clone().flatten(),
                        &update.preferred_llm,
                        &level,
                        &update.metadata,
                        &now,
                        &id.stored(),
                    ],
                )?,
                id,
            )?;
            load_user(c, id)
        })
    }

    fn delete_user(&self, id: UserId) -> Result<Cleanup> {
        self.db.write(|c| {
            // Locked first: conversations and documents created meanwhile wait on their
            // foreign key and then fail, so the lists below are complete.
            if c.row(
                "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
                &[&id.stored()],
            )?
            .is_none()
            {
                return Err(Error::not_found("user", id));
            }
            let messages_with_files = c
                .rows(
                    "SELECT m.id FROM messages m JOIN conversations v ON v.id = m.conversation_id
                     WHERE v.user_id = $1 AND m.files IS NOT NULL",
                    &[&id.stored()],
                )?
                .iter()
                .map(|row| row.id(0))
                .collect::<Result<Vec<_>>>()?;
            let documents = c
                .rows(
                    "SELECT id FROM documents WHERE owner_id = $1",
                    &[&id.stored()],
                )?
                .iter()
                .map(|row| row.id(0))
                .collect::<Result<Vec<_>>>()?;
            crate::documents::unselect_documents(c, &documents)?;
            c.execute("DELETE FROM users WHERE id = $1", &[&id.stored()])?;
            Ok(Cleanup {
                messages_with_files,
                documents,
                deleted: 1,
            })
        })
    }
}
