//! CSV for the two kinds NGOs keep in spreadsheets: persons (victim lists) and incidents.
//! One row per record; list cells separated by `|`. Columns are documented in
//! docs/records.md; a list's own headers are mapped to them ([`Mapping`]); every row goes
//! through the same parser as JSON Lines.

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
    "event_date",
    "event_place",
    "affiliations",
    "notes",
    "source",
    "source_row",
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

/// How a list's own CSV is read: its column headers mapped to fields (`--map`), and the
/// list (a source record) every row comes from (`--source`).
#[derive(Debug, Default, Clone)]
pub struct Mapping {
    /// Header (as written, trimmed) → field name, or `-` to leave the column out.
    pub columns: Vec<(String, String)>,
    pub source: Option<String>,
}

/// The column a `--map` value leaves out.
const SKIP: &str = "-";

impl Mapping {
    /// Reads `--map` values: `HEADER=FIELD` (`FIELD` `-` leaves the column out), or
    /// `@FILE` for a file of such lines (blank lines and `#` comments skipped).
    pub fn parse(values: &[String], source: Option<String>) -> anyhow::Result<Mapping> {
        let mut columns = Vec::new();
        let mut one = |v: &str, at: &str| -> anyhow::Result<()> {
            let (h, f) = v.rsplit_once('=').ok_or_else(|| {
                crate::records::input_error(at, format!("{v:?} is not HEADER=FIELD"))
            })?;
            let (h, f) = (clean_header(h), f.trim().to_ascii_lowercase());
            if h.is_empty() || f.is_empty() {
                return Err(crate::records::input_error(
                    at,
                    format!("{v:?} is not HEADER=FIELD"),
                ));
            }
            if columns
                .iter()
                .any(|(c, _): &(String, String)| same_header(c, &h))
            {
                return Err(crate::records::input_error(
                    at,
                    format!("column {h:?} is mapped twice"),
                ));
            }
            columns.push((h, f));
            Ok(())
        };
        for v in values {
            match v.strip_prefix('@') {
                Some(file) => {
                    let text = std::fs::read_to_string(file).map_err(|e| {
                        crate::records::input_error(file, format!("reading the column map: {e}"))
                    })?;
                    for (i, l) in text.trim_start_matches('\u{feff}').lines().enumerate() {
                        let l = l.trim();
                        if l.is_empty() || l.starts_with('#') {
                            continue;
                        }
                        one(l, &format!("{file}: line {}", i + 1))?;
                    }
                }
                None => one(v, "--map")?,
            }
        }
        Ok(Mapping { columns, source })
    }

    fn field_of(&self, header: &str) -> String {
        self.columns
            .iter()
            .find(|(h, _)| same_header(h, header))
            .map_or_else(
                // A column headed `-` is not left out unless a map says so.
                || {
                    if header == SKIP {
                        format!("column {header}")
                    } else {
                        header.to_ascii_lowercase()
                    }
                },
                |(_, f)| f.clone(),
            )
    }
}

/// Headers are matched as written, but for letter case.
fn same_header(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn clean_header(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').trim().to_owned()
}

/// A person's cell as the model writes it: sex and status in Arabic or as letters, and
/// day-first dates (`15/03/2013`, `15.3.2013`, `15-03-2013`) as lists write them.
fn person_value(field: &str, cell: &str) -> String {
    let t = cell.trim();
    let low = t.to_lowercase();
    match field {
        "sex" => match low.as_str() {
            "m" | "ذكر" | "ذ" => "male".into(),
            "f" | "أنثى" | "انثى" | "إنثى" | "ا" => "female".into(),
            _ => t.into(),
        },
        "status" => match low.as_str() {
            "متوفى" | "متوفي" | "شهيد" | "قتيل" | "killed" | "deceased" => {
                "dead".into()
            }
            "معتقل" | "محتجز" | "arrested" => "detained".into(),
            "مختفي" | "مختفى" | "مفقود" | "مغيب" | "missing" => {
                "disappeared".into()
            }
            "مفرج عنه" | "أفرج عنه" => "released".into(),
            "حي" | "على قيد الحياة" => "alive".into(),
            _ => t.into(),
        },
        "birth_date" | "event_date" => day_first(t).unwrap_or_else(|| t.into()),
        _ => t.into(),
    }
}

/// `D/M/YYYY` (or with `.` or `-`) as `YYYY-MM-DD`; None for anything else.
fn day_first(t: &str) -> Option<String> {
    let parts: Vec<&str> = t.split(['/', '.', '-']).collect();
    let [d, m, y] = parts.as_slice() else {
        return None;
    };
    let ok = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !(ok(d, 1..=2) && ok(m, 1..=2) && ok(y, 4..=4)) {
        return None;
    }
    Some(format!("{y}-{:0>2}-{:0>2}", m, d))
}

/// Reads every row; the first bad one is an error naming its line and column.
pub fn read(
    reader: Box<dyn BufRead>,
    name: &str,
    kind: RecordKind,
    default_case: Option<&str>,
    mapping: &Mapping,
) -> anyhow::Result<(Vec<Line>, Vec<usize>)> {
    let allowed = columns(kind)?;
    if mapping.source.is_some() && kind != RecordKind::Person {
        return Err(crate::records::input_error(
            "--source",
            "only person rows name the list they come from",
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let written: Vec<String> = rdr
        .headers()
        .map_err(|e| crate::records::input_error(&format!("{name}: line 1"), e.to_string()))?
        .iter()
        .map(clean_header)
        .collect();
    for (h, f) in &mapping.columns {
        if f != SKIP && !allowed.contains(&f.as_str()) {
            return Err(crate::records::input_error(
                "--map",
                format!(
                    "{h:?} is mapped to {f:?}, which is not a {kind} column ({})",
                    allowed.join(", ")
                ),
            ));
        }
        if !written.iter().any(|w| same_header(w, h)) {
            return Err(crate::records::input_error(
                "--map",
                format!("{name} has no column {h:?}"),
            ));
        }
    }
    let headers: Vec<String> = written.iter().map(|h| mapping.field_of(h)).collect();
    for (h, field) in written.iter().zip(&headers) {
        if field != SKIP && !allowed.contains(&field.as_str()) {
            return Err(crate::records::input_error(
                &format!("{name}: line 1"),
                format!(
                    "unknown column {h:?}; {kind} columns are {} (map a list's own headers \
                     with --map HEADER=FIELD, or leave a column out with --map HEADER=-)",
                    allowed.join(", ")
                ),
            ));
        }
    }
    for (i, f) in headers.iter().enumerate() {
        if f != SKIP && headers[..i].contains(f) {
            return Err(crate::records::input_error(
                &format!("{name}: line 1"),
                format!("two columns are read as {f:?}"),
            ));
        }
    }
    let mut lines = Vec::new();
    let mut numbers = Vec::new();
    for (row_no, row) in rdr.records().enumerate() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            crate::records::input_error(&format!("{name}: line {line}"), e.to_string())
        })?;
        let n = row.position().map_or(0, |p| p.line() as usize);
        let mut m = Map::new();
        m.insert("kind".into(), json!(kind.as_str()));
        for (h, cell) in headers.iter().zip(row.iter()) {
            let cell = cell.trim();
            if cell.is_empty() || h == SKIP {
                continue;
            }
            let normalised;
            let cell = if kind == RecordKind::Person {
                normalised = person_value(h, cell);
                normalised.as_str()
            } else {
                cell
            };
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
        if let Some(source) = &mapping.source {
            if !m.contains_key("source") {
                m.insert("source".into(), json!(source));
                // Without the list's own row ids, its row number leads back to the row.
                m.entry("source_row")
                    .or_insert_with(|| json!((row_no + 1).to_string()));
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
                row.push(p.event_date.map(|d| d.to_string()).unwrap_or_default());
                row.push(opt(&p.event_place));
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
                row.push(opt(&p.source));
                row.push(opt(&p.source_row));
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
