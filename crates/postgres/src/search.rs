//! [`SearchStore`] on PostgreSQL's full-text search: each message carries a `tsvector`
//! of its words, written in the message's `INSERT`, matched with `@@`, ranked with
//! `ts_rank` and shown with `ts_headline`.
//!
//! The words are the core's ([`chatstore::search::words`]), the same on every backend,
//! handed to `to_tsvector` in the `simple` configuration (no stemming, no stop words). A
//! `tsvector` holds at most 1 MB of lexemes and positions, so the distinct words of a
//! very large message are split over several vectors ([`search_texts`]), and a search
//! matches it when each word is in one of them.

use std::collections::{HashMap, HashSet};

use chatstore::{Result, SearchHit, SearchQuery, SearchStore, UserId};

use crate::PgStore;
use crate::row::{RowExt, UuidId};

/// Most bytes a `tsvector` is estimated to take (PostgreSQL refuses more than 1 MB); a
/// message whose words take more is indexed by its distinct words, over several.
const VECTOR_BUDGET: usize = 600_000;

/// Most words indexed with their positions; a message with more is indexed by its
/// distinct words only.
const MAX_INDEXED_WORDS: usize = 200_000;

/// Words of context in a snippet.
const SNIPPET_WORDS: usize = 16;

/// What a lexeme takes in a `tsvector` besides its positions: its bytes (aligned to
/// two) and the count of its positions.
fn lexeme_cost(word: &str) -> usize {
    word.len().next_multiple_of(2) + 2
}

/// The texts a message's `tsvector`s are built from (`to_tsvector('simple', text)`):
/// its words ([`chatstore::search::words`]) separated by spaces, in the message's own
/// vector. When they would not fit in one `tsvector` comfortably, the message's
/// distinct words instead, in the order first seen, split over as many vectors as it
/// takes: the first is the message's own, the others go to `message_search_parts`. Every
/// word stays searchable; such a message ranks as if each word occurred once.
pub(crate) fn search_texts(content: &str) -> (String, Vec<String>) {
    let words = chatstore::search::words(content);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in &words {
        *counts.entry(word.as_str()).or_default() += 1;
    }
    // PostgreSQL keeps at most 256 positions of a lexeme.
    let whole: usize = counts
        .iter()
        .map(|(word, n)| lexeme_cost(word) + 2 * (*n).min(256))
        .sum();
    if whole <= VECTOR_BUDGET && words.len() <= MAX_INDEXED_WORDS {
        return (words.join(" "), Vec::new());
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut parts: Vec<Vec<&str>> = vec![Vec::new()];
    let mut used = 0;
    for word in &words {
        if !seen.insert(word.as_str()) {
            continue;
        }
        let cost = lexeme_cost(word) + 2;
        if used + cost > VECTOR_BUDGET {
            parts.push(Vec::new());
            used = 0;
        }
        used += cost;
        parts.last_mut().expect("one part at least").push(word);
    }
    let mut texts = parts.into_iter().map(|part| part.join(" "));
    let own = texts.next().unwrap_or_default();
    (own, texts.collect())
}

/// Writes the parts of a large message's words ([`search_texts`]) beside it.
pub(crate) fn add_search_parts(
    conn: &mut crate::db::Conn<'_, '_>,
    message: uuid::Uuid,
    parts: &[String],
) -> Result<()> {
    conn.execute(
        "INSERT INTO message_search_parts (message_id, part, search_vector)
         SELECT $1, n::integer, to_tsvector('simple', t)
         FROM unnest($2::text[]) WITH ORDINALITY AS u(t, n)",
        &[&message, &parts],
    )
    .map(drop)
}

/// Replaces the parts of a message's words (a rebuild of the index).
pub(crate) fn replace_search_parts(
    conn: &mut crate::db::Conn<'_, '_>,
    message: uuid::Uuid,
    parts: &[String],
) -> Result<()> {
    conn.execute(
        "DELETE FROM message_search_parts WHERE message_id = $1",
        &[&message],
    )?;
    if parts.is_empty() {
        return Ok(());
    }
    add_search_parts(conn, message, parts)
}

/// Each checked word as a `tsquery` term: quoted (so nothing is read as query syntax),
/// the last one also matching as a prefix.
fn query_terms(words: &[String]) -> Vec<String> {
    let quote = |word: &str| format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"));
    let mut terms: Vec<String> = words.iter().map(|w| quote(w)).collect();
    if let Some(last) = terms.last_mut() {
        last.push_str(":*");
    }
    terms
}

/// The `tsquery` text for checked words: every term required.
fn query_text(words: &[String]) -> String {
    query_terms(words).join(" & ")
}

/// A value of a `ts_headline` option, double-quoted (a double quote doubled).
fn option_value(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// The `ts_headline` options: the query's markers, fragments of [`SNIPPET_WORDS`]
/// words joined by an ellipsis.
fn headline_options(query: &SearchQuery) -> String {
    format!(
        "StartSel={}, StopSel={}, MaxWords={SNIPPET_WORDS}, MinWords={}, ShortWord=0, \
         MaxFragments=2, FragmentDelimiter=\" … \"",
        option_value(&query.highlight_start),
        option_value(&query.highlight_end),
        SNIPPET_WORDS / 2,
    )
}

/// The search: matches ranked in a subquery, snippets made for the hits kept only.
const SEARCH: &str = "SELECT t.id, t.conversation_id, t.title, t.role,
        ts_headline('simple', t.content, to_tsquery('simple', $1), $3), t.score, t.created_at
 FROM (
     SELECT m.id, m.conversation_id, v.title, m.role, m.content, m.created_at,
            ts_rank(m.search_vector, to_tsquery('simple', $1))::float8 AS score
     FROM messages m JOIN conversations v ON v.id = m.conversation_id
     WHERE (m.search_vector @@ to_tsquery('simple', $1)
            -- A message too large for one vector: each word in its own or in a part.
            OR (m.id IN (SELECT p.message_id FROM message_search_parts p
                         WHERE p.search_vector @@ to_tsquery('simple', $7))
                AND NOT EXISTS (
                    SELECT 1 FROM unnest($8::text[]) AS q(term)
                    WHERE NOT (m.search_vector @@ to_tsquery('simple', q.term)
                               OR EXISTS (SELECT 1 FROM message_search_parts p
                                          WHERE p.message_id = m.id
                                            AND p.search_vector @@ to_tsquery('simple', q.term))))))
       AND v.user_id = $2 AND v.status <> 'deleted'
       AND (v.expires_at IS NULL OR v.expires_at > $9)
       AND ($4::uuid IS NULL OR v.id = $4) AND ($5::text IS NULL OR m.role = $5)
     ORDER BY score DESC, m.created_at DESC, m.id
     LIMIT $6
 ) t
 ORDER BY t.score DESC, t.created_at DESC, t.id";

impl SearchStore for PgStore {
    fn search_messages(&self, user: UserId, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let words = query.terms()?;
        let expression = query_text(&words);
        let terms = query_terms(&words);
        let any_term = terms.join(" | ");
        let options = headline_options(query);
        let limit = i64::from(query.limit);
        let conversation = query.conversation.map(|c| c.stored());
        let role = query.role.map(|r| r.as_str());
        let now = crate::row::at(self.now());
        let rows = self.db.read(|c| {
            c.rows(
                SEARCH,
                &[
                    &expression,
                    &user.stored(),
                    &options,
                    &conversation,
                    &role,
                    &limit,
                    &any_term,
                    &terms,
                    &now,
                ],
            )
        })?;
        rows.iter()
            .map(|row| {
                Ok(SearchHit {
                    message_id: row.id(0)?,
                    conversation_id: row.id(1)?,
                    conversation_title: row.opt_text(2)?,
                    role: row.parse(3)?,
                    snippet: row.text(4)?,
                    score: row.value::<Option<f64>>(5)?.unwrap_or_default(),
                    created_at: row.ts(6)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_syntax_in_the_text_is_only_words() {
        let expression = |text: &str| SearchQuery::new(text).terms().map(|w| query_text(&w));
        assert_eq!(expression("joint acc").unwrap(), "'joint' & 'acc':*");
        assert_eq!(
            expression("NEAR(\"a\" | b*) & !c").unwrap(),
            "'near' & 'a' & 'b' & 'c':*"
        );
        assert!(expression(" \"*()-&|!: ").is_err());
    }

    #[test]
    fn headline_markers_are_quoted() {
        let mut query = SearchQuery::new("x");
        query.highlight_start = "<b \"x\", y>".into();
        query.highlight_end = String::new();
        let options = headline_options(&query);
        assert!(options.starts_with("StartSel=\"<b \"\"x\"\", y>\", StopSel=\"\","));
    }

    #[test]
    fn short_messages_are_indexed_word_for_word() {
        assert_eq!(
            search_texts("Joint-accounts: a JOINT one"),
            ("joint accounts a joint one".to_owned(), Vec::new())
        );
    }

    #[test]
    fn a_huge_message_keeps_every_distinct_word_over_several_vectors() {
        let mut text = String::from("aardvark");
        let mut i = 0;
        while text.len() < 1_048_000 {
            text.push_str(&format!(" filler{i} aardvark"));
            i += 1;
        }
        text.push_str(" zymurgy");
        let (own, parts) = search_texts(&text);
        assert!(!parts.is_empty(), "too large for one vector");
        let budget = |t: &str| t.split(' ').map(|w| lexeme_cost(w) + 2).sum::<usize>();
        assert!(budget(&own) <= VECTOR_BUDGET);
        assert!(parts.iter().all(|p| budget(p) <= VECTOR_BUDGET));
        let all: Vec<&str> = std::iter::once(own.as_str())
            .chain(parts.iter().map(String::as_str))
            .flat_map(|t| t.split(' '))
            .collect();
        assert_eq!(all.first(), Some(&"aardvark"));
        assert_eq!(all.last(), Some(&"zymurgy"));
        assert_eq!(all.iter().filter(|w| **w == "aardvark").count(), 1);
        assert_eq!(all.len(), i + 2, "every distinct word, once");
    }
}
