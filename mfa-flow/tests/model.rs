//! Model-based property test: random sequences of logins, wrong codes,
//! recovery codes and clock advances, run against the service and against a
//! small reference model; every outcome and every status must agree, and the
//! invariants hold throughout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{
    AppKey, CodeKind, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Outcome, Saved,
    StateKind, Store, StoredRecord, ThrottleConfig, UsedCode,
};
use proptest::prelude::*;

const USER: &str = "model-user";
const START: u64 = 1_800_000_000;
/// A small budget so sequences reach timed and hard locks.
const THROTTLE: (u32, u64, u64, u32) = (3, 10, 60, 12);

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    /// The app's code for `now + 30 * offset`.
    Login(i64),
    Wrong,
    /// Recovery code `i`; 10 and 11 are codes that were never issued.
    Recovery(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..=90).prop_map(Op::Advance),
        4 => (-3i64..=3).prop_map(Op::Login),
        3 => Just(Op::Wrong),
        2 => (0usize..12).prop_map(Op::Recovery),
    ]
}

/// What the model expects of one attempt.
#[derive(Debug, PartialEq)]
enum Expect {
    Code(u64),
    Recovery(usize),
    Invalid,
    Replayed,
    Locked(Option<u64>),
}

#[derive(Debug)]
struct Model {
    throttle: ThrottleConfig,
    last_step: u64,
    failures: u32,
    locked_until: Option<u64>,
    used_recovery: [bool; 10],
}

impl Model {
    fn locked(&self, now: u64) -> Option<u64> {
        self.locked_until.filter(|u| now < *u)
    }

    fn fail(&mut self, now: u64, expect: Expect) -> (Expect, bool) {
        self.failures += 1;
        self.locked_until = self.throttle.lock_after(self.failures).map(|d| now + d);
        (expect, true)
    }

    fn reset(&mut self) {
        self.failures = 0;
        self.locked_until = None;
    }

    /// A TOTP attempt for `step` (`None`: a code matching no window step).
    fn totp(&mut self, now: u64, step: Option<u64>) -> (Expect, bool) {
        if let Some(until) = self.locked(now) {
            return (Expect::Locked(Some(until)), false);
        }
        if self.throttle.hard_locked(self.failures) {
            return (Expect::Locked(None), false);
        }
        let current = now / 30;
        match step {
            Some(s) if s + 1 >= current && s <= current + 1 => {
                if s > self.last_step {
                    self.last_step = s;
                    self.reset();
                    (Expect::Code(s), true)
                } else {
                    self.fail(now, Expect::Replayed)
                }
            }
            _ => self.fail(now, Expect::Invalid),
        }
    }

    /// Recovery codes are checked during locks too (they cannot be
    /// guessed); a wrong one counts only outside a lock.
    fn recovery(&mut self, now: u64, i: usize) -> (Expect, bool) {
        if i < 10 && !self.used_recovery[i] {
            self.used_recovery[i] = true;
            self.reset();
            let left = self.used_recovery.iter().filter(|u| !**u).count();
            (Expect::Recovery(left), true)
        } else if self.locked(now).is_some() {
            (Expect::Invalid, false)
        } else {
            self.fail(now, Expect::Invalid)
        }
    }
}

/// The memory store keeping every record as text, as a database does, so
/// every load goes through the decoder and the version check.
#[derive(Clone, Default)]
struct TextStore(MemoryStore);

impl Store for TextStore {
    type Error = <MemoryStore as Store>::Error;

    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, Self::Error> {
        self.0.load(user).await
    }

    async fn save(&self, user: &str, record: &StoredRecord) -> Result<Saved, Self::Error> {
        let text = StoredRecord::new(record.version(), record.as_str());
        self.0.save(user, &text).await
    }

    async fn delete(&self, user: &str, version: u64) -> Result<Saved, Self::Error> {
        self.0.delete(user, version).await
    }
}

fn observed(outcome: Outcome<UsedCode>) -> Expect {
    match outcome {
        Outcome::Accepted(UsedCode::Totp(v)) => Expect::Code(v.step),
        Outcome::Accepted(UsedCode::Recovery(r)) => Expect::Recovery(r.remaining),
        Outcome::Invalid => Expect::Invalid,
        Outcome::Replayed => Expect::Replayed,
        Outcome::Locked { until } => Expect::Locked(until),
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// The codes of the three steps in the window at `now`.
fn window(app: &Totp, now: u64) -> Vec<(u64, String)> {
    [now - 30, now, now + 30]
        .iter()
        .map(|t| (t / 30, app.generate(*t).unwrap().as_str().to_owned()))
        .collect()
}

async fn run(enroll_delay: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new(START);
    let (lock_at, first, max, hard) = THROTTLE;
    let throttle = ThrottleConfig::default()
        .with_lock_at(lock_at)
        .with_first_lock(first)
        .with_longest_lock(max)
        .with_hard_lock_at(hard)
        .unwrap();
    let service = MfaService::new(
        TextStore::default(),
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[3; 32]).unwrap()),
        MfaConfig::new("Model").with_throttle(throttle),
    );
    let version = || async {
        service
            .store()
            .load(USER)
            .await
            .unwrap()
            .map_or(0, |r| r.version())
    };

    // Enrollment, possibly too late: an expired pending never becomes active.
    let mut ticket = service
        .begin_enrollment(USER, "model@example.com")
        .await
        .unwrap();
    clock.advance(enroll_delay);
    let mut app = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(ticket.expose_secret()).unwrap(),
    );
    let mut outcome = service
        .confirm_enrollment(USER, app.generate(clock.now()).unwrap().as_str())
        .await
        .unwrap();
    if enroll_delay >= 180 {
        prop_assert!(matches!(outcome, Outcome::Expired));
        prop_assert_eq!(
            service.status(USER).await.unwrap().state,
            StateKind::Requested
        );
        ticket = service
            .begin_enrollment(USER, "model@example.com")
            .await
            .unwrap();
        app = Totp::new(
            TotpConfig::default(),
            &Secret::from_base32(ticket.expose_secret()).unwrap(),
        );
        outcome = service
            .confirm_enrollment(USER, app.generate(clock.now()).unwrap().as_str())
            .await
            .unwrap();
    }
    let enrolled = outcome.accepted().expect("a fresh code confirms");
    let recovery: Vec<String> = enrolled
        .recovery_codes
        .expose()
        .map(str::to_owned)
        .collect();
    let mut model = Model {
        throttle,
        last_step: enrolled.step,
        failures: 0,
        locked_until: None,
        used_recovery: [false; 10],
    };
    let mut accepted_steps = HashSet::from([enrolled.step]);
    let mut last_version = version().await;

    for op in ops {
        let now = clock.now();
        let (input, (expect, writes)) = match op {
            Op::Advance(d) => {
                clock.advance(d);
                continue;
            }
            Op::Login(offset) => {
                let t = now.saturating_add_signed(offset * 30);
                let code = app.generate(t).unwrap().as_str().to_owned();
                let in_window = window(&app, now);
                // Skip the rare code that two steps share: the model would
                // not know which one the service matched.
                let matches: Vec<u64> = in_window
                    .iter()
                    .filter(|(_, c)| *c == code)
                    .map(|(s, _)| *s)
                    .collect();
                let step = t / 30;
                if matches.len() > 1 || (matches.len() == 1 && matches[0] != step) {
                    continue;
                }
                (code, model.totp(now, Some(step)))
            }
            Op::Wrong => {
                let in_window = window(&app, now);
                let code = (0u32..)
                    .map(|i| format!("{:06}", (i * 7919 + 13) % 1_000_000))
                    .find(|c| in_window.iter().all(|(_, w)| w != c))
                    .unwrap();
                (code, model.totp(now, None))
            }
            Op::Recovery(i) => {
                let code = recovery
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| "2222-3333-4444-5555-6666-7777".to_owned());
                (code, model.recovery(now, i))
            }
        };
        let got = observed(service.login(USER, &input, CodeKind::Any).await.unwrap());
        prop_assert_eq!(&got, &expect, "at {}: {:?}", now, model);

        // No step is ever accepted twice.
        if let Expect::Code(step) = got {
            prop_assert!(accepted_steps.insert(step), "step {} accepted twice", step);
        }
        // Versions strictly increase with every write, and only then.
        let v = version().await;
        prop_assert_eq!(v, last_version + u64::from(writes));
        last_version = v;

        let status = service.status(USER).await.unwrap();
        prop_assert_eq!(status.failures, model.failures);
        prop_assert_eq!(status.locked_until, model.locked(clock.now()));
        prop_assert_eq!(
            status.hard_locked,
            model.throttle.hard_locked(model.failures)
        );
        prop_assert_eq!(
            status.recovery_codes_left,
            model.used_recovery.iter().filter(|u| !**u).count()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_service_follows_the_model(
        enroll_delay in prop_oneof![0u64..180, 180u64..400],
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(run(enroll_delay, ops))?;
    }
}
