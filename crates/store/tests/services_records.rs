//! Record changes (`athar_core::records::apply`) on the embedded backends: one custody event
//! per create, edit and delete, reference resolution, whole-batch refusal with nothing
//! written, and a restricted writer (`records::Restriction`) who sees only some cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use athar_core::records::{
    self, Applied, Body, Change, ChangeError, RecordKind, Restriction, StoredRecord,
};
use athar_core::scope::Scope;
use athar_core::verify::ProblemKind;
use athar_core::{EventDetails, EventKind, ItemId, RecordChange};
use support::{kinds, Env};

const ACTOR: &str = "Analyst Test-B";

fn put(json: &str) -> Change {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    Change::Put(Box::new(records::parse_line(v).unwrap()))
}

fn apply_as(
    env: &mut Env,
    changes: Vec<Change>,
    restriction: Option<&Restriction<'_>>,
) -> Result<Vec<Applied>, ChangeError> {
    let mut w = env.archive.writer().unwrap();
    records::apply_as(w.catalog, &mut w.logger, changes, ACTOR, restriction)
}

fn apply(env: &mut Env, changes: Vec<Change>) -> Result<Vec<Applied>, ChangeError> {
    apply_as(env, changes, None)
}

fn stored(env: &Env, id: &str) -> StoredRecord {
    env.archive.catalog.record_by_id(id).unwrap().unwrap()
}

fn changes_of(env: &Env, id: &str) -> Vec<RecordChange> {
    env.archive
        .catalog
        .events(&ItemId::parse(id).unwrap())
        .unwrap()
        .into_iter()
        .map(|e| {
            assert_eq!(e.kind, EventKind::Record);
            assert_eq!(e.actor, ACTOR);
            match e.details {
                EventDetails::Record(r) => r,
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

/// `(index, field, message)` of a refused batch.
fn refused(r: Result<Vec<Applied>, ChangeError>) -> (usize, String, String) {
    match r {
        Err(ChangeError::Invalid {
            index,
            field,
            message,
        }) => (index, field, message),
        other => panic!("expected a refused batch, got {other:?}"),
    }
}

/// An archive with case `case-a` holding a place, an incident there and a person.
fn documented() -> (Env, Vec<Applied>) {
    let mut env = Env::new();
    let applied = apply(
        &mut env,
        vec![
            put(r#"{"kind":"case","key":"case-a","title":"Synthetic case A"}"#),
            put(r#"{"kind":"incident","case":"case-a","key":"inc-1","title":"Synthetic incident","places":["pl-1"],"date":"2013-05"}"#),
            put(r#"{"kind":"place","case":"case-a","key":"pl-1","names":[{"name":"Synthetic Town"}],"place_type":"town"}"#),
            put(r#"{"kind":"person","case":"case-a","key":"p-1","names":[{"name":"Synthetic Person One"}],"status":"detained"}"#),
        ],
    )
    .expect("apply");
    (env, applied)
}

#[test]
fn creates_write_one_custody_event_each_and_are_logged() {
    let (env, applied) = documented();
    assert_eq!(applied.len(), 4);
    assert!(applied.iter().all(|a| a.action == "create"));
    let events: Vec<u64> = applied.iter().map(|a| a.event.unwrap()).collect();
    assert_eq!(events, [1, 2, 3, 4]);
    assert_eq!(env.max_seq(), 4);
    assert_eq!(env.log_size(), 4, "logged before apply returns");
    let kinds: Vec<RecordKind> = applied.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Case,
            RecordKind::Incident,
            RecordKind::Place,
            RecordKind::Person
        ]
    );
    for a in &applied {
        let s = stored(&env, &a.id);
        assert!(!s.deleted);
        assert_eq!(Some(s.sha256), a.sha256);
        assert_eq!(s.record.value_hash(), s.sha256);
        assert_eq!(
            env.archive.catalog.record_value(&s.sha256).unwrap(),
            Some(s.record.canonical())
        );
        let changes = changes_of(&env, &a.id);
        assert_eq!(changes.len(), 1);
        let c = &changes[0];
        assert_eq!(c.action, "create");
        assert_eq!(c.record_kind, a.kind.as_str());
        assert_eq!(c.case, "case-a");
        assert_eq!((c.digest, c.old, c.new), (s.sha256, None, Some(s.sha256)));
    }
    // The incident's reference to the place, written by key, is stored as the place's id.
    let incident = stored(&env, &applied[1].id);
    let Body::Incident(i) = &incident.record.body else {
        panic!("{incident:?}")
    };
    assert_eq!(i.places, [applied[2].id.clone()]);
    assert_eq!(
        env.archive.catalog.referrers(&applied[2].id).unwrap(),
        [applied[1].id.clone()]
    );
    assert!(env.archive.catalog.case_exists("case-a").unwrap());
    assert!(env.verify().ok, "{:?}", env.verify().problems);
    assert!(env.verify_log().problems.is_empty());
}

#[test]
fn an_edit_records_old_and_new_hashes_and_an_unchanged_value_nothing() {
    let (mut env, applied) = documented();
    let person = &applied[3];
    let old = person.sha256.unwrap();
    let edited = apply(
        &mut env,
        vec![put(
            r#"{"kind":"person","case":"case-a","key":"p-1","names":[{"name":"Synthetic Person One"}],"status":"released"}"#,
        )],
    )
    .unwrap();
    assert_eq!(edited[0].id, person.id, "found by kind and key");
    assert_eq!(edited[0].action, "edit");
    assert_eq!(edited[0].event, Some(5));
    let new = edited[0].sha256.unwrap();
    assert_ne!(new, old);
    let changes = changes_of(&env, &person.id);
    assert_eq!(changes.len(), 2);
    assert_eq!(
        (changes[1].action.as_str(), changes[1].old, changes[1].new),
        ("edit", Some(old), Some(new))
    );
    // Every version is kept under its hash.
    assert!(env.archive.catalog.record_value(&old).unwrap().is_some());
    assert_eq!(stored(&env, &person.id).sha256, new);

    // Writing the same value again (by id this time) changes nothing and records nothing.
    let same = format!(
        r#"{{"id":"{}","kind":"person","case":"case-a","key":"p-1","names":[{{"name":"Synthetic Person One"}}],"status":"released"}}"#,
        person.id
    );
    let again = apply(&mut env, vec![put(&same)]).unwrap();
    assert_eq!(again[0].action, "unchanged");
    assert_eq!(again[0].event, None);
    assert_eq!(env.max_seq(), 5);
    assert_eq!(env.log_size(), 5);
    assert!(env.verify().ok);
}

#[test]
fn a_delete_is_an_event_and_the_record_is_kept_as_deleted() {
    let (mut env, applied) = documented();
    let person = &applied[3];
    let out = apply(&mut env, vec![Change::Delete("person:p-1".into())]).unwrap();
    assert_eq!(
        (out[0].id.as_str(), out[0].action, out[0].event),
        (person.id.as_str(), "delete", Some(5))
    );
    let s = stored(&env, &person.id);
    assert!(s.deleted);
    let changes = changes_of(&env, &person.id);
    let last = changes.last().unwrap();
    assert_eq!(last.action, "delete");
    assert_eq!(
        (last.digest, last.old, last.new),
        (s.sha256, person.sha256, None)
    );
    assert!(env
        .archive
        .catalog
        .records(Some(RecordKind::Person), Some("case-a"))
        .unwrap()
        .is_empty());
    assert_eq!(env.log_size(), 5);
    assert!(env.verify().ok);

    // Gone: deleting again, or editing it by id, is refused.
    let (_, field, message) = refused(apply(&mut env, vec![Change::Delete(person.id.clone())]));
    assert_eq!(field, "id");
    assert!(message.contains("no record"), "{message}");
    let by_id = format!(
        r#"{{"id":"{}","kind":"person","case":"case-a","names":[{{"name":"x"}}]}}"#,
        person.id
    );
    let (_, _, message) = refused(apply(&mut env, vec![put(&by_id)]));
    assert!(message.contains("was deleted"), "{message}");
    // A case record is never deleted.
    let (_, _, message) = refused(apply(&mut env, vec![Change::Delete(applied[0].id.clone())]));
    assert!(message.contains("cases are not deleted"), "{message}");
}

#[test]
fn a_record_still_referred_to_is_deleted_only_with_its_referrers() {
    let (mut env, applied) = documented();
    let (place, incident) = (&applied[2], &applied[1]);
    let (index, field, message) = refused(apply(&mut env, vec![Change::Delete("pl-1".into())]));
    assert_eq!((index, field.as_str()), (0, "id"));
    assert!(message.contains("still referred to"), "{message}");
    assert!(message.contains(&incident.id), "{message}");
    assert_eq!(env.max_seq(), 4);

    let out = apply(
        &mut env,
        vec![
            Change::Delete(incident.id.clone()),
            Change::Delete(place.id.clone()),
        ],
    )
    .unwrap();
    assert_eq!(
        out.iter().map(|a| a.event).collect::<Vec<_>>(),
        [Some(5), Some(6)]
    );
    assert!(stored(&env, &place.id).deleted);
}

#[test]
fn references_resolve_by_key_kind_key_id_and_forward_in_the_batch() {
    let (mut env, applied) = documented();
    let person = applied[3].id.clone();
    let act = format!(
        r#"{{"kind":"act","case":"case-a","incident":"incident:inc-1","violation":"arbitrary_detention","places":["{}"],"victims":[{{"person":"p-1"}},{{"person":"p-2"}}],"perpetrators":[{{"org":"unit-9","involvement":"carried_out"}}]}}"#,
        applied[2].id
    );
    let out = apply(
        &mut env,
        vec![
            put(&act),
            // Named before they exist: later in the same batch.
            put(r#"{"kind":"person","case":"case-a","key":"p-2","names":[{"name":"Synthetic Person Two"}]}"#),
            put(r#"{"kind":"org","case":"case-a","key":"unit-9","names":[{"name":"Synthetic Unit 9"}],"org_type":"army"}"#),
        ],
    )
    .unwrap();
    let s = stored(&env, &out[0].id);
    let Body::Act(a) = &s.record.body else {
        panic!("{s:?}")
    };
    assert_eq!(a.incident, applied[1].id);
    assert_eq!(a.places, [applied[2].id.clone()]);
    assert_eq!(a.victims[0].person.as_deref(), Some(person.as_str()));
    assert_eq!(a.victims[1].person.as_deref(), Some(out[1].id.as_str()));
    assert_eq!(a.perpetrators[0].org.as_deref(), Some(out[2].id.as_str()));
    assert!(env.verify().ok);
}

#[test]
fn a_reference_to_nothing_or_to_the_wrong_kind_is_refused_by_field() {
    let (mut env, _) = documented();
    let (index, field, message) = refused(apply(
        &mut env,
        vec![put(
            r#"{"kind":"incident","case":"case-a","title":"t","places":["no-such-place"]}"#,
        )],
    ));
    assert_eq!((index, field.as_str()), (0, "places[0]"));
    assert!(message.contains("no place"), "{message}");

    // A person's key where a place is wanted.
    let (_, field, message) = refused(apply(
        &mut env,
        vec![put(
            r#"{"kind":"incident","case":"case-a","title":"t","places":["person:p-1"]}"#,
        )],
    ));
    assert_eq!(field, "places[0]");
    assert!(message.contains("no place"), "{message}");

    // One key naming two records that could both be meant.
    let (_, field, message) = refused(apply(
        &mut env,
        vec![
            put(
                r#"{"kind":"source","case":"case-a","key":"s-1","name":"Synthetic outlet","protection":"public"}"#,
            ),
            put(
                r#"{"kind":"org","case":"case-a","key":"p-1","names":[{"name":"Org sharing a key"}]}"#,
            ),
            put(
                r#"{"kind":"claim","case":"case-a","source":"s-1","about":"p-1","statement":"synthetic","stance":"asserts"}"#,
            ),
        ],
    ));
    assert_eq!(field, "about");
    assert!(message.contains("names 2 records"), "{message}");
    assert_eq!(
        env.max_seq(),
        4,
        "nothing of the refused batches was written"
    );
}

#[test]
fn a_bad_batch_is_refused_as_a_whole_with_nothing_written() {
    let (mut env, _) = documented();
    let before_records = env.archive.catalog.records(None, Some("case-a")).unwrap();
    let before_checkpoint = env.archive.custody_log().unwrap().checkpoint().to_owned();
    let (index, field, _) = refused(apply(
        &mut env,
        vec![
            put(
                r#"{"kind":"person","case":"case-a","key":"p-new","names":[{"name":"Would Be Written"}]}"#,
            ),
            put(
                r#"{"kind":"person","case":"case-a","key":"p-1","names":[{"name":"Edit that would be written"}]}"#,
            ),
            put(r#"{"kind":"incident","case":"case-a","title":"bad","related":["inc-missing"]}"#),
        ],
    ));
    assert_eq!((index, field.as_str()), (2, "related[0]"));
    assert_eq!(env.max_seq(), 4);
    assert_eq!(
        env.archive.catalog.records(None, Some("case-a")).unwrap(),
        before_records
    );
    assert!(env
        .archive
        .catalog
        .records_with_key("p-new")
        .unwrap()
        .is_empty());
    assert!(env
        .archive
        .catalog
        .unlogged()
        .unwrap()
        .iter()
        .all(|&s| s <= 4));
    assert_eq!(
        env.archive.custody_log().unwrap().checkpoint(),
        before_checkpoint
    );
}

#[test]
fn a_record_needs_an_existing_case_and_a_key_names_one_record() {
    let (mut env, _) = documented();
    let (_, field, message) = refused(apply(
        &mut env,
        vec![put(
            r#"{"kind":"person","case":"case-nowhere","names":[{"name":"x"}]}"#,
        )],
    ));
    assert_eq!(field, "case");
    assert!(message.contains("no case"), "{message}");
    let (_, field, message) = refused(apply(
        &mut env,
        vec![put(r#"{"kind":"person","names":[{"name":"x"}]}"#)],
    ));
    assert_eq!((field.as_str(), message.as_str()), ("case", "missing"));
    // A new record under a key the case already gives another record of its kind: here,
    // two in one batch.
    let (index, field, message) = refused(apply(
        &mut env,
        vec![
            put(r#"{"kind":"org","case":"case-a","key":"o-1","names":[{"name":"First"}]}"#),
            put(r#"{"kind":"org","case":"case-a","key":"o-1","names":[{"name":"Second"}]}"#),
        ],
    ));
    assert_eq!(index, 1);
    assert_eq!(field, "key");
    assert!(message.contains("already names record"), "{message}");
    // A case created by ingest can hold records.
    env.ingest(
        &[env.file("x.txt", b"synthetic")],
        &athar_core::ingest::IngestOptions {
            case: Some("case-ingested".into()),
            ..env.opts()
        },
    );
    apply(
        &mut env,
        vec![put(
            r#"{"kind":"person","case":"case-ingested","names":[{"name":"y"}]}"#,
        )],
    )
    .unwrap();
}

#[test]
fn a_link_names_an_item_by_prefix_and_an_unknown_item_is_refused() {
    let (mut env, applied) = documented();
    let item = env.ingest_one("video.bin", &support::bytes(5, 500));
    let prefix = &item.sha256.to_hex()[..12];
    let link = format!(
        r#"{{"kind":"link","case":"case-a","item":"{prefix}","target":"inc-1","verification":"geolocated","start":3.5,"end":9}}"#
    );
    let out = apply(&mut env, vec![put(&link)]).unwrap();
    let s = stored(&env, &out[0].id);
    let Body::Link(l) = &s.record.body else {
        panic!("{s:?}")
    };
    assert_eq!(
        l.item,
        item.id.as_str(),
        "the prefix is stored as the item's id"
    );
    assert_eq!(l.target, applied[1].id);
    let mut referrers = env.archive.catalog.referrers(item.id.as_str()).unwrap();
    referrers.sort();
    assert_eq!(referrers, [out[0].id.clone()]);

    let (_, field, _) = refused(apply(
        &mut env,
        vec![put(
            r#"{"kind":"link","case":"case-a","item":"ffffffffffff","target":"inc-1","verification":"verified"}"#,
        )],
    ));
    assert_eq!(field, "item");
    assert!(env.verify().ok);
}

#[test]
fn a_restricted_writer_sees_only_their_cases_and_cannot_tell_others_exist() {
    let (mut env, applied) = documented();
    let other = apply(
        &mut env,
        vec![
            put(r#"{"kind":"case","key":"case-b"}"#),
            put(r#"{"kind":"person","case":"case-b","key":"pb","names":[{"name":"Person Of Case B"}]}"#),
        ],
    )
    .unwrap();
    let b_person = other[1].id.clone();
    let never = ItemId::generate().unwrap().to_string();
    let scope = Scope::of_cases(["case-a"]);
    let reads = |_: &str| true;
    let r = Restriction {
        scope: &scope,
        reads_protected: &reads,
    };
    let mut try_as = |changes: Vec<Change>| refused(apply_as(&mut env, changes, Some(&r)));

    // Another case, and a case that does not exist, answer alike.
    let existing = try_as(vec![put(
        r#"{"kind":"person","case":"case-b","names":[{"name":"x"}]}"#,
    )]);
    let missing = try_as(vec![put(
        r#"{"kind":"person","case":"case-zz","names":[{"name":"x"}]}"#,
    )]);
    assert_eq!(existing, missing);
    assert_eq!(existing.1, "case");

    // Another case's record, and no record, by id: the same answer.
    let edit = |id: &str| {
        put(&format!(
            r#"{{"id":"{id}","kind":"person","case":"case-a","names":[{{"name":"x"}}]}}"#
        ))
    };
    assert_eq!(try_as(vec![edit(&b_person)]), try_as(vec![edit(&never)]));
    // The writer never chooses a new record's id.
    assert_eq!(try_as(vec![edit(&never)]).2, "no such record");

    // Deleting another case's record by key, or a key nobody uses.
    let del_b = try_as(vec![Change::Delete("person:pb".into())]);
    let del_none = try_as(vec![Change::Delete("person:nobody".into())]);
    assert_eq!(del_b.1, del_none.1);
    assert_eq!(
        del_b.2.replace("person:pb", "?"),
        del_none.2.replace("person:nobody", "?")
    );

    // Referring to another case's record gives the no-record answer too.
    let refer = |target: &str| {
        put(&format!(
            r#"{{"kind":"act","case":"case-a","incident":"inc-1","violation":"torture","victims":[{{"person":"{target}"}}]}}"#
        ))
    };
    let to_b = try_as(vec![refer(&b_person)]);
    let to_none = try_as(vec![refer(&never)]);
    assert_eq!(to_b.1, to_none.1);
    assert_eq!(
        to_b.2.replace(&b_person, "?"),
        to_none.2.replace(&never, "?")
    );
    assert_eq!(env.max_seq(), 6, "nothing written by the refused batches");

    // Within their case, the writer writes.
    let ok = apply_as(
        &mut env,
        vec![put(
            r#"{"kind":"person","case":"case-a","key":"p-1","names":[{"name":"Synthetic Person One"}],"status":"alive"}"#,
        )],
        Some(&r),
    )
    .unwrap();
    assert_eq!(
        (ok[0].id.as_str(), ok[0].action),
        (applied[3].id.as_str(), "edit")
    );
}

#[test]
fn a_writer_who_may_not_read_protected_details_keeps_them() {
    let (mut env, _) = documented();
    let created = apply(
        &mut env,
        vec![put(
            r#"{"kind":"source","case":"case-a","key":"w-17","name":"W-17","protection":"protected","identity":"Real Synthetic Name, +000"}"#,
        )],
    )
    .unwrap();
    let id = created[0].id.clone();
    let scope = Scope::of_cases(["case-a"]);
    let reads = |_: &str| false;
    let r = Restriction {
        scope: &scope,
        reads_protected: &reads,
    };
    // The redacted form the writer was shown keeps the identity as stored.
    let out = apply_as(
        &mut env,
        vec![put(
            r#"{"kind":"source","case":"case-a","key":"w-17","name":"W-17","protection":"protected","identity":"[protected]","notes":"met twice"}"#,
        )],
        Some(&r),
    )
    .unwrap();
    assert_eq!(out[0].action, "edit");
    let Body::Source(s) = stored(&env, &id).record.body else {
        panic!()
    };
    assert_eq!(s.identity.as_deref(), Some("Real Synthetic Name, +000"));
    assert_eq!(s.notes.as_deref(), Some("met twice"));
    // Any other value, even the right one, is refused.
    let (_, field, _) = refused(apply_as(
        &mut env,
        vec![put(
            r#"{"kind":"source","case":"case-a","key":"w-17","name":"W-17","protection":"protected","identity":"Real Synthetic Name, +000"}"#,
        )],
        Some(&r),
    ));
    assert_eq!(field, "identity");
}

#[test]
fn verify_reports_a_record_value_altered_in_the_catalog() {
    let (env, applied) = documented();
    env.sql(
        "UPDATE record_values SET body = replace(body, 'Synthetic Person One', 'Someone Else')",
    );
    let report = env.verify();
    assert_eq!(kinds(&report.problems), [ProblemKind::RecordAltered]);
    assert_eq!(
        report.problems[0].item.as_deref(),
        Some(applied[3].id.as_str())
    );
    // And a record put back to an earlier version behind the log's back: the value is
    // intact, but not the one its last custody event names.
    let (mut env, applied) = documented();
    let old = applied[3].sha256.unwrap().to_hex();
    apply(
        &mut env,
        vec![put(
            r#"{"kind":"person","case":"case-a","key":"p-1","names":[{"name":"Synthetic Person One"}],"status":"dead"}"#,
        )],
    )
    .unwrap();
    assert!(env.verify().ok);
    env.sql(&format!(
        "UPDATE records SET sha256 = '{old}' WHERE id = '{}'",
        applied[3].id
    ));
    let report = env.verify();
    assert_eq!(kinds(&report.problems), [ProblemKind::RecordAltered]);
}

#[test]
fn verify_reports_a_record_row_pointing_at_another_records_value() {
    let (env, applied) = documented();
    // The person's row now names the place's (intact, stored) value.
    let place = applied[2].sha256.unwrap().to_hex();
    env.sql(&format!(
        "UPDATE records SET sha256 = '{place}' WHERE id = '{}'",
        applied[3].id
    ));
    let report = athar_core::verify::verify(
        env.archive.catalog.as_ref(),
        env.archive.blobs.as_ref(),
        1,
        &|_| {},
    )
    .expect("verify reports tampering instead of failing");
    assert_eq!(kinds(&report.problems), [ProblemKind::RecordAltered]);
}
