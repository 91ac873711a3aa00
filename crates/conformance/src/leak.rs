//! Finding secrets in text: the forms a secret takes when someone prints
//! it (raw, hex, base64, `Debug` of a byte slice), and a tracing
//! subscriber that keeps every event and span field as text.
//!
//! The suite's `no_secret_in_debug` case uses these; they are public so that
//! any test (a provider's, a store's, an application's) can prove the same:
//!
//! ```
//! use share_backup_conformance::leak::{Capture, Needles};
//! let capture = Capture::default();
//! tracing::subscriber::with_default(capture.clone(), || {
//!     tracing::info!(user = "u1", "sealed");
//! });
//! let mut needles = Needles::new();
//! needles.add_text("the password", "correct horse battery");
//! needles.add_bytes("the data key", &[0x5a; 64]);
//! assert_eq!(needles.find(&capture.text()), None);
//! assert_eq!(needles.find("pw=correct horse battery"), Some("the password in clear"));
//! ```

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};

/// Secrets and the printed forms they could leak in.
#[derive(Default)]
pub struct Needles {
    forms: Vec<(String, String)>,
}

/// Window, in bytes, of a binary secret looked for on its own: a `Debug`
/// that prints a prefix of the key (`5a5a5a5a…`) still leaks.
const WINDOW: usize = 12;

impl Needles {
    /// No secret yet.
    pub fn new() -> Self {
        Needles { forms: Vec::new() }
    }

    /// A binary secret (share, key): the whole of it and every aligned
    /// 12-byte window, as hex (both cases), base64 (four alphabets) and
    /// the `Debug` of a byte slice.
    pub fn add_bytes(&mut self, what: &str, bytes: &[u8]) {
        let mut chunks: Vec<&[u8]> = vec![bytes];
        if bytes.len() > WINDOW {
            // Windows at offsets that are multiples of 3 stay aligned in base64.
            let mut i = 0;
            while i + WINDOW <= bytes.len() {
                chunks.push(&bytes[i..i + WINDOW]);
                i += 3;
            }
        }
        for (n, c) in chunks.into_iter().enumerate() {
            let part = if n == 0 { what.to_owned() } else { format!("{what} (12-byte window)") };
            self.forms.push((format!("{part} as lower-case hex"), hex::encode(c)));
            self.forms.push((format!("{part} as upper-case hex"), hex::encode_upper(c)));
            let b64 = [STANDARD.encode(c), STANDARD_NO_PAD.encode(c), URL_SAFE.encode(c), URL_SAFE_NO_PAD.encode(c)];
            for e in b64 {
                let e = if n == 0 { e } else { e.trim_end_matches('=').chars().take(16).collect() };
                self.forms.push((format!("{part} as base64"), e));
            }
            let list = format!("{c:?}");
            self.forms.push((format!("{part} as a Debug byte list"), list.trim_matches(['[', ']']).to_owned()));
            if let Ok(s) = std::str::from_utf8(c) {
                if s.len() >= 8 {
                    self.forms.push((format!("{part} as text"), s.to_owned()));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        self.forms.retain(|(_, n)| seen.insert(n.clone()));
    }

    /// A textual secret (password, token): the text itself, its hex and base64.
    pub fn add_text(&mut self, what: &str, text: &str) {
        if text.is_empty() {
            return;
        }
        self.forms.push((format!("{what} in clear"), text.to_owned()));
        self.forms.push((format!("{what} as hex"), hex::encode(text)));
        self.forms.push((format!("{what} as base64"), STANDARD_NO_PAD.encode(text)));
        self.forms.push((format!("{what} as base64url"), URL_SAFE_NO_PAD.encode(text)));
    }

    /// The first form found in `haystack`, described.
    pub fn find(&self, haystack: &str) -> Option<&str> {
        self.forms.iter().find(|(_, n)| !n.is_empty() && haystack.contains(n.as_str())).map(|(w, _)| w.as_str())
    }

    /// The first form found in binary `haystack` (a key header).
    pub fn find_in_bytes(&self, haystack: &[u8]) -> Option<&str> {
        self.forms
            .iter()
            .find(|(_, n)| !n.is_empty() && haystack.windows(n.len()).any(|w| w == n.as_bytes()))
            .map(|(w, _)| w.as_str())
    }
}

/// A subscriber that keeps every span field and event field, at every
/// level, as text, and remembers where each came from (the span's name or
/// the event's target, and the field's name), so that a leak can be named.
///
/// Used with [`tracing::instrument::WithSubscriber::with_subscriber`] it
/// sees what the instrumented future emits on its own task. Threads of
/// their own that a provider uses (`tokio::task::spawn_blocking`,
/// `tokio::spawn`, `std::thread::spawn`) do not inherit that subscriber;
/// [`Capture::everywhere`] adds what they emit as well.
#[derive(Clone, Default)]
pub struct Capture {
    lines: Arc<Mutex<Vec<Line>>>,
    next_id: Arc<AtomicU64>,
}

/// One span, record or event: where it came from, and its fields.
#[derive(Clone, Debug)]
struct Line {
    origin: String,
    fields: Vec<(String, String)>,
}

impl Capture {
    /// Everything recorded so far, one line per span, record and event.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut t = String::new();
        for l in lines.iter() {
            t.push_str(&l.origin);
            for (k, v) in &l.fields {
                if k.is_empty() {
                    let _ = write!(t, " {v}");
                } else {
                    let _ = write!(t, " {k}={v}");
                }
            }
            t.push('\n');
        }
        t
    }

    /// Adds a line of text of the caller's (an error it formatted, a panic
    /// message), so that one search covers it too.
    pub fn push(&self, s: &str) {
        self.add(Line { origin: "text".to_owned(), fields: vec![(String::new(), s.to_owned())] });
    }

    fn add(&self, line: Line) {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// The first secret of `needles` found in what was recorded, and where:
    /// `"the tracing event of target `my_provider::keys` (DEBUG), field
    /// `master_key`, shows the master key as lower-case hex"`.
    ///
    /// ```
    /// use share_backup_conformance::leak::{Capture, Needles};
    /// let capture = Capture::default();
    /// tracing::subscriber::with_default(capture.clone(), || {
    ///     tracing::debug!(target: "my_provider", token = "tok-hunter2-hunter2", "calling");
    /// });
    /// let mut needles = Needles::new();
    /// needles.add_text("the API token", "tok-hunter2-hunter2");
    /// let found = capture.find(&needles).unwrap();
    /// assert!(found.contains("target `my_provider`") && found.contains("field `token`"), "{found}");
    /// ```
    pub fn find(&self, needles: &Needles) -> Option<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        for l in lines.iter() {
            for (k, v) in &l.fields {
                if let Some(form) = needles.find(v) {
                    let field = if k.is_empty() { String::new() } else { format!(", field `{k}`,") };
                    return Some(format!("{}{field} shows {form}", l.origin));
                }
            }
        }
        None
    }

    /// Also records, until the returned guard is dropped, every span and
    /// event of threads that have no subscriber of their own: the blocking
    /// pool (`spawn_blocking`), runtime workers running other tasks, plain
    /// threads. The first call installs a process-wide dispatcher that
    /// forwards to every capture listening at the time (it only formats
    /// fields while one listens); [`Everywhere::covers_other_threads`] says
    /// whether that worked: it cannot when the process already set a global
    /// subscriber of its own (`tracing_subscriber::fmt().init()` and the
    /// like), and calling `set_global_default` later in the same process
    /// fails (the suite's dispatcher holds the place).
    ///
    /// Captures that listen at the same time each see the others' threads:
    /// look for values unique to one test (a backup id, a fresh key), as the
    /// suite does.
    pub fn everywhere(&self) -> Everywhere {
        let covers = install_router();
        let id = NEXT_LISTENER.fetch_add(1, Ordering::Relaxed);
        LISTENERS.lock().unwrap_or_else(|e| e.into_inner()).push((id, self.clone()));
        LISTENING.fetch_add(1, Ordering::SeqCst);
        Everywhere { id, covers }
    }
}

/// While it lives, its [`Capture`] also records other threads' tracing
/// (see [`Capture::everywhere`]).
#[must_use = "the capture listens only while the guard lives"]
#[derive(Debug)]
pub struct Everywhere {
    id: u64,
    covers: bool,
}

impl Everywhere {
    /// Whether the process-wide dispatcher is the suite's, so that threads
    /// without a subscriber of their own are captured.
    pub fn covers_other_threads(&self) -> bool {
        self.covers
    }
}

impl Drop for Everywhere {
    fn drop(&mut self) {
        LISTENERS.lock().unwrap_or_else(|e| e.into_inner()).retain(|(id, _)| *id != self.id);
        LISTENING.fetch_sub(1, Ordering::SeqCst);
    }
}

static LISTENERS: Mutex<Vec<(u64, Capture)>> = Mutex::new(Vec::new());
static LISTENING: AtomicUsize = AtomicUsize::new(0);
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(1);
static NEXT_SPAN: AtomicU64 = AtomicU64::new(1);
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn install_router() -> bool {
    *INSTALLED.get_or_init(|| tracing::dispatcher::set_global_default(router()).is_ok())
}

/// The dispatcher that forwards to every listening [`Capture`]: the
/// process-wide default (when the suite could install it) and the default
/// of every thread of the suite's runtime.
pub(crate) fn router() -> Dispatch {
    Dispatch::new(Router)
}

/// Forwards each span and event to the captures listening at the time.
struct Router;

impl Router {
    fn broadcast(line: Line) {
        let listeners = LISTENERS.lock().unwrap_or_else(|e| e.into_inner());
        for (_, c) in listeners.iter() {
            c.add(line.clone());
        }
    }
}

impl Subscriber for Router {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        LISTENING.load(Ordering::Relaxed) > 0
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut f = Fields(Vec::new());
        span.record(&mut f);
        Self::broadcast(Line { origin: span_origin(span.metadata()), fields: f.0 });
        Id::from_u64(NEXT_SPAN.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut f = Fields(Vec::new());
        values.record(&mut f);
        Self::broadcast(Line { origin: "a span's recorded value".to_owned(), fields: f.0 });
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields(Vec::new());
        event.record(&mut f);
        Self::broadcast(Line { origin: event_origin(event.metadata()), fields: f.0 });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn span_origin(m: &Metadata<'_>) -> String {
    format!("the tracing span `{}` of target `{}` ({})", m.name(), m.target(), m.level())
}

fn event_origin(m: &Metadata<'_>) -> String {
    format!("the tracing event of target `{}` ({})", m.target(), m.level())
}

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut f = Fields(Vec::new());
        span.record(&mut f);
        self.add(Line { origin: span_origin(span.metadata()), fields: f.0 });
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut f = Fields(Vec::new());
        values.record(&mut f);
        self.add(Line { origin: "a span's recorded value".to_owned(), fields: f.0 });
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields(Vec::new());
        event.record(&mut f);
        self.add(Line { origin: event_origin(event.metadata()), fields: f.0 });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_printed_form_of_a_key_and_nothing_in_unrelated_text() {
        let key: Vec<u8> = (0u8..64).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
        let mut n = Needles::new();
        n.add_bytes("the data key", &key);
        assert!(n.find(&format!("key={}", hex::encode(&key))).is_some());
        assert!(n.find(&format!("key={}", hex::encode_upper(&key[20..40]))).is_some());
        assert!(n.find(&format!("{:?}", &key[..])).is_some());
        assert!(n.find(&URL_SAFE_NO_PAD.encode(&key)).is_some());
        assert!(n.find(&STANDARD.encode(&key[3..30])).is_some(), "an aligned part in base64");
        assert!(n.find("DataKey([REDACTED]) KeyHeader(17 bytes)").is_none());
    }

    #[test]
    fn finds_a_password_in_clear_and_encoded() {
        let mut n = Needles::new();
        n.add_text("the password", "correct horse battery");
        assert_eq!(n.find("pw=correct horse battery"), Some("the password in clear"));
        assert!(n.find(&hex::encode("correct horse battery")).is_some());
        assert!(n.find_in_bytes(b"\x01correct horse battery\x00").is_some());
        assert!(n.find("nothing here").is_none());
    }

    #[test]
    fn capture_records_event_and_span_fields() {
        let cap = Capture::default();
        tracing::subscriber::with_default(cap.clone(), || {
            let span = tracing::info_span!("seal_key", user = "u1");
            let _g = span.enter();
            tracing::trace!(secret = "hunter2-hunter2", "deep inside");
        });
        let t = cap.text();
        assert!(t.contains("user=u1"), "{t}");
        assert!(t.contains("hunter2-hunter2"), "{t}");
    }

    #[test]
    fn find_names_the_target_and_the_field_of_a_leaking_event() {
        let cap = Capture::default();
        tracing::subscriber::with_default(cap.clone(), || {
            let span = tracing::info_span!("seal_key", user = "u1");
            let _g = span.enter();
            tracing::debug!(target: "vault::wrap", master = "mk-0123456789abcdef", "wrapping");
        });
        let mut n = Needles::new();
        n.add_text("the master key", "mk-0123456789abcdef");
        assert_eq!(
            cap.find(&n).as_deref(),
            Some("the tracing event of target `vault::wrap` (DEBUG), field `master`, shows the master key in clear")
        );
        let mut other = Needles::new();
        other.add_text("another secret", "nowhere-to-be-seen");
        assert_eq!(cap.find(&other), None);
    }

    #[test]
    fn everywhere_records_events_of_a_plain_thread_while_the_guard_lives() {
        let cap = Capture::default();
        let guard = cap.everywhere();
        assert!(guard.covers_other_threads(), "no other global subscriber in this test binary");
        std::thread::spawn(|| tracing::warn!(target: "elsewhere", marker = "thread-7f3a", "from a thread"))
            .join()
            .unwrap();
        drop(guard);
        std::thread::spawn(|| tracing::warn!(marker = "after-9c1b", "after the guard")).join().unwrap();
        let t = cap.text();
        assert!(t.contains("thread-7f3a") && t.contains("target `elsewhere`"), "{t}");
        assert!(!t.contains("after-9c1b"), "{t}");
    }
}
