//! The notifiers the tool can use: a JSON-lines log file (the default) or
//! Portal's client API.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::json;
use share_backup::orchestrator::Notifier;
use share_backup::portal::{DEFAULT_BASE_URL, PortalNotifier};
use share_backup::{BackupId, Error, ErrorKind, MethodId, Result, UserId};

use crate::cli::NotifierKind;
use crate::input::secret_from_env;

/// The environment variable with Portal's API base URL.
pub const PORTAL_URL_ENV: &str = "PORTAL_API_URL";
/// The environment variable with the Portal client API key.
pub const PORTAL_KEY_ENV: &str = "PORTAL_CLIENT_API_KEY";

/// Records each `stored_client_backup_share` call as one JSON line in a
/// file: `{"time":…,"user":…,"method":…,"backup_method":"PASSWORD","backup_id":…,"success":true}`.
///
/// Each line is written with one `write` on a file opened for appending and
/// flushed to disk before the call returns, so an acknowledgement that
/// returned is on disk. Repeating a call (the orchestrator retries) adds a
/// line, which is harmless for a log.
#[derive(Debug, Clone)]
pub struct LogNotifier {
    path: PathBuf,
    lock: Arc<Mutex<()>>,
}

impl LogNotifier {
    /// A notifier appending to `path` (created, with its directory, on first use).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LogNotifier { path: path.into(), lock: Arc::new(Mutex::new(())) }
    }

    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = OpenOptions::new().create(true).append(true).open(&self.path)?;
        f.write_all(line)?;
        f.sync_data()
    }
}

#[async_trait]
impl Notifier for LogNotifier {
    async fn stored_client_backup_share(
        &self,
        user: &UserId,
        method: &MethodId,
        backup_id: BackupId,
        success: bool,
    ) -> Result<()> {
        let time = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut line = serde_json::to_vec(&json!({
            "time": time,
            "user": user.as_str(),
            "method": method.as_str(),
            "backup_method": method.portal_name(),
            "backup_id": backup_id.to_hex(),
            "success": success,
        }))
        .map_err(|e| Error::internal("could not encode a notification").with_source(e))?;
        line.push(b'\n');
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.append(&line))
            .await
            .map_err(|_| Error::internal("the notification writer stopped"))?
            .map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("cannot write the notification log {}", self.path.display()))
                    .with_source(e)
                    .with_hint("check that the --notify-log file is writable; nothing was acknowledged")
            })
    }
}

/// Builds the notifier of `kind`.
pub fn build(kind: NotifierKind, log: &Path, portal_url: Option<&str>) -> Result<Arc<dyn Notifier>> {
    match kind {
        NotifierKind::Log => Ok(Arc::new(LogNotifier::new(log))),
        NotifierKind::Portal => {
            let key = secret_from_env(PORTAL_KEY_ENV, "Portal client API key")?;
            let url = std::env::var(PORTAL_URL_ENV)
                .ok()
                .filter(|u| !u.is_empty())
                .or_else(|| portal_url.map(str::to_owned))
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
            let n = PortalNotifier::builder().base_url(url).api_key(key).build()?;
            Ok(Arc::new(n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_acknowledgement_is_one_json_line_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/notifications.jsonl");
        let n = LogNotifier::new(&path);
        let user = UserId::new("alice").unwrap();
        let id = BackupId::from_bytes([7; 16]);
        n.stored_client_backup_share(&user, &MethodId::PASSWORD, id, true).await.unwrap();
        n.stored_client_backup_share(&user, &MethodId::GDRIVE, id, false).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["backup_method"], "PASSWORD");
        assert_eq!(lines[0]["success"], true);
        assert_eq!(lines[0]["backup_id"], id.to_hex());
        assert_eq!(lines[1]["method"], "gdrive");
        assert_eq!(lines[1]["success"], false);
    }

    #[tokio::test]
    async fn an_unwritable_log_is_unavailable_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be.
        let n = LogNotifier::new(dir.path());
        let e = n
            .stored_client_backup_share(
                &UserId::new("a").unwrap(),
                &MethodId::PASSWORD,
                BackupId::from_bytes([0; 16]),
                true,
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unavailable);
    }
}
