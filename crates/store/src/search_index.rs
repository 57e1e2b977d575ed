//! The search index of an archive (`<archive>/index/search`), shared by `athar search` and
//! the HTTP API. The index is derived data: it follows the custody event sequence (a file
//! records the last event it reflects), is brought up to date after every change and before
//! every search, and can be deleted at any time to be rebuilt from the catalog.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use athar_core::records::{Body, Pending, Prepared, Record, Written};
use athar_core::{Catalog, EventDetails, EventKind, ItemId, StoreError};
use athar_search::{Doc, Options, SearchIndex};

use crate::Archive;

/// Bringing the search index up to date failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] athar_search::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A search filter that cannot be used: the field (`kind`, `date`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FilterError {
    pub field: &'static str,
    pub message: String,
}

/// Checks the filters of a search as the CLI and the API take them: `kind` is `item` or a
/// record kind; `date` a date or interval (`2012`, `2011-03/2013`; blank is none), returned
/// as the days it spans.
pub fn check_filters(
    kind: Option<&str>,
    date: Option<&str>,
) -> Result<Option<(i32, i32)>, FilterError> {
    if let Some(k) = kind.filter(|k| *k != "item") {
        athar_core::records::RecordKind::parse(k).map_err(|message| FilterError {
            field: "kind",
            message,
        })?;
    }
    let date_error = |message: String| FilterError {
        field: "date",
        message,
    };
    match date.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => athar_core::records::DateValue::parse(d)
            .map_err(|e| date_error(e.to_string()))?
            .days()
            .map(Some)
            .ok_or_else(|| date_error("a date or interval, not unknown".to_owned())),
    }
}

/// Search results as the CLI's `--json` and the API return them.
pub fn results_json(results: &athar_search::SearchResults) -> serde_json::Value {
    serde_json::json!({
        "total": results.total,
        "hits": results.hits.iter().map(|h| serde_json::json!({
            "id": h.id, "kind": h.kind, "case": h.case, "title": h.title, "score": h.score,
        })).collect::<Vec<_>>(),
        "facets": {
            "kind": results.facets.kind,
            "case": results.facets.case,
            "violation": results.facets.violation,
            "verification": results.facets.verification,
        },
    })
}

/// The most records one person's hit gathers.
const MOST_LINKED: usize = 200;

/// Shows a person once: a person hit whose record is joined by `same` matches to the record
/// of an earlier hit is dropped, and the hit kept lists every record of the person
/// (`same_as`: id, list and names) and every spelling of their names (`names`). Only
/// records of the hit's own case are gathered. Returns how many hits were folded.
pub fn fold_persons(
    catalog: &dyn athar_core::Catalog,
    results: &mut serde_json::Value,
) -> Result<usize, athar_core::StoreError> {
    use athar_core::records::Body;
    let Some(hits) = results["hits"].as_array_mut() else {
        return Ok(0);
    };
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::with_capacity(hits.len());
    let mut folded = 0;
    for mut hit in hits.drain(..) {
        let id = hit["id"].as_str().unwrap_or_default().to_owned();
        if hit["kind"] != "person" {
            kept.push(hit);
            continue;
        }
        if seen.contains(&id) {
            folded += 1;
            continue;
        }
        let group = athar_core::persons::same_as(catalog, &id, MOST_LINKED)?;
        if group.len() > 1 {
            let mut names: Vec<String> = Vec::new();
            let mut records = Vec::new();
            for r in &group {
                let Some(s) = catalog.record_by_id(r)? else {
                    continue;
                };
                let Body::Person(p) = &s.record.body else {
                    continue;
                };
                for n in &p.names {
                    if !names.contains(&n.name) {
                        names.push(n.name.clone());
                    }
                }
                records.push(serde_json::json!({
                    "id": r,
                    "source": p.source,
                    "source_row": p.source_row,
                    "names": p.names.iter().map(|n| &n.name).collect::<Vec<_>>(),
                }));
            }
            hit["same_as"] = serde_json::Value::Array(records);
            hit["names"] = serde_json::json!(names);
        }
        seen.extend(group);
        kept.push(hit);
    }
    *hits = kept;
    results["folded"] = serde_json::json!(folded);
    Ok(folded)
}

/// Where an archive keeps its search index.
pub fn index_dir(root: &Path) -> PathBuf {
    root.join("index").join("search")
}

const STATE: &str = "athar-indexed-through";
/// What the documents hold, by version (3: an item once per case it belongs to, each with
/// only that case's sightings); an index written without this file, or with another
/// version, is rebuilt.
const CONTENT: &str = "athar-index-content";
const CONTENT_VERSION: &str = "3";

fn indexed_through(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join(STATE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Indexes everything changed since the index was last brought up to date. Returns how
/// many items and records were (re)indexed.
pub fn update(archive: &Archive) -> Result<usize, IndexError> {
    update_with(archive, &[])
}

/// [`update`], taking records the caller has just written from memory instead of reading
/// them back from the catalog (a bulk import indexes a million records this way). A record
/// from `written` is used only when its custody event is the last one the catalog holds for
/// it, so a record changed again since is read from the catalog like any other.
pub fn update_with(archive: &Archive, written: &[Written]) -> Result<usize, IndexError> {
    update_in(archive, &index_dir(&archive.work_dir()), written)
}

/// A search index of one process's own, for a reader that may not write the archive's
/// (another process holds the archive and keeps that one): a copy of the shared index
/// brought up to date with the catalog, or, when the copy cannot be used (caught half
/// written), one built afresh. Kept in the archive's work folder (in memory when the
/// archive is encrypted) and removed when dropped.
#[derive(Debug)]
pub struct PrivateIndex {
    dir: PathBuf,
}

impl PrivateIndex {
    /// The index's folder, for [`SearchIndex::open_or_create`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PrivateIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// See [`PrivateIndex`]: the shared index is only read (its files copied), never written.
pub fn private_index(archive: &Archive) -> Result<PrivateIndex, IndexError> {
    let shared = index_dir(&archive.work_dir());
    let parent = archive.work_dir().join("index");
    std::fs::create_dir_all(&parent).map_err(|source| IndexError::Io {
        path: parent.clone(),
        source,
    })?;
    // One per process: a folder left by a process that died under the same id is stale.
    let private = PrivateIndex {
        dir: parent.join(format!("search-private-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&private.dir);
    std::fs::create_dir(&private.dir).map_err(|source| IndexError::Io {
        path: private.dir.clone(),
        source,
    })?;
    let copied = copy_files(&shared, &private.dir).is_ok();
    if copied && update_in(archive, &private.dir, &[]).is_ok() {
        return Ok(private);
    }
    // Caught while the other process rewrote it: build one from the catalog alone.
    let _ = std::fs::remove_dir_all(&private.dir);
    update_in(archive, &private.dir, &[])?;
    Ok(private)
}

/// Copies the plain files of `from` (tantivy's segments, meta and Athar's state files; not
/// its lock files) into `to`.
fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_file() && !name.to_string_lossy().starts_with(".tantivy-") {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

fn update_in(archive: &Archive, dir: &Path, written: &[Written]) -> Result<usize, IndexError> {
    let dir = dir.to_path_buf();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    let content = std::fs::read_to_string(dir.join(CONTENT)).ok();
    if dir.exists() && content.as_deref().map(str::trim) != Some(CONTENT_VERSION) {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    let through = indexed_through(&dir);
    let catalog: &dyn Catalog = archive.catalog.as_ref();
    let events = catalog.event_subjects(through)?;
    let Some(last) = events.last().map(|e| e.0) else {
        return Ok(0);
    };
    // Each subject changed since, with its last event.
    let mut subjects: BTreeMap<String, u64> = BTreeMap::new();
    for (seq, id, kind) in events {
        // Accesses and exports change nothing that is searched.
        if !matches!(
            EventKind::parse(&kind),
            Some(EventKind::Access | EventKind::Export)
        ) {
            subjects.insert(id, seq);
        }
    }
    let mut known: HashMap<&str, &Record> = HashMap::with_capacity(written.len());
    for w in written {
        if subjects.get(&w.record.id) == Some(&w.event) {
            known.insert(&w.record.id, &w.record);
        }
    }
    let options = if subjects.len() > 10_000 {
        Options::bulk()
    } else {
        Options::default()
    };
    let mut index = match SearchIndex::open_or_create_with(&dir, options) {
        // Written by another version of Athar: it is derived data, so start again.
        Err(athar_search::Error::SchemaMismatch(_)) => {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            return update_in(archive, &dir, written);
        }
        r => r?,
    };
    let mut sources = Sources {
        catalog: Some(catalog),
        known,
        place_names: HashMap::new(),
    };
    let fresh = through == 0;
    let mut docs = Vec::with_capacity(subjects.len().min(100_000));
    let mut count = 0;
    for id in subjects.keys() {
        let found = sources.docs_for(id)?;
        if found.is_empty() {
            if !fresh {
                index.delete(id)?;
            }
        } else {
            docs.extend(found);
        }
        if docs.len() >= 100_000 {
            count += flush(&mut index, &mut docs, fresh)?;
        }
    }
    count += flush(&mut index, &mut docs, fresh)?;
    index.commit()?;
    mark_indexed(&dir, last)?;
    Ok(count)
}

/// What indexing a batch ahead of its catalog write needs from the catalog, read on the
/// writer's thread before the write begins (see [`stage`]).
#[derive(Debug)]
pub struct StagePlan {
    dir: PathBuf,
    /// The last custody event the index reflects.
    through: u64,
    /// Names of the places the batch refers to but does not hold.
    place_names: HashMap<String, Vec<String>>,
    bulk: bool,
}

/// Prepares to index `batch` while it is written: call it after [`update`] has brought the
/// index up to date, with the catalog the batch will be written to.
pub fn plan_stage(
    archive_root: &Path,
    catalog: &dyn Catalog,
    batch: &Prepared,
) -> Result<StagePlan, IndexError> {
    let dir = index_dir(archive_root);
    let mut in_batch = HashMap::new();
    for r in batch.records() {
        if let Body::Place(_) = r.body {
            in_batch.insert(r.id.as_str(), ());
        }
    }
    let mut place_names = HashMap::new();
    for r in batch.records() {
        for p in r.body.indexed_places() {
            if in_batch.contains_key(p.as_str()) || place_names.contains_key(p) {
                continue;
            }
            let names = match catalog.record_by_id(p)? {
                Some(s) => place_names_of(&s.record.body),
                None => Vec::new(),
            };
            place_names.insert(p.clone(), names);
        }
    }
    Ok(StagePlan {
        through: indexed_through(&dir),
        dir,
        place_names,
        bulk: batch.records().len() > 10_000,
    })
}

impl StagePlan {
    /// The last custody event the index reflected when the plan was made.
    pub fn through(&self) -> u64 {
        self.through
    }
}

/// Indexes `batch` while [`Prepared::write`] writes it (run this on another thread): feeds
/// its documents to an index writer and prepares the commit, then waits for `decision`.
/// `Some(last)` (see [`batch_only`]) commits them as reflecting every event through `last`;
/// `None`, or a dropped sender, discards them.
pub fn stage(
    plan: StagePlan,
    batch: &Prepared,
    decision: std::sync::mpsc::Receiver<Option<u64>>,
) -> Result<Indexed, IndexError> {
    let options = if plan.bulk {
        Options::bulk()
    } else {
        Options::default()
    };
    let mut index = SearchIndex::open_or_create_with(&plan.dir, options)?;
    let mut sources = Sources {
        catalog: None,
        known: batch.records().iter().map(|r| (r.id.as_str(), r)).collect(),
        place_names: plan.place_names,
    };
    let mut count = 0;
    for change in batch.pending() {
        match change {
            // A new id is in no index document yet.
            Pending::Create(r) => index.add_new(&sources.record_doc(r)?)?,
            Pending::Edit(r) => index.add(&sources.record_doc(r)?)?,
            Pending::Delete(id) => index.delete(id)?,
        }
        count += 1;
    }
    let mut last = None;
    let committed = index.commit_if(|| {
        last = decision.recv().ok().flatten();
        last.is_some() && indexed_through(&plan.dir) == plan.through
    })?;
    match (committed, last) {
        (true, Some(last)) => {
            mark_indexed(&plan.dir, last)?;
            Ok(Indexed {
                count,
                staged: true,
            })
        }
        _ => Ok(Indexed {
            count: 0,
            staged: false,
        }),
    }
}

/// The decision [`stage`] waits for: the last of `seqs`, the custody events a batch was
/// written with, when they are the only events since `through` (the index's state when the
/// batch was staged); else None.
pub fn batch_only(
    catalog: &dyn Catalog,
    through: u64,
    seqs: &[u64],
) -> Result<Option<u64>, StoreError> {
    let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else {
        return Ok(None);
    };
    let only = first == through + 1
        && seqs.windows(2).all(|p| p[1] == p[0] + 1)
        && catalog.event_subjects(last)?.is_empty();
    Ok(only.then_some(last))
}

/// After a batch was written and [`stage`] returned `staged`: when the staged documents
/// were not committed (or staging failed), brings the index up to date from the catalog and
/// `written` like [`update_with`].
pub fn finish_staged(
    archive: &Archive,
    staged: Result<Indexed, IndexError>,
    written: &[Written],
) -> Result<Indexed, IndexError> {
    match staged {
        Ok(i) if i.staged => Ok(i),
        _ => update_with(archive, written).map(|count| Indexed {
            count,
            staged: false,
        }),
    }
}

/// What indexing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indexed {
    /// Items and records (re)indexed.
    pub count: usize,
    /// Whether the staged documents were committed (else the index was brought up to date
    /// from the catalog).
    pub staged: bool,
}

/// Records that the index reflects every event through `last`, in the current content
/// version.
fn mark_indexed(dir: &Path, last: u64) -> Result<(), IndexError> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| IndexError::Io { path, source })
    };
    write(STATE, format!("{last}\n"))?;
    write(CONTENT, format!("{CONTENT_VERSION}\n"))
}

fn flush(index: &mut SearchIndex, docs: &mut Vec<Doc>, fresh: bool) -> Result<usize, IndexError> {
    let n = docs.len();
    if fresh {
        for d in docs.iter() {
            index.add_new(d)?;
        }
    } else {
        index.add_many(docs.iter())?;
    }
    docs.clear();
    Ok(n)
}

/// Where documents come from: records just written (current, see [`update_with`]), else the
/// catalog.
struct Sources<'a> {
    /// None while staging, where every place a record needs is in `place_names`.
    catalog: Option<&'a dyn Catalog>,
    known: HashMap<&'a str, &'a Record>,
    place_names: HashMap<String, Vec<String>>,
}

impl Sources<'_> {
    /// The documents for an item (one per case) or a live record; none when it is gone (a
    /// deleted record).
    fn docs_for(&mut self, id: &str) -> Result<Vec<Doc>, IndexError> {
        if let Some(r) = self.known.get(id).copied() {
            return Ok(vec![self.record_doc(r)?]);
        }
        let Some(catalog) = self.catalog else {
            return Ok(Vec::new());
        };
        if let Some(stored) = catalog.record_by_id(id)? {
            if stored.deleted {
                return Ok(Vec::new());
            }
            return Ok(vec![self.record_doc(&stored.record)?]);
        }
        let Some(item_id) = ItemId::parse(id) else {
            return Ok(Vec::new());
        };
        item_docs(catalog, &item_id)
    }

    fn record_doc(&mut self, r: &Record) -> Result<Doc, IndexError> {
        let f = r.body.index_fields();
        let mut places = Vec::new();
        for p in &f.places {
            if !self.place_names.contains_key(p) {
                let names = match (self.known.get(p.as_str()), self.catalog) {
                    (Some(place), _) => place_names_of(&place.body),
                    (None, Some(catalog)) => match catalog.record_by_id(p)? {
                        Some(s) => place_names_of(&s.record.body),
                        None => Vec::new(),
                    },
                    (None, None) => Vec::new(),
                };
                self.place_names.insert(p.clone(), names);
            }
            if let Some(names) = self.place_names.get(p) {
                places.extend(names.iter().cloned());
            }
        }
        let mut names = f.names;
        if let Some(k) = &r.key {
            names.push(k.clone());
        }
        Ok(Doc {
            id: r.id.clone(),
            kind: r.body.kind().as_str().to_owned(),
            cases: vec![r.case.clone()],
            title: f.title,
            text: f.text,
            names,
            date: f.date,
            places,
            violations: f.violations,
            verification: f.verification,
        })
    }
}

fn place_names_of(body: &Body) -> Vec<String> {
    match body {
        Body::Place(pl) => pl.names.iter().map(|n| n.name.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The documents for an item, one per case it belongs to: each holds the names, paths,
/// sources and notes of that case's sightings only, so a search on one case never matches
/// an item on what another case recorded about the same bytes (see `athar_core::scope`).
/// Sightings of no case make a document of no case (found only by searches of every case).
fn item_docs(catalog: &dyn Catalog, item_id: &ItemId) -> Result<Vec<Doc>, IndexError> {
    let events = catalog.events(item_id)?;
    let mut by_case: BTreeMap<Option<String>, (String, String)> = BTreeMap::new();
    for e in &events {
        if let EventDetails::Sighting(s) = &e.details {
            let (title, text) = by_case.entry(s.case.clone()).or_default();
            if title.is_empty() {
                title.clone_from(&s.original_name);
            }
            for part in [
                Some(&s.original_name),
                Some(&s.original_path),
                s.source.as_ref(),
                s.note.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                text.push_str(part);
                text.push('\n');
            }
        }
    }
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // An item of a case without a sighting of it (none today) is still found by its id.
    for case in catalog.cases_of(item_id)? {
        by_case.entry(Some(case)).or_default();
    }
    Ok(by_case
        .into_iter()
        .map(|(case, (title, text))| Doc {
            id: item_id.to_string(),
            kind: "item".to_owned(),
            cases: case.into_iter().collect(),
            title,
            text,
            ..Doc::default()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use athar_core::records::{self, Change};
    use athar_search::Query;

    #[test]
    fn filters_are_checked_and_named() {
        assert_eq!(check_filters(None, None), Ok(None));
        assert_eq!(check_filters(Some("item"), Some("  ")), Ok(None));
        let (from, to) = check_filters(Some("incident"), Some("2012"))
            .unwrap()
            .unwrap();
        assert!(from < to, "a year spans days");
        let kind = check_filters(Some("weapon"), None).unwrap_err();
        assert_eq!(kind.field, "kind");
        let date = check_filters(None, Some("the spring")).unwrap_err();
        assert_eq!(date.field, "date");
        assert!(date.to_string().starts_with("date: "), "{date}");
    }

    fn changes(lines: &[String]) -> Vec<Change> {
        lines
            .iter()
            .map(|l| {
                Change::Put(Box::new(
                    records::parse_line(serde_json::from_str(l).unwrap()).unwrap(),
                ))
            })
            .collect()
    }

    fn person(key: &str, name: &str) -> String {
        format!(r#"{{"kind":"person","key":"{key}","case":"c","names":[{{"name":"{name}"}}]}}"#)
    }

    /// Applies `changes` the way `athar records import` does: indexed on another thread
    /// while the catalog writes them; `between` runs after staging and before the write.
    fn import(
        archive: &mut Archive,
        changes: Vec<Change>,
        between: impl FnOnce(&mut crate::Writer<'_>),
    ) -> Indexed {
        update(archive).unwrap();
        let root = archive.root.clone();
        let mut w = archive.writer().unwrap();
        let batch = records::prepare(&*w.catalog, changes, None).unwrap();
        let plan = plan_stage(&root, &*w.catalog, &batch).unwrap();
        let through = plan.through();
        let (tx, rx) = std::sync::mpsc::channel();
        let (seqs, staged) = std::thread::scope(|s| {
            let tx = tx;
            let indexer = s.spawn(|| stage(plan, &batch, rx));
            between(&mut w);
            let seqs = batch
                .write(&mut *w.catalog, &mut w.logger, "tester")
                .unwrap();
            tx.send(batch_only(&*w.catalog, through, &seqs).unwrap())
                .unwrap();
            (seqs, indexer.join().unwrap())
        });
        drop(w);
        let (_, written) = batch.finish(seqs);
        finish_staged(archive, staged, &written).unwrap()
    }

    fn names(archive: &Archive, text: &str) -> Vec<String> {
        let index = SearchIndex::open_or_create(&index_dir(&archive.root)).unwrap();
        let q = Query {
            text: text.to_owned(),
            kind: Some("person".into()),
            limit: 100,
            ..Query::default()
        };
        let mut out: Vec<String> = index
            .search(&q)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.title)
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_staged_batch_is_committed_only_when_its_events_are_the_only_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut archive =
            Archive::init(&dir.path().join("a"), &crate::InitOptions::default()).unwrap();
        let case = r#"{"kind":"case","case":"c","title":"Synthetic case"}"#.to_owned();
        let first = import(
            &mut archive,
            changes(&[case, person("p1", "Samer Synthetic")]),
            |_| {},
        );
        assert_eq!(
            first,
            Indexed {
                count: 2,
                staged: true
            }
        );
        assert_eq!(names(&archive, "Samer"), ["Samer Synthetic"]);

        // An edit and a new record, staged; then another change lands before the batch is
        // written: the staged documents are discarded and the index follows the catalog.
        let second = import(
            &mut archive,
            changes(&[
                person("p1", "Samer Edited"),
                person("p2", "Layla Synthetic"),
            ]),
            |w| {
                records::apply(
                    &mut *w.catalog,
                    &mut w.logger,
                    changes(&[person("p3", "Rami Synthetic")]),
                    "other",
                )
                .unwrap();
            },
        );
        assert!(!second.staged);
        assert_eq!(
            names(&archive, "Synthetic"),
            ["Layla Synthetic", "Rami Synthetic"]
        );
        assert_eq!(names(&archive, "Samer"), ["Samer Edited"]);

        // A staged edit replaces the old document; a delete removes it.
        let third = import(
            &mut archive,
            changes(&[person("p2", "Layla Edited")]),
            |_| {},
        );
        assert_eq!(
            third,
            Indexed {
                count: 1,
                staged: true
            }
        );
        assert_eq!(names(&archive, "Layla"), ["Layla Edited"]);
        let fourth = import(&mut archive, vec![Change::Delete("p3".into())], |_| {});
        assert_eq!(
            fourth,
            Indexed {
                count: 1,
                staged: true
            }
        );
        assert!(names(&archive, "Rami").is_empty());
        let through = indexed_through(&index_dir(&archive.root));
        assert_eq!(through, archive.custody_log().unwrap().size());
    }

    fn log_problems(archive: &Archive) -> Vec<String> {
        let report = athar_core::verify::verify_log(
            archive.catalog.as_ref(),
            archive.log.as_ref(),
            &archive.verifier(),
            &archive.pseudonym_secret,
            &|_, _, _| Err("no tokens expected".into()),
        )
        .unwrap();
        report.problems.iter().map(|p| p.detail.clone()).collect()
    }

    /// A batch's log entries are made from memory only when its events are exactly what is
    /// queued beyond the log; events left queued by an interrupted write are logged too.
    #[test]
    fn log_entries_from_memory_match_the_catalog_and_queued_events_are_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut archive =
            Archive::init(&dir.path().join("a"), &crate::InitOptions::default()).unwrap();
        let case = r#"{"kind":"case","case":"c","title":"Synthetic case"}"#.to_owned();
        import(
            &mut archive,
            changes(&[case, person("p1", "Samer Synthetic")]),
            |_| {},
        );
        // An edit: its entry names the record's previous event.
        import(
            &mut archive,
            changes(&[person("p1", "Samer Edited")]),
            |_| {},
        );
        assert_eq!(archive.custody_log().unwrap().size(), 3);
        assert_eq!(log_problems(&archive), Vec::<String>::new());

        // A write whose events were committed but never appended (a crash between the
        // two), then a batch: both are logged, in order.
        {
            let w = archive.writer().unwrap();
            let batch =
                records::prepare(&*w.catalog, changes(&[person("p1", "Samer Third")]), None)
                    .unwrap();
            let queued = batch.writes();
            let size = w.logger.log.size();
            w.catalog.write_records(queued, "tester", size).unwrap();
        }
        assert_eq!(archive.custody_log().unwrap().size(), 3);
        import(
            &mut archive,
            changes(&[person("p2", "Layla Synthetic")]),
            |_| {},
        );
        assert_eq!(archive.custody_log().unwrap().size(), 5);
        assert_eq!(log_problems(&archive), Vec::<String>::new());
    }
}
