//! What the session-bound operations take and give.

use mfa_flow::EnrollmentTicket;

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
