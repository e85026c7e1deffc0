use mfa_flow::DecodeError;

/// An error from [`SqliteStore`](crate::SqliteStore) or
/// [`PostgresStore`](crate::PostgresStore). The source is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlxStoreError {
    /// The database cannot be reached: connection refused or lost, pool
    /// timeout, I/O. Retrying later may succeed.
    #[error("the MFA database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A query failed for another reason.
    #[error("an MFA database query failed")]
    Query(#[source] sqlx::Error),
    /// A stored record does not decode.
    #[error("a stored MFA record is corrupt")]
    Corrupt(#[source] DecodeError),
    /// A row's version column disagrees with the record it holds.
    #[error("a stored MFA record's version does not match its row")]
    VersionMismatch,
    /// A version beyond the database's signed 64-bit integers.
    #[error("the MFA record version is too large for the database")]
    VersionOverflow,
    /// Running the embedded migrations failed.
    #[error("the MFA schema migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A schema name that is not a plain identifier.
    #[error("the schema name must be 1-63 ASCII letters, digits or underscores")]
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
            Self::Unavailable(e)
        } else {
            Self::Query(e)
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
    pub(crate) fn of(record: &mfa_flow::MfaRecord) -> Result<Option<Self>, SqlxStoreError> {
        let to = db_version(record.version)?;
        Ok(match to {
            1 => Some(Self::Insert(to)),
            2.. => Some(Self::Update { from: to - 1, to }),
            _ => None,
        })
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The version as the database's signed integer.
pub(crate) fn db_version(version: u64) -> Result<i64, SqlxStoreError> {
    i64::try_from(version).map_err(|_| SqlxStoreError::VersionOverflow)
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// A row back into a record, checking the two versions agree.
pub(crate) fn decode(version: i64, record: &str) -> Result<mfa_flow::MfaRecord, SqlxStoreError> {
    let decoded =
        mfa_flow::MfaRecord::from_bytes(record.as_bytes()).map_err(SqlxStoreError::Corrupt)?;
    if i64::try_from(decoded.version).ok() != Some(version) {
        return Err(SqlxStoreError::VersionMismatch);
    }
    Ok(decoded)
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The record as the text column's value.
pub(crate) fn encode(record: &mfa_flow::MfaRecord) -> String {
    // The stored format is JSON, hence UTF-8.
    String::from_utf8(record.to_bytes()).unwrap_or_default()
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
