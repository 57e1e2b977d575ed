//! Items fingerprinted before the `local` kind existed get their local features, and their
//! links, from `athar jobs --run`: a synthetic video and a copy of it shown picture-in-picture
//! over other footage (which no whole-frame hash matches), and a synthetic picture and a
//! collage holding it at half size, are ingested; their `local` records (and the derived
//! index files, as an earlier build had none) are taken away as an earlier build would have
//! left them. One `local` job per item makes the record alone, the job runner's index
//! catch-up links each copy to its original as at ingest, the archive verifies, and a second
//! run queues nothing. All footage is generated here (seeded shapes on a canvas, panned;
//! FFmpeg's test sources).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::footage::{ffmpeg, panned, scene, ENCODE};
use common::Env;

/// `original` shown at 40% in the top left corner of colour bars, as a news programme
/// shows a clip.
fn picture_in_picture(env: &Env, original: &Path) -> Option<PathBuf> {
    let out = env.path("pip.mp4");
    let mut args = vec!["-i", original.to_str().unwrap()];
    args.extend(["-f", "lavfi", "-i", "smptehdbars=s=640x360:r=10"]);
    args.extend([
        "-filter_complex",
        "[0]scale=256:144[in];[1][in]overlay=24:24",
        "-t",
        "8",
    ]);
    args.extend(ENCODE);
    args.push(out.to_str().unwrap());
    ffmpeg(&args).then_some(out)
}

/// `athar similar --json TARGET`: (item, transform) of each match.
fn similar(env: &Env, target: &str) -> Vec<(String, String)> {
    common::footage::similar(env, target)
        .into_iter()
        .map(|(item, transform, _)| (item, transform))
        .collect()
}

/// One catalog number, e.g. a count.
fn number(env: &Env, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(env.archive.join("catalog.sqlite")).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every fingerprint record of an item but `local`: (algorithm, version, data, created).
fn other_records(env: &Env, item: &str) -> Vec<(String, String, String, String)> {
    let db = rusqlite::Connection::open(env.archive.join("catalog.sqlite")).unwrap();
    let mut st = db
        .prepare(
            "SELECT algorithm, algorithm_version, data, created_at FROM fingerprints
             WHERE item_id = ?1 AND algorithm <> 'local' ORDER BY algorithm",
        )
        .unwrap();
    let rows = st
        .query_map([item], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// The version of an item's `local` record, if it has one.
fn local_version(env: &Env, item: &str) -> Option<String> {
    let db = rusqlite::Connection::open(env.archive.join("catalog.sqlite")).unwrap();
    db.query_row(
        "SELECT algorithm_version FROM fingerprints WHERE item_id = ?1 AND algorithm = 'local'",
        [item],
        |r| r.get(0),
    )
    .ok()
}

#[test]
fn items_fingerprinted_before_local_features_get_them_and_their_links() {
    let env = Env::new();
    let Some(video) = panned(&env, "original", 7) else {
        return;
    };
    let Some(pip) = picture_in_picture(&env, &video) else {
        return;
    };
    let picture = scene(31, 800, 600);
    let mut collage = scene(32, 800, 600);
    let small = image::imageops::resize(&picture, 400, 300, image::imageops::FilterType::Triangle);
    image::imageops::overlay(&mut collage, &small, 380, 280);
    let (picture_png, collage_png) = (env.path("picture.png"), env.path("collage.png"));
    picture.save(&picture_png).unwrap();
    collage.save(&collage_png).unwrap();
    let ids = env.ingest_ids(&[&video, &pip, &picture_png, &collage_png]);
    let [video_id, pip_id, picture_id, collage_id] = <[String; 4]>::try_from(ids).unwrap();
    // As ingested by this build: every item has local features, the copies are linked.
    let version = local_version(&env, &video_id).expect("a local record at ingest");
    for id in [&video_id, &pip_id, &picture_id, &collage_id] {
        assert_eq!(local_version(&env, id).as_ref(), Some(&version), "{id}");
    }
    assert!(similar(&env, &video_id).iter().any(|(i, _)| *i == pip_id));
    let jobs_before = number(&env, "SELECT COUNT(*) FROM jobs");
    let items_before = number(&env, "SELECT COUNT(*) FROM items");
    let events_before = number(&env, "SELECT COUNT(*) FROM custody_events");
    let others: Vec<_> = [&video_id, &pip_id, &picture_id, &collage_id]
        .iter()
        .map(|id| other_records(&env, id))
        .collect();
    assert!(others.iter().all(|o| !o.is_empty()), "{others:?}");

    // As a build from before the `local` kind left the archive: no `local` record ever
    // written, and the derived index files made without any (rebuilt by a search).
    common::tamper_sql(
        &env,
        "DELETE FROM fingerprints WHERE algorithm = 'local';
         DELETE FROM fingerprint_changes WHERE algorithm = 'local';",
    );
    for f in ["index/links.json", "index/similar.idx"] {
        std::fs::remove_file(env.archive.join(f)).unwrap();
    }
    let found = similar(&env, &video_id);
    assert!(found.iter().all(|(i, _)| *i != pip_id), "{found:?}");
    assert!(similar(&env, &picture_id).is_empty());
    let links = std::fs::read_to_string(env.archive.join("index/links.json")).unwrap();
    assert!(!links.contains(&pip_id), "{links}");
    // `athar jobs` counts what is out of date and not queued yet; frame variants are not.
    let listed = env.jobs_json();
    assert_eq!(
        listed["out_of_date"],
        serde_json::json!({ "local": 4 }),
        "{listed}"
    );
    assert_eq!(listed["variants_out_of_date"], 0, "{listed}");
    let text = String::from_utf8_lossy(&env.run(&["jobs"]).stdout).into_owned();
    assert!(
        text.contains("kind local out of date") && text.contains("on 4 items"),
        "{text}"
    );

    // `athar jobs --run` queues one `local` job per item and runs it.
    let started = std::time::Instant::now();
    let err = env.run_jobs();
    eprintln!("refresh run: {:?}", started.elapsed());
    assert!(err.contains("Jobs: 4 done, 0 failed"), "{err}");
    for id in [&video_id, &pip_id, &picture_id, &collage_id] {
        assert_eq!(local_version(&env, id).as_ref(), Some(&version), "{id}");
        let jobs = number(
            &env,
            &format!("SELECT COUNT(*) FROM jobs WHERE item_id = '{id}' AND kind = 'local' AND state = 'done'"),
        );
        assert_eq!(jobs, 1, "{id}");
    }
    assert_eq!(number(&env, "SELECT COUNT(*) FROM jobs"), jobs_before + 4);
    assert_eq!(
        number(&env, "SELECT COUNT(*) FROM jobs WHERE state <> 'done'"),
        0
    );
    // Only the missing record was made: the others, review images and custody as they were.
    let after: Vec<_> = [&video_id, &pip_id, &picture_id, &collage_id]
        .iter()
        .map(|id| other_records(&env, id))
        .collect();
    assert_eq!(after, others);
    assert_eq!(number(&env, "SELECT COUNT(*) FROM items"), items_before);
    assert_eq!(
        number(&env, "SELECT COUNT(*) FROM custody_events"),
        events_before
    );

    // The job run brought the links file up to date as at ingest: each copy is linked.
    let links = std::fs::read_to_string(env.archive.join("index/links.json")).unwrap();
    for id in [&pip_id, &collage_id] {
        assert!(links.contains(id.as_str()), "{id} not linked: {links}");
    }
    let found = similar(&env, &video_id);
    let m = found
        .iter()
        .find(|(i, _)| *i == pip_id)
        .unwrap_or_else(|| panic!("picture-in-picture copy not linked: {found:?}"));
    assert!(
        m.1.contains("picture-in-picture at 40% top-left"),
        "{found:?}"
    );
    let back = similar(&env, &pip_id);
    assert!(back.iter().any(|(i, _)| *i == video_id), "{back:?}");
    let found = similar(&env, &picture_id);
    assert_eq!(
        found,
        [(
            collage_id.clone(),
            "picture-in-picture at 50% bottom-right".to_owned()
        )]
    );
    env.assert_verifies();

    // Nothing is out of date now: a second run queues and runs nothing.
    let listed = env.jobs_json();
    assert_eq!(listed["out_of_date"], serde_json::json!({}), "{listed}");
    let err = env.run_jobs();
    assert!(err.contains("Jobs: 0 done, 0 failed"), "{err}");
    assert_eq!(number(&env, "SELECT COUNT(*) FROM jobs"), jobs_before + 4);
    assert_eq!(
        number(
            &env,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'local' AND state = 'done'"
        ),
        4
    );
}
