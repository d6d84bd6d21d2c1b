//! [`SearchStore`] on PostgreSQL's full-text search: each message carries a `tsvector`
//! of its words, written in the message's `INSERT`, matched with `@@`, ranked with
//! `ts_rank` and shown with `ts_headline`.
//!
//! The words are the core's ([`chatstore::search::words`]), the same on every backend,
//! handed to `to_tsvector` in the `simple` configuration (no stemming, no stop words). A
//! `tsvector` holds at most 1 MB of lexemes and positions, so the words of a very large
//! message are cut to a budget ([`search_text`]): its distinct words, from the start and
//! from the end.

use std::collections::{HashMap, HashSet};

use chatstore::{Result, SearchHit, SearchQuery, SearchStore, UserId};

use crate::PgStore;
use crate::row::{RowExt, UuidId};

/// Most bytes a message's `tsvector` is estimated to take (PostgreSQL refuses more than
/// 1 MB); a message whose words take more is indexed by its distinct words only.
const VECTOR_BUDGET: usize = 600_000;

/// Of [`VECTOR_BUDGET`], what is kept for a cut message's last words.
const TAIL_BUDGET: usize = 150_000;

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

/// The text a message's `tsvector` is built from (`to_tsvector('simple', text)`): its
/// words ([`chatstore::search::words`]) separated by spaces. When they would not fit in
/// a `tsvector` comfortably, the message's distinct words instead, in the order first
/// seen: as many from its start as fit the budget, then as many more from its end, so
/// that it is found by its first and last words (not by the middle words left out, and
/// ranked as if each word occurred once).
pub(crate) fn search_text(content: &str) -> String {
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
        return words.join(" ");
    }
    let mut kept: HashSet<&str> = HashSet::new();
    let mut used = 0;
    let mut head: Vec<&str> = Vec::new();
    for word in &words {
        if kept.contains(word.as_str()) {
            continue;
        }
        let cost = lexeme_cost(word) + 2;
        if used + cost > VECTOR_BUDGET - TAIL_BUDGET {
            break;
        }
        used += cost;
        kept.insert(word);
        head.push(word);
    }
    let mut tail: Vec<&str> = Vec::new();
    for word in words.iter().rev() {
        if kept.contains(word.as_str()) {
            continue;
        }
        let cost = lexeme_cost(word) + 2;
        if used + cost > VECTOR_BUDGET {
            break;
        }
        used += cost;
        kept.insert(word);
        tail.push(word);
    }
    tail.reverse();
    head.extend(tail);
    head.join(" ")
}

/// The `tsquery` text for checked words: each quoted (so nothing is read as query
/// syntax), all required, the last one also matching as a prefix.
fn query_text(words: &[String]) -> String {
    let quote = |word: &str| format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"));
    let mut terms: Vec<String> = words.iter().map(|w| quote(w)).collect();
    if let Some(last) = terms.last_mut() {
        last.push_str(":*");
    }
    terms.join(" & ")
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
     WHERE m.search_vector @@ to_tsquery('simple', $1)
       AND v.user_id = $2 AND v.status <> 'deleted'
       AND ($4::uuid IS NULL OR v.id = $4) AND ($5::text IS NULL OR m.role = $5)
     ORDER BY score DESC, m.created_at DESC, m.id
     LIMIT $6
 ) t
 ORDER BY t.score DESC, t.created_at DESC, t.id";

impl SearchStore for PgStore {
    fn search_messages(&self, user: UserId, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let expression = query_text(&query.terms()?);
        let options = headline_options(query);
        let limit = i64::from(query.limit);
        let conversation = query.conversation.map(|c| c.stored());
        let role = query.role.map(|r| r.as_str());
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
            search_text("Joint-accounts: a JOINT one"),
            "joint accounts a joint one"
        );
    }

    #[test]
    fn a_huge_message_keeps_distinct_words_from_both_ends() {
        let mut text = String::from("aardvark");
        let mut i = 0;
        while text.len() < 1_048_000 {
            text.push_str(&format!(" filler{i} aardvark"));
            i += 1;
        }
        text.push_str(" zymurgy");
        let indexed = search_text(&text);
        assert!(indexed.len() <= VECTOR_BUDGET);
        let words: Vec<&str> = indexed.split(' ').collect();
        assert_eq!(words.first(), Some(&"aardvark"));
        assert_eq!(words.last(), Some(&"zymurgy"));
        assert_eq!(words.iter().filter(|w| **w == "aardvark").count(), 1);
        assert!(words.contains(&"filler0"));
        assert!(words.contains(&format!("filler{}", i - 1).as_str()));
    }
}
