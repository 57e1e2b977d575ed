#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the web app's documentation pages read, against the built binary: a record's
//! history (`GET /api/records/{id}/history`: every custody event with the version it wrote,
//! protected source identities and their hashes hidden from those who may not read them,
//! 404 for another case's user as for a record that does not exist, kept after a delete),
//! and the cases list with each case's title and counts (`GET /api/cases`).

mod common;

use common::{http, session, without_second_factor, Env};
use serde_json::{json, Value};

const PW: &str = "synthetic-password-123";

struct Client {
    base: String,
    cookies: String,
    csrf: String,
}

impl Client {
    fn login(base: &str, user: &str) -> Client {
        let (cookies, csrf) = session(base, user, PW);
        Client {
            base: base.to_owned(),
            cookies,
            csrf,
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let a = http(
            "GET",
            &format!("{}{path}", self.base),
            &[("cookie", &self.cookies)],
            None,
        );
        (a.status, a.json())
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let text = body.map(Value::to_string);
        let a = http(
            method,
            &format!("{}{path}", self.base),
            &[("cookie", &self.cookies), ("x-csrf-token", &self.csrf)],
            text.as_deref(),
        );
        (a.status, a.json())
    }
}

fn id_of(v: &Value) -> String {
    v["applied"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn record_history_and_case_summaries() {
    let env = Env::new();
    without_second_factor(&env.archive);
    let file = env.path("synthetic.txt");
    std::fs::write(&file, b"synthetic evidence bytes").unwrap();
    let out = env.run_paths(&["ingest", "--case", "alpha"], &[&file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.add_user("root", "admin", None, PW);
    env.add_user("inv", "investigator", Some("alpha"), PW);
    env.add_user("invb", "investigator", Some("beta"), PW);
    let srv = env.serve();
    let root = Client::login(&srv.base, "root");
    let inv = Client::login(&srv.base, "inv");
    let invb = Client::login(&srv.base, "invb");

    // Cases are made and titled from the web by admins (a case is its case record).
    let (s, _) = inv.send(
        "POST",
        "/api/records",
        Some(&json!({"kind": "case", "case": "alpha", "title": "Not mine to title"})),
    );
    assert_eq!(s, 403, "investigators do not write case records");
    let (s, created) = root.send(
        "POST",
        "/api/records",
        Some(&json!({"kind": "case", "case": "alpha", "title": "Synthetic burnings"})),
    );
    assert_eq!(s, 201, "{created}");
    let alpha_record = id_of(&created);
    let (s, _) = root.send(
        "POST",
        "/api/records",
        Some(&json!({"kind": "case", "case": "beta", "title": "Synthetic second case", "description": "made from the web"})),
    );
    assert_eq!(s, 201);

    // An incident, created and edited: two versions, each with its value.
    let (s, created) = inv.send(
        "POST",
        "/api/records",
        Some(&json!({"kind": "incident", "case": "alpha", "title": "حرق الجثث", "date": "2012/2013"})),
    );
    assert_eq!(s, 201, "{created}");
    let inc = id_of(&created);
    let first_hash = created["applied"]["sha256"].as_str().unwrap().to_owned();
    let (s, edited) = inv.send(
        "PUT",
        &format!("/api/records/{inc}"),
        Some(&json!({"kind": "incident", "case": "alpha", "title": "حرق الجثث", "date": "2012/2013", "status": "corroborated"})),
    );
    assert_eq!(s, 200, "{edited}");
    let (s, h) = inv.get(&format!("/api/records/{inc}/history"));
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["id"], inc.as_str());
    assert_eq!(h["kind"], "incident");
    assert_eq!(h["deleted"], false);
    let events = h["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{h}");
    assert_eq!(events[0]["action"], "create");
    assert_eq!(events[0]["actor"], "inv");
    assert_eq!(events[0]["old"], Value::Null);
    assert_eq!(events[0]["new"], first_hash.as_str());
    assert_eq!(events[0]["value"]["title"], "حرق الجثث");
    assert!(events[0]["value"].get("status").is_none(), "{h}");
    assert_eq!(events[1]["action"], "edit");
    assert_eq!(events[1]["old"], first_hash.as_str());
    assert_eq!(events[1]["value"]["status"], "corroborated");
    assert_eq!(events[1]["value"]["id"], inc.as_str());
    assert!(events[0]["seq"].as_u64().unwrap() < events[1]["seq"].as_u64().unwrap());
    let (_, now) = inv.get(&format!("/api/records/{inc}"));
    assert_eq!(
        events[1]["new"], now["sha256"],
        "the last version is the record as stored"
    );

    // Another case's user, and a record that does not exist, get the same 404.
    let (s, theirs) = invb.get(&format!("/api/records/{inc}/history"));
    assert_eq!(s, 404);
    let (s, nowhere) = invb.get("/api/records/01ARZ3NDEKTSV4RRFFQ69G5FAV/history");
    assert_eq!(s, 404);
    assert_eq!(theirs, nowhere, "not yours reads as does not exist");
    assert_eq!(inv.get("/api/records/not-an-id/history").0, 400);
    assert_eq!(root.get(&format!("/api/records/{inc}/history")).0, 200);
    let anonymous = http(
        "GET",
        &format!("{}/api/records/{inc}/history", srv.base),
        &[],
        None,
    );
    assert_eq!(anonymous.status, 401);

    // A protected source: its identity and the hashes that would confirm a guess of it go
    // only to those who may read it (admins here; the case lists no other role).
    let (s, created) = root.send(
        "POST",
        "/api/records",
        Some(&json!({"kind": "source", "case": "alpha", "name": "W-17", "protection": "protected", "identity": "Synthetic Witness, +000 000"})),
    );
    assert_eq!(s, 201, "{created}");
    let src = id_of(&created);
    let (s, _) = root.send(
        "PUT",
        &format!("/api/records/{src}"),
        Some(&json!({"kind": "source", "case": "alpha", "name": "W-17", "protection": "protected", "identity": "Synthetic Witness, +000 000", "notes": "met twice"})),
    );
    assert_eq!(s, 200);
    let (s, seen) = inv.get(&format!("/api/records/{src}/history"));
    assert_eq!(s, 200);
    let text = seen.to_string();
    assert!(!text.contains("Synthetic Witness"), "{text}");
    for e in seen["events"].as_array().unwrap() {
        assert_eq!(e["value"]["identity"], "[protected]", "{e}");
        assert_eq!(e["new"], Value::Null, "{e}");
        assert_eq!(e["old"], Value::Null, "{e}");
    }
    assert_eq!(seen["events"][1]["value"]["notes"], "met twice");
    let (_, full) = root.get(&format!("/api/records/{src}/history"));
    assert_eq!(
        full["events"][1]["value"]["identity"],
        "Synthetic Witness, +000 000"
    );
    assert!(full["events"][1]["new"].is_string() && full["events"][1]["old"].is_string());

    // A record referred to is not deleted (409); once deleted, its history stays.
    let (s, created) = inv.send(
        "POST",
        "/api/records",
        Some(&json!({"kind": "act", "case": "alpha", "incident": inc, "violation": "destruction_of_remains"})),
    );
    assert_eq!(s, 201, "{created}");
    let act = id_of(&created);
    let (s, refused) = inv.send("DELETE", &format!("/api/records/{inc}"), None);
    assert_eq!(s, 409, "{refused}");
    assert_eq!(
        inv.send("DELETE", &format!("/api/records/{act}"), None).0,
        200
    );
    assert_eq!(
        inv.send("DELETE", &format!("/api/records/{inc}"), None).0,
        200
    );
    let (s, h) = inv.get(&format!("/api/records/{inc}/history"));
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["deleted"], true);
    let actions: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "edit", "delete"]);
    assert_eq!(h["events"][2]["value"], Value::Null);
    assert_eq!(invb.get(&format!("/api/records/{inc}/history")).0, 404);

    // The cases list: names as before, and each case's title and counts.
    let (s, cases) = inv.get("/api/cases");
    assert_eq!(s, 200);
    assert_eq!(cases["cases"], json!(["alpha"]));
    let alpha = &cases["details"][0];
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(alpha["title"], "Synthetic burnings");
    assert_eq!(alpha["record"], alpha_record.as_str());
    assert_eq!(alpha["items"], 1);
    assert_eq!(
        alpha["records"], 1,
        "the source (the incident and act are deleted): {alpha}"
    );
    let (_, cases) = invb.get("/api/cases");
    assert_eq!(cases["cases"], json!(["beta"]));
    assert_eq!(cases["details"][0]["title"], "Synthetic second case");
    assert_eq!(cases["details"][0]["description"], "made from the web");
    assert_eq!(cases["details"][0]["items"], 0);
    assert_eq!(cases["details"][0]["records"], 0);
    let (_, all) = root.get("/api/cases");
    assert_eq!(all["cases"], json!(["alpha", "beta"]));
    assert_eq!(all["details"].as_array().unwrap().len(), 2);

    // A case's title is edited from the web by an admin.
    let (s, _) = root.send(
        "PUT",
        &format!("/api/records/{alpha_record}"),
        Some(&json!({"kind": "case", "case": "alpha", "title": "Synthetic burnings, 2012–2013"})),
    );
    assert_eq!(s, 200);
    let (_, cases) = inv.get("/api/cases");
    assert_eq!(
        cases["details"][0]["title"],
        "Synthetic burnings, 2012–2013"
    );
}
