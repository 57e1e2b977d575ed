//! The `athar` command: argument parsing, opening the archive (its backends are what
//! `[storage]` in `athar.toml` names, opened by `athar_store`), one short function per command
//! over library calls, human and JSON output, exit codes. Glue only: the work is done by the
//! library crates.
//!
//! - `records/`: the record commands (`fields.rs`: each kind's flags become the record's JSON
//!   fields, then one parser; `mod.rs`: add, edit, show, list, delete; `io.rs`: `athar records`
//!   import and export); `records_csv.rs`: the CSV forms.
//! - `search.rs`: `athar search` over `index/search`, which `athar_store::search_index` keeps
//!   up to date (shared with the server).
//! - `similar.rs`: `athar similar` and `athar clusters` over `athar_analysis::similarity`.
//! - `serve.rs`: `athar serve`, which hands the server the similarity index and the job runner
//!   of `athar_analysis` as its `Extensions`, and `athar user`.
//! - `media.rs`: `athar pdq` and `athar vpdq`, no archive needed; `logcmd.rs`: `athar log`;
//!   `timestamp.rs`: `athar timestamp`; `output.rs`: human and JSON output.
//!
//! End-to-end tests in `crates/cli/tests` run the built binary; `web_e2e.rs` drives the web app
//! in headless chromium through `e2e/web.mjs` (playwright-core, pinned in
//! `e2e/package-lock.json`), keeping screenshots under `target/tmp/e2e`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use athar_core::ingest::{IngestOptions, Progress};
use athar_core::{CoreError, EventKind, StoreError};
use athar_store::{Access, Archive, ArchiveError, InitOptions};
use clap::{Parser, Subcommand};

mod capture;
mod keys;
mod logcmd;
mod media;
mod output;
mod persons;
mod records;
mod records_csv;
mod search;
mod serve;
mod similar;
mod timestamp;

use logcmd::log_command;

#[derive(Parser, Debug)]
#[command(
    name = "athar",
    version,
    about = "Evidence archive: preserve, fingerprint, link, prove"
)]
struct Cli {
    /// The archive folder.
    #[arg(
        long,
        global = true,
        env = "ATHAR_ARCHIVE",
        default_value = "./athar-archive"
    )]
    archive: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Cases: investigations, the unit of access and export.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Incidents: what happened, when (an interval) and where.
    #[command(subcommand)]
    Incident(records::Action<records::IncidentFields>),
    /// Acts: one violation within an incident, its victims and perpetrators.
    #[command(subcommand)]
    Act(records::Action<records::ActFields>),
    /// Persons: victims, witnesses, perpetrators; names in any script.
    #[command(subcommand)]
    Person(records::Action<records::PersonFields>),
    /// Organisations and units: army, militia, intelligence branches.
    #[command(subcommand)]
    Org(records::Action<records::OrgFields>),
    /// Places and facilities.
    #[command(subcommand)]
    Place(records::Action<records::PlaceFields>),
    /// Sources of information, with reliability and protection.
    #[command(subcommand)]
    Source(records::Action<records::SourceFields>),
    /// Claims: what a source asserts or denies, corroborating or contradicting others.
    #[command(subcommand)]
    Claim(records::Action<records::ClaimFields>),
    /// Links between evidence items (or a time range of a video) and records.
    #[command(subcommand)]
    Link(records::Action<records::LinkFields>),
    /// Persons across lists: link the records of one person, review, the persons and the
    /// list-overlap table.
    #[command(subcommand)]
    Persons(persons::PersonsCommand),
    /// Bulk import and export of records (JSON Lines, CSV).
    #[command(subcommand)]
    Records(records::RecordsCommand),
    /// Search items and records (Arabic-aware, any script for names).
    Search(SearchArgs),
    /// Serve the HTTP API (holds the archive's writer lock while running; with the catalog
    /// in PostgreSQL and blobs and log in an object store it takes the lock only to write,
    /// so several servers and workers share one archive).
    Serve(ServeArgs),
    /// Accounts of the HTTP API (works while `athar serve` runs).
    #[command(subcommand)]
    User(serve::UserCommand),
    /// The keyring of an encrypted archive: passphrases and age recipients.
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Check that a passphrase or age identity opens the archive, and which slot it is
    /// (ATHAR_IDENTITY, ATHAR_PASSPHRASE, ATHAR_PASSPHRASE_FILE, else asked); changes nothing.
    Unlock(UnlockArgs),
    /// Create a new archive (refuses to overwrite an existing one).
    Init(InitArgs),
    /// Check the archive's configuration and backends: the catalog (reachable, schema,
    /// may write), the blobs (a probe written, read back, removed) and the custody log (its
    /// checkpoint verified with the archive's key), without opening the archive. Exit 1 when
    /// a check fails.
    Doctor(DoctorArgs),
    /// Move this embedded archive into a new archive folder whose catalog is in PostgreSQL
    /// and whose blobs and custody log are in an S3 object store (or folders of its own):
    /// every blob re-verified on arrival, the log byte for byte, every catalog row. The
    /// source is held throughout and left as it was; run again, an interrupted migration
    /// goes on where it stopped.
    Migrate(MigrateArgs),
    /// Encrypt an existing archive in place (catalog, blobs, secret keys) under a new
    /// archive key guarded by a passphrase (ATHAR_PASSPHRASE or ATHAR_PASSPHRASE_FILE, else
    /// asked twice). Interrupted, it is finished by running it again.
    Encrypt(EncryptArgs),
    /// Preserve files and folders (recursively, in name order).
    Ingest(IngestArgs),
    /// Capture web addresses into a case: WACZ, screenshots, PDF, HTML, media, network
    /// context, each file an item; every address becomes a watched source.
    Capture(capture::CaptureArgs),
    /// The captured sources and what the deletion watch last found (`check` checks them).
    Sources(capture::SourcesArgs),
    /// List the preserved items.
    List(ListArgs),
    /// Show an item, its cases and its chain of custody.
    Show(ShowArgs),
    /// Write an item's original bytes to stdout, re-verified against its SHA-256.
    /// The access is recorded as a custody event.
    Cat(CatArgs),
    /// Re-hash every blob; check catalog, store and custody log against each other.
    Verify(VerifyArgs),
    /// The tamper-evident custody log: keys, checkpoints, proofs.
    #[command(subcommand)]
    Log(LogCommand),
    /// Items that share footage with a file (not ingested) or an item, best first.
    Similar(SimilarArgs),
    /// Groups of items that are copies of the same footage, with the earliest of each.
    Clusters(ClustersArgs),
    /// Background jobs (fingerprints of images and videos): progress and failures.
    Jobs(JobsArgs),
    /// Run background jobs beside other processes, on this machine or any other sharing the
    /// archive's catalog and stores: the writer lock is taken only to claim and to commit,
    /// the lease of the job in hand is renewed while it is analysed. Runs until stopped.
    Worker(WorkerArgs),
    /// Get RFC 3161 time-stamp tokens over the latest checkpoint from each configured
    /// authority (`[[timestamp.tsa]]` in athar.toml) and keep them beside the log.
    Timestamp(TimestampArgs),
    /// Hand over items as a BagIt bag with their custody proofs (recorded as an export).
    Export(ExportArgs),
    /// Take in a bag from another archive: validated first, then ingested with the sender's
    /// custody records kept and a transfer event recorded.
    ImportBag(BagArgs),
    /// Check a bag with no archive: BagIt validity and each item's custody proofs.
    VerifyBag(BagArgs),
    /// PDQ perceptual hashes of image files (no archive needed).
    Pdq(media::PdqArgs),
    /// vPDQ perceptual hashes of a video's frames (no archive needed).
    Vpdq(media::VpdqArgs),
}

#[derive(clap::Args, Debug)]
struct SearchArgs {
    /// Words and names to find (may be empty when filtering by facets).
    #[arg(default_value = "")]
    query: String,
    #[arg(long)]
    case: Option<String>,
    /// item, case, incident, act, person, org, place, source, claim or link.
    #[arg(long)]
    kind: Option<String>,
    /// Only what overlaps this date or interval (e.g. 2012, 2011/2013).
    #[arg(long)]
    date: Option<String>,
    /// Only what happened at this place (a name in any script).
    #[arg(long)]
    place: Option<String>,
    #[arg(long)]
    violation: Option<String>,
    #[arg(long)]
    verification: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// TLS is terminated in front of Athar: mark cookies Secure.
    #[arg(long)]
    behind_tls: bool,
}

#[derive(clap::Args, Debug)]
struct InitArgs {
    /// A short name for the archive (default: the folder's name).
    #[arg(long)]
    name: Option<String>,
    /// Investigator recorded as collector (default: the OS user).
    #[arg(long)]
    collector: Option<String>,
    /// Encrypt the archive at rest (catalog, blobs, secret keys) under a new archive key
    /// guarded by a passphrase: from ATHAR_PASSPHRASE or ATHAR_PASSPHRASE_FILE, else asked
    /// twice on the terminal.
    #[arg(long)]
    encrypt: bool,
    /// Where the catalog goes: `sqlite:<file>` (default `sqlite:catalog.sqlite` in the
    /// archive's folder) or `postgres://user@host:5432/db[?schema=name]` (the password from
    /// PGPASSWORD or ~/.pgpass, never written down). Must hold no catalog yet.
    #[arg(long, value_name = "LOCATION")]
    catalog: Option<String>,
    /// Where the blobs go (default `file:blobs`). Must hold nothing yet.
    #[arg(long, value_name = "LOCATION")]
    blobs: Option<String>,
    /// Where the custody log goes (default `file:log`). Must hold nothing yet.
    #[arg(long, value_name = "LOCATION")]
    log: Option<String>,
}

#[derive(clap::Args, Debug)]
struct DoctorArgs {
    /// One JSON object per check.
    #[arg(long)]
    json: bool,
}

/// `athar case`: the case records, and erasing a case for good.
#[derive(Subcommand, Debug)]
enum CaseCommand {
    #[command(flatten)]
    Record(records::Action<records::CaseFields>),
    /// Erase a case for good (encrypted archives): its key is destroyed, so its items'
    /// content (and review images) and its records can never be read again, from this
    /// archive or any copy of it; the custody log keeps an `erase` event for each, and
    /// `athar verify` reports the case as erased. Items other cases hold too are kept.
    Erase(EraseArgs),
}

#[derive(clap::Args, Debug)]
struct EraseArgs {
    case: String,
    /// Erase by destroying the case's key (the only method).
    #[arg(long, required = true)]
    crypto: bool,
    /// Confirms the erasure, which cannot be undone (else the case's name is asked for
    /// on the terminal).
    #[arg(long)]
    yes: bool,
    /// What was done, as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct UnlockArgs {
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct EncryptArgs {
    /// What was done, as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct IngestArgs {
    /// One JSON object per file on stdout, as soon as it is durable.
    #[arg(long)]
    json: bool,
    /// Case the items belong to (created if new).
    #[arg(long)]
    case: Option<String>,
    /// Where the material came from (a source, a URL, a platform).
    #[arg(long)]
    source: Option<String>,
    /// A note recorded with each file's custody event.
    #[arg(long)]
    note: Option<String>,
    /// Wait for the background jobs (fingerprints) of what was ingested.
    #[arg(long)]
    wait: bool,
    /// Files and folders to preserve.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// One JSON object per item.
    #[arg(long)]
    json: bool,
    /// Also list the items Athar made (review images), not only the evidence collected.
    #[arg(long, alias = "all")]
    derived: bool,
}

#[derive(clap::Args, Debug)]
struct ShowArgs {
    #[arg(long)]
    json: bool,
    /// Item id or SHA-256, or a unique prefix of either.
    item: String,
}

#[derive(clap::Args, Debug)]
struct CatArgs {
    /// Item id or SHA-256, or a unique prefix of either.
    item: String,
    /// Why the content is retrieved (recorded with the access).
    #[arg(long)]
    purpose: Option<String>,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct SimilarArgs {
    #[arg(long)]
    json: bool,
    /// Least share of frames (query's or item's) matched for a match to be listed.
    #[arg(long, default_value_t = 0.2)]
    min_share: f64,
    /// A file, or an item id / SHA-256 (prefix).
    target: String,
}

#[derive(clap::Args, Debug)]
struct ClustersArgs {
    #[arg(long)]
    json: bool,
    /// Least share of frames matched to link two items.
    #[arg(long, default_value_t = 0.2)]
    min_share: f64,
}

#[derive(clap::Args, Debug)]
struct JobsArgs {
    /// Run the queued jobs now (until none is left).
    #[arg(long)]
    run: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct MigrateArgs {
    /// The new archive's folder (must not exist, or hold an interrupted migration to the
    /// same places).
    #[arg(long)]
    to: PathBuf,
    /// Where the catalog goes: `postgres://user@host:port/database[?schema=name]` (the
    /// password from PGPASSWORD or ~/.pgpass). Must hold no catalog yet.
    #[arg(long)]
    catalog: String,
    /// Where the blobs go: `s3://bucket/prefix` (default `file:blobs` in the new folder).
    #[arg(long)]
    blobs: Option<String>,
    /// Where the custody log goes: `s3://bucket/prefix` (default `file:log` in the new
    /// folder).
    #[arg(long)]
    log: Option<String>,
    /// The summary as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct WorkerArgs {
    /// Stop once no job is queued or running anywhere, instead of waiting for more.
    #[arg(long)]
    until_idle: bool,
    /// Seconds between looks for new jobs while none is queued.
    #[arg(long, default_value_t = 2.0)]
    poll: f64,
    /// One line of JSON per job done, and the totals at the end.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct TimestampArgs {
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ExportArgs {
    /// The bag folder to create (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Export every item of this case.
    #[arg(long, conflicts_with = "items")]
    case: Option<String>,
    /// The recipient (recorded in the custody log's detail record and in bag-info).
    #[arg(long)]
    to: Option<String>,
    /// Why it is handed over (recorded like --to).
    #[arg(long)]
    purpose: Option<String>,
    /// A description for bag-info.txt.
    #[arg(long)]
    description: Option<String>,
    /// Put the case's documentation records in the bag (athar/records.jsonl, in an order
    /// that imports in one pass, with their custody history; non-public sources'
    /// identities as [protected]). Needs --case.
    #[arg(long)]
    records: bool,
    /// Copy the payload bytes. Without it, a bag on the archive's file system gets hard
    /// links to the archive's read-only blobs: the same files, not copies.
    #[arg(long)]
    copy: bool,
    /// Compute each SHA-512 from the bytes (and check it against the recorded one)
    /// instead of using the one the `sha512` job recorded.
    #[arg(long)]
    recompute_sha512: bool,
    #[arg(long)]
    json: bool,
    /// Items (id or SHA-256, or a unique prefix).
    #[arg(required_unless_present = "case")]
    items: Vec<String>,
}

/// What checking a bag needs: the sender's keys and the bag.
#[derive(clap::Args, Debug)]
struct BagArgs {
    /// The sender's log verifier key, obtained by another channel (vkey string or a file
    /// holding one); without it custody is reported unverifiable.
    #[arg(long)]
    vkey: Option<String>,
    /// CA certificate of a time-stamping authority, to check the bag's RFC 3161 tokens
    /// (without one, their signatures are reported as not checked).
    #[arg(long)]
    tsa_ca: Vec<PathBuf>,
    #[arg(long)]
    json: bool,
    /// The bag folder.
    dir: PathBuf,
}

#[derive(Subcommand, Debug)]
enum LogCommand {
    /// Print the log's verifier key (C2SP signed-note form).
    Vkey,
    /// Print the latest signed checkpoint.
    Checkpoint,
    /// Print a C2SP tlog-proof for an item's custody event (by default its latest).
    Proof {
        /// Item id or SHA-256, or a unique prefix of either.
        item: String,
        /// The event's sequence number (as `athar show` lists it).
        #[arg(long)]
        event: Option<u64>,
    },
    /// Verify a .tlog-proof offline, with no archive: signature, inclusion, entry (and a
    /// version 2 entry's opening).
    VerifyProof {
        /// The .tlog-proof file.
        file: PathBuf,
        /// The log's verifier key (C2SP vkey string, or a file holding one).
        #[arg(long)]
        vkey: String,
        /// The content's bytes: check that they are those the logged entry is about.
        #[arg(long)]
        content: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Prove (and check) that the current log extends an older checkpoint.
    Consistency {
        /// A checkpoint file previously printed by `athar log checkpoint`.
        old_checkpoint: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// Exit codes (see the guide's interface rules).
const EXIT_PROBLEM: u8 = 1;
const EXIT_INPUT: u8 = 2;
const EXIT_INTERNAL: u8 = 3;

/// Asks for a passphrase on the terminal (never echoed); None when not on a terminal.
fn ask_passphrase(question: &str) -> Option<zeroize::Zeroizing<String>> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(question)
        .ok()
        .map(zeroize::Zeroizing::new)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    athar_store::sealed::unlock::set_prompt(ask_passphrase);
    athar_store::set_lock_wait(athar_store::LockWait {
        limit: lock_wait(),
        notify: |root, holder| {
            eprintln!(
                "athar: {} is in use by {holder}; waiting up to {} s for it (ATHAR_LOCK_WAIT \
                 sets how long)…",
                root.display(),
                lock_wait().as_secs()
            )
        },
    });
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "athar: error: {err:#}");
            ExitCode::from(exit_code_for(&err))
        }
    }
}

/// Input and usage problems exit 2; anything else is an internal failure.
fn exit_code_for(err: &anyhow::Error) -> u8 {
    err.chain().find_map(code_of).unwrap_or(EXIT_INTERNAL)
}

/// The exit code one cause in an error chain decides, if any.
fn code_of(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    use athar_analysis::AnalysisError;
    // The analysis crate's error forwards its cause's message and source: look inside.
    match cause.downcast_ref::<AnalysisError>() {
        Some(AnalysisError::Store(e)) => return code_of(e),
        Some(AnalysisError::Core(e)) => return code_of(e),
        Some(AnalysisError::Archive(e)) => return code_of(e),
        Some(_) | None => {}
    }
    if let Some(e) = cause.downcast_ref::<ArchiveError>() {
        return Some(match e {
            ArchiveError::Store(_) => EXIT_INTERNAL,
            _ => EXIT_INPUT,
        });
    }
    if let Some(StoreError::NotFound(_) | StoreError::Ambiguous { .. }) =
        cause.downcast_ref::<StoreError>()
    {
        return Some(EXIT_INPUT);
    }
    match cause.downcast_ref::<CoreError>() {
        Some(CoreError::Store(StoreError::NotFound(_) | StoreError::Ambiguous { .. })) => {
            Some(EXIT_INPUT)
        }
        Some(CoreError::Altered { .. } | CoreError::ItemAltered { .. }) => Some(EXIT_PROBLEM),
        Some(CoreError::Input { .. }) => Some(EXIT_INPUT),
        _ => None,
    }
}

fn open(cli: &Cli, access: Access) -> anyhow::Result<Archive> {
    Archive::open(&cli.archive, access)
        .with_context(|| format!("opening archive {}", cli.archive.display()))
}

/// Opens the archive for writing and finishes whatever an interrupted run left.
fn open_writable(cli: &Cli) -> anyhow::Result<Archive> {
    let mut archive = open(cli, Access::Write)?;
    archive
        .recover()
        .context("recovering an interrupted ingest")?;
    Ok(archive)
}

/// Runs the queued jobs (the one runner the server uses too), reporting each failure on
/// stderr. On a terminal (or with `ATHAR_PROGRESS=1`), and not with `--json`, a status line
/// says how many are done and what is being worked on.
fn run_jobs(archive: &mut Archive, json: bool) -> anyhow::Result<()> {
    let shown = !json
        && (std::io::stderr().is_terminal()
            || std::env::var("ATHAR_PROGRESS").is_ok_and(|v| v == "1"));
    let total = archive.catalog.waiting_jobs()?;
    let done = std::cell::Cell::new(0u64);
    let status = std::cell::RefCell::new(output::JobStatus::new(shown));
    let summary = athar_analysis::runner::Runner::new(archive).run_all_showing(
        archive,
        &mut |a, job| {
            let name = a
                .catalog
                .resolve(job.item.as_str())
                .and_then(|item| {
                    let events = a.catalog.events(&item.id)?;
                    athar_core::label::label(a.catalog.as_ref(), &item, &events)
                })
                .map(|l| l.text)
                .unwrap_or_else(|_| job.item.to_string());
            status
                .borrow_mut()
                .show(done.get(), total, &job.kind, &name);
        },
        &mut |c| {
            done.set(done.get() + 1);
            status.borrow_mut().clear();
            report_failure("athar", c);
        },
    )?;
    status.borrow_mut().finish(done.get(), total);
    if !json {
        eprintln!(
            "Jobs: {} done, {} failed, {} to retry.",
            summary.done, summary.failed, summary.retried
        );
    }
    Ok(())
}

/// Runs a record command; show and list only read.
fn records_run<F: records::Fields + clap::Args>(
    cli: &Cli,
    action: &records::Action<F>,
) -> anyhow::Result<ExitCode> {
    let mut archive = match action {
        records::Action::Show { .. } | records::Action::List { .. } => open(cli, Access::Read)?,
        _ => open_writable(cli)?,
    };
    records::run(&mut archive, action)?;
    Ok(ExitCode::SUCCESS)
}

/// One function per command: each opens what it needs, calls the libraries and prints.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Init(a) => init(&cli, a),
        Command::Doctor(a) => doctor(&cli, a),
        Command::Encrypt(a) => encrypt(&cli, a),
        Command::Ingest(a) => ingest(&cli, a),
        Command::Capture(a) => capture::capture(&cli, a),
        Command::Sources(a) => capture::sources(&cli, a),
        Command::List(a) => list(&cli, a),
        Command::Show(a) => show(&cli, a),
        Command::Cat(a) => cat(&cli, a),
        Command::Verify(a) => verify(&cli, a),
        Command::Log(cmd) => log_command(&cli, cmd),
        Command::Timestamp(a) => timestamp::command(&cli, a.json),
        Command::Similar(a) => similar(&cli, a),
        Command::Clusters(a) => clusters(&cli, a),
        Command::Jobs(a) => jobs(&cli, a),
        Command::Worker(a) => worker(&cli, a),
        Command::Migrate(a) => migrate(&cli, a),
        Command::Export(a) => export(&cli, a),
        Command::ImportBag(a) => import_bag(&cli, a),
        Command::VerifyBag(a) => verify_bag(a),
        Command::Case(CaseCommand::Record(a)) => records_run(&cli, a),
        Command::Case(CaseCommand::Erase(a)) => erase_case(&cli, a),
        Command::Incident(a) => records_run(&cli, a),
        Command::Act(a) => records_run(&cli, a),
        Command::Person(a) => records_run(&cli, a),
        Command::Org(a) => records_run(&cli, a),
        Command::Place(a) => records_run(&cli, a),
        Command::Source(a) => records_run(&cli, a),
        Command::Claim(a) => records_run(&cli, a),
        Command::Link(a) => records_run(&cli, a),
        Command::Records(cmd) => records_bulk(&cli, cmd),
        Command::Persons(cmd) => persons_command(&cli, cmd),
        Command::Search(a) => search(&cli, a),
        Command::Serve(a) => serve(&cli, a),
        Command::User(cmd) => user(&cli, cmd),
        Command::Key(cmd) => key(&cli, cmd),
        Command::Unlock(a) => unlock(&cli, a),
        Command::Pdq(args) => media::pdq(args),
        Command::Vpdq(args) => media::vpdq(args),
    }
}

fn init(cli: &Cli, a: &InitArgs) -> anyhow::Result<ExitCode> {
    let passphrase = if a.encrypt {
        Some(new_passphrase()?)
    } else {
        None
    };
    let archive = Archive::init(
        &cli.archive,
        &InitOptions {
            name: a.name.clone(),
            collector: a.collector.clone(),
            passphrase,
            storage: Some(athar_store::StorageSection {
                catalog: a.catalog.clone(),
                blobs: a.blobs.clone(),
                log: a.log.clone(),
            }),
        },
    )?;
    if archive.is_encrypted() {
        println!("Encrypted at rest; keep the passphrase safe: without it nothing can be read");
    }
    println!(
        "Created archive {} at {}",
        archive.config.archive.name,
        archive.root.display()
    );
    println!("Custody log origin: {}", archive.config.log.origin);
    println!("Verifier key: {}", archive.verifier_key()?);
    Ok(ExitCode::SUCCESS)
}

fn doctor(cli: &Cli, a: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let checks = athar_store::doctor::doctor(&cli.archive);
    for c in &checks {
        if a.json {
            println!("{}", serde_json::to_string(c)?);
        } else {
            println!(
                "{:<4} {:<8} {}",
                if c.ok { "ok" } else { "FAIL" },
                c.part,
                c.detail
            );
        }
    }
    Ok(if checks.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn erase_case(cli: &Cli, a: &EraseArgs) -> anyhow::Result<ExitCode> {
    if !a.yes {
        let typed = ask_line(&format!(
            "Erasing case {} cannot be undone. Type its name to confirm: ",
            a.case
        ));
        if typed.as_deref() != Some(a.case.as_str()) {
            eprintln!(
                "athar: not confirmed; nothing was erased (give --yes to confirm without a \
                 terminal)"
            );
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    }
    let mut archive = open_writable(cli)?;
    let actor = archive.collector();
    let done = archive
        .erase_case(&a.case, &actor)
        .with_context(|| format!("erasing case {:?}", a.case))?;
    if a.json {
        println!("{}", serde_json::to_string(&done)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Erased case {} at {}: the content of {} item(s) and its protected sources' \
         identities unreadable for good (their key is destroyed), {} record(s) deleted; {} \
         item(s) other cases hold were kept; {} erase event(s) logged. Copies of the catalog \
         made before (backups) still hold the records, readable with the archive key.",
        done.case, done.at, done.items, done.records, done.kept_shared, done.logged
    );
    if done.under_archive_key > 0 {
        println!(
            "{} of the erased items were sealed under the archive key (preserved before the \
             case had its own key): their files are removed, but copies of them in backups or \
             in the disk's free space remain readable with the archive key.",
            done.under_archive_key
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How long a writing command waits for an archive another process holds:
/// `ATHAR_LOCK_WAIT` seconds, else a minute.
fn lock_wait() -> std::time::Duration {
    let secs = std::env::var("ATHAR_LOCK_WAIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(60);
    std::time::Duration::from_secs(secs)
}

/// A line typed on the terminal (None without one).
fn ask_line(question: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{question}");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn encrypt(cli: &Cli, a: &EncryptArgs) -> anyhow::Result<ExitCode> {
    let ask = || {
        new_passphrase().map_err(|e| ArchiveError::Key {
            path: cli.archive.join("keys/keyring.json"),
            message: format!("{e:#}"),
        })
    };
    let tty = !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress = |done: u64, total: u64| {
        if tty {
            eprint!("\rSealing blobs: {} of {} MiB", done >> 20, total >> 20);
        }
    };
    let done = athar_store::encrypt::encrypt_in_place(&cli.archive, &ask, &progress)
        .with_context(|| format!("encrypting archive {}", cli.archive.display()))?;
    if tty {
        eprintln!();
    }
    if a.json {
        println!("{}", serde_json::to_string(&done)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Encrypted {}: {} blobs ({} bytes) sealed{}, catalog and keys encrypted.",
        cli.archive.display(),
        done.blobs,
        done.bytes,
        if done.resumed {
            format!(
                ", finishing an interrupted run ({} sealed before)",
                done.already_sealed
            )
        } else {
            String::new()
        }
    );
    println!(
        "The plain files were removed, but their bytes may remain in the disk's free space \
         until overwritten; only full-disk encryption or a fresh disk rules that out."
    );
    Ok(ExitCode::SUCCESS)
}

/// A new passphrase: from the environment, else typed twice on the terminal.
fn new_passphrase() -> anyhow::Result<zeroize::Zeroizing<String>> {
    use athar_store::sealed::unlock;
    if let Some(p) = unlock::passphrase_from_env()? {
        anyhow::ensure!(
            !p.is_empty(),
            "ATHAR_PASSPHRASE: the passphrase must not be empty"
        );
        return Ok(p);
    }
    let first = ask_passphrase("New passphrase: ").ok_or_else(|| {
        anyhow::anyhow!(
            "--encrypt: give the passphrase in ATHAR_PASSPHRASE or ATHAR_PASSPHRASE_FILE, or \
             run on a terminal"
        )
    })?;
    anyhow::ensure!(!first.is_empty(), "the passphrase must not be empty");
    let again = ask_passphrase("The same passphrase again: ").unwrap_or_default();
    anyhow::ensure!(
        *first == *again,
        "the two passphrases differ; nothing was created"
    );
    Ok(first)
}

fn ingest(cli: &Cli, a: &IngestArgs) -> anyhow::Result<ExitCode> {
    let mut archive = open_writable(cli)?;
    archive.write_into_case(a.case.as_deref())?;
    let mut w = archive.writer()?;
    let opts = IngestOptions {
        case: a.case.clone(),
        source: a.source.clone(),
        note: a.note.clone(),
        collector: w.collector.clone(),
        threads: 0,
        capture: None,
    };
    let mut out = output::IngestOutput::new(a.json);
    // The ingest queues the new items' jobs itself.
    let summary = athar_core::ingest::ingest(
        w.catalog,
        w.blobs,
        &mut w.logger,
        &a.paths,
        &opts,
        &mut |p: Progress<'_>| out.progress(p),
    )?;
    out.finish(&summary);
    archive.write_into_case(None)?;
    if a.wait {
        run_jobs(&mut archive, a.json)?;
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(EXIT_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}

fn list(cli: &Cli, a: &ListArgs) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    output::list(archive.catalog.as_ref(), a.derived, a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn show(cli: &Cli, a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    output::show(archive.catalog.as_ref(), &a.item, a.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Access to content is part of the chain of custody: it is recorded and logged before any
/// byte leaves the archive.
fn cat(cli: &Cli, a: &CatArgs) -> anyhow::Result<ExitCode> {
    let mut archive = open_writable(cli)?;
    let item = archive.catalog.resolve(&a.item)?;
    let access = athar_core::Access {
        via: "athar cat".to_owned(),
        purpose: a.purpose.clone(),
        tool_version: athar_core::TOOL_VERSION.to_owned(),
        cases: Vec::new(),
    };
    let collector = archive.collector();
    archive.record_access(&item.id, &collector, access)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    athar_core::retrieve::copy_item(archive.blobs.as_ref(), &item, &mut out)
        .with_context(|| format!("item {} ({})", item.id, item.sha256))?;
    out.flush().context("writing to standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// Verifying never waits: while another process (`athar serve`) holds the archive, it
/// verifies read-only, leaves any interrupted ingest for the holder to finish, and reports a
/// result only from a run during which the archive did not change (or says it kept changing).
fn verify(cli: &Cli, a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let (archive, holder) = match open_if_free(cli)? {
        Ok(mut archive) => {
            recover_for_verify(&mut archive);
            (archive, None)
        }
        Err(holder) => (open(cli, Access::Read)?, Some(holder)),
    };
    if let Some(h) = &holder {
        eprintln!(
            "athar: the archive is in use by {h}; verifying it read-only (nothing is recovered \
             or recorded by this run)"
        );
    }
    let mut attempt = 1;
    let (report, size, timestamps) = loop {
        let before = holder.as_ref().map(|_| changes(&archive)).transpose()?;
        let (report, size, timestamps) = verify_once(&archive, a.json)?;
        let after = holder.as_ref().map(|_| changes(&archive)).transpose()?;
        // Another writer's work in progress can look like a problem (a blob published just
        // before its item, an event logged after the checkpoint was read): such a result
        // counts only from a run the archive did not change during.
        let settled = before == after && before.as_ref().is_none_or(|c| c.1 == 0);
        if report.ok || settled {
            break (report, size, timestamps);
        }
        if attempt == 3 {
            eprintln!(
                "athar: the archive kept changing while it was verified; some problems below \
                 may be writes in progress by {}: verify again when it is idle",
                holder.as_deref().unwrap_or("another process")
            );
            break (report, size, timestamps);
        }
        attempt += 1;
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    output::verify_report(&report, size, &timestamps, a.json)?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEM)
    })
}

/// What changes while a writer works: the last event issued, the blobs being published,
/// the events waiting for the log.
fn changes(archive: &Archive) -> anyhow::Result<(u64, usize, Vec<u64>)> {
    let c = archive.catalog.as_ref();
    Ok((c.event_index()?.1, c.pending()?.len(), c.unlogged()?))
}

/// Finishes what an interrupted run left, saying what it did (a damaged archive cannot
/// always be recovered; verification then says why).
fn recover_for_verify(archive: &mut Archive) {
    match archive.recover() {
        Ok(r) => {
            if r.temporary + r.blobs + r.stale_uploads > 0 || r.logged > 0 {
                eprintln!(
                    "athar: finished an interrupted ingest: removed {} temporary file(s), {} unacknowledged blob(s) and {} stale upload(s), logged {} queued event(s)",
                    r.temporary, r.blobs, r.stale_uploads, r.logged
                );
            }
            if r.erasures > 0 {
                eprintln!("athar: finished {} interrupted case erasure(s)", r.erasures);
            }
        }
        Err(e) => eprintln!("athar: could not finish an interrupted ingest: {e}"),
    }
}

/// What one pass of `athar verify` found: the report, the log's size, its time-stamps.
type Verified = (athar_core::verify::Report, u64, Vec<(u64, String, String)>);

/// One pass of `athar verify`: the blobs re-hashed against the catalog, then the log.
fn verify_once(archive: &Archive, json: bool) -> anyhow::Result<Verified> {
    let bar = output::bar(!json && std::io::stderr().is_terminal(), 0, "verifying");
    let total: u64 = archive.catalog.items()?.iter().map(|i| i.size).sum();
    bar.set_length(total);
    let mut report =
        athar_core::verify::verify(archive.catalog.as_ref(), archive.blobs.as_ref(), 0, &|b| {
            bar.set_position(b)
        })?;
    bar.finish_and_clear();
    let cas: Vec<PathBuf> = archive
        .config
        .timestamp
        .tsa
        .iter()
        .filter_map(|t| t.ca_file.clone())
        .collect();
    let check_token =
        |token: &[u8], digest: &[u8; 32], _file: &str| timestamp::check_token(token, digest, &cas);
    let log = athar_core::verify::verify_log(
        archive.catalog.as_ref(),
        archive.log.as_ref(),
        &archive.verifier(),
        &archive.pseudonym_secret,
        &check_token,
    )?;
    report.problems.extend(log.problems);
    report.ok = report.problems.is_empty();
    Ok((report, log.size, log.timestamps))
}

fn similar(cli: &Cli, a: &SimilarArgs) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    similar::similar(&archive, &a.target, a.min_share, a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn clusters(cli: &Cli, a: &ClustersArgs) -> anyhow::Result<ExitCode> {
    let archive = open(cli, Access::Read)?;
    similar::clusters(&archive, a.min_share, a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn jobs(cli: &Cli, a: &JobsArgs) -> anyhow::Result<ExitCode> {
    if !a.run {
        let archive = open(cli, Access::Read)?;
        output::jobs(archive.catalog.as_ref(), a.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut archive = open_writable(cli)?;
    // Collected images and videos without a job (e.g. ingest stopped before queuing) get
    // one; review images Athar made are not analysed again.
    let mut items = Vec::new();
    for i in archive.catalog.items()? {
        let collected = archive
            .catalog
            .events(&i.id)?
            .first()
            .is_some_and(|e| e.kind == EventKind::Ingest);
        if collected {
            items.push(i);
        }
    }
    athar_core::jobs::enqueue_for(archive.catalog.as_mut(), &items)?;
    // Items analysed by an earlier build get the records it did not make, or made of
    // another generation: a video's frame variants, an image's or video's local features.
    athar_core::jobs::enqueue_stale_records(
        archive.catalog.as_mut(),
        &athar_analysis::MediaAnalyzer::default(),
    )?;
    run_jobs(&mut archive, a.json)?;
    output::jobs(archive.catalog.as_ref(), a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn migrate(cli: &Cli, a: &MigrateArgs) -> anyhow::Result<ExitCode> {
    use athar_store::migrate::Step;
    let archive = open_writable(cli)?;
    let storage = athar_store::StorageSection {
        catalog: Some(a.catalog.clone()),
        blobs: a.blobs.clone(),
        log: a.log.clone(),
    };
    let shown = !a.json
        && (std::io::stderr().is_terminal()
            || std::env::var("ATHAR_PROGRESS").is_ok_and(|v| v == "1"));
    let mut last = std::time::Instant::now();
    let done = athar_store::migrate::migrate(&archive, &a.to, &storage, &mut |step| {
        if !shown {
            return;
        }
        match step {
            // The first, the last, and one a second.
            Step::Blobs(n, of) | Step::Log(n, of)
                if n > 1 && n < of && last.elapsed() < std::time::Duration::from_secs(1) => {}
            Step::Blobs(n, of) => eprintln!("athar migrate: blobs {n} of {of}"),
            Step::Log(n, of) => eprintln!("athar migrate: log files {n} of {of}"),
            Step::Table(t, rows) => eprintln!("athar migrate: {t}: {rows} rows"),
        }
        last = std::time::Instant::now();
    })
    .with_context(|| format!("migrating to {}", a.to.display()))?;
    if a.json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        println!(
            "Migrated to {}: {} blobs copied and checked ({} bytes; {} already there), {} log \
             files ({} already there; log size {}), {} catalog rows ({} custody events).",
            a.to.display(),
            done.blobs_copied,
            done.bytes,
            done.blobs_present,
            done.log_files,
            done.log_files_present,
            done.log_size,
            done.rows,
            done.events
        );
        if done.uploads_left > 0 {
            println!(
                "{} staged uploads were left behind: finish or remove them here first.",
                done.uploads_left
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn worker(cli: &Cli, a: &WorkerArgs) -> anyhow::Result<ExitCode> {
    use athar_analysis::runner::{Runner, WorkOptions};
    if !(a.poll.is_finite() && (0.01..=3600.0).contains(&a.poll)) {
        return Err(anyhow::Error::new(CoreError::Input {
            path: "--poll".into(),
            message: format!("{} is not between 0.01 and 3600 seconds", a.poll),
        }));
    }
    let mut archive = open(cli, Access::Shared)?;
    archive
        .recover()
        .context("bringing the custody log up to date")?;
    let opts = WorkOptions {
        until_idle: a.until_idle,
        poll: std::time::Duration::from_secs_f64(a.poll),
        ..WorkOptions::default()
    };
    let summary = Runner::new(&archive).work(&mut archive, &opts, &mut |c| {
        if a.json {
            let line = serde_json::json!({
                "job": c.job.id, "kind": c.job.kind, "item": c.job.item.to_string(),
                "state": format!("{:?}", c.state).to_lowercase(),
                "error": c.outcome.as_ref().err(),
            });
            println!("{line}");
        }
        report_failure("athar worker", c);
    })?;
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        eprintln!(
            "Worker: {} done, {} failed, {} to retry, {} taken over by another worker.",
            summary.done, summary.failed, summary.retried, summary.lost
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn export(cli: &Cli, a: &ExportArgs) -> anyhow::Result<ExitCode> {
    if a.records && a.case.is_none() {
        return Err(anyhow::Error::new(CoreError::Input {
            path: "--records".into(),
            message: "needs --case: a bag carries the records of the case it hands over".into(),
        }));
    }
    let mut archive = open_writable(cli)?;
    let chosen = match &a.case {
        Some(c) => archive.catalog.case_items(c)?,
        // A file of a web capture goes with the rest of its bundle.
        None => athar_core::capture::whole_bundles(
            archive.catalog.as_ref(),
            a.items
                .iter()
                .map(|q| archive.catalog.resolve(q))
                .collect::<Result<Vec<_>, _>>()?,
        )?,
    };
    let organisation = archive.config.archive.name.clone();
    let mut w = archive.writer()?;
    let opts = athar_core::handover::ExportOptions {
        to: a.to.clone(),
        organisation,
        contact: w.collector.clone(),
        description: a.description.clone(),
        copy: a.copy,
        recompute_sha512: a.recompute_sha512,
        case: a.case.clone(),
        purpose: a.purpose.clone(),
        records: a.records,
    };
    let summary = athar_core::handover::export(
        w.catalog,
        w.blobs,
        w.log,
        &mut w.logger,
        &chosen,
        &a.out,
        &opts,
    )?;
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "Exported {} item(s), {} byte(s) ({} hard-linked to the archive's blobs), {} custody event(s) with proofs (log size {}) to {}",
            summary.items,
            summary.bytes,
            summary.linked,
            summary.events,
            summary.log_size,
            a.out.display()
        );
        if a.records {
            println!(
                "With {} record(s) and {} of their custody event(s) (athar/records.jsonl)",
                summary.records, summary.record_events
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import_bag(cli: &Cli, a: &BagArgs) -> anyhow::Result<ExitCode> {
    let check_token = |t: &[u8], d: &[u8; 32], _f: &str| timestamp::check_token(t, d, &a.tsa_ca);
    let verifier = a.vkey.as_deref().map(logcmd::read_vkey).transpose()?;
    let mut archive = open_writable(cli)?;
    let mut w = archive.writer()?;
    let summary = athar_core::handover::import_bag(
        w.catalog,
        w.blobs,
        &mut w.logger,
        &a.dir,
        verifier.as_ref(),
        &check_token,
        &w.collector,
    )?;
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "Imported {} item(s) ({} new) with {} sender custody event(s), {}",
            summary.items,
            summary.new_items,
            summary.sender_events,
            if summary.sender_custody_verified {
                "all proved"
            } else {
                "NOT all proved (see athar show)"
            }
        );
        if summary.records > 0 {
            println!(
                "Records of case {}: {} in the bag, {} written, {} already held as they are",
                summary.case.as_deref().unwrap_or("?"),
                summary.records,
                summary.new_records,
                summary.unchanged_records
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_bag(a: &BagArgs) -> anyhow::Result<ExitCode> {
    let check_token = |t: &[u8], d: &[u8; 32], _f: &str| timestamp::check_token(t, d, &a.tsa_ca);
    let verifier = a.vkey.as_deref().map(logcmd::read_vkey).transpose()?;
    if !a.dir.is_dir() {
        return Err(anyhow::Error::new(StoreError::NotFound(format!(
            "bag folder {}",
            a.dir.display()
        ))));
    }
    let check = athar_core::handover::verify_bag(&a.dir, verifier.as_ref(), &check_token);
    output::bag_check(&check, a.json)?;
    Ok(if check.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEM)
    })
}

fn records_bulk(cli: &Cli, cmd: &records::RecordsCommand) -> anyhow::Result<ExitCode> {
    let mut archive = open_writable(cli)?;
    records::records_command(&mut archive, cmd)?;
    Ok(ExitCode::SUCCESS)
}

fn persons_command(cli: &Cli, cmd: &persons::PersonsCommand) -> anyhow::Result<ExitCode> {
    use persons::PersonsCommand as P;
    match cmd {
        P::Link {
            case,
            accept,
            review,
            json,
        } => {
            let options = athar_core::persons::LinkOptions {
                accept: *accept,
                review: *review,
                ..Default::default()
            };
            persons::link(&mut open_writable(cli)?, case.as_deref(), &options, *json)?;
        }
        P::List {
            case,
            format,
            linked,
            out,
        } => persons::list(
            &open(cli, Access::Read)?,
            case.as_deref(),
            format.as_deref(),
            *linked,
            out.as_deref(),
        )?,
        P::Overlap { case, json } => {
            persons::overlap(&open(cli, Access::Read)?, case.as_deref(), *json)?;
        }
        P::Review { case, limit, json } => {
            persons::review(&open(cli, Access::Read)?, case.as_deref(), *limit, *json)?;
        }
        P::Show { r#match, json } => persons::show(&open(cli, Access::Read)?, r#match, *json)?,
        P::Decide {
            r#match,
            decision,
            note,
            json,
        } => persons::decide(
            &mut open_writable(cli)?,
            r#match,
            decision,
            note.as_deref(),
            *json,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Searching never waits: with the archive free it keeps the shared index up to date;
/// while another process (`athar serve`) holds it, it searches an index of its own.
fn search(cli: &Cli, a: &SearchArgs) -> anyhow::Result<ExitCode> {
    let (archive, shared) = match open_if_free(cli)? {
        Ok(mut archive) => {
            archive
                .recover()
                .context("recovering an interrupted ingest")?;
            (archive, true)
        }
        Err(_) => (open(cli, Access::Read)?, false),
    };
    search::command(
        &archive,
        shared,
        &search::Filters {
            query: a.query.clone(),
            case: a.case.clone(),
            kind: a.kind.clone(),
            date: a.date.clone(),
            place: a.place.clone(),
            violation: a.violation.clone(),
            verification: a.verification.clone(),
        },
        a.limit,
        a.json,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The archive opened for writing if no other process holds it, else who holds it.
fn open_if_free(cli: &Cli) -> anyhow::Result<Result<Archive, String>> {
    Archive::open_if_free(&cli.archive)
        .with_context(|| format!("opening archive {}", cli.archive.display()))
}

fn serve(cli: &Cli, a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut archive = Archive::open_for_serving(&cli.archive)
        .with_context(|| format!("opening archive {}", cli.archive.display()))?;
    archive
        .recover()
        .context("recovering an interrupted ingest")?;
    serve::serve(archive, &a.listen, a.behind_tls)?;
    Ok(ExitCode::SUCCESS)
}

fn user(cli: &Cli, cmd: &serve::UserCommand) -> anyhow::Result<ExitCode> {
    serve::user(&cli.archive, cmd)?;
    Ok(ExitCode::SUCCESS)
}

fn unlock(cli: &Cli, a: &UnlockArgs) -> anyhow::Result<ExitCode> {
    keys::unlock(&cli.archive, a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn key(cli: &Cli, cmd: &keys::KeyCommand) -> anyhow::Result<ExitCode> {
    keys::run(&open(cli, Access::Write)?, cmd)?;
    Ok(ExitCode::SUCCESS)
}

/// A failed job's line for stderr (`prefix` names the command).
fn report_failure(prefix: &str, c: &athar_core::jobs::Committed) {
    if let Err(e) = &c.outcome {
        eprintln!(
            "{prefix}: job {} ({}) on item {}: {e}",
            c.job.id, c.job.kind, c.job.item
        );
    }
}

#[cfg(test)]
mod tests {
    use athar_analysis::AnalysisError;

    use super::*;

    #[test]
    fn exit_codes_look_inside_the_analysis_error() {
        let code = |e: anyhow::Error| exit_code_for(&e);
        let not_found = || StoreError::NotFound("item \"x\"".into());
        assert_eq!(code(AnalysisError::Store(not_found()).into()), EXIT_INPUT);
        let input = CoreError::Input {
            path: "f".into(),
            message: "bad".into(),
        };
        assert_eq!(code(AnalysisError::Core(input).into()), EXIT_INPUT);
        let config = ArchiveError::Config {
            path: "athar.toml".into(),
            message: "[storage] …".into(),
        };
        assert_eq!(code(AnalysisError::Archive(config).into()), EXIT_INPUT);
        assert_eq!(
            code(AnalysisError::Index("damaged".into()).into()),
            EXIT_INTERNAL
        );
        assert_eq!(
            code(anyhow::Error::new(not_found()).context("opening")),
            EXIT_INPUT
        );
        assert_eq!(code(anyhow::anyhow!("anything else")), EXIT_INTERNAL);
    }
}
