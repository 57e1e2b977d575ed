//! Ranked name search measured the way users meet it: a person is stored in one script or
//! spelling and looked for in another, among namesakes who share two of their three names.
//!
//! Included (with `name_variants.rs`) by the test `name_search.rs` (a small run with the
//! targets as assertions) and the example `name_eval` (the full run for `bench/names.sh`).
//!
//! * [`synthetic`]: persons from the generator in `name_variants.rs`, each stored once —
//!   in standard Arabic, Arabic as typed, or one Latin style — and searched in every other
//!   Latin style, in Arabic when stored in Latin, and family name first.
//! * [`from_pairs`]: persons made of name parts from published Arabic–Latin spelling
//!   pairs (`bench/name_pairs.py`), stored in one script and searched in the other.
//!
//! [`run`] indexes the persons with [`SearchIndex`], runs every query, and tallies, per kind
//! of query, how often the person is the first hit, in the first five, missing, or preceded
//! by a namesake.

#![allow(dead_code)] // each includer uses part of it

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use athar_search::{Doc, Query, SearchIndex};

use crate::name_variants::{
    arabic_name, arabic_standard, latin_name, population, Order, Rng, Style, SynthPerson, Variation,
};

/// Persons to index and the queries to run against them.
pub struct EvalSet {
    /// Stored names, one per person; person `i` is `p{i}`.
    pub stored: Vec<String>,
    /// For each person, the others sharing two of its three names (its namesakes).
    pub namesakes: Vec<Vec<usize>>,
    /// (kind of query, text, the person looked for).
    pub queries: Vec<(String, String, usize)>,
    /// What the set is made of, for the report.
    pub description: String,
}

/// Sizes and rates of a synthetic set.
#[derive(Clone, Copy, Debug)]
pub struct Synthetic {
    pub seed: u64,
    /// Persons looked for.
    pub looked_for: usize,
    /// Namesakes of each (sharing exactly two of given, father, family name).
    pub namesakes: usize,
    /// Percent of queries with one typo in one word.
    pub typo_percent: u64,
}

/// The synthetic set: persons stored 40 % in standard Arabic, 15 % in Arabic as typed,
/// 45 % in one Latin style; each looked-for person queried in every Latin style (when stored
/// in Arabic) or in Arabic twice and two other Latin styles (when stored in Latin), and once
/// family name first.
pub fn synthetic(s: Synthetic) -> EvalSet {
    let mut rng = Rng(s.seed);
    let people = population(&mut rng, s.looked_for, s.namesakes);
    let clean = Variation::CLEAN;
    let mut stored = Vec::with_capacity(people.len());
    let mut stored_style: Vec<Option<Style>> = Vec::with_capacity(people.len());
    for p in &people {
        let r = rng.below(100);
        if r < 40 {
            stored.push(arabic_standard(p, Order::GivenFatherFamily));
            stored_style.push(None);
        } else if r < 55 {
            stored.push(arabic_name(p, &mut rng, &clean));
            stored_style.push(None);
        } else {
            let style = *rng.pick(&Style::ALL);
            stored.push(latin_name(p, &mut rng, style, &clean));
            stored_style.push(Some(style));
        }
    }
    let vary = |rng: &mut Rng, order: Order| Variation {
        typo_percent: s.typo_percent,
        drop_article_percent: if rng.chance(30) { 100 } else { 0 },
        order,
    };
    let mut queries = Vec::new();
    let looked_for = s.looked_for.min(people.len());
    for (i, p) in people.iter().enumerate().take(looked_for) {
        let mut push = |kind: String, text: String| {
            if !same_spelling(&text, &stored[i]) {
                queries.push((kind, text, i));
            }
        };
        match stored_style[i] {
            None => {
                for style in Style::ALL {
                    let v = vary(&mut rng, Order::GivenFatherFamily);
                    push(
                        format!("arabic → {}", style.name()),
                        latin_name(p, &mut rng, style, &v),
                    );
                }
            }
            Some(from) => {
                let v = vary(&mut rng, Order::GivenFatherFamily);
                push("latin → arabic".into(), arabic_name(p, &mut rng, &v));
                push(
                    "latin → arabic".into(),
                    arabic_standard(p, Order::GivenFatherFamily),
                );
                for _ in 0..2 {
                    let style = *rng.pick(&Style::ALL);
                    if style == from {
                        continue;
                    }
                    let v = vary(&mut rng, Order::GivenFatherFamily);
                    push(
                        format!("latin → {}", style.name()),
                        latin_name(p, &mut rng, style, &v),
                    );
                }
            }
        }
        let v = vary(&mut rng, Order::FamilyFirst);
        let text = if stored_style[i].is_some() {
            arabic_name(p, &mut rng, &v)
        } else {
            let style = *rng.pick(&Style::ALL);
            latin_name(p, &mut rng, style, &v)
        };
        push("family name first".into(), text);
    }
    let namesakes = namesakes_of(&people, looked_for);
    EvalSet {
        stored,
        namesakes,
        queries,
        description: format!(
            "synthetic: {} persons ({looked_for} looked for, each with {} namesakes sharing two \
             of given/father/family name), typos in {} % of queries",
            people.len(),
            s.namesakes,
            s.typo_percent
        ),
    }
}

fn namesakes_of(people: &[SynthPerson], looked_for: usize) -> Vec<Vec<usize>> {
    let parts: Vec<[usize; 3]> = people
        .iter()
        .map(|p| [p.given * 2 + usize::from(p.female), p.father, p.family])
        .collect();
    shares_two(&parts, looked_for)
}

/// For each of the first `looked_for` persons, the others with exactly two of the three
/// parts in common.
fn shares_two(parts: &[[usize; 3]], looked_for: usize) -> Vec<Vec<usize>> {
    let mut by_pair: std::collections::HashMap<(usize, usize, usize), Vec<usize>> =
        std::collections::HashMap::new();
    for (i, p) in parts.iter().enumerate() {
        for (k, (a, b)) in [(p[0], p[1]), (p[0], p[2]), (p[1], p[2])]
            .into_iter()
            .enumerate()
        {
            by_pair.entry((k, a, b)).or_default().push(i);
        }
    }
    (0..parts.len())
        .map(|i| {
            if i >= looked_for {
                return Vec::new();
            }
            let p = parts[i];
            let mut out: Vec<usize> = [(p[0], p[1]), (p[0], p[2]), (p[1], p[2])]
                .into_iter()
                .enumerate()
                .flat_map(|(k, (a, b))| by_pair.get(&(k, a, b)).cloned().unwrap_or_default())
                .filter(|&j| j != i)
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect()
}

/// The same spelling up to case and spacing: not a query in another spelling.
fn same_spelling(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// A set from published spelling pairs (`arabic`, `latin` per line): persons of three
/// Arabic name units that have Latin spellings, each with `namesakes` namesakes sharing
/// two units; half stored in Arabic and searched in Latin (a random published spelling of
/// each unit), half the other way round.
pub fn from_pairs(
    pairs: &[(String, String)],
    seed: u64,
    looked_for: usize,
    namesakes: usize,
) -> EvalSet {
    let mut by_arabic: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (ar, la) in pairs {
        by_arabic.entry(ar.as_str()).or_default().push(la.as_str());
    }
    let units: Vec<(&str, Vec<&str>)> = by_arabic.into_iter().collect();
    let mut rng = Rng(seed);
    let mut seen = std::collections::HashSet::new();
    let mut persons: Vec<[usize; 3]> = Vec::new();
    let draw = |rng: &mut Rng| {
        [
            rng.below(units.len()),
            rng.below(units.len()),
            rng.below(units.len()),
        ]
    };
    while persons.len() < looked_for && !units.is_empty() {
        let p = draw(&mut rng);
        if p[0] != p[1] && seen.insert(p) {
            persons.push(p);
        }
    }
    let targets = persons.len();
    for t in 0..targets {
        for j in 0..namesakes {
            let mut q = persons[t];
            q[j % 3] = rng.below(units.len());
            if seen.insert(q) {
                persons.push(q);
            }
        }
    }
    let render_ar = |p: &[usize; 3]| p.iter().map(|&u| units[u].0).collect::<Vec<_>>().join(" ");
    let render_la = |p: &[usize; 3], rng: &mut Rng| {
        p.iter()
            .map(|&u| *rng.pick(&units[u].1))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut stored = Vec::with_capacity(persons.len());
    let mut arabic_stored = Vec::with_capacity(persons.len());
    for p in &persons {
        if rng.chance(50) {
            stored.push(render_ar(p));
            arabic_stored.push(true);
        } else {
            stored.push(render_la(p, &mut rng));
            arabic_stored.push(false);
        }
    }
    let mut queries = Vec::new();
    for (i, p) in persons.iter().enumerate().take(targets) {
        if arabic_stored[i] {
            for _ in 0..2 {
                let text = render_la(p, &mut rng);
                queries.push(("published: arabic → latin".to_owned(), text, i));
            }
        } else {
            queries.push(("published: latin → arabic".to_owned(), render_ar(p), i));
            let text = render_la(p, &mut rng);
            if !same_spelling(&text, &stored[i]) {
                queries.push(("published: latin → latin".to_owned(), text, i));
            }
        }
    }
    let namesakes_of = shares_two(&persons, targets);
    EvalSet {
        stored,
        namesakes: namesakes_of,
        queries,
        description: format!(
            "published pairs: {} Arabic name units with {} Latin spellings; {} persons \
             ({targets} looked for, {namesakes} namesakes each)",
            units.len(),
            pairs.len(),
            persons.len()
        ),
    }
}

/// How one kind of query fared.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub queries: usize,
    /// The person was the first hit.
    pub first: usize,
    /// The person was among the first five hits.
    pub top5: usize,
    /// The person was not among the hits at all.
    pub missing: usize,
    /// A namesake came before the person (or instead of them).
    pub namesake_first: usize,
    /// Queries with at least one hit.
    pub answered: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.queries += o.queries;
        self.first += o.first;
        self.top5 += o.top5;
        self.missing += o.missing;
        self.namesake_first += o.namesake_first;
        self.answered += o.answered;
    }

    pub fn at1(&self) -> f64 {
        self.first as f64 / self.queries.max(1) as f64
    }

    pub fn at5(&self) -> f64 {
        self.top5 as f64 / self.queries.max(1) as f64
    }

    /// Of the queries answered, the share whose first hit is the person.
    pub fn precision(&self) -> f64 {
        self.first as f64 / self.answered.max(1) as f64
    }
}

/// What [`run`] measured.
pub struct Outcome {
    pub by_kind: BTreeMap<String, Tally>,
    pub all: Tally,
    /// Time of each search, in the order run.
    pub times: Vec<Duration>,
    /// Queries whose person was not first (up to `ATHAR_NAME_EVAL_MISSES`, default 40):
    /// (kind, query, stored, first hit).
    pub misses: Vec<(String, String, String, String)>,
}

impl Outcome {
    /// The report as text: one line per kind and the total.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "kind                         queries  first   top 5  missing  namesake first  precision\n",
        );
        let line = |k: &str, t: &Tally| {
            format!(
                "{k:28} {:7}  {:.3}   {:.3}  {:7}  {:14}  {:.3}\n",
                t.queries,
                t.at1(),
                t.at5(),
                t.missing,
                t.namesake_first,
                t.precision()
            )
        };
        for (k, t) in &self.by_kind {
            out.push_str(&line(k, t));
        }
        out.push_str(&line("all", &self.all));
        let mut ms: Vec<f64> = self.times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        if !ms.is_empty() {
            let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
            out.push_str(&format!(
                "search time in process: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms\n",
                at(0.5),
                at(0.95),
                at(1.0)
            ));
        }
        out
    }
}

/// How many misses [`run`] keeps: `ATHAR_NAME_EVAL_MISSES`, 40 by default.
fn max_misses() -> usize {
    std::env::var("ATHAR_NAME_EVAL_MISSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// Index `set` in `dir` and run its queries.
pub fn run(set: &EvalSet, dir: &std::path::Path) -> Outcome {
    let mut index = SearchIndex::open_or_create(dir).expect("index");
    for (i, name) in set.stored.iter().enumerate() {
        index
            .add_new(&Doc {
                id: format!("p{i}"),
                kind: "person".into(),
                cases: vec![format!("case-{}", i % 3)],
                title: name.clone(),
                names: vec![name.clone()],
                ..Doc::default()
            })
            .expect("add");
    }
    index.commit().expect("commit");
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let mut times = Vec::with_capacity(set.queries.len());
    let mut misses = Vec::new();
    for (kind, text, want) in &set.queries {
        let started = Instant::now();
        let res = index
            .search(&Query {
                text: text.clone(),
                limit: 10,
                ..Query::default()
            })
            .expect("search");
        times.push(started.elapsed());
        let ids: Vec<usize> = res
            .hits
            .iter()
            .filter_map(|h| h.id.strip_prefix('p')?.parse().ok())
            .collect();
        let rank = ids.iter().position(|i| i == want);
        let t = by_kind.entry(kind.clone()).or_default();
        t.queries += 1;
        t.answered += usize::from(!ids.is_empty());
        t.first += usize::from(rank == Some(0));
        t.top5 += usize::from(rank.is_some_and(|r| r < 5));
        t.missing += usize::from(rank.is_none());
        let before = &ids[..rank.unwrap_or(ids.len())];
        t.namesake_first += usize::from(before.iter().any(|j| set.namesakes[*want].contains(j)));
        if rank != Some(0) && misses.len() < max_misses() {
            let first = ids
                .first()
                .map(|&j| set.stored[j].clone())
                .unwrap_or_default();
            misses.push((kind.clone(), text.clone(), set.stored[*want].clone(), first));
        }
    }
    let mut all = Tally::default();
    for t in by_kind.values() {
        all.add(t);
    }
    Outcome {
        by_kind,
        all,
        times,
        misses,
    }
}
