//! mfa-axum behind a real axum-login 0.18 layer: the application's sign-in
//! handler only calls `AuthSession::login`, and the MFA assurance follows
//! whoever axum-login says is signed in (a forgotten MFA call, a user switch
//! in one browser, a sign-out, nobody at all).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend};
use mfa_axum::tower_sessions::{MemoryStore as Sessions, SessionManagerLayer};
use mfa_axum::{AuthSessionIdentity, Mfa, MfaLayer, UserId, UserPolicy, routes};
use mfa_flow::totp_core::Totp;
use mfa_flow::{AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Policy};
use serde_json::json;

use common::{Answer, Client};

const START: u64 = 1_700_000_000;

/// Ada: MFA optional.
const ADA: i64 = 1;
/// Bob: MFA required.
const BOB: i64 = 2;

#[derive(Clone, Debug)]
struct User {
    id: i64,
    name: &'static str,
    auth_hash: [u8; 4],
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

/// Two users in memory; the "password" check is only the name.
#[derive(Clone, Debug)]
struct Backend {
    users: Arc<HashMap<i64, User>>,
}

impl Backend {
    fn new() -> Self {
        let users = [
            User {
                id: ADA,
                name: "ada",
                auth_hash: *b"ada1",
            },
            User {
                id: BOB,
                name: "bob",
                auth_hash: *b"bob2",
            },
        ];
        Self {
            users: Arc::new(users.into_iter().map(|u| (u.id, u)).collect()),
        }
    }
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = String;
    type Error = Infallible;

    async fn authenticate(&self, name: String) -> Result<Option<User>, Infallible> {
        Ok(self.users.values().find(|u| u.name == name).cloned())
    }

    async fn get_user(&self, id: &i64) -> Result<Option<User>, Infallible> {
        Ok(self.users.get(id).cloned())
    }
}

/// Bob's customer requires MFA; Ada's leaves it optional.
struct Customers;

impl UserPolicy for Customers {
    async fn policy(&self, user: &UserId) -> Policy {
        match user.as_str() {
            "1" => Policy::Optional,
            // Bob, and anyone unknown: the stricter answer.
            _ => Policy::Required,
        }
    }
}

/// The application's sign-in: axum-login only, no MFA call at all.
async fn login(mut auth: AuthSession<Backend>, name: String) -> StatusCode {
    match auth.authenticate(name.trim().to_owned()).await.unwrap() {
        Some(user) => {
            auth.login(&user).await.unwrap();
            StatusCode::OK
        }
        None => StatusCode::UNAUTHORIZED,
    }
}

async fn logout(mut auth: AuthSession<Backend>) -> StatusCode {
    auth.logout().await.unwrap();
    StatusCode::OK
}

fn app() -> (Router, ManualClock) {
    let clock = ManualClock::new(START);
    let service = MfaService::new(
        MemoryStore::new(),
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[2; 32]).unwrap()),
        MfaConfig::new("Test"),
    );
    let mfa = Mfa::builder(service, Customers, AuthSessionIdentity::<Backend>::new())
        .sign_in_page("/login")
        .build();
    let sessions = SessionManagerLayer::new(Sessions::default()).with_secure(false);
    let router = Router::new()
        .route("/account", get(|| async { "account page" }))
        .layer(MfaLayer::new(&mfa))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .nest("/api/mfa", routes(&mfa))
        .layer(AuthManagerLayerBuilder::new(Backend::new(), sessions).build());
    (router, clock)
}

/// What these tests add to the shared client.
trait Browser {
    async fn sign_out(&mut self);
    fn cookie(&self) -> String;
}

impl Browser for Client {
    async fn sign_out(&mut self) {
        let a = self.send(Request::post("/logout"), Body::empty()).await;
        assert_eq!(a.status, StatusCode::OK);
    }

    fn cookie(&self) -> String {
        self.cookie.clone().expect("a session cookie")
    }
}

/// Asserts a page request is sent to `location`.
fn assert_see_other(answer: &Answer, location: &str) {
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.headers[header::LOCATION], location);
}

/// Enrolls the signed-in user through the JSON API (which raises the session
/// to level 2); returns their authenticator app.
async fn enroll(client: &mut Client, clock: &ManualClock) -> Totp {
    client.enroll("/api/mfa", clock).await.0
}

#[tokio::test]
async fn a_password_sign_in_without_any_mfa_call_still_needs_the_code() {
    let (app, clock) = app();
    let mut first = Client::new(&app);
    first.sign_in("ada").await;
    enroll(&mut first, &clock).await;
    assert_eq!(first.page("/account").await.status, StatusCode::OK);

    // Another browser: the sign-in handler only calls axum-login's login.
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    assert_see_other(&client.page("/account").await, "/mfa/challenge");
    let api = client.api_get("/account").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.body, json!({ "error": "mfa_required" }));

    // Level 1 learns only what a sign-in page needs.
    let status = client.api_get("/api/mfa/status").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.body, json!({ "level": 1, "enrolled": true }));
}

#[tokio::test]
async fn a_code_from_the_challenge_lets_the_password_session_through() {
    let (app, clock) = app();
    let mut first = Client::new(&app);
    first.sign_in("ada").await;
    let totp = enroll(&mut first, &clock).await;

    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let before = client.cookie();
    let code = totp.generate(clock.now()).unwrap();
    let ok = client
        .post_json("/api/mfa/challenge", json!({ "code": code.as_str() }))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_ne!(client.cookie(), before, "the code cycles the session id");
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
    let status = client.api_get("/api/mfa/status").await;
    assert_eq!(status.body["level"], 2);
    assert_eq!(status.body["state"], "active");
}

#[tokio::test]
async fn another_user_signing_in_in_the_same_browser_does_not_inherit_mfa() {
    let (app, clock) = app();
    let mut browser = Client::new(&app);
    browser.sign_in("ada").await;
    enroll(&mut browser, &clock).await;
    assert_eq!(browser.page("/account").await.status, StatusCode::OK);
    assert_eq!(browser.api_get("/api/mfa/status").await.body["level"], 2);

    // Bob signs in over Ada's session. axum-login cycles the id only when
    // nobody was signed in, so the session (and its cookie) stays the same.
    let ada_cookie = browser.cookie();
    browser.sign_in("bob").await;
    assert_eq!(
        browser.cookie(),
        ada_cookie,
        "axum-login kept the session id"
    );

    // Bob is required and not enrolled: Ada's level 2 counts for nothing.
    assert_see_other(&browser.page("/account").await, "/mfa/enroll");
    assert_ne!(
        browser.cookie(),
        ada_cookie,
        "the guard cycled the id when the user changed"
    );
    let api = browser.api_get("/account").await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
    assert_eq!(api.body, json!({ "error": "mfa_enrollment_required" }));
    let status = browser.api_get("/api/mfa/status").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.body, json!({ "level": 1, "enrolled": false }));

    // The old cookie is no session any more.
    let mut stale = Client {
        app: app.clone(),
        cookie: Some(ada_cookie),
    };
    assert_see_other(&stale.page("/account").await, "/login");

    // And back to Ada in the same browser: a password again, so a code.
    browser.sign_in("ada").await;
    assert_see_other(&browser.page("/account").await, "/mfa/challenge");
}

#[tokio::test]
async fn nobody_signed_in_is_sent_to_the_sign_in_page() {
    let (app, _) = app();
    let mut client = Client::new(&app);
    assert_see_other(&client.page("/account").await, "/login");
    let api = client.api_get("/account").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.body, json!({ "error": "not_signed_in" }));
    let status = client.api_get("/api/mfa/status").await;
    assert_eq!(status.status, StatusCode::UNAUTHORIZED);
    assert_eq!(status.body, json!({ "error": "not_signed_in" }));
}

#[tokio::test]
async fn after_the_axum_login_sign_out_the_account_is_closed_again() {
    let (app, clock) = app();
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    enroll(&mut client, &clock).await;
    assert_eq!(client.page("/account").await.status, StatusCode::OK);

    client.sign_out().await;
    assert_see_other(&client.page("/account").await, "/login");
    let api = client.api_get("/account").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.body, json!({ "error": "not_signed_in" }));

    // Signing in again is a password only: the code is asked for again.
    client.sign_in("ada").await;
    assert_see_other(&client.page("/account").await, "/mfa/challenge");
}
