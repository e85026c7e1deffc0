// The README's example uses the axum-login identity: without the feature
// the crate docs are its first paragraph, so the example is not compiled.
#![cfg_attr(feature = "axum-login", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "axum-login"),
    doc = "tower/axum middleware that enforces mfa-flow MFA, with session assurance levels and a JSON API. The full documentation, with its example, is built with the `axum-login` feature (as on docs.rs)."
)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum-login")]
mod axum_login;
mod decision;
mod error;
mod extract;
mod flow;
mod guard;
mod identity;
mod json;
mod lifetime;
mod mfa;
mod paths;
mod policy;
mod routes;
mod session;
mod store;
mod values;

#[cfg(feature = "axum-login")]
pub use crate::axum_login::{AuthLayerMissing, AuthSessionIdentity};
pub use decision::decide;
pub use error::{Error, refusal_status};
pub use extract::{MfaRejection, MfaSession, REPLACEMENT_WINDOW};
pub use guard::{MfaGuard, MfaLayer, ResponseFuture};
pub use identity::{Identity, SessionIdentity, SessionIdentityError, UserId};
pub use lifetime::{SessionLifetime, SessionLifetimeLayer};
pub use mfa::{Mfa, MfaBuilder};
/// The flow's types that this crate's API takes and gives.
pub use mfa_flow::{CodeKind, Requirement, UsedCode};
pub use policy::UserPolicy;
pub use routes::{MAX_BODY, routes};
pub use session::{ASSURANCE_KEY, Assurance, Level};
pub use store::HashedSessionIds;
pub use values::Enrollment;

/// The `tower-sessions` version this crate is built on, for the
/// application's `SessionManagerLayer` and stores.
pub use tower_sessions;
