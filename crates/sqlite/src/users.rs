//! [`UserStore`] on SQLite.

use chatstore::Cursor;
use chatstore::{
    Cleanup, Error, NewUser, Page, Password, ProfileUpdate, Result, User, UserId, UserQuery,
    UserStore, rbac::roles, validate,
};
use rusqlite::Row;

use crate::SqliteStore;
use crate::db::Conn;
use crate::row::RowExt;

pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.full_name, u.is_active, \
     u.created_at, u.updated_at, u.last_login_at, u.preferred_llm, u.explainability_level, \
     u.metadata";

/// Reads a user from [`USER_COLUMNS`] starting at column `at`.
pub(crate) fn user_from_row(row: &Row<'_>, at: usize) -> Result<User> {
    Ok(User {
        id: row.parse(at)?,
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

/// The user with this id, within a transaction.
pub(crate) fn load_user(conn: &Conn<'_>, id: UserId) -> Result<User> {
    conn.row(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"),
        &[&id.to_string()],
        |row| user_from_row(row, 0),
    )?
    .ok_or_else(|| Error::not_found("user", id))
}

/// Runs an `UPDATE` of one user's row; not-found when no row had that id.
fn update_user(
    conn: &Conn<'_>,
    id: UserId,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<()> {
    match conn.execute(sql, params)? {
        0 => Err(Error::not_found("user", id)),
        _ => Ok(()),
    }
}

/// Fails with not-found unless the user exists.
pub(crate) fn require_user(conn: &Conn<'_>, id: UserId) -> Result<()> {
    if conn.exists("SELECT 1 FROM users WHERE id = ?1", &[&id.to_string()])? {
        Ok(())
    } else {
        Err(Error::not_found("user", id))
    }
}

impl SqliteStore {
    fn find_user(&self, column: &str, value: &str) -> Result<User> {
        self.db
            .read(|c| {
                c.row(
                    &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.{column} = ?1"),
                    &[&value],
                    |row| user_from_row(row, 0),
                )
            })?
            .ok_or_else(|| Error::not_found("user", value))
    }
}

impl UserStore for SqliteStore {
    fn create_user(&self, new: &NewUser) -> Result<User> {
        let account = new.prepare()?;
        // Hashing is deliberately slow: do it before taking the write lock.
        let hash = self.hasher.hash(&new.password)?;
        let id = UserId::new();
        let now = self.now().to_string();
        self.db.write(|c| {
            c.execute(
                "INSERT INTO users (id, username, username_key, email, password_hash, full_name,
                     created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                &[
                    &id.to_string(),
                    &account.username,
                    &account.username_key,
                    &account.email,
                    &hash,
                    &account.full_name,
                    &now,
                ],
            )?;
            c.execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT ?1, id FROM roles WHERE name = ?2",
                &[&id.to_string(), &roles::VIEWER],
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
            .map(Cursor::key2::<chatstore::Timestamp, UserId>)
            .transpose()?;
        let (after_created, after_id) = match after {
            Some((created, id)) => (Some(created.to_string()), Some(id.to_string())),
            None => (None, None),
        };
        let active = query.active.map(i64::from);
        let users = self.db.read(|c| {
            c.rows(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users u
                     WHERE (?1 IS NULL OR u.is_active = ?1)
                       AND (?2 IS NULL OR (u.created_at, u.id) > (?2, ?3))
                     ORDER BY u.created_at, u.id LIMIT ?4 + 0"
                ),
                &[&active, &after_created, &after_id, &(limit + 1)],
                |row| user_from_row(row, 0),
            )
        })?;
        Ok(Page::from_rows(users, limit, |u| {
            Cursor::from_key(&[&u.created_at, &u.id])
        }))
    }

    fn authenticate(&self, login: &str, password: &Password) -> Result<User> {
        let found = self.db.read(|c| {
            c.row(
                &format!(
                    "SELECT {USER_COLUMNS}, u.password_hash FROM users u
                     WHERE u.email = ?1 OR u.username_key = ?1"
                ),
                &[&validate::username_key(login)],
                |row| Ok((user_from_row(row, 0)?, row.text(11)?)),
            )
        })?;
        let account = found.as_ref().map(|(user, hash)| (user, hash.as_str()));
        let (user, new_hash) = self.hasher.login(password, account)?;
        let verified = account.map(|(_, hash)| hash);
        let now = self.now().to_string();
        // The rehash replaces only the hash just verified: a password set since the read
        // above (another transaction) must not be overwritten with the old one's rehash.
        self.db.write(|c| {
            c.execute(
                "UPDATE users SET last_login_at = ?1,
                        password_hash = CASE WHEN password_hash = ?4
                                        THEN coalesce(?2, password_hash)
                                        ELSE password_hash END
                 WHERE id = ?3",
                &[&now, &new_hash, &user.id.to_string(), &verified],
            )?;
            load_user(c, user.id)
        })
    }

    fn set_password(&self, id: UserId, password: &Password) -> Result<()> {
        let hash = self.hasher.hash(password)?;
        let now = self.now().to_string();
        self.db.write(|c| {
            update_user(
                c,
                id,
                "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
                &[&hash, &now, &id.to_string()],
            )?;
            crate::sessions::revoke_all(c, id, &now).map(drop)
        })
    }

    fn set_user_active(&self, id: UserId, active: bool) -> Result<User> {
        let now = self.now().to_string();
        self.db.write(|c| {
            update_user(
                c,
                id,
                "UPDATE users SET is_active = ?1, updated_at = ?2 WHERE id = ?3",
                &[&active, &now, &id.to_string()],
            )?;
            if !active {
                crate::sessions::revoke_all(c, id, &now)?;
            }
            load_user(c, id)
        })
    }

    fn update_profile(&self, id: UserId, update: &ProfileUpdate) -> Result<User> {
        let update = update.prepare(self.config.max_metadata_bytes)?;
        let level = update.explainability_level.map(|l| l.as_str());
        let now = self.now().to_string();
        self.db.write(|c| {
            update_user(
                c,
                id,
                "UPDATE users SET
                    full_name = CASE WHEN ?1 THEN ?2 ELSE full_name END,
                    preferred_llm = coalesce(?3, preferred_llm),
                    explainability_level = coalesce(?4, explainability_level),
                    metadata = coalesce(?5, metadata),
                    updated_at = ?6
                 WHERE id = ?7",
                &[
                    &update.full_name.is_some(),
                    &update.full_name.clone().flatten(),
                    &update.preferred_llm,
                    &level,
                    &update.metadata,
                    &now,
                    &id.to_string(),
                ],
            )?;
            load_user(c, id)
        })
    }

    fn delete_user(&self, id: UserId) -> Result<Cleanup> {
        let user = id.to_string();
        self.db.write(|c| {
            require_user(c, id)?;
            let messages_with_files =
                crate::conversations::messages_with_files(c, "v.user_id = ?1", &[&user])?;
            let documents = c.rows(
                "SELECT id FROM documents WHERE owner_id = ?1",
                &[&user],
                |row| row.parse(0),
            )?;
            crate::documents::unselect_documents(c, &documents)?;
            c.execute("DELETE FROM users WHERE id = ?1", &[&user])?;
            Ok(Cleanup {
                messages_with_files,
                documents,
                deleted: 1,
            })
        })
    }
}
