#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `athar serve` and `athar user` end to end: the built binary serves a synthetic archive on
//! 127.0.0.1:0 and is called over HTTP.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use common::athar_in as athar;
use common::{http as call, Answer as Resp};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A logged-in session: the cookie header and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn login(base: &str, user: &str, password: &str) -> Resp {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    call("POST", &format!("{base}/api/login"), &[], Some(&body))
}

fn session(base: &str, user: &str, password: &str) -> Session {
    let r = login(base, user, password);
    assert_eq!(r.status, 200, "{}", r.body);
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    let sc = cookies
        .iter()
        .find(|c| c.starts_with("athar_session="))
        .unwrap();
    assert!(
        sc.contains("HttpOnly") && sc.contains("SameSite=Strict"),
        "{sc}"
    );
    assert!(!sc.contains("Secure"), "no --behind-tls: {sc}");
    let pair = |c: &str| c.split(';').next().unwrap().to_owned();
    let cookie = cookies
        .iter()
        .map(|c| pair(c))
        .collect::<Vec<_>>()
        .join("; ");
    Session {
        cookie,
        csrf: r.json()["csrf_token"].as_str().unwrap().to_owned(),
    }
}

const PW: &str = "synthetic-password-123";

fn setup(dir: &Path) -> Server {
    prepare(dir);
    start(dir)
}

/// A synthetic archive: items a.txt (case alpha) and b.txt (beta), a protected source in
/// alpha, users root (admin), inv (investigator, alpha), ana (analyst, alpha) and view
/// (viewer, beta).
fn prepare(dir: &Path) {
    athar(dir, &["init", "--name", "test"], None);
    common::without_second_factor(&dir.join("archive"));
    std::fs::write(dir.join("a.txt"), b"synthetic evidence A\n").unwrap();
    std::fs::write(dir.join("b.txt"), b"synthetic evidence B\n").unwrap();
    athar(
        dir,
        &[
            "ingest",
            "--case",
            "alpha",
            dir.join("a.txt").to_str().unwrap(),
        ],
        None,
    );
    athar(
        dir,
        &[
            "ingest",
            "--case",
            "beta",
            dir.join("b.txt").to_str().unwrap(),
        ],
        None,
    );
    // Investigators on alpha may read its protected sources' identities; analysts may not.
    athar(
        dir,
        &["case", "add", "alpha", "--protected-reader", "investigator"],
        None,
    );
    athar(
        dir,
        &[
            "source",
            "add",
            "--case",
            "alpha",
            "--name",
            "W-17",
            "--type",
            "witness",
            "--protection",
            "protected",
            "--identity",
            "Synthetic Person, +000 000",
        ],
        None,
    );
    let pw = format!("{PW}\n");
    for (name, role, case) in [
        ("root", "admin", None),
        ("inv", "investigator", Some("alpha")),
        ("ana", "analyst", Some("alpha")),
        ("view", "viewer", Some("beta")),
    ] {
        let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
        if let Some(c) = case {
            args.extend(["--case", c]);
        }
        athar(dir, &args, Some(&pw));
    }
}

/// Starts `athar serve` on a free port.
fn start(dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_athar"))
        .arg("--archive")
        .arg(dir.join("archive"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("Listening on ")
        .unwrap()
        .to_owned();
    Server { child, base }
}

#[test]
fn api_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let srv = setup(dir.path());
    let base = &srv.base;
    let url = |p: &str| format!("{base}{p}");

    // Users listed by the CLI (while the server holds the writer lock).
    let list = athar(dir.path(), &["user", "list", "--json"], None);
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 4);

    let root = session(base, "root", PW);
    let inv = session(base, "inv", PW);
    let ana = session(base, "ana", PW);
    let view = session(base, "view", PW);
    let get = |s: &Session, p: &str| call("GET", &url(p), &[("cookie", &s.cookie)], None);

    // Items per case; ids of the two items.
    let items = |s: &Session| -> Vec<String> {
        let r = get(s, "/api/items");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = items(&root);
    assert_eq!(all.len(), 2);
    let a_items = get(&root, "/api/items?case=alpha").json();
    let item_a = a_items["items"][0]["item"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item_b = all.iter().find(|i| **i != item_a).unwrap().clone();
    assert_eq!(items(&inv), vec![item_a.clone()]);
    assert_eq!(items(&ana), vec![item_a.clone()]);
    assert_eq!(items(&view), vec![item_b.clone()]);

    // Role × case membership matrix for the read API.
    let record = get(&root, "/api/records?case=alpha&kind=source").json()["records"][0].clone();
    let rec_id = record["id"].as_str().unwrap().to_owned();
    assert_eq!(
        record["identity"], "Synthetic Person, +000 000",
        "admin sees identities"
    );
    for (s, alpha, beta) in [
        (&root, true, true),
        (&inv, true, false),
        (&ana, true, false),
        (&view, false, true),
    ] {
        let cases = get(s, "/api/cases").json()["cases"].clone();
        let expect: Vec<&str> = [("alpha", alpha), ("beta", beta)]
            .iter()
            .filter(|(_, v)| *v)
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(cases, serde_json::json!(expect));
        let code = |ok: bool| if ok { 200 } else { 404 };
        assert_eq!(get(s, &format!("/api/items/{item_a}")).status, code(alpha));
        assert_eq!(get(s, &format!("/api/items/{item_b}")).status, code(beta));
        assert_eq!(get(s, "/api/items?case=alpha").status, code(alpha));
        assert_eq!(get(s, "/api/items?case=beta").status, code(beta));
        assert_eq!(
            get(s, &format!("/api/records/{rec_id}")).status,
            code(alpha)
        );
        assert_eq!(get(s, "/api/records?case=alpha").status, code(alpha));
        assert_eq!(get(s, "/api/search?q=&case=beta").status, code(beta));
        let hits = get(s, "/api/search?q=W-17").json();
        let found = hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == rec_id.as_str());
        assert_eq!(found, alpha, "search restricted to member cases");
    }
    // Protected identities: redacted for roles the case does not list, shown to those it
    // lists (investigators on alpha).
    let r = get(&ana, &format!("/api/records/{rec_id}")).json();
    assert_eq!(r["record"]["identity"], "[protected]");
    let r = get(&ana, "/api/records?kind=source").json();
    assert_eq!(r["records"][0]["identity"], "[protected]");
    let r = get(&inv, &format!("/api/records/{rec_id}")).json();
    assert_eq!(r["record"]["identity"], "Synthetic Person, +000 000");
    let r = get(&inv, "/api/records?kind=source").json();
    assert_eq!(r["records"][0]["identity"], "Synthetic Person, +000 000");

    // Ids are validated: no traversal, no prefixes.
    assert_eq!(
        get(&root, "/api/items/..%2F..%2Fcatalog.sqlite").status,
        400
    );
    assert_eq!(
        get(&root, &format!("/api/items/{}", &item_a[..10])).status,
        400
    );

    // Content download: octet-stream attachment, access event logged.
    let r = get(&inv, &format!("/api/items/{item_a}/content?purpose=review"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "synthetic evidence A\n");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(
        get(&view, &format!("/api/items/{item_a}/content")).status,
        404
    );
    let show = athar(dir.path(), &["show", "--json", &item_a], None);
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    let access: Vec<&Value> = show["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "access")
        .collect();
    assert_eq!(access.len(), 1, "one access event: {show}");
    assert_eq!(access[0]["details"]["via"], "athar serve");
    assert_eq!(access[0]["details"]["purpose"], "review");
    assert_eq!(access[0]["actor"], "inv");

    // Security headers on every kind of response.
    for r in [
        get(&root, "/api/cases"),
        call("GET", &url("/health"), &[], None),
        call("GET", &url("/api/cases"), &[], None),
        call("GET", &url("/no/such/route"), &[], None),
    ] {
        assert!(r
            .header("content-security-policy")
            .unwrap()
            .contains("default-src"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
    }

    // Anonymous callers: 401 on every non-public API route of the route table; a page
    // that is not public sends them to the log-in page.
    for route in athar_server::routes::ROUTES {
        let path = route
            .path
            .replace("{id}", &item_a)
            .replace("{variant}", "blurred")
            .replace("{seq}", "1")
            .replace("{*path}", "js/main.js")
            .replace("{case}", "alpha");
        let r = call(route.method.as_str(), &url(&path), &[], None);
        let what = format!("{} {}", route.method.as_str(), route.path);
        match (route.public, route.page) {
            (true, _) => assert_ne!(r.status, 401, "{what}"),
            (false, false) => assert_eq!(r.status, 401, "{what}"),
            (false, true) => {
                assert_eq!(r.status, 303, "{what}");
                assert_eq!(r.header("location"), Some("/login"), "{what}");
            }
        }
    }
    // Logged in, the same pages are served.
    let page = get(&inv, "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/assets/js/main.js"));
    let script = get(&inv, "/assets/js/main.js");
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(call("GET", &url("/assets/nope.js"), &[], None).status, 404);
    assert_eq!(
        call("GET", &url("/assets/..%2Fsrc%2Flib.rs"), &[], None).status,
        404
    );
    // The served OpenAPI document lists exactly the route table.
    let doc = call("GET", &url("/api/openapi.json"), &[], None).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let n: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_object().unwrap().len())
        .sum();
    let api_routes = athar_server::routes::ROUTES.iter().filter(|r| !r.page);
    assert_eq!(n, api_routes.clone().count());
    for route in api_routes {
        assert!(doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()].is_object());
    }

    // CSRF: a cookie-authenticated change needs the session's token.
    let body = Some(r#"{"name":"ci"}"#);
    let no_csrf = call(
        "POST",
        &url("/api/tokens"),
        &[("cookie", &inv.cookie)],
        body,
    );
    assert_eq!(no_csrf.status, 403);
    let wrong = call(
        "POST",
        &url("/api/tokens"),
        &[("cookie", &inv.cookie), ("x-csrf-token", &ana.csrf)],
        body,
    );
    assert_eq!(wrong.status, 403);
    let created = call(
        "POST",
        &url("/api/tokens"),
        &[("cookie", &inv.cookie), ("x-csrf-token", &inv.csrf)],
        body,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let tok = created.json();
    let bearer = format!("Bearer {}", tok["token"].as_str().unwrap());
    let tid = tok["id"].as_i64().unwrap();

    // Token: works, sees only its user's cases, cannot be revoked by another member,
    // and stops working once revoked.
    let with_token = |p: &str| call("GET", &url(p), &[("authorization", &bearer)], None);
    assert_eq!(
        with_token("/api/cases").json()["cases"],
        serde_json::json!(["alpha"])
    );
    assert_eq!(with_token(&format!("/api/items/{item_b}")).status, 404);
    let other = call(
        "DELETE",
        &url(&format!("/api/tokens/{tid}")),
        &[("cookie", &ana.cookie), ("x-csrf-token", &ana.csrf)],
        None,
    );
    assert_eq!(other.status, 404);
    let revoke = call(
        "DELETE",
        &url(&format!("/api/tokens/{tid}")),
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(revoke.status, 204);
    assert_eq!(with_token("/api/cases").status, 401);

    // Logout ends the session.
    let out = call(
        "POST",
        &url("/api/logout"),
        &[("cookie", &ana.cookie), ("x-csrf-token", &ana.csrf)],
        None,
    );
    assert_eq!(out.status, 204);
    assert_eq!(get(&ana, "/api/cases").status, 401);

    // Disabling a user ends their sessions at once.
    athar(dir.path(), &["user", "disable", "view"], None);
    assert_eq!(get(&view, "/api/cases").status, 401);

    // Login rate limit: 5 failures a minute, then even the right password is refused.
    for _ in 0..5 {
        assert_eq!(login(base, "inv", "wrong password!").status, 401);
    }
    let r = login(base, "inv", PW);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());

    // Oversized bodies are refused.
    let big = format!(r#"{{"username":"{}","password":"x"}}"#, "a".repeat(100_000));
    assert_eq!(
        call("POST", &url("/api/login"), &[], Some(&big)).status,
        413
    );
}

/// Makes a 2-second synthetic clip with FFmpeg (`vf` applied to a test pattern). None (with
/// a notice) when FFmpeg is missing; under `CI=true` that fails.
fn clip(dir: &Path, name: &str, vf: &str) -> Option<std::path::PathBuf> {
    common::clip_at(dir.join(name), "testsrc2=s=192x144:r=10", "2", vf)
}

fn access_events(dir: &Path, item: &str) -> Vec<Value> {
    let show = athar(dir, &["show", "--json", item], None);
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    show["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "access")
        .cloned()
        .collect()
}

#[test]
fn review_views_settings_ranges_proofs_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    prepare(d);
    let Some(original) = clip(d, "original.mp4", "null") else {
        return;
    };
    let copy = clip(d, "copy.mp4", "scale=160:120").unwrap();
    let other_case_copy = clip(d, "copy-beta.mp4", "eq=brightness=0.05").unwrap();
    let ingest = |case: &str, p: &Path| -> String {
        let out = athar(
            d,
            &[
                "ingest",
                "--json",
                "--wait",
                "--case",
                case,
                p.to_str().unwrap(),
            ],
            None,
        );
        common::first_item(&out.stdout)
    };
    let vid = ingest("alpha", &original);
    let vcopy = ingest("alpha", &copy);
    let vbeta = ingest("beta", &other_case_copy);
    let rec = |args: &[&str]| {
        let out = athar(d, args, None);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    rec(&[
        "place",
        "add",
        "--case",
        "alpha",
        "--name",
        "Synthetic Village",
        "--coordinates",
        "33.10,36.40",
        "--key",
        "village",
    ]);
    rec(&[
        "incident",
        "add",
        "--case",
        "alpha",
        "--title",
        "Shelling of the synthetic village",
        "--date",
        "2012-03/2012-05",
        "--place",
        "village",
    ]);
    rec(&[
        "incident",
        "add",
        "--case",
        "beta",
        "--title",
        "Beta-only incident",
        "--date",
        "2013",
    ]);
    let srv = start(d);
    let base = &srv.base;
    let url = |p: &str| format!("{base}{p}");
    let root = session(base, "root", PW);
    let inv = session(base, "inv", PW);
    let ana = session(base, "ana", PW);
    let view = session(base, "view", PW);
    let get = |s: &Session, p: &str| call("GET", &url(p), &[("cookie", &s.cookie)], None);
    let get_h = |s: &Session, p: &str, h: (&str, &str)| {
        call("GET", &url(p), &[("cookie", &s.cookie), h], None)
    };

    // The caller and their safe-review defaults: safe until changed, per user, CSRF-guarded.
    let m = get(&ana, "/api/me").json();
    assert_eq!(m["user"], "ana");
    assert_eq!(m["role"], "analyst");
    assert_eq!(m["cases"], serde_json::json!(["alpha"]));
    assert_eq!(
        m["settings"],
        serde_json::json!({"blur": true, "greyscale": true, "muted": true, "autoplay": false, "lang": ""})
    );
    let change = Some(r#"{"blur":false,"autoplay":true}"#);
    let post = |s: &Session, csrf: Option<&str>, body: Option<&str>| {
        let mut h = vec![("cookie", s.cookie.as_str())];
        if let Some(c) = csrf {
            h.push(("x-csrf-token", c));
        }
        call("POST", &url("/api/me/settings"), &h, body)
    };
    assert_eq!(post(&ana, None, change).status, 403);
    let r = post(&ana, Some(&ana.csrf), change);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({"blur": false, "greyscale": true, "muted": true, "autoplay": true, "lang": ""})
    );
    assert_eq!(get(&ana, "/api/me/settings").json()["blur"], false);
    assert_eq!(
        get(&inv, "/api/me/settings").json()["blur"],
        true,
        "per user"
    );
    assert_eq!(
        post(&ana, Some(&ana.csrf), Some(r#"{"blur":"no"}"#)).status,
        400
    );
    assert_eq!(
        post(&ana, Some(&ana.csrf), Some(r#"{"sound":true}"#)).status,
        400
    );

    // Review images: three variants made by the jobs; blurred and greyscale are not
    // evidence views, clear is (an access event on the evidence item).
    let r = get(&inv, &format!("/api/items/{vid}/review")).json();
    assert_eq!(r["first_shown"], "blurred");
    let variants = &r["images"][0]["variants"];
    for v in ["blurred", "greyscale", "clear"] {
        assert!(variants.as_array().unwrap().contains(&v.into()), "{r}");
    }
    assert_eq!(
        get(&ana, &format!("/api/items/{vid}/review")).json()["first_shown"],
        "greyscale"
    );
    let before = access_events(d, &vid).len();
    let mut pictures = Vec::new();
    for v in ["blurred", "greyscale"] {
        let img = get(&inv, &format!("/api/items/{vid}/review/{v}"));
        assert_eq!(img.status, 200, "{v}");
        assert_eq!(img.header("content-type"), Some("image/jpeg"));
        assert_eq!(&img.bytes[..2], &[0xff, 0xd8], "a JPEG");
        pictures.push(review_pixels(&img.bytes));
    }
    assert_eq!(
        access_events(d, &vid).len(),
        before,
        "safe variants are not logged"
    );
    let clear = get(
        &inv,
        &format!("/api/items/{vid}/review/clear?purpose=triage"),
    );
    assert_eq!(clear.status, 200);
    // Checked on the pixels: the blurred variant is grey and has lost the fine detail.
    let clear_px = review_pixels(&clear.bytes);
    let (blurred_px, grey_px) = (&pictures[0], &pictures[1]);
    assert_eq!(blurred_px.dimensions(), clear_px.dimensions());
    assert!(
        is_grey(blurred_px) && is_grey(grey_px),
        "greyscale variants"
    );
    assert!(!is_grey(&clear_px), "the clear variant has colour");
    let (hb, hg, hc) = (detail(blurred_px), detail(grey_px), detail(&clear_px));
    assert!(
        hb * 4.0 < hc && hb * 4.0 < hg,
        "blurred {hb}, greyscale {hg}, clear {hc}"
    );
    let acc = access_events(d, &vid);
    assert_eq!(acc.len(), before + 1, "a clear view is an access");
    assert_eq!(acc.last().unwrap()["actor"], "inv");
    assert_eq!(
        acc.last().unwrap()["details"]["purpose"],
        "clear review image: triage"
    );
    assert_eq!(
        get(&inv, &format!("/api/items/{vid}/review/sepia")).status,
        400
    );
    for (s, code) in [(&root, 200), (&inv, 200), (&ana, 200), (&view, 404)] {
        assert_eq!(get(s, &format!("/api/items/{vid}/review")).status, code);
        assert_eq!(
            get(s, &format!("/api/items/{vid}/review/blurred")).status,
            code
        );
        assert_eq!(
            get(s, &format!("/api/items/{vid}/review/clear")).status,
            code
        );
    }
    // A text item has no review image.
    let text_item = get(&root, "/api/items?case=beta").json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"]["id"].as_str().unwrap().to_owned())
        .find(|i| *i != vbeta)
        .unwrap();
    assert_eq!(
        get(&root, &format!("/api/items/{text_item}/review/blurred")).status,
        404
    );

    // Near-duplicates: the re-encoded copy; the beta copy only for those who may see beta.
    let dups = |s: &Session, id: &str| -> Vec<String> {
        let r = get(s, &format!("/api/items/{id}/similar"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["fingerprinted"], true);
        r.json()["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["item"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut all = dups(&root, &vid);
    all.sort();
    let mut expect = vec![vcopy.clone(), vbeta.clone()];
    expect.sort();
    assert_eq!(all, expect);
    assert_eq!(dups(&inv, &vid), vec![vcopy.clone()]);
    assert_eq!(
        dups(&view, &vbeta),
        Vec::<String>::new(),
        "alpha copies stay hidden"
    );
    assert_eq!(get(&view, &format!("/api/items/{vid}/similar")).status, 404);
    let r = get(&root, &format!("/api/items/{text_item}/similar")).json();
    assert_eq!(r["fingerprinted"], false);

    // Range requests on content: 206 with Content-Range, the exact bytes; 416 beyond the end.
    let bytes = std::fs::read(&original).unwrap();
    let n = bytes.len();
    let content = format!("/api/items/{vid}/content");
    let whole = get(&inv, &content);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.bytes, bytes);
    let before = access_events(d, &vid).len();
    for (range, first, last) in [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, n - 1),
        ("bytes=-5", n - 5, n - 1),
        (&*format!("bytes=100-{}", n + 1000), 100, n - 1),
        (&*format!("bytes=-{}", n + 7), 0, n - 1),
        (&*format!("bytes={}-{}", n - 1, n - 1), n - 1, n - 1),
    ] {
        let r = get_h(&inv, &content, ("range", range));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {first}-{last}/{n}").as_str()),
            "{range}"
        );
        assert_eq!(r.bytes, &bytes[first..=last], "{range}");
        assert_eq!(
            r.header("content-length"),
            Some((last - first + 1).to_string().as_str())
        );
    }
    for range in [
        format!("bytes={n}-"),
        format!("bytes={}-{}", n + 5, n + 9),
        "bytes=-0".into(),
    ] {
        let r = get_h(&inv, &content, ("range", &range));
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{n}").as_str()),
            "{range}"
        );
    }
    // Malformed or multiple ranges: the whole content, as RFC 9110 allows.
    for range in ["bytes=5-2", "bytes=0-1,4-5", "items=0-5", "bytes=x-"] {
        let r = get_h(&inv, &content, ("range", range));
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.bytes.len(), n, "{range}");
    }
    // One viewing is one access event: a player's range requests within the window are
    // covered by the caller's access already logged (the whole download above).
    assert_eq!(
        access_events(d, &vid).len(),
        before,
        "covered by the viewing"
    );
    assert_eq!(get(&inv, &content).status, 200);
    assert_eq!(
        access_events(d, &vid).len(),
        before + 1,
        "a request without Range is always logged"
    );
    let before = before + 1;
    assert_eq!(get_h(&view, &content, ("range", "bytes=0-9")).status, 404);
    let r = get_h(&ana, &content, ("range", "bytes=0-9"));
    assert_eq!(r.status, 206);
    let acc = access_events(d, &vid);
    assert_eq!(
        acc.len(),
        before + 1,
        "another user's first range request is logged"
    );
    assert_eq!(acc.last().unwrap()["actor"], "ana");

    // Custody: each event's offline proof, checked by `athar log verify-proof` with the
    // key served by the API.
    let item = get(&inv, &format!("/api/items/{vid}")).json();
    assert!(item["fingerprints"]
        .as_array()
        .unwrap()
        .contains(&"vpdq".into()));
    let events = item["events"].as_array().unwrap();
    let vkey = get(&inv, "/api/log/vkey");
    assert_eq!(vkey.status, 200);
    std::fs::write(d.join("athar.vkey"), &vkey.bytes).unwrap();
    let cp = get(&inv, "/api/log/checkpoint");
    assert_eq!(cp.status, 200);
    assert!(cp.body.lines().nth(1).is_some());
    for e in [&events[0], events.last().unwrap()] {
        let seq = e["seq"].as_u64().unwrap();
        let r = get(&inv, &format!("/api/items/{vid}/events/{seq}/proof"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r
            .header("content-disposition")
            .unwrap()
            .contains(".tlog-proof"));
        let file = d.join(format!("event-{seq}.tlog-proof"));
        std::fs::write(&file, &r.bytes).unwrap();
        let out = athar(
            d,
            &[
                "log",
                "verify-proof",
                "--json",
                file.to_str().unwrap(),
                "--vkey",
                d.join("athar.vkey").to_str().unwrap(),
            ],
            None,
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["item"], vid.as_str());
        assert_eq!(v["index"], seq - 1);
        assert_eq!(v["event"], e["kind"]);
    }
    // A tampered proof fails.
    let mut bad = get(&inv, &format!("/api/items/{vid}/events/1/proof")).bytes;
    let last = bad.len() - 3;
    bad[last] ^= 1;
    std::fs::write(d.join("bad.tlog-proof"), &bad).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_athar"))
        .args(["log", "verify-proof", "--vkey"])
        .arg(d.join("athar.vkey"))
        .arg(d.join("bad.tlog-proof"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a tampered proof is refused");
    // Another item's event, an unknown event, a bad number, a case the caller is not on.
    let copy_seq = get(&inv, &format!("/api/items/{vcopy}")).json()["events"][0]["seq"]
        .as_u64()
        .unwrap();
    assert_eq!(
        get(&inv, &format!("/api/items/{vid}/events/{copy_seq}/proof")).status,
        404
    );
    assert_eq!(
        get(&inv, &format!("/api/items/{vid}/events/99999/proof")).status,
        404
    );
    assert_eq!(
        get(&inv, &format!("/api/items/{vid}/events/x/proof")).status,
        400
    );
    assert_eq!(
        get(&inv, &format!("/api/items/{vid}/events/0/proof")).status,
        400
    );
    assert_eq!(
        get(&view, &format!("/api/items/{vid}/events/1/proof")).status,
        404
    );

    // Incidents with dates and coordinates, only of the caller's cases.
    let titles = |s: &Session, q: &str| -> Vec<String> {
        let r = get(s, &format!("/api/incidents{q}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles(&root, "").len(), 2);
    assert_eq!(titles(&inv, ""), vec!["Shelling of the synthetic village"]);
    assert_eq!(titles(&view, ""), vec!["Beta-only incident"]);
    assert_eq!(get(&view, "/api/incidents?case=alpha").status, 404);
    let inc = &get(&ana, "/api/incidents").json()["incidents"][0];
    assert_eq!(inc["date"], "2012-03/2012-05");
    assert_eq!(inc["start"], "2012-03-01");
    assert_eq!(inc["end"], "2012-05-31");
    assert_eq!(inc["places"][0]["name"], "Synthetic Village");
    assert_eq!(inc["places"][0]["lat"], 33.1);
    assert_eq!(inc["places"][0]["lon"], 36.4);

    // Search facets pass through (violation, date).
    let r = get(&inv, "/api/search?q=&kind=incident&date=2012");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["total"], 1);
    assert_eq!(get(&inv, "/api/search?q=&date=someday").status, 400);

    // The archive still verifies: every access above is in the log.
    drop(srv);
    let out = Command::new(env!("CARGO_BIN_EXE_athar"))
        .arg("--archive")
        .arg(d.join("archive"))
        .args(["verify", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A video analysed by an earlier build (here: before frame variants existed) gets the
/// current variants from the server's job runner, without `athar jobs --run`.
/// The web app's language per user: `"en"`, `"ar"` or `""` (the browser's), kept with the
/// other settings; anything else is refused naming the field, and changes nothing.
#[test]
fn language_setting_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let srv = setup(dir.path());
    let base = &srv.base;
    let ana = session(base, "ana", PW);
    let inv = session(base, "inv", PW);
    let settings = |s: &Session| {
        call(
            "GET",
            &format!("{base}/api/me/settings"),
            &[("cookie", &s.cookie)],
            None,
        )
        .json()
    };
    let post = |s: &Session, body: &str| {
        call(
            "POST",
            &format!("{base}/api/me/settings"),
            &[("cookie", &s.cookie), ("x-csrf-token", &s.csrf)],
            Some(body),
        )
    };
    assert_eq!(settings(&ana)["lang"], "", "the browser's until chosen");
    let check = |body: &str, status: u16, lang: &str| {
        let r = post(&ana, body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        if status == 200 {
            assert_eq!(r.json()["lang"], lang, "{body}");
        } else {
            assert!(
                r.json()["error"].as_str().unwrap().contains("lang"),
                "{body}: {}",
                r.body
            );
        }
        assert_eq!(settings(&ana)["lang"], lang, "{body}: kept");
    };
    check(r#"{"lang":"ar"}"#, 200, "ar");
    // Another field left out keeps its value; lang left out or null keeps it too.
    check(r#"{"blur":false}"#, 200, "ar");
    check(r#"{"lang":null}"#, 200, "ar");
    assert_eq!(
        settings(&ana)["blur"],
        false,
        "a language change keeps the rest"
    );
    check(r#"{"lang":"fr"}"#, 400, "ar");
    check(r#"{"lang":"AR"}"#, 400, "ar");
    check(r#"{"lang":"ar-SY"}"#, 400, "ar");
    check(r#"{"lang":5}"#, 400, "ar");
    check(r#"{"lang":"en"}"#, 200, "en");
    check(r#"{"lang":""}"#, 200, "");
    check(r#"{"lang":"ar"}"#, 200, "ar");
    let me = call(
        "GET",
        &format!("{base}/api/me"),
        &[("cookie", &ana.cookie)],
        None,
    )
    .json();
    assert_eq!(me["settings"]["lang"], "ar", "in /api/me for the app");
    assert_eq!(settings(&inv)["lang"], "", "per user");
    // CSRF-guarded like every change.
    let r = call(
        "POST",
        &format!("{base}/api/me/settings"),
        &[("cookie", &inv.cookie)],
        Some(r#"{"lang":"ar"}"#),
    );
    assert_eq!(r.status, 403);
    assert_eq!(settings(&inv)["lang"], "");
}

#[test]
fn the_server_makes_out_of_date_frame_variants_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    athar(d, &["init", "--name", "test"], None);
    let Some(video) = clip(d, "clip.mp4", "null") else {
        return;
    };
    let out = athar(
        d,
        &["ingest", "--json", "--wait", video.to_str().unwrap()],
        None,
    );
    let item = common::first_item(&out.stdout);
    let db = rusqlite::Connection::open(d.join("archive/catalog.sqlite")).unwrap();
    let variants = |db: &rusqlite::Connection| -> Option<(String, String)> {
        db.query_row(
            "SELECT algorithm_version, data FROM fingerprints
             WHERE item_id = ?1 AND algorithm = 'vpdq-variants'",
            [&item],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok()
    };
    let made = variants(&db).expect("the fingerprint job made variants");
    db.execute(
        "DELETE FROM fingerprints WHERE item_id = ?1 AND algorithm = 'vpdq-variants'",
        [&item],
    )
    .unwrap();
    let srv = start(d);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let remade = loop {
        if let Some(v) = variants(&db) {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not make the variants again"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    drop(srv);
    assert_eq!(remade, made);
    let job: (String, String) = db
        .query_row(
            "SELECT kind, state FROM jobs WHERE item_id = ?1 AND kind = 'variants'",
            [&item],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(job, ("variants".to_owned(), "done".to_owned()));
}

/// A review image's pixels, as RGB.
fn review_pixels(jpeg: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("a decodable JPEG")
        .to_rgb8()
}

/// Every pixel grey (R, G and B within JPEG rounding of each other).
fn is_grey(img: &image::RgbImage) -> bool {
    img.pixels().all(|p| {
        let (lo, hi) = (p.0.iter().min().copied(), p.0.iter().max().copied());
        matches!((lo, hi), (Some(lo), Some(hi)) if hi - lo <= 2)
    })
}

/// Fine detail: the mean absolute Laplacian of the luma (smooth gradients count for
/// nothing, edges and texture for much).
fn detail(img: &image::RgbImage) -> f64 {
    let g = image::DynamicImage::ImageRgb8(img.clone()).to_luma8();
    let (w, h) = g.dimensions();
    let at = |x: u32, y: u32| f64::from(g.get_pixel(x, y)[0]);
    let (mut sum, mut n) = (0f64, 0f64);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let l = 4.0 * at(x, y) - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1);
            sum += l.abs();
            n += 1.0;
        }
    }
    sum / n.max(1.0)
}
