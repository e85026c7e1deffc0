//! TOTP verification and generation: totp-core against totp-rs 6, and
//! against the floor, the SHA-1 compressions a pre-keyed ±1 verification
//! cannot avoid, all measured in the same run.
//!
//! Run with `cargo bench -p mfa-benches --bench totp`.

#![allow(clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use totp_core::{Secret, Totp, TotpConfig};

/// The RFC 6238 SHA-1 seed and a time from its Appendix B.
const KEY: &[u8; 20] = b"12345678901234567890";
const NOW: u64 = 1_111_111_109;
/// Six digits that match no step of the ±1 window at `NOW` for `KEY`.
const MISS: &str = "000000";

fn peer() -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_secret(KEY.to_vec())
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .build()
        .expect("valid totp-rs configuration")
}

fn ours() -> Totp {
    Totp::new(
        TotpConfig::default(),
        &Secret::from_bytes(KEY).expect("valid key"),
    )
}

fn verify(c: &mut Criterion) {
    let peer = peer();
    let totp = ours();
    let secret = Secret::from_bytes(KEY).expect("valid key");
    let hit = totp.generate(NOW).expect("time after T0");
    let hit = hit.as_str().to_owned();
    assert!(totp.verify(MISS, NOW).is_err() && peer.check(MISS, NOW).is_none());
    assert!(totp.verify(&hit, NOW).is_ok() && peer.check(&hit, NOW).is_some());

    for (name, code) in [("miss", MISS), ("hit", hit.as_str())] {
        let mut group = c.benchmark_group(format!("verify_{name}"));
        group.bench_function("totp-core", |b| {
            b.iter(|| black_box(&totp).verify(black_box(code), black_box(NOW)))
        });
        group.bench_function("totp-core+key-schedule", |b| {
            b.iter(|| {
                Totp::new(TotpConfig::default(), black_box(&secret))
                    .verify(black_box(code), black_box(NOW))
            })
        });
        group.bench_function("totp-rs", |b| {
            b.iter(|| black_box(&peer).check(black_box(code), black_box(NOW)))
        });
        group.finish();
    }
}

fn generate(c: &mut Criterion) {
    let peer = peer();
    let totp = ours();
    let secret = Secret::from_bytes(KEY).expect("valid key");
    assert_eq!(
        totp.generate(NOW).expect("after T0").as_str(),
        peer.generate(NOW).to_string()
    );
    let mut group = c.benchmark_group("generate");
    group.bench_function("totp-core", |b| {
        b.iter(|| black_box(&totp).generate(black_box(NOW)))
    });
    group.bench_function("totp-core+key-schedule", |b| {
        b.iter(|| Totp::new(TotpConfig::default(), black_box(&secret)).generate(black_box(NOW)))
    });
    group.bench_function("totp-rs", |b| {
        b.iter(|| black_box(&peer).generate(black_box(NOW)))
    });
    group.finish();
}

/// The same ±1 verification written the usual way, with the `hmac` crate:
/// the keyed state is cloned per step (the key schedule is not repeated),
/// then the counter is hashed and truncated.
fn hmac_crate(c: &mut Criterion) {
    use hmac::{KeyInit, Mac};
    let keyed = hmac::Hmac::<sha1::Sha1>::new_from_slice(KEY).expect("any key length");
    let step = NOW / 30;
    let mut group = c.benchmark_group("verify_miss");
    group.bench_function("hmac-crate-prekeyed", |b| {
        b.iter(|| {
            let submitted: u32 = black_box(MISS).parse().unwrap_or(u32::MAX);
            let mut found = false;
            for counter in step - 1..=step + 1 {
                let mut mac = black_box(&keyed).clone();
                mac.update(&counter.to_be_bytes());
                let digest = mac.finalize().into_bytes();
                let offset = usize::from(digest[19] & 0x0f);
                let word = u32::from_be_bytes([
                    digest[offset],
                    digest[offset + 1],
                    digest[offset + 2],
                    digest[offset + 3],
                ]);
                found |= (word & 0x7fff_ffff) % 1_000_000 == submitted;
            }
            found
        })
    });
    group.finish();
}

/// The floor: the six SHA-1 compression-function calls a pre-keyed ±1
/// verification needs, through the `sha1` crate, with nothing else.
///
/// - `6-independent`: six calls with no data flowing between them, so the
///   processor overlaps them as far as it can. The strictest floor.
/// - `3-chains-of-2`: the data flow HMAC imposes: for each of three counters
///   an inner compression whose digest feeds an outer compression.
fn floor(c: &mut Criterion) {
    let state = [
        0x6745_2301u32,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let block = [[0x5au8; 64]];
    let mut group = c.benchmark_group("floor");
    group.bench_function("6-independent", |b| {
        b.iter(|| {
            let mut out = 0u32;
            for _ in 0..6 {
                let mut s = black_box(state);
                sha1::block_api::compress(&mut s, black_box(&block));
                out ^= s[0];
            }
            out
        })
    });
    group.bench_function("3-chains-of-2", |b| {
        b.iter(|| {
            let mut out = 0u32;
            for _ in 0..3 {
                let mut inner = black_box(state);
                sha1::block_api::compress(&mut inner, black_box(&block));
                let mut outer_block = block;
                for (dst, word) in outer_block[0].chunks_exact_mut(4).zip(inner) {
                    dst.copy_from_slice(&word.to_be_bytes());
                }
                let mut outer = black_box(state);
                sha1::block_api::compress(&mut outer, &outer_block);
                out ^= outer[0];
            }
            out
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = verify, generate, hmac_crate, floor
}
criterion_main!(benches);
