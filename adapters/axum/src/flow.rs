//! The MFA service, the application's policy and identity, seen without
//! their type parameters: what the guard, the routes and the extractors
//! call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Extensions;
use mfa_flow::{
    Clock, CodeKind, Enrolled, EnrollmentTicket, MfaService, Outcome, Policy, RecoveryCodes,
    Requirement, Status, Store, UsedCode, Verified,
};
use sha2::{Digest, Sha256};
use tower_sessions::Session;

use crate::decision::decide;
use crate::error::Error;
use crate::identity::{Identity, UserId};
use crate::paths::Paths;
use crate::policy::UserPolicy;
use crate::session::{Assurance, bind};
use crate::values::Enrollment;

/// A boxed future.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request's session, bound to the application's user.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    pub(crate) session: Session,
    pub(crate) assurance: Assurance,
}

/// What the guard decided for a request.
pub(crate) enum Verdict {
    /// Through; with the bound session when someone is signed in.
    Through(Option<Bound>),
    /// Nobody signed in.
    NotSignedIn,
    /// Enrollment or a code first.
    Needs(Requirement),
    /// The decision could not be made.
    Failed(Error),
}

/// The operations, type-erased.
pub(crate) trait Flow: Send + Sync {
    fn paths(&self) -> &Paths;
    fn now(&self) -> u64;

    /// The request's session bound to the application's user, or `None`
    /// when nobody is signed in. One boxed future.
    fn bind(&self, extensions: &Extensions) -> BoxFuture<'static, Result<Option<Bound>, Error>>;

    /// The guard's decision, in one boxed future: bind, decide, and only
    /// below the route's level ask the flow. On an `open` path it only
    /// binds (so a sign-out that removed the application's user voids the
    /// assurance before the next sign-in) and lets the request through.
    fn guard(
        self: Arc<Self>,
        extensions: &Extensions,
        step_up: Option<u64>,
        open: bool,
    ) -> BoxFuture<'static, Verdict>;

    fn requirement<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<Requirement, Error>>;
    fn opt_in<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<(), Error>>;
    /// The enrollment to show: the pending one again when `shown` is the
    /// fingerprint of its QR code (this session showed it), else a new one;
    /// with the fingerprint of what it returns.
    fn enrollment<'a>(
        &'a self,
        user: &'a UserId,
        shown: Option<String>,
    ) -> BoxFuture<'a, Result<(Enrollment, String), Error>>;
    fn confirm<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<Enrolled>, Error>>;
    /// The replacement of an active user's app to show: the pending one
    /// again when `shown` is its fingerprint, else a new one; with the
    /// fingerprint of what it returns.
    fn replacement<'a>(
        &'a self,
        user: &'a UserId,
        shown: Option<String>,
    ) -> BoxFuture<'a, Result<(Enrollment, String), Error>>;
    fn confirm_replacement<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<Verified>, Error>>;
    fn cancel_enrollment<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<(), Error>>;
    /// The fingerprint of the pending replacement's QR code, if one is
    /// pending and not expired.
    fn pending_replacement<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<String>, Error>>;
    fn cancel_replacement<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<(), Error>>;
    fn policy<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Policy>;
    fn verify<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
        kind: CodeKind,
    ) -> BoxFuture<'a, Result<Outcome<UsedCode>, Error>>;
    fn regenerate<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<RecoveryCodes>, Error>>;
    fn disable<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<()>, Error>>;
    fn status<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<Status, Error>>;
}

/// Everything an [`Mfa`](crate::Mfa) handle erases.
pub(crate) struct Parts<St, C, P, I> {
    pub(crate) service: MfaService<St, C>,
    pub(crate) policy: P,
    pub(crate) identity: I,
    pub(crate) paths: Paths,
    pub(crate) pass_anonymous: bool,
}

/// A fingerprint of an enrollment's QR code (SHA-256 of its URI, 128 bits
/// in hex): what a session keeps to know it showed that enrollment. It
/// reveals nothing of the secret.
fn fingerprint(ticket: &EnrollmentTicket) -> String {
    let digest = Sha256::digest(ticket.expose_uri().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Binds a request's session to the user the identity future gives.
async fn bound<F, E>(session: Option<Session>, user: F) -> Result<Option<Bound>, Error>
where
    F: Future<Output = Result<Option<UserId>, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let session = session.ok_or(Error::SessionLayerMissing)?;
    let user = user.await.map_err(|e| Error::Identity(Box::new(e)))?;
    Ok(bind(&session, user)
        .await?
        .map(|assurance| Bound { session, assurance }))
}

/// Which new secret a page shows: a first enrollment's, or a replacement's.
#[derive(Clone, Copy)]
enum New {
    Enrollment,
    Replacement,
}

impl<St, C, P, I> Parts<St, C, P, I>
where
    St: Store + 'static,
    C: Clock + 'static,
    P: UserPolicy,
    I: Identity,
{
    /// The pending secret of `new`'s kind again when `shown` is the
    /// fingerprint of its QR code (this session showed it), else a new one
    /// (none pending, or one another session started: nobody else has seen
    /// the QR code this user scans); with its fingerprint.
    async fn shown_or_new(
        &self,
        user: &UserId,
        shown: Option<String>,
        new: New,
    ) -> Result<(Enrollment, String), Error> {
        let account = self.policy.account_name(user).await;
        let (service, id) = (&self.service, user.as_str());
        let resumed = match new {
            New::Enrollment => service.resume_enrollment(id, &account).await,
            New::Replacement => service.resume_replacement(id, &account).await,
        }
        .map_err(Error::from_flow)?
        .map(|ticket| {
            let print = fingerprint(&ticket);
            (ticket, print)
        });
        let (ticket, print) = match resumed {
            Some((ticket, print)) if shown.as_deref() == Some(print.as_str()) => (ticket, print),
            _ => {
                let ticket = match new {
                    New::Enrollment => service.begin_enrollment(id, &account).await,
                    New::Replacement => service.begin_replacement(id, &account).await,
                }
                .map_err(Error::from_flow)?;
                let print = fingerprint(&ticket);
                (ticket, print)
            }
        };
        let enrollment = Enrollment {
            expires_in: ticket.expires_at().saturating_sub(service.now()),
            ticket,
            account,
            issuer: service.config().issuer().to_owned(),
        };
        Ok((enrollment, print))
    }

    async fn requirement_of(&self, user: &UserId) -> Result<Requirement, Error> {
        let policy = self.policy.policy(user).await;
        self.service
            .requirement(user.as_str(), policy)
            .await
            .map_err(Error::from_flow)
    }
}

impl<St, C, P, I> Flow for Parts<St, C, P, I>
where
    St: Store + 'static,
    C: Clock + 'static,
    P: UserPolicy,
    I: Identity,
{
    fn paths(&self) -> &Paths {
        &self.paths
    }

    fn now(&self) -> u64 {
        self.service.now()
    }

    fn bind(&self, extensions: &Extensions) -> BoxFuture<'static, Result<Option<Bound>, Error>> {
        let session = extensions.get::<Session>().cloned();
        let user = self.identity.current_user(extensions);
        Box::pin(bound(session, user))
    }

    fn guard(
        self: Arc<Self>,
        extensions: &Extensions,
        step_up: Option<u64>,
        open: bool,
    ) -> BoxFuture<'static, Verdict> {
        let session = extensions.get::<Session>().cloned();
        let user = self.identity.current_user(extensions);
        Box::pin(async move {
            let bound = bound(session, user).await;
            if open {
                // The page decides for itself; a failure here is its to
                // meet when it reads the session.
                return Verdict::Through(bound.ok().flatten());
            }
            let bound = match bound {
                Ok(Some(bound)) => bound,
                Ok(None) if self.pass_anonymous => return Verdict::Through(None),
                Ok(None) => return Verdict::NotSignedIn,
                Err(e) => return Verdict::Failed(e),
            };
            let now = self.service.now();
            let decided = match decide(&bound.assurance, None, step_up, now) {
                Some(decided) => decided,
                None => match self.requirement_of(&bound.assurance.user).await {
                    Ok(requirement) => decide(&bound.assurance, Some(requirement), step_up, now)
                        .unwrap_or(Requirement::Code),
                    Err(e) => return Verdict::Failed(e),
                },
            };
            match decided {
                Requirement::Proceed => Verdict::Through(Some(bound)),
                other => Verdict::Needs(other),
            }
        })
    }

    fn requirement<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<Requirement, Error>> {
        Box::pin(self.requirement_of(user))
    }

    fn opt_in<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.service
                .opt_in(user.as_str())
                .await
                .map_err(Error::from_flow)
        })
    }

    fn enrollment<'a>(
        &'a self,
        user: &'a UserId,
        shown: Option<String>,
    ) -> BoxFuture<'a, Result<(Enrollment, String), Error>> {
        Box::pin(self.shown_or_new(user, shown, New::Enrollment))
    }

    fn replacement<'a>(
        &'a self,
        user: &'a UserId,
        shown: Option<String>,
    ) -> BoxFuture<'a, Result<(Enrollment, String), Error>> {
        Box::pin(self.shown_or_new(user, shown, New::Replacement))
    }

    fn confirm_replacement<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<Verified>, Error>> {
        Box::pin(async move {
            self.service
                .confirm_replacement(user.as_str(), code)
                .await
                .map_err(Error::from_flow)
        })
    }

    fn confirm<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<Enrolled>, Error>> {
        Box::pin(async move {
            self.service
                .confirm_enrollment(user.as_str(), code)
                .await
                .map_err(Error::from_flow)
        })
    }

    fn pending_replacement<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<String>, Error>> {
        Box::pin(async move {
            let account = self.policy.account_name(user).await;
            let ticket = self
                .service
                .resume_replacement(user.as_str(), &account)
                .await
                .map_err(Error::from_flow)?;
            Ok(ticket.as_ref().map(fingerprint))
        })
    }

    fn cancel_replacement<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.service
                .cancel_replacement(user.as_str())
                .await
                .map_err(Error::from_flow)
        })
    }

    fn policy<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Policy> {
        Box::pin(self.policy.policy(user))
    }

    fn cancel_enrollment<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let policy: Policy = self.policy.policy(user).await;
            self.service
                .cancel_enrollment(user.as_str(), policy)
                .await
                .map_err(Error::from_flow)
        })
    }

    fn verify<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
        kind: CodeKind,
    ) -> BoxFuture<'a, Result<Outcome<UsedCode>, Error>> {
        Box::pin(async move {
            let user = user.as_str();
            self.service
                .login(user, code, kind)
                .await
                .map_err(Error::from_flow)
        })
    }

    fn regenerate<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<RecoveryCodes>, Error>> {
        Box::pin(async move {
            self.service
                .regenerate_recovery_codes(user.as_str(), code)
                .await
                .map_err(Error::from_flow)
        })
    }

    fn disable<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Outcome<()>, Error>> {
        Box::pin(async move {
            let policy: Policy = self.policy.policy(user).await;
            self.service
                .disable(user.as_str(), policy, code)
                .await
                .map_err(Error::from_flow)
        })
    }

    fn status<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<Status, Error>> {
        Box::pin(async move {
            self.service
                .status(user.as_str())
                .await
                .map_err(Error::from_flow)
        })
    }
}
