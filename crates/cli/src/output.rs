//! What a command prints: a JSON value for `--json`, text and aligned tables for people.

use serde::Serialize;
use serde_json::Value;

use crate::CliError;

/// A command's result: the same facts for scripts (`json`) and for people (`human`).
#[derive(Debug)]
pub struct Output {
    /// The machine-readable result, printed with `--json`.
    pub json: Value,
    /// The text printed otherwise.
    pub human: String,
    /// The process's exit code (0 unless the command says the store is unhealthy).
    pub exit_code: u8,
}

impl Output {
    /// A result that succeeded.
    pub fn new(json: Value, human: impl Into<String>) -> Output {
        Output {
            json,
            human: human.into(),
            exit_code: 0,
        }
    }

    /// A result from anything serialisable.
    pub fn of<T: Serialize>(value: &T, human: impl Into<String>) -> Output {
        Output::new(
            serde_json::to_value(value).unwrap_or(Value::Null),
            human.into(),
        )
    }
}

/// Prints a command's result on stdout.
pub fn print(output: &Output, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output.json).unwrap_or_default()
        );
    } else if !output.human.is_empty() {
        println!("{}", output.human.trim_end());
    }
}

/// Prints a failure on stderr (and, with `--json`, as `{"error": ...}` on stdout too,
/// so that a script reading stdout sees it).
pub fn print_error(error: &CliError, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "error": error.message }));
    }
    eprintln!("error: {}", error.message);
}

/// A table of text cells, printed with columns aligned (numbers to the right).
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra ones dropped).
    pub fn row(&mut self, cells: Vec<String>) -> &mut Table {
        self.rows.push(cells);
        self
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text: a header line, then one line per row.
    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let cell = |row: &Vec<String>, i: usize| row.get(i).cloned().unwrap_or_default();
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| cell(r, i).chars().count())
                    .chain([self.headers[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let numeric: Vec<bool> = (0..columns)
            .map(|i| {
                !self.rows.is_empty()
                    && self.rows.iter().all(|r| {
                        let c = cell(r, i);
                        !c.is_empty() && c.parse::<f64>().is_ok()
                    })
            })
            .collect();
        let line = |cells: Vec<String>| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if numeric[i] {
                        format!("{c:>w$}", w = widths[i])
                    } else {
                        format!("{c:<w$}", w = widths[i])
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_owned()
        };
        let mut text = line(self.headers.clone());
        for row in &self.rows {
            text.push('\n');
            text.push_str(&line((0..columns).map(|i| cell(row, i)).collect()));
        }
        text.push('\n');
        text
    }
}

/// A byte count for people: `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let mut table = Table::new(&["name", "rows"]);
        table.row(vec!["users".into(), "3".into()]);
        table.row(vec!["messages".into(), "1200".into()]);
        assert_eq!(
            table.render(),
            "name      rows\nusers        3\nmessages  1200\n"
        );
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
