#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::indexing_slicing)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
#[macro_use]
extern crate std;
#[cfg(all(feature = "std", not(test)))]
extern crate std;

mod algorithm;
mod code;
mod mac;
mod otp;
#[cfg(feature = "qr")]
mod qr;
mod secret;
#[cfg(feature = "alloc")]
mod uri;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use code::{Code, CodeError, Digits, InvalidDigits};
pub use otp::{
    ConfigError, Hotp, HotpConfig, MAX_HOTP_LOOK_AHEAD, MAX_TOTP_WINDOW, Matched, TimeError, Totp,
    TotpConfig, VerifyError,
};
#[cfg(feature = "qr")]
pub use qr::{Qr, QrError};
#[cfg(feature = "getrandom")]
pub use secret::RngError;
pub use secret::{MAX_SECRET_LEN, MIN_GENERATED_LEN, MIN_SECRET_LEN, Secret, SecretError};
#[cfg(feature = "alloc")]
pub use uri::{KeyUri, MAX_LABEL_PART_LEN, MAX_URI_LEN, UriError, UriKind};
