//! Registration, sign-in and sign-out.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

// A refused form redirects to its page with the key of what was refused;
// what was typed comes in the form's sealed answer cookie, shown only with
// the key (a plain visit shows an empty form).
use super::{
    AUDIT, AppState, Checked, Client, Csrf, Notice, Page, Refused, SignInForm, mfa_broken,
    redirect_with_cookie, with_cookie,
};
use mfa_axum::UserId;

use crate::cookies::AnswerTo;
use crate::db::{Attempt, User};
use crate::flow::USER_KEY;
use crate::pages::{self, Field, Registration};
use crate::security::{
    Broken, decoy_hash, hash_password, new_user_id, password_matches, rotate_csrf,
};

pub(super) async fn home() -> Redirect {
    Redirect::to("/account")
}

/// Whether someone is signed in (reading the session stores nothing).
async fn signed_in(session: &Session) -> Result<bool, Broken> {
    Ok(session.get::<String>(USER_KEY).await?.is_some())
}

/// A refused registration, carried to the form (never the password).
#[derive(Serialize, Deserialize)]
struct RegisterAnswer {
    name: String,
    email: String,
    customer: i64,
    otp: bool,
}

pub(super) async fn register_form(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    refused: Refused,
) -> Page {
    // Signed in already: the account (the guard sends on from there).
    if signed_in(&session).await? {
        return Ok(Redirect::to("/account").into_response());
    }
    // The form's token comes with a cookie of its own: a visitor who has
    // not signed in has no stored session.
    let (csrf, set_cookie) = app.cookies.form(&headers)?;
    let customers = app.db.customers().await?;
    // The field to fix comes from the key; what was typed, if its cookie
    // is still there.
    let problem = refused.error.as_deref().and_then(Field::named);
    let answer = problem.and_then(|_| {
        app.cookies
            .open_answer::<RegisterAnswer>(&headers, AnswerTo::Register, app.now())
    });
    let values = match &answer {
        Some(answer) => Registration {
            name: &answer.name,
            email: &answer.email,
            customer: Some(answer.customer),
            otp: answer.otp,
        },
        None => Registration {
            customer: customers.first().map(|c| c.id),
            ..Registration::default()
        },
    };
    let page = pages::register(&customers, &values, problem, &csrf);
    Ok(with_cookie(page.into_response(), set_cookie.as_deref()))
}

#[derive(Deserialize)]
pub(super) struct RegisterForm {
    csrf: String,
    name: String,
    email: String,
    password: String,
    customer: i64,
    otp: Option<String>,
}

/// Lower case, trimmed: one account per address however it is typed.
fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The longest address SMTP allows (RFC 5321 §4.5.3.1.3).
const MAX_EMAIL: usize = 254;

/// An address Lumen can sign in and enroll: RFC 5322 (the `email_address`
/// crate), at most 254 bytes, a dotted domain, nothing an authenticator
/// app's account label cannot carry (no `:`, no quotes, no spaces or
/// control characters).
fn valid_email(email: &str) -> bool {
    plausible_email(email)
        && email_address::EmailAddress::is_valid(email)
        && email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains([':', '"'])
}

/// Cheap checks every sign-in address passes before it reaches a query: a
/// length and no control characters or spaces.
fn plausible_email(email: &str) -> bool {
    !email.is_empty()
        && email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn registration_problem(form: &RegisterForm, email: &str) -> Option<Field> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Some(Field::Name);
    }
    if !valid_email(email) {
        return Some(Field::Email);
    }
    let length = form.password.chars().count();
    if !(8..=128).contains(&length) {
        return Some(Field::Password);
    }
    None
}

pub(super) async fn register(
    State(app): State<AppState>,
    headers: HeaderMap,
    SignInForm(form): SignInForm<RegisterForm>,
) -> Page {
    let customers = app.db.customers().await?;
    let email = normalize_email(&form.email);
    let customer = customers.iter().find(|c| c.id == form.customer);
    let problem = match customer {
        None => Some(Field::Customer),
        Some(_) => registration_problem(&form, &email),
    };
    let (Some(customer), None) = (customer, problem) else {
        // Post/Redirect/Get: the form again, with what was typed (not the
        // password) and the field to fix.
        let field = problem.unwrap_or(Field::Customer);
        let answer = RegisterAnswer {
            name: form.name.chars().take(100).collect(),
            email: form.email.chars().take(254).collect(),
            customer: form.customer,
            otp: form.otp.is_some(),
        };
        let sealed = app
            .cookies
            .seal_answer(&headers, AnswerTo::Register, &answer, app.now())?;
        let to = format!("/register?error={}", field.id());
        return Ok(redirect_with_cookie(&to, &sealed));
    };
    let password = form.password.clone();
    let password_hash = app.hashing.run(move || hash_password(&password)).await??;
    let user = User {
        id: new_user_id()?,
        name: form.name.trim().to_owned(),
        email,
        password_hash,
        customer: customer.clone(),
    };
    // An address already registered gets the same answer as a new one,
    // so the form does not tell who has an account.
    if app.db.create_user(&user, app.now()).await? && (form.otp.is_some() || customer.mfa_required)
    {
        app.mfa
            .opt_in(&UserId::new(user.id.as_str()))
            .await
            .map_err(mfa_broken)?;
    }
    let done = Redirect::to("/login?notice=registered").into_response();
    Ok(with_cookie(
        done,
        Some(&app.cookies.clear_answer(AnswerTo::Register)),
    ))
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    csrf: String,
    email: String,
    password: String,
}

protected!(RegisterForm, LoginForm);

/// A refused sign-in, carried to the sign-in page: the address as typed
/// and, if the address was locked, until when.
#[derive(Serialize, Deserialize)]
struct LoginAnswer {
    email: String,
    locked_until: Option<u64>,
}

pub(super) async fn login_form(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    notice: Notice,
    refused: Refused,
) -> Page {
    if signed_in(&session).await? {
        return Ok(Redirect::to("/account").into_response());
    }
    let (csrf, set_cookie) = app.cookies.form(&headers)?;
    let now = app.now();
    let answer = refused.error.as_ref().and_then(|_| {
        app.cookies
            .open_answer::<LoginAnswer>(&headers, AnswerTo::Login, now)
    });
    let (email, error) = match &answer {
        Some(a) => (
            a.email.as_str(),
            Some(match a.locked_until {
                Some(until) if until > now => format!(
                    "Too many failed sign-ins. Try again in {}.",
                    pages::time_left(until - now)
                ),
                // The lock has ended since (the password was not checked).
                Some(_) => "Too many failed sign-ins. You can try again now.".to_owned(),
                None => "Email or password is incorrect.".to_owned(),
            }),
        ),
        None => ("", None),
    };
    let page = pages::login(email, error.as_deref(), notice.text(), &csrf).into_response();
    Ok(with_cookie(page, set_cookie.as_deref()))
}

/// The answer to a refused sign-in (Post/Redirect/Get): back to the form,
/// which shows the address typed and why, so a reload submits nothing
/// (and costs no attempt).
fn login_refused(
    app: &AppState,
    headers: &HeaderMap,
    email: &str,
    locked_until: Option<u64>,
) -> Page {
    let answer = LoginAnswer {
        email: email.chars().take(254).collect(),
        locked_until,
    };
    let sealed = app
        .cookies
        .seal_answer(headers, AnswerTo::Login, &answer, app.now())?;
    let to = match locked_until {
        Some(_) => "/login?error=locked",
        None => "/login?error=incorrect",
    };
    Ok(redirect_with_cookie(to, &sealed))
}

pub(super) async fn login(
    State(app): State<AppState>,
    session: Session,
    client: Client,
    headers: HeaderMap,
    SignInForm(form): SignInForm<LoginForm>,
) -> Page {
    let email = normalize_email(&form.email);
    let now = app.now();
    // No account can have such an address: the generic answer, without a
    // query (so no throttle row with an unbounded key).
    if !plausible_email(&email) {
        return login_refused(&app, &headers, &form.email, None);
    }
    // A browser that signed in to this account before (its device cookie
    // says so) has an attempt budget of its own (OWASP's device cookies):
    // strangers who lock the address do not lock it out.
    let device = app.cookies.device(&headers, &email, now);
    let throttled = device
        .as_ref()
        .map_or_else(|| email.clone(), |d| d.throttle_key(&email));
    let trusted_device = device.is_some();
    // A place to check the password first (a full queue is a 503 that costs
    // no attempt), then the attempt counted before the password is
    // checked: simultaneous guesses cannot outrun the lock.
    let slot = app.hashing.reserve()?;
    if let Attempt::Locked { until } = app.db.sign_in_attempt(&throttled, now).await? {
        tracing::info!(
            target: AUDIT, event = "sign_in_locked", email, until, trusted_device,
            address = %client.address, agent = ?client.agent,
        );
        return login_refused(&app, &headers, &form.email, Some(until));
    }
    let user = app.db.user_by_email(&email).await?;
    let stored = user
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let password = form.password.clone();
    let matches = slot
        .run(move || password_matches(&password, &stored))
        .await?;
    let Some(user) = user.filter(|_| matches) else {
        tracing::info!(
            target: AUDIT, event = "sign_in_failed", email, trusted_device,
            address = %client.address, agent = ?client.agent,
        );
        return login_refused(&app, &headers, &form.email, None);
    };
    // Forgives this browser's attempts only: a stranger's lock on the
    // address stays.
    app.db.sign_in_succeeded(&throttled).await?;
    tracing::info!(
        target: AUDIT, event = "signed_in", user = %user.id, trusted_device,
        address = %client.address, agent = ?client.agent,
    );
    let trust = app.cookies.trust(&headers, &email, device.as_ref(), now)?;
    // Lumen's own sign-in: a new session id (against fixation) holding the
    // user. mfa-axum reads it from there; there is nothing else to call.
    session.cycle_id().await.map_err(Broken::Session)?;
    session
        .insert(USER_KEY, &user.id)
        .await
        .map_err(Broken::Session)?;
    rotate_csrf(&session).await?;
    // The MFA guard on /account sends the user on: enrollment, code, or in.
    let done = redirect_with_cookie("/account", &trust);
    Ok(with_cookie(
        done,
        Some(&app.cookies.clear_answer(AnswerTo::Login)),
    ))
}

pub(super) async fn logout(
    State(app): State<AppState>,
    session: Session,
    Checked(_): Checked<Csrf>,
) -> Page {
    // Everything goes: the user, the MFA assurance, the CSRF token, and
    // any refused form's answer (an address typed on a shared computer).
    session.flush().await.map_err(Broken::Session)?;
    let out = Redirect::to("/login?notice=signed-out").into_response();
    let out = with_cookie(out, Some(&app.cookies.clear_answer(AnswerTo::Login)));
    Ok(with_cookie(
        out,
        Some(&app.cookies.clear_answer(AnswerTo::Register)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        assert!(valid_email("ada@example.com"));
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a@b@example.com",
            "ada @example.com",
            "ada@localhost",
            "colon:user@example.com",
            "\"colon:user\"@example.com",
            "nul\0@example.com",
            long.as_str(),
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn notices_come_from_a_fixed_list() {
        let notice = |n: &str| {
            Notice {
                notice: Some(n.to_owned()),
            }
            .text()
        };
        assert!(notice("registered").is_some());
        assert!(notice("<script>alert(1)</script>").is_none());
    }
}
