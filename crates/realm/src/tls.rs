//! TLS termination in the realm itself (rustls, aws-lc-rs): `--tls-cert`
//! and `--tls-key` (PEM files). Handshakes run in their own tasks, each
//! bounded by a timeout, so a slow or silent client never holds up the
//! others; only finished handshakes reach axum.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once by default; connections beyond are
/// closed at once, so silent clients cannot exhaust file descriptors.
pub const DEFAULT_MAX_HANDSHAKES: usize = 256;

/// A server TLS configuration read from PEM files.
#[derive(Clone)]
pub struct TlsConfig(Arc<rustls::ServerConfig>, usize);

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

impl TlsConfig {
    /// Reads the certificate chain (leaf first) and the private key.
    ///
    /// # Errors
    /// A message naming the file and what is wrong with it (never the key's bytes).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("--tls-cert {}: no CERTIFICATE block in the file", cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            format!("--tls-key {}: no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}", key.display())
        })?;
        Self::from_der(chain, key)
    }

    /// From DER: the chain (leaf first) and the key.
    ///
    /// # Errors
    /// The key does not match the certificate, or is of an unsupported type.
    pub fn from_der(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<TlsConfig, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("TLS: the certificate and the key do not go together: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig(Arc::new(config), DEFAULT_MAX_HANDSHAKES))
    }

    /// At most `n` (at least 1) handshakes in progress at once.
    #[must_use]
    pub fn with_max_handshakes(mut self, n: usize) -> Self {
        self.1 = n.max(1);
        self
    }
}

/// A listener whose connections have finished a TLS handshake: what
/// [`crate::serve_tls`] hands to axum.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Wraps `listener`: accepts in a task, one handshake task per
    /// connection (at most [`HANDSHAKE_TIMEOUT`] each, at most the
    /// configuration's `max_handshakes` at once; more are closed at once).
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn new(listener: TcpListener, config: &TlsConfig) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config.0.clone());
        let slots = Arc::new(tokio::sync::Semaphore::new(config.1));
        let (tx, ready) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, as axum does.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // Every slot is held by an unfinished handshake: close this one now.
                    tracing::debug!(%peer, "too many TLS handshakes in progress; connection closed");
                    drop(tcp);
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready, accept_task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task ended (only when the listener is dropped): never resolve.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
