//! The hidden password prompt, typed into the real binary through a real
//! pseudo-terminal: typed characters are never echoed, a password that
//! breaks the policy shows the requirement, a good one then works.

#![cfg(unix)]

mod realms;
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use rexpect::session::PtySession;
use support::{Env, texts};

const SHARE: &[u8] = b"pty-share-bytes";
/// Markers that must never come back from the terminal.
const BAD: &str = "shortxq";
const GOOD: &str = "mellow otter xyzzy lantern 42";
const WRONG: &str = "mellow otter wrongzz lantern 42";

/// A command run in a fresh pseudo-terminal with echo ON, as a person's
/// terminal has it (rexpect turns echo off; `stty echo` turns it back on
/// before the program starts). Its first line of output is the terminal's
/// device (`tty`), which [`Pty::type_hidden`] watches.
fn echoing(program: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg("tty && stty echo && exec \"$0\" \"$@\"").arg(program).args(args);
    c
}

/// A program in a pseudo-terminal, and that terminal's device.
struct Pty {
    session: PtySession,
    tty: PathBuf,
}

impl std::ops::Deref for Pty {
    type Target = PtySession;
    fn deref(&self) -> &PtySession {
        &self.session
    }
}

impl std::ops::DerefMut for Pty {
    fn deref_mut(&mut self) -> &mut PtySession {
        &mut self.session
    }
}

impl Pty {
    fn start(c: Command) -> Pty {
        let mut session = rexpect::session::spawn_command(c, Some(30_000)).expect("spawn in a pty");
        let tty = PathBuf::from(session.read_line().expect("the terminal's name").trim());
        assert!(tty.starts_with("/dev/"), "not a terminal device: {tty:?}");
        Pty { session, tty }
    }

    /// Whether the terminal's echo is off now (as `stty -a` shows it).
    fn echo_off(&self) -> bool {
        let o = Command::new("stty").arg("-F").arg(&self.tty).arg("-a").output().expect("run stty");
        String::from_utf8_lossy(&o.stdout).split_whitespace().any(|f| f.trim_end_matches(';') == "-echo")
    }

    /// Types a line at a hidden prompt once the program has turned echo off
    /// (the prompt is printed just before), so what is typed can only show
    /// if the program itself echoes it.
    fn type_hidden(&mut self, text: &str) {
        self.wait_echo_off();
        self.session.send_line(text).unwrap();
    }

    /// Waits (up to a generous bound, not a timing assertion) until the program turns echo off.
    fn wait_echo_off(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.echo_off() {
            assert!(Instant::now() < deadline, "the prompt never turned the terminal's echo off");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The binary in a pseudo-terminal with `TERM=dumb` (no progress bar: plain progress lines).
fn spawn(env: &Env, args: &[&str]) -> Pty {
    spawn_with_term(env, args, "dumb")
}

fn spawn_with_term(env: &Env, args: &[&str], term: &str) -> Pty {
    let mut c = echoing(&support::bin(), args);
    env.apply(&mut c);
    c.env("TERM", term);
    Pty::start(c)
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

fn finish(mut p: Pty, seen: &mut String) {
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

    // A terminal that can redraw: the progress bar is shown.
    let mut p =
        spawn_with_term(&env, &["backup", "--user", "alice", "--method", "password", "--share-file", &share], "xterm");
    expect(&mut p, "Requirements:", &mut seen);
    expect(&mut p, "8 to 256 characters", &mut seen);
    expect(&mut p, "New password: ", &mut seen);
    p.type_hidden(BAD);
    expect(&mut p, "Use at least 8 characters (now 7).", &mut seen);
    expect(&mut p, "strength", &mut seen);
    expect(&mut p, "New password: ", &mut seen);
    p.type_hidden(GOOD);
    expect(&mut p, "Confirm password: ", &mut seen);
    p.type_hidden("mellow otter xyzzy lantern 43");
    expect(&mut p, "The two entries differ.", &mut seen);
    expect(&mut p, "New password: ", &mut seen);
    p.type_hidden(GOOD);
    expect(&mut p, "Confirm password: ", &mut seen);
    p.type_hidden(GOOD);
    expect(&mut p, "Backed up the share of alice with method password", &mut seen);
    finish(p, &mut seen);
    // On a terminal the steps drive the progress bar ("<operation>: [<bar>] <step>"), up to its end.
    assert!(seen.contains("backup: [") && seen.contains("] done"), "no progress bar:\n{seen}");
    assert!(!seen.contains("share-backup: backup: "), "plain progress lines on a terminal:\n{seen}");
    for secret in [BAD, "xyzzy"] {
        assert!(!seen.contains(secret), "{secret:?} was echoed:\n{seen}");
    }

    // Recovery: a mistyped password can be typed again.
    let mut seen = String::new();
    let mut p = spawn(&env, &["recover", "--user", "alice", "--out", "back.bin"]);
    expect(&mut p, "Password: ", &mut seen);
    p.type_hidden(WRONG);
    expect(&mut p, "That password does not open this backup. Try again", &mut seen);
    expect(&mut p, "Password: ", &mut seen);
    p.type_hidden(GOOD);
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
    p.type_hidden("246802");
    expect(&mut p, "Avoid sequences", &mut seen);
    expect(&mut p, "New PIN: ", &mut seen);
    p.type_hidden("280417");
    expect(&mut p, "Confirm PIN: ", &mut seen);
    p.type_hidden("280417");
    // A dumb terminal cannot redraw a bar: it gets one plain line per step.
    expect(&mut p, "share-backup: backup: deriving_key", &mut seen);
    expect(&mut p, "share-backup: backup: done", &mut seen);
    expect(&mut p, "Backed up", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("backup: ["), "a bar on a dumb terminal:\n{seen}");
    assert!(!seen.contains("280417") && !seen.contains("246802"), "a PIN was echoed:\n{seen}");
}

#[test]
fn a_guarded_pin_is_chosen_and_typed_at_the_hidden_prompt_and_a_wrong_one_shows_the_guesses_left() {
    let s = realms::setup(5);
    let mut seen = String::new();
    let mut p = spawn(&s.env, &["backup", "-u", "alice", "-m", "guarded-pin", "--share-file", "share.bin"]);
    expect(&mut p, "New PIN: ", &mut seen);
    p.type_hidden("246802");
    expect(&mut p, "Avoid sequences", &mut seen);
    expect(&mut p, "New PIN: ", &mut seen);
    p.type_hidden("482915");
    expect(&mut p, "Confirm PIN: ", &mut seen);
    p.type_hidden("482915");
    expect(&mut p, "Backed up the share of alice with method guarded-pin", &mut seen);
    finish(p, &mut seen);

    let mut p = spawn(&s.env, &["recover", "-u", "alice", "-m", "guarded-pin", "--out", "back.bin"]);
    expect(&mut p, "PIN: ", &mut seen);
    p.type_hidden("739146");
    expect(
        &mut p,
        "That PIN does not open this backup (4 guesses left before the backup is erased). Try again",
        &mut seen,
    );
    expect(&mut p, "PIN: ", &mut seen);
    p.type_hidden("482915");
    expect(&mut p, "Recovered the share of alice", &mut seen);
    finish(p, &mut seen);
    assert_eq!(std::fs::read(s.env.path("back.bin")).unwrap(), realms::SHARE);
    for secret in ["246802", "482915", "739146"] {
        assert!(!seen.contains(secret), "{secret:?} was echoed:\n{seen}");
    }
}

/// The control: the same pseudo-terminal echoes what a plain `read` gets, so
/// the no-echo assertions above would catch a prompt that echoes.
#[test]
fn the_pseudo_terminal_echoes_ordinary_input_so_the_no_echo_checks_can_fail() {
    let c = echoing(std::path::Path::new("sh"), &["-c", "printf 'Name: '; read x; echo end"]);
    let mut p = Pty::start(c);
    let mut seen = String::new();
    expect(&mut p, "Name: ", &mut seen);
    assert!(!p.echo_off(), "the control terminal echoes");
    p.send_line("visible-xyzzy").unwrap();
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
    c.arg("-c").arg("tty; stty echo; \"$0\" \"$@\"; echo \"exit=$?\"; stty -a").arg(support::bin()).args([
        "backup",
        "-u",
        "alice",
        "-m",
        "password",
        "--share-file",
        &share,
    ]);
    env.apply(&mut c);
    let mut p = Pty::start(c);
    expect(&mut p, "New password: ", &mut seen);
    p.wait_echo_off();
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
    let mut p = Pty::start(c);
    expect(&mut p, "cannot be asked for (no terminal, or --no-prompt)", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("New password"), "{seen}");
}

/// Backs up `share` for alice with `password` given on stdin.
fn backup_with_stdin(env: &Env, password: &str) {
    let share = env.write("share.bin", SHARE);
    let o = env
        .cmd()
        .args(["backup", "-u", "alice", "-m", "password", "--password-stdin", "--share-file"])
        .arg(share)
        .write_stdin(format!("{password}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
}

#[test]
fn rotate_checks_the_current_password_before_asking_for_a_new_one_and_lets_it_be_retyped() {
    let env = Env::new();
    backup_with_stdin(&env, GOOD);
    let new = "quiet harbour xylophone 77 ember";
    let mut seen = String::new();
    let mut p = spawn(&env, &["rotate", "-u", "alice"]);
    expect(&mut p, "Current password: ", &mut seen);
    p.type_hidden(WRONG);
    expect(&mut p, "That password does not open this backup. Try again (2 attempt(s) left).", &mut seen);
    assert!(!seen.contains("New password"), "the new password was asked before the current one was checked:\n{seen}");
    expect(&mut p, "Current password: ", &mut seen);
    p.type_hidden(GOOD);
    expect(&mut p, "Choose the password", &mut seen);
    expect(&mut p, "New password: ", &mut seen);
    p.type_hidden(new);
    expect(&mut p, "Confirm password: ", &mut seen);
    p.type_hidden(new);
    expect(&mut p, "Backed up the share of alice", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("xylophone") && !seen.contains("xyzzy") && !seen.contains("wrongzz"), "echoed:\n{seen}");
    let o = env
        .cmd()
        .args(["recover", "-u", "alice", "--password-stdin", "--out", "-"])
        .write_stdin(format!("{new}\n"))
        .output()
        .unwrap();
    assert_eq!(o.stdout, SHARE, "the new password opens the rotated backup: {}", texts(&o).1);
}

#[test]
fn recovery_under_the_pin_policy_asks_for_the_pin_by_name() {
    let env = Env::new();
    env.write_config("[providers.password]\npolicy = \"pin\"\n");
    backup_with_stdin(&env, "280417");
    let mut seen = String::new();
    let mut p = spawn(&env, &["recover", "-u", "alice", "--out", "back.bin"]);
    expect(&mut p, "PIN: ", &mut seen);
    p.type_hidden("280418");
    expect(&mut p, "That PIN does not open this backup. Try again", &mut seen);
    expect(&mut p, "PIN: ", &mut seen);
    p.type_hidden("280417");
    expect(&mut p, "Recovered the share of alice", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("Password"), "{seen}");
    assert!(!seen.contains("280417") && !seen.contains("280418"), "a PIN was echoed:\n{seen}");
    assert_eq!(std::fs::read(env.path("back.bin")).unwrap(), SHARE);
}

#[test]
fn password_stdin_at_a_terminal_is_refused_because_it_would_echo() {
    let env = Env::new();
    let share = env.write("share.bin", SHARE);
    let share = share.to_str().unwrap().to_owned();
    let mut seen = String::new();
    let mut p = spawn(&env, &["backup", "-u", "alice", "-m", "password", "--password-stdin", "--share-file", &share]);
    expect(&mut p, "--password-stdin reads stdin, which is the terminal here", &mut seen);
    expect(&mut p, "drop --password-stdin to type it at the hidden prompt", &mut seen);
    finish(p, &mut seen);
    assert!(!env.notify_log().exists(), "nothing was backed up");
}

#[test]
fn rotate_with_a_wrong_current_password_from_the_environment_stops_before_the_new_one_is_asked() {
    let env = Env::new();
    backup_with_stdin(&env, GOOD);
    let mut seen = String::new();
    let mut c = echoing(&support::bin(), &["rotate", "-u", "alice", "--password-env", "SB_CURRENT"]);
    env.apply(&mut c);
    c.env("TERM", "dumb").env("SB_CURRENT", WRONG);
    let mut p = Pty::start(c);
    expect(&mut p, "the password does not open this backup", &mut seen);
    finish(p, &mut seen);
    assert!(!seen.contains("New password"), "the new password was asked for:\n{seen}");
}
