/// An error from [`SqliteStore`](crate::SqliteStore) or
/// [`PostgresStore`](crate::PostgresStore). The source is kept: sqlx's own
/// error, boxed so that this type does not change with sqlx's
/// (`source().downcast_ref::<sqlx::Error>()` reads it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlxStoreError {
    /// The database cannot be reached: connection refused or lost, pool
    /// timeout, I/O. Retrying later may succeed.
    #[error("the MFA database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A query failed for another reason.
    #[error("an MFA database query failed")]
    Query(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A version outside the database's non-negative signed 64-bit
    /// integers: too large to write, or negative in a row read.
    #[error("the MFA record version is out of the database's range")]
    VersionOutOfRange,
    /// Running the embedded migrations failed.
    #[error("the MFA schema migration failed")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A schema name that is not a plain identifier, or is one of
    /// PostgreSQL's own (`pg_…`, `information_schema`).
    #[error(
        "the schema name must be 1-63 ASCII letters, digits or underscores, not starting with a digit, not pg_… or information_schema"
    )]
    InvalidSchema,
}

impl From<sqlx::Error> for SqlxStoreError {
    fn from(e: sqlx::Error) -> Self {
        let unavailable = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // SQLSTATE classes 08 (connection exception) and 57P (operator
            // intervention: the server shut down or killed the backend).
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        };
        if unavailable {
            Self::Unavailable(Box::new(e))
        } else {
            Self::Query(Box::new(e))
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// How a record is written: its first version is inserted, every later one
/// updates the row holding the version before it.
pub(crate) enum Write {
    Insert(i64),
    Update { from: i64, to: i64 },
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Write {
    /// The write for `record`, or `None` for version 0, which is never
    /// stored (a conflict).
    pub(crate) fn of(record: &mfa_flow::StoredRecord) -> Result<Option<Self>, SqlxStoreError> {
        let Some(from) = record.expected_version() else {
            return Ok(None);
        };
        let to = db_version(record.version())?;
        Ok(Some(match from {
            0 => Self::Insert(to),
            _ => Self::Update {
                from: db_version(from)?,
                to,
            },
        }))
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The version as the database's signed integer.
pub(crate) fn db_version(version: u64) -> Result<i64, SqlxStoreError> {
    i64::try_from(version).map_err(|_| SqlxStoreError::VersionOutOfRange)
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// A row back into a record (mfa-flow reads it); a negative version, which
/// no write stores, is refused.
pub(crate) fn stored(
    version: i64,
    record: String,
) -> Result<mfa_flow::StoredRecord, SqlxStoreError> {
    let version = u64::try_from(version).map_err(|_| SqlxStoreError::VersionOutOfRange)?;
    Ok(mfa_flow::StoredRecord::new(version, record))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// One affected row means the conditional write won.
pub(crate) fn saved(rows_affected: u64) -> mfa_flow::Saved {
    if rows_affected == 1 {
        mfa_flow::Saved::Stored
    } else {
        mfa_flow::Saved::Conflict
    }
}
