//! [`Accounts`] for [`PgCatalog`]: users, case memberships, sessions, API tokens, second
//! factors and sign-ins (mirroring `athar-store`'s `accounts.rs`).

use athar_core::accounts::{
    Accounts, ApiToken, Credentials, Language, NewSession, NewSignIn, ReviewSettings, Role,
    SecondFactor, Session, SessionInfo, SignIn, SignInOutcome, User, SIGN_IN_KEEP_DAYS,
    SIGN_IN_KEEP_ROWS, SIGN_IN_MERGE_SECONDS,
};
use athar_core::StoreError;
use postgres::{Client, Row, Transaction};

use crate::{col, corrupt, db, PgCatalog};

/// SQL giving Unix-seconds column `col` as RFC 3339 in the catalog's format (UTC,
/// microseconds).
fn rfc3339(col: &str) -> String {
    format!(
        "(to_char(to_timestamp({col}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '.000000Z')"
    )
}

fn exists(what: &str) -> StoreError {
    StoreError::Catalog(format!("{what} already exists"))
}

const USER_COLUMNS: &str = "id, name, role, disabled, created_at,
    EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = users.id
            AND f.confirmed IS NOT NULL)";

/// A user from a row of [`USER_COLUMNS`], with their cases.
fn to_user(c: &mut Client, r: &Row) -> Result<User, StoreError> {
    let id: i64 = col(r, 0)?;
    let role: String = col(r, 2)?;
    let cases = c
        .query(
            "SELECT case_name FROM user_cases WHERE user_id = $1 ORDER BY case_name",
            &[&id],
        )
        .map_err(db)?
        .iter()
        .map(|r| col(r, 0))
        .collect::<Result<Vec<String>, _>>()?;
    Ok(User {
        id,
        name: col(r, 1)?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        disabled: col(r, 3)?,
        created_at: col(r, 4)?,
        cases,
        second_factor: col(r, 5)?,
    })
}

fn user_by_name(c: &mut Client, name: &str) -> Result<Option<User>, StoreError> {
    let row = c
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"),
            &[&name],
        )
        .map_err(db)?;
    row.map(|r| to_user(c, &r)).transpose()
}

fn user_id(c: &mut Client, name: &str) -> Result<i64, StoreError> {
    user_by_name(c, name)?
        .map(|u| u.id)
        .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))
}

/// Ends a user's sessions and revokes their tokens.
fn end_all(tx: &mut Transaction<'_>, user_id: i64) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
        .map_err(db)?;
    tx.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[&user_id, &athar_core::now_rfc3339()],
    )
    .map_err(db)?;
    Ok(())
}

/// Replaces a user's recovery codes with `sha256` (each the hex SHA-256 of a code).
fn replace_recovery_codes(
    tx: &mut Transaction<'_>,
    user_id: i64,
    sha256: &[String],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id])
        .map_err(db)?;
    for h in sha256 {
        tx.execute(
            "INSERT INTO recovery_codes (user_id, sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&user_id, h],
        )
        .map_err(db)?;
    }
    Ok(())
}

fn to_token(r: &Row) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: col(r, 0)?,
        user_id: col(r, 1)?,
        name: col(r, 2)?,
        created_at: col(r, 3)?,
        expires_at: col(r, 4)?,
        revoked: col(r, 5)?,
    })
}

impl Accounts for PgCatalog {
    fn add_user(
        &mut self,
        name: &str,
        role: Role,
        password_hash: &str,
        cases: &[String],
    ) -> Result<User, StoreError> {
        let c = self.conn_mut()?;
        if user_by_name(c, name)?.is_some() {
            return Err(exists(&format!("user {name:?}")));
        }
        let mut tx = c.transaction().map_err(db)?;
        let row = tx
            .query_one(
                "INSERT INTO users (name, role, password, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[
                    &name,
                    &role.as_str(),
                    &password_hash,
                    &athar_core::now_rfc3339(),
                ],
            )
            .map_err(db)?;
        let id: i64 = col(&row, 0)?;
        for case in cases {
            tx.execute(
                "INSERT INTO user_cases (user_id, case_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&id, case],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        user_by_name(c, name)?.ok_or_else(|| StoreError::Catalog(format!("user {name:?} vanished")))
    }

    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        user_by_name(&mut *self.conn()?, name)
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut c = self.conn()?;
        let rows = c
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"),
                &[],
            )
            .map_err(db)?;
        rows.iter().map(|r| to_user(&mut c, r)).collect()
    }

    fn credentials(&self, name: &str) -> Result<Option<Credentials>, StoreError> {
        let mut c = self.conn()?;
        let Some(row) = c
            .query_opt("SELECT password FROM users WHERE name = $1", &[&name])
            .map_err(db)?
        else {
            return Ok(None);
        };
        let password_hash: String = col(&row, 0)?;
        let Some(user) = user_by_name(&mut c, name)? else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            user,
            password_hash,
        }))
    }

    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<(), StoreError> {
        let c = self.conn_mut()?;
        let id = user_id(c, name)?;
        let mut tx = c.transaction().map_err(db)?;
        tx.execute(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            &[&id, &disabled],
        )
        .map_err(db)?;
        if disabled {
            end_all(&mut tx, id)?;
        }
        tx.commit().map_err(db)
    }

    fn set_password(&mut self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let c = self.conn_mut()?;
        let id = user_id(c, name)?;
        let mut tx = c.transaction().map_err(db)?;
        tx.execute(
            "UPDATE users SET password = $2 WHERE id = $1",
            &[&id, &password_hash],
        )
        .map_err(db)?;
        end_all(&mut tx, id)?;
        tx.commit().map_err(db)
    }

    fn set_memberships(
        &mut self,
        name: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), StoreError> {
        let c = self.conn_mut()?;
        let id = user_id(c, name)?;
        let mut tx = c.transaction().map_err(db)?;
        for case in add {
            tx.execute(
                "INSERT INTO user_cases (user_id, case_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&id, case],
            )
            .map_err(db)?;
        }
        for case in remove {
            tx.execute(
                "DELETE FROM user_cases WHERE user_id = $1 AND case_name = $2",
                &[&id, case],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn add_session(&mut self, new: &NewSession<'_>) -> Result<(), StoreError> {
        let c = self.conn_mut()?;
        // Sessions that ran out go as new ones come (lookups only read).
        c.execute("DELETE FROM sessions WHERE expires <= $1", &[&new.now])
            .map_err(db)?;
        c.execute(
            "INSERT INTO sessions
                 (sha256, public_id, user_id, csrf, created, last_seen, expires, user_agent)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
            &[
                &new.sha256,
                &new.public_id,
                &new.user_id,
                &new.csrf_sha256,
                &new.now,
                &new.expires,
                &new.user_agent,
            ],
        )
        .map_err(db)?;
        Ok(())
    }

    fn session(&mut self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
        self.conn_mut()?
            .execute("DELETE FROM sessions WHERE expires <= $1", &[&now])
            .map_err(db)?;
        self.live_session(sha256, now)
    }

    fn live_session(&self, sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let mut c = self.conn()?;
        let Some(row) = c
            .query_opt(
                "SELECT u.name, s.csrf, s.public_id, s.last_seen
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.sha256 = $1 AND s.expires > $2 AND NOT u.disabled",
                &[&sha256, &now],
            )
            .map_err(db)?
        else {
            return Ok(None);
        };
        let name: String = col(&row, 0)?;
        user_by_name(&mut c, &name)?
            .map(|user| -> Result<Session, StoreError> {
                Ok(Session {
                    user,
                    csrf_sha256: col(&row, 1)?,
                    id: col(&row, 2)?,
                    last_seen: col(&row, 3)?,
                })
            })
            .transpose()
    }

    fn touch_session(&mut self, sha256: &str, now: i64) -> Result<(), StoreError> {
        self.conn_mut()?
            .execute(
                "UPDATE sessions SET last_seen = $2 WHERE sha256 = $1 AND last_seen < $2",
                &[&sha256, &now],
            )
            .map_err(db)?;
        Ok(())
    }

    fn sessions_of(&self, user_id: i64, now: i64) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = format!(
            "SELECT public_id, {}, {}, {}, user_agent FROM sessions
             WHERE user_id = $1 AND expires > $2 ORDER BY created DESC, public_id",
            rfc3339("created"),
            rfc3339("last_seen"),
            rfc3339("expires")
        );
        let rows = self.conn()?.query(&sql, &[&user_id, &now]).map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    id: col(r, 0)?,
                    created_at: col(r, 1)?,
                    last_seen_at: col(r, 2)?,
                    expires_at: col(r, 3)?,
                    user_agent: col(r, 4)?,
                })
            })
            .collect()
    }

    fn remove_session(&mut self, sha256: &str) -> Result<(), StoreError> {
        self.conn_mut()?
            .execute("DELETE FROM sessions WHERE sha256 = $1", &[&sha256])
            .map_err(db)?;
        Ok(())
    }

    fn remove_user_session(&mut self, user_id: i64, public_id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn_mut()?
            .execute(
                "DELETE FROM sessions WHERE user_id = $1 AND public_id = $2",
                &[&user_id, &public_id],
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
        let row = self
            .conn_mut()?
            .query_one(
                "INSERT INTO api_tokens (user_id, name, sha256, created_at, expires)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    &user_id,
                    &name,
                    &sha256,
                    &athar_core::now_rfc3339(),
                    &expires,
                ],
            )
            .map_err(db)?;
        let id: i64 = col(&row, 0)?;
        self.token(id)?
            .ok_or_else(|| StoreError::Catalog(format!("API token {id} vanished")))
    }

    fn token_user(&self, sha256: &str, now: i64) -> Result<Option<(User, i64)>, StoreError> {
        let mut c = self.conn()?;
        let Some(row) = c
            .query_opt(
                "SELECT u.name, t.id FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.sha256 = $1 AND t.revoked_at IS NULL AND t.expires > $2
                     AND NOT u.disabled",
                &[&sha256, &now],
            )
            .map_err(db)?
        else {
            return Ok(None);
        };
        let name: String = col(&row, 0)?;
        let id: i64 = col(&row, 1)?;
        Ok(user_by_name(&mut c, &name)?.map(|u| (u, id)))
    }

    fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError> {
        self.conn()?
            .query_opt(
                &format!(
                    "SELECT id, user_id, name, created_at, {}, revoked_at IS NOT NULL
                     FROM api_tokens WHERE id = $1",
                    rfc3339("expires")
                ),
                &[&id],
            )
            .map_err(db)?
            .map(|r| to_token(&r))
            .transpose()
    }

    fn revoke_token(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn_mut()?
            .execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &athar_core::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn review_settings(&self, user_id: i64) -> Result<ReviewSettings, StoreError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT blur, greyscale, muted, autoplay, lang FROM user_settings
                 WHERE user_id = $1",
                &[&user_id],
            )
            .map_err(db)?;
        let Some(r) = row else {
            return Ok(ReviewSettings::default());
        };
        let lang: String = col(&r, 4)?;
        Ok(ReviewSettings {
            blur: col(&r, 0)?,
            greyscale: col(&r, 1)?,
            muted: col(&r, 2)?,
            autoplay: col(&r, 3)?,
            // Only known codes are written; anything else reads as the browser's.
            lang: Language::from_code(&lang).unwrap_or_default(),
        })
    }

    fn set_review_settings(&mut self, user_id: i64, s: &ReviewSettings) -> Result<(), StoreError> {
        self.conn_mut()?
            .execute(
                "INSERT INTO user_settings (user_id, blur, greyscale, muted, autoplay, lang,
                     updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (user_id) DO UPDATE SET blur = $2, greyscale = $3, muted = $4,
                     autoplay = $5, lang = $6, updated_at = $7",
                &[
                    &user_id,
                    &s.blur,
                    &s.greyscale,
                    &s.muted,
                    &s.autoplay,
                    &s.lang.code(),
                    &athar_core::now_rfc3339(),
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    fn case_names(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT name FROM cases UNION
                 SELECT case_name FROM records WHERE kind = 'case' AND NOT deleted
                 ORDER BY 1",
                &[],
            )
            .map_err(db)?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    fn second_factor(&self, user_id: i64) -> Result<Option<SecondFactor>, StoreError> {
        let mut c = self.conn()?;
        let Some(row) = c
            .query_opt(
                "SELECT secret, confirmed IS NOT NULL, last_step FROM second_factors
                 WHERE user_id = $1",
                &[&user_id],
            )
            .map_err(db)?
        else {
            return Ok(None);
        };
        let left = c
            .query_one(
                "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                &[&user_id],
            )
            .map_err(db)?;
        Ok(Some(SecondFactor {
            secret: col(&row, 0)?,
            confirmed: col(&row, 1)?,
            last_step: col(&row, 2)?,
            recovery_codes_left: usize::try_from(col::<i64>(&left, 0)?).unwrap_or(0),
        }))
    }

    fn start_second_factor(&mut self, user_id: i64, secret: &[u8]) -> Result<bool, StoreError> {
        let n = self
            .conn_mut()?
            .execute(
                "INSERT INTO second_factors (user_id, secret, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = $3
                     WHERE second_factors.confirmed IS NULL",
                &[&user_id, &secret, &athar_core::now_rfc3339()],
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
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        let n = tx
            .execute(
                "UPDATE second_factors SET confirmed = $2, last_step = $3
                 WHERE user_id = $1 AND confirmed IS NULL",
                &[&user_id, &athar_core::now_rfc3339(), &step],
            )
            .map_err(db)?;
        if n == 0 {
            return Ok(false);
        }
        replace_recovery_codes(&mut tx, user_id, recovery_sha256)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn accept_second_factor_step(&mut self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let n = self
            .conn_mut()?
            .execute(
                "UPDATE second_factors SET last_step = $2
                 WHERE user_id = $1 AND confirmed IS NOT NULL
                     AND (last_step IS NULL OR last_step < $2)",
                &[&user_id, &step],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn use_recovery_code(&mut self, user_id: i64, sha256: &str) -> Result<bool, StoreError> {
        let n = self
            .conn_mut()?
            .execute(
                "UPDATE recovery_codes SET used_at = $3
                 WHERE user_id = $1 AND sha256 = $2 AND used_at IS NULL
                     AND EXISTS (SELECT 1 FROM second_factors f
                                 WHERE f.user_id = $1 AND f.confirmed IS NOT NULL)",
                &[&user_id, &sha256, &athar_core::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn set_recovery_codes(
        &mut self,
        user_id: i64,
        recovery_sha256: &[String],
    ) -> Result<bool, StoreError> {
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        let row = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM second_factors
                                WHERE user_id = $1 AND confirmed IS NOT NULL)",
                &[&user_id],
            )
            .map_err(db)?;
        if !col::<bool>(&row, 0)? {
            return Ok(false);
        }
        replace_recovery_codes(&mut tx, user_id, recovery_sha256)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn remove_second_factor(&mut self, user_id: i64, end_sessions: bool) -> Result<(), StoreError> {
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        tx.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id])
            .map_err(db)?;
        tx.execute("DELETE FROM second_factors WHERE user_id = $1", &[&user_id])
            .map_err(db)?;
        if end_sessions {
            tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn record_sign_in(&mut self, s: &NewSignIn<'_>) -> Result<(), StoreError> {
        let mut tx = self.conn_mut()?.transaction().map_err(db)?;
        let merged = s.outcome == SignInOutcome::Failure
            && tx
                .execute(
                    "UPDATE sign_ins SET count = count + 1, last_at = $1
                     WHERE id = (SELECT id FROM sign_ins
                                 WHERE outcome = $2 AND reason = $3 AND address = $4
                                     AND user_id IS NOT DISTINCT FROM $5 AND name = $6
                                     AND last_at > $7
                                 ORDER BY id DESC LIMIT 1)",
                    &[
                        &s.at,
                        &s.outcome.as_str(),
                        &s.reason,
                        &s.address,
                        &s.user_id,
                        &s.name,
                        &(s.at - SIGN_IN_MERGE_SECONDS),
                    ],
                )
                .map_err(db)?
                > 0;
        if !merged {
            tx.execute(
                "INSERT INTO sign_ins
                     (at, last_at, user_id, name, outcome, reason, address, user_agent, count)
                 VALUES ($1, $1, $2, $3, $4, $5, $6, $7, 1)",
                &[
                    &s.at,
                    &s.user_id,
                    &s.name,
                    &s.outcome.as_str(),
                    &s.reason,
                    &s.address,
                    &s.user_agent,
                ],
            )
            .map_err(db)?;
        }
        tx.execute(
            "DELETE FROM sign_ins WHERE last_at < $1",
            &[&(s.at - SIGN_IN_KEEP_DAYS * 86_400)],
        )
        .map_err(db)?;
        tx.execute(
            "DELETE FROM sign_ins WHERE id <= (SELECT id FROM sign_ins ORDER BY id DESC
                                               LIMIT 1 OFFSET $1)",
            &[&SIGN_IN_KEEP_ROWS],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn sign_ins(&self, user_id: Option<i64>, limit: usize) -> Result<Vec<SignIn>, StoreError> {
        let sql = format!(
            "SELECT id, {}, {}, user_id, name, outcome, reason, address, user_agent, count
             FROM sign_ins WHERE $1::bigint IS NULL OR user_id = $1 ORDER BY id DESC LIMIT $2",
            rfc3339("at"),
            rfc3339("last_at")
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.conn()?.query(&sql, &[&user_id, &limit]).map_err(db)?;
        rows.iter()
            .map(|r| {
                let outcome: String = col(r, 5)?;
                Ok(SignIn {
                    id: col(r, 0)?,
                    at: col(r, 1)?,
                    last_at: col(r, 2)?,
                    user_id: col(r, 3)?,
                    name: col(r, 4)?,
                    outcome: SignInOutcome::parse(&outcome)
                        .ok_or_else(|| corrupt("outcome", &outcome))?,
                    reason: col(r, 6)?,
                    address: col(r, 7)?,
                    user_agent: col(r, 8)?,
                    count: col(r, 9)?,
                })
            })
            .collect()
    }
}
