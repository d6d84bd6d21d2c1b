//! Users, login sessions, roles and permissions on PostgreSQL, against the real server.
//! (When every store of the backend is in, the core's conformance suite runs here as it
//! does on SQLite; these checks cover the accounts part until then.)

mod common;

use std::time::Duration;

use chatstore::{
    ConflictKind, Error, ExplainabilityLevel, NewSession, NewUser, Password, PasswordParams,
    ProfileUpdate, RbacStore, SessionStore, UserQuery, UserStore,
};
use chatstore_postgres::PgStore;
use common::TempSchema;

fn open(schema: &TempSchema) -> PgStore {
    PgStore::open_with(schema.config(), &schema.options()).expect("opens")
}

#[test]
fn users_register_log_in_and_are_unique_by_email_and_name() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let ada = store
        .create_user(&NewUser::new("Ada", "Ada@Example.com", "correct horse"))
        .expect("registers");
    assert_eq!(
        (ada.username.as_str(), ada.email.as_str()),
        ("Ada", "ada@example.com")
    );
    assert_eq!(store.user_by_username("ADA").expect("by name").id, ada.id);
    assert_eq!(
        store.user_by_email("ADA@example.com").expect("by email").id,
        ada.id
    );
    let logged_in = store
        .authenticate("ada", &Password::new("correct horse"))
        .expect("logs in");
    assert!(logged_in.last_login_at.is_some());
    assert!(matches!(
        store.authenticate("ada", &Password::new("wrong horse")),
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        store.authenticate("nobody", &Password::new("correct horse")),
        Err(Error::InvalidCredentials)
    ));
    for (name, email) in [("ada", "other@example.com"), ("other", "ada@example.com")] {
        assert!(matches!(
            store.create_user(&NewUser::new(name, email, "correct horse")),
            Err(Error::Conflict {
                kind: ConflictKind::Unique,
                ..
            })
        ));
    }
    assert!(matches!(
        store.create_user(&NewUser::new("bad\0name", "x@example.com", "correct horse")),
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        store.user(chatstore::UserId::new()),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_login_rehashes_a_password_made_with_older_parameters() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("registers");
    let stored = |schema: &mut TempSchema| schema.texts("SELECT password_hash FROM users");
    let mut schema = schema;
    let before = stored(&mut schema);
    drop(store);
    let stronger = PasswordParams {
        iterations: PasswordParams::fast_for_tests().iterations + 1,
        ..PasswordParams::fast_for_tests()
    };
    let store = PgStore::open_with(schema.config().password_params(stronger), &schema.options())
        .expect("reopens");
    store
        .authenticate("ada", &Password::new("correct horse"))
        .expect("logs in");
    let after = stored(&mut schema);
    assert_ne!(before, after, "rehashed with the new parameters");
    store
        .authenticate("ada", &Password::new("correct horse"))
        .expect("logs in with the new hash");
}

#[test]
fn profiles_activation_and_listing() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let users: Vec<_> = (0..5)
        .map(|i| {
            store
                .create_user(&NewUser::new(
                    &format!("user{i}"),
                    &format!("u{i}@example.com"),
                    "correct horse",
                ))
                .expect("registers")
        })
        .collect();
    let update = ProfileUpdate {
        full_name: Some(Some("Ada Lovelace".to_owned())),
        explainability_level: Some(ExplainabilityLevel::Debug),
        metadata: serde_json::json!({"theme": "dark"}).as_object().cloned(),
        ..ProfileUpdate::default()
    };
    let updated = store.update_profile(users[0].id, &update).expect("updates");
    assert_eq!(updated.full_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(updated.explainability_level, ExplainabilityLevel::Debug);
    assert_eq!(updated.metadata["theme"], "dark");
    store
        .set_user_active(users[1].id, false)
        .expect("deactivates");
    assert!(matches!(
        store.authenticate("user1", &Password::new("correct horse")),
        Err(Error::UserInactive)
    ));
    let mut seen = Vec::new();
    let mut query = UserQuery {
        limit: 2,
        ..UserQuery::default()
    };
    loop {
        let page = store.list_users(&query).expect("lists");
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, users.iter().map(|u| u.id).collect::<Vec<_>>());
    let query = UserQuery {
        active: Some(false),
        ..UserQuery::default()
    };
    let inactive = store.list_users(&query).expect("lists");
    assert_eq!(inactive.items.len(), 1);
    store.delete_user(users[4].id).expect("deletes");
    assert!(matches!(
        store.user(users[4].id),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_user(users[4].id),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn sessions_live_expire_and_are_revoked() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (config, clock) = chatstore::conformance::test_config();
    let store = PgStore::open_with(
        config
            .database_url(schema.url.clone())
            .session_ttl(Duration::from_secs(3600)),
        &schema.options(),
    )
    .expect("opens");
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("registers");
    let (session, token) = store
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    let (found, user) = store.validate_session(&token).expect("valid");
    assert_eq!((found.id, user.id), (session.id, ada.id));
    assert_eq!(store.list_sessions(ada.id).expect("list").len(), 1);
    let stored = schema_tokens(&schema);
    assert!(
        !stored.iter().any(|t| t == token.expose()),
        "only the token's hash is stored"
    );
    clock.advance(Duration::from_secs(3601));
    assert!(matches!(
        store.validate_session(&token),
        Err(Error::InvalidSession)
    ));
    assert!(store.list_sessions(ada.id).expect("list").is_empty());
    let (_, second) = store
        .create_session(ada.id, &NewSession::default())
        .expect("session");
    store
        .set_password(ada.id, &Password::new("battery staple"))
        .expect("changes");
    assert!(
        matches!(store.validate_session(&second), Err(Error::InvalidSession)),
        "revoked by the change"
    );
    store.set_user_active(ada.id, false).expect("deactivates");
    assert!(matches!(
        store.create_session(ada.id, &NewSession::default()),
        Err(Error::UserInactive)
    ));
}

/// The token hashes stored, read over a connection of the test's own.
fn schema_tokens(schema: &TempSchema) -> Vec<String> {
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).expect("connects");
    client
        .query(
            &format!("SELECT token_hash FROM {}.user_sessions", schema.name),
            &[],
        )
        .expect("tokens")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn roles_and_permissions() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let names = |roles: Vec<chatstore::Role>| roles.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.roles().expect("roles")),
        ["admin", "analyst", "viewer"]
    );
    assert_eq!(store.permissions().expect("permissions").len(), 13);
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("registers");
    assert_eq!(names(store.user_roles(ada.id).expect("roles")), ["viewer"]);
    assert!(store.has_permission(ada.id, "chat:use").expect("check"));
    assert!(!store.has_permission(ada.id, "users:manage").expect("check"));
    store
        .create_role("auditor", Some("Reads logs"))
        .expect("creates");
    assert!(matches!(
        store.create_role("auditor", None),
        Err(Error::Conflict {
            kind: ConflictKind::Unique,
            ..
        })
    ));
    store
        .grant_permission("auditor", "agents:read")
        .expect("grants");
    store
        .grant_permission("auditor", "agents:read")
        .expect("granting twice is fine");
    store.assign_role(ada.id, "auditor").expect("assigns");
    assert!(store.has_permission(ada.id, "agents:read").expect("check"));
    assert_eq!(
        store.user_permissions(ada.id).expect("permissions"),
        ["agents:read", "chat:use", "documents:read", "explain:view"]
    );
    store
        .revoke_permission("auditor", "agents:read")
        .expect("revokes");
    assert!(!store.has_permission(ada.id, "agents:read").expect("check"));
    store.assign_role(ada.id, "admin").expect("assigns");
    assert!(
        store
            .has_permission(ada.id, "anything:at-all")
            .expect("admin:full holds all")
    );
    assert!(matches!(
        store.delete_role("admin"),
        Err(Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        })
    ));
    store.delete_role("auditor").expect("deletes");
    assert!(matches!(
        store.delete_role("auditor"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.grant_permission("nope", "chat:use"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.has_permission(chatstore::UserId::new(), "chat:use"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn many_writers_registering_one_email_let_exactly_one_through() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = std::sync::Arc::new(open(&schema));
    let outcomes: Vec<_> = (0..8)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || {
                store.create_user(&NewUser::new(
                    &format!("racer{i}"),
                    "same@example.com",
                    "correct horse",
                ))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(won, 1, "{outcomes:?}");
    for lost in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(
            matches!(
                lost,
                Error::Conflict {
                    kind: ConflictKind::Unique,
                    ..
                }
            ),
            "{lost:?}"
        );
    }
    let query = UserQuery::default();
    assert_eq!(store.list_users(&query).expect("lists").items.len(), 1);
}

#[test]
fn deleting_a_user_says_what_else_must_go_and_unselects_their_documents() {
    use chatstore::{ConversationId, DocumentId, MessageId};
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let store = open(&schema);
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("registers");
    let bob = store
        .create_user(&NewUser::new("bob", "bob@example.com", "correct horse"))
        .expect("registers");
    let (ada_chat, bob_chat) = (ConversationId::new(), ConversationId::new());
    let (with_file, without_file) = (MessageId::new(), MessageId::new());
    let (ada_doc, bob_doc) = (DocumentId::new(), DocumentId::new());
    // Rows of the stores still to come, written by hand: a conversation of each user,
    // two messages of Ada's (one with a file), a document of each, and Bob's
    // conversation selecting both (as if Ada's were global).
    schema.execute(&format!(
        "INSERT INTO conversations (id, user_id, created_at, updated_at, last_activity_at, selected_document_ids)
         VALUES ('{ada_chat}', '{ada}', now(), now(), now(), NULL),
                ('{bob_chat}', '{bob}', now(), now(), now(), '[\"{ada_doc}\", \"{bob_doc}\"]');
         INSERT INTO messages (id, conversation_id, seq, role, content, search_vector, files, created_at)
         VALUES ('{with_file}', '{ada_chat}', 1, 'user', 'see file', to_tsvector('simple', 'see file'),
                 '[{{\"name\": \"a.txt\"}}]', now()),
                ('{without_file}', '{ada_chat}', 2, 'user', 'no file', to_tsvector('simple', 'no file'),
                 NULL, now());
         INSERT INTO documents (id, owner_id, filename, file_path, title, uploaded_at, updated_at)
         VALUES ('{ada_doc}', '{ada}', 'a.pdf', 'a.pdf', 'a', now(), now()),
                ('{bob_doc}', '{bob}', 'b.pdf', 'b.pdf', 'b', now(), now());",
        ada = ada.id,
        bob = bob.id,
    ));
    let mut connection = store.connection().expect("connection");
    let rewrite = connection
        .client()
        .execute(
            &format!("UPDATE {}.messages SET content = 'rewritten'", schema.name),
            &[],
        )
        .expect_err("messages are append-only");
    assert!(matches!(
        chatstore_postgres::from_postgres(rewrite),
        Error::Conflict {
            kind: ConflictKind::InvalidState,
            ..
        }
    ));
    drop(connection);
    let cleanup = store.delete_user(ada.id).expect("deletes");
    assert_eq!(cleanup.messages_with_files, [with_file]);
    assert_eq!(cleanup.documents, [ada_doc]);
    assert_eq!(cleanup.deleted, 1);
    assert_eq!(
        schema.texts("SELECT selected_document_ids::text FROM conversations"),
        [format!("[\"{bob_doc}\"]")],
        "Bob's selection keeps only his document"
    );
    assert_eq!(
        schema.texts("SELECT id::text FROM documents"),
        [bob_doc.to_string()]
    );
    assert!(schema.texts("SELECT id::text FROM messages").is_empty());
    assert!(matches!(
        store.delete_user(ada.id),
        Err(Error::NotFound { .. })
    ));
}
