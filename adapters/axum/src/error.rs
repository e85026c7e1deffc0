//! Why an MFA operation could not run, and the HTTP answer for each reason.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use mfa_flow::{FlowError, MfaError, Outcome};

/// A boxed error that keeps its source.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why an operation of [`MfaSession`](crate::MfaSession) (or the guard)
/// could not run. None of these is a wrong code: those are
/// [`Outcome`]s, answered by [`refusal_status`].
///
/// [`status`](Self::status) and [`code`](Self::code) give the HTTP answer;
/// as a response (`IntoResponse`) it is `{"error": code}` with that status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No session on the request: the application's wiring is wrong.
    #[error("no session on the request: is tower_sessions::SessionManagerLayer installed?")]
    SessionLayerMissing,
    /// Nobody is signed in.
    #[error("nobody is signed in")]
    NotSignedIn,
    /// The operation needs a session that passed MFA (a factor change, or
    /// the full status).
    #[error("this needs a session that passed multi-factor authentication")]
    MfaRequired,
    /// The operation needs an active enrollment.
    #[error("the user has no active MFA enrollment")]
    NotEnrolled,
    /// Confirmation needs an enrollment in progress.
    #[error("the user has no enrollment in progress")]
    NoPendingEnrollment,
    /// Confirming a new authenticator app needs one being set up, shown in
    /// this session.
    #[error("no new authenticator app is being set up in this session")]
    NoPendingReplacement,
    /// MFA is active already.
    #[error("the user is already enrolled")]
    AlreadyEnrolled,
    /// The user's policy requires MFA, so it cannot be switched off.
    #[error("multi-factor authentication is required for this user")]
    PolicyForbids,
    /// The account name cannot go in an `otpauth://` URI.
    #[error("the account name cannot be used in an authenticator app")]
    InvalidAccountName(#[source] BoxError),
    /// The application could not tell who is signed in.
    #[error("the signed-in user could not be read")]
    Identity(#[source] BoxError),
    /// The session store failed (a `tower_sessions::session::Error`,
    /// boxed so that this type names no tower-sessions version).
    #[error("the session store failed")]
    Session(#[source] BoxError),
    /// The MFA store failed.
    #[error("the MFA store is unavailable")]
    Store(#[source] BoxError),
    /// Concurrent writes kept winning for the whole retry budget.
    #[error("too many concurrent changes to this user's MFA record")]
    Contention,
    /// A key, a sealed secret or a stored record failed: an operator's
    /// problem, never the user's.
    #[error("the MFA operation failed")]
    Internal(#[source] BoxError),
}

impl Error {
    /// The HTTP status this deserves: `401` for nobody signed in or MFA
    /// needed, `403` where the policy forbids, `409` for the wrong state,
    /// `400` for an unusable account name, `503` when a store is down, `500`
    /// for wiring and operator errors.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotSignedIn | Self::MfaRequired => StatusCode::UNAUTHORIZED,
            Self::PolicyForbids => StatusCode::FORBIDDEN,
            Self::NotEnrolled
            | Self::NoPendingEnrollment
            | Self::NoPendingReplacement
            | Self::AlreadyEnrolled => StatusCode::CONFLICT,
            Self::InvalidAccountName(_) => StatusCode::BAD_REQUEST,
            Self::Identity(_) | Self::Session(_) | Self::Store(_) | Self::Contention => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::SessionLayerMissing | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the JSON answer.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::SessionLayerMissing => "session_layer_missing",
            Self::NotSignedIn => "not_signed_in",
            Self::MfaRequired => "mfa_required",
            Self::NotEnrolled => "not_enrolled",
            Self::NoPendingEnrollment => "no_pending_enrollment",
            Self::NoPendingReplacement => "no_pending_replacement",
            Self::AlreadyEnrolled => "already_enrolled",
            Self::PolicyForbids => "policy_forbids",
            Self::InvalidAccountName(_) => "invalid_account_name",
            Self::Identity(_) | Self::Session(_) => "session_unavailable",
            Self::Store(_) | Self::Contention => "mfa_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Logs what the operator should know (store and wiring failures).
    pub(crate) fn log(&self) {
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(target: "mfa_axum", error = %self, source = ?std::error::Error::source(self), "MFA unavailable");
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(target: "mfa_axum", error = %self, source = ?std::error::Error::source(self), "MFA operation failed");
            }
            _ => {}
        }
    }

    pub(crate) fn from_flow<E: std::error::Error + Send + Sync + 'static>(e: MfaError<E>) -> Self {
        match e {
            MfaError::Store(e) => Self::Store(Box::new(e)),
            MfaError::Contention => Self::Contention,
            MfaError::Flow(FlowError::NotEnrolled) => Self::NotEnrolled,
            MfaError::Flow(FlowError::NoPendingEnrollment) => Self::NoPendingEnrollment,
            MfaError::Flow(FlowError::NoPendingReplacement) => Self::NoPendingReplacement,
            MfaError::Flow(FlowError::AlreadyEnrolled) => Self::AlreadyEnrolled,
            MfaError::Flow(FlowError::PolicyForbids) => Self::PolicyForbids,
            MfaError::Flow(FlowError::InvalidAccountName(e)) => {
                Self::InvalidAccountName(Box::new(e))
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// A QR code that could not be rendered
/// ([`EnrollmentTicket::qr_svg`](mfa_flow::EnrollmentTicket::qr_svg)) is
/// an internal fault.
impl From<mfa_flow::totp_core::QrError> for Error {
    fn from(e: mfa_flow::totp_core::QrError) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<tower_sessions::session::Error> for Error {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(Box::new(e))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        body(self.status(), self.code(), None)
    }
}

/// The HTTP status for a refused code: `401` for a wrong or a replayed code
/// alike (show one generic "invalid code" for both), `429` for a lock,
/// `410` for an expired enrollment, `400` for input that is not a code;
/// `200` for an accepted one.
#[must_use]
pub fn refusal_status<T>(outcome: &Outcome<T>) -> StatusCode {
    match outcome {
        Outcome::Accepted(_) => StatusCode::OK,
        Outcome::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        Outcome::Expired => StatusCode::GONE,
        Outcome::Malformed(_) => StatusCode::BAD_REQUEST,
        // Invalid, replayed, and anything a later flow version refuses.
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// `{"error": code}` (and a `message` when there is one) with a status.
pub(crate) fn body(status: StatusCode, code: &str, message: Option<String>) -> Response {
    let body = match message {
        Some(message) => serde_json::json!({ "error": code, "message": message }),
        None => serde_json::json!({ "error": code }),
    };
    (status, Json(body)).into_response()
}
