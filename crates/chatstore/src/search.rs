//! Full-text search over a user's messages, ranked by relevance, with highlighted snippets.

use serde::{Deserialize, Serialize};

use crate::{ConversationId, Error, MessageId, MessageRole, Result, Timestamp, UserId};

/// A search of the user's messages.
///
/// The text is taken as plain words, never as query syntax: every word must occur
/// (in any order, any case), and the last word also matches as a prefix, so
/// `"joint acc"` finds "joint accounts".
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// The words to look for: 1 to [`MAX_WORDS`] words of letters or digits.
    pub text: String,
    /// Only this conversation's messages.
    pub conversation: Option<ConversationId>,
    /// Only messages with this role.
    pub role: Option<MessageRole>,
    /// At most this many hits, 1–1000.
    pub limit: u32,
    /// Put before each matched word in the snippet.
    pub highlight_start: String,
    /// Put after each matched word in the snippet.
    pub highlight_end: String,
}

impl SearchQuery {
    /// A search for `text` across all the user's conversations, 20 hits, matches marked
    /// as `**bold**`. Snippets are the message text as stored: escape it before putting it
    /// in HTML.
    pub fn new(text: &str) -> SearchQuery {
        SearchQuery {
            text: text.to_owned(),
            conversation: None,
            role: None,
            limit: 20,
            highlight_start: "**".to_owned(),
            highlight_end: "**".to_owned(),
        }
    }

    /// Restricts the search to one conversation.
    pub fn in_conversation(mut self, conversation: ConversationId) -> SearchQuery {
        self.conversation = Some(conversation);
        self
    }

    /// The checked query a backend runs: its words ([`words`] of the text, 1 to
    /// [`MAX_WORDS`]), its limit (1–1000) and highlight markers (at most 64 bytes, no
    /// NUL). Anything else is [`crate::Error::Validation`] naming the field.
    ///
    /// ```
    /// use chatstore::SearchQuery;
    ///
    /// assert_eq!(SearchQuery::new("Joint acc").terms().unwrap(), ["joint", "acc"]);
    /// assert!(SearchQuery::new(" -*- ").terms().is_err());
    /// ```
    pub fn terms(&self) -> Result<Vec<String>> {
        crate::validate::page_limit(self.limit)?;
        for (field, marker) in [
            ("highlight_start", &self.highlight_start),
            ("highlight_end", &self.highlight_end),
        ] {
            if marker.len() > MAX_MARKER_BYTES {
                return Err(Error::validation(
                    field,
                    format!("must be at most {MAX_MARKER_BYTES} bytes"),
                ));
            }
            crate::validate::no_nul(field, marker)?;
        }
        let words = words(&self.text);
        if words.len() > MAX_WORDS {
            return Err(Error::validation(
                "query",
                format!(
                    "has {} words; at most {MAX_WORDS} are searched",
                    words.len()
                ),
            ));
        }
        if words.is_empty() {
            return Err(Error::validation(
                "query",
                "must contain at least one word of letters or digits",
            ));
        }
        Ok(words)
    }
}

/// Longest highlight marker, in bytes.
pub const MAX_MARKER_BYTES: usize = 64;

/// One message that matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The message.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its conversation's title.
    pub conversation_title: Option<String>,
    /// Who wrote it.
    pub role: MessageRole,
    /// A short extract around the matches, with the matches marked.
    pub snippet: String,
    /// The backend's relevance of the match (BM25 on SQLite); higher is better, and only
    /// comparable within one search.
    pub score: f64,
    /// When the message was written.
    pub created_at: Timestamp,
}

/// Searching messages.
pub trait SearchStore: Send + Sync {
    /// The user's messages matching the query, best first. Soft-deleted conversations
    /// are not searched. A query with no words, or more than [`MAX_WORDS`], is
    /// [`crate::Error::Validation`].
    fn search_messages(&self, user: UserId, query: &SearchQuery) -> Result<Vec<SearchHit>>;
}

/// Most words a search may have.
pub const MAX_WORDS: usize = 64;

/// Turns free text into the words a search looks for: runs of letters and digits,
/// lower-cased. Used by backends to build their own query syntax safely.
///
/// ```
/// assert_eq!(chatstore::search::words("Joint-accounts: \"what\" about?"), ["joint", "accounts", "what", "about"]);
/// ```
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
