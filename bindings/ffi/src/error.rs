//! The one exception type of the bindings, and the typed kinds it carries.

use std::fmt;

use share_backup_core::{Error as CoreError, ErrorKind as CoreKind};
use share_backup_password::{PolicyViolations, Violation};

/// What went wrong, as a value the app can switch on: one case per kind of
/// the Rust core's `ErrorKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ErrorKind {
    /// An argument, a setting or a config was malformed or missing.
    InvalidInput,
    /// A password, PIN or passcode breaks the requirements (see `violations`).
    PolicyViolation,
    /// The cipher text is not a well-formed envelope of a version we read.
    InvalidEnvelope,
    /// The envelope does not authenticate (tampered with, other user or key).
    Integrity,
    /// The user's secret (password, PIN, ...) is wrong.
    WrongSecret,
    /// The backup, the key or the user does not exist.
    NotFound,
    /// Credentials are missing, expired or refused.
    Unauthenticated,
    /// Credentials lack a permission or scope.
    PermissionDenied,
    /// The service asked us to slow down.
    RateLimited,
    /// The service or the store is unreachable or failed; retrying may help.
    Unavailable,
    /// The envelope asks for more KDF work than the cap (see `required_work`, `max_work`).
    ExcessiveWork,
    /// The provider or the store cannot do this.
    Unsupported,
    /// Another backup or rotation of the same user is running.
    InProgress,
    /// A conditional write lost a race.
    Conflict,
    /// No provider has the requested method id.
    UnknownMethod,
    /// No provider of the default chain is available.
    NoDefaultProvider,
    /// Two providers register the same method id.
    DuplicateRegistration,
    /// The operation was cancelled or timed out.
    Cancelled,
    /// A bug or broken invariant (in share-backup, a provider, or an app callback).
    Internal,
}

impl ErrorKind {
    /// The core kind for this kind (`ExcessiveWork` with the given figures).
    pub(crate) fn to_core(self, required: u64, max: u64) -> CoreKind {
        match self {
            ErrorKind::InvalidInput => CoreKind::InvalidInput,
            ErrorKind::PolicyViolation => CoreKind::PolicyViolation,
            ErrorKind::InvalidEnvelope => CoreKind::InvalidEnvelope,
            ErrorKind::Integrity => CoreKind::Integrity,
            ErrorKind::WrongSecret => CoreKind::WrongSecret,
            ErrorKind::NotFound => CoreKind::NotFound,
            ErrorKind::Unauthenticated => CoreKind::Unauthenticated,
            ErrorKind::PermissionDenied => CoreKind::PermissionDenied,
            ErrorKind::RateLimited => CoreKind::RateLimited,
            ErrorKind::Unavailable => CoreKind::Unavailable,
            ErrorKind::ExcessiveWork => CoreKind::ExcessiveWork { required, max },
            ErrorKind::Unsupported => CoreKind::Unsupported,
            ErrorKind::InProgress => CoreKind::InProgress,
            ErrorKind::Conflict => CoreKind::Conflict,
            ErrorKind::UnknownMethod => CoreKind::UnknownMethod,
            ErrorKind::NoDefaultProvider => CoreKind::NoDefaultProvider,
            ErrorKind::DuplicateRegistration => CoreKind::DuplicateRegistration,
            ErrorKind::Cancelled => CoreKind::Cancelled,
            ErrorKind::Internal => CoreKind::Internal,
        }
    }

    /// This kind for a core kind (the core's enum is non-exhaustive: a kind
    /// added later maps to `Internal` until the bindings learn it).
    pub(crate) fn from_core(kind: &CoreKind) -> Self {
        match kind {
            CoreKind::InvalidInput => ErrorKind::InvalidInput,
            CoreKind::PolicyViolation => ErrorKind::PolicyViolation,
            CoreKind::InvalidEnvelope => ErrorKind::InvalidEnvelope,
            CoreKind::Integrity => ErrorKind::Integrity,
            CoreKind::WrongSecret => ErrorKind::WrongSecret,
            CoreKind::NotFound => ErrorKind::NotFound,
            CoreKind::Unauthenticated => ErrorKind::Unauthenticated,
            CoreKind::PermissionDenied => ErrorKind::PermissionDenied,
            CoreKind::RateLimited => ErrorKind::RateLimited,
            CoreKind::Unavailable => ErrorKind::Unavailable,
            CoreKind::ExcessiveWork { .. } => ErrorKind::ExcessiveWork,
            CoreKind::Unsupported => ErrorKind::Unsupported,
            CoreKind::InProgress => ErrorKind::InProgress,
            CoreKind::Conflict => ErrorKind::Conflict,
            CoreKind::UnknownMethod => ErrorKind::UnknownMethod,
            CoreKind::NoDefaultProvider => ErrorKind::NoDefaultProvider,
            CoreKind::DuplicateRegistration => ErrorKind::DuplicateRegistration,
            CoreKind::Cancelled => ErrorKind::Cancelled,
            _ => ErrorKind::Internal,
        }
    }
}

/// A character class of a password (for the violations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum CharClass {
    /// `a`-`z` and other lower-case letters.
    Lower,
    /// `A`-`Z` and other upper-case letters.
    Upper,
    /// `0`-`9` and other digits.
    Digit,
    /// Punctuation and symbols.
    Symbol,
    /// Spaces.
    Space,
    /// Anything else (letters without case, emoji, ...).
    Other,
}

impl CharClass {
    fn from_core(c: share_backup_password::CharClass) -> Self {
        use share_backup_password::CharClass as C;
        match c {
            C::Lower => CharClass::Lower,
            C::Upper => CharClass::Upper,
            C::Digit => CharClass::Digit,
            C::Symbol => CharClass::Symbol,
            C::Space => CharClass::Space,
            _ => CharClass::Other,
        }
    }
}

/// One broken password requirement, typed.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ViolationKind {
    /// Nothing was typed.
    Empty,
    /// A character no password may contain (a control character, a line break).
    InvalidCharacter,
    /// Fewer characters than required.
    TooShort {
        /// The minimum, in characters.
        min: u32,
        /// The length typed, in characters.
        actual: u32,
    },
    /// More characters than allowed.
    TooLong {
        /// The maximum, in characters.
        max: u32,
        /// The length typed, in characters.
        actual: u32,
    },
    /// A character of a class the policy does not allow.
    DisallowedClass {
        /// The class found.
        class: CharClass,
        /// The classes allowed.
        allowed: Vec<CharClass>,
    },
    /// No character of a class the policy requires.
    MissingClass {
        /// The class missing.
        class: CharClass,
    },
    /// On the blocklist of common choices.
    Common,
    /// A short run repeated (`000000`, `121212`).
    Repeated,
    /// A sequence (`123456`, `abcdef`).
    Sequential,
    /// Contains the user's own id.
    ContainsUserId,
    /// Too easy to guess by zxcvbn's estimate.
    TooGuessable {
        /// zxcvbn's score, 0 to 4.
        score: u8,
        /// The minimum score.
        min: u8,
        /// zxcvbn's warning (a generic sentence, never the text).
        warning: Option<String>,
    },
    /// A violation this version of the bindings does not know yet (see `code`).
    Unknown,
}

/// One broken password requirement: a stable `code` to localize by, a
/// sentence a UI can show, and the typed details. Never contains the
/// password or any character of it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PasswordViolation {
    /// A stable snake-case name (`too_short`, `common`, ...).
    pub code: String,
    /// A sentence for the UI.
    pub message: String,
    /// The typed details.
    pub kind: ViolationKind,
}

fn n(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl From<&Violation> for PasswordViolation {
    fn from(v: &Violation) -> Self {
        let kind = match v {
            Violation::Empty => ViolationKind::Empty,
            Violation::InvalidCharacter => ViolationKind::InvalidCharacter,
            Violation::TooShort { min, actual } => ViolationKind::TooShort { min: n(*min), actual: n(*actual) },
            Violation::TooLong { max, actual } => ViolationKind::TooLong { max: n(*max), actual: n(*actual) },
            Violation::DisallowedClass { class, allowed } => ViolationKind::DisallowedClass {
                class: CharClass::from_core(*class),
                allowed: allowed.iter().map(CharClass::from_core).collect(),
            },
            Violation::MissingClass { class } => ViolationKind::MissingClass { class: CharClass::from_core(*class) },
            Violation::Common => ViolationKind::Common,
            Violation::Repeated => ViolationKind::Repeated,
            Violation::Sequential => ViolationKind::Sequential,
            Violation::ContainsUserId => ViolationKind::ContainsUserId,
            Violation::TooGuessable { score, min, warning } => {
                ViolationKind::TooGuessable { score: *score, min: *min, warning: warning.clone() }
            }
            _ => ViolationKind::Unknown,
        };
        PasswordViolation { code: v.code().to_owned(), message: v.to_string(), kind }
    }
}

/// The one exception of share-backup's bindings (`ShareBackupException` in
/// Kotlin and Swift, `ShareBackupError.Failed` in Python).
///
/// Apps throw it from their callbacks too, with the kind that fits
/// (`Unavailable` when their server is down, `NotFound`, ...); any other
/// exception a callback throws arrives in Rust as an `Internal` error.
/// Messages never carry secrets (passwords, shares, keys, tokens).
#[derive(Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ShareBackupError {
    /// An operation failed.
    #[error("{message}")]
    Failed {
        /// What went wrong.
        kind: ErrorKind,
        /// What happened and what to do about it.
        message: String,
        /// Whether retrying the same call later can succeed.
        retryable: bool,
        /// The method it came from, if any.
        method: Option<String>,
        /// For `PolicyViolation`: every broken requirement.
        violations: Vec<PasswordViolation>,
        /// For `ExcessiveWork`: the work the envelope asks for.
        required_work: Option<u64>,
        /// For `ExcessiveWork`: the most this process accepts.
        max_work: Option<u64>,
    },
}

impl fmt::Debug for ShareBackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ShareBackupError::Failed { kind, message, retryable, method, violations, required_work, max_work } = self;
        f.debug_struct("ShareBackupError")
            .field("kind", kind)
            .field("message", message)
            .field("retryable", retryable)
            .field("method", method)
            .field("violations", &violations.iter().map(|v| v.code.as_str()).collect::<Vec<_>>())
            .field("required_work", required_work)
            .field("max_work", max_work)
            .finish()
    }
}

impl ShareBackupError {
    /// An error of `kind` with a message (not retryable unless the kind is).
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let retryable = kind.to_core(0, 0).retryable();
        ShareBackupError::Failed {
            kind,
            message: message.into(),
            retryable,
            method: None,
            violations: Vec::new(),
            required_work: None,
            max_work: None,
        }
    }

    /// An `InvalidInput` error.
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        let ShareBackupError::Failed { kind, .. } = self;
        *kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        let ShareBackupError::Failed { message, .. } = self;
        message
    }

    /// The core error for an error an app callback threw, so the framework
    /// treats it like its own (retries `Unavailable`, stops on others).
    pub(crate) fn into_core(self, what: &str) -> CoreError {
        let ShareBackupError::Failed { kind, message, retryable, method, required_work, max_work, .. } = self;
        let core_kind = kind.to_core(required_work.unwrap_or(0), max_work.unwrap_or(0));
        let mut e = CoreError::new(core_kind, format!("{what}: {message}")).with_retryable(retryable);
        if let Some(m) = method.and_then(|m| share_backup_core::MethodId::new(&m).ok()) {
            e = e.with_method(m);
        }
        e
    }
}

impl From<CoreError> for ShareBackupError {
    fn from(e: CoreError) -> Self {
        Self::from(&e)
    }
}

impl From<&CoreError> for ShareBackupError {
    fn from(e: &CoreError) -> Self {
        let (required_work, max_work) = match e.kind() {
            CoreKind::ExcessiveWork { required, max } => (Some(*required), Some(*max)),
            _ => (None, None),
        };
        let violations =
            policy_violations(e).map(|v| v.violations().iter().map(Into::into).collect()).unwrap_or_default();
        ShareBackupError::Failed {
            kind: ErrorKind::from_core(e.kind()),
            // `{:#}` is the message, the hint and the causes; none of them
            // carries a secret (the core's contract, tested there and here).
            message: format!("{e:#}"),
            retryable: e.retryable(),
            method: e.method().map(|m| m.as_str().to_owned()),
            violations,
            required_work,
            max_work,
        }
    }
}

/// The policy violations of a `PolicyViolation` error, wherever in its
/// source chain they are.
fn policy_violations(e: &CoreError) -> Option<&PolicyViolations> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.source_ref().map(|s| s as _);
    while let Some(s) = cur {
        if let Some(v) = s.downcast_ref::<PolicyViolations>() {
            return Some(v);
        }
        if let Some(inner) = s.downcast_ref::<CoreError>() {
            cur = inner.source_ref().map(|s| s as _);
            continue;
        }
        cur = s.source();
    }
    None
}

/// An exception of another type thrown by an app's callback.
impl From<uniffi::UnexpectedUniFFICallbackError> for ShareBackupError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ShareBackupError::new(
            ErrorKind::Internal,
            format!(
                "an app callback threw an unexpected exception ({}); throw ShareBackupError with a kind instead",
                e.reason
            ),
        )
    }
}
