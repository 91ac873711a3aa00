// Must compile: public items of the password provider.
pub fn control() -> share_backup_password::PasswordProvider {
    let _ = &share_backup_password::METHOD;
    share_backup_password::PasswordProvider::builder().build().unwrap()
}
