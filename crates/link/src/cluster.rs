//! Clustering linked pairs into persons, best pair first, never putting two records of one
//! list into one person (lists are deduplicated, so a pair that would do so is a wrong link
//! or the weaker of two), and joining two groups only when every record of one is a likely
//! match of every record of the other: one strong link cannot chain two unrelated groups.

use std::collections::HashSet;

use crate::model::Pair;
use crate::record::Record;

/// Persons: each a list of record indices (at least two), and the cluster of each record.
#[derive(Clone, Debug, Default)]
pub struct Clusters {
    pub persons: Vec<Vec<u32>>,
    /// For each record, the index of its person in `persons`, if linked.
    pub of: Vec<Option<u32>>,
}

/// Clusters the `pairs` (best first) with probability ≥ `accept`; `score` gives the match
/// probability of any two records, and two groups are joined only when every pair across
/// them reaches `support`.
pub fn clusters(
    records: &[Record],
    pairs: &[Pair],
    accept: f64,
    support: f64,
    score: &mut dyn FnMut(u32, u32) -> f64,
) -> Clusters {
    clusters_with(records, pairs, accept, support, score, &|_, _| false)
}

/// [`clusters`], where a pair that `forced` names (a reviewer said they are one person)
/// joins its two groups whatever the lists and the other pairs say, unless a pair across
/// them scores 0 (a reviewer said different).
pub fn clusters_with(
    records: &[Record],
    pairs: &[Pair],
    accept: f64,
    support: f64,
    score: &mut dyn FnMut(u32, u32) -> f64,
    forced: &dyn Fn(u32, u32) -> bool,
) -> Clusters {
    let n = records.len();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut lists: Vec<HashSet<&str>> = records
        .iter()
        .map(|r| std::iter::once(r.list.as_str()).collect())
        .collect();
    fn root(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let up = parent[parent[x as usize] as usize];
            parent[x as usize] = up;
            x = up;
        }
        x
    }
    let mut members: Vec<Vec<u32>> = (0..n as u32).map(|r| vec![r]).collect();
    for p in pairs.iter().filter(|p| p.probability >= accept) {
        let (ra, rb) = (root(&mut parent, p.a), root(&mut parent, p.b));
        let forced = forced(p.a, p.b);
        if ra == rb || (!forced && !lists[ra as usize].is_disjoint(&lists[rb as usize])) {
            continue;
        }
        let least = if forced { f64::MIN_POSITIVE } else { support };
        let supported = members[ra as usize].iter().all(|&x| {
            members[rb as usize]
                .iter()
                .all(|&y| (x == p.a && y == p.b) || score(x, y) >= least)
        });
        if !supported {
            continue;
        }
        let (keep, gone) = if lists[ra as usize].len() >= lists[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        parent[gone as usize] = keep;
        let moved = std::mem::take(&mut lists[gone as usize]);
        lists[keep as usize].extend(moved);
        let moved = std::mem::take(&mut members[gone as usize]);
        members[keep as usize].extend(moved);
    }
    let mut index: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for r in 0..n as u32 {
        let root = root(&mut parent, r);
        let i = *index.entry(root).or_insert_with(|| {
            members.push(Vec::new());
            (members.len() - 1) as u32
        });
        members[i as usize].push(r);
    }
    let mut out = Clusters {
        persons: Vec::new(),
        of: vec![None; n],
    };
    for m in members.into_iter().filter(|m| m.len() > 1) {
        let id = out.persons.len() as u32;
        for &r in &m {
            out.of[r as usize] = Some(id);
        }
        out.persons.push(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(list: &str) -> Record {
        Record {
            list: list.into(),
            ..Record::default()
        }
    }

    fn pair(a: u32, b: u32, probability: f64) -> Pair {
        Pair {
            a,
            b,
            probability,
            weights: [0.0; 9],
            levels: [0; 9],
        }
    }

    #[test]
    fn one_weak_link_does_not_chain_two_persons() {
        // 0 (A) – 1 (B) strong, 2 (A) – 3 (C) strong, 1 – 2 a weaker link that would put
        // two records of list A in one person: refused.
        let records = [rec("A"), rec("B"), rec("A"), rec("C"), rec("D")];
        let pairs = [
            pair(0, 1, 0.99),
            pair(2, 3, 0.98),
            pair(1, 2, 0.95),
            pair(3, 4, 0.5),
        ];
        let c = clusters(&records, &pairs, 0.9, 0.5, &mut |_, _| 0.9);
        assert_eq!(c.persons.len(), 2);
        assert_eq!(c.of[0], c.of[1]);
        assert_eq!(c.of[2], c.of[3]);
        assert_ne!(c.of[0], c.of[2]);
        assert_eq!(c.of[4], None, "below the threshold");
        // 0 (A) – 1 (B) and 2 (C) – 3 (D) strong, 1 – 2 strong, but 0 and 3 unlike: the two
        // persons stay apart.
        let records = [rec("A"), rec("B"), rec("C"), rec("D")];
        let pairs = [pair(0, 1, 0.99), pair(2, 3, 0.98), pair(1, 2, 0.95)];
        let mut score = |a: u32, b: u32| {
            if (a, b) == (0, 3) || (a, b) == (3, 0) {
                0.01
            } else {
                0.9
            }
        };
        let c = clusters(&records, &pairs, 0.9, 0.5, &mut score);
        assert_eq!(c.persons.len(), 2, "{c:?}");
        assert_ne!(c.of[1], c.of[2]);
    }
}
