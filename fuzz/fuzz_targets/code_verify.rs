//! Any code text, time, last-used step and configuration into TOTP
//! verification: no panic, and an accepted code is the code of the step
//! reported, inside the window, after the last used step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use totp_core::{Algorithm, Digits, Secret, Totp, TotpConfig};

fuzz_target!(|input: (u64, u64, u64, u8, u8, u8, &str)| {
    let (time, last_step, period, shape, behind, ahead, code) = input;
    let algorithm = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][usize::from(shape % 3)];
    let digits = Digits::new(6 + (shape / 3) % 3).unwrap_or_default();
    let Ok(config) = TotpConfig::default()
        .with_algorithm(algorithm)
        .with_digits(digits)
        .with_period(period)
        .and_then(|c| c.with_look_behind(behind))
        .and_then(|c| c.with_look_ahead(ahead))
    else {
        return;
    };
    let totp = Totp::new(
        config,
        &Secret::from_bytes(b"12345678901234567890").unwrap(),
    );
    if let Ok(matched) = totp.verify_after(code, time, Some(last_step)) {
        assert!(matched.step > last_step);
        let step = config.step_at(time).unwrap();
        assert!(matched.step >= step.saturating_sub(u64::from(behind)));
        assert!(matched.step <= step.saturating_add(u64::from(ahead)));
        let expected = totp.generate_at_step(matched.step);
        assert_eq!(digits.parse(code), Ok(expected.value()));
    }
});
