//! A third-party provider linked into the tool shows up and is configured
//! like the built-in ones: the `share-backup-with-keydir` example is the
//! `share-backup` tool plus the template provider (method `keydir`).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Env, texts};

/// The example binary; `cargo test` builds examples before running tests,
/// and when this test runs alone it is built here (same target directory and
/// features, so nothing else is rebuilt).
fn keydir_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/third_party-<hash> → target/<profile>/examples/
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let bin = profile_dir.join("examples").join(format!("share-backup-with-keydir{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut c = Command::new(cargo);
        c.args(["build", "-p", "share-backup-cli", "--example", "share-backup-with-keydir"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        let status = c.status().expect("run cargo");
        assert!(status.success(), "building the example failed");
    }
    bin
}

#[test]
fn providers_lists_the_linked_third_party_provider_with_its_settings() {
    let env = Env::new();
    let o = env.cmd_of(&keydir_bin()).arg("providers").output().unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("keydir") && out.contains("share-backup-example-keydir"), "{out}");
    assert!(out.contains("SHARE_BACKUP_KEYDIR_<KEY>"), "{out}");

    let o = env.cmd_of(&keydir_bin()).args(["--json", "providers"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_str(texts(&o).0.lines().last().unwrap()).unwrap();
    let methods: Vec<&str> = v["providers"].as_array().unwrap().iter().map(|p| p["method"].as_str().unwrap()).collect();
    let mut expected = support::linked_methods();
    expected.push("keydir".to_owned());
    expected.sort();
    assert_eq!(methods, expected);
}

#[test]
fn the_third_party_provider_is_configured_from_the_environment_and_the_default_chain() {
    let env = Env::new();
    let keys = env.path("keys");
    let share = env.write("share.bin", b"third-party share");
    // The chain picks keydir when --method is omitted; its `dir` setting comes from the environment.
    let o = env
        .cmd_of(&keydir_bin())
        .env("SHARE_BACKUP_DEFAULT_CHAIN", "keydir,gdrive")
        .env("SHARE_BACKUP_KEYDIR_DIR", &keys)
        .args(["backup", "-u", "carol", "--share-file"])
        .arg(&share)
        .output()
        .unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("with method keydir"), "{out}");
    let files: Vec<_> = std::fs::read_dir(&keys).unwrap().collect();
    assert_eq!(files.len(), 1, "one key file in the configured directory");

    let o = env
        .cmd_of(&keydir_bin())
        .env("SHARE_BACKUP_KEYDIR_DIR", &keys)
        .args(["recover", "-u", "carol", "--out", "back.bin"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), b"third-party share");

    // verify reads the key back: the provider's key opens the envelope.
    let o = env
        .cmd_of(&keydir_bin())
        .env("SHARE_BACKUP_KEYDIR_DIR", &keys)
        .args(["verify", "-u", "carol"])
        .output()
        .unwrap();
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("the provider's key opens it"), "{out}");

    // A typo in its settings is refused, naming the setting.
    let o = env
        .cmd_of(&keydir_bin())
        .env("SHARE_BACKUP_KEYDIR_DIRECTORY", &keys)
        .args(["methods", "-u", "carol"])
        .output()
        .unwrap();
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn with_backups_of_several_methods_recover_asks_which_one_unless_the_chain_decides() {
    let env = Env::new();
    let keys = env.path("keys");
    let share = env.write("share.bin", b"two backups");
    let run = |args: &[&str], stdin: &str| {
        env.cmd_of(&keydir_bin()).env("SHARE_BACKUP_KEYDIR_DIR", &keys).args(args).write_stdin(stdin).output().unwrap()
    };
    let share = share.to_str().unwrap();
    assert_eq!(run(&["backup", "-u", "frank", "-m", "keydir", "--share-file", share], "").status.code(), Some(0));
    let o = run(
        &["backup", "-u", "frank", "-m", "password", "--password-stdin", "--share-file", share],
        "correct horse battery staple\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let o = run(&["methods", "-u", "frank"], "");
    assert_eq!(texts(&o).0.lines().collect::<Vec<_>>(), ["keydir", "password"]);

    let o = run(&["recover", "-u", "frank", "--out", "a.bin"], "");
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("several methods [keydir, password]") && err.contains("--method"), "{err}");

    let o = env
        .cmd_of(&keydir_bin())
        .env("SHARE_BACKUP_KEYDIR_DIR", &keys)
        .env("SHARE_BACKUP_DEFAULT_CHAIN", "keydir")
        .args(["recover", "-u", "frank", "--out", "a.bin"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert!(texts(&o).0.contains("method keydir"));
}
