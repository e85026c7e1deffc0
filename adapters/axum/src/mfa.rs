use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::StatusCode;
use mfa_flow::{Clock, Enrolled, Login, MfaError, MfaService, Outcome, Policy, Status, Store};
use tower_sessions::Session;

use crate::guard::Verdict;
use crate::session::{Assurance, SessionError, assurance, raise};

/// Which kind of code a user typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeKind {
    /// The current code of the authenticator app.
    Totp,
    /// A single-use recovery code.
    Recovery,
}

/// Why [`Mfa::confirm`] or [`Mfa::verify`] could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure<E: std::error::Error + 'static> {
    /// Nobody is signed in to the session.
    #[error("nobody is signed in")]
    NotSignedIn,
    /// The flow could not run (store down, wrong state).
    #[error(transparent)]
    Mfa(#[from] MfaError<E>),
    /// The session store failed.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// What the application tells the MFA layer about a signed-in user.
pub trait UserPolicy: Send + Sync + 'static {
    /// Whether MFA is optional or required for this user (usually from the
    /// user's customer).
    fn policy(&self, user: &str) -> impl Future<Output = Policy> + Send;

    /// The account name an authenticator app shows (usually the email
    /// address). Defaults to the user id.
    fn account_name(&self, user: &str) -> impl Future<Output = String> + Send {
        let name = user.to_owned();
        async move { name }
    }
}

/// One policy for everybody.
impl UserPolicy for Policy {
    async fn policy(&self, _user: &str) -> Policy {
        *self
    }
}

/// Where the guard sends people, and what it leaves alone.
#[derive(Clone, Debug)]
pub(crate) struct Paths {
    pub(crate) challenge: String,
    pub(crate) enrollment: String,
    pub(crate) open: Vec<String>,
}

/// The MFA service, the application's policy and the page paths, shared by
/// the guard layers and the JSON routes.
///
/// ```
/// use mfa_axum::Mfa;
/// use mfa_flow::{AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Policy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let service = MfaService::new(
///     MemoryStore::new(),
///     ManualClock::new(1_700_000_000),
///     Keyring::new(AppKey::generate(1)?),
///     MfaConfig::new("Lumen"),
/// );
/// let mfa = Mfa::new(service, Policy::Optional)
///     .challenge_page("/login/code")
///     .enrollment_page("/account/mfa/setup")
///     .allow("/static/");
/// # let _ = mfa;
/// # Ok(())
/// # }
/// ```
pub struct Mfa<St, C, P> {
    pub(crate) service: MfaService<St, C>,
    pub(crate) policy: P,
    pub(crate) paths: Paths,
}

impl<St, C, P> std::fmt::Debug for Mfa<St, C, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfa")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl<St: Store + 'static, C: Clock + 'static, P: UserPolicy> Mfa<St, C, P> {
    /// Wraps a service and the application's policy. Defaults: challenge
    /// page `/mfa/challenge`, enrollment page `/mfa/enroll`, and both (and
    /// everything under `/mfa/`) reachable without MFA.
    #[must_use]
    pub fn new(service: MfaService<St, C>, policy: P) -> Self {
        Self {
            service,
            policy,
            paths: Paths {
                challenge: "/mfa/challenge".to_owned(),
                enrollment: "/mfa/enroll".to_owned(),
                open: vec!["/mfa/".to_owned()],
            },
        }
    }

    /// The page asking for a code (HTML requests are redirected there).
    #[must_use]
    pub fn challenge_page(mut self, path: &str) -> Self {
        path.clone_into(&mut self.paths.challenge);
        self
    }

    /// The enrolment page (HTML requests are redirected there).
    #[must_use]
    pub fn enrollment_page(mut self, path: &str) -> Self {
        path.clone_into(&mut self.paths.enrollment);
        self
    }

    /// Leaves every path starting with `prefix` reachable without MFA (the
    /// flow's own routes, the sign-in page, static files).
    #[must_use]
    pub fn allow(mut self, prefix: &str) -> Self {
        self.paths.open.push(prefix.to_owned());
        self
    }

    /// Shares it between layers and routes.
    #[must_use]
    pub fn shared(self) -> Arc<Self> {
        Arc::new(self)
    }

    /// The service.
    #[must_use]
    pub fn service(&self) -> &MfaService<St, C> {
        &self.service
    }

    /// The application's policy.
    #[must_use]
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// Confirms the signed-in user's pending enrolment with a code from the
    /// app. When it is accepted the session is raised to
    /// [`Level::Mfa`](crate::Level::Mfa) with a new id; the recovery codes in
    /// the answer are to be shown this once.
    ///
    /// # Errors
    ///
    /// [`Failure`] when nobody is signed in, the flow cannot run (no pending
    /// enrolment, store down), or the session store fails.
    pub async fn confirm(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<Outcome<Enrolled>, Failure<St::Error>> {
        let user = signed_in(session).await?;
        let outcome = self.service.confirm_enrollment(&user, code).await?;
        if outcome.is_accepted() {
            raise(session, &user, self.service.now()).await?;
        }
        Ok(outcome)
    }

    /// Checks a code (of the `kind` the user chose) for the signed-in user.
    /// When it is accepted the session is raised to
    /// [`Level::Mfa`](crate::Level::Mfa) with a new id.
    ///
    /// # Errors
    ///
    /// [`Failure`] when nobody is signed in, the flow cannot run (not
    /// enrolled, store down), or the session store fails.
    pub async fn verify(
        &self,
        session: &Session,
        code: &str,
        kind: CodeKind,
    ) -> Result<Outcome<Login>, Failure<St::Error>> {
        let user = signed_in(session).await?;
        let outcome = match kind {
            CodeKind::Totp => self.service.verify_code(&user, code).await?,
            CodeKind::Recovery => self.service.use_recovery_code(&user, code).await?,
        };
        if outcome.is_accepted() {
            raise(session, &user, self.service.now()).await?;
        }
        Ok(outcome)
    }

    pub(crate) fn is_open(&self, path: &str) -> bool {
        path == self.paths.challenge
            || path == self.paths.enrollment
            || self.paths.open.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// The signed-in user of a session.
async fn signed_in<E: std::error::Error + 'static>(
    session: &Session,
) -> Result<String, Failure<E>> {
    assurance(session)
        .await?
        .map(|a| a.user)
        .ok_or(Failure::NotSignedIn)
}

/// A boxed future that does not borrow.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A user's status, or the answer to give when it cannot be read.
pub(crate) type StatusFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Status, (StatusCode, &'static str)>> + Send + 'a>>;

/// [`Mfa`] seen without its type parameters: what the guard's response
/// future and the extractors need from it.
pub(crate) trait Flow: Send + Sync {
    /// Whether the path stays reachable without MFA.
    fn is_open(&self, path: &str) -> bool;

    /// The service clock's current time.
    fn now(&self) -> u64;

    /// The user's MFA status.
    fn status<'a>(&'a self, user: &'a str) -> StatusFuture<'a>;

    /// For a session below the level a route needs: what does the login
    /// need?
    fn ask(self: Arc<Self>, assurance: Assurance, step_up: bool, json: bool) -> BoxFuture<Verdict>;
}

impl<St: Store + 'static, C: Clock + 'static, P: UserPolicy> Flow for Mfa<St, C, P> {
    fn is_open(&self, path: &str) -> bool {
        Mfa::is_open(self, path)
    }

    fn now(&self) -> u64 {
        self.service.now()
    }

    fn status<'a>(&'a self, user: &'a str) -> StatusFuture<'a> {
        Box::pin(async move {
            self.service
                .status(user)
                .await
                .map_err(|e| crate::answer::failure(&e))
        })
    }

    fn ask(self: Arc<Self>, assurance: Assurance, step_up: bool, json: bool) -> BoxFuture<Verdict> {
        Box::pin(async move { crate::guard::ask_the_flow(&self, assurance, step_up, json).await })
    }
}

/// A shared handle on an [`Mfa`] that does not name its types.
#[derive(Clone)]
pub(crate) struct FlowHandle(pub(crate) Arc<dyn Flow>);

/// What the guard leaves in the request extensions for the extractors: one
/// entry (each entry is a separate allocation).
#[derive(Clone)]
pub(crate) struct Passed {
    pub(crate) assurance: Assurance,
    pub(crate) flow: FlowHandle,
}
