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

    /// A UUIDv7 of this kind for a record made elsewhere: its 48-bit time is `created`
    /// (in milliseconds, clamped to the layout's range) and its other bits come from
    /// blake3 of `seed`, so the same record always gets the same id.
    fn derive(self, created: crate::Timestamp, seed: &[u8]) -> Uuid {
        let millis = (created.unix_micros().max(0) / 1000).min((1 << 48) - 1) as u64;
        let hash = blake3::hash(seed);
        let mut random = [0u8; 10];
        random.copy_from_slice(&hash.as_bytes()[..10]);
        let raw = uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .as_u128();
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

            /// The id of a record brought over from another system (an import): time-ordered
            /// by `created`, the record's original creation time, and otherwise derived from
            /// `seed` (say, the source, the kind and the original id), so that the same
            /// record is given the same id every time and importing it again finds it.
            pub fn derived(created: crate::Timestamp, seed: &[u8]) -> Self {
                Self(Self::KIND.derive(created, seed))
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

/// The key that signs reserved message ids: random, per process.
static RESERVATION_KEY: std::sync::LazyLock<[u8; 32]> = std::sync::LazyLock::new(|| {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    key
});

/// Where a reservation's signature sits in the id: the 28 random bits between the kind
/// tag and the 42-bit counter that keeps ids minted in one millisecond in order, so
/// reserved ids stay time-ordered. A made-up id passes with odds of 1 in 2^28.
const SIGNATURE_SHIFT: u32 = 4;
const SIGNATURE_MASK: u128 = 0x0FFF_FFFF << SIGNATURE_SHIFT;

impl MessageId {
    /// Mints an id for a message that `user` is about to append, so that what belongs
    /// to the message (its attachments) can be stored under the id first. Pass it as
    /// [`crate::NewMessage::id`].
    ///
    /// The id carries a signature over itself and the user, made with a key that lives
    /// as long as this process: a store accepts a chosen id only when it was reserved
    /// here for the user appending. Any other id is refused the same way whether or not
    /// a message has it, so a user can never learn whether another user's message id
    /// exists.
    ///
    /// ```
    /// use chatstore::{MessageId, UserId};
    ///
    /// let (ada, bob) = (UserId::new(), UserId::new());
    /// let id = MessageId::reserve(ada);
    /// assert!(id.is_reserved_for(ada));
    /// assert!(!id.is_reserved_for(bob));
    /// assert!(!MessageId::new().is_reserved_for(ada));
    /// ```
    pub fn reserve(user: UserId) -> MessageId {
        let unsigned = MessageId::new().0.as_u128() & !SIGNATURE_MASK;
        MessageId(Uuid::from_u128(
            unsigned | reservation_signature(unsigned, user),
        ))
    }

    /// True when [`MessageId::reserve`] minted this id for `user` in this process.
    pub fn is_reserved_for(self, user: UserId) -> bool {
        let raw = self.0.as_u128();
        raw & SIGNATURE_MASK == reservation_signature(raw & !SIGNATURE_MASK, user)
    }
}

/// The signature bits of a reserved id, already in place.
fn reservation_signature(unsigned: u128, user: UserId) -> u128 {
    let mut input = [0u8; 32];
    input[..16].copy_from_slice(&unsigned.to_be_bytes());
    input[16..].copy_from_slice(user.as_uuid().as_bytes());
    let hash = blake3::keyed_hash(&RESERVATION_KEY, &input);
    let bytes = hash.as_bytes();
    (u128::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])) << SIGNATURE_SHIFT)
        & SIGNATURE_MASK
}

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
    fn derived_ids_are_stable_time_ordered_and_of_their_kind() {
        let created: crate::Timestamp = "2024-03-01T12:00:00.123456Z".parse().unwrap();
        let a = MessageId::derived(created, b"seed001/message/42");
        assert_eq!(a, MessageId::derived(created, b"seed001/message/42"));
        assert_ne!(a, MessageId::derived(created, b"seed001/message/43"));
        assert_eq!(a.to_string().parse::<MessageId>().unwrap(), a);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        let (seconds, nanos) = a.as_uuid().get_timestamp().unwrap().to_unix();
        assert_eq!((seconds, nanos), (1_709_294_400, 123_000_000));
        let later: crate::Timestamp = "2024-03-01T12:00:01Z".parse().unwrap();
        assert!(MessageId::derived(later, b"seed001/message/1") > a);
        assert!(
            UserId::from_uuid(ConversationId::derived(created, b"x").as_uuid()).is_err(),
            "the kind is carried"
        );
        let before_1970: crate::Timestamp = "1960-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            UserId::derived(before_1970, b"x")
                .as_uuid()
                .get_version_num(),
            7
        );
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

    #[test]
    fn reserved_ids_are_message_ids_for_one_user_only() {
        let ada = UserId::new();
        let ids: Vec<MessageId> = (0..1000).map(|_| MessageId::reserve(ada)).collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "still time-ordered"
        );
        for id in &ids {
            assert!(id.is_reserved_for(ada));
            assert!(!id.is_reserved_for(UserId::new()));
            assert_eq!(id.to_string().parse::<MessageId>().unwrap(), *id);
        }
        let ordinary = (0..1000)
            .filter(|_| MessageId::new().is_reserved_for(ada))
            .count();
        assert_eq!(ordinary, 0);
    }
}
