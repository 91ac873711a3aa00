//! Replays the `gdrive_header` fuzz seeds and any saved finding
//! (`fuzz/corpus/gdrive_header/seed-*`, `fuzz/regressions/gdrive_header/*`)
//! through the fuzz target's check, so CI guards them without libFuzzer.

use std::path::Path;

use share_backup_gdrive::__fuzz::parse_key_header;

#[test]
fn gdrive_header_seeds_never_panic_and_what_parses_is_canonical() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut seen = (0, 0);
    for (dir, seeds_only) in
        [(root.join("corpus/gdrive_header"), true), (root.join("regressions/gdrive_header"), false)]
    {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if seeds_only && !name.starts_with("seed-") {
                continue; // local, unreviewed corpus growth
            }
            let data = std::fs::read(&path).unwrap();
            match parse_key_header(&data) {
                Ok(again) => {
                    assert_eq!(again, data, "{} parses but is not canonical", path.display());
                    seen.0 += 1;
                }
                Err(_) => seen.1 += 1,
            }
        }
    }
    assert!(seen.0 >= 3 && seen.1 >= 5, "the seed corpus is missing (valid, refused) = {seen:?}");
}
