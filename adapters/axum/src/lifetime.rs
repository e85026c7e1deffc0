//! Idle timeout and absolute lifetime for sessions, refreshed at most once
//! a minute.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use mfa_flow::Clock;
use tower::{Layer, Service};
use tower_sessions::Session;

/// The session key holding `CREATED:TOUCHED` (Unix seconds).
const LIFETIME_KEY: &str = "mfa.lifetime";

/// Ends sessions that were idle too long or have lived too long: NIST SP
/// 800-63B §4.2.3 asks AAL2 sessions to reauthenticate after 30 minutes of
/// inactivity and 12 hours in all, the defaults here.
///
/// For each request with a session that holds anything, it records when the
/// session started and when it was last used; a session idle longer than
/// `idle`, or older than `absolute`, is flushed before the request goes on
/// (whoever sent it is signed out: the guard then sends them to sign in).
/// The "last used" time is written at most once per `refresh` (a minute),
/// so an active session costs one session-store write a minute, not one a
/// request. Sessions that hold nothing (anonymous visitors) are not touched.
///
/// Install it inside `tower_sessions::SessionManagerLayer` and outside
/// [`MfaLayer`](crate::MfaLayer) and the application's identity layer.
#[derive(Clone)]
pub struct SessionLifetimeLayer {
    clock: Arc<dyn Clock>,
    idle: u64,
    absolute: u64,
    refresh: u64,
}

impl std::fmt::Debug for SessionLifetimeLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLifetimeLayer")
            .field("idle", &self.idle)
            .field("absolute", &self.absolute)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl SessionLifetimeLayer {
    /// 30 minutes idle, 12 hours in all, refreshed at most once a minute,
    /// with time from `clock`.
    #[must_use]
    pub fn new(clock: impl Clock + 'static) -> Self {
        Self {
            clock: Arc::new(clock),
            idle: 30 * 60,
            absolute: 12 * 60 * 60,
            refresh: 60,
        }
    }

    /// The idle timeout, in seconds (at least the refresh interval).
    #[must_use]
    pub fn with_idle_timeout(mut self, seconds: u64) -> Self {
        self.idle = seconds.max(self.refresh);
        self
    }

    /// The absolute lifetime, in seconds (at least the idle timeout).
    #[must_use]
    pub fn with_absolute_lifetime(mut self, seconds: u64) -> Self {
        self.absolute = seconds.max(self.idle);
        self
    }
}

impl<S> Layer<S> for SessionLifetimeLayer {
    type Service = SessionLifetime<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionLifetime {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`SessionLifetimeLayer`] makes.
#[derive(Clone)]
pub struct SessionLifetime<S> {
    inner: S,
    layer: SessionLifetimeLayer,
}

impl<S> std::fmt::Debug for SessionLifetime<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLifetime")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl<S> SessionLifetime<S> {
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

/// What to do with a session: `(created, touched)` as read, at `now`.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing to write.
    Keep,
    /// Write these times.
    Stamp(u64, u64),
    /// Too idle or too old: sign out.
    End,
}

fn verdict(layer: &SessionLifetimeLayer, times: Option<(u64, u64)>, now: u64) -> Verdict {
    match times {
        None => Verdict::Stamp(now, now),
        Some((created, touched)) => {
            if now.saturating_sub(touched) > layer.idle
                || now.saturating_sub(created) > layer.absolute
            {
                Verdict::End
            } else if now.saturating_sub(touched) >= layer.refresh {
                Verdict::Stamp(created, now)
            } else {
                Verdict::Keep
            }
        }
    }
}

fn parse(text: &str) -> Option<(u64, u64)> {
    let (created, touched) = text.split_once(':')?;
    Some((created.parse().ok()?, touched.parse().ok()?))
}

async fn apply(layer: &SessionLifetimeLayer, session: &Session) {
    let times = match session.get::<String>(LIFETIME_KEY).await {
        Ok(text) => text.as_deref().and_then(parse),
        // The session layer answers store failures itself.
        Err(_) => return,
    };
    // Nothing stored (an anonymous visitor, or a cookie whose session is
    // gone or was never there): nothing to time, and nothing to store. The
    // id is known once the record is loaded.
    if session.id().is_none() {
        return;
    }
    let result = match verdict(layer, times, layer.clock.now()) {
        Verdict::Keep => Ok(()),
        Verdict::Stamp(created, touched) => {
            session
                .insert(LIFETIME_KEY, format!("{created}:{touched}"))
                .await
        }
        Verdict::End => {
            tracing::info!(target: "mfa_axum", "session ended: idle or too old");
            session.flush().await
        }
    };
    if let Err(e) = result {
        tracing::warn!(target: "mfa_axum", error = %e, "could not update the session's lifetime");
    }
}

impl<S, B> Service<Request<B>> for SessionLifetime<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let session = request.extensions().get::<Session>().cloned();
        Box::pin(async move {
            if let Some(session) = session {
                apply(&layer, &session).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use mfa_flow::ManualClock;

    use super::*;

    #[test]
    fn idle_absolute_and_refresh() {
        let layer = SessionLifetimeLayer::new(ManualClock::new(0));
        assert_eq!(verdict(&layer, None, 100), Verdict::Stamp(100, 100));
        assert_eq!(verdict(&layer, Some((100, 100)), 159), Verdict::Keep);
        assert_eq!(
            verdict(&layer, Some((100, 100)), 160),
            Verdict::Stamp(100, 160)
        );
        assert_eq!(
            verdict(&layer, Some((100, 100)), 100 + 1800),
            Verdict::Stamp(100, 1900)
        );
        assert_eq!(verdict(&layer, Some((100, 100)), 100 + 1801), Verdict::End);
        let old = 100 + 12 * 3600;
        assert_eq!(verdict(&layer, Some((100, old - 10)), old), Verdict::Keep);
        assert_eq!(verdict(&layer, Some((100, old)), old + 1), Verdict::End);
        let short = layer.with_idle_timeout(10).with_absolute_lifetime(5);
        assert_eq!((short.idle, short.absolute), (60, 60));
        assert_eq!(parse("1:2"), Some((1, 2)));
        assert_eq!(parse("x:2"), None);
    }
}
