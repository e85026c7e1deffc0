//! A verified login through the mfa-flow service on the in-memory store
//! (unsealing, throttle, compare-and-swap and audit included), against the
//! bare totp-core verification of the same code in the same run.
//!
//! Run with `cargo bench -p mfa-benches --bench flow`.

#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm_siv::Aes256GcmSiv;
use aes_gcm_siv::aead::{self, Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use criterion::{Criterion, criterion_group, criterion_main};
use mfa_flow::totp_core::{Code, Secret, Totp, TotpConfig};
use mfa_flow::{AppKey, CodeKind, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService};

const START: u64 = 1_700_000_000;
const USER: &str = "bench-user";

/// Codes for `n` successive steps from `first_time`, computed up front so
/// the timed loop only verifies. A step whose code equals a neighbour's (one
/// in a million) is skipped: a verifier takes the latest matching step, so
/// such a code would use up the next step too.
fn codes(app: &Totp, first_time: u64, n: u64) -> Vec<(u64, Code)> {
    let at = |t: u64| app.generate(t).expect("after T0");
    (0..)
        .map(|i| first_time + 30 * i)
        .filter(|t| at(*t) != at(t + 30) && at(*t) != at(t - 30))
        .take(usize::try_from(n).expect("fits"))
        .map(|t| (t, at(t)))
        .collect()
}

fn login(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let clock = ManualClock::new(START);
    let service = MfaService::new(
        MemoryStore::new(),
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[7; 32]).expect("32 bytes")),
        MfaConfig::new("Bench"),
    );
    let (secret, app) = runtime.block_on(async {
        let ticket = service
            .begin_enrollment(USER, "bench@example.com")
            .await
            .expect("enrollment starts");
        let secret = Secret::from_base32(ticket.expose_secret()).expect("base32");
        let app = Totp::new(TotpConfig::default(), &secret);
        let first = app.generate(clock.now()).expect("after T0");
        assert!(
            service
                .confirm_enrollment(USER, first.as_str())
                .await
                .expect("store")
                .is_accepted()
        );
        (secret, app)
    });

    let mut group = c.benchmark_group("login");
    group.bench_function("mfa-flow service, memory store", |b| {
        b.iter_custom(|iters| {
            let from = clock.now() + 60;
            let codes = codes(&app, from, iters);
            runtime.block_on(async {
                let start = Instant::now();
                for (t, code) in &codes {
                    clock.set(*t);
                    let outcome = service
                        .login(USER, code.as_str(), CodeKind::Any)
                        .await
                        .expect("store");
                    assert!(outcome.is_accepted());
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("totp-core verify_after, from the secret", |b| {
        b.iter_custom(|iters| {
            let from = clock.now() + 60;
            let codes = codes(&app, from, iters);
            let mut last = (from - 60) / 30;
            let start = Instant::now();
            for (t, code) in &codes {
                let totp = Totp::new(TotpConfig::default(), black_box(&secret));
                let matched = totp
                    .verify_after(code.as_str(), *t, Some(last))
                    .expect("a fresh code verifies");
                last = matched.step;
            }
            start.elapsed()
        });
    });
    group.finish();
}

/// The unsealing step alone: one AEAD opening a 20-byte secret (36 bytes
/// with the tag) with a user-id AAD, key setup included (and, for
/// comparison, with the cipher kept).
fn open_with<A: Aead + KeyInit>(c: &mut Criterion, name: &str, nonce: &aead::Nonce<A>) {
    let key = aead::Key::<A>::try_from(&[7u8; 32][..]).expect("a 256-bit key");
    let aad = b"mfa-flow/totp-secret/v1\0bench-user";
    let sealed = A::new(&key)
        .encrypt(
            nonce,
            Payload {
                msg: &[1u8; 20],
                aad,
            },
        )
        .expect("encrypts");
    let open = |cipher: &A| {
        cipher.decrypt(
            nonce,
            Payload {
                msg: black_box(&sealed),
                aad,
            },
        )
    };
    c.bench_function(&format!("login/{name} open, 20-byte secret"), |b| {
        b.iter(|| open(&A::new(black_box(&key))))
    });
    let kept = A::new(&key);
    c.bench_function(&format!("login/{name} open, cipher kept"), |b| {
        b.iter(|| open(black_box(&kept)))
    });
}

fn unseal(c: &mut Criterion) {
    open_with::<XChaCha20Poly1305>(c, "xchacha20poly1305", &[9u8; 24].into());
    open_with::<Aes256GcmSiv>(c, "aes-256-gcm-siv", &[9u8; 12].into());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = login, unseal
}
criterion_main!(benches);
