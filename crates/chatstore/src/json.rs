//! Limits on the free-form JSON hosts store (message metadata's `extra`, agent logs'
//! input and output, user metadata), the same on every write and every read.
//!
//! A write accepts JSON nested at most [`MAX_DEPTH`] levels deep, well inside what the
//! reader's parser takes (serde_json stops at 128), so everything written reads back.
//! A row written some other way (an older version, a hand edit) with deeper JSON still
//! reads: [`decode_stored`] folds what lies below [`MAX_DEPTH`] into a string holding
//! that part's JSON text, so nothing is lost and the row's neighbours stay readable.
//!
//! ```
//! use chatstore::json;
//!
//! assert_eq!(json::depth(r#"{"a":[1,{"b":"[[["}]}"#), 3);
//! let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
//! let value: serde_json::Value = json::decode_stored(&deep).unwrap();
//! assert_eq!(json::depth(&value.to_string()), json::MAX_DEPTH);
//! ```

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Deepest nesting of arrays and objects a stored JSON value may have, counting the
/// outermost one (so `{"extra":{"k":[1]}}` is 3 deep).
pub const MAX_DEPTH: usize = 64;

/// How deeply arrays and objects nest in a JSON text (0 for a scalar). Brackets inside
/// strings do not count. The text is assumed to be JSON; anything else gives a number
/// without meaning but never fails.
pub fn depth(text: &str) -> usize {
    let mut scanner = Scanner::default();
    let mut deepest = 0;
    for &byte in text.as_bytes() {
        if let Some(level) = scanner.step(byte) {
            deepest = deepest.max(level);
        }
    }
    deepest
}

/// True when a JSON text's strings hold a NUL character (written `\u0000`; a literal
/// backslash before `u0000`, written `\\u0000`, does not count).
///
/// ```
/// assert!(chatstore::json::has_nul(r#"{"a":"x\u0000y"}"#));
/// assert!(!chatstore::json::has_nul(r#"{"a":"x\\u0000y"}"#));
/// ```
pub fn has_nul(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = text[at..].find("\\u0000") {
        let start = at + found;
        let backslashes = bytes[..start]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return true;
        }
        at = start + 1;
    }
    false
}

/// Checks that a JSON text nests at most [`MAX_DEPTH`] levels; `field` names the value
/// in the error.
pub fn check_depth(field: &'static str, text: &str) -> Result<()> {
    let found = depth(text);
    if found > MAX_DEPTH {
        return Err(Error::validation(
            field,
            format!("nests {found} levels deep; at most {MAX_DEPTH} are stored"),
        ));
    }
    Ok(())
}

/// Decodes a stored JSON text. Arrays and objects below [`MAX_DEPTH`] (which a write
/// refuses, but an older version or a hand edit may have stored) are read as strings
/// holding their JSON text, instead of failing the whole row.
pub fn decode_stored<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    match serde_json::from_str(text) {
        Err(error) if depth(text) > MAX_DEPTH => {
            serde_json::from_str(&fold_below(text, MAX_DEPTH)).map_err(|_| error)
        }
        decoded => decoded,
    }
}

/// Rewrites a JSON text so that every array or object that would sit deeper than
/// `max` becomes a string holding its JSON text.
fn fold_below(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut scanner = Scanner::default();
    let mut folded_from: Option<usize> = None;
    let mut copied_up_to = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        let before = scanner.level;
        scanner.step(byte);
        match folded_from {
            None if scanner.level > max => {
                out.push_str(&text[copied_up_to..at]);
                folded_from = Some(at);
            }
            Some(start) if scanner.level == max && before > max => {
                let part = &text[start..=at];
                out.push_str(&serde_json::Value::from(part).to_string());
                copied_up_to = at + 1;
                folded_from = None;
            }
            _ => {}
        }
    }
    out.push_str(&text[copied_up_to..]);
    out
}

/// Tracks nesting through a JSON text byte by byte, skipping strings.
#[derive(Default)]
struct Scanner {
    level: usize,
    in_string: bool,
    escaped: bool,
}

impl Scanner {
    /// Takes the next byte; returns the new level when it opened an array or object.
    fn step(&mut self, byte: u8) -> Option<usize> {
        if self.in_string {
            match byte {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                _ => {}
            }
            return None;
        }
        match byte {
            b'"' => self.in_string = true,
            b'[' | b'{' => {
                self.level += 1;
                return Some(self.level);
            }
            b']' | b'}' => self.level = self.level.saturating_sub(1),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn depth_counts_arrays_and_objects_but_not_strings() {
        assert_eq!(depth("7"), 0);
        assert_eq!(depth(r#""[{""#), 0);
        assert_eq!(depth(r#"{"a\"[":[]}"#), 2);
        assert_eq!(depth(&nested(300)), 300);
    }

    #[test]
    fn check_depth_accepts_the_limit_and_refuses_one_more() {
        assert!(check_depth("extra", &nested(MAX_DEPTH)).is_ok());
        let error = check_depth("extra", &nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(error.to_string().contains("65 levels"), "{error}");
    }

    #[test]
    fn shallow_json_decodes_unchanged() {
        let text = r#"{"a":[1,2,{"b":"]"}],"c":null}"#;
        let value: Value = decode_stored(text).unwrap();
        assert_eq!(value, json!({"a": [1, 2, {"b": "]"}], "c": null}));
    }

    #[test]
    fn deep_json_keeps_everything_with_the_deep_part_as_text() {
        let text = format!(r#"{{"extra":{{"deep":{}}},"tokens":3}}"#, nested(500));
        let value: Value = decode_stored(&text).unwrap();
        assert_eq!(value["tokens"], 3);
        let (mut part, mut level) = (&value["extra"]["deep"], 3);
        while let Some(inner) = part.get(0).filter(|v| v.is_array()) {
            (part, level) = (inner, level + 1);
        }
        assert_eq!(level, MAX_DEPTH, "arrays are kept down to the limit");
        let folded = part[0].as_str().expect("the part below the limit is text");
        assert_eq!(level + depth(folded), 2 + 500, "nothing was cut");
        assert_eq!(depth(&value.to_string()), MAX_DEPTH);
    }

    #[test]
    fn nul_is_found_in_strings_whatever_backslashes_precede_it() {
        for text in [
            "\0",
            "a\0",
            "\\\0",
            "\\u0000",
            "\\\\u0000",
            "u0000",
            "\\\\\0",
            "plain",
            "",
        ] {
            let json = serde_json::to_string(&json!({ "k": [text] })).unwrap();
            assert_eq!(has_nul(&json), text.contains('\0'), "{text:?} as {json}");
        }
    }

    #[test]
    fn text_that_is_not_json_still_fails() {
        assert!(decode_stored::<Value>(&format!("{}x", nested(200))).is_err());
        assert!(decode_stored::<Value>("{").is_err());
    }
}
