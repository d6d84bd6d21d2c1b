//! Roles and permissions (role-based access control).
//!
//! Every store starts with the three standard roles and thirteen standard permissions;
//! new users get `viewer`. A user holding `admin:full` passes every permission check.

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Timestamp, UserId, validate};

/// The standard role names.
pub mod roles {
    /// Full system access: every standard permission.
    pub const ADMIN: &str = "admin";
    /// Documents, agents, explanations and metering.
    pub const ANALYST: &str = "analyst";
    /// Read-only access plus chat; given to every new user.
    pub const VIEWER: &str = "viewer";
    /// The standard roles, which cannot be deleted.
    pub const BUILT_IN: [&str; 3] = [ADMIN, ANALYST, VIEWER];
}

/// The standard permission names (`resource:action`).
pub mod permissions {
    /// Use chat functionality.
    pub const CHAT_USE: &str = "chat:use";
    /// Upload documents.
    pub const DOCUMENTS_CREATE: &str = "documents:create";
    /// View documents.
    pub const DOCUMENTS_READ: &str = "documents:read";
    /// Modify documents.
    pub const DOCUMENTS_UPDATE: &str = "documents:update";
    /// Delete documents.
    pub const DOCUMENTS_DELETE: &str = "documents:delete";
    /// Execute agents.
    pub const AGENTS_EXECUTE: &str = "agents:execute";
    /// View agent logs.
    pub const AGENTS_READ: &str = "agents:read";
    /// View explainability data.
    pub const EXPLAIN_VIEW: &str = "explain:view";
    /// View token usage.
    pub const METERING_READ: &str = "metering:read";
    /// Full administrative access; implies every other permission.
    pub const ADMIN_FULL: &str = "admin:full";
    /// Manage user accounts.
    pub const USERS_MANAGE: &str = "users:manage";
    /// Manage roles and permissions.
    pub const ROLES_MANAGE: &str = "roles:manage";
    /// Modify system configuration.
    pub const SYSTEM_CONFIG: &str = "system:config";

    /// All thirteen standard permissions.
    pub const ALL: [&str; 13] = [
        CHAT_USE,
        DOCUMENTS_CREATE,
        DOCUMENTS_READ,
        DOCUMENTS_UPDATE,
        DOCUMENTS_DELETE,
        AGENTS_EXECUTE,
        AGENTS_READ,
        EXPLAIN_VIEW,
        METERING_READ,
        ADMIN_FULL,
        USERS_MANAGE,
        ROLES_MANAGE,
        SYSTEM_CONFIG,
    ];
}

/// A role: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Unique name.
    pub name: String,
    /// What the role is for.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Role {
    /// Checks a new role and makes the record a backend stores, created at `now`: the
    /// name as [`validate_role_name`] leaves it, the description a short text (trimmed,
    /// `None` when blank). Anything else is [`Error::Validation`].
    ///
    /// ```
    /// use chatstore::{Role, Timestamp};
    ///
    /// let role = Role::prepare(" auditor ", Some(" Reads logs "), Timestamp::MIN).unwrap();
    /// assert_eq!((role.name.as_str(), role.description.as_deref()), ("auditor", Some("Reads logs")));
    /// assert!(Role::prepare("Auditor!", None, Timestamp::MIN).is_err());
    /// ```
    pub fn prepare(name: &str, description: Option<&str>, now: Timestamp) -> Result<Role> {
        Ok(Role {
            name: validate_role_name(name)?,
            description: validate::optional_text("description", description)?,
            created_at: now,
        })
    }
}

/// A permission, named `resource:action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// Unique name, such as `documents:create`.
    pub name: String,
    /// What it allows.
    pub description: Option<String>,
    /// The part before the colon.
    pub resource: String,
    /// The part after the colon.
    pub action: String,
}

impl Permission {
    /// Checks a new permission and makes the record a backend stores: the name trimmed
    /// and split by [`split_permission`], the description a short text (trimmed, `None`
    /// when blank). Anything else is [`Error::Validation`].
    ///
    /// ```
    /// use chatstore::Permission;
    ///
    /// let permission = Permission::prepare(" reports:export ", None).unwrap();
    /// assert_eq!((permission.resource.as_str(), permission.action.as_str()), ("reports", "export"));
    /// assert!(Permission::prepare("reports", None).is_err());
    /// ```
    pub fn prepare(name: &str, description: Option<&str>) -> Result<Permission> {
        let name = name.trim();
        let (resource, action) = split_permission(name)?;
        Ok(Permission {
            name: name.to_owned(),
            description: validate::optional_text("description", description)?,
            resource: resource.to_owned(),
            action: action.to_owned(),
        })
    }
}

/// Checks a role name: 1–64 characters of lower-case letters, digits, `_` and `-`.
pub fn validate_role_name(name: &str) -> Result<String> {
    let name = name.trim();
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::validation(
            "role",
            format!("{name:?} must be 1-64 characters of a-z, 0-9, '_' or '-'"),
        ))
    }
}

/// Checks that a role may be deleted: the three standard roles ([`roles::BUILT_IN`])
/// cannot be, a [`crate::ConflictKind::InvalidState`] conflict.
///
/// ```
/// use chatstore::rbac::check_role_deletable;
///
/// assert!(check_role_deletable("auditor").is_ok());
/// assert!(check_role_deletable("viewer").is_err());
/// ```
pub fn check_role_deletable(name: &str) -> Result<()> {
    if roles::BUILT_IN.contains(&name) {
        return Err(Error::conflict(
            crate::ConflictKind::InvalidState,
            "roles",
            format!("{name} is a standard role and cannot be deleted"),
        ));
    }
    Ok(())
}

/// Splits a permission name into `(resource, action)`, checking its form.
///
/// ```
/// assert_eq!(chatstore::rbac::split_permission("documents:create").unwrap(), ("documents", "create"));
/// assert!(chatstore::rbac::split_permission("documents").is_err());
/// ```
pub fn split_permission(name: &str) -> Result<(&str, &str)> {
    let part_ok = |part: &str| {
        (1..=64).contains(&part.len())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
    };
    match name.split_once(':') {
        Some((resource, action)) if part_ok(resource) && part_ok(action) => Ok((resource, action)),
        _ => Err(Error::validation(
            "permission",
            format!("{name:?} must look like resource:action (a-z, 0-9, '_', '-')"),
        )),
    }
}

/// Managing roles and permissions and checking them.
pub trait RbacStore: Send + Sync {
    /// All roles, by name.
    fn roles(&self) -> Result<Vec<Role>>;

    /// Creates a role. A taken name is a [`crate::ConflictKind::Unique`] conflict.
    fn create_role(&self, name: &str, description: Option<&str>) -> Result<Role>;

    /// Deletes a role and its grants and assignments. The three standard roles cannot be
    /// deleted ([`crate::ConflictKind::InvalidState`]).
    fn delete_role(&self, name: &str) -> Result<()>;

    /// All permissions, by name.
    fn permissions(&self) -> Result<Vec<Permission>>;

    /// Creates a permission named `resource:action`.
    fn create_permission(&self, name: &str, description: Option<&str>) -> Result<Permission>;

    /// The permissions a role grants, by name.
    fn role_permissions(&self, role: &str) -> Result<Vec<Permission>>;

    /// Lets a role grant a permission (no-op if it already does).
    fn grant_permission(&self, role: &str, permission: &str) -> Result<()>;

    /// Stops a role granting a permission (no-op if it did not).
    fn revoke_permission(&self, role: &str, permission: &str) -> Result<()>;

    /// Gives a user a role (no-op if they have it).
    fn assign_role(&self, user: UserId, role: &str) -> Result<()>;

    /// Takes a role from a user (no-op if they lacked it).
    fn unassign_role(&self, user: UserId, role: &str) -> Result<()>;

    /// The user's roles, by name.
    fn user_roles(&self, user: UserId) -> Result<Vec<Role>>;

    /// The names of every permission the user holds through any role, sorted.
    fn user_permissions(&self, user: UserId) -> Result<Vec<String>>;

    /// True when the user holds `permission`, or `admin:full`, through any role.
    fn has_permission(&self, user: UserId, permission: &str) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
        match result {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn new_roles_are_checked() {
        let now = Timestamp::MIN;
        assert_eq!(field(Role::prepare("", None, now)), "role");
        assert_eq!(field(Role::prepare("Admins", None, now)), "role");
        assert_eq!(field(Role::prepare(&"r".repeat(65), None, now)), "role");
        assert_eq!(
            field(Role::prepare("ops", Some(&"d".repeat(501)), now)),
            "description"
        );
        assert_eq!(field(Role::prepare("ops", Some("d\0"), now)), "description");
        let role = Role::prepare("ops", Some("  "), now).unwrap();
        assert_eq!((role.description, role.created_at), (None, now));
    }

    #[test]
    fn new_permissions_are_checked() {
        assert_eq!(field(Permission::prepare("reports", None)), "permission");
        assert_eq!(
            field(Permission::prepare("Reports:read", None)),
            "permission"
        );
        assert_eq!(field(Permission::prepare("reports:", None)), "permission");
        assert_eq!(
            field(Permission::prepare("reports:read", Some(&"d".repeat(501)))),
            "description"
        );
        let permission = Permission::prepare(" reports:read ", Some(" Read ")).unwrap();
        assert_eq!(permission.name, "reports:read");
        assert_eq!(permission.description.as_deref(), Some("Read"));
    }

    #[test]
    fn standard_roles_cannot_be_deleted() {
        for name in roles::BUILT_IN {
            assert!(matches!(
                check_role_deletable(name),
                Err(Error::Conflict {
                    kind: crate::ConflictKind::InvalidState,
                    ..
                })
            ));
        }
        assert!(check_role_deletable("ops").is_ok());
    }
}
