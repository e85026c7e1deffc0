//! The identity of an axum-login application: the `AuthSession`'s user.

use std::future::{Future, ready};
use std::marker::PhantomData;

use axum_login::{AuthSession, AuthUser, AuthnBackend};
use http::Extensions;

use crate::identity::{Identity, UserId};

/// The signed-in user of an axum-login 0.18 application: the
/// `AuthSession<Backend>`'s user, as its id's text. Install
/// `axum_login::AuthManagerLayer` outside [`MfaLayer`](crate::MfaLayer);
/// nothing else is needed in the sign-in handler.
pub struct AuthSessionIdentity<Backend> {
    backend: PhantomData<fn() -> Backend>,
}

impl<Backend> AuthSessionIdentity<Backend> {
    /// The identity of `AuthSession<Backend>`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            backend: PhantomData,
        }
    }
}

impl<Backend> Default for AuthSessionIdentity<Backend> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Backend> Clone for AuthSessionIdentity<Backend> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Backend> Copy for AuthSessionIdentity<Backend> {}

impl<Backend> std::fmt::Debug for AuthSessionIdentity<Backend> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSessionIdentity").finish()
    }
}

/// No `AuthSession` on the request.
#[derive(Debug, thiserror::Error)]
#[error(
    "no axum_login::AuthSession on the request: is AuthManagerLayer installed outside MfaLayer?"
)]
pub struct AuthLayerMissing;

impl<Backend: AuthnBackend + 'static> Identity for AuthSessionIdentity<Backend> {
    type Error = AuthLayerMissing;

    fn current_user(
        &self,
        extensions: &Extensions,
    ) -> impl Future<Output = Result<Option<UserId>, Self::Error>> + Send + 'static {
        let user = extensions
            .get::<AuthSession<Backend>>()
            .ok_or(AuthLayerMissing)
            .map(|auth| auth.user.as_ref().map(|u| UserId::new(u.id().to_string())));
        ready(user)
    }
}
