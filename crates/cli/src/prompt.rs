//! The password UI: requirements, hidden entry, violations and strength on
//! each failed attempt, confirmation.

use std::io::Write;

use secrecy::SecretString;
use share_backup::providers::password::{Policy, Violation, strength};
use share_backup::{Error, ErrorKind, ExposeSecret};

use crate::input::prompt_hidden;

/// How many times a new password may be refused before giving up.
pub const MAX_ATTEMPTS: usize = 5;

/// Asks for a new password at the terminal until one meets `policy` and is
/// typed the same twice. Each refused attempt shows the broken requirements
/// and the strength estimate on `ui` (stderr).
///
/// # Errors
/// `PolicyViolation` after [`MAX_ATTEMPTS`] refused attempts; the
/// terminal's error.
pub fn new_password(
    policy: &Policy,
    user: &str,
    label: &str,
    ui: &mut dyn Write,
    read: &mut dyn FnMut(&str) -> Result<SecretString, Error>,
) -> Result<SecretString, Error> {
    let _ = writeln!(ui, "Choose the {label} that protects this backup. Requirements:");
    for r in policy.requirements() {
        let _ = writeln!(ui, "  - {r}");
    }
    let _ = writeln!(ui, "There is no way to recover the backup without it: keep it safe.");
    let prompt = format!("New {label}: ");
    for attempt in 1..=MAX_ATTEMPTS {
        let pw = read(&prompt)?;
        let violations = policy.check_with_inputs(pw.expose_secret(), &[user]);
        let st = strength(pw.expose_secret(), &[user]);
        if !violations.is_empty() {
            let _ = writeln!(ui, "That {label} does not meet the requirements:");
            for v in &violations {
                let _ = writeln!(ui, "  x {v}");
            }
            if !matches!(violations.as_slice(), [Violation::Empty]) {
                let _ = writeln!(ui, "  {st}");
                for s in st.suggestions.iter().take(2) {
                    let _ = writeln!(ui, "  hint: {s}");
                }
            }
            if attempt < MAX_ATTEMPTS {
                let _ = writeln!(ui, "Try again ({} attempts left).", MAX_ATTEMPTS - attempt);
            }
            continue;
        }
        let _ = writeln!(ui, "  ok: {st}");
        let again = read(&format!("Confirm {label}: "))?;
        if again.expose_secret() != pw.expose_secret() {
            let _ = writeln!(ui, "The two entries differ.");
            if attempt < MAX_ATTEMPTS {
                let _ = writeln!(ui, "Try again ({} attempts left).", MAX_ATTEMPTS - attempt);
            }
            continue;
        }
        return Ok(pw);
    }
    Err(Error::new(ErrorKind::PolicyViolation, format!("no acceptable {label} after {MAX_ATTEMPTS} attempts"))
        .with_hint(format!("run the command again and choose a {label} that meets the requirements shown")))
}

/// The terminal reader: hidden entry on the controlling terminal.
pub fn tty_reader() -> impl FnMut(&str) -> Result<SecretString, Error> {
    |prompt: &str| prompt_hidden(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripted(lines: &[&str]) -> impl FnMut(&str) -> Result<SecretString, Error> {
        let mut lines: Vec<String> = lines.iter().rev().map(|s| (*s).to_owned()).collect();
        move |_prompt: &str| lines.pop().map(SecretString::from).ok_or_else(|| Error::invalid_input("no more input"))
    }

    #[test]
    fn a_violating_password_shows_the_requirement_then_a_good_one_is_accepted() {
        let mut ui = Vec::new();
        let pw =
            new_password(&Policy::pin(), "alice", "PIN", &mut ui, &mut scripted(&["123", "280417", "280417"])).unwrap();
        assert_eq!(pw.expose_secret(), "280417");
        let ui = String::from_utf8(ui).unwrap();
        assert!(ui.contains("6 to 12 characters"), "{ui}");
        assert!(ui.contains("Use at least 6 characters (now 3)."), "{ui}");
        assert!(ui.contains("strength"), "{ui}");
        assert!(!ui.contains("280417") && !ui.contains("123\n"), "the UI never shows what was typed: {ui}");
    }

    #[test]
    fn a_mismatched_confirmation_asks_again() {
        let mut ui = Vec::new();
        let pw = new_password(
            &Policy::pin(),
            "alice",
            "PIN",
            &mut ui,
            &mut scripted(&["280417", "280418", "280417", "280417"]),
        )
        .unwrap();
        assert_eq!(pw.expose_secret(), "280417");
        assert!(String::from_utf8(ui).unwrap().contains("The two entries differ."));
    }

    #[test]
    fn too_many_refused_attempts_are_a_policy_violation() {
        let mut ui = Vec::new();
        let e = new_password(&Policy::pin(), "alice", "PIN", &mut ui, &mut scripted(&["1"; MAX_ATTEMPTS])).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::PolicyViolation);
    }
}
