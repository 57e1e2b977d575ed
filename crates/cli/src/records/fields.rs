//! The flags of `athar case|incident|act|person|org|place|source|claim|link`, and how each
//! kind's flags become the fields of its JSON Lines form.

use anyhow::{bail, Context as _};
use athar_core::records::{self, Quantity, RecordKind};
use athar_core::Catalog;
use clap::Args;
use serde_json::{json, Map, Value};

/// Flags every kind shares.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// The case the record belongs to (required when adding).
    #[arg(long)]
    pub(super) case: Option<String>,
    /// An identifier of your own (e.g. a spreadsheet row id), unique per case and kind;
    /// other records can refer to this one by it.
    #[arg(long)]
    pub(super) key: Option<String>,
    /// Set any field from JSON (or text): `--set 'coordinates={"lat":32.6,"lon":36.1}'`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Remove a field (when editing).
    #[arg(long = "unset", value_name = "FIELD")]
    unset: Vec<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(super) json: bool,
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
    /// When the person died, was detained or disappeared (what --status says).
    #[arg(long)]
    event_date: Option<String>,
    /// Where, as the list names it (a village, a town, a governorate).
    #[arg(long)]
    event_place: Option<String>,
    /// Membership of an org: `REF[=role]`; repeat for several.
    #[arg(long = "affiliation", value_name = "REF[=ROLE]")]
    affiliations: Vec<String>,
    #[arg(long)]
    notes: Option<String>,
    /// The list (a source record) this record comes from.
    #[arg(long)]
    source: Option<String>,
    /// The list's own id of the row.
    #[arg(long)]
    source_row: Option<String>,
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

/// Sets `key` to `v` when given.
pub(super) fn put(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), v);
    }
}

pub(super) fn text(v: &Option<String>) -> Option<Value> {
    v.as_ref().map(|s| Value::String(s.clone()))
}

/// A flag's value, or `default` for a record being added (editing keeps what is stored).
pub(super) fn or_new(v: &Option<String>, adding: bool, default: &str) -> Option<Value> {
    text(v).or_else(|| adding.then(|| Value::String(default.to_owned())))
}

pub(super) fn list(v: &[String]) -> Option<Value> {
    (!v.is_empty()).then(|| Value::Array(v.iter().map(|s| Value::String(s.clone())).collect()))
}

pub(super) fn quantity(flag: &str, v: &Option<String>) -> anyhow::Result<Option<Value>> {
    v.as_ref()
        .map(|s| {
            let q = Quantity::parse(s).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))?;
            Ok(serde_json::to_value(q)?)
        })
        .transpose()
}

pub(super) fn names(names: &[String], source: &Option<String>) -> Option<Value> {
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
pub(super) fn seconds(flag: &str, v: &Option<String>) -> anyhow::Result<Option<Value>> {
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
pub(super) fn split_ref(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('=') {
        Some((r, v)) => (r.trim(), Some(v.trim())),
        None => (s.trim(), None),
    }
}

/// The kind a reference names (for perpetrators, which may be persons or orgs).
pub(super) fn kind_of(
    catalog: &dyn Catalog,
    r: &str,
    allowed: &[RecordKind],
) -> anyhow::Result<RecordKind> {
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

pub(super) fn join_kinds(k: &[RecordKind]) -> String {
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
        put(&mut m, "event_date", text(&self.event_date));
        put(&mut m, "event_place", text(&self.event_place));
        put(&mut m, "notes", text(&self.notes));
        put(&mut m, "source", text(&self.source));
        put(&mut m, "source_row", text(&self.source_row));
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
pub(super) fn apply_common(m: &mut Map<String, Value>, common: &Common) -> anyhow::Result<()> {
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
