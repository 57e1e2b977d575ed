//! A local web site for the capture tests and the benchmark, which reach no real website:
//! platform-like video pages (Open Graph, JSON-LD `VideoObject`, an HTML5 `<video>`), media
//! made with FFmpeg, an HLS stream, redirects, a log-in wall, and hostile answers (an endless
//! body, a 4 GiB body, a gzip bomb), over HTTP and over HTTPS with a test CA made at start.
//!
//! Compiled only with the `fixture` cargo feature. Blocking `std::net`, a thread per
//! connection; HTTP/1.1 with keep-alive. Every path's answer can be changed while it runs
//! ([`FixtureSite::set_state`]), as a source taken down or edited would change.
//!
//! Paths served (N in `0..videos`):
//! - `/` an index linking every page;
//! - `/video/N` a video post page; `/media/N.mp4` (H.264 + silent AAC, faststart) and
//!   `/media/N.jpg` (its poster); media answers byte ranges (206);
//! - `/images` a page of `<img>`s (`/media/img/0.png`, `1.jpg`, `2.png`, `3.jpg`);
//! - `/hls` a page whose `<video>` plays `/media/stream/index.m3u8` (segments `segK.ts`);
//! - `/redirect/301` → 301 → `/redirect/301b` → 302 → `/video/0`; `/redirect/meta` (a meta
//!   refresh to `/video/1`); `/redirect/loop` (302 to itself, `?n=` counting up, forever);
//! - `/login` (a form; a POST gets "wrong password"), `/members` (302 to `/login`, except
//!   with the [`MEMBER_COOKIE`]: a members' video post, which renews the cookie);
//! - `/endless` (no length, trickles forever), `/huge` (Content-Length 4 GiB), `/bomb` (gzip
//!   that inflates to 1 GiB of zeros), `/download` (an attachment), `/scroll` (infinite
//!   scroll, fed by `/scroll/more?page=K`), `/gzip` (gzip'd HTML), `/chunked` (chunked HTML);
//! - `/static/site.css`, `/static/app.js`, `/static/scroll.js`.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, FlushCompress};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use time::OffsetDateTime;

/// What a path answers (see [`FixtureSite::set_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathState {
    /// The page as first published.
    #[default]
    Normal,
    /// The same page with different content: other text (and another JSON-LD description)
    /// on pages, other bytes for media (another video's file where there is one).
    Changed,
    /// 404.
    NotFound,
    /// 410.
    Gone,
    /// 200 with a platform's "This video has been removed by the uploader" page, no video.
    Removed,
    /// 302 to `/login`.
    LoginWall,
    /// 200 with "This video is private".
    Private,
    /// The connection is closed without an answer.
    Down,
}

/// The local web site; dropping it stops its servers.
pub struct FixtureSite {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    https_addr: SocketAddr,
    /// Every address an accept loop listens on (HTTPS also on [::1] where it could bind).
    listening: Vec<SocketAddr>,
    ca_der: Vec<u8>,
    ca_pem: String,
    leaf_der: Vec<u8>,
    accept_threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FixtureSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureSite")
            .field("http", &self.http_base())
            .field("https", &self.https_base())
            .field("dir", &self.shared.dir)
            .field("videos", &self.shared.videos)
            .finish_non_exhaustive()
    }
}

impl FixtureSite {
    /// Makes media with FFmpeg (`ffmpeg` on PATH) into `dir` (what is already there is
    /// reused), a test CA and a server certificate for `localhost` and 127.0.0.1, and serves
    /// over HTTP and HTTPS on loopback ports chosen by the OS. `videos`: how many video pages.
    pub fn start(dir: &Path, videos: usize) -> io::Result<FixtureSite> {
        prepare_media(dir, videos)?;
        let certs = make_certs()?;
        let tls = Arc::new(server_config(&certs)?);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            states: Mutex::new(HashMap::new()),
            hits: Mutex::new(HashMap::new()),
            dir: dir.to_path_buf(),
            videos,
            bomb: make_bomb()?,
        });
        let http = TcpListener::bind("127.0.0.1:0")?;
        let https = TcpListener::bind("127.0.0.1:0")?;
        let http_addr = http.local_addr()?;
        let https_addr = https.local_addr()?;
        let mut listeners = vec![(http, http_addr, false), (https, https_addr, true)];
        // `localhost` may resolve to ::1 first: the HTTPS port there too, where it is free.
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, https_addr.port()));
        if let Ok(l) = TcpListener::bind(v6) {
            listeners.push((l, v6, true));
        }
        let mut site = FixtureSite {
            shared: Arc::clone(&shared),
            http_addr,
            https_addr,
            listening: listeners.iter().map(|(_, addr, _)| *addr).collect(),
            ca_der: certs.ca_der,
            ca_pem: certs.ca_pem,
            leaf_der: certs.leaf_der,
            accept_threads: Vec::new(),
        };
        for (listener, _, https) in listeners {
            let sh = Arc::clone(&shared);
            let spawned = if https {
                let tls = Arc::clone(&tls);
                let fallback = format!("localhost:{}", https_addr.port());
                thread::Builder::new()
                    .name("fixture-https".into())
                    .spawn(move || {
                        accept_loop(&listener, &sh, move |stream, sh| {
                            if let Ok(conn) = ServerConnection::new(Arc::clone(&tls)) {
                                serve(sh, StreamOwned::new(conn, stream), "https", &fallback);
                            }
                        })
                    })
            } else {
                let fallback = format!("127.0.0.1:{}", http_addr.port());
                thread::Builder::new()
                    .name("fixture-http".into())
                    .spawn(move || {
                        accept_loop(&listener, &sh, move |stream, sh| {
                            serve(sh, stream, "http", &fallback);
                        })
                    })
            };
            // On failure, dropping `site` stops what was started.
            site.accept_threads.push(spawned?);
        }
        Ok(site)
    }

    /// `http://127.0.0.1:PORT`
    pub fn http_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_addr.port())
    }

    /// `https://localhost:PORT`
    pub fn https_base(&self) -> String {
        format!("https://localhost:{}", self.https_addr.port())
    }

    /// The test CA's certificate (DER), the one to trust for [`FixtureSite::https_base`].
    pub fn ca_der(&self) -> Vec<u8> {
        self.ca_der.clone()
    }

    /// The test CA's certificate (PEM).
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// The server certificate the HTTPS server presents (DER).
    pub fn leaf_der(&self) -> Vec<u8> {
        self.leaf_der.clone()
    }

    /// Changes what `path` (a query string is ignored) answers from now on.
    pub fn set_state(&self, path: &str, state: PathState) {
        let key = path_only(path).to_string();
        let mut states = lock(&self.shared.states);
        if state == PathState::Normal {
            states.remove(&key);
        } else {
            states.insert(key, state);
        }
    }

    /// How many requests (any method, any scheme) asked for `path` (query strings ignored).
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.hits)
            .get(path_only(path))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for FixtureSite {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for addr in &self.listening {
            // Wakes the accept loop, which then sees the stop flag.
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
        for handle in self.accept_threads.drain(..) {
            let _ = handle.join();
        }
        // Connection threads see the flag within a socket timeout.
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared state, connections

struct Shared {
    stop: AtomicBool,
    /// Connection threads still running.
    active: AtomicUsize,
    states: Mutex<HashMap<String, PathState>>,
    hits: Mutex<HashMap<String, usize>>,
    dir: PathBuf,
    videos: usize,
    /// `/bomb`'s body: gzip of 1 GiB of zeros (about 1 MB).
    bomb: Vec<u8>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn path_only(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

/// Socket timeout: how often a blocked connection thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// The session cookie (name, value) that opens `/members`: what a log-in profile carries.
pub const MEMBER_COOKIE: (&str, &str) = ("fixture_session", "synthetic-member-7f3a9c");

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    handle: impl Fn(TcpStream, Arc<Shared>) + Send + Sync + Clone + 'static,
) {
    for stream in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let Ok(stream) = stream else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_nodelay(true);
        if stream.set_read_timeout(Some(POLL)).is_err()
            || stream.set_write_timeout(Some(POLL)).is_err()
        {
            continue;
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let sh = Arc::clone(shared);
        let handle = handle.clone();
        let spawned = thread::Builder::new()
            .name("fixture-conn".into())
            .spawn(move || {
                let guard = ActiveGuard(Arc::clone(&sh));
                handle(stream, sh);
                drop(guard);
            });
        if spawned.is_err() {
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A byte stream the server can end politely.
trait Transport: Read + Write {
    fn finish(&mut self);
}

impl Transport for TcpStream {
    fn finish(&mut self) {
        let _ = self.flush();
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Transport for StreamOwned<ServerConnection, TcpStream> {
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

/// Retries reads and writes that timed out (the sockets time out every [`POLL`] so that
/// the stop flag is seen) until the site stops.
struct Conn<T> {
    inner: T,
    shared: Arc<Shared>,
}

fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl<T: Read> Read for Conn<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if timed_out(&e) && !self.shared.stopping() => continue,
                r => return r,
            }
        }
    }
}

impl<T: Write> Write for Conn<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.inner.write(buf) {
                Err(e) if timed_out(&e) && !self.shared.stopping() => continue,
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.inner.flush() {
                Err(e) if timed_out(&e) && !self.shared.stopping() => continue,
                r => return r,
            }
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    http11: bool,
    headers: Vec<(String, String)>,
    /// The connection must close after the answer (unread body, `Connection: close`).
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn head(&self) -> bool {
        self.method == "HEAD"
    }
}

const MAX_HEAD: u64 = 64 * 1024;

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one request (and discards its body); None when the client closed between requests.
fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut budget = MAX_HEAD;
    let mut line = Vec::new();
    let mut read_line = |line: &mut Vec<u8>, budget: &mut u64| -> io::Result<usize> {
        line.clear();
        let n = r.by_ref().take(*budget).read_until(b'\n', line)?;
        *budget = budget.saturating_sub(n as u64);
        if n > 0 && !line.ends_with(b"\n") {
            return Err(bad(if *budget == 0 {
                "request head too long"
            } else {
                "truncated request"
            }));
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        Ok(n)
    };
    // Blank lines before a request line are allowed (RFC 9112 section 2.2).
    loop {
        if read_line(&mut line, &mut budget)? == 0 {
            return Ok(None);
        }
        if !line.is_empty() {
            break;
        }
    }
    let request_line = String::from_utf8(line.clone()).map_err(|_| bad("non-UTF-8 request"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("bad request line"));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(bad("unsupported HTTP version")),
    };
    let mut headers = Vec::new();
    loop {
        if read_line(&mut line, &mut budget)? == 0 {
            return Err(bad("truncated request"));
        }
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let (name, value) = text.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let target = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
        .map_or(target, |rest| rest.find('/').map_or("/", |i| &rest[i..]));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        http11,
        headers,
        close: false,
    };
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.close = if http11 {
        connection.contains("close")
    } else {
        !connection.contains("keep-alive")
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"))
    {
        // A chunked upload: not read; the connection closes after the answer.
        req.close = true;
    } else if let Some(len) = req.header("content-length") {
        let len: u64 = len.parse().map_err(|_| bad("bad Content-Length"))?;
        if len > 1 << 20 {
            req.close = true;
        } else {
            let copied = io::copy(&mut r.by_ref().take(len), &mut io::sink())?;
            if copied < len {
                return Err(bad("truncated body"));
            }
        }
    }
    Ok(Some(req))
}

fn serve<T: Transport>(shared: Arc<Shared>, stream: T, scheme: &str, fallback_host: &str) {
    let mut reader = BufReader::new(Conn {
        inner: stream,
        shared: Arc::clone(&shared),
    });
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) => {
                reader.get_mut().inner.finish();
                return;
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let resp = Response::html(400, page("Bad request", "<h1>Bad request</h1>", false));
                let req = Request {
                    method: "GET".into(),
                    path: "/".into(),
                    query: String::new(),
                    http11: true,
                    headers: Vec::new(),
                    close: true,
                };
                let _ = respond(reader.get_mut(), &shared, &req, resp);
                reader.get_mut().inner.finish();
                return;
            }
            Err(_) => return,
        };
        *lock(&shared.hits).entry(req.path.clone()).or_insert(0) += 1;
        let state = lock(&shared.states)
            .get(&req.path)
            .copied()
            .unwrap_or_default();
        if state == PathState::Down {
            // Dropped without a word (no TLS close_notify either).
            return;
        }
        let host = match req.header("host") {
            Some(h)
                if !h.is_empty()
                    && h.len() < 256
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)) =>
            {
                h.to_string()
            }
            _ => fallback_host.to_string(),
        };
        let base = format!("{scheme}://{host}");
        let resp = match state {
            PathState::Normal => route(&shared, &req, &base, false),
            PathState::Changed => route(&shared, &req, &base, true),
            other => state_response(other),
        };
        match respond(reader.get_mut(), &shared, &req, resp) {
            Ok(true) => {}
            Ok(false) => {
                reader.get_mut().inner.finish();
                return;
            }
            Err(_) => return,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Responses

enum Body {
    Full(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked`, one chunk each.
    Chunked(Vec<Vec<u8>>),
    /// This many bytes of a repeated pattern, never held in memory.
    Huge(u64),
    /// No length; a line every 100 ms until the client leaves.
    Endless,
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
    /// Answers `Range` (and says `Accept-Ranges: bytes`).
    ranged: bool,
}

impl Response {
    fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: Body::Full(body),
            ranged: false,
        }
    }

    fn html(status: u16, html: String) -> Response {
        let mut r = Response::new(status, "text/html; charset=utf-8", html.into_bytes());
        r.headers.push(("Cache-Control", "no-cache".into()));
        r
    }

    fn redirect(status: u16, location: &str) -> Response {
        let mut r = Response::html(
            status,
            page(
                "Moved",
                &format!("<h1>Moved</h1>\n<p><a href=\"{location}\">{location}</a></p>"),
                false,
            ),
        );
        r.headers.push(("Location", location.to_string()));
        r
    }

    fn header(mut self, name: &'static str, value: &str) -> Response {
        self.headers.push((name, value.to_string()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        416 => "Range Not Satisfiable",
        _ => "Unknown",
    }
}

fn http_date() -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    OffsetDateTime::now_utc()
        .format(FORMAT)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 GMT".into())
}

/// A `Range: bytes=…` header against a body of `len` bytes: None to send it all,
/// Some(Ok((start, end_inclusive))), or Some(Err(())) when unsatisfiable.
fn parse_range(value: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: the whole body (allowed by RFC 9110)
    }
    let (first, last) = spec.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len.saturating_sub(suffix), len - 1)));
    }
    let start: u64 = first.parse().ok()?;
    let end: u64 = if last.is_empty() {
        u64::MAX
    } else {
        last.parse().ok()?
    };
    if end < start {
        return None;
    }
    if start >= len {
        return Some(Err(()));
    }
    Some(Ok((start, end.min(len - 1))))
}

/// Sends `resp`; Ok(true) when the connection stays open for another request.
fn respond<T: Write>(
    w: &mut Conn<T>,
    shared: &Shared,
    req: &Request,
    mut resp: Response,
) -> io::Result<bool> {
    let mut keep = !req.close;
    let mut slice: Option<(u64, u64)> = None;
    if let (true, 200, Body::Full(body)) = (resp.ranged, resp.status, &resp.body) {
        resp.headers.push(("Accept-Ranges", "bytes".into()));
        let len = body.len() as u64;
        match req.header("range").and_then(|v| parse_range(v, len)) {
            None => {}
            Some(Ok((start, end))) => {
                resp.status = 206;
                resp.headers
                    .push(("Content-Range", format!("bytes {start}-{end}/{len}")));
                slice = Some((start, end));
            }
            Some(Err(())) => {
                resp.status = 416;
                resp.headers
                    .push(("Content-Range", format!("bytes */{len}")));
                resp.body = Body::Full(Vec::new());
            }
        }
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\nServer: athar-fixture\r\n",
        resp.status,
        reason(resp.status),
        http_date()
    );
    for (name, value) in &resp.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &resp.body {
        Body::Full(body) => {
            let len = slice.map_or(body.len() as u64, |(s, e)| e - s + 1);
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        Body::Huge(len) => head.push_str(&format!("Content-Length: {len}\r\n")),
        Body::Chunked(_) if req.http11 => head.push_str("Transfer-Encoding: chunked\r\n"),
        Body::Chunked(_) | Body::Endless => keep = false,
    }
    head.push_str(if keep {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    w.write_all(head.as_bytes())?;
    if req.head() {
        w.flush()?;
        return Ok(keep);
    }
    match resp.body {
        Body::Full(body) => {
            let part = match slice {
                // Both ends lie within the body (parse_range).
                Some((s, e)) => body.get(s as usize..=e as usize).unwrap_or(&[]),
                None => &body[..],
            };
            w.write_all(part)?;
        }
        Body::Chunked(chunks) => {
            for chunk in chunks {
                if req.http11 {
                    w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                    w.write_all(&chunk)?;
                    w.write_all(b"\r\n")?;
                    w.flush()?;
                    thread::sleep(Duration::from_millis(20));
                } else {
                    w.write_all(&chunk)?;
                }
            }
            if req.http11 {
                w.write_all(b"0\r\n\r\n")?;
            }
        }
        Body::Huge(len) => {
            let pattern: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
            let mut left = len;
            while left > 0 {
                if shared.stopping() {
                    return Err(io::Error::other("stopping"));
                }
                let n = left.min(pattern.len() as u64);
                w.write_all(&pattern[..n as usize])?;
                left -= n;
            }
        }
        Body::Endless => {
            w.write_all(
                b"<!DOCTYPE html>\n<html lang=\"en\"><meta charset=\"utf-8\"><title>Endless</title>\n",
            )?;
            let mut i: u64 = 0;
            while !shared.stopping() {
                w.write_all(
                    format!("<p>tick {i} \u{2014} \u{646}\u{628}\u{636}\u{629} {i}</p>\n")
                        .as_bytes(),
                )?;
                w.flush()?;
                i += 1;
                thread::sleep(Duration::from_millis(100));
            }
            return Ok(false);
        }
    }
    w.flush()?;
    Ok(keep)
}

fn state_response(state: PathState) -> Response {
    match state {
        PathState::NotFound => not_found(),
        PathState::Gone => Response::html(
            410,
            page(
                "Gone",
                "<h1>Gone</h1>\n<p>This page is gone for good.</p>\n\
                 <p lang=\"ar\" dir=\"rtl\">\u{644}\u{645} \u{62a}\u{639}\u{62f} \u{647}\u{630}\u{647} \u{627}\u{644}\u{635}\u{641}\u{62d}\u{629} \u{645}\u{648}\u{62c}\u{648}\u{62f}\u{629}.</p>",
                false,
            ),
        ),
        PathState::Removed => Response::html(
            200,
            page(
                "Video unavailable",
                "<main class=\"unavailable\">\n<h1>Video unavailable</h1>\n\
                 <p>This video has been removed by the uploader</p>\n\
                 <p lang=\"ar\" dir=\"rtl\">\u{62d}\u{630}\u{641} \u{627}\u{644}\u{646}\u{627}\u{634}\u{631} \u{647}\u{630}\u{627} \u{627}\u{644}\u{641}\u{64a}\u{62f}\u{64a}\u{648}</p>\n</main>",
                false,
            ),
        ),
        PathState::Private => Response::html(
            200,
            page(
                "Private video",
                "<main class=\"unavailable\">\n<h1>Private video</h1>\n\
                 <p>This video is private</p>\n\
                 <p lang=\"ar\" dir=\"rtl\">\u{647}\u{630}\u{627} \u{627}\u{644}\u{641}\u{64a}\u{62f}\u{64a}\u{648} \u{62e}\u{627}\u{635}</p>\n</main>",
                false,
            ),
        ),
        PathState::LoginWall => Response::redirect(302, "/login"),
        // Normal, Changed and Down are handled before.
        PathState::Normal | PathState::Changed | PathState::Down => not_found(),
    }
}

fn not_found() -> Response {
    Response::html(
        404,
        page(
            "Not found",
            "<h1>Not found</h1>\n<p>There is nothing here.</p>\n\
             <p lang=\"ar\" dir=\"rtl\">\u{627}\u{644}\u{635}\u{641}\u{62d}\u{629} \u{63a}\u{64a}\u{631} \u{645}\u{648}\u{62c}\u{648}\u{62f}\u{629}.</p>",
            false,
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Pages

/// "Athar fixture site" in Arabic.
const SITE_AR: &str =
    "\u{645}\u{648}\u{642}\u{639} \u{627}\u{62e}\u{62a}\u{628}\u{627}\u{631} \u{623}\u{62b}\u{631}";
/// "This page was edited" in Arabic.
const EDITED_AR: &str =
    "\u{62a}\u{645} \u{62a}\u{639}\u{62f}\u{64a}\u{644} \u{647}\u{630}\u{647} \u{627}\u{644}\u{635}\u{641}\u{62d}\u{629}";

fn page(title: &str, body: &str, changed: bool) -> String {
    page_with_head(title, "", body, changed)
}

fn page_with_head(title: &str, head: &str, body: &str, changed: bool) -> String {
    let notice = if changed {
        format!(
            "<p class=\"notice\">Edited: this page's text changed after it was first published. \
             <span lang=\"ar\" dir=\"rtl\">{EDITED_AR}</span></p>\n"
        )
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n{head}<link rel=\"stylesheet\" href=\"/static/site.css\">\n\
         </head>\n<body>\n<header><a href=\"/\">Athar fixture</a> \
         <span lang=\"ar\" dir=\"rtl\">{SITE_AR}</span></header>\n{notice}{body}\n</body>\n</html>\n"
    )
}

const LINKS: &[(&str, &str)] = &[
    ("/images", "Images"),
    ("/hls", "HLS stream"),
    ("/redirect/301", "Redirect chain (301, 302)"),
    ("/redirect/meta", "Meta refresh"),
    ("/redirect/loop", "Redirect loop"),
    ("/login", "Log in"),
    ("/members", "Members only"),
    ("/endless", "Endless body"),
    ("/huge", "4 GiB body"),
    ("/bomb", "Gzip bomb"),
    ("/download", "Download"),
    ("/scroll", "Infinite scroll"),
    ("/gzip", "Gzip page"),
    ("/chunked", "Chunked page"),
];

fn index_page(shared: &Shared, changed: bool) -> String {
    let mut body = String::from("<main>\n<h1>Athar fixture site</h1>\n<h2>Videos</h2>\n<ul>\n");
    for n in 0..shared.videos {
        body.push_str(&format!(
            "<li><a href=\"/video/{n}\">Test video {n} \u{2014} <span lang=\"ar\" dir=\"rtl\">{}</span></a></li>\n",
            video_title_ar(n)
        ));
    }
    body.push_str("</ul>\n<h2>Other pages</h2>\n<ul>\n");
    for (href, text) in LINKS {
        body.push_str(&format!("<li><a href=\"{href}\">{text}</a></li>\n"));
    }
    body.push_str("</ul>\n</main>");
    page("Athar fixture site", &body, changed)
}

/// "Test video number N" in Arabic.
fn video_title_ar(n: usize) -> String {
    format!("\u{641}\u{64a}\u{62f}\u{64a}\u{648} \u{62a}\u{62c}\u{631}\u{64a}\u{628}\u{64a} \u{631}\u{642}\u{645} {n}")
}

fn video_description(n: usize, changed: bool) -> String {
    if changed {
        format!(
            "Edited by the uploader: clip {n} now says something else. \
             \u{639}\u{62f}\u{651}\u{644} \u{627}\u{644}\u{646}\u{627}\u{634}\u{631} \u{627}\u{644}\u{648}\u{635}\u{641}."
        )
    } else {
        format!(
            "Synthetic test clip {n} for Athar's capture tests. \
             \u{645}\u{642}\u{637}\u{639} \u{627}\u{635}\u{637}\u{646}\u{627}\u{639}\u{64a} \u{644}\u{644}\u{627}\u{62e}\u{62a}\u{628}\u{627}\u{631}."
        )
    }
}

fn video_page(n: usize, base: &str, changed: bool) -> String {
    let spec = video_spec(n);
    let (w, h, secs) = (spec.width, spec.height, spec.seconds);
    let title = format!("Test video {n}");
    let description = video_description(n, changed);
    let mp4 = format!("{base}/media/{n}.mp4");
    let jpg = format!("{base}/media/{n}.jpg");
    let ld = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": title,
        "description": description,
        "uploadDate": format!("2024-05-{:02}T{:02}:00:00Z", 1 + n % 28, n % 24),
        "duration": format!("PT{secs}S"),
        "contentUrl": mp4,
        "thumbnailUrl": jpg,
        "embedUrl": format!("{base}/video/{n}"),
        "width": w,
        "height": h,
        "author": {"@type": "Person", "name": format!("Uploader {n}")},
    })
    .to_string()
    .replace("</", "<\\/");
    let head = format!(
        "<meta name=\"description\" content=\"{description}\">\n\
         <meta property=\"og:site_name\" content=\"Athar fixture video\">\n\
         <meta property=\"og:title\" content=\"{title}\">\n\
         <meta property=\"og:description\" content=\"{description}\">\n\
         <meta property=\"og:type\" content=\"video.other\">\n\
         <meta property=\"og:url\" content=\"{base}/video/{n}\">\n\
         <meta property=\"og:video\" content=\"{mp4}\">\n\
         <meta property=\"og:video:type\" content=\"video/mp4\">\n\
         <meta property=\"og:video:width\" content=\"{w}\">\n\
         <meta property=\"og:video:height\" content=\"{h}\">\n\
         <meta property=\"og:image\" content=\"{jpg}\">\n\
         <script type=\"application/ld+json\">{ld}</script>\n"
    );
    let body = format!(
        "<main class=\"post\">\n<h1>{title} \u{2014} <span lang=\"ar\" dir=\"rtl\">{title_ar}</span></h1>\n\
         <video controls preload=\"metadata\" width=\"{w}\" height=\"{h}\" src=\"/media/{n}.mp4\" poster=\"/media/{n}.jpg\"></video>\n\
         <p class=\"uploader\"><img src=\"/media/img/2.png\" alt=\"\" width=\"32\" height=\"32\"> Uploader {n}</p>\n\
         <p class=\"description\" dir=\"auto\">{description}</p>\n\
         <p id=\"dynamic\">Comments are loading\u{2026}</p>\n</main>\n\
         <script src=\"/static/app.js\"></script>",
        title_ar = video_title_ar(n),
    );
    page_with_head(
        &format!("{title} | Athar fixture video"),
        &head,
        &body,
        changed,
    )
}

const SITE_CSS: &str =
    "body { font-family: sans-serif; margin: 0; padding: 1rem; max-width: 60rem; }\n\
header { padding-block: 0.5rem; border-block-end: 1px solid #ccc; margin-block-end: 1rem; }\n\
video, img { max-width: 100%; height: auto; }\n\
.notice { background: #ffd; padding: 0.5rem; }\n\
.uploader img { vertical-align: middle; }\n\
article { border: 1px solid #ddd; margin-block: 0.5rem; padding: 2rem 1rem; }\n";

const APP_JS: &str = "window.addEventListener('load', function () {\n\
  var el = document.getElementById('dynamic');\n\
  if (el) {\n\
    el.textContent = 'Comments loaded by script after load. \u{62a}\u{645} \u{62a}\u{62d}\u{645}\u{64a}\u{644} \u{627}\u{644}\u{62a}\u{639}\u{644}\u{64a}\u{642}\u{627}\u{62a}.';\n\
  }\n\
  document.documentElement.setAttribute('data-loaded', 'yes');\n\
});\n";

const SCROLL_JS: &str = "var page = 0;\n\
var loading = false;\n\
function more() {\n\
  if (loading) return;\n\
  loading = true;\n\
  fetch('/scroll/more?page=' + page).then(function (r) { return r.text(); }).then(function (html) {\n\
    document.getElementById('items').insertAdjacentHTML('beforeend', html);\n\
    page += 1;\n\
    loading = false;\n\
    if (document.body.offsetHeight < window.innerHeight + 200) more();\n\
  }, function () { loading = false; });\n\
}\n\
window.addEventListener('scroll', function () {\n\
  if (window.innerHeight + window.scrollY >= document.body.offsetHeight - 400) more();\n\
});\n\
more();\n";

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Bytes added to a non-HTML body in [`PathState::Changed`].
fn changed_trailer(content_type: &str) -> &'static [u8] {
    if content_type.starts_with("text/css") || content_type.starts_with("text/javascript") {
        b"\n/* changed */\n"
    } else if content_type.contains("mpegurl") {
        b"\n# changed\n"
    } else {
        b"\nathar-fixture: changed\n"
    }
}

fn route(shared: &Shared, req: &Request, base: &str, changed: bool) -> Response {
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "POST") {
        return Response::html(
            405,
            page("Method not allowed", "<h1>Method not allowed</h1>", false),
        )
        .header("Allow", "GET, HEAD, POST");
    }
    let html = |body: String| Response::html(200, body);
    match req.path.as_str() {
        "/" => html(index_page(shared, changed)),
        "/images" => {
            let mut body = String::from("<main>\n<h1>Images</h1>\n");
            for (i, (name, alt)) in IMAGES.iter().enumerate() {
                body.push_str(&format!(
                    "<figure><img src=\"/media/img/{name}\" alt=\"{alt}\"><figcaption>Image {i}: {alt}</figcaption></figure>\n"
                ));
            }
            body.push_str("</main>");
            html(page("Images", &body, changed))
        }
        "/hls" => html(page(
            "HLS stream",
            "<main>\n<h1>HLS stream</h1>\n<video controls src=\"/media/stream/index.m3u8\" \
             width=\"320\" height=\"240\"></video>\n</main>",
            changed,
        )),
        "/redirect/301" => Response::redirect(301, "/redirect/301b"),
        "/redirect/301b" => Response::redirect(302, "/video/0"),
        "/redirect/meta" => {
            let target = format!("/video/{}", shared.videos.saturating_sub(1).min(1));
            html(page_with_head(
                "Redirecting",
                &format!("<meta http-equiv=\"refresh\" content=\"0; url={target}\">\n"),
                &format!("<p>Redirecting to <a href=\"{target}\">{target}</a>\u{2026}</p>"),
                changed,
            ))
        }
        "/redirect/loop" => {
            let n: u64 = query_param(&req.query, "n")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            Response::redirect(302, &format!("/redirect/loop?n={}", n.saturating_add(1)))
        }
        "/login" if req.method == "POST" => Response::html(
            200,
            page(
                "Log in",
                "<main>\n<h1>Log in</h1>\n<p class=\"error\">Wrong user name or password.</p>\n\
                 <p><a href=\"/login\">Try again</a></p>\n</main>",
                changed,
            ),
        ),
        "/login" => html(page(
            "Log in",
            "<main>\n<h1>Log in <span lang=\"ar\" dir=\"rtl\">\u{62a}\u{633}\u{62c}\u{64a}\u{644} \u{627}\u{644}\u{62f}\u{62e}\u{648}\u{644}</span></h1>\n\
             <form method=\"post\" action=\"/login\">\n\
             <label>User name <input name=\"username\" autocomplete=\"username\"></label>\n\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\n\
             <button type=\"submit\">Log in</button>\n</form>\n</main>",
            changed,
        )),
        "/members" => {
            let (name, value) = MEMBER_COOKIE;
            let member = req.header("cookie").is_some_and(|c| {
                c.split(';')
                    .any(|kv| kv.trim().split_once('=') == Some((name, value)))
            });
            if member {
                Response::html(
                    200,
                    video_page(0, base, changed).replace("Test video 0", "Members video 0"),
                )
                .header(
                    "Set-Cookie",
                    &format!("{name}={value}; Path=/; Max-Age=3600; HttpOnly"),
                )
            } else {
                Response::redirect(302, "/login")
            }
        }
        "/endless" => Response {
            status: 200,
            headers: vec![("Content-Type", "text/html; charset=utf-8".into())],
            body: Body::Endless,
            ranged: false,
        },
        "/huge" => Response {
            status: 200,
            headers: vec![("Content-Type", "application/octet-stream".into())],
            body: Body::Huge(4 << 30),
            ranged: false,
        },
        "/bomb" => Response::new(200, "text/html; charset=utf-8", shared.bomb.clone())
            .header("Content-Encoding", "gzip"),
        "/download" => {
            let mut x: u32 = 0x9e37_79b9;
            let mut body: Vec<u8> = (0..64 * 1024)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x >> 24) as u8
                })
                .collect();
            if changed {
                body.extend_from_slice(changed_trailer("application/octet-stream"));
            }
            Response::new(200, "application/octet-stream", body)
                .header("Content-Disposition", "attachment; filename=x.bin")
        }
        "/scroll" => html(page(
            "Infinite scroll",
            "<main>\n<h1>Infinite scroll</h1>\n<div id=\"items\"></div>\n</main>\n\
             <script src=\"/static/scroll.js\"></script>",
            changed,
        )),
        "/scroll/more" => {
            let p: u64 = query_param(&req.query, "page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = String::new();
            for i in 0..10 {
                let k = p.saturating_mul(10).saturating_add(i);
                body.push_str(&format!(
                    "<article><h2>Post {k}</h2><p>Item {k} of an endless feed. \
                     <span lang=\"ar\" dir=\"rtl\">\u{645}\u{646}\u{634}\u{648}\u{631} {k}</span></p></article>\n"
                ));
            }
            Response::html(200, body)
        }
        "/gzip" => {
            let body = page(
                "Gzip page",
                "<main>\n<h1>Gzip page</h1>\n<p>This page travels gzip-compressed.</p>\n</main>",
                changed,
            );
            Response::new(200, "text/html; charset=utf-8", gzip(body.as_bytes()))
                .header("Content-Encoding", "gzip")
                .header("Vary", "Accept-Encoding")
        }
        "/chunked" => {
            let body = page(
                "Chunked page",
                "<main>\n<h1>Chunked page</h1>\n<p>This page travels in chunks.</p>\n\
                 <p>One.</p>\n<p>Two.</p>\n<p>Three.</p>\n</main>",
                changed,
            );
            let chunks = body
                .as_bytes()
                .chunks(body.len().div_ceil(5).max(1))
                .map(<[u8]>::to_vec)
                .collect();
            Response {
                status: 200,
                headers: vec![("Content-Type", "text/html; charset=utf-8".into())],
                body: Body::Chunked(chunks),
                ranged: false,
            }
        }
        "/static/site.css" => static_text(SITE_CSS, "text/css; charset=utf-8", changed),
        "/static/app.js" => static_text(APP_JS, "text/javascript; charset=utf-8", changed),
        "/static/scroll.js" => static_text(SCROLL_JS, "text/javascript; charset=utf-8", changed),
        path => {
            if let Some(n) = path
                .strip_prefix("/video/")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n < shared.videos)
            {
                html(video_page(n, base, changed))
            } else if let Some(rest) = path.strip_prefix("/media/") {
                media(shared, rest, changed).unwrap_or_else(not_found)
            } else {
                not_found()
            }
        }
    }
}

fn static_text(text: &str, content_type: &str, changed: bool) -> Response {
    let mut body = text.as_bytes().to_vec();
    if changed {
        body.extend_from_slice(changed_trailer(content_type));
    }
    Response::new(200, content_type, body)
}

/// A media file under `dir`, by a path that names only files the site made.
fn media(shared: &Shared, rest: &str, changed: bool) -> Option<Response> {
    let (file, content_type): (PathBuf, &str) = if let Some(name) = rest.strip_prefix("stream/") {
        let ok = name == "index.m3u8"
            || name
                .strip_prefix("seg")
                .and_then(|s| s.strip_suffix(".ts"))
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return None;
        }
        let ct = if name.ends_with(".ts") {
            "video/mp2t"
        } else {
            "application/vnd.apple.mpegurl"
        };
        (shared.dir.join("stream").join(name), ct)
    } else if let Some(name) = rest.strip_prefix("img/") {
        IMAGES.iter().find(|(n, _)| *n == name)?;
        let ct = if name.ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        (shared.dir.join("img").join(name), ct)
    } else {
        let (n, ext) = rest.split_once('.')?;
        let n: usize = n.parse().ok().filter(|n| *n < shared.videos)?;
        let ct = match ext {
            "mp4" => "video/mp4",
            "jpg" => "image/jpeg",
            _ => return None,
        };
        // Changed: another video's file where there is another.
        let n = if changed && shared.videos > 1 {
            (n + 1) % shared.videos
        } else {
            n
        };
        (shared.dir.join(format!("{n}.{ext}")), ct)
    };
    let mut body = fs::read(file).ok()?;
    let is_video_file = !rest.contains('/');
    if changed && !(is_video_file && shared.videos > 1) {
        body.extend_from_slice(changed_trailer(content_type));
    }
    let mut resp = Response::new(200, content_type, body);
    resp.ranged = true;
    Some(resp)
}

// ---------------------------------------------------------------------------------------
// TLS

struct Certs {
    ca_der: Vec<u8>,
    ca_pem: String,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

fn make_certs() -> io::Result<Certs> {
    let err = |e: rcgen::Error| io::Error::other(format!("test certificate: {e}"));
    let now = OffsetDateTime::now_utc();
    let (not_before, not_after) = (
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    );

    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "Athar fixture test CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Athar fixture");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;

    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(err)?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate().map_err(err)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).map_err(err)?;

    Ok(Certs {
        ca_der: ca_cert.der().to_vec(),
        ca_pem: ca_cert.pem(),
        leaf_der: leaf_cert.der().to_vec(),
        leaf_key_der: leaf_key.serialize_der(),
    })
}

fn server_config(certs: &Certs) -> io::Result<ServerConfig> {
    let err = |e: rustls::Error| io::Error::other(format!("TLS configuration: {e}"));
    // The workspace's rustls has *ring* only; its provider is marked deprecated for lacking
    // post-quantum key exchange, which a loopback test server does not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(certs.leaf_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certs.leaf_key_der.clone())),
        )
        .map_err(err)?;
    // HTTP/1.1 only (no h2), so a browser speaks what this server speaks.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

// ---------------------------------------------------------------------------------------
// Bodies and media made at start

/// Gzip of 1 GiB of zeros, about 1 MB: one raw deflate segment for 1 MiB of zeros, ended by
/// a full flush (so it refers to nothing before it), repeated 1024 times.
fn make_bomb() -> io::Result<Vec<u8>> {
    const BLOCK: usize = 1 << 20;
    const COUNT: usize = 1024;
    let zeros = vec![0u8; BLOCK];
    let mut deflate = Compress::new(Compression::best(), false);
    let mut segment = Vec::with_capacity(64 * 1024);
    deflate
        .compress_vec(&zeros, &mut segment, FlushCompress::Full)
        .map_err(|e| io::Error::other(format!("deflate: {e}")))?;
    if deflate.total_in() != BLOCK as u64 || !segment.ends_with(&[0, 0, 0xff, 0xff]) {
        return Err(io::Error::other("deflate did not take the whole block"));
    }
    let mut crc = flate2::Crc::new();
    for _ in 0..COUNT {
        crc.update(&zeros);
    }
    let mut out = Vec::with_capacity(segment.len() * COUNT + 20);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    for _ in 0..COUNT {
        out.extend_from_slice(&segment);
    }
    // A final, empty block with fixed codes.
    out.extend_from_slice(&[0x03, 0x00]);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((BLOCK * COUNT) as u32).to_le_bytes());
    Ok(out)
}

/// The images of `/images` (name, alt text); `2.png` is also the uploader's avatar.
const IMAGES: &[(&str, &str)] = &[
    ("0.png", "A Mandelbrot fractal"),
    ("1.jpg", "Colour bars"),
    ("2.png", "A Sierpinski carpet"),
    ("3.jpg", "A cellular automaton"),
];

struct VideoSpec {
    width: u32,
    height: u32,
    seconds: u32,
}

fn video_spec(n: usize) -> VideoSpec {
    const SIZES: [(u32, u32); 4] = [(320, 240), (352, 288), (384, 216), (256, 192)];
    let (width, height) = SIZES[(n / 6) % SIZES.len()];
    VideoSpec {
        width,
        height,
        seconds: 3 + (n % 4) as u32,
    }
}

/// The lavfi source graph of video `n`: one of six generators (seeded by `n` where they
/// take a seed; the others cropped at an offset that depends on `n`), a hue turn, a flip.
fn video_source(n: usize) -> String {
    let VideoSpec {
        width: w,
        height: h,
        seconds,
    } = video_spec(n);
    let (bw, bh) = (w * 3 / 2, h * 3 / 2);
    let crop = format!(
        "crop={w}:{h}:{}:{}",
        ((n * 38) % (w as usize / 2)) & !1,
        ((n * 22) % (h as usize / 2)) & !1
    );
    let seed = n as u64 + 1;
    let generator = match n % 6 {
        0 => format!("testsrc2=s={bw}x{bh}:r=25,{crop}"),
        1 => format!("gradients=s={w}x{h}:r=25:seed={seed}:speed=0.03"),
        2 => format!(
            "cellauto=s={w}x{h}:r=25:seed={seed}:rule={}:scroll=1",
            [30, 90, 110, 150][(n / 6) % 4]
        ),
        3 => format!(
            "sierpinski=s={w}x{h}:r=25:seed={seed}:type={}",
            ["carpet", "triangle"][(n / 6) % 2]
        ),
        4 => format!("life=s={w}x{h}:r=25:seed={seed}:mold=10:ratio=0.2"),
        _ => format!("mandelbrot=s={bw}x{bh}:r=25,{crop}"),
    };
    let flip = ["", ",hflip", ",vflip", ",hflip,vflip"][(n / 12) % 4];
    format!(
        "{generator},trim=duration={seconds},format=yuv420p,hue=h={}:s=1.3{flip}",
        (n * 53) % 360
    )
}

enum Job {
    Video(usize),
    Images,
    Hls,
}

fn prepare_media(dir: &Path, videos: usize) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut jobs = Vec::new();
    if !dir.join("stream").join("index.m3u8").is_file() {
        jobs.push(Job::Hls);
    }
    if !IMAGES
        .iter()
        .all(|(name, _)| dir.join("img").join(name).is_file())
    {
        jobs.push(Job::Images);
    }
    for n in 0..videos {
        if !(dir.join(format!("{n}.mp4")).is_file() && dir.join(format!("{n}.jpg")).is_file()) {
            jobs.push(Job::Video(n));
        }
    }
    let workers = jobs.len().min(2);
    let queue = Mutex::new(jobs.into_iter());
    let failure: Mutex<Option<io::Error>> = Mutex::new(None);
    thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if lock(&failure).is_some() {
                    return;
                }
                let Some(job) = lock(&queue).next() else {
                    return;
                };
                if let Err(e) = run_job(dir, &job) {
                    lock(&failure).get_or_insert(e);
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A name no other maker (thread or process) uses at the same time.
fn unique(stem: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{stem}.part-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

const AUDIO: &str = "anullsrc=r=44100:cl=mono";

fn run_job(dir: &Path, job: &Job) -> io::Result<()> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    match *job {
        Job::Video(n) => {
            let stem = unique(&n.to_string());
            let (mp4, jpg) = (
                dir.join(format!("{stem}.mp4")),
                dir.join(format!("{stem}.jpg")),
            );
            let result = ffmpeg(&[
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                video_source(n),
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                AUDIO.into(),
                "-map".into(),
                "0:v".into(),
                "-map".into(),
                "1:a".into(),
                "-c:v".into(),
                "libx264".into(),
                "-preset".into(),
                "veryfast".into(),
                "-crf".into(),
                "30".into(),
                "-maxrate".into(),
                "600k".into(),
                "-bufsize".into(),
                "1200k".into(),
                "-pix_fmt".into(),
                "yuv420p".into(),
                "-c:a".into(),
                "aac".into(),
                "-b:a".into(),
                "32k".into(),
                "-threads".into(),
                "1".into(),
                "-shortest".into(),
                "-movflags".into(),
                "+faststart".into(),
                s(&mp4),
                "-map".into(),
                "0:v".into(),
                "-frames:v".into(),
                "1".into(),
                "-q:v".into(),
                "4".into(),
                s(&jpg),
            ])
            .and_then(|()| fs::rename(&jpg, dir.join(format!("{n}.jpg"))))
            .and_then(|()| fs::rename(&mp4, dir.join(format!("{n}.mp4"))));
            let _ = fs::remove_file(&mp4);
            let _ = fs::remove_file(&jpg);
            result
        }
        Job::Images => {
            let tmp = dir.join(unique("img"));
            fs::create_dir_all(&tmp)?;
            let sources = [
                "mandelbrot=s=320x240",
                "smptehdbars=s=320x240",
                "sierpinski=s=240x240:seed=4",
                "cellauto=s=320x200:seed=2:rule=110",
            ];
            let mut args: Vec<String> = Vec::new();
            for src in sources {
                args.extend(["-f".into(), "lavfi".into(), "-i".into(), src.into()]);
            }
            for (i, (name, _)) in IMAGES.iter().enumerate() {
                args.extend([
                    "-map".into(),
                    format!("{i}:v"),
                    "-frames:v".into(),
                    "1".into(),
                    s(&tmp.join(name)),
                ]);
            }
            let result = ffmpeg(&args).and_then(|()| {
                fs::create_dir_all(dir.join("img"))?;
                for (name, _) in IMAGES {
                    fs::rename(tmp.join(name), dir.join("img").join(name))?;
                }
                Ok(())
            });
            let _ = fs::remove_dir_all(&tmp);
            result
        }
        Job::Hls => {
            let tmp = dir.join(unique("stream"));
            fs::create_dir_all(&tmp)?;
            let result = ffmpeg(&[
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                "testsrc2=s=320x240:r=25:d=6,hue=h=200".into(),
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                AUDIO.into(),
                "-map".into(),
                "0:v".into(),
                "-map".into(),
                "1:a".into(),
                "-c:v".into(),
                "libx264".into(),
                "-preset".into(),
                "veryfast".into(),
                "-crf".into(),
                "30".into(),
                "-pix_fmt".into(),
                "yuv420p".into(),
                "-g".into(),
                "50".into(),
                "-keyint_min".into(),
                "50".into(),
                "-sc_threshold".into(),
                "0".into(),
                "-c:a".into(),
                "aac".into(),
                "-b:a".into(),
                "32k".into(),
                "-threads".into(),
                "1".into(),
                "-shortest".into(),
                "-f".into(),
                "hls".into(),
                "-hls_time".into(),
                "2".into(),
                "-hls_playlist_type".into(),
                "vod".into(),
                "-hls_segment_filename".into(),
                s(&tmp.join("seg%d.ts")),
                s(&tmp.join("index.m3u8")),
            ])
            .and_then(|()| {
                let out = dir.join("stream");
                fs::create_dir_all(&out)?;
                // Segments first, the playlist last: a playlist present means all is there.
                let mut names: Vec<_> = fs::read_dir(&tmp)?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name())
                    .collect();
                names.sort_by_key(|n| n == "index.m3u8");
                for name in names {
                    fs::rename(tmp.join(&name), out.join(&name))?;
                }
                Ok(())
            });
            let _ = fs::remove_dir_all(&tmp);
            result
        }
    }
}

/// Runs FFmpeg with a time limit.
fn ffmpeg(args: &[String]) -> io::Result<()> {
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ffmpeg: {e}")))?;
    let stderr = child.stderr.take();
    let reader = thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("ffmpeg took over 120 s: {args:?}"),
            ));
        }
        thread::sleep(Duration::from_millis(20));
    };
    let messages = reader.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ffmpeg failed ({status}): {}; arguments {args:?}",
            messages.trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let check = |v: &str, len: u64, want: Option<Result<(u64, u64), ()>>| {
            assert_eq!(parse_range(v, len), want, "{v} of {len}");
        };
        check("bytes=0-99", 1000, Some(Ok((0, 99))));
        check("bytes=100-", 1000, Some(Ok((100, 999))));
        check("bytes=-10", 1000, Some(Ok((990, 999))));
        check("bytes=-2000", 1000, Some(Ok((0, 999))));
        check("bytes=900-5000", 1000, Some(Ok((900, 999))));
        check("bytes=1000-", 1000, Some(Err(())));
        check("bytes=0-1,5-6", 1000, None);
        check("bytes=5-1", 1000, None);
        check("items=0-1", 1000, None);
        check("bytes=x-1", 1000, None);
    }

    #[test]
    fn bomb_inflates_to_a_gibibyte_of_zeros() {
        let bomb = make_bomb().unwrap();
        assert!(bomb.len() < 2 << 20, "{}", bomb.len());
        let mut dec = flate2::read::GzDecoder::new(&bomb[..]);
        let mut buf = vec![0u8; 1 << 20];
        let zeros = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = dec.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n] == zeros[..n]);
            total += n as u64;
        }
        assert_eq!(total, 1 << 30);
    }

    #[test]
    fn sources_differ() {
        let all: std::collections::HashSet<String> = (0..60).map(video_source).collect();
        assert_eq!(all.len(), 60);
    }
}
