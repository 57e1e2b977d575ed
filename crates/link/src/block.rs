//! Blocking: which pairs of records are compared at all. Several passes, each grouping
//! records by a pair of keys (name keys of two name parts, or a name key and the birth
//! year), so a person whose family name is misspelt is still compared through their given
//! and father's names. Only records of different lists are paired.

use std::collections::{HashMap, HashSet};

use crate::compare::Prepared;

/// Groups larger than this are left to the other passes (a key pair shared by so many
/// records says little).
const MAX_GROUP: usize = 300;

/// The candidate pairs `(a, b)`, `a < b`, of records of different lists.
pub fn candidates(p: &Prepared<'_>) -> Vec<(u32, u32)> {
    let n = p.records.len();
    let keys_of = |r: usize, slot: usize| -> &[String] {
        match p.names[r][slot] {
            Some(id) => &p.keys[id as usize],
            None => &[],
        }
    };
    let year =
        |r: usize| -> Option<String> { p.records[r].birth.map(|b| format!("y{}", b.year())) };
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    let mut out = Vec::new();
    // (given, family), (given, father), (father, family), (family, birth year),
    // (given, birth year).
    const PASSES: [(usize, Option<usize>); 5] = [
        (0, Some(3)),
        (0, Some(1)),
        (1, Some(3)),
        (3, None),
        (0, None),
    ];
    for (first, second) in PASSES {
        let mut groups: HashMap<(String, String), Vec<u32>> = HashMap::new();
        for r in 0..n {
            let seconds: Vec<String> = match second {
                Some(slot) => keys_of(r, slot).to_vec(),
                None => year(r).into_iter().collect(),
            };
            for k1 in keys_of(r, first) {
                for k2 in &seconds {
                    groups
                        .entry((k1.clone(), k2.clone()))
                        .or_default()
                        .push(r as u32);
                }
            }
        }
        for members in groups.values() {
            if members.len() < 2 || members.len() > MAX_GROUP {
                continue;
            }
            for (i, &a) in members.iter().enumerate() {
                for &b in &members[i + 1..] {
                    let (a, b) = (a.min(b), a.max(b));
                    if a == b || p.records[a as usize].list == p.records[b as usize].list {
                        continue;
                    }
                    if seen.insert((a, b)) {
                        out.push((a, b));
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// Pairs blocked on other fields than names (birth year with sex and the broadest place;
/// the month of death or detention with the broadest place): the pairs on which the weights
/// of the name fields are estimated, so that they are not learnt only from pairs chosen for
/// their alike names (as Splink trains each comparison on a blocking rule without it).
pub fn training_pairs(p: &Prepared<'_>) -> Vec<(u32, u32)> {
    let n = p.records.len();
    let broad = |r: usize| p.places[r].last().cloned().unwrap_or_default();
    let mut groups: HashMap<String, Vec<u32>> = HashMap::new();
    for r in 0..n {
        let rec = &p.records[r];
        let place = broad(r);
        if let (Some(b), Some(s)) = (rec.birth, rec.sex) {
            groups
                .entry(format!("b{}|{s}|{place}", b.year()))
                .or_default()
                .push(r as u32);
        }
        if let Some(d) = rec.date.filter(|d| d.last - d.first < 31) {
            groups
                .entry(format!("d{}|{place}", d.first / 31))
                .or_default()
                .push(r as u32);
        }
    }
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    let mut out = Vec::new();
    for members in groups.values() {
        if members.len() < 2 || members.len() > MAX_GROUP {
            continue;
        }
        for (i, &a) in members.iter().enumerate() {
            for &b in &members[i + 1..] {
                let (a, b) = (a.min(b), a.max(b));
                if a != b
                    && p.records[a as usize].list != p.records[b as usize].list
                    && seen.insert((a, b))
                {
                    out.push((a, b));
                }
            }
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn rec(id: &str, list: &str, name: &str) -> Record {
        Record {
            id: id.into(),
            list: list.into(),
            name: name.into(),
            ..Record::default()
        }
    }

    #[test]
    fn a_misspelt_family_name_is_still_compared_and_one_list_never_is() {
        let records = [
            rec("a", "A", "محمد خالد الخطيب"),
            rec("b", "B", "Mohamed Khaled Xyzzyq"),
            rec("c", "A", "Mohammed Khalid al-Khatib"),
            rec("d", "C", "Samira Haddad"),
        ];
        let p = Prepared::new(&records);
        let c = candidates(&p);
        assert!(c.contains(&(0, 1)), "{c:?}");
        assert!(c.contains(&(1, 2)), "{c:?}");
        assert!(!c.contains(&(0, 2)), "same list: {c:?}");
        assert!(!c.iter().any(|&(a, b)| a == 3 || b == 3), "{c:?}");
    }
}
