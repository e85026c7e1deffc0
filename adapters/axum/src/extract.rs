//! The session-bound API for handlers: one extractor that knows the
//! signed-in user and offers every MFA operation.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;
use http::{HeaderMap, header};
use mfa_flow::{
    CodeKind, Enrolled, Outcome, Policy, RecoveryCodes, Requirement, Status, UsedCode, Verified,
};
use tower_sessions::Session;

use crate::decision::decide;
use crate::error::Error;
use crate::flow::Bound;
use crate::identity::UserId;
use crate::mfa::Mfa;
use crate::session::{Assurance, Level, raise};
use crate::values::Enrollment;

/// The session key holding the fingerprint of the enrollment this session
/// showed.
const ENROLLMENT_KEY: &str = "mfa.enrollment";

/// The session key holding the fingerprint of the replacement app this
/// session showed.
const REPLACEMENT_KEY: &str = "mfa.replacement";

/// How recent the session's MFA verification must be to set up a new
/// authenticator app, in seconds ("sudo mode").
pub const REPLACEMENT_WINDOW: u64 = 10 * 60;

/// What the guard leaves in the request extensions for the extractors, so
/// the session is bound once per request.
#[derive(Clone)]
pub(crate) struct Passed {
    pub(crate) mfa: Mfa,
    pub(crate) bound: Bound,
}

/// Whether the client wants JSON rather than a page.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    let has_json = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"))
    };
    has_json(header::ACCEPT) || has_json(header::CONTENT_TYPE)
}

/// The signed-in user's MFA, for handlers: who it is, how far the session
/// has got, and every operation of the flow for that user. The guard, the
/// JSON routes and the application's pages all go through it.
///
/// Extracted from the request's session and the application's
/// [`Identity`](crate::Identity), with the [`Mfa`] handle from the state
/// (`Mfa: FromRef<S>`). Behind [`MfaLayer`](crate::MfaLayer) it reuses what
/// the guard already read. Nobody signed in is a rejection: `303` to the
/// sign-in page for a page request, `401 {"error":"not_signed_in"}` for
/// JSON; as an `Option<MfaSession>` it is `None`.
///
/// Operations that accept a code raise the session to [`Level::Mfa`] with a
/// new session id. Factor changes (regenerating recovery codes, turning MFA
/// off) need a session at [`Level::Mfa`] **and** a code in the same
/// request, which the flow accepts only if it is newer than every code
/// used before (so newer than the one that raised the session) or an
/// unused recovery code.
#[derive(Clone)]
pub struct MfaSession {
    mfa: Mfa,
    bound: Bound,
}

impl std::fmt::Debug for MfaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaSession")
            .field("assurance", &self.bound.assurance)
            .finish_non_exhaustive()
    }
}

impl MfaSession {
    /// The signed-in user.
    #[must_use]
    pub fn user(&self) -> &UserId {
        &self.bound.assurance.user
    }

    /// How far the session has got.
    #[must_use]
    pub fn assurance(&self) -> &Assurance {
        &self.bound.assurance
    }

    /// The `tower-sessions` session.
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.bound.session
    }

    /// The service clock's current time (Unix seconds).
    #[must_use]
    pub fn now(&self) -> u64 {
        self.mfa.now()
    }

    /// What this session needs before a route with the given `step_up`
    /// (seconds, for sensitive routes) lets it through: the guard's
    /// decision ([`decide`]). Reads the MFA record only below the level.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the MFA store is down.
    pub async fn requirement(&self, step_up: Option<u64>) -> Result<Requirement, Error> {
        let now = self.now();
        let assurance = &self.bound.assurance;
        if let Some(decided) = decide(assurance, None, step_up, now) {
            return Ok(decided);
        }
        let users = self.mfa.0.requirement(&assurance.user).await?;
        Ok(decide(assurance, Some(users), step_up, now).unwrap_or(Requirement::Code))
    }

    /// Records that the user opted in; the enrollment page then sets it up.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] or [`Error::Contention`].
    pub async fn opt_in(&self) -> Result<(), Error> {
        self.mfa.0.opt_in(self.user()).await
    }

    /// The enrollment to show: the pending one again if this session showed
    /// it (the same QR code and expiry, so a reload or a wrong code does not
    /// replace what the user scanned), or a new one. A pending enrollment
    /// started in another session (by someone else with the password, say)
    /// is replaced, never shown: nobody else has seen the QR code a user
    /// scans.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyEnrolled`] when MFA is active;
    /// [`Error::InvalidAccountName`]; store errors.
    pub async fn enrollment(&self) -> Result<Enrollment, Error> {
        let session = &self.bound.session;
        let shown: Option<String> = session.get(ENROLLMENT_KEY).await?;
        let (enrollment, print) = self.mfa.0.enrollment(self.user(), shown.clone()).await?;
        if shown.as_deref() != Some(print.as_str()) {
            session.insert(ENROLLMENT_KEY, print).await?;
        }
        Ok(enrollment)
    }

    /// Confirms the pending enrollment with a code from the app. When it is
    /// accepted the session is raised to [`Level::Mfa`] with a new id; the
    /// recovery codes in the answer are to be shown this once.
    ///
    /// # Errors
    ///
    /// [`Error::NoPendingEnrollment`]; store and session errors.
    pub async fn confirm(&mut self, code: &str) -> Result<Outcome<Enrolled>, Error> {
        let outcome = self.mfa.0.confirm(self.user(), code).await?;
        if outcome.is_accepted() {
            self.raise().await?;
        }
        Ok(outcome)
    }

    /// The user's policy (the application's [`UserPolicy`](crate::UserPolicy)):
    /// whether MFA is theirs to choose, so a page knows whether to offer
    /// "not now" or "turn off".
    pub async fn policy(&self) -> Policy {
        self.mfa.0.policy(self.user()).await
    }

    /// Puts off an optional opt-in that is not confirmed yet ("not now" on
    /// the enrollment page): MFA is off again and the pending QR code, if
    /// any, is gone. Any signed-in session may do it (it is where the guard
    /// sends an opted-in user), but it never turns off an active user's MFA
    /// and never a required one.
    ///
    /// # Errors
    ///
    /// [`Error::PolicyForbids`] where MFA is required;
    /// [`Error::AlreadyEnrolled`] when MFA is active; store errors.
    pub async fn cancel_enrollment(&self) -> Result<(), Error> {
        self.mfa.0.cancel_enrollment(self.user()).await?;
        self.bound.session.remove::<String>(ENROLLMENT_KEY).await?;
        Ok(())
    }

    /// The new authenticator app to set up for an enrolled user (a new
    /// phone, or a lost one after a recovery-code sign-in): the pending
    /// replacement again if this session showed it, or a new one. The old
    /// app keeps working until [`confirm_replacement`](Self::confirm_replacement).
    /// It needs a session at [`Level::Mfa`] whose code (or recovery code)
    /// was verified within [`REPLACEMENT_WINDOW`]; otherwise verify again.
    ///
    /// # Errors
    ///
    /// [`Error::MfaRequired`] without a recent verification;
    /// [`Error::NotEnrolled`]; [`Error::InvalidAccountName`]; store errors.
    pub async fn replacement(&self) -> Result<Enrollment, Error> {
        self.recently_verified()?;
        let session = &self.bound.session;
        let shown: Option<String> = session.get(REPLACEMENT_KEY).await?;
        let (enrollment, print) = self.mfa.0.replacement(self.user(), shown.clone()).await?;
        if shown.as_deref() != Some(print.as_str()) {
            session.insert(REPLACEMENT_KEY, print).await?;
        }
        Ok(enrollment)
    }

    /// Confirms the replacement this session showed with a code from the
    /// new app: it becomes the user's authenticator and the old one stops
    /// working; the recovery codes stay. When it is accepted the session is
    /// raised again (new id, verified now). It needs a session at
    /// [`Level::Mfa`] that was shown the pending replacement by
    /// [`replacement`](Self::replacement) (which asked for the recent
    /// verification); the replacement's own TTL bounds the rest.
    ///
    /// # Errors
    ///
    /// [`Error::MfaRequired`] below [`Level::Mfa`];
    /// [`Error::NoPendingReplacement`] when none is pending, it expired, or
    /// this session was not shown it (another session began it); store and
    /// session errors.
    pub async fn confirm_replacement(&mut self, code: &str) -> Result<Outcome<Verified>, Error> {
        self.passed_mfa()?;
        let session = &self.bound.session;
        let shown: Option<String> = session.get(REPLACEMENT_KEY).await?;
        let pending = self.mfa.0.pending_replacement(self.user()).await?;
        if shown.is_none() || shown != pending {
            return Err(Error::NoPendingReplacement);
        }
        let outcome = self.mfa.0.confirm_replacement(self.user(), code).await?;
        if outcome.is_accepted() {
            self.bound.session.remove::<String>(REPLACEMENT_KEY).await?;
            self.raise().await?;
        }
        Ok(outcome)
    }

    /// Drops the pending replacement: the user keeps the current app.
    ///
    /// # Errors
    ///
    /// [`Error::MfaRequired`] below [`Level::Mfa`]; store and session
    /// errors.
    pub async fn cancel_replacement(&self) -> Result<(), Error> {
        self.passed_mfa()?;
        self.mfa.0.cancel_replacement(self.user()).await?;
        self.bound.session.remove::<String>(REPLACEMENT_KEY).await?;
        Ok(())
    }

    /// Checks a code of the `kind` the user chose. When it is accepted the
    /// session is raised to [`Level::Mfa`] with a new id.
    ///
    /// # Errors
    ///
    /// [`Error::NotEnrolled`]; store and session errors.
    pub async fn verify(&mut self, code: &str, kind: CodeKind) -> Result<Outcome<UsedCode>, Error> {
        let outcome = self.mfa.0.verify(self.user(), code, kind).await?;
        if outcome.is_accepted() {
            self.raise().await?;
        }
        Ok(outcome)
    }

    /// The user's MFA status (state, recovery codes left, lock). Show the
    /// details only to a session that has the assurance the page needs.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn status(&self) -> Result<Status, Error> {
        self.mfa.0.status(self.user()).await
    }

    /// Replaces the recovery codes: a factor change, so it needs a session
    /// at [`Level::Mfa`] and, in the same request, a current code from the
    /// app (newer than the last one used) or an unused recovery code (a
    /// user without the phone), which is retired with the others.
    ///
    /// # Errors
    ///
    /// [`Error::MfaRequired`] below [`Level::Mfa`]; [`Error::NotEnrolled`];
    /// store errors.
    pub async fn regenerate_recovery_codes(
        &self,
        code: &str,
    ) -> Result<Outcome<RecoveryCodes>, Error> {
        self.passed_mfa()?;
        self.mfa.0.regenerate(self.user(), code).await
    }

    /// Turns MFA off where the user's policy allows it: a factor change, so
    /// it needs a session at [`Level::Mfa`] and a current code (or an unused
    /// recovery code) in this request.
    ///
    /// # Errors
    ///
    /// [`Error::MfaRequired`] below [`Level::Mfa`];
    /// [`Error::PolicyForbids`] where MFA is required; store errors.
    pub async fn disable(&self, code: &str) -> Result<Outcome<()>, Error> {
        self.passed_mfa()?;
        self.mfa.0.disable(self.user(), code).await
    }

    /// A session at [`Level::Mfa`] verified within [`REPLACEMENT_WINDOW`].
    fn recently_verified(&self) -> Result<(), Error> {
        let assurance = &self.bound.assurance;
        let recent = assurance
            .verified_at
            .is_some_and(|at| self.now().saturating_sub(at) <= REPLACEMENT_WINDOW);
        if assurance.level == Level::Mfa && recent {
            Ok(())
        } else {
            Err(Error::MfaRequired)
        }
    }

    fn passed_mfa(&self) -> Result<(), Error> {
        if self.bound.assurance.level == Level::Mfa {
            Ok(())
        } else {
            Err(Error::MfaRequired)
        }
    }

    async fn raise(&mut self) -> Result<(), Error> {
        let now = self.now();
        self.bound.assurance = raise(&self.bound.session, self.user(), now).await?;
        Ok(())
    }

    async fn extract(parts: &mut Parts, mfa: Mfa) -> Result<Option<Self>, Error> {
        // What a guard of this same handle bound, if one ran: taken, not
        // copied (a second extractor in the same handler binds again, from
        // the session already in memory).
        if parts
            .extensions
            .get::<Passed>()
            .is_some_and(|p| p.mfa.same(&mfa))
            && let Some(passed) = parts.extensions.remove::<Passed>()
        {
            return Ok(Some(Self {
                mfa,
                bound: passed.bound,
            }));
        }
        let bound = mfa.0.bind(&parts.extensions).await?;
        Ok(bound.map(|bound| Self { mfa, bound }))
    }
}

/// Why [`MfaSession`] (or [`Assurance`]) could not be extracted: nobody
/// signed in, or the session could not be read. A page request with nobody
/// signed in is sent to the sign-in page (`303`); everything else is the
/// [`Error`]'s JSON answer.
#[derive(Debug)]
pub struct MfaRejection {
    error: Error,
    sign_in: Option<String>,
}

impl MfaRejection {
    fn new(error: Error, parts: &Parts, mfa: &Mfa) -> Self {
        let sign_in = (matches!(error, Error::NotSignedIn) && !wants_json(&parts.headers))
            .then(|| mfa.0.paths().sign_in.clone());
        Self { error, sign_in }
    }

    /// Why.
    #[must_use]
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl std::fmt::Display for MfaRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for MfaRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl IntoResponse for MfaRejection {
    fn into_response(self) -> Response {
        match self.sign_in {
            Some(path) => Redirect::to(&path).into_response(),
            None => self.error.into_response(),
        }
    }
}

impl<S> OptionalFromRequestParts<S> for MfaSession
where
    Mfa: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = MfaRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Self::extract(parts, Mfa::from_ref(state))
            .await
            .map_err(|e| MfaRejection::new(e, parts, &Mfa::from_ref(state)))
    }
}

impl<S> FromRequestParts<S> for MfaSession
where
    Mfa: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = MfaRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await? {
            Some(session) => Ok(session),
            None => Err(MfaRejection::new(
                Error::NotSignedIn,
                parts,
                &Mfa::from_ref(state),
            )),
        }
    }
}

impl<S> OptionalFromRequestParts<S> for Assurance
where
    Mfa: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = MfaRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let session =
            <MfaSession as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await?;
        Ok(session.map(|s| s.bound.assurance))
    }
}

impl<S> FromRequestParts<S> for Assurance
where
    Mfa: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = MfaRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = <MfaSession as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        Ok(session.bound.assurance)
    }
}
