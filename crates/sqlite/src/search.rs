//! [`SearchStore`] on SQLite's FTS5: BM25 ranking and highlighted snippets.

use chatstore::{Result, SearchHit, SearchQuery, SearchStore, UserId};
use rusqlite::ToSql;

use crate::SqliteStore;
use crate::row::RowExt;

/// Words of context around the matches in a snippet.
const SNIPPET_WORDS: i64 = 16;

/// The FTS5 query for checked words: each quoted (so nothing in the text is read as
/// query syntax), all required, the last one also matching as a prefix.
fn match_expression(words: &[String]) -> String {
    let mut terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    if let Some(last) = terms.last_mut() {
        last.push('*');
    }
    terms.join(" ")
}

impl SearchStore for SqliteStore {
    fn search_messages(&self, user: UserId, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let expression = match_expression(&query.terms()?);
        let limit = query.limit;
        let conversation = query.conversation.map(|c| c.to_string());
        let role = query.role.map(|r| r.as_str());
        let user_text = user.to_string();
        let now = self.now().to_string();
        // Messages appended before this search began are searchable in it.
        if crate::indexer::any_waiting(&self.db)? {
            crate::indexer::index_waiting(&self.db)?;
        }
        let params: [&dyn ToSql; 8] = [
            &expression,
            &user_text,
            &query.highlight_start,
            &query.highlight_end,
            &conversation,
            &role,
            &limit,
            &now,
        ];
        self.db.read(|c| {
            c.rows(
                &format!(
                    "SELECT m.id, m.conversation_id, v.title, m.role,
                            snippet(messages_fts, 0, ?3, ?4, '…', {SNIPPET_WORDS}),
                            -bm25(messages_fts), m.created_at
                     FROM messages_fts
                     JOIN messages m ON m.pk = messages_fts.rowid
                     JOIN conversations v ON v.id = m.conversation_id
                     WHERE messages_fts MATCH ?1 AND v.user_id = ?2 AND v.status <> 'deleted'
                       AND (?5 IS NULL OR v.id = ?5) AND (?6 IS NULL OR m.role = ?6)
                       AND (v.expires_at IS NULL OR v.expires_at > ?8)
                     ORDER BY rank LIMIT ?7 + 0"
                ),
                &params,
                |row| {
                    Ok(SearchHit {
                        message_id: row.parse(0)?,
                        conversation_id: row.parse(1)?,
                        conversation_title: row.opt_text(2)?,
                        role: row.parse(3)?,
                        snippet: row.text(4)?,
                        score: row.opt_real(5)?.unwrap_or_default(),
                        created_at: row.ts(6)?,
                    })
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_syntax_in_the_text_is_only_words() {
        let expression = |text: &str| SearchQuery::new(text).terms().map(|w| match_expression(&w));
        assert_eq!(expression("joint acc").unwrap(), "\"joint\" \"acc\"*");
        assert_eq!(
            expression("NEAR(\"a\" OR b*) -c").unwrap(),
            "\"near\" \"a\" \"or\" \"b\" \"c\"*"
        );
        assert!(expression(" \"*()- ").is_err());
    }
}
