//! Search text on a real store: `search::words` and `SearchStore::search_messages`.
//!
//! Words are non-empty, lower-cased runs with no quote (nothing of the text can become
//! FTS5 syntax); a search gives Ok or `Error::Validation`, never another error or a
//! panic, and is refused exactly when the text has no word or more than `MAX_WORDS`.
//! Hits are the user's own messages, at most `limit`, best first.
#![no_main]

use chatstore::search::{self, MAX_WORDS};
use chatstore::{MessageRole, SearchQuery, SearchStore};
use chatstore_fuzz::{assert_validation, chat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let chat = chat();
    // The first byte picks the options, the rest is the text.
    let (flags, text) = data.split_first().map_or((0, &[][..]), |(f, t)| (*f, t));
    let text = String::from_utf8_lossy(text);

    let words = search::words(&text);
    for word in &words {
        assert!(!word.is_empty());
        assert!(
            !word.contains('"'),
            "{word:?} could close a quoted FTS5 term"
        );
        assert!(word.chars().all(|c| !c.is_whitespace()));
    }

    let mut query = SearchQuery::new(&text);
    query.limit = u32::from(flags & 0x7) + 1;
    if flags & 0x08 != 0 {
        query = query.in_conversation(chat.conversation);
    }
    query.role = match (flags >> 4) & 0x3 {
        1 => Some(MessageRole::User),
        2 => Some(MessageRole::Assistant),
        3 => Some(MessageRole::System),
        _ => None,
    };
    if flags & 0x40 != 0 {
        query.highlight_start = "<mark>".to_owned();
        query.highlight_end = "</mark>".to_owned();
    }

    let result = chat.store.search_messages(chat.user, &query);
    assert_validation(&result, &format!("search {text:?}"));
    match result {
        Ok(hits) => {
            assert!(
                (1..=MAX_WORDS).contains(&words.len()),
                "{text:?} searched with {} words",
                words.len()
            );
            assert!(hits.len() <= query.limit as usize);
            for hit in &hits {
                assert!(
                    chat.messages.contains(&hit.message_id),
                    "a message of nobody's: {hit:?}"
                );
                assert_eq!(hit.conversation_id, chat.conversation);
                assert!(query.role.is_none_or(|role| role == hit.role));
                assert!(hit.score.is_finite());
            }
            assert!(
                hits.windows(2).all(|w| w[0].score >= w[1].score),
                "not best first"
            );
        }
        Err(_) => assert!(
            words.is_empty() || words.len() > MAX_WORDS,
            "{text:?} ({} words) refused",
            words.len()
        ),
    }
});
