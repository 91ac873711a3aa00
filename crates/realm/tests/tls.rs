//! The realm's own TLS (`--tls-cert`/`--tls-key`) on a real process, and
//! its refusal to serve plain HTTP beyond loopback.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use share_backup_realm::RealmProcess;
use share_backup_realm_protocol::SigningKey;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

fn bin() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_share-backup-realm"))
}

/// A self-signed certificate for 127.0.0.1, written as PEM files in `dir`.
fn certificate(dir: &std::path::Path) -> (Vec<u8>, String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("realm.crt"), dir.join("realm.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (ck.cert.der().to_vec(), format!("--tls-cert={}", cert.display()), format!("--tls-key={}", key.display()))
}

fn tls_realm(dir: &std::path::Path) -> (RealmProcess, Vec<u8>) {
    let (der, cert, key_arg) = certificate(dir);
    let db = format!("sqlite:{}", dir.join("tls.sqlite3").display());
    let p = RealmProcess::spawn(bin(), "realm-tls", &db, "acme", &key().verifying_key(), &[&cert, &key_arg]).unwrap();
    (p, der)
}

fn trusting(der: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_der(der).unwrap()])
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn with_a_certificate_the_realm_serves_https_to_a_client_that_trusts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (realm, der) = tls_realm(dir.path());
    assert!(realm.url().starts_with("https://127.0.0.1:"), "{}", realm.url());
    let health: serde_json::Value =
        trusting(&der).get(format!("{}v1/health", realm.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["realm_id"], "realm-tls");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_and_plain_http_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (realm, _) = tls_realm(dir.path());
    let other = tempfile::tempdir().unwrap();
    let (stranger, _, _) = certificate(other.path());
    let e = trusting(&stranger).get(format!("{}v1/health", realm.url())).send().await.unwrap_err();
    assert!(e.is_connect() || e.is_request(), "{e:?}");
    let plain = realm.url().replacen("https://", "http://", 1);
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
        .get(format!("{plain}v1/health"))
        .send()
        .await;
    assert!(r.is_err() || !r.unwrap().status().is_success(), "plain HTTP got an answer from the TLS port");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_does_not_hold_up_others() {
    let dir = tempfile::tempdir().unwrap();
    let (realm, der) = tls_realm(dir.path());
    let addr = realm.url().trim_start_matches("https://").trim_end_matches('/').to_string();
    // Silent connections: TCP open, no ClientHello.
    let _silent: Vec<_> = (0..8).map(|_| std::net::TcpStream::connect(&addr).unwrap()).collect();
    let client = trusting(&der);
    for _ in 0..3 {
        let r = client.get(format!("{}v1/health", realm.url())).send().await.unwrap();
        assert!(r.status().is_success());
    }
}

#[tokio::test]
async fn connections_beyond_the_handshake_limit_are_closed_at_once() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    let (der, cert, key_arg) = certificate(dir.path());
    let db = format!("sqlite:{}", dir.path().join("limit.sqlite3").display());
    let realm = RealmProcess::spawn(
        bin(),
        "realm-tls",
        &db,
        "acme",
        &key().verifying_key(),
        &[&cert, &key_arg, "--tls-max-handshakes=4"],
    )
    .unwrap();
    let addr = realm.url().trim_start_matches("https://").trim_end_matches('/').to_string();
    let silent: Vec<_> = (0..4).map(|_| std::net::TcpStream::connect(&addr).unwrap()).collect();
    // The four slots are taken (each held until its 10 s handshake limit):
    // a fifth connection is closed by the realm without waiting for it.
    let mut fifth = None;
    for _ in 0..50 {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        match c.read(&mut buf) {
            Ok(0) => {
                fifth = Some(());
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                fifth = Some(());
                break;
            }
            // Timed out: it got a slot because an earlier connection had not been counted yet.
            _ => {}
        }
    }
    assert!(fifth.is_some(), "no connection beyond the limit was closed");
    drop(silent);
    // Once the silent ones are gone, clients get through again.
    let client = trusting(&der);
    let mut ok = false;
    for _ in 0..40 {
        if client.get(format!("{}v1/health", realm.url())).send().await.is_ok_and(|r| r.status().is_success()) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ok, "the realm did not recover after the silent connections closed");
}

fn start(args: &[&str]) -> (Option<i32>, String, String) {
    let pk: String = key().verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["--realm-id", "r", "--database-url"])
        .arg(format!("sqlite:{}", dir.path().join("r.sqlite3").display()))
        .arg(format!("--integrator-key=acme={pk}"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    let status = if line.contains("listening on") {
        let _ = child.kill();
        let _ = child.wait();
        None
    } else {
        child.wait().unwrap().code()
    };
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (status, line, err)
}

#[test]
fn plain_http_beyond_loopback_is_refused_unless_a_proxy_is_declared() {
    let (code, _, err) = start(&["--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("refusing to serve plain HTTP") && err.contains("--plain-http-behind-proxy"), "{err}");
    let (code, line, err) = start(&["--listen", "0.0.0.0:0", "--plain-http-behind-proxy"]);
    assert_eq!(code, None, "{err}");
    assert!(line.contains("listening on http://"), "{line}");
    let (code, line, err) = start(&["--listen", "127.0.0.1:0"]);
    assert_eq!(code, None, "{err}");
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
}

#[test]
fn a_key_that_is_not_the_certificates_or_half_a_pair_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, _) = certificate(dir.path());
    let other = tempfile::tempdir().unwrap();
    let (_, _, wrong_key) = certificate(other.path());
    let (code, _, err) = start(&[&cert, &wrong_key]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("do not go together"), "{err}");
    let (code, _, err) = start(&[&cert]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-key"), "{err}");
    let missing = format!("--tls-key={}", dir.path().join("absent.key").display());
    let (code, _, err) = start(&[&cert, &missing]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("absent.key"), "{err}");
}
