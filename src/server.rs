//! Start-up and shutdown of the HTTP server.

use std::time::Duration;

use anyhow::Context;
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
    state
        .events
        .spawn_listener(state.config.database_url.clone());
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, "listening");
    let app = crate::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving")?;
    tracing::info!("stopped");
    Ok(())
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
    tracing::info!("shutting down: finishing in-flight requests");
    // In-flight requests get a bounded time to finish.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(20)).await;
        tracing::warn!("in-flight requests did not finish in 20s; exiting");
        std::process::exit(0);
    });
}
