//! Starting the app for tests (on a fresh SQLite file or a fresh PostgreSQL
//! schema, with a manual clock), and a small cookie-keeping client.

#![allow(dead_code, unreachable_pub)]

pub mod process;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use lumen::{Config, Database, Lumen, SESSION_COOKIE};
use mfa_flow::ManualClock;
use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_store_sqlx::sqlx::postgres::PgPoolOptions;
use tower::ServiceExt;

/// Where the app keeps its data in a test.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub fn postgres_url() -> String {
    std::env::var("MFA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A time on a 30-second boundary, so a test knows where steps begin.
pub const START: u64 = 1_800_000_000;

/// The app under test and what it stands on.
pub struct TestApp {
    pub lumen: Lumen,
    pub clock: ManualClock,
    pub config: Config,
    pub dir: tempfile::TempDir,
}

/// A fresh PostgreSQL schema; ones left by runs over an hour old are dropped.
async fn fresh_schema() -> Option<String> {
    let url = postgres_url();
    let pool = match PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
    {
        Ok(pool) => pool,
        Err(e) if in_ci() => panic!("PostgreSQL is required when CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: PostgreSQL not reachable at {url}: {e}");
            return None;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old: Vec<(String,)> = mfa_store_sqlx::sqlx::query_as(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'lumen\\_test\\_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (name,) in old {
        let created = name.split('_').nth(2).and_then(|t| t.parse::<u64>().ok());
        // Only names a test run made: anyone on a shared server can create
        // a schema, and its name is written into the statement.
        let ours = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ours && created.unwrap_or(0) + 3600 < now {
            let _ = mfa_store_sqlx::sqlx::query(mfa_store_sqlx::sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(&pool)
            .await;
        }
    }
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).unwrap();
    let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("lumen_test_{now}_{hex}"))
}

/// The database of a new test app.
pub async fn database(backend: Backend, dir: &tempfile::TempDir) -> Option<Database> {
    Some(match backend {
        Backend::Sqlite => Database::Sqlite(dir.path().join("lumen.db")),
        Backend::Postgres => Database::Postgres {
            url: postgres_url(),
            schema: fresh_schema().await?,
        },
    })
}

/// A new app on `backend`, its clock at [`START`], QR codes valid `ttl` s.
pub async fn app_with_ttl(backend: Backend, ttl: u64) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(database(backend, &dir).await?);
    config.enrollment_ttl = ttl;
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.sealing_key = Some("42".repeat(32));
    // In process there is no peer address; the limit has a test of its own.
    config.rate_limit = 0;
    let clock = ManualClock::new(START);
    let lumen = Lumen::new(config.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    Some(TestApp {
        lumen,
        clock,
        config,
        dir,
    })
}

pub async fn app(backend: Backend) -> Option<TestApp> {
    app_with_ttl(backend, 180).await
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
    }

    /// The error key of a refused form's redirect (`…?error=KEY`).
    pub fn refusal(&self) -> Option<&str> {
        if self.status != StatusCode::SEE_OTHER {
            return None;
        }
        self.location()?.split_once("?error=").map(|(_, key)| key)
    }

    pub fn is_html(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    /// The enrollment page's key, without the spaces of its grouping.
    pub fn secret(&self) -> String {
        let tag = self.body.find("id=\"secret\"").expect("an enrollment page");
        let start = self.body[tag..].find('>').unwrap() + tag + 1;
        let end = self.body[start..].find('<').unwrap() + start;
        self.body[start..end].replace(' ', "")
    }

    /// The recovery codes on a recovery-codes page.
    pub fn recovery_codes(&self) -> Vec<String> {
        let list = self.body.split("id=\"recovery-codes\"").nth(1).unwrap();
        let list = list.split("</ol>").next().unwrap();
        list.split("<code>")
            .skip(1)
            .map(|c| c.split('<').next().unwrap().to_owned())
            .collect()
    }
}

/// A browser's cookies: every `Set-Cookie` kept, a `Max-Age=0` one removed.
#[derive(Clone, Debug, Default)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    /// The session cookie's value.
    pub fn session(&self) -> Option<String> {
        self.0.get(SESSION_COOKIE).cloned()
    }

    /// Sets (or with `None` removes) the session cookie.
    pub fn set_session(&mut self, value: Option<String>) {
        match value {
            Some(value) => self.0.insert(SESSION_COOKIE.to_owned(), value),
            None => self.0.remove(SESSION_COOKIE),
        };
    }

    /// The `Cookie` header a browser would send (all cookies: the tests
    /// use one path).
    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Keeps what one `Set-Cookie` header value says.
    pub fn store(&mut self, set_cookie: &str) {
        let pair = set_cookie.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        if set_cookie.contains("Max-Age=0") {
            self.0.remove(name.trim());
        } else {
            self.0.insert(name.trim().to_owned(), value.to_owned());
        }
    }
}

/// A browser stand-in: keeps its cookies, follows nothing.
pub struct Client {
    pub router: Router,
    pub cookies: Jar,
}

impl Client {
    pub fn new(app: &TestApp) -> Self {
        Self {
            router: app.lumen.router(),
            cookies: Jar::default(),
        }
    }

    /// Another tab of the same browser: the same app and cookies.
    pub fn tab(&self) -> Self {
        Self {
            router: self.router.clone(),
            cookies: self.cookies.clone(),
        }
    }

    /// The session cookie's value.
    pub fn session(&self) -> Option<String> {
        self.cookies.session()
    }

    pub async fn send(&mut self, request: http::request::Builder, body: String) -> Answer {
        let request = match self.cookies.header() {
            Some(cookie) => request.header(header::COOKIE, cookie),
            None => request,
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(header::SET_COOKIE) {
            self.cookies.store(value.to_str().unwrap());
        }
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Request::get(path), String::new()).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, body).await
    }

    /// Posts a form of the page at `page`, with that page's CSRF token.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.get(page).await.csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }

    /// Posts a form that must be refused the Post/Redirect/Get way: a
    /// `303` to `to` (its page with an error key); returns that page.
    pub async fn refused(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        to: &str,
    ) -> Answer {
        let answer = self.submit(page, action, fields).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{action}: {}",
            answer.body
        );
        assert_eq!(answer.location(), Some(to), "{action}");
        let shown = self.get(to).await;
        assert_eq!(shown.status, StatusCode::OK, "{to}: {}", shown.body);
        shown
    }

    /// Posts a wrong `code` to the code form at `page` (its own action);
    /// returns the page it redirects to.
    pub async fn wrong_code(&mut self, page: &str, code: &str) -> Answer {
        let to = format!("{page}?error=invalid");
        self.refused(page, page, &[("code", code)], &to).await
    }

    pub async fn register(&mut self, email: &str, customer: &str, otp: bool) -> Answer {
        let mut fields = vec![
            ("name", "Ada Lovelace"),
            ("email", email),
            ("password", "correct horse battery"),
            ("customer", customer),
        ];
        if otp {
            fields.push(("otp", "on"));
        }
        self.submit("/register", "/register", &fields).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The authenticator app for a base32 key.
pub fn authenticator(secret: &str) -> Totp {
    Totp::new(TotpConfig::default(), &Secret::from_base32(secret).unwrap())
}

pub fn code(app: &Totp, clock: &ManualClock) -> String {
    app.generate(clock.now()).unwrap().as_str().to_owned()
}
