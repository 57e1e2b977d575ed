//! Persons across lists (`athar_core::persons`) on the embedded backends: what a linkage
//! run writes as `match` records, that a second run changes nothing, that reviewers'
//! decisions bind the model and are never changed by it, that undoing one gives the pair
//! back to the model, the persons and list-overlap table the matches make, and that the
//! records gathered for a person never leave its case. All names are synthetic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;

use athar_core::persons::{self, LinkOptions};
use athar_core::records::{self, Body, Change, MatchDecision, RecordKind};
use support::Env;

const ACTOR: &str = "Reviewer Test-R";

fn put(json: &str) -> Change {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    Change::Put(Box::new(records::parse_line(v).unwrap()))
}

fn apply(env: &mut Env, changes: Vec<Change>) {
    let mut w = env.archive.writer().unwrap();
    records::apply(w.catalog, &mut w.logger, changes, ACTOR).unwrap();
}

/// Why one record line is refused (it must be).
fn refused(env: &mut Env, json: &str) -> String {
    let mut w = env.archive.writer().unwrap();
    records::apply(w.catalog, &mut w.logger, vec![put(json)], ACTOR)
        .unwrap_err()
        .to_string()
}

/// Which person (an index into `persons::persons`) each record of `case` is now in.
fn person_of(env: &Env, case: &str) -> impl Fn(&str) -> usize {
    let people = persons::persons(&*env.archive.catalog, case).unwrap();
    move |r: &str| {
        people
            .iter()
            .position(|p| p.records.iter().any(|x| x == r))
            .unwrap()
    }
}

fn link(env: &mut Env, case: &str) -> persons::LinkReport {
    let mut w = env.archive.writer().unwrap();
    persons::link_case(
        w.catalog,
        &mut w.logger,
        case,
        "linker",
        &LinkOptions::default(),
    )
    .unwrap()
    .0
}

fn id_of(env: &Env, key: &str) -> String {
    env.archive
        .catalog
        .records_with_key(key)
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
        .id
}

/// Three lists of one case: the same five persons written in Arabic, in Latin script and
/// with a typo, two namesakes who differ in everything else, a person found only in one.
fn three_lists(env: &mut Env, case: &str) {
    let mut changes = vec![put(&format!(r#"{{"kind":"case","key":"{case}"}}"#))];
    for list in ["a", "b", "c"] {
        changes.push(put(&format!(
            r#"{{"kind":"source","case":"{case}","key":"{case}-list-{list}","name":"List {list}","protection":"public"}}"#
        )));
    }
    let people: [[&str; 3]; 5] = [
        [
            "محمد خالد الحلبي",
            "Mohammed Khaled al-Halabi",
            "Mohamad Khalid Halabi",
        ],
        [
            "أحمد سعيد العمر",
            "Ahmad Said al-Omar",
            "Ahmed Saeed Alomar",
        ],
        [
            "ياسر محمود الشامي",
            "Yaser Mahmoud al-Shami",
            "Yasser Mahmud Shami",
        ],
        ["عمر حسن الديري", "Omar Hasan al-Deiri", "Omar Hassan Deiri"],
        [
            "خالد عبد الله النوري",
            "Khaled Abdullah al-Nouri",
            "Khalid Abdallah Nuri",
        ],
    ];
    let births = ["1975", "1982-03-04", "1990", "1968", "1979"];
    let deaths = [
        "2013-05-12",
        "2014-01",
        "2013-11-02",
        "2012-08",
        "2015-02-20",
    ];
    let places = ["Daraa", "Homs", "Aleppo", "Deir ez-Zor", "Hama"];
    for (p, names) in people.iter().enumerate() {
        for (l, name) in names.iter().enumerate() {
            let list = ["a", "b", "c"][l];
            changes.push(put(&format!(
                r#"{{"kind":"person","case":"{case}","key":"{case}-{list}{p}","names":[{{"name":"{name}"}}],"sex":"male","birth_date":"{}","event_date":"{}","event_place":"{}","source":"{case}-list-{list}","source_row":"{}"}}"#,
                births[p], deaths[p], places[p], p + 1
            )));
        }
    }
    // Namesakes of person 0 in lists b and c: another birth, death and place.
    changes.push(put(&format!(
        r#"{{"kind":"person","case":"{case}","key":"{case}-b9","names":[{{"name":"Mohammed Khaled al-Halabi"}}],"sex":"male","birth_date":"1999","event_date":"2019-09-09","event_place":"Idlib","source":"{case}-list-b","source_row":"9"}}"#
    )));
    changes.push(put(&format!(
        r#"{{"kind":"person","case":"{case}","key":"{case}-c9","names":[{{"name":"Fatima Ali al-Sayed"}}],"sex":"female","birth_date":"1985","source":"{case}-list-c","source_row":"9"}}"#
    )));
    apply(env, changes);
}

fn matches(env: &Env, case: &str) -> Vec<(String, records::Match)> {
    env.archive
        .catalog
        .records(Some(RecordKind::Match), Some(case))
        .unwrap()
        .into_iter()
        .filter_map(|s| match s.record.body {
            Body::Match(m) => Some((s.record.id, m)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_run_links_persons_across_lists_and_a_second_changes_nothing() {
    let mut env = Env::new();
    three_lists(&mut env, "k");
    let report = link(&mut env, "k");
    assert_eq!(report.records, 17);
    assert_eq!(report.lists, 3);
    let people = persons::persons(&*env.archive.catalog, "k").unwrap();
    // Each of the five is one person in three records; the namesake and the woman alone.
    let of: HashMap<String, usize> = people
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.records.iter().map(move |r| (r.clone(), i)))
        .collect();
    for p in 0..5 {
        let ids: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|l| id_of(&env, &format!("k-{l}{p}")))
            .collect();
        assert_eq!(of[&ids[0]], of[&ids[1]], "person {p}: {people:?}");
        assert_eq!(of[&ids[0]], of[&ids[2]], "person {p}");
        assert_eq!(people[of[&ids[0]]].lists, ["List a", "List b", "List c"]);
    }
    let namesake = id_of(&env, "k-b9");
    assert_eq!(
        people[of[&namesake]].records,
        std::slice::from_ref(&namesake)
    );
    assert_eq!(people.len(), 7);
    assert_eq!(report.persons, 7);
    assert_eq!(report.linked, 5);
    // The overlap table: five persons in all three lists, one in b alone, one in c alone.
    let table = persons::overlap(&people);
    let rows: Vec<(Vec<&str>, usize)> = table
        .iter()
        .map(|o| (o.lists.iter().map(String::as_str).collect(), o.persons))
        .collect();
    assert_eq!(
        rows,
        [
            (vec!["List a", "List b", "List c"], 5),
            (vec!["List b"], 1),
            (vec!["List c"], 1)
        ]
    );
    // Every match has its probability and evidence; the model made them.
    let made = matches(&env, "k");
    assert!(made.len() >= 15, "{}", made.len());
    for (_, m) in &made {
        assert_eq!(m.by, records::Decider::Model);
        assert!(m.probability.is_some());
        assert!(m.weights.contains_key("given"), "{m:?}");
    }
    // Again: nothing to write.
    let again = link(&mut env, "k");
    assert_eq!(
        (again.created, again.changed, again.deleted),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(again.unchanged, made.len());
    assert!(env.verify().problems.is_empty());
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn reviewers_decisions_bind_the_model_and_can_be_undone() {
    let mut env = Env::new();
    three_lists(&mut env, "k");
    link(&mut env, "k");
    let a0 = id_of(&env, "k-a0");
    let b0 = id_of(&env, "k-b0");
    let c0 = id_of(&env, "k-c0");
    let namesake = id_of(&env, "k-b9");
    let key = persons::match_key(&a0, &b0);
    let (id, _) = matches(&env, "k")
        .into_iter()
        .find(|(_, m)| persons::match_key(&m.persons[0], &m.persons[1]) == key)
        .expect("a0 ~ b0 matched");
    // A reviewer says a0 and b0 are different persons.
    let current = env.archive.catalog.record_by_id(&id).unwrap().unwrap();
    let change =
        persons::decision_change(&current, MatchDecision::Different, Some("checked".into()))
            .unwrap();
    apply(&mut env, vec![change]);
    let report = link(&mut env, "k");
    assert_eq!(report.decisions, 1);
    let with = person_of(&env, "k");
    assert_ne!(
        with(&a0),
        with(&b0),
        "a reviewer's 'different' keeps them apart"
    );
    // The decision is kept as the reviewer made it, the custody event names them.
    let kept = env.archive.catalog.record_by_id(&id).unwrap().unwrap();
    let Body::Match(m) = &kept.record.body else {
        panic!()
    };
    assert_eq!(
        (m.decision, m.by),
        (MatchDecision::Different, records::Decider::Reviewer)
    );
    assert_eq!(m.note.as_deref(), Some("checked"));
    let events = env
        .archive
        .catalog
        .events(&athar_core::ItemId::parse(&id).unwrap())
        .unwrap();
    assert_eq!(events.last().unwrap().actor, ACTOR);
    assert_eq!(events.first().unwrap().actor, "linker");
    // Undone: back to the model, which links them again.
    let change = persons::decision_change(&kept, MatchDecision::Review, None).unwrap();
    apply(&mut env, vec![change]);
    link(&mut env, "k");
    let with = person_of(&env, "k");
    assert_eq!(with(&a0), with(&b0));
    // A reviewer says the namesake is c0's person: a `same` match the model did not
    // propose joins them, whatever the lists say.
    apply(
        &mut env,
        vec![put(&format!(
            r#"{{"kind":"match","case":"k","persons":["{namesake}","{c0}"],"decision":"same","by":"reviewer"}}"#
        ))],
    );
    let report = link(&mut env, "k");
    assert_eq!(report.decisions, 1);
    let with = person_of(&env, "k");
    assert_eq!(with(&namesake), with(&c0));
    // A reviewer may not leave a pair "to review" in their own name.
    let bad = serde_json::json!({"kind":"match","case":"k","persons":[a0, c0],"decision":"review","by":"reviewer"});
    let err = records::parse_line(bad).unwrap_err();
    assert_eq!(err.field, "decision");
}

#[test]
fn a_person_is_gathered_only_within_its_case() {
    let mut env = Env::new();
    three_lists(&mut env, "k");
    three_lists(&mut env, "other");
    link(&mut env, "k");
    link(&mut env, "other");
    let a0 = id_of(&env, "k-a0");
    let b1 = id_of(&env, "k-b1");
    let other = id_of(&env, "other-a0");
    // A match across cases is refused, even to the archive's operator.
    let err = refused(
        &mut env,
        &format!(
            r#"{{"kind":"match","case":"k","persons":["{a0}","{other}"],"decision":"same","by":"reviewer"}}"#
        ),
    );
    assert!(err.contains("persons[1]"), "{err}");
    // So is a second match of one pair: the decision is made on the one there is.
    let b0 = id_of(&env, "k-b0");
    let err = refused(
        &mut env,
        &format!(
            r#"{{"kind":"match","case":"k","persons":["{b0}","{a0}"],"decision":"different","by":"reviewer"}}"#
        ),
    );
    assert!(err.contains("already joins"), "{err}");
    // A reviewer joins a0 and b1; then b1 is moved to the other case: a0's person no longer
    // gathers it, and no pair with it is shown for review in case k.
    apply(
        &mut env,
        vec![put(&format!(
            r#"{{"kind":"match","case":"k","persons":["{a0}","{b1}"],"decision":"same","by":"reviewer"}}"#
        ))],
    );
    assert!(persons::same_as(&*env.archive.catalog, &a0, 100)
        .unwrap()
        .contains(&b1));
    let moved = env.archive.catalog.record_by_id(&b1).unwrap().unwrap();
    let mut line = moved.record.to_line();
    line["case"] = serde_json::json!("other");
    line["source"] = serde_json::Value::Null;
    apply(
        &mut env,
        vec![Change::Put(Box::new(records::parse_line(line).unwrap()))],
    );
    let group = persons::same_as(&*env.archive.catalog, &a0, 100).unwrap();
    assert_eq!(group[0], a0);
    assert!(!group.contains(&b1), "{group:?}");
    for r in &group {
        let s = env.archive.catalog.record_by_id(r).unwrap().unwrap();
        assert_eq!(s.record.case, "k");
    }
    for p in persons::review_queue(&*env.archive.catalog, "k").unwrap() {
        for x in &p.persons {
            assert_eq!(x.record.case, "k");
        }
    }
}

#[test]
fn a_reviewers_different_is_never_joined_over() {
    let mut env = Env::new();
    three_lists(&mut env, "k");
    link(&mut env, "k");
    let (a0, b0, c0) = (
        id_of(&env, "k-a0"),
        id_of(&env, "k-b0"),
        id_of(&env, "k-c0"),
    );
    // The model joined a0, b0 and c0; a reviewer says a0 and c0 are different persons. Even
    // before the model runs again, the persons do not put them together.
    let key = persons::match_key(&a0, &c0);
    let (id, _) = matches(&env, "k")
        .into_iter()
        .find(|(_, m)| persons::match_key(&m.persons[0], &m.persons[1]) == key)
        .expect("a0 ~ c0");
    let current = env.archive.catalog.record_by_id(&id).unwrap().unwrap();
    apply(
        &mut env,
        vec![persons::decision_change(&current, MatchDecision::Different, None).unwrap()],
    );
    let with = person_of(&env, "k");
    assert_ne!(with(&a0), with(&c0), "a reviewer said different");
    assert!(with(&b0) == with(&a0) || with(&b0) == with(&c0));
    link(&mut env, "k");
    let with = person_of(&env, "k");
    assert_ne!(with(&a0), with(&c0));
}

#[test]
fn an_age_at_the_event_places_the_birth_and_places_are_placed_in_their_hierarchy() {
    let mut env = Env::new();
    apply(
        &mut env,
        vec![
            put(r#"{"kind":"case","key":"h"}"#),
            put(
                r#"{"kind":"place","case":"h","key":"gov","names":[{"name":"Daraa"},{"name":"درعا"}],"place_type":"governorate"}"#,
            ),
            put(
                r#"{"kind":"place","case":"h","key":"vil","names":[{"name":"Synthetic Village"}],"place_type":"village","parent":"gov"}"#,
            ),
            put(
                r#"{"kind":"person","case":"h","key":"p","names":[{"name":"Samer Halabi"}],"age":{"min":30,"max":35},"event_date":"2013-05-01","event_place":"Synthetic Village"}"#,
            ),
        ],
    );
    let catalog = &*env.archive.catalog;
    let persons_ = catalog
        .records(Some(RecordKind::Person), Some("h"))
        .unwrap();
    let places = catalog.records(Some(RecordKind::Place), Some("h")).unwrap();
    let r = &persons::link_records(&persons_, &places, &[])[0];
    assert_eq!(r.place, ["Synthetic Village", "Daraa"]);
    let birth = r.birth.unwrap();
    let born = |s: &str| athar_link::Interval::parse(s).unwrap().first;
    assert!(
        birth.first <= born("1977-05-02") && birth.last >= born("1983-05-01"),
        "{birth:?}"
    );
    assert!(
        birth.first > born("1976-01-01") && birth.last < born("1984-01-01"),
        "{birth:?}"
    );
    // A record of no list is a list of its own.
    assert!(r.list.starts_with("record "));
}

#[test]
fn a_pair_that_rivals_a_much_likelier_link_is_not_queued() {
    let mut env = Env::new();
    three_lists(&mut env, "k");
    // A namesake of person 0 in list b, born the same year, who died elsewhere and later:
    // person 0 already holds b0 of list b, far likelier.
    apply(
        &mut env,
        vec![put(
            r#"{"kind":"person","case":"k","key":"k-b8","names":[{"name":"Mohammed Khaled al-Halabi"}],"sex":"male","birth_date":"1975","event_date":"2016","source":"k-list-b","source_row":"8"}"#,
        )],
    );
    link(&mut env, "k");
    let b8 = id_of(&env, "k-b8");
    let a0 = id_of(&env, "k-a0");
    let c0 = id_of(&env, "k-c0");
    let with = person_of(&env, "k");
    assert_ne!(with(&b8), with(&a0), "the namesake is not person 0");
    assert_eq!(with(&a0), with(&id_of(&env, "k-b0")));
    let queued: Vec<_> = matches(&env, "k")
        .into_iter()
        .filter(|(_, m)| m.decision == MatchDecision::Review)
        .filter(|(_, m)| m.persons.contains(&b8))
        .collect();
    for (_, m) in &queued {
        assert!(
            !m.persons.contains(&a0) && !m.persons.contains(&c0),
            "queued against a much likelier link: {m:?}"
        );
    }
}
