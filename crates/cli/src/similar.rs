//! `athar similar` and `athar clusters`: copies of the same footage across the archive.
//!
//! The archive's PDQ and vPDQ hashes live in a similarity index ([`Index`]) persisted in
//! `index/similar.idx`: a derived cache. It records the last catalog fingerprint change it
//! covers; on load the fingerprints written since are added, and if one of them replaces an
//! item's earlier fingerprints (the item was analysed again) the index is rebuilt from the
//! catalog. A missing or damaged file is rebuilt the same way. Whoever loads it (the job
//! runner after fingerprint jobs, `similar`, `clusters`) saves it back when it changed,
//! atomically (temporary file, then rename); a failure to save is not an error.
//!
//! The hash index's kind follows `[similar] index` in `athar.toml` (`"mih"`, the default, or
//! `"compact"`); a saved index of the other kind is converted at load and saved again.
//!
//! Frame variants (the picture inside its borders, mirrored, cropped: `vpdq-variants`
//! fingerprints) are matched through a second index built in memory at load from the
//! catalog; only the reference-compatible hashes are persisted. Among them is each frame's
//! centre window, which the crop window grids of a video queried by `athar similar` look
//! for ([`athar_media::windows`]): the grids are computed from the query's decoded frames
//! (for an archived item, from its blob) and are not stored, so `clusters` and the server's
//! near-duplicates, which search with stored hashes only, do not link copies cropped at an
//! offset.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::Context as _;
use athar_core::{Catalog, EventDetails, Item, ItemId};
use athar_media::hamming::IndexKind;
use athar_media::pdq::{self, PdqHash};
use athar_media::similar::{Index, Match};
use athar_media::variants::{self, VariantHash, VariantIndex, VariantKind};
use athar_media::vpdq::{self, QueryHashes, VpdqFrame};
use athar_media::windows::{self, QueryGrid};
use athar_store::{Archive, Config, SimilarIndex};
use serde_json::json;

/// Where the index is kept, under the archive's root.
const INDEX_FILE: &str = "index/similar.idx";
const MAGIC: &[u8; 8] = b"ATHARSIM";

/// The archive's fingerprints, indexed; `owners[o]` is the item behind owner number `o`.
#[derive(Debug, Default)]
pub struct Archived {
    pub index: Index,
    pub owners: Vec<ItemId>,
    by_item: HashMap<ItemId, u32>,
    /// The last catalog fingerprint change the index covers.
    through: u64,
    /// Frame variants of the videos (not persisted: rebuilt at load).
    variants: VariantIndex,
    frame_variants: HashMap<u32, Vec<VariantHash>>,
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

    /// An owner's frame variants (empty for images and items analysed before variants).
    pub fn variants_of(&self, owner: u32) -> &[VariantHash] {
        self.frame_variants.get(&owner).map_or(&[], Vec::as_slice)
    }

    /// Builds the in-memory variant index from the catalog's `vpdq-variants` records.
    fn load_variants(&mut self, catalog: &dyn Catalog) -> anyhow::Result<()> {
        let mut index = VariantIndex::new();
        let mut all = HashMap::new();
        for (owner, item) in self.owners.iter().enumerate() {
            let owner = owner as u32;
            let extra = catalog
                .fingerprints(item)?
                .into_iter()
                .find(|f| f.algorithm == variants::ALGORITHM)
                .map(|f| variants::parse_lines(&f.data))
                .unwrap_or_default();
            index.add_video(owner, &self.index.frames_of(owner), &extra);
            if !extra.is_empty() {
                all.insert(owner, extra);
            }
        }
        self.variants = index;
        self.frame_variants = all;
        Ok(())
    }
    pub fn owner_of(&self, item: &ItemId) -> Option<u32> {
        self.by_item.get(item).copied()
    }

    fn item(&self, catalog: &dyn Catalog, owner: u32) -> anyhow::Result<Item> {
        let id = self
            .owners
            .get(owner as usize)
            .context("similarity index names an unknown owner")?;
        Ok(catalog.resolve(id.as_str())?)
    }

    /// Indexes an item's stored fingerprints under a new owner number.
    fn add(&mut self, catalog: &dyn Catalog, item: &ItemId) -> anyhow::Result<()> {
        let owner = u32::try_from(self.owners.len()).context("too many items to index")?;
        for f in &catalog.fingerprints(item)? {
            match f.algorithm.as_str() {
                "pdq" => {
                    if let Some((q, variants)) = pdq_record(&f.data) {
                        self.index.add_image(owner, q, &variants);
                    }
                }
                "vpdq" => {
                    let frames: Vec<VpdqFrame> = f
                        .data
                        .lines()
                        .filter_map(|l| VpdqFrame::parse_line(l).ok())
                        .collect();
                    self.index.add_video(owner, &frames);
                }
                _ => {}
            }
        }
        self.owners.push(item.clone());
        self.by_item.insert(item.clone(), owner);
        Ok(())
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

    fn read_from(r: &mut impl Read) -> anyhow::Result<Archived> {
        let mut head = [0u8; 24];
        r.read_exact(&mut head)?;
        anyhow::ensure!(&head[..8] == MAGIC, "not an Athar similarity index");
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
        for owner in 0..u32::try_from(count).context("owner count")? {
            r.read_exact(&mut id)?;
            let item = std::str::from_utf8(&id)
                .ok()
                .and_then(ItemId::parse)
                .context("damaged item id")?;
            out.by_item.insert(item.clone(), owner);
            out.owners.push(item);
        }
        anyhow::ensure!(out.by_item.len() == out.owners.len(), "repeated item id");
        out.index = Index::read_from(r)?;
        Ok(out)
    }

    fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().context("index path")?;
        std::fs::create_dir_all(dir)?;
        // Unique within the process too: the server's job runner and a search may save at
        // the same time (the last rename wins; either file is a valid index).
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
        Ok(result?)
    }
}

/// Reads a stored `pdq` record: the hash line, then the 8 dihedral hashes.
fn pdq_record(data: &str) -> Option<(u8, Vec<PdqHash>)> {
    let mut lines = data.lines();
    let (hex, q) = lines.next()?.split_once(' ')?;
    let first: PdqHash = hex.parse().ok()?;
    let quality: u8 = q.trim().parse().ok()?;
    let mut variants: Vec<PdqHash> = lines.filter_map(|l| l.trim().parse().ok()).collect();
    if variants.len() != 8 {
        variants = vec![first];
    }
    Some((quality, variants))
}

/// The hash index kind the archive's configuration asks for.
pub fn index_kind(config: &Config) -> IndexKind {
    match config.similar.index.unwrap_or_default() {
        SimilarIndex::Mih => IndexKind::Mih,
        SimilarIndex::Compact => IndexKind::Compact,
    }
}

/// Loads the archive's similarity index, bringing it up to date with the catalog and to the
/// configured kind (and saving it back when it changed).
pub fn load(archive: &Archive) -> anyhow::Result<Archived> {
    let catalog: &dyn Catalog = &archive.catalog;
    let mut archived = up_to_date(&archive.root, index_kind(&archive.config), catalog)?;
    archived.load_variants(catalog)?;
    Ok(archived)
}

/// Brings the saved similarity index under `root` up to date with `catalog` (any
/// connection to the archive's catalog: the job runner's update needs no writer) and saves
/// it when it changed; the frame variants, built in memory at each load, are not read.
pub fn update(root: &Path, kind: IndexKind, catalog: &dyn Catalog) -> anyhow::Result<()> {
    up_to_date(root, kind, catalog).map(drop)
}

/// The saved index brought up to date with the catalog and to `kind`, saved back when it
/// changed; its frame variants not loaded.
fn up_to_date(root: &Path, kind: IndexKind, catalog: &dyn Catalog) -> anyhow::Result<Archived> {
    let empty = || Archived {
        index: Index::with_kind(kind),
        ..Archived::default()
    };
    let path = root.join(INDEX_FILE);
    let mut archived = std::fs::File::open(&path)
        .ok()
        .and_then(|f| Archived::read_from(&mut BufReader::with_capacity(1 << 20, f)).ok())
        .unwrap_or_else(empty);
    let mut changed = false;
    if archived.index.kind() != kind {
        archived.index.set_kind(kind);
        changed = true;
    }
    let mut changes = catalog.fingerprint_changes(archived.through)?;
    let hashed = |alg: &str| alg == "pdq" || alg == "vpdq";
    let replaced = changes
        .iter()
        .any(|(_, item, alg)| hashed(alg) && archived.owner_of(item).is_some());
    if replaced {
        archived = empty();
        changes = catalog.fingerprint_changes(0)?;
    }
    if let Some(last) = changes.last().map(|c| c.0) {
        for (_, item, alg) in &changes {
            if hashed(alg) && archived.owner_of(item).is_none() {
                archived.add(catalog, item)?;
            }
        }
        archived.through = last;
        changed = true;
    }
    if changed {
        // A cache: an archive on read-only media is searched all the same.
        let _ = archived.save(&path);
    }
    Ok(archived)
}

/// Fingerprints a file that is not in the archive (it is not ingested): its frame hashes and,
/// for a video, their variants and crop window grids.
pub fn fingerprint_file(path: &Path) -> anyhow::Result<QueryHashes> {
    let mut head = vec![0u8; 8192];
    let n = std::io::Read::read(
        &mut std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        &mut head,
    )?;
    let media_type = athar_core::media_type::detect(&head[..n], n as u64);
    if media_type.starts_with("image/") {
        let r = pdq::hash_image_file(path)?;
        Ok(QueryHashes {
            frames: vec![VpdqFrame {
                frame_number: 0,
                quality: r.quality,
                hash: r.hash,
                timestamp: 0.0,
            }],
            ..QueryHashes::default()
        })
    } else {
        Ok(vpdq::hash_video_for_query(
            path,
            &vpdq::VpdqOptions::default(),
        )?)
    }
}

/// Whether a match is worth listing.
pub fn counts(m: &Match, min_share: f64) -> bool {
    m.query_match.max(m.item_match) >= min_share
}

fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

pub fn similar(archive: &Archive, target: &str, min_share: f64, json: bool) -> anyhow::Result<()> {
    let catalog: &dyn Catalog = &archive.catalog;
    let blobs = &archive.blobs;
    let archived = load(archive)?;
    let path = Path::new(target);
    let (query, exclude) = if path.is_file() {
        (fingerprint_file(path)?, None)
    } else {
        let item = catalog.resolve(target)?;
        let Some(owner) = archived.owner_of(&item.id) else {
            anyhow::bail!(
                "item {} has no fingerprints yet (run `athar jobs --run`)",
                item.id
            );
        };
        // The crop window grids are not stored: a video's are laid over its blob's frames
        // again (the stored hashes of those frames are the same).
        let grids = if item.media_type.starts_with("video/")
            && archived.variants.of_kind(VariantKind::Window).is_some()
        {
            let blob = blobs.path_of(&item.sha256);
            vpdq::hash_video_for_query(&blob, &vpdq::VpdqOptions::default())
                .with_context(|| format!("laying crop windows over item {}", item.id))?
                .grids
        } else {
            Vec::new()
        };
        (
            QueryHashes {
                frames: archived.index.frames_of(owner),
                variants: archived.variants_of(owner).to_vec(),
                grids,
            },
            Some(owner),
        )
    };
    let matches: Vec<(Match, Item)> = archived
        .search(&query.frames, &query.variants, &query.grids, exclude)
        .into_iter()
        .filter(|m| counts(m, min_share))
        .map(|m| {
            let item = archived.item(catalog, m.owner)?;
            Ok((m, item))
        })
        .collect::<anyhow::Result<_>>()?;
    let rows: Vec<serde_json::Value> = matches
        .iter()
        .map(|(m, item)| {
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
        })
        .collect();
    if json {
        println!(
            "{}",
            json!({ "query_frames": query.frames.len(), "matches": rows })
        );
        return Ok(());
    }
    if matches.is_empty() {
        println!(
            "No item shares footage with {}.",
            crate::output::term(target)
        );
    }
    for (m, item) in &matches {
        let mut line = format!(
            "{}  {}  query {:.0}%  item {:.0}%  distance {}",
            item.id,
            &item.sha256.to_hex()[..12],
            m.query_match * 100.0,
            m.item_match * 100.0,
            m.distance
        );
        if m.transform != "original" {
            line.push_str(&format!(" ({})", m.transform));
        }
        for s in m.segments.iter().take(2) {
            line.push_str(&format!(
                "  [query {}–{} ↔ item {}–{}]",
                clock(s.query_start),
                clock(s.query_end),
                clock(s.item_start),
                clock(s.item_end)
            ));
        }
        println!("{line}");
    }
    Ok(())
}

pub fn clusters(archive: &Archive, min_share: f64, json: bool) -> anyhow::Result<()> {
    let catalog: &dyn Catalog = &archive.catalog;
    let archived = load(archive)?;
    let n = archived.owners.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        let mut y = x;
        while p[y] != r {
            let next = p[y];
            p[y] = r;
            y = next;
        }
        r
    }
    for (owner, frames) in archived.index.owner_frames() {
        for m in archived.search(&frames, archived.variants_of(owner), &[], Some(owner)) {
            if counts(&m, min_share) {
                let (a, b) = (
                    find(&mut parent, owner as usize),
                    find(&mut parent, m.owner as usize),
                );
                parent[a] = b;
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = Vec::new();
    for members in groups.into_values().filter(|g| g.len() > 1) {
        let mut rows = Vec::new();
        for &m in &members {
            let item = &archived.item(catalog, m as u32)?;
            let events = catalog.events(&item.id)?;
            let mut sources = Vec::new();
            for e in &events {
                if let EventDetails::Sighting(s) = &e.details {
                    let what = s.source.clone().unwrap_or_else(|| s.original_path.clone());
                    if !sources.contains(&what) {
                        sources.push(what);
                    }
                }
            }
            let created: Option<String> = catalog
                .fingerprints(&item.id)?
                .iter()
                .find(|f| f.algorithm == "metadata")
                .and_then(|f| serde_json::from_str::<serde_json::Value>(&f.data).ok())
                .and_then(|v| v["creation_time"].as_str().map(str::to_owned));
            rows.push((item.clone(), created, sources));
        }
        let earliest_custody = rows
            .iter()
            .min_by(|a, b| a.0.created_at.cmp(&b.0.created_at))
            .map(|r| r.0.id.clone());
        let earliest_created = rows
            .iter()
            .filter(|r| r.1.is_some())
            .min_by(|a, b| a.1.cmp(&b.1))
            .map(|r| r.0.id.clone());
        out.push(json!({
            "earliest_by_custody": earliest_custody,
            "earliest_by_creation_time": earliest_created,
            "members": rows.iter().map(|(item, created, sources)| json!({
                "item": item.id, "sha256": item.sha256, "preserved": item.created_at,
                "creation_time": created, "sources": sources,
            })).collect::<Vec<_>>(),
        }));
    }
    if json {
        println!("{}", json!({ "clusters": out }));
        return Ok(());
    }
    if out.is_empty() {
        println!("No copies of the same footage found.");
    }
    for (i, c) in out.iter().enumerate() {
        println!(
            "Cluster {} ({} items): earliest preserved {}, earliest created {}",
            i + 1,
            c["members"].as_array().map_or(0, Vec::len),
            c["earliest_by_custody"],
            c["earliest_by_creation_time"]
        );
        for m in c["members"].as_array().into_iter().flatten() {
            println!(
                "  {}  preserved {}  created {}  from {}",
                crate::output::term(m["item"].as_str().unwrap_or_default()),
                crate::output::term(m["preserved"].as_str().unwrap_or_default()),
                crate::output::term(m["creation_time"].as_str().unwrap_or("-")),
                m["sources"]
            );
        }
    }
    Ok(())
}
