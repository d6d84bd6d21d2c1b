//! `chatstore usage [--user U] [--by provider|model|day]`: token usage with its cost.

use chatstore::{TimeRange, UsageStore, UsageTotals};
use serde_json::json;

use crate::cli::{Global, UsageArgs, UsageBy};
use crate::commands::users::find;
use crate::error::{CliError, Result};
use crate::open::{Mode, Target, open};
use crate::output::{Output, Table};
use crate::with_chat;

/// Runs `usage`.
pub fn run(global: &Global, args: UsageArgs) -> Result<Output> {
    if args.by == UsageBy::Day && args.user.is_none() {
        return Err(CliError::usage("--by day needs --user"));
    }
    let target = Target::resolve(global)?;
    let opened = open(&target, Mode::Existing)?;
    with_chat!(&opened, chat => {
        let store = chat.store();
        let user = args.user.as_deref().map(|u| find(store, u)).transpose()?;
        let whose = user.as_ref().map_or("all users".to_owned(), |u| u.username.clone());
        match (args.by, user) {
            (UsageBy::Day, Some(user)) => {
                let days = store.daily_usage(user.id, TimeRange::ALL)?;
                let mut table = Table::new(&HEADERS_DAY);
                for d in &days {
                    table.row(cells(vec![d.day.clone()], &d.totals));
                }
                Ok(Output::new(json!({ "user": user.username, "days": days }),
                    format!("usage of {whose} by day\n\n{}", table.render())))
            }
            (UsageBy::Model, user) => {
                let rows = match &user {
                    Some(user) => store.usage_by_model(user.id, TimeRange::ALL)?,
                    None => store.system_usage_by_model(TimeRange::ALL)?,
                };
                let mut table = Table::new(&HEADERS_MODEL);
                for r in &rows {
                    table.row(cells(vec![r.provider.clone(), r.model.clone()], &r.totals));
                }
                Ok(Output::new(
                    json!({ "user": user.map(|u| u.username), "by_model": rows }),
                    format!("usage of {whose} by model\n\n{}", table.render()),
                ))
            }
            (_, user) => {
                let rows = match &user {
                    Some(user) => store.usage_by_provider(user.id, TimeRange::ALL)?,
                    None => store.system_usage(TimeRange::ALL)?,
                };
                let mut table = Table::new(&HEADERS_PROVIDER);
                let mut total = UsageTotals::default();
                for r in &rows {
                    table.row(cells(vec![r.provider.clone(), r.operation_type.to_string()], &r.totals));
                    total.requests += r.totals.requests;
                    total.prompt_tokens += r.totals.prompt_tokens;
                    total.completion_tokens += r.totals.completion_tokens;
                    total.total_tokens += r.totals.total_tokens;
                    total.embedding_tokens += r.totals.embedding_tokens;
                    total.cost += r.totals.cost;
                }
                table.row(cells(vec!["total".to_owned(), String::new()], &total));
                Ok(Output::new(
                    json!({ "user": user.map(|u| u.username), "by_provider": rows, "total": total }),
                    format!("usage of {whose} by provider\n\n{}", table.render()),
                ))
            }
        }
    })
}

const HEADERS_PROVIDER: [&str; 8] = [
    "provider",
    "operation",
    "requests",
    "prompt",
    "completion",
    "total",
    "embedding",
    "cost",
];
const HEADERS_MODEL: [&str; 8] = [
    "provider",
    "model",
    "requests",
    "prompt",
    "completion",
    "total",
    "embedding",
    "cost",
];
const HEADERS_DAY: [&str; 7] = [
    "day",
    "requests",
    "prompt",
    "completion",
    "total",
    "embedding",
    "cost",
];

fn cells(mut first: Vec<String>, t: &UsageTotals) -> Vec<String> {
    first.extend([
        t.requests.to_string(),
        t.prompt_tokens.to_string(),
        t.completion_tokens.to_string(),
        t.total_tokens.to_string(),
        t.embedding_tokens.to_string(),
        format!("{:.4}", t.cost),
    ]);
    first
}
