//! The storage conformance suite (`athar_core::conformance`) run against the embedded
//! backends: SQLite catalog and accounts, filesystem blob store, filesystem log store. A future
//! backend crate runs the same four functions against its own implementations.

use athar_core::conformance;
use athar_store::{FsBlobStore, FsLogStore, SqliteCatalog};

#[test]
fn sqlite_catalog_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    conformance::catalog(&mut || {
        n += 1;
        let path = dir.path().join(format!("catalog-{n}.sqlite"));
        Box::new(SqliteCatalog::open(&path, true).expect("open catalog"))
    });
}

#[test]
fn sqlite_accounts_conform() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    conformance::accounts(&mut || {
        n += 1;
        let path = dir.path().join(format!("accounts-{n}.sqlite"));
        Box::new(SqliteCatalog::open(&path, true).expect("open catalog"))
    });
}

#[test]
fn fs_blob_store_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    conformance::blob_store(&mut || {
        n += 1;
        let root = dir.path().join(format!("blobs-{n}"));
        Box::new(FsBlobStore::open(&root).expect("open blob store"))
    });
}

#[test]
fn sealed_fs_blob_store_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = athar_crypt::Key::random().expect("key");
    let mut n = 0;
    conformance::blob_store(&mut || {
        n += 1;
        let root = dir.path().join(format!("sealed-{n}"));
        let sealing = athar_store::sealed::Sealing::new(key.clone());
        Box::new(FsBlobStore::open_sealed(&root, sealing).expect("open sealed blob store"))
    });
}

#[test]
fn encrypted_catalog_conforms_and_refuses_another_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = athar_crypt::Key::random().expect("key");
    let mut n = 0;
    conformance::catalog(&mut || {
        n += 1;
        let path = dir.path().join(format!("sealed-{n}.sqlite"));
        Box::new(SqliteCatalog::open_keyed(&path, true, Some(&key)).expect("open catalog"))
    });
    let path = dir.path().join("sealed-1.sqlite");
    let other = athar_crypt::Key::random().expect("key");
    let Err(err) = SqliteCatalog::open_keyed(&path, true, Some(&other)) else {
        panic!("another key is accepted");
    };
    assert!(
        err.to_string()
            .contains("cannot be read with this archive's key"),
        "{err}"
    );
    assert!(
        SqliteCatalog::open(&path, false).is_err(),
        "opened without a key"
    );
    let head = std::fs::read(&path).expect("read");
    assert!(!head.starts_with(b"SQLite format 3"));
}

#[test]
fn fs_log_store_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    conformance::log_store(&mut || {
        n += 1;
        let root = dir.path().join(format!("log-{n}"));
        Box::new(FsLogStore::open(&root).expect("open log store"))
    });
}
