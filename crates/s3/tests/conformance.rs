//! The storage conformance suite (`athar_core::conformance`) against a real Garage started
//! on loopback (`athar_s3::garage`), each store under a prefix of its own, and the faults an
//! object store adds: uploads dropped or killed mid-way, blobs written twice, range reads,
//! calls from a tokio runtime's blocking threads.
//!
//! Garage must be installed (`scripts/ensure-deps.sh test`): without it these tests fail.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, Read as _};
use std::process::{Command, Stdio};

use athar_core::conformance;
use athar_core::log::LogStore;
use athar_core::{BlobStore, Sha256, StoreError};
use athar_s3::garage::Garage;
use athar_s3::{S3BlobStore, S3LogStore};
use object_store::{ObjectStore as _, ObjectStoreExt as _};
use sha2::Digest as _;

fn garage() -> Garage {
    Garage::start().unwrap_or_else(|e| panic!("cannot start Garage: {e}"))
}

fn sha(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed ^ (i >> 12) as u8)
        })
        .collect()
}

fn blobs(g: &Garage, prefix: &str) -> S3BlobStore {
    S3BlobStore::open_with(&g.url(prefix), &g.options()).expect("open blob store")
}

/// Writes, syncs and publishes `data` in 1 MiB chunks.
fn store(s: &dyn BlobStore, data: &[u8]) -> Sha256 {
    let mut w = s.writer(data.len() as u64).unwrap();
    let mut buf = Vec::new();
    for part in data.chunks(1 << 20) {
        buf.clear();
        buf.extend_from_slice(part);
        buf = w.write_chunk(buf).unwrap();
    }
    let mut p = vec![w.finish(sha(data)).unwrap()];
    s.sync(&mut p).unwrap();
    s.publish(p).unwrap();
    sha(data)
}

fn read_all(r: &mut dyn std::io::Read) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

/// Every object name under `prefix/` in the test bucket, read with a client of the test's own.
fn raw_keys(g: &Garage, prefix: &str) -> Vec<String> {
    let client = raw_client(g);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use futures_util::StreamExt as _;
        let prefix = object_store::path::Path::from(prefix);
        let listed: Vec<_> = client.list(Some(&prefix)).collect().await;
        let mut keys: Vec<String> = listed
            .into_iter()
            .map(|m| m.unwrap().location.to_string())
            .collect();
        keys.sort();
        keys
    })
}

#[test]
fn s3_blob_store_conforms() {
    let g = garage();
    let mut n = 0;
    conformance::blob_store(&mut || {
        n += 1;
        Box::new(blobs(&g, &format!("conformance/blobs-{n}")))
    });
    // Every small blob staged, as when the memory for held ones runs out.
    conformance::blob_store(&mut || {
        n += 1;
        Box::new(blobs(&g, &format!("conformance/staged-{n}")).hold_at_most(0))
    });
}

#[test]
fn s3_log_store_conforms() {
    let g = garage();
    let mut n = 0;
    conformance::log_store(&mut || {
        n += 1;
        Box::new(
            S3LogStore::open_with(&g.url(&format!("conformance/log-{n}")), &g.options())
                .expect("open log store"),
        )
    });
}

#[test]
fn s3_stores_faults_and_edges() {
    let mut g = garage();
    // Each check on a store of its own; one server for all (each start takes seconds).
    dropped_uploads_leave_nothing_visible(&g);
    existing_blob_is_not_overwritten(&g);
    small_blobs_are_held_until_published(&g);
    wrong_digest_is_refused_and_nothing_kept(&g);
    range_reads(&g);
    stores_work_from_a_tokio_runtime(&g);
    presence_and_locations(&g);
    log_paths_are_checked(&g);
    adopting_a_local_file_checks_its_bytes(&g);
    readers_and_writers_outlive_their_store(&g);
    server_restarted_mid_upload(&mut g);
    killed_mid_multipart_leaves_nothing_visible(&g);
}

fn dropped_uploads_leave_nothing_visible(g: &Garage) {
    let s = blobs(g, "faults/dropped");
    // Streaming (three parts sent), then dropped.
    let data = bytes(30 << 20, 1);
    let mut w = s.writer(data.len() as u64).unwrap();
    let mut buf = Vec::new();
    for part in data[..(26 << 20)].chunks(1 << 20) {
        buf.clear();
        buf.extend_from_slice(part);
        buf = w.write_chunk(buf).unwrap();
    }
    drop(w);
    // Buffered only, then dropped.
    let small = bytes(1000, 2);
    let mut w = s.writer(1000).unwrap();
    w.write_chunk(small.clone()).unwrap();
    drop(w);
    for d in [&data, &small] {
        assert!(!s.contains(&sha(d)).unwrap());
    }
    let l = s.list().unwrap();
    assert!(l.blobs.is_empty() && l.strays.is_empty(), "{l:?}");
    assert_eq!(s.clear_temporary().unwrap(), 0, "nothing was left staged");
    assert_eq!(
        raw_keys(g, "faults/dropped"),
        vec!["faults/dropped/athar-blobs"]
    );
    // The dropped writer aborted its multipart upload: none is left for the server to hold.
    assert!(incomplete_uploads_aborted(g).contains("no uploads deleted"));
}

/// Aborts the bucket's incomplete multipart uploads; garage's report.
fn incomplete_uploads_aborted(g: &Garage) -> String {
    g.cli(&[
        "bucket",
        "cleanup-incomplete-uploads",
        "--older-than",
        "0s",
        athar_s3::garage::BUCKET,
    ])
    .unwrap()
}

fn existing_blob_is_not_overwritten(g: &Garage) {
    let s = blobs(g, "faults/twice");
    let small = bytes(5000, 3);
    let large = bytes(17 << 20, 4);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = raw_client(g);
    let head = |sha: &Sha256| {
        let hex = sha.to_hex();
        let key =
            object_store::path::Path::from(format!("faults/twice/sha256/{}/{hex}", &hex[..2]));
        let m = rt.block_on(client.head(&key)).unwrap();
        (m.last_modified, m.e_tag, m.size)
    };
    for d in [&small, &large] {
        let sha = store(&s, d);
        let before = head(&sha);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        // Again, and twice in one batch: the stored object is left as it was.
        store(&s, d);
        let mut w1 = s.writer(0).unwrap();
        w1.write_chunk(d.clone()).unwrap();
        let mut w2 = s.writer(0).unwrap();
        w2.write_chunk(d.clone()).unwrap();
        let mut p = vec![w1.finish(sha).unwrap(), w2.finish(sha).unwrap()];
        s.sync(&mut p).unwrap();
        s.publish(p).unwrap();
        assert_eq!(head(&sha), before, "the stored blob was written again");
        assert!(read_all(&mut s.open(&sha).unwrap()) == *d);
    }
    assert_eq!(s.clear_temporary().unwrap(), 0);
    assert_eq!(s.list().unwrap().blobs.len(), 2);
}

/// A small blob is written nowhere until it is published, and then only under its name, in
/// one PUT; past the store's memory budget small blobs are staged, and the budget comes back
/// as held blobs are published or dropped.
fn small_blobs_are_held_until_published(g: &Garage) {
    let prefix = "faults/held";
    let s = blobs(g, prefix).hold_at_most(10 << 10);
    let data: Vec<Vec<u8>> = (0..4).map(|i| bytes(5000, 40 + i)).collect();
    let finish = |d: &Vec<u8>| {
        let mut w = s.writer(d.len() as u64).unwrap();
        w.write_chunk(d.clone()).unwrap();
        w.finish(sha(d)).unwrap()
    };
    // Two fit the 10 KiB (5 KiB each); the third is staged.
    let mut p: Vec<_> = data[..3].iter().map(finish).collect();
    s.sync(&mut p).unwrap();
    let keys = raw_keys(g, prefix);
    assert_eq!(keys.len(), 2, "the marker and one staged blob: {keys:?}");
    assert!(keys[1].starts_with(&format!("{prefix}/tmp/")), "{keys:?}");
    for d in &data[..3] {
        assert!(!s.contains(&sha(d)).unwrap(), "visible before publishing");
    }
    s.publish(p).unwrap();
    // Published: each under its name and nothing staged.
    let keys = raw_keys(g, prefix);
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains("/tmp/")), "{keys:?}");
    for d in &data[..3] {
        assert!(read_all(&mut s.open(&sha(d)).unwrap()) == *d);
    }
    // The budget came back: two held blobs dropped, then two more held (nothing staged).
    let dropped: Vec<_> = data[..2].iter().map(finish).collect();
    drop(dropped);
    let mut p = vec![finish(&data[3])];
    let again = {
        let mut w = s.writer(0).unwrap();
        w.write_chunk(data[0].clone()).unwrap();
        w.finish(sha(&data[0])).unwrap()
    };
    p.push(again);
    s.sync(&mut p).unwrap();
    assert_eq!(raw_keys(g, prefix).len(), 4, "nothing staged");
    s.publish(p).unwrap();
    assert!(read_all(&mut s.open(&sha(&data[3])).unwrap()) == data[3]);
    assert_eq!(s.list().unwrap().blobs.len(), 4);
    assert_eq!(s.clear_temporary().unwrap(), 0);
}

fn raw_client(g: &Garage) -> object_store::aws::AmazonS3 {
    let o = g.options();
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(o.endpoint.unwrap())
        .with_region(o.region.unwrap())
        .with_access_key_id(o.access_key_id.unwrap())
        .with_secret_access_key(o.secret_access_key.unwrap())
        .with_allow_http(true)
        .with_bucket_name(athar_s3::garage::BUCKET)
        .build()
        .unwrap()
}

fn wrong_digest_is_refused_and_nothing_kept(g: &Garage) {
    let s = blobs(g, "faults/wrong");
    let claimed = sha(b"what the caller says");
    for data in [bytes(100, 5), bytes(9 << 20, 6)] {
        let mut w = s.writer(data.len() as u64).unwrap();
        let mut buf = Vec::new();
        for part in data.chunks(1 << 20) {
            buf.clear();
            buf.extend_from_slice(part);
            buf = w.write_chunk(buf).unwrap();
        }
        let e = w.finish(claimed).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    }
    assert!(!s.contains(&claimed).unwrap());
    assert_eq!(
        s.clear_temporary().unwrap(),
        0,
        "the refused bytes were removed"
    );
    assert_eq!(
        raw_keys(g, "faults/wrong"),
        vec!["faults/wrong/athar-blobs"]
    );
}

fn range_reads(g: &Garage) {
    let s = blobs(g, "faults/range");
    for data in [bytes(10_000, 7), bytes(9 << 20, 8)] {
        let sha = store(&s, &data);
        let len = data.len() as u64;
        for offset in [0, 1, 4095, len / 2, len - 1] {
            let got = read_all(&mut s.open_at(&sha, offset).unwrap());
            assert!(got == data[offset as usize..], "offset {offset}");
        }
        assert!(read_all(&mut s.open_at(&sha, len).unwrap()).is_empty());
        assert!(matches!(
            s.open_at(&sha, len + 1).map(|_| ()),
            Err(StoreError::Corrupt(_))
        ));
        // A reader dropped half-way lets the store go on.
        let mut r = s.open(&sha).unwrap();
        let mut first = [0u8; 10];
        r.read_exact(&mut first).unwrap();
        drop(r);
        assert_eq!(s.size(&sha).unwrap(), len);
    }
    assert!(matches!(
        s.open_at(&sha(b"absent"), 3).map(|_| ()),
        Err(StoreError::NotFound(_))
    ));
}

fn stores_work_from_a_tokio_runtime(g: &Garage) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = g.url("faults/tokio");
    let options = g.options();
    let data = bytes(10 << 20, 9);
    rt.block_on(async move {
        // As the server does: storage calls on blocking threads.
        let s = std::sync::Arc::new(
            tokio::task::spawn_blocking(move || S3BlobStore::open_with(&url, &options))
                .await
                .unwrap()
                .unwrap(),
        );
        let (s2, d2) = (s.clone(), data.clone());
        let sha = tokio::task::spawn_blocking(move || store(s2.as_ref(), &d2))
            .await
            .unwrap();
        let s3 = s.clone();
        let back = tokio::task::spawn_blocking(move || read_all(&mut s3.open(&sha).unwrap()))
            .await
            .unwrap();
        assert!(back == data);
        // Even straight from async code (blocking that worker, as any synchronous I/O).
        assert!(s.contains(&sha).unwrap());
        // And dropped in async code.
        drop(s);
    });
}

fn presence_and_locations(g: &Garage) {
    let o = g.options();
    assert!(!S3BlobStore::present_with(&g.url("faults/presence"), &o).unwrap());
    let s = blobs(g, "faults/presence");
    assert_eq!(s.location(), "s3://athar-test/faults/presence");
    assert!(S3BlobStore::present_with(&g.url("faults/presence"), &o).unwrap());
    let log_url = g.url("faults/presence-log");
    assert!(!S3LogStore::present_with(&log_url, &o).unwrap());
    let log = S3LogStore::open_with(&log_url, &o).unwrap();
    log.write_checkpoint(b"origin\n0\nAAAA\n").unwrap();
    assert!(S3LogStore::present_with(&log_url, &o).unwrap());
    // A bucket that does not exist: opening says so.
    assert!(S3BlobStore::open_with("s3://no-such-bucket/x", &o).is_err());
    // Wrong credentials: refused, and the secret is not in the message.
    let wrong = athar_s3::S3Options {
        secret_access_key: Some("0123456789abcdef-not-the-secret".into()),
        ..o.clone()
    };
    let e = S3BlobStore::open_with(&g.url("faults/presence"), &wrong).unwrap_err();
    assert!(!e.to_string().contains("not-the-secret"), "{e}");
    assert!(
        !e.to_string()
            .contains(o.secret_access_key.as_deref().unwrap()),
        "{e}"
    );
}

fn log_paths_are_checked(g: &Garage) {
    let log = S3LogStore::open_with(&g.url("faults/paths"), &g.options()).unwrap();
    for bad in [
        "",
        "/checkpoint",
        "tile//0",
        "../escape",
        "tile/../../x",
        "a/./b",
    ] {
        assert!(log.read(bad).is_err(), "{bad:?}");
        assert!(log.write_new(bad, b"x").is_err(), "{bad:?}");
    }
    assert!(raw_keys(g, "faults").iter().all(|k| !k.contains("escape")));
}

fn adopting_a_local_file_checks_its_bytes(g: &Garage) {
    let s = blobs(g, "faults/adopt");
    let dir = tempfile::tempdir().unwrap();
    let data = bytes(3_000_000, 10);
    let path = dir.path().join("upload.part");
    std::fs::write(&path, &data).unwrap();
    let mut p = vec![s.adopt_local(&path, sha(&data), data.len() as u64).unwrap()];
    s.sync(&mut p).unwrap();
    s.publish(p).unwrap();
    assert!(read_all(&mut s.open(&sha(&data)).unwrap()) == data);
    let e = s
        .adopt_local(&path, sha(b"other"), data.len() as u64)
        .unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    assert_eq!(s.clear_temporary().unwrap(), 0);
}

fn readers_and_writers_outlive_their_store(g: &Garage) {
    let s = blobs(g, "faults/outlive");
    let data = bytes(9 << 20, 12);
    let sha = store(&s, &data);
    let mut reader = s.open(&sha).unwrap();
    let mut writer = s.writer(0).unwrap();
    for _ in 0..10 {
        writer.write_chunk(vec![7u8; 1 << 20]).unwrap();
    }
    drop(s);
    assert!(read_all(&mut reader) == data);
    // Dropped unfinished after its store: the upload is aborted, nothing is left.
    drop(writer);
    assert!(incomplete_uploads_aborted(g).contains("no uploads deleted"));
}

/// Garage killed while a blob streams, and started again a second later: the blob is either
/// stored whole (the client's retries outlasted the outage) or refused, and never visible
/// half-written.
fn server_restarted_mid_upload(g: &mut Garage) {
    let s = blobs(g, "faults/restart");
    let data = bytes(24 << 20, 13);
    let mut w = s.writer(data.len() as u64).unwrap();
    let (head, tail) = data.split_at(12 << 20);
    let mut buf = Vec::new();
    for part in head.chunks(1 << 20) {
        buf.clear();
        buf.extend_from_slice(part);
        buf = w.write_chunk(buf).unwrap();
    }
    g.kill();
    let finished = std::thread::scope(|scope| {
        let restart = scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            g.restart()
        });
        let finished = (|| {
            let mut buf = Vec::new();
            for part in tail.chunks(1 << 20) {
                buf.clear();
                buf.extend_from_slice(part);
                buf = w.write_chunk(buf)?;
            }
            w.finish(sha(&data))
        })();
        restart.join().unwrap().unwrap();
        finished
    });
    match finished {
        Ok(p) => {
            let mut p = vec![p];
            s.sync(&mut p).unwrap();
            s.publish(p).unwrap();
            assert!(read_all(&mut s.open(&sha(&data)).unwrap()) == data);
        }
        Err(e) => {
            eprintln!("upload refused across the restart: {e}");
            assert!(!s.contains(&sha(&data)).unwrap());
        }
    }
    let l = s.list().unwrap();
    assert!(l.strays.is_empty() && l.blobs.len() <= 1, "{l:?}");
    // The store goes on working after the restart.
    let small = bytes(777, 14);
    let sha_small = store(&s, &small);
    assert_eq!(read_all(&mut s.open(&sha_small).unwrap()), small);
}

/// The child's blob: larger than the parts it sends before it is killed.
const CHILD_BYTES: usize = 200 << 20;

fn killed_mid_multipart_leaves_nothing_visible(g: &Garage) {
    let url = g.url("faults/killed");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_uploads_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("ATHAR_S3_CHILD_URL", &url)
        .envs(g.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    let mut started = false;
    for line in lines.by_ref() {
        if line.unwrap().contains("UPLOADING") {
            started = true;
            break;
        }
    }
    assert!(started, "the child never got to upload");
    // Parts are on their way: kill it mid-multipart.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let s = S3BlobStore::open_with(&url, &g.options()).unwrap();
    let l = s.list().unwrap();
    assert!(l.blobs.is_empty() && l.strays.is_empty(), "{l:?}");
    assert!(!s.contains(&sha(&bytes(CHILD_BYTES, 11))).unwrap());
    // Nothing under a blob's name nor staged: the upload was never completed.
    assert_eq!(
        raw_keys(g, "faults/killed"),
        vec!["faults/killed/athar-blobs"]
    );
    // It was killed mid-multipart: its upload is left for the bucket's clean-up.
    let report = incomplete_uploads_aborted(g);
    assert!(!report.contains("no uploads deleted"), "{report}");
}

/// Run as a child by `killed_mid_multipart_leaves_nothing_visible`: opens the store from the
/// environment (as the binary does) and uploads until it is killed.
#[test]
#[ignore = "run as a child process by s3_stores_faults_and_edges"]
fn child_uploads_until_killed() {
    let Ok(url) = std::env::var("ATHAR_S3_CHILD_URL") else {
        return;
    };
    let s = S3BlobStore::open(&url).expect("open from the environment");
    let data = bytes(CHILD_BYTES, 11);
    let mut w = s.writer(data.len() as u64).unwrap();
    let mut buf = Vec::new();
    for (i, part) in data.chunks(1 << 20).enumerate() {
        buf.clear();
        buf.extend_from_slice(part);
        buf = w.write_chunk(buf).unwrap();
        if i == 20 {
            println!("UPLOADING");
        }
    }
    // Killed before this; never finished.
    std::thread::sleep(std::time::Duration::from_secs(600));
}
