//! Rebuild when a migration is added or edited: they are embedded with
//! `include_str!`, and a new file must not leave a stale binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations/sqlite");
    println!("cargo:rerun-if-changed=migrations/postgres");
}
