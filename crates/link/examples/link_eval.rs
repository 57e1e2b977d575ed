//! Linkage beside its peer (`bench/linkage.sh` runs it).
//!
//! ```text
//! link_eval emit OUT.csv [--persons N] [--lists K] [--seed S]
//! link_eval run IN.csv OUT.json [--accept P]
//! ```
//!
//! `emit` writes synthetic lists (`tests/support/lists.rs`) in the shared format
//! `record_id,list,row,name,given,father,grandfather,family,mother,sex,birth_year,
//! birth_date,death_date,place,cluster,place_in` (`cluster`: the true person, read only by
//! the scorer; `place_in`: the place that contains `place`, Athar's extra). `run` links a file
//! in that format and writes `pairs` (linked, both ways of a person), `clusters` (record id →
//! person), `time_s`, `peak_rss_mib` and `tool`, then prints pairwise and B-cubed scores
//! when the file has the `cluster` column.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../search/tests/support/name_variants.rs"]
mod name_variants;

#[path = "../tests/support/lists.rs"]
mod lists;

use std::io::Write;

use athar_link::{link, Interval, Options, Record};

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
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
    match args.first().map(String::as_str) {
        Some("emit") => emit(&args),
        Some("run") => run(&args),
        _ => {
            eprintln!("usage: link_eval emit OUT.csv [--persons N] [--lists K] [--seed S] | run IN.csv OUT.json [--accept P]");
            std::process::exit(2);
        }
    }
}

fn emit(args: &[String]) {
    let out = args.get(1).expect("OUT.csv");
    let persons: usize = flag(args, "--persons", 10_000);
    let k: usize = flag(args, "--lists", 4);
    let seed: u64 = flag(args, "--seed", 20_261_207);
    let data = lists::lists(seed, persons, k);
    let mut w = csv::Writer::from_path(out).expect("create the CSV");
    w.write_record([
        "record_id",
        "list",
        "row",
        "name",
        "given",
        "father",
        "grandfather",
        "family",
        "mother",
        "sex",
        "birth_year",
        "birth_date",
        "death_date",
        "place",
        "cluster",
        "place_in",
    ])
    .expect("write");
    let mut rows: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (r, truth) in data.records.iter().zip(&data.truth) {
        let row = rows.entry(r.list.as_str()).or_default();
        *row += 1;
        let birth_year = r.birth.map(|b| b.year().to_string()).unwrap_or_default();
        let birth_date = r.birth.map(|b| b.text()).unwrap_or_default();
        let death = r.date.map(|d| d.text()).unwrap_or_default();
        w.write_record([
            r.id.as_str(),
            r.list.as_str(),
            &row.to_string(),
            r.name.as_str(),
            r.given.as_str(),
            r.father.as_str(),
            r.grandfather.as_str(),
            r.family.as_str(),
            r.mother.as_str(),
            &r.sex.map(String::from).unwrap_or_default(),
            &birth_year,
            &birth_date,
            &death,
            r.place.first().map(String::as_str).unwrap_or(""),
            &truth.to_string(),
            r.place.get(1).map(String::as_str).unwrap_or(""),
        ])
        .expect("write");
    }
    w.flush().expect("write");
    eprintln!(
        "{} records of {persons} persons in {k} lists written to {out}",
        data.records.len()
    );
}

fn run(args: &[String]) {
    let input = args.get(1).expect("IN.csv");
    let output = args.get(2).expect("OUT.json");
    let accept: f64 = flag(args, "--accept", Options::default().accept);
    let started = std::time::Instant::now();
    let mut reader = csv::Reader::from_path(input).expect("read the CSV");
    let headers = reader.headers().expect("headers").clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let get = |row: &csv::StringRecord, name: &str| -> String {
        col(name).and_then(|i| row.get(i)).unwrap_or("").to_owned()
    };
    let mut records = Vec::new();
    let mut truth = Vec::new();
    for row in reader.records() {
        let row = row.expect("a CSV row");
        let birth = Interval::parse(&get(&row, "birth_date"))
            .or_else(|| Interval::parse(&get(&row, "birth_year")));
        let mut place: Vec<String> = Vec::new();
        for p in [get(&row, "place"), get(&row, "place_in")] {
            if !p.is_empty() {
                place.push(p);
            }
        }
        records.push(Record {
            id: get(&row, "record_id"),
            list: get(&row, "list"),
            name: get(&row, "name"),
            given: get(&row, "given"),
            father: get(&row, "father"),
            grandfather: get(&row, "grandfather"),
            family: get(&row, "family"),
            mother: get(&row, "mother"),
            sex: get(&row, "sex").chars().next(),
            birth,
            date: Interval::parse(&get(&row, "death_date")),
            place,
        });
        truth.push(get(&row, "cluster"));
    }
    let out = link(
        &records,
        &Options {
            accept,
            ..Options::default()
        },
    );
    let time_s = started.elapsed().as_secs_f64();
    let mut pairs = Vec::new();
    let mut clusters = serde_json::Map::new();
    for (i, members) in out.clusters.persons.iter().enumerate() {
        for (j, &a) in members.iter().enumerate() {
            clusters.insert(
                records[a as usize].id.clone(),
                serde_json::Value::from(format!("c{i}")),
            );
            for &b in &members[j + 1..] {
                pairs.push(serde_json::json!([
                    records[a as usize].id,
                    records[b as usize].id
                ]));
            }
        }
    }
    let result = serde_json::json!({
        "tool": "athar-link",
        "n_records": records.len(),
        "candidates": out.candidates,
        "pairs": pairs,
        "clusters": clusters,
        "time_s": time_s,
        "peak_rss_mib": peak_rss_mib(),
    });
    let mut f = std::fs::File::create(output).expect("create OUT.json");
    writeln!(f, "{result}").expect("write");
    let mut summary = serde_json::json!({
        "tool": "athar-link", "records": records.len(), "candidates": out.candidates,
        "persons": out.clusters.persons.len(), "time_s": time_s, "peak_rss_mib": peak_rss_mib(),
    });
    if truth.iter().all(|t| !t.is_empty()) {
        let mut ids: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let truth: Vec<usize> = truth
            .iter()
            .map(|t| {
                let n = ids.len();
                *ids.entry(t.as_str()).or_insert(n)
            })
            .collect();
        let [p, r, f1, bp, br, bf] = lists::score(&truth, &out.clusters.of);
        summary["pairwise"] = serde_json::json!({"precision": p, "recall": r, "f1": f1});
        summary["b_cubed"] = serde_json::json!({"precision": bp, "recall": br, "f1": bf});
    }
    println!("{summary}");
}

/// Peak resident memory of this process, from /proc (0 where there is none).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
