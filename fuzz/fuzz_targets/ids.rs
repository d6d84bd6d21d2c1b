//! Every typed id's `FromStr`, and `BlobKey`'s. An accepted id is a UUIDv7 that
//! displays as text parsing back to the same id, and no other id type accepts the same
//! text; a refused id is `Error::InvalidId`. An accepted blob key round-trips through
//! its text; a refused one is `Error::Validation` (or `InvalidId` for its message id).
#![no_main]

use chatstore::{
    AgentLogId, BlobKey, ChunkId, ConversationId, DocumentId, Error, MessageId, SessionId, UsageId,
    UserId,
};
use libfuzzer_sys::fuzz_target;

/// Parses the text as the id type; checks what an accepted id must satisfy; evaluates
/// to whether it was accepted.
macro_rules! id {
    ($t:ty, $text:expr) => {{
        let text: &str = $text;
        match text.parse::<$t>() {
            Ok(id) => {
                let shown = id.to_string();
                assert_eq!(
                    shown.parse::<$t>().ok(),
                    Some(id),
                    "{text:?} shown as {shown:?}"
                );
                assert_eq!(id.as_uuid().get_version_num(), 7, "{text:?}: not a v7 UUID");
                assert_eq!(<$t>::from_uuid(id.as_uuid()).ok(), Some(id));
                let json = serde_json::to_string(&id).expect("an id serialises");
                assert_eq!(serde_json::from_str::<$t>(&json).ok(), Some(id));
                true
            }
            Err(Error::InvalidId { expected, .. }) => {
                assert_eq!(expected, <$t>::KIND);
                false
            }
            Err(other) => panic!("{text:?}: expected InvalidId, got {other:?}"),
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let accepted = [
        id!(UserId, &text),
        id!(MessageId, &text),
        id!(ConversationId, &text),
        id!(DocumentId, &text),
        id!(ChunkId, &text),
        id!(SessionId, &text),
        id!(AgentLogId, &text),
        id!(UsageId, &text),
    ];
    assert!(
        accepted.iter().filter(|a| **a).count() <= 1,
        "{text:?} accepted as ids of several kinds: {accepted:?}"
    );
    match text.parse::<BlobKey>() {
        Ok(key) => {
            let shown = key.to_string();
            assert_eq!(
                shown.parse::<BlobKey>().ok(),
                Some(key),
                "{text:?} shown as {shown:?}"
            );
            // Only the message id part may be spelt another way (as ids may).
            let (message, index) = text.split_once('/').expect("a key has a slash");
            let (_, shown_index) = shown.split_once('/').expect("a key has a slash");
            assert_eq!(
                index, shown_index,
                "{text:?}: the index has one spelling only"
            );
            assert_eq!(message.parse::<MessageId>().ok(), Some(key.message));
        }
        Err(Error::Validation { .. } | Error::InvalidId { .. }) => {}
        Err(other) => panic!("{text:?}: blob key refused with {other:?}"),
    }
});
