use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The number of decimal digits in a code: 6, 7 or 8 (RFC 4226 §5.3).
///
/// Each length is its own truncation: an 8-digit code is `value mod 10^8`,
/// not a 6-digit code with two more digits in front.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digits(u8);

/// The error for a digit count outside 6 to 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an OTP has 6 to 8 digits")]
pub struct InvalidDigits;

impl Digits {
    /// Six digits, the default and what every app supports.
    pub const SIX: Self = Self(6);
    /// Seven digits.
    pub const SEVEN: Self = Self(7);
    /// Eight digits.
    pub const EIGHT: Self = Self(8);

    /// Checks a digit count.
    ///
    /// # Errors
    ///
    /// [`InvalidDigits`] unless `n` is 6, 7 or 8.
    pub const fn new(n: u8) -> Result<Self, InvalidDigits> {
        match n {
            6..=8 => Ok(Self(n)),
            _ => Err(InvalidDigits),
        }
    }

    /// The digit count.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// `value mod 10^digits`, with the divisor a constant in each arm so the
    /// compiler emits a multiplication, whose timing does not depend on the
    /// (secret) value, instead of a hardware division.
    #[inline(always)]
    pub(crate) fn reduce(self, value: u32) -> u32 {
        match self.0 {
            6 => value % 1_000_000,
            7 => value % 10_000_000,
            _ => value % 100_000_000,
        }
    }

    /// Parses a submitted code: exactly this many ASCII digits, with ASCII
    /// spaces allowed between them ("123 456", as apps display it) and
    /// surrounding whitespace ignored.
    ///
    /// Runs in time linear in the input, allocates nothing and stops reading
    /// as soon as the input cannot be a code.
    ///
    /// # Errors
    ///
    /// [`CodeError::NotADigit`] for any other character (including non-ASCII
    /// digits such as "١"), [`CodeError::WrongLength`] for too few or too many
    /// digits.
    pub fn parse(self, code: &str) -> Result<u32, CodeError> {
        let mut value: u32 = 0;
        let mut count: u8 = 0;
        for b in code.trim_ascii().bytes() {
            match b {
                b'0'..=b'9' => {
                    if count == self.0 {
                        return Err(CodeError::WrongLength { expected: self });
                    }
                    count += 1;
                    value = value * 10 + u32::from(b - b'0');
                }
                b' ' => {}
                _ => return Err(CodeError::NotADigit),
            }
        }
        if count == self.0 {
            Ok(value)
        } else {
            Err(CodeError::WrongLength { expected: self })
        }
    }
}

impl Default for Digits {
    fn default() -> Self {
        Self::SIX
    }
}

impl TryFrom<u8> for Digits {
    type Error = InvalidDigits;
    fn try_from(n: u8) -> Result<Self, InvalidDigits> {
        Self::new(n)
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a submitted code is not a well-formed code. The message never contains
/// the submitted text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The code has too few or too many digits.
    #[error("the code must have exactly {expected} digits")]
    WrongLength {
        /// The number of digits expected.
        expected: Digits,
    },
    /// The code contains something other than ASCII digits and spaces.
    #[error("the code must contain only the digits 0 to 9")]
    NotADigit,
}

/// A generated one-time code: `digits` ASCII digits, zero-padded.
///
/// A code is a short-lived credential, so `Debug` hides it and it is zeroized
/// on drop; [`Code::as_str`] gives the text to show or send.
#[derive(Clone)]
pub struct Code {
    text: [u8; 8],
    digits: Digits,
}

/// The digits are wiped; their count is no secret.
impl Zeroize for Code {
    fn zeroize(&mut self) {
        self.text.zeroize();
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Code {}

impl Code {
    pub(crate) fn new(value: u32, digits: Digits) -> Self {
        let mut text = [b'0'; 8];
        let mut v = value;
        let n = usize::from(digits.get());
        for slot in text.iter_mut().take(n).rev() {
            // `v % 10` is below 10: its low byte is all of it.
            let [.., digit] = (v % 10).to_be_bytes();
            *slot = b'0' + digit;
            v /= 10;
        }
        Self { text, digits }
    }

    /// The code as text, e.g. `"094287"`.
    #[must_use]
    #[expect(
        clippy::indexing_slicing,
        clippy::expect_used,
        reason = "digits are 6 to 8 of the 8 ASCII digits `new` wrote"
    )]
    pub fn as_str(&self) -> &str {
        let digits = &self.text[..usize::from(self.digits.get())];
        core::str::from_utf8(digits).expect("a code is ASCII digits")
    }

    /// The code as a number (leading zeros are lost; see [`Code::as_str`]).
    #[must_use]
    pub fn value(&self) -> u32 {
        self.as_str()
            .bytes()
            .fold(0, |v, b| v * 10 + u32::from(b - b'0'))
    }

    /// The number of digits.
    #[must_use]
    pub fn digits(&self) -> Digits {
        self.digits
    }
}

impl ConstantTimeEq for Code {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.text.ct_eq(&other.text) & self.digits.0.ct_eq(&other.digits.0)
    }
}

impl PartialEq for Code {
    /// Constant time in the digits.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Code {}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({} digits, redacted)", self.digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn parses_codes_as_apps_show_them() {
        assert_eq!(Digits::SIX.parse("123456"), Ok(123_456));
        assert_eq!(Digits::SIX.parse("123 456"), Ok(123_456));
        assert_eq!(Digits::SIX.parse(" 000 001\n"), Ok(1));
        assert_eq!(Digits::EIGHT.parse("1234 5678"), Ok(12_345_678));
        assert_eq!(Digits::SEVEN.parse("9999999"), Ok(9_999_999));
    }

    #[test]
    fn refuses_everything_else() {
        let len6 = Err(CodeError::WrongLength {
            expected: Digits::SIX,
        });
        assert_eq!(Digits::SIX.parse(""), len6);
        assert_eq!(Digits::SIX.parse("   "), len6);
        assert_eq!(Digits::SIX.parse("12345"), len6);
        assert_eq!(Digits::SIX.parse("1234567"), len6);
        assert_eq!(Digits::SIX.parse("12345678"), len6);
        assert_eq!(Digits::SIX.parse("١٢٣٤٥٦"), Err(CodeError::NotADigit));
        assert_eq!(Digits::SIX.parse("12345a"), Err(CodeError::NotADigit));
        assert_eq!(Digits::SIX.parse("+12345"), Err(CodeError::NotADigit));
        assert_eq!(Digits::SIX.parse("123-456"), Err(CodeError::NotADigit));
        assert_eq!(Digits::SIX.parse("１２３４５６"), Err(CodeError::NotADigit));
        let huge = "1".repeat(4 << 20);
        assert_eq!(Digits::SIX.parse(&huge), len6);
    }

    #[test]
    fn messages_never_echo_the_input() {
        let e = Digits::SIX.parse("987654321").unwrap_err();
        assert!(!e.to_string().contains("987"));
    }

    #[test]
    fn formats_with_leading_zeros() {
        assert_eq!(Code::new(42, Digits::SIX).as_str(), "000042");
        assert_eq!(Code::new(42, Digits::EIGHT).as_str(), "00000042");
        assert_eq!(Code::new(1_234_567, Digits::SEVEN).value(), 1_234_567);
        assert!(!format!("{:?}", Code::new(123_456, Digits::SIX)).contains("123"));
    }

    #[test]
    fn digit_counts() {
        assert!(Digits::new(5).is_err());
        assert!(Digits::new(9).is_err());
        assert_eq!(Digits::new(7), Ok(Digits::SEVEN));
    }
}
