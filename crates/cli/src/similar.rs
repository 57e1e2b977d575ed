//! `athar similar` and `athar clusters`: copies of the same footage across the archive.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use athar_core::{Catalog, EventDetails, Item};
use athar_media::pdq::{self, PdqHash};
use athar_media::similar::{Index, Match};
use athar_media::variants::{self, VariantHash, VariantIndex};
use athar_media::vpdq::{self, VpdqFrame};
use serde_json::json;

/// The archive's fingerprints, indexed; `items[owner]` is the item behind each owner number.
pub struct Archived {
    pub index: Index,
    /// Frame variants (borders removed, mirrored, cropped) of the videos.
    pub variants: VariantIndex,
    pub items: Vec<Item>,
    pub frames: Vec<Vec<VpdqFrame>>,
    pub frame_variants: Vec<Vec<VariantHash>>,
}

impl Archived {
    /// Items sharing footage with `query` (reference hashes and variants), best first.
    pub fn search(
        &self,
        query: &[VpdqFrame],
        query_variants: &[VariantHash],
        exclude: Option<u32>,
    ) -> Vec<Match> {
        variants::search(&self.index, &self.variants, query, query_variants, exclude)
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

/// Indexes every fingerprint in the catalog.
pub fn load(catalog: &dyn Catalog) -> anyhow::Result<Archived> {
    let mut index = Index::new();
    let mut variant_index = VariantIndex::new();
    let mut items = Vec::new();
    let mut all_frames = Vec::new();
    let mut all_variants = Vec::new();
    for item in catalog.items()? {
        let prints = catalog.fingerprints(&item.id)?;
        let owner = items.len() as u32;
        let mut frames = Vec::new();
        let mut extra = Vec::new();
        for f in &prints {
            match f.algorithm.as_str() {
                "pdq" => {
                    if let Some((q, variants)) = pdq_record(&f.data) {
                        index.add_image(owner, q, &variants);
                        frames.push(VpdqFrame {
                            frame_number: 0,
                            quality: q,
                            hash: variants[0],
                            timestamp: 0.0,
                        });
                    }
                }
                "vpdq" => {
                    frames = f
                        .data
                        .lines()
                        .filter_map(|l| VpdqFrame::parse_line(l).ok())
                        .collect();
                    index.add_video(owner, &frames);
                }
                variants::ALGORITHM => extra = variants::parse_lines(&f.data),
                _ => {}
            }
        }
        variant_index.add_video(owner, &frames, &extra);
        items.push(item);
        all_frames.push(frames);
        all_variants.push(extra);
    }
    Ok(Archived {
        index,
        variants: variant_index,
        items,
        frames: all_frames,
        frame_variants: all_variants,
    })
}

/// Fingerprints a file that is not in the archive (it is not ingested): its frame hashes and,
/// for a video, their variants.
pub fn fingerprint_file(path: &Path) -> anyhow::Result<(Vec<VpdqFrame>, Vec<VariantHash>)> {
    let mut head = vec![0u8; 8192];
    let n = std::io::Read::read(
        &mut std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        &mut head,
    )?;
    let media_type = athar_core::media_type::detect(&head[..n], n as u64);
    if media_type.starts_with("image/") {
        let r = pdq::hash_image_file(path)?;
        Ok((
            vec![VpdqFrame {
                frame_number: 0,
                quality: r.quality,
                hash: r.hash,
                timestamp: 0.0,
            }],
            Vec::new(),
        ))
    } else {
        Ok(vpdq::hash_video_with_variants(
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

pub fn similar(
    catalog: &dyn Catalog,
    target: &str,
    min_share: f64,
    json: bool,
) -> anyhow::Result<()> {
    let archived = load(catalog)?;
    let path = Path::new(target);
    let ((query, query_variants), exclude) = if path.is_file() {
        (fingerprint_file(path)?, None)
    } else {
        let item = catalog.resolve(target)?;
        let owner = archived
            .items
            .iter()
            .position(|i| i.id == item.id)
            .map(|o| o as u32);
        let (frames, extra) = owner
            .map(|o| {
                (
                    archived.frames[o as usize].clone(),
                    archived.frame_variants[o as usize].clone(),
                )
            })
            .unwrap_or_default();
        if frames.is_empty() {
            anyhow::bail!(
                "item {} has no fingerprints yet (run `athar jobs --run`)",
                item.id
            );
        }
        ((frames, extra), owner)
    };
    let matches: Vec<Match> = archived
        .search(&query, &query_variants, exclude)
        .into_iter()
        .filter(|m| counts(m, min_share))
        .collect();
    let rows: Vec<serde_json::Value> = matches
        .iter()
        .map(|m| {
            let item = &archived.items[m.owner as usize];
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
            json!({ "query_frames": query.len(), "matches": rows })
        );
        return Ok(());
    }
    if matches.is_empty() {
        println!("No item shares footage with {target}.");
    }
    for m in &matches {
        let item = &archived.items[m.owner as usize];
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

pub fn clusters(catalog: &dyn Catalog, min_share: f64, json: bool) -> anyhow::Result<()> {
    let archived = load(catalog)?;
    let n = archived.items.len();
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
    for (owner, frames) in archived.frames.iter().enumerate() {
        if frames.is_empty() {
            continue;
        }
        let extra = &archived.frame_variants[owner];
        for m in archived.search(frames, extra, Some(owner as u32)) {
            if counts(&m, min_share) {
                let (a, b) = (
                    find(&mut parent, owner),
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
            let item = &archived.items[m];
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
                m["item"].as_str().unwrap_or_default(),
                m["preserved"].as_str().unwrap_or_default(),
                m["creation_time"].as_str().unwrap_or("-"),
                m["sources"]
            );
        }
    }
    Ok(())
}
