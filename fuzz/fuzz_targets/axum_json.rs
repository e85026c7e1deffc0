//! Any bytes as the JSON body (and any content type) of every route of the
//! mfa-axum API, from a signed-in session: a 4xx or a 2xx, never a 5xx,
//! never a panic. The server keeps its state between inputs, so the fuzzer
//! also reaches locked and enrolled states.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{Request, header};
use libfuzzer_sys::fuzz_target;
use mfa_axum::{Mfa, MfaLayer, SessionIdentity, routes};
use mfa_flow::{AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Policy};
use tower::ServiceExt;
use tower_sessions::{MemoryStore as Sessions, Session, SessionManagerLayer};

const ROUTES: [(&str, &str); 8] = [
    ("GET", "/api/status"),
    ("POST", "/api/enrollment"),
    ("POST", "/api/enrollment/confirm"),
    ("POST", "/api/challenge"),
    ("POST", "/api/recovery"),
    ("POST", "/api/recovery-codes"),
    ("POST", "/api/disable"),
    ("GET", "/account"),
];

const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
];

struct Server {
    runtime: tokio::runtime::Runtime,
    app: Router,
    cookie: String,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let service = MfaService::new(
            MemoryStore::new(),
            ManualClock::new(1_800_000_000),
            Keyring::new(AppKey::from_bytes(1, &[9; 32]).expect("a key")),
            MfaConfig::new("Fuzz"),
        );
        let mfa = Mfa::builder(service, Policy::Optional, SessionIdentity::new("user")).build();
        let app = Router::new()
            .route("/account", axum::routing::get(|| async { "account" }))
            .route(
                "/login",
                post(|session: Session| async move {
                    session
                        .insert("user", "fuzz-user")
                        .await
                        .expect("memory sessions");
                }),
            )
            .layer(MfaLayer::new(&mfa))
            .nest("/api", routes(&mfa))
            .with_state(mfa)
            .layer(SessionManagerLayer::new(Sessions::default()).with_secure(false));
        let response = runtime
            .block_on(
                app.clone().oneshot(
                    Request::post("/login")
                        .body(Body::empty())
                        .expect("a request"),
                ),
            )
            .expect("infallible");
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        Server {
            runtime,
            app,
            cookie,
        }
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&pick, body)) = bytes.split_first() else {
        return;
    };
    let (method, path) = ROUTES[usize::from(pick) % ROUTES.len()];
    let content_type = CONTENT_TYPES[usize::from(pick / 16) % CONTENT_TYPES.len()];
    let server = server();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json")
        .header(header::COOKIE, &server.cookie)
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let response = server
        .runtime
        .block_on(server.app.clone().oneshot(request))
        .expect("infallible");
    assert!(
        !response.status().is_server_error(),
        "{method} {path} answered {}",
        response.status()
    );
});
