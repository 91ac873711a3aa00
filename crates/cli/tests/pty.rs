//! The hidden password prompt, typed into the real binary through a real
//! pseudo-terminal: typed characters are never echoed, a password that
//! breaks the policy shows the requirement, a good one then works.

#![cfg(unix)]

mod support;

use std::process::Command;
use std::time::Duration;

use rexpect::session::PtySession;
use support::Env;

const SHARE: &[u8] = b"pty-share-bytes";
/// Markers that must never come back from the terminal.
const BAD: &str = "shortxq";
const GOOD: &str = "mellow otter xyzzy lantern 42";
const WRONG: &str = "mellow otter wrongzz lantern 42";

/// A command run in a fresh pseudo-terminal with echo ON, as a person's
/// terminal has it (rexpect turns echo off; `stty echo` turns it back on
/// before the program starts).
fn echoing(program: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg("stty echo && exec \"$0\" \"$@\"").arg(program).args(args);
    c
}

fn spawn(env: &Env, args: &[&str]) -> PtySession {
    let mut c = echoing(&support::bin(), args);
    env.apply(&mut c);
    c.env("TERM", "dumb");
    rexpect::session::spawn_command(c, Some(30_000)).expect("spawn in a pty")
}

/// Waits for `needle`, returning everything the terminal showed before it.
fn expect(p: &mut PtySession, needle: &str, seen: &mut String) {
    match p.exp_string(needle) {
        Ok(before) => {
            seen.push_str(&before);
            seen.push_str(needle);
        }
        Err(e) => panic!("waiting for {needle:?}: {e}\nscreen so far:\n{seen}"),
    }
}

/// Types a line at a hidden prompt, after it has turned echo off.
fn type_line(p: &mut PtySession, text: &str) {
    // The prompt is printed just before the terminal is switched to no-echo;
    // a person cannot type faster than this pause.
    std::thread::sleep(Duration::from_millis(300));
    p.send_line(text).unwrap();
}

fn finish(mut p: PtySession, seen: &mut String) {
    match p.exp_eof() {
        Ok(rest) => seen.push_str(&rest),
        Err(e) => panic!("waiting for the end: {e}\nscreen so far:\n{seen}"),
    }
}

#[test]
fn the_prompt_hides_what_is_typed_shows_the_requirements_and_accepts_a_good_password() {
    let env = Env::new();
    let share = env.write("share.bin", SHARE);
    let share = share.to_str().unwrap().to_owned();
    let mut seen = String::new();

    let mut p = spawn(&env, &["backup", "--user", "alice", "--method", "password", "--share-file", &share]);
    expect(&mut p, "Requirements:", &mut seen);
    expect(&mut p, "8 to 256 characters", &mut seen);
    expect(&mut p, "New password: ", &mut seen);
    type_line(&mut p, BAD);
    expect(&mut p, "Use at least 8 characters (now 7).", &mut seen);
    expect(&mut p, "strength", &mut seen);
    expect(&mut p, "New password: ", &mut seen);
    type_line(&mut p, GOOD);
    expect(&mut p, "Confirm password: ", &mut seen);
    type_line(&mut p, "mellow otter xyzzy lantern 43");
    expect(&mut p, "The two entries differ.", &mut seen);
    expect(&mut p, "New password: ", &mut seen);
    type_line(&mut p, GOOD);
    expect(&mut p, "Confirm password: ", &mut seen);
    type_line(&mut p, GOOD);
    expect(&mut p, "Backed up the share of alice with method password", &mut seen);
    finish(p, &mut seen);
    for secret in [BAD, "xyzzy"] {
        assert!(!seen.contains(secret), "{secret:?} was echoed:\n{seen}");
    }

    // Recovery: a mistyped password can be typed again.
    let mut seen = String::new();
    let mut p = spawn(&env, &["recover", "--user", "alice", "--out", "back.bin"]);
    expect(&mut p, "Password: ", &mut seen);
    type_line(&mut p, WRONG);
    expect(&mut p, "That password does not open this backup. Try again", &mut seen);
    expect(&mut p, "Password: ", &mut seen);
    type_line(&mut p, GOOD);
    expect(&mut p, "Recovered the share of alice", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("xyzzy") && !seen.contains("wrongzz"), "a password was echoed:\n{seen}");
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), SHARE);
}

#[test]
fn a_pin_policy_is_explained_at_the_prompt() {
    let env = Env::new();
    env.write_config("[providers.password]\npolicy = \"pin\"\n");
    let share = env.write("share.bin", SHARE);
    let share = share.to_str().unwrap().to_owned();
    let mut seen = String::new();
    let mut p = spawn(&env, &["backup", "-u", "alice", "-m", "password", "--share-file", &share]);
    expect(&mut p, "only digits", &mut seen);
    expect(&mut p, "New PIN: ", &mut seen);
    type_line(&mut p, "246802");
    expect(&mut p, "Avoid sequences", &mut seen);
    expect(&mut p, "New PIN: ", &mut seen);
    type_line(&mut p, "280417");
    expect(&mut p, "Confirm PIN: ", &mut seen);
    type_line(&mut p, "280417");
    expect(&mut p, "Backed up", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("280417") && !seen.contains("246802"), "a PIN was echoed:\n{seen}");
}

/// The control: the same pseudo-terminal echoes what a plain `read` gets, so
/// the no-echo assertions above would catch a prompt that echoes.
#[test]
fn the_pseudo_terminal_echoes_ordinary_input_so_the_no_echo_checks_can_fail() {
    let c = echoing(std::path::Path::new("sh"), &["-c", "printf 'Name: '; read x; echo end"]);
    let mut p = rexpect::session::spawn_command(c, Some(10_000)).unwrap();
    let mut seen = String::new();
    expect(&mut p, "Name: ", &mut seen);
    type_line(&mut p, "visible-xyzzy");
    expect(&mut p, "end", &mut seen);
    assert!(seen.contains("visible-xyzzy"), "the terminal did not echo:\n{seen}");
}

#[test]
fn ctrl_c_at_the_prompt_stops_cleanly_with_exit_code_130() {
    let env = Env::new();
    let share = env.write("share.bin", SHARE);
    let share = share.to_str().unwrap().to_owned();
    let mut seen = String::new();
    // After the tool exits, `stty -a` shows whether the terminal got its echo back.
    let mut c = Command::new("sh");
    c.arg("-c").arg("stty echo; \"$0\" \"$@\"; echo \"exit=$?\"; stty -a").arg(support::bin()).args([
        "backup",
        "-u",
        "alice",
        "-m",
        "password",
        "--share-file",
        &share,
    ]);
    env.apply(&mut c);
    let mut p = rexpect::session::spawn_command(c, Some(30_000)).unwrap();
    expect(&mut p, "New password: ", &mut seen);
    std::thread::sleep(Duration::from_millis(300));
    p.send("mellow").unwrap();
    p.send_control('c').unwrap();
    expect(&mut p, "interrupted", &mut seen);
    expect(&mut p, "exit=130", &mut seen);
    let rest = p.exp_eof().unwrap_or_default();
    seen.push_str(&rest);
    let flags: Vec<&str> = rest.split_whitespace().map(|f| f.trim_end_matches(';')).collect();
    assert!(flags.contains(&"echo") && !flags.contains(&"-echo"), "the terminal's echo was not restored:\n{rest}");
    assert!(!seen.contains("mellow"), "echoed:\n{seen}");
    assert!(!env.notify_log().exists(), "nothing was attempted");
}

#[test]
fn no_prompt_refuses_to_ask_even_at_a_terminal() {
    let env = Env::new();
    let share = env.write("share.bin", SHARE);
    let share = share.to_str().unwrap().to_owned();
    let mut seen = String::new();
    let mut c = echoing(&support::bin(), &["backup", "-u", "alice", "-m", "password", "--share-file", &share]);
    env.apply(&mut c);
    c.env("SHARE_BACKUP_NO_PROMPT", "1");
    let mut p = rexpect::session::spawn_command(c, Some(30_000)).unwrap();
    expect(&mut p, "cannot be asked for (no terminal, or --no-prompt)", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("New password"), "{seen}");
}
