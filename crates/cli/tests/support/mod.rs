//! An isolated environment for driving the real `share-backup` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_share-backup"))
}

/// A temporary home: its own data and config directories, a `file://`
/// store, and a cheap KDF so tests stay fast.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn store_dir(&self) -> PathBuf {
        self.path("data/share-backup/store")
    }

    pub fn notify_log(&self) -> PathBuf {
        self.path("data/share-backup/notifications.jsonl")
    }

    pub fn config_file(&self) -> PathBuf {
        self.path("config/share-backup/config.toml")
    }

    /// Writes the default config file (the one found without --config).
    pub fn write_config(&self, text: &str) {
        let p = self.config_file();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Applies the isolated environment to a command.
    pub fn apply(&self, c: &mut Command) {
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("SHARE_BACKUP_") || k.starts_with("PORTAL_") || k == "GOOGLE_OAUTH_ACCESS_TOKEN" {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            // Tiny KDF costs, below the floor for new backups, through the
            // test-only setting (the test-support feature, a dev-dependency):
            // these tests are about the CLI.
            .env("SHARE_BACKUP_PASSWORD_INSECURE_BELOW_COST_FLOOR", "true")
            .env("SHARE_BACKUP_PASSWORD_SPACE_COST", "64")
            .env("SHARE_BACKUP_PASSWORD_TIME_COST", "1")
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
    }

    /// The binary as an `assert_cmd` command in this environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = Command::new(bin());
        self.apply(&mut c);
        assert_cmd::Command::from_std(c)
    }

    /// Another binary (the one with the template provider) in this environment.
    pub fn cmd_of(&self, program: &Path) -> assert_cmd::Command {
        let mut c = Command::new(program);
        self.apply(&mut c);
        assert_cmd::Command::from_std(c)
    }
}

/// Stdout and stderr of an assert_cmd output, as text.
pub fn texts(o: &std::process::Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The method ids the `share-backup` binary under test links, sorted: its
/// built-in providers plus whatever the facade links in this build. Cargo
/// unifies features across one invocation, so in `cargo test --workspace`
/// the facade also links what other members enable (the FFI turns on
/// `passkey`); the binary and this test are built against the same facade.
#[allow(dead_code)] // not every test binary asks
pub fn linked_methods() -> Vec<String> {
    let mut v: Vec<String> = share_backup::enabled_methods().iter().map(|m| m.as_str().to_owned()).collect();
    v.push("guarded-pin".to_owned());
    v.sort();
    v.dedup();
    v
}
