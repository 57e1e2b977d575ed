//! The deletion watch: is a captured source still there? One check fetches the URL (its
//! redirects followed, bounded) and, for a source with media, asks yt-dlp, and says:
//! available, changed (its text no longer hashes as it did), gone (404, 410, a platform's
//! "removed", "unavailable" or "private" page or yt-dlp error), behind a log-in wall, or
//! unreachable (never taken for gone: the caller retries and keeps the last state).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::exchange::Exchange;
use crate::http;

/// How to check sources.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// Where traffic goes on (as for captures).
    pub proxy: Option<String>,
    /// Extra trusted roots (DER).
    pub extra_roots: Vec<Vec<u8>>,
    /// Tries before a source is called unreachable (waiting 1 s, then 3 s… between).
    pub tries: u32,
    /// yt-dlp, for sources with media: its "removed", "private" or log-in errors count.
    pub ytdlp: Option<PathBuf>,
    /// Time limit of one request.
    pub timeout: Duration,
    /// The most of a page read.
    pub max_bytes: u64,
    /// The first wait between tries (then three times as long each time).
    pub backoff: Duration,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            proxy: None,
            extra_roots: Vec::new(),
            tries: 3,
            ytdlp: None,
            timeout: Duration::from_secs(30),
            max_bytes: 16 << 20,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Checks a source over the network: [`check`] with real requests, tried again while it
/// is unreachable, then yt-dlp's view for a source with media that still answers.
pub fn check_source(url: &str, captured: Option<&str>, cfg: &CheckConfig) -> Finding {
    let pcfg = crate::proxy::ProxyConfig {
        upstream: cfg.proxy.clone(),
        extra_roots: cfg.extra_roots.clone(),
        max_response_bytes: cfg.max_bytes,
        max_total_bytes: cfg.max_bytes,
        request_timeout: cfg.timeout,
        refuse_local: cfg.proxy.is_none() && !crate::proxy::is_local_host(url),
    };
    let mut wait = cfg.backoff;
    let mut finding = None;
    for attempt in 0..cfg.tries.max(1) {
        if attempt > 0 {
            std::thread::sleep(wait);
            wait *= 3;
        }
        let f = check(url, captured, &mut |u| {
            crate::proxy::fetch(&pcfg, u).map_err(|e| e.to_string())
        });
        let done = f.state != SourceState::Unreachable;
        finding = Some(f);
        if done {
            break;
        }
    }
    let mut finding = finding.unwrap_or_else(|| unreachable("not checked".into()));
    if let (Some(program), SourceState::Available | SourceState::Changed) =
        (&cfg.ytdlp, finding.state)
    {
        if let Err(e) = crate::media::probe(
            url,
            program,
            cfg.proxy.as_deref(),
            &cfg.extra_roots,
            cfg.timeout * 2,
        ) {
            if let Some(state) = ytdlp_state(&e) {
                finding.state = state;
                finding.detail = format!("yt-dlp: {e}");
            }
        }
    }
    finding
}

/// What a source looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Available,
    Changed,
    Gone,
    Login,
    Unreachable,
}

impl SourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Available => "available",
            SourceState::Changed => "changed",
            SourceState::Gone => "gone",
            SourceState::Login => "login",
            SourceState::Unreachable => "unreachable",
        }
    }

    pub fn parse(s: &str) -> Option<SourceState> {
        [
            SourceState::Available,
            SourceState::Changed,
            SourceState::Gone,
            SourceState::Login,
            SourceState::Unreachable,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One check's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub state: SourceState,
    /// The final answer's status, when one came.
    pub status: Option<u16>,
    /// Where the redirects ended.
    pub final_url: Option<String>,
    /// SHA-256 of the page's text ([`html_text`]), when it answered with a page.
    pub content_sha256: Option<String>,
    /// Why, in words (the status, the phrase seen, the error).
    pub detail: String,
}

/// What platforms say when content was taken down or hidden (lower case).
const GONE_PHRASES: &[&str] = &[
    "has been removed",
    "been removed by the uploader",
    "video unavailable",
    "this video is unavailable",
    "this video is private",
    "video is private",
    "content isn't available",
    "content is not available",
    "this page isn't available",
    "page not found",
    "account has been terminated",
    "account suspended",
    "this account doesn't exist",
    "no longer available",
    "post was deleted",
    "has been deleted",
    "تمت إزالة",
    "غير متاح",
];

/// What a log-in wall says (lower case), beside a redirect to a log-in page.
const LOGIN_PHRASES: &[&str] = &[
    "log in to continue",
    "sign in to continue",
    "sign in to confirm",
    "you must log in",
    "login required",
    "log in to see",
];

/// Checks `url` with `fetch` (one request, no redirects followed), following at most ten
/// redirects; `captured` is the text hash the capture recorded.
pub fn check(
    url: &str,
    captured: Option<&str>,
    fetch: &mut dyn FnMut(&str) -> Result<Exchange, String>,
) -> Finding {
    let mut current = url.to_owned();
    let mut hops = 0;
    loop {
        let ex = match fetch(&current) {
            Ok(ex) if !ex.response_head.is_empty() => ex,
            Ok(ex) => return unreachable(ex.error.unwrap_or_else(|| "no answer".into())),
            Err(e) => return unreachable(e),
        };
        let status = ex.status;
        if (300..400).contains(&status) {
            let next = http::header(&ex.response_head, "location")
                .and_then(|l| crate::resolve(&current, &l));
            match next {
                Some(next) if hops < 10 => {
                    if is_login_url(&next) {
                        return Finding {
                            state: SourceState::Login,
                            status: Some(status),
                            final_url: Some(next),
                            content_sha256: None,
                            detail: format!("{status}: sent to a log-in page"),
                        };
                    }
                    current = next;
                    hops += 1;
                    continue;
                }
                _ => return unreachable(format!("{status}: redirects do not end")),
            }
        }
        return classify(&current, &ex, captured);
    }
}

fn unreachable(why: String) -> Finding {
    Finding {
        state: SourceState::Unreachable,
        status: None,
        final_url: None,
        content_sha256: None,
        detail: why,
    }
}

fn is_login_url(url: &str) -> bool {
    let path = url
        .split_once("://")
        .map_or(url, |(_, r)| r.split_once('/').map_or("", |(_, p)| p))
        .to_ascii_lowercase();
    [
        "login",
        "signin",
        "sign_in",
        "sign-in",
        "accounts/",
        "auth/",
    ]
    .iter()
    .any(|w| path.starts_with(w) || path.contains(&format!("/{w}")))
}

/// Classifies a final (non-redirect) answer.
fn classify(url: &str, ex: &Exchange, captured: Option<&str>) -> Finding {
    let status = ex.status;
    let body = http::payload(&ex.response_head, &ex.response_body);
    let text = html_text(&String::from_utf8_lossy(&body));
    let lower = text.to_lowercase();
    let hash = crate::sha256_hex(text.as_bytes());
    let finding = |state, detail: String| Finding {
        state,
        status: Some(status),
        final_url: Some(url.to_owned()),
        content_sha256: (status == 200).then(|| hash.clone()),
        detail,
    };
    match status {
        404 | 410 | 451 => return finding(SourceState::Gone, format!("{status}")),
        401 => return finding(SourceState::Login, "401: log-in needed".into()),
        403 if LOGIN_PHRASES.iter().any(|p| lower.contains(p)) => {
            return finding(SourceState::Login, "403: log-in wall".into())
        }
        s if !(200..300).contains(&s) => {
            return Finding {
                state: SourceState::Unreachable,
                ..finding(SourceState::Unreachable, format!("{status}"))
            }
        }
        _ => {}
    }
    if is_login_url(url) || LOGIN_PHRASES.iter().any(|p| lower.contains(p)) {
        return finding(SourceState::Login, format!("{status}: log-in wall"));
    }
    if let Some(p) = GONE_PHRASES.iter().find(|p| lower.contains(*p)) {
        return finding(SourceState::Gone, format!("{status}: the page says {p:?}"));
    }
    match captured {
        Some(c) if c != hash => {
            finding(SourceState::Changed, format!("{status}: its text changed"))
        }
        _ => finding(SourceState::Available, format!("{status}")),
    }
}

/// What yt-dlp's error about a URL means for the watch: gone, log-in, or nothing known.
pub fn ytdlp_state(error: &str) -> Option<SourceState> {
    let e = error.to_lowercase();
    if [
        "sign in",
        "log in",
        "login required",
        "cookies",
        "members-only",
        "join this channel",
    ]
    .iter()
    .any(|p| e.contains(p))
    {
        return Some(SourceState::Login);
    }
    if [
        "unavailable",
        "removed",
        "private video",
        "video is private",
        "deleted",
        "terminated",
        "does not exist",
        "404",
        "410",
        "no longer available",
    ]
    .iter()
    .any(|p| e.contains(p))
    {
        return Some(SourceState::Gone);
    }
    None
}

/// A page's text for comparing versions: scripts, styles and tags dropped, entities
/// left, white space collapsed.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let rest = &lower[i..];
            // Where the construct ends: past a comment's `-->`, past the `>` of a script's
            // or style's end tag, or past a tag's own `>`.
            let end = if rest.starts_with("<!--") {
                rest.find("-->").map(|e| e + 3)
            } else {
                let from = if rest.starts_with("<script") {
                    rest.find("</script")
                } else if rest.starts_with("<style") {
                    rest.find("</style")
                } else {
                    Some(0)
                };
                from.and_then(|f| rest[f..].find('>').map(|e| f + e + 1))
            };
            match end {
                Some(e) => i += e,
                None => break,
            }
            out.push(' ');
            continue;
        }
        let next = lower[i..].find('<').map_or(bytes.len(), |n| i + n);
        out.push_str(&html[i..next]);
        i = next;
    }
    normalise_text(&out)
}

/// White space collapsed to single spaces, trimmed.
pub fn normalise_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &str, body: &str) -> Exchange {
        Exchange {
            status,
            response_head: format!("HTTP/1.1 {status} X\r\n{headers}\r\n").into_bytes(),
            response_body: body.as_bytes().to_vec(),
            ..Exchange::default()
        }
    }

    #[test]
    fn text_of_a_page() {
        let t = html_text(
            "<html><head><style>p{}</style><script>var a='<p>';</script></head><body><p>Hello\n <b>world</b></p><!-- x --> نص</body></html>",
        );
        assert_eq!(t, "Hello world نص");
    }

    #[test]
    fn states_from_answers() {
        let page = "<p>A post with a video</p>";
        let captured = crate::sha256_hex(html_text(page).as_bytes());
        let run = |answers: Vec<Exchange>| {
            let mut it = answers.into_iter();
            check("https://e.example/v/1", Some(&captured), &mut |_| {
                it.next().ok_or_else(|| "refused".to_owned())
            })
        };
        assert_eq!(
            run(vec![answer(200, "", page)]).state,
            SourceState::Available
        );
        assert_eq!(
            run(vec![answer(200, "", "<p>Edited</p>")]).state,
            SourceState::Changed
        );
        assert_eq!(run(vec![answer(404, "", "")]).state, SourceState::Gone);
        assert_eq!(run(vec![answer(410, "", "")]).state, SourceState::Gone);
        assert_eq!(
            run(vec![answer(
                200,
                "",
                "<h1>This video has been removed by the uploader</h1>"
            )])
            .state,
            SourceState::Gone
        );
        assert_eq!(
            run(vec![answer(302, "Location: /login?next=/v/1\r\n", "")]).state,
            SourceState::Login
        );
        assert_eq!(
            run(vec![answer(503, "", "")]).state,
            SourceState::Unreachable
        );
        assert_eq!(run(vec![]).state, SourceState::Unreachable);
        // A redirect to the same page elsewhere is followed.
        let f = run(vec![
            answer(301, "Location: https://f.example/v/1\r\n", ""),
            answer(200, "", page),
        ]);
        assert_eq!(f.state, SourceState::Available);
        assert_eq!(f.final_url.as_deref(), Some("https://f.example/v/1"));
        // Endless redirects are not "gone".
        let mut n = 0;
        let f = check("http://e.example/a", None, &mut |_| {
            n += 1;
            Ok(answer(302, &format!("Location: /a?{n}\r\n"), ""))
        });
        assert_eq!(f.state, SourceState::Unreachable);
    }

    #[test]
    fn ytdlp_errors() {
        assert_eq!(
            ytdlp_state("Video unavailable. This video has been removed"),
            Some(SourceState::Gone)
        );
        assert_eq!(
            ytdlp_state("Private video. Sign in if you've been granted access"),
            Some(SourceState::Login)
        );
        assert_eq!(ytdlp_state("Unable to download webpage: timed out"), None);
    }
}
