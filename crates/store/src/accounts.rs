//! Accounts of the HTTP API, kept in the catalog (migration 9): users with a role and case
//! memberships, sessions and API tokens (which expire: migration 12).
//!
//! This module stores and looks up; it never sees a secret in clear. Passwords arrive
//! already hashed (argon2id, PHC string), session ids, CSRF tokens and API tokens as the
//! hex SHA-256 of the secret. Hashing and checking belong to `athar-server`.

use std::path::Path;

use athar_core::StoreError;
use rusqlite::{params, OptionalExtension};

use crate::catalog::db;
use crate::{Access, Archive, ArchiveError, SqliteCatalog};

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

/// SQL giving a Unix-seconds column as RFC 3339 in the catalog's format (UTC, microseconds).
const EXPIRES_AT: &str = "strftime('%Y-%m-%dT%H:%M:%S', expires, 'unixepoch') || '.000000Z'";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("catalog holds an invalid {what}: {value:?}"))
}

fn exists(what: &str) -> StoreError {
    StoreError::Catalog(format!("{what} already exists"))
}

impl Archive {
    /// Opens the catalog of the archive at `root` for account changes only, without the
    /// writer lock (accounts are not custody data; SQLite serialises writers), so that
    /// `athar user` works while `athar serve` holds the lock. Pending migrations are run
    /// first under the writer lock.
    pub fn accounts_catalog(root: &Path) -> Result<SqliteCatalog, ArchiveError> {
        match Archive::open(root, Access::Read) {
            Ok(_) => {}
            Err(ArchiveError::Store(StoreError::Catalog(_))) => {
                drop(Archive::open(root, Access::Write)?);
            }
            Err(e) => return Err(e),
        }
        Ok(SqliteCatalog::open(&root.join("catalog.sqlite"), true)?)
    }
}

type UserRow = (i64, String, String, i64, String);

const USER_COLUMNS: &str = "id, name, role, disabled, created_at";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

impl SqliteCatalog {
    fn to_user(&self, raw: UserRow) -> Result<User, StoreError> {
        let (id, name, role, disabled, created_at) = raw;
        let role = Role::parse(&role).ok_or_else(|| corrupt("role", &role))?;
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT case_name FROM user_cases WHERE user_id = ?1 ORDER BY case_name",
            )
            .map_err(db)?;
        let cases = st
            .query_map([id], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(db)?;
        Ok(User {
            id,
            name,
            role,
            disabled: disabled != 0,
            created_at,
            cases,
        })
    }

    /// Creates a user. Fails when the name is taken.
    pub fn add_user(
        &mut self,
        name: &str,
        role: Role,
        password_hash: &str,
        cases: &[String],
    ) -> Result<User, StoreError> {
        if self.user(name)?.is_some() {
            return Err(exists(&format!("user {name:?}")));
        }
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO users (name, role, password, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                name,
                role.as_str(),
                password_hash,
                athar_core::now_rfc3339()
            ],
        )
        .map_err(db)?;
        let id = tx.last_insert_rowid();
        for c in cases {
            tx.execute(
                "INSERT OR IGNORE INTO user_cases (user_id, case_name) VALUES (?1, ?2)",
                params![id, c],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        self.user(name)?
            .ok_or_else(|| StoreError::Catalog(format!("user {name:?} vanished")))
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"),
                [name],
                user_row,
            )
            .optional()
            .map_err(db)?;
        raw.map(|r| self.to_user(r)).transpose()
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
            .map_err(db)?;
        let raws = st
            .query_map([], user_row)
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        raws.into_iter().map(|r| self.to_user(r)).collect()
    }

    /// A user's password hash, for checking a log-in.
    pub fn credentials(&self, name: &str) -> Result<Option<Credentials>, StoreError> {
        let hash: Option<String> = self
            .conn
            .query_row("SELECT password FROM users WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        let Some(password_hash) = hash else {
            return Ok(None);
        };
        let Some(user) = self.user(name)? else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            user,
            password_hash,
        }))
    }

    fn user_id(&self, name: &str) -> Result<i64, StoreError> {
        self.user(name)?
            .map(|u| u.id)
            .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))
    }

    /// Disables (or enables) a user; disabling ends their sessions and revokes their tokens.
    pub fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<(), StoreError> {
        let id = self.user_id(name)?;
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "UPDATE users SET disabled = ?2 WHERE id = ?1",
            params![id, i64::from(disabled)],
        )
        .map_err(db)?;
        if disabled {
            end_all(&tx, id)?;
        }
        tx.commit().map_err(db)
    }

    /// Replaces a user's password hash, ends their sessions and revokes their API tokens
    /// (a reset usually follows a leak: nothing made with the old password survives it).
    pub fn set_password(&mut self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let id = self.user_id(name)?;
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "UPDATE users SET password = ?2 WHERE id = ?1",
            params![id, password_hash],
        )
        .map_err(db)?;
        end_all(&tx, id)?;
        tx.commit().map_err(db)
    }

    /// Adds and removes case memberships.
    pub fn set_memberships(
        &mut self,
        name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), StoreError> {
        let id = self.user_id(name)?;
        let tx = self.conn.transaction().map_err(db)?;
        for c in add {
            tx.execute(
                "INSERT OR IGNORE INTO user_cases (user_id, case_name) VALUES (?1, ?2)",
                params![id, c],
            )
            .map_err(db)?;
        }
        for c in remove {
            tx.execute(
                "DELETE FROM user_cases WHERE user_id = ?1 AND case_name = ?2",
                params![id, c],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Records a session (by the SHA-256 of its id) that ends at `expires` (Unix seconds).
    pub fn add_session(
        &mut self,
        user_id: i64,
        sha256: &str,
        csrf_sha256: &str,
        expires: i64,
    ) -> Result<(), StoreError> {
        // Sessions that ran out go as new ones come (lookups only read).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.conn
            .execute("DELETE FROM sessions WHERE expires <= ?1", [now])
            .map_err(db)?;
        self.conn
            .execute(
                "INSERT INTO sessions (sha256, user_id, csrf, created_at, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    sha256,
                    user_id,
                    csrf_sha256,
                    athar_core::now_rfc3339(),
                    expires
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    /// The live session with this id hash at time `now` (Unix seconds), when its user is
    /// enabled. Expired sessions are removed on the way.
    pub fn session(&mut self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE expires <= ?1", [now])
            .map_err(db)?;
        self.live_session(sha256, now)
    }

    /// The live session with this id hash at time `now`, when its user is enabled; writes
    /// nothing (works on a read-only connection).
    pub fn live_session(&self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT u.name, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.sha256 = ?1 AND s.expires > ?2 AND u.disabled = 0",
                params![sha256, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((name, csrf_sha256)) = row else {
            return Ok(None);
        };
        Ok(self.user(&name)?.map(|user| Session { user, csrf_sha256 }))
    }

    /// Ends a session.
    pub fn remove_session(&mut self, sha256: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE sha256 = ?1", [sha256])
            .map_err(db)?;
        Ok(())
    }

    /// Records an API token by the SHA-256 of its secret; it works until `expires` (Unix
    /// seconds).
    pub fn add_token(
        &mut self,
        user_id: i64,
        name: &str,
        sha256: &str,
        expires: i64,
    ) -> Result<ApiToken, StoreError> {
        self.conn
            .execute(
                "INSERT INTO api_tokens (user_id, name, sha256, created_at, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user_id, name, sha256, athar_core::now_rfc3339(), expires],
            )
            .map_err(db)?;
        let id = self.conn.last_insert_rowid();
        self.token(id)?
            .ok_or_else(|| StoreError::Catalog(format!("API token {id} vanished")))
    }

    /// The user of a live token at time `now` (Unix seconds: unrevoked, not expired), when
    /// the user is enabled, and the token's id.
    pub fn token_user(&self, sha256: &str, now: i64) -> Result<Option<(User, i64)>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT u.name, t.id FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.sha256 = ?1 AND t.revoked_at IS NULL AND t.expires > ?2
                     AND u.disabled = 0",
                params![sha256, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((name, id)) = row else {
            return Ok(None);
        };
        Ok(self.user(&name)?.map(|u| (u, id)))
    }

    /// A token by id.
    pub fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT id, user_id, name, created_at, {EXPIRES_AT}, revoked_at IS NOT NULL
                     FROM api_tokens WHERE id = ?1"
                ),
                [id],
                |r| {
                    Ok(ApiToken {
                        id: r.get(0)?,
                        user_id: r.get(1)?,
                        name: r.get(2)?,
                        created_at: r.get(3)?,
                        expires_at: r.get(4)?,
                        revoked: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(db)
    }

    /// Revokes a token (kept, marked revoked).
    pub fn revoke_token(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, athar_core::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(())
    }

    /// A user's safe-review defaults (the safe defaults when never set).
    pub fn review_settings(&self, user_id: i64) -> Result<ReviewSettings, StoreError> {
        let row: Option<(bool, bool, bool, bool)> = self
            .conn
            .query_row(
                "SELECT blur, greyscale, muted, autoplay FROM user_settings WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(db)?;
        Ok(row.map_or_else(
            ReviewSettings::default,
            |(blur, greyscale, muted, autoplay)| ReviewSettings {
                blur,
                greyscale,
                muted,
                autoplay,
            },
        ))
    }

    /// Stores a user's safe-review defaults.
    pub fn set_review_settings(
        &mut self,
        user_id: i64,
        s: &ReviewSettings,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO user_settings (user_id, blur, greyscale, muted, autoplay, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (user_id) DO UPDATE SET blur = ?2, greyscale = ?3, muted = ?4,
                     autoplay = ?5, updated_at = ?6",
                params![
                    user_id,
                    s.blur,
                    s.greyscale,
                    s.muted,
                    s.autoplay,
                    athar_core::now_rfc3339()
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Names of every case: made by `ingest --case` or by a case record.
    pub fn case_names(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT name FROM cases UNION
                 SELECT case_name FROM records WHERE kind = 'case' AND deleted = 0
                 ORDER BY 1",
            )
            .map_err(db)?;
        let names = st
            .query_map([], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(db)?;
        Ok(names)
    }
}

fn end_all(tx: &rusqlite::Transaction<'_>, user_id: i64) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
        .map_err(db)?;
    tx.execute(
        "UPDATE api_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, athar_core::now_rfc3339()],
    )
    .map_err(db)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_settings_default_safe_and_kept_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = SqliteCatalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let a = cat.add_user("amal", Role::Analyst, "h", &[]).unwrap();
        let b = cat.add_user("badr", Role::Viewer, "h", &[]).unwrap();
        let safe = cat.review_settings(a.id).unwrap();
        assert!(safe.blur && safe.greyscale && safe.muted && !safe.autoplay);
        let open = ReviewSettings {
            blur: false,
            greyscale: false,
            muted: false,
            autoplay: true,
        };
        cat.set_review_settings(a.id, &open).unwrap();
        assert_eq!(cat.review_settings(a.id).unwrap(), open);
        assert_eq!(
            cat.review_settings(b.id).unwrap(),
            ReviewSettings::default()
        );
        let blur_only = ReviewSettings {
            greyscale: false,
            ..ReviewSettings::default()
        };
        cat.set_review_settings(a.id, &blur_only).unwrap();
        assert_eq!(cat.review_settings(a.id).unwrap(), blur_only);
    }

    #[test]
    fn users_sessions_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = SqliteCatalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let u = cat
            .add_user("amal", Role::Analyst, "$argon2id$x", &["A".into()])
            .unwrap();
        assert_eq!(u.cases, vec!["A".to_owned()]);
        assert!(cat.add_user("amal", Role::Viewer, "h", &[]).is_err());
        cat.add_session(u.id, "s1", "c1", 100).unwrap();
        assert!(cat.session("s1", 50).unwrap().is_some());
        assert!(cat.session("s1", 100).unwrap().is_none(), "expired");
        let t = cat.add_token(u.id, "ci", "t1", 1000).unwrap();
        assert_eq!(cat.token_user("t1", 999).unwrap().unwrap().1, t.id);
        assert_eq!(t.expires_at, "1970-01-01T00:16:40.000000Z");
        assert!(cat.token_user("t1", 1000).unwrap().is_none(), "expired");
        cat.revoke_token(t.id).unwrap();
        assert!(cat.token_user("t1", 1).unwrap().is_none());
        let t2 = cat.add_token(u.id, "ci2", "t2", 1000).unwrap();
        cat.add_session(u.id, "s2", "c2", 100).unwrap();
        cat.set_user_disabled("amal", true).unwrap();
        assert!(cat.session("s2", 1).unwrap().is_none());
        assert!(cat.token_user("t2", 1).unwrap().is_none());
        assert!(cat.token(t2.id).unwrap().unwrap().revoked);
        cat.set_memberships("amal", &["B".into()], &["A".into()])
            .unwrap();
        assert_eq!(
            cat.user("amal").unwrap().unwrap().cases,
            vec!["B".to_owned()]
        );
    }

    #[test]
    fn password_reset_ends_sessions_and_revokes_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let mut cat = SqliteCatalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let u = cat.add_user("amal", Role::Analyst, "h1", &[]).unwrap();
        let other = cat.add_user("badr", Role::Analyst, "h1", &[]).unwrap();
        let t = cat.add_token(u.id, "ci", "t1", 1000).unwrap();
        let kept = cat.add_token(other.id, "ci", "t2", 1000).unwrap();
        cat.add_session(u.id, "s1", "c1", 100).unwrap();
        cat.set_password("amal", "h2").unwrap();
        assert!(cat.session("s1", 1).unwrap().is_none(), "session ended");
        assert!(cat.token_user("t1", 1).unwrap().is_none(), "token revoked");
        assert!(cat.token(t.id).unwrap().unwrap().revoked);
        assert!(
            !cat.token(kept.id).unwrap().unwrap().revoked,
            "others' tokens kept"
        );
        assert_eq!(cat.token_user("t2", 1).unwrap().unwrap().1, kept.id);
    }
}
