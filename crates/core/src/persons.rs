//! Persons across lists: which person records of a case are one person (`athar persons
//! link`), the review of what the model is unsure of, and what follows from the decisions
//! (persons with every list they appear in, the list-overlap table).
//!
//! The linkage itself is `athar-link`'s; this module turns a case's person records into
//! its records (the list is the person's `source`, the place is placed in its hierarchy
//! through the case's place records, an age at the event stands in for a missing birth
//! date), and keeps what it found as `match` records: `same` for the pairs of each person
//! it linked, `review` for the pairs it is unsure of. A reviewer's decision is a `match`
//! record decided `by: reviewer`; the model never changes one, learns from those decided
//! `same`, and is bound by all of them. Nothing is merged: a `same` match is the only link
//! between two records, and deciding it otherwise undoes it.

use std::collections::{BTreeMap, HashMap, HashSet};

use athar_link::{Decision, Interval, Options, FIELDS};

use crate::log::Logger;
use crate::records::{
    self, Applied, Body, Change, ChangeError, Decider, Line, Match, MatchDecision, Person,
    RecordKind, StoredRecord,
};
use crate::storage::Catalog;
use crate::StoreError;

pub use athar_link::Options as LinkOptions;

/// The list a person record with no `source` is counted under.
pub const NO_LIST: &str = "(no list)";

/// The key of the match between two records: their ids in order, joined by `~`.
pub fn match_key(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}~{b}")
    } else {
        format!("{b}~{a}")
    }
}

/// What one run of [`link_case`] found and wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkReport {
    pub case: String,
    /// Person records linked.
    pub records: usize,
    /// Lists they come from.
    pub lists: usize,
    /// Pairs compared (after blocking).
    pub candidates: usize,
    /// Persons the records make (linked groups and records linked to no other).
    pub persons: usize,
    /// Persons found in more than one record.
    pub linked: usize,
    /// Pairs waiting for a reviewer after this run.
    pub review: usize,
    /// Reviewers' decisions the run was bound by.
    pub decisions: usize,
    /// Match records created, changed, deleted, left as they were.
    pub created: usize,
    pub changed: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

/// Each list's name (a source record's `name`, its code name when protected) by id.
pub fn list_names(sources: &[StoredRecord]) -> HashMap<&str, &str> {
    sources
        .iter()
        .filter_map(|s| match &s.record.body {
            Body::Source(x) => Some((s.record.id.as_str(), x.name.as_str())),
            _ => None,
        })
        .collect()
}

/// The case's person records as `athar-link` reads them, in the order of `persons`.
pub fn link_records(
    persons: &[StoredRecord],
    places: &[StoredRecord],
    sources: &[StoredRecord],
) -> Vec<athar_link::Record> {
    let source_name = list_names(sources);
    let hierarchy = PlaceHierarchy::new(places);
    persons
        .iter()
        .map(|s| {
            let Body::Person(p) = &s.record.body else {
                return athar_link::Record::default();
            };
            let list = p
                .source
                .as_deref()
                .map(|id| source_name.get(id).copied().unwrap_or(id).to_owned())
                // A record from no list is a list of its own: nothing keeps it apart.
                .unwrap_or_else(|| format!("record {}", s.record.id));
            let name = p.names.first().map(|n| n.name.clone()).unwrap_or_default();
            let mut r = athar_link::Record {
                id: s.record.id.clone(),
                list,
                mother: p.mother_name.clone().unwrap_or_default(),
                sex: p.sex.and_then(|x| match x.as_str() {
                    "male" => Some('m'),
                    "female" => Some('f'),
                    _ => None,
                }),
                birth: birth(p),
                date: p.event_date.as_ref().and_then(interval),
                place: p
                    .event_place
                    .as_deref()
                    .map(|t| hierarchy.chain(t))
                    .unwrap_or_default(),
                ..athar_link::Record::default()
            };
            name_parts(&mut r, name, p.father_name.as_deref());
            r
        })
        .collect()
}

/// The name parts of a record: with the father's name in its own field, the whole name
/// gives the given name (first), the family name (last) and, of four parts or more, the
/// grandfather's (third); a middle part of three is the father's, as the field says it.
/// Without it, `athar-link` splits the whole name itself.
fn name_parts(r: &mut athar_link::Record, name: String, father: Option<&str>) {
    let Some(father) = father.map(str::trim).filter(|f| !f.is_empty()) else {
        r.name = name;
        return;
    };
    let parts = athar_link::compare::split_name(&name);
    match parts.len() {
        0 => {}
        1 => r.given.clone_from(&parts[0]),
        n => {
            r.given.clone_from(&parts[0]);
            r.family.clone_from(&parts[n - 1]);
            if n >= 4 {
                r.grandfather.clone_from(&parts[2]);
            }
        }
    }
    r.father = father.to_owned();
    r.name = name;
}

fn interval(d: &records::DateValue) -> Option<Interval> {
    let (first, last) = d.days()?;
    // Open-ended ranges say too little to compare.
    (first != i32::MIN && last != i32::MAX).then_some(Interval { first, last })
}

/// The birth date, or the interval an age at the event puts it in.
fn birth(p: &Person) -> Option<Interval> {
    if let Some(b) = p.birth_date.as_ref().and_then(interval) {
        return Some(b);
    }
    let age = p.age.as_ref()?;
    let at = p.event_date.as_ref().and_then(interval)?;
    let year = 365.2425;
    Some(Interval {
        first: at.first - ((age.max as f64 + 1.0) * year).ceil() as i32,
        last: at.last - (age.min as f64 * year).floor() as i32,
    })
}

/// Place names of a case, each with the names of the places that contain it.
struct PlaceHierarchy {
    by_name: HashMap<String, usize>,
    names: Vec<String>,
    parent: Vec<Option<usize>>,
}

impl PlaceHierarchy {
    fn new(places: &[StoredRecord]) -> Self {
        let index: HashMap<&str, usize> = places
            .iter()
            .enumerate()
            .map(|(i, s)| (s.record.id.as_str(), i))
            .collect();
        let mut by_name = HashMap::new();
        let mut names = Vec::new();
        let mut parent = Vec::new();
        for (i, s) in places.iter().enumerate() {
            let Body::Place(p) = &s.record.body else {
                names.push(String::new());
                parent.push(None);
                continue;
            };
            for n in &p.names {
                by_name.entry(place_key(&n.name)).or_insert(i);
            }
            names.push(p.names.first().map(|n| n.name.clone()).unwrap_or_default());
            parent.push(p.parent.as_deref().and_then(|r| index.get(r).copied()));
        }
        PlaceHierarchy {
            by_name,
            names,
            parent,
        }
    }

    /// `text`, then the names of the places containing the place it names.
    fn chain(&self, text: &str) -> Vec<String> {
        let mut out = vec![text.to_owned()];
        let mut at = self.by_name.get(&place_key(text)).copied();
        let mut seen = HashSet::new();
        while let Some(i) = at {
            if !seen.insert(i) {
                break;
            }
            if let Some(up) = self.parent[i] {
                out.push(self.names[up].clone());
            }
            at = self.parent[i];
        }
        out
    }
}

fn place_key(name: &str) -> String {
    athar_search::normalize::normalize(name)
}

/// Links the person records of `case` and writes what it found as `match` records by
/// `actor` (one batch: all or nothing). Reviewers' decisions bind the run and are never
/// changed; the model's matches of an earlier run are brought up to date.
pub fn link_case(
    catalog: &mut dyn Catalog,
    logger: &mut Logger<'_>,
    case: &str,
    actor: &str,
    options: &Options,
) -> Result<(LinkReport, Vec<Applied>), ChangeError> {
    let persons = catalog.records(Some(RecordKind::Person), Some(case))?;
    let places = catalog.records(Some(RecordKind::Place), Some(case))?;
    let sources = catalog.records(Some(RecordKind::Source), Some(case))?;
    let matches = catalog.records(Some(RecordKind::Match), Some(case))?;
    let input = link_records(&persons, &places, &sources);
    let index: HashMap<&str, u32> = persons
        .iter()
        .enumerate()
        .map(|(i, s)| (s.record.id.as_str(), i as u32))
        .collect();
    // The match of each pair: a reviewer's before the model's, and of two reviewers'
    // decisions that disagree (written before matches were one per pair) `different`, so
    // nothing is joined on a disagreement. The model's duplicates are deleted.
    let mut existing: HashMap<String, (&StoredRecord, &Match)> = HashMap::new();
    let mut duplicates = Vec::new();
    let rank = |m: &Match| match (m.by, m.decision) {
        (Decider::Reviewer, MatchDecision::Different) => 3,
        (Decider::Reviewer, _) => 2,
        (Decider::Model, _) => 1,
    };
    for s in &matches {
        let Body::Match(m) = &s.record.body else {
            continue;
        };
        let key = match_key(&m.persons[0], &m.persons[1]);
        match existing.get(&key) {
            Some(&(_, old)) if rank(old) >= rank(m) => {
                if m.by == Decider::Model {
                    duplicates.push(s.record.id.clone());
                }
            }
            Some(&(old_s, old)) => {
                if old.by == Decider::Model {
                    duplicates.push(old_s.record.id.clone());
                }
                existing.insert(key, (s, m));
            }
            None => {
                existing.insert(key, (s, m));
            }
        }
    }
    let mut decisions = Vec::new();
    for (_, m) in existing.values() {
        if m.by != Decider::Reviewer {
            continue;
        }
        let (a, b) = (m.persons[0].as_str(), m.persons[1].as_str());
        if let (Some(&a), Some(&b)) = (index.get(a), index.get(b)) {
            decisions.push(Decision {
                a,
                b,
                same: m.decision == MatchDecision::Same,
            });
        }
    }
    decisions.sort_by_key(|d| (d.a, d.b));
    let linkage = athar_link::link_with(&input, options, &decisions);
    let rivals = Rivals::new(&input, &linkage);
    // What the model holds now: the pairs within each person, and the unsure pairs
    // across persons.
    let mut wanted: BTreeMap<String, Match> = BTreeMap::new();
    for p in &linkage.pairs {
        let same = linkage.clusters.of[p.a as usize].is_some()
            && linkage.clusters.of[p.a as usize] == linkage.clusters.of[p.b as usize];
        let decision = if same {
            MatchDecision::Same
        } else if p.probability >= options.review
            && p.probability > 0.0
            && rivals.open(p.a, p.b, p.probability)
        {
            MatchDecision::Review
        } else {
            continue;
        };
        let (a, b) = (
            &persons[p.a as usize].record.id,
            &persons[p.b as usize].record.id,
        );
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        let weights = FIELDS
            .iter()
            .zip(p.weights)
            .filter(|(_, w)| *w != 0.0)
            .map(|(f, w)| (f.as_str().to_owned(), round(w, 100.0)))
            .collect();
        wanted.insert(
            match_key(a, b),
            Match {
                persons: vec![a.clone(), b.clone()],
                decision,
                by: Decider::Model,
                probability: Some(round(p.probability.clamp(0.0, 1.0), 10_000.0)),
                weights,
                note: None,
            },
        );
    }
    let mut report = LinkReport {
        case: case.to_owned(),
        records: persons.len(),
        lists: input
            .iter()
            .map(|r| r.list.as_str())
            .collect::<HashSet<_>>()
            .len(),
        candidates: linkage.candidates,
        persons: persons.len()
            - linkage
                .clusters
                .persons
                .iter()
                .map(|c| c.len() - 1)
                .sum::<usize>(),
        linked: linkage.clusters.persons.len(),
        review: 0,
        decisions: decisions.len(),
        created: 0,
        changed: 0,
        deleted: 0,
        unchanged: 0,
    };
    let mut changes = Vec::new();
    for (key, m) in &wanted {
        match existing.get(key) {
            Some((_, old)) if old.by == Decider::Reviewer => continue,
            Some((_, old)) if *old == m => report.unchanged += 1,
            Some((s, _)) => {
                report.changed += 1;
                changes.push(put(case, key, Some(s.record.id.clone()), m.clone()));
            }
            None => {
                report.created += 1;
                changes.push(put(case, key, None, m.clone()));
            }
        }
        if m.decision == MatchDecision::Review {
            report.review += 1;
        }
    }
    for (key, (s, old)) in &existing {
        if old.by == Decider::Model && !wanted.contains_key(key) {
            report.deleted += 1;
            changes.push(Change::Delete(s.record.id.clone()));
        }
    }
    report.deleted += duplicates.len();
    changes.extend(duplicates.into_iter().map(Change::Delete));
    let applied = if changes.is_empty() {
        Vec::new()
    } else {
        records::apply(catalog, logger, changes, actor)?
    };
    Ok((report, applied))
}

/// How much likelier, in odds, a link already made must be than a rival pair for the rival
/// to stay out of review.
const RIVAL_ODDS: f64 = 2.0;

/// The links a pair across two persons competes with. Lists are deduplicated, so when the
/// person of `a` already holds a record `x` of `b`'s list, `a ~ b` is `a ~ x`'s rival (and
/// likewise from `b`'s side); such a pair is worth a reviewer's time only when it is nearly
/// as likely as the link it would replace. A pair with no rival always is.
struct Rivals<'a> {
    linkage: &'a athar_link::Linkage,
    records: &'a [athar_link::Record],
    probability: HashMap<(u32, u32), f64>,
}

impl<'a> Rivals<'a> {
    fn new(records: &'a [athar_link::Record], linkage: &'a athar_link::Linkage) -> Self {
        let probability = linkage
            .pairs
            .iter()
            .filter(|p| linkage.clusters.of[p.a as usize].is_some())
            .map(|p| ((p.a.min(p.b), p.a.max(p.b)), p.probability))
            .collect();
        Rivals {
            linkage,
            records,
            probability,
        }
    }

    /// Whether `a ~ b` (with probability `p`) is a question still open.
    fn open(&self, a: u32, b: u32, p: f64) -> bool {
        let odds = |p: f64| p / (1.0 - p).max(1e-12);
        self.rival(a, b)
            .into_iter()
            .chain(self.rival(b, a))
            .all(|q| odds(p) * RIVAL_ODDS >= odds(q))
    }

    /// The best link of `a`'s person to a record of `b`'s list, if it has one.
    fn rival(&self, a: u32, b: u32) -> Option<f64> {
        let person = self.linkage.clusters.of[a as usize]?;
        let list = &self.records[b as usize].list;
        self.linkage.clusters.persons[person as usize]
            .iter()
            .filter(|&&x| x != a && self.records[x as usize].list == *list)
            .map(|&x| {
                self.probability
                    .get(&(a.min(x), a.max(x)))
                    .copied()
                    .unwrap_or(1.0)
            })
            .reduce(f64::max)
    }
}

fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

fn put(case: &str, key: &str, id: Option<String>, m: Match) -> Change {
    Change::Put(Box::new(Line {
        id,
        key: Some(key.to_owned()),
        case: Some(case.to_owned()),
        body: Body::Match(m),
    }))
}

/// A person: the records linked as one (by `same` matches), with the lists they are in.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LinkedPerson {
    /// Record ids, in id order.
    pub records: Vec<String>,
    /// The lists, by name, in order.
    pub lists: Vec<String>,
}

/// The persons of a case as the `same` matches join its person records: every record is
/// in exactly one person; persons of several records first, then in id order.
pub fn persons(catalog: &dyn Catalog, case: &str) -> Result<Vec<LinkedPerson>, StoreError> {
    let persons = catalog.records(Some(RecordKind::Person), Some(case))?;
    let matches = catalog.records(Some(RecordKind::Match), Some(case))?;
    let sources = catalog.records(Some(RecordKind::Source), Some(case))?;
    Ok(group(&persons, &matches, &sources))
}

/// [`persons`] from records already read.
pub fn group(
    persons: &[StoredRecord],
    matches: &[StoredRecord],
    sources: &[StoredRecord],
) -> Vec<LinkedPerson> {
    let index: HashMap<&str, usize> = persons
        .iter()
        .enumerate()
        .map(|(i, s)| (s.record.id.as_str(), i))
        .collect();
    let mut parent: Vec<usize> = (0..persons.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    // Reviewers' `same` first, then the model's; never a join across a pair decided
    // different.
    let pair_of = |m: &Match| {
        Some((
            *index.get(m.persons[0].as_str())?,
            *index.get(m.persons[1].as_str())?,
        ))
    };
    let mut apart: HashSet<(usize, usize)> = HashSet::new();
    let mut joins: Vec<(u8, usize, usize)> = Vec::new();
    for s in matches {
        let Body::Match(m) = &s.record.body else {
            continue;
        };
        let Some((a, b)) = pair_of(m) else {
            continue;
        };
        match m.decision {
            MatchDecision::Different => {
                apart.insert((a.min(b), a.max(b)));
            }
            MatchDecision::Same => joins.push((u8::from(m.by == Decider::Model), a, b)),
            MatchDecision::Review => {}
        }
    }
    joins.sort_unstable();
    let mut members: Vec<Vec<usize>> = (0..persons.len()).map(|i| vec![i]).collect();
    for (_, a, b) in joins {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra == rb || apart.contains(&(a.min(b), a.max(b))) {
            continue;
        }
        let split = members[ra].iter().any(|&x| {
            members[rb]
                .iter()
                .any(|&y| apart.contains(&(x.min(y), x.max(y))))
        });
        if split {
            continue;
        }
        let (keep, gone) = (ra.min(rb), ra.max(rb));
        parent[gone] = keep;
        let moved = std::mem::take(&mut members[gone]);
        members[keep].extend(moved);
    }
    let source_name = list_names(sources);
    let mut groups: BTreeMap<usize, LinkedPerson> = BTreeMap::new();
    for (i, s) in persons.iter().enumerate() {
        let r = root(&mut parent, i);
        let g = groups.entry(r).or_insert_with(|| LinkedPerson {
            records: Vec::new(),
            lists: Vec::new(),
        });
        g.records.push(s.record.id.clone());
        let list = match &s.record.body {
            Body::Person(p) => p
                .source
                .as_deref()
                .map_or(NO_LIST, |id| source_name.get(id).copied().unwrap_or(id)),
            _ => NO_LIST,
        };
        if !g.lists.iter().any(|l| l == list) {
            g.lists.push(list.to_owned());
        }
    }
    let mut out: Vec<LinkedPerson> = groups
        .into_values()
        .map(|mut g| {
            g.records.sort();
            g.lists.sort();
            g
        })
        .collect();
    out.sort_by(|a, b| {
        (b.records.len() > 1)
            .cmp(&(a.records.len() > 1))
            .then_with(|| a.records.cmp(&b.records))
    });
    out
}

/// One row of the list-overlap table: how many persons appear in exactly this set of
/// lists (the input of multiple systems estimation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Overlap {
    pub lists: Vec<String>,
    pub persons: usize,
}

/// The list-overlap table of `persons`, largest combinations of lists first.
pub fn overlap(persons: &[LinkedPerson]) -> Vec<Overlap> {
    let mut counts: BTreeMap<&[String], usize> = BTreeMap::new();
    for p in persons {
        *counts.entry(&p.lists).or_default() += 1;
    }
    let mut out: Vec<Overlap> = counts
        .into_iter()
        .map(|(lists, persons)| Overlap {
            lists: lists.to_vec(),
            persons,
        })
        .collect();
    out.sort_by(|a, b| {
        b.lists
            .len()
            .cmp(&a.lists.len())
            .then_with(|| a.lists.cmp(&b.lists))
    });
    out
}

/// A pair waiting for a reviewer: the match and the two person records.
#[derive(Debug, Clone)]
pub struct Pending {
    pub matched: StoredRecord,
    pub persons: [StoredRecord; 2],
}

/// The review queue of `case`: `review` matches, most likely first.
pub fn review_queue(catalog: &dyn Catalog, case: &str) -> Result<Vec<Pending>, StoreError> {
    let matches = catalog.records(Some(RecordKind::Match), Some(case))?;
    let mut out = Vec::new();
    for s in matches {
        let Body::Match(m) = &s.record.body else {
            continue;
        };
        if m.decision != MatchDecision::Review {
            continue;
        }
        // Only live persons of the match's own case: a person since moved to another case
        // or deleted is not shown here.
        let live =
            |x: Option<StoredRecord>| x.filter(|x| !x.deleted && x.record.case == s.record.case);
        let a = live(catalog.record_by_id(&m.persons[0])?);
        let b = live(catalog.record_by_id(&m.persons[1])?);
        if let (Some(a), Some(b)) = (a, b) {
            out.push(Pending {
                matched: s,
                persons: [a, b],
            });
        }
    }
    out.sort_by(|x, y| {
        let p = |s: &StoredRecord| match &s.record.body {
            Body::Match(m) => m.probability.unwrap_or(0.0),
            _ => 0.0,
        };
        p(&y.matched)
            .total_cmp(&p(&x.matched))
            .then_with(|| x.matched.record.id.cmp(&y.matched.record.id))
    });
    Ok(out)
}

/// The change that records a reviewer's `decision` on a match: `same` or `different` by a
/// reviewer, or `review` to undo a decision (the pair goes back to the model and the
/// queue). The caller applies it as the reviewer, so the custody event names them. None
/// when `current` is not a match.
pub fn decision_change(
    current: &StoredRecord,
    decision: MatchDecision,
    note: Option<String>,
) -> Option<Change> {
    let Body::Match(m) = &current.record.body else {
        return None;
    };
    let mut m = m.clone();
    m.decision = decision;
    m.by = if decision == MatchDecision::Review {
        Decider::Model
    } else {
        Decider::Reviewer
    };
    if note.is_some() || decision == MatchDecision::Review {
        m.note = note;
    }
    Some(Change::Put(Box::new(Line {
        id: Some(current.record.id.clone()),
        key: current.record.key.clone(),
        case: Some(current.record.case.clone()),
        body: Body::Match(m),
    })))
}

/// The person records joined to `id` by `same` matches, directly or through others, within
/// its case: `id` first, then the others in id order; at most `limit`.
pub fn same_as(catalog: &dyn Catalog, id: &str, limit: usize) -> Result<Vec<String>, StoreError> {
    let Some(start) = catalog.record_by_id(id)? else {
        return Ok(vec![id.to_owned()]);
    };
    let case = start.record.case;
    let mut seen: HashSet<String> = HashSet::from([id.to_owned()]);
    let mut todo = vec![id.to_owned()];
    while let Some(at) = todo.pop() {
        for r in catalog.referrers(&at)? {
            let Some(s) = catalog.record_by_id(&r)? else {
                continue;
            };
            let Body::Match(m) = &s.record.body else {
                continue;
            };
            if s.deleted || s.record.case != case || m.decision != MatchDecision::Same {
                continue;
            }
            for p in &m.persons {
                if seen.len() < limit && !seen.contains(p) {
                    let same_case = catalog
                        .record_by_id(p)?
                        .is_some_and(|x| !x.deleted && x.record.case == case);
                    if same_case {
                        seen.insert(p.clone());
                        todo.push(p.clone());
                    }
                }
            }
        }
    }
    seen.remove(id);
    let mut rest: Vec<String> = seen.into_iter().collect();
    rest.sort();
    let mut out = vec![id.to_owned()];
    out.extend(rest);
    Ok(out)
}
