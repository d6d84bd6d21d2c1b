//! `chatstore search --user U QUERY`: a user's messages matching the words.

use chatstore::{SearchQuery, SearchStore};

use crate::cli::{Global, SearchArgs};
use crate::commands::users::find;
use crate::error::Result;
use crate::open::{Mode, Target, open};
use crate::output::{Output, Table};
use crate::with_chat;

/// Runs `search`.
pub fn run(global: &Global, args: SearchArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    let opened = open(&target, Mode::Existing)?;
    with_chat!(&opened, chat => {
        let store = chat.store();
        let user = find(store, &args.user)?;
        let query = SearchQuery {
            limit: args.limit,
            ..SearchQuery::new(&args.query.join(" "))
        };
        let hits = store.search_messages(user.id, &query)?;
        let mut table = Table::new(&["when", "conversation", "role", "snippet"]);
        for h in &hits {
            table.row(vec![
                h.created_at.to_string(),
                h.conversation_title.clone().unwrap_or_else(|| h.conversation_id.to_string()),
                h.role.to_string(),
                h.snippet.replace('\n', " "),
            ]);
        }
        Ok(Output::of(&hits, format!("{} messages of {} match\n\n{}", hits.len(), user.username, table.render())))
    })
}
