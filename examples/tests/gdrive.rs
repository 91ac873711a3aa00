//! The Drive example backs up by the default method, puts exactly one key
//! file in the appDataFolder (named without the user id), and recovers.

use share_backup::object_store::ObjectCipherTextStore;
use share_backup::orchestrator::CipherTextStore;
use share_backup::{MethodId, UserId};
use share_backup_examples::gdrive::{DEMO_USER, run};

#[tokio::test]
async fn the_gdrive_example_backs_up_by_default_method_and_keeps_the_key_in_drive() {
    let dir = tempfile::tempdir().unwrap();
    let drive = run(dir.path()).await.unwrap();
    let files = drive.files();
    assert_eq!(files.len(), 1, "one key file: {:?}", files.iter().map(|f| &f.name).collect::<Vec<_>>());
    assert_eq!(files[0].space.as_str(), "appDataFolder");
    assert!(!files[0].name.contains(DEMO_USER), "the file name must not carry the user id: {}", files[0].name);
    let store = ObjectCipherTextStore::local_dir(dir.path()).unwrap();
    let user = UserId::new(DEMO_USER).unwrap();
    assert_eq!(store.methods(&(&user).into()).await.unwrap(), vec![MethodId::GDRIVE]);
}
