//! Who is signed in: always the application's answer, never a copy kept by
//! this crate.

use std::fmt;
use std::future::Future;

use http::Extensions;
use tower_sessions::Session;

/// A user id as the application knows it: the one the MFA records are kept
/// under and the session's assurance is bound to.
///
/// A newtype, so a user id and an account name (or a code) cannot be
/// swapped by mistake where both are strings.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Wraps the application's id.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UserId").field(&self.0).finish()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for UserId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for UserId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// How the guard, the routes and the extractors learn who is signed in:
/// the application's own answer for each request.
///
/// The MFA assurance kept in the session is bound to the user this returns.
/// When it returns someone else than the user the assurance was recorded
/// for, or nobody, the assurance is void; so forgetting to tell this crate
/// about a sign-in or a sign-out cannot let anyone through.
///
/// Implemented by [`SessionIdentity`] (a user id the application keeps in
/// the `tower-sessions` session) and, with the `axum-login` feature, by
/// `AuthSessionIdentity` (the `axum_login::AuthSession`'s user).
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
///
/// use http::Extensions;
/// use mfa_axum::{Identity, UserId};
///
/// /// An earlier middleware of the application leaves the user here.
/// #[derive(Clone)]
/// struct CurrentUser(String);
///
/// struct FromExtensions;
///
/// impl Identity for FromExtensions {
///     type Error = Infallible;
///
///     fn current_user(
///         &self,
///         extensions: &Extensions,
///     ) -> impl Future<Output = Result<Option<UserId>, Infallible>> + Send + 'static {
///         let user = extensions.get::<CurrentUser>().map(|u| UserId::new(u.0.clone()));
///         ready(Ok(user))
///     }
/// }
/// ```
pub trait Identity: Send + Sync + 'static {
    /// Why the identity could not be read (a session store down).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The user signed in for the request whose extensions these are, or
    /// `None`. The future owns what it needs (it is `'static`), so clone
    /// handles out of the extensions before it starts.
    fn current_user(
        &self,
        extensions: &Extensions,
    ) -> impl Future<Output = Result<Option<UserId>, Self::Error>> + Send + 'static;
}

/// An identity the application keeps in the `tower-sessions` session: its
/// sign-in handler cycles the session id and stores the user id under `key`
/// (`session.cycle_id()`, `session.insert(key, id)`); its sign-out flushes
/// the session (`session.flush()`).
///
/// Sign out with `flush`, not by removing `key` alone: the MFA assurance
/// lives in the same session, and it is voided only when a request reaches
/// [`MfaLayer`](crate::MfaLayer) or [`MfaSession`](crate::MfaSession) while
/// nobody is signed in. A sign-in page outside the layer, right after such
/// a sign-out, would find the same user's earlier assurance still there.
#[derive(Clone, Copy, Debug)]
pub struct SessionIdentity {
    key: &'static str,
}

impl SessionIdentity {
    /// Reads the user id (a string) the application stores under `key`.
    #[must_use]
    pub const fn new(key: &'static str) -> Self {
        Self { key }
    }

    /// The session key.
    #[must_use]
    pub const fn key(&self) -> &'static str {
        self.key
    }
}

/// Why [`SessionIdentity`] could not read the user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionIdentityError {
    /// No session on the request.
    #[error("no session on the request: is tower_sessions::SessionManagerLayer installed?")]
    SessionLayerMissing,
    /// The session store failed (a `tower_sessions::session::Error`,
    /// boxed so that this type names no tower-sessions version).
    #[error("the session store failed")]
    Session(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Identity for SessionIdentity {
    type Error = SessionIdentityError;

    fn current_user(
        &self,
        extensions: &Extensions,
    ) -> impl Future<Output = Result<Option<UserId>, Self::Error>> + Send + 'static {
        let session = extensions.get::<Session>().cloned();
        let key = self.key;
        async move {
            let session = session.ok_or(SessionIdentityError::SessionLayerMissing)?;
            let id: Option<String> = session
                .get(key)
                .await
                .map_err(|e| SessionIdentityError::Session(Box::new(e)))?;
            Ok(id.map(UserId))
        }
    }
}
