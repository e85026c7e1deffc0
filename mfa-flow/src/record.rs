//! The per-user record and its stored form.
//!
//! Its stored format is documented on [`StoredRecord`].

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use totp_core::{Algorithm, Digits, TotpConfig};

use crate::keys::SealedSecret;
use crate::store::StoredRecord;

/// The stored-format version this crate writes and reads.
const RECORD_FORMAT: u32 = 1;
/// The largest stored record accepted, in bytes; anything larger is corrupt.
const MAX_RECORD_LEN: usize = 64 * 1024;

/// The TOTP parameters a user's authenticator app was set up with, kept per
/// user so a later change of the service's defaults does not break them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TotpParams {
    /// The HMAC algorithm.
    pub(crate) algorithm: Algorithm,
    /// The number of digits.
    pub(crate) digits: Digits,
    /// The period, in seconds (at least 1).
    pub(crate) period: u64,
}

/// Where a user is in the MFA life cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MfaState {
    /// No MFA.
    Disabled,
    /// Opted in (at registration, or made to by policy), not yet set up.
    Requested,
    /// A secret was shown (QR code); waiting for the first code.
    Pending {
        /// The sealed secret.
        secret: SealedSecret,
        /// Its TOTP parameters.
        totp: TotpParams,
        /// When the enrollment stops being confirmable.
        expires_at: u64,
    },
    /// Enrolled: every login needs a code.
    Active {
        /// The sealed secret.
        secret: SealedSecret,
        /// Its TOTP parameters.
        totp: TotpParams,
        /// When this secret was confirmed (its enrollment, or the
        /// replacement that brought it).
        confirmed_at: u64,
        /// The last accepted time step; only later steps are accepted.
        last_step: u64,
        /// A new authenticator app being set up: it replaces this secret
        /// when a code from it confirms it; until then this one works.
        replacement: Option<Replacement>,
    },
}

/// A new authenticator app's secret, shown (QR code) and waiting for its
/// first code, while the active one keeps working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Replacement {
    /// The sealed new secret.
    pub(crate) secret: SealedSecret,
    /// Its TOTP parameters.
    pub(crate) totp: TotpParams,
    /// When it stops being confirmable.
    pub(crate) expires_at: u64,
}

/// Consecutive failures and the lock they caused; shared by TOTP and
/// recovery codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Throttle {
    /// Consecutive failed attempts.
    pub(crate) failures: u32,
    /// Attempts are refused until then.
    pub(crate) locked_until: Option<u64>,
}

/// The unused recovery codes, as keyed hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RecoverySet {
    /// The application key whose recovery key made the hashes.
    pub(crate) key_id: u32,
    /// HMAC-SHA-256 of each unused code.
    pub(crate) hashes: Vec<[u8; 32]>,
}

/// Everything stored for one user, with the version the store compares on
/// every write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MfaRecord {
    /// The life-cycle state.
    pub(crate) state: MfaState,
    /// The failure counter and lock.
    pub(crate) throttle: Throttle,
    /// Unused recovery codes, if any were issued.
    pub(crate) recovery: Option<RecoverySet>,
    /// Incremented by every write; 0 means never stored.
    pub(crate) version: u64,
}

impl Default for MfaRecord {
    fn default() -> Self {
        Self {
            state: MfaState::Disabled,
            throttle: Throttle::default(),
            recovery: None,
            version: 0,
        }
    }
}

/// Why a stored record cannot be read
/// ([`InternalError::CorruptRecord`](crate::InternalError::CorruptRecord)).
/// Stores may hand back anything (a truncated write, another program's
/// data, a row edited by hand), so every path is an error, never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Larger than 64 KiB.
    #[error("the stored record is larger than {MAX_RECORD_LEN} bytes")]
    TooLarge,
    /// Not JSON of the expected shape.
    #[error("the stored record is malformed")]
    Malformed(#[source] serde_json::Error),
    /// A format this version of the crate does not read.
    #[error("the stored record has format {0}; this crate reads format {RECORD_FORMAT}")]
    UnsupportedFormat(u32),
    /// A field has an impossible value; names which.
    #[error("the stored record has an invalid {0}")]
    InvalidField(&'static str),
    /// The version the store keeps beside the record is not the one inside
    /// it.
    #[error("the store holds version {stored} of a record that says it is version {inside}")]
    VersionMismatch {
        /// The version the store gave.
        stored: u64,
        /// The version written inside the record.
        inside: u64,
    },
}

impl MfaRecord {
    /// The record in the stored format.
    #[expect(
        clippy::expect_used,
        reason = "serialising plain structs of strings and integers cannot fail; an empty record would be worse than a panic"
    )]
    pub(crate) fn to_text(&self) -> String {
        serde_json::to_string(&Stored::from(self)).expect("a record serialises")
    }

    /// The record to hand to a store.
    #[cfg(any(test, feature = "conformance"))]
    pub(crate) fn encode(&self) -> StoredRecord {
        StoredRecord::from_record(self.clone())
    }

    /// Reads a stored record: the format, every field, and that the version
    /// the store kept beside it is the one inside it. A record this process
    /// wrote is its own value.
    pub(crate) fn decode(stored: &StoredRecord) -> Result<Self, DecodeError> {
        if let Some(record) = stored.value() {
            return Ok(record.clone());
        }
        let text = stored.as_str();
        if text.len() > MAX_RECORD_LEN {
            return Err(DecodeError::TooLarge);
        }
        let record = serde_json::from_str::<Stored<'_>>(text)
            .map_err(DecodeError::Malformed)?
            .into_record()?;
        if record.version != stored.version() {
            return Err(DecodeError::VersionMismatch {
                stored: stored.version(),
                inside: record.version,
            });
        }
        Ok(record)
    }
}

/// For the `record_decode` fuzz target: any text a store could hand back
/// (with the version it says is inside) is a typed error or a record, never
/// a panic; a record re-encodes to one that decodes the same; and the same
/// text under any other version is refused.
#[cfg(fuzzing)]
#[doc(hidden)]
#[expect(
    clippy::panic,
    reason = "a fuzz target reports a broken property by panicking"
)]
pub fn fuzz_decode(text: &str) {
    let version = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64))
        .unwrap_or(1);
    if let Ok(record) = MfaRecord::decode(&StoredRecord::new(version, text)) {
        match MfaRecord::decode(&StoredRecord::new(record.version, record.to_text())) {
            Ok(again) if again == record => {}
            other => panic!("re-encoded record differs: {other:?}"),
        }
        let moved = StoredRecord::new(version.wrapping_add(1), text);
        if !matches!(
            MfaRecord::decode(&moved),
            Err(DecodeError::VersionMismatch { .. })
        ) {
            panic!("a record under another version was not refused");
        }
    }
}

// ---------------------------------------------------------------------------
// The serde model of format 1. The state is a plain struct with a `kind`
// field rather than an internally tagged enum: serde buffers internally
// tagged enums through an intermediate tree, which cost more than the rest
// of a login. Strings are borrowed from the input when they have no escapes.

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored<'a> {
    format: u32,
    version: u64,
    #[serde(borrow)]
    state: StoredState<'a>,
    throttle: StoredThrottle,
    #[serde(borrow)]
    recovery: Option<StoredRecovery<'a>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Disabled,
    Requested,
    Pending,
    Active,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredState<'a> {
    kind: Kind,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    secret: Option<StoredSecret<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    totp: Option<StoredTotp<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirmed_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_step: Option<u64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    replacement: Option<StoredReplacement<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredReplacement<'a> {
    #[serde(borrow)]
    secret: StoredSecret<'a>,
    #[serde(borrow)]
    totp: StoredTotp<'a>,
    expires_at: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSecret<'a> {
    key: u32,
    #[serde(borrow)]
    nonce: Cow<'a, str>,
    #[serde(borrow)]
    sealed: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredTotp<'a> {
    #[serde(borrow)]
    algorithm: Cow<'a, str>,
    digits: u8,
    period: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredThrottle {
    failures: u32,
    locked_until: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRecovery<'a> {
    key: u32,
    #[serde(borrow)]
    hashes: Vec<Cow<'a, str>>,
}

impl From<&SealedSecret> for StoredSecret<'static> {
    fn from(s: &SealedSecret) -> Self {
        Self {
            key: s.key_id,
            nonce: Cow::Owned(BASE64.encode(s.nonce)),
            sealed: Cow::Owned(BASE64.encode(&s.ciphertext)),
        }
    }
}

impl From<&TotpParams> for StoredTotp<'static> {
    fn from(t: &TotpParams) -> Self {
        Self {
            algorithm: Cow::Borrowed(t.algorithm.name()),
            digits: t.digits.get(),
            period: t.period,
        }
    }
}

impl From<&MfaRecord> for Stored<'static> {
    fn from(r: &MfaRecord) -> Self {
        let empty = |kind| StoredState {
            kind,
            secret: None,
            totp: None,
            expires_at: None,
            confirmed_at: None,
            last_step: None,
            replacement: None,
        };
        let state = match &r.state {
            MfaState::Disabled => empty(Kind::Disabled),
            MfaState::Requested => empty(Kind::Requested),
            MfaState::Pending {
                secret,
                totp,
                expires_at,
            } => StoredState {
                secret: Some(secret.into()),
                totp: Some(totp.into()),
                expires_at: Some(*expires_at),
                ..empty(Kind::Pending)
            },
            MfaState::Active {
                secret,
                totp,
                confirmed_at,
                last_step,
                replacement,
            } => StoredState {
                secret: Some(secret.into()),
                totp: Some(totp.into()),
                confirmed_at: Some(*confirmed_at),
                last_step: Some(*last_step),
                replacement: replacement.as_ref().map(|r| StoredReplacement {
                    secret: (&r.secret).into(),
                    totp: (&r.totp).into(),
                    expires_at: r.expires_at,
                }),
                ..empty(Kind::Active)
            },
        };
        Self {
            format: RECORD_FORMAT,
            version: r.version,
            state,
            throttle: StoredThrottle {
                failures: r.throttle.failures,
                locked_until: r.throttle.locked_until,
            },
            recovery: r.recovery.as_ref().map(|set| StoredRecovery {
                key: set.key_id,
                hashes: set
                    .hashes
                    .iter()
                    .map(|h| Cow::Owned(BASE64.encode(h)))
                    .collect(),
            }),
        }
    }
}

fn bytes<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], DecodeError> {
    // Decoding into a buffer one byte larger than N detects an over-long
    // value; every N here is at most 32.
    let mut buffer = [0u8; 33];
    let slot = buffer
        .get_mut(..=N)
        .ok_or(DecodeError::InvalidField(field))?;
    let n = BASE64
        .decode_slice(text, slot)
        .map_err(|_| DecodeError::InvalidField(field))?;
    let mut out = [0u8; N];
    match buffer.get(..N) {
        Some(decoded) if n == N => out.copy_from_slice(decoded),
        _ => return Err(DecodeError::InvalidField(field)),
    }
    Ok(out)
}

impl StoredSecret<'_> {
    fn into_sealed(self) -> Result<SealedSecret, DecodeError> {
        let ciphertext = BASE64
            .decode(self.sealed.as_bytes())
            .map_err(|_| DecodeError::InvalidField("sealed secret"))?;
        // Tag (16) plus a secret of 10 to 128 bytes.
        if !(16 + 10..=16 + 128).contains(&ciphertext.len()) {
            return Err(DecodeError::InvalidField("sealed secret"));
        }
        Ok(SealedSecret {
            key_id: self.key,
            nonce: bytes(&self.nonce, "nonce")?,
            ciphertext,
        })
    }
}

impl StoredTotp<'_> {
    fn into_params(self) -> Result<TotpParams, DecodeError> {
        let algorithm = self
            .algorithm
            .parse()
            .map_err(|_| DecodeError::InvalidField("algorithm"))?;
        let digits = Digits::new(self.digits).map_err(|_| DecodeError::InvalidField("digits"))?;
        TotpConfig::default()
            .with_period(self.period)
            .map_err(|_| DecodeError::InvalidField("period"))?;
        Ok(TotpParams {
            algorithm,
            digits,
            period: self.period,
        })
    }
}

impl StoredState<'_> {
    fn into_state(self) -> Result<MfaState, DecodeError> {
        let need = |v: Option<u64>, field| v.ok_or(DecodeError::InvalidField(field));
        let none = self.secret.is_none()
            && self.totp.is_none()
            && self.expires_at.is_none()
            && self.confirmed_at.is_none()
            && self.last_step.is_none()
            && self.replacement.is_none();
        let sealed = |secret: Option<StoredSecret<'_>>| {
            secret
                .ok_or(DecodeError::InvalidField("secret"))?
                .into_sealed()
        };
        let params = |totp: Option<StoredTotp<'_>>| {
            totp.ok_or(DecodeError::InvalidField("totp"))?.into_params()
        };
        Ok(match self.kind {
            Kind::Disabled | Kind::Requested if !none => {
                return Err(DecodeError::InvalidField("state"));
            }
            Kind::Disabled => MfaState::Disabled,
            Kind::Requested => MfaState::Requested,
            Kind::Pending
                if self.confirmed_at.is_some()
                    || self.last_step.is_some()
                    || self.replacement.is_some() =>
            {
                return Err(DecodeError::InvalidField("state"));
            }
            Kind::Pending => MfaState::Pending {
                secret: sealed(self.secret)?,
                totp: params(self.totp)?,
                expires_at: need(self.expires_at, "expires_at")?,
            },
            Kind::Active if self.expires_at.is_some() => {
                return Err(DecodeError::InvalidField("state"));
            }
            Kind::Active => MfaState::Active {
                secret: sealed(self.secret)?,
                totp: params(self.totp)?,
                confirmed_at: need(self.confirmed_at, "confirmed_at")?,
                last_step: need(self.last_step, "last_step")?,
                replacement: match self.replacement {
                    None => None,
                    Some(r) => Some(Replacement {
                        secret: r.secret.into_sealed()?,
                        totp: r.totp.into_params()?,
                        expires_at: r.expires_at,
                    }),
                },
            },
        })
    }
}

impl Stored<'_> {
    fn into_record(self) -> Result<MfaRecord, DecodeError> {
        if self.format != RECORD_FORMAT {
            return Err(DecodeError::UnsupportedFormat(self.format));
        }
        let state = self.state.into_state()?;
        let recovery = match self.recovery {
            None => None,
            Some(r) => Some(RecoverySet {
                key_id: r.key,
                hashes: r
                    .hashes
                    .iter()
                    .map(|h| bytes::<32>(h, "recovery hash"))
                    .collect::<Result<_, _>>()?,
            }),
        };
        Ok(MfaRecord {
            state,
            throttle: Throttle {
                failures: self.throttle.failures,
                locked_until: self.throttle.locked_until,
            },
            recovery,
            version: self.version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active() -> MfaRecord {
        MfaRecord {
            state: MfaState::Active {
                secret: SealedSecret {
                    key_id: 2,
                    nonce: [9; 12],
                    ciphertext: vec![1; 36],
                },
                totp: TotpParams {
                    algorithm: Algorithm::Sha256,
                    digits: Digits::EIGHT,
                    period: 60,
                },
                confirmed_at: 1_700_000_000,
                last_step: 28_333_333,
                replacement: None,
            },
            throttle: Throttle {
                failures: 3,
                locked_until: Some(1_700_000_100),
            },
            recovery: Some(RecoverySet {
                key_id: 2,
                hashes: vec![[7; 32], [8; 32]],
            }),
            version: 12,
        }
    }

    fn replacing() -> MfaRecord {
        let mut record = active();
        if let MfaState::Active { replacement, .. } = &mut record.state {
            *replacement = Some(Replacement {
                secret: SealedSecret {
                    key_id: 3,
                    nonce: [5; 12],
                    ciphertext: vec![2; 36],
                },
                totp: TotpParams {
                    algorithm: Algorithm::Sha1,
                    digits: Digits::SIX,
                    period: 30,
                },
                expires_at: 1_700_000_180,
            });
        }
        record
    }

    /// Decodes text as version 12, the version of [`active`].
    fn decode(text: &str) -> Result<MfaRecord, DecodeError> {
        MfaRecord::decode(&StoredRecord::new(12, text))
    }

    fn text(record: &MfaRecord) -> String {
        record.to_text()
    }

    #[test]
    fn round_trips() {
        for record in [MfaRecord::default(), active(), replacing()] {
            let stored = StoredRecord::new(record.version, record.to_text());
            assert_eq!(MfaRecord::decode(&stored).unwrap(), record);
            // A record this process wrote reads as its value, and its text is
            // the same as the one it would store.
            assert_eq!(MfaRecord::decode(&record.encode()).unwrap(), record);
            assert_eq!(record.encode(), stored);
        }
    }

    /// The largest record the service can write (the most recovery codes,
    /// the longest secrets for both apps, every number at its widest) is
    /// well within what a store may hand back, so no write can lock a user
    /// out of their next read.
    #[test]
    fn the_largest_record_fits() {
        let sealed = |key_id| SealedSecret {
            key_id,
            nonce: [0xFF; 12],
            ciphertext: vec![0xFF; 16 + totp_core::MAX_SECRET_LEN],
        };
        let totp = TotpParams {
            algorithm: Algorithm::Sha512,
            digits: Digits::EIGHT,
            period: u64::MAX,
        };
        let record = MfaRecord {
            state: MfaState::Active {
                secret: sealed(u32::MAX),
                totp,
                confirmed_at: u64::MAX,
                last_step: u64::MAX,
                replacement: Some(Replacement {
                    secret: sealed(u32::MAX),
                    totp,
                    expires_at: u64::MAX,
                }),
            },
            throttle: Throttle {
                failures: u32::MAX,
                locked_until: Some(u64::MAX),
            },
            recovery: Some(RecoverySet {
                key_id: u32::MAX,
                hashes: vec![[0xFF; 32]; crate::config::MAX_RECOVERY_CODES],
            }),
            version: u64::MAX,
        };
        let text = record.to_text();
        assert!(text.len() < MAX_RECORD_LEN / 4, "{} bytes", text.len());
        let stored = StoredRecord::new(u64::MAX, text);
        assert_eq!(MfaRecord::decode(&stored).unwrap(), record);
    }

    #[test]
    fn a_replacement_is_stored_only_while_pending_and_only_when_active() {
        let json: serde_json::Value = serde_json::from_str(&text(&active())).unwrap();
        assert!(json["state"].get("replacement").is_none());
        let text = text(&replacing());
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["state"]["replacement"]["expires_at"], 1_700_000_180);
        assert_eq!(json["state"]["replacement"]["secret"]["key"], 3);
        let pending = text.replace("\"kind\":\"active\"", "\"kind\":\"pending\"");
        assert!(decode(&pending).is_err());
        let broken = text.replace("\"key\":3", "\"key\":3,\"extra\":1");
        assert!(matches!(decode(&broken), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn documented_shape() {
        let json: serde_json::Value = serde_json::from_str(&text(&active())).unwrap();
        assert_eq!(json["format"], 1);
        assert_eq!(json["state"]["kind"], "active");
        assert_eq!(json["state"]["totp"]["algorithm"], "SHA256");
        assert_eq!(json["recovery"]["hashes"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn corrupt_bytes_are_typed_errors() {
        let good = text(&active());
        let cases = [
            (String::new(), "malformed"),
            ("{".to_owned(), "malformed"),
            (good.replace("\"format\":1", "\"format\":2"), "format"),
            (good.replace("SHA256", "MD5"), "algorithm"),
            (good.replace("\"digits\":8", "\"digits\":9"), "digits"),
            (good.replace("\"period\":60", "\"period\":0"), "period"),
            (
                good.replace("\"kind\":\"active\"", "\"kind\":\"weird\""),
                "malformed",
            ),
            (good.replacen('{', "{\"extra\":1,", 1), "malformed"),
            (good.replace(",\"last_step\":28333333", ""), "last_step"),
            (
                good.replace("\"kind\":\"active\"", "\"kind\":\"disabled\""),
                "state",
            ),
        ];
        for (bytes, what) in cases {
            let err = decode(&bytes).unwrap_err();
            let matches = match (&err, what) {
                (DecodeError::Malformed(_), "malformed") => true,
                (DecodeError::UnsupportedFormat(2), "format") => true,
                (DecodeError::InvalidField(f), w) => f.contains(w),
                _ => false,
            };
            assert!(matches, "{what}: {err:?}");
        }
        assert!(matches!(
            decode(&" ".repeat(MAX_RECORD_LEN + 1)),
            Err(DecodeError::TooLarge)
        ));
        // The version a store keeps beside the record is checked against
        // the one inside: a row whose version column was edited is refused.
        assert!(matches!(
            MfaRecord::decode(&StoredRecord::new(13, good)),
            Err(DecodeError::VersionMismatch {
                stored: 13,
                inside: 12
            })
        ));
    }
}
