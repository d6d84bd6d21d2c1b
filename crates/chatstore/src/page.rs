//! Keyset pagination: a page of items and an opaque cursor to the next one.
//!
//! Cursors mark the last row a page returned (never an offset), so a page stays correct
//! while rows are added or removed elsewhere, and fetching page 1,000 costs the same as
//! page 1.

use std::fmt;

use serde::{Deserialize, Serialize};

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
