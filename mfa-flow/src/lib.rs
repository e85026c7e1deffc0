#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod entropy;
mod error;
mod keys;
mod machine;
mod outcome;
mod record;
mod recovery;
mod service;
mod store;

/// The security manual: the threat model, NIST SP 800-63B and OWASP
/// requirements mapped to the code and the tests, and every protection of
/// the toolkit with the test that proves it. (The package's
/// `SECURITY.md`.)
#[doc = include_str!("../SECURITY.md")]
pub mod security {}

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, MfaConfig, ThrottleConfig};
pub use entropy::RngError;
pub use error::{FlowError, InternalError, MfaError};
pub use keys::{AppKey, KeyCheck, KeyError, Keyring, OpenError};
pub use outcome::{
    CodeKind, Enrolled, EnrollmentTicket, InputError, Outcome, Policy, RecoveryUsed, Requirement,
    StateKind, Status, UsedCode, Verified,
};
pub use record::DecodeError;
#[cfg(fuzzing)]
#[doc(hidden)]
pub use record::fuzz_decode;
pub use recovery::{RecoveryCodeError, RecoveryCodes};
pub use service::{AUDIT_TARGET, MfaService};
pub use store::{MemoryStore, MemoryStoreError, Saved, Store, StoredRecord};
pub use totp_core;
