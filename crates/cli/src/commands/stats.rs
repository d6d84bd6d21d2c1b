//! `chatstore stats`: file sizes, schema version, users, sessions, row counts per table,
//! messages by role, the largest conversations and busiest users, attachments and token
//! usage.

use chatstore::transfer::{TABLES, TableTransfer};
use chatstore::{
    BlobStore, MaintenanceStore, SystemStore, TimeRange, UsageStore, UsageTotals, UserQuery,
    UserStore,
};
use serde_json::json;

use crate::cli::Global;
use crate::commands::vacuum::file_size;
use crate::error::Result;
use crate::open::{Mode, Opened, Target, open};
use crate::output::{Output, Table, bytes};
use crate::with_chat;

/// How many of the largest conversations and busiest users are shown.
const TOP: u32 = 10;

/// Runs `stats`. Opening changes nothing.
pub fn run(global: &Global) -> Result<Output> {
    let target = Target::resolve(global)?;
    let opened = open(&target, Mode::Inspect)?;
    let files = match &opened {
        Opened::Sqlite(chat) => vec![
            (
                chat.store().path().display().to_string(),
                file_size(chat.store().path()),
            ),
            (
                chat.blobs().config().path.display().to_string(),
                file_size(&chat.blobs().config().path),
            ),
        ],
        Opened::Postgres(_) => Vec::new(),
    };
    let (version, users, active, blobs, usage, figures, rows) = with_chat!(&opened, chat => {
        let store = chat.store();
        let version = store.schema_version()?;
        let figures = store.store_figures(TOP)?;
        let rows = TABLES
            .iter()
            .map(|table| Ok((table.name, store.count_rows(table)?)))
            .collect::<chatstore::Result<Vec<_>>>()?;
        let users = count_users(store, None)?;
        let active = count_users(store, Some(true))?;
        let blobs = chat.blobs().stats()?;
        let mut usage = UsageTotals::default();
        for row in store.system_usage(TimeRange::ALL)? {
            usage.requests += row.totals.requests;
            usage.total_tokens += row.totals.total_tokens;
            usage.embedding_tokens += row.totals.embedding_tokens;
            usage.cost += row.totals.cost;
        }
        (version, users, active, blobs, usage, figures, rows)
    });
    let mut table = Table::new(&["figure", "value"]);
    for (name, size) in &files {
        table.row(vec![format!("size of {name}"), bytes(*size)]);
    }
    for (name, value) in [
        ("schema version", version.to_string()),
        ("users", users.to_string()),
        ("active users", active.to_string()),
        ("active sessions", figures.active_sessions.to_string()),
        ("user messages", figures.messages_by_role.user.to_string()),
        (
            "assistant messages",
            figures.messages_by_role.assistant.to_string(),
        ),
        (
            "system messages",
            figures.messages_by_role.system.to_string(),
        ),
        ("attachments (keys)", blobs.keys.to_string()),
        ("attachment bytes stored", bytes(blobs.stored_bytes)),
        ("LLM requests", usage.requests.to_string()),
        ("tokens", usage.total_tokens.to_string()),
        ("embedding tokens", usage.embedding_tokens.to_string()),
        ("cost", format!("{:.4}", usage.cost)),
    ] {
        table.row(vec![name.to_owned(), value]);
    }
    let file_json: Vec<_> = files
        .iter()
        .map(|(name, size)| json!({ "file": name, "bytes": size }))
        .collect();
    let mut counts = Table::new(&["table", "rows"]);
    for (name, n) in &rows {
        counts.row(vec![(*name).to_owned(), n.to_string()]);
    }
    let mut largest = Table::new(&["largest conversations", "messages", "owner"]);
    for c in &figures.largest_conversations {
        largest.row(vec![
            c.title.clone().unwrap_or_else(|| c.id.to_string()),
            c.message_count.to_string(),
            c.user_id.to_string(),
        ]);
    }
    let mut busiest = Table::new(&["busiest users", "conversations", "messages"]);
    for u in &figures.busiest_users {
        busiest.row(vec![
            u.username.clone(),
            u.conversations.to_string(),
            u.messages.to_string(),
        ]);
    }
    let row_json: serde_json::Map<String, serde_json::Value> = rows
        .iter()
        .map(|(name, n)| ((*name).to_owned(), json!(n)))
        .collect();
    Ok(Output::new(
        json!({ "store": target.describe(), "files": file_json, "schema_version": version,
                "users": users, "active_users": active, "attachments": blobs, "usage": usage,
                "active_sessions": figures.active_sessions,
                "messages_by_role": figures.messages_by_role,
                "largest_conversations": figures.largest_conversations,
                "busiest_users": figures.busiest_users, "rows": row_json }),
        format!(
            "{}\n\n{}\n{}\n{}\n{}",
            target.describe(),
            table.render(),
            counts.render(),
            largest.render(),
            busiest.render()
        ),
    ))
}

fn count_users(store: &dyn UserStore, active: Option<bool>) -> chatstore::Result<u64> {
    let mut query = UserQuery {
        active,
        limit: 1000,
        ..UserQuery::default()
    };
    let mut n = 0;
    loop {
        let page = store.list_users(&query)?;
        n += page.items.len() as u64;
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(n),
        }
    }
}
