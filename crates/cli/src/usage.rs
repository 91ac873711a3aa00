//! Command-line usage errors as the tool's own one line (and a JSON object
//! with `--json`), instead of clap's several lines; exit code 2.
//!
//! An unexpected argument's value is never shown: it may be a password
//! typed where it does not belong.

use std::ffi::OsString;

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind as K};
use share_backup::Error;

use crate::cli::Cli;
use crate::exit;
use crate::output::Reporter;

/// Reports a clap error: `--help` and `--version` print as clap writes them
/// (exit 0); anything else is a usage error (exit 2), one line on stderr,
/// plus a JSON object on stdout when `--json` is among the arguments.
pub fn report(e: &clap::Error, args: &[OsString]) -> u8 {
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return exit::OK;
    }
    Reporter::new(wants_json(args), false, false).error(&to_error(e, args))
}

/// Whether `--json` was given (before a `--` that ends the options).
fn wants_json(args: &[OsString]) -> bool {
    args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json")
}

/// The subcommand names, without clap's `help`.
fn commands() -> Vec<String> {
    Cli::command().get_subcommands().map(|c| c.get_name().to_owned()).filter(|n| n != "help").collect()
}

/// The subcommand the arguments name, if any.
fn command_of(args: &[OsString]) -> Option<String> {
    let names = commands();
    args.iter().skip(1).filter_map(|a| a.to_str()).find(|a| names.iter().any(|n| n == a)).map(str::to_owned)
}

fn context(e: &clap::Error, kind: ContextKind) -> Vec<String> {
    match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        Some(ContextValue::StyledStr(s)) => vec![s.to_string()],
        Some(ContextValue::StyledStrs(v)) => v.iter().map(ToString::to_string).collect(),
        Some(ContextValue::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// The option's name without a value attached (`--x=value`, `-xvalue`).
fn option_name(arg: &str) -> String {
    if let Some(long) = arg.strip_prefix("--") {
        format!("--{}", long.split('=').next().unwrap_or_default())
    } else {
        arg.chars().take(2).collect()
    }
}

/// Whether an option's name says it would carry a secret.
fn names_a_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["pass", "pwd", "pw", "pin", "secret", "token", "key", "cred"].iter().any(|w| n.contains(w))
}

/// Where secrets go instead of arguments.
const SECRET_SOURCES: &str = "type it at the hidden prompt, or use --password-stdin or --password-env VAR \
     (--new-password-stdin/--new-password-env for rotate's new one, --access-token-env VAR for a Google token)";

/// The tool's usage error for a clap error.
pub fn to_error(e: &clap::Error, args: &[OsString]) -> Error {
    let help = match command_of(args) {
        Some(c) => format!("run `share-backup {c} --help` for its options"),
        None => "run `share-backup --help` for the commands and options".to_owned(),
    };
    let arg = context(e, ContextKind::InvalidArg).join(", ");
    let (message, hint) = match e.kind() {
        K::UnknownArgument if arg.starts_with('-') => {
            let name = option_name(&arg);
            if names_a_secret(&name) {
                (
                    format!(
                        "there is no option {name}: passwords and tokens are never taken as arguments (other users see them in `ps`, shells keep them)"
                    ),
                    SECRET_SOURCES.to_owned(),
                )
            } else {
                let tip = context(e, ContextKind::SuggestedArg)
                    .first()
                    .map(|s| format!("did you mean {}? ", option_name(s)))
                    .unwrap_or_default();
                (format!("unknown option {name}"), format!("{tip}{help}"))
            }
        }
        K::UnknownArgument => (
            "unexpected argument (value not shown: it may be a secret)".to_owned(),
            format!("remove it; a password is never an argument: {SECRET_SOURCES}; {help}"),
        ),
        K::InvalidSubcommand => {
            let tip = context(e, ContextKind::SuggestedSubcommand)
                .first()
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            (
                "unknown command (not shown)".to_owned(),
                format!("{tip}the commands are {}; run `share-backup --help`", commands().join(", ")),
            )
        }
        K::MissingSubcommand | K::DisplayHelpOnMissingArgumentOrSubcommand => (
            "no command given".to_owned(),
            format!("give one of {}; run `share-backup --help` for what each does", commands().join(", ")),
        ),
        K::MissingRequiredArgument => (format!("missing {arg}"), help),
        K::InvalidValue => {
            let valid = context(e, ContextKind::ValidValue);
            let hint = if valid.is_empty() { help } else { format!("use one of {}", valid.join(", ")) };
            (format!("invalid value for {arg}"), hint)
        }
        K::ValueValidation => {
            let why = std::error::Error::source(e).map(|s| format!(": {s}")).unwrap_or_default();
            (format!("invalid value for {arg}{why}"), help)
        }
        K::ArgumentConflict => {
            let prior = context(e, ContextKind::PriorArg).join(", ");
            (format!("{arg} cannot be used with {prior}"), format!("drop one of them; {help}"))
        }
        K::InvalidUtf8 => ("an argument is not valid UTF-8".to_owned(), help),
        _ if !arg.is_empty() => (format!("invalid use of {}", option_name(&arg)), help),
        _ => ("invalid command line".to_owned(), help),
    };
    Error::invalid_input(message).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn line(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let e = Cli::try_parse_from(&args).unwrap_err();
        let err = to_error(&e, &args);
        assert_eq!(exit::code(&err), exit::USAGE);
        exit::line(&err, false)
    }

    #[test]
    fn a_password_option_is_refused_naming_where_passwords_go() {
        for a in ["--password", "--password=hunter2xx", "--pin", "--passphrase"] {
            let l = line(&["share-backup", "recover", "-u", "alice", "--out", "x", a]);
            assert!(l.contains("never taken as arguments") && l.contains("--password-stdin"), "{l}");
            assert!(l.contains("--password-env") && !l.contains("hunter2xx") && !l.contains('\n'), "{l}");
        }
    }

    #[test]
    fn an_unexpected_value_is_never_shown() {
        let l = line(&["share-backup", "recover", "-u", "alice", "--out", "x", "hunter22xx"]);
        assert!(l.contains("unexpected argument (value not shown"), "{l}");
        assert!(!l.contains("hunter22xx"), "{l}");
        let l = line(&["share-backup", "hunter22xx"]);
        assert!(l.contains("unknown command") && !l.contains("hunter22xx"), "{l}");
    }

    #[test]
    fn a_missing_option_or_command_is_one_line_saying_what_to_do() {
        let l = line(&["share-backup", "backup", "--share-file", "s"]);
        assert!(l.contains("missing --user") && l.contains("share-backup backup --help"), "{l}");
        let l = line(&["share-backup"]);
        assert!(l.contains("no command given") && l.contains("backup"), "{l}");
        let l = line(&["share-backup", "--notifier", "pigeon", "providers"]);
        assert!(l.contains("invalid value for --notifier") && l.contains("log, portal"), "{l}");
        let l = line(&["share-backup", "backup", "-u", "a", "--share-stdin", "--password-stdin"]);
        assert!(l.contains("cannot be used with"), "{l}");
        let l = line(&["share-backup", "backup", "-u", "a", "--share-fil", "s"]);
        assert!(l.contains("unknown option --share-fil") && l.contains("did you mean --share-file"), "{l}");
    }

    #[test]
    fn json_is_detected_only_among_the_options() {
        let v = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(wants_json(&v(&["share-backup", "--json", "x"])));
        assert!(!wants_json(&v(&["share-backup", "x", "--", "--json"])));
    }
}
