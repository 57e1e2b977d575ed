//! The accounts of the HTTP API ([`Accounts`]) kept in the SQLite catalog (migration 9):
//! users with a role and case memberships, sessions and API tokens (which expire:
//! migration 12).

use athar_core::StoreError;
use rusqlite::{params, OptionalExtension};

use crate::catalog::db;
use crate::SqliteCatalog;

pub use athar_core::accounts::{
    Accounts, ApiToken, Credentials, ReviewSettings, Role, Session, User,
};

/// SQL giving a Unix-seconds column as RFC 3339 in the catalog's format (UTC, microseconds).
const EXPIRES_AT: &str = "strftime('%Y-%m-%dT%H:%M:%S', expires, 'unixepoch') || '.000000Z'";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("catalog holds an invalid {what}: {value:?}"))
}

fn exists(what: &str) -> StoreError {
    StoreError::Catalog(format!("{what} already exists"))
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

    fn user_id(&self, name: &str) -> Result<i64, StoreError> {
        self.user(name)?
            .map(|u| u.id)
            .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))
    }
}

impl Accounts for SqliteCatalog {
    fn add_user(
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

    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
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

    fn users(&self) -> Result<Vec<User>, StoreError> {
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

    fn credentials(&self, name: &str) -> Result<Option<Credentials>, StoreError> {
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

    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<(), StoreError> {
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

    fn set_password(&mut self, name: &str, password_hash: &str) -> Result<(), StoreError> {
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

    fn set_memberships(
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

    fn add_session(
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

    fn session(&mut self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE expires <= ?1", [now])
            .map_err(db)?;
        self.live_session(sha256, now)
    }

    fn live_session(&self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
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

    fn remove_session(&mut self, sha256: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE sha256 = ?1", [sha256])
            .map_err(db)?;
        Ok(())
    }

    fn add_token(
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

    fn token_user(&self, sha256: &str, now: i64) -> Result<Option<(User, i64)>, StoreError> {
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

    fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError> {
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

    fn revoke_token(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, athar_core::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn review_settings(&self, user_id: i64) -> Result<ReviewSettings, StoreError> {
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

    fn set_review_settings(&mut self, user_id: i64, s: &ReviewSettings) -> Result<(), StoreError> {
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

    fn case_names(&self) -> Result<Vec<String>, StoreError> {
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
