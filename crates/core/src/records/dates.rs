//! Uncertain dates: every date of the documentation model is an interval with a precision,
//! never a bare day. "2012" is the whole year, "2011/2013" the three years, "unknown" no
//! bound at all; queries compare intervals by overlap.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How precisely a date is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Day,
    Month,
    Year,
    /// Between two dates (each a day, month or year).
    Range,
    Unknown,
}

/// A date as an inclusive interval of days. Written and read as text:
/// `2012-03-04`, `2012-03`, `2012`, `2011/2013`, `2011-05/2013-02-10`, `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateValue {
    /// First day (days since 1970-01-01), None when unknown.
    pub start: Option<i32>,
    /// Last day, inclusive.
    pub end: Option<i32>,
    pub precision: Precision,
    text: DateText,
}

/// The parsed parts, kept to print the value back exactly as its canonical text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateText {
    from: Option<Part>,
    to: Option<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
}

impl Part {
    fn parse(s: &str) -> Option<Part> {
        let mut it = s.split('-');
        let y = it.next()?;
        if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let num = |p: Option<&str>| -> Option<Option<u8>> {
            match p {
                None => Some(None),
                Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().ok().map(Some)
                }
                Some(_) => None,
            }
        };
        let month = num(it.next())?;
        let day = num(it.next())?;
        if it.next().is_some() || (month.is_none() && day.is_some()) {
            return None;
        }
        let part = Part { year, month, day };
        part.first_day()?;
        Some(part)
    }

    fn first_day(&self) -> Option<i32> {
        let month = time::Month::try_from(self.month.unwrap_or(1)).ok()?;
        let d = time::Date::from_calendar_date(self.year, month, self.day.unwrap_or(1)).ok()?;
        Some(d.to_julian_day() - UNIX_JULIAN_DAY)
    }

    fn last_day(&self) -> Option<i32> {
        let month = time::Month::try_from(self.month.unwrap_or(12)).ok()?;
        let day = match self.day {
            Some(d) => d,
            None => month.length(self.year),
        };
        let d = time::Date::from_calendar_date(self.year, month, day).ok()?;
        Some(d.to_julian_day() - UNIX_JULIAN_DAY)
    }

    fn precision(&self) -> Precision {
        match (self.month, self.day) {
            (_, Some(_)) => Precision::Day,
            (Some(_), None) => Precision::Month,
            _ => Precision::Year,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

const UNIX_JULIAN_DAY: i32 = 2_440_588;

/// Why text is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a date: write YYYY, YYYY-MM, YYYY-MM-DD, FROM/TO (e.g. 2011/2013) or unknown"
)]
pub struct DateError(pub String);

impl DateValue {
    /// The unknown date: overlaps everything in a query that asks for unknown dates, and
    /// nothing in an interval query.
    pub const UNKNOWN: DateValue = DateValue {
        start: None,
        end: None,
        precision: Precision::Unknown,
        text: DateText {
            from: None,
            to: None,
        },
    };

    /// Parses the text forms listed on [`DateValue`]. Open ranges (`2011/`, `/2013`) are
    /// allowed: the missing side is unbounded.
    pub fn parse(s: &str) -> Result<DateValue, DateError> {
        let t = s.trim();
        let err = || DateError(s.to_owned());
        if t.eq_ignore_ascii_case("unknown") {
            return Ok(DateValue::UNKNOWN);
        }
        if let Some((a, b)) = t.split_once('/') {
            let from = if a.trim().is_empty() {
                None
            } else {
                Some(Part::parse(a.trim()).ok_or_else(err)?)
            };
            let to = if b.trim().is_empty() {
                None
            } else {
                Some(Part::parse(b.trim()).ok_or_else(err)?)
            };
            if from.is_none() && to.is_none() {
                return Err(err());
            }
            let start = from.and_then(|p| p.first_day());
            let end = to.and_then(|p| p.last_day());
            if let (Some(a), Some(b)) = (start, end) {
                if a > b {
                    return Err(DateError(format!("{s} (the range ends before it starts)")));
                }
            }
            return Ok(DateValue {
                start,
                end,
                precision: Precision::Range,
                text: DateText { from, to },
            });
        }
        let p = Part::parse(t).ok_or_else(err)?;
        Ok(DateValue {
            start: p.first_day(),
            end: p.last_day(),
            precision: p.precision(),
            text: DateText {
                from: Some(p),
                to: None,
            },
        })
    }

    /// Whether the two intervals share at least one day. Unknown dates overlap nothing.
    pub fn overlaps(&self, other: &DateValue) -> bool {
        if self.precision == Precision::Unknown || other.precision == Precision::Unknown {
            return false;
        }
        let a0 = self.start.unwrap_or(i32::MIN);
        let a1 = self.end.unwrap_or(i32::MAX);
        let b0 = other.start.unwrap_or(i32::MIN);
        let b1 = other.end.unwrap_or(i32::MAX);
        a0 <= b1 && b0 <= a1
    }

    /// The interval as (first, last) days, open sides saturated; None when unknown.
    pub fn days(&self) -> Option<(i32, i32)> {
        if self.precision == Precision::Unknown {
            return None;
        }
        Some((self.start.unwrap_or(i32::MIN), self.end.unwrap_or(i32::MAX)))
    }
}

impl fmt::Display for DateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.precision, self.text.from, self.text.to) {
            (Precision::Unknown, _, _) => f.write_str("unknown"),
            (Precision::Range, from, to) => {
                if let Some(p) = from {
                    write!(f, "{p}")?;
                }
                f.write_str("/")?;
                if let Some(p) = to {
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            (_, Some(p), _) => write!(f, "{p}"),
            (_, None, _) => f.write_str("unknown"),
        }
    }
}

impl std::str::FromStr for DateValue {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateValue::parse(s)
    }
}

impl Serialize for DateValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateValue::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 back to `YYYY-MM-DD`.
pub fn day_to_string(day: i32) -> String {
    time::Date::from_julian_day(day + UNIX_JULIAN_DAY).map_or_else(
        |_| day.to_string(),
        |d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, canonical: &str, first: &str, last: &str, precision: Precision) {
        let d = DateValue::parse(input).unwrap();
        assert_eq!(d.to_string(), canonical, "{input}");
        assert_eq!(d.precision, precision, "{input}");
        let show = |x: Option<i32>| x.map_or_else(|| "-".to_owned(), day_to_string);
        assert_eq!(show(d.start), first, "{input}");
        assert_eq!(show(d.end), last, "{input}");
    }

    #[test]
    fn forms() {
        check("2012", "2012", "2012-01-01", "2012-12-31", Precision::Year);
        check(
            "2012-02",
            "2012-02",
            "2012-02-01",
            "2012-02-29",
            Precision::Month,
        );
        check(
            "2013-02",
            "2013-02",
            "2013-02-01",
            "2013-02-28",
            Precision::Month,
        );
        check(
            " 2012-03-04 ",
            "2012-03-04",
            "2012-03-04",
            "2012-03-04",
            Precision::Day,
        );
        check(
            "2011/2013",
            "2011/2013",
            "2011-01-01",
            "2013-12-31",
            Precision::Range,
        );
        check(
            "2011-05 / 2013-02-10",
            "2011-05/2013-02-10",
            "2011-05-01",
            "2013-02-10",
            Precision::Range,
        );
        check("2011/", "2011/", "2011-01-01", "-", Precision::Range);
        check("/2013", "/2013", "-", "2013-12-31", Precision::Range);
        check("Unknown", "unknown", "-", "-", Precision::Unknown);
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "12",
            "2012-2",
            "2012-13",
            "2012-02-30",
            "2012--01",
            "2013/2011",
            "/",
            "2012-01-01-01",
            "yesterday",
            "2012-00",
        ] {
            assert!(DateValue::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn overlap() {
        let d = |s: &str| DateValue::parse(s).unwrap();
        assert!(d("2011/2013").overlaps(&d("2012")));
        assert!(d("2012").overlaps(&d("2011/2013")));
        assert!(d("2013-12-31").overlaps(&d("2011/2013")));
        assert!(!d("2014-01-01").overlaps(&d("2011/2013")));
        assert!(!d("2010").overlaps(&d("2011/2013")));
        assert!(d("/2011-01-01").overlaps(&d("2011/2013")));
        assert!(d("2015/").overlaps(&d("2016-05")));
        assert!(!d("unknown").overlaps(&d("2012")));
    }

    #[test]
    fn json() {
        let d: DateValue = serde_json::from_str("\"2011/2013\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2011/2013\"");
        assert!(serde_json::from_str::<DateValue>("\"2011-2013\"").is_err());
    }
}
