//! Run with `cargo run -p axum-login-example` and open
//! <http://127.0.0.1:3001>.
//!
//! An axum-login application with TOTP MFA from `mfa-axum`: sign in as
//! `ada` / `lovelace` (MFA required: the first sign-in goes to enrollment,
//! with a QR code for your authenticator app) or `bob` / `builder` (MFA
//! optional, to set up from `/account`); later sign-ins ask for the code
//! before `/account` opens.
//!
//! - `--addr HOST:PORT` (or `EXAMPLE_ADDR`): where to listen, by default
//!   `127.0.0.1:3001`.
//! - `EXAMPLE_SEALING_KEY`: 64 hex digits, the key that seals the TOTP
//!   secrets. Without it a random key is made at start.

use std::net::SocketAddr;
use std::process::ExitCode;

use mfa_flow::{AppKey, KeyError, SystemClock};

/// The sealing key: the same one at every start, in a real application,
/// from a secret store (never the database the sealed secrets are in).
fn sealing_key() -> Result<AppKey, String> {
    let key = match AppKey::from_env("EXAMPLE_SEALING_KEY") {
        Err(KeyError::NotInEnvironment(_)) => {
            eprintln!(
                "warning: EXAMPLE_SEALING_KEY is not set, so a random sealing key is used: \
                 enrollments are lost at restart (this demo keeps everything in memory anyway; \
                 with a persistent store, set the key)"
            );
            AppKey::generate(1)
        }
        key => key,
    };
    key.map_err(|e| format!("EXAMPLE_SEALING_KEY: {e}"))
}

/// `--addr`, else `EXAMPLE_ADDR`, else 127.0.0.1:3001.
fn address() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let text = match (args.next().as_deref(), args.next()) {
        (Some("--addr"), Some(addr)) => addr,
        (None, _) => std::env::var("EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into()),
        _ => return Err("usage: axum-login-example [--addr HOST:PORT]".into()),
    };
    text.parse().map_err(|e| format!("{text}: {e}"))
}

async fn run() -> Result<(), String> {
    let addr = address()?;
    let app = axum_login_example::app(sealing_key()?, SystemClock)
        .map_err(|e| format!("hashing the demo passwords: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    println!("Listening on http://{addr}/ (Ctrl-C to stop). Users:");
    for (name, password) in axum_login_example::USERS {
        println!("  {name} / {password}");
    }
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum-login-example: {e}");
            ExitCode::FAILURE
        }
    }
}
