use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use std::fmt;
use std::sync::OnceLock;

use crate::record::MfaRecord;

/// The answer to a conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Saved {
    /// The write happened.
    Stored,
    /// The stored version was not the expected one; nothing changed.
    Conflict,
}

/// One user's MFA record as a store keeps it: opaque text, and the version
/// the store compares on every write.
///
/// A store needs nothing else: it keeps [`StoredRecord::version`] in a
/// column (or field) of its own, to compare on writes, and
/// [`StoredRecord::as_str`] as it is, and hands both back to
/// [`StoredRecord::new`] on load. mfa-flow reads the text (its format is
/// versioned inside it, and documented below) and checks
/// that the version inside is the one the store kept beside it, so a store
/// never decodes. Text that is not a record of a supported format, and a
/// row whose version column disagrees with the version inside it, are
/// refused ([`InternalError::CorruptRecord`](crate::InternalError::CorruptRecord));
/// an administrator's reset ([`MfaService::admin_reset`](crate::MfaService::admin_reset))
/// replaces such a record. (A well-formed record edited by someone with
/// write access to the database is not detected: the store is trusted.)
///
/// The text is UTF-8 JSON of at most 64 KiB: a text column fits it.
///
/// A record written by this process keeps its value too, and makes its
/// text only when a store asks for it, so a store in memory
/// ([`MemoryStore`]) that keeps the `StoredRecord` itself pays for no
/// encoding or decoding.
///
/// # The stored format, version 1
///
/// A record is stored as one UTF-8 JSON object; binary fields are base64
/// (standard alphabet, padded). Unknown fields are refused, so a record
/// written by a newer format is never half-read.
///
/// ```json
/// {
///   "format": 1,
///   "version": 7,
///   "state": {
///     "kind": "active",
///     "secret": { "key": 2, "nonce": "<12 bytes>", "sealed": "<ciphertext, then 16-byte tag>" },
///     "totp": { "algorithm": "SHA1", "digits": 6, "period": 30 },
///     "confirmed_at": 1700000000,
///     "last_step": 56666666,
///     "replacement": {
///       "secret": { "key": 2, "nonce": "<12 bytes>", "sealed": "<…>" },
///       "totp": { "algorithm": "SHA1", "digits": 6, "period": 30 },
///       "expires_at": 1700000180
///     }
///   },
///   "throttle": { "failures": 0, "locked_until": null },
///   "recovery": { "key": 2, "hashes": ["<32 bytes>", "..."] }
/// }
/// ```
///
/// `version` is the one the store keeps beside the text ([`StoredRecord::version`]).
/// `state.kind` is `disabled`, `requested`, `pending` (with `secret`, `totp`
/// and `expires_at`) or `active` (as above; `replacement`, a new app's
/// secret waiting for its first code, only while one is pending: it is
/// dropped at the first write after it expires). Times are Unix seconds.
///
/// `replacement` came after the first release of format 1 and is optional:
/// every record written before it reads the same. A binary older than it
/// reads a record *with* a replacement as malformed, so finish a rolling
/// upgrade before users set up new apps.
/// `recovery` is `null` when no codes are issued; `hashes` holds the unused
/// codes' HMAC-SHA-256 values under the recovery key derived from `key`.
#[derive(Clone)]
pub struct StoredRecord {
    version: u64,
    form: Form,
}

#[derive(Clone)]
enum Form {
    /// As a store loaded it.
    Text(String),
    /// As mfa-flow wrote it: the value, and its text once asked for.
    Value {
        record: Box<MfaRecord>,
        text: OnceLock<String>,
    },
}

impl StoredRecord {
    /// A record as a store loaded it: the version it kept and the text.
    #[must_use]
    pub fn new(version: u64, text: impl Into<String>) -> Self {
        Self {
            version,
            form: Form::Text(text.into()),
        }
    }

    /// A record mfa-flow is writing.
    pub(crate) fn from_record(record: MfaRecord) -> Self {
        Self {
            version: record.version,
            form: Form::Value {
                record: Box::new(record),
                text: OnceLock::new(),
            },
        }
    }

    /// The value, when this process wrote the record (it needs no decoding).
    pub(crate) fn value(&self) -> Option<&MfaRecord> {
        match &self.form {
            Form::Text(_) => None,
            Form::Value { record, .. } => Some(record),
        }
    }

    /// The version, incremented by every write; at least 1 in every record
    /// mfa-flow saves.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The version the store must hold for [`Store::save`] of this record
    /// to succeed (a missing record counts as 0); `None` for version 0,
    /// which is never stored.
    #[must_use]
    pub fn expected_version(&self) -> Option<u64> {
        self.version.checked_sub(1)
    }

    /// The text to store, exactly as given back on load.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.form {
            Form::Text(text) => text,
            Form::Value { record, text } => text.get_or_init(|| record.to_text()),
        }
    }

    /// The text, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        match self.form {
            Form::Text(text) => text,
            Form::Value { record, text } => text.into_inner().unwrap_or_else(|| record.to_text()),
        }
    }
}

impl PartialEq for StoredRecord {
    /// The same version and the same text.
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.as_str() == other.as_str()
    }
}

impl Eq for StoredRecord {}

impl fmt::Debug for StoredRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text holds sealed secrets and recovery-code hashes: sealed, but
        // nothing a log needs. Showing its length would encode it.
        f.debug_struct("StoredRecord")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Where MFA records live: one versioned, opaque record per user id.
///
/// # Contract
///
/// Every implementation must meet all of these, for all handles and all
/// processes that share the same backend; `mfa_flow::conformance` (feature
/// `conformance`) tests them:
///
/// 1. [`Store::load`] returns the record most recently stored for the user,
///    with the version it was stored with and exactly its text, or `None`
///    if there is none.
/// 2. [`Store::save`] stores `record` **if and only if** the stored version
///    is [`StoredRecord::expected_version`] (a missing record counts as
///    version 0), as one atomic step: compare-and-swap inside the backend,
///    never a read then a write in the application. Otherwise (and for a
///    record of version 0) it changes nothing and answers
///    [`Saved::Conflict`].
/// 3. [`Store::delete`] removes the record if and only if its stored version
///    is `version`, atomically; otherwise [`Saved::Conflict`].
/// 4. Once a call has returned [`Saved::Stored`], the write is durable to
///    the backend's own standard and visible to every later `load`.
/// 5. Failures are `Err(Self::Error)`, keeping their source. Calls end in
///    bounded time when the backend is unreachable. A store does not read
///    the text: mfa-flow does, once, for every store.
///
/// Deleting erases the version history, so a writer holding a record loaded
/// before the delete could later win a compare-and-swap against a new record
/// that happens to reach the same version. Delete only when the user account
/// itself goes; the service never deletes (an administrator reset writes a
/// fresh `Disabled` record instead).
///
/// Implementations write the methods as `async fn`.
pub trait Store: Send + Sync {
    /// The backend's error; it keeps its source.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Loads the user's record.
    fn load(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<StoredRecord>, Self::Error>> + Send;

    /// Stores `record` if the stored version is
    /// [`StoredRecord::expected_version`].
    fn save(
        &self,
        user: &str,
        record: &StoredRecord,
    ) -> impl Future<Output = Result<Saved, Self::Error>> + Send;

    /// Deletes the record if its stored version is `version`.
    fn delete(
        &self,
        user: &str,
        version: u64,
    ) -> impl Future<Output = Result<Saved, Self::Error>> + Send;
}

/// An error from [`MemoryStore`]. It cannot fail today; the type leaves room
/// without a breaking change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryStoreError {}

/// A store in this process's memory: for tests, demos and single-process
/// deployments that accept losing MFA state on restart.
///
/// Clones share the same records, so clones stand in for app instances
/// sharing a database. One mutex guards the map; each operation holds it
/// only for a version comparison and a copy.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    records: Arc<Mutex<HashMap<String, StoredRecord>>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of users with a record.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no user has a record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredRecord>> {
        // A panic while holding the lock cannot leave a half-written record:
        // each entry is replaced whole.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    type Error = MemoryStoreError;

    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, MemoryStoreError> {
        Ok(self.lock().get(user).cloned())
    }

    async fn save(&self, user: &str, record: &StoredRecord) -> Result<Saved, MemoryStoreError> {
        let mut map = self.lock();
        let stored = map.get(user).map_or(0, StoredRecord::version);
        if record.expected_version() != Some(stored) {
            return Ok(Saved::Conflict);
        }
        match map.get_mut(user) {
            Some(slot) => slot.clone_from(record),
            None => {
                map.insert(user.to_owned(), record.clone());
            }
        }
        Ok(Saved::Stored)
    }

    async fn delete(&self, user: &str, version: u64) -> Result<Saved, MemoryStoreError> {
        let mut map = self.lock();
        if map.get(user).is_some_and(|r| r.version() == version) {
            map.remove(user);
            Ok(Saved::Stored)
        } else {
            Ok(Saved::Conflict)
        }
    }
}
