//! `chatstore migrate status|up|down`: the schema version shown, applied and rolled back
//! by hand (opening here never migrates).

use chatstore::MaintenanceStore;
use chatstore::migrations::Migration;
use serde_json::json;

use crate::cli::{Global, MigrateAction, MigrateArgs};
use crate::commands::backup;
use crate::error::{CliError, Result};
use crate::open::{Mode, Opened, Target, open};
use crate::output::{Output, Table};
use crate::with_chat;

/// Runs `migrate`.
pub fn run(global: &Global, args: MigrateArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    let opened = open(&target, Mode::Inspect)?;
    let current = with_chat!(&opened, chat => chat.store().schema_version())?;
    let migrations = migrations_of(&opened);
    let latest = chatstore::migrations::latest(migrations);
    match args.action {
        MigrateAction::Status => Ok(status(current, migrations)),
        MigrateAction::Up { to, no_backup } => {
            let to = to.unwrap_or(latest);
            if to < current {
                return Err(CliError::usage(format!(
                    "the store is at version {current}: going to {to} is `migrate down --to {to}`"
                )));
            }
            change(&target, &opened, current, to, no_backup)
        }
        MigrateAction::Down { to, no_backup } => {
            if to > current {
                return Err(CliError::usage(format!(
                    "the store is at version {current}: going to {to} is `migrate up --to {to}`"
                )));
            }
            change(&target, &opened, current, to, no_backup)
        }
    }
}

/// The migrations of the store's backend.
fn migrations_of(opened: &Opened) -> &'static [Migration] {
    match opened {
        Opened::Sqlite(_) => chatstore_sqlite::MIGRATIONS,
        Opened::Postgres(_) => chatstore_postgres::MIGRATIONS,
    }
}

fn status(current: u32, migrations: &[Migration]) -> Output {
    let latest = chatstore::migrations::latest(migrations);
    let mut table = Table::new(&["version", "name", "applied"]);
    let mut list = Vec::new();
    for m in migrations {
        let applied = m.version <= current;
        table.row(vec![
            m.version.to_string(),
            m.name.to_owned(),
            if applied { "yes" } else { "no" }.to_owned(),
        ]);
        list.push(json!({ "version": m.version, "name": m.name, "applied": applied }));
    }
    let state = if current == latest {
        "up to date".to_owned()
    } else if current < latest {
        format!("{} pending: run `chatstore migrate up`", latest - current)
    } else {
        "newer than this chatstore".to_owned()
    };
    Output::new(
        json!({ "current": current, "latest": latest, "up_to_date": current == latest, "migrations": list }),
        format!(
            "schema version {current} of {latest} ({state})\n\n{}",
            table.render()
        ),
    )
}

/// Moves the schema from `current` to `to`, after a backup of a SQLite store unless
/// `no_backup`.
fn change(
    target: &Target,
    opened: &Opened,
    current: u32,
    to: u32,
    no_backup: bool,
) -> Result<Output> {
    if to == current {
        return Ok(Output::new(
            json!({ "from": current, "to": to, "changed": false, "backup": null }),
            format!("already at schema version {to}: nothing to do"),
        ));
    }
    let backup = match opened {
        Opened::Sqlite(chat) if !no_backup => {
            Some(backup::take_sqlite(chat, &backup::default_dir(target)?)?)
        }
        _ => None,
    };
    let spinner = crate::progress::Spinner::start(format!("migrating to version {to}"));
    match opened {
        Opened::Sqlite(chat) => chat.store().migrate_to(to)?,
        Opened::Postgres(chat) => chat.store().migrate_to(to)?,
    }
    drop(spinner);
    let mut human = format!("migrated from schema version {current} to {to}");
    if let Some(entry) = &backup {
        human.push_str(&format!("\nbackup taken first: {}", entry.path.display()));
    }
    Ok(Output::new(
        json!({ "from": current, "to": to, "changed": true,
                "backup": backup.as_ref().map(|b| b.path.display().to_string()) }),
        human,
    ))
}
