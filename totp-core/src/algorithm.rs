use core::fmt;
use core::str::FromStr;

/// The HMAC hash function of an OTP (RFC 6238 §1.2).
///
/// [`Algorithm::Sha1`] is the default only because authenticator apps expect
/// it: many (Google Authenticator among them) ignore the `algorithm`
/// parameter of an otpauth URI and always use SHA-1. HOTP's security rests on
/// HMAC, not on collision resistance, so HMAC-SHA-1 is not broken for this use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA-1, the RFC 4226 original and what every app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth URIs: `SHA1`, `SHA256` or `SHA512`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// The secret length, in bytes, to generate for this algorithm: the hash's
    /// output length (20, 32 or 64), as the RFC 6238 reference code uses.
    #[must_use]
    pub const fn recommended_secret_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an algorithm name other than SHA1, SHA256 or SHA512.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown OTP algorithm: expected SHA1, SHA256 or SHA512")]
pub struct UnknownAlgorithm;

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses `SHA1`, `SHA256` or `SHA512`, in any letter case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Sha1, Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or(UnknownAlgorithm)
    }
}
