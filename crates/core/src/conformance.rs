//! The storage conformance suite: every contract of [`Catalog`], [`Accounts`],
//! [`BlobStore`] (with its [`BlobWriter`]) and [`LogStore`] as documented on the traits,
//! written once and run against any backend (GUIDE §2.4). A backend crate calls
//! [`catalog`], [`accounts`], [`blob_store`] and [`log_store`] from one of its tests with a function that makes a fresh, empty instance;
//! each check gets its own instance, every check runs, and the call panics at the end
//! naming each check that failed.
//!
//! Each check is named after the contract it holds the backend to, and asserts only what
//! the trait documentation promises (orders the docs leave open are compared as sets).
//!
//! Built only with the `conformance` feature: it is test code, not part of the archive.

use std::collections::BTreeSet;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::accounts::{
    Accounts, Language, NewSession, NewSignIn, ReviewSettings, Role, SignInOutcome,
    SIGN_IN_KEEP_DAYS,
};
use crate::log::LogStore;
use crate::records::{KeyedRecord, Record, RecordKind, RecordWrite};
use crate::{
    Access, BlobStore, Catalog, CustodyEvent, Derived, EventDetails, EventKind, Fingerprint, Item,
    ItemId, Job, NewItem, ReceivedCustody, Sha256, Sighting, StoreError, TOOL_VERSION,
};

/// A named check of one contract, run against a fresh catalog.
pub type CatalogCheck = (&'static str, fn(&mut dyn Catalog));
/// A named check of one contract, run against a fresh blob store.
pub type BlobCheck = (&'static str, fn(&dyn BlobStore));
/// A named check of one contract, run against a fresh log store.
pub type LogCheck = (&'static str, fn(&dyn LogStore));

/// Runs every check in [`CATALOG_CHECKS`], each on a catalog `make` returns.
pub fn catalog(make: &mut dyn FnMut() -> Box<dyn Catalog>) {
    let mut failed = Vec::new();
    for (name, check) in CATALOG_CHECKS {
        guard(&mut failed, name, || {
            let mut c = make();
            check(c.as_mut());
        });
    }
    report("catalog", CATALOG_CHECKS.len(), &failed);
}

/// A named check of one contract, run against fresh accounts.
pub type AccountsCheck = (&'static str, fn(&mut dyn Accounts));

/// Runs every check in [`ACCOUNTS_CHECKS`], each on accounts `make` returns.
pub fn accounts(make: &mut dyn FnMut() -> Box<dyn Accounts>) {
    let mut failed = Vec::new();
    for (name, check) in ACCOUNTS_CHECKS {
        guard(&mut failed, name, || check(make().as_mut()));
    }
    report("accounts", ACCOUNTS_CHECKS.len(), &failed);
}

/// Runs every check in [`BLOB_CHECKS`], each on a blob store `make` returns.
pub fn blob_store(make: &mut dyn FnMut() -> Box<dyn BlobStore>) {
    let mut failed = Vec::new();
    for (name, check) in BLOB_CHECKS {
        guard(&mut failed, name, || check(make().as_ref()));
    }
    report("blob store", BLOB_CHECKS.len(), &failed);
}

/// Runs every check in [`LOG_CHECKS`], each on a log store `make` returns.
pub fn log_store(make: &mut dyn FnMut() -> Box<dyn LogStore>) {
    let mut failed = Vec::new();
    for (name, check) in LOG_CHECKS {
        guard(&mut failed, name, || check(make().as_ref()));
    }
    report("log store", LOG_CHECKS.len(), &failed);
}

fn guard(failed: &mut Vec<String>, name: &str, f: impl FnOnce()) {
    if let Err(e) = catch_unwind(AssertUnwindSafe(f)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        failed.push(format!("{name}: {msg}"));
    }
}

fn report(suite: &str, total: usize, failed: &[String]) {
    assert!(
        failed.is_empty(),
        "{} of {total} {suite} conformance checks failed:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Catalog

/// Every catalog check, by contract.
pub const CATALOG_CHECKS: &[CatalogCheck] = &[
    ("empty_catalog_holds_nothing", empty_catalog_holds_nothing),
    (
        "pending_lists_added_until_cleared",
        pending_lists_added_until_cleared,
    ),
    ("record_clears_pending", record_clears_pending),
    (
        "record_creates_item_with_ingest_event",
        record_creates_item_with_ingest_event,
    ),
    (
        "record_known_digest_is_sighting",
        record_known_digest_is_sighting,
    ),
    (
        "record_same_digest_twice_in_one_batch",
        record_same_digest_twice_in_one_batch,
    ),
    ("item_by_sha_finds_known_only", item_by_sha_finds_known_only),
    ("items_oldest_first", items_oldest_first),
    (
        "resolve_by_full_id_and_digest",
        resolve_by_full_id_and_digest,
    ),
    ("resolve_by_unique_prefix", resolve_by_unique_prefix),
    ("resolve_unknown_is_not_found", resolve_unknown_is_not_found),
    (
        "resolve_shared_prefix_is_ambiguous",
        resolve_shared_prefix_is_ambiguous,
    ),
    (
        "resolve_in_cases_counts_only_those_cases",
        resolve_in_cases_counts_only_those_cases,
    ),
    (
        "resolve_in_cases_ambiguous_within_cases",
        resolve_in_cases_ambiguous_within_cases,
    ),
    (
        "resolve_in_no_cases_finds_nothing",
        resolve_in_no_cases_finds_nothing,
    ),
    (
        "events_numbered_from_one_without_gaps",
        events_numbered_from_one_without_gaps,
    ),
    ("events_of_item_in_order", events_of_item_in_order),
    (
        "record_event_returns_stored_event",
        record_event_returns_stored_event,
    ),
    (
        "event_index_names_each_event_item",
        event_index_names_each_event_item,
    ),
    (
        "event_records_after_and_limit",
        event_records_after_and_limit,
    ),
    (
        "event_records_link_previous_event",
        event_records_link_previous_event,
    ),
    (
        "cases_of_lists_each_case_once",
        cases_of_lists_each_case_once,
    ),
    ("case_items_and_case_exists", case_items_and_case_exists),
    ("unlogged_queues_new_events", unlogged_queues_new_events),
    (
        "logged_through_drops_from_queue",
        logged_through_drops_from_queue,
    ),
    ("mark_logged_drops_through", mark_logged_drops_through),
    ("received_custody_round_trip", received_custody_round_trip),
    (
        "every_new_event_has_its_own_salt",
        every_new_event_has_its_own_salt,
    ),
    (
        "enqueue_jobs_once_per_item_and_kind",
        enqueue_jobs_once_per_item_and_kind,
    ),
    ("claim_job_runs_next_queued", claim_job_runs_next_queued),
    (
        "claim_job_none_when_nothing_queued",
        claim_job_none_when_nothing_queued,
    ),
    (
        "claim_job_holds_a_job_while_its_lease_lasts",
        claim_job_holds_a_job_while_its_lease_lasts,
    ),
    (
        "only_the_claim_holding_a_job_renews_or_finishes_it",
        only_the_claim_holding_a_job_renews_or_finishes_it,
    ),
    (
        "waiting_jobs_counts_what_a_claim_can_take",
        waiting_jobs_counts_what_a_claim_can_take,
    ),
    (
        "finish_job_ok_stores_fingerprints",
        finish_job_ok_stores_fingerprints,
    ),
    (
        "finish_job_error_retries_then_fails",
        finish_job_error_retries_then_fails,
    ),
    (
        "requeue_jobs_only_new_or_done",
        requeue_jobs_only_new_or_done,
    ),
    ("digest_round_trip", digest_round_trip),
    (
        "stale_fingerprints_by_generation",
        stale_fingerprints_by_generation,
    ),
    (
        "fingerprint_changes_numbered_without_reuse",
        fingerprint_changes_numbered_without_reuse,
    ),
    (
        "derived_item_names_its_source",
        derived_item_names_its_source,
    ),
    (
        "erasing_a_case_keeps_only_log_digests",
        erasing_a_case_keeps_only_log_digests,
    ),
    (
        "write_records_create_and_read",
        write_records_create_and_read,
    ),
    (
        "write_records_share_event_sequence",
        write_records_share_event_sequence,
    ),
    (
        "record_edit_keeps_every_value",
        record_edit_keeps_every_value,
    ),
    (
        "record_delete_hides_but_keeps",
        record_delete_hides_but_keeps,
    ),
    (
        "record_keys_per_case_and_kind",
        record_keys_per_case_and_kind,
    ),
    (
        "record_key_unique_in_case_and_kind",
        record_key_unique_in_case_and_kind,
    ),
    ("write_records_all_or_nothing", write_records_all_or_nothing),
    ("referrers_are_live_records", referrers_are_live_records),
    (
        "records_filter_by_kind_and_case",
        records_filter_by_kind_and_case,
    ),
    ("case_record_makes_case", case_record_makes_case),
    ("event_subjects_after", event_subjects_after),
    (
        "records_to_verify_as_single_row_reads",
        records_to_verify_as_single_row_reads,
    ),
    (
        "one_write_creates_edits_refers_and_deletes",
        one_write_creates_edits_refers_and_deletes,
    ),
];

/// A digest made of one repeated byte, with the first two bytes given.
fn digest(first: [u8; 2], fill: u8) -> Sha256 {
    let mut b = [fill; 32];
    b[0] = first[0];
    b[1] = first[1];
    Sha256(b)
}

/// A distinct digest per `n`.
fn sha(n: u8) -> Sha256 {
    digest([0x10, n], n)
}

fn at(second: u32) -> String {
    format!("2026-01-01T00:00:{second:02}.000000Z")
}

fn new_item(sha256: Sha256, at: String) -> NewItem {
    NewItem {
        sha256,
        size: 100 + u64::from(sha256.0[31]),
        media_type: "application/octet-stream".to_owned(),
        sighting: Sighting {
            original_name: "f.bin".to_owned(),
            original_path: "/evidence/f.bin".to_owned(),
            collector: "alice".to_owned(),
            tool_version: TOOL_VERSION.to_owned(),
            ..Sighting::default()
        },
        derived: None,
        at,
    }
}

/// Records one item (or a sighting of it) and returns what was recorded.
fn put(c: &mut dyn Catalog, sha256: Sha256, case: Option<&str>) -> (Item, CustodyEvent) {
    let mut out = c
        .record(&[new_item(sha256, at(1))], case, 0)
        .expect("record an item");
    assert_eq!(out.len(), 1, "one entry recorded per item given");
    let e = out.remove(0);
    (e.item, e.event)
}

fn access(c: &mut dyn Catalog, item: &ItemId, logged_through: u64) -> CustodyEvent {
    let details = EventDetails::Access(Access {
        via: "conformance".to_owned(),
        purpose: Some("testing".to_owned()),
        tool_version: TOOL_VERSION.to_owned(),
        cases: Vec::new(),
    });
    c.record_event(item, EventKind::Access, "bob", &details, logged_through)
        .expect("record an access event")
}

fn set<T: Ord + Clone>(v: &[T]) -> BTreeSet<T> {
    v.iter().cloned().collect()
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound(_)))
}

fn is_ambiguous<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Ambiguous { .. }))
}

fn empty_catalog_holds_nothing(c: &mut dyn Catalog) {
    assert!(c.items().expect("items").is_empty());
    assert_eq!(c.event_index().expect("event index"), (Vec::new(), 0));
    assert!(c.unlogged().expect("unlogged").is_empty());
    assert!(c.pending().expect("pending").is_empty());
    assert!(c.jobs().expect("jobs").is_empty());
    assert!(c.event_records(0, 100).expect("event records").is_empty());
    assert!(c.records(None, None).expect("records").is_empty());
    assert!(c.record_keys().expect("record keys").is_empty());
    assert!(!c.case_exists("a").expect("case exists"));
    assert!(c.item_by_sha(&sha(1)).expect("item by sha").is_none());
}

fn pending_lists_added_until_cleared(c: &mut dyn Catalog) {
    c.add_pending(&[sha(1), sha(2)]).expect("add pending");
    assert_eq!(set(&c.pending().expect("pending")), set(&[sha(1), sha(2)]));
    c.clear_pending(&[sha(1)]).expect("clear pending");
    assert_eq!(c.pending().expect("pending"), vec![sha(2)]);
    c.clear_pending(&[sha(2)]).expect("clear pending");
    assert!(c.pending().expect("pending").is_empty());
}

fn record_clears_pending(c: &mut dyn Catalog) {
    c.add_pending(&[sha(1), sha(2)]).expect("add pending");
    put(c, sha(1), None);
    assert_eq!(c.pending().expect("pending"), vec![sha(2)]);
}

fn record_creates_item_with_ingest_event(c: &mut dyn Catalog) {
    let n = new_item(sha(1), at(7));
    let out = c.record(std::slice::from_ref(&n), None, 0).expect("record");
    assert_eq!(out.len(), 1);
    let e = &out[0];
    assert!(e.new, "a new digest creates an item");
    assert_eq!(e.item.sha256, n.sha256);
    assert_eq!(e.item.size, n.size);
    assert_eq!(e.item.media_type, n.media_type);
    assert_eq!(
        e.item.created_at, n.at,
        "created_at is when it was first preserved"
    );
    assert_eq!(e.event.item, e.item.id);
    assert_eq!(e.event.kind, EventKind::Ingest);
    assert_eq!(e.event.actor, "alice", "the collector is the event's actor");
    assert_eq!(e.event.details, EventDetails::Sighting(n.sighting.clone()));
    assert_eq!(c.items().expect("items"), vec![e.item.clone()]);
}

fn record_known_digest_is_sighting(c: &mut dyn Catalog) {
    let (first, _) = put(c, sha(1), None);
    let out = c
        .record(&[new_item(sha(1), at(9))], None, 0)
        .expect("record again");
    assert!(!out[0].new, "a known digest does not create an item");
    assert_eq!(out[0].item, first, "the sighting is of the existing item");
    assert_eq!(out[0].event.kind, EventKind::Sighting);
    assert_eq!(c.items().expect("items").len(), 1);
}

fn record_same_digest_twice_in_one_batch(c: &mut dyn Catalog) {
    let out = c
        .record(&[new_item(sha(1), at(1)), new_item(sha(1), at(2))], None, 0)
        .expect("record");
    assert_eq!(out.len(), 2);
    assert!(out[0].new);
    assert!(!out[1].new, "the second copy in a batch is a sighting");
    assert_eq!(out[0].item.id, out[1].item.id);
    assert_eq!(out[1].event.kind, EventKind::Sighting);
    assert_eq!(c.items().expect("items").len(), 1);
}

fn item_by_sha_finds_known_only(c: &mut dyn Catalog) {
    let (item, _) = put(c, sha(1), None);
    assert_eq!(c.item_by_sha(&sha(1)).expect("item by sha"), Some(item));
    assert_eq!(c.item_by_sha(&sha(2)).expect("item by sha"), None);
}

fn items_oldest_first(c: &mut dyn Catalog) {
    let out = c
        .record(
            &[
                new_item(sha(1), at(30)),
                new_item(sha(2), at(10)),
                new_item(sha(3), at(20)),
            ],
            None,
            0,
        )
        .expect("record");
    let by_age: Vec<Sha256> = c.items().expect("items").iter().map(|i| i.sha256).collect();
    assert_eq!(by_age, vec![sha(2), sha(3), sha(1)]);
    assert_eq!(out.len(), 3);
}

fn resolve_by_full_id_and_digest(c: &mut dyn Catalog) {
    let (item, _) = put(c, sha(1), None);
    put(c, sha(2), None);
    assert_eq!(c.resolve(item.id.as_str()).expect("resolve id"), item);
    assert_eq!(c.resolve(&item.sha256.to_hex()).expect("resolve sha"), item);
}

fn resolve_by_unique_prefix(c: &mut dyn Catalog) {
    let (a, _) = put(c, digest([0xab, 0xcd], 1), None);
    let (b, _) = put(c, digest([0xab, 0xee], 2), None);
    assert_eq!(c.resolve("abcd").expect("digest prefix"), a);
    assert_eq!(c.resolve("abee").expect("digest prefix"), b);
    // 20 of 26 characters: past the time part, into the random part.
    assert_eq!(c.resolve(&a.id.as_str()[..20]).expect("id prefix"), a);
    assert_eq!(c.resolve(&b.id.as_str()[..20]).expect("id prefix"), b);
}

fn resolve_unknown_is_not_found(c: &mut dyn Catalog) {
    put(c, sha(1), None);
    assert!(is_not_found(c.resolve(&sha(2).to_hex())), "unknown digest");
    assert!(is_not_found(c.resolve("ffff")), "unknown prefix");
    let other = ItemId::generate().expect("id");
    assert!(is_not_found(c.resolve(other.as_str())), "unknown id");
}

fn resolve_shared_prefix_is_ambiguous(c: &mut dyn Catalog) {
    put(c, digest([0xab, 0xcd], 1), None);
    put(c, digest([0xab, 0xcd], 2), None);
    assert!(is_ambiguous(c.resolve("abcd")), "a prefix of two digests");
    assert!(c.resolve(&digest([0xab, 0xcd], 2).to_hex()).is_ok());
}

fn resolve_in_cases_counts_only_those_cases(c: &mut dyn Catalog) {
    let (a, _) = put(c, digest([0xab, 0xcd], 1), Some("a"));
    let (b, _) = put(c, digest([0xab, 0xcd], 2), Some("b"));
    let only_a = ["a".to_owned()];
    assert_eq!(
        c.resolve_in_cases("abcd", &only_a)
            .expect("an item outside is not counted"),
        a
    );
    assert!(is_not_found(
        c.resolve_in_cases(&b.sha256.to_hex(), &only_a)
    ));
    assert!(is_not_found(c.resolve_in_cases(b.id.as_str(), &only_a)));
    let both = ["a".to_owned(), "b".to_owned()];
    assert_eq!(c.resolve_in_cases(b.id.as_str(), &both).expect("in b"), b);
}

fn resolve_in_cases_ambiguous_within_cases(c: &mut dyn Catalog) {
    put(c, digest([0xab, 0xcd], 1), Some("a"));
    put(c, digest([0xab, 0xcd], 2), Some("b"));
    let both = ["a".to_owned(), "b".to_owned()];
    assert!(is_ambiguous(c.resolve_in_cases("abcd", &both)));
}

fn resolve_in_no_cases_finds_nothing(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), Some("a"));
    assert!(is_not_found(c.resolve_in_cases(a.id.as_str(), &[])));
    assert!(is_not_found(
        c.resolve_in_cases(a.id.as_str(), &["nope".to_owned()])
    ));
}

fn events_numbered_from_one_without_gaps(c: &mut dyn Catalog) {
    let out = c
        .record(&[new_item(sha(1), at(1)), new_item(sha(2), at(2))], None, 0)
        .expect("record");
    let seqs: Vec<u64> = out.iter().map(|e| e.event.seq).collect();
    assert_eq!(seqs, vec![1, 2]);
    assert_eq!(put(c, sha(1), None).1.seq, 3);
    assert_eq!(access(c, &out[1].item.id, 0).seq, 4);
    let (index, max) = c.event_index().expect("event index");
    assert_eq!(
        index.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(max, 4);
}

fn events_of_item_in_order(c: &mut dyn Catalog) {
    let (item, ingest) = put(c, sha(1), None);
    put(c, sha(2), None);
    let (_, sighting) = put(c, sha(1), None);
    let acc = access(c, &item.id, 0);
    let events = c.events(&item.id).expect("events");
    assert_eq!(events, vec![ingest, sighting, acc]);
    assert!(c
        .events(&ItemId::generate().expect("id"))
        .expect("events of an unknown item")
        .is_empty());
}

fn record_event_returns_stored_event(c: &mut dyn Catalog) {
    let (item, _) = put(c, sha(1), None);
    let acc = access(c, &item.id, 0);
    assert_eq!(acc.item, item.id);
    assert_eq!(acc.kind, EventKind::Access);
    assert_eq!(acc.actor, "bob");
    assert_eq!(c.events(&item.id).expect("events").last(), Some(&acc));
}

fn event_index_names_each_event_item(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    let (b, _) = put(c, sha(2), None);
    access(c, &a.id, 0);
    let (index, _) = c.event_index().expect("event index");
    let items: Vec<&str> = index.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(items, vec![a.id.as_str(), b.id.as_str(), a.id.as_str()]);
}

fn event_records_after_and_limit(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    put(c, sha(2), None);
    access(c, &a.id, 0);
    let all = c.event_records(0, 100).expect("event records");
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let some = c.event_records(1, 1).expect("event records");
    assert_eq!(some.len(), 1, "at most `limit`");
    assert_eq!(some[0], all[1], "only events after `after`");
    assert!(c.event_records(3, 100).expect("event records").is_empty());
}

fn event_records_link_previous_event(c: &mut dyn Catalog) {
    let (a, ingest) = put(c, sha(1), None);
    put(c, sha(2), None);
    let acc = access(c, &a.id, 0);
    let all = c.event_records(0, 100).expect("event records");
    let first = &all[0];
    assert_eq!(first.item, a.id);
    assert_eq!(first.sha256, Some(a.sha256));
    assert_eq!(first.kind, "ingest");
    assert_eq!(first.at, ingest.at);
    assert_eq!(first.actor, "alice");
    assert_eq!(
        first.details,
        ingest.details.to_json(),
        "the record exactly as stored"
    );
    assert_eq!(first.prev, None);
    assert_eq!(all[1].prev, None, "another item's first event");
    assert_eq!(all[2].seq, acc.seq);
    assert_eq!(
        all[2].prev,
        Some(ingest.seq),
        "the same item's previous event"
    );
    assert_eq!(all[2].details, acc.details.to_json());
}

fn cases_of_lists_each_case_once(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), Some("b"));
    put(c, sha(1), Some("a"));
    put(c, sha(1), Some("a"));
    let (loose, _) = put(c, sha(2), None);
    assert_eq!(
        set(&c.cases_of(&a.id).expect("cases of")),
        set(&["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(c.cases_of(&a.id).expect("cases of").len(), 2);
    assert!(c.cases_of(&loose.id).expect("cases of").is_empty());
}

fn case_items_and_case_exists(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), Some("a"));
    let (b, _) = put(c, sha(2), Some("a"));
    put(c, sha(3), Some("other"));
    put(c, sha(4), None);
    let ids: Vec<ItemId> = c
        .case_items("a")
        .expect("case items")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(set(&ids), set(&[a.id, b.id]));
    assert!(c.case_exists("a").expect("case exists"));
    assert!(!c.case_exists("nope").expect("case exists"));
    assert!(is_not_found(c.case_items("nope")));
}

fn unlogged_queues_new_events(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    put(c, sha(2), None);
    access(c, &a.id, 0);
    assert_eq!(c.unlogged().expect("unlogged"), vec![1, 2, 3]);
}

fn logged_through_drops_from_queue(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    put(c, sha(2), None);
    c.record(&[new_item(sha(3), at(3))], None, 1)
        .expect("record");
    assert_eq!(c.unlogged().expect("unlogged"), vec![2, 3]);
    access(c, &a.id, 2);
    assert_eq!(c.unlogged().expect("unlogged"), vec![3, 4]);
}

fn mark_logged_drops_through(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    put(c, sha(2), None);
    access(c, &a.id, 0);
    c.mark_logged(2).expect("mark logged");
    assert_eq!(c.unlogged().expect("unlogged"), vec![3]);
    c.mark_logged(3).expect("mark logged");
    assert!(c.unlogged().expect("unlogged").is_empty());
    let (_, max) = c.event_index().expect("event index");
    assert_eq!(max, 3, "logging forgets no event");
}

fn received_custody_round_trip(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    let (b, _) = put(c, sha(2), None);
    let rec = |seq: u64| ReceivedCustody {
        origin: "example.org/log".to_owned(),
        seq,
        kind: "ingest".to_owned(),
        entry: format!("entry {seq}\n"),
        proof: "c2sp.org/tlog-proof@v1\n".to_owned(),
        verified: seq == 1,
        details: "{}".to_owned(),
        salt: (seq == 2).then(|| "ab".repeat(32)),
    };
    c.add_received_custody(&a.id, &[rec(1), rec(2)])
        .expect("add received");
    assert_eq!(
        c.received_custody(&a.id).expect("received"),
        vec![rec(1), rec(2)]
    );
    assert!(c.received_custody(&b.id).expect("received").is_empty());
}

/// Each event an item write, an event write or a record write makes has a salt of its own
/// (for its v2 log entry), which the catalog stores and returns with the event, the same
/// from `event_records`, `events` and the write that made it.
fn every_new_event_has_its_own_salt(c: &mut dyn Catalog) {
    let (a, ingest) = put(c, sha(1), None);
    let (_, sighting) = put(c, sha(1), None);
    let accessed = access(c, &a.id, 0);
    let inc = Change::incident("Shelling", "a", Some("INC-1"));
    let written = c
        .write_records(&[inc.create(&[])], "carol", 0)
        .expect("write");
    let records = c.event_records(0, usize::MAX).expect("event records");
    assert_eq!(records.len(), 4);
    let salts: Vec<_> = records
        .iter()
        .map(|r| r.salt.expect("every new event has a salt"))
        .collect();
    assert_eq!(
        salts.iter().map(|s| s.0).collect::<BTreeSet<_>>().len(),
        4,
        "one salt per event"
    );
    let returned = [ingest.salt, sighting.salt, accessed.salt, written[0].salt];
    assert_eq!(
        returned.map(|s| s.expect("returned with the event")),
        salts[..]
    );
    let of_item: Vec<_> = c
        .events(&a.id)
        .expect("events")
        .into_iter()
        .map(|e| e.salt)
        .collect();
    assert_eq!(
        of_item,
        vec![Some(salts[0]), Some(salts[1]), Some(salts[2])]
    );
    assert_eq!(
        c.event_records(3, 1).expect("event records")[0].salt,
        Some(salts[3])
    );
}

fn enqueue_jobs_once_per_item_and_kind(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    c.enqueue_jobs(&[(a.id.clone(), "pdq".to_owned())])
        .expect("enqueue");
    c.enqueue_jobs(&[
        (a.id.clone(), "pdq".to_owned()),
        (a.id.clone(), "sha512".to_owned()),
    ])
    .expect("enqueue");
    let jobs = c.jobs().expect("jobs");
    assert_eq!(jobs.len(), 2, "one job per (item, kind)");
    for j in &jobs {
        assert_eq!(j.item, a.id);
        assert_eq!(j.state, "queued");
        assert_eq!(j.attempts, 0);
        assert_eq!(j.error, None);
    }
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, vec!["pdq", "sha512"], "jobs in order");
}

fn claim_job_runs_next_queued(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    c.enqueue_jobs(&[
        (a.id.clone(), "pdq".to_owned()),
        (a.id.clone(), "sha512".to_owned()),
    ])
    .expect("enqueue");
    let job = c.claim_job(3).expect("claim").expect("a queued job");
    assert_eq!(job.kind, "pdq", "the first queued job");
    assert_eq!(job.state, "running");
    assert_eq!(job.attempts, 1);
    assert!(job.claim.is_some(), "a claim holds it");
    let stored = c.jobs().expect("jobs");
    assert_eq!(
        stored[0],
        Job {
            claim: None,
            ..job.clone()
        }
    );
    assert_eq!(stored[1].state, "queued");
}

fn claim_job_none_when_nothing_queued(c: &mut dyn Catalog) {
    assert_eq!(c.claim_job(3).expect("claim"), None);
    let (a, _) = put(c, sha(1), None);
    c.enqueue_jobs(&[(a.id.clone(), "pdq".to_owned())])
        .expect("enqueue");
    let job = c.claim_job(3).expect("claim").expect("a queued job");
    c.finish_job(&job, Ok(&[]), 3).expect("finish");
    assert_eq!(c.claim_job(3).expect("claim"), None);
}

fn claim_job_holds_a_job_while_its_lease_lasts(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    c.enqueue_jobs(&[
        (a.id.clone(), "pdq".to_owned()),
        (a.id.clone(), "sha512".to_owned()),
    ])
    .expect("enqueue");
    let first = c.claim_job(3).expect("claim").expect("a job");
    // Another process claiming meanwhile gets the other job, then none: the first is held.
    let second = c.claim_job(3).expect("claim").expect("the other job");
    assert_ne!(second.id, first.id);
    assert_ne!(second.claim, first.claim);
    assert_eq!(c.claim_job(3).expect("claim"), None, "both are held");
    assert_eq!(c.jobs().expect("jobs")[0].attempts, 1, "not claimed twice");
}

fn only_the_claim_holding_a_job_renews_or_finishes_it(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    c.enqueue_jobs(&[(a.id.clone(), "pdq".to_owned())])
        .expect("enqueue");
    let job = c.claim_job(3).expect("claim").expect("a job");
    let stale = Job {
        claim: Some("a claim that lost the job".to_owned()),
        ..job.clone()
    };
    assert!(!c.renew_job(&stale).expect("renew"), "a stale claim renews");
    let prints = [fingerprint("pdq", "1", "ab 100")];
    assert!(
        !c.finish_job(&stale, Ok(&prints), 3).expect("finish"),
        "a stale claim finished the job"
    );
    assert!(c.fingerprints(&a.id).expect("fingerprints").is_empty());
    assert_eq!(c.jobs().expect("jobs")[0].state, "running");
    assert!(c.renew_job(&job).expect("renew"), "its claim renews it");
    assert!(c.finish_job(&job, Ok(&prints), 3).expect("finish"));
    assert_eq!(c.jobs().expect("jobs")[0].state, "done");
    // Finished: the claim holds it no more.
    assert!(!c.renew_job(&job).expect("renew"));
    assert!(!c.finish_job(&job, Err("late"), 3).expect("finish"));
    assert_eq!(c.jobs().expect("jobs")[0].error, None);
}

fn waiting_jobs_counts_what_a_claim_can_take(c: &mut dyn Catalog) {
    assert_eq!(c.waiting_jobs().expect("waiting"), 0);
    let (a, _) = put(c, sha(1), None);
    c.enqueue_jobs(&[
        (a.id.clone(), "pdq".to_owned()),
        (a.id.clone(), "sha512".to_owned()),
    ])
    .expect("enqueue");
    assert_eq!(c.waiting_jobs().expect("waiting"), 2, "two queued");
    let job = c.claim_job(3).expect("claim").expect("a job");
    assert_eq!(
        c.waiting_jobs().expect("waiting"),
        1,
        "one held by its claim, one queued"
    );
    c.finish_job(&job, Ok(&[]), 3).expect("finish");
    assert_eq!(
        c.waiting_jobs().expect("waiting"),
        1,
        "one done, one queued"
    );
    let job = c.claim_job(3).expect("claim").expect("a job");
    c.finish_job(&job, Err("broken for good"), 1)
        .expect("finish");
    assert_eq!(
        c.waiting_jobs().expect("waiting"),
        0,
        "a failed job waits no more"
    );
}

fn fingerprint(algorithm: &str, version: &str, data: &str) -> Fingerprint {
    Fingerprint {
        algorithm: algorithm.to_owned(),
        algorithm_version: version.to_owned(),
        decoder: "-".to_owned(),
        data: data.to_owned(),
    }
}

/// Runs one job for `item` to completion with these fingerprints.
fn fingerprint_item(c: &mut dyn Catalog, item: &ItemId, prints: &[Fingerprint]) {
    c.requeue_jobs(&[(item.clone(), "fingerprint".to_owned())])
        .expect("requeue");
    let job = c.claim_job(3).expect("claim").expect("a job");
    assert_eq!(&job.item, item);
    c.finish_job(&job, Ok(prints), 3).expect("finish");
}

fn finish_job_ok_stores_fingerprints(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    let (b, _) = put(c, sha(2), None);
    let prints = [
        fingerprint("pdq", "1", "ab 100"),
        fingerprint("meta", "x", "{}"),
    ];
    fingerprint_item(c, &a.id, &prints);
    assert_eq!(
        set_of_prints(&c.fingerprints(&a.id).expect("fingerprints")),
        set_of_prints(&prints)
    );
    assert!(c.fingerprints(&b.id).expect("fingerprints").is_empty());
    let job = &c.jobs().expect("jobs")[0];
    assert_eq!(job.state, "done");
    assert_eq!(job.error, None);
}

fn set_of_prints(p: &[Fingerprint]) -> BTreeSet<(String, String, String, String)> {
    p.iter()
        .map(|f| {
            (
                f.algorithm.clone(),
                f.algorithm_version.clone(),
                f.decoder.clone(),
                f.data.clone(),
            )
        })
        .collect()
}

fn finish_job_error_retries_then_fails(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    c.enqueue_jobs(&[(a.id.clone(), "pdq".to_owned())])
        .expect("enqueue");
    let job = c.claim_job(2).expect("claim").expect("a job");
    c.finish_job(&job, Err("bad frame"), 2).expect("finish");
    let stored = &c.jobs().expect("jobs")[0];
    assert_eq!(stored.state, "queued", "below max_attempts: queued again");
    assert_eq!(stored.error.as_deref(), Some("bad frame"));
    let job = c.claim_job(2).expect("claim").expect("the job again");
    assert_eq!(job.attempts, 2);
    c.finish_job(&job, Err("bad frame"), 2).expect("finish");
    let stored = &c.jobs().expect("jobs")[0];
    assert_eq!(stored.state, "failed", "at max_attempts: failed");
    assert_eq!(stored.error.as_deref(), Some("bad frame"));
    assert_eq!(
        c.claim_job(2).expect("claim"),
        None,
        "a failed job is not claimed"
    );
}

fn requeue_jobs_only_new_or_done(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    let (b, _) = put(c, sha(2), None);
    let pair = |i: &Item, k: &str| (i.id.clone(), k.to_owned());
    // a/pdq done, a/sha512 failed, b/pdq queued.
    c.enqueue_jobs(&[pair(&a, "pdq")]).expect("enqueue");
    let j = c.claim_job(1).expect("claim").expect("job");
    c.finish_job(&j, Ok(&[]), 1).expect("finish");
    c.enqueue_jobs(&[pair(&a, "sha512")]).expect("enqueue");
    let j = c.claim_job(1).expect("claim").expect("job");
    c.finish_job(&j, Err("no"), 1).expect("finish");
    c.enqueue_jobs(&[pair(&b, "pdq")]).expect("enqueue");
    let before = c.jobs().expect("jobs");
    let n = c
        .requeue_jobs(&[
            pair(&a, "pdq"),
            pair(&a, "sha512"),
            pair(&b, "pdq"),
            pair(&b, "sha512"),
        ])
        .expect("requeue");
    assert_eq!(n, 2, "the done job and the new one");
    let after = c.jobs().expect("jobs");
    let find = |jobs: &[crate::Job], i: &Item, k: &str| {
        jobs.iter()
            .find(|j| j.item == i.id && j.kind == k)
            .cloned()
            .expect("job present")
    };
    let done = find(&after, &a, "pdq");
    assert_eq!(
        (done.state.as_str(), done.attempts, done.error),
        ("queued", 0, None)
    );
    assert_eq!(
        find(&after, &a, "sha512"),
        find(&before, &a, "sha512"),
        "failed left as is"
    );
    assert_eq!(
        find(&after, &b, "pdq"),
        find(&before, &b, "pdq"),
        "queued left as is"
    );
    assert_eq!(find(&after, &b, "sha512").state, "queued");
}

fn digest_round_trip(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    let (b, _) = put(c, sha(2), None);
    assert_eq!(c.digest(&a.id, "sha512").expect("digest"), None);
    c.set_digest(&a.id, "sha512", "ab12").expect("set digest");
    assert_eq!(
        c.digest(&a.id, "sha512").expect("digest").as_deref(),
        Some("ab12")
    );
    assert_eq!(c.digest(&a.id, "blake3").expect("digest"), None);
    assert_eq!(c.digest(&b.id, "sha512").expect("digest"), None);
}

fn stale_fingerprints_by_generation(c: &mut dyn Catalog) {
    let (fresh, _) = put(c, sha(1), None);
    let (missing, _) = put(c, sha(2), None);
    let (old, _) = put(c, sha(3), None);
    let (none, _) = put(c, sha(4), None);
    fingerprint_item(
        c,
        &fresh.id,
        &[
            fingerprint("pdq", "1", "a"),
            fingerprint("meta", "gen-2", "{}"),
        ],
    );
    fingerprint_item(c, &missing.id, &[fingerprint("pdq", "1", "b")]);
    fingerprint_item(
        c,
        &old.id,
        &[
            fingerprint("pdq", "1", "c"),
            fingerprint("meta", "gen-1", "{}"),
        ],
    );
    fingerprint_item(c, &none.id, &[fingerprint("other", "1", "d")]);
    let mut expected = vec![missing.id, old.id];
    expected.sort();
    assert_eq!(
        c.stale_fingerprints("pdq", "meta", "gen-2").expect("stale"),
        expected
    );
}

fn fingerprint_changes_numbered_without_reuse(c: &mut dyn Catalog) {
    let (a, _) = put(c, sha(1), None);
    let (b, _) = put(c, sha(2), None);
    fingerprint_item(c, &a.id, &[fingerprint("pdq", "1", "a")]);
    fingerprint_item(c, &b.id, &[fingerprint("pdq", "1", "b")]);
    let all = c.fingerprint_changes(0).expect("changes");
    assert_eq!(all.len(), 2);
    assert!(all[0].0 < all[1].0, "in order");
    assert_eq!((&all[0].1, all[0].2.as_str()), (&a.id, "pdq"));
    assert_eq!((&all[1].1, all[1].2.as_str()), (&b.id, "pdq"));
    let last = all[1].0;
    assert!(c.fingerprint_changes(last).expect("changes").is_empty());
    // Writing a's fingerprint again is a new change, numbered after every earlier one.
    fingerprint_item(c, &a.id, &[fingerprint("pdq", "2", "a2")]);
    let since = c.fingerprint_changes(last).expect("changes");
    assert_eq!(since.len(), 1);
    assert!(since[0].0 > last, "change numbers are never reused");
    assert_eq!(since[0].1, a.id);
    assert_eq!(c.fingerprint_changes(all[0].0).expect("changes").len(), 2);
}

fn derived_item_names_its_source(c: &mut dyn Catalog) {
    let (source, _) = put(c, sha(1), None);
    let derived = Derived {
        source: source.id.clone(),
        role: "review".to_owned(),
        tool_version: TOOL_VERSION.to_owned(),
    };
    let mut n = new_item(sha(2), at(2));
    n.derived = Some(derived.clone());
    let out = c.record(&[n], None, 0).expect("record");
    assert!(out[0].new);
    assert_eq!(out[0].event.kind, EventKind::Derived);
    assert_eq!(out[0].event.details, EventDetails::Derived(derived));
    assert_eq!(
        c.derived_from(&source.id).expect("derived from"),
        vec![(out[0].item.id.clone(), "review".to_owned())]
    );
    assert!(c
        .derived_from(&out[0].item.id)
        .expect("derived from")
        .is_empty());
}

/// A documentation record to write: its id, kind, key and case, and its body (None once
/// deleted).
struct Change {
    id: String,
    kind: RecordKind,
    key: Option<&'static str>,
    case: &'static str,
    record: Option<Record>,
}

impl Change {
    fn new(kind_json: &str, case: &'static str, key: Option<&'static str>) -> Change {
        let id = ItemId::generate().expect("id").as_str().to_owned();
        let mut record = Record::from_canonical(&id, kind_json).expect("a valid record body");
        record.case = case.to_owned();
        record.key = key.map(str::to_owned);
        Change {
            kind: record.body.kind(),
            id,
            key,
            case,
            record: Some(record),
        }
    }

    fn incident(title: &str, case: &'static str, key: Option<&'static str>) -> Change {
        Change::new(
            &format!(r#"{{"kind":"incident","title":"{title}"}}"#),
            case,
            key,
        )
    }

    fn person(name: &str, case: &'static str, key: Option<&'static str>) -> Change {
        Change::new(
            &format!(r#"{{"kind":"person","names":[{{"name":"{name}"}}]}}"#),
            case,
            key,
        )
    }

    fn sha(&self) -> Option<Sha256> {
        self.record.as_ref().map(Record::value_hash)
    }

    fn create(&self, refs: &[&str]) -> RecordWrite {
        self.write("create", None, refs)
    }

    fn write(&self, action: &'static str, old: Option<Sha256>, refs: &[&str]) -> RecordWrite {
        RecordWrite {
            id: self.id.clone(),
            kind: self.kind,
            key: self.key.map(str::to_owned),
            case: self.case.to_owned(),
            body: self.record.as_ref().map(Record::canonical),
            action,
            old,
            new: self.sha(),
            refs: refs.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    /// The same record with another incident title.
    fn retitled(&self, title: &str) -> Change {
        let mut next = Change::incident(title, self.case, self.key);
        next.id.clone_from(&self.id);
        if let Some(r) = next.record.as_mut() {
            r.id.clone_from(&self.id);
        }
        next
    }

    fn delete(&self) -> RecordWrite {
        RecordWrite {
            id: self.id.clone(),
            kind: self.kind,
            key: self.key.map(str::to_owned),
            case: self.case.to_owned(),
            body: None,
            action: "delete",
            old: self.sha(),
            new: None,
            refs: Vec::new(),
        }
    }

    fn keyed(&self) -> KeyedRecord {
        KeyedRecord {
            kind: self.kind,
            id: self.id.clone(),
            case: self.case.to_owned(),
        }
    }
}

fn write_records_create_and_read(c: &mut dyn Catalog) {
    let inc = Change::incident("Shelling", "a", Some("INC-1"));
    let events = c
        .write_records(&[inc.create(&[])], "carol", 0)
        .expect("write");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.item.as_str(), inc.id, "the event's subject is the record");
    assert_eq!(e.kind, "record");
    assert_eq!(e.actor, "carol");
    assert_eq!(e.sha256, inc.sha());
    assert_eq!(e.prev, None);
    let stored = c
        .record_by_id(&inc.id)
        .expect("record by id")
        .expect("stored");
    assert_eq!(Some(&stored.record), inc.record.as_ref());
    assert_eq!(Some(stored.sha256), inc.sha());
    assert!(!stored.deleted);
    let sha = inc.sha().expect("a value");
    let body = inc.record.as_ref().map(Record::canonical);
    assert_eq!(c.record_value(&sha).expect("record value"), body);
    assert_eq!(c.records(None, None).expect("records"), vec![stored]);
    assert!(c
        .record_by_id("01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .expect("by id")
        .is_none());
    assert_eq!(c.record_value(&sha_of_nothing()).expect("value"), None);
}

/// A case's holdings split into its own items (with what was made from them), items
/// other cases share, and its records; erasing them leaves each event only its log
/// digests and lists them as erased, and touches nothing of the other case.
fn erasing_a_case_keeps_only_log_digests(c: &mut dyn Catalog) {
    let (own, _) = put(c, sha(1), Some("gone"));
    let (shared, _) = put(c, sha(2), Some("gone"));
    put(c, sha(2), Some("kept"));
    let (other, _) = put(c, sha(3), Some("kept"));
    let mut review = new_item(sha(4), at(4));
    review.derived = Some(Derived {
        source: own.id.clone(),
        role: "review".to_owned(),
        tool_version: TOOL_VERSION.to_owned(),
    });
    let made = c.record(&[review], None, 0).expect("record")[0]
        .item
        .clone();
    access(c, &own.id, 0);
    let person = Change::person("Synthetic Erasedperson", "gone", None);
    let kept = Change::person("Synthetic Keptperson", "kept", None);
    c.write_records(&[person.create(&[]), kept.create(&[])], "carol", 0)
        .expect("write");
    let h = c.case_holdings("gone").expect("holdings");
    assert_eq!(
        set(&h.items),
        set(&[(own.id.clone(), sha(1)), (made.id.clone(), sha(4))])
    );
    assert_eq!(h.shared, vec![(shared.id.clone(), sha(2))]);
    let person_id = ItemId::parse(&person.id).expect("id");
    assert_eq!(
        h.records,
        vec![(person_id.clone(), person.sha().expect("sha"))]
    );

    let subjects = [own.id.clone(), made.id.clone(), person_id.clone()];
    let before: Vec<crate::EventRecord> = c.event_records(0, 100).expect("events");
    let frozen: Vec<(u64, crate::custody::Digests)> = before
        .iter()
        .filter(|r| subjects.contains(&r.item))
        .map(|r| (r.seq, crate::custody::digests_of(r).expect("digests")))
        .collect();
    assert_eq!(frozen.len(), 4, "ingest, access, derived, record");
    // Refused unless every event of the subjects is given its digests.
    assert!(c
        .erase_subjects("gone", &at(9), &subjects, &frozen[1..])
        .is_err());
    assert!(c.item_by_sha(&sha(1)).expect("by sha").is_some());
    c.erase_subjects("gone", &at(9), &subjects, &frozen)
        .expect("erase");
    let after = c.event_records(0, 100).expect("events");
    assert_eq!(after.len(), before.len(), "no event goes");
    for (b, a) in before.iter().zip(&after) {
        let digests = crate::custody::digests_of(a).expect("digests");
        assert_eq!(crate::custody::digests_of(b).expect("digests"), digests);
        if subjects.contains(&a.item) {
            assert_eq!(a.salt, None);
            assert!(a.details.is_empty() && a.sha256.is_none(), "{a:?}");
        } else {
            assert_eq!(a, b, "another subject's event changed");
        }
    }
    assert!(c.item_by_sha(&sha(1)).expect("by sha").is_none());
    assert!(c.item_by_sha(&sha(4)).expect("by sha").is_none());
    assert!(c.events(&own.id).expect("events").is_empty());
    assert!(c.record_by_id(&person.id).expect("by id").is_none());
    assert_eq!(
        c.record_value(&person.sha().expect("sha")).expect("value"),
        None
    );
    assert!(c.item_by_sha(&sha(2)).expect("by sha").is_some());
    assert!(c.item_by_sha(&sha(3)).expect("by sha").is_some());
    assert_eq!(
        c.cases_of(&shared.id).expect("cases"),
        vec!["kept".to_owned()]
    );
    assert!(c.record_by_id(&kept.id).expect("by id").is_some());
    assert_eq!(c.events(&other.id).expect("events").len(), 1);
    let erased = c.erased().expect("erased");
    assert_eq!(
        set(&erased.iter().map(|e| e.subject.clone()).collect::<Vec<_>>()),
        set(&subjects
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect::<Vec<_>>())
    );
    assert!(erased.iter().all(|e| e.case == "gone" && e.at == at(9)));
    assert!(c.case_holdings("gone").expect("holdings").items.is_empty());
}

/// `records_to_verify` gives, id by id and in the order asked, what `record_by_id`,
/// `record_value` and the last of `events` give: for a live, an edited and a deleted
/// record, an item, an unknown id and a malformed one.
fn records_to_verify_as_single_row_reads(c: &mut dyn Catalog) {
    let (item, _) = put(c, sha(1), Some("a"));
    let live = Change::incident("Live", "a", Some("L-1"));
    let v1 = Change::incident("First title", "a", None);
    let gone = Change::person("Synthetic Deletedperson", "a", None);
    c.write_records(
        &[live.create(&[]), v1.create(&[]), gone.create(&[])],
        "carol",
        0,
    )
    .expect("create");
    let v2 = v1.retitled("Second title");
    c.write_records(
        &[v2.write("edit", v1.sha(), &[]), gone.delete()],
        "carol",
        0,
    )
    .expect("edit and delete");
    let unknown = ItemId::generate().expect("id");
    let ids = [
        gone.id.as_str(),
        unknown.as_str(),
        live.id.as_str(),
        "not-an-id",
        item.id.as_str(),
        v1.id.as_str(),
    ];
    let got = c.records_to_verify(&ids).expect("records to verify");
    assert_eq!(got.len(), ids.len(), "one answer per id");
    for (id, g) in ids.iter().zip(&got) {
        let stored = c.record_by_id(id).expect("by id");
        let value = match &stored {
            Some(s) => c.record_value(&s.sha256).expect("value"),
            None => None,
        };
        let last = match (&stored, ItemId::parse(id)) {
            (Some(_), Some(subject)) => c.events(&subject).expect("events").pop(),
            _ => None,
        };
        match &g.stored {
            Ok(s) => assert_eq!(s, &stored, "{id}"),
            Err(e) => panic!("{id}: {e}"),
        }
        assert_eq!(g.value, value, "{id}");
        assert_eq!(g.last_event, last, "{id}");
    }
    // And what that is, spelled out.
    let [deleted, none, live_got, malformed, of_item, edited] = &got[..] else {
        panic!("six answers");
    };
    for g in [none, malformed, of_item] {
        assert!(matches!(g.stored, Ok(None)) && g.value.is_none() && g.last_event.is_none());
    }
    let Ok(Some(d)) = &deleted.stored else {
        panic!("a deleted record is found");
    };
    assert!(d.deleted);
    assert_eq!(deleted.value, gone.record.as_ref().map(Record::canonical));
    let Some(EventDetails::Record(change)) = deleted.last_event.as_ref().map(|e| &e.details) else {
        panic!("a record event: {:?}", deleted.last_event);
    };
    assert_eq!(change.action, "delete");
    assert_eq!(live_got.value, live.record.as_ref().map(Record::canonical));
    assert_eq!(edited.value, v2.record.as_ref().map(Record::canonical));
    let Some(EventDetails::Record(change)) = edited.last_event.as_ref().map(|e| &e.details) else {
        panic!("a record event: {:?}", edited.last_event);
    };
    assert_eq!(
        (change.action.as_str(), Some(change.digest)),
        ("edit", v2.sha())
    );
    assert!(c.records_to_verify(&[]).expect("none").is_empty());
}

fn sha_of_nothing() -> Sha256 {
    digest([0xee, 0xee], 0xee)
}

fn write_records_share_event_sequence(c: &mut dyn Catalog) {
    put(c, sha(1), None);
    let a = Change::incident("One", "a", None);
    let b = Change::incident("Two", "a", None);
    let events = c
        .write_records(&[a.create(&[]), b.create(&[])], "carol", 0)
        .expect("write");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(c.unlogged().expect("unlogged"), vec![1, 2, 3]);
    let stored = c.event_records(1, 10).expect("event records");
    assert_eq!(stored, events, "returned as stored");
    let more = c
        .write_records(
            &[Change::incident("Three", "a", None).create(&[])],
            "carol",
            3,
        )
        .expect("write");
    assert_eq!(more[0].seq, 4);
    assert_eq!(
        c.unlogged().expect("unlogged"),
        vec![4],
        "logged_through drops 1..=3"
    );
}

/// One write whose later changes touch records created earlier in it, then one large
/// enough that a backend writing many rows per statement sends several.
fn one_write_creates_edits_refers_and_deletes(c: &mut dyn Catalog) {
    let a = Change::incident("First", "a", Some("A-1"));
    let b = Change::incident("Refers to A", "a", None);
    let a2 = a.retitled("Second");
    let events = c
        .write_records(
            &[
                a.create(&[]),
                b.create(&[&a.id]),
                a2.write("edit", a.sha(), &[]),
                b.delete(),
            ],
            "carol",
            0,
        )
        .expect("write");
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[2].prev,
        Some(events[0].seq),
        "the edit follows the create"
    );
    assert_eq!(
        events[3].prev,
        Some(events[1].seq),
        "the delete follows the create"
    );
    let stored = c.record_by_id(&a.id).expect("by id").expect("stored");
    assert_eq!(Some(stored.sha256), a2.sha());
    assert!(!stored.deleted);
    let gone = c.record_by_id(&b.id).expect("by id").expect("kept");
    assert!(gone.deleted);
    assert!(c.referrers(&a.id).expect("referrers").is_empty());
    let subject = crate::model::ItemId::parse(&a.id).expect("an id");
    let seqs: Vec<u64> = c
        .events(&subject)
        .expect("events")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![events[0].seq, events[2].seq]);

    let target = Change::incident("Target", "b", None);
    let many: Vec<Change> = (0..12_000)
        .map(|i| Change::person(&format!("Synthetic Person {i}"), "b", None))
        .collect();
    let mut writes = vec![target.create(&[])];
    writes.extend(many.iter().map(|p| p.create(&[&target.id])));
    let events = c.write_records(&writes, "carol", 0).expect("many");
    assert_eq!(events.len(), writes.len());
    assert!(
        events.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "one run of numbers"
    );
    assert_eq!(
        c.referrers(&target.id).expect("referrers").len(),
        many.len()
    );
    for p in [&many[0], &many[6_000], &many[11_999]] {
        let stored = c.record_by_id(&p.id).expect("by id").expect("stored");
        assert_eq!(Some(stored.sha256), p.sha());
        assert_eq!(
            c.record_value(&stored.sha256).expect("value"),
            p.record.as_ref().map(Record::canonical)
        );
    }
    assert_eq!(
        c.records(None, Some("b")).expect("records").len(),
        many.len() + 1
    );
}

fn record_edit_keeps_every_value(c: &mut dyn Catalog) {
    let v1 = Change::incident("First title", "a", Some("K"));
    let created = c
        .write_records(&[v1.create(&[])], "carol", 0)
        .expect("create");
    let v2 = v1.retitled("Second title");
    let edited = c
        .write_records(&[v2.write("edit", v1.sha(), &[])], "carol", 0)
        .expect("edit");
    assert_eq!(
        edited[0].prev,
        Some(created[0].seq),
        "the record's previous event"
    );
    assert_eq!(edited[0].sha256, v2.sha());
    let stored = c.record_by_id(&v1.id).expect("by id").expect("stored");
    assert_eq!(Some(stored.sha256), v2.sha());
    assert_eq!(Some(&stored.record), v2.record.as_ref());
    for v in [&v1, &v2] {
        let sha = v.sha().expect("a value");
        assert_eq!(
            c.record_value(&sha).expect("value"),
            v.record.as_ref().map(Record::canonical),
            "every version ever written is kept"
        );
    }
    assert_eq!(c.records(None, None).expect("records").len(), 1);
}

fn record_delete_hides_but_keeps(c: &mut dyn Catalog) {
    let p = Change::person("Amal", "a", Some("P-1"));
    c.write_records(&[p.create(&[])], "carol", 0)
        .expect("create");
    let del = c.write_records(&[p.delete()], "carol", 0).expect("delete");
    assert_eq!(del[0].sha256, p.sha(), "a delete's digest is the old value");
    let stored = c
        .record_by_id(&p.id)
        .expect("by id")
        .expect("deleted ones included");
    assert!(stored.deleted);
    assert!(
        c.records(None, None).expect("records").is_empty(),
        "live records only"
    );
    assert!(c.records_with_key("P-1").expect("with key").is_empty());
    assert!(c.record_keys().expect("keys").is_empty());
    let sha = p.sha().expect("a value");
    assert!(c.record_value(&sha).expect("value").is_some());
    // The key is free again once its record is deleted.
    let again = Change::person("Amal", "a", Some("P-1"));
    c.write_records(&[again.create(&[])], "carol", 0)
        .expect("a deleted record's key can be used again");
}

fn record_keys_per_case_and_kind(c: &mut dyn Catalog) {
    let in_a = Change::incident("X", "a", Some("K-1"));
    let in_b = Change::incident("X", "b", Some("K-1"));
    let person = Change::person("Amal", "a", Some("K-1"));
    let other = Change::incident("Y", "a", Some("K-2"));
    let unkeyed = Change::incident("Z", "a", None);
    c.write_records(
        &[
            in_a.create(&[]),
            in_b.create(&[]),
            person.create(&[]),
            other.create(&[]),
            unkeyed.create(&[]),
        ],
        "carol",
        0,
    )
    .expect("the same key in two cases, or of two kinds, is two records");
    let with = c.records_with_key("K-1").expect("with key");
    assert_eq!(
        set(&with),
        set(&[in_a.keyed(), in_b.keyed(), person.keyed()])
    );
    assert_eq!(with.len(), 3);
    assert_eq!(
        c.records_with_key("K-2").expect("with key"),
        vec![other.keyed()]
    );
    assert!(c.records_with_key("K-3").expect("with key").is_empty());
    let keys = c.record_keys().expect("keys");
    let expected = [
        ("K-1".to_owned(), in_a.keyed()),
        ("K-1".to_owned(), in_b.keyed()),
        ("K-1".to_owned(), person.keyed()),
        ("K-2".to_owned(), other.keyed()),
    ];
    assert_eq!(
        keys.len(),
        expected.len(),
        "one entry per keyed live record"
    );
    assert_eq!(set(&keys), set(&expected));
}

fn record_key_unique_in_case_and_kind(c: &mut dyn Catalog) {
    let first = Change::incident("X", "a", Some("K-1"));
    c.write_records(&[first.create(&[])], "carol", 0)
        .expect("create");
    let dup = Change::incident("Y", "a", Some("K-1"));
    assert!(
        c.write_records(&[dup.create(&[])], "carol", 0).is_err(),
        "a second live record with the same key, case and kind"
    );
    assert!(c.record_by_id(&dup.id).expect("by id").is_none());
    assert_eq!(
        c.records_with_key("K-1").expect("with key"),
        vec![first.keyed()]
    );
}

fn write_records_all_or_nothing(c: &mut dyn Catalog) {
    put(c, sha(1), None);
    let ok = Change::incident("X", "a", Some("K-1"));
    let clash = Change::incident("Y", "a", Some("K-1"));
    assert!(c
        .write_records(&[ok.create(&[]), clash.create(&[])], "carol", 0)
        .is_err());
    assert!(
        c.record_by_id(&ok.id).expect("by id").is_none(),
        "one transaction"
    );
    assert!(c.records(None, None).expect("records").is_empty());
    assert_eq!(c.unlogged().expect("unlogged"), vec![1], "no event queued");
    assert_eq!(c.event_records(0, 10).expect("events").len(), 1);
}

fn referrers_are_live_records(c: &mut dyn Catalog) {
    let (item, _) = put(c, sha(1), None);
    let target = Change::incident("Target", "a", None);
    let from = Change::incident("From", "a", None);
    let link_like = Change::incident("Refers to the item", "a", None);
    c.write_records(
        &[
            target.create(&[]),
            from.create(&[&target.id]),
            link_like.create(&[item.id.as_str()]),
        ],
        "carol",
        0,
    )
    .expect("create");
    assert_eq!(
        c.referrers(&target.id).expect("referrers"),
        vec![from.id.clone()]
    );
    assert_eq!(
        c.referrers(item.id.as_str()).expect("referrers"),
        vec![link_like.id.clone()]
    );
    assert!(c.referrers(&from.id).expect("referrers").is_empty());
    c.write_records(&[from.delete()], "carol", 0)
        .expect("delete");
    assert!(
        c.referrers(&target.id).expect("referrers").is_empty(),
        "a deleted record refers to nothing"
    );
}

fn records_filter_by_kind_and_case(c: &mut dyn Catalog) {
    let ia = Change::incident("A", "a", None);
    let ib = Change::incident("B", "b", None);
    let pa = Change::person("Amal", "a", None);
    c.write_records(
        &[ia.create(&[]), ib.create(&[]), pa.create(&[])],
        "carol",
        0,
    )
    .expect("create");
    let ids = |v: Vec<crate::records::StoredRecord>| -> Vec<String> {
        v.into_iter().map(|s| s.record.id).collect()
    };
    let mut all = vec![ia.id.clone(), ib.id.clone(), pa.id.clone()];
    all.sort();
    assert_eq!(
        ids(c.records(None, None).expect("records")),
        all,
        "id order"
    );
    let mut incidents = vec![ia.id.clone(), ib.id.clone()];
    incidents.sort();
    assert_eq!(
        ids(c
            .records(Some(RecordKind::Incident), None)
            .expect("records")),
        incidents
    );
    let mut in_a = vec![ia.id.clone(), pa.id.clone()];
    in_a.sort();
    assert_eq!(ids(c.records(None, Some("a")).expect("records")), in_a);
    assert_eq!(
        ids(c
            .records(Some(RecordKind::Person), Some("b"))
            .expect("records")),
        Vec::<String>::new()
    );
}

fn case_record_makes_case(c: &mut dyn Catalog) {
    let case = Change::new(r#"{"kind":"case","title":"Case X"}"#, "x", None);
    assert!(!c.case_exists("x").expect("case exists"));
    c.write_records(&[case.create(&[])], "carol", 0)
        .expect("create");
    assert!(c.case_exists("x").expect("case exists"));
    assert!(c.case_items("x").expect("an existing case").is_empty());
}

fn event_subjects_after(c: &mut dyn Catalog) {
    let (item, _) = put(c, sha(1), None);
    let r = Change::incident("X", "a", None);
    c.write_records(&[r.create(&[])], "carol", 0)
        .expect("create");
    access(c, &item.id, 0);
    let all = c.event_subjects(0).expect("subjects");
    assert_eq!(
        all,
        vec![
            (1, item.id.as_str().to_owned(), "ingest".to_owned()),
            (2, r.id.clone(), "record".to_owned()),
            (3, item.id.as_str().to_owned(), "access".to_owned()),
        ]
    );
    assert_eq!(c.event_subjects(2).expect("subjects"), all[2..].to_vec());
}

// ---------------------------------------------------------------------------------------
// Blob store

/// Every blob store check, by contract.
pub const BLOB_CHECKS: &[BlobCheck] = &[
    ("empty_store_lists_nothing", empty_store_lists_nothing),
    (
        "published_blob_reads_back_identical",
        published_blob_reads_back_identical,
    ),
    ("absent_blob_is_not_found", absent_blob_is_not_found),
    ("empty_blob_round_trip", empty_blob_round_trip),
    ("chunks_concatenate_in_order", chunks_concatenate_in_order),
    ("large_blob_round_trip", large_blob_round_trip),
    (
        "unfinished_writer_leaves_nothing_visible",
        unfinished_writer_leaves_nothing_visible,
    ),
    (
        "pending_blob_invisible_until_published",
        pending_blob_invisible_until_published,
    ),
    ("abandoned_blob_never_visible", abandoned_blob_never_visible),
    ("sync_makes_pending_durable", sync_makes_pending_durable),
    ("same_digest_twice_keeps_one", same_digest_twice_keeps_one),
    ("publish_batch_of_many", publish_batch_of_many),
    ("list_names_every_blob", list_names_every_blob),
    (
        "remove_unacknowledged_removes",
        remove_unacknowledged_removes,
    ),
    (
        "clear_temporary_removes_leftovers",
        clear_temporary_removes_leftovers,
    ),
    ("local_path_holds_the_bytes", local_path_holds_the_bytes),
];

fn sha256_of(bytes: &[u8]) -> Sha256 {
    use sha2::Digest;
    Sha256(sha2::Sha256::digest(bytes).into())
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes `data` in chunks of `chunk` bytes (at least 1) and finishes it as pending.
fn pending(s: &dyn BlobStore, data: &[u8], chunk: usize) -> crate::PendingBlob {
    let mut w = s.writer(data.len() as u64).expect("writer");
    let mut buf = Vec::new();
    for part in data.chunks(chunk.max(1)) {
        buf.clear();
        buf.extend_from_slice(part);
        buf = w.write_chunk(buf).expect("write chunk");
    }
    let p = w.finish(sha256_of(data)).expect("finish");
    assert_eq!(p.sha256, sha256_of(data));
    assert_eq!(p.size, data.len() as u64);
    p
}

fn store(s: &dyn BlobStore, data: &[u8]) -> Sha256 {
    let mut p = vec![pending(s, data, 4096)];
    s.sync(&mut p).expect("sync");
    s.publish(p).expect("publish");
    sha256_of(data)
}

fn read_all(s: &dyn BlobStore, sha: &Sha256) -> Vec<u8> {
    let mut out = Vec::new();
    s.open(sha)
        .expect("open")
        .read_to_end(&mut out)
        .expect("read");
    out
}

fn empty_store_lists_nothing(s: &dyn BlobStore) {
    let l = s.list().expect("list");
    assert!(l.blobs.is_empty());
    assert!(
        l.strays.is_empty(),
        "a fresh store has no strays: {:?}",
        l.strays
    );
    assert_eq!(s.clear_temporary().expect("clear"), 0);
}

fn published_blob_reads_back_identical(s: &dyn BlobStore) {
    let data = bytes(10_000, 1);
    let sha = store(s, &data);
    assert!(s.contains(&sha).expect("contains"));
    assert_eq!(s.size(&sha).expect("size"), data.len() as u64);
    assert_eq!(read_all(s, &sha), data);
}

fn absent_blob_is_not_found(s: &dyn BlobStore) {
    store(s, b"something else");
    let sha = sha256_of(b"never stored");
    assert!(!s.contains(&sha).expect("contains"));
    assert!(matches!(
        s.open(&sha).map(|_| ()),
        Err(StoreError::NotFound(_))
    ));
    assert!(is_not_found(s.size(&sha)));
    assert_eq!(s.local_path(&sha), None);
}

fn empty_blob_round_trip(s: &dyn BlobStore) {
    let sha = store(s, b"");
    assert!(s.contains(&sha).expect("contains"));
    assert_eq!(s.size(&sha).expect("size"), 0);
    assert!(read_all(s, &sha).is_empty());
}

fn chunks_concatenate_in_order(s: &dyn BlobStore) {
    let data = bytes(1000, 7);
    let mut p = vec![pending(s, &data, 7)];
    s.sync(&mut p).expect("sync");
    s.publish(p).expect("publish");
    assert_eq!(read_all(s, &sha256_of(&data)), data);
}

fn large_blob_round_trip(s: &dyn BlobStore) {
    // Past the size at which a backend may switch strategy (the filesystem store: 8 MiB).
    let data = bytes(9 << 20, 3);
    let mut p = vec![pending(s, &data, 1 << 20)];
    s.sync(&mut p).expect("sync");
    s.publish(p).expect("publish");
    let sha = sha256_of(&data);
    assert_eq!(s.size(&sha).expect("size"), data.len() as u64);
    assert!(read_all(s, &sha) == data, "large blob bytes differ");
}

fn unfinished_writer_leaves_nothing_visible(s: &dyn BlobStore) {
    let data = bytes(5000, 2);
    let mut w = s.writer(data.len() as u64).expect("writer");
    w.write_chunk(data.clone()).expect("write chunk");
    drop(w);
    assert!(!s.contains(&sha256_of(&data)).expect("contains"));
    assert!(s.list().expect("list").blobs.is_empty());
}

fn pending_blob_invisible_until_published(s: &dyn BlobStore) {
    let data = bytes(3000, 4);
    let sha = sha256_of(&data);
    let mut p = vec![pending(s, &data, 1000)];
    assert!(
        !s.contains(&sha).expect("contains"),
        "finished, not published"
    );
    s.sync(&mut p).expect("sync");
    assert!(
        !s.contains(&sha).expect("contains"),
        "synced, not published"
    );
    assert!(s.list().expect("list").blobs.is_empty());
    s.publish(p).expect("publish");
    assert!(s.contains(&sha).expect("contains"));
}

fn abandoned_blob_never_visible(s: &dyn BlobStore) {
    let data = bytes(3000, 5);
    let mut p = vec![pending(s, &data, 1000)];
    s.sync(&mut p).expect("sync");
    for b in p {
        s.abandon(b);
    }
    assert!(!s.contains(&sha256_of(&data)).expect("contains"));
    assert!(s.list().expect("list").blobs.is_empty());
    assert_eq!(
        s.clear_temporary().expect("clear"),
        0,
        "abandon leaves no temporary file"
    );
}

fn sync_makes_pending_durable(s: &dyn BlobStore) {
    let mut p: Vec<_> = (0..6u8).map(|i| pending(s, &bytes(100, i), 50)).collect();
    s.sync(&mut p).expect("sync");
    assert!(
        p.iter().all(|b| b.synced),
        "every pending blob is durable after sync"
    );
    s.sync(&mut p).expect("sync again");
    s.publish(p).expect("publish");
}

fn same_digest_twice_keeps_one(s: &dyn BlobStore) {
    let data = bytes(2000, 6);
    let sha = store(s, &data);
    // Again, published after the first: the stored one is kept, the copy dropped.
    store(s, &data);
    // Twice in one batch.
    let mut p = vec![pending(s, &data, 500), pending(s, &data, 500)];
    s.sync(&mut p).expect("sync");
    s.publish(p).expect("publish");
    assert_eq!(read_all(s, &sha), data);
    assert_eq!(s.list().expect("list").blobs, vec![sha]);
    assert_eq!(
        s.clear_temporary().expect("clear"),
        0,
        "the pending copies were dropped"
    );
}

fn publish_batch_of_many(s: &dyn BlobStore) {
    let datas: Vec<Vec<u8>> = (0..12u8).map(|i| bytes(64 + usize::from(i), i)).collect();
    let mut p: Vec<_> = datas.iter().map(|d| pending(s, d, 16)).collect();
    s.sync(&mut p).expect("sync");
    s.publish(p).expect("publish");
    for d in &datas {
        assert_eq!(read_all(s, &sha256_of(d)), *d);
    }
}

fn list_names_every_blob(s: &dyn BlobStore) {
    let shas: Vec<Sha256> = (0..5u8).map(|i| store(s, &bytes(10, i))).collect();
    let l = s.list().expect("list");
    assert_eq!(l.blobs.len(), shas.len(), "each blob once");
    assert_eq!(set(&l.blobs), set(&shas));
    assert!(l.strays.is_empty());
}

fn remove_unacknowledged_removes(s: &dyn BlobStore) {
    let keep = store(s, b"keep");
    let drop_it = store(s, b"drop");
    s.remove_unacknowledged(&drop_it).expect("remove");
    assert!(!s.contains(&drop_it).expect("contains"));
    assert!(is_not_found(s.size(&drop_it)));
    assert!(s.contains(&keep).expect("contains"));
    assert_eq!(s.list().expect("list").blobs, vec![keep]);
}

fn clear_temporary_removes_leftovers(s: &dyn BlobStore) {
    // Finished but neither published nor abandoned: as after an interrupted run. Large
    // enough that every backend stages it (an object store holds small blobs in memory).
    let data = bytes(9 << 20, 9);
    let p = pending(s, &data, 1 << 20);
    drop(p);
    let sha = store(s, b"published");
    assert!(s.clear_temporary().expect("clear") >= 1);
    assert_eq!(s.clear_temporary().expect("clear again"), 0);
    assert!(!s.contains(&sha256_of(&data)).expect("contains"));
    assert_eq!(
        read_all(s, &sha),
        b"published",
        "published blobs are not temporary"
    );
}

fn local_path_holds_the_bytes(s: &dyn BlobStore) {
    let data = bytes(500, 8);
    let sha = store(s, &data);
    if let Some(p) = s.local_path(&sha) {
        assert_eq!(std::fs::read(p).expect("read local path"), data);
    }
}

// ---------------------------------------------------------------------------------------
// Log store

/// Every log store check, by contract.
pub const LOG_CHECKS: &[LogCheck] = &[
    ("read_many_as_reads", read_many_as_reads),
    ("empty_log_reads_nothing", empty_log_reads_nothing),
    ("tiles_read_back_identical", tiles_read_back_identical),
    ("existing_tile_left_as_is", existing_tile_left_as_is),
    ("list_tiles_sorted_tiles_only", list_tiles_sorted_tiles_only),
    ("many_tiles_in_one_batch", many_tiles_in_one_batch),
    ("checkpoint_replaced", checkpoint_replaced),
    ("write_new_then_read", write_new_then_read),
    ("write_new_refuses_existing", write_new_refuses_existing),
    ("list_folder_sorted", list_folder_sorted),
    ("signed_size_keeps_largest", signed_size_keeps_largest),
];

fn tile(n: usize, seed: u8) -> Vec<u8> {
    bytes(32 * n, seed)
}

fn empty_log_reads_nothing(s: &dyn LogStore) {
    assert_eq!(s.read("checkpoint").expect("read"), None);
    assert_eq!(s.read("tile/0/000").expect("read"), None);
    assert!(s.list_tiles().expect("list tiles").is_empty());
    assert!(s.list("timestamps").expect("list").is_empty());
    assert_eq!(s.signed_size().expect("signed size"), None);
}

fn tiles_read_back_identical(s: &dyn LogStore) {
    let files = vec![
        ("tile/0/000.p/3".to_owned(), tile(3, 1)),
        (
            "tile/entries/000.p/3".to_owned(),
            b"entry one\nentry two\n".to_vec(),
        ),
    ];
    s.write_tiles(&files).expect("write tiles");
    for (path, b) in &files {
        assert_eq!(s.read(path).expect("read").as_ref(), Some(b), "{path}");
    }
    assert_eq!(
        s.read("tile/0/000").expect("read"),
        None,
        "the full tile was not written"
    );
}

fn existing_tile_left_as_is(s: &dyn LogStore) {
    s.write_tiles(&[("tile/0/000".to_owned(), tile(256, 1))])
        .expect("write tiles");
    s.write_tiles(&[
        ("tile/0/000".to_owned(), tile(256, 2)),
        ("tile/0/001.p/1".to_owned(), tile(1, 3)),
    ])
    .expect("writing an existing tile again is not an error");
    assert_eq!(s.read("tile/0/000").expect("read"), Some(tile(256, 1)));
    assert_eq!(s.read("tile/0/001.p/1").expect("read"), Some(tile(1, 3)));
}

fn list_tiles_sorted_tiles_only(s: &dyn LogStore) {
    let paths = [
        "tile/1/000.p/2",
        "tile/0/001",
        "tile/entries/000",
        "tile/0/000",
    ];
    let files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| ((*p).to_owned(), tile(1, 0)))
        .collect();
    s.write_tiles(&files).expect("write tiles");
    s.write_checkpoint(b"origin\n1\nAAAA\n")
        .expect("checkpoint");
    s.write_new("timestamps/1/checkpoint", b"x")
        .expect("write new");
    let mut expected: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    expected.sort();
    assert_eq!(s.list_tiles().expect("list tiles"), expected);
}

fn many_tiles_in_one_batch(s: &dyn LogStore) {
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("tile/0/{i:03}"), tile(256, i as u8)))
        .chain([("tile/entries/x001/234".to_owned(), b"deep".to_vec())])
        .collect();
    s.write_tiles(&files).expect("write tiles");
    for (path, b) in &files {
        assert_eq!(s.read(path).expect("read").as_ref(), Some(b), "{path}");
    }
    assert_eq!(s.list_tiles().expect("list tiles").len(), files.len());
}

fn checkpoint_replaced(s: &dyn LogStore) {
    s.write_checkpoint(b"origin\n1\nAAAA\n\n- sig1\n")
        .expect("checkpoint");
    assert_eq!(
        s.read("checkpoint").expect("read").as_deref(),
        Some(&b"origin\n1\nAAAA\n\n- sig1\n"[..])
    );
    s.write_checkpoint(b"origin\n2\nBBBB\n\n- sig2\n")
        .expect("checkpoint");
    assert_eq!(
        s.read("checkpoint").expect("read").as_deref(),
        Some(&b"origin\n2\nBBBB\n\n- sig2\n"[..])
    );
}

fn read_many_as_reads(s: &dyn LogStore) {
    let files: Vec<(String, Vec<u8>)> = (0..40u8)
        .map(|i| (format!("tile/0/{i:03}"), vec![i; 32 * (usize::from(i) + 1)]))
        .collect();
    s.write_tiles(&files).expect("write tiles");
    let mut paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    paths.insert(7, "tile/0/999".to_owned());
    paths.reverse();
    let many = s.read_many(&paths).expect("read many");
    assert_eq!(many.len(), paths.len());
    for (p, got) in paths.iter().zip(&many) {
        assert_eq!(got, &s.read(p).expect("read"), "{p}");
    }
    assert!(many[paths.len() - 8].is_none(), "a missing file is None");
    assert!(s.read_many(&[]).expect("none").is_empty());
}

fn write_new_then_read(s: &dyn LogStore) {
    s.write_new("timestamps/5/checkpoint", b"five")
        .expect("write new");
    assert_eq!(
        s.read("timestamps/5/checkpoint").expect("read").as_deref(),
        Some(&b"five"[..])
    );
}

fn write_new_refuses_existing(s: &dyn LogStore) {
    s.write_new("timestamps/5/checkpoint", b"first")
        .expect("write new");
    assert!(s.write_new("timestamps/5/checkpoint", b"second").is_err());
    assert_eq!(
        s.read("timestamps/5/checkpoint").expect("read").as_deref(),
        Some(&b"first"[..])
    );
}

fn list_folder_sorted(s: &dyn LogStore) {
    for n in ["7", "12", "3"] {
        s.write_new(&format!("timestamps/{n}/checkpoint"), n.as_bytes())
            .expect("write new");
    }
    let mut expected = vec!["12".to_owned(), "3".to_owned(), "7".to_owned()];
    expected.sort();
    assert_eq!(s.list("timestamps").expect("list"), expected);
    assert_eq!(
        s.list("timestamps/7").expect("list"),
        vec!["checkpoint".to_owned()]
    );
    assert!(s.list("nothing-here").expect("list").is_empty());
}

fn signed_size_keeps_largest(s: &dyn LogStore) {
    assert_eq!(s.signed_size().expect("signed size"), None);
    s.note_signed_size(5).expect("note");
    assert_eq!(s.signed_size().expect("signed size"), Some(5));
    s.note_signed_size(3).expect("note");
    assert_eq!(
        s.signed_size().expect("signed size"),
        Some(5),
        "the largest noted"
    );
    s.note_signed_size(9).expect("note");
    assert_eq!(s.signed_size().expect("signed size"), Some(9));
}

// ---- accounts ----

/// Every accounts contract.
pub const ACCOUNTS_CHECKS: &[AccountsCheck] = &[
    ("users_by_name_with_cases", users_by_name_with_cases),
    ("user_name_taken_refused", user_name_taken_refused),
    ("sessions_live_until_expiry", sessions_live_until_expiry),
    (
        "tokens_live_until_expiry_or_revoked",
        tokens_live_until_expiry_or_revoked,
    ),
    (
        "disabling_ends_sessions_and_tokens",
        disabling_ends_sessions_and_tokens,
    ),
    (
        "password_reset_ends_sessions_and_tokens",
        password_reset_ends_sessions_and_tokens,
    ),
    (
        "memberships_added_and_removed",
        memberships_added_and_removed,
    ),
    (
        "review_settings_safe_by_default_per_user",
        review_settings_safe_by_default_per_user,
    ),
    ("language_kept_per_user", language_kept_per_user),
    (
        "sessions_listed_touched_and_ended_by_owner",
        sessions_listed_touched_and_ended_by_owner,
    ),
    (
        "second_factor_active_only_once_confirmed",
        second_factor_active_only_once_confirmed,
    ),
    (
        "second_factor_steps_only_move_forward",
        second_factor_steps_only_move_forward,
    ),
    ("recovery_codes_work_once", recovery_codes_work_once),
    (
        "second_factor_removed_or_reset",
        second_factor_removed_or_reset,
    ),
    (
        "sign_ins_recorded_merged_and_pruned",
        sign_ins_recorded_merged_and_pruned,
    ),
];

/// A session of `user_id` (id hash `s1`…`s4`, public id `pub-s1`…), started at time 1.
fn new_session<'a>(user_id: i64, sha256: &'a str, csrf: &'a str, expires: i64) -> NewSession<'a> {
    let public_id = match sha256 {
        "s1" => "pub-s1",
        "s2" => "pub-s2",
        "s3" => "pub-s3",
        _ => "pub-s4",
    };
    NewSession {
        user_id,
        sha256,
        csrf_sha256: csrf,
        public_id,
        user_agent: "Synthetic/1.0",
        now: 1,
        expires,
    }
}

fn users_by_name_with_cases(a: &mut dyn Accounts) {
    let u = a
        .add_user("amal", Role::Analyst, "$argon2id$x", &["A".into()])
        .expect("add");
    assert_eq!(u.cases, vec!["A".to_owned()]);
    assert_eq!((u.role, u.disabled), (Role::Analyst, false));
    a.add_user("badr", Role::Viewer, "h", &[]).expect("add");
    assert_eq!(a.user("amal").expect("user"), Some(u.clone()));
    assert_eq!(a.user("nobody").expect("user"), None);
    let names: Vec<String> = a
        .users()
        .expect("users")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, vec!["amal", "badr"], "every user, by name");
    let c = a.credentials("amal").expect("credentials").expect("known");
    assert_eq!((c.user, c.password_hash.as_str()), (u, "$argon2id$x"));
    assert!(a.credentials("nobody").expect("credentials").is_none());
}

fn user_name_taken_refused(a: &mut dyn Accounts) {
    a.add_user("amal", Role::Analyst, "h", &[]).expect("add");
    assert!(a.add_user("amal", Role::Viewer, "h", &[]).is_err());
    assert_eq!(a.users().expect("users").len(), 1);
}

fn sessions_live_until_expiry(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Analyst, "h", &[]).expect("add");
    a.add_session(&new_session(u.id, "s1", "c1", 100))
        .expect("session");
    let live = a.live_session("s1", 50).expect("live").expect("live at 50");
    assert_eq!((live.user.id, live.csrf_sha256.as_str()), (u.id, "c1"));
    assert!(a.session("s1", 50).expect("session").is_some());
    assert!(
        a.live_session("s1", 100).expect("live").is_none(),
        "expired"
    );
    assert!(a.session("s1", 100).expect("session").is_none(), "expired");
    a.add_session(&new_session(u.id, "s2", "c2", 100))
        .expect("session");
    a.remove_session("s2").expect("remove");
    assert!(a.session("s2", 1).expect("session").is_none(), "ended");
}

fn tokens_live_until_expiry_or_revoked(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Analyst, "h", &[]).expect("add");
    let t = a.add_token(u.id, "ci", "t1", 1000).expect("token");
    assert_eq!((t.user_id, t.name.as_str(), t.revoked), (u.id, "ci", false));
    assert_eq!(t.expires_at, "1970-01-01T00:16:40.000000Z");
    assert_eq!(a.token(t.id).expect("token"), Some(t.clone()));
    assert_eq!(
        a.token_user("t1", 999).expect("user").expect("live").1,
        t.id
    );
    assert!(a.token_user("t1", 1000).expect("user").is_none(), "expired");
    a.revoke_token(t.id).expect("revoke");
    assert!(a.token_user("t1", 1).expect("user").is_none(), "revoked");
    assert!(a.token(t.id).expect("token").expect("kept").revoked);
}

fn disabling_ends_sessions_and_tokens(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Analyst, "h", &[]).expect("add");
    let t = a.add_token(u.id, "ci", "t2", 1000).expect("token");
    a.add_session(&new_session(u.id, "s2", "c2", 100))
        .expect("session");
    a.set_user_disabled("amal", true).expect("disable");
    assert!(a.user("amal").expect("user").expect("kept").disabled);
    assert!(a.session("s2", 1).expect("session").is_none());
    assert!(a.token_user("t2", 1).expect("user").is_none());
    assert!(a.token(t.id).expect("token").expect("kept").revoked);
    a.set_user_disabled("amal", false).expect("enable");
    assert!(!a.user("amal").expect("user").expect("kept").disabled);
    assert!(a.set_user_disabled("nobody", true).is_err(), "unknown user");
}

fn password_reset_ends_sessions_and_tokens(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Analyst, "h1", &[]).expect("add");
    let other = a.add_user("badr", Role::Analyst, "h1", &[]).expect("add");
    let t = a.add_token(u.id, "ci", "t1", 1000).expect("token");
    let kept = a.add_token(other.id, "ci", "t2", 1000).expect("token");
    a.add_session(&new_session(u.id, "s1", "c1", 100))
        .expect("session");
    a.set_password("amal", "h2").expect("reset");
    let c = a.credentials("amal").expect("credentials").expect("known");
    assert_eq!(c.password_hash, "h2");
    assert!(
        a.session("s1", 1).expect("session").is_none(),
        "session ended"
    );
    assert!(
        a.token_user("t1", 1).expect("user").is_none(),
        "token revoked"
    );
    assert!(a.token(t.id).expect("token").expect("kept").revoked);
    assert!(
        !a.token(kept.id).expect("token").expect("kept").revoked,
        "others' tokens kept"
    );
    assert_eq!(
        a.token_user("t2", 1).expect("user").expect("live").1,
        kept.id
    );
}

fn memberships_added_and_removed(a: &mut dyn Accounts) {
    a.add_user("amal", Role::Analyst, "h", &["A".into()])
        .expect("add");
    a.set_memberships("amal", &["B".into(), "C".into()], &["A".into()])
        .expect("memberships");
    let cases = a.user("amal").expect("user").expect("kept").cases;
    assert_eq!(cases, vec!["B".to_owned(), "C".to_owned()], "sorted");
    let names = a.case_names().expect("case names");
    assert!(
        names.is_empty() || names.windows(2).all(|w| w[0] < w[1]),
        "sorted, once each"
    );
}

fn review_settings_safe_by_default_per_user(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Analyst, "h", &[]).expect("add");
    let v = a.add_user("badr", Role::Viewer, "h", &[]).expect("add");
    let safe = a.review_settings(u.id).expect("settings");
    assert_eq!(safe, ReviewSettings::default());
    assert!(safe.blur && safe.greyscale && safe.muted && !safe.autoplay);
    let open = ReviewSettings {
        blur: false,
        greyscale: false,
        muted: false,
        autoplay: true,
        lang: Language::Arabic,
    };
    a.set_review_settings(u.id, &open).expect("set");
    assert_eq!(a.review_settings(u.id).expect("settings"), open);
    assert_eq!(
        a.review_settings(v.id).expect("settings"),
        ReviewSettings::default()
    );
    let blur_only = ReviewSettings {
        greyscale: false,
        ..ReviewSettings::default()
    };
    a.set_review_settings(u.id, &blur_only).expect("set");
    assert_eq!(a.review_settings(u.id).expect("settings"), blur_only);
}

fn language_kept_per_user(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Analyst, "h", &[]).expect("add");
    let v = a.add_user("badr", Role::Viewer, "h", &[]).expect("add");
    assert_eq!(
        a.review_settings(u.id).expect("settings").lang,
        Language::Browser,
        "the browser's language until chosen"
    );
    for lang in [Language::Arabic, Language::English, Language::Browser] {
        let s = ReviewSettings {
            lang,
            ..a.review_settings(u.id).expect("settings")
        };
        a.set_review_settings(u.id, &s).expect("set");
        assert_eq!(a.review_settings(u.id).expect("settings"), s);
    }
    let arabic = ReviewSettings {
        lang: Language::Arabic,
        ..ReviewSettings::default()
    };
    a.set_review_settings(v.id, &arabic).expect("set");
    assert_eq!(
        a.review_settings(v.id).expect("settings").lang,
        Language::Arabic
    );
    assert_eq!(
        a.review_settings(u.id).expect("settings").lang,
        Language::Browser,
        "per user"
    );
}

fn sessions_listed_touched_and_ended_by_owner(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Analyst, "h", &[]).expect("add");
    let v = a.add_user("badr", Role::Viewer, "h", &[]).expect("add");
    a.add_session(&NewSession {
        now: 10,
        ..new_session(u.id, "s1", "c1", 1000)
    })
    .expect("session");
    a.add_session(&NewSession {
        now: 20,
        user_agent: "Other/2.0",
        ..new_session(u.id, "s2", "c2", 1000)
    })
    .expect("session");
    a.add_session(&new_session(u.id, "s3", "c3", 50))
        .expect("session");
    a.add_session(&new_session(v.id, "s4", "c4", 1000))
        .expect("session");
    let live = a.live_session("s1", 100).expect("live").expect("live");
    assert_eq!((live.id.as_str(), live.last_seen), ("pub-s1", 10));
    let listed = a.sessions_of(u.id, 100).expect("sessions");
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["pub-s2", "pub-s1"], "live ones, newest first");
    assert_eq!(listed[0].user_agent, "Other/2.0");
    assert_eq!(listed[0].created_at, "1970-01-01T00:00:20.000000Z");
    assert_eq!(listed[0].last_seen_at, "1970-01-01T00:00:20.000000Z");
    assert_eq!(listed[0].expires_at, "1970-01-01T00:16:40.000000Z");
    a.touch_session("s1", 70).expect("touch");
    a.touch_session("s1", 60).expect("touch");
    let live = a.live_session("s1", 100).expect("live").expect("live");
    assert_eq!(live.last_seen, 70, "last seen only moves forward");
    let listed = a.sessions_of(u.id, 100).expect("sessions");
    assert_eq!(listed[1].last_seen_at, "1970-01-01T00:01:10.000000Z");
    assert!(
        !a.remove_user_session(v.id, "pub-s1").expect("remove"),
        "not the owner's"
    );
    assert!(a.live_session("s1", 100).expect("live").is_some());
    assert!(a.remove_user_session(u.id, "pub-s1").expect("remove"));
    assert!(a.live_session("s1", 100).expect("live").is_none(), "ended");
    assert!(
        !a.remove_user_session(u.id, "pub-s1").expect("remove"),
        "once"
    );
    assert!(
        a.live_session("s2", 100).expect("live").is_some(),
        "others kept"
    );
}

fn second_factor_active_only_once_confirmed(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Admin, "h", &[]).expect("add");
    assert!(a.second_factor(u.id).expect("factor").is_none());
    assert!(!a.user("amal").expect("user").expect("known").second_factor);
    assert!(a.start_second_factor(u.id, b"first-key").expect("start"));
    assert!(a.start_second_factor(u.id, b"second-key").expect("restart"));
    let f = a.second_factor(u.id).expect("factor").expect("enrolling");
    assert_eq!(f.secret, b"second-key".to_vec(), "a new enrolment replaces");
    assert!(!f.confirmed);
    assert!(!a.user("amal").expect("user").expect("known").second_factor);
    assert!(
        !a.accept_second_factor_step(u.id, 5).expect("accept"),
        "not confirmed yet"
    );
    let codes = vec!["r1".to_owned(), "r2".to_owned()];
    assert!(a.confirm_second_factor(u.id, 7, &codes).expect("confirm"));
    let f = a.second_factor(u.id).expect("factor").expect("active");
    assert!(f.confirmed);
    assert_eq!((f.last_step, f.recovery_codes_left), (Some(7), 2));
    assert!(a.user("amal").expect("user").expect("known").second_factor);
    assert!(
        a.credentials("amal")
            .expect("c")
            .expect("c")
            .user
            .second_factor
    );
    assert!(
        !a.confirm_second_factor(u.id, 9, &codes).expect("confirm"),
        "confirmed once"
    );
    assert!(
        !a.start_second_factor(u.id, b"third-key").expect("start"),
        "an active factor is not replaced"
    );
    assert_eq!(
        a.second_factor(u.id)
            .expect("factor")
            .expect("active")
            .secret,
        b"second-key".to_vec()
    );
}

fn second_factor_steps_only_move_forward(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Admin, "h", &[]).expect("add");
    let v = a.add_user("badr", Role::Admin, "h", &[]).expect("add");
    assert!(
        !a.accept_second_factor_step(u.id, 1).expect("accept"),
        "none"
    );
    a.start_second_factor(u.id, b"k").expect("start");
    a.confirm_second_factor(u.id, 100, &[]).expect("confirm");
    a.start_second_factor(v.id, b"k").expect("start");
    a.confirm_second_factor(v.id, 100, &[]).expect("confirm");
    assert!(
        !a.accept_second_factor_step(u.id, 100).expect("accept"),
        "replay"
    );
    assert!(
        !a.accept_second_factor_step(u.id, 99).expect("accept"),
        "older"
    );
    assert!(a.accept_second_factor_step(u.id, 101).expect("accept"));
    assert!(
        !a.accept_second_factor_step(u.id, 101).expect("accept"),
        "once"
    );
    assert!(a.accept_second_factor_step(u.id, 103).expect("accept"));
    assert!(!a.accept_second_factor_step(u.id, 102).expect("accept"));
    let f = a.second_factor(u.id).expect("factor").expect("active");
    assert_eq!(f.last_step, Some(103));
    assert!(
        a.accept_second_factor_step(v.id, 101).expect("accept"),
        "steps are per user"
    );
}

fn recovery_codes_work_once(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Admin, "h", &[]).expect("add");
    let v = a.add_user("badr", Role::Admin, "h", &[]).expect("add");
    let codes = vec!["r1".to_owned(), "r2".to_owned()];
    a.start_second_factor(u.id, b"k").expect("start");
    assert!(
        !a.use_recovery_code(u.id, "r1").expect("use"),
        "no codes while enrolling"
    );
    assert!(
        !a.set_recovery_codes(u.id, &codes).expect("set"),
        "not confirmed"
    );
    a.confirm_second_factor(u.id, 1, &codes).expect("confirm");
    assert!(
        !a.use_recovery_code(v.id, "r1").expect("use"),
        "another user's"
    );
    assert!(a.use_recovery_code(u.id, "r1").expect("use"));
    assert!(!a.use_recovery_code(u.id, "r1").expect("use"), "used");
    assert!(!a.use_recovery_code(u.id, "r3").expect("use"), "unknown");
    let f = a.second_factor(u.id).expect("factor").expect("active");
    assert_eq!(f.recovery_codes_left, 1);
    let fresh = vec!["r4".to_owned(), "r5".to_owned(), "r6".to_owned()];
    assert!(a.set_recovery_codes(u.id, &fresh).expect("set"));
    assert!(!a.use_recovery_code(u.id, "r2").expect("use"), "replaced");
    let f = a.second_factor(u.id).expect("factor").expect("active");
    assert_eq!(f.recovery_codes_left, 3);
    assert!(a.use_recovery_code(u.id, "r5").expect("use"));
}

fn second_factor_removed_or_reset(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Admin, "h", &[]).expect("add");
    let v = a.add_user("badr", Role::Admin, "h", &[]).expect("add");
    for id in [u.id, v.id] {
        a.start_second_factor(id, b"k").expect("start");
        a.confirm_second_factor(id, 1, &["r1".to_owned()])
            .expect("confirm");
    }
    a.add_session(&new_session(u.id, "s1", "c1", 1000))
        .expect("session");
    a.add_session(&new_session(v.id, "s2", "c2", 1000))
        .expect("session");
    a.remove_second_factor(u.id, false).expect("remove");
    assert!(a.second_factor(u.id).expect("factor").is_none());
    assert!(!a.user("amal").expect("user").expect("known").second_factor);
    assert!(!a.use_recovery_code(u.id, "r1").expect("use"), "codes gone");
    assert!(a.live_session("s1", 2).expect("live").is_some(), "kept");
    assert!(a.start_second_factor(u.id, b"new").expect("start"), "again");
    a.remove_second_factor(v.id, true).expect("reset");
    assert!(a.second_factor(v.id).expect("factor").is_none());
    assert!(a.live_session("s2", 2).expect("live").is_none(), "ended");
    assert!(
        a.live_session("s1", 2).expect("live").is_some(),
        "others kept"
    );
}

fn sign_ins_recorded_merged_and_pruned(a: &mut dyn Accounts) {
    let u = a.add_user("amal", Role::Admin, "h", &[]).expect("add");
    // 1980-01-01T00:00:00Z.
    let base = 315_532_800;
    let attempt = |at: i64, user_id: Option<i64>, name: &'static str, reason: &'static str| {
        let outcome = if reason == "password" {
            SignInOutcome::Success
        } else {
            SignInOutcome::Failure
        };
        NewSignIn {
            at,
            user_id,
            name,
            outcome,
            reason,
            address: "127.0.0.1",
            user_agent: "Synthetic/1.0",
        }
    };
    a.record_sign_in(&attempt(base, Some(u.id), "amal", "password"))
        .expect("record");
    a.record_sign_in(&attempt(base + 1, Some(u.id), "amal", "password"))
        .expect("record");
    for t in [2, 3, 4] {
        a.record_sign_in(&attempt(base + t, Some(u.id), "amal", "bad_code"))
            .expect("record");
    }
    a.record_sign_in(&attempt(base + 5, None, "nobody", "bad_credentials"))
        .expect("record");
    a.record_sign_in(&attempt(base + 200, Some(u.id), "amal", "bad_code"))
        .expect("record");
    let all = a.sign_ins(None, 100).expect("sign-ins");
    let seen: Vec<(&str, &str, i64)> = all
        .iter()
        .map(|s| (s.name.as_str(), s.reason.as_str(), s.count))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("amal", "bad_code", 1),
            ("nobody", "bad_credentials", 1),
            ("amal", "bad_code", 3),
            ("amal", "password", 1),
            ("amal", "password", 1),
        ],
        "newest first; failures within a minute merged, successes never"
    );
    assert_eq!(
        all[2].at, "1980-01-01T00:00:02.000000Z",
        "the first attempt"
    );
    assert_eq!(all[2].last_at, "1980-01-01T00:00:04.000000Z", "the last");
    assert_eq!(all[1].user_id, None);
    assert_eq!(all[3].outcome, SignInOutcome::Success);
    assert_eq!(all[3].address, "127.0.0.1");
    assert_eq!(all[3].user_agent, "Synthetic/1.0");
    let mine = a.sign_ins(Some(u.id), 2).expect("sign-ins");
    assert_eq!(mine.len(), 2, "limit");
    assert!(mine.iter().all(|s| s.user_id == Some(u.id)));
    assert_eq!(mine[0].id, all[0].id);
    // A record older than the kept days goes as a new one comes.
    let later = base + SIGN_IN_KEEP_DAYS * 86_400 + 100;
    a.record_sign_in(&attempt(later, Some(u.id), "amal", "password"))
        .expect("record");
    let left = a.sign_ins(None, 100).expect("sign-ins");
    let reasons: Vec<&str> = left.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons, vec!["password", "bad_code"], "older ones pruned");
}
