//! `athar similar` and `athar clusters`: copies of the same footage across the archive,
//! found through the similarity index of `athar_analysis::similarity` and the links made
//! through local features (`athar_analysis::links`: picture-in-picture, rotated, deeply
//! cropped, filmed off a screen).

use std::collections::BTreeMap;
use std::path::Path;

use athar_analysis::links::Link;
use athar_analysis::similarity::{self, Archived, Similarity};
use athar_analysis::Kind;
use athar_core::{label, Catalog, EventDetails, Item};
use athar_media::similar::Match;
use athar_media::vpdq::QueryHashes;
use athar_store::Archive;
use serde_json::json;

/// The archive's similarity index, up to date with its catalog.
fn open(archive: &Archive) -> anyhow::Result<Similarity> {
    Ok(Similarity::open(
        &archive.work_dir(),
        similarity::index_kind(&archive.config),
        archive.catalog.as_ref(),
    )?)
}

/// The item behind an owner number of the index.
fn item_at(archived: &Archived, catalog: &dyn Catalog, owner: u32) -> anyhow::Result<Item> {
    Ok(catalog.resolve(archived.item_of(owner)?.as_str())?)
}

fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

pub fn similar(archive: &Archive, target: &str, min_share: f64, json: bool) -> anyhow::Result<()> {
    let catalog: &dyn Catalog = archive.catalog.as_ref();
    let index = open(archive)?;
    let archived = index.read()?;
    let path = Path::new(target);
    let (query, exclude, links) = if path.is_file() {
        let query = similarity::fingerprint_file(path)?;
        let links = index.search_local(catalog, &query.local)?;
        (query, None, links)
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
        let grids = similarity::grids_of(&archived, archive.blobs.as_ref(), &item)?;
        (
            QueryHashes {
                frames: archived.index.frames_of(owner),
                variants: archived.variants_of(owner).to_vec(),
                grids,
                local: Vec::new(),
            },
            Some(owner),
            index.links_of(&item.id)?,
        )
    };
    let matches: Vec<(Match, Item)> = archived
        .search(&query.frames, &query.variants, &query.grids, exclude)
        .into_iter()
        .filter(|m| similarity::counts(m, min_share))
        .map(|m| {
            let item = item_at(&archived, catalog, m.owner)?;
            Ok((m, item))
        })
        .collect::<anyhow::Result<_>>()?;
    let links: Vec<(Item, &Link)> = links
        .iter()
        .filter(|l| l.counts(min_share))
        .map(|l| Ok((catalog.resolve(l.other.as_str())?, l)))
        .collect::<anyhow::Result<_>>()?;
    let mut labels = std::collections::HashMap::new();
    for item in matches
        .iter()
        .map(|m| &m.1)
        .chain(links.iter().map(|l| &l.0))
    {
        let events = catalog.events(&item.id)?;
        labels.insert(item.id.clone(), label::label(catalog, item, &events)?);
    }
    let mut rows: Vec<(athar_core::ItemId, serde_json::Value)> = matches
        .iter()
        .map(|(m, item)| (item.id.clone(), similarity::match_json(item, m)))
        .collect();
    let whole_frame = rows.len();
    similarity::with_links(&mut rows, links.clone());
    for (id, row) in &mut rows {
        row["label"] = json!(labels.get(id));
    }
    if json {
        let rows: Vec<&serde_json::Value> = rows.iter().map(|r| &r.1).collect();
        println!(
            "{}",
            json!({ "query_frames": query.frames.len(), "matches": rows })
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!(
            "No item shares footage with {}.",
            crate::output::term(target)
        );
    }
    for (m, item) in &matches {
        let mut line = format!(
            "{}  {}  {}  query {:.0}%  item {:.0}%  distance {}",
            item.id,
            &item.sha256.to_hex()[..12],
            crate::output::term(labels.get(&item.id).map_or("", |l| l.text.as_str())),
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
        if let Some((_, l)) = links.iter().find(|(i, _)| i.id == item.id) {
            line.push_str(&format!("  also: {}", l.transform()));
        }
        println!("{line}");
    }
    // Links to items no whole-frame hash matched.
    for (id, _) in &rows[whole_frame..] {
        let Some((item, l)) = links.iter().find(|(i, _)| i.id == *id) else {
            continue;
        };
        println!(
            "{}  {}  {}  query {:.0}%  item {:.0}%  {} ({} frames, {} inliers)  [query {}–{} ↔ item {}–{}]",
            item.id,
            &item.sha256.to_hex()[..12],
            crate::output::term(labels.get(&item.id).map_or("", |l| l.text.as_str())),
            l.this_match * 100.0,
            l.other_match * 100.0,
            l.transform(),
            l.frames,
            l.inliers,
            clock(l.segment.0),
            clock(l.segment.1),
            clock(l.segment.2),
            clock(l.segment.3)
        );
    }
    Ok(())
}

pub fn clusters(archive: &Archive, min_share: f64, json: bool) -> anyhow::Result<()> {
    let catalog: &dyn Catalog = archive.catalog.as_ref();
    let index = open(archive)?;
    let archived = index.read()?;
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
    // Links through local features, made when the items were indexed.
    for (item, links) in index.links()?.all() {
        let Some(a) = archived.owner_of(item) else {
            continue;
        };
        for l in links.iter().filter(|l| l.counts(min_share)) {
            if let Some(b) = archived.owner_of(&l.other) {
                let (a, b) = (find(&mut parent, a as usize), find(&mut parent, b as usize));
                parent[a] = b;
            }
        }
    }
    // Every owner's frames at once (one pass over the index).
    for (owner, frames) in archived.index.owner_frames() {
        for m in archived.search(&frames, archived.variants_of(owner), &[], Some(owner)) {
            if similarity::counts(&m, min_share) {
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
            let item = &item_at(&archived, catalog, m as u32)?;
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
                .find(|f| Kind::parse(&f.algorithm) == Some(Kind::Metadata))
                .and_then(|f| serde_json::from_str::<serde_json::Value>(&f.data).ok())
                .and_then(|v| v["creation_time"].as_str().map(str::to_owned));
            let label = label::label(catalog, item, &events)?;
            rows.push((item.clone(), created, sources, label));
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
            "members": rows.iter().map(|(item, created, sources, label)| json!({
                "item": item.id, "label": label, "sha256": item.sha256, "preserved": item.created_at,
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
                "  {}  {}  preserved {}  created {}  from {}",
                crate::output::term(m["item"].as_str().unwrap_or_default()),
                crate::output::term(m["label"]["text"].as_str().unwrap_or_default()),
                crate::output::term(m["preserved"].as_str().unwrap_or_default()),
                crate::output::term(m["creation_time"].as_str().unwrap_or("-")),
                m["sources"]
            );
        }
    }
    Ok(())
}
