//! Reading typed values out of rows. A stored value that does not decode (a malformed
//! timestamp, an id of the wrong kind, broken JSON) is [`Error::Corrupt`], naming the
//! column.

use std::str::FromStr;

use chatstore::{Error, Result, Timestamp};
use rusqlite::Row;
use rusqlite::types::ValueRef;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Typed column access.
pub trait RowExt {
    /// The raw value of a column.
    fn value(&self, idx: usize) -> Result<ValueRef<'_>>;

    /// Reports a value that does not decode.
    fn corrupt(&self, idx: usize, why: impl std::fmt::Display) -> Error;

    /// A text column, or `None` for NULL.
    fn opt_str(&self, idx: usize) -> Result<Option<&str>> {
        match self.value(idx)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|e| self.corrupt(idx, e)),
            other => {
                Err(self.corrupt(idx, format!("expected text, found {:?}", other.data_type())))
            }
        }
    }

    /// A non-null text column.
    fn str(&self, idx: usize) -> Result<&str> {
        self.opt_str(idx)?
            .ok_or_else(|| self.corrupt(idx, "unexpected NULL"))
    }

    /// An owned non-null text column.
    fn text(&self, idx: usize) -> Result<String> {
        self.str(idx).map(str::to_owned)
    }

    /// An owned text column, or `None`.
    fn opt_text(&self, idx: usize) -> Result<Option<String>> {
        self.opt_str(idx).map(|v| v.map(str::to_owned))
    }

    /// A column holding a value's text form (ids, timestamps, enums).
    fn parse<T: FromStr<Err = Error>>(&self, idx: usize) -> Result<T> {
        self.str(idx)?.parse().map_err(|e| self.corrupt(idx, e))
    }

    /// A nullable column holding a value's text form.
    fn opt_parse<T: FromStr<Err = Error>>(&self, idx: usize) -> Result<Option<T>> {
        self.opt_str(idx)?
            .map(|text| text.parse().map_err(|e| self.corrupt(idx, e)))
            .transpose()
    }

    /// An integer column, or `None`.
    fn opt_int(&self, idx: usize) -> Result<Option<i64>> {
        match self.value(idx)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            other => Err(self.corrupt(
                idx,
                format!("expected integer, found {:?}", other.data_type()),
            )),
        }
    }

    /// A non-null integer column.
    fn int(&self, idx: usize) -> Result<i64> {
        self.opt_int(idx)?
            .ok_or_else(|| self.corrupt(idx, "unexpected NULL"))
    }

    /// A non-negative integer column converted to `T`, or `None`.
    fn opt_uint<T: TryFrom<i64>>(&self, idx: usize) -> Result<Option<T>> {
        self.opt_int(idx)?
            .map(|i| T::try_from(i).map_err(|_| self.corrupt(idx, format!("{i} is out of range"))))
            .transpose()
    }

    /// A non-null non-negative integer column converted to `T`.
    fn uint<T: TryFrom<i64>>(&self, idx: usize) -> Result<T> {
        self.opt_uint(idx)?
            .ok_or_else(|| self.corrupt(idx, "unexpected NULL"))
    }

    /// A 0/1 column.
    fn boolean(&self, idx: usize) -> Result<bool> {
        Ok(self.int(idx)? != 0)
    }

    /// A real column, or `None`.
    fn opt_real(&self, idx: usize) -> Result<Option<f64>> {
        match self.value(idx)? {
            ValueRef::Null => Ok(None),
            ValueRef::Real(r) => Ok(Some(r)),
            ValueRef::Integer(i) => Ok(Some(i as f64)),
            other => {
                Err(self.corrupt(idx, format!("expected real, found {:?}", other.data_type())))
            }
        }
    }

    /// A JSON column, or `None` for NULL. JSON nested deeper than chatstore writes is
    /// read with its deepest parts as text (see [`chatstore::json::decode_stored`]).
    fn opt_json<T: DeserializeOwned>(&self, idx: usize) -> Result<Option<T>> {
        self.opt_str(idx)?
            .map(|text| chatstore::json::decode_stored(text).map_err(|e| self.corrupt(idx, e)))
            .transpose()
    }

    /// A JSON column, with NULL read as the type's default (an empty list, say).
    fn json<T: DeserializeOwned + Default>(&self, idx: usize) -> Result<T> {
        self.opt_json(idx).map(Option::unwrap_or_default)
    }

    /// A timestamp column.
    fn ts(&self, idx: usize) -> Result<Timestamp> {
        self.parse(idx)
    }

    /// A nullable timestamp column.
    fn opt_ts(&self, idx: usize) -> Result<Option<Timestamp>> {
        self.opt_parse(idx)
    }
}

impl RowExt for Row<'_> {
    fn value(&self, idx: usize) -> Result<ValueRef<'_>> {
        self.get_ref(idx).map_err(crate::errors::from_sqlite)
    }

    fn corrupt(&self, idx: usize, why: impl std::fmt::Display) -> Error {
        let column = self.as_ref().column_name(idx).unwrap_or("?");
        Error::Corrupt {
            detail: format!("column {column}: {why}"),
        }
    }
}

/// Encodes a value as a JSON column, or NULL when it is empty (`[]`, `{}`, `null`).
pub fn json_or_null<T: Serialize>(value: &T) -> Result<Option<String>> {
    let text = serde_json::to_string(value).map_err(|e| Error::Backend {
        detail: format!("cannot encode JSON: {e}"),
    })?;
    Ok(match text.as_str() {
        "[]" | "{}" | "null" => None,
        _ => Some(text),
    })
}

/// Encodes a value as a non-null JSON column.
pub fn json_text<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Backend {
        detail: format!("cannot encode JSON: {e}"),
    })
}
