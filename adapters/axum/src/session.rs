//! The MFA assurance level kept in the `tower-sessions` session.

use tower_sessions::Session;

/// The session key holding the [`Assurance`], as one compact string
/// (`LEVEL:VERIFIED_AT:USER`): reading it on every request costs one string
/// copy, where a JSON object would be copied field by field.
pub const ASSURANCE_KEY: &str = "mfa.assurance";

impl Assurance {
    fn encode(&self) -> String {
        let level = match self.level {
            Level::Password => '1',
            Level::Mfa => '2',
        };
        match self.verified_at {
            Some(at) => format!("{level}:{at}:{}", self.user),
            None => format!("{level}::{}", self.user),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let level = match parts.next()? {
            "1" => Level::Password,
            "2" => Level::Mfa,
            _ => return None,
        };
        let verified_at = match parts.next()? {
            "" => None,
            at => Some(at.parse().ok()?),
        };
        let user = parts.next()?.to_owned();
        Some(Self {
            user,
            level,
            verified_at,
        })
    }
}

/// How far a session's user has authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// The application checked the password.
    Password,
    /// A TOTP code or a recovery code was verified too.
    Mfa,
}

/// Who is signed in to a session, and how far.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Assurance {
    /// The application's user id.
    pub user: String,
    /// The level reached.
    pub level: Level,
    /// When the last code was verified (Unix seconds), at [`Level::Mfa`].
    pub verified_at: Option<u64>,
}

/// A session operation failed (the session store).
#[derive(Debug, thiserror::Error)]
#[error("the session store failed")]
pub struct SessionError(#[source] pub tower_sessions::session::Error);

/// Records a successful password check: the session is now at
/// [`Level::Password`] for `user`. The session id is cycled, so an id fixed
/// by an attacker before sign-in grants nothing after it.
///
/// # Errors
///
/// [`SessionError`] if the session store fails.
pub async fn sign_in(session: &Session, user: &str) -> Result<(), SessionError> {
    session.cycle_id().await.map_err(SessionError)?;
    let assurance = Assurance {
        user: user.to_owned(),
        level: Level::Password,
        verified_at: None,
    };
    session
        .insert(ASSURANCE_KEY, assurance.encode())
        .await
        .map_err(SessionError)
}

/// Signs out: the MFA state (and everything else in the session) is
/// cleared and the session deleted.
///
/// # Errors
///
/// [`SessionError`] if the session store fails.
pub async fn sign_out(session: &Session) -> Result<(), SessionError> {
    session.flush().await.map_err(SessionError)
}

/// The session's assurance, if someone signed in.
///
/// # Errors
///
/// [`SessionError`] if the session store fails.
pub async fn assurance(session: &Session) -> Result<Option<Assurance>, SessionError> {
    let text: Option<String> = session.get(ASSURANCE_KEY).await.map_err(SessionError)?;
    Ok(text.as_deref().and_then(Assurance::decode))
}

/// Raises the session to [`Level::Mfa`], cycling the id.
pub(crate) async fn raise(session: &Session, user: &str, now: u64) -> Result<(), SessionError> {
    session.cycle_id().await.map_err(SessionError)?;
    let assurance = Assurance {
        user: user.to_owned(),
        level: Level::Mfa,
        verified_at: Some(now),
    };
    session
        .insert(ASSURANCE_KEY, assurance.encode())
        .await
        .map_err(SessionError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_form_round_trips() {
        for a in [
            Assurance {
                user: "ada:lovelace".to_owned(),
                level: Level::Mfa,
                verified_at: Some(1_700_000_000),
            },
            Assurance {
                user: String::new(),
                level: Level::Password,
                verified_at: None,
            },
        ] {
            assert_eq!(Assurance::decode(&a.encode()), Some(a));
        }
        for bad in ["", "3::u", "2:x:u", "2:5"] {
            assert_eq!(Assurance::decode(bad), None, "{bad}");
        }
    }
}
