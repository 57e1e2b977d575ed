//! `athar serve` and `athar user`: the HTTP API and its accounts.

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::Path;

use anyhow::Context as _;
use athar_core::accounts::Role;
use athar_core::jobs::{Analysed, Claimed, Committed};
use athar_core::StoreError;
use athar_core::{Catalog, Item, ItemId};
use athar_server::auth::{generate_password, hash_password};
use athar_store::Archive;
use clap::Subcommand;

use athar_analysis::runner::Runner;
use athar_analysis::similarity;

use crate::report_failure;

/// `athar user …`.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; prints a generated password once unless --password-stdin.
    Add {
        name: String,
        /// admin, investigator, analyst or viewer.
        #[arg(long)]
        role: String,
        /// A case the user is a member of (repeatable).
        #[arg(long = "case")]
        cases: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (ends its sessions, revokes its tokens), or --enable it again.
    Disable {
        name: String,
        #[arg(long)]
        enable: bool,
    },
    /// Set a new password (ends the sessions, revokes the API tokens) and change case
    /// memberships.
    Reset {
        name: String,
        /// Read the new password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// Keep the password; only change memberships.
        #[arg(long)]
        keep_password: bool,
        /// Add a case membership (repeatable).
        #[arg(long = "case")]
        add_cases: Vec<String>,
        /// Remove a case membership (repeatable).
        #[arg(long = "remove-case")]
        remove_cases: Vec<String>,
    },
    /// Remove a user's second factor and its recovery codes (a lost phone) and end their
    /// sessions; a role that requires one makes them set up a new one at their next
    /// sign-in. Works for one's own account too (an admin locked out).
    ResetSecondFactor { name: String },
    /// Recent sign-ins and failed sign-ins (to the web app and API), newest first.
    SignIns {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// How many (default 50).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

fn input_error(m: String) -> anyhow::Error {
    anyhow::Error::new(athar_core::CoreError::Input {
        path: "user".into(),
        message: m,
    })
}

/// The password to set: from stdin, or generated and printed once.
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password")?;
        let p = line.trim_end_matches(['\r', '\n']).to_owned();
        if p.chars().count() < 12 {
            return Err(input_error("password: at least 12 characters".into()));
        }
        Ok((p, false))
    } else {
        Ok((generate_password()?, true))
    }
}

pub fn user(root: &Path, cmd: &UserCommand) -> anyhow::Result<()> {
    let mut cat = Archive::accounts_catalog(root)
        .with_context(|| format!("opening archive {}", root.display()))?;
    let mut out = std::io::stdout().lock();
    match cmd {
        UserCommand::Add {
            name,
            role,
            cases,
            password_stdin,
        } => {
            let role = Role::parse(role).ok_or_else(|| {
                input_error(format!(
                    "--role {role:?}: admin, investigator, analyst or viewer"
                ))
            })?;
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return Err(input_error("name: 1 to 100 characters".into()));
            }
            let (pw, generated) = password(*password_stdin)?;
            cat.add_user(name, role, &hash_password(&pw)?, cases)?;
            writeln!(out, "Created user {name} ({})", role.as_str())?;
            if generated {
                writeln!(out, "Password (shown once): {pw}")?;
            }
        }
        UserCommand::List { json } => {
            for u in cat.users()? {
                if *json {
                    writeln!(out, "{}", serde_json::to_string(&u)?)?;
                } else {
                    writeln!(
                        out,
                        "{:<20} {:<13} {:<9} {:<7} {}",
                        u.name,
                        u.role.as_str(),
                        if u.disabled { "disabled" } else { "active" },
                        if u.second_factor { "2fa" } else { "-" },
                        u.cases.join(",")
                    )?;
                }
            }
        }
        UserCommand::Disable { name, enable } => {
            cat.set_user_disabled(name, !enable)?;
            writeln!(
                out,
                "User {name} {}",
                if *enable { "enabled" } else { "disabled" }
            )?;
        }
        UserCommand::Reset {
            name,
            password_stdin,
            keep_password,
            add_cases,
            remove_cases,
        } => {
            cat.set_memberships(name, add_cases, remove_cases)?;
            if !keep_password {
                let (pw, generated) = password(*password_stdin)?;
                cat.set_password(name, &hash_password(&pw)?)?;
                if generated {
                    writeln!(out, "New password (shown once): {pw}")?;
                }
            }
            writeln!(out, "User {name} updated")?;
        }
        UserCommand::ResetSecondFactor { name } => {
            let u = cat
                .user(name)?
                .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))?;
            cat.remove_second_factor(u.id, true)?;
            writeln!(out, "User {name}: second factor removed, sessions ended")?;
        }
        UserCommand::SignIns { user, limit, json } => {
            let uid = match user {
                Some(name) => Some(
                    cat.user(name)?
                        .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))?
                        .id,
                ),
                None => None,
            };
            for s in cat.sign_ins(uid, (*limit).max(1))? {
                if *json {
                    writeln!(out, "{}", serde_json::to_string(&s)?)?;
                } else {
                    let count = if s.count > 1 {
                        format!(" ×{}", s.count)
                    } else {
                        String::new()
                    };
                    writeln!(
                        out,
                        "{} {:<20} {:<7} {:<18} {}{count}",
                        s.at,
                        s.name,
                        s.outcome.as_str(),
                        s.reason,
                        s.address,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// What the server needs from the media side (the similarity index and the job runner)
/// and web capture.
#[derive(Debug)]
struct MediaExtensions {
    runner: Runner,
    capture: crate::capture::ServerCapture,
    /// Whether the videos analysed by an earlier build were queued for the current frame
    /// variants (once per server start: what this build analyses is current).
    stale_queued: std::sync::atomic::AtomicBool,
}

impl athar_server::Extensions for MediaExtensions {
    fn near_duplicates(
        &self,
        catalog: &dyn Catalog,
        item: &Item,
        min_share: f64,
    ) -> Result<Option<Vec<(ItemId, serde_json::Value)>>, String> {
        let found = (|| {
            let index = self.runner.similarity(catalog)?;
            // An item fingerprinted since the last catch-up (its job just finished) is
            // added now; for an indexed item the catalog's fingerprints are not read.
            if index.read()?.owner_of(&item.id).is_none() {
                index.catch_up(catalog)?;
            }
            let archived = index.read()?;
            let Some(owner) = archived.owner_of(&item.id) else {
                return Ok(None);
            };
            let mut out = Vec::new();
            for m in archived.near(owner, min_share) {
                let other = catalog.resolve(archived.item_of(m.owner)?.as_str())?;
                out.push((other.id.clone(), similarity::match_json(&other, &m)));
            }
            // The links made through local features when the items were indexed.
            let links = index.links_of(&item.id)?;
            let mut linked = Vec::new();
            for l in links.iter().filter(|l| l.counts(min_share)) {
                match catalog.resolve(l.other.as_str()) {
                    Ok(other) => linked.push((other, l)),
                    Err(athar_core::StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            similarity::with_links(&mut out, linked);
            Ok(Some(out))
        })();
        found.map_err(|e: athar_analysis::AnalysisError| e.to_string())
    }

    fn claim_job(&self, archive: &mut Archive) -> Result<Option<Claimed>, String> {
        use std::sync::atomic::Ordering;
        if !self.stale_queued.load(Ordering::Relaxed) {
            self.runner
                .queue_stale(archive)
                .map_err(|e| format!("queuing out-of-date records made again: {e}"))?;
            self.stale_queued.store(true, Ordering::Relaxed);
        }
        self.runner
            .claim(archive)
            .map_err(|e| format!("claiming a job: {e}"))
    }

    fn analyse_job(&self, job: Claimed) -> Analysed {
        self.runner.analyse(job)
    }

    fn commit_job(&self, archive: &mut Archive, job: Analysed) -> Result<Committed, String> {
        let committed = self
            .runner
            .commit(archive, job)
            .map_err(|e| format!("recording a job's results: {e}"))?;
        report_failure("athar serve", &committed);
        Ok(committed)
    }

    fn fingerprints_changed(&self, catalog: &dyn Catalog) -> Result<(), String> {
        // The server keeps the index: opened here at its first idle round, then caught up.
        self.runner
            .similarity(catalog)
            .and_then(|_| self.runner.update_index(catalog))
            .map_err(|e| format!("updating the similarity index: {e}"))
    }

    fn web_capture(&self) -> Option<&dyn athar_server::WebCapture> {
        Some(&self.capture)
    }
}

/// How often the deletion watch checks each source: `[capture] check_every_hours` (24 when
/// not set, 0 for never) and each case's `[capture.cases."<case>"]`;
/// `ATHAR_CHECK_SOURCES_EVERY` seconds stand for the first (for tests and trials).
fn check_sources(archive: &Archive) -> anyhow::Result<athar_server::WatchSchedule> {
    let mut schedule = archive.config.capture.schedule();
    if let Some(v) = std::env::var_os("ATHAR_CHECK_SOURCES_EVERY") {
        let secs: f64 = v
            .to_str()
            .and_then(|s| s.trim().parse().ok())
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .context("ATHAR_CHECK_SOURCES_EVERY: seconds")?;
        schedule.every = (secs > 0.0).then(|| std::time::Duration::from_secs_f64(secs));
    }
    Ok(schedule)
}

/// `athar serve`: prints the address it listens on, then serves until Ctrl-C. Queued
/// background jobs (fingerprints, review images) run inside the server as they arrive;
/// web captures queued through the API run in threads of their own, and the deletion watch
/// checks the captured sources on a schedule (`check_sources`).
pub fn serve(archive: Archive, listen: &str, secure_cookies: bool) -> anyhow::Result<()> {
    let capture = crate::capture::ServerCapture::new(&archive)?;
    let check_sources = check_sources(&archive)?;
    let listener = TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Listening on http://{addr}")?;
        out.flush()?;
    }
    let options = athar_server::Options {
        secure_cookies,
        extensions: Some(std::sync::Arc::new(MediaExtensions {
            runner: Runner::new(&archive),
            capture,
            stale_queued: std::sync::atomic::AtomicBool::new(false),
        })),
        check_sources,
        ..athar_server::Options::default()
    };
    athar_server::serve(archive, listener, options).context("serving")?;
    Ok(())
}
