//! What the session-bound operations take and give.

use mfa_flow::EnrollmentTicket;

/// Which kind of code a user typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeKind {
    /// The current code of the authenticator app.
    Totp,
    /// A single-use recovery code.
    Recovery,
    /// Either, told apart by length (a field that takes both, such as a
    /// "confirm it's you" prompt).
    Any,
}

/// An enrollment to show: the pending one again (same QR code, same expiry)
/// or a new one.
#[derive(Debug)]
#[non_exhaustive]
pub struct Enrollment {
    /// The QR code, the secret and the expiry.
    pub ticket: EnrollmentTicket,
    /// The account name the authenticator app shows.
    pub account: String,
    /// The issuer the authenticator app shows.
    pub issuer: String,
    /// Seconds until the QR code expires.
    pub expires_in: u64,
}
