//! Restoring a database in place (`restore_database`) and opening without migrating
//! (`SqliteOptions::skip_migrations`): the two things an operator's tool needs beyond
//! the store's own calls.

use chatstore::{Config, MaintenanceStore, NewUser, PasswordParams, UserStore};
use chatstore_sqlite::{FileError, LATEST_VERSION, SqliteOptions, SqliteStore, restore_database};

fn config(path: &std::path::Path) -> Config {
    Config::new(path.to_string_lossy()).password_params(PasswordParams::fast_for_tests())
}

#[test]
fn a_restore_brings_back_the_backup_and_is_refused_while_the_store_is_open() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let live = dir.path().join("chatstore.db");
    let copy = dir.path().join("backup.db");
    let store = SqliteStore::open(config(&live)).expect("opens");
    store
        .create_user(&NewUser::new("ada", "ada@example.com", "correct horse"))
        .expect("ada");
    store.backup_to(&copy).expect("backup");
    store
        .create_user(&NewUser::new("bob", "bob@example.com", "correct horse"))
        .expect("bob");

    let refused = restore_database(&copy, &live).expect_err("the store is open");
    assert!(matches!(
        FileError::of(&refused),
        Some(FileError::Locked { .. })
    ));
    assert!(store.user_by_username("bob").is_ok(), "nothing changed");
    store.close().expect("close");

    restore_database(&copy, &live).expect("restore");
    let store = SqliteStore::open(config(&live)).expect("reopens");
    store.check_integrity().expect("sound");
    assert!(store.user_by_username("ada").is_ok());
    assert!(
        store.user_by_username("bob").is_err(),
        "bob came after the backup"
    );
}

#[test]
fn a_store_opened_without_migrations_stays_at_its_version() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("chatstore.db");
    let store = SqliteStore::open(config(&path)).expect("opens");
    store.migrate_to(3).expect("down to 3");
    store.close().expect("close");

    let options = SqliteOptions::default().skip_migrations(true);
    let old = SqliteStore::open_with(config(&path), &options).expect("opens as it is");
    assert_eq!(old.schema_version().expect("version"), 3);
    old.close().expect("close");

    let upgraded = SqliteStore::open(config(&path)).expect("opens and migrates");
    assert_eq!(upgraded.schema_version().expect("version"), LATEST_VERSION);
}
