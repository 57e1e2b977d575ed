#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `athar serve` and `athar user` end to end: the built binary serves a synthetic archive on
//! 127.0.0.1:0 and is called over HTTP.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

fn athar(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_athar"))
        .arg("--archive")
        .arg(dir.join("archive"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "athar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

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

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let mut req = ureq::request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match body {
        Some(b) => req.set("content-type", "application/json").send_string(b),
        None => req.call(),
    };
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let mut headers = Vec::new();
    for name in resp.headers_names() {
        for v in resp.all(&name) {
            headers.push((name.clone(), v.to_owned()));
        }
    }
    let body = resp.into_string().unwrap_or_default();
    Resp {
        status,
        headers,
        body,
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
    athar(dir, &["init", "--name", "test"], None);
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

    // Anonymous callers: 401 on every non-public route of the route table.
    for route in athar_server::routes::ROUTES {
        let path = route.path.replace("{id}", &item_a);
        let r = call(route.method.as_str(), &url(&path), &[], None);
        if route.public {
            assert_ne!(r.status, 401, "{} {}", route.method.as_str(), route.path);
        } else {
            assert_eq!(r.status, 401, "{} {}", route.method.as_str(), route.path);
        }
    }
    // The served OpenAPI document lists exactly the route table.
    let doc = call("GET", &url("/api/openapi.json"), &[], None).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let n: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_object().unwrap().len())
        .sum();
    assert_eq!(n, athar_server::routes::ROUTES.len());
    for route in athar_server::routes::ROUTES {
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
