//! The test client shared by the HTTP tests: a browser (or API client)
//! that keeps the session cookie, driving a router through `oneshot`.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use mfa_flow::ManualClock;
use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A browser (or API client): keeps the session cookie.
pub(crate) struct Client {
    pub(crate) app: Router,
    pub(crate) cookie: Option<String>,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Client {
    pub(crate) fn new(app: &Router) -> Self {
        Self {
            app: app.clone(),
            cookie: None,
        }
    }

    pub(crate) async fn send(
        &mut self,
        request: axum::http::request::Builder,
        body: Body,
    ) -> Answer {
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
        if let Some(set) = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .next_back()
        {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            self.cookie = Some(pair);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn page(&mut self, path: &str) -> Answer {
        self.send(
            Request::get(path).header(header::ACCEPT, "text/html"),
            Body::empty(),
        )
        .await
    }

    pub(crate) async fn api_get(&mut self, path: &str) -> Answer {
        self.send(
            Request::get(path).header(header::ACCEPT, "application/json"),
            Body::empty(),
        )
        .await
    }

    pub(crate) async fn post_json(&mut self, path: &str, body: Value) -> Answer {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json"),
            Body::from(body.to_string()),
        )
        .await
    }

    /// Signs in at the application's `/login` with the name as the body.
    pub(crate) async fn sign_in(&mut self, name: &str) {
        let a = self
            .send(Request::post("/login"), Body::from(name.to_owned()))
            .await;
        assert_eq!(a.status, StatusCode::OK, "sign-in of {name}");
    }

    /// Enrolls the signed-in user through the JSON API nested at `api`
    /// (which raises the session to level 2); returns the authenticator app
    /// and the recovery codes. The clock moves on a step, so the next code
    /// is a new one.
    pub(crate) async fn enroll(&mut self, api: &str, clock: &ManualClock) -> (Totp, Vec<String>) {
        let started = self
            .post_json(&format!("{api}/enrollment"), json!({}))
            .await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.body);
        for field in [
            "otpauth_uri",
            "secret",
            "qr_svg",
            "expires_at",
            "expires_in",
        ] {
            assert!(!started.body[field].is_null(), "{field}");
        }
        assert_eq!(started.body["expires_in"], 180);
        let app = Totp::new(
            TotpConfig::default(),
            &Secret::from_base32(started.body["secret"].as_str().unwrap()).unwrap(),
        );
        let code = app.generate(clock.now()).unwrap();
        let confirmed = self
            .post_json(
                &format!("{api}/enrollment/confirm"),
                json!({ "code": code.as_str() }),
            )
            .await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
        let codes: Vec<String> = confirmed.body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(codes.len(), 10);
        clock.advance(30);
        (app, codes)
    }
}
