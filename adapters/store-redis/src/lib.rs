#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::time::Duration;

use mfa_flow::{Saved, Store, StoredRecord};
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use redis;

/// Compare-and-swap: store the record if the stored version is the expected
/// one (a missing key counts as version 0). Atomic on the server.
const SAVE: &str = r"
local current = redis.call('HGET', KEYS[1], 'version')
if not current then current = '0' end
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3])
return 1
";

/// Delete the record if its stored version is the given one.
const DELETE: &str = r"
local current = redis.call('HGET', KEYS[1], 'version')
if (not current) or current ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
";

/// An error from [`RedisStore`]. The source is kept: the client's own
/// error, boxed so that this type does not change with the client's
/// (`source().downcast_ref::<redis::RedisError>()` reads it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The server cannot be reached, or did not answer in time. Retrying
    /// later may succeed; the connection manager reconnects by itself.
    #[error("the MFA Redis server is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A command failed for another reason (for example a key of the wrong
    /// type under the prefix).
    #[error("an MFA Redis command failed")]
    Command(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A user's key is not a version and a record: one of the two fields is
    /// missing, or the version is not a number as the store writes it
    /// (decimal, no sign, no leading zeros). (mfa-flow reads the record
    /// itself and checks it against the version.)
    #[error("a stored MFA key lacks its version or its record")]
    MalformedKey,
}

impl From<redis::RedisError> for RedisStoreError {
    fn from(e: redis::RedisError) -> Self {
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
        {
            Self::Unavailable(Box::new(e))
        } else {
            Self::Command(Box::new(e))
        }
    }
}

/// MFA records in Redis: one hash per user at `PREFIX:user:USER_ID` with
/// fields `version` and `record`.
///
/// Writes run as one Lua script, so the version check and the write are a
/// single atomic step on the server. The connection manager reconnects after
/// the server comes back; connecting and every command time out (2 s by
/// default), so an unreachable server is an error, never a hang.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    save: Script,
    delete: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// The connection settings [`RedisStore::connect`] uses: 2-second connect
    /// and response timeouts, two reconnection attempts per failure.
    #[must_use]
    pub fn default_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500))
    }

    /// Connects to `url` (`redis://host:port/db`) for keys under `prefix`.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError::Unavailable`] if the server cannot be reached;
    /// [`RedisStoreError::Command`] for a malformed URL.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, RedisStoreError> {
        let client = redis::Client::open(url).map_err(|e| RedisStoreError::Command(Box::new(e)))?;
        let connection = client
            .get_connection_manager_with_config(Self::default_config())
            .await?;
        Ok(Self::from_connection(connection, prefix))
    }

    /// A store over an existing connection manager.
    #[must_use]
    pub fn from_connection(connection: ConnectionManager, prefix: &str) -> Self {
        Self {
            connection,
            prefix: prefix.to_owned(),
            save: Script::new(SAVE),
            delete: Script::new(DELETE),
        }
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key holding a user's record.
    #[must_use]
    pub fn key(&self, user: &str) -> String {
        format!("{}:user:{user}", self.prefix)
    }
}

impl Store for RedisStore {
    type Error = RedisStoreError;

    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, RedisStoreError> {
        let mut connection = self.connection.clone();
        let (version, record): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.key(user))
            .arg("version")
            .arg("record")
            .query_async(&mut connection)
            .await?;
        match (version, record) {
            (None, None) => Ok(None),
            (Some(version), Some(record)) => {
                // Only the form the script writes: the script compares
                // versions as strings, so "+5" or "007" would never match.
                let version = version
                    .parse::<u64>()
                    .ok()
                    .filter(|v| v.to_string() == version)
                    .ok_or(RedisStoreError::MalformedKey)?;
                Ok(Some(StoredRecord::new(version, record)))
            }
            _ => Err(RedisStoreError::MalformedKey),
        }
    }

    async fn save(&self, user: &str, record: &StoredRecord) -> Result<Saved, RedisStoreError> {
        let Some(expected) = record.expected_version() else {
            return Ok(Saved::Conflict);
        };
        let mut connection = self.connection.clone();
        let stored: i64 = self
            .save
            .key(self.key(user))
            .arg(expected)
            .arg(record.version())
            .arg(record.as_str())
            .invoke_async(&mut connection)
            .await?;
        Ok(if stored == 1 {
            Saved::Stored
        } else {
            Saved::Conflict
        })
    }

    async fn delete(&self, user: &str, version: u64) -> Result<Saved, RedisStoreError> {
        let mut connection = self.connection.clone();
        let deleted: i64 = self
            .delete
            .key(self.key(user))
            .arg(version)
            .invoke_async(&mut connection)
            .await?;
        Ok(if deleted == 1 {
            Saved::Stored
        } else {
            Saved::Conflict
        })
    }
}
