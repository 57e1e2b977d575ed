//! Erasing a case for good (`athar case erase --crypto`): the disposition step of custody.
//!
//! In an encrypted archive every case has its own key, and the blobs of the case's items
//! (and the review images made from them) are sealed under it. Erasing the case:
//!
//! 1. logs an `erase` event on each item only this case holds (and the items made from
//!    them that belong to no case) and on each of its records, so that the custody log
//!    shows what existed, until when, and that it was disposed of;
//! 2. re-seals under another key the blobs of items another case holds too, so that
//!    nothing another case needs goes with the key;
//! 3. destroys the case's key in the keyring: from then on no copy of those blobs (left
//!    in backups or in the disk's free space) can be read, even with the archive key;
//! 4. removes the blob files and, in one catalog transaction, the items' and records'
//!    rows, values, fingerprints and digests; their custody events keep only the digests
//!    their log entries name (`frozen`), so `athar verify` still checks the log against
//!    the catalog, reports the case as erased, and proofs handed out before still verify.
//!
//! Each step can be repeated: a run stopped at any instant is finished by running it again.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use athar_core::custody::Digests;
use athar_core::{
    BlobStore, CaseHoldings, ErasedSubject, EventDetails, EventKind, ItemId, Sha256, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::archive::{Archive, ArchiveError};
use crate::catalog::db;
use crate::FsBlobStore;

/// What [`Archive::erase_case`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub case: String,
    /// When the case's key was destroyed.
    pub at: String,
    /// Items erased (the case's own and the review images made from them).
    pub items: usize,
    /// Records erased.
    pub records: usize,
    /// Items other cases hold too: kept, their blobs re-sealed off the case's key.
    pub kept_shared: usize,
    /// Blobs of erased items that were sealed under the archive key rather than the
    /// case's (preserved before the case had its key, e.g. before `athar encrypt`): their
    /// files are removed, but copies of them elsewhere stay readable with the archive key.
    pub under_archive_key: usize,
    /// `erase` events logged by this run.
    pub logged: usize,
}

fn id_of(s: String) -> Result<ItemId, StoreError> {
    ItemId::parse(&s)
        .ok_or_else(|| StoreError::Corrupt(format!("catalog holds an invalid id {s:?}")))
}

fn sha_of(s: String) -> Result<Sha256, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("catalog holds an invalid SHA-256 {s:?}")))
}

pub(crate) fn case_holdings(conn: &Connection, case: &str) -> Result<CaseHoldings, StoreError> {
    let mut out = CaseHoldings::default();
    let mut st = conn
        .prepare(
            "SELECT i.id, i.sha256, (SELECT COUNT(*) FROM case_items o WHERE o.item_id = i.id)
             FROM items i JOIN case_items ci ON ci.item_id = i.id JOIN cases c ON c.id = ci.case_id
             WHERE c.name = ?1 ORDER BY i.id",
        )
        .map_err(db)?;
    let rows = st
        .query_map([case], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(db)?;
    for r in rows {
        let (id, sha, cases) = r.map_err(db)?;
        let entry = (id_of(id)?, sha_of(sha)?);
        if cases > 1 {
            out.shared.push(entry);
        } else {
            out.items.push(entry);
        }
    }
    // Items made from them that no case holds, and that were made only from them.
    let own: HashSet<String> = out.items.iter().map(|(i, _)| i.to_string()).collect();
    let mut derived = conn
        .prepare(
            "SELECT d.item_id, i.sha256 FROM derived_items d JOIN items i ON i.id = d.item_id
             WHERE d.source_id = ?1
               AND NOT EXISTS (SELECT 1 FROM case_items ci WHERE ci.item_id = d.item_id)",
        )
        .map_err(db)?;
    let mut sources = conn
        .prepare("SELECT source_id FROM derived_items WHERE item_id = ?1")
        .map_err(db)?;
    let mut seen = BTreeSet::new();
    for (source, _) in out.items.clone() {
        let rows = derived
            .query_map([source.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db)?;
        for r in rows {
            let (id, sha) = r.map_err(db)?;
            let all: Vec<String> = sources
                .query_map([&id], |r| r.get(0))
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            if all.iter().all(|s| own.contains(s)) && seen.insert(id.clone()) {
                out.items.push((id_of(id)?, sha_of(sha)?));
            }
        }
    }
    let mut st = conn
        .prepare("SELECT id, sha256 FROM records WHERE case_name = ?1 ORDER BY id")
        .map_err(db)?;
    let rows = st
        .query_map([case], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(db)?;
    for r in rows {
        let (id, sha) = r.map_err(db)?;
        out.records.push((id_of(id)?, sha_of(sha)?));
    }
    Ok(out)
}

pub(crate) fn erase_subjects(
    conn: &mut Connection,
    case: &str,
    at: &str,
    subjects: &[ItemId],
    frozen: &[(u64, Digests)],
) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(db)?;
    {
        // Every value a record ever had, read before the events' details go.
        let mut values: BTreeSet<String> = BTreeSet::new();
        let mut details = tx
            .prepare(
                "SELECT json_extract(sighting, '$.old'), json_extract(sighting, '$.new')
                 FROM custody_events WHERE item_id = ?1 AND kind = 'record' AND frozen IS NULL",
            )
            .map_err(db)?;
        for s in subjects {
            let rows = details
                .query_map([s.as_str()], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                    ))
                })
                .map_err(db)?;
            for r in rows {
                let (old, new) = r.map_err(db)?;
                values.extend(old.into_iter().chain(new));
            }
        }
        let mut freeze = tx
            .prepare(
                "UPDATE custody_events SET frozen = ?2, salt = NULL, sighting = '' WHERE seq = ?1",
            )
            .map_err(db)?;
        for (seq, digests) in frozen {
            freeze
                .execute(params![*seq as i64, digests.to_text()])
                .map_err(db)?;
        }
        let mut left = tx
            .prepare("SELECT MIN(seq) FROM custody_events WHERE item_id = ?1 AND frozen IS NULL")
            .map_err(db)?;
        for s in subjects {
            let open: Option<i64> = left.query_row([s.as_str()], |r| r.get(0)).map_err(db)?;
            if let Some(seq) = open {
                return Err(StoreError::Catalog(format!(
                    "erasing {s}: custody event #{seq} was not given its log digests"
                )));
            }
        }
        for sql in [
            "DELETE FROM case_items WHERE item_id = ?1",
            "DELETE FROM fingerprints WHERE item_id = ?1",
            "DELETE FROM fingerprint_changes WHERE item_id = ?1",
            "DELETE FROM item_digests WHERE item_id = ?1",
            "DELETE FROM jobs WHERE item_id = ?1",
            "DELETE FROM derived_items WHERE item_id = ?1 OR source_id = ?1",
            "DELETE FROM received_custody WHERE item_id = ?1",
            "DELETE FROM items WHERE id = ?1",
            "DELETE FROM record_refs WHERE from_id = ?1 OR to_id = ?1",
            "DELETE FROM records WHERE id = ?1",
        ] {
            let mut st = tx.prepare(sql).map_err(db)?;
            for s in subjects {
                st.execute([s.as_str()]).map_err(db)?;
            }
        }
        // The case holds nothing any more (items other cases hold stay theirs).
        tx.execute(
            "DELETE FROM case_items WHERE case_id IN (SELECT id FROM cases WHERE name = ?1)",
            [case],
        )
        .map_err(db)?;
        let mut value = tx
            .prepare(
                "DELETE FROM record_values WHERE sha256 = ?1
                 AND NOT EXISTS (SELECT 1 FROM records WHERE sha256 = ?1)",
            )
            .map_err(db)?;
        for v in &values {
            value.execute([v]).map_err(db)?;
        }
        let mut listed = tx
            .prepare(
                "INSERT OR IGNORE INTO erased (subject, case_name, erased_at) VALUES (?1, ?2, ?3)",
            )
            .map_err(db)?;
        for s in subjects {
            listed.execute(params![s.as_str(), case, at]).map_err(db)?;
        }
    }
    tx.commit().map_err(db)?;
    // Freed pages are zeroed (secure_delete) when the catalog is encrypted; the write-ahead
    // log's copies of them go too.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .optional()
        .map_err(db)?;
    Ok(())
}

pub(crate) fn erased(conn: &Connection) -> Result<Vec<ErasedSubject>, StoreError> {
    let mut st = conn
        .prepare("SELECT subject, case_name, erased_at FROM erased ORDER BY case_name, subject")
        .map_err(db)?;
    let rows = st
        .query_map([], |r| {
            Ok(ErasedSubject {
                subject: r.get(0)?,
                case: r.get(1)?,
                at: r.get(2)?,
            })
        })
        .map_err(db)?;
    rows.map(|r| r.map_err(db)).collect()
}

fn key_err(path: &Path, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

impl Archive {
    /// Erases `case` for good by destroying its key (see the module's documentation);
    /// `actor` is recorded on the `erase` events. Needs [`crate::Access::Write`] and an
    /// encrypted archive. Finishes an erasure that was interrupted.
    pub fn erase_case(&mut self, case: &str, actor: &str) -> Result<Erased, ArchiveError> {
        let ring_path = self.root.join(crate::archive::KEYRING);
        let Some(sealing) = self.backends.sealing().cloned() else {
            return Err(key_err(
                &self.root,
                "erasing a case by destroying its key needs an encrypted archive \
                 (athar encrypt encrypts this one in place)",
            ));
        };
        let ring = self
            .keyring()?
            .ok_or_else(|| key_err(&ring_path, "no keyring"))?;
        let label = athar_crypt::keyring::case_label(&sealing.archive, case);
        let already = ring.erased_at(&sealing.archive, case).map(str::to_owned);
        if already.is_none() && !self.catalog.case_exists(case)? {
            return Err(ArchiveError::Store(StoreError::NotFound(format!(
                "case {case:?}"
            ))));
        }
        let holdings = self.catalog.case_holdings(case)?;
        let blobs_root = self.blobs_folder()?;
        let mut done = Erased {
            case: case.to_owned(),
            items: holdings.items.len(),
            records: holdings.records.len(),
            kept_shared: holdings.shared.len(),
            ..Erased::default()
        };
        if already.is_none() {
            let case_key_id = sealing.case_blob_key_id(case);
            // What other cases need is re-sealed off this case's key first.
            for (item, sha) in &holdings.shared {
                let under = sealed_under(&blobs_root, &sealing, sha)?;
                if under.is_some() && under == case_key_id {
                    let others: Vec<String> = self
                        .catalog
                        .cases_of(item)?
                        .into_iter()
                        .filter(|c| c != case)
                        .collect();
                    let target = self.case_sealing(others.first().map(String::as_str))?;
                    FsBlobStore::open_sealed(&blobs_root, target)?.reseal(sha)?;
                }
            }
            // So are the review images that stay (made from a shared item, or from a kept
            // one too): under the archive's blob key.
            let own: HashSet<&ItemId> = holdings.items.iter().map(|(id, _)| id).collect();
            let mut stays = Vec::new();
            for (source, _) in holdings.items.iter().chain(&holdings.shared) {
                for (made, _) in self.catalog.derived_from(source)? {
                    if !own.contains(&made) {
                        stays.push(made);
                    }
                }
            }
            for made in stays {
                let item = self.catalog.resolve(made.as_str())?;
                let under = sealed_under(&blobs_root, &sealing, &item.sha256)?;
                if under.is_some() && under == case_key_id {
                    let target = self.case_sealing(None)?;
                    FsBlobStore::open_sealed(&blobs_root, target)?.reseal(&item.sha256)?;
                }
            }
            // The disposition, in the custody log, before anything goes.
            done.logged = self.log_erasure(case, actor, &holdings)?;
        }
        for (_, sha) in &holdings.items {
            let under = sealed_under(&blobs_root, &sealing, sha)?;
            if under.as_deref() == Some(sealing.blobs.id()) {
                done.under_archive_key += 1;
            }
        }
        // The point of no return: the key goes.
        let at = match already {
            Some(at) => at,
            None => {
                let at = athar_core::now_rfc3339();
                self.change_keyring(|ring, key| {
                    ring.erase_case(key, case, &at);
                    Ok(())
                })?;
                at
            }
        };
        sealing.forget_case(&label);
        self.finish_erasure(case, &at, &holdings)?;
        done.at = at;
        Ok(done)
    }

    /// The encrypted archive's blob folder (an encrypted archive's blobs are always in one).
    fn blobs_folder(&self) -> Result<std::path::PathBuf, ArchiveError> {
        self.backends
            .blobs_path()
            .map_err(|e| ArchiveError::Config {
                path: self.root.join("athar.toml"),
                message: e.to_string(),
            })
    }

    /// The last step of an erasure, once the case's key is gone: the blob files, then the
    /// catalog rows, then the derived indexes. [`Archive::recover`] runs it for an erasure
    /// that stopped after the key went.
    pub(crate) fn finish_erasure(
        &mut self,
        case: &str,
        at: &str,
        holdings: &CaseHoldings,
    ) -> Result<(), ArchiveError> {
        let Some(sealing) = self.backends.sealing().cloned() else {
            return Ok(());
        };
        let blobs_root = self.blobs_folder()?;
        // Nothing goes without its `erase` event (a run stopped before logging them all).
        let actor = self.collector();
        self.log_erasure(case, &actor, holdings)?;
        // Derived indexes held the erased content's words and fingerprints: removed first,
        // so that no stop leaves them behind once the rows are gone.
        let index = self.work_dir().join("index");
        if index.exists() {
            std::fs::remove_dir_all(&index).map_err(|e| StoreError::io(&index, e))?;
        }
        // Uploads to the case (staged bytes, or a finished one's record of names and notes).
        let uploads = self.uploads()?;
        for id in uploads.ids()? {
            if uploads.load(&id).is_ok_and(|u| u.case == case) {
                uploads.remove(&id)?;
            }
        }
        let store = FsBlobStore::open_sealed(&blobs_root, sealing)?;
        for (_, sha) in &holdings.items {
            store.remove_unacknowledged(sha)?;
        }
        let subjects: Vec<ItemId> = holdings
            .items
            .iter()
            .chain(&holdings.records)
            .map(|(id, _)| id.clone())
            .collect();
        let frozen = self.frozen_digests(&subjects)?;
        self.catalog.erase_subjects(case, at, &subjects, &frozen)?;
        Ok(())
    }

    /// Finishes erasures that stopped after their case's key was destroyed; how many.
    pub(crate) fn finish_erasures(&mut self) -> Result<usize, ArchiveError> {
        let (Some(sealing), Some(ring)) = (self.backends.sealing().cloned(), self.keyring()?)
        else {
            return Ok(0);
        };
        if ring.erased.is_empty() {
            return Ok(0);
        }
        // An erasure is finished once its rows went (the catalog lists its subjects as
        // erased); a case name used again after that is new data, left alone.
        let done: HashSet<String> = self.catalog.erased()?.into_iter().map(|e| e.case).collect();
        let mut finished = 0;
        for case in self.catalog.case_names()? {
            let Some(at) = ring.erased_at(&sealing.archive, &case) else {
                continue;
            };
            if done.contains(&case) {
                continue;
            }
            let h = self.catalog.case_holdings(&case)?;
            if !(h.items.is_empty() && h.records.is_empty() && h.shared.is_empty()) {
                self.finish_erasure(&case, at, &h)?;
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// Logs an `erase` event on each subject that has none yet; how many were logged.
    fn log_erasure(
        &mut self,
        case: &str,
        actor: &str,
        holdings: &CaseHoldings,
    ) -> Result<usize, ArchiveError> {
        let mut logged = 0;
        let mut w = self.writer()?;
        let done: HashSet<String> = w
            .catalog
            .event_subjects(0)?
            .into_iter()
            .filter(|(_, _, kind)| kind == "erase")
            .map(|(_, s, _)| s)
            .collect();
        for (subject, digest) in holdings.items.iter().chain(&holdings.records) {
            if done.contains(subject.as_str()) {
                continue;
            }
            let details = EventDetails::Erase(athar_core::Erasure {
                case: case.to_owned(),
                method: "crypto".to_owned(),
                digest: *digest,
                tool_version: athar_core::TOOL_VERSION.to_owned(),
            });
            w.logger
                .record(w.catalog, subject, EventKind::Erase, actor, &details)?;
            logged += 1;
        }
        Ok(logged)
    }

    /// The digests each custody event of `subjects` names in the log, by event number.
    fn frozen_digests(&self, subjects: &[ItemId]) -> Result<Vec<(u64, Digests)>, ArchiveError> {
        let wanted: HashSet<&str> = subjects.iter().map(ItemId::as_str).collect();
        let mut out = Vec::new();
        let mut after = 0u64;
        loop {
            let batch = self.catalog.event_records(after, 4096)?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for r in &batch {
                if wanted.contains(r.item.as_str()) {
                    let d = athar_core::custody::digests_of(r)
                        .map_err(|e| ArchiveError::Store(StoreError::Corrupt(e)))?;
                    out.push((r.seq, d));
                }
            }
        }
        Ok(out)
    }
}

/// The id of the key a sealed blob is sealed under (None when it is not stored).
fn sealed_under(
    root: &Path,
    sealing: &crate::sealed::Sealing,
    sha: &Sha256,
) -> Result<Option<String>, ArchiveError> {
    use std::io::Read as _;
    let store = FsBlobStore::open_sealed(root, sealing.clone())?;
    let path = store.path_of(sha);
    let mut head = vec![0u8; 512];
    let n = match std::fs::File::open(&path) {
        Ok(mut f) => f.read(&mut head).map_err(|e| StoreError::io(&path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(&path, e).into()),
    };
    Ok(crate::sealed::Sealing::sealed_under(&head[..n]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{Access, InitOptions};

    /// An encrypted archive with one item only case `gone` holds, one item `kept` holds,
    /// and one both hold.
    fn archive(dir: &Path) -> Archive {
        let mut a = Archive::init(
            &dir.join("archive"),
            &InitOptions {
                collector: Some("Investigator Test-A".into()),
                passphrase: Some(zeroize::Zeroizing::new("a synthetic passphrase".into())),
                ..InitOptions::default()
            },
        )
        .unwrap();
        for (case, name, bytes) in [
            (
                "gone",
                "own.bin",
                &b"synthetic footage only one case holds"[..],
            ),
            ("kept", "other.bin", b"synthetic footage of another case"),
            ("gone", "shared.bin", b"synthetic footage both cases hold"),
            ("kept", "shared.bin", b"synthetic footage both cases hold"),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            a.write_into_case(Some(case)).unwrap();
            let mut w = a.writer().unwrap();
            let opts = athar_core::ingest::IngestOptions {
                case: Some(case.to_owned()),
                collector: w.collector.clone(),
                threads: 1,
                ..Default::default()
            };
            athar_core::ingest::ingest(
                w.catalog,
                w.blobs,
                &mut w.logger,
                &[path],
                &opts,
                &mut |_| {},
            )
            .unwrap();
        }
        a.write_into_case(None).unwrap();
        a
    }

    fn check(a: &Archive, erased_subjects: usize) {
        let report =
            athar_core::verify::verify(a.catalog.as_ref(), a.blobs.as_ref(), 1, &|_| {}).unwrap();
        assert!(report.ok, "{:?}", report.problems);
        assert_eq!(report.items, 2);
        assert_eq!(report.erased.len(), 1);
        assert_eq!(report.erased[0].subjects, erased_subjects);
        let log = athar_core::verify::verify_log(
            a.catalog.as_ref(),
            a.log.as_ref(),
            &a.verifier(),
            &a.pseudonym_secret,
            &|_, _, _| Ok(String::new()),
        )
        .unwrap();
        assert!(log.problems.is_empty(), "{:?}", log.problems);
    }

    #[test]
    fn an_erasure_stopped_after_the_key_went_is_finished_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = archive(dir.path());
        let work = a.work_dir();
        let holdings = a.catalog.case_holdings("gone").unwrap();
        assert_eq!((holdings.items.len(), holdings.shared.len()), (1, 1));
        // Stopped right after the key was destroyed (the shared blob was not under the
        // case's key: it was first preserved for `gone`, so it is re-sealed first here).
        let sealing = a.backends.sealing().cloned().unwrap();
        let root = a.backends.blobs_path().unwrap();
        let target = a.case_sealing(Some("kept")).unwrap();
        FsBlobStore::open_sealed(&root, target)
            .unwrap()
            .reseal(&holdings.shared[0].1)
            .unwrap();
        assert_eq!(a.log_erasure("gone", "tester", &holdings).unwrap(), 1);
        a.change_keyring(|ring, key| {
            ring.erase_case(key, "gone", "2026-12-06T00:00:00Z");
            Ok(())
        })
        .unwrap();
        drop(a);
        let root = dir.path().join("archive");
        let mut a = Archive::open(&root, Access::Write).unwrap();
        assert_eq!(a.recover().unwrap().erasures, 1);
        check(&a, 1);
        assert_eq!(a.recover().unwrap().erasures, 0, "nothing left to finish");
        drop(sealing);
        let _ = std::fs::remove_dir_all(work);
    }

    #[test]
    fn an_erasure_stopped_before_the_key_went_is_finished_by_running_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = archive(dir.path());
        let work = a.work_dir();
        let holdings = a.catalog.case_holdings("gone").unwrap();
        assert_eq!(a.log_erasure("gone", "tester", &holdings).unwrap(), 1);
        // Nothing went: the archive is whole; erasing again logs nothing twice.
        let done = a.erase_case("gone", "tester").unwrap();
        assert_eq!((done.items, done.kept_shared, done.logged), (1, 1, 0));
        check(&a, 1);
        let again = a.erase_case("gone", "tester").unwrap();
        assert_eq!((again.items, again.logged, again.at), (0, 0, done.at));
        let _ = std::fs::remove_dir_all(work);
    }
}
