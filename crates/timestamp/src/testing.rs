//! A real, local time-stamping authority for tests: `openssl ts -reply` behind a tiny HTTP
//! server on 127.0.0.1, with a throw-away CA. Enabled by the `testing` feature.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the local authority answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Real tokens from `openssl ts -reply`.
    Grant = 0,
    /// A `TimeStampResp` with status rejection (2).
    Reject = 1,
    /// Bytes that are not DER.
    Garbage = 2,
}

/// A running local TSA; stops when dropped.
#[derive(Debug)]
pub struct LocalTsa {
    dir: tempfile::TempDir,
    url: String,
    stop: Arc<AtomicBool>,
    mode: Arc<AtomicU8>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl LocalTsa {
    /// Starts one, or returns None (with a notice) when `openssl` cannot make it; under
    /// `CI=true` that is a panic.
    pub fn start() -> Option<LocalTsa> {
        let dir = tempfile::tempdir().ok()?;
        let d = dir.path();
        let ok = std::fs::write(
            d.join("ext.cnf"),
            "extendedKeyUsage=critical,timeStamping\nbasicConstraints=CA:FALSE\n",
        )
        .is_ok()
            && std::fs::write(d.join("serial"), "01\n").is_ok()
            && std::fs::write(d.join("tsa.cnf"), TSA_CONFIG).is_ok()
            && openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-subj",
                    "/CN=Athar Test CA",
                    "-days",
                    "2",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign",
                ],
            )
            && openssl(
                d,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    "tsa.key",
                    "-out",
                    "tsa.csr",
                    "-subj",
                    "/CN=Athar Test TSA",
                ],
            )
            && openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    "tsa.csr",
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    "tsa.crt",
                    "-days",
                    "2",
                    "-extfile",
                    "ext.cnf",
                ],
            );
        if !ok {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("could not set up a local time-stamping authority with openssl");
            }
            eprintln!("notice: openssl could not set up a local TSA; skipping");
            return None;
        }
        let listener = TcpListener::bind("127.0.0.1:0").ok()?;
        listener.set_nonblocking(true).ok()?;
        let url = format!("http://{}/tsa", listener.local_addr().ok()?);
        let stop = Arc::new(AtomicBool::new(false));
        let mode = Arc::new(AtomicU8::new(Mode::Grant as u8));
        let (s, m, root) = (stop.clone(), mode.clone(), d.to_path_buf());
        let thread = std::thread::spawn(move || {
            let mut served = 0u32;
            while !s.load(Ordering::Relaxed) && served < 10_000 {
                match listener.accept() {
                    Ok((conn, _)) => {
                        served += 1;
                        let _ = serve(conn, &root, m.load(Ordering::Relaxed));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Some(LocalTsa {
            dir,
            url,
            stop,
            mode,
            thread: Some(thread),
        })
    }

    /// The URL to post requests to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate that signed the TSA's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Changes how it answers.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::Relaxed);
    }
}

impl Drop for LocalTsa {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut conn: TcpStream, root: &Path, mode: u8) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            break (i + 4, len);
        }
        if buf.len() > 1 << 16 {
            return Ok(());
        }
    };
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Vec<u8> = match mode {
        1 => vec![0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02],
        2 => b"this is not a time-stamp reply".to_vec(),
        _ => {
            let req = root.join("req.tsq");
            let resp = root.join("resp.tsr");
            std::fs::write(&req, &buf[head_end..])?;
            let _ = std::fs::remove_file(&resp);
            let ok = openssl(
                root,
                &[
                    "ts",
                    "-reply",
                    "-config",
                    "tsa.cnf",
                    "-queryfile",
                    "req.tsq",
                    "-out",
                    "resp.tsr",
                ],
            );
            if ok {
                std::fs::read(&resp)?
            } else {
                Vec::new()
            }
        }
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(&body)
}

const TSA_CONFIG: &str = "[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = .
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
";
