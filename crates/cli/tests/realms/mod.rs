//! Real realm processes (`share-backup-realm` on 127.0.0.1:0 over SQLite
//! files) and a config file naming them, for the guarded-pin tests.

#![allow(dead_code)]

use std::path::Path;

use share_backup_realm::{RealmProcess, realm_binary};
use share_backup_realm_protocol::{Claims, SigningKey, mint};

use crate::support::Env;

pub const SHARE: &[u8] = b"guarded-pin share through the cli";

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

pub struct Realm {
    process: RealmProcess,
    /// The base URL, without a trailing slash.
    pub url: String,
}

impl Realm {
    /// The realm's TRACE log so far.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

pub fn spawn(id: &str, db: &Path) -> Realm {
    let db = format!("sqlite:{}", db.display());
    let process = RealmProcess::spawn(&realm_binary(), id, &db, "acme", &key().verifying_key(), &[]).unwrap();
    Realm { url: process.url().trim_end_matches('/').to_string(), process }
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
