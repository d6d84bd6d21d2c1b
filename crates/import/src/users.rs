//! Users: checked with chatstore's own rules, given a login name when the source has
//! none, and brought over with their password hash as it is (it verifies in its own
//! scheme at their next login and is then replaced by argon2id).

use std::collections::HashSet;

use chatstore::transfer::Value;
use chatstore::{Error, ExplainabilityLevel, HashScheme, Result, Timestamp, UserId, validate};

use crate::Progress;
use crate::report::{ImportReport, MustReset};
use crate::writer::{Record, Writer, row, target_table};

/// A user as the source has them.
pub(crate) struct SourceUser {
    /// Their id in the source.
    pub original_id: String,
    /// Their login name, when the source has one (seed 000 logs in by email).
    pub username: Option<String>,
    /// Their email address.
    pub email: String,
    /// Their password hash.
    pub password_hash: String,
    /// Their display name.
    pub full_name: Option<String>,
    /// False when deactivated.
    pub is_active: bool,
    /// When they registered.
    pub created_at: Timestamp,
    /// When their account last changed.
    pub updated_at: Option<Timestamp>,
    /// Their last login.
    pub last_login_at: Option<Timestamp>,
    /// Preferred provider.
    pub preferred_llm: Option<String>,
    /// Explainability level.
    pub explainability_level: Option<String>,
    /// Free-form settings (a JSON object).
    pub metadata: Option<serde_json::Value>,
    /// The names of their roles (`viewer` when none).
    pub roles: Vec<String>,
}

/// A user checked and ready to write.
pub(crate) struct PlannedUser {
    record: Record,
    roles: Vec<String>,
    must_reset: Option<MustReset>,
}

impl PlannedUser {
    /// Their id here.
    pub(crate) fn id(&self) -> UserId {
        UserId::from_uuid(self.record.new_id).unwrap_or_else(|_| UserId::new())
    }
}

/// The id a user of `source` gets.
pub(crate) fn user_id(source: &str, original_id: &str, created_at: Timestamp) -> UserId {
    UserId::derived(
        created_at,
        format!("{source}\0user\0{original_id}").as_bytes(),
    )
}

/// Checks `user` and builds their row; `Err` is the reason to skip them. `taken`
/// holds the login names given so far, so that two users never get the same one.
pub(crate) fn plan(
    source: &str,
    user: SourceUser,
    taken: &mut HashSet<String>,
    max_metadata_bytes: usize,
) -> std::result::Result<PlannedUser, String> {
    let email = validate::email(&user.email).map_err(reason)?;
    let username = match &user.username {
        Some(name) => validate::username(name).map_err(reason)?,
        None => login_name(&email, taken),
    };
    let key = validate::username_key(&username);
    if !taken.insert(key.clone()) {
        return Err(format!("the username {username:?} is used by another user"));
    }
    let full_name =
        validate::optional_text("full_name", user.full_name.as_deref()).map_err(reason)?;
    validate::no_nul("password_hash", &user.password_hash).map_err(reason)?;
    let preferred_llm = validate::optional_text("preferred_llm", user.preferred_llm.as_deref())
        .map_err(reason)?
        .unwrap_or_else(|| "ollama".to_owned());
    let level = match user.explainability_level.as_deref().map(str::trim) {
        None | Some("") => ExplainabilityLevel::Detailed,
        Some(level) => level.parse::<ExplainabilityLevel>().map_err(reason)?,
    };
    let metadata = match user.metadata {
        None | Some(serde_json::Value::Null) => serde_json::Value::Object(Default::default()),
        Some(object @ serde_json::Value::Object(_)) => object,
        Some(other) => serde_json::json!({ "legacy": other }),
    };
    validate::json_within("metadata", &metadata, max_metadata_bytes).map_err(reason)?;
    let id = user_id(source, &user.original_id, user.created_at);
    let must_reset = HashScheme::of(&user.password_hash)
        .is_none()
        .then(|| MustReset {
            original_id: user.original_id.clone(),
            username: username.clone(),
            email: email.clone(),
        });
    let text = |v: Option<String>| v.map_or(Value::Null, Value::Text);
    let table = target_table("users").map_err(reason)?;
    let row = row(
        table,
        vec![
            ("id", Value::Id(id.as_uuid())),
            ("username", Value::Text(username)),
            ("username_key", Value::Text(key)),
            ("email", Value::Text(email)),
            ("password_hash", Value::Text(user.password_hash)),
            ("full_name", text(full_name)),
            ("is_active", Value::Bool(user.is_active)),
            ("created_at", Value::Time(user.created_at)),
            (
                "updated_at",
                Value::Time(user.updated_at.unwrap_or(user.created_at)),
            ),
            (
                "last_login_at",
                user.last_login_at.map_or(Value::Null, Value::Time),
            ),
            ("preferred_llm", Value::Text(preferred_llm)),
            (
                "explainability_level",
                Value::Text(level.as_str().to_owned()),
            ),
            ("metadata", Value::Json(metadata)),
        ],
    )
    .map_err(reason)?;
    Ok(PlannedUser {
        record: Record {
            original_id: user.original_id,
            new_id: id.as_uuid(),
            row,
        },
        roles: if user.roles.is_empty() {
            vec!["viewer".to_owned()]
        } else {
            user.roles
        },
        must_reset,
    })
}

/// Writes the users one by one with their role grants (roles the target does not
/// have are left out). Returns the source ids of the users now in the target; a user
/// whose email or name belongs to another account there is skipped (or, `strict`,
/// stops the import).
pub(crate) fn write(
    writer: &Writer<'_>,
    report: &mut ImportReport,
    table: &str,
    users: Vec<PlannedUser>,
    strict: bool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<HashSet<String>> {
    let total = users.len() as u64;
    let roles = writer.role_ids()?;
    let grants = target_table("user_roles")?;
    let mut written = HashSet::new();
    for (done, user) in users.into_iter().enumerate() {
        progress(Progress {
            kind: "user",
            done: done as u64,
            total,
        });
        if !writer.write_one(report, "user", "users", &user.record)? {
            let why = "its email or username belongs to another account in the target".to_owned();
            if strict {
                return Err(Error::validation(
                    "import",
                    format!("{table} {}: {why}", user.record.original_id),
                ));
            }
            report.skip("user", table, &user.record.original_id, why);
            continue;
        }
        let rows = user
            .roles
            .iter()
            .filter_map(|name| roles.get(name))
            .map(|role| {
                row(
                    grants,
                    vec![
                        ("user_id", Value::Id(user.record.new_id)),
                        ("role_id", role.clone()),
                    ],
                )
            })
            .collect::<Result<Vec<_>>>()?;
        writer.write_rows("user_roles", &rows)?;
        if let Some(must_reset) = user.must_reset {
            report.must_reset.push(must_reset);
        }
        written.insert(user.record.original_id);
    }
    Ok(written)
}

/// A login name from an email's local part: the characters a username allows, at
/// least three, and one no other imported user has.
fn login_name(email: &str, taken: &HashSet<String>) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let mut base: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(56)
        .collect();
    while base.len() < 3 {
        base.push('_');
    }
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&validate::username_key(&name)) || validate::username(&name).is_err() {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

fn reason(e: Error) -> String {
    match e {
        Error::Validation { field, reason, .. } => format!("{field} {reason}"),
        other => other.to_string(),
    }
}
