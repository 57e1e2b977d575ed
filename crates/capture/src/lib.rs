//! Capture from the web: a URL in, a bundle of files out, the way a court needs it (the
//! Berkeley Protocol's URL, HTML source and full-page capture with date and time), plus the
//! checks that watch a captured source.
//!
//! One capture ([`capture`]): a recording proxy ([`proxy`]) is started and headless
//! Chromium ([`browser`]) loads the page through it, scrolls it (a bounded number of
//! screens), and takes a viewport and a full-page screenshot (each under a band with the URL
//! and the UTC capture time), a PDF, and the DOM after load. The proxy's recording becomes
//! a signed WACZ ([`wacz`], WARC records in [`warc`]) with the page's text; the HTML as served
//! is the recorded response of the final document; the network context (DNS answers, TLS
//! chains and protocols, the proxy used) comes from the proxy. yt-dlp ([`media`]) then takes
//! the media. Every step has a share of one time limit and the proxy a size limit: a step
//! that fails or runs out leaves a problem in the manifest and the bundle is marked partial,
//! never complete.
//!
//! When captures start and when a source is checked again is [`schedule`]'s, for the CLI
//! and the server alike.
//!
//! Knows nothing of the catalog, the blob store or the log: the caller preserves the bundle
//! (`athar_core::capture`).

pub mod browser;
pub mod cookies;
pub mod exchange;
#[cfg(feature = "fixture")]
pub mod fixture;
pub mod http;
pub mod media;
pub mod proxy;
pub mod schedule;
pub mod wacz;
pub mod warc;
pub mod watch;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use browser::{Browser, BrowserConfig};
use exchange::Exchange;
pub use media::MediaInfo;

/// What can stop a capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("browser: {0}")]
    Browser(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("{0}")]
    Tool(String),
    #[error("proxy: {0}")]
    Proxy(String),
    #[error("wacz: {0}")]
    Wacz(String),
    #[error("bad URL {url:?}: {why}")]
    Url { url: String, why: String },
    #[error("log-in profile: {0}")]
    Profile(String),
}

/// How to capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub chromium: PathBuf,
    /// yt-dlp (None: no media step).
    pub ytdlp: Option<PathBuf>,
    /// Where traffic goes on (`http://…`, `socks5h://…` for Tor); recorded in the manifest.
    pub proxy: Option<String>,
    /// A named log-in profile: a Chromium profile folder, and its `cookies.txt` (Netscape
    /// format) given to the browser and to yt-dlp ([`cookies`]).
    pub profile: Option<PathBuf>,
    /// The profile's name, for the manifest.
    pub profile_name: Option<String>,
    /// Extra trusted roots (DER), beside the system's.
    pub extra_roots: Vec<Vec<u8>>,
    /// The whole capture's time limit.
    pub time_limit: Duration,
    /// All recorded response bodies together, and each media file.
    pub size_limit: u64,
    /// Fetch comments with the media.
    pub comments: bool,
    pub width: u32,
    pub height: u32,
    /// The most screens scrolled (an endless page stops there).
    pub max_scrolls: u32,
    /// The tallest full-page screenshot, in CSS pixels.
    pub max_page_height: u32,
    /// "Athar 0.1.0", in the WACZ and the WARC.
    pub software: String,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            chromium: BrowserConfig::default_program(),
            ytdlp: Some(media::ytdlp_program(&media::tools_dir())),
            proxy: None,
            profile: None,
            profile_name: None,
            extra_roots: Vec::new(),
            time_limit: Duration::from_secs(300),
            size_limit: 2 << 30,
            comments: false,
            width: 1280,
            height: 900,
            max_scrolls: 25,
            max_page_height: 16384,
            software: format!("Athar {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One file of a bundle and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artefact {
    /// `wacz`, `screenshot`, `screenshot-viewport`, `pdf`, `html-served`, `html-dom`,
    /// `tls-certificate`, `network`, `media`, `media-info`, `subtitles`, `thumbnail`,
    /// `comments`, `manifest`.
    pub role: String,
    /// The file's name in the bundle folder.
    pub name: String,
}

/// A redirect on the way to the captured page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub url: String,
    /// The HTTP status that sent the browser on (None: the page itself did, by meta refresh
    /// or script).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
}

/// What the network said during a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// The address the final document came from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remote_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls_protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls_cipher: Option<String>,
    /// SHA-256 of each certificate of the final document's host, leaf first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tls_chain_sha256: Vec<String>,
    /// The DNS answers for the final document's host.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub proxy: Option<String>,
    /// The log-in profile used, by name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<String>,
}

/// The bundle's own description (`capture.json`): everything the capture record holds but
/// the archive's item ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The URL asked for.
    pub url: String,
    /// The page's address once loaded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub final_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub redirects: Vec<Hop>,
    /// The final document's HTTP status.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    /// RFC 3339, UTC.
    pub started: String,
    pub ended: String,
    /// Whether every step finished; otherwise `problems` says what is missing and why.
    pub complete: bool,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title: Option<String>,
    /// What the page says of itself (meta tags, JSON-LD): who posted it, where, when.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub site_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub published: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub canonical_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub media: Vec<MediaInfo>,
    /// Tool and version: athar, chromium, yt-dlp.
    pub tools: std::collections::BTreeMap<String, String>,
    pub network: Network,
    /// The requests the page made (recorded in the WACZ).
    pub requests: u64,
    pub artefacts: Vec<Artefact>,
    /// SHA-256 of the served page's text (`watch::html_text`), which the deletion watch
    /// compares against.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_sha256: Option<String>,
}

/// A finished capture: its folder and manifest.
#[derive(Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Bundle {
    /// Each artefact's path.
    pub fn files(&self) -> Vec<(PathBuf, &Artefact)> {
        self.manifest
            .artefacts
            .iter()
            .map(|a| (self.dir.join(&a.name), a))
            .collect()
    }
}

/// Checks a URL is one Athar captures: absolute http(s) with a host.
pub fn check_url(url: &str) -> Result<(), CaptureError> {
    let bad = |why: &str| CaptureError::Url {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("only http:// and https:// addresses are captured"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad("no host"));
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("spaces or control characters"));
    }
    Ok(())
}

/// The file of a log-in profile that holds its cookies (Netscape format).
pub const COOKIES_FILE: &str = "cookies.txt";

/// The cookies of a log-in profile's [`COOKIES_FILE`], when it has one; an unreadable or
/// malformed file is an error naming it and the line.
pub fn profile_cookies(
    profile: Option<&Path>,
) -> Result<Option<Vec<cookies::Cookie>>, CaptureError> {
    let Some(path) = profile.map(|p| p.join(COOKIES_FILE)) else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CaptureError::Profile(format!("{}: {e}", path.display()))),
    };
    cookies::parse_netscape(&text)
        .map(Some)
        .map_err(|e| CaptureError::Profile(format!("{}: {e}", path.display())))
}

/// Captures `url` into `dir` (made empty first). Errors only when nothing could be
/// captured at all (no browser, no folder); any other failure leaves a partial bundle.
pub fn capture(
    url: &str,
    dir: &Path,
    opts: &CaptureOptions,
    signing: &p384::ecdsa::SigningKey,
) -> Result<Bundle, CaptureError> {
    check_url(url)?;
    std::fs::create_dir_all(dir)?;
    let start = Instant::now();
    let deadline = start + opts.time_limit;
    let mut m = Manifest {
        url: url.to_owned(),
        started: now_rfc3339(),
        ..Manifest::default()
    };
    m.tools.insert("athar".into(), opts.software.clone());
    m.network.proxy = opts.proxy.clone();
    m.network.profile = opts.profile_name.clone();

    let proxy = proxy::RecordingProxy::start(proxy::ProxyConfig {
        upstream: opts.proxy.clone(),
        extra_roots: opts.extra_roots.clone(),
        max_response_bytes: opts.size_limit,
        max_total_bytes: opts.size_limit,
        // A public page may not reach into the local network through the browser.
        refuse_local: opts.proxy.is_none() && !proxy::is_local_host(url),
        ..proxy::ProxyConfig::default()
    })
    .map_err(|e| CaptureError::Proxy(e.to_string()))?;
    // The browser's share of the time: what yt-dlp does not need (at least half).
    let page_deadline = start + opts.time_limit / 2;
    let page = browse(url, dir, opts, &proxy, page_deadline, &mut m);
    let mut recording = proxy.finish();
    // The capturer's credentials stay out of what is kept (`cookies`).
    for x in &mut recording.exchanges {
        x.request_head = cookies::withhold(&x.request_head, cookies::REQUEST_CREDENTIALS);
        if opts.profile.is_some() {
            x.response_head = cookies::withhold(&x.response_head, &["set-cookie"]);
        }
    }
    let page = match page {
        Ok(p) => Some(p),
        Err(e) => {
            m.problems.push(format!("page: {e}"));
            None
        }
    };
    if let Some(limit) = &recording.limit_hit {
        m.problems.push(format!("recording stopped: {limit}"));
    }
    m.requests = recording.exchanges.len() as u64;
    let document = follow(
        url,
        page.as_ref().map(|p| p.final_url.as_str()),
        &recording.exchanges,
        &mut m,
    );
    if let Some(doc) = document {
        m.status = Some(doc.status);
        m.network.remote_addr = doc.remote_addr.map(|a| a.to_string());
        if !doc.response_head.is_empty() {
            let served = http::payload(&doc.response_head, &doc.response_body);
            m.content_sha256 = Some(sha256_hex(
                watch::html_text(&String::from_utf8_lossy(&served)).as_bytes(),
            ));
            std::fs::write(dir.join("page-served.html"), served)?;
            m.artefacts
                .push(artefact("html-served", "page-served.html"));
        }
        if let Some(host) = host_of(&doc.url) {
            if let Some(h) = recording
                .hosts
                .iter()
                .find(|h| h.host.eq_ignore_ascii_case(&host.0) && h.port == host.1)
            {
                m.network.dns = h.dns.iter().map(|a| a.to_string()).collect();
                if let Some(tls) = &h.tls {
                    m.network.tls_protocol = Some(tls.protocol.clone());
                    m.network.tls_cipher = Some(tls.cipher.clone());
                    for (i, der) in tls.chain_der.iter().enumerate() {
                        let name = format!("tls-certificate-{i}.der");
                        std::fs::write(dir.join(&name), der)?;
                        m.artefacts.push(artefact("tls-certificate", &name));
                        m.network.tls_chain_sha256.push(sha256_hex(der));
                    }
                }
            }
        }
    } else if page.is_some() {
        m.problems
            .push("the page's document is not in the recording".to_owned());
    }
    // Every host's context, for the record.
    let hosts: Vec<_> = recording
        .hosts
        .iter()
        .map(|h| {
            json!({
                "host": h.host, "port": h.port,
                "dns": h.dns.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "tls": h.tls.as_ref().map(|t| json!({
                    "protocol": t.protocol, "cipher": t.cipher, "alpn": t.alpn,
                    "chain_sha256": t.chain_der.iter().map(|d| sha256_hex(d)).collect::<Vec<_>>(),
                })),
            })
        })
        .collect();
    write_json(
        &dir.join("network.json"),
        &json!({"proxy": opts.proxy, "hosts": hosts}),
    )?;
    m.artefacts.push(artefact("network", "network.json"));

    // The WACZ: every request and response, the page's text.
    let pages = vec![wacz::Page {
        url: page
            .as_ref()
            .map_or_else(|| url.to_owned(), |p| p.final_url.clone()),
        ts: m.started.clone(),
        title: page.as_ref().and_then(|p| p.title.clone()),
        text: page.as_ref().map(|p| p.text.clone()),
    }];
    let wacz_input = wacz::WaczInput {
        exchanges: &recording.exchanges,
        pages,
        main_page_url: url.to_owned(),
        main_page_date: m.started.clone(),
        title: format!("Capture of {url}"),
        software: opts.software.clone(),
        created: m.started.clone(),
        signing_key: signing,
    };
    match wacz::write_wacz(&dir.join("capture.wacz"), &wacz_input) {
        Ok(_) => m.artefacts.push(artefact("wacz", "capture.wacz")),
        Err(e) => m.problems.push(format!("wacz: {e}")),
    }
    drop(recording);

    // Media.
    if let Some(program) = &opts.ytdlp {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_secs(2) {
            m.problems.push("media: no time left".to_owned());
        } else {
            // yt-dlp writes its cookie jar back: it gets a private copy of the profile's.
            let cookie_jar = match opts.profile.as_ref().map(|p| p.join(COOKIES_FILE)) {
                Some(p) if p.is_file() => {
                    let jar = tempfile::Builder::new()
                        .prefix("athar-cookies-")
                        .tempfile()?;
                    std::fs::copy(&p, jar.path())?;
                    Some(jar)
                }
                _ => None,
            };
            let ca_file = if opts.extra_roots.is_empty() {
                None
            } else {
                let p = dir.join(".roots.pem");
                std::fs::write(&p, pem_bundle(&opts.extra_roots))?;
                Some(p)
            };
            let mopts = media::MediaOptions {
                program: program.clone(),
                proxy: opts.proxy.clone(),
                ca_file: ca_file.clone(),
                comments: opts.comments,
                max_bytes: opts.size_limit,
                cookies: cookie_jar.as_ref().map(|j| j.path().to_owned()),
            };
            let target = page
                .as_ref()
                .map_or(url, |p| p.final_url.as_str())
                .to_owned();
            match media::fetch(&target, &dir.join("media"), &mopts, left) {
                Ok(out) => {
                    if let Some(v) = out.version {
                        m.tools.insert("yt-dlp".into(), v);
                    }
                    if let Some(p) = out.problem {
                        m.problems.push(p);
                    }
                    for info in &out.infos {
                        m.media.push(MediaInfo::from_info(info));
                    }
                    for f in out.files {
                        let Some(name) = f.file_name().and_then(|n| n.to_str()) else {
                            continue;
                        };
                        m.artefacts
                            .push(artefact(media_role(name), &format!("media/{name}")));
                    }
                }
                Err(e) => m.problems.push(format!("media: {e}")),
            }
            if let Some(p) = ca_file {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    if let Some(p) = &page {
        m.title = p.title.clone();
        m.final_url = Some(p.final_url.clone());
        m.tools.insert("chromium".into(), p.browser.clone());
        let text = |k: &str| {
            p.meta
                .get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.chars().take(2000).collect::<String>())
                .filter(|s| !s.trim().is_empty())
        };
        m.author = text("author");
        m.site_name = text("site_name");
        m.description = text("description");
        m.published = text("published");
        m.canonical_url = text("canonical");
    }
    m.ended = now_rfc3339();
    m.complete = m.problems.is_empty();
    m.artefacts.push(artefact("manifest", "capture.json"));
    write_json(
        &dir.join("capture.json"),
        &serde_json::to_value(&m).unwrap_or_default(),
    )?;
    Ok(Bundle {
        dir: dir.to_owned(),
        manifest: m,
    })
}

/// What the browser made of the page.
struct Loaded {
    final_url: String,
    title: Option<String>,
    text: String,
    browser: String,
    meta: serde_json::Value,
}

/// What a page says of itself: meta tags and JSON-LD (the first author, date and
/// description found).
const PAGE_META: &str = r#"(() => {
  const m = (sel) => { const e = document.querySelector(sel); if (!e) return null; const v = (e.content || e.href || '').trim(); return v || null; };
  let author = m('meta[name="author"]') || m('meta[property="article:author"]');
  let published = m('meta[property="article:published_time"]') || m('meta[itemprop="uploadDate"]') || m('meta[itemprop="datePublished"]');
  let description = m('meta[property="og:description"]') || m('meta[name="description"]');
  for (const s of document.querySelectorAll('script[type="application/ld+json"]')) {
    let d; try { d = JSON.parse(s.textContent); } catch (e) { continue; }
    for (const o of [].concat((d && d['@graph']) || d)) {
      if (!o || typeof o !== 'object') continue;
      const a = Array.isArray(o.author) ? o.author[0] : o.author;
      if (!author && a) author = typeof a === 'string' ? a : (a.name || null);
      if (!published) published = o.uploadDate || o.datePublished || null;
      if (!description && typeof o.description === 'string') description = o.description;
    }
  }
  return { author, published, description, site_name: m('meta[property="og:site_name"]'), canonical: m('link[rel="canonical"]') };
})()"#;

/// Loads the page and writes the screenshots, PDF and DOM; problems short of a failed load
/// go into the manifest.
fn browse(
    url: &str,
    dir: &Path,
    opts: &CaptureOptions,
    proxy: &proxy::RecordingProxy,
    deadline: Instant,
    m: &mut Manifest,
) -> Result<Loaded, CaptureError> {
    let step = |d: Duration| {
        d.min(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        )
    };
    let mut b = Browser::launch(
        &BrowserConfig {
            program: opts.chromium.clone(),
            proxy: proxy.addr(),
            proxy_spki: proxy.spki_sha256_base64(),
            profile: opts.profile.clone(),
            width: opts.width,
            height: opts.height,
        },
        step(Duration::from_secs(30)),
    )?;
    let browser = b.version(step(Duration::from_secs(10)))?;
    if let Some(jar) = profile_cookies(opts.profile.as_deref())? {
        let cookies: Vec<Value> = jar.iter().map(cookies::Cookie::to_cdp).collect();
        b.call(
            None,
            "Storage.setCookies",
            json!({ "cookies": cookies }),
            step(Duration::from_secs(10)),
        )?;
    }
    let s = b.new_page(step(Duration::from_secs(10)))?;
    let s = s.as_str();
    let short = Duration::from_secs(10);
    b.call(Some(s), "Page.enable", json!({}), step(short))?;
    b.call(
        Some(s),
        "Emulation.setDeviceMetricsOverride",
        json!({"width": opts.width, "height": opts.height, "deviceScaleFactor": 1, "mobile": false}),
        step(short),
    )?;
    let nav = b.call(
        Some(s),
        "Page.navigate",
        json!({"url": url}),
        step(Duration::from_secs(60)),
    )?;
    if let Some(err) = nav.get("errorText").and_then(|v| v.as_str()) {
        return Err(CaptureError::Browser(format!("loading {url}: {err}")));
    }
    let load_by = Instant::now() + step(Duration::from_secs(45));
    if b.wait_event(Some(s), "Page.loadEventFired", load_by)?
        .is_none()
    {
        m.problems.push(format!(
            "page: did not finish loading within {} s",
            load_by
                .saturating_duration_since(Instant::now())
                .as_secs()
                .max(1)
        ));
    }
    settle(
        proxy,
        deadline,
        Duration::from_millis(800),
        Duration::from_secs(8),
    );
    // Scroll, bounded: lazy content loads; an endless page stops at the limit.
    let scroll = format!(
        "(async () => {{ let n = 0, last = -1; while (n < {max}) {{ window.scrollBy(0, window.innerHeight); await new Promise(r => setTimeout(r, 120)); const h = document.documentElement.scrollHeight; if (window.scrollY + window.innerHeight >= h - 2 && h === last) break; last = h; n++; }} window.scrollTo(0, 0); return n; }})()",
        max = opts.max_scrolls
    );
    match b.eval(s, &scroll, step(Duration::from_secs(30))) {
        Ok(v) if v.as_u64() == Some(u64::from(opts.max_scrolls)) => m.problems.push(format!(
            "page: still growing after {} screens; captured that far",
            opts.max_scrolls
        )),
        Ok(_) => {}
        Err(e) => m.problems.push(format!("page: scrolling: {e}")),
    }
    settle(
        proxy,
        deadline,
        Duration::from_millis(800),
        Duration::from_secs(5),
    );
    let final_url = b
        .eval(s, "location.href", step(short))?
        .as_str()
        .unwrap_or(url)
        .to_owned();
    let title = b
        .eval(s, "document.title", step(short))?
        .as_str()
        .map(str::to_owned)
        .filter(|t| !t.is_empty());
    let text = b
        .eval(
            s,
            "document.body ? document.body.innerText : ''",
            step(short),
        )?
        .as_str()
        .unwrap_or("")
        .to_owned();
    match b.eval(
        s,
        "(document.doctype ? new XMLSerializer().serializeToString(document.doctype) + '\\n' : '') + document.documentElement.outerHTML",
        step(short),
    ) {
        Ok(v) => {
            std::fs::write(dir.join("page-dom.html"), v.as_str().unwrap_or(""))?;
            m.artefacts.push(artefact("html-dom", "page-dom.html"));
        }
        Err(e) => m.problems.push(format!("DOM: {e}")),
    }
    let meta = b.eval(s, PAGE_META, step(short)).unwrap_or_default();
    let shot_time = now_rfc3339();
    let viewport = b.call_data(
        s,
        "Page.captureScreenshot",
        json!({"format": "png"}),
        step(Duration::from_secs(30)),
    );
    let full = full_page(&mut b, s, opts, step(Duration::from_secs(60)));
    match b.call_data(
        s,
        "Page.printToPDF",
        json!({"printBackground": true}),
        step(Duration::from_secs(60)),
    ) {
        Ok(pdf) => {
            std::fs::write(dir.join("page.pdf"), pdf)?;
            m.artefacts.push(artefact("pdf", "page.pdf"));
        }
        Err(e) => m.problems.push(format!("PDF: {e}")),
    }
    // The band: rendered by the same browser (any script, any direction), then stacked.
    let band = band(
        &mut b,
        s,
        &final_url,
        &shot_time,
        opts.width,
        step(Duration::from_secs(20)),
    );
    for (shot, role, name) in [
        (viewport, "screenshot-viewport", "screenshot-viewport.png"),
        (full, "screenshot", "screenshot.png"),
    ] {
        let made = shot.and_then(|png| match &band {
            Ok(band) => stack(band, &png),
            Err(e) => Err(CaptureError::Browser(format!("band: {e}"))),
        });
        match made {
            Ok(png) => {
                std::fs::write(dir.join(name), png)?;
                m.artefacts.push(artefact(role, name));
            }
            Err(e) => m.problems.push(format!("{role}: {e}")),
        }
    }
    Ok(Loaded {
        final_url,
        title,
        text,
        browser,
        meta,
    })
}

/// The whole page as one PNG, at most `max_page_height` tall.
fn full_page(
    b: &mut Browser,
    s: &str,
    opts: &CaptureOptions,
    timeout: Duration,
) -> Result<Vec<u8>, CaptureError> {
    let metrics = b.call(Some(s), "Page.getLayoutMetrics", json!({}), timeout)?;
    let size = |k: &str| {
        metrics
            .pointer(&format!("/cssContentSize/{k}"))
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    let width = f64::from(opts.width);
    let height = size("height").clamp(1.0, f64::from(opts.max_page_height));
    b.call_data(
        s,
        "Page.captureScreenshot",
        json!({"format": "png", "captureBeyondViewport": true,
               "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
        timeout,
    )
}

/// A PNG band saying what was captured and when.
fn band(
    b: &mut Browser,
    s: &str,
    url: &str,
    at: &str,
    width: u32,
    timeout: Duration,
) -> Result<Vec<u8>, CaptureError> {
    let html = format!(
        "<!doctype html><meta charset=utf-8><body style=\"margin:0;background:#101418;color:#fff;font:15px/1.4 'DejaVu Sans',sans-serif\"><div id=b style=\"padding:8px 12px;word-break:break-all\"><div dir=auto>{}</div><div>Captured {} UTC by Athar</div></div>",
        html_escape(url),
        html_escape(at.replace('T', " ").trim_end_matches('Z'))
    );
    use base64::Engine;
    let data = format!(
        "data:text/html;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(html)
    );
    b.call(Some(s), "Page.navigate", json!({"url": data}), timeout)?;
    let _ = b.wait_event(Some(s), "Page.loadEventFired", Instant::now() + timeout)?;
    let h = b
        .eval(
            s,
            "document.getElementById('b').getBoundingClientRect().height",
            timeout,
        )?
        .as_f64()
        .unwrap_or(48.0)
        .ceil()
        .clamp(16.0, 400.0);
    b.call_data(
        s,
        "Page.captureScreenshot",
        json!({"format": "png", "clip": {"x": 0, "y": 0, "width": f64::from(width), "height": h, "scale": 1}}),
        timeout,
    )
}

/// `band` above `shot`, as one PNG (the band stretched or cut to the shot's width).
fn stack(band: &[u8], shot: &[u8]) -> Result<Vec<u8>, CaptureError> {
    let decode = |b: &[u8]| {
        image::load_from_memory_with_format(b, image::ImageFormat::Png)
            .map(|i| i.to_rgba8())
            .map_err(|e| CaptureError::Browser(format!("screenshot: {e}")))
    };
    let band = decode(band)?;
    let shot = decode(shot)?;
    let w = shot.width();
    let bh = band.height();
    let mut out =
        image::RgbaImage::from_pixel(w, bh + shot.height(), image::Rgba([16, 20, 24, 255]));
    for (x, y, p) in band.enumerate_pixels() {
        if x < w {
            out.put_pixel(x, y, *p);
        }
    }
    for (x, y, p) in shot.enumerate_pixels() {
        out.put_pixel(x, y + bh, *p);
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(out)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| CaptureError::Browser(format!("screenshot: {e}")))?;
    Ok(png)
}

/// Waits until the proxy has seen no new request for `quiet` (at most `max`).
fn settle(proxy: &proxy::RecordingProxy, deadline: Instant, quiet: Duration, max: Duration) {
    let until = (Instant::now() + max).min(deadline);
    let mut last = proxy.stats().exchanges;
    let mut since = Instant::now();
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        let now = proxy.stats().exchanges;
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return;
        }
    }
}

/// Follows the recorded redirects from `url` to the page's document, noting each hop.
fn follow<'a>(
    url: &str,
    final_url: Option<&str>,
    exchanges: &'a [Exchange],
    m: &mut Manifest,
) -> Option<&'a Exchange> {
    let find = |u: &str| {
        exchanges
            .iter()
            .find(|e| e.method == "GET" && same_url(&e.url, u) && !e.response_head.is_empty())
    };
    let mut current = find(url)?;
    for _ in 0..30 {
        if (300..400).contains(&current.status) {
            let Some(next) = http::header(&current.response_head, "location")
                .and_then(|l| resolve(&current.url, &l))
            else {
                break;
            };
            m.redirects.push(Hop {
                url: current.url.clone(),
                status: Some(current.status),
            });
            match find(&next) {
                Some(e) => current = e,
                None => break,
            }
        } else {
            break;
        }
    }
    if let Some(f) = final_url {
        if !same_url(&current.url, f) {
            if let Some(doc) = find(f) {
                m.redirects.push(Hop {
                    url: current.url.clone(),
                    status: None,
                });
                return Some(doc);
            }
        }
    }
    Some(current)
}

/// URLs equal but for the fragment.
fn same_url(a: &str, b: &str) -> bool {
    a.split('#').next() == b.split('#').next()
}

/// Resolves a Location against the URL it came from.
pub fn resolve(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_owned());
    }
    let (scheme, rest) = base.split_once("://")?;
    let origin_end = rest.find('/').unwrap_or(rest.len());
    let origin = &rest[..origin_end];
    if let Some(r) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{r}"));
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{origin}{location}"));
    }
    let path = rest[origin_end..].split(['?', '#']).next().unwrap_or("/");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{scheme}://{origin}{dir}{location}"))
}

/// The host (lower case, without brackets) and port of a URL.
pub fn host_of(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let default = if scheme == "https" { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, rest) = v6.split_once(']')?;
        (
            h.to_owned(),
            rest.strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default),
        )
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), default),
        }
    };
    Some((host.to_ascii_lowercase(), port))
}

fn media_role(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".info.json") {
        "media-info"
    } else if lower.ends_with(".comments.json") {
        "comments"
    } else if [".vtt", ".srt", ".ass", ".ttml", ".srv3", ".json3"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        "subtitles"
    } else if [".jpg", ".jpeg", ".png", ".webp", ".gif"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        "thumbnail"
    } else {
        "media"
    }
}

fn artefact(role: &str, name: &str) -> Artefact {
    Artefact {
        role: role.to_owned(),
        name: name.to_owned(),
    }
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), CaptureError> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    std::fs::write(path, s)?;
    Ok(())
}

pub(crate) fn pem_bundle(ders: &[Vec<u8>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Now, RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_resolve_and_split() {
        assert_eq!(
            resolve("http://a.example/x/y?q", "/z").as_deref(),
            Some("http://a.example/z")
        );
        assert_eq!(
            resolve("http://a.example/x/y?q", "z").as_deref(),
            Some("http://a.example/x/z")
        );
        assert_eq!(
            resolve("https://a.example/x", "//b.example/c").as_deref(),
            Some("https://b.example/c")
        );
        assert_eq!(
            host_of("https://Example.ORG/x"),
            Some(("example.org".into(), 443))
        );
        assert_eq!(
            host_of("http://127.0.0.1:8080/"),
            Some(("127.0.0.1".into(), 8080))
        );
        assert_eq!(host_of("http://[::1]:81/a"), Some(("::1".into(), 81)));
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("https:///x").is_err());
        assert!(check_url("https://a b/").is_err());
        assert!(check_url("https://example.org/watch?v=1").is_ok());
    }

    #[test]
    fn media_files_get_roles() {
        assert_eq!(media_role("abc.info.json"), "media-info");
        assert_eq!(media_role("abc.en.vtt"), "subtitles");
        assert_eq!(media_role("abc.webp"), "thumbnail");
        assert_eq!(media_role("abc.mp4"), "media");
    }
}
