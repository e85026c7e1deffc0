//! The tower middleware that enforces MFA on the routes it wraps.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, StatusCode, header};
use mfa_flow::{Clock, Requirement, Store};
use tower::{Layer, Service};
use tower_sessions::Session;

use crate::answer;
use crate::mfa::{Mfa, Passed, StatusLookup, StatusSource, UserPolicy};
use crate::session::{Assurance, Level, assurance};

/// Guards the routes it wraps: a signed-in session that has not passed MFA
/// is sent to the challenge or the enrolment (HTML: `303`; JSON: `401
/// {"error":"mfa_required"}` or `403 {"error":"mfa_enrollment_required"}`).
/// Requests without a signed-in user, and the paths [`Mfa`] leaves open, go
/// through untouched.
///
/// Install it inside `tower_sessions::SessionManagerLayer`.
pub struct MfaLayer<St, C, P> {
    mfa: Arc<Mfa<St, C, P>>,
    lookup: StatusSource,
    max_age: Option<u64>,
}

impl<St, C, P> Clone for MfaLayer<St, C, P> {
    fn clone(&self) -> Self {
        Self {
            mfa: Arc::clone(&self.mfa),
            lookup: self.lookup.clone(),
            max_age: self.max_age,
        }
    }
}

impl<St, C, P> std::fmt::Debug for MfaLayer<St, C, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaLayer")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl<St: Store + 'static, C: Clock + 'static, P: UserPolicy> MfaLayer<St, C, P> {
    /// A guard requiring MFA for the session.
    #[must_use]
    pub fn new(mfa: Arc<Mfa<St, C, P>>) -> Self {
        let lookup = StatusSource(Arc::clone(&mfa) as Arc<dyn StatusLookup>);
        Self {
            mfa,
            lookup,
            max_age: None,
        }
    }

    /// A step-up guard for sensitive routes: the last code must also have
    /// been verified within `seconds`.
    #[must_use]
    pub fn step_up(mfa: Arc<Mfa<St, C, P>>, seconds: u64) -> Self {
        Self {
            max_age: Some(seconds),
            ..Self::new(mfa)
        }
    }
}

impl<S, St, C, P> Layer<S> for MfaLayer<St, C, P> {
    type Service = MfaGuard<S, St, C, P>;

    fn layer(&self, inner: S) -> Self::Service {
        MfaGuard {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`MfaLayer`] makes.
pub struct MfaGuard<S, St, C, P> {
    inner: S,
    layer: MfaLayer<St, C, P>,
}

impl<S: Clone, St, C, P> Clone for MfaGuard<S, St, C, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, St, C, P> std::fmt::Debug for MfaGuard<S, St, C, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaGuard").finish_non_exhaustive()
    }
}

impl<S, St, C, P> MfaGuard<S, St, C, P> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The response future of [`MfaGuard`].
pub struct ResponseFuture<R, E> {
    inner: Pin<Box<dyn Future<Output = Result<R, E>> + Send>>,
}

impl<R, E> std::fmt::Debug for ResponseFuture<R, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<R, E> Future for ResponseFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// Whether the client wants JSON rather than a page.
fn wants_json<B>(request: &Request<B>) -> bool {
    let has_json = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"))
    };
    has_json(header::ACCEPT) || has_json(header::CONTENT_TYPE)
}

/// An answer of the guard's own, built for whatever body type the wrapped
/// service uses.
struct Own {
    status: StatusCode,
    location: Option<String>,
    error: Option<&'static str>,
}

impl Own {
    fn see_other(location: &str) -> Self {
        Self {
            status: StatusCode::SEE_OTHER,
            location: Some(location.to_owned()),
            error: None,
        }
    }

    fn error(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            location: None,
            error: Some(code),
        }
    }

    fn into_response<B: From<String>>(self) -> http::Response<B> {
        let body = self
            .error
            .map(|code| serde_json::json!({ "error": code }).to_string())
            .unwrap_or_default();
        let mut response = http::Response::new(B::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.error.is_some() {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(value) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, value);
        }
        response
    }
}

/// What the guard decided.
enum Verdict {
    /// Through, with the session's assurance if someone is signed in (handed
    /// to the handler's extractor so the session is read once).
    Through(Option<Assurance>),
    Answer(Own),
}

/// What the guard reads from a request, taken before any await so the
/// request itself (whose body need not be `Sync`) is not held across one.
struct Seen {
    open: bool,
    session: Option<Session>,
    json: bool,
}

async fn decide<St, C, P>(mfa: &Mfa<St, C, P>, max_age: Option<u64>, seen: Seen) -> Verdict
where
    St: Store + 'static,
    C: Clock + 'static,
    P: UserPolicy,
{
    if seen.open {
        return Verdict::Through(None);
    }
    let Some(session) = seen.session else {
        tracing::error!(
            target: "mfa_axum",
            "no session on the request: is tower_sessions::SessionManagerLayer installed outside MfaLayer?"
        );
        return Verdict::Answer(Own::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "session_layer_missing",
        ));
    };
    let assurance = match assurance(&session).await {
        Ok(Some(assurance)) => assurance,
        Ok(None) => return Verdict::Through(None),
        Err(e) => {
            tracing::warn!(target: "mfa_axum", error = %e, "session store failed");
            return Verdict::Answer(Own::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "session_unavailable",
            ));
        }
    };
    let now = mfa.service.now();
    let fresh = match (max_age, assurance.verified_at) {
        (None, _) => true,
        (Some(age), Some(at)) => now.saturating_sub(at) <= age,
        (Some(_), None) => false,
    };
    if assurance.level == Level::Mfa && fresh {
        return Verdict::Through(Some(assurance));
    }
    // The store lookup lives in its own boxed future, so the common path
    // above does not carry (and move) its state.
    Box::pin(ask_the_flow(mfa, max_age, assurance, seen.json)).await
}

/// A signed-in session below the level it needs: what does the login need?
async fn ask_the_flow<St, C, P>(
    mfa: &Mfa<St, C, P>,
    max_age: Option<u64>,
    assurance: Assurance,
    json: bool,
) -> Verdict
where
    St: Store + 'static,
    C: Clock + 'static,
    P: UserPolicy,
{
    let policy = mfa.policy.policy(&assurance.user).await;
    let requirement = match mfa.service.requirement(&assurance.user, policy).await {
        Ok(r) => r,
        Err(e) => {
            let (status, code) = answer::failure(&e);
            return Verdict::Answer(Own::error(status, code));
        }
    };
    match requirement {
        // MFA is off and not required: the password was enough, unless this
        // is a step-up route, which always needs a recent code.
        Requirement::Proceed if max_age.is_none() => Verdict::Through(Some(assurance)),
        Requirement::Enroll if json => {
            Verdict::Answer(Own::error(StatusCode::FORBIDDEN, "mfa_enrollment_required"))
        }
        Requirement::Enroll => Verdict::Answer(Own::see_other(&mfa.paths.enrollment)),
        _ if json => Verdict::Answer(Own::error(StatusCode::UNAUTHORIZED, "mfa_required")),
        _ => Verdict::Answer(Own::see_other(&mfa.paths.challenge)),
    }
}

impl<S, St, C, P, B, ResB> Service<Request<B>> for MfaGuard<S, St, C, P>
where
    S: Service<Request<B>, Response = http::Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    St: Store + 'static,
    C: Clock + 'static,
    P: UserPolicy,
    B: Send + 'static,
    ResB: From<String> + Send + 'static,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<http::Response<ResB>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was driven to readiness handles this request; a
        // fresh clone takes its place for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let open = layer.mfa.is_open(request.uri().path());
        let seen = Seen {
            open,
            session: request.extensions().get::<Session>().cloned(),
            json: !open && wants_json(&request),
        };
        ResponseFuture {
            inner: Box::pin(async move {
                let mut request = request;
                match decide(&layer.mfa, layer.max_age, seen).await {
                    Verdict::Through(assurance) => {
                        if let Some(assurance) = assurance {
                            request.extensions_mut().insert(Passed {
                                assurance,
                                lookup: layer.lookup.clone(),
                            });
                        }
                        inner.call(request).await
                    }
                    Verdict::Answer(own) => Ok(own.into_response()),
                }
            }),
        }
    }
}
