//! The Key URI format authenticator apps read from QR codes:
//! `otpauth://TYPE/LABEL?PARAMETERS` (Google Authenticator's "Key Uri Format").

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use core::fmt::Write as _;
use core::num::NonZeroU64;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::{Algorithm, Digits, HotpConfig, Secret, SecretError, TotpConfig};

/// The longest URI [`KeyUri::parse`] reads. A QR code holds at most 2,953
/// bytes, so nothing longer is a real enrollment.
pub const MAX_URI_LEN: usize = 4096;

/// The longest issuer or account name, in bytes. Together with the secret
/// this keeps every URI we build under [`MAX_URI_LEN`] however its characters
/// are percent-encoded, so every URI we build also parses.
pub const MAX_LABEL_PART_LEN: usize = 256;

/// RFC 3986 unreserved characters stay as they are; everything else,
/// including space (`%20`, never `+`), `:`, `&`, `=`, `?`, `#`, `/` and `%`,
/// is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Which OTP a URI describes, with its type-specific parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UriKind {
    /// `otpauth://totp/`: time-based, with its period in seconds.
    Totp {
        /// The period, in seconds.
        period: NonZeroU64,
    },
    /// `otpauth://hotp/`: counter-based, with the initial counter.
    Hotp {
        /// The counter the app starts from.
        counter: u64,
    },
}

/// Why a URI could not be parsed or built. Messages never contain the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// Longer than [`MAX_URI_LEN`].
    #[error("the URI is longer than {MAX_URI_LEN} bytes")]
    TooLong,
    /// The scheme is not `otpauth://`.
    #[error("the URI does not start with otpauth://")]
    NotOtpauth,
    /// The type is neither `totp` nor `hotp`.
    #[error("the OTP type must be totp or hotp")]
    UnknownType,
    /// Percent-encoding that does not decode to UTF-8.
    #[error("the URI contains percent-encoding that is not valid UTF-8")]
    InvalidEncoding,
    /// The label has no account name.
    #[error("the label has no account name")]
    MissingAccount,
    /// The account name contains `:` or a control character, or starts with
    /// a space: the label grammar cannot carry the first and last, and apps
    /// would show control characters in misleading ways.
    #[error("the account name must not contain ':' or control characters, or start with a space")]
    InvalidAccount,
    /// The issuer contains a control character.
    #[error("the issuer must not contain control characters")]
    InvalidIssuer,
    /// The issuer is empty.
    #[error("the issuer must not be empty")]
    EmptyIssuer,
    /// The issuer or the account name is longer than [`MAX_LABEL_PART_LEN`]
    /// bytes.
    #[error("the issuer and the account name are limited to {MAX_LABEL_PART_LEN} bytes each")]
    LabelTooLong,
    /// The label's issuer prefix differs from the `issuer` parameter.
    #[error("the label's issuer prefix and the issuer parameter disagree")]
    IssuerMismatch,
    /// A parameter appears twice.
    #[error("the parameter `{name}` appears more than once")]
    DuplicateParameter {
        /// The parameter's name.
        name: &'static str,
    },
    /// No `secret` parameter.
    #[error("the URI has no secret parameter")]
    MissingSecret,
    /// The `secret` parameter is not an acceptable secret.
    #[error("the secret parameter is invalid")]
    InvalidSecret(#[source] SecretError),
    /// The `algorithm` parameter is not SHA1, SHA256 or SHA512.
    #[error("the algorithm must be SHA1, SHA256 or SHA512")]
    UnknownAlgorithm,
    /// The `digits` parameter is not 6, 7 or 8.
    #[error("the digits parameter must be 6, 7 or 8")]
    InvalidDigits,
    /// The `period` parameter is not a whole number of seconds of at least 1.
    #[error("the period parameter must be a whole number of seconds, at least 1")]
    InvalidPeriod,
    /// An HOTP URI without a `counter` parameter.
    #[error("an hotp URI needs a counter parameter")]
    MissingCounter,
    /// The `counter` parameter is not a whole number.
    #[error("the counter parameter must be a whole number")]
    InvalidCounter,
    /// The TOTP configuration has a T0 other than 0, which the URI format
    /// cannot carry (apps always use 0).
    #[error("the URI format cannot carry a TOTP T0 other than 0")]
    UnrepresentableT0,
}

/// An otpauth Key URI: what an authenticator app needs to set up one account.
///
/// [`KeyUri::parse`] and [`KeyUri::expose_uri`] round-trip exactly: for every
/// value `x` built by [`KeyUri::totp`] or [`KeyUri::hotp`],
/// `KeyUri::parse(&x.expose_uri()) == Ok(x)`.
///
/// ```
/// use totp_core::{KeyUri, Secret, TotpConfig};
///
/// let secret = Secret::from_base32("JBSWY3DPEHPK3PXP")?;
/// let uri = KeyUri::totp(&secret, Some("Lumen Master"), "ada@example.com", &TotpConfig::default())?;
/// assert_eq!(
///     uri.expose_uri().as_str(),
///     "otpauth://totp/Lumen%20Master:ada%40example.com?secret=JBSWY3DPEHPK3PXP\
///      &issuer=Lumen%20Master&algorithm=SHA1&digits=6&period=30"
/// );
/// assert_eq!(KeyUri::parse(&uri.expose_uri())?, uri);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUri {
    kind: UriKind,
    secret: Secret,
    issuer: Option<String>,
    account: String,
    algorithm: Algorithm,
    digits: Digits,
}

fn check_label(issuer: Option<&str>, account: &str) -> Result<(), UriError> {
    if account.is_empty() {
        return Err(UriError::MissingAccount);
    }
    if account.len() > MAX_LABEL_PART_LEN || issuer.is_some_and(|i| i.len() > MAX_LABEL_PART_LEN) {
        return Err(UriError::LabelTooLong);
    }
    if account.contains(':') || account.starts_with(' ') || account.contains(char::is_control) {
        return Err(UriError::InvalidAccount);
    }
    match issuer {
        Some("") => Err(UriError::EmptyIssuer),
        Some(i) if i.contains(char::is_control) => Err(UriError::InvalidIssuer),
        _ => Ok(()),
    }
}

impl KeyUri {
    /// Describes a TOTP account. The issuer names the service (shown by the
    /// app above the account name); `config` supplies algorithm, digits and
    /// period.
    ///
    /// # Errors
    ///
    /// [`UriError::MissingAccount`], [`UriError::InvalidAccount`],
    /// [`UriError::InvalidIssuer`], [`UriError::EmptyIssuer`],
    /// [`UriError::LabelTooLong`], or [`UriError::UnrepresentableT0`] when
    /// `config` has a T0 other than 0.
    pub fn totp(
        secret: &Secret,
        issuer: Option<&str>,
        account: &str,
        config: &TotpConfig,
    ) -> Result<Self, UriError> {
        if config.t0() != 0 {
            return Err(UriError::UnrepresentableT0);
        }
        let period = NonZeroU64::new(config.period()).ok_or(UriError::InvalidPeriod)?;
        Self::new(
            UriKind::Totp { period },
            secret.clone(),
            issuer,
            account,
            config.algorithm(),
            config.digits(),
        )
    }

    /// Describes an HOTP account starting at `counter`.
    ///
    /// # Errors
    ///
    /// [`UriError::MissingAccount`], [`UriError::InvalidAccount`],
    /// [`UriError::InvalidIssuer`], [`UriError::EmptyIssuer`] or
    /// [`UriError::LabelTooLong`].
    pub fn hotp(
        secret: &Secret,
        issuer: Option<&str>,
        account: &str,
        config: &HotpConfig,
        counter: u64,
    ) -> Result<Self, UriError> {
        Self::new(
            UriKind::Hotp { counter },
            secret.clone(),
            issuer,
            account,
            config.algorithm(),
            config.digits(),
        )
    }

    fn new(
        kind: UriKind,
        secret: Secret,
        issuer: Option<&str>,
        account: &str,
        algorithm: Algorithm,
        digits: Digits,
    ) -> Result<Self, UriError> {
        check_label(issuer, account)?;
        Ok(Self {
            kind,
            secret,
            issuer: issuer.map(ToString::to_string),
            account: account.to_string(),
            algorithm,
            digits,
        })
    }

    /// Parses a Key URI.
    ///
    /// - The scheme and type are case-insensitive; so are parameter names and
    ///   algorithm names (`sha256` is accepted).
    /// - The label is percent-decoded once. When the `issuer` parameter is
    ///   present it decides where the label's issuer prefix ends, so an issuer
    ///   containing `:` works; spaces after the separator are skipped.
    /// - Parameter values are form-decoded (`+` or `%20` is a space).
    /// - Missing `algorithm`, `digits` and `period` take the defaults (SHA1,
    ///   6, 30); unknown parameters (`image`, ...) are ignored.
    ///
    /// # Errors
    ///
    /// A [`UriError`] naming what is wrong.
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        if uri.len() > MAX_URI_LEN {
            return Err(UriError::TooLong);
        }
        let rest = strip_prefix_ignore_case(uri, "otpauth://").ok_or(UriError::NotOtpauth)?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (kind_name, rest) = rest.split_once('/').ok_or(UriError::UnknownType)?;
        let is_totp = if kind_name.eq_ignore_ascii_case("totp") {
            true
        } else if kind_name.eq_ignore_ascii_case("hotp") {
            false
        } else {
            return Err(UriError::UnknownType);
        };
        let (raw_label, query) = rest.split_once('?').unwrap_or((rest, ""));
        let label = decode(raw_label, false)?;

        let mut params = Params::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.set(&decode(key, true)?, decode(value, true)?)?;
        }

        let secret = params.secret.ok_or(UriError::MissingSecret)?;
        let secret = Secret::from_base32(&secret).map_err(UriError::InvalidSecret)?;
        let algorithm = match params.algorithm {
            Some(a) => a.parse().map_err(|_| UriError::UnknownAlgorithm)?,
            None => Algorithm::default(),
        };
        let digits = match params.digits {
            Some(d) => d
                .parse::<u8>()
                .ok()
                .and_then(|d| Digits::new(d).ok())
                .ok_or(UriError::InvalidDigits)?,
            None => Digits::default(),
        };
        let kind = if is_totp {
            let period = match params.period {
                Some(p) => p
                    .parse::<u64>()
                    .ok()
                    .and_then(NonZeroU64::new)
                    .ok_or(UriError::InvalidPeriod)?,
                None => NonZeroU64::new(TotpConfig::default().period())
                    .ok_or(UriError::InvalidPeriod)?,
            };
            UriKind::Totp { period }
        } else {
            let counter = params.counter.ok_or(UriError::MissingCounter)?;
            let counter = counter.parse().map_err(|_| UriError::InvalidCounter)?;
            UriKind::Hotp { counter }
        };

        let issuer_param = params.issuer.filter(|i| !i.is_empty());
        let (issuer, account) = split_label(&label, issuer_param.as_deref())?;
        let issuer = issuer.map(ToString::to_string);
        let account = account.to_string();
        Self::new(kind, secret, issuer.as_deref(), &account, algorithm, digits)
    }

    /// The URI text, for a QR code or a link.
    ///
    /// Always carries `issuer` (when there is one), `algorithm`, `digits` and
    /// `period` (TOTP) or `counter` (HOTP); spaces are `%20`.
    ///
    /// # Security
    ///
    /// The URI contains the secret: show it only to its owner during
    /// enrollment and never log it. The returned string is zeroized on drop.
    #[must_use]
    pub fn expose_uri(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(256));
        let kind = match self.kind {
            UriKind::Totp { .. } => "totp",
            UriKind::Hotp { .. } => "hotp",
        };
        // Writing to a String cannot fail.
        let _ = write!(out, "otpauth://{kind}/");
        if let Some(issuer) = &self.issuer {
            let _ = write!(out, "{}:", utf8_percent_encode(issuer, COMPONENT));
        }
        let _ = write!(out, "{}", utf8_percent_encode(&self.account, COMPONENT));
        out.push_str("?secret=");
        out.push_str(&self.secret.expose_base32());
        if let Some(issuer) = &self.issuer {
            let _ = write!(out, "&issuer={}", utf8_percent_encode(issuer, COMPONENT));
        }
        let _ = write!(
            out,
            "&algorithm={}&digits={}",
            self.algorithm.name(),
            self.digits
        );
        let _ = match self.kind {
            UriKind::Totp { period } => write!(out, "&period={period}"),
            UriKind::Hotp { counter } => write!(out, "&counter={counter}"),
        };
        out
    }

    /// TOTP or HOTP, with the period or counter.
    #[must_use]
    pub fn kind(&self) -> UriKind {
        self.kind
    }

    /// The shared secret.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The issuer (service name), if any.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name (usually the user's email address).
    #[must_use]
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits.
    #[must_use]
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The TOTP configuration this URI describes (default window, T0 = 0), or
    /// `None` for an HOTP URI.
    #[must_use]
    pub fn totp_config(&self) -> Option<TotpConfig> {
        match self.kind {
            UriKind::Totp { period } => TotpConfig::default()
                .with_algorithm(self.algorithm)
                .with_digits(self.digits)
                .with_period(period.get())
                .ok(),
            UriKind::Hotp { .. } => None,
        }
    }

    /// The HOTP configuration this URI describes (default look-ahead), or
    /// `None` for a TOTP URI.
    #[must_use]
    pub fn hotp_config(&self) -> Option<HotpConfig> {
        match self.kind {
            UriKind::Hotp { .. } => Some(
                HotpConfig::default()
                    .with_algorithm(self.algorithm)
                    .with_digits(self.digits),
            ),
            UriKind::Totp { .. } => None,
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// Percent-decodes once; in a query (`form`), `+` is a space.
fn decode(raw: &str, form: bool) -> Result<String, UriError> {
    let raw: Cow<'_, str> = if form && raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    percent_decode_str(&raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| UriError::InvalidEncoding)
}

/// Splits a decoded label into issuer prefix and account name.
fn split_label<'a>(
    label: &'a str,
    issuer_param: Option<&'a str>,
) -> Result<(Option<&'a str>, &'a str), UriError> {
    let (issuer, account) = match issuer_param {
        Some(issuer) => match label
            .strip_prefix(issuer)
            .and_then(|rest| rest.strip_prefix(':'))
        {
            Some(account) => (Some(issuer), account),
            // A different prefix before a colon: the two issuers disagree.
            None if label.contains(':') => return Err(UriError::IssuerMismatch),
            None => (Some(issuer), label),
        },
        None => match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer), account),
            None => (None, label),
        },
    };
    Ok((issuer, account.trim_start_matches(' ')))
}

/// The parameters we read; each may appear once.
#[derive(Default)]
struct Params {
    secret: Option<Zeroizing<String>>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
}

impl Params {
    fn set(&mut self, key: &str, value: String) -> Result<(), UriError> {
        let (slot, name) = if key.eq_ignore_ascii_case("secret") {
            let value = Zeroizing::new(value);
            return put(&mut self.secret, value, "secret");
        } else if key.eq_ignore_ascii_case("issuer") {
            (&mut self.issuer, "issuer")
        } else if key.eq_ignore_ascii_case("algorithm") {
            (&mut self.algorithm, "algorithm")
        } else if key.eq_ignore_ascii_case("digits") {
            (&mut self.digits, "digits")
        } else if key.eq_ignore_ascii_case("period") {
            (&mut self.period, "period")
        } else if key.eq_ignore_ascii_case("counter") {
            (&mut self.counter, "counter")
        } else {
            return Ok(());
        };
        put(slot, value, name)
    }
}

fn put<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), UriError> {
    if slot.is_some() {
        return Err(UriError::DuplicateParameter { name });
    }
    *slot = Some(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    const SECRET: &str = "JBSWY3DPEHPK3PXP";

    fn secret() -> Secret {
        Secret::from_base32(SECRET).unwrap()
    }

    #[test]
    fn google_examples() {
        let u = KeyUri::parse(
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        )
        .unwrap();
        assert_eq!(u.issuer(), Some("Example"));
        assert_eq!(u.account(), "alice@google.com");
        assert_eq!(u.secret(), &secret());
        assert_eq!(u.totp_config(), Some(TotpConfig::default()));

        let u = KeyUri::parse(
            "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
             &issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
        )
        .unwrap();
        assert_eq!(u.issuer(), Some("ACME Co"));
        assert_eq!(u.account(), "john.doe@email.com");
    }

    #[test]
    fn label_forms() {
        let parse = |s: &str| KeyUri::parse(&std::format!("otpauth://totp/{s}&secret={SECRET}"));
        let u = parse("Big%20Corp:%20%20bob?issuer=Big%20Corp").unwrap();
        assert_eq!((u.issuer(), u.account()), (Some("Big Corp"), "bob"));
        let u = parse("Big%20Corp%3Abob?x=1").unwrap();
        assert_eq!((u.issuer(), u.account()), (Some("Big Corp"), "bob"));
        let u = parse("bob?issuer=Corp").unwrap();
        assert_eq!((u.issuer(), u.account()), (Some("Corp"), "bob"));
        let u = parse("bob?x=1").unwrap();
        assert_eq!((u.issuer(), u.account()), (None, "bob"));
        // An issuer with a colon: the parameter says where the prefix ends.
        let u = parse("A%3AB:carol?issuer=A%3AB").unwrap();
        assert_eq!((u.issuer(), u.account()), (Some("A:B"), "carol"));
        assert_eq!(parse("Evil:bob?issuer=Good"), Err(UriError::IssuerMismatch));
        assert_eq!(parse("?issuer=Good"), Err(UriError::MissingAccount));
        assert_eq!(parse("Good:?issuer=Good"), Err(UriError::MissingAccount));
        // Decoded once: %2541 is the text "%41", not "A".
        let u = parse("Corp:x%2541?issuer=Corp").unwrap();
        assert_eq!(u.account(), "x%41");
    }

    #[test]
    fn parameters() {
        let base = "otpauth://totp/I:a?secret=JBSWY3DPEHPK3PXP";
        let p = |extra: &str| KeyUri::parse(&std::format!("{base}{extra}"));
        let u = p("&algorithm=sha256&digits=8&period=60&image=x").unwrap();
        assert_eq!(u.algorithm(), Algorithm::Sha256);
        assert_eq!(u.digits(), Digits::EIGHT);
        assert_eq!(
            u.kind(),
            UriKind::Totp {
                period: NonZeroU64::new(60).unwrap()
            }
        );
        assert_eq!(p("&algorithm=MD5"), Err(UriError::UnknownAlgorithm));
        assert_eq!(p("&digits=5"), Err(UriError::InvalidDigits));
        assert_eq!(p("&digits=9"), Err(UriError::InvalidDigits));
        assert_eq!(p("&digits=six"), Err(UriError::InvalidDigits));
        assert_eq!(p("&period=0"), Err(UriError::InvalidPeriod));
        assert_eq!(p("&period=-30"), Err(UriError::InvalidPeriod));
        assert_eq!(
            p("&secret=JBSWY3DPEHPK3PXP"),
            Err(UriError::DuplicateParameter { name: "secret" })
        );
        assert_eq!(
            KeyUri::parse("otpauth://totp/I:a?issuer=I"),
            Err(UriError::MissingSecret)
        );
        assert!(matches!(
            KeyUri::parse("otpauth://totp/I:a?secret=JBSWY3DP!"),
            Err(UriError::InvalidSecret(SecretError::InvalidCharacter))
        ));
        assert_eq!(
            KeyUri::parse("otpauth://hotp/I:a?secret=JBSWY3DPEHPK3PXP"),
            Err(UriError::MissingCounter)
        );
        assert_eq!(
            KeyUri::parse("otpauth://hotp/I:a?secret=JBSWY3DPEHPK3PXP&counter=x"),
            Err(UriError::InvalidCounter)
        );
        assert_eq!(
            KeyUri::parse("otpauth://motp/I:a?secret=JBSWY3DPEHPK3PXP"),
            Err(UriError::UnknownType)
        );
        assert_eq!(
            KeyUri::parse("https://totp/I:a?secret=JBSWY3DPEHPK3PXP"),
            Err(UriError::NotOtpauth)
        );
        assert_eq!(
            KeyUri::parse("otpauth://totp/%FF?secret=JBSWY3DPEHPK3PXP"),
            Err(UriError::InvalidEncoding)
        );
        let long = std::format!("{base}&x={}", "a".repeat(MAX_URI_LEN));
        assert_eq!(KeyUri::parse(&long), Err(UriError::TooLong));
    }

    #[test]
    fn builds_with_percent_20_and_round_trips() {
        let config = TotpConfig::default()
            .with_algorithm(Algorithm::Sha512)
            .with_digits(Digits::EIGHT)
            .with_period(60)
            .unwrap();
        let u = KeyUri::totp(
            &secret(),
            Some("Big Corp: EU"),
            "ada lovelace+1@x.org",
            &config,
        )
        .unwrap();
        let text = u.expose_uri();
        assert!(!text.contains('+'));
        assert_eq!(
            text.as_str(),
            "otpauth://totp/Big%20Corp%3A%20EU:ada%20lovelace%2B1%40x.org?secret=JBSWY3DPEHPK3PXP\
             &issuer=Big%20Corp%3A%20EU&algorithm=SHA512&digits=8&period=60"
        );
        assert_eq!(KeyUri::parse(&text).unwrap(), u);
        assert_eq!(u.totp_config(), Some(config));
    }

    #[test]
    fn hotp_round_trip() {
        let u = KeyUri::hotp(&secret(), None, "dev", &HotpConfig::default(), 42).unwrap();
        assert_eq!(
            u.expose_uri().as_str(),
            "otpauth://hotp/dev?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&counter=42"
        );
        assert_eq!(KeyUri::parse(&u.expose_uri()).unwrap(), u);
        assert_eq!(u.hotp_config(), Some(HotpConfig::default()));
    }

    #[test]
    fn build_validation() {
        let c = TotpConfig::default();
        assert_eq!(
            KeyUri::totp(&secret(), Some("I"), "a:b", &c),
            Err(UriError::InvalidAccount)
        );
        assert_eq!(
            KeyUri::totp(&secret(), Some("I"), " a", &c),
            Err(UriError::InvalidAccount)
        );
        assert_eq!(
            KeyUri::totp(&secret(), Some(""), "a", &c),
            Err(UriError::EmptyIssuer)
        );
        assert_eq!(
            KeyUri::totp(&secret(), None, "", &c),
            Err(UriError::MissingAccount)
        );
        assert_eq!(
            KeyUri::totp(&secret(), None, "a", &c.with_t0(5)),
            Err(UriError::UnrepresentableT0)
        );
        assert_eq!(
            KeyUri::totp(&secret(), Some("I"), "a\nb", &c),
            Err(UriError::InvalidAccount)
        );
        assert_eq!(
            KeyUri::totp(&secret(), Some("I\0"), "a", &c),
            Err(UriError::InvalidIssuer)
        );
        let long = "\u{7f}".repeat(MAX_LABEL_PART_LEN + 1);
        assert_eq!(
            KeyUri::totp(&secret(), None, &long, &c),
            Err(UriError::LabelTooLong)
        );
        // The longest legal label, every byte percent-encoded, still parses.
        let widest = "%".repeat(MAX_LABEL_PART_LEN);
        let big = KeyUri::totp(
            &Secret::from_bytes(&[9; crate::MAX_SECRET_LEN]).unwrap(),
            Some(&widest),
            &widest,
            &c,
        )
        .unwrap();
        assert!(big.expose_uri().len() <= MAX_URI_LEN);
        assert_eq!(KeyUri::parse(&big.expose_uri()).unwrap(), big);
    }

    #[test]
    fn errors_and_debug_never_show_the_secret() {
        let u = KeyUri::totp(&secret(), None, "a", &TotpConfig::default()).unwrap();
        assert!(!std::format!("{u:?}").contains(SECRET));
        let e = KeyUri::parse("otpauth://totp/a?secret=JBSWY3DPEHPK3PX!").unwrap_err();
        assert!(!e.to_string().contains("JBSWY3DP"));
    }
}
