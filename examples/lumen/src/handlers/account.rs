//! Manage My Account, behind the MFA guard.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use mfa_axum::{Assurance, CodeKind, UserPolicy};
use mfa_flow::{FlowError, MfaError, Outcome};
use tower_sessions::Session;

use super::{
    AppState, Checked, CodeForm, Csrf, Notice, Page, SignedIn, mfa_broken, refusal, with_status,
};
use crate::pages::{self, Account, Tab};
use crate::security::csrf_token;

async fn account_page(
    app: &AppState,
    session: &Session,
    a: &Assurance,
    tab: Tab,
    message: (Option<&str>, Option<&str>),
    status: StatusCode,
) -> Page {
    let Some(user) = app.db.user(&a.user).await? else {
        mfa_axum::sign_out(session).await.map_err(mfa_broken)?;
        return Ok(Redirect::to("/login").into_response());
    };
    let mfa_status = app
        .mfa
        .service()
        .status(&a.user)
        .await
        .map_err(mfa_broken)?;
    let csrf = csrf_token(session).await?;
    let view = Account {
        user: &user,
        status: &mfa_status,
        now: app.now(),
    };
    let (error, notice) = message;
    Ok(with_status(
        status,
        pages::account(&view, tab, error, notice, &csrf),
    ))
}

pub(super) async fn profile(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Query(notice): Query<Notice>,
) -> Page {
    let message = (None, notice.text());
    account_page(&app, &session, &a, Tab::Profile, message, StatusCode::OK).await
}

pub(super) async fn authentication(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Query(notice): Query<Notice>,
) -> Page {
    let message = (None, notice.text());
    account_page(
        &app,
        &session,
        &a,
        Tab::Authentication,
        message,
        StatusCode::OK,
    )
    .await
}

pub(super) async fn enable(
    State(app): State<AppState>,
    SignedIn(a): SignedIn,
    Checked(_): Checked<Csrf>,
) -> Page {
    app.mfa
        .service()
        .opt_in(&a.user)
        .await
        .map_err(mfa_broken)?;
    Ok(Redirect::to("/mfa/enroll").into_response())
}

pub(super) async fn disable(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Checked(form): Checked<CodeForm>,
) -> Page {
    let policy = app.mfa.policy().policy(&a.user).await;
    let tab = Tab::Authentication;
    match app.mfa.service().disable(&a.user, policy, &form.code).await {
        Ok(Outcome::Accepted(())) => {
            Ok(Redirect::to("/account/authentication?notice=mfa-off").into_response())
        }
        Ok(refused) => {
            let (status, text) = refusal(&refused, app.now(), CodeKind::Totp);
            account_page(&app, &session, &a, tab, (Some(&text), None), status).await
        }
        Err(MfaError::Flow(FlowError::PolicyForbids)) => {
            let text = "Your organisation requires multi-factor authentication.";
            let status = StatusCode::FORBIDDEN;
            account_page(&app, &session, &a, tab, (Some(text), None), status).await
        }
        Err(e) => Err(mfa_broken(e)),
    }
}

pub(super) async fn regenerate(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Checked(form): Checked<CodeForm>,
) -> Page {
    let service = app.mfa.service();
    match service.regenerate_recovery_codes(&a.user, &form.code).await {
        Ok(Outcome::Accepted(codes)) => {
            let csrf = csrf_token(&session).await?;
            let codes: Vec<&str> = codes.expose().collect();
            Ok(pages::recovery_codes(&codes, "Your new recovery codes", &csrf).into_response())
        }
        Ok(refused) => {
            let (status, text) = refusal(&refused, app.now(), CodeKind::Totp);
            let message = (Some(text.as_str()), None);
            account_page(&app, &session, &a, Tab::Authentication, message, status).await
        }
        Err(e) => Err(mfa_broken(e)),
    }
}
