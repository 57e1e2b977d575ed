//! The documentation model: who did what to whom, where and when, after the HURIDOCS
//! Events Standard Formats. Cases, incidents, acts, persons, organisations and units,
//! places and facilities, sources, claims, and links between evidence items and records.
//!
//! A record is a typed body (one of [`Body`]'s kinds) with an id, an optional key (the
//! identifier a spreadsheet or another system gives it), and the case it belongs to. Its
//! canonical form is JSON with sorted keys and no spaces; the SHA-256 of that text is the
//! value hash the custody log records for every create, edit and delete.
//!
//! This module only parses and checks records. Storage is the catalog's; references
//! between records are resolved by [`crate::records::apply`]'s caller through the catalog.

mod apply;
pub mod dates;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use apply::{
    apply, apply_as, apply_keeping, prepare, Applied, Change, ChangeError, KeyedRecord, Pending,
    Prepared, RecordWrite, Restriction, StoredRecord, Written,
};
pub use dates::{DateError, DateValue, Precision};

use crate::model::Sha256;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every term, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The term as stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses a term (`-` and spaces read as `_`, any case).
            pub fn parse(s: &str) -> Result<$name, String> {
                let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                match t.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "{s:?} is not one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The kinds of record.
    RecordKind {
        Case = "case",
        Incident = "incident",
        Act = "act",
        Person = "person",
        Org = "org",
        Place = "place",
        Source = "source",
        Claim = "claim",
        Link = "link",
        Match = "match",
        Capture = "capture",
    }
}

impl RecordKind {
    /// Where this kind comes in an export that imports in one pass: kinds others refer to
    /// come first.
    pub fn export_order(self) -> u8 {
        match self {
            RecordKind::Case => 0,
            RecordKind::Source => 1,
            RecordKind::Org => 2,
            RecordKind::Place => 3,
            RecordKind::Person => 4,
            RecordKind::Incident => 5,
            RecordKind::Act => 6,
            RecordKind::Claim => 7,
            RecordKind::Link => 8,
            RecordKind::Match => 9,
            RecordKind::Capture => 10,
        }
    }
}

vocabulary! {
    /// Violations an act can be (the controlled vocabulary of acts).
    Violation {
        ArbitraryDetention = "arbitrary_detention",
        Torture = "torture",
        IllTreatment = "ill_treatment",
        Killing = "killing",
        DeathInCustody = "death_in_custody",
        EnforcedDisappearance = "enforced_disappearance",
        DestructionOfRemains = "destruction_of_remains",
        MutilationOfRemains = "mutilation_of_remains",
        SexualViolence = "sexual_violence",
        ForcedDisplacement = "forced_displacement",
        Attack = "attack",
        Looting = "looting",
        Other = "other",
    }
}

vocabulary! {
    /// How a perpetrator took part.
    Involvement {
        CarriedOut = "carried_out",
        Ordered = "ordered",
        Commanded = "commanded",
        Assisted = "assisted",
        Suspected = "suspected",
        Alleged = "alleged",
    }
}

vocabulary! {
    /// Where an incident's documentation stands.
    IncidentStatus {
        Alleged = "alleged",
        Corroborated = "corroborated",
        Confirmed = "confirmed",
        Disputed = "disputed",
        Closed = "closed",
    }
}

vocabulary! {
    Sex { Female = "female", Male = "male", Other = "other", Unknown = "unknown" }
}

vocabulary! {
    /// What is known of a person's fate.
    PersonStatus {
        Detained = "detained",
        Disappeared = "disappeared",
        Dead = "dead",
        Released = "released",
        Alive = "alive",
        Unknown = "unknown",
    }
}

vocabulary! {
    OrgType {
        Army = "army",
        Militia = "militia",
        Intelligence = "intelligence",
        Police = "police",
        Security = "security",
        Government = "government",
        ArmedGroup = "armed_group",
        Ngo = "ngo",
        Media = "media",
        Other = "other",
    }
}

vocabulary! {
    PlaceType {
        DetentionFacility = "detention_facility",
        Checkpoint = "checkpoint",
        BurialSite = "burial_site",
        BurningSite = "burning_site",
        MassGrave = "mass_grave",
        Hospital = "hospital",
        Village = "village",
        Town = "town",
        City = "city",
        District = "district",
        Governorate = "governorate",
        Country = "country",
        Area = "area",
        Other = "other",
    }
}

vocabulary! {
    SourceType {
        Outlet = "outlet",
        Witness = "witness",
        Survivor = "survivor",
        Relative = "relative",
        Ngo = "ngo",
        Platform = "platform",
        Official = "official",
        Document = "document",
        Other = "other",
    }
}

vocabulary! {
    /// Source reliability (the Admiralty scale's words).
    Reliability {
        Reliable = "reliable",
        UsuallyReliable = "usually_reliable",
        FairlyReliable = "fairly_reliable",
        NotUsuallyReliable = "not_usually_reliable",
        Unreliable = "unreliable",
        Unknown = "unknown",
    }
}

vocabulary! {
    /// How a source must be protected: identifying details of `confidential` and
    /// `protected` sources are hidden unless explicitly revealed.
    Protection { Public = "public", Confidential = "confidential", Protected = "protected" }
}

vocabulary! {
    /// A role a case may allow to read the identifying details of its non-public sources
    /// (admins always can).
    ReaderRole { Investigator = "investigator", Analyst = "analyst", Viewer = "viewer" }
}

vocabulary! {
    Confidence { Low = "low", Medium = "medium", High = "high" }
}

vocabulary! {
    /// Whether a claim asserts or denies what it is about (an official denial is a claim
    /// that denies).
    Stance { Asserts = "asserts", Denies = "denies" }
}

vocabulary! {
    Verification {
        Unverified = "unverified",
        Geolocated = "geolocated",
        Chronolocated = "chronolocated",
        Verified = "verified",
        Disputed = "disputed",
    }
}

vocabulary! {
    /// What is decided about two person records: whether they are one person (`review`:
    /// not decided, the linkage model was unsure and a reviewer is to look).
    MatchDecision {
        Review = "review",
        Same = "same",
        Different = "different",
    }
}

vocabulary! {
    /// Who made a match's decision: the linkage model (`athar persons link`, which never
    /// overrides a reviewer's decision) or a reviewer.
    Decider {
        Model = "model",
        Reviewer = "reviewer",
    }
}

vocabulary! {
    /// The period a rate is counted over ("about 100 per day").
    Per { Day = "day", Week = "week", Month = "month", Year = "year" }
}

/// A reference to another record: its id, its key, or `kind:key`.
pub type Ref = String;

/// One attested form of a name (Arabic or Latin script), with who gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Name {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Ref>,
}

/// A count, exact or approximate, a range, possibly a rate: `~100/day`, `30-40`, `12`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    pub min: u64,
    pub max: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub approx: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Per>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Quantity {
    /// Parses `[~]N[-M][/PERIOD]`.
    pub fn parse(s: &str) -> Result<Quantity, String> {
        let bad = || format!("{s:?} is not a quantity: write N, N-M, ~N or ~N/day");
        let t = s.trim();
        let (approx, t) = match t.strip_prefix('~') {
            Some(r) => (true, r.trim()),
            None => (false, t),
        };
        let (range, per) = match t.split_once('/') {
            Some((r, p)) => (
                r.trim(),
                Some(Per::parse(p).map_err(|e| format!("{}: {e}", bad()))?),
            ),
            None => (t, None),
        };
        let (min, max) = match range.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let n = range.parse().map_err(|_| bad())?;
                (n, n)
            }
        };
        let q = Quantity {
            min,
            max,
            approx,
            per,
        };
        q.check().map_err(|e| format!("{s:?}: {e}"))?;
        Ok(q)
    }

    fn check(&self) -> Result<(), String> {
        if self.min > self.max {
            return Err(format!("min {} is above max {}", self.min, self.max));
        }
        Ok(())
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.approx {
            f.write_str("~")?;
        }
        write!(f, "{}", self.min)?;
        if self.max != self.min {
            write!(f, "-{}", self.max)?;
        }
        if let Some(p) = self.per {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Roles, besides admins, that may read the identifying details of the case's
    /// confidential and protected sources (none unless listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_readers: Vec<ReaderRole>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<IncidentStatus>,
    /// Incidents this one continues or is part of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Ref>,
}

/// A victim of an act: a known person, or a counted group ("about 100 per day", women and
/// children among them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Victim {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Groups present among the victims, e.g. `women`, `children`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perpetrator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<Ref>,
    pub involvement: Involvement,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Act {
    pub incident: Ref,
    pub violation: Violation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<Ref>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub victims: Vec<Victim>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perpetrators: Vec<Perpetrator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Affiliation {
    pub org: Ref,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub names: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub father_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<DateValue>,
    /// Age at the event, exact or a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PersonStatus>,
    /// When the person died, was detained or disappeared (what `status` says), as the list
    /// gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_date: Option<DateValue>,
    /// Where, as the list names it (a village, a town, a governorate); a place record of
    /// the case with this name places it in its hierarchy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_place: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affiliations: Vec<Affiliation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The list (a source record) this record comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Ref>,
    /// The list's own id of the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_row: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    pub names: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_type: Option<OrgType>,
    /// The unit or body this one belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Ref>,
    /// When the unit existed in this form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<DateValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
    /// Radius of uncertainty in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub names: Vec<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_type: Option<PlaceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    /// OCHA place code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Ref>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// How the source is referred to (for protected sources a code name, e.g. `W-17`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<SourceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reliability: Option<Reliability>,
    pub protection: Protection,
    /// Identifying details (real name, contact): hidden unless revealed when the source
    /// is not public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimQuantity {
    /// What is counted, e.g. `bodies burned`.
    pub what: String,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub source: Ref,
    /// The incident, act, person or place the claim is about.
    pub about: Ref,
    pub statement: String,
    pub stance: Stance,
    /// When what is claimed happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateValue>,
    /// When the claim was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<DateValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<ClaimQuantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corroborates: Vec<Ref>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contradicts: Vec<Ref>,
}

/// An evidence item (or a time range of a video) linked to an incident, act, person or
/// place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The item's id or SHA-256.
    pub item: String,
    pub target: Ref,
    /// Start of the range within a video, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    pub verification: Verification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether two person records are one person: a `same_as` link when the decision is
/// `same`. Persons are never merged: deleting the match, or deciding it otherwise, undoes
/// the link, and every decision is a custody event with who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// The two person records.
    pub persons: Vec<Ref>,
    pub decision: MatchDecision,
    pub by: Decider,
    /// The model's match probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// The model's evidence: the weight (log2 of m/u) of each compared field, for (> 0) or
    /// against (< 0).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub weights: std::collections::BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A capture of a web address: what was asked for, what came back, the files it made
/// (each an item with a `capture` custody event) and what the deletion watch last found.
/// Written by `athar capture`; each change of the watch's state is an edit, so a custody
/// event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// The address asked for.
    pub url: String,
    /// The page's address once loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    /// The hops on the way there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<CaptureHop>,
    /// The final document's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// RFC 3339, UTC.
    pub started: String,
    pub ended: String,
    /// Whether every step finished; otherwise `problems` says what is missing and why.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the page says of itself (meta tags, JSON-LD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_url: Option<String>,
    /// What yt-dlp said of each media entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<CapturedMedia>,
    /// Tool and version.
    #[serde(default)]
    pub tools: std::collections::BTreeMap<String, String>,
    pub network: CaptureNetwork,
    /// Requests recorded in the WACZ.
    #[serde(default)]
    pub requests: u64,
    /// The bundle's files.
    pub artefacts: Vec<CaptureArtefact>,
    /// SHA-256 of the served page's text, which the watch compares against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    /// What the deletion watch last found.
    pub watch: Watch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureHop {
    pub url: String,
    /// The HTTP status that sent the browser on (none: the page itself did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// The searchable parts of a media entry's info.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedMedia {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extractor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploader: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploader_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webpage_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What the network said during a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureNetwork {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cipher: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_chain_sha256: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// One file of a capture: an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureArtefact {
    /// `wacz`, `screenshot`, `pdf`, `html-served`, `media`…
    pub role: String,
    /// Its name in the bundle.
    pub name: String,
    /// The item.
    pub item: String,
    pub sha256: String,
}

/// The deletion watch's last finding on a captured source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// `available`, `changed`, `gone`, `login` or `unreachable`.
    pub state: String,
    /// When it was first found in this state (RFC 3339, UTC).
    pub since: String,
    /// Why (a status, a phrase the page shows, an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The text hash the page has now, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
}

/// The deletion watch's states.
pub const WATCH_STATES: &[&str] = &["available", "changed", "gone", "login", "unreachable"];

/// A record's typed content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Case(CaseRecord),
    Incident(Incident),
    Act(Act),
    Person(Person),
    Org(Org),
    Place(Place),
    Source(Source),
    Claim(Claim),
    Link(Link),
    Match(Match),
    Capture(Box<Capture>),
}

/// A record as stored: id, optional key, case, body.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Stable id (26 characters, like item ids).
    pub id: String,
    /// The id some other system or spreadsheet gave it; unique per case and kind.
    pub key: Option<String>,
    /// The case it belongs to; for a case record, its own name.
    pub case: String,
    pub body: Body,
}

/// Why a record is invalid; `field` names the field (e.g. `names[0].name`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn field_error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// What a reference may point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefField {
    pub field: String,
    pub value: Ref,
    pub kinds: &'static [RecordKind],
}

/// What search indexes of a record besides its kind and case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexFields {
    pub title: String,
    pub text: String,
    pub names: Vec<String>,
    pub date: Option<(i32, i32)>,
    /// References to the places it happened at (resolved to names by the caller).
    pub places: Vec<Ref>,
    pub violations: Vec<String>,
    pub verification: Vec<String>,
}

impl Body {
    pub fn kind(&self) -> RecordKind {
        match self {
            Body::Case(_) => RecordKind::Case,
            Body::Incident(_) => RecordKind::Incident,
            Body::Act(_) => RecordKind::Act,
            Body::Person(_) => RecordKind::Person,
            Body::Org(_) => RecordKind::Org,
            Body::Place(_) => RecordKind::Place,
            Body::Source(_) => RecordKind::Source,
            Body::Claim(_) => RecordKind::Claim,
            Body::Link(_) => RecordKind::Link,
            Body::Match(_) => RecordKind::Match,
            Body::Capture(_) => RecordKind::Capture,
        }
    }

    /// Every reference the body makes, with the kinds each may point at.
    pub fn refs(&self) -> Vec<RefField> {
        use RecordKind as K;
        let mut out = Vec::new();
        let mut add = |field: String, value: &Ref, kinds: &'static [RecordKind]| {
            out.push(RefField {
                field,
                value: value.clone(),
                kinds,
            });
        };
        let names = |names: &[Name], add: &mut dyn FnMut(String, &Ref, &'static [RecordKind])| {
            for (i, n) in names.iter().enumerate() {
                if let Some(s) = &n.source {
                    add(format!("names[{i}].source"), s, &[K::Source]);
                }
            }
        };
        match self {
            Body::Case(_) => {}
            Body::Incident(x) => {
                for (i, p) in x.places.iter().enumerate() {
                    add(format!("places[{i}]"), p, &[K::Place]);
                }
                for (i, r) in x.related.iter().enumerate() {
                    add(format!("related[{i}]"), r, &[K::Incident]);
                }
            }
            Body::Act(x) => {
                add("incident".into(), &x.incident, &[K::Incident]);
                for (i, p) in x.places.iter().enumerate() {
                    add(format!("places[{i}]"), p, &[K::Place]);
                }
                for (i, v) in x.victims.iter().enumerate() {
                    if let Some(p) = &v.person {
                        add(format!("victims[{i}].person"), p, &[K::Person]);
                    }
                }
                for (i, p) in x.perpetrators.iter().enumerate() {
                    if let Some(r) = &p.person {
                        add(format!("perpetrators[{i}].person"), r, &[K::Person]);
                    }
                    if let Some(r) = &p.org {
                        add(format!("perpetrators[{i}].org"), r, &[K::Org]);
                    }
                }
            }
            Body::Person(x) => {
                names(&x.names, &mut add);
                for (i, a) in x.affiliations.iter().enumerate() {
                    add(format!("affiliations[{i}].org"), &a.org, &[K::Org]);
                }
                if let Some(s) = &x.source {
                    add("source".into(), s, &[K::Source]);
                }
            }
            Body::Org(x) => {
                names(&x.names, &mut add);
                if let Some(p) = &x.parent {
                    add("parent".into(), p, &[K::Org]);
                }
            }
            Body::Place(x) => {
                names(&x.names, &mut add);
                if let Some(p) = &x.parent {
                    add("parent".into(), p, &[K::Place]);
                }
            }
            Body::Source(_) => {}
            Body::Claim(x) => {
                add("source".into(), &x.source, &[K::Source]);
                add(
                    "about".into(),
                    &x.about,
                    &[K::Incident, K::Act, K::Person, K::Place, K::Org],
                );
                for (i, r) in x.corroborates.iter().enumerate() {
                    add(format!("corroborates[{i}]"), r, &[K::Claim]);
                }
                for (i, r) in x.contradicts.iter().enumerate() {
                    add(format!("contradicts[{i}]"), r, &[K::Claim]);
                }
            }
            Body::Link(x) => add(
                "target".into(),
                &x.target,
                &[K::Incident, K::Act, K::Person, K::Place],
            ),
            Body::Match(x) => {
                for (i, p) in x.persons.iter().enumerate() {
                    add(format!("persons[{i}]"), p, &[K::Person]);
                }
            }
            Body::Capture(_) => {}
        }
        out
    }

    /// Rewrites every reference with `f` (e.g. keys to ids).
    pub fn map_refs(&mut self, f: &mut dyn FnMut(&str, &Ref) -> Ref) {
        let names = |names: &mut [Name], f: &mut dyn FnMut(&str, &Ref) -> Ref| {
            for (i, n) in names.iter_mut().enumerate() {
                if let Some(s) = &n.source {
                    n.source = Some(f(&format!("names[{i}].source"), s));
                }
            }
        };
        let list = |v: &mut Vec<Ref>, name: &str, f: &mut dyn FnMut(&str, &Ref) -> Ref| {
            for (i, r) in v.iter_mut().enumerate() {
                *r = f(&format!("{name}[{i}]"), r);
            }
        };
        match self {
            Body::Case(_) | Body::Source(_) => {}
            Body::Incident(x) => {
                list(&mut x.places, "places", f);
                list(&mut x.related, "related", f);
            }
            Body::Act(x) => {
                x.incident = f("incident", &x.incident);
                list(&mut x.places, "places", f);
                for (i, v) in x.victims.iter_mut().enumerate() {
                    if let Some(p) = &v.person {
                        v.person = Some(f(&format!("victims[{i}].person"), p));
                    }
                }
                for (i, p) in x.perpetrators.iter_mut().enumerate() {
                    if let Some(r) = &p.person {
                        p.person = Some(f(&format!("perpetrators[{i}].person"), r));
                    }
                    if let Some(r) = &p.org {
                        p.org = Some(f(&format!("perpetrators[{i}].org"), r));
                    }
                }
            }
            Body::Person(x) => {
                names(&mut x.names, f);
                for (i, a) in x.affiliations.iter_mut().enumerate() {
                    a.org = f(&format!("affiliations[{i}].org"), &a.org);
                }
                if let Some(s) = &x.source {
                    x.source = Some(f("source", s));
                }
            }
            Body::Org(x) => {
                names(&mut x.names, f);
                if let Some(p) = &x.parent {
                    x.parent = Some(f("parent", p));
                }
            }
            Body::Place(x) => {
                names(&mut x.names, f);
                if let Some(p) = &x.parent {
                    x.parent = Some(f("parent", p));
                }
            }
            Body::Claim(x) => {
                x.source = f("source", &x.source);
                x.about = f("about", &x.about);
                list(&mut x.corroborates, "corroborates", f);
                list(&mut x.contradicts, "contradicts", f);
            }
            Body::Link(x) => x.target = f("target", &x.target),
            Body::Match(x) => list(&mut x.persons, "persons", f),
            Body::Capture(_) => {}
        }
    }

    /// Checks what the types alone cannot: required text present, ranges ordered,
    /// coordinates on Earth, a victim or perpetrator saying who.
    pub fn check(&self) -> Result<(), FieldError> {
        let text = |field: &str, s: &str| {
            if s.trim().is_empty() {
                Err(field_error(field, "must not be empty"))
            } else if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                Err(field_error(field, "contains control characters"))
            } else {
                Ok(())
            }
        };
        let opt = |field: &str, s: &Option<String>| match s {
            Some(s) => text(field, s),
            None => Ok(()),
        };
        let names = |names: &[Name]| {
            if names.is_empty() {
                return Err(field_error("names", "at least one name is required"));
            }
            for (i, n) in names.iter().enumerate() {
                text(&format!("names[{i}].name"), &n.name)?;
            }
            Ok(())
        };
        let qty = |field: &str, q: &Quantity| q.check().map_err(|e| field_error(field, e));
        match self {
            Body::Case(x) => {
                opt("title", &x.title)?;
                opt("description", &x.description)?;
            }
            Body::Incident(x) => {
                text("title", &x.title)?;
                opt("description", &x.description)?;
            }
            Body::Act(x) => {
                opt("description", &x.description)?;
                for (i, v) in x.victims.iter().enumerate() {
                    if v.person.is_some() && v.count.is_some() {
                        return Err(field_error(
                            format!("victims[{i}]"),
                            "a victim is either a person or a counted group, not both",
                        ));
                    }
                    if v.person.is_none() && v.count.is_none() && v.description.is_none() {
                        return Err(field_error(
                            format!("victims[{i}]"),
                            "give a person, a count or a description",
                        ));
                    }
                    if let Some(q) = &v.count {
                        qty(&format!("victims[{i}].count"), q)?;
                    }
                    opt(&format!("victims[{i}].description"), &v.description)?;
                    for (j, g) in v.includes.iter().enumerate() {
                        text(&format!("victims[{i}].includes[{j}]"), g)?;
                    }
                }
                for (i, p) in x.perpetrators.iter().enumerate() {
                    if p.person.is_some() == p.org.is_some() {
                        return Err(field_error(
                            format!("perpetrators[{i}]"),
                            "give exactly one of person or org",
                        ));
                    }
                }
            }
            Body::Person(x) => {
                names(&x.names)?;
                opt("father_name", &x.father_name)?;
                opt("mother_name", &x.mother_name)?;
                opt("notes", &x.notes)?;
                opt("event_place", &x.event_place)?;
                opt("source_row", &x.source_row)?;
                if let Some(q) = &x.age {
                    qty("age", q)?;
                    if q.max > 150 || q.per.is_some() {
                        return Err(field_error("age", "must be years of age, at most 150"));
                    }
                }
            }
            Body::Org(x) => {
                names(&x.names)?;
                opt("description", &x.description)?;
            }
            Body::Place(x) => {
                names(&x.names)?;
                opt("pcode", &x.pcode)?;
                if let Some(c) = &x.coordinates {
                    if !(-90.0..=90.0).contains(&c.lat) {
                        return Err(field_error("coordinates.lat", "must be within -90..90"));
                    }
                    if !(-180.0..=180.0).contains(&c.lon) {
                        return Err(field_error("coordinates.lon", "must be within -180..180"));
                    }
                    if c.precision_m.is_some_and(|p| !(p >= 0.0 && p.is_finite())) {
                        return Err(field_error(
                            "coordinates.precision_m",
                            "must be a distance in metres",
                        ));
                    }
                }
            }
            Body::Source(x) => {
                text("name", &x.name)?;
                opt("identity", &x.identity)?;
                opt("notes", &x.notes)?;
            }
            Body::Claim(x) => {
                text("statement", &x.statement)?;
                for (i, q) in x.quantities.iter().enumerate() {
                    text(&format!("quantities[{i}].what"), &q.what)?;
                    qty(&format!("quantities[{i}].quantity"), &q.quantity)?;
                }
            }
            Body::Link(x) => {
                text("item", &x.item)?;
                opt("note", &x.note)?;
                for (field, v) in [("start", x.start), ("end", x.end)] {
                    if v.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
                        return Err(field_error(field, "must be seconds from the start, ≥ 0"));
                    }
                }
                if let (Some(a), Some(b)) = (x.start, x.end) {
                    if a > b {
                        return Err(field_error("end", "must not be before start"));
                    }
                }
            }
            Body::Match(x) => {
                if x.persons.len() != 2 {
                    return Err(field_error("persons", "must name exactly two persons"));
                }
                if x.persons[0] == x.persons[1] {
                    return Err(field_error("persons[1]", "must differ from persons[0]"));
                }
                if x.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                    return Err(field_error("probability", "must be within 0..1"));
                }
                for (k, w) in &x.weights {
                    if !w.is_finite() {
                        return Err(field_error(format!("weights.{k}"), "must be a number"));
                    }
                }
                if x.decision == MatchDecision::Review && x.by == Decider::Reviewer {
                    return Err(field_error(
                        "decision",
                        "a reviewer decides same or different",
                    ));
                }
                opt("note", &x.note)?;
            }
            Body::Capture(x) => {
                text("url", &x.url)?;
                if !(x.url.starts_with("http://") || x.url.starts_with("https://")) {
                    return Err(field_error("url", "must be an http:// or https:// address"));
                }
                text("started", &x.started)?;
                text("ended", &x.ended)?;
                if x.complete && !x.problems.is_empty() {
                    return Err(field_error(
                        "complete",
                        "a capture with problems is not complete",
                    ));
                }
                if x.artefacts.is_empty() {
                    return Err(field_error(
                        "artefacts",
                        "a capture holds at least one file",
                    ));
                }
                for (i, a) in x.artefacts.iter().enumerate() {
                    text(&format!("artefacts[{i}].role"), &a.role)?;
                    text(&format!("artefacts[{i}].item"), &a.item)?;
                    if a.sha256.parse::<crate::model::Sha256>().is_err() {
                        return Err(field_error(
                            format!("artefacts[{i}].sha256"),
                            "must be a SHA-256 in lower-case hex",
                        ));
                    }
                }
                if !WATCH_STATES.contains(&x.watch.state.as_str()) {
                    return Err(field_error(
                        "watch.state",
                        format!("must be one of {}", WATCH_STATES.join(", ")),
                    ));
                }
                text("watch.since", &x.watch.since)?;
                opt("note", &x.note)?;
            }
        }
        Ok(())
    }

    /// A one-line title for listings.
    pub fn title(&self) -> String {
        let first = |n: &[Name]| n.first().map(|n| n.name.clone()).unwrap_or_default();
        match self {
            Body::Case(x) => x.title.clone().unwrap_or_default(),
            Body::Incident(x) => x.title.clone(),
            Body::Act(x) => x.violation.as_str().replace('_', " "),
            Body::Person(x) => first(&x.names),
            Body::Org(x) => first(&x.names),
            Body::Place(x) => first(&x.names),
            Body::Source(x) => x.name.clone(),
            Body::Claim(x) => x.statement.chars().take(120).collect(),
            Body::Link(x) => format!("{} → {} ({})", x.item, x.target, x.verification),
            Body::Match(x) => format!("{} {}", x.persons.join(" ~ "), x.decision),
            Body::Capture(x) => x.title.clone().unwrap_or_else(|| x.url.clone()),
        }
    }

    /// The places whose names [`Body::index_fields`]' `places` lists (by id or key).
    pub fn indexed_places(&self) -> &[String] {
        match self {
            Body::Incident(x) => &x.places,
            Body::Act(x) => &x.places,
            _ => &[],
        }
    }

    /// What search indexes.
    pub fn index_fields(&self) -> IndexFields {
        let mut f = IndexFields {
            title: self.title(),
            ..IndexFields::default()
        };
        let push = |v: &mut String, s: &Option<String>| {
            if let Some(s) = s {
                v.push_str(s);
                v.push('\n');
            }
        };
        let days = |d: &Option<DateValue>| d.as_ref().and_then(DateValue::days);
        match self {
            Body::Case(x) => push(&mut f.text, &x.description),
            Body::Incident(x) => {
                push(&mut f.text, &x.description);
                f.date = days(&x.date);
                f.places.clone_from(&x.places);
            }
            Body::Act(x) => {
                push(&mut f.text, &x.description);
                for v in &x.victims {
                    push(&mut f.text, &v.description);
                    f.text.push_str(&v.includes.join(" "));
                }
                f.date = days(&x.date);
                f.places.clone_from(&x.places);
                f.violations.push(x.violation.as_str().to_owned());
            }
            Body::Person(x) => {
                f.names = x.names.iter().map(|n| n.name.clone()).collect();
                // Where the father's name is known, each name is also searched in the
                // given–father–family order that lists write (`Mohammed al-Khatib` with
                // father `Khaled` as `Mohammed Khaled al-Khatib`).
                if let Some(father) = &x.father_name {
                    for n in &x.names {
                        if let Some(full) = with_father(&n.name, father) {
                            f.names.push(full);
                        }
                    }
                }
                f.names.extend(x.father_name.iter().cloned());
                f.names.extend(x.mother_name.iter().cloned());
                push(&mut f.text, &x.notes);
                push(&mut f.text, &x.event_place);
                if let Some(s) = x.status {
                    f.text.push_str(s.as_str());
                }
                f.date = days(&x.event_date);
            }
            Body::Org(x) => {
                f.names = x.names.iter().map(|n| n.name.clone()).collect();
                push(&mut f.text, &x.description);
            }
            Body::Place(x) => {
                f.names = x.names.iter().map(|n| n.name.clone()).collect();
                push(&mut f.text, &x.pcode);
            }
            Body::Source(x) => {
                f.names.push(x.name.clone());
                push(&mut f.text, &x.notes);
            }
            Body::Claim(x) => {
                f.text.push_str(&x.statement);
                for q in &x.quantities {
                    f.text.push('\n');
                    f.text.push_str(&q.what);
                }
                f.date = days(&x.date);
            }
            Body::Link(x) => {
                push(&mut f.text, &x.note);
                f.verification.push(x.verification.as_str().to_owned());
            }
            Body::Match(x) => push(&mut f.text, &x.note),
            Body::Capture(x) => {
                // Found by address (whole, and each part of the host: `example.org` finds
                // `www.example.org`), by uploader, channel and title.
                for u in std::iter::once(&x.url).chain(&x.final_url) {
                    f.text.push_str(u);
                    f.text.push('\n');
                    if let Some(host) = u
                        .split("://")
                        .nth(1)
                        .and_then(|r| r.split(['/', '?', '#', ':']).next())
                    {
                        f.text.push_str(&host.replace('.', " "));
                        f.text.push('\n');
                        f.text.push_str(host.trim_start_matches("www."));
                        f.text.push('\n');
                    }
                }
                for v in [&x.author, &x.site_name, &x.description] {
                    push(&mut f.text, v);
                }
                for m in &x.media {
                    for v in [
                        &m.title,
                        &m.uploader,
                        &m.uploader_id,
                        &m.channel,
                        &m.channel_id,
                        &m.description,
                    ] {
                        push(&mut f.text, v);
                    }
                }
                push(&mut f.text, &x.note);
                f.text.push_str(&x.watch.state);
            }
        }
        f
    }

    /// The body with identifying details of non-public sources removed.
    pub fn redacted(&self) -> Body {
        match self {
            Body::Source(s) if s.protection != Protection::Public && s.identity.is_some() => {
                let mut s = s.clone();
                s.identity = Some(REDACTED.to_owned());
                Body::Source(s)
            }
            b => b.clone(),
        }
    }
}

impl Body {
    /// Whether the body holds details that [`Body::redacted`] hides.
    pub fn has_protected(&self) -> bool {
        self.redacted() != *self
    }

    /// For a writer who may not read the protected details of `old` (what the record holds
    /// now): keeps those details as stored. What the writer was shown in their place
    /// ([`REDACTED`]), or nothing, keeps them; any other value, even the right one, is
    /// refused with the field's name, so a write never confirms a guess.
    pub fn keep_protected(&mut self, old: &Body) -> Result<(), &'static str> {
        let (Body::Source(new), Body::Source(o)) = (self, old) else {
            return Ok(());
        };
        if !old.has_protected() {
            return Ok(());
        }
        match new.identity.as_deref() {
            None | Some(REDACTED) => new.identity.clone_from(&o.identity),
            Some(_) => return Err("identity"),
        }
        if new.protection != o.protection {
            return Err("protection");
        }
        Ok(())
    }
}

/// What replaces a protected source's identifying details when they are not revealed.
pub const REDACTED: &str = "[protected]";

impl Record {
    /// The canonical JSON the value hash covers: the body with `case` and `key`, sorted
    /// keys, no spaces. The id is not part of it (it names the record, the log names it).
    pub fn canonical(&self) -> String {
        self.canonical_value().to_string()
    }

    /// The canonical form as a JSON value (an object with sorted keys).
    fn canonical_value(&self) -> Value {
        let mut v = serde_json::to_value(&self.body).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("case".into(), Value::String(self.case.clone()));
            if let Some(k) = &self.key {
                m.insert("key".into(), Value::String(k.clone()));
            }
        }
        v
    }

    /// SHA-256 of [`Record::canonical`].
    pub fn value_hash(&self) -> Sha256 {
        value_hash(&self.canonical())
    }

    /// The record as one JSON Lines object: the canonical form with its `id`.
    pub fn to_line(&self) -> Value {
        let mut v = self.canonical_value();
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), Value::String(self.id.clone()));
        }
        v
    }

    /// Parses a stored canonical body.
    pub fn from_canonical(id: &str, json: &str) -> Result<Record, FieldError> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| field_error("body", e.to_string()))?;
        let line = parse_line(v)?;
        Ok(Record {
            id: id.to_owned(),
            key: line.key,
            case: line.case.unwrap_or_default(),
            body: line.body,
        })
    }
}

/// One record as written in JSON Lines: every field optional but `kind`; `id` and `key`
/// name it, `case` places it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub id: Option<String>,
    pub key: Option<String>,
    pub case: Option<String>,
    pub body: Body,
}

/// Parses one JSON Lines object into a record line, naming the field at fault.
pub fn parse_line(v: Value) -> Result<Line, FieldError> {
    let Value::Object(mut m) = v else {
        return Err(field_error("record", "must be a JSON object"));
    };
    let mut take = |name: &str| -> Result<Option<String>, FieldError> {
        match m.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty() || t.chars().any(char::is_control) {
                    Err(field_error(name, "must be non-empty text on one line"))
                } else {
                    Ok(Some(t.to_owned()))
                }
            }
            Some(_) => Err(field_error(name, "must be a string")),
        }
    };
    let id = take("id")?;
    let key = take("key")?;
    let case = take("case")?;
    if let Some(k) = &key {
        if k.contains(':') {
            return Err(field_error("key", "must not contain ':'"));
        }
    }
    if !m.contains_key("kind") {
        return Err(field_error("kind", "missing"));
    }
    let kind = match m.remove("kind") {
        Some(Value::String(k)) => RecordKind::parse(&k).map_err(|e| field_error("kind", e))?,
        _ => return Err(field_error("kind", "must be a string")),
    };
    let body = body_from(kind, Value::Object(m))?;
    body.check()?;
    Ok(Line {
        id,
        key,
        case,
        body,
    })
}

/// Deserialises a kind's fields, naming the field at fault (`names[0].name`).
fn body_from(kind: RecordKind, v: Value) -> Result<Body, FieldError> {
    fn de<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, FieldError> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "record".to_owned()
            } else {
                path
            };
            field_error(field, e.into_inner().to_string())
        })
    }
    Ok(match kind {
        RecordKind::Case => Body::Case(de(v)?),
        RecordKind::Incident => Body::Incident(de(v)?),
        RecordKind::Act => Body::Act(de(v)?),
        RecordKind::Person => Body::Person(de(v)?),
        RecordKind::Org => Body::Org(de(v)?),
        RecordKind::Place => Body::Place(de(v)?),
        RecordKind::Source => Body::Source(de(v)?),
        RecordKind::Claim => Body::Claim(de(v)?),
        RecordKind::Link => Body::Link(de(v)?),
        RecordKind::Match => Body::Match(de(v)?),
        RecordKind::Capture => Body::Capture(de(v)?),
    })
}

/// SHA-256 of a record's canonical text.
pub fn value_hash(canonical: &str) -> Sha256 {
    use sha2::Digest;
    Sha256(sha2::Sha256::digest(canonical.as_bytes()).into())
}

/// Whether text is a valid record id (the item id form: 26 Crockford base-32 characters).
pub fn is_record_id(s: &str) -> bool {
    crate::model::ItemId::parse(s).is_some()
}

/// `name` with the father's name after its first word, when it has at least two words and
/// does not already contain the father's name.
fn with_father(name: &str, father: &str) -> Option<String> {
    let words: Vec<&str> = name.split_whitespace().collect();
    let father_words: Vec<String> = father.split_whitespace().map(str::to_lowercase).collect();
    if words.len() < 2 || father_words.is_empty() {
        return None;
    }
    let name_words: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    if name_words
        .windows(father_words.len())
        .any(|w| w == father_words.as_slice())
    {
        return None;
    }
    Some(format!(
        "{} {} {}",
        words[0],
        father.split_whitespace().collect::<Vec<_>>().join(" "),
        words[1..].join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_father_is_searched_in_its_place() {
        assert_eq!(
            with_father("Mohammed al-Khatib", " Khaled ").as_deref(),
            Some("Mohammed Khaled al-Khatib")
        );
        assert_eq!(
            with_father("محمد الخطيب", "خالد").as_deref(),
            Some("محمد خالد الخطيب")
        );
        assert_eq!(with_father("Mohammed Khaled al-Khatib", "khaled"), None);
        assert_eq!(with_father("Mohammed", "Khaled"), None);
        assert_eq!(with_father("Mohammed al-Khatib", "  "), None);
    }

    fn line(json: &str) -> Result<Line, FieldError> {
        parse_line(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn parses_and_names_bad_fields() {
        let ok = line(
            r#"{"kind":"person","case":"c","key":"p1","names":[{"name":"سامر الخطيب"},{"name":"Samer al-Khatib"}],"status":"dead","age":{"min":30,"max":35,"approx":true}}"#,
        )
        .unwrap();
        assert_eq!(ok.key.as_deref(), Some("p1"));
        assert_eq!(ok.body.kind(), RecordKind::Person);
        let check = |json: &str, field: &str, needle: &str| {
            let e = line(json).unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
            assert!(e.message.contains(needle), "{json}: {e}");
        };
        check(r#"{"names":[]}"#, "kind", "missing");
        check(r#"{"kind":"persn","names":[]}"#, "kind", "not one of");
        check(r#"{"kind":"person","names":[]}"#, "names", "at least one");
        check(
            r#"{"kind":"person","names":[{"name":" "}]}"#,
            "names[0].name",
            "empty",
        );
        check(
            r#"{"kind":"person","names":[{"nam":"x"}]}"#,
            "names[0].nam",
            "unknown field",
        );
        check(
            r#"{"kind":"person","names":[{"name":"x"}],"status":"gone"}"#,
            "status",
            "unknown variant",
        );
        check(
            r#"{"kind":"incident","title":"x","date":"2012-13"}"#,
            "date",
            "not a date",
        );
        check(
            r#"{"kind":"place","names":[{"name":"x"}],"coordinates":{"lat":91,"lon":0}}"#,
            "coordinates.lat",
            "-90",
        );
        check(
            r#"{"kind":"act","incident":"i","violation":"killing","perpetrators":[{"involvement":"ordered"}]}"#,
            "perpetrators[0]",
            "exactly one",
        );
        check(
            r#"{"kind":"link","item":"x","target":"t","verification":"verified","start":5,"end":2}"#,
            "end",
            "before start",
        );
        check(r#"{"kind":"case","key":"a:b"}"#, "key", "':'");
        check(r#"{"kind":"case","case":7}"#, "case", "string");
    }

    #[test]
    fn canonical_is_stable_and_sorted() {
        let l =
            line(r#"{"status":"dead","names":[{"name":"A"}],"kind":"person","case":"c"}"#).unwrap();
        let r = Record {
            id: "x".into(),
            key: l.key,
            case: l.case.unwrap(),
            body: l.body,
        };
        assert_eq!(
            r.canonical(),
            r#"{"case":"c","kind":"person","names":[{"name":"A"}],"status":"dead"}"#
        );
        let back = Record::from_canonical("x", &r.canonical()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.value_hash(), r.value_hash());
    }

    #[test]
    fn quantities() {
        for (text, shown) in [
            ("~100/day", "~100/day"),
            ("30-40", "30-40"),
            (" 12 ", "12"),
            ("~ 5 - 7 / week", "~5-7/week"),
        ] {
            assert_eq!(Quantity::parse(text).unwrap().to_string(), shown);
        }
        for bad in ["", "x", "5-3", "~", "10/fortnight", "-4"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vocabulary_parsing() {
        assert_eq!(
            Violation::parse("Enforced disappearance"),
            Ok(Violation::EnforcedDisappearance)
        );
        assert!(Violation::parse("bad").unwrap_err().contains("torture"));
    }

    #[test]
    fn protected_identity_is_redacted() {
        let l = line(r#"{"kind":"source","name":"W-17","protection":"protected","identity":"Real Name, +000"}"#).unwrap();
        match l.body.redacted() {
            Body::Source(s) => assert_eq!(s.identity.as_deref(), Some(REDACTED)),
            _ => panic!(),
        }
    }
}
