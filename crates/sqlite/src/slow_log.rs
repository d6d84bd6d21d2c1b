//! Timing statements for the slow query log; the log's format and redaction are the
//! core's ([`chatstore::slow_query`]).

use std::time::{Duration, Instant};

use chatstore::slow_query::{self, Param};
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Times statements and reports the slow ones (and every one, when echoing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlowLog {
    threshold: Duration,
    echo: bool,
}

impl SlowLog {
    pub(crate) fn new(threshold: Duration, echo: bool) -> SlowLog {
        SlowLog { threshold, echo }
    }

    /// Runs `f`, and logs the statement if it took longer than the threshold.
    pub(crate) fn time<T>(&self, sql: &str, params: &[&dyn ToSql], f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = f();
        let elapsed = started.elapsed();
        let slow = elapsed >= self.threshold;
        if slow || self.echo {
            let outputs: Vec<Option<ToSqlOutput<'_>>> =
                params.iter().map(|p| p.to_sql().ok()).collect();
            let shown = || {
                outputs.iter().map(|output| match output {
                    Some(ToSqlOutput::Borrowed(value)) => param(*value),
                    Some(ToSqlOutput::Owned(value)) => param(ValueRef::from(value)),
                    _ => Param::Unknown,
                })
            };
            if self.echo {
                slow_query::echo(sql, shown(), elapsed);
            }
            if slow {
                slow_query::report(sql, shown(), elapsed, self.threshold);
            }
        }
        result
    }
}

/// A SQLite value as the log shows it.
fn param(value: ValueRef<'_>) -> Param<'_> {
    match value {
        ValueRef::Null => Param::Null,
        ValueRef::Integer(i) => Param::Integer(i),
        ValueRef::Real(r) => Param::Real(r),
        ValueRef::Text(t) => std::str::from_utf8(t).map_or(Param::Unknown, Param::Text),
        ValueRef::Blob(b) => Param::Blob(b.len()),
    }
}
