//! The accounts of the HTTP API ([`Accounts`]) kept in the SQLite catalog (migration 9):
//! users with a role and case memberships, sessions and API tokens (which expire:
//! migration 12); second factors, recovery codes, sessions' public ids and the record of
//! sign-ins (migration 15).

use athar_core::StoreError;
use rusqlite::{params, OptionalExtension};

use crate::catalog::db;
use crate::SqliteCatalog;

pub use athar_core::accounts::{
    Accounts, ApiToken, Credentials, Language, NewSession, NewSignIn, ReviewSettings, Role,
    SecondFactor, Session, SessionInfo, SignIn, SignInOutcome, User, SIGN_IN_KEEP_DAYS,
    SIGN_IN_KEEP_ROWS, SIGN_IN_MERGE_SECONDS,
};

/// SQL giving Unix-seconds column `col` as RFC 3339 in the catalog's format (UTC,
/// microseconds).
fn rfc3339(col: &str) -> String {
    format!("strftime('%Y-%m-%dT%H:%M:%S', {col}, 'unixepoch') || '.000000Z'")
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("catalog holds an invalid {what}: {value:?}"))
}

fn exists(what: &str) -> StoreError {
    StoreError::Catalog(format!("{what} already exists"))
}

type UserRow = (i64, String, String, i64, String, bool);

const USER_COLUMNS: &str = "id, name, role, disabled, created_at,
    EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = users.id
            AND f.confirmed IS NOT NULL)";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

impl SqliteCatalog {
    fn to_user(&self, raw: UserRow) -> Result<User, StoreError> {
        let (id, name, role, disabled, created_at, second_factor) = raw;
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
            second_factor,
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

    fn add_session(&mut self, new: &NewSession<'_>) -> Result<(), StoreError> {
        // Sessions that ran out go as new ones come (lookups only read).
        self.conn
            .execute("DELETE FROM sessions WHERE expires <= ?1", [new.now])
            .map_err(db)?;
        self.conn
            .execute(
                "INSERT INTO sessions
                     (sha256, public_id, user_id, csrf, created, last_seen, expires, user_agent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
                params![
                    new.sha256,
                    new.public_id,
                    new.user_id,
                    new.csrf_sha256,
                    new.now,
                    new.expires,
                    new.user_agent
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
        let row: Option<(String, String, String, i64)> = self
            .conn
            .query_row(
                "SELECT u.name, s.csrf, s.public_id, s.last_seen
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.sha256 = ?1 AND s.expires > ?2 AND u.disabled = 0",
                params![sha256, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((name, csrf_sha256, id, last_seen)) = row else {
            return Ok(None);
        };
        Ok(self.user(&name)?.map(|user| Session {
            user,
            csrf_sha256,
            id,
            last_seen,
        }))
    }

    fn touch_session(&mut self, sha256: &str, now: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE sessions SET last_seen = ?2 WHERE sha256 = ?1 AND last_seen < ?2",
                params![sha256, now],
            )
            .map_err(db)?;
        Ok(())
    }

    fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = format!(
            "SELECT public_id, {}, {}, {}, user_agent FROM sessions
             WHERE user_id = ?1 AND expires > ?2 ORDER BY created DESC, public_id",
            rfc3339("created"),
            rfc3339("last_seen"),
            rfc3339("expires")
        );
        let mut st = self.conn.prepare(&sql).map_err(db)?;
        let rows = st
            .query_map(params![user_id, now], |r| {
                Ok(SessionInfo {
                    id: r.get(0)?,
                    created_at: r.get(1)?,
                    last_seen_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    user_agent: r.get(4)?,
                })
            })
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        Ok(rows)
    }

    fn remove_session(&mut self, sha256: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE sha256 = ?1", [sha256])
            .map_err(db)?;
        Ok(())
    }

    fn remove_user_session(&mut self, user_id: i64, public_id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND public_id = ?2",
                params![user_id, public_id],
            )
            .map_err(db)?;
        Ok(n > 0)
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
                    "SELECT id, user_id, name, created_at, {}, revoked_at IS NOT NULL
                     FROM api_tokens WHERE id = ?1",
                    rfc3339("expires")
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
        let row: Option<(bool, bool, bool, bool, String)> = self
            .conn
            .query_row(
                "SELECT blur, greyscale, muted, autoplay, lang FROM user_settings
                 WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(db)?;
        Ok(row.map_or_else(
            ReviewSettings::default,
            |(blur, greyscale, muted, autoplay, lang)| ReviewSettings {
                blur,
                greyscale,
                muted,
                autoplay,
                // Only known codes are written; anything else reads as the browser's.
                lang: Language::from_code(&lang).unwrap_or_default(),
            },
        ))
    }

    fn set_review_settings(&mut self, user_id: i64, s: &ReviewSettings) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO user_settings (user_id, blur, greyscale, muted, autoplay, lang,
                     updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (user_id) DO UPDATE SET blur = ?2, greyscale = ?3, muted = ?4,
                     autoplay = ?5, lang = ?6, updated_at = ?7",
                params![
                    user_id,
                    s.blur,
                    s.greyscale,
                    s.muted,
                    s.autoplay,
                    s.lang.code(),
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

    fn second_factor(&self, user_id: i64) -> Result<Option<SecondFactor>, StoreError> {
        let row: Option<(Vec<u8>, bool, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT secret, confirmed IS NOT NULL, last_step FROM second_factors
                 WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((secret, confirmed, last_step)) = row else {
            return Ok(None);
        };
        let left: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
                [user_id],
                |r| r.get(0),
            )
            .map_err(db)?;
        Ok(Some(SecondFactor {
            secret,
            confirmed,
            last_step,
            recovery_codes_left: usize::try_from(left).unwrap_or(0),
        }))
    }

    fn start_second_factor(&mut self, user_id: i64, secret: &[u8]) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "INSERT INTO second_factors (user_id, secret, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET secret = ?2, created_at = ?3
                     WHERE confirmed IS NULL",
                params![user_id, secret, athar_core::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn confirm_second_factor(
        &mut self,
        user_id: i64,
        step: i64,
        recovery_sha256: &[String],
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        let n = tx
            .execute(
                "UPDATE second_factors SET confirmed = ?2, last_step = ?3
                 WHERE user_id = ?1 AND confirmed IS NULL",
                params![user_id, athar_core::now_rfc3339(), step],
            )
            .map_err(db)?;
        if n == 0 {
            return Ok(false);
        }
        replace_recovery_codes(&tx, user_id, recovery_sha256)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn accept_second_factor_step(&mut self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE second_factors SET last_step = ?2
                 WHERE user_id = ?1 AND confirmed IS NOT NULL
                     AND (last_step IS NULL OR last_step < ?2)",
                params![user_id, step],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn use_recovery_code(&mut self, user_id: i64, sha256: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE recovery_codes SET used_at = ?3
                 WHERE user_id = ?1 AND sha256 = ?2 AND used_at IS NULL
                     AND EXISTS (SELECT 1 FROM second_factors f
                                 WHERE f.user_id = ?1 AND f.confirmed IS NOT NULL)",
                params![user_id, sha256, athar_core::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn set_recovery_codes(
        &mut self,
        user_id: i64,
        recovery_sha256: &[String],
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        let confirmed: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM second_factors
                                WHERE user_id = ?1 AND confirmed IS NOT NULL)",
                [user_id],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !confirmed {
            return Ok(false);
        }
        replace_recovery_codes(&tx, user_id, recovery_sha256)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn remove_second_factor(&mut self, user_id: i64, end_sessions: bool) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])
            .map_err(db)?;
        tx.execute("DELETE FROM second_factors WHERE user_id = ?1", [user_id])
            .map_err(db)?;
        if end_sessions {
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn record_sign_in(&mut self, s: &NewSignIn<'_>) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(db)?;
        let merged = s.outcome == SignInOutcome::Failure
            && tx
                .execute(
                    "UPDATE sign_ins SET count = count + 1, last_at = ?1
                     WHERE id = (SELECT id FROM sign_ins
                                 WHERE outcome = ?2 AND reason = ?3 AND address = ?4
                                     AND user_id IS ?5 AND name = ?6 AND last_at > ?7
                                 ORDER BY id DESC LIMIT 1)",
                    params![
                        s.at,
                        s.outcome.as_str(),
                        s.reason,
                        s.address,
                        s.user_id,
                        s.name,
                        s.at - SIGN_IN_MERGE_SECONDS
                    ],
                )
                .map_err(db)?
                > 0;
        if !merged {
            tx.execute(
                "INSERT INTO sign_ins
                     (at, last_at, user_id, name, outcome, reason, address, user_agent, count)
                 VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
                params![
                    s.at,
                    s.user_id,
                    s.name,
                    s.outcome.as_str(),
                    s.reason,
                    s.address,
                    s.user_agent
                ],
            )
            .map_err(db)?;
        }
        tx.execute(
            "DELETE FROM sign_ins WHERE last_at < ?1",
            [s.at - SIGN_IN_KEEP_DAYS * 86_400],
        )
        .map_err(db)?;
        tx.execute(
            "DELETE FROM sign_ins WHERE id <= (SELECT id FROM sign_ins ORDER BY id DESC
                                               LIMIT 1 OFFSET ?1)",
            [SIGN_IN_KEEP_ROWS],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn sign_ins(&self, user_id: Option<i64>, limit: usize) -> Result<Vec<SignIn>, StoreError> {
        let sql = format!(
            "SELECT id, {}, {}, user_id, name, outcome, reason, address, user_agent, count
             FROM sign_ins WHERE ?1 IS NULL OR user_id = ?1 ORDER BY id DESC LIMIT ?2",
            rfc3339("at"),
            rfc3339("last_at")
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut st = self.conn.prepare(&sql).map_err(db)?;
        let rows = st
            .query_map(params![user_id, limit], |r| {
                Ok((
                    SignIn {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        last_at: r.get(2)?,
                        user_id: r.get(3)?,
                        name: r.get(4)?,
                        outcome: SignInOutcome::Failure,
                        reason: r.get(6)?,
                        address: r.get(7)?,
                        user_agent: r.get(8)?,
                        count: r.get(9)?,
                    },
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(mut s, outcome)| {
                s.outcome =
                    SignInOutcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?;
                Ok(s)
            })
            .collect()
    }
}

/// Replaces a user's recovery codes with `sha256` (each the hex SHA-256 of a code).
fn replace_recovery_codes(
    tx: &rusqlite::Transaction<'_>,
    user_id: i64,
    sha256: &[String],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])
        .map_err(db)?;
    for h in sha256 {
        tx.execute(
            "INSERT OR IGNORE INTO recovery_codes (user_id, sha256) VALUES (?1, ?2)",
            params![user_id, h],
        )
        .map_err(db)?;
    }
    Ok(())
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
