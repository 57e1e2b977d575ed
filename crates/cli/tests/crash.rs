//! Crash safety: an ingest killed with SIGKILL at random instants leaves an archive that
//! verifies, and everything it acknowledged is retrievable and intact. The test also checks
//! that kills did land mid-ingest (work left to recover, or only part of the files
//! acknowledged), not only before it started or after it ended.
//!
//! A kill keeps the page cache, so it cannot show a missing sync; the store tests
//! (`crates/store/tests/crash_faults.rs`) drop unsynced writes at every operation instead.

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
    // A few large files exercise the threaded writer and its syncs (last in name order:
    // the small files before them can be acknowledged while they are written).
    files.extend(common::make_files(&src.join("zz-large"), 3, 24 << 20, 11));
    let expected: HashMap<String, String> = files
        .iter()
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                sha256_hex(&std::fs::read(p).unwrap()),
            )
        })
        .collect();

    // How long a whole ingest takes here, so kills land throughout it: the faster of a
    // first (cold) run and a second one into a fresh archive, as the killed runs will be.
    let mut whole = Duration::MAX;
    for env in [&src_env, &Env::new()] {
        let started = Instant::now();
        let full = env.run_paths(&["ingest", "--json"], &[&src]);
        assert!(full.status.success());
        assert_eq!(json_lines(&full.stdout).len(), files.len());
        whole = whole.min(started.elapsed());
    }
    let whole = whole.max(Duration::from_millis(50));

    let mut rng = Rng(0x5eed);
    let iterations = 12;
    let mut acknowledged_total = 0;
    // Kills that found the ingest under way: recovery had work, or part of the files were
    // acknowledged.
    let mut mid_ingest = 0;
    let mut recovered_runs = 0;
    let mut partly_acknowledged = 0;
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

        // `verify` first finishes what the killed run left, and says so on stderr.
        let out = env.run(&["verify", "--json"]);
        let code = out.status.code().unwrap_or(-1);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify --json gave no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            code, 0,
            "iteration {i} (killed after {delay:?}): verify found {v}"
        );
        let recovered = String::from_utf8_lossy(&out.stderr).contains("interrupted ingest");
        if recovered {
            recovered_runs += 1;
        }
        let partly = !reported.is_empty() && reported.len() < files.len();
        if partly {
            partly_acknowledged += 1;
        }
        if recovered || partly {
            mid_ingest += 1;
        }
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
        "{iterations} kills over a {whole:?} ingest, {mid_ingest} of them mid-ingest \
         ({recovered_runs} left work to recover, {partly_acknowledged} had acknowledged part of \
         the files); {acknowledged_total} acknowledged files checked"
    );
    // Kill instants are spread over 1.1 times a whole run: most land while it works. Were
    // none to, this test would check nothing about interrupted ingests.
    assert!(
        mid_ingest >= iterations / 4,
        "only {mid_ingest} of {iterations} kills landed mid-ingest"
    );
}
