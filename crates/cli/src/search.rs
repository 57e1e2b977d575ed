//! `athar search`, over the search index that `athar_store::search_index` keeps up to date.

use std::io::Write;

use crate::output::term;

use athar_search::{Query, SearchIndex};
use athar_store::search_index::{check_filters, index_dir, update};
use athar_store::Archive;

/// `athar search`.
#[allow(clippy::too_many_arguments)]
pub fn command(
    archive: &Archive,
    query: &str,
    case: Option<String>,
    kind: Option<String>,
    date: Option<String>,
    place: Option<String>,
    violation: Option<String>,
    verification: Option<String>,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let date = check_filters(kind.as_deref(), date.as_deref())
        .map_err(|e| crate::records::input_error(&format!("--{}", e.field), e.message))?;
    update(archive)?;
    let index = SearchIndex::open_or_create(&index_dir(&archive.work_dir()))?;
    let results = index.search(&Query {
        text: query.to_owned(),
        cases: None,
        kind,
        case,
        date,
        place,
        violation,
        verification,
        limit,
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let v = athar_store::search_index::results_json(&results);
        writeln!(out, "{v}")?;
        return Ok(());
    }
    for h in &results.hits {
        writeln!(
            out,
            "{:<9} {}  {:<12} {}",
            term(&h.kind),
            term(&h.id),
            term(h.case.as_deref().unwrap_or("-")),
            term(&h.title)
        )?;
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
        results.hits.len(),
        facet("kind", &results.facets.kind),
        facet("case", &results.facets.case),
        facet("violation", &results.facets.violation),
        facet("verification", &results.facets.verification)
    )?;
    Ok(())
}
