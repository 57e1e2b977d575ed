//! Serves the capture tests' fixture web site outside the tests, for benchmarks and trials:
//! `fixture_site DIR [VIDEOS] [--ca FILE]` makes (or reuses) the media of VIDEOS video pages
//! (default 50) in DIR, writes the test CA's certificate (PEM) to FILE when asked, prints
//!
//! ```text
//! http http://127.0.0.1:PORT
//! https https://localhost:PORT
//! videos N
//! ready
//! ```
//!
//! on stdout, and serves until it is killed. The pages are `/video/0` … `/video/{N-1}`
//! (see `athar_capture::fixture`).
//!
//! ```sh
//! cargo run --release -p athar-capture --features fixture --example fixture_site -- \
//!     /tmp/site 50 --ca /tmp/site/ca.pem
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use athar_capture::fixture::FixtureSite;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let usage = "usage: fixture_site DIR [VIDEOS] [--ca FILE]";
    let mut dir: Option<PathBuf> = None;
    let mut videos: Option<usize> = None;
    let mut ca: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--ca" {
            ca = Some(args.next().ok_or(usage)?.into());
        } else if arg == "-h" || arg == "--help" {
            println!("{usage}");
            return Ok(());
        } else if dir.is_none() {
            dir = Some(arg.into());
        } else if videos.is_none() {
            let n = arg
                .to_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("VIDEOS must be a number; {usage}"))?;
            videos = Some(n);
        } else {
            return Err(usage.into());
        }
    }
    let dir = dir.ok_or(usage)?;
    let videos = videos.unwrap_or(50);
    let site = FixtureSite::start(&dir, videos)
        .map_err(|e| format!("starting the site in {}: {e}", dir.display()))?;
    if let Some(path) = &ca {
        std::fs::write(path, site.ca_pem())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "http {}\nhttps {}\nvideos {videos}\nready",
        site.http_base(),
        site.https_base()
    )
    .and_then(|()| out.flush())
    .map_err(|e| format!("stdout: {e}"))?;
    drop(out);
    // Serves on its own threads until the process is killed.
    loop {
        std::thread::park();
    }
}
