//! The search index of an archive (`<archive>/index/search`), shared by `athar search` and
//! the HTTP API. The index is derived data: it follows the custody event sequence (a file
//! records the last event it reflects), is brought up to date after every change and before
//! every search, and can be deleted at any time to be rebuilt from the catalog.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use athar_core::records::{Body, Record, Written};
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

/// Where an archive keeps its search index.
pub fn index_dir(root: &Path) -> PathBuf {
    root.join("index").join("search")
}

const STATE: &str = "athar-indexed-through";
/// What the documents hold, by version (2: an item under every case it belongs to); an
/// index written without this file, or with another version, is rebuilt.
const CONTENT: &str = "athar-index-content";
const CONTENT_VERSION: &str = "2";

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
    let dir = index_dir(&archive.root);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    let content = std::fs::read_to_string(dir.join(CONTENT)).ok();
    if dir.exists() && content.as_deref().map(str::trim) != Some(CONTENT_VERSION) {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    let through = indexed_through(&dir);
    let catalog: &dyn Catalog = &archive.catalog;
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
            return update_with(archive, written);
        }
        r => r?,
    };
    let mut sources = Sources {
        catalog,
        known,
        place_names: HashMap::new(),
    };
    let fresh = through == 0;
    let mut docs = Vec::with_capacity(subjects.len().min(100_000));
    let mut count = 0;
    for id in subjects.keys() {
        match sources.doc_for(id)? {
            Some(doc) => docs.push(doc),
            None if !fresh => index.delete(id)?,
            None => {}
        }
        if docs.len() >= 100_000 {
            count += flush(&mut index, &mut docs, fresh)?;
        }
    }
    count += flush(&mut index, &mut docs, fresh)?;
    index.commit()?;
    std::fs::write(dir.join(STATE), format!("{last}\n")).map_err(io(&dir.join(STATE)))?;
    std::fs::write(dir.join(CONTENT), format!("{CONTENT_VERSION}\n"))
        .map_err(io(&dir.join(CONTENT)))?;
    Ok(count)
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
    catalog: &'a dyn Catalog,
    known: HashMap<&'a str, &'a Record>,
    place_names: HashMap<String, Vec<String>>,
}

impl Sources<'_> {
    /// The document for an item or live record; None when it is gone (a deleted record).
    fn doc_for(&mut self, id: &str) -> Result<Option<Doc>, IndexError> {
        if let Some(r) = self.known.get(id).copied() {
            return Ok(Some(self.record_doc(r)?));
        }
        if let Some(stored) = self.catalog.record_by_id(id)? {
            if stored.deleted {
                return Ok(None);
            }
            return Ok(Some(self.record_doc(&stored.record)?));
        }
        let Some(item_id) = ItemId::parse(id) else {
            return Ok(None);
        };
        item_doc(self.catalog, &item_id)
    }

    fn record_doc(&mut self, r: &Record) -> Result<Doc, IndexError> {
        let f = r.body.index_fields();
        let mut places = Vec::new();
        for p in &f.places {
            if !self.place_names.contains_key(p) {
                let names = match self.known.get(p.as_str()) {
                    Some(place) => place_names(&place.body),
                    None => match self.catalog.record_by_id(p)? {
                        Some(s) => place_names(&s.record.body),
                        None => Vec::new(),
                    },
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

fn place_names(body: &Body) -> Vec<String> {
    match body {
        Body::Place(pl) => pl.names.iter().map(|n| n.name.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The document for an item: its names, paths, sources and notes from every sighting, under
/// every case it belongs to.
fn item_doc(catalog: &dyn Catalog, item_id: &ItemId) -> Result<Option<Doc>, IndexError> {
    let events = catalog.events(item_id)?;
    if events.is_empty() {
        return Ok(None);
    }
    let mut title = String::new();
    let mut text = String::new();
    for e in &events {
        if let EventDetails::Sighting(s) = &e.details {
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
    Ok(Some(Doc {
        id: item_id.to_string(),
        kind: "item".to_owned(),
        cases: catalog.cases_of(item_id)?,
        title,
        text,
        ..Doc::default()
    }))
}
