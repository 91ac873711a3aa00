//! The key layout: where each object of a (user, method) lives.
//!
//! ```text
//! <prefix>/sb1/<h[0..2]>/<h[2..4]>/<h>/<method>/head
//! <prefix>/sb1/<h[0..2]>/<h[2..4]>/<h>/<method>/commits/<seq, 20 digits>
//! <prefix>/sb1/<h[0..2]>/<h[2..4]>/<h>/<method>/versions/<backup id>
//! ```
//!
//! `h` is the lower-case hex SHA-256 of the user id (domain-separated and
//! salted with the store's optional salt), so no object path ever carries the
//! user's identity, and the two fan-out levels spread users evenly over
//! 65,536 prefixes (S3 partitions by prefix).

use std::fmt;

use object_store::path::Path;
use sha2::{Digest, Sha256};
use share_backup_core::{BackupId, MethodId, UserId};

/// The layout version segment, so that a future layout can live beside this one.
pub(crate) const LAYOUT_SEGMENT: &str = "sb1";
const HASH_DOMAIN: &[u8] = b"share-backup/object-store/user-id/v1\0";

#[derive(Clone)]
pub(crate) struct Layout {
    root: Path,
    salt: Vec<u8>,
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layout").field("root", &self.root.as_ref()).field("salt_len", &self.salt.len()).finish()
    }
}

impl Layout {
    pub(crate) fn new(root: Path, salt: Vec<u8>) -> Self {
        Layout { root, salt }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The 64 hex digits naming a user in paths.
    pub(crate) fn user_hash(&self, user: &UserId) -> String {
        let mut h = Sha256::new();
        h.update(HASH_DOMAIN);
        h.update((self.salt.len() as u64).to_be_bytes());
        h.update(&self.salt);
        h.update(user.as_str().as_bytes());
        hex::encode(h.finalize())
    }

    /// `<prefix>/sb1/ab/cd/<hash>`: everything of one user.
    pub(crate) fn user_prefix(&self, user: &UserId) -> Path {
        let h = self.user_hash(user);
        self.root.clone().join(LAYOUT_SEGMENT).join(&h[0..2]).join(&h[2..4]).join(h.as_str())
    }

    /// `<user prefix>/<method>`.
    pub(crate) fn method_prefix(&self, user: &UserId, method: &MethodId) -> Path {
        self.user_prefix(user).join(method.as_str())
    }

    pub(crate) fn head(&self, user: &UserId, method: &MethodId) -> Path {
        self.method_prefix(user, method).join("head")
    }

    pub(crate) fn commits_prefix(&self, user: &UserId, method: &MethodId) -> Path {
        self.method_prefix(user, method).join("commits")
    }

    pub(crate) fn commit(&self, user: &UserId, method: &MethodId, seq: u64) -> Path {
        self.commits_prefix(user, method).join(format!("{seq:020}"))
    }

    pub(crate) fn versions_prefix(&self, user: &UserId, method: &MethodId) -> Path {
        self.method_prefix(user, method).join("versions")
    }

    pub(crate) fn version(&self, user: &UserId, method: &MethodId, backup_id: BackupId) -> Path {
        self.versions_prefix(user, method).join(backup_id.to_hex())
    }
}

/// Parses the sequence number out of a commit record's file name.
pub(crate) fn parse_seq(name: &str) -> Option<u64> {
    if name.len() != 20 || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(s: &str) -> UserId {
        UserId::new(s).unwrap()
    }

    #[test]
    fn paths_carry_the_hash_of_the_user_id_never_the_id() {
        let l = Layout::new(Path::from("backups"), Vec::new());
        let p = l.version(&user("alice@example.com"), &MethodId::PASSWORD, BackupId::from_bytes([7; 16]));
        let s = p.as_ref();
        assert!(!s.contains("alice"), "{s}");
        let h = l.user_hash(&user("alice@example.com"));
        assert_eq!(h.len(), 64);
        assert_eq!(s, format!("backups/sb1/{}/{}/{h}/password/versions/{}", &h[0..2], &h[2..4], "07".repeat(16)));
    }

    #[test]
    fn the_salt_changes_every_user_path() {
        let a = Layout::new(Path::default(), Vec::new());
        let b = Layout::new(Path::default(), b"tenant-1".to_vec());
        assert_ne!(a.user_hash(&user("u")), b.user_hash(&user("u")));
        assert_ne!(a.user_hash(&user("u")), a.user_hash(&user("v")));
        assert_eq!(a.user_hash(&user("u")), a.user_hash(&user("u")));
    }

    #[test]
    fn commit_names_sort_by_sequence_number() {
        let l = Layout::new(Path::default(), Vec::new());
        let u = user("u");
        let c9 = l.commit(&u, &MethodId::GDRIVE, 9);
        let c10 = l.commit(&u, &MethodId::GDRIVE, 10);
        assert!(c9 < c10);
        assert_eq!(parse_seq(c10.filename().unwrap()), Some(10));
        assert_eq!(parse_seq("10"), None);
        assert_eq!(parse_seq("0000000000000000000x"), None);
    }

    #[test]
    fn an_empty_root_adds_no_leading_segment() {
        let l = Layout::new(Path::default(), Vec::new());
        assert!(l.head(&user("u"), &MethodId::GDRIVE).as_ref().starts_with("sb1/"));
    }
}
