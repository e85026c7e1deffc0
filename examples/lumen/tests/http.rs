//! The app over HTTP, in process, on a fresh SQLite file and on a fresh
//! PostgreSQL schema (the same tests for both): the whole flow, CSRF,
//! cookie flags, session ids, lock messages, generic sign-in answers and
//! error pages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Client, TestApp, app, authenticator, code};
use http::{StatusCode, header};
use lumen::{Database, SESSION_COOKIE};

const NORMAL: &str = "1";
const REQUIRED: &str = "2";
const PASSWORD: &str = "correct horse battery";

/// Registers with the OTP option, signs in, enrolls; returns the client at
/// level 2, the authenticator and the recovery codes.
async fn enrolled(
    test: &common::TestApp,
    email: &str,
) -> (Client, mfa_flow::totp_core::Totp, Vec<String>) {
    enrolled_with(test, email, NORMAL).await
}

/// [`enrolled`], as a user of `customer`.
async fn enrolled_with(
    test: &common::TestApp,
    email: &str,
    customer: &str,
) -> (Client, mfa_flow::totp_core::Totp, Vec<String>) {
    let mut client = Client::new(test);
    let done = client.register(email, customer, true).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), Some("/login?notice=registered"));
    let signed = client.sign_in(email, PASSWORD).await;
    assert_eq!(signed.location(), Some("/account"));
    let account = client.get("/account").await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert_eq!(account.location(), Some("/mfa/enroll"));
    let page = client.get("/mfa/enroll").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "the QR code is inline SVG");
    assert!(page.body.contains("data-expires-in=\"180\""));
    let app = authenticator(&page.secret());
    let confirmed = client
        .post(
            "/mfa/enroll",
            &[("csrf", &page.csrf()), ("code", &code(&app, &test.clock))],
        )
        .await;
    assert_eq!(
        confirmed.location(),
        Some("/account/recovery-codes"),
        "{}",
        confirmed.body
    );
    let codes = client.get("/account/recovery-codes").await.recovery_codes();
    assert_eq!(codes.len(), 10);
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
    (client, app, codes)
}

async fn whole_flow(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let (mut client, app, codes) = enrolled(&test, "ada@example.com").await;

    // Reloading the enrollment page while pending shows the same key; after
    // enrollment it leads back to the account.
    assert_eq!(client.get("/mfa/enroll").await.location(), Some("/account"));

    // Sign out, sign in: a code is needed, and the confirming code does not
    // count as a new one.
    let out = client.submit("/account", "/logout", &[]).await;
    assert_eq!(out.location(), Some("/login?notice=signed-out"));
    assert_eq!(client.get("/account").await.location(), Some("/login"));
    client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        client.get("/account").await.location(),
        Some("/mfa/challenge")
    );
    let same_step = code(&app, &test.clock);
    let refused = client.wrong_code("/mfa/challenge", &same_step).await;
    assert!(refused.body.contains("That code is not valid"));

    test.clock.advance(30);
    let next = code(&app, &test.clock);
    let passed = client
        .submit("/mfa/challenge", "/mfa/challenge", &[("code", &next)])
        .await;
    assert_eq!(passed.location(), Some("/account"));
    let page = client.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Welcome, Ada Lovelace"));

    // The same code on a new sign-in is refused.
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    let replayed = client.wrong_code("/mfa/challenge", &next).await;
    assert!(replayed.body.contains("each code works once"));

    // A recovery code signs in once, not twice.
    let used = client
        .submit("/mfa/recovery", "/mfa/recovery", &[("code", &codes[0])])
        .await;
    assert_eq!(
        used.location(),
        Some("/account/authentication?notice=recovery-used")
    );
    let tab = client.get("/account/authentication").await;
    assert!(tab.body.contains("id=\"codes-left\">9<"), "{}", tab.body);
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    let again = client.wrong_code("/mfa/recovery", &codes[0]).await;
    assert!(again.body.contains("it was used already"));

    // Regenerate the recovery codes and turn MFA off, each with a code.
    test.clock.advance(30);
    client
        .submit(
            "/mfa/challenge",
            "/mfa/challenge",
            &[("code", &code(&app, &test.clock))],
        )
        .await;
    test.clock.advance(30);
    let fresh = client
        .submit(
            "/account/authentication",
            "/account/mfa/recovery-codes",
            &[("code", &code(&app, &test.clock))],
        )
        .await;
    assert_eq!(fresh.location(), Some("/account/recovery-codes"));
    let fresh = client.get("/account/recovery-codes").await;
    assert_eq!(fresh.recovery_codes().len(), 10);
    assert!(!fresh.recovery_codes().contains(&codes[1]));
    test.clock.advance(30);
    let off = client
        .submit(
            "/account/authentication",
            "/account/mfa/disable",
            &[("code", &code(&app, &test.clock))],
        )
        .await;
    assert_eq!(
        off.location(),
        Some("/account/authentication?notice=mfa-off")
    );
    // A second tab still showing "Regenerate": the tab, not an error page.
    let stale = client
        .submit(
            "/account/authentication",
            "/account/mfa/recovery-codes",
            &[("code", "123456")],
        )
        .await;
    assert_eq!(stale.location(), Some("/account/authentication"));
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
}

async fn required_customer_must_enroll(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    // The OTP option is not sent (as if unticked): the customer requires it.
    client.register("grace@bank.example", REQUIRED, false).await;
    client.sign_in("grace@bank.example", PASSWORD).await;
    for path in ["/account", "/account/authentication"] {
        let answer = client.get(path).await;
        assert_eq!(answer.location(), Some("/mfa/enroll"), "{path}");
    }
    // The JSON API answers the same way; below level 2 its status says only
    // whether the user is enrolled.
    let api = client
        .send(
            http::Request::get("/api/mfa/status").header(header::ACCEPT, "application/json"),
            String::new(),
        )
        .await;
    assert_eq!(api.status, StatusCode::OK);
    assert!(api.body.contains("\"enrolled\":false"), "{}", api.body);
    assert!(!api.body.contains("state"), "{}", api.body);
    let guarded = client
        .send(
            http::Request::get("/account").header(header::ACCEPT, "application/json"),
            String::new(),
        )
        .await;
    assert_eq!(guarded.status, StatusCode::FORBIDDEN);
    assert!(guarded.body.contains("mfa_enrollment_required"));
    // After enrolling, MFA cannot be turned off.
    let page = client.get("/mfa/enroll").await;
    let app = authenticator(&page.secret());
    client
        .post(
            "/mfa/enroll",
            &[("csrf", &page.csrf()), ("code", &code(&app, &test.clock))],
        )
        .await;
    let tab = client.get("/account/authentication").await;
    assert!(tab.body.contains("cannot be turned off"));
    test.clock.advance(30);
    let refused = client
        .submit(
            "/account/authentication",
            "/account/mfa/disable",
            &[("code", &code(&app, &test.clock))],
        )
        .await;
    // A forged Turn off: back to the tab, which says why; MFA stays on.
    assert_eq!(refused.location(), Some("/account/authentication"));
    let tab = client.get("/account/authentication").await;
    assert!(tab.body.contains("cannot be turned off"));
    assert!(tab.body.contains("id=\"codes-left\""));
}

async fn opt_in_later_from_the_authentication_tab(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("alan@example.com", NORMAL, false).await;
    client.sign_in("alan@example.com", PASSWORD).await;
    let tab = client.get("/account/authentication").await;
    assert_eq!(tab.status, StatusCode::OK);
    assert!(tab.body.contains("id=\"mfa-state\">Off<"));
    let on = client
        .submit("/account/authentication", "/account/mfa/enable", &[])
        .await;
    assert_eq!(on.location(), Some("/mfa/enroll"));
    let page = client.get("/mfa/enroll").await;
    let app = authenticator(&page.secret());
    client
        .post(
            "/mfa/enroll",
            &[("csrf", &page.csrf()), ("code", &code(&app, &test.clock))],
        )
        .await;
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("alan@example.com", PASSWORD).await;
    assert_eq!(
        client.get("/account").await.location(),
        Some("/mfa/challenge")
    );
}

async fn wrong_codes_lock_with_the_time_left(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let (mut client, app, _) = enrolled(&test, "ada@example.com").await;
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    test.clock.advance(30);
    let good = code(&app, &test.clock);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    // A code that is not six digits is explained, and not counted.
    let malformed = client
        .refused(
            "/mfa/challenge",
            "/mfa/challenge",
            &[("code", "12ab")],
            "/mfa/challenge?error=malformed",
        )
        .await;
    assert!(
        malformed
            .body
            .contains("Enter the 6-digit code from your authenticator app.")
    );
    // Five wrong codes in a row: the fifth starts a 30-second lock, in
    // which even the right code is refused, with the time left.
    // Each wrong code says how many are left before the pause.
    for left in [
        "4 more wrong codes",
        "3 more",
        "2 more",
        "One more wrong code",
        "Try again in 30 seconds",
    ] {
        let answer = client
            .refused(
                "/mfa/challenge",
                "/mfa/challenge",
                &[("code", wrong)],
                "/mfa/challenge?error=invalid",
            )
            .await;
        assert!(answer.body.contains(left), "{left}: {}", answer.body);
        let locking = left.starts_with("Try");
        assert_eq!(answer.body.contains("phone's clock"), !locking, "{left}");
    }
    let locked = client
        .refused(
            "/mfa/challenge",
            "/mfa/challenge",
            &[("code", &good)],
            "/mfa/challenge?error=locked",
        )
        .await;
    // The field waits, with a countdown, and the recovery code is offered;
    // a reload shows the same, and so does the page without the key.
    for page in [&locked, &client.get("/mfa/challenge").await] {
        assert!(
            page.body
                .contains("id=\"lock-countdown\" data-locked-for=\"30\""),
            "{}",
            page.body
        );
        assert!(page.body.contains("disabled"));
        assert!(page.body.contains("href=\"/mfa/recovery\""));
    }
    assert!(
        locked
            .body
            .contains("Too many wrong codes. Try again in 30 seconds."),
        "{}",
        locked.body
    );
    // The lock over, the same address no longer speaks of it.
    test.clock.advance(30);
    let later = client.get("/mfa/challenge?error=locked").await;
    assert!(
        !later.body.contains("Too many wrong codes"),
        "{}",
        later.body
    );
    assert!(!later.body.contains("disabled"));
    let after = client
        .submit(
            "/mfa/challenge",
            "/mfa/challenge",
            &[("code", &code(&app, &test.clock))],
        )
        .await;
    assert_eq!(after.location(), Some("/account"));
}

async fn sign_in_answers_are_generic_and_throttled(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, false).await;
    // A refused sign-in is a redirect to the form (Post/Redirect/Get),
    // which shows the address typed and one message for either mistake.
    let wrong_password = client.sign_in("ada@example.com", "wrong password").await;
    assert_eq!(wrong_password.location(), Some("/login?error=incorrect"));
    let wrong_password = client.get("/login?error=incorrect").await;
    let unknown = client.sign_in("nobody@example.com", "wrong password").await;
    assert_eq!(unknown.location(), Some("/login?error=incorrect"));
    let unknown = client.get("/login?error=incorrect").await;
    let message = |a: &common::Answer| {
        let start = a.body.find("role=\"alert\">").unwrap();
        a.body[start..start + 60].to_owned()
    };
    assert_eq!(message(&wrong_password), message(&unknown));
    assert!(message(&unknown).contains("Email or password is incorrect."));
    assert!(unknown.body.contains("value=\"nobody@example.com\""));
    assert!(!unknown.body.contains("wrong password"));
    // A reload shows the same and costs no attempt; a plain visit shows
    // an empty form.
    assert_eq!(
        client.get("/login?error=incorrect").await.body,
        unknown.body
    );
    let plain = client.get("/login").await;
    assert!(!plain.body.contains("role=\"alert\""));
    assert!(!plain.body.contains("nobody@example.com"));
    // Registering a taken address answers as a new registration does.
    let taken = client.register("ada@example.com", NORMAL, false).await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER);
    assert_eq!(taken.location(), Some("/login?notice=registered"));
    // Five failures in a row lock sign-ins for the address, known or not.
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..4 {
            client.sign_in(email, "wrong password").await;
        }
        let locked = client.sign_in(email, PASSWORD).await;
        assert_eq!(locked.refusal(), Some("locked"), "{email}");
        let locked = client.get("/login?error=locked").await;
        assert!(
            locked
                .body
                .contains("Too many failed sign-ins. Try again in 30 seconds.")
        );
    }
    // The lock over, its page says so.
    test.clock.advance(31);
    let later = client.get("/login?error=locked").await;
    assert!(
        later.body.contains("You can try again now."),
        "{}",
        later.body
    );
    // A key twice, or a query that does not parse, is no reason to refuse
    // the page.
    for odd in [
        "/login?error=locked&error=x",
        "/register?error=email&error=name",
        "/login?%zz",
    ] {
        assert_eq!(client.get(odd).await.status, StatusCode::OK, "{odd}");
    }
    // Registration's field error needs no cookie; what was typed does.
    let mut fresh = Client::new(&test);
    let page = fresh.get("/register?error=email").await;
    assert!(page.body.contains("id=\"email-error\""), "{}", page.body);
    assert!(!page.body.contains("Ada Lovelace"));
    // Signing out clears a refused form's answer (a shared computer).
    let mut shared = Client::new(&test);
    shared.register("not an address", NORMAL, false).await;
    shared.sign_in("ada@example.com", PASSWORD).await;
    let out = shared.submit("/account", "/logout", &[]).await;
    assert_eq!(out.location(), Some("/login?notice=signed-out"));
    let cleared = out
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|v| v.to_str().unwrap().contains("answer=; "))
        .count();
    assert_eq!(cleared, 2, "{:?}", out.headers);
    let ok = client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(ok.location(), Some("/account"));
}

/// Simultaneous wrong passwords each cost an attempt before the password
/// is checked: of 60 sent at once, no more than the budget (5) are checked,
/// and the right password is then refused too, until the lock ends.
async fn simultaneous_wrong_passwords_cost_the_budget(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, false).await;
    let csrf = client.get("/login").await.csrf();
    let form = format!(
        "csrf={}&email=ada%40example.com&password=wrong+password",
        common::urlencode(&csrf)
    );
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let mut c = client.tab();
        let form = form.clone();
        requests.spawn(async move {
            let request = http::Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            let answer = c.send(request, form).await;
            match answer.refusal() {
                Some(key) => key.to_owned(),
                None => answer.status.to_string(),
            }
        });
    }
    let statuses = requests.join_all().await;
    let count = |what: &str| statuses.iter().filter(|s| *s == what).count();
    let (checked, refused) = (count("incorrect"), count("locked"));
    // Beyond the hashing queue a prompt 503, which costs no attempt.
    let busy = count("503 Service Unavailable");
    assert_eq!(checked + refused + busy, 60, "{statuses:?}");
    assert!(
        checked <= 5,
        "{checked} of 60 simultaneous guesses were checked"
    );
    let right = client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(right.refusal(), Some("locked"));
}

/// Addresses no account can have are answered 4xx on both databases, never
/// 5xx, and one an authenticator app cannot show is refused at
/// registration, so a user who registered can always enroll.
async fn odd_addresses_are_client_errors(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    let long = format!("{}@example.com", "a".repeat(9000));
    for email in ["nul\0@example.com", long.as_str(), "colon:user@example.com"] {
        let signed_in = client.sign_in(email, PASSWORD).await;
        assert_eq!(
            signed_in.refusal(),
            Some("incorrect"),
            "sign-in {email:.40}"
        );
        let form = client.get("/login?error=incorrect").await;
        assert_eq!(form.status, StatusCode::OK, "sign-in {email:.40}");
        let registered = client.register(email, NORMAL, true).await;
        assert_eq!(
            registered.refusal(),
            Some("email"),
            "registration {email:.40}"
        );
        let form = client.get("/register?error=email").await;
        assert_eq!(form.status, StatusCode::OK, "registration {email:.40}");
        assert!(form.body.contains("Enter a valid email address"));
    }
}

/// After 30 idle minutes the session is over, MFA and all: the next page
/// asks to sign in again.
async fn idle_sessions_end_after_30_minutes(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let (mut client, _, _) = enrolled(&test, "ada@example.com").await;
    test.clock.advance(29 * 60);
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
    test.clock.advance(29 * 60);
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
    test.clock.advance(31 * 60);
    assert_eq!(client.get("/account").await.location(), Some("/login"));
}

async fn forms_need_the_session_token(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, false).await;
    client.get("/login").await;
    // A form from another site carries no token, or a wrong one.
    for form in [
        vec![("email", "ada@example.com"), ("password", PASSWORD)],
        vec![
            ("csrf", "forged-token-forged-token-forged-token-abc"),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
        ],
    ] {
        let answer = client.post("/login", &form).await;
        assert!(answer.status.is_client_error(), "{:?}", answer.status);
        assert!(answer.is_html());
        assert!(answer.location().is_none());
    }
    let forged = client
        .post(
            "/login",
            &[
                ("csrf", "forged"),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Signed in, the account forms refuse a forged token too.
    client.sign_in("ada@example.com", PASSWORD).await;
    for action in ["/account/mfa/enable", "/logout"] {
        let answer = client.post(action, &[("csrf", "forged")]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
    let tab = client.get("/account/authentication").await;
    assert!(
        tab.body.contains("id=\"mfa-state\">Off<"),
        "nothing changed"
    );
}

async fn session_cookie_and_id_rotation(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    /// The `Set-Cookie` value of the cookie `name` in an answer.
    fn set_cookie<'a>(answer: &'a common::Answer, name: &str) -> &'a str {
        answer
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie: {:?}", answer.headers))
    }
    let mut client = Client::new(&test);
    let page = client.get("/login").await;
    let csrf = set_cookie(&page, "lumen_csrf");
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
    assert_eq!(client.session(), None, "no session before sign-in");

    client.register("ada@example.com", NORMAL, true).await;
    let signed_in = client.sign_in("ada@example.com", PASSWORD).await;
    let cookie = set_cookie(&signed_in, SESSION_COOKIE);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let device = set_cookie(&signed_in, "lumen_device");
    assert!(
        device.contains("HttpOnly") && device.contains("Path=/login"),
        "{device}"
    );
    let after_login = client.session().unwrap();

    let page = client.get("/mfa/enroll").await;
    let app = authenticator(&page.secret());
    client
        .post(
            "/mfa/enroll",
            &[("csrf", &page.csrf()), ("code", &code(&app, &test.clock))],
        )
        .await;
    let after_mfa = client.session().unwrap();
    assert_ne!(after_login, after_mfa, "the id changes when MFA passes");
    assert_eq!(client.get("/account").await.status, StatusCode::OK);

    // The old id grants nothing.
    let mut stale = Client::new(&test);
    stale.cookies.set_session(Some(after_login));
    assert_eq!(stale.get("/account").await.location(), Some("/login"));

    // Signed in, the sign-in and registration pages lead to the account.
    assert_eq!(client.get("/login").await.location(), Some("/account"));
    assert_eq!(client.get("/register").await.location(), Some("/account"));
    // A sign-in never keeps the id the browser came with (fixation): a
    // live session's id planted in another browser is replaced.
    let before = client.session().unwrap();
    let mut planted = Client::new(&test);
    let csrf = planted.get("/login").await.csrf();
    planted.cookies.set_session(Some(before.clone()));
    let fields = [
        ("csrf", csrf.as_str()),
        ("email", "ada@example.com"),
        ("password", PASSWORD),
    ];
    assert_eq!(
        planted.post("/login", &fields).await.location(),
        Some("/account")
    );
    let after = planted.session().unwrap();
    assert_ne!(after, before, "the id changes at sign-in");

    // With HTTPS configured, cookies are Secure, the form's with the
    // __Host- prefix.
    let mut config = test.config.clone();
    config.secure_cookies = true;
    let secure = lumen::Lumen::new(config, std::sync::Arc::new(test.clock.clone()))
        .await
        .unwrap();
    let mut client = Client {
        router: secure.router(),
        cookies: common::Jar::default(),
    };
    let page = client.get("/login").await;
    let csrf = set_cookie(&page, "__Host-lumen_csrf");
    assert!(
        csrf.contains("; Secure") && csrf.contains("Path=/"),
        "{csrf}"
    );
    client.register("ada@example.com", NORMAL, false).await;
    let signed_in = client.sign_in("ada@example.com", PASSWORD).await;
    assert!(set_cookie(&signed_in, SESSION_COOKIE).contains("; Secure"));
    assert!(set_cookie(&signed_in, "lumen_device").contains("; Secure"));
}

async fn errors_are_pages(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    let missing = client.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.is_html() && missing.body.contains("Page not found"));
    let method = client
        .send(http::Request::put("/login"), String::new())
        .await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(method.is_html());
    let garbage = client
        .send(
            http::Request::post("/register")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            "customer=%FF%FE&&&==".to_owned(),
        )
        .await;
    assert!(garbage.status.is_client_error());
    assert!(garbage.is_html(), "{:?}", garbage.headers);
    assert!(!garbage.body.contains("Failed to deserialize"));
    let huge = client
        .send(
            http::Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            "a".repeat(100_000),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(huge.is_html());
    // Pages are never cached, nor framed; the static files are cached.
    let page = client.get("/login").await;
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let css = client.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    // The JSON API keeps its JSON errors.
    let api = client
        .send(
            http::Request::post("/api/mfa/challenge")
                .header(header::CONTENT_TYPE, "application/json"),
            "{\"code\":\"123456\"}".to_owned(),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert!(api.body.contains("not_signed_in"), "{}", api.body);
}

async fn an_expired_qr_code_leads_to_a_new_one(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, true).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    let page = client.get("/mfa/enroll").await;
    let first = page.secret();
    test.clock.advance(100);
    let reloaded = client.get("/mfa/enroll").await;
    assert_eq!(
        reloaded.secret(),
        first,
        "the same QR code while it is valid"
    );
    assert!(reloaded.body.contains("data-expires-in=\"80\""));
    test.clock.advance(80);
    let app = authenticator(&first);
    let late = client
        .post(
            "/mfa/enroll",
            &[("csrf", &page.csrf()), ("code", &code(&app, &test.clock))],
        )
        .await;
    assert_eq!(late.location(), Some("/mfa/expired"));
    let expired = client.get("/mfa/expired").await;
    assert!(expired.body.contains("This QR code has expired"));
    let fresh = client.get("/mfa/enroll").await;
    assert_ne!(fresh.secret(), first, "a new key after expiry");
}

/// The session ids kept in the database, as stored.
async fn stored_session_ids(test: &TestApp) -> Vec<String> {
    use mfa_store_sqlx::sqlx;
    match &test.config.database {
        Database::Sqlite(path) => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .read_only(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            sqlx::query_scalar("SELECT id FROM http_sessions")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        Database::Postgres { url, schema } => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {schema}.http_sessions"
            )))
            .fetch_all(&pool)
            .await
            .unwrap()
        }
        other => panic!("no such database in the tests: {other:?}"),
    }
}

/// A read-only copy of the database gives no session: the stored ids are
/// keyed hashes, never the cookie values, and the SQLite files are the
/// owner's alone.
async fn a_database_copy_opens_no_session(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let (mut client, _, _) = enrolled(&test, "ada@example.com").await;
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
    let cookie = client.session().unwrap();
    let stored = stored_session_ids(&test).await;
    assert!(!stored.is_empty());
    assert!(!stored.contains(&cookie), "the cookie value is stored");
    for id in stored {
        let mut copy = Client::new(&test);
        copy.cookies.set_session(Some(id.clone()));
        let answer = copy.get("/account").await;
        assert_eq!(
            answer.location(),
            Some("/login"),
            "row {id} opened a session"
        );
    }
    if let Database::Sqlite(path) = &test.config.database {
        use std::os::unix::fs::PermissionsExt as _;
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            assert_eq!(
                meta.permissions().mode() & 0o077,
                0,
                "{file} is readable by others"
            );
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(cookie.len()).any(|w| w == cookie.as_bytes()),
                "the cookie value is in {file}"
            );
        }
    }
}

/// Anonymous visitors are given no stored session: not by the pages, the
/// guard's redirects, a failed sign-in or a refused registration. The
/// sign-in and registration forms are still protected against login CSRF,
/// by a cookie of their own that a form's token must match.
async fn anonymous_visits_store_no_session(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    for path in [
        "/",
        "/login",
        "/register",
        "/account",
        "/account/authentication",
        "/mfa/enroll",
        "/mfa/challenge",
        "/mfa/recovery",
        "/mfa/expired",
        "/no-such-page",
    ] {
        for _ in 0..3 {
            let answer = client.get(path).await;
            assert!(answer.status.as_u16() < 500, "{path}: {:?}", answer.status);
        }
    }
    let failed = client
        .sign_in("nobody@example.com", "a wrong password")
        .await;
    assert_eq!(failed.refusal(), Some("incorrect"), "{}", failed.body);
    assert_eq!(
        client.get("/login?error=incorrect").await.status,
        StatusCode::OK
    );
    let refused = client.register("not an address", NORMAL, false).await;
    assert_eq!(refused.refusal(), Some("email"));
    assert_eq!(
        client.get("/register?error=email").await.status,
        StatusCode::OK
    );
    assert_eq!(client.session(), None, "no session cookie was set");
    assert_eq!(stored_session_ids(&test).await, Vec::<String>::new());

    // Login CSRF: a token is good only with the cookie it was made for.
    let mut other = Client::new(&test);
    let foreign = other.get("/login").await.csrf();
    client.register("ada@example.com", NORMAL, false).await;
    let fields = [
        ("csrf", foreign.as_str()),
        ("email", "ada@example.com"),
        ("password", PASSWORD),
    ];
    let answer = client.post("/login", &fields).await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "another browser's token"
    );
    let mut bare = Client::new(&test);
    let answer = bare.post("/login", &fields).await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "a token without its cookie"
    );
    // The browser's own token signs in, and only then is a session stored.
    let signed_in = client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(signed_in.location(), Some("/account"));
    assert_eq!(stored_session_ids(&test).await.len(), 1);
}

/// OWASP's device cookies: a browser that signed in to an account before
/// has a budget of its own, so a stranger who locked the account's
/// sign-ins does not lock its owner out. The cookie is worth nothing for
/// another account, altered, or copied into a browser that tries it for
/// someone else; and the owner's own failures lock only the owner's device.
async fn a_trusted_device_signs_in_while_strangers_are_locked_out(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut owner = Client::new(&test);
    owner.register("ada@example.com", NORMAL, false).await;
    owner.register("bob@example.com", NORMAL, false).await;
    assert_eq!(
        owner.sign_in("ada@example.com", PASSWORD).await.location(),
        Some("/account")
    );
    owner.submit("/account", "/logout", &[]).await;
    assert_eq!(owner.session(), None);

    // A stranger locks both accounts' sign-ins.
    let mut stranger = Client::new(&test);
    for email in ["ada@example.com", "bob@example.com"] {
        for _ in 0..5 {
            stranger.sign_in(email, "a wrong password").await;
        }
        let locked = stranger.sign_in(email, PASSWORD).await;
        assert_eq!(locked.refusal(), Some("locked"), "{email}");
    }

    // The owner's browser is not locked out of Ada's account...
    let mut tab = owner.tab();
    let signed_in = tab.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(signed_in.location(), Some("/account"), "{}", signed_in.body);
    // The owner's success does not lift the strangers' lock...
    let again = stranger.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(again.refusal(), Some("locked"));
    // ...and the owner's browser is a stranger to Bob's account.
    let bob = owner.tab().sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(bob.refusal(), Some("locked"));

    // An altered device cookie is a stranger's.
    let device: Vec<(String, String)> = owner
        .cookies
        .0
        .iter()
        .filter(|(name, _)| name.contains("device"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(device.len(), 1, "one device cookie: {:?}", owner.cookies);
    let (name, value) = device[0].clone();
    let mut altered = value.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let mut forger = Client::new(&test);
    forger
        .cookies
        .0
        .insert(name.clone(), String::from_utf8(altered).unwrap());
    let forged = forger.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(forged.refusal(), Some("locked"));

    // The owner's own wrong passwords lock the owner's device only (the
    // cookie was renewed by the last sign-in).
    let mut owner = tab;
    owner.submit("/account", "/logout", &[]).await;
    for _ in 0..5 {
        let wrong = owner.sign_in("ada@example.com", "a wrong password").await;
        assert_eq!(wrong.refusal(), Some("incorrect"));
    }
    let locked = owner.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(locked.refusal(), Some("locked"));
}

/// A user who lost the phone signs in with a recovery code and sets up a
/// new authenticator app, required customer or not: the old app works
/// until the new one is confirmed, then stops; the codes can be
/// regenerated with a recovery code; after ten minutes the page asks to
/// confirm it's you first.
async fn a_lost_phone_is_replaced_after_a_recovery_code_sign_in(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    for (customer, email) in [(NORMAL, "ada@example.com"), (REQUIRED, "bob@example.com")] {
        let (mut owner, old, codes) = enrolled_with(&test, email, customer).await;
        owner.submit("/account", "/logout", &[]).await;
        owner.sign_in(email, PASSWORD).await;
        let recovered = owner
            .submit("/mfa/recovery", "/mfa/recovery", &[("code", &codes[0])])
            .await;
        assert_eq!(
            recovered.location(),
            Some("/account/authentication?notice=recovery-used")
        );
        let tab = owner
            .get("/account/authentication?notice=recovery-used")
            .await;
        assert!(
            tab.body.contains("set up a new authenticator app"),
            "{customer}"
        );
        assert!(
            tab.body.contains("href=\"/account/mfa/replace\""),
            "{customer}"
        );

        let page = owner.get("/account/mfa/replace").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Set up a new authenticator app"));
        let new = authenticator(&page.secret());
        assert_eq!(
            owner.get("/account/mfa/replace").await.secret(),
            page.secret(),
            "a reload shows the same key"
        );
        // The old app's code does not confirm the new one.
        test.clock.advance(30);
        let wrong = owner
            .wrong_code("/account/mfa/replace", &code(&old, &test.clock))
            .await;
        assert_eq!(wrong.secret(), page.secret(), "the same QR code again");
        let replaced = owner
            .post(
                "/account/mfa/replace",
                &[("csrf", &page.csrf()), ("code", &code(&new, &test.clock))],
            )
            .await;
        assert_eq!(
            replaced.location(),
            Some("/account/authentication?notice=app-replaced"),
            "{customer}: {}",
            replaced.body
        );
        // Submitted twice: back to the tab, and no new QR code behind the
        // user's back.
        let twice = owner
            .post(
                "/account/mfa/replace",
                &[("csrf", &page.csrf()), ("code", &code(&new, &test.clock))],
            )
            .await;
        assert_eq!(twice.location(), Some("/account/authentication"));
        let status = owner.get("/api/mfa/status").await;
        assert!(
            status.body.contains("\"replacement_expires_at\":null"),
            "{}",
            status.body
        );
        // Cancel drops a pending one.
        let pending = owner.get("/account/mfa/replace").await;
        assert!(pending.body.contains("id=\"cancel\""));
        let cancelled = owner
            .post("/account/mfa/replace/cancel", &[("csrf", &pending.csrf())])
            .await;
        assert_eq!(cancelled.location(), Some("/account/authentication"));
        let status = owner.get("/api/mfa/status").await;
        assert!(
            status.body.contains("\"replacement_expires_at\":null"),
            "{}",
            status.body
        );
        // A recovery code regenerates the codes.
        let fresh = owner
            .submit(
                "/account/authentication",
                "/account/mfa/recovery-codes",
                &[("code", &codes[1])],
            )
            .await;
        assert_eq!(
            fresh.location(),
            Some("/account/recovery-codes"),
            "{}",
            fresh.body
        );
        let fresh = owner.get("/account/recovery-codes").await;
        assert_eq!(fresh.recovery_codes().len(), 10);

        // The next sign-in: the old app is refused, the new one passes.
        test.clock.advance(30);
        owner.submit("/account", "/logout", &[]).await;
        owner.sign_in(email, PASSWORD).await;
        owner
            .wrong_code("/mfa/challenge", &code(&old, &test.clock))
            .await;
        let passed = owner
            .submit(
                "/mfa/challenge",
                "/mfa/challenge",
                &[("code", &code(&new, &test.clock))],
            )
            .await;
        assert_eq!(passed.location(), Some("/account"));

        // Ten minutes on, the page first asks to confirm it's you.
        test.clock.advance(11 * 60);
        let ask = owner.get("/account/mfa/replace").await;
        assert!(ask.body.contains("Confirm it's you"), "{}", ask.body);
        test.clock.advance(30);
        let confirmed = owner
            .submit(
                "/account/mfa/replace",
                "/account/mfa/replace/verify",
                &[("code", &code(&new, &test.clock))],
            )
            .await;
        assert_eq!(confirmed.location(), Some("/account/mfa/replace"));
        let again = owner.get("/account/mfa/replace").await;
        assert!(again.body.contains("Set up a new authenticator app"));
        owner.submit("/account", "/logout", &[]).await;
    }
}

/// "Not now" on the enrollment page: an optional opt-in (from registration
/// or from the Authentication tab) is put off, back to the account with
/// MFA off; a required customer's enrollment cannot be skipped.
async fn an_optional_opt_in_can_be_put_off_and_a_required_one_cannot(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, true).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(client.get("/account").await.location(), Some("/mfa/enroll"));
    let page = client.get("/mfa/enroll").await;
    assert!(page.body.contains("id=\"postpone\""), "{}", page.body);
    let put_off = client
        .submit("/mfa/enroll", "/mfa/enroll/cancel", &[])
        .await;
    assert_eq!(put_off.location(), Some("/account?notice=mfa-postponed"));
    let account = client.get("/account?notice=mfa-postponed").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("You can turn it on any time"));
    assert!(account.body.contains("id=\"mfa-state\">Off<"));
    // The next sign-in goes straight in.
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
    // From the Authentication tab: Turn on, then Not now.
    let on = client
        .submit("/account/authentication", "/account/mfa/enable", &[])
        .await;
    assert_eq!(on.location(), Some("/mfa/enroll"));
    let put_off = client
        .submit("/mfa/enroll", "/mfa/enroll/cancel", &[])
        .await;
    assert_eq!(put_off.location(), Some("/account?notice=mfa-postponed"));
    assert_eq!(client.get("/").await.location(), Some("/account"));
    assert_eq!(client.get("/account").await.status, StatusCode::OK);

    // A required customer's enrollment has no "Not now", and cannot be
    // skipped by posting it anyway.
    let mut required = Client::new(&test);
    required.register("bob@example.com", REQUIRED, false).await;
    required.sign_in("bob@example.com", PASSWORD).await;
    let page = required.get("/mfa/enroll").await;
    assert!(!page.body.contains("postpone"));
    let refused = required
        .post("/mfa/enroll/cancel", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        required.get("/account").await.location(),
        Some("/mfa/enroll")
    );
}

/// Post/Redirect/Get: recovery codes are shown on a GET page, once; a
/// reload says they were shown and offers to regenerate, never "expired";
/// a second tab that still shows the QR code learns that MFA is on. The
/// codes travel to that page sealed in a short-lived cookie, never stored.
async fn result_pages_survive_reload_and_a_second_tab(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, true).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    let page = client.get("/mfa/enroll").await;
    let app = authenticator(&page.secret());
    let done = client
        .post(
            "/mfa/enroll",
            &[("csrf", &page.csrf()), ("code", &code(&app, &test.clock))],
        )
        .await;
    assert_eq!(done.location(), Some("/account/recovery-codes"));
    let sealed = done
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("lumen_codes="))
        .expect("the codes' cookie");
    assert!(sealed.contains("HttpOnly") && sealed.contains("Path=/account/recovery-codes"));
    let shown = client.get("/account/recovery-codes").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("Multi-factor authentication is on"));
    let codes = shown.recovery_codes();
    assert_eq!(codes.len(), 10);
    assert!(!sealed.contains(&codes[0]), "the cookie is sealed");
    assert!(!codes.iter().any(|c| done.body.contains(c.as_str())));
    // A reload: shown once, with the way to new ones.
    let reload = client.get("/account/recovery-codes").await;
    assert_eq!(reload.status, StatusCode::OK);
    assert!(reload.body.contains("already shown"), "{}", reload.body);
    assert!(reload.body.contains("href=\"/account/authentication\""));
    assert!(!reload.body.contains("expired"));
    assert!(!codes.iter().any(|c| reload.body.contains(c.as_str())));
    // Replaying the sealed cookie later shows nothing either.
    let value = sealed.split(';').next().unwrap().split_once('=').unwrap().1;
    client
        .cookies
        .0
        .insert("lumen_codes".to_owned(), value.to_owned());
    test.clock.advance(301);
    let late = client.get("/account/recovery-codes").await;
    assert!(late.body.contains("already shown"));

    // A second tab (the same browser's cookies), still on the QR code:
    // MFA is on, not "expired".
    let second_tab = &mut client;
    let stale = second_tab
        .post(
            "/mfa/enroll",
            &[("csrf", &page.csrf()), ("code", &code(&app, &test.clock))],
        )
        .await;
    assert_eq!(
        stale.location(),
        Some("/account?notice=mfa-on"),
        "{}",
        stale.body
    );
    assert_eq!(
        second_tab.get("/mfa/expired").await.location(),
        Some("/account")
    );
    assert_eq!(
        second_tab.get("/mfa/enroll").await.location(),
        Some("/account")
    );
}

/// The Authentication tab's code fields are labelled and take recovery
/// codes (no numeric keyboard, no placeholder posing as a value); a reused
/// recovery code is told so, not to "enter the code your app shows".
async fn code_fields_are_labelled_and_answers_name_the_code(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let (mut client, _, codes) = enrolled(&test, "ada@example.com").await;
    let tab = client.get("/account/authentication").await;
    for id in ["regenerate-code", "disable-code"] {
        assert!(tab.body.contains(&format!("<label for=\"{id}\">")), "{id}");
        assert!(tab.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(!tab.body.contains("inputmode=\"numeric\""));
    assert!(!tab.body.contains("placeholder"));
    for round in 0..2 {
        client.submit("/account", "/logout", &[]).await;
        client.sign_in("ada@example.com", PASSWORD).await;
        if round == 0 {
            let answer = client
                .submit("/mfa/recovery", "/mfa/recovery", &[("code", &codes[0])])
                .await;
            assert!(answer.location().is_some(), "{}", answer.body);
        } else {
            let answer = client.wrong_code("/mfa/recovery", &codes[0]).await;
            assert!(
                answer.body.contains("it was used already"),
                "{}",
                answer.body
            );
            assert!(!answer.body.contains("your app shows now"));
        }
    }
}

/// Errors sit at the field they are about: the field is `aria-invalid`
/// and names the message with `aria-describedby`; the first fields of the
/// sign-in and registration forms have the focus.
async fn errors_sit_at_their_fields(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    let form = client.get("/register").await;
    assert!(form.body.contains("id=\"name\""));
    assert!(form.body.contains("autofocus"));
    assert!(!form.body.contains("aria-invalid"));
    let refused = client.register("not an address", NORMAL, false).await;
    assert_eq!(refused.location(), Some("/register?error=email"));
    let refused = client.get("/register?error=email").await;
    // What was typed comes back, never the password.
    assert!(refused.body.contains("value=\"Ada Lovelace\""));
    assert!(!refused.body.contains("correct horse"));
    assert!(
        refused.body.contains(
            "id=\"email\" value=\"not an address\" required maxlength=\"254\" autocomplete=\"email\" aria-invalid=\"true\" aria-describedby=\"email-error\""
        ),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("id=\"email-error\" role=\"alert\">Enter a valid email address.")
    );
    assert_eq!(refused.body.matches("aria-invalid").count(), 1);
    assert!(client.get("/login").await.body.contains("autofocus"));
    client
        .sign_in("nobody@example.com", "a wrong password")
        .await;
    let wrong = client.get("/login?error=incorrect").await;
    assert!(wrong.body.contains("id=\"login-error\""));
    assert_eq!(
        wrong
            .body
            .matches("aria-describedby=\"login-error\"")
            .count(),
        2
    );

    let (mut client, _, _) = enrolled(&test, "ada@example.com").await;
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    let refused = client
        .refused(
            "/mfa/challenge",
            "/mfa/challenge",
            &[("code", "12ab")],
            "/mfa/challenge?error=malformed",
        )
        .await;
    assert!(
        refused
            .body
            .contains("aria-invalid=\"true\" aria-describedby=\"code-error\"")
    );
    assert!(refused.body.contains("id=\"code-error\" role=\"alert\""));
}

/// Post/Redirect/Get for refused codes: every code form answers a refused
/// code with a `303` to its page, the error named by a key from a fixed
/// list; reloading that page shows the same answer without submitting the
/// code again, so a reload costs no attempt.
async fn refused_codes_redirect_to_pages_that_reload_without_counting(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    // Enrollment: the same QR code and key, with the error at the field.
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, true).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    let first = client.get("/mfa/enroll").await;
    let app = authenticator(&first.secret());
    let good = code(&app, &test.clock);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let shown = client
        .refused(
            "/mfa/enroll",
            "/mfa/enroll",
            &[("code", wrong)],
            "/mfa/enroll?error=invalid",
        )
        .await;
    assert_eq!(shown.secret(), first.secret());
    assert!(
        shown
            .body
            .contains("id=\"code-error\" role=\"alert\">That code is not valid")
    );
    let malformed = client
        .refused(
            "/mfa/enroll",
            "/mfa/enroll",
            &[("code", "12ab")],
            "/mfa/enroll?error=malformed",
        )
        .await;
    assert!(malformed.body.contains("Enter the 6-digit code"));
    // An unknown key shows no error: the text comes from the list only.
    let odd = client.get("/mfa/enroll?error=%3Cb%3Ehi").await;
    assert!(!odd.body.contains("code-error"), "{}", odd.body);
    let confirmed = client
        .submit("/mfa/enroll", "/mfa/enroll", &[("code", &good)])
        .await;
    assert_eq!(confirmed.location(), Some("/account/recovery-codes"));

    // Sign-in: each reload of the answer says the same, and the attempts
    // left do not go down.
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    test.clock.advance(30);
    let good = code(&app, &test.clock);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let to = "/mfa/challenge?error=invalid";
    let shown = client
        .refused("/mfa/challenge", "/mfa/challenge", &[("code", wrong)], to)
        .await;
    for page in [&shown, &client.get(to).await, &client.get(to).await] {
        assert!(
            page.body.contains("That code is not valid"),
            "{}",
            page.body
        );
        assert!(page.body.contains("4 more wrong codes"), "{}", page.body);
    }
    let shown = client
        .refused("/mfa/challenge", "/mfa/challenge", &[("code", wrong)], to)
        .await;
    assert!(shown.body.contains("3 more wrong codes"), "{}", shown.body);
    let shown = client
        .refused(
            "/mfa/recovery",
            "/mfa/recovery",
            &[("code", "ABCD-EFGH-JKMN-PQRS-TVWX-YZ23")],
            "/mfa/recovery?error=invalid",
        )
        .await;
    assert!(shown.body.contains("That recovery code is not valid"));
    let passed = client
        .submit("/mfa/challenge", "/mfa/challenge", &[("code", &good)])
        .await;
    assert_eq!(passed.location(), Some("/account"));

    // The account's code forms: the error at the form that was refused.
    for (form, action) in [
        ("regenerate", "/account/mfa/recovery-codes"),
        ("disable", "/account/mfa/disable"),
    ] {
        let to = format!("/account/authentication?error=invalid&form={form}");
        let shown = client
            .refused("/account/authentication", action, &[("code", wrong)], &to)
            .await;
        let field = format!("id=\"{form}-code\"");
        let at = shown.body.find(&field).expect(&field);
        let input = &shown.body[at..at + shown.body[at..].find('>').unwrap()];
        let error = format!("{form}-code-error");
        assert!(input.contains("aria-invalid=\"true\""), "{input}");
        assert!(
            input.contains(&format!("aria-describedby=\"{error}\"")),
            "{input}"
        );
        assert!(shown.body.contains(&format!(
            "id=\"{error}\" role=\"alert\">That code is not valid"
        )));
        assert_eq!(shown.body.matches("aria-invalid").count(), 1, "{form}");
    }

    // Replacing the app: a wrong code from the new app, then (ten minutes
    // on) a wrong "confirm it's you" code.
    let page = client.get("/account/mfa/replace").await;
    let to = "/account/mfa/replace?error=invalid";
    let shown = client
        .refused(
            "/account/mfa/replace",
            "/account/mfa/replace",
            &[("code", wrong)],
            to,
        )
        .await;
    assert_eq!(shown.secret(), page.secret());
    assert!(shown.body.contains("That code is not valid"));
    test.clock.advance(601);
    let shown = client
        .refused(
            "/account/mfa/replace",
            "/account/mfa/replace/verify",
            &[("code", "ABCD-EFGH-JKMN-PQRS-TVWX-YZ23")],
            to,
        )
        .await;
    assert!(
        shown
            .body
            .contains("action=\"/account/mfa/replace/verify\"")
    );
    assert!(
        shown.body.contains("That code is not valid"),
        "{}",
        shown.body
    );
}

/// A lock met on the account tab (whose forms take a recovery code too)
/// says that a recovery code works now; a wrong recovery code during it is
/// named as such; an old link after the lock, or after a code passed, says
/// nothing.
async fn a_lock_on_the_account_tab_points_to_recovery_codes(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let (mut client, app, codes) = enrolled(&test, "ada@example.com").await;
    test.clock.advance(30);
    let good = code(&app, &test.clock);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let invalid = "/account/authentication?error=invalid&form=disable";
    for _ in 0..5 {
        client
            .refused(
                "/account/authentication",
                "/account/mfa/disable",
                &[("code", wrong)],
                invalid,
            )
            .await;
    }
    let locked = client
        .refused(
            "/account/authentication",
            "/account/mfa/disable",
            &[("code", &good)],
            "/account/authentication?error=locked&form=disable",
        )
        .await;
    assert!(
        locked
            .body
            .contains("codes from your app work again in 30 seconds. A recovery code works now."),
        "{}",
        locked.body
    );
    let fake = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ23";
    let shown = client
        .refused(
            "/account/authentication",
            "/account/mfa/disable",
            &[("code", fake)],
            invalid,
        )
        .await;
    assert!(
        shown
            .body
            .contains("That code is not valid. Codes from your app are paused for 30 seconds"),
        "{}",
        shown.body
    );
    // A recovery code works during the lock, and forgives the failures.
    let used = client
        .submit(
            "/account/authentication",
            "/account/mfa/recovery-codes",
            &[("code", &codes[0])],
        )
        .await;
    assert_eq!(used.location(), Some("/account/recovery-codes"));
    let old = client.get(invalid).await;
    assert!(!old.body.contains("aria-invalid"), "{}", old.body);
}

/// The enrollment page names the common apps in numbered steps and offers
/// the key with a Copy button; the recovery codes come with Print, Copy and
/// Download, and "I have saved these codes" before going on.
async fn enrollment_and_codes_pages_offer_their_controls(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", NORMAL, true).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    let page = client.get("/mfa/enroll").await;
    assert!(page.body.contains("<ol class=\"steps\">"), "{}", page.body);
    for app in [
        "Google Authenticator",
        "Microsoft Authenticator",
        "1Password",
        "Bitwarden",
        "Authy",
        "browser",
    ] {
        assert!(page.body.contains(app), "{app}");
    }
    assert!(page.body.contains("id=\"copy-secret\""));
    assert!(page.body.contains("href=\"otpauth://totp/"));
    let app = authenticator(&page.secret());
    client
        .submit(
            "/mfa/enroll",
            "/mfa/enroll",
            &[("code", &code(&app, &test.clock))],
        )
        .await;
    let codes = client.get("/account/recovery-codes").await;
    for control in ["print-codes", "copy-codes", "download-codes", "saved"] {
        assert!(
            codes.body.contains(&format!("id=\"{control}\"")),
            "{control}"
        );
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}

on_both_backends!(
    whole_flow,
    required_customer_must_enroll,
    opt_in_later_from_the_authentication_tab,
    wrong_codes_lock_with_the_time_left,
    sign_in_answers_are_generic_and_throttled,
    forms_need_the_session_token,
    session_cookie_and_id_rotation,
    errors_are_pages,
    an_expired_qr_code_leads_to_a_new_one,
    a_database_copy_opens_no_session,
    simultaneous_wrong_passwords_cost_the_budget,
    odd_addresses_are_client_errors,
    idle_sessions_end_after_30_minutes,
    anonymous_visits_store_no_session,
    a_trusted_device_signs_in_while_strangers_are_locked_out,
    a_lost_phone_is_replaced_after_a_recovery_code_sign_in,
    an_optional_opt_in_can_be_put_off_and_a_required_one_cannot,
    result_pages_survive_reload_and_a_second_tab,
    code_fields_are_labelled_and_answers_name_the_code,
    errors_sit_at_their_fields,
    refused_codes_redirect_to_pages_that_reload_without_counting,
    a_lock_on_the_account_tab_points_to_recovery_codes,
    enrollment_and_codes_pages_offer_their_controls,
);

/// The load test's pair of routes exist only when asked for, and differ
/// only by the guard.
#[tokio::test]
async fn bench_routes_only_when_asked() {
    let Some(test) = app(Backend::Sqlite).await else {
        return;
    };
    let (mut client, _, _) = enrolled(&test, "ada@example.com").await;
    assert_eq!(
        client.get("/bench/guarded").await.status,
        StatusCode::NOT_FOUND
    );
    let mut config = test.config.clone();
    config.bench_routes = true;
    let bench = lumen::Lumen::new(config, std::sync::Arc::new(test.clock.clone()))
        .await
        .unwrap();
    client.router = bench.router();
    assert_eq!(client.get("/bench/guarded").await.status, StatusCode::OK);
    client.submit("/account", "/logout", &[]).await;
    client.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        client.get("/bench/guarded").await.location(),
        Some("/mfa/challenge")
    );
    let unguarded = client.get("/bench/unguarded").await;
    assert_eq!(unguarded.status, StatusCode::OK);
    assert!(unguarded.body.contains("Welcome, Ada Lovelace"));
}

/// A wrong password for a new address each time (no sign-in lock), posted
/// from `peer` with `forwarded` in `X-Forwarded-For`.
async fn post_login_from(client: &mut Client, peer: &str, forwarded: Option<&str>) -> StatusCode {
    static GUESSES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = GUESSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let csrf = client.get("/login").await.csrf();
    let form = format!(
        "csrf={}&email=guess{n}%40example.com&password=wrong+password",
        common::urlencode(&csrf)
    );
    let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    let mut request = http::Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .extension(axum::extract::ConnectInfo(peer));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    client.send(request, form).await.status
}

/// Posts are limited per client address (`--rate-limit`): beyond the
/// budget a 429 with `Retry-After`, before any password is checked; other
/// addresses keep theirs. A forwarding header counts only when the
/// operator names it, and then only its last entry (the proxy's).
#[tokio::test]
async fn posts_are_limited_per_client_address() {
    let Some(test) = app(Backend::Sqlite).await else {
        return;
    };
    let mut config = test.config.clone();
    config.rate_limit = 3;
    let limited = lumen::Lumen::new(config.clone(), std::sync::Arc::new(test.clock.clone()))
        .await
        .unwrap();
    let mut client = Client {
        router: limited.router(),
        cookies: common::Jar::default(),
    };
    // An unnamed header changes nothing: each guess below names a new one.
    for n in 0..3 {
        let fake = format!("198.51.100.{n}");
        let status = post_login_from(&mut client, "192.0.2.1", Some(&fake)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "guess {n}");
    }
    let csrf = client.get("/login").await.csrf();
    let peer: std::net::SocketAddr = "192.0.2.1:40000".parse().unwrap();
    let request = http::Request::post("/register")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "198.51.100.9")
        .extension(axum::extract::ConnectInfo(peer));
    let refused = client.send(request, format!("csrf={csrf}")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "Retry-After: {wait}");
    assert!(refused.is_html());
    // Another address has its budget; pages are not limited.
    let other = post_login_from(&mut client, "192.0.2.2", None).await;
    assert_eq!(other, StatusCode::SEE_OTHER);
    assert_eq!(client.get("/login").await.status, StatusCode::OK);

    // Behind a proxy that writes X-Forwarded-For: its last entry is the
    // client, whatever the client put before it.
    config.client_address_header = Some(http::HeaderName::from_static("x-forwarded-for"));
    let proxied = lumen::Lumen::new(config, std::sync::Arc::new(test.clock.clone()))
        .await
        .unwrap();
    client.router = proxied.router();
    for n in 0..3 {
        let spoofed = format!("198.51.100.{n}, 203.0.113.7");
        let status = post_login_from(&mut client, "10.0.0.1", Some(&spoofed)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "guess {n}");
    }
    let limited = post_login_from(&mut client, "10.0.0.1", Some("203.0.113.7")).await;
    assert_eq!(limited, StatusCode::TOO_MANY_REQUESTS);
    let another = post_login_from(&mut client, "10.0.0.1", Some("203.0.113.8")).await;
    assert_eq!(another, StatusCode::SEE_OTHER, "the proxy's other clients");
    // A named header that holds no address is refused, not guessed at.
    let broken = post_login_from(&mut client, "10.0.0.1", Some("unknown")).await;
    assert_eq!(broken, StatusCode::BAD_REQUEST);
}
