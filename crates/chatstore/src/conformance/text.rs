//! Text every backend can store: no NUL character in any text, no `\u0000` in any JSON
//! (PostgreSQL refuses both, so every backend refuses them the same way, before writing);
//! and names listed in byte order, whatever the database's collation.

use serde_json::json;

use super::support::{conversation, document, messages_of, say, user};
use super::{Backend, fixture};
use crate::{
    CollectionSpec, Distance, Error, MessageMetadata, NewAgentLog, NewDocument, NewMessage,
    NewSession, NewUsage, NewUser, OperationType, Result, SearchQuery, TimeRange,
};

/// Asserts a validation error on `field`.
fn refused<T: std::fmt::Debug>(what: &str, field: &str, result: Result<T>) {
    match result {
        Err(Error::Validation { field: f, .. }) if f == field => {}
        other => panic!("{what}: expected a validation error on {field}, got {other:?}"),
    }
}

/// Every kind of text and JSON a host hands in refuses a NUL character with a
/// validation error naming the field, and nothing is written.
pub fn text_refuses_nul_everywhere(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let nul = "a\0b";
    refused(
        "username",
        "username",
        s.create_user(&NewUser::new(nul, "x@example.com", "password1")),
    );
    refused(
        "email",
        "email",
        s.create_user(&NewUser::new("xavier", "x\0@example.com", "password1")),
    );
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let first = say(s, ada.id, chat.id, "question");
    refused(
        "title",
        "title",
        s.create_conversation(ada.id, &crate::NewConversation::titled(nul)),
    );
    refused(
        "content",
        "content",
        s.append_message(ada.id, chat.id, &NewMessage::user(nul)),
    );
    let mut metadata = MessageMetadata::default();
    metadata.extra.insert("note".into(), json!(nul));
    refused(
        "metadata JSON",
        "metadata",
        s.append_message(
            ada.id,
            chat.id,
            &NewMessage::user("fine").with_metadata(metadata),
        ),
    );
    refused(
        "request id",
        "metadata.request_id",
        s.append_message(
            ada.id,
            chat.id,
            &NewMessage::user("fine").with_metadata(MessageMetadata {
                request_id: Some(nul.into()),
                ..MessageMetadata::default()
            }),
        ),
    );
    refused(
        "agent input",
        "input_data",
        s.record_agent_log(
            ada.id,
            first.id,
            &NewAgentLog {
                input_data: Some(json!({ "q": nul })),
                ..NewAgentLog::new("A")
            },
        ),
    );
    refused(
        "agent reasoning",
        "reasoning",
        s.record_agent_log(
            ada.id,
            first.id,
            &NewAgentLog {
                reasoning: Some(nul.into()),
                ..NewAgentLog::new("A")
            },
        ),
    );
    refused(
        "document name",
        "filename",
        s.create_document(ada.id, &NewDocument::new(nul, "/files/x")),
    );
    refused(
        "document description",
        "description",
        s.create_document(
            ada.id,
            &NewDocument {
                description: Some(nul.into()),
                ..NewDocument::new("x.pdf", "/files/x")
            },
        ),
    );
    let doc = document(s, ada.id, "doc.pdf");
    s.start_processing(ada.id, doc.id).expect("processing");
    refused(
        "chunk",
        "chunk content",
        s.add_chunks(ada.id, doc.id, &[crate::NewChunk::new(0, nul)]),
    );
    refused(
        "usage provider",
        "provider",
        s.record_usage(ada.id, &NewUsage::new(nul, "m", OperationType::Chat, 1, 1)),
    );
    refused(
        "user agent",
        "user_agent",
        s.create_session(
            ada.id,
            &NewSession {
                user_agent: Some(nul.into()),
                ..NewSession::default()
            },
        ),
    );
    let mut query = SearchQuery::new("question");
    query.highlight_start = nul.into();
    refused(
        "highlight",
        "highlight_start",
        s.search_messages(ada.id, &query),
    );

    // A backslash before u0000 is text, not a NUL.
    let mut metadata = MessageMetadata::default();
    metadata.extra.insert("path".into(), json!("C:\\u0000"));
    let kept = s
        .append_message(
            ada.id,
            chat.id,
            &NewMessage::user("a literal backslash").with_metadata(metadata.clone()),
        )
        .expect("a backslash and u0000 are ordinary text");
    assert_eq!(kept.metadata, metadata);
    assert_eq!(messages_of(s, ada.id, chat.id), vec![first, kept]);
    assert!(s.chunks(ada.id, doc.id).expect("chunks").is_empty());
}

/// Asserts that `names` are in byte order (what Rust's `str` ordering is) and equal
/// `expected`.
fn in_byte_order(what: &str, names: Vec<String>, expected: &[&str]) {
    assert!(
        names.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
        "{what} are not in byte order: {names:?}"
    );
    assert_eq!(names, expected, "{what}");
}

/// Everything listed by name comes in byte order (UTF-8 bytes compared, as Rust
/// compares `str`), never in a locale's collation: `-` (0x2D) before digits before `:`
/// before `_` (0x5F) before lower-case letters, `B` before `a`, and `a` before `ä` and
/// `é`. This covers roles, permissions (all, of a role, of a user), a user's roles,
/// embedding collections, and usage breakdowns (by provider). A locale collation such as
/// PostgreSQL's `en_US.UTF-8` skips punctuation and puts `a` with `B` ("a", "B") and `é`
/// with `e`; a backend there sorts with `COLLATE "C"` (or declares the columns so).
pub fn text_names_sort_in_byte_order(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    for role in ["ab", "a_c", "a9", "a-c", "a0"] {
        s.create_role(role, None).expect("role");
    }
    let names = |roles: Vec<crate::Role>| roles.into_iter().map(|r| r.name).collect::<Vec<_>>();
    in_byte_order(
        "roles",
        names(s.roles().expect("roles")),
        &["a-c", "a0", "a9", "a_c", "ab", "admin", "analyst", "viewer"],
    );

    let ours = ["zz-a:read", "zz0:read", "zz:read", "zz_a:read", "zza:read"];
    for permission in ["zza:read", "zz_a:read", "zz:read", "zz0:read", "zz-a:read"] {
        s.create_permission(permission, None).expect("permission");
        s.grant_permission("a-c", permission).expect("grant");
    }
    let all: Vec<String> = s
        .permissions()
        .expect("permissions")
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "permissions are not in byte order");
    let zz: Vec<String> = all.into_iter().filter(|p| p.starts_with("zz")).collect();
    in_byte_order("permissions", zz, &ours);
    let granted = s.role_permissions("a-c").expect("role permissions");
    in_byte_order(
        "a role's permissions",
        granted.into_iter().map(|p| p.name).collect(),
        &ours,
    );

    let ada = user(s, "ada");
    for role in ["ab", "a_c", "a-c"] {
        s.assign_role(ada.id, role).expect("assign");
    }
    in_byte_order(
        "a user's roles",
        names(s.user_roles(ada.id).expect("user roles")),
        &["a-c", "a_c", "ab", "viewer"],
    );
    let mut expected = vec!["chat:use", "documents:read", "explain:view"];
    expected.extend(ours);
    in_byte_order(
        "a user's permissions",
        s.user_permissions(ada.id).expect("user permissions"),
        &expected,
    );

    for name in ["ca", "c_1", "c9", "c0", "c-1"] {
        let spec = CollectionSpec::new(name, 2, Distance::Cosine).expect("spec");
        s.create_embedding_collection(&spec).expect("collection");
    }
    in_byte_order(
        "collections",
        s.embedding_collections()
            .expect("collections")
            .into_iter()
            .map(|c| c.name)
            .collect(),
        &["c-1", "c0", "c9", "c_1", "ca"],
    );

    let providers = ["B", "Z", "_x", "a", "ä", "é"];
    for provider in ["é", "a", "_x", "ä", "Z", "B"] {
        s.record_usage(
            ada.id,
            &NewUsage::new(provider, "m", OperationType::Chat, 1, 1),
        )
        .expect("usage");
    }
    let by_provider =
        |rows: Vec<crate::UsageBreakdown>| rows.into_iter().map(|b| b.provider).collect::<Vec<_>>();
    in_byte_order(
        "a user's usage by provider",
        by_provider(s.usage_by_provider(ada.id, TimeRange::ALL).expect("usage")),
        &providers,
    );
    in_byte_order(
        "everyone's usage by provider",
        by_provider(s.system_usage(TimeRange::ALL).expect("usage")),
        &providers,
    );
}
