//! Connections and transactions.
//!
//! An r2d2 pool of connections, each with its own cache of prepared statements (the
//! `postgres` crate keeps none: an unprepared query costs a second round trip). Every
//! write is one READ COMMITTED transaction, retried whole with the core's
//! [`chatstore::RetryPolicy`] when the server reports a serialization failure, a
//! deadlock or a lock timeout; reads run on their own, or in one REPEATABLE READ READ
//! ONLY transaction when several statements must agree. Every statement is timed for
//! the slow query log.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chatstore::slow_query::{self, Param};
use chatstore::{Error, Result, RetryPolicy};
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};

use crate::errors::{PgResultExt, from_postgres};

/// The message of the error a cached statement gets after another server changed the
/// schema under it (a migration): the cache is dropped and the work tried again.
const STALE_PLAN: &str = "cached plan must not change result type";

/// A pooled connection and its prepared statements.
pub struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Connection {
    /// The connection itself, for statements of the host's own (maintenance, tests).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Opens the pool's connections, each with a statement cache of its own.
#[derive(Debug)]
pub struct Manager {
    pub(crate) config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.client.is_closed()
    }
}

/// How statements are timed and logged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) slow: Duration,
    pub(crate) echo: bool,
}

/// The pool and how transactions run.
#[derive(Debug)]
pub(crate) struct Db {
    pub(crate) pool: r2d2::Pool<Manager>,
    /// How the pool connects, for connections of their own (a listener).
    pub(crate) connect: postgres::Config,
    pub(crate) retry: RetryPolicy,
    pub(crate) timing: Timing,
}

impl Db {
    /// A connection from the pool; none free within the pool timeout is
    /// [`Error::Unavailable`].
    pub(crate) fn connection(&self) -> Result<r2d2::PooledConnection<Manager>> {
        self.pool.get().map_err(|e| Error::Unavailable {
            detail: format!("no free database connection: {e}"),
        })
    }

    /// Runs `f` in a write transaction (READ COMMITTED), retrying the whole
    /// transaction while the server reports a conflict with another transaction. `f`
    /// may run more than once, so it must have no effects outside the transaction.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&mut Conn<'_, '_>) -> Result<T>) -> Result<T> {
        self.retry.run(|| {
            self.fresh_plans(|| self.in_transaction(IsolationLevel::ReadCommitted, false, &mut f))
        })
    }

    /// Runs `f` on a connection outside any explicit transaction: each statement sees
    /// what was committed when it started.
    pub(crate) fn read<T>(&self, mut f: impl FnMut(&mut Conn<'_, '_>) -> Result<T>) -> Result<T> {
        self.fresh_plans(|| {
            let mut pooled = self.connection()?;
            let Connection { client, statements } = &mut *pooled;
            let result = f(&mut Conn {
                on: On::Client(client),
                statements,
                timing: self.timing,
            });
            forget_stale_plans(&result, statements);
            result
        })
    }

    /// Runs `f` in one REPEATABLE READ READ ONLY transaction: every statement sees the
    /// same snapshot.
    pub(crate) fn read_snapshot<T>(
        &self,
        mut f: impl FnMut(&mut Conn<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        self.fresh_plans(|| self.in_transaction(IsolationLevel::RepeatableRead, true, &mut f))
    }

    /// Runs `f` in a write transaction (READ COMMITTED) that is not retried on a
    /// conflict: for work that consumes something that cannot be had twice (a stream).
    /// It runs again only when a statement was found prepared against an older schema,
    /// so `f` must refuse a second run once it has consumed its input.
    pub(crate) fn write_once<T>(
        &self,
        mut f: impl FnMut(&mut Conn<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        self.fresh_plans(|| self.in_transaction(IsolationLevel::ReadCommitted, false, &mut f))
    }

    /// Runs `f` on a connection the caller holds, inside whatever transaction the
    /// caller began on it (a blob read that spans many calls).
    pub(crate) fn on<T>(
        &self,
        connection: &mut Connection,
        f: impl FnOnce(&mut Conn<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        let Connection { client, statements } = connection;
        let result = f(&mut Conn {
            on: On::Client(client),
            statements,
            timing: self.timing,
        });
        forget_stale_plans(&result, statements);
        result
    }

    /// Runs `f` in a transaction, committing when it succeeds.
    fn in_transaction<T>(
        &self,
        isolation: IsolationLevel,
        read_only: bool,
        f: &mut impl FnMut(&mut Conn<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        let mut pooled = self.connection()?;
        let Connection { client, statements } = &mut *pooled;
        let mut tx = client
            .build_transaction()
            .isolation_level(isolation)
            .read_only(read_only)
            .start()
            .db()?;
        let value = f(&mut Conn {
            on: On::Transaction(&mut tx),
            statements,
            timing: self.timing,
        });
        forget_stale_plans(&value, statements);
        let value = value?;
        tx.commit().db()?;
        Ok(value)
    }

    /// Runs `op` once more after a statement was found prepared against an older
    /// schema (another server migrated it): the cache was dropped by then.
    fn fresh_plans<T>(&self, mut op: impl FnMut() -> Result<T>) -> Result<T> {
        match op() {
            Err(error) if is_stale_plan(&error) => op(),
            result => result,
        }
    }
}

/// Drops a connection's statements when `result` says one no longer fits the schema.
fn forget_stale_plans<T>(result: &Result<T>, statements: &mut HashMap<String, Statement>) {
    if let Err(error) = result
        && is_stale_plan(error)
    {
        statements.clear();
    }
}

/// Whether `error` says a cached statement no longer fits the schema.
fn is_stale_plan(error: &Error) -> bool {
    matches!(error, Error::Backend { detail } if detail.contains(STALE_PLAN))
}

/// Where statements run: a transaction, or the bare connection.
enum On<'a, 't> {
    Transaction(&'a mut Transaction<'t>),
    Client(&'a mut Client),
}

/// One transaction (or a bare connection) and its connection's statement cache.
pub(crate) struct Conn<'a, 't> {
    on: On<'a, 't>,
    statements: &'a mut HashMap<String, Statement>,
    timing: Timing,
}

impl Conn<'_, '_> {
    /// The statement for `sql`, prepared once per connection.
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = match &mut self.on {
            On::Transaction(tx) => tx.prepare(sql),
            On::Client(client) => client.prepare(sql),
        }
        .db()?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Every row of `sql`.
    pub(crate) fn rows(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        timed(self.timing, sql, || match &mut self.on {
            On::Transaction(tx) => tx.query(&statement, params),
            On::Client(client) => client.query(&statement, params),
        })
        .map_err(from_postgres)
    }

    /// The first row of `sql`, if any.
    pub(crate) fn row(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// Runs statements without parameters, one after the other (a script's lines).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<()> {
        match &mut self.on {
            On::Transaction(tx) => tx.batch_execute(sql),
            On::Client(client) => client.batch_execute(sql),
        }
        .map_err(from_postgres)
    }

    /// Starts `COPY ... FROM STDIN`: the rows are written to the writer, which is then
    /// finished.
    pub(crate) fn copy_in(&mut self, sql: &str) -> Result<postgres::CopyInWriter<'_>> {
        match &mut self.on {
            On::Transaction(tx) => tx.copy_in(sql),
            On::Client(client) => client.copy_in(sql),
        }
        .map_err(from_postgres)
    }

    /// Runs `sql`; returns how many rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.statement(sql)?;
        timed(self.timing, sql, || match &mut self.on {
            On::Transaction(tx) => tx.execute(&statement, params),
            On::Client(client) => client.execute(&statement, params),
        })
        .map_err(from_postgres)
    }
}

/// Runs `f`, logging `sql` when it was slow (or always, when echoing). Parameters are
/// not shown: the PostgreSQL driver keeps them encoded.
fn timed<T>(timing: Timing, sql: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = f();
    let elapsed = started.elapsed();
    if timing.echo {
        slow_query::echo(sql, [Param::Unknown], elapsed);
    }
    if elapsed >= timing.slow {
        slow_query::report(sql, [Param::Unknown], elapsed, timing.slow);
    }
    result
}
