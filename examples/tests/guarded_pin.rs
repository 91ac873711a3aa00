//! The guarded-PIN example runs to its lock-out with no setup.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guarded_pin_example_counts_down_recovers_and_locks_out() {
    let dir = tempfile::tempdir().unwrap();
    share_backup_examples::guarded_pin::run(dir.path()).await.unwrap();
    // The realms kept their state in SQLite files there.
    for id in ["realm-a", "realm-b", "realm-c"] {
        assert!(dir.path().join(format!("{id}.sqlite3")).exists(), "{id}");
    }
}
