use totp_core::TotpConfig;

/// The failure budget shared by TOTP and recovery codes.
///
/// The `lock_at`-th consecutive failure locks the user for `first_lock`
/// seconds; each further failure doubles the lock, up to `max_lock`. At `hard_lock_at` consecutive failures TOTP codes are refused
/// until a recovery code or an administrator reset: NIST SP 800-63B §5.2.2
/// allows at most 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// The consecutive failure that brings the first lock (default 5).
    pub lock_at: u32,
    /// The first lock, in seconds (default 30).
    pub first_lock: u64,
    /// The longest lock, in seconds (default 900).
    pub max_lock: u64,
    /// Consecutive failures that hard-lock TOTP (default 100).
    pub hard_lock_at: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            lock_at: 5,
            first_lock: 30,
            max_lock: 15 * 60,
            hard_lock_at: 100,
        }
    }
}

impl ThrottleConfig {
    /// A schedule; `hard_lock_at` is capped at 100.
    #[must_use]
    pub fn new(lock_at: u32, first_lock: u64, max_lock: u64, hard_lock_at: u32) -> Self {
        Self {
            lock_at: lock_at.max(1),
            first_lock,
            max_lock: max_lock.max(first_lock),
            hard_lock_at: hard_lock_at.clamp(1, 100),
        }
    }

    /// How long the user is locked after reaching `failures` consecutive
    /// failures, if at all.
    #[must_use]
    pub fn lock_after(&self, failures: u32) -> Option<u64> {
        let beyond = failures.checked_sub(self.lock_at)?;
        let factor = 1u64.checked_shl(beyond).unwrap_or(u64::MAX);
        Some(self.first_lock.saturating_mul(factor).min(self.max_lock))
    }

    /// Whether `failures` consecutive failures hard-lock TOTP.
    #[must_use]
    pub fn hard_locked(&self, failures: u32) -> bool {
        failures >= self.hard_lock_at
    }
}

/// How the service behaves; the defaults follow the Lumen Master Account.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MfaConfig {
    /// The issuer shown in authenticator apps.
    pub issuer: String,
    /// How long an enrolment's QR code stays confirmable, in seconds (180).
    pub enrollment_ttl: u64,
    /// TOTP parameters and window for new enrolments (SHA-1, 6 digits, 30 s,
    /// ±1 step; T0 must stay 0, as apps assume).
    pub totp: TotpConfig,
    /// The failure budget.
    pub throttle: ThrottleConfig,
    /// Recovery codes issued at confirmation and regeneration (10).
    pub recovery_codes: usize,
    /// Attempts at a write that keeps meeting concurrent writes (64).
    pub max_retries: u32,
}

impl MfaConfig {
    /// The defaults, with this issuer name.
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

    /// Sets the enrolment TTL in seconds.
    #[must_use]
    pub fn with_enrollment_ttl(mut self, seconds: u64) -> Self {
        self.enrollment_ttl = seconds;
        self
    }

    /// Sets the TOTP parameters for new enrolments and the window for all.
    #[must_use]
    pub fn with_totp(mut self, totp: TotpConfig) -> Self {
        self.totp = totp;
        self
    }

    /// Sets the failure budget.
    #[must_use]
    pub fn with_throttle(mut self, throttle: ThrottleConfig) -> Self {
        self.throttle = throttle;
        self
    }

    /// Sets how many recovery codes are issued (at least 1).
    #[must_use]
    pub fn with_recovery_codes(mut self, count: usize) -> Self {
        self.recovery_codes = count.max(1);
        self
    }

    /// Sets how many times a conflicting write is retried (at least 1).
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries.max(1);
        self
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
        assert_eq!(t.lock_after(u32::MAX), Some(900));
        assert!(!t.hard_locked(99));
        assert!(t.hard_locked(100));
        assert_eq!(ThrottleConfig::new(0, 1, 0, 500).hard_lock_at, 100);
    }
}
