//! `athar search`, over the search index that `athar_store::search_index` keeps up to date.

use std::io::Write;

use crate::output::term;

use athar_search::{Query, SearchIndex};
use athar_store::search_index::{check_filters, index_dir, private_index, update};
use athar_store::Archive;

/// What `athar search` looks for.
pub struct Filters {
    pub query: String,
    pub case: Option<String>,
    pub kind: Option<String>,
    pub date: Option<String>,
    pub place: Option<String>,
    pub violation: Option<String>,
    pub verification: Option<String>,
}

/// `athar search`: `shared` when this process holds the archive and may bring its index up
/// to date; otherwise the search runs on an index of its own (see [`private_index`]).
pub fn command(
    archive: &Archive,
    shared: bool,
    f: &Filters,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let date = check_filters(f.kind.as_deref(), f.date.as_deref())
        .map_err(|e| crate::records::input_error(&format!("--{}", e.field), e.message))?;
    let private = if shared {
        update(archive)?;
        None
    } else {
        Some(private_index(archive)?)
    };
    let dir = match &private {
        Some(p) => p.dir().to_path_buf(),
        None => index_dir(&archive.work_dir()),
    };
    let index = SearchIndex::open_or_create(&dir)?;
    let results = index.search(&Query {
        text: f.query.clone(),
        cases: None,
        kind: f.kind.clone(),
        case: f.case.clone(),
        date,
        place: f.place.clone(),
        violation: f.violation.clone(),
        verification: f.verification.clone(),
        limit,
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut v = athar_store::search_index::results_json(&results);
    athar_store::search_index::fold_persons(archive.catalog.as_ref(), &mut v)?;
    if json {
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let hits = v["hits"].as_array().cloned().unwrap_or_default();
    let text = |x: &serde_json::Value| x.as_str().unwrap_or("-").to_owned();
    for h in &hits {
        writeln!(
            out,
            "{:<9} {}  {:<12} {}",
            term(&text(&h["kind"])),
            term(&text(&h["id"])),
            term(&text(&h["case"])),
            term(&text(&h["title"]))
        )?;
        if let Some(names) = h["names"].as_array() {
            let names: Vec<String> = names.iter().map(text).collect();
            let records = h["same_as"].as_array().map_or(0, Vec::len);
            writeln!(
                out,
                "          one person in {records} records: {}",
                term(names.join(" · "))
            )?;
        }
    }
    let facet = |name: &str, v: &[(String, u64)]| {
        if v.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = v.iter().map(|(k, n)| format!("{} {n}", term(k))).collect();
        format!("\n  {name}: {}", parts.join(", "))
    };
    writeln!(
        out,
        "{} hit(s){}{}{}{}",
        hits.len(),
        facet("kind", &results.facets.kind),
        facet("case", &results.facets.case),
        facet("violation", &results.facets.violation),
        facet("verification", &results.facets.verification)
    )?;
    Ok(())
}
