//! Keyset pagination: a page of items and an opaque cursor to the next one.
//!
//! Cursors mark the last row a page returned (never an offset), so a page stays correct
//! while rows are added or removed elsewhere, and fetching page 1,000 costs the same as
//! page 1.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Between the parts of a cursor's sort key.
const SEPARATOR: char = '~';

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in the order the query asked for.
    pub items: Vec<T>,
    /// Where the next page starts, or `None` when this page is the last.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// True when the page holds no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The page made from `limit + 1` fetched rows: the extra row only tells that
    /// another page follows, whose cursor is `key` of the last row kept. Every backend
    /// pages this way (fetch one more than asked).
    ///
    /// ```
    /// use chatstore::{Cursor, Page};
    ///
    /// let page = Page::from_rows(vec![1, 2, 3], 2, |n| Cursor::from_key(&[n]));
    /// assert_eq!(page.items, [1, 2]);
    /// assert_eq!(page.next.unwrap().as_str(), "2");
    /// assert!(Page::from_rows(vec![1], 2, |n| Cursor::from_key(&[n])).next.is_none());
    /// ```
    pub fn from_rows(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> Cursor) -> Page<T> {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more { items.last().map(key) } else { None };
        Page { items, next }
    }
}

/// An opaque position in a listing, produced by a store and handed back to it.
///
/// It is plain text, safe to put in a URL; a cursor that a store cannot read is
/// [`crate::Error::Validation`] on the `cursor` field.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps cursor text (as received back from a client).
    pub fn new(text: impl Into<String>) -> Cursor {
        Cursor(text.into())
    }

    /// The cursor text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor after a row whose sort key is `parts` (their text forms, joined by
    /// `~`; ids and timestamps never contain one).
    pub fn from_key(parts: &[&dyn fmt::Display]) -> Cursor {
        let text: Vec<String> = parts.iter().map(|part| part.to_string()).collect();
        Cursor(text.join(&SEPARATOR.to_string()))
    }

    /// The two parts of a cursor made by [`Cursor::from_key`] from two keys; anything
    /// else is [`Error::Validation`] on `cursor`.
    ///
    /// ```
    /// use chatstore::{ConversationId, Cursor, Timestamp};
    ///
    /// let (at, id) = (Timestamp::now(), ConversationId::new());
    /// let cursor = Cursor::from_key(&[&at, &id]);
    /// assert_eq!(cursor.key2::<Timestamp, ConversationId>().unwrap(), (at, id));
    /// assert!(Cursor::new("nonsense").key2::<Timestamp, ConversationId>().is_err());
    /// ```
    pub fn key2<A, B>(&self) -> Result<(A, B)>
    where
        A: FromStr<Err = Error>,
        B: FromStr<Err = Error>,
    {
        let (a, b) = self.0.split_once(SEPARATOR).ok_or_else(|| self.invalid())?;
        Ok((
            a.parse().map_err(|_| self.invalid())?,
            b.parse().map_err(|_| self.invalid())?,
        ))
    }

    /// The number of a cursor made by [`Cursor::from_key`] from one integer key.
    pub fn key_u64(&self) -> Result<u64> {
        self.0.parse().map_err(|_| self.invalid())
    }

    fn invalid(&self) -> Error {
        Error::validation("cursor", format!("{self:?} was not made by this listing"))
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", self.0)
    }
}

/// Which way a listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}
