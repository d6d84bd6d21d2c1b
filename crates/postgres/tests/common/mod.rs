//! The PostgreSQL test harness: the server from `CHATSTORE_PG_URL`, and a schema of its
//! own for each test, dropped at the end (and swept when a killed run left it behind).
//!
//! Without `CHATSTORE_PG_URL` a test prints one loud line saying it was skipped and how
//! to run it, and passes, so the README's test command passes on a machine without a
//! server; with `CHATSTORE_REQUIRE_PG` set (CI sets it) a missing URL fails instead.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use chatstore::Config;
use chatstore_postgres::PgOptions;
use postgres::{Client, NoTls};

/// The prefix of the schemas tests make: `ct_<pid>_<n>`.
const PREFIX: &str = "ct_";

/// The server's URL, or `None` (after saying so) when the tests are to be skipped.
pub fn server_url() -> Option<String> {
    match std::env::var("CHATSTORE_PG_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CHATSTORE_REQUIRE_PG").is_some() => {
            panic!(
                "CHATSTORE_REQUIRE_PG is set but CHATSTORE_PG_URL is not: the PostgreSQL tests cannot be skipped"
            )
        }
        _ => {
            // Written to stderr directly, past the test harness's capture, once per
            // test binary: a skip must be seen even when every test passes.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: the PostgreSQL tests need a server; run them with CHATSTORE_PG_URL=postgresql://postgres@127.0.0.1:5432/test"
                );
            });
            None
        }
    }
}

/// A schema of this test's own on the server, dropped when this value is.
pub struct TempSchema {
    /// The server's URL.
    pub url: String,
    /// The schema's name.
    pub name: String,
    admin: Client,
}

impl TempSchema {
    /// A fresh schema name (the store creates the schema), or `None` when PostgreSQL
    /// tests are skipped. An unreachable server fails the test.
    pub fn new() -> Option<TempSchema> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let url = server_url()?;
        let mut admin = Client::connect(&url, NoTls)
            .unwrap_or_else(|e| panic!("CHATSTORE_PG_URL={url} cannot be reached: {e}"));
        sweep_leftovers(&mut admin);
        let name = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .expect("drop a stale schema");
        Some(TempSchema { url, name, admin })
    }

    /// The test configuration (cheap password hashing, a manual clock) on this server.
    pub fn config(&self) -> Config {
        chatstore::conformance::test_config()
            .0
            .database_url(self.url.clone())
    }

    /// Options that put the store in this schema.
    pub fn options(&self) -> PgOptions {
        PgOptions::default().schema(self.name.clone())
    }

    /// Runs SQL on the server directly, in this schema.
    pub fn execute(&mut self, sql: &str) {
        self.admin
            .batch_execute(&format!("SET search_path = {}; {sql}", self.name))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs a query returning one text column, in this schema.
    pub fn texts(&mut self, sql: &str) -> Vec<String> {
        self.admin
            .batch_execute(&format!("SET search_path = {}", self.name))
            .expect("search path");
        self.admin
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

impl Drop for TempSchema {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

/// Drops schemas left by test processes that no longer run.
fn sweep_leftovers(admin: &mut Client) {
    let Ok(rows) = admin.query(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'ct\\_%'",
        &[],
    ) else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let pid = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"));
        }
    }
}
