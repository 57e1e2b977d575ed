//! The recording proxy: headless Chromium is pointed at it (`--proxy-server=http://ADDR`)
//! during a web capture. It forwards every request to the origin and records every request
//! and response as bytes on the wire, with the network context, for the WARC file and the
//! court record.
//!
//! # What is recorded
//!
//! - For each request ([`Exchange`]): the request head exactly as sent upstream (the
//!   browser's, with the hop-by-hop headers `Connection`, `Proxy-Connection`, `Keep-Alive`,
//!   `Proxy-Authorization`, `TE`, `Upgrade` and those `Connection` names dropped, the request
//!   line in origin form, and `Connection: close` added), the request body as sent, the
//!   response head and body exactly as received (content and transfer encodings untouched:
//!   a chunked body keeps its chunk framing and trailers), the status, the address the
//!   response came from (the upstream proxy's, when there is one) and when the request was
//!   sent. Interim `1xx` responses are read past and not recorded.
//! - For each host and port ([`HostContext`]): the addresses the system resolver answered
//!   with (once per host per proxy, in its order; none for an IP literal or when an upstream
//!   proxy resolves names) and the TLS session of the first connection (version, cipher
//!   suite, ALPN, the certificate chain as the server sent it).
//!
//! # How
//!
//! Plain HTTP arrives as absolute-form requests; HTTPS as `CONNECT host:port`, answered
//! `200` and then TLS terminated with a certificate for that host issued by a CA made for
//! this proxy alone (all leaves share one key pair, so
//! [`RecordingProxy::spki_sha256_base64`] is all Chromium needs in
//! `--ignore-certificate-errors-spki-list`). Each request goes to the origin on a new
//! connection (`Connection: close`), verified against the system's roots plus
//! [`ProxyConfig::extra_roots`]; a request is never sent to an origin whose certificate
//! fails verification: the exchange is recorded with its `error` and the browser gets `502`.
//! Responses are streamed to the browser while they are recorded. [`fetch`] sends one `GET`
//! the same way without a browser (for the deletion watch).
//!
//! # Limits
//!
//! Every response body stops at [`ProxyConfig::max_response_bytes`] and all recorded bytes
//! (heads and bodies, requests and responses) at [`ProxyConfig::max_total_bytes`]; each
//! exchange, from name lookup to the last body byte, at [`ProxyConfig::request_timeout`]. A
//! body cut short is recorded up to the cut, marked in [`Exchange::truncated`], and both
//! connections are closed. Once the total is reached, [`Recording::limit_hit`] says so and
//! later requests are answered `503` without being sent or recorded. Heads are limited to
//! 256 KiB, concurrent browser connections to 64. Memory grows with what is recorded and
//! never beyond the limits.
//!
//! Not supported: HTTP/2 and HTTP/3 (ALPN offers `http/1.1` only; Chromium falls back), and
//! protocol upgrades (WebSocket: `Upgrade` is dropped, so the origin answers without
//! switching). No destination is filtered: whatever the browser asks for is fetched.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};
use sha2::{Digest, Sha256};

use crate::exchange::{Exchange, HostContext, TlsInfo};

/// The longest request or response head read (request line or status line and headers).
const MAX_HEAD: usize = 256 * 1024;
/// The longest chunk-size or trailer line of a chunked body.
const MAX_CHUNK_LINE: usize = 8 * 1024;
/// Browser connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 64;
/// The longest wait for one TCP connection to be set up (within the exchange's time).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Server certificates kept per proxy (one per host); beyond this they are made afresh.
const MAX_CACHED_CERTS: usize = 4096;
/// Interim (1xx) responses read past before giving up on a response.
const MAX_INTERIM: usize = 16;
const BUF_SIZE: usize = 16 * 1024;
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// How the proxy behaves; see the module documentation for the limits.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where to send traffic on: None (direct), `http://host:port` (CONNECT) or
    /// `socks5://host:port` / `socks5h://host:port` (names resolved by the proxy; for Tor).
    pub upstream: Option<String>,
    /// Extra trusted roots (DER) beside the system's (rustls-native-certs), e.g. a test CA.
    pub extra_roots: Vec<Vec<u8>>,
    /// The most bytes recorded (and passed on) of one response body; default 256 MiB.
    pub max_response_bytes: u64,
    /// The most bytes recorded in all; default 1 GiB.
    pub max_total_bytes: u64,
    /// The most time one exchange may take, from name lookup to the last body byte;
    /// default 60 s.
    pub request_timeout: Duration,
    /// Refuse to connect to loopback, private, link-local and other non-public addresses
    /// (a captured public page must not reach into the local network). Off by default;
    /// [`crate::capture`] and the watch turn it on unless the address captured is itself
    /// local ([`is_local_host`]).
    pub refuse_local: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            upstream: None,
            extra_roots: Vec::new(),
            max_response_bytes: 256 * 1024 * 1024,
            max_total_bytes: 1024 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            refuse_local: false,
        }
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on 127.0.0.1")]
    Bind(#[source] io::Error),
    #[error("cannot make the proxy's certificate authority")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot set up TLS")]
    Tls(#[from] rustls::Error),
    #[error("extra trusted root {index} is not a usable certificate")]
    ExtraRoot {
        index: usize,
        #[source]
        source: rustls::Error,
    },
    #[error(
        "upstream proxy {0:?} is not http://host:port, socks5://host:port or socks5h://host:port"
    )]
    Upstream(String),
    #[error("{0}")]
    Url(String),
    #[error("cannot start a thread")]
    Thread(#[source] io::Error),
}

/// Totals so far, for progress and for ending a capture early.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Bytes recorded: request and response heads and bodies.
    pub bytes_recorded: u64,
    /// Exchanges recorded (finished, with or without an error).
    pub exchanges: u64,
    /// Why recording stopped early (the total size limit), if it did.
    pub limit_hit: Option<String>,
}

/// What the proxy recorded.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// In the order the requests were sent (or failed).
    pub exchanges: Vec<Exchange>,
    /// In the order the hosts were first reached.
    pub hosts: Vec<HostContext>,
    /// Why recording stopped early (the total size limit), if it did.
    pub limit_hit: Option<String>,
}

/// A running recording proxy on `127.0.0.1`; see the module documentation.
pub struct RecordingProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for RecordingProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingProxy")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RecordingProxy {
    /// Makes the proxy's CA, binds `127.0.0.1:0` and serves on threads.
    pub fn start(cfg: ProxyConfig) -> Result<RecordingProxy, ProxyError> {
        let shared = Arc::new(Shared::new(&cfg)?);
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let for_thread = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("athar-proxy-accept".into())
            .spawn(move || accept_loop(&for_thread, listener))
            .map_err(ProxyError::Thread)?;
        Ok(RecordingProxy {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// The address to give the browser (`--proxy-server=http://ADDR`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base64 SHA-256 of the SubjectPublicKeyInfo of the certificates the proxy presents to
    /// the browser (one key pair per proxy), for Chromium's
    /// `--ignore-certificate-errors-spki-list`.
    pub fn spki_sha256_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(&self.shared.mint.leaf_spki))
    }

    /// The proxy's CA certificate (DER), for clients that verify instead of pinning.
    pub fn ca_der(&self) -> Vec<u8> {
        self.shared.mint.ca_der.to_vec()
    }

    /// Totals so far and whether the total limit was hit.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            bytes_recorded: self.shared.total.load(Ordering::SeqCst),
            exchanges: self.shared.count.load(Ordering::SeqCst),
            limit_hit: lock(&self.shared.limit_hit).clone(),
        }
    }

    /// Stops accepting, ends open connections and returns what was recorded. Exchanges
    /// still running are given a few seconds to be recorded (with their error).
    pub fn finish(mut self) -> Recording {
        self.stop();
        let give_up = Instant::now() + CONNECT_TIMEOUT + Duration::from_secs(2);
        let mut active = lock(&self.shared.active);
        while *active > 0 {
            let now = Instant::now();
            if now >= give_up {
                break;
            }
            active = match self
                .shared
                .active_changed
                .wait_timeout(active, give_up - now)
            {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        drop(active);
        let record = std::mem::take(&mut *lock(&self.shared.record));
        let mut exchanges = record.exchanges;
        exchanges.sort_by_key(|(seq, _)| *seq);
        Recording {
            exchanges: exchanges.into_iter().map(|(_, e)| e).collect(),
            hosts: record.hosts,
            limit_hit: lock(&self.shared.limit_hit).clone(),
        }
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            // Wake the blocking accept; join only if the wake-up got through.
            if TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).is_ok() {
                let _ = accept.join();
            }
        }
        let open = lock(&self.shared.open);
        for sock in open.socks.values() {
            let _ = sock.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `User-Agent` of [`fetch`]: a browser's, as some sites turn other clients away.
pub const FETCH_USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

/// Fetches one `http://` or `https://` URL with `GET`, without a browser, as the proxy
/// forwards a request: same upstream proxy, name lookup, certificate verification, limits
/// (`max_response_bytes`, `request_timeout`) and recording. Redirects are not followed; the
/// body is asked for without content coding (`Accept-Encoding: identity`). For checks that a
/// captured source is still there.
///
/// A failure to get an answer (refused, TLS, time limit) is an [`Exchange`] with `error` and
/// an empty `response_head`; `Err` only for an unusable URL or configuration.
pub fn fetch(cfg: &ProxyConfig, url: &str) -> Result<Exchange, ProxyError> {
    let url = url.split('#').next().unwrap_or_default();
    let (origin, path) = parse_absolute(url, true).map_err(ProxyError::Url)?;
    let shared = Arc::new(Shared::new(cfg)?);
    let host_port = authority(&origin.host, origin.port, origin.default_port());
    let scheme = if origin.https { "https" } else { "http" };
    let request_head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_port}\r\nUser-Agent: {FETCH_USER_AGENT}\r\n\
         Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
    );
    shared.add(request_head.len());
    let ex = Exchange {
        url: format!("{scheme}://{host_port}{path}"),
        method: "GET".into(),
        request_head: request_head.into_bytes(),
        ..Exchange::default()
    };
    forward(&shared, &origin, ex, None);
    let recorded = lock(&shared.record).exchanges.pop();
    Ok(recorded.map(|(_, ex)| ex).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// Shared state

struct Shared {
    via: Via,
    max_response: u64,
    max_total: u64,
    timeout: Duration,
    refuse_local: bool,
    client_tls: Arc<ClientConfig>,
    mint: Mint,
    stopping: AtomicBool,
    total: AtomicU64,
    seq: AtomicU64,
    count: AtomicU64,
    limit_hit: Mutex<Option<String>>,
    record: Mutex<Record>,
    /// Name lookups, once per host: the answers or why there were none.
    dns: Mutex<HashMap<String, Result<Vec<IpAddr>, String>>>,
    open: Mutex<Open>,
    active: Mutex<usize>,
    active_changed: Condvar,
}

#[derive(Default)]
struct Record {
    exchanges: Vec<(u64, Exchange)>,
    hosts: Vec<HostContext>,
}

/// Sockets open now, so that `finish` can end them.
#[derive(Default)]
struct Open {
    next: u64,
    socks: HashMap<u64, TcpStream>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Shared {
    /// With `refuse_local`, fails when any address of `host` is not a public one.
    fn check_public(&self, host: &str, ips: &[IpAddr]) -> Result<(), Fail> {
        if self.refuse_local && ips.iter().any(|ip| is_local(*ip)) {
            return Err(Fail::new(format!(
                "refused: {host} is a local or private address, which a captured page may not reach"
            )));
        }
        Ok(())
    }

    /// Looks `host` up here (not through a proxy), refuses it when it must be public and is
    /// not, and records the answers for the host's context (none for an address literal).
    fn resolve_here(&self, host: &str, port: u16, deadline: Instant) -> Result<Vec<IpAddr>, Fail> {
        let ips = lookup(self, host, deadline, true)?;
        self.check_public(host, &ips)?;
        let answered: &[IpAddr] = if host.parse::<IpAddr>().is_ok() {
            &[]
        } else {
            &ips
        };
        self.note_host(host, port, answered);
        Ok(ips)
    }

    fn new(cfg: &ProxyConfig) -> Result<Shared, ProxyError> {
        let via = Via::parse(cfg.upstream.as_deref())?;
        let provider = ring_provider();
        let client_tls = client_config(&provider, &cfg.extra_roots)?;
        let mint = Mint::new(provider)?;
        Ok(Shared {
            via,
            max_response: cfg.max_response_bytes,
            max_total: cfg.max_total_bytes,
            timeout: cfg.request_timeout,
            refuse_local: cfg.refuse_local,
            client_tls,
            mint,
            stopping: AtomicBool::new(false),
            total: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            count: AtomicU64::new(0),
            limit_hit: Mutex::new(None),
            record: Mutex::new(Record::default()),
            dns: Mutex::new(HashMap::new()),
            open: Mutex::new(Open::default()),
            active: Mutex::new(0),
            active_changed: Condvar::new(),
        })
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Takes up to `n` bytes of the total budget; returns how many it got. Getting fewer
    /// marks the limit as hit.
    fn reserve(&self, n: u64) -> u64 {
        let mut cur = self.total.load(Ordering::SeqCst);
        loop {
            let got = n.min(self.max_total.saturating_sub(cur));
            match self
                .total
                .compare_exchange(cur, cur + got, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    if got < n {
                        self.hit_limit();
                    }
                    return got;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Counts bytes that are recorded whatever the budget says (heads, bounded in size).
    fn add(&self, n: usize) {
        let n = n as u64;
        let before = self.total.fetch_add(n, Ordering::SeqCst);
        if before.saturating_add(n) > self.max_total {
            self.hit_limit();
        }
    }

    fn hit_limit(&self) {
        let mut hit = lock(&self.limit_hit);
        if hit.is_none() {
            *hit = Some(format!(
                "total size limit: the capture reached {} bytes",
                self.max_total
            ));
        }
    }

    fn limit_reached(&self) -> bool {
        lock(&self.limit_hit).is_some()
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    fn record(&self, seq: u64, ex: Exchange) {
        lock(&self.record).exchanges.push((seq, ex));
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn note_host(&self, host: &str, port: u16, dns: &[IpAddr]) {
        let mut rec = lock(&self.record);
        if !rec.hosts.iter().any(|h| h.host == host && h.port == port) {
            rec.hosts.push(HostContext {
                host: host.to_owned(),
                port,
                dns: dns.to_vec(),
                tls: None,
            });
        }
    }

    fn note_tls(&self, host: &str, port: u16, tls: TlsInfo) {
        let mut rec = lock(&self.record);
        match rec
            .hosts
            .iter_mut()
            .find(|h| h.host == host && h.port == port)
        {
            Some(h) => {
                if h.tls.is_none() {
                    h.tls = Some(tls);
                }
            }
            None => rec.hosts.push(HostContext {
                host: host.to_owned(),
                port,
                dns: Vec::new(),
                tls: Some(tls),
            }),
        }
    }

    /// Registers a socket so `finish` can shut it down; it is forgotten when the guard drops.
    fn register(self: &Arc<Self>, sock: &TcpStream) -> Option<Registered> {
        let clone = sock.try_clone().ok()?;
        let mut open = lock(&self.open);
        let id = open.next;
        open.next += 1;
        open.socks.insert(id, clone);
        drop(open);
        if self.stopping() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        Some(Registered {
            shared: Arc::clone(self),
            id,
        })
    }
}

struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.shared.open).socks.remove(&self.id);
    }
}

/// Holds one of the connection slots; frees it when dropped.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut active = lock(&self.0.active);
        *active = active.saturating_sub(1);
        self.0.active_changed.notify_all();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.stopping() {
            return;
        }
        let Ok(tcp) = conn else {
            // Out of descriptors or the like: don't spin.
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        // Wait for a free slot.
        {
            let mut active = lock(&shared.active);
            while *active >= MAX_CONNECTIONS && !shared.stopping() {
                active = match shared
                    .active_changed
                    .wait_timeout(active, Duration::from_millis(100))
                {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            if shared.stopping() {
                return;
            }
            *active += 1;
        }
        let slot = Slot(Arc::clone(shared));
        let for_thread = Arc::clone(shared);
        // On failure the closure (slot and socket with it) is dropped: the slot is freed.
        let _ = thread::Builder::new()
            .name("athar-proxy-conn".into())
            .spawn(move || {
                let _slot = slot;
                serve(&for_thread, tcp);
            });
    }
}

// ---------------------------------------------------------------------------------------
// Certificates and TLS configuration

/// The proxy's CA and the one key pair all its server certificates share.
struct Mint {
    provider: Arc<CryptoProvider>,
    ca_cert: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
    ca_der: CertificateDer<'static>,
    leaf_key: rcgen::KeyPair,
    leaf_spki: Vec<u8>,
    signing_key: Arc<dyn rustls::sign::SigningKey>,
    configs: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl Mint {
    fn new(provider: Arc<CryptoProvider>) -> Result<Mint, ProxyError> {
        let now = time::OffsetDateTime::now_utc();
        let ca_key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "Athar capture proxy (one capture only)",
        );
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
        let ca_cert = params.self_signed(&ca_key)?;
        let ca_der = ca_cert.der().clone();
        let leaf_key = rcgen::KeyPair::generate()?;
        let leaf_spki = leaf_key.public_key_der();
        let pkcs8 = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let signing_key = provider.key_provider.load_private_key(pkcs8)?;
        Ok(Mint {
            provider,
            ca_cert,
            ca_key,
            ca_der,
            leaf_key,
            leaf_spki,
            signing_key,
            configs: Mutex::new(HashMap::new()),
        })
    }

    /// The TLS server configuration presenting a certificate for `host`.
    fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, String> {
        if let Some(cfg) = lock(&self.configs).get(host) {
            return Ok(Arc::clone(cfg));
        }
        let cfg = self
            .make_server_config(host)
            .map_err(|e| format!("cannot make a certificate for {host}: {e}"))?;
        let mut configs = lock(&self.configs);
        if configs.len() < MAX_CACHED_CERTS {
            configs.insert(host.to_owned(), Arc::clone(&cfg));
        }
        Ok(cfg)
    }

    fn make_server_config(
        &self,
        host: &str,
    ) -> Result<Arc<ServerConfig>, Box<dyn std::error::Error>> {
        let now = time::OffsetDateTime::now_utc();
        let mut params = rcgen::CertificateParams::new(vec![host.to_owned()])?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host);
        // Leaves share a key, so derive the serial from the CA and the host to keep it unique.
        let mut serial = Sha256::new();
        serial.update(self.ca_der.as_ref());
        serial.update(host.as_bytes());
        let mut serial: [u8; 16] = serial.finalize()[..16].try_into()?;
        serial[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
        let leaf = params.signed_by(&self.leaf_key, &self.ca_cert, &self.ca_key)?;
        let key = CertifiedKey::new(
            vec![leaf.der().clone(), self.ca_der.clone()],
            Arc::clone(&self.signing_key),
        );
        let mut cfg = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(key)));
        cfg.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// The workspace builds rustls with *ring* only (no C toolchain beyond gcc); its provider is
/// marked deprecated for lacking post-quantum key exchange, which origins do not require.
#[allow(deprecated)]
fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(
    provider: &Arc<CryptoProvider>,
    extra_roots: &[Vec<u8>],
) -> Result<Arc<ClientConfig>, ProxyError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped: the extra roots may be all that's needed.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for (index, der) in extra_roots.iter().enumerate() {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|source| ProxyError::ExtraRoot { index, source })?;
    }
    let mut cfg = ClientConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(cfg))
}

// ---------------------------------------------------------------------------------------
// Upstream proxy

#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    Direct,
    Http {
        host: String,
        port: u16,
    },
    Socks5 {
        host: String,
        port: u16,
        remote_dns: bool,
    },
}

impl Via {
    fn parse(upstream: Option<&str>) -> Result<Via, ProxyError> {
        let Some(url) = upstream else {
            return Ok(Via::Direct);
        };
        let bad = || ProxyError::Upstream(url.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = parse_authority(authority, None).map_err(|_| bad())?;
        match scheme.to_ascii_lowercase().as_str() {
            "http" => Ok(Via::Http { host, port }),
            "socks5" => Ok(Via::Socks5 {
                host,
                port,
                remote_dns: false,
            }),
            "socks5h" => Ok(Via::Socks5 {
                host,
                port,
                remote_dns: true,
            }),
            _ => Err(bad()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Streams

enum Stream {
    Tcp(TcpStream),
    Client(Box<StreamOwned<ClientConnection, TcpStream>>),
    Server(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(t) => t,
            Stream::Client(s) => &s.sock,
            Stream::Server(s) => &s.sock,
        }
    }

    /// Ends the connection (with a TLS close_notify where there is TLS).
    fn close(&mut self) {
        match self {
            Stream::Tcp(_) => {}
            Stream::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Stream::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        }
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = match self {
            Stream::Tcp(t) => return t.read(buf),
            Stream::Client(s) => s.read(buf),
            Stream::Server(s) => s.read(buf),
        };
        match result {
            // A TLS peer that closes without close_notify: the end, as for plain TCP (a body
            // with a length or chunks still notices it is short).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(t) => t.write(buf),
            Stream::Client(s) => s.write(buf),
            Stream::Server(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(t) => t.flush(),
            Stream::Client(s) => s.flush(),
            Stream::Server(s) => s.flush(),
        }
    }
}

/// A buffered stream, with an optional deadline applied to every read.
struct Conn {
    r: BufReader<Stream>,
    deadline: Option<Instant>,
}

impl Conn {
    fn new(s: Stream, deadline: Option<Instant>) -> Conn {
        Conn {
            r: BufReader::with_capacity(BUF_SIZE, s),
            deadline,
        }
    }

    fn fill(&mut self) -> io::Result<&[u8]> {
        if let Some(deadline) = self.deadline {
            arm(self.r.get_ref().tcp(), deadline)?;
        }
        self.r.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.r.consume(n);
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(deadline) = self.deadline {
            arm(self.r.get_ref().tcp(), deadline)?;
        }
        let s = self.r.get_mut();
        s.write_all(bytes)?;
        s.flush()
    }

    fn close(&mut self) {
        self.r.get_mut().close();
    }
}

/// Sets the socket's timeouts to what is left before `deadline`.
fn arm(tcp: &TcpStream, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "time limit"));
    }
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Reads a head up to and including its blank line. `Ok(None)`: closed before a byte came.
fn read_head(c: &mut Conn, skip_blank_lines: bool) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let buf = c.fill()?;
        if buf.is_empty() {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a head",
            ));
        }
        let mut used = 0;
        let mut done = false;
        for &b in buf {
            used += 1;
            if skip_blank_lines && head.is_empty() && (b == b'\r' || b == b'\n') {
                continue;
            }
            head.push(b);
            if head.ends_with(b"\n\n") || head.ends_with(b"\r\n\r\n") {
                done = true;
                break;
            }
            if head.len() >= MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
        }
        c.consume(used);
        if done {
            return Ok(Some(head));
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP parsing

struct Header {
    /// The line as received, without its line ending.
    line: Vec<u8>,
    /// Lower case.
    name: String,
    value: Vec<u8>,
}

struct Head {
    /// Request: method, target, version. Response: version, status, reason.
    first: [String; 3],
    headers: Vec<Header>,
}

impl Head {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value.as_slice())
    }

    fn has(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }

    /// The comma-separated elements of all `name` headers, trimmed and in lower case.
    fn tokens(&self, name: &str) -> Vec<String> {
        self.values(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|t| String::from_utf8_lossy(t).trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// `Some(true)`: chunked; `Some(false)`: another coding last; None: no Transfer-Encoding.
    fn chunked(&self) -> Option<bool> {
        let tokens = self.tokens("transfer-encoding");
        tokens.last().map(|t| t == "chunked")
    }

    fn content_length(&self) -> Result<Option<u64>, String> {
        let mut found: Option<u64> = None;
        for v in self.values("content-length") {
            for part in v.split(|&b| b == b',') {
                let s = std::str::from_utf8(part)
                    .map_err(|_| "invalid Content-Length".to_owned())?
                    .trim();
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("invalid Content-Length {s:?}"));
                }
                let n: u64 = s
                    .parse()
                    .map_err(|_| format!("invalid Content-Length {s:?}"))?;
                if found.is_some_and(|f| f != n) {
                    return Err("conflicting Content-Length headers".to_owned());
                }
                found = Some(n);
            }
        }
        Ok(found)
    }
}

fn head_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_header(line: &[u8]) -> Option<Header> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&line[..colon]).ok()?;
    if !is_token(name) {
        return None;
    }
    let value = line[colon + 1..].trim_ascii().to_vec();
    Some(Header {
        line: line.to_vec(),
        name: name.to_ascii_lowercase(),
        value,
    })
}

/// Parses a request head strictly: what the browser sends is rewritten and sent on.
fn parse_request(head: &[u8]) -> Result<Head, String> {
    let mut lines = head_lines(head);
    let first = lines.next().ok_or("empty request")?;
    let first = std::str::from_utf8(first).map_err(|_| "request line is not ASCII")?;
    let parts: Vec<&str> = first.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err("malformed request line".into());
    };
    if !is_token(method) {
        return Err("malformed method".into());
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("malformed request target".into());
    }
    if *version != "HTTP/1.1" && *version != "HTTP/1.0" {
        return Err(format!("unsupported version {version:?}"));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return Err("folded header line".into());
        }
        headers.push(parse_header(line).ok_or("malformed header line")?);
    }
    Ok(Head {
        first: [method.to_string(), target.to_string(), version.to_string()],
        headers,
    })
}

/// Parses a response head leniently (it is recorded and passed on as received; only the
/// status and the framing headers matter).
fn parse_response(head: &[u8]) -> Result<Head, String> {
    let mut lines = head_lines(head);
    let first = lines.next().ok_or("empty response head")?;
    let first = String::from_utf8_lossy(first);
    let mut parts = first.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().unwrap_or_default();
    let reason = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.")
        || status.len() != 3
        || !status.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("malformed status line {:?}", truncate(&first, 80)));
    }
    let headers = lines.filter_map(parse_header).collect();
    Ok(Head {
        first: [version.to_owned(), status.to_owned(), reason.to_owned()],
        headers,
    })
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Parses `host:port` or `[v6]:port`; the port may be left out when there is a default.
/// The host is returned in lower case, an IPv6 literal without brackets.
fn parse_authority(authority: &str, default_port: Option<u16>) -> Result<(String, u16), String> {
    let bad = || format!("malformed host {:?}", truncate(authority, 80));
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        v6.parse::<Ipv6Addr>().map_err(|_| bad())?;
        (v6, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
        None => default_port.ok_or_else(bad)?,
    };
    let host = host.to_ascii_lowercase();
    let ok = host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            && !host.starts_with('.')
            && !host.contains(".."));
    if !ok {
        return Err(bad());
    }
    Ok((host, port))
}

/// `host[:port]` as it goes in a URL or a Host header (default port left out).
fn authority(host: &str, port: u16, default_port: u16) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    }
}

// ---------------------------------------------------------------------------------------
// Serving the browser

/// Where the requests on one browser connection go.
#[derive(Clone)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn default_port(&self) -> u16 {
        if self.https {
            443
        } else {
            80
        }
    }
}

fn serve(shared: &Arc<Shared>, tcp: TcpStream) {
    let _registered = shared.register(&tcp);
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(shared.timeout));
    let _ = tcp.set_write_timeout(Some(shared.timeout));
    let mut browser = Conn::new(Stream::Tcp(tcp), None);
    let mut tunnel: Option<Origin> = None;
    loop {
        let head = match read_head(&mut browser, true) {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    reply(
                        &mut browser,
                        431,
                        "Request Header Fields Too Large",
                        "request head too large",
                    );
                }
                break;
            }
        };
        let req = match parse_request(&head) {
            Ok(req) => req,
            Err(e) => {
                reply(&mut browser, 400, "Bad Request", &e);
                break;
            }
        };
        if req.first[0] == "CONNECT" {
            if tunnel.is_some() {
                reply(&mut browser, 400, "Bad Request", "CONNECT inside a tunnel");
                break;
            }
            let (host, port) = match parse_authority(&req.first[1], Some(443)) {
                Ok(hp) => hp,
                Err(e) => {
                    reply(&mut browser, 400, "Bad Request", &e);
                    break;
                }
            };
            if browser
                .send(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .is_err()
            {
                break;
            }
            // TLS inside (a ClientHello starts with 0x16), or plain HTTP (ws:// does this).
            let tls = match browser.fill() {
                Ok(buf) if !buf.is_empty() => buf[0] == 0x16,
                _ => break,
            };
            if tls {
                match accept_tls(shared, browser, &host) {
                    Some(b) => browser = b,
                    None => return,
                }
            }
            tunnel = Some(Origin {
                https: tls,
                host,
                port,
            });
            continue;
        }
        let keep_alive = exchange(shared, &mut browser, &req, tunnel.as_ref());
        if !keep_alive {
            break;
        }
    }
    browser.close();
}

/// Terminates the browser's TLS inside a CONNECT tunnel with a certificate for `host`.
fn accept_tls(shared: &Shared, browser: Conn, host: &str) -> Option<Conn> {
    let buffered = browser.r.buffer().to_vec();
    let Stream::Tcp(tcp) = browser.r.into_inner() else {
        return None;
    };
    let cfg = shared.mint.server_config(host).ok()?;
    let mut conn = ServerConnection::new(cfg).ok()?;
    let mut rest = buffered.as_slice();
    while !rest.is_empty() {
        match conn.read_tls(&mut rest) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {
                conn.process_new_packets().ok()?;
            }
        }
    }
    let mut s = StreamOwned::new(conn, tcp);
    let mut rounds = 0;
    while s.conn.is_handshaking() {
        rounds += 1;
        if rounds > 64 || s.conn.complete_io(&mut s.sock).is_err() {
            let _ = s.sock.shutdown(Shutdown::Both);
            return None;
        }
    }
    Some(Conn::new(Stream::Server(Box::new(s)), None))
}

/// Writes a response made by the proxy itself (the connection is closed afterwards).
fn reply(browser: &mut Conn, status: u16, reason: &str, msg: &str) {
    let body = format!("Athar capture proxy: {msg}\n");
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = browser.send(head.as_bytes());
    let _ = browser.send(body.as_bytes());
}

/// Tells the browser why there is no response: 504 for the time limit, 502 otherwise.
fn reply_fail(browser: &mut Conn, f: &Fail) {
    if f.timeout {
        reply(browser, 504, "Gateway Timeout", &f.msg);
    } else {
        reply(browser, 502, "Bad Gateway", &f.msg);
    }
}

/// Why a response body stopped before its end.
enum Stop {
    /// A size limit (recorded as `truncated`).
    Limit(String),
    /// The time limit (recorded as `truncated`).
    Time(String),
    /// The browser went away (recorded as `truncated`).
    Browser(String),
    /// The origin misbehaved or went away (recorded as `error`).
    Upstream(String),
}

impl Stop {
    fn from_upstream(e: &io::Error, timeout: Duration) -> Stop {
        if is_timeout(e) {
            Stop::Time(format!(
                "time limit: the exchange took over {} s",
                timeout.as_secs_f64()
            ))
        } else {
            Stop::Upstream(format!("reading the response body failed: {e}"))
        }
    }
}

/// Why there was no response at all.
struct Fail {
    msg: String,
    timeout: bool,
}

impl Fail {
    fn new(msg: impl Into<String>) -> Fail {
        Fail {
            msg: msg.into(),
            timeout: false,
        }
    }

    fn io(what: &str, e: &io::Error, timeout: Duration) -> Fail {
        if is_timeout(e) {
            Fail {
                msg: format!("time limit: {what} took over {} s", timeout.as_secs_f64()),
                timeout: true,
            }
        } else {
            Fail::new(format!("{what} failed: {e}"))
        }
    }
}

/// Handles one request from the browser: forwards it, streams and records the response.
/// Returns whether the browser connection may carry another request.
fn exchange(shared: &Arc<Shared>, browser: &mut Conn, req: &Head, tunnel: Option<&Origin>) -> bool {
    let method = req.first[0].clone();
    let target = &req.first[1];
    // Where it goes.
    let (origin, path) = match tunnel {
        Some(origin) => {
            if !(target.starts_with('/') || (method == "OPTIONS" && target == "*")) {
                reply(
                    browser,
                    400,
                    "Bad Request",
                    "expected an origin-form request inside the tunnel",
                );
                return false;
            }
            (origin.clone(), target.clone())
        }
        None => match parse_absolute(target, false) {
            Ok(op) => op,
            Err(e) => {
                reply(browser, 400, "Bad Request", &e);
                return false;
            }
        },
    };
    let scheme = if origin.https { "https" } else { "http" };
    let host_port = authority(&origin.host, origin.port, origin.default_port());
    let url = if path == "*" {
        format!("{scheme}://{host_port}")
    } else {
        format!("{scheme}://{host_port}{path}")
    };

    // The request body, read whole (bounded by the per-response limit).
    let request_body = match read_request_body(shared, browser, req) {
        Ok(body) => body,
        Err((status, reason, msg)) => {
            reply(browser, status, reason, &msg);
            return false;
        }
    };
    if shared.limit_reached() {
        reply(
            browser,
            503,
            "Service Unavailable",
            "the capture reached its size limit",
        );
        return false;
    }

    let request_head = upstream_head(req, &method, &path, &host_port, tunnel.is_none());
    shared.add(request_head.len() + request_body.len());
    let ex = Exchange {
        url,
        method: method.clone(),
        request_head,
        request_body,
        ..Exchange::default()
    };
    let keep_alive = req.first[2] == "HTTP/1.1"
        && !req.tokens("connection").iter().any(|t| t == "close")
        && !req.tokens("proxy-connection").iter().any(|t| t == "close");
    match forward(shared, &origin, ex, Some(browser)) {
        Forwarded::Failed(f, Some(browser)) => {
            reply_fail(browser, &f);
            false
        }
        Forwarded::Failed(_, None) => false,
        Forwarded::Done {
            keep_alive: origin_keeps,
        } => keep_alive && origin_keeps,
    }
}

/// How [`forward`] ended.
enum Forwarded<'a> {
    /// No response was passed on: the browser (given back) is to be told why.
    Failed(Fail, Option<&'a mut Conn>),
    /// A response was passed on; whether the connection may carry another one.
    Done { keep_alive: bool },
}

/// Sends the request in `ex` to the origin, reads the response, passes it on to the browser
/// (if any) as it comes, and records the exchange.
fn forward<'a>(
    shared: &Arc<Shared>,
    origin: &Origin,
    mut ex: Exchange,
    browser: Option<&'a mut Conn>,
) -> Forwarded<'a> {
    let deadline = Instant::now() + shared.timeout;
    let started = now_rfc3339();
    let timeout = shared.timeout;

    let (stream, remote) = match connect(shared, origin, deadline) {
        Ok(sr) => sr,
        Err(f) => {
            ex.started = started;
            ex.error = Some(f.msg.clone());
            shared.record(shared.next_seq(), ex);
            return Forwarded::Failed(f, browser);
        }
    };
    ex.remote_addr = Some(remote);
    let _registered = shared.register(stream.tcp());
    let mut up = Conn::new(stream, Some(deadline));

    let seq = shared.next_seq();
    ex.started = now_rfc3339();
    let sent = up
        .send(&ex.request_head)
        .and_then(|()| up.send(&ex.request_body));
    if let Err(e) = sent {
        let f = Fail::io("sending the request", &e, timeout);
        ex.error = Some(f.msg.clone());
        shared.record(seq, ex);
        up.close();
        return Forwarded::Failed(f, browser);
    }

    // The response head (interim 1xx responses are read past).
    let mut interim = 0;
    let got = loop {
        let got = match read_head(&mut up, false) {
            Ok(Some(head)) => parse_response(&head)
                .map(|resp| (head, resp))
                .map_err(Fail::new),
            Ok(None) => Err(Fail::new(
                "the origin closed the connection without a response",
            )),
            Err(e) => Err(Fail::io("reading the response head", &e, timeout)),
        };
        match got {
            Ok((_, resp))
                if resp.first[1].starts_with('1')
                    && resp.first[1] != "101"
                    && interim < MAX_INTERIM =>
            {
                interim += 1;
            }
            other => break other,
        }
    };
    let (head, resp) = match got {
        Ok(hr) => hr,
        Err(f) => {
            ex.error = Some(f.msg.clone());
            shared.record(seq, ex);
            up.close();
            return Forwarded::Failed(f, browser);
        }
    };
    ex.status = resp.first[1].parse().unwrap_or(0);
    shared.add(head.len());
    ex.response_head = head;
    let framing = match framing(&ex.method, ex.status, &resp) {
        Ok(framing) => framing,
        Err(e) => {
            ex.error = Some(e.clone());
            shared.record(seq, ex);
            up.close();
            return Forwarded::Failed(Fail::new(e), browser);
        }
    };

    let mut sink = Sink {
        shared,
        browser,
        body: Vec::new(),
        max: shared.max_response,
    };
    let outcome = match &mut sink.browser {
        Some(b) => b
            .send(&ex.response_head)
            .map_err(|e| Stop::Browser(format!("the browser went away: {e}"))),
        None => Ok(()),
    }
    .and_then(|()| relay_body(&mut up, &mut sink, framing, timeout));
    let mut body = sink.body;
    body.shrink_to_fit();
    ex.response_body = body;
    up.close();
    let keep_alive = match outcome {
        Ok(()) => {
            framing != Framing::Close
                && resp.first[0] == "HTTP/1.1"
                && !resp.tokens("connection").iter().any(|t| t == "close")
                && ex.status != 101
        }
        Err(Stop::Limit(why) | Stop::Time(why) | Stop::Browser(why)) => {
            ex.truncated = Some(why);
            false
        }
        Err(Stop::Upstream(why)) => {
            ex.error = Some(why);
            false
        }
    };
    shared.record(seq, ex);
    Forwarded::Done { keep_alive }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Splits an absolute-form `http://authority/path` target.
fn parse_absolute(target: &str, allow_https: bool) -> Result<(Origin, String), String> {
    let bad = || {
        format!(
            "expected an absolute http:// URL, got {:?}",
            truncate(target, 80)
        )
    };
    let (scheme, rest) = target.split_once("://").ok_or_else(bad)?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" if allow_https => true,
        _ => return Err(bad()),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, path) = rest.split_at(end);
    if auth.contains('@') {
        return Err("user information in the URL".into());
    }
    let (host, port) = parse_authority(auth, Some(if https { 443 } else { 80 }))?;
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok((Origin { https, host, port }, path))
}

/// The request head as sent upstream: origin-form request line, hop-by-hop headers dropped,
/// `Host` from the URL for absolute-form requests, `Connection: close`.
fn upstream_head(req: &Head, method: &str, path: &str, host_port: &str, absolute: bool) -> Vec<u8> {
    let mut hop: Vec<String> = [
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "upgrade",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for t in req
        .tokens("connection")
        .into_iter()
        .chain(req.tokens("proxy-connection"))
    {
        if !matches!(t.as_str(), "host" | "content-length" | "transfer-encoding") {
            hop.push(t);
        }
    }
    let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    if absolute || !req.has("host") {
        out.extend_from_slice(format!("Host: {host_port}\r\n").as_bytes());
    }
    for h in &req.headers {
        if hop.contains(&h.name) || (absolute && h.name == "host") {
            continue;
        }
        out.extend_from_slice(&h.line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out
}

/// Reads the request body as the browser framed it (chunk framing kept).
fn read_request_body(
    shared: &Shared,
    browser: &mut Conn,
    req: &Head,
) -> Result<Vec<u8>, (u16, &'static str, String)> {
    let bad = |msg: String| (400, "Bad Request", msg);
    let length = req.content_length().map_err(bad)?;
    let framing = match (req.chunked(), length) {
        (Some(_), Some(_)) => return Err(bad("both Transfer-Encoding and Content-Length".into())),
        (Some(true), None) => Framing::Chunked,
        (Some(false), None) => return Err(bad("request Transfer-Encoding is not chunked".into())),
        (None, Some(n)) if n > shared.max_response => {
            return Err((
                413,
                "Content Too Large",
                format!("request body over {} bytes", shared.max_response),
            ))
        }
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::None,
    };
    let mut out = VecOut {
        body: Vec::new(),
        max: shared.max_response,
    };
    match relay_body(browser, &mut out, framing, shared.timeout) {
        Ok(()) => Ok(out.body),
        Err(Stop::Limit(msg)) => Err((413, "Content Too Large", msg)),
        Err(Stop::Time(msg) | Stop::Browser(msg) | Stop::Upstream(msg)) => Err(bad(msg)),
    }
}

// ---------------------------------------------------------------------------------------
// Bodies

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    Close,
}

/// How the response body ends (RFC 9112 section 6.3).
fn framing(method: &str, status: u16, resp: &Head) -> Result<Framing, String> {
    if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    match resp.chunked() {
        Some(true) => return Ok(Framing::Chunked),
        Some(false) => return Ok(Framing::Close),
        None => {}
    }
    Ok(match resp.content_length()? {
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

/// Where body bytes go as they are read.
trait Out {
    fn push(&mut self, data: &[u8]) -> Result<(), Stop>;
}

/// The request body, read whole from the browser.
struct VecOut {
    body: Vec<u8>,
    max: u64,
}

impl Out for VecOut {
    fn push(&mut self, data: &[u8]) -> Result<(), Stop> {
        if self.body.len() as u64 + data.len() as u64 > self.max {
            return Err(Stop::Limit(format!("request body over {} bytes", self.max)));
        }
        self.body.extend_from_slice(data);
        Ok(())
    }
}

/// A response body: recorded within the limits and passed on to the browser.
struct Sink<'a> {
    shared: &'a Shared,
    browser: Option<&'a mut Conn>,
    body: Vec<u8>,
    max: u64,
}

impl Out for Sink<'_> {
    fn push(&mut self, data: &[u8]) -> Result<(), Stop> {
        if data.is_empty() {
            return Ok(());
        }
        let room = self.max.saturating_sub(self.body.len() as u64);
        let want = room.min(data.len() as u64);
        let got = self.shared.reserve(want);
        // `got` <= data.len(), so this fits in usize.
        let n = usize::try_from(got).unwrap_or(0).min(data.len());
        if n > 0 {
            // Grow without ever holding more than the limit.
            let need = self.body.len() + n;
            if need > self.body.capacity() {
                let cap = usize::try_from(self.max).unwrap_or(usize::MAX);
                let target = need
                    .max(self.body.capacity().saturating_mul(2))
                    .min(cap)
                    .max(need);
                self.body.reserve_exact(target - self.body.len());
            }
            self.body.extend_from_slice(&data[..n]);
            if let Some(browser) = &mut self.browser {
                browser
                    .send(&data[..n])
                    .map_err(|e| Stop::Browser(format!("the browser went away: {e}")))?;
            }
        }
        if n < data.len() {
            if got < want {
                return Err(Stop::Limit(format!(
                    "total size limit: the capture reached {} bytes",
                    self.shared.max_total
                )));
            }
            return Err(Stop::Limit(format!(
                "size limit: response body over {} bytes",
                self.max
            )));
        }
        Ok(())
    }
}

/// Copies a body framed as `framing` from `from` to `out`, bytes as they come.
fn relay_body(
    from: &mut Conn,
    out: &mut dyn Out,
    framing: Framing,
    timeout: Duration,
) -> Result<(), Stop> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(n) => relay_exact(from, out, n, timeout),
        Framing::Close => loop {
            let buf = from.fill().map_err(|e| Stop::from_upstream(&e, timeout))?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf.len();
            out.push(buf)?;
            from.consume(n);
        },
        Framing::Chunked => loop {
            let line = relay_line(from, out, timeout)?;
            let size = chunk_size(&line)?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let line = relay_line(from, out, timeout)?;
                    if line.trim_ascii().is_empty() {
                        return Ok(());
                    }
                }
            }
            relay_exact(from, out, size, timeout)?;
            let end = relay_line(from, out, timeout)?;
            if !end.trim_ascii().is_empty() {
                return Err(Stop::Upstream(
                    "malformed chunked body: no line end after a chunk".into(),
                ));
            }
        },
    }
}

fn relay_exact(
    from: &mut Conn,
    out: &mut dyn Out,
    mut left: u64,
    timeout: Duration,
) -> Result<(), Stop> {
    while left > 0 {
        let buf = from.fill().map_err(|e| Stop::from_upstream(&e, timeout))?;
        if buf.is_empty() {
            return Err(Stop::Upstream(format!(
                "connection closed {left} bytes before the end of the body"
            )));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        out.push(&buf[..n])?;
        from.consume(n);
        left -= n as u64;
    }
    Ok(())
}

/// Copies one line (up to and including `\n`) and returns it.
fn relay_line(from: &mut Conn, out: &mut dyn Out, timeout: Duration) -> Result<Vec<u8>, Stop> {
    let mut line = Vec::new();
    loop {
        let buf = from.fill().map_err(|e| Stop::from_upstream(&e, timeout))?;
        if buf.is_empty() {
            return Err(Stop::Upstream(
                "connection closed inside a chunked body".into(),
            ));
        }
        let (n, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + n > MAX_CHUNK_LINE {
            return Err(Stop::Upstream(
                "malformed chunked body: line too long".into(),
            ));
        }
        line.extend_from_slice(&buf[..n]);
        out.push(&buf[..n])?;
        from.consume(n);
        if done {
            return Ok(line);
        }
    }
}

fn chunk_size(line: &[u8]) -> Result<u64, Stop> {
    let size = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let bad = || Stop::Upstream("malformed chunked body: bad chunk size".into());
    if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let s = std::str::from_utf8(size).map_err(|_| bad())?;
    u64::from_str_radix(s, 16).map_err(|_| bad())
}

// ---------------------------------------------------------------------------------------
// Connecting upstream

/// Opens the connection for one request (TLS included); returns it and the peer address.
fn connect(
    shared: &Shared,
    origin: &Origin,
    deadline: Instant,
) -> Result<(Stream, SocketAddr), Fail> {
    let (host, port) = (origin.host.as_str(), origin.port);
    let timeout = shared.timeout;
    let tcp = match &shared.via {
        Via::Direct => {
            let ips = shared.resolve_here(host, port, deadline)?;
            connect_any(shared, &ips, port, deadline)?
        }
        Via::Http { host: ph, port: pp } => {
            shared.note_host(host, port, &[]);
            let ips = lookup(shared, ph, deadline, false)?;
            let tcp = connect_any(shared, &ips, *pp, deadline)?;
            http_connect(&tcp, host, port, deadline, timeout)?;
            tcp
        }
        Via::Socks5 {
            host: ph,
            port: pp,
            remote_dns,
        } => {
            let proxy_ips = lookup(shared, ph, deadline, false)?;
            if *remote_dns {
                shared.note_host(host, port, &[]);
                let tcp = connect_any(shared, &proxy_ips, *pp, deadline)?;
                socks5_connect(&tcp, SocksTarget::Name(host), port, deadline, timeout)?;
                tcp
            } else {
                let ips = shared.resolve_here(host, port, deadline)?;
                let mut errors = Vec::new();
                let mut found = None;
                for ip in &ips {
                    let attempt = connect_any(shared, &proxy_ips, *pp, deadline).and_then(|tcp| {
                        socks5_connect(&tcp, SocksTarget::Ip(*ip), port, deadline, timeout)
                            .map(|()| tcp)
                    });
                    match attempt {
                        Ok(tcp) => {
                            found = Some(tcp);
                            break;
                        }
                        Err(f) if f.timeout => return Err(f),
                        Err(f) => errors.push(f.msg),
                    }
                }
                found.ok_or_else(|| Fail::new(errors.join("; ")))?
            }
        }
    };
    let remote = tcp
        .peer_addr()
        .map_err(|e| Fail::new(format!("connection lost: {e}")))?;
    let _ = tcp.set_nodelay(true);
    if !origin.https {
        return Ok((Stream::Tcp(tcp), remote));
    }
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Fail::new(format!("invalid TLS server name {host:?}: {e}")))?;
    let mut conn = ClientConnection::new(Arc::clone(&shared.client_tls), name)
        .map_err(|e| Fail::new(format!("TLS setup failed: {e}")))?;
    let mut tcp = tcp;
    while conn.is_handshaking() {
        arm(&tcp, deadline).map_err(|e| Fail::io("the TLS handshake", &e, timeout))?;
        if shared.stopping() {
            return Err(Fail::new("the capture ended"));
        }
        conn.complete_io(&mut tcp).map_err(|e| {
            Fail::io(
                &format!("the TLS handshake with {}", authority(host, port, 0)),
                &e,
                timeout,
            )
        })?;
    }
    let tls = TlsInfo {
        protocol: conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        chain_der: conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| c.to_vec())
            .collect(),
    };
    shared.note_tls(host, port, tls);
    Ok((
        Stream::Client(Box::new(StreamOwned::new(conn, tcp))),
        remote,
    ))
}

/// The addresses of `host` (itself for an IP literal), looked up once per proxy when
/// `cache` is set, with the system resolver, within the deadline.
fn lookup(
    shared: &Shared,
    host: &str,
    deadline: Instant,
    cache: bool,
) -> Result<Vec<IpAddr>, Fail> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if cache {
        if let Some(known) = lock(&shared.dns).get(host) {
            return known.clone().map_err(Fail::new);
        }
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_owned();
    thread::Builder::new()
        .name("athar-proxy-dns".into())
        .spawn(move || {
            let answer = (name.as_str(), 0u16).to_socket_addrs().map(|addrs| {
                let mut ips: Vec<IpAddr> = Vec::new();
                for a in addrs {
                    if !ips.contains(&a.ip()) {
                        ips.push(a.ip());
                    }
                }
                ips
            });
            let _ = tx.send(answer);
        })
        .map_err(|e| Fail::new(format!("cannot start a lookup: {e}")))?;
    let answer = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Fail {
                msg: format!("time limit: looking up {host} took too long"),
                timeout: true,
            });
        }
        if shared.stopping() {
            return Err(Fail::new("the capture ended"));
        }
        match rx.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(answer) => break answer,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Fail::new(format!("looking up {host} failed")))
            }
        }
    };
    let result = match answer {
        Ok(ips) if ips.is_empty() => Err(format!("no addresses for {host}")),
        Ok(ips) => Ok(ips),
        Err(e) => Err(format!("looking up {host} failed: {e}")),
    };
    if cache {
        lock(&shared.dns)
            .entry(host.to_owned())
            .or_insert_with(|| result.clone());
    }
    result.map_err(Fail::new)
}

/// Connects to the first address that answers.
fn connect_any(
    shared: &Shared,
    ips: &[IpAddr],
    port: u16,
    deadline: Instant,
) -> Result<TcpStream, Fail> {
    let mut errors = Vec::new();
    for ip in ips {
        if shared.stopping() {
            return Err(Fail::new("the capture ended"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Fail {
                msg: format!(
                    "time limit: connecting took too long ({})",
                    errors.join("; ")
                ),
                timeout: true,
            });
        }
        let addr = SocketAddr::new(*ip, port);
        match TcpStream::connect_timeout(&addr, left.min(CONNECT_TIMEOUT)) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    Err(Fail::new(format!("cannot connect: {}", errors.join("; "))))
}

/// Opens a tunnel through an HTTP proxy with CONNECT.
fn http_connect(
    tcp: &TcpStream,
    host: &str,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), Fail> {
    let target = authority(host, port, 0);
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    let io_fail = |e: io::Error| Fail::io("the upstream proxy's CONNECT", &e, timeout);
    arm(tcp, deadline).map_err(io_fail)?;
    let mut w = tcp;
    w.write_all(req.as_bytes()).map_err(io_fail)?;
    // Read the answer byte by byte: nothing after its blank line may be taken.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let mut r = tcp;
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        arm(tcp, deadline).map_err(io_fail)?;
        match r.read(&mut byte) {
            Ok(0) => {
                return Err(Fail::new(
                    "the upstream proxy closed the connection during CONNECT",
                ))
            }
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(io_fail(e)),
        }
        if head.len() > MAX_HEAD {
            return Err(Fail::new(
                "the upstream proxy's CONNECT answer is too large",
            ));
        }
    }
    let resp = parse_response(&head).map_err(|e| Fail::new(format!("upstream proxy: {e}")))?;
    if !resp.first[1].starts_with('2') {
        return Err(Fail::new(format!(
            "the upstream proxy refused CONNECT {target}: {} {}",
            resp.first[1],
            truncate(&resp.first[2], 80)
        )));
    }
    Ok(())
}

enum SocksTarget<'a> {
    Name(&'a str),
    Ip(IpAddr),
}

/// Opens a tunnel through a SOCKS5 proxy (RFC 1928, no authentication).
fn socks5_connect(
    tcp: &TcpStream,
    target: SocksTarget<'_>,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), Fail> {
    let io_fail = |e: io::Error| Fail::io("the SOCKS5 handshake", &e, timeout);
    let mut s = tcp;
    arm(tcp, deadline).map_err(io_fail)?;
    s.write_all(&[5, 1, 0]).map_err(io_fail)?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).map_err(io_fail)?;
    if choice != [5, 0] {
        return Err(Fail::new(
            "the SOCKS5 proxy wants authentication (or is not SOCKS5)",
        ));
    }
    let target = match target {
        SocksTarget::Name(name) => match name.parse::<IpAddr>() {
            Ok(ip) => SocksTarget::Ip(ip),
            Err(_) => SocksTarget::Name(name),
        },
        ip => ip,
    };
    let mut req = vec![5, 1, 0];
    match target {
        SocksTarget::Ip(IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        SocksTarget::Ip(IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        SocksTarget::Name(name) => {
            let len =
                u8::try_from(name.len()).map_err(|_| Fail::new("host name too long for SOCKS5"))?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(name.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    socks5_request(s, &req, deadline, timeout)
}

fn socks5_request(
    tcp: &TcpStream,
    req: &[u8],
    deadline: Instant,
    timeout: Duration,
) -> Result<(), Fail> {
    let io_fail = |e: io::Error| Fail::io("the SOCKS5 handshake", &e, timeout);
    let mut s = tcp;
    arm(tcp, deadline).map_err(io_fail)?;
    s.write_all(req).map_err(io_fail)?;
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).map_err(io_fail)?;
    if reply[0] != 5 {
        return Err(Fail::new("the SOCKS5 proxy answered in another protocol"));
    }
    if reply[1] != 0 {
        let why = match reply[1] {
            1 => "general failure",
            2 => "not allowed by its rules",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        };
        return Err(Fail::new(format!(
            "the SOCKS5 proxy could not connect: {why}"
        )));
    }
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).map_err(io_fail)?;
            usize::from(len[0]) + 2
        }
        _ => {
            return Err(Fail::new(
                "the SOCKS5 proxy answered with an unknown address type",
            ))
        }
    };
    let mut bound = vec![0u8; rest];
    s.read_exact(&mut bound).map_err(io_fail)?;
    Ok(())
}

/// Whether an address is not a public one: loopback, private, shared (CGNAT), link-local,
/// unspecified, broadcast, multicast, documentation, or IPv6 unique-local and link-local
/// (IPv4-mapped addresses judged as IPv4).
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
        }
    }
}

/// Whether the host of `url` is local (an address [`is_local`] calls local, or a name that
/// resolves to one): captures of such an address may reach local addresses, others may not.
pub fn is_local_host(url: &str) -> bool {
    let Some((host, port)) = crate::host_of(url) else {
        return false;
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return is_local(ip);
    }
    (host.as_str(), port)
        .to_socket_addrs()
        .map(|mut a| a.any(|a| is_local(a.ip())))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        let ok = |a: &str, d: Option<u16>| parse_authority(a, d).ok();
        assert_eq!(
            ok("Example.org:8080", None),
            Some(("example.org".into(), 8080))
        );
        assert_eq!(
            ok("example.org", Some(80)),
            Some(("example.org".into(), 80))
        );
        assert_eq!(ok("[::1]:443", None), Some(("::1".into(), 443)));
        assert_eq!(ok("127.0.0.1:0", None), None);
        assert_eq!(ok("exa mple:1", None), None);
        assert_eq!(ok("a/b:1", None), None);
        assert_eq!(ok("[zz]:1", None), None);
        assert_eq!(ok("host:99999", None), None);
        assert_eq!(authority("::1", 443, 443), "[::1]");
        assert_eq!(authority("a.b", 8443, 443), "a.b:8443");
    }

    #[test]
    fn upstream_urls() {
        assert_eq!(Via::parse(None).ok(), Some(Via::Direct));
        assert_eq!(
            Via::parse(Some("socks5h://127.0.0.1:9050")).ok(),
            Some(Via::Socks5 {
                host: "127.0.0.1".into(),
                port: 9050,
                remote_dns: true
            })
        );
        assert_eq!(
            Via::parse(Some("http://proxy:3128/")).ok(),
            Some(Via::Http {
                host: "proxy".into(),
                port: 3128
            })
        );
        assert!(Via::parse(Some("ftp://x:1")).is_err());
        assert!(Via::parse(Some("socks5://x")).is_err());
    }

    #[test]
    fn request_rewrite() {
        let head = b"GET http://Example.org/a?b HTTP/1.1\r\nHost: evil\r\nProxy-Connection: keep-alive\r\nConnection: x-hop\r\nX-Hop: 1\r\nAccept: */*\r\n\r\n";
        let req = parse_request(head).unwrap();
        let (origin, path) = parse_absolute(&req.first[1], false).unwrap();
        assert_eq!(
            (origin.host.as_str(), origin.port, path.as_str()),
            ("example.org", 80, "/a?b")
        );
        let out = upstream_head(&req, "GET", &path, "example.org", true);
        assert_eq!(
            out,
            b"GET /a?b HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                .to_vec()
        );
        assert!(parse_request(b"GET / HTTP/1.1\r\n folded\r\n\r\n").is_err());
        assert!(parse_request(b"GET  / HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request(b"GET / HTTP/2\r\n\r\n").is_err());
        assert!(parse_absolute("https://x/", false).is_err());
        assert_eq!(
            parse_absolute("HTTPS://x:8443/", true).unwrap().0.port,
            8443
        );
        assert_eq!(parse_absolute("http://x?q", false).unwrap().1, "/?q");
    }

    #[test]
    fn response_framing() {
        let f = |head: &[u8], method: &str| {
            let resp = parse_response(head).map_err(|_| ())?;
            let status = resp.first[1].parse().map_err(|_| ())?;
            framing(method, status, &resp).map_err(|_| ())
        };
        assert_eq!(
            f(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET"),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            f(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", "GET"),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            f(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                "GET"
            ),
            Err(())
        );
        assert_eq!(
            f(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET"),
            Err(())
        );
        assert_eq!(
            f(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
                "GET"
            ),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            f(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET"),
            Ok(Framing::Close)
        );
        assert_eq!(
            f(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD"),
            Ok(Framing::None)
        );
        assert_eq!(
            f(
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
                "GET"
            ),
            Ok(Framing::None)
        );
        assert_eq!(f(b"HTTP/1.0 200 OK\n\n", "GET"), Ok(Framing::Close));
        assert_eq!(f(b"HTCPCP/1.0 418 teapot\r\n\r\n", "GET"), Err(()));
        assert_eq!(chunk_size(b"1a;ext=1\r\n").ok(), Some(26));
        assert!(chunk_size(b"zz\r\n").is_err());
        assert!(chunk_size(b"11111111111111111\r\n").is_err());
    }
}
