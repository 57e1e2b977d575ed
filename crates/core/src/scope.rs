//! Who may see what: the one place that decides which cases, items, custody events and
//! records a caller is shown. Every reader of the archive that answers someone other than
//! its operator (the HTTP API, a case's hand-over bag) filters through a [`Scope`], so a
//! rule is written once instead of once per route.
//!
//! The rules:
//! - a case is seen by its members (admins and the archive's own commands see every case);
//! - an item is seen when one of its cases is;
//! - a custody event of an item is seen when its own case is: a sighting's case, the cases
//!   an access or export was made under, the case a transfer was received into. An event
//!   that names no case (made before events named their case, or by the archive's own
//!   commands) is seen only by someone who sees every case of its item, since it may belong
//!   to any of them. A `derived` event (a review image made from the item) belongs to the
//!   item itself and is seen with it;
//! - a record is seen when its case is; what refers to it is listed only where seen.
//!
//! "Not yours" and "does not exist" give the same answer: these functions return `None`
//! (or leave the thing out) in both cases, and callers answer both the same way.

use std::collections::BTreeSet;

use crate::error::StoreError;
use crate::model::{CustodyEvent, EventDetails, Item, ItemId};
use crate::records::{Body, RecordKind, StoredRecord};
use crate::storage::Catalog;

/// The cases a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every case, and items and events of no case: admins and the archive's own commands.
    All,
    /// Only these cases.
    Cases(BTreeSet<String>),
}

/// Which cases a custody event belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventCases {
    /// It belongs to its item as a whole (a derived review image).
    Item,
    /// These cases.
    Cases(Vec<String>),
    /// It names no case: it may belong to any case of its item.
    Unknown,
}

/// The cases `event` belongs to.
pub fn event_cases(event: &CustodyEvent) -> EventCases {
    let named = |cases: Vec<String>| {
        if cases.is_empty() {
            EventCases::Unknown
        } else {
            EventCases::Cases(cases)
        }
    };
    match &event.details {
        EventDetails::Sighting(s) => named(s.case.iter().cloned().collect()),
        EventDetails::Access(a) => named(a.cases.clone()),
        EventDetails::Export(e) => named(e.case.iter().cloned().collect()),
        EventDetails::Transfer(t) => named(t.case.iter().cloned().collect()),
        EventDetails::Derived(_) => EventCases::Item,
        EventDetails::Record(r) => named(vec![r.case.clone()]),
        EventDetails::Erase(e) => named(vec![e.case.clone()]),
    }
}

impl Scope {
    /// A scope of these cases.
    pub fn of_cases<I, S>(cases: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Scope::Cases(cases.into_iter().map(Into::into).collect())
    }

    /// Whether every case is seen.
    pub fn is_all(&self) -> bool {
        matches!(self, Scope::All)
    }

    /// The cases seen, or `None` for every case.
    pub fn case_list(&self) -> Option<Vec<String>> {
        match self {
            Scope::All => None,
            Scope::Cases(c) => Some(c.iter().cloned().collect()),
        }
    }

    /// Whether `case` is seen.
    pub fn sees_case(&self, case: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Cases(c) => c.contains(case),
        }
    }

    /// The cases of `item_cases` that are seen.
    pub fn visible_cases(&self, item_cases: &[String]) -> Vec<String> {
        item_cases
            .iter()
            .filter(|c| self.sees_case(c))
            .cloned()
            .collect()
    }

    /// Whether an item of these cases is seen.
    pub fn sees_item(&self, item_cases: &[String]) -> bool {
        self.is_all() || item_cases.iter().any(|c| self.sees_case(c))
    }

    /// Whether `event`, of an item of these cases, is seen.
    pub fn sees_event(&self, event: &CustodyEvent, item_cases: &[String]) -> bool {
        if self.is_all() {
            return true;
        }
        match event_cases(event) {
            EventCases::Item => self.sees_item(item_cases),
            EventCases::Cases(c) => c.iter().any(|c| self.sees_case(c)),
            EventCases::Unknown => {
                !item_cases.is_empty() && item_cases.iter().all(|c| self.sees_case(c))
            }
        }
    }

    /// The events of `events` (of an item of these cases) that are seen, in order.
    pub fn events(&self, events: Vec<CustodyEvent>, item_cases: &[String]) -> Vec<CustodyEvent> {
        events
            .into_iter()
            .filter(|e| self.sees_event(e, item_cases))
            .collect()
    }

    /// The item with exactly this id and its cases, when it exists and is seen.
    pub fn item(
        &self,
        catalog: &dyn Catalog,
        id: &ItemId,
    ) -> Result<Option<(Item, Vec<String>)>, StoreError> {
        let item = match catalog.resolve(id.as_str()) {
            Ok(i) if i.id == *id => i,
            Ok(_) | Err(StoreError::NotFound(_) | StoreError::Ambiguous { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let cases = catalog.cases_of(&item.id)?;
        Ok(self.sees_item(&cases).then_some((item, cases)))
    }

    /// The item an id or SHA-256 (or a prefix of either, 4 characters at least) names among
    /// the items seen: `NotFound` and `Ambiguous` count only those.
    pub fn resolve_item(&self, catalog: &dyn Catalog, query: &str) -> Result<Item, StoreError> {
        match self {
            Scope::All => catalog.resolve(query),
            Scope::Cases(c) => {
                let cases: Vec<String> = c.iter().cloned().collect();
                catalog.resolve_in_cases(query, &cases)
            }
        }
    }

    /// The live record with this id, when it exists and is seen.
    pub fn record(
        &self,
        catalog: &dyn Catalog,
        id: &str,
    ) -> Result<Option<StoredRecord>, StoreError> {
        Ok(catalog
            .record_by_id(id)?
            .filter(|s| !s.deleted && self.sees_case(&s.record.case)))
    }

    /// The ids of the live records seen that refer to record `id`.
    pub fn referrers(&self, catalog: &dyn Catalog, id: &str) -> Result<Vec<String>, StoreError> {
        let all = catalog.referrers(id)?;
        if self.is_all() {
            return Ok(all);
        }
        let mut out = Vec::with_capacity(all.len());
        for r in all {
            if self.record(catalog, &r)?.is_some() {
                out.push(r);
            }
        }
        Ok(out)
    }
}

/// Whether someone of `role` (a role name; admins are always readers and are not asked
/// about) may read the identifying details of `case`'s confidential and protected sources:
/// when the case's record lists the role in `protected_readers`. A case has one record;
/// should an older archive hold several, every one of them must list the role.
pub fn may_read_protected(
    catalog: &dyn Catalog,
    role: &str,
    case: &str,
) -> Result<bool, StoreError> {
    let records = catalog.records(Some(RecordKind::Case), Some(case))?;
    let mut any = false;
    for s in &records {
        let Body::Case(c) = &s.record.body else {
            continue;
        };
        if !c.protected_readers.iter().any(|r| r.as_str() == role) {
            return Ok(false);
        }
        any = true;
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Access, Derived, EventKind, Export, Sighting};

    fn event(details: EventDetails) -> CustodyEvent {
        let kind = match &details {
            EventDetails::Sighting(_) => EventKind::Sighting,
            EventDetails::Access(_) => EventKind::Access,
            EventDetails::Export(_) => EventKind::Export,
            EventDetails::Derived(_) => EventKind::Derived,
            _ => EventKind::Transfer,
        };
        CustodyEvent {
            seq: 1,
            item: ItemId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap_or_else(|| unreachable!()),
            kind,
            at: String::new(),
            actor: "a".into(),
            details,
            salt: None,
        }
    }

    fn sighting(case: Option<&str>) -> CustodyEvent {
        event(EventDetails::Sighting(Sighting {
            case: case.map(str::to_owned),
            ..Sighting::default()
        }))
    }

    #[test]
    fn events_are_seen_by_their_own_case_only() {
        let c1 = Scope::of_cases(["c1"]);
        let both = vec!["c1".to_owned(), "c2".to_owned()];
        let only_c1 = vec!["c1".to_owned()];
        let access = |cases: &[&str]| {
            event(EventDetails::Access(Access {
                cases: cases.iter().map(|c| (*c).to_owned()).collect(),
                ..Access::default()
            }))
        };
        let export = |case: Option<&str>| {
            event(EventDetails::Export(Export {
                case: case.map(str::to_owned),
                ..Export::default()
            }))
        };
        let derived = event(EventDetails::Derived(Derived {
            source: ItemId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap_or_else(|| unreachable!()),
            role: "review-thumbnail-blurred".into(),
            tool_version: String::new(),
        }));
        let check = |e: &CustodyEvent, cases: &[String], expected: bool| {
            assert_eq!(c1.sees_event(e, cases), expected, "{e:?} of {cases:?}");
            assert!(Scope::All.sees_event(e, cases));
        };
        check(&sighting(Some("c1")), &both, true);
        check(&sighting(Some("c2")), &both, false);
        check(&sighting(None), &both, false);
        check(&sighting(None), &only_c1, true);
        check(&access(&["c2"]), &both, false);
        check(&access(&["c1", "c2"]), &both, true);
        check(&access(&[]), &both, false);
        check(&access(&[]), &only_c1, true);
        check(&export(Some("c2")), &both, false);
        check(&export(Some("c1")), &both, true);
        check(&derived, &both, true);
        check(&derived, &["c2".to_owned()], false);
        check(&sighting(None), &[], false);
    }

    #[test]
    fn cases_and_items() {
        let s = Scope::of_cases(["c1", "c3"]);
        assert!(s.sees_case("c1") && !s.sees_case("c2"));
        assert_eq!(
            s.visible_cases(&["c1".into(), "c2".into(), "c3".into()]),
            vec!["c1".to_owned(), "c3".to_owned()]
        );
        assert!(s.sees_item(&["c2".into(), "c3".into()]));
        assert!(!s.sees_item(&["c2".into()]));
        assert!(!s.sees_item(&[]));
        assert!(Scope::All.sees_item(&[]));
        assert_eq!(s.case_list(), Some(vec!["c1".to_owned(), "c3".to_owned()]));
        assert_eq!(Scope::All.case_list(), None);
    }
}
