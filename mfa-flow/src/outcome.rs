use std::fmt;

use totp_core::{CodeError, Qr, QrError};
use zeroize::Zeroizing;

use crate::recovery::{RecoveryCodeError, RecoveryCodes};

/// Whether MFA may be switched off for a user: the application decides per
/// user, usually from the user's customer (organisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The user chooses.
    Optional,
    /// The customer is "multi-factor required": the user must enroll and
    /// cannot switch MFA off.
    Required,
}

/// What a login needs after the password ([`MfaService::requirement`](crate::MfaService::requirement));
/// mfa-axum also answers it per request (`decide`), from the session's
/// assurance as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Requirement {
    /// Nothing more: MFA is off and not required (or, for a request, the
    /// session already has the assurance the route asks for).
    Proceed,
    /// A code from the app (or a recovery code).
    Code,
    /// Enrollment first (opted in but not set up, or required and not active).
    Enroll,
}

/// A submitted code that is not well-formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Not a TOTP code: wrong length or not digits.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// Not a recovery code.
    #[error(transparent)]
    Recovery(#[from] RecoveryCodeError),
}

/// The answer to a submitted code or recovery code.
///
/// The HTTP layer should show one generic "invalid code" for both
/// [`Outcome::Invalid`] and [`Outcome::Replayed`].
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub enum Outcome<T> {
    /// Accepted; what the operation produced.
    Accepted(T),
    /// Wrong code; counted as a failure.
    Invalid,
    /// A code whose time step was already used (or an older one); counted as
    /// a failure.
    Replayed,
    /// Refused without checking the code. `until` is the end of a timed
    /// lock, or `None` for a hard lock that only a recovery code or an
    /// administrator reset lifts.
    Locked {
        /// When attempts are accepted again.
        until: Option<u64>,
    },
    /// The enrollment's QR code expired; the pending secret was dropped and
    /// enrollment must start again.
    Expired,
    /// The input is not a well-formed code; not counted as a failure.
    Malformed(InputError),
}

impl<T> Outcome<T> {
    /// Whether the code was accepted.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted(_))
    }

    /// The accepted value, if any.
    #[must_use]
    pub fn accepted(self) -> Option<T> {
        match self {
            Self::Accepted(t) => Some(t),
            _ => None,
        }
    }

    /// A short name for logs and audit events.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Accepted(_) => "accepted",
            Self::Invalid => "invalid",
            Self::Replayed => "replayed",
            Self::Locked { until: Some(_) } => "locked",
            Self::Locked { until: None } => "hard_locked",
            Self::Expired => "expired",
            Self::Malformed(_) => "malformed",
        }
    }
}

/// Which kind of code an operation takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeKind {
    /// The current code of the authenticator app.
    Totp,
    /// A single-use recovery code.
    Recovery,
    /// Either, told apart by length: a TOTP code has at most 8 digits, a
    /// recovery code 20 symbols (a field that takes both, such as a
    /// "confirm it's you" prompt).
    Any,
}

/// The code a login was accepted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsedCode {
    /// A TOTP code, and the time step it was for.
    Totp(Verified),
    /// A recovery code, now used up.
    Recovery(RecoveryUsed),
}

/// An accepted login code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The TOTP time step used; it can never be used again.
    pub step: u64,
}

/// An accepted recovery code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryUsed {
    /// Unused recovery codes left.
    pub remaining: usize,
}

/// A confirmed enrollment.
#[derive(Debug)]
#[non_exhaustive]
pub struct Enrolled {
    /// The recovery codes, shown to the user this once.
    pub recovery_codes: RecoveryCodes,
    /// The time step of the confirming code; it cannot log in.
    pub step: u64,
}

/// What an enrollment page shows: the QR code, the secret for manual entry,
/// and when it expires.
///
/// Not `Clone`; the URI and secret are zeroized on drop and hidden from
/// `Debug`.
pub struct EnrollmentTicket {
    pub(crate) uri: Zeroizing<String>,
    pub(crate) secret: Zeroizing<String>,
    pub(crate) expires_at: u64,
}

impl EnrollmentTicket {
    /// The `otpauth://totp/...` URI.
    ///
    /// # Security
    ///
    /// Contains the secret: show it only to its owner, never log it.
    #[must_use]
    pub fn expose_uri(&self) -> &str {
        &self.uri
    }

    /// The secret in base32, for apps that cannot scan (shown on click).
    ///
    /// # Security
    ///
    /// Show it only to its owner, never log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }

    /// The QR code of the URI as an SVG document (white background, quiet
    /// zone), ready to inline in HTML, rendered on each call (a page that
    /// shows the URI its own way never pays for it). As sensitive as the
    /// URI.
    ///
    /// # Errors
    ///
    /// [`QrError`] if the URI does not fit a QR code, which an account
    /// name the URI accepts does not cause.
    pub fn qr_svg(&self) -> Result<String, QrError> {
        Ok(Qr::new(&self.uri)?.to_svg())
    }

    /// When the enrollment stops being confirmable (Unix seconds).
    #[must_use]
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl fmt::Debug for EnrollmentTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentTicket")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The coarse state, for status views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateKind {
    /// No MFA.
    Disabled,
    /// Opted in, not set up.
    Requested,
    /// QR code shown, not confirmed.
    Pending,
    /// Enrolled.
    Active,
}

/// A user's MFA status, for the account page and administrators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The state.
    pub state: StateKind,
    /// When the current authenticator app was confirmed (active users):
    /// at enrollment, or when it replaced the one before.
    pub confirmed_at: Option<u64>,
    /// When a pending enrollment expires.
    pub pending_expires_at: Option<u64>,
    /// When the new authenticator app being set up (an active user's
    /// replacement, not yet confirmed) stops being confirmable; `None` when
    /// none is pending.
    pub replacement_expires_at: Option<u64>,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// Consecutive failures.
    pub failures: u32,
    /// Failures left before the next lock
    /// ([`ThrottleConfig::attempts_before_lock`](crate::ThrottleConfig::attempts_before_lock)):
    /// what a code page tells the user after a wrong code.
    pub attempts_before_lock: u32,
    /// The end of the current timed lock, if one is in force.
    pub locked_until: Option<u64>,
    /// Whether TOTP is hard-locked (only a recovery code or an administrator
    /// reset lifts it).
    pub hard_locked: bool,
}
