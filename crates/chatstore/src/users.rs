//! User accounts: registration, login, profile, activation and deletion.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::enums::string_enum;
use crate::{Cleanup, Cursor, Page, Password, Result, Timestamp, UserId};

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
