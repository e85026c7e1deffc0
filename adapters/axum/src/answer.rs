//! The JSON answers of the guard and the routes.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mfa_flow::{FlowError, MfaError, Outcome};

use crate::mfa::Failure;

/// `{"error": code}` (and a `message` when there is one) with a status.
pub(crate) fn error(status: StatusCode, code: &str, message: Option<String>) -> Response {
    let body = match message {
        Some(message) => serde_json::json!({ "error": code, "message": message }),
        None => serde_json::json!({ "error": code }),
    };
    (status, Json(body)).into_response()
}

/// A refused code: one generic answer for wrong and replayed codes.
pub(crate) fn refused<T>(outcome: Outcome<T>, now: u64) -> Response {
    match outcome {
        Outcome::Invalid | Outcome::Replayed => {
            error(StatusCode::UNAUTHORIZED, "invalid_code", None)
        }
        Outcome::Locked { until } => {
            let body = serde_json::json!({ "error": "locked", "locked_until": until });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            if let Some(until) = until {
                let wait = until.saturating_sub(now).max(1);
                if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
        Outcome::Expired => error(StatusCode::GONE, "enrollment_expired", None),
        Outcome::Malformed(e) => error(
            StatusCode::BAD_REQUEST,
            "malformed_code",
            Some(e.to_string()),
        ),
        // Accepted outcomes are answered by the routes themselves.
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
    }
}

/// The accepted value, or the answer for a refusal or a failure.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response itself, returned once per request"
)]
pub(crate) fn accepted<T, E: std::error::Error + 'static>(
    result: Result<Outcome<T>, MfaError<E>>,
    now: u64,
) -> Result<T, Response> {
    match result {
        Ok(Outcome::Accepted(value)) => Ok(value),
        Ok(refusal) => Err(refused(refusal, now)),
        Err(e) => Err(failed(&e)),
    }
}

/// The accepted value of an operation that raises the session, or the
/// answer for a refusal or a failure.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response itself, returned once per request"
)]
pub(crate) fn raised<T, E: std::error::Error + 'static>(
    result: Result<Outcome<T>, Failure<E>>,
    now: u64,
) -> Result<T, Response> {
    match result {
        Ok(outcome) => accepted::<T, E>(Ok(outcome), now),
        Err(Failure::Mfa(e)) => accepted::<T, E>(Err(e), now),
        Err(Failure::NotSignedIn) => Err(error(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            Some("nobody is signed in".to_owned()),
        )),
        Err(_) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "session_unavailable",
            None,
        )),
    }
}

/// An operation that could not run: its status and error code (logged).
pub(crate) fn failure<E: std::error::Error + 'static>(
    e: &MfaError<E>,
) -> (StatusCode, &'static str) {
    match e {
        MfaError::Flow(FlowError::NotEnrolled) => (StatusCode::CONFLICT, "not_enrolled"),
        MfaError::Flow(FlowError::NoPendingEnrollment) => {
            (StatusCode::CONFLICT, "no_pending_enrollment")
        }
        MfaError::Flow(FlowError::AlreadyEnrolled) => (StatusCode::CONFLICT, "already_enrolled"),
        MfaError::Flow(FlowError::PolicyForbids) => (StatusCode::FORBIDDEN, "policy_forbids"),
        MfaError::Flow(FlowError::InvalidAccountName(_)) => {
            (StatusCode::BAD_REQUEST, "invalid_account_name")
        }
        MfaError::Store(_) | MfaError::Contention => {
            tracing::warn!(target: "mfa_axum", error = %e, "MFA store unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "mfa_unavailable")
        }
        other => {
            tracing::error!(target: "mfa_axum", error = %other, "MFA operation failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

/// An operation that could not run, as a response.
pub(crate) fn failed<E: std::error::Error + 'static>(e: &MfaError<E>) -> Response {
    let (status, code) = failure(e);
    error(status, code, None)
}
