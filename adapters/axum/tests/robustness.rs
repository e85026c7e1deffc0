//! Anything sent to any route gets a 2xx-4xx answer: never a 5xx, never a
//! panic. Plus the answers that need a broken store or a sign-out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use mfa_axum::{Mfa, MfaLayer, SessionIdentity, routes};
use mfa_flow::{
    AppKey, Keyring, ManualClock, MfaConfig, MfaService, Policy, Saved, Store, StoredRecord,
};
use proptest::prelude::*;
use tower::ServiceExt;
use tower_sessions::{MemoryStore as Sessions, Session, SessionManagerLayer};

/// Where the application keeps its signed-in user.
const USER_KEY: &str = "app.user";

fn router<S: Store + 'static>(store: S) -> Router {
    let service = MfaService::new(
        store,
        ManualClock::new(1_700_000_000),
        Keyring::new(AppKey::from_bytes(1, &[2; 32]).unwrap()),
        MfaConfig::new("Lumen"),
    );
    let mfa = Mfa::builder(service, Policy::Required, SessionIdentity::new(USER_KEY))
        .allow("/logout")
        .build();
    Router::new()
        .route("/account", get(|| async { "account page" }))
        .route(
            "/login",
            post(|session: Session| async move {
                session.insert(USER_KEY, "ada").await.unwrap();
                "signed in"
            }),
        )
        .route(
            "/logout",
            post(|session: Session| async move {
                session.flush().await.unwrap();
                "signed out"
            }),
        )
        .layer(MfaLayer::new(&mfa))
        .nest("/mfa/api", routes(&mfa))
        .layer(SessionManagerLayer::new(Sessions::default()).with_secure(false))
}

async fn cookie(app: &Router) -> String {
    let response = app
        .clone()
        .oneshot(Request::post("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

const ROUTES: [(&str, &str); 9] = [
    ("GET", "/mfa/api/status"),
    ("POST", "/mfa/api/enrollment"),
    ("POST", "/mfa/api/enrollment/confirm"),
    ("POST", "/mfa/api/challenge"),
    ("POST", "/mfa/api/recovery"),
    ("POST", "/mfa/api/recovery-codes"),
    ("POST", "/mfa/api/disable"),
    ("GET", "/account"),
    ("PUT", "/mfa/api/challenge"),
];

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "\\PC{0,200}".prop_map(String::into_bytes),
        (any::<u32>(), "\\PC{0,40}").prop_map(|(n, s)| {
            format!(r#"{{"code": "{}", "x": {n}}}"#, s.replace(['"', '\\'], "")).into_bytes()
        }),
        Just(br#"{"code": 123456}"#.to_vec()),
        Just(br#"{}"#.to_vec()),
        (0usize..9000).prop_map(|n| format!(r#"{{"code":"{}"}}"#, "7".repeat(n)).into_bytes()),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("text/plain".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_5xx_and_no_panic(
        route in 0..ROUTES.len(),
        body in body(),
        content_type in content_type(),
        accept in prop_oneof![Just("application/json"), Just("text/html"), Just("*/*")],
        signed_in in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let status = runtime.block_on(async {
            let app = router(mfa_flow::MemoryStore::new());
            let (method, path) = ROUTES[route];
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::ACCEPT, accept);
            if let Some(value) = content_type
                .as_deref()
                .and_then(|ct| http::HeaderValue::from_str(ct).ok())
            {
                request = request.header(header::CONTENT_TYPE, value);
            }
            if signed_in {
                request = request.header(header::COOKIE, cookie(&app).await);
            }
            let response = app.oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
            let status = response.status();
            let _ = response.into_body().collect().await.unwrap();
            status
        });
        prop_assert!(!status.is_server_error(), "{status}");
    }
}

/// A store that is always down.
#[derive(Clone)]
struct DownStore;

#[derive(Debug, thiserror::Error)]
#[error("connection refused")]
struct Down;

impl Store for DownStore {
    type Error = Down;
    async fn load(&self, _: &str) -> Result<Option<StoredRecord>, Down> {
        Err(Down)
    }
    async fn save(&self, _: &str, _: &StoredRecord) -> Result<Saved, Down> {
        Err(Down)
    }
    async fn delete(&self, _: &str, _: u64) -> Result<Saved, Down> {
        Err(Down)
    }
}

#[tokio::test]
async fn a_store_that_is_down_is_503_not_a_crash() {
    let app = router(DownStore);
    let cookie = cookie(&app).await;
    for (method, path) in [("GET", "/account"), ("GET", "/mfa/api/status")] {
        let response = app
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::COOKIE, &cookie)
                    .header(header::ACCEPT, "application/json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        // A password-level request leaves the session (and its id) alone.
        assert!(response.headers().get(header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn sign_out_clears_the_mfa_state() {
    // (The sign-in page is open; sign-out flushes the session.)
    let app = router(mfa_flow::MemoryStore::new());
    let cookie = cookie(&app).await;
    let page = |cookie: String| {
        let app = app.clone();
        async move {
            app.oneshot(
                Request::get("/account")
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
            .headers()
            .get(header::LOCATION)
            .cloned()
        }
    };
    // Required and not enrolled: sent to enrollment while signed in...
    assert_eq!(page(cookie.clone()).await.unwrap(), "/mfa/enroll");
    let out = app
        .clone()
        .oneshot(
            Request::post("/logout")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    // ...and sent to sign in after.
    assert_eq!(page(cookie).await.unwrap(), "/login");
}

/// The guard is tower middleware, not axum-only: here it wraps a plain
/// `service_fn` whose responses have `String` bodies.
#[tokio::test]
async fn the_guard_wraps_any_tower_service() {
    use tower::{Layer, ServiceBuilder};

    let service = MfaService::new(
        mfa_flow::MemoryStore::new(),
        ManualClock::new(1_700_000_000),
        Keyring::new(AppKey::from_bytes(1, &[2; 32]).unwrap()),
        MfaConfig::new("Lumen"),
    );
    let mfa = Mfa::builder(service, Policy::Required, SessionIdentity::new(USER_KEY))
        .sign_in_page("/signin")
        .build();
    let inner = tower::service_fn(|request: Request<Body>| async move {
        // Sign in on the way through when asked, as an application would.
        if request.uri().path() == "/signin" {
            let session = request.extensions().get::<Session>().unwrap().clone();
            session.insert(USER_KEY, "ada").await.unwrap();
        }
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("inner")))
    });
    let guarded = ServiceBuilder::new()
        .layer(SessionManagerLayer::new(Sessions::default()).with_secure(false))
        .service(MfaLayer::new(&mfa).layer(inner));
    // The (open) sign-in page: through to the inner service, which signs
    // the user in.
    let response = guarded
        .clone()
        .oneshot(Request::get("/signin").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(response.into_body(), "inner");

    // Signed in, MFA required, not enrolled: the guard answers, in the
    // inner service's own body type.
    let json = guarded
        .clone()
        .oneshot(
            Request::get("/page")
                .header(header::COOKIE, &cookie)
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::FORBIDDEN);
    // A password-level request leaves the session as it was.
    assert!(json.headers().get(header::SET_COOKIE).is_none());
    assert_eq!(json.into_body(), r#"{"error":"mfa_enrollment_required"}"#);
    let page = guarded
        .oneshot(
            Request::get("/page")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()[header::LOCATION], "/mfa/enroll");
}
