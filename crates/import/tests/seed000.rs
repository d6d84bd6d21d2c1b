//! Importing seed 000's `organic-fishstick.db` into SQLite (and PostgreSQL when
//! `CHATSTORE_PG_URL` is set): fixture databases made with the seed's own DDL.

mod common;
#[path = "fixtures/seed000.rs"]
mod fixtures;

use chatstore::conformance::Interrupting;
use chatstore::transfer::{Endpoint, TableTransfer, table};
use chatstore::{
    ConversationId, ConversationStatus, ConversationStore, Error, HashScheme, MessageId,
    MessageQuery, MessageRole, MessageStore, NoBlobStore, Password, SystemStore, UserStore,
};
use chatstore_import::{ImportOptions, Source, import};
use common::{Fixture, PASSWORD, sqlite_store};
use fixtures::{ELIGIBILITY, SEED000_DDL, sample_sql};

/// The seed's sample: its two users and the eligibility conversation of its examples,
/// an archived and a hidden conversation, and a user with a hash of an unknown format.
fn sample() -> Fixture {
    let fixture = Fixture::new("organic-fishstick.db", SEED000_DDL);
    fixture.exec(&sample_sql());
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
        Endpoint {
            rows: target,
            blobs: &NoBlobStore,
        },
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
        let failing = Interrupting::new(&store, fail_after);
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
        Endpoint {
            rows: &store,
            blobs: &NoBlobStore,
        },
        &options(),
        &mut |_| {},
    );
    assert!(missing.is_err());
}
