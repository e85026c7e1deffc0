//! The handle the layer, the routes and the extractors share, and its
//! builder.

use std::sync::Arc;

use mfa_flow::{Clock, MfaService, Store};

use crate::error::Error;
use crate::flow::{Flow, Parts};
use crate::identity::{Identity, UserId};
use crate::paths::Paths;
use crate::policy::UserPolicy;

/// Builds an [`Mfa`] handle: the service, the application's policy and
/// identity, and the pages the guard sends people to.
///
/// ```
/// use mfa_axum::{Mfa, SessionIdentity};
/// use mfa_flow::{AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService, Policy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let service = MfaService::new(
///     MemoryStore::new(),
///     ManualClock::new(1_700_000_000),
///     Keyring::new(AppKey::from_bytes(1, &[7; 32])?),
///     MfaConfig::new("Lumen"),
/// );
/// let mfa = Mfa::builder(service, Policy::Optional, SessionIdentity::new("user"))
///     .sign_in_page("/signin")
///     .challenge_page("/signin/code")
///     .enrollment_page("/account/mfa/setup")
///     .allow("/static")
///     .build();
/// # let _ = mfa;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct MfaBuilder<St, C, P, I> {
    parts: Parts<St, C, P, I>,
}

impl<St, C, P, I> std::fmt::Debug for MfaBuilder<St, C, P, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaBuilder")
            .field("paths", &self.parts.paths)
            .field("pass_anonymous", &self.parts.pass_anonymous)
            .finish_non_exhaustive()
    }
}

impl<St, C, P, I> MfaBuilder<St, C, P, I>
where
    St: Store + 'static,
    C: Clock + 'static,
    P: UserPolicy,
    I: Identity,
{
    /// The application's sign-in page: anonymous HTML requests to guarded
    /// routes are sent there (default `/login`); it is left open.
    pub fn sign_in_page(mut self, path: &str) -> Self {
        path.clone_into(&mut self.parts.paths.sign_in);
        self
    }

    /// The page asking for a code (default `/mfa/challenge`); it is left
    /// open.
    pub fn challenge_page(mut self, path: &str) -> Self {
        path.clone_into(&mut self.parts.paths.challenge);
        self
    }

    /// The enrollment page (default `/mfa/enroll`); it is left open.
    pub fn enrollment_page(mut self, path: &str) -> Self {
        path.clone_into(&mut self.parts.paths.enrollment);
        self
    }

    /// Leaves `prefix` and every path below it reachable without MFA,
    /// matched by whole segments on the full path (also inside nested
    /// routers): `allow("/static")` opens `/static` and `/static/app.css`,
    /// never `/staticfiles`. It fails closed: a prefix without a leading `/`
    /// opens nothing, `allow("/")` opens only `/`, and paths with `.` or `..`
    /// segments, `//` or a percent-encoded `.`, `/` or `\` stay guarded.
    pub fn allow(mut self, prefix: &str) -> Self {
        self.parts.paths.open.push(prefix.to_owned());
        self
    }

    /// **Opt-in:** lets requests with nobody signed in through guarded
    /// routes, to the inner service (which must then check for itself).
    /// Without it, the guard answers them `303` to the sign-in page (HTML)
    /// or `401 {"error":"not_signed_in"}` (JSON).
    pub fn pass_anonymous_requests(mut self) -> Self {
        self.parts.pass_anonymous = true;
        self
    }

    /// The handle.
    #[must_use]
    pub fn build(self) -> Mfa {
        Mfa(Arc::new(self.parts))
    }
}

/// The MFA service with the application's policy and identity, shared by
/// [`MfaLayer`](crate::MfaLayer), [`routes`](crate::routes) and the
/// [`MfaSession`](crate::MfaSession) extractor. Cheap to clone; put it in
/// the application's state (the extractor finds it with `FromRef`).
#[derive(Clone)]
pub struct Mfa(pub(crate) Arc<dyn Flow>);

impl std::fmt::Debug for Mfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfa")
            .field("paths", self.0.paths())
            .finish_non_exhaustive()
    }
}

impl Mfa {
    /// Starts building a handle over `service`, with the application's
    /// `policy` and `identity` (who is signed in).
    pub fn builder<St, C, P, I>(
        service: MfaService<St, C>,
        policy: P,
        identity: I,
    ) -> MfaBuilder<St, C, P, I>
    where
        St: Store + 'static,
        C: Clock + 'static,
        P: UserPolicy,
        I: Identity,
    {
        MfaBuilder {
            parts: Parts {
                service,
                policy,
                identity,
                paths: Paths::default(),
                pass_anonymous: false,
            },
        }
    }

    /// The service clock's current time (Unix seconds).
    #[must_use]
    pub fn now(&self) -> u64 {
        self.0.now()
    }

    /// Whether both are the same handle (clones of one `build`).
    pub(crate) fn same(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }

    /// Records that `user` opted in to MFA (the registration form's "One
    /// Time Password using OTP App"), before anyone is signed in: their
    /// next sign-in goes to enrollment. Signed-in users opt in through
    /// [`MfaSession::opt_in`](crate::MfaSession::opt_in).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] or [`Error::Contention`].
    pub async fn opt_in(&self, user: &UserId) -> Result<(), Error> {
        self.0.opt_in(user).await
    }
}
