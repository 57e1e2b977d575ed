//! Secrets and who is calling: argon2id password hashes, random session ids and tokens
//! (stored only as SHA-256), the log-in rate limiter, and the [`Caller`] extractor that
//! authenticates every non-public request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use athar_store::accounts::{Role, User};
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

/// Counts failed log-ins per key (an account or an address) in a sliding window.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    failures: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// At most `max` failures per key within `window`.
    pub fn new(max: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            max,
            window,
            failures: HashMap::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        let window = self.window;
        for q in self.failures.values_mut() {
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
        }
        self.failures.retain(|_, q| !q.is_empty());
    }

    /// Whether `key` has used up its failures.
    pub fn blocked(&mut self, key: &str, now: Instant) -> bool {
        self.prune(now);
        self.failures.get(key).is_some_and(|q| q.len() >= self.max)
    }

    /// Records a failure for `key`.
    pub fn fail(&mut self, key: &str, now: Instant) {
        self.failures
            .entry(key.to_owned())
            .or_default()
            .push_back(now);
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A session cookie; the SHA-256 of the session id.
    Session(String),
    /// An API token; its id.
    Token(i64),
}

/// An authenticated caller. Extracting it refuses anonymous callers (401) and
/// cookie-authenticated state-changing requests without the session's CSRF token (403).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
}

impl Caller {
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
    parts
        .headers
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
            let found = crate::reading(state, move |c| Ok(c.token_user(&hash)?)).await?;
            return match found {
                Some((user, id)) => Ok(Caller {
                    user,
                    via: Via::Token(id),
                }),
                None => Err(ApiError::unauthorized("invalid or revoked token")),
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
        Ok(Caller {
            user: session.user,
            via: Via::Session(hash),
        })
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

    #[test]
    fn limiter_blocks_after_max_failures_and_forgets_after_window() {
        let mut l = RateLimiter::new(5, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(!l.blocked("u:amal", t0));
            l.fail("u:amal", t0);
        }
        assert!(l.blocked("u:amal", t0));
        assert!(!l.blocked("u:other", t0));
        assert!(!l.blocked("u:amal", t0 + Duration::from_secs(60)));
    }
}
