//! Extractors for handlers.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use tower_sessions::Session;

use crate::answer::error;
use crate::mfa::Passed;
use crate::session::{Assurance, assurance};

/// Why [`Assurance`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssuranceRejection {
    /// No session on the request.
    #[error("no session on the request: is tower_sessions::SessionManagerLayer installed?")]
    SessionLayerMissing,
    /// Nobody signed in to this session.
    #[error("nobody is signed in")]
    NotSignedIn,
    /// The session store failed.
    #[error("the session store failed")]
    SessionUnavailable,
}

impl IntoResponse for AssuranceRejection {
    fn into_response(self) -> Response {
        let message = Some(self.to_string());
        match self {
            Self::SessionLayerMissing => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "session_layer_missing",
                message,
            ),
            Self::NotSignedIn => error(StatusCode::UNAUTHORIZED, "not_signed_in", message),
            _ => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "session_unavailable",
                message,
            ),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Assurance {
    type Rejection = AssuranceRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The guard leaves what it read from the session in the extensions.
        if let Some(passed) = parts.extensions.get::<Passed>() {
            return Ok(passed.assurance.clone());
        }
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(AssuranceRejection::SessionLayerMissing)?;
        assurance(&session)
            .await
            .map_err(|_| AssuranceRejection::SessionUnavailable)?
            .ok_or(AssuranceRejection::NotSignedIn)
    }
}

/// The signed-in user's MFA status (state, confirmed at, recovery codes
/// left, lock), for handlers behind [`MfaLayer`](crate::MfaLayer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MfaStatus(pub mfa_flow::Status);

/// Why [`MfaStatus`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaStatusRejection {
    /// The route is not behind the guard.
    #[error("no MFA status on the request: is mfa_axum::MfaLayer installed on this route?")]
    LayerMissing,
    /// Nobody signed in, or no session.
    #[error(transparent)]
    Assurance(#[from] AssuranceRejection),
    /// The MFA store could not answer.
    #[error("the MFA status is unavailable")]
    Unavailable(StatusCode, &'static str),
}

impl IntoResponse for MfaStatusRejection {
    fn into_response(self) -> Response {
        match self {
            Self::LayerMissing => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "mfa_layer_missing",
                Some(self.to_string()),
            ),
            Self::Assurance(inner) => inner.into_response(),
            Self::Unavailable(status, code) => error(status, code, None),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MfaStatus {
    type Rejection = MfaStatusRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let assurance = Assurance::from_request_parts(parts, state).await?;
        let source = parts
            .extensions
            .get::<Passed>()
            .map(|p| p.flow.clone())
            .ok_or(MfaStatusRejection::LayerMissing)?;
        source
            .0
            .status(&assurance.user)
            .await
            .map(MfaStatus)
            .map_err(|(status, code)| MfaStatusRejection::Unavailable(status, code))
    }
}
