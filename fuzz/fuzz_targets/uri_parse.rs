//! Any text into `KeyUri::parse`: no panic, and whatever parses round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use totp_core::KeyUri;

fuzz_target!(|text: &str| {
    if let Ok(uri) = KeyUri::parse(text) {
        assert_eq!(KeyUri::parse(&uri.expose_uri()), Ok(uri));
    }
});
