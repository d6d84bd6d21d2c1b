//! Input checks shared by every backend, run before anything is written.
//!
//! Each check returns [`Error::Validation`] naming the field, so bad input is rejected
//! the same way whichever backend stores the data. No text may hold a NUL character
//! (PostgreSQL cannot store one, so no backend accepts it), and no JSON a `\u0000`.

use crate::{Error, Result};

/// Longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Length limits of a username, in characters.
pub const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=64;
/// Length limits of a password, in bytes (the upper bound caps hashing cost).
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 8..=1024;
/// Longest short text field (titles, names, provider and model names), in characters.
pub const MAX_SHORT_TEXT: usize = 500;

/// Normalises and checks an email address: trimmed, lower-cased, one `@` with a
/// non-empty local part and a dotted domain, no whitespace or control characters.
///
/// ```
/// assert_eq!(chatstore::validate::email(" Ada@Example.COM ").unwrap(), "ada@example.com");
/// assert!(chatstore::validate::email("ada@localhost").is_err());
/// ```
pub fn email(raw: &str) -> Result<String> {
    no_nul("email", raw)?;
    let value = email_key(raw);
    let bad = |reason: &str| Err(Error::validation("email", format!("{value:?} {reason}")));
    if value.is_empty() || value.len() > MAX_EMAIL_LEN {
        return bad("must be 1 to 254 characters");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters");
    }
    let Some((local, domain)) = value.split_once('@') else {
        return bad("must contain @");
    };
    if local.is_empty() || domain.contains('@') {
        return bad("must have exactly one @ with a name before it");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
        return bad("must have a domain such as example.com");
    }
    Ok(value)
}

/// The form of an email address that is stored and looked up: trimmed and lower-cased,
/// as [`email`] leaves a valid one.
///
/// ```
/// assert_eq!(chatstore::validate::email_key(" Ada@Example.COM "), "ada@example.com");
/// ```
pub fn email_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// The form of a username that uniqueness and lookups compare: trimmed and lower-cased
/// (all of Unicode), so `Ådne` and `ådne` are the same name.
pub fn username_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Checks a username: 3–64 characters of letters, digits, `_`, `.` and `-`.
pub fn username(raw: &str) -> Result<String> {
    no_nul("username", raw)?;
    let value = raw.trim();
    let length = value.chars().count();
    if !USERNAME_LEN.contains(&length) {
        return Err(Error::validation(
            "username",
            "must be 3 to 64 characters long",
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(Error::validation(
            "username",
            "may contain only letters, digits, '_', '.' and '-'",
        ));
    }
    Ok(value.to_owned())
}

/// Checks a password's length (its content is the user's business).
pub fn password(raw: &str) -> Result<()> {
    if PASSWORD_LEN.contains(&raw.len()) {
        Ok(())
    } else {
        Err(Error::validation(
            "password",
            "must be 8 to 1024 bytes long",
        ))
    }
}

/// The longest password hash accepted from elsewhere (an imported account).
pub const MAX_PASSWORD_HASH_LEN: usize = 1024;

/// Checks a password hash made by another application (an imported account): at most
/// [`MAX_PASSWORD_HASH_LEN`] bytes of printable ASCII, of a scheme chatstore verifies.
/// Returns the scheme.
///
/// ```
/// use chatstore::{secrets::HashScheme, validate};
///
/// assert_eq!(validate::password_hash("$2b$12$abc").unwrap(), HashScheme::Bcrypt);
/// assert!(validate::password_hash("md5$abc").is_err());
/// ```
pub fn password_hash(stored: &str) -> Result<crate::secrets::HashScheme> {
    if stored.len() > MAX_PASSWORD_HASH_LEN || !stored.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::validation(
            "password_hash",
            "must be at most 1024 bytes of printable ASCII",
        ));
    }
    crate::secrets::HashScheme::of(stored).ok_or_else(|| {
        Error::validation(
            "password_hash",
            "is of no scheme chatstore verifies (argon2, bcrypt, werkzeug scrypt or pbkdf2, passlib pbkdf2)",
        )
    })
}

/// Trims a required short text and checks it is non-empty and at most
/// [`MAX_SHORT_TEXT`] characters.
pub fn required_text(field: &'static str, raw: &str) -> Result<String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    optional_text(field, Some(value)).map(|v| v.unwrap_or_default())
}

/// Trims an optional short text; blank becomes `None`; longer than [`MAX_SHORT_TEXT`]
/// characters is an error.
pub fn optional_text(field: &'static str, raw: Option<&str>) -> Result<Option<String>> {
    let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    no_nul(field, value)?;
    if value.chars().count() > MAX_SHORT_TEXT {
        return Err(Error::validation(
            field,
            format!("must be at most {MAX_SHORT_TEXT} characters"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// Checks that a text holds no NUL character.
///
/// ```
/// assert!(chatstore::validate::no_nul("title", "fine").is_ok());
/// assert!(chatstore::validate::no_nul("title", "a\0b").is_err());
/// ```
pub fn no_nul(field: &'static str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::validation(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// Trims an optional long text (a description, a summary, an error message); blank
/// becomes `None`; more than `max_bytes` or a NUL character is an error.
pub fn optional_long_text(
    field: &'static str,
    raw: Option<&str>,
    max_bytes: usize,
) -> Result<Option<String>> {
    let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    no_nul(field, value)?;
    if value.len() > max_bytes {
        return Err(Error::validation(
            field,
            format!("must be at most {max_bytes} bytes"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// Checks a body of text that is stored as given (a message, a chunk): not blank, at
/// most `max_bytes`, no NUL character.
pub fn body(field: &'static str, content: &str, max_bytes: usize) -> Result<()> {
    if content.trim().is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if content.len() > max_bytes {
        return Err(Error::validation(
            field,
            format!(
                "is {} bytes, more than the {max_bytes} allowed",
                content.len()
            ),
        ));
    }
    no_nul(field, content)
}

/// Checks that a score lies in `0.0..=1.0` (and is not NaN).
pub fn unit_interval(field: &'static str, value: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::validation(
            field,
            format!("must be between 0 and 1, got {value}"),
        ))
    }
}

/// Checks that a value is finite and not negative (durations, costs).
pub fn non_negative(field: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::validation(
            field,
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

/// Checks a page size: 1 to 1000.
pub fn page_limit(limit: u32) -> Result<u32> {
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::validation(
            "limit",
            format!("must be 1 to 1000, got {limit}"),
        ))
    }
}

/// Most tags (of a document) and the like in one list.
pub const MAX_TAGS: usize = 100;

/// Checks a list of short texts (tags): each trimmed and within [`MAX_SHORT_TEXT`],
/// blanks and repeats dropped in order, at most [`MAX_TAGS`] left.
pub fn tags(field: &'static str, tags: &[String]) -> Result<Vec<String>> {
    let mut clean: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if let Some(tag) = optional_text(field, Some(tag))?
            && !clean.contains(&tag)
        {
            clean.push(tag);
        }
    }
    if clean.len() > MAX_TAGS {
        return Err(Error::validation(
            field,
            format!("at most {MAX_TAGS} entries"),
        ));
    }
    Ok(clean)
}

/// Most documents one conversation may select.
pub const MAX_SELECTED_DOCUMENTS: usize = 1000;

/// Checks a selection of documents: repeats dropped, sorted, at most
/// [`MAX_SELECTED_DOCUMENTS`].
pub fn document_selection(documents: &[crate::DocumentId]) -> Result<Vec<crate::DocumentId>> {
    let mut unique = documents.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() > MAX_SELECTED_DOCUMENTS {
        return Err(Error::validation(
            "selected_document_ids",
            format!("at most {MAX_SELECTED_DOCUMENTS} documents"),
        ));
    }
    Ok(unique)
}

/// The most ids a batch lookup takes at once.
pub const MAX_IDS: usize = 10_000;

/// Checks the size of a batch of ids: at most [`MAX_IDS`].
pub fn id_batch(len: usize) -> Result<()> {
    if len > MAX_IDS {
        return Err(Error::validation(
            "ids",
            format!("at most {MAX_IDS} at once"),
        ));
    }
    Ok(())
}

/// Serialises a JSON value and checks that it fits in `max_bytes` and nests at most
/// [`crate::json::MAX_DEPTH`] levels deep (so that it always reads back).
pub fn json_within(
    field: &'static str,
    value: &impl serde::Serialize,
    max_bytes: usize,
) -> Result<String> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::validation(field, format!("cannot be encoded as JSON: {e}")))?;
    if text.len() > max_bytes {
        return Err(Error::validation(
            field,
            format!(
                "is {} bytes of JSON, more than the {max_bytes} allowed",
                text.len()
            ),
        ));
    }
    crate::json::check_depth(field, &text)?;
    if crate::json::has_nul(&text) {
        return Err(Error::validation(
            field,
            "must not contain NUL characters (\\u0000)",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("a.b+c@mail.example.org").unwrap(),
            "a.b+c@mail.example.org"
        );
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a@.com",
            &format!("{}@example.com", "x".repeat(250)),
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn usernames_and_passwords() {
        assert_eq!(username(" ada_l.ove-1 ").unwrap(), "ada_l.ove-1");
        for bad in ["ab", "has space", "semi;colon", &"x".repeat(65)] {
            assert!(username(bad).is_err(), "{bad:?} accepted");
        }
        assert!(password("short").is_err());
        assert!(password(&"p".repeat(1025)).is_err());
        assert!(password("long enough").is_ok());
    }

    #[test]
    fn numbers_and_text() {
        assert!(unit_interval("score", f64::NAN).is_err());
        assert!(unit_interval("score", 1.01).is_err());
        assert!(non_negative("cost", f64::INFINITY).is_err());
        assert!(non_negative("cost", -0.5).is_err());
        assert_eq!(optional_text("title", Some("   ")).unwrap(), None);
        assert!(required_text("title", " ").is_err());
        assert!(optional_text("title", Some(&"é".repeat(501))).is_err());
        assert!(page_limit(0).is_err() && page_limit(1001).is_err());
    }
}
