//! The pages' handlers and the router.

/// Forms whose CSRF token is their `csrf` field.
macro_rules! protected {
    ($($form:ty),*) => {
        $(impl crate::handlers::Protected for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}

mod account;
mod mfa;
mod sign_in;
mod web;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, FromRequest, FromRequestParts, Query, Request};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use http::StatusCode;
use http::request::Parts;
use maud::Markup;
use mfa_axum::{Mfa, MfaLayer, MfaSession, SessionLifetimeLayer};
use mfa_flow::{Outcome, Status};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

use crate::client::{self, ClientAddress, ClientLimit};
use crate::config::Config;
use crate::cookies::Cookies;
use crate::db::Db;
use crate::flow::AppClock;
use crate::pages;
use crate::security::{Broken, Hashing, csrf_matches};

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) mfa: Mfa,
    pub(crate) db: Db,
    /// Password hashing, bounded.
    pub(crate) hashing: Arc<Hashing>,
    /// The sign-in form's CSRF cookie and the device cookies.
    pub(crate) cookies: Arc<Cookies>,
}

impl AppState {
    fn now(&self) -> u64 {
        self.mfa.now()
    }
}

/// The `MfaSession` extractor finds the MFA handle in the state.
impl FromRef<AppState> for Mfa {
    fn from_ref(app: &AppState) -> Self {
        app.mfa.clone()
    }
}

/// Something the user cannot fix: logged, answered with an error page.
pub(crate) struct Problem(Broken);

impl<E: Into<Broken>> From<E> for Problem {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::SERVICE_UNAVAILABLE;
        if matches!(self.0, Broken::Busy) {
            tracing::warn!(target: "lumen", "password hashing is at capacity: answered 503");
            let page = pages::error(status.as_u16(), "Lumen is busy. Try again in a moment");
            return (status, [(http::header::RETRY_AFTER, "1")], page).into_response();
        }
        tracing::error!(target: "lumen", error = %self.0, "request failed");
        (
            status,
            pages::error(status.as_u16(), "Something went wrong"),
        )
            .into_response()
    }
}

fn mfa_broken<E: std::error::Error + Send + Sync + 'static>(e: E) -> Problem {
    Problem(Broken::Mfa(Box::new(e)))
}

type Page = Result<Response, Problem>;

/// Who sent a request, for the audit log: the client's address (the
/// peer's, or the one the configured proxy header holds) and the user
/// agent, at most 200 characters.
pub(crate) struct Client {
    pub(crate) address: String,
    pub(crate) agent: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ClientAddress>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string());
        let agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Ok(Self { address, agent })
    }
}

/// The audit target of the app's own events (the flow's are on
/// `mfa_flow::audit`); never a password or a code.
pub(crate) const AUDIT: &str = "lumen::audit";

/// A form that carries the session's CSRF token.
trait Protected: DeserializeOwned {
    fn csrf(&self) -> &str;
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
}

protected!(Csrf, CodeForm);

/// A posted form whose CSRF token is the session's: every form handler
/// takes its form through this, so none can forget the check. A missing or
/// wrong token is refused (403) before the handler runs.
struct Checked<T>(T);

impl<T: Protected + Send, S: Send + Sync> FromRequest<S> for Checked<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let session = request
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match csrf_matches(&session, form.csrf()).await {
            Ok(true) => Ok(Self(form)),
            Ok(false) => Err(expired_form()),
            Err(e) => Err(Problem(e).into_response()),
        }
    }
}

/// A posted sign-in or registration form: its CSRF token must be the one
/// made for the browser's CSRF cookie ([`Cookies::form`]), so these forms
/// need no stored session. A missing or wrong token is refused (403).
struct SignInForm<T>(T);

impl<T: Protected + Send> FromRequest<AppState> for SignInForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let Form(form) = Form::<T>::from_request(request, app)
            .await
            .map_err(IntoResponse::into_response)?;
        if app.cookies.form_matches(&headers, form.csrf()) {
            Ok(Self(form))
        } else {
            Err(expired_form())
        }
    }
}

fn expired_form() -> Response {
    (
        StatusCode::FORBIDDEN,
        pages::error(403, "This form has expired. Reload the page and try again"),
    )
        .into_response()
}

/// The first value of `key` in the request's query, if any. Lenient: a
/// query that does not parse, or names a key twice, is no reason to refuse
/// a page.
fn query_value(parts: &Parts, key: &str) -> Option<String> {
    let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) else {
        return None;
    };
    pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Messages chosen by a key in the query, never text from the query.
struct Notice {
    notice: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Notice {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            notice: query_value(parts, "notice"),
        })
    }
}

impl Notice {
    fn text(&self) -> Option<&'static str> {
        Some(match self.notice.as_deref()? {
            // The same words whether the address was new or taken: the form
            // does not tell who has an account, and says so honestly.
            "registered" => {
                "Registration received. If this address is new, your account is ready; \
                 if it already had an account, sign in with that account's password."
            }
            "signed-out" => "You are signed out.",
            "mfa-off" => "Multi-factor authentication is off.",
            "recovery-used" => {
                "You signed in with a recovery code; that code no longer works. \
                 Regenerate your codes if you are running low, and if you lost your phone, \
                 set up a new authenticator app."
            }
            "mfa-on" => "Multi-factor authentication is on.",
            "mfa-postponed" => {
                "Multi-factor authentication is off. You can turn it on any time under Authentication."
            }
            "app-replaced" => "Your new authenticator app is set up. The old one no longer works.",
            "replacement-expired" => "That QR code expired. Here is a new one.",
            _ => return None,
        })
    }
}

/// Why a code was refused, carried to the page that shows it
/// (Post/Redirect/Get): a refused form redirects to its page with
/// `?error=` and one of these keys, so reloading the answer shows it again
/// without submitting the code again (which would count another failure).
/// The text comes from this list, never from the query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Not a well-formed code.
    Malformed,
    /// A wrong or reused code.
    Invalid,
    /// Refused without a check: too many wrong codes.
    Locked,
}

impl Refusal {
    /// The refusal an outcome is, or `None` for an accepted or expired one.
    fn of<T>(outcome: &Outcome<T>) -> Option<Self> {
        match outcome {
            Outcome::Accepted(_) | Outcome::Expired => None,
            Outcome::Locked { .. } => Some(Self::Locked),
            Outcome::Malformed(_) => Some(Self::Malformed),
            // Wrong, reused, or a refusal added later: not valid.
            _ => Some(Self::Invalid),
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
            Self::Locked => "locked",
        }
    }
}

/// The answer to a refused code: a `303` to `page` naming the refusal
/// (and, on a page with several code forms, which `form` it is about).
/// An outcome that is no refusal leads to the page, which shows the state.
fn refused<T>(outcome: &Outcome<T>, page: &str, form: Option<&str>) -> Response {
    let to = match (Refusal::of(outcome), form) {
        (Some(r), Some(form)) => format!("{page}?error={}&form={form}", r.key()),
        (Some(r), None) => format!("{page}?error={}", r.key()),
        (None, _) => page.to_owned(),
    };
    axum::response::Redirect::to(&to).into_response()
}

/// A page with a code form, for what a refusal there says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CodePage {
    /// Confirming an enrollment's QR code (timed locks only).
    Enrollment,
    /// The sign-in code.
    Challenge,
    /// A recovery code at sign-in (never locked).
    Recovery,
    /// A code from the app or a recovery code: Turn off, Regenerate,
    /// "confirm it's you".
    Either,
    /// Confirming a replacement's new app.
    Replacement,
}

/// The query of a page that code forms redirect to: the refusal's key and,
/// where the page has several code forms, the form's name (first values;
/// anything else is ignored).
struct Refused {
    error: Option<String>,
    form: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Refused {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            error: query_value(parts, "error"),
            form: query_value(parts, "form"),
        })
    }
}

impl Refused {
    /// No refusal.
    fn none() -> Self {
        Self {
            error: None,
            form: None,
        }
    }

    /// The text of the refusal named, from the user's record as it is now
    /// (read only if a refusal is named).
    async fn shown(&self, mfa: &MfaSession, page: CodePage) -> Result<Option<String>, Problem> {
        if self.refusal().is_none() {
            return Ok(None);
        }
        let status = mfa.status().await.map_err(mfa_broken)?;
        Ok(self.text(page, &status, mfa.now()))
    }

    /// The refusal named, if its key is one of the list.
    fn refusal(&self) -> Option<Refusal> {
        match self.error.as_deref()? {
            "malformed" => Some(Refusal::Malformed),
            "invalid" => Some(Refusal::Invalid),
            "locked" => Some(Refusal::Locked),
            _ => None,
        }
    }

    /// What to tell the user on `page`, from the record as it is now: a
    /// lock in force is shown whatever the key (a lock that has ended, or a
    /// wrong code forgiven since, is not), and a wrong code says how many
    /// more pause the app's codes.
    fn text(&self, page: CodePage, status: &Status, now: u64) -> Option<String> {
        const RECOVERY_MALFORMED: &str = "Enter a recovery code as it was shown to you: six \
            groups of four, such as ABCD-EFGH-JKMN-PQRS-TVWX-YZ23.";
        const NOT_VALID: &str = "That code is not valid.";
        let refusal = self.refusal()?;
        if page == CodePage::Recovery {
            // Recovery codes are never locked out.
            return match refusal {
                Refusal::Malformed => Some(RECOVERY_MALFORMED.to_owned()),
                Refusal::Invalid => Some(
                    "That recovery code is not valid, or it was used already: each works once."
                        .to_owned(),
                ),
                Refusal::Locked => None,
            };
        }
        if let Some(until) = status.locked_until.filter(|u| *u > now) {
            let wait = pages::time_left(until - now);
            return Some(match (page, refusal) {
                (CodePage::Either, Refusal::Invalid) => format!(
                    "{NOT_VALID} Codes from your app are paused for {wait} after too many wrong \
                     ones; a recovery code works now."
                ),
                (CodePage::Either, _) => format!(
                    "Too many wrong codes: codes from your app work again in {wait}. \
                     A recovery code works now."
                ),
                _ => format!("Too many wrong codes. Try again in {wait}."),
            });
        }
        // Enrollment has timed locks only.
        if status.hard_locked && page != CodePage::Enrollment {
            return Some(
                "Too many wrong codes: codes from your app are locked. Use a recovery code, \
                 or ask your administrator to unlock your account."
                    .to_owned(),
            );
        }
        let text = match refusal {
            // The lock has ended since: nothing to say.
            Refusal::Locked => return None,
            Refusal::Malformed if page == CodePage::Either => {
                return Some(
                    "Enter the 6-digit code from your app, or a recovery code.".to_owned(),
                );
            }
            Refusal::Malformed => {
                return Some("Enter the 6-digit code from your authenticator app.".to_owned());
            }
            // Forgiven since (a code passed): an old link says nothing.
            Refusal::Invalid if status.failures == 0 => return None,
            Refusal::Invalid => {
                "That code is not valid. Enter the code your app shows now; each code works \
                 once. If the codes keep failing, check that your phone's clock is set \
                 automatically."
            }
        };
        Some(match status.attempts_before_lock {
            0 => text.to_owned(),
            1 => format!("{text} One more wrong code pauses codes from your app."),
            n => format!("{text} {n} more wrong codes pause codes from your app."),
        })
    }

    /// The form the refusal is about, if the query names one.
    fn form(&self) -> Option<&str> {
        self.form.as_deref()
    }
}

/// `response` with a `Set-Cookie` header, if there is one to set.
fn with_cookie(mut response: Response, set_cookie: Option<&str>) -> Response {
    if let Some(value) = set_cookie.and_then(|v| http::HeaderValue::from_str(v).ok()) {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, value);
    }
    response
}

/// A `303` to `to`, setting the cookie `set_cookie`.
fn redirect_with_cookie(to: &str, set_cookie: &str) -> Response {
    with_cookie(
        axum::response::Redirect::to(to).into_response(),
        Some(set_cookie),
    )
}

fn with_status(status: StatusCode, page: Markup) -> Response {
    (status, page).into_response()
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lumen_session";

/// The whole app: pages, the JSON API under `/api/mfa`, sessions in
/// `sessions`.
pub(crate) fn router<S: SessionStore + Clone>(
    app: AppState,
    sessions: S,
    clock: AppClock,
    config: &Config,
    limit: Option<&ClientLimit>,
) -> Router {
    let (secure, bench) = (config.secure_cookies, config.bench_routes);
    let mut guarded = Router::new();
    let mut open = Router::new();
    if bench {
        // The same page with and without the guard, for the load test.
        guarded = guarded.route("/bench/guarded", get(account::profile));
        open = open.route("/bench/unguarded", get(account::profile));
    }
    let guarded = guarded
        .route("/account", get(account::profile))
        .route("/account/authentication", get(account::authentication))
        .route("/account/mfa/enable", post(account::enable))
        .route("/account/mfa/disable", post(account::disable))
        .route("/account/mfa/recovery-codes", post(account::regenerate))
        .route("/account/recovery-codes", get(account::recovery_codes))
        .route(
            "/account/mfa/replace",
            get(account::replace_form).post(account::replace),
        )
        .route("/account/mfa/replace/verify", post(account::reverify))
        .route(
            "/account/mfa/replace/cancel",
            post(account::cancel_replacement),
        )
        .route_layer(MfaLayer::new(&app.mfa));
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(Duration::hours(12)));
    let router = Router::new()
        .route("/", get(sign_in::home))
        .route(
            "/register",
            get(sign_in::register_form).post(sign_in::register),
        )
        .route("/login", get(sign_in::login_form).post(sign_in::login))
        .route("/logout", post(sign_in::logout))
        .route("/mfa/enroll", get(mfa::enroll_form).post(mfa::enroll))
        .route("/mfa/enroll/cancel", post(mfa::postpone))
        .route("/mfa/expired", get(mfa::expired))
        .route(
            "/mfa/challenge",
            get(mfa::challenge_form).post(mfa::challenge),
        )
        .route("/mfa/recovery", get(mfa::recovery_form).post(mfa::recovery))
        .route("/static/app.css", get(web::css))
        .route("/static/app.js", get(web::js))
        .merge(guarded)
        .merge(open)
        .nest("/api/mfa", mfa_axum::routes(&app.mfa))
        .with_state(app)
        .fallback(web::not_found)
        .layer(DefaultBodyLimit::max(16 * 1024))
        // 30 minutes idle, 12 hours in all (NIST SP 800-63B at AAL2).
        .layer(SessionLifetimeLayer::new(clock))
        .layer(session_layer);
    // Over the limit, a post is refused before the session is loaded.
    let router = match limit {
        Some(limit) => router.layer(limit.layer()),
        None => router,
    };
    let header = Arc::new(config.client_address_header.clone());
    router
        .layer(middleware::map_request_with_state(header, client::resolve))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(web::error_pages))
        .layer(middleware::map_response(web::security_headers))
}
