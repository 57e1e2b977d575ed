//! The documentation model end to end: a whole story (incidents, acts, units, places,
//! sources, claims and a denial, linked videos) entered through the CLI and through
//! import, found again by Arabic and Latin queries, by date overlap and by place,
//! exported and re-imported unchanged, with every change a custody event. All people and
//! units are synthetic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{json_lines, ok, search, tamper_sql, Env};
use serde_json::Value;

/// Runs an add with --json and returns the new record's id.
fn add(env: &Env, args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(env, &a);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["action"], "create", "{out}");
    assert!(v["event"].as_u64().unwrap() > 0);
    v["id"].as_str().unwrap().to_owned()
}

fn hit_ids(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Two short synthetic videos (FFmpeg test patterns).
fn make_videos(env: &Env) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for (i, src) in [
        "testsrc2=size=160x120:rate=10",
        "mandelbrot=size=160x120:rate=10",
    ]
    .iter()
    .enumerate()
    {
        let p = env.path(&format!("release-{i}.mp4"));
        let st = std::process::Command::new("ffmpeg")
            .args([
                "-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", "2", "-pix_fmt", "yuv420p",
            ])
            .arg(&p)
            .status()
            .expect("ffmpeg (installed by scripts/ensure-deps.sh)");
        assert!(st.success());
        out.push(p);
    }
    out
}

struct Story {
    incident_burning: String,
    incident_deaths: String,
    person: String,
    witness_claim: String,
    denial: String,
    videos: Vec<String>,
}

fn enter_story_by_cli(env: &Env) -> Story {
    ok(
        env,
        &[
            "case",
            "add",
            "pits",
            "--title",
            "Burning of bodies near al-Masmiyah",
        ],
    );
    let c = ["--case", "pits"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(c.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run_add = |args: &[&str]| -> String {
        let a = with(args);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        add(env, &refs)
    };
    let daraa = run_add(&[
        "place",
        "add",
        "--name",
        "درعا",
        "--name",
        "Daraa",
        "--type",
        "governorate",
        "--key",
        "daraa",
    ]);
    let village = run_add(&[
        "place",
        "add",
        "--name",
        "المسمية",
        "--name",
        "al-Masmiyah",
        "--type",
        "village",
        "--parent",
        "daraa",
        "--key",
        "masmiyah",
    ]);
    assert_ne!(daraa, village);
    run_add(&[
        "place",
        "add",
        "--name",
        "موقع الحرق قرب المسمية",
        "--name",
        "Burning site near Masmiyah",
        "--type",
        "burning_site",
        "--coordinates",
        "33.10,36.40",
        "--precision-m",
        "2000",
        "--parent",
        "masmiyah",
        "--key",
        "site",
    ]);
    run_add(&[
        "place",
        "add",
        "--name",
        "الفرع 900",
        "--name",
        "Branch 900",
        "--type",
        "detention_facility",
        "--key",
        "branch900",
    ]);
    run_add(&[
        "org",
        "add",
        "--name",
        "الفرقة الاصطناعية",
        "--name",
        "Synthetic Army Division",
        "--type",
        "army",
        "--key",
        "army",
    ]);
    run_add(&[
        "org",
        "add",
        "--name",
        "Synthetic Militia",
        "--type",
        "militia",
        "--key",
        "militia",
    ]);
    run_add(&[
        "org",
        "add",
        "--name",
        "Military Intelligence Branch 900",
        "--type",
        "intelligence",
        "--parent",
        "army",
        "--valid",
        "2011/2013",
        "--key",
        "mi900",
    ]);
    run_add(&[
        "source",
        "add",
        "--name",
        "Example News",
        "--type",
        "outlet",
        "--reliability",
        "usually_reliable",
        "--key",
        "outlet",
    ]);
    run_add(&[
        "source",
        "add",
        "--name",
        "W-17",
        "--type",
        "witness",
        "--protection",
        "protected",
        "--identity",
        "Synthetic Person, +000 000",
        "--key",
        "w17",
    ]);
    run_add(&[
        "source",
        "add",
        "--name",
        "Example Documentation Group",
        "--type",
        "ngo",
        "--key",
        "ngo",
    ]);
    run_add(&[
        "source",
        "add",
        "--name",
        "Government spokesperson",
        "--type",
        "official",
        "--key",
        "gov",
    ]);
    let deaths = run_add(&[
        "incident",
        "add",
        "--title",
        "Deaths under torture in Branch 900",
        "--description",
        "Detainees died under torture and their bodies were taken away by truck.",
        "--date",
        "2011/2013",
        "--place",
        "branch900",
        "--status",
        "corroborated",
        "--key",
        "deaths",
    ]);
    let burning = run_add(&[
        "incident",
        "add",
        "--title",
        "Bodies burned in pits near al-Masmiyah",
        "--description",
        "Bodies of detainees were trucked to a semi-desert site and burned in pits.",
        "--date",
        "2011/2013",
        "--place",
        "site",
        "--related",
        "deaths",
        "--status",
        "corroborated",
        "--key",
        "burning",
    ]);
    run_add(&[
        "act",
        "add",
        "--incident",
        "deaths",
        "--violation",
        "death_in_custody",
        "--date",
        "2011/2013",
        "--victims-count",
        "~10000",
        "--victims-include",
        "women,children",
        "--perpetrator",
        "mi900=carried_out",
        "--place",
        "branch900",
    ]);
    run_add(&[
        "act",
        "add",
        "--incident",
        "burning",
        "--violation",
        "destruction_of_remains",
        "--victims-count",
        "~100/day",
        "--victims-description",
        "bodies of detainees",
        "--perpetrator",
        "army=ordered",
        "--perpetrator",
        "militia=carried_out",
        "--place",
        "site",
    ]);
    let person = run_add(&[
        "person",
        "add",
        "--name",
        "محمد عبد الله الخطيب",
        "--name",
        "Mohammad Abdullah al-Khatib",
        "--father-name",
        "عبد الله",
        "--sex",
        "male",
        "--birth-date",
        "1985",
        "--age",
        "27",
        "--status",
        "dead",
        "--name-source",
        "ngo",
        "--key",
        "victim-1",
    ]);
    run_add(&[
        "act",
        "add",
        "--incident",
        "deaths",
        "--violation",
        "torture",
        "--victim",
        "victim-1",
        "--perpetrator",
        "mi900=suspected",
    ]);
    let witness_claim = run_add(&[
        "claim",
        "add",
        "--source",
        "w17",
        "--about",
        "burning",
        "--statement",
        "About a hundred bodies a day were brought to the pits and burned.",
        "--quantity",
        "bodies burned=~100/day",
        "--date",
        "2011/2013",
        "--confidence",
        "medium",
        "--key",
        "c-w17",
    ]);
    run_add(&[
        "claim",
        "add",
        "--source",
        "ngo",
        "--about",
        "burning",
        "--statement",
        "Satellite imagery and testimonies corroborate burning at the site.",
        "--corroborates",
        "c-w17",
        "--confidence",
        "high",
        "--key",
        "c-ngo",
    ]);
    let denial = run_add(&[
        "claim",
        "add",
        "--source",
        "gov",
        "--about",
        "burning",
        "--stance",
        "denies",
        "--statement",
        "The videos are fabricated.",
        "--contradicts",
        "c-w17",
        "--made",
        "2014-03",
        "--key",
        "c-gov",
    ]);
    let videos = make_videos(env);
    let refs: Vec<&std::path::Path> = videos.iter().map(|p| p.as_path()).collect();
    let out = env.run_paths(
        &[
            "ingest",
            "--json",
            "--case",
            "pits",
            "--source",
            "Example News",
        ],
        &refs,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|v| v["item"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(items.len(), 2);
    for (i, item) in items.iter().enumerate() {
        run_add(&[
            "link",
            "add",
            "--item",
            item,
            "--target",
            "burning",
            "--verification",
            "geolocated",
            "--start",
            &format!("0:0{i}"),
            "--end",
            "0:02",
            "--note",
            "released by Example News",
        ]);
    }
    Story {
        incident_burning: burning,
        incident_deaths: deaths,
        person,
        witness_claim,
        denial,
        videos: items,
    }
}

#[test]
fn the_story_through_the_cli_is_found_exported_and_reimported() {
    let env = Env::new();
    let s = enter_story_by_cli(&env);

    // Found by Arabic and Latin queries, across scripts.
    let v = search(&env, &["Masmiyah", "--kind", "place"]);
    assert!(!hit_ids(&v).is_empty(), "{v}");
    let arabic = search(&env, &["المسمية", "--kind", "place"]);
    assert_eq!(hit_ids(&arabic), hit_ids(&v));
    for q in ["محمد", "Muhammad", "Mohamed", "Mohammed", "محمد الخطيب"] {
        let v = search(&env, &[q, "--kind", "person"]);
        assert_eq!(hit_ids(&v), vec![s.person.clone()], "{q}: {v}");
    }
    // By date overlap: "2012" lies within 2011–2013.
    let v = search(&env, &["--kind", "incident", "--date", "2012"]);
    let mut ids = hit_ids(&v);
    ids.sort();
    let mut want = vec![s.incident_burning.clone(), s.incident_deaths.clone()];
    want.sort();
    assert_eq!(ids, want, "{v}");
    assert!(hit_ids(&search(&env, &["--kind", "incident", "--date", "2015"])).is_empty());
    // By place (either script), by violation, by free text in Arabic-insensitive form.
    let v = search(
        &env,
        &[
            "--kind",
            "incident",
            "--place",
            "Burning site near Masmiyah",
        ],
    );
    assert_eq!(hit_ids(&v), vec![s.incident_burning.clone()], "{v}");
    let v = search(&env, &["--violation", "destruction_of_remains"]);
    assert_eq!(v["hits"].as_array().unwrap().len(), 1, "{v}");
    let v = search(&env, &["fabricated"]);
    assert_eq!(hit_ids(&v), vec![s.denial.clone()], "{v}");
    let v = search(&env, &["--verification", "geolocated"]);
    assert_eq!(v["hits"].as_array().unwrap().len(), 2, "{v}");
    let item: Value = serde_json::from_str(&ok(&env, &["show", "--json", &s.videos[1]])).unwrap();
    assert_eq!(
        item["links"][0]["target"],
        s.incident_burning.as_str(),
        "{item}"
    );
    assert_eq!(item["links"][0]["verification"], "geolocated");
    assert_eq!(item["links"][0]["start"], 1.0);
    let v = search(&env, &["release-0.mp4"]);
    assert_eq!(hit_ids(&v), vec![s.videos[0].clone()], "{v}");

    // Show: references resolved, referrers listed, history kept.
    let shown: Value =
        serde_json::from_str(&ok(&env, &["claim", "show", "--json", &s.denial])).unwrap();
    assert_eq!(shown["record"]["stance"], "denies");
    assert_eq!(shown["record"]["contradicts"][0], s.witness_claim.as_str());
    let w: Value = serde_json::from_str(&ok(&env, &["source", "show", "--json", "w17"])).unwrap();
    assert_eq!(w["record"]["identity"], "[protected]", "{w}");
    let w: Value = serde_json::from_str(&ok(
        &env,
        &["source", "show", "--json", "--reveal-protected", "w17"],
    ))
    .unwrap();
    assert_eq!(w["record"]["identity"], "Synthetic Person, +000 000");
    let human = ok(&env, &["incident", "show", "burning"]);
    assert!(
        human.contains("Referred to by:") && human.contains("claim"),
        "{human}"
    );

    // Every change is a custody event with old and new value hashes; the log verifies.
    ok(
        &env,
        &[
            "person",
            "edit",
            "victim-1",
            "--status",
            "dead",
            "--notes",
            "Identified from a synthetic photo.",
        ],
    );
    let p: Value =
        serde_json::from_str(&ok(&env, &["person", "show", "--json", &s.person])).unwrap();
    let h = p["history"].as_array().unwrap();
    assert_eq!(h.len(), 2, "{p}");
    assert_eq!(h[0]["action"], "create");
    assert_eq!(h[1]["action"], "edit");
    assert_eq!(h[1]["old"], h[0]["new"]);
    assert_eq!(h[1]["new"], p["sha256"]);
    env.assert_verifies();

    // Export, import into a fresh archive, export again: unchanged.
    let exported = env.path("story.jsonl");
    ok(
        &env,
        &[
            "records",
            "export",
            "--reveal-protected",
            "--out",
            exported.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(text.lines().count(), 23, "{text}");
    let other = Env::new();
    // The linked videos travel as items (e.g. in a bag); here they are ingested again.
    let videos: Vec<std::path::PathBuf> = (0..2)
        .map(|i| env.path(&format!("release-{i}.mp4")))
        .collect();
    let refs: Vec<&std::path::Path> = videos.iter().map(|p| p.as_path()).collect();
    let out = other.run_paths(&["ingest", "--case", "pits"], &refs);
    assert!(out.status.success());
    // Item ids differ between archives: links name items by SHA-256 on the way over.
    let mut moved = String::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v["kind"] == "link" {
            let item = v["item"].as_str().unwrap().to_owned();
            let shown: Value = serde_json::from_str(&ok(&env, &["show", "--json", &item])).unwrap();
            v["item"] = shown["item"]["sha256"].clone();
        }
        moved.push_str(&v.to_string());
        moved.push('\n');
    }
    let moved_path = env.path("moved.jsonl");
    std::fs::write(&moved_path, &moved).unwrap();
    let out = ok(
        &other,
        &["records", "import", "--json", moved_path.to_str().unwrap()],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["records"], 23, "{v}");
    let again = other.path("again.jsonl");
    ok(
        &other,
        &[
            "records",
            "export",
            "--reveal-protected",
            "--out",
            again.to_str().unwrap(),
        ],
    );
    let strip_items = |t: &str| -> Vec<Value> {
        t.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                if v["kind"] == "link" {
                    v["item"] = Value::Null;
                }
                v
            })
            .collect()
    };
    assert_eq!(
        strip_items(&std::fs::read_to_string(&again).unwrap()),
        strip_items(&text)
    );
    // Importing the same file again changes nothing and logs nothing.
    let out = ok(
        &other,
        &["records", "import", "--json", moved_path.to_str().unwrap()],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["actions"]["unchanged"], 23, "{v}");
    other.assert_verifies();
    let v = search(&other, &["Masmiyah", "--kind", "incident"]);
    assert_eq!(hit_ids(&v), vec![s.incident_burning.clone()], "{v}");
}

/// The same story written by hand as JSON Lines with keys (as a spreadsheet export would
/// be) imports in one batch and is found the same way.
#[test]
fn the_story_through_import() {
    let env = Env::new();
    let lines = [
        r#"{"kind":"case","case":"pits","title":"Burning of bodies"}"#,
        r#"{"kind":"incident","key":"burning","case":"pits","title":"Bodies burned in pits","date":"2011/2013","places":["site"],"status":"corroborated"}"#,
        r#"{"kind":"place","key":"site","case":"pits","names":[{"name":"موقع الحرق"},{"name":"Burning site near Masmiyah"}],"place_type":"burning_site","parent":"masmiyah"}"#,
        r#"{"kind":"place","key":"masmiyah","case":"pits","names":[{"name":"المسمية"},{"name":"Al Masmiya"}],"place_type":"village"}"#,
        r#"{"kind":"org","key":"army","case":"pits","names":[{"name":"Synthetic Army Division"}],"org_type":"army"}"#,
        r#"{"kind":"act","case":"pits","incident":"burning","violation":"destruction_of_remains","victims":[{"count":{"min":100,"max":100,"approx":true,"per":"day"},"includes":["women","children"]}],"perpetrators":[{"org":"army","involvement":"ordered"}]}"#,
        r#"{"kind":"source","key":"w17","case":"pits","name":"W-17","protection":"protected","identity":"Synthetic"}"#,
        r#"{"kind":"source","key":"gov","case":"pits","name":"Government spokesperson","protection":"public"}"#,
        r#"{"kind":"claim","key":"c1","case":"pits","source":"w17","about":"burning","statement":"About a hundred bodies a day.","stance":"asserts","quantities":[{"what":"bodies burned","quantity":{"min":100,"max":100,"approx":true,"per":"day"}}]}"#,
        r#"{"kind":"claim","key":"c2","case":"pits","source":"gov","about":"burning","statement":"Fabricated.","stance":"denies","contradicts":["c1"]}"#,
        r#"{"kind":"person","key":"v1","case":"pits","names":[{"name":"أحمد يوسف","source":"w17"},{"name":"Ahmad Yusuf"}],"status":"dead"}"#,
    ];
    let file = env.path("story.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = ok(
        &env,
        &["records", "import", "--json", file.to_str().unwrap()],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["actions"]["create"], 11, "{v}");
    for (q, kind) in [
        ("المسميه", "place"),
        ("Masmiyah", "place"),
        ("احمد", "person"),
        ("Ahmed Youssef", "person"),
    ] {
        let v = search(&env, &[q, "--kind", kind]);
        assert!(!hit_ids(&v).is_empty(), "{q}: {v}");
    }
    // The index is derived data: removed, it is rebuilt from the catalog.
    std::fs::remove_dir_all(env.archive.join("index/search")).unwrap();
    let v = search(&env, &["Masmiyah", "--kind", "place"]);
    assert_eq!(v["hits"].as_array().unwrap().len(), 2, "{v}");
    let v = search(&env, &["--date", "2012-06", "--place", "Branch 900"]);
    assert_eq!(
        v["hits"].as_array().unwrap().len(),
        0,
        "no incident there: {v}"
    );
    let v = search(&env, &["--date", "2014", "--place", "المسمية"]);
    assert_eq!(v["hits"].as_array().unwrap().len(), 0, "nothing then: {v}");
    let v = search(
        &env,
        &["--date", "2012-06", "--place", "Burning site near Masmiyah"],
    );
    assert_eq!(v["hits"].as_array().unwrap().len(), 1, "{v}");
    env.assert_verifies();
}

#[test]
fn a_bad_import_names_line_and_field_and_applies_nothing() {
    let env = Env::new();
    ok(&env, &["case", "add", "c"]);
    let file = env.path("bad.jsonl");
    let check = |content: &str, needle: &str| {
        std::fs::write(&file, content).unwrap();
        let out = env.run(&["records", "import", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{content}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{content}: {err}");
        let listed = ok(&env, &["person", "list", "--json"]);
        assert_eq!(listed.lines().count(), 0, "something was applied: {listed}");
    };
    let good = r#"{"kind":"person","case":"c","names":[{"name":"A"}]}"#;
    check(
        &format!("{good}\n{good}\n{{\"kind\":\"person\",\"case\":\"c\",\"names\":[]}}\n"),
        "line 3",
    );
    check(&format!("{good}\n{{\"kind\":\"person\",\"case\":\"c\",\"names\":[{{\"name\":\"B\"}}],\"birth_date\":\"1985-13\"}}\n"), "birth_date");
    check(&format!("{good}\n{{\"kind\":\"person\",\"case\":\"c\",\"names\":[{{\"name\":\"B\"}}],\"affiliations\":[{{\"org\":\"nowhere\"}}]}}\n"), "affiliations[0].org");
    check(&format!("{good}\nnot json\n"), "line 2");
    check(&format!("{good}\n{{\"kind\":\"person\",\"case\":\"nosuchcase\",\"names\":[{{\"name\":\"B\"}}]}}\n"), "nosuchcase");
    check(
        concat!(
            r#"{"kind":"person","key":"k","case":"c","names":[{"name":"A"}]}"#,
            "\n",
            r#"{"kind":"person","key":"k","case":"c","names":[{"name":"B"}]}"#,
            "\n"
        ),
        "line 2",
    );
    env.assert_verifies();
}

#[test]
fn csv_persons_and_incidents_round_trip() {
    let env = Env::new();
    ok(&env, &["case", "add", "list"]);
    let csv = "key,names,father_name,sex,birth_date,age,status,notes\n\
               p1,سامر الحلبي|Samer al-Halabi,خالد,male,1980,30-35,disappeared,\"synthetic, row 1\"\n\
               p2,ليلى حسن|Layla Hasan,,female,1992-04,,detained,\n";
    let file = env.path("persons.csv");
    std::fs::write(&file, csv).unwrap();
    ok(
        &env,
        &[
            "records",
            "import",
            "--kind",
            "person",
            "--case",
            "list",
            file.to_str().unwrap(),
        ],
    );
    let out = ok(
        &env,
        &["records", "export", "--kind", "person", "--format", "csv"],
    );
    let mut rows = out.lines();
    assert_eq!(
        rows.next().unwrap(),
        "id,key,case,names,father_name,mother_name,sex,birth_date,age,status,event_date,event_place,affiliations,notes,source,source_row"
    );
    let row1 = rows.find(|r| r.contains(",p1,")).unwrap();
    assert!(row1.ends_with(",list,سامر الحلبي|Samer al-Halabi,خالد,,male,1980,30-35,disappeared,,,,\"synthetic, row 1\",,"), "{row1}");
    // The exported CSV imports back unchanged.
    let again = env.path("again.csv");
    std::fs::write(&again, &out).unwrap();
    let v: Value = serde_json::from_str(
        ok(
            &env,
            &[
                "records",
                "import",
                "--json",
                "--kind",
                "person",
                again.to_str().unwrap(),
            ],
        )
        .trim(),
    )
    .unwrap();
    assert_eq!(v["actions"]["unchanged"], 2, "{v}");
    // A bad cell names its line and column.
    std::fs::write(&file, "key,names,sex\np3,X,maybe\n").unwrap();
    let out = env.run(&[
        "records",
        "import",
        "--kind",
        "person",
        "--case",
        "list",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("sex"), "{err}");
    std::fs::write(&file, "key,nmes\np3,X\n").unwrap();
    let out = env.run(&[
        "records",
        "import",
        "--kind",
        "person",
        "--case",
        "list",
        file.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown column \"nmes\""));
    let inc = "key,title,date,status\ni1,Raid on a synthetic village,2012-05-03,alleged\n";
    std::fs::write(env.path("inc.csv"), inc).unwrap();
    ok(
        &env,
        &[
            "records",
            "import",
            "--kind",
            "incident",
            "--case",
            "list",
            env.path("inc.csv").to_str().unwrap(),
        ],
    );
    let v = search(&env, &["raid", "--date", "2012"]);
    assert_eq!(v["hits"].as_array().unwrap().len(), 1, "{v}");
}

#[test]
fn deletes_are_refused_while_referred_to_and_logged_when_done() {
    let env = Env::new();
    ok(&env, &["case", "add", "c"]);
    let place = add(
        &env,
        &[
            "place",
            "add",
            "--case",
            "c",
            "--name",
            "Synthetic Checkpoint",
            "--type",
            "checkpoint",
        ],
    );
    let inc = add(
        &env,
        &[
            "incident",
            "add",
            "--case",
            "c",
            "--title",
            "Arrest at a checkpoint",
            "--place",
            &place,
            "--date",
            "2012-02",
        ],
    );
    let out = env.run(&["place", "delete", &place]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&inc));
    ok(&env, &["incident", "delete", &inc]);
    ok(&env, &["place", "delete", &place]);
    assert!(ok(&env, &["incident", "list"]).is_empty());
    assert!(hit_ids(&search(&env, &["checkpoint"])).is_empty());
    env.assert_verifies();
    // Tampering with a stored record value is caught by verify.
    let env = Env::new();
    ok(&env, &["case", "add", "c"]);
    add(
        &env,
        &["person", "add", "--case", "c", "--name", "Synthetic Person"],
    );
    tamper_sql(
        &env,
        "UPDATE record_values SET body = replace(body, 'Synthetic Person', 'Someone Else')",
    );
    let (code, v) = env.verify();
    assert_eq!(code, 1, "{v}");
    assert!(v.to_string().contains("record_altered"), "{v}");
}

/// An item preserved for two cases is indexed under both: a search restricted to either
/// case finds it, and the case facet counts it in each (also after a rebuild).
#[test]
fn an_item_in_several_cases_is_found_from_each() {
    let env = Env::new();
    let f = env.path("shared-statement.txt");
    std::fs::write(&f, b"synthetic statement given to two investigations").unwrap();
    for case in ["alpha", "beta"] {
        ok(&env, &["ingest", "--case", case, f.to_str().unwrap()]);
    }
    ok(&env, &["case", "add", "gamma"]);
    let check = |env: &Env| {
        for case in ["alpha", "beta"] {
            let v = search(env, &["--kind", "item", "--case", case]);
            assert_eq!(hit_ids(&v).len(), 1, "{case}: {v}");
        }
        let v = search(env, &["--kind", "item", "--case", "gamma"]);
        assert!(hit_ids(&v).is_empty(), "{v}");
        let v = search(env, &["--kind", "item"]);
        let facets: Vec<(String, u64)> = v["facets"]["case"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f[0].as_str().unwrap().to_owned(), f[1].as_u64().unwrap()))
            .collect();
        assert_eq!(
            facets,
            [("alpha".to_owned(), 1), ("beta".to_owned(), 1)],
            "{v}"
        );
    };
    check(&env);
    std::fs::remove_dir_all(env.archive.join("index/search")).unwrap();
    check(&env);
}

/// A bulk import indexes records from the values it has just written; the index it builds
/// answers exactly as one rebuilt from the catalog, after creates and after edits.
#[test]
fn an_import_indexes_what_a_rebuild_from_the_catalog_indexes() {
    let env = Env::new();
    let write = |name: &str, title: &str, status: &str| {
        let mut lines =
            vec![r#"{"kind":"case","case":"bulk","title":"Synthetic bulk case"}"#.to_owned()];
        for i in 0..40 {
            lines.push(format!(
                r#"{{"kind":"place","key":"pl{i}","case":"bulk","names":[{{"name":"قرية {i}"}},{{"name":"Village {i}"}}],"place_type":"village"}}"#
            ));
        }
        for i in 0..1200 {
            let given = ["محمد", "Mohammad", "Layla", "ليلى", "Samer"][i % 5];
            lines.push(format!(
                r#"{{"kind":"person","key":"p{i}","case":"bulk","names":[{{"name":"{given} al-Synthetic {i}"}}],"birth_date":"{}","status":"{status}"}}"#,
                1950 + i % 50
            ));
        }
        for i in 0..600 {
            lines.push(format!(
                r#"{{"kind":"incident","key":"i{i}","case":"bulk","title":"{title} {i}","date":"{}-0{}","places":["pl{}"],"status":"alleged"}}"#,
                2011 + i % 8,
                1 + i % 9,
                i % 40
            ));
        }
        for i in 0..300 {
            lines.push(format!(
                r#"{{"kind":"act","case":"bulk","incident":"i{i}","violation":"{}","victims":[{{"person":"p{i}"}}]}}"#,
                ["torture", "killing", "arbitrary_detention"][i % 3]
            ));
        }
        let file = env.path(name);
        std::fs::write(&file, lines.join("\n")).unwrap();
        ok(
            &env,
            &["records", "import", "--json", file.to_str().unwrap()],
        );
    };
    let queries: Vec<Vec<&str>> = vec![
        vec!["محمد", "--kind", "person"],
        vec!["Muhammad"],
        vec!["Layla"],
        vec!["Synthetic", "--date", "2012"],
        vec!["--kind", "incident", "--date", "2013-03"],
        vec!["--place", "Village 7"],
        vec!["--place", "قرية 12", "--kind", "incident"],
        vec!["--violation", "torture"],
        vec!["--kind", "act", "--case", "bulk"],
        vec!["--date", "2011/2012"],
    ];
    let answers = |env: &Env| -> Vec<Value> {
        queries
            .iter()
            .map(|q| {
                let mut args = q.clone();
                args.extend(["--limit", "100000"]);
                let mut v = search(env, &args);
                // Scores depend on the segment layout (edits leave deleted documents until
                // segments merge), so hits are compared as a set.
                let mut hits: Vec<Value> = v["hits"]
                    .as_array_mut()
                    .unwrap()
                    .drain(..)
                    .map(|mut h| {
                        h.as_object_mut().unwrap().remove("score");
                        h
                    })
                    .collect();
                hits.sort_by_key(|h| h["id"].as_str().unwrap().to_owned());
                v["hits"] = Value::Array(hits);
                v
            })
            .collect()
    };
    for (round, (title, status)) in [
        ("Synthetic raid", "detained"),
        ("Synthetic transfer", "dead"),
    ]
    .into_iter()
    .enumerate()
    {
        // The second import edits every incident and person.
        write(&format!("bulk-{round}.jsonl"), title, status);
        let imported = answers(&env);
        assert!(
            imported.iter().all(|v| v["total"].as_u64().unwrap() > 0),
            "round {round}: {imported:?}"
        );
        std::fs::remove_dir_all(env.archive.join("index/search")).unwrap();
        let rebuilt = answers(&env);
        assert_eq!(imported, rebuilt, "round {round}");
    }
    let v = search(&env, &["raid", "--kind", "incident"]);
    assert!(hit_ids(&v).is_empty(), "old titles are gone: {v}");
    let v = search(&env, &["transfer", "--kind", "incident"]);
    assert_eq!(v["total"], 600, "{v}");
    env.assert_verifies();
}
