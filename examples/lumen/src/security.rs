//! CSRF tokens, password hashing and random identifiers.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};
use tower_sessions::Session;

/// The session key of the CSRF token.
const CSRF_KEY: &str = "lumen.csrf";

/// 32 random bytes, base64url (43 characters).
pub(crate) fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new user id: 16 random bytes, base64url.
pub(crate) fn new_user_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Something went wrong that the user cannot fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Broken {
    #[error("the session store failed")]
    Session(#[from] tower_sessions::session::Error),
    #[error("the random number generator failed")]
    Random(#[from] getrandom::Error),
    #[error("password hashing failed")]
    Hash,
    #[error("the database failed")]
    Database(#[from] mfa_store_sqlx::sqlx::Error),
    #[error("every password hashing worker is busy")]
    Busy,
    #[error("the MFA service failed")]
    Mfa(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The session's CSRF token, created on first use. Every form carries it;
/// every form handler checks it with [`csrf_matches`].
pub(crate) async fn csrf_token(session: &Session) -> Result<String, Broken> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    let token = random_token()?;
    session.insert(CSRF_KEY, &token).await?;
    Ok(token)
}

/// A new token after sign-in, so a token seen before it is worth nothing
/// after.
pub(crate) async fn rotate_csrf(session: &Session) -> Result<(), Broken> {
    session.insert(CSRF_KEY, random_token()?).await?;
    Ok(())
}

/// Whether a submitted token is the session's (compared in constant time).
pub(crate) async fn csrf_matches(session: &Session, submitted: &str) -> Result<bool, Broken> {
    let Some(token) = session.get::<String>(CSRF_KEY).await? else {
        return Ok(false);
    };
    Ok(token.len() == submitted.len() && bool::from(token.as_bytes().ct_eq(submitted.as_bytes())))
}

/// At most `workers` password hashes at once, on threads of their own,
/// and a short queue: Argon2id takes 19 MiB a computation, so unbounded
/// sign-ins would take the process's memory with them.
///
/// Dedicated threads rather than tokio's blocking pool: the allocator
/// keeps a freed 19 MiB block in the arena of the thread that used it, and
/// the blocking pool spreads the work over many threads (each one arena
/// more); a fixed set of workers keeps that to one block per worker.
#[derive(Debug)]
pub(crate) struct Hashing {
    jobs: mpsc::Sender<Job>,
}

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// Every worker busy and the queue full: try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("every password hashing worker is busy")]
pub(crate) struct Busy;

impl Hashing {
    /// `workers` threads (at least 1), four times as many jobs waiting.
    pub(crate) fn new(workers: usize) -> Self {
        let workers = workers.max(1);
        let (jobs, queue) = mpsc::channel::<Job>(workers.saturating_mul(4));
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..workers {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("lumen-hash-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held while waiting: one idle worker
                        // waits on the queue, the others on the lock.
                        let job = match queue.lock() {
                            Ok(mut queue) => queue.blocking_recv(),
                            Err(_) => None,
                        };
                        let Some(job) = job else { break };
                        // A job that panics loses its answer (its caller
                        // gets an error), not the worker.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(target: "lumen", error = %e, "could not start a hashing thread");
            }
        }
        Self { jobs }
    }

    /// A place in the queue, taken before the work is known: a sign-in
    /// takes one before it counts the attempt, so a full queue costs no
    /// attempt.
    ///
    /// # Errors
    ///
    /// [`Refused::Busy`] at once when every worker is busy and the queue is
    /// full.
    pub(crate) fn reserve(&self) -> Result<Slot<'_>, Refused> {
        match self.jobs.try_reserve() {
            Ok(permit) => Ok(Slot { permit }),
            Err(mpsc::error::TrySendError::Full(())) => Err(Refused::Busy(Busy)),
            Err(mpsc::error::TrySendError::Closed(())) => Err(Refused::Broken(Broken::Hash)),
        }
    }

    /// Runs `work` (a password hash or check) on a hashing thread; waits in
    /// the queue if it has room.
    ///
    /// # Errors
    ///
    /// [`Refused::Busy`] at once when every worker is busy and the queue is
    /// full.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        self.reserve()?.run(work).await
    }
}

/// A reserved place in the hashing queue.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    permit: mpsc::Permit<'a, Job>,
}

impl Slot<'_> {
    /// Runs `work` on a hashing thread, in the place reserved.
    pub(crate) async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let (done, result) = oneshot::channel();
        self.permit.send(Box::new(move || {
            let _ = done.send(work());
        }));
        result.await.map_err(|_| Refused::Broken(Broken::Hash))
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error(transparent)]
    Busy(Busy),
    #[error(transparent)]
    Broken(Broken),
}

impl From<Refused> for Broken {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Busy(_) => Self::Busy,
            Refused::Broken(broken) => broken,
        }
    }
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), as a PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String, Broken> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|_| Broken::Hash)
}

/// A hash of a password nobody has, checked when the email is unknown so
/// that a sign-in takes as long either way.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").unwrap_or_default())
}

/// Whether `password` matches the stored PHC string.
pub(crate) fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("correct horse battery staple", &hash));
        assert!(!password_matches("correct horse battery stapl", &hash));
        assert!(!password_matches("anything", "not a hash"));
        assert!(!password_matches("decoy password", "")); // a broken decoy never matches
    }

    /// Two workers, eight waiting: of 20 at once, eight to ten run (two at
    /// a time) and the rest are refused without waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_is_bounded_and_refuses_beyond_the_queue() {
        let hashing = Arc::new(Hashing::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (hashing, running, most) = (hashing.clone(), running.clone(), most.clone());
            tasks.spawn(async move {
                hashing
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                    .is_ok()
            });
        }
        let done = tasks.join_all().await;
        // Eight in the queue, and up to two more taken by the workers by
        // the time the last arrive.
        let ran = done.iter().filter(|ok| **ok).count();
        assert!((8..=10).contains(&ran), "{ran} ran");
        assert!(most.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
