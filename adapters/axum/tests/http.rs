//! Every route and answer through `tower::ServiceExt::oneshot`, with a real
//! `tower-sessions` store, the in-memory mfa-flow store, and codes computed
//! with totp-core at the injected time. The application signs users in by
//! writing its own session key (`SessionIdentity`); it never calls mfa-axum
//! at sign-in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use mfa_axum::{Assurance, Mfa, MfaLayer, MfaSession, SessionIdentity, routes};
use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{
    AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Policy, StateKind, Status,
};
use serde_json::json;

use common::Client;
use tower::ServiceExt;
use tower_sessions::{MemoryStore as Sessions, Session, SessionManagerLayer};

const START: u64 = 1_700_000_000;

/// Where the application keeps its signed-in user.
const USER_KEY: &str = "app.user";

fn service(store: MemoryStore, clock: &ManualClock) -> MfaService<MemoryStore, ManualClock> {
    MfaService::new(
        store,
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[2; 32]).unwrap()),
        MfaConfig::new("Lumen"),
    )
}

/// The application's own view of a user's MFA record (for assertions).
struct Records {
    service: MfaService<MemoryStore, ManualClock>,
}

impl Records {
    async fn status(&self, user: &str) -> Status {
        self.service.status(user).await.unwrap()
    }
}

/// The application's sign-in: its own session key, nothing else.
async fn app_sign_in(session: Session, body: String) -> &'static str {
    session.cycle_id().await.unwrap();
    session.insert(USER_KEY, body.trim()).await.unwrap();
    "signed in"
}

fn app(policy: Policy) -> (Router, Records, ManualClock) {
    app_with(policy, |b| b.allow("/login"))
}

fn app_with(
    policy: Policy,
    configure: impl FnOnce(
        mfa_axum::MfaBuilder<MemoryStore, ManualClock, Policy, SessionIdentity>,
    )
        -> mfa_axum::MfaBuilder<MemoryStore, ManualClock, Policy, SessionIdentity>,
) -> (Router, Records, ManualClock) {
    let clock = ManualClock::new(START);
    let store = MemoryStore::new();
    let mfa = configure(Mfa::builder(
        service(store.clone(), &clock),
        policy,
        SessionIdentity::new(USER_KEY),
    ))
    .build();
    let router = Router::new()
        .route("/account", get(|| async { "account page" }))
        .route(
            "/account/close",
            get(|| async { "closing" }).layer(MfaLayer::step_up(&mfa, 300)),
        )
        .route(
            "/whoami",
            get(|a: Assurance| async move { a.user.to_string() }),
        )
        .route(
            "/codes-left",
            get(|s: MfaSession| async move {
                s.status().await.unwrap().recovery_codes_left.to_string()
            }),
        )
        .route("/login", post(app_sign_in))
        .route(
            "/switch",
            post(|session: Session, body: String| async move {
                session.insert(USER_KEY, body.trim()).await.unwrap();
                "switched"
            }),
        )
        .route("/login-as-admin", get(|| async { "admin" }))
        .route("/login-history", get(|| async { "history" }))
        .route("/login/step", get(|| async { "step" }))
        .route("/mfa/devices", get(|| async { "devices" }))
        .route(
            "/logout",
            post(|session: Session| async move {
                session.remove_value(USER_KEY).await.unwrap();
                "signed out"
            }),
        )
        .layer(MfaLayer::new(&mfa))
        .nest("/mfa/api", routes(&mfa))
        .with_state(mfa)
        .layer(SessionManagerLayer::new(Sessions::default()).with_secure(false));
    let records = Records {
        service: service(store, &clock),
    };
    (router, records, clock)
}

/// Enrolls the signed-in user through the API; returns the app and the codes.
async fn enroll(client: &mut Client, clock: &ManualClock) -> (Totp, Vec<String>) {
    client.enroll("/mfa/api", clock).await
}

#[tokio::test]
async fn anonymous_requests_are_sent_to_sign_in() {
    let (app, _, _) = app(Policy::Optional);
    let mut client = Client::new(&app);
    for path in ["/account", "/account/close", "/whoami"] {
        let page = client.page(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.headers[header::LOCATION], "/login");
        let api = client.api_get(path).await;
        assert_eq!(api.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(api.body, json!({ "error": "not_signed_in" }));
    }
}

#[tokio::test]
async fn passing_anonymous_requests_is_an_explicit_opt_in() {
    let (app, _, _) = app_with(Policy::Required, |b| b.pass_anonymous_requests());
    let a = Client::new(&app).page("/account").await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!("account page")));
}

#[tokio::test]
async fn open_paths_are_matched_by_whole_segments() {
    let (app, _, clock) = app(Policy::Optional);
    let mut first = Client::new(&app);
    first.sign_in("ada").await;
    enroll(&mut first, &clock).await;
    // A level-1 session of a user with MFA active.
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    for path in ["/login-as-admin", "/login-history", "/mfa/devices"] {
        let page = client.page(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path} must be guarded");
        assert_eq!(page.headers[header::LOCATION], "/mfa/challenge");
    }
    let step = client.page("/login/step").await;
    assert_eq!((step.status, step.body), (StatusCode::OK, json!("step")));
}

#[tokio::test]
async fn signing_out_of_the_application_voids_the_assurance() {
    let (app, _, clock) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    enroll(&mut client, &clock).await;
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
    // The application removes its user and nothing else.
    let out = client.send(Request::post("/logout"), Body::empty()).await;
    assert_eq!(out.status, StatusCode::OK);
    // Signing in again at once (the sign-in page is open) needs the code
    // again.
    client.sign_in("ada").await;
    let page = client.page("/account").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/mfa/challenge");
}

#[tokio::test]
async fn a_user_switch_in_one_session_inherits_nothing() {
    let (app, _, clock) = app(Policy::Required);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    enroll(&mut client, &clock).await;
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
    // The application switches the session's user without cycling its id.
    let before = client.cookie.clone().unwrap();
    let switched = client
        .send(Request::post("/switch"), Body::from("bob"))
        .await;
    assert_eq!(switched.status, StatusCode::OK);
    let page = client.page("/account").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/mfa/enroll");
    assert_ne!(client.cookie.clone().unwrap(), before, "the id is cycled");
    let status = client.api_get("/mfa/api/status").await;
    assert_eq!(status.body, json!({ "level": 1, "enrolled": false }));
}

#[tokio::test]
async fn optional_and_off_means_the_password_is_enough() {
    let (app, _, _) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
    let who = client.page("/whoami").await;
    assert_eq!(who.body, json!("ada"));
}

#[tokio::test]
async fn required_without_enrollment_leads_to_enrollment_then_through() {
    let (app, _, clock) = app(Policy::Required);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    for path in ["/account", "/whoami"] {
        let page = client.page(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.headers[header::LOCATION], "/mfa/enroll");
        let api = client.api_get(path).await;
        assert_eq!(api.status, StatusCode::FORBIDDEN);
        assert_eq!(api.body, json!({ "error": "mfa_enrollment_required" }));
    }
    enroll(&mut client, &clock).await;
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_challenge_raises_the_session_and_cycles_its_id() {
    let (app, records, clock) = app(Policy::Optional);
    let mut first = Client::new(&app);
    first.sign_in("ada").await;
    let (totp, _) = enroll(&mut first, &clock).await;

    // A later login: password only, so the guard asks for a code.
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let page = client.page("/account").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/mfa/challenge");
    let api = client.api_get("/account").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.body, json!({ "error": "mfa_required" }));

    let before = client.cookie.clone().unwrap();
    let code = totp.generate(clock.now()).unwrap();
    let ok = client
        .post_json("/mfa/api/challenge", json!({ "code": code.as_str() }))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let after = client.cookie.clone().unwrap();
    assert_ne!(before, after, "the session id must change");
    assert_eq!(client.page("/account").await.status, StatusCode::OK);

    // The old id grants nothing.
    let mut stale = Client {
        app: app.clone(),
        cookie: Some(before),
    };
    let old = stale.api_get("/account").await;
    assert_eq!(
        (old.status, old.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "not_signed_in" })
        ),
        "the old session id is no longer signed in"
    );

    // The same code again, from another session: one generic answer.
    let mut other = Client::new(&app);
    other.sign_in("ada").await;
    let replay = other
        .post_json("/mfa/api/challenge", json!({ "code": code.as_str() }))
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.body, json!({ "error": "invalid_code" }));
    assert_eq!(records.status("ada").await.failures, 1);
}

#[tokio::test]
async fn code_answers() {
    let (app, _, clock) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let (totp, codes) = enroll(&mut client, &clock).await;
    let mut client = Client::new(&app);
    client.sign_in("ada").await;

    let malformed = client
        .post_json("/mfa/api/challenge", json!({ "code": "12a456" }))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["error"], "malformed_code");
    assert!(
        malformed.body["message"]
            .as_str()
            .unwrap()
            .contains("digits")
    );

    let right = totp.generate(clock.now()).unwrap();
    let wrong = if right.as_str() == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        let a = client
            .post_json("/mfa/api/challenge", json!({ "code": wrong }))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let fifth = client
        .post_json("/mfa/api/challenge", json!({ "code": wrong }))
        .await;
    assert_eq!(fifth.status, StatusCode::UNAUTHORIZED);
    let locked = client
        .post_json("/mfa/api/challenge", json!({ "code": right.as_str() }))
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.headers[header::RETRY_AFTER], "30");
    assert_eq!(locked.body["locked_until"], START + 30 + 30);

    // A recovery code works after the lock and raises the session.
    clock.advance(30);
    let recovered = client
        .post_json("/mfa/api/recovery", json!({ "code": codes[0] }))
        .await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", recovered.body);
    assert_eq!(recovered.body["recovery_codes_left"], 9);
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
    let status = client.api_get("/mfa/api/status").await;
    assert_eq!(status.body["state"], "active");
    assert_eq!(status.body["recovery_codes_left"], 9);
    // The same through the extractor, behind the guard.
    assert_eq!(client.page("/codes-left").await.body, json!(9));

    // New recovery codes for a current code.
    let code = totp.generate(clock.now()).unwrap();
    let fresh = client
        .post_json("/mfa/api/recovery-codes", json!({ "code": code.as_str() }))
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(fresh.body["recovery_codes"].as_array().unwrap().len(), 10);

    // Enrolling again while active is a conflict.
    let again = client.post_json("/mfa/api/enrollment", json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["error"], "already_enrolled");
}

#[tokio::test]
async fn an_expired_enrollment_is_gone() {
    let (app, _, clock) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let started = client.post_json("/mfa/api/enrollment", json!({})).await;
    let totp = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(started.body["secret"].as_str().unwrap()).unwrap(),
    );
    clock.advance(181);
    let code = totp.generate(clock.now()).unwrap();
    let late = client
        .post_json(
            "/mfa/api/enrollment/confirm",
            json!({ "code": code.as_str() }),
        )
        .await;
    assert_eq!(late.status, StatusCode::GONE);
}

#[tokio::test]
async fn disable_follows_the_policy() {
    for (policy, expected) in [
        (Policy::Required, StatusCode::FORBIDDEN),
        (Policy::Optional, StatusCode::OK),
    ] {
        let (app, _, clock) = app(policy);
        let mut client = Client::new(&app);
        client.sign_in("ada").await;
        let (totp, _) = enroll(&mut client, &clock).await;
        let code = totp.generate(clock.now()).unwrap();
        let a = client
            .post_json("/mfa/api/disable", json!({ "code": code.as_str() }))
            .await;
        assert_eq!(a.status, expected, "{policy:?}: {}", a.body);
    }
}

/// An unfinished optional enrollment can be put off from a password-level
/// session, back to MFA off; a required one cannot, and an active user's
/// MFA is never turned off this way.
#[tokio::test]
async fn an_optional_enrollment_can_be_put_off_but_not_a_required_one() {
    let (app, records, clock) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let started = client.post_json("/mfa/api/enrollment", json!({})).await;
    assert_eq!(started.status, StatusCode::OK);
    let cancelled = client
        .post_json("/mfa/api/enrollment/cancel", json!({}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body, json!({ "status": "cancelled" }));
    assert_eq!(records.status("ada").await.state, StateKind::Disabled);
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
    // Enrolled: "cancel" is no way to turn MFA off.
    let _ = enroll(&mut client, &clock).await;
    let mut level_one = Client::new(&app);
    level_one.sign_in("ada").await;
    let refused = level_one
        .post_json("/mfa/api/enrollment/cancel", json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body, json!({ "error": "already_enrolled" }));
    assert_eq!(records.status("ada").await.state, StateKind::Active);

    let (required, records, _) = self::app(Policy::Required);
    let mut client = Client::new(&required);
    client.sign_in("ada").await;
    let refused = client
        .post_json("/mfa/api/enrollment/cancel", json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body, json!({ "error": "policy_forbids" }));
    assert_eq!(records.status("ada").await.state, StateKind::Disabled);
    assert_eq!(client.page("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn step_up_needs_a_recent_code() {
    let (app, _, clock) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    enroll(&mut client, &clock).await;
    assert_eq!(client.page("/account/close").await.status, StatusCode::OK);
    clock.advance(301);
    let page = client.page("/account/close").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/mfa/challenge");
    // The ordinary guard is still satisfied.
    assert_eq!(client.page("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn json_routes_refuse_forms_and_large_bodies() {
    let (app, _, _) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let form = client
        .send(
            Request::post("/mfa/api/challenge")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from("code=123456"),
        )
        .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({ "code": "1".repeat(10_000) });
    let big = client.post_json("/mfa/api/challenge", huge).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    let anonymous = Client::new(&app)
        .post_json("/mfa/api/challenge", json!({ "code": "123456" }))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"], "not_signed_in");
}

#[tokio::test]
async fn a_guard_inside_a_nested_router_matches_the_full_path() {
    let clock = ManualClock::new(START);
    let mfa = Mfa::builder(
        service(MemoryStore::new(), &clock),
        Policy::Optional,
        SessionIdentity::new(USER_KEY),
    )
    .build();
    // Inside `/admin`, the nested router sees `/login` and `/mfa/enroll`:
    // the open pages' paths, but not the open pages.
    let admin = Router::new()
        .route("/{*page}", get(|| async { "admin page" }))
        .layer(MfaLayer::new(&mfa));
    let app: Router = Router::new()
        .nest("/admin", admin)
        .with_state(mfa)
        .layer(SessionManagerLayer::new(Sessions::default()).with_secure(false));
    let mut client = Client::new(&app);
    for path in ["/admin/login", "/admin/mfa/enroll", "/admin/mfa/challenge"] {
        let page = client.page(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}: {}", page.body);
        assert_eq!(page.headers[header::LOCATION], "/login");
    }
}

#[tokio::test]
async fn an_enrollment_started_in_another_session_is_not_shown_again() {
    let (app, _, clock) = app(Policy::Optional);
    // Someone with the password starts an enrollment and keeps its key.
    let mut stranger = Client::new(&app);
    stranger.sign_in("ada").await;
    let seen = stranger.post_json("/mfa/api/enrollment", json!({})).await;
    let seen = seen.body["secret"].as_str().unwrap().to_owned();
    // The owner, in a session of their own, gets a key of their own...
    let mut owner = Client::new(&app);
    owner.sign_in("ada").await;
    let own = owner.post_json("/mfa/api/enrollment", json!({})).await;
    let own = own.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(own, seen);
    // ...shown again unchanged in that session (a reload)...
    let again = owner.post_json("/mfa/api/enrollment", json!({})).await;
    assert_eq!(again.body["secret"].as_str().unwrap(), own);
    // ...and the stranger's key confirms nothing.
    let stranger_app = Totp::new(TotpConfig::default(), &Secret::from_base32(&seen).unwrap());
    let code = stranger_app.generate(clock.now()).unwrap();
    let refused = stranger
        .post_json(
            "/mfa/api/enrollment/confirm",
            json!({ "code": code.as_str() }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
}

#[tokio::test]
async fn the_extractor_uses_the_handle_of_its_state_not_another_guards() {
    let clock = ManualClock::new(START);
    let handle = |policy| {
        Mfa::builder(
            service(MemoryStore::new(), &clock),
            policy,
            SessionIdentity::new(USER_KEY),
        )
        .build()
    };
    let (lenient, strict) = (handle(Policy::Optional), handle(Policy::Required));
    let app: Router = Router::new()
        .route(
            "/requirement",
            get(|s: MfaSession| async move { format!("{:?}", s.requirement(None).await.unwrap()) }),
        )
        .layer(MfaLayer::new(&lenient))
        .route("/login", post(app_sign_in))
        .with_state(strict)
        .layer(SessionManagerLayer::new(Sessions::default()).with_secure(false));
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let requirement = client.page("/requirement").await;
    assert_eq!(requirement.body, json!("Enroll"));
}

#[tokio::test]
async fn a_missing_session_layer_is_named() {
    let clock = ManualClock::new(START);
    let mfa = Mfa::builder(
        service(MemoryStore::new(), &clock),
        Policy::Optional,
        SessionIdentity::new(USER_KEY),
    )
    .build();
    let app: Router = Router::new()
        .route(
            "/whoami",
            get(|a: Assurance| async move { a.user.to_string() }),
        )
        .route("/account", get(|| async { "account" }))
        .layer(MfaLayer::new(&mfa))
        .with_state(mfa);
    for path in ["/whoami", "/account"] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            String::from_utf8_lossy(&bytes).contains("session_layer_missing"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn factor_changes_need_level_two_and_a_fresh_code() {
    let (app, records, clock) = app(Policy::Optional);
    let mut owner = Client::new(&app);
    owner.sign_in("ada").await;
    let (totp, codes) = enroll(&mut owner, &clock).await;

    // Password and one recovery code, but the session never passed MFA:
    // the code is refused before it is even looked at.
    let mut level_one = Client::new(&app);
    level_one.sign_in("ada").await;
    let code = totp.generate(clock.now()).unwrap();
    for (path, code) in [
        ("/mfa/api/recovery-codes", code.as_str()),
        ("/mfa/api/disable", codes[0].as_str()),
        ("/mfa/api/disable", code.as_str()),
    ] {
        let a = level_one.post_json(path, json!({ "code": code })).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(a.body, json!({ "error": "mfa_required" }), "{path}");
    }
    let status = level_one.api_get("/mfa/api/status").await;
    assert_eq!(status.body, json!({ "level": 1, "enrolled": true }));
    assert_eq!(records.status("ada").await.recovery_codes_left, 10);

    // Level 2 through a recovery code: the same recovery code cannot be used
    // again, and the code that raised a session cannot change a factor.
    let recovered = level_one
        .post_json("/mfa/api/recovery", json!({ "code": codes[0] }))
        .await;
    assert_eq!(recovered.status, StatusCode::OK);
    let again = level_one
        .post_json("/mfa/api/disable", json!({ "code": codes[0] }))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.body["error"], "invalid_code");

    let mut level_two = Client::new(&app);
    level_two.sign_in("ada").await;
    let raising = totp.generate(clock.now()).unwrap();
    let ok = level_two
        .post_json("/mfa/api/challenge", json!({ "code": raising.as_str() }))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let stale = level_two
        .post_json(
            "/mfa/api/recovery-codes",
            json!({ "code": raising.as_str() }),
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{}", stale.body);
    assert_eq!(stale.body["error"], "invalid_code");

    // A newer code is accepted.
    clock.advance(30);
    let fresh = totp.generate(clock.now()).unwrap();
    let new_codes = level_two
        .post_json("/mfa/api/recovery-codes", json!({ "code": fresh.as_str() }))
        .await;
    assert_eq!(new_codes.status, StatusCode::OK, "{}", new_codes.body);
    assert_eq!(
        new_codes.body["recovery_codes"].as_array().unwrap().len(),
        10
    );
    clock.advance(30);
    let fresh = totp.generate(clock.now()).unwrap();
    let off = level_two
        .post_json("/mfa/api/disable", json!({ "code": fresh.as_str() }))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
}

#[tokio::test]
async fn step_up_routes_follow_the_policy_for_users_without_mfa() {
    let (optional_app, _, _) = app(Policy::Optional);
    let mut optional = Client::new(&optional_app);
    optional.sign_in("ada").await;
    let through = optional.page("/account/close").await;
    assert_eq!(
        (through.status, through.body),
        (StatusCode::OK, json!("closing"))
    );

    let (required_app, _, _) = app(Policy::Required);
    let mut required = Client::new(&required_app);
    required.sign_in("ada").await;
    let page = required.page("/account/close").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers[header::LOCATION], "/mfa/enroll");
}

/// A user who lost the phone signs in with a recovery code and sets up a
/// new authenticator app: the old one works until a code from the new one
/// confirms it, then stops. Setting one up needs a recent verification; a
/// recovery code regenerates the codes too.
#[tokio::test]
async fn a_lost_authenticator_is_replaced_after_a_recovery_code_sign_in() {
    let (app, records, clock) = app(Policy::Required);
    let mut owner = Client::new(&app);
    owner.sign_in("ada").await;
    let (old, codes) = enroll(&mut owner, &clock).await;

    let mut phoneless = Client::new(&app);
    phoneless.sign_in("ada").await;
    let early = phoneless.post_json("/mfa/api/replacement", json!({})).await;
    assert_eq!(early.status, StatusCode::UNAUTHORIZED, "{}", early.body);
    assert_eq!(early.body, json!({ "error": "mfa_required" }));
    let recovered = phoneless
        .post_json("/mfa/api/recovery", json!({ "code": codes[0] }))
        .await;
    assert_eq!(recovered.status, StatusCode::OK);
    let started = phoneless.post_json("/mfa/api/replacement", json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(started.body["expires_in"], 180);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let again = phoneless.post_json("/mfa/api/replacement", json!({})).await;
    assert_eq!(again.body["secret"].as_str().unwrap(), secret, "a reload");
    let status = phoneless.api_get("/mfa/api/status").await;
    assert_eq!(status.body["replacement_expires_at"], START + 30 + 180);
    let new = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(&secret).unwrap(),
    );

    // The old app still signs in elsewhere meanwhile.
    let mut laptop = Client::new(&app);
    laptop.sign_in("ada").await;
    let code = old.generate(clock.now()).unwrap();
    let passed = laptop
        .post_json("/mfa/api/challenge", json!({ "code": code.as_str() }))
        .await;
    assert_eq!(passed.status, StatusCode::OK);

    // Another session, even at level 2, cannot confirm what it was not
    // shown.
    let code = new.generate(clock.now()).unwrap();
    let elsewhere = laptop
        .post_json(
            "/mfa/api/replacement/confirm",
            json!({ "code": code.as_str() }),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::CONFLICT, "{}", elsewhere.body);
    assert_eq!(elsewhere.body, json!({ "error": "no_pending_replacement" }));

    // Its code does not confirm the new app; the new app's does.
    clock.advance(30);
    let code = old.generate(clock.now()).unwrap();
    let wrong = phoneless
        .post_json(
            "/mfa/api/replacement/confirm",
            json!({ "code": code.as_str() }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let code = new.generate(clock.now()).unwrap();
    let replaced = phoneless
        .post_json(
            "/mfa/api/replacement/confirm",
            json!({ "code": code.as_str() }),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body, json!({ "status": "replaced" }));
    assert_eq!(records.status("ada").await.recovery_codes_left, 9);

    // From now on the old app is refused and the new one signs in.
    clock.advance(30);
    let mut next = Client::new(&app);
    next.sign_in("ada").await;
    let code = old.generate(clock.now()).unwrap();
    let refused = next
        .post_json("/mfa/api/challenge", json!({ "code": code.as_str() }))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let code = new.generate(clock.now()).unwrap();
    let passed = next
        .post_json("/mfa/api/challenge", json!({ "code": code.as_str() }))
        .await;
    assert_eq!(passed.status, StatusCode::OK);

    // A recovery code regenerates the codes at level 2.
    let fresh = phoneless
        .post_json("/mfa/api/recovery-codes", json!({ "code": codes[1] }))
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(records.status("ada").await.recovery_codes_left, 10);

    // Ten minutes after its last verification a session must verify
    // again before it may set up another app.
    clock.advance(mfa_axum::REPLACEMENT_WINDOW + 1);
    let stale = next.post_json("/mfa/api/replacement", json!({})).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.body, json!({ "error": "mfa_required" }));
}

/// Starting a replacement needs a recent verification; confirming it needs
/// only the session that was shown it, within its TTL, even after the
/// window has passed. A cancelled one confirms nothing.
#[tokio::test]
async fn a_replacement_started_in_the_window_is_confirmed_after_it() {
    let (app, _, clock) = app(Policy::Optional);
    let mut client = Client::new(&app);
    client.sign_in("ada").await;
    let _ = enroll(&mut client, &clock).await;
    clock.advance(mfa_axum::REPLACEMENT_WINDOW - 60);
    let started = client.post_json("/mfa/api/replacement", json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let new = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(&secret).unwrap(),
    );
    clock.advance(120);
    let code = new.generate(clock.now()).unwrap();
    let replaced = client
        .post_json(
            "/mfa/api/replacement/confirm",
            json!({ "code": code.as_str() }),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    // Confirmed now, so the window starts again: a new one, cancelled.
    let again = client.post_json("/mfa/api/replacement", json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let secret = again.body["secret"].as_str().unwrap().to_owned();
    let newer = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(&secret).unwrap(),
    );
    let cancelled = client
        .post_json("/mfa/api/replacement/cancel", json!({}))
        .await;
    assert_eq!(cancelled.body, json!({ "status": "cancelled" }));
    clock.advance(30);
    let code = newer.generate(clock.now()).unwrap();
    let refused = client
        .post_json(
            "/mfa/api/replacement/confirm",
            json!({ "code": code.as_str() }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
}
