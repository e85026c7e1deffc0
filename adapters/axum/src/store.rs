//! A session-store wrapper that never stores a session id: records are kept
//! under a keyed hash of the id the cookie carries.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tower_sessions::ExpiredDeletion;
use tower_sessions::cookie::time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Result, SessionStore};
use zeroize::Zeroizing;

/// How long a deleted record's tombstone is kept.
const TOMBSTONE_LIFETIME: Duration = Duration::hours(1);

/// Wraps any `tower_sessions::SessionStore` so that the cookie's session id
/// appears nowhere at rest, and a cycled id stays dead: each record is stored under
/// `HMAC-SHA-256(key, id)` (truncated to the 128 bits of an id), and the id
/// inside the stored record is that hash too. Whoever reads the store (a
/// backup, a copy of the database file, a read-only SQL account) learns no
/// id a browser could send: the hash cannot be turned back into the id,
/// and without the key not even a guessed id can be checked against it.
///
/// ```
/// use mfa_axum::HashedSessionIds;
/// use mfa_axum::tower_sessions::{MemoryStore, SessionManagerLayer};
///
/// # let key_from_your_secret_store = [9u8; 32];
/// let sessions = HashedSessionIds::new(MemoryStore::default(), &key_from_your_secret_store);
/// let layer = SessionManagerLayer::new(sessions);
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct HashedSessionIds<S> {
    inner: S,
    key: Arc<Zeroizing<Vec<u8>>>,
}

impl<S> fmt::Debug for HashedSessionIds<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedSessionIds").finish_non_exhaustive()
    }
}

impl<S> HashedSessionIds<S> {
    /// Wraps `inner`, hashing ids under `key` (at least 32 random bytes,
    /// the same at every start and on every instance: a new key signs
    /// everybody out).
    #[must_use]
    pub fn new(inner: S, key: &[u8]) -> Self {
        Self {
            inner,
            key: Arc::new(Zeroizing::new(key.to_vec())),
        }
    }

    /// The wrapped store.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The id a record is stored under.
    fn stored_id(&self, id: &Id) -> Id {
        self.keyed(b"mfa-axum session id\0", id)
    }

    /// The id of the tombstone a deleted record leaves (no cookie id hashes
    /// to it: another label).
    fn tombstone_id(&self, id: &Id) -> Id {
        self.keyed(b"mfa-axum deleted session id\0", id)
    }

    fn keyed(&self, label: &[u8], id: &Id) -> Id {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(label);
        mac.update(&id.0.to_le_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        Id(i128::from_le_bytes(first))
    }

    /// The record as it is stored: under the hash of its id.
    fn stored(&self, record: &Record) -> Record {
        Record {
            id: self.stored_id(&record.id),
            data: record.data.clone(),
            expiry_date: record.expiry_date,
        }
    }
}

#[async_trait]
impl<S: SessionStore + Clone> SessionStore for HashedSessionIds<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // Always a fresh id: tower-sessions keeps a flushed session's old
        // id in the record, and a session created again must not come back
        // under it.
        record.id = Id::default();
        for _ in 0..8 {
            let mut stored = self.stored(record);
            let chosen = stored.id;
            self.inner.create(&mut stored).await?;
            if stored.id == chosen {
                return Ok(());
            }
            // The inner store met a record under that hash and stored this
            // one under an id of its own, which no cookie id hashes to:
            // remove it, and try again with a new id.
            self.inner.delete(&stored.id).await?;
            record.id = Id::default();
        }
        Err(tower_sessions::session_store::Error::Backend(
            "the session store keeps choosing ids of its own".to_owned(),
        ))
    }

    /// Saves a record that is still stored, and only such a record: a
    /// request that loaded a session before another request cycled its id
    /// (a sign-in, an MFA check) must not save the old id back to life.
    ///
    /// The check and the write are two store calls, and a delete can land
    /// between them; a delete leaves a tombstone first, so a save that finds
    /// one after its write undoes it. Any order of the four calls ends with
    /// the deleted id gone.
    async fn save(&self, record: &Record) -> Result<()> {
        let stored = self.stored(record);
        if self.inner.load(&stored.id).await?.is_none() {
            tracing::debug!(target: "mfa_axum", "not saving a session whose id was cycled or that expired");
            return Ok(());
        }
        self.inner.save(&stored).await?;
        if self
            .inner
            .load(&self.tombstone_id(&record.id))
            .await?
            .is_some()
        {
            tracing::debug!(target: "mfa_axum", "a session's id was cycled during its save: removed again");
            self.inner.delete(&stored.id).await?;
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        Ok(self
            .inner
            .load(&self.stored_id(id))
            .await?
            .map(|mut record| {
                record.id = *id;
                record
            }))
    }

    /// Deletes a stored record, leaving a tombstone for an hour (longer than
    /// any request in flight) so a save racing the delete cannot bring it
    /// back.
    async fn delete(&self, id: &Id) -> Result<()> {
        let stored = self.stored_id(id);
        // Nothing stored (a session cycled before its first save): nothing
        // to bring back, so no tombstone.
        if self.inner.load(&stored).await?.is_none() {
            return Ok(());
        }
        let tombstone = Record {
            id: self.tombstone_id(id),
            data: std::collections::HashMap::new(),
            expiry_date: OffsetDateTime::now_utc() + TOMBSTONE_LIFETIME,
        };
        self.inner.save(&tombstone).await?;
        self.inner.delete(&stored).await
    }
}

#[async_trait]
impl<S: ExpiredDeletion + Clone> ExpiredDeletion for HashedSessionIds<S> {
    async fn delete_expired(&self) -> Result<()> {
        self.inner.delete_expired().await
    }
}

#[cfg(test)]
mod tests {
    use tower_sessions::MemoryStore;
    use tower_sessions::cookie::time::{Duration, OffsetDateTime};

    use super::*;

    fn record() -> Record {
        let mut data = std::collections::HashMap::new();
        data.insert("k".to_owned(), serde_json::json!("v"));
        Record {
            id: Id::default(),
            data,
            expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn records_are_kept_under_the_hash_of_their_id() {
        let inner = MemoryStore::default();
        let hashed = HashedSessionIds::new(inner.clone(), &[1; 32]);
        let mut r = record();
        hashed.create(&mut r).await.unwrap();
        let id = r.id;
        // Through the wrapper: the record, with the cookie's id.
        let loaded = hashed.load(&id).await.unwrap().unwrap();
        assert_eq!((loaded.id, loaded.data.clone()), (id, r.data.clone()));
        // In the store: nothing under the id, the record under its hash,
        // with the hash inside too.
        assert!(inner.load(&id).await.unwrap().is_none());
        let stored = inner.load(&hashed.stored_id(&id)).await.unwrap().unwrap();
        assert_ne!(stored.id, id);
        assert_eq!(stored.id, hashed.stored_id(&id));
        // The stored id, sent as a cookie, opens nothing.
        assert!(hashed.load(&stored.id).await.unwrap().is_none());
        // Another key: another hash.
        let other = HashedSessionIds::new(inner.clone(), &[2; 32]);
        assert_ne!(other.stored_id(&id), hashed.stored_id(&id));
        assert!(other.load(&id).await.unwrap().is_none());
        // Save and delete go to the same place.
        r.data.insert("k".to_owned(), serde_json::json!("w"));
        hashed.save(&r).await.unwrap();
        assert_eq!(
            hashed.load(&id).await.unwrap().unwrap().data["k"],
            serde_json::json!("w")
        );
        hashed.delete(&id).await.unwrap();
        assert!(hashed.load(&id).await.unwrap().is_none());
        assert!(inner.load(&stored.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_created_record_never_keeps_the_id_it_came_with() {
        let inner = MemoryStore::default();
        let hashed = HashedSessionIds::new(inner, &[1; 32]);
        let mut r = record();
        let old = r.id;
        hashed.create(&mut r).await.unwrap();
        assert_ne!(r.id, old);
        assert!(hashed.load(&old).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_deleted_record_is_not_saved_back() {
        let hashed = HashedSessionIds::new(MemoryStore::default(), &[1; 32]);
        let mut r = record();
        hashed.create(&mut r).await.unwrap();
        // Another request cycles the id (deletes the record); this one
        // still holds the old copy and saves it.
        hashed.delete(&r.id).await.unwrap();
        hashed.save(&r).await.unwrap();
        assert!(hashed.load(&r.id).await.unwrap().is_none());
    }

    /// A store whose next `save` first runs a hook: another request's
    /// delete, landing between `HashedSessionIds::save`'s check and write.
    #[derive(Clone, Default)]
    struct Interleaved {
        inner: MemoryStore,
        hook: Arc<std::sync::Mutex<Option<Hook>>>,
    }

    type Hook = Box<dyn FnOnce() -> Boxed + Send>;
    type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

    impl fmt::Debug for Interleaved {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Interleaved").finish_non_exhaustive()
        }
    }

    #[async_trait]
    impl SessionStore for Interleaved {
        async fn create(&self, record: &mut Record) -> Result<()> {
            self.inner.create(record).await
        }
        async fn save(&self, record: &Record) -> Result<()> {
            let hook = self.hook.lock().ok().and_then(|mut h| h.take());
            if let Some(hook) = hook {
                hook().await;
            }
            self.inner.save(record).await
        }
        async fn load(&self, id: &Id) -> Result<Option<Record>> {
            self.inner.load(id).await
        }
        async fn delete(&self, id: &Id) -> Result<()> {
            self.inner.delete(id).await
        }
    }

    #[tokio::test]
    async fn a_delete_between_the_check_and_the_write_still_wins() {
        let inner = Interleaved::default();
        let hashed = HashedSessionIds::new(inner.clone(), &[1; 32]);
        let mut r = record();
        hashed.create(&mut r).await.unwrap();
        let (other, id) = (hashed.clone(), r.id);
        *inner.hook.lock().unwrap() = Some(Box::new(move || {
            Box::pin(async move { other.delete(&id).await.unwrap() })
        }));
        // The save finds the record, then the other request deletes it,
        // then the save writes.
        hashed.save(&r).await.unwrap();
        assert!(inner.hook.lock().unwrap().is_none(), "the hook ran");
        assert!(
            hashed.load(&r.id).await.unwrap().is_none(),
            "the id came back"
        );
        // An untouched record saves as ever.
        let mut s = record();
        hashed.create(&mut s).await.unwrap();
        s.data.insert("k".to_owned(), serde_json::json!("w"));
        hashed.save(&s).await.unwrap();
        assert_eq!(hashed.load(&s.id).await.unwrap().unwrap().data["k"], "w");
    }

    #[test]
    fn debug_shows_no_key() {
        let hashed = HashedSessionIds::new(MemoryStore::default(), b"secret key bytes");
        assert!(!format!("{hashed:?}").contains("secret"));
    }
}
