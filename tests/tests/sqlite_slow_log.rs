//! The slow query log: statements over the threshold are logged through `tracing` with
//! SQL and parameters cut short, and nothing secret ever reaches it.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatstore::{
    ConversationStore, MessageStore, NewConversation, NewMessage, NewSession, NewUser, Password,
    SessionStore, UserStore,
};
use chatstore_tests::TempSqlite;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("buffer")).into_owned()
    }
}

/// Runs `f` with every statement counted as slow, returning what was logged.
fn logged(f: impl FnOnce(&chatstore_sqlite::SqliteStore)) -> String {
    let config = chatstore::conformance::test_config()
        .0
        .slow_query_threshold(Duration::ZERO);
    logged_with(config, tracing::Level::WARN, f)
}

/// Runs `f` on a store opened with `config`, returning what was logged up to `level`.
fn logged_with(
    config: chatstore::Config,
    level: tracing::Level,
    f: impl FnOnce(&chatstore_sqlite::SqliteStore),
) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(level)
        .finish();
    let db = TempSqlite::new();
    tracing::subscriber::with_default(subscriber, || {
        let store = db.open_sqlite(config).expect("opens");
        f(&store);
    });
    captured.text()
}

#[test]
fn echo_logs_every_statement_at_debug_with_secrets_redacted() {
    let mut config = chatstore::conformance::test_config().0;
    config.echo = true;
    let password = "hunter2-correct-horse";
    let log = logged_with(config, tracing::Level::DEBUG, |store| {
        store
            .create_user(&NewUser::new("ada", "ada@example.com", password))
            .expect("user");
        store
            .authenticate("ada", &Password::new(password))
            .expect("login");
    });
    let echoed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("chatstore::sql"))
        .collect();
    assert!(
        echoed
            .iter()
            .any(|l| l.contains("DEBUG") && l.contains("INSERT INTO users")),
        "{log}"
    );
    assert!(
        !log.contains("slow query"),
        "fast statements are not slow: {log}"
    );
    assert!(!log.contains(password), "a password leaked into the echo");

    let quiet = logged_with(
        chatstore::conformance::test_config().0,
        tracing::Level::DEBUG,
        |store| {
            store
                .create_user(&NewUser::new("bob", "bob@example.com", password))
                .expect("user");
        },
    );
    assert!(
        !quiet.contains("chatstore::sql"),
        "echo is off by default: {quiet}"
    );
}

#[test]
fn slow_statements_are_logged_with_cut_sql_and_parameters() {
    let long = "word ".repeat(100);
    let log = logged(|store| {
        let user = store
            .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
            .expect("user");
        let chat = store
            .create_conversation(user.id, &NewConversation::titled("t"))
            .expect("chat");
        store
            .append_message(user.id, chat.id, &NewMessage::user(long.clone()))
            .expect("append");
    });
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("slow query")).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("chatstore::slow_query") && l.contains("INSERT INTO messages")),
        "{log}"
    );
    for line in &lines {
        let query = field(line, "query=");
        assert!(query.chars().count() <= 201, "query not cut: {query}");
        let params = field(line, "params=");
        assert!(params.chars().count() <= 101, "params not cut: {params}");
        assert!(
            line.contains("elapsed_ms=") && line.contains("threshold_ms=0"),
            "{line}"
        );
    }
    assert!(!log.contains(&long), "a long parameter was logged whole");
}

/// The value of `name` in a formatted event line (up to the next field).
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(name)
        .map(|i| i + name.len())
        .unwrap_or(line.len());
    let rest = &line[start..];
    let end = ["params=", "elapsed_ms=", "threshold_ms="]
        .iter()
        .filter_map(|next| rest.find(next))
        .min()
        .unwrap_or(rest.len());
    rest[..end].trim()
}

#[test]
fn no_password_token_or_hash_is_ever_logged() {
    let password = "hunter2-correct-horse";
    let mut secrets = vec![password.to_owned()];
    let log = logged(|store| {
        let user = store
            .create_user(&NewUser::new("ada", "ada@example.com", password))
            .expect("user");
        store
            .authenticate("ada", &Password::new(password))
            .expect("login");
        store
            .set_password(user.id, &Password::new("new-password-42"))
            .expect("change");
        secrets.push("new-password-42".to_owned());
        let (_, token) = store
            .create_session(user.id, &NewSession::default())
            .expect("session");
        store.validate_session(&token).expect("valid");
        store.revoke_session(&token).expect("revoke");
        secrets.push(token.expose().to_owned());
        secrets.push(token.hash());
        let conn = rusqlite::Connection::open(store.path()).expect("peek");
        let hash: String = conn
            .query_row("SELECT password_hash FROM users", [], |row| row.get(0))
            .expect("hash");
        secrets.push(hash.split('$').next_back().expect("digest").to_owned());
    });
    assert!(
        log.contains("user_sessions"),
        "session statements were logged: {log}"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "{secret} leaked into the log"
        );
    }
}
