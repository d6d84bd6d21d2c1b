//! One value of a copied row, in a form every backend reads into and writes from, and
//! the digest that compares a table across backends.

use crate::Timestamp;

use super::tables::Kind;

/// One value of a copied row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A UUID.
    Id(uuid::Uuid),
    /// Text.
    Text(String),
    /// A 64-bit integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// A boolean.
    Bool(bool),
    /// A point in time.
    Time(Timestamp),
    /// A JSON document.
    Json(serde_json::Value),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// One copied row: its values in the order of [`Table::columns`](super::Table::columns).
pub type Row = Vec<Value>;

impl Value {
    /// True when the value may be stored in a column of `kind` (NULL fits any).
    pub fn fits(&self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Value::Null, _)
                | (Value::Id(_), Kind::Id)
                | (Value::Text(_), Kind::Text)
                | (Value::Integer(_), Kind::Integer)
                | (Value::Real(_), Kind::Real)
                | (Value::Bool(_), Kind::Bool)
                | (Value::Time(_), Kind::Time)
                | (Value::Json(_), Kind::Json)
                | (Value::Bytes(_), Kind::Bytes)
        )
    }
}

/// A running digest of rows, the same for the same rows whichever backend they were
/// read from: JSON by content (object keys in sorted order, `1.0` equal to `1`), times
/// by their microsecond, every value tagged with its kind and every string with its
/// length so that no two different rows feed the same bytes.
#[derive(Debug, Clone, Default)]
pub struct RowDigest {
    hasher: blake3::Hasher,
    rows: u64,
}

impl RowDigest {
    /// An empty digest.
    pub fn new() -> RowDigest {
        RowDigest::default()
    }

    /// Adds one row.
    pub fn add(&mut self, row: &[Value]) {
        self.rows += 1;
        self.hasher.update(&(row.len() as u64).to_le_bytes());
        for value in row {
            self.value(value);
        }
    }

    /// Adds raw bytes with a tag (for items that are not table rows, like blob infos).
    pub fn add_bytes(&mut self, tag: u8, bytes: &[u8]) {
        self.rows += 1;
        self.tagged(tag, bytes);
    }

    /// Rows added so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The digest as 64 hex characters.
    pub fn hex(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }

    fn tagged(&mut self, tag: u8, bytes: &[u8]) {
        self.hasher.update(&[tag]);
        self.hasher.update(&(bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.tagged(0, &[]),
            Value::Id(id) => self.tagged(1, id.as_bytes()),
            Value::Text(text) => self.tagged(2, text.as_bytes()),
            Value::Integer(n) => self.tagged(3, &n.to_le_bytes()),
            Value::Real(x) => self.tagged(4, &x.to_bits().to_le_bytes()),
            Value::Bool(b) => self.tagged(5, &[u8::from(*b)]),
            Value::Time(at) => self.tagged(6, &at.unix_micros().to_le_bytes()),
            Value::Json(json) => {
                let mut canonical = Vec::new();
                write_canonical(json, &mut canonical);
                self.tagged(7, &canonical);
            }
            Value::Bytes(bytes) => self.tagged(8, bytes),
        }
    }
}

/// JSON in one spelling: object keys sorted, numbers that are whole written as integers.
/// PostgreSQL's `jsonb` reorders keys and may respell numbers; what it keeps is the
/// content, and that is what a copy has to keep.
fn write_canonical(json: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value as J;
    match json {
        J::Null => out.extend_from_slice(b"null"),
        J::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        J::Number(n) => {
            let text = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (None, Some(u), _) => u.to_string(),
                (None, None, Some(x)) if x.fract() == 0.0 && x.abs() < 9.0e15 => {
                    (x as i64).to_string()
                }
                (None, None, Some(x)) => format!("{x:e}"),
                (None, None, None) => n.to_string(),
            };
            out.extend_from_slice(text.as_bytes());
        }
        J::String(s) => out.extend_from_slice(J::String(s.clone()).to_string().as_bytes()),
        J::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        J::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(J::String(key.clone()).to_string().as_bytes());
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(rows: &[Row]) -> String {
        let mut digest = RowDigest::new();
        for row in rows {
            digest.add(row);
        }
        digest.hex()
    }

    fn json(text: &str) -> Value {
        Value::Json(serde_json::from_str(text).expect("test JSON"))
    }

    #[test]
    fn json_is_compared_by_content() {
        assert_eq!(
            digest(&[vec![json(r#"{"b": 1.0, "a": [true, "x"]}"#)]]),
            digest(&[vec![json(r#"{"a":[true,"x"],"b":1}"#)]])
        );
        assert_ne!(
            digest(&[vec![json(r#"{"a": 1}"#)]]),
            digest(&[vec![json(r#"{"a": "1"}"#)]])
        );
        assert_ne!(
            digest(&[vec![json(r#"{"a": 1.5}"#)]]),
            digest(&[vec![json(r#"{"a": 1.25}"#)]])
        );
    }

    #[test]
    fn different_rows_give_different_digests() {
        let base = vec![Value::Text("ab".into()), Value::Text("c".into())];
        let shifted = vec![Value::Text("a".into()), Value::Text("bc".into())];
        let once = digest(std::slice::from_ref(&base));
        assert_ne!(once, digest(&[shifted]));
        assert_ne!(
            digest(&[vec![Value::Null]]),
            digest(&[vec![Value::Text(String::new())]])
        );
        assert_ne!(
            digest(&[vec![Value::Integer(1)]]),
            digest(&[vec![Value::Bool(true)]])
        );
        assert_ne!(digest(&[base.clone(), base.clone()]), once);
        assert_eq!(digest(&[base]), once);
    }

    #[test]
    fn values_fit_their_kinds_only() {
        assert!(Value::Null.fits(Kind::Id));
        assert!(Value::Integer(3).fits(Kind::Integer));
        assert!(!Value::Integer(3).fits(Kind::Real));
        assert!(!Value::Text("x".into()).fits(Kind::Json));
    }
}
