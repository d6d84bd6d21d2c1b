//! Login sessions: tokens, expiry, activity, revocation and cleanup.

use super::support::{secs, start, user};
use super::{Backend, fixture};
use crate::{Clock, Error, NewSession, SessionId, SessionToken, UserId};

/// A new session comes with its token once, default lifetime and user agent, and validates.
pub fn sessions_create_and_validate(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (session, token) = s
        .create_session(
            ada.id,
            &NewSession {
                ttl: None,
                user_agent: Some("Firefox".into()),
            },
        )
        .expect("session");
    assert_eq!(session.user_id, ada.id);
    assert_eq!(session.created_at, start());
    assert_eq!(session.expires_at, start() + secs(24 * 3600), "default ttl");
    assert_eq!(session.last_activity_at, start());
    assert_eq!(session.revoked_at, None);
    assert_eq!(session.user_agent.as_deref(), Some("Firefox"));
    assert_eq!(token.expose().len(), 64);
    assert!(!format!("{session:?}").contains(token.expose()));

    let (checked, who) = s.validate_session(&token).expect("valid");
    assert_eq!(checked, session);
    assert_eq!(who.id, ada.id);
    let from_client = SessionToken::parse(&token.expose().to_uppercase()).expect("parses");
    assert_eq!(
        s.validate_session(&from_client).expect("valid").0.id,
        session.id
    );

    let (other, other_token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("second session");
    assert_ne!(other.id, session.id);
    assert_ne!(other_token, token);
    assert_eq!(
        s.validate_session(&other_token).expect("valid").0.id,
        other.id
    );
}

/// A session is valid until its `expires_at` (custom or default ttl) and `InvalidSession` after.
pub fn sessions_expire_after_ttl(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (short, short_token) = s
        .create_session(
            ada.id,
            &NewSession {
                ttl: Some(secs(600)),
                user_agent: None,
            },
        )
        .expect("short session");
    assert_eq!(short.expires_at, start() + secs(600));
    let (_, long_token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("default session");
    f.clock.advance(secs(599));
    s.validate_session(&short_token).expect("still valid");
    f.clock.advance(secs(1));
    assert_err!(s.validate_session(&short_token), Error::InvalidSession);
    let live = s.list_sessions(ada.id).expect("sessions");
    assert_eq!(live.len(), 1, "the expired session is not listed");
    s.validate_session(&long_token)
        .expect("default ttl not over");
    f.clock.set(start() + secs(24 * 3600));
    assert_err!(s.validate_session(&long_token), Error::InvalidSession);
    assert!(s.list_sessions(ada.id).expect("sessions").is_empty());
}

/// A deactivated user gets `UserInactive` and no session; an unknown user is not found.
pub fn sessions_create_requires_active_user(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    s.set_user_active(ada.id, false).expect("deactivate");
    assert_err!(
        s.create_session(ada.id, &NewSession::default()),
        Error::UserInactive
    );
    s.set_user_active(ada.id, true).expect("reactivate");
    assert!(
        s.list_sessions(ada.id).expect("sessions").is_empty(),
        "the refused session was not stored"
    );
    assert_err!(
        s.create_session(UserId::new(), &NewSession::default()),
        Error::NotFound { .. }
    );
}

/// A revoked token is `InvalidSession`, and so is revoking it again; other sessions live.
pub fn sessions_revoked_token_is_invalid(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (first, first_token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("first");
    let (second, second_token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("second");
    s.revoke_session(&first_token).expect("revoke");
    assert_err!(s.validate_session(&first_token), Error::InvalidSession);
    assert_err!(s.revoke_session(&first_token), Error::InvalidSession);
    assert_eq!(
        s.validate_session(&second_token).expect("valid").0.id,
        second.id
    );
    let ids: Vec<SessionId> = s
        .list_sessions(ada.id)
        .expect("sessions")
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(ids, vec![second.id]);
    assert_ne!(first.id, second.id);
}

/// Deactivating a user invalidates their sessions for good, even after reactivation.
pub fn sessions_deactivated_user_is_invalid(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (_, token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    s.set_user_active(ada.id, false).expect("deactivate");
    assert_err!(s.validate_session(&token), Error::InvalidSession);
    s.set_user_active(ada.id, true).expect("reactivate");
    assert_err!(s.validate_session(&token), Error::InvalidSession);
}

/// Validation rewrites `last_activity_at` only once the touch interval (60 s) has passed.
pub fn sessions_activity_touched_after_interval(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (_, token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    let stored = |s: &dyn crate::Store| s.list_sessions(ada.id).expect("sessions")[0].clone();

    f.clock.advance(secs(30));
    let (seen, _) = s.validate_session(&token).expect("valid");
    assert_eq!(
        seen.last_activity_at,
        start(),
        "not touched within the interval"
    );
    assert_eq!(stored(s).last_activity_at, start());

    f.clock.advance(secs(30));
    let (seen, _) = s.validate_session(&token).expect("valid");
    assert_eq!(seen.last_activity_at, start() + secs(60), "touched at 60 s");
    assert_eq!(stored(s).last_activity_at, start() + secs(60));

    f.clock.advance(secs(59));
    let (seen, _) = s.validate_session(&token).expect("valid");
    assert_eq!(seen.last_activity_at, start() + secs(60));
    assert_eq!(stored(s).last_activity_at, start() + secs(60));

    f.clock.advance(secs(1));
    s.validate_session(&token).expect("valid");
    assert_eq!(stored(s).last_activity_at, f.clock.now());
}

/// Malformed or never-issued tokens are `InvalidSession` for validation and revocation.
pub fn sessions_unknown_or_malformed_token_is_invalid(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (_, token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    for bad in [
        "",
        "abc",
        &"g".repeat(64),
        &"a".repeat(65),
        &token.expose()[1..],
    ] {
        assert_err!(SessionToken::parse(bad), Error::InvalidSession, "{bad:?}");
    }
    let stranger = SessionToken::generate();
    assert_err!(s.validate_session(&stranger), Error::InvalidSession);
    assert_err!(s.revoke_session(&stranger), Error::InvalidSession);
    s.validate_session(&token)
        .expect("the real session is unaffected");
}

/// `revoke_all_sessions` revokes and counts the user's live sessions, nobody else's.
pub fn sessions_revoke_all(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let tokens: Vec<SessionToken> = (0..3)
        .map(|_| {
            s.create_session(ada.id, &NewSession::default())
                .expect("session")
                .1
        })
        .collect();
    let (_, bob_token) = s
        .create_session(bob.id, &NewSession::default())
        .expect("bob session");
    s.revoke_session(&tokens[0]).expect("revoke one");
    assert_eq!(s.revoke_all_sessions(ada.id).expect("revoke all"), 2);
    for token in &tokens {
        assert_err!(s.validate_session(token), Error::InvalidSession);
    }
    assert!(s.list_sessions(ada.id).expect("sessions").is_empty());
    assert_eq!(s.revoke_all_sessions(ada.id).expect("again"), 0);
    s.validate_session(&bob_token).expect("bob unaffected");
    assert_err!(s.revoke_all_sessions(UserId::new()), Error::NotFound { .. });
}

/// A user revokes their own session by id; unknown or another user's session ids are not found.
pub fn sessions_revoke_by_id(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let (phone, phone_token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("phone");
    let (laptop, laptop_token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("laptop");
    let (bobs, bob_token) = s
        .create_session(bob.id, &NewSession::default())
        .expect("bob");

    s.revoke_session_by_id(ada.id, phone.id)
        .expect("revoke phone");
    assert_err!(s.validate_session(&phone_token), Error::InvalidSession);
    assert_eq!(
        s.validate_session(&laptop_token).expect("valid").0.id,
        laptop.id
    );
    let listed: Vec<SessionId> = s
        .list_sessions(ada.id)
        .expect("sessions")
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(listed, vec![laptop.id]);

    assert_err!(
        s.revoke_session_by_id(ada.id, bobs.id),
        Error::NotFound { .. }
    );
    s.validate_session(&bob_token)
        .expect("another user's session stays valid");
    assert_err!(
        s.revoke_session_by_id(ada.id, SessionId::new()),
        Error::NotFound { .. }
    );
}

/// `list_sessions` gives the user's live sessions, newest first, and nobody else's.
pub fn sessions_list_newest_first(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let mut made = Vec::new();
    for agent in ["curl", "Firefox", "Safari"] {
        f.clock.advance(secs(5));
        let (session, _) = s
            .create_session(
                ada.id,
                &NewSession {
                    ttl: None,
                    user_agent: Some(agent.into()),
                },
            )
            .expect("session");
        made.push(session);
    }
    s.create_session(bob.id, &NewSession::default())
        .expect("bob session");
    made.reverse();
    assert_eq!(s.list_sessions(ada.id).expect("sessions"), made);
    assert_err!(s.list_sessions(UserId::new()), Error::NotFound { .. });
}

/// `delete_expired_sessions` deletes and counts expired and revoked sessions, keeping live ones.
pub fn sessions_delete_expired(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let short = NewSession {
        ttl: Some(secs(60)),
        user_agent: None,
    };
    let (_, live) = s
        .create_session(ada.id, &NewSession::default())
        .expect("live");
    s.create_session(ada.id, &short).expect("expiring");
    let (_, revoked) = s
        .create_session(bob.id, &NewSession::default())
        .expect("to revoke");
    s.revoke_session(&revoked).expect("revoke");
    s.create_session(bob.id, &short).expect("expiring");
    let (_, bob_live) = s
        .create_session(bob.id, &NewSession::default())
        .expect("bob live");
    f.clock.advance(secs(61));
    assert_eq!(s.delete_expired_sessions().expect("cleanup"), 3);
    assert_eq!(s.delete_expired_sessions().expect("again"), 0);
    s.validate_session(&live).expect("live session kept");
    s.validate_session(&bob_live)
        .expect("bob's live session kept");
    assert_eq!(s.list_sessions(ada.id).expect("sessions").len(), 1);
    assert_eq!(s.list_sessions(bob.id).expect("sessions").len(), 1);
}
