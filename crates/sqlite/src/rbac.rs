//! [`RbacStore`] on SQLite.

use chatstore::rbac::{check_role_deletable, permissions};
use chatstore::{Error, Permission, RbacStore, Result, Role, UserId};
use rusqlite::Row;

use crate::SqliteStore;
use crate::db::Conn;
use crate::row::RowExt;
use crate::users::require_user;

const ROLE_COLUMNS: &str = "r.name, r.description, r.created_at";
const PERMISSION_COLUMNS: &str = "p.name, p.description, p.resource, p.action";

fn role_from_row(row: &Row<'_>) -> Result<Role> {
    Ok(Role {
        name: row.text(0)?,
        description: row.opt_text(1)?,
        created_at: row.ts(2)?,
    })
}

fn permission_from_row(row: &Row<'_>) -> Result<Permission> {
    Ok(Permission {
        name: row.text(0)?,
        description: row.opt_text(1)?,
        resource: row.text(2)?,
        action: row.text(3)?,
    })
}

fn role_id(conn: &Conn<'_>, name: &str) -> Result<i64> {
    conn.row("SELECT id FROM roles WHERE name = ?1", &[&name], |row| {
        row.int(0)
    })?
    .ok_or_else(|| Error::not_found("role", name))
}

fn permission_id(conn: &Conn<'_>, name: &str) -> Result<i64> {
    conn.row(
        "SELECT id FROM permissions WHERE name = ?1",
        &[&name],
        |row| row.int(0),
    )?
    .ok_or_else(|| Error::not_found("permission", name))
}

/// True when the user holds `permission` (or `admin:full`) through a role.
pub(crate) fn holds(conn: &Conn<'_>, user: UserId, permission: &str) -> Result<bool> {
    conn.exists(
        "SELECT 1 FROM user_roles ur
         JOIN role_permissions rp ON rp.role_id = ur.role_id
         JOIN permissions p ON p.id = rp.permission_id
         WHERE ur.user_id = ?1 AND p.name IN (?2, ?3)",
        &[&user.to_string(), &permission, &permissions::ADMIN_FULL],
    )
}

impl RbacStore for SqliteStore {
    fn roles(&self) -> Result<Vec<Role>> {
        self.db.read(|c| {
            c.rows(
                &format!("SELECT {ROLE_COLUMNS} FROM roles r ORDER BY r.name"),
                &[],
                role_from_row,
            )
        })
    }

    fn create_role(&self, name: &str, description: Option<&str>) -> Result<Role> {
        let role = Role::prepare(name, description, self.now())?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO roles (name, description, created_at) VALUES (?1, ?2, ?3)",
                &[&role.name, &role.description, &role.created_at.to_string()],
            )
        })?;
        Ok(role)
    }

    fn delete_role(&self, name: &str) -> Result<()> {
        check_role_deletable(name)?;
        self.db.write(|c| {
            let id = role_id(c, name)?;
            c.execute("DELETE FROM roles WHERE id = ?1", &[&id])
                .map(drop)
        })
    }

    fn permissions(&self) -> Result<Vec<Permission>> {
        self.db.read(|c| {
            c.rows(
                &format!("SELECT {PERMISSION_COLUMNS} FROM permissions p ORDER BY p.name"),
                &[],
                permission_from_row,
            )
        })
    }

    fn create_permission(&self, name: &str, description: Option<&str>) -> Result<Permission> {
        let permission = Permission::prepare(name, description)?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO permissions (name, description, resource, action)
                 VALUES (?1, ?2, ?3, ?4)",
                &[
                    &permission.name,
                    &permission.description,
                    &permission.resource,
                    &permission.action,
                ],
            )
        })?;
        Ok(permission)
    }

    fn role_permissions(&self, role: &str) -> Result<Vec<Permission>> {
        self.db.read_snapshot(|c| {
            let id = role_id(c, role)?;
            c.rows(
                &format!(
                    "SELECT {PERMISSION_COLUMNS} FROM permissions p
                     JOIN role_permissions rp ON rp.permission_id = p.id
                     WHERE rp.role_id = ?1 ORDER BY p.name"
                ),
                &[&id],
                permission_from_row,
            )
        })
    }

    fn grant_permission(&self, role: &str, permission: &str) -> Result<()> {
        self.db.write(|c| {
            let (role, permission) = (role_id(c, role)?, permission_id(c, permission)?);
            c.execute(
                "INSERT OR IGNORE INTO role_permissions (role_id, permission_id) VALUES (?1, ?2)",
                &[&role, &permission],
            )
            .map(drop)
        })
    }

    fn revoke_permission(&self, role: &str, permission: &str) -> Result<()> {
        self.db.write(|c| {
            let (role, permission) = (role_id(c, role)?, permission_id(c, permission)?);
            c.execute(
                "DELETE FROM role_permissions WHERE role_id = ?1 AND permission_id = ?2",
                &[&role, &permission],
            )
            .map(drop)
        })
    }

    fn assign_role(&self, user: UserId, role: &str) -> Result<()> {
        self.db.write(|c| {
            require_user(c, user)?;
            let role = role_id(c, role)?;
            c.execute(
                "INSERT OR IGNORE INTO user_roles (user_id, role_id) VALUES (?1, ?2)",
                &[&user.to_string(), &role],
            )
            .map(drop)
        })
    }

    fn unassign_role(&self, user: UserId, role: &str) -> Result<()> {
        self.db.write(|c| {
            require_user(c, user)?;
            let role = role_id(c, role)?;
            c.execute(
                "DELETE FROM user_roles WHERE user_id = ?1 AND role_id = ?2",
                &[&user.to_string(), &role],
            )
            .map(drop)
        })
    }

    fn user_roles(&self, user: UserId) -> Result<Vec<Role>> {
        self.db.read_snapshot(|c| {
            require_user(c, user)?;
            c.rows(
                &format!(
                    "SELECT {ROLE_COLUMNS} FROM roles r
                     JOIN user_roles ur ON ur.role_id = r.id
                     WHERE ur.user_id = ?1 ORDER BY r.name"
                ),
                &[&user.to_string()],
                role_from_row,
            )
        })
    }

    fn user_permissions(&self, user: UserId) -> Result<Vec<String>> {
        self.db.read_snapshot(|c| {
            require_user(c, user)?;
            c.rows(
                "SELECT DISTINCT p.name FROM permissions p
                 JOIN role_permissions rp ON rp.permission_id = p.id
                 JOIN user_roles ur ON ur.role_id = rp.role_id
                 WHERE ur.user_id = ?1 ORDER BY p.name",
                &[&user.to_string()],
                |row| row.text(0),
            )
        })
    }

    fn has_permission(&self, user: UserId, permission: &str) -> Result<bool> {
        self.db.read_snapshot(|c| {
            if holds(c, user, permission)? {
                return Ok(true);
            }
            require_user(c, user).map(|()| false)
        })
    }
}
