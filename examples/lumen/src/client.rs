//! Where a request comes from, and the limit per client address.
//!
//! The address is the peer's, or, behind a reverse proxy, the last entry
//! of the one header the operator names (`--client-address-header`): the
//! entry the operator's own proxy wrote. A header nobody named is never
//! read, so a client cannot choose its address by sending one.
//!
//! The limit (`--rate-limit`, posts per minute per address, `0` for none)
//! covers every posted form and the JSON API: sign-in, registration and
//! every code. It is `tower_governor`'s (GCRA, a burst of the limit, then
//! one every `60 / limit` seconds); IPv6 clients are counted by their /64,
//! which one host usually holds whole.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use http::{HeaderMap, HeaderName, Method, StatusCode, header};
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::pages;

/// The client's address, as [`resolve`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientAddress(pub(crate) IpAddr);

/// An address in a forwarding header: `203.0.113.7`, `203.0.113.7:4711`,
/// `2001:db8::1`, `[2001:db8::1]:4711`, or a `Forwarded` element's `for=`
/// (quoted or not).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let entry = entry
        .split(';')
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            name.eq_ignore_ascii_case("for").then_some(value)
        })
        .unwrap_or(entry)
        .trim_matches('"');
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .or_else(|| entry.strip_prefix('[')?.split(']').next()?.parse().ok())
        .map(|ip| ip.to_canonical())
}

/// The address the operator's proxy wrote: the last entry of the last
/// `header` line. `Ok(None)` when the header is absent (a direct
/// connection: its peer is the client).
fn from_header(headers: &HeaderMap, header: &HeaderName) -> Result<Option<IpAddr>, ()> {
    let Some(value) = headers.get_all(header).iter().next_back() else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let last = value.rsplit(',').next().ok_or(())?;
    parse_forwarded(last).map(Some).ok_or(())
}

/// Middleware: finds the client's address (see the module docs) and puts
/// it in the request's extensions. A named header that holds no address is
/// refused (400): a misconfigured proxy must not make every client one.
pub(crate) async fn resolve(
    State(header): State<Arc<Option<HeaderName>>>,
    mut request: Request,
) -> Result<Request, Response> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    let forwarded = match header.as_ref() {
        Some(name) => from_header(request.headers(), name).map_err(|()| {
            tracing::warn!(
                target: "lumen", header = %name,
                "a request's client address header holds no address: answered 400"
            );
            let page = pages::error(400, "Lumen could not tell where this request came from");
            (StatusCode::BAD_REQUEST, page).into_response()
        })?,
        None => None,
    };
    if let Some(address) = forwarded.or(peer) {
        request.extensions_mut().insert(ClientAddress(address));
    }
    Ok(request)
}

/// The limiter's key: the client's address, an IPv6 one cut to its /64.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ByClient;

impl KeyExtractor for ByClient {
    type Key = IpAddr;

    fn extract<T>(&self, request: &http::Request<T>) -> Result<IpAddr, GovernorError> {
        let ClientAddress(address) = request
            .extensions()
            .get::<ClientAddress>()
            .copied()
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok(match address {
            IpAddr::V4(_) => address,
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        })
    }
}

/// The per-address limit on posts: the layer, and its state for the
/// sweeper.
#[derive(Clone)]
pub(crate) struct ClientLimit {
    config: Arc<GovernorConfig<ByClient, NoOpMiddleware>>,
}

impl std::fmt::Debug for ClientLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLimit").finish_non_exhaustive()
    }
}

impl ClientLimit {
    /// `per_minute` posts a minute per address (a burst of as many);
    /// `None` for `0`, no limit.
    pub(crate) fn new(per_minute: u32) -> Option<Self> {
        let period = Duration::from_secs(60).checked_div(per_minute)?;
        let config = GovernorConfigBuilder::default()
            .period(period)
            .burst_size(per_minute)
            .methods(vec![Method::POST])
            .key_extractor(ByClient)
            .finish()?;
        Some(Self {
            config: Arc::new(config),
        })
    }

    /// The layer: a 429 page with `Retry-After` over the limit, a 400 for
    /// a request whose address is unknown (there is no peer in process).
    pub(crate) fn layer(&self) -> GovernorLayer<ByClient, NoOpMiddleware, Body> {
        GovernorLayer::new(Arc::clone(&self.config)).error_handler(refused)
    }

    /// Forgets the addresses whose budget is whole again (the sweeper calls
    /// it), so the limiter's memory follows the recent clients only.
    pub(crate) fn forget_idle(&self) {
        let limiter = self.config.limiter();
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

fn refused(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let wait = wait_time.max(1);
            tracing::info!(target: crate::handlers::AUDIT, event = "client_limited", wait);
            let page = pages::error(429, "Too many requests from your network. Wait a moment");
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, wait.to_string())],
                page,
            )
                .into_response()
        }
        _ => {
            let page = pages::error(400, "Lumen could not tell where this request came from");
            (StatusCode::BAD_REQUEST, page).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_parse_and_the_last_entry_counts() {
        for (text, ip) in [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7:4711", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
        ] {
            assert_eq!(parse_forwarded(text), ip.parse().ok(), "{text}");
        }
        for bad in ["", "unknown", "for=_hidden", "example.com", "1.2.3"] {
            assert_eq!(parse_forwarded(bad), None, "{bad}");
        }
        let name = HeaderName::from_static("x-forwarded-for");
        let mut headers = HeaderMap::new();
        assert_eq!(from_header(&headers, &name), Ok(None));
        headers.append(&name, "198.51.100.1, 203.0.113.7".parse().unwrap());
        assert_eq!(from_header(&headers, &name), Ok("203.0.113.7".parse().ok()));
        headers.append(&name, "garbage".parse().unwrap());
        assert_eq!(from_header(&headers, &name), Err(()));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let key = |ip: &str| {
            let mut request = http::Request::new(());
            request
                .extensions_mut()
                .insert(ClientAddress(ip.parse().unwrap()));
            ByClient.extract(&request).ok()
        };
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("192.0.2.1"), "192.0.2.1".parse().ok());
        assert_eq!(ByClient.extract(&http::Request::new(())).ok(), None);
        assert!(ClientLimit::new(0).is_none());
    }
}
