//! Prints a fresh TOTP enrollment: the otpauth URI, its QR code for the
//! terminal, the secret for manual entry, and the current code, so you can
//! scan it with an authenticator app and compare.
//!
//! Run with `cargo run -p totp-core --example enroll -- [ACCOUNT] [ISSUER]`.

use std::time::{SystemTime, UNIX_EPOCH};

use totp_core::{KeyUri, Qr, Secret, Totp, TotpConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let account = args.next().unwrap_or_else(|| "ada@example.com".to_owned());
    let issuer = args
        .next()
        .unwrap_or_else(|| "Lumen Master Account".to_owned());

    let config = TotpConfig::default();
    let secret = Secret::generate()?;
    let totp = Totp::new(config, &secret);
    let uri = KeyUri::totp(&secret, Some(&issuer), &account, &config)?;
    let text = uri.expose_uri();

    println!("{}", Qr::new(&text)?.to_unicode());
    println!("URI:    {}", text.as_str());
    println!("Secret: {}", uri.secret().expose_base32().as_str());

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    println!(
        "Code:   {} (valid for {} more seconds)",
        totp.generate(now)?.as_str(),
        config.seconds_left(now)?
    );
    Ok(())
}
