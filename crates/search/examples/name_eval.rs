//! The full evaluation of ranked name search (`bench/names.sh` runs it).
//!
//! ```text
//! name_eval [--seed S] [--looked-for N] [--namesakes K] [--pairs FILE]
//! name_eval --emit DIR --records N [--queries Q] [--seed S]
//! ```
//!
//! Without `--emit`: the synthetic set without typos and with a typo in every query, and
//! with `--pairs` (a TSV of `arabic`, `latin`, `source` from `bench/name_pairs.py`) the set
//! built from published spelling pairs; prints recall at 1 and 5 per kind of query.
//!
//! With `--emit`: writes `DIR/records.jsonl`, N synthetic person records (groups of a
//! person and six namesakes sharing two of their three names, each stored in one script or
//! spelling) for `athar records import`, and `DIR/queries.tsv` (`kind`, `query`, `stored
//! name of the person looked for`), Q queries in another script or spelling.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/name_variants.rs"]
mod name_variants;

#[path = "../tests/support/name_search_eval.rs"]
mod name_search_eval;

use std::io::Write;

use name_search_eval::{from_pairs, run, synthetic, Synthetic};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: cannot read {v:?}"))
        })
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed: u64 = arg(&args, "--seed", 20_261_207);
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--emit")
        .and_then(|i| args.get(i + 1))
    {
        let records: usize = arg(&args, "--records", 1_000_000);
        let queries: usize = arg(&args, "--queries", 300);
        emit(std::path::Path::new(dir), seed, records, queries);
        return;
    }
    let looked_for: usize = arg(&args, "--looked-for", 2000);
    let namesakes: usize = arg(&args, "--namesakes", 6);
    println!("{}", name_variants::describe());
    for typo_percent in [0, 100] {
        let set = synthetic(Synthetic {
            seed,
            looked_for,
            namesakes,
            typo_percent,
        });
        report(&set);
    }
    if let Some(path) = args
        .iter()
        .position(|a| a == "--pairs")
        .and_then(|i| args.get(i + 1))
    {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut by_source: std::collections::BTreeMap<&str, Vec<(String, String)>> =
            std::collections::BTreeMap::new();
        for line in text.lines().skip(1) {
            let mut f = line.split('\t');
            if let (Some(ar), Some(la), Some(src)) = (f.next(), f.next(), f.next()) {
                by_source
                    .entry(src)
                    .or_default()
                    .push((ar.to_owned(), la.to_owned()));
            }
        }
        let all: Vec<(String, String)> = by_source.values().flatten().cloned().collect();
        for (source, pairs) in by_source
            .iter()
            .map(|(s, p)| (*s, p))
            .chain([("all", &all)])
        {
            println!("== published pairs from {source} ==");
            report(&from_pairs(pairs, seed, looked_for, namesakes));
        }
    }
}

fn report(set: &name_search_eval::EvalSet) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let started = std::time::Instant::now();
    let out = run(set, dir.path());
    println!(
        "{}: {} queries in {:.1} s\n{}",
        set.description,
        set.queries.len(),
        started.elapsed().as_secs_f64(),
        out.table()
    );
    let shown = if std::env::var_os("ATHAR_NAME_EVAL_MISSES").is_some() {
        usize::MAX
    } else {
        15
    };
    for (kind, q, stored, first) in out.misses.iter().take(shown) {
        println!("  miss {kind}: {q:?} (stored {stored:?}) → first {first:?}");
    }
    println!();
}

/// Writes the records and queries of a large synthetic archive.
fn emit(dir: &std::path::Path, seed: u64, records: usize, queries: usize) {
    std::fs::create_dir_all(dir).expect("create the output folder");
    let groups = records.div_ceil(7);
    let set = synthetic(Synthetic {
        seed,
        looked_for: groups,
        namesakes: 6,
        typo_percent: 0,
    });
    let path = dir.join("records.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("records.jsonl"));
    for c in 0..10 {
        writeln!(
            out,
            r#"{{"kind":"case","case":"case-{c}","title":"Synthetic lists {c}"}}"#
        )
        .expect("write");
    }
    let n = set.stored.len().min(records);
    for (i, name) in set.stored.iter().take(n).enumerate() {
        let line = format!(
            r#"{{"kind":"person","key":"p{i}","case":"case-{}","names":[{{"name":{}}}]}}"#,
            i % 10,
            json_string(name)
        );
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("write");
    // Queries: a spread of the looked-for persons, every kind of query.
    let mut q = std::io::BufWriter::new(
        std::fs::File::create(dir.join("queries.tsv")).expect("queries.tsv"),
    );
    let step = (set.queries.len() / queries.max(1)).max(1);
    let mut written = 0;
    for (kind, text, want) in set.queries.iter().step_by(step) {
        if *want >= n || written >= queries {
            continue;
        }
        writeln!(q, "{kind}\t{text}\t{}", set.stored[*want]).expect("write");
        written += 1;
    }
    q.flush().expect("write");
    eprintln!(
        "{n} persons and 10 cases in {}, {written} queries in queries.tsv",
        path.display()
    );
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
