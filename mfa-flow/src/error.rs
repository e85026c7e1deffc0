use totp_core::{QrError, UriError};

use crate::keys::{KeyError, OpenError};

/// Why an operation could not run, apart from the store. None of these is a
/// wrong code: those are [`Outcome`](crate::Outcome)s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// The operation needs an active enrollment.
    #[error("the user has no active MFA enrollment")]
    NotEnrolled,
    /// Confirmation needs an enrollment in progress.
    #[error("the user has no enrollment in progress")]
    NoPendingEnrollment,
    /// Confirming a new authenticator app needs one being set up
    /// ([`MfaService::begin_replacement`](crate::MfaService::begin_replacement)).
    #[error("the user has no new authenticator app being set up")]
    NoPendingReplacement,
    /// Enrollment cannot start while MFA is active: disable it first.
    #[error("the user is already enrolled; disable MFA before enrolling again")]
    AlreadyEnrolled,
    /// MFA is required for this user and cannot be switched off.
    #[error("multi-factor authentication is required for this user")]
    PolicyForbids,
    /// The account name cannot go in an otpauth URI.
    #[error("the account name cannot be used in an authenticator app")]
    InvalidAccountName(#[source] UriError),
    /// The QR code could not be made.
    #[error("the QR code could not be made")]
    Qr(#[source] QrError),
    /// The stored secret does not open: altered, another user's, or sealed
    /// under a key the keyring no longer holds.
    #[error("the stored secret cannot be opened")]
    Sealing(#[from] OpenError),
    /// A key operation failed (RNG).
    #[error("a key operation failed")]
    Key(#[from] KeyError),
    /// The operating system's RNG failed.
    #[error("the operating system's random number generator failed")]
    Rng(#[source] totp_core::SecretError),
    /// A stored record holds values that cannot be used.
    #[error("the stored record has an unusable {0}")]
    CorruptRecord(&'static str),
}

/// An error from an [`MfaService`](crate::MfaService) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaError<E: std::error::Error + 'static> {
    /// The store failed (unreachable, timed out, corrupt data).
    #[error("the MFA store is unavailable")]
    Store(#[source] E),
    /// Concurrent writes kept winning for the whole retry budget.
    #[error("too many concurrent changes to this user's MFA record; try again")]
    Contention,
    /// The operation does not apply, or a key or secret failed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}
