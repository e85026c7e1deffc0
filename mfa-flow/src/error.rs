use totp_core::UriError;

use crate::entropy::RngError;
use crate::keys::OpenError;
use crate::record::DecodeError;

/// Why an operation could not run, apart from the store. None of these is a
/// wrong code: those are [`Outcome`](crate::Outcome)s.
///
/// Every variant but [`FlowError::Internal`] says the operation does not
/// apply to the user's state (answer the user: a 4xx over HTTP);
/// [`FlowError::Internal`] is a fault the user cannot fix (log it).
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
    /// A fault inside: a secret that does not open, the random number
    /// generator, or a stored record that cannot be read.
    #[error("an internal MFA operation failed")]
    Internal(#[source] InternalError),
}

impl FlowError {
    /// Whether this is a fault inside ([`FlowError::Internal`]) rather than
    /// an operation that does not apply to the user's state.
    #[must_use]
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Internal(_))
    }
}

impl From<InternalError> for FlowError {
    fn from(e: InternalError) -> Self {
        Self::Internal(e)
    }
}

impl From<OpenError> for FlowError {
    fn from(e: OpenError) -> Self {
        Self::Internal(InternalError::Sealing(e))
    }
}

/// A fault inside the flow ([`FlowError::Internal`]): nothing the user did,
/// and nothing a retry by the user fixes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InternalError {
    /// The stored secret does not open: altered, another user's, or sealed
    /// under a key the keyring no longer holds.
    #[error("the stored secret cannot be opened")]
    Sealing(#[source] OpenError),
    /// The operating system's random number generator failed.
    #[error(transparent)]
    Rng(RngError),
    /// The stored record cannot be read: not the stored format, a format
    /// this version does not read, an impossible value, or a version that
    /// is not the one the store kept beside it.
    #[error("the stored MFA record is corrupt")]
    CorruptRecord(#[source] DecodeError),
}

/// An error from an [`MfaService`](crate::MfaService) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MfaError<E: std::error::Error + 'static> {
    /// The store failed (unreachable, timed out).
    #[error("the MFA store is unavailable")]
    Store(#[source] E),
    /// Concurrent writes kept winning for the whole retry budget.
    #[error("too many concurrent changes to this user's MFA record; try again")]
    Contention,
    /// The operation does not apply, or a fault inside.
    #[error(transparent)]
    Flow(#[from] FlowError),
}
