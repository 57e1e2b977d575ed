//! Background jobs on ingest: PDQ for images, vPDQ for videos, stored beside the item with
//! their versions; failures recorded, the item preserved either way; the queue survives
//! between runs; videos analysed by an earlier build get the current frame variants, and
//! nothing else is made again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{clip, json_lines, testdata, Env};

fn show(env: &Env, item: &str) -> serde_json::Value {
    serde_json::from_slice(&env.run(&["show", "--json", item]).stdout).unwrap()
}

#[test]
fn images_get_reference_pdq_on_ingest() {
    let Some(data) = testdata() else { return };
    let tsv = std::fs::read_to_string(data.join("threatexchange/pdq-expected.tsv")).unwrap();
    let pngs: Vec<(String, String, String)> = tsv
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() > 4 && f[0].ends_with(".png"))
                .then(|| (f[0].to_owned(), f[3].to_owned(), f[4].to_owned()))
        })
        .collect();
    assert!(pngs.len() >= 5);
    let env = Env::new();
    let paths: Vec<std::path::PathBuf> = pngs
        .iter()
        .map(|(p, _, _)| data.join("threatexchange").join(p))
        .collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let out = env.run_paths(&["ingest", "--json", "--wait"], &refs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let mut checked = 0;
    for (l, (_, hex, quality)) in lines.iter().zip(&pngs) {
        let v = show(&env, l["item"].as_str().unwrap());
        let f = &v["fingerprints"][0];
        assert_eq!(f["algorithm"], "pdq", "{v}");
        let first = f["data"]
            .as_str()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(first, format!("{hex} {quality}"), "{}", l["path"]);
        assert!(f["algorithm_version"]
            .as_str()
            .unwrap()
            .contains("athar-media"));
        checked += 1;
    }
    assert_eq!(checked, pngs.len());
    let jobs: serde_json::Value =
        serde_json::from_slice(&env.run(&["jobs", "--json"]).stdout).unwrap();
    // A fingerprint job and a SHA-512 job per image.
    assert_eq!(
        jobs["counts"]["done"].as_u64().unwrap() as usize,
        2 * pngs.len(),
        "{jobs}"
    );
}

#[test]
fn videos_get_reference_vpdq_and_the_queue_survives_between_runs() {
    let Some(data) = testdata() else { return };
    let clip = data.join("threatexchange/tmk/sample-videos/chair-19-sd-bar.mp4");
    let expected = std::fs::read_to_string(
        data.join("threatexchange/vpdq-expected-ffmpeg5.1/chair-19-sd-bar.txt"),
    )
    .unwrap();
    let env = Env::new();
    // Without --wait the job stays queued, in the catalog.
    let out = env.run_paths(&["ingest", "--json"], &[&clip]);
    let item = json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let jobs: serde_json::Value =
        serde_json::from_slice(&env.run(&["jobs", "--json"]).stdout).unwrap();
    // vPDQ and SHA-512.
    assert_eq!(jobs["counts"]["queued"], 2, "{jobs}");
    assert!(env.run(&["jobs", "--run"]).status.success());
    let v = show(&env, &item);
    let f = &v["fingerprints"][0];
    assert_eq!(f["algorithm"], "vpdq");
    assert!(f["decoder"].as_str().unwrap().contains("ffmpeg"), "{f}");
    let got: Vec<&str> = f["data"].as_str().unwrap().lines().collect();
    let want: Vec<&str> = expected.lines().collect();
    assert_eq!(got.len(), want.len());
    let same = got.iter().zip(&want).filter(|(a, b)| a == b).count();
    assert!(
        same * 100 >= want.len() * 99,
        "{same}/{} frames identical",
        want.len()
    );
    env.assert_verifies();
}

#[test]
fn broken_media_fails_its_job_but_stays_preserved() {
    let env = Env::new();
    let bad = env.path("broken-clip.mp4");
    let mut bytes = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    bytes.extend(std::iter::repeat_n(0x5a, 50_000));
    std::fs::write(&bad, &bytes).unwrap();
    let out = env.run_paths(&["ingest", "--json", "--wait"], &[&bad]);
    assert!(
        out.status.success(),
        "preserving must not depend on decoding"
    );
    let item = json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&item),
        "the failure names the item"
    );
    let jobs: serde_json::Value =
        serde_json::from_slice(&env.run(&["jobs", "--json"]).stdout).unwrap();
    // The fingerprint job fails; the SHA-512 job, which needs no decoding, is done.
    assert_eq!(jobs["counts"]["failed"], 1, "{jobs}");
    assert_eq!(jobs["counts"]["done"], 1, "{jobs}");
    assert!(!jobs["jobs"][0]["error"].as_str().unwrap().is_empty());
    assert_eq!(env.cat(&item).stdout, bytes);
    env.assert_verifies();
}

#[test]
fn a_job_left_running_by_a_dead_process_is_run_again() {
    let Some(data) = testdata() else { return };
    let png = data.join("threatexchange/pdq/data/misc-images/c.png");
    let env = Env::new();
    let out = env.run_paths(&["ingest", "--json"], &[&png]);
    let item = json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    // As if a worker died mid-job: the catalog still says `running`.
    common::tamper_sql(&env, "UPDATE jobs SET state = 'running', attempts = 1");
    assert!(env.run(&["jobs", "--run"]).status.success());
    let jobs: serde_json::Value =
        serde_json::from_slice(&env.run(&["jobs", "--json"]).stdout).unwrap();
    assert_eq!(jobs["counts"], serde_json::json!({ "done": 2 }), "{jobs}");
    assert_eq!(show(&env, &item)["fingerprints"][0]["algorithm"], "pdq");
}

/// Reads `(algorithm_version, data, created_at)` of an item's record, if any.
fn record(env: &Env, item: &str, algorithm: &str) -> Option<(String, String, String)> {
    let db = rusqlite::Connection::open(env.archive.join("catalog.sqlite")).unwrap();
    let mut st = db
        .prepare(
            "SELECT algorithm_version, data, created_at FROM fingerprints
             WHERE item_id = ?1 AND algorithm = ?2",
        )
        .unwrap();
    let mut rows = st
        .query_map([item, algorithm], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.next().map(Result::unwrap)
}

/// One catalog number, e.g. a count.
fn number(env: &Env, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(env.archive.join("catalog.sqlite")).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn videos_analysed_by_an_earlier_build_get_the_current_frame_variants_and_nothing_else() {
    let env = Env::new();
    let footage = "testsrc2=s=320x240:r=10";
    let Some(original) = clip(&env, "original.mp4", footage, "null") else {
        return;
    };
    let mirrored = clip(&env, "mirrored.mp4", footage, "hflip").unwrap();
    let boxed = clip(
        &env,
        "letterboxed.mp4",
        footage,
        "scale=320:160,pad=320:240:0:40:black",
    )
    .unwrap();
    let ids = env.ingest_ids(&[&original, &mirrored, &boxed]);
    let (older, missing, current) = (&ids[0], &ids[1], &ids[2]);
    let made: Vec<(String, String, String)> = ids
        .iter()
        .map(|i| record(&env, i, "vpdq-variants").expect("the fingerprint job made variants"))
        .collect();
    let version = made[0].0.clone();
    assert!(made.iter().all(|m| m.0 == version), "{made:?}");
    let reference: Vec<_> = ids
        .iter()
        .map(|i| record(&env, i, "vpdq").unwrap())
        .collect();
    let index_file = env.archive.join("index/similar.idx");
    let index_before = std::fs::read(&index_file).unwrap();
    let similar = |env: &Env| {
        let out = env.run(&["similar", "--json", original.to_str().unwrap()]);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let found_before = similar(&env);
    assert!(found_before.contains(missing.as_str()), "{found_before}");
    let items_before = json_lines(&env.run(&["list", "--json"]).stdout).len();
    let events_before = number(&env, "SELECT COUNT(*) FROM custody_events");
    assert_eq!(env.jobs_json()["variants_out_of_date"], 0);

    // As an earlier build left them: one item's variants of an older version, another's
    // from before variants existed.
    common::tamper_sql(
        &env,
        &format!(
            "UPDATE fingerprints SET algorithm_version = 'athar-media 0.1.0 (variants 3: older)'
             WHERE item_id = '{older}' AND algorithm = 'vpdq-variants';
             DELETE FROM fingerprints WHERE item_id = '{missing}' AND algorithm = 'vpdq-variants';"
        ),
    );
    let changes_before = number(&env, "SELECT MAX(seq) FROM fingerprint_changes");
    let listed = env.jobs_json();
    assert_eq!(listed["variants_out_of_date"], 2, "{listed}");
    let text = String::from_utf8_lossy(&env.run(&["jobs"]).stdout).into_owned();
    assert!(
        text.contains("out of date") && text.contains("on 2 videos"),
        "{text}"
    );

    let err = env.run_jobs();
    assert!(err.contains("Jobs: 2 done, 0 failed"), "{err}");
    // A `variants` job each for the two, done like the others; none for the current one.
    let listed = env.jobs_json();
    assert_eq!(
        listed["counts"],
        serde_json::json!({ "done": 8 }),
        "{listed}"
    );
    assert_eq!(listed["variants_out_of_date"], 0, "{listed}");
    let variant_jobs = number(
        &env,
        &format!(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'variants' AND state = 'done'
             AND item_id IN ('{older}', '{missing}')"
        ),
    );
    assert_eq!(variant_jobs, 2);
    assert_eq!(
        number(&env, "SELECT COUNT(*) FROM jobs WHERE kind = 'variants'"),
        2
    );
    // The current version, the same hashes the fingerprint job made; the up-to-date
    // item's record untouched.
    for (i, item) in [older, missing].into_iter().enumerate() {
        let now = record(&env, item, "vpdq-variants").unwrap();
        assert_eq!(now.0, version);
        assert_eq!(
            now.1, made[i].1,
            "recomputed variants differ from the first ones"
        );
    }
    assert_eq!(record(&env, current, "vpdq-variants").unwrap(), made[2]);
    // Only the two variants records were written: the reference records, the similarity
    // index's postings, the review images and the custody log stay as they were.
    let written = number(
        &env,
        &format!(
            "SELECT COUNT(*) FROM fingerprint_changes WHERE seq > {changes_before}
             AND algorithm = 'vpdq-variants' AND item_id IN ('{older}', '{missing}')"
        ),
    );
    let all_written = number(
        &env,
        &format!("SELECT COUNT(*) FROM fingerprint_changes WHERE seq > {changes_before}"),
    );
    assert_eq!((written, all_written), (2, 2));
    for (i, item) in ids.iter().enumerate() {
        assert_eq!(record(&env, item, "vpdq").unwrap(), reference[i]);
    }
    let index_after = std::fs::read(&index_file).unwrap();
    assert_eq!(index_after.len(), index_before.len());
    // Bytes 8..16 name the last catalog change the index covers; the rest is its content.
    assert_eq!(index_after[..8], index_before[..8]);
    assert_eq!(
        index_after[16..],
        index_before[16..],
        "the index's postings changed"
    );
    assert_eq!(similar(&env), found_before);
    assert_eq!(
        json_lines(&env.run(&["list", "--json"]).stdout).len(),
        items_before,
        "review images stored again"
    );
    assert_eq!(
        number(&env, "SELECT COUNT(*) FROM custody_events"),
        events_before
    );

    // Nothing left to do.
    let changes = number(&env, "SELECT MAX(seq) FROM fingerprint_changes");
    let err = env.run_jobs();
    assert!(err.contains("Jobs: 0 done, 0 failed"), "{err}");
    assert_eq!(
        number(&env, "SELECT MAX(seq) FROM fingerprint_changes"),
        changes
    );
    assert_eq!(std::fs::read(&index_file).unwrap(), index_after);

    // A later version again (the done job is queued again), and a refresh interrupted
    // mid-job (left running, the old record still in place): both run again.
    common::tamper_sql(
        &env,
        &format!(
            "UPDATE fingerprints SET algorithm_version = 'athar-media 0.1.0 (variants 3: older)'
             WHERE algorithm = 'vpdq-variants' AND item_id IN ('{older}', '{missing}');
             UPDATE jobs SET state = 'running', attempts = 1
             WHERE kind = 'variants' AND item_id = '{missing}';"
        ),
    );
    let err = env.run_jobs();
    assert!(err.contains("Jobs: 2 done, 0 failed"), "{err}");
    for item in [older, missing] {
        assert_eq!(record(&env, item, "vpdq-variants").unwrap().0, version);
    }
    env.assert_verifies();
}
