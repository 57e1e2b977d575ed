//! A log-in profile's cookies and the credentials a capture must not hand over.
//!
//! A named profile may hold `cookies.txt` in the Netscape format that browser extensions
//! export and yt-dlp reads. It is given to Chromium (`Storage.setCookies`) before the page
//! loads and to yt-dlp (a private copy: yt-dlp writes its jar back), so a copy exported from
//! the investigator's own browser is enough to capture logged in.
//!
//! What a capture keeps never carries the account it was made with: the `Cookie`,
//! `Authorization` and `Proxy-Authorization` values of the requests recorded in the WARC
//! are withheld (the header stays, its value becomes [`WITHHELD`]), and so are the
//! `Set-Cookie` values of the responses when a profile was used (a site renews its session
//! there); yt-dlp's info JSON loses its `cookies` fields and `Cookie` headers the same way.
//! Bodies, statuses and every other header are kept as they were on the wire.

use serde_json::{json, Value};

/// What a withheld value is replaced with.
pub const WITHHELD: &str = "[withheld by Athar]";

/// Request headers whose values are the capturer's credentials.
pub const REQUEST_CREDENTIALS: &[&str] = &["cookie", "authorization", "proxy-authorization"];

/// One cookie of a `cookies.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// As written: a leading dot (or the include-subdomains flag) makes it a domain cookie.
    pub domain: String,
    pub include_subdomains: bool,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    /// Seconds since the Unix epoch; None for a session cookie (0 in the file).
    pub expires: Option<i64>,
    pub name: String,
    pub value: String,
}

/// Parses a Netscape `cookies.txt`: seven tab-separated fields a line (domain, include
/// subdomains, path, secure, expiry, name, value); `#` lines are comments except the
/// `#HttpOnly_` prefix curl and browsers write. A malformed line is an error naming it.
pub fn parse_netscape(text: &str) -> Result<Vec<Cookie>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let bad = |why: &str| format!("line {}: {why}", i + 1);
        if f.len() != 7 {
            return Err(bad("expected 7 tab-separated fields"));
        }
        let flag = |v: &str, what: &str| match v.to_ascii_uppercase().as_str() {
            "TRUE" => Ok(true),
            "FALSE" => Ok(false),
            _ => Err(bad(&format!("{what} must be TRUE or FALSE"))),
        };
        let expires: i64 = f[4]
            .trim()
            .parse()
            .map_err(|_| bad("the expiry must be a number of seconds"))?;
        if f[0].is_empty() || f[5].is_empty() {
            return Err(bad("a cookie needs a domain and a name"));
        }
        out.push(Cookie {
            domain: f[0].to_owned(),
            include_subdomains: flag(f[1], "include-subdomains")?,
            path: if f[2].is_empty() { "/" } else { f[2] }.to_owned(),
            secure: flag(f[3], "secure")?,
            http_only,
            expires: (expires > 0).then_some(expires),
            name: f[5].to_owned(),
            value: f[6].to_owned(),
        });
    }
    Ok(out)
}

impl Cookie {
    /// The cookie as DevTools' `Network.CookieParam`.
    pub fn to_cdp(&self) -> Value {
        let host = self.domain.trim_start_matches('.');
        let domain = if self.include_subdomains || self.domain.starts_with('.') {
            format!(".{host}")
        } else {
            host.to_owned()
        };
        let mut v = json!({
            "name": self.name,
            "value": self.value,
            "domain": domain,
            "path": self.path,
            "secure": self.secure,
            "httpOnly": self.http_only,
        });
        if let Some(e) = self.expires {
            v["expires"] = json!(e);
        }
        v
    }
}

/// `head` (an HTTP/1.1 message head) with the values of the headers named in `names`
/// (lower case) replaced by [`WITHHELD`]; every other byte as it was.
pub fn withhold(head: &[u8], names: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    let mut first = true;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let colon = line.iter().position(|&b| b == b':');
        let hit = !first
            && colon.is_some_and(|c| {
                let name = String::from_utf8_lossy(&line[..c]);
                names.iter().any(|n| name.trim().eq_ignore_ascii_case(n))
            });
        first = false;
        match (hit, colon) {
            (true, Some(c)) => {
                out.extend_from_slice(&line[..=c]);
                out.push(b' ');
                out.extend_from_slice(WITHHELD.as_bytes());
                let ending: &[u8] = if line.ends_with(b"\r\n") {
                    b"\r\n"
                } else if line.ends_with(b"\n") {
                    b"\n"
                } else {
                    b""
                };
                out.extend_from_slice(ending);
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

/// Withholds the credentials in yt-dlp's info JSON: every `cookies` value, and every
/// `Cookie` or `Authorization` entry of an `http_headers` object, at any depth. Returns
/// whether anything was withheld.
pub fn withhold_in_info(v: &mut Value) -> bool {
    let mut changed = false;
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "cookies" && !child.is_null() {
                    *child = json!(WITHHELD);
                    changed = true;
                } else if k == "http_headers" {
                    if let Value::Object(h) = child {
                        for (name, value) in h.iter_mut() {
                            if REQUEST_CREDENTIALS
                                .iter()
                                .any(|c| name.eq_ignore_ascii_case(c))
                            {
                                *value = json!(WITHHELD);
                                changed = true;
                            }
                        }
                    }
                } else {
                    changed |= withhold_in_info(child);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= withhold_in_info(item);
            }
        }
        _ => {}
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netscape_files_parse_with_their_flags() {
        let text = "# Netscape HTTP Cookie File\n\
                    \n\
                    .example.org\tTRUE\t/\tTRUE\t2000000000\tsid\tabc=1\n\
                    #HttpOnly_127.0.0.1\tFALSE\t/members\tFALSE\t0\tsession\tsynthetic\r\n";
        let c = parse_netscape(text).expect("parse");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].value, "abc=1");
        assert!(c[0].secure && c[0].include_subdomains && !c[0].http_only);
        assert_eq!(c[0].expires, Some(2_000_000_000));
        assert_eq!(c[0].to_cdp()["domain"], ".example.org");
        assert!(c[1].http_only && c[1].expires.is_none());
        assert_eq!(c[1].to_cdp()["domain"], "127.0.0.1");
        assert_eq!(c[1].to_cdp()["path"], "/members");
        assert!(c[1].to_cdp().get("expires").is_none());
    }

    #[test]
    fn malformed_lines_are_named() {
        for (text, says) in [
            ("a\tTRUE\t/\n", "line 1: expected 7"),
            (
                "# c\nx\tMAYBE\t/\tFALSE\t0\tn\tv\n",
                "line 2: include-subdomains",
            ),
            ("x\tTRUE\t/\tFALSE\tsoon\tn\tv\n", "line 1: the expiry"),
            ("\tTRUE\t/\tFALSE\t0\tn\tv\n", "line 1: a cookie needs"),
        ] {
            let e = parse_netscape(text).expect_err(text);
            assert!(e.starts_with(says), "{e}");
        }
    }

    #[test]
    fn credentials_are_withheld_and_nothing_else_changes() {
        let head = b"GET /members HTTP/1.1\r\nHost: a.example\r\nCookie: session=secret\r\n\
                     authorization: Bearer t0ken\r\nAccept: */*\r\n\r\n";
        let out = withhold(head, REQUEST_CREDENTIALS);
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            !text.contains("secret") && !text.contains("t0ken"),
            "{text}"
        );
        assert_eq!(
            text,
            format!(
                "GET /members HTTP/1.1\r\nHost: a.example\r\nCookie: {WITHHELD}\r\n\
                 authorization: {WITHHELD}\r\nAccept: */*\r\n\r\n"
            )
        );
        // A request line that happens to hold a colon is not a header.
        let head = b"GET http://cookie:1/ HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(withhold(head, REQUEST_CREDENTIALS), head.to_vec());
        // Nothing to withhold: the same bytes.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(withhold(head, &["set-cookie"]), head.to_vec());
    }

    #[test]
    fn info_json_loses_its_cookies() {
        let mut v = json!({
            "title": "Members video",
            "cookies": "session=secret; Domain=127.0.0.1",
            "http_headers": {"User-Agent": "x", "Cookie": "session=secret"},
            "formats": [{"url": "u", "cookies": "session=secret", "http_headers": {"Accept": "*/*"}}],
            "requested_formats": null,
        });
        assert!(withhold_in_info(&mut v));
        let text = v.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(v["title"], "Members video");
        assert_eq!(v["http_headers"]["User-Agent"], "x");
        assert_eq!(v["formats"][0]["http_headers"]["Accept"], "*/*");
        let mut plain = json!({"title": "t", "formats": [{"url": "u"}]});
        assert!(!withhold_in_info(&mut plain));
    }
}
