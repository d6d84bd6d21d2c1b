//! [`RbacStore`] on PostgreSQL.

use chatstore::rbac::{check_role_deletable, permissions};
use chatstore::{Error, Permission, RbacStore, Result, Role, UserId};
use postgres::Row;

use crate::PgStore;
use crate::db::Conn;
use crate::row::{RowExt, UuidId, at};
use crate::users::require_user;

const ROLE_COLUMNS: &str = "r.name, r.description, r.created_at";
const PERMISSION_COLUMNS: &str = "p.name, p.description, p.resource, p.action";

fn role_from_row(row: &Row) -> Result<Role> {
    Ok(Role {
        name: row.text(0)?,
        description: row.opt_text(1)?,
        created_at: row.ts(2)?,
    })
}

fn permission_from_row(row: &Row) -> Result<Permission> {
    Ok(Permission {
        name: row.text(0)?,
        description: row.opt_text(1)?,
        resource: row.text(2)?,
        action: row.text(3)?,
    })
}

/// The id of a named row of `table` (`roles` or `permissions`), or not-found.
fn id_of(
    conn: &mut Conn<'_, '_>,
    table: &'static str,
    entity: &'static str,
    name: &str,
) -> Result<i64> {
    let row = conn.row(&format!("SELECT id FROM {table} WHERE name = $1"), &[&name])?;
    row.map(|row| row.value::<i64>(0))
        .transpose()?
        .ok_or_else(|| Error::not_found(entity, name))
}

/// True when the user holds `permission` (or `admin:full`) through a role.
pub(crate) fn holds(conn: &mut Conn<'_, '_>, user: UserId, permission: &str) -> Result<bool> {
    let row = conn.row(
        "SELECT 1 FROM user_roles ur
         JOIN role_permissions rp ON rp.role_id = ur.role_id
         JOIN permissions p ON p.id = rp.permission_id
         WHERE ur.user_id = $1 AND p.name IN ($2, $3) LIMIT 1",
        &[&user.stored(), &permission, &permissions::ADMIN_FULL],
    )?;
    Ok(row.is_some())
}

/// Rows decoded by `decode`.
fn all<T>(rows: Vec<Row>, decode: fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(decode).collect()
}

impl RbacStore for PgStore {
    fn roles(&self) -> Result<Vec<Role>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles r ORDER BY r.name");
        all(self.db.read(|c| c.rows(&sql, &[]))?, role_from_row)
    }

    fn create_role(&self, name: &str, description: Option<&str>) -> Result<Role> {
        let role = Role::prepare(name, description, self.now())?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO roles (name, description, created_at) VALUES ($1, $2, $3)",
                &[&role.name, &role.description, &at(role.created_at)],
            )
        })?;
        Ok(role)
    }

    fn delete_role(&self, name: &str) -> Result<()> {
        check_role_deletable(name)?;
        self.db.write(|c| {
            let deleted = c.execute("DELETE FROM roles WHERE name = $1", &[&name])?;
            match deleted {
                0 => Err(Error::not_found("role", name)),
                _ => Ok(()),
            }
        })
    }

    fn permissions(&self) -> Result<Vec<Permission>> {
        let sql = format!("SELECT {PERMISSION_COLUMNS} FROM permissions p ORDER BY p.name");
        all(self.db.read(|c| c.rows(&sql, &[]))?, permission_from_row)
    }

    fn create_permission(&self, name: &str, description: Option<&str>) -> Result<Permission> {
        let permission = Permission::prepare(name, description)?;
        self.db.write(|c| {
            c.execute(
                "INSERT INTO permissions (name, description, resource, action)
                 VALUES ($1, $2, $3, $4)",
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
        let sql = format!(
            "SELECT {PERMISSION_COLUMNS} FROM permissions p
             JOIN role_permissions rp ON rp.permission_id = p.id
             WHERE rp.role_id = $1 ORDER BY p.name"
        );
        let rows = self.db.read_snapshot(|c| {
            let id = id_of(c, "roles", "role", role)?;
            c.rows(&sql, &[&id])
        })?;
        all(rows, permission_from_row)
    }

    fn grant_permission(&self, role: &str, permission: &str) -> Result<()> {
        self.db.write(|c| {
            let role = id_of(c, "roles", "role", role)?;
            let permission = id_of(c, "permissions", "permission", permission)?;
            c.execute(
                "INSERT INTO role_permissions (role_id, permission_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&role, &permission],
            )
            .map(drop)
        })
    }

    fn revoke_permission(&self, role: &str, permission: &str) -> Result<()> {
        self.db.write(|c| {
            let role = id_of(c, "roles", "role", role)?;
            let permission = id_of(c, "permissions", "permission", permission)?;
            c.execute(
                "DELETE FROM role_permissions WHERE role_id = $1 AND permission_id = $2",
                &[&role, &permission],
            )
            .map(drop)
        })
    }

    fn assign_role(&self, user: UserId, role: &str) -> Result<()> {
        self.db.write(|c| {
            require_user(c, user)?;
            let role = id_of(c, "roles", "role", role)?;
            c.execute(
                "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&user.stored(), &role],
            )
            .map(drop)
        })
    }

    fn unassign_role(&self, user: UserId, role: &str) -> Result<()> {
        self.db.write(|c| {
            require_user(c, user)?;
            let role = id_of(c, "roles", "role", role)?;
            c.execute(
                "DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2",
                &[&user.stored(), &role],
            )
            .map(drop)
        })
    }

    fn user_roles(&self, user: UserId) -> Result<Vec<Role>> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles r
             JOIN user_roles ur ON ur.role_id = r.id
             WHERE ur.user_id = $1 ORDER BY r.name"
        );
        let rows = self.db.read_snapshot(|c| {
            require_user(c, user)?;
            c.rows(&sql, &[&user.stored()])
        })?;
        all(rows, role_from_row)
    }

    fn user_permissions(&self, user: UserId) -> Result<Vec<String>> {
        let rows = self.db.read_snapshot(|c| {
            require_user(c, user)?;
            c.rows(
                "SELECT DISTINCT p.name FROM permissions p
                 JOIN role_permissions rp ON rp.permission_id = p.id
                 JOIN user_roles ur ON ur.role_id = rp.role_id
                 WHERE ur.user_id = $1 ORDER BY p.name",
                &[&user.stored()],
            )
        })?;
        rows.iter().map(|row| row.text(0)).collect()
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
