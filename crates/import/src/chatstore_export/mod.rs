//! chatstore's own export (`ChatStore::export_user`, `export_conversation`: a directory
//! with `export.json` and the attachment files) imported back into a store, on either
//! backend.
//!
//! Records keep their ids (they are chatstore ids already), so no `imported_ids` rows
//! are written: a record's id here is the one it had in the exporting store, and old
//! links keep working as they are. Times, statuses, branches (`parent_id`; `seq`
//! renumbered only when a skipped message leaves a gap), metadata, attachment
//! descriptions with their hashes, agent runs, documents with their chunks and usage
//! records come over as exported. Attachment bytes are checked against the hash their
//! message records and stored before the message that names them.
//!
//! The user: when the target has an account with their id and email, the data joins
//! it (its password and roles untouched); the id with another email is a conflict. Otherwise the account is created without a usable
//! password (an export holds no hash; see [`ImportReport::must_reset`]), with the
//! roles of the export the target has. Another account with the same email or username
//! refuses the whole import ([`chatstore::Error::Conflict`]). Login sessions are never
//! imported (an export holds no tokens).

mod conversations;
mod files;
mod plan;
mod read;
mod rows;
mod write;

use std::path::Path;

use chatstore::transfer::Endpoint;
use chatstore::{Error, Result};

use crate::{ImportOptions, ImportReport, Progress};

/// The source name in reports: `chatstore`.
pub(crate) const SOURCE: &str = "chatstore";

/// Imports the chatstore export in the directory `dir` into `target`: its rows, and
/// its attachments into `target.blobs`.
///
/// Everything is read and checked first: a directory without `export.json`, a file
/// that is not JSON or not of format [`chatstore::export::FORMAT`], or a user that is
/// not valid is [`Error::Validation`]; another account of the target with the user's
/// email or username is [`Error::Conflict`]; nothing is written then. A bad record (a
/// message whose conversation is not the one it is exported in, an attachment path
/// leaving the directory, a missing attachment file or one whose blake3 hash is not
/// the one its message records, a record whose id the target gives another user, ...)
/// is skipped with everything depending on it and listed in [`ImportReport::skipped`];
/// with [`ImportOptions::strict`] the first one stops the import before anything is
/// written. Run again, the import writes nothing twice (everything counts as
/// `present`) and finishes an interrupted run.
///
/// ```no_run
/// # fn demo(chat: &chatstore::ChatStore<chatstore_sqlite::SqliteStore, chatstore::NoBlobStore, chatstore::NoVectorIndex>) -> chatstore::Result<()> {
/// use chatstore::transfer::Endpoint;
/// use chatstore_import::{ImportOptions, import_chatstore_export};
///
/// let report = import_chatstore_export(
///     "ada-export".as_ref(),
///     Endpoint { rows: chat.store(), blobs: chat.blobs() },
///     &ImportOptions::default(),
///     &mut |_| {},
/// )?;
/// println!("{} messages imported", report.counts("message").imported);
/// # Ok(()) }
/// ```
pub fn import_chatstore_export(
    dir: &Path,
    target: Endpoint<'_>,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport> {
    let export = read::read(dir)?;
    let plan = plan::plan(dir, export, target.rows, options)?;
    if options.strict
        && let Some(first) = plan.report.skipped.first()
    {
        return Err(Error::validation(
            "import",
            format!(
                "{} {} is refused ({}); nothing was imported (--strict)",
                first.table, first.original_id, first.reason
            ),
        ));
    }
    write::write(plan, target, progress)
}
