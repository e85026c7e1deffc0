//! Any text as a stored MFA record (a store may hand back corrupt data):
//! a typed error or a record, never a panic; a record re-encodes to one
//! that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        mfa_flow::fuzz_decode(text);
    }
});
