//! `chatstore init`: create the store at the current schema version.

use chatstore::MaintenanceStore;
use serde_json::json;

use crate::cli::Global;
use crate::error::Result;
use crate::open::{Mode, Target, open};
use crate::output::Output;
use crate::with_chat;

/// Creates the store (both SQLite files, or the PostgreSQL schema) and applies every
/// migration; a store that exists is brought up to date and otherwise left as it is.
pub fn run(global: &Global) -> Result<Output> {
    let target = Target::resolve(global)?;
    let existed = target.main_file().is_some_and(|f| f.is_file());
    let opened = open(&target, Mode::Create)?;
    let version = with_chat!(&opened, chat => chat.store().schema_version())?;
    let human = if existed {
        format!(
            "store {} already exists, at schema version {version}",
            target.describe()
        )
    } else {
        format!("created {} at schema version {version}", target.describe())
    };
    Ok(Output::new(
        json!({ "store": target.describe(), "created": !existed, "schema_version": version }),
        human,
    ))
}
