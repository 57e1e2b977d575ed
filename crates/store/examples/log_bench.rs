//! Custody log throughput on the real on-disk store: durable batched appends (events/s),
//! inclusion proofs read from tile files (µs) and proof verification (proofs/s). (Ingest,
//! which always logs, is timed by bench/small_files.sh.)
//!
//! `cargo run --release -p athar-store --example log_bench [EVENTS] [RUNS]`

use std::time::Instant;

use athar_core::custody::{pseudonym, Commitment, Digests, LogEntry, Salt};
use athar_core::log::CustodyLog;
use athar_core::{EventKind, ItemId, Sha256};
use athar_store::FsLogStore;
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
                time: "2026-11-27T00:18:43.608432Z".into(),
                actor: pseudonym(b"bench", "Investigator A"),
                prev: (i % 3 == 0).then_some(i as u64 / 2),
                digests: Digests::V2 {
                    content: Commitment::content(&Salt(sha), &Sha256(sha)),
                    details: Commitment::details(&Salt(sha), &Sha256(sha)),
                },
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
}
