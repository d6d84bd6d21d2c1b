//! The short run of the parser fuzzing (the long one is `cargo fuzz`, see
//! fuzz/README.md): every parser of outside input — typed ids, blob keys, metadata
//! JSON, search text, listing cursors and vector index snapshot files — on generated
//! input shaped like what breaks parsers, checked against what the input should give.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use chatstore::json::{self, MAX_DEPTH};
use chatstore::search::{self, MAX_WORDS};
use chatstore::{
    AgentLogId, BlobKey, ChunkId, CollectionInfo, CollectionSpec, ConversationId,
    ConversationQuery, ConversationStore, Cursor, Distance, DocumentId, DocumentQuery,
    DocumentStore, EmbeddingSource, Error, IdKind, ManualClock, MessageId, MessageMetadata,
    MessageQuery, MessageRole, MessageStore, NewConversation, NewDocument, NewMessage, NewUser,
    Order, Page, Result, SearchQuery, SearchStore, SessionId, UsageId, UserId, UserQuery,
    UserStore, VectorFilter, VectorIndex, VectorRecord, Visibility,
};
use chatstore_sqlite::SqliteStore;
use chatstore_tests::TempSqlite;
use chatstore_vector::{BuildParams, HnswIndex, IndexConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::Value;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

// ---------------------------------------------------------------------------------
// Typed ids and blob keys
// ---------------------------------------------------------------------------------

const KINDS: [IdKind; 8] = [
    IdKind::User,
    IdKind::Session,
    IdKind::Conversation,
    IdKind::Message,
    IdKind::Document,
    IdKind::Chunk,
    IdKind::AgentLog,
    IdKind::Usage,
];

/// Hyphenated UUID text of `bits` with this version nibble and low (kind) nibble.
fn uuid_text(bits: u128, version: u8, tag: u8) -> String {
    let bits = (bits & !(0xF << 76) & !0xF) | (u128::from(version) << 76) | u128::from(tag);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// What the id parsers must make of `text`, worked out independently: `None` when it
/// is no UUID (hyphenated, braced or 32 plain hex digits, spaces around allowed), else
/// its canonical text, version nibble and kind nibble.
fn oracle(text: &str) -> Option<(String, u32, u32)> {
    let text = text.trim();
    let text = match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        Some(inner) if inner.len() == 36 => inner,
        _ => text,
    };
    let bytes = text.as_bytes();
    let hex: String = match bytes.len() {
        32 => text.to_owned(),
        36 if [8, 13, 18, 23].iter().all(|&at| bytes[at] == b'-') => text.replace('-', ""),
        _ => return None,
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    let digit = |at: usize| (hex.as_bytes()[at] as char).to_digit(16);
    let (version, tag) = (digit(12)?, digit(31)?);
    let canonical = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    Some((canonical, version, tag))
}

/// The kind an id with this version and tag names, if it is a chatstore id.
fn kind_of(version: u32, tag: u32) -> Option<IdKind> {
    (version == 7 && (1..=8).contains(&tag)).then(|| KINDS[tag as usize - 1])
}

/// Parses `text` as every id type, checking each against the oracle; returns the kinds
/// that accepted it.
fn parse_every_kind(text: &str) -> std::result::Result<Vec<IdKind>, TestCaseError> {
    fn one<T>(text: &str, kind: IdKind) -> std::result::Result<bool, TestCaseError>
    where
        T: std::str::FromStr<Err = Error> + std::fmt::Display + PartialEq + std::fmt::Debug,
    {
        let expected = oracle(text);
        let found = expected
            .as_ref()
            .and_then(|(_, version, tag)| kind_of(*version, *tag));
        match text.parse::<T>() {
            Ok(id) => {
                prop_assert_eq!(found, Some(kind), "{:?} accepted", text);
                let shown = id.to_string();
                prop_assert_eq!(Some(&shown), expected.as_ref().map(|(c, _, _)| c));
                prop_assert_eq!(shown.parse::<T>().ok(), Some(id));
                Ok(true)
            }
            Err(Error::InvalidId {
                expected,
                found: named,
                id,
            }) => {
                prop_assert_eq!(expected, kind);
                prop_assert_ne!(found, Some(kind), "{:?} refused", text);
                prop_assert_eq!(named, found, "the kind named in the error");
                prop_assert!(id.chars().count() <= 64);
                Ok(false)
            }
            Err(other) => Err(TestCaseError::fail(format!("{text:?}: {other:?}"))),
        }
    }
    let results = [
        one::<UserId>(text, IdKind::User)?,
        one::<SessionId>(text, IdKind::Session)?,
        one::<ConversationId>(text, IdKind::Conversation)?,
        one::<MessageId>(text, IdKind::Message)?,
        one::<DocumentId>(text, IdKind::Document)?,
        one::<ChunkId>(text, IdKind::Chunk)?,
        one::<AgentLogId>(text, IdKind::AgentLog)?,
        one::<UsageId>(text, IdKind::Usage)?,
    ];
    Ok(KINDS
        .iter()
        .zip(results)
        .filter(|(_, ok)| *ok)
        .map(|(k, _)| *k)
        .collect())
}

/// Characters that break id and key parsers when they stand in for one.
fn odd_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        '0', '7', '9', 'a', 'f', 'A', 'F', 'g', 'G', 'z', '-', '_', ' ', '\t', '\n', '{', '}', '/',
        '.', ':', '~', '\0', 'é', 'ß', '٣', '０', '\u{200b}', '\u{feff}',
    ])
}

/// A chatstore id's text (tag 1–8, version 7), another version's, or another tag's.
fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (any::<u128>(), 1u8..=8).prop_map(|(bits, tag)| uuid_text(bits, 7, tag)),
        1 => (any::<u128>(), 0u8..16, 1u8..=8).prop_map(|(bits, v, tag)| uuid_text(bits, v, tag)),
        1 => (any::<u128>(), prop_oneof![Just(0u8), 9u8..16]).prop_map(|(b, tag)| uuid_text(b, 7, tag)),
    ]
}

/// An id's text with one of these done to it: nothing, a character replaced, one
/// removed, one inserted, upper-cased, padded with spaces, braced, hyphens removed.
fn mangled_id() -> impl Strategy<Value = String> {
    (id_text(), 0usize..40, odd_char(), 0u8..8).prop_map(|(text, at, c, how)| {
        let mut chars: Vec<char> = text.chars().collect();
        let at = at % chars.len();
        match how {
            0 => text,
            1 | 2 => {
                chars[at] = c;
                chars.into_iter().collect()
            }
            3 => {
                chars.remove(at);
                chars.into_iter().collect()
            }
            4 => {
                chars.insert(at, c);
                chars.into_iter().collect()
            }
            5 => text.to_uppercase(),
            6 => format!(" {text}\n"),
            _ => {
                if at.is_multiple_of(2) {
                    format!("{{{text}}}")
                } else {
                    text.replace('-', "")
                }
            }
        }
    })
}

#[test]
fn ids_parse_exactly_the_uuids_of_their_kind_and_round_trip() {
    runner(5000)
        .run(&mangled_id(), |text| {
            let accepted = parse_every_kind(&text)?;
            prop_assert!(accepted.len() <= 1, "{:?} is several kinds", text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn braced_simple_and_urn_spellings_name_the_same_id() {
    let id = MessageId::new();
    let text = id.to_string();
    for other in [
        format!("{{{text}}}"),
        text.replace('-', ""),
        format!("urn:uuid:{text}"),
        text.to_uppercase(),
        format!("\t{text} "),
    ] {
        assert_eq!(other.parse::<MessageId>().unwrap(), id, "{other:?}");
    }
}

/// The index part of a blob key: canonical, with a leading zero, signed, too large,
/// empty, or with other characters.
fn key_index() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..1000).prop_map(|i| i.to_string()),
        1 => Just(u32::MAX.to_string()),
        1 => Just("4294967296".to_owned()),
        1 => "0[0-9]{1,3}",
        1 => "[+-][0-9]{1,3}",
        1 => "[0-9]{10,12}",
        1 => "[0-9 ._/a-z٣]{0,4}",
    ]
}

fn blob_key_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            3 => Just(MessageId::new().to_string()),
            1 => mangled_id(),
        ],
        prop_oneof![Just("/"), Just("//"), Just("\\"), Just("/../")],
        key_index(),
        prop_oneof![
            Just(""),
            Just(".thumb"),
            Just(".thumb.thumb"),
            Just(".THUMB"),
            Just(".thumbs")
        ],
    )
        .prop_map(|(message, slash, index, suffix)| format!("{message}{slash}{index}{suffix}"))
}

#[test]
fn blob_keys_accept_one_spelling_of_the_index_and_round_trip() {
    runner(3000)
        .run(&blob_key_text(), |text| {
            let expected = text.split_once('/').and_then(|(message, rest)| {
                let message = message.parse::<MessageId>().ok()?;
                let (index, thumbnail) = match rest.strip_suffix(".thumb") {
                    Some(index) => (index, true),
                    None => (rest, false),
                };
                let canonical = index.bytes().all(|b| b.is_ascii_digit())
                    && (index == "0" || !index.starts_with('0'));
                let index = index.parse::<u32>().ok().filter(|_| canonical)?;
                Some(BlobKey {
                    message,
                    index,
                    thumbnail,
                })
            });
            match text.parse::<BlobKey>() {
                Ok(key) => {
                    prop_assert_eq!(Some(key), expected, "{:?}", text);
                    prop_assert_eq!(key.to_string().parse::<BlobKey>().ok(), Some(key));
                    let json = serde_json::to_string(&key).unwrap();
                    prop_assert_eq!(serde_json::from_str::<BlobKey>(&json).ok(), Some(key));
                }
                Err(Error::Validation { field, .. }) => {
                    prop_assert_eq!(expected, None, "{:?}", text);
                    prop_assert_eq!(field, "blob key");
                }
                Err(Error::InvalidId { .. }) => prop_assert_eq!(expected, None, "{:?}", text),
                Err(other) => prop_assert!(false, "{:?}: {:?}", text, other),
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------
// Metadata JSON
// ---------------------------------------------------------------------------------

/// Finite floats of every magnitude, including the ones hardest to print and read back.
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        0.0..=1.0f64,
        Just(0.1 + 0.2),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(f64::MAX),
        Just(-0.0),
        Just(1.0 - f64::EPSILON / 2.0),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        float().prop_map(Value::from),
        "[a-z\"\\\\\\[\\]{}é\u{0}\u{7f}\u{1f600}]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_\"\\\\]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn metadata() -> impl Strategy<Value = MessageMetadata> {
    (
        prop::option::of("[ -~]{0,20}"),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u64>()),
        prop::option::of(float()),
        any::<bool>(),
        prop::collection::vec("[a-zA-Z ]{0,10}", 0..3),
        prop::collection::btree_map("[a-z_]{1,6}", json_value(), 0..4),
    )
        .prop_map(
            |(request_id, tokens, latency_ms, confidence, warning, agents, extra)| {
                MessageMetadata {
                    request_id,
                    tokens,
                    latency_ms,
                    confidence_score: confidence,
                    low_confidence_warning: warning,
                    agents_involved: agents,
                    extra: extra.into_iter().collect(),
                    ..MessageMetadata::default()
                }
            },
        )
}

#[test]
fn accepted_metadata_round_trips_through_its_json() {
    runner(1000)
        .run(&metadata(), |metadata| {
            let text = serde_json::to_string(&metadata).unwrap();
            let depth_ok = json::depth(&text) <= MAX_DEPTH;
            match MessageMetadata::from_json(&text) {
                Ok(back) => {
                    prop_assert!(depth_ok);
                    prop_assert_eq!(&back, &metadata, "{}", text);
                    let value = serde_json::to_value(&metadata).unwrap();
                    let back: MessageMetadata = serde_json::from_value(value).unwrap();
                    prop_assert_eq!(back, metadata.clone());
                }
                Err(Error::Validation { field, .. }) => {
                    prop_assert!(!depth_ok, "{}", text);
                    prop_assert_eq!(field, "metadata");
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
            match metadata.validate(256 * 1024) {
                Ok(()) => prop_assert!(
                    metadata
                        .confidence_score
                        .is_none_or(|s| (0.0..=1.0).contains(&s))
                        && metadata.latency_ms.is_none_or(|ms| ms <= i64::MAX as u64)
                ),
                Err(Error::Validation { .. }) => {}
                Err(other) => prop_assert!(false, "{:?}", other),
            }
            Ok(())
        })
        .unwrap();
}

/// JSON nested `levels` deep under `{"extra":{"k": ...}}`, arrays and objects mixed,
/// with brackets inside strings that must not count.
fn nested_json() -> impl Strategy<Value = (String, usize)> {
    (0usize..140, any::<u64>()).prop_map(|(levels, pattern)| {
        let (mut open, mut close) = (String::new(), String::new());
        for level in 0..levels {
            if pattern.rotate_left(level as u32) & 1 == 0 {
                open.push('[');
                close.insert(0, ']');
            } else {
                open.push_str("{\"[{\\\"\":");
                close.insert(0, '}');
            }
        }
        (
            format!("{{\"extra\":{{\"k\":{open}\"]]}}\"{close}}}}}"),
            levels + 2,
        )
    })
}

#[test]
fn nesting_is_counted_exactly_and_refused_past_the_limit() {
    runner(500)
        .run(&nested_json(), |(text, depth)| {
            prop_assert_eq!(json::depth(&text), depth);
            let checked = json::check_depth("extra", &text);
            prop_assert_eq!(checked.is_ok(), depth <= MAX_DEPTH);
            match MessageMetadata::from_json(&text) {
                Ok(metadata) => {
                    prop_assert!(depth <= MAX_DEPTH);
                    let back = serde_json::to_string(&metadata).unwrap();
                    prop_assert_eq!(json::depth(&back), depth);
                }
                Err(Error::Validation { field, reason }) => {
                    prop_assert!(depth > MAX_DEPTH, "{}", reason);
                    prop_assert_eq!(field, "metadata");
                    prop_assert!(reason.contains(&format!("{depth} levels")), "{}", reason);
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
            // Stored JSON reads at any depth: as serde_json reads it when it can,
            // otherwise with what lies below the limit folded into text.
            let stored: Value = json::decode_stored(&text).unwrap();
            match serde_json::from_str::<Value>(&text) {
                Ok(direct) => prop_assert_eq!(stored, direct),
                Err(_) => {
                    prop_assert!(depth > MAX_DEPTH);
                    prop_assert_eq!(json::depth(&stored.to_string()), MAX_DEPTH);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Found by the metadata round-trip property above: without serde_json's
/// `float_roundtrip` feature (now on in the workspace), a float in message metadata JSON
/// (a similarity or relevance score, an execution time, a number in `extra`) could read
/// back one or two units in the last place off: 1.1495878071773755e-18 read as
/// 1.1495878071773757e-18.
#[test]
fn metadata_floats_read_back_exactly() {
    let text = r#"{"sources":[{"id":"01900000-0000-7000-8000-000000000005","filename":"a.pdf","relevance_score":1.1495878071773755e-18}],"extra":{"x":0.30000000000000004}}"#;
    let metadata = MessageMetadata::from_json(text).unwrap();
    assert_eq!(metadata.sources[0].relevance_score, 1.1495878071773755e-18);
    let f = fixture();
    let message = NewMessage::assistant("answer").with_metadata(metadata.clone());
    let id = f.store.append_message(f.ada, f.chat, &message).unwrap().id;
    assert_eq!(f.store.message(f.ada, id).unwrap().metadata, metadata);
}

/// Text made of JSON's pieces in any order: mostly not JSON.
fn json_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "\\",
            "\"extra\"",
            "\"tokens\"",
            "\"sources\"",
            "\"confidence_score\"",
            "1",
            "-0",
            "1e400",
            "0.5",
            "null",
            "true",
            "\"x\"",
            " ",
            "\u{0}",
            "é",
            "\\u0000",
            "\\ud800",
        ]),
        0..40,
    )
    .prop_map(|pieces| pieces.concat())
}

#[test]
fn any_text_is_metadata_or_a_validation_error() {
    runner(2000)
        .run(&json_soup(), |text| {
            match MessageMetadata::from_json(&text) {
                Ok(metadata) => {
                    let again = serde_json::to_string(&metadata).unwrap();
                    let back = MessageMetadata::from_json(&again).unwrap();
                    prop_assert_eq!(&back, &metadata, "{}", again);
                }
                Err(Error::Validation { field, .. }) => prop_assert_eq!(field, "metadata"),
                Err(other) => prop_assert!(false, "{:?}", other),
            }
            let direct = serde_json::from_str::<Value>(&text);
            let stored = json::decode_stored::<Value>(&text);
            if let Ok(direct) = direct {
                prop_assert_eq!(stored.ok(), Some(direct));
            } else if stored.is_ok() {
                prop_assert!(json::depth(&text) > MAX_DEPTH);
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------
// A real store for search and cursors
// ---------------------------------------------------------------------------------

/// Message texts: plain words, accents, other scripts, FTS5 syntax as text.
const MESSAGES: [&str; 7] = [
    "Who is eligible for a joint account?",
    "Joint accounts need two holders: both must sign.",
    "Café déjà vu — naïve résumé",
    "Налоговый вычет 2024 года",
    "NEAR AND OR NOT \"quoted\" col:umn ^start prefix* (group) content",
    "日本語のテキスト 123 ½ ²",
    "the account holder signs twice",
];

struct Fixture {
    store: SqliteStore,
    ada: UserId,
    chat: ConversationId,
    messages: Vec<MessageId>,
    users: Vec<UserId>,
    conversations: Vec<ConversationId>,
    documents: Vec<DocumentId>,
    _location: TempSqlite,
}

/// One user with four conversations (two at the same instant, so ids break the tie),
/// the messages above in the first, and four documents; two more users.
fn fixture() -> Fixture {
    let location = TempSqlite::new();
    let (config, clock): (_, ManualClock) = chatstore::conformance::test_config();
    let store = location.open_sqlite(config).unwrap();
    let tick = || clock.advance(Duration::from_secs(1));
    let mut users = Vec::new();
    for name in ["ada", "bob", "cyd"] {
        let user = NewUser::new(name, &format!("{name}@example.com"), "password1");
        users.push(store.create_user(&user).unwrap().id);
        tick();
    }
    let ada = users[0];
    let mut conversations = Vec::new();
    for (i, title) in ["one", "two", "three", "four"].into_iter().enumerate() {
        let made = store
            .create_conversation(ada, &NewConversation::titled(title))
            .unwrap();
        conversations.push(made.id);
        if i != 1 {
            tick();
        }
    }
    let chat = conversations[0];
    let mut messages = Vec::new();
    for (i, text) in MESSAGES.into_iter().enumerate() {
        let role = [MessageRole::User, MessageRole::Assistant][i % 2];
        let message = NewMessage::new(role, text);
        messages.push(store.append_message(ada, chat, &message).unwrap().id);
        tick();
    }
    let mut documents = Vec::new();
    for name in ["a.pdf", "b.txt", "c.md", "d.md"] {
        let document = NewDocument::new(name, &format!("/docs/{name}"));
        documents.push(store.create_document(ada, &document).unwrap().id);
        tick();
    }
    let users = all_pages(1000, |cursor| {
        store
            .list_users(&UserQuery {
                active: None,
                limit: 1000,
                cursor,
            })
            .map(|p| ids(p, |u| u.id))
    });
    let conversations = all_pages(1000, |cursor| {
        store
            .list_conversations(
                ada,
                &ConversationQuery {
                    visibility: Visibility::All,
                    limit: 1000,
                    cursor,
                    ..ConversationQuery::default()
                },
            )
            .map(|p| ids(p, |c| c.id))
    });
    let documents = all_pages(1000, |cursor| {
        store
            .list_documents(
                ada,
                &DocumentQuery {
                    limit: 1000,
                    cursor,
                    ..DocumentQuery::default()
                },
            )
            .map(|p| ids(p, |d| d.id))
    });
    assert_eq!(
        (users.len(), conversations.len(), documents.len()),
        (3, 4, 4)
    );
    Fixture {
        store,
        ada,
        chat,
        messages,
        users,
        conversations,
        documents,
        _location: location,
    }
}

fn ids<T, I>(page: Page<T>, id: impl Fn(&T) -> I) -> Page<I> {
    Page {
        items: page.items.iter().map(id).collect(),
        next: page.next,
    }
}

/// Every item of a listing, walked a page at a time from the first page.
fn all_pages<I>(limit: u32, mut list: impl FnMut(Option<Cursor>) -> Result<Page<I>>) -> Vec<I> {
    let (mut all, mut cursor) = (Vec::new(), None);
    loop {
        let page = list(cursor).unwrap();
        assert!(page.items.len() <= limit as usize);
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// A page is a run of consecutive items of the full listing, at most `limit` long.
fn contiguous<I: PartialEq + std::fmt::Debug>(
    page: &[I],
    all: &[I],
    limit: u32,
) -> std::result::Result<(), TestCaseError> {
    prop_assert!(page.len() <= limit as usize);
    if let Some(first) = page.first() {
        let start = all.iter().position(|x| x == first);
        prop_assert!(start.is_some(), "{:?} is not in the listing", first);
        let start = start.unwrap();
        prop_assert!(start + page.len() <= all.len());
        prop_assert_eq!(page, &all[start..start + page.len()]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Search text
// ---------------------------------------------------------------------------------

/// Pieces of query text: words of the messages, FTS5 operators and syntax, column
/// filters, other scripts, combining marks.
fn query_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "joint", "acc", "account", "holders", "eligible", "café", "cafe", "DÉJÀ",
            "налоговый", "日本語", "123", "½", "²", "quoted", "content", "near", "the",
        ])
        .prop_map(str::to_owned),
        3 => prop::sample::select(vec![
            "\"", "*", "NEAR(", "NEAR/3", ")", "(", "AND", "OR", "NOT", "^", ":", "-", "+",
            "content:", "{content}:", "messages_fts:", "rank:", "\"\"", "'", ";", "--", "\\",
            "\u{0}", "\u{301}", "\u{345}", "İ", "ẞ", "\u{fffd}", "ﬁ",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ]
}

fn query_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            query_piece(),
            prop::sample::select(vec!["", " ", "  ", "\t", "\n"]),
        ),
        0..12,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(piece, space)| format!("{piece}{space}"))
            .collect()
    })
}

/// Plain ASCII words, lower-cased, of a text (how the search tokenises ASCII text).
fn ascii_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

#[test]
fn search_text_is_only_ever_words() {
    let f = fixture();
    runner(1000)
        .run(
            &(query_text(), 1u32..5, any::<bool>(), 0u8..4),
            |(text, limit, in_chat, role)| {
                let words = search::words(&text);
                for word in &words {
                    prop_assert!(!word.is_empty() && !word.contains('"'));
                    prop_assert!(!word.chars().any(char::is_whitespace));
                }
                let mut query = SearchQuery::new(&text);
                query.limit = limit;
                if in_chat {
                    query = query.in_conversation(f.chat);
                }
                query.role = [None, Some(MessageRole::User), Some(MessageRole::Assistant)]
                    .get(role as usize)
                    .copied()
                    .unwrap_or(Some(MessageRole::System));
                match f.store.search_messages(f.ada, &query) {
                    Ok(hits) => {
                        prop_assert!((1..=MAX_WORDS).contains(&words.len()));
                        prop_assert!(hits.len() <= limit as usize);
                        for hit in &hits {
                            prop_assert!(f.messages.contains(&hit.message_id));
                            prop_assert!(query.role.is_none_or(|r| r == hit.role));
                            prop_assert!(hit.score.is_finite());
                        }
                        prop_assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
                    }
                    Err(Error::Validation { field, .. }) => {
                        prop_assert_eq!(field, "query");
                        prop_assert!(
                            words.is_empty() || words.len() > MAX_WORDS,
                            "{:?} refused",
                            text
                        );
                    }
                    Err(other) => prop_assert!(false, "{:?}: {:?}", text, other),
                }
                // ASCII-only text finds exactly the messages that have every word,
                // the last as a prefix: syntax in it is never obeyed.
                if text.is_ascii() && (1..=MAX_WORDS).contains(&words.len()) {
                    let mut query = SearchQuery::new(&text);
                    query.limit = 100;
                    let found: BTreeSet<MessageId> = f
                        .store
                        .search_messages(f.ada, &query)
                        .unwrap()
                        .iter()
                        .map(|h| h.message_id)
                        .collect();
                    let wanted = ascii_words(&text);
                    let (last, rest) = wanted.split_last().unwrap();
                    // Only ASCII messages are compared: accents are folded, and
                    // other scripts are tokenised by rules of their own.
                    let ascii: BTreeSet<MessageId> = MESSAGES
                        .iter()
                        .zip(&f.messages)
                        .filter(|(message, _)| message.is_ascii())
                        .map(|(_, id)| *id)
                        .collect();
                    let found: BTreeSet<MessageId> = found.intersection(&ascii).copied().collect();
                    let expected: BTreeSet<MessageId> = MESSAGES
                        .iter()
                        .zip(&f.messages)
                        .filter(|(message, _)| message.is_ascii())
                        .filter(|(message, _)| {
                            let have = ascii_words(message);
                            rest.iter().all(|w| have.contains(w))
                                && have.iter().any(|h| h.starts_with(last.as_str()))
                        })
                        .map(|(_, id)| *id)
                        .collect();
                    prop_assert_eq!(found, expected, "{:?}", text);
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn too_many_words_and_no_words_are_validation_errors() {
    let f = fixture();
    for text in [
        String::new(),
        " \"*()-^:".to_owned(),
        "zz ".repeat(MAX_WORDS + 1),
    ] {
        let error = f
            .store
            .search_messages(f.ada, &SearchQuery::new(&text))
            .unwrap_err();
        assert!(
            matches!(error, Error::Validation { field: "query", .. }),
            "{error:?}"
        );
    }
    let hits = f
        .store
        .search_messages(f.ada, &SearchQuery::new(&"zz ".repeat(MAX_WORDS)))
        .unwrap();
    assert!(hits.is_empty());
}

// ---------------------------------------------------------------------------------
// Cursors
// ---------------------------------------------------------------------------------

/// Cursor text: digits, `~`, ids, timestamps in and out of the stored form, garbage.
fn cursor_text(f: &Fixture) -> impl Strategy<Value = String> + use<> {
    let known: Vec<String> = f
        .users
        .iter()
        .map(ToString::to_string)
        .chain(f.conversations.iter().map(ToString::to_string))
        .chain(f.documents.iter().map(ToString::to_string))
        .collect();
    let piece = prop_oneof![
        2 => "[0-9]{1,20}",
        1 => Just("~".to_owned()),
        1 => Just(u64::MAX.to_string()),
        1 => Just((i64::MAX as u64 + 1).to_string()),
        1 => Just("-1".to_owned()),
        2 => prop::sample::select(known),
        2 => id_text(),
        2 => (2020i32..2030, 1u8..13, 1u8..29, 0u8..24, 0u32..1_000_000).prop_map(
            |(y, mo, d, h, us)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:00:00.{us:06}Z")
        ),
        1 => prop::sample::select(vec![
            "2026-02-15T14:20:00Z", "2026-02-15T14:20:00+05:30", "2026-02-30T00:00:00.000000Z",
            "0000-01-01T00:00:00.000000Z", "9999-12-31T23:59:60.999999Z",
            "+10000-01-01T00:00:00Z", "2026-02-15 14:20:00", "1e9",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ];
    prop::collection::vec(piece, 0..4).prop_map(|pieces| pieces.join("~"))
}

fn cursor_checked<T>(
    result: &Result<Page<T>>,
    what: &str,
) -> std::result::Result<(), TestCaseError> {
    match result {
        Ok(_) => Ok(()),
        Err(Error::Validation { field, .. }) => {
            prop_assert_eq!(*field, "cursor", "{}", what);
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("{what}: {other:?}"))),
    }
}

#[test]
fn any_cursor_text_gives_a_run_of_the_listing_or_a_validation_error() {
    let f = fixture();
    runner(800)
        .run(
            &(cursor_text(&f), 1u32..4, any::<bool>()),
            |(text, limit, desc)| {
                let cursor = Some(Cursor::new(text.clone()));
                let order = if desc { Order::Desc } else { Order::Asc };

                let page = f.store.list_conversations(
                    f.ada,
                    &ConversationQuery {
                        visibility: Visibility::All,
                        limit,
                        cursor: cursor.clone(),
                        ..ConversationQuery::default()
                    },
                );
                cursor_checked(&page, &text)?;
                if let Ok(page) = page {
                    contiguous(&ids(page, |c| c.id).items, &f.conversations, limit)?;
                }

                let page = f.store.messages(
                    f.ada,
                    f.chat,
                    &MessageQuery {
                        order,
                        limit,
                        cursor: cursor.clone(),
                    },
                );
                cursor_checked(&page, &text)?;
                if let Ok(page) = page {
                    let mut all = f.messages.clone();
                    if desc {
                        all.reverse();
                    }
                    contiguous(&ids(page, |m| m.id).items, &all, limit)?;
                }

                let page = f.store.list_users(&UserQuery {
                    active: None,
                    limit,
                    cursor: cursor.clone(),
                });
                cursor_checked(&page, &text)?;
                if let Ok(page) = page {
                    contiguous(&ids(page, |u| u.id).items, &f.users, limit)?;
                }

                let page = f.store.list_documents(
                    f.ada,
                    &DocumentQuery {
                        limit,
                        cursor,
                        ..DocumentQuery::default()
                    },
                );
                cursor_checked(&page, &text)?;
                if let Ok(page) = page {
                    contiguous(&ids(page, |d| d.id).items, &f.documents, limit)?;
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn cursors_a_listing_hands_out_walk_it_whole_at_every_page_size() {
    let f = fixture();
    for limit in 1..=5 {
        let conversations = all_pages(limit, |cursor| {
            f.store
                .list_conversations(
                    f.ada,
                    &ConversationQuery {
                        visibility: Visibility::All,
                        limit,
                        cursor,
                        ..ConversationQuery::default()
                    },
                )
                .map(|p| ids(p, |c| c.id))
        });
        assert_eq!(conversations, f.conversations, "page size {limit}");
        for order in [Order::Asc, Order::Desc] {
            let messages = all_pages(limit, |cursor| {
                f.store
                    .messages(
                        f.ada,
                        f.chat,
                        &MessageQuery {
                            order,
                            limit,
                            cursor,
                        },
                    )
                    .map(|p| ids(p, |m| m.id))
            });
            let mut all = f.messages.clone();
            if order == Order::Desc {
                all.reverse();
            }
            assert_eq!(messages, all, "page size {limit}, {order:?}");
        }
        let users = all_pages(limit, |cursor| {
            f.store
                .list_users(&UserQuery {
                    active: None,
                    limit,
                    cursor,
                })
                .map(|p| ids(p, |u| u.id))
        });
        assert_eq!(users, f.users);
        let documents = all_pages(limit, |cursor| {
            f.store
                .list_documents(
                    f.ada,
                    &DocumentQuery {
                        limit,
                        cursor,
                        ..DocumentQuery::default()
                    },
                )
                .map(|p| ids(p, |d| d.id))
        });
        assert_eq!(documents, f.documents);
    }
}

// ---------------------------------------------------------------------------------
// Vector index snapshots
// ---------------------------------------------------------------------------------

const DIMENSION: usize = 4;
const CHUNKS: usize = 40;

/// An embedding source held in memory: chunk → (version, record).
struct MemorySource(BTreeMap<ChunkId, (u64, VectorRecord)>);

impl EmbeddingSource for MemorySource {
    fn embedding_versions(&self, _collection: &str) -> Result<Vec<(ChunkId, u64)>> {
        Ok(self.0.iter().map(|(c, (v, _))| (*c, *v)).collect())
    }

    fn load_embeddings(&self, _collection: &str, chunks: &[ChunkId]) -> Result<Vec<VectorRecord>> {
        Ok(chunks
            .iter()
            .filter_map(|c| self.0.get(c).map(|(_, r)| r.clone()))
            .collect())
    }
}

impl MemorySource {
    /// 40 chunks of 5 documents (two global, three of one user), versions 1–40.
    fn new() -> MemorySource {
        let owner = UserId::new();
        let documents: Vec<DocumentId> = (0..5).map(|_| DocumentId::new()).collect();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut unit = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f32 / 1000.0 - 1.0
        };
        MemorySource(
            (0..CHUNKS)
                .map(|i| {
                    let record = VectorRecord {
                        chunk: ChunkId::new(),
                        document: documents[i % 5],
                        owner: (i % 5 >= 2).then_some(owner),
                        vector: (0..DIMENSION).map(|_| unit()).collect(),
                    };
                    (record.chunk, (i as u64 + 1, record))
                })
                .collect(),
        )
    }

    fn records(&self) -> Vec<VectorRecord> {
        self.0.values().map(|(_, r)| r.clone()).collect()
    }

    fn chunks(&self) -> Vec<ChunkId> {
        self.0.keys().copied().collect()
    }
}

fn spec() -> CollectionSpec {
    CollectionSpec::new("docs", DIMENSION as u32, Distance::L2).unwrap()
}

fn index(dir: &Path, graph_min: usize) -> HnswIndex {
    HnswIndex::new(IndexConfig {
        build: BuildParams {
            m: 4,
            ef_construction: 32,
        },
        graph_min,
        delta_max: 8,
        background_rebuild: false,
        ..IndexConfig::new(dir)
    })
    .unwrap()
}

/// A real snapshot of `source` saved by the index: in a graph (with three replaced
/// vectors left as tombstones) or, with `graph_min` above the count, all outside one.
fn real_snapshot(dir: &Path, source: &MemorySource, graph_min: usize) -> Vec<u8> {
    let _ = std::fs::remove_file(dir.join("docs.csvx"));
    let index = index(dir, graph_min);
    index.sync(&spec(), source).unwrap();
    let replaced: Vec<VectorRecord> = source.records().into_iter().take(3).collect();
    index.upsert("docs", &replaced).unwrap();
    index.save().unwrap();
    std::fs::read(dir.join("docs.csvx")).unwrap()
}

/// What is done to a real snapshot: bytes flipped, cut short, or grown.
#[derive(Debug, Clone)]
enum Damage {
    Flip(Vec<(usize, u8)>),
    Truncate(usize),
    Append(Vec<u8>),
    Splice(usize, Vec<u8>),
}

impl Damage {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        match self {
            Damage::Flip(flips) => {
                for (at, mask) in flips {
                    let at = at % out.len();
                    out[at] ^= mask;
                }
            }
            Damage::Truncate(at) => out.truncate(at % out.len()),
            Damage::Append(extra) => out.extend_from_slice(extra),
            Damage::Splice(at, extra) => {
                let at = at % out.len();
                out.splice(at..at, extra.iter().copied());
            }
        }
        out
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => prop::collection::vec((any::<usize>(), 1u8..=255), 1..4).prop_map(Damage::Flip),
        1 => any::<usize>().prop_map(Damage::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..40).prop_map(Damage::Append),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, extra)| Damage::Splice(at, extra)),
    ]
}

/// Syncs a fresh index over whatever is in `dir`, checks it holds exactly the source's
/// chunks and that a search works, and returns the report and what it holds.
fn sync_and_check(
    dir: &Path,
    source: &MemorySource,
) -> std::result::Result<(chatstore::SyncReport, Vec<VectorRecord>), TestCaseError> {
    let index = index(dir, 16);
    let report = index.sync(&spec(), source).unwrap();
    let expected = vec![CollectionInfo {
        spec: spec(),
        count: CHUNKS as u64,
    }];
    prop_assert_eq!(index.collections().unwrap(), expected, "{:?}", report);
    let held = index.get("docs", &source.chunks()).unwrap();
    let held_chunks: BTreeSet<ChunkId> = held.iter().map(|r| r.chunk).collect();
    prop_assert_eq!(
        held_chunks,
        source.0.keys().copied().collect::<BTreeSet<_>>()
    );
    let owner = source.0.values().find_map(|(_, r)| r.owner).unwrap();
    let hits = index
        .search(
            "docs",
            &[0.1, -0.2, 0.3, 0.5],
            7,
            &VectorFilter::user(owner),
        )
        .unwrap();
    prop_assert!(hits.len() <= 7);
    prop_assert!(hits.iter().all(|h| source.0.contains_key(&h.chunk)));
    Ok((report, held))
}

#[test]
fn a_damaged_snapshot_is_rebuilt_from_the_store_and_saved_again() {
    let dir = tempfile::tempdir().unwrap();
    let source = MemorySource::new();
    let snapshots = [
        real_snapshot(dir.path(), &source, 16),
        real_snapshot(dir.path(), &source, 1000),
    ];
    let path = dir.path().join("docs.csvx");
    for snapshot in &snapshots {
        std::fs::write(&path, snapshot).unwrap();
        let (report, held) = sync_and_check(dir.path(), &source).unwrap();
        assert!(report.from_snapshot && report.added == 0, "{report:?}");
        assert_eq!(held, source.records());
    }
    runner(64)
        .run(
            &(prop::sample::select(vec![0usize, 1]), damage()),
            |(which, damage)| {
                let damaged = damage.apply(&snapshots[which]);
                prop_assume!(damaged != snapshots[which]);
                std::fs::write(&path, &damaged).unwrap();
                let (report, held) = sync_and_check(dir.path(), &source)?;
                prop_assert!(!report.from_snapshot, "a damaged file was used");
                prop_assert_eq!(report.added, CHUNKS as u64);
                prop_assert_eq!(held, source.records());
                // The rebuilt collection was saved over the damaged file.
                let (report, _) = sync_and_check(dir.path(), &source)?;
                prop_assert!(report.from_snapshot && report.added == 0 && report.removed == 0);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn a_snapshot_damaged_behind_a_valid_checksum_never_breaks_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let source = MemorySource::new();
    let snapshots = [
        real_snapshot(dir.path(), &source, 16),
        real_snapshot(dir.path(), &source, 1000),
    ];
    let path = dir.path().join("docs.csvx");
    runner(256)
        .run(
            &(prop::sample::select(vec![0usize, 1]), damage()),
            |(which, damage)| {
                let snapshot = &snapshots[which];
                // Damage the contents, then give them a checksum that matches, as a
                // faulty writer would: only the parser's checks stand in the way.
                let mut file = damage.apply(&snapshot[..snapshot.len() - 32]);
                file.extend_from_slice(blake3::hash(&file).as_bytes());
                std::fs::write(&path, &file).unwrap();
                sync_and_check(dir.path(), &source)?;
                Ok(())
            },
        )
        .unwrap();
}

/// Overwrites every occurrence of the 16 bytes `from` in `bytes` with `to`; returns
/// how many there were.
fn replace_id(bytes: &mut [u8], from: &[u8; 16], to: &[u8; 16]) -> usize {
    let mut count = 0;
    for at in 0..bytes.len().saturating_sub(15) {
        if bytes[at..at + 16] == from[..] {
            bytes[at..at + 16].copy_from_slice(to);
            count += 1;
        }
    }
    count
}

/// A real snapshot of `source` with `edit` done to its contents, and a checksum that
/// matches them (as a faulty writer would leave it), written to `dir`.
fn forge(dir: &Path, source: &MemorySource, graph_min: usize, edit: impl Fn(&mut Vec<u8>)) {
    let snapshot = real_snapshot(dir, source, graph_min);
    let mut body = snapshot[..snapshot.len() - 32].to_vec();
    edit(&mut body);
    body.extend_from_slice(blake3::hash(&body).as_bytes());
    std::fs::write(dir.join("docs.csvx"), &body).unwrap();
}

/// Found while writing the `snapshot` fuzz target: a snapshot (with a valid checksum)
/// holding two live vectors under one chunk id loaded, deleting the chunk left one of
/// them in the index, and a search that reached it panicked ("no entry found for key"
/// in crates/vector/src/collection.rs). Such a snapshot is now refused and rebuilt.
#[test]
fn a_snapshot_holding_one_chunk_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = MemorySource::new();
    let chunks = source.chunks();
    for graph_min in [16, 1000] {
        // Two chunks the store has renamed to one it does not have.
        let ghost = ChunkId::new();
        forge(dir.path(), &source, graph_min, |body| {
            for chunk in [chunks[10], chunks[20]] {
                let (from, to) = (*chunk.as_uuid().as_bytes(), *ghost.as_uuid().as_bytes());
                assert_eq!(replace_id(body, &from, &to), 1);
            }
        });
        let index = index(dir.path(), 16);
        let report = index.sync(&spec(), &source).unwrap();
        assert!(!report.from_snapshot, "{report:?}");
        assert_eq!(index.collections().unwrap()[0].count, CHUNKS as u64);
        // Every vector the user may see, so a leftover of the ghost would be among them.
        let owner = source.0.values().find_map(|(_, r)| r.owner).unwrap();
        let hits = index
            .search("docs", &[0.0; DIMENSION], 1000, &VectorFilter::user(owner))
            .unwrap();
        assert!(hits.iter().all(|h| source.0.contains_key(&h.chunk)));
        assert_eq!(index.get("docs", &[ghost]).unwrap(), Vec::new());
    }
}

/// Found with the one above: a snapshot listing a document twice loaded, and removing
/// that document then removed the chunks of the other entry and left its own.
#[test]
fn a_snapshot_listing_one_document_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = MemorySource::new();
    let records = source.records();
    let (kept, renamed) = (records[0].document, records[1].document);
    assert_ne!(kept, renamed);
    for graph_min in [16, 1000] {
        forge(dir.path(), &source, graph_min, |body| {
            let (from, to) = (*renamed.as_uuid().as_bytes(), *kept.as_uuid().as_bytes());
            assert_eq!(replace_id(body, &from, &to), 1);
        });
        let index = index(dir.path(), 16);
        let report = index.sync(&spec(), &source).unwrap();
        assert!(!report.from_snapshot, "{report:?}");
        let of_kept: Vec<ChunkId> = records
            .iter()
            .filter(|r| r.document == kept)
            .map(|r| r.chunk)
            .collect();
        let removed = index.remove_documents(&[kept]).unwrap();
        assert_eq!(removed, of_kept.len() as u64);
        assert_eq!(index.get("docs", &of_kept).unwrap(), Vec::new());
        let count = index.collections().unwrap()[0].count;
        assert_eq!(count, (CHUNKS - of_kept.len()) as u64);
    }
}

/// Found by the `snapshot` fuzz target: a snapshot (with a valid checksum) whose empty
/// graph claimed vectors of 4,278,190,084 components made loading allocate that many
/// (34 GB, in `Quantised::new`) and abort the process. The graph's dimension must now
/// be the collection's, before anything is allocated.
#[test]
fn a_snapshot_claiming_a_huge_dimension_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let source = MemorySource::new();
    for dimension in [0xFF00_0004u32, u32::MAX, 0, DIMENSION as u32 + 1] {
        // The collection with no graph: every vector waits outside it.
        forge(dir.path(), &source, 1000, |body| {
            let header = u32::from_le_bytes(body[8..12].try_into().unwrap()) as usize;
            let at = 12 + header;
            assert_eq!(body[at..at + 4], (DIMENSION as u32).to_le_bytes());
            assert_eq!(body[at + 4..at + 8], 0u32.to_le_bytes(), "no graph");
            body[at..at + 4].copy_from_slice(&dimension.to_le_bytes());
        });
        let (report, held) = sync_and_check(dir.path(), &source).unwrap();
        assert!(!report.from_snapshot, "{dimension}: {report:?}");
        assert_eq!(held, source.records());
    }
}
