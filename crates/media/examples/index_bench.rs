//! Exact radius search over 256-bit hashes: build time, memory and queries per second of
//! `athar_media::hamming::HammingIndex`, one thread, on files written by
//! `bench/index_bench.py` (raw 32-byte hashes, the same bytes FAISS reads).
//!
//! Usage: `index_bench DIR RUNS RADIUS M...` (M = substrings; 0 = Athar's choice by size,
//! `linear` = the multi-index kind's row scan only, `compact` = the compact kind: a
//! column-wise scan with an early exit, no tables). DIR holds `base.bin`, `q_random.bin`, `q_near.bin`. Prints one
//! JSON object per configuration. Recall is checked against a linear scan on the first
//! `CHECK` queries of each set (every result within the radius, nothing else).

use std::time::Instant;

use athar_media::hamming::{HammingIndex, Hash256, IndexKind};

const CHECK: usize = 100;

fn main() {
    if let Err(e) = run() {
        eprintln!("index_bench: {e}");
        std::process::exit(2);
    }
}

fn read_hashes(path: &std::path::Path) -> Result<Vec<Hash256>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() % 32 != 0 {
        return Err(format!("{}: not a multiple of 32 bytes", path.display()).into());
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u64; 4];
            for (x, b) in h.iter_mut().zip(c.chunks_exact(8)) {
                *x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            }
            h
        })
        .collect())
}

fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One radius query, appending (id, distance) hits.
type Query<'a> = dyn FnMut(&Hash256, &mut Vec<(u32, u32)>) + 'a;

/// Queries per second over the whole set (median of `runs`) and the total result count.
fn qps(queries: &[Hash256], runs: usize, f: &mut Query<'_>) -> (f64, usize) {
    let mut out = Vec::new();
    let mut total = 0;
    let mut rates = Vec::new();
    for _ in 0..runs {
        total = 0;
        let t = Instant::now();
        for q in queries {
            out.clear();
            f(q, &mut out);
            total += out.len();
        }
        rates.push(queries.len() as f64 / t.elapsed().as_secs_f64());
    }
    (median(rates), total)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: index_bench DIR RUNS RADIUS M...";
    let dir = std::path::PathBuf::from(args.next().ok_or(usage)?);
    let runs: usize = args.next().ok_or(usage)?.parse()?;
    let radius: u32 = args.next().ok_or(usage)?.parse()?;
    let configs: Vec<String> = args.collect();
    let base = read_hashes(&dir.join("base.bin"))?;
    let sets = [
        ("random", read_hashes(&dir.join("q_random.bin"))?),
        ("near", read_hashes(&dir.join("q_near.bin"))?),
    ];
    for config in &configs {
        let before = rss();
        let t = Instant::now();
        let index = if config == "linear" {
            HammingIndex::linear(base.clone())
        } else if config == "compact" {
            HammingIndex::build_kind(base.clone(), IndexKind::Compact)
        } else {
            HammingIndex::build_with(base.clone(), config.parse()?)
        };
        let build_s = t.elapsed().as_secs_f64();
        let rss_delta = rss().saturating_sub(before);
        let layout = index.layout();
        let mut row = serde_json::json!({
            "side": "athar",
            "config": config,
            "n": base.len(),
            "radius": radius,
            "build_s": build_s,
            "index_bytes": layout.bytes,
            "raw_bytes": base.len() * 32,
            "memory_ratio": layout.bytes as f64 / (base.len() * 32) as f64,
            "rss_delta_bytes": rss_delta,
            "segments": layout.segments,
        });
        for (name, queries) in &sets {
            let (rate, results) = qps(queries, runs, &mut |q, out| {
                index.radius_into(q, radius, out)
            });
            // Recall and precision against a scan, on a sample.
            let (mut want, mut got) = (0usize, 0usize);
            for q in queries.iter().take(CHECK) {
                let truth = index.radius_linear(q, radius);
                let found = index.radius(q, radius);
                want += truth.len();
                got += found.iter().filter(|x| truth.contains(x)).count();
                if found.len() != truth.len() {
                    return Err(format!("{config}: wrong answer for a {name} query").into());
                }
            }
            // The whole set in one call, as FAISS's range_search is given it.
            let mut rates = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let all = index.radius_many(queries, radius);
                rates.push(queries.len() as f64 / t.elapsed().as_secs_f64());
                if all.iter().map(Vec::len).sum::<usize>() != results {
                    return Err(format!("{config}: radius_many disagrees ({name})").into());
                }
            }
            row[format!("qps_together_{name}")] = median(rates).into();
            row[format!("qps_{name}")] = rate.into();
            row[format!("results_{name}")] = results.into();
            row[format!("recall_{name}")] = if want == 0 {
                1.0
            } else {
                got as f64 / want as f64
            }
            .into();
            row[format!("checked_results_{name}")] = want.into();
        }
        if config == "0" || config == "compact" {
            // Persistence: write, then read back (what `athar similar` does at start).
            let path = dir.join("athar.idx");
            let t = Instant::now();
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
            index.write_to(&mut f)?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            row["save_s"] = t.elapsed().as_secs_f64().into();
            let (t, before) = (Instant::now(), rss());
            let back =
                HammingIndex::read_from(&mut std::io::BufReader::new(std::fs::File::open(&path)?))?;
            row["load_s"] = t.elapsed().as_secs_f64().into();
            // What loading the saved index at start costs (no input copy to free, unlike the
            // build above).
            row["load_rss_delta_bytes"] = rss().saturating_sub(before).into();
            row["file_bytes"] = std::fs::metadata(&path)?.len().into();
            if back != index {
                return Err("index read back differs".into());
            }
            std::fs::remove_file(&path)?;
        }
        println!("{row}");
    }
    Ok(())
}
