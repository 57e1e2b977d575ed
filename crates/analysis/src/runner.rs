//! The one background job runner, for `athar jobs --run` / `ingest --wait` and for
//! `athar serve`.
//!
//! A job runs in the three phases of [`athar_core::jobs`]: claim and commit are short and
//! need the archive; the analysis (FFmpeg, PDQ, hashing) needs neither the archive nor its
//! catalog. The CLI holds the archive throughout ([`Runner::run_all`]); the server takes
//! its archive mutex for the claim and the commit only, and analyses on a blocking thread
//! without it. After fingerprint jobs the similarity index is brought up to date through
//! whatever catalog connection the caller hands in (the server: a read-only one, so no
//! writer waits on it).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use athar_core::jobs::{self, Analysed, Claimed, Committed, RunSummary};
use athar_core::Catalog;
use athar_media::hamming::IndexKind;
use athar_store::Archive;

use crate::similarity::{self, Similarity};
use crate::{AnalysisError, MediaAnalyzer};

/// Runs jobs with the media analyzer and keeps the similarity index up to date.
#[derive(Debug)]
pub struct Runner {
    analyzer: MediaAnalyzer,
    /// The archive's root (the similarity index lives under it) and the index kind.
    root: PathBuf,
    index_kind: IndexKind,
    /// The similarity index, once opened: kept up to date after fingerprint jobs.
    similarity: Mutex<Option<Arc<Similarity>>>,
}

impl Runner {
    pub fn new(archive: &Archive) -> Runner {
        Runner {
            analyzer: MediaAnalyzer::default(),
            root: archive.work_dir(),
            index_kind: similarity::index_kind(&archive.config),
            similarity: Mutex::new(None),
        }
    }

    /// The analyzer the jobs run.
    pub fn analyzer(&self) -> &MediaAnalyzer {
        &self.analyzer
    }

    /// Queues a `variants` job for every video whose frame variants are of another
    /// generation than this build's (or missing). Returns how many were queued.
    pub fn queue_stale_variants(&self, archive: &mut Archive) -> Result<usize, AnalysisError> {
        Ok(jobs::enqueue_stale_variants(
            archive.catalog.as_mut(),
            &self.analyzer,
        )?)
    }

    /// Claims the next job (short; needs the archive). None when none is queued.
    pub fn claim(&self, archive: &mut Archive) -> Result<Option<Claimed>, AnalysisError> {
        // A cheap read first: an idle server looks every second.
        if archive.catalog.waiting_jobs()? == 0 {
            return Ok(None);
        }
        Ok(jobs::claim(
            archive.catalog.as_mut(),
            archive.blobs.as_ref(),
        )?)
    }

    /// Analyses a claimed job: decodes and hashes, perhaps for minutes. Needs no archive.
    pub fn analyse(&self, claimed: Claimed) -> Analysed {
        jobs::analyse(claimed, &self.analyzer)
    }

    /// Records an analysed job's results (short; needs the archive): derived items with
    /// their custody events through the logger, then records and job state.
    pub fn commit(
        &self,
        archive: &mut Archive,
        analysed: Analysed,
    ) -> Result<Committed, AnalysisError> {
        // Files derived from an item of one case (review images of its footage) are
        // sealed under that case's key, so they go when the case is erased.
        let cases = archive.catalog.cases_of(&analysed.job().item)?;
        let case = match cases.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        };
        archive.write_into_case(case)?;
        let committed = match archive.writer() {
            Ok(mut w) => jobs::commit(w.catalog, w.blobs, &mut w.logger, analysed, &w.collector)
                .map_err(AnalysisError::from),
            Err(e) => Err(AnalysisError::from(e)),
        };
        // Back to the archive's key whatever happened, so no later writer seals under it.
        let reset = archive.write_into_case(None);
        let committed = committed?;
        reset?;
        Ok(committed)
    }

    /// The similarity index, opened from its file and `catalog` the first time, then kept
    /// in memory (see [`Runner::update_index`]).
    pub fn similarity(&self, catalog: &dyn Catalog) -> Result<Arc<Similarity>, AnalysisError> {
        let mut slot = self
            .similarity
            .lock()
            .map_err(|_| AnalysisError::Index("poisoned by a panic".into()))?;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(Similarity::open(&self.root, self.index_kind, catalog)?);
        *slot = Some(s.clone());
        Ok(s)
    }

    /// Brings the similarity index up to date with the fingerprints in `catalog` (any
    /// connection to the archive's catalog, read-only is enough): the one in memory when it
    /// was opened ([`Runner::similarity`]: the server's), else only its file (a command
    /// that ran jobs leaves it for the next search).
    pub fn update_index(&self, catalog: &dyn Catalog) -> Result<(), AnalysisError> {
        let open = self
            .similarity
            .lock()
            .map_err(|_| AnalysisError::Index("poisoned by a panic".into()))?
            .clone();
        match open {
            Some(index) => index.catch_up(catalog).map(drop),
            None => Similarity::refresh_file(&self.root, self.index_kind, catalog),
        }
    }

    /// Runs every queued job in this process, which holds the archive throughout (the CLI),
    /// then updates the similarity index if fingerprints were made. `report` sees each job.
    pub fn run_all(
        &self,
        archive: &mut Archive,
        report: &mut dyn FnMut(&Committed),
    ) -> Result<RunSummary, AnalysisError> {
        self.run_all_showing(archive, &mut |_, _| {}, report)
    }

    /// [`Runner::run_all`], telling `starting` of each job before it is analysed (with the
    /// archive, to read what it is about).
    pub fn run_all_showing(
        &self,
        archive: &mut Archive,
        starting: &mut dyn FnMut(&Archive, &athar_core::Job),
        report: &mut dyn FnMut(&Committed),
    ) -> Result<RunSummary, AnalysisError> {
        let mut fingerprinted = false;
        let mut summary = jobs::RunSummary::default();
        while let Some(claimed) = self.claim(archive)? {
            starting(archive, claimed.job());
            let committed = self.commit(archive, self.analyse(claimed))?;
            summary.count(&committed);
            fingerprinted |= committed.fingerprinted();
            report(&committed);
        }
        if fingerprinted {
            // New fingerprints go into the similarity index now, not at the next search.
            self.update_index(archive.catalog.as_ref())?;
        }
        Ok(summary)
    }
}
