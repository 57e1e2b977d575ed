//! Links made at ingest: which items show the same picture as another through local
//! features ([`athar_media::local_match`]) — a copy inside other footage, turned, deeply
//! cropped, filmed off a screen — found when their fingerprints are indexed and kept, so
//! that `athar similar` of an item, `athar clusters` and the server's near-duplicates read
//! them without a query.
//!
//! [`Links`] holds every verified link, both ways, and the last catalog fingerprint change
//! it covers. Bringing it up to date ([`Links::catch_up`]) reads the `local` records written
//! since; each new (or re-analysed) item's sampled frames are searched among every item's
//! (votes, then geometric verification) and its links replaced. The stored frames of every
//! item are held in memory once a catch-up or a file query needed them.
//!
//! The links are a derived cache in `index/links.json` beside `index/similar.idx`: the
//! layout, the generation of the features they were made from, the change they cover and
//! each link once (the other direction is its inverse). A missing, damaged or other
//! generation's file is rebuilt from the catalog; it is replaced by atomic rename, and a
//! failure to save is not an error.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use athar_core::{Catalog, ItemId};
use athar_media::local_match::{self, LocalFrame, LocalIndex, LocalMatch, Placement};
use serde_json::{json, Value};

use crate::kinds::LOCAL_GENERATION;
use crate::{AnalysisError, Kind};

/// Where the links are kept, under the archive's root.
pub const LINKS_FILE: &str = "index/links.json";
/// The file's layout and the search that made its links: raised when either changes, so an
/// archive's links are made again by the search it now has (2: mirrored votes, votes that
/// agree on scale and orientation, a budget of failed verifications).
const LAYOUT: &str = "athar-links 2";

/// One item's link to another, seen from the first (`this`).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub other: ItemId,
    /// Share (0–1) of this item's sampled frames that verified with the other's.
    pub this_match: f64,
    /// Share (0–1) of the other's sampled frames that verified with this one's.
    pub other_match: f64,
    /// Frames that verified.
    pub frames: usize,
    /// Inliers of the best verified pair.
    pub inliers: usize,
    /// This item's pixels (of its reduced frame) to the other's, row-major 3×3.
    pub homography: [f64; 9],
    pub this_size: (usize, usize),
    pub other_size: (usize, usize),
    pub mirrored: bool,
    /// Aligned seconds: this item's start and end, the other's start and end.
    pub segment: (f64, f64, f64, f64),
}

impl Link {
    fn from_match(other: ItemId, m: &LocalMatch) -> Option<Link> {
        let best = m.best()?;
        Some(Link {
            other,
            this_match: m.query_match,
            other_match: m.item_match,
            frames: m.pairs.len(),
            inliers: best.verification.inliers,
            homography: best.verification.homography,
            this_size: best.query_size,
            other_size: best.item_size,
            mirrored: best.verification.mirrored,
            segment: m.segment()?,
        })
    }

    /// The same link seen from the other item.
    fn reversed(&self, this: ItemId) -> Option<Link> {
        let mut inv = local_match::invert(&self.homography)?;
        let s = inv[8];
        if s.abs() > 1e-12 {
            inv = inv.map(|x| x / s);
        }
        Some(Link {
            other: this,
            this_match: self.other_match,
            other_match: self.this_match,
            frames: self.frames,
            inliers: self.inliers,
            homography: inv,
            this_size: self.other_size,
            other_size: self.this_size,
            mirrored: self.mirrored,
            segment: (
                self.segment.2,
                self.segment.3,
                self.segment.0,
                self.segment.1,
            ),
        })
    }

    /// How the other item's picture relates to this one's.
    pub fn placement(&self) -> Option<Placement> {
        Placement::from_homography(
            &self.homography,
            self.this_size,
            self.other_size,
            self.mirrored,
        )
    }

    /// The placement in words ("picture-in-picture at 40% top-left", "rotated 7°, crop
    /// 80%").
    pub fn transform(&self) -> String {
        self.placement()
            .map_or_else(|| "same picture".to_owned(), |p| p.describe())
    }

    /// Whether the link is worth listing at this share.
    pub fn counts(&self, min_share: f64) -> bool {
        self.this_match.max(self.other_match) >= min_share
    }

    /// The part of a match's JSON that says how the pictures relate (`local`).
    pub fn json(&self) -> Value {
        let p = self.placement();
        json!({
            "transform": self.transform(),
            "mirrored": self.mirrored,
            "angle": p.as_ref().map_or(0, |p| p.angle),
            "perspective": p.as_ref().is_some_and(|p| p.perspective),
            "inset": p.as_ref().and_then(|p| p.inset).map(|(s, at)| json!({"share": f64::from(s) / 100.0, "position": at})),
            "crop": p.as_ref().and_then(|p| p.crop).map(|(s, at)| json!({"share": f64::from(s) / 100.0, "position": at})),
            "frames": self.frames,
            "inliers": self.inliers,
            "query_match": self.this_match,
            "item_match": self.other_match,
            "segment": {
                "query_start": self.segment.0, "query_end": self.segment.1,
                "item_start": self.segment.2, "item_end": self.segment.3,
            },
        })
    }

    fn to_file(&self, this: &ItemId) -> Value {
        json!({
            "a": this, "b": self.other, "a_match": self.this_match, "b_match": self.other_match,
            "frames": self.frames, "inliers": self.inliers, "h": self.homography,
            "a_size": [self.this_size.0, self.this_size.1],
            "b_size": [self.other_size.0, self.other_size.1],
            "mirrored": self.mirrored,
            "segment": [self.segment.0, self.segment.1, self.segment.2, self.segment.3],
        })
    }

    fn from_file(v: &Value) -> Option<(ItemId, Link)> {
        let id = |k: &str| ItemId::parse(v[k].as_str()?);
        let f = |x: &Value| x.as_f64().filter(|x| x.is_finite());
        let size = |k: &str| -> Option<(usize, usize)> {
            let a = v[k].as_array()?;
            Some((
                usize::try_from(a.first()?.as_u64()?).ok()?,
                usize::try_from(a.get(1)?.as_u64()?).ok()?,
            ))
        };
        let h = v["h"].as_array()?;
        let seg = v["segment"].as_array()?;
        if h.len() != 9 || seg.len() != 4 {
            return None;
        }
        let mut homography = [0.0; 9];
        for (o, x) in homography.iter_mut().zip(h) {
            *o = f(x)?;
        }
        Some((
            id("a")?,
            Link {
                other: id("b")?,
                this_match: f(&v["a_match"])?,
                other_match: f(&v["b_match"])?,
                frames: usize::try_from(v["frames"].as_u64()?).ok()?,
                inliers: usize::try_from(v["inliers"].as_u64()?).ok()?,
                homography,
                this_size: size("a_size")?,
                other_size: size("b_size")?,
                mirrored: v["mirrored"].as_bool()?,
                segment: (f(&seg[0])?, f(&seg[1])?, f(&seg[2])?, f(&seg[3])?),
            },
        ))
    }
}

/// Every item's stored frames, indexed (owner numbers of their own).
#[derive(Debug, Default)]
struct Loaded {
    index: LocalIndex,
    owners: Vec<ItemId>,
    by_item: HashMap<ItemId, u32>,
}

impl Loaded {
    fn add(&mut self, item: ItemId, frames: Vec<LocalFrame>) {
        let Ok(owner) = u32::try_from(self.owners.len()) else {
            return;
        };
        self.index.add(owner, frames);
        self.owners.push(item.clone());
        self.by_item.insert(item, owner);
    }
}

/// The archive's local links, and (once needed) every item's stored frames.
#[derive(Debug, Default)]
pub struct Links {
    /// The last catalog fingerprint change covered.
    through: u64,
    by_item: HashMap<ItemId, Vec<Link>>,
    loaded: Option<Loaded>,
}

/// An item's stored local frames, read from the catalog (none when it has no readable
/// `local` record).
pub fn local_frames(
    catalog: &dyn Catalog,
    item: &ItemId,
) -> Result<Vec<LocalFrame>, AnalysisError> {
    Ok(catalog
        .fingerprints(item)?
        .iter()
        .find(|f| {
            Kind::parse(&f.algorithm) == Some(Kind::Local)
                && f.algorithm_version.contains(LOCAL_GENERATION)
        })
        .and_then(|f| local_match::decode(&f.data).ok())
        .unwrap_or_default())
}

impl Links {
    /// The links file of the archive at `root`, brought up to date with `catalog` and saved
    /// when it changed.
    pub fn open(root: &Path, catalog: &dyn Catalog) -> Result<Links, AnalysisError> {
        let path = root.join(LINKS_FILE);
        let mut links = Links::read(&path).unwrap_or_default();
        if links.catch_up(catalog)? {
            links.save(&path);
        }
        Ok(links)
    }

    /// An item's links, best first (most frames, then most inliers).
    pub fn of(&self, item: &ItemId) -> &[Link] {
        self.by_item.get(item).map_or(&[], Vec::as_slice)
    }

    /// Every item with links, and its links.
    pub fn all(&self) -> impl Iterator<Item = (&ItemId, &[Link])> {
        self.by_item.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// Items whose stored frames show the pictures of `query` (a file's sampled frames, not
    /// an archived item), as links from the query; reads every item's frames the first time.
    pub fn search(
        &mut self,
        catalog: &dyn Catalog,
        query: &[LocalFrame],
    ) -> Result<Vec<Link>, AnalysisError> {
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let loaded = self.load(catalog)?;
        Ok(loaded
            .index
            .search(query, None)
            .iter()
            .filter_map(|m| Link::from_match(loaded.owners.get(m.owner as usize)?.clone(), m))
            .collect())
    }

    fn load(&mut self, catalog: &dyn Catalog) -> Result<&Loaded, AnalysisError> {
        if self.loaded.is_none() {
            let mut loaded = Loaded::default();
            for item in items_with_local(&catalog.fingerprint_changes(0)?) {
                let frames = local_frames(catalog, &item)?;
                loaded.add(item, frames);
            }
            self.loaded = Some(loaded);
        }
        self.loaded
            .as_ref()
            .ok_or_else(|| AnalysisError::Index("local frames not loaded".into()))
    }

    /// Adds the links of the items whose `local` records were written since the last
    /// change covered (replacing those of items analysed again). Returns whether anything
    /// changed.
    pub fn catch_up(&mut self, catalog: &dyn Catalog) -> Result<bool, AnalysisError> {
        let changes = catalog.fingerprint_changes(self.through)?;
        let Some(last) = changes.last().map(|c| c.0) else {
            return Ok(false);
        };
        let fresh = items_with_local(&changes);
        if fresh.is_empty() {
            self.through = last;
            return Ok(true);
        }
        // An item analysed again: its frames in memory are stale, read them all again.
        if let Some(l) = &self.loaded {
            if fresh.iter().any(|i| l.by_item.contains_key(i)) {
                self.loaded = None;
            }
        }
        let was_loaded = self.loaded.is_some();
        self.load(catalog)?;
        let mut loaded = self.loaded.take().unwrap_or_default();
        if was_loaded {
            for item in &fresh {
                let frames = local_frames(catalog, item)?;
                loaded.add(item.clone(), frames);
            }
        }
        let gone: HashSet<&ItemId> = fresh.iter().collect();
        for item in &fresh {
            self.by_item.remove(item);
        }
        for links in self.by_item.values_mut() {
            links.retain(|l| !gone.contains(&l.other));
        }
        let searched = search_all(&loaded, &fresh);
        for (item, matches) in fresh.iter().zip(searched) {
            for m in matches {
                let Some(other) = loaded.owners.get(m.owner as usize) else {
                    continue;
                };
                let Some(link) = Link::from_match(other.clone(), &m) else {
                    continue;
                };
                let Some(back) = link.reversed(item.clone()) else {
                    continue;
                };
                self.put(item, link);
                self.put(other, back);
            }
        }
        for links in self.by_item.values_mut() {
            links.sort_by(|a, b| {
                b.frames
                    .cmp(&a.frames)
                    .then(b.inliers.cmp(&a.inliers))
                    .then(a.other.as_str().cmp(b.other.as_str()))
            });
        }
        self.loaded = Some(loaded);
        self.through = last;
        Ok(true)
    }

    /// Sets `this`'s link to `link.other` (one per pair).
    fn put(&mut self, this: &ItemId, link: Link) {
        let links = self.by_item.entry(this.clone()).or_default();
        links.retain(|l| l.other != link.other);
        links.push(link);
    }

    fn read(path: &Path) -> Option<Links> {
        let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        if v["layout"] != LAYOUT || v["generation"] != LOCAL_GENERATION {
            return None;
        }
        let mut links = Links {
            through: v["through"].as_u64()?,
            ..Links::default()
        };
        for l in v["links"].as_array()? {
            let (a, link) = Link::from_file(l)?;
            let back = link.reversed(a.clone())?;
            let b = link.other.clone();
            links.put(&a, link);
            links.put(&b, back);
        }
        Some(links)
    }

    /// Saves the links (each pair once), atomically; a failure is not an error.
    pub fn save(&self, path: &Path) {
        let mut pairs = Vec::new();
        for (a, links) in &self.by_item {
            for l in links {
                if a.as_str() < l.other.as_str() {
                    pairs.push(l.to_file(a));
                }
            }
        }
        let doc = json!({
            "layout": LAYOUT, "generation": LOCAL_GENERATION, "through": self.through,
            "links": pairs,
        });
        let _ = write_atomically(path, &doc.to_string());
    }
}

/// Each of `items`' stored frames searched against every other item's, in `items`' order,
/// the items shared between the machine's cores (the index is only read).
fn search_all(loaded: &Loaded, items: &[ItemId]) -> Vec<Vec<LocalMatch>> {
    let search = |item: &ItemId| {
        let Some(&owner) = loaded.by_item.get(item) else {
            return Vec::new();
        };
        let frames = loaded.index.frames_of(owner);
        loaded.index.search(&frames, Some(owner))
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(search).collect();
    }
    // Items taken one at a time from a shared counter: some search far longer than others.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<(usize, Vec<LocalMatch>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(k) else {
                            break;
                        };
                        mine.push((k, search(item)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, m)| m).collect()
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no folder"))?;
    std::fs::create_dir_all(dir)?;
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(".links.json.{}.{n}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Items with a `local` record among `changes`, each once, in change order.
fn items_with_local(changes: &[(u64, ItemId, String)]) -> Vec<ItemId> {
    let mut seen = HashSet::new();
    changes
        .iter()
        .filter(|(_, item, alg)| Kind::parse(alg) == Some(Kind::Local) && seen.insert(item.clone()))
        .map(|(_, item, _)| item.clone())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(n: u8) -> ItemId {
        ItemId::parse(&format!("01J{:0>23}", n)).unwrap()
    }

    #[test]
    fn links_reverse_and_survive_the_file() {
        let a = id(1);
        let link = Link {
            other: id(2),
            this_match: 0.75,
            other_match: 0.5,
            frames: 3,
            inliers: 40,
            // a shown at 40% in b's top left corner
            homography: [0.4, 0.0, 20.0, 0.0, 0.4, 20.0, 0.0, 0.0, 1.0],
            this_size: (640, 360),
            other_size: (640, 360),
            mirrored: false,
            segment: (0.0, 4.0, 2.0, 6.0),
        };
        assert_eq!(link.transform(), "picture-in-picture at 40% top-left");
        let back = link.reversed(a.clone()).unwrap();
        assert_eq!(back.other, a);
        assert_eq!(back.transform(), "crop 40% top-left");
        assert_eq!((back.this_match, back.other_match), (0.5, 0.75));
        assert_eq!(back.segment, (2.0, 6.0, 0.0, 4.0));
        assert!(link.counts(0.6) && !back.counts(0.8));
        let (a2, again) = Link::from_file(&link.to_file(&a)).unwrap();
        assert_eq!((a2, again), (a.clone(), link.clone()));
        // A file written and read back holds both directions.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LINKS_FILE);
        let mut links = Links {
            through: 9,
            ..Links::default()
        };
        links.put(&a, link.clone());
        links.put(&id(2), back.clone());
        links.save(&path);
        let read = Links::read(&path).unwrap();
        assert_eq!(read.through, 9);
        assert_eq!(read.of(&a), [link]);
        assert_eq!(read.of(&id(2))[0].transform(), "crop 40% top-left");
        // Made by an earlier search, damaged or of another generation: not trusted.
        let saved = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, saved.replace(LAYOUT, "athar-links 1")).unwrap();
        assert!(Links::read(&path).is_none());
        std::fs::write(
            &path,
            "{\"layout\": \"athar-links 1\", \"generation\": \"(local 0:\"}",
        )
        .unwrap();
        assert!(Links::read(&path).is_none());
        std::fs::write(&path, "not json").unwrap();
        assert!(Links::read(&path).is_none());
    }
}
