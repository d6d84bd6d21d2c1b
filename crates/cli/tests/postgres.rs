//! The `chatstore` binary on a PostgreSQL store, in a schema of the test's own (dropped
//! at the end). Without `CHATSTORE_PG_URL` the tests print a SKIPPED line and pass;
//! with `CHATSTORE_REQUIRE_PG` set a missing URL fails them.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::{run, run_with_stdin};

/// A schema of this test's own, dropped when this value is.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new() -> Option<Schema> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let url = match std::env::var("CHATSTORE_PG_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ if std::env::var_os("CHATSTORE_REQUIRE_PG").is_some() => {
                panic!("CHATSTORE_REQUIRE_PG is set but CHATSTORE_PG_URL is not")
            }
            _ => {
                eprintln!(
                    "SKIPPED: the PostgreSQL tests of the chatstore command need a server; run them with CHATSTORE_PG_URL=postgresql://postgres@127.0.0.1:5432/test"
                );
                return None;
            }
        };
        let name = format!(
            "cli_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Some(Schema { url, name })
    }

    /// `chatstore --url URL --schema NAME ARGS`.
    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--url", self.url.as_str(), "--schema", self.name.as_str()];
        all.extend_from_slice(args);
        all
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

#[test]
fn a_postgres_store_is_created_checked_used_and_backed_up() {
    let Some(schema) = Schema::new() else {
        return;
    };
    let init = run(&schema.args(&["--json", "init"])).ok().json();
    assert_eq!(init["schema_version"], chatstore_postgres::LATEST_VERSION);
    let status = run(&schema.args(&["--json", "migrate", "status"]))
        .ok()
        .json();
    assert_eq!(status["up_to_date"], true);

    run_with_stdin(
        &schema.args(&[
            "users",
            "create",
            "ada",
            "ada@example.com",
            "--password-stdin",
        ]),
        "correct horse battery staple\n",
    )
    .ok();
    let users = run(&schema.args(&["--json", "users", "list"])).ok().json();
    assert_eq!(users[0]["username"], "ada");
    assert_eq!(
        run(&schema.args(&["--json", "check"])).ok().json()["healthy"],
        true
    );
    assert_eq!(
        run(&schema.args(&["--json", "stats"])).ok().json()["users"],
        1
    );
    run(&schema.args(&["vacuum"])).ok();
    run(&schema.args(&["cleanup"])).ok();

    let dir = tempfile::tempdir().expect("temporary directory");
    let d = dir.path().to_str().expect("UTF-8");
    assert_eq!(
        run(&schema.args(&["backup"])).code,
        2,
        "a PostgreSQL backup needs --dir"
    );
    let taken = run(&schema.args(&["--json", "backup", "--dir", d]))
        .ok()
        .json();
    let script = taken["backup"]["path"].as_str().expect("path").to_owned();
    assert!(script.ends_with(".sql"));
    let listed = run(&schema.args(&["--json", "backup", "list", "--dir", d]))
        .ok()
        .json();
    assert_eq!(listed["backups"].as_array().map(Vec::len), Some(1));

    run_with_stdin(
        &schema.args(&[
            "users",
            "create",
            "bob",
            "bob@example.com",
            "--password-stdin",
        ]),
        "another long password\n",
    )
    .ok();
    let unforced = run(&schema.args(&["restore", &script]));
    assert_eq!(
        unforced.code, 2,
        "replacing a store needs --force: {unforced:?}"
    );
    let restored = run(&schema.args(&["--json", "restore", &script, "--force"]))
        .ok()
        .json();
    assert_eq!(
        restored["schema_version"],
        chatstore_postgres::LATEST_VERSION
    );
    let users = run(&schema.args(&["--json", "users", "list"])).ok().json();
    assert_eq!(
        users.as_array().map(Vec::len),
        Some(1),
        "bob came after the backup"
    );
    assert_eq!(
        run(&schema.args(&["--json", "check"])).ok().json()["healthy"],
        true
    );
    let cut = dir.path().join("cut.sql");
    let text = std::fs::read_to_string(&script).expect("script");
    std::fs::write(&cut, &text[..text.len() / 2]).expect("cut");
    let refused = run(&schema.args(&["restore", cut.to_str().unwrap(), "--force"]));
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("unchanged"), "{refused:?}");
}

/// A dry run on PostgreSQL counts what a cleanup would remove (on a scratch copy) and
/// leaves the store as it was; the cleanup itself then removes exactly that.
#[test]
fn cleanup_dry_run_on_postgres_changes_nothing() {
    let Some(schema) = Schema::new() else {
        return;
    };
    run(&schema.args(&["init"])).ok();
    run_with_stdin(
        &schema.args(&[
            "users",
            "create",
            "ada",
            "ada@example.com",
            "--password-stdin",
        ]),
        "correct horse battery staple\n",
    )
    .ok();
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).expect("connect");
    let sessions = format!("{}.user_sessions", schema.name);
    client
        .execute(
            &format!(
                "INSERT INTO {sessions} (id, user_id, token_hash, created_at, expires_at, last_activity_at)
                 SELECT '018f0000-0000-7000-8000-000000000001', id, 'expired-token-hash',
                        now() - interval '40 days', now() - interval '10 days', now() - interval '10 days'
                 FROM {}.users",
                schema.name
            ),
            &[],
        )
        .expect("an expired session");
    let count = |client: &mut postgres::Client| -> i64 {
        client
            .query_one(&format!("SELECT count(*) FROM {sessions}"), &[])
            .expect("count")
            .get(0)
    };
    let dry = run(&schema.args(&["--json", "cleanup", "--dry-run"]))
        .ok()
        .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["report"]["expired_sessions"], 1, "{dry}");
    assert_eq!(count(&mut client), 1, "the dry run removed nothing");
    let real = run(&schema.args(&["--json", "cleanup"])).ok().json();
    assert_eq!(real["report"]["expired_sessions"], 1, "{real}");
    assert_eq!(count(&mut client), 0);
}

#[test]
fn migrate_down_and_up_on_postgres() {
    let Some(schema) = Schema::new() else {
        return;
    };
    run(&schema.args(&["init"])).ok();
    let down = run(&schema.args(&["--json", "migrate", "down", "--to", "8"]))
        .ok()
        .json();
    assert!(down["backup"].is_null(), "no file backup for PostgreSQL");
    let old = run(&schema.args(&["--json", "migrate", "status"]))
        .ok()
        .json();
    assert_eq!(old["current"], 8);
    run(&schema.args(&["migrate", "up"])).ok();
    let now = run(&schema.args(&["--json", "migrate", "status"]))
        .ok()
        .json();
    assert_eq!(now["current"], chatstore_postgres::LATEST_VERSION);
}

#[test]
fn a_store_is_copied_to_postgres_and_back() {
    let Some(schema) = Schema::new() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temporary directory");
    let source = tmp.path().join("source");
    let back = tmp.path().join("back");
    let (source, back) = (
        source.to_str().expect("UTF-8"),
        back.to_str().expect("UTF-8"),
    );
    run(&["--store", source, "init"]).ok();
    run_with_stdin(
        &[
            "--store",
            source,
            "users",
            "create",
            "ada",
            "ada@example.com",
            "--password-stdin",
        ],
        "correct horse battery staple\n",
    )
    .ok();
    let there = run(&[
        "--store",
        source,
        "--json",
        "copy",
        "--to-url",
        &schema.url,
        "--to-schema",
        &schema.name,
    ])
    .ok()
    .json();
    assert_eq!(there["verified"], true, "{there}");
    let users = run(&schema.args(&["--json", "users", "list"])).ok().json();
    assert_eq!(users[0]["username"], "ada");
    let home = run(&schema.args(&["--json", "copy", "--to-store", back]))
        .ok()
        .json();
    assert_eq!(home["verified"], true, "{home}");
    let users = run(&["--store", back, "--json", "users", "list"])
        .ok()
        .json();
    assert_eq!(users[0]["username"], "ada");
}
