#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The writing API against the built binary. Resumable uploads (tus 1.0.0): complete,
//! interrupted by a dropped connection and resumed with HEAD, resumed across a server crash,
//! terminated; refused for the wrong offset, content type, role, case, size or protocol
//! version. Records: role × case membership for create, edit, delete and annotate.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

const PW: &str = "synthetic-password-123";

use common::athar_in as athar;

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

fn start(dir: &Path) -> Server {
    let mut child = Command::new(common::athar_bin())
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

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let mut req = ureq::request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match body {
        Some(b) => req.send_bytes(b),
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

/// A bearer token for `user`.
fn token(base: &str, user: &str) -> String {
    let body = serde_json::json!({ "username": user, "password": PW }).to_string();
    let r = call(
        "POST",
        &format!("{base}/api/login"),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();
    let t = call(
        "POST",
        &format!("{base}/api/tokens"),
        &[
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
            ("content-type", "application/json"),
        ],
        Some(br#"{"name":"upload test"}"#),
    );
    assert_eq!(t.status, 201, "{}", t.body);
    format!("Bearer {}", t.json()["token"].as_str().unwrap())
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

const TUS: (&str, &str) = ("tus-resumable", "1.0.0");

fn create(base: &str, auth: &str, length: u64, case: &str) -> Resp {
    let meta = format!(
        "filename {},case {},source {},note {}",
        b64("clip one.mp4"),
        b64(case),
        b64("synthetic channel"),
        b64("upload test")
    );
    call(
        "POST",
        &format!("{base}/api/uploads"),
        &[
            ("authorization", auth),
            TUS,
            ("upload-length", &length.to_string()),
            ("upload-metadata", &meta),
        ],
        None,
    )
}

fn patch(url: &str, auth: &str, offset: u64, bytes: &[u8]) -> Resp {
    call(
        "PATCH",
        url,
        &[
            ("authorization", auth),
            TUS,
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", &offset.to_string()),
        ],
        Some(bytes),
    )
}

fn head(url: &str, auth: &str) -> Resp {
    call("HEAD", url, &[("authorization", auth), TUS], None)
}

/// Sends a PATCH announcing all of `bytes` but only `sent` of them, then drops the
/// connection, as a phone losing its signal would.
fn patch_and_drop(url: &str, auth: &str, offset: u64, bytes: &[u8], sent: usize) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "PATCH {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n\
         Content-Length: {}\r\n\r\n",
        bytes.len()
    )
    .unwrap();
    s.write_all(&bytes[..sent]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(s);
}

/// Waits until the server has taken in what a dropped connection sent.
fn offset_after_drop(url: &str, auth: &str) -> u64 {
    let t0 = Instant::now();
    loop {
        let r = head(url, auth);
        if r.status == 200 {
            let off: u64 = r.header("upload-offset").unwrap().parse().unwrap();
            if off > 0 {
                return off;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "offset never moved");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    // An MP4-looking header, then varied synthetic bytes.
    let mut v = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec();
    let mut x = u32::from(seed) + 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push((x >> 8) as u8);
    }
    v.truncate(len);
    v
}

fn setup(dir: &Path) {
    athar(dir, &["init", "--name", "test"], None);
    common::without_second_factor(&dir.join("archive"));
    std::fs::write(dir.join("a.txt"), b"synthetic evidence A\n").unwrap();
    std::fs::write(dir.join("b.txt"), b"synthetic evidence B\n").unwrap();
    for (f, c) in [("a.txt", "alpha"), ("b.txt", "beta")] {
        athar(
            dir,
            &["ingest", "--case", c, dir.join(f).to_str().unwrap()],
            None,
        );
    }
    let pw = format!("{PW}\n");
    for (name, role, case) in [
        ("root", "admin", None),
        ("inv", "investigator", Some("alpha")),
        ("inv2", "investigator", Some("alpha")),
        ("ana", "analyst", Some("alpha")),
        ("view", "viewer", Some("alpha")),
        ("invb", "investigator", Some("beta")),
    ] {
        let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
        if let Some(c) = case {
            args.extend(["--case", c]);
        }
        athar(dir, &args, Some(&pw));
    }
}

fn item_count(base: &str, auth: &str) -> usize {
    let r = call(
        "GET",
        &format!("{base}/api/items"),
        &[("authorization", auth)],
        None,
    );
    r.json()["items"].as_array().unwrap().len()
}

#[test]
fn upload_resumes_after_dropped_connection_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let mut srv = start(dir.path());
    let base = srv.base.clone();
    let inv = token(&base, "inv");
    let bytes = data(3 * 1024 * 1024 + 17, 1);
    let sha = common::sha256_hex(&bytes);

    // Discovery.
    let o = call(
        "OPTIONS",
        &format!("{base}/api/uploads"),
        &[("authorization", &inv)],
        None,
    );
    assert_eq!(o.status, 204);
    assert_eq!(o.header("tus-version"), Some("1.0.0"));
    assert_eq!(o.header("tus-extension"), Some("creation,termination"));
    assert_eq!(o.header("tus-resumable"), Some("1.0.0"));
    assert_eq!(o.header("tus-max-size"), Some("68719476736"));

    let c = create(&base, &inv, bytes.len() as u64, "alpha");
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.header("tus-resumable"), Some("1.0.0"));
    let loc = c.header("location").unwrap().to_owned();
    assert!(loc.starts_with("/api/uploads/"), "{loc}");
    let url = format!("{base}{loc}");
    let h = head(&url, &inv);
    assert_eq!(h.status, 200);
    assert_eq!(h.header("upload-offset"), Some("0"));
    assert_eq!(h.header("upload-length"), Some(&*bytes.len().to_string()));
    assert_eq!(h.header("cache-control"), Some("no-store"));

    // The connection drops after 1 MiB: what arrived is kept.
    patch_and_drop(&url, &inv, 0, &bytes, 1 << 20);
    let off = offset_after_drop(&url, &inv);
    assert!(off <= 1 << 20, "{off}");
    assert_eq!(item_count(&base, &inv), 1, "no item before the last byte");

    // A wrong offset is refused, and so is a body longer than what is left.
    assert_eq!(patch(&url, &inv, off + 1, b"x").status, 409);
    // (Refused from its Content-Length, before the body is read.)
    let rest = base.strip_prefix("http://").unwrap().to_owned();
    let mut s = TcpStream::connect(&rest).unwrap();
    write!(
        s,
        "PATCH {loc} HTTP/1.1\r\nHost: {rest}\r\nAuthorization: {inv}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {off}\r\n\
         Content-Length: {}\r\n\r\n",
        bytes.len() as u64 - off + 1
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(&s).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    drop(s);
    assert_eq!(
        head(&url, &inv).header("upload-offset"),
        Some(&*off.to_string())
    );

    // Another chunk, then the server crashes.
    let mid = off as usize + 1024 * 1024;
    let r = patch(&url, &inv, off, &bytes[off as usize..mid]);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.header("upload-offset"), Some(&*mid.to_string()));
    assert!(r.header("athar-item").is_none());
    let _ = srv.child.kill();
    let _ = srv.child.wait();
    srv = start(dir.path());
    let base = srv.base.clone();
    let url = format!("{base}{loc}");

    // After the restart the upload resumes where it was (the hasher is rebuilt).
    let h = head(&url, &inv);
    assert_eq!(h.status, 200);
    assert_eq!(h.header("upload-offset"), Some(&*mid.to_string()));
    let st = call("GET", &url, &[("authorization", &inv)], None).json();
    assert_eq!(st["offset"], mid);
    assert_eq!(st["filename"], "clip one.mp4");
    assert_eq!(st["case"], "alpha");
    assert!(st["item"].is_null() && st["sha256"].is_null());
    // Only its creator sees it, even on the same case.
    let inv2 = token(&base, "inv2");
    assert_eq!(head(&url, &inv2).status, 404);
    assert_eq!(patch(&url, &inv2, mid as u64, b"x").status, 404);

    let r = patch(&url, &inv, mid as u64, &bytes[mid..]);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.header("upload-offset"), Some(&*bytes.len().to_string()));
    assert_eq!(r.header("athar-sha256"), Some(sha.as_str()));
    let item = r.header("athar-item").unwrap().to_owned();
    let st = call("GET", &url, &[("authorization", &inv)], None).json();
    assert_eq!(st["item"], item.as_str());
    assert_eq!(st["sha256"], sha.as_str());
    // Done: more bytes are a conflict.
    assert_eq!(patch(&url, &inv, bytes.len() as u64, b"x").status, 409);

    // The item: the same bytes, its custody event by the uploader with source, note, case.
    let got = ureq::get(&format!("{base}/api/items/{item}/content"))
        .set("authorization", &inv)
        .call()
        .unwrap();
    let mut downloaded = Vec::new();
    got.into_reader().read_to_end(&mut downloaded).unwrap();
    assert_eq!(downloaded, bytes);
    let shown = call(
        "GET",
        &format!("{base}/api/items/{item}"),
        &[("authorization", &inv)],
        None,
    )
    .json();
    assert_eq!(shown["item"]["sha256"], sha.as_str());
    assert_eq!(shown["item"]["media_type"], "video/mp4");
    assert_eq!(shown["cases"], serde_json::json!(["alpha"]));
    let ev = &shown["events"][0];
    assert_eq!(ev["kind"], "ingest");
    assert_eq!(ev["actor"], "inv");
    assert_eq!(ev["details"]["original_name"], "clip one.mp4");
    assert_eq!(ev["details"]["source"], "synthetic channel");
    assert_eq!(ev["details"]["note"], "upload test");
    drop(srv);

    // Jobs were queued; the staged file is gone; the archive verifies.
    let jobs = athar(dir.path(), &["jobs", "--json"], None);
    let jobs: Value = serde_json::from_slice(&jobs.stdout).unwrap();
    let kinds: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["item"] == item.as_str())
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["sha512", "fingerprint"],
        "jobs queued for the upload: {jobs:?}"
    );
    let staged: Vec<_> = std::fs::read_dir(dir.path().join("archive/uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(staged.iter().all(|n| n.ends_with(".json")), "{staged:?}");
    athar(dir.path(), &["verify"], None);
}

#[test]
fn upload_refusals_and_termination() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let srv = start(dir.path());
    let base = &srv.base;
    let (root, inv, ana, view) = (
        token(base, "root"),
        token(base, "inv"),
        token(base, "ana"),
        token(base, "view"),
    );

    // Roles: analysts and viewers do not collect; investigators only into their cases;
    // admins into any existing case; nobody into a case that does not exist.
    assert_eq!(create(base, &ana, 10, "alpha").status, 403);
    assert_eq!(create(base, &view, 10, "alpha").status, 403);
    assert_eq!(create(base, &inv, 10, "beta").status, 404);
    assert_eq!(create(base, &inv, 10, "no-such-case").status, 404);
    assert_eq!(create(base, &root, 10, "beta").status, 201);
    // Anonymous.
    let anon = call(
        "POST",
        &format!("{base}/api/uploads"),
        &[TUS, ("upload-length", "10")],
        None,
    );
    assert_eq!(anon.status, 401);
    assert_eq!(anon.header("tus-resumable"), Some("1.0.0"));
    // Oversize (the default limit is 64 GiB), bad headers, missing metadata.
    let big = create(base, &inv, 1 << 40, "alpha");
    assert_eq!(big.status, 413, "{}", big.body);
    let no_version = call(
        "POST",
        &format!("{base}/api/uploads"),
        &[("authorization", &inv), ("upload-length", "10")],
        None,
    );
    assert_eq!(no_version.status, 412);
    assert_eq!(no_version.header("tus-version"), Some("1.0.0"));
    let no_name = call(
        "POST",
        &format!("{base}/api/uploads"),
        &[
            ("authorization", &inv),
            TUS,
            ("upload-length", "10"),
            ("upload-metadata", &format!("case {}", b64("alpha"))),
        ],
        None,
    );
    assert_eq!(no_name.status, 400);
    let bad_meta = call(
        "POST",
        &format!("{base}/api/uploads"),
        &[
            ("authorization", &inv),
            TUS,
            ("upload-length", "10"),
            ("upload-metadata", "filename !!!,case YWxwaGE="),
        ],
        None,
    );
    assert_eq!(bad_meta.status, 400);

    // Content type and ids.
    let c = create(base, &inv, 10, "alpha");
    let url = format!("{base}{}", c.header("location").unwrap());
    let wrong_type = call(
        "PATCH",
        &url,
        &[
            ("authorization", &inv),
            TUS,
            ("content-type", "application/json"),
            ("upload-offset", "0"),
        ],
        Some(b"0123456789"),
    );
    assert_eq!(wrong_type.status, 415);
    for bad in [
        "..%2F..%2Fcatalog.sqlite",
        "0123",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ] {
        assert_eq!(
            head(&format!("{base}/api/uploads/{bad}"), &inv).status,
            404,
            "{bad}"
        );
    }

    // A membership removed mid-upload stops it.
    assert_eq!(patch(&url, &inv, 0, b"01234").status, 204);
    athar(
        dir.path(),
        &[
            "user",
            "reset",
            "inv",
            "--keep-password",
            "--remove-case",
            "alpha",
        ],
        None,
    );
    assert_eq!(patch(&url, &inv, 5, b"56789").status, 403);
    athar(
        dir.path(),
        &["user", "reset", "inv", "--keep-password", "--case", "alpha"],
        None,
    );

    // Termination removes the staged bytes; the upload is gone.
    let id = url.rsplit('/').next().unwrap().to_owned();
    let part = dir.path().join(format!("archive/uploads/{id}.part"));
    assert!(part.exists());
    let del = call("DELETE", &url, &[("authorization", &inv), TUS], None);
    assert_eq!(del.status, 204);
    assert!(!part.exists());
    assert_eq!(head(&url, &inv).status, 404);
    assert_eq!(item_count(base, &root), 2, "nothing became an item");

    // An empty file is complete at creation.
    let e = create(base, &inv, 0, "alpha");
    assert_eq!(e.status, 201);
    assert!(e.header("athar-item").is_some());
    assert_eq!(item_count(base, &root), 3);
}

fn send_json(method: &str, url: &str, auth: &str, body: &Value) -> Resp {
    call(
        method,
        url,
        &[
            ("authorization", auth),
            ("content-type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    )
}

#[test]
fn records_by_role_and_case_membership() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let srv = start(dir.path());
    let base = &srv.base;
    let url = |p: &str| format!("{base}{p}");
    let [root, inv, ana, view, invb] =
        ["root", "inv", "ana", "view", "invb"].map(|u| token(base, u));
    let incident = |case: &str, title: &str| serde_json::json!({ "kind": "incident", "case": case, "title": title, "date": "2012-03" });

    // Create: admins and investigators on their cases; analysts and viewers not.
    for (who, case, status) in [
        (&root, "beta", 201),
        (&inv, "alpha", 201),
        (&ana, "alpha", 403),
        (&view, "alpha", 403),
        (&inv, "beta", 404),
        (&invb, "alpha", 404),
        (&invb, "beta", 201),
    ] {
        let r = send_json(
            "POST",
            &url("/api/records"),
            who,
            &incident(case, "Synthetic raid"),
        );
        assert_eq!(r.status, status, "{case}: {}", r.body);
    }
    let r = send_json(
        "POST",
        &url("/api/records"),
        &inv,
        &incident("alpha", "Night arrests"),
    );
    assert_eq!(r.status, 201);
    let inc_a = r.json()["record"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["applied"]["action"], "create");
    let beta_incidents = call(
        "GET",
        &url("/api/records?case=beta&kind=incident"),
        &[("authorization", &root)],
        None,
    )
    .json();
    let inc_b = beta_incidents["records"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The import parser's checks, naming the field.
    let bad = send_json(
        "POST",
        &url("/api/records"),
        &inv,
        &serde_json::json!({ "kind": "incident", "case": "alpha", "title": "x", "date": "March" }),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("date"), "{}", bad.body);
    // New cases only by admins.
    let case = serde_json::json!({ "kind": "case", "case": "gamma", "title": "New case" });
    assert_eq!(
        send_json("POST", &url("/api/records"), &inv, &case).status,
        403
    );
    assert_eq!(
        send_json("POST", &url("/api/records"), &root, &case).status,
        201
    );

    // Annotate: an analyst links an item of the case to its incident; not another case's.
    let items = call(
        "GET",
        &url("/api/items?case=alpha"),
        &[("authorization", &ana)],
        None,
    );
    let item_a = items.json()["items"][0]["item"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let items = call(
        "GET",
        &url("/api/items?case=beta"),
        &[("authorization", &root)],
        None,
    );
    let item_b = items.json()["items"][0]["item"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = |item: &str, target: &str| {
        serde_json::json!({ "kind": "link", "case": "alpha", "item": item, "target": target,
            "verification": "unverified", "note": "faces visible at 00:12" })
    };
    let r = send_json("POST", &url("/api/records"), &ana, &link(&item_a, &inc_a));
    assert_eq!(r.status, 201, "{}", r.body);
    let link_id = r.json()["record"]["id"].as_str().unwrap().to_owned();
    // Another case's item or incident is answered as one that does not exist.
    let none = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for (who, theirs, missing, what) in [
        (&ana, link(&item_b, &inc_a), link(none, &inc_a), "item"),
        (&inv, link(&item_a, &inc_b), link(&item_a, none), "incident"),
    ] {
        let a = send_json("POST", &url("/api/records"), who, &theirs);
        let b = send_json("POST", &url("/api/records"), who, &missing);
        assert_eq!(a.status, 400, "another case's {what}: {}", a.body);
        assert_eq!(
            a.body.replace(&item_b, "X").replace(&inc_b, "X"),
            b.body.replace(none, "X"),
            "another case's {what} answers as a missing one"
        );
    }
    assert_eq!(
        send_json("POST", &url("/api/records"), &view, &link(&item_a, &inc_a)).status,
        403
    );

    // Edit: by the case's investigators; the analyst only links; others see nothing.
    let edited = incident("alpha", "Night arrests (corrected)");
    let put = |who: &str, id: &str, body: &Value| {
        send_json("PUT", &url(&format!("/api/records/{id}")), who, body)
    };
    assert_eq!(put(&invb, &inc_a, &edited).status, 404);
    assert_eq!(put(&ana, &inc_a, &edited).status, 403);
    let r = put(&inv, &inc_a, &edited);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["record"]["title"], "Night arrests (corrected)");
    assert_eq!(r.json()["applied"]["action"], "edit");
    let mut verified = link(&item_a, &inc_a);
    verified["verification"] = "geolocated".into();
    assert_eq!(put(&ana, &link_id, &verified).status, 200);
    // Moving a record to a case the caller is not on is refused.
    assert_eq!(put(&inv, &inc_a, &incident("beta", "moved")).status, 404);

    // Each change is a custody event with the user as actor.
    let shown = athar(dir.path(), &["incident", "show", "--json", &inc_a], None);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let actors: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["inv", "inv"], "{shown}");

    // Delete: refused while referred to; analysts do not delete.
    let del = |who: &str, id: &str| {
        call(
            "DELETE",
            &url(&format!("/api/records/{id}")),
            &[("authorization", who)],
            None,
        )
    };
    assert_eq!(del(&inv, &inc_a).status, 409);
    assert_eq!(del(&ana, &link_id).status, 403);
    assert_eq!(del(&invb, &link_id).status, 404);
    assert_eq!(del(&inv, &link_id).status, 200);
    assert_eq!(del(&inv, &inc_a).status, 200);
    assert_eq!(
        call(
            "GET",
            &url(&format!("/api/records/{inc_a}")),
            &[("authorization", &inv)],
            None
        )
        .status,
        404
    );

    // Export: a tar of the case's bag; investigators and admins of the case only.
    let asked = br#"{"recipient":"Synthetic Tribunal","purpose":"synthetic trial"}"#;
    let export = |who: &str, case: &str| {
        call(
            "POST",
            &url(&format!("/api/cases/{case}/export")),
            &[("authorization", who), ("content-type", "application/json")],
            Some(asked),
        )
    };
    assert_eq!(export(&ana, "alpha").status, 403);
    assert_eq!(export(&invb, "alpha").status, 404);
    assert_eq!(export(&inv, "no-such-case").status, 404);
    let resp = ureq::post(&url("/api/cases/alpha/export"))
        .set("authorization", &inv)
        .set("content-type", "application/json")
        .send_bytes(asked)
        .unwrap();
    assert_eq!(resp.content_type(), "application/x-tar");
    let disposition = resp.header("content-disposition").unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"athar-alpha-"),
        "{disposition}"
    );
    let mut tar = Vec::new();
    resp.into_reader().read_to_end(&mut tar).unwrap();
    let tarfile = dir.path().join("alpha.tar");
    std::fs::write(&tarfile, &tar).unwrap();
    let out = dir.path().join("handover");
    std::fs::create_dir(&out).unwrap();
    let x = Command::new("tar")
        .arg("-xf")
        .arg(&tarfile)
        .arg("-C")
        .arg(&out)
        .output()
        .unwrap();
    assert!(x.status.success());
    let bag = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let vkey = athar(dir.path(), &["log", "vkey"], None);
    let vkey_path = dir.path().join("archive.vkey");
    std::fs::write(&vkey_path, &vkey.stdout).unwrap();
    athar(
        dir.path(),
        &[
            "verify-bag",
            "--vkey",
            vkey_path.to_str().unwrap(),
            bag.to_str().unwrap(),
        ],
        None,
    );
    let shown = call(
        "GET",
        &url(&format!("/api/items/{item_a}")),
        &[("authorization", &inv)],
        None,
    )
    .json();
    let exports: Vec<&Value> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "export")
        .collect();
    assert_eq!(exports.len(), 1, "{shown}");
    assert_eq!(exports[0]["actor"], "inv");
    assert_eq!(exports[0]["details"]["to"], "Synthetic Tribunal");
    assert!(
        !dir.path().join("archive/exports").exists()
            || std::fs::read_dir(dir.path().join("archive/exports"))
                .unwrap()
                .next()
                .is_none(),
        "the staging bag is removed"
    );
    drop(srv);
    athar(dir.path(), &["verify"], None);
}

/// A PNG of blocks of pseudo-random greys (textured enough for a PDQ hash of full
/// quality), every pixel raised by `lift`.
fn blocks_png(seed: u32, lift: u8) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let mut greys = [0u8; 64];
    for g in &mut greys {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *g = (x >> 16) as u8 / 2 + 40;
    }
    let img = image::GrayImage::from_fn(256, 256, |px, py| {
        image::Luma([greys[(py / 32 * 8 + px / 32) as usize].saturating_add(lift)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Uploads `bytes` in one PATCH; the item it became.
fn upload(base: &str, auth: &str, bytes: &[u8]) -> String {
    let c = create(base, auth, bytes.len() as u64, "alpha");
    assert_eq!(c.status, 201, "{}", c.body);
    let url = format!("{base}{}", c.header("location").unwrap());
    let r = patch(&url, auth, 0, bytes);
    assert_eq!(r.status, 204, "{}", r.body);
    r.header("athar-item").unwrap().to_owned()
}

#[test]
fn copies_uploaded_to_a_running_server_are_found_as_near_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let srv = start(dir.path());
    let base = srv.base.clone();
    let inv = token(&base, "inv");
    let original = upload(&base, &inv, &blocks_png(7, 0));
    let copy = upload(&base, &inv, &blocks_png(7, 6));
    let other = upload(&base, &inv, &blocks_png(8, 0));
    // The server's job loop fingerprints them; its similarity index, open since the server
    // started, takes them in without being loaded again.
    let found = |id: &str| -> Option<Vec<String>> {
        let r = call(
            "GET",
            &format!("{base}/api/items/{id}/similar"),
            &[("authorization", &inv)],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        (v["fingerprinted"] == true).then(|| {
            v["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["item"].as_str().unwrap().to_owned())
                .collect()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let all = [&original, &copy, &other];
    let mut seen: Vec<Option<Vec<String>>> = all.iter().map(|_| None).collect();
    while seen.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "not fingerprinted in time: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
        seen = all.iter().map(|id| found(id)).collect();
    }
    assert_eq!(seen[0].as_deref(), Some(&[copy.clone()][..]));
    assert_eq!(seen[1].as_deref(), Some(&[original.clone()][..]));
    assert_eq!(seen[2].as_deref(), Some(&[][..]), "unrelated footage");
}

/// Creates an upload of `bytes` into `case` and sends it in one PATCH: the final answer.
fn upload_into(base: &str, auth: &str, case: &str, bytes: &[u8]) -> Resp {
    let c = create(base, auth, bytes.len() as u64, case);
    assert_eq!(c.status, 201, "{}", c.body);
    let url = format!("{base}{}", c.header("location").unwrap());
    let r = patch(&url, auth, 0, bytes);
    assert_eq!(r.status, 204, "{}", r.body);
    // A HEAD after the end says the same.
    let h = head(&url, auth);
    assert_eq!(
        h.header("athar-already-held"),
        r.header("athar-already-held")
    );
    r
}

#[test]
fn an_upload_says_when_its_bytes_were_already_held_and_labels_follow_the_callers_cases() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let srv = start(dir.path());
    let base = srv.base.clone();
    let inv = token(&base, "inv");
    let invb = token(&base, "invb");

    // New bytes: not held before; the same bytes again: held.
    let fresh = data(3000, 9);
    let first = upload_into(&base, &inv, "alpha", &fresh);
    assert_eq!(first.header("athar-already-held"), Some("false"));
    let again = upload_into(&base, &inv, "alpha", &fresh);
    assert_eq!(again.header("athar-already-held"), Some("true"));
    assert_eq!(again.header("athar-item"), first.header("athar-item"));

    // Bytes the caller's case holds already (ingested as a.txt into alpha).
    let a = upload_into(&base, &inv, "alpha", b"synthetic evidence A\n");
    assert_eq!(a.header("athar-already-held"), Some("true"));
    let a_item = a.header("athar-item").unwrap().to_owned();

    // Held only in a case the caller is not on: not said (it would confirm the holding).
    let b = upload_into(&base, &invb, "beta", b"synthetic evidence A\n");
    assert_eq!(b.header("athar-already-held"), Some("false"));
    assert_eq!(b.header("athar-item"), Some(a_item.as_str()));

    // Each caller sees the item under the name their own case recorded first.
    let label = |auth: &str| {
        call(
            "GET",
            &format!("{base}/api/items/{a_item}"),
            &[("authorization", auth)],
            None,
        )
        .json()["label"]
            .clone()
    };
    assert_eq!(label(&inv)["name"], "a.txt");
    assert_eq!(label(&invb)["name"], "clip one.mp4");
    assert!(label(&inv)["text"]
        .as_str()
        .unwrap()
        .starts_with("a.txt · "));
    // The grid's list carries labels too, and no derived item unless asked.
    let listed = call(
        "GET",
        &format!("{base}/api/items?case=alpha"),
        &[("authorization", &inv)],
        None,
    )
    .json();
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"a.txt"), "{names:?}");
    assert!(names.contains(&"clip one.mp4"), "{names:?}");
    drop(srv);
}
