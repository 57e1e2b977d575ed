//! One row of one list, and the date intervals it carries.

/// An inclusive interval of days since 1970-01-01: a year, a month or a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub first: i32,
    pub last: i32,
}

impl Interval {
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; None for anything else.
    pub fn parse(s: &str) -> Option<Interval> {
        let parts: Vec<&str> = s.trim().split('-').collect();
        let num = |p: &str| p.parse::<i32>().ok();
        match parts.as_slice() {
            [y] => {
                let y = num(y)?;
                Some(Interval {
                    first: days(y, 1, 1)?,
                    last: days(y, 12, 31)?,
                })
            }
            [y, m] => {
                let (y, m) = (num(y)?, num(m)?);
                let first = days(y, m, 1)?;
                let next = if m == 12 {
                    days(y + 1, 1, 1)?
                } else {
                    days(y, m + 1, 1)?
                };
                Some(Interval {
                    first,
                    last: next - 1,
                })
            }
            [y, m, d] => {
                let day = days(num(y)?, num(m)?, num(d)?)?;
                Some(Interval {
                    first: day,
                    last: day,
                })
            }
            _ => None,
        }
    }

    /// The interval as [`Interval::parse`] reads it (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`), or
    /// its first and last day joined by `/` when it is none of these.
    pub fn text(&self) -> String {
        let (y, m, d) = civil(self.first);
        let day = |(y, m, d): (i32, i32, i32)| format!("{y:04}-{m:02}-{d:02}");
        let candidates = [format!("{y:04}"), format!("{y:04}-{m:02}"), day((y, m, d))];
        candidates
            .into_iter()
            .find(|t| Interval::parse(t) == Some(*self))
            .unwrap_or_else(|| format!("{}/{}", day((y, m, d)), day(civil(self.last))))
    }

    /// The year of its first day.
    pub fn year(&self) -> i32 {
        civil(self.first).0
    }

    /// Days between the two intervals (0 when they overlap).
    pub fn gap(&self, other: &Interval) -> i32 {
        if self.last < other.first {
            other.first - self.last
        } else if other.last < self.first {
            self.first - other.last
        } else {
            0
        }
    }

    /// Whether both are single days and one is the other with day and month swapped.
    pub fn swapped(&self, other: &Interval) -> bool {
        if self.first != self.last || other.first != other.last {
            return false;
        }
        let (y, m, d) = civil(self.first);
        d <= 12 && d != m && days(y, d, m) == Some(other.first)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date; None when it is not a date.
fn days(y: i32, m: i32, d: i32) -> Option<i32> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > month_days[(m - 1) as usize] {
        return None;
    }
    // H. Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The calendar date of a day since 1970-01-01.
fn civil(day: i32) -> (i32, i32, i32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i32::from(m <= 2), m, d)
}

/// One person as one list records them. Empty strings and `None` are unknown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Unique across all lists.
    pub id: String,
    /// The list it comes from.
    pub list: String,
    /// The whole name as the list writes it (used when the parts are not given).
    pub name: String,
    pub given: String,
    pub father: String,
    pub grandfather: String,
    pub family: String,
    pub mother: String,
    /// `m` or `f`.
    pub sex: Option<char>,
    pub birth: Option<Interval>,
    /// Date of death, detention or disappearance, as the list gives it.
    pub date: Option<Interval>,
    /// Place of death, detention or disappearance: its name, then the names of the places
    /// that contain it (`["Tadamon", "Damascus"]`), as far as known.
    pub place: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_parsed_and_compared() {
        let y = Interval::parse("2013").unwrap();
        let m = Interval::parse("2013-05").unwrap();
        let d = Interval::parse("2013-05-12").unwrap();
        assert_eq!(y.gap(&d), 0);
        assert_eq!(m.gap(&d), 0);
        assert_eq!(m.last - m.first, 30);
        assert_eq!(Interval::parse("2014-01-01").unwrap().gap(&y), 1);
        assert!(Interval::parse("2013-02-30").is_none());
        assert!(Interval::parse("May 2013").is_none());
        assert!(Interval::parse("").is_none());
        let swapped = Interval::parse("2013-12-05").unwrap();
        assert!(d.swapped(&swapped));
        assert!(swapped.swapped(&d));
        assert!(!d.swapped(&d));
        assert!(!d.swapped(&Interval::parse("2013-12-06").unwrap()));
        assert!(!y.swapped(&d));
        for t in ["2013", "2013-05", "2013-05-12", "2012-02"] {
            assert_eq!(Interval::parse(t).unwrap().text(), t);
        }
        for day in [-1000, 0, 15_000, 20_000] {
            let (y, m, d) = civil(day);
            assert_eq!(days(y, m, d), Some(day));
        }
    }
}
