//! `athar records`: JSON Lines and CSV import and export of many records.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::Context as _;
use athar_core::records::{self, Applied, Change, ChangeError, Line, Record, RecordKind};
use athar_core::StoreError;
use athar_store::Archive;
use serde_json::{json, Value};

use super::{input_error, RecordsCommand};

/// `athar records`.
pub fn records_command(archive: &mut Archive, cmd: &RecordsCommand) -> anyhow::Result<()> {
    match cmd {
        RecordsCommand::Import {
            file,
            format,
            kind,
            case,
            map,
            source,
            json,
        } => {
            let mapping = crate::records_csv::Mapping::parse(map, source.clone())?;
            import(
                archive,
                file,
                &ImportFormat {
                    format: format.as_deref(),
                    kind: kind.as_deref(),
                    case: case.as_deref(),
                    mapping: &mapping,
                },
                *json,
            )
        }
        RecordsCommand::Export {
            case,
            kind,
            format,
            out,
            reveal_protected,
        } => export(
            archive,
            case.as_deref(),
            kind.as_deref(),
            format.as_deref(),
            out.as_deref(),
            *reveal_protected,
        ),
    }
}

/// How `athar records import` reads its file.
struct ImportFormat<'a> {
    format: Option<&'a str>,
    kind: Option<&'a str>,
    case: Option<&'a str>,
    mapping: &'a crate::records_csv::Mapping,
}

/// `athar records import`.
fn import(
    archive: &mut Archive,
    file: &Path,
    how: &ImportFormat<'_>,
    json: bool,
) -> anyhow::Result<()> {
    let (lines, numbers, name) = read_import(file, how)?;
    let count = lines.len();
    let applied = write_import(archive, lines, &numbers, &name)?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &applied {
        *counts.entry(a.action).or_default() += 1;
    }
    if json {
        println!("{}", json!({ "records": count, "actions": counts }));
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "Imported {count} record(s) from {name}: {}",
            parts.join(", ")
        );
    }
    Ok(())
}

/// Opens and parses the file `athar records import` reads (`-` is stdin); returns the
/// lines, the line number of each, and the name to report problems under.
fn read_import(
    file: &Path,
    how: &ImportFormat<'_>,
) -> anyhow::Result<(Vec<Line>, Vec<usize>, String)> {
    let format = how.format.map(str::to_owned).unwrap_or_else(|| {
        if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            "csv".into()
        } else {
            "jsonl".into()
        }
    });
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(file)
                .with_context(|| format!("opening {}", file.display()))
                .map_err(|e| input_error(&file.display().to_string(), format!("{e:#}")))?,
        ))
    };
    let name = file.display().to_string();
    let (lines, numbers) = match format.as_str() {
        "jsonl" => {
            if !how.mapping.columns.is_empty() || how.mapping.source.is_some() {
                return Err(input_error(
                    "--map",
                    "--map and --source are for CSV; JSON Lines names its fields",
                ));
            }
            read_jsonl(reader, &name)?
        }
        "csv" => {
            let kind = how
                .kind
                .context("--kind person or --kind incident is needed for CSV")
                .map_err(|e| input_error("--kind", format!("{e}")))?;
            let kind = RecordKind::parse(kind).map_err(|e| input_error("--kind", e))?;
            crate::records_csv::read(reader, &name, kind, how.case, how.mapping)?
        }
        f => {
            return Err(input_error(
                "--format",
                format!("{f:?} is not jsonl or csv"),
            ))
        }
    };
    Ok((lines, numbers, name))
}

/// Writes the imported `lines` as one batch, indexing it for search while the catalog
/// writes it; `numbers` and `name` place a problem in the input.
fn write_import(
    archive: &mut Archive,
    lines: Vec<Line>,
    numbers: &[usize],
    name: &str,
) -> anyhow::Result<Vec<Applied>> {
    // The index is brought up to date first, so the batch can be indexed while the
    // catalog writes it (two cores busy instead of one after the other).
    athar_store::search_index::update(archive)?;
    let root = archive.work_dir();
    let mut w = archive.writer()?;
    let actor = w.collector.clone();
    let changes = lines
        .into_iter()
        .map(|l| Change::Put(Box::new(l)))
        .collect();
    let at_line = |e: ChangeError| match e {
        ChangeError::Invalid {
            index,
            field,
            message,
        } => input_error(
            &format!("{name}: line {}", numbers.get(index).copied().unwrap_or(0)),
            format!("{field}: {message}"),
        ),
        e => anyhow::Error::new(e),
    };
    let batch = records::prepare(&*w.catalog, changes, None).map_err(at_line)?;
    let plan = athar_store::search_index::plan_stage(&root, &*w.catalog, &batch)?;
    let through = plan.through();
    let (decide, decision) = std::sync::mpsc::channel();
    let (seqs, staged) = std::thread::scope(|s| {
        // Owned here, so a panic below drops it and the indexer stops waiting.
        let decide = decide;
        let indexer = s.spawn(|| athar_store::search_index::stage(plan, &batch, decision));
        let seqs = batch.write(&mut *w.catalog, &mut w.logger, &actor);
        // The staged documents are committed only if the batch is all that changed.
        let only = match &seqs {
            Ok(seqs) => {
                athar_store::search_index::batch_only(&*w.catalog, through, seqs).unwrap_or(None)
            }
            Err(_) => None,
        };
        // A closed channel means the indexer already failed; the catalog catches up.
        let _ = decide.send(only);
        let staged = indexer
            .join()
            .unwrap_or_else(|_| Err(StoreError::Catalog("indexing thread failed".into()).into()));
        (seqs, staged)
    });
    let seqs = seqs.map_err(at_line)?;
    drop(w);
    let (applied, written) = batch.finish(seqs);
    athar_store::search_index::finish_staged(archive, staged, &written)?;
    drop(written);
    Ok(applied)
}

/// `athar records export`.
fn export(
    archive: &Archive,
    case: Option<&str>,
    kind: Option<&str>,
    format: Option<&str>,
    out: Option<&Path>,
    reveal_protected: bool,
) -> anyhow::Result<()> {
    let kind = kind
        .map(RecordKind::parse)
        .transpose()
        .map_err(|e| input_error("--kind", e))?;
    let mut all = archive.catalog.records(kind, case)?;
    // Records before what refers to them, so the file imports in one pass.
    all.sort_by_key(|s| (s.record.body.kind().export_order(), s.record.id.clone()));
    let sink: Box<dyn Write> = match out {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::new(sink);
    let records: Vec<Record> = all
        .into_iter()
        .map(|s| {
            let mut r = s.record;
            if !reveal_protected {
                r.body = r.body.redacted();
            }
            r
        })
        .collect();
    match format.unwrap_or("jsonl") {
        "jsonl" => {
            for r in &records {
                writeln!(sink, "{}", r.to_line())?;
            }
        }
        "csv" => {
            let kind = kind.ok_or_else(|| {
                input_error("--kind", "CSV export needs --kind person or incident")
            })?;
            crate::records_csv::write(&mut sink, kind, &records)?;
        }
        f => {
            return Err(input_error(
                "--format",
                format!("{f:?} is not jsonl or csv"),
            ))
        }
    }
    sink.flush()?;
    Ok(())
}

/// Reads JSON Lines: every line parsed and checked; the first problem names its line.
pub(super) fn read_jsonl(
    reader: Box<dyn BufRead>,
    name: &str,
) -> anyhow::Result<(Vec<Line>, Vec<usize>)> {
    let mut raw = Vec::new();
    for (i, l) in reader.lines().enumerate() {
        let n = i + 1;
        let l = l.map_err(|e| input_error(&format!("{name}: line {n}"), e.to_string()))?;
        if !l.trim().is_empty() {
            raw.push((n, l));
        }
    }
    let parse = |(n, l): &(usize, String)| -> anyhow::Result<Line> {
        let v: Value = serde_json::from_str(l)
            .map_err(|e| input_error(&format!("{name}: line {n}"), format!("not JSON: {e}")))?;
        records::parse_line(v).map_err(|e| input_error(&format!("{name}: line {n}"), e.to_string()))
    };
    // A large file is parsed on every core, in order; the first bad line is reported.
    let parsed = athar_core::par::map(&raw, 10_000, parse);
    let numbers: Vec<usize> = raw.iter().map(|(n, _)| *n).collect();
    drop(raw);
    let lines = parsed.into_iter().collect::<anyhow::Result<Vec<Line>>>()?;
    Ok((lines, numbers))
}
