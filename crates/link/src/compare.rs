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

/// The records with their names read once and interned: spellings that read the same (the
/// same phonetic words) are one name, read and compared once, however many records carry
/// it.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub records: &'a [Record],
    /// Per record, its list (interned).
    pub lists: Vec<u32>,
    /// Per record, per name field (given, father, grandfather, family, mother): the
    /// interned name, if known.
    pub names: Vec<[Option<u32>; 5]>,
    /// The distinct names.
    pub parsed: Vec<ParsedName>,
    /// Their name keys (interned), particles (`abd`, `abu`, `ibn`…) left out unless a name
    /// has nothing else.
    pub keys: Vec<Vec<u32>>,
    /// For each interned key, the keys one edit away (sorted).
    pub near: Vec<Vec<u32>>,
    /// Per name, its keys and the keys one edit from them as bits (a quick "no key alike").
    masks: Vec<(u128, u128)>,
    /// Per name, its keys and the keys one edit from them (sorted).
    reach: Vec<Vec<u32>>,
    /// Per record, its place names (interned like the names), the most precise first.
    pub places: Vec<Vec<u32>>,
    /// Per record, what a comparison reads, in one cache line (records are met in no order).
    rows: Vec<Row>,
}

/// The fields of a record that a comparison reads, side by side.
#[derive(Clone, Copy, Debug)]
struct Row {
    names: [Option<u32>; 5],
    sex: Option<char>,
    birth: Option<crate::record::Interval>,
    date: Option<crate::record::Interval>,
    /// The first two places; `more`: whether the record has more (then read from `places`).
    place: [Option<u32>; 2],
    more: bool,
}

/// Name particles and articles (every assimilated form: `ad-Din`, `en-Nasir`, `esh-Sham`)
/// that belong to the word after them when a whole name is split in parts.
const JOINED: &[&str] = &[
    "عبد", "ابو", "أبو", "بو", "بن", "ابن", "ال", "abd", "abdul", "abdel", "abdal", "abu", "abou",
    "abo", "bin", "ibn", "ben", "bint", "al", "el", "ul", "il", "ad", "an", "ar", "as", "at", "az",
    "ash", "ath", "adh", "ed", "en", "er", "es", "et", "ez", "esh", "eth", "edh", "ud", "un", "ur",
    "us", "ut", "uz", "ush",
];

/// The articles among [`JOINED`] (before the second half of a compound name, they join it to
/// the word before).
const ARTICLES: &[&str] = &[
    "ال", "al", "el", "ul", "il", "ad", "an", "ar", "as", "at", "az", "ash", "ath", "adh", "ed",
    "en", "er", "es", "et", "ez", "esh", "eth", "edh", "ud", "un", "ur", "us", "ut", "uz", "ush",
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
    "eddeen",
    "aldin",
    "aldeen",
    "eldin",
    "eldeen",
    "uddeen",
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
        // Without diacritics, tatweel, case and the marks of ayn and hamza around it
        // (`ʿAbd`, `'Abd`).
        let bare: String = w
            .chars()
            .filter(|c| !('\u{064B}'..='\u{065F}').contains(c) && *c != 'ـ')
            .collect::<String>()
            .to_lowercase();
        let bare = bare
            .trim_matches(|c: char| !c.is_alphanumeric() || "ʿʾʻʼ‘’`".contains(c))
            .to_owned();
        let pending_article =
            pending.is_empty() || ARTICLES.contains(&pending.to_lowercase().as_str());
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
        let mut ids: HashMap<String, Option<u32>> = HashMap::new();
        let mut canonical: HashMap<String, u32> = HashMap::new();
        let mut key_ids: HashMap<String, u32> = HashMap::new();
        let mut key_text: Vec<Vec<char>> = Vec::new();
        let mut parsed = Vec::new();
        let mut keys = Vec::new();
        let mut intern = |s: &str| -> Option<u32> {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            if let Some(&id) = ids.get(s) {
                return id;
            }
            let p = ParsedName::new(s);
            let id = if p.is_empty() {
                None
            } else {
                // Two spellings read into the same phonetic words compare alike with every
                // other name: one name.
                let next = parsed.len() as u32;
                let id = *canonical.entry(format!("{p:?}")).or_insert(next);
                if id == next {
                    let all = p.keys();
                    let mut own: Vec<u32> = Vec::new();
                    let plain: Vec<&String> = all.iter().filter(|k| !k.starts_with('~')).collect();
                    let chosen = if plain.is_empty() {
                        all.iter().collect()
                    } else {
                        plain
                    };
                    for k in chosen {
                        let n = key_ids.len() as u32;
                        let id = *key_ids.entry(k.clone()).or_insert(n);
                        if id == n {
                            key_text.push(k.chars().collect());
                        }
                        own.push(id);
                    }
                    keys.push(own);
                    parsed.push(p);
                }
                Some(id)
            };
            ids.insert(s.to_owned(), id);
            id
        };
        let mut names = Vec::with_capacity(records.len());
        for r in records {
            let has_parts = !(r.given.trim().is_empty() && r.family.trim().is_empty());
            if has_parts {
                names.push([
                    intern(&r.given),
                    intern(&r.father),
                    intern(&r.grandfather),
                    intern(&r.family),
                    intern(&r.mother),
                ]);
                continue;
            }
            let p = split_name(&r.name);
            let at = |i: usize| p.get(i).map(String::as_str).unwrap_or_default();
            let [given, father, grandfather, family] = match p.len() {
                0 => ["", "", "", ""],
                1 => [at(0), "", "", ""],
                2 => [at(0), "", "", at(1)],
                3 => [at(0), at(1), "", at(2)],
                n => [at(0), at(1), at(2), at(n - 1)],
            };
            names.push([
                intern(given),
                intern(father),
                intern(grandfather),
                intern(family),
                intern(&r.mother),
            ]);
        }
        let places: Vec<Vec<u32>> = records
            .iter()
            .map(|r| r.place.iter().filter_map(|p| intern(p)).collect())
            .collect();
        let mut list_ids: HashMap<&str, u32> = HashMap::new();
        let lists = records
            .iter()
            .map(|r| {
                let n = list_ids.len() as u32;
                *list_ids.entry(r.list.as_str()).or_insert(n)
            })
            .collect();
        let near = near_keys(&key_text);
        let bit = |k: u32| 1u128 << (u64::from(k).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57);
        let masks = keys
            .iter()
            .map(|own: &Vec<u32>| {
                let mine = own.iter().fold(0, |m, &k| m | bit(k));
                let reach = own
                    .iter()
                    .flat_map(|&k| &near[k as usize])
                    .fold(mine, |m, &k| m | bit(k));
                (mine, reach)
            })
            .collect();
        let reach = keys
            .iter()
            .map(|own: &Vec<u32>| {
                let mut all: Vec<u32> = own
                    .iter()
                    .flat_map(|&k| std::iter::once(k).chain(near[k as usize].iter().copied()))
                    .collect();
                all.sort_unstable();
                all.dedup();
                all
            })
            .collect();
        let rows = (0..records.len())
            .map(|r| Row {
                names: names[r],
                sex: records[r].sex,
                birth: records[r].birth,
                date: records[r].date,
                place: [places[r].first().copied(), places[r].get(1).copied()],
                more: places[r].len() > 2,
            })
            .collect();
        Prepared {
            records,
            lists,
            names,
            parsed,
            keys,
            near,
            masks,
            reach,
            places,
            rows,
        }
    }
}

/// A fast hasher for integer keys (FxHash's multiply-rotate, and a final mix), for the
/// large maps of pairs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        // The bucket is chosen by the low bits: mix the high ones in (keys of two u32s).
        let h = self.0 ^ (self.0 >> 33);
        h.wrapping_mul(0xff51_afd7_ed55_8ccd) ^ (h >> 29)
    }
}

/// A hash map with [`Fx`].
pub type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

/// Two interned names as one key, the smaller first.
fn name_pair(x: u32, y: u32) -> u64 {
    (u64::from(x.min(y)) << 32) | u64::from(x.max(y))
}

/// Whether two interned names have name keys alike: the same key, or two keys one edit
/// apart (a typo changes a consonant of the skeleton). Keys aim at recall: every word of a
/// name and its spellings share one.
fn share_a_key(p: &Prepared<'_>, x: u32, y: u32) -> bool {
    if p.masks[x as usize].1 & p.masks[y as usize].0 == 0 {
        return false;
    }
    let reach = &p.reach[x as usize];
    p.keys[y as usize]
        .iter()
        .any(|k| reach.binary_search(k).is_ok())
}

/// For each key, the keys one edit away.
fn near_keys(text: &[Vec<char>]) -> Vec<Vec<u32>> {
    let mut by_len: HashMap<usize, Vec<u32>> = HashMap::new();
    for (i, t) in text.iter().enumerate() {
        by_len.entry(t.len()).or_default().push(i as u32);
    }
    let mut near = vec![Vec::new(); text.len()];
    for (i, t) in text.iter().enumerate() {
        for len in [t.len().saturating_sub(1), t.len(), t.len() + 1] {
            for &j in by_len.get(&len).into_iter().flatten() {
                if j as usize != i && one_edit(t, &text[j as usize]) {
                    near[i].push(j);
                }
            }
        }
        near[i].sort_unstable();
    }
    near
}

/// Whether `a` becomes `b` by one insertion, deletion or substitution (both at least two long).
fn one_edit(a: &[char], b: &[char]) -> bool {
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if a.len() < 2 || b.len() - a.len() > 1 {
        return false;
    }
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if a.len() == b.len() {
        a[head + 1..] == b[head + 1..]
    } else {
        a[head..] == b[head + 1..]
    }
}

/// The similarities of pairs of distinct interned names (and places), each computed once.
#[derive(Debug, Default)]
pub struct Similarities(FxMap<u64, f32>);

impl Similarities {
    /// Adds the similarities in `computed`.
    fn extend(&mut self, computed: FxMap<u64, f32>) {
        if self.0.is_empty() {
            self.0 = computed;
        } else {
            self.0.extend(computed);
        }
    }

    /// The similarity of two interned names (computed now if it was not prepared); 0 for two
    /// names whose keys are not alike, which are not compared (they are most of the pairs of
    /// names a linkage meets, and almost all of them are different at any level).
    pub fn get(&self, p: &Prepared<'_>, x: u32, y: u32) -> f32 {
        if x == y {
            return 1.0;
        }
        if p.masks[x as usize].1 & p.masks[y as usize].0 == 0 {
            return 0.0;
        }
        match self.0.get(&name_pair(x, y)) {
            Some(&s) => s,
            None if !share_a_key(p, x, y) => 0.0,
            None => p.parsed[x as usize].similarity(&p.parsed[y as usize]),
        }
    }

    /// Every prepared pair of names with its similarity.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, f32)> + '_ {
        self.0
            .iter()
            .map(|(&k, &s)| ((k >> 32) as u32, (k & 0xffff_ffff) as u32, s))
    }
}

/// The comparison vector of each pair, computed on every core (each with its own memo of
/// the similarities it computes, kept in `sims` afterwards).
pub fn vectors(p: &Prepared<'_>, pairs: &[(u32, u32)], sims: &mut Similarities) -> Vec<[Level; 9]> {
    let shared = &*sims;
    let parts = crate::parallel(pairs, |_, chunk| {
        let mut own: FxMap<u64, f32> = FxMap::default();
        let mut similarity = |x: u32, y: u32| {
            if x == y {
                return 1.0;
            }
            if p.masks[x as usize].1 & p.masks[y as usize].0 == 0 {
                return 0.0;
            }
            let k = name_pair(x, y);
            if let Some(&s) = shared.0.get(&k) {
                return s;
            }
            *own.entry(k).or_insert_with(|| {
                if share_a_key(p, x, y) {
                    p.parsed[x as usize].similarity(&p.parsed[y as usize])
                } else {
                    0.0
                }
            })
        };
        let v: Vec<[Level; 9]> = chunk
            .iter()
            .map(|&(a, b)| compare_with(p, a as usize, b as usize, &mut similarity))
            .collect();
        (v, own)
    });
    let mut out = Vec::with_capacity(pairs.len());
    for (v, own) in parts {
        out.extend(v);
        sims.extend(own);
    }
    out
}

/// The comparison vector of records `a` and `b`.
pub fn compare(p: &Prepared<'_>, a: usize, b: usize, sims: &Similarities) -> [Level; 9] {
    compare_with(p, a, b, &mut |x, y| sims.get(p, x, y))
}

/// [`compare`] with the similarity of two interned names from `similarity`.
fn compare_with(
    p: &Prepared<'_>,
    a: usize,
    b: usize,
    similarity: &mut impl FnMut(u32, u32) -> f32,
) -> [Level; 9] {
    let mut v = [0; 9];
    let (ra, rb) = (&p.rows[a], &p.rows[b]);
    let (na, nb) = (&ra.names, &rb.names);
    for (slot, level) in v.iter_mut().take(5).enumerate() {
        if let (Some(x), Some(y)) = (na[slot], nb[slot]) {
            *level = name_level(similarity(x, y));
        }
    }
    // Given name and father's or family name written in each other's place (a list that
    // puts the father or the family first): compared crosswise, as close at best.
    for other in [1, 3] {
        if v[0] < 4 || v[other] < 4 {
            continue;
        }
        if let (Some(ga), Some(oa), Some(gb), Some(ob)) = (na[0], na[other], nb[0], nb[other]) {
            let (x, y) = (
                name_level(similarity(ga, ob)),
                name_level(similarity(oa, gb)),
            );
            if x <= 3 && y <= 3 {
                v[0] = x.max(2);
                v[other] = y.max(2);
            }
        }
    }
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
    let inline = |r: &Row| -> ([u32; 2], usize) {
        match r.place {
            [Some(x), Some(y)] => ([x, y], 2),
            [Some(x), None] => ([x, 0], 1),
            _ => ([0, 0], 0),
        }
    };
    let ((pa, la), (pb, lb)) = (inline(ra), inline(rb));
    let pa = if ra.more { &p.places[a][..] } else { &pa[..la] };
    let pb = if rb.more { &p.places[b][..] } else { &pb[..lb] };
    v[8] = place_level(pa, pb, similarity);
    v
}

/// How common each name is in each name field: the share of the records whose name there
/// reads as the same name (similarity at level 1, every spelling and script together), for
/// term-frequency adjustments (agreeing on a rare name says more than on a common one).
#[derive(Debug)]
pub struct Frequencies {
    /// Per name field, per interned name: its share.
    share: Vec<Vec<f64>>,
}

impl Frequencies {
    /// From the records and the similarities prepared (every spelling of a name that blocking
    /// put beside another has its similarity there).
    pub fn new(p: &Prepared<'_>, sims: &Similarities) -> Frequencies {
        let n = p.parsed.len();
        let mut count = vec![vec![0.0f64; n]; 5];
        for names in &p.names {
            for (slot, id) in names.iter().enumerate() {
                if let Some(id) = id {
                    count[slot][*id as usize] += 1.0;
                }
            }
        }
        let mut alike = count.clone();
        for (x, y, s) in sims.iter() {
            if s >= NAME_LEVELS[0] {
                for slot in 0..5 {
                    alike[slot][x as usize] += count[slot][y as usize];
                    alike[slot][y as usize] += count[slot][x as usize];
                }
            }
        }
        let share = alike
            .into_iter()
            .zip(&count)
            .map(|(alike, count)| {
                let known: f64 = count.iter().sum::<f64>().max(1.0);
                alike.into_iter().map(|c| c / known).collect()
            })
            .collect();
        Frequencies { share }
    }

    /// The term-frequency adjustment (bits) of each field of a pair whose vector is `v`: for
    /// a name agreeing at level 1, log2 of u of that level over the share of the commoner of
    /// the two names; 0 elsewhere.
    pub fn adjustments(
        &self,
        p: &Prepared<'_>,
        u: &[Vec<f64>],
        a: u32,
        b: u32,
        v: &[Level; 9],
    ) -> [f64; 9] {
        let mut out = [0.0; 9];
        for slot in 0..5 {
            if v[slot] != 1 {
                continue;
            }
            let (Some(x), Some(y)) = (p.names[a as usize][slot], p.names[b as usize][slot]) else {
                continue;
            };
            let share = self.share[slot][x as usize].max(self.share[slot][y as usize]);
            if share > 0.0 {
                out[slot] = (u[slot][1] / share).log2();
            }
        }
        out
    }
}

fn name_level(s: f32) -> Level {
    NAME_LEVELS
        .iter()
        .position(|&t| s >= t)
        .map(|i| i as Level + 1)
        .unwrap_or(NAME_LEVELS.len() as Level + 1)
}

/// 1: the same place; 2: one is in the other (a village and its governorate); 3: neither.
fn place_level(a: &[u32], b: &[u32], similarity: &mut impl FnMut(u32, u32) -> f32) -> Level {
    let mut same = |x: u32, y: u32| similarity(x, y) >= 0.9;
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
        assert_eq!(
            split_name("Ala' ul Deen Sabri Saadi"),
            ["Ala' ul Deen", "Sabri", "Saadi"]
        );
        assert_eq!(
            split_name("ʿAbd en Nasir Ghayth Zaghlul"),
            ["ʿAbd en Nasir", "Ghayth", "Zaghlul"]
        );
        assert_eq!(
            split_name("Mo'ayyad Ezz Aldin Urduni"),
            ["Mo'ayyad", "Ezz Aldin", "Urduni"]
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
        let v = compare(&p, 0, 1, &Similarities::default());
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
        let v = compare(&p, 0, 1, &Similarities::default());
        // محمد and Mahmoud are alike, not close; the other parts differ.
        assert!(v[0] >= 3 && v[1] >= 4 && v[3] >= 4, "{v:?}");
        for f in FIELDS {
            assert!(f.levels() >= 3);
            assert_eq!(f.level_name(0), "unknown");
        }
    }

    fn parts(given: &str, father: &str, family: &str) -> Record {
        Record {
            id: format!("{given} {father} {family}"),
            list: "l".into(),
            given: given.into(),
            father: father.into(),
            family: family.into(),
            ..Record::default()
        }
    }

    #[test]
    fn given_and_father_or_family_swapped_are_compared_crosswise() {
        let records = [
            parts("Ahmad", "Khaled", "Haddad"),
            parts("خالد", "أحمد", "حداد"),
            parts("Samir", "Yusuf", "Haddad"),
            parts("Haddad", "Khaled", "Ahmad"),
        ];
        let p = Prepared::new(&records);
        let sims = Similarities::default();
        let v = compare(&p, 0, 1, &sims);
        assert_eq!((v[0], v[1]), (2, 2), "{v:?}");
        let v = compare(&p, 0, 3, &sims);
        assert_eq!(
            (v[0], v[1], v[3]),
            (2, 1, 2),
            "given and family swapped: {v:?}"
        );
        let v = compare(&p, 0, 2, &sims);
        assert!(v[0] >= 4 && v[1] >= 4, "{v:?}");
    }

    #[test]
    fn a_common_name_weighs_less_than_a_rare_one() {
        // Mohammed (in two spellings and two scripts) in most records, Ziyad in two.
        let mut records: Vec<Record> = (0..40)
            .map(|i| {
                let given = ["Mohammed", "محمد", "Muhammad"][i % 3];
                parts(given, "Ali", &format!("Family{i}"))
            })
            .collect();
        records.push(parts("Ziyad", "Ali", "Nasser"));
        records.push(parts("Ziyad", "Ali", "Nasser"));
        let p = Prepared::new(&records);
        let mut sims = Similarities::default();
        let pairs: Vec<(u32, u32)> = (0..records.len() as u32)
            .flat_map(|a| (a + 1..records.len() as u32).map(move |b| (a, b)))
            .collect();
        let v = vectors(&p, &pairs, &mut sims);
        let f = Frequencies::new(&p, &sims);
        let u: Vec<Vec<f64>> = FIELDS.iter().map(|f| vec![0.2; f.levels()]).collect();
        let at = |a: u32, b: u32| {
            let i = pairs.iter().position(|&x| x == (a, b)).unwrap();
            assert_eq!(v[i][0], 1, "given names agree: {:?}", v[i]);
            f.adjustments(&p, &u, a, b, &v[i])[0]
        };
        let common = at(0, 3);
        let rare = at(40, 41);
        assert!(common < 0.0, "{common}");
        assert!(rare > 0.0, "{rare}");
    }
}
