//! The examples are an integrator's code: they reach the framework through
//! the facade (`share-backup`) alone. The only other crates of the workspace
//! they name are the ones they start in-process and an integrator does not
//! link: the fake Drive and the realm server.

use std::path::Path;

/// The crates of the workspace the examples may name (as Rust paths).
const ALLOWED: &[&str] = &["share_backup", "share_backup_examples", "share_backup_fake_drive", "share_backup_realm"];

/// Every `share_backup...` identifier in `text` (whole identifiers only).
fn crate_names(text: &str) -> Vec<&str> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (i, _) in text.match_indices("share_backup") {
        if text[..i].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let end = text[i..].find(|c: char| !is_ident(c)).map_or(text.len(), |n| i + n);
        out.push(&text[i..end]);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_examples_name_no_framework_crate_but_the_facade() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "examples", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() >= 6, "found the example sources: {files:?}");
    let mut wrong = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // This file lists the names it looks for.
        if f.ends_with("facade_only.rs") {
            continue;
        }
        for name in crate_names(&text) {
            if !ALLOWED.contains(&name) {
                wrong.push(format!("{}: {name}", f.strip_prefix(root).unwrap().display()));
            }
        }
    }
    assert!(wrong.is_empty(), "the examples must use the facade (share_backup::...), not: {wrong:#?}");
}

#[test]
fn the_examples_depend_on_no_framework_crate_but_the_facade() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let wrong: Vec<&str> = manifest
        .lines()
        // `share-backup-x = ...` keys and `[dependencies.share-backup-x]` /
        // `[dev-dependencies.share-backup-x]` table headers alike.
        .map(|l| l.trim().trim_start_matches('[').trim_start_matches("dev-").trim_start_matches("build-"))
        .map(|l| l.strip_prefix("dependencies.").unwrap_or(l))
        .filter_map(|l| l.split(['=', '.', ' ', ']']).next())
        .filter(|k| k.starts_with("share-backup"))
        .filter(|k| !ALLOWED.contains(&k.replace('-', "_").as_str()))
        .collect();
    assert!(wrong.is_empty(), "examples/Cargo.toml depends on {wrong:?}: use the facade's features instead");
}
