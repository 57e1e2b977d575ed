//! `athar persons`: which person records of a case are one person, across the lists they
//! come from. The work is `athar_core::persons`'; this prints it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use athar_core::persons::{self, LinkOptions, LinkedPerson};
use athar_core::records::{self, Body, MatchDecision, RecordKind, StoredRecord};
use athar_core::Catalog;
use athar_store::Archive;
use clap::Subcommand;
use serde_json::json;

use crate::output::term;
use crate::records::{change_error, input_error};

/// `athar persons`.
#[derive(Subcommand, Debug, Clone)]
pub enum PersonsCommand {
    /// Link the person records of a case (each case when none is given) across their
    /// lists: pairs the model is sure of become `same` matches, pairs it is unsure of go to
    /// review; reviewers' decisions bind it and are never changed.
    Link {
        #[arg(long)]
        case: Option<String>,
        /// Pairs at or above this match probability are linked.
        #[arg(long, default_value_t = 0.9)]
        accept: f64,
        /// Pairs at or above this probability, and not linked, go to review.
        #[arg(long, default_value_t = 0.3)]
        review: f64,
        #[arg(long)]
        json: bool,
    },
    /// The persons the matches make: each with its records and the lists it appears in.
    List {
        #[arg(long)]
        case: Option<String>,
        /// `json` (one person a line), `csv` (one record a row), or a table (default).
        #[arg(long)]
        format: Option<String>,
        /// Only persons found in more than one record.
        #[arg(long)]
        linked: bool,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// How many persons appear in each combination of lists (the input of multiple
    /// systems estimation).
    Overlap {
        #[arg(long)]
        case: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The pairs waiting for a reviewer, most likely first, with each field's weight.
    Review {
        #[arg(long)]
        case: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// A match: the two records, the model's weights, the decision and its history (who
    /// decided what, when).
    Show {
        /// The match record (id or key).
        r#match: String,
        #[arg(long)]
        json: bool,
    },
    /// Decide a pair: `same`, `different`, or `review` to undo a decision.
    Decide {
        /// The match record (id or key).
        r#match: String,
        decision: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// The cases `case` names: that one, or every case holding person records.
fn cases(catalog: &dyn Catalog, case: Option<&str>) -> anyhow::Result<Vec<String>> {
    if let Some(c) = case {
        if !catalog.case_exists(c)? {
            return Err(anyhow::Error::new(athar_core::StoreError::NotFound(
                format!("no case {c:?}"),
            )));
        }
        return Ok(vec![c.to_owned()]);
    }
    let all: BTreeSet<String> = catalog
        .records(Some(RecordKind::Person), None)?
        .into_iter()
        .map(|s| s.record.case)
        .collect();
    Ok(all.into_iter().collect())
}

/// `athar persons link`.
pub fn link(
    archive: &mut Archive,
    case: Option<&str>,
    options: &LinkOptions,
    json: bool,
) -> anyhow::Result<()> {
    for (name, p) in [("--accept", options.accept), ("--review", options.review)] {
        if !(0.0..=1.0).contains(&p) {
            return Err(input_error(name, "must be a probability within 0..1"));
        }
    }
    if options.review > options.accept {
        return Err(input_error("--review", "must not be above --accept"));
    }
    let todo = cases(archive.catalog.as_ref(), case)?;
    for c in todo {
        let started = std::time::Instant::now();
        let mut w = archive.writer()?;
        let actor = w.collector.clone();
        let (report, _) = persons::link_case(w.catalog, &mut w.logger, &c, &actor, options)
            .map_err(change_error)?;
        drop(w);
        athar_store::search_index::update(archive)?;
        let secs = started.elapsed().as_secs_f64();
        if json {
            let mut v = serde_json::to_value(&report)?;
            v["seconds"] = json!((secs * 1000.0).round() / 1000.0);
            println!("{v}");
        } else {
            println!(
                "Case {}: {} record(s) from {} list(s), {} pair(s) compared in {secs:.1} s",
                term(&report.case),
                report.records,
                report.lists,
                report.candidates
            );
            println!(
                "  {} person(s), {} of them in more than one record; {} pair(s) to review{}",
                report.persons,
                report.linked,
                report.review,
                if report.decisions > 0 {
                    format!(" ({} reviewer decision(s) kept)", report.decisions)
                } else {
                    String::new()
                }
            );
            println!(
                "  matches: {} created, {} changed, {} deleted, {} unchanged",
                report.created, report.changed, report.deleted, report.unchanged
            );
        }
    }
    Ok(())
}

/// `athar persons list`.
pub fn list(
    archive: &Archive,
    case: Option<&str>,
    format: Option<&str>,
    linked_only: bool,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let catalog = archive.catalog.as_ref();
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let format = format.unwrap_or("table");
    if !matches!(format, "table" | "json" | "csv") {
        return Err(input_error(
            "--format",
            format!("{format:?} is not table, json or csv"),
        ));
    }
    let mut csv = (format == "csv").then(|| csv::Writer::from_writer(Vec::new()));
    if let Some(w) = &mut csv {
        w.write_record(["case", "person", "record", "list", "row", "name", "lists"])?;
    }
    for c in cases(catalog, case)? {
        let people = persons::persons(catalog, &c)?;
        let records: std::collections::HashMap<String, StoredRecord> = catalog
            .records(Some(RecordKind::Person), Some(&c))?
            .into_iter()
            .map(|s| (s.record.id.clone(), s))
            .collect();
        for (n, p) in people.iter().enumerate() {
            if linked_only && p.records.len() < 2 {
                continue;
            }
            let person = n + 1;
            match format {
                "json" => {
                    let recs: Vec<_> = p
                        .records
                        .iter()
                        .map(|id| record_json(catalog, records.get(id)))
                        .collect();
                    writeln!(
                        sink,
                        "{}",
                        json!({ "case": c, "person": person, "lists": p.lists, "records": recs })
                    )?;
                }
                "csv" => {
                    let w = csv.as_mut().expect("csv writer");
                    for id in &p.records {
                        let (list, row, name) = row_of(catalog, records.get(id));
                        w.write_record([
                            c.as_str(),
                            &person.to_string(),
                            id,
                            &list,
                            &row,
                            &name,
                            &p.lists.join("|"),
                        ])?;
                    }
                }
                _ => {
                    writeln!(
                        sink,
                        "{} person {person}: {} record(s) in {}",
                        term(&c),
                        p.records.len(),
                        term(&p.lists.join(", "))
                    )?;
                    for id in &p.records {
                        let (list, row, name) = row_of(catalog, records.get(id));
                        writeln!(
                            sink,
                            "  {} {}  [{}{}]",
                            term(id),
                            term(&name),
                            term(&list),
                            if row.is_empty() {
                                String::new()
                            } else {
                                format!(" row {}", term(&row))
                            }
                        )?;
                    }
                }
            }
        }
    }
    if let Some(w) = csv {
        sink.write_all(&w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    }
    sink.flush()?;
    Ok(())
}

fn source_name(catalog: &dyn Catalog, id: &str) -> String {
    match catalog.record_by_id(id) {
        Ok(Some(s)) => match &s.record.body {
            Body::Source(x) => x.name.clone(),
            _ => id.to_owned(),
        },
        _ => id.to_owned(),
    }
}

/// A person record's list, row and first name.
fn row_of(catalog: &dyn Catalog, s: Option<&StoredRecord>) -> (String, String, String) {
    let Some(Body::Person(p)) = s.map(|s| &s.record.body) else {
        return Default::default();
    };
    (
        p.source.as_deref().map_or_else(
            || persons::NO_LIST.to_owned(),
            |id| source_name(catalog, id),
        ),
        p.source_row.clone().unwrap_or_default(),
        p.names.first().map(|n| n.name.clone()).unwrap_or_default(),
    )
}

fn record_json(catalog: &dyn Catalog, s: Option<&StoredRecord>) -> serde_json::Value {
    let Some(s) = s else {
        return serde_json::Value::Null;
    };
    let (list, row, _) = row_of(catalog, Some(s));
    let mut v = serde_json::to_value(s.record.body.redacted()).unwrap_or_default();
    v["id"] = json!(s.record.id);
    v["list"] = json!(list);
    if !row.is_empty() {
        v["row"] = json!(row);
    }
    v
}

/// `athar persons overlap`.
pub fn overlap(archive: &Archive, case: Option<&str>, json: bool) -> anyhow::Result<()> {
    let catalog = archive.catalog.as_ref();
    for c in cases(catalog, case)? {
        let people: Vec<LinkedPerson> = persons::persons(catalog, &c)?;
        let table = persons::overlap(&people);
        if json {
            println!(
                "{}",
                json!({ "case": c, "persons": people.len(), "overlap": table })
            );
        } else {
            println!("Case {}: {} person(s)", term(&c), people.len());
            for row in &table {
                println!("  {:>8}  {}", row.persons, term(&row.lists.join(" + ")));
            }
        }
    }
    Ok(())
}

/// `athar persons review`.
pub fn review(
    archive: &Archive,
    case: Option<&str>,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let catalog = archive.catalog.as_ref();
    for c in cases(catalog, case)? {
        let queue = persons::review_queue(catalog, &c)?;
        if !json {
            println!("Case {}: {} pair(s) to review", term(&c), queue.len());
        }
        for p in queue.iter().take(limit) {
            let Body::Match(m) = &p.matched.record.body else {
                continue;
            };
            if json {
                println!(
                    "{}",
                    json!({
                        "case": c,
                        "match": p.matched.record.id,
                        "probability": m.probability,
                        "weights": m.weights,
                        "persons": [record_json(catalog, Some(&p.persons[0])), record_json(catalog, Some(&p.persons[1]))],
                    })
                );
                continue;
            }
            println!(
                "\n{} p={:.2}",
                term(&p.matched.record.id),
                m.probability.unwrap_or(0.0)
            );
            for s in &p.persons {
                let (list, row, name) = row_of(catalog, Some(s));
                println!(
                    "  {} {} [{} {}]",
                    term(&s.record.id),
                    term(&name),
                    term(&list),
                    term(&row)
                );
            }
            let mut w: Vec<_> = m.weights.iter().collect();
            w.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            let parts: Vec<String> = w.iter().map(|(f, w)| format!("{f} {w:+.1}")).collect();
            println!("  {}", parts.join(", "));
        }
    }
    Ok(())
}

/// `athar persons decide`.
pub fn decide(
    archive: &mut Archive,
    reference: &str,
    decision: &str,
    note: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let decision = MatchDecision::parse(decision).map_err(|e| input_error("decision", e))?;
    let mut w = archive.writer()?;
    let current = crate::records::find(&*w.catalog, reference, Some(RecordKind::Match))?;
    let change = persons::decision_change(&current, decision, note.map(str::to_owned))
        .context("not a match record")?;
    let actor = w.collector.clone();
    let applied =
        records::apply(w.catalog, &mut w.logger, vec![change], &actor).map_err(change_error)?;
    drop(w);
    athar_store::search_index::update(archive)?;
    crate::records::report(&applied, json)
}

/// `athar persons show`.
pub fn show(archive: &Archive, reference: &str, json: bool) -> anyhow::Result<()> {
    crate::records::show(
        archive.catalog.as_ref(),
        reference,
        RecordKind::Match,
        json,
        false,
    )
}
