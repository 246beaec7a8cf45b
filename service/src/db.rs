//! The database handle, and what changes behind a transaction-mode connection pooler
//! (PgBouncer with `pool_mode = transaction`).
//!
//! Such a pooler hands each *transaction* to whichever server connection is free, so nothing
//! may outlive one: no named prepared statement (sqlx names and caches them per connection),
//! no session setting, no session advisory lock, no `LISTEN`. And since sqlx parses a statement
//! and binds it in two exchanges, each ending in a `Sync` after which the pooler may switch
//! server connections, a statement with parameters outside a transaction could be bound on
//! another server connection than the one that parsed it. So, in that mode:
//!
//! - every statement is unnamed ([`query`], [`query_as`], [`query_scalar`] build them so) and
//!   the connections keep no statement cache;
//! - a statement run on the pool itself ([`Db`] as an executor) runs inside its own
//!   transaction, committed before the call returns (what it promised, it still promises:
//!   committed when it returns);
//! - `LISTEN` and migrations (advisory lock) use the direct connection, never the pool.
//!
//! Without a pooler, [`Db`] is the pool and statements are cached as usual.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgQueryResult, PgRow, PgTypeInfo};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Describe, Either, Execute, Executor, FromRow, PgPool, Postgres};

/// What sits between Countersign and Postgres on the main URL (`COUNTERSIGN_DB_POOLER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooler {
    /// Postgres itself, or a pooler in session mode: every feature of a session is available.
    #[default]
    None,
    /// A pooler in transaction mode: nothing outlives a transaction.
    Transaction,
}

impl Pooler {
    /// Parses `none`, `session` (same as none) or `transaction`.
    pub fn parse(raw: &str) -> Option<Pooler> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "none" | "session" => Some(Pooler::None),
            "transaction" => Some(Pooler::Transaction),
            _ => None,
        }
    }

    /// Its name, for `/readyz` and `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Pooler::None => "none",
            Pooler::Transaction => "transaction",
        }
    }

    /// Connection options for a pool on the main URL: no statement cache behind a
    /// transaction-mode pooler.
    pub fn connect_options(self, options: PgConnectOptions) -> PgConnectOptions {
        match self {
            Pooler::None => options,
            Pooler::Transaction => options.statement_cache_capacity(0),
        }
    }
}

/// Set once any pool of this process sits behind a transaction-mode pooler: from then on every
/// statement this crate builds is unnamed (always correct; only slower without a pooler, by a
/// parse per statement, which is why it is not the default).
static UNNAMED_STATEMENTS: AtomicBool = AtomicBool::new(false);

fn persistent() -> bool {
    !UNNAMED_STATEMENTS.load(Ordering::Relaxed)
}

/// `sqlx::query`, unnamed behind a transaction-mode pooler.
pub fn query(sql: &str) -> Query<'_, Postgres, PgArguments> {
    sqlx::query(sql).persistent(persistent())
}

/// `sqlx::query_as`, unnamed behind a transaction-mode pooler.
pub fn query_as<'q, O>(sql: &'q str) -> QueryAs<'q, Postgres, O, PgArguments>
where
    O: for<'r> FromRow<'r, PgRow>,
{
    sqlx::query_as(sql).persistent(persistent())
}

/// `sqlx::query_scalar`, unnamed behind a transaction-mode pooler.
pub fn query_scalar<'q, O>(sql: &'q str) -> QueryScalar<'q, Postgres, O, PgArguments>
where
    (O,): for<'r> FromRow<'r, PgRow>,
{
    sqlx::query_scalar(sql).persistent(persistent())
}

/// Whether statements built now are named and cached (false behind a transaction pooler).
pub fn statements_are_named() -> bool {
    persistent()
}

/// The main pool, and whether a transaction-mode pooler sits in front of it. Dereferences to
/// the pool (for `begin`, `acquire`, `close`); as an executor it runs each statement in a
/// transaction of its own behind such a pooler.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    pooler: Pooler,
}

impl Db {
    /// Wraps a pool whose connections go through `pooler`.
    pub fn new(pool: PgPool, pooler: Pooler) -> Db {
        if pooler == Pooler::Transaction {
            UNNAMED_STATEMENTS.store(true, Ordering::Relaxed);
        }
        Db { pool, pooler }
    }

    /// What sits in front of the pool.
    pub fn pooler(&self) -> Pooler {
        self.pooler
    }

    /// The pool itself.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl From<PgPool> for Db {
    fn from(pool: PgPool) -> Db {
        Db::new(pool, Pooler::None)
    }
}

impl std::ops::Deref for Db {
    type Target = PgPool;

    fn deref(&self) -> &PgPool {
        &self.pool
    }
}

impl<'p> Executor<'p> for &Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        match self.pooler {
            Pooler::None => self.pool.fetch_many(query),
            Pooler::Transaction => {
                let pool = self.pool.clone();
                // Collected inside the transaction, then handed out: the statements run here
                // return a handful of rows, and the transaction must end before the caller
                // goes on.
                stream::once(async move {
                    let mut tx = pool.begin().await?;
                    let results: Vec<_> = tx.fetch_many(query).try_collect().await?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(stream::iter(results.into_iter().map(Ok)))
                })
                .try_flatten()
                .boxed()
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        match self.pooler {
            Pooler::None => self.pool.fetch_optional(query),
            Pooler::Transaction => {
                let pool = self.pool.clone();
                Box::pin(async move {
                    let mut tx = pool.begin().await?;
                    let row = tx.fetch_optional(query).await?;
                    tx.commit().await?;
                    Ok(row)
                })
            }
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<sqlx::postgres::PgStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.describe(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooler_values() {
        assert_eq!(Pooler::parse("transaction"), Some(Pooler::Transaction));
        assert_eq!(Pooler::parse("TRANSACTION "), Some(Pooler::Transaction));
        assert_eq!(Pooler::parse("none"), Some(Pooler::None));
        assert_eq!(Pooler::parse("session"), Some(Pooler::None));
        assert_eq!(Pooler::parse("statement"), None);
        assert_eq!(Pooler::parse("pgbouncer"), None);
    }
}
