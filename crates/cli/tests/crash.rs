//! Crash safety: an ingest killed with SIGKILL at random instants leaves an archive that
//! verifies, and everything it acknowledged is retrievable and intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{json_lines, sha256_hex, Env, Rng};

#[test]
fn sigkill_during_ingest_leaves_a_consistent_archive() {
    let src_env = Env::new();
    let src = src_env.path("source-folder");
    let mut files = common::make_files(&src, 300, 48 << 10, 2026);
    // A few large files exercise the threaded writer and its syncs.
    files.extend(common::make_files(&src.join("large"), 3, 24 << 20, 11));
    let expected: HashMap<String, String> = files
        .iter()
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                sha256_hex(&std::fs::read(p).unwrap()),
            )
        })
        .collect();

    // How long a whole ingest takes here, so kills land throughout it.
    let started = Instant::now();
    let full = src_env.run_paths(&["ingest", "--json"], &[&src]);
    assert!(full.status.success());
    assert_eq!(json_lines(&full.stdout).len(), files.len());
    let whole = started.elapsed().max(Duration::from_millis(50));

    let mut rng = Rng(0x5eed);
    let iterations = 12;
    let mut acknowledged_total = 0;
    for i in 0..iterations {
        let env = Env::new();
        // Later iterations ingest into an archive that already holds part of the set.
        if i % 3 == 2 {
            let part = env.run_paths(&["ingest"], &[&src.join("set-1")]);
            assert!(part.status.success());
        }
        let delay = Duration::from_micros(rng.below(whole.as_micros() as u64 * 11 / 10));
        let mut child = env
            .cmd()
            .args(["ingest", "--json"])
            .arg(&src)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let reported = json_lines(&reader.join().unwrap());
        acknowledged_total += reported.len();

        let (code, v) = env.verify();
        assert_eq!(
            code, 0,
            "iteration {i} (killed after {delay:?}): verify found {v}"
        );
        for l in &reported {
            let path = l["path"].as_str().unwrap();
            let sha = l["sha256"].as_str().unwrap();
            assert_eq!(expected.get(path).map(String::as_str), Some(sha), "{path}");
            let cat = env.cat(l["item"].as_str().unwrap());
            assert!(
                cat.status.success(),
                "iteration {i}: acknowledged {path} not retrievable"
            );
            assert_eq!(
                sha256_hex(&cat.stdout),
                sha,
                "iteration {i}: {path} retrieved wrong bytes"
            );
        }
        // An interrupted ingest can simply be run again and completes the set.
        if i % 4 == 0 {
            let rerun = env.run_paths(&["ingest", "--json"], &[&src]);
            assert!(rerun.status.success());
            assert_eq!(json_lines(&rerun.stdout).len(), files.len());
            env.assert_verifies();
        }
    }
    eprintln!(
        "{iterations} kills over a {whole:?} ingest; {acknowledged_total} acknowledged files checked"
    );
}
