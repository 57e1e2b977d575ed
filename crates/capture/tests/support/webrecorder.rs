//! The Webrecorder tools the WACZ tests check against, from the venv
//! `scripts/ensure-deps.sh test` fills (`$ATHAR_TOOLS`, default
//! `~/.local/share/athar/tools`): a test that needs one fails when it is missing.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;

pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATHAR_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".local/share/athar/tools")
}

pub fn tool(name: &str) -> PathBuf {
    let path = tools_dir().join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/ensure-deps.sh test` (it installs wacz==0.6.0 and \
         pywb==2.10.0 into $ATHAR_TOOLS, default ~/.local/share/athar/tools)",
        path.display()
    );
    path
}

pub fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// pywb serving one WACZ on a loopback port, stopped when dropped.
pub struct Pywb {
    root: PathBuf,
    port: u16,
    _server: Server,
}

impl Pywb {
    /// `wb-manager init` + `add --unpack-wacz` in `work/pywb`, then `wayback` on a free port.
    pub fn start(wacz: &Path, work: &Path) -> Pywb {
        let root = work.join("pywb");
        std::fs::create_dir(&root).expect("mkdir");
        let manager = tool("wb-manager");
        let (ok, output) = run(Command::new(&manager)
            .current_dir(&root)
            .args(["init", "coll"]));
        assert!(ok, "wb-manager init:\n{output}");
        let (ok, output) = run(Command::new(&manager)
            .current_dir(&root)
            .args(["add", "--unpack-wacz", "coll"])
            .arg(wacz));
        assert!(ok, "wb-manager add:\n{output}");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let log = std::fs::File::create(work.join("wayback.log")).expect("log");
        let server = Server(
            Command::new(tool("wayback"))
                .current_dir(&root)
                .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-t", "2"])
                .stdout(Stdio::from(log.try_clone().expect("log")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("wayback starts"),
        );
        let pywb = Pywb {
            root,
            port,
            _server: server,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(work.join("wayback.log")).unwrap_or_default();
                panic!("wayback did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        pywb
    }

    /// The collection's index as pywb took it.
    pub fn index(&self) -> String {
        std::fs::read_to_string(self.root.join("collections/coll/indexes/index.cdxj"))
            .expect("pywb took our index")
    }

    /// The original bytes pywb replays for `url` at `timestamp` (`id_` mode).
    pub fn get(&self, timestamp: &str, url: &str) -> (u16, Vec<u8>) {
        let path = format!("/coll/{timestamp}id_/{url}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match http_get(self.port, &path) {
                Ok(answer) => return answer,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(e) => panic!("wayback did not answer {path}: {e}"),
            }
        }
    }
}

/// Stops the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET over HTTP/1.0: the status and the body, de-chunked and gunzipped if so encoded.
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: identity\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut body = response[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let has = |name: &str, value: &str| {
        headers
            .iter()
            .any(|(k, v)| k == name && v.to_ascii_lowercase().contains(value))
    };
    if has("transfer-encoding", "chunked") {
        let mut plain = Vec::new();
        let mut rest = body.as_slice();
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16)
                .unwrap_or(0);
            rest = &rest[end + 2..];
            if size == 0 || size > rest.len() {
                break;
            }
            plain.extend_from_slice(&rest[..size]);
            rest = &rest[(size + 2).min(rest.len())..];
        }
        body = plain;
    }
    if has("content-encoding", "gzip") {
        let mut plain = Vec::new();
        GzDecoder::new(body.as_slice()).read_to_end(&mut plain)?;
        body = plain;
    }
    Ok((status, body))
}
