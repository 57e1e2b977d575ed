#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What one case must never learn about another, through the HTTP API and hand-over bags:
//! the same bytes collected in two cases (`caseone`, `casetwo-secret`), users of every role
//! on `caseone` only, and everything `casetwo-secret` recorded about the shared item — its
//! sighting, its access with a purpose, its export to a recipient — marked with words that
//! must not appear in any answer to a `caseone` user. Also: record hashes that would
//! confirm a protected identity, case records written by non-admins, protected fields
//! overwritten by those who cannot read them, and answers that tell "another case's" from
//! "does not exist".

mod common;

use std::collections::BTreeMap;

use athar_server::routes::{Method, ROUTES};
use common::{http, Answer, Env};
use serde_json::{json, Value};

const PW: &str = "synthetic-password-123";
const ONE: &str = "caseone";
const TWO: &str = "casetwo-secret";
/// Words only the second case's records, events and users hold.
const SECRETS: &[&str] = &[
    "casetwo",
    "C2SECRETSOURCE",
    "C2SECRETNOTE",
    "C2PURPOSE",
    "C2RECIPIENT",
    "invtwo",
    "C2PERSONNAME",
];

struct Who {
    cookie: String,
    csrf: String,
}

fn login(base: &str, user: &str) -> Who {
    let (cookie, csrf) = common::session(base, user, PW);
    Who { cookie, csrf }
}

fn call(base: &str, who: &Who, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let text = body.map(Value::to_string);
    http(
        method,
        &format!("{base}{path}"),
        &[("cookie", &who.cookie), ("x-csrf-token", &who.csrf)],
        text.as_deref(),
    )
}

fn no_secret(what: &str, body: &str) {
    for s in SECRETS {
        assert!(!body.contains(s), "{what} shows {s:?}: {body}");
    }
}

struct World {
    env: Env,
    /// The bytes in both cases.
    shared: String,
    /// Only in the second case.
    two_only: String,
    two_only_sha: String,
    /// A record of the second case.
    two_person: String,
    /// The first case's protected source and its record.
    source: String,
    case_record: String,
    place: String,
}

fn ingest(env: &Env, case: &str, source: &str, note: &str, path: &std::path::Path) -> Value {
    let out = env.run(&[
        "ingest",
        "--json",
        "--case",
        case,
        "--source",
        source,
        "--note",
        note,
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::json_lines(&out.stdout).remove(0)
}

/// Imports `lines`; returns the id of each record, in order (found by case and key, or for
/// a case record by its case).
fn import(env: &Env, lines: &[Value]) -> Vec<String> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let file = env.path("records.jsonl");
    std::fs::write(&file, text).unwrap();
    let out = env.run(&["records", "import", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.run(&["records", "export"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = common::json_lines(&out.stdout);
    lines
        .iter()
        .map(|l| {
            all.iter()
                .find(|r| {
                    r["kind"] == l["kind"]
                        && r["case"] == l["case"]
                        && (l["kind"] == "case" || r["key"] == l["key"])
                })
                .and_then(|r| r["id"].as_str())
                .unwrap_or_else(|| panic!("{l} not imported"))
                .to_owned()
        })
        .collect()
}

fn world() -> World {
    let env = Env::new();
    common::without_second_factor(&env.archive);
    for d in ["caseone-drop", "casetwo-drop"] {
        std::fs::create_dir_all(env.path(d)).unwrap();
    }
    std::fs::write(
        env.path("caseone-drop/shared.txt"),
        b"synthetic shared footage\n",
    )
    .unwrap();
    std::fs::write(
        env.path("casetwo-drop/shared.txt"),
        b"synthetic shared footage\n",
    )
    .unwrap();
    std::fs::write(
        env.path("casetwo-drop/only.txt"),
        b"synthetic second-case footage\n",
    )
    .unwrap();
    let shared = ingest(
        &env,
        ONE,
        "first source",
        "first note",
        &env.path("caseone-drop/shared.txt"),
    );
    let again = ingest(
        &env,
        TWO,
        "C2SECRETSOURCE",
        "C2SECRETNOTE",
        &env.path("casetwo-drop/shared.txt"),
    );
    assert_eq!(shared["item"], again["item"], "the same bytes are one item");
    let only = ingest(
        &env,
        TWO,
        "C2SECRETSOURCE",
        "C2SECRETNOTE",
        &env.path("casetwo-drop/only.txt"),
    );
    let applied = import(
        &env,
        &[
            json!({"kind":"case","case":ONE,"title":"Synthetic case one"}),
            json!({"kind":"case","case":TWO,"title":"Synthetic case two"}),
            json!({"kind":"source","case":ONE,"key":"w1","name":"W-1","protection":"protected",
                   "identity":"Synthetic Witness Identity, +000 111"}),
            json!({"kind":"person","case":TWO,"key":"p2","names":[{"name":"C2PERSONNAME"}]}),
            json!({"kind":"place","case":ONE,"key":"pl1","names":[{"name":"Synthetic Square"}]}),
            // An admin may link across cases: a record of the second case that refers to a
            // place of the first.
            json!({"kind":"incident","case":TWO,"key":"i2","title":"C2SECRETNOTE incident",
                   "places":["place:pl1"]}),
        ],
    );
    let id = |i: usize| applied[i].clone();
    for (name, role, case) in [
        ("root", "admin", None),
        ("invone", "investigator", Some(ONE)),
        ("anaone", "analyst", Some(ONE)),
        ("viewone", "viewer", Some(ONE)),
        ("invtwo", "investigator", Some(TWO)),
    ] {
        env.add_user(name, role, case, PW);
    }
    World {
        shared: shared["item"].as_str().unwrap().to_owned(),
        two_only: only["item"].as_str().unwrap().to_owned(),
        two_only_sha: only["sha256"].as_str().unwrap().to_owned(),
        two_person: id(3),
        source: id(2),
        case_record: id(0),
        place: id(4),
        env,
    }
}

/// The second case's own use of the shared item: an access with a purpose and a hand-over.
fn second_case_acts(base: &str, w: &World) {
    let two = login(base, "invtwo");
    let r = call(
        base,
        &two,
        "GET",
        &format!("/api/items/{}/content?purpose=C2PURPOSE", w.shared),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        base,
        &two,
        "POST",
        &format!("/api/cases/{TWO}/export"),
        Some(&json!({"recipient": "C2RECIPIENT", "purpose": "C2PURPOSE"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A path of the route table with its parameters filled from `params`.
fn fill(path: &str, params: &BTreeMap<&str, String>) -> String {
    let mut p = path.to_owned();
    for (k, v) in params {
        p = p.replace(&format!("{{{k}}}"), v);
    }
    p
}

#[test]
fn nothing_of_another_case_reaches_a_case_member() {
    let w = world();
    let served = w.env.serve();
    let base = served.base.as_str();
    second_case_acts(base, &w);
    let root = login(base, "root");
    // The admin sees both cases' events on the shared item.
    let all = call(
        base,
        &root,
        "GET",
        &format!("/api/items/{}", w.shared),
        None,
    );
    for s in ["C2SECRETSOURCE", "C2PURPOSE", "C2RECIPIENT", "invtwo"] {
        assert!(all.body.contains(s), "admin sees {s}: {}", all.body);
    }
    let events_of = |who: &Who| -> Vec<u64> {
        call(base, who, "GET", &format!("/api/items/{}", w.shared), None).json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    let every_event = events_of(&root);
    let two_events: Vec<u64> = all.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains("casetwo") || e["actor"] == "invtwo")
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(
        two_events.len() >= 3,
        "sighting, access, export: {}",
        all.body
    );

    for user in ["invone", "anaone", "viewone"] {
        let who = login(base, user);
        // Every read route of the table, on the shared item, the second case's item and
        // record, and the second case itself.
        let mut shared = BTreeMap::new();
        shared.insert("id", w.shared.clone());
        shared.insert("variant", "blurred".to_owned());
        shared.insert("case", ONE.to_owned());
        let mut theirs = BTreeMap::new();
        theirs.insert("id", w.two_only.clone());
        theirs.insert("variant", "blurred".to_owned());
        theirs.insert("case", TWO.to_owned());
        for route in ROUTES.iter().filter(|r| !r.public && !r.page) {
            let what = format!("{user} {} {}", route.method.as_str(), route.path);
            // Changes are walked below; uploads are the caller's own.
            if route.path.starts_with("/api/uploads") || route.path == "/api/logout" {
                continue;
            }
            let seqs: Vec<String> = if route.path.contains("{seq}") {
                every_event.iter().map(u64::to_string).collect()
            } else {
                vec!["1".to_owned()]
            };
            for seq in &seqs {
                let mut p = shared.clone();
                p.insert("seq", seq.clone());
                let path = fill(route.path, &p);
                let body = (route.method == Method::Post || route.method == Method::Put)
                    .then(|| json!({"kind":"link","case":ONE,"item":w.shared,"target":"pl1","verification":"unverified"}));
                if route.method != Method::Get && route.path.starts_with("/api/records") {
                    continue; // walked below with meaningful bodies
                }
                let r = call(base, &who, route.method.as_str(), &path, body.as_ref());
                no_secret(&format!("{what} (shared item)"), &r.body);
                if route.path.contains("{seq}") {
                    let n: u64 = seq.parse().unwrap();
                    if two_events.contains(&n) {
                        assert_eq!(r.status, 404, "{what} seq {n}: {}", r.body);
                    }
                }
                let mut p = theirs.clone();
                p.insert("seq", seq.clone());
                let path = fill(route.path, &p);
                let r = call(base, &who, route.method.as_str(), &path, body.as_ref());
                no_secret(&format!("{what} (their item)"), &r.body);
                if route.path.contains("{id}") || route.path.contains("{case}") {
                    assert!(
                        r.status == 404 || r.status == 403 || r.status == 400,
                        "{what} on the other case: {} {}",
                        r.status,
                        r.body
                    );
                }
            }
        }
        // Query forms of the listing routes, with the other case named and not.
        for path in [
            "/api/items".to_owned(),
            format!("/api/items?case={TWO}"),
            "/api/records".to_owned(),
            format!("/api/records?case={TWO}"),
            format!("/api/records/{}", w.two_person),
            format!("/api/records/{}", w.place),
            "/api/search?q=".to_owned(),
            "/api/search?q=C2SECRETSOURCE".to_owned(),
            "/api/search?q=C2SECRETNOTE".to_owned(),
            "/api/search?q=casetwo".to_owned(),
            "/api/search?q=C2PERSONNAME".to_owned(),
            format!("/api/search?q=&case={TWO}"),
            "/api/incidents".to_owned(),
            "/api/cases".to_owned(),
            "/api/me".to_owned(),
        ] {
            let r = call(base, &who, "GET", &path, None);
            no_secret(&format!("{user} GET {path}"), &r.body);
        }
        // The shared item is found, by the first case's words only, under the first case.
        let r = call(base, &who, "GET", "/api/search?q=first", None).json();
        assert!(
            r["hits"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == w.shared.as_str()),
            "{r}"
        );
        let item = call(base, &who, "GET", &format!("/api/items/{}", w.shared), None).json();
        assert_eq!(item["cases"], json!([ONE]));
        let seen = events_of(&who);
        assert!(!seen.is_empty());
        assert!(seen.iter().all(|s| !two_events.contains(s)), "{seen:?}");
    }

    // The first case's bag: none of the second case's events, and it still verifies.
    let inv = login(base, "invone");
    let bag = call(
        base,
        &inv,
        "POST",
        &format!("/api/cases/{ONE}/export"),
        Some(&json!({"recipient": "synthetic-court", "purpose": "synthetic trial"})),
    );
    assert_eq!(bag.status, 200, "{}", bag.body);
    assert!(bag.body.contains("item.json"), "a tar of a bag");
    no_secret("the first case's bag", &bag.body);
    // The case's records go with it, its protected source's identity not in clear.
    assert!(
        bag.body.contains("athar/records.jsonl"),
        "records in the bag"
    );
    assert!(
        bag.body.contains("W-1"),
        "the source's code name in the bag"
    );
    assert!(
        !bag.body.contains("Synthetic Witness Identity"),
        "a protected identity in the bag"
    );
    let tar = w.env.path("one.tar");
    std::fs::write(&tar, &bag.bytes).unwrap();
    let out_dir = w.env.path("bag");
    std::fs::create_dir_all(&out_dir).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&out_dir)
        .status()
        .unwrap();
    assert!(st.success());
    let bag_dir = std::fs::read_dir(&out_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let vkey = w.env.run(&["log", "vkey"]);
    let vkey = String::from_utf8(vkey.stdout).unwrap();
    let out = w.env.run(&[
        "verify-bag",
        "--vkey",
        vkey.trim(),
        bag_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The export events name their case: the second case does not see the first's.
    let two = login(base, "invtwo");
    let r = call(base, &two, "GET", &format!("/api/items/{}", w.shared), None);
    assert!(!r.body.contains("synthetic-court"), "{}", r.body);
    assert!(!r.body.contains("first source"), "{}", r.body);
    drop(served);
    w.env.assert_verifies();
}

#[test]
fn identities_hashes_case_records_and_existence_confirm_nothing() {
    let w = world();
    // A third case whose protected source no investigator may read.
    let applied = import(
        &w.env,
        &[
            json!({"kind":"case","case":"casethree","title":"Synthetic case three"}),
            json!({"kind":"source","case":"casethree","key":"w3","name":"W-3","protection":"confidential",
                   "identity":"Synthetic Third Identity","notes":"first notes"}),
        ],
    );
    let source3 = applied[1].clone();
    w.env
        .add_user("invthree", "investigator", Some("casethree"), PW);
    let served = w.env.serve();
    let base = served.base.as_str();
    let root = login(base, "root");
    let inv = login(base, "invone");
    let view = login(base, "viewone");

    // Malformed input, whatever refuses it, is answered as JSON naming what is wrong.
    for (method, path, body) in [
        ("POST", "/api/records".to_owned(), Some("{not json")),
        ("POST", "/api/records".to_owned(), Some(r#"{"kind":5}"#)),
        (
            "GET",
            format!("/api/items/{}/similar?min_share=abc", w.shared),
            None,
        ),
        ("GET", "/api/search?limit=-1".to_owned(), None),
    ] {
        let r = http(
            method,
            &format!("{base}{path}"),
            &[("cookie", &root.cookie), ("x-csrf-token", &root.csrf)],
            body,
        );
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.body
        );
        assert!(r.json()["error"].is_string(), "{path}: {}", r.body);
    }

    // 2. A record with a protected field: its hash only for those who may read the field.
    let r = call(
        base,
        &root,
        "GET",
        &format!("/api/records/{}", w.source),
        None,
    )
    .json();
    assert!(r["sha256"].is_string(), "{r}");
    for who in [&inv, &view] {
        let r = call(
            base,
            who,
            "GET",
            &format!("/api/records/{}", w.source),
            None,
        )
        .json();
        assert_eq!(r["record"]["identity"], "[protected]");
        assert!(
            r["sha256"].is_null(),
            "no hash of the unredacted record: {r}"
        );
        assert!(!r.to_string().contains("Synthetic Witness Identity"));
    }
    // A record without protected fields keeps its hash for everyone who sees it.
    let r = call(
        base,
        &view,
        "GET",
        &format!("/api/records/{}", w.place),
        None,
    )
    .json();
    assert!(r["sha256"].is_string(), "{r}");

    // 3. Only admins write case records; a case has one.
    let grab = json!({"kind":"case","case":ONE,"protected_readers":["investigator","viewer"]});
    let r = call(base, &inv, "POST", "/api/records", Some(&grab));
    assert_eq!(r.status, 403, "{}", r.body);
    let mut edit = grab.clone();
    edit["id"] = json!(w.case_record);
    let r = call(
        base,
        &inv,
        "PUT",
        &format!("/api/records/{}", w.case_record),
        Some(&edit),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = call(
        base,
        &view,
        "GET",
        &format!("/api/records/{}", w.source),
        None,
    )
    .json();
    assert_eq!(r["record"]["identity"], "[protected]", "still protected");
    // An admin writing "another" case record for the case edits its one record.
    let r = call(
        base,
        &root,
        "POST",
        "/api/records",
        Some(&json!({"kind":"case","case":ONE,"title":"Renamed"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["applied"]["id"], w.case_record.as_str());
    let cases = call(
        base,
        &root,
        "GET",
        &format!("/api/records?case={ONE}&kind=case"),
        None,
    )
    .json();
    assert_eq!(cases["records"].as_array().unwrap().len(), 1, "{cases}");

    // 7. A protected field is kept when someone who cannot read it writes the record back.
    let inv3 = login(base, "invthree");
    let got = call(base, &inv3, "GET", &format!("/api/records/{source3}"), None).json();
    assert_eq!(got["record"]["identity"], "[protected]");
    let mut back = got["record"].clone();
    back["notes"] = json!("second notes");
    let r = call(
        base,
        &inv3,
        "PUT",
        &format!("/api/records/{source3}"),
        Some(&back),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["applied"]["sha256"].is_null(), "{}", r.body);
    let mut without = back.clone();
    without.as_object_mut().unwrap().remove("identity");
    without["notes"] = json!("third notes");
    let r = call(
        base,
        &inv3,
        "PUT",
        &format!("/api/records/{source3}"),
        Some(&without),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = call(base, &root, "GET", &format!("/api/records/{source3}"), None).json();
    assert_eq!(
        stored["record"]["identity"], "Synthetic Third Identity",
        "{stored}"
    );
    assert_eq!(stored["record"]["notes"], "third notes");
    // Changing it, or its protection, is refused — the right guess exactly as a wrong one.
    let mut answers = Vec::new();
    for (field, value) in [
        ("identity", json!("A wrong guess")),
        ("identity", json!("Synthetic Third Identity")),
        ("protection", json!("public")),
    ] {
        let mut b = back.clone();
        b[field] = value;
        let r = call(
            base,
            &inv3,
            "PUT",
            &format!("/api/records/{source3}"),
            Some(&b),
        );
        assert!(
            r.status == 400 || r.status == 403,
            "{field}: {} {}",
            r.status,
            r.body
        );
        answers.push((r.status, r.body.clone()));
    }
    assert_eq!(
        answers[0], answers[1],
        "a right guess answers as a wrong one"
    );
    let stored = call(base, &root, "GET", &format!("/api/records/{source3}"), None).json();
    assert_eq!(stored["record"]["identity"], "Synthetic Third Identity");
    assert_eq!(stored["record"]["protection"], "confidential");

    // 8. "Another case's" and "does not exist" answer alike, for every reference.
    let same = |what: &str, theirs: &str, none: &str, make: &dyn Fn(&str) -> Value| {
        let a = call(base, &inv, "POST", "/api/records", Some(&make(theirs)));
        let b = call(base, &inv, "POST", "/api/records", Some(&make(none)));
        assert_eq!(a.status, b.status, "{what}: {} / {}", a.body, b.body);
        assert!(a.status >= 400, "{what}: {}", a.body);
        assert_eq!(
            a.body.replace(theirs, "X"),
            b.body.replace(none, "X"),
            "{what}"
        );
        no_secret(what, &a.body);
    };
    let link = |item: &str| json!({"kind":"link","case":ONE,"item":item,"target":"pl1","verification":"unverified"});
    same("item id", &w.two_only, "01ARZ3NDEKTSV4RRFFQ69G5FAV", &link);
    same("item digest", &w.two_only_sha, &"ab".repeat(32), &link);
    same(
        "digest prefix",
        &w.two_only_sha[..12],
        "0123456789ab",
        &link,
    );
    // The shortest id prefix that names the second case's item alone in the archive.
    let all_items: Vec<String> = call(base, &root, "GET", "/api/items", None).json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"]["id"].as_str().unwrap().to_owned())
        .collect();
    let n = (4..26)
        .find(|n| {
            all_items
                .iter()
                .filter(|i| i.starts_with(&w.two_only[..*n]))
                .count()
                == 1
        })
        .unwrap();
    same("id prefix", &w.two_only[..n], &"Z".repeat(n), &link);
    let person_ref = |r: &str| json!({"kind":"link","case":ONE,"item":w.shared,"target":r,"verification":"unverified"});
    same(
        "record id",
        &w.two_person,
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &person_ref,
    );
    same("record key", "p2", "no-such-key", &person_ref);
    same(
        "kind and key",
        "person:p2",
        "person:no-such-key",
        &person_ref,
    );
    let by_id =
        |id: &str| json!({"kind":"place","case":ONE,"id":id,"names":[{"name":"Synthetic"}]});
    same(
        "id of the record written",
        &w.two_person,
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &by_id,
    );
    let in_case = |c: &str| json!({"kind":"place","case":c,"names":[{"name":"Synthetic"}]});
    same("case", TWO, "no-such-case", &in_case);
    let edit_theirs = call(
        base,
        &inv,
        "PUT",
        &format!("/api/records/{}", w.two_person),
        Some(&json!({"kind":"person","case":ONE,"names":[{"name":"Synthetic"}]})),
    );
    let edit_none = call(
        base,
        &inv,
        "PUT",
        "/api/records/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        Some(&json!({"kind":"person","case":ONE,"names":[{"name":"Synthetic"}]})),
    );
    assert_eq!(
        (edit_theirs.status, edit_theirs.body.clone()),
        (edit_none.status, edit_none.body)
    );
    let del_theirs = call(
        base,
        &inv,
        "DELETE",
        &format!("/api/records/{}", w.two_person),
        None,
    );
    let del_none = call(
        base,
        &inv,
        "DELETE",
        "/api/records/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        None,
    );
    assert_eq!(
        (del_theirs.status, del_theirs.body.clone()),
        (del_none.status, del_none.body)
    );
    // A key used by another case is free in this one.
    let r = call(
        base,
        &inv,
        "POST",
        "/api/records",
        Some(&json!({"kind":"person","case":ONE,"key":"p2","names":[{"name":"Synthetic One"}]})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    no_secret("a key of the other case", &r.body);

    // The place of the first case is referred to by the second case's incident: its
    // referrers are listed only where seen.
    let r = call(
        base,
        &inv,
        "GET",
        &format!("/api/records/{}", w.place),
        None,
    )
    .json();
    assert_eq!(r["referred_by"], json!([]), "{r}");
    let r = call(
        base,
        &root,
        "GET",
        &format!("/api/records/{}", w.place),
        None,
    )
    .json();
    assert_eq!(r["referred_by"].as_array().unwrap().len(), 1, "{r}");
    drop(served);
    w.env.assert_verifies();
}

#[test]
fn job_errors_are_for_admins() {
    let env = Env::new();
    std::fs::write(
        env.path("broken.png"),
        b"\x89PNG\r\n\x1a\nnot really a picture",
    )
    .unwrap();
    let item = ingest(&env, ONE, "s", "n", &env.path("broken.png"));
    let out = env.run(&["jobs", "--run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.add_user("root", "admin", None, PW);
    env.add_user("viewone", "viewer", Some(ONE), PW);
    common::without_second_factor(&env.archive);
    let served = env.serve();
    let base = served.base.as_str();
    let path = format!("/api/items/{}", item["item"].as_str().unwrap());
    let admin = call(base, &login(base, "root"), "GET", &path, None).json();
    let failed: Vec<&Value> = admin["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| !j["error"].is_null())
        .collect();
    assert!(
        !failed.is_empty(),
        "a job failed on the broken picture: {admin}"
    );
    assert_ne!(failed[0]["error"], "failed; an admin can see why");
    let viewer = call(base, &login(base, "viewone"), "GET", &path, None).json();
    let errors: Vec<&Value> = viewer["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["error"])
        .filter(|e| !e.is_null())
        .collect();
    assert_eq!(errors.len(), failed.len(), "{viewer}");
    for e in errors {
        assert_eq!(*e, "failed; an admin can see why");
    }
}
