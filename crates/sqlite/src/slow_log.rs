//! The slow query log: statements slower than the configured threshold are reported
//! through `tracing` at WARN (target `chatstore::slow_query`), with the SQL cut to 200
//! characters and the parameters to 100. Parameters of any statement touching a password
//! hash or a session token hash are never printed.

use std::time::{Duration, Instant};

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Longest SQL text logged, in characters.
pub(crate) const SQL_LIMIT: usize = 200;
/// Longest parameter list logged, in characters.
pub(crate) const PARAMS_LIMIT: usize = 100;
/// Columns whose statements have their parameters redacted.
const SECRET_COLUMNS: [&str; 2] = ["password_hash", "token_hash"];

/// Times statements and reports the slow ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlowLog {
    threshold: Duration,
}

impl SlowLog {
    pub(crate) fn new(threshold: Duration) -> SlowLog {
        SlowLog { threshold }
    }

    /// Runs `f`, and logs the statement if it took longer than the threshold.
    pub(crate) fn time<T>(&self, sql: &str, params: &[&dyn ToSql], f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = f();
        let elapsed = started.elapsed();
        if elapsed >= self.threshold {
            tracing::warn!(
                target: "chatstore::slow_query",
                query = %cut(&squeeze(sql), SQL_LIMIT),
                params = %render_params(sql, params),
                elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                threshold_ms = self.threshold.as_secs_f64() * 1000.0,
                "slow query"
            );
        }
        result
    }
}

/// Collapses runs of whitespace, so multi-line SQL reads as one line.
fn squeeze(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts text to `limit` characters, marking the cut with "…".
pub(crate) fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The parameters as `(a, 'b', NULL)`, cut to the limit, or `[redacted]` when the
/// statement touches a secret column.
fn render_params(sql: &str, params: &[&dyn ToSql]) -> String {
    let lowered = sql.to_ascii_lowercase();
    if SECRET_COLUMNS.iter().any(|column| lowered.contains(column)) {
        return "[redacted]".to_owned();
    }
    let mut out = String::from("(");
    for (i, param) in params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&render_value(*param));
        if out.len() > PARAMS_LIMIT * 4 {
            break;
        }
    }
    out.push(')');
    cut(&out, PARAMS_LIMIT)
}

fn render_value(param: &dyn ToSql) -> String {
    let output = match param.to_sql() {
        Ok(output) => output,
        Err(_) => return "?".to_owned(),
    };
    let value = match &output {
        ToSqlOutput::Borrowed(value) => *value,
        ToSqlOutput::Owned(value) => ValueRef::from(value),
        _ => return "?".to_owned(),
    };
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) => format!("'{}'", cut(&String::from_utf8_lossy(t), PARAMS_LIMIT)),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sql_and_params_are_cut() {
        let long = "x".repeat(500);
        assert_eq!(cut(&long, SQL_LIMIT).chars().count(), SQL_LIMIT + 1);
        let rendered = render_params("SELECT ?", &[&long as &dyn ToSql]);
        assert!(rendered.chars().count() <= PARAMS_LIMIT + 1, "{rendered}");
        assert_eq!(cut("héllo", 2), "hé…");
    }

    #[test]
    fn params_render_by_type_and_secrets_are_redacted() {
        let blob = vec![0u8; 7];
        let rendered = render_params(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            &[&1i64, &2.5f64, &"text", &Option::<String>::None, &blob],
        );
        assert_eq!(rendered, "(1, 2.5, 'text', NULL, <7 bytes>)");
        for sql in [
            "UPDATE users SET password_hash = ? WHERE id = ?",
            "SELECT * FROM user_sessions WHERE TOKEN_HASH = ?",
        ] {
            assert_eq!(render_params(sql, &[&"secret"]), "[redacted]");
        }
    }
}
