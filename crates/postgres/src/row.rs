//! Reading typed values out of rows, and the values statements take. A stored value
//! that does not decode (an id of the wrong kind, JSON of the wrong shape) is
//! [`Error::Corrupt`], naming the column.

use std::str::FromStr;

use chatstore::{
    AgentLogId, ChunkId, ConversationId, DocumentId, Error, MessageId, Result, SessionId,
    Timestamp, UsageId, UserId,
};
use postgres::Row;
use postgres::types::FromSql;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

/// An id type stored as a `uuid` column.
pub(crate) trait UuidId: Sized {
    /// Wraps the stored UUID, checking its kind.
    fn from_stored(uuid: Uuid) -> Result<Self>;
    /// The UUID to store.
    fn stored(&self) -> Uuid;
}

macro_rules! uuid_ids {
    ($($id:ty),*) => {$(
        impl UuidId for $id {
            fn from_stored(uuid: Uuid) -> Result<Self> {
                <$id>::from_uuid(uuid)
            }
            fn stored(&self) -> Uuid {
                self.as_uuid()
            }
        }
    )*};
}

uuid_ids!(
    UserId,
    SessionId,
    ConversationId,
    MessageId,
    DocumentId,
    ChunkId,
    AgentLogId,
    UsageId
);

/// A timestamp as `timestamptz` takes it.
pub(crate) fn at(timestamp: Timestamp) -> OffsetDateTime {
    timestamp.to_offset_date_time()
}

/// A value for a nullable `jsonb` column: `None` for an empty list or object (and for
/// `null`), so that most rows store NULL.
pub(crate) fn json_or_null<T: Serialize>(value: &T) -> Result<Option<serde_json::Value>> {
    let value = serde_json::to_value(value).map_err(|e| Error::Backend {
        detail: format!("cannot encode JSON: {e}"),
    })?;
    Ok(match &value {
        serde_json::Value::Null => None,
        serde_json::Value::Array(items) if items.is_empty() => None,
        serde_json::Value::Object(fields) if fields.is_empty() => None,
        _ => Some(value),
    })
}

/// Typed column access on a row.
pub(crate) trait RowExt {
    /// A column of any type the driver decodes.
    fn value<'a, T: FromSql<'a>>(&'a self, idx: usize) -> Result<T>;

    /// Reports a value that does not decode.
    fn corrupt(&self, idx: usize, why: impl std::fmt::Display) -> Error;

    /// A non-null text column.
    fn text(&self, idx: usize) -> Result<String> {
        self.value(idx)
    }

    /// A text column, or `None` for NULL.
    fn opt_text(&self, idx: usize) -> Result<Option<String>> {
        self.value(idx)
    }

    /// A boolean column.
    fn boolean(&self, idx: usize) -> Result<bool> {
        self.value(idx)
    }

    /// A non-negative `bigint` column as `T` (a count, an index, a version).
    fn uint<T: TryFrom<i64>>(&self, idx: usize) -> Result<T> {
        let value: i64 = self.value(idx)?;
        T::try_from(value).map_err(|_| self.corrupt(idx, format!("{value} is out of range")))
    }

    /// A non-negative `bigint` column as `T`, or `None` for NULL.
    fn opt_uint<T: TryFrom<i64>>(&self, idx: usize) -> Result<Option<T>> {
        let value: Option<i64> = self.value(idx)?;
        value
            .map(|v| T::try_from(v).map_err(|_| self.corrupt(idx, format!("{v} is out of range"))))
            .transpose()
    }

    /// A `uuid` column holding an id of kind `T`, or `None` for NULL.
    fn opt_id<T: UuidId>(&self, idx: usize) -> Result<Option<T>> {
        self.value::<Option<Uuid>>(idx)?
            .map(|uuid| T::from_stored(uuid).map_err(|e| self.corrupt(idx, e)))
            .transpose()
    }

    /// A text column parsed as `T`, or `None` for NULL.
    fn opt_parse<T: FromStr<Err = Error>>(&self, idx: usize) -> Result<Option<T>> {
        let text: Option<String> = self.value(idx)?;
        text.map(|t| t.parse().map_err(|e| self.corrupt(idx, e)))
            .transpose()
    }

    /// A `jsonb` column decoded as `T`, or `None` for NULL.
    fn opt_json<T: DeserializeOwned>(&self, idx: usize) -> Result<Option<T>> {
        let value: Option<serde_json::Value> = self.value(idx)?;
        value
            .map(|v| serde_json::from_value(v).map_err(|e| self.corrupt(idx, e)))
            .transpose()
    }

    /// A `timestamptz` column.
    fn ts(&self, idx: usize) -> Result<Timestamp> {
        self.value::<OffsetDateTime>(idx)
            .map(Timestamp::from_offset_date_time)
    }

    /// A `timestamptz` column, or `None` for NULL.
    fn opt_ts(&self, idx: usize) -> Result<Option<Timestamp>> {
        Ok(self
            .value::<Option<OffsetDateTime>>(idx)?
            .map(Timestamp::from_offset_date_time))
    }

    /// A `uuid` column holding an id of kind `T`.
    fn id<T: UuidId>(&self, idx: usize) -> Result<T> {
        T::from_stored(self.value(idx)?).map_err(|e| self.corrupt(idx, e))
    }

    /// A text column parsed as `T` (an enum's name).
    fn parse<T: FromStr<Err = Error>>(&self, idx: usize) -> Result<T> {
        let text: String = self.value(idx)?;
        text.parse().map_err(|e| self.corrupt(idx, e))
    }

    /// A `jsonb` column decoded as `T`.
    fn json<T: DeserializeOwned>(&self, idx: usize) -> Result<T> {
        let value: serde_json::Value = self.value(idx)?;
        serde_json::from_value(value).map_err(|e| self.corrupt(idx, e))
    }

    /// A nullable `jsonb` column decoded as `T`, or `T`'s default for NULL.
    fn json_or_default<T: DeserializeOwned + Default>(&self, idx: usize) -> Result<T> {
        match self.value::<Option<serde_json::Value>>(idx)? {
            Some(value) => serde_json::from_value(value).map_err(|e| self.corrupt(idx, e)),
            None => Ok(T::default()),
        }
    }
}

impl RowExt for Row {
    fn value<'a, T: FromSql<'a>>(&'a self, idx: usize) -> Result<T> {
        self.try_get(idx).map_err(|e| self.corrupt(idx, e))
    }

    fn corrupt(&self, idx: usize, why: impl std::fmt::Display) -> Error {
        let column = self
            .columns()
            .get(idx)
            .map_or_else(|| format!("#{idx}"), |c| c.name().to_owned());
        Error::Corrupt {
            detail: format!("column {column} holds a value that does not decode: {why}"),
        }
    }
}
