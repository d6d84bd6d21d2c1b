//! The slow query log's format, the same for every backend: statements slower than the
//! configured threshold are reported through `tracing` at WARN (target
//! `chatstore::slow_query`), with the SQL on one line cut to [`SQL_LIMIT`] characters
//! and the parameters to [`PARAMS_LIMIT`]. Parameters of any statement touching a
//! password hash or a session token hash are never printed. A backend times its
//! statements and calls [`report`].

use std::time::Duration;

/// Longest SQL text logged, in characters.
pub const SQL_LIMIT: usize = 200;
/// Longest parameter list logged, in characters.
pub const PARAMS_LIMIT: usize = 100;
/// Columns whose statements have their parameters redacted.
pub const SECRET_COLUMNS: [&str; 2] = ["password_hash", "token_hash"];

/// A statement parameter as the log shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    /// SQL NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(&'a str),
    /// Bytes, shown by their length only.
    Blob(usize),
    /// A value the backend cannot show.
    Unknown,
}

/// Logs a statement that took `elapsed` against a `threshold`.
pub fn report<'a>(
    sql: &str,
    params: impl IntoIterator<Item = Param<'a>>,
    elapsed: Duration,
    threshold: Duration,
) {
    tracing::warn!(
        target: "chatstore::slow_query",
        query = %cut(&squeeze(sql), SQL_LIMIT),
        params = %render_params(sql, params),
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        threshold_ms = threshold.as_secs_f64() * 1000.0,
        "slow query"
    );
}

/// Logs every statement at DEBUG (target `chatstore::sql`), cut and redacted as slow
/// ones are: what the seeds' `DATABASE_ECHO=true` asks for.
pub fn echo<'a>(sql: &str, params: impl IntoIterator<Item = Param<'a>>, elapsed: Duration) {
    tracing::debug!(
        target: "chatstore::sql",
        query = %cut(&squeeze(sql), SQL_LIMIT),
        params = %render_params(sql, params),
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "statement"
    );
}

/// Collapses runs of whitespace, so multi-line SQL reads as one line.
fn squeeze(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts text to `limit` characters, marking the cut with "…".
///
/// ```
/// assert_eq!(chatstore::slow_query::cut("héllo", 2), "hé…");
/// ```
pub fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The parameters as `(a, 'b', NULL)`, cut to [`PARAMS_LIMIT`], or `[redacted]` when
/// the statement touches a secret column.
pub fn render_params<'a>(sql: &str, params: impl IntoIterator<Item = Param<'a>>) -> String {
    let lowered = sql.to_ascii_lowercase();
    if SECRET_COLUMNS.iter().any(|column| lowered.contains(column)) {
        return "[redacted]".to_owned();
    }
    let mut out = String::from("(");
    for (i, param) in params.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&match param {
            Param::Null => "NULL".to_owned(),
            Param::Integer(i) => i.to_string(),
            Param::Real(r) => r.to_string(),
            Param::Text(t) => format!("'{}'", cut(t, PARAMS_LIMIT)),
            Param::Blob(len) => format!("<{len} bytes>"),
            Param::Unknown => "?".to_owned(),
        });
        if out.len() > PARAMS_LIMIT * 4 {
            break;
        }
    }
    out.push(')');
    cut(&out, PARAMS_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sql_and_params_are_cut() {
        let long = "x".repeat(500);
        assert_eq!(cut(&long, SQL_LIMIT).chars().count(), SQL_LIMIT + 1);
        let rendered = render_params("SELECT ?", [Param::Text(&long)]);
        assert!(rendered.chars().count() <= PARAMS_LIMIT + 1, "{rendered}");
    }

    #[test]
    fn params_render_by_type_and_secrets_are_redacted() {
        let rendered = render_params(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            [
                Param::Integer(1),
                Param::Real(2.5),
                Param::Text("text"),
                Param::Null,
                Param::Blob(7),
            ],
        );
        assert_eq!(rendered, "(1, 2.5, 'text', NULL, <7 bytes>)");
        for sql in [
            "UPDATE users SET password_hash = ? WHERE id = ?",
            "SELECT * FROM user_sessions WHERE TOKEN_HASH = ?",
        ] {
            assert_eq!(render_params(sql, [Param::Text("secret")]), "[redacted]");
        }
    }
}
