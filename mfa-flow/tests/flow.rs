//! The flow, step by step, with a manual clock: expiry, replay, throttling,
//! recovery codes, policy, key rotation and sealing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{
    AppKey, CodeKind, FlowError, InternalError, Keyring, ManualClock, MemoryStore, MfaConfig,
    MfaError, MfaService, OpenError, Outcome, Policy, Requirement, StateKind, Store, StoredRecord,
    UsedCode,
};

const START: u64 = 1_700_000_010;
const USER: &str = "user-1";

type Service = MfaService<MemoryStore, ManualClock>;

/// The user's stored record, read as its documented format (JSON).
async fn stored<S: Store>(store: &S, user: &str) -> serde_json::Value {
    let record = store.load(user).await.unwrap().unwrap();
    serde_json::from_str(record.as_str()).unwrap()
}

fn keyring(ids: &[u32]) -> Keyring {
    let key = |id: u32| AppKey::from_bytes(id, &[u8::try_from(id).unwrap(); 32]).unwrap();
    ids[1..].iter().fold(Keyring::new(key(ids[0])), |ring, id| {
        ring.with_previous(key(*id)).unwrap()
    })
}

fn service_with(store: &MemoryStore, clock: &ManualClock, keys: &[u32]) -> Service {
    MfaService::new(
        store.clone(),
        clock.clone(),
        keyring(keys),
        MfaConfig::new("Lumen"),
    )
}

fn setup() -> (Service, ManualClock) {
    let clock = ManualClock::new(START);
    (service_with(&MemoryStore::new(), &clock, &[1]), clock)
}

/// Starts enrollment; returns the authenticator app the user sets up.
async fn begin(service: &Service) -> Totp {
    begin_for(service, USER).await
}

/// [`begin`] for another user.
async fn begin_for(service: &Service, user: &str) -> Totp {
    let ticket = service
        .begin_enrollment(user, "ada@example.com")
        .await
        .unwrap();
    assert!(
        ticket
            .expose_uri()
            .starts_with("otpauth://totp/Lumen:ada%40example.com?secret=")
    );
    assert!(ticket.qr_svg().unwrap().starts_with("<svg"));
    Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(ticket.expose_secret()).unwrap(),
    )
}

fn code(app: &Totp, clock: &ManualClock) -> String {
    app.generate(clock.now()).unwrap().as_str().to_owned()
}

/// Enrolls and moves to the next time step; returns the app and the codes.
async fn enrolled(service: &Service, clock: &ManualClock) -> (Totp, Vec<String>) {
    let app = begin(service).await;
    let enrolled = service
        .confirm_enrollment(USER, &code(&app, clock))
        .await
        .unwrap()
        .accepted()
        .unwrap();
    clock.advance(30);
    (
        app,
        enrolled
            .recovery_codes
            .expose()
            .map(str::to_owned)
            .collect(),
    )
}

async fn logs_in(service: &Service, input: &str) -> bool {
    service
        .login(USER, input, CodeKind::Any)
        .await
        .unwrap()
        .is_accepted()
}

async fn confirms(service: &Service, code: &str) -> bool {
    service
        .confirm_enrollment(USER, code)
        .await
        .unwrap()
        .is_accepted()
}

fn wrong(app: &Totp, clock: &ManualClock) -> String {
    let now = clock.now();
    let window: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| app.generate(*t).unwrap().as_str().to_owned())
        .collect();
    (0u32..)
        .map(|i| format!("{:06}", i * 104_729 % 1_000_000))
        .find(|c| !window.contains(c))
        .unwrap()
}

#[tokio::test]
async fn confirm_at_179_seconds_succeeds() {
    let (service, clock) = setup();
    let app = begin(&service).await;
    clock.advance(179);
    let outcome = service
        .confirm_enrollment(USER, &code(&app, &clock))
        .await
        .unwrap();
    assert!(outcome.is_accepted());
    assert_eq!(service.status(USER).await.unwrap().state, StateKind::Active);
}

#[tokio::test]
async fn confirm_at_181_seconds_is_expired_and_drops_the_secret() {
    let (service, clock) = setup();
    let app = begin(&service).await;
    clock.advance(181);
    let outcome = service
        .confirm_enrollment(USER, &code(&app, &clock))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Expired));
    let status = service.status(USER).await.unwrap();
    assert_eq!(status.state, StateKind::Requested);
    assert!(matches!(
        service.confirm_enrollment(USER, &code(&app, &clock)).await,
        Err(MfaError::Flow(FlowError::NoPendingEnrollment))
    ));
    // The dropped secret is gone from the store.
    let record = stored(service.store(), USER).await;
    assert_eq!(record["state"], serde_json::json!({"kind": "requested"}));
}

#[tokio::test]
async fn the_confirming_code_cannot_log_in() {
    let (service, clock) = setup();
    let app = begin(&service).await;
    let first = code(&app, &clock);
    assert!(confirms(&service, &first).await);
    assert_eq!(
        service.login(USER, &first, CodeKind::Any).await.unwrap(),
        Outcome::Replayed
    );
}

#[tokio::test]
async fn replays_and_older_codes_are_refused() {
    let (service, clock) = setup();
    let (app, _) = enrolled(&service, &clock).await;
    let previous = app.generate(clock.now() - 30).unwrap();
    let current = code(&app, &clock);
    let Outcome::Accepted(UsedCode::Totp(v)) =
        service.login(USER, &current, CodeKind::Any).await.unwrap()
    else {
        panic!("the current code logs in");
    };
    assert_eq!(v.step, clock.now() / 30);
    assert_eq!(
        service.login(USER, &current, CodeKind::Any).await.unwrap(),
        Outcome::Replayed
    );
    // The previous step is still inside the window, but older than the last used.
    assert_eq!(
        service
            .login(USER, previous.as_str(), CodeKind::Any)
            .await
            .unwrap(),
        Outcome::Replayed
    );
    clock.advance(30);
    assert!(logs_in(&service, &code(&app, &clock)).await);
}

#[tokio::test]
async fn lock_schedule_step_by_step() {
    let (service, clock) = setup();
    let (app, _) = enrolled(&service, &clock).await;
    for _ in 1..=4 {
        assert_eq!(
            service
                .login(USER, &wrong(&app, &clock), CodeKind::Any)
                .await
                .unwrap(),
            Outcome::Invalid
        );
        assert_eq!(service.status(USER).await.unwrap().locked_until, None);
    }
    let mut expected_lock = 30;
    for failures in 5..=12 {
        assert_eq!(
            service
                .login(USER, &wrong(&app, &clock), CodeKind::Any)
                .await
                .unwrap(),
            Outcome::Invalid
        );
        let until = clock.now() + expected_lock;
        let status = service.status(USER).await.unwrap();
        assert_eq!(
            (status.failures, status.locked_until),
            (failures, Some(until))
        );
        // During the lock even the right code is refused unchecked and uncounted.
        clock.advance(expected_lock - 1);
        assert_eq!(
            service
                .login(USER, &code(&app, &clock), CodeKind::Any)
                .await
                .unwrap(),
            Outcome::Locked { until: Some(until) }
        );
        assert_eq!(service.status(USER).await.unwrap().failures, failures);
        clock.advance(1);
        expected_lock = (expected_lock * 2).min(900);
    }
    // Success resets the budget.
    assert!(logs_in(&service, &code(&app, &clock)).await);
    let status = service.status(USER).await.unwrap();
    assert_eq!((status.failures, status.locked_until), (0, None));
}

#[tokio::test]
async fn recovery_codes_work_during_a_soft_lock_and_their_failures_there_do_not_count() {
    let (service, clock) = setup();
    let (app, codes) = enrolled(&service, &clock).await;
    for _ in 0..5 {
        let _ = service
            .login(USER, &wrong(&app, &clock), CodeKind::Any)
            .await
            .unwrap();
    }
    let until = service.status(USER).await.unwrap().locked_until.unwrap();
    // TOTP codes are refused unchecked during the lock...
    assert_eq!(
        service
            .login(USER, &code(&app, &clock), CodeKind::Any)
            .await
            .unwrap(),
        Outcome::Locked { until: Some(until) }
    );
    // ...a wrong recovery code is checked and refused, and not counted (so
    // a password holder cannot race TOTP to its hard lock)...
    let guess = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ23";
    for _ in 0..200 {
        assert_eq!(
            service
                .login(USER, guess, CodeKind::Recovery)
                .await
                .unwrap(),
            Outcome::Invalid
        );
    }
    let status = service.status(USER).await.unwrap();
    assert_eq!((status.failures, status.hard_locked), (5, false));
    // ...and a right one signs in at once and lifts the lock.
    assert!(clock.now() < until);
    assert!(matches!(
        service
            .login(USER, &codes[0], CodeKind::Recovery)
            .await
            .unwrap(),
        Outcome::Accepted(UsedCode::Recovery(_))
    ));
    let status = service.status(USER).await.unwrap();
    assert_eq!((status.failures, status.locked_until), (0, None));
}

/// A record sealed under a key the service does not hold is the
/// operator's error: valid codes and recovery codes answer it, and nothing
/// is counted against the user.
#[tokio::test]
async fn a_record_under_a_key_not_held_is_an_operator_error_and_counts_nothing() {
    let store = MemoryStore::new();
    let clock = ManualClock::new(START);
    let (app, codes) = enrolled(&service_with(&store, &clock, &[1]), &clock).await;
    // Another key with the same id (a key file deleted and made anew), and
    // another id altogether (the old key retired too early).
    let same_id = MfaService::new(
        store.clone(),
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[0xEE; 32]).unwrap()),
        MfaConfig::new("Lumen"),
    );
    let other_id = service_with(&store, &clock, &[2]);
    for service in [&same_id, &other_id] {
        for input in [code(&app, &clock), codes[0].clone()] {
            let answer = service.login(USER, &input, CodeKind::Any).await;
            assert!(
                matches!(
                    answer,
                    Err(MfaError::Flow(FlowError::Internal(InternalError::Sealing(
                        _
                    ))))
                ),
                "{answer:?}"
            );
        }
        assert_eq!(service.status(USER).await.unwrap().failures, 0);
    }
    // With the right key, both still work.
    let right = service_with(&store, &clock, &[1]);
    assert!(
        right
            .login(USER, &codes[0], CodeKind::Any)
            .await
            .unwrap()
            .is_accepted()
    );
}

#[tokio::test]
async fn hard_lock_at_100_is_lifted_by_a_recovery_code_or_an_administrator() {
    let (service, clock) = setup();
    let (app, codes) = enrolled(&service, &clock).await;
    for _ in 0..100 {
        if let Some(until) = service.status(USER).await.unwrap().locked_until {
            clock.set(until);
        }
        assert_eq!(
            service
                .login(USER, &wrong(&app, &clock), CodeKind::Any)
                .await
                .unwrap(),
            Outcome::Invalid
        );
    }
    let status = service.status(USER).await.unwrap();
    assert_eq!(status.failures, 100);
    assert!(status.hard_locked);
    clock.advance(900);
    // The timed lock is over; TOTP stays refused.
    assert_eq!(
        service
            .login(USER, &code(&app, &clock), CodeKind::Any)
            .await
            .unwrap(),
        Outcome::Locked { until: None }
    );
    // A wrong (or used) recovery code is refused and, as during a timed
    // lock, not counted: the failures stay at the hard lock's budget.
    let fake = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ23";
    for _ in 0..3 {
        assert_eq!(
            service.login(USER, fake, CodeKind::Recovery).await.unwrap(),
            Outcome::Invalid
        );
    }
    assert_eq!(service.status(USER).await.unwrap().failures, 100);
    // A recovery code lifts it.
    assert!(logs_in(&service, &codes[0]).await);
    assert!(!service.status(USER).await.unwrap().hard_locked);
    clock.advance(30);
    assert!(logs_in(&service, &code(&app, &clock)).await);

    // Hard-lock again; this time an administrator resets.
    for _ in 0..100 {
        if let Some(until) = service.status(USER).await.unwrap().locked_until {
            clock.set(until);
        }
        let _ = service
            .login(USER, &wrong(&app, &clock), CodeKind::Any)
            .await
            .unwrap();
    }
    assert!(service.status(USER).await.unwrap().hard_locked);
    service.admin_reset(USER).await.unwrap();
    let status = service.status(USER).await.unwrap();
    assert_eq!(
        (status.state, status.failures, status.hard_locked),
        (StateKind::Disabled, 0, false)
    );
    assert_eq!(
        service.requirement(USER, Policy::Required).await.unwrap(),
        Requirement::Enroll
    );
}

#[tokio::test]
async fn recovery_codes_are_single_use_and_regenerable() {
    let (service, clock) = setup();
    let (app, codes) = enrolled(&service, &clock).await;
    assert_eq!(codes.len(), 10);
    // As people type them: lower case, spaces instead of hyphens.
    let typed = codes[3].to_lowercase().replace('-', " ");
    let Outcome::Accepted(UsedCode::Recovery(used)) =
        service.login(USER, &typed, CodeKind::Any).await.unwrap()
    else {
        panic!("a recovery code logs in");
    };
    assert_eq!(used.remaining, 9);
    assert_eq!(
        service.login(USER, &codes[3], CodeKind::Any).await.unwrap(),
        Outcome::Invalid
    );
    assert!(matches!(
        service
            .login(USER, "not-a-recovery-code!", CodeKind::Any)
            .await
            .unwrap(),
        Outcome::Malformed(_)
    ));
    // The dedicated entry points take only their own kind of credential.
    assert!(matches!(
        service
            .login(USER, &codes[4], CodeKind::Totp)
            .await
            .unwrap(),
        Outcome::Malformed(_)
    ));
    assert!(matches!(
        service
            .login(USER, &code(&app, &clock), CodeKind::Recovery)
            .await
            .unwrap(),
        Outcome::Malformed(_)
    ));
    assert!(
        service
            .login(USER, &codes[4], CodeKind::Recovery)
            .await
            .unwrap()
            .is_accepted()
    );
    assert_eq!(service.status(USER).await.unwrap().failures, 0);
    // Regeneration needs a current code, and retires every old code.
    let Outcome::Accepted(fresh) = service
        .regenerate_recovery_codes(USER, &code(&app, &clock))
        .await
        .unwrap()
    else {
        panic!("a current code regenerates");
    };
    assert_eq!(fresh.len(), 10);
    assert_eq!(
        service.login(USER, &codes[0], CodeKind::Any).await.unwrap(),
        Outcome::Invalid
    );
    let first = fresh.expose().next().unwrap().to_owned();
    assert!(logs_in(&service, &first).await);
    // A recovery code regenerates too (a user without the phone), and is
    // used up with the rest.
    let second = fresh.expose().nth(1).unwrap().to_owned();
    let Outcome::Accepted(again) = service
        .regenerate_recovery_codes(USER, &second)
        .await
        .unwrap()
    else {
        panic!("a recovery code regenerates");
    };
    assert_eq!(again.len(), 10);
    assert_eq!(
        service.login(USER, &second, CodeKind::Any).await.unwrap(),
        Outcome::Invalid
    );
    assert!(
        matches!(
            service
                .regenerate_recovery_codes(USER, &codes[1])
                .await
                .unwrap(),
            Outcome::Invalid
        ),
        "a retired code regenerates nothing"
    );
}

/// Starts replacing the authenticator app; returns the new app.
async fn begin_replacement(service: &Service) -> (Totp, String) {
    let ticket = service
        .begin_replacement(USER, "ada@example.com")
        .await
        .unwrap();
    assert!(ticket.qr_svg().unwrap().starts_with("<svg"));
    let secret = ticket.expose_secret().to_owned();
    let app = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(&secret).unwrap(),
    );
    (app, secret)
}

/// A new authenticator app replaces the old one only when a code from the
/// new one confirms it: until then the old one keeps working; after, it is
/// gone, and the recovery codes stay as they were.
#[tokio::test]
async fn an_authenticator_is_replaced_only_when_the_new_one_is_confirmed() {
    let (service, clock) = setup();
    let (old, codes) = enrolled(&service, &clock).await;
    let (new, secret) = begin_replacement(&service).await;
    let status = service.status(USER).await.unwrap();
    assert_eq!(status.state, StateKind::Active);
    assert_eq!(status.replacement_expires_at, Some(clock.now() + 180));
    // Shown again unchanged (a reload), without a write.
    let resumed = service
        .resume_replacement(USER, "ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.expose_secret(), secret);
    // The old app still signs in while the new one waits.
    assert!(logs_in(&service, &code(&old, &clock)).await);
    clock.advance(30);
    // The old app's code does not confirm the new one, and counts.
    assert_eq!(
        service
            .confirm_replacement(USER, &code(&old, &clock))
            .await
            .unwrap(),
        Outcome::Invalid
    );
    assert_eq!(service.status(USER).await.unwrap().failures, 1);
    let confirming = code(&new, &clock);
    assert!(
        service
            .confirm_replacement(USER, &confirming)
            .await
            .unwrap()
            .is_accepted()
    );
    let status = service.status(USER).await.unwrap();
    assert_eq!(status.replacement_expires_at, None);
    assert_eq!(status.failures, 0);
    assert_eq!(status.recovery_codes_left, 10);
    // The confirming code is used up; the old app is gone.
    assert_eq!(
        service
            .login(USER, &confirming, CodeKind::Any)
            .await
            .unwrap(),
        Outcome::Replayed
    );
    clock.advance(30);
    assert_eq!(
        service
            .login(USER, &code(&old, &clock), CodeKind::Any)
            .await
            .unwrap(),
        Outcome::Invalid
    );
    assert!(logs_in(&service, &code(&new, &clock)).await);
    assert!(logs_in(&service, &codes[0]).await);
    // Nothing is pending any more.
    assert!(matches!(
        service.confirm_replacement(USER, &code(&new, &clock)).await,
        Err(MfaError::Flow(FlowError::NoPendingReplacement))
    ));
}

/// A pending replacement is gone after a cancel, a disable, an
/// administrator's reset, or any write after it expired; a recovery code
/// never confirms one (malformed, not counted); the TOTP locks hold.
#[tokio::test]
async fn a_pending_replacement_ends_with_cancel_disable_reset_or_expiry() {
    let store = MemoryStore::new();
    let clock = ManualClock::new(START);
    let service = service_with(&store, &clock, &[1]);
    let (old, codes) = enrolled(&service, &clock).await;
    let pending = |store: MemoryStore| async move {
        let state = &stored(&store, USER).await["state"];
        state["kind"] == "active" && state.get("replacement").is_some()
    };
    let (new, _) = begin_replacement(&service).await;
    assert!(matches!(
        service.confirm_replacement(USER, &codes[0]).await.unwrap(),
        Outcome::Malformed(_)
    ));
    assert_eq!(service.status(USER).await.unwrap().failures, 0);
    service.cancel_replacement(USER).await.unwrap();
    assert!(!pending(store.clone()).await);
    assert!(matches!(
        service.confirm_replacement(USER, &code(&new, &clock)).await,
        Err(MfaError::Flow(FlowError::NoPendingReplacement))
    ));
    // Expired: the next write (a login) drops it from the record.
    let _ = begin_replacement(&service).await;
    clock.advance(181);
    assert!(pending(store.clone()).await);
    assert!(logs_in(&service, &code(&old, &clock)).await);
    assert!(!pending(store.clone()).await);
    // Locks: five wrong codes, then even the new app's right code waits.
    let (new, _) = begin_replacement(&service).await;
    for _ in 0..5 {
        let refused = service
            .confirm_replacement(USER, &wrong(&new, &clock))
            .await
            .unwrap();
        assert_eq!(refused, Outcome::Invalid);
    }
    assert!(matches!(
        service
            .confirm_replacement(USER, &code(&new, &clock))
            .await
            .unwrap(),
        Outcome::Locked { until: Some(_) }
    ));
    // Disable and reset drop it with everything else.
    assert!(
        service
            .disable(USER, Policy::Optional, &codes[1])
            .await
            .unwrap()
            .is_accepted()
    );
    assert!(!pending(store.clone()).await);
    let (_, _) = enrolled(&service, &clock).await;
    let _ = begin_replacement(&service).await;
    service.admin_reset(USER).await.unwrap();
    assert_eq!(
        service.status(USER).await.unwrap().replacement_expires_at,
        None
    );
    assert!(!pending(store).await);
}

/// A replacement needs an active user, lapses after the TTL (the old app
/// unchanged), and a second one started replaces the first.
#[tokio::test]
async fn a_replacement_needs_an_active_user_and_expires() {
    let (service, clock) = setup();
    assert!(matches!(
        service.begin_replacement(USER, "ada@example.com").await,
        Err(MfaError::Flow(FlowError::NotEnrolled))
    ));
    let (old, _) = enrolled(&service, &clock).await;
    let (first, first_secret) = begin_replacement(&service).await;
    let (second, second_secret) = begin_replacement(&service).await;
    assert_ne!(first_secret, second_secret);
    assert_eq!(
        service
            .confirm_replacement(USER, &code(&first, &clock))
            .await
            .unwrap(),
        Outcome::Invalid,
        "the first was replaced"
    );
    clock.advance(181);
    assert!(
        service
            .resume_replacement(USER, "ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        service
            .confirm_replacement(USER, &code(&second, &clock))
            .await
            .unwrap(),
        Outcome::Expired
    );
    assert_eq!(
        service.status(USER).await.unwrap().replacement_expires_at,
        None
    );
    assert_eq!(service.status(USER).await.unwrap().state, StateKind::Active);
    assert!(logs_in(&service, &code(&old, &clock)).await);
}

/// A stored record with a pending replacement reads back the same, and a
/// key rotation re-seals both secrets at the next write.
#[tokio::test]
async fn a_pending_replacement_is_stored_and_resealed() {
    let store = MemoryStore::new();
    let clock = ManualClock::new(START);
    let service = service_with(&store, &clock, &[1]);
    let (old, _) = enrolled(&service, &clock).await;
    let (new, _) = begin_replacement(&service).await;
    let record = stored(&store, USER).await;
    assert_eq!(record["state"]["secret"]["key"], 1);
    assert_eq!(record["state"]["replacement"]["secret"]["key"], 1);
    // Rotate to key 2; a login writes the record, re-sealing both secrets.
    let rotated = service_with(&store, &clock, &[2, 1]);
    assert!(
        rotated
            .login(USER, &code(&old, &clock), CodeKind::Any)
            .await
            .unwrap()
            .is_accepted()
    );
    let record = stored(&store, USER).await;
    assert_eq!(record["state"]["secret"]["key"], 2);
    assert_eq!(record["state"]["replacement"]["secret"]["key"], 2);
    clock.advance(30);
    assert!(
        rotated
            .confirm_replacement(USER, &code(&new, &clock))
            .await
            .unwrap()
            .is_accepted()
    );
}

#[tokio::test]
async fn disable_follows_the_policy() {
    let (service, clock) = setup();
    let (app, _) = enrolled(&service, &clock).await;
    assert!(matches!(
        service
            .disable(USER, Policy::Required, &code(&app, &clock))
            .await,
        Err(MfaError::Flow(FlowError::PolicyForbids))
    ));
    assert_eq!(
        service
            .disable(USER, Policy::Optional, &wrong(&app, &clock))
            .await
            .unwrap(),
        Outcome::Invalid
    );
    assert!(
        service
            .disable(USER, Policy::Optional, &code(&app, &clock))
            .await
            .unwrap()
            .is_accepted()
    );
    let status = service.status(USER).await.unwrap();
    assert_eq!(
        (status.state, status.recovery_codes_left),
        (StateKind::Disabled, 0)
    );
    assert_eq!(
        service.requirement(USER, Policy::Optional).await.unwrap(),
        Requirement::Proceed
    );
}

/// An optional opt-in can be put off before it is confirmed (from the
/// registration form or the account page), back to MFA off; a required
/// user's cannot, nor can an active user's MFA be turned off this way.
#[tokio::test]
async fn an_unfinished_optional_enrollment_can_be_cancelled() {
    let (service, clock) = setup();
    service.opt_in(USER).await.unwrap();
    assert!(matches!(
        service.cancel_enrollment(USER, Policy::Required).await,
        Err(MfaError::Flow(FlowError::PolicyForbids))
    ));
    service
        .cancel_enrollment(USER, Policy::Optional)
        .await
        .unwrap();
    assert_eq!(
        service.status(USER).await.unwrap().state,
        StateKind::Disabled
    );
    assert_eq!(
        service.requirement(USER, Policy::Optional).await.unwrap(),
        Requirement::Proceed
    );
    // Pending (a QR code shown): cancelled too, and that secret is gone.
    let app = begin(&service).await;
    service
        .cancel_enrollment(USER, Policy::Optional)
        .await
        .unwrap();
    assert!(matches!(
        service.confirm_enrollment(USER, &code(&app, &clock)).await,
        Err(MfaError::Flow(FlowError::NoPendingEnrollment))
    ));
    // Nothing to cancel is fine; an active user's MFA stays on.
    service
        .cancel_enrollment(USER, Policy::Optional)
        .await
        .unwrap();
    let (_, _) = enrolled(&service, &clock).await;
    assert!(matches!(
        service.cancel_enrollment(USER, Policy::Optional).await,
        Err(MfaError::Flow(FlowError::AlreadyEnrolled))
    ));
    assert_eq!(service.status(USER).await.unwrap().state, StateKind::Active);
}

#[tokio::test]
async fn what_a_login_needs() {
    let (service, clock) = setup();
    let need = |p| service.requirement(USER, p);
    assert_eq!(need(Policy::Optional).await.unwrap(), Requirement::Proceed);
    assert_eq!(need(Policy::Required).await.unwrap(), Requirement::Enroll);
    service.opt_in(USER).await.unwrap();
    assert_eq!(need(Policy::Optional).await.unwrap(), Requirement::Enroll);
    let app = begin(&service).await;
    assert_eq!(need(Policy::Optional).await.unwrap(), Requirement::Enroll);
    let _ = service
        .confirm_enrollment(USER, &code(&app, &clock))
        .await
        .unwrap();
    assert_eq!(need(Policy::Optional).await.unwrap(), Requirement::Code);
    assert_eq!(need(Policy::Required).await.unwrap(), Requirement::Code);
    assert!(matches!(
        service.begin_enrollment(USER, "ada@example.com").await,
        Err(MfaError::Flow(FlowError::AlreadyEnrolled))
    ));
}

#[tokio::test]
async fn a_new_enrollment_replaces_an_unconfirmed_secret() {
    let (service, clock) = setup();
    let old = begin(&service).await;
    let new = begin(&service).await;
    assert!(matches!(
        service
            .confirm_enrollment(USER, &code(&old, &clock))
            .await
            .unwrap(),
        Outcome::Invalid
    ));
    assert!(confirms(&service, &code(&new, &clock)).await);
}

#[tokio::test]
async fn a_pending_enrollment_is_shown_again_unchanged_until_it_expires() {
    let (service, clock) = setup();
    assert!(
        service
            .resume_enrollment(USER, "ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let first = service
        .begin_enrollment(USER, "ada@example.com")
        .await
        .unwrap();
    let version = service.store().load(USER).await.unwrap().unwrap().version();
    clock.advance(100);
    let again = service
        .resume_enrollment(USER, "ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*again.expose_uri(), *first.expose_uri());
    assert_eq!(*again.expose_secret(), *first.expose_secret());
    assert_eq!(again.qr_svg().unwrap(), first.qr_svg().unwrap());
    assert_eq!(again.expires_at(), first.expires_at());
    // Reading it writes nothing.
    let after = service.store().load(USER).await.unwrap().unwrap().version();
    assert_eq!(after, version);
    // The code from the app that scanned the first QR code confirms.
    let app = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(first.expose_secret()).unwrap(),
    );
    clock.advance(79);
    assert!(
        service
            .resume_enrollment(USER, "ada@example.com")
            .await
            .unwrap()
            .is_some()
    );
    assert!(confirms(&service, &code(&app, &clock)).await);
    // Once active there is nothing pending to show.
    assert!(
        service
            .resume_enrollment(USER, "ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_expired_enrollment_is_not_shown_again() {
    let (service, clock) = setup();
    service
        .begin_enrollment(USER, "ada@example.com")
        .await
        .unwrap();
    clock.advance(180);
    assert!(
        service
            .resume_enrollment(USER, "ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn malformed_codes_are_not_counted() {
    let (service, clock) = setup();
    let (_, _) = enrolled(&service, &clock).await;
    for input in ["", "12345", "1234567", "١٢٣٤٥٦", "12a456"] {
        assert!(matches!(
            service.login(USER, input, CodeKind::Any).await.unwrap(),
            Outcome::Malformed(_)
        ));
    }
    assert_eq!(service.status(USER).await.unwrap().failures, 0);
}

#[tokio::test]
async fn key_rotation_reseals_on_the_next_write() {
    let clock = ManualClock::new(START);
    let store = MemoryStore::new();
    let old = service_with(&store, &clock, &[1]);
    let (app, _) = enrolled(&old, &clock).await;
    let sealed_key = async || stored(&store, USER).await["state"]["secret"]["key"].clone();
    assert_eq!(sealed_key().await, 1);

    // Key 2 becomes current; key 1 still opens.
    let rotated = service_with(&store, &clock, &[2, 1]);
    assert!(logs_in(&rotated, &code(&app, &clock)).await);
    assert_eq!(sealed_key().await, 2);

    // Key 1 retired: the re-sealed record still opens.
    let retired = service_with(&store, &clock, &[2]);
    clock.advance(30);
    assert!(logs_in(&retired, &code(&app, &clock)).await);
    // ...but the service that only knows key 1 no longer can.
    clock.advance(30);
    assert!(matches!(
        old.login(USER, &code(&app, &clock), CodeKind::Any).await,
        Err(MfaError::Flow(FlowError::Internal(InternalError::Sealing(
            OpenError::UnknownKey(2)
        ))))
    ));
}

#[tokio::test]
async fn a_sealed_secret_moved_to_another_user_does_not_open() {
    let (service, clock) = setup();
    let (app, _) = enrolled(&service, &clock).await;
    // A copy of the user's row under mallory's id, as its first version.
    let mut record = stored(service.store(), USER).await;
    record["version"] = 1.into();
    let copy = StoredRecord::new(1, record.to_string());
    assert_eq!(
        service.store().save("mallory", &copy).await.unwrap(),
        mfa_flow::Saved::Stored
    );
    assert!(matches!(
        service
            .login("mallory", &code(&app, &clock), CodeKind::Any)
            .await,
        Err(MfaError::Flow(FlowError::Internal(InternalError::Sealing(
            OpenError::Forged
        ))))
    ));
}

#[tokio::test]
async fn operations_on_the_wrong_state_are_typed_errors() {
    let (service, _) = setup();
    assert!(matches!(
        service.login(USER, "123456", CodeKind::Any).await,
        Err(MfaError::Flow(FlowError::NotEnrolled))
    ));
    assert!(matches!(
        service.confirm_enrollment(USER, "123456").await,
        Err(MfaError::Flow(FlowError::NoPendingEnrollment))
    ));
    assert!(matches!(
        service.begin_enrollment(USER, "a:b").await,
        Err(MfaError::Flow(FlowError::InvalidAccountName(_)))
    ));
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once) a global subscriber that keeps every event of this test
/// binary in memory: the other tests' events are checked for leaks too.
fn audit_log() -> &'static Captured {
    static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        captured
    })
}

#[tokio::test]
async fn audit_events_name_the_user_and_outcome_and_never_a_secret() {
    let captured = audit_log();
    let user = "audit-user";
    let (service, clock) = setup();
    let ticket = service
        .begin_enrollment(user, "ada@example.com")
        .await
        .unwrap();
    let app = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(ticket.expose_secret()).unwrap(),
    );
    let first = code(&app, &clock);
    let enrolled = service.confirm_enrollment(user, &first).await.unwrap();
    let codes: Vec<String> = enrolled
        .accepted()
        .unwrap()
        .recovery_codes
        .expose()
        .map(str::to_owned)
        .collect();
    let bad = wrong(&app, &clock);
    let _ = service.login(user, &bad, CodeKind::Any).await.unwrap();
    let _ = service.login(user, &codes[0], CodeKind::Any).await.unwrap();
    let secrets = [
        ticket.expose_secret().to_owned(),
        first,
        bad,
        codes[0].clone(),
        codes[1].clone(),
    ];

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("user=\"audit-user\""))
        .collect();
    assert!(ours.iter().all(|l| l.contains("mfa_flow::audit")));
    for (event, outcome) in [
        ("begin_enrollment", "ok"),
        ("confirm_enrollment", "accepted"),
        ("login", "invalid"),
        ("login", "accepted"),
    ] {
        let wanted = format!("event=\"{event}\" outcome=\"{outcome}\"");
        assert!(
            ours.iter().any(|l| l.contains(&wanted)),
            "{wanted} in {ours:#?}"
        );
    }
    // Long secrets must not appear anywhere; six-digit codes not as a token
    // (they could occur by chance inside a timestamp).
    let tokens: Vec<&str> = log.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    for secret in &secrets {
        let leaked = if secret.len() > 8 {
            log.contains(secret.as_str())
        } else {
            tokens.contains(&secret.as_str())
        };
        assert!(!leaked, "a secret leaked into the log");
    }
}

/// A store where every write meets a concurrent writer.
#[derive(Clone)]
struct AlwaysConflicting;

impl Store for AlwaysConflicting {
    type Error = std::convert::Infallible;
    async fn load(&self, _: &str) -> Result<Option<StoredRecord>, Self::Error> {
        Ok(None)
    }
    async fn save(&self, _: &str, _: &StoredRecord) -> Result<mfa_flow::Saved, Self::Error> {
        Ok(mfa_flow::Saved::Conflict)
    }
    async fn delete(&self, _: &str, _: u64) -> Result<mfa_flow::Saved, Self::Error> {
        Ok(mfa_flow::Saved::Conflict)
    }
}

#[tokio::test]
async fn retries_on_conflict_are_bounded() {
    let service = MfaService::new(
        AlwaysConflicting,
        ManualClock::new(START),
        keyring(&[1]),
        MfaConfig::new("Lumen").with_max_retries(7),
    );
    assert!(matches!(
        service.opt_in(USER).await,
        Err(MfaError::Contention)
    ));
}

/// A stored record that cannot be read (text that is not a record, or a
/// version column that disagrees with it) is an internal error for every
/// operation, audited; an administrator's reset replaces it, audited as
/// `corrupt`, and the user can start over.
#[tokio::test]
async fn a_corrupt_record_is_refused_and_audited_and_a_reset_replaces_it() {
    let captured = audit_log();
    let (service, clock) = setup();
    // A well-formed record that says it is version 1.
    let pending_version_1 = {
        let (other, _) = setup();
        begin(&other).await;
        stored(other.store(), USER).await.to_string()
    };
    for (user, stored) in [
        ("corrupt-text", StoredRecord::new(3, "not a record")),
        ("corrupt-version", StoredRecord::new(9, pending_version_1)),
    ] {
        // The store's rows, at version 3 and 9: saved over versions 2 and 8.
        let store = service.store();
        for v in 1..stored.version() {
            let filler = StoredRecord::new(v, "filler");
            assert_eq!(
                store.save(user, &filler).await.unwrap(),
                mfa_flow::Saved::Stored
            );
        }
        assert_eq!(
            store.save(user, &stored).await.unwrap(),
            mfa_flow::Saved::Stored
        );
        let corrupt = |result: Result<_, MfaError<_>>| {
            matches!(
                result,
                Err(MfaError::Flow(FlowError::Internal(
                    InternalError::CorruptRecord(_)
                )))
            )
        };
        assert!(corrupt(service.status(user).await.map(|_| ())));
        assert!(corrupt(
            service
                .login(user, "123456", CodeKind::Any)
                .await
                .map(|_| ())
        ));
        assert!(corrupt(service.opt_in(user).await));

        service.admin_reset(user).await.unwrap();
        let status = service.status(user).await.unwrap();
        assert_eq!(status.state, StateKind::Disabled);
        assert_eq!(
            service.store().load(user).await.unwrap().unwrap().version(),
            stored.version() + 1
        );
        let app = begin_for(&service, user).await;
        assert!(
            service
                .confirm_enrollment(user, &code(&app, &clock))
                .await
                .unwrap()
                .is_accepted()
        );
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for user in ["corrupt-text", "corrupt-version"] {
        let ours: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&format!("user=\"{user}\"")))
            .collect();
        for wanted in [
            "event=\"status\" outcome=\"error\"".to_owned(),
            "event=\"login\" outcome=\"error\"".to_owned(),
            "event=\"admin_reset\" outcome=\"corrupt\"".to_owned(),
        ] {
            assert!(
                ours.iter().any(|l| l.contains(&wanted)),
                "{wanted} in {ours:#?}"
            );
        }
    }
}
