//! The guide (README.md) shows `tests/wrapkeys.rs` whole; this keeps the two
//! from drifting apart.

const README: &str = include_str!("../README.md");
const WRAPKEYS: &str = include_str!("wrapkeys.rs");

/// The text of the README's code block between the `begin`/`end` markers
/// of `tests/wrapkeys.rs`.
fn readme_copy() -> &'static str {
    let begin = "<!-- begin tests/wrapkeys.rs -->\n```rust,ignore\n";
    let end = "```\n<!-- end tests/wrapkeys.rs -->";
    let start = README.find(begin).expect("README.md marks its copy of tests/wrapkeys.rs with `begin`") + begin.len();
    let len = README[start..].find(end).expect("README.md marks the end of its copy of tests/wrapkeys.rs");
    &README[start..start + len]
}

#[test]
fn the_guide_shows_tests_wrapkeys_rs_exactly() {
    let copy = readme_copy();
    if copy != WRAPKEYS {
        let line = copy.lines().zip(WRAPKEYS.lines()).position(|(a, b)| a != b).map_or_else(
            || {
                format!(
                    "one is longer ({} lines in README.md, {} in the file)",
                    copy.lines().count(),
                    WRAPKEYS.lines().count()
                )
            },
            |i| format!("line {} differs", i + 1),
        );
        panic!("README.md's copy of tests/wrapkeys.rs is out of date ({line}): paste the file between the markers");
    }
}

#[test]
fn the_master_key_template_stays_under_150_lines() {
    assert!(WRAPKEYS.lines().count() < 150, "tests/wrapkeys.rs has {} lines", WRAPKEYS.lines().count());
}

#[test]
fn the_provider_template_stays_under_150_lines() {
    let template = include_str!("../src/lib.rs");
    assert!(template.lines().count() < 150, "src/lib.rs (the template) has {} lines", template.lines().count());
}
