//! `chatstore import`: the Python app's database, or a ChatGPT or Claude export for one
//! user, into the store, with a progress bar (chatstore's own export: [`super::import_chatstore`]);
//! run again, it imports nothing twice and finishes an interrupted import.

use chatstore::transfer::Endpoint;
use chatstore_import::{ExportFormat, ImportOptions, ImportReport, Source, import, import_export};
use serde_json::json;

use crate::cli::{Global, ImportArgs, ImportSource};
use crate::error::{CliError, Result};
use crate::open::{Mode, Target, open};
use crate::output::{Output, Table};
use crate::progress::Bar;
use crate::with_chat;

/// Runs `import`: the store the global options name is the target (created if missing).
pub fn run(global: &Global, args: ImportArgs) -> Result<Output> {
    let (name, source) = match args.source {
        ImportSource::Seed000 => ("seed000", Ok(Source::Seed000)),
        ImportSource::Seed001 => ("seed001", Ok(Source::Seed001)),
        ImportSource::Seed002 => ("seed002", Ok(Source::Seed002)),
        ImportSource::ChatGpt => ("chatgpt", Err(ExportFormat::ChatGpt)),
        ImportSource::Claude => ("claude", Err(ExportFormat::Claude)),
        ImportSource::Chatstore => return super::import_chatstore::run(global, args),
    };
    if args.files.is_some() && args.source != ImportSource::Seed001 {
        return Err(CliError::usage(format!(
            "{name} has no attachment database: --files is for sources that have one"
        )));
    }
    match (&source, &args.user) {
        (Ok(_), Some(_)) => {
            return Err(CliError::usage(format!(
                "{name} brings its own users: --user is for chatgpt and claude"
            )));
        }
        (Err(_), None) => {
            return Err(CliError::usage(format!(
                "{name} needs --user: the account its conversations go to"
            )));
        }
        _ => {}
    }
    let target = Target::resolve(global)?;
    // An export goes to a user of an existing store; the databases may start one.
    let mode = if source.is_ok() {
        Mode::Create
    } else {
        Mode::Existing
    };
    let opened = open(&target, mode)?;
    let options = options(&target, &args);
    let bar = Bar::start();
    let mut progress = |p: chatstore_import::Progress<'_>| bar.set(p.kind, p.done, p.total);
    let report = with_chat!(&opened, chat => match source {
        Ok(source) => {
            let target = Endpoint { rows: chat.store(), blobs: chat.blobs() };
            import(source, &args.path, target, &options, &mut progress)?
        }
        Err(format) => {
            let who = args.user.as_deref().unwrap_or_default();
            let user = crate::commands::users::find(chat.store(), who)?;
            import_export(format, &args.path, chat.store(), user.id, &options, &mut progress)?
        }
    });
    drop(bar);
    Ok(output(&args, &target, &report))
}

/// How an import into `target` runs: the store's size limits and clock, and the
/// command's `--strict` and `--files`.
pub(crate) fn options(target: &Target, args: &ImportArgs) -> ImportOptions {
    let config = match target {
        Target::Sqlite { config, .. } | Target::Postgres { config, .. } => config,
    };
    ImportOptions {
        strict: args.strict,
        max_message_bytes: config.max_message_bytes,
        max_metadata_bytes: config.max_metadata_bytes,
        now: config.clock.now(),
        files: args.files.clone(),
    }
}

/// The report of an import, as a table for people and as JSON.
pub(crate) fn output(args: &ImportArgs, target: &Target, report: &ImportReport) -> Output {
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
    for note in &report.notes {
        human.push_str(&format!("{note}\n"));
    }
    for user in &report.must_reset {
        human.push_str(&format!(
            "must reset their password (no usable password hash): {} <{}> ({})\n",
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
            "notes": report.notes,
        }),
        human,
    )
}
