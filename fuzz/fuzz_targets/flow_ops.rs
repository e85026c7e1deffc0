//! Random sequences of flow operations (opt in, enroll, confirm, codes right,
//! wrong, replayed or from another time, recovery codes, regenerate,
//! replacing the app, cancelling an opt-in, disable, reset, clock jumps, arbitrary input) against the service on the
//! memory store, checking after each one the flow's invariants:
//! no time step accepted twice, no TOTP code accepted while locked (a
//! recovery code may be: it lifts the lock), nothing counted during a timed
//! lock, never more than the hard-lock budget of failures, a recovery code
//! works once, a replacement is confirmed only while pending and unlocked,
//! the version grows by one per write, and nothing panics.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{
    AppKey, CodeKind, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Outcome, Policy,
    StateKind, Store, ThrottleConfig, UsedCode,
};

const USER: &str = "fuzz-user";
const HARD_LOCK: u32 = 12;

/// The memory store never waits, so one poll finishes every operation.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the memory store never waits"),
    }
}

/// Recovery codes are read without case, spaces or hyphens.
fn normalize(code: &str) -> String {
    code.replace(['-', ' '], "").to_uppercase()
}

struct Harness {
    service: MfaService<MemoryStore, ManualClock>,
    clock: ManualClock,
    app: Option<Totp>,
    /// The new app of a pending replacement.
    replacement: Option<Totp>,
    recovery: Vec<String>,
    used_recovery: Vec<String>,
    last_step: Option<u64>,
    version: u64,
}

impl Harness {
    fn new() -> Self {
        let clock = ManualClock::new(1_800_000_000);
        let key = AppKey::from_bytes(1, &[7; 32]).expect("a 32-byte key");
        let config = MfaConfig::new("Fuzz")
            .with_throttle(
                ThrottleConfig::default()
                    .with_lock_at(3)
                    .with_first_lock(10)
                    .with_longest_lock(60)
                    .with_hard_lock_at(HARD_LOCK)
                    .expect("a hard lock within NIST's cap"),
            )
            .with_recovery_codes(4);
        Self {
            service: MfaService::new(MemoryStore::new(), clock.clone(), Keyring::new(key), config),
            clock,
            app: None,
            replacement: None,
            recovery: Vec::new(),
            used_recovery: Vec::new(),
            last_step: None,
            version: 0,
        }
    }

    fn code(&self, offset: i64) -> String {
        let at = self.clock.now().saturating_add_signed(offset * 30);
        self.app
            .as_ref()
            .and_then(|app| app.generate(at).ok())
            .map_or_else(|| "000000".to_owned(), |c| c.as_str().to_owned())
    }

    fn status(&self) -> mfa_flow::Status {
        run(self.service.status(USER)).expect("the memory store does not fail")
    }

    /// Checks a login outcome against what was true before it.
    fn check_login(&mut self, before: &mfa_flow::Status, input: &str, outcome: &Outcome<UsedCode>) {
        let locked = before.locked_until.is_some_and(|u| u > self.clock.now());
        match outcome {
            Outcome::Accepted(UsedCode::Totp(v)) => {
                assert!(
                    !locked && !before.hard_locked,
                    "a code accepted while locked"
                );
                assert!(
                    self.last_step.is_none_or(|last| v.step > last),
                    "step accepted twice"
                );
                self.last_step = Some(v.step);
            }
            // A recovery code is accepted during a timed lock too (by
            // design: it lifts the lock).
            Outcome::Accepted(UsedCode::Recovery(_)) => {
                let normal = normalize(input);
                assert!(
                    self.recovery.iter().any(|c| normalize(c) == normal),
                    "a recovery code accepted that is not in the current set"
                );
                assert!(
                    !self.used_recovery.contains(&normal),
                    "a recovery code accepted twice"
                );
                self.used_recovery.push(normal);
            }
            _ => {}
        }
    }

    fn step(&mut self, op: u8, arg: u8, tail: &[u8]) {
        let before = self.status();
        let locked_before = before.locked_until.is_some_and(|u| u > self.clock.now());
        let policy = if arg & 1 == 0 {
            Policy::Optional
        } else {
            Policy::Required
        };
        match op % 15 {
            0 => {
                let _ = run(self.service.opt_in(USER));
            }
            1 => {
                if let Ok(ticket) = run(self.service.begin_enrollment(USER, "fuzz@example.com")) {
                    let secret = Secret::from_base32(ticket.expose_secret()).expect("our key");
                    self.app = Some(Totp::new(TotpConfig::default(), &secret));
                }
            }
            2 => {
                let code = self.code(i64::from(arg % 5) - 2);
                if let Ok(Outcome::Accepted(enrolled)) =
                    run(self.service.confirm_enrollment(USER, &code))
                {
                    assert_eq!(before.state, StateKind::Pending);
                    self.last_step = Some(enrolled.step);
                    self.recovery = enrolled
                        .recovery_codes
                        .expose()
                        .map(str::to_owned)
                        .collect();
                    self.used_recovery.clear();
                }
            }
            3 | 4 => {
                let code = self.code(i64::from(arg % 5) - 2);
                if let Ok(outcome) = run(self.service.login(USER, &code, CodeKind::Totp)) {
                    self.check_login(&before, &code, &outcome);
                }
            }
            5 => {
                let wrong = format!("{:06}", u32::from(arg) * 3_917 % 1_000_000);
                if let Ok(outcome) = run(self.service.login(USER, &wrong, CodeKind::Totp)) {
                    self.check_login(&before, &wrong, &outcome);
                }
            }
            6 => self.clock.advance(u64::from(arg) * 7),
            7 => {
                let input = match self.recovery.get(usize::from(arg) % 6) {
                    Some(code) => code.clone(),
                    None => String::from_utf8_lossy(tail).into_owned(),
                };
                if let Ok(outcome) = run(self.service.login(USER, &input, CodeKind::Recovery)) {
                    self.check_login(&before, &input, &outcome);
                }
            }
            8 => {
                let code = self.code(0);
                if let Ok(Outcome::Accepted(codes)) =
                    run(self.service.regenerate_recovery_codes(USER, &code))
                {
                    self.recovery = codes.expose().map(str::to_owned).collect();
                    self.used_recovery.clear();
                }
            }
            9 => {
                let code = self.code(0);
                if let Ok(Outcome::Accepted(())) = run(self.service.disable(USER, policy, &code)) {
                    assert_eq!(policy, Policy::Optional, "disabled although required");
                    self.app = None;
                    self.replacement = None;
                    self.last_step = None;
                }
            }
            10 => {
                let _ = run(self.service.admin_reset(USER));
                self.app = None;
                self.replacement = None;
                self.last_step = None;
            }
            12 => {
                if let Ok(ticket) = run(self.service.begin_replacement(USER, "fuzz@example.com")) {
                    assert_eq!(
                        before.state,
                        StateKind::Active,
                        "a replacement while not active"
                    );
                    let secret = Secret::from_base32(ticket.expose_secret()).expect("our key");
                    self.replacement = Some(Totp::new(TotpConfig::default(), &secret));
                }
            }
            13 => {
                let at = self
                    .clock
                    .now()
                    .saturating_add_signed(i64::from(arg % 5) * 30 - 60);
                let code = self
                    .replacement
                    .as_ref()
                    .and_then(|app| app.generate(at).ok())
                    .map_or_else(|| "000000".to_owned(), |c| c.as_str().to_owned());
                if let Ok(Outcome::Accepted(verified)) =
                    run(self.service.confirm_replacement(USER, &code))
                {
                    assert!(
                        before.replacement_expires_at.is_some(),
                        "a replacement confirmed that was not pending"
                    );
                    assert!(
                        !locked_before && !before.hard_locked,
                        "a replacement confirmed while locked"
                    );
                    self.app = self.replacement.take();
                    self.last_step = Some(verified.step);
                }
            }
            14 => {
                if run(self.service.cancel_enrollment(USER, policy)).is_ok() {
                    assert_eq!(policy, Policy::Optional, "cancelled although required");
                    assert_ne!(
                        before.state,
                        StateKind::Active,
                        "cancel turned off active MFA"
                    );
                    self.app = None;
                    self.last_step = None;
                }
            }
            _ => {
                let input = String::from_utf8_lossy(tail).into_owned();
                if let Ok(outcome) = run(self.service.login(USER, &input, CodeKind::Any)) {
                    self.check_login(&before, &input, &outcome);
                }
            }
        }
        let after = self.status();
        assert!(after.failures <= HARD_LOCK, "failures beyond the hard lock");
        assert!(
            !locked_before || after.failures <= before.failures,
            "a failure counted during a timed lock"
        );
        let version = run(self.service.store().load(USER))
            .expect("the memory store does not fail")
            .map_or(0, |r| r.version());
        assert!(
            version == self.version || version == self.version + 1,
            "the version moved by more than one write"
        );
        self.version = version;
    }
}

fuzz_target!(|bytes: &[u8]| {
    let mut harness = Harness::new();
    for chunk in bytes.chunks(6).take(64) {
        if let [op, arg, tail @ ..] = chunk {
            harness.step(*op, *arg, tail);
        }
    }
});
