//! Log-in, log-out and API tokens: the routes that create and end a caller's credentials.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{
    self, Attempt, Attempter, Caller, Device, Via, CSRF_COOKIE, DEVICE_COOKIE, DEVICE_SECONDS,
    SESSION_COOKIE, SESSION_SECONDS,
};
use crate::{blocking, reading, ApiError, AppState};
use athar_core::accounts::NewSession;

type St = State<Arc<AppState>>;

#[derive(Deserialize)]
pub struct LoginRequest {
    username: String,
    password: String,
    /// A second-factor code or a recovery code: needed when the account has a second
    /// factor, ignored otherwise.
    #[serde(default)]
    code: Option<String>,
}

/// The most of a typed user name or a user agent that is kept in the sign-in record.
const RECORDED_CHARS: usize = 100;

/// `text` on one line and at most [`RECORDED_CHARS`] characters, for the sign-in record
/// and the session list.
pub(crate) fn recorded(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(RECORDED_CHARS)
        .collect()
}

/// The request's `User-Agent`, as kept with a session and a sign-in.
pub(crate) fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .map(|v| recorded(&String::from_utf8_lossy(v.as_bytes())))
        .unwrap_or_default()
}

/// How a sign-in attempt ended, as recorded (see `athar_core::accounts::NewSignIn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Signed in with the password alone (no second factor set up).
    Password,
    /// Signed in with the password and a current code.
    Code,
    /// Signed in with the password and a recovery code (now used).
    RecoveryCode,
    /// Unknown user, wrong password or disabled account.
    BadCredentials,
    /// Right password, but the code was missing, wrong, replayed or expired, or the
    /// account's code budget was spent.
    BadCode,
}

impl Outcome {
    fn ok(self) -> bool {
        matches!(
            self,
            Outcome::Password | Outcome::Code | Outcome::RecoveryCode
        )
    }

    fn reason(self) -> &'static str {
        match self {
            Outcome::Password => "password",
            Outcome::Code => "code",
            Outcome::RecoveryCode => "recovery_code_used",
            Outcome::BadCredentials => "bad_credentials",
            Outcome::BadCode => "bad_code",
        }
    }
}

/// Who tried to sign in, for the record.
struct Attempted {
    at: i64,
    user_id: Option<i64>,
    name: String,
    address: String,
    user_agent: String,
}

impl Attempted {
    fn record(&self, a: &mut athar_store::Archive, ok: bool, reason: &str) -> Result<(), ApiError> {
        use athar_core::accounts::{NewSignIn, SignInOutcome};
        let outcome = if ok {
            SignInOutcome::Success
        } else {
            SignInOutcome::Failure
        };
        a.catalog.record_sign_in(&NewSignIn {
            at: self.at,
            user_id: self.user_id,
            name: &self.name,
            outcome,
            reason,
            address: &self.address,
            user_agent: &self.user_agent,
        })?;
        Ok(())
    }
}

fn cookie_header(name: &str, value: &str, max_age: i64, http_only: bool, secure: bool) -> String {
    cookie_at(name, value, "/", max_age, http_only, secure)
}

fn cookie_at(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    http_only: bool,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path={path}; SameSite=Strict; Max-Age={max_age}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn with_cookies(mut res: Response, cookies: &[String]) -> Result<Response, ApiError> {
    for c in cookies {
        let v = HeaderValue::from_str(c).map_err(ApiError::internal)?;
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// A log-in attempt reserved in the rate limiter until its outcome is known. Dropped
/// without [`Reserved::finish`] (the check panicked), it counts as a failure.
struct Reserved {
    state: Arc<AppState>,
    attempt: Option<Attempt>,
}

impl Reserved {
    fn end(&mut self, ok: bool) {
        if let Some(a) = self.attempt.take() {
            // A poisoned limiter fails every later log-in anyway (see `login`).
            if let Ok(mut l) = self.state.limiter.lock() {
                l.finish(a, ok, Instant::now());
            }
        }
    }

    fn finish(mut self, ok: bool) {
        self.end(ok);
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.end(false);
    }
}

fn too_many() -> Response {
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed log-ins; wait a minute",
    )
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    res
}

/// Checks the second-factor `code` (a current code or a recovery code) of user `uid`
/// whose factor is `factor`, within the account's code budget, using it up when it is
/// right (a code's time step, a recovery code). Runs on a blocking thread; takes the
/// archive mutex only to write.
fn check_code(
    state: &AppState,
    uid: i64,
    factor: &athar_core::accounts::SecondFactor,
    code: &str,
    now: i64,
) -> Result<Outcome, ApiError> {
    let Some(budget) = crate::factor::CodeBudget::reserve(state, uid) else {
        // Spent: refused unchecked, with the answer of a wrong code (so a guesser cannot
        // tell, and learns nothing from the guesses past the budget).
        return Ok(Outcome::BadCode);
    };
    let mut archive = state
        .archive
        .lock()
        .map_err(|_| ApiError::internal("archive mutex poisoned"))?;
    let outcome =
        if let Some(step) = crate::totp::check(&factor.secret, code, now, factor.last_step) {
            // The store refuses a step not later than the last accepted one (a replay racing
            // this one, or one accepted since the factor was read).
            if archive.catalog.accept_second_factor_step(uid, step)? {
                Outcome::Code
            } else {
                Outcome::BadCode
            }
        } else if let Some(n) = crate::totp::normalize_recovery_code(code) {
            let hash = crate::totp::recovery_code_sha256(uid, &n);
            if archive.catalog.use_recovery_code(uid, &hash)? {
                Outcome::RecoveryCode
            } else {
                Outcome::BadCode
            }
        } else {
            Outcome::BadCode
        };
    drop(archive);
    budget.finish(outcome.ok());
    Ok(outcome)
}

/// Log-in. The attempt is reserved in the rate limiter before the password is checked
/// (so concurrent attempts cannot run more checks than the budget), and its outcome is
/// recorded by the same blocking task that checks it (so a client that hangs up does not
/// take its attempt back). A valid device cookie for the user spends that device's own
/// budget instead of the account's and address's (failures from elsewhere never lock a
/// known device out); a success from a browser without one gives it one.
///
/// An account with a second factor needs a code too; every failure (unknown user, wrong
/// password, missing or wrong code) has the same answer, so the answer never says that a
/// password was right. Wrong codes spend the same budgets as wrong passwords, and the
/// account's code budget besides. Every attempt, refused ones included, is recorded.
pub async fn login(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let name = req.username.clone();
    let found = reading(&state, move |cat| {
        let Some(c) = cat.credentials(&name)? else {
            return Ok(None);
        };
        let factor = if c.user.second_factor {
            cat.second_factor(c.user.id)?.filter(|f| f.confirmed)
        } else {
            None
        };
        Ok(Some((c, factor)))
    })
    .await?;
    let attempted = Attempted {
        at: time::OffsetDateTime::now_utc().unix_timestamp(),
        user_id: found.as_ref().map(|(c, _)| c.user.id),
        name: recorded(&req.username),
        address: peer.ip().to_string(),
        user_agent: user_agent(&headers),
    };
    let device = match (&found, auth::cookie_in(&headers, DEVICE_COOKIE)) {
        (Some((c, _)), Some(v)) => Device::check(v, c.user.id, &c.password_hash),
        _ => None,
    };
    let attempt = state
        .limiter
        .lock()
        .map_err(|_| ApiError::internal("limiter mutex poisoned"))?
        .reserve(
            &Attempter {
                user: &req.username,
                address: peer.ip(),
                device: device.as_ref(),
            },
            Instant::now(),
        );
    let Some(attempt) = attempt else {
        blocking(&state, move |a| attempted.record(a, false, "rate_limited")).await?;
        return Ok(too_many());
    };
    let reserved = Reserved {
        state: state.clone(),
        attempt: Some(attempt),
    };
    let (password, code) = (req.password, req.code.unwrap_or_default());
    let st = state.clone();
    let (outcome, creds) = tokio::task::spawn_blocking(move || {
        let (outcome, creds) = match found {
            Some((c, factor)) => {
                // Checked for disabled users too, so they take as long as the others.
                let right = auth::verify_password(&password, &c.password_hash);
                let outcome = match (right && !c.user.disabled, &factor) {
                    (false, _) => Ok(Outcome::BadCredentials),
                    (true, None) => Ok(Outcome::Password),
                    (true, Some(f)) => check_code(&st, c.user.id, f, &code, attempted.at),
                };
                (outcome, Some(c))
            }
            None => {
                auth::verify_dummy(&password);
                (Ok(Outcome::BadCredentials), None)
            }
        };
        let ok = matches!(outcome, Ok(o) if o.ok());
        reserved.finish(ok);
        let outcome = outcome?;
        let mut archive = st
            .archive
            .lock()
            .map_err(|_| ApiError::internal("archive mutex poisoned"))?;
        attempted.record(&mut archive, outcome.ok(), outcome.reason())?;
        Ok::<_, ApiError>((outcome, creds))
    })
    .await
    .map_err(ApiError::internal)??;
    let creds = match creds {
        Some(c) if outcome.ok() => c,
        _ => {
            return Err(ApiError::unauthorized(
                "wrong user name, password or code (a code is needed once you have set up a second factor)",
            ))
        }
    };
    let user = creds.user;
    let sid = auth::new_secret()?;
    let csrf = auth::new_secret()?;
    let public_id = crate::factor::new_session_id()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (sid_hash, csrf_hash, uid) = (auth::sha256_hex(&sid), auth::sha256_hex(&csrf), user.id);
    let agent = user_agent(&headers);
    blocking(&state, move |a| {
        Ok(a.catalog.add_session(&NewSession {
            user_id: uid,
            sha256: &sid_hash,
            csrf_sha256: &csrf_hash,
            public_id: &public_id,
            user_agent: &agent,
            now,
            expires: now + SESSION_SECONDS,
        })?)
    })
    .await?;
    let secure = state.options.secure_cookies;
    let body = Json(json!({
        "user": user.name, "role": user.role, "cases": user.cases, "csrf_token": csrf,
        "second_factor": {
            "enrolled": user.second_factor,
            "required": state.requires_factor(user.role),
        },
        "must_enrol": state.must_enrol(&user),
        "recovery_code_used": outcome == Outcome::RecoveryCode,
    }));
    let mut cookies = vec![
        cookie_header(SESSION_COOKIE, &sid, SESSION_SECONDS, true, secure),
        cookie_header(CSRF_COOKIE, &csrf, SESSION_SECONDS, false, secure),
    ];
    if device.is_none() {
        // Without randomness there is no device cookie; the log-in itself still stands.
        if let Some(d) = Device::issue(user.id, &creds.password_hash) {
            // Sent back only to the log-in route, the one place it is read.
            let path = "/api/login";
            cookies.push(cookie_at(
                DEVICE_COOKIE,
                &d,
                path,
                DEVICE_SECONDS,
                true,
                secure,
            ));
        }
    }
    with_cookies(body.into_response(), &cookies)
}

pub async fn logout(State(state): St, caller: Caller) -> Result<Response, ApiError> {
    let via = caller.via.clone();
    blocking(&state, move |a| {
        match via {
            Via::Session { sha256, .. } => a.catalog.remove_session(&sha256)?,
            Via::Token(id) => a.catalog.revoke_token(id)?,
        }
        Ok(())
    })
    .await?;
    let secure = state.options.secure_cookies;
    with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        &[
            cookie_header(SESSION_COOKIE, "", 0, true, secure),
            cookie_header(CSRF_COOKIE, "", 0, false, secure),
        ],
    )
}

#[derive(Deserialize)]
pub struct TokenRequest {
    name: String,
    /// Days until the token expires: 1 to [`TOKEN_MAX_DAYS`], default [`TOKEN_DAYS`].
    #[serde(default)]
    expires_in_days: Option<i64>,
}

/// How long an API token lasts unless asked otherwise, in days.
pub const TOKEN_DAYS: i64 = 90;
/// The longest an API token may last, in days.
pub const TOKEN_MAX_DAYS: i64 = 365;

/// Creates an API token for the caller. Only from a logged-in session: a token cannot
/// mint tokens (a leaked one would otherwise outlive its own expiry and revocation).
pub async fn create_token(
    State(state): St,
    caller: Caller,
    Json(req): Json<TokenRequest>,
) -> Result<Response, ApiError> {
    if let Via::Token(_) = caller.via {
        return Err(ApiError::forbidden(
            "API tokens are created from a logged-in session, not with another token",
        ));
    }
    let days = req.expires_in_days.unwrap_or(TOKEN_DAYS);
    if !(1..=TOKEN_MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "expires_in_days: 1 to {TOKEN_MAX_DAYS} (default {TOKEN_DAYS})"
        )));
    }
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + days * 86_400;
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "name: 1 to 100 characters, no control characters",
        ));
    }
    let secret = format!("athar_{}", auth::new_secret()?);
    let hash = auth::sha256_hex(&secret);
    let uid = caller.user.id;
    let t = blocking(&state, move |a| {
        Ok(a.catalog.add_token(uid, &name, &hash, expires)?)
    })
    .await?;
    let body = json!({
        "id": t.id, "name": t.name, "created_at": t.created_at, "expires_at": t.expires_at,
        "token": secret,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn revoke_token(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request("token id: a positive integer"))?;
    blocking(&state, move |a| match a.catalog.token(id)? {
        Some(t) if t.user_id == caller.user.id || caller.is_admin() => {
            a.catalog.revoke_token(id)?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::not_found("no such token")),
    })
    .await
}
