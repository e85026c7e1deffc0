//! The example's pages in a browser's order, in-process: sign-in,
//! enrollment with the QR code, the account page, and a later sign-in with
//! the challenge; codes computed from the secret the page shows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{AppKey, ManualClock};
use tower::ServiceExt;

const START: u64 = 1_700_000_000;

fn app() -> (Router, ManualClock) {
    let clock = ManualClock::new(START);
    let key = AppKey::from_bytes(1, &[2; 32]).unwrap();
    (axum_login_example::app(key, clock.clone()).unwrap(), clock)
}

/// A browser: keeps the session cookie.
struct Browser {
    app: Router,
    cookie: Option<String>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        self.headers[header::LOCATION].to_str().unwrap()
    }
}

impl Browser {
    fn new(app: &Router) -> Self {
        Self {
            app: app.clone(),
            cookie: None,
        }
    }

    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Answer {
        let request = match &self.cookie {
            Some(c) => request.header(header::COOKIE, c),
            None => request,
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        if let Some(set) = response.headers().get(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            self.cookie = Some(pair);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send(
            Request::get(path).header(header::ACCEPT, "text/html"),
            Body::empty(),
        )
        .await
    }

    /// Posts a form, fields already URL-safe.
    async fn post(&mut self, path: &str, form: &str) -> Answer {
        self.send(
            Request::post(path)
                .header(header::ACCEPT, "text/html")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(form.to_owned()),
        )
        .await
    }

    async fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        self.post("/login", &format!("username={user}&password={password}"))
            .await
    }
}

/// The text of `<code id="secret">` on the enrollment page.
fn secret_on(page: &str) -> Secret {
    let start = page.find(r#"<code id="secret">"#).expect("the secret") + 18;
    let len = page[start..].find("</code>").unwrap();
    Secret::from_base32(&page[start..start + len]).unwrap()
}

#[tokio::test]
async fn sign_in_enroll_then_sign_in_again_with_the_code() {
    let (app, clock) = app();

    // Ada's MFA is required: her first sign-in goes to enrollment.
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("ada", "lovelace").await.location(),
        "/account"
    );
    assert_eq!(browser.get("/account").await.location(), "/mfa/enroll");
    let enroll = browser.get("/mfa/enroll").await;
    assert_eq!(enroll.status, StatusCode::OK);
    assert!(enroll.body.contains("<svg"), "{}", enroll.body);
    let totp = Totp::new(TotpConfig::default(), &secret_on(&enroll.body));

    // A reload shows the same QR code.
    assert_eq!(browser.get("/mfa/enroll").await.body, enroll.body);

    // A wrong code: the same page again, with a message.
    let wrong = browser.post("/mfa/enroll", "code=000000").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not right"), "{}", wrong.body);
    assert!(
        wrong
            .body
            .contains(&secret_on(&enroll.body).expose_base32()[..])
    );

    let code = totp.generate(clock.now()).unwrap();
    let confirmed = browser
        .post("/mfa/enroll", &format!("code={}", code.as_str()))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert!(confirmed.body.contains("recovery codes"));
    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("<strong>ada</strong>"));
    assert!(account.body.contains("10 recovery codes left"));
    // Enrolled: the enrollment page has nothing more to show.
    assert_eq!(browser.get("/mfa/enroll").await.location(), "/account");

    // Another browser, a step later: the password, then the code.
    clock.advance(30);
    let mut other = Browser::new(&app);
    assert_eq!(
        other.sign_in("ada", "lovelace").await.location(),
        "/account"
    );
    assert_eq!(other.get("/account").await.location(), "/mfa/challenge");
    let challenge = other.get("/mfa/challenge").await;
    assert_eq!(challenge.status, StatusCode::OK);
    assert!(challenge.body.contains(r#"action="/mfa/challenge""#));
    let wrong = other.post("/mfa/challenge", "code=000000").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let code = totp.generate(clock.now()).unwrap();
    let verified = other
        .post("/mfa/challenge", &format!("code={}", code.as_str()))
        .await;
    assert_eq!(verified.location(), "/account");
    assert_eq!(other.get("/account").await.status, StatusCode::OK);
    // The code was used: nothing more to ask for.
    assert_eq!(other.get("/mfa/challenge").await.location(), "/account");

    // Signing out closes the account again.
    assert_eq!(other.post("/logout", "").await.location(), "/login");
    assert_eq!(other.get("/account").await.location(), "/login");
}

#[tokio::test]
async fn optional_mfa_lets_the_password_through_and_a_wrong_password_is_refused() {
    let (app, _) = app();
    let mut browser = Browser::new(&app);
    let refused = browser.sign_in("bob", "wrong").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("Wrong user name or password"));
    assert_eq!(browser.get("/account").await.location(), "/login");

    assert_eq!(
        browser.sign_in("bob", "builder").await.location(),
        "/account"
    );
    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("Two-factor authentication is off"));
    assert_eq!(browser.get("/mfa/challenge").await.location(), "/account");
}
