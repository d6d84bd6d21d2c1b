//! Typed identifiers: one newtype per entity over a UUIDv7.
//!
//! UUIDv7 starts with a millisecond timestamp, so new rows land at the end of a B-tree
//! index instead of at random places. The lowest four bits (random in plain v7) carry the
//! entity kind, so a conversation id handed in where a message id is expected is caught
//! when the id is parsed, with an error that names both kinds.
//!
//! ```
//! use chatstore::{ConversationId, MessageId};
//!
//! let conversation = ConversationId::new();
//! let text = conversation.to_string();
//! assert_eq!(text.parse::<ConversationId>().unwrap(), conversation);
//!
//! let err = text.parse::<MessageId>().unwrap_err();
//! assert!(err.to_string().contains("conversation id"));
//! ```

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::Error;

/// The kind of entity an id names, encoded in the id itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdKind {
    /// A [`UserId`].
    User,
    /// A [`SessionId`].
    Session,
    /// A [`ConversationId`].
    Conversation,
    /// A [`MessageId`].
    Message,
    /// A [`DocumentId`].
    Document,
    /// A [`ChunkId`].
    Chunk,
    /// An [`AgentLogId`].
    AgentLog,
    /// A [`UsageId`].
    Usage,
}

impl IdKind {
    const ALL: [IdKind; 8] = [
        IdKind::User,
        IdKind::Session,
        IdKind::Conversation,
        IdKind::Message,
        IdKind::Document,
        IdKind::Chunk,
        IdKind::AgentLog,
        IdKind::Usage,
    ];

    const fn tag(self) -> u8 {
        match self {
            IdKind::User => 1,
            IdKind::Session => 2,
            IdKind::Conversation => 3,
            IdKind::Message => 4,
            IdKind::Document => 5,
            IdKind::Chunk => 6,
            IdKind::AgentLog => 7,
            IdKind::Usage => 8,
        }
    }

    fn from_tag(tag: u8) -> Option<IdKind> {
        IdKind::ALL.into_iter().find(|kind| kind.tag() == tag)
    }

    /// The entity's name as used in error messages ("conversation", "agent log", ...).
    pub const fn name(self) -> &'static str {
        match self {
            IdKind::User => "user",
            IdKind::Session => "session",
            IdKind::Conversation => "conversation",
            IdKind::Message => "message",
            IdKind::Document => "document",
            IdKind::Chunk => "chunk",
            IdKind::AgentLog => "agent log",
            IdKind::Usage => "usage record",
        }
    }

    /// Mints a fresh UUIDv7 carrying this kind's tag.
    fn mint(self) -> Uuid {
        let raw = Uuid::now_v7().as_u128();
        Uuid::from_u128((raw & !0xF) | u128::from(self.tag()))
    }

    /// Checks that `uuid` is a chatstore id of this kind.
    fn check(self, uuid: Uuid) -> Result<Uuid, Error> {
        let found = (uuid.get_version_num() == 7)
            .then(|| IdKind::from_tag((uuid.as_u128() & 0xF) as u8))
            .flatten();
        match found {
            Some(kind) if kind == self => Ok(uuid),
            found => Err(Error::InvalidId {
                expected: self,
                found,
                id: uuid.to_string(),
            }),
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// The kind of entity this id names.
            pub const KIND: IdKind = $kind;

            /// Mints a new id (time-ordered: later ids sort after earlier ones).
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Self::KIND.mint())
            }

            /// Wraps a UUID, checking that it is a chatstore id of this kind.
            pub fn from_uuid(uuid: Uuid) -> Result<Self, Error> {
                Self::KIND.check(uuid).map(Self)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(text: &str) -> Result<Self, Error> {
                let uuid = Uuid::try_parse(text.trim()).map_err(|_| Error::InvalidId {
                    expected: Self::KIND,
                    found: None,
                    id: text.chars().take(64).collect(),
                })?;
                Self::from_uuid(uuid)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0.hyphenated())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// Identifies a user account.
    UserId,
    IdKind::User
);
typed_id!(
    /// Identifies a login session (not the secret token: see [`crate::SessionToken`]).
    SessionId,
    IdKind::Session
);
typed_id!(
    /// Identifies a conversation.
    ConversationId,
    IdKind::Conversation
);
typed_id!(
    /// Identifies a message.
    MessageId,
    IdKind::Message
);
typed_id!(
    /// Identifies a document.
    DocumentId,
    IdKind::Document
);
typed_id!(
    /// Identifies a chunk of a document.
    ChunkId,
    IdKind::Chunk
);
typed_id!(
    /// Identifies an agent log entry.
    AgentLogId,
    IdKind::AgentLog
);
typed_id!(
    /// Identifies a token usage record.
    UsageId,
    IdKind::Usage
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = MessageId::new();
        assert_eq!(id.to_string().parse::<MessageId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<MessageId>(&json).unwrap(), id);
        assert_eq!(id.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let ids: Vec<UserId> = (0..1000).map(|_| UserId::new()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn wrong_kind_is_named_in_the_error() {
        let conversation = ConversationId::new().to_string();
        match conversation.parse::<MessageId>() {
            Err(Error::InvalidId {
                expected: IdKind::Message,
                found: Some(IdKind::Conversation),
                ..
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn foreign_and_malformed_ids_are_rejected() {
        let v4 = Uuid::from_u128(0x550e8400_e29b_41d4_a716_446655440000).to_string();
        assert!(matches!(
            v4.parse::<UserId>(),
            Err(Error::InvalidId { found: None, .. })
        ));
        for bad in [
            "",
            "not-a-uuid",
            "550e8400-e29b-41d4-a716",
            "../../etc/passwd",
        ] {
            assert!(matches!(
                bad.parse::<UserId>(),
                Err(Error::InvalidId { .. })
            ));
        }
        assert!(serde_json::from_str::<UserId>("\"nope\"").is_err());
    }
}
