//! Accounts of the HTTP API: users with a role and case memberships, sessions and API
//! tokens, and each user's safe-review defaults. [`Accounts`] is what a backend keeps of
//! them; the embedded backend keeps them in its catalog.
//!
//! A backend stores and looks up; it never sees a secret in clear. Passwords arrive already
//! hashed (argon2id, PHC string), session ids, CSRF tokens and API tokens as the hex
//! SHA-256 of the secret. Hashing and checking belong to the server.

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
}

/// A user's safe-review defaults: how evidence images and videos are first shown in the
/// web pages. The defaults are the safe ones; revealing is always a deliberate click.
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
}

impl Default for ReviewSettings {
    fn default() -> ReviewSettings {
        ReviewSettings {
            blur: true,
            greyscale: true,
            muted: true,
            autoplay: false,
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
    /// Records a session (by the SHA-256 of its id) that ends at `expires` (Unix seconds).
    fn add_session(
        &mut self,
        user_id: i64,
        sha256: &str,
        csrf_sha256: &str,
        expires: i64,
    ) -> Result<(), StoreError>;
    /// The live session with this id hash at time `now` (Unix seconds), when its user is
    /// enabled. Expired sessions are removed on the way.
    fn session(&mut self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError>;
    /// The live session with this id hash at time `now`, when its user is enabled; writes
    /// nothing (works on a read-only connection).
    fn live_session(&self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError>;
    /// Ends a session.
    fn remove_session(&mut self, sha256: &str) -> Result<(), StoreError>;
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
    /// A user's safe-review defaults (the safe defaults when never set).
    fn review_settings(&self, user_id: i64) -> Result<ReviewSettings, StoreError>;
    /// Stores a user's safe-review defaults.
    fn set_review_settings(&mut self, user_id: i64, s: &ReviewSettings) -> Result<(), StoreError>;
    /// Names of every case: made by `ingest --case` or by a case record.
    fn case_names(&self) -> Result<Vec<String>, StoreError>;
}
