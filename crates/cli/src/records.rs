//! `athar case|incident|act|person|org|place|source|claim|link` and `athar records`:
//! the documentation model on the command line. Every flag becomes a field of the record's
//! JSON form, so the CLI, JSON Lines import and the API share one parser and one set of
//! checks (`athar_core::records::parse_line`).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use athar_core::records::{
    self, Change, ChangeError, Line, Quantity, Record, RecordKind, StoredRecord,
};
use athar_core::{Catalog, CoreError, EventDetails, ItemId, StoreError};
use athar_store::Archive;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::output::term;

/// Flags every kind shares.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// The case the record belongs to (required when adding).
    #[arg(long)]
    case: Option<String>,
    /// An identifier of your own (e.g. a spreadsheet row id), unique per kind; other
    /// records can refer to this one by it.
    #[arg(long)]
    key: Option<String>,
    /// Set any field from JSON (or text): `--set 'coordinates={"lat":32.6,"lon":36.1}'`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Remove a field (when editing).
    #[arg(long = "unset", value_name = "FIELD")]
    unset: Vec<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CaseFields {
    /// The case's name (when adding; a case is never renamed).
    name: Option<String>,
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// A role (investigator, analyst, viewer) that may read the identities of the case's
    /// protected sources through the server; repeat for several (admins always can).
    #[arg(long = "protected-reader")]
    protected_readers: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct IncidentFields {
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// YYYY, YYYY-MM, YYYY-MM-DD, FROM/TO (e.g. 2011/2013) or unknown.
    #[arg(long)]
    date: Option<String>,
    /// A place (id, key or place:key); repeat for several.
    #[arg(long = "place")]
    places: Vec<String>,
    /// alleged, corroborated, confirmed, disputed, closed.
    #[arg(long)]
    status: Option<String>,
    /// A related incident; repeat for several.
    #[arg(long = "related")]
    related: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ActFields {
    /// The incident the act is part of.
    #[arg(long)]
    incident: Option<String>,
    /// The violation (torture, killing, arbitrary_detention, destruction_of_remains, …).
    #[arg(long)]
    violation: Option<String>,
    #[arg(long)]
    date: Option<String>,
    #[arg(long = "place")]
    places: Vec<String>,
    #[arg(long)]
    description: Option<String>,
    /// A victim known by name: a person record; repeat for several.
    #[arg(long = "victim")]
    victims: Vec<String>,
    /// A counted group of victims: `~100/day`, `30-40`, `12`.
    #[arg(long)]
    victims_count: Option<String>,
    /// Groups among the counted victims, comma-separated (e.g. `women,children`).
    #[arg(long)]
    victims_include: Option<String>,
    /// Description of the counted victims.
    #[arg(long)]
    victims_description: Option<String>,
    /// A perpetrator: person or org reference, `=involvement` (carried_out, ordered,
    /// commanded, assisted, suspected, alleged; default suspected). Repeat for several.
    #[arg(long = "perpetrator", value_name = "REF[=INVOLVEMENT]")]
    perpetrators: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PersonFields {
    /// A name as attested, in any script; repeat for each form (Arabic, Latin…).
    #[arg(long = "name")]
    names: Vec<String>,
    /// The source that attests the names given with --name.
    #[arg(long)]
    name_source: Option<String>,
    #[arg(long)]
    father_name: Option<String>,
    #[arg(long)]
    mother_name: Option<String>,
    /// female, male, other, unknown.
    #[arg(long)]
    sex: Option<String>,
    #[arg(long)]
    birth_date: Option<String>,
    /// Age at the event: `34`, `30-35`, `~40`.
    #[arg(long)]
    age: Option<String>,
    /// detained, disappeared, dead, released, alive, unknown.
    #[arg(long)]
    status: Option<String>,
    /// Membership of an org: `REF[=role]`; repeat for several.
    #[arg(long = "affiliation", value_name = "REF[=ROLE]")]
    affiliations: Vec<String>,
    #[arg(long)]
    notes: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct OrgFields {
    #[arg(long = "name")]
    names: Vec<String>,
    #[arg(long)]
    name_source: Option<String>,
    /// army, militia, intelligence, police, security, government, armed_group, ngo, media, other.
    #[arg(long = "type")]
    org_type: Option<String>,
    /// The unit or body it belongs to.
    #[arg(long)]
    parent: Option<String>,
    /// When it existed in this form.
    #[arg(long)]
    valid: Option<String>,
    #[arg(long)]
    description: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct PlaceFields {
    #[arg(long = "name")]
    names: Vec<String>,
    #[arg(long)]
    name_source: Option<String>,
    /// detention_facility, checkpoint, burial_site, burning_site, mass_grave, village, …
    #[arg(long = "type")]
    place_type: Option<String>,
    /// `LAT,LON` in decimal degrees.
    #[arg(long)]
    coordinates: Option<String>,
    /// Uncertainty of the coordinates, metres.
    #[arg(long)]
    precision_m: Option<f64>,
    /// OCHA P-code.
    #[arg(long)]
    pcode: Option<String>,
    /// The area it lies in.
    #[arg(long)]
    parent: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct SourceFields {
    /// How the source is referred to (a code name for protected sources).
    #[arg(long)]
    name: Option<String>,
    /// outlet, witness, survivor, relative, ngo, platform, official, document, other.
    #[arg(long = "type")]
    source_type: Option<String>,
    /// reliable, usually_reliable, fairly_reliable, not_usually_reliable, unreliable, unknown.
    #[arg(long)]
    reliability: Option<String>,
    /// public, confidential, protected (default public when adding).
    #[arg(long)]
    protection: Option<String>,
    /// Identifying details (hidden unless revealed when the source is not public).
    #[arg(long)]
    identity: Option<String>,
    #[arg(long)]
    notes: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ClaimFields {
    /// Who claims it.
    #[arg(long)]
    source: Option<String>,
    /// The incident, act, person, place or org it is about.
    #[arg(long)]
    about: Option<String>,
    #[arg(long)]
    statement: Option<String>,
    /// `asserts` (default when adding) or `denies`.
    #[arg(long)]
    stance: Option<String>,
    /// When what is claimed happened.
    #[arg(long)]
    date: Option<String>,
    /// When the claim was made.
    #[arg(long)]
    made: Option<String>,
    /// A number claimed: `WHAT=QUANTITY`, e.g. `bodies burned=~100/day`; repeat for several.
    #[arg(long = "quantity", value_name = "WHAT=QUANTITY")]
    quantities: Vec<String>,
    /// low, medium, high.
    #[arg(long)]
    confidence: Option<String>,
    /// A claim this one corroborates; repeat for several.
    #[arg(long = "corroborates")]
    corroborates: Vec<String>,
    /// A claim this one contradicts; repeat for several.
    #[arg(long = "contradicts")]
    contradicts: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct LinkFields {
    /// The evidence item (id or SHA-256, or a unique prefix).
    #[arg(long)]
    item: Option<String>,
    /// The incident, act, person or place it shows.
    #[arg(long)]
    target: Option<String>,
    /// Start of the relevant range within a video: seconds or M:SS.
    #[arg(long)]
    start: Option<String>,
    #[arg(long)]
    end: Option<String>,
    /// unverified (default when adding), geolocated, chronolocated, verified, disputed.
    #[arg(long)]
    verification: Option<String>,
    #[arg(long)]
    note: Option<String>,
}

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

/// Sets `key` to `v` when given.
fn put(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), v);
    }
}

fn text(v: &Option<String>) -> Option<Value> {
    v.as_ref().map(|s| Value::String(s.clone()))
}

/// A flag's value, or `default` for a record being added (editing keeps what is stored).
fn or_new(v: &Option<String>, adding: bool, default: &str) -> Option<Value> {
    text(v).or_else(|| adding.then(|| Value::String(default.to_owned())))
}

fn list(v: &[String]) -> Option<Value> {
    (!v.is_empty()).then(|| Value::Array(v.iter().map(|s| Value::String(s.clone())).collect()))
}

fn quantity(flag: &str, v: &Option<String>) -> anyhow::Result<Option<Value>> {
    v.as_ref()
        .map(|s| {
            let q = Quantity::parse(s).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))?;
            Ok(serde_json::to_value(q)?)
        })
        .transpose()
}

fn names(names: &[String], source: &Option<String>) -> Option<Value> {
    (!names.is_empty()).then(|| {
        Value::Array(
            names
                .iter()
                .map(|n| {
                    let mut m = Map::new();
                    m.insert("name".into(), Value::String(n.clone()));
                    put(&mut m, "source", text(source));
                    Value::Object(m)
                })
                .collect(),
        )
    })
}

/// Seconds from `90`, `1:30` or `1:02:03`.
fn seconds(flag: &str, v: &Option<String>) -> anyhow::Result<Option<Value>> {
    let Some(s) = v else { return Ok(None) };
    let mut total = 0.0f64;
    for part in s.trim().split(':') {
        let n: f64 = part
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0)
            .with_context(|| format!("--{flag}: {s:?} is not seconds or M:SS"))?;
        total = total * 60.0 + n;
    }
    Ok(Some(json!(total)))
}

/// A `REF=VALUE` flag split in two.
fn split_ref(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('=') {
        Some((r, v)) => (r.trim(), Some(v.trim())),
        None => (s.trim(), None),
    }
}

/// The kind a reference names (for perpetrators, which may be persons or orgs).
fn kind_of(catalog: &dyn Catalog, r: &str, allowed: &[RecordKind]) -> anyhow::Result<RecordKind> {
    if records::is_record_id(r) {
        if let Some(s) = catalog.record_by_id(r)? {
            return Ok(s.record.body.kind());
        }
        bail!("no record {r}");
    }
    if let Some((k, _)) = r.split_once(':') {
        return RecordKind::parse(k).map_err(|e| anyhow::anyhow!(e));
    }
    let kinds: Vec<RecordKind> = catalog
        .records_with_key(r)?
        .into_iter()
        .map(|k| k.kind)
        .filter(|k| allowed.contains(k))
        .collect();
    match kinds.as_slice() {
        [k] => Ok(*k),
        [] => bail!("no {} with id or key {r:?}", join_kinds(allowed)),
        _ => bail!("key {r:?} names several records; write kind:key"),
    }
}

fn join_kinds(k: &[RecordKind]) -> String {
    k.iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The JSON fields a kind's flags set.
pub trait Fields {
    const KIND: RecordKind;
    /// Fields set by flags; `adding` fills defaults a new record needs.
    fn to_fields(&self, catalog: &dyn Catalog, adding: bool) -> anyhow::Result<Map<String, Value>>;
    /// For cases: the name given on the command line.
    fn case_name(&self) -> Option<String> {
        None
    }
}

impl Fields for CaseFields {
    const KIND: RecordKind = RecordKind::Case;
    fn case_name(&self) -> Option<String> {
        self.name.clone()
    }
    fn to_fields(&self, _: &dyn Catalog, _: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "title", text(&self.title));
        put(&mut m, "description", text(&self.description));
        put(&mut m, "protected_readers", list(&self.protected_readers));
        Ok(m)
    }
}

impl Fields for IncidentFields {
    const KIND: RecordKind = RecordKind::Incident;
    fn to_fields(&self, _: &dyn Catalog, _: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "title", text(&self.title));
        put(&mut m, "description", text(&self.description));
        put(&mut m, "date", text(&self.date));
        put(&mut m, "places", list(&self.places));
        put(&mut m, "status", text(&self.status));
        put(&mut m, "related", list(&self.related));
        Ok(m)
    }
}

impl Fields for ActFields {
    const KIND: RecordKind = RecordKind::Act;
    fn to_fields(&self, catalog: &dyn Catalog, _: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "incident", text(&self.incident));
        put(&mut m, "violation", text(&self.violation));
        put(&mut m, "date", text(&self.date));
        put(&mut m, "places", list(&self.places));
        put(&mut m, "description", text(&self.description));
        let mut victims: Vec<Value> = self
            .victims
            .iter()
            .map(|p| json!({ "person": p }))
            .collect();
        if self.victims_count.is_some()
            || self.victims_include.is_some()
            || self.victims_description.is_some()
        {
            let mut g = Map::new();
            put(
                &mut g,
                "count",
                quantity("victims-count", &self.victims_count)?,
            );
            put(&mut g, "description", text(&self.victims_description));
            if let Some(inc) = &self.victims_include {
                let groups: Vec<String> = inc
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                put(&mut g, "includes", list(&groups));
            }
            victims.push(Value::Object(g));
        }
        if !victims.is_empty() {
            m.insert("victims".into(), Value::Array(victims));
        }
        let mut perps = Vec::new();
        for p in &self.perpetrators {
            let (r, involvement) = split_ref(p);
            let kind = kind_of(catalog, r, &[RecordKind::Person, RecordKind::Org])
                .with_context(|| format!("--perpetrator {p}"))?;
            let field = if kind == RecordKind::Org {
                "org"
            } else {
                "person"
            };
            perps.push(json!({ field: r, "involvement": involvement.unwrap_or("suspected") }));
        }
        if !perps.is_empty() {
            m.insert("perpetrators".into(), Value::Array(perps));
        }
        Ok(m)
    }
}

impl Fields for PersonFields {
    const KIND: RecordKind = RecordKind::Person;
    fn to_fields(&self, _: &dyn Catalog, _: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "names", names(&self.names, &self.name_source));
        put(&mut m, "father_name", text(&self.father_name));
        put(&mut m, "mother_name", text(&self.mother_name));
        put(&mut m, "sex", text(&self.sex));
        put(&mut m, "birth_date", text(&self.birth_date));
        put(&mut m, "age", quantity("age", &self.age)?);
        put(&mut m, "status", text(&self.status));
        put(&mut m, "notes", text(&self.notes));
        let affs: Vec<Value> = self
            .affiliations
            .iter()
            .map(|a| match split_ref(a) {
                (r, Some(role)) => json!({ "org": r, "role": role }),
                (r, None) => json!({ "org": r }),
            })
            .collect();
        if !affs.is_empty() {
            m.insert("affiliations".into(), Value::Array(affs));
        }
        Ok(m)
    }
}

impl Fields for OrgFields {
    const KIND: RecordKind = RecordKind::Org;
    fn to_fields(&self, _: &dyn Catalog, _: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "names", names(&self.names, &self.name_source));
        put(&mut m, "org_type", text(&self.org_type));
        put(&mut m, "parent", text(&self.parent));
        put(&mut m, "valid", text(&self.valid));
        put(&mut m, "description", text(&self.description));
        Ok(m)
    }
}

impl Fields for PlaceFields {
    const KIND: RecordKind = RecordKind::Place;
    fn to_fields(&self, _: &dyn Catalog, _: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "names", names(&self.names, &self.name_source));
        put(&mut m, "place_type", text(&self.place_type));
        put(&mut m, "pcode", text(&self.pcode));
        put(&mut m, "parent", text(&self.parent));
        if let Some(c) = &self.coordinates {
            let (lat, lon) = c
                .split_once(',')
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?))
                })
                .with_context(|| format!("--coordinates: {c:?} is not LAT,LON"))?;
            let mut o = json!({ "lat": lat, "lon": lon });
            if let Some(p) = self.precision_m {
                o["precision_m"] = json!(p);
            }
            m.insert("coordinates".into(), o);
        } else if self.precision_m.is_some() {
            bail!("--precision-m needs --coordinates");
        }
        Ok(m)
    }
}

impl Fields for SourceFields {
    const KIND: RecordKind = RecordKind::Source;
    fn to_fields(&self, _: &dyn Catalog, adding: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "name", text(&self.name));
        put(&mut m, "source_type", text(&self.source_type));
        put(&mut m, "reliability", text(&self.reliability));
        put(
            &mut m,
            "protection",
            or_new(&self.protection, adding, "public"),
        );
        put(&mut m, "identity", text(&self.identity));
        put(&mut m, "notes", text(&self.notes));
        Ok(m)
    }
}

impl Fields for ClaimFields {
    const KIND: RecordKind = RecordKind::Claim;
    fn to_fields(&self, _: &dyn Catalog, adding: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "source", text(&self.source));
        put(&mut m, "about", text(&self.about));
        put(&mut m, "statement", text(&self.statement));
        put(&mut m, "stance", or_new(&self.stance, adding, "asserts"));
        put(&mut m, "date", text(&self.date));
        put(&mut m, "made", text(&self.made));
        put(&mut m, "confidence", text(&self.confidence));
        put(&mut m, "corroborates", list(&self.corroborates));
        put(&mut m, "contradicts", list(&self.contradicts));
        let mut qs = Vec::new();
        for q in &self.quantities {
            let (what, value) = split_ref(q);
            let value = value.with_context(|| format!("--quantity {q:?}: write WHAT=QUANTITY"))?;
            qs.push(
                json!({ "what": what, "quantity": quantity("quantity", &Some(value.to_owned()))? }),
            );
        }
        if !qs.is_empty() {
            m.insert("quantities".into(), Value::Array(qs));
        }
        Ok(m)
    }
}

impl Fields for LinkFields {
    const KIND: RecordKind = RecordKind::Link;
    fn to_fields(&self, _: &dyn Catalog, adding: bool) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        put(&mut m, "item", text(&self.item));
        put(&mut m, "target", text(&self.target));
        put(&mut m, "start", seconds("start", &self.start)?);
        put(&mut m, "end", seconds("end", &self.end)?);
        put(
            &mut m,
            "verification",
            or_new(&self.verification, adding, "unverified"),
        );
        put(&mut m, "note", text(&self.note));
        Ok(m)
    }
}

/// Applies `--set` and `--unset` to the fields.
fn apply_common(m: &mut Map<String, Value>, common: &Common) -> anyhow::Result<()> {
    for s in &common.set {
        let (field, value) = s
            .split_once('=')
            .with_context(|| format!("--set {s:?}: write FIELD=VALUE"))?;
        let field = field.trim();
        if ["id", "kind", "case", "key"].contains(&field) {
            bail!("--set {field}: use the command's own option for {field}");
        }
        let v = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        m.insert(field.to_owned(), v);
    }
    for f in &common.unset {
        if m.remove(f.trim()).is_none() {
            bail!("--unset {f}: the record has no such field");
        }
    }
    Ok(())
}

/// Turns a refused change into an input error that names the field.
fn change_error(e: ChangeError) -> anyhow::Error {
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

/// Runs one kind's action against the archive.
pub fn run<F: Fields + Args>(archive: &mut Archive, action: &Action<F>) -> anyhow::Result<()> {
    match action {
        Action::Add { fields, common } => {
            let mut w = archive.writer()?;
            let mut m = fields.to_fields(&*w.catalog, true)?;
            apply_common(&mut m, common)?;
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
            let new = fields.to_fields(&*w.catalog, false)?;
            m.extend(new);
            apply_common(&mut m, common)?;
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
        } => show(&archive.catalog, record, F::KIND, *json, *reveal_protected),
        Action::List { case, json } => {
            list_records(&archive.catalog, F::KIND, case.as_deref(), *json)
        }
    }
}

fn make_line(
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

fn report(applied: &[records::Applied], json: bool) -> anyhow::Result<()> {
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
fn label(catalog: &dyn Catalog, id: &str) -> String {
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

fn show(
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

fn list_records(
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

/// `athar records`.
pub fn records_command(archive: &mut Archive, cmd: &RecordsCommand) -> anyhow::Result<()> {
    match cmd {
        RecordsCommand::Import {
            file,
            format,
            kind,
            case,
            json,
        } => {
            let format = format.clone().unwrap_or_else(|| {
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
                "jsonl" => read_jsonl(reader, &name)?,
                "csv" => {
                    let kind = kind
                        .as_deref()
                        .context("--kind person or --kind incident is needed for CSV")
                        .map_err(|e| input_error("--kind", format!("{e}")))?;
                    let kind = RecordKind::parse(kind).map_err(|e| input_error("--kind", e))?;
                    crate::records_csv::read(reader, &name, kind, case.as_deref())?
                }
                f => {
                    return Err(input_error(
                        "--format",
                        format!("{f:?} is not jsonl or csv"),
                    ))
                }
            };
            let count = lines.len();
            // The index is brought up to date first, so the batch can be indexed while the
            // catalog writes it (two cores busy instead of one after the other).
            athar_store::search_index::update(archive)?;
            let root = archive.root.clone();
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
                    Ok(seqs) => athar_store::search_index::batch_only(&*w.catalog, through, seqs)
                        .unwrap_or(None),
                    Err(_) => None,
                };
                // A closed channel means the indexer already failed; the catalog catches up.
                let _ = decide.send(only);
                let staged = indexer.join().unwrap_or_else(|_| {
                    Err(StoreError::Catalog("indexing thread failed".into()).into())
                });
                (seqs, staged)
            });
            let seqs = seqs.map_err(at_line)?;
            drop(w);
            let (applied, written) = batch.finish(seqs);
            athar_store::search_index::finish_staged(archive, staged, &written)?;
            drop(written);
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for a in &applied {
                *counts.entry(a.action).or_default() += 1;
            }
            if *json {
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
        RecordsCommand::Export {
            case,
            kind,
            format,
            out,
            reveal_protected,
        } => {
            let kind = kind
                .as_deref()
                .map(RecordKind::parse)
                .transpose()
                .map_err(|e| input_error("--kind", e))?;
            let mut all = archive.catalog.records(kind, case.as_deref())?;
            // Records before what refers to them, so the file imports in one pass.
            all.sort_by_key(|s| (kind_order(s.record.body.kind()), s.record.id.clone()));
            let sink: Box<dyn Write> = match out {
                Some(p) => Box::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?,
                ),
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
            match format.as_deref().unwrap_or("jsonl") {
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
    }
}

/// Export order: what others refer to comes first.
fn kind_order(k: RecordKind) -> u8 {
    match k {
        RecordKind::Case => 0,
        RecordKind::Source => 1,
        RecordKind::Org => 2,
        RecordKind::Place => 3,
        RecordKind::Person => 4,
        RecordKind::Incident => 5,
        RecordKind::Act => 6,
        RecordKind::Claim => 7,
        RecordKind::Link => 8,
    }
}

/// Reads JSON Lines: every line parsed and checked; the first problem names its line.
fn read_jsonl(reader: Box<dyn BufRead>, name: &str) -> anyhow::Result<(Vec<Line>, Vec<usize>)> {
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
