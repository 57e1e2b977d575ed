//! Blocking: which pairs of records are compared at all. Several passes, each grouping
//! records by a pair of keys (name keys of two name parts, or a name key and the birth
//! year), so a person whose family name is misspelt is still compared through their given
//! and father's names. Only records of different lists are paired.

use std::collections::{HashMap, HashSet};

use crate::compare::Prepared;

/// Groups larger than this are left to the other passes (a key pair shared by so many
/// records says little).
const MAX_GROUP: usize = 300;

/// The keys of a record in one part of a blocking pass.
type KeysOf<'a> = dyn Fn(usize) -> Vec<String> + 'a;

/// The candidate pairs `(a, b)`, `a < b`, of records of different lists.
pub fn candidates(p: &Prepared<'_>) -> Vec<(u32, u32)> {
    let n = p.records.len();
    let keys_of = |r: usize, slot: usize| -> Vec<String> {
        match p.names[r][slot] {
            Some(id) => p.keys[id as usize].clone(),
            None => Vec::new(),
        }
    };
    let year = |r: usize| -> Vec<String> {
        p.records[r]
            .birth
            .map(|b| format!("y{}", b.year()))
            .into_iter()
            .collect()
    };
    let day = |r: usize| -> Vec<String> {
        p.records[r]
            .birth
            .filter(|b| b.first == b.last)
            .map(|b| format!("d{}", b.first))
            .into_iter()
            .collect()
    };
    let place = |r: usize| -> Vec<String> {
        p.places[r]
            .first()
            .map(|id| format!("p{id}"))
            .into_iter()
            .collect()
    };
    // Pairs of keys: (given, family), (given, father), (father, family), (family, birth
    // year), (given, birth year), (given, place), (family, place), (place, birth year), and
    // the exact date of birth alone, so that a person is compared when any two of their
    // names, or a name and their birth or place, or their date of birth agree.
    let passes: [(&KeysOf<'_>, &KeysOf<'_>); 9] = [
        (&|r| keys_of(r, 0), &|r| keys_of(r, 3)),
        (&|r| keys_of(r, 0), &|r| keys_of(r, 1)),
        (&|r| keys_of(r, 1), &|r| keys_of(r, 3)),
        (&|r| keys_of(r, 3), &year),
        (&|r| keys_of(r, 0), &year),
        (&|r| keys_of(r, 0), &place),
        (&|r| keys_of(r, 3), &place),
        (&place, &year),
        (&day, &|_| vec![String::new()]),
    ];
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    let mut out = Vec::new();
    for (first, second) in passes {
        let mut groups: HashMap<(String, String), Vec<u32>> = HashMap::new();
        for r in 0..n {
            let seconds = second(r);
            for k1 in first(r) {
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
    let broad = |r: usize| {
        p.places[r]
            .last()
            .map(|id| id.to_string())
            .unwrap_or_default()
    };
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
