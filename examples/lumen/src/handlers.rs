//! The pages' handlers and the router.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use maud::Markup;
use mfa_axum::{Assurance, AssuranceRejection, CodeKind, Failure, Level, MfaLayer, UserPolicy};
use mfa_flow::{FlowError, MfaError, Outcome, Requirement};
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

use crate::db::{Db, User};
use crate::flow::LumenMfa;
use crate::pages::{self, Account, Enrolment, Registration, Tab};
use crate::security::{
    Broken, csrf_matches, csrf_token, decoy_hash, hash_password, new_user_id, password_matches,
    rotate_csrf,
};

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) mfa: Arc<LumenMfa>,
    pub(crate) db: Db,
}

impl AppState {
    fn now(&self) -> u64 {
        self.mfa.service().now()
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
        tracing::error!(target: "lumen", error = %self.0, "request failed");
        let status = StatusCode::SERVICE_UNAVAILABLE;
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

/// The signed-in user (password checked, MFA perhaps not yet); anyone else
/// is sent to the sign-in page.
struct SignedIn(Assurance);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Assurance::from_request_parts(parts, state).await {
            Ok(a) => Ok(Self(a)),
            Err(AssuranceRejection::NotSignedIn) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A form with its CSRF token.
#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
}

/// Refuses a form whose token is not the session's.
async fn check_csrf(session: &Session, submitted: &str) -> Result<(), Response> {
    match csrf_matches(session, submitted).await {
        Ok(true) => Ok(()),
        Ok(false) => Err((
            StatusCode::FORBIDDEN,
            pages::error(403, "This form has expired. Reload the page and try again"),
        )
            .into_response()),
        Err(e) => Err(Problem(e).into_response()),
    }
}

/// Messages chosen by a key in the query, never text from the query.
#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
}

impl Notice {
    fn text(&self) -> Option<&'static str> {
        Some(match self.notice.as_deref()? {
            "registered" => "Your account is ready. Sign in to continue.",
            "signed-out" => "You are signed out.",
            "mfa-off" => "Multi-factor authentication is off.",
            "recovery-used" => {
                "You signed in with a recovery code; that code no longer works. \
                 Regenerate your codes if you are running low."
            }
            _ => return None,
        })
    }
}

/// What to tell the user about a refused code, with the answer's status.
fn refusal<T>(outcome: &Outcome<T>, now: u64, kind: CodeKind) -> (StatusCode, String) {
    match outcome {
        Outcome::Locked { until: Some(until) } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong codes. Try again in {}.",
                pages::time_left(until.saturating_sub(now))
            ),
        ),
        Outcome::Locked { until: None } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes: sign-in with the app is locked. Use a recovery code, \
             or ask your administrator to unlock your account."
                .to_owned(),
        ),
        Outcome::Expired => (StatusCode::GONE, "This QR code has expired.".to_owned()),
        Outcome::Malformed(_) if kind == CodeKind::Recovery => (
            StatusCode::BAD_REQUEST,
            "Enter a recovery code as it was shown to you, such as ABCD-EFGH-….".to_owned(),
        ),
        Outcome::Malformed(_) => (
            StatusCode::BAD_REQUEST,
            "Enter the 6-digit code from your authenticator app.".to_owned(),
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            "That code is not valid. Enter the code your app shows now; each code works once."
                .to_owned(),
        ),
    }
}

fn with_status(status: StatusCode, page: Markup) -> Response {
    (status, page).into_response()
}

// ---- Registration and sign-in -------------------------------------------

async fn home() -> Redirect {
    Redirect::to("/account")
}

async fn register_form(State(app): State<AppState>, session: Session) -> Page {
    let csrf = csrf_token(&session).await?;
    let customers = app.db.customers().await?;
    let values = Registration {
        customer: customers.first().map(|c| c.id),
        ..Registration::default()
    };
    Ok(pages::register(&customers, &values, None, &csrf).into_response())
}

#[derive(Deserialize)]
struct RegisterForm {
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

fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None) if !local.is_empty() && domain.contains('.')
    ) && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn registration_problem(form: &RegisterForm, email: &str) -> Option<&'static str> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Some("Enter your name (at most 100 characters).");
    }
    if !valid_email(email) {
        return Some("Enter a valid email address.");
    }
    let length = form.password.chars().count();
    if !(8..=128).contains(&length) {
        return Some("Choose a password of 8 to 128 characters.");
    }
    None
}

async fn register(
    State(app): State<AppState>,
    session: Session,
    Form(form): Form<RegisterForm>,
) -> Result<Response, Response> {
    check_csrf(&session, &form.csrf).await?;
    let result: Page = async {
        let customers = app.db.customers().await?;
        let email = normalize_email(&form.email);
        let customer = customers.iter().find(|c| c.id == form.customer);
        let problem = match customer {
            None => Some("Choose your customer."),
            Some(_) => registration_problem(&form, &email),
        };
        let (Some(customer), None) = (customer, problem) else {
            let csrf = csrf_token(&session).await?;
            let values = Registration {
                name: &form.name,
                email: &form.email,
                customer: Some(form.customer),
                otp: form.otp.is_some(),
            };
            let page = pages::register(&customers, &values, problem, &csrf);
            return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page));
        };
        let password = form.password.clone();
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|_| Broken::Hash)??;
        let user = User {
            id: new_user_id()?,
            name: form.name.trim().to_owned(),
            email,
            password_hash,
            customer: customer.clone(),
        };
        // An address already registered gets the same answer as a new one,
        // so the form does not tell who has an account.
        if app.db.create_user(&user, app.now()).await?
            && (form.otp.is_some() || customer.mfa_required)
        {
            app.mfa
                .service()
                .opt_in(&user.id)
                .await
                .map_err(mfa_broken)?;
        }
        Ok(Redirect::to("/login?notice=registered").into_response())
    }
    .await;
    result.map_err(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    email: String,
    password: String,
}

async fn login_form(session: Session, Query(notice): Query<Notice>) -> Page {
    let csrf = csrf_token(&session).await?;
    Ok(pages::login("", None, notice.text(), &csrf).into_response())
}

async fn login(
    State(app): State<AppState>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Result<Response, Response> {
    check_csrf(&session, &form.csrf).await?;
    let result: Page = async {
        let email = normalize_email(&form.email);
        let now = app.now();
        let csrf = csrf_token(&session).await?;
        if let Some(until) = app.db.sign_in_locked_until(&email, now).await? {
            let text = format!(
                "Too many failed sign-ins. Try again in {}.",
                pages::time_left(until - now)
            );
            let page = pages::login(&form.email, Some(&text), None, &csrf);
            return Ok(with_status(StatusCode::TOO_MANY_REQUESTS, page));
        }
        let user = app.db.user_by_email(&email).await?;
        let stored = user
            .as_ref()
            .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
        let password = form.password.clone();
        let matches = tokio::task::spawn_blocking(move || password_matches(&password, &stored))
            .await
            .map_err(|_| Broken::Hash)?;
        let Some(user) = user.filter(|_| matches) else {
            app.db.sign_in_failed(&email, now).await?;
            let text = "Email or password is incorrect.";
            let page = pages::login(&form.email, Some(text), None, &csrf);
            return Ok(with_status(StatusCode::UNAUTHORIZED, page));
        };
        app.db.sign_in_succeeded(&email).await?;
        mfa_axum::sign_in(&session, &user.id)
            .await
            .map_err(mfa_broken)?;
        rotate_csrf(&session).await?;
        // The MFA guard on /account sends the user on: enrolment, code, or in.
        Ok(Redirect::to("/account").into_response())
    }
    .await;
    result.map_err(IntoResponse::into_response)
}

async fn logout(session: Session, Form(form): Form<Csrf>) -> Result<Response, Response> {
    check_csrf(&session, &form.csrf).await?;
    mfa_axum::sign_out(&session)
        .await
        .map_err(|e| mfa_broken(e).into_response())?;
    Ok(Redirect::to("/login?notice=signed-out").into_response())
}

// ---- Enrolment -----------------------------------------------------------

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

async fn enroll_form(State(app): State<AppState>, session: Session, SignedIn(a): SignedIn) -> Page {
    enroll_page(&app, &session, &a.user, None).await
}

async fn enroll(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, Response> {
    check_csrf(&session, &form.csrf).await?;
    let result: Page = async {
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
    .await;
    result.map_err(IntoResponse::into_response)
}

async fn expired(session: Session, SignedIn(_): SignedIn) -> Page {
    let csrf = csrf_token(&session).await?;
    Ok(pages::expired(&csrf).into_response())
}

// ---- Sign-in codes -------------------------------------------------------

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
) -> Result<Response, Response> {
    check_csrf(session, &form.csrf).await?;
    let result: Page = async {
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
    .await;
    result.map_err(IntoResponse::into_response)
}

async fn challenge_form(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
) -> Page {
    code_form(&app, &session, &a, CodeKind::Totp).await
}

async fn challenge(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, Response> {
    check_code(&app, &session, &a, &form, CodeKind::Totp).await
}

async fn recovery_form(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
) -> Page {
    code_form(&app, &session, &a, CodeKind::Recovery).await
}

async fn recovery(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, Response> {
    check_code(&app, &session, &a, &form, CodeKind::Recovery).await
}

// ---- Manage My Account (behind the MFA guard) ------------------------------

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

async fn profile(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Query(notice): Query<Notice>,
) -> Page {
    let message = (None, notice.text());
    account_page(&app, &session, &a, Tab::Profile, message, StatusCode::OK).await
}

async fn authentication(
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

async fn enable(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Form(form): Form<Csrf>,
) -> Result<Response, Response> {
    check_csrf(&session, &form.csrf).await?;
    app.mfa
        .service()
        .opt_in(&a.user)
        .await
        .map_err(|e| mfa_broken(e).into_response())?;
    Ok(Redirect::to("/mfa/enroll").into_response())
}

async fn disable(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, Response> {
    check_csrf(&session, &form.csrf).await?;
    let result: Page = async {
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
    .await;
    result.map_err(IntoResponse::into_response)
}

async fn regenerate(
    State(app): State<AppState>,
    session: Session,
    SignedIn(a): SignedIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, Response> {
    check_csrf(&session, &form.csrf).await?;
    let service = app.mfa.service();
    let result: Page = async {
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
    .await;
    result.map_err(IntoResponse::into_response)
}

// ---- Static files, error pages, headers ------------------------------------

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.js"),
    )
}

async fn not_found() -> Response {
    with_status(StatusCode::NOT_FOUND, pages::error(404, "Page not found"))
}

/// Every error answer outside the JSON API is a page (a rejected form, a
/// wrong method, a panic), never a bare text or a stack trace.
async fn error_pages(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    // Pages, and the guard's JSON answers to JSON requests, stay as they are.
    let kept = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"text/html") || v.as_bytes().starts_with(b"application/json")
        });
    if api || !(status.is_client_error() || status.is_server_error()) || kept {
        return response;
    }
    let text = status.canonical_reason().unwrap_or("Error");
    with_status(status, pages::error(status.as_u16(), text))
}

/// Headers for every answer: no framing, no sniffing, no referrer, scripts
/// and styles from this origin only, and pages (which may show a secret or
/// recovery codes) never cached.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lumen_session";

/// The whole app: pages, the JSON API under `/api/mfa`, sessions in
/// `sessions`.
pub(crate) fn router<S: SessionStore + Clone>(
    app: AppState,
    sessions: S,
    secure: bool,
    bench: bool,
) -> Router {
    let mut guarded = Router::new();
    let mut open = Router::new();
    if bench {
        // The same page with and without the guard, for the load test.
        guarded = guarded.route("/bench/guarded", get(profile));
        open = open.route("/bench/unguarded", get(profile));
    }
    let guarded = guarded
        .route("/account", get(profile))
        .route("/account/authentication", get(authentication))
        .route("/account/mfa/enable", post(enable))
        .route("/account/mfa/disable", post(disable))
        .route("/account/mfa/recovery-codes", post(regenerate))
        .route_layer(MfaLayer::new(Arc::clone(&app.mfa)));
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(Duration::hours(12)));
    Router::new()
        .route("/", get(home))
        .route("/register", get(register_form).post(register))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/mfa/enroll", get(enroll_form).post(enroll))
        .route("/mfa/expired", get(expired))
        .route("/mfa/challenge", get(challenge_form).post(challenge))
        .route("/mfa/recovery", get(recovery_form).post(recovery))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .merge(guarded)
        .merge(open)
        .with_state(app.clone())
        .nest("/api/mfa", mfa_axum::routes(app.mfa))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(session_layer)
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(error_pages))
        .layer(middleware::map_response(security_headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        assert!(valid_email("ada@example.com"));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a@b@example.com",
            "ada @example.com",
            "ada@localhost",
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
