//! keydir's own behaviour (file names, permissions, damage, settings, the
//! registry), and single conformance cases called directly from
//! `#[tokio::test]`s, the second way of running the suite.

use std::path::{Path, PathBuf};

use share_backup_conformance::{Harness, Outcome, provider};
use share_backup_core::{
    BackupId, BackupProvider, BackupProviderExt, BackupShare, Context, ErrorKind, ExposeSecret, KeyHeader, Registry,
    Settings, UserId,
};
use share_backup_example_keydir::{DIR_ENV, KeyDir, METHOD};

fn ctx(user: &str) -> Context {
    Context::new(UserId::new(user).unwrap(), BackupId::generate().unwrap())
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_key_file_is_named_by_a_hash_and_holds_exactly_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = KeyDir::new(dir.path());
    let sealed = p.seal_key(&ctx("alice@example.com")).await.unwrap();
    let files = files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(!name.contains("alice"), "{name}");
    assert!(name.len() == 64 + 4 && name.ends_with(".key"), "{name}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), sealed.key.expose_secret());
}

#[tokio::test]
async fn sealing_a_backup_id_twice_is_a_conflict_and_keeps_the_first_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = KeyDir::new(dir.path());
    let c = ctx("alice");
    let first = p.seal_key(&c).await.unwrap();
    let e = p.seal_key(&c).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
    assert!(p.open_key(&first.header, &c).await.unwrap() == first.key);
    assert_eq!(files(dir.path()).len(), 1, "no temporary file is left behind");
}

#[cfg(unix)]
#[tokio::test]
async fn the_directory_and_the_key_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("nested/keys");
    KeyDir::new(&keys).seal_key(&ctx("alice")).await.unwrap();
    assert_eq!(std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o700);
    let f = &files(&keys)[0];
    assert_eq!(std::fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_damaged_key_file_is_an_integrity_error_and_a_bad_header_invalid_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let p = KeyDir::new(dir.path());
    let c = ctx("alice");
    let sealed = p.seal_key(&c).await.unwrap();
    assert_eq!(sealed.header.as_bytes()[0], 1, "header version 1");
    std::fs::write(&files(dir.path())[0], b"short").unwrap();
    assert_eq!(p.open_key(&sealed.header, &c).await.unwrap_err().kind(), &ErrorKind::Integrity);
    for bad in [vec![], vec![1], vec![2; 17], vec![1; 18]] {
        let e = p.open_key(&KeyHeader::new(bad).unwrap(), &c).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidEnvelope);
    }
}

#[tokio::test]
async fn probe_leaves_nothing_behind_and_fails_where_the_directory_cannot_be() {
    let dir = tempfile::tempdir().unwrap();
    KeyDir::new(dir.path()).probe(&ctx("alice")).await.unwrap();
    assert!(files(dir.path()).is_empty());
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let e = KeyDir::new(file.join("keys")).probe(&ctx("alice")).await.unwrap_err();
    assert!(!matches!(e.kind(), ErrorKind::Internal), "{e}");
    assert!(e.to_string().contains("a-file"), "the message names the path: {e}");
}

#[tokio::test]
async fn settings_set_the_directory_and_refuse_typos_and_empty_paths() {
    let dir = tempfile::tempdir().unwrap();
    let p = KeyDir::from_settings(&Settings::from_pairs([("dir", dir.path().to_str().unwrap())])).unwrap();
    p.seal_key(&ctx("alice")).await.unwrap();
    assert_eq!(files(dir.path()).len(), 1, "the key file is in the dir setting");
    let typo = KeyDir::from_settings(&Settings::from_pairs([("directory", "/k")])).unwrap_err();
    assert_eq!(typo.kind(), &ErrorKind::InvalidInput);
    assert!(typo.to_string().contains("known: dir"), "{typo}");
    let empty = KeyDir::from_settings(&Settings::from_pairs([("dir", "")])).unwrap_err();
    assert_eq!(empty.kind(), &ErrorKind::InvalidInput);
    let default = format!("{:?}", KeyDir::from_settings(&Settings::new()).unwrap());
    let want = std::env::var_os(DIR_ENV).map_or_else(|| PathBuf::from("share-backup-keys"), PathBuf::from);
    assert_eq!(default, format!("{:?}", KeyDir::new(want)));
}

#[tokio::test]
async fn the_registry_builds_keydir_by_name_and_it_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = Registry::linked().unwrap();
    reg.configure(&METHOD, Settings::from_pairs([("dir", dir.path().to_str().unwrap())])).unwrap();
    let p = reg.resolve(Some(&METHOD)).unwrap();
    let c = ctx("alice");
    let share = BackupShare::new(b"share".to_vec()).unwrap();
    let (env, _) = p.seal_share(&share, &c).await.unwrap();
    assert_eq!(p.open_envelope(&env, &c).await.unwrap().expose_secret(), b"share");
    assert_eq!(files(dir.path()).len(), 1);
}

// Single conformance cases, called directly (see the conformance README, "Or call the cases from your own tests").

fn keydir(dir: &tempfile::TempDir) -> std::sync::Arc<dyn BackupProvider> {
    std::sync::Arc::new(KeyDir::new(dir.path()))
}

#[tokio::test(flavor = "multi_thread")]
async fn big_shares_round_trip_through_keydir() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(provider::roundtrip(&keydir(&dir), &Harness::new(), 64 * 1024).await.unwrap(), Outcome::Passed);
}

#[tokio::test(flavor = "multi_thread")]
async fn keydir_never_hands_one_users_key_to_another() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(provider::key_scoped_to_user(&keydir(&dir), &Harness::new()).await.unwrap(), Outcome::Passed);
}
