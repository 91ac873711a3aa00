//! Google's answers, classified.

use std::fmt;

use google_drive3::common;
use serde_json::Value;
use share_backup_core::{Error, ErrorKind};

use crate::METHOD;
use crate::header::Location;

/// What Google Drive (or the connection to it) answered, as carried in the
/// `source` of a share-backup [`Error`]: the HTTP status, Google's `reason`
/// (`rateLimitExceeded`, `insufficientPermissions`, ...) and message.
///
/// Never holds a token or key: Google's error bodies carry neither.
///
/// Reach it from a share-backup [`Error`] with [`DriveError::of`]:
///
/// ```
/// # fn handle(e: &share_backup_core::Error) {
/// use share_backup_gdrive::DriveError;
/// if let Some(regrant) = DriveError::of(e).and_then(DriveError::needs_regrant) {
///     // Send the user through Google's consent screen again for `regrant.scope`.
///     println!("re-grant {}", regrant.scope);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct DriveError {
    status: Option<u16>,
    reason: Option<String>,
    message: String,
    regrant: Option<Regrant>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The access token lacks the OAuth scope the operation needs: the app must
/// send the user through Google's consent screen again for [`Regrant::scope`]
/// (a new sign-in with the same scopes is not enough if the user unticked it).
///
/// Found with [`DriveError::needs_regrant`] or [`crate::needs_regrant`]; the
/// error's kind is [`ErrorKind::PermissionDenied`], like any other refusal,
/// so match on this, not on the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Regrant {
    /// The full scope URL to request: [`crate::SCOPE_APPDATA`] for the
    /// appDataFolder, [`crate::SCOPE_FILE`] for a visible folder.
    pub scope: &'static str,
}

impl Regrant {
    /// The scope's short name: `drive.appdata` or `drive.file`.
    pub fn scope_name(&self) -> &'static str {
        self.scope.rsplit('/').next().unwrap_or(self.scope)
    }
}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, &self.reason) {
            (Some(s), Some(r)) => write!(f, "Google Drive answered {s} {r}: {}", self.message),
            (Some(s), None) => write!(f, "Google Drive answered {s}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DriveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// How the provider reacts to an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Worth retrying after a delay, and what to report if retries run out.
    Transient(ErrorKind),
    /// The token was refused: refresh once.
    Unauthenticated,
    /// Final.
    Fatal(ErrorKind),
}

const SCOPE_REASONS: &[&str] = &["insufficientPermissions", "insufficientScopes", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"];

impl DriveError {
    /// The HTTP status Google answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Google's `reason` of the first error item, if given.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Google's message (or a description of the transport failure).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `Some` when Google refused because the access token lacks the scope
    /// the operation needs (403 `insufficientPermissions` and its variants):
    /// which scope the app must ask the user to grant again.
    pub fn needs_regrant(&self) -> Option<Regrant> {
        self.regrant
    }

    /// The `DriveError` behind a share-backup error from this provider, if
    /// Google (or the connection to it) caused it: a downcast of
    /// [`Error::source_ref`].
    pub fn of(e: &Error) -> Option<&DriveError> {
        e.source_ref().and_then(|s| s.downcast_ref::<DriveError>())
    }

    /// An answer with no source error and no re-grant (yet: `into_error`
    /// sets it).
    fn answer(status: Option<u16>, reason: Option<&str>, message: impl Into<String>) -> Self {
        DriveError { status, reason: reason.map(str::to_owned), message: message.into(), regrant: None, source: None }
    }

    pub(crate) fn transport(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::transport_boxed(message, Box::new(source))
    }

    pub(crate) fn transport_boxed(
        message: impl Into<String>,
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    ) -> Self {
        DriveError { source: Some(source), ..Self::answer(None, None, message) }
    }

    pub(crate) fn not_a_key_file() -> Self {
        Self::answer(Some(200), Some("notAKeyFile"), "the file is not a share-backup key file")
    }

    pub(crate) fn timeout() -> Self {
        Self::answer(None, None, "the request to Google Drive timed out")
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Self::answer(Some(200), None, message)
    }

    /// From a Google error body (`{"error": {"code", "message", "errors": [{"reason"}]}}`)
    /// and the HTTP status, when the body is JSON.
    pub(crate) fn from_body(status: Option<u16>, body: &Value) -> Self {
        let err = body.get("error");
        let code = err.and_then(|e| e.get("code")).and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok());
        let message = err
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(|m| truncate(m, 300))
            .unwrap_or_else(|| "no message".into());
        let reason = err
            .and_then(|e| e.get("errors"))
            .and_then(|e| e.get(0))
            .and_then(|e| e.get("reason"))
            .and_then(Value::as_str)
            .or_else(|| {
                // Newer bodies carry the reason in an ErrorInfo detail.
                err.and_then(|e| e.get("details"))
                    .and_then(Value::as_array)
                    .and_then(|d| d.iter().find_map(|x| x.get("reason").and_then(Value::as_str)))
            })
            .map(|r| truncate(r, 64));
        Self::answer(status.or(code), reason.as_deref(), message)
    }

    pub(crate) fn from_status(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.get("error").is_some() => Self::from_body(Some(status), &v),
            _ => Self::answer(Some(status), None, format!("a non-JSON body of {} bytes", body.len())),
        }
    }

    /// Classifies a google-drive3 error.
    pub(crate) fn from_common(e: common::Error) -> Self {
        match e {
            common::Error::HttpError(err) => {
                let msg = if err.is_connect() {
                    "could not connect to Google Drive"
                } else {
                    "the connection to Google Drive failed"
                };
                DriveError::transport(msg, err)
            }
            common::Error::BadRequest(v) => DriveError::from_body(None, &v),
            common::Error::Failure(resp) => Self::answer(Some(resp.status().as_u16()), None, "a non-JSON error body"),
            common::Error::MissingToken(err) => {
                Self::answer(None, Some("missingToken"), format!("no access token: {err}"))
            }
            common::Error::JsonDecodeError(_, err) => {
                // The body may echo data; keep only the decoder's message.
                DriveError::protocol(format!("Google Drive sent a response that does not decode: {err}"))
            }
            common::Error::Io(err) => DriveError::transport("reading Google Drive's response failed", err),
            other => Self::answer(None, Some("client"), other.to_string()),
        }
    }

    pub(crate) fn class(&self) -> Class {
        let reason = self.reason.as_deref().unwrap_or("");
        match self.status {
            None if reason == "missingToken" => Class::Fatal(ErrorKind::Unauthenticated),
            None if reason == "client" => Class::Fatal(ErrorKind::Internal),
            None => Class::Transient(ErrorKind::Unavailable),
            Some(401) => Class::Unauthenticated,
            Some(403) if reason == "rateLimitExceeded" || reason == "userRateLimitExceeded" => {
                Class::Transient(ErrorKind::RateLimited)
            }
            Some(429) => Class::Transient(ErrorKind::RateLimited),
            // Exactly the statuses Google documents as retryable for Drive; 408
            // is not among them (Google's front end does not send it for the
            // API), so it is final like any other 4xx.
            Some(500 | 502 | 503 | 504) => Class::Transient(ErrorKind::Unavailable),
            Some(403) if SCOPE_REASONS.contains(&reason) => Class::Fatal(ErrorKind::PermissionDenied),
            Some(403) if reason == "storageQuotaExceeded" => Class::Fatal(ErrorKind::Unavailable),
            Some(403) => Class::Fatal(ErrorKind::PermissionDenied),
            Some(404 | 410) => Class::Fatal(ErrorKind::NotFound),
            Some(409 | 412) => Class::Fatal(ErrorKind::Conflict),
            Some(408) => Class::Fatal(ErrorKind::Cancelled),
            Some(405 | 501) => Class::Fatal(ErrorKind::Unsupported),
            // Every other client error: the request was wrong (a bug or a bad setting).
            Some(400..=499) => Class::Fatal(ErrorKind::InvalidInput),
            Some(200) if reason == "notAKeyFile" => Class::Fatal(ErrorKind::Integrity),
            // A success that does not decode, or another server error: Drive's side.
            Some(_) => Class::Fatal(ErrorKind::Unavailable),
        }
    }

    /// The share-backup error for this answer, after `attempts` tries of `op`
    /// on a key file in `location` (whose scope the hints name). `client_id`
    /// is the app's OAuth client, named in the re-grant hint when known.
    pub(crate) fn into_error(mut self, op: &str, attempts: u32, location: Location, client_id: Option<&str>) -> Error {
        let scope_name = crate::scope_name(location);
        let tries = if attempts > 1 { format!(" after {attempts} attempts") } else { String::new() };
        let reason = self.reason.clone().unwrap_or_default();
        let answer = match (self.status, reason.as_str()) {
            (None, _) => "no answer".to_owned(),
            (Some(s), "") => s.to_string(),
            (Some(s), r) => format!("{s} {r}"),
        };
        let class = self.class();
        if class == Class::Fatal(ErrorKind::PermissionDenied) && SCOPE_REASONS.contains(&reason.as_str()) {
            self.regrant = Some(Regrant { scope: crate::scope_of(location) });
        }
        let client = client_id.map(|c| format!(" for OAuth client {c}")).unwrap_or_default();
        let (kind, msg, hint, retryable): (ErrorKind, String, Option<String>, Option<bool>) = match class {
            Class::Transient(kind @ ErrorKind::RateLimited) => (
                kind,
                format!("Google Drive kept rate-limiting {op}{tries}"),
                Some("wait a minute and retry; Drive limits requests per user and per project".into()),
                None,
            ),
            Class::Transient(kind) => (kind, format!("Google Drive was unavailable for {op}{tries}"), None, None),
            Class::Unauthenticated => (
                ErrorKind::Unauthenticated,
                format!("Google Drive refused the access token for {op}{tries}"),
                Some(format!(
                    "sign the user in to Google again and pass a fresh access token with the {scope_name} scope"
                )),
                None,
            ),
            Class::Fatal(ErrorKind::PermissionDenied) if SCOPE_REASONS.contains(&reason.as_str()) => (
                ErrorKind::PermissionDenied,
                format!("the Google access token lacks the {scope_name} scope needed for {op}"),
                Some(format!(
                    "ask the user to grant the https://www.googleapis.com/auth/{scope_name} scope again{client} (re-consent; DriveError::needs_regrant says which), then retry"
                )),
                None,
            ),
            Class::Fatal(ErrorKind::Unavailable) if reason == "storageQuotaExceeded" => (
                ErrorKind::Unavailable,
                format!("the user's Google Drive is full, so {op} failed"),
                Some("ask the user to free space in Google Drive (or buy storage), then retry".into()),
                Some(false),
            ),
            Class::Fatal(ErrorKind::PermissionDenied) => (
                ErrorKind::PermissionDenied,
                format!("Google Drive refused {op}"),
                Some("check the app's Drive API access and the user's permissions, then retry".into()),
                None,
            ),
            Class::Fatal(ErrorKind::NotFound) => {
                (ErrorKind::NotFound, format!("Google Drive has no such file ({op})"), None, None)
            }
            Class::Fatal(ErrorKind::Unauthenticated) => (
                ErrorKind::Unauthenticated,
                format!("no Google access token for {op}"),
                Some(format!("sign the user in to Google and pass an access token with the {scope_name} scope")),
                None,
            ),
            Class::Fatal(ErrorKind::InvalidInput) => (
                ErrorKind::InvalidInput,
                format!("Google Drive refused {op} as a bad request ({answer})"),
                Some("check the provider's settings (folder name, endpoint); if they are right, report a bug".into()),
                None,
            ),
            Class::Fatal(ErrorKind::Integrity) => (
                ErrorKind::Integrity,
                format!("the key file in the user's Google Drive was altered or replaced ({op})"),
                Some("this backup cannot be recovered from that file; make a new backup".into()),
                None,
            ),
            Class::Fatal(kind @ ErrorKind::Conflict) => (
                kind,
                format!("Google Drive refused {op}: a precondition failed ({answer})"),
                Some(
                    "this provider makes no conditional requests, so this is unexpected; retry once, then report it"
                        .into(),
                ),
                Some(false),
            ),
            Class::Fatal(kind @ ErrorKind::Cancelled) => (
                kind,
                format!("Google Drive timed out {op} on its side ({answer})"),
                Some("retry later; nothing was stored".into()),
                Some(false),
            ),
            Class::Fatal(kind @ ErrorKind::Unsupported) => (
                kind,
                format!("Google Drive does not allow {op} ({answer})"),
                Some("this is a bug in the provider or a change in the Drive API; report it".into()),
                Some(false),
            ),
            Class::Fatal(kind) => (kind, format!("Google Drive failed {op} ({answer})"), None, Some(false)),
        };
        let mut e = Error::new(kind, msg).with_method(METHOD.clone()).with_source(self);
        if let Some(h) = hint {
            e = e.with_hint(h);
        }
        if let Some(r) = retryable {
            e = e.with_retryable(r);
        }
        e
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(code: u16, reason: &str) -> DriveError {
        DriveError::from_body(
            None,
            &json!({"error": {"code": code, "message": "m", "errors": [{"reason": reason, "domain": "usageLimits", "message": "m"}]}}),
        )
    }

    #[test]
    fn classifies_google_answers_as_documented() {
        assert_eq!(body(429, "rateLimitExceeded").class(), Class::Transient(ErrorKind::RateLimited));
        assert_eq!(body(403, "rateLimitExceeded").class(), Class::Transient(ErrorKind::RateLimited));
        assert_eq!(body(403, "userRateLimitExceeded").class(), Class::Transient(ErrorKind::RateLimited));
        for s in [500, 502, 503, 504] {
            assert_eq!(DriveError::from_status(s, b"<html>").class(), Class::Transient(ErrorKind::Unavailable), "{s}");
        }
        assert_eq!(body(401, "authError").class(), Class::Unauthenticated);
        assert_eq!(body(403, "insufficientPermissions").class(), Class::Fatal(ErrorKind::PermissionDenied));
        assert_eq!(body(403, "storageQuotaExceeded").class(), Class::Fatal(ErrorKind::Unavailable));
        assert_eq!(body(404, "notFound").class(), Class::Fatal(ErrorKind::NotFound));
        assert_eq!(body(400, "invalid").class(), Class::Fatal(ErrorKind::InvalidInput));
        assert_eq!(body(403, "forbidden").class(), Class::Fatal(ErrorKind::PermissionDenied));
        assert_eq!(body(409, "conflict").class(), Class::Fatal(ErrorKind::Conflict));
        assert_eq!(body(412, "conditionNotMet").class(), Class::Fatal(ErrorKind::Conflict));
        assert_eq!(body(408, "requestTimeout").class(), Class::Fatal(ErrorKind::Cancelled));
        for s in [411, 413, 414, 415, 422, 451] {
            assert_eq!(DriveError::from_status(s, b"").class(), Class::Fatal(ErrorKind::InvalidInput), "{s}");
        }
        assert_eq!(DriveError::from_status(501, b"").class(), Class::Fatal(ErrorKind::Unsupported));
    }

    #[test]
    fn only_the_documented_statuses_are_transient() {
        for s in 100..600u16 {
            let transient = matches!(DriveError::from_status(s, b"").class(), Class::Transient(_));
            assert_eq!(transient, [429, 500, 502, 503, 504].contains(&s), "{s}");
        }
    }

    #[test]
    fn scope_errors_tell_the_app_to_regrant() {
        let e = body(403, "insufficientPermissions").into_error("the key upload", 1, Location::AppData, None);
        assert_eq!(e.kind(), &ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("drive.appdata"), "{e}");
        assert!(e.hint().contains("grant"), "{}", e.hint());
        assert!(!e.retryable());
        let src = DriveError::of(&e).unwrap();
        assert_eq!((src.status(), src.reason()), (Some(403), Some("insufficientPermissions")));
        assert_eq!(src.needs_regrant(), Some(Regrant { scope: crate::SCOPE_APPDATA }));
        assert_eq!(src.needs_regrant().unwrap().scope_name(), "drive.appdata");
        let e = body(403, "insufficientScopes").into_error(
            "x",
            1,
            Location::Folder,
            Some("1-a.apps.googleusercontent.com"),
        );
        assert_eq!(DriveError::of(&e).and_then(DriveError::needs_regrant).map(|r| r.scope), Some(crate::SCOPE_FILE));
        assert!(e.hint().contains("1-a.apps.googleusercontent.com"), "{}", e.hint());
    }

    #[test]
    fn other_refusals_need_no_regrant() {
        for (code, reason) in
            [(403, "forbidden"), (403, "domainPolicy"), (403, "storageQuotaExceeded"), (401, "authError")]
        {
            let e = body(code, reason).into_error("x", 1, Location::AppData, None);
            assert_eq!(DriveError::of(&e).unwrap().needs_regrant(), None, "{code} {reason}");
        }
    }

    #[test]
    fn odd_bodies_do_not_panic() {
        for v in [json!(null), json!({"error": 3}), json!({"error": {"code": "x", "errors": []}}), json!([1])] {
            let _ = DriveError::from_body(Some(500), &v).class();
        }
        assert_eq!(truncate("ééé", 3), "é...");
    }
}
