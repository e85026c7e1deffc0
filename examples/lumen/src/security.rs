//! CSRF tokens, password hashing and random identifiers.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

/// The session key of the CSRF token.
const CSRF_KEY: &str = "lumen.csrf";

/// 32 random bytes, base64url (43 characters).
pub(crate) fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new user id: 16 random bytes, base64url.
pub(crate) fn new_user_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Something went wrong that the user cannot fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Broken {
    #[error("the session store failed")]
    Session(#[from] tower_sessions::session::Error),
    #[error("the random number generator failed")]
    Random(#[from] getrandom::Error),
    #[error("password hashing failed")]
    Hash,
    #[error("the database failed")]
    Database(#[from] mfa_store_sqlx::sqlx::Error),
    #[error("the MFA service failed")]
    Mfa(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The session's CSRF token, created on first use. Every form carries it;
/// every form handler checks it with [`csrf_matches`].
pub(crate) async fn csrf_token(session: &Session) -> Result<String, Broken> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    let token = random_token()?;
    session.insert(CSRF_KEY, &token).await?;
    Ok(token)
}

/// A new token after sign-in, so a token seen before it is worth nothing
/// after.
pub(crate) async fn rotate_csrf(session: &Session) -> Result<(), Broken> {
    session.insert(CSRF_KEY, random_token()?).await?;
    Ok(())
}

/// Whether a submitted token is the session's (compared in constant time).
pub(crate) async fn csrf_matches(session: &Session, submitted: &str) -> Result<bool, Broken> {
    let Some(token) = session.get::<String>(CSRF_KEY).await? else {
        return Ok(false);
    };
    Ok(token.len() == submitted.len() && bool::from(token.as_bytes().ct_eq(submitted.as_bytes())))
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), as a PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String, Broken> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|_| Broken::Hash)
}

/// A hash of a password nobody has, checked when the email is unknown so
/// that a sign-in takes as long either way.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").unwrap_or_default())
}

/// Whether `password` matches the stored PHC string.
pub(crate) fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("correct horse battery staple", &hash));
        assert!(!password_matches("correct horse battery stapl", &hash));
        assert!(!password_matches("anything", "not a hash"));
        assert!(!password_matches("decoy password", "")); // a broken decoy never matches
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
