//! The state machine: pure functions from (record, input, time, a source of
//! randomness) to (the record to write, if any; the outcome; the audit
//! event name). No I/O: the service loads, calls one of these with the
//! operating system's generator, and saves with compare-and-swap. Given the
//! same random bytes, a transition gives the same step.

use totp_core::{Algorithm, KeyUri, Secret, Totp, TotpConfig, VerifyError};
use zeroize::Zeroizing;

use crate::config::MfaConfig;
use crate::entropy::{Entropy, RngError};
use crate::error::{FlowError, InternalError};
use crate::keys::{Keyring, OpenError, SealedSecret};
use crate::outcome::{
    CodeKind, Enrolled, EnrollmentTicket, InputError, Outcome, Policy, RecoveryUsed, Requirement,
    StateKind, Status, UsedCode, Verified,
};
use crate::record::{
    DecodeError, MfaRecord, MfaState, RecoverySet, Replacement, Throttle, TotpParams,
};
use crate::recovery::{self, RecoveryCodes};

/// The result of one transition.
#[derive(Debug)]
pub(crate) struct Step<T> {
    /// The record to store (its version is set by the service), or `None`
    /// when nothing changes.
    pub(crate) write: Option<MfaRecord>,
    /// What the caller gets.
    pub(crate) value: T,
    /// The audit event.
    pub(crate) event: &'static str,
}

impl<T> Step<T> {
    fn read_only(value: T, event: &'static str) -> Self {
        Self {
            write: None,
            value,
            event,
        }
    }

    fn write(record: MfaRecord, value: T, event: &'static str) -> Self {
        Self {
            write: Some(record),
            value,
            event,
        }
    }
}

/// Configuration and keys: everything a transition needs besides its inputs.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) config: MfaConfig,
    pub(crate) keys: Keyring,
}

/// What `kind` makes of the input: [`CodeKind::Any`] is told apart by
/// length once separators are removed (a TOTP code has at most 8 digits);
/// the answer is never `Any`.
fn classify(input: &str, kind: CodeKind) -> CodeKind {
    match kind {
        CodeKind::Totp | CodeKind::Recovery => kind,
        CodeKind::Any => {
            let symbols = input
                .bytes()
                .filter(|b| !matches!(b, b' ' | b'-' | b'\t' | b'\r' | b'\n'))
                .take(9)
                .count();
            if symbols <= 8 {
                CodeKind::Totp
            } else {
                CodeKind::Recovery
            }
        }
    }
}

/// Why a credential was not accepted.
#[derive(Debug)]
enum Refusal {
    Invalid,
    Replayed,
    Locked(Option<u64>),
    Malformed(InputError),
}

impl Refusal {
    fn outcome<T>(self) -> Outcome<T> {
        match self {
            Self::Invalid => Outcome::Invalid,
            Self::Replayed => Outcome::Replayed,
            Self::Locked(until) => Outcome::Locked { until },
            Self::Malformed(e) => Outcome::Malformed(e),
        }
    }
}

/// A refused credential, with the record to write (a failure counted) if any.
#[derive(Debug)]
struct Refused {
    write: Option<MfaRecord>,
    refusal: Refusal,
    event: &'static str,
}

impl Refused {
    fn step<T>(self) -> Step<Outcome<T>> {
        Step {
            write: self.write,
            value: self.refusal.outcome(),
            event: self.event,
        }
    }
}

impl Machine {
    fn totp(&self, params: &TotpParams, secret: &Secret) -> Result<Totp, FlowError> {
        let base = self.config.totp;
        let config = TotpConfig::default()
            .with_algorithm(params.algorithm)
            .with_digits(params.digits)
            .with_period(params.period)
            .and_then(|c| c.with_look_behind(base.look_behind()))
            .and_then(|c| c.with_look_ahead(base.look_ahead()))
            .map_err(|_| {
                InternalError::CorruptRecord(DecodeError::InvalidField("TOTP parameters"))
            })?;
        Ok(Totp::new(config, secret))
    }

    /// The timed lock in force, if any.
    fn locked(throttle: &Throttle, now: u64) -> Option<Refused> {
        throttle
            .locked_until
            .filter(|until| now < *until)
            .map(|until| Refused {
                write: None,
                refusal: Refusal::Locked(Some(until)),
                event: "locked",
            })
    }

    /// The timed or the hard lock on TOTP codes, if one is in force.
    fn totp_locked(&self, throttle: &Throttle, now: u64) -> Option<Refused> {
        Self::locked(throttle, now).or_else(|| {
            self.config
                .throttle
                .hard_locked(throttle.failures)
                .then_some(Refused {
                    write: None,
                    refusal: Refusal::Locked(None),
                    event: "hard_locked",
                })
        })
    }

    /// A refusal: malformed input changes nothing; anything else counts.
    fn refuse(&self, record: &MfaRecord, refusal: Refusal, now: u64) -> Refused {
        match refusal {
            Refusal::Malformed(_) => Refused {
                write: None,
                refusal,
                event: "malformed",
            },
            _ => Refused {
                write: Some(self.failed(record, now)),
                refusal,
                event: "failure",
            },
        }
    }

    /// One more failure, and the lock it brings.
    fn failed(&self, record: &MfaRecord, now: u64) -> MfaRecord {
        let mut next = record.clone();
        let failures = record.throttle.failures.saturating_add(1);
        next.throttle = Throttle {
            failures,
            locked_until: self
                .config
                .throttle
                .lock_after(failures)
                .map(|d| now.saturating_add(d)),
        };
        next
    }

    /// Checks a TOTP code against a sealed secret, after `last_step`.
    fn check_code(
        &self,
        user: &str,
        secret: &SealedSecret,
        params: &TotpParams,
        last_step: Option<u64>,
        code: &str,
        now: u64,
    ) -> Result<Result<u64, Refusal>, FlowError> {
        let totp = self.totp(params, &self.keys.open(user, secret)?)?;
        Ok(match totp.verify_after(code, now, last_step) {
            Ok(m) => Ok(m.step),
            Err(VerifyError::Malformed(e)) => Err(Refusal::Malformed(InputError::Code(e))),
            Err(VerifyError::Replayed) => Err(Refusal::Replayed),
            // Invalid, or a clock before T0 (which is 0): no match either way.
            Err(_) => Err(Refusal::Invalid),
        })
    }

    /// Checks a code for an active user, with the lock and the failure
    /// count; returns the record after a failure, or the code used.
    fn check_used_code(
        &self,
        user: &str,
        record: &MfaRecord,
        input: &str,
        kind: CodeKind,
        now: u64,
    ) -> Result<Result<(UsedCode, MfaRecord), Refused>, FlowError> {
        let MfaState::Active {
            secret,
            totp,
            last_step,
            ..
        } = &record.state
        else {
            return Err(FlowError::NotEnrolled);
        };
        let refusal = match classify(input, kind) {
            CodeKind::Totp => {
                // Locks stop TOTP guesses only: a recovery code (117 bits)
                // cannot be guessed, so its owner may use it during a lock
                // raised by someone else's wrong codes.
                if let Some(locked) = self.totp_locked(&record.throttle, now) {
                    return Ok(Err(locked));
                }
                match self.check_code(user, secret, totp, Some(*last_step), input, now)? {
                    Ok(step) => {
                        let mut next = record.clone();
                        if let MfaState::Active { last_step, .. } = &mut next.state {
                            *last_step = step;
                        }
                        next.throttle = Throttle::default();
                        return Ok(Ok((UsedCode::Totp(Verified { step }), next)));
                    }
                    Err(refused) => refused,
                }
            }
            CodeKind::Recovery | CodeKind::Any => match recovery::normalize(input) {
                Err(e) => Refusal::Malformed(InputError::Recovery(e)),
                Ok(symbols) => {
                    // The keyring must be the one the record was written
                    // under, or a valid code would look wrong and count:
                    // the sealed secret proves it (an unknown key, or
                    // another key under the same id, is an operator error).
                    self.keys.open(user, secret)?;
                    let found = match record.recovery.as_ref() {
                        Some(set) => {
                            let key = self
                                .keys
                                .recovery_key(set.key_id)
                                .ok_or(OpenError::UnknownKey(set.key_id))?;
                            recovery::position(&set.hashes, &recovery::hash(key, &symbols))
                        }
                        None => None,
                    };
                    match (found, record.recovery.as_ref()) {
                        (Some(i), Some(set)) => {
                            let mut next = record.clone();
                            let mut hashes = set.hashes.clone();
                            hashes.swap_remove(i);
                            let remaining = hashes.len();
                            next.recovery = Some(RecoverySet {
                                key_id: set.key_id,
                                hashes,
                            });
                            // A recovery code lifts every lock, hard or timed.
                            next.throttle = Throttle::default();
                            return Ok(Ok((UsedCode::Recovery(RecoveryUsed { remaining }), next)));
                        }
                        // During a lock, timed or hard, a wrong recovery
                        // code is refused but not counted: counting it
                        // would let whoever has the password drive TOTP to
                        // its hard lock in seconds (or past it), and 117
                        // bits need no budget.
                        _ if self.totp_locked(&record.throttle, now).is_some() => {
                            return Ok(Err(Refused {
                                write: None,
                                refusal: Refusal::Invalid,
                                event: "invalid_recovery_code_during_lock",
                            }));
                        }
                        _ => Refusal::Invalid,
                    }
                }
            },
        };
        Ok(Err(self.refuse(record, refusal, now)))
    }

    pub(crate) fn requirement(record: &MfaRecord, policy: Policy) -> Requirement {
        match (&record.state, policy) {
            (MfaState::Active { .. }, _) => Requirement::Code,
            (MfaState::Requested | MfaState::Pending { .. }, _) => Requirement::Enroll,
            (MfaState::Disabled, Policy::Required) => Requirement::Enroll,
            (MfaState::Disabled, Policy::Optional) => Requirement::Proceed,
        }
    }

    pub(crate) fn opt_in(record: &MfaRecord) -> Step<()> {
        match record.state {
            MfaState::Disabled => {
                let mut next = record.clone();
                next.state = MfaState::Requested;
                Step::write(next, (), "opted_in")
            }
            _ => Step::read_only((), "opted_in_already"),
        }
    }

    pub(crate) fn begin_enrollment(
        &self,
        user: &str,
        account: &str,
        record: &MfaRecord,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> Result<Step<EnrollmentTicket>, FlowError> {
        if matches!(record.state, MfaState::Active { .. }) {
            return Err(FlowError::AlreadyEnrolled);
        }
        let (new, ticket) = self.new_secret(user, account, now, rng)?;
        let mut next = record.clone();
        next.state = MfaState::Pending {
            secret: new.secret,
            totp: new.totp,
            expires_at: new.expires_at,
        };
        Ok(Step::write(next, ticket, "enrollment_started"))
    }

    /// A new secret with the service's TOTP parameters, sealed, valid for
    /// the enrollment TTL, and the ticket that shows it.
    fn new_secret(
        &self,
        user: &str,
        account: &str,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> Result<(Replacement, EnrollmentTicket), FlowError> {
        let base = self.config.totp;
        let secret = new_secret(base.algorithm(), rng).map_err(InternalError::Rng)?;
        let totp = TotpParams {
            algorithm: base.algorithm(),
            digits: base.digits(),
            period: base.period(),
        };
        let expires_at = now.saturating_add(self.config.enrollment_ttl);
        let ticket = self.ticket(secret.clone(), &totp, account, expires_at)?;
        let sealed = Replacement {
            secret: self.keys.seal(user, &secret, rng)?,
            totp,
            expires_at,
        };
        Ok((sealed, ticket))
    }

    /// Starts setting up a new authenticator app for an active user (a
    /// new phone, a lost one): a new pending secret beside the active one,
    /// which keeps working until a code from the new app confirms it. A
    /// replacement already pending is replaced.
    pub(crate) fn begin_replacement(
        &self,
        user: &str,
        account: &str,
        record: &MfaRecord,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> Result<Step<EnrollmentTicket>, FlowError> {
        if !matches!(record.state, MfaState::Active { .. }) {
            return Err(FlowError::NotEnrolled);
        }
        let (new, ticket) = self.new_secret(user, account, now, rng)?;
        let mut next = record.clone();
        if let MfaState::Active { replacement, .. } = &mut next.state {
            *replacement = Some(new);
        }
        Ok(Step::write(next, ticket, "replacement_started"))
    }

    /// The pending replacement shown again (the same secret and expiry), or
    /// `None` when none is pending or it expired. Writes nothing.
    pub(crate) fn resume_replacement(
        &self,
        user: &str,
        account: &str,
        record: &MfaRecord,
        now: u64,
    ) -> Result<Option<EnrollmentTicket>, FlowError> {
        match &record.state {
            MfaState::Active {
                replacement: Some(new),
                ..
            } if now < new.expires_at => {
                let secret = self.keys.open(user, &new.secret)?;
                self.ticket(secret, &new.totp, account, new.expires_at)
                    .map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Confirms the pending replacement with a code from the new app: the
    /// new secret becomes the active one (the confirming step used up) and
    /// the old one is gone; the recovery codes stay. A wrong code counts
    /// like any failure, and the TOTP lock applies. After the TTL the
    /// answer is [`Outcome::Expired`] and the pending secret is dropped.
    pub(crate) fn confirm_replacement(
        &self,
        user: &str,
        record: &MfaRecord,
        code: &str,
        now: u64,
    ) -> Result<Step<Outcome<Verified>>, FlowError> {
        let MfaState::Active {
            replacement: Some(new),
            ..
        } = &record.state
        else {
            return Err(FlowError::NoPendingReplacement);
        };
        if now >= new.expires_at {
            // The write drops it (`drop_expired_replacement`).
            return Ok(Step::write(
                record.clone(),
                Outcome::Expired,
                "replacement_expired",
            ));
        }
        if let Some(locked) = self.totp_locked(&record.throttle, now) {
            return Ok(locked.step());
        }
        match self.check_code(user, &new.secret, &new.totp, None, code, now)? {
            Ok(step) => {
                let mut next = record.clone();
                next.state = MfaState::Active {
                    secret: new.secret.clone(),
                    totp: new.totp,
                    confirmed_at: now,
                    last_step: step,
                    replacement: None,
                };
                next.throttle = Throttle::default();
                Ok(Step::write(
                    next,
                    Outcome::Accepted(Verified { step }),
                    "replacement_confirmed",
                ))
            }
            Err(refusal) => Ok(self.refuse(record, refusal, now).step()),
        }
    }

    /// The QR code and secret of an enrollment.
    fn ticket(
        &self,
        secret: Secret,
        totp: &TotpParams,
        account: &str,
        expires_at: u64,
    ) -> Result<EnrollmentTicket, FlowError> {
        let config = TotpConfig::default()
            .with_algorithm(totp.algorithm)
            .with_digits(totp.digits)
            .with_period(totp.period)
            .map_err(|_| {
                InternalError::CorruptRecord(DecodeError::InvalidField("TOTP parameters"))
            })?;
        let uri = KeyUri::totp(&secret, Some(&self.config.issuer), account, &config)
            .map_err(FlowError::InvalidAccountName)?;
        Ok(EnrollmentTicket {
            secret: uri.secret().expose_base32(),
            uri: uri.expose_uri(),
            expires_at,
        })
    }

    /// The pending enrollment shown again (the same secret, the same expiry),
    /// or `None` when there is none or it expired. Writes nothing.
    pub(crate) fn resume_enrollment(
        &self,
        user: &str,
        account: &str,
        record: &MfaRecord,
        now: u64,
    ) -> Result<Option<EnrollmentTicket>, FlowError> {
        match &record.state {
            MfaState::Pending {
                secret,
                totp,
                expires_at,
            } if now < *expires_at => {
                let secret = self.keys.open(user, secret)?;
                self.ticket(secret, totp, account, *expires_at).map(Some)
            }
            _ => Ok(None),
        }
    }

    pub(crate) fn confirm_enrollment(
        &self,
        user: &str,
        record: &MfaRecord,
        code: &str,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> Result<Step<Outcome<Enrolled>>, FlowError> {
        let MfaState::Pending {
            secret,
            totp,
            expires_at,
        } = &record.state
        else {
            return Err(FlowError::NoPendingEnrollment);
        };
        if now >= *expires_at {
            let mut next = record.clone();
            next.state = MfaState::Requested;
            return Ok(Step::write(next, Outcome::Expired, "enrollment_expired"));
        }
        if let Some(locked) = Self::locked(&record.throttle, now) {
            return Ok(locked.step());
        }
        match self.check_code(user, secret, totp, None, code, now)? {
            Ok(step) => {
                let (codes, set) = self.issue_recovery(rng)?;
                let next = MfaRecord {
                    state: MfaState::Active {
                        secret: secret.clone(),
                        totp: *totp,
                        confirmed_at: now,
                        last_step: step,
                        replacement: None,
                    },
                    throttle: Throttle::default(),
                    recovery: Some(set),
                    version: record.version,
                };
                Ok(Step::write(
                    next,
                    Outcome::Accepted(Enrolled {
                        recovery_codes: codes,
                        step,
                    }),
                    "enrollment_confirmed",
                ))
            }
            Err(refusal) => Ok(self.refuse(record, refusal, now).step()),
        }
    }

    fn issue_recovery(
        &self,
        rng: &mut dyn Entropy,
    ) -> Result<(RecoveryCodes, RecoverySet), FlowError> {
        let (key_id, key) = self.keys.current_recovery_key();
        let (codes, hashes) =
            recovery::issue(self.config.recovery_codes, key, rng).map_err(InternalError::Rng)?;
        Ok((codes, RecoverySet { key_id, hashes }))
    }

    /// A login with a TOTP code or a recovery code, as `kind` allows.
    pub(crate) fn login(
        &self,
        user: &str,
        record: &MfaRecord,
        input: &str,
        kind: CodeKind,
        now: u64,
    ) -> Result<Step<Outcome<UsedCode>>, FlowError> {
        Ok(
            match self.check_used_code(user, record, input, kind, now)? {
                Ok((used, next)) => {
                    let event = match used {
                        UsedCode::Totp(_) => "login_code",
                        UsedCode::Recovery(_) => "login_recovery_code",
                    };
                    Step::write(next, Outcome::Accepted(used), event)
                }
                Err(refused) => refused.step(),
            },
        )
    }

    pub(crate) fn regenerate_recovery(
        &self,
        user: &str,
        record: &MfaRecord,
        code: &str,
        now: u64,
        rng: &mut dyn Entropy,
    ) -> Result<Step<Outcome<RecoveryCodes>>, FlowError> {
        // A current TOTP code, or an unused recovery code (a user without
        // the phone), which is retired with the rest.
        Ok(
            match self.check_used_code(user, record, code, CodeKind::Any, now)? {
                Ok((_, mut next)) => {
                    let (codes, set) = self.issue_recovery(rng)?;
                    next.recovery = Some(set);
                    Step::write(next, Outcome::Accepted(codes), "recovery_codes_regenerated")
                }
                Err(refused) => refused.step(),
            },
        )
    }

    pub(crate) fn disable(
        &self,
        user: &str,
        record: &MfaRecord,
        policy: Policy,
        input: &str,
        now: u64,
    ) -> Result<Step<Outcome<()>>, FlowError> {
        if policy == Policy::Required {
            return Err(FlowError::PolicyForbids);
        }
        let disabled = MfaRecord {
            state: MfaState::Disabled,
            throttle: Throttle::default(),
            recovery: None,
            version: record.version,
        };
        match record.state {
            MfaState::Disabled => Ok(Step::read_only(Outcome::Accepted(()), "disabled_already")),
            // Nothing confirmed yet: nothing to prove.
            MfaState::Requested | MfaState::Pending { .. } => {
                Ok(Step::write(disabled, Outcome::Accepted(()), "disabled"))
            }
            MfaState::Active { .. } => Ok(
                match self.check_used_code(user, record, input, CodeKind::Any, now)? {
                    Ok(_) => Step::write(disabled, Outcome::Accepted(()), "disabled"),
                    Err(refused) => refused.step(),
                },
            ),
        }
    }

    /// Drops a replacement whose time is up, before any write: an expired
    /// one is never stored again.
    pub(crate) fn drop_expired_replacement(record: &mut MfaRecord, now: u64) {
        if let MfaState::Active { replacement, .. } = &mut record.state
            && replacement.as_ref().is_some_and(|r| now >= r.expires_at)
        {
            *replacement = None;
        }
    }

    /// Drops the pending replacement (the user keeps the current app).
    pub(crate) fn cancel_replacement(record: &MfaRecord) -> Step<()> {
        match &record.state {
            MfaState::Active {
                replacement: Some(_),
                ..
            } => {
                let mut next = record.clone();
                if let MfaState::Active { replacement, .. } = &mut next.state {
                    *replacement = None;
                }
                Step::write(next, (), "replacement_cancelled")
            }
            _ => Step::read_only((), "no_replacement"),
        }
    }

    /// Puts off an optional opt-in that is not confirmed yet: back to
    /// disabled, the pending secret (if any) gone.
    pub(crate) fn cancel_enrollment(
        record: &MfaRecord,
        policy: Policy,
    ) -> Result<Step<()>, FlowError> {
        if policy == Policy::Required {
            return Err(FlowError::PolicyForbids);
        }
        match record.state {
            MfaState::Active { .. } => Err(FlowError::AlreadyEnrolled),
            MfaState::Disabled => Ok(Step::read_only((), "cancelled_already")),
            MfaState::Requested | MfaState::Pending { .. } => Ok(Step::write(
                MfaRecord {
                    state: MfaState::Disabled,
                    throttle: Throttle::default(),
                    recovery: None,
                    version: record.version,
                },
                (),
                "enrollment_cancelled",
            )),
        }
    }

    pub(crate) fn admin_reset(record: &MfaRecord) -> Step<()> {
        Step::write(
            MfaRecord {
                state: MfaState::Disabled,
                throttle: Throttle::default(),
                recovery: None,
                version: record.version,
            },
            (),
            "admin_reset",
        )
    }

    pub(crate) fn status(&self, record: &MfaRecord, now: u64) -> Status {
        let (state, confirmed_at, pending_expires_at) = match &record.state {
            MfaState::Disabled => (StateKind::Disabled, None, None),
            MfaState::Requested => (StateKind::Requested, None, None),
            MfaState::Pending { expires_at, .. } => (StateKind::Pending, None, Some(*expires_at)),
            MfaState::Active { confirmed_at, .. } => (StateKind::Active, Some(*confirmed_at), None),
        };
        let replacement_expires_at = match &record.state {
            MfaState::Active {
                replacement: Some(new),
                ..
            } => Some(new.expires_at).filter(|at| now < *at),
            _ => None,
        };
        Status {
            state,
            confirmed_at,
            pending_expires_at,
            replacement_expires_at,
            recovery_codes_left: record.recovery.as_ref().map_or(0, |r| r.hashes.len()),
            failures: record.throttle.failures,
            attempts_before_lock: self
                .config
                .throttle
                .attempts_before_lock(record.throttle.failures),
            locked_until: record.throttle.locked_until.filter(|u| now < *u),
            hard_locked: self.config.throttle.hard_locked(record.throttle.failures),
        }
    }

    /// Re-seals a secret sealed under an older key before the record is
    /// written, so key rotation completes as users log in.
    pub(crate) fn reseal(
        &self,
        user: &str,
        record: &mut MfaRecord,
        rng: &mut dyn Entropy,
    ) -> Result<(), FlowError> {
        let current = self.keys.current_id();
        let sealed: Vec<&mut SealedSecret> = match &mut record.state {
            MfaState::Pending { secret, .. } => vec![secret],
            MfaState::Active {
                secret,
                replacement,
                ..
            } => std::iter::once(secret)
                .chain(replacement.as_mut().map(|r| &mut r.secret))
                .collect(),
            MfaState::Disabled | MfaState::Requested => return Ok(()),
        };
        for sealed in sealed {
            if sealed.key_id != current {
                *sealed = self.keys.seal(user, &self.keys.open(user, sealed)?, rng)?;
            }
        }
        Ok(())
    }
}

/// A new TOTP secret of the length RFC 6238 recommends for `algorithm`.
#[expect(
    clippy::expect_used,
    reason = "the recommended lengths (20, 32 and 64 bytes) fit the buffer and are within Secret's 10 to 128 bytes"
)]
fn new_secret(algorithm: Algorithm, rng: &mut dyn Entropy) -> Result<Secret, RngError> {
    let mut bytes = Zeroizing::new([0u8; 64]);
    let bytes = bytes
        .get_mut(..algorithm.recommended_secret_len())
        .expect("a recommended length fits 64 bytes");
    rng.fill(bytes)?;
    Ok(Secret::from_bytes(bytes).expect("a recommended length is a valid secret"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::AppKey;
    use crate::entropy::tests::{Counter, FailsAfter};

    const NOW: u64 = 1_700_000_000;

    fn machine() -> Machine {
        Machine {
            config: MfaConfig::new("Test"),
            keys: Keyring::new(AppKey::from_bytes(1, &[9; 32]).unwrap()),
        }
    }

    fn begin(rng: &mut dyn Entropy) -> Result<Step<EnrollmentTicket>, FlowError> {
        machine().begin_enrollment("ada", "ada@example.com", &MfaRecord::default(), NOW, rng)
    }

    #[test]
    fn a_transition_takes_its_randomness_from_the_caller() {
        // The secret is the first 20 bytes drawn (SHA-1's length), the nonce
        // that seals it the next 12.
        let step = begin(&mut Counter(0)).unwrap();
        let expected: Vec<u8> = (0..20).collect();
        assert_eq!(
            step.value.expose_secret(),
            *Secret::from_bytes(&expected).unwrap().expose_base32()
        );
        let Some(MfaRecord {
            state: MfaState::Pending { secret, .. },
            ..
        }) = &step.write
        else {
            panic!("not pending: {:?}", step.write);
        };
        assert_eq!(secret.nonce.to_vec(), (20..32).collect::<Vec<u8>>());
        // The same bytes give the same step; other bytes another secret.
        let again = begin(&mut Counter(0)).unwrap();
        assert_eq!(again.write, step.write);
        assert_eq!(again.value.expose_secret(), step.value.expose_secret());
        let other = begin(&mut Counter(1)).unwrap();
        assert_ne!(other.value.expose_secret(), step.value.expose_secret());
    }

    #[test]
    fn a_failing_generator_is_an_internal_error_and_writes_nothing() {
        // Failing at the secret, then at the nonce.
        for budget in [0, 20] {
            assert!(matches!(
                begin(&mut FailsAfter(budget)),
                Err(FlowError::Internal(InternalError::Rng(_)))
            ));
        }
        // Failing at the recovery codes, after a right confirming code.
        let m = machine();
        let pending = begin(&mut Counter(0)).unwrap();
        let record = pending.write.unwrap();
        let secret = Secret::from_base32(pending.value.expose_secret()).unwrap();
        let code = Totp::new(TotpConfig::default(), &secret)
            .generate(NOW)
            .unwrap();
        assert!(matches!(
            m.confirm_enrollment("ada", &record, code.as_str(), NOW, &mut FailsAfter(0)),
            Err(FlowError::Internal(InternalError::Rng(_)))
        ));
        // With randomness, the same code confirms.
        let confirmed = m
            .confirm_enrollment("ada", &record, code.as_str(), NOW, &mut Counter(0))
            .unwrap();
        assert!(matches!(confirmed.value, Outcome::Accepted(_)));
    }
}
