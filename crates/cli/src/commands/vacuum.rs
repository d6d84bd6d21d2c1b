//! `chatstore vacuum`: reclaim the space of deleted rows and refresh the planner's
//! statistics.

use chatstore::MaintenanceStore;
use serde_json::json;

use crate::cli::Global;
use crate::error::Result;
use crate::open::{Mode, Opened, Target, open};
use crate::output::{Output, bytes};
use crate::progress::Spinner;

/// Runs `vacuum`: both SQLite files (each needs a moment of exclusive access), or every
/// table of a PostgreSQL store (`VACUUM (ANALYZE)`).
pub fn run(global: &Global) -> Result<Output> {
    let target = Target::resolve(global)?;
    let opened = open(&target, Mode::Existing)?;
    let spinner = Spinner::start("vacuuming");
    match opened {
        Opened::Sqlite(chat) => {
            let files = [
                chat.store().path().to_path_buf(),
                chat.blobs().config().path.clone(),
            ];
            let before: Vec<u64> = files.iter().map(|f| file_size(f)).collect();
            spinner.step("vacuuming chatstore.db");
            chat.store().vacuum()?;
            spinner.step("vacuuming files.db");
            chat.blobs().vacuum()?;
            drop(spinner);
            let after: Vec<u64> = files.iter().map(|f| file_size(f)).collect();
            let rows: Vec<_> = files
                .iter()
                .zip(before.iter().zip(&after))
                .map(|(f, (b, a))| json!({ "file": f.display().to_string(), "before": b, "after": a }))
                .collect();
            let human = files
                .iter()
                .zip(before.iter().zip(&after))
                .map(|(f, (b, a))| format!("{}: {} -> {}", f.display(), bytes(*b), bytes(*a)))
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(
                json!({ "vacuumed": rows }),
                format!("vacuumed\n{human}"),
            ))
        }
        Opened::Postgres(chat) => {
            chat.store().vacuum()?;
            drop(spinner);
            Ok(Output::new(
                json!({ "vacuumed": chat.store().schema() }),
                format!(
                    "vacuumed and analysed every table of schema {}",
                    chat.store().schema()
                ),
            ))
        }
    }
}

/// A file's size, with its write-ahead log.
pub fn file_size(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), wal.into()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}
