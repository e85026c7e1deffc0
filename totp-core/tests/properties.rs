//! Property tests: round trips, the verification window, and no panic on any
//! input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use totp_core::{
    Algorithm, Digits, HotpConfig, KeyUri, Secret, Totp, TotpConfig, UriKind, VerifyError,
};

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

fn digits() -> impl Strategy<Value = Digits> {
    (6u8..=8).prop_map(|d| Digits::new(d).unwrap())
}

fn secret() -> impl Strategy<Value = Secret> {
    proptest::collection::vec(any::<u8>(), 10..=128).prop_map(|b| Secret::from_bytes(&b).unwrap())
}

fn config() -> impl Strategy<Value = TotpConfig> {
    (
        algorithm(),
        digits(),
        prop_oneof![Just(30u64), 1u64..=3600, Just(u64::MAX)],
        prop_oneof![Just(0u64), any::<u64>()],
        0u8..=10,
        0u8..=10,
    )
        .prop_map(|(a, d, p, t0, behind, ahead)| {
            TotpConfig::default()
                .with_algorithm(a)
                .with_digits(d)
                .with_period(p)
                .unwrap()
                .with_t0(t0)
                .with_look_behind(behind)
                .and_then(|c| c.with_look_ahead(ahead))
                .unwrap()
        })
}

/// Times at or after T0, biased towards the edges.
fn time_after(t0: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(t0),
        Just(u64::MAX),
        t0..=u64::MAX,
        (0u64..100).prop_map(move |d| u64::MAX - d.min(u64::MAX - t0)),
    ]
}

proptest! {
    #[test]
    fn base32_round_trips(secret in secret(), lower in any::<bool>(), group in 0usize..9) {
        let text = secret.expose_base32();
        prop_assert!(!text.contains('='));
        prop_assert_eq!(text.to_uppercase(), text.as_str());
        let mut variant = if lower { text.to_lowercase() } else { text.to_string() };
        if group > 0 {
            // Spaces every `group` symbols, as apps display secrets.
            variant = variant
                .as_bytes()
                .chunks(group)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(" ");
        }
        prop_assert_eq!(Secret::from_base32(&variant).unwrap(), secret);
    }

    #[test]
    fn uri_round_trips(
        secret in secret(),
        issuer in proptest::option::of("\\PC{1,20}"),
        account in "\\PC{1,31}".prop_filter("valid account", |a| !a.contains(':') && !a.starts_with(' ')),
        algorithm in algorithm(),
        digits in digits(),
        period in prop_oneof![Just(30u64), 1u64..=u64::MAX],
        hotp in any::<bool>(),
        counter in any::<u64>(),
    ) {
        let uri = if hotp {
            let config = HotpConfig::default().with_algorithm(algorithm).with_digits(digits);
            KeyUri::hotp(&secret, issuer.as_deref(), &account, &config, counter).unwrap()
        } else {
            let config = TotpConfig::default()
                .with_algorithm(algorithm)
                .with_digits(digits)
                .with_period(period)
                .unwrap();
            KeyUri::totp(&secret, issuer.as_deref(), &account, &config).unwrap()
        };
        let text = uri.expose_uri();
        prop_assert!(!text.contains(' ') && !text.contains('+'));
        let parsed = KeyUri::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &uri);
        prop_assert_eq!(parsed.issuer(), issuer.as_deref());
        if let UriKind::Totp { period: p } = parsed.kind() {
            prop_assert_eq!(p.get(), period);
        }
    }

    #[test]
    fn a_generated_code_verifies(
        (config, time) in config().prop_flat_map(|c| (Just(c), time_after(c.t0()))),
        secret in secret(),
    ) {
        let totp = Totp::new(config, &secret);
        let code = totp.generate(time).unwrap();
        let step = config.step_at(time).unwrap();
        let matched = totp.verify(code.as_str(), time).unwrap();
        // The latest matching step wins; it can only differ from `step` by a
        // code collision inside the window.
        prop_assert_eq!(&totp.generate_at_step(matched.step), &code);
        prop_assert!(matched.step >= step);
        // Refused once its step is used; accepted while it is not.
        prop_assert_eq!(
            totp.verify_after(code.as_str(), time, Some(matched.step)),
            Err(VerifyError::Replayed)
        );
        if let Some(before) = step.checked_sub(1) {
            prop_assert!(totp.verify_after(code.as_str(), time, Some(before)).is_ok());
        }
    }

    #[test]
    fn codes_outside_the_window_are_refused(
        config in config(),
        secret in secret(),
        step in 20u64..1_000_000_000,
        distance in 1u64..1000,
        ahead in any::<bool>(),
    ) {
        let totp = Totp::new(config, &secret);
        let time = config.t0().saturating_add(step.saturating_mul(config.period()));
        let step = config.step_at(time).unwrap();
        let far = if ahead {
            step.saturating_add(u64::from(config.look_ahead()) + distance)
        } else {
            step.saturating_sub(u64::from(config.look_behind()) + distance)
        };
        let first = step.saturating_sub(u64::from(config.look_behind()));
        let last = step.saturating_add(u64::from(config.look_ahead()));
        prop_assume!(far < first || far > last);
        let code = totp.generate_at_step(far);
        match totp.verify(code.as_str(), time) {
            Err(VerifyError::Invalid) => {}
            // Only a genuine collision with a step inside the window passes.
            Ok(m) => {
                prop_assert!((first..=last).contains(&m.step));
                prop_assert_eq!(&totp.generate_at_step(m.step), &code);
            }
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }

    #[test]
    fn no_panic_on_any_input(
        code in prop_oneof!["\\PC*", "[0-9 ]{0,20}", ".*"],
        time in any::<u64>(),
        last in proptest::option::of(any::<u64>()),
        period in any::<u64>(),
        t0 in any::<u64>(),
        behind in any::<u8>(),
        ahead in any::<u8>(),
        text in ".*",
    ) {
        let config = TotpConfig::default()
            .with_t0(t0)
            .with_period(period)
            .and_then(|c| c.with_look_behind(behind))
            .and_then(|c| c.with_look_ahead(ahead))
            .unwrap_or_default();
        let totp = Totp::new(config, &Secret::from_bytes(&[7; 20]).unwrap());
        let _ = totp.verify(&code, time);
        let _ = totp.verify_after(&code, time, last);
        let _ = totp.generate(time);
        let _ = config.seconds_left(time);
        let _ = Secret::from_base32(&text);
        let _ = KeyUri::parse(&text);
        let _ = KeyUri::parse(&format!("otpauth://totp/{text}"));
        let _ = KeyUri::parse(&format!("otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&{text}"));
    }
}
