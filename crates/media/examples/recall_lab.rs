//! A quick loop for the frame variants: hashes a corpus made by `bench/eval.py --work DIR`
//! directly (no archive, no ingest) and prints, per original and transform, the shares with
//! which each copy is found in both directions (original as query against the copies, copy
//! as query against the originals), plus every false match with a distractor or another
//! original's footage, in both directions.
//!
//! `recall_lab DIR STEP [TRANSFORM,...]`: every STEP-th frame, decoded once into
//! DIR/lab-cache-STEP (reference hash and reduced frame), all transforms by default.
//! Decision as `athar similar`'s default: either share >= 0.2. The reference hash here is
//! PDQ's image hash of the frame (double-precision luma), within a bit or two of vPDQ's.
//! `recall_lab rects CACHE-FILE...` prints the pictures found inside borders;
//! `recall_lab pair QUERY-CACHE ITEM-CACHE` prints, per query frame, its quality, the
//! picture found inside borders and the closest item frame for each pair of hash kinds;
//! with `LAB_ALL=1` every original and transform is printed, not only the misses;
//! `recall_lab cost VIDEO...` times hashing with and without the variants.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool over a corpus it made itself

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use std::io::Read;

use athar_media::pdq::{Dihedral, PdqHash, PdqHasher, PdqResult};
use athar_media::similar::Index;
use athar_media::variants::{self, reduce, Reduced, VariantHash, VariantIndex, VariantKind};
use athar_media::vpdq::VpdqFrame;
use athar_media::windows::{self, QueryGrid};

const MIN_SHARE: f64 = 0.2;

/// Reference frames, variants (the stored centre window among them), query window grids.
type Hashes = (Vec<VpdqFrame>, Vec<VariantHash>, Vec<QueryGrid>);

fn family(stem: &str) -> String {
    for f in ["chair", "pattern", "doorknob", "test-padded"] {
        if stem.starts_with(f) {
            return f.to_owned();
        }
    }
    stem.to_owned()
}

/// One cached frame: its reference hash (all 8 dihedral hashes), number, time, and the
/// frame reduced for the variants.
struct Cached {
    base: PdqResult,
    frame: u64,
    time: f64,
    small: Reduced,
}

fn cache_path(cache: &Path, f: &Path) -> PathBuf {
    let parent = f.parent().unwrap().file_name().unwrap().to_string_lossy();
    cache.join(format!("{parent}-{}.bin", stem(f)))
}

/// Decodes every `step`-th frame as `athar-media` does (FFmpeg, area scaling to RGB24),
/// keeping its reference hash and reduced frame.
fn decode(f: &Path, step: u64, out: &Path) {
    let info = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height,avg_frame_rate", "-of", "csv=p=0"])
        .arg(f)
        .output()
        .unwrap();
    let line = String::from_utf8(info.stdout).unwrap();
    let v: Vec<&str> = line.trim().split(',').collect();
    let (w, h): (usize, usize) = (v[0].parse().unwrap(), v[1].parse().unwrap());
    let (n, d) = v[2].split_once('/').unwrap();
    let fps = n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap();
    let mut child = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(f)
        .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-vf"])
        .arg(format!(
            "select='not(mod(n,{step}))',scale={w}:{h}:flags=area:in_color_matrix=bt601:in_range=tv"
        ))
        .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; w * h * 3];
    let mut bytes = Vec::new();
    let mut hasher = PdqHasher::new();
    let mut k = 0u64;
    while stdout.read_exact(&mut buf).is_ok() {
        let n = k * step;
        k += 1;
        let base = hasher.hash_rgb(&buf, w, h).unwrap();
        let small = reduce(&buf, w, h, w * 3).unwrap();
        bytes.extend(n.to_le_bytes());
        bytes.extend((((n as f32) / fps as f32) as f64).to_le_bytes());
        bytes.push(base.quality);
        for hh in base.dihedral.to_array() {
            for x in hh.words() {
                bytes.extend(x.to_le_bytes());
            }
        }
        bytes.extend((small.width as u32).to_le_bytes());
        bytes.extend((small.height as u32).to_le_bytes());
        bytes.extend(&small.rgb);
    }
    child.wait().unwrap();
    std::fs::write(out, bytes).unwrap();
}

fn load(p: &Path) -> Vec<Cached> {
    let b = std::fs::read(p).unwrap();
    let mut out = Vec::new();
    let mut rest = b.as_slice();
    let mut take = |n: usize| {
        let (s, r) = rest.split_at(n);
        rest = r;
        s
    };
    while take(0).as_ptr() != b.as_ptr_range().end {
        let frame = u64::from_le_bytes(take(8).try_into().unwrap());
        let time = f64::from_le_bytes(take(8).try_into().unwrap());
        let quality = take(1)[0];
        let mut hs = [PdqHash::ZERO; 8];
        for h in &mut hs {
            let raw = take(32);
            *h = PdqHash::from_words(std::array::from_fn(|k| {
                u16::from_le_bytes([raw[2 * k], raw[2 * k + 1]])
            }));
        }
        let w = u32::from_le_bytes(take(4).try_into().unwrap()) as usize;
        let h = u32::from_le_bytes(take(4).try_into().unwrap()) as usize;
        let rgb = take(w * h * 3).to_vec();
        let base = PdqResult {
            hash: hs[0],
            quality,
            dihedral: Dihedral {
                original: hs[0],
                rotate90: hs[1],
                rotate180: hs[2],
                rotate270: hs[3],
                flip_x: hs[4],
                flip_y: hs[5],
                flip_plus1: hs[6],
                flip_minus1: hs[7],
            },
        };
        out.push(Cached {
            base,
            frame,
            time,
            small: Reduced {
                rgb,
                width: w,
                height: h,
            },
        });
    }
    out
}

fn parallel<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let out: Mutex<BTreeMap<usize, T>> = Mutex::new(BTreeMap::new());
    let next = Mutex::new(0usize);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut k = next.lock().unwrap();
                    let i = *k;
                    *k += 1;
                    i
                };
                if i >= n {
                    break;
                }
                let r = f(i);
                out.lock().unwrap().insert(i, r);
            });
        }
    });
    out.into_inner().unwrap().into_values().collect()
}

fn hash_all(files: &[PathBuf], cache: &Path) -> (Vec<Hashes>, f64, usize) {
    let r = parallel(files.len(), |i| {
        let frames = load(&cache_path(cache, &files[i]));
        let mut hasher = PdqHasher::new();
        let t = Instant::now();
        let mut h: Hashes = (Vec::new(), Vec::new(), Vec::new());
        let mut last = None;
        let windows_on = std::env::var_os("NO_WINDOWS").is_none();
        let layout = grid_layout();
        for c in &frames {
            h.0.push(VpdqFrame {
                frame_number: c.frame,
                quality: c.base.quality,
                hash: c.base.hash,
                timestamp: c.time,
            });
            h.1.extend(
                variants::reduced_variants(&mut hasher, &c.small, &c.base, c.frame, c.time)
                    .unwrap(),
            );
            // The lab keeps RGB frames only: `area` from their luma (an archive takes it
            // from the decoder's luma plane).
            let s = &c.small;
            let luma = variants::luma_of(&s.rgb);
            h.1.extend(variants::luma_area(
                &luma, s.width, s.height, c.frame, c.time,
            ));
            let previous = last.replace(c.time);
            if windows_on && windows::sampled(c.time, previous) {
                let s = &c.small;
                h.2.push(QueryGrid {
                    frame_number: c.frame,
                    timestamp: c.time,
                    hashes: windows::grid(&mut hasher, s, windows::picture(s), &layout).unwrap(),
                });
            }
        }
        (h, t.elapsed().as_secs_f64())
    });
    let n = r.iter().map(|x| x.0 .0.len()).sum();
    let t = r.iter().map(|x| x.1).sum();
    (r.into_iter().map(|x| x.0).collect(), t, n)
}

/// Per frame: (kind name, quality, hash), the reference hash first as `ref`.
fn frame_hashes(c: &Cached, hasher: &mut PdqHasher) -> Vec<(&'static str, u8, PdqHash)> {
    let mut out = vec![("ref", c.base.quality, c.base.hash)];
    for v in variants::reduced_variants(hasher, &c.small, &c.base, c.frame, c.time).unwrap() {
        out.push((v.kind.name(), v.quality, v.hash));
    }
    out
}

fn pair(q: &Path, i: &Path) {
    let mut hasher = PdqHasher::new();
    let (qf, itf) = (load(q), load(i));
    let item: Vec<Vec<(&str, u8, PdqHash)>> =
        itf.iter().map(|c| frame_hashes(c, &mut hasher)).collect();
    for c in &qf {
        let s = &c.small;
        let rect = match athar_media::borders::detect(&s.rgb, s.width, s.height, s.width * 3) {
            Some(r) => format!("{},{} {}x{}", r.x, r.y, r.width, r.height),
            None => "-".to_owned(),
        };
        let mine = frame_hashes(c, &mut hasher);
        let mut best: BTreeMap<(&str, &str), (u32, u8, u64)> = BTreeMap::new();
        for (qk, qq, qh) in &mine {
            for (n, f) in item.iter().enumerate() {
                for (ik, iq, ih) in f {
                    let d = qh.distance(ih);
                    let e = best.entry((qk, ik)).or_insert((u32::MAX, 0, 0));
                    if d < e.0 {
                        *e = (d, (*qq).min(*iq), itf[n].frame);
                    }
                }
            }
        }
        let cells: Vec<String> = best
            .iter()
            .filter(|(k, _)| k.0 == k.1 || k.0 == "ref" || k.1 == "ref" || k.0 == "unbordered")
            .map(|((a, b), (d, q, f))| format!("{a}>{b}:{d}@{f}(q{q})"))
            .collect();
        println!(
            "frame {:>4} q{:>3} {rect:<14} {}",
            c.frame,
            c.base.quality,
            cells.join(" ")
        );
    }
}

/// The grid layout, from `KEEPS=0.9:0.9,0.9:1` (width:height kept) and `STEP=0.0125` when
/// set.
fn grid_layout() -> Vec<windows::GridWindow> {
    let keeps: Vec<(f64, f64)> = std::env::var("KEEPS").map_or(windows::CROP_KEEPS.to_vec(), |s| {
        s.split(',')
            .map(|x| {
                let (a, b) = x.split_once(':').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect()
    });
    let step = std::env::var("STEP").map_or(windows::GRID_STEP, |s| s.parse().unwrap());
    windows::layout(&keeps, step)
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.first().map(String::as_str) == Some("rects") {
        // `recall_lab rects CACHE-FILE...`: the picture found inside borders, frame by frame.
        for f in &a[1..] {
            let rects: Vec<String> = load(Path::new(f))
                .iter()
                .step_by(5)
                .map(|c| {
                    let s = &c.small;
                    match athar_media::borders::detect(&s.rgb, s.width, s.height, s.width * 3) {
                        Some(r) => format!("{},{} {}x{}", r.x, r.y, r.width, r.height),
                        None => "-".to_owned(),
                    }
                })
                .collect();
            let s = &load(Path::new(f))[0].small;
            println!("{f} ({}x{}): {}", s.width, s.height, rects.join(" | "));
        }
        return;
    }
    if a.first().map(String::as_str) == Some("pair") {
        // `recall_lab pair QUERY-CACHE ITEM-CACHE`: per query frame, its reference quality,
        // its border rectangle, and the smallest distance to any item frame for each kind
        // pair (query kind -> item kind; `ref` is the reference hash), with the qualities.
        pair(Path::new(&a[1]), Path::new(&a[2]));
        return;
    }
    if a.first().map(String::as_str) == Some("diag") {
        // `recall_lab diag ORIG-CACHE COPY-CACHE`: per sampled frame, the closest grid window
        // of each side to the other's stored centre window at the same frame.
        let (o, c) = (load(Path::new(&a[1])), load(Path::new(&a[2])));
        let mut hasher = PdqHasher::new();
        let layout = grid_layout();
        let whole = windows::picture;
        let mut last = None;
        for (fo, fc) in o.iter().zip(&c) {
            if !windows::sampled(fo.time, last.replace(fo.time)) {
                continue;
            }
            let (po, pc) = (whole(&fo.small), whole(&fc.small));
            let (wo, qo) = windows::centre(&mut hasher, &fo.small, po).unwrap();
            let (wc, qc) = windows::centre(&mut hasher, &fc.small, pc).unwrap();
            let go = windows::grid(&mut hasher, &fo.small, po, &layout).unwrap();
            let gc = windows::grid(&mut hasher, &fc.small, pc, &layout).unwrap();
            let best = |g: &[PdqHash], w: &PdqHash| g.iter().map(|h| h.distance(w)).min();
            if std::env::var_os("BRUTE").is_some() {
                // Every integer offset of a window the size of the original's stored one
                // inside the copy.
                let (sw, sh) = (
                    (po.width as f64 * windows::STORED_KEEP).round() as usize,
                    (po.height as f64 * windows::STORED_KEEP).round() as usize,
                );
                let mut best_at = (u32::MAX, 0, 0);
                for y in 0..=pc.height.saturating_sub(sh) {
                    for x in 0..=pc.width.saturating_sub(sw) {
                        let r = athar_media::borders::Rect {
                            x: pc.x + x,
                            y: pc.y + y,
                            width: sw,
                            height: sh,
                        };
                        let (h, _) = windows::hash_window(&mut hasher, &fc.small, r).unwrap();
                        let d = h.distance(&wo);
                        if d < best_at.0 {
                            best_at = (d, x, y);
                        }
                    }
                }
                println!("  brute copy->orig: {best_at:?} window {sw}x{sh}");
            }
            println!(
                "frame {} q {}/{}: orig grid -> copy window {:?} ({} windows), copy grid -> orig window {:?} ({} windows); reference {}",
                fo.frame,
                qo,
                qc,
                best(&go, &wc),
                go.len(),
                best(&gc, &wo),
                gc.len(),
                fo.base.hash.distance(&fc.base.hash)
            );
        }
        return;
    }
    if a.first().map(String::as_str) == Some("cost") {
        // `recall_lab cost FILE...`: hashing time per frame, reference alone and with the
        // variants, alternating, median of 3 runs each (one hashing thread).
        let opts = athar_media::vpdq::VpdqOptions {
            threads: 1,
            ..Default::default()
        };
        for f in &a[1..] {
            let (mut plain, mut with, mut frames, mut extra) = (Vec::new(), Vec::new(), 0, 0);
            for _ in 0..3 {
                let t = Instant::now();
                frames = athar_media::vpdq::hash_video(f, &opts).unwrap().len();
                plain.push(t.elapsed().as_secs_f64() * 1000.0 / frames as f64);
                let t = Instant::now();
                extra = athar_media::vpdq::hash_video_with_variants(f, &opts)
                    .unwrap()
                    .1
                    .len();
                with.push(t.elapsed().as_secs_f64() * 1000.0 / frames as f64);
            }
            plain.sort_by(f64::total_cmp);
            with.sort_by(f64::total_cmp);
            println!(
                "{f}: {frames} frames, {:.2} variants per frame; ms per frame: reference {:.2}, with variants {:.2} (+{:.0}%)",
                extra as f64 / frames as f64,
                plain[1],
                with[1],
                (with[1] / plain[1] - 1.0) * 100.0
            );
        }
        return;
    }
    let dir = PathBuf::from(a.first().expect("usage: recall_lab DIR STEP [T,...]"));
    let step: u64 = a.get(1).map_or(1, |s| s.parse().unwrap());
    let cache = dir.join(format!("lab-cache-{step}"));
    let only: Option<Vec<String>> = a.get(2).map(|s| s.split(',').map(str::to_owned).collect());
    let mut originals: Vec<PathBuf> = std::fs::read_dir(dir.join("originals"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    originals.sort();
    let mut corpus: Vec<PathBuf> = std::fs::read_dir(dir.join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let s = stem(p);
            match (&only, s.split_once("--")) {
                (Some(ts), Some((_, t))) => ts.iter().any(|x| x == t),
                _ => true,
            }
        })
        .collect();
    corpus.sort();
    let t0 = Instant::now();
    std::fs::create_dir_all(&cache).unwrap();
    let all: Vec<&PathBuf> = originals.iter().chain(&corpus).collect();
    parallel(all.len(), |i| {
        let p = cache_path(&cache, all[i]);
        if !p.exists() {
            decode(all[i], step, &p);
        }
    });
    eprintln!("decoded in {:.0} s", t0.elapsed().as_secs_f64());
    let t0 = Instant::now();
    let (oh, t1, n1) = hash_all(&originals, &cache);
    let (ch, t2, n2) = hash_all(&corpus, &cache);
    let nv: usize = oh.iter().chain(&ch).map(|h| h.1.len()).sum();
    eprintln!(
        "variants of {} files in {:.0} s wall ({:.3} ms per frame of worker time, {} frames, {:.1} variants per frame)",
        originals.len() + corpus.len(),
        t0.elapsed().as_secs_f64(),
        (t1 + t2) * 1000.0 / (n1 + n2) as f64,
        n1 + n2,
        nv as f64 / (n1 + n2) as f64
    );
    let build = |hs: &[Hashes]| {
        let (mut b, mut v) = (Index::new(), VariantIndex::new());
        for (i, h) in hs.iter().enumerate() {
            b.add_video(i as u32, &h.0);
            v.add_video(i as u32, &h.0, &h.1);
        }
        let w = v.of_kind(VariantKind::Window).cloned().unwrap_or_default();
        (b, v, w)
    };
    let (cb, cv, cw) = build(&ch);
    let (ob, ov, ow) = build(&oh);
    let ng: usize = oh.iter().chain(&ch).map(|h| h.2.len()).sum();
    let nw: usize = oh
        .iter()
        .chain(&ch)
        .map(|h| h.2.iter().map(|g| g.hashes.len()).sum::<usize>())
        .sum();
    eprintln!(
        "window grids: {ng} sampled frames, {:.1} usable windows each ({} laid out)",
        nw as f64 / ng.max(1) as f64,
        grid_layout().len()
    );
    let t_search = Instant::now();
    let ostems: Vec<String> = originals.iter().map(|p| stem(p)).collect();
    let cstems: Vec<String> = corpus.iter().map(|p| stem(p)).collect();
    // found[(orig, transform)] = (fwd q, fwd i, fwd label, rev q, rev i, rev label)
    let mut rows: BTreeMap<(String, String), [String; 2]> = BTreeMap::new();
    let mut falses = Vec::new();
    let mut near = (0.0f64, String::new());
    let fmt = |m: Option<&athar_media::similar::Match>| match m {
        Some(m) => format!(
            "{}{:.2}/{:.2} {}",
            if m.query_match.max(m.item_match) >= MIN_SHARE {
                "+"
            } else {
                "-"
            },
            m.query_match,
            m.item_match,
            m.transform
        ),
        None => "-  none".to_owned(),
    };
    for (oi, o) in ostems.iter().enumerate() {
        let ms = windows::merge(
            variants::search(&cb, &cv, &oh[oi].0, &oh[oi].1, None),
            windows::search(&cw, &oh[oi].2, None),
        );
        for (ci, c) in cstems.iter().enumerate() {
            let m = ms.iter().find(|m| m.owner == ci as u32);
            if let Some((corig, t)) = c.split_once("--") {
                if corig == o {
                    rows.entry((o.clone(), t.to_owned())).or_default()[0] = fmt(m);
                    continue;
                }
            }
            if let Some(m) = m {
                let share = m.query_match.max(m.item_match);
                let corig = c.split_once("--").map_or("", |x| x.0);
                let related = !corig.is_empty() && family(corig) == family(o);
                if !related && share > near.0 {
                    near = (share, format!("{o} -> {c} ({})", m.transform));
                }
                if share >= MIN_SHARE && !related {
                    falses.push(format!("{o} -> {c} {}", fmt(Some(m))));
                }
            }
        }
    }
    for (ci, c) in cstems.iter().enumerate() {
        let ms = windows::merge(
            variants::search(&ob, &ov, &ch[ci].0, &ch[ci].1, None),
            windows::search(&ow, &ch[ci].2, None),
        );
        for (oi, o) in ostems.iter().enumerate() {
            let m = ms.iter().find(|m| m.owner == oi as u32);
            if let Some((corig, t)) = c.split_once("--") {
                if corig == o {
                    rows.entry((o.clone(), t.to_owned())).or_default()[1] = fmt(m);
                    continue;
                }
            }
            if let Some(m) = m {
                let share = m.query_match.max(m.item_match);
                let corig = c.split_once("--").map_or("", |x| x.0);
                let related = !corig.is_empty() && family(corig) == family(o);
                if !related && share > near.0 {
                    near = (share, format!("{c} -> {o} ({})", m.transform));
                }
                if share >= MIN_SHARE && !related {
                    falses.push(format!("{c} -> {o} {}", fmt(Some(m))));
                }
            }
        }
    }
    eprintln!("searches in {:.1} s", t_search.elapsed().as_secs_f64());
    let mut per_t: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for ((o, t), [f, r]) in &rows {
        let e = per_t.entry(t.clone()).or_default();
        e.0 += usize::from(f.starts_with('+'));
        e.1 += usize::from(r.starts_with('+'));
        e.2 += 1;
        if !(f.starts_with('+') && r.starts_with('+')) || std::env::var_os("LAB_ALL").is_some() {
            println!("miss {t:<15} {o:<32} fwd {f:<28} rev {r}");
        }
    }
    for (t, (f, r, n)) in &per_t {
        println!("{t:<15} fwd {f:>2}/{n}  rev {r:>2}/{n}");
    }
    println!("false matches: {}", falses.len());
    for f in falses.iter().take(20) {
        println!("  {f}");
    }
    println!("closest unrelated: {:.2} {}", near.0, near.1);
}
