//! An item's human label: its best name (the first original file name its custody events
//! record, else the title its container's metadata gives), its kind, duration and date, for
//! listings where a 26-character id alone says nothing.
//!
//! A label is made only from the events it is given: callers that see part of an item's
//! history (a member of one of its cases) pass the events they may see, so a name recorded
//! under another case never shows.

use serde::Serialize;

use crate::{Catalog, CustodyEvent, EventDetails, Item, ItemId, StoreError};

/// What an item is called, and the parts its one-line text is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    /// One line: `name · kind · duration · date` (the parts known).
    pub text: String,
    /// The first original file name, else the container's title; none for items Athar made.
    pub name: Option<String>,
    /// `video`, `image`, `audio`, `pdf` or the media type.
    pub kind: String,
    /// A video's or a recording's duration in seconds, from its metadata record.
    pub duration_s: Option<f64>,
    /// The day the bytes were first preserved (UTC, `YYYY-MM-DD`).
    pub date: String,
    /// For an item Athar made (a review image): what it is and what it was made from.
    pub derived: Option<DerivedFrom>,
}

/// What a derived item was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DerivedFrom {
    pub source: ItemId,
    /// E.g. `review-thumbnail-blurred`.
    pub role: String,
}

/// The label of `item`, from `events` (those the caller may see) and its metadata record.
pub fn label(
    catalog: &dyn Catalog,
    item: &Item,
    events: &[CustodyEvent],
) -> Result<Label, StoreError> {
    let metadata = catalog
        .fingerprints(&item.id)?
        .into_iter()
        .find(|f| f.algorithm == "metadata")
        .map(|f| f.data);
    Ok(label_from(item, events, metadata.as_deref()))
}

/// Whether an item was made by Athar (its first event is `derived`) rather than collected.
pub fn is_derived(events: &[CustodyEvent]) -> bool {
    matches!(
        events.first().map(|e| &e.details),
        Some(EventDetails::Derived(_))
    )
}

/// [`label`] from what was read: `metadata` is the metadata record's JSON, when there is one.
pub fn label_from(item: &Item, events: &[CustodyEvent], metadata: Option<&str>) -> Label {
    let meta: Option<serde_json::Value> = metadata.and_then(|m| serde_json::from_str(m).ok());
    let derived = events.iter().find_map(|e| match &e.details {
        EventDetails::Derived(d) => Some(DerivedFrom {
            source: d.source.clone(),
            role: d.role.clone(),
        }),
        _ => None,
    });
    let name = events
        .iter()
        .find_map(|e| match &e.details {
            EventDetails::Sighting(s) if !s.original_name.trim().is_empty() => {
                Some(one_line(&s.original_name))
            }
            _ => None,
        })
        .or_else(|| {
            meta.as_ref()
                .and_then(|m| m["raw"]["format"]["tags"]["title"].as_str())
                .map(one_line)
                .filter(|t| !t.is_empty())
        });
    let kind = kind_of(&item.media_type);
    let duration_s = meta
        .as_ref()
        .and_then(|m| m["duration_s"].as_f64())
        .filter(|d| d.is_finite() && *d > 0.0)
        .filter(|_| matches!(kind.as_str(), "video" | "audio"));
    let date = item
        .created_at
        .get(..10)
        .unwrap_or(&item.created_at)
        .to_owned();
    let mut parts: Vec<String> = Vec::new();
    match (&name, &derived) {
        (Some(n), _) => parts.push(n.clone()),
        (None, Some(d)) => parts.push(format!("{} of {}", d.role, d.source)),
        (None, None) => {}
    }
    parts.push(kind.clone());
    if let Some(d) = duration_s {
        parts.push(clock(d));
    }
    parts.push(date.clone());
    Label {
        text: parts.join(" · "),
        name,
        kind,
        duration_s,
        date,
        derived,
    }
}

/// A duration as `m:ss`, or `h:mm:ss` from an hour.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn kind_of(media_type: &str) -> String {
    let top = media_type.split('/').next().unwrap_or_default();
    match top {
        "video" | "image" | "audio" => top.to_owned(),
        _ if media_type == "application/pdf" => "pdf".to_owned(),
        _ => media_type.to_owned(),
    }
}

/// The name as given, without surrounding spaces. Control characters a file name may hold
/// (a newline, an escape sequence) are kept: the label shows what is there, and each output
/// escapes them (the CLI's terminal output) or shows them as text (the web app).
fn one_line(s: &str) -> String {
    s.trim().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Derived, EventKind, Sha256, Sighting};

    fn item(media_type: &str) -> Item {
        Item {
            id: ItemId::parse("01HZZZZZZZZZZZZZZZZZZZZZZZ").unwrap(),
            sha256: Sha256([7; 32]),
            size: 10,
            media_type: media_type.to_owned(),
            created_at: "2026-03-04T05:06:07.000000Z".to_owned(),
        }
    }

    fn event(item: &Item, details: EventDetails) -> CustodyEvent {
        CustodyEvent {
            seq: 1,
            item: item.id.clone(),
            kind: EventKind::Ingest,
            at: item.created_at.clone(),
            actor: "tester".to_owned(),
            details,
            salt: None,
        }
    }

    fn sighting(name: &str) -> EventDetails {
        EventDetails::Sighting(Sighting {
            original_name: name.to_owned(),
            ..Sighting::default()
        })
    }

    #[test]
    fn the_first_name_with_kind_duration_and_date() {
        let v = item("video/mp4");
        let events = [
            event(&v, sighting("march\nday.mp4")),
            event(&v, sighting("copy.mp4")),
        ];
        let meta = r#"{"duration_s": 3725.4, "raw": {"format": {"tags": {"title": "T"}}}}"#;
        let l = label_from(&v, &events, Some(meta));
        assert_eq!(l.name.as_deref(), Some("march\nday.mp4"));
        assert_eq!(l.duration_s, Some(3725.4));
        assert_eq!(l.text, "march\nday.mp4 · video · 1:02:05 · 2026-03-04");
        assert!(!is_derived(&events));
    }

    #[test]
    fn the_title_when_no_name_and_no_duration_for_images() {
        let i = item("image/jpeg");
        let meta = r#"{"duration_s": 0.04, "raw": {"format": {"tags": {"title": "Square"}}}}"#;
        let l = label_from(&i, &[], Some(meta));
        assert_eq!(l.text, "Square · image · 2026-03-04");
        assert_eq!(l.duration_s, None);
        let bare = label_from(&item("application/pdf"), &[], None);
        assert_eq!(bare.text, "pdf · 2026-03-04");
        assert_eq!(bare.name, None);
    }

    #[test]
    fn derived_items_say_what_they_are_of() {
        let source = ItemId::parse("01HZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        let i = item("image/jpeg");
        let events = [event(
            &i,
            EventDetails::Derived(Derived {
                source: source.clone(),
                role: "review-thumbnail-blurred".to_owned(),
                tool_version: "t".to_owned(),
            }),
        )];
        let l = label_from(&i, &events, None);
        assert!(is_derived(&events));
        assert_eq!(
            l.text,
            format!("review-thumbnail-blurred of {source} · image · 2026-03-04")
        );
        assert_eq!(l.derived.map(|d| d.source), Some(source));
    }
}
