use crate::clock::Clock;
use crate::config::MfaConfig;
use crate::entropy::{Entropy, OsEntropy};
use crate::error::{FlowError, InternalError, MfaError};
use crate::keys::Keyring;
use crate::machine::{Machine, Step};
use crate::outcome::{
    CodeKind, Enrolled, EnrollmentTicket, Outcome, Policy, Requirement, Status, UsedCode, Verified,
};
use crate::record::MfaRecord;
use crate::recovery::RecoveryCodes;
use crate::store::{Saved, Store, StoredRecord};

/// The audit target: every transition emits one `tracing` event here, with
/// the user, the operation and the outcome, never a code or a secret.
pub const AUDIT_TARGET: &str = "mfa_flow::audit";

/// What a transition gives: the step, or why it does not apply.
type Transition<T> = Result<Step<T>, FlowError>;

/// What a load does with a record that cannot be read.
#[derive(Clone, Copy)]
enum Corrupt {
    /// An internal error (every operation but an administrator's reset).
    Refuse,
    /// An empty record at the stored version, to be overwritten.
    Replace,
}

/// Names an operation's result for the audit log.
trait Audited {
    fn audit_name(&self) -> &'static str;
}

impl<T> Audited for Outcome<T> {
    fn audit_name(&self) -> &'static str {
        self.name()
    }
}

impl Audited for () {
    fn audit_name(&self) -> &'static str {
        "ok"
    }
}

impl Audited for EnrollmentTicket {
    fn audit_name(&self) -> &'static str {
        "ok"
    }
}

/// The MFA flow over a store: loads a user's record, applies one transition,
/// and writes it back with compare-and-swap, re-reading and retrying when
/// another request (in this process or another) wrote first.
///
/// That one rule is what makes replay protection and throttling hold across
/// app instances: two requests racing with the same code cannot both
/// advance `last_step` from the same value, and two failures cannot be
/// counted as one.
#[derive(Debug)]
pub struct MfaService<S, C> {
    store: S,
    clock: C,
    machine: Machine,
}

impl<S: Store, C: Clock> MfaService<S, C> {
    /// A service over `store`, reading time from `clock`, sealing with
    /// `keys`.
    #[must_use]
    pub fn new(store: S, clock: C, keys: Keyring, config: MfaConfig) -> Self {
        Self {
            store,
            clock,
            machine: Machine { config, keys },
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &MfaConfig {
        &self.machine.config
    }

    /// The service clock's current time (Unix seconds).
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The user's record. A record that cannot be read is an internal
    /// error, or, for an administrator's reset (`Corrupt::Replace`), an
    /// empty record at its stored version, so the reset overwrites it.
    async fn load(
        &self,
        user: &str,
        operation: &'static str,
        corrupt: Corrupt,
    ) -> Result<MfaRecord, MfaError<S::Error>> {
        let Some(stored) = self.store.load(user).await.map_err(MfaError::Store)? else {
            return Ok(MfaRecord::default());
        };
        match (MfaRecord::decode(&stored), corrupt) {
            (Ok(record), _) => Ok(record),
            (Err(e), Corrupt::Replace) => {
                audit(user, operation, "corrupt", e.to_string().as_str(), None);
                Ok(MfaRecord {
                    version: stored.version(),
                    ..MfaRecord::default()
                })
            }
            (Err(e), Corrupt::Refuse) => {
                // Possibly tampering: on the audit trail like every refusal.
                let e = InternalError::CorruptRecord(e);
                audit(user, operation, "error", e.to_string().as_str(), None);
                Err(FlowError::Internal(e).into())
            }
        }
    }

    /// Load, transition, compare-and-swap; retried on conflict.
    async fn run<T: Audited>(
        &self,
        user: &str,
        operation: &'static str,
        transition: impl Fn(&Machine, &MfaRecord, u64, &mut dyn Entropy) -> Transition<T>,
    ) -> Result<T, MfaError<S::Error>> {
        self.run_over(user, operation, Corrupt::Refuse, transition)
            .await
    }

    /// [`Self::run`], with what to do about a record that cannot be read.
    async fn run_over<T: Audited>(
        &self,
        user: &str,
        operation: &'static str,
        corrupt: Corrupt,
        transition: impl Fn(&Machine, &MfaRecord, u64, &mut dyn Entropy) -> Transition<T>,
    ) -> Result<T, MfaError<S::Error>> {
        let rng = &mut OsEntropy;
        for _ in 0..self.machine.config.max_retries {
            let record = self.load(user, operation, corrupt).await?;
            let now = self.clock.now();
            let step = match transition(&self.machine, &record, now, rng) {
                Ok(step) => step,
                Err(e) => {
                    audit(user, operation, "error", e.to_string().as_str(), None);
                    return Err(e.into());
                }
            };
            let Some(mut next) = step.write else {
                audit(user, operation, step.value.audit_name(), step.event, None);
                return Ok(step.value);
            };
            next.version = record.version.saturating_add(1);
            Machine::drop_expired_replacement(&mut next, now);
            self.machine.reseal(user, &mut next, rng)?;
            let next = StoredRecord::from_record(next);
            match self
                .store
                .save(user, &next)
                .await
                .map_err(MfaError::Store)?
            {
                Saved::Stored => {
                    audit(
                        user,
                        operation,
                        step.value.audit_name(),
                        step.event,
                        next.value(),
                    );
                    return Ok(step.value);
                }
                Saved::Conflict => continue,
            }
        }
        audit(user, operation, "contention", "retries exhausted", None);
        Err(MfaError::Contention)
    }

    /// What this login needs after the password, under the user's policy.
    ///
    /// # Errors
    ///
    /// [`MfaError::Store`]; [`FlowError::Internal`] for a stored record that cannot be read.
    pub async fn requirement(
        &self,
        user: &str,
        policy: Policy,
    ) -> Result<Requirement, MfaError<S::Error>> {
        Ok(Machine::requirement(
            &self.load(user, "requirement", Corrupt::Refuse).await?,
            policy,
        ))
    }

    /// Records that the user opted in (the registration form's "One Time
    /// Password using OTP App"); their next login goes to enrollment.
    ///
    /// # Errors
    ///
    /// [`MfaError::Store`] or [`MfaError::Contention`]; [`FlowError::Internal`]
    /// for a stored record that cannot be read.
    pub async fn opt_in(&self, user: &str) -> Result<(), MfaError<S::Error>> {
        self.run(user, "opt_in", |_, record, _, _| {
            Ok(Machine::opt_in(record))
        })
        .await
    }

    /// Starts (or restarts) enrollment: a new secret, sealed and stored as
    /// pending for the configured TTL, and the ticket to show. `account` is
    /// the name the app shows under the issuer (usually the email address).
    ///
    /// # Errors
    ///
    /// [`FlowError::AlreadyEnrolled`] for an active user;
    /// [`FlowError::InvalidAccountName`]; [`FlowError::Internal`] (the RNG);
    /// store errors.
    pub async fn begin_enrollment(
        &self,
        user: &str,
        account: &str,
    ) -> Result<EnrollmentTicket, MfaError<S::Error>> {
        self.run(user, "begin_enrollment", |m, record, now, rng| {
            m.begin_enrollment(user, account, record, now, rng)
        })
        .await
    }

    /// The user's pending enrollment shown again — the same QR code and
    /// secret, with the same expiry — so a page can be reloaded or show a
    /// wrong code without replacing what the user already scanned. `None`
    /// when no enrollment is pending or it expired (start a new one with
    /// [`begin_enrollment`](Self::begin_enrollment)). Writes nothing.
    ///
    /// # Errors
    ///
    /// [`MfaError::Store`] if the store fails; [`MfaError::Flow`] with
    /// [`FlowError::Internal`] if the sealed secret does not open or the
    /// stored record cannot be read, or
    /// [`FlowError::InvalidAccountName`].
    pub async fn resume_enrollment(
        &self,
        user: &str,
        account: &str,
    ) -> Result<Option<EnrollmentTicket>, MfaError<S::Error>> {
        let record = self.load(user, "resume", Corrupt::Refuse).await?;
        Ok(self
            .machine
            .resume_enrollment(user, account, &record, self.clock.now())?)
    }

    /// Starts setting up a new authenticator app for an active user (a new
    /// phone, or a lost one after a recovery-code sign-in): a new secret,
    /// pending for the enrollment TTL beside the active one, which keeps
    /// working until [`confirm_replacement`](Self::confirm_replacement).
    /// A replacement already pending is replaced. Who may start one is the
    /// caller's decision (mfa-axum asks for a recent MFA verification).
    ///
    /// # Errors
    ///
    /// [`FlowError::NotEnrolled`] unless the user is active;
    /// [`FlowError::InvalidAccountName`]; [`FlowError::Internal`] (the RNG);
    /// store errors.
    pub async fn begin_replacement(
        &self,
        user: &str,
        account: &str,
    ) -> Result<EnrollmentTicket, MfaError<S::Error>> {
        self.run(user, "begin_replacement", |m, record, now, rng| {
            m.begin_replacement(user, account, record, now, rng)
        })
        .await
    }

    /// The pending replacement shown again (the same QR code and expiry),
    /// or `None` when none is pending or it expired. Writes nothing.
    ///
    /// # Errors
    ///
    /// [`MfaError::Store`] if the store fails; [`MfaError::Flow`] with
    /// [`FlowError::Internal`] if the sealed secret does not open or the
    /// stored record cannot be read, or
    /// [`FlowError::InvalidAccountName`].
    pub async fn resume_replacement(
        &self,
        user: &str,
        account: &str,
    ) -> Result<Option<EnrollmentTicket>, MfaError<S::Error>> {
        let record = self.load(user, "resume", Corrupt::Refuse).await?;
        Ok(self
            .machine
            .resume_replacement(user, account, &record, self.clock.now())?)
    }

    /// Drops the pending replacement, if any: the user keeps the current
    /// app ("cancel" on the set-up page).
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn cancel_replacement(&self, user: &str) -> Result<(), MfaError<S::Error>> {
        self.run(user, "cancel_replacement", |_, record, _, _| {
            Ok(Machine::cancel_replacement(record))
        })
        .await
    }

    /// Confirms the pending replacement with a code from the new app: it
    /// becomes the user's authenticator (its confirming step used up), the
    /// old secret is gone, the recovery codes stay. A wrong code counts
    /// like a login failure; after the TTL the answer is
    /// [`Outcome::Expired`] and the pending secret is dropped.
    ///
    /// # Errors
    ///
    /// [`FlowError::NoPendingReplacement`] when no replacement is pending;
    /// [`FlowError::Internal`] (a secret that does not open, the RNG, a stored record that cannot be read); store errors.
    pub async fn confirm_replacement(
        &self,
        user: &str,
        code: &str,
    ) -> Result<Outcome<Verified>, MfaError<S::Error>> {
        self.run(user, "confirm_replacement", |m, record, now, _| {
            m.confirm_replacement(user, record, code, now)
        })
        .await
    }

    /// Confirms enrollment with the first code from the app. On success the
    /// user is active and gets their recovery codes, this once; the
    /// confirming code's step is used up. After the TTL the answer is
    /// [`Outcome::Expired`] and the pending secret is dropped.
    ///
    /// # Errors
    ///
    /// [`FlowError::NoPendingEnrollment`]; [`FlowError::Internal`] (a secret that does not open, the RNG, a stored record that cannot be read); store errors.
    pub async fn confirm_enrollment(
        &self,
        user: &str,
        code: &str,
    ) -> Result<Outcome<Enrolled>, MfaError<S::Error>> {
        self.run(user, "confirm_enrollment", |m, record, now, rng| {
            m.confirm_enrollment(user, record, code, now, rng)
        })
        .await
    }

    /// Checks a login code of the given kind: a TOTP code, a recovery code,
    /// or either ([`CodeKind::Any`], told apart by length). A TOTP code is
    /// accepted only for a time step after the last one used, and answers
    /// `Verified { step }`, `Invalid`, `Replayed` or `Locked`. A recovery
    /// code is consumed atomically (of several requests racing with the
    /// same code, one wins) and lifts every lock. Input of another kind than
    /// `kind` allows is `Malformed`.
    ///
    /// # Errors
    ///
    /// [`FlowError::NotEnrolled`]; [`FlowError::Internal`] (a secret that does not open, the RNG, a stored record that cannot be read); store errors.
    pub async fn login(
        &self,
        user: &str,
        code: &str,
        kind: CodeKind,
    ) -> Result<Outcome<UsedCode>, MfaError<S::Error>> {
        let operation = match kind {
            CodeKind::Totp => "verify_code",
            CodeKind::Recovery => "use_recovery_code",
            CodeKind::Any => "login",
        };
        self.run(user, operation, |m, record, now, _| {
            m.login(user, record, code, kind, now)
        })
        .await
    }

    /// Replaces the recovery codes; needs a current TOTP code (used up like
    /// a login) or an unused recovery code (retired with the others), so a
    /// user who signed in with a recovery code can get a fresh set.
    ///
    /// # Errors
    ///
    /// [`FlowError::NotEnrolled`]; [`FlowError::Internal`] (a secret that does not open, the RNG, a stored record that cannot be read); store errors.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &str,
        code: &str,
    ) -> Result<Outcome<RecoveryCodes>, MfaError<S::Error>> {
        self.run(user, "regenerate_recovery_codes", |m, record, now, rng| {
            m.regenerate_recovery(user, record, code, now, rng)
        })
        .await
    }

    /// Switches MFA off; allowed under [`Policy::Optional`] only. An active
    /// user must give a current code or a recovery code; a user who has not
    /// confirmed yet needs neither.
    ///
    /// # Errors
    ///
    /// [`FlowError::PolicyForbids`] under [`Policy::Required`]; store and key
    /// errors.
    pub async fn disable(
        &self,
        user: &str,
        policy: Policy,
        code_or_recovery_code: &str,
    ) -> Result<Outcome<()>, MfaError<S::Error>> {
        self.run(user, "disable", |m, record, now, _| {
            m.disable(user, record, policy, code_or_recovery_code, now)
        })
        .await
    }

    /// Puts off an opt-in that is not confirmed yet ("not now" on the
    /// enrollment page): back to MFA off, a pending secret dropped. Allowed
    /// under [`Policy::Optional`] only, and never turns off an active
    /// user's MFA (that is [`disable`](Self::disable), with a code).
    ///
    /// # Errors
    ///
    /// [`FlowError::PolicyForbids`] under [`Policy::Required`];
    /// [`FlowError::AlreadyEnrolled`] for an active user; store errors.
    pub async fn cancel_enrollment(
        &self,
        user: &str,
        policy: Policy,
    ) -> Result<(), MfaError<S::Error>> {
        self.run(user, "cancel_enrollment", |_, record, _, _| {
            Machine::cancel_enrollment(record, policy)
        })
        .await
    }

    /// An administrator's reset: MFA off, locks and recovery codes cleared.
    /// Under [`Policy::Required`] the user enrolls again at the next login.
    /// It also replaces a stored record that cannot be read (audited as
    /// `corrupt`), the one way out for its user.
    ///
    /// # Errors
    ///
    /// [`MfaError::Store`] or [`MfaError::Contention`].
    pub async fn admin_reset(&self, user: &str) -> Result<(), MfaError<S::Error>> {
        self.run_over(user, "admin_reset", Corrupt::Replace, |_, record, _, _| {
            Ok(Machine::admin_reset(record))
        })
        .await
    }

    /// The user's MFA status.
    ///
    /// # Errors
    ///
    /// [`MfaError::Store`]; [`FlowError::Internal`] for a stored record that cannot be read.
    pub async fn status(&self, user: &str) -> Result<Status, MfaError<S::Error>> {
        let record = self.load(user, "status", Corrupt::Refuse).await?;
        Ok(self.machine.status(&record, self.clock.now()))
    }
}

fn audit(
    user: &str,
    operation: &'static str,
    outcome: &str,
    detail: &str,
    written: Option<&MfaRecord>,
) {
    tracing::info!(
        target: AUDIT_TARGET,
        user,
        event = operation,
        outcome,
        detail,
        version = written.map(|r| r.version),
        failures = written.map(|r| r.throttle.failures),
        locked_until = written.and_then(|r| r.throttle.locked_until),
    );
}
