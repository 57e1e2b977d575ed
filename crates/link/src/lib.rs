//! Record linkage of persons across lists: which records of several victim lists are the
//! same person.
//!
//! * [`Record`]: one row of one list (names in any script, sex, birth, date and place of
//!   death or detention). Lists are taken to be deduplicated: two records of one list are
//!   never the same person.
//! * [`link`]: blocking ([`block`]: name keys of given, father's and family name, and passes
//!   with the birth year, so a person whose family name is misspelt is still compared),
//!   comparison of every field ([`compare`]: names through the names engine of
//!   `athar-search`, dates as intervals with swapped day and month, places with their
//!   hierarchy), Fellegi–Sunter weights ([`model`]: u from random pairs, m by
//!   expectation–maximisation, no labels needed: the names' on pairs blocked on other
//!   fields, the other fields' on the pairs blocked on names), and clustering
//!   ([`cluster`]) that takes pairs best first and never puts two records of one list in one
//!   person, so one weak link cannot chain unrelated records.
//!
//! Every pair comes with its match probability and the weight of each field (the
//! explanation a reviewer sees).
//!
//! Status: on four synthetic lists mixing Arabic and Latin spellings (`tests/linkage.rs`,
//! 2,708 records of 1,500 persons) pairwise F1 0.977 and B-cubed F1 0.989; on 18,473 records
//! 0.946, on 111,221 records 0.882; on FEBRL 4 0.992 (`bench/linkage.sh`, beside Splink).
//! Not yet wired to the CLI, the catalog or review.
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

/// What [`link`] found.
#[derive(Debug)]
pub struct Linkage {
    /// Every candidate pair with its probability, best first.
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
    let candidates = block::candidates(&prepared);
    let vectors = compare::vectors(&prepared, &candidates);
    let training = compare::vectors(&prepared, &block::training_pairs(&prepared));
    let mut model = model::estimate(&prepared, &vectors, &training, options);
    let key = |a: u32, b: u32| (a.min(b), a.max(b));
    let decided: std::collections::HashMap<(u32, u32), bool> = decisions
        .iter()
        .filter(|d| d.a != d.b && (d.a as usize) < records.len() && (d.b as usize) < records.len())
        .map(|d| (key(d.a, d.b), d.same))
        .collect();
    let mut cache = std::collections::HashMap::new();
    let same: Vec<_> = decided
        .iter()
        .filter(|(_, &same)| same)
        .map(|(&(a, b), _)| compare::compare(&prepared, a as usize, b as usize, &mut cache))
        .collect();
    model.refine(&same, REFINE_STRENGTH);
    let mut pairs: Vec<Pair> = candidates
        .iter()
        .zip(&vectors)
        .map(|(&(a, b), v)| model.pair(a, b, v))
        .collect();
    let blocked: std::collections::HashSet<(u32, u32)> =
        candidates.iter().map(|&(a, b)| key(a, b)).collect();
    for &(a, b) in decided.keys().filter(|k| !blocked.contains(k)) {
        let v = compare::compare(&prepared, a as usize, b as usize, &mut cache);
        pairs.push(model.pair(a, b, &v));
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
            let v = compare::compare(&prepared, a as usize, b as usize, &mut cache);
            model.pair(a, b, &v).probability
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
