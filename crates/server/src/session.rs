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

type St = State<Arc<AppState>>;

#[derive(Deserialize)]
pub struct LoginRequest {
    username: String,
    password: String,
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

/// Log-in. The attempt is reserved in the rate limiter before the password is checked
/// (so concurrent attempts cannot run more checks than the budget), and its outcome is
/// recorded by the same blocking task that checks it (so a client that hangs up does not
/// take its attempt back). A valid device cookie for the user spends that device's own
/// budget instead of the account's and address's (failures from elsewhere never lock a
/// known device out); a success from a browser without one gives it one.
pub async fn login(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let name = req.username.clone();
    let creds = reading(&state, move |cat| Ok(cat.credentials(&name)?)).await?;
    let device = match (&creds, auth::cookie_in(&headers, DEVICE_COOKIE)) {
        (Some(c), Some(v)) => Device::check(v, c.user.id, &c.password_hash),
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
        return Ok(too_many());
    };
    let reserved = Reserved {
        state: state.clone(),
        attempt: Some(attempt),
    };
    let password = req.password;
    let creds = tokio::task::spawn_blocking(move || {
        let ok = match creds {
            Some(c) => {
                // Checked for disabled users too, so they take as long as the others.
                let right = auth::verify_password(&password, &c.password_hash);
                (right && !c.user.disabled).then_some(c)
            }
            None => {
                auth::verify_dummy(&password);
                None
            }
        };
        reserved.finish(ok.is_some());
        ok
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(creds) = creds else {
        return Err(ApiError::unauthorized("wrong user name or password"));
    };
    let user = creds.user;
    let sid = auth::new_secret()?;
    let csrf = auth::new_secret()?;
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + SESSION_SECONDS;
    let (sid_hash, csrf_hash, uid) = (auth::sha256_hex(&sid), auth::sha256_hex(&csrf), user.id);
    blocking(&state, move |a| {
        Ok(a.catalog.add_session(uid, &sid_hash, &csrf_hash, expires)?)
    })
    .await?;
    let secure = state.options.secure_cookies;
    let body = Json(json!({
        "user": user.name, "role": user.role, "cases": user.cases, "csrf_token": csrf,
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
            Via::Session(h) => a.catalog.remove_session(&h)?,
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
