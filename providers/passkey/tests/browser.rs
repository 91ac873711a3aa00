//! The provider against a real platform implementation of PRF: headless
//! Chromium (Debian's package) on a DevTools virtual authenticator with PRF,
//! driven by `browser/bridge.mjs` (playwright-core). The Rust provider asks
//! the browser for every ceremony, exactly as an app's web bridge would.
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`) and `browser/node_modules`
//! (`npm ci` in `browser/`); `scripts/ci/passkey.sh` installs both and sets
//! `SHARE_BACKUP_BROWSER_TEST=1`, under which a missing piece fails the test
//! instead of skipping it.
//!
//! What this does not check: Rust's salt hashing against Chromium's. Both
//! the seal and the open below use Chromium's own PRF outputs, so a wrong
//! `SHA-256("WebAuthn PRF" || 0x00 || input)` on the Rust side would go
//! unnoticed here. Closing that needs the credential's `CredRandom` (its
//! hmac-secret key), and the DevTools `WebAuthn` domain has none:
//! `WebAuthn.getCredentials` returns, and `WebAuthn.addCredential` accepts,
//! a `Credential` of credentialId, isResidentCredential, rpId, privateKey,
//! userHandle, signCount, largeBlob, backupEligibility and backupState
//! (plus user names), so a test can neither read the virtual
//! authenticator's hmac-secret key nor plant a known one. The encoding is
//! pinned by `tests/passkey_rs.rs`,
//! `passkey_rs_prf_output_equals_hmac_of_the_webauthn_prf_salt` (passkey-rs's
//! client hashes the input; the test reads its authenticator's stored
//! `CredRandom` and recomputes the output with `SoftwareAuthenticator`),
//! and by SPEC.md's vectors (`tests/vectors.rs`, `testdata/check_vectors.py`).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use serde_json::{Value, json};
use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, Configs, Context, DataKey, ErrorKind, ExposeSecret,
    UserId,
};
use share_backup_passkey::{
    CeremonyError, CredentialId, Entry, PasskeyConfig, PasskeyHeader, PasskeyProvider, PrfAuthenticator, PrfCredential,
    PrfInput, PrfOutput, PrfRequest, PrfResponse, Purpose, RegistrationOptions, hkdf_info,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::Mutex;

const RP: &str = "localhost";

struct Bridge {
    io: Mutex<(ChildStdin, Lines<BufReader<ChildStdout>>)>,
    _child: Child,
}

impl Bridge {
    fn start() -> Option<Bridge> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let missing = if !Path::new(&chromium).exists() {
            Some(format!("{chromium} is not installed (apt-get install chromium)"))
        } else if !dir.join("node_modules/playwright-core").exists() {
            Some("browser/node_modules has no playwright-core (npm ci in providers/passkey/browser)".into())
        } else {
            None
        };
        if let Some(why) = missing {
            assert!(std::env::var_os("SHARE_BACKUP_BROWSER_TEST").is_none(), "browser test required, but {why}");
            eprintln!("SKIPPED: the browser test: {why}");
            return None;
        }
        let mut child = tokio::process::Command::new("node")
            .arg("bridge.mjs")
            .current_dir(&dir)
            .env("CHROMIUM", chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Some(Bridge { io: Mutex::new((stdin, lines)), _child: child })
    }

    async fn call(&self, msg: Value) -> Value {
        let mut io = self.io.lock().await;
        io.0.write_all(format!("{msg}\n").as_bytes()).await.unwrap();
        io.0.flush().await.unwrap();
        let line = io.1.next_line().await.unwrap().expect("the bridge answers");
        serde_json::from_str(&line).unwrap()
    }

    /// Asks node to close Chromium and exit, and waits until it has (its stdout closes).
    async fn quit(&self) {
        let mut io = self.io.lock().await;
        io.0.write_all(b"{\"op\":\"quit\"}\n").await.unwrap();
        io.0.flush().await.unwrap();
        while let Ok(Some(_)) = io.1.next_line().await {}
    }

    async fn create(&self, user: &str) -> CredentialId {
        let opts = RegistrationOptions::new(RP, "share-backup test", user.as_bytes(), user, b"registration challenge");
        let r = self.call(json!({ "op": "create", "options": opts })).await;
        assert_eq!(r["prfEnabled"], true, "Chromium's virtual authenticator enables PRF for RegistrationOptions: {r}");
        CredentialId::from_base64url(r["id"].as_str().unwrap()).unwrap()
    }
}

#[share_backup_core::async_trait]
impl PrfAuthenticator for Bridge {
    async fn evaluate(&self, request: &PrfRequest) -> Result<PrfResponse, CeremonyError> {
        let r =
            self.call(json!({ "op": "get", "options": request.to_request_options_json(b"a fresh challenge") })).await;
        match r["error"].as_str() {
            Some("NotAllowedError") => return Err(CeremonyError::Cancelled),
            Some("NoPrf") => return Err(CeremonyError::PrfUnsupported),
            Some(e) => return Err(CeremonyError::Failed(e.to_owned())),
            None => {}
        }
        let credential_id = CredentialId::from_base64url(r["credentialId"].as_str().unwrap()).unwrap();
        let output = PrfOutput::from_base64url(r["output"].as_str().unwrap()).unwrap();
        Ok(PrfResponse { credential_id, output })
    }
}

fn ctx(user: &UserId, backup: BackupId, auth: Arc<Bridge>, enroll: Vec<CredentialId>) -> Context {
    Context::new(user.clone(), backup).with_configs(Configs::new().with(PasskeyConfig::new(auth, enroll)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_prf_outputs_open_what_rust_seals_and_the_other_way_round() {
    let Some(bridge) = Bridge::start() else { return };
    let bridge = Arc::new(bridge);
    let (a, b) = (bridge.create("alice-phone").await, bridge.create("alice-laptop").await);
    let user = UserId::new("alice").unwrap();
    let provider = PasskeyProvider::builder().rp_id(RP).build().unwrap();
    let share = BackupShare::new(b"client key share sealed under Chromium's PRF".to_vec()).unwrap();

    // 1. The provider drives the browser: a backup enrolling both passkeys, then a recovery.
    let sctx = ctx(&user, BackupId::generate().unwrap(), bridge.clone(), vec![a.clone(), b.clone()]);
    let (env, key) = provider.seal_share(&share, &sctx).await.unwrap();
    let rctx = ctx(&user, env.backup_id(), bridge.clone(), vec![]);
    assert_eq!(provider.open_envelope(&env, &rctx).await.unwrap().expose_secret(), share.expose_secret());
    // Each passkey alone opens it.
    for only in [&a, &b] {
        let p = PasskeyProvider::builder().rp_id(RP).credential_ids(vec![only.clone()]).build().unwrap();
        assert_eq!(p.open_key(env.key_header(), &rctx).await.unwrap(), key, "passkey {only} alone opens the backup");
    }

    // 2. The PRF output the browser gives for (credential, stored input) unwraps the entry Rust sealed.
    let header = PasskeyHeader::parse(env.key_header().as_bytes()).unwrap();
    for entry in &header.entries {
        let req = PrfRequest {
            rp_id: RP.into(),
            credentials: vec![PrfCredential { id: entry.credential_id.clone(), input: entry.input }],
            purpose: Purpose::Recover,
        };
        let out = bridge.evaluate(&req).await.unwrap().output;
        let info = hkdf_info(RP, &entry.credential_id, &entry.input, &env.backup_id(), &rctx.binding());
        let unwrapped = share_backup_passkey::__private::unwrap(&entry.wrapped, &out, &info).unwrap();
        assert_eq!(unwrapped, key);
    }

    // 3. A key wrapped in Rust from a browser output for a chosen input opens through the provider.
    let backup = BackupId::generate().unwrap();
    let input = PrfInput::from_bytes([0x42; 32]);
    let req = PrfRequest {
        rp_id: RP.into(),
        credentials: vec![PrfCredential { id: a.clone(), input }],
        purpose: Purpose::Enroll,
    };
    let out = bridge.evaluate(&req).await.unwrap().output;
    let data_key = DataKey::generate().unwrap();
    let info = hkdf_info(RP, &a, &input, &backup, &rctx.binding());
    let wrapped = share_backup_passkey::__private::wrap(&data_key, &out, &info).unwrap();
    let hdr = PasskeyHeader { rp_id: RP.into(), entries: vec![Entry { credential_id: a.clone(), input, wrapped }] };
    let opened = provider.open_key(&hdr.to_key_header().unwrap(), &ctx(&user, backup, bridge.clone(), vec![])).await;
    assert_eq!(opened.unwrap(), data_key);

    // 4. Another user's context: the browser's output does not unwrap (bound to the user).
    let eve = UserId::new("eve").unwrap();
    let e = provider.open_key(env.key_header(), &ctx(&eve, env.backup_id(), bridge.clone(), vec![])).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongSecret, "{e}");
    bridge.quit().await;
}
