//! Helpers shared by the end-to-end tests: they run the built `athar` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest;

pub mod footage;

/// Runs `athar --archive DIR/archive ARGS` with `stdin` as its input; panics with its
/// stderr unless it succeeds.
#[allow(clippy::unwrap_used)]
pub fn athar_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut c = Command::new(athar_bin())
        .arg("--archive")
        .arg(dir.join("archive"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "athar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `athar` binary under test.
pub fn athar_bin() -> &'static str {
    env!("CARGO_BIN_EXE_athar")
}

/// The shared conformance data, or None (with a notice) when absent. Under `CI=true`
/// absence is a failure.
pub fn testdata() -> Option<PathBuf> {
    let dir = match std::env::var_os("ATHAR_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "test data not found at {} (set ATHAR_TESTDATA); required under CI",
            dir.display()
        );
    }
    eprintln!(
        "notice: test data not found at {}; skipping (set ATHAR_TESTDATA)",
        dir.display()
    );
    None
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// A scratch folder with an initialised archive in it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub archive: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::with_init(&[])
    }

    /// A new archive made by `athar init` with `args` besides the collector.
    pub fn with_init(args: &[&str]) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("archive");
        let env = Env { dir, archive };
        let out = env.run(&[&["init", "--collector", "Test Investigator"], args].concat());
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        env
    }

    /// A path inside the scratch folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A command for this archive.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(athar_bin());
        c.arg("--archive").arg(&self.archive);
        c.env_remove("ATHAR_ARCHIVE");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run athar")
    }

    pub fn run_paths(&self, args: &[&str], paths: &[&Path]) -> Output {
        self.cmd()
            .args(args)
            .args(paths)
            .output()
            .expect("run athar")
    }

    /// `athar ingest --json --wait PATHS…`, which must succeed; the items' ids in order.
    #[allow(dead_code)]
    pub fn ingest_ids(&self, paths: &[&Path]) -> Vec<String> {
        let out = self.run_paths(&["ingest", "--json", "--wait"], paths);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out.stdout)
            .iter()
            .map(|l| l["item"].as_str().expect("an item id").to_owned())
            .collect()
    }

    /// `athar verify --json`, parsed.
    pub fn verify(&self) -> (i32, serde_json::Value) {
        let out = self.run(&["verify", "--json"]);
        let code = out.status.code().unwrap_or(-1);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify --json gave no JSON ({e}): stdout {:?} stderr {:?}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, v)
    }

    /// Asserts the archive verifies.
    pub fn assert_verifies(&self) {
        let (code, v) = self.verify();
        assert_eq!(code, 0, "verify failed: {v}");
        assert_eq!(v["ok"], true, "{v}");
    }

    /// `athar cat ITEM` bytes.
    pub fn cat(&self, item: &str) -> Output {
        self.run(&["cat", item])
    }

    /// `athar jobs --json`, which must succeed.
    #[allow(clippy::unwrap_used)]
    pub fn jobs_json(&self) -> serde_json::Value {
        let out = self.run(&["jobs", "--json"]);
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `athar jobs --run`, which must succeed; its stderr (the summary line).
    pub fn run_jobs(&self) -> String {
        let out = self.run(&["jobs", "--run"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        err
    }
}

/// The item id on the first line of `ingest --json` output.
#[allow(dead_code)]
pub fn first_item(stdout: &[u8]) -> String {
    json_lines(stdout)[0]["item"]
        .as_str()
        .expect("an item id")
        .to_owned()
}

/// Parses `ingest --json` output: one object per complete line.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(stdout);
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes `count` files of pseudo-random content and sizes up to `max` under `dir`
/// (in a few sub-folders). Returns their paths.
pub fn make_files(dir: &Path, count: usize, max: u64, seed: u64) -> Vec<PathBuf> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::new();
    for i in 0..count {
        let sub = dir.join(format!("set-{}", i % 7));
        std::fs::create_dir_all(&sub).expect("mkdir");
        let size = rng.below(max + 1) as usize;
        let mut buf = vec![0u8; size];
        rng.fill(&mut buf);
        let p = sub.join(format!("clip-{i:04}.bin"));
        std::fs::write(&p, &buf).expect("write");
        out.push(p);
    }
    out
}

/// Runs SQL on the archive's catalog as a tamperer would: a plain SQLite shell, which does
/// not enforce foreign keys.
pub fn tamper_sql(env: &Env, statement: &str) {
    let conn =
        rusqlite::Connection::open(env.archive.join("catalog.sqlite")).expect("open catalog");
    conn.execute_batch(&format!("PRAGMA foreign_keys = OFF; {statement}"))
        .expect("tamper");
}

/// Regular files anywhere under `dir`.
pub fn files_under(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            n += files_under(&p);
        } else {
            n += 1;
        }
    }
    n
}

/// Makes a 3-second synthetic clip with FFmpeg: `source` is a lavfi graph, `vf` a filter
/// applied to it. None (with a notice) when FFmpeg is missing; under `CI=true` that fails.
pub fn clip(env: &Env, name: &str, source: &str, vf: &str) -> Option<std::path::PathBuf> {
    clip_at(env.path(name), source, "3", vf)
}

/// [`clip`] at `path`, `seconds` long.
pub fn clip_at(
    path: std::path::PathBuf,
    source: &str,
    seconds: &str,
    vf: &str,
) -> Option<std::path::PathBuf> {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
        ])
        .args([
            "-t",
            seconds,
            "-vf",
            vf,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&path)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(path),
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ffmpeg required under CI=true: {other:?}"
            );
            eprintln!("notice: ffmpeg cannot make test clips; skipping");
            None
        }
    }
}

/// Lets the archive's server sign admins in without a second factor (`[server]
/// second_factor = []` in `athar.toml`), for tests that are not about it; by default
/// admins must set one up first. `tests/second_factor.rs` tests the default.
pub fn without_second_factor(archive: &Path) {
    append_config(archive, "\n[server]\nsecond_factor = []\n");
}

/// Appends `text` to the archive's `athar.toml`.
pub fn append_config(archive: &Path, text: &str) {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(archive.join("athar.toml"))
        .expect("open athar.toml")
        .write_all(text.as_bytes())
        .expect("write athar.toml");
}

impl Env {
    /// Makes the case records `(case, title)` through `athar records import`.
    pub fn add_cases(&self, cases: &[(&str, &str)]) {
        let file = self.path("cases.jsonl");
        let lines: Vec<String> = cases
            .iter()
            .map(|(case, title)| {
                serde_json::json!({"kind": "case", "case": case, "title": title}).to_string()
            })
            .collect();
        std::fs::write(&file, lines.join("\n")).expect("write cases");
        ok(
            self,
            &["records", "import", file.to_str().expect("utf-8 path")],
        );
    }
}

/// `athar serve` on a free loopback port (see [`Env::serve`]); killed when dropped.
pub struct Served {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Env {
    /// `athar user add NAME --role ROLE --password-stdin [--case C]`, which must succeed.
    pub fn add_user(&self, name: &str, role: &str, case: Option<&str>, password: &str) {
        let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
        if let Some(c) = case {
            args.extend(["--case", c]);
        }
        self.run_stdin(&args, &format!("{password}\n"));
    }

    /// Runs `athar ARGS` with `stdin` as input; it must succeed.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        athar_in(self.dir.path(), args, Some(stdin))
    }

    /// Starts `athar serve` on 127.0.0.1 (a free port) and waits until it listens.
    pub fn serve(&self) -> Served {
        Served::start(&self.archive)
    }
}

impl Served {
    /// Starts `athar serve` over `archive` on 127.0.0.1 (a free port) and waits until it
    /// listens.
    pub fn start(archive: &Path) -> Served {
        use std::io::BufRead as _;
        let mut child = Command::new(athar_bin())
            .arg("--archive")
            .arg(archive)
            .env_remove("ATHAR_ARCHIVE")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start athar serve");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("read the address");
        let base = line
            .trim()
            .strip_prefix("Listening on ")
            .unwrap_or_else(|| panic!("athar serve said {line:?}"))
            .to_owned();
        Served { child, base }
    }
}

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body's bytes.
    pub bytes: Vec<u8>,
}

impl Answer {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` header setting cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// One HTTP request (redirects not followed; error statuses are answers too). `body`, when
/// given, is sent as JSON.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    let agent = AGENT.get_or_init(|| ureq::AgentBuilder::new().redirects(0).build());
    let mut req = agent.request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match body {
        Some(b) => req.set("content-type", "application/json").send_string(b),
        None => req.call(),
    };
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let mut headers = Vec::new();
    for name in resp.headers_names() {
        for v in resp.all(&name) {
            headers.push((name.clone(), v.to_owned()));
        }
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes)
        .unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// Logs `user` in at `base`: the session's cookie header (session and CSRF cookies) and its
/// CSRF token, for [`http`] calls that change things.
pub fn session(base: &str, user: &str, password: &str) -> (String, String) {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    let a = http("POST", &format!("{base}/api/login"), &[], Some(&body));
    assert_eq!(a.status, 200, "log-in {user}: {}", a.body);
    let pair = |name: &str| {
        a.set_cookie(name)
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", a.headers))
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let cookies = format!("{}; {}", pair("athar_session"), pair("athar_csrf"));
    let csrf = a.json()["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (cookies, csrf)
}

/// `athar ARGS` on `env`, which must succeed; its standard output.
#[allow(clippy::unwrap_used)]
pub fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(
        out.status.success(),
        "athar {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `athar search --json ARGS` on `env`, parsed.
#[allow(clippy::unwrap_used)]
pub fn search(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["search", "--json"];
    a.extend_from_slice(args);
    serde_json::from_str(ok(env, &a).trim()).unwrap()
}

/// A schema of the PostgreSQL test database (`ATHAR_TEST_POSTGRES`, default
/// `postgres://postgres@127.0.0.1:5432/test`), dropped with everything in it when this is.
/// Fails the test, saying what to do, when no PostgreSQL answers.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    pub fn new(tag: &str) -> PgSchema {
        let url = std::env::var("ATHAR_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut rnd = [0u8; 4];
        getrandom::getrandom(&mut rnd).expect("randomness");
        let name = format!(
            "athar_cli_{tag}_{}_{}",
            std::process::id(),
            hex::encode(rnd)
        );
        postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at ATHAR_TEST_POSTGRES ({url}) is not usable: {e}; \
                 scripts/ensure-deps.sh test installs and starts one on 127.0.0.1:5432"
            )
        });
        PgSchema { url, name }
    }

    /// The catalog location naming this schema.
    pub fn location(&self) -> String {
        format!("{}?schema={}", self.url, self.name)
    }

    /// A connection to the test database.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to PostgreSQL")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
