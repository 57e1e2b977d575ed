//! The similarity index over the archive's fingerprints: which items share footage.
//!
//! The archive's PDQ and vPDQ hashes live in an [`Index`] persisted in
//! `index/similar.idx`: a derived cache. It records the last catalog fingerprint change it
//! covers. [`Similarity::open`] reads it and adds the fingerprints written since; if one
//! of them replaces an item's earlier fingerprints (the item was analysed again) the index
//! is rebuilt from the catalog. A missing or damaged file is rebuilt the same way. The
//! file is saved back when it changed, atomically (temporary file, then rename); a failure
//! to save is not an error (an archive on read-only media is searched all the same).
//!
//! A [`Similarity`] is long-lived: the server keeps one and [`Similarity::catch_up`]
//! brings it up to date after fingerprint jobs, reading only the new fingerprints (all of
//! them again only when an indexed item's hashes were replaced; the frame variants alone
//! when variants were made again). A search of an indexed item reads the index in memory,
//! not the catalog's fingerprints.
//!
//! The hash index's kind follows `[similar] index` in `athar.toml` (`"mih"`, the default,
//! or `"compact"`); a saved index of the other kind is converted at load and saved again.
//!
//! Frame variants (the picture inside its borders, mirrored, cropped: `vpdq-variants`
//! records) are matched through a second index built in memory from the catalog; only
//! the reference-compatible hashes are persisted. Among them is each frame's centre
//! window, which the crop window grids of a queried video look for
//! ([`athar_media::windows`]): the grids are computed from the query's decoded frames (for
//! an archived item, from its blob) and are not stored.
//!
//! Beside the hashes, a [`Similarity`] keeps the archive's [`Links`]: copies found through
//! local features (picture-in-picture, rotated, deeply cropped at any offset, filmed off a
//! screen), made when the `local` records are indexed ([`Similarity::open`],
//! [`Similarity::refresh_file`], [`Similarity::catch_up`]) and kept in `index/links.json`,
//! so a search of an archived item, clusters and the server's near-duplicates read them
//! without a query ([`crate::links`]).

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use athar_core::{Catalog, Fingerprint, Item, ItemId};
use athar_media::hamming::IndexKind;
use athar_media::local_match::LocalFrame;
use athar_media::pdq::{self, PdqHash};
use athar_media::similar::{Index, Match};
use athar_media::variants::{self, VariantHash, VariantIndex, VariantKind};
use athar_media::vpdq::{self, QueryHashes, VpdqFrame};
use athar_media::windows::{self, QueryGrid};
use athar_store::{Config, SimilarIndex};
use serde_json::{json, Value};

use crate::links::{Link, Links};
use crate::{AnalysisError, Kind};

/// Where the index is kept, under the archive's root.
const INDEX_FILE: &str = "index/similar.idx";
const MAGIC: &[u8; 8] = b"ATHARSIM";

fn index_error(e: impl std::fmt::Display) -> AnalysisError {
    AnalysisError::Index(e.to_string())
}

/// The archive's fingerprints, indexed; `owners[o]` is the item behind owner number `o`.
#[derive(Debug, Default)]
pub struct Archived {
    pub index: Index,
    pub owners: Vec<ItemId>,
    by_item: HashMap<ItemId, u32>,
    /// The last catalog fingerprint change the index covers.
    through: u64,
    /// Frame variants of the videos (not persisted: built from the catalog).
    variants: VariantIndex,
    frame_variants: HashMap<u32, Vec<VariantHash>>,
}

/// One item's searched fingerprints, read from the catalog, ready to be indexed.
#[derive(Debug)]
struct Prints {
    item: ItemId,
    image: Option<(u8, Vec<PdqHash>)>,
    frames: Option<Vec<VpdqFrame>>,
    variants: Vec<VariantHash>,
}

impl Prints {
    fn read(catalog: &dyn Catalog, item: &ItemId) -> Result<Prints, AnalysisError> {
        let mut p = Prints {
            item: item.clone(),
            image: None,
            frames: None,
            variants: Vec::new(),
        };
        for f in catalog.fingerprints(item)? {
            p.take(&f);
        }
        Ok(p)
    }

    fn take(&mut self, f: &Fingerprint) {
        match Kind::parse(&f.algorithm) {
            Some(Kind::Pdq) => self.image = pdq_record(&f.data),
            Some(Kind::Vpdq) => {
                self.frames = Some(
                    f.data
                        .lines()
                        .filter_map(|l| VpdqFrame::parse_line(l).ok())
                        .collect(),
                )
            }
            Some(Kind::VpdqVariants) => self.variants = variants::parse_lines(&f.data),
            Some(Kind::Metadata | Kind::Local) | None => {}
        }
    }
}

impl Archived {
    /// Items sharing footage with `query` (reference hashes and variants, and the crop
    /// window grids of sampled query frames when there are any), best first.
    pub fn search(
        &self,
        query: &[VpdqFrame],
        query_variants: &[VariantHash],
        grids: &[QueryGrid],
        exclude: Option<u32>,
    ) -> Vec<Match> {
        let frames = variants::search(&self.index, &self.variants, query, query_variants, exclude);
        match self.variants.of_kind(VariantKind::Window) {
            Some(stored) if !grids.is_empty() => {
                windows::merge(frames, windows::search(stored, grids, exclude))
            }
            _ => frames,
        }
    }

    /// Whether crop window grids of a query can find anything (some video has windows).
    pub fn has_windows(&self) -> bool {
        self.variants.of_kind(VariantKind::Window).is_some()
    }

    /// An owner's frame variants (empty for images and items analysed before variants).
    pub fn variants_of(&self, owner: u32) -> &[VariantHash] {
        self.frame_variants.get(&owner).map_or(&[], Vec::as_slice)
    }

    /// The owner number of an indexed item.
    pub fn owner_of(&self, item: &ItemId) -> Option<u32> {
        self.by_item.get(item).copied()
    }

    /// The item behind an owner number.
    pub fn item_of(&self, owner: u32) -> Result<&ItemId, AnalysisError> {
        self.owners
            .get(owner as usize)
            .ok_or_else(|| index_error("it names an unknown owner"))
    }

    /// Items sharing footage with the indexed item `owner`, found with its stored hashes
    /// and variants, that share at least `min_share` of their frames.
    pub fn near(&self, owner: u32, min_share: f64) -> Vec<Match> {
        self.search(
            &self.index.frames_of(owner),
            self.variants_of(owner),
            &[],
            Some(owner),
        )
        .into_iter()
        .filter(|m| counts(m, min_share))
        .collect()
    }

    /// Indexes an item's fingerprints under a new owner number (hashes, and the frame
    /// variants when `with_variants`).
    fn add(&mut self, p: Prints, with_variants: bool) -> Result<(), AnalysisError> {
        let owner = u32::try_from(self.owners.len()).map_err(|_| index_error("too many items"))?;
        if let Some((q, dihedral)) = &p.image {
            self.index.add_image(owner, *q, dihedral);
        }
        if let Some(frames) = &p.frames {
            self.index.add_video(owner, frames);
        }
        self.owners.push(p.item.clone());
        self.by_item.insert(p.item, owner);
        if with_variants {
            self.add_variants(owner, p.variants);
        }
        Ok(())
    }

    fn add_variants(&mut self, owner: u32, extra: Vec<VariantHash>) {
        self.variants
            .add_video(owner, &self.index.frames_of(owner), &extra);
        if !extra.is_empty() {
            self.frame_variants.insert(owner, extra);
        }
    }

    /// Builds the in-memory variant index from the catalog's `vpdq-variants` records.
    fn load_variants(&mut self, catalog: &dyn Catalog) -> Result<(), AnalysisError> {
        let (variants, frame_variants) = self.variant_parts(catalog)?;
        self.variants = variants;
        self.frame_variants = frame_variants;
        Ok(())
    }

    /// The variant index and each owner's variants, from the catalog's `vpdq-variants`
    /// records: the fingerprints of only the items that have such a record are read.
    #[allow(clippy::type_complexity)]
    fn variant_parts(
        &self,
        catalog: &dyn Catalog,
    ) -> Result<(VariantIndex, HashMap<u32, Vec<VariantHash>>), AnalysisError> {
        let with_variants: std::collections::HashSet<ItemId> = catalog
            .fingerprint_changes(0)?
            .into_iter()
            .filter(|(_, _, alg)| Kind::parse(alg) == Some(Kind::VpdqVariants))
            .map(|(_, item, _)| item)
            .collect();
        let mut index = VariantIndex::new();
        let mut all = HashMap::new();
        for (owner, item) in self.owners.iter().enumerate() {
            let owner = owner as u32;
            let extra = if with_variants.contains(item) {
                Prints::read(catalog, item)?.variants
            } else {
                Vec::new()
            };
            index.add_video(owner, &self.index.frames_of(owner), &extra);
            if !extra.is_empty() {
                all.insert(owner, extra);
            }
        }
        Ok((index, all))
    }

    fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(MAGIC)?;
        w.write_all(&self.through.to_le_bytes())?;
        w.write_all(&(self.owners.len() as u64).to_le_bytes())?;
        for id in &self.owners {
            w.write_all(id.as_str().as_bytes())?;
        }
        self.index.write_to(w)
    }

    fn read_from(r: &mut impl Read) -> Result<Archived, AnalysisError> {
        let mut head = [0u8; 24];
        r.read_exact(&mut head).map_err(index_error)?;
        if &head[..8] != MAGIC {
            return Err(index_error("not an Athar similarity index"));
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let (through, count) = (word(8), word(16));
        let mut out = Archived {
            through,
            ..Archived::default()
        };
        let mut id = [0u8; 26];
        for owner in 0..u32::try_from(count).map_err(|_| index_error("owner count"))? {
            r.read_exact(&mut id).map_err(index_error)?;
            let item = std::str::from_utf8(&id)
                .ok()
                .and_then(ItemId::parse)
                .ok_or_else(|| index_error("damaged item id"))?;
            out.by_item.insert(item.clone(), owner);
            out.owners.push(item);
        }
        if out.by_item.len() != out.owners.len() {
            return Err(index_error("repeated item id"));
        }
        out.index = Index::read_from(r).map_err(index_error)?;
        Ok(out)
    }

    fn save(&self, path: &Path) -> std::io::Result<()> {
        let dir = path
            .parent()
            .ok_or_else(|| std::io::Error::other("index path has no folder"))?;
        std::fs::create_dir_all(dir)?;
        // Unique within the process too: two updates may save at the same time (the last
        // rename wins; either file is a valid index).
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".similar.idx.{}.{n}", std::process::id()));
        let result = (|| {
            let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
            self.write_to(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Reads a stored `pdq` record: the hash line, then the 8 dihedral hashes.
fn pdq_record(data: &str) -> Option<(u8, Vec<PdqHash>)> {
    let mut lines = data.lines();
    let (hex, q) = lines.next()?.split_once(' ')?;
    let first: PdqHash = hex.parse().ok()?;
    let quality: u8 = q.trim().parse().ok()?;
    let mut dihedral: Vec<PdqHash> = lines.filter_map(|l| l.trim().parse().ok()).collect();
    if dihedral.len() != 8 {
        dihedral = vec![first];
    }
    Some((quality, dihedral))
}

/// The hash index kind an archive's configuration asks for.
pub fn index_kind(config: &Config) -> IndexKind {
    match config.similar.index.unwrap_or_default() {
        SimilarIndex::Mih => IndexKind::Mih,
        SimilarIndex::Compact => IndexKind::Compact,
    }
}

/// The similarity index of one archive, kept up to date: searches share it (read lock)
/// while [`Similarity::catch_up`] adds what fingerprint jobs made (write lock only to
/// insert what it has already read from the catalog).
#[derive(Debug)]
pub struct Similarity {
    path: PathBuf,
    kind: IndexKind,
    index: RwLock<Archived>,
    /// Copies found through local features, made as items are indexed.
    links: RwLock<Links>,
    /// One catch-up at a time.
    updating: Mutex<()>,
}

impl Similarity {
    /// The index of the archive at `root`, read from its file and brought up to date with
    /// `catalog` (any connection to the archive's catalog; read-only is enough), with the
    /// frame variants built.
    pub fn open(
        root: &Path,
        kind: IndexKind,
        catalog: &dyn Catalog,
    ) -> Result<Similarity, AnalysisError> {
        let path = root.join(INDEX_FILE);
        let mut archived = up_to_date(&path, kind, catalog)?;
        archived.load_variants(catalog)?;
        let links = Links::open(root, catalog)?;
        Ok(Similarity {
            path,
            kind,
            index: RwLock::new(archived),
            links: RwLock::new(links),
            updating: Mutex::new(()),
        })
    }

    /// Brings the index file of the archive at `root` up to date with `catalog` and saves
    /// it when it changed, without keeping it or building the frame variants (what a
    /// command that ran jobs leaves for the next search); the links of the items indexed
    /// since are made and saved too.
    pub fn refresh_file(
        root: &Path,
        kind: IndexKind,
        catalog: &dyn Catalog,
    ) -> Result<(), AnalysisError> {
        up_to_date(&root.join(INDEX_FILE), kind, catalog)?;
        Links::open(root, catalog).map(drop)
    }

    /// The links made through local features (others may read them at the same time; a
    /// catch-up that makes new ones waits).
    pub fn links(&self) -> Result<RwLockReadGuard<'_, Links>, AnalysisError> {
        self.links
            .read()
            .map_err(|_| index_error("poisoned by a panic"))
    }

    /// An item's links through local features.
    pub fn links_of(&self, item: &ItemId) -> Result<Vec<Link>, AnalysisError> {
        Ok(self.links()?.of(item).to_vec())
    }

    /// Items showing the pictures of a file's sampled frames (not an archived item's: its
    /// links are made already), verified.
    pub fn search_local(
        &self,
        catalog: &dyn Catalog,
        query: &[LocalFrame],
    ) -> Result<Vec<Link>, AnalysisError> {
        self.links
            .write()
            .map_err(|_| index_error("poisoned by a panic"))?
            .search(catalog, query)
    }

    /// The index, for searching (others may search at the same time; a catch-up waits).
    pub fn read(&self) -> Result<RwLockReadGuard<'_, Archived>, AnalysisError> {
        self.index
            .read()
            .map_err(|_| index_error("poisoned by a panic"))
    }

    /// Adds the fingerprints `catalog` holds that the index does not cover yet, and saves
    /// the file when it changed. Reads only those new fingerprints; rebuilds from the
    /// catalog when an indexed item's fingerprints were replaced. Returns whether it
    /// changed anything. The links of newly indexed items are made and saved too.
    pub fn catch_up(&self, catalog: &dyn Catalog) -> Result<bool, AnalysisError> {
        let _one = self
            .updating
            .lock()
            .map_err(|_| index_error("poisoned by a panic"))?;
        let hashes = self.catch_up_hashes(catalog)?;
        let links = {
            let mut links = self
                .links
                .write()
                .map_err(|_| index_error("poisoned by a panic"))?;
            let changed = links.catch_up(catalog)?;
            if changed {
                if let Some(root) = self.path.parent().and_then(Path::parent) {
                    links.save(&root.join(crate::links::LINKS_FILE));
                }
            }
            changed
        };
        Ok(hashes || links)
    }

    /// [`Similarity::catch_up`] of the hashes and frame variants.
    fn catch_up_hashes(&self, catalog: &dyn Catalog) -> Result<bool, AnalysisError> {
        let update = {
            let current = self.read()?;
            let changes = catalog.fingerprint_changes(current.through)?;
            let Some(last) = changes.last().map(|c| c.0) else {
                return Ok(false);
            };
            if replaces(&current, &changes, Kind::is_indexed) {
                drop(current);
                let mut fresh = rebuild(self.kind, catalog)?;
                fresh.load_variants(catalog)?;
                Update::Rebuilt(Box::new(fresh))
            } else {
                let mut prints = Vec::new();
                for item in new_items(&current, &changes) {
                    prints.push(Prints::read(catalog, &item)?);
                }
                // Frame variants made again (a newer generation) for indexed videos: the
                // variant index is built again; the hashes stay.
                let variants = if replaces(&current, &changes, |k| k == Kind::VpdqVariants) {
                    Some(current.variant_parts(catalog)?)
                } else {
                    None
                };
                Update::Added {
                    through: last,
                    prints,
                    variants,
                }
            }
        };
        let hashes_changed = {
            let mut index = self
                .index
                .write()
                .map_err(|_| index_error("poisoned by a panic"))?;
            match update {
                Update::Rebuilt(fresh) => {
                    *index = *fresh;
                    true
                }
                Update::Added {
                    through,
                    prints,
                    variants,
                } => {
                    if let Some((v, per_owner)) = variants {
                        index.variants = v;
                        index.frame_variants = per_owner;
                    }
                    let added = !prints.is_empty();
                    for p in prints {
                        index.add(p, true)?;
                    }
                    index.through = index.through.max(through);
                    added
                }
            }
        };
        // The file holds the hashes only: saved when they changed.
        if hashes_changed {
            let _ = self.read()?.save(&self.path);
        }
        Ok(true)
    }
}

/// What a catch-up found, read before the index is locked for writing.
enum Update {
    Rebuilt(Box<Archived>),
    Added {
        through: u64,
        prints: Vec<Prints>,
        variants: Option<(VariantIndex, HashMap<u32, Vec<VariantHash>>)>,
    },
}

/// The index file at `path` brought up to date with `catalog` and to `kind` (rebuilt when
/// missing, damaged or when an indexed item's hashes were replaced), saved when it
/// changed; its frame variants not built.
fn up_to_date(
    path: &Path,
    kind: IndexKind,
    catalog: &dyn Catalog,
) -> Result<Archived, AnalysisError> {
    let mut archived = std::fs::File::open(path)
        .ok()
        .and_then(|f| Archived::read_from(&mut BufReader::with_capacity(1 << 20, f)).ok())
        .unwrap_or_else(|| Archived {
            index: Index::with_kind(kind),
            ..Archived::default()
        });
    let mut changed = false;
    if archived.index.kind() != kind {
        archived.index.set_kind(kind);
        changed = true;
    }
    let changes = catalog.fingerprint_changes(archived.through)?;
    if replaces(&archived, &changes, Kind::is_indexed) {
        archived = rebuild(kind, catalog)?;
        changed = true;
    } else if let Some(last) = changes.last().map(|c| c.0) {
        for item in new_items(&archived, &changes) {
            archived.add(Prints::read(catalog, &item)?, false)?;
        }
        archived.through = last;
        changed = true;
    }
    if changed {
        // A cache: an archive on read-only media is searched all the same.
        let _ = archived.save(path);
    }
    Ok(archived)
}

/// Whether `changes` replace records of the kinds `of` for an item already indexed.
fn replaces(archived: &Archived, changes: &[(u64, ItemId, String)], of: fn(Kind) -> bool) -> bool {
    changes
        .iter()
        .any(|(_, item, alg)| Kind::parse(alg).is_some_and(of) && archived.owner_of(item).is_some())
}

/// Items with new indexed hashes among `changes`, each once, in change order.
fn new_items(archived: &Archived, changes: &[(u64, ItemId, String)]) -> Vec<ItemId> {
    let mut seen = std::collections::HashSet::new();
    changes
        .iter()
        .filter(|(_, item, alg)| {
            Kind::parse(alg).is_some_and(Kind::is_indexed)
                && archived.owner_of(item).is_none()
                && seen.insert(item.clone())
        })
        .map(|(_, item, _)| item.clone())
        .collect()
}

/// A fresh index of every item's hashes in `catalog` (variants not built).
fn rebuild(kind: IndexKind, catalog: &dyn Catalog) -> Result<Archived, AnalysisError> {
    let mut archived = Archived {
        index: Index::with_kind(kind),
        ..Archived::default()
    };
    let changes = catalog.fingerprint_changes(0)?;
    for item in new_items(&archived, &changes) {
        archived.add(Prints::read(catalog, &item)?, false)?;
    }
    archived.through = changes.last().map_or(0, |c| c.0);
    Ok(archived)
}

/// Fingerprints a file that is not in the archive (it is not ingested): its frame hashes,
/// its local features and, for a video, their variants and crop window grids.
pub fn fingerprint_file(path: &Path) -> Result<QueryHashes, AnalysisError> {
    let io = |source| AnalysisError::Io {
        path: path.to_owned(),
        source,
    };
    let media = |e: &dyn std::fmt::Display| AnalysisError::Media {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut head = vec![0u8; 8192];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io)?;
    let media_type = athar_core::media_type::detect(&head[..n], n as u64);
    if media_type.starts_with("image/") {
        let r = pdq::hash_image_file(path).map_err(|e| media(&e))?;
        let img = athar_media::image_rgb::load_rgb(path).map_err(|e| media(&e))?;
        let features = athar_media::local_match::frame_features(&img.pixels, img.width, img.height)
            .map_err(|e| media(&e))?;
        Ok(QueryHashes {
            frames: vec![VpdqFrame {
                frame_number: 0,
                quality: r.quality,
                hash: r.hash,
                timestamp: 0.0,
            }],
            local: vec![LocalFrame {
                frame_number: 0,
                timestamp: 0.0,
                features,
            }],
            ..QueryHashes::default()
        })
    } else {
        vpdq::hash_video_for_query(path, &vpdq::VpdqOptions::default()).map_err(|e| media(&e))
    }
}

/// The crop window grids laid over an archived video's frames (they are not stored), to
/// search for copies cropped at an offset; empty when no stored video has windows.
pub fn grids_of(
    archived: &Archived,
    blobs: &dyn athar_core::BlobStore,
    item: &Item,
) -> Result<Vec<QueryGrid>, AnalysisError> {
    if !item.media_type.starts_with("video/") || !archived.has_windows() {
        return Ok(Vec::new());
    }
    let blob = athar_core::LocalBlob::of(blobs, &item.sha256)?;
    vpdq::hash_video_for_query(blob.path(), &vpdq::VpdqOptions::default())
        .map(|q| q.grids)
        .map_err(|e| AnalysisError::Media {
            path: PathBuf::from(format!("item {}", item.id)),
            message: format!("laying crop windows: {e}"),
        })
}

/// Whether a match is worth listing.
pub fn counts(m: &Match, min_share: f64) -> bool {
    m.query_match.max(m.item_match) >= min_share
}

/// A match as the CLI's `--json` and the server's near-duplicates show it.
pub fn match_json(item: &Item, m: &Match) -> Value {
    json!({
        "item": item.id,
        "sha256": item.sha256,
        "media_type": item.media_type,
        "query_match": m.query_match,
        "item_match": m.item_match,
        "distance": m.distance,
        "transform": m.transform,
        "segments": m.segments,
    })
}

/// A link through local features as the CLI's `--json` and the server's near-duplicates
/// show it: the fields of [`match_json`] (`distance` null, `transform` in words, the
/// aligned segment) and `local`, how the pictures relate.
pub fn link_json(item: &Item, link: &Link) -> Value {
    json!({
        "item": item.id,
        "sha256": item.sha256,
        "media_type": item.media_type,
        "query_match": link.this_match,
        "item_match": link.other_match,
        "distance": null,
        "transform": link.transform(),
        "segments": [{
            "query_start": link.segment.0, "query_end": link.segment.1,
            "item_start": link.segment.2, "item_end": link.segment.3,
        }],
        "local": link.json(),
    })
}

/// Whole-frame matches' rows and links' rows together: a link to an item already matched
/// adds its `local` to that row, any other becomes a row of its own after them.
pub fn with_links(rows: &mut Vec<(ItemId, Value)>, links: Vec<(Item, &Link)>) {
    for (item, link) in links {
        match rows.iter_mut().find(|(id, _)| *id == item.id) {
            Some((_, row)) => row["local"] = link.json(),
            None => rows.push((item.id.clone(), link_json(&item, link))),
        }
    }
}
