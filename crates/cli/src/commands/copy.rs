//! `chatstore copy`: copy the whole store (rows and attachments) into another store,
//! on the same backend or the other one, then verify both hold the same.

use chatstore::transfer::{CopyOptions, CopyReport, Endpoint, Step, copy_store};
use serde_json::json;

use crate::cli::{CopyArgs, Global};
use crate::error::{CliError, Result};
use crate::open::{Mode, Target, open};
use crate::output::{Output, Table, bytes};
use crate::progress::Bar;
use crate::with_chat;

/// Runs `copy`: the store the global options name is the source; the target
/// (`--to-store` or `--to-url`) is created if missing. Run again after an
/// interruption, it finishes the copy.
pub fn run(global: &Global, args: CopyArgs) -> Result<Output> {
    let source = Target::resolve(global)?;
    let target = Target::resolve(&Global {
        store: args.to_store.clone(),
        url: args.to_url.clone(),
        schema: args.to_schema.clone(),
        json: global.json,
    })?;
    if source.describe() == target.describe() {
        return Err(CliError::usage(
            "the source and the target are the same store",
        ));
    }
    let from = open(&source, Mode::Existing)?;
    let to = open(&target, Mode::Create)?;
    let options = CopyOptions {
        batch_rows: args.batch,
        verify: !args.no_verify,
    };
    let bar = Bar::start();
    let report = with_chat!(&from, a => with_chat!(&to, b => copy_store(
        Endpoint { rows: a.store(), blobs: a.blobs() },
        Endpoint { rows: b.store(), blobs: b.blobs() },
        &options,
        &mut |progress| {
            let item = match progress.step {
                Step::Copy => progress.item.to_owned(),
                Step::Verify => format!("verifying {}", progress.item),
            };
            bar.set(&item, progress.done, progress.total);
        },
    )))?;
    drop(bar);
    Ok(output(&source, &target, &report))
}

fn output(source: &Target, target: &Target, report: &CopyReport) -> Output {
    let mut table = Table::new(&["table", "source rows", "written", "verified"]);
    for copied in &report.tables {
        let check = report.checks.iter().find(|c| c.table == copied.table);
        table.row(vec![
            copied.table.to_owned(),
            copied.source_rows.to_string(),
            copied.written.to_string(),
            verdict(check.map(|c| c.matches())),
        ]);
    }
    let blob_check = report.checks.iter().find(|c| c.table == "attachments");
    table.row(vec![
        "attachments".to_owned(),
        blob_check
            .map(|c| c.source_rows.to_string())
            .unwrap_or_default(),
        report.blobs.copied.to_string(),
        verdict(blob_check.map(|c| c.matches())),
    ]);
    let human = format!(
        "copied {} into {}\n{}{} rows and {} attachments ({}) written{}",
        source.describe(),
        target.describe(),
        table.render(),
        report.rows_written(),
        report.blobs.copied,
        bytes(report.blobs.bytes),
        if report.checks.is_empty() {
            "; not verified (--no-verify)"
        } else {
            "; both stores hold the same rows and attachments"
        }
    );
    let tables: Vec<_> = report
        .tables
        .iter()
        .map(|t| json!({ "table": t.table, "source_rows": t.source_rows, "written": t.written }))
        .collect();
    let checks: Vec<_> = report
        .checks
        .iter()
        .map(|c| {
            json!({
                "table": c.table,
                "source_rows": c.source_rows,
                "target_rows": c.target_rows,
                "digest": c.target_digest,
                "matches": c.matches(),
            })
        })
        .collect();
    Output::new(
        json!({
            "source": source.describe(),
            "target": target.describe(),
            "tables": tables,
            "attachments": {
                "copied": report.blobs.copied,
                "present": report.blobs.present,
                "bytes": report.blobs.bytes,
            },
            "verified": !report.checks.is_empty(),
            "checks": checks,
        }),
        human,
    )
}

fn verdict(matches: Option<bool>) -> String {
    match matches {
        Some(true) => "yes".to_owned(),
        Some(false) => "NO".to_owned(),
        None => "-".to_owned(),
    }
}
