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
///
/// Message blocks are assembled from 16-byte chunks, so the compression
/// function's 16-byte loads read whole stores instead of stalling on
/// store-to-load forwarding from byte- or word-sized writes.
pub(crate) trait Core {
    /// The chaining state: 5 or 8 words.
    type State: Copy + Zeroize;
    /// One input block: 64 or 128 bytes.
    type Block: Copy + AsRef<[u8]> + AsMut<[u8]>;
    /// The standard initial state.
    const IV: Self::State;
    /// An all-zero block.
    const ZERO: Self::Block;
    /// Runs the compression function over one block.
    fn compress(state: &mut Self::State, block: &Self::Block);
    /// The inner message block: the 8-byte counter after one full block
    /// (the key pad), with its padding and length.
    fn counter_block(counter: u64) -> Self::Block;
    /// The outer message block: the inner digest after one full block, with
    /// its padding and length.
    fn digest_block(inner: &Self::State) -> Self::Block;
    /// RFC 4226 §5.3 dynamic truncation, read from the state words: the four
    /// digest bytes at the offset named by the last byte's low nibble, top
    /// bit cleared.
    fn truncate(state: &Self::State) -> u32;
    /// Hashes a whole message (for keys longer than a block) into the start
    /// of `out`.
    fn hash(message: &[u8], out: &mut [u8]);
}

/// SHA-1 (FIPS 180-4 §6.1).
pub(crate) enum Sha1 {}
/// SHA-256 (FIPS 180-4 §6.2).
pub(crate) enum Sha256 {}
/// SHA-512 (FIPS 180-4 §6.4).
pub(crate) enum Sha512 {}

/// The bit length field of a message of `block` + `message` bytes.
const fn length_bits(block: u128, message: u128) -> u128 {
    (block + message) * 8
}

/// The `0x80` padding byte at byte `at` of a big-endian 16-byte chunk.
const fn pad_at(at: u32) -> u128 {
    0x80 << (120 - 8 * at)
}

/// A block of `B` bytes from `B / 16` big-endian 16-byte chunks.
#[inline(always)]
fn block<const B: usize, const C: usize>(chunks: [u128; C]) -> [u8; B] {
    let mut block = [0u8; B];
    for (dst, chunk) in block.chunks_exact_mut(16).zip(chunks) {
        dst.copy_from_slice(&chunk.to_be_bytes());
    }
    block
}

/// Four big-endian 32-bit words as one 16-byte chunk.
#[inline(always)]
fn words4(w: [u32; 4]) -> u128 {
    (u128::from(w[0]) << 96)
        | (u128::from(w[1]) << 64)
        | (u128::from(w[2]) << 32)
        | u128::from(w[3])
}

/// The low 32 bits (the narrowing is the point).
#[inline(always)]
fn low32(v: u64) -> u32 {
    let [.., a, b, c, d] = v.to_be_bytes();
    u32::from_be_bytes([a, b, c, d])
}

/// RFC 4226's dynamic-truncation offset: the low four bits of the digest's
/// last byte, the low byte of its last word.
#[inline(always)]
fn offset_of(last_byte: u8) -> usize {
    usize::from(last_byte & 0x0f)
}

/// Dynamic truncation over 32-bit state words (SHA-1: 5, SHA-256: 8).
///
/// The offset is at most 15, so the two words read are at most the 4th and
/// 5th: within every state (`N >= 5`, checked when compiled), so the
/// indexing has no failing path.
#[inline(always)]
#[expect(
    clippy::indexing_slicing,
    reason = "N >= 5 is asserted at compile time and w + 1 <= 4: every index is in bounds"
)]
fn truncate32<const N: usize>(words: &[u32; N]) -> u32 {
    const { assert!(N >= 5, "a state of at least 5 words") };
    let [.., low] = words[N - 1].to_be_bytes();
    let offset = offset_of(low);
    let (w, shift) = (offset / 4, (offset % 4) * 8);
    let hi = u64::from(words[w]);
    let lo = u64::from(words[w + 1]);
    low32(((hi << 32) | lo) >> (32 - shift)) & 0x7fff_ffff
}

fn write_prefix(digest: &[u8], out: &mut [u8]) {
    for (o, d) in out.iter_mut().zip(digest) {
        *o = *d;
    }
}

const SHA1_INNER_LEN: u128 = length_bits(64, 8);
const SHA1_OUTER_LEN: u128 = length_bits(64, 20);
const SHA256_OUTER_LEN: u128 = length_bits(64, 32);
const SHA512_INNER_LEN: u128 = length_bits(128, 8);
const SHA512_OUTER_LEN: u128 = length_bits(128, 64);

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
    const ZERO: [u8; 64] = [0; 64];
    #[inline(always)]
    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }
    #[inline(always)]
    fn counter_block(counter: u64) -> [u8; 64] {
        block::<64, 4>([
            (u128::from(counter) << 64) | pad_at(8),
            0,
            0,
            SHA1_INNER_LEN,
        ])
    }
    #[inline(always)]
    fn digest_block(s: &[u32; 5]) -> [u8; 64] {
        block::<64, 4>([
            words4([s[0], s[1], s[2], s[3]]),
            (u128::from(s[4]) << 96) | pad_at(4),
            0,
            SHA1_OUTER_LEN,
        ])
    }
    #[inline(always)]
    fn truncate(state: &[u32; 5]) -> u32 {
        truncate32(state)
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
    const ZERO: [u8; 64] = [0; 64];
    #[inline(always)]
    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }
    #[inline(always)]
    fn counter_block(counter: u64) -> [u8; 64] {
        // The same inner message as SHA-1: one 64-byte block plus 8 bytes.
        Sha1::counter_block(counter)
    }
    #[inline(always)]
    fn digest_block(s: &[u32; 8]) -> [u8; 64] {
        block::<64, 4>([
            words4([s[0], s[1], s[2], s[3]]),
            words4([s[4], s[5], s[6], s[7]]),
            pad_at(0),
            SHA256_OUTER_LEN,
        ])
    }
    #[inline(always)]
    fn truncate(state: &[u32; 8]) -> u32 {
        truncate32(state)
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
    const ZERO: [u8; 128] = [0; 128];
    #[inline(always)]
    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        sha2::block_api::compress512(state, core::slice::from_ref(block));
    }
    #[inline(always)]
    fn counter_block(counter: u64) -> [u8; 128] {
        block::<128, 8>([
            (u128::from(counter) << 64) | pad_at(8),
            0,
            0,
            0,
            0,
            0,
            0,
            SHA512_INNER_LEN,
        ])
    }
    #[inline(always)]
    fn digest_block(s: &[u64; 8]) -> [u8; 128] {
        let pair = |a: u64, b: u64| (u128::from(a) << 64) | u128::from(b);
        block::<128, 8>([
            pair(s[0], s[1]),
            pair(s[2], s[3]),
            pair(s[4], s[5]),
            pair(s[6], s[7]),
            pad_at(0),
            0,
            0,
            SHA512_OUTER_LEN,
        ])
    }
    #[inline(always)]
    #[expect(
        clippy::indexing_slicing,
        reason = "the offset is at most 15, so w + 1 <= 2 of 8 words: every index is in bounds"
    )]
    fn truncate(state: &[u64; 8]) -> u32 {
        let [.., low] = state[7].to_be_bytes();
        let offset = offset_of(low);
        let (w, shift) = (offset / 8, (offset % 8) * 8);
        let hi = u128::from(state[w]);
        let lo = u128::from(state[w + 1]);
        let four = ((hi << 64) | lo) >> (96 - shift);
        let [.., a, b, c, d] = four.to_be_bytes();
        u32::from_be_bytes([a, b, c, d]) & 0x7fff_ffff
    }
    fn hash(message: &[u8], out: &mut [u8]) {
        write_prefix(&sha2::Sha512::digest(message), out);
    }
}

/// The key schedule of HMAC for one hash: the states after the inner and
/// outer pad blocks. These are key-equivalent, so they are zeroized on drop.
pub(crate) struct Keyed<C: Core> {
    inner: C::State,
    outer: C::State,
}

impl<C: Core> Keyed<C> {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut ipad = C::ZERO;
        if key.len() > ipad.as_ref().len() {
            C::hash(key, ipad.as_mut());
        } else {
            write_prefix(key, ipad.as_mut());
        }
        let mut opad = ipad;
        for b in ipad.as_mut() {
            *b ^= 0x36;
        }
        for b in opad.as_mut() {
            *b ^= 0x5c;
        }
        // Both pad blocks are written before either compression, so the two
        // (independent) compressions can overlap.
        let mut inner = C::IV;
        let mut outer = C::IV;
        C::compress(&mut inner, &ipad);
        C::compress(&mut outer, &opad);
        ipad.as_mut().zeroize();
        opad.as_mut().zeroize();
        Self { inner, outer }
    }

    /// RFC 4226 §5.3 dynamic truncation of `HMAC(K, counter)`: the 31-bit
    /// value before the decimal reduction.
    #[inline(always)]
    pub(crate) fn truncated(&self, counter: u64) -> u32 {
        let [value] = self.truncated_lanes::<1>(counter, 1);
        value
    }

    /// [`Keyed::truncated`] for the `n` (at most `N`) counters from `first`.
    ///
    /// The lanes are independent, so the processor can overlap their
    /// compressions, provided none waits on memory. A 16-byte load of a block
    /// written in 8-byte pieces cannot be forwarded from the store buffer: it
    /// waits until those stores retire, and they retire only after every
    /// older instruction. So the order is chosen so that each block is
    /// written as early as its data allows: all counter blocks first; each
    /// digest block right after its own inner compression; the outer
    /// compressions last, by when their blocks have long retired.
    #[inline(always)]
    fn truncated_lanes<const N: usize>(&self, first: u64, n: usize) -> [u32; N] {
        let mut counter = first;
        let blocks: [C::Block; N] = core::array::from_fn(|_| {
            let block = C::counter_block(counter);
            counter = counter.wrapping_add(1);
            block
        });
        // The chaining states are copied up front for the same reason.
        let mut inner = [self.inner; N];
        let mut outer = [self.outer; N];
        let mut outer_blocks = [C::ZERO; N];
        for (((state, block), outer_block), _) in inner
            .iter_mut()
            .zip(&blocks)
            .zip(outer_blocks.iter_mut())
            .zip(0..n)
        {
            C::compress(state, block);
            *outer_block = C::digest_block(state);
        }
        let mut values = [0u32; N];
        for (((value, state), block), _) in values
            .iter_mut()
            .zip(outer.iter_mut())
            .zip(&outer_blocks)
            .zip(0..n)
        {
            C::compress(state, block);
            *value = C::truncate(state);
        }
        values
    }
}

impl<C: Core> Clone for Keyed<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner,
            outer: self.outer,
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

/// Counters hashed together in one batch; see [`Keyed::truncated_lanes`].
/// Three covers the default ±1 window in one batch.
const LANES: usize = 3;

/// Computes the code for every counter in the window and compares each with
/// the submitted code in constant time, with no early exit: the work done and
/// the branches taken do not depend on whether or where the code matches,
/// only on the window and the last used step, which are not secret.
fn scan<C: Core>(keyed: &Keyed<C>, q: &ScanQuery) -> ScanResult {
    let mut fresh = Choice::from(0);
    let mut replayed = Choice::from(0);
    let mut counter = 0u64;
    let mut start = q.first;
    loop {
        let end = start.saturating_add(LANES as u64 - 1).min(q.last);
        // At most LANES, so the conversion cannot fail.
        let n = usize::try_from(end - start).map_or(LANES, |d| d + 1);
        let values = keyed.truncated_lanes::<LANES>(start, n);
        for (c, value) in (start..=end).zip(values) {
            let hit = q.digits.reduce(value).ct_eq(&q.submitted);
            if q.used_up_to.is_some_and(|used| c <= used) {
                replayed |= hit;
            } else {
                fresh |= hit;
                counter.conditional_assign(&c, hit);
            }
        }
        if end == q.last {
            break;
        }
        start = end + 1;
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
            for len in [63u8, 64, 65, 127, 128, 129] {
                let key: std::vec::Vec<u8> = (0..len).map(|i| i.wrapping_mul(7)).collect();
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
