//! Bulk-load benchmark: index N generated records (default 1,000,000), then run a few
//! hundred mixed searches.
//!
//! ```text
//! cargo run --release -p athar-search --example bulk -- [N] [--replace] [--dir DIR] [--search-only]
//! ```
//!
//! Prints records/s for indexing (generation excluded and included), the index size on
//! disk, peak and current RSS, and search latency p50/p95/max. `--replace` indexes with
//! `add` (delete-then-add, as for records that may exist) instead of `add_new`.
//! Records are synthetic: names drawn from lists of common names, generated text.

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use athar_search::{Doc, Options, Query, SearchIndex};

const GIVEN: &[(&str, &str)] = &[
    ("محمد", "Mohammed"),
    ("محمود", "Mahmoud"),
    ("أحمد", "Ahmad"),
    ("خالد", "Khaled"),
    ("عمر", "Omar"),
    ("علي", "Ali"),
    ("حسن", "Hassan"),
    ("حسين", "Hussein"),
    ("يوسف", "Youssef"),
    ("إبراهيم", "Ibrahim"),
    ("عبد الله", "Abdullah"),
    ("عبد الرحمن", "Abdul Rahman"),
    ("سعيد", "Saeed"),
    ("قاسم", "Qasim"),
    ("طارق", "Tarek"),
    ("ياسر", "Yasser"),
    ("جمال", "Jamal"),
    ("مصطفى", "Mustafa"),
    ("فيصل", "Faisal"),
    ("وليد", "Walid"),
    ("فاطمة", "Fatima"),
    ("عائشة", "Aisha"),
    ("زينب", "Zainab"),
    ("خديجة", "Khadija"),
    ("هدى", "Huda"),
    ("مريم", "Maryam"),
    ("نور", "Nour"),
    ("سلمى", "Salma"),
];
const FAMILY: &[(&str, &str)] = &[
    ("المصري", "al-Masri"),
    ("الحلبي", "al-Halabi"),
    ("الشامي", "al-Shami"),
    ("الحوراني", "al-Hourani"),
    ("الزعبي", "al-Zoubi"),
    ("المقداد", "al-Miqdad"),
    ("الخطيب", "al-Khatib"),
    ("القاسم", "al-Qasim"),
    ("الدرويش", "al-Darwish"),
    ("الرفاعي", "al-Rifai"),
    ("حداد", "Haddad"),
    ("نجار", "Najjar"),
    ("خوري", "Khoury"),
    ("المسالمة", "al-Masalmeh"),
    ("الحريري", "al-Hariri"),
];
const PLACES: &[(&str, &str)] = &[
    ("المسمية", "al-Masmiyah"),
    ("درعا", "Daraa"),
    ("حمص", "Homs"),
    ("حلب", "Aleppo"),
    ("دمشق", "Damascus"),
    ("صيدنايا", "Saydnaya"),
    ("المزة", "al-Mezzeh"),
    ("داريا", "Darayya"),
    ("دوما", "Douma"),
    ("إدلب", "Idlib"),
    ("الرقة", "Raqqa"),
    ("دير الزور", "Deir ez-Zor"),
    ("بصرى الشام", "Busra al-Sham"),
    ("نوى", "Nawa"),
    ("إنخل", "Inkhil"),
];
const EN_WORDS: &[&str] = &[
    "detainees",
    "security",
    "branch",
    "trucked",
    "site",
    "burned",
    "pits",
    "source",
    "video",
    "released",
    "outlet",
    "government",
    "denied",
    "accusation",
    "prison",
    "fabricated",
    "corroborated",
    "victims",
    "women",
    "children",
    "army",
    "militia",
    "intelligence",
    "units",
    "checkpoint",
    "arrested",
    "disappeared",
    "tortured",
    "killed",
    "witness",
    "statement",
    "night",
    "morning",
    "convoy",
    "vehicles",
    "soldiers",
    "village",
    "road",
    "burial",
    "remains",
    "shelling",
    "hospital",
    "school",
    "market",
    "footage",
    "satellite",
    "imagery",
    "geolocated",
    "uniform",
    "officer",
    "report",
    "interview",
    "family",
    "house",
];
const AR_WORDS: &[&str] = &[
    "المعتقلين",
    "الأمن",
    "فرع",
    "نقل",
    "موقع",
    "حرق",
    "حفر",
    "مصدر",
    "فيديو",
    "نشر",
    "الحكومة",
    "نفت",
    "اتهام",
    "سجن",
    "ملفق",
    "الضحايا",
    "نساء",
    "أطفال",
    "الجيش",
    "ميليشيا",
    "المخابرات",
    "حاجز",
    "اعتقال",
    "اختفاء",
    "تعذيب",
    "قتل",
    "شاهد",
    "شهادة",
    "ليلا",
    "صباحا",
    "قافلة",
    "سيارات",
    "جنود",
    "قرية",
    "طريق",
    "دفن",
    "رفات",
    "قصف",
    "مستشفى",
    "مدرسة",
    "سوق",
    "تسجيل",
    "صور",
    "ضابط",
    "تقرير",
    "مقابلة",
    "عائلة",
    "منزل",
];
const VIOLATIONS: &[&str] = &[
    "arbitrary detention",
    "torture",
    "killing",
    "enforced disappearance",
    "mutilation or destruction of remains",
    "sexual violence",
    "forced displacement",
    "attack on civilians",
];
const VERIFICATION: &[&str] = &[
    "unverified",
    "geolocated",
    "chronolocated",
    "verified",
    "disputed",
];
const KINDS: &[(&str, u64)] = &[
    ("person", 40),
    ("item", 20),
    ("incident", 12),
    ("claim", 10),
    ("act", 8),
    ("place", 4),
    ("source", 4),
    ("org", 1),
    ("case", 1),
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Days since 1970-01-01 of 1 January of `y` (for 1970..2100).
fn jan1(y: i32) -> i32 {
    (y - 1970) * 365 + (y - 1969) / 4
}

fn person_name(rng: &mut Rng) -> (String, String) {
    let (g1, l1) = rng.pick(GIVEN);
    let (g2, l2) = rng.pick(GIVEN);
    let (f, lf) = rng.pick(FAMILY);
    (format!("{g1} {g2} {f}"), format!("{l1} {l2} {lf}"))
}

fn words(rng: &mut Rng, n: usize, arabic: bool) -> String {
    let list = if arabic { AR_WORDS } else { EN_WORDS };
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let w: &&str = rng.pick(list);
        s.push_str(w);
    }
    s
}

fn generate(i: usize, rng: &mut Rng) -> Doc {
    let mut r = rng.below(100) as u64;
    let mut kind = "person";
    for (k, w) in KINDS {
        if r < *w {
            kind = k;
            break;
        }
        r -= w;
    }
    let arabic = rng.below(2) == 0;
    let case = format!("case-{:02}", rng.below(50));
    let start = jan1(2011) + rng.below(365 * 10) as i32;
    let date = match rng.below(5) {
        0 => None,
        1 => Some((start, start)),
        2 => Some((start, start + 30)),
        3 => Some((start, start + 365)),
        _ => Some((start, start + rng.below(365 * 3) as i32)),
    };
    let (pa, pl) = rng.pick(PLACES);
    let place = if arabic { pa } else { pl }.to_string();
    let mut doc = Doc {
        id: format!("{kind}-{i}"),
        kind: kind.to_string(),
        cases: vec![case],
        date,
        ..Doc::default()
    };
    match kind {
        "person" => {
            let (a, l) = person_name(rng);
            doc.title = if arabic { a.clone() } else { l.clone() };
            doc.names = vec![a, l];
            doc.text = words(rng, 8, arabic);
            doc.places = vec![place];
        }
        "place" => {
            doc.title = place.clone();
            doc.names = vec![pa.to_string(), pl.to_string()];
            doc.places = vec![pa.to_string(), pl.to_string()];
        }
        _ => {
            doc.title = format!("{} {}", words(rng, 4, arabic), place);
            doc.text = words(rng, 30, arabic);
            doc.places = vec![place];
            if rng.below(3) == 0 {
                let (a, l) = person_name(rng);
                doc.names = vec![if arabic { a } else { l }];
            }
            doc.violations = vec![rng.pick(VIOLATIONS).to_string()];
            if rng.below(4) == 0 {
                doc.violations.push(rng.pick(VIOLATIONS).to_string());
            }
            doc.verification = vec![rng.pick(VERIFICATION).to_string()];
        }
    }
    doc
}

fn queries(rng: &mut Rng) -> Vec<(&'static str, Query)> {
    let mut out = Vec::new();
    let base = |limit| Query {
        limit,
        ..Query::default()
    };
    for i in 0..400 {
        let q = match i % 10 {
            // a full name, Latin spelling variant
            0 => {
                let (_, l1) = rng.pick(GIVEN);
                let (_, lf) = rng.pick(FAMILY);
                (
                    "name (latin)",
                    Query {
                        text: format!("{} {}", l1.replace("oh", "uh"), lf.replace("al-", "el-")),
                        ..base(20)
                    },
                )
            }
            // a full name in Arabic script
            1 => {
                let (a, _) = person_name(rng);
                (
                    "name (arabic)",
                    Query {
                        text: a,
                        ..base(20)
                    },
                )
            }
            // one common given name, all cases: many matches
            2 => {
                let (a, l) = rng.pick(GIVEN);
                let text = if rng.below(2) == 0 { a } else { l };
                (
                    "single name",
                    Query {
                        text: text.to_string(),
                        ..base(20)
                    },
                )
            }
            // free text, English
            3 => (
                "text (en)",
                Query {
                    text: words(rng, 2, false),
                    ..base(20)
                },
            ),
            // free text, Arabic
            4 => (
                "text (ar)",
                Query {
                    text: words(rng, 2, true),
                    ..base(20)
                },
            ),
            // place across scripts with a year
            5 => {
                let (pa, pl) = rng.pick(PLACES);
                let y = 2011 + rng.below(10) as i32;
                (
                    "place + year",
                    Query {
                        place: Some(if rng.below(2) == 0 { pa } else { pl }.to_string()),
                        date: Some((jan1(y), jan1(y + 1) - 1)),
                        ..base(20)
                    },
                )
            }
            // facets only: a kind and a violation
            6 => (
                "facets only",
                Query {
                    kind: Some("incident".into()),
                    violation: Some(rng.pick(VIOLATIONS).to_string()),
                    ..base(20)
                },
            ),
            // access control: 5 cases, with text
            7 => {
                let cases = (0..5)
                    .map(|_| format!("case-{:02}", rng.below(50)))
                    .collect();
                let arabic = rng.below(2) == 0;
                (
                    "cases + text",
                    Query {
                        text: words(rng, 1, arabic),
                        cases: Some(cases),
                        ..base(20)
                    },
                )
            }
            // everything: list all with facets
            8 => ("all records", base(20)),
            // text + kind + date + verification
            _ => {
                let y = 2011 + rng.below(10) as i32;
                (
                    "combined",
                    Query {
                        text: words(rng, 1, false),
                        kind: Some("item".into()),
                        date: Some((jan1(y), jan1(y + 3))),
                        verification: Some(rng.pick(VERIFICATION).to_string()),
                        ..base(20)
                    },
                )
            }
        };
        out.push(q);
    }
    out
}

fn dir_size(p: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(p)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() {
            dir_size(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time (user + system, all threads) of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    // /proc/self/stat: fields 14 and 15 are utime and stime in clock ticks (100 per second
    // on Linux). The command name (field 2) may hold spaces; count from its closing ')'.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    match (f.get(11), f.get(12)) {
        (Some(u), Some(s)) => (u + s) as f64 / 100.0,
        _ => 0.0,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let replace = args.iter().any(|a| a == "--replace");
    let tmp;
    let dir = match args.iter().position(|a| a == "--dir") {
        Some(i) => std::path::PathBuf::from(args.get(i + 1).ok_or("--dir needs a folder")?),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let options = Options::bulk();
    println!(
        "records {n}, writer threads {}, writer memory {} MiB, mode {}",
        options.writer_threads,
        options.writer_memory >> 20,
        if replace { "add (replace)" } else { "add_new" }
    );

    let search_only = args.iter().any(|a| a == "--search-only");
    if !search_only {
        index_all(&dir, options, n, replace)?;
    }
    search_all(&dir)
}

fn index_all(dir: &Path, options: Options, n: usize, replace: bool) -> Result<(), Box<dyn Error>> {
    let t = Instant::now();
    let mut rng = Rng(0x00a7_4a25_eed5);
    let docs: Vec<Doc> = (0..n).map(|i| generate(i, &mut rng)).collect();
    let gen = t.elapsed();
    println!("generated in {:.2} s", gen.as_secs_f64());

    let mut index = SearchIndex::open_or_create_with(dir, options)?;
    println!("load average before indexing: {}", load_average());
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    for d in &docs {
        if replace {
            index.add(d)?;
        } else {
            index.add_new(d)?;
        }
    }
    let added = t.elapsed();
    index.commit()?;
    let committed = t.elapsed();
    index.close()?;
    let merged = t.elapsed();
    drop(docs);
    let cpu = cpu_seconds() - cpu0;
    let secs = committed.as_secs_f64();
    println!(
        "indexed: add {:.2} s, commit at {:.2} s → {:.0} records/s (with generation {:.0}/s); merges done at {:.2} s",
        added.as_secs_f64(),
        secs,
        n as f64 / secs,
        n as f64 / (secs + gen.as_secs_f64()),
        merged.as_secs_f64()
    );
    println!(
        "indexing CPU time {cpu:.1} s (user+system, all threads) → {:.0} records per CPU-second; load average after: {}",
        n as f64 / cpu,
        load_average()
    );
    let size = dir_size(dir)?;
    println!(
        "index size {:.1} MiB ({:.0} bytes/record)",
        size as f64 / (1 << 20) as f64,
        size as f64 / n as f64
    );
    let (peak, now) = rss();
    println!("RSS after indexing: peak {peak} MiB (includes the generated records), now {now} MiB");
    Ok(())
}

fn search_all(dir: &Path) -> Result<(), Box<dyn Error>> {
    let index = SearchIndex::open_or_create(dir)?;
    println!("records visible: {}", index.num_docs());
    let mut rng = Rng(0x0000_5ea7_c4e5);
    let qs = queries(&mut rng);
    // warm-up: one pass (page cache, mmap)
    for (_, q) in &qs {
        index.search(q)?;
    }
    println!("load average before searching: {}", load_average());
    let cpu0 = cpu_seconds();
    let mut all = Vec::with_capacity(qs.len());
    let mut by_kind: Vec<(&str, Vec<Duration>, u64)> = Vec::new();
    for (kind, q) in &qs {
        let t = Instant::now();
        let r = index.search(q)?;
        let d = t.elapsed();
        all.push(d);
        match by_kind.iter_mut().find(|(k, _, _)| k == kind) {
            Some((_, v, total)) => {
                v.push(d);
                *total += r.total;
            }
            None => by_kind.push((kind, vec![d], r.total)),
        }
    }
    let cpu = cpu_seconds() - cpu0;
    println!(
        "search CPU time {:.2} ms per query on average; load average after: {}",
        cpu * 1000.0 / qs.len() as f64,
        load_average()
    );
    all.sort();
    println!(
        "search over {} queries: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        all.len(),
        pct(&all, 0.5),
        pct(&all, 0.95),
        pct(&all, 1.0)
    );
    for (kind, mut v, total) in by_kind {
        v.sort();
        println!(
            "  {kind:14} n={:3}  p50 {:6.2} ms  p95 {:6.2} ms  mean matched {:.0}",
            v.len(),
            pct(&v, 0.5),
            pct(&v, 0.95),
            total as f64 / v.len() as f64
        );
    }
    let (peak, now) = rss();
    println!("RSS after searching: peak {peak} MiB, now {now} MiB");
    Ok(())
}
