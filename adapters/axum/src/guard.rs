//! The tower middleware that enforces MFA on the routes it wraps: the
//! layer, the service and its response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, StatusCode, header};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::extract::{Passed, wants_json};
use crate::flow::{BoxFuture, Verdict};
use crate::mfa::Mfa;
use mfa_flow::Requirement;

/// Guards the routes it wraps. For each request it asks the application
/// who is signed in ([`Identity`](crate::Identity)), binds the session's
/// MFA assurance to that user, and calls [`decide`](crate::decide):
///
/// | the request | page (HTML) | JSON |
/// | --- | --- | --- |
/// | nobody signed in | `303` to the sign-in page | `401 {"error":"not_signed_in"}` |
/// | needs enrollment | `303` to the enrollment page | `403 {"error":"mfa_enrollment_required"}` |
/// | needs a code | `303` to the challenge page | `401 {"error":"mfa_required"}` |
/// | needs nothing | through | through |
///
/// Only the sign-in, challenge and enrollment pages and the paths
/// [`MfaBuilder::allow`](crate::MfaBuilder::allow) names (by whole
/// segments) go through without a decision; there too the session is bound
/// to the application's user, so a sign-out that only removed the
/// application's user voids the assurance before the next sign-in. Anonymous requests reach the inner
/// service only with
/// [`MfaBuilder::pass_anonymous_requests`](crate::MfaBuilder::pass_anonymous_requests).
///
/// Install it inside `tower_sessions::SessionManagerLayer` (and inside the
/// application's own identity layer, such as axum-login's).
#[derive(Clone)]
pub struct MfaLayer {
    mfa: Mfa,
    step_up: Option<u64>,
}

impl std::fmt::Debug for MfaLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaLayer")
            .field("step_up", &self.step_up)
            .finish_non_exhaustive()
    }
}

impl MfaLayer {
    /// A guard requiring whatever the user's policy and enrollment ask for.
    #[must_use]
    pub fn new(mfa: &Mfa) -> Self {
        Self {
            mfa: mfa.clone(),
            step_up: None,
        }
    }

    /// A step-up guard for sensitive routes: a user with MFA must also have
    /// verified a code within `seconds`. Users without MFA follow their
    /// policy (through where it is optional, enrollment where required).
    #[must_use]
    pub fn step_up(mfa: &Mfa, seconds: u64) -> Self {
        Self {
            mfa: mfa.clone(),
            step_up: Some(seconds),
        }
    }
}

impl<S> Layer<S> for MfaLayer {
    type Service = MfaGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MfaGuard {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`MfaLayer`] makes.
#[derive(Clone)]
pub struct MfaGuard<S> {
    inner: S,
    layer: MfaLayer,
}

impl<S> std::fmt::Debug for MfaGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaGuard")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl<S> MfaGuard<S> {
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

/// The answer for a request the guard stops.
fn stop(verdict: Verdict, mfa: &Mfa, json: bool) -> Own {
    let paths = mfa.0.paths();
    match verdict {
        Verdict::NotSignedIn if json => Own::error(StatusCode::UNAUTHORIZED, "not_signed_in"),
        Verdict::NotSignedIn => Own::see_other(&paths.sign_in),
        Verdict::Needs(Requirement::Enroll) if json => {
            Own::error(StatusCode::FORBIDDEN, "mfa_enrollment_required")
        }
        Verdict::Needs(Requirement::Enroll) => Own::see_other(&paths.enrollment),
        Verdict::Failed(e) => {
            e.log();
            Own::error(e.status(), e.code())
        }
        // A code, or anything short of through.
        _ if json => Own::error(StatusCode::UNAUTHORIZED, "mfa_required"),
        _ => Own::see_other(&paths.challenge),
    }
}

/// What a request waiting for the guard's decision keeps.
struct Held<S, B> {
    inner: S,
    request: Request<B>,
    mfa: Mfa,
    json: bool,
}

pin_project! {
    /// The response future of [`MfaGuard`]: the wrapped service's own future
    /// once the request is let through, held inline.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Deciding { verdict: BoxFuture<'static, Verdict>, held: Option<Held<S, B>> },
        Calling { #[pin] future: S::Future },
        Answered,
    }
}

impl<S: Service<Request<B>>, B> std::fmt::Debug for ResponseFuture<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, ResB> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = http::Response<ResB>>,
    ResB: From<String>,
{
    type Output = Result<http::Response<ResB>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let (verdict, held) = match state.as_mut().project() {
            StateProj::Calling { future } => return future.poll(cx),
            // Polled again after it answered.
            StateProj::Answered => return Poll::Pending,
            StateProj::Deciding { verdict, held } => {
                let verdict = ready!(verdict.as_mut().poll(cx));
                (verdict, held.take())
            }
        };
        let Some(Held {
            mut inner,
            mut request,
            mfa,
            json,
        }) = held
        else {
            return Poll::Pending;
        };
        match verdict {
            Verdict::Through(bound) => {
                if let Some(bound) = bound {
                    request.extensions_mut().insert(Passed { mfa, bound });
                }
                state.set(State::Calling {
                    future: inner.call(request),
                });
                match state.project() {
                    StateProj::Calling { future } => future.poll(cx),
                    _ => Poll::Pending,
                }
            }
            stopped => {
                let own = stop(stopped, &mfa, json);
                state.set(State::Answered);
                Poll::Ready(Ok(own.into_response()))
            }
        }
    }
}

impl<S, B, ResB> Service<Request<B>> for MfaGuard<S>
where
    S: Service<Request<B>, Response = http::Response<ResB>> + Clone,
    ResB: From<String>,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mfa = &self.layer.mfa;
        // Inside a nested router the URI has lost the nest's prefix; the
        // pages are configured by their full paths.
        let path = request
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| request.uri().path(), |original| original.0.path());
        let open = mfa.0.paths().is_open(path);
        let verdict = Arc::clone(&mfa.0).guard(request.extensions(), self.layer.step_up, open);
        // The service that was driven to readiness handles this request; a
        // fresh clone takes its place for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let json = wants_json(request.headers());
        ResponseFuture {
            state: State::Deciding {
                verdict,
                held: Some(Held {
                    inner,
                    request,
                    mfa: mfa.clone(),
                    json,
                }),
            },
        }
    }
}
