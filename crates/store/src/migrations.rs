//! The catalog's SQLite schema, as migrations applied in order by
//! [`crate::SqliteCatalog::open`].

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Append only: never edit a migration that has shipped.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: items, custody events, pending blobs, cases.
    "CREATE TABLE items (
        id          TEXT PRIMARY KEY,
        sha256      TEXT NOT NULL UNIQUE,
        size        INTEGER NOT NULL,
        media_type  TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE custody_events (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id   TEXT NOT NULL REFERENCES items(id),
        kind      TEXT NOT NULL,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        sighting  TEXT NOT NULL
    );
    CREATE INDEX custody_events_by_item ON custody_events(item_id, seq);
    CREATE TABLE pending_blobs (
        sha256  TEXT PRIMARY KEY,
        since   TEXT NOT NULL
    );
    CREATE TABLE cases (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE case_items (
        case_id  INTEGER NOT NULL REFERENCES cases(id),
        item_id  TEXT NOT NULL REFERENCES items(id),
        PRIMARY KEY (case_id, item_id)
    );",
    // 2: events recorded but not yet in the custody log (a write-ahead queue: rows enter
    // with their event, in the same transaction, and leave once the log holds them).
    "CREATE TABLE unlogged (
        seq  INTEGER PRIMARY KEY
    );",
    // 3: custody history received from other archives with transferred items.
    "CREATE TABLE received_custody (
        item_id   TEXT NOT NULL REFERENCES items(id),
        origin    TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        entry     TEXT NOT NULL,
        proof     TEXT NOT NULL,
        verified  INTEGER NOT NULL,
        details   TEXT NOT NULL,
        PRIMARY KEY (item_id, origin, seq)
    );",
    // 4: background jobs and the fingerprints they make.
    "CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        item_id     TEXT NOT NULL REFERENCES items(id),
        kind        TEXT NOT NULL,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        error       TEXT,
        updated_at  TEXT NOT NULL,
        UNIQUE (item_id, kind)
    );
    CREATE INDEX jobs_by_state ON jobs(state, id);
    CREATE TABLE fingerprints (
        item_id            TEXT NOT NULL REFERENCES items(id),
        algorithm          TEXT NOT NULL,
        algorithm_version  TEXT NOT NULL,
        decoder            TEXT NOT NULL,
        data               TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        PRIMARY KEY (item_id, algorithm)
    );",
    // 5: items made from other items (review images).
    "CREATE TABLE derived_items (
        item_id    TEXT NOT NULL REFERENCES items(id),
        source_id  TEXT NOT NULL REFERENCES items(id),
        role       TEXT NOT NULL,
        PRIMARY KEY (item_id, source_id, role)
    );
    CREATE INDEX derived_by_source ON derived_items(source_id);",
    // 6: documentation records. A custody event's subject is now an item or a record, so
    // custody_events is rebuilt without its foreign key to items (verify checks subjects).
    "CREATE TABLE custody_events_v6 (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id   TEXT NOT NULL,
        kind      TEXT NOT NULL,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        sighting  TEXT NOT NULL
    );
    INSERT INTO custody_events_v6 (seq, item_id, kind, at, actor, sighting)
        SELECT seq, item_id, kind, at, actor, sighting FROM custody_events ORDER BY seq;
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'custody_events_v6', seq FROM sqlite_sequence WHERE name = 'custody_events'
        AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'custody_events_v6');
    UPDATE sqlite_sequence
        SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'custody_events'), 0))
        WHERE name = 'custody_events_v6';
    DROP TABLE custody_events;
    ALTER TABLE custody_events_v6 RENAME TO custody_events;
    CREATE INDEX custody_events_by_item ON custody_events(item_id, seq);
    CREATE TABLE record_values (
        sha256  TEXT PRIMARY KEY,
        body    TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE records (
        id         TEXT PRIMARY KEY,
        kind       TEXT NOT NULL,
        key        TEXT,
        case_name  TEXT NOT NULL,
        sha256     TEXT NOT NULL REFERENCES record_values(sha256),
        deleted    INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX records_by_kind_key ON records(kind, key) WHERE key IS NOT NULL AND deleted = 0;
    CREATE INDEX records_by_key ON records(key) WHERE key IS NOT NULL;
    CREATE INDEX records_by_case ON records(case_name, kind);
    CREATE TABLE record_refs (
        from_id  TEXT NOT NULL,
        to_id    TEXT NOT NULL,
        PRIMARY KEY (from_id, to_id)
    ) WITHOUT ROWID;
    CREATE INDEX record_refs_by_target ON record_refs(to_id);",
    // 7: every write of a fingerprint row, numbered without reuse, so a persisted
    // similarity index can tell which fingerprints arrived since it was saved.
    "CREATE TABLE fingerprint_changes (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id    TEXT NOT NULL,
        algorithm  TEXT NOT NULL
    );
    INSERT INTO fingerprint_changes (item_id, algorithm)
        SELECT item_id, algorithm FROM fingerprints ORDER BY rowid;
    CREATE TRIGGER fingerprint_inserted AFTER INSERT ON fingerprints BEGIN
        INSERT INTO fingerprint_changes (item_id, algorithm) VALUES (NEW.item_id, NEW.algorithm);
    END;
    CREATE TRIGGER fingerprint_updated AFTER UPDATE ON fingerprints BEGIN
        INSERT INTO fingerprint_changes (item_id, algorithm) VALUES (NEW.item_id, NEW.algorithm);
    END;",
    // 8: other digests of an item's bytes (SHA-512 for hand-over manifests), each computed
    // from bytes checked against the item's SHA-256.
    "CREATE TABLE item_digests (
        item_id    TEXT NOT NULL REFERENCES items(id),
        algorithm  TEXT NOT NULL,
        hex        TEXT NOT NULL,
        PRIMARY KEY (item_id, algorithm)
    );",
    // 9: accounts for the HTTP API: users (argon2id password hashes), their case
    // memberships, sessions and API tokens (both stored only as SHA-256 of the secret).
    "CREATE TABLE users (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        role        TEXT NOT NULL,
        password    TEXT NOT NULL,
        disabled    INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE user_cases (
        user_id    INTEGER NOT NULL REFERENCES users(id),
        case_name  TEXT NOT NULL,
        PRIMARY KEY (user_id, case_name)
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        sha256      TEXT PRIMARY KEY,
        user_id     INTEGER NOT NULL REFERENCES users(id),
        csrf        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        expires     INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_by_user ON sessions(user_id);
    CREATE TABLE api_tokens (
        id          INTEGER PRIMARY KEY,
        user_id     INTEGER NOT NULL REFERENCES users(id),
        name        TEXT NOT NULL,
        sha256      TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL,
        revoked_at  TEXT
    );",
    // 10: each user's safe-review defaults for the web pages (a missing row means the
    // safe defaults: blurred, greyscale, muted, no autoplay).
    "CREATE TABLE user_settings (
        user_id     INTEGER PRIMARY KEY REFERENCES users(id),
        blur        INTEGER NOT NULL,
        greyscale   INTEGER NOT NULL,
        muted       INTEGER NOT NULL,
        autoplay    INTEGER NOT NULL,
        updated_at  TEXT NOT NULL
    );",
    // 11: record keys name records within a case (and kind), not across the archive: a
    // key used in one case neither collides with nor reveals a record of another case.
    "DROP INDEX records_by_kind_key;
    CREATE UNIQUE INDEX records_by_case_kind_key ON records(case_name, kind, key)
        WHERE key IS NOT NULL AND deleted = 0;",
    // 12: API tokens expire (`expires`, Unix seconds; a row without one is expired).
    // Tokens made before this migration expire 90 days after it.
    "ALTER TABLE api_tokens ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;
    UPDATE api_tokens SET expires = CAST(strftime('%s', 'now') AS INTEGER) + 90 * 86400;",
    // Custody entries v2: the random salt of each new event's commitments (hex; NULL for
    // events logged before, as v1 entries), and the salt received with a sender's v2 entry.
    "ALTER TABLE custody_events ADD COLUMN salt TEXT;
    ALTER TABLE received_custody ADD COLUMN salt TEXT;",
    // 14: erased cases: an erased item's or record's events keep only the digests their log
    // entries name (`frozen`); the subjects are listed with their case and time.
    "ALTER TABLE custody_events ADD COLUMN frozen TEXT;
    CREATE TABLE erased (
        subject    TEXT PRIMARY KEY,
        case_name  TEXT NOT NULL,
        erased_at  TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 15: second factor for the web app. Sessions get a public id (how their owner names
    // one to end it), a last-seen time and the browser's user agent; the sessions made
    // before end (everyone signs in again, with a second factor where one is required).
    // Each user's TOTP key (`confirmed` NULL while enrolling; `last_step`, the last time
    // step a code was accepted for, refuses replays) and recovery codes (SHA-256 only).
    // Every sign-in and failed sign-in (failures repeated within a minute merged, `count`).
    "DROP TABLE sessions;
    CREATE TABLE sessions (
        sha256      TEXT PRIMARY KEY,
        public_id   TEXT NOT NULL UNIQUE,
        user_id     INTEGER NOT NULL REFERENCES users(id),
        csrf        TEXT NOT NULL,
        created     INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        expires     INTEGER NOT NULL,
        user_agent  TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_by_user ON sessions(user_id);
    CREATE TABLE second_factors (
        user_id     INTEGER PRIMARY KEY REFERENCES users(id),
        secret      BLOB NOT NULL,
        created_at  TEXT NOT NULL,
        confirmed   TEXT,
        last_step   INTEGER
    );
    CREATE TABLE recovery_codes (
        user_id  INTEGER NOT NULL REFERENCES users(id),
        sha256   TEXT NOT NULL,
        used_at  TEXT,
        PRIMARY KEY (user_id, sha256)
    ) WITHOUT ROWID;
    CREATE TABLE sign_ins (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        last_at     INTEGER NOT NULL,
        user_id     INTEGER REFERENCES users(id),
        name        TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        reason      TEXT NOT NULL,
        address     TEXT NOT NULL,
        user_agent  TEXT NOT NULL,
        count       INTEGER NOT NULL
    );
    CREATE INDEX sign_ins_by_user ON sign_ins(user_id, id);
    CREATE INDEX sign_ins_by_time ON sign_ins(last_at);",
    // 16: each user's language for the web app: "en", "ar", or "" for the browser's.
    "ALTER TABLE user_settings ADD COLUMN lang TEXT NOT NULL DEFAULT '';",
    // 17: a running job is held by a claim until its lease (Unix milliseconds) runs out.
    "ALTER TABLE jobs ADD COLUMN claim TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until INTEGER;",
];
