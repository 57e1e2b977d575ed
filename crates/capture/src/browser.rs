//! Headless Chromium (Debian's package, never downloaded) driven over the DevTools protocol
//! on a WebSocket: a fresh profile per capture (or a named log-in profile given explicitly),
//! downloads denied, every request sent through the recording proxy, loopback included.
//!
//! The browser runs in its own process group and the whole group is killed when the
//! [`Browser`] is dropped, so no renderer outlives a capture, however it ended.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use crate::CaptureError;

/// How to start the browser.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    /// The Chromium program (default `chromium`, from `ATHAR_CHROMIUM` when set).
    pub program: PathBuf,
    /// The recording proxy every request goes through.
    pub proxy: SocketAddr,
    /// The proxy's certificate key hash (`--ignore-certificate-errors-spki-list`).
    pub proxy_spki: String,
    /// A log-in profile folder to use instead of a fresh one.
    pub profile: Option<PathBuf>,
    /// Viewport size in CSS pixels.
    pub width: u32,
    pub height: u32,
}

impl BrowserConfig {
    /// The Chromium program: `ATHAR_CHROMIUM`, else `chromium` on the PATH.
    pub fn default_program() -> PathBuf {
        std::env::var_os("ATHAR_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("chromium"))
    }
}

/// A running headless Chromium and its DevTools connection.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    /// Events read while waiting for a reply, oldest first.
    events: VecDeque<Value>,
    _fresh_profile: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

fn browser_err(what: impl std::fmt::Display) -> CaptureError {
    CaptureError::Browser(what.to_string())
}

impl Browser {
    /// Starts Chromium headless and connects to it; gives up after `timeout`.
    pub fn launch(cfg: &BrowserConfig, timeout: Duration) -> Result<Browser, CaptureError> {
        let fresh = match &cfg.profile {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("athar-chromium-")
                    .tempdir()?,
            ),
        };
        let profile: &Path = match (&cfg.profile, &fresh) {
            (Some(p), _) => p,
            (None, Some(t)) => t.path(),
            (None, None) => return Err(browser_err("no profile folder")),
        };
        // A stale port file from an earlier run of a named profile must not be read.
        let port_file = profile.join("DevToolsActivePort");
        let _ = std::fs::remove_file(&port_file);
        let mut cmd = Command::new(&cfg.program);
        cmd.arg("--headless=new")
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--proxy-server=http://{}", cfg.proxy))
            // Loopback too goes through the proxy (Chromium bypasses it by default).
            .arg("--proxy-bypass-list=<-loopback>")
            .arg(format!(
                "--ignore-certificate-errors-spki-list={}",
                cfg.proxy_spki
            ))
            .arg(format!("--window-size={},{}", cfg.width, cfg.height))
            .args([
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-breakpad",
                "--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider",
                "--metrics-recording-only",
                "--mute-audio",
                "--hide-scrollbars",
                "--password-store=basic",
                "--use-mock-keychain",
                "--autoplay-policy=user-gesture-required",
                "--disable-dev-shm-usage",
                "about:blank",
            ]);
        if rustix::process::geteuid().is_root() {
            // Chromium refuses to run its sandbox as root.
            cmd.arg("--no-sandbox");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = cmd.spawn().map_err(|e| {
            browser_err(format!(
                "cannot start {} ({e}); install Debian's chromium (scripts/ensure-deps.sh run)",
                cfg.program.display()
            ))
        })?;
        let mut guard = ChildGuard(Some(child));
        let deadline = Instant::now() + timeout;
        let (port, path) = loop {
            if let Ok(f) = std::fs::File::open(&port_file) {
                let mut lines = BufReader::new(f).lines();
                if let (Some(Ok(port)), Some(Ok(path))) = (lines.next(), lines.next()) {
                    if let Ok(port) = port.trim().parse::<u16>() {
                        break (port, path.trim().to_owned());
                    }
                }
            }
            if let Some(child) = guard.0.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(browser_err(format!("chromium exited at start ({status})")));
                }
            }
            if Instant::now() > deadline {
                return Err(browser_err("chromium did not start in time"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        let url = format!("ws://127.0.0.1:{port}{path}");
        let (ws, _) = tungstenite::client(url.as_str(), stream)
            .map_err(|e| browser_err(format!("DevTools connection: {e}")))?;
        let child = guard
            .0
            .take()
            .ok_or_else(|| browser_err("chromium process lost"))?;
        let mut browser = Browser {
            child,
            ws,
            next_id: 1,
            events: VecDeque::new(),
            _fresh_profile: fresh,
        };
        browser.call(
            None,
            "Browser.setDownloadBehavior",
            json!({"behavior": "deny"}),
            timeout,
        )?;
        Ok(browser)
    }

    /// Sends one command and waits up to `timeout` for its reply; events that arrive
    /// meanwhile are kept for [`Browser::wait_event`].
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, CaptureError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .map_err(|e| browser_err(format!("{method}: {e}")))?;
        let deadline = Instant::now() + timeout;
        loop {
            let Some(v) = self.read_until(deadline)? else {
                return Err(CaptureError::Timeout(format!("{method} got no answer")));
            };
            if v.get("id").and_then(Value::as_u64) == Some(id) {
                if let Some(err) = v.get("error") {
                    let text = err
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error");
                    return Err(browser_err(format!("{method}: {text}")));
                }
                return Ok(v.get("result").cloned().unwrap_or(Value::Null));
            }
            if v.get("method").is_some() {
                self.events.push_back(v);
            }
        }
    }

    /// Waits up to `deadline` for an event named `method` (of `session` when given),
    /// dropping others read meanwhile. None when the deadline passed first.
    pub fn wait_event(
        &mut self,
        session: Option<&str>,
        method: &str,
        deadline: Instant,
    ) -> Result<Option<Value>, CaptureError> {
        let matches = |v: &Value| {
            v.get("method").and_then(Value::as_str) == Some(method)
                && session.is_none_or(|s| v.get("sessionId").and_then(Value::as_str) == Some(s))
        };
        while let Some(v) = self.events.pop_front() {
            if matches(&v) {
                return Ok(Some(v));
            }
        }
        loop {
            let Some(v) = self.read_until(deadline)? else {
                return Ok(None);
            };
            if matches(&v) {
                return Ok(Some(v));
            }
        }
    }

    /// Reads one message before `deadline` (None when it passed).
    fn read_until(&mut self, deadline: Instant) -> Result<Option<Value>, CaptureError> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.ws.get_ref().set_read_timeout(Some(wait))?;
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                        return Ok(Some(v));
                    }
                }
                Ok(Message::Close(_)) => return Err(browser_err("chromium closed the connection")),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(browser_err(format!("DevTools connection: {e}"))),
            }
        }
    }

    /// Opens a new tab and attaches to it; returns its session id.
    pub fn new_page(&mut self, timeout: Duration) -> Result<String, CaptureError> {
        let target = self.call(
            None,
            "Target.createTarget",
            json!({"url": "about:blank"}),
            timeout,
        )?;
        let target_id = target
            .get("targetId")
            .and_then(Value::as_str)
            .ok_or_else(|| browser_err("no target id"))?
            .to_owned();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
            timeout,
        )?;
        let session = attached
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| browser_err("no session id"))?
            .to_owned();
        Ok(session)
    }

    /// Evaluates `expression` in the page and returns its value (by value).
    pub fn eval(
        &mut self,
        session: &str,
        expression: &str,
        timeout: Duration,
    ) -> Result<Value, CaptureError> {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true,
                   "timeout": timeout.as_millis() as u64}),
            timeout,
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex
                .pointer("/exception/description")
                .or_else(|| ex.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("exception");
            return Err(browser_err(format!("script: {text}")));
        }
        Ok(r.pointer("/result/value").cloned().unwrap_or(Value::Null))
    }

    /// Calls a method whose result carries base64 `data` and decodes it.
    pub fn call_data(
        &mut self,
        session: &str,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Vec<u8>, CaptureError> {
        let r = self.call(Some(session), method, params, timeout)?;
        let data = r
            .get("data")
            .and_then(Value::as_str)
            .ok_or_else(|| browser_err(format!("{method}: no data")))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| browser_err(format!("{method}: {e}")))
    }

    /// The browser's version string (e.g. `Chrome/131.0.6778.85`).
    pub fn version(&mut self, timeout: Duration) -> Result<String, CaptureError> {
        let v = self.call(None, "Browser.getVersion", json!({}), timeout)?;
        Ok(v.get("product")
            .and_then(Value::as_str)
            .unwrap_or("chromium")
            .to_owned())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        kill_group(&mut self.child);
    }
}

/// Kills a child's whole process group (renderers included) and reaps it.
fn kill_group(child: &mut Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::Kill);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills the browser if launching fails half-way.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            kill_group(&mut c);
        }
    }
}
