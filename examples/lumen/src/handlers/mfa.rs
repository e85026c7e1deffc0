//! Enrollment, the code page and the recovery-code page: thin renderers of
//! mfa-axum's `MfaSession`.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use mfa_axum::{CodeKind, Error, Level, MfaSession, Requirement};
use mfa_flow::{Outcome, Policy, StateKind};

use super::{
    AppState, Checked, CodeForm, CodePage, Csrf, Page, Refused, mfa_broken, refused, with_status,
};
use crate::cookies::{CODES_PAGE, Issued};
use crate::pages::{self, Enrollment, Purpose};
use crate::security::csrf_token;

/// The enrollment page: the pending QR code again if there is one, a new
/// one otherwise.
async fn enroll_page(mfa: &MfaSession, refusal: &Refused) -> Page {
    let enrollment = match mfa.enrollment().await {
        Ok(enrollment) => enrollment,
        Err(Error::AlreadyEnrolled) => return Ok(Redirect::to("/account").into_response()),
        Err(e) => return Err(mfa_broken(e)),
    };
    let csrf = csrf_token(mfa.session()).await?;
    // A user whose organisation leaves MFA to them may put it off.
    let purpose = Purpose::First {
        can_postpone: mfa.policy().await == Policy::Optional,
    };
    let uri = enrollment.ticket.expose_uri();
    let qr_svg = enrollment.ticket.qr_svg().map_err(mfa_broken)?;
    let view = Enrollment {
        purpose,
        uri,
        qr_svg: &qr_svg,
        secret: enrollment.ticket.expose_secret(),
        account: &enrollment.account,
        issuer: &enrollment.issuer,
        expires_in: enrollment.expires_in,
    };
    let text = refusal.shown(mfa, CodePage::Enrollment).await?;
    Ok(pages::enroll(&view, text.as_deref(), None, &csrf).into_response())
}

pub(super) async fn enroll_form(mfa: MfaSession, refusal: Refused) -> Page {
    enroll_page(&mfa, &refusal).await
}

/// "Not now": an optional opt-in put off, back to the account with MFA off.
/// A required enrollment cannot be skipped.
pub(super) async fn postpone(mfa: MfaSession, Checked(_): Checked<Csrf>) -> Page {
    match mfa.cancel_enrollment().await {
        Ok(()) => Ok(Redirect::to("/account?notice=mfa-postponed").into_response()),
        Err(Error::AlreadyEnrolled) => Ok(Redirect::to("/account").into_response()),
        Err(Error::PolicyForbids) => {
            let text =
                "Your organisation requires multi-factor authentication. Set it up to continue";
            Ok(with_status(StatusCode::FORBIDDEN, pages::error(403, text)))
        }
        Err(e) => Err(mfa_broken(e)),
    }
}

pub(super) async fn enroll(
    State(app): State<AppState>,
    mut mfa: MfaSession,
    Checked(form): Checked<CodeForm>,
) -> Page {
    match mfa.confirm(&form.code).await {
        Ok(Outcome::Accepted(enrolled)) => {
            // Post/Redirect/Get: the codes go, sealed, to the page that
            // shows them once.
            let codes: Vec<&str> = enrolled.recovery_codes.expose().collect();
            let why = Issued::Enrollment;
            let sealed = app
                .cookies
                .seal_codes(mfa.user().as_str(), why, &codes, mfa.now())?;
            Ok(super::redirect_with_cookie(CODES_PAGE, &sealed))
        }
        // Finished in another tab: say so, not "expired".
        Err(Error::NoPendingEnrollment) if enrolled(&mfa).await? => {
            Ok(Redirect::to("/account?notice=mfa-on").into_response())
        }
        Ok(Outcome::Expired) | Err(Error::NoPendingEnrollment) => {
            Ok(Redirect::to("/mfa/expired").into_response())
        }
        Ok(refusal) => Ok(refused(&refusal, "/mfa/enroll", None)),
        Err(e) => Err(mfa_broken(e)),
    }
}

/// Whether the user's MFA is on.
async fn enrolled(mfa: &MfaSession) -> Result<bool, super::Problem> {
    let status = mfa.status().await.map_err(mfa_broken)?;
    Ok(status.state == StateKind::Active)
}

pub(super) async fn expired(mfa: MfaSession) -> Page {
    if enrolled(&mfa).await? {
        return Ok(Redirect::to("/account").into_response());
    }
    let csrf = csrf_token(mfa.session()).await?;
    Ok(pages::expired(&csrf).into_response())
}

/// The code pages, for a session whose login needs a code; anyone else goes
/// to the account page, where the guard sends them on. A refused code
/// comes back here with its key; a lock in force shows its countdown with
/// the field disabled, on a reload too.
async fn code_form(mfa: &MfaSession, kind: CodeKind, refusal: &Refused) -> Page {
    if mfa.requirement(None).await.map_err(mfa_broken)? != Requirement::Code {
        return Ok(Redirect::to("/account").into_response());
    }
    let csrf = csrf_token(mfa.session()).await?;
    Ok(match kind {
        CodeKind::Recovery => {
            let text = refusal.shown(mfa, CodePage::Recovery).await?;
            pages::recovery(text.as_deref(), &csrf)
        }
        _ => {
            let status = mfa.status().await.map_err(mfa_broken)?;
            let now = mfa.now();
            let text = refusal.text(CodePage::Challenge, &status, now);
            let locked_for = status.locked_until.map(|u| u.saturating_sub(now));
            let text = text.or_else(|| locked_for.map(|_| "Too many wrong codes.".to_owned()));
            pages::challenge(text.as_deref(), locked_for, &csrf)
        }
    }
    .into_response())
}

/// A submitted code: one MFA record load (the check itself).
async fn check_code(mut mfa: MfaSession, form: &CodeForm, kind: CodeKind) -> Page {
    if mfa.assurance().level == Level::Mfa {
        return Ok(Redirect::to("/account").into_response());
    }
    match mfa.verify(&form.code, kind).await {
        Ok(Outcome::Accepted(_)) if kind == CodeKind::Recovery => {
            Ok(Redirect::to("/account/authentication?notice=recovery-used").into_response())
        }
        Ok(Outcome::Accepted(_)) | Err(Error::NotEnrolled) => {
            Ok(Redirect::to("/account").into_response())
        }
        Ok(refusal) => {
            let page = match kind {
                CodeKind::Recovery => "/mfa/recovery",
                _ => "/mfa/challenge",
            };
            Ok(refused(&refusal, page, None))
        }
        Err(e) => Err(mfa_broken(e)),
    }
}

pub(super) async fn challenge_form(mfa: MfaSession, refusal: Refused) -> Page {
    code_form(&mfa, CodeKind::Totp, &refusal).await
}

pub(super) async fn challenge(mfa: MfaSession, Checked(form): Checked<CodeForm>) -> Page {
    check_code(mfa, &form, CodeKind::Totp).await
}

pub(super) async fn recovery_form(mfa: MfaSession, refusal: Refused) -> Page {
    code_form(&mfa, CodeKind::Recovery, &refusal).await
}

pub(super) async fn recovery(mfa: MfaSession, Checked(form): Checked<CodeForm>) -> Page {
    check_code(mfa, &form, CodeKind::Recovery).await
}
