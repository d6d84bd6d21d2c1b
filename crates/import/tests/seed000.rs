//! Importing seed 000's `organic-fishstick.db` into SQLite (and PostgreSQL when
//! `CHATSTORE_PG_URL` is set): fixture databases made with the seed's own DDL.

mod common;

use chatstore::transfer::{TableTransfer, table};
use chatstore::{
    ConversationId, ConversationStatus, ConversationStore, Error, HashScheme, MessageId,
    MessageQuery, MessageRole, MessageStore, Password, SystemStore, UserStore,
};
use chatstore_import::{ImportOptions, Source, import};
use common::{Failing, Fixture, PASSWORD, sqlite_store};

/// The seed's DDL, as seed 000 (DATABASE_GUIDE, "Detailed Table Specifications") gives it.
const SEED000_DDL: &str = "
CREATE TABLE users (
    user_id VARCHAR(255) PRIMARY KEY,
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    full_name VARCHAR(255) NOT NULL,
    is_active BOOLEAN DEFAULT TRUE,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    last_login DATETIME,
    metadata TEXT  -- JSON string
);
CREATE INDEX idx_email ON users(email);
CREATE INDEX idx_is_active ON users(is_active);

CREATE TABLE user_sessions (
    id VARCHAR(36) PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    session_token VARCHAR(255) UNIQUE NOT NULL,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    expires_at DATETIME NOT NULL,
    last_activity_at DATETIME,
    is_expired BOOLEAN DEFAULT FALSE,
    FOREIGN KEY(user_id) REFERENCES users(user_id)
);
CREATE INDEX idx_session_token ON user_sessions(session_token);
CREATE INDEX idx_user_active_sessions ON user_sessions(user_id, is_expired);

CREATE TABLE conversations (
    id VARCHAR(36) PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    title VARCHAR(255),
    status VARCHAR(20) DEFAULT 'ACTIVE',  -- Enum
    message_count INTEGER DEFAULT 0,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    last_message_at DATETIME,
    archived_at DATETIME,
    is_hidden BOOLEAN DEFAULT FALSE,
    hidden_at DATETIME,
    auto_hidden BOOLEAN DEFAULT FALSE,
    last_opened_at DATETIME,
    FOREIGN KEY(user_id) REFERENCES users(user_id)
);
CREATE INDEX idx_user_id ON conversations(user_id);
CREATE INDEX idx_status ON conversations(status);
CREATE INDEX idx_is_hidden ON conversations(is_hidden);
CREATE INDEX idx_last_message ON conversations(user_id, last_message_at);
CREATE INDEX idx_visibility_priority ON conversations(user_id, is_hidden, last_opened_at, last_message_at);

CREATE TABLE messages (
    id VARCHAR(36) PRIMARY KEY,
    conversation_id VARCHAR(36) NOT NULL,
    role VARCHAR(20) NOT NULL,  -- 'user', 'assistant', 'system'
    content TEXT NOT NULL,
    msg_metadata JSON,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY(conversation_id) REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE INDEX idx_conversation_id ON messages(conversation_id);
CREATE INDEX idx_role ON messages(role);
CREATE INDEX idx_conversation_created ON messages(conversation_id, created_at);
CREATE INDEX idx_role_created ON messages(role, created_at);
";

/// Hashes of [`PASSWORD`] the old app could have stored, made with Python:
/// `werkzeug.security.generate_password_hash(pw, method="pbkdf2:sha256:1000")` (Werkzeug
/// 3.1.9) and `bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4))` (bcrypt 5.0.0).
const WERKZEUG: &str = "pbkdf2:sha256:1000$k46zJWKXi1IhJCCp$93359e0abd2bb6a940874841dacbcb78166bea7548077fb508081f61781b6dee";
const BCRYPT: &str = "$2b$04$C/2/AdcXDnP4vb79RHAjzeAxflQZAi7MPWKKvXrP7pZn0yL6albBK";

const ELIGIBILITY: &str = "550e8400-e29b-41d4-a716-446655440000";

/// The seed's sample: its two users and the eligibility conversation of its examples,
/// an archived and a hidden conversation, and a user with a hash of an unknown format.
fn sample() -> Fixture {
    let fixture = Fixture::new("organic-fishstick.db", SEED000_DDL);
    fixture.exec(&format!(
        "INSERT INTO users VALUES
           ('admin@example.com', 'admin@example.com', '{WERKZEUG}', 'Admin', 1,
            '2026-02-10 10:00:00', '2026-02-15 09:00:00', '{{\"theme\": \"dark\"}}'),
           ('user1@example.com', 'user1@example.com', '{BCRYPT}', 'John Doe', 1,
            '2026-02-11 14:30:00', NULL, NULL),
           ('old@example.com', 'old@example.com', 'md5$abc$0123456789', 'Old Timer', 0,
            '2025-01-01 08:00:00', NULL, NULL);
         INSERT INTO user_sessions VALUES
           ('s1', 'user1@example.com', 'plain-token', '2026-02-15 14:00:00',
            '2026-02-16 14:00:00', NULL, 0);
         INSERT INTO conversations VALUES
           ('{ELIGIBILITY}', 'user1@example.com', 'Eligibility Q', 'ACTIVE', 5,
            '2026-02-15 14:14:00', '2026-02-15 14:18:15', '2026-02-15 14:18:15', NULL, 0, NULL, 0,
            '2026-02-15 14:20:00'),
           ('conv-archived', 'user1@example.com', 'Old question', 'ARCHIVED', 1,
            '2026-01-05 09:00:00', '2026-01-20 10:00:00', '2026-01-05 09:00:00',
            '2026-01-20 10:00:00', 0, NULL, 0, NULL),
           ('conv-hidden', 'admin@example.com', NULL, 'ACTIVE', 0,
            '2026-02-01 08:00:00', '2026-02-01 08:00:00', NULL, NULL, 1,
            '2026-02-08 08:00:00', 1, NULL);
         INSERT INTO messages VALUES
           ('m1', '{ELIGIBILITY}', 'user', 'What is account eligibility?', NULL,
            '2026-02-15 14:15:00', '2026-02-15 14:15:00'),
           ('m2', '{ELIGIBILITY}', 'assistant', 'The eligibility is determined by...',
            '{{\"request_id\": \"req-550e8400\", \"source\": \"llm_generation\", \"tokens\": 245,
              \"model_name\": \"llama3.2:3b\", \"latency_ms\": 1234,
              \"sources\": [{{\"source\": \"document.pdf\", \"page\": 5, \"score\": 0.87}}]}}',
            '2026-02-15 14:15:30', '2026-02-15 14:15:30'),
           ('m4', '{ELIGIBILITY}', 'assistant', 'Joint accounts must...', NULL,
            '2026-02-15 14:18:15', '2026-02-15 14:18:15'),
           ('m3', '{ELIGIBILITY}', 'user', 'What about joint accounts?', NULL,
            '2026-02-15 14:18:00', '2026-02-15 14:18:00'),
           ('m5', 'conv-archived', 'USER', 'Is this still open?', NULL,
            '2026-01-05 09:00:00', '2026-01-05 09:00:00');"
    ));
    fixture
}

fn options() -> ImportOptions {
    ImportOptions {
        now: "2026-03-01T00:00:00Z".parse().expect("time"),
        ..ImportOptions::default()
    }
}

fn run(
    fixture: &Fixture,
    target: &dyn TableTransfer,
    strict: bool,
) -> chatstore::Result<chatstore_import::ImportReport> {
    import(
        Source::Seed000,
        &fixture.path,
        target,
        &ImportOptions {
            strict,
            ..options()
        },
        &mut |_| {},
    )
}

fn conversation(store: &dyn SystemStore, original: &str) -> ConversationId {
    let id = store
        .imported_id("seed000", "conversation", original)
        .expect("lookup")
        .expect("imported");
    ConversationId::from_uuid(id).expect("a conversation id")
}

/// Everything the sample holds arrives, with its times, order, statuses and metadata;
/// old passwords log in and are rehashed; the unknown hash is listed.
fn imports_the_sample<S>(store: &S)
where
    S: UserStore + ConversationStore + MessageStore + SystemStore + TableTransfer,
{
    let fixture = sample();
    let before = fixture.bytes();
    let report = run(&fixture, store, false).expect("the import succeeds");
    assert_eq!(fixture.bytes(), before, "the source file is not changed");
    assert_eq!(report.counts("user").imported, 3);
    assert_eq!(report.counts("conversation").imported, 3);
    assert_eq!(report.counts("message").imported, 5);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.must_reset.len(), 1);
    assert_eq!(report.must_reset[0].email, "old@example.com");

    let john = store.user_by_email("user1@example.com").expect("john");
    assert_eq!(john.username, "user1");
    assert_eq!(john.full_name.as_deref(), Some("John Doe"));
    assert_eq!(john.created_at, "2026-02-11T14:30:00Z".parse().unwrap());
    let admin = store.user_by_email("admin@example.com").expect("admin");
    assert_eq!(admin.metadata["theme"], "dark");
    assert_eq!(
        admin.last_login_at,
        Some("2026-02-15T09:00:00Z".parse().unwrap())
    );
    let old = store.user_by_email("old@example.com").expect("old");
    assert!(!old.is_active);

    for (login, scheme) in [
        ("user1", HashScheme::Bcrypt),
        ("admin", HashScheme::WerkzeugPbkdf2),
    ] {
        let id = store.user_by_username(login).expect("user").id;
        assert_eq!(store.password_scheme(id).expect("scheme"), Some(scheme));
        assert!(matches!(
            store.authenticate(login, &Password::new("not the password")),
            Err(Error::InvalidCredentials)
        ));
        store
            .authenticate(login, &Password::new(PASSWORD))
            .expect("the old password logs in");
        assert_eq!(
            store.password_scheme(id).expect("scheme"),
            Some(HashScheme::Argon2),
            "rehashed to argon2id at login"
        );
    }
    assert_eq!(store.password_scheme(old.id).expect("scheme"), None);

    let eligibility = conversation(store, ELIGIBILITY);
    let c = store
        .conversation(john.id, eligibility)
        .expect("conversation");
    assert_eq!(c.title.as_deref(), Some("Eligibility Q"));
    assert_eq!(c.message_count, 4, "counted from the messages, not copied");
    assert_eq!(c.created_at, "2026-02-15T14:14:00Z".parse().unwrap());
    assert_eq!(
        c.last_message_at,
        Some("2026-02-15T14:18:15Z".parse().unwrap())
    );
    assert_eq!(
        c.last_opened_at,
        Some("2026-02-15T14:20:00Z".parse().unwrap())
    );
    let page = store
        .messages(john.id, eligibility, &MessageQuery::default())
        .expect("messages");
    let said: Vec<_> = page
        .items
        .iter()
        .map(|m| (m.seq, m.role, m.content.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            (1, MessageRole::User, "What is account eligibility?"),
            (
                2,
                MessageRole::Assistant,
                "The eligibility is determined by..."
            ),
            (3, MessageRole::User, "What about joint accounts?"),
            (4, MessageRole::Assistant, "Joint accounts must..."),
        ]
    );
    assert_eq!(page.items[0].parent_id, None);
    for pair in page.items.windows(2) {
        assert_eq!(
            pair[1].parent_id,
            Some(pair[0].id),
            "each follows the one before"
        );
    }
    let answer = &page.items[1];
    assert_eq!(answer.created_at, "2026-02-15T14:15:30Z".parse().unwrap());
    assert_eq!(answer.metadata.request_id.as_deref(), Some("req-550e8400"));
    assert_eq!(answer.metadata.tokens, Some(245));
    assert_eq!(answer.metadata.latency_ms, Some(1234));
    assert_eq!(
        answer.metadata.extra["sources"][0]["source"],
        "document.pdf"
    );
    let m2 = store
        .imported_id("seed000", "message", "m2")
        .expect("lookup");
    assert_eq!(
        m2.map(|id| MessageId::from_uuid(id).expect("a message id")),
        Some(answer.id)
    );

    let archived = store
        .conversation(john.id, conversation(store, "conv-archived"))
        .expect("archived");
    assert_eq!(archived.status, ConversationStatus::Archived);
    assert_eq!(
        archived.archived_at,
        Some("2026-01-20T10:00:00Z".parse().unwrap())
    );
    let hidden = store
        .conversation(admin.id, conversation(store, "conv-hidden"))
        .expect("hidden");
    assert!(hidden.is_hidden && hidden.auto_hidden);
    assert_eq!(hidden.message_count, 0);
    assert_eq!(hidden.last_message_at, None);

    let again = run(&fixture, store, false).expect("a second import succeeds");
    assert_eq!(again.imported(), 0, "nothing is imported twice");
    assert_eq!(again.counts("message").present, 5);
    assert_eq!(again.counts("user").present, 3);
    assert_eq!(
        store
            .count_rows(table("messages").expect("table"))
            .expect("count"),
        5
    );
    assert_eq!(
        fixture.bytes(),
        before,
        "the source file is still not changed"
    );
}

#[test]
fn imports_the_sample_into_sqlite() {
    let (_dir, store) = sqlite_store();
    imports_the_sample(&store);
}

#[test]
fn imports_the_sample_into_postgres() {
    let Some(schema) = common::pg_schema("imports_the_sample_into_postgres") else {
        return;
    };
    imports_the_sample(&schema.store);
}

/// Bad records are reported with their table and id and skipped, with what depends on
/// them; with `strict` the first stops the import before anything is written.
#[test]
fn bad_records_are_skipped_or_stop_a_strict_import() {
    let fixture = sample();
    fixture.exec(
        "INSERT INTO users VALUES ('nobody', 'not an email', 'x', 'No Body', 1,
                                   '2026-02-10 10:00:00', NULL, NULL);
         INSERT INTO conversations VALUES ('conv-nobody', 'nobody', 'Lost', 'ACTIVE', 1,
            '2026-02-10 11:00:00', NULL, NULL, NULL, 0, NULL, 0, NULL);
         INSERT INTO messages VALUES
           ('m-nobody', 'conv-nobody', 'user', 'hello', NULL, '2026-02-10 11:00:00', NULL),
           ('m-nul', 'conv-archived', 'user', 'a' || char(0) || 'b', NULL,
            '2026-01-06 09:00:00', NULL),
           ('m-role', 'conv-archived', 'robot', 'beep', NULL, '2026-01-07 09:00:00', NULL),
           ('m-blank', 'conv-archived', 'user', '   ', NULL, '2026-01-08 09:00:00', NULL),
           ('m-ok', 'conv-archived', 'assistant', 'Yes, it is.', NULL,
            '2026-01-09 09:00:00', NULL);",
    );
    let (_dir, strict_store) = sqlite_store();
    let refused = run(&fixture, &strict_store, true);
    assert!(
        matches!(refused, Err(Error::Validation { .. })),
        "{refused:?}"
    );
    for name in ["users", "conversations", "messages", "imported_ids"] {
        assert_eq!(
            strict_store
                .count_rows(table(name).expect("table"))
                .expect("count"),
            0,
            "a strict import that stops writes nothing to {name}"
        );
    }

    let (_dir, store) = sqlite_store();
    let report = run(&fixture, &store, false).expect("the import succeeds");
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.table.as_str(), s.original_id.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("users", "nobody"),
            ("conversations", "conv-nobody"),
            // Messages are read in the order they were written.
            ("messages", "m-nul"),
            ("messages", "m-role"),
            ("messages", "m-blank"),
            ("messages", "m-nobody"),
        ]
    );
    assert!(
        report.skipped[0].reason.contains("email"),
        "{:?}",
        report.skipped[0]
    );
    assert_eq!(report.counts("message").imported, 6);
    assert_eq!(report.counts("message").skipped, 4);
    let john = store.user_by_email("user1@example.com").expect("john");
    let archived = store
        .conversation(john.id, conversation(&store, "conv-archived"))
        .expect("archived");
    assert_eq!(
        archived.message_count, 2,
        "the counters agree with what was imported"
    );
    assert_eq!(
        archived.last_message_at,
        Some("2026-01-09T09:00:00Z".parse().unwrap())
    );
}

/// An import that fails part way (the target refuses a write) leaves what it wrote,
/// and running it again finishes it: the same rows as an import never interrupted.
#[test]
fn an_interrupted_import_continues() {
    let fixture = sample();
    for fail_after in [1, 3, 4, 5, 7] {
        let (_dir, store) = sqlite_store();
        let failing = Failing::new(&store, fail_after);
        assert!(
            run(&fixture, &failing, false).is_err(),
            "the write after {fail_after} fails"
        );
        let report = run(&fixture, &store, false).expect("the import is finished");
        assert_eq!(
            report.counts("message").imported + report.counts("message").present,
            5
        );
        assert_eq!(store.count_rows(table("messages").unwrap()).unwrap(), 5);
        assert_eq!(
            store.count_rows(table("conversations").unwrap()).unwrap(),
            3
        );
        assert_eq!(store.count_rows(table("users").unwrap()).unwrap(), 3);
        assert_eq!(
            store.count_rows(table("imported_ids").unwrap()).unwrap(),
            11
        );
        let john = store.user_by_email("user1@example.com").expect("john");
        let c = store
            .conversation(john.id, conversation(&store, ELIGIBILITY))
            .expect("conversation");
        assert_eq!(c.message_count, 4);
    }
}

#[test]
fn a_file_of_another_schema_is_refused_untouched() {
    let fixture = Fixture::new("other.db", "CREATE TABLE notes (id INTEGER PRIMARY KEY);");
    let before = fixture.bytes();
    let (_dir, store) = sqlite_store();
    let err = run(&fixture, &store, false).expect_err("not a seed 000 database");
    assert!(err.to_string().contains("no table users"), "{err}");
    assert_eq!(fixture.bytes(), before);
    let missing = import(
        Source::Seed000,
        "/nonexistent/organic-fishstick.db".as_ref(),
        &store,
        &options(),
        &mut |_| {},
    );
    assert!(missing.is_err());
}
