//! Blobs and the custody log in any S3-compatible object store (Garage, MinIO, Ceph, AWS
//! S3): [`S3BlobStore`] implements [`athar_core::BlobStore`], [`S3LogStore`] implements
//! [`athar_core::log::LogStore`]; both pass `athar_core::conformance` unchanged.
//!
//! **Where.** A location is `s3://<bucket>[/<prefix>]`. The endpoint, region and
//! credentials come from the environment as the `object_store` crate reads them
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint such as a loopback
//! Garage, `AWS_CHECKSUM_ALGORITHM=SHA256` to have the server check every request's bytes,
//! `AWS_COPY_IF_NOT_EXISTS` for servers with a create-only copy), or from an explicit
//! [`S3Options`]. Paths are always path-style unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST` says
//! otherwise. Secrets are never printed: no `Debug` or error message here holds one.
//!
//! **Layout** under the prefix. Blobs: `sha256/<h0h1>/<64 hex>` (as the filesystem store),
//! blobs being written under `tmp/<session>-<n>.part`, and the marker `athar-blobs` that
//! [`S3BlobStore::present`] looks for. The log: the C2SP tlog-tiles layout
//! (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), with `signed-size`
//! and `timestamps/…` beside it, so the prefix can be published as is to tlog-tiles clients.
//!
//! **How a blob is written.** The bytes are buffered up to one part (8 MiB), and the writer
//! hashes what it keeps itself: `finish` refuses a blob whose SHA-256 is not the caller's
//! digest. A blob no longer than one part is kept in memory (up to 256 MiB of them per
//! store) and `publish` PUTs it under its final name: one request, made only after the
//! catalog has recorded the intent, and an S3 PUT appears whole or not at all. Past that
//! budget a small blob is PUT to a staged name when the writer finishes, in the background
//! (up to 16 at once), and [`athar_core::BlobStore::sync`] waits for those PUTs. A longer
//! one streams as an S3 multipart upload to a staged name from a thread of its own (up to
//! four parts in flight), overlapping the caller's reading and hashing, and is complete
//! when `finish` returns; a staged object whose SHA-256 is not the caller's digest is
//! deleted. An unfinished multipart upload is invisible in S3, and a dropped writer aborts
//! its upload. Nothing is ever written under a blob's final name but by `publish`, which
//! PUTs a held blob's bytes or server-side copies the complete, verified staged object
//! there (a copy appears whole or not at all) and then deletes the staged objects in bulk.
//! A blob already stored under its digest is kept (a HEAD first, then a create-only
//! write): published names are never written again. A small blob thus costs the server a
//! HEAD and a PUT; a staged one a PUT, a HEAD, a copy and a share of a bulk delete.
//!
//! **The log.** Tiles, entry bundles and `write_new` files are create-only; the checkpoint
//! and `signed-size` are replaced by one PUT each (atomic in S3). Every PUT is durable when
//! it returns, so `sync` has nothing left to do.
//!
//! **Async inside.** `object_store` is async; each store owns a private multi-threaded
//! tokio runtime (two workers). Every call spawns its work there and parks the calling
//! thread until it is done, so the stores can be called from any thread: plain threads, a
//! tokio `spawn_blocking` thread (as the server does), even a runtime's own thread (which it
//! then blocks, as any synchronous I/O would). Dropping a store from async code is fine too.
//!
//! **Limits.**
//! - Create-only writes rely on the server: tiles and `write_new` use a conditional PUT
//!   (`If-None-Match: *`) after a HEAD, and `publish` a create-only copy when
//!   `AWS_COPY_IF_NOT_EXISTS` names one, after a HEAD. Servers that ignore `If-None-Match`
//!   (Garage 2.x does) are protected by the HEAD alone, which is enough with one log
//!   appender (the custody log is appended by one process at a time) and for blobs, whose
//!   name is the SHA-256 of bytes checked before publishing: two racing writers can only
//!   write the same bytes.
//! - A process killed mid-upload leaves an incomplete multipart upload (invisible, but
//!   holding storage) or a staged `tmp/` object.
//!   [`athar_core::BlobStore::clear_temporary`] removes staged objects of this store's own
//!   session and those of others older than a day (other processes may share the bucket);
//!   incomplete uploads are the bucket's lifecycle rule's to abort
//!   (`AbortIncompleteMultipartUpload`; on Garage, `garage bucket
//!   cleanup-incomplete-uploads`).
//! - Publishing is a server-side copy. AWS S3 copies at most 5 GiB in one CopyObject, so
//!   there larger blobs cannot be published; Garage copies by reference, without a limit.
//! - There is no local path for a blob ([`athar_core::BlobStore::local_path`] is None):
//!   tools that need a file get a temporary copy (`athar_core::LocalBlob`).
//!
//! Must not decide what ingest or verification mean, know the catalog, HTTP or the CLI.

#![forbid(unsafe_code)]

mod blobs;
#[cfg(feature = "test-server")]
pub mod garage;
mod log;
mod runtime;

use std::fmt;
use std::sync::Arc;

use athar_core::StoreError;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::ObjectStoreExt;

pub use blobs::S3BlobStore;
pub use log::S3LogStore;

use runtime::Runtime;

/// How to reach the object store when not from the environment (tests, tools).
#[derive(Clone, Default)]
pub struct S3Options {
    /// The endpoint, e.g. `http://127.0.0.1:3900`; None for AWS S3.
    pub endpoint: Option<String>,
    /// The region (Garage's default is `garage`); None for `us-east-1`.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allows a plain-HTTP endpoint (loopback test servers).
    pub allow_http: bool,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "(hidden)"),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Options {
    fn builder(&self) -> AmazonS3Builder {
        let mut b = AmazonS3Builder::new();
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &self.region {
            b = b.with_region(r);
        }
        if let Some(k) = &self.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &self.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        b.with_allow_http(self.allow_http)
    }
}

/// `s3://bucket[/prefix]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    bucket: String,
    /// Without leading or trailing slashes; empty for the bucket's top.
    prefix: String,
}

impl Location {
    fn parse(url: &str) -> Result<Location, StoreError> {
        let bad = |why: &str| {
            StoreError::io(
                url,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{why} (expected s3://<bucket>[/<prefix>])"),
                ),
            )
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("not an s3:// address"))?;
        if rest.contains(['?', '#', '@', '\\']) || rest.chars().any(char::is_control) {
            return Err(bad(
                "query strings, credentials and odd characters are not allowed",
            ));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(bad("not a valid bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() && Path::parse(prefix).is_err() {
            return Err(bad("not a valid prefix"));
        }
        Ok(Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// Checks that `url` is a location the stores accept (`s3://<bucket>[/<prefix>]`, no
/// credentials or query in it) without reaching the server: for configuration checks.
pub fn check_location(url: &str) -> Result<(), String> {
    Location::parse(url).map(|_| ()).map_err(|e| match e {
        StoreError::Io { source, .. } => source.to_string(),
        e => e.to_string(),
    })
}

/// What a blob store and a log store share: the client, its runtime, the location.
struct Shared {
    runtime: Runtime,
    store: Arc<AmazonS3>,
    location: Location,
    /// Whether the server was configured with a create-only copy (`AWS_COPY_IF_NOT_EXISTS`).
    copy_create: bool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the client: its configuration holds the credentials.
        f.debug_struct("S3")
            .field("bucket", &self.location.bucket)
            .field("prefix", &self.location.prefix)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn connect(url: &str, builder: AmazonS3Builder) -> Result<Shared, StoreError> {
        let location = Location::parse(url)?;
        let copy_create = builder
            .get_config_value(&AmazonS3ConfigKey::CopyIfNotExists)
            .is_some();
        let store = builder
            .with_bucket_name(&location.bucket)
            .build()
            .map_err(|e| StoreError::io(url, std::io::Error::other(e.to_string())))?;
        Ok(Shared {
            runtime: Runtime::new()?,
            store: Arc::new(store),
            location,
            copy_create,
        })
    }

    /// The object key of `rel` (a path relative to the prefix, already checked).
    fn key(&self, rel: &str) -> Result<Path, StoreError> {
        let full = if self.location.prefix.is_empty() {
            rel.to_owned()
        } else if rel.is_empty() {
            self.location.prefix.clone()
        } else {
            format!("{}/{rel}", self.location.prefix)
        };
        Path::parse(&full).map_err(|e| StoreError::Corrupt(format!("not an object name: {e}")))
    }

    /// `rel` with the prefix taken off a key listed under it.
    fn relative<'a>(&self, key: &'a str) -> Option<&'a str> {
        if self.location.prefix.is_empty() {
            return Some(key);
        }
        key.strip_prefix(self.location.prefix.as_str())?
            .strip_prefix('/')
    }

    /// `s3://bucket/key`, for messages.
    fn display(&self, key: &Path) -> String {
        format!("s3://{}/{key}", self.location.bucket)
    }

    /// Runs `fut` on the store's runtime and waits for it.
    fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.runtime.run(fut)
    }
}

/// An `object_store` error as a store error: "not found" stays distinct.
fn store_error(what: &str, e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound(what.to_owned()),
        e => StoreError::io(what, std::io::Error::other(e.to_string())),
    }
}

/// A fresh random hex string of `n` bytes.
fn random_hex(n: usize) -> Result<String, StoreError> {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).map_err(|e| {
        StoreError::io(
            "random number generator",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(hex::encode(b))
}

/// Whether an object exists (HEAD).
async fn exists(store: &AmazonS3, key: &Path, what: &str) -> Result<bool, StoreError> {
    match store.head(key).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(store_error(what, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_are_refused() {
        let ok = |u: &str, b: &str, p: &str| {
            assert_eq!(
                Location::parse(u).ok(),
                Some(Location {
                    bucket: b.into(),
                    prefix: p.into()
                }),
                "{u}"
            );
        };
        ok("s3://evidence", "evidence", "");
        ok("s3://evidence/", "evidence", "");
        ok("s3://evidence/archive/blobs/", "evidence", "archive/blobs");
        for bad in [
            "evidence",
            "s3:evidence",
            "file://evidence",
            "s3://",
            "s3://ab",
            "s3://Evidence",
            "s3://key:secret@evidence/x",
            "s3://evidence/x?endpoint=y",
            "s3://evidence/a//b",
            "s3://evidence/a/../b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
            assert!(check_location(bad).is_err(), "{bad}");
        }
        assert_eq!(check_location("s3://evidence/a"), Ok(()));
        assert_eq!(
            check_location("s3:evidence"),
            Err("not an s3:// address (expected s3://<bucket>[/<prefix>])".to_owned())
        );
    }

    #[test]
    fn options_never_show_the_secret() {
        let o = S3Options {
            secret_access_key: Some("very-secret".into()),
            ..S3Options::default()
        };
        assert!(!format!("{o:?}").contains("very-secret"));
    }
}
