//! The statements a backend runs for a copy, in the SQL that SQLite and PostgreSQL
//! share. A backend says how it writes a parameter and reads a column; the shape of
//! every statement (keyset order, `ON CONFLICT` on the key) is the same everywhere.

use super::tables::{Column, Kind, Table};

/// How a backend spells the parts that differ.
pub trait Dialect {
    /// The `n`th parameter (from 1) holding a value of `kind`, e.g. `?3` or `$3::uuid`.
    fn param(&self, n: usize, kind: Kind) -> String;

    /// How a column is selected so that it reads back as its kind (e.g. a cast).
    fn select(&self, column: &Column) -> String {
        column.name.to_owned()
    }

    /// Words between the column list and `VALUES` of an insert that writes `table`'s
    /// own keys (PostgreSQL's `OVERRIDING SYSTEM VALUE` for identity columns).
    fn overriding(&self, _table: &Table) -> &'static str {
        ""
    }
}

/// The statements of one table.
#[derive(Debug, Clone)]
pub struct TableSql {
    /// `SELECT count(*)`.
    pub count: String,
    /// The first rows in key order; the one parameter is the limit.
    pub first_rows: String,
    /// The rows after a key, in key order; the key's parameters, then the limit.
    pub rows_after: String,
    /// The key of the last row in key order.
    pub last_key: String,
    /// One row by key, for existence checks; the key's parameters.
    pub contains_key: String,
    /// Every key, in key order.
    pub all_keys: String,
    /// Inserts one row unless its key exists; every column's parameter.
    pub insert: String,
    /// Inserts one row, or overwrites the changeable columns of the row with its key
    /// where they differ; every column's parameter.
    pub refresh: String,
    /// Deletes the row with a key; the key's parameters.
    pub delete_key: String,
    /// The conflict clause of [`TableSql::insert`], for a backend's own form of the
    /// insert (PostgreSQL inserts a whole batch from arrays).
    pub insert_conflict: String,
    /// The conflict clause of [`TableSql::refresh`].
    pub refresh_conflict: String,
}

impl TableSql {
    /// The statements of `table` in `dialect`.
    pub fn new(table: &Table, dialect: &dyn Dialect) -> TableSql {
        let name = table.name;
        let key_names = names(table.key());
        let select = table
            .columns
            .iter()
            .map(|column| dialect.select(column))
            .collect::<Vec<_>>()
            .join(", ");
        let select_key = table
            .key()
            .iter()
            .map(|column| dialect.select(column))
            .collect::<Vec<_>>()
            .join(", ");
        let key_params = params(dialect, table.key(), 1);
        let limit_after = dialect.param(table.key_len + 1, Kind::Integer);
        let limit_first = dialect.param(1, Kind::Integer);
        let insert_head = format!(
            "INSERT INTO {name} ({}){} VALUES ({})",
            names(table.columns),
            dialect.overriding(table),
            params(dialect, table.columns, 1),
        );
        let on_key = format!("ON CONFLICT ({key_names})");
        let mutable: Vec<&Column> = table.mutable().collect();
        let update = mutable
            .iter()
            .map(|column| format!("{0} = excluded.{0}", column.name))
            .collect::<Vec<_>>()
            .join(", ");
        let differs = mutable
            .iter()
            .map(|column| format!("{name}.{0} IS DISTINCT FROM excluded.{0}", column.name))
            .collect::<Vec<_>>()
            .join(" OR ");
        let insert_conflict = format!("{on_key} DO NOTHING");
        let refresh_conflict = if differs.is_empty() {
            insert_conflict.clone()
        } else {
            format!("{on_key} DO UPDATE SET {update} WHERE {differs}")
        };
        TableSql {
            count: format!("SELECT count(*) FROM {name}"),
            first_rows: format!(
                "SELECT {select} FROM {name} ORDER BY {key_names} LIMIT {limit_first}"
            ),
            rows_after: format!(
                "SELECT {select} FROM {name} WHERE ({key_names}) > ({key_params}) \
                 ORDER BY {key_names} LIMIT {limit_after}"
            ),
            last_key: format!(
                "SELECT {select_key} FROM {name} ORDER BY {} LIMIT 1",
                table
                    .key()
                    .iter()
                    .map(|column| format!("{} DESC", column.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            contains_key: format!("SELECT 1 FROM {name} WHERE ({key_names}) = ({key_params})"),
            all_keys: format!("SELECT {select_key} FROM {name} ORDER BY {key_names}"),
            insert: format!("{insert_head} {insert_conflict}"),
            refresh: format!("{insert_head} {refresh_conflict}"),
            delete_key: format!("DELETE FROM {name} WHERE ({key_names}) = ({key_params})"),
            insert_conflict,
            refresh_conflict,
        }
    }
}

fn names(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|column| column.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn params(dialect: &dyn Dialect, columns: &[Column], first: usize) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| dialect.param(first + i, column.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::tables::table;
    use super::*;

    struct Numbered;

    impl Dialect for Numbered {
        fn param(&self, n: usize, _kind: Kind) -> String {
            format!("?{n}")
        }
    }

    #[test]
    fn composite_keys_order_and_resume_by_every_key_column() {
        let sql = TableSql::new(table("chunk_embeddings").expect("table"), &Numbered);
        assert_eq!(
            sql.rows_after,
            "SELECT collection, chunk_id, vector FROM chunk_embeddings \
             WHERE (collection, chunk_id) > (?1, ?2) ORDER BY collection, chunk_id LIMIT ?3"
        );
        assert_eq!(
            sql.last_key,
            "SELECT collection, chunk_id FROM chunk_embeddings \
             ORDER BY collection DESC, chunk_id DESC LIMIT 1"
        );
        assert!(
            sql.insert
                .ends_with("ON CONFLICT (collection, chunk_id) DO NOTHING")
        );
    }

    #[test]
    fn a_refresh_overwrites_only_what_differs_and_may_change() {
        let roles = TableSql::new(table("roles").expect("table"), &Numbered);
        assert!(roles.refresh.contains("DO UPDATE SET name = excluded.name"));
        assert!(roles.refresh.ends_with(
            "WHERE roles.name IS DISTINCT FROM excluded.name \
             OR roles.description IS DISTINCT FROM excluded.description \
             OR roles.created_at IS DISTINCT FROM excluded.created_at"
        ));
        let pairs = TableSql::new(table("role_permissions").expect("table"), &Numbered);
        assert!(pairs.refresh.ends_with("DO NOTHING"));
        let messages = TableSql::new(table("messages").expect("table"), &Numbered);
        assert!(
            messages
                .refresh
                .contains("SET request_id = excluded.request_id")
        );
        assert!(!messages.refresh.contains("content = excluded.content"));
        let users = TableSql::new(table("users").expect("table"), &Numbered);
        assert!(users.insert.ends_with("ON CONFLICT (id) DO NOTHING"));
    }
}
