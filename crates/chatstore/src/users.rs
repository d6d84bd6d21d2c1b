//! User accounts: registration, login, profile, activation and deletion.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::enums::string_enum;
use crate::{Cleanup, Cursor, Page, Password, Result, Timestamp, UserId, validate};

string_enum! {
    /// How much of the reasoning behind an answer a user wants to see.
    ExplainabilityLevel, field = "explainability_level" {
        /// Answers with sources only.
        Basic = "basic",
        /// Answers with sources and the reasoning chain (the default).
        Detailed = "detailed",
        /// Everything, including agent internals.
        Debug = "debug",
    }
}

/// A user account. The password hash is never part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// Unique login name.
    pub username: String,
    /// Unique email address, lower-cased.
    pub email: String,
    /// Display name.
    pub full_name: Option<String>,
    /// False when the account is deactivated: it cannot log in.
    pub is_active: bool,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account was last changed.
    pub updated_at: Timestamp,
    /// When the user last logged in successfully.
    pub last_login_at: Option<Timestamp>,
    /// Preferred LLM provider ("ollama" unless changed).
    pub preferred_llm: String,
    /// Default explainability level.
    pub explainability_level: ExplainabilityLevel,
    /// Free-form JSON object for the host's own settings.
    pub metadata: Map<String, Value>,
}

/// What registering a user needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name: 3–64 letters, digits, `_`, `.` or `-`.
    pub username: String,
    /// Email address; stored lower-cased.
    pub email: String,
    /// The plaintext password (8–1024 bytes); only its argon2id hash is stored.
    pub password: Password,
    /// Display name.
    pub full_name: Option<String>,
}

impl NewUser {
    /// A new user with no display name.
    pub fn new(username: &str, email: &str, password: &str) -> NewUser {
        NewUser {
            username: username.to_owned(),
            email: email.to_owned(),
            password: Password::new(password),
            full_name: None,
        }
    }

    /// Sets the display name.
    pub fn full_name(mut self, name: &str) -> NewUser {
        self.full_name = Some(name.to_owned());
        self
    }

    /// Checks the account's fields and gives the values a backend stores: the username
    /// ([`validate::username`]) and the key that uniqueness and lookups compare
    /// ([`validate::username_key`]), the email ([`validate::email`]) and the display
    /// name, a short text. Anything else is [`crate::Error::Validation`] naming the
    /// field. The password is not looked at: [`crate::PasswordHasher::hash`] checks it
    /// while hashing it.
    ///
    /// ```
    /// use chatstore::NewUser;
    ///
    /// let user = NewUser::new(" Ada ", "Ada@Example.com", "correct horse").prepare().unwrap();
    /// assert_eq!((user.username.as_str(), user.username_key.as_str()), ("Ada", "ada"));
    /// assert_eq!(user.email, "ada@example.com");
    /// assert!(NewUser::new("a", "ada@example.com", "correct horse").prepare().is_err());
    /// ```
    pub fn prepare(&self) -> Result<PreparedUser> {
        let username = validate::username(&self.username)?;
        Ok(PreparedUser {
            username_key: validate::username_key(&username),
            username,
            email: validate::email(&self.email)?,
            full_name: validate::optional_text("full_name", self.full_name.as_deref())?,
        })
    }
}

/// An account checked by [`NewUser::prepare`]: the values a backend stores besides the
/// password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedUser {
    /// The username, trimmed.
    pub username: String,
    /// The username as uniqueness and lookups compare it.
    pub username_key: String,
    /// The email, trimmed and lower-cased.
    pub email: String,
    /// The display name.
    pub full_name: Option<String>,
}

/// A change to a user's profile; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New display name (`Some(None)` clears it).
    pub full_name: Option<Option<String>>,
    /// New preferred LLM provider.
    pub preferred_llm: Option<String>,
    /// New explainability level.
    pub explainability_level: Option<ExplainabilityLevel>,
    /// Replaces the metadata object.
    pub metadata: Option<Map<String, Value>>,
}

impl ProfileUpdate {
    /// Checks the changes and gives the values a backend stores: the display name a
    /// short text, the preferred LLM not blank, and the metadata as JSON text of at most
    /// `max_metadata_bytes` ([`crate::Config::max_metadata_bytes`]) nested at most
    /// [`crate::json::MAX_DEPTH`] levels. Anything else is [`crate::Error::Validation`]
    /// naming the field.
    ///
    /// ```
    /// use chatstore::ProfileUpdate;
    ///
    /// let mut update = ProfileUpdate { preferred_llm: Some(" openai ".into()), ..Default::default() };
    /// update.metadata = Some(serde_json::json!({"theme": "dark"}).as_object().unwrap().clone());
    /// let prepared = update.prepare(1024).unwrap();
    /// assert_eq!(prepared.preferred_llm.as_deref(), Some("openai"));
    /// assert_eq!(prepared.metadata.as_deref(), Some(r#"{"theme":"dark"}"#));
    /// assert!(update.prepare(8).is_err());
    /// ```
    pub fn prepare(&self, max_metadata_bytes: usize) -> Result<PreparedProfileUpdate> {
        Ok(PreparedProfileUpdate {
            full_name: self
                .full_name
                .as_ref()
                .map(|name| validate::optional_text("full_name", name.as_deref()))
                .transpose()?,
            preferred_llm: self
                .preferred_llm
                .as_deref()
                .map(|llm| validate::required_text("preferred_llm", llm))
                .transpose()?,
            explainability_level: self.explainability_level,
            metadata: self
                .metadata
                .as_ref()
                .map(|m| validate::json_within("metadata", m, max_metadata_bytes))
                .transpose()?,
        })
    }
}

/// A profile change checked by [`ProfileUpdate::prepare`]; `None` fields are left as
/// they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedProfileUpdate {
    /// New display name (`Some(None)` clears it).
    pub full_name: Option<Option<String>>,
    /// New preferred LLM provider, trimmed.
    pub preferred_llm: Option<String>,
    /// New explainability level.
    pub explainability_level: Option<ExplainabilityLevel>,
    /// The new metadata object as JSON text.
    pub metadata: Option<String>,
}

/// Which users to list.
#[derive(Debug, Clone)]
pub struct UserQuery {
    /// Only active (`Some(true)`) or only deactivated (`Some(false)`) users.
    pub active: Option<bool>,
    /// Page size, 1–1000.
    pub limit: u32,
    /// Where to continue from.
    pub cursor: Option<Cursor>,
}

impl Default for UserQuery {
    fn default() -> Self {
        UserQuery {
            active: None,
            limit: 50,
            cursor: None,
        }
    }
}

/// Storing and authenticating users.
pub trait UserStore: Send + Sync {
    /// Registers a user: hashes the password with argon2id, stores the account and gives
    /// it the `viewer` role, all in one transaction.
    ///
    /// A taken username or email is [`crate::Error::Conflict`] with
    /// [`crate::ConflictKind::Unique`]; malformed input is [`crate::Error::Validation`].
    fn create_user(&self, new: &NewUser) -> Result<User>;

    /// The user with this id.
    fn user(&self, id: UserId) -> Result<User>;

    /// The user with this email (compared case-insensitively).
    fn user_by_email(&self, email: &str) -> Result<User>;

    /// The user with this username.
    fn user_by_username(&self, username: &str) -> Result<User>;

    /// Pages through users, oldest account first.
    fn list_users(&self, query: &UserQuery) -> Result<Page<User>>;

    /// Checks a login (username or email) and password, in constant time whether or not
    /// the user exists. On success records `last_login_at` and, if the stored hash was
    /// made with other parameters than the configured ones, replaces it.
    ///
    /// Unknown user or wrong password: [`crate::Error::InvalidCredentials`]; right
    /// password on a deactivated account: [`crate::Error::UserInactive`].
    fn authenticate(&self, login: &str, password: &Password) -> Result<User>;

    /// Replaces a user's password.
    fn set_password(&self, id: UserId, password: &Password) -> Result<()>;

    /// Activates or deactivates an account. Deactivating also revokes its sessions.
    fn set_user_active(&self, id: UserId, active: bool) -> Result<User>;

    /// Changes profile fields.
    fn update_profile(&self, id: UserId, update: &ProfileUpdate) -> Result<User>;

    /// Deletes the user and everything they own (sessions, roles, conversations,
    /// messages, documents, chunks, agent logs, usage). Returns what other stores (blobs,
    /// vectors) must remove; [`crate::ChatStore::delete_user`] does that for you.
    fn delete_user(&self, id: UserId) -> Result<Cleanup>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn field<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
        match result {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn new_users_are_normalised_and_checked() {
        let user = NewUser::new(" Ådne ", " ADNE@Example.org", "whatever long")
            .full_name("  ")
            .prepare()
            .unwrap();
        assert_eq!(user.username, "Ådne");
        assert_eq!(user.username_key, "ådne");
        assert_eq!(user.email, "adne@example.org");
        assert_eq!(user.full_name, None);

        let good = || NewUser::new("ada", "ada@example.com", "correct horse");
        let mut bad_name = good();
        bad_name.username = "no spaces".into();
        assert_eq!(field(bad_name.prepare()), "username");
        let mut bad_email = good();
        bad_email.email = "ada@localhost".into();
        assert_eq!(field(bad_email.prepare()), "email");
        assert_eq!(
            field(good().full_name(&"n".repeat(501)).prepare()),
            "full_name"
        );
        // The password is the hasher's to check.
        let mut short_password = good();
        short_password.password = Password::new("short");
        assert!(short_password.prepare().is_ok());
    }

    #[test]
    fn profile_updates_are_checked() {
        let cleared = ProfileUpdate {
            full_name: Some(None),
            explainability_level: Some(ExplainabilityLevel::Debug),
            ..ProfileUpdate::default()
        }
        .prepare(64)
        .unwrap();
        assert_eq!(cleared.full_name, Some(None));
        assert_eq!(cleared.preferred_llm, None);
        assert_eq!(
            cleared.explainability_level,
            Some(ExplainabilityLevel::Debug)
        );
        assert_eq!(cleared.metadata, None);

        let bad = |update: ProfileUpdate, max| field(update.prepare(max));
        let none = ProfileUpdate::default;
        assert_eq!(
            bad(
                ProfileUpdate {
                    full_name: Some(Some("n\0".into())),
                    ..none()
                },
                64
            ),
            "full_name"
        );
        assert_eq!(
            bad(
                ProfileUpdate {
                    preferred_llm: Some("  ".into()),
                    ..none()
                },
                64
            ),
            "preferred_llm"
        );
        let mut big = Map::new();
        big.insert("k".into(), Value::String("v".repeat(64)));
        assert_eq!(
            bad(
                ProfileUpdate {
                    metadata: Some(big.clone()),
                    ..none()
                },
                64
            ),
            "metadata"
        );
        let mut nul = Map::new();
        nul.insert("k".into(), Value::String("\0".into()));
        assert_eq!(
            bad(
                ProfileUpdate {
                    metadata: Some(nul),
                    ..none()
                },
                64
            ),
            "metadata"
        );
        let fits = ProfileUpdate {
            metadata: Some(big),
            ..none()
        };
        assert!(fits.prepare(1024).unwrap().metadata.is_some());
    }
}
