//! The MFA assurance level kept in the `tower-sessions` session.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// The session key holding the [`Assurance`].
pub const ASSURANCE_KEY: &str = "mfa.assurance";

/// How far a session's user has authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Level {
    /// The application checked the password.
    Password,
    /// A TOTP code or a recovery code was verified too.
    Mfa,
}

/// Who is signed in to a session, and how far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Assurance {
    /// The application's user id.
    pub user: String,
    /// The level reached.
    pub level: Level,
    /// When the last code was verified (Unix seconds), at [`Level::Mfa`].
    pub verified_at: Option<u64>,
}

/// A session operation failed (the session store).
#[derive(Debug, thiserror::Error)]
#[error("the session store failed")]
pub struct SessionError(#[source] pub tower_sessions::session::Error);

/// Records a successful password check: the session is now at
/// [`Level::Password`] for `user`. The session id is cycled, so an id fixed
/// by an attacker before sign-in grants nothing after it.
///
/// # Errors
///
/// [`SessionError`] if the session store fails.
pub async fn sign_in(session: &Session, user: &str) -> Result<(), SessionError> {
    session.cycle_id().await.map_err(SessionError)?;
    session
        .insert(
            ASSURANCE_KEY,
            Assurance {
                user: user.to_owned(),
                level: Level::Password,
                verified_at: None,
            },
        )
        .await
        .map_err(SessionError)
}

/// Signs out: the MFA state (and everything else in the session) is
/// cleared and the session deleted.
///
/// # Errors
///
/// [`SessionError`] if the session store fails.
pub async fn sign_out(session: &Session) -> Result<(), SessionError> {
    session.flush().await.map_err(SessionError)
}

/// The session's assurance, if someone signed in.
///
/// # Errors
///
/// [`SessionError`] if the session store fails.
pub async fn assurance(session: &Session) -> Result<Option<Assurance>, SessionError> {
    session.get(ASSURANCE_KEY).await.map_err(SessionError)
}

/// Raises the session to [`Level::Mfa`], cycling the id.
pub(crate) async fn raise(session: &Session, user: &str, now: u64) -> Result<(), SessionError> {
    session.cycle_id().await.map_err(SessionError)?;
    session
        .insert(
            ASSURANCE_KEY,
            Assurance {
                user: user.to_owned(),
                level: Level::Mfa,
                verified_at: Some(now),
            },
        )
        .await
        .map_err(SessionError)
}
