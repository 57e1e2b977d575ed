//! A throw-away single-node Garage (an S3-compatible object store) on loopback, for tests
//! (feature `test-server`): [`Garage::start`] makes a folder, a configuration with free
//! ports and a random RPC secret, starts `garage server`, lays out the one node, imports a
//! key and makes a bucket it may use; dropping it kills the server and removes the folder.
//!
//! The binary is `$ATHAR_GARAGE`, else `~/.cache/athar/garage/bin/garage` (where
//! `scripts/ensure-deps.sh test` installs it with cargo), else `garage` on the `PATH`.
//! Without one, [`Garage::start`] fails saying so: tests never pass without their server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{random_hex, S3LogStore, S3Options};

/// The bucket every test server holds.
pub const BUCKET: &str = "athar-test";
/// The region Garage is configured with.
pub const REGION: &str = "garage";

/// How long the server may take to answer after starting.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// A running single-node Garage.
pub struct Garage {
    binary: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    s3_port: u16,
    key_id: String,
    secret: String,
}

impl std::fmt::Debug for Garage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Garage")
            .field("endpoint", &self.endpoint())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// Where the Garage binary is; an error naming how to install it when it is nowhere.
pub fn binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ATHAR_GARAGE") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("ATHAR_GARAGE={} is not a file", p.display()))
        };
    }
    let cached = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/athar/garage/bin/garage"))
        .filter(|p| p.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("garage"))
                .find(|p| p.is_file())
        })
    };
    cached.or_else(on_path).ok_or_else(|| {
        "the Garage server binary is missing: run `scripts/ensure-deps.sh test` (it installs \
         Garage with cargo into ~/.cache/athar/garage), or set ATHAR_GARAGE to a garage binary"
            .to_owned()
    })
}

/// Ports free on loopback now (bound at once, so distinct).
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("no free port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("no free port: {e}"))
}

impl Garage {
    /// Starts a fresh server and makes its key and bucket.
    pub fn start() -> Result<Garage, String> {
        let binary = binary()?;
        let dir = tempfile::Builder::new()
            .prefix("athar-garage-")
            .tempdir()
            .map_err(|e| format!("temporary folder: {e}"))?;
        let ports = free_ports(2)?;
        let (s3_port, rpc_port) = (ports[0], ports[1]);
        let rpc_secret = random_hex(32).map_err(|e| e.to_string())?;
        let config = format!(
            r#"metadata_dir = "{root}/meta"
data_dir = "{root}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
"#,
            root = dir.path().display(),
        );
        std::fs::write(dir.path().join("garage.toml"), config)
            .map_err(|e| format!("garage.toml: {e}"))?;
        let key_id = format!("GK{}", random_hex(12).map_err(|e| e.to_string())?);
        let secret = random_hex(32).map_err(|e| e.to_string())?;
        let mut g = Garage {
            binary,
            dir,
            child: None,
            s3_port,
            key_id,
            secret,
        };
        g.spawn()?;
        let node = g.cli(&["node", "id", "-q"])?;
        let node = node.trim().split('@').next().unwrap_or_default().to_owned();
        g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node])?;
        g.cli(&["layout", "apply", "--version", "1"])?;
        let (key_id, secret) = (g.key_id.clone(), g.secret.clone());
        g.cli(&[
            "key",
            "import",
            "--yes",
            "-n",
            "athar-test",
            &key_id,
            &secret,
        ])?;
        g.cli(&["bucket", "create", BUCKET])?;
        g.cli(&[
            "bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", &key_id,
        ])?;
        g.wait_for_s3()?;
        Ok(g)
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("garage.toml")
    }

    /// Starts `garage server` and waits until it answers its own CLI.
    fn spawn(&mut self) -> Result<(), String> {
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .map_err(|e| format!("{name}: {e}"))
        };
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.config())
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log("garage.log")?)
            .stderr(log("garage.log")?)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "garage server exited ({status}): {}",
                    self.log_tail()
                ));
            }
            if self.cli(&["status"]).is_ok() {
                return Ok(());
            }
            if started.elapsed() > BOOT_TIMEOUT {
                return Err(format!(
                    "garage server did not answer in {BOOT_TIMEOUT:?}: {}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the S3 API serves the bucket.
    fn wait_for_s3(&self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            match S3LogStore::present_with(&self.url("ready"), &self.options()) {
                Ok(_) => return Ok(()),
                Err(e) if started.elapsed() > BOOT_TIMEOUT => {
                    return Err(format!("garage's S3 API does not answer: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Runs the garage CLI against this server; its standard output.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.binary)
            .arg("-c")
            .arg(self.config())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running garage: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            // Only the command's first words: `key import` carries the secret.
            Err(format!(
                "garage {} failed ({}): {}",
                args.iter().take(2).copied().collect::<Vec<_>>().join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// How to reach this server.
    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint: Some(self.endpoint()),
            region: Some(REGION.to_owned()),
            access_key_id: Some(self.key_id.clone()),
            secret_access_key: Some(self.secret.clone()),
            allow_http: true,
        }
    }

    /// `s3://<bucket>/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The environment a process needs to reach this server through
    /// [`crate::S3BlobStore::open`] (for end-to-end tests running the binary).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// The server's folder (its data, and `garage.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (SIGKILL), as a crash would; [`Garage::restart`] brings it back
    /// with its data.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same folder and ports.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.spawn()?;
        self.wait_for_s3()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.kill();
    }
}
