//! CSV for the two kinds NGOs keep in spreadsheets: persons (victim lists) and incidents.
//! One row per record; list cells separated by `|`. Columns are documented in
//! docs/records.md; every row goes through the same parser as JSON Lines.

use std::io::{BufRead, Write};

use anyhow::Context as _;
use athar_core::records::{self, Body, Line, Record, RecordKind};
use serde_json::{json, Map, Value};

const PERSON: &[&str] = &[
    "id",
    "key",
    "case",
    "names",
    "father_name",
    "mother_name",
    "sex",
    "birth_date",
    "age",
    "status",
    "affiliations",
    "notes",
];
const INCIDENT: &[&str] = &[
    "id",
    "key",
    "case",
    "title",
    "description",
    "date",
    "places",
    "status",
    "related",
];

fn columns(kind: RecordKind) -> anyhow::Result<&'static [&'static str]> {
    match kind {
        RecordKind::Person => Ok(PERSON),
        RecordKind::Incident => Ok(INCIDENT),
        k => Err(crate::records::input_error(
            "--kind",
            format!("CSV holds persons or incidents, not {k}"),
        )),
    }
}

fn split_list(cell: &str) -> Vec<String> {
    cell.split('|')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Reads every row; the first bad one is an error naming its line and column.
pub fn read(
    reader: Box<dyn BufRead>,
    name: &str,
    kind: RecordKind,
    default_case: Option<&str>,
) -> anyhow::Result<(Vec<Line>, Vec<usize>)> {
    let allowed = columns(kind)?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| crate::records::input_error(&format!("{name}: line 1"), e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    for h in &headers {
        if !allowed.contains(&h.as_str()) {
            return Err(crate::records::input_error(
                &format!("{name}: line 1"),
                format!(
                    "unknown column {h:?}; {kind} columns are {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let mut lines = Vec::new();
    let mut numbers = Vec::new();
    for row in rdr.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            crate::records::input_error(&format!("{name}: line {line}"), e.to_string())
        })?;
        let n = row.position().map_or(0, |p| p.line() as usize);
        let mut m = Map::new();
        m.insert("kind".into(), json!(kind.as_str()));
        for (h, cell) in headers.iter().zip(row.iter()) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let v = match (kind, h.as_str()) {
                (RecordKind::Person, "names") => Value::Array(
                    split_list(cell)
                        .into_iter()
                        .map(|n| json!({ "name": n }))
                        .collect(),
                ),
                (RecordKind::Person, "age") => {
                    serde_json::to_value(records::Quantity::parse(cell).map_err(|e| {
                        crate::records::input_error(
                            &format!("{name}: line {n}"),
                            format!("age: {e}"),
                        )
                    })?)?
                }
                (RecordKind::Person, "affiliations") => Value::Array(
                    split_list(cell)
                        .into_iter()
                        .map(|a| match a.rsplit_once('=') {
                            Some((org, role)) => json!({ "org": org.trim(), "role": role.trim() }),
                            None => json!({ "org": a }),
                        })
                        .collect(),
                ),
                (RecordKind::Incident, "places" | "related") => json!(split_list(cell)),
                _ => json!(cell),
            };
            m.insert(h.clone(), v);
        }
        if !m.contains_key("case") {
            if let Some(c) = default_case {
                m.insert("case".into(), json!(c));
            }
        }
        let line = records::parse_line(Value::Object(m)).map_err(|e| {
            crate::records::input_error(&format!("{name}: line {n}"), e.to_string())
        })?;
        lines.push(line);
        numbers.push(n);
    }
    Ok((lines, numbers))
}

/// Writes records of `kind` as CSV with every column.
pub fn write(out: &mut dyn Write, kind: RecordKind, records: &[Record]) -> anyhow::Result<()> {
    let cols = columns(kind)?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(cols)?;
    for r in records {
        let mut row: Vec<String> = vec![
            r.id.clone(),
            r.key.clone().unwrap_or_default(),
            r.case.clone(),
        ];
        match &r.body {
            Body::Person(p) => {
                let opt = |s: &Option<String>| s.clone().unwrap_or_default();
                row.push(
                    p.names
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join("|"),
                );
                row.push(opt(&p.father_name));
                row.push(opt(&p.mother_name));
                row.push(p.sex.map(|s| s.as_str().to_owned()).unwrap_or_default());
                row.push(p.birth_date.map(|d| d.to_string()).unwrap_or_default());
                row.push(p.age.as_ref().map(ToString::to_string).unwrap_or_default());
                row.push(p.status.map(|s| s.as_str().to_owned()).unwrap_or_default());
                row.push(
                    p.affiliations
                        .iter()
                        .map(|a| match &a.role {
                            Some(role) => format!("{}={role}", a.org),
                            None => a.org.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join("|"),
                );
                row.push(opt(&p.notes));
            }
            Body::Incident(i) => {
                row.push(i.title.clone());
                row.push(i.description.clone().unwrap_or_default());
                row.push(i.date.map(|d| d.to_string()).unwrap_or_default());
                row.push(i.places.join("|"));
                row.push(i.status.map(|s| s.as_str().to_owned()).unwrap_or_default());
                row.push(i.related.join("|"));
            }
            _ => continue,
        }
        w.write_record(&row).context("writing CSV")?;
    }
    w.flush()?;
    Ok(())
}
