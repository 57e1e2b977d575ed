//! The recording proxy over real loopback sockets: small origin servers (plain and TLS with a
//! test CA), a tiny client that speaks to the proxy as Chromium does (absolute-form GET,
//! CONNECT + TLS trusting the proxy's CA), and tiny SOCKS5 and CONNECT upstream proxies.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(deprecated)] // rustls' ring provider: the workspace's choice (see Cargo.toml).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use athar_capture::proxy::{ProxyConfig, RecordingProxy};
use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};
use sha2::{Digest, Sha256};

// ---- certificates ---------------------------------------------------------------------

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn new_ca() -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Athar test origin CA");
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// A TLS server configuration for `localhost` and `127.0.0.1`, sending `[leaf, ca]`.
fn origin_tls(ca: &Ca) -> (Arc<ServerConfig>, Vec<Vec<u8>>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let leaf = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let chain = vec![leaf.der().clone(), ca.cert.der().clone()];
    let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain.clone(), pkcs8)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    (Arc::new(cfg), chain.iter().map(|c| c.to_vec()).collect())
}

/// Whether some DER element of `cert` hashes (SHA-256, base64) to `spki_b64`: the SPKI is
/// embedded verbatim in the certificate.
fn has_spki(cert: &[u8], spki_b64: &str) -> bool {
    let want = base64::engine::general_purpose::STANDARD
        .decode(spki_b64)
        .unwrap();
    (0..cert.len().saturating_sub(2)).any(|i| {
        if cert[i] != 0x30 {
            return false;
        }
        let (len, hdr) = match cert[i + 1] {
            n if n < 0x80 => (usize::from(n), 2),
            0x81 => (usize::from(cert[i + 2]), 3),
            0x82 if i + 3 < cert.len() => {
                (usize::from(cert[i + 2]) << 8 | usize::from(cert[i + 3]), 4)
            }
            _ => return false,
        };
        i + hdr + len <= cert.len() && Sha256::digest(&cert[i..i + hdr + len]).as_slice() == want
    })
}

// ---- origin server ------------------------------------------------------------------------

type Respond = dyn Fn(&mut dyn Write) + Send + Sync;

/// An origin that answers each connection's one request with `respond`, then closes.
struct Origin {
    addr: SocketAddr,
    /// Each request as received (head and body).
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn origin(
    tls: Option<Arc<ServerConfig>>,
    respond: impl Fn(&mut dyn Write) + Send + Sync + 'static,
) -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let respond: Arc<Respond> = Arc::new(respond);
    let seen2 = Arc::clone(&seen);
    thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (tls, seen, respond) = (tls.clone(), Arc::clone(&seen2), Arc::clone(&respond));
            thread::spawn(move || {
                tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                match tls {
                    Some(cfg) => {
                        let mut s = StreamOwned::new(ServerConnection::new(cfg).unwrap(), tcp);
                        answer(&mut s, &seen, &*respond);
                        s.conn.send_close_notify();
                        let _ = s.flush();
                    }
                    None => {
                        let mut tcp = tcp;
                        answer(&mut tcp, &seen, &*respond);
                        let _ = tcp.shutdown(Shutdown::Both);
                    }
                }
            });
        }
    });
    Origin { addr, seen }
}

fn answer(s: &mut (impl Read + Write), seen: &Mutex<Vec<Vec<u8>>>, respond: &Respond) {
    let Some(head) = read_head(s) else { return };
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    let mut req = head;
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    req.extend_from_slice(&body);
    seen.lock().unwrap().push(req);
    respond(s);
    let _ = s.flush();
}

/// Reads up to and including the blank line, byte by byte (nothing after it is taken).
fn read_head(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
    }
    Some(head)
}

fn split(resp: &[u8]) -> (&[u8], &[u8]) {
    let end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    resp.split_at(end)
}

// ---- client (what Chromium does) ----------------------------------------------------------

fn read_all(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Fetches `http://host:port/path` through the proxy with an absolute-form request.
fn get_http(proxy: SocketAddr, host_port: &str, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET http://{host_port}{path} HTTP/1.1\r\nHost: {host_port}\r\nProxy-Connection: keep-alive\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_all(&mut s)
}

/// Fetches `https://host:port/path` through the proxy: CONNECT, then TLS trusting `ca`.
/// Returns the response and the certificate chain the proxy presented.
fn get_https(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    path: &str,
    ca: &[u8],
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut tcp = TcpStream::connect(proxy).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut tcp).unwrap();
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca.to_vec())).unwrap();
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let conn = ClientConnection::new(
        Arc::new(cfg),
        ServerName::try_from(host.to_owned()).unwrap(),
    )
    .unwrap();
    let mut s = StreamOwned::new(conn, tcp);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let resp = read_all(&mut s);
    let chain = s
        .conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.to_vec())
        .collect();
    (resp, chain)
}

fn config() -> ProxyConfig {
    ProxyConfig {
        request_timeout: Duration::from_secs(5),
        ..ProxyConfig::default()
    }
}

// ---- tests ----------------------------------------------------------------------------------

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Check\r\nConnection: close\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Check: 1\r\n\r\n";

#[test]
fn http_chunked_response_recorded_byte_for_byte() {
    let o = origin(None, |s| s.write_all(CHUNKED).unwrap());
    let proxy = RecordingProxy::start(config()).unwrap();
    let host_port = o.addr.to_string();
    let resp = get_http(proxy.addr(), &host_port, "/a/b?c=d");
    assert_eq!(resp, CHUNKED, "the browser gets the bytes the origin wrote");

    // A POST with a body, to see the request body recorded as sent.
    let mut s = TcpStream::connect(proxy.addr()).unwrap();
    write!(s, "POST http://{host_port}/form HTTP/1.1\r\nHost: {host_port}\r\nContent-Length: 7\r\nConnection: close\r\n\r\nx=1&y=2").unwrap();
    assert_eq!(read_all(&mut s), CHUNKED);

    let rec = proxy.finish();
    assert_eq!(rec.exchanges.len(), 2);
    let (head, body) = split(CHUNKED);
    let seen = o.seen.lock().unwrap().clone();
    for (ex, sent) in rec.exchanges.iter().zip(&seen) {
        assert_eq!(ex.response_head, head);
        assert_eq!(ex.response_body, body, "chunk framing and trailer kept");
        assert_eq!(ex.status, 200);
        assert_eq!(ex.remote_addr, Some(o.addr));
        assert_eq!((&ex.truncated, &ex.error), (&None, &None));
        assert!(
            ex.started.ends_with('Z') && ex.started.contains('.'),
            "{}",
            ex.started
        );
        // What was recorded is what the origin received.
        assert_eq!(
            [ex.request_head.as_slice(), &ex.request_body].concat(),
            *sent
        );
        let text = String::from_utf8_lossy(&ex.request_head);
        assert!(
            !text.to_ascii_lowercase().contains("proxy-connection"),
            "{text}"
        );
        assert!(text.ends_with("Connection: close\r\n\r\n"), "{text}");
    }
    let first = &rec.exchanges[0];
    assert_eq!(first.url, format!("http://{host_port}/a/b?c=d"));
    assert_eq!(first.method, "GET");
    assert!(first
        .request_head
        .starts_with(format!("GET /a/b?c=d HTTP/1.1\r\nHost: {host_port}\r\n").as_bytes()));
    assert_eq!(rec.exchanges[1].method, "POST");
    assert_eq!(rec.exchanges[1].request_body, b"x=1&y=2");
    assert_eq!(rec.hosts.len(), 1);
    assert_eq!(
        (rec.hosts[0].host.as_str(), rec.hosts[0].port),
        ("127.0.0.1", o.addr.port())
    );
    assert!(rec.hosts[0].dns.is_empty() && rec.hosts[0].tls.is_none());
    assert_eq!(rec.limit_hit, None);
}

#[test]
fn https_gzip_response_and_tls_context() {
    let ca = new_ca();
    let (tls, chain) = origin_tls(&ca);
    let gzip = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"<html>synthetic page</html>").unwrap();
        e.finish().unwrap()
    };
    let mut wire = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gzip.len()
    )
    .into_bytes();
    wire.extend_from_slice(&gzip);
    let sent = wire.clone();
    let o = origin(Some(tls), move |s| s.write_all(&sent).unwrap());
    let proxy = RecordingProxy::start(ProxyConfig {
        extra_roots: vec![ca.cert.der().to_vec()],
        ..config()
    })
    .unwrap();
    let port = o.addr.port();

    // By name (looked up by the proxy) and by IP literal (an IP SAN on the proxy's leaf).
    let (resp, presented) = get_https(proxy.addr(), "localhost", port, "/page", &proxy.ca_der());
    assert_eq!(resp, wire, "the browser gets the gzip bytes untouched");
    assert!(
        has_spki(&presented[0], &proxy.spki_sha256_base64()),
        "SPKI hash matches the leaf"
    );
    let (resp, presented_ip) = get_https(proxy.addr(), "127.0.0.1", port, "/", &proxy.ca_der());
    assert_eq!(resp, wire);
    assert_ne!(presented[0], presented_ip[0]);
    assert!(
        has_spki(&presented_ip[0], &proxy.spki_sha256_base64()),
        "one key pair for all leaves"
    );

    let rec = proxy.finish();
    assert_eq!(rec.exchanges.len(), 2);
    let ex = &rec.exchanges[0];
    assert_eq!(ex.url, format!("https://localhost:{port}/page"));
    assert_eq!(
        (ex.response_head.len() + ex.response_body.len(), ex.status),
        (wire.len(), 200)
    );
    assert_eq!(ex.response_body, gzip, "not decompressed");
    assert_eq!(ex.remote_addr, Some(o.addr));
    assert_eq!(rec.exchanges[1].url, format!("https://127.0.0.1:{port}/"));
    assert_eq!(o.seen.lock().unwrap()[0], ex.request_head);

    let host = rec.hosts.iter().find(|h| h.host == "localhost").unwrap();
    assert_eq!(host.port, port);
    assert!(
        host.dns.contains(&"127.0.0.1".parse().unwrap()),
        "{:?}",
        host.dns
    );
    let info = host.tls.as_ref().unwrap();
    assert_eq!(info.chain_der, chain, "the origin's chain, as sent");
    assert_eq!(info.protocol, "TLSv1_3");
    assert!(info.cipher.starts_with("TLS13_"), "{}", info.cipher);
    assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
    let by_ip = rec.hosts.iter().find(|h| h.host == "127.0.0.1").unwrap();
    assert!(by_ip.dns.is_empty() && by_ip.tls.is_some());
}

#[test]
fn untrusted_origin_is_refused() {
    let (tls, _) = origin_tls(&new_ca());
    let o = origin(Some(tls), |s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap()
    });
    let proxy = RecordingProxy::start(config()).unwrap(); // the test CA is not trusted
    let (resp, _) = get_https(
        proxy.addr(),
        "localhost",
        o.addr.port(),
        "/secret",
        &proxy.ca_der(),
    );
    assert!(
        resp.starts_with(b"HTTP/1.1 502 "),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let rec = proxy.finish();
    assert_eq!(rec.exchanges.len(), 1);
    let ex = &rec.exchanges[0];
    let error = ex.error.as_deref().unwrap();
    assert!(
        error.contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
    assert_eq!((ex.status, ex.response_head.is_empty()), (0, true));
    assert!(
        o.seen.lock().unwrap().is_empty(),
        "the request never reached the origin"
    );
    assert!(rec.hosts[0].tls.is_none());
}

#[test]
fn response_over_the_size_limit_is_cut() {
    let o = origin(None, |s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
        let _ = s.write_all(&vec![b'a'; 1_000_000]);
    });
    let proxy = RecordingProxy::start(ProxyConfig {
        max_response_bytes: 1000,
        ..config()
    })
    .unwrap();
    let resp = get_http(proxy.addr(), &o.addr.to_string(), "/big");
    assert_eq!(
        split(&resp).1.len(),
        1000,
        "the browser gets the bytes recorded, then the end"
    );
    let rec = proxy.finish();
    let ex = &rec.exchanges[0];
    assert_eq!(ex.response_body.len(), 1000);
    assert!(
        ex.truncated.as_deref().unwrap().starts_with("size limit"),
        "{:?}",
        ex.truncated
    );
    assert_eq!((&ex.error, &rec.limit_hit), (&None, &None));
}

#[test]
fn total_limit_stops_recording() {
    let o = origin(None, |s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        let _ = s.write_all(&vec![b'b'; 100_000]);
    });
    let proxy = RecordingProxy::start(ProxyConfig {
        max_total_bytes: 5000,
        ..config()
    })
    .unwrap();
    let resp = get_http(proxy.addr(), &o.addr.to_string(), "/1");
    assert!(split(&resp).1.len() < 5000);
    assert!(proxy.stats().limit_hit.is_some());
    assert_eq!(proxy.stats().bytes_recorded, 5000);
    let resp = get_http(proxy.addr(), &o.addr.to_string(), "/2");
    assert!(
        resp.starts_with(b"HTTP/1.1 503 "),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let rec = proxy.finish();
    assert_eq!(
        rec.exchanges.len(),
        1,
        "nothing sent or recorded after the limit"
    );
    let truncated = rec.exchanges[0].truncated.as_deref().unwrap();
    assert!(truncated.starts_with("total size limit"), "{truncated}");
    assert!(rec.limit_hit.unwrap().starts_with("total size limit"));
    assert_eq!(o.seen.lock().unwrap().len(), 1);
}

#[test]
fn endless_response_ends_at_the_time_limit() {
    let endless = origin(None, |s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
        while s.write_all(b"data: x\n\n").and_then(|()| s.flush()).is_ok() {
            thread::sleep(Duration::from_millis(50));
        }
    });
    let silent = origin(None, |_| thread::sleep(Duration::from_secs(4)));
    let cfg = ProxyConfig {
        request_timeout: Duration::from_millis(1200),
        ..ProxyConfig::default()
    };
    let proxy = RecordingProxy::start(cfg).unwrap();
    let t = Instant::now();
    let resp = get_http(proxy.addr(), &endless.addr.to_string(), "/events");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert!(split(&resp).1.starts_with(b"data: x\n\n"));
    let resp = get_http(proxy.addr(), &silent.addr.to_string(), "/");
    assert!(
        resp.starts_with(b"HTTP/1.1 504 "),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    let rec = proxy.finish();
    let ex = &rec.exchanges[0];
    assert!(
        ex.truncated.as_deref().unwrap().starts_with("time limit"),
        "{:?}",
        ex.truncated
    );
    assert!(!ex.response_body.is_empty());
    assert!(rec.exchanges[1]
        .error
        .as_deref()
        .unwrap()
        .starts_with("time limit"));
}

#[test]
fn browser_connection_kept_alive() {
    let o = origin(None, |s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap()
    });
    let proxy = RecordingProxy::start(config()).unwrap();
    let mut s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let expect = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for path in ["/1", "/2"] {
        write!(
            s,
            "GET http://{}{path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            o.addr, o.addr
        )
        .unwrap();
        let mut resp = vec![0; expect.len()];
        s.read_exact(&mut resp).unwrap();
        assert_eq!(resp, expect);
    }
    // Plain HTTP inside a CONNECT tunnel (as ws:// does), two requests kept alive.
    let mut t = TcpStream::connect(proxy.addr()).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(t, "CONNECT {} HTTP/1.1\r\nHost: {}\r\n\r\n", o.addr, o.addr).unwrap();
    assert!(read_head(&mut t).unwrap().starts_with(b"HTTP/1.1 200"));
    for path in ["/3", "/4"] {
        write!(t, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", o.addr).unwrap();
        let mut resp = vec![0; expect.len()];
        t.read_exact(&mut resp).unwrap();
        assert_eq!(resp, expect);
    }
    let rec = proxy.finish();
    let urls: Vec<&str> = rec.exchanges.iter().map(|e| e.url.as_str()).collect();
    let want: Vec<String> = ["/1", "/2", "/3", "/4"]
        .iter()
        .map(|p| format!("http://{}{p}", o.addr))
        .collect();
    assert_eq!(urls, want);
}

// ---- upstream proxies ----------------------------------------------------------------------

/// Copies both ways until either side ends.
fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let t = thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(Shutdown::Write);
    });
    let (mut a, mut b) = (a, b);
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(Shutdown::Write);
    let _ = t.join();
}

/// A SOCKS5 proxy (no auth, CONNECT only); records each target as `name:port` or `ip:port`.
fn socks5_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&targets);
    thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let seen = Arc::clone(&seen);
            thread::spawn(move || {
                let mut b = [0u8; 3];
                s.read_exact(&mut b).unwrap();
                assert_eq!(b, [5, 1, 0]);
                s.write_all(&[5, 0]).unwrap();
                let mut req = [0u8; 4];
                s.read_exact(&mut req).unwrap();
                let host = match req[3] {
                    1 => {
                        let mut ip = [0u8; 4];
                        s.read_exact(&mut ip).unwrap();
                        std::net::Ipv4Addr::from(ip).to_string()
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        s.read_exact(&mut len).unwrap();
                        let mut name = vec![0; usize::from(len[0])];
                        s.read_exact(&mut name).unwrap();
                        String::from_utf8(name).unwrap()
                    }
                    t => panic!("address type {t}"),
                };
                let mut port = [0u8; 2];
                s.read_exact(&mut port).unwrap();
                let target = format!("{host}:{}", u16::from_be_bytes(port));
                seen.lock().unwrap().push(target.clone());
                let up = TcpStream::connect(target).unwrap();
                s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
                pipe(s, up);
            });
        }
    });
    (addr, targets)
}

/// An HTTP CONNECT proxy; records each CONNECT target.
fn connect_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&targets);
    thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let seen = Arc::clone(&seen);
            thread::spawn(move || {
                let head = String::from_utf8(read_head(&mut s).unwrap()).unwrap();
                let target = head
                    .strip_prefix("CONNECT ")
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_owned();
                seen.lock().unwrap().push(target.clone());
                let up = TcpStream::connect(target).unwrap();
                s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                pipe(s, up);
            });
        }
    });
    (addr, targets)
}

#[test]
fn socks5_upstream() {
    let ca = new_ca();
    let (tls, chain) = origin_tls(&ca);
    let plain = origin(None, |s| s.write_all(CHUNKED).unwrap());
    let secure = origin(Some(tls), |s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
            .unwrap()
    });
    let (socks, targets) = socks5_server();
    let extra_roots = vec![ca.cert.der().to_vec()];

    // socks5h: the proxy gets the name and resolves it; nothing looked up here.
    let cfg = ProxyConfig {
        upstream: Some(format!("socks5h://{socks}")),
        extra_roots: extra_roots.clone(),
        ..config()
    };
    let proxy = RecordingProxy::start(cfg).unwrap();
    let resp = get_http(
        proxy.addr(),
        &format!("localhost:{}", plain.addr.port()),
        "/",
    );
    assert_eq!(resp, CHUNKED);
    let (resp, _) = get_https(
        proxy.addr(),
        "localhost",
        secure.addr.port(),
        "/",
        &proxy.ca_der(),
    );
    assert!(resp.ends_with(b"\r\n\r\nsecret"));
    let rec = proxy.finish();
    assert_eq!(
        *targets.lock().unwrap(),
        [
            format!("localhost:{}", plain.addr.port()),
            format!("localhost:{}", secure.addr.port())
        ]
    );
    assert!(rec
        .exchanges
        .iter()
        .all(|e| e.remote_addr == Some(socks) && e.error.is_none()));
    assert!(rec.hosts.iter().all(|h| h.dns.is_empty()));
    assert_eq!(rec.hosts[1].tls.as_ref().unwrap().chain_der, chain);

    // socks5: looked up here, the proxy gets an address.
    targets.lock().unwrap().clear();
    let cfg = ProxyConfig {
        upstream: Some(format!("socks5://{socks}")),
        ..config()
    };
    let proxy = RecordingProxy::start(cfg).unwrap();
    let resp = get_http(
        proxy.addr(),
        &format!("localhost:{}", plain.addr.port()),
        "/",
    );
    assert_eq!(resp, CHUNKED);
    let rec = proxy.finish();
    assert_eq!(*targets.lock().unwrap(), [plain.addr.to_string()]);
    assert!(rec.hosts[0].dns.contains(&"127.0.0.1".parse().unwrap()));
}

#[test]
fn http_connect_upstream() {
    let plain = origin(None, |s| s.write_all(CHUNKED).unwrap());
    let (up, targets) = connect_server();
    let proxy = RecordingProxy::start(ProxyConfig {
        upstream: Some(format!("http://{up}")),
        ..config()
    })
    .unwrap();
    let resp = get_http(proxy.addr(), &plain.addr.to_string(), "/x");
    assert_eq!(resp, CHUNKED);
    let rec = proxy.finish();
    assert_eq!(*targets.lock().unwrap(), [plain.addr.to_string()]);
    assert_eq!(rec.exchanges[0].remote_addr, Some(up));
    assert_eq!(rec.exchanges[0].response_body, split(CHUNKED).1);
}

#[test]
fn hostile_requests_get_errors_not_panics() {
    let proxy = RecordingProxy::start(config()).unwrap();
    for req in [
        "GET ftp://x/ HTTP/1.1\r\n\r\n",
        "GET http://exa mple/ HTTP/1.1\r\n\r\n",
        "GET http://user@host/ HTTP/1.1\r\n\r\n",
        "CONNECT [zz]:443 HTTP/1.1\r\n\r\n",
        "GET http://127.0.0.1:1/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET http://127.0.0.1:1/ HTTP/1.1\r\n folded\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(proxy.addr()).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let resp = read_all(&mut s);
        assert!(resp.starts_with(b"HTTP/1.1 400 "), "{req:?}: {}", String::from_utf8_lossy(&resp));
    }
    // Nothing listens on port 1: refused, recorded with the error.
    let resp = get_http(proxy.addr(), "127.0.0.1:1", "/");
    assert!(resp.starts_with(b"HTTP/1.1 502 "));
    let rec = proxy.finish();
    assert_eq!(rec.exchanges.len(), 1);
    assert!(rec.exchanges[0].error.is_some());
}

#[test]
fn fetch_without_a_browser() {
    let ca = new_ca();
    let (tls, _) = origin_tls(&ca);
    let o = origin(Some(tls), |s| s.write_all(CHUNKED).unwrap());
    let cfg = ProxyConfig {
        extra_roots: vec![ca.cert.der().to_vec()],
        ..config()
    };
    let url = format!("https://localhost:{}/p?q#frag", o.addr.port());
    let ex = athar_capture::proxy::fetch(&cfg, &url).unwrap();
    assert_eq!(ex.url, format!("https://localhost:{}/p?q", o.addr.port()));
    assert_eq!((ex.status, &ex.error), (200, &None));
    assert_eq!(
        [ex.response_head.as_slice(), &ex.response_body].concat(),
        CHUNKED
    );
    assert_eq!(o.seen.lock().unwrap()[0], ex.request_head);
    assert!(ex.request_head.starts_with(b"GET /p?q HTTP/1.1\r\n"));

    // Untrusted: an exchange with the error, nothing sent.
    let ex = athar_capture::proxy::fetch(&config(), &url).unwrap();
    assert!(ex.error.is_some() && ex.response_head.is_empty());
    assert_eq!(o.seen.lock().unwrap().len(), 1);
    assert!(athar_capture::proxy::fetch(&config(), "ftp://x/").is_err());
}

#[test]
fn a_public_capture_may_not_reach_the_local_network() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/admin", listener.local_addr().unwrap());
    let cfg = ProxyConfig {
        refuse_local: true,
        ..config()
    };
    let ex = athar_capture::proxy::fetch(&cfg, &url).unwrap();
    assert!(
        ex.error.as_deref().is_some_and(|e| e.contains("refused")),
        "{:?}",
        ex.error
    );
    assert!(listener.accept().is_err(), "the local address was reached");
    for (ip, local) in [
        ("127.0.0.1", true),
        ("10.1.2.3", true),
        ("172.20.0.1", true),
        ("192.168.1.1", true),
        ("169.254.169.254", true),
        ("100.64.0.1", true),
        ("0.0.0.0", true),
        ("::1", true),
        ("fd00::1", true),
        ("fe80::1", true),
        ("::ffff:10.0.0.1", true),
        ("8.8.8.8", false),
        ("2a00:1450::1", false),
        ("172.32.0.1", false),
    ] {
        assert_eq!(
            athar_capture::proxy::is_local(ip.parse().unwrap()),
            local,
            "{ip}"
        );
    }
    assert!(athar_capture::proxy::is_local_host(
        "http://localhost:8080/"
    ));
    assert!(!athar_capture::proxy::is_local_host(
        "https://93.184.215.14/"
    ));
}
