//! The quickstart runs from a fresh directory and leaves its backup there.

use share_backup::object_store::ObjectCipherTextStore;
use share_backup::orchestrator::CipherTextStore;
use share_backup::{MethodId, Registry, UserId};

#[tokio::test]
async fn the_quickstart_backs_up_and_recovers_in_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    share_backup_examples::quickstart::run(dir.path()).await.unwrap();
    // The backup is really on disk: a second store on the same directory sees it.
    let store = ObjectCipherTextStore::local_dir(dir.path()).unwrap();
    let user = UserId::new("quickstart-user").unwrap();
    assert_eq!(store.methods(&(&user).into()).await.unwrap(), vec![MethodId::PASSWORD]);
    let current = store.current(&(&user).into(), &MethodId::PASSWORD).await.unwrap().unwrap();
    assert!(current.envelope.starts_with("sb1."));
    assert!(!current.envelope.contains("demo client key share"));
    assert!(Registry::linked().unwrap().contains(&MethodId::PASSWORD));
}
