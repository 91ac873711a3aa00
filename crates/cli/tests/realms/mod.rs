//! Real realm processes (`share-backup-realm` on 127.0.0.1:0 over SQLite
//! files) and a config file naming them, for the guarded-pin tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use share_backup_realm_protocol::{Claims, SigningKey, mint};

use crate::support::{self, Env};

pub const SHARE: &[u8] = b"guarded-pin share through the cli";

/// The realm binary: next to the CLI's (built by `cargo test --workspace`),
/// else built now.
pub fn realm_bin() -> PathBuf {
    let cli = support::bin();
    let p = cli.with_file_name(format!("share-backup-realm{}", std::env::consts::EXE_SUFFIX));
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
}

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

pub struct Realm {
    child: Child,
    pub url: String,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Realm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn(id: &str, db: &Path) -> Realm {
    let pk: String = key().verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new(realm_bin())
        .args(["--realm-id", id, "--listen", "127.0.0.1:0"])
        .arg(format!("--database-url=sqlite:{}", db.display()))
        .arg(format!("--integrator-key=acme={pk}"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the realm binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (mut err, sink) = (child.stderr.take().unwrap(), log.clone());
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        sink.lock().unwrap().push_str(&s);
    });
    Realm { child, url, log }
}

pub fn token(realm: &str, user: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    mint(&key(), &Claims { iss: "acme".into(), sub: user.into(), aud: realm.into(), iat: now, exp: now + 300 })
}

/// Three realms, a config file naming them, and a token command that prints
/// the tokens for the user it is asked for (only alice has any).
pub struct Setup {
    pub env: Env,
    pub realms: Vec<Realm>,
    pub tokens: Vec<String>,
}

pub fn setup(max_guesses: u32) -> Setup {
    let env = Env::new();
    let ids = ["a", "b", "c"];
    let realms: Vec<Realm> = ids.iter().map(|id| spawn(id, &env.path(&format!("realm-{id}.sqlite3")))).collect();
    let tokens: Vec<String> = ids.iter().map(|id| token(id, "alice")).collect();
    let lines: String = ids.iter().zip(&tokens).map(|(id, t)| format!("{id}={t}\n")).collect();
    let file = env.write("alice.tokens", lines.as_bytes());
    let realms_setting: Vec<String> = ids.iter().zip(&realms).map(|(id, r)| format!("{id}={}", r.url)).collect();
    env.write_config(&format!(
        "[providers.guarded-pin]\nrealms = {realms:?}\nthreshold = 2\nmax_guesses = {max_guesses}\n\
         token_command = 'test \"$SHARE_BACKUP_TOKEN_USER\" = alice && cat {file}'\n",
        realms = realms_setting,
        file = file.display(),
    ));
    env.write("share.bin", SHARE);
    Setup { env, realms, tokens }
}
