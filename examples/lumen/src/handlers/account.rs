//! Manage My Account, behind the MFA guard: thin renderers of mfa-axum's
//! `MfaSession`.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use http::HeaderMap;
use mfa_axum::{CodeKind, Error, MfaSession};
use mfa_flow::Outcome;

use super::{
    AUDIT, AppState, Checked, Client, CodeForm, CodePage, Csrf, Notice, Page, Refused, mfa_broken,
    refused,
};
use crate::cookies::{CODES_PAGE, Issued};
use crate::pages::{self, Account, Enrollment, Purpose, Tab};
use crate::security::csrf_token;

/// The tab of Manage My Account; on the Authentication tab, the error of a
/// refused code below the field of the form that sent it.
async fn account_page(
    app: &AppState,
    mfa: &MfaSession,
    tab: Tab,
    notice: &Notice,
    refusal: &Refused,
) -> Page {
    let session = mfa.session();
    let Some(user) = app.db.user(mfa.user().as_str()).await? else {
        session.flush().await?;
        return Ok(Redirect::to("/login").into_response());
    };
    let mfa_status = mfa.status().await.map_err(mfa_broken)?;
    let csrf = csrf_token(session).await?;
    let now = mfa.now();
    let view = Account {
        user: &user,
        status: &mfa_status,
        now,
    };
    let form = refusal.form().and_then(pages::CodeForm::named);
    let text = form.and_then(|_| refusal.text(CodePage::Either, &mfa_status, now));
    let error = form.zip(text.as_deref());
    Ok(pages::account(&view, tab, error, notice.text(), &csrf).into_response())
}

pub(super) async fn profile(State(app): State<AppState>, mfa: MfaSession, notice: Notice) -> Page {
    account_page(&app, &mfa, Tab::Profile, &notice, &Refused::none()).await
}

pub(super) async fn authentication(
    State(app): State<AppState>,
    mfa: MfaSession,
    notice: Notice,
    refusal: Refused,
) -> Page {
    account_page(&app, &mfa, Tab::Authentication, &notice, &refusal).await
}

/// The Authentication tab, where a refused code of `form` is shown.
const AUTHENTICATION: &str = "/account/authentication";

pub(super) async fn enable(mfa: MfaSession, client: Client, Checked(_): Checked<Csrf>) -> Page {
    mfa.opt_in().await.map_err(mfa_broken)?;
    audit("mfa_opted_in", &mfa, &client);
    Ok(Redirect::to("/mfa/enroll").into_response())
}

pub(super) async fn disable(
    mfa: MfaSession,
    client: Client,
    Checked(form): Checked<CodeForm>,
) -> Page {
    match mfa.disable(&form.code).await {
        Ok(Outcome::Accepted(())) => {
            audit("mfa_turned_off", &mfa, &client);
            Ok(Redirect::to("/account/authentication?notice=mfa-off").into_response())
        }
        Ok(refusal) => Ok(refused(&refusal, AUTHENTICATION, Some("disable"))),
        // The organisation requires MFA (it may have changed since the page
        // was shown): the tab says so and offers no Turn off.
        Err(Error::PolicyForbids) => Ok(Redirect::to(AUTHENTICATION).into_response()),
        Err(Error::MfaRequired) => Ok(Redirect::to("/mfa/challenge").into_response()),
        Err(e) => Err(mfa_broken(e)),
    }
}

pub(super) async fn regenerate(
    State(app): State<AppState>,
    mfa: MfaSession,
    client: Client,
    Checked(form): Checked<CodeForm>,
) -> Page {
    match mfa.regenerate_recovery_codes(&form.code).await {
        Ok(Outcome::Accepted(codes)) => {
            audit("recovery_codes_regenerated", &mfa, &client);
            let codes: Vec<&str> = codes.expose().collect();
            let why = Issued::Regenerated;
            let sealed = app
                .cookies
                .seal_codes(mfa.user().as_str(), why, &codes, mfa.now())?;
            Ok(super::redirect_with_cookie(CODES_PAGE, &sealed))
        }
        Ok(refusal) => Ok(refused(&refusal, AUTHENTICATION, Some("regenerate"))),
        Err(Error::MfaRequired) => Ok(Redirect::to("/mfa/challenge").into_response()),
        // MFA was turned off meanwhile (another tab): the tab shows it.
        Err(Error::NotEnrolled) => Ok(Redirect::to("/account/authentication").into_response()),
        Err(e) => Err(mfa_broken(e)),
    }
}

/// The recovery codes just issued, shown once (Post/Redirect/Get): opened
/// from their sealed cookie, which this answer removes. A reload says they
/// were shown and offers new ones.
pub(super) async fn recovery_codes(
    State(app): State<AppState>,
    mfa: MfaSession,
    headers: HeaderMap,
) -> Page {
    let csrf = csrf_token(mfa.session()).await?;
    let shown = app
        .cookies
        .open_codes(&headers, mfa.user().as_str(), mfa.now());
    let page = match &shown {
        Some(shown) => {
            let codes: Vec<&str> = shown.codes.split(' ').collect();
            let heading = match shown.why {
                Issued::Enrollment => "Multi-factor authentication is on",
                Issued::Regenerated => "Your new recovery codes",
            };
            let email = app.db.user(mfa.user().as_str()).await?.map(|u| u.email);
            let owner = pages::CodesFor {
                account: email.as_deref().unwrap_or(""),
                issuer: crate::app::ISSUER,
            };
            pages::recovery_codes(&codes, heading, &owner, &csrf)
        }
        None => pages::codes_already_shown(&csrf),
    };
    let clear = app.cookies.clear_codes();
    Ok(super::with_cookie(page.into_response(), Some(&clear)))
}

/// The page that sets up a new authenticator app (a new phone, or a lost
/// one after a recovery-code sign-in): its QR code, or first "confirm it's
/// you" when the session's last code is over ten minutes old.
pub(super) async fn replace_form(mfa: MfaSession, notice: Notice, refusal: Refused) -> Page {
    let replacement = match mfa.replacement().await {
        Ok(replacement) => replacement,
        Err(Error::MfaRequired) => {
            let text = refusal.shown(&mfa, CodePage::Either).await?;
            let csrf = csrf_token(mfa.session()).await?;
            return Ok(pages::reverify(text.as_deref(), &csrf).into_response());
        }
        // MFA is off (another tab turned it off): the tab shows it.
        Err(Error::NotEnrolled) => {
            return Ok(Redirect::to(AUTHENTICATION).into_response());
        }
        Err(e) => return Err(mfa_broken(e)),
    };
    let text = refusal.shown(&mfa, CodePage::Replacement).await?;
    let csrf = csrf_token(mfa.session()).await?;
    let uri = replacement.ticket.expose_uri();
    let qr_svg = replacement.ticket.qr_svg().map_err(mfa_broken)?;
    let view = Enrollment {
        purpose: Purpose::Replacement,
        uri,
        qr_svg: &qr_svg,
        secret: replacement.ticket.expose_secret(),
        account: &replacement.account,
        issuer: &replacement.issuer,
        expires_in: replacement.expires_in,
    };
    Ok(pages::enroll(&view, text.as_deref(), notice.text(), &csrf).into_response())
}

/// The page that sets up a new app, and asks "confirm it's you" first.
const REPLACE: &str = "/account/mfa/replace";

/// A code from the new app: it replaces the old one.
pub(super) async fn replace(
    mut mfa: MfaSession,
    client: Client,
    Checked(form): Checked<CodeForm>,
) -> Page {
    match mfa.confirm_replacement(&form.code).await {
        Ok(Outcome::Accepted(_)) => {
            audit("authenticator_replaced", &mfa, &client);
            Ok(Redirect::to("/account/authentication?notice=app-replaced").into_response())
        }
        Ok(Outcome::Expired) => {
            Ok(Redirect::to("/account/mfa/replace?notice=replacement-expired").into_response())
        }
        Ok(refusal) => Ok(refused(&refusal, REPLACE, None)),
        // Nothing pending for this session: confirmed already (a second
        // submit), cancelled, or begun elsewhere. The tab shows the state;
        // no new QR code is made behind the user's back.
        Err(Error::NoPendingReplacement) => {
            Ok(Redirect::to("/account/authentication").into_response())
        }
        Err(Error::MfaRequired) => Ok(Redirect::to("/mfa/challenge").into_response()),
        Err(Error::NotEnrolled) => Ok(Redirect::to("/account/authentication").into_response()),
        Err(e) => Err(mfa_broken(e)),
    }
}

/// "Cancel and keep the current app": the pending new app is dropped.
pub(super) async fn cancel_replacement(mfa: MfaSession, Checked(_): Checked<Csrf>) -> Page {
    match mfa.cancel_replacement().await {
        Ok(()) | Err(Error::MfaRequired) => {
            Ok(Redirect::to("/account/authentication").into_response())
        }
        Err(e) => Err(mfa_broken(e)),
    }
}

/// "Confirm it's you": a code from the current app or a recovery code,
/// then back to the replacement page.
pub(super) async fn reverify(mut mfa: MfaSession, Checked(form): Checked<CodeForm>) -> Page {
    match mfa.verify(&form.code, CodeKind::Any).await {
        Ok(Outcome::Accepted(_)) => Ok(Redirect::to("/account/mfa/replace").into_response()),
        // The replacement page asks again while the session needs it.
        Ok(refusal) => Ok(refused(&refusal, REPLACE, None)),
        Err(Error::NotEnrolled) => Ok(Redirect::to("/account/authentication").into_response()),
        Err(e) => Err(mfa_broken(e)),
    }
}

/// A factor change, with who asked from where.
fn audit(event: &'static str, mfa: &MfaSession, client: &Client) {
    tracing::info!(
        target: AUDIT, event, user = %mfa.user(),
        address = %client.address, agent = ?client.agent,
    );
}
