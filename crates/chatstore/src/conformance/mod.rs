//! The backend conformance suite: the behaviour every [`Store`] must show, as public
//! functions a backend's tests call (enable the `conformance` feature).
//!
//! A backend implements [`Backend`] for a throwaway database and expands
//! [`conformance_suite!`](crate::conformance_suite) once; every check of the suite then
//! runs as its own `#[test]`:
//!
//! ```ignore
//! struct TempSqlite(tempfile::TempDir);
//!
//! impl chatstore::conformance::Backend for TempSqlite {
//!     fn open(&self, config: chatstore::Config) -> chatstore::Result<Box<dyn chatstore::Store>> {
//!         let path = self.0.path().join("chatstore.db");
//!         Ok(Box::new(SqliteStore::open(config.database_url(path.to_string_lossy()))?))
//!     }
//! }
//!
//! chatstore::conformance_suite!(TempSqlite(tempfile::tempdir().unwrap()));
//! ```
//!
//! Checks panic on failure, with a message saying what was expected.

use std::sync::Arc;

use crate::{Config, ManualClock, PasswordParams, Result, Store, Timestamp};

mod users;

pub use users::*;

/// A backend under test: opens stores on one database that belongs to this value.
pub trait Backend {
    /// Opens the backend's database with `config` (whose location the backend replaces
    /// with its own). Opening twice reaches the same data.
    fn open(&self, config: Config) -> Result<Box<dyn Store>>;
}

/// A store under test and the clock it reads.
pub struct Fixture {
    /// The store.
    pub store: Box<dyn Store>,
    /// Its clock, stopped at [`START`] until a check moves it.
    pub clock: ManualClock,
}

/// Where every fixture's clock starts: 2026-01-01T00:00:00Z.
pub const START: &str = "2026-01-01T00:00:00.000000Z";

/// The configuration checks open stores with: cheap password hashing and a manual clock
/// stopped at [`START`].
pub fn test_config() -> (Config, ManualClock) {
    let start: Timestamp = START.parse().expect("START is a valid timestamp");
    let clock = ManualClock::new(start);
    let config = Config::new("conformance")
        .password_params(PasswordParams::fast_for_tests())
        .clock(Arc::new(clock.clone()));
    (config, clock)
}

/// Opens a fresh fixture on `backend`.
pub fn fixture(backend: &dyn Backend) -> Fixture {
    let (config, clock) = test_config();
    let store = backend.open(config).expect("backend opens");
    Fixture { store, clock }
}

/// Expands to one `#[test]` per check of the suite, each on a backend made by `$make`
/// (an expression evaluated afresh for every test).
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            users_register_and_fetch,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let backend = $make;
                $crate::conformance::$check(&backend);
            }
        )*
    };
}
