//! A `share-backup-realm` binary run as a child process on `127.0.0.1:0`:
//! for tests that need real realm processes (one killed = one realm down).

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

/// A running `share-backup-realm` process; dropping it (or [`kill`](Self::kill)) ends it.
pub struct RealmProcess {
    child: Option<Child>,
    url: String,
    id: String,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for RealmProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealmProcess").field("id", &self.id).field("url", &self.url).finish()
    }
}

impl RealmProcess {
    /// Starts `bin` as realm `id` over `database_url`, trusting `issuer`'s
    /// `key`, with `extra` flags (e.g. `--rate-limit-per-minute=0`) and
    /// `RUST_LOG=trace` (its stderr is kept, see [`log`](Self::log)).
    ///
    /// # Errors
    /// The binary did not start or did not print the address it listens on.
    pub fn spawn(
        bin: &Path,
        id: &str,
        database_url: &str,
        issuer: &str,
        key: &share_backup_realm_protocol::VerifyingKey,
        extra: &[&str],
    ) -> Result<RealmProcess, String> {
        let pk: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let mut child = Command::new(bin)
            .args(["--realm-id", id, "--listen", "127.0.0.1:0", "--database-url", database_url])
            .arg(format!("--integrator-key={issuer}={pk}"))
            .args(extra)
            .env("RUST_LOG", "trace")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let log = Arc::new(Mutex::new(String::new()));
        let reader = child.stderr.take().map(|mut err| {
            let sink = log.clone();
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&s);
                }
            })
        });
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let url = line.trim().rsplit(' ').next().unwrap_or_default().trim_end_matches('/').to_string();
        if !url.starts_with("http://127.0.0.1:") && !url.starts_with("https://127.0.0.1:") {
            let _ = child.kill();
            let _ = child.wait();
            if let Some(r) = reader {
                let _ = r.join();
            }
            let log = log.lock().map(|l| l.clone()).unwrap_or_default();
            return Err(format!("realm {id} did not start (stdout {line:?}): {log}"));
        }
        Ok(RealmProcess { child: Some(child), url: format!("{url}/"), id: id.to_string(), log, reader })
    }

    /// The base URL (`http://127.0.0.1:PORT/`, or `https://` with `--tls-cert`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The realm id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the process wrote to stderr: complete after [`kill`](Self::kill)
    /// (which waits for the last byte), partial before.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Kills the process and waits for it and for the end of its stderr:
    /// the realm is down and [`log`](Self::log) is complete.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for RealmProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `share-backup-realm` binary of this build: next to the running test's
/// `deps` directory (`target/<profile>/`), built there with `cargo build -p
/// share-backup-realm` (once per process) when absent.
///
/// # Panics
/// The binary is absent and cannot be built.
pub fn realm_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the current executable's path");
        let mut dir = exe.parent().expect("a directory").to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let p = dir.join(format!("share-backup-realm{}", std::env::consts::EXE_SUFFIX));
        if !p.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(["build", "-p", "share-backup-realm", "--bin", "share-backup-realm"])
                .status()
                .expect("cargo runs");
            assert!(ok.success(), "building share-backup-realm failed");
        }
        assert!(p.exists(), "no realm binary at {}", p.display());
        p
    })
    .clone()
}
