//! `chatstore export --user U --out DIR [--conversation ID]`: a user's data (or one
//! conversation) as JSON, Markdown and CSV with the attachments' files, for a
//! data-access request or a move.

use chatstore::ConversationId;

use crate::cli::{ExportArgs, Global};
use crate::commands::users::find;
use crate::error::{CliError, Result};
use crate::open::{Mode, Target, open};
use crate::output::{Output, Table, bytes};
use crate::progress::Spinner;
use crate::with_chat;

/// Runs `export`.
pub fn run(global: &Global, args: ExportArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    let conversation = args
        .conversation
        .as_deref()
        .map(str::parse::<ConversationId>)
        .transpose()
        .map_err(|e| CliError::usage(format!("--conversation: {e}")))?;
    let opened = open(&target, Mode::Existing)?;
    let spinner = Spinner::start("exporting");
    let (summary, who) = with_chat!(&opened, chat => {
        let user = find(chat.store(), &args.user)?;
        let summary = match conversation {
            Some(id) => chat.export_conversation(user.id, id, &args.out)?,
            None => chat.export_user(user.id, &args.out)?,
        };
        (summary, user.username)
    });
    drop(spinner);
    let mut table = Table::new(&["what", "count"]);
    for (what, n) in [
        ("conversations", summary.conversations),
        ("messages", summary.messages),
        ("attachment files", summary.files),
        ("documents", summary.documents),
        ("usage records", summary.usage_records),
    ] {
        table.row(vec![what.to_owned(), n.to_string()]);
    }
    Ok(Output::new(
        serde_json::json!({ "user": who, "out": args.out.display().to_string(), "summary": summary }),
        format!(
            "exported {who}'s data to {} ({} of attachments)\n\n{}",
            args.out.display(),
            bytes(summary.file_bytes),
            table.render()
        ),
    ))
}
