//! The one decision: what a request needs before it may go on.

use mfa_flow::Requirement;

use crate::session::{Assurance, Level};

/// What a signed-in request needs before it may go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Need {
    /// Nothing: the session has the assurance the route asks for, or MFA is
    /// off and optional for this user.
    Nothing,
    /// Enrollment first (opted in, or required and not enrolled).
    Enrollment,
    /// A code from the authenticator app (or a recovery code).
    Code,
}

/// Decides what a signed-in request needs. Pure: the guard, the JSON routes
/// and [`MfaSession::need`](crate::MfaSession::need) all call it, so no
/// interface can disagree with another.
///
/// - `assurance`: the session's, already bound to the application's user.
/// - `requirement`: what the flow says this user's login needs, or `None`
///   when it has not been looked up yet.
/// - `step_up`: for a sensitive route, how recent (in seconds) the last
///   code must be.
/// - `now`: Unix seconds.
///
/// Returns `None` when the answer depends on the requirement and it was not
/// given: look it up and call again. A session at [`Level::Mfa`] with a
/// recent enough code needs no lookup, which keeps the common path free of
/// store reads.
///
/// A step-up route follows the policy like any other once the session's
/// code is too old: a user without MFA whose policy is optional goes
/// through (there is no code to ask for), one who must enroll is sent to
/// enrollment.
///
/// ```
/// use mfa_axum::{Need, decide};
/// use mfa_flow::Requirement;
/// # use mfa_axum::Assurance;
/// # fn check(level_1: &Assurance) {
/// // A password-only session: the flow decides.
/// assert_eq!(decide(level_1, None, None, 0), None);
/// assert_eq!(decide(level_1, Some(Requirement::Code), None, 0), Some(Need::Code));
/// assert_eq!(decide(level_1, Some(Requirement::Proceed), Some(300), 0), Some(Need::Nothing));
/// # }
/// ```
#[must_use]
pub fn decide(
    assurance: &Assurance,
    requirement: Option<Requirement>,
    step_up: Option<u64>,
    now: u64,
) -> Option<Need> {
    let recent = match (step_up, assurance.verified_at) {
        (None, _) => true,
        (Some(age), Some(at)) => now.saturating_sub(at) <= age,
        (Some(_), None) => false,
    };
    if assurance.level == Level::Mfa && recent {
        return Some(Need::Nothing);
    }
    Some(match requirement? {
        Requirement::Proceed => Need::Nothing,
        Requirement::Enroll => Need::Enrollment,
        // A code, or anything a later flow version asks for: the stricter
        // answer.
        _ => Need::Code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::UserId;

    fn at(level: Level, verified_at: Option<u64>) -> Assurance {
        Assurance {
            user: UserId::new("ada"),
            level,
            verified_at,
        }
    }

    #[test]
    fn level_two_needs_nothing_without_a_lookup() {
        assert_eq!(
            decide(&at(Level::Mfa, Some(100)), None, None, 10_000),
            Some(Need::Nothing)
        );
        assert_eq!(
            decide(&at(Level::Mfa, Some(100)), None, Some(60), 150),
            Some(Need::Nothing)
        );
    }

    #[test]
    fn below_the_level_the_flow_decides() {
        let one = at(Level::Password, None);
        assert_eq!(decide(&one, None, None, 0), None);
        for (requirement, need) in [
            (Requirement::Proceed, Need::Nothing),
            (Requirement::Enroll, Need::Enrollment),
            (Requirement::Code, Need::Code),
        ] {
            assert_eq!(decide(&one, Some(requirement), None, 0), Some(need));
            assert_eq!(decide(&one, Some(requirement), Some(60), 0), Some(need));
        }
    }

    #[test]
    fn an_old_code_on_a_step_up_route_asks_the_flow() {
        let old = at(Level::Mfa, Some(100));
        assert_eq!(decide(&old, None, Some(60), 161), None);
        assert_eq!(
            decide(&old, Some(Requirement::Code), Some(60), 161),
            Some(Need::Code)
        );
        // MFA switched off since: nothing to ask for.
        assert_eq!(
            decide(&old, Some(Requirement::Proceed), Some(60), 161),
            Some(Need::Nothing)
        );
    }
}
