//! Human and JSON output.

use std::fmt;
use std::io::{IsTerminal, Write};

use athar_analysis::Kind;
use athar_core::ingest::{IngestSummary, Progress};
use athar_core::verify::Report;
use athar_core::{Catalog, EventDetails};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

/// Free text made safe for a terminal: every human-form value that came from
/// outside (names, paths, notes, sources, purposes, actors, record fields, job
/// errors) is printed through this, so no input can start a new line, move the
/// cursor, clear the screen or reorder text. Control characters (C0, DEL, C1)
/// and the Unicode bidirectional overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) are written visibly, the way Rust escapes them: `\n`, `\t`,
/// `\r`, `\x1b`, `\u{9b}`, `\u{202e}`. Everything else is printed as it is.
/// JSON output does not need this: its strings are escaped by serde.
pub fn term<T: fmt::Display>(value: T) -> Term<T> {
    Term(value)
}

/// See [`term`].
pub struct Term<T>(T);

impl<T: fmt::Display> fmt::Display for Term<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string();
        let escaped = escape_controls(&s);
        f.pad(&escaped)
    }
}

/// True for the characters [`term`] escapes.
fn unsafe_char(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` with the characters [`term`] escapes written as escapes.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 && unsafe_char(c) => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A byte progress bar on stderr, hidden unless `visible`.
pub fn bar(visible: bool, len: u64, what: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// The status line of `athar ingest --wait` and `athar jobs --run` while jobs run: jobs
/// done of the total and what is being worked on, rewritten in place on stderr; nothing
/// when not shown.
pub struct JobStatus {
    shown: bool,
    drawn: bool,
}

impl JobStatus {
    pub fn new(shown: bool) -> JobStatus {
        JobStatus {
            shown,
            drawn: false,
        }
    }

    /// Before a job: `done` of `total` finished, this one on `what` (an item's label).
    pub fn show(&mut self, done: u64, total: u64, kind: &str, what: &str) {
        if !self.shown {
            return;
        }
        // Jobs queued while running (none from the CLI today) still count.
        let total = total.max(done + 1);
        let what: String = term(what).to_string().chars().take(60).collect();
        eprint!(
            "\r\x1b[2KFingerprinting: {done} of {total} job(s) done; now {} on {what}",
            term(kind)
        );
        self.drawn = true;
    }

    /// After a job, before anything else is printed on stderr.
    pub fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }

    /// Once all have run.
    pub fn finish(&mut self, done: u64, total: u64) {
        self.clear();
        if self.shown && done > 0 {
            eprintln!("Fingerprinting: {done} of {} job(s) done.", total.max(done));
        }
    }
}

/// Output of `athar ingest`.
pub struct IngestOutput {
    json: bool,
    bar: ProgressBar,
    stdout: std::io::Stdout,
}

impl IngestOutput {
    pub fn new(json: bool) -> IngestOutput {
        let visible = !json && std::io::stderr().is_terminal();
        IngestOutput {
            json,
            bar: bar(visible, 0, "preserving"),
            stdout: std::io::stdout(),
        }
    }

    pub fn progress(&mut self, p: Progress<'_>) {
        match p {
            Progress::Planned { bytes, .. } => self.bar.set_length(bytes),
            Progress::Read { bytes } => self.bar.inc(bytes),
            Progress::Stored(s) => {
                if self.json {
                    let line = json!({
                        "item": s.entry.item.id,
                        "sha256": s.entry.item.sha256,
                        "size": s.entry.item.size,
                        "media_type": s.entry.item.media_type,
                        "path": s.path.to_string_lossy(),
                        "new": s.entry.new,
                    });
                    let mut out = self.stdout.lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
            }
            Progress::Failed(e) => {
                self.bar.suspend(|| eprintln!("athar: {e}"));
            }
        }
    }

    pub fn finish(&mut self, s: &IngestSummary) {
        self.bar.finish_and_clear();
        if !self.json {
            println!(
                "Preserved {} file(s), {} byte(s): {} new item(s), {} already held (recorded as sightings).",
                s.stored,
                s.bytes,
                s.new_items,
                s.stored - s.new_items
            );
        }
        if s.failed > 0 {
            eprintln!(
                "athar: {} file(s) could not be preserved (see above)",
                s.failed
            );
        }
    }
}

/// `athar list`.
pub fn list(catalog: &dyn Catalog, derived: bool, json: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for item in catalog.items()? {
        let events = catalog.events(&item.id)?;
        // Review images and other items Athar made are not evidence: listed only when asked.
        if !derived && athar_core::label::is_derived(&events) {
            continue;
        }
        let label = athar_core::label::label(catalog, &item, &events)?;
        let name = match (&label.name, &label.derived) {
            (Some(n), _) => n.clone(),
            (None, Some(d)) => format!("{} of {}", d.role, d.source),
            (None, None) => String::new(),
        };
        if json {
            let v = json!({
                "item": item.id,
                "sha256": item.sha256,
                "size": item.size,
                "media_type": item.media_type,
                "created_at": item.created_at,
                "name": name,
                "label": label,
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{}  {}  {:>12}  {:<24}  {}  {}",
                item.id,
                item.sha256,
                item.size,
                term(&item.media_type),
                item.created_at,
                term(&label.text)
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Prints an item's details (human form) or one JSON document.
pub fn show(catalog: &dyn Catalog, query: &str, json: bool) -> anyhow::Result<()> {
    let item = catalog.resolve(query)?;
    let events = catalog.events(&item.id)?;
    let cases = catalog.cases_of(&item.id)?;
    let received = catalog.received_custody(&item.id)?;
    let prints = catalog.fingerprints(&item.id)?;
    let derived = catalog.derived_from(&item.id)?;
    let links = item_links(catalog, &item)?;
    let captures = item_captures(catalog, &item)?;
    let metadata: Option<serde_json::Value> = prints
        .iter()
        .find(|f| Kind::parse(&f.algorithm) == Some(Kind::Metadata))
        .and_then(|f| serde_json::from_str(&f.data).ok());
    let label = athar_core::label::label(catalog, &item, &events)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let v = json!({
            "item": item,
            "label": label,
            "cases": cases,
            "fingerprints": prints.iter().filter(|f| !matches!(Kind::parse(&f.algorithm), Some(Kind::Metadata | Kind::Local))).collect::<Vec<_>>(),
            // Local features are kilobytes of base64 a frame: their size, not their bytes.
            "local_features": prints.iter().find(|f| Kind::parse(&f.algorithm) == Some(Kind::Local)).map(|f| json!({
                "algorithm_version": f.algorithm_version,
                "frames": f.data.lines().count().saturating_sub(1),
                "bytes": f.data.len(),
            })),
            "metadata": metadata,
            "review_images": derived.iter().map(|(id, role)| json!({ "item": id, "role": role })).collect::<Vec<_>>(),
            "events": events,
            "received_custody": received,
            "links": links,
            "captures": captures,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(out, "Label       {}", term(&label.text))?;
    show_item(&mut out, &item, &cases, metadata.as_ref())?;
    for (id, role) in &derived {
        writeln!(out, "Review      {}: item {id}", term(role))?;
    }
    for l in &links {
        writeln!(
            out,
            "Linked to   {} ({}) by link {}",
            term(l["target"].as_str().unwrap_or_default()),
            term(l["verification"].as_str().unwrap_or_default()),
            term(l["link"].as_str().unwrap_or_default())
        )?;
    }
    for c in &captures {
        let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        writeln!(
            out,
            "Captured    {} of {} at {} ({}), capture {}",
            term(s(&c["role"])),
            term(s(&c["url"])),
            s(&c["captured"]),
            if c["complete"] == true {
                "complete"
            } else {
                "PARTIAL"
            },
            s(&c["capture"])
        )?;
        for f in c["files"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "  file      {:<20} item {}",
                term(s(&f["role"])),
                s(&f["item"])
            )?;
        }
        let mut line = String::new();
        for h in c["source"]["history"].as_array().into_iter().flatten() {
            line.push_str(&format!(" {} since {};", s(&h["state"]), s(&h["at"])));
        }
        writeln!(out, "  source   {}", term(line.trim_end_matches(';')))?;
        if c["source"]["state"] == "gone" {
            writeln!(out, "  the source is gone: the archive holds the only copy")?;
        }
    }
    show_fingerprints(&mut out, &prints)?;
    writeln!(out, "\nChain of custody ({} event(s)):", events.len())?;
    for e in &events {
        show_event(&mut out, e)?;
    }
    show_received(&mut out, &received)?;
    Ok(())
}

/// The live link records that point at `item`, as JSON objects.
fn item_links(
    catalog: &dyn Catalog,
    item: &athar_core::Item,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut links = Vec::new();
    for id in catalog.referrers(item.id.as_str())? {
        if let Some(s) = catalog.record_by_id(&id)? {
            if let athar_core::records::Body::Link(l) = &s.record.body {
                links.push(json!({
                    "link": id,
                    "target": l.target,
                    "verification": l.verification,
                    "start": l.start,
                    "end": l.end,
                }));
            }
        }
    }
    Ok(links)
}

/// The captures an item is a file of: each with its address, its role there, the other
/// files of the bundle and what the deletion watch found (with its history of states).
fn item_captures(
    catalog: &dyn Catalog,
    item: &athar_core::Item,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for id in catalog.referrers(item.id.as_str())? {
        let Some(s) = catalog.record_by_id(&id)? else {
            continue;
        };
        let athar_core::records::Body::Capture(c) = &s.record.body else {
            continue;
        };
        let Some(subject) = athar_core::ItemId::parse(&id) else {
            continue;
        };
        // Each edit of a capture is a change of its watch's state: its history.
        let mut states = Vec::new();
        for e in catalog.events(&subject)? {
            if let EventDetails::Record(r) = &e.details {
                let state = r
                    .new
                    .and_then(|sha| catalog.record_value(&sha).ok().flatten())
                    .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
                    .and_then(|v| v["watch"]["state"].as_str().map(str::to_owned));
                states.push(json!({"seq": e.seq, "at": e.at, "state": state}));
            }
        }
        out.push(json!({
            "capture": id,
            "url": c.url,
            "final_url": c.final_url,
            "captured": c.started,
            "complete": c.complete,
            "role": c.artefacts.iter().find(|a| a.item == item.id.as_str()).map(|a| a.role.clone()),
            "files": c.artefacts,
            "source": {"state": c.watch.state, "since": c.watch.since, "history": states},
        }));
    }
    Ok(out)
}

/// `athar show`'s first lines: the item, its cases and its container metadata.
fn show_item(
    out: &mut impl Write,
    item: &athar_core::Item,
    cases: &[String],
    metadata: Option<&serde_json::Value>,
) -> anyhow::Result<()> {
    writeln!(out, "Item        {}", item.id)?;
    writeln!(out, "SHA-256     {}", item.sha256)?;
    writeln!(out, "Size        {} bytes", item.size)?;
    writeln!(out, "Media type  {}", term(&item.media_type))?;
    writeln!(out, "Preserved   {}", item.created_at)?;
    if !cases.is_empty() {
        writeln!(out, "Cases       {}", term(cases.join(", ")))?;
    }
    if let Some(m) = metadata {
        let field = |k: &str| {
            m.get(k)
                .filter(|v| !v.is_null())
                .map(|v| v.to_string().trim_matches('"').to_owned())
        };
        for (label, key) in [
            ("Container", "format"),
            ("Duration", "duration_s"),
            ("Created", "creation_time"),
            ("Encoder", "encoder"),
            ("Make", "make"),
            ("Model", "model"),
            ("Location", "location"),
            ("Rotation", "rotation"),
            ("EXIF", "exif"),
        ] {
            if let Some(v) = field(key) {
                writeln!(out, "{label:<11} {}", term(v))?;
            }
        }
    }
    Ok(())
}

/// `athar show`'s fingerprint lines (the metadata pseudo-fingerprint excluded).
fn show_fingerprints(
    out: &mut impl Write,
    prints: &[athar_core::Fingerprint],
) -> anyhow::Result<()> {
    for f in prints
        .iter()
        .filter(|f| Kind::parse(&f.algorithm) != Some(Kind::Metadata))
    {
        let first = f.data.lines().next().unwrap_or_default();
        let n = f.data.lines().count();
        match Kind::parse(&f.algorithm) {
            Some(Kind::Pdq) => writeln!(out, "PDQ         {}", term(first))?,
            _ => writeln!(
                out,
                "{:<11} {n} frame hash(es), first {}",
                term(f.algorithm.to_uppercase()),
                term(first)
            )?,
        }
        writeln!(
            out,
            "            ({}; {})",
            term(&f.algorithm_version),
            term(&f.decoder)
        )?;
    }
    Ok(())
}

/// One custody event in `athar show`'s chain of custody.
fn show_event(out: &mut impl Write, e: &athar_core::CustodyEvent) -> anyhow::Result<()> {
    writeln!(
        out,
        "  #{} {} {} by {}",
        e.seq,
        e.at,
        term(e.kind.as_str()),
        term(&e.actor)
    )?;
    match &e.details {
        EventDetails::Sighting(s) => show_sighting(out, s)?,
        EventDetails::Derived(d) => {
            writeln!(
                out,
                "      made    {} from item {}",
                term(&d.role),
                term(&d.source)
            )?;
            writeln!(out, "      tool    {}", term(&d.tool_version))?;
        }
        EventDetails::Export(x) => {
            writeln!(
                out,
                "      package {} ({} item(s))",
                term(&x.package),
                x.items
            )?;
            if let Some(t) = &x.to {
                writeln!(out, "      to      {}", term(t))?;
            }
            writeln!(out, "      tool    {}", term(&x.tool_version))?;
        }
        EventDetails::Transfer(t) => {
            writeln!(out, "      package {}", term(&t.package))?;
            if let Some(f) = &t.from {
                writeln!(out, "      from    {}", term(f))?;
            }
            if let Some(l) = &t.sender_log {
                let state = if t.sender_custody_verified {
                    "proved"
                } else {
                    "not proved"
                };
                writeln!(
                    out,
                    "      sender  log {}: {} event(s), {state}",
                    term(l),
                    t.sender_events
                )?;
            }
            writeln!(out, "      tool    {}", term(&t.tool_version))?;
        }
        EventDetails::Record(r) => {
            writeln!(
                out,
                "      {} {} {}",
                term(&r.action),
                term(&r.record_kind),
                term(&r.digest)
            )?;
        }
        EventDetails::Access(a) => {
            writeln!(out, "      via     {}", term(&a.via))?;
            if let Some(p) = &a.purpose {
                writeln!(out, "      purpose {}", term(p))?;
            }
            writeln!(out, "      tool    {}", term(&a.tool_version))?;
        }
        EventDetails::Erase(x) => {
            writeln!(
                out,
                "      erased  with case {} ({})",
                term(&x.case),
                term(&x.method)
            )?;
        }
    }
    Ok(())
}

/// The details of a sighting event in `athar show`.
fn show_sighting(out: &mut impl Write, s: &athar_core::Sighting) -> anyhow::Result<()> {
    writeln!(out, "      name    {}", term(&s.original_name))?;
    writeln!(out, "      path    {}", term(&s.original_path))?;
    if let Some(m) = &s.file_mtime {
        writeln!(out, "      mtime   {}", term(m))?;
    }
    if let Some(v) = &s.source {
        writeln!(out, "      source  {}", term(v))?;
    }
    if let Some(v) = &s.note {
        writeln!(out, "      note    {}", term(v))?;
    }
    if let Some(v) = &s.case {
        writeln!(out, "      case    {}", term(v))?;
    }
    writeln!(out, "      tool    {}", term(&s.tool_version))?;
    Ok(())
}

/// `athar show`'s custody from before the item arrived (from a sender's log).
fn show_received(
    out: &mut impl Write,
    received: &[athar_core::ReceivedCustody],
) -> anyhow::Result<()> {
    if !received.is_empty() {
        writeln!(
            out,
            "\nCustody before it arrived ({} event(s) from the sender's log):",
            received.len()
        )?;
        for r in received {
            let state = if r.verified { "proved" } else { "NOT proved" };
            writeln!(
                out,
                "  {} #{} {} ({state})",
                term(&r.origin),
                r.seq,
                term(&r.kind)
            )?;
        }
    }
    Ok(())
}

/// `athar verify`'s report.
pub fn verify_report(
    report: &Report,
    log_size: u64,
    timestamps: &[(u64, String, String)],
    json: bool,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let mut v = serde_json::to_value(report)?;
        v["log_size"] = json!(log_size);
        v["timestamps"] = json!(timestamps
            .iter()
            .map(|(size, file, what)| json!({ "log_size": size, "file": file, "token": what }))
            .collect::<Vec<_>>());
        writeln!(out, "{v}")?;
        return Ok(());
    }
    for (size, file, what) in timestamps {
        writeln!(
            out,
            "Time-stamp over the checkpoint at {size} events: {} ({})",
            term(what),
            term(file)
        )?;
    }
    for e in &report.erased {
        writeln!(
            out,
            "Case {} was erased on {}: {} item(s) and record(s) unreadable for good; their \
             custody events remain in the log.",
            term(&e.case),
            e.at,
            e.subjects
        )?;
    }
    if report.ok {
        writeln!(
            out,
            "OK: {} item(s), {} byte(s) re-hashed and intact; catalog, store and custody log \
             ({log_size} events under a valid signed checkpoint) agree.",
            report.items, report.bytes
        )?;
    } else {
        writeln!(
            out,
            "PROBLEMS: {} found in {} item(s):",
            report.problems.len(),
            report.items
        )?;
        for p in &report.problems {
            let kind = serde_json::to_value(p.kind)?;
            writeln!(
                out,
                "  {}: {}",
                kind.as_str().unwrap_or("problem"),
                term(&p.detail)
            )?;
        }
    }
    Ok(())
}

/// `athar verify-bag`'s report.
pub fn bag_check(c: &athar_core::handover::BagCheck, json: bool) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(c)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "BagIt: {}",
        if c.bagit_valid { "valid" } else { "INVALID" }
    )?;
    for e in &c.bagit_errors {
        writeln!(out, "  error: {}", term(e))?;
    }
    for w in &c.bagit_warnings {
        writeln!(out, "  warning: {}", term(w))?;
    }
    for i in &c.items {
        let state = serde_json::to_value(&i.state)?;
        writeln!(
            out,
            "{:<13} {}  {}",
            state.as_str().unwrap_or("?"),
            term(&i.path),
            term(&i.detail)
        )?;
    }
    for r in &c.records {
        let state = serde_json::to_value(&r.state)?;
        writeln!(
            out,
            "{:<13} {}  {} {}: {}",
            state.as_str().unwrap_or("?"),
            term(&r.at),
            term(r.kind.as_deref().unwrap_or("record")),
            term(r.id.as_deref().unwrap_or("")),
            term(&r.detail)
        )?;
    }
    for t in &c.timestamps {
        let state = if t.ok { "time-stamp" } else { "TIME-STAMP BAD" };
        writeln!(
            out,
            "{state:<13} {} (log size {}): {}",
            term(&t.file),
            t.log_size,
            term(&t.detail)
        )?;
    }
    writeln!(
        out,
        "{}",
        if c.ok {
            if c.records.is_empty() {
                "OK: every item verified."
            } else {
                "OK: every item and record verified (withheld records excepted)."
            }
        } else {
            "NOT VERIFIED: see above."
        }
    )?;
    Ok(())
}

/// `athar jobs`: counts by state, then every job not done, then how many videos' frame
/// variants, and how many items' other records made again alone (local features), are out
/// of date without a job yet (`athar jobs --run` queues and runs them).
pub fn jobs(catalog: &dyn Catalog, json: bool) -> anyhow::Result<()> {
    let jobs = catalog.jobs()?;
    let mut out_of_date = std::collections::BTreeMap::<String, u64>::new();
    for (_, kind) in athar_core::jobs::stale_records_unqueued(
        catalog,
        &athar_analysis::MediaAnalyzer::default(),
    )? {
        *out_of_date.entry(kind).or_default() += 1;
    }
    let stale = out_of_date
        .get(athar_core::jobs::VARIANTS)
        .copied()
        .unwrap_or_default();
    let mut counts = std::collections::BTreeMap::new();
    for j in &jobs {
        *counts.entry(j.state.clone()).or_insert(0u64) += 1;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let pending: Vec<_> = jobs.iter().filter(|j| j.state != "done").collect();
        writeln!(
            out,
            "{}",
            json!({
                "counts": counts,
                "jobs": pending,
                "variants_out_of_date": stale,
                "out_of_date": out_of_date,
            })
        )?;
        return Ok(());
    }
    let line: Vec<String> = counts
        .iter()
        .map(|(k, v)| format!("{v} {}", term(k)))
        .collect();
    writeln!(
        out,
        "Jobs: {}",
        if line.is_empty() {
            "none".to_owned()
        } else {
            line.join(", ")
        }
    )?;
    for j in jobs.iter().filter(|j| j.state != "done") {
        writeln!(
            out,
            "  #{} {} {} item {} (attempts {}){}",
            j.id,
            term(&j.kind),
            term(&j.state),
            term(&j.item),
            j.attempts,
            j.error
                .as_deref()
                .map(|e| format!(": {}", term(e)))
                .unwrap_or_default()
        )?;
    }
    if stale > 0 {
        writeln!(
            out,
            "Frame variants out of date (made by an earlier version) on {stale} video{}: \
             `athar jobs --run` makes them again.",
            if stale == 1 { "" } else { "s" }
        )?;
    }
    for (kind, n) in out_of_date
        .iter()
        .filter(|(k, _)| k.as_str() != athar_core::jobs::VARIANTS)
    {
        writeln!(
            out,
            "Records of kind {} out of date (missing, or made by an earlier version) on {n} \
             item{}: `athar jobs --run` makes them again.",
            term(kind),
            if *n == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}
