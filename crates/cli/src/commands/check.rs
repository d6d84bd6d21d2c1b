//! `chatstore check`: the store's integrity checks, with an exit code saying whether it
//! is healthy (0) or not (2).

use chatstore::{BlobStore, ChatStore, Error, NoVectorIndex, ORPHAN_GRACE, Store};
use serde::Serialize;
use serde_json::json;

use crate::cli::{CheckArgs, Global};
use crate::error::{CliError, Result};
use crate::open::{Mode, Opened, Target, open};
use crate::output::{Output, Table};
use crate::progress::Spinner;

/// Exit code of a store found unhealthy.
pub const UNHEALTHY: u8 = 2;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing wrong.
    Ok,
    /// Not damage, but worth acting on (pending migrations, orphan blobs).
    Warning,
    /// Damage: the store is unhealthy.
    Error,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked.
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
}

impl Finding {
    fn of(check: &'static str, result: chatstore::Result<()>, ok: &str) -> Finding {
        match result {
            Ok(()) => Finding {
                check,
                status: Status::Ok,
                detail: ok.to_owned(),
            },
            Err(error) => Finding {
                check,
                status: Status::Error,
                detail: error.to_string(),
            },
        }
    }
}

/// Runs `check`. Opening changes nothing (no migration, no sweep).
pub fn run(global: &Global, args: CheckArgs) -> Result<Output> {
    let target = Target::resolve(global)?;
    let spinner = Spinner::start("checking the store");
    let findings = match open(&target, Mode::Inspect) {
        Ok(Opened::Sqlite(chat)) => {
            let mut findings = common(&chat, chatstore_sqlite::LATEST_VERSION, &spinner)?;
            spinner.step("checking files.db");
            findings.push(Finding::of(
                "attachment file integrity",
                chat.blobs().check_integrity(),
                "ok",
            ));
            if args.contents {
                spinner.step("re-reading every attachment");
                findings.push(contents(chat.blobs().verify_contents()));
            }
            findings
        }
        Ok(Opened::Postgres(chat)) => {
            let mut findings = common(&chat, chatstore_postgres::LATEST_VERSION, &spinner)?;
            if args.contents {
                spinner.step("re-reading every attachment");
                findings.push(contents(chat.blobs().verify_contents()));
            }
            findings
        }
        Err(error) if error.damaged => {
            vec![Finding {
                check: "startup",
                status: Status::Error,
                detail: error.message,
            }]
        }
        Err(error) => return Err(error),
    };
    drop(spinner);
    let healthy = findings.iter().all(|f| f.status != Status::Error);
    let mut table = Table::new(&["check", "status", "detail"]);
    for f in &findings {
        let status = match f.status {
            Status::Ok => "ok",
            Status::Warning => "WARNING",
            Status::Error => "ERROR",
        };
        table.row(vec![
            f.check.to_owned(),
            status.to_owned(),
            f.detail.clone(),
        ]);
    }
    let verdict = if healthy { "healthy" } else { "UNHEALTHY" };
    let mut output = Output::new(
        json!({ "store": target.describe(), "healthy": healthy, "findings": findings }),
        format!("{}: {verdict}\n\n{}", target.describe(), table.render()),
    );
    if !healthy {
        output.exit_code = UNHEALTHY;
    }
    Ok(output)
}

/// The checks every backend has: schema version, the main store's integrity, and the
/// attachments across both stores.
fn common<S: Store, B: BlobStore>(
    chat: &ChatStore<S, B, NoVectorIndex>,
    latest: u32,
    spinner: &Spinner,
) -> Result<Vec<Finding>, CliError> {
    let mut findings = vec![Finding {
        check: "startup",
        status: Status::Ok,
        detail: "opened".to_owned(),
    }];
    let version = chat.store().schema_version()?;
    findings.push(Finding {
        check: "schema version",
        status: if version == latest {
            Status::Ok
        } else {
            Status::Warning
        },
        detail: if version == latest {
            format!("{version} (latest)")
        } else {
            format!("{version}, latest is {latest}: run `chatstore migrate up`")
        },
    });
    spinner.step("checking the main database");
    findings.push(Finding::of(
        "main database integrity",
        chat.store().check_integrity(),
        "ok (structure, indexes, foreign keys)",
    ));
    if version != latest {
        return Ok(findings);
    }
    spinner.step("checking attachment references");
    match chat.audit_attachments(chat.store().now() - ORPHAN_GRACE) {
        Ok(audit) => {
            findings.push(Finding {
                check: "attachment references",
                status: if audit.dangling.is_empty() {
                    Status::Ok
                } else {
                    Status::Error
                },
                detail: if audit.dangling.is_empty() {
                    format!(
                        "{} messages with files, none missing",
                        audit.messages_checked
                    )
                } else {
                    let keys: Vec<String> = audit
                        .dangling
                        .iter()
                        .take(5)
                        .map(|k| k.to_string())
                        .collect();
                    format!(
                        "{} attachments missing (e.g. {})",
                        audit.dangling.len(),
                        keys.join(", ")
                    )
                },
            });
            findings.push(Finding {
                check: "orphan attachments",
                status: if audit.orphans.is_empty() {
                    Status::Ok
                } else {
                    Status::Warning
                },
                detail: if audit.orphans.is_empty() {
                    "none".to_owned()
                } else {
                    format!(
                        "blobs of {} messages that do not exist: `chatstore cleanup` removes them",
                        audit.orphans.len()
                    )
                },
            });
        }
        Err(error) => findings.push(error_finding("attachment references", error)),
    }
    Ok(findings)
}

fn contents(result: chatstore::Result<Vec<chatstore::BlobKey>>) -> Finding {
    match result {
        Ok(damaged) if damaged.is_empty() => Finding {
            check: "attachment contents",
            status: Status::Ok,
            detail: "every attachment matches its hash".to_owned(),
        },
        Ok(damaged) => Finding {
            check: "attachment contents",
            status: Status::Error,
            detail: format!("{} attachments do not match their hash", damaged.len()),
        },
        Err(error) => error_finding("attachment contents", error),
    }
}

fn error_finding(check: &'static str, error: Error) -> Finding {
    Finding {
        check,
        status: Status::Error,
        detail: error.to_string(),
    }
}
