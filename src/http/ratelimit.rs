//! The rate-limit middleware in front of both doors (the limiter and its policy are in
//! [`crate::ratelimit`]). It also works out the client IP and leaves it in the request
//! extensions as [`ClientIp`], for the login limit and the logs.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
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

pub async fn rate_limit(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            app.limiter
                .trusted_proxies()
                .client_ip(peer.ip(), req.headers())
        });
    if let Some(ip) = client {
        req.extensions_mut().insert(ClientIp(ip));
        tracing::Span::current().record("client_ip", tracing::field::display(ip));
    }
    if app.limiter.enabled() && !exempt(req.uri().path()) {
        if let Some(ip) = client {
            if let Err(r) = app.limiter.check(Scope::Ip, &ip.to_string()).await {
                return refused(r);
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
            if let Err(r) = app.limiter.check(Scope::User, &user).await {
                return refused(r);
            }
        }
    }
    let uri = req.uri().clone();
    super::hardening::within_time_limit(&app, uri.path(), next.run(req)).await
}
