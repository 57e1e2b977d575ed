//! When captures start and when a watched source is due, for every caller alike (`athar
//! capture`, `athar sources check` and `athar serve`): at most one capture at once on one
//! host, and a gap between two starts on one host ([`Schedule`]); a source checked again
//! once a period has passed, stretched by a jitter fixed per address so a day's checks
//! spread out ([`is_due`]), by the record of when each was last checked ([`CheckLog`]).
//!
//! How many captures run at once is the caller's (its number of workers).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which waiting capture starts next: never two at once on one host, and at least
/// `interval` between two starts on one host; otherwise first come, first served. Each job
/// carries a `T` of the caller's.
#[derive(Debug)]
pub struct Schedule<T> {
    waiting: VecDeque<(String, T)>,
    busy: HashSet<String>,
    last_start: HashMap<String, Instant>,
    interval: Duration,
}

impl<T> Schedule<T> {
    /// An empty schedule with `interval` between two starts on one host.
    pub fn new(interval: Duration) -> Schedule<T> {
        Schedule {
            waiting: VecDeque::new(),
            busy: HashSet::new(),
            last_start: HashMap::new(),
            interval,
        }
    }

    /// Queues a capture of `url`.
    pub fn push(&mut self, url: String, job: T) {
        self.waiting.push_back((url, job));
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The host a URL is scheduled by (lower case, without its port; the URL itself when
    /// it has none).
    pub fn host(url: &str) -> String {
        crate::host_of(url).map_or_else(|| url.to_owned(), |(h, _)| h)
    }

    /// The first waiting capture that may start at `now`, its host then marked busy until
    /// [`Schedule::done`]; None when none may start yet (or none waits).
    pub fn start(&mut self, now: Instant) -> Option<(String, T)> {
        let pos = self.waiting.iter().position(|(u, _)| {
            let h = Schedule::<T>::host(u);
            !self.busy.contains(&h)
                && self
                    .last_start
                    .get(&h)
                    .is_none_or(|t| now.duration_since(*t) >= self.interval)
        })?;
        let (url, job) = self.waiting.remove(pos)?;
        let h = Schedule::<T>::host(&url);
        self.busy.insert(h.clone());
        self.last_start.insert(h, now);
        Some((url, job))
    }

    /// The capture of `url` has ended: its host is free (after the interval).
    pub fn done(&mut self, url: &str) {
        self.busy.remove(&Schedule::<T>::host(url));
    }
}

impl Schedule<()> {
    /// A schedule of `urls`, in order, with nothing of the caller's.
    pub fn of(urls: Vec<String>, interval: Duration) -> Schedule<()> {
        let mut s = Schedule::new(interval);
        for u in urls {
            s.push(u, ());
        }
        s
    }
}

/// Blocks until a capture may start (looking every 50 ms) and returns it; None once none
/// waits. For workers sharing one schedule of a fixed list.
pub fn next<T>(me: &Mutex<Schedule<T>>) -> Option<(String, T)> {
    loop {
        {
            let mut s = me.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if s.is_empty() {
                return None;
            }
            if let Some(next) = s.start(Instant::now()) {
                return Some(next);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Marks the capture of `url` ended in a shared schedule.
pub fn done<T>(me: &Mutex<Schedule<T>>, url: &str) {
    me.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .done(url);
}

/// Whether `url` is due for a check: never checked (or `last` unreadable), or checked
/// longer ago than `every` stretched by a jitter of up to ±10 % fixed per address.
pub fn is_due(url: &str, last: Option<&str>, now: time::OffsetDateTime, every: Duration) -> bool {
    use sha2::Digest;
    let Some(last) = last.and_then(|l| {
        time::OffsetDateTime::parse(l, &time::format_description::well_known::Rfc3339).ok()
    }) else {
        return true;
    };
    let h = sha2::Sha256::digest(url.as_bytes());
    let jitter = 0.9 + 0.2 * f64::from(h[0]) / 255.0;
    let due_after = every.mul_f64(jitter);
    let elapsed = now - last;
    elapsed.whole_milliseconds() >= due_after.as_millis() as i128
}

/// When each source was last checked: a JSON object of address → RFC 3339 time, kept
/// beside the archive's indexes. Derived: losing it only makes every source due.
#[derive(Debug, Clone, Default)]
pub struct CheckLog {
    path: PathBuf,
    last: BTreeMap<String, String>,
}

impl CheckLog {
    /// Where an archive keeps it, under its work folder.
    pub fn path_in(work_dir: &Path) -> PathBuf {
        work_dir.join("index").join("sources-checked.json")
    }

    /// The log at `path` (empty when missing or unreadable).
    pub fn load(path: &Path) -> CheckLog {
        let last = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        CheckLog {
            path: path.to_owned(),
            last,
        }
    }

    /// When `url` was last checked.
    pub fn last(&self, url: &str) -> Option<&str> {
        self.last.get(url).map(String::as_str)
    }

    /// Whether `url` is due at `now` ([`is_due`]).
    pub fn is_due(&self, url: &str, now: time::OffsetDateTime, every: Duration) -> bool {
        is_due(url, self.last(url), now, every)
    }

    /// Notes that `url` was checked at `at` (RFC 3339).
    pub fn mark(&mut self, url: &str, at: &str) {
        self.last.insert(url.to_owned(), at.to_owned());
    }

    /// Writes the log (to a temporary file renamed over it).
    pub fn save(&self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&self.last)?)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_with_jitter() {
        let now = time::OffsetDateTime::now_utc();
        let day = Duration::from_secs(86400);
        assert!(is_due("https://a.example/", None, now, day));
        assert!(is_due("https://a.example/", Some("not a time"), now, day));
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let recent = fmt(now - time::Duration::hours(1));
        assert!(!is_due("https://a.example/", Some(&recent), now, day));
        let old = fmt(now - time::Duration::hours(27));
        assert!(is_due("https://a.example/", Some(&old), now, day));
        // Within ±10 %: 21 h is never due, 27 h always.
        for i in 0..50 {
            let url = format!("https://a.example/{i}");
            let early = fmt(now - time::Duration::hours(21));
            assert!(!is_due(&url, Some(&early), now, day), "{url}");
        }
    }

    #[test]
    fn one_capture_per_host_at_a_time() {
        let s = Mutex::new(Schedule::<()>::of(
            vec![
                "https://a.example/1".into(),
                "https://a.example/2".into(),
                "https://b.example/1".into(),
            ],
            Duration::ZERO,
        ));
        let url = |n: Option<(String, ())>| n.map(|(u, ())| u);
        assert_eq!(url(next(&s)).as_deref(), Some("https://a.example/1"));
        // a.example is busy: b.example comes first.
        assert_eq!(url(next(&s)).as_deref(), Some("https://b.example/1"));
        done(&s, "https://a.example/1");
        assert_eq!(url(next(&s)).as_deref(), Some("https://a.example/2"));
        assert_eq!(url(next(&s)), None);
    }

    #[test]
    fn a_gap_between_two_starts_on_one_host() {
        let mut s = Schedule::new(Duration::from_secs(2));
        s.push("http://a.example/1".into(), 1);
        s.push("http://A.example:8080/2".into(), 2);
        let t0 = Instant::now();
        assert_eq!(s.start(t0), Some(("http://a.example/1".into(), 1)));
        s.done("http://a.example/1");
        // The same host (whatever the port or case): not before the gap.
        assert_eq!(s.start(t0 + Duration::from_secs(1)), None);
        assert!(!s.is_empty());
        assert_eq!(
            s.start(t0 + Duration::from_secs(2)),
            Some(("http://A.example:8080/2".into(), 2))
        );
        assert!(s.is_empty());
        assert_eq!(s.start(t0 + Duration::from_secs(9)), None);
    }

    #[test]
    fn the_check_log_is_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = CheckLog::path_in(dir.path());
        let mut log = CheckLog::load(&path);
        assert_eq!(log.last("https://a.example/"), None);
        let now = time::OffsetDateTime::now_utc();
        let at = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        log.mark("https://a.example/", &at);
        log.save().unwrap_or_else(|e| panic!("{e}"));
        let again = CheckLog::load(&path);
        assert_eq!(again.last("https://a.example/"), Some(at.as_str()));
        assert!(!again.is_due("https://a.example/", now, Duration::from_secs(3600)));
        assert!(again.is_due("https://b.example/", now, Duration::from_secs(3600)));
    }
}
