//! The JSON API of the flow, to nest wherever the application likes.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mfa_flow::{Clock, Login, StateKind, Store};
use serde::Deserialize;
use tower_sessions::Session;

use crate::answer;
use crate::mfa::{CodeKind, Mfa, UserPolicy};
use crate::session::Assurance;

/// Request bodies larger than this are refused (`413`).
pub const MAX_BODY: usize = 4096;

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

/// The JSON routes of the flow (`GET /status`, `POST /enrollment`,
/// `POST /enrollment/confirm`, `POST /challenge`, `POST /recovery`,
/// `POST /recovery-codes`, `POST /disable`), to nest under a prefix such as
/// `/api/mfa`. Every `POST` takes a JSON body (`{"code": "123456"}`, or `{}`
/// to start an enrolment) with `Content-Type: application/json`, so a plain
/// HTML form from another site cannot post to them; bodies over
/// [`MAX_BODY`] bytes are refused.
pub fn routes<St, C, P>(mfa: Arc<Mfa<St, C, P>>) -> Router
where
    St: Store + 'static,
    C: Clock + 'static,
    P: UserPolicy,
{
    Router::new()
        .route("/status", get(status::<St, C, P>))
        .route("/enrollment", post(begin::<St, C, P>))
        .route("/enrollment/confirm", post(confirm::<St, C, P>))
        .route("/challenge", post(challenge::<St, C, P>))
        .route("/recovery", post(recovery::<St, C, P>))
        .route("/recovery-codes", post(regenerate::<St, C, P>))
        .route("/disable", post(disable::<St, C, P>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(mfa)
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

async fn status<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    State(mfa): State<Arc<Mfa<St, C, P>>>,
    signed_in: Assurance,
) -> Response {
    let user = signed_in.user;
    match mfa.service.status(&user).await {
        Ok(s) => Json(serde_json::json!({
            "state": state_name(s.state),
            "confirmed_at": s.confirmed_at,
            "recovery_codes_left": s.recovery_codes_left,
            "locked_until": s.locked_until,
            "hard_locked": s.hard_locked,
        }))
        .into_response(),
        Err(e) => answer::failed(&e),
    }
}

async fn begin<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    State(mfa): State<Arc<Mfa<St, C, P>>>,
    signed_in: Assurance,
    Json(_): Json<serde::de::IgnoredAny>,
) -> Response {
    let user = signed_in.user;
    let account = mfa.policy.account_name(&user).await;
    match mfa.service.begin_enrollment(&user, &account).await {
        Ok(ticket) => {
            let now = mfa.service.now();
            Json(serde_json::json!({
                "otpauth_uri": ticket.expose_uri(),
                "secret": ticket.expose_secret(),
                "qr_svg": ticket.qr_svg(),
                "expires_at": ticket.expires_at(),
                "expires_in": ticket.expires_at().saturating_sub(now),
            }))
            .into_response()
        }
        Err(e) => answer::failed(&e),
    }
}

async fn confirm<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    State(mfa): State<Arc<Mfa<St, C, P>>>,
    session: Session,
    Json(body): Json<CodeBody>,
) -> Result<Response, Response> {
    let now = mfa.service.now();
    let enrolled = answer::raised(mfa.confirm(&session, &body.code).await, now)?;
    let codes: Vec<&str> = enrolled.recovery_codes.expose().collect();
    Ok(Json(serde_json::json!({ "recovery_codes": codes })).into_response())
}

async fn login<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    mfa: &Mfa<St, C, P>,
    session: &Session,
    code: &str,
    kind: CodeKind,
) -> Result<Response, Response> {
    let now = mfa.service.now();
    let body = match answer::raised(mfa.verify(session, code, kind).await, now)? {
        Login::Recovery(used) => {
            serde_json::json!({ "status": "verified", "recovery_codes_left": used.remaining })
        }
        _ => serde_json::json!({ "status": "verified" }),
    };
    Ok(Json(body).into_response())
}

async fn challenge<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    State(mfa): State<Arc<Mfa<St, C, P>>>,
    session: Session,
    Json(body): Json<CodeBody>,
) -> Result<Response, Response> {
    login(&mfa, &session, &body.code, CodeKind::Totp).await
}

async fn recovery<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    State(mfa): State<Arc<Mfa<St, C, P>>>,
    session: Session,
    Json(body): Json<CodeBody>,
) -> Result<Response, Response> {
    login(&mfa, &session, &body.code, CodeKind::Recovery).await
}

async fn regenerate<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    State(mfa): State<Arc<Mfa<St, C, P>>>,
    signed_in: Assurance,
    Json(body): Json<CodeBody>,
) -> Result<Response, Response> {
    let now = mfa.service.now();
    let result = mfa
        .service
        .regenerate_recovery_codes(&signed_in.user, &body.code)
        .await;
    let codes = answer::accepted(result, now)?;
    let codes: Vec<&str> = codes.expose().collect();
    Ok(Json(serde_json::json!({ "recovery_codes": codes })).into_response())
}

async fn disable<St: Store + 'static, C: Clock + 'static, P: UserPolicy>(
    State(mfa): State<Arc<Mfa<St, C, P>>>,
    signed_in: Assurance,
    Json(body): Json<CodeBody>,
) -> Result<Response, Response> {
    let now = mfa.service.now();
    let policy = mfa.policy.policy(&signed_in.user).await;
    let result = mfa
        .service
        .disable(&signed_in.user, policy, &body.code)
        .await;
    answer::accepted(result, now)?;
    Ok(Json(serde_json::json!({ "status": "disabled" })).into_response())
}
