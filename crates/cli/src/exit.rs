//! Exit codes: one per kind of failure a script may want to tell apart.

use share_backup::{Error, ErrorKind};

/// Success.
pub const OK: u8 = 0;
/// Any failure not listed below (a bug, an unsupported operation).
pub const OTHER: u8 = 1;
/// Bad usage: a malformed argument, setting or config, an unknown method.
pub const USAGE: u8 = 2;
/// The password (or another user secret) is wrong.
pub const WRONG_SECRET: u8 = 3;
/// The new password breaks the requirements.
pub const POLICY: u8 = 4;
/// No such backup, key or user.
pub const NOT_FOUND: u8 = 5;
/// Credentials missing, expired, refused or lacking a permission.
pub const AUTH: u8 = 6;
/// Temporarily unavailable, rate limited, raced by another writer or busy: retry later.
pub const RETRY: u8 = 7;
/// The stored cipher text is damaged, altered, of another user, or asks for too much work.
pub const DAMAGED: u8 = 8;
/// Interrupted (Ctrl-C).
pub const INTERRUPTED: u8 = 130;

/// The exit code for an error.
pub fn code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::InvalidInput | ErrorKind::UnknownMethod | ErrorKind::NoDefaultProvider => USAGE,
        ErrorKind::WrongSecret => WRONG_SECRET,
        ErrorKind::PolicyViolation => POLICY,
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => AUTH,
        ErrorKind::Unavailable
        | ErrorKind::RateLimited
        | ErrorKind::Conflict
        | ErrorKind::InProgress
        | ErrorKind::Cancelled => RETRY,
        ErrorKind::InvalidEnvelope | ErrorKind::Integrity | ErrorKind::ExcessiveWork { .. } => DAMAGED,
        _ => OTHER,
    }
}

/// The one line printed on stderr: `share-backup: <method>: <what>; <what to do>`.
/// Causes are added with `-v`.
pub fn line(e: &Error, verbose: bool) -> String {
    let text = if verbose { format!("{e:#}") } else { e.to_string() };
    format!("share-backup: error: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_a_script_must_tell_apart_has_its_own_code() {
        let k = |kind| code(&Error::new(kind, "x"));
        assert_eq!(k(ErrorKind::WrongSecret), WRONG_SECRET);
        assert_eq!(k(ErrorKind::PolicyViolation), POLICY);
        assert_eq!(k(ErrorKind::NotFound), NOT_FOUND);
        assert_eq!(k(ErrorKind::Unauthenticated), AUTH);
        assert_eq!(k(ErrorKind::PermissionDenied), AUTH);
        assert_eq!(k(ErrorKind::Unavailable), RETRY);
        assert_eq!(k(ErrorKind::InProgress), RETRY);
        assert_eq!(k(ErrorKind::Integrity), DAMAGED);
        assert_eq!(k(ErrorKind::ExcessiveWork { required: 2, max: 1 }), DAMAGED);
        assert_eq!(k(ErrorKind::UnknownMethod), USAGE);
        assert_eq!(k(ErrorKind::Internal), OTHER);
    }

    #[test]
    fn the_error_line_says_what_to_do() {
        let l = line(&Error::new(ErrorKind::NotFound, "user alice has no backup"), false);
        assert!(l.starts_with("share-backup: error: user alice has no backup; "), "{l}");
        assert!(l.contains("make a new backup"), "{l}");
        assert!(!l.contains('\n'));
    }
}
