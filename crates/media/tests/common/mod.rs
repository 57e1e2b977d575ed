//! Shared helpers for the conformance tests.

use std::path::PathBuf;

#[allow(dead_code)]
/// The shared conformance data directory, or `None` (after printing a
/// notice) when it is absent. Under `CI=true` absence is a failure.
pub fn testdata() -> Option<PathBuf> {
    let dir = match std::env::var_os("ATHAR_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "conformance data not found at {} (set ATHAR_TESTDATA)",
            dir.display()
        );
    }
    eprintln!(
        "NOTICE: conformance data not found at {}; skipping (set ATHAR_TESTDATA)",
        dir.display()
    );
    None
}

#[allow(dead_code)]
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether ffmpeg and ffprobe run (a notice when not; a failure under CI=true).
#[allow(dead_code)]
pub fn have_ffmpeg() -> bool {
    let ok = |t: &str| {
        std::process::Command::new(t)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let found = ok("ffmpeg") && ok("ffprobe");
    if !found {
        assert!(
            !ci(),
            "ffmpeg/ffprobe not installed (required under CI=true)"
        );
        eprintln!("NOTICE: ffmpeg/ffprobe not installed; skipping");
    }
    found
}

/// Runs `ffmpeg -y -loglevel error ARGS…` and asserts it succeeded.
#[allow(dead_code)]
pub fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-y", "-loglevel", "error"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A synthetic test-pattern clip (`testsrc`, H.264 in MP4) of `seconds` at `size`.
#[allow(dead_code)]
pub fn testsrc_clip(path: &std::path::Path, size: &str, seconds: u32) {
    let src = format!("testsrc=size={size}:rate=25:duration={seconds}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        path.to_str().expect("utf-8 path"),
    ]);
}
