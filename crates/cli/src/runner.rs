//! The one background job runner, for `athar jobs --run` / `ingest --wait` and for
//! `athar serve`.
//!
//! A job runs in the three phases of [`athar_core::jobs`]: claim and commit are short and
//! need the archive; the analysis (FFmpeg, PDQ, hashing) needs neither the archive nor its
//! catalog. The CLI holds the archive throughout ([`Runner::run_all`]); the server takes its
//! archive mutex for the claim and the commit only, and analyses on a blocking thread
//! without it. After fingerprint jobs the similarity index is brought up to date through
//! whatever catalog connection the caller hands in (the server: a read-only one, so no
//! writer waits on it).

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context as _;
use athar_core::jobs::{self, Analysed, Claimed, Committed, RunSummary};
use athar_core::Catalog;
use athar_media::hamming::IndexKind;
use athar_store::Archive;

use crate::analyze::MediaAnalyzer;
use crate::similar;

/// Runs jobs with the media analyzer and keeps the similarity index up to date.
#[derive(Debug)]
pub struct Runner {
    analyzer: MediaAnalyzer,
    /// The archive's root (the similarity index lives under it) and the index kind.
    root: PathBuf,
    index_kind: IndexKind,
    /// One similarity index update at a time.
    indexing: Mutex<()>,
}

impl Runner {
    pub fn new(archive: &Archive) -> Runner {
        Runner {
            analyzer: MediaAnalyzer::default(),
            root: archive.root.clone(),
            index_kind: similar::index_kind(&archive.config),
            indexing: Mutex::new(()),
        }
    }

    /// Queues a `variants` job for every video whose frame variants are of another
    /// generation than this build's (or missing). Returns how many were queued.
    pub fn queue_stale_variants(&self, archive: &mut Archive) -> anyhow::Result<usize> {
        jobs::enqueue_stale_variants(&mut archive.catalog, &self.analyzer)
            .context("queuing frame variants made again")
    }

    /// Claims the next job (short; needs the archive). None when none is queued.
    pub fn claim(&self, archive: &mut Archive) -> anyhow::Result<Option<Claimed>> {
        // A cheap read first: an idle server looks every second.
        if archive.catalog.waiting_jobs()? == 0 {
            return Ok(None);
        }
        jobs::claim(&mut archive.catalog, &archive.blobs).context("claiming a job")
    }

    /// Analyses a claimed job: decodes and hashes, perhaps for minutes. Needs no archive.
    pub fn analyse(&self, claimed: Claimed) -> Analysed {
        jobs::analyse(claimed, &self.analyzer)
    }

    /// Records an analysed job's results (short; needs the archive): derived items with
    /// their custody events through the logger, then records and job state.
    pub fn commit(&self, archive: &mut Archive, analysed: Analysed) -> anyhow::Result<Committed> {
        let mut w = archive.writer()?;
        jobs::commit(
            w.catalog,
            w.blobs,
            Some(&mut w.logger),
            analysed,
            &w.collector,
        )
        .context("recording a job's results")
    }

    /// Brings the similarity index up to date with the fingerprints in `catalog` (any
    /// connection to the archive's catalog, read-only is enough).
    pub fn update_index(&self, catalog: &dyn Catalog) -> anyhow::Result<()> {
        let _one = self
            .indexing
            .lock()
            .map_err(|_| anyhow::anyhow!("similarity index lock poisoned"))?;
        similar::update(&self.root, self.index_kind, catalog)
            .context("updating the similarity index")
    }

    /// Runs every queued job in this process, which holds the archive throughout (the CLI),
    /// then updates the similarity index if fingerprints were made. `report` sees each job.
    pub fn run_all(
        &self,
        archive: &mut Archive,
        report: &mut dyn FnMut(&Committed),
    ) -> anyhow::Result<RunSummary> {
        let mut fingerprinted = false;
        let summary = {
            let mut w = archive.writer()?;
            jobs::run(
                w.catalog,
                w.blobs,
                Some(&mut w.logger),
                &self.analyzer,
                &w.collector,
                &mut |c| {
                    fingerprinted |= c.fingerprinted();
                    report(c);
                },
            )?
        };
        if fingerprinted {
            // New fingerprints go into the similarity index now, not at the next search.
            self.update_index(&archive.catalog)?;
        }
        Ok(summary)
    }
}

/// A failed job's line for stderr (`prefix` names the command).
pub fn report_failure(prefix: &str, c: &Committed) {
    if let Err(e) = &c.outcome {
        eprintln!(
            "{prefix}: job {} ({}) on item {}: {e}",
            c.job.id, c.job.kind, c.job.item
        );
    }
}
