//! The `athar` command: argument parsing, wiring of the embedded backends, output.
//! Glue only: the work is done by the library crates.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use athar_core::ingest::{IngestOptions, Progress};
use athar_core::{Catalog, CoreError, StoreError};
use athar_store::{Access, Archive, ArchiveError, InitOptions};
use clap::{Parser, Subcommand};

mod logcmd;
mod media;
mod output;

use athar_core::log::Logger;
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
    /// Create a new archive (refuses to overwrite an existing one).
    Init {
        /// A short name for the archive (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// Investigator recorded as collector (default: the OS user).
        #[arg(long)]
        collector: Option<String>,
    },
    /// Preserve files and folders (recursively, in name order).
    Ingest {
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
        /// Files and folders to preserve.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the preserved items.
    List {
        /// One JSON object per item.
        #[arg(long)]
        json: bool,
    },
    /// Show an item, its cases and its chain of custody.
    Show {
        #[arg(long)]
        json: bool,
        /// Item id or SHA-256, or a unique prefix of either.
        item: String,
    },
    /// Write an item's original bytes to stdout, re-verified against its SHA-256.
    Cat {
        /// Item id or SHA-256, or a unique prefix of either.
        item: String,
    },
    /// Re-hash every blob; check catalog, store and custody log against each other.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// The tamper-evident custody log: keys, checkpoints, proofs.
    #[command(subcommand)]
    Log(LogCommand),
    /// PDQ perceptual hashes of image files (no archive needed).
    Pdq(media::PdqArgs),
    /// vPDQ perceptual hashes of a video's frames (no archive needed).
    Vpdq(media::VpdqArgs),
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
    /// Verify a .tlog-proof offline, with no archive: signature, inclusion, entry.
    VerifyProof {
        /// The .tlog-proof file.
        file: PathBuf,
        /// The log's verifier key (C2SP vkey string, or a file holding one).
        #[arg(long)]
        vkey: String,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ArchiveError>() {
            return match e {
                ArchiveError::Store(_) => EXIT_INTERNAL,
                _ => EXIT_INPUT,
            };
        }
        if let Some(StoreError::NotFound(_) | StoreError::Ambiguous { .. }) =
            cause.downcast_ref::<StoreError>()
        {
            return EXIT_INPUT;
        }
        if let Some(CoreError::Store(StoreError::NotFound(_) | StoreError::Ambiguous { .. })) =
            cause.downcast_ref::<CoreError>()
        {
            return EXIT_INPUT;
        }
        if let Some(CoreError::Altered { .. }) = cause.downcast_ref::<CoreError>() {
            return EXIT_PROBLEM;
        }
    }
    EXIT_INTERNAL
}

fn open(cli: &Cli, access: Access) -> anyhow::Result<Archive> {
    Archive::open(&cli.archive, access)
        .with_context(|| format!("opening archive {}", cli.archive.display()))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Init { name, collector } => {
            let archive = Archive::init(
                &cli.archive,
                &InitOptions {
                    name: name.clone(),
                    collector: collector.clone(),
                },
            )?;
            println!(
                "Created archive {} at {}",
                archive.config.archive.name,
                archive.root.display()
            );
            println!("Custody log origin: {}", archive.config.log.origin);
            println!("Verifier key: {}", archive.verifier_key()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            json,
            case,
            source,
            note,
            paths,
        } => {
            let mut archive = open(&cli, Access::Write)?;
            archive
                .recover()
                .context("recovering an interrupted ingest")?;
            let log = athar_core::log::CustodyLog::open(&archive.log, archive.signer.clone())?;
            let mut logger = Logger {
                log,
                secret: archive.pseudonym_secret.clone(),
            };
            let opts = IngestOptions {
                case: case.clone(),
                source: source.clone(),
                note: note.clone(),
                collector: archive.collector(),
                threads: 0,
            };
            let mut out = output::IngestOutput::new(*json);
            let summary = athar_core::ingest::ingest(
                &mut archive.catalog as &mut dyn Catalog,
                &archive.blobs,
                Some(&mut logger),
                paths,
                &opts,
                &mut |p: Progress<'_>| out.progress(p),
            )?;
            out.finish(&summary);
            Ok(if summary.failed > 0 {
                ExitCode::from(EXIT_INPUT)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::List { json } => {
            let archive = open(&cli, Access::Read)?;
            output::list(&archive.catalog, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { json, item } => {
            let archive = open(&cli, Access::Read)?;
            output::show(&archive.catalog, item, *json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cat { item } => {
            let archive = open(&cli, Access::Read)?;
            let item = archive.catalog.resolve(item)?;
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            athar_core::retrieve::copy_item(&archive.blobs, &item, &mut w)
                .with_context(|| format!("item {} ({})", item.id, item.sha256))?;
            w.flush().context("writing to standard output")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { json } => {
            let mut archive = open(&cli, Access::Write)?;
            // A damaged archive cannot always be recovered; verification then says why.
            match archive.recover() {
                Ok(r) if r.temporary + r.blobs > 0 || r.logged > 0 => eprintln!(
                    "athar: finished an interrupted ingest: removed {} temporary file(s) and {} unacknowledged blob(s), logged {} queued event(s)",
                    r.temporary, r.blobs, r.logged
                ),
                Ok(_) => {}
                Err(e) => eprintln!("athar: could not finish an interrupted ingest: {e}"),
            }
            let bar = output::bar(!json && std::io::stderr().is_terminal(), 0, "verifying");
            let total: u64 = archive.catalog.items()?.iter().map(|i| i.size).sum();
            bar.set_length(total);
            let mut report =
                athar_core::verify::verify(&archive.catalog, &archive.blobs, 0, &|b| {
                    bar.set_position(b)
                })?;
            bar.finish_and_clear();
            let log = athar_core::verify::verify_log(
                &archive.catalog,
                &archive.log,
                &archive.verifier(),
                &archive.pseudonym_secret,
            )?;
            report.problems.extend(log.problems);
            report.ok = report.problems.is_empty();
            output::verify_report(&report, log.size, *json)?;
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_PROBLEM)
            })
        }
        Command::Log(cmd) => log_command(&cli, cmd),
        Command::Pdq(args) => media::pdq(args),
        Command::Vpdq(args) => media::vpdq(args),
    }
}
