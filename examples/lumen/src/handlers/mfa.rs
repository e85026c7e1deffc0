//! Enrolment, the code page and the recovery-code page.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use mfa_axum::{Assurance, CodeKind, Failure, Level, UserPolicy};
use mfa_flow::{FlowError, MfaError, Outcome, Requirement};
use tower_sessions::Session;

use super::{
    AppState, Checked, CodeForm, Page, Problem, SignedIn, mfa_broken, refusal, with_status,
};
use crate::pages::{self, Enrolment};
use crate::security::csrf_token;

/// The enrolment page: the pending QR code again if there is one, a new
/// one otherwise.
async fn enroll_page(
    app: &AppState,
    session: &Session,
    user: &str,
    error: Option<(StatusCode, &str)>,
) -> Page {
    let service = app.mfa.service();
    let account = app.mfa.policy().account_name(user).await;
    let ticket = match service.resume_enrollment(user, &account).await {
        Ok(Some(ticket)) => ticket,
        // A refused code on an expired QR code: say so on the expired page.
        Ok(None) if error.is_some() => return Ok(Redirect::to("/mfa/expired").into_response()),
        Ok(None) => match service.begin_enrollment(user, &account).await {
            Ok(ticket) => ticket,
            Err(MfaError::Flow(FlowError::AlreadyEnrolled)) => {
                return Ok(Redirect::to("/account").into_response());
            }
            Err(e) => return Err(mfa_broken(e)),
        },
        Err(e) => return Err(mfa_broken(e)),
    };
    let csrf = csrf_token(session).await?;
    let view = Enrolment {
        qr_svg: ticket.qr_svg(),
        secret: ticket.expose_secret(),
        account: &account,
        issuer: &service.config().issuer,
        expires_in: ticket.expires_at().saturating_sub(service.now()),
    };
    let (status, text) = error.map_or((StatusCode::OK, None), |(s, t)| (s, Some(t)));
    Ok(with_status(status, pages::enroll(&view, text, &csrf)))
}

pub(super) async fn enroll_form(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
) -> Page {
    enroll_page(&app, &session, &a.user, None).await
}

pub(super) async fn enroll(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Checked(form): Checked<CodeForm>,
) -> Page {
    match app.mfa.confirm(&session, &form.code).await {
        Ok(Outcome::Accepted(enrolled)) => {
            let csrf = csrf_token(&session).await?;
            let codes: Vec<&str> = enrolled.recovery_codes.expose().collect();
            let heading = "Multi-factor authentication is on";
            Ok(pages::recovery_codes(&codes, heading, &csrf).into_response())
        }
        Ok(Outcome::Expired) => Ok(Redirect::to("/mfa/expired").into_response()),
        Ok(refused) => {
            let (status, text) = refusal(&refused, app.now(), CodeKind::Totp);
            enroll_page(&app, &session, &a.user, Some((status, &text))).await
        }
        Err(Failure::Mfa(MfaError::Flow(FlowError::NoPendingEnrollment))) => {
            Ok(Redirect::to("/mfa/expired").into_response())
        }
        Err(Failure::NotSignedIn) => Ok(Redirect::to("/login").into_response()),
        Err(e) => Err(mfa_broken(e)),
    }
}

pub(super) async fn expired(session: Session, SignedIn(_): SignedIn) -> Page {
    let csrf = csrf_token(&session).await?;
    Ok(pages::expired(&csrf).into_response())
}

/// Whether this signed-in user is one who should see a code page; anyone
/// else goes to the account page, where the guard sends them on.
async fn wants_a_code(app: &AppState, a: &Assurance) -> Result<bool, Problem> {
    if a.level == Level::Mfa {
        return Ok(false);
    }
    let policy = app.mfa.policy().policy(&a.user).await;
    let needs = app
        .mfa
        .service()
        .requirement(&a.user, policy)
        .await
        .map_err(mfa_broken)?;
    Ok(needs == Requirement::Code)
}

async fn code_form(app: &AppState, session: &Session, a: &Assurance, kind: CodeKind) -> Page {
    if !wants_a_code(app, a).await? {
        return Ok(Redirect::to("/account").into_response());
    }
    let csrf = csrf_token(session).await?;
    Ok(match kind {
        CodeKind::Recovery => pages::recovery(None, &csrf),
        _ => pages::challenge(None, &csrf),
    }
    .into_response())
}

async fn check_code(
    app: &AppState,
    session: &Session,
    a: &Assurance,
    form: &CodeForm,
    kind: CodeKind,
) -> Page {
    if !wants_a_code(app, a).await? {
        return Ok(Redirect::to("/account").into_response());
    }
    match app.mfa.verify(session, &form.code, kind).await {
        Ok(Outcome::Accepted(_)) if kind == CodeKind::Recovery => {
            Ok(Redirect::to("/account/authentication?notice=recovery-used").into_response())
        }
        Ok(Outcome::Accepted(_)) => Ok(Redirect::to("/account").into_response()),
        Ok(refused) => {
            let (status, text) = refusal(&refused, app.now(), kind);
            let csrf = csrf_token(session).await?;
            let page = match kind {
                CodeKind::Recovery => pages::recovery(Some(&text), &csrf),
                _ => pages::challenge(Some(&text), &csrf),
            };
            Ok(with_status(status, page))
        }
        Err(Failure::NotSignedIn) => Ok(Redirect::to("/login").into_response()),
        Err(e) => Err(mfa_broken(e)),
    }
}

pub(super) async fn challenge_form(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
) -> Page {
    code_form(&app, &session, &a, CodeKind::Totp).await
}

pub(super) async fn challenge(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Checked(form): Checked<CodeForm>,
) -> Page {
    check_code(&app, &session, &a, &form, CodeKind::Totp).await
}

pub(super) async fn recovery_form(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
) -> Page {
    code_form(&app, &session, &a, CodeKind::Recovery).await
}

pub(super) async fn recovery(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Checked(form): Checked<CodeForm>,
) -> Page {
    check_code(&app, &session, &a, &form, CodeKind::Recovery).await
}
