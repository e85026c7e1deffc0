//! The verify path allocates nothing: a counting global allocator (dhat in
//! testing mode) sees zero heap blocks across verifications.
//!
//! dhat's profiler is process-global and counts every thread's blocks, so
//! this binary holds this one check and runs without the test harness
//! (whose own threads may allocate meanwhile).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use totp_core::{Algorithm, Digits, Hotp, HotpConfig, Secret, Totp, TotpConfig};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn main() {
    verification_allocates_nothing();
    println!("verification_allocates_nothing: ok");
}

fn verification_allocates_nothing() {
    // Everything that may allocate happens before the profiler starts.
    let secrets: Vec<_> = [20, 32, 64]
        .into_iter()
        .map(|n| Secret::generate_with_len(n).unwrap())
        .collect();
    let algorithms = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];
    let submitted = ["123456", "123 456", "12345678", "١٢٣٤٥٦", "nope", ""];

    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get();

    let mut accepted = 0u32;
    for (secret, algorithm) in secrets.iter().zip(algorithms) {
        let config = TotpConfig::default()
            .with_algorithm(algorithm)
            .with_look_behind(2)
            .and_then(|c| c.with_look_ahead(2))
            .unwrap();
        let totp = Totp::new(config, secret);
        for time in [0u64, 59, 1_700_000_000, u64::MAX] {
            let code = totp.generate(time).unwrap();
            accepted += u32::from(totp.verify(code.as_str(), time).is_ok());
            accepted += u32::from(totp.verify_after(code.as_str(), time, None).is_ok());
            for s in submitted {
                let _ = totp.verify(s, time);
            }
        }
        let hotp = Hotp::new(
            HotpConfig::default()
                .with_algorithm(algorithm)
                .with_digits(Digits::EIGHT),
            secret,
        );
        let code = hotp.generate(5);
        accepted += u32::from(hotp.verify(code.as_str(), 0).is_ok());
    }

    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
    dhat::assert_eq!(after.total_bytes, before.total_bytes);
    // The work really happened: 3 algorithms x (4 times x 2 + 1 HOTP).
    dhat::assert!(accepted >= 3 * 9 - 3);
}
