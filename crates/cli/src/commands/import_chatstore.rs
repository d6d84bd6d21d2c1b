//! `chatstore import chatstore DIR`: a directory `chatstore export` wrote, brought back
//! into the store (created if missing) with its attachments; run again, it imports
//! nothing twice and finishes an interrupted import.

use chatstore::transfer::Endpoint;
use chatstore_import::import_chatstore_export;

use crate::cli::{Global, ImportArgs};
use crate::error::{CliError, Result};
use crate::open::{Mode, Target, open};
use crate::output::Output;
use crate::progress::Bar;
use crate::with_chat;

/// Runs `import chatstore`: the store the global options name is the target.
pub fn run(global: &Global, args: ImportArgs) -> Result<Output> {
    if args.files.is_some() {
        return Err(CliError::usage(
            "a chatstore export holds its attachments: --files is for sources with an attachment database",
        ));
    }
    if args.user.is_some() {
        return Err(CliError::usage(
            "a chatstore export brings its own user: --user is for chatgpt and claude",
        ));
    }
    let target = Target::resolve(global)?;
    let opened = open(&target, Mode::Create)?;
    let options = super::import::options(&target, &args);
    let bar = Bar::start();
    let mut progress = |p: chatstore_import::Progress<'_>| bar.set(p.kind, p.done, p.total);
    let report = with_chat!(&opened, chat => import_chatstore_export(
        &args.path,
        Endpoint { rows: chat.store(), blobs: chat.blobs() },
        &options,
        &mut progress,
    )?);
    drop(bar);
    Ok(super::import::output(&args, &target, &report))
}
