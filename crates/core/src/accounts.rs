//! Accounts of the HTTP API: users with a role and case memberships, sessions and API
//! tokens, and each user's safe-review defaults. [`Accounts`] is what a backend keeps of
//! them; the embedded backend keeps them in its catalog.
//!
//! A backend stores and looks up; it never sees a secret in clear where it can be avoided.
//! Passwords arrive already hashed (argon2id, PHC string), session ids, CSRF tokens, API
//! tokens and recovery codes as the hex SHA-256 of the secret. Hashing and checking belong
//! to the server. The one exception is a second factor's TOTP key: checking a code needs
//! the key itself (RFC 6238 is symmetric), so the backend keeps it as given (an encrypted
//! archive's catalog is encrypted at rest).
//!
//! Also kept here: each session's public id, user agent and last use (so its owner can
//! list and end it), and the record of sign-ins and failed sign-ins ([`SignIn`]).

use crate::StoreError;

/// What a user may do. Every role reads the cases it is a member of; admins see every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages accounts; sees every case and protected source identities.
    Admin,
    /// Collects and edits evidence on their cases.
    Investigator,
    /// Reads and annotates their cases.
    Analyst,
    /// Reads their cases.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Investigator, Role::Analyst, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Investigator => "investigator",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A user account (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    /// Names of the cases the user is a member of.
    pub cases: Vec<String>,
    /// Whether the user has a confirmed second factor (TOTP): signing in needs a code.
    pub second_factor: bool,
}

/// A user's password hash, for checking a log-in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    /// PHC string (argon2id).
    pub password_hash: String,
}

/// A live session, found by the SHA-256 of its id.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// SHA-256 (hex) of the session's CSRF token.
    pub csrf_sha256: String,
    /// The session's public id (not its secret): how its owner names it to end it.
    pub id: String,
    /// When it was last used (Unix seconds).
    pub last_seen: i64,
}

/// A session to record: its secret and CSRF token only as SHA-256 (hex).
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub user_id: i64,
    /// SHA-256 (hex) of the session id.
    pub sha256: &'a str,
    /// SHA-256 (hex) of its CSRF token.
    pub csrf_sha256: &'a str,
    /// A public id, unique among sessions: shown to its owner, never a secret.
    pub public_id: &'a str,
    /// The browser's `User-Agent`, as sent (shown to the owner to tell sessions apart).
    pub user_agent: &'a str,
    /// When it starts (Unix seconds); also its first "last seen".
    pub now: i64,
    /// When it ends (Unix seconds).
    pub expires: i64,
}

/// A session as its owner sees it in a listing (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    /// The public id.
    pub id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub last_seen_at: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub user_agent: String,
}

/// A user's second factor (TOTP, RFC 6238), as the server needs it to check codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactor {
    /// The TOTP key (raw bytes).
    pub secret: Vec<u8>,
    /// Whether it was confirmed with a valid code. Until then it is an enrolment under
    /// way and signing in does not ask for it.
    pub confirmed: bool,
    /// The last time step a code was accepted for (a code of this step or an earlier one
    /// is a replay).
    pub last_step: Option<i64>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: usize,
}

/// How a sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInOutcome {
    Success,
    Failure,
}

impl SignInOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::Success => "success",
            SignInOutcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<SignInOutcome> {
        [SignInOutcome::Success, SignInOutcome::Failure]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One sign-in attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSignIn<'a> {
    /// When (Unix seconds).
    pub at: i64,
    /// The account, when the name given is a user's.
    pub user_id: Option<i64>,
    /// The account name as typed (bounded by the caller).
    pub name: &'a str,
    pub outcome: SignInOutcome,
    /// Why: `password`, `code`, `recovery_code_used` on success; `bad_credentials`,
    /// `bad_code`, `rate_limited` on failure (the server's words, stored as given).
    pub reason: &'a str,
    /// The caller's address.
    pub address: &'a str,
    /// The browser's `User-Agent` (bounded by the caller).
    pub user_agent: &'a str,
}

/// A recorded sign-in attempt. A failure like one recorded less than
/// [`SIGN_IN_MERGE_SECONDS`] before (same user or name, reason and address) is counted in
/// that one instead of adding a row, so a flood of refused attempts cannot push the others
/// out of the record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignIn {
    pub id: i64,
    /// RFC 3339, UTC: the first attempt.
    pub at: String,
    /// RFC 3339, UTC: the last attempt counted in this record.
    pub last_at: String,
    pub user_id: Option<i64>,
    pub name: String,
    pub outcome: SignInOutcome,
    pub reason: String,
    pub address: String,
    pub user_agent: String,
    /// How many attempts this record stands for (1 unless failures were merged).
    pub count: i64,
}

/// Repeated failures within this many seconds are merged into one [`SignIn`].
pub const SIGN_IN_MERGE_SECONDS: i64 = 60;
/// Sign-in records older than this many days are removed as new ones are recorded.
pub const SIGN_IN_KEEP_DAYS: i64 = 90;
/// At most this many sign-in records are kept (the oldest go first).
pub const SIGN_IN_KEEP_ROWS: i64 = 100_000;

/// The language a user reads the web app in: English, Arabic, or (the default) whichever
/// of them their browser prefers. Written as `"en"`, `"ar"` and `""`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Language {
    /// The browser's preferred language (English when it prefers neither).
    #[default]
    #[serde(rename = "")]
    Browser,
    #[serde(rename = "en")]
    English,
    #[serde(rename = "ar")]
    Arabic,
}

impl Language {
    /// Every language, as written.
    pub const CODES: [&'static str; 3] = ["", "en", "ar"];

    /// How it is written (`""`, `"en"`, `"ar"`).
    pub fn code(self) -> &'static str {
        match self {
            Language::Browser => "",
            Language::English => "en",
            Language::Arabic => "ar",
        }
    }

    /// The language written `code`, if it is one of [`Language::CODES`].
    pub fn from_code(code: &str) -> Option<Language> {
        match code {
            "" => Some(Language::Browser),
            "en" => Some(Language::English),
            "ar" => Some(Language::Arabic),
            _ => None,
        }
    }
}

/// A user's settings for the web pages: safe-review defaults (how evidence images and
/// videos are first shown; the defaults are the safe ones, revealing is always a deliberate
/// click) and the language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReviewSettings {
    /// Review images are shown blurred until clicked.
    pub blur: bool,
    /// Review images are shown in greyscale until clicked.
    pub greyscale: bool,
    /// Videos start muted.
    pub muted: bool,
    /// Videos start playing on their own once loaded.
    pub autoplay: bool,
    /// The interface's language.
    pub lang: Language,
}

impl Default for ReviewSettings {
    fn default() -> ReviewSettings {
        ReviewSettings {
            blur: true,
            greyscale: true,
            muted: true,
            autoplay: false,
            lang: Language::Browser,
        }
    }
}

/// An API token's public description (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: String,
    /// When the token stops working (RFC 3339, UTC).
    pub expires_at: String,
    pub revoked: bool,
}

/// The accounts a backend keeps. Times are Unix seconds; every method is one transaction.
pub trait Accounts: Send {
    /// Creates a user. Fails when the name is taken.
    fn add_user(
        &mut self,
        name: &str,
        role: Role,
        password_hash: &str,
        cases: &[String],
    ) -> Result<User, StoreError>;
    /// A user by name.
    fn user(&self, name: &str) -> Result<Option<User>, StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// A user's password hash, for checking a log-in.
    fn credentials(&self, name: &str) -> Result<Option<Credentials>, StoreError>;
    /// Disables (or enables) a user; disabling ends their sessions and revokes their tokens.
    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<(), StoreError>;
    /// Replaces a user's password hash, ends their sessions and revokes their API tokens
    /// (a reset usually follows a leak: nothing made with the old password survives it).
    fn set_password(&mut self, name: &str, password_hash: &str) -> Result<(), StoreError>;
    /// Adds and removes case memberships.
    fn set_memberships(
        &mut self,
        name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), StoreError>;
    /// Records a session (by the SHA-256 of its id). Sessions expired at `s.now` are
    /// removed on the way.
    fn add_session(&mut self, s: &NewSession<'_>) -> Result<(), StoreError>;
    /// The live session with this id hash at time `now` (Unix seconds), when its user is
    /// enabled. Expired sessions are removed on the way.
    fn session(&mut self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError>;
    /// The live session with this id hash at time `now`, when its user is enabled; writes
    /// nothing (works on a read-only connection).
    fn live_session(&self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError>;
    /// Records that the session was used at `now` (Unix seconds).
    fn touch_session(&mut self, sha256: &str, now: i64) -> Result<(), StoreError>;
    /// A user's live sessions at `now`, newest first.
    fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<SessionInfo>, StoreError>;
    /// Ends a session.
    fn remove_session(&mut self, sha256: &str) -> Result<(), StoreError>;
    /// Ends the session with public id `public_id` if it is `user_id`'s; whether one ended.
    fn remove_user_session(&mut self, user_id: i64, public_id: &str) -> Result<bool, StoreError>;
    /// Records an API token by the SHA-256 of its secret; it works until `expires` (Unix
    /// seconds).
    fn add_token(
        &mut self,
        user_id: i64,
        name: &str,
        sha256: &str,
        expires: i64,
    ) -> Result<ApiToken, StoreError>;
    /// The user of a live token at time `now` (Unix seconds: unrevoked, not expired), when
    /// the user is enabled, and the token's id.
    fn token_user(&self, sha256: &str, now: i64) -> Result<Option<(User, i64)>, StoreError>;
    /// A token by id.
    fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError>;
    /// Revokes a token (kept, marked revoked).
    fn revoke_token(&mut self, id: i64) -> Result<(), StoreError>;
    /// A user's safe-review defaults and language (the safe defaults and the browser's
    /// language when never set).
    fn review_settings(&self, user_id: i64) -> Result<ReviewSettings, StoreError>;
    /// Stores a user's safe-review defaults and language.
    fn set_review_settings(&mut self, user_id: i64, s: &ReviewSettings) -> Result<(), StoreError>;
    /// Names of every case: made by `ingest --case` or by a case record.
    fn case_names(&self) -> Result<Vec<String>, StoreError>;

    /// A user's second factor, confirmed or being enrolled.
    fn second_factor(&self, user_id: i64) -> Result<Option<SecondFactor>, StoreError>;
    /// Starts enrolling `secret` as the user's second factor, replacing an enrolment under
    /// way. Refused (`Ok(false)`, nothing changed) when a confirmed factor exists.
    fn start_second_factor(&mut self, user_id: i64, secret: &[u8]) -> Result<bool, StoreError>;
    /// Confirms the enrolment under way: the factor becomes active with `step` as its last
    /// accepted time step, and `recovery_sha256` (hex SHA-256 of each recovery code) as
    /// its recovery codes. `Ok(false)`, nothing changed, when no enrolment is under way.
    fn confirm_second_factor(
        &mut self,
        user_id: i64,
        step: i64,
        recovery_sha256: &[String],
    ) -> Result<bool, StoreError>;
    /// Accepts a code of time step `step` for the user's confirmed factor, if `step` is
    /// later than the last accepted one, and records it as the last; `Ok(false)` (a
    /// replay, or no confirmed factor) changes nothing. Atomic: of two calls with one step,
    /// one is accepted.
    fn accept_second_factor_step(&mut self, user_id: i64, step: i64) -> Result<bool, StoreError>;
    /// Uses a recovery code (by its hex SHA-256) of the user's confirmed factor: `Ok(true)`
    /// once, `Ok(false)` for an unknown or used code.
    fn use_recovery_code(&mut self, user_id: i64, sha256: &str) -> Result<bool, StoreError>;
    /// Replaces the recovery codes of the user's confirmed factor; `Ok(false)` when none.
    fn set_recovery_codes(
        &mut self,
        user_id: i64,
        recovery_sha256: &[String],
    ) -> Result<bool, StoreError>;
    /// Removes the user's second factor (confirmed or under way) and its recovery codes;
    /// with `end_sessions`, also ends every session of the user (an admin's reset).
    fn remove_second_factor(&mut self, user_id: i64, end_sessions: bool) -> Result<(), StoreError>;

    /// Records a sign-in attempt (merging a repeated failure, see [`SignIn`]) and removes
    /// records older than [`SIGN_IN_KEEP_DAYS`] before `s.at` and beyond the newest
    /// [`SIGN_IN_KEEP_ROWS`].
    fn record_sign_in(&mut self, s: &NewSignIn<'_>) -> Result<(), StoreError>;
    /// The most recent `limit` sign-in records, newest first: of one user, or of everyone.
    fn sign_ins(&self, user_id: Option<i64>, limit: usize) -> Result<Vec<SignIn>, StoreError>;
}
