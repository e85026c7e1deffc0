//! The store conformance suite: the [`Store`] contract, and the service's
//! guarantees on top of it, checked against a real backend.
//!
//! Every check takes several handles to **one** backend (separate pools or
//! connections stand in for separate app instances) and uses fresh user ids,
//! so checks can share a database. Run them all from a test crate with
//! [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```
//! mfa_flow::store_conformance_tests!(async {
//!     let store = mfa_flow::MemoryStore::new();
//!     // Four handles on one backend: four "app instances".
//!     vec![store.clone(), store.clone(), store.clone(), store]
//! });
//! # fn main() {}
//! ```
//!
//! The macro needs `tokio` (features `macros`, `rt-multi-thread`) in the
//! calling crate's dev-dependencies. Checks panic on failure, like tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use totp_core::{Secret, Totp, TotpConfig};

use crate::keys::SealedSecret;
use crate::record::{MfaRecord, MfaState, RecoverySet, Replacement, Throttle, TotpParams};
use crate::{
    AppKey, CodeKind, Keyring, ManualClock, MfaConfig, MfaService, Outcome, Saved, StateKind,
    Store, StoredRecord, ThrottleConfig, UsedCode,
};

/// Generates one `#[tokio::test]` per conformance check. The argument is an
/// `async` expression giving a `Vec` of handles to one backend (four or more
/// exercise cross-instance behaviour). It is evaluated afresh for each
/// check. An empty `Vec` skips the check: return one only when the backend
/// is missing outside CI, after printing why.
#[macro_export]
macro_rules! store_conformance_tests {
    ($handles:expr) => {
        $crate::store_conformance_tests!(@tests $handles;
            load_missing, insert_and_load, compare_and_swap, delete_by_version,
            exact_round_trip, concurrent_increments, same_code_once, failures_all_counted,
            lock_holds_everywhere, enrollment_seen_everywhere, recovery_code_once);
    };
    (@tests $handles:expr; $($check:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let handles = $handles.await;
                if !handles.is_empty() {
                    $crate::conformance::$check(&handles).await;
                }
            }
        )*
    };
}

/// A user id no other check or run uses.
fn user(check: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).expect("OS RNG");
    format!(
        "conformance-{check}-{:016x}-{}",
        u64::from_le_bytes(nonce),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn handle<S>(handles: &[S], i: usize) -> &S {
    assert!(!handles.is_empty(), "the suite needs at least one handle");
    &handles[i % handles.len()]
}

fn active_record(version: u64) -> MfaRecord {
    MfaRecord {
        state: MfaState::Active {
            secret: SealedSecret {
                key_id: 7,
                nonce: [5; 12],
                ciphertext: (0u8..36).collect(),
            },
            totp: TotpParams {
                algorithm: totp_core::Algorithm::Sha512,
                digits: totp_core::Digits::EIGHT,
                period: 45,
            },
            confirmed_at: 1_700_000_000,
            last_step: u64::MAX - 1,
            // Every field a record can hold, so a store that loses one fails.
            replacement: Some(Replacement {
                secret: SealedSecret {
                    key_id: 8,
                    nonce: [6; 12],
                    ciphertext: (10u8..46).collect(),
                },
                totp: TotpParams {
                    algorithm: totp_core::Algorithm::Sha1,
                    digits: totp_core::Digits::SIX,
                    period: 30,
                },
                expires_at: u64::MAX,
            }),
        },
        throttle: Throttle {
            failures: 99,
            locked_until: Some(u64::MAX),
        },
        recovery: Some(RecoverySet {
            key_id: 7,
            hashes: vec![[0xAB; 32], [0; 32], [0xFF; 32]],
        }),
        version,
    }
}

/// A loaded record as mfa-flow reads it; none reads as the default.
fn decode(stored: Option<StoredRecord>) -> MfaRecord {
    stored.map_or_else(MfaRecord::default, |s| {
        MfaRecord::decode(&s).expect("the store gave back what it was given")
    })
}

/// Loading a user with no record gives `None`.
pub async fn load_missing<S: Store>(handles: &[S]) {
    let u = user("load-missing");
    assert_eq!(handle(handles, 0).load(&u).await.unwrap(), None);
}

/// A record saved at version 1 is what every handle loads.
pub async fn insert_and_load<S: Store>(handles: &[S]) {
    let u = user("insert");
    let record = MfaRecord {
        state: MfaState::Requested,
        version: 1,
        ..MfaRecord::default()
    };
    let stored = record.encode();
    assert_eq!(
        handle(handles, 0).save(&u, &stored).await.unwrap(),
        Saved::Stored
    );
    for h in handles {
        assert_eq!(h.load(&u).await.unwrap(), Some(stored.clone()));
    }
}

/// Writes succeed only on top of the version they expect.
pub async fn compare_and_swap<S: Store>(handles: &[S]) {
    let u = user("cas");
    let h = handle(handles, 0);
    let mut r = MfaRecord::default();
    // Version 0 is never stored; skipping a version is a conflict.
    assert_eq!(h.save(&u, &r.encode()).await.unwrap(), Saved::Conflict);
    r.version = 2;
    assert_eq!(h.save(&u, &r.encode()).await.unwrap(), Saved::Conflict);
    r.version = 1;
    assert_eq!(h.save(&u, &r.encode()).await.unwrap(), Saved::Stored);
    // A second insert of version 1 (a racing first write) loses.
    assert_eq!(
        handle(handles, 1).save(&u, &r.encode()).await.unwrap(),
        Saved::Conflict
    );
    r.version = 2;
    r.throttle.failures = 1;
    assert_eq!(
        handle(handles, 1).save(&u, &r.encode()).await.unwrap(),
        Saved::Stored
    );
    // A stale writer (also expecting version 1) loses and changes nothing.
    let mut stale = r.clone();
    stale.throttle.failures = 0;
    assert_eq!(h.save(&u, &stale.encode()).await.unwrap(), Saved::Conflict);
    assert_eq!(h.load(&u).await.unwrap(), Some(r.encode()));
}

/// Deletes happen only at the expected version.
pub async fn delete_by_version<S: Store>(handles: &[S]) {
    let u = user("delete");
    let h = handle(handles, 0);
    assert_eq!(h.delete(&u, 0).await.unwrap(), Saved::Conflict);
    let r = MfaRecord {
        version: 1,
        ..MfaRecord::default()
    };
    assert_eq!(h.save(&u, &r.encode()).await.unwrap(), Saved::Stored);
    assert_eq!(h.delete(&u, 2).await.unwrap(), Saved::Conflict);
    assert_eq!(h.load(&u).await.unwrap(), Some(r.encode()));
    assert_eq!(
        handle(handles, 1).delete(&u, 1).await.unwrap(),
        Saved::Stored
    );
    assert_eq!(h.load(&u).await.unwrap(), None);
}

/// Every field, including extremes, comes back exactly.
pub async fn exact_round_trip<S: Store>(handles: &[S]) {
    let u = user("round-trip");
    let h = handle(handles, 0);
    let r = active_record(1);
    // As text, the form a record loaded from elsewhere has.
    let text = StoredRecord::new(1, r.to_text());
    assert_eq!(h.save(&u, &text).await.unwrap(), Saved::Stored);
    let loaded = handle(handles, 1).load(&u).await.unwrap().unwrap();
    assert_eq!((loaded.version(), loaded.as_str()), (1, text.as_str()));
    assert_eq!(decode(Some(loaded)), r);
}

/// 64 tasks spread over the handles each add one to a counter with
/// load-modify-save retried on conflict: no update is lost.
pub async fn concurrent_increments<S: Store + Clone + 'static>(handles: &[S]) {
    let u = Arc::new(user("increments"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let h = handle(handles, i).clone();
        let u = Arc::clone(&u);
        tasks.spawn(async move {
            loop {
                let current = decode(h.load(&u).await.unwrap());
                let mut next = current.clone();
                next.version = current.version + 1;
                next.throttle.failures += 1;
                if h.save(&u, &next.encode()).await.unwrap() == Saved::Stored {
                    break;
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let r = decode(handle(handles, 0).load(&u).await.unwrap());
    assert_eq!((r.version, r.throttle.failures), (64, 64));
}

const START: u64 = 1_700_000_000;
const KEY: [u8; 32] = [42; 32];

/// One service per handle, all sharing one clock and one key: app instances.
fn services<S: Store + Clone>(
    handles: &[S],
    clock: &ManualClock,
    throttle: ThrottleConfig,
) -> Vec<Arc<MfaService<S, ManualClock>>> {
    handles
        .iter()
        .map(|h| {
            Arc::new(MfaService::new(
                h.clone(),
                clock.clone(),
                Keyring::new(AppKey::from_bytes(1, &KEY).unwrap()),
                MfaConfig::new("Conformance")
                    .with_throttle(throttle)
                    .with_max_retries(1000),
            ))
        })
        .collect()
}

/// Enrolls `u` through the first service; returns the app's TOTP and the
/// recovery codes.
async fn enroll<S: Store>(
    service: &MfaService<S, ManualClock>,
    clock: &ManualClock,
    u: &str,
) -> (Totp, Vec<String>) {
    let ticket = service
        .begin_enrollment(u, "conformance@example.com")
        .await
        .unwrap();
    let app = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(ticket.expose_secret()).unwrap(),
    );
    let code = app.generate(clock.now()).unwrap();
    let enrolled = service
        .confirm_enrollment(u, code.as_str())
        .await
        .unwrap()
        .accepted()
        .expect("enrollment confirms");
    let codes = enrolled
        .recovery_codes
        .expose()
        .map(str::to_owned)
        .collect();
    // Move to the next step so the confirming code is not the current one.
    clock.advance(30);
    (app, codes)
}

/// `n` distinct six-digit codes that match no step in the ±1 window now.
fn wrong_codes(app: &Totp, now: u64, n: usize) -> Vec<String> {
    let window: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| app.generate(*t).unwrap().as_str().to_owned())
        .collect();
    (0..)
        .map(|i: u32| format!("{:06}", (i * 7919) % 1_000_000))
        .filter(|c| !window.contains(c))
        .take(n)
        .collect()
}

/// Runs `attempts` logins with `input(i)`, spread over the services, all at
/// once; returns the outcomes.
async fn race<S: Store + Clone + 'static>(
    services: &[Arc<MfaService<S, ManualClock>>],
    u: &str,
    attempts: usize,
    input: impl Fn(usize) -> String,
) -> Vec<Outcome<UsedCode>> {
    let mut tasks = tokio::task::JoinSet::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(attempts));
    for i in 0..attempts {
        let service = Arc::clone(&services[i % services.len()]);
        let (u, code, barrier) = (u.to_owned(), input(i), Arc::clone(&barrier));
        tasks.spawn(async move {
            barrier.wait().await;
            service.login(&u, &code, CodeKind::Any).await.unwrap()
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done.unwrap());
    }
    outcomes
}

/// 64 simultaneous logins with the same valid code: exactly one succeeds,
/// every other is `Replayed` (with a budget that does not lock first: each
/// replay counts as a failure).
pub async fn same_code_once<S: Store + Clone + 'static>(handles: &[S]) {
    let clock = ManualClock::new(START);
    let services = services(
        handles,
        &clock,
        ThrottleConfig::default().with_lock_at(1000),
    );
    let u = user("same-code");
    let (app, _) = enroll(&services[0], &clock, &u).await;
    let code = app.generate(clock.now()).unwrap();
    let outcomes = race(&services, &u, 64, |_| code.as_str().to_owned()).await;
    let verified = outcomes.iter().filter(|o| o.is_accepted()).count();
    let replayed = outcomes.iter().filter(|o| **o == Outcome::Replayed).count();
    assert_eq!((verified, replayed), (1, 63), "{outcomes:?}");
}

/// 64 simultaneous wrong codes, with a budget that does not lock before
/// 100: the failure count rises by exactly 64.
pub async fn failures_all_counted<S: Store + Clone + 'static>(handles: &[S]) {
    let clock = ManualClock::new(START);
    let services = services(
        handles,
        &clock,
        ThrottleConfig::default().with_lock_at(1000),
    );
    let u = user("failures");
    let (app, _) = enroll(&services[0], &clock, &u).await;
    let wrong = wrong_codes(&app, clock.now(), 64);
    let outcomes = race(&services, &u, 64, |i| wrong[i].clone()).await;
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Invalid),
        "{outcomes:?}"
    );
    for s in &services {
        assert_eq!(s.status(&u).await.unwrap().failures, 64);
    }
}

/// With the default budget, a burst of 64 wrong codes counts exactly 5
/// failures and locks the user on every instance; the rest are refused
/// unchecked.
pub async fn lock_holds_everywhere<S: Store + Clone + 'static>(handles: &[S]) {
    let clock = ManualClock::new(START);
    let services = services(handles, &clock, ThrottleConfig::default());
    let u = user("lock");
    let (app, _) = enroll(&services[0], &clock, &u).await;
    let wrong = wrong_codes(&app, clock.now(), 64);
    let outcomes = race(&services, &u, 64, |i| wrong[i].clone()).await;
    let invalid = outcomes.iter().filter(|o| **o == Outcome::Invalid).count();
    let locked = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Locked { until: Some(_) }))
        .count();
    assert_eq!((invalid, locked), (5, 59), "{outcomes:?}");
    let right = app.generate(clock.now()).unwrap();
    for s in &services {
        let status = s.status(&u).await.unwrap();
        assert_eq!(status.failures, 5);
        assert_eq!(status.locked_until, Some(clock.now() + 30));
        assert_eq!(
            s.login(&u, right.as_str(), CodeKind::Any).await.unwrap(),
            Outcome::Locked {
                until: Some(clock.now() + 30)
            }
        );
    }
}

/// An enrollment confirmed through one instance is active on all.
pub async fn enrollment_seen_everywhere<S: Store + Clone + 'static>(handles: &[S]) {
    let clock = ManualClock::new(START);
    let services = services(handles, &clock, ThrottleConfig::default());
    let u = user("seen");
    let last = services.len() - 1;
    let (app, _) = enroll(&services[last], &clock, &u).await;
    for (i, s) in services.iter().enumerate() {
        assert_eq!(s.status(&u).await.unwrap().state, StateKind::Active);
        clock.advance(30);
        let code = app.generate(clock.now()).unwrap();
        assert!(
            s.login(&u, code.as_str(), CodeKind::Any)
                .await
                .unwrap()
                .is_accepted(),
            "instance {i}"
        );
    }
}

/// One recovery code used by 16 tasks at once: exactly one success.
pub async fn recovery_code_once<S: Store + Clone + 'static>(handles: &[S]) {
    let clock = ManualClock::new(START);
    let services = services(
        handles,
        &clock,
        ThrottleConfig::default().with_lock_at(1000),
    );
    let u = user("recovery");
    let (_, codes) = enroll(&services[0], &clock, &u).await;
    let outcomes = race(&services, &u, 16, |_| codes[0].clone()).await;
    let accepted = outcomes.iter().filter(|o| o.is_accepted()).count();
    let invalid = outcomes.iter().filter(|o| **o == Outcome::Invalid).count();
    assert_eq!((accepted, invalid), (1, 15), "{outcomes:?}");
    assert_eq!(
        services[0].status(&u).await.unwrap().recovery_codes_left,
        codes.len() - 1
    );
}

/// A record that is disabled, at version 1, in the stored format.
const DISABLED_V1: &str = r#"{"format":1,"version":1,"state":{"kind":"disabled"},"throttle":{"failures":0,"locked_until":null},"recovery":null}"#;

/// Rows mfa-flow never wrote: text that is not a record, and a record whose
/// row says another version than the one inside it. The store hands each
/// back as it is; the service refuses each as a typed
/// [`CorruptRecord`](crate::InternalError::CorruptRecord); an
/// administrator's reset replaces it, and the user can start again. (That
/// the refusal is audited is the flow's own test,
/// `a_corrupt_record_is_refused_and_audited_and_a_reset_replaces_it`.)
///
/// Not part of [`store_conformance_tests!`](crate::store_conformance_tests):
/// only the backend's own test can write a row behind the store's back.
/// `plant(user, version, text)` does that (a raw `INSERT`, a raw `HSET`):
/// a row for `user` at `version` holding `text`.
pub async fn corrupt_rows<S, F, Fut>(store: &S, plant: F)
where
    S: Store + Clone,
    F: Fn(String, u64, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let garbage = user("corrupt-garbage");
    let mismatch = user("corrupt-mismatch");
    plant(garbage.clone(), 1, "not json").await;
    plant(mismatch.clone(), 2, DISABLED_V1).await;
    let as_planted = store.load(&garbage).await.unwrap().unwrap();
    assert_eq!((as_planted.version(), as_planted.as_str()), (1, "not json"));
    assert_eq!(store.load(&mismatch).await.unwrap().unwrap().version(), 2);

    let clock = ManualClock::new(START);
    let service = &services(
        std::slice::from_ref(store),
        &clock,
        ThrottleConfig::default(),
    )[0];
    let corrupt = |result: Result<_, crate::MfaError<S::Error>>| match result {
        Err(crate::MfaError::Flow(crate::FlowError::Internal(
            crate::InternalError::CorruptRecord(e),
        ))) => e,
        other => panic!("not a corrupt record: {other:?}"),
    };
    assert!(matches!(
        corrupt(service.status(&garbage).await),
        crate::DecodeError::Malformed(_)
    ));
    assert!(matches!(
        corrupt(service.status(&mismatch).await),
        crate::DecodeError::VersionMismatch {
            stored: 2,
            inside: 1
        }
    ));
    for u in [&garbage, &mismatch] {
        service.admin_reset(u).await.unwrap();
        service.opt_in(u).await.unwrap();
        assert_eq!(service.status(u).await.unwrap().state, StateKind::Requested);
    }
}
