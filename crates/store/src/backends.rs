//! Which backends an archive's parts live in, as `[storage]` in `athar.toml` names them:
//!
//! ```toml
//! [storage]
//! catalog = "sqlite:catalog.sqlite"   # the catalog and accounts
//! blobs = "file:blobs"                # the evidence bytes
//! log = "file:log"                    # the custody log's tiles and checkpoint
//! ```
//!
//! A location is `<scheme>:<where>`; a relative path is taken from the archive's folder.
//! These three are the defaults (an archive made before `[storage]` existed uses them).
//! The catalog may also be a PostgreSQL database, `catalog =
//! "postgres://user@host:5432/db"` (or `postgresql://`; `?schema=<name>` picks the schema,
//! default `athar`), opened by `athar-pg`; its password never appears in a message. An
//! encrypted archive keeps its catalog embedded (SQLCipher): a PostgreSQL catalog for it is
//! refused. A location naming another scheme is refused with the field it came from.
//! [`Backends`] opens each part as the trait object the services use, so nothing above this
//! module names a backend type or file.

use std::path::{Path, PathBuf};

use athar_core::log::LogStore;
use athar_core::{BlobStore, Database, StoreError};
use serde::{Deserialize, Serialize};

use athar_pg::PgCatalog;

use crate::sealed::Sealing;
use crate::{FsBlobStore, FsLogStore, SqliteCatalog};

/// `[storage]` in `athar.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// Where the catalog (and the accounts) are: `sqlite:<file>` or `postgres://…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// Where the blobs are: `file:<folder>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs: Option<String>,
    /// Where the custody log is: `file:<folder>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// The default locations, written by `athar init`.
pub const DEFAULT_CATALOG: &str = "sqlite:catalog.sqlite";
pub const DEFAULT_BLOBS: &str = "file:blobs";
pub const DEFAULT_LOG: &str = "file:log";

impl StorageSection {
    /// The defaults, spelt out.
    pub fn embedded() -> StorageSection {
        StorageSection {
            catalog: Some(DEFAULT_CATALOG.to_owned()),
            blobs: Some(DEFAULT_BLOBS.to_owned()),
            log: Some(DEFAULT_LOG.to_owned()),
        }
    }
}

/// A `[storage]` location this build cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[storage] {field} = {value:?}: {message}")]
pub struct LocationError {
    /// `catalog`, `blobs` or `log`.
    pub field: &'static str,
    pub value: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CatalogAt {
    Sqlite(PathBuf),
    Postgres(athar_pg::Location),
}

/// One of an archive's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Catalog,
    Blobs,
    Log,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BlobsAt {
    File(PathBuf),
    /// `s3://bucket[/prefix]`.
    S3(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LogAt {
    File(PathBuf),
    /// `s3://bucket[/prefix]`.
    S3(String),
}

/// An `s3://bucket[/prefix]` location, checked without reaching the server.
fn s3_location(field: &'static str, value: &str) -> Result<String, LocationError> {
    athar_s3::check_location(value).map_err(|message| LocationError {
        field,
        value: value.to_owned(),
        message,
    })?;
    Ok(value.to_owned())
}

/// The backends of one archive, parsed from its `[storage]`: opens each part. Cheap to
/// clone; the server keeps one to open its read-only catalog connections.
#[derive(Debug, Clone)]
pub struct Backends {
    catalog: CatalogAt,
    blobs: BlobsAt,
    log: LogAt,
    /// The locations as written, for messages (a password redacted): catalog, blobs, log.
    written: [String; 3],
    /// An encrypted archive's keys, once unlocked.
    sealing: Option<Sealing>,
}

/// Splits `scheme:rest`, checks the scheme is one of `known`, and resolves `rest` as a
/// path under `root`.
fn location(
    root: &Path,
    field: &'static str,
    value: &str,
    known: &[&str],
) -> Result<PathBuf, LocationError> {
    let err = |message: String| LocationError {
        field,
        value: value.to_owned(),
        message,
    };
    let Some((scheme, rest)) = value.split_once(':') else {
        return Err(err(format!(
            "expected <scheme>:<location>, for example {:?}",
            format!("{}:{field}", known[0])
        )));
    };
    if !known.contains(&scheme) {
        return Err(err(format!(
            "this build has no {scheme:?} backend for the {field} (it has: {})",
            known.join(", ")
        )));
    }
    if rest.is_empty() || rest.contains('\0') {
        return Err(err("the location is empty".to_owned()));
    }
    let path = Path::new(rest);
    Ok(if path.is_absolute() {
        path.to_owned()
    } else {
        root.join(path)
    })
}

impl Backends {
    /// The backends `storage` names for the archive at `root` (defaults for what it leaves
    /// out).
    pub fn from_config(root: &Path, storage: &StorageSection) -> Result<Backends, LocationError> {
        let pick = |v: &Option<String>, d: &'static str| v.clone().unwrap_or_else(|| d.to_owned());
        let catalog = pick(&storage.catalog, DEFAULT_CATALOG);
        let blobs = pick(&storage.blobs, DEFAULT_BLOBS);
        let log = pick(&storage.log, DEFAULT_LOG);
        let scheme = catalog.split_once(':').map_or("", |(s, _)| s);
        let catalog_at = if matches!(scheme, "postgres" | "postgresql") {
            CatalogAt::Postgres(athar_pg::Location::parse(&catalog).map_err(|message| {
                LocationError {
                    field: "catalog",
                    value: athar_pg::redact(&catalog),
                    message,
                }
            })?)
        } else {
            CatalogAt::Sqlite(location(
                root,
                "catalog",
                &catalog,
                &["sqlite", "postgres"],
            )?)
        };
        let catalog = athar_pg::redact(&catalog);
        let blobs_at = if blobs.starts_with("s3:") {
            BlobsAt::S3(s3_location("blobs", &blobs)?)
        } else {
            BlobsAt::File(location(root, "blobs", &blobs, &["file", "s3"])?)
        };
        let log_at = if log.starts_with("s3:") {
            LogAt::S3(s3_location("log", &log)?)
        } else {
            LogAt::File(location(root, "log", &log, &["file", "s3"])?)
        };
        Ok(Backends {
            catalog: catalog_at,
            blobs: blobs_at,
            log: log_at,
            written: [catalog, blobs, log],
            sealing: None,
        })
    }

    /// Checks that each part is where `[storage]` says. Only `athar init` makes an
    /// archive's parts: a location that names nothing is a mistake in the configuration (or
    /// the part was removed), never a new empty store to write evidence into beside the
    /// real one.
    pub fn check_present(&self) -> Result<(), LocationError> {
        for part in [Part::Catalog, Part::Blobs, Part::Log] {
            self.check_part(part)?;
        }
        Ok(())
    }

    /// [`Backends::check_present`] for one part.
    pub fn check_part(&self, part: Part) -> Result<(), LocationError> {
        let missing = |field: &'static str, value: &str, path: &Path| LocationError {
            field,
            value: value.to_owned(),
            message: format!(
                "nothing is there ({} does not exist); an archive's parts are made by `athar init`",
                path.display()
            ),
        };
        let s3_present = |field: &'static str, value: &str, present, what: &str| match present {
            Ok(true) => Ok(()),
            Ok(false) => Err(LocationError {
                field,
                value: value.to_owned(),
                message: format!(
                    "nothing is there (no Athar {what} under this prefix); an archive's parts \
                     are made by `athar init`"
                ),
            }),
            Err(e) => Err(LocationError {
                field,
                value: value.to_owned(),
                message: format!("{e}"),
            }),
        };
        match (part, &self.catalog, &self.blobs, &self.log) {
            (Part::Catalog, CatalogAt::Sqlite(catalog), _, _) => {
                if !catalog.is_file() {
                    return Err(missing("catalog", &self.written[0], catalog));
                }
            }
            (Part::Catalog, CatalogAt::Postgres(at), _, _) => {
                let err = |message: String| LocationError {
                    field: "catalog",
                    value: self.written[0].clone(),
                    message,
                };
                match PgCatalog::exists(at) {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(err(format!(
                            "nothing is there (no Athar catalog in schema {:?}); an archive's \
                             parts are made by `athar init`",
                            at.schema()
                        )))
                    }
                    Err(e) => return Err(err(e.to_string())),
                }
            }
            (Part::Blobs, _, BlobsAt::File(blobs), _) => {
                // Plain blobs live under `sha256/`, sealed ones under `sealed/`.
                let top = blobs.join("sha256");
                if !top.is_dir() && !blobs.join("sealed").is_dir() {
                    return Err(missing("blobs", &self.written[1], &top));
                }
            }
            (Part::Blobs, _, BlobsAt::S3(url), _) => s3_present(
                "blobs",
                url,
                athar_s3::S3BlobStore::present(url),
                "blob store",
            )?,
            (Part::Log, _, _, LogAt::File(log)) => {
                let tiles = log.join("tile");
                if !tiles.is_dir() {
                    return Err(missing("log", &self.written[2], &tiles));
                }
            }
            (Part::Log, _, _, LogAt::S3(url)) => s3_present(
                "log",
                url,
                athar_s3::S3LogStore::present(url),
                "custody log (checkpoint)",
            )?,
        }
        Ok(())
    }

    /// Whether every part can be reached from several machines: a PostgreSQL catalog and
    /// blobs and log in an object store (not folders of one machine).
    pub fn all_shared(&self) -> bool {
        matches!(self.catalog, CatalogAt::Postgres(_))
            && matches!(self.blobs, BlobsAt::S3(_))
            && matches!(self.log, LogAt::S3(_))
    }

    /// The SQLite catalog's file, when the catalog is one.
    pub fn sqlite_catalog(&self) -> Option<&Path> {
        match &self.catalog {
            CatalogAt::Sqlite(path) => Some(path),
            CatalogAt::Postgres(_) => None,
        }
    }

    /// The PostgreSQL catalog's location, when the catalog is one.
    pub fn postgres_catalog(&self) -> Option<&athar_pg::Location> {
        match &self.catalog {
            CatalogAt::Postgres(at) => Some(at),
            CatalogAt::Sqlite(_) => None,
        }
    }

    /// Where `part` is, as written in `athar.toml` (a password redacted).
    pub fn location(&self, part: Part) -> &str {
        match part {
            Part::Catalog => &self.written[0],
            Part::Blobs => &self.written[1],
            Part::Log => &self.written[2],
        }
    }

    /// `athar doctor`'s check of the catalog or the blobs: present, reachable, and usable
    /// as a writer would use it, writing nothing an archive holds (a probe file or object
    /// is written and removed beside the blobs). What was found, in words.
    pub fn probe(&self, part: Part, encrypted: bool) -> Result<String, LocationError> {
        self.check_part(part)?;
        let at = self.location(part).to_owned();
        let field = match part {
            Part::Catalog => "catalog",
            Part::Blobs => "blobs",
            Part::Log => "log",
        };
        let fail = |message: String| LocationError {
            field,
            value: at.clone(),
            message,
        };
        match (part, &self.catalog, &self.blobs) {
            (Part::Catalog, CatalogAt::Sqlite(path), _) => {
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| fail(format!("cannot be opened for writing: {e}")))?;
                let size = std::fs::metadata(path).map_or(0, |m| m.len());
                if encrypted {
                    return Ok(format!(
                        "{at}: SQLCipher file of {} MiB, writable (encrypted: not opened)",
                        size >> 20
                    ));
                }
                SqliteCatalog::open(path, false).map_err(|e| fail(e.to_string()))?;
                Ok(format!(
                    "{at}: SQLite file of {} MiB, schema current, writable",
                    size >> 20
                ))
            }
            (Part::Catalog, CatalogAt::Postgres(loc), _) => PgCatalog::doctor(loc)
                .map(|d| format!("{at}: {d}"))
                .map_err(|e| fail(e.to_string())),
            (Part::Blobs, _, BlobsAt::File(dir)) => {
                let probe = dir.join(format!(".doctor-{}", std::process::id()));
                std::fs::write(&probe, b"athar doctor probe\n")
                    .and_then(|()| std::fs::remove_file(&probe))
                    .map_err(|e| fail(format!("cannot write there: {e}")))?;
                Ok(format!("{at}: a folder, writable"))
            }
            (Part::Blobs, _, BlobsAt::S3(url)) => {
                athar_s3::S3BlobStore::probe(url).map_err(|e| fail(e.to_string()))?;
                Ok(format!(
                    "{at}: reachable; a probe object written, read back and removed"
                ))
            }
            (Part::Log, _, _) => self
                .check_part(Part::Log)
                .map(|()| format!("{at}: present")),
        }
    }

    /// Checks that no part is there yet, for `athar init`: a location that already holds a
    /// catalog, blobs or a log (another archive's, or this one's before) is never made
    /// again on top, and nothing is touched.
    pub fn check_absent(&self) -> Result<(), LocationError> {
        let taken = |field: &'static str, value: &str, what: String| {
            LocationError {
            field,
            value: value.to_owned(),
            message: format!("{what} is already there; `athar init` makes a new archive's parts only where nothing is"),
        }
        };
        let non_empty = |dir: &Path| std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
        match &self.catalog {
            CatalogAt::Sqlite(catalog) => {
                if catalog.exists() {
                    return Err(taken(
                        "catalog",
                        &self.written[0],
                        catalog.display().to_string(),
                    ));
                }
            }
            CatalogAt::Postgres(at) => match PgCatalog::exists(at) {
                Ok(false) => {}
                Ok(true) => {
                    return Err(taken(
                        "catalog",
                        &self.written[0],
                        format!("an Athar catalog in schema {:?}", at.schema()),
                    ))
                }
                Err(e) => {
                    return Err(LocationError {
                        field: "catalog",
                        value: self.written[0].clone(),
                        message: e.to_string(),
                    })
                }
            },
        }
        let s3_taken =
            |field: &'static str, value: &str, present: Result<bool, StoreError>| match present {
                Ok(false) => Ok(()),
                Ok(true) => Err(taken(field, value, format!("an Athar {field} store"))),
                Err(e) => Err(LocationError {
                    field,
                    value: value.to_owned(),
                    message: e.to_string(),
                }),
            };
        match &self.blobs {
            BlobsAt::File(blobs) if non_empty(blobs) => {
                return Err(taken(
                    "blobs",
                    &self.written[1],
                    blobs.display().to_string(),
                ));
            }
            BlobsAt::File(_) => {}
            BlobsAt::S3(url) => s3_taken("blobs", url, athar_s3::S3BlobStore::present(url))?,
        }
        match &self.log {
            LogAt::File(log) if non_empty(log) => {
                return Err(taken("log", &self.written[2], log.display().to_string()));
            }
            LogAt::File(_) => {}
            LogAt::S3(url) => s3_taken("log", url, athar_s3::S3LogStore::present(url))?,
        }
        Ok(())
    }

    /// The same backends, opened through an encrypted archive's keys.
    pub fn with_sealing(mut self, sealing: Sealing) -> Backends {
        self.sealing = Some(sealing);
        self
    }

    /// Where the embedded catalog file and the blob store's folder are (for encrypting in
    /// place); refused for a catalog that is not an embedded file.
    pub(crate) fn embedded_paths(&self) -> Result<(PathBuf, PathBuf), LocationError> {
        match &self.catalog {
            CatalogAt::Sqlite(catalog) => Ok((catalog.clone(), self.blobs_path()?)),
            CatalogAt::Postgres(_) => Err(self.not_encryptable()),
        }
    }

    /// The blob store's folder; refused for blobs that are not in a folder.
    pub(crate) fn blobs_path(&self) -> Result<PathBuf, LocationError> {
        match &self.blobs {
            BlobsAt::File(blobs) => Ok(blobs.clone()),
            BlobsAt::S3(_) => Err(self.blobs_not_encryptable()),
        }
    }

    /// Why S3 blobs cannot be part of an encrypted archive.
    fn blobs_not_encryptable(&self) -> LocationError {
        LocationError {
            field: "blobs",
            value: self.written[1].clone(),
            message: "an encrypted archive keeps its blobs sealed in a folder of its own \
                      (file:blobs); an S3 blob store is not encrypted at rest by Athar"
                .to_owned(),
        }
    }

    /// Why a PostgreSQL catalog cannot be part of an encrypted archive.
    fn not_encryptable(&self) -> LocationError {
        LocationError {
            field: "catalog",
            value: self.written[0].clone(),
            message: "an encrypted archive keeps its catalog in the embedded, encrypted \
                      SQLCipher file (sqlite:catalog.sqlite); a PostgreSQL catalog is not \
                      encrypted at rest by Athar"
                .to_owned(),
        }
    }

    /// The keys the parts are opened with (None for a plain archive).
    pub fn sealing(&self) -> Option<&Sealing> {
        self.sealing.as_ref()
    }

    /// Opens the catalog: read-write (creating it and running pending migrations), or
    /// read-only (refused when migrations are pending). See [`Backends::check_present`].
    pub fn open_catalog(&self, writable: bool) -> Result<Box<dyn Database>, StoreError> {
        match &self.catalog {
            CatalogAt::Sqlite(path) => {
                let catalog = SqliteCatalog::open_keyed(
                    path,
                    writable,
                    self.sealing.as_ref().map(|s| &s.catalog),
                )?;
                Ok(Box::new(match &self.sealing {
                    Some(s) => catalog.with_sealing(s.clone()),
                    None => catalog,
                }))
            }
            CatalogAt::Postgres(_) if self.sealing.is_some() => {
                Err(StoreError::Catalog(self.not_encryptable().to_string()))
            }
            CatalogAt::Postgres(at) => Ok(Box::new(PgCatalog::open_at(at, writable)?)),
        }
    }

    /// Opens the catalog read-write for a process that writes in turns beside others
    /// (`Access::Shared`): as [`Backends::open_catalog`], but no running job is freed.
    pub fn open_catalog_shared(&self) -> Result<Box<dyn Database>, StoreError> {
        match &self.catalog {
            CatalogAt::Sqlite(path) => {
                let catalog =
                    SqliteCatalog::open_shared(path, self.sealing.as_ref().map(|s| &s.catalog))?;
                Ok(Box::new(match &self.sealing {
                    Some(s) => catalog.with_sealing(s.clone()),
                    None => catalog,
                }))
            }
            CatalogAt::Postgres(_) => self.open_catalog(true),
        }
    }

    /// Opens (creating if needed) the blob store.
    pub fn open_blobs(&self) -> Result<Box<dyn BlobStore>, StoreError> {
        match &self.blobs {
            BlobsAt::File(path) => Ok(Box::new(match &self.sealing {
                Some(s) => FsBlobStore::open_sealed(path, s.clone())?,
                None => FsBlobStore::open(path)?,
            })),
            BlobsAt::S3(_) if self.sealing.is_some() => Err(StoreError::Corrupt(
                self.blobs_not_encryptable().to_string(),
            )),
            BlobsAt::S3(url) => Ok(Box::new(athar_s3::S3BlobStore::open(url)?)),
        }
    }

    /// Opens (creating if needed) the custody log's store.
    pub fn open_log(&self) -> Result<Box<dyn LogStore>, StoreError> {
        match &self.log {
            LogAt::File(path) => Ok(Box::new(FsLogStore::open(path)?)),
            LogAt::S3(url) => Ok(Box::new(athar_s3::S3LogStore::open(url)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(storage: StorageSection) -> Result<Backends, LocationError> {
        Backends::from_config(Path::new("/archive"), &storage)
    }

    #[test]
    fn defaults_are_the_embedded_backends_under_the_root() {
        let b = parse(StorageSection::default()).expect("defaults");
        let spelt = parse(StorageSection::embedded()).expect("spelt out");
        assert_eq!(
            (&b.catalog, &b.blobs, &b.log),
            (&spelt.catalog, &spelt.blobs, &spelt.log)
        );
        assert_eq!(
            b.catalog,
            CatalogAt::Sqlite(PathBuf::from("/archive/catalog.sqlite"))
        );
        assert_eq!(b.blobs, BlobsAt::File(PathBuf::from("/archive/blobs")));
        assert_eq!(b.log, LogAt::File(PathBuf::from("/archive/log")));
    }

    #[test]
    fn parts_must_be_there_to_be_opened() {
        let dir = tempfile::tempdir().expect("temp dir");
        let b = Backends::from_config(dir.path(), &StorageSection::default()).expect("defaults");
        let e = b.check_present().expect_err("nothing made yet");
        assert_eq!(e.field, "catalog");
        assert!(e.to_string().contains("nothing is there"), "{e}");
        b.open_catalog(true).expect("create");
        assert_eq!(b.check_present().expect_err("no blobs").field, "blobs");
        b.open_blobs().expect("create");
        assert_eq!(b.check_present().expect_err("no log").field, "log");
        b.open_log().expect("create");
        b.check_present().expect("all there");
    }

    #[test]
    fn absolute_locations_are_kept() {
        let b = parse(StorageSection {
            blobs: Some("file:/mnt/evidence".into()),
            ..StorageSection::default()
        })
        .expect("absolute");
        assert_eq!(b.blobs, BlobsAt::File(PathBuf::from("/mnt/evidence")));
    }

    #[test]
    fn unknown_schemes_and_bad_locations_name_their_field() {
        for (storage, field, says) in [
            (
                StorageSection {
                    catalog: Some("mysql://db/athar".into()),
                    ..StorageSection::default()
                },
                "catalog",
                "no \"mysql\" backend",
            ),
            (
                StorageSection {
                    catalog: Some("postgres:athar".into()),
                    ..StorageSection::default()
                },
                "catalog",
                "expected postgres://",
            ),
            (
                StorageSection {
                    blobs: Some("ftp:bucket".into()),
                    ..StorageSection::default()
                },
                "blobs",
                "no \"ftp\" backend",
            ),
            (
                StorageSection {
                    log: Some("log".into()),
                    ..StorageSection::default()
                },
                "log",
                "expected <scheme>:<location>",
            ),
            (
                StorageSection {
                    catalog: Some("sqlite:".into()),
                    ..StorageSection::default()
                },
                "catalog",
                "empty",
            ),
        ] {
            let e = parse(storage).expect_err("refused");
            assert_eq!(e.field, field);
            assert!(e.to_string().contains(says), "{e}");
            assert!(
                e.to_string().starts_with(&format!("[storage] {field} = ")),
                "{e}"
            );
        }
    }

    #[test]
    fn postgres_catalogs_are_parsed_and_their_passwords_never_shown() {
        let b = parse(StorageSection {
            catalog: Some("postgres://athar:hunter2@db.example:5433/evidence?schema=kyiv".into()),
            ..StorageSection::default()
        })
        .expect("postgres");
        let CatalogAt::Postgres(at) = &b.catalog else {
            panic!("not postgres: {:?}", b.catalog);
        };
        assert_eq!(at.schema(), "kyiv");
        assert_eq!(
            b.written[0],
            "postgres://athar:***@db.example:5433/evidence?schema=kyiv"
        );
        assert!(!format!("{b:?}").contains("hunter2"));
        // The blobs stay where they were; encrypting in place needs the embedded catalog.
        assert_eq!(b.blobs_path(), Ok(PathBuf::from("/archive/blobs")));
        let e = b.embedded_paths().expect_err("not embedded");
        assert_eq!(e.field, "catalog");
        assert!(e.to_string().contains("SQLCipher"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        for bad in [
            "postgresql://athar:hunter2@db/evidence?schema=Bad-Name",
            "postgres://athar:hunter2@db/evidence?bogus=1",
        ] {
            let e = parse(StorageSection {
                catalog: Some(bad.into()),
                ..StorageSection::default()
            })
            .expect_err(bad);
            assert_eq!(e.field, "catalog");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn s3_blobs_and_log_are_parsed_and_an_encrypted_archive_refuses_them() {
        let b = parse(StorageSection {
            blobs: Some("s3://evidence/archive-a/blobs".into()),
            log: Some("s3://evidence/archive-a/log".into()),
            ..StorageSection::default()
        })
        .expect("s3");
        assert_eq!(b.blobs, BlobsAt::S3("s3://evidence/archive-a/blobs".into()));
        assert_eq!(b.log, LogAt::S3("s3://evidence/archive-a/log".into()));
        let e = b.blobs_path().expect_err("no folder");
        assert_eq!(e.field, "blobs");
        for (storage, field) in [
            (
                StorageSection {
                    blobs: Some("s3:evidence".into()),
                    ..StorageSection::default()
                },
                "blobs",
            ),
            (
                StorageSection {
                    log: Some("s3://".into()),
                    ..StorageSection::default()
                },
                "log",
            ),
        ] {
            let e = parse(storage).expect_err("refused");
            assert_eq!(e.field, field, "{e}");
        }
        let key = athar_crypt::Key::random().expect("key");
        let Err(e) = b.with_sealing(Sealing::new(key)).open_blobs() else {
            panic!("opened");
        };
        assert!(e.to_string().contains("not encrypted at rest"), "{e}");
    }

    #[test]
    fn an_encrypted_archive_refuses_a_postgres_catalog() {
        let key = athar_crypt::Key::random().expect("key");
        let b = parse(StorageSection {
            catalog: Some("postgres://athar:hunter2@127.0.0.1:1/evidence".into()),
            ..StorageSection::default()
        })
        .expect("postgres")
        .with_sealing(Sealing::new(key));
        let Err(e) = b.open_catalog(true) else {
            panic!("opened");
        };
        let e = e.to_string();
        assert!(e.contains("[storage] catalog = "), "{e}");
        assert!(e.contains("encrypted"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn an_unreachable_postgres_catalog_is_not_present() {
        // Port 1 on loopback: nothing listens there.
        let b = parse(StorageSection {
            catalog: Some("postgres://athar:hunter2@127.0.0.1:1/evidence?connect_timeout=2".into()),
            ..StorageSection::default()
        })
        .expect("postgres");
        let e = b.check_present().expect_err("unreachable");
        assert_eq!(e.field, "catalog");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
