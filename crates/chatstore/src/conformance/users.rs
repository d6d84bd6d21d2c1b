//! Users: registration, lookup, login, profile, activation, deletion.

use serde_json::json;

use super::support::{
    admin, all_users, answer, conversation, document, fixture_with, global_document, password,
    process, say, secs, start, user, walk,
};
use super::{Backend, fixture};
use crate::{
    Clock, ConflictKind, Error, ExplainabilityLevel, NewAgentLog, NewConversation, NewSession,
    NewUsage, NewUser, OperationType, Password, PasswordParams, ProfileUpdate, SearchQuery,
    TimeRange, UserId, UserQuery,
};

/// A registered user is found by id, email (any case) and username, without their password.
pub fn users_register_and_fetch(backend: &dyn Backend) {
    let f = fixture(backend);
    let ada = f
        .store
        .create_user(&NewUser::new("ada", "Ada@Example.com", "correct horse").full_name("Ada L"))
        .expect("registration succeeds");
    assert_eq!(ada.email, "ada@example.com", "email is stored lower-cased");
    assert_eq!(ada.full_name.as_deref(), Some("Ada L"));
    assert!(ada.is_active);
    assert_eq!(ada.preferred_llm, "ollama");
    assert_eq!(f.store.user(ada.id).expect("by id"), ada);
    assert_eq!(
        f.store.user_by_email("ADA@example.com").expect("by email"),
        ada
    );
    assert_eq!(f.store.user_by_username("ada").expect("by username"), ada);
    assert!(!format!("{ada:?}").contains("correct horse"));
}

/// A new account is active with the default profile, clock timestamps and a normalised email.
pub fn users_new_account_defaults(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let bob = s
        .create_user(&NewUser::new("bob", "  Bob@Example.ORG ", "12345678"))
        .expect("an 8-byte password is long enough");
    assert_eq!(bob.email, "bob@example.org");
    assert_eq!(bob.username, "bob");
    assert_eq!(bob.full_name, None);
    assert!(bob.is_active);
    assert_eq!(bob.last_login_at, None);
    assert_eq!(bob.preferred_llm, "ollama");
    assert_eq!(bob.explainability_level, ExplainabilityLevel::Detailed);
    assert!(bob.metadata.is_empty());
    assert_eq!(bob.created_at, start());
    assert_eq!(bob.updated_at, start());
    let long = "p".repeat(1024);
    let carol = s
        .create_user(&NewUser::new("carol", "carol@example.com", &long))
        .expect("a 1024-byte password is accepted");
    s.authenticate("carol", &Password::new(long))
        .expect("the longest password logs in");
    assert_ne!(carol.id, bob.id);
}

/// Each kind of malformed username is a validation error on `username`; nothing is stored.
pub fn users_reject_malformed_usernames(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let too_long = "x".repeat(65);
    for bad in [
        "",
        "  ",
        "ab",
        too_long.as_str(),
        "has space",
        "semi;colon",
        "a/b",
        "ü@x",
    ] {
        assert_err!(
            s.create_user(&NewUser::new(bad, "someone@example.com", "long enough pw")),
            Error::Validation {
                field: "username",
                ..
            },
            "username {bad:?}"
        );
    }
    assert!(all_users(s).is_empty(), "no rejected user was stored");
    assert_err!(
        s.user_by_email("someone@example.com"),
        Error::NotFound { .. }
    );
}

/// Each kind of malformed email is a validation error on `email`; nothing is stored.
pub fn users_reject_malformed_emails(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let too_long = format!("{}@example.com", "x".repeat(250));
    for bad in [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a@@b.com",
        "a@b@c.com",
        "a b@c.com",
        "a@b..com",
        "a@.com",
        "tab\t@example.com",
        too_long.as_str(),
    ] {
        assert_err!(
            s.create_user(&NewUser::new("someone", bad, "long enough pw")),
            Error::Validation { field: "email", .. },
            "email {bad:?}"
        );
    }
    assert!(all_users(s).is_empty(), "no rejected user was stored");
}

/// Passwords outside 8–1024 bytes and over-long names are validation errors; nothing stored.
pub fn users_reject_bad_passwords_and_names(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let huge = "p".repeat(1025);
    for bad in ["", "short", "1234567", huge.as_str()] {
        assert_err!(
            s.create_user(&NewUser::new("someone", "someone@example.com", bad)),
            Error::Validation {
                field: "password",
                ..
            },
            "password of {} bytes",
            bad.len()
        );
    }
    let name = "é".repeat(501);
    assert_err!(
        s.create_user(
            &NewUser::new("someone", "someone@example.com", "long enough pw").full_name(&name)
        ),
        Error::Validation {
            field: "full_name",
            ..
        }
    );
    assert!(all_users(s).is_empty(), "no rejected user was stored");
    assert_err!(s.user_by_username("someone"), Error::NotFound { .. });
}

/// A username or email taken in any letter case is a unique conflict that changes nothing.
pub fn users_duplicates_are_unique_conflicts(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "Ada");
    for new in [
        NewUser::new("Ada", "other@example.com", "long enough pw"),
        NewUser::new("ada", "other@example.com", "long enough pw"),
        NewUser::new("ADA", "other@example.com", "long enough pw"),
        NewUser::new("someone", "ada@example.com", "long enough pw"),
        NewUser::new("someone", "ADA@EXAMPLE.COM", "long enough pw"),
    ] {
        assert_err!(
            s.create_user(&new),
            Error::Conflict {
                kind: ConflictKind::Unique,
                ..
            },
            "{} / {}",
            new.username,
            new.email
        );
    }
    assert_eq!(
        all_users(s),
        vec![ada.clone()],
        "only the first account exists"
    );
    s.authenticate("Ada", &Password::new(password("Ada")))
        .expect("the original password still works");
    assert_err!(
        s.authenticate("Ada", &Password::new("long enough pw")),
        Error::InvalidCredentials
    );
}

/// Usernames differing only in the case of non-ASCII letters are the same name.
pub fn users_username_case_folding_covers_non_ascii(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let first = s
        .create_user(&NewUser::new("Ådne", "adne@example.com", "long enough pw"))
        .expect("letters beyond ASCII are allowed in usernames");
    assert_err!(
        s.create_user(&NewUser::new("ådne", "adne2@example.com", "long enough pw")),
        Error::Conflict {
            kind: ConflictKind::Unique,
            ..
        }
    );
    assert_eq!(all_users(s), vec![first]);
}

/// Looking up an id, email or username nobody has is not found.
pub fn users_unknown_lookups_are_not_found(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    user(s, "ada");
    assert_err!(s.user(UserId::new()), Error::NotFound { .. });
    assert_err!(
        s.user_by_email("nobody@example.com"),
        Error::NotFound { .. }
    );
    assert_err!(s.user_by_username("nobody"), Error::NotFound { .. });
}

/// Login works by username or email (any case) and records `last_login_at` each time.
pub fn users_authenticate_by_username_or_email(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    f.clock.advance(secs(60));
    let by_name = s
        .authenticate("ada", &Password::new(password("ada")))
        .expect("login by username");
    assert_eq!(by_name.id, ada.id);
    assert_eq!(by_name.last_login_at, Some(f.clock.now()));
    assert_eq!(
        s.user(ada.id).expect("by id").last_login_at,
        Some(f.clock.now())
    );
    f.clock.advance(secs(3600));
    let by_email = s
        .authenticate("ADA@Example.com", &Password::new(password("ada")))
        .expect("login by email in another case");
    assert_eq!(by_email.id, ada.id);
    assert_eq!(by_email.last_login_at, Some(f.clock.now()));
    assert_eq!(by_email.email, ada.email);
}

/// Wrong passwords and unknown logins are both `InvalidCredentials`, recording nothing.
pub fn users_authenticate_rejects_wrong_password_and_unknown_user(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    for (login, pw) in [
        ("ada", "wrong password"),
        ("ada@example.com", "wrong password"),
        ("ada", ""),
        ("nobody", password("ada").as_str()),
        ("nobody@example.com", "whatever123"),
        ("", "whatever123"),
    ] {
        assert_err!(
            s.authenticate(login, &Password::new(pw)),
            Error::InvalidCredentials,
            "login {login:?}"
        );
    }
    assert_eq!(s.user(ada.id).expect("by id"), ada, "nothing was recorded");
}

/// The right password on a deactivated account is `UserInactive`; reactivation lets them in.
pub fn users_authenticate_deactivated_is_user_inactive(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let inactive = s.set_user_active(ada.id, false).expect("deactivate");
    assert!(!inactive.is_active);
    assert_err!(
        s.authenticate("ada", &Password::new(password("ada"))),
        Error::UserInactive
    );
    assert_err!(
        s.authenticate("ada", &Password::new("wrong password")),
        Error::InvalidCredentials
    );
    assert_eq!(s.user(ada.id).expect("by id").last_login_at, None);
    let active = s.set_user_active(ada.id, true).expect("reactivate");
    assert!(active.is_active);
    s.authenticate("ada", &Password::new(password("ada")))
        .expect("a reactivated user logs in");
}

/// Reopening with other argon2 parameters keeps logins working, before and after the rehash.
pub fn users_password_rehash_on_new_parameters(backend: &dyn Backend) {
    let f = fixture(backend);
    user(&*f.store, "ada");
    let stronger = PasswordParams {
        memory_kib: 256,
        iterations: 2,
        parallelism: 1,
    };
    let reopened = fixture_with(backend, |c| c.password_params(stronger));
    let ada = reopened
        .store
        .authenticate("ada", &Password::new(password("ada")))
        .expect("the old hash verifies under new parameters");
    assert!(ada.last_login_at.is_some());
    assert_err!(
        reopened
            .store
            .authenticate("ada", &Password::new("wrong password")),
        Error::InvalidCredentials
    );
    drop(reopened);
    let again = fixture(backend);
    again
        .store
        .authenticate("ada", &Password::new(password("ada")))
        .expect("the replaced hash verifies under the original parameters");
    f.store
        .authenticate("ada", &Password::new(password("ada")))
        .expect("the first store still logs the user in");
    assert_err!(
        again
            .store
            .authenticate("ada", &Password::new("wrong password")),
        Error::InvalidCredentials
    );
}

/// A new password replaces the old one and revokes every session; rejected changes change nothing.
pub fn users_set_password(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (_, token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    assert_err!(
        s.set_password(ada.id, &Password::new("short")),
        Error::Validation {
            field: "password",
            ..
        }
    );
    s.authenticate("ada", &Password::new(password("ada")))
        .expect("a rejected change keeps the old password");
    s.validate_session(&token)
        .expect("a rejected change keeps the sessions");
    assert_err!(
        s.set_password(UserId::new(), &Password::new("brand new password")),
        Error::NotFound { .. }
    );

    s.set_password(ada.id, &Password::new("brand new password"))
        .expect("set password");
    assert_err!(
        s.authenticate("ada", &Password::new(password("ada"))),
        Error::InvalidCredentials
    );
    s.authenticate("ada", &Password::new("brand new password"))
        .expect("the new password works");
    assert_err!(s.validate_session(&token), Error::InvalidSession);
    assert!(s.list_sessions(ada.id).expect("sessions").is_empty());
}

/// `update_profile` changes exactly the given fields, metadata JSON included, moving `updated_at`.
pub fn users_update_profile(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    f.clock.advance(secs(10));
    let named = s
        .update_profile(
            ada.id,
            &ProfileUpdate {
                full_name: Some(Some("Ada Lovelace".into())),
                ..ProfileUpdate::default()
            },
        )
        .expect("set name");
    assert_eq!(named.full_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(named.preferred_llm, "ollama");
    assert_eq!(named.updated_at, f.clock.now());

    let llm = s
        .update_profile(
            ada.id,
            &ProfileUpdate {
                preferred_llm: Some("custom".into()),
                explainability_level: Some(ExplainabilityLevel::Debug),
                ..ProfileUpdate::default()
            },
        )
        .expect("set llm and level");
    assert_eq!(llm.preferred_llm, "custom");
    assert_eq!(llm.explainability_level, ExplainabilityLevel::Debug);
    assert_eq!(llm.full_name.as_deref(), Some("Ada Lovelace"), "name kept");

    let metadata = json!({"theme": "dark", "pinned": [1, 2, 3], "nested": {"a": null, "b": 1.5}});
    let serde_json::Value::Object(metadata) = metadata else {
        unreachable!("an object literal")
    };
    let with_meta = s
        .update_profile(
            ada.id,
            &ProfileUpdate {
                metadata: Some(metadata.clone()),
                ..ProfileUpdate::default()
            },
        )
        .expect("set metadata");
    assert_eq!(with_meta.metadata, metadata);

    let cleared = s
        .update_profile(
            ada.id,
            &ProfileUpdate {
                full_name: Some(None),
                ..ProfileUpdate::default()
            },
        )
        .expect("clear name");
    assert_eq!(cleared.full_name, None);
    assert_eq!(cleared.preferred_llm, "custom");
    assert_eq!(cleared.explainability_level, ExplainabilityLevel::Debug);
    assert_eq!(cleared.metadata, metadata);
    assert_eq!(
        s.user(ada.id).expect("by id"),
        cleared,
        "the change is stored"
    );
}

/// Invalid profile changes and unknown users are rejected without changing anything.
pub fn users_update_profile_rejects_bad_input(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    f.clock.advance(secs(10));
    assert_err!(
        s.update_profile(
            ada.id,
            &ProfileUpdate {
                preferred_llm: Some("   ".into()),
                ..ProfileUpdate::default()
            }
        ),
        Error::Validation {
            field: "preferred_llm",
            ..
        }
    );
    assert_err!(
        s.update_profile(
            ada.id,
            &ProfileUpdate {
                full_name: Some(Some("n".repeat(501))),
                preferred_llm: Some("custom".into()),
                ..ProfileUpdate::default()
            }
        ),
        Error::Validation {
            field: "full_name",
            ..
        }
    );
    let deep = (0..200).fold(serde_json::json!(1), |inner, _| serde_json::json!([inner]));
    let mut metadata = serde_json::Map::new();
    metadata.insert("deep".into(), deep);
    assert_err!(
        s.update_profile(
            ada.id,
            &ProfileUpdate {
                metadata: Some(metadata),
                ..ProfileUpdate::default()
            }
        ),
        Error::Validation {
            field: "metadata",
            ..
        }
    );
    assert_err!(
        s.update_profile(UserId::new(), &ProfileUpdate::default()),
        Error::NotFound { .. }
    );
    assert_eq!(s.user(ada.id).expect("by id"), ada, "nothing changed");
}

/// Deactivating shows in the account and revokes its sessions; an unknown user is not found.
pub fn users_set_active(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let (_, token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    let off = s.set_user_active(ada.id, false).expect("deactivate");
    assert!(!off.is_active);
    assert!(!s.user(ada.id).expect("by id").is_active);
    assert_err!(s.validate_session(&token), Error::InvalidSession);
    assert!(s.list_sessions(ada.id).expect("sessions").is_empty());
    assert_err!(
        s.set_user_active(UserId::new(), false),
        Error::NotFound { .. }
    );
}

/// `list_users` pages oldest first with cursors, every user once, the active filter across pages.
pub fn users_list_pages_with_cursors(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let mut expected = Vec::new();
    for i in 0..8 {
        // Pairs share a creation time, so ties must page correctly too.
        if i % 2 == 0 {
            f.clock.advance(secs(1));
        }
        expected.push(user(s, &format!("user{i}")).id);
    }
    s.set_user_active(expected[1], false).expect("deactivate");
    s.set_user_active(expected[6], false).expect("deactivate");

    for limit in [1, 3, 8, 50] {
        let pages = walk(|cursor| {
            s.list_users(&UserQuery {
                active: None,
                limit,
                cursor,
            })
            .expect("page of users")
        });
        assert!(pages.iter().all(|p| p.len() <= limit as usize));
        let got: Vec<UserId> = pages.into_iter().flatten().map(|u| u.id).collect();
        assert_eq!(
            got, expected,
            "limit {limit}: oldest first, no gaps or repeats"
        );
    }
    let pages = walk(|cursor| {
        s.list_users(&UserQuery {
            active: Some(true),
            limit: 2,
            cursor,
        })
        .expect("page of active users")
    });
    let active: Vec<UserId> = pages.into_iter().flatten().map(|u| u.id).collect();
    let want: Vec<UserId> = expected
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1 && *i != 6)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(active, want);
    let inactive = s
        .list_users(&UserQuery {
            active: Some(false),
            limit: 1,
            cursor: None,
        })
        .expect("first inactive");
    assert_eq!(inactive.items.len(), 1);
    assert_eq!(inactive.items[0].id, expected[1]);
    let rest = s
        .list_users(&UserQuery {
            active: Some(false),
            limit: 1,
            cursor: inactive.next,
        })
        .expect("second inactive");
    assert_eq!(rest.items[0].id, expected[6]);
    assert_eq!(rest.next, None, "the last page has no cursor");
}

/// A cursor the store did not make, or a page size outside 1–1000, is a validation error.
pub fn users_list_rejects_bad_cursor_and_limit(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    user(s, "ada");
    for text in ["", "garbage", "2026-01-01~nope", "~~~"] {
        assert_err!(
            s.list_users(&UserQuery {
                cursor: Some(crate::Cursor::new(text)),
                ..UserQuery::default()
            }),
            Error::Validation {
                field: "cursor",
                ..
            },
            "cursor {text:?}"
        );
    }
    for limit in [0, 1001] {
        assert_err!(
            s.list_users(&UserQuery {
                limit,
                ..UserQuery::default()
            }),
            Error::Validation { field: "limit", .. }
        );
    }
}

/// Deleting a user removes all they own, lists their documents for cleanup, spares others.
pub fn users_delete_user_removes_everything(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = admin(s, "ada");
    let bob = user(s, "bob");
    let (_, ada_token) = s
        .create_session(ada.id, &NewSession::default())
        .expect("ada session");
    let (_, bob_token) = s
        .create_session(bob.id, &NewSession::default())
        .expect("bob session");

    let private = document(s, ada.id, "ada.txt");
    let (_, private_chunks) = process(s, ada.id, &private, &["ada private text"]);
    let shared = global_document(s, ada.id, "handbook.pdf");
    let (_, shared_chunks) = process(s, ada.id, &shared, &["handbook text"]);

    let chat = conversation(s, ada.id, "ada chat");
    let q = say(s, ada.id, chat.id, "zebra question");
    let a = answer(s, ada.id, chat.id, "zebra answer");
    s.record_agent_log(ada.id, a.id, &NewAgentLog::new("ResearchAgent"))
        .expect("agent log");
    s.record_usage(
        ada.id,
        &NewUsage {
            conversation_id: Some(chat.id),
            message_id: Some(a.id),
            ..NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 100, 50)
        },
    )
    .expect("ada usage");

    let bob_chat = s
        .create_conversation(
            bob.id,
            &NewConversation {
                selected_document_ids: vec![shared.id],
                ..NewConversation::titled("bob chat")
            },
        )
        .expect("bob selects the global document");
    say(s, bob.id, bob_chat.id, "zebra from bob");
    s.record_usage(
        bob.id,
        &NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 7, 3),
    )
    .expect("bob usage");
    let bob_before = s.user(bob.id).expect("bob");

    let cleanup = s.delete_user(ada.id).expect("delete ada");
    let mut gone = cleanup.documents.clone();
    gone.sort();
    let mut want = vec![private.id, shared.id];
    want.sort();
    assert_eq!(gone, want, "the cleanup lists every document of the user");
    assert_eq!(cleanup.deleted, 1);

    assert_err!(s.user(ada.id), Error::NotFound { .. });
    assert_err!(s.user_by_username("ada"), Error::NotFound { .. });
    assert_err!(
        s.authenticate("ada", &Password::new(password("ada"))),
        Error::InvalidCredentials
    );
    assert_err!(s.validate_session(&ada_token), Error::InvalidSession);
    assert_err!(s.conversation(ada.id, chat.id), Error::NotFound { .. });
    assert_err!(s.message(ada.id, q.id), Error::NotFound { .. });
    assert_err!(s.document(bob.id, shared.id), Error::NotFound { .. });
    let chunk_ids: Vec<_> = private_chunks
        .iter()
        .chain(&shared_chunks)
        .map(|c| c.id)
        .collect();
    assert!(
        s.chunks_by_ids(bob.id, &chunk_ids)
            .expect("chunks")
            .is_empty()
    );
    assert!(
        s.list_users(&UserQuery::default())
            .expect("users")
            .items
            .iter()
            .all(|u| u.id != ada.id)
    );

    let system = s.system_usage(TimeRange::ALL).expect("system usage");
    let requests: u64 = system.iter().map(|b| b.totals.requests).sum();
    assert_eq!(requests, 1, "only bob's usage record is left");

    let bob_chat_now = s.conversation(bob.id, bob_chat.id).expect("bob chat");
    assert!(
        bob_chat_now.selected_document_ids.is_empty(),
        "the deleted document is no longer selected"
    );
    assert_eq!(bob_chat_now.message_count, 1);
    assert_eq!(s.user(bob.id).expect("bob"), bob_before);
    s.validate_session(&bob_token).expect("bob's session lives");
    let hits = s
        .search_messages(bob.id, &SearchQuery::new("zebra"))
        .expect("search");
    assert_eq!(hits.len(), 1, "bob finds only his own message");
    s.check_integrity().expect("no dangling references remain");

    assert_err!(s.delete_user(ada.id), Error::NotFound { .. });
    s.create_user(&NewUser::new("ada", "ada@example.com", "another password"))
        .expect("the name and email are free again");
    assert_err!(s.delete_user(UserId::new()), Error::NotFound { .. });
}

/// Password hashes made by other applications (imported users: argon2i/d, bcrypt,
/// werkzeug scrypt and PBKDF2, passlib PBKDF2) log their user in with the old password,
/// which is then rehashed to argon2id; a wrong password, an unknown scheme or an
/// unknown user is refused, and setting a hash revokes the user's sessions.
pub fn users_imported_password_hashes_log_in_and_are_rehashed(backend: &dyn Backend) {
    use crate::HashScheme;
    use crate::secrets::vectors::{
        ALL, PASSLIB_PBKDF2_SHA256_UNICODE, PASSWORD, UNICODE_PASSWORD, WERKZEUG_SCRYPT_UNICODE,
    };
    let f = fixture(backend);
    let s = &*f.store;
    let vectors = ALL.iter().map(|stored| (*stored, PASSWORD)).chain([
        (WERKZEUG_SCRYPT_UNICODE, UNICODE_PASSWORD),
        (PASSLIB_PBKDF2_SHA256_UNICODE, UNICODE_PASSWORD),
    ]);
    for (i, (stored, plain)) in vectors.enumerate() {
        let name = format!("imported{i}");
        let imported = user(s, &name);
        let (_, token) = s
            .create_session(imported.id, &NewSession::default())
            .expect("session");
        s.set_password_hash(imported.id, stored)
            .expect("a hash of a known scheme is accepted");
        assert_err!(s.validate_session(&token), Error::InvalidSession);
        let scheme = HashScheme::of(stored);
        assert_eq!(s.password_scheme(imported.id).expect("scheme"), scheme);
        assert_err!(
            s.authenticate(&name, &Password::new(password(&name))),
            Error::InvalidCredentials,
            "the password registered before the import is replaced ({stored})"
        );
        assert_err!(
            s.authenticate(&name, &Password::new("not the old password")),
            Error::InvalidCredentials,
            "a wrong password is refused ({stored})"
        );
        assert_eq!(s.password_scheme(imported.id).expect("scheme"), scheme);
        let logged_in = s
            .authenticate(&name, &Password::new(plain))
            .unwrap_or_else(|e| panic!("the old password logs in ({stored}): {e:?}"));
        assert!(logged_in.last_login_at.is_some());
        assert_eq!(
            s.password_scheme(imported.id).expect("scheme"),
            Some(HashScheme::Argon2),
            "the first login rehashes to argon2id ({stored})"
        );
        s.authenticate(&format!("{name}@example.com"), &Password::new(plain))
            .expect("the rehashed password logs in again");
        assert_err!(
            s.authenticate(&name, &Password::new("not the old password")),
            Error::InvalidCredentials
        );
    }
    let ada = user(s, "ada");
    for unknown in ["md5$salt$0123", "", "$1$salt$hash", "sha256 with spaces"] {
        assert_err!(
            s.set_password_hash(ada.id, unknown),
            Error::Validation {
                field: "password_hash",
                ..
            }
        );
    }
    s.authenticate("ada", &Password::new(password("ada")))
        .expect("a refused hash changes nothing");
    assert_err!(
        s.set_password_hash(UserId::new(), ALL[0]),
        Error::NotFound { .. }
    );
    assert_err!(s.password_scheme(UserId::new()), Error::NotFound { .. });
}
