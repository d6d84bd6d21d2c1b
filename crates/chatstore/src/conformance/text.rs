//! Text every backend can store: no NUL character in any text, no `\u0000` in any JSON
//! (PostgreSQL refuses both, so every backend refuses them the same way, before writing).

use serde_json::json;

use super::support::{conversation, document, messages_of, say, user};
use super::{Backend, fixture};
use crate::{
    Error, MessageMetadata, NewAgentLog, NewDocument, NewMessage, NewSession, NewUsage, NewUser,
    OperationType, Result, SearchQuery,
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
