//! The HTTPS client: one rustls crypto provider, chosen deliberately, and
//! plain HTTP only to loopback.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use share_backup_core::{Error, Result};
use url::Url;

pub(crate) type Connector = HttpsConnector<HttpConnector>;
pub(crate) type HttpClient = Client<Connector, google_drive3::common::Body>;

/// Google's production endpoint (google-drive3's "root URL").
pub const DEFAULT_ENDPOINT: &str = "https://www.googleapis.com/";

/// Installs aws-lc-rs as the process's default rustls crypto provider, if
/// none is installed yet.
///
/// Both ring and aws-lc-rs can end up in one binary (object_store,
/// google-drive3, yup-oauth2 each pick one), and then rustls refuses to guess
/// and hyper-rustls panics when something builds a TLS config from the
/// process default. This provider builds its own TLS config with aws-lc-rs
/// explicitly, and also calls this so that yup-oauth2's client finds a
/// default. An application that installed another provider first keeps it.
pub fn install_crypto_provider() {
    // Err means a provider is already installed: that is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn root_store() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "could not load some of the system's root certificates");
            }
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(ignored, "no trusted root certificates found; HTTPS to Google Drive will fail");
            }
            Arc::new(roots)
        })
        .clone()
}

/// Whether the URL's host is a loopback address literal (127.0.0.0/8, ::1).
/// A name is never trusted, not even `localhost`: what it resolves to
/// depends on the resolver and the hosts file, and plain HTTP carries the
/// token and the key in clear.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(_)) => false,
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Checks and normalizes an endpoint: `https://...`, or `http://` to a
/// loopback host (test servers); no credentials, query or fragment; ends in `/`.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<Url> {
    let mut url = Url::parse(endpoint)
        .map_err(|e| Error::invalid_input(format!("the Google Drive endpoint {endpoint:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::invalid_input(format!(
                "refusing plain http:// to {}: tokens and keys would travel in clear",
                url.host_str().unwrap_or("?")
            ))
            .with_hint("use an https:// endpoint; http:// is allowed only to a loopback address literal, 127.0.0.0/8 or [::1] (tests), not to a name such as localhost"));
        }
        other => {
            return Err(Error::invalid_input(format!(
                "the Google Drive endpoint must be https:// (or http:// to loopback), not {other}://"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_input(
            "the Google Drive endpoint must not carry credentials, a query or a fragment",
        ));
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}

/// The hyper client for `endpoint` (already checked).
pub(crate) fn client(endpoint: &Url) -> Result<HttpClient> {
    install_crypto_provider();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal("the TLS configuration could not be built").with_source(e))?
        .with_root_certificates(root_store())
        .with_no_client_auth();
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
    let connector = if endpoint.scheme() == "http" {
        builder.https_or_http().enable_http1().enable_http2().build()
    } else {
        builder.https_only().enable_http1().enable_http2().build()
    };
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

#[cfg(test)]
mod tests {
    use super::*;
    use share_backup_core::ErrorKind;

    #[test]
    fn plain_http_is_for_loopback_only() {
        for ok in [
            "https://www.googleapis.com/",
            "https://localhost:8443/",
            "http://127.0.0.1:9/",
            "http://127.3.2.1:9/",
            "http://[::1]:9/x/",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://www.googleapis.com/",
            "http://10.0.0.1/",
            "http://localhost:1/",
            "http://LOCALHOST/",
            "http://localhost./",
            "http://127.0.0.1.nip.io/",
            "http://[::ffff:127.0.0.1]/",
            "http://128.0.0.1/",
            "ftp://127.0.0.1/",
            "https://u:p@h/",
            "nope",
        ] {
            let e = check_endpoint(bad).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::InvalidInput, "{bad}");
        }
        assert!(check_endpoint("http://example.com/").unwrap_err().hint().contains("https"));
        assert!(check_endpoint("http://localhost/").unwrap_err().hint().contains("127.0.0.0/8"));
        assert_eq!(check_endpoint("http://127.0.0.1:9/a").unwrap().as_str(), "http://127.0.0.1:9/a/");
    }

    #[test]
    fn installing_the_crypto_provider_twice_is_harmless() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
