#![doc = include_str!("../README.md")]
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
