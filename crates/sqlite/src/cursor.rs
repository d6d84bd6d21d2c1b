//! Keyset cursors: the sort key of the last row of a page, as text (`<key>~<key>`).

use std::str::FromStr;

use chatstore::{Cursor, Error, Result};

const SEPARATOR: char = '~';

/// A cursor from the sort key parts of a page's last row.
pub(crate) fn encode(parts: &[&dyn std::fmt::Display]) -> Cursor {
    let text: Vec<String> = parts.iter().map(|part| part.to_string()).collect();
    Cursor::new(text.join(&SEPARATOR.to_string()))
}

/// The two parts of a cursor made by [`encode`] from two keys.
pub(crate) fn decode2<A, B>(cursor: &Cursor) -> Result<(A, B)>
where
    A: FromStr<Err = Error>,
    B: FromStr<Err = Error>,
{
    let invalid =
        || Error::validation("cursor", format!("{cursor:?} was not made by this listing"));
    let (a, b) = cursor.as_str().split_once(SEPARATOR).ok_or_else(invalid)?;
    Ok((
        a.parse().map_err(|_| invalid())?,
        b.parse().map_err(|_| invalid())?,
    ))
}

/// The single number of a cursor made by [`encode`] from one integer key.
pub(crate) fn decode_u64(cursor: &Cursor) -> Result<u64> {
    cursor.as_str().parse().map_err(|_| {
        Error::validation("cursor", format!("{cursor:?} was not made by this listing"))
    })
}

/// Splits `limit + 1` fetched rows into a page: the extra row only tells that another
/// page follows, whose cursor is made from the last row kept.
pub(crate) fn page<T>(
    mut items: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> Cursor,
) -> chatstore::Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more { items.last().map(key) } else { None };
    chatstore::Page { items, next }
}
