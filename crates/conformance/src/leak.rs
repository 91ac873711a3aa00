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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

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

/// A subscriber that writes every span field and event field, at every
/// level, into one text buffer.
#[derive(Clone, Default)]
pub struct Capture {
    text: Arc<Mutex<String>>,
    next_id: Arc<AtomicU64>,
}

impl Capture {
    /// Everything recorded so far, one line per span, record and event.
    pub fn text(&self) -> String {
        self.text.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds a line of text of the caller's (an error it formatted, a panic
    /// message), so that one search covers it too.
    pub fn push(&self, s: &str) {
        let mut t = self.text.lock().unwrap_or_else(|e| e.into_inner());
        t.push_str(s);
        t.push('\n');
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut f = Fields(format!("span {}", span.metadata().name()));
        span.record(&mut f);
        self.push(&f.0);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut f = Fields("record".to_owned());
        values.record(&mut f);
        self.push(&f.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields(format!("event {}", event.metadata().target()));
        event.record(&mut f);
        self.push(&f.0);
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
}
