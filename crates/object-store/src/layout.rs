//! The key layout: where each object of a (namespace, method) lives.
//!
//! ```text
//! <prefix>/sb2/<h[0..2]>/<h[2..4]>/<h>/<method>/head
//! <prefix>/sb2/<h[0..2]>/<h[2..4]>/<h>/<method>/acks/<prev backup id | none>/<n, 20 digits>
//! <prefix>/sb2/<h[0..2]>/<h[2..4]>/<h>/<method>/commits/<seq, 20 digits>
//! <prefix>/sb2/<h[0..2]>/<h[2..4]>/<h>/<method>/versions/<backup id>
//! ```
//!
//! `h` is the lower-case hex HMAC-SHA-256, keyed with the store's salt, of
//! the namespace's canonical binding bytes (user, custodian, client; the
//! envelope's associated data), so no object path ever carries the user's
//! identity, two clients or custodians of one user id never share a path,
//! and without the salt nobody can test a guessed user id against a
//! listing. The two fan-out levels spread namespaces evenly over 65,536
//! prefixes (S3 partitions by prefix).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use object_store::path::Path;
use sha2_v011::Sha256;
use share_backup_core::{BackupId, MethodId};
use share_backup_orchestrator::Namespace;

/// The layout version segment, so that a future layout can live beside this
/// one (`sb1`, keyed by the user id alone, was the previous one).
pub(crate) const LAYOUT_SEGMENT: &str = "sb2";
const HASH_DOMAIN: &[u8] = b"share-backup/object-store/namespace/v2\0";

#[derive(Clone)]
pub(crate) struct Layout {
    root: Path,
    mac: Hmac<Sha256>,
    salt_len: usize,
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layout").field("root", &self.root.as_ref()).field("salt_len", &self.salt_len).finish()
    }
}

impl Layout {
    pub(crate) fn new(root: Path, salt: &[u8]) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(salt).expect("HMAC takes a key of any length");
        Layout { root, mac, salt_len: salt.len() }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The 64 hex digits naming a namespace in paths.
    pub(crate) fn ns_hash(&self, ns: &Namespace) -> String {
        let mut mac = self.mac.clone();
        mac.update(HASH_DOMAIN);
        mac.update(&ns.to_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `<prefix>/sb2/ab/cd/<hash>`: everything of one namespace.
    pub(crate) fn ns_prefix(&self, ns: &Namespace) -> Path {
        let h = self.ns_hash(ns);
        self.root.clone().join(LAYOUT_SEGMENT).join(&h[0..2]).join(&h[2..4]).join(h.as_str())
    }

    /// `<namespace prefix>/<method>`.
    pub(crate) fn method_prefix(&self, ns: &Namespace, method: &MethodId) -> Path {
        self.ns_prefix(ns).join(method.as_str())
    }

    pub(crate) fn head(&self, ns: &Namespace, method: &MethodId) -> Path {
        self.method_prefix(ns, method).join("head")
    }

    /// `<method>/acks/<prev>/`: the acknowledgement records made over the
    /// version `prev` (`none`: over no version).
    pub(crate) fn acks_prefix(&self, ns: &Namespace, method: &MethodId, prev: Option<BackupId>) -> Path {
        let over = prev.map_or_else(|| "none".to_owned(), |p| p.to_hex());
        self.method_prefix(ns, method).join("acks").join(over)
    }

    /// Acknowledgement record `n` (from 1) over `prev`.
    pub(crate) fn ack(&self, ns: &Namespace, method: &MethodId, prev: Option<BackupId>, n: u64) -> Path {
        self.acks_prefix(ns, method, prev).join(format!("{n:020}"))
    }

    pub(crate) fn commits_prefix(&self, ns: &Namespace, method: &MethodId) -> Path {
        self.method_prefix(ns, method).join("commits")
    }

    pub(crate) fn commit(&self, ns: &Namespace, method: &MethodId, seq: u64) -> Path {
        self.commits_prefix(ns, method).join(format!("{seq:020}"))
    }

    pub(crate) fn versions_prefix(&self, ns: &Namespace, method: &MethodId) -> Path {
        self.method_prefix(ns, method).join("versions")
    }

    pub(crate) fn version(&self, ns: &Namespace, method: &MethodId, backup_id: BackupId) -> Path {
        self.versions_prefix(ns, method).join(backup_id.to_hex())
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
    use share_backup_core::{ClientId, CustodianId, UserId};

    fn ns(s: &str) -> Namespace {
        Namespace::from(UserId::new(s).unwrap())
    }

    #[test]
    fn paths_carry_the_hash_of_the_namespace_never_the_id() {
        let l = Layout::new(Path::from("backups"), b"");
        let p = l.version(&ns("alice@example.com"), &MethodId::PASSWORD, BackupId::from_bytes([7; 16]));
        let s = p.as_ref();
        assert!(!s.contains("alice"), "{s}");
        let h = l.ns_hash(&ns("alice@example.com"));
        assert_eq!(h.len(), 64);
        assert_eq!(s, format!("backups/sb2/{}/{}/{h}/password/versions/{}", &h[0..2], &h[2..4], "07".repeat(16)));
    }

    #[test]
    fn the_hash_is_hmac_sha256_keyed_with_the_salt() {
        // An independent computation of HMAC-SHA-256 (RFC 2104) over the
        // domain and the binding bytes, keyed with the salt.
        let salt = b"tenant-1 secret salt";
        let n = ns("u");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(salt).unwrap();
        mac.update(b"share-backup/object-store/namespace/v2\0");
        mac.update(&[1, 0, 1, b'u', 0, 0]);
        assert_eq!(Layout::new(Path::default(), salt).ns_hash(&n), hex::encode(mac.finalize().into_bytes()));
    }

    #[test]
    fn the_salt_changes_every_path() {
        let a = Layout::new(Path::default(), b"");
        let b = Layout::new(Path::default(), b"tenant-1");
        assert_ne!(a.ns_hash(&ns("u")), b.ns_hash(&ns("u")));
        assert_ne!(a.ns_hash(&ns("u")), a.ns_hash(&ns("v")));
        assert_eq!(a.ns_hash(&ns("u")), a.ns_hash(&ns("u")));
    }

    #[test]
    fn custodian_and_client_give_their_own_namespace() {
        let l = Layout::new(Path::default(), b"s");
        let plain = ns("u");
        let a = plain.clone().with_client(ClientId::new("a").unwrap());
        let b = plain.clone().with_client(ClientId::new("b").unwrap());
        let c = plain.clone().with_custodian(CustodianId::new("a").unwrap());
        let hashes = [l.ns_hash(&plain), l.ns_hash(&a), l.ns_hash(&b), l.ns_hash(&c)];
        for (i, x) in hashes.iter().enumerate() {
            for y in &hashes[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn commit_names_sort_by_sequence_number() {
        let l = Layout::new(Path::default(), b"");
        let u = ns("u");
        let c9 = l.commit(&u, &MethodId::GDRIVE, 9);
        let c10 = l.commit(&u, &MethodId::GDRIVE, 10);
        assert!(c9 < c10);
        assert_eq!(parse_seq(c10.filename().unwrap()), Some(10));
        assert_eq!(parse_seq("10"), None);
        assert_eq!(parse_seq("0000000000000000000x"), None);
    }

    #[test]
    fn an_empty_root_adds_no_leading_segment() {
        let l = Layout::new(Path::default(), b"");
        assert!(l.head(&ns("u"), &MethodId::GDRIVE).as_ref().starts_with("sb2/"));
    }
}
