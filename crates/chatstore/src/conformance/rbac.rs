//! Roles and permissions: the standard set, custom roles and permissions, grants,
//! assignments and checks.

use super::support::{start, user};
use super::{Backend, fixture};
use crate::rbac::{permissions, roles};
use crate::{ConflictKind, Error, Store, UserId};

fn role_names(store: &dyn Store) -> Vec<String> {
    store
        .roles()
        .expect("roles")
        .into_iter()
        .map(|r| r.name)
        .collect()
}

fn permission_names(store: &dyn Store) -> Vec<String> {
    store
        .permissions()
        .expect("permissions")
        .into_iter()
        .map(|p| p.name)
        .collect()
}

fn granted(store: &dyn Store, role: &str) -> Vec<String> {
    store
        .role_permissions(role)
        .expect("role permissions")
        .into_iter()
        .map(|p| p.name)
        .collect()
}

fn user_role_names(store: &dyn Store, user: UserId) -> Vec<String> {
    store
        .user_roles(user)
        .expect("user roles")
        .into_iter()
        .map(|r| r.name)
        .collect()
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    names.sort();
    names
}

const VIEWER: [&str; 3] = [
    permissions::CHAT_USE,
    permissions::DOCUMENTS_READ,
    permissions::EXPLAIN_VIEW,
];

const ANALYST: [&str; 9] = [
    permissions::CHAT_USE,
    permissions::DOCUMENTS_CREATE,
    permissions::DOCUMENTS_READ,
    permissions::DOCUMENTS_UPDATE,
    permissions::DOCUMENTS_DELETE,
    permissions::AGENTS_EXECUTE,
    permissions::AGENTS_READ,
    permissions::EXPLAIN_VIEW,
    permissions::METERING_READ,
];

/// A new store has exactly the 3 standard roles and 13 standard permissions, by name.
pub fn rbac_standard_roles_and_permissions_exist(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    assert_eq!(role_names(s), vec!["admin", "analyst", "viewer"]);
    assert_eq!(permission_names(s), sorted(&permissions::ALL));
    for permission in s.permissions().expect("permissions") {
        let (resource, action) = permission
            .name
            .split_once(':')
            .expect("resource:action form");
        assert_eq!(permission.resource, resource);
        assert_eq!(permission.action, action);
        assert!(
            permission
                .description
                .as_deref()
                .is_some_and(|d| !d.is_empty()),
            "{} has a description",
            permission.name
        );
    }
    let chat = s
        .permissions()
        .expect("permissions")
        .into_iter()
        .find(|p| p.name == permissions::CHAT_USE)
        .expect("chat:use");
    assert_eq!(chat.description.as_deref(), Some("Use chat functionality"));
}

/// The standard roles grant the seeds' permissions: viewer 3, analyst 9, admin all 13.
pub fn rbac_standard_role_permissions(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    assert_eq!(granted(s, roles::VIEWER), sorted(&VIEWER));
    assert_eq!(granted(s, roles::ANALYST), sorted(&ANALYST));
    assert_eq!(granted(s, roles::ADMIN), sorted(&permissions::ALL));
}

/// A new user holds exactly the viewer role and its permissions.
pub fn rbac_new_users_get_viewer(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    assert_eq!(user_role_names(s, ada.id), vec!["viewer"]);
    assert_eq!(s.user_permissions(ada.id).expect("perms"), sorted(&VIEWER));
    for permission in permissions::ALL {
        assert_eq!(
            s.has_permission(ada.id, permission).expect("check"),
            VIEWER.contains(&permission),
            "{permission}"
        );
    }
}

/// Holding `admin:full` through any role passes every permission check, even new ones.
pub fn rbac_admin_full_implies_every_permission(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    s.assign_role(ada.id, roles::ADMIN).expect("assign admin");
    s.create_permission("reports:export", None)
        .expect("new permission");
    for permission in permissions::ALL.iter().chain(&["reports:export"]) {
        assert!(
            s.has_permission(ada.id, permission).expect("check"),
            "admin holds {permission}"
        );
    }
    let bob = user(s, "bob");
    s.create_role("superuser", None).expect("role");
    s.grant_permission("superuser", permissions::ADMIN_FULL)
        .expect("grant admin:full");
    assert!(!s.has_permission(bob.id, "reports:export").expect("check"));
    s.assign_role(bob.id, "superuser").expect("assign");
    assert!(s.has_permission(bob.id, "reports:export").expect("check"));
    assert!(
        s.has_permission(bob.id, permissions::DOCUMENTS_DELETE)
            .expect("check")
    );
    assert!(
        s.user_permissions(bob.id)
            .expect("perms")
            .contains(&permissions::ADMIN_FULL.to_owned())
    );
}

/// A custom role is created and listed, and deleted with its grants and assignments.
pub fn rbac_create_and_delete_role(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let role = s
        .create_role("auditor", Some("Reads the logs"))
        .expect("create role");
    assert_eq!(role.name, "auditor");
    assert_eq!(role.description.as_deref(), Some("Reads the logs"));
    assert_eq!(role.created_at, start());
    assert!(s.roles().expect("roles").contains(&role));
    assert_eq!(role_names(s), vec!["admin", "analyst", "auditor", "viewer"]);

    s.grant_permission("auditor", permissions::AGENTS_READ)
        .expect("grant");
    s.assign_role(ada.id, "auditor").expect("assign");
    assert!(
        s.has_permission(ada.id, permissions::AGENTS_READ)
            .expect("check")
    );

    s.delete_role("auditor").expect("delete role");
    assert_eq!(role_names(s), vec!["admin", "analyst", "viewer"]);
    assert_eq!(
        user_role_names(s, ada.id),
        vec!["viewer"],
        "assignment gone"
    );
    assert!(
        !s.has_permission(ada.id, permissions::AGENTS_READ)
            .expect("check")
    );
    s.create_role("auditor", None)
        .expect("the name is free again");
    assert!(
        granted(s, "auditor").is_empty(),
        "old grants did not come back"
    );
    assert_err!(s.delete_role("no-such-role"), Error::NotFound { .. });
}

/// A taken role name is a unique conflict, a malformed one a validation error; no change.
pub fn rbac_create_role_rejects_duplicates_and_bad_names(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    s.create_role("auditor", Some("first")).expect("create");
    let before = s.roles().expect("roles");
    for taken in ["auditor", "viewer", "admin"] {
        assert_err!(
            s.create_role(taken, Some("again")),
            Error::Conflict {
                kind: ConflictKind::Unique,
                ..
            },
            "{taken}"
        );
    }
    let long = "r".repeat(65);
    for bad in [
        "",
        "   ",
        "Auditor",
        "two words",
        "a:b",
        "émile",
        long.as_str(),
    ] {
        assert_err!(
            s.create_role(bad, None),
            Error::Validation { field: "role", .. },
            "{bad:?}"
        );
    }
    assert_eq!(s.roles().expect("roles"), before, "nothing changed");
}

/// The standard roles cannot be deleted (`InvalidState`) and keep their grants and members.
pub fn rbac_standard_roles_cannot_be_deleted(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let before = s.roles().expect("roles");
    for role in roles::BUILT_IN {
        assert_err!(
            s.delete_role(role),
            Error::Conflict {
                kind: ConflictKind::InvalidState,
                ..
            },
            "{role}"
        );
    }
    assert_eq!(s.roles().expect("roles"), before);
    assert_eq!(granted(s, roles::VIEWER), sorted(&VIEWER));
    assert_eq!(granted(s, roles::ADMIN).len(), 13);
    assert_eq!(user_role_names(s, ada.id), vec!["viewer"]);
}

/// A `resource:action` permission is created; taken or malformed names are rejected, no change.
pub fn rbac_create_permission(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let made = s
        .create_permission("reports:export", Some("Export reports"))
        .expect("create");
    assert_eq!(made.name, "reports:export");
    assert_eq!(made.resource, "reports");
    assert_eq!(made.action, "export");
    assert_eq!(made.description.as_deref(), Some("Export reports"));
    assert!(s.permissions().expect("permissions").contains(&made));
    let before = s.permissions().expect("permissions");
    for taken in ["reports:export", permissions::CHAT_USE] {
        assert_err!(
            s.create_permission(taken, None),
            Error::Conflict {
                kind: ConflictKind::Unique,
                ..
            },
            "{taken}"
        );
    }
    for bad in [
        "",
        "reports",
        "reports:",
        ":export",
        "Reports:Export",
        "a b:c",
        "a:b:c",
        "reports;export",
    ] {
        assert_err!(
            s.create_permission(bad, None),
            Error::Validation {
                field: "permission",
                ..
            },
            "{bad:?}"
        );
    }
    assert_eq!(s.permissions().expect("permissions"), before);
}

/// Grants and revocations change a role and its members (repeats are no-ops); unknowns not found.
pub fn rbac_grant_and_revoke(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    s.grant_permission(roles::VIEWER, permissions::METERING_READ)
        .expect("grant");
    s.grant_permission(roles::VIEWER, permissions::METERING_READ)
        .expect("grant again is a no-op");
    let mut want: Vec<&str> = VIEWER.to_vec();
    want.push(permissions::METERING_READ);
    assert_eq!(granted(s, roles::VIEWER), sorted(&want));
    assert!(
        s.has_permission(ada.id, permissions::METERING_READ)
            .expect("check")
    );
    assert_eq!(s.user_permissions(ada.id).expect("perms"), sorted(&want));

    s.revoke_permission(roles::VIEWER, permissions::METERING_READ)
        .expect("revoke");
    s.revoke_permission(roles::VIEWER, permissions::METERING_READ)
        .expect("revoke again is a no-op");
    assert_eq!(granted(s, roles::VIEWER), sorted(&VIEWER));
    assert!(
        !s.has_permission(ada.id, permissions::METERING_READ)
            .expect("check")
    );

    assert_err!(
        s.grant_permission("no-such-role", permissions::CHAT_USE),
        Error::NotFound { .. }
    );
    assert_err!(
        s.grant_permission(roles::VIEWER, "no:such"),
        Error::NotFound { .. }
    );
    assert_err!(
        s.revoke_permission("no-such-role", permissions::CHAT_USE),
        Error::NotFound { .. }
    );
    assert_err!(
        s.revoke_permission(roles::VIEWER, "no:such"),
        Error::NotFound { .. }
    );
    assert_err!(s.role_permissions("no-such-role"), Error::NotFound { .. });
    assert_eq!(granted(s, roles::VIEWER), sorted(&VIEWER));
}

/// Assigning and unassigning roles change a user's permissions; repeats are no-ops.
pub fn rbac_assign_and_unassign(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    s.assign_role(ada.id, roles::ANALYST).expect("assign");
    s.assign_role(ada.id, roles::ANALYST).expect("assign again");
    assert_eq!(user_role_names(s, ada.id), vec!["analyst", "viewer"]);
    assert_eq!(s.user_permissions(ada.id).expect("perms"), sorted(&ANALYST));
    s.unassign_role(ada.id, roles::VIEWER)
        .expect("unassign viewer");
    s.unassign_role(ada.id, roles::VIEWER)
        .expect("unassign again");
    assert_eq!(user_role_names(s, ada.id), vec!["analyst"]);
    assert_eq!(s.user_permissions(ada.id).expect("perms"), sorted(&ANALYST));
    s.unassign_role(ada.id, roles::ANALYST)
        .expect("unassign analyst");
    assert!(user_role_names(s, ada.id).is_empty());
    assert!(s.user_permissions(ada.id).expect("perms").is_empty());
    assert!(
        !s.has_permission(ada.id, permissions::CHAT_USE)
            .expect("check")
    );
}

/// Role operations on an unknown user or role are not found and change nothing.
pub fn rbac_unknown_user_or_role_is_not_found(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let nobody = UserId::new();
    assert_err!(s.assign_role(nobody, roles::ADMIN), Error::NotFound { .. });
    assert_err!(
        s.unassign_role(nobody, roles::VIEWER),
        Error::NotFound { .. }
    );
    assert_err!(s.user_roles(nobody), Error::NotFound { .. });
    assert_err!(s.user_permissions(nobody), Error::NotFound { .. });
    assert_err!(
        s.has_permission(nobody, permissions::CHAT_USE),
        Error::NotFound { .. }
    );
    assert_err!(
        s.assign_role(ada.id, "no-such-role"),
        Error::NotFound { .. }
    );
    assert_err!(
        s.unassign_role(ada.id, "no-such-role"),
        Error::NotFound { .. }
    );
    assert_eq!(user_role_names(s, ada.id), vec!["viewer"]);
    assert_eq!(
        granted(s, roles::ADMIN).len(),
        13,
        "no grant changed either"
    );
}
