//! An axum-login application with TOTP multi-factor authentication from
//! `mfa-axum`: password sign-in with axum-login, then, as the user's policy
//! and enrollment decide, an enrollment page (a QR code and a form for the
//! first code) or a challenge page (a code from the app, or a recovery
//! code), and `/account` behind [`MfaLayer`].
//!
//! The sign-in handler calls axum-login only: `mfa-axum` reads who is
//! signed in from the `AuthSession` ([`AuthSessionIdentity`]) and binds the
//! session's MFA assurance to that user, so there is no MFA call to add to
//! sign-in or sign-out.
//!
//! The demo users are [`USERS`]: `ada`'s MFA is required (her first sign-in
//! goes to enrollment), `bob`'s is optional (the password is enough until he
//! sets MFA up from `/account`).
//!
//! Everything is kept in memory (users, sessions, MFA records). The forms
//! have no CSRF protection, to keep the example short: a real application
//! adds a CSRF token to every form (see `examples/lumen`).

use std::collections::HashMap;
use std::sync::Arc;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use mfa_axum::{
    AuthSessionIdentity, CodeKind, Enrollment, Error, Mfa, MfaLayer, MfaSession, Requirement,
    UserId, UserPolicy, refusal_status,
};
use mfa_flow::{AppKey, Clock, Keyring, MemoryStore, MfaConfig, MfaService, Outcome, Policy};
use serde::Deserialize;
use tower_sessions::{MemoryStore as Sessions, SessionManagerLayer};

/// The demo users and their passwords: `ada` must use MFA, `bob` may.
pub const USERS: [(&str, &str); 2] = [("ada", "lovelace"), ("bob", "builder")];

/// Who needs MFA. A real application looks this up (the user's customer,
/// say); an unknown user gets the stricter answer.
struct Policies;

impl UserPolicy for Policies {
    async fn policy(&self, user: &UserId) -> Policy {
        match user.as_str() {
            "bob" => Policy::Optional,
            _ => Policy::Required,
        }
    }
}

/// An axum-login user: the name is the id.
#[derive(Clone, Debug)]
struct User {
    name: String,
    /// Argon2id, as a PHC string.
    password_hash: String,
}

impl AuthUser for User {
    type Id = String;

    fn id(&self) -> String {
        self.name.clone()
    }

    /// A new password signs out every session of the user.
    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }
}

/// What the sign-in form posts.
#[derive(Clone, Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// The users in memory, with their password hashes made at start.
#[derive(Clone, Debug)]
struct Backend {
    users: Arc<HashMap<String, User>>,
    /// Checked for unknown names, so that a sign-in takes as long either way.
    decoy: Arc<str>,
}

fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

impl Backend {
    fn new() -> Result<Self, argon2::password_hash::Error> {
        let mut users = HashMap::new();
        for (name, password) in USERS {
            let user = User {
                name: name.to_owned(),
                password_hash: hash(password)?,
            };
            users.insert(user.name.clone(), user);
        }
        Ok(Self {
            users: Arc::new(users),
            decoy: hash("no one's password")?.into(),
        })
    }
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = tokio::task::JoinError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, Self::Error> {
        let user = self.users.get(&creds.username).cloned();
        let stored = user
            .as_ref()
            .map_or_else(|| self.decoy.to_string(), |u| u.password_hash.clone());
        // Argon2 takes tens of milliseconds: off the async threads.
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored).is_ok_and(|hash| {
                Argon2::default()
                    .verify_password(creds.password.as_bytes(), &hash)
                    .is_ok()
            })
        })
        .await?;
        Ok(user.filter(|_| matches))
    }

    async fn get_user(&self, name: &String) -> Result<Option<User>, Self::Error> {
        Ok(self.users.get(name).cloned())
    }
}

/// The application: its routes, [`MfaLayer`] over them, and axum-login
/// with in-memory sessions outside. `key` seals the TOTP secrets; `clock`
/// is [`mfa_flow::SystemClock`] except in tests.
///
/// # Errors
///
/// When the demo users' passwords cannot be hashed.
pub fn app<C: Clock + 'static>(
    key: AppKey,
    clock: C,
) -> Result<Router, argon2::password_hash::Error> {
    let service = MfaService::new(
        MemoryStore::new(),
        clock,
        Keyring::new(key),
        MfaConfig::new("axum-login example"),
    );
    // The sign-in, challenge and enrollment pages are left open by default
    // (`/login`, `/mfa/challenge`, `/mfa/enroll`); signing out must be too.
    let mfa = Mfa::builder(service, Policies, AuthSessionIdentity::<Backend>::new())
        .allow("/logout")
        .build();
    // Plain HTTP on 127.0.0.1: a deployed application keeps `Secure`.
    let sessions = SessionManagerLayer::new(Sessions::default()).with_secure(false);
    Ok(Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/login", get(sign_in_page).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/mfa/enroll", get(enrollment_page).post(confirm))
        .route("/mfa/challenge", get(challenge_page).post(verify))
        .route("/account", get(account))
        .layer(MfaLayer::new(&mfa))
        .with_state(mfa)
        .layer(AuthManagerLayerBuilder::new(Backend::new()?, sessions).build()))
}

/// A whole page.
fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } }
            body { h1 { (title) } (body) }
        }
    }
}

/// A page for an error of the MFA operations (a store down, say).
fn failure(e: &Error) -> Response {
    (
        e.status(),
        page("Something went wrong", html! { p { (e) } }),
    )
        .into_response()
}

/// What to tell the user about a refused code.
fn refusal<T>(outcome: &Outcome<T>) -> &'static str {
    match outcome {
        Outcome::Locked { .. } => "Too many wrong codes: try again later.",
        Outcome::Expired => "That QR code expired: scan this new one.",
        Outcome::Malformed(_) => "Enter the 6 digits your app shows.",
        // Wrong and replayed codes alike.
        _ => "That code is not right.",
    }
}

fn sign_in_form(error: Option<&str>) -> Markup {
    page(
        "Sign in",
        html! {
            @if let Some(error) = error { p role="alert" { (error) } }
            form method="post" action="/login" {
                label { "User name " input name="username" autocomplete="username" required; }
                br;
                label { "Password " input name="password" type="password" autocomplete="current-password" required; }
                br;
                button { "Sign in" }
            }
            p { "Try ada / lovelace (MFA required) or bob / builder (MFA optional)." }
        },
    )
}

async fn sign_in_page() -> Markup {
    sign_in_form(None)
}

/// axum-login only: the MFA layer sees the new user on the next request.
async fn sign_in(mut auth: AuthSession<Backend>, Form(creds): Form<Credentials>) -> Response {
    match auth.authenticate(creds).await {
        Ok(Some(user)) => match auth.login(&user).await {
            Ok(()) => Redirect::to("/account").into_response(),
            Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            sign_in_form(Some("Wrong user name or password.")),
        )
            .into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn sign_out(mut auth: AuthSession<Backend>) -> Response {
    match auth.logout().await {
        Ok(_) => Redirect::to("/login").into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// What the code forms post.
#[derive(Deserialize)]
struct CodeForm {
    code: String,
    /// The challenge's "this is a recovery code" box.
    recovery: Option<String>,
}

fn enrollment_form(enrollment: &Enrollment, error: Option<&str>) -> Response {
    let ticket = &enrollment.ticket;
    let qr_svg = match ticket.qr_svg() {
        Ok(svg) => svg,
        Err(e) => return failure(&e.into()),
    };
    page(
        "Set up two-factor authentication",
        html! {
            @if let Some(error) = error { p role="alert" { (error) } }
            p { "Scan this QR code with your authenticator app, then enter the code it shows." }
            // The SVG comes from totp-core, not from the user.
            (PreEscaped(qr_svg))
            details {
                summary { "Can't scan?" }
                p { "Enter this key in your app: " code id="secret" { (ticket.expose_secret()) } }
            }
            p { "The QR code expires in " (enrollment.expires_in / 60) " minutes." }
            form method="post" action="/mfa/enroll" {
                label { "Code " input name="code" inputmode="numeric" autocomplete="one-time-code" required; }
                button { "Confirm" }
            }
        },
    )
    .into_response()
}

/// The pending QR code again (a reload shows the same one), or a new one.
async fn enrollment_page(mfa: MfaSession) -> Response {
    match mfa.enrollment().await {
        Ok(enrollment) => enrollment_form(&enrollment, None).into_response(),
        Err(Error::AlreadyEnrolled) => Redirect::to("/account").into_response(),
        Err(e) => failure(&e),
    }
}

/// The first code confirms the enrollment and raises the session; the
/// recovery codes are shown this once.
async fn confirm(mut mfa: MfaSession, Form(form): Form<CodeForm>) -> Response {
    let outcome = match mfa.confirm(&form.code).await {
        Ok(outcome) => outcome,
        Err(e) => return failure(&e),
    };
    let status = refusal_status(&outcome);
    let Outcome::Accepted(enrolled) = outcome else {
        // The same QR code again, or a new one once it expired.
        return match mfa.enrollment().await {
            Ok(enrollment) => (
                status,
                enrollment_form(&enrollment, Some(refusal(&outcome))),
            )
                .into_response(),
            Err(e) => failure(&e),
        };
    };
    page(
        "Two-factor authentication is on",
        html! {
            p { "Keep these recovery codes somewhere safe. Each signs you in once without your phone; they are not shown again." }
            ul { @for code in enrolled.recovery_codes.expose() { li { code { (code) } } } }
            a href="/account" { "Continue to your account" }
        },
    )
    .into_response()
}

fn challenge_form(error: Option<&str>) -> Markup {
    page(
        "Enter your code",
        html! {
            @if let Some(error) = error { p role="alert" { (error) } }
            form method="post" action="/mfa/challenge" {
                label { "Code " input name="code" autocomplete="one-time-code" required; }
                br;
                label { input name="recovery" type="checkbox"; " This is a recovery code" }
                br;
                button { "Verify" }
            }
        },
    )
}

async fn challenge_page(mfa: MfaSession) -> Response {
    match mfa.requirement(None).await {
        Ok(Requirement::Code) => challenge_form(None).into_response(),
        Ok(Requirement::Enroll) => Redirect::to("/mfa/enroll").into_response(),
        Ok(_) => Redirect::to("/account").into_response(),
        Err(e) => failure(&e),
    }
}

/// An accepted code raises the session (with a new id) and goes on.
async fn verify(mut mfa: MfaSession, Form(form): Form<CodeForm>) -> Response {
    let kind = match form.recovery {
        Some(_) => CodeKind::Recovery,
        None => CodeKind::Totp,
    };
    match mfa.verify(&form.code, kind).await {
        Ok(Outcome::Accepted(_)) => Redirect::to("/account").into_response(),
        Ok(refused) => (
            refusal_status(&refused),
            challenge_form(Some(refusal(&refused))),
        )
            .into_response(),
        Err(e) => failure(&e),
    }
}

/// Behind [`MfaLayer`]: only sessions with the assurance their policy asks
/// for get here.
async fn account(mfa: MfaSession) -> Response {
    let status = match mfa.status().await {
        Ok(status) => status,
        Err(e) => return failure(&e),
    };
    let enrolled = status.state == mfa_flow::StateKind::Active;
    page(
        "Your account",
        html! {
            p { "Signed in as " strong { (mfa.user()) } "." }
            @if enrolled {
                p { "Two-factor authentication is on; "
                    (status.recovery_codes_left) " recovery codes left." }
            } @else {
                p { "Two-factor authentication is off. " a href="/mfa/enroll" { "Set it up" } }
            }
            form method="post" action="/logout" { button { "Sign out" } }
        },
    )
    .into_response()
}
