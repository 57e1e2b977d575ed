//! The similarity index's kind, `[similar] index` in `athar.toml`: the multi-index (default)
//! and the compact kind give the same answers, are saved, extended as items arrive, rebuilt
//! when damaged, and converted when the setting changes; a bad value is a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{json_lines, testdata, Env};

/// Sets `[similar] index` (None: the section removed, the default).
fn set_index(env: &Env, kind: Option<&str>) {
    let path = env.archive.join("athar.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut kept: String = match text.find("[similar]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    if let Some(kind) = kind {
        kept.push_str(&format!("\n[similar]\nindex = \"{kind}\"\n"));
    }
    std::fs::write(&path, kept).unwrap();
}

/// The kind word of the saved hash index: after the similarity file's header and item ids,
/// the hash index's magic and format version.
fn saved_kind(env: &Env) -> u32 {
    let bytes = std::fs::read(env.archive.join("index/similar.idx")).unwrap();
    let owners = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let at = 24 + 26 * owners;
    assert_eq!(&bytes[at..at + 8], b"ATHARHIX");
    u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap())
}

/// (item, distance, transform) of every match, best first.
fn matches(env: &Env, target: &str) -> Vec<(String, u64, String)> {
    common::footage::similar(env, target)
        .into_iter()
        .map(|(item, _, m)| {
            (
                item,
                m["distance"].as_u64().unwrap(),
                m["transform"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn compact_and_multi_index_kinds_answer_alike_and_follow_the_setting() {
    let Some(data) = testdata() else { return };
    let dih = data.join("threatexchange/pdq/data/reg-test-input/dih");
    let env = Env::new();
    set_index(&env, Some("compact"));
    let ingest = |file: &str| {
        let out = env.run_paths(&["ingest", "--json", "--wait"], &[&dih.join(file)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out.stdout)[0]["item"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let original = ingest("bridge-1-original.jpg");
    assert_eq!(saved_kind(&env), 1, "saved as the compact kind");
    let mirrored = ingest("bridge-5-flipx.jpg");
    assert_eq!(saved_kind(&env), 1, "extended, still compact");
    let rotated = dih.join("bridge-2-rotate-90.jpg");
    let rotated = rotated.to_str().unwrap();

    let compact = (matches(&env, &mirrored), matches(&env, rotated));
    assert_eq!(compact.0[0].0, original);
    assert_eq!(compact.0[0].2, "flipx");
    assert!(compact
        .1
        .iter()
        .any(|m| m.0 == original && m.2.starts_with("rot")));
    assert!(compact.1.iter().all(|m| m.1 <= 31));

    // Damaged: rebuilt from the catalog as the configured kind.
    let file = env.archive.join("index/similar.idx");
    let saved = std::fs::read(&file).unwrap();
    std::fs::write(&file, &saved[..saved.len() - 9]).unwrap();
    assert_eq!(matches(&env, &mirrored), compact.0);
    assert_eq!(std::fs::read(&file).unwrap(), saved);

    // Switched to the multi-index kind: converted, saved, the same answers.
    set_index(&env, Some("mih"));
    assert_eq!((matches(&env, &mirrored), matches(&env, rotated)), compact);
    assert_eq!(saved_kind(&env), 0);
    // The setting removed: the default is the multi-index kind; items still arrive.
    set_index(&env, None);
    let upside_down = ingest("bridge-3-rotate-180.jpg");
    assert_eq!(saved_kind(&env), 0);
    let with_third = matches(&env, &mirrored);
    assert!(
        with_third.iter().any(|m| m.0 == upside_down),
        "{with_third:?}"
    );
    // And back to compact: converted again, same answers with the third item.
    set_index(&env, Some("compact"));
    assert_eq!(matches(&env, &mirrored), with_third);
    assert_eq!(saved_kind(&env), 1);

    // A value that is not a kind: the command fails, naming the file and the choices.
    set_index(&env, Some("fast"));
    let out = env.run(&["similar", "--json", &mirrored]);
    assert_eq!(out.status.code(), Some(2), "usage or input error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("athar.toml") && err.contains("compact"),
        "{err}"
    );
}
