//! Any bytes as a stored MFA record (a store may hand back corrupt data):
//! a typed error or a record, never a panic; a record re-encodes exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_flow::MfaRecord;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(record) = MfaRecord::from_bytes(bytes) {
        let again = MfaRecord::from_bytes(&record.to_bytes()).expect("re-encoded record decodes");
        assert_eq!(again, record);
    }
});
