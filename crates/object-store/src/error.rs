//! Mapping `object_store` errors to share-backup's typed kinds.

use share_backup_core::{Error, ErrorKind};

/// Errors of this crate's own making, carried as the `source` of a core
/// [`Error`] (downcast with [`Error::source_ref`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An object under the store's prefix is not in the format this crate writes.
    #[error("object {path} is not a well-formed {what}")]
    Malformed {
        /// The object's path (hashed user id; never the user id).
        path: String,
        /// What it should have been.
        what: &'static str,
    },
    /// The current pointer names a version whose envelope is gone.
    #[error("commit record {path} names a version that no longer exists")]
    DanglingCommit {
        /// The commit record's path.
        path: String,
    },
}

/// Whether an `object_store` error is worth retrying: the network, a 5xx, a
/// throttled request once the backend's own retries ran out.
///
/// A backend that fails with share-backup's own [`Error`] as the source of
/// a `Generic` error (an app-implemented store, through the FFI) decides
/// itself: its `retryable` flag.
pub(crate) fn is_transient(e: &object_store::Error) -> bool {
    match e {
        object_store::Error::Generic { source, .. } => source.downcast_ref::<Error>().is_none_or(Error::retryable),
        object_store::Error::JoinError { .. } => true,
        _ => false,
    }
}

/// Turns an `object_store` error into share-backup's [`Error`], with a
/// message that says which operation on which store failed.
///
/// A `Generic` error whose source is share-backup's own [`Error`] (a
/// backend that speaks share-backup's kinds: an app-implemented store
/// through the FFI) is returned as that error, so its kind, message and
/// `retryable` flag reach the caller unchanged.
pub(crate) fn map_object_store_error(e: object_store::Error, what: impl Into<String>, store: &str) -> Error {
    use object_store::Error as E;
    let e = match e {
        E::Generic { store: s, source } => match source.downcast::<Error>() {
            Ok(own) => return *own,
            Err(source) => E::Generic { store: s, source },
        },
        other => other,
    };
    let what = what.into();
    let (kind, message, hint): (ErrorKind, String, Option<&'static str>) = match &e {
        E::NotFound { .. } => (ErrorKind::NotFound, format!("{what}: not found in {store}"), None),
        E::AlreadyExists { .. } | E::Precondition { .. } => {
            (ErrorKind::Conflict, format!("{what}: another writer got there first in {store}"), None)
        }
        E::PermissionDenied { .. } => (
            ErrorKind::PermissionDenied,
            format!("{what}: {store} refused the request"),
            Some("grant the store's credentials read, write, list and delete on the prefix, then retry"),
        ),
        E::Unauthenticated { .. } => (
            ErrorKind::Unauthenticated,
            format!("{what}: {store} did not accept the credentials"),
            Some("check the store's credentials (options or environment), then retry"),
        ),
        E::NotSupported { .. } | E::NotImplemented { .. } => (
            ErrorKind::Unsupported,
            format!("{what}: {store} does not support a required operation (create-only writes)"),
            Some("use a backend with conditional puts: local files, memory, S3, Azure Blob or GCS"),
        ),
        E::UnknownConfigurationKey { .. } => {
            (ErrorKind::InvalidInput, format!("{what}: unknown option for {store}"), None)
        }
        E::InvalidPath { .. } => (ErrorKind::InvalidInput, format!("{what}: invalid path in {store}"), None),
        E::NotModified { .. } => (ErrorKind::Internal, format!("{what}: unexpected not-modified from {store}"), None),
        _ => (
            ErrorKind::Unavailable,
            format!("{what}: {store} failed or is unreachable"),
            Some("retry later; check that the store is reachable"),
        ),
    };
    let mut err = Error::new(kind, message).with_source(e);
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err
}

/// A malformed-object error.
pub(crate) fn malformed(path: &object_store::path::Path, what: &'static str, store: &str) -> Error {
    Error::new(ErrorKind::Internal, format!("{store} holds an object this crate did not write as a {what}"))
        .with_hint("something else writes under the store's prefix; give share-backup a prefix of its own")
        .with_source(StoreError::Malformed { path: path.to_string(), what })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(s: &str) -> Box<dyn std::error::Error + Send + Sync> {
        s.to_owned().into()
    }

    #[test]
    fn backend_errors_map_to_typed_kinds() {
        let cases: Vec<(object_store::Error, ErrorKind, bool)> = vec![
            (object_store::Error::NotFound { path: "p".into(), source: boxed("x") }, ErrorKind::NotFound, false),
            (object_store::Error::AlreadyExists { path: "p".into(), source: boxed("x") }, ErrorKind::Conflict, true),
            (object_store::Error::Precondition { path: "p".into(), source: boxed("x") }, ErrorKind::Conflict, true),
            (
                object_store::Error::PermissionDenied { path: "p".into(), source: boxed("x") },
                ErrorKind::PermissionDenied,
                false,
            ),
            (
                object_store::Error::Unauthenticated { path: "p".into(), source: boxed("x") },
                ErrorKind::Unauthenticated,
                false,
            ),
            (object_store::Error::NotSupported { source: boxed("x") }, ErrorKind::Unsupported, false),
            (object_store::Error::Generic { store: "S3", source: boxed("503") }, ErrorKind::Unavailable, true),
        ];
        for (e, kind, retryable) in cases {
            let transient = is_transient(&e);
            let mapped = map_object_store_error(e, "read the current version", "memory://");
            assert_eq!(mapped.kind(), &kind);
            assert_eq!(mapped.retryable(), retryable, "{kind:?}");
            assert_eq!(transient, kind == ErrorKind::Unavailable);
            assert!(mapped.message().starts_with("read the current version: "), "{}", mapped.message());
            assert!(mapped.source_ref().is_some());
        }
    }

    #[test]
    fn a_backends_own_share_backup_error_keeps_its_kind_message_and_retryable_flag() {
        let cases = [
            (ErrorKind::PermissionDenied, false),
            (ErrorKind::NotFound, false),
            (ErrorKind::Integrity, false),
            (ErrorKind::Unauthenticated, false),
            (ErrorKind::Unavailable, true),
            // An app may say a normally retryable kind is not worth retrying.
            (ErrorKind::RateLimited, false),
        ];
        for (kind, retryable) in cases {
            let own =
                Error::new(kind.clone(), "the app's store (put): the exchange API said no").with_retryable(retryable);
            let e = object_store::Error::Generic { store: "app key-value store", source: Box::new(own) };
            assert_eq!(is_transient(&e), retryable, "{kind:?}");
            let mapped = map_object_store_error(e, "stage a version", "app key-value store");
            assert_eq!(mapped.kind(), &kind);
            assert_eq!(mapped.retryable(), retryable, "{kind:?}");
            assert_eq!(mapped.message(), "the app's store (put): the exchange API said no");
        }
    }
}
