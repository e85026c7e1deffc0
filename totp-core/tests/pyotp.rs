//! Interoperability with pyotp, the reference Python implementation: URIs go
//! both ways, and codes agree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use totp_core::{Algorithm, Digits, KeyUri, Secret, Totp, TotpConfig, UriKind};

/// Runs a Python snippet with pyotp imported; `args` arrive as `sys.argv[1:]`.
fn py(script: &str, args: &[&str]) -> String {
    common::stdout_of(
        Command::new(common::python())
            .arg("-c")
            .arg(format!("import sys, hashlib, pyotp\n{script}"))
            .args(args),
    )
}

fn have_pyotp() -> bool {
    let python = common::python();
    common::require(
        python.to_str().unwrap(),
        &["-c", "import pyotp"],
        "python3 -m venv .venv && .venv/bin/pip install pyotp",
    )
}

const ISSUERS: [Option<&str>; 5] = [
    Some("Lumen"),
    Some("Big Corp"),
    Some("Acme: EU"),
    Some("Ünïcode & Co/Ltd"),
    None,
];

#[test]
fn our_uris_parse_in_pyotp() {
    if !have_pyotp() {
        return;
    }
    let configs = [
        TotpConfig::default(),
        TotpConfig::default()
            .with_algorithm(Algorithm::Sha256)
            .with_digits(Digits::EIGHT)
            .with_period(60)
            .unwrap(),
        TotpConfig::default()
            .with_algorithm(Algorithm::Sha512)
            .with_digits(Digits::SEVEN)
            .with_period(15)
            .unwrap(),
    ];
    let script = r#"
otp = pyotp.parse_uri(sys.argv[1])
print(otp.secret)
print(otp.issuer)
print(otp.name)
print(otp.digest().name)
print(otp.digits)
print(otp.interval)
print(otp.at(int(sys.argv[2])))
"#;
    for (i, issuer) in ISSUERS.iter().enumerate() {
        let config = configs[i % configs.len()];
        let account = "ada lovelace+otp@example.com";
        let secret = Secret::generate_for(config.algorithm()).unwrap();
        let totp = Totp::new(config, &secret);
        let uri = KeyUri::totp(&secret, *issuer, account, &config).unwrap();
        let now = 1_700_000_000 + i as u64 * 7919;
        let text = uri.expose_uri();
        let out = py(script, &[&text, &now.to_string()]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], secret.expose_base32().as_str(), "{}", *text);
        assert_eq!(lines[1], issuer.unwrap_or("None"));
        assert_eq!(lines[2], account);
        assert_eq!(lines[3], config.algorithm().name().to_lowercase());
        assert_eq!(lines[4], config.digits().to_string());
        assert_eq!(lines[5], config.period().to_string());
        assert_eq!(lines[6], totp.generate(now).unwrap().as_str());
    }
}

#[test]
fn pyotp_uris_parse_here() {
    if !have_pyotp() {
        return;
    }
    let script = r#"
issuer = sys.argv[1] if sys.argv[1] != "-" else None
digest = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}[sys.argv[2]]
digits, interval, now = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
secret = pyotp.random_base32(length=int(sys.argv[6]))
totp = pyotp.TOTP(secret, digits=digits, digest=digest, interval=interval, issuer=issuer, name="grace@example.com")
print(totp.provisioning_uri())
print(secret)
print(totp.at(now))
hotp = pyotp.HOTP(secret, digits=digits, digest=digest, issuer=issuer, name="grace@example.com", initial_count=now)
print(hotp.provisioning_uri())
# pyotp counts from initial_count: at(0) is the code for counter `now`.
print(hotp.at(0))
"#;
    let params = [
        ("SHA1", 6u8, 30u64, 32usize),
        ("SHA256", 8, 60, 52),
        ("SHA512", 7, 45, 104),
    ];
    for (i, issuer) in ISSUERS.iter().enumerate() {
        let (alg, digits, period, secret_len) = params[i % params.len()];
        let now = 1_800_000_000 + i as u64 * 104_729;
        let out = py(
            script,
            &[
                issuer.unwrap_or("-"),
                alg,
                &digits.to_string(),
                &period.to_string(),
                &now.to_string(),
                &secret_len.to_string(),
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        let uri = KeyUri::parse(lines[0]).unwrap_or_else(|e| panic!("{}: {e}", lines[0]));
        assert_eq!(uri.issuer(), *issuer, "{}", lines[0]);
        assert_eq!(uri.account(), "grace@example.com");
        assert_eq!(uri.secret(), &Secret::from_base32(lines[1]).unwrap());
        assert_eq!(uri.algorithm(), alg.parse().unwrap());
        assert_eq!(uri.digits().get(), digits);
        assert_eq!(uri.totp_config().unwrap().period(), period);
        let totp = Totp::new(uri.totp_config().unwrap(), uri.secret());
        assert_eq!(totp.generate(now).unwrap().as_str(), lines[2]);
        assert_eq!(totp.verify(lines[2], now).unwrap().drift, 0);
        // Our parser round-trips what it read.
        assert_eq!(KeyUri::parse(&uri.expose_uri()).unwrap(), uri);

        let hotp_uri = KeyUri::parse(lines[3]).unwrap_or_else(|e| panic!("{}: {e}", lines[3]));
        assert_eq!(hotp_uri.kind(), UriKind::Hotp { counter: now });
        assert_eq!(hotp_uri.issuer(), *issuer);
        let hotp = totp_core::Hotp::new(hotp_uri.hotp_config().unwrap(), hotp_uri.secret());
        assert_eq!(hotp.generate(now).as_str(), lines[4]);
    }
}
