// Must NOT compile without the test-support feature.
pub fn reach() -> share_backup_password::PasswordProvider {
    share_backup_password::PasswordProvider::builder().insecure_allow_costs_below_floor().build().unwrap()
}
