// Must NOT compile without the test-support feature.
pub fn reach() {
    let params = share_backup_password::KdfParams::new(64, 1, 1).unwrap();
    let _ = share_backup_password::__private::seal_with_salt("password", &params, vec![0; 16]);
}
