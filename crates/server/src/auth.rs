//! Secrets and who is calling: argon2id password hashes, random session ids and tokens
//! (stored only as SHA-256), the log-in rate limiter with its device cookies, and the
//! [`Caller`] extractor that authenticates every non-public request and holds a caller
//! who must still set up a second factor to the routes that set one up.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use athar_core::accounts::{Role, User};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

/// Cookie holding the session id (HttpOnly).
pub const SESSION_COOKIE: &str = "athar_session";
/// Cookie holding the CSRF token (readable by the page, sent back in [`CSRF_HEADER`]).
pub const CSRF_COOKIE: &str = "athar_csrf";
/// Header that must repeat the CSRF token on state-changing cookie-authenticated requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_SECONDS: i64 = 12 * 60 * 60;
/// Cookie naming a device that logged in before (HttpOnly, sent to the log-in route only).
pub const DEVICE_COOKIE: &str = "athar_device";
/// How long a browser keeps a device cookie (it stops counting at the server's restart).
pub const DEVICE_SECONDS: i64 = 180 * 24 * 60 * 60;

/// Hashing or checking a password failed for a reason other than a wrong password.
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// An argon2id hash of `password` (PHC string, random salt).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt_bytes = random_bytes::<16>().map_err(|e| HashError(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one password check, so unknown user names take as long as known ones.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(h) = DUMMY.get_or_init(|| hash_password("athar-dummy").ok()) {
        verify_password(password, h);
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b)?;
    Ok(b)
}

/// A new random secret (256 bits, hex).
pub fn new_secret() -> Result<String, ApiError> {
    random_bytes::<32>()
        .map(hex::encode)
        .map_err(|e| ApiError::internal(format!("random: {e}")))
}

/// A generated password for `athar user add|reset` (128 bits, hex).
pub fn generate_password() -> Result<String, HashError> {
    random_bytes::<16>()
        .map(hex::encode)
        .map_err(|e| HashError(e.to_string()))
}

/// Lower-case hex SHA-256: how session ids, CSRF tokens and API tokens are stored.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// HMAC-SHA-256 (RFC 2104) of `msg` under `key` (at most one block long).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.map(|k| k ^ b);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether two byte strings are equal, in time independent of where they differ.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The key device cookies are signed with: random, made once per server process and never
/// stored, so device cookies stop counting when the server restarts (their holders then
/// log in as unknown devices once, and get a new cookie). `None` when no randomness.
fn device_key() -> Option<&'static [u8; 32]> {
    static KEY: OnceLock<Option<[u8; 32]>> = OnceLock::new();
    KEY.get_or_init(|| random_bytes::<32>().ok()).as_ref()
}

fn device_mac(key: &[u8], user_id: i64, nonce: &str, password_hash: &str) -> String {
    let msg = format!("athar-device-v1\n{user_id}\n{nonce}\n{password_hash}");
    hex::encode(hmac_sha256(key, msg.as_bytes()))
}

/// A device cookie (OWASP's "device cookies" against lock-out): proof that this browser
/// logged in to this account before. It is a random nonce bound to the user (and to the
/// password hash, so a reset retires it) by an HMAC under the server process's
/// [`device_key`]; the server stores nothing per device. It never authenticates anyone:
/// it only decides which failure budget a log-in attempt spends (see [`RateLimiter`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    user_id: i64,
    nonce: String,
}

impl Device {
    /// A new device cookie value for `user_id`; `None` when no randomness is available.
    pub fn issue(user_id: i64, password_hash: &str) -> Option<String> {
        let key = device_key()?;
        let nonce = hex::encode(random_bytes::<16>().ok()?);
        let mac = device_mac(key, user_id, &nonce, password_hash);
        Some(format!("{user_id}.{nonce}.{mac}"))
    }

    /// The device named by cookie `value` when it is valid for `user_id` (whose password
    /// hash is `password_hash`); anything malformed, forged or for another user is `None`.
    pub fn check(value: &str, user_id: i64, password_hash: &str) -> Option<Device> {
        let mut parts = value.split('.');
        let (uid, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let hex_of = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if parts.next().is_some() || !hex_of(nonce, 32) || !hex_of(mac, 64) {
            return None;
        }
        if uid.parse::<i64>().ok()? != user_id {
            return None;
        }
        let want = device_mac(device_key()?, user_id, nonce, password_hash);
        same_bytes(want.as_bytes(), mac.as_bytes()).then(|| Device {
            user_id,
            nonce: nonce.to_owned(),
        })
    }

    /// The key of this device's own failure budget.
    fn bucket(&self) -> String {
        format!("device:{}:{}", self.user_id, self.nonce)
    }
}

/// Failures and attempts under way for one key.
#[derive(Debug, Default)]
struct Bucket {
    failures: VecDeque<Instant>,
    pending: usize,
}

/// Limits password checks per key in a sliding window. Keys are an address, an account's
/// budget for unknown devices (`user:NAME`) and each known device's own budget
/// (`device:…`). An attempt is reserved with [`RateLimiter::reserve`] *before* its
/// password is checked: a pending attempt counts like a failure, so concurrent requests
/// cannot run more checks than the budget allows; [`RateLimiter::finish`] then turns it
/// into a failure or releases it.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    buckets: HashMap<String, Bucket>,
}

/// A log-in attempt reserved in the [`RateLimiter`]; hand it back to
/// [`RateLimiter::finish`].
#[derive(Debug)]
#[must_use = "an attempt holds budget until it is finished"]
pub struct Attempt {
    /// The account's unknown-device budget or the device's own: gates the attempt, is
    /// cleared by a success.
    account: String,
    /// The caller's address: gates attempts from unknown devices, never cleared by a
    /// success (one's own account must not buy guesses at others').
    address: String,
}

/// Who is trying to log in, for [`RateLimiter::reserve`].
#[derive(Debug)]
pub struct Attempter<'a> {
    /// The user name given.
    pub user: &'a str,
    /// The caller's address.
    pub address: std::net::IpAddr,
    /// The caller's valid device cookie for that user, if any.
    pub device: Option<&'a Device>,
}

impl RateLimiter {
    /// At most `max` failures and pending attempts per key within `window`.
    pub fn new(max: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            max,
            window,
            buckets: HashMap::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        let window = self.window;
        for b in self.buckets.values_mut() {
            let q = &mut b.failures;
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
        }
        self.buckets
            .retain(|_, b| !b.failures.is_empty() || b.pending > 0);
    }

    fn used_up(&self, key: &str) -> bool {
        self.buckets
            .get(key)
            .is_some_and(|b| b.failures.len() + b.pending >= self.max)
    }

    /// Reserves one password check for `who`, or `None` when its budget is used up. A
    /// known device is gated by its own budget only, so failures from elsewhere (which
    /// fill the account's unknown-device budget and their addresses') never lock it out;
    /// an unknown device is gated by the account's unknown-device budget and by its
    /// address's. Either way the attempt is counted under both of its keys.
    pub fn reserve(&mut self, who: &Attempter<'_>, now: Instant) -> Option<Attempt> {
        self.prune(now);
        let account = match who.device {
            Some(d) => d.bucket(),
            None => format!("user:{}", who.user),
        };
        let address = format!("ip:{}", who.address);
        let blocked = match who.device {
            Some(_) => self.used_up(&account),
            None => self.used_up(&account) || self.used_up(&address),
        };
        if blocked {
            return None;
        }
        for k in [&account, &address] {
            self.buckets.entry(k.clone()).or_default().pending += 1;
        }
        Some(Attempt { account, address })
    }

    /// Ends a reserved attempt: a failure is counted under its keys; a success releases
    /// them and clears the account's (or device's) failures, not the address's.
    pub fn finish(&mut self, attempt: Attempt, ok: bool, now: Instant) {
        for k in [&attempt.account, &attempt.address] {
            let b = self.buckets.entry(k.clone()).or_default();
            b.pending = b.pending.saturating_sub(1);
            if !ok {
                b.failures.push_back(now);
            }
        }
        if ok {
            if let Some(b) = self.buckets.get_mut(&attempt.account) {
                b.failures.clear();
            }
        }
        self.prune(now);
    }
}

/// A check reserved in a one-key budget ([`RateLimiter::reserve_one`]); hand it back to
/// [`RateLimiter::finish_one`].
#[derive(Debug)]
#[must_use = "an attempt holds budget until it is finished"]
pub struct OneAttempt {
    key: String,
}

impl RateLimiter {
    /// Reserves one check in the budget of `key` alone (e.g. one account's second-factor
    /// codes), or `None` when it is used up. Pending checks count like failures.
    pub fn reserve_one(&mut self, key: &str, now: Instant) -> Option<OneAttempt> {
        self.prune(now);
        if self.used_up(key) {
            return None;
        }
        self.buckets.entry(key.to_owned()).or_default().pending += 1;
        Some(OneAttempt {
            key: key.to_owned(),
        })
    }

    /// Ends a check reserved with [`RateLimiter::reserve_one`]: a failure is counted; a
    /// success clears the key's failures.
    pub fn finish_one(&mut self, attempt: OneAttempt, ok: bool, now: Instant) {
        let b = self.buckets.entry(attempt.key).or_default();
        b.pending = b.pending.saturating_sub(1);
        if ok {
            b.failures.clear();
        } else {
            b.failures.push_back(now);
        }
        self.prune(now);
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A session cookie: the SHA-256 of the session id, and the session's public id.
    Session { sha256: String, id: String },
    /// An API token; its id.
    Token(i64),
}

/// An authenticated caller. Extracting it refuses anonymous callers (401) and
/// cookie-authenticated state-changing requests without the session's CSRF token (403).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
    /// The caller's role requires a second factor and they have none yet: only the
    /// routes marked `enrolling` in the route table let them through.
    pub must_enrol: bool,
}

/// How often a session's last-seen time is written (at most once a minute per session).
const TOUCH_SECONDS: i64 = 60;

/// Error code of the 403 answered to a caller who must set up a second factor first.
pub const ENROLMENT_REQUIRED: &str = "second_factor_enrolment_required";

/// Whether the route the request matched may be used by a caller who must still set up a
/// second factor (`Route::enrolling`).
fn enrolling_route(parts: &Parts) -> bool {
    let Some(path) = parts.extensions.get::<axum::extract::MatchedPath>() else {
        return false;
    };
    crate::routes::ROUTES.iter().any(|r| {
        r.enrolling && r.path == path.as_str() && r.method.as_str() == parts.method.as_str()
    })
}

impl Caller {
    /// Refuses (403, [`ENROLMENT_REQUIRED`]) a caller who must set up a second factor,
    /// unless the route is one that sets it up.
    fn admitted(self, parts: &Parts) -> Result<Caller, ApiError> {
        if self.must_enrol && !enrolling_route(parts) {
            return Err(ApiError::forbidden(
                "your role requires a second factor: set one up first (Settings in the web app)",
            )
            .with_code(ENROLMENT_REQUIRED));
        }
        Ok(self)
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Whether the caller may see what belongs to `case`.
    pub fn can_see(&self, case: &str) -> bool {
        self.is_admin() || self.user.cases.iter().any(|c| c == case)
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    cookie_in(&parts.headers, name)
}

/// The value of cookie `name` in `headers`.
pub fn cookie_in<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(parts: &Parts) -> Option<Result<&str, ApiError>> {
    let v = parts.headers.get(header::AUTHORIZATION)?;
    let token = v
        .to_str()
        .ok()
        .and_then(|s| s.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    Some(token.ok_or_else(|| ApiError::unauthorized("malformed Authorization header")))
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Caller, ApiError> {
        if let Some(token) = bearer(parts) {
            let hash = sha256_hex(token?);
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let found = crate::reading(state, move |c| Ok(c.token_user(&hash, now)?)).await?;
            return match found {
                Some((user, id)) => Caller {
                    must_enrol: state.must_enrol(&user),
                    user,
                    via: Via::Token(id),
                }
                .admitted(parts),
                None => Err(ApiError::unauthorized("invalid, expired or revoked token")),
            };
        }
        let Some(sid) = cookie(parts, SESSION_COOKIE) else {
            return Err(ApiError::unauthorized("log in first"));
        };
        let hash = sha256_hex(sid);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let h = hash.clone();
        let session = crate::reading(state, move |c| Ok(c.live_session(&h, now)?)).await?;
        let Some(session) = session else {
            return Err(ApiError::unauthorized("session expired or ended"));
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(sha256_hex);
            if sent.as_deref() != Some(session.csrf_sha256.as_str()) {
                return Err(ApiError::forbidden("missing or wrong CSRF token"));
            }
        }
        if now - session.last_seen >= TOUCH_SECONDS {
            // Informational: a failure (reported on stderr) changes nothing for the caller.
            let st = state.clone();
            let h = hash.clone();
            tokio::spawn(async move {
                let _ = crate::blocking(&st, move |a| Ok(a.catalog.touch_session(&h, now)?)).await;
            });
        }
        Caller {
            must_enrol: state.must_enrol(&session.user),
            user: session.user,
            via: Via::Session {
                sha256: hash,
                id: session.id,
            },
        }
        .admitted(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
    }

    fn who<'a>(user: &'a str, ip: &str, device: Option<&'a Device>) -> Attempter<'a> {
        Attempter {
            user,
            address: ip.parse().unwrap(),
            device,
        }
    }

    #[test]
    fn limiter_blocks_after_max_failures_and_forgets_after_window() {
        let mut l = RateLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..5 {
            let a = l.reserve(&who("amal", "10.0.0.1", None), t0).unwrap();
            l.finish(a, false, t0);
        }
        assert!(l.reserve(&who("amal", "10.0.0.2", None), t0).is_none());
        assert!(
            l.reserve(&who("badr", "10.0.0.1", None), t0).is_none(),
            "address"
        );
        let other = l.reserve(&who("badr", "10.0.0.2", None), t0).unwrap();
        l.finish(other, true, t0);
        let later = t0 + Duration::from_secs(60);
        assert!(l.reserve(&who("amal", "10.0.0.1", None), later).is_some());
    }

    #[test]
    fn pending_attempts_count_before_the_password_is_checked() {
        // 100 concurrent attempts: only the budget's worth are let through to a check.
        let mut l = RateLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        let reserved: Vec<Attempt> = (0..100)
            .filter_map(|_| l.reserve(&who("amal", "10.0.0.1", None), t0))
            .collect();
        assert_eq!(reserved.len(), 5);
        for a in reserved {
            l.finish(a, false, t0);
        }
        assert!(l.reserve(&who("amal", "10.0.0.9", None), t0).is_none());
        // A success releases its slot and clears the account's failures, not the address's.
        let mut l = RateLimiter::new(5, Duration::from_secs(60));
        for _ in 0..4 {
            let a = l.reserve(&who("amal", "10.0.0.1", None), t0).unwrap();
            l.finish(a, false, t0);
        }
        let a = l.reserve(&who("amal", "10.0.0.2", None), t0).unwrap();
        assert!(
            l.reserve(&who("amal", "10.0.0.3", None), t0).is_none(),
            "pending"
        );
        l.finish(a, true, t0);
        let a = l.reserve(&who("amal", "10.0.0.3", None), t0).unwrap();
        l.finish(a, true, t0);
        let a = l.reserve(&who("badr", "10.0.0.1", None), t0).unwrap();
        l.finish(a, false, t0);
        assert!(l.reserve(&who("carl", "10.0.0.1", None), t0).is_none());
    }

    #[test]
    fn known_device_has_its_own_budget() {
        let mut l = RateLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
        let cookie = Device::issue(7, hash).unwrap();
        let device = Device::check(&cookie, 7, hash).unwrap();
        // An attacker spends the account's unknown-device budget and the address's.
        for _ in 0..5 {
            let a = l.reserve(&who("amal", "10.0.0.1", None), t0).unwrap();
            l.finish(a, false, t0);
        }
        assert!(l.reserve(&who("amal", "10.0.0.2", None), t0).is_none());
        // The known device, even from the attacker's address, still gets its checks.
        for _ in 0..5 {
            let a = l
                .reserve(&who("amal", "10.0.0.1", Some(&device)), t0)
                .unwrap();
            l.finish(a, false, t0);
        }
        assert!(
            l.reserve(&who("amal", "10.0.0.2", Some(&device)), t0)
                .is_none(),
            "a device locks out only itself"
        );
        let other = Device::check(&Device::issue(7, hash).unwrap(), 7, hash).unwrap();
        let a = l
            .reserve(&who("amal", "10.0.0.2", Some(&other)), t0)
            .unwrap();
        l.finish(a, true, t0);
    }

    #[test]
    fn one_key_budget_counts_pending_and_failures_and_clears_on_success() {
        let mut l = RateLimiter::new(3, Duration::from_secs(600));
        let t0 = Instant::now();
        let held: Vec<OneAttempt> = (0..10)
            .filter_map(|_| l.reserve_one("code:7", t0))
            .collect();
        assert_eq!(held.len(), 3, "concurrent checks stop at the budget");
        for a in held {
            l.finish_one(a, false, t0);
        }
        assert!(l.reserve_one("code:7", t0).is_none(), "used up");
        let other = l.reserve_one("code:8", t0).expect("per key");
        l.finish_one(other, true, t0);
        let later = t0 + Duration::from_secs(600);
        let a = l.reserve_one("code:7", later).expect("window passed");
        l.finish_one(a, false, later);
        let a = l.reserve_one("code:7", later).expect("one failure");
        l.finish_one(a, true, later);
        for _ in 0..2 {
            let a = l.reserve_one("code:7", later).expect("cleared");
            l.finish_one(a, false, later);
        }
        assert!(l.reserve_one("code:7", later).is_some(), "two of three");
    }

    #[test]
    fn device_cookies_are_bound_to_user_and_password() {
        let hash = "$argon2id$one";
        let c = Device::issue(7, hash).unwrap();
        assert!(Device::check(&c, 7, hash).is_some());
        assert!(Device::check(&c, 8, hash).is_none(), "another user");
        assert!(
            Device::check(&c, 7, "$argon2id$two").is_none(),
            "password reset"
        );
        let (head, mac) = c.rsplit_once('.').unwrap();
        let flipped = if mac.starts_with('0') { "1" } else { "0" };
        let forged = format!("{head}.{flipped}{}", &mac[1..]);
        assert!(Device::check(&forged, 7, hash).is_none(), "forged");
        let bad = [
            "",
            "7",
            "7..",
            "x.y.z",
            &format!("{c}.1"),
            &c.replace('.', ":"),
        ];
        for b in bad {
            assert!(Device::check(b, 7, hash).is_none(), "{b:?}");
        }
        assert_ne!(Device::issue(7, hash), Device::issue(7, hash), "random");
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than a block is hashed first.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
