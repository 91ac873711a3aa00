//! Method guarded-pin through the CLI binary, end to end against three real
//! realm processes (`share-backup-realm` on 127.0.0.1:0, SQLite files):
//! realms, threshold and the token command from the config file, the PIN
//! read like a password, wrong PINs counting down, the lock-out, and no PIN
//! or token in any output or log.

mod realms;
mod support;

use realms::{SHARE, Setup, setup};
use serde_json::Value;
use support::texts;

const PIN: &str = "482915";
const WRONG: &str = "739146";

fn backup(s: &Setup, pin: &str) -> std::process::Output {
    s.env
        .cmd()
        .args(["-vv", "backup", "-u", "alice", "-m", "guarded-pin", "--share-file", "share.bin", "--pin-env", "SB_PIN"])
        .env("SB_PIN", pin)
        .output()
        .unwrap()
}

fn recover(s: &Setup, pin: &str, out: &str) -> std::process::Output {
    s.env
        .cmd()
        .args(["-vv", "--json", "recover", "-u", "alice", "-m", "guarded-pin", "--pin-stdin", "--out", out])
        .write_stdin(format!("{pin}\n"))
        .output()
        .unwrap()
}

fn last_json(o: &std::process::Output) -> Value {
    let out = texts(o).0;
    serde_json::from_str(out.lines().last().expect("a JSON line")).expect("JSON")
}

/// Neither the CLI's output nor any realm's TRACE log holds the PIN or a token.
fn assert_no_secret(s: &Setup, outputs: &[&std::process::Output]) {
    let mut secrets = vec![PIN.to_owned(), WRONG.to_owned()];
    secrets.extend(s.tokens.iter().cloned());
    for o in outputs {
        let (out, err) = texts(o);
        for x in &secrets {
            assert!(
                !out.contains(x.as_str()) && !err.contains(x.as_str()),
                "a secret in the CLI's output:\n{out}\n{err}"
            );
        }
    }
    for r in &s.realms {
        let log = r.log();
        for x in &secrets {
            assert!(!log.contains(x.as_str()), "a secret in a realm's log");
        }
    }
}

#[test]
fn guarded_pin_backs_up_and_recovers_through_the_cli_and_a_wrong_pin_shows_the_guesses_left() {
    let s = setup(5);
    let b = backup(&s, PIN);
    assert_eq!(b.status.code(), Some(0), "{}", texts(&b).1);
    assert!(texts(&b).0.contains("method guarded-pin"), "{}", texts(&b).0);
    assert!(texts(&b).0.contains("Keep the PIN safe"), "{}", texts(&b).0);

    let w = recover(&s, WRONG, "never.bin");
    assert_eq!(w.status.code(), Some(3), "a wrong PIN is exit code 3: {}", texts(&w).1);
    let e = last_json(&w);
    assert_eq!(e["kind"], "wrong_secret");
    assert_eq!(e["guesses_left"], 4, "{e}");
    assert_eq!(e["locked_out"], false);
    assert!(texts(&w).1.contains("4 guesses left"), "{}", texts(&w).1);
    assert!(!s.env.path("never.bin").exists());

    let r = recover(&s, PIN, "back.bin");
    assert_eq!(r.status.code(), Some(0), "{}", texts(&r).1);
    assert_eq!(std::fs::read(s.env.path("back.bin")).unwrap(), SHARE);

    // The right PIN reset the count: one wrong guess leaves four again.
    let w2 = recover(&s, WRONG, "never.bin");
    assert_eq!(last_json(&w2)["guesses_left"], 4);
    assert_no_secret(&s, &[&b, &w, &r, &w2]);
}

#[test]
fn the_last_wrong_pin_locks_the_backup_out_for_good() {
    let s = setup(2);
    assert_eq!(backup(&s, PIN).status.code(), Some(0));
    let w = recover(&s, WRONG, "never.bin");
    assert_eq!(last_json(&w)["guesses_left"], 1);
    let w = recover(&s, WRONG, "never.bin");
    let e = last_json(&w);
    assert_eq!(e["locked_out"], true, "{e}");
    assert_eq!(e["guesses_left"], 0);
    assert!(texts(&w).1.contains("erased"), "{}", texts(&w).1);
    // Even the right PIN no longer opens it.
    let r = recover(&s, PIN, "back.bin");
    assert_ne!(r.status.code(), Some(0), "{}", texts(&r).1);
    assert!(!s.env.path("back.bin").exists());
}

#[test]
fn rotate_moves_the_backup_to_a_new_pin_and_the_old_one_no_longer_opens_it() {
    const NEW: &str = "605173";
    let s = setup(5);
    assert_eq!(backup(&s, PIN).status.code(), Some(0));
    let o = s
        .env
        .cmd()
        .args(["rotate", "-u", "alice", "-m", "guarded-pin", "--pin-env", "OLD", "--new-pin-env", "NEW"])
        .env("OLD", PIN)
        .env("NEW", NEW)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let r = recover(&s, NEW, "back.bin");
    assert_eq!(r.status.code(), Some(0), "{}", texts(&r).1);
    assert_eq!(std::fs::read(s.env.path("back.bin")).unwrap(), SHARE);
    let w = recover(&s, PIN, "never.bin");
    assert_eq!(w.status.code(), Some(3), "the old PIN is now a wrong guess: {}", texts(&w).1);
    assert_no_secret(&s, &[&o, &r]);
    assert!(!texts(&o).1.contains(NEW) && !texts(&o).0.contains(NEW));
}

#[test]
fn providers_lists_the_realms_and_the_token_command_from_the_config_file() {
    let s = setup(5);
    let o = s.env.cmd().arg("providers").output().unwrap();
    let out = texts(&o).0;
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    assert!(out.contains(&format!("realms = \"a={}", s.realms[0].url)), "{out}");
    assert!(out.contains("token_command = "), "{out}");
}

#[test]
fn a_weak_pin_is_refused_before_any_realm_is_asked() {
    let s = setup(5);
    let o = backup(&s, "123456");
    assert_eq!(o.status.code(), Some(4), "the PIN preset refuses 123456: {}", texts(&o).1);
}

#[test]
fn without_a_token_source_the_tool_says_how_to_configure_one() {
    let s = setup(5);
    // Another user: the token command refuses (exit 1), so the call stops before any realm.
    let o = s
        .env
        .cmd()
        .args(["backup", "-u", "bob", "-m", "guarded-pin", "--share-file", "share.bin", "--pin-env", "SB_PIN"])
        .env("SB_PIN", PIN)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6), "{}", texts(&o).1);
    assert!(texts(&o).1.contains("token command failed"), "{}", texts(&o).1);

    s.env.write_config("[providers.guarded-pin]\nrealms = \"a=http://127.0.0.1:9,b=http://127.0.0.1:10\"\n");
    let o = s
        .env
        .cmd()
        .args(["backup", "-u", "alice", "-m", "guarded-pin", "--share-file", "share.bin", "--pin-env", "SB_PIN"])
        .env("SB_PIN", PIN)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6), "{}", texts(&o).1);
    assert!(texts(&o).1.contains("token_command"), "{}", texts(&o).1);
}
