//! The JSON API of the flow, to nest wherever the application likes: thin
//! renderers of [`MfaSession`].

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mfa_flow::{CodeKind, StateKind, UsedCode};
use serde::Deserialize;

use crate::error::Error;
use crate::extract::MfaSession;
use crate::json::accepted;
use crate::mfa::Mfa;
use crate::session::Level;
use crate::values::Enrollment;

/// Request bodies larger than this are refused (`413`).
pub const MAX_BODY: usize = 4096;

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

/// The JSON routes of the flow, to nest under a prefix such as `/api/mfa`
/// in a router of any state (`Router<AppState>`):
///
/// `GET /status`, `POST /enrollment`, `POST /enrollment/confirm`,
/// `POST /enrollment/cancel` (an optional opt-in put off),
/// `POST /challenge`, `POST /recovery`, `POST /recovery-codes`,
/// `POST /disable`, and `POST /replacement`, `POST /replacement/confirm`,
/// `POST /replacement/cancel` (a new authenticator app for an enrolled
/// user: starting one needs a verification within
/// [`REPLACEMENT_WINDOW`](crate::REPLACEMENT_WINDOW)).
///
/// Every `POST` takes a JSON body (`{"code": "123456"}`, or `{}` to start or
/// cancel an enrollment or a replacement) with `Content-Type: application/json`, so a plain HTML form
/// from another site cannot post to them; bodies over [`MAX_BODY`] bytes
/// are refused. Nest them outside [`MfaLayer`](crate::MfaLayer): they check
/// the session themselves, through [`MfaSession`].
pub fn routes<S: Clone + Send + Sync + 'static>(mfa: &Mfa) -> Router<S> {
    Router::new()
        .route("/status", get(status))
        .route("/enrollment", post(begin))
        .route("/enrollment/confirm", post(confirm))
        .route("/enrollment/cancel", post(cancel))
        .route("/challenge", post(challenge))
        .route("/recovery", post(recovery))
        .route("/recovery-codes", post(regenerate))
        .route("/disable", post(disable))
        .route("/replacement", post(begin_replacement))
        .route("/replacement/confirm", post(confirm_replacement))
        .route("/replacement/cancel", post(cancel_replacement))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(mfa.clone())
}

fn state_name(state: StateKind) -> &'static str {
    match state {
        StateKind::Disabled => "disabled",
        StateKind::Requested => "requested",
        StateKind::Pending => "pending",
        StateKind::Active => "active",
        _ => "unknown",
    }
}

fn level_number(level: Level) -> u8 {
    match level {
        Level::Password => 1,
        Level::Mfa => 2,
    }
}

/// Below [`Level::Mfa`] only what a sign-in page needs (the level and
/// whether the user is enrolled); lock details and codes left only to a
/// session that passed MFA.
async fn status(mfa: MfaSession) -> Result<Response, Response> {
    let s = mfa.status().await.map_err(IntoResponse::into_response)?;
    let level = mfa.assurance().level;
    let body = if level == Level::Mfa {
        serde_json::json!({
            "level": level_number(level),
            "state": state_name(s.state),
            "enrolled": s.state == StateKind::Active,
            "confirmed_at": s.confirmed_at,
            "recovery_codes_left": s.recovery_codes_left,
            "replacement_expires_at": s.replacement_expires_at,
            "locked_until": s.locked_until,
            "hard_locked": s.hard_locked,
        })
    } else {
        serde_json::json!({
            "level": level_number(level),
            "enrolled": s.state == StateKind::Active,
        })
    };
    Ok(Json(body).into_response())
}

async fn begin(
    mfa: MfaSession,
    Json(_): Json<serde::de::IgnoredAny>,
) -> Result<Response, Response> {
    let enrollment = mfa
        .enrollment()
        .await
        .map_err(IntoResponse::into_response)?;
    ticket_json(&enrollment).map_err(IntoResponse::into_response)
}

async fn begin_replacement(
    mfa: MfaSession,
    Json(_): Json<serde::de::IgnoredAny>,
) -> Result<Response, Response> {
    let replacement = mfa
        .replacement()
        .await
        .map_err(IntoResponse::into_response)?;
    ticket_json(&replacement).map_err(IntoResponse::into_response)
}

async fn confirm_replacement(
    mut mfa: MfaSession,
    Json(body): Json<CodeBody>,
) -> Result<Response, Response> {
    let now = mfa.now();
    accepted(mfa.confirm_replacement(&body.code).await, now)?;
    Ok(Json(serde_json::json!({ "status": "replaced" })).into_response())
}

async fn cancel_replacement(
    mfa: MfaSession,
    Json(_): Json<serde::de::IgnoredAny>,
) -> Result<Response, Response> {
    mfa.cancel_replacement()
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(serde_json::json!({ "status": "cancelled" })).into_response())
}

/// A new secret's QR code, key and expiry.
fn ticket_json(enrollment: &Enrollment) -> Result<Response, Error> {
    let ticket = &enrollment.ticket;
    Ok(Json(serde_json::json!({
        "otpauth_uri": ticket.expose_uri(),
        "secret": ticket.expose_secret(),
        "qr_svg": ticket.qr_svg()?,
        "expires_at": ticket.expires_at(),
        "expires_in": enrollment.expires_in,
    }))
    .into_response())
}

async fn confirm(mut mfa: MfaSession, Json(body): Json<CodeBody>) -> Result<Response, Response> {
    let now = mfa.now();
    let enrolled = accepted(mfa.confirm(&body.code).await, now)?;
    let codes: Vec<&str> = enrolled.recovery_codes.expose().collect();
    Ok(Json(serde_json::json!({ "recovery_codes": codes })).into_response())
}

async fn cancel(
    mfa: MfaSession,
    Json(_): Json<serde::de::IgnoredAny>,
) -> Result<Response, Response> {
    mfa.cancel_enrollment()
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(serde_json::json!({ "status": "cancelled" })).into_response())
}

async fn login(mut mfa: MfaSession, code: &str, kind: CodeKind) -> Result<Response, Response> {
    let now = mfa.now();
    let body = match accepted(mfa.verify(code, kind).await, now)? {
        UsedCode::Recovery(used) => {
            serde_json::json!({ "status": "verified", "recovery_codes_left": used.remaining })
        }
        _ => serde_json::json!({ "status": "verified" }),
    };
    Ok(Json(body).into_response())
}

async fn challenge(mfa: MfaSession, Json(body): Json<CodeBody>) -> Result<Response, Response> {
    login(mfa, &body.code, CodeKind::Totp).await
}

async fn recovery(mfa: MfaSession, Json(body): Json<CodeBody>) -> Result<Response, Response> {
    login(mfa, &body.code, CodeKind::Recovery).await
}

async fn regenerate(mfa: MfaSession, Json(body): Json<CodeBody>) -> Result<Response, Response> {
    let now = mfa.now();
    let codes = accepted(mfa.regenerate_recovery_codes(&body.code).await, now)?;
    let codes: Vec<&str> = codes.expose().collect();
    Ok(Json(serde_json::json!({ "recovery_codes": codes })).into_response())
}

async fn disable(mfa: MfaSession, Json(body): Json<CodeBody>) -> Result<Response, Response> {
    let now = mfa.now();
    accepted(mfa.disable(&body.code).await, now)?;
    Ok(Json(serde_json::json!({ "status": "disabled" })).into_response())
}
