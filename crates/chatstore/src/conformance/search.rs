//! Full-text search: words, prefixes, case, ranking, snippets, filters, deleted
//! conversations, query syntax, validation and index rebuilds; the largest message,
//! addresses and URLs, accents and letter case beyond ASCII.

use super::support::{answer, conversation, say, secs, user};
use super::{Backend, fixture, test_config};
use crate::{
    Conversation, Error, Message, MessageId, MessageRole, NewMessage, SearchHit, SearchQuery,
    Store, UserId,
};

/// Two conversations about accounts and pensions.
struct Corpus {
    user: UserId,
    accounts: Conversation,
    pensions: Conversation,
    joint_question: Message,
    joint_answer: Message,
    pension_question: Message,
    pension_answer: Message,
}

fn corpus(store: &dyn Store, clock: &crate::ManualClock) -> Corpus {
    let ada = user(store, "ada");
    let accounts = conversation(store, ada.id, "Accounts");
    let pensions = conversation(store, ada.id, "Pensions");
    clock.advance(secs(1));
    let joint_question = say(
        store,
        ada.id,
        accounts.id,
        "Who is eligible for a JOINT account?",
    );
    let joint_answer = answer(
        store,
        ada.id,
        accounts.id,
        "Joint accounts are open to two adults; a joint account needs both signatures.",
    );
    let pension_question = say(
        store,
        ada.id,
        pensions.id,
        "How does the state pension work?",
    );
    let pension_answer = answer(
        store,
        ada.id,
        pensions.id,
        "The state pension pays weekly. Pension credit tops up a low pension.",
    );
    Corpus {
        user: ada.id,
        accounts,
        pensions,
        joint_question,
        joint_answer,
        pension_question,
        pension_answer,
    }
}

fn hit_ids(hits: &[SearchHit]) -> Vec<MessageId> {
    let mut ids: Vec<MessageId> = hits.iter().map(|h| h.message_id).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<MessageId>) -> Vec<MessageId> {
    ids.sort();
    ids
}

fn search(store: &dyn Store, user: UserId, query: &SearchQuery) -> Vec<SearchHit> {
    store.search_messages(user, query).expect("search succeeds")
}

/// Every word must occur, in any order and any letter case.
pub fn search_all_words_any_order_any_case(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    let both = sorted(vec![c.joint_question.id, c.joint_answer.id]);
    for text in ["joint account", "ACCOUNT Joint", "jOiNt", "Eligible joint"] {
        let hits = search(s, c.user, &SearchQuery::new(text));
        if text == "Eligible joint" {
            assert_eq!(hit_ids(&hits), vec![c.joint_question.id], "{text}");
        } else {
            assert_eq!(hit_ids(&hits), both, "{text}");
        }
    }
    assert!(
        search(s, c.user, &SearchQuery::new("joint pension")).is_empty(),
        "no message has both words"
    );
    assert!(search(s, c.user, &SearchQuery::new("mortgage")).is_empty());
}

/// The last word also matches as a prefix; earlier words must be whole words.
pub fn search_last_word_matches_as_prefix(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    let hits = search(s, c.user, &SearchQuery::new("joint acc"));
    assert_eq!(
        hit_ids(&hits),
        sorted(vec![c.joint_question.id, c.joint_answer.id])
    );
    let hits = search(s, c.user, &SearchQuery::new("pens"));
    assert_eq!(
        hit_ids(&hits),
        sorted(vec![c.pension_question.id, c.pension_answer.id])
    );
    assert!(
        search(s, c.user, &SearchQuery::new("pens state")).is_empty(),
        "only the last word is a prefix"
    );
}

/// Hits come best first: more mentions rank higher and scores never rise down the list.
pub fn search_ranks_best_first(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    let hits = search(s, c.user, &SearchQuery::new("pension"));
    assert_eq!(hits.len(), 2);
    assert_eq!(
        hits[0].message_id, c.pension_answer.id,
        "three mentions beat one"
    );
    assert_eq!(hits[1].message_id, c.pension_question.id);
    assert!(hits[0].score > hits[1].score, "higher score is better");
    let hits = search(s, c.user, &SearchQuery::new("joint"));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

/// Hits name message, conversation, role and time; snippets mark matches with the markers.
pub fn search_hits_carry_details_and_highlighted_snippets(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    let hits = search(s, c.user, &SearchQuery::new("state"));
    assert_eq!(hits.len(), 2);
    let answer_hit = hits
        .iter()
        .find(|h| h.message_id == c.pension_answer.id)
        .expect("the answer matches");
    assert_eq!(answer_hit.conversation_id, c.pensions.id);
    assert_eq!(answer_hit.conversation_title.as_deref(), Some("Pensions"));
    assert_eq!(answer_hit.role, MessageRole::Assistant);
    assert_eq!(answer_hit.created_at, c.pension_answer.created_at);
    assert!(
        answer_hit.snippet.contains("**state**"),
        "default markers: {}",
        answer_hit.snippet
    );

    let mut query = SearchQuery::new("joint");
    query.highlight_start = "<mark>".into();
    query.highlight_end = "</mark>".into();
    let hits = search(s, c.user, &query);
    let question = hits
        .iter()
        .find(|h| h.message_id == c.joint_question.id)
        .expect("the question matches");
    assert!(
        question.snippet.contains("<mark>JOINT</mark>"),
        "the stored text is marked as written: {}",
        question.snippet
    );
    assert!(question.snippet.contains("eligible"));
    assert!(!question.snippet.contains("**"));
}

/// The conversation and role filters restrict hits, alone and together.
pub fn search_filters_by_conversation_and_role(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    let in_pensions = SearchQuery::new("pension").in_conversation(c.pensions.id);
    assert_eq!(search(s, c.user, &in_pensions).len(), 2);
    assert!(
        search(
            s,
            c.user,
            &SearchQuery::new("pension").in_conversation(c.accounts.id)
        )
        .is_empty()
    );
    let mut answers = SearchQuery::new("pension");
    answers.role = Some(MessageRole::Assistant);
    assert_eq!(
        hit_ids(&search(s, c.user, &answers)),
        vec![c.pension_answer.id]
    );
    let mut questions = SearchQuery::new("joint").in_conversation(c.accounts.id);
    questions.role = Some(MessageRole::User);
    assert_eq!(
        hit_ids(&search(s, c.user, &questions)),
        vec![c.joint_question.id]
    );
    questions.role = Some(MessageRole::System);
    assert!(search(s, c.user, &questions).is_empty());
}

/// Soft-deleted conversations are not searched; archived, closed and hidden ones are.
pub fn search_skips_soft_deleted_conversations(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    s.delete_conversation(c.user, c.pensions.id)
        .expect("delete");
    assert!(search(s, c.user, &SearchQuery::new("pension")).is_empty());
    assert!(
        search(
            s,
            c.user,
            &SearchQuery::new("pension").in_conversation(c.pensions.id)
        )
        .is_empty()
    );
    s.restore_conversation(c.user, c.pensions.id)
        .expect("restore");
    assert_eq!(search(s, c.user, &SearchQuery::new("pension")).len(), 2);
    s.archive_conversation(c.user, c.pensions.id)
        .expect("archive");
    assert_eq!(search(s, c.user, &SearchQuery::new("pension")).len(), 2);
    s.close_conversation(c.user, c.accounts.id).expect("close");
    assert_eq!(search(s, c.user, &SearchQuery::new("joint")).len(), 2);
    s.hide_conversation(c.user, c.accounts.id).expect("hide");
    assert_eq!(
        search(s, c.user, &SearchQuery::new("joint")).len(),
        2,
        "hidden conversations are searched"
    );
    s.delete_conversation(c.user, c.pensions.id)
        .expect("delete");
    s.purge_conversation(c.user, c.pensions.id).expect("purge");
    assert!(search(s, c.user, &SearchQuery::new("pension")).is_empty());
}

/// Query syntax characters are mere word separators: no error, and the words are found.
pub fn search_query_syntax_is_harmless(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    let joint = sorted(vec![c.joint_question.id, c.joint_answer.id]);
    for text in [
        "joint*",
        "\"joint\"",
        "(joint)",
        "-joint",
        "+joint",
        "joint^",
        "{joint}",
        "joint:acc",
        "joint:",
        "'joint'",
        "joint;--",
        "joint\" OR \"",
    ] {
        let hits = s
            .search_messages(c.user, &SearchQuery::new(text))
            .unwrap_or_else(|e| panic!("{text:?} is searched as words, not syntax: {e}"));
        if text.contains(" OR ") {
            assert!(hits.is_empty(), "OR is a word here, and no message has it");
        } else {
            assert_eq!(hit_ids(&hits), joint, "{text:?}");
        }
    }
    for text in [
        "NEAR(joint account)",
        "joint AND pension",
        "joint NOT account",
        "x\"y",
        "joint OR pension",
    ] {
        let hits = s
            .search_messages(c.user, &SearchQuery::new(text))
            .unwrap_or_else(|e| panic!("{text:?} is searched as words, not syntax: {e}"));
        assert!(hits.is_empty(), "{text:?} found {hits:?}");
    }
    let odd = say(
        s,
        c.user,
        c.accounts.id,
        "Price: $5 (approx.) — “quoted” AND/OR",
    );
    let hits = search(s, c.user, &SearchQuery::new("approx quoted"));
    assert_eq!(hit_ids(&hits), vec![odd.id]);
}

/// A query without words or a limit outside 1–1000 is a validation error; limits cap hits.
pub fn search_rejects_empty_query_and_bad_limit(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    for text in ["", "   ", "?!*()\"", "- : ^"] {
        assert_err!(
            s.search_messages(c.user, &SearchQuery::new(text)),
            Error::Validation { field: "query", .. },
            "{text:?}"
        );
    }
    for limit in [0, 1001] {
        let mut query = SearchQuery::new("joint");
        query.limit = limit;
        assert_err!(
            s.search_messages(c.user, &query),
            Error::Validation { field: "limit", .. }
        );
    }
    let mut one = SearchQuery::new("pension");
    one.limit = 1;
    let hits = search(s, c.user, &one);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, c.pension_answer.id, "the best hit");
}

/// New messages are searchable at once, and rebuilding the index keeps every result.
pub fn search_index_follows_appends_and_survives_rebuild(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    assert!(search(s, c.user, &SearchQuery::new("annuity")).is_empty());
    let new = say(s, c.user, c.pensions.id, "What about an annuity?");
    assert_eq!(
        hit_ids(&search(s, c.user, &SearchQuery::new("annuity"))),
        vec![new.id]
    );
    let queries = ["joint", "pension", "state pen", "annuity", "two adults"];
    let before: Vec<Vec<SearchHit>> = queries
        .iter()
        .map(|q| search(s, c.user, &SearchQuery::new(q)))
        .collect();
    s.rebuild_search_index().expect("rebuild");
    let after: Vec<Vec<SearchHit>> = queries
        .iter()
        .map(|q| search(s, c.user, &SearchQuery::new(q)))
        .collect();
    for (q, (b, a)) in queries.iter().zip(before.iter().zip(&after)) {
        let ids = |hits: &[SearchHit]| hits.iter().map(|h| h.message_id).collect::<Vec<_>>();
        assert_eq!(ids(a), ids(b), "{q}");
        assert!(!a.is_empty(), "{q}");
    }
}

/// Every word of a long query counts: a word nobody wrote, even the 65th, means no hits.
pub fn search_every_word_of_a_long_query_counts(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let c = corpus(s, &f.clock);
    for words in [10, 63, 64, 65, 100] {
        let mut text = vec!["joint"; words - 1].join(" ");
        text.push_str(" zeppelin");
        match s.search_messages(c.user, &SearchQuery::new(&text)) {
            Ok(hits) => assert!(
                hits.is_empty(),
                "{words} words, the last written nowhere, found {:?}",
                hit_ids(&hits)
            ),
            Err(Error::Validation { field: "query", .. }) => {}
            Err(other) => panic!("{words} words: unexpected {other:?}"),
        }
        let mut text = vec!["pension"; words - 1].join(" ");
        text.push_str(" state");
        if let Ok(hits) = s.search_messages(c.user, &SearchQuery::new(&text)) {
            assert_eq!(hits.len(), 2, "{words} words that all occur");
        }
    }
}

/// The ids of the messages `text` finds, sorted.
fn found(store: &dyn Store, user: UserId, text: &str) -> Vec<MessageId> {
    hit_ids(&search(store, user, &SearchQuery::new(text)))
}

/// A message of exactly the configured maximum size (`Config::max_message_bytes`, 1 MiB
/// by default), about 95,000 distinct words, is stored and found by its first word, its
/// last word, both together and a word from its middle; one byte more is refused. A
/// backend whose index caps a document (PostgreSQL's `tsvector` holds at most 1 MB and
/// records positions only up to 16,383) must still index the words at the end.
pub fn search_largest_message_is_searchable_at_both_ends(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let max = test_config().0.max_message_bytes;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "long");
    let (head, middle, tail) = ("aardvark", "filler45678", "zymurgy");
    let mut text = String::with_capacity(max + 1);
    text.push_str(head);
    let mut i = 0u32;
    while text.len() + tail.len() + 16 < max {
        text.push_str(&format!(" filler{i}"));
        i += 1;
    }
    while text.len() + tail.len() < max {
        text.push(' ');
    }
    text.push_str(tail);
    assert_eq!(text.len(), max, "the message is exactly the limit");
    assert!(i > 45678, "the middle word is in the message");
    let long = say(s, ada.id, chat.id, &text);
    let short = say(s, ada.id, chat.id, "aardvark and zymurgy, briefly");
    let both = sorted(vec![long.id, short.id]);
    assert_eq!(found(s, ada.id, head), both, "the first word");
    assert_eq!(found(s, ada.id, tail), both, "the last word");
    assert_eq!(found(s, ada.id, "zymurgy aardvark"), both, "both ends");
    assert_eq!(
        found(s, ada.id, middle),
        vec![long.id],
        "a word in the middle"
    );
    let hits = search(s, ada.id, &SearchQuery::new(tail).in_conversation(chat.id));
    let hit = hits
        .iter()
        .find(|h| h.message_id == long.id)
        .expect("the long message is a hit");
    assert!(
        hit.snippet.contains("**zymurgy**"),
        "the snippet shows the match at the end: {}",
        hit.snippet
    );
    text.push('x');
    assert_err!(
        s.append_message(ada.id, chat.id, &NewMessage::user(text)),
        Error::Validation {
            field: "content",
            ..
        }
    );
}

/// E-mail addresses, URLs and paths like `a/b` are split into their runs of letters and
/// digits, the same words [`crate::search::words`] makes of a query: searching a whole
/// address or URL finds the message, and so does searching any part of it
/// (`lovelace`, `example.com`, `guide/setup`), in any letter case. The parts are plain
/// words, not a phrase: they need not be adjacent (`guide/setup` also finds a message
/// saying "setup guide"), and a run across punctuation (`adaexample`) is no word. This
/// is SQLite's behaviour (FTS5's `unicode61` tokenizer). PostgreSQL's default parser
/// instead keeps an address or URL as one token, so that `lovelace` would not find it;
/// a backend there feeds its index the same words, for instance
/// `to_tsvector('simple', regexp_replace(content, '[^[:alnum:]]+', ' ', 'g'))`.
pub fn search_addresses_urls_and_paths_split_into_words(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "links");
    let mail = say(
        s,
        ada.id,
        chat.id,
        "Write to ada.lovelace@example.com about it",
    )
    .id;
    let url = say(
        s,
        ada.id,
        chat.id,
        "See https://docs.example.org/guide/setup?lang=en#install first",
    )
    .id;
    let path = say(s, ada.id, chat.id, "We ran an a/b test").id;
    let plain = say(s, ada.id, chat.id, "An example of docs, with a setup guide").id;
    for (query, expected) in [
        ("ada.lovelace@example.com", vec![mail]),
        ("ADA.LOVELACE@EXAMPLE.COM", vec![mail]),
        ("lovelace@example.com", vec![mail]),
        ("example.com", vec![mail]),
        ("lovelace", vec![mail]),
        ("example", vec![mail, url, plain]),
        (
            "https://docs.example.org/guide/setup?lang=en#install",
            vec![url],
        ),
        ("docs.example.org", vec![url]),
        ("https", vec![url]),
        ("guide/setup", vec![url, plain]),
        ("setup?lang=en", vec![url]),
        ("a/b", vec![path]),
        ("A/B", vec![path]),
        ("b", vec![path]),
        ("adaexample", vec![]),
        ("docsexample", vec![]),
    ] {
        assert_eq!(found(s, ada.id, query), sorted(expected), "{query:?}");
    }
}

/// Words with accents and letters outside ASCII are found as written and in any letter
/// case: "café" and "CAFÉ" each find both "café" and "CAFÉ", "МОСКВА" finds "Москва",
/// "caf" finds both as a prefix, and snippets show the text as stored. (A PostgreSQL
/// backend needs a database whose character type folds all of Unicode, not `C`.)
///
/// Whether a search without the accent finds the accented word is left to the backend:
/// on SQLite "cafe" finds "café" (and "café" finds "cafe"), because FTS5 is set up with
/// `remove_diacritics 2`; PostgreSQL does so only with the `unaccent` extension, which a
/// deployment may not be allowed to install, so the suite holds neither behaviour.
pub fn search_accented_words_and_case_folding(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "accents");
    let french = say(s, ada.id, chat.id, "Un café, s'il vous plaît").id;
    let shouting = say(s, ada.id, chat.id, "CAFÉ CRÈME À EMPORTER").id;
    let russian = say(s, ada.id, chat.id, "Москва зимой").id;
    let english = say(s, ada.id, chat.id, "A coffee shop").id;
    let cafes = sorted(vec![french, shouting]);
    for (query, expected) in [
        ("café", cafes.clone()),
        ("CAFÉ", cafes.clone()),
        ("Café", cafes.clone()),
        ("caf", cafes.clone()),
        ("crème", vec![shouting]),
        ("CRÈME", vec![shouting]),
        ("à emporter", vec![shouting]),
        ("plaît", vec![french]),
        ("PLAÎT", vec![french]),
        ("москва", vec![russian]),
        ("МОСКВА", vec![russian]),
        ("ЗИМОЙ москва", vec![russian]),
        ("coffee", vec![english]),
    ] {
        assert_eq!(found(s, ada.id, query), expected, "{query:?}");
    }
    let hits = search(s, ada.id, &SearchQuery::new("CAFÉ"));
    let snippet = |id| {
        hits.iter()
            .find(|h| h.message_id == id)
            .map(|h| h.snippet.clone())
            .expect("a hit")
    };
    assert!(snippet(french).contains("**café**"), "{}", snippet(french));
    assert!(
        snippet(shouting).contains("**CAFÉ**"),
        "{}",
        snippet(shouting)
    );
}
