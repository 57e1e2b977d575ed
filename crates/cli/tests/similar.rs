//! Finding copies of the same footage: `athar similar` for a file or an item, `athar
//! clusters` across the archive; rotated and mirrored images match through their variants.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{clip, json_lines, testdata, Env};

fn similar(env: &Env, target: &str) -> serde_json::Value {
    let out = env.run(&["similar", "--json", target]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The (item, transform) of each match of a `similar --json` answer, best first.
fn found(r: &serde_json::Value) -> Vec<(&str, &str)> {
    r["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["item"].as_str().unwrap(),
                m["transform"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn reuploads_are_found_and_clustered_unrelated_footage_is_not() {
    let Some(data) = testdata() else { return };
    let v = data.join("threatexchange/tmk/sample-videos");
    let env = Env::new();
    let out = env.run_paths(
        &[
            "ingest",
            "--json",
            "--wait",
            "--source",
            "synthetic channel",
        ],
        &[
            &v.join("chair-19-sd-bar.mp4"),
            &v.join("chair-22-sd-grey-bar.mp4"),
            &v.join("pattern-hd-no-bar.mp4"),
        ],
    );
    assert!(out.status.success());
    let ids: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|l| l["item"].as_str().unwrap().to_owned())
        .collect();
    // A file that is not in the archive: a longer cut of the same scene.
    let before = json_lines(&env.run(&["list", "--json"]).stdout).len();
    let r = similar(&env, v.join("chair-20-sd-bar.mp4").to_str().unwrap());
    assert_eq!(
        json_lines(&env.run(&["list", "--json"]).stdout).len(),
        before,
        "the query is not ingested"
    );
    let found: Vec<&str> = r["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["item"].as_str().unwrap())
        .collect();
    assert!(
        found.contains(&ids[0].as_str()) && found.contains(&ids[1].as_str()),
        "{r}"
    );
    assert!(
        !found.contains(&ids[2].as_str()),
        "unrelated footage matched: {r}"
    );
    for m in r["matches"].as_array().unwrap() {
        assert!(m["query_match"].as_f64().unwrap() > 0.9, "{m}");
        assert!(!m["segments"].as_array().unwrap().is_empty(), "{m}");
    }
    // An item: its copies, never itself.
    let r = similar(&env, &ids[0]);
    let found: Vec<&str> = r["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["item"].as_str().unwrap())
        .collect();
    assert_eq!(found, [ids[1].as_str()], "{r}");
    // Clusters: the two chair clips together, with the earliest copy and their sources.
    let out = env.run(&["clusters", "--json"]);
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let clusters = c["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{c}");
    let members: Vec<&str> = clusters[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["item"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2);
    assert!(members.contains(&ids[0].as_str()) && members.contains(&ids[1].as_str()));
    assert!(ids.contains(
        &clusters[0]["earliest_by_custody"]
            .as_str()
            .unwrap()
            .to_owned()
    ));
    assert_eq!(clusters[0]["members"][0]["sources"][0], "synthetic channel");
}

#[test]
fn rotated_and_mirrored_images_match_through_their_variants() {
    let Some(data) = testdata() else { return };
    let dih = data.join("threatexchange/pdq/data/reg-test-input/dih");
    let env = Env::new();
    let out = env.run_paths(
        &["ingest", "--json", "--wait"],
        &[&dih.join("bridge-1-original.jpg")],
    );
    let id = json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    for (file, transform) in [
        ("bridge-5-flipx.jpg", "flipx"),
        ("bridge-2-rotate-90.jpg", "rot"),
        ("bridge-3-rotate-180.jpg", "rot180"),
    ] {
        let r = similar(&env, dih.join(file).to_str().unwrap());
        let m = &r["matches"][0];
        assert_eq!(m["item"], id.as_str(), "{file}: {r}");
        assert!(
            m["transform"].as_str().unwrap().starts_with(transform),
            "{file}: {m}"
        );
        assert!(m["distance"].as_u64().unwrap() <= 31);
    }
}

/// The similarity index is saved in the archive, extended as fingerprints arrive, rebuilt
/// when an item's fingerprints are replaced or the file is damaged.
#[test]
fn similarity_index_is_persisted_extended_and_rebuilt() {
    let Some(data) = testdata() else { return };
    let dih = data.join("threatexchange/pdq/data/reg-test-input/dih");
    let env = Env::new();
    let ingest = |file: &str| {
        let out = env.run_paths(&["ingest", "--json", "--wait"], &[&dih.join(file)]);
        assert!(out.status.success());
        json_lines(&out.stdout)[0]["item"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let file = env.archive.join("index/similar.idx");
    let original = ingest("bridge-1-original.jpg");
    let first = std::fs::read(&file).expect("saved after the fingerprint job");
    let mirrored = ingest("bridge-5-flipx.jpg");
    let second = std::fs::read(&file).unwrap();
    assert!(second.len() > first.len(), "extended with the new item");
    let best = |env: &Env| {
        let r = similar(env, &mirrored);
        (
            r["matches"][0]["item"].as_str().unwrap().to_owned(),
            r["matches"][0]["transform"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(best(&env), (original.clone(), "flipx".to_owned()));
    // Damaged: rebuilt from the catalog and saved again.
    std::fs::write(&file, &second[..second.len() / 2]).unwrap();
    assert_eq!(best(&env), (original.clone(), "flipx".to_owned()));
    assert_eq!(std::fs::read(&file).unwrap(), second);
    // The original's fingerprints replaced (as a re-analysis would): the index follows.
    let db = rusqlite::Connection::open(env.archive.join("catalog.sqlite")).unwrap();
    db.execute(
        "INSERT OR REPLACE INTO fingerprints (item_id, algorithm, algorithm_version, decoder, data, created_at)
         SELECT ?1, algorithm, algorithm_version, decoder, data, created_at FROM fingerprints
         WHERE item_id = ?2 AND algorithm = 'pdq'",
        [&original, &mirrored],
    )
    .unwrap();
    drop(db);
    let r = similar(&env, &mirrored);
    assert_eq!(r["matches"][0]["item"], original.as_str(), "{r}");
    assert_eq!(r["matches"][0]["distance"], 0, "{r}");
    assert_eq!(r["matches"][0]["transform"], "original", "{r}");
}

#[test]
fn letterboxed_and_mirrored_copies_are_found_through_frame_variants() {
    let env = Env::new();
    let footage = "testsrc2=s=320x240:r=10";
    let Some(original) = clip(&env, "original.mp4", footage, "null") else {
        return;
    };
    let copies = [
        (
            "letterboxed.mp4",
            footage,
            "scale=320:160,pad=320:240:0:40:black",
        ),
        ("mirrored.mp4", footage, "hflip"),
        (
            "unrelated.mp4",
            "mandelbrot=s=320x240:r=10:start_scale=0.5",
            "hue=h=90",
        ),
    ];
    let mut paths = Vec::new();
    for (name, source, vf) in copies {
        paths.push(clip(&env, name, source, vf).expect("ffmpeg worked a moment ago"));
    }
    let ids = env.ingest_ids(&paths.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    let r = similar(&env, original.to_str().unwrap());
    let found = found(&r);
    assert!(
        found.contains(&(ids[0].as_str(), "borders-removed")),
        "letterboxed copy: {r}"
    );
    assert!(
        found.contains(&(ids[1].as_str(), "mirrored")),
        "mirrored copy: {r}"
    );
    assert_eq!(found.len(), 2, "unrelated footage matched: {r}");
    for m in r["matches"].as_array().unwrap() {
        assert!(m["query_match"].as_f64().unwrap() > 0.8, "{m}");
    }
    // The human listing names the transform; clusters join the two copies (the mirrored
    // copy's picture matches the letterboxed copy's mirrored picture), not the unrelated clip.
    let human = env.run(&["similar", original.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("(mirrored)") && text.contains("(borders-removed)"),
        "{text}"
    );
    let c: serde_json::Value =
        serde_json::from_slice(&env.run(&["clusters", "--json"]).stdout).unwrap();
    let clusters = c["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{c}");
    let mut members: Vec<&str> = clusters[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["item"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut want = [ids[0].as_str(), ids[1].as_str()];
    want.sort_unstable();
    assert_eq!(members, want, "{c}");
}

#[test]
fn copies_cropped_at_an_offset_are_found_through_crop_windows_either_way() {
    let Some(data) = testdata() else { return };
    let v = data.join("threatexchange/tmk/sample-videos");
    let env = Env::new();
    // 90% of each side kept, cut off centre (the slack is 72×128 pixels of 720×1280).
    let original = v.join("pattern-hd-no-bar.mp4");
    let cropped = env.path("cropped.mp4");
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(&original)
        .args([
            "-vf",
            "crop=648:1152:58:21",
            "-c:v",
            "libx264",
            "-crf",
            "23",
        ])
        .arg(&cropped)
        .output();
    if !matches!(&out, Ok(o) if o.status.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ffmpeg required under CI=true: {out:?}"
        );
        eprintln!("notice: ffmpeg cannot make test clips; skipping");
        return;
    }
    let ids = env.ingest_ids(&[&cropped, &v.join("doorknob-hd-no-bar.mp4")]);
    // The original as a query (not in the archive) finds its crop, and nothing else.
    let r = similar(&env, original.to_str().unwrap());
    let found = found(&r);
    assert_eq!(found, vec![(ids[0].as_str(), "cropped")], "{r}");
    assert!(
        r["matches"][0]["query_match"].as_f64().unwrap() >= 0.5,
        "{r}"
    );
    // With the original archived too, the crop as an item (its windows laid over its
    // blob) finds the original: the other direction.
    let out = env.run_paths(&["ingest", "--json", "--wait"], &[&original]);
    assert!(out.status.success());
    let orig_id = json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = similar(&env, &ids[0]);
    let found: Vec<&str> = r["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["item"].as_str().unwrap())
        .collect();
    assert_eq!(found, vec![orig_id.as_str()], "{r}");
    assert_eq!(r["matches"][0]["transform"], "cropped", "{r}");
}
