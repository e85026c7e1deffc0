use std::fmt;

use aes_gcm_siv::aead::{Aead, AeadInOut, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use totp_core::Secret;
use zeroize::Zeroizing;

use crate::entropy::{Entropy, OsEntropy, RngError};

/// AES-GCM-SIV's tag length.
const TAG_LEN: usize = 16;

/// Associated-data prefix for sealed TOTP secrets; the user id follows it.
const SECRET_AAD: &[u8] = b"mfa-flow/totp-secret/v1\0";
/// HKDF info strings: one application key yields independent subkeys.
const SEALING_INFO: &[u8] = b"mfa-flow/sealing-key/v1";
const RECOVERY_INFO: &[u8] = b"mfa-flow/recovery-hash-key/v1";
const CHECK_INFO: &[u8] = b"mfa-flow/key-check/v2";
const ID_INFO: &[u8] = b"mfa-flow/key-id/v1";

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key material must be exactly 32 bytes.
    #[error("an application key is exactly 32 bytes")]
    WrongLength,
    /// Key material in text must be 64 hex digits (32 bytes).
    #[error("an application key in text is 64 hex digits")]
    NotHex,
    /// The environment variable that should hold the key is not set.
    #[error("the environment variable {0} holding the application key is not set")]
    NotInEnvironment(String),
    /// Two keys in one keyring share an id.
    #[error("two application keys share the id {0}")]
    DuplicateId(u32),
    /// The operating system's random number generator failed.
    #[error(transparent)]
    Rng(RngError),
}

/// Why a sealed secret could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The record names a key id the keyring does not hold (retired too early?).
    #[error("the secret is sealed under key {0}, which is not in the keyring")]
    UnknownKey(u32),
    /// Authentication failed: the record was altered, belongs to another
    /// user, or was sealed under different key material with the same id.
    #[error("the sealed secret does not open for this user")]
    Forged,
}

/// An application key: 32 secret bytes and an id, from which the sealing
/// key and the recovery-code hashing key are derived (HKDF-SHA-256).
///
/// Keep it outside the database (environment, secret manager): whoever holds
/// both the database and this key can read every TOTP secret.
pub struct AppKey {
    id: u32,
    sealing: Zeroizing<[u8; 32]>,
    recovery: Zeroizing<[u8; 32]>,
    check: KeyCheck,
}

/// A keyed fingerprint of an application key (its material and its id):
/// the same for the same 32 bytes under the same id, unrelated for any
/// other, and no help in finding the key. Record it beside the data at
/// first start and compare at every start, so a lost or replaced key — or
/// the same bytes under another id, which derive other subkeys — is found
/// before it turns valid codes away.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCheck([u8; 16]);

impl KeyCheck {
    /// 32 lower-case hex digits, to store.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for KeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyCheck({})", self.to_hex())
    }
}

impl fmt::Display for KeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The id derived from key material (salt-free HKDF: the material alone).
fn derived_id(material: &[u8]) -> u32 {
    let mut id = [0u8; 4];
    expand(&Hkdf::<Sha256>::new(None, material), ID_INFO, &mut id);
    u32::from_be_bytes(id)
}

/// The check value of key material under `id` (the id is part of the key:
/// it salts the subkeys).
fn check_of(id: u32, material: &[u8]) -> KeyCheck {
    let mut check = [0u8; 16];
    let info = [CHECK_INFO, &id.to_be_bytes()].concat();
    expand(&Hkdf::<Sha256>::new(None, material), &info, &mut check);
    KeyCheck(check)
}

/// HKDF-Expand into `out`, at most 32 bytes here.
#[expect(
    clippy::expect_used,
    reason = "HKDF-SHA-256 expands to up to 8160 bytes; every output here is 4 to 32"
)]
fn expand(hkdf: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) {
    hkdf.expand(info, out)
        .expect("HKDF-SHA-256 expands to 32 bytes");
}

impl AppKey {
    /// Derives the subkeys from 32 bytes of key material under `id`. The id
    /// is part of the key: the same bytes under another id derive other
    /// subkeys (and another [`KeyCheck`]). Prefer
    /// [`AppKey::from_hex`]/[`AppKey::from_env`], whose id comes from the
    /// material.
    ///
    /// # Errors
    ///
    /// [`KeyError::WrongLength`] unless `material` is 32 bytes.
    pub fn from_bytes(id: u32, material: &[u8]) -> Result<Self, KeyError> {
        if material.len() != 32 {
            return Err(KeyError::WrongLength);
        }
        let hkdf = Hkdf::<Sha256>::new(Some(&id.to_be_bytes()), material);
        let mut sealing = Zeroizing::new([0u8; 32]);
        let mut recovery = Zeroizing::new([0u8; 32]);
        expand(&hkdf, SEALING_INFO, sealing.as_mut_slice());
        expand(&hkdf, RECOVERY_INFO, recovery.as_mut_slice());
        let check = check_of(id, material);
        Ok(Self {
            id,
            sealing,
            recovery,
            check,
        })
    }

    /// Derives the subkeys from 32 bytes of key material, with an id
    /// derived from the material too: two different keys get different ids
    /// (but for a 1 in 2^32 chance), so a key restored, rotated or made
    /// anew by mistake never passes for another under the same id.
    ///
    /// # Errors
    ///
    /// [`KeyError::WrongLength`] unless `material` is 32 bytes.
    pub fn from_bytes_with_derived_id(material: &[u8]) -> Result<Self, KeyError> {
        if material.len() != 32 {
            return Err(KeyError::WrongLength);
        }
        Self::from_bytes(derived_id(material), material)
    }

    /// 32 bytes of key material from 64 hex digits (either case; spaces
    /// and line ends around them are ignored), for [`AppKey::from_bytes`]
    /// or for keys of the application's own derived from the same material.
    ///
    /// # Errors
    ///
    /// [`KeyError::NotHex`] for anything but 64 hex digits.
    pub fn material_from_hex(text: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let text = text.trim_ascii();
        let mut material = Zeroizing::new([0u8; 32]);
        if text.len() != 64 {
            return Err(KeyError::NotHex);
        }
        data_encoding::HEXLOWER_PERMISSIVE
            .decode_mut(text.as_bytes(), material.as_mut_slice())
            .map_err(|_| KeyError::NotHex)?;
        Ok(material)
    }

    /// The key from 64 hex digits (as [`AppKey::material_from_hex`] reads
    /// them), its id derived from the material
    /// ([`AppKey::from_bytes_with_derived_id`]).
    ///
    /// ```
    /// use mfa_flow::AppKey;
    ///
    /// // Made once with AppKey::generate_hex and kept in a secret store:
    /// // every start must use the same key, or no enrolled user can sign in.
    /// let kept = "8f3b6a1c0d2e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c";
    /// let key = AppKey::from_hex(kept)?;
    /// assert_eq!(key.id(), AppKey::from_hex(kept)?.id());
    /// # Ok::<(), mfa_flow::KeyError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError::NotHex`] for anything but 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes_with_derived_id(Self::material_from_hex(text)?.as_slice())
    }

    /// The key in the environment variable `name`, as 64 hex digits (see
    /// [`AppKey::from_hex`]): the usual way to hand a service its key from
    /// a secret store.
    ///
    /// # Errors
    ///
    /// [`KeyError::NotInEnvironment`] when the variable is not set,
    /// [`KeyError::NotHex`] when it holds anything but 64 hex digits.
    ///
    /// The key stays in the process's environment, where child processes
    /// inherit it: start none, or remove it from theirs.
    pub fn from_env(name: &str) -> Result<Self, KeyError> {
        let text = match std::env::var(name) {
            Ok(text) => Zeroizing::new(text),
            // Set, but not text: not a key either.
            Err(std::env::VarError::NotUnicode(_)) => return Err(KeyError::NotHex),
            Err(std::env::VarError::NotPresent) => {
                return Err(KeyError::NotInEnvironment(name.to_owned()));
            }
        };
        Self::from_hex(&text)
    }

    /// Fresh key material from the operating system's RNG, as 64 lower-case
    /// hex digits: made once, kept in a secret store, and read at every
    /// start with [`AppKey::from_hex`] or [`AppKey::from_env`].
    ///
    /// # Errors
    ///
    /// [`KeyError::Rng`] if the RNG fails.
    pub fn generate_hex() -> Result<Zeroizing<String>, KeyError> {
        let mut material = Zeroizing::new([0u8; 32]);
        OsEntropy
            .fill(material.as_mut_slice())
            .map_err(KeyError::Rng)?;
        Ok(Zeroizing::new(
            data_encoding::HEXLOWER.encode(material.as_slice()),
        ))
    }

    /// The key's check value, to record at first start and compare at
    /// every start.
    #[must_use]
    pub fn check(&self) -> KeyCheck {
        self.check
    }

    /// A fresh random key from the operating system's RNG, for tests and
    /// demos that keep nothing: a key made at every start loses every
    /// enrollment at restart. An application makes its key once
    /// ([`AppKey::generate_hex`]) and reads it at every start.
    ///
    /// # Errors
    ///
    /// [`KeyError::Rng`] if the RNG fails.
    pub fn generate(id: u32) -> Result<Self, KeyError> {
        let mut material = Zeroizing::new([0u8; 32]);
        OsEntropy
            .fill(material.as_mut_slice())
            .map_err(KeyError::Rng)?;
        Self::from_bytes(id, material.as_slice())
    }

    /// The key id stored beside everything sealed or hashed under this key.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppKey({}, redacted)", self.id)
    }
}

/// The application keys the service may use: the current one seals and
/// hashes everything new; older ones still open what they sealed, and
/// records sealed under them are re-sealed under the current key on their
/// next write.
///
/// Recovery codes are hashed under the key current when they were issued and
/// cannot be re-hashed (only their hashes are kept), so retire an old key
/// only once every user has confirmed or regenerated codes since it stopped
/// being current. (`MfaService::status` does not show key ids; look in the
/// store: a record names the key of each sealed secret, the active one and
/// a pending replacement's, and of its recovery codes.)
#[derive(Debug)]
pub struct Keyring {
    current: AppKey,
    previous: Vec<AppKey>,
}

impl Keyring {
    /// A keyring whose only key is `current`.
    #[must_use]
    pub fn new(current: AppKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds an older key that may still open records.
    ///
    /// # Errors
    ///
    /// [`KeyError::DuplicateId`] if the id is already in the keyring.
    pub fn with_previous(mut self, key: AppKey) -> Result<Self, KeyError> {
        if self.find(key.id).is_some() {
            return Err(KeyError::DuplicateId(key.id));
        }
        self.previous.push(key);
        Ok(self)
    }

    /// The id of the key used for new seals and hashes.
    #[must_use]
    pub fn current_id(&self) -> u32 {
        self.current.id
    }

    fn find(&self, id: u32) -> Option<&AppKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }

    pub(crate) fn recovery_key(&self, id: u32) -> Option<&[u8; 32]> {
        self.find(id).map(|k| &*k.recovery)
    }

    pub(crate) fn current_recovery_key(&self) -> (u32, &[u8; 32]) {
        (self.current.id, &self.current.recovery)
    }

    /// Seals a TOTP secret for one user under the current key.
    #[expect(
        clippy::expect_used,
        reason = "AES-GCM-SIV fails only for messages beyond 64 GiB; a secret is at most 128 bytes"
    )]
    pub(crate) fn seal(
        &self,
        user: &str,
        secret: &Secret,
        rng: &mut dyn Entropy,
    ) -> Result<SealedSecret, crate::InternalError> {
        let mut nonce = [0u8; 12];
        rng.fill(&mut nonce).map_err(crate::InternalError::Rng)?;
        let cipher = Aes256GcmSiv::new((&*self.current.sealing).into());
        let aad = aad(user);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.expose_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM-SIV seals a 128-byte secret");
        Ok(SealedSecret {
            key_id: self.current.id,
            nonce,
            ciphertext,
        })
    }

    /// Opens a sealed secret, checking it belongs to `user`. Decrypts into a
    /// zeroized stack buffer: the plaintext never reaches the heap.
    pub(crate) fn open(&self, user: &str, sealed: &SealedSecret) -> Result<Secret, OpenError> {
        let key = self
            .find(sealed.key_id)
            .ok_or(OpenError::UnknownKey(sealed.key_id))?;
        let body_len = sealed
            .ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(OpenError::Forged)?;
        let (body, tag) = sealed.ciphertext.split_at(body_len);
        let mut buffer = Zeroizing::new([0u8; totp_core::MAX_SECRET_LEN]);
        let plain = buffer.get_mut(..body_len).ok_or(OpenError::Forged)?;
        plain.copy_from_slice(body);
        let tag = Tag::try_from(tag).map_err(|_| OpenError::Forged)?;
        Aes256GcmSiv::new((&*key.sealing).into())
            .decrypt_inout_detached(&Nonce::from(sealed.nonce), &aad(user), plain.into(), &tag)
            .map_err(|_| OpenError::Forged)?;
        Secret::from_bytes(plain).map_err(|_| OpenError::Forged)
    }
}

fn aad(user: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(SECRET_AAD.len() + user.len());
    aad.extend_from_slice(SECRET_AAD);
    aad.extend_from_slice(user.as_bytes());
    aad
}

/// A TOTP secret encrypted with AES-256-GCM-SIV under an application key,
/// bound to its user id as associated data. GCM-SIV stays safe if a random
/// nonce ever repeats (it then reveals only that two seals were equal).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SealedSecret {
    pub(crate) key_id: u32,
    pub(crate) nonce: [u8; 12],
    pub(crate) ciphertext: Vec<u8>,
}

impl SealedSecret {
    /// The id of the key it is sealed under.
    #[cfg(test)]
    pub(crate) fn key_id(&self) -> u32 {
        self.key_id
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret(key {})", self.key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn seals_and_opens_for_the_same_user_only() {
        let ring = Keyring::new(AppKey::from_bytes(1, &[7; 32]).unwrap());
        let sealed = ring.seal("alice", &secret(), &mut OsEntropy).unwrap();
        assert_eq!(ring.open("alice", &sealed).unwrap(), secret());
        assert!(matches!(ring.open("bob", &sealed), Err(OpenError::Forged)));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(matches!(
            ring.open("alice", &tampered),
            Err(OpenError::Forged)
        ));
        assert_ne!(sealed.ciphertext, secret().expose_bytes());
    }

    #[test]
    fn rotation_opens_old_seals_and_seals_new_under_current() {
        let old = Keyring::new(AppKey::from_bytes(1, &[1; 32]).unwrap());
        let sealed = old.seal("alice", &secret(), &mut OsEntropy).unwrap();
        let new = Keyring::new(AppKey::from_bytes(2, &[2; 32]).unwrap())
            .with_previous(AppKey::from_bytes(1, &[1; 32]).unwrap())
            .unwrap();
        assert_eq!(new.open("alice", &sealed).unwrap(), secret());
        assert_eq!(
            new.seal("alice", &secret(), &mut OsEntropy)
                .unwrap()
                .key_id(),
            2
        );
        let only_new = Keyring::new(AppKey::from_bytes(2, &[2; 32]).unwrap());
        assert!(matches!(
            only_new.open("alice", &sealed),
            Err(OpenError::UnknownKey(1))
        ));
        // Same id, different material: authentication fails.
        let impostor = Keyring::new(AppKey::from_bytes(1, &[9; 32]).unwrap());
        assert!(matches!(
            impostor.open("alice", &sealed),
            Err(OpenError::Forged)
        ));
    }

    #[test]
    fn key_checks() {
        assert!(matches!(
            AppKey::from_bytes(1, &[0; 31]),
            Err(KeyError::WrongLength)
        ));
        let ring = Keyring::new(AppKey::generate(1).unwrap());
        assert!(matches!(
            ring.with_previous(AppKey::generate(1).unwrap()),
            Err(KeyError::DuplicateId(1))
        ));
        assert_eq!(
            format!("{:?}", AppKey::from_bytes(3, &[5; 32]).unwrap()),
            "AppKey(3, redacted)"
        );
    }

    #[test]
    fn check_values_depend_on_material_and_id_and_derived_ids_on_the_material() {
        let a = AppKey::from_bytes_with_derived_id(&[5; 32]).unwrap();
        let again = AppKey::from_bytes(a.id(), &[5; 32]).unwrap();
        let b = AppKey::from_bytes_with_derived_id(&[6; 32]).unwrap();
        assert_eq!(a.check(), again.check());
        // The same bytes under another id derive other subkeys: another check.
        let other_id = AppKey::from_bytes(a.id() ^ 1, &[5; 32]).unwrap();
        assert_ne!(a.check(), other_id.check());
        assert_ne!(a.check(), b.check());
        assert_ne!(a.id(), b.id());
        assert_eq!(
            a.id(),
            AppKey::from_bytes_with_derived_id(&[5; 32]).unwrap().id()
        );
        let hex = a.check().to_hex();
        assert_eq!(hex.len(), 32);
        assert!(!hex.contains(&"05".repeat(4)), "the check is not the key");
        assert!(matches!(
            AppKey::from_bytes_with_derived_id(&[5; 31]),
            Err(KeyError::WrongLength)
        ));
    }

    #[test]
    fn keys_in_text_are_64_hex_digits_and_keep_their_identity() {
        let hex = "05".repeat(32);
        let from_text = AppKey::from_hex(&format!("  {}\n", hex.to_uppercase())).unwrap();
        let from_bytes = AppKey::from_bytes_with_derived_id(&[5; 32]).unwrap();
        assert_eq!(from_text.id(), from_bytes.id());
        assert_eq!(from_text.check(), from_bytes.check());
        assert_eq!(*AppKey::material_from_hex(&hex).unwrap(), [5; 32]);
        let odd = format!("{}g", &hex[1..]);
        let spaced = format!("{} {}", &hex[..32], &hex[32..]);
        for bad in [
            "",
            &hex[2..],
            &format!("{hex}00"),
            odd.as_str(),
            spaced.as_str(),
            "é".repeat(32).as_str(),
        ] {
            assert!(
                matches!(AppKey::from_hex(bad), Err(KeyError::NotHex)),
                "{bad:?}"
            );
        }
        let made = AppKey::generate_hex().unwrap();
        assert_eq!(made.len(), 64);
        assert!(
            made.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(*made, *AppKey::generate_hex().unwrap());
        assert!(AppKey::from_hex(&made).is_ok());
        let missing = "MFA_FLOW_TEST_KEY_THAT_IS_NOT_SET";
        let error = AppKey::from_env(missing).unwrap_err();
        assert!(matches!(&error, KeyError::NotInEnvironment(name) if name == missing));
        assert!(error.to_string().contains(missing));
    }
}
