//! The `share-backup` command-line tool.
#![forbid(unsafe_code)]

fn main() {
    println!("share-backup: not yet implemented");
}
