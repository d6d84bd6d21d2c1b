//! [`PgOptions`]: what only the PostgreSQL backend has, beside the core's
//! [`chatstore::Config`] (location, pool, policy).

use chatstore::{Error, Result};

/// Settings of the PostgreSQL backend itself.
///
/// ```
/// use chatstore_postgres::PgOptions;
///
/// let options = PgOptions::from_vars(|name| match name {
///     "CHATSTORE_PG_SCHEMA" => Some("chat".to_owned()),
///     _ => None,
/// })?;
/// assert_eq!(options.schema.as_deref(), Some("chat"));
/// assert!(PgOptions::default().schema("Robert'); DROP").validate().is_err());
/// # Ok::<(), chatstore::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgOptions {
    /// The schema chatstore's tables live in, created if missing (`None`: the
    /// database's default, `public`). Several stores can share one database in
    /// schemas of their own; the tests give each test one.
    pub schema: Option<String>,
    /// Open the schema as it is, without applying pending migrations (an operator's
    /// tool that shows or moves the schema version by hand). A store opened so may lack
    /// tables its methods need: use it for `schema_version` and `migrate_to` only.
    pub skip_migrations: bool,
}

impl PgOptions {
    /// Reads the options from the process environment; see [`PgOptions::from_vars`].
    pub fn from_env() -> Result<PgOptions> {
        PgOptions::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the options from variables looked up by `var`.
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `CHATSTORE_PG_SCHEMA` | the schema of chatstore's tables | `public` |
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<PgOptions> {
        let options = PgOptions {
            schema: var("CHATSTORE_PG_SCHEMA").filter(|s| !s.trim().is_empty()),
            skip_migrations: false,
        };
        options.validate()?;
        Ok(options)
    }

    /// Sets the schema.
    pub fn schema(mut self, schema: impl Into<String>) -> PgOptions {
        self.schema = Some(schema.into());
        self
    }

    /// Sets whether opening leaves the schema as it is ([`PgOptions::skip_migrations`]).
    pub fn skip_migrations(mut self, skip: bool) -> PgOptions {
        self.skip_migrations = skip;
        self
    }

    /// Checks the schema name: 1 to 63 lower-case ASCII letters, digits and `_`, not
    /// starting with a digit (so it never needs quoting).
    pub fn validate(&self) -> Result<()> {
        if let Some(schema) = &self.schema {
            let mut chars = schema.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
            let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !first_ok || !rest_ok || schema.len() > 63 {
                return Err(Error::validation(
                    "schema",
                    format!(
                        "{schema:?} must be 1 to 63 of a-z, 0-9 and _, not starting with a digit"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The schema in use.
    pub(crate) fn schema_name(&self) -> &str {
        self.schema.as_deref().unwrap_or("public")
    }
}
