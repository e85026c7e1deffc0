use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

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

/// Where MFA records live: one versioned record per user id.
///
/// # Contract
///
/// Every implementation must meet all of these, for all handles and all
/// processes that share the same backend; `mfa_flow::conformance` (feature
/// `conformance`) tests them:
///
/// 1. [`Store::load`] returns the record most recently stored for the user,
///    with the `version` it was stored with, or `None` if there is none.
/// 2. [`Store::save`] stores `record` **if and only if** the stored version
///    is `record.version - 1` (a missing record counts as version 0), as one
///    atomic step: compare-and-swap inside the backend, never a read then a
///    write in the application. Otherwise it changes nothing and answers
///    [`Saved::Conflict`]. `record.version` is at least 1.
/// 3. [`Store::delete`] removes the record if and only if its stored version
///    is `version`, atomically; otherwise [`Saved::Conflict`].
/// 4. Once a call has returned [`Saved::Stored`], the write is durable to
///    the backend's own standard and visible to every later `load`.
/// 5. Failures are `Err(Self::Error)`, keeping their source; a record that
///    does not decode ([`MfaRecord::from_bytes`]) is an error too. Calls end
///    in bounded time when the backend is unreachable.
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
    ) -> impl Future<Output = Result<Option<MfaRecord>, Self::Error>> + Send;

    /// Stores `record` if the stored version is `record.version - 1`.
    fn save(
        &self,
        user: &str,
        record: &MfaRecord,
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
    records: Arc<Mutex<HashMap<String, MfaRecord>>>,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MfaRecord>> {
        // A panic while holding the lock cannot leave a half-written record:
        // each entry is replaced whole.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    type Error = MemoryStoreError;

    async fn load(&self, user: &str) -> Result<Option<MfaRecord>, MemoryStoreError> {
        Ok(self.lock().get(user).cloned())
    }

    async fn save(&self, user: &str, record: &MfaRecord) -> Result<Saved, MemoryStoreError> {
        let mut map = self.lock();
        let stored = map.get(user).map_or(0, |r| r.version);
        if record.version == 0 || stored != record.version - 1 {
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
        if map.get(user).is_some_and(|r| r.version == version) {
            map.remove(user);
            Ok(Saved::Stored)
        } else {
            Ok(Saved::Conflict)
        }
    }
}
