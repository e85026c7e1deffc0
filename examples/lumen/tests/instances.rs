//! Three `lumen` processes on one PostgreSQL database (as
//! `scripts/three-instances.sh` starts them): sign in on the first, verify
//! the code on the second, replay it on the third → refused; wrong codes
//! spread over the three are each counted once and lock the account on all
//! three.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::process::{Server, csrf_of};
use common::{Backend, authenticator};

const PASSWORD: &str = "correct horse battery";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The base32 key in a JSON enrollment answer.
fn secret_of(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value["secret"].as_str().unwrap().to_owned()
}

#[test]
fn three_instances_share_replay_protection_and_throttling() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(lumen::Database::Postgres { url, schema }) =
        runtime.block_on(common::database(Backend::Postgres, &dir))
    else {
        return;
    };
    let key = "5a".repeat(32);
    let env = [("LUMEN_SEALING_KEY", key.as_str())];
    // Every request comes from one address: the per-client limit is off.
    let args = [
        "--database",
        url.as_str(),
        "--schema",
        schema.as_str(),
        "--rate-limit",
        "0",
    ];
    // The first sets up the schema; the others start on it at once.
    let a = Server::start(dir.path(), &args, &env);
    let b = Server::start(dir.path(), &args, &env);
    let c = Server::start(dir.path(), &args, &env);

    // Register and enroll on A (through the JSON API).
    let mut cookie = common::Jar::default();
    let csrf = csrf_of(&a.get("/register", &mut cookie).body);
    let registered = a.form(
        "/register",
        &mut cookie,
        &[
            ("csrf", &csrf),
            ("name", "Ada"),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("customer", "1"),
            ("otp", "on"),
        ],
    );
    assert_eq!(registered.status, 303);
    assert_eq!(
        a.sign_in(&mut cookie, "ada@example.com", PASSWORD).status,
        303
    );
    let started = a.json("/api/mfa/enrollment", &mut cookie, "{}");
    assert_eq!(started.status, 200, "{}", started.body);
    let app = authenticator(&secret_of(&started.body));
    let step = now() / 30;
    let code_at = |step: u64| app.generate(step * 30).unwrap().as_str().to_owned();
    let confirm = format!("{{\"code\":\"{}\"}}", code_at(step));
    let confirmed = a.json("/api/mfa/enrollment/confirm", &mut cookie, &confirm);
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);

    // Sign in again on A; verify on B with the next step's code (inside the
    // ±1 window, and after the confirming step).
    let csrf = csrf_of(&a.get("/account", &mut cookie).body);
    a.form("/logout", &mut cookie, &[("csrf", &csrf)]);
    assert_eq!(
        a.sign_in(&mut cookie, "ada@example.com", PASSWORD).status,
        303
    );
    assert_eq!(
        a.get("/account", &mut cookie).status,
        401,
        "a code is needed"
    );
    let next = format!("{{\"code\":\"{}\"}}", code_at(step + 1));
    let verified = b.json("/api/mfa/challenge", &mut cookie, &next);
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(
        c.get("/account", &mut cookie).status,
        200,
        "the session is shared"
    );

    // A new sign-in on C: the same code is refused there.
    let mut second = common::Jar::default();
    assert_eq!(
        c.sign_in(&mut second, "ada@example.com", PASSWORD).status,
        303
    );
    let replayed = c.json("/api/mfa/challenge", &mut second, &next);
    assert_eq!(replayed.status, 401, "{}", replayed.body);
    assert!(replayed.body.contains("invalid_code"));

    // Wrong codes spread over the three: that replay was failure 1; three
    // more (one on each) leave the account one short of the lock...
    let good = code_at(now() / 30);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let wrong = format!("{{\"code\":\"{wrong}\"}}");
    for server in [&a, &b, &c] {
        let answer = server.json("/api/mfa/challenge", &mut second, &wrong);
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    // ...(the fifth is still checked, so no lock was in force; the status
    // of a session below level 2 tells no lock details) the fifth, on A,
    // locks it, and all three refuse even the right code.
    assert_eq!(
        a.json("/api/mfa/challenge", &mut second, &wrong).status,
        401
    );
    let right = format!("{{\"code\":\"{good}\"}}");
    for server in [&a, &b, &c] {
        let answer = server.json("/api/mfa/challenge", &mut second, &right);
        assert_eq!(answer.status, 429, "{}", answer.body);
        assert!(answer.head.to_ascii_lowercase().contains("retry-after"));
    }
}

/// Sixty wrong passwords sent at once, spread over three instances, cost
/// the budget and no more: each attempt is counted in the database before
/// its password is checked, so at most five are checked, and the right
/// password is then refused on all three.
#[test]
fn simultaneous_wrong_passwords_on_three_instances_cost_the_budget() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(lumen::Database::Postgres { url, schema }) =
        runtime.block_on(common::database(Backend::Postgres, &dir))
    else {
        return;
    };
    let key = "5b".repeat(32);
    let env = [("LUMEN_SEALING_KEY", key.as_str())];
    // Every request comes from one address: the per-client limit is off.
    let args = [
        "--database",
        url.as_str(),
        "--schema",
        schema.as_str(),
        "--rate-limit",
        "0",
    ];
    let servers = std::sync::Arc::new([
        Server::start(dir.path(), &args, &env),
        Server::start(dir.path(), &args, &env),
        Server::start(dir.path(), &args, &env),
    ]);
    let mut cookie = common::Jar::default();
    let csrf = csrf_of(&servers[0].get("/register", &mut cookie).body);
    let registered = servers[0].form(
        "/register",
        &mut cookie,
        &[
            ("csrf", &csrf),
            ("name", "Ada"),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("customer", "1"),
        ],
    );
    assert_eq!(registered.status, 303);
    // The form's token works on every instance (one key).
    let csrf = csrf_of(&servers[1].get("/login", &mut cookie).body);
    let start = std::sync::Arc::new(std::sync::Barrier::new(60));
    let guesses: Vec<_> = (0..60)
        .map(|n| {
            let (servers, start) = (servers.clone(), start.clone());
            let (mut cookie, csrf) = (cookie.clone(), csrf.clone());
            std::thread::spawn(move || {
                start.wait();
                let fields = [
                    ("csrf", csrf.as_str()),
                    ("email", "ada@example.com"),
                    ("password", "a wrong password"),
                ];
                servers[n % 3]
                    .form("/login", &mut cookie, &fields)
                    .outcome()
            })
        })
        .collect();
    // Each is checked ("incorrect"), refused by the lock ("locked") or
    // refused by a full hashing queue (503, no attempt counted).
    let statuses: Vec<String> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let checked = statuses.iter().filter(|s| *s == "incorrect").count();
    assert!(
        statuses
            .iter()
            .all(|s| ["incorrect", "locked", "503"].contains(&s.as_str())),
        "{statuses:?}"
    );
    assert!(
        checked <= 5,
        "{checked} of 60 guesses were checked: {statuses:?}"
    );
    for server in servers.iter() {
        let right = server.sign_in(&mut cookie, "ada@example.com", PASSWORD);
        assert_eq!(right.outcome(), "locked", "{}", right.head);
    }
}
