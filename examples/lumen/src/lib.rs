//! The Lumen Master Account demo: registration with the "One Time Password
//! using OTP App" option, sign-in with a password and then, as the MFA flow
//! decides, enrollment (a QR code valid 3 minutes) or a 6-digit code, and
//! Manage My Account with its Authentication tab. Built on `mfa-flow`,
//! `mfa-axum` and `mfa-store-sqlx`; SQLite by default, PostgreSQL on
//! request.
//!
//! Run with `cargo run -p lumen` and open <http://127.0.0.1:3000>.
//!
//! ```no_run
//! use std::sync::Arc;
//! use lumen::{Config, Database, Lumen};
//! use mfa_flow::SystemClock;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new(Database::Sqlite("lumen.db".into()));
//! let running = Lumen::new(config, Arc::new(SystemClock)).await?.serve().await?;
//! println!("Lumen is at http://{}", running.addr);
//! # Ok(())
//! # }
//! ```

mod app;
mod client;
mod config;
mod cookies;
mod db;
mod flow;
mod handlers;
mod pages;
mod security;

pub use app::{Lumen, Running, StartError};
pub use config::{Config, ConfigError, Database, USAGE};
pub use handlers::SESSION_COOKIE;
