//! The Fellegi–Sunter model: for each field and level, how often it occurs among true
//! matches (m) and among non-matches (u); a pair's weight is the sum of log2(m/u) over its
//! fields, its probability follows from the weight and the share of matches.
//!
//! Estimated without labels, as Splink does: u from random pairs of records of different
//! lists (almost all non-matches), then m and the share of matches among the candidate
//! pairs by expectation–maximisation with u fixed.

use crate::compare::{Level, Prepared, FIELDS};

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

/// m and u per field and level, and the share of matches among candidate pairs.
#[derive(Clone, Debug)]
pub struct Model {
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// Share of matches among the candidate pairs.
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
        let mut weights = [0.0; 9];
        let mut total = (self.lambda / (1.0 - self.lambda)).log2();
        for (f, &l) in v.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let w = (self.m[f][l as usize] / self.u[f][l as usize]).log2();
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
    options: &Options,
) -> Model {
    let levels: Vec<usize> = FIELDS.iter().map(|f| f.levels()).collect();
    let levels = &levels;
    // u: random pairs of records of different lists.
    let n = p.records.len();
    let mut counts: Vec<Vec<f64>> = levels.iter().map(|&k| vec![1.0; k]).collect();
    let mut rng = Rng(options.seed | 1);
    let mut cache = std::collections::HashMap::new();
    let mut drawn = 0;
    let mut tries = 0;
    while n >= 2 && drawn < options.u_samples && tries < options.u_samples * 4 {
        tries += 1;
        let (a, b) = (rng.below(n), rng.below(n));
        if a == b || p.records[a].list == p.records[b].list {
            continue;
        }
        let v = crate::compare::compare(p, a, b, &mut cache);
        for (f, &l) in v.iter().enumerate() {
            counts[f][l as usize] += 1.0;
        }
        drawn += 1;
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
    // As Splink trains each comparison on pairs blocked without it: the names on the pairs
    // blocked on other fields, the other fields on the pairs blocked on names, each session
    // leaving out the fields its pairs were chosen by (they agree there by construction).
    let names = [true, true, true, true, true, false, false, false, false];
    let others = names.map(|n| !n);
    let rounds = options.em_rounds;
    let (names_m, _) = em(&m, &u, training, rounds, &names, None);
    let (mut m, _) = em(&m, &u, vectors, rounds, &others, None);
    if !training.is_empty() {
        m[..5].clone_from_slice(&names_m[..5]);
    }
    // The share of matches among the candidates, with every field and m, u fixed.
    let (_, lambda) = em(&m, &u, vectors, rounds, &[true; 9], Some(()));
    Model { m, u, lambda }
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

/// Expectation–maximisation of m and the share of matches over `vectors`, u fixed.
/// `used`: the fields the likelihood reads; `fixed_m`: only the share is estimated.
fn em(
    start: &[Vec<f64>],
    u: &[Vec<f64>],
    vectors: &[[Level; 9]],
    rounds: usize,
    used: &[bool; 9],
    fixed_m: Option<()>,
) -> (Vec<Vec<f64>>, f64) {
    let mut m = start.to_vec();
    let mut lambda: f64 = 0.1;
    for _ in 0..rounds {
        let mut mc: Vec<Vec<f64>> = m.iter().map(|l| vec![0.01; l.len()]).collect();
        let mut sum_p = 0.0;
        for v in vectors {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (f, &l) in v.iter().enumerate() {
                if l == 0 || !used[f] {
                    continue;
                }
                pm *= m[f][l as usize];
                pu *= u[f][l as usize];
            }
            let post = if pm + pu > 0.0 { pm / (pm + pu) } else { 0.0 };
            sum_p += post;
            for (f, &l) in v.iter().enumerate() {
                mc[f][l as usize] += post;
            }
        }
        if fixed_m.is_none() {
            m = normalise_known(&mc);
        }
        if !vectors.is_empty() {
            lambda = (sum_p / vectors.len() as f64).clamp(1e-6, 1.0 - 1e-6);
        }
    }
    (m, lambda)
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
