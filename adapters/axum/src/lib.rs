#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod answer;
mod extract;
mod guard;
mod mfa;
mod routes;
mod session;

pub use extract::{AssuranceRejection, MfaStatus, MfaStatusRejection};
pub use guard::{MfaGuard, MfaLayer, ResponseFuture};
pub use mfa::{CodeKind, Failure, Mfa, UserPolicy};
pub use routes::{MAX_BODY, routes};
pub use session::{ASSURANCE_KEY, Assurance, Level, SessionError, assurance, sign_in, sign_out};
