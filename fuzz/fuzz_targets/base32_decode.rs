//! Any text into `Secret::from_base32`: no panic, and whatever decodes
//! re-encodes to canonical base32 that decodes to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use totp_core::Secret;

fuzz_target!(|text: &str| {
    if let Ok(secret) = Secret::from_base32(text) {
        let canonical = secret.expose_base32();
        assert_eq!(Secret::from_base32(&canonical).as_ref(), Ok(&secret));
    }
});
