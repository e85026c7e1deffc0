//! Cross-check against oathtool (OATH Toolkit), an independent C
//! implementation: 1,000 random cases over secret, time, T0, algorithm,
//! digits and period, plus HOTP counters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fmt::Write as _;
use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use totp_core::{Algorithm, Digits, Hotp, HotpConfig, Secret, Totp, TotpConfig};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn oathtool(args: &[String]) -> String {
    common::stdout_of(Command::new("oathtool").args(args))
        .trim()
        .to_string()
}

#[derive(Debug, Clone)]
struct Case {
    key: Vec<u8>,
    algorithm: Algorithm,
    digits: u8,
    period: u64,
    t0: u64,
    since_t0: u64,
    hotp: bool,
    counter: u64,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(any::<u8>(), 10..=64),
        prop_oneof![
            Just(Algorithm::Sha1),
            Just(Algorithm::Sha256),
            Just(Algorithm::Sha512)
        ],
        6u8..=8,
        prop_oneof![Just(30u64), Just(60), 1u64..=600],
        prop_oneof![Just(0u64), 0u64..=2_000_000_000],
        0u64..=(1 << 34),
        prop::bool::weighted(0.2),
        any::<u64>(),
    )
        .prop_map(
            |(key, algorithm, digits, period, t0, since_t0, hotp, counter)| Case {
                key,
                algorithm,
                digits,
                period,
                t0,
                since_t0,
                // oathtool's HOTP mode is SHA-1 only.
                hotp: hotp && algorithm == Algorithm::Sha1,
                counter,
            },
        )
}

#[test]
fn agrees_with_oathtool_on_1000_random_cases() {
    if !common::require("oathtool", &["--version"], "apt-get install oathtool") {
        return;
    }
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&cases(), |case| {
            let secret = Secret::from_bytes(&case.key).unwrap();
            let digits = Digits::new(case.digits).unwrap();
            let (ours, theirs) = if case.hotp {
                let hotp = Hotp::new(
                    HotpConfig::default()
                        .with_algorithm(case.algorithm)
                        .with_digits(digits),
                    &secret,
                );
                let theirs = oathtool(&[
                    "--hotp".into(),
                    format!("--counter={}", case.counter),
                    format!("--digits={}", case.digits),
                    hex(&case.key),
                ]);
                let ours = hotp.generate(case.counter);
                prop_assert_eq!(
                    hotp.verify(&theirs, case.counter).unwrap().step,
                    case.counter
                );
                (ours.as_str().to_string(), theirs)
            } else {
                let config = TotpConfig::default()
                    .with_algorithm(case.algorithm)
                    .with_digits(digits)
                    .with_period(case.period)
                    .unwrap()
                    .with_t0(case.t0);
                let totp = Totp::new(config, &secret);
                let now = case.t0 + case.since_t0;
                let theirs = oathtool(&[
                    format!("--totp={}", case.algorithm.name()),
                    format!("--digits={}", case.digits),
                    format!("--time-step-size={}s", case.period),
                    format!("--start-time=@{}", case.t0),
                    format!("--now=@{now}"),
                    hex(&case.key),
                ]);
                let matched = totp.verify(&theirs, now).unwrap();
                let at_match = totp.generate_at_step(matched.step);
                prop_assert_eq!(at_match.as_str(), theirs.as_str());
                (totp.generate(now).unwrap().as_str().to_string(), theirs)
            };
            prop_assert_eq!(ours, theirs, "{:?}", case);
            Ok(())
        })
        .unwrap();
}
