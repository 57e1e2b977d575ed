#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The second factor end to end: the built `athar serve` on a free loopback port, called
//! over HTTP. Admins (by default) must set up a TOTP factor before anything else; signing
//! in then needs a code, accepted once; recovery codes work once; wrong codes are rate
//! limited; sessions are listed and ended by their owner; every sign-in is recorded;
//! `[server] second_factor` picks the roles; an admin resets a lost factor.
//!
//! Codes are computed from the key the server hands out at enrolment with
//! `athar_server::totp` and the clock, as an authenticator app would.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use athar_server::totp;
use common::{http, Answer, Env};
use serde_json::{json, Value};

const PW: &str = "synthetic-password-123";
const WRONG: &str = "not-the-password-0";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An authenticator app for one key: each code it gives is of a later time step than the
/// last one it gave (the server accepts a step once), waiting for the clock when needed.
struct App {
    key: Vec<u8>,
    last: i64,
}

impl App {
    /// A code for a step not used yet: the current one, or the next (the server accepts
    /// one step either side).
    fn code(&mut self) -> String {
        loop {
            let current = totp::step_of(now());
            let step = (self.last + 1).max(current);
            if step <= current + 1 {
                self.last = step;
                return totp::code_for_step(&self.key, step);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A signed-in session: its cookie header and CSRF token.
#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

fn cookie_pair(a: &Answer, name: &str) -> Option<String> {
    a.set_cookie(name)
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

/// `POST /api/login` with `code` when given, from a browser holding `device` (a device
/// cookie) when given, with user agent `agent`.
fn login_as(
    base: &str,
    user: &str,
    password: &str,
    code: Option<&str>,
    device: Option<&str>,
    agent: &str,
) -> Answer {
    let mut body = json!({ "username": user, "password": password });
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    let mut headers = vec![("user-agent", agent)];
    if let Some(d) = device {
        headers.push(("cookie", d));
    }
    http(
        "POST",
        &format!("{base}/api/login"),
        &headers,
        Some(&body.to_string()),
    )
}

fn login(base: &str, user: &str, password: &str, code: Option<&str>) -> Answer {
    login_as(base, user, password, code, None, "SyntheticBrowser/1.0")
}

fn session_of(a: &Answer) -> Session {
    assert_eq!(a.status, 200, "{}", a.body);
    Session {
        cookie: format!(
            "{}; {}",
            cookie_pair(a, "athar_session").unwrap(),
            cookie_pair(a, "athar_csrf").unwrap()
        ),
        csrf: a.json()["csrf_token"].as_str().unwrap().to_owned(),
    }
}

fn call(base: &str, s: &Session, method: &str, path: &str, body: Option<Value>) -> Answer {
    let body = body.map(|b| b.to_string());
    http(
        method,
        &format!("{base}{path}"),
        &[("cookie", &s.cookie), ("x-csrf-token", &s.csrf)],
        body.as_deref(),
    )
}

fn get(base: &str, s: &Session, path: &str) -> Answer {
    call(base, s, "GET", path, None)
}

/// Enrols a second factor for the session's user: the authenticator app (its first code
/// used to confirm) and the recovery codes.
fn enrol(base: &str, s: &Session, user: &str) -> (App, Vec<String>) {
    let r = call(base, s, "POST", "/api/me/second-factor", None);
    assert_eq!(r.status, 201, "{}", r.body);
    let e = r.json();
    let secret = e["secret"].as_str().unwrap();
    let uri = e["uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/Athar:{user}?secret={secret}&issuer=Athar"
        )),
        "{uri}"
    );
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"), "{e}");
    let mut app = App {
        key: totp::from_base32(secret).unwrap(),
        last: i64::MIN,
    };
    let r = call(
        base,
        s,
        "POST",
        "/api/me/second-factor/confirm",
        Some(json!({ "code": app.code() })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<String> = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (app, codes)
}

fn sign_in_reasons(a: &Answer) -> Vec<String> {
    a.json()["sign_ins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_admin_without_a_factor_may_only_set_one_up() {
    // The default configuration: admins must use a second factor; investigators need not.
    let env = Env::new();
    std::fs::write(env.path("a.txt"), b"synthetic evidence A\n").unwrap();
    let out = env.run_paths(&["ingest", "--case", "alpha"], &[&env.path("a.txt")]);
    assert!(out.status.success());
    env.add_user("root", "admin", None, PW);
    env.add_user("inv", "investigator", Some("alpha"), PW);
    let srv = env.serve();
    let base = &srv.base;

    let r = login(base, "root", PW, None);
    assert_eq!(r.json()["must_enrol"], true, "{}", r.body);
    let root = session_of(&r);
    for path in [
        "/api/items",
        "/api/cases",
        "/api/me/sessions",
        "/api/me/sign-ins",
    ] {
        let r = get(base, &root, path);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert_eq!(
            r.json()["code"],
            "second_factor_enrolment_required",
            "{path}"
        );
    }
    let r = call(
        base,
        &root,
        "POST",
        "/api/tokens",
        Some(json!({ "name": "ci" })),
    );
    assert_eq!(r.json()["code"], "second_factor_enrolment_required");
    // What they may do: see who they are, load the app, set the factor up.
    let me = get(base, &root, "/api/me");
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["must_enrol"], true);
    assert_eq!(me.json()["second_factor"]["required"], true);
    assert_eq!(get(base, &root, "/").status, 200, "the app page");
    let f = get(base, &root, "/api/me/second-factor").json();
    assert_eq!(
        (f["enrolled"].clone(), f["required"].clone()),
        (json!(false), json!(true))
    );

    // An investigator is not held.
    let inv = session_of(&login(base, "inv", PW, None));
    assert_eq!(get(base, &inv, "/api/items").status, 200);
    assert_eq!(get(base, &inv, "/api/me").json()["must_enrol"], false);

    // Enrolment is active only once confirmed with a right code.
    let r = call(base, &root, "POST", "/api/me/second-factor", None);
    assert_eq!(r.status, 201, "{}", r.body);
    let key = totp::from_base32(r.json()["secret"].as_str().unwrap()).unwrap();
    assert_eq!(key.len(), 20, "160 bits");
    let step = totp::step_of(now());
    let wrong = totp::code_for_step(&key, step + 5);
    let r = call(
        base,
        &root,
        "POST",
        "/api/me/second-factor/confirm",
        Some(json!({ "code": wrong })),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], "bad_code");
    assert_eq!(get(base, &root, "/api/items").status, 403, "still held");
    let r = call(
        base,
        &root,
        "POST",
        "/api/me/second-factor/confirm",
        Some(json!({ "code": totp::code_at(&key, now()) })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let codes = r.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::BTreeSet<&str> =
        codes.iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 10);

    // The same session now does everything.
    assert_eq!(get(base, &root, "/api/items").status, 200);
    assert_eq!(get(base, &root, "/api/me").json()["must_enrol"], false);
    let f = get(base, &root, "/api/me/second-factor").json();
    assert_eq!(f["enrolled"], true);
    assert_eq!(f["recovery_codes_left"], 10);
    // A factor the role requires is not turned off, and not replaced.
    let r = call(
        base,
        &root,
        "DELETE",
        "/api/me/second-factor",
        Some(json!({ "password": PW, "code": codes[0] })),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], "second_factor_required");
    let r = call(base, &root, "POST", "/api/me/second-factor", None);
    assert_eq!(r.status, 409, "{}", r.body);
    let list = env.run(&["user", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    let root_line = text.lines().find(|l| l.starts_with("root ")).unwrap();
    assert!(root_line.contains("2fa"), "{text}");
    assert!(!text
        .lines()
        .find(|l| l.starts_with("inv "))
        .unwrap()
        .contains("2fa"));
}

#[test]
fn signing_in_takes_a_fresh_code_once_or_a_recovery_code_once() {
    let env = Env::new();
    env.add_user("root", "admin", None, PW);
    let srv = env.serve();
    let base = &srv.base;
    let first = login(base, "root", PW, None);
    let device = cookie_pair(&first, "athar_device").expect("a device cookie");
    let (mut app, recovery) = enrol(base, &session_of(&first), "root");

    // Every failure reads alike: an unknown user, a wrong password, no code, a wrong code.
    let failures = [
        login(base, "nobody", PW, None),
        login(base, "root", WRONG, Some("123456")),
        login(base, "root", PW, None),
        login(base, "root", PW, Some("000000")),
    ];
    for f in &failures {
        assert_eq!(f.status, 401, "{}", f.body);
        assert_eq!(f.body, failures[0].body, "one answer for every failure");
        assert!(f.set_cookie("athar_session").is_none());
    }

    // From the known browser (its own failure budget): a fresh code signs in, once.
    let code = app.code();
    let ok = login_as(
        base,
        "root",
        PW,
        Some(&code),
        Some(&device),
        "SyntheticBrowser/1.0",
    );
    let s = session_of(&ok);
    assert_eq!(get(base, &s, "/api/items").status, 200);
    let replay = login_as(
        base,
        "root",
        PW,
        Some(&code),
        Some(&device),
        "SyntheticBrowser/1.0",
    );
    assert_eq!(replay.status, 401, "replayed: {}", replay.body);

    // Expired codes: two and three steps old. The last accepted step is moved back first,
    // so these are refused for their age alone, not as replays.
    common::tamper_sql(&env, "UPDATE second_factors SET last_step = last_step - 10");
    app.last -= 10;
    let current = totp::step_of(now());
    for age in [2, 3] {
        let old = totp::code_for_step(&app.key, current - age);
        let r = login_as(
            base,
            "root",
            PW,
            Some(&old),
            Some(&device),
            "SyntheticBrowser/1.0",
        );
        assert_eq!(r.status, 401, "{age} steps old: {}", r.body);
    }
    let fresh = login_as(
        base,
        "root",
        PW,
        Some(&app.code()),
        Some(&device),
        "SyntheticBrowser/1.0",
    );
    assert_eq!(
        fresh.status, 200,
        "a fresh code still works: {}",
        fresh.body
    );

    // A recovery code works once, typed in any case and spacing.
    let r = login_as(
        base,
        "root",
        PW,
        Some(&recovery[0]),
        Some(&device),
        "SyntheticBrowser/1.0",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["recovery_code_used"], true);
    let s = session_of(&r);
    let again = login_as(
        base,
        "root",
        PW,
        Some(&recovery[0]),
        Some(&device),
        "SyntheticBrowser/1.0",
    );
    assert_eq!(again.status, 401, "used: {}", again.body);
    let typed = recovery[1].to_uppercase().replace('-', " ");
    let r = login_as(
        base,
        "root",
        PW,
        Some(&typed),
        Some(&device),
        "SyntheticBrowser/1.0",
    );
    assert_eq!(r.status, 200, "{typed}: {}", r.body);
    let f = get(base, &s, "/api/me/second-factor").json();
    assert_eq!(f["recovery_codes_left"], 8);

    // New recovery codes replace the old ones (a current code needed).
    let r = call(
        base,
        &s,
        "POST",
        "/api/me/second-factor/recovery-codes",
        Some(json!({ "code": "123" })),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = call(
        base,
        &s,
        "POST",
        "/api/me/second-factor/recovery-codes",
        Some(json!({ "code": app.code() })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let renewed = r.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(renewed.len(), 10);
    let old = login_as(
        base,
        "root",
        PW,
        Some(&recovery[2]),
        Some(&device),
        "SyntheticBrowser/1.0",
    );
    assert_eq!(old.status, 401, "old codes replaced: {}", old.body);

    // Every attempt is recorded: the owner sees those on their account.
    let mine = get(base, &s, "/api/me/sign-ins?limit=100");
    assert_eq!(mine.status, 200, "{}", mine.body);
    let reasons = sign_in_reasons(&mine);
    for want in [
        "password",
        "code",
        "recovery_code_used",
        "bad_code",
        "bad_credentials",
    ] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }
    let entries = mine.json()["sign_ins"].as_array().unwrap().clone();
    assert!(entries.iter().all(|e| e["name"] == "root"), "only mine");
    assert!(entries.iter().all(|e| e["address"] == "127.0.0.1"));
    assert!(entries
        .iter()
        .all(|e| e["user_agent"] == "SyntheticBrowser/1.0"));
    let bad_codes: i64 = entries
        .iter()
        .filter(|e| e["reason"] == "bad_code")
        .map(|e| e["count"].as_i64().unwrap())
        .sum();
    // No code, a wrong one, a replay, two expired, a used and a replaced recovery code.
    assert_eq!(bad_codes, 7, "{entries:?}");
    // Admins see everyone's, unknown names included; a limit bounds the list.
    let all = get(base, &s, "/api/sign-ins?limit=100").json();
    let unknown = all["sign_ins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "nobody")
        .expect("the unknown name is recorded");
    assert_eq!(unknown["user_id"], Value::Null);
    assert_eq!(unknown["reason"], "bad_credentials");
    assert_eq!(unknown["outcome"], "failure");
    let two = get(base, &s, "/api/sign-ins?limit=2").json();
    assert_eq!(two["sign_ins"].as_array().unwrap().len(), 2);
    let cli = env.run(&["user", "sign-ins", "--user", "root", "--json"]);
    assert!(cli.status.success());
    assert_eq!(common::json_lines(&cli.stdout).len(), entries.len());
}

#[test]
fn wrong_codes_are_rate_limited() {
    let env = Env::new();
    env.add_user("root", "admin", None, PW);
    let srv = env.serve();
    let base = &srv.base;
    let (mut app, _) = enrol(base, &session_of(&login(base, "root", PW, None)), "root");
    // Guessing codes with the right password from an unknown browser.
    let current = totp::step_of(now());
    let right = |s: i64| totp::code_for_step(&app.key, s);
    let mut guesses = 0;
    for n in 0.. {
        let guess = format!("{:06}", (n * 7919 + 13) % 1_000_000);
        if (current - 1..=current + 2).any(|s| right(s) == guess) {
            continue;
        }
        let r = login(base, "root", PW, Some(&guess));
        assert_eq!(r.status, 401, "guess {n}: {}", r.body);
        guesses += 1;
        if guesses == 5 {
            break;
        }
    }
    // The budget is spent: even the right code is not checked now.
    let r = login(base, "root", PW, Some(&app.code()));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("60"));
    let out = env.run(&["user", "sign-ins", "--json"]);
    let records = common::json_lines(&out.stdout);
    assert!(
        records.iter().any(|r| r["reason"] == "rate_limited"),
        "{records:?}"
    );
    assert!(records
        .iter()
        .any(|r| r["reason"] == "bad_code" && r["count"] == 5));
}

#[test]
fn sessions_are_listed_and_ended_by_their_owner() {
    let env = Env::new();
    env.add_user("amal", "analyst", None, PW);
    env.add_user("badr", "analyst", None, PW);
    let srv = env.serve();
    let base = &srv.base;
    let laptop = session_of(&login_as(
        base,
        "amal",
        PW,
        None,
        None,
        "SyntheticLaptop/2.0",
    ));
    let phone = session_of(&login_as(
        base,
        "amal",
        PW,
        None,
        None,
        "SyntheticPhone/3.0",
    ));
    let other = session_of(&login(base, "badr", PW, None));

    let r = get(base, &laptop, "/api/me/sessions");
    assert_eq!(r.status, 200, "{}", r.body);
    let sessions = r.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let find = |agent: &str| {
        sessions
            .iter()
            .find(|s| s["user_agent"] == agent)
            .unwrap_or_else(|| panic!("{agent} in {sessions:?}"))
            .clone()
    };
    let (l, p) = (find("SyntheticLaptop/2.0"), find("SyntheticPhone/3.0"));
    assert_eq!(
        (l["current"].clone(), p["current"].clone()),
        (json!(true), json!(false))
    );
    for s in [&l, &p] {
        let id = s["id"].as_str().unwrap();
        assert_eq!(id.len(), 32, "{s}");
        assert!(
            !laptop.cookie.contains(id) && !phone.cookie.contains(id),
            "not the secret"
        );
        for t in ["created_at", "last_seen_at", "expires_at"] {
            assert!(s[t].as_str().unwrap().ends_with('Z'), "{t}: {s}");
        }
    }
    // Another user's session is not theirs to end (answered as if it did not exist).
    let badr_id = get(base, &other, "/api/me/sessions").json()["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        base,
        &laptop,
        "DELETE",
        &format!("/api/me/sessions/{badr_id}"),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        get(base, &other, "/api/me").status,
        200,
        "badr still signed in"
    );
    let r = call(base, &laptop, "DELETE", "/api/me/sessions/not-an-id", None);
    assert_eq!(r.status, 400, "{}", r.body);
    // Without the CSRF token, nothing ends.
    let phone_id = p["id"].as_str().unwrap();
    let r = http(
        "DELETE",
        &format!("{base}/api/me/sessions/{phone_id}"),
        &[("cookie", &laptop.cookie)],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(get(base, &phone, "/api/me").status, 200);
    // The owner ends the phone's session: its cookie stops working at once.
    let r = call(
        base,
        &laptop,
        "DELETE",
        &format!("/api/me/sessions/{phone_id}"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(get(base, &phone, "/api/me").status, 401);
    assert_eq!(get(base, &laptop, "/api/me").status, 200);
    let left = get(base, &laptop, "/api/me/sessions").json();
    assert_eq!(left["sessions"].as_array().unwrap().len(), 1);
    let r = call(
        base,
        &laptop,
        "DELETE",
        &format!("/api/me/sessions/{phone_id}"),
        None,
    );
    assert_eq!(r.status, 404, "once");
    // Their sign-ins: two successes, with the browsers they came from; not badr's.
    let mine = get(base, &laptop, "/api/me/sign-ins").json();
    let list = mine["sign_ins"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{mine}");
    assert!(list
        .iter()
        .all(|s| s["outcome"] == "success" && s["reason"] == "password"));
    assert_eq!(list[0]["user_agent"], "SyntheticPhone/3.0", "newest first");
    // Only admins see everyone's.
    assert_eq!(get(base, &laptop, "/api/sign-ins").status, 403);
}

#[test]
fn the_roles_configured_must_use_a_factor_and_the_others_may() {
    let env = Env::new();
    // A role name that is not one is refused, naming the field.
    let config = std::fs::read_to_string(env.archive.join("athar.toml")).unwrap();
    std::fs::write(
        env.archive.join("athar.toml"),
        format!("{config}\n[server]\nsecond_factor = [\"investigatr\"]\n"),
    )
    .unwrap();
    let out = env.run(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.second_factor") && err.contains("investigatr"),
        "{err}"
    );
    std::fs::write(
        env.archive.join("athar.toml"),
        format!("{config}\n[server]\nsecond_factor = [\"investigator\"]\n"),
    )
    .unwrap();
    env.add_user("root", "admin", None, PW);
    env.add_user("inv", "investigator", None, PW);
    env.add_user("amal", "analyst", None, PW);
    let srv = env.serve();
    let base = &srv.base;

    // Listed: held to enrolment. Not listed (admins here): free.
    let inv = session_of(&login(base, "inv", PW, None));
    let r = get(base, &inv, "/api/cases");
    assert_eq!(
        r.json()["code"],
        "second_factor_enrolment_required",
        "{}",
        r.body
    );
    let root = session_of(&login(base, "root", PW, None));
    assert_eq!(get(base, &root, "/api/cases").status, 200);
    assert_eq!(
        get(base, &root, "/api/me").json()["second_factor"]["required"],
        false
    );

    // An analyst sets one up by choice: signing in then needs it.
    let first = login(base, "amal", PW, None);
    let amal = session_of(&first);
    let (mut app, recovery) = enrol(base, &amal, "amal");
    assert_eq!(login(base, "amal", PW, None).status, 401);
    let amal = session_of(&login(base, "amal", PW, Some(&app.code())));
    // Turning it off takes the password and a code (here a recovery code).
    let r = call(
        base,
        &amal,
        "DELETE",
        "/api/me/second-factor",
        Some(json!({ "password": WRONG, "code": recovery[0] })),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], "bad_credentials");
    let r = call(
        base,
        &amal,
        "DELETE",
        "/api/me/second-factor",
        Some(json!({ "password": PW, "code": recovery[0] })),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        get(base, &amal, "/api/me/second-factor").json()["enrolled"],
        false
    );
    let r = login(base, "amal", PW, None);
    assert_eq!(r.status, 200, "no factor, no code: {}", r.body);
}

#[test]
fn an_admin_resets_a_lost_factor() {
    let env = Env::new();
    env.add_user("root", "admin", None, PW);
    env.add_user("amal", "analyst", None, PW);
    let srv = env.serve();
    let base = &srv.base;
    let (mut root_app, _) = enrol(base, &session_of(&login(base, "root", PW, None)), "root");
    let root = session_of(&login(base, "root", PW, Some(&root_app.code())));
    let amal_first = session_of(&login(base, "amal", PW, None));
    let (mut amal_app, _) = enrol(base, &amal_first, "amal");
    let amal = session_of(&login(base, "amal", PW, Some(&amal_app.code())));

    // Not for non-admins, not one's own (that takes a code), not an unknown user.
    let r = call(base, &amal, "DELETE", "/api/users/root/second-factor", None);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = call(base, &root, "DELETE", "/api/users/root/second-factor", None);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = call(
        base,
        &root,
        "DELETE",
        "/api/users/nobody/second-factor",
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        get(base, &root, "/api/me/second-factor").json()["enrolled"],
        true
    );

    // The reset removes amal's factor and ends her sessions.
    let r = call(base, &root, "DELETE", "/api/users/amal/second-factor", None);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(get(base, &amal, "/api/me").status, 401);
    assert_eq!(get(base, &amal_first, "/api/me").status, 401);
    let r = login(base, "amal", PW, None);
    assert_eq!(r.status, 200, "signs in without a code: {}", r.body);

    // The command line resets an admin locked out of their own account.
    let out = env.run(&["user", "reset-second-factor", "root"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(get(base, &root, "/api/me").status, 401, "sessions ended");
    let r = login(base, "root", PW, None);
    assert_eq!(
        r.json()["must_enrol"],
        true,
        "must set up a new one: {}",
        r.body
    );
    let out = env.run(&["user", "reset-second-factor", "nobody"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
