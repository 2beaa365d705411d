//! The rate-limit check in front of both doors (the limiter and its policy are in
//! [`crate::ratelimit`]). It also works out the client IP and leaves it in the request
//! extensions as [`ClientIp`], for the login limit and the logs.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request},
    response::{IntoResponse, Response},
};

use super::extract::bearer_token;
use crate::app::AppState;
use crate::error::AppError;
use crate::ratelimit::{ClientIp, Refused, Scope};

/// Probes and scrapes are never limited.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

fn refused(r: Refused) -> Response {
    AppError::RateLimited {
        retry_after_secs: r.retry_after_secs(),
    }
    .into_response()
}

/// Works out the client IP (left in the request as [`ClientIp`] and recorded on `span`) and
/// applies the per-IP and per-user limits: `Err` is the 429 to answer with. Called by the
/// request-context middleware (one middleware layer rather than two: each `from_fn` layer clones
/// and boxes a service and a future per request).
pub async fn check(
    app: &AppState,
    req: &mut Request,
    span: &tracing::Span,
) -> Result<(), Response> {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| app.trusted_proxies.client_ip(peer.ip(), req.headers()));
    if let Some(ip) = client {
        req.extensions_mut().insert(ClientIp(ip));
        span.record("client_ip", tracing::field::display(ip));
    }
    if app.limiter.enabled() && !exempt(req.uri().path()) {
        if let Some(ip) = client {
            // Boxed, as below: the limiter's Redis round trip would otherwise size the
            // request-context future of every request, limits on or off.
            if let Err(r) = Box::pin(app.limiter.check(Scope::Ip, &ip.to_string())).await {
                return Err(refused(r));
            }
        }
        // Per user only for tokens that are ours (signature and claims check out, no database
        // look-up here); a bad token gets its 401 from the handler.
        let user = bearer_token(req.headers())
            .ok()
            .flatten()
            .and_then(|t| app.auth.verify(t).ok())
            .map(|claims| claims.sub);
        if let Some(user) = user {
            if let Err(r) = Box::pin(app.limiter.check(Scope::User, &user)).await {
                return Err(refused(r));
            }
        }
    }
    Ok(())
}
