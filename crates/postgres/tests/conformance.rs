//! The backend conformance suite, run against PostgreSQL: every check of
//! `chatstore::conformance` in a schema of its own on the server `CHATSTORE_PG_URL`
//! names (each check skips, saying so once, when it names none).

mod common;

use chatstore::conformance::Backend;
use chatstore::{Config, Result, Store};
use chatstore_postgres::PgStore;
use common::TempSchema;

/// A schema on the test server, dropped when this value is.
struct TempPg(TempSchema);

impl Backend for TempPg {
    fn open(&self, config: Config) -> Result<Box<dyn Store>> {
        let config = config.database_url(self.0.url.clone());
        Ok(Box::new(PgStore::open_with(config, &self.0.options())?))
    }
}

chatstore::conformance_suite!(match TempSchema::new() {
    Some(schema) => TempPg(schema),
    None => return,
});
