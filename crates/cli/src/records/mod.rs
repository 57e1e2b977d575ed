//! `athar case|incident|act|person|org|place|source|claim|link` and `athar records`:
//! the documentation model on the command line. Every flag becomes a field of the record's
//! JSON form, so the CLI, JSON Lines import and the API share one parser and one set of
//! checks (`athar_core::records::parse_line`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use athar_core::records::{self, Change, ChangeError, Line, RecordKind, StoredRecord};
use athar_core::{Catalog, CoreError, EventDetails, ItemId};
use athar_store::Archive;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::output::term;
mod fields;
mod io;

pub use fields::*;
pub use io::records_command;

/// What to do with records of one kind.
#[derive(Subcommand, Debug, Clone)]
pub enum Action<F: Args> {
    /// Create a record.
    Add {
        #[command(flatten)]
        fields: F,
        #[command(flatten)]
        common: Common,
    },
    /// Change fields of a record (flags given replace those fields; lists are replaced).
    Edit {
        /// The record's id, key or kind:key.
        record: String,
        #[command(flatten)]
        fields: F,
        #[command(flatten)]
        common: Common,
    },
    /// Show a record, what it refers to, what refers to it, and its history.
    Show {
        record: String,
        #[arg(long)]
        json: bool,
        /// Show identifying details of protected sources.
        #[arg(long)]
        reveal_protected: bool,
    },
    /// List records of this kind.
    List {
        #[arg(long)]
        case: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Delete a record (refused while other records refer to it; its history stays).
    Delete {
        record: String,
        #[arg(long)]
        json: bool,
    },
}

/// `athar records`.
#[derive(Subcommand, Debug, Clone)]
pub enum RecordsCommand {
    /// Import records from JSON Lines (any kinds) or CSV (persons or incidents): everything
    /// is checked first and applied all or nothing. See docs/records.md.
    Import {
        /// The file (`-` for standard input).
        file: PathBuf,
        /// `jsonl` or `csv` (default: from the file name, else jsonl).
        #[arg(long)]
        format: Option<String>,
        /// For CSV: what each row is (`person` or `incident`).
        #[arg(long)]
        kind: Option<String>,
        /// For CSV: the case of rows whose `case` column is empty.
        #[arg(long)]
        case: Option<String>,
        /// For CSV: read a column of the list under another name, `HEADER=FIELD` (e.g.
        /// `الاسم=names`, `اسم الأب=father_name`; `HEADER=-` leaves it out); repeat for
        /// each, or `@FILE` for a file of such lines.
        #[arg(long = "map", value_name = "HEADER=FIELD")]
        map: Vec<String>,
        /// For CSV of persons: the list (a source record) the rows come from; rows without
        /// a `source_row` get their row number.
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Export records as JSON Lines (re-importable as is) or CSV (persons or incidents).
    Export {
        #[arg(long)]
        case: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// `jsonl` (default) or `csv` (needs --kind person or incident).
        #[arg(long)]
        format: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Include identifying details of protected sources (left out otherwise).
        #[arg(long)]
        reveal_protected: bool,
    },
}

/// Turns a refused change into an input error that names the field.
pub(super) fn change_error(e: ChangeError) -> anyhow::Error {
    match e {
        ChangeError::Invalid { field, message, .. } => anyhow::Error::new(CoreError::Input {
            path: PathBuf::from(field),
            message,
        }),
        e => anyhow::Error::new(e),
    }
}

pub(crate) fn input_error(field: &str, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(CoreError::Input {
        path: PathBuf::from(field),
        message: message.into(),
    })
}

/// Finds a live record by id, key or kind:key, of `kind` when given.
pub fn find(
    catalog: &dyn Catalog,
    r: &str,
    kind: Option<RecordKind>,
) -> anyhow::Result<StoredRecord> {
    let kinds: Vec<RecordKind> = kind.map_or_else(|| RecordKind::ALL.to_vec(), |k| vec![k]);
    let not_found = || {
        anyhow::Error::new(athar_core::StoreError::NotFound(format!(
            "no {} with id or key {r:?}",
            join_kinds(&kinds)
        )))
    };
    let stored = if records::is_record_id(r) {
        catalog.record_by_id(r)?
    } else {
        let (only, key) = match r.split_once(':') {
            Some((k, key)) => (
                Some(RecordKind::parse(k).map_err(|e| input_error("record", e))?),
                key,
            ),
            None => (None, r),
        };
        let ids: Vec<String> = catalog
            .records_with_key(key)?
            .into_iter()
            .filter(|k| kinds.contains(&k.kind) && only.is_none_or(|o| o == k.kind))
            .map(|k| k.id)
            .collect();
        if ids.len() > 1 {
            return Err(anyhow::Error::new(athar_core::StoreError::Ambiguous {
                what: format!("key {key:?}"),
                count: ids.len(),
            }));
        }
        match ids.first() {
            Some(id) => catalog.record_by_id(id)?,
            None => None,
        }
    };
    let stored = match stored {
        None if kind == Some(RecordKind::Case) => catalog
            .records(Some(RecordKind::Case), Some(r))?
            .into_iter()
            .next(),
        s => s,
    };
    stored
        .filter(|s| !s.deleted && kinds.contains(&s.record.body.kind()))
        .ok_or_else(not_found)
}

/// A flag's value that does not parse is bad input (exit 2), not a failure of Athar's;
/// errors of the catalog keep their own meaning.
fn as_input(e: anyhow::Error) -> anyhow::Error {
    if e.chain()
        .any(|c| c.is::<athar_core::StoreError>() || c.is::<athar_core::CoreError>())
    {
        return e;
    }
    anyhow::Error::new(athar_core::CoreError::Input {
        path: "the command line".into(),
        message: format!("{e:#}"),
    })
}

/// Runs one kind's action against the archive.
pub fn run<F: Fields + Args>(archive: &mut Archive, action: &Action<F>) -> anyhow::Result<()> {
    match action {
        Action::Add { fields, common } => {
            let mut w = archive.writer()?;
            let mut m = fields.to_fields(&*w.catalog, true).map_err(as_input)?;
            apply_common(&mut m, common).map_err(as_input)?;
            let case = common.case.clone().or_else(|| fields.case_name());
            let line = make_line(F::KIND, m, common.key.clone(), case, None)?;
            let actor = w.collector.clone();
            let applied = records::apply(
                w.catalog,
                &mut w.logger,
                vec![Change::Put(Box::new(line))],
                &actor,
            )
            .map_err(change_error)?;
            drop(w);
            athar_store::search_index::update(archive)?;
            report(&applied, common.json)
        }
        Action::Edit {
            record,
            fields,
            common,
        } => {
            let mut w = archive.writer()?;
            let stored = find(&*w.catalog, record, Some(F::KIND))?;
            let Value::Object(mut m) = stored.record.to_line() else {
                bail!("record {record} is not an object");
            };
            for k in ["id", "case", "key"] {
                m.remove(k);
            }
            let new = fields.to_fields(&*w.catalog, false).map_err(as_input)?;
            m.extend(new);
            apply_common(&mut m, common).map_err(as_input)?;
            let key = common.key.clone().or(stored.record.key.clone());
            let case = common
                .case
                .clone()
                .or_else(|| fields.case_name())
                .or(Some(stored.record.case.clone()));
            let line = make_line(F::KIND, m, key, case, Some(stored.record.id.clone()))?;
            let actor = w.collector.clone();
            let applied = records::apply(
                w.catalog,
                &mut w.logger,
                vec![Change::Put(Box::new(line))],
                &actor,
            )
            .map_err(change_error)?;
            drop(w);
            athar_store::search_index::update(archive)?;
            report(&applied, common.json)
        }
        Action::Delete { record, json } => {
            let mut w = archive.writer()?;
            let stored = find(&*w.catalog, record, Some(F::KIND))?;
            let actor = w.collector.clone();
            let applied = records::apply(
                w.catalog,
                &mut w.logger,
                vec![Change::Delete(stored.record.id)],
                &actor,
            )
            .map_err(change_error)?;
            drop(w);
            athar_store::search_index::update(archive)?;
            report(&applied, *json)
        }
        Action::Show {
            record,
            json,
            reveal_protected,
        } => show(
            archive.catalog.as_ref(),
            record,
            F::KIND,
            *json,
            *reveal_protected,
        ),
        Action::List { case, json } => {
            list_records(archive.catalog.as_ref(), F::KIND, case.as_deref(), *json)
        }
    }
}

pub(super) fn make_line(
    kind: RecordKind,
    mut m: Map<String, Value>,
    key: Option<String>,
    case: Option<String>,
    id: Option<String>,
) -> anyhow::Result<Line> {
    m.insert("kind".into(), Value::String(kind.as_str().to_owned()));
    put(&mut m, "key", key.map(Value::String));
    put(&mut m, "case", case.map(Value::String));
    put(&mut m, "id", id.map(Value::String));
    records::parse_line(Value::Object(m)).map_err(|e| input_error(&e.field, e.message))
}

pub(super) fn report(applied: &[records::Applied], json: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for a in applied {
        if json {
            writeln!(out, "{}", serde_json::to_string(a)?)?;
        } else {
            let what = match a.action {
                "create" => "Created",
                "edit" => "Changed",
                "delete" => "Deleted",
                _ => "Unchanged",
            };
            match a.event {
                Some(e) => writeln!(
                    out,
                    "{what} {} {} (custody event #{e})",
                    term(&a.kind),
                    term(&a.id)
                )?,
                None => writeln!(out, "{what} {} {}", term(&a.kind), term(&a.id))?,
            }
        }
    }
    Ok(())
}

/// A one-line label for a record id: `kind id "title"`.
pub(super) fn label(catalog: &dyn Catalog, id: &str) -> String {
    match catalog.record_by_id(id) {
        Ok(Some(s)) => format!(
            "{} {} {:?}",
            s.record.body.kind(),
            id,
            s.record.body.title()
        ),
        _ => id.to_owned(),
    }
}

pub(crate) fn show(
    catalog: &dyn Catalog,
    r: &str,
    kind: RecordKind,
    json: bool,
    reveal: bool,
) -> anyhow::Result<()> {
    let stored = find(catalog, r, Some(kind))?;
    let mut record = stored.record.clone();
    if !reveal {
        record.body = record.body.redacted();
    }
    let refs = stored.record.body.refs();
    let referrers = catalog.referrers(&record.id)?;
    let subject = ItemId::parse(&record.id).context("record id")?;
    let history: Vec<Value> = catalog
        .events(&subject)?
        .into_iter()
        .map(|e| {
            let mut v = json!({ "seq": e.seq, "at": e.at, "actor": e.actor });
            if let EventDetails::Record(c) = e.details {
                v["action"] = json!(c.action);
                v["old"] = json!(c.old);
                v["new"] = json!(c.new);
            }
            v
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let v = json!({
            "record": record.to_line(),
            "sha256": stored.sha256,
            "refers_to": refs.iter().map(|r| json!({"field": r.field, "id": r.value})).collect::<Vec<_>>(),
            "referred_by": referrers,
            "history": history,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(out, "{} {}", kind.as_str().to_uppercase(), term(&record.id))?;
    if let Some(k) = &record.key {
        writeln!(out, "Key        {}", term(k))?;
    }
    writeln!(out, "Case       {}", term(&record.case))?;
    writeln!(out, "SHA-256    {}", stored.sha256)?;
    if let Value::Object(m) = serde_json::to_value(&record.body)? {
        for (k, v) in m {
            if k == "kind" {
                continue;
            }
            let shown = match v {
                Value::String(s) => s,
                v => v.to_string(),
            };
            writeln!(out, "{:<10} {}", term(k), term(shown))?;
        }
    }
    if !refs.is_empty() {
        writeln!(out, "\nRefers to:")?;
        for r in &refs {
            writeln!(
                out,
                "  {:<22} {}",
                term(&r.field),
                term(label(catalog, &r.value))
            )?;
        }
    }
    if !referrers.is_empty() {
        writeln!(out, "\nReferred to by:")?;
        for id in &referrers {
            writeln!(out, "  {}", term(label(catalog, id)))?;
        }
    }
    writeln!(out, "\nHistory ({} custody event(s)):", history.len())?;
    for h in &history {
        writeln!(
            out,
            "  #{:<6} {}  {:<7} by {}",
            h["seq"],
            term(h["at"].as_str().unwrap_or_default()),
            term(h["action"].as_str().unwrap_or_default()),
            term(h["actor"].as_str().unwrap_or_default())
        )?;
    }
    Ok(())
}

pub(super) fn list_records(
    catalog: &dyn Catalog,
    kind: RecordKind,
    case: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for s in catalog.records(Some(kind), case)? {
        let mut r = s.record;
        r.body = r.body.redacted();
        if json {
            writeln!(out, "{}", r.to_line())?;
        } else {
            writeln!(
                out,
                "{}  {:<12} {:<16} {}",
                term(&r.id),
                term(&r.case),
                term(r.key.as_deref().unwrap_or("-")),
                term(r.body.title())
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
