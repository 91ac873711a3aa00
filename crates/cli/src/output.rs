//! What the user sees: progress (a bar on a terminal, plain lines
//! otherwise, JSON lines with `--json`), results and errors.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use share_backup::{Error, Progress, ProgressSink, Status};

use crate::exit;

/// How output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A progress bar on stderr, results as text on stdout.
    Terminal,
    /// Progress as plain lines on stderr, results as text on stdout.
    Plain,
    /// One JSON object per line on stdout.
    Json,
}

/// Prints progress, results and errors in the chosen mode.
#[derive(Clone)]
pub struct Reporter {
    mode: Mode,
    quiet: bool,
    verbose: bool,
    /// Results go to stderr when stdout carries the recovered share.
    results_to_stderr: bool,
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter").field("mode", &self.mode).field("quiet", &self.quiet).finish()
    }
}

/// A step as the user reads it.
pub fn describe(status: Status) -> &'static str {
    match status {
        Status::Reading => "reading",
        Status::Generating => "generating a data key",
        Status::DerivingKey => "deriving the key from the password",
        Status::UploadingKey => "storing the key with the provider",
        Status::Parsing => "parsing the cipher text",
        Status::FetchingKey => "fetching the key from the provider",
        Status::Encrypting => "encrypting",
        Status::Verifying => "verifying the backup",
        Status::Storing => "storing the cipher text",
        Status::Acknowledging => "acknowledging the backup",
        Status::Decrypting => "decrypting",
        Status::Done => "done",
        Status::Failed => "failed",
        _ => "working",
    }
}

impl Reporter {
    /// A reporter for `--json`, `--quiet` and whether stderr is a terminal.
    pub fn new(json: bool, quiet: bool, verbose: bool) -> Self {
        let mode = if json {
            Mode::Json
        } else if std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb") {
            // A dumb terminal cannot redraw a bar in place: it gets the plain lines.
            Mode::Terminal
        } else {
            Mode::Plain
        };
        Reporter { mode, quiet, verbose, results_to_stderr: false, bar: Arc::new(Mutex::new(None)) }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Sends human-readable results to stderr (stdout carries data).
    pub fn results_to_stderr(&mut self) {
        self.results_to_stderr = true;
    }

    /// A progress sink for one operation (`what`: "backup", "recovery", ...).
    pub fn sink(&self, what: &'static str) -> ProgressSink {
        match self.mode {
            Mode::Json => ProgressSink::new(move |p: Progress| {
                emit_json(&json!({"event": "progress", "operation": what, "status": p.status, "done": p.done}));
            }),
            _ if self.quiet => ProgressSink::none(),
            Mode::Plain => ProgressSink::new(move |p: Progress| {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "share-backup: {what}: {}", p.status);
            }),
            Mode::Terminal => {
                let slot = self.bar.clone();
                ProgressSink::new(move |p: Progress| {
                    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
                    let bar = slot.get_or_insert_with(|| new_bar(what));
                    bar.set_position(u64::from(p.status.rank()));
                    bar.set_message(describe(p.status));
                    if p.done {
                        bar.finish_and_clear();
                        *slot = None;
                    }
                })
            }
        }
    }

    /// Prints the result of a command: `value` (with `event: result`) in
    /// JSON mode, `text` otherwise.
    pub fn result(&self, mut value: Value, text: &str) {
        self.clear_bar();
        match self.mode {
            Mode::Json => {
                if let Value::Object(m) = &mut value {
                    m.insert("event".into(), "result".into());
                    m.entry("ok").or_insert(true.into());
                }
                emit_json(&value);
            }
            _ => {
                if self.results_to_stderr {
                    let _ = writeln!(std::io::stderr().lock(), "{text}");
                } else {
                    let _ = writeln!(std::io::stdout().lock(), "{text}");
                }
            }
        }
    }

    /// A note for the person at the terminal (warnings); on stderr.
    pub fn note(&self, text: &str) {
        if self.mode == Mode::Json {
            emit_json(&json!({"event": "warning", "message": text}));
        } else if !self.quiet {
            self.clear_bar();
            let _ = writeln!(std::io::stderr().lock(), "share-backup: {text}");
        }
    }

    /// Reports an error: the one line on stderr, plus a JSON object in JSON mode.
    pub fn error(&self, e: &Error) -> u8 {
        self.clear_bar();
        let code = exit::code(e);
        if self.mode == Mode::Json {
            let mut v = json!({
                "event": "error",
                "ok": false,
                "kind": e.kind().name(),
                "message": e.message(),
                "hint": e.hint(),
                "retryable": e.retryable(),
                "exit_code": code,
            });
            if let Some(m) = e.method() {
                v["method"] = m.as_str().into();
            }
            if let Some(vs) = violations(e) {
                v["violations"] = vs;
            }
            if let Some(g) = e.guesses() {
                v["guesses_left"] = g.guesses_left.into();
                v["locked_out"] = g.locked_out.into();
            }
            emit_json(&v);
        }
        let _ = writeln!(std::io::stderr().lock(), "{}", exit::line(e, self.verbose));
        code
    }

    fn clear_bar(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// The password policy violations carried by an error, as JSON.
fn violations(e: &Error) -> Option<Value> {
    let v = e.source_ref()?.downcast_ref::<share_backup::providers::password::PolicyViolations>()?;
    Some(Value::Array(v.violations().iter().map(|x| json!({"code": x.code(), "message": x.to_string()})).collect()))
}

fn new_bar(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(u64::from(Status::Done.rank())), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {prefix}: [{bar:20}] {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Writes one JSON object as one line on stdout.
pub fn emit_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, v);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_description() {
        for s in [
            Status::Reading,
            Status::Generating,
            Status::DerivingKey,
            Status::UploadingKey,
            Status::Parsing,
            Status::FetchingKey,
            Status::Encrypting,
            Status::Verifying,
            Status::Storing,
            Status::Acknowledging,
            Status::Decrypting,
            Status::Done,
            Status::Failed,
        ] {
            assert_ne!(describe(s), "working", "{s}");
        }
    }

    #[test]
    fn policy_violations_are_listed_in_json_errors() {
        let e = share_backup::providers::password::Policy::pin().enforce("12", &[]).unwrap_err();
        let v = violations(&e).unwrap();
        assert_eq!(v[0]["code"], "too_short");
        assert!(v[0]["message"].as_str().unwrap().contains("at least 6"));
    }
}
