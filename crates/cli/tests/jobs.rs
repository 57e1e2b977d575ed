//! Background jobs on ingest: PDQ for images, vPDQ for videos, stored beside the item with
//! their versions; failures recorded, the item preserved either way; the queue survives
//! between runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{json_lines, testdata, Env};

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
