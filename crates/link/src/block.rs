//! Blocking: which pairs of records are compared at all. Several passes, each grouping
//! records by a pair of keys (name keys of two name parts, or a name key and the birth
//! year or place), so a person whose family name is misspelt is still compared through their
//! given and father's names. Only records of different lists are paired. Groups too large to
//! say much are left to the other passes: the passes on one name and a year or place, whose
//! groups grow fastest with the lists, sooner than those on two names.

use crate::compare::Prepared;

/// Groups larger than this are left to the other passes (a key pair shared by so many
/// records says little).
const MAX_GROUP: usize = 300;

/// The same for the passes on one name and the birth year or place, or on place and year:
/// their groups grow with the lists (a few hundred names, a few dozen years), and what they
/// add to the passes on two names is the few persons whose names are written too
/// differently for those, who stand out in small groups.
const MAX_WEAK_GROUP: usize = 40;

/// At most about this many training pairs (a sample when there are more).
const TRAINING_PAIRS: usize = 1_000_000;

/// What one half of a blocking key is read from.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// The name keys of a name field (0 given, 1 father, 3 family).
    Name(usize),
    BirthYear,
    /// The date of birth, when known to the day.
    BirthDay,
    /// The most precise place.
    Place,
    /// Nothing: the pass groups on its first part alone.
    Any,
}

impl Part {
    /// The values of this part in record `r` (none when unknown).
    fn values(self, p: &Prepared<'_>, r: usize) -> Vec<u32> {
        let rec = &p.records[r];
        match self {
            Part::Name(slot) => p.names[r][slot]
                .map(|id| p.keys[id as usize].clone())
                .unwrap_or_default(),
            Part::BirthYear => rec.birth.map(|b| b.year() as u32).into_iter().collect(),
            Part::BirthDay => rec
                .birth
                .filter(|b| b.first == b.last)
                .map(|b| b.first as u32)
                .into_iter()
                .collect(),
            Part::Place => p.places[r].first().copied().into_iter().collect(),
            Part::Any => vec![0],
        }
    }
}

/// Pairs of keys, each pass with its largest group: (given, family), (given, father) either
/// way round (lists that write the father first), (father, family), (family, birth year),
/// (given, birth year), (given, place), (family, place), (place, birth year), and the exact
/// date of birth alone, so that a person is compared when any two of their names, or a name
/// and their birth or place, or their date of birth agree.
const PASSES: [(Part, Part, usize); 9] = [
    (Part::Name(0), Part::Name(3), MAX_GROUP),
    (Part::Name(0), Part::Name(1), MAX_GROUP),
    (Part::Name(1), Part::Name(3), MAX_GROUP),
    (Part::Name(3), Part::BirthYear, MAX_WEAK_GROUP),
    (Part::Name(0), Part::BirthYear, MAX_WEAK_GROUP),
    (Part::Name(0), Part::Place, MAX_WEAK_GROUP),
    (Part::Name(3), Part::Place, MAX_WEAK_GROUP),
    (Part::Place, Part::BirthYear, MAX_WEAK_GROUP),
    (Part::BirthDay, Part::Any, MAX_GROUP),
];

/// The candidate pairs `(a, b)`, `a < b`, of records of different lists.
pub fn candidates(p: &Prepared<'_>) -> Vec<(u32, u32)> {
    let per_pass = crate::parallel(&PASSES, |_, passes| {
        passes
            .iter()
            .map(|&(first, second, largest)| {
                // Two name fields are keyed either way round.
                let unordered = matches!((first, second), (Part::Name(_), Part::Name(_)));
                let mut keyed: Vec<(u64, u32)> = Vec::new();
                for r in 0..p.records.len() {
                    let seconds = second.values(p, r);
                    for k1 in first.values(p, r) {
                        for &k2 in &seconds {
                            let (k1, k2) = if unordered {
                                (k1.min(k2), k1.max(k2))
                            } else {
                                (k1, k2)
                            };
                            keyed.push(((u64::from(k1) << 32) | u64::from(k2), r as u32));
                        }
                    }
                }
                grouped_pairs(p, keyed, largest)
            })
            .collect::<Vec<_>>()
    });
    let mut all: Vec<u64> = per_pass.into_iter().flatten().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter()
        .map(|k| ((k >> 32) as u32, (k & 0xffff_ffff) as u32))
        .collect()
}

/// The pairs of records of different lists that share a key (`keyed`: key, record), in
/// groups of at most `largest`, each as `a << 32 | b` with `a < b`.
fn grouped_pairs(p: &Prepared<'_>, mut keyed: Vec<(u64, u32)>, largest: usize) -> Vec<u64> {
    keyed.sort_unstable();
    keyed.dedup();
    let mut out = Vec::new();
    for group in keyed.chunk_by(|x, y| x.0 == y.0) {
        if group.len() < 2 || group.len() > largest {
            continue;
        }
        for (i, &(_, a)) in group.iter().enumerate() {
            for &(_, b) in &group[i + 1..] {
                if p.lists[a as usize] != p.lists[b as usize] {
                    out.push((u64::from(a.min(b)) << 32) | u64::from(a.max(b)));
                }
            }
        }
    }
    out
}

/// Pairs blocked on other fields than names (birth year with sex, when known, and the
/// broadest place; the date of birth; the month of death or detention with the broadest
/// place): the pairs on which the weights
/// of the name fields are estimated, so that they are not learnt only from pairs chosen for
/// their alike names (as Splink trains each comparison on a blocking rule without it).
pub fn training_pairs(p: &Prepared<'_>) -> Vec<(u32, u32)> {
    let mut keyed: Vec<(u64, u32)> = Vec::new();
    for (r, rec) in p.records.iter().enumerate() {
        let place = u64::from(p.places[r].last().copied().unwrap_or(u32::MAX));
        if let Some(b) = rec.birth {
            let sex = rec.sex.map_or(0, |s| u64::from(s as u32 & 0xff));
            let head = (u64::from(b.year() as u16) << 8) | sex;
            keyed.push(((head << 32) | place, r as u32));
            if b.first == b.last {
                let head = (3 << 30) | u64::from(b.first as u32 & 0x3fff_ffff);
                keyed.push((head << 32, r as u32));
            }
        }
        if let Some(d) = rec.date.filter(|d| d.last - d.first < 31) {
            let head = (1 << 31) | u64::from((d.first / 31) as u32 & 0x7fff_ffff);
            keyed.push(((head << 32) | place, r as u32));
        }
    }
    let mut all = grouped_pairs(p, keyed, MAX_GROUP);
    // EM needs a sample, not all of them (they grow with the square of the lists): a
    // reproducible one, chosen by a hash of the pair.
    if all.len() > TRAINING_PAIRS {
        let keep = (TRAINING_PAIRS as u128 * u128::from(u64::MAX) / all.len() as u128) as u64;
        all.retain(|&k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29) <= keep);
    }
    all.sort_unstable();
    all.dedup();
    all.into_iter()
        .map(|k| ((k >> 32) as u32, (k & 0xffff_ffff) as u32))
        .collect()
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
