use core::fmt;
use core::num::NonZeroU64;

use crate::code::{Code, CodeError, Digits};
use crate::mac::{KeyedMac, ScanQuery};
use crate::{Algorithm, Secret};

/// The widest TOTP drift window, in steps on each side. RFC 6238 §5.2
/// recommends at most one step back; every extra step multiplies an attacker's
/// chance of guessing a code, so wider windows are refused, not clamped.
pub const MAX_TOTP_WINDOW: u8 = 10;
/// The widest HOTP look-ahead, in counters (RFC 4226 §7.4's `s`).
pub const MAX_HOTP_LOOK_AHEAD: u8 = 100;

/// A code that was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Matched {
    /// The time step (TOTP) or counter (HOTP) whose code matched. Store it
    /// and pass it back as `Some(step)`, the `last_step` of
    /// [`Totp::verify_after`], so the code cannot be used again.
    pub step: u64,
    /// How far the match was from the expected step: negative behind it (the
    /// user's clock is slow or the code was entered late), positive ahead.
    pub drift: i64,
}

/// Why a submitted code was not accepted. Messages never contain the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The text is not a well-formed code (wrong length, not digits).
    #[error(transparent)]
    Malformed(#[from] CodeError),
    /// The code does not match any step in the window.
    #[error("the code is not valid")]
    Invalid,
    /// The code matches only steps at or before the last used step: it was
    /// already used, or a newer code has been used since.
    #[error("the code was already used")]
    Replayed,
    /// The time is outside what the configuration can represent.
    #[error(transparent)]
    Time(#[from] TimeError),
}

/// A time the TOTP configuration cannot map to a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The time is before the configuration's T0.
    #[error("the time is before the TOTP epoch T0")]
    BeforeT0,
    /// The step's boundary lies beyond the largest representable time.
    #[error("the time is too far in the future to represent")]
    OutOfRange,
}

/// A configuration value that is out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The period is zero.
    #[error("the TOTP period must be at least 1 second")]
    ZeroPeriod,
    /// A TOTP window side is wider than [`MAX_TOTP_WINDOW`].
    #[error("the TOTP window is at most {MAX_TOTP_WINDOW} steps on each side")]
    WindowTooWide,
    /// The HOTP look-ahead is wider than [`MAX_HOTP_LOOK_AHEAD`].
    #[error("the HOTP look-ahead is at most {MAX_HOTP_LOOK_AHEAD} counters")]
    LookAheadTooWide,
}

fn drift(step: u64, expected: u64) -> i64 {
    // Both lie in one window of at most 2 * MAX_HOTP_LOOK_AHEAD, so the
    // conversions cannot fail; saturate rather than panic all the same.
    if step >= expected {
        i64::try_from(step - expected).unwrap_or(i64::MAX)
    } else {
        i64::try_from(expected - step).map_or(i64::MIN, |d| -d)
    }
}

/// Runs a window scan and turns its result into an answer.
fn check(
    mac: &KeyedMac,
    digits: Digits,
    code: &str,
    expected: u64,
    first: u64,
    last: u64,
    used_up_to: Option<u64>,
) -> Result<Matched, VerifyError> {
    let submitted = digits.parse(code)?;
    let found = mac.scan(&ScanQuery {
        submitted,
        digits,
        first,
        last,
        used_up_to,
    });
    if bool::from(found.fresh) {
        Ok(Matched {
            step: found.counter,
            drift: drift(found.counter, expected),
        })
    } else if bool::from(found.replayed) {
        Err(VerifyError::Replayed)
    } else {
        Err(VerifyError::Invalid)
    }
}

// ---------------------------------------------------------------------------
// HOTP

/// HOTP parameters (RFC 4226): algorithm, digits and look-ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HotpConfig {
    algorithm: Algorithm,
    digits: Digits,
    look_ahead: u8,
}

impl Default for HotpConfig {
    /// SHA-1, 6 digits, a look-ahead of 10 counters.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            look_ahead: 10,
        }
    }
}

impl HotpConfig {
    /// Sets the algorithm.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets the number of digits.
    #[must_use]
    pub fn with_digits(mut self, digits: Digits) -> Self {
        self.digits = digits;
        self
    }

    /// Sets how many counters past the expected one are accepted, so a token
    /// whose button was pressed without logging in can resynchronise.
    ///
    /// # Errors
    ///
    /// [`ConfigError::LookAheadTooWide`] above [`MAX_HOTP_LOOK_AHEAD`].
    pub fn with_look_ahead(mut self, look_ahead: u8) -> Result<Self, ConfigError> {
        if look_ahead > MAX_HOTP_LOOK_AHEAD {
            return Err(ConfigError::LookAheadTooWide);
        }
        self.look_ahead = look_ahead;
        Ok(self)
    }

    /// The algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits.
    #[must_use]
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The look-ahead, in counters.
    #[must_use]
    pub fn look_ahead(&self) -> u8 {
        self.look_ahead
    }
}

/// An HOTP generator and verifier bound to one secret (RFC 4226).
///
/// The HMAC key schedule is computed once, in [`Hotp::new`], and kept (zeroized
/// on drop); each counter then costs two hash compressions.
#[derive(Clone)]
pub struct Hotp {
    config: HotpConfig,
    mac: KeyedMac,
}

impl Hotp {
    /// Keys an HOTP instance.
    #[must_use]
    pub fn new(config: HotpConfig, secret: &Secret) -> Self {
        Self {
            config,
            mac: KeyedMac::new(config.algorithm, secret.expose_bytes()),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &HotpConfig {
        &self.config
    }

    /// The code for a counter.
    #[must_use]
    pub fn generate(&self, counter: u64) -> Code {
        let value = self.config.digits.reduce(self.mac.truncated(counter));
        Code::new(value, self.config.digits)
    }

    /// Verifies a code against `counter..=counter + look_ahead` (clamped at
    /// `u64::MAX`), comparing every candidate in constant time without
    /// stopping at a match. On success the caller must store
    /// `matched.step + 1` as the next expected counter.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] or [`VerifyError::Invalid`].
    pub fn verify(&self, code: &str, counter: u64) -> Result<Matched, VerifyError> {
        let last = counter.saturating_add(u64::from(self.config.look_ahead));
        check(
            &self.mac,
            self.config.digits,
            code,
            counter,
            counter,
            last,
            None,
        )
    }
}

impl fmt::Debug for Hotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hotp")
            .field("config", &self.config)
            .field("key", &"redacted")
            .finish()
    }
}

// ---------------------------------------------------------------------------
// TOTP

/// TOTP parameters (RFC 6238): algorithm, digits, period, T0 and the drift
/// window.
///
/// The default is what authenticator apps expect: SHA-1, 6 digits, 30-second
/// period, T0 = 0, one step behind and one ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TotpConfig {
    algorithm: Algorithm,
    digits: Digits,
    period: NonZeroU64,
    t0: u64,
    look_behind: u8,
    look_ahead: u8,
}

/// 30 seconds, RFC 6238 §5.2's recommendation.
const DEFAULT_PERIOD: NonZeroU64 = match NonZeroU64::new(30) {
    Some(p) => p,
    None => NonZeroU64::MIN,
};

impl Default for TotpConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: Digits::SIX,
            period: DEFAULT_PERIOD,
            t0: 0,
            look_behind: 1,
            look_ahead: 1,
        }
    }
}

/// One side of a TOTP window, within [`MAX_TOTP_WINDOW`].
fn window_side(steps: u8) -> Result<u8, ConfigError> {
    if steps > MAX_TOTP_WINDOW {
        return Err(ConfigError::WindowTooWide);
    }
    Ok(steps)
}

impl TotpConfig {
    /// Sets the algorithm.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets the number of digits.
    #[must_use]
    pub fn with_digits(mut self, digits: Digits) -> Self {
        self.digits = digits;
        self
    }

    /// Sets the period (time step), in seconds.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroPeriod`] for 0.
    pub fn with_period(mut self, seconds: u64) -> Result<Self, ConfigError> {
        self.period = NonZeroU64::new(seconds).ok_or(ConfigError::ZeroPeriod)?;
        Ok(self)
    }

    /// Sets T0, the Unix time at which step 0 begins.
    #[must_use]
    pub fn with_t0(mut self, t0: u64) -> Self {
        self.t0 = t0;
        self
    }

    /// Sets how many steps before the current one are accepted, to absorb
    /// a slow clock and typing time (default 1).
    ///
    /// # Security
    ///
    /// Each extra step is one more code an attacker's guess can hit. Keep the
    /// default unless clocks are known to drift further.
    ///
    /// # Errors
    ///
    /// [`ConfigError::WindowTooWide`] beyond [`MAX_TOTP_WINDOW`].
    pub fn with_look_behind(mut self, steps: u8) -> Result<Self, ConfigError> {
        self.look_behind = window_side(steps)?;
        Ok(self)
    }

    /// Sets how many steps after the current one are accepted, to absorb a
    /// fast clock (default 1).
    ///
    /// # Security
    ///
    /// As for [`with_look_behind`](Self::with_look_behind).
    ///
    /// # Errors
    ///
    /// [`ConfigError::WindowTooWide`] beyond [`MAX_TOTP_WINDOW`].
    pub fn with_look_ahead(mut self, steps: u8) -> Result<Self, ConfigError> {
        self.look_ahead = window_side(steps)?;
        Ok(self)
    }

    /// The algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits.
    #[must_use]
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The period in seconds.
    #[must_use]
    pub fn period(&self) -> u64 {
        self.period.get()
    }

    /// T0, as Unix time.
    #[must_use]
    pub fn t0(&self) -> u64 {
        self.t0
    }

    /// Steps accepted before the current one.
    #[must_use]
    pub fn look_behind(&self) -> u8 {
        self.look_behind
    }

    /// Steps accepted after the current one.
    #[must_use]
    pub fn look_ahead(&self) -> u8 {
        self.look_ahead
    }

    /// The time step for a Unix time: `(time - T0) / period`.
    ///
    /// # Errors
    ///
    /// [`TimeError::BeforeT0`] if `unix_time` is before T0.
    pub fn step_at(&self, unix_time: u64) -> Result<u64, TimeError> {
        let since = unix_time.checked_sub(self.t0).ok_or(TimeError::BeforeT0)?;
        Ok(since / self.period)
    }

    /// Seconds until the step containing `unix_time` ends (1 to `period`), for
    /// countdowns in a user interface.
    ///
    /// # Errors
    ///
    /// [`TimeError::BeforeT0`] before T0; [`TimeError::OutOfRange`] if the
    /// step ends beyond `u64::MAX`.
    pub fn seconds_left(&self, unix_time: u64) -> Result<u64, TimeError> {
        let since = unix_time.checked_sub(self.t0).ok_or(TimeError::BeforeT0)?;
        let into_step = since % self.period;
        let left = self.period.get() - into_step;
        // The step's end must itself be a representable time.
        unix_time
            .checked_add(left - 1)
            .ok_or(TimeError::OutOfRange)?;
        Ok(left)
    }
}

/// A TOTP generator and verifier bound to one secret (RFC 6238).
///
/// The HMAC key schedule is computed once, in [`Totp::new`], and kept (zeroized
/// on drop); each step then costs two hash compressions, and a default ±1
/// verification six.
///
/// ```
/// use totp_core::{Secret, Totp, TotpConfig, VerifyError};
///
/// let secret = Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
/// let totp = Totp::new(TotpConfig::default(), &secret);
/// let now = 1_111_111_109;
/// assert_eq!(totp.generate(now)?.as_str(), "081804");
///
/// // Accepted once: the matched step is what the caller stores...
/// let matched = totp.verify("081 804", now)?;
/// // ...and passes back, so the same code is refused the second time.
/// assert_eq!(
///     totp.verify_after("081804", now, Some(matched.step)),
///     Err(VerifyError::Replayed)
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Totp {
    config: TotpConfig,
    mac: KeyedMac,
}

impl Totp {
    /// Keys a TOTP instance.
    #[must_use]
    pub fn new(config: TotpConfig, secret: &Secret) -> Self {
        Self {
            config,
            mac: KeyedMac::new(config.algorithm, secret.expose_bytes()),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TotpConfig {
        &self.config
    }

    /// The code for a Unix time.
    ///
    /// # Errors
    ///
    /// [`TimeError::BeforeT0`] if `unix_time` is before T0.
    pub fn generate(&self, unix_time: u64) -> Result<Code, TimeError> {
        Ok(self.generate_at_step(self.config.step_at(unix_time)?))
    }

    /// The code for a time step.
    #[must_use]
    pub fn generate_at_step(&self, step: u64) -> Code {
        let value = self.config.digits.reduce(self.mac.truncated(step));
        Code::new(value, self.config.digits)
    }

    /// Verifies a code at a Unix time, over the configured window.
    ///
    /// Every step in the window is computed and compared in constant time,
    /// with no early exit. Steps that would fall below 0 or above `u64::MAX`
    /// do not exist and are not scanned. When a code matches more than one
    /// step, the latest is returned.
    ///
    /// This alone does not stop replay: use [`Totp::verify_after`] with the
    /// last accepted step for logins.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`], [`VerifyError::Invalid`] or
    /// [`VerifyError::Time`].
    pub fn verify(&self, code: &str, unix_time: u64) -> Result<Matched, VerifyError> {
        self.verify_inner(code, unix_time, None)
    }

    /// Verifies a code like [`Totp::verify`], accepting only a step greater
    /// than `last_step`, the step of the last code accepted for this secret
    /// (`None` when none has been). An older still-valid code is refused
    /// once a newer one was used.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Replayed`] if the code matches only steps at or below
    /// `last_step`; otherwise as [`Totp::verify`].
    pub fn verify_after(
        &self,
        code: &str,
        unix_time: u64,
        last_step: Option<u64>,
    ) -> Result<Matched, VerifyError> {
        self.verify_inner(code, unix_time, last_step)
    }

    fn verify_inner(
        &self,
        code: &str,
        unix_time: u64,
        used_up_to: Option<u64>,
    ) -> Result<Matched, VerifyError> {
        let step = self.config.step_at(unix_time)?;
        let first = step.saturating_sub(u64::from(self.config.look_behind));
        let last = step.saturating_add(u64::from(self.config.look_ahead));
        check(
            &self.mac,
            self.config.digits,
            code,
            step,
            first,
            last,
            used_up_to,
        )
    }
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("config", &self.config)
            .field("key", &"redacted")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totp() -> Totp {
        Totp::new(
            TotpConfig::default(),
            &Secret::from_bytes(b"12345678901234567890").unwrap(),
        )
    }

    #[test]
    fn window_edges() {
        let t = totp();
        let now: u64 = 1_000_000_000;
        for (offset, ok) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = t.generate(now.checked_add_signed(offset).unwrap()).unwrap();
            let result = t.verify(code.as_str(), now);
            assert_eq!(result.is_ok(), ok, "offset {offset}");
            if let Ok(m) = result {
                assert_eq!(m.drift, offset / 30);
            }
        }
    }

    #[test]
    fn replay_is_refused_and_older_codes_die() {
        let t = totp();
        let now = 1_000_000_000;
        let step = t.config().step_at(now).unwrap();
        let current = t.generate(now).unwrap();
        let previous = t.generate(now - 30).unwrap();
        assert_eq!(
            t.verify_after(current.as_str(), now, Some(step - 1))
                .unwrap()
                .step,
            step
        );
        assert_eq!(
            t.verify_after(current.as_str(), now, Some(step)),
            Err(VerifyError::Replayed)
        );
        assert_eq!(
            t.verify_after(previous.as_str(), now, Some(step)),
            Err(VerifyError::Replayed)
        );
        let next = t.generate(now + 30).unwrap();
        assert_eq!(
            t.verify_after(next.as_str(), now, Some(step)).unwrap().step,
            step + 1
        );
        // None used yet: step 0 is a step like any other.
        let first = t.generate(0).unwrap();
        assert_eq!(t.verify_after(first.as_str(), 0, None).unwrap().step, 0);
        assert_eq!(
            t.verify_after(first.as_str(), 0, Some(0)),
            Err(VerifyError::Replayed)
        );
    }

    #[test]
    fn extreme_times() {
        let t = totp();
        for time in [0, 1, 29, u64::MAX - 1, u64::MAX] {
            let code = t.generate(time).unwrap();
            assert!(t.verify(code.as_str(), time).is_ok(), "{time}");
        }
        let late = Totp::new(
            TotpConfig::default().with_t0(100),
            &Secret::from_bytes(b"12345678901234567890").unwrap(),
        );
        assert_eq!(late.generate(99), Err(TimeError::BeforeT0));
        assert_eq!(
            late.verify("123456", 0),
            Err(VerifyError::Time(TimeError::BeforeT0))
        );
        let one = TotpConfig::default().with_period(1).unwrap();
        assert_eq!(one.seconds_left(u64::MAX), Ok(1));
        let c = TotpConfig::default();
        assert_eq!(c.seconds_left(u64::MAX), Err(TimeError::OutOfRange));
        assert_eq!(c.seconds_left(59), Ok(1));
        assert_eq!(c.seconds_left(60), Ok(30));
    }

    #[test]
    fn config_limits() {
        assert_eq!(
            TotpConfig::default().with_period(0),
            Err(ConfigError::ZeroPeriod)
        );
        assert_eq!(
            TotpConfig::default().with_look_behind(11),
            Err(ConfigError::WindowTooWide)
        );
        assert_eq!(
            TotpConfig::default().with_look_ahead(255),
            Err(ConfigError::WindowTooWide)
        );
        assert!(
            TotpConfig::default()
                .with_look_behind(10)
                .and_then(|c| c.with_look_ahead(10))
                .is_ok()
        );
        assert_eq!(
            HotpConfig::default().with_look_ahead(101),
            Err(ConfigError::LookAheadTooWide)
        );
    }

    #[test]
    fn hotp_look_ahead() {
        let h = Hotp::new(
            HotpConfig::default().with_look_ahead(3).unwrap(),
            &Secret::from_bytes(b"12345678901234567890").unwrap(),
        );
        let code = h.generate(13);
        let m = h.verify(code.as_str(), 10).unwrap();
        assert_eq!((m.step, m.drift), (13, 3));
        assert_eq!(h.verify(code.as_str(), 9), Err(VerifyError::Invalid));
        assert_eq!(h.verify(code.as_str(), 14), Err(VerifyError::Invalid));
        let top = h.generate(u64::MAX);
        assert_eq!(h.verify(top.as_str(), u64::MAX - 1).unwrap().step, u64::MAX);
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", totp());
        assert!(shown.contains("redacted"));
    }
}
