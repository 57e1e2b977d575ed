//! The custody log's files in an S3 bucket, in the C2SP tlog-tiles layout under the prefix
//! (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), with `signed-size`
//! and `timestamps/…` beside them. Tiles and new files are create-only; the checkpoint and
//! `signed-size` are replaced by a single PUT, which S3 makes visible whole or not at all.

use std::sync::Arc;

use athar_core::log::LogStore;
use athar_core::StoreError;
use futures_util::stream::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::{exists, store_error, S3Options, Shared};

/// The size of the largest checkpoint written (see [`LogStore::signed_size`]).
const SIGNED_SIZE: &str = "signed-size";
/// Tiles written at once.
const WRITE_CONCURRENCY: usize = 8;
/// Files read at once by `read_many`.
const READS_IN_FLIGHT: usize = 32;

/// An object's bytes; None when there is none.
async fn get_opt(store: &AmazonS3, key: &Path, what: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let got = match store.get(key).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error(what, e)),
    };
    match got.bytes().await {
        Ok(b) => Ok(Some(b.to_vec())),
        Err(e) => Err(store_error(what, e)),
    }
}

/// A custody log under one prefix of an S3 bucket.
#[derive(Debug)]
pub struct S3LogStore {
    shared: Arc<Shared>,
}

impl S3LogStore {
    /// Opens the log at `s3://bucket[/prefix]`, reaching the server as the environment says
    /// (see [`crate::S3BlobStore::open`]). Writes nothing; the bucket must exist.
    pub fn open(url: &str) -> Result<S3LogStore, StoreError> {
        S3LogStore::open_from(url, AmazonS3Builder::from_env())
    }

    /// [`S3LogStore::open`] with explicit options instead of the environment.
    pub fn open_with(url: &str, options: &S3Options) -> Result<S3LogStore, StoreError> {
        S3LogStore::open_from(url, options.builder())
    }

    /// Whether a log was made at `url` (its checkpoint is there), writing nothing.
    pub fn present(url: &str) -> Result<bool, StoreError> {
        S3LogStore::open(url)?.present_here()
    }

    /// [`S3LogStore::present`] with explicit options.
    pub fn present_with(url: &str, options: &S3Options) -> Result<bool, StoreError> {
        S3LogStore::open_with(url, options)?.present_here()
    }

    fn open_from(url: &str, builder: AmazonS3Builder) -> Result<S3LogStore, StoreError> {
        Ok(S3LogStore {
            shared: Arc::new(Shared::connect(url, builder)?),
        })
    }

    fn present_here(&self) -> Result<bool, StoreError> {
        let (store, key, what) = self.object("checkpoint")?;
        self.shared
            .run(async move { exists(store.as_ref(), &key, &what).await })
    }

    /// The client, key and display name of a log path (checked: plain relative segments).
    fn object(&self, rel: &str) -> Result<(Arc<AmazonS3>, Path, String), StoreError> {
        let plain = !rel.is_empty()
            && rel
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'));
        if !plain {
            return Err(StoreError::Corrupt(format!("not a log path: {rel:?}")));
        }
        let key = self.shared.key(rel)?;
        let what = self.shared.display(&key);
        Ok((self.shared.store.clone(), key, what))
    }

    /// Writes a file unless one is there: true when written. A server that honours
    /// `If-None-Match` also refuses a racing writer.
    async fn create(
        store: &AmazonS3,
        key: &Path,
        bytes: Vec<u8>,
        what: &str,
    ) -> Result<bool, StoreError> {
        if exists(store, key, what).await? {
            return Ok(false);
        }
        let opts = PutOptions::from(PutMode::Create);
        match store.put_opts(key, PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(store_error(what, e)),
        }
    }

    /// Replaces a file in one PUT.
    fn replace(&self, rel: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let (store, key, what) = self.object(rel)?;
        self.shared.run(async move {
            store
                .put(&key, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| store_error(&what, e))
        })
    }

    /// Every key under `rel/`, relative to the prefix.
    fn list_under(&self, rel: &str) -> Result<Vec<String>, StoreError> {
        let (store, key, what) = self.object(rel)?;
        let listed = self.shared.run(async move {
            let listed: Vec<_> = store.list(Some(&key)).collect().await;
            listed
                .into_iter()
                .map(|m| m.map(|m| m.location).map_err(|e| store_error(&what, e)))
                .collect::<Result<Vec<Path>, StoreError>>()
        })?;
        Ok(listed
            .iter()
            .filter_map(|k| {
                let k = k.to_string();
                self.shared.relative(&k).map(str::to_owned)
            })
            .collect())
    }
}

impl LogStore for S3LogStore {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (store, key, what) = self.object(path)?;
        self.shared
            .run(async move { get_opt(&store, &key, &what).await })
    }

    fn read_many(&self, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut jobs = Vec::with_capacity(paths.len());
        for rel in paths {
            let (_, key, what) = self.object(rel)?;
            jobs.push((key, what));
        }
        let store = self.shared.store.clone();
        let results = self.shared.run(async move {
            Ok(futures_util::stream::iter(jobs)
                .map(|(key, what)| {
                    let store = store.clone();
                    async move { get_opt(&store, &key, &what).await }
                })
                .buffered(READS_IN_FLIGHT)
                .collect::<Vec<_>>()
                .await)
        })?;
        results.into_iter().collect()
    }

    fn write_tiles(&self, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut jobs = Vec::with_capacity(files.len());
        for (rel, bytes) in files {
            let (_, key, what) = self.object(rel)?;
            jobs.push((key, bytes.clone(), what));
        }
        let store = self.shared.store.clone();
        let results = self.shared.run(async move {
            Ok(futures_util::stream::iter(jobs)
                .map(|(key, bytes, what)| {
                    let store = store.clone();
                    async move {
                        S3LogStore::create(&store, &key, bytes, &what)
                            .await
                            .map(|_| ())
                    }
                })
                .buffer_unordered(WRITE_CONCURRENCY)
                .collect::<Vec<_>>()
                .await)
        })?;
        results.into_iter().collect()
    }

    fn write_checkpoint(&self, signed: &[u8]) -> Result<(), StoreError> {
        self.replace("checkpoint", signed.to_vec())
    }

    fn list_tiles(&self) -> Result<Vec<String>, StoreError> {
        let mut out = self.list_under("tile")?;
        out.sort();
        Ok(out)
    }

    fn write_new(&self, path: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let (store, key, what) = self.object(path)?;
        let bytes = bytes.to_vec();
        let task_what = what.clone();
        let written = self
            .shared
            .run(async move { S3LogStore::create(&store, &key, bytes, &task_what).await })?;
        if written {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!("{what} exists already")))
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        let (store, key, what) = self.object(dir)?;
        let listed = self.shared.run(async move {
            store
                .list_with_delimiter(Some(&key))
                .await
                .map_err(|e| store_error(&what, e))
        })?;
        let mut out: Vec<String> = listed
            .common_prefixes
            .iter()
            .chain(listed.objects.iter().map(|m| &m.location))
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn signed_size(&self) -> Result<Option<u64>, StoreError> {
        // Unreadable as a number: unknown, as the filesystem store says.
        Ok(self
            .read(SIGNED_SIZE)?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.trim().parse().ok()))
    }

    fn note_signed_size(&self, size: u64) -> Result<(), StoreError> {
        if self.signed_size()?.is_some_and(|s| s >= size) {
            return Ok(());
        }
        self.replace(SIGNED_SIZE, format!("{size}\n").into_bytes())
    }
}
