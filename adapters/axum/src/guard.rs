//! The tower middleware that enforces MFA on the routes it wraps.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, StatusCode, header};
use mfa_flow::{Clock, Requirement, Store};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tower_sessions::Session;

use crate::answer;
use crate::mfa::{BoxFuture, FlowHandle, Mfa, Passed, UserPolicy};
use crate::session::{Assurance, Level, SessionError, assurance};

/// Guards the routes it wraps: a signed-in session that has not passed MFA
/// is sent to the challenge or the enrolment (HTML: `303`; JSON: `401
/// {"error":"mfa_required"}` or `403 {"error":"mfa_enrollment_required"}`).
/// Requests without a signed-in user, and the paths [`Mfa`] leaves open, go
/// through untouched.
///
/// Install it inside `tower_sessions::SessionManagerLayer`.
#[derive(Clone)]
pub struct MfaLayer {
    flow: FlowHandle,
    max_age: Option<u64>,
}

impl std::fmt::Debug for MfaLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaLayer")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl MfaLayer {
    /// A guard requiring MFA for the session.
    #[must_use]
    pub fn new<St, C, P>(mfa: Arc<Mfa<St, C, P>>) -> Self
    where
        St: Store + 'static,
        C: Clock + 'static,
        P: UserPolicy,
    {
        Self {
            flow: FlowHandle(mfa),
            max_age: None,
        }
    }

    /// A step-up guard for sensitive routes: the last code must also have
    /// been verified within `seconds`.
    #[must_use]
    pub fn step_up<St, C, P>(mfa: Arc<Mfa<St, C, P>>, seconds: u64) -> Self
    where
        St: Store + 'static,
        C: Clock + 'static,
        P: UserPolicy,
    {
        Self {
            max_age: Some(seconds),
            ..Self::new(mfa)
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
        f.debug_struct("MfaGuard").finish_non_exhaustive()
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
pub(crate) struct Own {
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
pub(crate) enum Verdict {
    /// Through, with the session's assurance if someone is signed in (handed
    /// to the handler's extractor so the session is read once).
    Through(Option<Assurance>),
    Answer(Own),
}

/// The first look at a signed-in session: through at once, or ask the flow.
enum Look {
    Decided(Verdict),
    Ask(Assurance),
}

fn look(
    read: Result<Option<Assurance>, SessionError>,
    flow: &FlowHandle,
    max_age: Option<u64>,
) -> Look {
    let assurance = match read {
        Ok(Some(assurance)) => assurance,
        Ok(None) => return Look::Decided(Verdict::Through(None)),
        Err(e) => {
            tracing::warn!(target: "mfa_axum", error = %e, "session store failed");
            return Look::Decided(Verdict::Answer(Own::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "session_unavailable",
            )));
        }
    };
    let fresh = match (max_age, assurance.verified_at) {
        (None, _) => true,
        (Some(age), Some(at)) => flow.0.now().saturating_sub(at) <= age,
        (Some(_), None) => false,
    };
    if assurance.level == Level::Mfa && fresh {
        Look::Decided(Verdict::Through(Some(assurance)))
    } else {
        Look::Ask(assurance)
    }
}

/// A signed-in session below the level it needs: what does the login need?
pub(crate) async fn ask_the_flow<St, C, P>(
    mfa: &Mfa<St, C, P>,
    assurance: Assurance,
    step_up: bool,
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
        Requirement::Proceed if !step_up => Verdict::Through(Some(assurance)),
        Requirement::Enroll if json => {
            Verdict::Answer(Own::error(StatusCode::FORBIDDEN, "mfa_enrollment_required"))
        }
        Requirement::Enroll => Verdict::Answer(Own::see_other(&mfa.paths.enrollment)),
        _ if json => Verdict::Answer(Own::error(StatusCode::UNAUTHORIZED, "mfa_required")),
        _ => Verdict::Answer(Own::see_other(&mfa.paths.challenge)),
    }
}

/// What a request waiting for the guard's decision keeps.
struct Held<S, B> {
    inner: S,
    request: Request<B>,
    flow: FlowHandle,
    max_age: Option<u64>,
    json: bool,
}

/// What the guard is waiting for.
enum Waiting {
    /// The session's assurance.
    Session(BoxFuture<Result<Option<Assurance>, SessionError>>),
    /// The flow's answer for a session below the level the route needs.
    Flow(BoxFuture<Verdict>),
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
        Deciding { waiting: Waiting, held: Option<Held<S, B>> },
        Calling { #[pin] future: S::Future },
        Answered { answer: Option<Own> },
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
        loop {
            let verdict = match state.as_mut().project() {
                StateProj::Calling { future } => return future.poll(cx),
                // Polled again after it answered: the answer is gone.
                StateProj::Answered { answer } => {
                    return answer
                        .take()
                        .map_or(Poll::Pending, |own| Poll::Ready(Ok(own.into_response())));
                }
                StateProj::Deciding { waiting, held } => match waiting {
                    Waiting::Session(read) => {
                        let read = ready!(read.as_mut().poll(cx));
                        let Some(h) = held.as_ref() else {
                            return Poll::Pending;
                        };
                        match look(read, &h.flow, h.max_age) {
                            Look::Decided(verdict) => verdict,
                            Look::Ask(assurance) => {
                                let ask = Arc::clone(&h.flow.0).ask(
                                    assurance,
                                    h.max_age.is_some(),
                                    h.json,
                                );
                                *waiting = Waiting::Flow(ask);
                                continue;
                            }
                        }
                    }
                    Waiting::Flow(ask) => ready!(ask.as_mut().poll(cx)),
                },
            };
            let StateProj::Deciding { held, .. } = state.as_mut().project() else {
                return Poll::Pending;
            };
            let Some(Held {
                mut inner,
                mut request,
                flow,
                ..
            }) = held.take()
            else {
                return Poll::Pending;
            };
            match verdict {
                Verdict::Through(assurance) => {
                    if let Some(assurance) = assurance {
                        request.extensions_mut().insert(Passed { assurance, flow });
                    }
                    state.set(State::Calling {
                        future: inner.call(request),
                    });
                }
                Verdict::Answer(own) => {
                    state.set(State::Answered { answer: None });
                    return Poll::Ready(Ok(own.into_response()));
                }
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
        let flow = &self.layer.flow;
        if flow.0.is_open(request.uri().path()) {
            return ResponseFuture {
                state: State::Calling {
                    future: self.inner.call(request),
                },
            };
        }
        let Some(session) = request.extensions().get::<Session>().cloned() else {
            tracing::error!(
                target: "mfa_axum",
                "no session on the request: is tower_sessions::SessionManagerLayer installed outside MfaLayer?"
            );
            return ResponseFuture {
                state: State::Answered {
                    answer: Some(Own::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "session_layer_missing",
                    )),
                },
            };
        };
        // The service that was driven to readiness handles this request; a
        // fresh clone takes its place for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let json = wants_json(&request);
        ResponseFuture {
            state: State::Deciding {
                waiting: Waiting::Session(Box::pin(async move { assurance(&session).await })),
                held: Some(Held {
                    inner,
                    request,
                    flow: flow.clone(),
                    max_age: self.layer.max_age,
                    json,
                }),
            },
        }
    }
}
