//! `athar worker`: several worker processes run one archive's background jobs, on the
//! embedded backends and on the scale-out ones (PostgreSQL catalog, S3 blobs and log on a
//! Garage the test starts). A worker is `kill -9`ed in the middle of a job; the others run
//! every job, that one included once its lease lapses, each job to completion exactly once;
//! each clip gets its review images, and `verify` passes. Leases are a second
//! long (`ATHAR_JOB_LEASE_SECS`), shorter than a video's analysis, so the survivors must
//! renew theirs while they analyse or lose their jobs to each other (which the test would
//! see as jobs taken over).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use athar_s3::garage::Garage;
use common::Env;
use serde_json::Value;

/// Starts `athar worker --json` on `archive`, its stdout into `out`.
fn start_worker(archive: &Path, out: &Path, args: &[&str]) -> Child {
    Command::new(common::athar_bin())
        .arg("--archive")
        .arg(archive)
        .args(["worker", "--json", "--poll", "0.2"])
        .args(args)
        .env("ATHAR_JOB_LEASE_SECS", "1")
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The job counts by state (`athar jobs --json`).
fn job_counts(env: &Env) -> BTreeMap<String, u64> {
    let out = env.run(&["jobs", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect()
}

/// Synthetic footage: `n` short clips of different test patterns, and one longer one
/// (several seconds of analysis, longer than a lease).
fn footage(env: &Env, n: usize) -> Vec<PathBuf> {
    let sources = [
        "testsrc=size=320x240:rate=15",
        "testsrc2=size=320x240:rate=15",
        "smptebars=size=320x240:rate=15",
        "mandelbrot=size=320x240:rate=15",
        "rgbtestsrc=size=320x240:rate=15",
        "cellauto=size=320x240:rate=15:rule=110",
        "life=size=320x240:rate=15:seed=7",
        "yuvtestsrc=size=320x240:rate=15",
    ];
    let mut clips: Vec<PathBuf> = sources
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, src)| {
            common::clip_at(env.path(&format!("clip-{i}.mp4")), src, "3", "null")
                .expect("ffmpeg makes the test footage")
        })
        .collect();
    clips.push(
        common::clip_at(
            env.path("long.mp4"),
            "testsrc2=size=640x360:rate=30",
            "40",
            "hue=H=t",
        )
        .expect("ffmpeg makes the test footage"),
    );
    clips
}

/// Ingests footage, kills one worker in the middle of a job, lets two others finish, and
/// checks that every job ran to completion once and the archive verifies.
fn workers_run_every_job_once(env: &Env) {
    let clips = footage(env, 6);
    let paths: Vec<&Path> = clips.iter().map(PathBuf::as_path).collect();
    // Without --wait: the jobs are queued for the workers.
    let out = env.run_paths(&["ingest", "--json"], &paths);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = common::json_lines(&out.stdout)
        .iter()
        .map(|l| l["item"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 7);
    let queued = job_counts(env)["queued"];
    assert!(queued >= 7, "a job per clip at least: {queued}");

    // The first worker is killed as soon as it holds a job.
    let first_out = env.path("worker-1.jsonl");
    let mut first = start_worker(&env.archive, &first_out, &[]);
    let start = Instant::now();
    loop {
        if job_counts(env).get("running").copied().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first worker claimed nothing"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first worker stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap();
    first.wait().unwrap();

    // Two more, until nothing is queued or running.
    let outs = [env.path("worker-2.jsonl"), env.path("worker-3.jsonl")];
    let others: Vec<Child> = outs
        .iter()
        .map(|o| start_worker(&env.archive, o, &["--until-idle"]))
        .collect();
    for (i, w) in others.into_iter().enumerate() {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker {} failed: {}",
            i + 2,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Each job done once, by whichever worker; none taken over from a live worker.
    let mut done: BTreeMap<u64, usize> = BTreeMap::new();
    let mut busy_workers = 0;
    for (i, path) in std::iter::once(&first_out).chain(&outs).enumerate() {
        let lines = common::json_lines(&std::fs::read(path).unwrap());
        let jobs: Vec<&Value> = lines.iter().filter(|l| l.get("job").is_some()).collect();
        for l in &jobs {
            assert_ne!(l["state"], "lost", "a live worker lost a job: {l}");
            assert_ne!(l["state"], "failed", "{l}");
            if l["state"] == "done" {
                *done.entry(l["job"].as_u64().unwrap()).or_default() += 1;
            }
        }
        if i > 0 {
            let totals = lines.last().unwrap();
            assert_eq!(totals["lost"].as_u64().unwrap_or(0), 0, "{totals}");
            busy_workers += usize::from(!jobs.is_empty());
        }
    }
    let counts = job_counts(env);
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        ["done"],
        "every job done: {counts:?}"
    );
    assert_eq!(
        done.len() as u64,
        counts["done"],
        "each job reported: {done:?}"
    );
    assert!(
        done.values().all(|&n| n == 1),
        "a job ran to completion twice: {done:?}"
    );
    assert_eq!(busy_workers, 2, "both surviving workers ran jobs");

    // Every clip has its three review images, and the log agrees with the catalog.
    for id in &ids {
        let out = env.run(&["show", "--json", id]);
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        let review = shown["review_images"].as_array().unwrap();
        assert_eq!(review.len(), 3, "review images of {id}: {review:?}");
    }
    let out = env.run(&["similar", &ids[6], "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.assert_verifies();
}

/// A worker whose commit waits for the lock (another process holds it for six leases)
/// keeps renewing its job's lease meanwhile, and commits the job when the lock is free.
fn a_worker_renews_its_lease_while_it_waits_for_the_lock() {
    let env = Env::new();
    let clip = common::clip_at(
        env.path("one.mp4"),
        "testsrc2=size=160x120:rate=10",
        "1",
        "null",
    )
    .expect("ffmpeg makes the test footage");
    let out = env.run(&["ingest", clip.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out_path = env.path("worker.jsonl");
    let worker = start_worker(&env.archive, &out_path, &["--until-idle"]);
    let start = Instant::now();
    // The fingerprint job (the slow one) claimed.
    loop {
        let out = env.run(&["jobs", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let running = v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["kind"] == "fingerprint" && j["state"] == "running");
        if running {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no job claimed");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Held for six leases while the clip (a fraction of a second of analysis) is analysed.
    let holder = Command::new("flock")
        .arg(env.archive.join("lock"))
        .args(["sleep", "6"])
        .spawn()
        .unwrap();
    // While the worker waits, the job's lease never runs out: it is renewed, though the hold
    // lasts six leases.
    let catalog = rusqlite::Connection::open(env.archive.join("catalog.sqlite")).unwrap();
    let mut worker = worker;
    while worker.try_wait().unwrap().is_none() {
        let lease: Option<i64> = catalog
            .query_row(
                "SELECT lease_until FROM jobs WHERE kind = 'fingerprint' AND state = 'running'",
                [],
                |r| r.get(0),
            )
            .ok();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        if let Some(lease) = lease {
            assert!(
                lease > now,
                "the lease ran out while the worker waited ({lease} <= {now})"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = worker.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(holder);
    let lines = common::json_lines(&std::fs::read(&out_path).unwrap());
    let states: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.get("state").and_then(Value::as_str))
        .collect();
    assert!(
        !states.is_empty() && states.iter().all(|s| *s == "done"),
        "{lines:?}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(6),
        "the worker did not wait"
    );
    env.assert_verifies();
}

#[test]
fn workers_share_an_archive_embedded_and_on_postgres_and_s3() {
    a_worker_renews_its_lease_while_it_waits_for_the_lock();
    workers_run_every_job_once(&Env::new());

    let garage = Garage::start().unwrap_or_else(|e| {
        panic!("no Garage to test against ({e}); scripts/ensure-deps.sh test installs it")
    });
    // Every athar from here on reaches the object store through these (the only test in
    // this binary, and the embedded half is done: setting them for the process is safe).
    for (k, v) in garage.env() {
        std::env::set_var(k, v);
    }
    let schema = common::PgSchema::new("workers");
    let env = Env::with_init(&[
        "--catalog",
        &schema.location(),
        "--blobs",
        &garage.url("workers/blobs"),
        "--log",
        &garage.url("workers/log"),
    ]);
    workers_run_every_job_once(&env);
}
