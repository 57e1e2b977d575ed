#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `athar serve`'s authentication end to end: the log-in rate limit under concurrency,
//! device cookies against lock-out, and API tokens (expiry, no minting with a token,
//! revoked by a password reset or disabling).

mod common;

use common::{http, session, Answer, Env};

const PW: &str = "synthetic-password-123";
const WRONG: &str = "not-the-password-000";

fn login(base: &str, user: &str, password: &str, cookie: Option<&str>) -> Answer {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", *c)).collect();
    http("POST", &format!("{base}/api/login"), &headers, Some(&body))
}

/// `name=value` of the cookie `name` set by `a`.
fn cookie_pair(a: &Answer, name: &str) -> String {
    let set = a
        .set_cookie(name)
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", a.headers));
    set.split(';').next().unwrap().to_owned()
}

/// `n` log-ins at once (released together), their statuses.
fn concurrent_logins(base: &str, n: usize, user: &str, password: &str) -> Vec<u16> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    login(base, user, password, None).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn rate_limit_holds_under_concurrency_and_spares_known_devices() {
    let env = Env::new();
    env.add_user("amal", "analyst", None, PW);
    env.add_user("badr", "analyst", None, PW);
    let srv = env.serve();
    let base = &srv.base;

    // The real user logs in once from their browser, which gets a device cookie.
    let first = login(base, "amal", PW, None);
    assert_eq!(first.status, 200, "{}", first.body);
    let set = first.set_cookie("athar_device").expect("device cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/api/login", "Max-Age="] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    let device = cookie_pair(&first, "athar_device");
    let again = login(base, "amal", PW, Some(&device));
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(
        again.set_cookie("athar_device").is_none(),
        "a known device keeps its cookie"
    );

    // 24 wrong passwords at once: only the budget's worth (5) are checked, however they
    // interleave; the rest are refused before any check.
    let statuses = concurrent_logins(base, 24, "amal", WRONG);
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, statuses.len(), "{statuses:?}");
    assert!(checked <= 5, "{checked} checks: {statuses:?}");
    assert!(refused >= 19, "{statuses:?}");

    // The right password from an unknown device now waits; so does any account from this
    // address (the per-address limit), and another user's device cookie does not help.
    let r = login(base, "amal", PW, None);
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.all("retry-after"), vec!["60"]);
    assert_eq!(login(base, "badr", PW, None).status, 429);
    assert_eq!(login(base, "badr", PW, Some(&device)).status, 429);

    // The known device is not locked out: the right password works from it, and its wrong
    // passwords spend its own budget (5), after which it waits too.
    let r = login(base, "amal", PW, Some(&device));
    assert_eq!(r.status, 200, "{}", r.body);
    for _ in 0..5 {
        assert_eq!(login(base, "amal", WRONG, Some(&device)).status, 401);
    }
    assert_eq!(login(base, "amal", PW, Some(&device)).status, 429);

    // A forged device cookie counts as an unknown device.
    let (head, last) = device.split_at(device.len() - 1);
    let forged = format!("{head}{}", if last == "0" { "1" } else { "0" });
    assert_eq!(login(base, "amal", PW, Some(&forged)).status, 429);
}

#[test]
fn api_tokens_expire_cannot_mint_tokens_and_die_with_a_reset() {
    let env = Env::new();
    env.add_user("amal", "analyst", None, PW);
    env.add_user("badr", "analyst", None, PW);
    let srv = env.serve();
    let base = &srv.base;
    let url = |p: &str| format!("{base}{p}");
    let (cookie, csrf) = session(base, "amal", PW);
    let from_session = |body: &str| {
        http(
            "POST",
            &url("/api/tokens"),
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            Some(body),
        )
    };
    let with_token = |t: &str, p: &str| {
        http(
            "GET",
            &url(p),
            &[("authorization", &format!("Bearer {t}"))],
            None,
        )
    };

    // Default 90 days, at most 365; the answer says when.
    let t90 = from_session(r#"{"name":"ci"}"#);
    assert_eq!(t90.status, 201, "{}", t90.body);
    let t365 = from_session(r#"{"name":"year","expires_in_days":365}"#);
    assert_eq!(t365.status, 201, "{}", t365.body);
    let t1 = from_session(r#"{"name":"day","expires_in_days":1}"#);
    assert_eq!(t1.status, 201, "{}", t1.body);
    let at = |a: &Answer, k: &str| a.json()[k].as_str().unwrap().to_owned();
    assert!(at(&t1, "expires_at") > at(&t1, "created_at"));
    assert!(at(&t90, "expires_at") > at(&t1, "expires_at"));
    assert!(at(&t365, "expires_at") > at(&t90, "expires_at"));
    for bad in [0, -1, 366, 100_000] {
        let r = from_session(&format!(r#"{{"name":"x","expires_in_days":{bad}}}"#));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.body.contains("expires_in_days"), "{}", r.body);
    }

    // A token works, but cannot make another token.
    let token = at(&t90, "token");
    assert_eq!(with_token(&token, "/api/cases").status, 200);
    let minted = http(
        "POST",
        &url("/api/tokens"),
        &[("authorization", &format!("Bearer {token}"))],
        Some(r#"{"name":"child"}"#),
    );
    assert_eq!(minted.status, 403, "{}", minted.body);
    assert!(minted.body.contains("logged-in session"), "{}", minted.body);

    // An expired token is refused (its expiry moved into the past in the catalog).
    let day = at(&t1, "token");
    assert_eq!(with_token(&day, "/api/cases").status, 200);
    let id = t1.json()["id"].as_i64().unwrap();
    common::tamper_sql(
        &env,
        &format!("UPDATE api_tokens SET expires = 1 WHERE id = {id}"),
    );
    let r = with_token(&day, "/api/cases");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body.contains("invalid, expired or revoked token"),
        "{}",
        r.body
    );

    // A password reset ends the sessions and revokes every token of that user only.
    let (b_cookie, b_csrf) = session(base, "badr", PW);
    let b_token = http(
        "POST",
        &url("/api/tokens"),
        &[("cookie", &b_cookie), ("x-csrf-token", &b_csrf)],
        Some(r#"{"name":"ci"}"#),
    );
    assert_eq!(b_token.status, 201, "{}", b_token.body);
    let b_token = at(&b_token, "token");
    env.run_stdin(
        &["user", "reset", "amal", "--password-stdin"],
        "another-synthetic-password\n",
    );
    for t in [&token, &at(&t365, "token")] {
        assert_eq!(with_token(t, "/api/cases").status, 401);
    }
    let r = http("GET", &url("/api/cases"), &[("cookie", &cookie)], None);
    assert_eq!(r.status, 401, "session ended: {}", r.body);
    assert_eq!(with_token(&b_token, "/api/cases").status, 200);
    assert_eq!(
        login(base, "amal", "another-synthetic-password", None).status,
        200
    );

    // Disabling a user does the same.
    env.run_stdin(&["user", "disable", "badr"], "");
    assert_eq!(with_token(&b_token, "/api/cases").status, 401);
    let r = http("GET", &url("/api/cases"), &[("cookie", &b_cookie)], None);
    assert_eq!(r.status, 401, "{}", r.body);
}
