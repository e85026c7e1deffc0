//! HMAC (RFC 2104) over one 8-byte counter, pre-keyed.
//!
//! An HOTP value is `HMAC(K, C)` with an 8-byte counter `C`. With the key's
//! inner and outer pad blocks compressed once (the key schedule), each counter
//! then costs exactly two compression-function calls: the counter and its
//! padding fit in one block, and so do the inner digest and its padding. The
//! `hmac` crate's generic buffering costs about twice that, so this module
//! drives the `sha1` and `sha2` block functions directly. The tests check it
//! against the `hmac` crate for every algorithm and key length.

use sha1::Digest;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Algorithm, Digits};

/// One Merkle–Damgård hash, reduced to what HMAC over a counter needs.
pub(crate) trait Core {
    /// The chaining state: 5 or 8 words.
    type State: Copy + Zeroize;
    /// One input block: 64 or 128 bytes.
    type Block: Copy + AsRef<[u8]> + AsMut<[u8]>;
    /// The standard initial state.
    const IV: Self::State;
    /// Digest length in bytes.
    const OUT: usize;
    /// An all-zero block.
    const ZERO: Self::Block;
    /// Runs the compression function over one block.
    fn compress(state: &mut Self::State, block: &Self::Block);
    /// Writes the state as the big-endian digest into `out[..OUT]`.
    fn digest(state: &Self::State, out: &mut [u8]);
    /// Hashes a whole message (for keys longer than a block) into `out[..OUT]`.
    fn hash(message: &[u8], out: &mut [u8]);
}

/// SHA-1 (FIPS 180-4 §6.1).
pub(crate) enum Sha1 {}
/// SHA-256 (FIPS 180-4 §6.2).
pub(crate) enum Sha256 {}
/// SHA-512 (FIPS 180-4 §6.4).
pub(crate) enum Sha512 {}

fn write_words_be<const N: usize>(words: &[u32; N], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

impl Core for Sha1 {
    type State = [u32; 5];
    type Block = [u8; 64];
    const IV: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    const OUT: usize = 20;
    const ZERO: [u8; 64] = [0; 64];
    #[inline(always)]
    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }
    #[inline(always)]
    fn digest(state: &[u32; 5], out: &mut [u8]) {
        write_words_be(state, out);
    }
    fn hash(message: &[u8], out: &mut [u8]) {
        write_prefix(&sha1::Sha1::digest(message), out);
    }
}

impl Core for Sha256 {
    type State = [u32; 8];
    type Block = [u8; 64];
    const IV: [u32; 8] = [
        0x6A09_E667,
        0xBB67_AE85,
        0x3C6E_F372,
        0xA54F_F53A,
        0x510E_527F,
        0x9B05_688C,
        0x1F83_D9AB,
        0x5BE0_CD19,
    ];
    const OUT: usize = 32;
    const ZERO: [u8; 64] = [0; 64];
    #[inline(always)]
    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }
    #[inline(always)]
    fn digest(state: &[u32; 8], out: &mut [u8]) {
        write_words_be(state, out);
    }
    fn hash(message: &[u8], out: &mut [u8]) {
        write_prefix(&sha2::Sha256::digest(message), out);
    }
}

impl Core for Sha512 {
    type State = [u64; 8];
    type Block = [u8; 128];
    const IV: [u64; 8] = [
        0x6A09_E667_F3BC_C908,
        0xBB67_AE85_84CA_A73B,
        0x3C6E_F372_FE94_F82B,
        0xA54F_F53A_5F1D_36F1,
        0x510E_527F_ADE6_82D1,
        0x9B05_688C_2B3E_6C1F,
        0x1F83_D9AB_FB41_BD6B,
        0x5BE0_CD19_137E_2179,
    ];
    const OUT: usize = 64;
    const ZERO: [u8; 128] = [0; 128];
    #[inline(always)]
    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        sha2::block_api::compress512(state, core::slice::from_ref(block));
    }
    #[inline(always)]
    fn digest(state: &[u64; 8], out: &mut [u8]) {
        for (chunk, word) in out.chunks_exact_mut(8).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
    }
    fn hash(message: &[u8], out: &mut [u8]) {
        write_prefix(&sha2::Sha512::digest(message), out);
    }
}

fn write_prefix(digest: &[u8], out: &mut [u8]) {
    for (o, d) in out.iter_mut().zip(digest) {
        *o = *d;
    }
}

/// Writes the Merkle–Damgård padding for a message of `message_len` bytes
/// that follows one full block, starting at `at` in `block`.
///
/// The message always fits (at most 64 bytes in a 64- or 128-byte block), so
/// the length field lands in the same block.
#[inline(always)]
fn pad(block: &mut [u8], at: usize, block_len: usize, message_len: usize) {
    let total_bits = (block_len as u64 + message_len as u64) * 8;
    if let Some(b) = block.get_mut(at) {
        *b = 0x80;
    }
    let n = block.len();
    if let Some(tail) = block.get_mut(n - 8..) {
        tail.copy_from_slice(&total_bits.to_be_bytes());
    }
}

/// The key schedule of HMAC for one hash: the states after the inner and
/// outer pad blocks. These are key-equivalent, so they are zeroized on drop.
pub(crate) struct Keyed<C: Core> {
    inner: C::State,
    outer: C::State,
    /// The inner message block with its padding in place; only the counter
    /// bytes change between calls.
    inner_block: C::Block,
    /// The outer message block with its padding in place; only the digest
    /// bytes change between calls.
    outer_block: C::Block,
}

impl<C: Core> Keyed<C> {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = C::ZERO;
        let block_len = block.as_ref().len();
        if key.len() > block_len {
            C::hash(key, block.as_mut());
        } else {
            write_prefix(key, block.as_mut());
        }
        for b in block.as_mut() {
            *b ^= 0x36;
        }
        let mut inner = C::IV;
        C::compress(&mut inner, &block);
        for b in block.as_mut() {
            *b ^= 0x36 ^ 0x5c;
        }
        let mut outer = C::IV;
        C::compress(&mut outer, &block);
        block.as_mut().zeroize();

        let mut inner_block = C::ZERO;
        pad(inner_block.as_mut(), 8, block_len, 8);
        let mut outer_block = C::ZERO;
        pad(outer_block.as_mut(), C::OUT, block_len, C::OUT);
        Self {
            inner,
            outer,
            inner_block,
            outer_block,
        }
    }

    /// RFC 4226 §5.3 dynamic truncation of `HMAC(K, counter)`: the 31-bit
    /// value before the decimal reduction.
    #[inline(always)]
    pub(crate) fn truncated(&self, counter: u64) -> u32 {
        let mut block = self.inner_block;
        if let Some(c) = block.as_mut().get_mut(..8) {
            c.copy_from_slice(&counter.to_be_bytes());
        }
        let mut state = self.inner;
        C::compress(&mut state, &block);

        let mut block = self.outer_block;
        C::digest(&state, block.as_mut());
        let mut state = self.outer;
        C::compress(&mut state, &block);

        // Reuse the outer block as the output buffer; it is overwritten anyway.
        let out = block.as_mut();
        C::digest(&state, out);
        let last = out.get(C::OUT - 1).copied().unwrap_or(0);
        let offset = usize::from(last & 0x0f);
        let mut word = [0u8; 4];
        if let Some(bytes) = out.get(offset..offset + 4) {
            word.copy_from_slice(bytes);
        }
        u32::from_be_bytes(word) & 0x7fff_ffff
    }
}

impl<C: Core> Clone for Keyed<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner,
            outer: self.outer,
            inner_block: self.inner_block,
            outer_block: self.outer_block,
        }
    }
}

impl<C: Core> Drop for Keyed<C> {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl<C: Core> ZeroizeOnDrop for Keyed<C> {}

/// A pre-keyed HMAC for one of the three RFC 6238 algorithms.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Keyed<Sha1>),
    Sha256(Keyed<Sha256>),
    Sha512(Keyed<Sha512>),
}

impl KeyedMac {
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Keyed::new(key)),
            Algorithm::Sha256 => Self::Sha256(Keyed::new(key)),
            Algorithm::Sha512 => Self::Sha512(Keyed::new(key)),
        }
    }

    /// Scans `first..=last` for `submitted`; see [`scan`].
    pub(crate) fn scan(&self, query: &ScanQuery) -> ScanResult {
        match self {
            Self::Sha1(k) => scan(k, query),
            Self::Sha256(k) => scan(k, query),
            Self::Sha512(k) => scan(k, query),
        }
    }

    pub(crate) fn truncated(&self, counter: u64) -> u32 {
        match self {
            Self::Sha1(k) => k.truncated(counter),
            Self::Sha256(k) => k.truncated(counter),
            Self::Sha512(k) => k.truncated(counter),
        }
    }
}

/// What a window scan looks for.
#[derive(Clone, Copy)]
pub(crate) struct ScanQuery {
    /// The submitted code as a number.
    pub(crate) submitted: u32,
    /// The code length.
    pub(crate) digits: Digits,
    /// The first counter in the window.
    pub(crate) first: u64,
    /// The last counter in the window (inclusive).
    pub(crate) last: u64,
    /// Counters at or below this were already used.
    pub(crate) used_up_to: Option<u64>,
}

/// What a window scan found.
#[derive(Clone, Copy)]
pub(crate) struct ScanResult {
    /// The code matched a counter above `used_up_to`.
    pub(crate) fresh: Choice,
    /// The highest such counter (meaningful only when `fresh`).
    pub(crate) counter: u64,
    /// The code matched a counter at or below `used_up_to`.
    pub(crate) replayed: Choice,
}

/// Computes the code for every counter in the window and compares each with
/// the submitted code in constant time, with no early exit: the work done and
/// the branches taken do not depend on whether or where the code matches.
fn scan<C: Core>(keyed: &Keyed<C>, q: &ScanQuery) -> ScanResult {
    let mut fresh = Choice::from(0);
    let mut replayed = Choice::from(0);
    let mut counter = 0u64;
    for c in q.first..=q.last {
        let code = q.digits.reduce(keyed.truncated(c));
        let hit = code.ct_eq(&q.submitted);
        let used = match q.used_up_to {
            Some(floor) => Choice::from(u8::from(c <= floor)),
            None => Choice::from(0),
        };
        let new_hit = hit & !used;
        fresh |= new_hit;
        replayed |= hit & used;
        counter.conditional_assign(&c, new_hit);
    }
    ScanResult {
        fresh,
        counter,
        replayed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit, Mac};
    use proptest::prelude::*;

    fn reference(algorithm: Algorithm, key: &[u8], counter: u64) -> u32 {
        let mac: std::vec::Vec<u8> = match algorithm {
            Algorithm::Sha1 => {
                let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
                m.update(&counter.to_be_bytes());
                m.finalize().into_bytes().to_vec()
            }
            Algorithm::Sha256 => {
                let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
                m.update(&counter.to_be_bytes());
                m.finalize().into_bytes().to_vec()
            }
            Algorithm::Sha512 => {
                let mut m = hmac::Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
                m.update(&counter.to_be_bytes());
                m.finalize().into_bytes().to_vec()
            }
        };
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff
    }

    fn algorithm() -> impl Strategy<Value = Algorithm> {
        prop_oneof![
            Just(Algorithm::Sha1),
            Just(Algorithm::Sha256),
            Just(Algorithm::Sha512)
        ]
    }

    proptest! {
        /// Every key length from empty to longer than a SHA-512 block (which
        /// takes the hash-the-key path), against the `hmac` crate.
        #[test]
        fn matches_the_hmac_crate(
            algorithm in algorithm(),
            key in proptest::collection::vec(any::<u8>(), 0..300),
            counter in any::<u64>(),
        ) {
            let keyed = KeyedMac::new(algorithm, &key);
            prop_assert_eq!(keyed.truncated(counter), reference(algorithm, &key, counter));
        }
    }

    #[test]
    fn block_boundary_keys() {
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            for len in [63, 64, 65, 127, 128, 129] {
                let key: std::vec::Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                let keyed = KeyedMac::new(algorithm, &key);
                for counter in [0, 1, u64::MAX] {
                    assert_eq!(
                        keyed.truncated(counter),
                        reference(algorithm, &key, counter)
                    );
                }
            }
        }
    }
}
