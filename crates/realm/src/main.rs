//! The realm server binary: `share-backup-realm --help`.

use clap::Parser;
use share_backup_realm::{AppState, Config, Db, serve, serve_tls};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    tracing::info!(config = ?config, "starting");
    let verifier = match config.verifier() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("share-backup-realm: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let tls = match config.tls() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("share-backup-realm: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let db = match Db::connect(&config.database_url, config.max_connections).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("share-backup-realm: cannot open the database: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    // Rows stored before migration 0003 name no issuer: adopted only by the
    // issuer the operator names (--adopt-legacy-rows-as), never guessed.
    match db.adopt_legacy_rows(&config.realm_id, config.adopt_legacy_rows_as.as_deref()).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(adopted = n, issuer = ?config.adopt_legacy_rows_as, "registrations from before migration 0003 adopted")
        }
        Err(e) => {
            eprintln!("share-backup-realm: cannot start: {e}");
            return std::process::ExitCode::from(3);
        }
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("share-backup-realm: cannot listen on {}: {e}", config.listen);
            return std::process::ExitCode::from(4);
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Tests and supervisors read this line to learn the port (with --listen 127.0.0.1:0).
    println!("share-backup-realm listening on {scheme}://{addr}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let state =
        AppState::new(db, verifier, config.rate_limit_per_minute).with_phase2_window_secs(config.phase2_window_secs);
    let served = match &tls {
        Some(tls) => serve_tls(listener, tls, state, shutdown).await,
        None => serve(listener, state, shutdown).await,
    };
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("share-backup-realm: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
