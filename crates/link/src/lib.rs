//! Record linkage of persons across lists: which records of several victim lists are the
//! same person.
//!
//! * [`Record`]: one row of one list (names in any script, sex, birth, date and place of
//!   death or detention). Lists are taken to be deduplicated: two records of one list are
//!   never the same person.
//! * [`link`]: blocking ([`block`]: name keys of given, father's and family name, either of
//!   the first two in either place, and passes with the birth year and place, so a person
//!   whose family name is misspelt is still compared), comparison of every field
//!   ([`compare`]: names through the names engine of `athar-search`, each spelling read once
//!   and compared only with names whose keys are alike; given and father's names also
//!   crosswise; dates as intervals with swapped day and month, places with their hierarchy),
//!   Fellegi–Sunter weights ([`model`]: u from random pairs, m by expectation–maximisation,
//!   no labels needed: the names' on pairs blocked on other fields, the other fields' on the
//!   pairs whose given and family names agree, read with the other names; the prior is the
//!   probability that two random records match, not the share among candidates, so that
//!   namesakes multiplying with the lists do not pass for matches), term-frequency
//!   adjustments (agreeing on a rare name weighs more than on a common one, every spelling of
//!   a name counted together), the lists' own constraint (a record has at most one match in
//!   another list: a pair's probability weighs its rivals and how much the lists overlap),
//!   and clustering ([`cluster`]) that takes pairs best first and never puts two records of
//!   one list in one person, so one weak link cannot chain unrelated records. Comparison
//!   runs on every core.
//!
//! Every pair comes with its match probability and the weight of each field (the
//! explanation a reviewer sees).
//!
//! Status: on four synthetic lists mixing Arabic and Latin spellings (`tests/linkage.rs`,
//! 2,708 records of 1,500 persons) pairwise F1 0.993 and B-cubed F1 0.996; with a namesake
//! for every person 0.991. With `bench/linkage.sh` on two cores: 18,473 records F1 0.991 in
//! under a second; 111,221 records F1 0.984 in about 5 s and 0.3 GiB (Splink 5.0: 0.34 in
//! 40–50 s and 11 GiB); 499,768 records F1 0.973 in about 26 s and 1.6 GiB; FEBRL 4 0.983
//! (Splink 0.965).
//! `athar_core::persons` runs it on a case's person records (`athar persons link`, the
//! review queue of the web app), bound by reviewers' decisions ([`link_with`]).
//!
//! What this crate must not do: read or write storage, or know what a record of the
//! documentation model is; the caller turns its persons into [`Record`]s.
#![forbid(unsafe_code)]

pub mod block;
pub mod cluster;
pub mod compare;
pub mod model;
pub mod record;

pub use cluster::{clusters, clusters_with, Clusters};
pub use compare::{Field, Level, FIELDS};
pub use model::{Model, Options, Pair};
pub use record::{Interval, Record};

use std::collections::HashMap;

/// What [`link`] found.
#[derive(Debug)]
pub struct Linkage {
    /// Every candidate pair with a probability of at least 0.0001, and every pair reviewers
    /// decided, with its probability, best first (the others, most of the candidates of large
    /// lists, are different persons beyond doubt).
    pub pairs: Vec<Pair>,
    /// The model estimated on these records.
    pub model: Model,
    /// Persons: the records of each cluster (indices into the input), several lists each.
    pub clusters: Clusters,
    /// How many candidate pairs blocking produced.
    pub candidates: usize,
}

/// A reviewer's decision on two records (indices into the input): one person or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub a: u32,
    pub b: u32,
    pub same: bool,
}

/// The least probability of a candidate pair kept in [`Linkage::pairs`].
const KEEP: f64 = 1e-4;

/// How much the model's own estimate of m weighs against reviewers' decisions, in pairs.
const REFINE_STRENGTH: f64 = 100.0;

/// Link `records`: block, compare, estimate the model, score every candidate pair, and
/// cluster the pairs at or above `options.accept`.
pub fn link(records: &[Record], options: &Options) -> Linkage {
    link_with(records, options, &[])
}

/// [`link`], bound by reviewers' `decisions`: pairs decided one person refine the model's
/// m and are linked (probability 1) whatever the model says, pairs decided different are
/// never in one person (probability 0).
pub fn link_with(records: &[Record], options: &Options, decisions: &[Decision]) -> Linkage {
    let prepared = compare::Prepared::new(records);
    let mut sims = compare::Similarities::default();
    let candidates = block::candidates(&prepared);
    let vectors = compare::vectors(&prepared, &candidates, &mut sims);
    let training = compare::vectors(&prepared, &block::training_pairs(&prepared), &mut sims);
    let mut model = model::estimate(&prepared, &vectors, &training, &mut sims, options);
    let frequencies = compare::Frequencies::new(&prepared, &sims);
    let key = |a: u32, b: u32| (a.min(b), a.max(b));
    let decided: HashMap<(u32, u32), bool> = decisions
        .iter()
        .filter(|d| d.a != d.b && (d.a as usize) < records.len() && (d.b as usize) < records.len())
        .map(|d| (key(d.a, d.b), d.same))
        .collect();
    let same: Vec<_> = decided
        .iter()
        .filter(|(_, &same)| same)
        .map(|(&(a, b), _)| compare::compare(&prepared, a as usize, b as usize, &sims))
        .collect();
    model.refine(&same, REFINE_STRENGTH);
    let score_pair = |a: u32, b: u32, v: &[Level; 9]| {
        model.pair_with(
            a,
            b,
            v,
            &frequencies.adjustments(&prepared, &model.u, a, b, v),
        )
    };
    // Weights by field and level once, so that the pairs left out cost a few additions.
    let table: Vec<Vec<f64>> = model
        .m
        .iter()
        .zip(&model.u)
        .map(|(m, u)| m.iter().zip(u).map(|(m, u)| (m / u).log2()).collect())
        .collect();
    let least = (model.lambda / (1.0 - model.lambda)).log2() - (KEEP / (1.0 - KEEP)).log2();
    let mut pairs: Vec<Pair> = parallel(&candidates, |start, chunk| {
        chunk
            .iter()
            .zip(&vectors[start..])
            .filter(|(&(a, b), v)| {
                let adjust = frequencies.adjustments(&prepared, &model.u, a, b, v);
                let total: f64 = v
                    .iter()
                    .enumerate()
                    .filter(|&(_, &l)| l != 0)
                    .map(|(f, &l)| table[f][l as usize] + adjust[f])
                    .sum();
                total + least >= -1e-9 || decided.contains_key(&key(a, b))
            })
            .map(|(&(a, b), v)| score_pair(a, b, v))
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    drop(vectors);
    one_to_one(&prepared, &mut pairs, model.lambda);
    // Decided pairs that blocking did not propose (the candidates are sorted).
    for &(a, b) in decided
        .keys()
        .filter(|&&k| candidates.binary_search(&k).is_err())
    {
        let v = compare::compare(&prepared, a as usize, b as usize, &sims);
        pairs.push(score_pair(a, b, &v));
    }
    for p in &mut pairs {
        if let Some(&same) = decided.get(&key(p.a, p.b)) {
            p.probability = if same { 1.0 } else { 0.0 };
        }
    }
    pairs.sort_by(|x, y| y.probability.total_cmp(&x.probability));
    let mut score = |a: u32, b: u32| match decided.get(&key(a, b)) {
        Some(&same) => f64::from(u8::from(same)),
        None => {
            let v = compare::compare(&prepared, a as usize, b as usize, &sims);
            score_pair(a, b, &v).probability
        }
    };
    let forced = |a: u32, b: u32| decided.get(&key(a, b)) == Some(&true);
    let clusters = cluster::clusters_with(
        records,
        &pairs,
        options.accept,
        options.review,
        &mut score,
        &forced,
    );
    Linkage {
        candidates: candidates.len(),
        pairs,
        model,
        clusters,
    }
}

/// The probability of each pair with the lists' own constraint: a record has at most one
/// match in another list. Fellegi–Sunter weighs each pair alone against the prior λ; but if
/// a share π of list A's records have a match in list B, record a's match there (if any) is
/// one of its candidates, so
///
/// P(a ~ b) = λ·LR(a, b) / ((1 − π) + Σ over a's candidates c in B of λ·LR(a, c)),
///
/// which is higher when b is a's only likely candidate and lists overlap much, and lower
/// when a has namesakes in B as likely as b. π is the matches Fellegi–Sunter expects between
/// the two lists over the size of A; each pair keeps the lesser of its two sides' values.
fn one_to_one(p: &compare::Prepared<'_>, pairs: &mut [Pair], lambda: f64) {
    use compare::FxMap;
    let list = |r: u32| u64::from(p.lists[r as usize]);
    let mut size: FxMap<u64, f64> = FxMap::default();
    for &l in &p.lists {
        *size.entry(u64::from(l)).or_default() += 1.0;
    }
    // λ·LR from the probability: odds = λ / (1 − λ) · LR.
    let q = |p: f64| {
        let p = p.clamp(0.0, 1.0 - 1e-12);
        p / (1.0 - p) * (1.0 - lambda)
    };
    let mut sums: FxMap<u64, f64> = FxMap::default();
    let mut expected: FxMap<u64, f64> = FxMap::default();
    for pair in pairs.iter() {
        let (la, lb) = (list(pair.a), list(pair.b));
        *sums.entry((u64::from(pair.a) << 32) | lb).or_default() += q(pair.probability);
        *sums.entry((u64::from(pair.b) << 32) | la).or_default() += q(pair.probability);
        *expected.entry((la << 32) | lb).or_default() += pair.probability;
        *expected.entry((lb << 32) | la).or_default() += pair.probability;
    }
    for pair in pairs.iter_mut() {
        let (la, lb) = (list(pair.a), list(pair.b));
        let qab = q(pair.probability);
        let side = |x: u32, from: u64, to: u64| {
            let share = expected.get(&((from << 32) | to)).copied().unwrap_or(0.0)
                / size.get(&from).copied().unwrap_or(1.0);
            let rest = 1.0 - share.clamp(0.0, 0.99);
            let all = sums
                .get(&((u64::from(x) << 32) | to))
                .copied()
                .unwrap_or(qab);
            qab / (rest + all)
        };
        pair.probability = side(pair.a, la, lb)
            .min(side(pair.b, lb, la))
            .clamp(0.0, 1.0);
    }
}

/// `work` on each of a few chunks of `items`, one per core, in order.
/// (`work` gets the index of its chunk's first item.)
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads <= 1 || items.len() < 1024 {
        return vec![work(0, items)];
    }
    let size = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(size)
            .enumerate()
            .map(|(i, chunk)| s.spawn(move || work(i * size, chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}
