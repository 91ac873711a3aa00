//! Reading secrets and shares, and writing recovered shares.
//!
//! Every buffer that held secret bytes is zeroized; secrets travel as
//! `secrecy` types and are never formatted.

use std::fs::File;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;

use secrecy::SecretString;
use share_backup::{BackupShare, Error, ExposeSecret};
use zeroize::{Zeroize, Zeroizing};

/// Reads one line of secret text from `r`: everything up to the first line
/// break, which is not part of it (`\n` or `\r\n`). Nothing else is trimmed:
/// spaces are part of a passphrase.
pub fn read_secret_line(r: &mut impl BufRead, what: &str) -> Result<SecretString, Error> {
    let mut buf = Zeroizing::new(Vec::with_capacity(256));
    r.read_until(b'\n', &mut buf)
        .map_err(|e| Error::invalid_input(format!("cannot read the {what} from stdin: {e}")))?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.is_empty() {
        return Err(Error::invalid_input(format!("stdin gave an empty {what}"))
            .with_hint(format!("write the {what} on the first line of stdin")));
    }
    let text = std::str::from_utf8(&buf)
        .map_err(|_| Error::invalid_input(format!("the {what} on stdin is not valid UTF-8")))?;
    Ok(SecretString::from(text.to_owned()))
}

/// Reads a secret from the environment variable `var`.
pub fn secret_from_env(var: &str, what: &str) -> Result<SecretString, Error> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(SecretString::from(v)),
        Ok(_) => Err(Error::invalid_input(format!("environment variable {var} is empty"))
            .with_hint(format!("put the {what} in {var}"))),
        Err(std::env::VarError::NotPresent) => {
            Err(Error::invalid_input(format!("environment variable {var} is not set"))
                .with_hint(format!("put the {what} in {var}")))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::invalid_input(format!("environment variable {var} is not valid UTF-8")))
        }
    }
}

/// Reads a whole share (1 byte to 1 MiB) from `r`, zeroizing every buffer.
pub fn read_share(mut r: impl Read, source: &str) -> Result<BackupShare, Error> {
    let max = BackupShare::MAX_LEN;
    // One allocation large enough for any valid share, so no reallocation
    // leaves a copy of the bytes behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(max + 1));
    (&mut r)
        .take(max as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::invalid_input(format!("cannot read the share from {source}: {e}")))?;
    if buf.is_empty() {
        return Err(Error::invalid_input(format!("the share from {source} is empty"))
            .with_hint("give the file or stream that holds the client key share"));
    }
    if buf.len() > max {
        return Err(Error::invalid_input(format!("the share from {source} is larger than {max} bytes"))
            .with_hint("give the client key share itself, not an archive or a directory"));
    }
    BackupShare::from_slice(&buf)
}

/// Reads the share from a file.
pub fn read_share_file(path: &Path) -> Result<BackupShare, Error> {
    let f = File::open(path).map_err(|e| {
        Error::invalid_input(format!("cannot open the share file {}: {e}", path.display()))
            .with_hint("check the path given with --share-file")
    })?;
    read_share(f, &path.display().to_string())
}

/// Where a recovered share goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output (`--out -`).
    Stdout,
    /// A file.
    File { path: std::path::PathBuf, force: bool },
}

impl Output {
    /// From `--out` and `--force`.
    pub fn new(out: &Path, force: bool) -> Self {
        if out.as_os_str() == "-" { Output::Stdout } else { Output::File { path: out.to_path_buf(), force } }
    }

    /// Fails early, before any work, when the file exists and `--force` was not given.
    pub fn precheck(&self) -> Result<(), Error> {
        if let Output::File { path, force: false } = self
            && std::fs::symlink_metadata(path).is_ok()
        {
            return Err(refuse_overwrite(path));
        }
        Ok(())
    }

    /// Writes the share. A file is written to a temporary file (mode 0600)
    /// in the same directory, flushed to disk, then renamed into place, so a
    /// crash never leaves half a share, and without `--force` an existing
    /// file is never replaced.
    pub fn write(&self, share: &BackupShare) -> Result<(), Error> {
        match self {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(share.expose_secret())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::invalid_input(format!("cannot write the share to stdout: {e}")))
            }
            Output::File { path, force } => write_file(path, *force, share.expose_secret()),
        }
    }

    /// How to name the output in messages.
    pub fn describe(&self) -> String {
        match self {
            Output::Stdout => "stdout".to_owned(),
            Output::File { path, .. } => path.display().to_string(),
        }
    }
}

fn refuse_overwrite(path: &Path) -> Error {
    Error::invalid_input(format!("{} already exists; the recovered share was not written", path.display()))
        .with_hint("pass --force to replace it, or choose another --out file")
}

fn write_file(path: &Path, force: bool, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |what: &str, e: std::io::Error| {
        Error::invalid_input(format!("cannot {what} {}: {e}", path.display()))
            .with_hint("choose an --out file in a directory you can write to")
    };
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".share-backup-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io("create a temporary file next to", e))?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(|e| io("write", e))?;
    if force {
        tmp.persist(path).map_err(|e| io("replace", e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                refuse_overwrite(path)
            } else {
                io("create", e.error)
            }
        })?;
    }
    Ok(())
}

/// Whether the user can be asked for a secret on the terminal: a
/// controlling terminal exists and the user is at it (stdin or stderr is a
/// terminal), and prompting was not turned off.
pub fn can_prompt(no_prompt: bool) -> bool {
    if no_prompt || !(std::io::stdin().is_terminal() || std::io::stderr().is_terminal()) {
        return false;
    }
    #[cfg(unix)]
    {
        std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok()
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Reads a hidden line at the terminal (no echo), as a secret.
pub fn prompt_hidden(prompt: &str) -> Result<SecretString, Error> {
    let mut s = rpassword::prompt_password(prompt)
        .map_err(|e| Error::invalid_input(format!("cannot read from the terminal: {e}")))?;
    let secret = SecretString::from(s.clone());
    s.zeroize();
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_secret_line_keeps_its_spaces_and_loses_its_line_break() {
        let mut r = Cursor::new(b"  correct horse  \r\nsecond line\n".to_vec());
        assert_eq!(read_secret_line(&mut r, "password").unwrap().expose_secret(), "  correct horse  ");
        assert_eq!(read_secret_line(&mut r, "password").unwrap().expose_secret(), "second line");
        let e = read_secret_line(&mut r, "password").unwrap_err();
        assert!(e.to_string().contains("empty password"), "{e}");
    }

    #[test]
    fn shares_are_bounded_on_both_sides() {
        assert!(read_share(Cursor::new(Vec::new()), "stdin").is_err());
        let s = read_share(Cursor::new(vec![7u8; 33]), "stdin").unwrap();
        assert_eq!(s.len(), 33);
        let e = read_share(Cursor::new(vec![7u8; BackupShare::MAX_LEN + 1]), "stdin").unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_recovered_share_file_is_private_and_never_overwritten_without_force() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.bin");
        let share = BackupShare::new(b"secret share".to_vec()).unwrap();
        let out = Output::new(&path, false);
        out.precheck().unwrap();
        out.write(&share).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"secret share");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(out.precheck().is_err());
        let e = out.write(&BackupShare::new(b"other".to_vec()).unwrap()).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"secret share");
        Output::new(&path, true).write(&BackupShare::new(b"other".to_vec()).unwrap()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"other");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
