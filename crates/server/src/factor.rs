//! The second factor and what its owner sees of their account's security: enrolling a
//! TOTP key (RFC 6238, [`crate::totp`]), confirming it (which gives recovery codes, shown
//! once), turning it off, renewing recovery codes, an admin's reset; the caller's
//! sessions (listed, and ended one by one); the record of sign-ins.
//!
//! Codes checked here spend the account's code budget ([`CodeBudget`]) like those at
//! log-in; here, where the caller is already signed in as that user, a spent budget is
//! said (429). Setting up and turning off a factor take a session, not an API token: a
//! token cannot change how its owner signs in.

use std::sync::Arc;
use std::time::Instant;

use athar_core::accounts::{Role, SecondFactor};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{self, Caller, OneAttempt, Via};
use crate::{blocking, reading, totp, ApiError, AppState};

type St = State<Arc<AppState>>;

/// Sign-in records listed unless asked otherwise.
pub const SIGN_INS_DEFAULT: usize = 50;
/// The most sign-in records one request lists.
pub const SIGN_INS_MAX: usize = 500;

/// Error code: the caller's role requires a second factor (it cannot be turned off).
const FACTOR_REQUIRED: &str = "second_factor_required";
/// Error code: a wrong, replayed or expired code.
const BAD_CODE: &str = "bad_code";
/// Error code: a wrong password or code.
const BAD_CREDENTIALS: &str = "bad_credentials";

/// A session's new public id: 128 random bits, hex. Never the session's secret.
pub(crate) fn new_session_id() -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| ApiError::internal(format!("random: {e}")))?;
    Ok(hex::encode(b))
}

/// One code check reserved in an account's budget of wrong codes
/// ([`crate::CODE_FAILURES`] in [`crate::CODE_WINDOW`]). Dropped without
/// [`CodeBudget::finish`] (the check failed on the way), it counts as a wrong code.
pub(crate) struct CodeBudget<'a> {
    state: &'a AppState,
    attempt: Option<OneAttempt>,
}

impl<'a> CodeBudget<'a> {
    /// Reserves a check of `uid`'s codes, or `None` when the budget is spent.
    pub(crate) fn reserve(state: &'a AppState, uid: i64) -> Option<CodeBudget<'a>> {
        let attempt = state
            .codes
            .lock()
            .ok()?
            .reserve_one(&format!("code:{uid}"), Instant::now())?;
        Some(CodeBudget {
            state,
            attempt: Some(attempt),
        })
    }

    fn end(&mut self, ok: bool) {
        if let Some(a) = self.attempt.take() {
            if let Ok(mut l) = self.state.codes.lock() {
                l.finish_one(a, ok, Instant::now());
            }
        }
    }

    /// Counts the check: a wrong code spends budget, a right one clears it.
    pub(crate) fn finish(mut self, ok: bool) {
        self.end(ok);
    }
}

impl Drop for CodeBudget<'_> {
    fn drop(&mut self) {
        self.end(false);
    }
}

fn too_many_codes() -> Response {
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many wrong codes; wait half an hour",
    )
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1800"));
    res
}

/// Refuses an API token: setting up or turning off a factor takes a signed-in session.
fn session_only(caller: &Caller) -> Result<(), ApiError> {
    match caller.via {
        Via::Session { .. } => Ok(()),
        Via::Token(_) => Err(ApiError::forbidden(
            "the second factor is managed from a signed-in session, not with an API token",
        )),
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// New recovery codes for `uid`: the codes (to show once) and their hashes (to store).
fn recovery_codes(uid: i64) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let mut codes = Vec::with_capacity(totp::RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(totp::RECOVERY_CODES);
    while codes.len() < totp::RECOVERY_CODES {
        let c =
            totp::new_recovery_code().map_err(|e| ApiError::internal(format!("random: {e}")))?;
        let n = totp::normalize_recovery_code(&c)
            .ok_or_else(|| ApiError::internal("a new recovery code does not read back"))?;
        let h = totp::recovery_code_sha256(uid, &n);
        if !hashes.contains(&h) {
            codes.push(c);
            hashes.push(h);
        }
    }
    Ok((codes, hashes))
}

/// The caller's factor as the pages show it.
fn describe(state: &AppState, caller: &Caller, f: Option<&SecondFactor>) -> Value {
    json!({
        "enrolled": f.is_some_and(|f| f.confirmed),
        "enrolling": f.is_some_and(|f| !f.confirmed),
        "required": state.requires_factor(caller.user.role),
        "recovery_codes_left": f.filter(|f| f.confirmed).map_or(0, |f| f.recovery_codes_left),
    })
}

pub async fn status(State(state): St, caller: Caller) -> Result<Json<Value>, ApiError> {
    let uid = caller.user.id;
    let f = reading(&state, move |c| Ok(c.second_factor(uid)?)).await?;
    Ok(Json(describe(&state, &caller, f.as_ref())))
}

/// Starts (or starts again) enrolling: a new key, not active until confirmed.
pub async fn start(State(state): St, caller: Caller) -> Result<Response, ApiError> {
    session_only(&caller)?;
    let key = totp::new_key().map_err(|e| ApiError::internal(format!("random: {e}")))?;
    let uid = caller.user.id;
    let started = blocking(&state, move |a| {
        Ok(a.catalog.start_second_factor(uid, &key)?)
    })
    .await?;
    if !started {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "a second factor is already set up: turn it off first to set up another",
        ));
    }
    let uri = totp::otpauth_uri(&key, &caller.user.name);
    let body = json!({
        "secret": totp::base32(&key),
        "uri": uri,
        "qr_svg": totp::qr_svg(&uri),
        "algorithm": "SHA1", "digits": totp::DIGITS, "period": totp::STEP,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct CodeRequest {
    code: String,
}

/// A current code checked within the account's code budget.
enum Checked {
    /// Right, for this time step (the one to record).
    Right(i64),
    Wrong,
    /// The budget is spent: not checked.
    Spent,
}

/// Checks a current code of `f` for `uid` in the account's code budget.
fn current_code(state: &AppState, uid: i64, f: &SecondFactor, code: &str) -> Checked {
    let Some(budget) = CodeBudget::reserve(state, uid) else {
        return Checked::Spent;
    };
    let step = totp::check(&f.secret, code, now(), f.last_step);
    budget.finish(step.is_some());
    step.map_or(Checked::Wrong, Checked::Right)
}

/// The time step of `code`, a current code of the user's factor (confirmed, or being set
/// up when `confirmed` is false); `Err` holds the answer when the code budget is spent.
async fn checked_step(
    state: &std::sync::Arc<AppState>,
    uid: i64,
    confirmed: bool,
    code: &str,
) -> Result<Result<i64, Response>, ApiError> {
    let f = reading(state, move |c| Ok(c.second_factor(uid)?)).await?;
    let Some(f) = f.filter(|f| f.confirmed == confirmed) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            if confirmed {
                "no second factor is set up"
            } else {
                "no second factor is being set up: start first"
            },
        ));
    };
    let st = state.clone();
    let code = code.to_owned();
    match tokio::task::spawn_blocking(move || current_code(&st, uid, &f, &code))
        .await
        .map_err(ApiError::internal)?
    {
        Checked::Right(step) => Ok(Ok(step)),
        Checked::Wrong => Err(bad_code()),
        Checked::Spent => Ok(Err(too_many_codes())),
    }
}

fn bad_code() -> ApiError {
    ApiError::forbidden("wrong or expired code: use the one your app shows now").with_code(BAD_CODE)
}

/// Confirms the enrolment under way with a current code: the factor is active from now
/// on; the recovery codes are in the answer, and nowhere else ever.
pub async fn confirm(
    State(state): St,
    caller: Caller,
    Json(req): Json<CodeRequest>,
) -> Result<Response, ApiError> {
    session_only(&caller)?;
    let uid = caller.user.id;
    let step = match checked_step(&state, uid, false, &req.code).await? {
        Ok(step) => step,
        Err(refused) => return Ok(refused),
    };
    let (codes, hashes) = recovery_codes(uid)?;
    let done = blocking(&state, move |a| {
        Ok(a.catalog.confirm_second_factor(uid, step, &hashes)?)
    })
    .await?;
    if !done {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the enrolment changed meanwhile: start again",
        ));
    }
    Ok(Json(json!({ "enrolled": true, "recovery_codes": codes })).into_response())
}

#[derive(Deserialize)]
pub struct DisableRequest {
    password: String,
    code: String,
}

/// Turns the caller's factor off: their password and a current or recovery code, and
/// only when their role does not require one. Sessions are kept.
pub async fn disable(
    State(state): St,
    caller: Caller,
    Json(req): Json<DisableRequest>,
) -> Result<Response, ApiError> {
    session_only(&caller)?;
    if state.requires_factor(caller.user.role) {
        return Err(ApiError::forbidden(format!(
            "the {} role requires a second factor: it cannot be turned off (an admin can reset it)",
            caller.user.role.as_str()
        ))
        .with_code(FACTOR_REQUIRED));
    }
    let (uid, name) = (caller.user.id, caller.user.name.clone());
    let found = reading(&state, move |c| {
        Ok((c.credentials(&name)?, c.second_factor(uid)?))
    })
    .await?;
    let (Some(creds), Some(f)) = found else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no second factor is set up",
        ));
    };
    if !f.confirmed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no second factor is set up",
        ));
    }
    let st = state.clone();
    let checked =
        tokio::task::spawn_blocking(move || -> Result<Result<bool, Response>, ApiError> {
            let Some(budget) = CodeBudget::reserve(&st, uid) else {
                return Ok(Err(too_many_codes()));
            };
            let right = auth::verify_password(&req.password, &creds.password_hash);
            let mut archive = st
                .archive
                .lock()
                .map_err(|_| ApiError::internal("archive mutex poisoned"))?;
            let code_ok = if !right {
                false
            } else if let Some(step) = totp::check(&f.secret, &req.code, now(), f.last_step) {
                archive.catalog.accept_second_factor_step(uid, step)?
            } else if let Some(n) = totp::normalize_recovery_code(&req.code) {
                archive
                    .catalog
                    .use_recovery_code(uid, &totp::recovery_code_sha256(uid, &n))?
            } else {
                false
            };
            if code_ok {
                archive.catalog.remove_second_factor(uid, false)?;
            }
            drop(archive);
            budget.finish(code_ok);
            Ok(Ok(code_ok))
        })
        .await
        .map_err(ApiError::internal)??;
    match checked {
        Ok(true) => Ok(StatusCode::NO_CONTENT.into_response()),
        Ok(false) => Err(ApiError::forbidden("wrong password or code").with_code(BAD_CREDENTIALS)),
        Err(res) => Ok(res),
    }
}

/// New recovery codes in place of the old ones (used or not), with a current code.
pub async fn renew_recovery_codes(
    State(state): St,
    caller: Caller,
    Json(req): Json<CodeRequest>,
) -> Result<Response, ApiError> {
    session_only(&caller)?;
    let uid = caller.user.id;
    let step = match checked_step(&state, uid, true, &req.code).await? {
        Ok(step) => step,
        Err(refused) => return Ok(refused),
    };
    let (codes, hashes) = recovery_codes(uid)?;
    let done = blocking(&state, move |a| {
        // The code is used up like one at log-in (a replay racing this one loses).
        if !a.catalog.accept_second_factor_step(uid, step)? {
            return Ok(None);
        }
        Ok(Some(a.catalog.set_recovery_codes(uid, &hashes)?))
    })
    .await?;
    match done {
        Some(true) => Ok(Json(json!({ "recovery_codes": codes })).into_response()),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no second factor is set up",
        )),
        None => Err(bad_code()),
    }
}

/// An admin resets another user's factor (a lost phone): removed with its recovery codes,
/// and every session of that user ended. They set up a new one at their next sign-in
/// when their role requires it. One's own factor is turned off with a code instead.
pub async fn reset(
    State(state): St,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::forbidden(
            "only admins reset another user's second factor",
        ));
    }
    if name == caller.user.name {
        return Err(ApiError::forbidden(
            "your own second factor is turned off with your password and a code, or reset with `athar user reset-second-factor`",
        ));
    }
    blocking(&state, move |a| {
        let Some(u) = a.catalog.user(&name)? else {
            return Err(ApiError::not_found("no such user"));
        };
        a.catalog.remove_second_factor(u.id, true)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

pub async fn sessions(State(state): St, caller: Caller) -> Result<Json<Value>, ApiError> {
    let uid = caller.user.id;
    let current = match &caller.via {
        Via::Session { id, .. } => Some(id.clone()),
        Via::Token(_) => None,
    };
    let list = reading(&state, move |c| Ok(c.sessions_of(uid, now())?)).await?;
    let out: Vec<Value> = list
        .into_iter()
        .map(|s| {
            let mut v = json!(s);
            v["current"] = json!(current.as_deref() == Some(s.id.as_str()));
            v
        })
        .collect();
    Ok(Json(json!({ "sessions": out })))
}

/// Ends one of the caller's sessions (another user's, or none, is 404 alike).
pub async fn end_session(
    State(state): St,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let well_formed = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return Err(ApiError::bad_request(
            "session id: 32 lower-case hex digits",
        ));
    }
    let uid = caller.user.id;
    let ended = blocking(&state, move |a| {
        Ok(a.catalog.remove_user_session(uid, &id)?)
    })
    .await?;
    if ended {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such session"))
    }
}

#[derive(Deserialize)]
pub struct SignInQuery {
    limit: Option<usize>,
    user: Option<String>,
}

fn limit(q: &SignInQuery) -> usize {
    q.limit.unwrap_or(SIGN_INS_DEFAULT).clamp(1, SIGN_INS_MAX)
}

pub async fn my_sign_ins(
    State(state): St,
    caller: Caller,
    Query(q): Query<SignInQuery>,
) -> Result<Json<Value>, ApiError> {
    let (uid, n) = (caller.user.id, limit(&q));
    let list = reading(&state, move |c| Ok(c.sign_ins(Some(uid), n)?)).await?;
    Ok(Json(json!({ "sign_ins": list })))
}

/// Every account's sign-ins (admins), or one user's (`user`).
pub async fn sign_ins(
    State(state): St,
    caller: Caller,
    Query(q): Query<SignInQuery>,
) -> Result<Json<Value>, ApiError> {
    if caller.user.role != Role::Admin {
        return Err(ApiError::forbidden("only admins see every sign-in"));
    }
    let n = limit(&q);
    reading(&state, move |c| {
        let uid = match &q.user {
            Some(name) => Some(
                c.user(name)?
                    .ok_or_else(|| ApiError::not_found("no such user"))?
                    .id,
            ),
            None => None,
        };
        Ok(Json(json!({ "sign_ins": c.sign_ins(uid, n)? })))
    })
    .await
}
