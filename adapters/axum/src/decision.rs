//! The one decision: what a request needs before it may go on.

use mfa_flow::Requirement;

use crate::session::{Assurance, Level};

/// Decides what a signed-in request needs before it may go on, as the
/// flow's [`Requirement`]: [`Requirement::Proceed`] when the session has the
/// assurance the route asks for (or MFA is off and optional for this user),
/// [`Requirement::Enroll`] or [`Requirement::Code`] otherwise. Pure: the guard, the JSON routes
/// and [`MfaSession::requirement`](crate::MfaSession::requirement) all call it, so no
/// interface can disagree with another.
///
/// - `assurance`: the session's, already bound to the application's user.
/// - `requirement`: what the flow says this user's login needs
///   ([`MfaService::requirement`](mfa_flow::MfaService::requirement)), or
///   `None` when it has not been looked up yet.
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
/// use mfa_axum::decide;
/// use mfa_flow::Requirement;
/// # use mfa_axum::Assurance;
/// # fn check(level_1: &Assurance) {
/// // A password-only session: the flow decides.
/// assert_eq!(decide(level_1, None, None, 0), None);
/// assert_eq!(decide(level_1, Some(Requirement::Code), None, 0), Some(Requirement::Code));
/// assert_eq!(decide(level_1, Some(Requirement::Proceed), Some(300), 0), Some(Requirement::Proceed));
/// # }
/// ```
#[must_use]
pub fn decide(
    assurance: &Assurance,
    requirement: Option<Requirement>,
    step_up: Option<u64>,
    now: u64,
) -> Option<Requirement> {
    let recent = match (step_up, assurance.verified_at) {
        (None, _) => true,
        (Some(age), Some(at)) => now.saturating_sub(at) <= age,
        (Some(_), None) => false,
    };
    if assurance.level == Level::Mfa && recent {
        return Some(Requirement::Proceed);
    }
    Some(match requirement? {
        Requirement::Proceed => Requirement::Proceed,
        Requirement::Enroll => Requirement::Enroll,
        // A code, or anything a later flow version asks for: the stricter
        // answer.
        _ => Requirement::Code,
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
            Some(Requirement::Proceed)
        );
        assert_eq!(
            decide(&at(Level::Mfa, Some(100)), None, Some(60), 150),
            Some(Requirement::Proceed)
        );
    }

    #[test]
    fn below_the_level_the_flow_decides() {
        let one = at(Level::Password, None);
        assert_eq!(decide(&one, None, None, 0), None);
        for requirement in [Requirement::Proceed, Requirement::Enroll, Requirement::Code] {
            assert_eq!(decide(&one, Some(requirement), None, 0), Some(requirement));
            assert_eq!(
                decide(&one, Some(requirement), Some(60), 0),
                Some(requirement)
            );
        }
    }

    #[test]
    fn an_old_code_on_a_step_up_route_asks_the_flow() {
        let old = at(Level::Mfa, Some(100));
        assert_eq!(decide(&old, None, Some(60), 161), None);
        assert_eq!(
            decide(&old, Some(Requirement::Code), Some(60), 161),
            Some(Requirement::Code)
        );
        // MFA switched off since: nothing to ask for.
        assert_eq!(
            decide(&old, Some(Requirement::Proceed), Some(60), 161),
            Some(Requirement::Proceed)
        );
    }
}
