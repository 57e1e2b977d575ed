//! A real local TSA for tests: a throw-away CA and TSA certificate made with `openssl req` /
//! `openssl x509`, and a tiny HTTP server on 127.0.0.1 that answers each POST by running
//! `openssl ts -reply`. Also canned-response servers for malformed answers.

// Test-only helpers: a failed set-up step should stop the test loudly.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The TSA's CA.
    pub pki: Pki,
    /// An unrelated CA and TSA.
    pub other: Pki,
    /// `http://127.0.0.1:PORT`; paths `/` (TSA), `/chunked` (same, chunked encoding),
    /// `/reject` (accepts only SHA-512 imprints, so it rejects ours), `/other` (other CA).
    pub base: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Is `openssl` usable? When not: fail under CI=true, else print a notice and skip.
pub fn have_openssl() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    let have = *HAVE.get_or_init(|| {
        Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !have {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "openssl is required for these tests under CI (scripts/ensure-deps.sh installs it)"
            );
        }
        eprintln!("NOTICE: openssl not found; skipping test that needs a local TSA");
    }
    have
}

fn make_pki(dir: &Path, name: &str) -> Pki {
    let req_cnf = dir.join(format!("{name}-req.cnf"));
    std::fs::write(
        &req_cnf,
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n\
         [v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [v3_tsa]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = critical,timeStamping\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    let cnf = req_cnf.to_str().unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let (ca, ca_key) = (format!("{name}-ca.pem"), format!("{name}-ca.key"));
    let (cert, key, csr) = (
        format!("{name}-tsa.pem"),
        format!("{name}-tsa.key"),
        format!("{name}.csr"),
    );
    let ca_subj = format!("/O=Synthetic Test/CN=Athar Test CA {name}");
    let tsa_subj = format!("/O=Synthetic Test/CN=Athar Test TSA {name}");
    let mut a = vec!["req", "-x509", "-config", cnf, "-extensions", "v3_ca"];
    a.extend(ec);
    a.extend([
        "-keyout", &ca_key, "-out", &ca, "-subj", &ca_subj, "-days", "2",
    ]);
    openssl(dir, &a);
    let mut a = vec!["req", "-new", "-config", cnf];
    a.extend(ec);
    a.extend(["-keyout", &key, "-out", &csr, "-subj", &tsa_subj]);
    openssl(dir, &a);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            cnf,
            "-extensions",
            "v3_tsa",
            "-out",
            &cert,
        ],
    );
    Pki {
        ca: dir.join(ca),
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

fn tsa_section(name: &str, dir: &Path, pki: &Pki, digests: &str) -> String {
    format!(
        "[ {name} ]\nserial = {serial}\ncrypto_device = builtin\nsigner_cert = {cert}\n\
         certs = {ca}\nsigner_key = {key}\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
         other_policies = 1.2.3.4.5\ndigests = {digests}\n\
         accuracy = secs:1, millisecs:500, microsecs:100\nclock_precision_digits = 0\n\
         ordering = yes\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n\n",
        serial = dir.join("serial").display(),
        cert = pki.cert.display(),
        ca = pki.ca.display(),
        key = pki.key.display(),
    )
}

/// The shared fixture, or None (after a notice) when openssl is missing.
pub fn fixture() -> Option<&'static Fixture> {
    if !have_openssl() {
        return None;
    }
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    Some(FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pki = make_pki(d, "main");
        let other = make_pki(d, "other");
        std::fs::write(d.join("serial"), "01\n").unwrap();
        let config = d.join("tsa.cnf");
        let mut cnf = String::from("[ tsa ]\ndefault_tsa = tsa_ok\n\n");
        cnf += &tsa_section("tsa_ok", d, &pki, "sha256, sha384, sha512");
        cnf += &tsa_section("tsa_reject", d, &pki, "sha512");
        cnf += &tsa_section("tsa_other", d, &other, "sha256");
        std::fs::write(&config, cnf).unwrap();
        let base = serve_tsa(d.to_owned(), config.clone());
        Fixture {
            dir,
            config,
            pki,
            other,
            base,
        }
    }))
}

impl Fixture {
    /// `openssl ts -reply -token_in -token_out -text`: openssl's reading of a token.
    pub fn token_text(&self, der: &[u8]) -> String {
        let path = self
            .dir
            .path()
            .join(format!("text-{}.tst", std::process::id()));
        std::fs::write(&path, der).unwrap();
        let out = Command::new("openssl")
            .args(["ts", "-reply", "-token_in", "-token_out", "-text", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs `openssl ts -reply` on a request and returns the TimeStampResp DER.
    pub fn reply(&self, section: &str, request: &[u8]) -> Vec<u8> {
        reply(self.dir.path(), &self.config, section, request)
    }
}

static OPENSSL_LOCK: Mutex<u32> = Mutex::new(0);

fn reply(dir: &Path, config: &Path, section: &str, request: &[u8]) -> Vec<u8> {
    // One at a time: openssl ts -reply updates the serial file.
    let mut n = OPENSSL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    *n += 1;
    let q = dir.join(format!("req{n}.tsq"));
    let r = dir.join(format!("resp{n}.tsr"));
    std::fs::write(&q, request).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-reply", "-config"])
        .arg(config)
        .args(["-section", section, "-queryfile"])
        .arg(&q)
        .arg("-out")
        .arg(&r)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl ts -reply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&r).unwrap()
}

/// Reads one HTTP request; returns (path, body).
pub fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((path, buf[head_end..head_end + len].to_vec()))
}

fn serve_tsa(dir: PathBuf, config: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (dir, config) = (dir.clone(), config.clone());
            std::thread::spawn(move || {
                let Some((path, body)) = read_request(&mut stream) else {
                    return;
                };
                let (section, chunked) = match path.as_str() {
                    "/chunked" => ("tsa_ok", true),
                    "/reject" => ("tsa_reject", false),
                    "/other" => ("tsa_other", false),
                    _ => ("tsa_ok", false),
                };
                let resp = reply(&dir, &config, section, &body);
                let mut out = Vec::new();
                if chunked {
                    out.extend_from_slice(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n\
                          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                    );
                    for part in resp.chunks(100) {
                        out.extend_from_slice(format!("{:x};ext=1\r\n", part.len()).as_bytes());
                        out.extend_from_slice(part);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                } else {
                    out.extend_from_slice(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n\
                             Content-Length: {}\r\n\r\n",
                            resp.len()
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&resp);
                }
                let _ = stream.write_all(&out);
                // Keep-alive style: do not close first, let the client stop at Content-Length.
                std::thread::sleep(Duration::from_millis(50));
            });
        }
    });
    format!("http://{addr}")
}

/// Serves `response` (raw bytes, HTTP head included) to every connection, after reading the
/// request; returns the URL.
pub fn canned(response: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = read_request(&mut stream);
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{addr}/tsa")
}

/// An HTTP 200 response with a Content-Length body.
pub fn http_ok(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Accepts connections and never answers.
pub fn silent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    format!("http://{addr}/")
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
