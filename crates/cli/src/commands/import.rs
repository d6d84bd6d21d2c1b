//! `chatstore import`: the Python app's database into the store, with a progress bar;
//! run again, it imports nothing twice and finishes an interrupted import.

use chatstore_import::{ImportOptions, ImportReport, Source, import};
use serde_json::json;

use crate::cli::{Global, ImportArgs, ImportSource};
use crate::error::{CliError, Result};
use crate::open::{Mode, Target, open};
use crate::output::{Output, Table};
use crate::progress::Bar;
use crate::with_chat;

/// Runs `import`: the store the global options name is the target (created if missing).
pub fn run(global: &Global, args: ImportArgs) -> Result<Output> {
    let source = match args.source {
        ImportSource::Seed000 => Source::Seed000,
    };
    if args.files.is_some() {
        return Err(CliError::usage(format!(
            "{} has no attachment database: --files is for sources that have one",
            source.name()
        )));
    }
    let target = Target::resolve(global)?;
    let opened = open(&target, Mode::Create)?;
    let config = match &target {
        Target::Sqlite { config, .. } | Target::Postgres { config, .. } => config,
    };
    let options = ImportOptions {
        strict: args.strict,
        max_message_bytes: config.max_message_bytes,
        max_metadata_bytes: config.max_metadata_bytes,
        now: config.clock.now(),
    };
    let bar = Bar::start();
    let report = with_chat!(&opened, chat => import(
        source,
        &args.path,
        chat.store(),
        &options,
        &mut |progress| bar.set(progress.kind, progress.done, progress.total),
    ))?;
    drop(bar);
    Ok(output(&args, &target, &report))
}

fn output(args: &ImportArgs, target: &Target, report: &ImportReport) -> Output {
    let mut table = Table::new(&["kind", "imported", "already there", "skipped"]);
    for (kind, counts) in &report.kinds {
        table.row(vec![
            kind.clone(),
            counts.imported.to_string(),
            counts.present.to_string(),
            counts.skipped.to_string(),
        ]);
    }
    let mut human = format!(
        "imported {} ({}) into {}\n{}",
        args.path.display(),
        report.source,
        target.describe(),
        table.render()
    );
    for skipped in &report.skipped {
        human.push_str(&format!(
            "skipped {} {}: {}\n",
            skipped.table, skipped.original_id, skipped.reason
        ));
    }
    for user in &report.must_reset {
        human.push_str(&format!(
            "must reset their password (hash of an unknown format): {} <{}> ({})\n",
            user.username, user.email, user.original_id
        ));
    }
    Output::new(
        json!({
            "source": report.source,
            "path": args.path.display().to_string(),
            "target": target.describe(),
            "kinds": report.kinds,
            "skipped": report.skipped,
            "must_reset": report.must_reset,
        }),
        human,
    )
}
