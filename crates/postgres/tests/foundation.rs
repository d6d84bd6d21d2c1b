//! The foundation of the PostgreSQL backend against a real server: opening, the schema's
//! migrations (up, down, several servers starting at once, a newer schema refused), the
//! startup errors, and errors mapped by SQLSTATE.

mod common;

use std::sync::Arc;

use chatstore::{ConflictKind, Error, StartupError};
use chatstore_postgres::{LATEST_VERSION, PgOptions, PgStore, from_postgres};
use common::TempSchema;

#[test]
fn opening_creates_the_schema_and_migrates_to_the_latest_version() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let store = PgStore::open_with(schema.config(), &schema.options()).expect("opens");
    assert_eq!(store.schema(), schema.name);
    assert_eq!(store.schema_version().expect("version"), LATEST_VERSION);
    let roles = schema.texts("SELECT name FROM roles ORDER BY name");
    assert_eq!(roles, ["admin", "analyst", "viewer"]);
    let mut connection = store.connection().expect("connection");
    let zone: String = connection
        .client()
        .query_one("SELECT current_setting('TimeZone')", &[])
        .expect("zone")
        .get(0);
    assert_eq!(zone, "UTC");
    drop(connection);
    drop(store);
    let again = PgStore::open_with(schema.config(), &schema.options()).expect("reopens");
    assert_eq!(again.schema_version().expect("version"), LATEST_VERSION);
}

#[test]
fn migrations_go_down_and_up_again() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    let store = PgStore::open_with(schema.config(), &schema.options()).expect("opens");
    for version in (0..LATEST_VERSION).rev() {
        store.migrate_to(version).expect("down");
        assert_eq!(store.schema_version().expect("version"), version);
    }
    assert!(schema.texts("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'").is_empty());
    for version in 1..=LATEST_VERSION {
        store.migrate_to(version).expect("up");
        assert_eq!(store.schema_version().expect("version"), version);
    }
    assert!(matches!(
        store.migrate_to(LATEST_VERSION + 1),
        Err(Error::Validation { .. })
    ));
}

#[test]
fn servers_starting_at_once_take_turns_at_the_migrations() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let (config, options) = (schema.config(), Arc::new(schema.options()));
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let (config, options) = (config.clone(), Arc::clone(&options));
            std::thread::spawn(move || {
                PgStore::open_with(config, &options).map(|store| store.schema_version())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("thread"))
        .collect();
    for version in opened {
        assert_eq!(version.expect("opens").expect("version"), LATEST_VERSION);
    }
}

#[test]
fn a_schema_written_by_a_newer_chatstore_is_refused() {
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    drop(PgStore::open_with(schema.config(), &schema.options()).expect("opens"));
    schema.execute(&format!(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at)
         VALUES ({}, 'from_the_future', 'x', now())",
        LATEST_VERSION + 1
    ));
    match PgStore::open_with(schema.config(), &schema.options()) {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (LATEST_VERSION + 1, LATEST_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_named() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    // A port nothing listens on.
    let config = schema
        .config()
        .database_url("postgresql://postgres@127.0.0.1:1/test")
        .startup_timeout(std::time::Duration::from_secs(2));
    match PgStore::open_with(config, &schema.options()) {
        Err(Error::Startup(StartupError::Unreachable { target, .. })) => {
            assert_eq!(target, "127.0.0.1:1");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[test]
fn a_missing_database_is_named() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let mut url: postgres::Config = schema.url.parse().expect("url");
    url.dbname("chatstore_no_such_database");
    let user = url.get_user().unwrap_or("postgres").to_owned();
    let config = schema.config().database_url(format!(
        "postgresql://{user}@127.0.0.1:5432/chatstore_no_such_database"
    ));
    match PgStore::open_with(config, &schema.options()) {
        Err(Error::Startup(StartupError::NoSuchDatabase { name })) => {
            assert_eq!(name, "chatstore_no_such_database");
        }
        other => panic!("expected NoSuchDatabase, got {other:?}"),
    }
}

#[test]
fn bad_settings_are_refused_before_connecting() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let bad_schema = PgOptions::default().schema("Robert'); DROP TABLE users;--");
    assert!(matches!(
        PgStore::open_with(schema.config(), &bad_schema),
        Err(Error::Validation { .. })
    ));
    let sqlite = schema.config().database_url("chat.db");
    assert!(matches!(
        PgStore::open_with(sqlite, &schema.options()),
        Err(Error::Validation { .. })
    ));
}

#[test]
fn constraint_and_text_errors_map_to_the_kinds_every_backend_uses() {
    let Some(schema) = TempSchema::new() else {
        return;
    };
    let store = PgStore::open_with(schema.config(), &schema.options()).expect("opens");
    let mut connection = store.connection().expect("connection");
    let client = connection.client();
    let insert_role = "INSERT INTO roles (name, created_at) VALUES ($1, now())";
    let duplicate = client
        .execute(insert_role, &[&"admin"])
        .expect_err("unique");
    assert!(matches!(
        from_postgres(duplicate),
        Error::Conflict {
            kind: ConflictKind::Unique,
            ..
        }
    ));
    let orphan = client
        .execute(
            "INSERT INTO user_roles (user_id, role_id) VALUES (gen_random_uuid(), 1)",
            &[],
        )
        .expect_err("foreign key");
    assert!(matches!(
        from_postgres(orphan),
        Error::Conflict {
            kind: ConflictKind::ForeignKey,
            ..
        }
    ));
    let nul = client
        .execute(insert_role, &[&"nul\0name"])
        .expect_err("NUL");
    assert!(matches!(from_postgres(nul), Error::Validation { .. }));
    let unchanged: i64 = client
        .query_one("SELECT count(*) FROM roles", &[])
        .expect("count")
        .get(0);
    assert_eq!(
        unchanged, 3,
        "nothing was written by the refused statements"
    );
}

#[test]
fn statements_prepared_before_another_server_changed_the_schema_are_prepared_again() {
    use chatstore::RbacStore;
    let Some(mut schema) = TempSchema::new() else {
        return;
    };
    // One connection, so the second call meets the statement the first prepared.
    let mut config = schema.config().pool_size(1);
    config.pool.max_overflow = 0;
    let store = PgStore::open_with(config, &schema.options()).expect("opens");
    assert_eq!(store.roles().expect("roles").len(), 3);
    // What a migration run by another server could do: change a column's type.
    schema.execute("ALTER TABLE roles ALTER COLUMN description TYPE varchar(500)");
    let roles = store.roles().expect("roles after the change");
    assert_eq!(roles.len(), 3);
    assert_eq!(roles[0].description.as_deref(), Some("Full system access"));
}
