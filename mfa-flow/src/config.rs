use totp_core::TotpConfig;

/// A configuration value the flow refuses without an explicitly named
/// dangerous opt-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The hard lock must come at 1 to 100 consecutive failures.
    #[error(
        "the hard lock must come at 1 to 100 consecutive failures (NIST SP 800-63B §5.2.2); \
         ThrottleConfig::dangerous_with_hard_lock_at goes beyond"
    )]
    HardLockBeyondNist,
    /// The TOTP window is wider than one step each way.
    #[error(
        "a TOTP window wider than one step each way accepts more guesses; \
         MfaConfig::dangerous_with_wide_window allows it"
    )]
    WideWindow,
}

/// The most recovery codes [`MfaConfig::with_recovery_codes`] issues.
pub(crate) const MAX_RECOVERY_CODES: usize = 100;

/// The failure budget shared by TOTP and recovery codes.
///
/// The `lock_at`-th consecutive failure locks TOTP codes for `first_lock`
/// seconds; each further failure doubles the lock, up to `longest_lock`. At
/// `hard_lock_at` consecutive failures TOTP codes are refused until a
/// recovery code or an administrator reset: NIST SP 800-63B §5.2.2 allows
/// at most 100, and going beyond takes
/// [`dangerous_with_hard_lock_at`](Self::dangerous_with_hard_lock_at).
///
/// The fields are private, so the limits hold:
///
/// ```compile_fail
/// let mut throttle = mfa_flow::ThrottleConfig::default();
/// throttle.hard_lock_at = 1_000_000;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub(crate) lock_at: u32,
    pub(crate) first_lock: u64,
    pub(crate) longest_lock: u64,
    pub(crate) hard_lock_at: u32,
}

impl Default for ThrottleConfig {
    /// 5th failure: 30 s, doubling to 15 min; hard lock at 100.
    fn default() -> Self {
        Self {
            lock_at: 5,
            first_lock: 30,
            longest_lock: 15 * 60,
            hard_lock_at: 100,
        }
    }
}

impl ThrottleConfig {
    /// The consecutive failure that brings the first timed lock (at least
    /// 1; default 5).
    #[must_use]
    pub fn with_lock_at(mut self, failures: u32) -> Self {
        self.lock_at = failures.max(1);
        self
    }

    /// The first timed lock, in seconds (at least 1; default 30). The
    /// longest lock is raised to it if shorter.
    #[must_use]
    pub fn with_first_lock(mut self, seconds: u64) -> Self {
        self.first_lock = seconds.max(1);
        self.longest_lock = self.longest_lock.max(self.first_lock);
        self
    }

    /// The longest timed lock, in seconds (default 900; at least the first
    /// lock).
    #[must_use]
    pub fn with_longest_lock(mut self, seconds: u64) -> Self {
        self.longest_lock = seconds.max(self.first_lock);
        self
    }

    /// The consecutive failures that hard-lock TOTP codes (default 100).
    ///
    /// # Errors
    ///
    /// [`ConfigError::HardLockBeyondNist`] outside 1 to 100.
    pub fn with_hard_lock_at(mut self, failures: u32) -> Result<Self, ConfigError> {
        if !(1..=100).contains(&failures) {
            return Err(ConfigError::HardLockBeyondNist);
        }
        self.hard_lock_at = failures;
        Ok(self)
    }

    /// **Dangerous:** a hard lock beyond NIST's 100 consecutive failures
    /// (at least 1), which lets an attacker try more codes per account.
    #[must_use]
    pub fn dangerous_with_hard_lock_at(mut self, failures: u32) -> Self {
        self.hard_lock_at = failures.max(1);
        self
    }

    /// The consecutive failure that brings the first timed lock.
    #[must_use]
    pub fn lock_at(&self) -> u32 {
        self.lock_at
    }

    /// The first timed lock, in seconds.
    #[must_use]
    pub fn first_lock(&self) -> u64 {
        self.first_lock
    }

    /// The longest timed lock, in seconds: at least the first.
    #[must_use]
    pub fn longest_lock(&self) -> u64 {
        self.longest_lock
    }

    /// The consecutive failures that hard-lock TOTP codes.
    #[must_use]
    pub fn hard_lock_at(&self) -> u32 {
        self.hard_lock_at
    }

    /// How long the user is locked after reaching `failures` consecutive
    /// failures, if at all.
    #[must_use]
    pub fn lock_after(&self, failures: u32) -> Option<u64> {
        let beyond = failures.checked_sub(self.lock_at)?;
        let factor = 1u64.checked_shl(beyond).unwrap_or(u64::MAX);
        Some(
            self.first_lock
                .saturating_mul(factor)
                .min(self.longest_lock()),
        )
    }

    /// How many more failures, after `failures` in a row, until the next
    /// lock: counting down to [`lock_at`](Self::lock_at), then 1 (once
    /// locks have begun, every failure brings one), and 0 at the hard lock.
    #[must_use]
    pub fn attempts_before_lock(&self, failures: u32) -> u32 {
        if self.hard_locked(failures) {
            0
        } else {
            self.lock_at.saturating_sub(failures).max(1)
        }
    }

    /// Whether `failures` consecutive failures hard-lock TOTP.
    #[must_use]
    pub fn hard_locked(&self, failures: u32) -> bool {
        failures >= self.hard_lock_at
    }
}

/// How the service behaves; the defaults follow the Lumen Master Account.
///
/// The fields are private and every setter keeps its limits; the risky
/// settings are named as such.
///
/// ```compile_fail
/// let mut config = mfa_flow::MfaConfig::new("Lumen");
/// config.max_retries = 0;
/// ```
#[derive(Clone, Debug)]
pub struct MfaConfig {
    pub(crate) issuer: String,
    pub(crate) enrollment_ttl: u64,
    pub(crate) totp: TotpConfig,
    pub(crate) throttle: ThrottleConfig,
    pub(crate) recovery_codes: usize,
    pub(crate) max_retries: u32,
}

impl MfaConfig {
    /// The defaults, with this issuer name: enrollments confirmable for 180
    /// s; SHA-1, 6 digits, 30 s, one step of drift each way (what
    /// authenticator apps expect); [`ThrottleConfig::default`]; 10 recovery
    /// codes; 64 attempts at a contended write.
    #[must_use]
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            enrollment_ttl: 180,
            totp: TotpConfig::default(),
            throttle: ThrottleConfig::default(),
            recovery_codes: 10,
            max_retries: 64,
        }
    }

    /// How long an enrollment's QR code stays confirmable, in seconds (at
    /// least 1).
    #[must_use]
    pub fn with_enrollment_ttl(mut self, seconds: u64) -> Self {
        self.enrollment_ttl = seconds.max(1);
        self
    }

    /// The TOTP parameters for new enrollments and the window for all.
    ///
    /// # Errors
    ///
    /// [`ConfigError::WideWindow`] for a window wider than one step each
    /// way (see [`dangerous_with_wide_window`](Self::dangerous_with_wide_window)).
    pub fn with_totp(mut self, totp: TotpConfig) -> Result<Self, ConfigError> {
        if totp.look_behind() > 1 || totp.look_ahead() > 1 {
            return Err(ConfigError::WideWindow);
        }
        self.totp = totp;
        Ok(self)
    }

    /// **Dangerous:** TOTP parameters with a window wider than one step
    /// each way. Each extra step accepts one more code per attempt.
    #[must_use]
    pub fn dangerous_with_wide_window(mut self, totp: TotpConfig) -> Self {
        self.totp = totp;
        self
    }

    /// The failure budget.
    #[must_use]
    pub fn with_throttle(mut self, throttle: ThrottleConfig) -> Self {
        self.throttle = throttle;
        self
    }

    /// How many recovery codes are issued: 1 to 100 (default 10). Outside,
    /// the nearest bound: the record that keeps them stays far below the
    /// 64 KiB a store may hold.
    #[must_use]
    pub fn with_recovery_codes(mut self, count: usize) -> Self {
        self.recovery_codes = count.clamp(1, MAX_RECOVERY_CODES);
        self
    }

    /// How many times a conflicting write is tried (at least 1).
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries.max(1);
        self
    }

    /// The issuer shown in authenticator apps.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How long an enrollment's QR code stays confirmable, in seconds.
    #[must_use]
    pub fn enrollment_ttl(&self) -> u64 {
        self.enrollment_ttl
    }

    /// The TOTP parameters and window.
    #[must_use]
    pub fn totp(&self) -> &TotpConfig {
        &self.totp
    }

    /// The failure budget.
    #[must_use]
    pub fn throttle(&self) -> &ThrottleConfig {
        &self.throttle
    }

    /// How many recovery codes are issued.
    #[must_use]
    pub fn recovery_codes(&self) -> usize {
        self.recovery_codes
    }

    /// How many times a conflicting write is tried.
    #[must_use]
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_schedule() {
        let t = ThrottleConfig::default();
        let locks: Vec<Option<u64>> = (0..=11).map(|f| t.lock_after(f)).collect();
        assert_eq!(
            locks,
            [
                None,
                None,
                None,
                None,
                None,
                Some(30),
                Some(60),
                Some(120),
                Some(240),
                Some(480),
                Some(900),
                Some(900)
            ]
        );
        assert_eq!(t.lock_after(99), Some(900));
        let left: Vec<u32> = [0, 1, 4, 5, 6, 99, 100]
            .iter()
            .map(|f| t.attempts_before_lock(*f))
            .collect();
        assert_eq!(left, [5, 4, 1, 1, 1, 1, 0]);
        assert_eq!(t.lock_after(u32::MAX), Some(900));
        assert!(!t.hard_locked(99));
        assert!(t.hard_locked(100));
    }

    #[test]
    fn limits_hold_and_beyond_them_is_named_dangerous() {
        let t = ThrottleConfig::default()
            .with_lock_at(0)
            .with_longest_lock(10)
            .with_first_lock(60);
        assert_eq!((t.lock_at(), t.first_lock(), t.longest_lock()), (1, 60, 60));
        assert_eq!(t.lock_after(5), Some(60));
        // The other order holds the same limit; a first lock of 0 (which
        // would turn timed locks off) is 1.
        let other = ThrottleConfig::default()
            .with_lock_at(0)
            .with_first_lock(60)
            .with_longest_lock(10);
        assert_eq!(other, t);
        assert_eq!(ThrottleConfig::default().with_first_lock(0).first_lock(), 1);
        for bad in [0, 101, 1_000_000] {
            assert_eq!(
                ThrottleConfig::default().with_hard_lock_at(bad),
                Err(ConfigError::HardLockBeyondNist)
            );
        }
        assert_eq!(
            ThrottleConfig::default()
                .with_hard_lock_at(100)
                .map(|t| t.hard_lock_at()),
            Ok(100)
        );
        let beyond = ThrottleConfig::default().dangerous_with_hard_lock_at(1_000_000);
        assert_eq!(beyond.hard_lock_at(), 1_000_000);

        let c = MfaConfig::new("X")
            .with_max_retries(0)
            .with_recovery_codes(0)
            .with_enrollment_ttl(0);
        assert_eq!(
            (c.max_retries(), c.recovery_codes(), c.enrollment_ttl()),
            (1, 1, 1)
        );
        assert_eq!(
            MfaConfig::new("X")
                .with_recovery_codes(usize::MAX)
                .recovery_codes(),
            100
        );
        let wide = TotpConfig::default().with_look_behind(2).unwrap();
        assert!(matches!(
            MfaConfig::new("X").with_totp(wide),
            Err(ConfigError::WideWindow)
        ));
        assert_eq!(
            MfaConfig::new("X")
                .dangerous_with_wide_window(wide)
                .totp()
                .look_behind(),
            2
        );
        let narrow = TotpConfig::default().with_look_ahead(0).unwrap();
        assert!(MfaConfig::new("X").with_totp(narrow).is_ok());
    }
}
