//! Verification: every blob re-hashed, catalog and store checked against each other.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::StoreError;
use crate::model::{Item, Sha256};
use crate::storage::{BlobStore, Catalog};

/// What kind of problem verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A blob's bytes no longer hash to its digest (or its size differs).
    Altered,
    /// A catalog item has no blob.
    Missing,
    /// A blob has no catalog item.
    Orphaned,
    /// Something in the blob store that is not a blob.
    Stray,
    /// An item has no custody event.
    NoCustody,
    /// A custody event was removed from the sequence.
    MissingEvent,
    /// A custody event names an item that does not exist.
    DanglingEvent,
    /// A blob could not be read.
    Unreadable,
}

/// One problem, naming what it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub items: usize,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

/// Checks everything: each blob re-hashed (on `threads` threads, 0 = one per core), each
/// item has its blob and custody events, each blob has its item, the event sequence has
/// no gaps. `progress` receives the bytes hashed so far.
pub fn verify(
    catalog: &dyn Catalog,
    blobs: &dyn BlobStore,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, StoreError> {
    let items = catalog.items()?;
    let listing = blobs.list()?;
    let mut problems = Vec::new();
    let stored: HashSet<Sha256> = listing.blobs.iter().copied().collect();
    let known: HashMap<Sha256, &Item> = items.iter().map(|i| (i.sha256, i)).collect();

    for stray in &listing.strays {
        problems.push(Problem {
            kind: ProblemKind::Stray,
            item: None,
            sha256: None,
            detail: format!("unexpected entry in the blob store: {stray}"),
        });
    }
    let mut to_hash: Vec<(Sha256, Option<&Item>)> = Vec::new();
    for item in &items {
        if stored.contains(&item.sha256) {
            to_hash.push((item.sha256, Some(item)));
        } else {
            problems.push(Problem {
                kind: ProblemKind::Missing,
                item: Some(item.id.to_string()),
                sha256: Some(item.sha256.to_hex()),
                detail: format!("item {} has no blob {}", item.id, item.sha256),
            });
        }
    }
    for sha in &listing.blobs {
        if !known.contains_key(sha) {
            to_hash.push((*sha, None));
        }
    }
    let bytes = items
        .iter()
        .filter(|i| stored.contains(&i.sha256))
        .map(|i| i.size)
        .sum();

    // Re-hash in parallel; largest first so the threads finish together.
    to_hash.sort_by_key(|(_, item)| std::cmp::Reverse(item.map_or(0, |i| i.size)));
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        threads
    };
    let next = AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicU64::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, to_hash.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((sha, item)) = to_hash.get(i) else {
                    break;
                };
                let problem = check_blob(blobs, sha, *item);
                let size = item.map_or(0, |i| i.size);
                progress(done.fetch_add(size, Ordering::Relaxed) + size);
                if let Some(p) = problem {
                    if let Ok(mut f) = found.lock() {
                        f.push(p);
                    }
                }
            });
        }
    });
    let mut hashed = found.into_inner().unwrap_or_default();
    hashed.sort_by(|a, b| (a.kind, &a.sha256).cmp(&(b.kind, &b.sha256)));
    problems.extend(hashed);

    // Custody events: every item has some; every event has its item; no gaps.
    let (events, max_seq) = catalog.event_index()?;
    let ids: HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let mut with_events: HashSet<&str> = HashSet::new();
    let mut seqs = BTreeSet::new();
    for (seq, item) in &events {
        seqs.insert(*seq);
        if ids.contains(item.as_str()) {
            with_events.insert(item.as_str());
        } else {
            problems.push(Problem {
                kind: ProblemKind::DanglingEvent,
                item: Some(item.clone()),
                sha256: None,
                detail: format!(
                    "custody event #{seq} names item {item}, which is not in the catalog"
                ),
            });
        }
    }
    for item in &items {
        if !with_events.contains(item.id.as_str()) {
            problems.push(Problem {
                kind: ProblemKind::NoCustody,
                item: Some(item.id.to_string()),
                sha256: Some(item.sha256.to_hex()),
                detail: format!("item {} has no custody event", item.id),
            });
        }
    }
    let mut missing = (1..=max_seq).filter(|s| !seqs.contains(s)).peekable();
    while let Some(seq) = missing.next() {
        let mut end = seq;
        while missing.peek() == Some(&(end + 1)) {
            end += 1;
            missing.next();
        }
        let span = if end == seq {
            format!("#{seq}")
        } else {
            format!("#{seq} to #{end}")
        };
        problems.push(Problem {
            kind: ProblemKind::MissingEvent,
            item: None,
            sha256: None,
            detail: format!("custody event {span} removed from the catalog"),
        });
    }
    Ok(Report {
        ok: problems.is_empty(),
        items: items.len(),
        bytes,
        problems,
    })
}

fn check_blob(blobs: &dyn BlobStore, sha: &Sha256, item: Option<&Item>) -> Option<Problem> {
    let item_id = item.map(|i| i.id.to_string());
    match crate::retrieve::rehash(blobs, sha) {
        Err(e) => Some(Problem {
            kind: ProblemKind::Unreadable,
            item: item_id,
            sha256: Some(sha.to_hex()),
            detail: format!("blob {sha} cannot be read: {e}"),
        }),
        Ok((actual, size)) => {
            if let Some(item) = item {
                if actual != *sha || size != item.size {
                    return Some(Problem {
                        kind: ProblemKind::Altered,
                        item: item_id,
                        sha256: Some(sha.to_hex()),
                        detail: format!(
                            "blob {sha} of item {} was altered: it now hashes to {actual} ({size} bytes, {} recorded)",
                            item.id, item.size
                        ),
                    });
                }
                None
            } else {
                let state = if actual == *sha {
                    "intact"
                } else {
                    "and altered"
                };
                Some(Problem {
                    kind: ProblemKind::Orphaned,
                    item: None,
                    sha256: Some(sha.to_hex()),
                    detail: format!("blob {sha} ({size} bytes, {state}) has no catalog item"),
                })
            }
        }
    }
}
