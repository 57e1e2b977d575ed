//! Comparing two records field by field: each field falls in a discrete level (the
//! comparison vector), which the model weighs.

use std::collections::HashMap;

use athar_search::ParsedName;

use crate::record::Record;

/// A field compared between two records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Given,
    Father,
    Grandfather,
    Family,
    Mother,
    Sex,
    Birth,
    Date,
    Place,
}

/// Every field, in the order of a comparison vector.
pub const FIELDS: [Field; 9] = [
    Field::Given,
    Field::Father,
    Field::Grandfather,
    Field::Family,
    Field::Mother,
    Field::Sex,
    Field::Birth,
    Field::Date,
    Field::Place,
];

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Given => "given",
            Field::Father => "father",
            Field::Grandfather => "grandfather",
            Field::Family => "family",
            Field::Mother => "mother",
            Field::Sex => "sex",
            Field::Birth => "birth",
            Field::Date => "date",
            Field::Place => "place",
        }
    }

    /// How many levels the field has (level 0 is "unknown in one of the two").
    pub fn levels(self) -> usize {
        match self {
            Field::Given | Field::Father | Field::Grandfather | Field::Family | Field::Mother => {
                NAME_LEVELS.len() + 2
            }
            Field::Sex => 3,
            Field::Birth => 5,
            Field::Date => 6,
            Field::Place => 4,
        }
    }

    /// What a level means, for explanations.
    pub fn level_name(self, level: Level) -> &'static str {
        if level == 0 {
            return "unknown";
        }
        match self {
            Field::Given | Field::Father | Field::Grandfather | Field::Family | Field::Mother => {
                ["", "same", "close", "alike", "somewhat alike", "different"]
                    .get(usize::from(level))
                    .copied()
                    .unwrap_or("different")
            }
            Field::Sex => ["", "same", "different"][usize::from(level).min(2)],
            Field::Birth => ["", "same", "within a year", "within 3 years", "different"]
                [usize::from(level).min(4)],
            Field::Date => [
                "",
                "same",
                "day and month swapped",
                "within a month",
                "within a year",
                "different",
            ][usize::from(level).min(5)],
            Field::Place => {
                ["", "same", "one contains the other", "different"][usize::from(level).min(3)]
            }
        }
    }
}

/// A comparison level: 0 unknown, 1 the strongest agreement, the last disagreement.
pub type Level = u8;

/// Name similarity thresholds of levels 1, 2, 3, 4 (below the last: level 5, different).
const NAME_LEVELS: [f32; 4] = [0.95, 0.85, 0.7, 0.55];

/// The records with their names read once and interned: the same spelling is read and
/// compared once, however many records carry it.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub records: &'a [Record],
    /// Per record, per name field (given, father, grandfather, family, mother): the
    /// interned name, if known.
    pub names: Vec<[Option<u32>; 5]>,
    /// The distinct names.
    pub parsed: Vec<ParsedName>,
    /// Their name keys.
    pub keys: Vec<Vec<String>>,
    /// Per record, its place names (interned like the names), the most precise first.
    pub places: Vec<Vec<u32>>,
}

/// Name particles that belong to the word after them when a whole name is split in parts.
const JOINED: &[&str] = &[
    "عبد", "ابو", "أبو", "بو", "بن", "ابن", "ال", "abd", "abdul", "abdel", "abdal", "abu", "abou",
    "abo", "bin", "ibn", "ben", "al", "el", "bint",
];

/// Second halves of compound names, which belong to the part before them (`نور الدين`,
/// `Nur ad-Din`, `Fath Allah`), compared without diacritics and case.
const COMPOUND_ENDS: &[&str] = &[
    "الدين",
    "الله",
    "اللة",
    "din",
    "deen",
    "dine",
    "dien",
    "eddin",
    "eddine",
    "uddin",
    "allah",
    "ullah",
    "alla",
    "ulla",
    "illah",
];

/// The parts of a whole name written given, father, grandfather…, family: particles and
/// articles stay with the word after them, the second halves of compound names with the
/// word before them.
pub fn split_name(name: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut pending = String::new();
    for w in name
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
    {
        let bare: String = w
            .chars()
            .filter(|c| !('\u{064B}'..='\u{065F}').contains(c) && *c != 'ـ')
            .collect::<String>()
            .to_lowercase();
        let pending_article = pending.is_empty()
            || ["ال", "al", "el", "ad", "ed", "ud", "ul"]
                .contains(&pending.to_lowercase().as_str());
        if COMPOUND_ENDS.contains(&bare.as_str()) && pending_article {
            if let Some(last) = parts.last_mut() {
                last.push(' ');
                if !pending.is_empty() {
                    last.push_str(&std::mem::take(&mut pending));
                    last.push(' ');
                }
                last.push_str(w);
                continue;
            }
        }
        if !pending.is_empty() {
            pending.push(' ');
        }
        pending.push_str(w);
        if !JOINED.contains(&bare.as_str()) {
            parts.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        parts.push(pending);
    }
    parts
}

impl<'a> Prepared<'a> {
    pub fn new(records: &'a [Record]) -> Prepared<'a> {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut parsed = Vec::new();
        let mut keys = Vec::new();
        let mut intern = |s: &str| -> Option<u32> {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            if let Some(&id) = ids.get(s) {
                return Some(id);
            }
            let p = ParsedName::new(s);
            if p.is_empty() {
                return None;
            }
            let id = parsed.len() as u32;
            keys.push(p.keys());
            parsed.push(p);
            ids.insert(s.to_owned(), id);
            Some(id)
        };
        let mut names = Vec::with_capacity(records.len());
        for r in records {
            let has_parts = !(r.given.trim().is_empty() && r.family.trim().is_empty());
            let [given, father, grandfather, family] = if has_parts {
                [
                    r.given.clone(),
                    r.father.clone(),
                    r.grandfather.clone(),
                    r.family.clone(),
                ]
            } else {
                let p = split_name(&r.name);
                let at = |i: usize| p.get(i).cloned().unwrap_or_default();
                match p.len() {
                    0 => Default::default(),
                    1 => [at(0), String::new(), String::new(), String::new()],
                    2 => [at(0), String::new(), String::new(), at(1)],
                    3 => [at(0), at(1), String::new(), at(2)],
                    n => [at(0), at(1), at(2), at(n - 1)],
                }
            };
            names.push([
                intern(&given),
                intern(&father),
                intern(&grandfather),
                intern(&family),
                intern(&r.mother),
            ]);
        }
        let places = records
            .iter()
            .map(|r| r.place.iter().filter_map(|p| intern(p)).collect())
            .collect();
        Prepared {
            records,
            names,
            parsed,
            keys,
            places,
        }
    }
}

/// The comparison vector of each candidate pair.
pub fn vectors(p: &Prepared<'_>, pairs: &[(u32, u32)]) -> Vec<[Level; 9]> {
    let mut cache: HashMap<(u32, u32), f32> = HashMap::new();
    pairs
        .iter()
        .map(|&(a, b)| compare(p, a as usize, b as usize, &mut cache))
        .collect()
}

/// The comparison vector of records `a` and `b` (`cache`: name similarities already known).
pub fn compare(
    p: &Prepared<'_>,
    a: usize,
    b: usize,
    cache: &mut HashMap<(u32, u32), f32>,
) -> [Level; 9] {
    let mut v = [0; 9];
    for (slot, level) in v.iter_mut().take(5).enumerate() {
        if let (Some(x), Some(y)) = (p.names[a][slot], p.names[b][slot]) {
            *level = name_level(similarity(p, x, y, cache));
        }
    }
    let (ra, rb) = (&p.records[a], &p.records[b]);
    v[5] = match (ra.sex, rb.sex) {
        (Some(x), Some(y)) => 1 + u8::from(x != y),
        _ => 0,
    };
    v[6] = match (ra.birth, rb.birth) {
        (Some(x), Some(y)) => match x.gap(&y) {
            0 => 1,
            g if g <= 366 => 2,
            g if g <= 3 * 366 => 3,
            _ => 4,
        },
        _ => 0,
    };
    v[7] = match (ra.date, rb.date) {
        (Some(x), Some(y)) => {
            if x.gap(&y) == 0 {
                1
            } else if x.swapped(&y) {
                2
            } else if x.gap(&y) <= 31 {
                3
            } else if x.gap(&y) <= 366 {
                4
            } else {
                5
            }
        }
        _ => 0,
    };
    v[8] = place_level(p, &p.places[a], &p.places[b], cache);
    v
}

/// The similarity of two interned names or places, computed once.
fn similarity(p: &Prepared<'_>, x: u32, y: u32, cache: &mut HashMap<(u32, u32), f32>) -> f32 {
    if x == y {
        return 1.0;
    }
    *cache
        .entry((x.min(y), x.max(y)))
        .or_insert_with(|| p.parsed[x as usize].similarity(&p.parsed[y as usize]))
}

fn name_level(s: f32) -> Level {
    NAME_LEVELS
        .iter()
        .position(|&t| s >= t)
        .map(|i| i as Level + 1)
        .unwrap_or(NAME_LEVELS.len() as Level + 1)
}

/// 1: the same place; 2: one is in the other (a village and its governorate); 3: neither.
fn place_level(
    p: &Prepared<'_>,
    a: &[u32],
    b: &[u32],
    cache: &mut HashMap<(u32, u32), f32>,
) -> Level {
    let mut same = |x: u32, y: u32| similarity(p, x, y, cache) >= 0.9;
    match (a.first(), b.first()) {
        (Some(&x), Some(&y)) => {
            if same(x, y) {
                1
            } else if a.iter().any(|&q| same(q, y)) || b.iter().any(|&q| same(q, x)) {
                2
            } else {
                3
            }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Interval;

    fn rec(name: &str) -> Record {
        Record {
            id: name.into(),
            list: "l".into(),
            name: name.into(),
            ..Record::default()
        }
    }

    #[test]
    fn whole_names_are_split_into_parts() {
        assert_eq!(
            split_name("Mohammed Khaled al-Khatib"),
            ["Mohammed", "Khaled", "al Khatib"]
        );
        assert_eq!(
            split_name("ياسر عبد الله المسالمة"),
            ["ياسر", "عبد الله", "المسالمة"]
        );
        assert_eq!(
            split_name("سيف الدين عامر العمر"),
            ["سيف الدين", "عامر", "العمر"]
        );
        assert_eq!(
            split_name("Sayf al-Din Rif'at Nasr Allah"),
            ["Sayf al Din", "Rif'at", "Nasr Allah"]
        );
        assert_eq!(split_name("  "), Vec::<String>::new());
    }

    #[test]
    fn each_field_has_its_levels() {
        let mut a = rec("محمد خالد الخطيب");
        let mut b = rec("Mohamed Khaled El-Khatib");
        a.sex = Some('m');
        b.sex = Some('m');
        a.birth = Interval::parse("1985");
        b.birth = Interval::parse("1986-03");
        a.date = Interval::parse("2013-05-12");
        b.date = Interval::parse("2013-12-05");
        a.place = vec!["Tadamon".into(), "Damascus".into()];
        b.place = vec!["Damascus".into()];
        let records = [a, b];
        let p = Prepared::new(&records);
        let v = compare(&p, 0, 1, &mut HashMap::new());
        assert!(v[0] <= 2, "given {v:?}");
        assert!(v[1] <= 2, "father {v:?}");
        assert_eq!(v[2], 0, "grandfather unknown");
        assert!(v[3] <= 2, "family {v:?}");
        assert_eq!(v[4], 0, "mother unknown");
        assert_eq!(v[5], 1, "same sex");
        assert_eq!(v[6], 2, "born within a year");
        assert_eq!(v[7], 2, "day and month swapped");
        assert_eq!(v[8], 2, "a place and the city that contains it");
        let records = [rec("محمد خالد الخطيب"), rec("Mahmoud Hassan Haddad")];
        let p = Prepared::new(&records);
        let v = compare(&p, 0, 1, &mut HashMap::new());
        // محمد and Mahmoud are alike, not close; the other parts differ.
        assert!(v[0] >= 3 && v[1] >= 4 && v[3] >= 4, "{v:?}");
        for f in FIELDS {
            assert!(f.levels() >= 3);
            assert_eq!(f.level_name(0), "unknown");
        }
    }
}
