//! ARCHITECTURE.md stays true: every crate folder is mapped there, and every crate it
//! maps exists.

use std::collections::BTreeSet;

#[test]
fn architecture_md_maps_every_crate_and_only_real_ones() {
    let root = albless_testkit::workspace_root();
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let named: BTreeSet<String> = doc
        .split("`crates/")
        .skip(1)
        .filter_map(|rest| rest.split('`').next())
        .map(|name| name.trim_end_matches('/').to_string())
        .filter(|name| !name.contains('/'))
        .collect();
    let actual: BTreeSet<String> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        named, actual,
        "crates named in ARCHITECTURE.md vs crates/ folders"
    );
}
