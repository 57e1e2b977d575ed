//! PostgreSQL or Garage going away in the middle of an ingest into the scale-out backends
//! (catalog in PostgreSQL, blobs and log in a Garage the test starts). The catalog is
//! reached through a loopback relay the test cuts — every connection dropped and new ones
//! refused, as when the server stops — and then opens again: the ingest fails naming the
//! catalog. Garage is killed and started again. Either way every item the ingest
//! acknowledged is there afterwards and `verify` passes (nothing half-written is visible);
//! an ingest of the same folder then takes in the rest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use athar_s3::garage::Garage;
use common::Env;

/// A TCP relay from a loopback port to PostgreSQL that can be cut and opened again.
struct Relay {
    port: u16,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (o, c, target) = (open.clone(), conns.clone(), target.to_owned());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !o.load(Ordering::SeqCst) {
                    // Refused, as by a stopped server.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut list = c.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, open, conns }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Starts an ingest of `env`'s `files` folder, runs `outage` 0.7 s in (hundreds of files are
/// still to come) and waits for the ingest: its output and the items it acknowledged.
fn ingest_through(env: &Env, outage: impl FnOnce()) -> (std::process::Output, Vec<String>) {
    let mut ingest = Command::new(common::athar_bin())
        .arg("--archive")
        .arg(&env.archive)
        .args(["ingest", "--json"])
        .arg(env.path("files"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = ingest.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map(Result::unwrap)
            .collect::<Vec<String>>()
    });
    std::thread::sleep(Duration::from_millis(700));
    outage();
    let acknowledged = reader.join().unwrap();
    let out = ingest.wait_with_output().unwrap();
    let ids = acknowledged
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["item"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (out, ids)
}

/// Once the outage is over: every acknowledged item is there and the archive verifies; an
/// ingest of the same folder then takes in the rest (`distinct` files in all).
fn nothing_acknowledged_lost(env: &Env, acknowledged: &[String], distinct: usize) {
    let listed: Vec<String> = common::json_lines(&env.run(&["list", "--json"]).stdout)
        .iter()
        .map(|v| v["item"].as_str().unwrap().to_owned())
        .collect();
    for id in acknowledged {
        assert!(listed.contains(id), "acknowledged item {id} was lost");
    }
    env.assert_verifies();
    let out = env.run(&["ingest", "--json", env.path("files").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = common::json_lines(&env.run(&["list", "--json"]).stdout);
    assert_eq!(listed.len(), distinct);
    env.assert_verifies();
}

/// The distinct files among 600 made in `env`'s `files` folder.
fn make_files(env: &Env, seed: u64) -> usize {
    let files = common::make_files(&env.path("files"), 600, 2048, seed);
    let mut distinct: Vec<String> = files
        .iter()
        .map(|f| common::sha256_hex(&std::fs::read(f).unwrap()))
        .collect();
    distinct.sort();
    distinct.dedup();
    distinct.len()
}

#[test]
fn postgres_or_garage_going_away_mid_ingest_loses_nothing_acknowledged() {
    let mut garage = Garage::start().unwrap_or_else(|e| {
        panic!("no Garage to test against ({e}); scripts/ensure-deps.sh test installs it")
    });
    // The only test in this binary: every athar it runs reaches the store through these.
    for (k, v) in garage.env() {
        std::env::set_var(k, v);
    }
    let schema = common::PgSchema::new("faults");
    // postgres://user@host:port/database, with the relay's port in place of the server's.
    let (head, rest) = schema
        .url
        .split_once('@')
        .expect("user@host in ATHAR_TEST_POSTGRES");
    let (hostport, database) = rest.split_once('/').expect("a database");
    let target = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    let relay = Relay::start(&target);
    let location = format!(
        "{head}@127.0.0.1:{}/{database}?schema={}",
        relay.port, schema.name
    );
    let env = Env::with_init(&[
        "--catalog",
        &location,
        "--blobs",
        &garage.url("faults/blobs"),
        "--log",
        &garage.url("faults/log"),
    ]);
    let distinct = make_files(&env, 20261207);

    // PostgreSQL cut off in the middle: the ingest fails, naming the catalog.
    let (out, acknowledged) = ingest_through(&env, || relay.cut());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the ingest went on without its catalog"
    );
    assert!(
        acknowledged.len() < distinct,
        "everything was acknowledged: {}",
        acknowledged.len()
    );
    assert!(
        err.contains("catalog") || err.contains("PostgreSQL") || err.contains("connect"),
        "the error names the catalog: {err}"
    );
    relay.reopen();
    std::thread::sleep(Duration::from_millis(200));
    nothing_acknowledged_lost(&env, &acknowledged, distinct);

    // Garage killed in the middle and started again two seconds later: the ingest either
    // outlasts the outage (the client retries) or fails naming the store; either way
    // nothing it acknowledged is lost and nothing half-written is visible.
    let schema_s3 = common::PgSchema::new("faults_s3");
    let env = Env::with_init(&[
        "--catalog",
        &schema_s3.location(),
        "--blobs",
        &garage.url("faults-s3/blobs"),
        "--log",
        &garage.url("faults-s3/log"),
    ]);
    let distinct = make_files(&env, 20261208);
    let (out, acknowledged) = ingest_through(&env, || {
        garage.kill();
        std::thread::sleep(Duration::from_secs(2));
        garage.restart().unwrap();
    });
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("s3://") || err.contains("blob") || err.contains("log"),
            "the error names the store: {err}"
        );
    }
    eprintln!(
        "Garage restarted mid-ingest: {} of {distinct} acknowledged, ingest {}: {}",
        acknowledged.len(),
        if out.status.success() {
            "finished"
        } else {
            "failed"
        },
        String::from_utf8_lossy(&out.stderr).trim()
    );
    nothing_acknowledged_lost(&env, &acknowledged, distinct);
}
