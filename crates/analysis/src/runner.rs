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

    /// Queues a refresh job for every record the analyzer makes again alone that an item
    /// lacks or holds of another generation than this build's: a `variants` job for such a
    /// video's frame variants, a `local` job for an image's or video's local features.
    /// Returns how many were queued.
    pub fn queue_stale(&self, archive: &mut Archive) -> Result<usize, AnalysisError> {
        Ok(jobs::enqueue_stale_records(
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

    /// Works as one of many processes sharing the archive (`athar worker`; the archive
    /// opened [`athar_store::Access::Shared`]): claims a job in a turn at the writer lock,
    /// analyses it without any lock while renewing its lease every fifth of
    /// [`athar_core::job_lease`] (so a long video is not taken over, and a worker that dies
    /// frees its job within one lease), and commits in a turn. Idle, it looks for work every
    /// `opts.poll`; with `opts.until_idle` it returns once no job is queued or running
    /// anywhere (a job whose worker died runs again here once its lease lapses). The
    /// similarity index file is brought up to date whenever the queue runs dry after
    /// fingerprints were made. `report` sees each job.
    pub fn work(
        &self,
        archive: &mut Archive,
        opts: &WorkOptions,
        report: &mut dyn FnMut(&Committed),
    ) -> Result<RunSummary, AnalysisError> {
        let mut fingerprinted = false;
        let mut summary = jobs::RunSummary::default();
        loop {
            if opts.stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(summary);
            }
            let claimed = {
                let Some(_turn) = self.wait_turn(archive, None, opts)? else {
                    return Ok(summary);
                };
                self.claim(archive)?
            };
            let Some(claimed) = claimed else {
                if fingerprinted {
                    self.update_index(archive.catalog.as_ref())?;
                    fingerprinted = false;
                }
                if opts.until_idle && !any_running(archive.catalog.as_ref())? {
                    return Ok(summary);
                }
                sleep_unless_stopped(opts.poll, &opts.stop);
                continue;
            };
            let job = claimed.job().clone();
            let analysed = self.analyse_renewing(archive, claimed)?;
            // Stopping now would waste the analysis: the commit waits for its turn.
            let Some(turn) = self.wait_turn(archive, Some(&job), &WorkOptions::default())? else {
                return Ok(summary);
            };
            let committed = self.commit(archive, analysed)?;
            drop(turn);
            summary.count(&committed);
            fingerprinted |= committed.fingerprinted();
            report(&committed);
        }
    }

    /// A turn at the writer lock, waited for however long another process holds it (a long
    /// ingest, say), renewing `job`'s lease meanwhile. None when `opts.stop` is set first.
    fn wait_turn(
        &self,
        archive: &mut Archive,
        job: Option<&athar_core::Job>,
        opts: &WorkOptions,
    ) -> Result<Option<athar_store::Turn>, AnalysisError> {
        let pause = (athar_core::job_lease() / 5).min(std::time::Duration::from_millis(50));
        let mut renewed = std::time::Instant::now();
        loop {
            match archive.try_turn() {
                Ok(turn) => return Ok(Some(turn)),
                Err(athar_store::ArchiveError::Busy { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(job) = job {
                if renewed.elapsed() >= athar_core::job_lease() / 5 {
                    archive.catalog.renew_job(job)?;
                    renewed = std::time::Instant::now();
                }
            }
            sleep_unless_stopped(pause, &opts.stop);
            if opts.stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(None);
            }
        }
    }

    /// Analyses `claimed` on a thread of its own while this one renews its lease.
    fn analyse_renewing(
        &self,
        archive: &mut Archive,
        claimed: Claimed,
    ) -> Result<Analysed, AnalysisError> {
        let job = claimed.job().clone();
        let every = athar_core::job_lease() / 5;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            scope.spawn(move || {
                // The receiver outlives the thread unless renewing failed: nothing to do then.
                let _ = tx.send(self.analyse(claimed));
            });
            loop {
                match rx.recv_timeout(every) {
                    Ok(analysed) => return Ok(analysed),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        // Lost (false): the commit will find it so and record nothing.
                        archive.catalog.renew_job(&job)?;
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        // The analysis panicked: the scope passes the panic on.
                        return Err(AnalysisError::Media {
                            path: job.item.to_string().into(),
                            message: "the analysis stopped without a result".to_owned(),
                        });
                    }
                }
            }
        })
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

/// How [`Runner::work`] goes on.
#[derive(Debug, Default)]
pub struct WorkOptions {
    /// Return once no job is queued or running, instead of waiting for more.
    pub until_idle: bool,
    /// How long to wait before looking for jobs again when none is queued.
    pub poll: std::time::Duration,
    /// Set to return after the job in hand is committed.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

/// Whether a job is queued or running (held by a worker, or waiting for its lease to lapse).
fn any_running(catalog: &dyn Catalog) -> Result<bool, AnalysisError> {
    if catalog.waiting_jobs()? > 0 {
        return Ok(true);
    }
    Ok(catalog.jobs()?.iter().any(|j| j.state == "running"))
}

/// Sleeps `d`, waking early when `stop` is set.
fn sleep_unless_stopped(d: std::time::Duration, stop: &std::sync::atomic::AtomicBool) {
    let until = std::time::Instant::now() + d;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let now = std::time::Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(std::time::Duration::from_millis(100)));
    }
}
