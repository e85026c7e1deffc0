//! What a request costs in store reads, counted by wrapping both stores:
//! a submitted code loads the MFA record once and the session once; a
//! request of a session that passed MFA loads no MFA record at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use mfa_axum::{Assurance, Mfa, MfaLayer, SessionIdentity, SessionLifetimeLayer, routes};
use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{
    AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Policy, Saved, Store,
    StoredRecord,
};
use tower::ServiceExt;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{MemoryStore as Sessions, Session, SessionManagerLayer};

/// The MFA store, counting loads.
#[derive(Clone, Default)]
struct CountingStore {
    inner: MemoryStore,
    loads: Arc<AtomicUsize>,
}

impl Store for CountingStore {
    type Error = <MemoryStore as Store>::Error;
    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, Self::Error> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(user).await
    }
    async fn save(&self, user: &str, record: &StoredRecord) -> Result<Saved, Self::Error> {
        self.inner.save(user, record).await
    }
    async fn delete(&self, user: &str, version: u64) -> Result<Saved, Self::Error> {
        self.inner.delete(user, version).await
    }
}

/// The session store, counting loads and writes.
#[derive(Clone, Debug, Default)]
struct CountingSessions {
    inner: Sessions,
    loads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl SessionStore for CountingSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
}

struct App {
    router: Router,
    clock: ManualClock,
    mfa_loads: Arc<AtomicUsize>,
    session_loads: Arc<AtomicUsize>,
    session_writes: Arc<AtomicUsize>,
}

fn app() -> App {
    app_with(false)
}

/// The app, with `SessionLifetimeLayer` (30 minutes idle, 12 hours in all)
/// when `lifetime` is set.
fn app_with(lifetime: bool) -> App {
    let clock = ManualClock::new(1_700_000_000);
    let store = CountingStore::default();
    let sessions = CountingSessions::default();
    let service = MfaService::new(
        store.clone(),
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[4; 32]).unwrap()),
        MfaConfig::new("Count"),
    );
    let mfa = Mfa::builder(service, Policy::Optional, SessionIdentity::new("user")).build();
    let router = Router::new()
        .route(
            "/account",
            get(|a: Assurance| async move { a.user.to_string() }),
        )
        .layer(MfaLayer::new(&mfa))
        .route(
            "/login",
            post(|session: Session| async move {
                session.insert("user", "ada").await.unwrap();
            }),
        )
        .nest("/api/mfa", routes(&mfa))
        .with_state(mfa);
    let router = if lifetime {
        router.layer(SessionLifetimeLayer::new(clock.clone()))
    } else {
        router
    };
    let router = router.layer(SessionManagerLayer::new(sessions.clone()).with_secure(false));
    App {
        router,
        clock,
        mfa_loads: store.loads,
        session_loads: sessions.loads,
        session_writes: sessions.writes,
    }
}

impl App {
    /// Sends a request; returns the status, the new cookie if one was set,
    /// and the body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, Option<String>, serde_json::Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT, "application/json");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Body::from(body.unwrap_or_default())).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            cookie,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    /// The guarded page's status for a session.
    async fn page(&self, cookie: &str) -> StatusCode {
        self.send("GET", "/account", Some(cookie), None).await.0
    }

    fn reset(&self) {
        self.mfa_loads.store(0, Ordering::SeqCst);
        self.session_loads.store(0, Ordering::SeqCst);
        self.session_writes.store(0, Ordering::SeqCst);
    }

    fn counts(&self) -> (usize, usize) {
        (
            self.mfa_loads.load(Ordering::SeqCst),
            self.session_loads.load(Ordering::SeqCst),
        )
    }
}

#[tokio::test]
async fn one_record_load_and_one_session_load_per_submitted_code() {
    let app = app();
    // Enroll.
    let (_, cookie, _) = app.send("POST", "/login", None, None).await;
    let cookie = cookie.unwrap();
    let (status, _, started) = app
        .send(
            "POST",
            "/api/mfa/enrollment",
            Some(&cookie),
            Some("{}".into()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let totp = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(started["secret"].as_str().unwrap()).unwrap(),
    );
    let code = |at: u64| format!(r#"{{"code":"{}"}}"#, totp.generate(at).unwrap().as_str());
    let (status, _, _) = app
        .send(
            "POST",
            "/api/mfa/enrollment/confirm",
            Some(&cookie),
            Some(code(app.clock.now())),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(30);

    // A new sign-in; a password-level request reads the session and the
    // record and writes nothing (so it cannot save an old id back while
    // another request raises the session).
    let (_, cookie, _) = app.send("POST", "/login", None, None).await;
    let cookie = cookie.unwrap();
    app.reset();
    let (status, _, _) = app.send("GET", "/account", Some(&cookie), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.counts(), (1, 1), "(MFA record loads, session loads)");
    assert_eq!(app.session_writes.load(Ordering::SeqCst), 0);

    // The submitted code.
    app.reset();
    let (status, raised, _) = app
        .send(
            "POST",
            "/api/mfa/challenge",
            Some(&cookie),
            Some(code(app.clock.now())),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.counts(), (1, 1), "(MFA record loads, session loads)");

    // A level-2 request through the guard: the session only.
    let raised = raised.unwrap();
    app.reset();
    let (status, _, body) = app.send("GET", "/account", Some(&raised), None).await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::Value::Null));
    assert_eq!(app.counts(), (0, 1), "(MFA record loads, session loads)");
}

/// Sessions end after 30 idle minutes and after 12 hours in all; keeping
/// one alive costs a session write a minute at most, not one a request.
#[tokio::test]
async fn sessions_end_when_idle_or_old_and_refresh_once_a_minute() {
    let app = app_with(true);
    // A made-up cookie stores nothing.
    app.reset();
    assert_eq!(
        app.page("id=AAAAAAAAAAAAAAAAAAAAAA").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.session_writes.load(Ordering::SeqCst), 0);
    let (_, cookie, _) = app.send("POST", "/login", None, None).await;
    let cookie = cookie.unwrap();
    // MFA off and optional: the password is enough.
    assert_eq!(app.page(&cookie).await, StatusCode::OK);
    // Ten requests within a minute: no write.
    app.reset();
    for _ in 0..10 {
        app.clock.advance(5);
        assert_eq!(app.page(&cookie).await, StatusCode::OK);
    }
    assert_eq!(app.session_writes.load(Ordering::SeqCst), 0);
    // Used every 29 minutes, it lives on (one write each time)...
    for _ in 0..3 {
        app.clock.advance(29 * 60);
        app.reset();
        assert_eq!(app.page(&cookie).await, StatusCode::OK);
        assert_eq!(app.session_writes.load(Ordering::SeqCst), 1);
    }
    // ...idle for 31, it is gone.
    app.clock.advance(31 * 60);
    assert_eq!(app.page(&cookie).await, StatusCode::UNAUTHORIZED);

    // Kept busy, it still ends after 12 hours.
    let (_, cookie, _) = app.send("POST", "/login", None, None).await;
    let cookie = cookie.unwrap();
    assert_eq!(app.page(&cookie).await, StatusCode::OK);
    for _ in 0..(12 * 60 / 20) {
        app.clock.advance(20 * 60);
        assert_eq!(app.page(&cookie).await, StatusCode::OK);
    }
    app.clock.advance(20 * 60);
    assert_eq!(app.page(&cookie).await, StatusCode::UNAUTHORIZED);
}
