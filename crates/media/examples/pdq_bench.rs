//! PDQ throughput on pre-decoded RGB buffers (decode excluded), one thread.
//!
//! Usage: `pdq_bench DIR RUNS` where DIR holds `NAME.WxH.rgb` files (packed
//! 8-bit RGB) and optionally `NAME.WxH.hex` with the reference hash to check.
//! Prints one line: `athar_pixels_per_s <median> runs <RUNS> mismatches <n>`.

use std::path::PathBuf;
use std::time::Instant;

use athar_media::pdq;

fn main() {
    if let Err(e) = run() {
        eprintln!("pdq_bench: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: pdq_bench DIR RUNS")?);
    let runs: usize = args.next().unwrap_or_else(|| "5".into()).parse()?;
    let mut bufs = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rgb"))
        .collect();
    names.sort();
    for p in names {
        let stem = p.file_stem().and_then(|s| s.to_str()).ok_or("bad name")?;
        let dims = stem.rsplit('.').next().ok_or("bad name")?;
        let (w, h) = dims.split_once('x').ok_or("bad name")?;
        let (w, h): (usize, usize) = (w.parse()?, h.parse()?);
        let data = std::fs::read(&p)?;
        let want = std::fs::read_to_string(p.with_extension("hex")).ok();
        bufs.push((p, w, h, data, want));
    }
    if bufs.is_empty() {
        return Err("no .rgb files".into());
    }
    let mut mismatches = 0;
    for (p, w, h, data, want) in &bufs {
        let got = pdq::hash_rgb(data, *w, *h)?;
        if let Some(want) = want {
            if got.hash.to_hex() != want.trim() {
                mismatches += 1;
                eprintln!(
                    "mismatch {}: {} vs reference {}",
                    p.display(),
                    got.hash,
                    want.trim()
                );
            }
        }
    }
    let pixels: usize = bufs.iter().map(|(_, w, h, _, _)| w * h).sum();
    let mut rates = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        for (_, w, h, data, _) in &bufs {
            std::hint::black_box(pdq::hash_rgb(data, *w, *h)?);
        }
        rates.push(pixels as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "athar_pixels_per_s {median:.0} runs {} mismatches {mismatches}",
        rates.len()
    );
    Ok(())
}
