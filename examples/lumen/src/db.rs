//! Customers, users and the sign-in throttle, in SQLite or PostgreSQL.

use mfa_flow::ThrottleConfig;
use mfa_store_sqlx::sqlx::{self, PgPool, Row, SqlitePool};

/// The app's own tables (the MFA records and sessions have theirs).
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    /// Every table is in `schema` (checked to be a plain identifier).
    Postgres(PgPool, String),
}

/// A customer (organisation).
#[derive(Clone, Debug)]
pub(crate) struct Customer {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) mfa_required: bool,
}

/// A registered user.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
    pub(crate) customer: Customer,
}

/// The customers a fresh database starts with.
const SEED: [(i64, &str, bool); 2] = [
    (1, "Northwind Traders", false),
    (2, "Contoso Bank (multi-factor required)", true),
];

/// Runs `$body` with `$pool` bound to the pool and `$t` to the table
/// prefix (`""` or `"schema."`), for either database.
macro_rules! on {
    ($db:expr, |$pool:ident, $t:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => {
                let $t = String::new();
                $body
            }
            Db::Postgres($pool, schema) => {
                let $t = format!("{schema}.");
                $body
            }
        }
    };
}

const USER_COLUMNS: &str = "u.id, u.name, u.email, u.password_hash, c.id AS customer_id, \
     c.name AS customer_name, c.mfa_required";

fn user_from<R: Row>(row: &R) -> Result<User, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        customer: Customer {
            id: row.try_get("customer_id")?,
            name: row.try_get("customer_name")?,
            mfa_required: row.try_get("mfa_required")?,
        },
    })
}

impl Db {
    /// Creates the tables when missing and seeds the customers.
    pub(crate) async fn setup(&self) -> Result<(), sqlx::Error> {
        if let Db::Postgres(pool, schema) = self {
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(pool)
                .await?;
        }
        on!(self, |pool, t| {
            for statement in [
                format!(
                    "CREATE TABLE IF NOT EXISTS {t}customers (
                        id BIGINT PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        mfa_required BOOLEAN NOT NULL)"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {t}users (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        email TEXT NOT NULL UNIQUE,
                        password_hash TEXT NOT NULL,
                        customer_id BIGINT NOT NULL REFERENCES {t}customers(id),
                        created_at BIGINT NOT NULL)"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {t}sign_in_throttle (
                        email TEXT PRIMARY KEY,
                        failures BIGINT NOT NULL,
                        locked_until BIGINT NOT NULL)"
                ),
            ] {
                sqlx::query(&statement).execute(pool).await?;
            }
            for (id, name, required) in SEED {
                sqlx::query(&format!(
                    "INSERT INTO {t}customers (id, name, mfa_required) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING"
                ))
                .bind(id)
                .bind(name)
                .bind(required)
                .execute(pool)
                .await?;
            }
            Ok(())
        })
    }

    pub(crate) async fn customers(&self) -> Result<Vec<Customer>, sqlx::Error> {
        on!(self, |pool, t| {
            let rows = sqlx::query(&format!(
                "SELECT id, name, mfa_required FROM {t}customers ORDER BY id"
            ))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(Customer {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        mfa_required: row.try_get("mfa_required")?,
                    })
                })
                .collect()
        })
    }

    /// Adds a user; `false` when the email is already registered.
    pub(crate) async fn create_user(
        &self,
        user: &User,
        created_at: u64,
    ) -> Result<bool, sqlx::Error> {
        let created_at = i64::try_from(created_at).unwrap_or(i64::MAX);
        on!(self, |pool, t| {
            let done = sqlx::query(&format!(
                "INSERT INTO {t}users (id, name, email, password_hash, customer_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING"
            ))
            .bind(&user.id)
            .bind(&user.name)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(user.customer.id)
            .bind(created_at)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<User>, sqlx::Error> {
        self.user_where("email", email).await
    }

    pub(crate) async fn user(&self, id: &str) -> Result<Option<User>, sqlx::Error> {
        self.user_where("id", id).await
    }

    /// The user whose `column` (a unique one, named by this module) is
    /// `value`.
    async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<User>, sqlx::Error> {
        on!(self, |pool, t| {
            sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM {t}users u JOIN {t}customers c ON c.id = u.customer_id
                 WHERE u.{column} = $1"
            ))
            .bind(value)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
        })
    }

    /// When sign-ins for this email are accepted again, if they are locked.
    pub(crate) async fn sign_in_locked_until(
        &self,
        email: &str,
        now: u64,
    ) -> Result<Option<u64>, sqlx::Error> {
        let until: Option<i64> = on!(self, |pool, t| {
            sqlx::query_scalar(&format!(
                "SELECT locked_until FROM {t}sign_in_throttle WHERE email = $1"
            ))
            .bind(email)
            .fetch_optional(pool)
            .await?
        });
        Ok(until
            .and_then(|u| u64::try_from(u).ok())
            .filter(|u| *u > now))
    }

    /// Counts a failed sign-in for this email (registered or not, so the
    /// answer says nothing about registration) and locks sign-ins on the
    /// schedule of MFA codes (`ThrottleConfig`: from the 5th failure in a
    /// row 30 s, doubling up to 15 minutes). The count is one atomic
    /// increment, so racing failures are each counted; a lock only ever
    /// grows.
    pub(crate) async fn sign_in_failed(&self, email: &str, now: u64) -> Result<(), sqlx::Error> {
        let failures: i64 = on!(self, |pool, t| {
            sqlx::query_scalar(&format!(
                "INSERT INTO {t}sign_in_throttle AS s (email, failures, locked_until)
                 VALUES ($1, 1, 0)
                 ON CONFLICT (email) DO UPDATE SET failures = s.failures + 1
                 RETURNING failures"
            ))
            .bind(email)
            .fetch_one(pool)
            .await?
        });
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        let Some(lock) = ThrottleConfig::default().lock_after(failures) else {
            return Ok(());
        };
        let until = i64::try_from(now.saturating_add(lock)).unwrap_or(i64::MAX);
        on!(self, |pool, t| {
            sqlx::query(&format!(
                "UPDATE {t}sign_in_throttle SET locked_until = $2
                 WHERE email = $1 AND locked_until < $2"
            ))
            .bind(email)
            .bind(until)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub(crate) async fn sign_in_succeeded(&self, email: &str) -> Result<(), sqlx::Error> {
        on!(self, |pool, t| {
            sqlx::query(&format!("DELETE FROM {t}sign_in_throttle WHERE email = $1"))
                .bind(email)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
