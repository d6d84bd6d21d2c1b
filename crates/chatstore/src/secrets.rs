//! Password hashing (argon2id) and session tokens (random 256-bit, stored as a blake3 hash).
//!
//! Hashes made by other applications (imported users) verify in their own scheme
//! ([`HashScheme`]: argon2i/d, bcrypt, werkzeug's scrypt and PBKDF2, passlib's PBKDF2)
//! and are replaced by argon2id at the first successful login
//! ([`PasswordHasher::login`]); a hash of a format chatstore does not know never
//! verifies, and its user must reset their password.
//!
//! Nothing in this module keeps or prints a plaintext secret: [`Password`] and
//! [`SessionToken`] redact themselves in `Debug`, and only hashes reach a database.
//!
//! ```
//! use chatstore::{Password, PasswordParams, PasswordHasher};
//!
//! let hasher = PasswordHasher::new(PasswordParams::fast_for_tests()).unwrap();
//! let hash = hasher.hash(&Password::new("correct horse battery")).unwrap();
//! assert!(hash.starts_with("$argon2id$"));
//! assert!(hasher.verify(&Password::new("correct horse battery"), &hash).unwrap());
//! assert!(!hasher.verify(&Password::new("wrong horse battery"), &hash).unwrap());
//! ```

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};

use crate::{Error, Result};

mod legacy;

#[cfg(feature = "conformance")]
pub(crate) use legacy::vectors;

pub use legacy::HashScheme;

/// A plaintext password on its way to being hashed or checked. `Debug` prints
/// `Password(****)`; the text is reachable only through [`Password::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    /// The plaintext, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(****)")
    }
}

impl From<&str> for Password {
    fn from(text: &str) -> Password {
        Password::new(text)
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

impl PasswordParams {
    /// OWASP's recommended minimum for argon2id: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: PasswordParams = PasswordParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Very cheap parameters for test suites. Never use them in production.
    pub const fn fast_for_tests() -> PasswordParams {
        PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams::OWASP
    }
}

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: PasswordParams,
    /// A hash of a random password, verified against when a login names no user, so that
    /// an unknown user takes as long to reject as a wrong password.
    decoy: std::sync::Arc<OnceLock<String>>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

impl PasswordHasher {
    /// A hasher using `params`; rejects parameters argon2 does not accept.
    pub fn new(params: PasswordParams) -> Result<PasswordHasher> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| Error::validation("password hashing parameters", e.to_string()))?;
        Ok(PasswordHasher {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
            params,
            decoy: Default::default(),
        })
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        self.params
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$m=...`), with a fresh salt.
    pub fn hash(&self, password: &Password) -> Result<String> {
        crate::validate::password(password.expose())?;
        let salt = SaltString::generate(&mut OsRng);
        argon2::PasswordHasher::hash_password(&self.argon2, password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Backend {
                detail: format!("password hashing failed: {e}"),
            })
    }

    /// Checks a password against a stored hash in constant time: an argon2 PHC string,
    /// or a hash of another scheme [`HashScheme`] knows (an imported user's). A hash of
    /// no known scheme, or one that does not parse, is [`Error::Corrupt`].
    pub fn verify(&self, password: &Password, stored: &str) -> Result<bool> {
        let malformed = |detail: String| Error::Corrupt {
            detail: format!("stored password hash is malformed: {detail}"),
        };
        match HashScheme::of(stored) {
            Some(HashScheme::Argon2) => {
                let parsed = PasswordHash::new(stored).map_err(|e| malformed(e.to_string()))?;
                Ok(self
                    .argon2
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok())
            }
            Some(scheme) => legacy::verify(password.expose().as_bytes(), stored)
                .ok_or_else(|| malformed(format!("not a valid {scheme} hash"))),
            None => Err(malformed("not of a known scheme".into())),
        }
    }

    /// Spends the time of one verification without checking anything; call it when a
    /// login names no user.
    pub fn verify_decoy(&self, password: &Password) {
        let decoy = self.decoy.get_or_init(|| {
            let mut random = [0u8; 24];
            OsRng.fill_bytes(&mut random);
            self.hash(&Password::new(hex(&random))).unwrap_or_default()
        });
        let _ = self.verify(password, decoy);
    }

    /// The login rule every backend follows, given the account the login names (with
    /// its stored hash) or `None`: an unknown account spends the time of a verification
    /// too and is [`Error::InvalidCredentials`], as is a wrong password, so neither time
    /// nor answer tells them apart; a deactivated account with the right password is
    /// [`Error::UserInactive`]. A stored hash that is malformed or of no known scheme
    /// never authenticates: [`Error::InvalidCredentials`] too. On success, the account
    /// and, when the stored hash was made with other parameters or another scheme (an
    /// imported user's bcrypt, werkzeug or passlib hash), the argon2id hash to store in
    /// its place.
    pub fn login<'a>(
        &self,
        password: &Password,
        account: Option<(&'a crate::User, &str)>,
    ) -> Result<(&'a crate::User, Option<String>)> {
        let Some((user, stored)) = account else {
            self.verify_decoy(password);
            return Err(Error::InvalidCredentials);
        };
        match self.verify(password, stored) {
            Ok(true) => {}
            Ok(false) => return Err(Error::InvalidCredentials),
            Err(Error::Corrupt { .. }) => {
                tracing::warn!(
                    user = %user.id,
                    "stored password hash is of no known scheme; the user must reset it"
                );
                self.verify_decoy(password);
                return Err(Error::InvalidCredentials);
            }
            Err(e) => return Err(e),
        }
        if !user.is_active {
            return Err(Error::UserInactive);
        }
        let rehashed = if self.needs_rehash(stored) {
            Some(self.hash(password)?)
        } else {
            None
        };
        Ok((user, rehashed))
    }

    /// True when `stored` was made with other parameters or another algorithm than this
    /// hasher's, so it should be replaced at the next successful login.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        if parsed.algorithm.as_str() != "argon2id" {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.memory_kib
                    || p.t_cost() != self.params.iterations
                    || p.p_cost() != self.params.parallelism
            }
            Err(_) => true,
        }
    }
}

/// A login session's secret token: 256 random bits as 64 hex characters.
///
/// It is returned once, when the session is created; the store keeps only its blake3
/// hash. `Debug` prints `SessionToken(****)`.
///
/// ```
/// use chatstore::SessionToken;
///
/// let token = SessionToken::generate();
/// assert_eq!(token.expose().len(), 64);
/// assert_ne!(token.hash(), token.expose());
/// assert_eq!(format!("{token:?}"), "SessionToken(****)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A new random token from the operating system's generator.
    pub fn generate() -> SessionToken {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        SessionToken(hex(&bytes))
    }

    /// Wraps a token presented by a client (from a cookie or header). Anything that is
    /// not 64 hex characters is [`Error::InvalidSession`].
    pub fn parse(text: &str) -> Result<SessionToken> {
        let text = text.trim();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(SessionToken(text.to_ascii_lowercase()))
        } else {
            Err(Error::InvalidSession)
        }
    }

    /// The token text, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hex blake3 hash of the token: what a store keeps and looks sessions up by.
    pub fn hash(&self) -> String {
        blake3::hash(self.0.as_bytes()).to_hex().to_string()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(****)")
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verifiable() {
        let hasher = PasswordHasher::new(PasswordParams::fast_for_tests()).unwrap();
        let password = Password::new("hunter2hunter2");
        let a = hasher.hash(&password).unwrap();
        let b = hasher.hash(&password).unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("hunter2"));
        assert!(hasher.verify(&password, &a).unwrap());
        assert!(!hasher.verify(&Password::new("hunter3hunter3"), &a).unwrap());
        assert!(matches!(
            hasher.verify(&password, "not a hash"),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn rehash_is_needed_when_parameters_change() {
        let cheap = PasswordHasher::new(PasswordParams::fast_for_tests()).unwrap();
        let stronger = PasswordHasher::new(PasswordParams {
            memory_kib: 128,
            ..PasswordParams::fast_for_tests()
        })
        .unwrap();
        let hash = cheap.hash(&Password::new("password1")).unwrap();
        assert!(!cheap.needs_rehash(&hash));
        assert!(stronger.needs_rehash(&hash));
        assert!(stronger.verify(&Password::new("password1"), &hash).unwrap());
        assert!(cheap.needs_rehash("$2b$12$bcrypt.hash.from.elsewhere"));
    }

    fn account() -> crate::User {
        let now: crate::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        crate::User {
            id: crate::UserId::new(),
            username: "ada".into(),
            email: "ada@example.com".into(),
            full_name: None,
            is_active: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            preferred_llm: "ollama".into(),
            explainability_level: crate::ExplainabilityLevel::ALL[0],
            metadata: Default::default(),
        }
    }

    #[test]
    fn imported_hashes_verify_and_are_rehashed_to_argon2id_at_login() {
        use legacy::vectors::{ALL, PASSWORD};
        // Other parameters than the vectors' argon2 ones (m=64), so every vector is replaced.
        let hasher = PasswordHasher::new(PasswordParams {
            memory_kib: 128,
            ..PasswordParams::fast_for_tests()
        })
        .unwrap();
        let user = account();
        for stored in ALL {
            assert!(
                hasher.verify(&Password::new(PASSWORD), stored).unwrap(),
                "{stored}"
            );
            assert!(
                !hasher
                    .verify(&Password::new("not the password"), stored)
                    .unwrap()
            );
            assert!(hasher.needs_rehash(stored), "{stored}");
            assert!(matches!(
                hasher.login(&Password::new("not the password"), Some((&user, stored))),
                Err(Error::InvalidCredentials)
            ));
            let (_, rehashed) = hasher
                .login(&Password::new(PASSWORD), Some((&user, stored)))
                .unwrap();
            let rehashed = rehashed.expect("a foreign or weaker hash is replaced");
            assert!(
                rehashed.starts_with("$argon2id$v=19$m=128,t=1,p=1$"),
                "{rehashed}"
            );
            assert!(!hasher.needs_rehash(&rehashed));
            assert!(hasher.verify(&Password::new(PASSWORD), &rehashed).unwrap());
        }
    }

    #[test]
    fn unknown_or_malformed_hashes_never_authenticate() {
        let hasher = PasswordHasher::new(PasswordParams::fast_for_tests()).unwrap();
        let user = account();
        let password = Password::new("correct horse battery");
        for stored in [
            "",
            "correct horse battery",
            "md5$salt$0123",
            "$1$salt$hash",
            "$2b$04$truncated",
            "scrypt:1024:8:1$salt$nothex",
            "pbkdf2:sha256:1000$salt",
            "$pbkdf2-sha256$1000$***$***",
            "$argon2id$v=19$m=64,t=1,p=1$garbage",
            "$argon2id$v=19$m=0,t=1,p=1$ZsgzJKe0Jf1IsgBTXwueCw$KbS2a15I436zAQvIr4VxnrkkQlQdW55",
        ] {
            assert!(
                matches!(
                    hasher.verify(&password, stored),
                    Err(Error::Corrupt { .. }) | Ok(false)
                ),
                "{stored}"
            );
            assert!(
                matches!(
                    hasher.login(&password, Some((&user, stored))),
                    Err(Error::InvalidCredentials)
                ),
                "{stored}"
            );
        }
    }

    #[test]
    fn owasp_parameters_are_the_default() {
        let hasher = PasswordHasher::new(PasswordParams::default()).unwrap();
        let hash = hasher.hash(&Password::new("a real password")).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[test]
    fn bad_parameters_and_passwords_are_rejected() {
        let zero = PasswordParams {
            iterations: 0,
            ..PasswordParams::fast_for_tests()
        };
        assert!(matches!(
            PasswordHasher::new(zero),
            Err(Error::Validation { .. })
        ));
        let hasher = PasswordHasher::new(PasswordParams::fast_for_tests()).unwrap();
        assert!(matches!(
            hasher.hash(&Password::new("short")),
            Err(Error::Validation {
                field: "password",
                ..
            })
        ));
    }

    #[test]
    fn tokens_are_random_and_parsed_strictly() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a, b);
        assert_eq!(SessionToken::parse(a.expose()).unwrap(), a);
        assert_eq!(
            SessionToken::parse(&a.expose().to_uppercase())
                .unwrap()
                .hash(),
            a.hash()
        );
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(matches!(
                SessionToken::parse(bad),
                Err(Error::InvalidSession)
            ));
        }
        assert_eq!(format!("{:?}", Password::new("secret")), "Password(****)");
    }
}
