#![cfg(feature = "fixture")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fixture web site answers as the capture tests expect, over HTTP (plain `std::net`)
//! and HTTPS (rustls trusting its test CA), and yt-dlp, the tool the capture uses for
//! media, finds its video with its generic extractor over both.
//!
//! The yt-dlp part needs Athar's tool environment (`scripts/ensure-deps.sh test`); without
//! it that test is skipped with a notice, unless `CI=true`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use athar_capture::fixture::{FixtureSite, PathState};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// One site for the tests that read it (each changes only its own paths' states), its
/// media kept under `target/tmp` between runs (`drop_stops_the_servers` makes media afresh).
fn site() -> &'static FixtureSite {
    static SITE: OnceLock<FixtureSite> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fixture-media");
        FixtureSite::start(&dir, 2).unwrap()
    })
}

fn port(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// A keep-alive HTTP/1.1 client over any stream.
struct Client<S: Read + Write> {
    r: BufReader<S>,
}

impl<S: Read + Write> Client<S> {
    fn new(s: S) -> Self {
        Client {
            r: BufReader::new(s),
        }
    }

    /// Sends a request and reads the answer's head and at most `max_body` bytes of its body.
    fn send(&mut self, method: &str, path: &str, extra: &str, max_body: usize) -> Reply {
        let req = format!("{method} {path} HTTP/1.1\r\nHost: fixture.test\r\n{extra}\r\n");
        self.r.get_mut().write_all(req.as_bytes()).unwrap();
        self.r.get_mut().flush().unwrap();
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.r.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if method == "HEAD" {
            return reply;
        }
        if let Some(len) = reply.header("content-length") {
            let len: usize = len.parse().unwrap();
            let mut body = vec![0; len.min(max_body)];
            self.r.read_exact(&mut body).unwrap();
            reply.body = body;
        } else if reply.header("transfer-encoding") == Some("chunked") {
            loop {
                line.clear();
                self.r.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap();
                let mut chunk = vec![0; size + 2];
                self.r.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                reply.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let mut buf = [0u8; 4096];
            while reply.body.len() < max_body {
                match self.r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => reply.body.extend_from_slice(&buf[..n]),
                }
            }
            reply.body.truncate(max_body);
        }
        reply
    }

    fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, "", usize::MAX)
    }
}

fn http(site: &FixtureSite) -> Client<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port(&site.http_base()))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    Client::new(s)
}

fn https(site: &FixtureSite) -> Client<StreamOwned<ClientConnection, TcpStream>> {
    https_at(site, std::net::Ipv4Addr::LOCALHOST.into())
}

/// HTTPS to `localhost` at `ip`, trusting only the site's CA.
fn https_at(
    site: &FixtureSite,
    ip: std::net::IpAddr,
) -> Client<StreamOwned<ClientConnection, TcpStream>> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(site.ca_der())).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
        .unwrap();
    let s = TcpStream::connect((ip, port(&site.https_base()))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    Client::new(StreamOwned::new(conn, s))
}

#[test]
fn bases_and_certificates() {
    let site = site();
    assert!(site.http_base().starts_with("http://127.0.0.1:"));
    assert!(site.https_base().starts_with("https://localhost:"));
    assert!(site.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let mut c = https(site);
    let index = c.get("/");
    assert_eq!(index.status, 200);
    let presented = c.r.get_ref().conn.peer_certificates().unwrap();
    assert_eq!(presented[0].as_ref(), &site.leaf_der()[..]);
    assert_eq!(
        c.r.get_ref().conn.alpn_protocol(),
        None,
        "no ALPN offered, none chosen"
    );
}

#[test]
fn index_links_every_page() {
    let site = site();
    let index = http(site).get("/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = index.text();
    assert!(!html.is_ascii(), "Arabic text on the page");
    for path in [
        "/video/0",
        "/video/1",
        "/images",
        "/hls",
        "/redirect/301",
        "/redirect/meta",
        "/redirect/loop",
        "/login",
        "/members",
        "/endless",
        "/huge",
        "/bomb",
        "/download",
        "/scroll",
        "/gzip",
        "/chunked",
    ] {
        assert!(html.contains(&format!("href=\"{path}\"")), "{path}");
    }
    assert!(!html.contains("href=\"/video/2\""));
    assert_eq!(http(site).get("/video/2").status, 404);
}

#[test]
fn video_page_over_http_and_https() {
    let site = site();
    for page in [http(site).get("/video/0"), https(site).get("/video/0")] {
        assert_eq!(page.status, 200);
        let html = page.text();
        // Absolute URLs are built from the Host header the client sent.
        let abs = "://fixture.test/media/0.mp4";
        assert!(html.contains("<title>Test video 0"), "{html}");
        assert!(html.contains("<meta property=\"og:type\" content=\"video.other\">"));
        assert!(html.contains("<meta property=\"og:video\" content=\""));
        assert!(html.contains(abs), "{html}");
        assert!(html.contains("og:image"));
        assert!(html.contains(
            "<video controls preload=\"metadata\" width=\"320\" height=\"240\" src=\"/media/0.mp4\" poster=\"/media/0.jpg\">"
        ));
        assert!(html.contains("src=\"/static/app.js\""));
        assert!(html.contains("href=\"/static/site.css\""));
        let ld = html
            .split("<script type=\"application/ld+json\">")
            .nth(1)
            .and_then(|s| s.split("</script>").next())
            .unwrap();
        let ld: serde_json::Value = serde_json::from_str(ld).unwrap();
        assert_eq!(ld["@type"], "VideoObject");
        assert_eq!(ld["name"], "Test video 0");
        assert_eq!(ld["author"]["name"], "Uploader 0");
        assert!(ld["contentUrl"].as_str().unwrap().ends_with(abs));
        assert!(ld["thumbnailUrl"]
            .as_str()
            .unwrap()
            .ends_with("/media/0.jpg"));
        assert!(ld["uploadDate"].as_str().unwrap().starts_with("2024-"));
        assert!(!ld["description"].as_str().unwrap().is_empty());
    }
    let mut c = http(site);
    let css = c.get("/static/site.css");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let js = c.get("/static/app.js");
    assert!(js.text().contains("getElementById('dynamic')"));
    let logo = c.get("/media/img/2.png");
    assert_eq!(logo.header("content-type"), Some("image/png"));
    assert!(logo.body.starts_with(b"\x89PNG"));
}

#[test]
fn media_answers_ranges() {
    let site = site();
    let mut c = http(site);
    let whole = c.get("/media/0.mp4");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(&whole.body[4..8], b"ftyp");
    let len = whole.body.len();
    // Same connection (keep-alive): a range.
    let part = c.send(
        "GET",
        "/media/0.mp4",
        "Range: bytes=100-199\r\n",
        usize::MAX,
    );
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{len}").as_str())
    );
    assert_eq!(part.body, whole.body[100..200]);
    let tail = c.send("GET", "/media/0.mp4", "Range: bytes=-10\r\n", usize::MAX);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, whole.body[len - 10..]);
    let open = c.send("GET", "/media/0.mp4", "Range: bytes=0-\r\n", usize::MAX);
    assert_eq!(open.status, 206);
    assert_eq!(open.body, whole.body);
    let past = c.send(
        "GET",
        "/media/0.mp4",
        &format!("Range: bytes={len}-\r\n"),
        usize::MAX,
    );
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    let head = c.send("HEAD", "/media/0.mp4", "", 0);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(len.to_string().as_str())
    );
    let poster = c.get("/media/0.jpg");
    assert_eq!(poster.header("content-type"), Some("image/jpeg"));
    assert!(poster.body.starts_with(&[0xff, 0xd8]));
    // Each video is its own file.
    let other = c.get("/media/1.mp4");
    assert_eq!(other.status, 200);
    assert_ne!(other.body, whole.body);
    // Over HTTPS too.
    let mut s = https(site);
    let part = s.send("GET", "/media/1.mp4", "Range: bytes=0-99\r\n", usize::MAX);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, other.body[..100]);
    assert_eq!(c.get("/media/../Cargo.toml").status, 404);
    assert_eq!(c.get("/media/2.mp4").status, 404);
}

#[test]
fn images_and_hls() {
    let site = site();
    let mut c = http(site);
    let page = c.get("/images").text();
    assert!(page.matches("<img ").count() >= 4);
    for (path, ct, magic) in [
        ("/media/img/0.png", "image/png", &b"\x89PNG"[..]),
        ("/media/img/1.jpg", "image/jpeg", &[0xff, 0xd8][..]),
        ("/media/img/3.jpg", "image/jpeg", &[0xff, 0xd8][..]),
    ] {
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ct));
        assert!(r.body.starts_with(magic), "{path}");
    }
    assert!(c
        .get("/hls")
        .text()
        .contains("<video controls src=\"/media/stream/index.m3u8\""));
    let playlist = c.get("/media/stream/index.m3u8");
    assert_eq!(playlist.status, 200);
    assert_eq!(
        playlist.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    let text = playlist.text();
    assert!(text.starts_with("#EXTM3U"));
    assert!(text.contains("#EXT-X-ENDLIST"));
    let segment = text
        .lines()
        .find(|l| l.ends_with(".ts"))
        .unwrap()
        .to_string();
    let seg = c.get(&format!("/media/stream/{segment}"));
    assert_eq!(seg.status, 200);
    assert_eq!(seg.header("content-type"), Some("video/mp2t"));
    assert_eq!(seg.body[0], 0x47, "MPEG-TS sync byte");
}

#[test]
fn states_change_answers() {
    let site = site();
    let path = "/video/1";
    let normal = http(site).get(path).text();
    let description = |html: &str| {
        let ld = html
            .split("<script type=\"application/ld+json\">")
            .nth(1)
            .and_then(|s| s.split("</script>").next())
            .unwrap()
            .to_string();
        let v: serde_json::Value = serde_json::from_str(&ld).unwrap();
        v["description"].as_str().unwrap().to_string()
    };
    let check = |state: PathState, status: u16, text: Option<&str>| {
        site.set_state(path, state);
        for r in [http(site).get(path), https(site).get(path)] {
            assert_eq!(r.status, status, "{state:?}");
            if let Some(t) = text {
                assert!(r.text().contains(t), "{state:?}: {}", r.text());
            }
            if state != PathState::Changed && state != PathState::Normal {
                assert!(!r.text().contains("<video"), "{state:?}");
            }
        }
    };
    check(PathState::NotFound, 404, None);
    check(PathState::Gone, 410, None);
    check(
        PathState::Removed,
        200,
        Some("This video has been removed by the uploader"),
    );
    check(PathState::Private, 200, Some("This video is private"));
    check(PathState::LoginWall, 302, None);
    assert_eq!(http(site).get(path).header("location"), Some("/login"));
    check(PathState::Changed, 200, Some("<video"));
    let changed = http(site).get(path).text();
    assert_ne!(changed, normal);
    assert_ne!(description(&changed), description(&normal));
    // Media paths too: a changed poster is other bytes (another video's).
    let jpg = http(site).get("/media/1.jpg").body;
    site.set_state("/media/1.jpg", PathState::Changed);
    let changed_jpg = http(site).get("/media/1.jpg").body;
    assert_ne!(changed_jpg, jpg);
    assert!(changed_jpg.starts_with(&[0xff, 0xd8]));
    site.set_state("/media/1.jpg", PathState::Normal);
    assert_eq!(http(site).get("/media/1.jpg").body, jpg);

    site.set_state(path, PathState::Down);
    let before = site.hits(path);
    let mut s = TcpStream::connect(("127.0.0.1", port(&site.http_base()))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /video/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty(), "no answer when down");
    assert_eq!(site.hits(path), before + 1);

    site.set_state(path, PathState::Normal);
    assert_eq!(http(site).get(path).text(), normal);
    assert!(site.hits("/video/1?x=1") >= 12);
}

#[test]
fn redirects_and_login_wall() {
    let site = site();
    let mut c = http(site);
    let r = c.get("/redirect/301");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/redirect/301b"));
    let r = c.get("/redirect/301b");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/video/0"));
    let r = c.get("/redirect/meta");
    assert!(r
        .text()
        .contains("<meta http-equiv=\"refresh\" content=\"0; url=/video/1\">"));
    let r = c.get("/redirect/loop");
    assert_eq!(r.header("location"), Some("/redirect/loop?n=1"));
    let r = c.get("/redirect/loop?n=41");
    assert_eq!(r.header("location"), Some("/redirect/loop?n=42"));
    let r = c.get("/members");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/login"));
    assert!(c.get("/login").text().contains("type=\"password\""));
    let r = c.send(
        "POST",
        "/login",
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 21\r\n\r\nusername=a&password=b",
        usize::MAX,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn hostile_and_odd_bodies() {
    let site = site();
    let mut c = http(site);
    // The bomb: gzip, about 1 MB, inflating to 1 GiB (the first MiB checked here).
    let bomb = c.get("/bomb");
    assert_eq!(bomb.header("content-encoding"), Some("gzip"));
    assert!(bomb.body.len() < 2 << 20);
    assert_eq!(&bomb.body[..2], &[0x1f, 0x8b]);
    let mut first = vec![0u8; 1 << 20];
    flate2::read::GzDecoder::new(&bomb.body[..])
        .read_exact(&mut first)
        .unwrap();
    assert!(first.iter().all(|b| *b == 0));
    // Huge: 4 GiB announced; the first MiB arrives; the connection is then dropped.
    let huge = http(site).send("GET", "/huge", "", 1 << 20);
    assert_eq!(huge.status, 200);
    assert_eq!(huge.header("content-length"), Some("4294967296"));
    assert_eq!(huge.body.len(), 1 << 20);
    let head = c.send("HEAD", "/huge", "", 0);
    assert_eq!(head.header("content-length"), Some("4294967296"));
    // Endless: no length, bytes keep coming.
    let started = Instant::now();
    let endless = http(site).send("GET", "/endless", "", 300);
    assert_eq!(endless.status, 200);
    assert!(endless.header("content-length").is_none());
    assert_eq!(endless.body.len(), 300);
    assert!(started.elapsed() < Duration::from_secs(5));
    // Gzip'd page, chunked page, download, infinite scroll.
    let gz = c.get("/gzip");
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut html = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut html)
        .unwrap();
    assert!(html.contains("<h1>Gzip page</h1>"));
    let chunked = c.get("/chunked");
    assert_eq!(chunked.header("transfer-encoding"), Some("chunked"));
    assert!(chunked.text().contains("<h1>Chunked page</h1>"));
    assert!(chunked.text().ends_with("</html>\n"));
    let dl = c.get("/download");
    assert_eq!(
        dl.header("content-disposition"),
        Some("attachment; filename=x.bin")
    );
    assert_eq!(dl.header("content-type"), Some("application/octet-stream"));
    assert!(c.get("/scroll").text().contains("/static/scroll.js"));
    assert!(c
        .get("/static/scroll.js")
        .text()
        .contains("/scroll/more?page="));
    assert_eq!(
        c.get("/scroll/more?page=7")
            .text()
            .matches("<article>")
            .count(),
        10
    );
    // Still the same keep-alive connection after all that.
    assert_eq!(c.get("/").status, 200);
}

#[test]
fn makes_media_once_and_drop_stops_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let own = FixtureSite::start(dir.path(), 1).unwrap();
    let mp4 = dir.path().join("0.mp4");
    let made = std::fs::metadata(&mp4).unwrap().modified().unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-show_entries", "format=duration", "-of", "json"])
        .arg(&mp4)
        .output()
        .unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let codecs: Vec<&str> = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect();
    assert_eq!(codecs, ["h264", "aac"], "{probe}");
    assert_eq!(probe["streams"][0]["width"], 320);
    let secs: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2.9..=6.5).contains(&secs), "{secs}");

    let (http_port, https_port) = (port(&own.http_base()), port(&own.https_base()));
    let mut endless = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
    endless
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    endless
        .write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    assert!(endless.read(&mut buf).unwrap() > 0);
    let idle = TcpStream::connect(("127.0.0.1", https_port)).unwrap();
    // `localhost` works whichever address it resolves to first (where there is IPv6).
    let v6 = std::net::Ipv6Addr::LOCALHOST.into();
    if TcpStream::connect((v6, https_port)).is_ok() {
        assert_eq!(https_at(&own, v6).get("/").status, 200);
    }
    let stopping = Instant::now();
    drop(own);
    assert!(stopping.elapsed() < Duration::from_secs(3));
    // The endless answer ends, nobody listens any more.
    let mut rest = Vec::new();
    let _ = endless.read_to_end(&mut rest);
    drop(idle);
    assert!(TcpStream::connect(("127.0.0.1", http_port)).is_err());
    assert!(TcpStream::connect(("127.0.0.1", https_port)).is_err());
    assert!(TcpStream::connect((v6, https_port)).is_err());

    // Started again on the same folder: nothing is made again.
    let again = Instant::now();
    let own = FixtureSite::start(dir.path(), 1).unwrap();
    assert!(again.elapsed() < Duration::from_secs(2));
    assert_eq!(std::fs::metadata(&mp4).unwrap().modified().unwrap(), made);
    assert_eq!(http(&own).get("/video/0").status, 200);
}

/// yt-dlp from Athar's tool environment, or why not.
fn ytdlp() -> Result<PathBuf, String> {
    let tools = std::env::var_os("ATHAR_TOOLS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/athar/tools"))
        })
        .ok_or("no HOME")?;
    let program = tools.join("bin/yt-dlp");
    if program.is_file() {
        Ok(program)
    } else {
        Err(format!(
            "no {} (run scripts/ensure-deps.sh test)",
            program.display()
        ))
    }
}

#[test]
fn ytdlp_finds_the_video() {
    let program = match ytdlp() {
        Ok(p) => p,
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the yt-dlp test must run under CI=true: {why}"
            );
            eprintln!("notice: skipping the yt-dlp test: {why}");
            return;
        }
    };
    let site = site();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, site.ca_pem()).unwrap();
    let run = |url: &str, trust: bool, extra: &[&str]| {
        let mut cmd = Command::new(&program);
        cmd.args(["--ignore-config", "--no-cache-dir", "--dump-single-json"]);
        if trust {
            // yt-dlp verifies against certifi's bundle unless told to use the system store,
            // which OpenSSL reads from SSL_CERT_FILE: both are needed.
            cmd.args(["--compat-options", "no-certifi"])
                .env("SSL_CERT_FILE", &ca);
        }
        cmd.args(extra).arg(url).output().unwrap()
    };
    let info = |out: std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "yt-dlp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for (base, https) in [(site.http_base(), false), (site.https_base(), true)] {
        let info = info(run(&format!("{base}/video/0"), https, &[]));
        // The generic extractor hands a page's `<video>` to its HTML5 embed extractor, which
        // names the entry after the page's og:title, numbered.
        assert_eq!(info["extractor_key"], "HTML5MediaEmbed", "{info}");
        assert_eq!(info["title"], "Test video 0 (1)", "{info}");
        assert_eq!(info["thumbnail"], format!("{base}/media/0.jpg"), "{info}");
        let url = info["url"].as_str().unwrap_or_default();
        assert_eq!(url, format!("{base}/media/0.mp4"), "{info}");
    }
    // Verification stays on: without the CA, HTTPS fails.
    let out = run(&format!("{}/video/0", site.https_base()), false, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"));
    // A download over HTTPS in ranged chunks gets the served file.
    // (Video 0: the state test changes video 1's answers meanwhile.)
    let before = site.hits("/media/0.mp4");
    let target = dir.path().join("%(id)s.%(ext)s");
    let got = info(run(
        &format!("{}/video/0", site.https_base()),
        true,
        &[
            "--no-simulate",
            "--http-chunk-size",
            "4096",
            "-o",
            target.to_str().unwrap(),
        ],
    ));
    let file = std::fs::read(
        dir.path()
            .join(format!("{}.mp4", got["id"].as_str().unwrap())),
    )
    .unwrap();
    assert_eq!(file, http(site).get("/media/0.mp4").body);
    assert!(site.hits("/media/0.mp4") >= before + 3, "ranged requests");
}
