//! Synthetic victim lists for measuring linkage (never real people): K lists drawn from one
//! population with overlaps, each list with its own habits — Arabic script or one
//! romanisation style, name parts in columns or one whole name, birth as a year or a date,
//! the date of death or detention to the day, the month or the year, the place as a village
//! or its governorate — and errors: dropped and swapped name parts, typos, missing fields,
//! birth years off by one, day and month swapped, dates a month off.
//!
//! Included with `name_variants.rs` (from `athar-search`'s tests) by the linkage test and
//! the `link_eval` example.

#![allow(dead_code)] // each includer uses part of it

use athar_link::{Interval, Record};

use crate::name_variants::{
    arabic_name, latin_name, population, Order, Rng, Style, SynthPerson, Variation, FEMALE,
};

/// Public place names (governorates) and synthetic villages in each.
const GOVERNORATES: [&str; 14] = [
    "Damascus",
    "Rif Dimashq",
    "Aleppo",
    "Homs",
    "Hama",
    "Idlib",
    "Daraa",
    "Deir ez-Zor",
    "Raqqa",
    "Hasakah",
    "Latakia",
    "Tartus",
    "Quneitra",
    "Suwayda",
];

/// How one list writes its records.
#[derive(Clone, Copy, Debug)]
pub struct Habit {
    /// None: Arabic script; Some: this romanisation.
    pub style: Option<Style>,
    /// Name parts in their own columns (else one whole name).
    pub parts: bool,
    /// Share of the population this list holds, in percent.
    pub coverage: u64,
    /// Percent of records with an error in the name (a typo, a dropped or swapped part).
    pub name_errors: u64,
}

/// The habits of `k` lists: alternating scripts and styles.
pub fn habits(k: usize) -> Vec<Habit> {
    let styles = [
        None,
        Some(Style::Levantine),
        None,
        Some(Style::English),
        Some(Style::French),
        None,
        Some(Style::Turkish),
        Some(Style::Gulf),
    ];
    (0..k)
        .map(|i| Habit {
            style: styles[i % styles.len()],
            parts: i % 2 == 0,
            coverage: [55, 45, 35, 50, 40, 30, 45, 35][i % 8],
            name_errors: 10,
        })
        .collect()
}

/// The lists: records and, for each, the true person it belongs to.
pub struct Lists {
    pub records: Vec<Record>,
    pub truth: Vec<usize>,
}

struct Facts {
    person: SynthPerson,
    mother: usize,
    sex: char,
    birth: (i32, u32, u32),
    date: (i32, u32, u32),
    governorate: usize,
    village: usize,
}

/// `persons` synthetic persons written by `k` lists.
pub fn lists(seed: u64, persons: usize, k: usize) -> Lists {
    lists_with_namesakes(seed, persons, k, 0)
}

/// [`lists`] of `persons` persons and `namesakes` more for each, sharing two of its given,
/// father's and family names (the hard cases of precision).
pub fn lists_with_namesakes(seed: u64, persons: usize, k: usize, namesakes: usize) -> Lists {
    let mut rng = Rng(seed);
    let people = population(&mut rng, persons, namesakes);
    let facts: Vec<Facts> = people
        .into_iter()
        .map(|p| {
            let sex = if p.female { 'f' } else { 'm' };
            Facts {
                mother: rng.below(FEMALE.len()),
                sex,
                birth: (
                    1950 + rng.below(55) as i32,
                    1 + rng.below(12) as u32,
                    1 + rng.below(28) as u32,
                ),
                date: (
                    2011 + rng.below(9) as i32,
                    1 + rng.below(12) as u32,
                    1 + rng.below(28) as u32,
                ),
                governorate: rng.below(GOVERNORATES.len()),
                village: rng.below(12),
                person: p,
            }
        })
        .collect();
    let mut out = Lists {
        records: Vec::new(),
        truth: Vec::new(),
    };
    for (li, habit) in habits(k).into_iter().enumerate() {
        let list = format!("list-{}", li + 1);
        for (pi, f) in facts.iter().enumerate() {
            if !rng.chance(habit.coverage) {
                continue;
            }
            let rec = record(&mut rng, &list, out.records.len(), habit, f);
            out.records.push(rec);
            out.truth.push(pi);
        }
    }
    out
}

fn record(rng: &mut Rng, list: &str, n: usize, habit: Habit, f: &Facts) -> Record {
    let variation = Variation {
        typo_percent: if rng.chance(habit.name_errors) {
            100
        } else {
            0
        },
        drop_article_percent: 30,
        order: Order::GivenFatherFamily,
    };
    let write = |rng: &mut Rng, p: &SynthPerson, v: &Variation| match habit.style {
        None => arabic_name(p, rng, v),
        Some(style) => latin_name(p, rng, style, v),
    };
    let whole = write(rng, &f.person, &variation);
    let mut parts = athar_link::compare::split_name(&whole);
    // Errors in the name: the father's name left out, or given and father swapped.
    if rng.chance(habit.name_errors / 2) && parts.len() >= 3 {
        parts.remove(1);
    } else if rng.chance(habit.name_errors / 3) && parts.len() >= 3 {
        parts.swap(0, 1);
    }
    let mut r = Record {
        id: format!("r{n}"),
        list: list.to_owned(),
        ..Record::default()
    };
    if habit.parts && parts.len() >= 2 {
        r.given = parts[0].clone();
        r.family = parts[parts.len() - 1].clone();
        if parts.len() >= 3 {
            r.father = parts[1].clone();
        }
    }
    r.name = parts.join(" ");
    if rng.chance(60) {
        let mother = SynthPerson {
            given: f.mother,
            father: 0,
            grandfather: None,
            family: f.person.family,
            female: true,
        };
        let m = write(rng, &mother, &Variation::CLEAN);
        r.mother = athar_link::compare::split_name(&m)
            .into_iter()
            .next()
            .unwrap_or_default();
    }
    if !rng.chance(10) {
        r.sex = Some(f.sex);
    }
    if !rng.chance(30) {
        let (mut y, m, d) = f.birth;
        if rng.chance(10) {
            y += if rng.chance(50) { 1 } else { -1 };
        }
        let text = if rng.chance(60) {
            format!("{y}")
        } else {
            format!("{y}-{m:02}-{d:02}")
        };
        r.birth = Interval::parse(&text);
    }
    if !rng.chance(10) {
        let (y, mut m, mut d) = f.date;
        if rng.chance(5) && d <= 12 {
            std::mem::swap(&mut m, &mut d);
        } else if rng.chance(5) {
            m = if m == 12 { 11 } else { m + 1 };
        }
        let text = match rng.below(10) {
            0..=1 => format!("{y}"),
            2..=3 => format!("{y}-{m:02}"),
            _ => format!("{y}-{m:02}-{d:02}"),
        };
        r.date = Interval::parse(&text);
    }
    if !rng.chance(10) {
        let gov = GOVERNORATES[f.governorate].to_owned();
        r.place = if rng.chance(40) {
            vec![gov]
        } else {
            vec![format!("Village {} of {gov}", f.village + 1), gov]
        };
    }
    r
}

/// Pairwise precision, recall and F1 of the persons found (`of`: each record's cluster),
/// and B-cubed precision, recall and F1.
pub fn score(truth: &[usize], of: &[Option<u32>]) -> [f64; 6] {
    use std::collections::HashMap;
    let mut by_truth: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut by_found: HashMap<u32, Vec<usize>> = HashMap::new();
    for (r, &t) in truth.iter().enumerate() {
        by_truth.entry(t).or_default().push(r);
        if let Some(c) = of[r] {
            by_found.entry(c).or_default().push(r);
        }
    }
    let pairs = |n: usize| (n * n.saturating_sub(1) / 2) as f64;
    let true_pairs: f64 = by_truth.values().map(|v| pairs(v.len())).sum();
    let found_pairs: f64 = by_found.values().map(|v| pairs(v.len())).sum();
    let mut correct = 0.0;
    for members in by_found.values() {
        let mut per: HashMap<usize, usize> = HashMap::new();
        for &r in members {
            *per.entry(truth[r]).or_default() += 1;
        }
        correct += per.values().map(|&n| pairs(n)).sum::<f64>();
    }
    let p = correct / found_pairs.max(1.0);
    let r = correct / true_pairs.max(1.0);
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    // B-cubed over records: a record's found cluster (itself alone when unlinked).
    let (mut bp, mut br) = (0.0, 0.0);
    for (rec, &t) in truth.iter().enumerate() {
        let found: Vec<usize> = match of[rec] {
            Some(c) => by_found[&c].clone(),
            None => vec![rec],
        };
        let same = found.iter().filter(|&&x| truth[x] == t).count() as f64;
        bp += same / found.len() as f64;
        br += same / by_truth[&t].len() as f64;
    }
    let n = truth.len().max(1) as f64;
    let (bp, br) = (bp / n, br / n);
    let bf = if bp + br > 0.0 {
        2.0 * bp * br / (bp + br)
    } else {
        0.0
    };
    [p, r, f, bp, br, bf]
}
