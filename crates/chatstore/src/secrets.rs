//! Password hashing (argon2id) and session tokens (random 256-bit, stored as a blake3 hash).
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

    /// Checks a password against a stored PHC hash in constant time. A hash that cannot
    /// be parsed is [`Error::Corrupt`].
    pub fn verify(&self, password: &Password, stored: &str) -> Result<bool> {
        let parsed = PasswordHash::new(stored).map_err(|e| Error::Corrupt {
            detail: format!("stored password hash is malformed: {e}"),
        })?;
        Ok(self
            .argon2
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok())
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
    /// [`Error::UserInactive`]. On success, the account and, when the stored hash was made
    /// with other parameters, the new hash to store in its place.
    pub fn login<'a>(
        &self,
        password: &Password,
        account: Option<(&'a crate::User, &str)>,
    ) -> Result<(&'a crate::User, Option<String>)> {
        let Some((user, stored)) = account else {
            self.verify_decoy(password);
            return Err(Error::InvalidCredentials);
        };
        if !self.verify(password, stored)? {
            return Err(Error::InvalidCredentials);
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
