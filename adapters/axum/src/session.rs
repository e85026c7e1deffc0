//! The MFA assurance kept in the `tower-sessions` session, bound to the
//! application's user.

use tower_sessions::Session;

use crate::identity::UserId;

/// The session key holding the [`Assurance`], as one compact string
/// (`LEVEL:VERIFIED_AT:USER`): reading it on every request costs one string
/// copy, where a JSON object would be copied field by field.
pub const ASSURANCE_KEY: &str = "mfa.assurance";

/// How far a session's user has authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Level {
    /// The application signed the user in (a password, say).
    Password,
    /// A TOTP code or a recovery code was verified too.
    Mfa,
}

/// Who is signed in to a session, and how far: always for the user the
/// application says is signed in ([`Identity`](crate::Identity)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Assurance {
    /// The application's user.
    pub user: UserId,
    /// The level reached.
    pub level: Level,
    /// When the last code was verified (Unix seconds), at [`Level::Mfa`].
    pub verified_at: Option<u64>,
}

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
        let user = UserId::new(parts.next()?);
        Some(Self {
            user,
            level,
            verified_at,
        })
    }
}

/// The session's assurance for `user`, the application's answer for this
/// request.
///
/// - Nobody signed in: no assurance; one left over from an earlier user is
///   removed.
/// - The assurance was recorded for `user`: it stands.
/// - None recorded (the requests after the application's sign-in): `user`
///   is at [`Level::Password`]. Nothing is written: a password-level
///   request leaves the session as it found it, so one racing with the
///   request that raises the session cannot save the old id back.
/// - Another user's: it is void and removed, and the session id is cycled,
///   so a user switch in one browser never inherits MFA or keeps the old
///   id; `user` is at [`Level::Password`].
///
/// The id is not cycled after a plain sign-in: guarding against a fixed
/// session id is the sign-in's own job (axum-login cycles it), and a cycle
/// here would hand the new id to whichever request came first and sign out
/// the others sent at the same time.
pub(crate) async fn bind(
    session: &Session,
    user: Option<UserId>,
) -> Result<Option<Assurance>, tower_sessions::session::Error> {
    let text: Option<String> = session.get(ASSURANCE_KEY).await?;
    let Some(user) = user else {
        if text.is_some() {
            session.remove_value(ASSURANCE_KEY).await?;
        }
        return Ok(None);
    };
    let stored = text.as_deref().and_then(Assurance::decode);
    if let Some(assurance) = stored.filter(|a| a.user == user) {
        return Ok(Some(assurance));
    }
    if text.is_some() {
        tracing::info!(
            target: "mfa_axum",
            user = %user,
            "the signed-in user changed: the session's MFA assurance is void"
        );
        session.remove_value(ASSURANCE_KEY).await?;
        session.cycle_id().await?;
    }
    Ok(Some(Assurance {
        user,
        level: Level::Password,
        verified_at: None,
    }))
}

/// Raises the session to [`Level::Mfa`] for `user`, cycling the id.
pub(crate) async fn raise(
    session: &Session,
    user: &UserId,
    now: u64,
) -> Result<Assurance, tower_sessions::session::Error> {
    let assurance = Assurance {
        user: user.clone(),
        level: Level::Mfa,
        verified_at: Some(now),
    };
    session.cycle_id().await?;
    session.insert(ASSURANCE_KEY, assurance.encode()).await?;
    Ok(assurance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_form_round_trips() {
        for a in [
            Assurance {
                user: UserId::new("ada:lovelace"),
                level: Level::Mfa,
                verified_at: Some(1_700_000_000),
            },
            Assurance {
                user: UserId::new(""),
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
