//! Web captures in the archive: a capture's bundle preserved as items (each with a `capture`
//! custody event naming the address and what the file is) and one `capture` record in the
//! case tying them together; the deletion watch's findings kept on that record, so each
//! change of a source's state is one `record` custody event and nothing else is.
//!
//! The bundle is made elsewhere (`athar-capture`): this module sees folders, files and the
//! record, never a browser or the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::CoreError;
use crate::ingest::{CaptureFiles, IngestOptions, Progress};
use crate::log::Logger;
use crate::records::{
    self, Body, Capture, CaptureArtefact, Change, ChangeError, Line, RecordKind, StoredRecord,
    Watch,
};
use crate::storage::{BlobStore, Catalog};

/// Why a capture could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum CaptureKeepError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Record(#[from] ChangeError),
    #[error(transparent)]
    Store(#[from] crate::StoreError),
    #[error("{0}")]
    Files(String),
}

/// A capture kept: its record and its items.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The capture record's id.
    pub record: String,
    /// The record's custody event.
    pub event: Option<u64>,
    /// The record as written.
    pub capture: Capture,
    /// Files of the bundle that could not be preserved, and why.
    pub failed: Vec<String>,
}

/// A capture's record made from its bundle's manifest (`capture.json`, the same field names
/// less the items and the watch): its files are filled in by [`keep`]; the watch starts
/// from the status the page answered with (2xx and 3xx available, 404, 410 and 451 gone,
/// anything else or none unreachable).
pub fn record_of(
    manifest: serde_json::Value,
    note: Option<&str>,
) -> Result<Capture, CaptureKeepError> {
    let mut v = manifest;
    let Some(o) = v.as_object_mut() else {
        return Err(CaptureKeepError::Files(
            "the manifest is not an object".into(),
        ));
    };
    let status = o.get("status").and_then(serde_json::Value::as_u64);
    let state = match status {
        Some(404 | 410 | 451) => "gone",
        Some(200..=399) => "available",
        Some(_) | None => "unreachable",
    };
    let watch = Watch {
        state: state.to_owned(),
        since: o
            .get("ended")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        detail: status.map(|s| s.to_string()),
        content_sha256: o
            .get("content_sha256")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    };
    o.insert("artefacts".into(), serde_json::Value::Array(Vec::new()));
    o.insert(
        "watch".into(),
        serde_json::to_value(watch).unwrap_or_default(),
    );
    if let Some(n) = note {
        o.insert("note".into(), serde_json::Value::String(n.to_owned()));
    }
    serde_json::from_value(v).map_err(|e| {
        CaptureKeepError::Files(format!(
            "the capture's manifest does not fit its record: {e}"
        ))
    })
}

/// Keeps the bundle at `dir` whose manifest (`capture.json`) is `manifest`: its record made
/// by [`record_of`] (with `opts.note`), its files (the manifest's `artefacts`, by `name` and
/// `role`) preserved by [`keep`] into `opts.case`.
pub fn keep_bundle(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    dir: &Path,
    manifest: serde_json::Value,
    opts: &IngestOptions,
) -> Result<Kept, CaptureKeepError> {
    let files: Vec<(PathBuf, String)> = manifest["artefacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((
                PathBuf::from(a["name"].as_str()?),
                a["role"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let capture = record_of(manifest, opts.note.as_deref())?;
    keep(catalog, blobs, logger, dir, &files, capture, opts)
}

/// Preserves the files of a bundle at `dir` (`files`: path within `dir` and role, in
/// order) and then writes `capture` (its artefacts filled in from the items) into
/// `opts.case`. A file that cannot be preserved is left out and named among the record's
/// problems, and the capture is then not complete. The files are durable before the record
/// names them: a crash between leaves items with `capture` events and no record, never a
/// record naming what is not there.
pub fn keep(
    catalog: &mut dyn Catalog,
    blobs: &dyn BlobStore,
    logger: &mut Logger<'_>,
    dir: &Path,
    files: &[(PathBuf, String)],
    mut capture: Capture,
    opts: &IngestOptions,
) -> Result<Kept, CaptureKeepError> {
    let Some(case) = opts.case.clone() else {
        return Err(CaptureKeepError::Files(
            "a capture is kept in a case: name one".to_owned(),
        ));
    };
    let dir = dir
        .canonicalize()
        .map_err(|e| CaptureKeepError::Files(format!("{}: {e}", dir.display())))?;
    let mut opts = opts.clone();
    opts.capture = Some(CaptureFiles {
        dir: dir.clone(),
        url: capture.url.clone(),
        started: capture.started.clone(),
        roles: files.iter().map(|(p, r)| (p.clone(), r.clone())).collect(),
    });
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| dir.join(p)).collect();
    let mut stored = BTreeMap::new();
    let mut failed = Vec::new();
    crate::ingest::ingest(catalog, blobs, logger, &paths, &opts, &mut |p| match p {
        Progress::Stored(s) => {
            stored.insert(s.path.clone(), s.entry.item.clone());
        }
        Progress::Failed(e) => failed.push(e.to_string()),
        _ => {}
    })?;
    capture.artefacts = files
        .iter()
        .filter_map(|(rel, role)| {
            let item = stored.get(&dir.join(rel))?;
            Some(CaptureArtefact {
                role: role.clone(),
                name: rel.to_string_lossy().into_owned(),
                item: item.id.to_string(),
                sha256: item.sha256.to_string(),
            })
        })
        .collect();
    for f in &failed {
        capture.problems.push(format!("not preserved: {f}"));
    }
    if !capture.problems.is_empty() {
        capture.complete = false;
    }
    if capture.artefacts.is_empty() {
        return Err(CaptureKeepError::Files(format!(
            "no file of the capture of {} could be preserved: {}",
            capture.url,
            failed.join("; ")
        )));
    }
    let applied = records::apply(
        catalog,
        logger,
        vec![Change::Put(Box::new(Line {
            id: None,
            key: None,
            case: Some(case),
            body: Body::Capture(Box::new(capture.clone())),
        }))],
        &opts.collector,
    )?;
    let first = applied.into_iter().next();
    Ok(Kept {
        record: first.as_ref().map(|a| a.id.clone()).unwrap_or_default(),
        event: first.and_then(|a| a.event),
        capture,
        failed,
    })
}

/// The captures of `case` (every case when None), oldest first.
pub fn captures(
    catalog: &dyn Catalog,
    case: Option<&str>,
) -> Result<Vec<(StoredRecord, Capture)>, crate::StoreError> {
    let mut out: Vec<_> = catalog
        .records(Some(RecordKind::Capture), case)?
        .into_iter()
        .filter_map(|s| match &s.record.body {
            Body::Capture(c) => {
                let c = (**c).clone();
                Some((s, c))
            }
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| {
        a.1.started
            .cmp(&b.1.started)
            .then(a.0.record.id.cmp(&b.0.record.id))
    });
    Ok(out)
}

/// `items` with, for each that is a file of a capture, every other file of that capture
/// (so a hand-over carries whole bundles), in the order first met, without repeats.
pub fn whole_bundles(
    catalog: &dyn Catalog,
    items: Vec<crate::Item>,
) -> Result<Vec<crate::Item>, crate::StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let referrers = catalog.referrers(item.id.as_str())?;
        if seen.insert(item.id.clone()) {
            out.push(item);
        }
        for id in referrers {
            let Some(s) = catalog.record_by_id(&id)? else {
                continue;
            };
            let Body::Capture(c) = &s.record.body else {
                continue;
            };
            for a in &c.artefacts {
                let other = catalog.resolve(&a.item)?;
                if seen.insert(other.id.clone()) {
                    out.push(other);
                }
            }
        }
    }
    Ok(out)
}

/// What a check found, to keep on a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// One of [`records::WATCH_STATES`].
    pub state: String,
    pub detail: Option<String>,
    pub content_sha256: Option<String>,
    /// When it was found (RFC 3339, UTC).
    pub at: String,
}

/// Keeps a check's finding on capture `id`: a new state is an edit of the record (one
/// custody event); the same state again writes nothing. `unreachable` after a known state
/// is written only once it has been seen `failures_to_note` times in a row (the caller
/// counts); it never replaces `gone`. Returns the custody event when one was written.
pub fn note_finding(
    catalog: &mut dyn Catalog,
    logger: &mut Logger<'_>,
    id: &str,
    finding: &Finding,
    actor: &str,
) -> Result<Option<u64>, CaptureKeepError> {
    let Some(stored) = catalog.record_by_id(id)?.filter(|s| !s.deleted) else {
        return Err(CaptureKeepError::Files(format!("no capture {id}")));
    };
    let Body::Capture(c) = &stored.record.body else {
        return Err(CaptureKeepError::Files(format!("{id} is not a capture")));
    };
    let mut c = (**c).clone();
    if c.watch.state == finding.state {
        return Ok(None);
    }
    if finding.state == "unreachable" && c.watch.state == "gone" {
        return Ok(None);
    }
    c.watch = Watch {
        state: finding.state.clone(),
        since: finding.at.clone(),
        detail: finding.detail.clone(),
        content_sha256: finding.content_sha256.clone(),
    };
    let applied = records::apply(
        catalog,
        logger,
        vec![Change::Put(Box::new(Line {
            id: Some(stored.record.id.clone()),
            key: stored.record.key.clone(),
            case: Some(stored.record.case.clone()),
            body: Body::Capture(Box::new(c)),
        }))],
        actor,
    )?;
    Ok(applied.into_iter().next().and_then(|a| a.event))
}
