//! Turns at the writer lock for processes that share an archive (`Access::Shared`: `athar
//! worker`, and `athar serve` over a PostgreSQL catalog), on the embedded backends. Its own
//! test binary: it sets this process's lock wait.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use athar_store::Archive;
use support::Env;

/// Processes that open an archive `Shared` (workers) write in turns: a turn holds the lock
/// file, so a second process waits (and gives up at its limit); a turn taken while one is
/// held shares it; the first write of a turn logs what a process that died left unlogged;
/// and opening shared frees no one's running job.
#[test]
fn shared_openings_write_in_turns() {
    let mut env = Env::new();
    let item = env.record_unlogged("a.txt", b"left unlogged by a process that died\n");
    athar_core::jobs::enqueue_for(env.archive.catalog.as_mut(), std::slice::from_ref(&item))
        .unwrap();
    let held = env.archive.catalog.claim_job(3).unwrap().expect("a job");
    let Env { dir, archive } = env;
    let root = archive.root.clone();
    drop(archive);

    athar_store::set_lock_wait(athar_store::LockWait {
        limit: std::time::Duration::from_millis(300),
        notify: |_, _| {},
    });
    let mut first = Archive::open(&root, athar_store::Access::Shared).unwrap();
    let second = Archive::open(&root, athar_store::Access::Shared).unwrap();
    assert_eq!(first.access(), athar_store::Access::Shared);
    // The job another process holds is still held.
    assert_eq!(first.catalog.claim_job(3).unwrap(), None, "{held:?}");

    let turn = first.turn().unwrap();
    match second.turn() {
        Err(athar_store::ArchiveError::Busy { .. }) => {}
        other => panic!("a second process took a turn while one was held: {other:?}"),
    }
    // The writer within the held turn shares it, and logs the event left behind first.
    let w = first.writer().unwrap();
    assert_eq!(w.logger.log.size(), 1);
    drop(w);
    drop(turn);
    assert!(first.catalog.unlogged().unwrap().is_empty());
    // Free again: the other process's turn.
    drop(second.turn().unwrap());
    drop(dir);
}
