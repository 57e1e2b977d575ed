//! Items by their human labels: `athar list`, `show`, `similar` and `clusters` print each
//! item's label (first original name, kind, duration, date) beside its id and give it in
//! `--json`; review images Athar made are listed only when asked; items are found by file
//! name; `ingest --wait` shows its progress through fingerprinting only when asked to
//! (a terminal, or `ATHAR_PROGRESS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{clip, json_lines, Env};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn items_are_listed_shown_matched_and_found_by_their_labels() {
    let env = Env::new();
    let footage = "testsrc2=s=320x240:r=10";
    let Some(video) = clip(&env, "march day.mp4", footage, "null") else {
        return;
    };
    let copy = clip(&env, "copy.mp4", footage, "scale=160:120").unwrap();
    let note = env.path("statement.txt");
    std::fs::write(&note, b"a synthetic witness statement\n").unwrap();

    // Progress through fingerprinting, forced (no terminal here).
    let out = env
        .cmd()
        .env("ATHAR_PROGRESS", "1")
        .args(["ingest", "--wait"])
        .args([&video, &copy, &note])
        .output()
        .unwrap();
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    // Jobs: a SHA-512 for each item, fingerprints for each video.
    assert!(
        err.contains("Fingerprinting: 0 of 5 job(s) done; now "),
        "{err}"
    );
    assert!(
        err.contains("Fingerprinting: 4 of 5 job(s) done; now "),
        "{err}"
    );
    assert!(err.contains(" on march day.mp4 · video · "), "{err}");
    assert!(err.contains(" on statement.txt · text/plain · "), "{err}");
    assert!(err.contains("Fingerprinting: 5 of 5 job(s) done."), "{err}");

    let listed = json_lines(ok(&env.run(&["list", "--json"])).as_bytes());
    assert_eq!(listed.len(), 3, "only the evidence collected: {listed:?}");
    let by_name = |name: &str| {
        listed
            .iter()
            .find(|l| l["label"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {listed:?}"))
            .clone()
    };
    let v = by_name("march day.mp4");
    let c = by_name("copy.mp4");
    let n = by_name("statement.txt");
    let (vid, cid) = (v["item"].as_str().unwrap(), c["item"].as_str().unwrap());
    assert_eq!(v["label"]["kind"], "video");
    let secs = v["label"]["duration_s"].as_f64().unwrap();
    assert!((2.5..3.5).contains(&secs), "{v}");
    assert!(n["label"]["duration_s"].is_null());
    assert!(v["label"]["derived"].is_null());
    let text = v["label"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("march day.mp4 · video · 0:03 · "),
        "{text}"
    );

    // The human listing: the label beside the id, no review image.
    let human = ok(&env.run(&["list"]));
    assert_eq!(human.lines().count(), 3, "{human}");
    let line = human.lines().find(|l| l.starts_with(vid)).unwrap();
    assert!(line.ends_with(text), "{line}");
    assert!(!human.contains("review-"), "{human}");

    // Asked for, the review images come too, each saying what it is of.
    for flag in ["--derived", "--all"] {
        let all = json_lines(ok(&env.run(&["list", "--json", flag])).as_bytes());
        assert!(all.len() > 3, "{flag}: {all:?}");
        let review = all
            .iter()
            .find(|l| l["label"]["derived"]["source"] == vid)
            .expect("a review image of the video");
        assert!(review["label"]["derived"]["role"]
            .as_str()
            .unwrap()
            .starts_with("review-"));
        let human = ok(&env.run(&["list", flag]));
        assert!(human.contains(&format!("of {vid} · image · ")), "{human}");
    }

    // show: the label first, and in JSON.
    let shown = ok(&env.run(&["show", vid]));
    assert!(
        shown.starts_with(&format!("Label       {text}\nItem        {vid}")),
        "{shown}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["show", "--json", vid]))).unwrap();
    assert_eq!(shown["label"]["name"], "march day.mp4");

    // similar and clusters: the copy by its name.
    let sim: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["similar", "--json", vid]))).unwrap();
    assert_eq!(sim["matches"][0]["item"], cid, "{sim}");
    assert_eq!(sim["matches"][0]["label"]["name"], "copy.mp4", "{sim}");
    let human = ok(&env.run(&["similar", vid]));
    assert!(
        human
            .lines()
            .next()
            .unwrap()
            .contains("copy.mp4 · video · 0:03"),
        "{human}"
    );
    let clusters: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["clusters", "--json"]))).unwrap();
    let mut names: Vec<&str> = clusters["clusters"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["label"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["copy.mp4", "march day.mp4"], "{clusters}");
    let human = ok(&env.run(&["clusters"]));
    assert!(
        human.contains(&format!("{vid}  march day.mp4 · video")),
        "{human}"
    );

    // Found by file name, whole or in part.
    for (query, id) in [
        ("march", vid),
        ("march day.mp4", vid),
        ("statement.txt", n["item"].as_str().unwrap()),
    ] {
        let hits: serde_json::Value =
            serde_json::from_str(&ok(&env.run(&["search", "--json", "--kind", "item", query])))
                .unwrap();
        let ids: Vec<&str> = hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.first(), Some(&id), "{query}: {hits}");
    }
    env.assert_verifies();
}

#[test]
fn ingest_wait_prints_no_progress_when_piped_or_with_json() {
    let env = Env::new();
    let footage = "testsrc2=s=160x120:r=10";
    let Some(video) = clip(&env, "clip.mp4", footage, "null") else {
        return;
    };
    let out = env
        .cmd()
        .env_remove("ATHAR_PROGRESS")
        .args(["ingest", "--wait"])
        .arg(&video)
        .output()
        .unwrap();
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("Fingerprinting"), "{err}");
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
    assert!(err.contains("Jobs: 2 done"), "{err}");

    let again = clip(&env, "again.mp4", footage, "hflip").unwrap();
    let out = env
        .cmd()
        .env("ATHAR_PROGRESS", "1")
        .args(["ingest", "--wait", "--json"])
        .arg(&again)
        .output()
        .unwrap();
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "--json: {err}");
}
