//! Replays the fuzz seed corpus and every saved fuzz finding
//! (`fuzz/corpus/<target>/seed-*`, `fuzz/regressions/<target>/*`) through the
//! same checks as the fuzz targets, so CI guards them without libFuzzer.

use std::path::{Path, PathBuf};

use share_backup_core::Envelope;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if dir.ends_with(target) && dir.parent().unwrap().ends_with("corpus") && !name.starts_with("seed-") {
                continue; // local, unreviewed corpus growth
            }
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn envelope_parse_seeds_never_panic_and_stay_canonical() {
    let seeds = inputs("envelope_parse");
    assert!(seeds.len() >= 10, "seed corpus missing: {}", seeds.len());
    for (path, data) in seeds {
        if let Ok(s) = std::str::from_utf8(&data) {
            if let Ok(env) = Envelope::parse(s) {
                assert_eq!(env.encode(), s, "{}", path.display());
            }
        }
    }
}
