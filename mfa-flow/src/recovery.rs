use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::entropy::{Entropy, RngError};

/// The symbols of a recovery code: digits and capitals without the ones
/// people confuse (0/O, 1/I/L, U/V is kept apart by dropping U).
const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols per code: 24 × log2(30) ≈ 117.7 bits, above the 112 bits NIST SP
/// 800-63B §5.1.2.2 asks of look-up secrets.
const SYMBOLS: usize = 24;
/// Symbols per group when shown: `ABCD-EFGH-...`.
const GROUP: usize = 4;

/// Why a submitted recovery code is not well-formed. The message never
/// contains the submitted text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryCodeError {
    /// Not 24 symbols once hyphens and spaces are removed.
    #[error("a recovery code has 24 letters and digits")]
    WrongLength,
    /// A character outside the recovery-code alphabet.
    #[error("a recovery code contains only the letters and digits it was shown with")]
    InvalidCharacter,
}

/// Freshly issued recovery codes, shown to the user once.
///
/// Not `Clone`; the texts are zeroized on drop and hidden from `Debug`.
pub struct RecoveryCodes {
    codes: Vec<Zeroizing<String>>,
}

impl RecoveryCodes {
    /// The codes, formatted for people (`ABCD-EFGH-JKMN-PQRS-TVWX-YZ23`).
    ///
    /// # Security
    ///
    /// Show them to their owner once and never log or store them: only their
    /// keyed hashes are kept.
    pub fn expose(&self) -> impl ExactSizeIterator<Item = &str> {
        self.codes.iter().map(|c| c.as_str())
    }

    /// How many codes there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes({} codes, redacted)", self.codes.len())
    }
}

/// Issues `count` codes and their keyed hashes.
pub(crate) fn issue(
    count: usize,
    key: &[u8; 32],
    rng: &mut dyn Entropy,
) -> Result<(RecoveryCodes, Vec<[u8; 32]>), RngError> {
    let mut codes = Vec::with_capacity(count);
    let mut hashes = Vec::with_capacity(count);
    for _ in 0..count {
        let symbols = random_symbols(rng)?;
        hashes.push(hash(key, &symbols));
        let mut text = Zeroizing::new(String::with_capacity(SYMBOLS + SYMBOLS / GROUP));
        for (i, s) in symbols.iter().enumerate() {
            if i > 0 && i % GROUP == 0 {
                text.push('-');
            }
            text.push(char::from(*s));
        }
        codes.push(text);
    }
    Ok((RecoveryCodes { codes }, hashes))
}

/// Uniform symbols by rejection sampling: bytes below 240 (8 × 30) map
/// evenly onto the alphabet.
fn random_symbols(rng: &mut dyn Entropy) -> Result<Zeroizing<[u8; SYMBOLS]>, RngError> {
    let mut out = Zeroizing::new([0u8; SYMBOLS]);
    let mut filled = 0;
    let mut pool = Zeroizing::new([0u8; 64]);
    while filled < SYMBOLS {
        rng.fill(pool.as_mut_slice())?;
        for b in pool.iter().filter(|b| **b < 240) {
            if let (Some(slot), Some(symbol)) =
                (out.get_mut(filled), ALPHABET.get(usize::from(*b % 30)))
            {
                *slot = *symbol;
                filled += 1;
            }
        }
    }
    Ok(out)
}

/// Reads a code as people type it: any case, hyphens and spaces ignored.
pub(crate) fn normalize(input: &str) -> Result<Zeroizing<[u8; SYMBOLS]>, RecoveryCodeError> {
    let mut out = Zeroizing::new([0u8; SYMBOLS]);
    let mut n = 0usize;
    for b in input.trim().bytes() {
        if b == b'-' || b == b' ' {
            continue;
        }
        let upper = b.to_ascii_uppercase();
        if !ALPHABET.contains(&upper) {
            return Err(RecoveryCodeError::InvalidCharacter);
        }
        *out.get_mut(n).ok_or(RecoveryCodeError::WrongLength)? = upper;
        n += 1;
    }
    if n == SYMBOLS {
        Ok(out)
    } else {
        Err(RecoveryCodeError::WrongLength)
    }
}

/// HMAC-SHA-256 of the normalised code under the recovery-hash key.
pub(crate) fn hash(key: &[u8; 32], symbols: &[u8; SYMBOLS]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(symbols);
    mac.finalize().into_bytes().into()
}

/// The index of the stored hash equal to `candidate`, comparing every entry
/// in constant time without stopping at a match.
pub(crate) fn position(hashes: &[[u8; 32]], candidate: &[u8; 32]) -> Option<usize> {
    let mut found = subtle::Choice::from(0);
    let mut index = 0u64;
    for (i, h) in hashes.iter().enumerate() {
        let hit = h.ct_eq(candidate);
        found |= hit;
        index.conditional_assign(&(i as u64), hit);
    }
    bool::from(found)
        .then(|| usize::try_from(index).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::OsEntropy;

    #[test]
    fn alphabet_and_strength() {
        for confusable in *b"01ILOU" {
            assert!(
                !ALPHABET.contains(&confusable),
                "{}",
                char::from(confusable)
            );
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 30);
        // NIST SP 800-63B §5.1.2.2: at least 112 bits per look-up secret.
        let bits = f64::from(u32::try_from(SYMBOLS).unwrap()) * 30f64.log2();
        assert!(bits >= 112.0, "{bits}");
    }

    #[test]
    fn issued_codes_look_right_and_hash_consistently() {
        let key = [3u8; 32];
        let (codes, hashes) = issue(10, &key, &mut OsEntropy).unwrap();
        assert_eq!(codes.len(), 10);
        let texts: Vec<&str> = codes.expose().collect();
        for (text, h) in texts.iter().zip(&hashes) {
            assert_eq!(text.len(), 29);
            assert_eq!(text.matches('-').count(), 5);
            let lower = text.to_lowercase().replace('-', " ");
            assert_eq!(&hash(&key, &normalize(&lower).unwrap()), h);
        }
        let mut unique = texts.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert!(!format!("{codes:?}").contains(texts[0]));
    }

    #[test]
    fn normalisation_refuses_garbage() {
        assert_eq!(
            normalize("ABCD-EFGH").unwrap_err(),
            RecoveryCodeError::WrongLength
        );
        assert_eq!(
            normalize("0BCD-EFGH-JKMN-PQRS-TVWX-YZ23").unwrap_err(),
            RecoveryCodeError::InvalidCharacter
        );
        assert_eq!(
            normalize(&"A".repeat(1 << 20)).unwrap_err(),
            RecoveryCodeError::WrongLength
        );
        assert!(normalize("abcd efgh jkmn pqrs tvwx yz23").is_ok());
    }

    #[test]
    fn position_finds_any_entry() {
        let hashes = [[1u8; 32], [2; 32], [3; 32]];
        assert_eq!(position(&hashes, &[3; 32]), Some(2));
        assert_eq!(position(&hashes, &[1; 32]), Some(0));
        assert_eq!(position(&hashes, &[9; 32]), None);
        assert_eq!(position(&[], &[9; 32]), None);
    }
}
