//! Custody log throughput on the real on-disk store: durable batched appends (events/s),
//! inclusion proofs read from tile files (µs), proof verification (proofs/s), and the cost
//! of the log on an ingest of many small files.
//!
//! `cargo run --release -p athar-store --example log_bench [EVENTS] [RUNS]`

use std::path::PathBuf;
use std::time::Instant;

use athar_core::custody::{pseudonym, LogEntry};
use athar_core::ingest::{ingest, IngestOptions};
use athar_core::log::{CustodyLog, Logger};
use athar_core::{EventKind, ItemId, Sha256};
use athar_store::{Access, Archive, FsLogStore, InitOptions};
use athar_tlog::Ed25519Signer;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn entries(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut sha = [0u8; 32];
            sha[..8].copy_from_slice(&(i as u64).to_be_bytes());
            LogEntry {
                kind: if i % 3 == 0 {
                    EventKind::Sighting
                } else {
                    EventKind::Ingest
                },
                item: ItemId::generate().expect("id"),
                sha256: Sha256(sha),
                time: "2026-11-27T00:18:43.608432Z".into(),
                actor: pseudonym(b"bench", "Investigator A"),
                prev: (i % 3 == 0).then_some(i as u64 / 2),
                details: Sha256(sha),
            }
            .encode()
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let data = entries(events);
    let signer = Ed25519Signer::from_seed("athar/bench-log", &[7u8; 32]).expect("key");

    for batch in [1_000usize, 10_000] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = FsLogStore::open(dir.path()).expect("store");
            let mut log = CustodyLog::open(&store, signer.clone()).expect("log");
            let t = Instant::now();
            for chunk in data.chunks(batch) {
                log.append(chunk).expect("append");
            }
            rates.push(events as f64 / t.elapsed().as_secs_f64());
        }
        println!(
            "durable appends, {events} events in batches of {batch}: median {:.0} events/s (one checkpoint per batch)",
            median(rates)
        );
    }

    // Proofs from tile files and their verification.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsLogStore::open(dir.path()).expect("store");
    let mut log = CustodyLog::open(&store, signer.clone()).expect("log");
    for chunk in data.chunks(10_000) {
        log.append(chunk).expect("append");
    }
    let n = log.size();
    let mut times = Vec::new();
    let mut with_entry = Vec::new();
    let mut proofs = Vec::new();
    for k in 0..2_000u64 {
        let index = (k * 7919) % n;
        let t = Instant::now();
        let hashes = log.inclusion_proof(index).expect("proof");
        times.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let p = log.proof(index).expect("proof");
        with_entry.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(p.hashes, hashes);
        proofs.push(p);
    }
    println!(
        "inclusion proof from tile files, size {n}: median {:.1} µs",
        median(times)
    );
    println!(
        "whole .tlog-proof (proof + entry read from its bundle): median {:.1} µs",
        median(with_entry)
    );
    let verifier = signer.verifier();
    let known = athar_tlog::Verifiers::new(&[&verifier]);
    let leaves: Vec<_> = proofs
        .iter()
        .map(|p| athar_tlog::rfc6962::leaf_hash(p.extra.as_deref().unwrap_or_default()))
        .collect();
    let cp = athar_tlog::Checkpoint::parse(
        &athar_tlog::note::open(log.checkpoint().as_bytes(), &known)
            .expect("checkpoint")
            .text,
    )
    .expect("checkpoint");
    let mut rates = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for (p, leaf) in proofs.iter().zip(&leaves) {
            athar_tlog::rfc6962::verify_inclusion(p.index, cp.size, leaf, &p.hashes, &cp.root)
                .expect("verify");
        }
        rates.push(proofs.len() as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "inclusion proof verification (against a verified checkpoint): median {:.0} proofs/s",
        median(rates)
    );

    // Ingest of many small files with and without the log.
    let files = 10_000;
    let src = tempfile::tempdir().expect("tempdir");
    for i in 0..files {
        let mut b = vec![0u8; 16 << 10];
        b[..8].copy_from_slice(&(i as u64).to_le_bytes());
        b[8..16].copy_from_slice(&(i as u64 * 2654435761).to_le_bytes());
        std::fs::write(src.path().join(format!("f{i:05}.bin")), b).expect("write");
    }
    let paths = vec![PathBuf::from(src.path())];
    let mut with = Vec::new();
    let mut without = Vec::new();
    for run in 0..runs {
        for logged in [run % 2 == 0, run % 2 != 0] {
            let dir = tempfile::tempdir().expect("tempdir");
            let root = dir.path().join("archive");
            Archive::init(&root, &InitOptions::default()).expect("init");
            let mut archive = Archive::open(&root, Access::Write).expect("open");
            let opts = IngestOptions {
                collector: "bench".into(),
                ..IngestOptions::default()
            };
            let log = CustodyLog::open(archive.log.as_ref(), archive.signer.clone()).expect("log");
            let mut logger = Logger {
                log,
                secret: archive.pseudonym_secret.clone(),
            };
            let t = Instant::now();
            let summary = ingest(
                archive.catalog.as_mut(),
                archive.blobs.as_ref(),
                if logged { Some(&mut logger) } else { None },
                &paths,
                &opts,
                &mut |_| {},
            )
            .expect("ingest");
            assert_eq!(summary.stored, files);
            let secs = t.elapsed().as_secs_f64();
            if logged {
                with.push(secs)
            } else {
                without.push(secs)
            }
        }
    }
    let (w, wo) = (median(with), median(without));
    println!(
        "ingest of {files} files of 16 KiB: with log {w:.3} s, without {wo:.3} s: ratio {:.3}",
        w / wo
    );
}
