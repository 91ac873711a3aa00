//! Progress reported as `{status, done}`, as Portal's SDK does.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// A step of a backup or a recovery.
///
/// A **backup** passes, in this order, through (steps a provider does not
/// have are skipped): [`Reading`](Status::Reading) (the share),
/// [`Generating`](Status::Generating) or [`DerivingKey`](Status::DerivingKey)
/// (the data key), [`UploadingKey`](Status::UploadingKey) (remote providers),
/// [`Encrypting`](Status::Encrypting), [`Verifying`](Status::Verifying),
/// [`Storing`](Status::Storing), [`Acknowledging`](Status::Acknowledging),
/// then [`Done`](Status::Done).
///
/// A **recovery** passes through [`Reading`](Status::Reading) (the cipher
/// text), [`Parsing`](Status::Parsing), [`DerivingKey`](Status::DerivingKey)
/// or [`FetchingKey`](Status::FetchingKey), [`Decrypting`](Status::Decrypting),
/// then [`Done`](Status::Done).
///
/// A failed operation ends with [`Failed`](Status::Failed). The last event
/// of every operation has `done = true`, and only the last.
///
/// **Order.** The variants are declared in that one order, so the derived
/// `Ord` is the order of the steps; [`Status::rank`] numbers the same
/// order, giving alternatives of one step the same rank (`Generating`,
/// `DerivingKey` and `FetchingKey`; `Done` and `Failed`). For any two
/// statuses, `a.rank() < b.rank()` implies `a < b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Reading the share (backup) or fetching the cipher text (recovery).
    Reading,
    /// Parsing the cipher text.
    Parsing,
    /// Generating a random data key.
    Generating,
    /// Deriving the data key from the user's secret.
    DerivingKey,
    /// Fetching the data key from the provider.
    FetchingKey,
    /// Storing the data key with the provider (e.g. in the user's Drive).
    UploadingKey,
    /// Sealing the share into an envelope.
    Encrypting,
    /// Opening the envelope.
    Decrypting,
    /// Opening the new envelope again before anything is acknowledged.
    Verifying,
    /// Handing the cipher text to the cipher-text store.
    Storing,
    /// Telling the wallet service the outcome (`stored_client_backup_share`).
    Acknowledging,
    /// Finished successfully.
    Done,
    /// Finished with an error.
    Failed,
}

impl Status {
    /// Portal-style lower-case name (`"reading"`, `"deriving_key"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Reading => "reading",
            Status::Generating => "generating",
            Status::DerivingKey => "deriving_key",
            Status::UploadingKey => "uploading_key",
            Status::Parsing => "parsing",
            Status::FetchingKey => "fetching_key",
            Status::Encrypting => "encrypting",
            Status::Verifying => "verifying",
            Status::Storing => "storing",
            Status::Acknowledging => "acknowledging",
            Status::Decrypting => "decrypting",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }

    /// Position of this step in the one order that backups and recoveries
    /// both follow (a backup skips `Parsing` and `Decrypting`, a recovery
    /// skips `Generating`, `UploadingKey`, `Encrypting`, `Verifying`,
    /// `Storing` and `Acknowledging`).
    pub fn rank(&self) -> u8 {
        match self {
            Status::Reading => 0,
            Status::Parsing => 1,
            Status::Generating | Status::DerivingKey | Status::FetchingKey => 2,
            Status::UploadingKey => 3,
            Status::Encrypting => 4,
            Status::Decrypting => 5,
            Status::Verifying => 6,
            Status::Storing => 7,
            Status::Acknowledging => 8,
            Status::Done | Status::Failed => 9,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One progress event: `{status, done}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The step now running (or the outcome, when `done`).
    pub status: Status,
    /// True on the last event of the operation, and only there.
    pub done: bool,
}

type Callback = dyn Fn(Progress) + Send + Sync;

/// Where progress events go: a callback, or nowhere.
///
/// Cheap to clone. Once an event with `done = true` went through a sink,
/// it forwards nothing more, so "the last event has `done = true`" holds
/// even if a late step reports. Events with a status that would go
/// backwards are dropped, so the callback sees them in order.
#[derive(Clone, Default)]
pub struct ProgressSink {
    inner: Option<Arc<SinkInner>>,
}

struct SinkInner {
    callback: Box<Callback>,
    state: Mutex<SinkState>,
}

#[derive(Default)]
struct SinkState {
    last: Option<Status>,
    finished: bool,
    dropped: u64,
}

impl ProgressSink {
    /// A sink that drops every event.
    pub fn none() -> Self {
        ProgressSink { inner: None }
    }

    /// A sink that calls `f` for each event, in order, from the task that
    /// reports it. Keep `f` quick; it must not block.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressSink {
            inner: Some(Arc::new(SinkInner { callback: Box::new(f), state: Mutex::new(SinkState::default()) })),
        }
    }

    /// A sink that records every event, and the record to read them from
    /// (for tests and for UIs that poll).
    pub fn recording() -> (Self, Arc<Mutex<Vec<Progress>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        (ProgressSink::new(move |p| l.lock().unwrap_or_else(|e| e.into_inner()).push(p)), log)
    }

    /// Reports that `status` started (`done = false`).
    pub fn report(&self, status: Status) {
        self.emit(Progress { status, done: false });
    }

    /// Reports the end of the operation (`Done` or `Failed`, `done = true`).
    /// Only the first call has an effect.
    pub fn finish(&self, ok: bool) {
        self.emit(Progress { status: if ok { Status::Done } else { Status::Failed }, done: true });
    }

    /// Whether [`Self::finish`] was called.
    pub fn is_finished(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.state.lock().unwrap_or_else(|e| e.into_inner()).finished)
    }

    /// How many events this sink refused so far: steps that went backwards
    /// or repeated, and events after the final one. The callback never sees
    /// them; a non-zero count means some component reported out of order
    /// (the conformance suite requires 0 from every provider). Always 0 for
    /// [`ProgressSink::none`].
    pub fn dropped(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.state.lock().unwrap_or_else(|e| e.into_inner()).dropped)
    }

    fn emit(&self, p: Progress) {
        let Some(inner) = &self.inner else { return };
        {
            let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.finished || (!p.done && st.last.is_some_and(|last| p.status.rank() <= last.rank())) {
                st.dropped += 1;
                return;
            }
            st.last = Some(p.status);
            st.finished = p.done;
        }
        (inner.callback)(p);
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.inner.is_some() { "ProgressSink(callback)" } else { "ProgressSink(none)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_after_done_are_dropped() {
        let (sink, log) = ProgressSink::recording();
        sink.report(Status::Reading);
        sink.finish(false);
        sink.report(Status::Storing);
        sink.finish(true);
        let log = log.lock().unwrap();
        assert_eq!(
            *log,
            vec![Progress { status: Status::Reading, done: false }, Progress { status: Status::Failed, done: true }]
        );
        assert!(sink.is_finished());
        assert_eq!(sink.dropped(), 2, "the Storing and the second finish after done");
    }

    #[test]
    fn backwards_and_repeated_steps_are_dropped() {
        let (sink, log) = ProgressSink::recording();
        sink.report(Status::Reading);
        sink.report(Status::DerivingKey);
        sink.report(Status::DerivingKey);
        sink.report(Status::Encrypting);
        sink.report(Status::Generating);
        sink.finish(true);
        let statuses: Vec<_> = log.lock().unwrap().iter().map(|p| p.status).collect();
        assert_eq!(statuses, vec![Status::Reading, Status::DerivingKey, Status::Encrypting, Status::Done]);
        assert_eq!(sink.dropped(), 2, "the repeated DerivingKey and the backwards Generating");
        assert_eq!(ProgressSink::none().dropped(), 0);
    }

    /// Every status, in declaration order. The match in `rank_of` below has
    /// no wildcard, so a new status does not compile until it is placed.
    const ALL: &[Status] = &[
        Status::Reading,
        Status::Parsing,
        Status::Generating,
        Status::DerivingKey,
        Status::FetchingKey,
        Status::UploadingKey,
        Status::Encrypting,
        Status::Decrypting,
        Status::Verifying,
        Status::Storing,
        Status::Acknowledging,
        Status::Done,
        Status::Failed,
    ];

    fn placed(s: Status) -> bool {
        match s {
            Status::Reading
            | Status::Parsing
            | Status::Generating
            | Status::DerivingKey
            | Status::FetchingKey
            | Status::UploadingKey
            | Status::Encrypting
            | Status::Decrypting
            | Status::Verifying
            | Status::Storing
            | Status::Acknowledging
            | Status::Done
            | Status::Failed => ALL.contains(&s),
        }
    }

    #[test]
    fn ord_and_rank_agree_on_every_pair() {
        assert!(ALL.iter().all(|s| placed(*s)));
        assert!(ALL.windows(2).all(|w| w[0] < w[1]), "ALL is in declaration order");
        for a in ALL {
            for b in ALL {
                if a.rank() < b.rank() {
                    assert!(a < b, "{a} ranks before {b} but sorts after it");
                }
                if a < b {
                    assert!(a.rank() <= b.rank(), "{a} sorts before {b} but ranks after it");
                }
            }
        }
    }

    #[test]
    fn documented_backup_and_recovery_sequences_are_increasing() {
        use Status::*;
        let backups: &[&[Status]] = &[
            &[Reading, Generating, UploadingKey, Encrypting, Verifying, Storing, Acknowledging, Done],
            &[Reading, DerivingKey, Encrypting, Verifying, Storing, Acknowledging, Done],
            &[Reading, Generating, Encrypting, Failed],
        ];
        let recoveries: &[&[Status]] = &[
            &[Reading, Parsing, DerivingKey, Decrypting, Done],
            &[Reading, Parsing, FetchingKey, Decrypting, Done],
            &[Reading, Parsing, Failed],
        ];
        for seq in backups.iter().chain(recoveries) {
            assert!(seq.windows(2).all(|w| w[0] < w[1] && w[0].rank() < w[1].rank()), "{seq:?}");
            // The sink lets each documented sequence through unchanged.
            let (sink, log) = ProgressSink::recording();
            let (last, steps) = seq.split_last().unwrap();
            for s in steps {
                sink.report(*s);
            }
            sink.finish(*last == Done);
            let got: Vec<_> = log.lock().unwrap().iter().map(|p| p.status).collect();
            assert_eq!(&got, seq);
        }
        assert!(Parsing < DerivingKey && Parsing < Generating, "recovery parses before it derives");
    }

    #[test]
    fn serializes_like_portal() {
        let p = Progress { status: Status::Encrypting, done: false };
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"status":"encrypting","done":false}"#);
    }
}
