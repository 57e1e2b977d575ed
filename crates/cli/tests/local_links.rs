//! Links made at ingest through local features: a synthetic video and three copies that no
//! whole-frame hash can match — shown picture-in-picture over other footage, turned 7° and
//! re-framed, cropped to 70% of each side at an offset — are ingested beside unrelated
//! synthetic footage. `athar similar` of each item, `athar clusters` and the server's
//! near-duplicates link every copy to the original, with the transform in words, and link
//! nothing to the unrelated footage. All footage is generated here (seeded shapes on a
//! canvas, panned; FFmpeg's test sources).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::footage::{ffmpeg, panned, scene, similar, ENCODE};
use common::{http, json_lines, Env};

const PW: &str = "correct horse battery staple";

/// `original` changed by a filter graph (`[0]` the original, `[1]` a background source).
fn copy(
    env: &Env,
    name: &str,
    original: &Path,
    graph: &str,
    background: Option<&str>,
) -> Option<PathBuf> {
    let out = env.path(&format!("{name}.mp4"));
    let mut args = vec!["-i", original.to_str().unwrap()];
    if let Some(bg) = background {
        args.extend(["-f", "lavfi", "-i", bg]);
    }
    args.extend(["-filter_complex", graph, "-t", "8"]);
    args.extend(ENCODE);
    args.push(out.to_str().unwrap());
    ffmpeg(&args).then_some(out)
}

#[test]
fn picture_in_picture_rotated_and_cropped_copies_are_linked_at_ingest() {
    let env = Env::new();
    let Some(original) = panned(&env, "original", 7) else {
        return;
    };
    // Shown at 40% in the top left corner of other footage (colour bars), as a news
    // programme shows a clip.
    let Some(pip) = copy(
        &env,
        "pip",
        &original,
        "[0]scale=256:144[in];[1][in]overlay=24:24",
        Some("smptehdbars=s=640x360:r=10"),
    ) else {
        return;
    };
    // Turned 7° and enlarged to hide the corners, as a hand-held re-filming frames it.
    let Some(rotated) = copy(
        &env,
        "rotated",
        &original,
        "[0]rotate=7*PI/180,crop=iw*0.8:ih*0.8,scale=640:360",
        None,
    ) else {
        return;
    };
    // 70% of each side, cut from the top right (a watermark cropped away), scaled back.
    let Some(cropped) = copy(
        &env,
        "cropped",
        &original,
        "[0]crop=448:252:192:0,scale=640:360",
        None,
    ) else {
        return;
    };
    // Unrelated footage: another scene panned the same way, and FFmpeg's test pattern.
    let Some(other_scene) = panned(&env, "other-scene", 99) else {
        return;
    };
    let Some(pattern) = copy(
        &env,
        "pattern",
        &original,
        "[1]null",
        Some("testsrc2=s=640x360:r=10"),
    ) else {
        return;
    };
    let ids = env.ingest_ids(&[&original, &pip, &rotated, &cropped, &other_scene, &pattern]);
    let [orig, pip_id, rot_id, crop_id, scene_id, pattern_id] =
        <[String; 6]>::try_from(ids).unwrap();
    let copies = [
        (&pip_id, "picture-in-picture at 40% top-left"),
        (&rot_id, "rotated 7°"),
        (&crop_id, "crop 70% top-right"),
    ];

    // The original's links: each copy, with its transform; nothing unrelated.
    let found = similar(&env, &orig);
    for (id, words) in copies {
        let m = found
            .iter()
            .find(|(i, _, _)| i == id)
            .unwrap_or_else(|| panic!("{words} copy {id} not linked: {found:?}"));
        assert!(m.1.contains(words), "{words}: {found:?}");
        assert!(m.2["local"]["frames"].as_u64().unwrap() >= 2, "{m:?}");
        assert!(m.2["query_match"].as_f64().unwrap() >= 0.5, "{m:?}");
    }
    for unrelated in [&scene_id, &pattern_id] {
        assert!(
            found.iter().all(|(i, _, _)| i != unrelated),
            "unrelated footage linked: {found:?}"
        );
    }
    // Seen from each copy, the original, described the other way round.
    let back = similar(&env, &pip_id);
    let m = back
        .iter()
        .find(|(i, _, _)| *i == orig)
        .expect("pip → original");
    assert!(m.1.contains("crop 40% top-left"), "{back:?}");
    for id in [&rot_id, &crop_id] {
        let back = similar(&env, id);
        assert!(back.iter().any(|(i, _, _)| *i == orig), "{back:?}");
        assert!(
            back.iter()
                .all(|(i, _, _)| *i != scene_id && *i != pattern_id),
            "{back:?}"
        );
    }
    // The unrelated items are linked to nothing.
    for id in [&scene_id, &pattern_id] {
        let r = similar(&env, id);
        assert!(
            r.iter()
                .all(|(i, _, _)| *i != orig && *i != rot_id && *i != crop_id),
            "{id}: {r:?}"
        );
    }
    // The links were made at ingest and kept: the file holds them.
    let kept = std::fs::read_to_string(env.archive.join("index/links.json")).unwrap();
    assert!(kept.contains(&pip_id) && kept.contains(&crop_id), "{kept}");
    // A file that is not archived: a fresh picture-in-picture copy at the bottom right
    // finds the original and the other copies (through its local features).
    let Some(query) = copy(
        &env,
        "query",
        &original,
        "[0]scale=320:180[in];[1][in]overlay=300:170",
        Some("smptehdbars=s=640x360:r=10"),
    ) else {
        return;
    };
    let r = similar(&env, query.to_str().unwrap());
    let m = r
        .iter()
        .find(|(i, _, _)| *i == orig)
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(m.1.contains("crop 50% bottom-right"), "{r:?}");
    assert!(r.iter().all(|(i, _, _)| *i != scene_id), "{r:?}");

    // Clusters: the original and its three copies together; the unrelated items in none.
    let out = env.run(&["clusters", "--json"]);
    assert!(out.status.success());
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let clusters = c["clusters"].as_array().unwrap();
    let with_orig: Vec<Vec<&str>> = clusters
        .iter()
        .map(|c| {
            c["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["item"].as_str().unwrap())
                .collect()
        })
        .collect();
    let group = with_orig
        .iter()
        .find(|g| g.contains(&orig.as_str()))
        .unwrap_or_else(|| panic!("{c}"));
    let mut got: Vec<&str> = group.clone();
    got.sort_unstable();
    let mut want = vec![
        orig.as_str(),
        pip_id.as_str(),
        rot_id.as_str(),
        crop_id.as_str(),
    ];
    want.sort_unstable();
    assert_eq!(got, want, "{c}");
    assert!(
        with_orig
            .iter()
            .flatten()
            .all(|i| *i != scene_id && *i != pattern_id),
        "{c}"
    );

    // The server's near-duplicates: the links, read from the index, with the transform.
    common::without_second_factor(&env.archive);
    env.add_user("admin", "admin", None, PW);
    let served = env.serve();
    let (cookies, _) = common::session(&served.base, "admin", PW);
    let get = |id: &str| {
        let a = http(
            "GET",
            &format!("{}/api/items/{id}/similar", served.base),
            &[("Cookie", &cookies)],
            None,
        );
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()
    };
    let r = get(&orig);
    let matches = r["matches"].as_array().unwrap();
    for (id, words) in copies {
        let m = matches
            .iter()
            .find(|m| m["item"] == id.as_str())
            .unwrap_or_else(|| panic!("{words}: {r}"));
        assert!(
            m["local"]["transform"].as_str().unwrap().contains(words),
            "{words}: {m}"
        );
        assert!(m["local"]["segment"]["item_end"].as_f64().is_some(), "{m}");
    }
    assert!(
        matches
            .iter()
            .all(|m| m["item"] != scene_id.as_str() && m["item"] != pattern_id.as_str()),
        "{r}"
    );
    let r = get(&pip_id);
    let m = r["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["item"] == orig.as_str())
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(m["local"]["crop"]["position"], "top-left", "{m}");
    assert_eq!(m["local"]["crop"]["share"], 0.4, "{m}");
    let r = get(&scene_id);
    assert!(
        r["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["item"] != orig.as_str()),
        "{r}"
    );
}

/// Images get local features too: a picture shown at half size inside another (a
/// screenshot of a post, a collage) is linked to it at ingest; an unrelated picture is not.
#[test]
fn an_image_inside_another_is_linked() {
    let env = Env::new();
    let original = scene(31, 800, 600);
    let mut collage = scene(32, 800, 600);
    let small = image::imageops::resize(&original, 400, 300, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut collage, &small, 380, 280);
    let unrelated = scene(33, 800, 600);
    let paths: Vec<PathBuf> = [
        ("original", &original),
        ("collage", &collage),
        ("unrelated", &unrelated),
    ]
    .iter()
    .map(|(name, img)| {
        let p = env.path(&format!("{name}.png"));
        img.save(&p).unwrap();
        p
    })
    .collect();
    let out = env.run_paths(
        &["ingest", "--json", "--wait"],
        &paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|l| l["item"].as_str().unwrap().to_owned())
        .collect();
    let found = similar(&env, &ids[0]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, ids[1]);
    assert_eq!(
        found[0].1, "picture-in-picture at 50% bottom-right",
        "{found:?}"
    );
    let found = similar(&env, &ids[1]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "crop 50% bottom-right", "{found:?}");
    assert!(similar(&env, &ids[2]).is_empty());
    // `show` gives the record's size, not its bytes.
    let out = env.run(&["show", "--json", &ids[0]]);
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["local_features"]["frames"], 1, "{show}");
    assert!(show["fingerprints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["algorithm"] != "local"));
}
