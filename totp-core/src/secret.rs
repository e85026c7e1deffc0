use core::fmt;

use data_encoding::BASE32_NOPAD;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

#[cfg(feature = "getrandom")]
use crate::Algorithm;

/// The shortest key accepted from outside: 80 bits, because real services
/// still issue 80-bit keys. [`Secret::generate`] never makes one this short.
pub const MIN_SECRET_LEN: usize = 10;
/// The shortest key [`Secret::generate_with_len`] makes: 160 bits, as
/// RFC 4226 §4 (R6) requires.
pub const MIN_GENERATED_LEN: usize = 20;
/// The longest key accepted: 128 bytes (1024 bits), one SHA-512 block.
pub const MAX_SECRET_LEN: usize = 128;

/// The base32 text of the longest key, plus slack for padding.
const MAX_BASE32_SYMBOLS: usize = (MAX_SECRET_LEN * 8).div_ceil(5);

/// The last of `n` base32 symbols with the low bits that carry no key bits
/// cleared: apps and libraries that make secrets by drawing random symbols
/// (pyotp, for one) leave those bits set, every authenticator app ignores
/// them, and RFC 4648's strict decoder refuses them. `symbol` is upper case
/// (`A`–`Z`, `2`–`7`).
fn without_trailing_bits(symbol: u8, n: usize) -> u8 {
    // 5 bits per symbol, whole bytes decoded: 5n - 8⌊5n/8⌋ bits unused.
    let unused = (5 * n) % 8;
    let value = match symbol {
        b'A'..=b'Z' => symbol - b'A',
        _ => symbol - b'2' + 26,
    };
    let value = value & !((1u8 << unused) - 1);
    match value {
        0..=25 => b'A' + value,
        _ => b'2' + (value - 26),
    }
}

/// A shared OTP key (the "K" of RFC 4226).
///
/// - Generated from the operating system's RNG, or taken from bytes or base32.
/// - Zeroized on drop. `Debug` shows only the length; there is no `Display`.
/// - Compared in constant time.
///
/// The key is exposed only through [`Secret::expose_bytes`] and
/// [`Secret::expose_base32`], named so that every use is easy to find in review.
///
/// There is no `Display`, so a secret cannot end up in a formatted string by
/// accident:
///
/// ```compile_fail
/// let secret = totp_core::Secret::generate().unwrap();
/// let leaked = format!("{secret}");
/// ```
#[derive(Clone)]
pub struct Secret {
    bytes: [u8; MAX_SECRET_LEN],
    len: usize,
}

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.bytes.zeroize();
        self.len.zeroize();
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

/// Why bytes or text are not an acceptable secret. Messages never contain any
/// part of the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Fewer than [`MIN_SECRET_LEN`] bytes (or, for generation,
    /// [`MIN_GENERATED_LEN`]).
    #[error("the secret is too short: at least {min} bytes are required")]
    TooShort {
        /// The minimum length in bytes.
        min: usize,
    },
    /// More than [`MAX_SECRET_LEN`] bytes.
    #[error("the secret is too long: at most {max} bytes are accepted")]
    TooLong {
        /// The maximum length in bytes.
        max: usize,
    },
    /// The text contains a character that is not base32 (`A`–`Z`, `2`–`7`,
    /// either case), a space, a hyphen or trailing `=` padding.
    #[error("the secret is not valid base32: it contains a character other than A-Z, 2-7")]
    InvalidCharacter,
    /// The number of base32 symbols cannot encode whole bytes (1, 3 or 6
    /// symbols past a multiple of 8).
    #[error("the secret is not valid base32: its number of symbols is impossible")]
    InvalidLength,
    /// The operating system's random number generator failed.
    #[cfg(feature = "getrandom")]
    #[error(transparent)]
    Rng(RngError),
}

/// The operating system's random number generator failed (a fault of the
/// platform). Its source is the generator's own error.
#[cfg(feature = "getrandom")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RngError(#[source] getrandom::Error);

impl Secret {
    /// Generates a 20-byte (160-bit) secret from the operating system's RNG,
    /// the RFC 4226 recommendation and what SHA-1 apps expect.
    ///
    /// # Errors
    ///
    /// [`SecretError::Rng`] if the operating system cannot supply randomness.
    #[cfg(feature = "getrandom")]
    pub fn generate() -> Result<Self, SecretError> {
        Self::generate_with_len(MIN_GENERATED_LEN)
    }

    /// Generates a secret as long as the algorithm's output: 20, 32 or 64
    /// bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError::Rng`] if the operating system cannot supply randomness.
    #[cfg(feature = "getrandom")]
    pub fn generate_for(algorithm: Algorithm) -> Result<Self, SecretError> {
        Self::generate_with_len(algorithm.recommended_secret_len())
    }

    /// Generates a secret of `len` bytes from the operating system's RNG.
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] below [`MIN_GENERATED_LEN`],
    /// [`SecretError::TooLong`] above [`MAX_SECRET_LEN`],
    /// [`SecretError::Rng`] if the operating system cannot supply randomness.
    #[cfg(feature = "getrandom")]
    pub fn generate_with_len(len: usize) -> Result<Self, SecretError> {
        if len < MIN_GENERATED_LEN {
            return Err(SecretError::TooShort {
                min: MIN_GENERATED_LEN,
            });
        }
        let mut secret = Self::empty(len)?;
        getrandom::fill(secret.bytes_mut()).map_err(|e| SecretError::Rng(RngError(e)))?;
        Ok(secret)
    }

    /// Takes a key as raw bytes.
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] below [`MIN_SECRET_LEN`] (80 bits),
    /// [`SecretError::TooLong`] above [`MAX_SECRET_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort {
                min: MIN_SECRET_LEN,
            });
        }
        let mut secret = Self::empty(bytes.len())?;
        secret.bytes_mut().copy_from_slice(bytes);
        Ok(secret)
    }

    /// Decodes a base32 key (RFC 4648 §6) as people and apps write it: upper
    /// or lower case, with spaces or hyphens between groups, with or without
    /// trailing `=` padding.
    ///
    /// # Errors
    ///
    /// [`SecretError::InvalidCharacter`], [`SecretError::InvalidLength`],
    /// [`SecretError::TooShort`] or [`SecretError::TooLong`].
    pub fn from_base32(text: &str) -> Result<Self, SecretError> {
        // Gather the symbols into a stack buffer, skipping separators; the
        // buffer is zeroized on every path out.
        let mut symbols = zeroize::Zeroizing::new([0u8; MAX_BASE32_SYMBOLS]);
        let mut n = 0usize;
        let mut padding = false;
        for b in text.trim_ascii().bytes() {
            match b {
                b' ' | b'-' => {}
                b'=' => padding = true,
                b'A'..=b'Z' | b'a'..=b'z' | b'2'..=b'7' if !padding => {
                    let slot = symbols.get_mut(n).ok_or(SecretError::TooLong {
                        max: MAX_SECRET_LEN,
                    })?;
                    *slot = b.to_ascii_uppercase();
                    n += 1;
                }
                _ => return Err(SecretError::InvalidCharacter),
            }
        }
        if let Some(last) = n.checked_sub(1).and_then(|i| symbols.get_mut(i)) {
            *last = without_trailing_bits(*last, n);
        }
        #[expect(
            clippy::indexing_slicing,
            reason = "n counts the symbols stored, each into a slot that existed"
        )]
        let symbols = &symbols[..n];
        let len = BASE32_NOPAD
            .decode_len(n)
            .map_err(|_| SecretError::InvalidLength)?;
        if len < MIN_SECRET_LEN {
            return Err(SecretError::TooShort {
                min: MIN_SECRET_LEN,
            });
        }
        let mut secret = Self::empty(len)?;
        BASE32_NOPAD
            .decode_mut(symbols, secret.bytes_mut())
            .map_err(|_| SecretError::InvalidLength)?;
        Ok(secret)
    }

    fn empty(len: usize) -> Result<Self, SecretError> {
        if len > MAX_SECRET_LEN {
            return Err(SecretError::TooLong {
                max: MAX_SECRET_LEN,
            });
        }
        Ok(Self {
            bytes: [0; MAX_SECRET_LEN],
            len,
        })
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "len is at most MAX_SECRET_LEN, checked by every constructor"
    )]
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }

    /// The key length in bytes.
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.len
    }

    /// The raw key.
    ///
    /// # Security
    ///
    /// This is the credential itself. Do not log it, put it in an error, or
    /// keep copies that outlive the `Secret`; seal it before it reaches
    /// storage.
    #[must_use]
    #[expect(
        clippy::indexing_slicing,
        reason = "len is at most MAX_SECRET_LEN, checked by every constructor"
    )]
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The key as upper-case unpadded base32, the form authenticator apps take
    /// for manual entry.
    ///
    /// # Security
    ///
    /// This is the credential itself: show it only to its owner, during
    /// enrollment, and never log it. The returned string is zeroized on drop.
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn expose_base32(&self) -> zeroize::Zeroizing<alloc::string::String> {
        zeroize::Zeroizing::new(data_encoding::BASE32_NOPAD.encode(self.expose_bytes()))
    }
}

impl ConstantTimeEq for Secret {
    /// Constant time in the contents; the lengths are not secret.
    fn ct_eq(&self, other: &Self) -> Choice {
        self.expose_bytes().ct_eq(other.expose_bytes())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes, redacted)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    /// Everything that holds key material wipes it on drop.
    #[test]
    fn key_material_is_zeroized_on_drop() {
        fn wipes_on_drop<T: ZeroizeOnDrop>() {}
        wipes_on_drop::<Secret>();
        wipes_on_drop::<crate::Code>();
        wipes_on_drop::<crate::mac::Keyed<crate::mac::Sha1>>();
        wipes_on_drop::<crate::mac::Keyed<crate::mac::Sha512>>();
    }

    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn base32_input_is_tolerant() {
        let want = Secret::from_bytes(RFC_KEY).unwrap();
        for text in [
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
            "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
            "  GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n",
        ] {
            assert_eq!(Secret::from_base32(text).unwrap(), want, "{text}");
        }
        // 10 bytes: 16 symbols, no padding needed; 11 bytes needs padding.
        let eleven = Secret::from_bytes(b"hello world").unwrap();
        assert_eq!(
            Secret::from_base32("NBSWY3DPEB3W64TMMQ======").unwrap(),
            eleven
        );
        assert_eq!(Secret::from_base32("NBSWY3DPEB3W64TMMQ").unwrap(), eleven);
        assert_eq!(Secret::from_base32("nbswy3dpeb3w64tmmq=").unwrap(), eleven);
        // The last symbol's two unused bits set (as pyotp's random symbols
        // leave them): the same key. A used bit is another key.
        for text in ["NBSWY3DPEB3W64TMMR", "nbswy3dpeb3w64tmmt"] {
            assert_eq!(Secret::from_base32(text).unwrap(), eleven, "{text}");
        }
        assert_ne!(Secret::from_base32("NBSWY3DPEB3W64TMMU").unwrap(), eleven);
    }

    #[test]
    fn base32_rejections() {
        assert!(matches!(
            Secret::from_base32("GEZDGNBVGY3TQOJQ1"),
            Err(SecretError::InvalidCharacter)
        ));
        assert!(matches!(
            Secret::from_base32("NBSWY3DPEB3W64TM=MQ"),
            Err(SecretError::InvalidCharacter)
        ));
        assert!(matches!(
            Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQé"),
            Err(SecretError::InvalidCharacter)
        ));
        assert!(matches!(
            Secret::from_base32("GEZDGNBVGY3TQOJQG"),
            Err(SecretError::InvalidLength)
        ));
        assert!(matches!(
            Secret::from_base32("JBSWY3DP"),
            Err(SecretError::TooShort { min: 10 })
        ));
        assert!(matches!(
            Secret::from_base32(""),
            Err(SecretError::TooShort { .. })
        ));
        let huge = "A".repeat(10 << 20);
        assert!(matches!(
            Secret::from_base32(&huge),
            Err(SecretError::TooLong { max: 128 })
        ));
        // Unused low bits in the last symbol are ignored, as apps do.
        assert_eq!(
            Secret::from_base32("NBSWY3DPEB3W64TMMR").unwrap(),
            Secret::from_bytes(b"hello world").unwrap()
        );
    }

    #[test]
    fn bytes_limits() {
        assert!(Secret::from_bytes(&[1; 9]).is_err());
        assert!(Secret::from_bytes(&[1; 10]).is_ok());
        assert!(Secret::from_bytes(&[1; 128]).is_ok());
        assert!(Secret::from_bytes(&[1; 129]).is_err());
        assert!(Secret::generate_with_len(19).is_err());
        assert!(Secret::generate_with_len(129).is_err());
    }

    #[test]
    fn generation() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.byte_len(), 20);
        assert_ne!(a, b);
        assert_eq!(
            Secret::generate_for(Algorithm::Sha512).unwrap().byte_len(),
            64
        );
        assert_eq!(
            Secret::generate_for(Algorithm::Sha256).unwrap().byte_len(),
            32
        );
    }

    #[test]
    fn output_is_upper_case_unpadded() {
        let s = Secret::from_bytes(b"hello world").unwrap();
        assert_eq!(&*s.expose_base32(), "NBSWY3DPEB3W64TMMQ");
    }

    #[test]
    fn debug_is_redacted() {
        let s = Secret::from_bytes(RFC_KEY).unwrap();
        let shown = format!("{s:?}");
        assert_eq!(shown, "Secret(20 bytes, redacted)");
        assert!(!shown.contains("GEZD"));
    }
}
