//! The search index of an archive (`<archive>/index/search`), shared by `athar search` and
//! the HTTP API. The index is derived data: it follows the custody event sequence (a file
//! records the last event it reflects), is brought up to date after every change and before
//! every search, and can be deleted at any time to be rebuilt from the catalog.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use athar_core::records::Body;
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

fn indexed_through(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join(STATE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Indexes everything changed since the index was last brought up to date. Returns how
/// many items and records were (re)indexed.
pub fn update(archive: &Archive) -> Result<usize, IndexError> {
    let dir = index_dir(&archive.root);
    let through = indexed_through(&dir);
    let catalog: &dyn Catalog = &archive.catalog;
    let events = catalog.event_subjects(through)?;
    let Some(last) = events.last().map(|e| e.0) else {
        return Ok(0);
    };
    let mut subjects = BTreeSet::new();
    for (_, id, kind) in events {
        // Accesses and exports change nothing that is searched.
        if !matches!(
            EventKind::parse(&kind),
            Some(EventKind::Access | EventKind::Export)
        ) {
            subjects.insert(id);
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
            std::fs::remove_dir_all(&dir).map_err(|source| IndexError::Io {
                path: dir.clone(),
                source,
            })?;
            return update(archive);
        }
        r => r?,
    };
    let mut place_names = std::collections::HashMap::new();
    let fresh = through == 0;
    let mut docs = Vec::with_capacity(subjects.len().min(100_000));
    let mut count = 0;
    for id in &subjects {
        match doc_for(catalog, id, &mut place_names)? {
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
    std::fs::write(dir.join(STATE), format!("{last}\n")).map_err(|source| IndexError::Io {
        path: dir.join(STATE),
        source,
    })?;
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

/// The document for an item or live record; None when it is gone (a deleted record).
fn doc_for(
    catalog: &dyn Catalog,
    id: &str,
    place_names: &mut std::collections::HashMap<String, Vec<String>>,
) -> Result<Option<Doc>, IndexError> {
    if let Some(stored) = catalog.record_by_id(id)? {
        if stored.deleted {
            return Ok(None);
        }
        let r = stored.record;
        let f = r.body.index_fields();
        let mut places = Vec::new();
        for p in &f.places {
            if !place_names.contains_key(p) {
                let names = match catalog.record_by_id(p)? {
                    Some(s) => match s.record.body {
                        Body::Place(pl) => pl.names.into_iter().map(|n| n.name).collect(),
                        _ => Vec::new(),
                    },
                    None => Vec::new(),
                };
                place_names.insert(p.clone(), names);
            }
            places.extend(place_names[p].iter().cloned());
        }
        let mut names = f.names;
        if let Some(k) = &r.key {
            names.push(k.clone());
        }
        return Ok(Some(Doc {
            id: r.id.clone(),
            kind: r.body.kind().as_str().to_owned(),
            case: Some(r.case.clone()),
            title: f.title,
            text: f.text,
            names,
            date: f.date,
            places,
            violations: f.violations,
            verification: f.verification,
        }));
    }
    let Some(item_id) = ItemId::parse(id) else {
        return Ok(None);
    };
    let events = catalog.events(&item_id)?;
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
    let cases = catalog.cases_of(&item_id)?;
    Ok(Some(Doc {
        id: id.to_owned(),
        kind: "item".to_owned(),
        case: cases.into_iter().next(),
        title,
        text,
        ..Doc::default()
    }))
}
