//! [tower-sessions] session stores on the same databases as the MFA
//! records: one pool, one file or server, one sqlx.
//!
//! Each backend only moves rows ([`Table`]); creating under a free id,
//! encoding, expiry and errors are here, once.
//!
//! [tower-sessions]: https://docs.rs/tower-sessions/0.14

use std::future::Future;

use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{Error, Result};

/// A session's data, as tower-sessions keeps it.
type Data = std::collections::HashMap<String, serde_json::Value>;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresSessionStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSessionStore;

/// How many ids [`create`] tries before it gives up. Ids are 128 random
/// bits: a second collision in a row means something chooses them badly.
const CREATE_ATTEMPTS: usize = 8;

/// A session as a row: the id as tower-sessions writes it, the data as
/// JSON text, the expiry in Unix seconds.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) data: String,
    pub(crate) expires_at: i64,
}

/// The statements a backend runs on its `http_sessions` table.
pub(crate) trait Table: Sync {
    /// Inserts `row` unless its id is taken; `false` if it was.
    fn insert(&self, row: &Row) -> impl Future<Output = sqlx::Result<bool>> + Send;
    /// Inserts `row`, or replaces the row with its id.
    fn upsert(&self, row: &Row) -> impl Future<Output = sqlx::Result<()>> + Send;
    /// The data and expiry under `id`, if it expires after `now`.
    fn select(
        &self,
        id: &str,
        now: i64,
    ) -> impl Future<Output = sqlx::Result<Option<(String, i64)>>> + Send;
    /// Deletes the row under `id`, if any.
    fn remove(&self, id: &str) -> impl Future<Output = sqlx::Result<()>> + Send;
    /// Deletes the row under `id` if it still holds `data` and `expires_at`
    /// (a save since the read keeps its row).
    fn remove_unchanged(
        &self,
        id: &str,
        data: &str,
        expires_at: i64,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;
    /// Deletes every row that expired at or before `now`.
    fn remove_expired(&self, now: i64) -> impl Future<Output = sqlx::Result<()>> + Send;
}

fn backend(e: sqlx::Error) -> Error {
    Error::Backend(format!("the session database failed: {e}"))
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn row(record: &Record) -> Result<Row> {
    Ok(Row {
        id: record.id.to_string(),
        data: serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?,
        // Whole seconds, rounded down: a session ends up to a second early,
        // never late.
        expires_at: record.expiry_date.unix_timestamp(),
    })
}

/// Stores `record` under its id, or under a new one if that id is taken
/// (`record.id` then says which); never over another session.
pub(crate) async fn create<T: Table>(table: &T, record: &mut Record) -> Result<()> {
    let mut row = row(record)?;
    for _ in 0..CREATE_ATTEMPTS {
        if table.insert(&row).await.map_err(backend)? {
            return Ok(());
        }
        record.id = Id::default();
        row.id = record.id.to_string();
    }
    Err(Error::Backend(format!(
        "no free session id in {CREATE_ATTEMPTS} attempts"
    )))
}

pub(crate) async fn save<T: Table>(table: &T, record: &Record) -> Result<()> {
    table.upsert(&row(record)?).await.map_err(backend)
}

/// The session under `id`. A row that is not a session (its data not a
/// JSON map, its expiry beyond what a date holds) is no session: it is
/// removed, so the cookie naming it starts a new one instead of failing on
/// every request until the row expires, and a warning says why without
/// quoting the row.
pub(crate) async fn load<T: Table>(table: &T, id: &Id) -> Result<Option<Record>> {
    let stored = id.to_string();
    let Some((data, expires_at)) = table.select(&stored, now()).await.map_err(backend)? else {
        return Ok(None);
    };
    match decode(&data, expires_at) {
        Ok((data, expiry_date)) => Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        })),
        Err(why) => {
            table
                .remove_unchanged(&stored, &data, expires_at)
                .await
                .map_err(backend)?;
            tracing::warn!(target: "mfa_store_sqlx", reason = %why, "an unreadable session row was removed");
            Ok(None)
        }
    }
}

/// A row's data and expiry, or why they are not a session's, in words that
/// never quote the row (serde_json's own messages can).
fn decode(data: &str, expires_at: i64) -> std::result::Result<(Data, OffsetDateTime), String> {
    let data = serde_json::from_str(data).map_err(|e| {
        format!(
            "the data is not a JSON map ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    let expiry = OffsetDateTime::from_unix_timestamp(expires_at)
        .map_err(|_| "the expiry is beyond the dates a session can hold".to_owned())?;
    Ok((data, expiry))
}

pub(crate) async fn delete<T: Table>(table: &T, id: &Id) -> Result<()> {
    table.remove(&id.to_string()).await.map_err(backend)
}

pub(crate) async fn delete_expired<T: Table>(table: &T) -> Result<()> {
    table.remove_expired(now()).await.map_err(backend)
}

/// Implements tower-sessions' traits for a [`Table`] through the functions
/// above.
macro_rules! session_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl tower_sessions_core::SessionStore for $store {
            async fn create(
                &self,
                record: &mut tower_sessions_core::session::Record,
            ) -> tower_sessions_core::session_store::Result<()> {
                crate::sessions::create(self, record).await
            }

            async fn save(
                &self,
                record: &tower_sessions_core::session::Record,
            ) -> tower_sessions_core::session_store::Result<()> {
                crate::sessions::save(self, record).await
            }

            async fn load(
                &self,
                id: &tower_sessions_core::session::Id,
            ) -> tower_sessions_core::session_store::Result<
                Option<tower_sessions_core::session::Record>,
            > {
                crate::sessions::load(self, id).await
            }

            async fn delete(
                &self,
                id: &tower_sessions_core::session::Id,
            ) -> tower_sessions_core::session_store::Result<()> {
                crate::sessions::delete(self, id).await
            }
        }

        #[async_trait::async_trait]
        impl tower_sessions_core::ExpiredDeletion for $store {
            async fn delete_expired(&self) -> tower_sessions_core::session_store::Result<()> {
                crate::sessions::delete_expired(self).await
            }
        }
    };
}
pub(crate) use session_store;

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A table on which the first `taken` ids tried are in use.
    struct Taken {
        taken: usize,
        tried: Mutex<Vec<String>>,
    }

    impl Table for Taken {
        async fn insert(&self, row: &Row) -> sqlx::Result<bool> {
            let mut tried = self.tried.lock().map_err(|_| sqlx::Error::PoolClosed)?;
            tried.push(row.id.clone());
            Ok(tried.len() > self.taken)
        }
        async fn upsert(&self, _: &Row) -> sqlx::Result<()> {
            Ok(())
        }
        async fn select(&self, _: &str, _: i64) -> sqlx::Result<Option<(String, i64)>> {
            Ok(None)
        }
        async fn remove(&self, _: &str) -> sqlx::Result<()> {
            Ok(())
        }
        async fn remove_unchanged(&self, _: &str, _: &str, _: i64) -> sqlx::Result<()> {
            Ok(())
        }
        async fn remove_expired(&self, _: i64) -> sqlx::Result<()> {
            Ok(())
        }
    }

    fn record() -> Record {
        Record {
            id: Id(42),
            data: std::collections::HashMap::new(),
            expiry_date: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn why_a_row_is_unreadable_never_quotes_it() {
        for data in [
            r#""secret-value""#,
            r#"{"user": "secret-value""#,
            r#"["secret-value"]"#,
            "secret-value",
        ] {
            let why = decode(data, 0).unwrap_err();
            assert!(!why.contains("secret"), "{why}");
        }
        assert!(decode("{}", i64::MAX).is_err());
        assert!(decode(r#"{"user": "u"}"#, 0).is_ok());
    }

    #[tokio::test]
    async fn a_taken_id_is_replaced_and_the_attempts_are_bounded() {
        for taken in 0..CREATE_ATTEMPTS {
            let table = Taken {
                taken,
                tried: Mutex::new(Vec::new()),
            };
            let mut record = record();
            create(&table, &mut record).await.unwrap();
            let tried = table.tried.into_inner().unwrap();
            assert_eq!(tried.len(), taken + 1);
            assert_eq!(tried[0], Id(42).to_string());
            // The record says the id it was stored under, and every id
            // tried was new.
            assert_eq!(tried[taken], record.id.to_string());
            let mut distinct = tried.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), tried.len());
        }
        let table = Taken {
            taken: usize::MAX,
            tried: Mutex::new(Vec::new()),
        };
        assert!(matches!(
            create(&table, &mut record()).await,
            Err(Error::Backend(_))
        ));
        assert_eq!(table.tried.into_inner().unwrap().len(), CREATE_ATTEMPTS);
    }
}
