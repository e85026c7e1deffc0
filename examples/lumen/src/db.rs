//! Customers, users and the sign-in throttle, in SQLite or PostgreSQL.

use mfa_flow::ThrottleConfig;
use mfa_store_sqlx::sqlx::{self, AssertSqlSafe, PgPool, Row, SqlitePool};

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

/// How long the attempts of an address are kept after its last one, in
/// seconds.
const IDLE_ATTEMPTS_KEPT: i64 = 24 * 60 * 60;

/// What a sign-in attempt may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Check the password (the attempt is counted).
    Go,
    /// Refused unchecked: locked until then (Unix seconds).
    Locked { until: u64 },
}

/// The SQL expression for `locked_until` after one more attempt, given the
/// row's `s.failures` before it and the time as `$2`: `ThrottleConfig`'s
/// schedule spelled out step by step (no exponent function in SQLite).
fn lock_schedule(throttle: &ThrottleConfig) -> String {
    let mut case = String::from("CASE");
    let mut attempts = 1u32;
    loop {
        match throttle.lock_after(attempts) {
            None => case.push_str(&format!(" WHEN s.failures + 1 = {attempts} THEN 0")),
            Some(lock) if lock < throttle.longest_lock() && attempts < 200 => {
                case.push_str(&format!(
                    " WHEN s.failures + 1 = {attempts} THEN $2 + {lock}"
                ));
            }
            Some(_) => break,
        }
        attempts = attempts.saturating_add(1);
    }
    case.push_str(&format!(" ELSE $2 + {} END", throttle.longest_lock()));
    case
}

/// The customers a fresh database starts with.
const SEED: [(i64, &str, bool); 2] = [
    (1, "Northwind Traders", false),
    (2, "Contoso Bank (multi-factor required)", true),
];

/// Runs `$body` with `$pool` bound to the pool and `$t` to the table
/// prefix (`""` or `"schema."`), for either database. The statements are
/// formatted, so each is `AssertSqlSafe`: the only text written into them
/// is this prefix (the schema was checked to be a plain identifier when the
/// configuration was read), column names and numbers this module chose.
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
            sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
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
                    "CREATE TABLE IF NOT EXISTS {t}key_check (
                        name TEXT PRIMARY KEY,
                        value TEXT NOT NULL)"
                ),
                // `email` is the throttle's key: an address, or a trusted
                // device's key for one.
                format!(
                    "CREATE TABLE IF NOT EXISTS {t}sign_in_throttle (
                        email TEXT PRIMARY KEY,
                        failures BIGINT NOT NULL,
                        locked_until BIGINT NOT NULL,
                        last_attempt BIGINT NOT NULL)"
                ),
            ] {
                sqlx::query(AssertSqlSafe(statement)).execute(pool).await?;
            }
            for (id, name, required) in SEED {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {t}customers (id, name, mfa_required) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING"
                )))
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
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, name, mfa_required FROM {t}customers ORDER BY id"
            )))
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
            let done = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {t}users (id, name, email, password_hash, customer_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING"
            )))
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
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM {t}users u JOIN {t}customers c ON c.id = u.customer_id
                 WHERE u.{column} = $1"
            )))
            .bind(value)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
        })
    }

    /// When sign-ins for this email are accepted again, if they are locked.
    /// The check value of the sealing key recorded at the first start.
    pub(crate) async fn key_check(&self) -> Result<Option<String>, sqlx::Error> {
        on!(self, |pool, t| {
            sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT value FROM {t}key_check WHERE name = 'sealing'"
            )))
            .fetch_optional(pool)
            .await
        })
    }

    /// Whether any MFA record is stored (sealed under some key).
    pub(crate) async fn has_mfa_records(&self) -> Result<bool, sqlx::Error> {
        let found: i64 = on!(self, |pool, t| {
            sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {t}mfa_records LIMIT 1) AS any_record"
            )))
            .fetch_one(pool)
            .await?
        });
        Ok(found > 0)
    }

    /// Records the sealing key's check value unless one is recorded, and
    /// returns the one recorded (the first instance to start wins).
    pub(crate) async fn record_key_check(&self, value: &str) -> Result<String, sqlx::Error> {
        on!(self, |pool, t| {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {t}key_check (name, value) VALUES ('sealing', $1)
                 ON CONFLICT (name) DO NOTHING"
            )))
            .bind(value)
            .execute(pool)
            .await?;
        });
        Ok(self.key_check().await?.unwrap_or_default())
    }

    /// Counts a sign-in attempt under `key` (the address, registered or
    /// not, so the answer says nothing about registration; or a trusted
    /// device's key for it, `Device::throttle_key`) *before* its password is
    /// checked, and locks sign-ins as if it failed, on the schedule of MFA
    /// codes (`ThrottleConfig`: from the 5th attempt in a row 30 s, doubling
    /// up to 15 minutes). A success forgives it
    /// ([`sign_in_succeeded`](Self::sign_in_succeeded)).
    ///
    /// The count and the lock are one conditional `UPDATE`, so of N
    /// simultaneous attempts (on one instance or many) each is counted, and
    /// those beyond the budget are refused without a password check.
    pub(crate) async fn sign_in_attempt(
        &self,
        key: &str,
        now: u64,
    ) -> Result<Attempt, sqlx::Error> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let throttle = ThrottleConfig::default();
        let lock = lock_schedule(&throttle);
        let first_lock = throttle.lock_after(1).map_or(0, |lock| {
            now.saturating_add(i64::try_from(lock).unwrap_or(i64::MAX))
        });
        // One statement: a first attempt inserts the row, a later one counts
        // in it unless it is locked (no row returned then). Two statements
        // would let an attempt that meets a snapshot without the row go
        // uncounted.
        let counted: Option<i64> = on!(self, |pool, t| {
            sqlx::query_scalar(AssertSqlSafe(format!(
                "INSERT INTO {t}sign_in_throttle AS s (email, failures, locked_until, last_attempt)
                 VALUES ($1, 1, $3, $2)
                 ON CONFLICT (email) DO UPDATE
                 SET failures = s.failures + 1, locked_until = {lock}, last_attempt = $2
                 WHERE s.locked_until <= $2
                 RETURNING failures"
            )))
            .bind(key)
            .bind(now)
            .bind(first_lock)
            .fetch_optional(pool)
            .await?
        });
        if counted.is_some() {
            return Ok(Attempt::Go);
        }
        let until: Option<i64> = on!(self, |pool, t| {
            sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT locked_until FROM {t}sign_in_throttle WHERE email = $1"
            )))
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        let until = until.and_then(|u| u64::try_from(u).ok()).unwrap_or(0);
        Ok(Attempt::Locked { until })
    }

    /// Forgets the attempts of addresses tried last over a day ago whose
    /// lock is over, so the table does not grow with every address ever
    /// tried. Returns how many were forgotten.
    pub(crate) async fn forget_idle_attempts(&self, now: u64) -> Result<u64, sqlx::Error> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        on!(self, |pool, t| {
            Ok(sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {t}sign_in_throttle WHERE last_attempt < $1 AND locked_until <= $2"
            )))
            .bind(now.saturating_sub(IDLE_ATTEMPTS_KEPT))
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected())
        })
    }

    /// Forgives the attempts counted under `key` by a successful sign-in.
    pub(crate) async fn sign_in_succeeded(&self, key: &str) -> Result<(), sqlx::Error> {
        on!(self, |pool, t| {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {t}sign_in_throttle WHERE email = $1"
            )))
            .bind(key)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each attempt is counted before its password is checked and locks
    /// on the schedule of MFA codes: 5th attempt 30 s, then 60, 120, ...
    /// up to 900; a success forgives them all.
    #[tokio::test]
    async fn attempts_lock_on_the_code_schedule_and_success_forgives() {
        // One connection: each would have a memory database of its own.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let db = Db::Sqlite(pool);
        db.setup().await.unwrap();
        let mut now = 1_000_000;
        for _ in 0..4 {
            assert_eq!(
                db.sign_in_attempt("a@x.io", now).await.unwrap(),
                Attempt::Go
            );
        }
        for lock in [30, 60, 120, 240, 480, 900, 900] {
            assert_eq!(
                db.sign_in_attempt("a@x.io", now).await.unwrap(),
                Attempt::Go
            );
            let until = now + lock;
            assert_eq!(
                db.sign_in_attempt("a@x.io", until - 1).await.unwrap(),
                Attempt::Locked { until },
                "lock of {lock} s"
            );
            now = until;
        }
        // Kept while locked or tried within a day; forgotten after.
        assert_eq!(db.forget_idle_attempts(now + 3600).await.unwrap(), 0);
        let last = now;
        assert_eq!(
            db.forget_idle_attempts(last + 24 * 3600 + 901)
                .await
                .unwrap(),
            1
        );
        for _ in 0..4 {
            assert_eq!(
                db.sign_in_attempt("a@x.io", now).await.unwrap(),
                Attempt::Go
            );
        }
        // Another address is not affected; a success forgives.
        assert_eq!(
            db.sign_in_attempt("b@x.io", now).await.unwrap(),
            Attempt::Go
        );
        db.sign_in_succeeded("a@x.io").await.unwrap();
        for _ in 0..4 {
            assert_eq!(
                db.sign_in_attempt("a@x.io", now).await.unwrap(),
                Attempt::Go
            );
        }
    }
}
