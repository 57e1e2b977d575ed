//! The Fellegi–Sunter model: for each field and level, how often it occurs among true
//! matches (m) and among non-matches (u); a pair's weight is the sum of log2(m/u) over its
//! fields, its probability follows from the weight and the prior probability of a match.
//!
//! Estimated without labels, as Splink does: u from random pairs of records of different
//! lists (almost all non-matches), then m by expectation–maximisation with u fixed, each
//! field on pairs blocked without it, and the prior (the probability that two random records
//! of different lists match) as the matches EM finds among the candidates over all pairs.
//! With u from random pairs, the prior must be that of random pairs too: the share of
//! matches among candidates, which blocking chose for their alike names, would count the
//! names twice, and pass namesakes for matches more and more as the lists grow.

use crate::compare::{FxMap, Level, Prepared, Similarities, FIELDS};

/// Settings of [`crate::link`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Pairs at or above this probability are linked.
    pub accept: f64,
    /// Pairs at or above this probability and below `accept` go to review.
    pub review: f64,
    /// Random pairs for estimating u.
    pub u_samples: usize,
    /// Rounds of expectation–maximisation.
    pub em_rounds: usize,
    /// Seed of the random pairs.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            accept: 0.9,
            review: 0.3,
            u_samples: 200_000,
            em_rounds: 25,
            seed: 0x5eed,
        }
    }
}

/// m and u per field and level, and the prior probability of a match.
#[derive(Clone, Debug)]
pub struct Model {
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// The probability that two records of different lists are one person (the prior).
    pub lambda: f64,
}

/// One scored pair.
#[derive(Clone, Debug)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    pub probability: f64,
    /// log2(m/u) of each field (0 when unknown in either record).
    pub weights: [f64; 9],
    pub levels: [Level; 9],
}

impl Model {
    /// The pair's weights and probability.
    pub fn pair(&self, a: u32, b: u32, v: &[Level; 9]) -> Pair {
        self.pair_with(a, b, v, &[0.0; 9])
    }

    /// [`Model::pair`] with `adjust` (bits) added to the weight of each known field (the
    /// term-frequency adjustments of [`crate::compare::Frequencies`]).
    pub fn pair_with(&self, a: u32, b: u32, v: &[Level; 9], adjust: &[f64; 9]) -> Pair {
        let mut weights = [0.0; 9];
        let mut total = (self.lambda / (1.0 - self.lambda)).log2();
        for (f, &l) in v.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let w = (self.m[f][l as usize] / self.u[f][l as usize]).log2() + adjust[f];
            weights[f] = w;
            total += w;
        }
        let odds = total.exp2();
        Pair {
            a,
            b,
            probability: odds / (1.0 + odds),
            weights,
            levels: *v,
        }
    }
}

/// A small generator for sampling (xorshift64*), so the estimate is reproducible.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
}

/// Estimates the model: u from random pairs; m of the name fields by EM on `training`
/// (pairs blocked on other fields), m of the other fields and the share of matches by EM
/// on `vectors` (the candidate pairs, blocked on names).
pub fn estimate(
    p: &Prepared<'_>,
    vectors: &[[Level; 9]],
    training: &[[Level; 9]],
    sims: &mut Similarities,
    options: &Options,
) -> Model {
    let levels: Vec<usize> = FIELDS.iter().map(|f| f.levels()).collect();
    let levels = &levels;
    // u: random pairs of records of different lists.
    let n = p.records.len();
    let mut counts: Vec<Vec<f64>> = levels.iter().map(|&k| vec![1.0; k]).collect();
    let mut rng = Rng(options.seed | 1);
    let mut sample = Vec::with_capacity(options.u_samples.min(n * n));
    let mut tries = 0;
    while n >= 2 && sample.len() < options.u_samples && tries < options.u_samples * 4 {
        tries += 1;
        let (a, b) = (rng.below(n), rng.below(n));
        if a == b || p.lists[a] == p.lists[b] {
            continue;
        }
        sample.push((a as u32, b as u32));
    }
    for v in crate::compare::vectors(p, &sample, sims) {
        for (f, &l) in v.iter().enumerate() {
            counts[f][l as usize] += 1.0;
        }
    }
    let u = normalise_known(&counts);
    // m: start from "agreement is likely", then EM over the candidate pairs.
    let mut m: Vec<Vec<f64>> = levels
        .iter()
        .map(|&k| {
            (0..k)
                .map(|l| match l {
                    0 => 1.0,
                    1 => 0.7,
                    2 => 0.15,
                    _ => 0.15 / (k as f64 - 2.0).max(1.0),
                })
                .collect()
        })
        .collect();
    m = normalise_known(&m);
    // As Splink trains each comparison on pairs blocked on other fields, leaving out of the
    // likelihood the fields those pairs were chosen by (they agree there by construction,
    // whatever the pair), so that the non-matches among them look like random pairs in the
    // fields read: the names on the pairs blocked on birth, sex, date and place; then sex,
    // birth, date and place on the candidates whose given and family names agree, read with
    // the father's, grandfather's and mother's names (m fixed from the first session), which
    // tie the class EM finds to the same person rather than to namesakes
    // (on their own, EM there may settle on another class: pairs from one place).
    let names = [true, true, true, true, true, false, false, false, false];
    let others = names.map(|n| !n);
    let rounds = options.em_rounds;
    let training = patterns(training);
    if !training.is_empty() {
        (m, _) = em(&m, &u, &training, rounds, &names, &names, None);
    }
    // (Given and father's names where lists lack family names.)
    let alike = |l: Level| l == 1 || l == 2;
    let block = |x: usize, y: usize| -> Vec<[Level; 9]> {
        vectors
            .iter()
            .filter(|v| alike(v[x]) && alike(v[y]))
            .copied()
            .collect()
    };
    let (family, father) = (block(0, 3), block(0, 1));
    let (blocked, by) = if family.len() >= father.len() {
        (family, 3)
    } else {
        (father, 1)
    };
    let mut read = [true; 9];
    read[0] = false;
    read[by] = false;
    (m, _) = em(&m, &u, &patterns(&blocked), rounds, &read, &others, None);
    // The probability that two records of different lists are one person, with every field,
    // m and u fixed: the matches EM finds among the candidates over every pair of records of
    // different lists (pairs that blocking left out are taken to be different persons). This
    // prior, not the share among the candidates, is what goes with u from random pairs.
    let mut per_list: std::collections::HashMap<u32, f64> = std::collections::HashMap::new();
    for &l in &p.lists {
        *per_list.entry(l).or_default() += 1.0;
    }
    let all = ((n as f64).powi(2) - per_list.values().map(|c| c * c).sum::<f64>()) / 2.0;
    let (_, lambda) = em(
        &m,
        &u,
        &patterns(vectors),
        rounds,
        &[true; 9],
        &[false; 9],
        Some(all),
    );
    Model { m, u, lambda }
}

/// The distinct comparison vectors and how many pairs have each (EM reads each once).
fn patterns(vectors: &[[Level; 9]]) -> Vec<([Level; 9], f64)> {
    let mut count: FxMap<[Level; 9], f64> = FxMap::default();
    for v in vectors {
        *count.entry(*v).or_default() += 1.0;
    }
    let mut out: Vec<_> = count.into_iter().collect();
    out.sort_unstable_by_key(|x| x.0);
    out
}

impl Model {
    /// Refines m with the comparison vectors of pairs reviewers decided are one person:
    /// each field's m becomes the mix of the estimate, weighing as much as `strength` pairs,
    /// and what the decided pairs show. (Pairs decided different are hard cases, not a
    /// sample of non-matches: they bind the clustering, not u.)
    pub fn refine(&mut self, same: &[[Level; 9]], strength: f64) {
        if same.is_empty() {
            return;
        }
        for (f, m) in self.m.iter_mut().enumerate() {
            let mut counts = vec![0.0; m.len()];
            for v in same {
                counts[v[f] as usize] += 1.0;
            }
            let known: f64 = counts.iter().skip(1).sum();
            if known == 0.0 {
                continue;
            }
            for l in 1..m.len() {
                m[l] = (m[l] * strength + counts[l]) / (strength + known);
            }
        }
    }
}

/// Expectation–maximisation of m and the share of matches over `vectors` (each with its
/// count of pairs), u fixed; `population`: how many pairs the share is of, when more than
/// these (the others taken to be non-matches). `used`: the fields the likelihood reads; `learn`: the fields
/// whose m is estimated (the others keep theirs).
fn em(
    start: &[Vec<f64>],
    u: &[Vec<f64>],
    vectors: &[([Level; 9], f64)],
    rounds: usize,
    used: &[bool; 9],
    learn: &[bool; 9],
    population: Option<f64>,
) -> (Vec<Vec<f64>>, f64) {
    let mut m = start.to_vec();
    let pairs: f64 = vectors.iter().map(|(_, n)| n).sum();
    let total = population.unwrap_or(pairs).max(pairs);
    let mut lambda: f64 = (0.1 * pairs / total.max(1.0)).clamp(1e-12, 0.5);
    for _ in 0..rounds {
        let mut mc: Vec<Vec<f64>> = m.iter().map(|l| vec![0.01; l.len()]).collect();
        let mut sum_p = 0.0;
        for (v, count) in vectors {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (f, &l) in v.iter().enumerate() {
                if l == 0 || !used[f] {
                    continue;
                }
                pm *= m[f][l as usize];
                pu *= u[f][l as usize];
            }
            let post = if pm + pu > 0.0 { pm / (pm + pu) } else { 0.0 };
            let post = post * count;
            sum_p += post;
            for (f, &l) in v.iter().enumerate() {
                mc[f][l as usize] += post;
            }
        }
        let next = floored(&normalise_known(&mc));
        for (f, learnt) in next.into_iter().enumerate() {
            if learn[f] {
                m[f] = learnt;
            }
        }
        if total > 0.0 {
            lambda = (sum_p / total).clamp(1e-12, 1.0 - 1e-6);
        }
    }
    (m, lambda)
}

/// The least m of a level: no field is recorded without error in every list, so no level,
/// however rare among the matches EM finds, rules a match out.
const M_FLOOR: f64 = 1e-3;

/// `m` with every known level at least [`M_FLOOR`], normalised again.
fn floored(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let raised: Vec<Vec<f64>> = m
        .iter()
        .map(|l| {
            l.iter()
                .enumerate()
                .map(|(i, &x)| if i == 0 { x } else { x.max(M_FLOOR) })
                .collect()
        })
        .collect();
    normalise_known(&raised)
}

/// Probabilities over the known levels (1..) of each field; level 0 (unknown) gets 1 in
/// both m and u, so it weighs nothing.
fn normalise_known(counts: &[Vec<f64>]) -> Vec<Vec<f64>> {
    counts
        .iter()
        .map(|c| {
            let total: f64 = c.iter().skip(1).sum();
            c.iter()
                .enumerate()
                .map(|(l, &x)| if l == 0 { 1.0 } else { x / total.max(1e-12) })
                .collect()
        })
        .collect()
}
