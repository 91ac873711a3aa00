//! The one error type of share-backup, with a typed kind.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use crate::method::MethodId;
use crate::registry::RegistryError;

/// What went wrong, as a value a program can match on.
///
/// Every kind comes with a default hint that says what to do
/// ([`ErrorKind::hint`]); [`Error`]'s `Display` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument, a setting or a config was malformed or missing.
    InvalidInput,
    /// A password, PIN or passcode breaks the integrator's requirements.
    PolicyViolation,
    /// The cipher text is not a well-formed envelope of a version we read.
    InvalidEnvelope,
    /// The envelope is well-formed but does not authenticate: tampered with,
    /// opened for another user or method, or opened with another key.
    Integrity,
    /// The user's secret (password, PIN, ...) is wrong.
    WrongSecret,
    /// The backup, the key or the user does not exist.
    NotFound,
    /// The credentials (access token, API key) are missing, expired or refused.
    Unauthenticated,
    /// The credentials are valid but lack a permission or scope.
    PermissionDenied,
    /// The service asked us to slow down.
    RateLimited,
    /// The service or the store is unreachable or failed; retrying may help.
    Unavailable,
    /// The envelope asks for more work (KDF cost) than the configured cap.
    ExcessiveWork {
        /// The work the envelope asks for, in the provider's unit.
        required: u64,
        /// The most this process accepts, in the same unit.
        max: u64,
    },
    /// The provider or the store cannot do this.
    Unsupported,
    /// Another backup or rotation of the same user is running.
    InProgress,
    /// A conditional write lost a race or a precondition failed.
    Conflict,
    /// No linked provider has the requested method id.
    /// [`Error::registry_details`] gives the id and the available ones
    /// ([`RegistryError::UnknownMethod`]).
    UnknownMethod,
    /// No provider of the default chain is linked.
    /// [`Error::registry_details`] gives the chain and the available ids
    /// ([`RegistryError::NoDefaultProvider`]).
    NoDefaultProvider,
    /// Two linked crates register the same method id.
    /// [`Error::registry_details`] names both crates with their versions
    /// ([`RegistryError::DuplicateRegistration`]).
    DuplicateRegistration,
    /// The operation was cancelled or timed out.
    Cancelled,
    /// A bug or broken invariant inside share-backup or a provider.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same call later can succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Conflict | ErrorKind::InProgress)
    }

    /// A short, stable, snake-case name for logs, metrics and `--json` output.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::PolicyViolation => "policy_violation",
            ErrorKind::InvalidEnvelope => "invalid_envelope",
            ErrorKind::Integrity => "integrity",
            ErrorKind::WrongSecret => "wrong_secret",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::ExcessiveWork { .. } => "excessive_work",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InProgress => "in_progress",
            ErrorKind::Conflict => "conflict",
            ErrorKind::UnknownMethod => "unknown_method",
            ErrorKind::NoDefaultProvider => "no_default_provider",
            ErrorKind::DuplicateRegistration => "duplicate_registration",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }

    /// What the caller should do about an error of this kind.
    pub fn hint(&self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "fix the input and try again",
            ErrorKind::PolicyViolation => "choose a secret that meets the requirements",
            ErrorKind::InvalidEnvelope => {
                "the stored cipher text is damaged or from a newer version; restore it from the store unchanged, or upgrade share-backup"
            }
            ErrorKind::Integrity => {
                "the cipher text was altered or belongs to another user or method; fetch the right one from the store"
            }
            ErrorKind::WrongSecret => "check the password and try again; without it the backup cannot be recovered",
            ErrorKind::NotFound => "check the user and method, or make a new backup",
            ErrorKind::Unauthenticated => "sign the user in again to get a fresh credential, then retry",
            ErrorKind::PermissionDenied => "grant the missing permission or scope, then retry",
            ErrorKind::RateLimited => "wait a little and retry",
            ErrorKind::Unavailable => "retry later; nothing was acknowledged",
            ErrorKind::ExcessiveWork { .. } => {
                "refuse this envelope, or raise the cost cap only if you trust where it came from"
            }
            ErrorKind::Unsupported => "use a method or store that supports this operation",
            ErrorKind::InProgress => "wait for the running backup of this user to finish, then retry",
            ErrorKind::Conflict => "another writer got there first; re-read the current state and retry",
            ErrorKind::UnknownMethod => "link the provider crate (a cargo feature) or pick an available method",
            ErrorKind::NoDefaultProvider => {
                "pass a method explicitly, link a provider of the default chain, or configure the chain"
            }
            ErrorKind::DuplicateRegistration => "link only one crate per method id",
            ErrorKind::Cancelled => {
                "the operation was stopped before it finished and the previous backup is unchanged; start it again if it should complete (it is not retried automatically)"
            }
            ErrorKind::Internal => "this is a bug; please report it with the log",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::ExcessiveWork { required, max } => {
                write!(f, "excessive_work (required {required}, max {max})")
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The error of every share-backup operation.
///
/// It carries a typed [`ErrorKind`], a message written for the person who
/// reads the log, the method it came from, whether retrying helps, and the
/// underlying cause as [`std::error::Error::source`]. Messages never contain
/// secrets: no password, share or key bytes.
///
/// Errors of the registry also carry their ids as values:
/// [`Error::registry_details`] returns a [`RegistryError`] (the requested
/// and the available ids, the default chain, the two crates of a duplicate).
///
/// `Display` prints `method: message; hint`; `{:#}` adds the causes.
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    method: Option<MethodId>,
    retryable: Option<bool>,
    // Rarely set, so boxed: keeps `Result<T, Error>` small.
    extra: Option<Box<Extra>>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

#[derive(Default)]
struct Extra {
    hint: Option<Cow<'static, str>>,
    registry: Option<RegistryError>,
    guesses: Option<GuessDetails>,
}

/// Typed details of a wrong secret at a guess-limited method (guarded PIN):
/// how many guesses are left, and whether this one used the last and the
/// backup was erased (a lock-out: it can never be recovered).
///
/// ```
/// use share_backup_core::{Error, ErrorKind, GuessDetails};
/// let e = Error::new(ErrorKind::WrongSecret, "wrong PIN").with_guesses(GuessDetails::new(3, false));
/// assert_eq!(e.guesses().map(|g| g.guesses_left), Some(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuessDetails {
    /// Wrong guesses that can still be made before the backup is erased.
    pub guesses_left: u32,
    /// The last guess was used: the backup is erased for good.
    pub locked_out: bool,
}

impl GuessDetails {
    /// Details with `guesses_left` and `locked_out`.
    pub const fn new(guesses_left: u32, locked_out: bool) -> Self {
        GuessDetails { guesses_left, locked_out }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error { kind, message: message.into(), method: None, retryable: None, extra: None, source: None }
    }

    /// Attaches the method the error came from.
    pub fn with_method(mut self, method: MethodId) -> Self {
        self.method = Some(method);
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Overrides whether a retry can help (the kind's default otherwise).
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = Some(retryable);
        self
    }

    /// Replaces the kind's default hint with a more specific one.
    pub fn with_hint(mut self, hint: impl Into<Cow<'static, str>>) -> Self {
        self.extra.get_or_insert_with(Box::default).hint = Some(hint.into());
        self
    }

    /// The typed kind.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The message, without method, hint or causes.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The method this error came from, where known.
    pub fn method(&self) -> Option<&MethodId> {
        self.method.as_ref()
    }

    /// What to do about it.
    pub fn hint(&self) -> &str {
        self.extra.as_ref().and_then(|x| x.hint.as_deref()).unwrap_or_else(|| self.kind.hint())
    }

    /// Whether retrying the same call later can succeed.
    pub fn retryable(&self) -> bool {
        self.retryable.unwrap_or_else(|| self.kind.retryable())
    }

    /// The typed details of an error made by the registry (unknown method,
    /// no default provider, duplicate or malformed registration); `None`
    /// for every other error.
    pub fn registry_details(&self) -> Option<&RegistryError> {
        self.extra.as_ref().and_then(|x| x.registry.as_ref())
    }

    /// Attaches the guesses left of a guess-limited method.
    pub fn with_guesses(mut self, details: GuessDetails) -> Self {
        self.extra.get_or_insert_with(Box::default).guesses = Some(details);
        self
    }

    /// The guesses left (and lock-out) of a wrong secret at a guess-limited
    /// method; `None` for every other error.
    pub fn guesses(&self) -> Option<GuessDetails> {
        self.extra.as_ref().and_then(|x| x.guesses)
    }

    pub(crate) fn with_registry_details(mut self, details: RegistryError) -> Self {
        self.extra.get_or_insert_with(Box::default).registry = Some(details);
        self
    }

    /// The cause, for downcasting to a provider's own error type.
    pub fn source_ref(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::InvalidEnvelope`] error.
    pub fn invalid_envelope(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::InvalidEnvelope, message)
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for an [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for an [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.method {
            write!(f, "{m}: ")?;
        }
        write!(f, "{}; {}", self.message, self.hint())?;
        if f.alternate() {
            let mut cause = self.source.as_deref().map(|s| s as &(dyn StdError + 'static));
            while let Some(c) = cause {
                write!(f, "\n  caused by: {c}")?;
                cause = c.source();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(m) = &self.method {
            d.field("method", &m.as_str());
        }
        d.field("message", &self.message);
        d.field("retryable", &self.retryable());
        if let Some(r) = self.registry_details() {
            d.field("registry", r);
        }
        if let Some(g) = self.guesses() {
            d.field("guesses", &g);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_method_and_says_what_to_do() {
        let e = Error::new(ErrorKind::WrongSecret, "the password does not open this backup")
            .with_method(MethodId::PASSWORD);
        let s = e.to_string();
        assert!(s.starts_with("password: the password does not open this backup; "), "{s}");
        assert!(s.contains("check the password"), "{s}");
        assert!(!e.retryable());
    }

    #[test]
    fn alternate_display_lists_the_causes() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::new(ErrorKind::Unavailable, "store write failed").with_source(io);
        assert!(e.retryable());
        assert!(format!("{e:#}").contains("caused by: disk on fire"));
        assert!(!format!("{e}").contains("disk on fire"));
        assert!(format!("{e:?}").contains("disk on fire"));
    }

    /// Every kind, with whether it is retryable and a phrase its hint must
    /// contain. The match has no wildcard: a new kind does not compile until
    /// it has a row here (add it to `ALL` too).
    fn expected(kind: &ErrorKind) -> (bool, &'static str) {
        match kind {
            ErrorKind::InvalidInput => (false, "fix the input"),
            ErrorKind::PolicyViolation => (false, "meets the requirements"),
            ErrorKind::InvalidEnvelope => (false, "upgrade share-backup"),
            ErrorKind::Integrity => (false, "fetch the right one"),
            ErrorKind::WrongSecret => (false, "check the password"),
            ErrorKind::NotFound => (false, "make a new backup"),
            ErrorKind::Unauthenticated => (false, "sign the user in again"),
            ErrorKind::PermissionDenied => (false, "grant the missing permission"),
            ErrorKind::RateLimited => (true, "wait a little and retry"),
            ErrorKind::Unavailable => (true, "retry later"),
            ErrorKind::ExcessiveWork { .. } => (false, "refuse this envelope"),
            ErrorKind::Unsupported => (false, "supports this operation"),
            ErrorKind::InProgress => (true, "then retry"),
            ErrorKind::Conflict => (true, "re-read the current state and retry"),
            ErrorKind::UnknownMethod => (false, "link the provider crate"),
            ErrorKind::NoDefaultProvider => (false, "configure the chain"),
            ErrorKind::DuplicateRegistration => (false, "only one crate per method id"),
            ErrorKind::Cancelled => (false, "not retried automatically"),
            ErrorKind::Internal => (false, "this is a bug"),
        }
    }

    const ALL: &[ErrorKind] = &[
        ErrorKind::InvalidInput,
        ErrorKind::PolicyViolation,
        ErrorKind::InvalidEnvelope,
        ErrorKind::Integrity,
        ErrorKind::WrongSecret,
        ErrorKind::NotFound,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::RateLimited,
        ErrorKind::Unavailable,
        ErrorKind::ExcessiveWork { required: 2, max: 1 },
        ErrorKind::Unsupported,
        ErrorKind::InProgress,
        ErrorKind::Conflict,
        ErrorKind::UnknownMethod,
        ErrorKind::NoDefaultProvider,
        ErrorKind::DuplicateRegistration,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
    ];

    #[test]
    fn every_kind_has_a_decided_retryability_and_a_hint_that_agrees() {
        let mut names = std::collections::BTreeSet::new();
        for kind in ALL {
            let (retryable, phrase) = expected(kind);
            assert_eq!(kind.retryable(), retryable, "{kind:?}");
            assert!(kind.hint().contains(phrase), "{kind:?}: {:?} lacks {phrase:?}", kind.hint());
            // A kind that is not retried must not tell the caller to just retry.
            if !retryable {
                assert!(!kind.hint().starts_with("retry"), "{kind:?}: {:?}", kind.hint());
            }
            let e = Error::new(kind.clone(), "m");
            assert_eq!(e.retryable(), retryable, "{kind:?}");
            assert_eq!(e.hint(), kind.hint());
            assert!(names.insert(kind.name()), "{kind:?} shares its name");
        }
    }

    #[test]
    fn retryable_can_be_overridden() {
        let e = Error::new(ErrorKind::Unavailable, "quota exhausted for good").with_retryable(false);
        assert!(!e.retryable());
        assert_eq!(ErrorKind::ExcessiveWork { required: 9, max: 3 }.to_string(), "excessive_work (required 9, max 3)");
    }
}
