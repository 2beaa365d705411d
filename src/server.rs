//! Start-up and shutdown of the HTTP server.
//!
//! Plain HTTP (HTTP/1.1, and h2c) by default; HTTPS with HTTP/2 and HTTP/1.1 (ALPN) when
//! `BOOKSTORE_TLS_CERT` and `BOOKSTORE_TLS_KEY` are set. On SIGTERM or SIGINT the server stops
//! accepting connections, finishes the requests in flight, closes GraphQL WebSockets with close
//! code 1001 (going away), and exits 0; all of that within `BOOKSTORE_SHUTDOWN_TIMEOUT_SECS`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use axum::ServiceExt as _;
use tokio::net::TcpListener;

use crate::{app::App, config::Config, db};

/// Migrates (unless disabled), creates the start-up admin, and serves until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    if config.run_migrations {
        let applied = db::run_migrations(&config.database_url).await?;
        for m in applied {
            tracing::info!(migration = %m, "applied migration");
        }
    }
    let addr = config.addr;
    let state = App::new(config)?;
    if let (Some(user), Some(password)) =
        (&state.config.admin_username, &state.config.admin_password)
    {
        match state
            .ensure_admin(user, password, state.config.admin_email.as_deref())
            .await
        {
            Ok(true) => tracing::info!(username = %user, "created the start-up admin"),
            Ok(false) => {}
            Err(e) => anyhow::bail!("could not create the start-up admin: {e}"),
        }
    }
    state.events.spawn_listener(
        state
            .config
            .listen_url
            .clone()
            .unwrap_or_else(|| state.config.database_url.clone()),
        state.cache.clone(),
    );
    let app = crate::router(state.clone());
    crate::metrics::spawn_upkeep();
    let shutdown = state.shutdown.clone();
    let timeout = state.config.shutdown_timeout;
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.begin();
        }
    });
    let server = async {
        match (&state.config.tls_cert, &state.config.tls_key) {
            (Some(cert), Some(key)) => {
                let tls = crate::tls::server_config(cert, key).await?;
                let handle = axum_server::Handle::new();
                tokio::spawn({
                    let handle = handle.clone();
                    let shutdown = shutdown.clone();
                    async move {
                        shutdown.token.cancelled().await;
                        handle.graceful_shutdown(Some(timeout));
                    }
                });
                let listener =
                    std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
                listener.set_nonblocking(true)?;
                tracing::info!(%addr, "listening (HTTPS: HTTP/2 and HTTP/1.1)");
                // axum-server hands over hyper's own body type; the app takes axum's.
                let app = tower::ServiceBuilder::new()
                    .map_request(|req: http::Request<hyper::body::Incoming>| {
                        req.map(axum::body::Body::new)
                    })
                    .service(app.clone());
                axum_server::from_tcp_rustls(listener, tls)?
                    .handle(handle)
                    .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                    .await
                    .context("serving")
            }
            _ => {
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                tracing::info!(%addr, "listening");
                let make_service = app
                    .clone()
                    .into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, make_service)
                    .with_graceful_shutdown(shutdown.token.clone().cancelled_owned())
                    .await
                    .context("serving")
            }
        }
    };
    // After the signal, in-flight requests and WebSockets get `timeout` to finish. Connections
    // with no request in flight (idle keep-alives, clients still sending their headers) are not
    // waited for: once every request in flight is answered (and its answer had a moment to be
    // written), they are closed.
    let deadline = async {
        shutdown.token.cancelled().await;
        tokio::time::sleep(timeout).await;
    };
    let drained = async {
        shutdown.token.cancelled().await;
        shutdown.requests.idle().await;
        tokio::time::sleep(ANSWER_FLUSH_GRACE).await;
        shutdown.requests.idle().await;
    };
    tokio::select! {
        r = server => r?,
        _ = drained => {
            tracing::info!("every request in flight is answered; closing the remaining connections");
        }
        _ = deadline => {
            tracing::warn!(timeout_secs = timeout.as_secs(), "in-flight requests did not finish in time; exiting");
            return Ok(());
        }
    }
    // HTTP connections are drained; upgraded connections (GraphQL WebSockets) are tracked apart.
    shutdown.tracker.close();
    if tokio::time::timeout(timeout, shutdown.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("WebSocket connections did not close in time; exiting");
    }
    tracing::info!("stopped");
    Ok(())
}

/// After the last request in flight is answered, how long its answer may take to be written
/// before the remaining connections are closed.
const ANSWER_FLUSH_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Shutdown coordination: cancelled on SIGTERM/SIGINT; long-lived tasks (WebSocket
/// connections) hold a tracker token so the server can wait for them to close; requests being
/// answered are counted in `requests`.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    pub token: tokio_util::sync::CancellationToken,
    pub tracker: tokio_util::task::TaskTracker,
    pub requests: Arc<InFlight>,
}

/// The number of requests being answered, and a wake-up when it falls to zero.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

/// One request in flight; counted down when dropped.
pub struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    pub fn enter(&self) -> InFlightGuard<'_> {
        self.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self)
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Returns once no request is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Shutdown {
    /// Starts the shutdown: new connections are refused, WebSockets are closed (1001).
    pub fn begin(&self) {
        if !self.token.is_cancelled() {
            tracing::info!("shutting down: finishing in-flight requests");
        }
        self.token.cancel();
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
