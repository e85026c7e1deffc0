//! The published test vectors, as data in `tests/data/`, one test per file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use totp_core::{Algorithm, Digits, Hotp, HotpConfig, Secret, Totp, TotpConfig};

/// Declares a test that reads every row of a vector file, checks each with
/// `$check`, and checks the file has the number of rows the RFC publishes.
macro_rules! rfc_vectors {
    ($(#[$doc:meta])* $name:ident, $file:literal, rows = $rows:literal, $check:expr) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            let rows: Vec<Vec<&str>> = include_str!(concat!("data/", $file))
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| l.split_whitespace().collect())
                .collect();
            assert_eq!(rows.len(), $rows, "{} should hold {} rows", $file, $rows);
            let check: fn(&[&str]) = $check;
            for row in &rows {
                check(row);
            }
        }
    };
}

const SHA1_SEED: &[u8] = b"12345678901234567890";
const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

rfc_vectors!(
    /// RFC 4226 Appendix D: all 10 HOTP values, generated and verified.
    rfc4226_appendix_d,
    "rfc4226-appendix-d.txt",
    rows = 10,
    |row| {
        let counter: u64 = row[0].parse().unwrap();
        let hotp = Hotp::new(
            HotpConfig::default(),
            &Secret::from_bytes(SHA1_SEED).unwrap(),
        );
        assert_eq!(hotp.generate(counter).as_str(), row[1], "counter {counter}");
        let matched = hotp.verify(row[1], counter).unwrap();
        assert_eq!(matched.step, counter);
        // Found by look-ahead from the start too.
        assert_eq!(hotp.verify(row[1], 0).unwrap().step, counter);
    }
);

rfc_vectors!(
    /// RFC 6238 Appendix B: all 18 rows, each algorithm with its own seed.
    rfc6238_appendix_b,
    "rfc6238-appendix-b.txt",
    rows = 18,
    |row| {
        let time: u64 = row[0].parse().unwrap();
        let algorithm: Algorithm = row[1].parse().unwrap();
        let seed = match algorithm {
            Algorithm::Sha1 => SHA1_SEED,
            Algorithm::Sha256 => SHA256_SEED,
            _ => SHA512_SEED,
        };
        let config = TotpConfig::default()
            .with_algorithm(algorithm)
            .with_digits(Digits::EIGHT);
        let totp = Totp::new(config, &Secret::from_bytes(seed).unwrap());
        assert_eq!(totp.generate(time).unwrap().as_str(), row[2], "{row:?}");
        let matched = totp.verify(row[2], time).unwrap();
        assert_eq!(matched.step, time / 30);
        assert_eq!(matched.drift, 0);
        // The 6-digit code is the low six digits: the same truncation, mod 10^6.
        let six = Totp::new(
            config.with_digits(Digits::SIX),
            &Secret::from_bytes(seed).unwrap(),
        );
        assert_eq!(six.generate(time).unwrap().as_str(), &row[2][2..]);
    }
);
