//! Method `guarded-pin`: where the integrator's realm tokens come from.
//!
//! The realms serve a user only with a token the integrator's server signed
//! for that user and realm. The tool never takes a token as an argument; it
//! reads them from a file (`token_file`) or from the output of a command
//! (`token_command`), both set in `[providers.guarded-pin]` (or as
//! `SHARE_BACKUP_GUARDED_PIN_TOKEN_FILE` / `…_TOKEN_COMMAND`). These two keys
//! are the tool's own: they are taken out before the provider sees its
//! settings.
//!
//! Both give one token per line, `realm_id=token`; blank lines and lines
//! starting with `#` are skipped.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use secrecy::{ExposeSecret, SecretString};
use share_backup::{Error, ErrorKind, MethodId, Settings, UserId};
use share_backup_guarded_pin::{GuardedPinProvider, RealmTokens};

/// The method id.
pub fn method() -> MethodId {
    share_backup_guarded_pin::METHOD.clone()
}

/// The setting naming a file of tokens.
pub const TOKEN_FILE: &str = "token_file";
/// The setting naming a command that prints the tokens.
pub const TOKEN_COMMAND: &str = "token_command";
/// The user id the token command is run for (environment of the command).
pub const USER_ENV: &str = "SHARE_BACKUP_TOKEN_USER";
/// The realm ids the token command prints tokens for, comma-separated.
pub const REALMS_ENV: &str = "SHARE_BACKUP_TOKEN_REALMS";

/// Where the tokens come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSetting {
    /// `token_file`.
    pub file: Option<PathBuf>,
    /// `token_command` (run with `sh -c`).
    pub command: Option<String>,
}

/// Takes the tool's own keys out of the provider's settings.
pub fn split(settings: &Settings) -> (Settings, TokenSetting) {
    let mut tokens = TokenSetting::default();
    let rest = settings.iter().filter(|(k, v)| match *k {
        TOKEN_FILE => {
            tokens.file = Some(PathBuf::from(*v));
            false
        }
        TOKEN_COMMAND => {
            tokens.command = Some((*v).to_owned());
            false
        }
        _ => true,
    });
    let rest = Settings::from_pairs(rest.map(|(k, v)| (k.to_owned(), v.to_owned())).collect::<Vec<_>>());
    (rest, tokens)
}

fn unauthenticated(msg: String) -> Error {
    Error::new(ErrorKind::Unauthenticated, msg).with_method(method())
}

/// Parses `realm_id=token` lines. Errors name the line, never its text.
pub fn parse(text: &str, source: &str) -> Result<RealmTokens, Error> {
    let mut tokens = RealmTokens::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, tok)) = line.split_once('=') else {
            return Err(unauthenticated(format!("{source}, line {}: not realm_id=token", n + 1))
                .with_hint("write one line per realm: realm_id=token"));
        };
        let (id, tok) = (id.trim(), tok.trim());
        if id.is_empty() || tok.is_empty() {
            return Err(unauthenticated(format!("{source}, line {}: an empty realm id or token", n + 1))
                .with_hint("write one line per realm: realm_id=token"));
        }
        tokens = tokens.with(id, tok);
    }
    Ok(tokens)
}

impl TokenSetting {
    /// The tokens for `user` at the realms of `provider`.
    pub fn tokens(&self, user: &UserId, provider: &GuardedPinProvider) -> Result<RealmTokens, Error> {
        let ids: Vec<&str> = provider.realms().iter().map(|r| r.id.as_str()).collect();
        let text = match (&self.file, &self.command) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_input(format!(
                    "[providers.guarded-pin] sets both {TOKEN_FILE} and {TOKEN_COMMAND}"
                ))
                .with_method(method())
                .with_hint("keep one of them"));
            }
            (None, None) => {
                return Err(unauthenticated("method guarded-pin needs the integrator's token for each realm".to_owned())
                    .with_hint(format!(
                        "set {TOKEN_COMMAND} (a command printing realm_id=token lines for ${USER_ENV}) or {TOKEN_FILE} in [providers.guarded-pin]"
                    )));
            }
            (Some(f), None) => SecretString::from(std::fs::read_to_string(f).map_err(|e| {
                unauthenticated(format!("cannot read the token file {}: {e}", f.display()))
                    .with_hint(format!("check {TOKEN_FILE} in [providers.guarded-pin]"))
            })?),
            (None, Some(c)) => run(c, user, &ids)?,
        };
        let source = match &self.file {
            Some(f) => format!("token file {}", f.display()),
            None => "the token command's output".to_owned(),
        };
        parse(text.expose_secret(), &source)
    }
}

/// Runs the token command with `sh -c`; its stdout is the tokens, its
/// stderr goes to ours.
fn run(command: &str, user: &UserId, ids: &[&str]) -> Result<SecretString, Error> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env(USER_ENV, user.as_str())
        .env(REALMS_ENV, ids.join(","))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            unauthenticated(format!("cannot run the token command: {e}"))
                .with_hint(format!("check {TOKEN_COMMAND} in [providers.guarded-pin]"))
        })?;
    let text = SecretString::from(String::from_utf8_lossy(&out.stdout).into_owned());
    if !out.status.success() {
        return Err(unauthenticated(format!("the token command failed ({})", out.status)).with_hint(
            "the integrator's server must sign a token for this user at each realm; see the command's messages above",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lines_parse_and_errors_never_show_a_token() {
        let t = parse("# tokens\n\na = tok-a\nb=tok-b\n", "f").unwrap();
        let shown = format!("{t:?}");
        assert!(shown.contains("\"a\"") && !shown.contains("tok-a"), "{shown}");
        let e = parse("a=ok\nsecret-token-without-id\n", "f").unwrap_err();
        assert!(e.message().contains("line 2"), "{e}");
        assert!(!e.to_string().contains("secret-token"), "{e}");
        assert_eq!(e.kind(), &ErrorKind::Unauthenticated);
    }

    #[test]
    fn the_tools_own_keys_are_taken_out_of_the_provider_settings() {
        let s =
            Settings::from_pairs([("realms", "a=http://127.0.0.1:1"), ("token_command", "echo"), ("threshold", "2")]);
        let (rest, t) = split(&s);
        assert_eq!(t.command.as_deref(), Some("echo"));
        assert_eq!(rest.get("token_command"), None);
        assert_eq!(rest.get("threshold"), Some("2"));
        assert_eq!(rest.len(), 2);
    }
}
