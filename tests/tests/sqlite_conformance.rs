//! The backend conformance suite, run against SQLite.

chatstore::conformance_suite!(chatstore_tests::TempSqlite::new());
