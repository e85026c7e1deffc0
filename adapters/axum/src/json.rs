//! The JSON answers of the routes for refused codes.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use mfa_flow::Outcome;

use crate::error::{body as error, refusal_status};

/// A refused code: one generic answer for wrong and replayed codes.
pub(crate) fn refused<T>(outcome: &Outcome<T>, now: u64) -> Response {
    let status = refusal_status(outcome);
    match outcome {
        Outcome::Locked { until } => {
            let body = serde_json::json!({ "error": "locked", "locked_until": until });
            let mut response = (status, Json(body)).into_response();
            if let Some(until) = until {
                let wait = until.saturating_sub(now).max(1);
                if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
        Outcome::Expired => error(status, "enrollment_expired", None),
        Outcome::Malformed(e) => error(status, "malformed_code", Some(e.to_string())),
        _ => error(status, "invalid_code", None),
    }
}

/// The accepted value, or the answer for a refusal or an error.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response itself, returned once per request"
)]
pub(crate) fn accepted<T>(
    result: Result<Outcome<T>, crate::Error>,
    now: u64,
) -> Result<T, Response> {
    match result {
        Ok(Outcome::Accepted(value)) => Ok(value),
        Ok(refusal) => Err(refused(&refusal, now)),
        Err(e) => Err(e.into_response()),
    }
}
