//! Persons across lists end to end: synthetic victim lists (never real people) written as
//! their own CSVs with Arabic headers, imported with a column map, linked, reviewed (each
//! decision a custody event naming the reviewer, and undoable), and exported as persons,
//! the list-overlap table and a search that shows a linked person once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../../search/tests/support/name_variants.rs"]
#[allow(dead_code, clippy::all)]
mod name_variants;

#[path = "../../link/tests/support/lists.rs"]
#[allow(dead_code, clippy::all)]
mod lists;

use std::collections::{HashMap, HashSet};

use common::{json_lines, ok, Env};
use serde_json::Value;

/// The Arabic headers a list writes, and the fields they map to.
const MAP: &[(&str, &str)] = &[
    ("الرقم", "source_row"),
    ("الاسم", "names"),
    ("اسم الأب", "father_name"),
    ("اسم الأم", "mother_name"),
    ("الجنس", "sex"),
    ("تاريخ الولادة", "birth_date"),
    ("تاريخ الوفاة", "event_date"),
    ("مكان الوفاة", "event_place"),
    ("ملاحظات", "-"),
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A date as lists write it: a year as is, a day as D/M/YYYY.
fn list_date(i: &athar_link::Interval) -> String {
    let t = i.text();
    match t.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!(
            "{}/{}/{y}",
            d.trim_start_matches('0'),
            m.trim_start_matches('0')
        ),
        _ => t,
    }
}

/// Writes each list as its own CSV (file per list) and returns (list key, file, rows in
/// order: the synthetic person of each).
fn write_lists(env: &Env, l: &lists::Lists) -> Vec<(String, std::path::PathBuf, Vec<usize>)> {
    let mut by_list: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in l.records.iter().enumerate() {
        match by_list.iter_mut().find(|(k, _)| *k == r.list) {
            Some((_, v)) => v.push(i),
            None => by_list.push((r.list.clone(), vec![i])),
        }
    }
    let mut out = Vec::new();
    for (list, rows) in by_list {
        let mut text = MAP.iter().map(|(h, _)| *h).collect::<Vec<_>>().join(",");
        text.push('\n');
        let mut truth = Vec::new();
        for (n, &i) in rows.iter().enumerate() {
            let r = &l.records[i];
            // Lists with name parts write the given and family names under الاسم and the
            // father's in its own column; the others one whole name.
            let (name, father) = if r.given.is_empty() {
                (r.name.clone(), String::new())
            } else {
                (format!("{} {}", r.given, r.family), r.father.clone())
            };
            let sex = match r.sex {
                Some('m') => "ذكر",
                Some('f') => "أنثى",
                _ => "",
            };
            let cells = [
                format!("{}-{}", list, n + 1),
                name,
                father,
                r.mother.clone(),
                sex.to_owned(),
                r.birth.as_ref().map(list_date).unwrap_or_default(),
                r.date.as_ref().map(list_date).unwrap_or_default(),
                r.place.first().cloned().unwrap_or_default(),
                "synthetic".to_owned(),
            ];
            text.push_str(
                &cells
                    .iter()
                    .map(|c| csv_field(c))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            text.push('\n');
            truth.push(l.truth[i]);
        }
        let file = env.path(&format!("{list}.csv"));
        std::fs::write(&file, text).unwrap();
        out.push((list, file, truth));
    }
    out
}

/// Pairwise precision and recall of persons (groups of record ids) against the truth.
fn pairwise(persons: &[Vec<String>], truth: &HashMap<String, usize>) -> (f64, f64) {
    let mut found = 0usize;
    let mut right = 0usize;
    for p in persons {
        for (i, a) in p.iter().enumerate() {
            for b in &p[i + 1..] {
                found += 1;
                if truth[a] == truth[b] {
                    right += 1;
                }
            }
        }
    }
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for t in truth.values() {
        *sizes.entry(*t).or_default() += 1;
    }
    let real: usize = sizes.values().map(|n| n * (n - 1) / 2).sum();
    (
        right as f64 / found.max(1) as f64,
        right as f64 / real.max(1) as f64,
    )
}

fn import_list(env: &Env, list: &str, file: &std::path::Path) -> Value {
    let mut args: Vec<String> = [
        "records", "import", "--kind", "person", "--case", "lists", "--source",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(format!("source:{list}"));
    for (h, f) in MAP {
        args.push("--map".into());
        args.push(format!("{h}={f}"));
    }
    args.push("--json".into());
    args.push(file.to_str().unwrap().to_owned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(ok(env, &refs).trim()).unwrap()
}

#[test]
fn lists_are_imported_linked_reviewed_and_exported() {
    let env = Env::new();
    ok(&env, &["case", "add", "lists"]);
    let l = lists::lists(0xa7a5, 400, 4);
    let files = write_lists(&env, &l);
    let mut truth: HashMap<String, usize> = HashMap::new();
    for (list, file, rows) in &files {
        ok(
            &env,
            &[
                "source",
                "add",
                "--name",
                list,
                "--protection",
                "public",
                "--key",
                list,
                "--case",
                "lists",
            ],
        );
        let v = import_list(&env, list, file);
        assert_eq!(v["records"], rows.len(), "{v}");
        // Map each imported record to its synthetic person through its list and row.
        let out = ok(&env, &["person", "list", "--case", "lists", "--json"]);
        for r in json_lines(out.as_bytes()) {
            let row = r["source_row"].as_str().unwrap();
            let Some((l, n)) = row.rsplit_once('-') else {
                panic!("row {row}");
            };
            if l == list {
                let n: usize = n.parse().unwrap();
                truth.insert(r["id"].as_str().unwrap().to_owned(), rows[n - 1]);
            }
        }
    }
    assert_eq!(truth.len(), l.records.len());
    // A person record keeps its list and the list's own row id; Arabic values were read as
    // the model's terms.
    let one: Value = {
        let out = ok(&env, &["person", "list", "--case", "lists", "--json"]);
        json_lines(out.as_bytes())
            .into_iter()
            .find(|r| r["sex"].is_string())
            .unwrap()
    };
    assert!(
        one["source"].as_str().is_some_and(|s| s.len() == 26),
        "{one}"
    );
    assert!(["male", "female"].contains(&one["sex"].as_str().unwrap()));

    // Link.
    let v: Value =
        serde_json::from_str(ok(&env, &["persons", "link", "--case", "lists", "--json"]).trim())
            .unwrap();
    assert_eq!(v["records"], l.records.len());
    assert_eq!(v["lists"], 4);
    assert!(v["created"].as_u64().unwrap() > 0, "{v}");
    let people = persons(&env);
    let (precision, recall) = pairwise(&people, &truth);
    let f1 = 2.0 * precision * recall / (precision + recall);
    eprintln!("persons link: precision {precision:.3} recall {recall:.3} F1 {f1:.3}; {v}");
    assert!(
        f1 >= 0.93,
        "pairwise F1 {f1:.3} (precision {precision:.3}, recall {recall:.3})"
    );

    // Running it again changes nothing.
    let again: Value =
        serde_json::from_str(ok(&env, &["persons", "link", "--case", "lists", "--json"]).trim())
            .unwrap();
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["changed"], 0, "{again}");
    assert_eq!(again["deleted"], 0, "{again}");

    // Review: decide the queue's pairs by the truth, as a reviewer would.
    let queue = json_lines(
        ok(
            &env,
            &[
                "persons", "review", "--case", "lists", "--json", "--limit", "40",
            ],
        )
        .as_bytes(),
    );
    assert_eq!(queue.len() as u64, v["review"].as_u64().unwrap().min(40));
    let mut decided = Vec::new();
    for q in &queue {
        let a = q["persons"][0]["id"].as_str().unwrap();
        let b = q["persons"][1]["id"].as_str().unwrap();
        assert!(
            q["weights"].as_object().is_some_and(|w| !w.is_empty()),
            "{q}"
        );
        let decision = if truth[a] == truth[b] {
            "same"
        } else {
            "different"
        };
        let m = q["match"].as_str().unwrap();
        ok(
            &env,
            &[
                "persons",
                "decide",
                m,
                decision,
                "--note",
                "synthetic check",
            ],
        );
        decided.push((m.to_owned(), a.to_owned(), b.to_owned(), decision));
    }
    // Every decision is a custody event naming the reviewer, and the model keeps it.
    if let Some((m, _, _, decision)) = decided.first() {
        let shown: Value =
            serde_json::from_str(&ok(&env, &["persons", "show", "--json", m])).unwrap();
        assert_eq!(shown["record"]["decision"], *decision, "{shown}");
        assert_eq!(shown["record"]["by"], "reviewer");
        assert_eq!(shown["record"]["note"], "synthetic check");
        let history = shown["history"].as_array().unwrap();
        let last = history.last().unwrap();
        assert_eq!(last["action"], "edit", "{shown}");
        assert_eq!(last["actor"], "Test Investigator");
        assert_eq!(history[0]["action"], "create");
    }
    let after: Value =
        serde_json::from_str(ok(&env, &["persons", "link", "--case", "lists", "--json"]).trim())
            .unwrap();
    assert_eq!(after["decisions"], decided.len(), "{after}");
    let people = persons(&env);
    let of: HashMap<&str, usize> = people
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.iter().map(move |r| (r.as_str(), i)))
        .collect();
    for (_, a, b, decision) in &decided {
        assert_eq!(
            of[a.as_str()] == of[b.as_str()],
            *decision == "same",
            "{a} {b} decided {decision}"
        );
    }
    let (p2, r2) = pairwise(&people, &truth);
    let f2 = 2.0 * p2 * r2 / (p2 + r2);
    eprintln!("after {} decisions: F1 {f2:.3}", decided.len());
    assert!(
        f2 >= f1 - 0.002,
        "decisions made it worse: {f1:.3} → {f2:.3}"
    );

    // Undo: the decision goes back to the queue and the model.
    if let Some((m, ..)) = decided.first() {
        ok(&env, &["persons", "decide", m, "review"]);
        let queue = ok(
            &env,
            &[
                "persons", "review", "--case", "lists", "--json", "--limit", "100000",
            ],
        );
        assert!(
            queue.contains(m.as_str()),
            "undone decision not back in the queue"
        );
        // And is decided again.
        ok(&env, &["persons", "decide", m, decided[0].3]);
    }

    // The overlap table counts every person once.
    let overlap: Value =
        serde_json::from_str(ok(&env, &["persons", "overlap", "--case", "lists", "--json"]).trim())
            .unwrap();
    let total: u64 = overlap["overlap"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["persons"].as_u64().unwrap())
        .sum();
    assert_eq!(total, overlap["persons"].as_u64().unwrap());
    assert_eq!(total as usize, persons(&env).len());
    let true_persons: HashSet<usize> = truth.values().copied().collect();
    eprintln!("{} persons found, {} true", total, true_persons.len());

    // CSV of persons: one row per record, every record once.
    let csv_out = env.path("persons.csv");
    ok(
        &env,
        &[
            "persons",
            "list",
            "--case",
            "lists",
            "--format",
            "csv",
            "--out",
            csv_out.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&csv_out).unwrap();
    assert!(text.starts_with("case,person,record,list,row,name,lists\n"));
    assert_eq!(text.lines().count() - 1, l.records.len());

    // Search shows a linked person once, with every spelling.
    let linked = people
        .iter()
        .find(|p| p.len() >= 3)
        .expect("a person in three lists");
    let first: Value = {
        let out = ok(&env, &["person", "show", "--json", &linked[0]]);
        serde_json::from_str(out.trim()).unwrap()
    };
    let name = first["record"]["names"][0]["name"]
        .as_str()
        .or_else(|| first["names"][0]["name"].as_str())
        .unwrap()
        .to_owned();
    let v = common::search(
        &env,
        &[
            "--kind", "person", "--case", "lists", "--limit", "100", &name,
        ],
    );
    let hits = v["hits"].as_array().unwrap();
    let with: Vec<&Value> = hits
        .iter()
        .filter(|h| linked.iter().any(|r| h["id"] == r.as_str()))
        .collect();
    assert_eq!(with.len(), 1, "the person is shown once: {v}");
    assert_eq!(
        with[0]["same_as"].as_array().map(Vec::len),
        Some(linked.len()),
        "{}",
        with[0]
    );
    env.assert_verifies();
}

/// The persons `athar persons list --format json` gives, as record ids.
fn persons(env: &Env) -> Vec<Vec<String>> {
    json_lines(
        ok(
            env,
            &["persons", "list", "--case", "lists", "--format", "json"],
        )
        .as_bytes(),
    )
    .iter()
    .map(|p| {
        p["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    })
    .collect()
}

#[test]
fn column_maps_and_list_values_are_checked() {
    let env = Env::new();
    ok(&env, &["case", "add", "c"]);
    ok(
        &env,
        &[
            "source",
            "add",
            "--name",
            "List A",
            "--protection",
            "public",
            "--key",
            "a",
            "--case",
            "c",
        ],
    );
    let file = env.path("a.csv");
    std::fs::write(
        &file,
        "الاسم,اسم الأب,الجنس,تاريخ الوفاة,الحالة,هاتف\n\
         سامر الحلبي,خالد,ذكر,15/03/2013,متوفى,000\n\
         ليلى حسن,,أنثى,2014,معتقل,000\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let base = [
        "records",
        "import",
        "--kind",
        "person",
        "--case",
        "c",
        "--source",
        "source:a",
        "--map",
        "الاسم=names",
        "--map",
        "اسم الأب=father_name",
        "--map",
        "الجنس=sex",
        "--map",
        "تاريخ الوفاة=event_date",
        "--map",
        "الحالة=status",
    ];
    // An unmapped column is named, with the way to map it.
    let mut args = base.to_vec();
    args.push(f);
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("هاتف") && err.contains("--map"), "{err}");
    // A column mapped twice is refused; a header is matched whatever its letter case.
    let out = env.run(&[
        "records",
        "import",
        "--kind",
        "person",
        "--case",
        "c",
        "--map",
        "الاسم=names",
        "--map",
        "الاسم=notes",
        f,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mapped twice"));
    // A map to a field that is not one, or from a column the file lacks.
    for bad in ["الاسم=nombre", "العمر=age"] {
        let args = [
            "records", "import", "--kind", "person", "--case", "c", "--map", bad, f,
        ];
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--map"),
            "{bad}"
        );
    }
    // Left out, the import goes through; nothing was written before.
    assert!(ok(&env, &["person", "list", "--case", "c", "--json"])
        .trim()
        .is_empty());
    let mut args = base.to_vec();
    args.extend(["--map", "هاتف=-", "--json", f]);
    ok(&env, &args);
    let rows = json_lines(ok(&env, &["person", "list", "--case", "c", "--json"]).as_bytes());
    assert_eq!(rows.len(), 2);
    let samer = rows.iter().find(|r| r["father_name"] == "خالد").unwrap();
    assert_eq!(samer["sex"], "male");
    assert_eq!(samer["status"], "dead");
    assert_eq!(samer["event_date"], "2013-03-15");
    assert_eq!(samer["source_row"], "1");
    let layla = rows.iter().find(|r| r["father_name"].is_null()).unwrap();
    assert_eq!(layla["status"], "detained");
    assert_eq!(layla["source_row"], "2");
    // Latin headers are matched whatever their case.
    std::fs::write(&file, "Full Name,SEX\nSamer Test,m\n").unwrap();
    ok(
        &env,
        &[
            "records",
            "import",
            "--kind",
            "person",
            "--case",
            "c",
            "--map",
            "full name=names",
            "--map",
            "sex=sex",
            f,
        ],
    );
    // A bad value still names its line and field.
    std::fs::write(&file, "الاسم,الجنس\nسامر,ربما\n").unwrap();
    let out = env.run(&[
        "records",
        "import",
        "--kind",
        "person",
        "--case",
        "c",
        "--map",
        "الاسم=names",
        "--map",
        "الجنس=sex",
        f,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("sex"), "{err}");
}

#[test]
fn the_review_queue_over_http_follows_roles_and_cases() {
    let env = Env::new();
    common::without_second_factor(&env.archive);
    ok(&env, &["case", "add", "lists"]);
    ok(&env, &["case", "add", "other"]);
    let l = lists::lists(0x5eed_0003, 150, 3);
    for (list, file, _) in write_lists(&env, &l) {
        ok(
            &env,
            &[
                "source",
                "add",
                "--name",
                &list,
                "--protection",
                "public",
                "--key",
                &list,
                "--case",
                "lists",
            ],
        );
        import_list(&env, &list, &file);
    }
    const PW: &str = "synthetic-password-123";
    for (user, role, case) in [
        ("inv", "investigator", "lists"),
        ("ana", "analyst", "lists"),
        ("view", "viewer", "lists"),
        ("outsider", "investigator", "other"),
    ] {
        env.add_user(user, role, Some(case), PW);
    }
    let server = env.serve();
    let base = &server.base;
    let as_user = |user: &str| common::session(base, user, PW);
    let (inv, inv_csrf) = as_user("inv");
    let (ana, ana_csrf) = as_user("ana");
    let (view, view_csrf) = as_user("view");
    let (out, out_csrf) = as_user("outsider");
    let get = |cookies: &str, path: &str| {
        common::http(
            "GET",
            &format!("{base}{path}"),
            &[("cookie", cookies)],
            None,
        )
    };
    let post = |cookies: &str, csrf: &str, path: &str, body: &str| {
        common::http(
            "POST",
            &format!("{base}{path}"),
            &[("cookie", cookies), ("x-csrf-token", csrf)],
            Some(body),
        )
    };
    // Running the linkage: investigators, not analysts; another case's answers as if none.
    assert_eq!(
        post(&ana, &ana_csrf, "/api/cases/lists/link", "{}").status,
        403
    );
    assert_eq!(
        post(&out, &out_csrf, "/api/cases/lists/link", "{}").status,
        404
    );
    let ran = post(&inv, &inv_csrf, "/api/cases/lists/link", "{}");
    assert_eq!(ran.status, 200, "{}", ran.body);
    assert_eq!(ran.json()["records"], l.records.len());
    // The queue: every role of the case reads it; others get 404, as for no such case.
    let q = get(&view, "/api/cases/lists/review?limit=5");
    assert_eq!(q.status, 200, "{}", q.body);
    let q = q.json();
    assert_eq!(q["total"], ran.json()["review"]);
    assert_eq!(get(&out, "/api/cases/lists/review").status, 404);
    assert_eq!(get(&out, "/api/cases/nowhere/review").status, 404);
    // The pair to decide: the queue's first, else any match of the case.
    let m = match q["pairs"][0]["match"].as_str() {
        Some(m) => {
            let p = &q["pairs"][0];
            assert_eq!(p["persons"].as_array().unwrap().len(), 2);
            assert!(p["persons"][0]["list"].is_string(), "{p}");
            m.to_owned()
        }
        None => {
            let all = get(&view, "/api/records?kind=match&case=lists").json();
            all["records"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    let path = format!("/api/matches/{m}/decision");
    // Viewers do not decide; the outsider is told there is no such record; bad input names
    // the field.
    assert_eq!(
        post(&view, &view_csrf, &path, r#"{"decision":"same"}"#).status,
        403
    );
    assert_eq!(
        post(&out, &out_csrf, &path, r#"{"decision":"same"}"#).status,
        404
    );
    let bad = post(&ana, &ana_csrf, &path, r#"{"decision":"maybe"}"#);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("decision"), "{}", bad.body);
    // An analyst decides: the match says so, and its custody event names them.
    let d = post(
        &ana,
        &ana_csrf,
        &path,
        r#"{"decision":"different","note":"not the same father"}"#,
    );
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.json()["record"]["decision"], "different");
    assert_eq!(d.json()["record"]["by"], "reviewer");
    let history = get(&view, &format!("/api/records/{m}/history")).json();
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "ana", "{history}");
    // Undone, the pair is in the queue again.
    let u = post(&ana, &ana_csrf, &path, r#"{"decision":"review"}"#);
    assert_eq!(u.status, 200, "{}", u.body);
    let q = get(&view, "/api/cases/lists/review?limit=500").json();
    assert!(q["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["match"] == m.as_str()));
    // Persons and the overlap table, for the case's roles only.
    let p = get(&view, "/api/cases/lists/persons?linked=true");
    assert_eq!(p.status, 200);
    let p = p.json();
    let counted: u64 = p["overlap"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["persons"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, p["count"].as_u64().unwrap());
    assert!(p["persons"].as_array().unwrap().iter().all(|x| x["records"]
        .as_array()
        .unwrap()
        .len()
        > 1));
    assert_eq!(get(&out, "/api/cases/lists/persons").status, 404);
    // Search shows a linked person once.
    let linked = &p["persons"][0]["records"];
    let first = linked[0].as_str().unwrap();
    let rec = get(&view, &format!("/api/records/{first}")).json();
    let name = rec["record"]["names"][0]["name"]
        .as_str()
        .or_else(|| rec["names"][0]["name"].as_str())
        .unwrap()
        .to_owned();
    let url = format!("/api/search?kind=person&limit=100&q={}", urlencode(&name));
    let s = get(&view, &url).json();
    let shown = s["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| linked.as_array().unwrap().iter().any(|r| h["id"] == *r))
        .count();
    assert_eq!(shown, 1, "{s}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
