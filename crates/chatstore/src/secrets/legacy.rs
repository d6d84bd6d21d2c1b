//! Password hashes made by other applications, verified in their own scheme so that
//! imported users log in with their old password (and are rehashed to argon2id then).
//!
//! The schemes are those a Python web application would have used: argon2 PHC strings
//! (argon2-cffi, passlib), bcrypt (`$2a$`, `$2b$`, `$2y$`), werkzeug's
//! `scrypt:N:r:p$salt$hexhash` and `pbkdf2:sha256:iterations$salt$hexhash` (also `sha1`
//! and `sha512`), and passlib's `$pbkdf2-sha256$rounds$salt$hash` (also `$pbkdf2$` for
//! SHA-1 and `$pbkdf2-sha512$`) with passlib's adapted base64. Anything else, or a
//! string of a known scheme that does not parse, never verifies.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use subtle::ConstantTimeEq;

/// The most PBKDF2 iterations a stored hash may ask for: a bound on the work one login
/// can cost, far above what any application configures (werkzeug's default is 1,000,000).
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
/// The most memory (128 · N · r bytes) a stored scrypt hash may ask for: 256 MiB.
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;
/// The largest scrypt parallelism a stored hash may ask for.
const MAX_SCRYPT_P: u32 = 16;

/// The scheme a stored password hash was made with, recognised by its prefix.
///
/// ```
/// use chatstore::secrets::HashScheme;
///
/// assert_eq!(HashScheme::of("$2b$12$abc"), Some(HashScheme::Bcrypt));
/// assert_eq!(HashScheme::of("scrypt:32768:8:1$salt$00"), Some(HashScheme::WerkzeugScrypt));
/// assert_eq!(HashScheme::of("md5$abc"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashScheme {
    /// An argon2 PHC string: `$argon2id$`, `$argon2i$` or `$argon2d$`.
    Argon2,
    /// bcrypt: `$2a$`, `$2b$` or `$2y$`.
    Bcrypt,
    /// werkzeug's `scrypt:N:r:p$salt$hexhash`.
    WerkzeugScrypt,
    /// werkzeug's `pbkdf2:sha256:iterations$salt$hexhash` (or `sha1`, `sha512`).
    WerkzeugPbkdf2,
    /// passlib's `$pbkdf2-sha256$rounds$salt$hash` (or `$pbkdf2$`, `$pbkdf2-sha512$`).
    PasslibPbkdf2,
}

impl HashScheme {
    /// The scheme `stored` claims by its prefix, or `None` for a format chatstore cannot
    /// verify (whose user must reset their password).
    pub fn of(stored: &str) -> Option<HashScheme> {
        const PREFIXES: &[(&str, HashScheme)] = &[
            ("$argon2id$", HashScheme::Argon2),
            ("$argon2i$", HashScheme::Argon2),
            ("$argon2d$", HashScheme::Argon2),
            ("$2a$", HashScheme::Bcrypt),
            ("$2b$", HashScheme::Bcrypt),
            ("$2y$", HashScheme::Bcrypt),
            ("scrypt:", HashScheme::WerkzeugScrypt),
            ("pbkdf2:", HashScheme::WerkzeugPbkdf2),
            ("$pbkdf2$", HashScheme::PasslibPbkdf2),
            ("$pbkdf2-sha256$", HashScheme::PasslibPbkdf2),
            ("$pbkdf2-sha512$", HashScheme::PasslibPbkdf2),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| stored.starts_with(prefix))
            .map(|(_, scheme)| *scheme)
    }

    /// A short name for reports: `argon2`, `bcrypt`, `werkzeug-scrypt`, ...
    pub fn name(self) -> &'static str {
        match self {
            HashScheme::Argon2 => "argon2",
            HashScheme::Bcrypt => "bcrypt",
            HashScheme::WerkzeugScrypt => "werkzeug-scrypt",
            HashScheme::WerkzeugPbkdf2 => "werkzeug-pbkdf2",
            HashScheme::PasslibPbkdf2 => "passlib-pbkdf2",
        }
    }
}

impl fmt::Display for HashScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks `password` against a stored hash of a non-argon2 scheme. `None` when the
/// string is not of such a scheme or does not parse (bad numbers, costs beyond the
/// bounds above, undecodable salt or hash); `Some(matches)` otherwise.
pub(crate) fn verify(password: &[u8], stored: &str) -> Option<bool> {
    match HashScheme::of(stored)? {
        HashScheme::Argon2 => None,
        HashScheme::Bcrypt => bcrypt::verify(password, stored).ok(),
        HashScheme::WerkzeugScrypt => werkzeug_scrypt(password, stored),
        HashScheme::WerkzeugPbkdf2 => werkzeug_pbkdf2(password, stored),
        HashScheme::PasslibPbkdf2 => passlib_pbkdf2(password, stored),
    }
}

/// `scrypt:N:r:p$salt$hexhash`: the salt's text is the salt, the key is 64 bytes.
fn werkzeug_scrypt(password: &[u8], stored: &str) -> Option<bool> {
    let (method, salt, expected) = werkzeug_parts(stored)?;
    let mut costs = method.strip_prefix("scrypt:")?.split(':');
    let n: u64 = costs.next()?.parse().ok()?;
    let r: u32 = costs.next()?.parse().ok()?;
    let p: u32 = costs.next()?.parse().ok()?;
    if costs.next().is_some() || !n.is_power_of_two() || n < 2 || p > MAX_SCRYPT_P {
        return None;
    }
    if 128u64.checked_mul(n)?.checked_mul(u64::from(r))? > MAX_SCRYPT_MEMORY {
        return None;
    }
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(log_n, r, p).ok()?;
    let mut key = vec![0u8; expected.len()];
    if key.is_empty() {
        return None;
    }
    scrypt::scrypt(password, salt.as_bytes(), &params, &mut key).ok()?;
    Some(bool::from(key.ct_eq(&expected)))
}

/// `pbkdf2:<digest>:iterations$salt$hexhash`: the salt's text is the salt.
fn werkzeug_pbkdf2(password: &[u8], stored: &str) -> Option<bool> {
    let (method, salt, expected) = werkzeug_parts(stored)?;
    let mut parts = method.strip_prefix("pbkdf2:")?.split(':');
    let digest = Digest::named(parts.next()?)?;
    let rounds: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    pbkdf2_matches(digest, password, salt.as_bytes(), rounds, &expected)
}

/// `$pbkdf2-sha256$rounds$salt$hash`, salt and hash in passlib's adapted base64.
fn passlib_pbkdf2(password: &[u8], stored: &str) -> Option<bool> {
    let mut parts = stored.strip_prefix('$')?.split('$');
    let digest = match parts.next()? {
        "pbkdf2" => Digest::Sha1,
        "pbkdf2-sha256" => Digest::Sha256,
        "pbkdf2-sha512" => Digest::Sha512,
        _ => return None,
    };
    let rounds: u32 = parts.next()?.parse().ok()?;
    let salt = ab64_decode(parts.next()?)?;
    let expected = ab64_decode(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    pbkdf2_matches(digest, password, &salt, rounds, &expected)
}

/// Splits werkzeug's `method$salt$hexhash`, decoding the hash.
fn werkzeug_parts(stored: &str) -> Option<(&str, &str, Vec<u8>)> {
    let mut parts = stored.split('$');
    let method = parts.next()?;
    let salt = parts.next()?;
    let hash = parts.next()?;
    if parts.next().is_some() || salt.is_empty() {
        return None;
    }
    Some((method, salt, hex_decode(hash)?))
}

/// The HMAC digests PBKDF2 hashes are made with.
#[derive(Clone, Copy)]
enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    fn named(name: &str) -> Option<Digest> {
        match name {
            "sha1" => Some(Digest::Sha1),
            "sha256" => Some(Digest::Sha256),
            "sha512" => Some(Digest::Sha512),
            _ => None,
        }
    }
}

fn pbkdf2_matches(
    digest: Digest,
    password: &[u8],
    salt: &[u8],
    rounds: u32,
    expected: &[u8],
) -> Option<bool> {
    if rounds == 0 || rounds > MAX_PBKDF2_ROUNDS || expected.is_empty() || expected.len() > 1024 {
        return None;
    }
    let mut key = vec![0u8; expected.len()];
    match digest {
        Digest::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, &mut key),
        Digest::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, &mut key),
        Digest::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, rounds, &mut key),
    }
    Some(bool::from(key.ct_eq(expected)))
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// passlib's "adapted base64": standard base64 with `.` for `+` and no padding.
fn ab64_decode(text: &str) -> Option<Vec<u8>> {
    const AB64: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    AB64.decode(text.replace('.', "+")).ok()
}

#[cfg(any(test, feature = "conformance"))]
pub(crate) mod vectors {
    //! Known-answer vectors for [`super`], made once with the Python libraries the old
    //! app used (argon2-cffi 25.1.0, bcrypt 5.0.0, Werkzeug 3.1.9, passlib 1.7.4) and
    //! kept as constants so the tests need no Python:
    //!
    //! ```text
    //! pw = "correct horse battery"
    //! argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=Type.ID).hash(pw)   # and Type.I, Type.D
    //! bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4))            # $2b$; prefix=b"2a" for $2a$
    //! "$2y$" + bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]
    //! werkzeug.security.generate_password_hash(pw, method="scrypt:1024:8:1")
    //! werkzeug.security.generate_password_hash(pw, method="pbkdf2:sha256:1000")  # sha1, sha512
    //! passlib.hash.pbkdf2_sha256.using(rounds=1000).hash(pw)                      # pbkdf2_sha512, pbkdf2_sha1
    //! pw2 = "mot de passe élève ✓"   # the *_UNICODE vectors
    //! ```

    /// The password every vector but the `*_UNICODE` ones was made from.
    pub(crate) const PASSWORD: &str = "correct horse battery";
    /// The password of the `*_UNICODE` vectors.
    pub(crate) const UNICODE_PASSWORD: &str = "mot de passe élève ✓";

    pub(crate) const ARGON2ID: &str = "$argon2id$v=19$m=64,t=1,p=1$ZsgzJKe0Jf1IsgBTXwueCw$KbS2a15I436zAQvIr4VxnrkkQlQdW55+eaZif4/8c6I";
    pub(crate) const ARGON2I: &str = "$argon2i$v=19$m=64,t=1,p=1$DC4SJkYkNGFn5AFKo+lkgA$uWz/MgbKotMli91ALJo/JFKmW6e+og27DAamg2zzNrw";
    pub(crate) const ARGON2D: &str = "$argon2d$v=19$m=64,t=1,p=1$MMInTL7fQJ003WyDqF02rA$pEfMD4TnL0fweSdUKjgxKdOrzdFb1KHT/3tUpgjnOv4";
    pub(crate) const BCRYPT_2B: &str =
        "$2b$04$C/2/AdcXDnP4vb79RHAjzeAxflQZAi7MPWKKvXrP7pZn0yL6albBK";
    pub(crate) const BCRYPT_2A: &str =
        "$2a$04$O9gg6S5J2SHbwLw8mqDpxevrypAiuFpxTQrWW3635qluU4.QnQnze";
    pub(crate) const BCRYPT_2Y: &str =
        "$2y$04$WKBaUJVAH4yfgknLK.hapOvKiw3ZV9FA9pdXnIDMKycxweNd.bsqS";
    pub(crate) const WERKZEUG_SCRYPT: &str = "scrypt:1024:8:1$XjlG5Ojkl4N60chp$d4d98ae6eabec9940054d3e2e80ac2915f9c01b8636324504ad2c8e97d5ae6565fd9bf1a3cba47f27699634de5da01c3a638b5f9dad6a336b417df9cd1b29fe7";
    pub(crate) const WERKZEUG_PBKDF2_SHA256: &str = "pbkdf2:sha256:1000$k46zJWKXi1IhJCCp$93359e0abd2bb6a940874841dacbcb78166bea7548077fb508081f61781b6dee";
    pub(crate) const WERKZEUG_PBKDF2_SHA1: &str =
        "pbkdf2:sha1:1000$sg62VO9407NLKnjh$5a0c60d43a23bdb5b0fd1d82d347e06af15e98d9";
    pub(crate) const WERKZEUG_PBKDF2_SHA512: &str = "pbkdf2:sha512:1000$BZcqY9LMU0agxKe3$2f84d2301f8c94355aab1a26106e2d5d4764a8aeebc36a06328764689b0f8de673b67a606ef7b22273f934d6ddfe2dcbf6b6f6d68e15440f219e526986b4fead";
    pub(crate) const PASSLIB_PBKDF2_SHA256: &str =
        "$pbkdf2-sha256$1000$shYCIKQ0ptT6X.sdQ0ipVQ$qDO4VtIdThWjUhTNRbD/rOHWvUu3WNcCxaEx4TKyD7A";
    pub(crate) const PASSLIB_PBKDF2_SHA512: &str = "$pbkdf2-sha512$1000$tPbeuzcmxJgTAuB87z2nFA$AEosIu7BaBiHMneyfTFNaX44IlfIXJk4JuD69aQUoM5FQ4HhRTmA8Xb0dxd9dWLWtr.9C3vyqMOlnMTJ1n8.7w";
    pub(crate) const PASSLIB_PBKDF2_SHA1: &str =
        "$pbkdf2$1000$3TuH8N77P0eI8R6DEGKsNQ$aKGstopcxcy0orrgnzf2IwcZihY";
    pub(crate) const WERKZEUG_SCRYPT_UNICODE: &str = "scrypt:1024:8:1$sLVq5D7oaKMOKykl$13db0a74e9b9bb33606576ff86c6bd817f6b7f0e3c66ce8719e929d5cf0a9fc6ac515d79610df8325ec011e8e07fb57094f23db8bde95a8fc3590b60f5f00e49";
    pub(crate) const PASSLIB_PBKDF2_SHA256_UNICODE: &str =
        "$pbkdf2-sha256$1000$T2mt1TqH8H7PuZfSWqtVqg$jY8mtu1eccDkIa.KgY1txA4a6zNx1sFzMo4evWPMSTU";

    /// Every vector made from [`PASSWORD`].
    pub(crate) const ALL: &[&str] = &[
        ARGON2ID,
        ARGON2I,
        ARGON2D,
        BCRYPT_2B,
        BCRYPT_2A,
        BCRYPT_2Y,
        WERKZEUG_SCRYPT,
        WERKZEUG_PBKDF2_SHA256,
        WERKZEUG_PBKDF2_SHA1,
        WERKZEUG_PBKDF2_SHA512,
        PASSLIB_PBKDF2_SHA256,
        PASSLIB_PBKDF2_SHA512,
        PASSLIB_PBKDF2_SHA1,
    ];
}

#[cfg(test)]
mod tests {
    use super::vectors::*;
    use super::*;

    #[test]
    fn schemes_are_recognised_by_prefix() {
        let expected = [
            HashScheme::Argon2,
            HashScheme::Argon2,
            HashScheme::Argon2,
            HashScheme::Bcrypt,
            HashScheme::Bcrypt,
            HashScheme::Bcrypt,
            HashScheme::WerkzeugScrypt,
            HashScheme::WerkzeugPbkdf2,
            HashScheme::WerkzeugPbkdf2,
            HashScheme::WerkzeugPbkdf2,
            HashScheme::PasslibPbkdf2,
            HashScheme::PasslibPbkdf2,
            HashScheme::PasslibPbkdf2,
        ];
        for (stored, scheme) in ALL.iter().zip(expected) {
            assert_eq!(HashScheme::of(stored), Some(scheme), "{stored}");
        }
        for unknown in [
            "",
            "plaintext",
            "md5$x$y",
            "sha256$salt$abc",
            "$1$abc$def",
            "$6$x$y",
        ] {
            assert_eq!(HashScheme::of(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn known_answers_verify_and_wrong_passwords_do_not() {
        for stored in ALL.iter().filter(|s| !s.starts_with("$argon2")) {
            assert_eq!(verify(PASSWORD.as_bytes(), stored), Some(true), "{stored}");
            assert_eq!(
                verify(b"correct horse battery!", stored),
                Some(false),
                "{stored}"
            );
            assert_eq!(verify(b"", stored), Some(false), "{stored}");
        }
        for stored in [WERKZEUG_SCRYPT_UNICODE, PASSLIB_PBKDF2_SHA256_UNICODE] {
            assert_eq!(verify(UNICODE_PASSWORD.as_bytes(), stored), Some(true));
            assert_eq!(verify(b"mot de passe eleve", stored), Some(false));
        }
    }

    #[test]
    fn malformed_hashes_of_known_schemes_do_not_parse() {
        let malformed = [
            "$2b$04$short",
            "$2b$99$C/2/AdcXDnP4vb79RHAjzeAxflQZAi7MPWKKvXrP7pZn0yL6albBK",
            "scrypt:1000:8:1$salt$00",
            "scrypt:1024:8$salt$00",
            "scrypt:1024:8:1:9$salt$00",
            "scrypt:1024:8:1$salt$zz",
            "scrypt:1024:8:1$salt$",
            "scrypt:1024:8:1$$00",
            "scrypt:1024:8:1$salt",
            "scrypt:1073741824:8:1$salt$00",
            "scrypt:1024:0:1$salt$00",
            "scrypt:1024:8:99$salt$00",
            "pbkdf2:md5:1000$salt$00",
            "pbkdf2:sha256$salt$00",
            "pbkdf2:sha256:0$salt$00",
            "pbkdf2:sha256:999999999$salt$00",
            "pbkdf2:sha256:-5$salt$00",
            "pbkdf2:sha256:1000$salt$0",
            "pbkdf2:sha256:1000$salt$00$extra",
            "$pbkdf2-sha256$1000$!!!$abc",
            "$pbkdf2-sha256$x$abc$abc",
            "$pbkdf2-sha256$1000$abc",
            "$pbkdf2-sha1$1000$abc$abc",
            "$argon2id$v=19$m=64,t=1,p=1$bad",
        ];
        for stored in malformed {
            assert_eq!(verify(PASSWORD.as_bytes(), stored), None, "{stored}");
        }
    }
}
