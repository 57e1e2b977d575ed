//! The WACZ writer against its own verifier and against the Webrecorder tools it must
//! satisfy: py-wacz's validator, `cdxj-indexer`, the Python `surt` package, pywb's replay,
//! and an independent ECDSA check of the signature (Python `cryptography`).
//!
//! The tools come from the venv `scripts/ensure-deps.sh test` fills (`$ATHAR_TOOLS`,
//! default `~/.local/share/athar/tools`); a test that needs one fails when it is missing.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use athar_capture::exchange::Exchange;
use athar_capture::wacz::{self, Page, WaczError, WaczInput};
use athar_capture::warc;
use base64::Engine as _;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use p384::ecdsa::signature::hazmat::PrehashSigner as _;
use p384::ecdsa::SigningKey;
use p384::pkcs8::EncodePublicKey as _;
use sha2::{Digest, Sha256};

#[path = "support/webrecorder.rs"]
mod webrecorder;
use webrecorder::{run, tool};

const MAIN_URL: &str = "https://www.example.com/report?b=2&a=1";
const MAIN_TS: &str = "2024-05-01T12:00:00.123Z";
const MAIN_TIMESTAMP: &str = "20240501120000";
const PAGE_TEXT: &str = "Witness statement: the ferry left the eastern bank at dawn.";
const NOTES_TEXT: &str = "Field notes: the bridge at the northern ford was intact at noon.";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 48]).expect("a valid P-384 scalar")
}

/// `text` signed as WebCrypto does (ECDSA over SHA-256 of it), raw `r‖s`.
fn sign(key: &SigningKey, text: &str) -> Vec<u8> {
    let sig: p384::ecdsa::Signature = key
        .sign_prehash(&Sha256::digest(text.as_bytes()))
        .expect("sign");
    sig.to_bytes().to_vec()
}

fn spki(key: &SigningKey) -> String {
    wacz::public_key_of(key).expect("spki")
}

fn page_html() -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>River report</title></head>\
         <body><h1>River crossing</h1><p>{PAGE_TEXT}</p><img src=\"/img.png\">\
         <a href=\"/notes.txt\">notes</a></body></html>"
    )
}

/// `body` in chunks of `size` bytes, with the final zero chunk.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

fn get(url: &str, started: &str, status: u16, head: &str, body: Vec<u8>) -> Exchange {
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map_or("/".to_owned(), |p| format!("/{p}"));
    let host = url.split('/').nth(2).unwrap_or("example.com");
    Exchange {
        url: url.to_owned(),
        method: "GET".to_owned(),
        request_head: format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Synthetic\r\nAccept: */*\r\n\r\n"
        )
        .into_bytes(),
        request_body: Vec::new(),
        response_head: head.as_bytes().to_vec(),
        response_body: body,
        status,
        remote_addr: "192.0.2.10:443".parse().ok(),
        started: started.to_owned(),
        truncated: None,
        error: None,
    }
}

/// A chunked HTML page, a gzip-encoded text, an image, a 404, a truncated download, a
/// request that got no answer and a form POST.
fn exchanges() -> Vec<Exchange> {
    let html = page_html();
    let notes = gzip(NOTES_TEXT.as_bytes());
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR synthetic image bytes".to_vec();
    let mut cut = get(
        "https://example.com/video.bin",
        "2024-05-01T12:00:03Z",
        200,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n",
        vec![0x5a; 4096],
    );
    cut.truncated = Some("response larger than the 4096-byte limit".to_owned());
    let mut refused = get(
        "https://unreachable.example/",
        "2024-05-01T12:00:04Z",
        0,
        "",
        Vec::new(),
    );
    refused.error = Some("connection refused".to_owned());
    refused.remote_addr = None;
    let form = b"q=river+crossing&lang=en".to_vec();
    let post = Exchange {
        url: "https://example.com/search".to_owned(),
        method: "POST".to_owned(),
        request_head: format!(
            "POST /search HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            form.len()
        )
        .into_bytes(),
        request_body: form,
        response_head: b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 7\r\n\r\n".to_vec(),
        response_body: b"results".to_vec(),
        status: 200,
        remote_addr: "192.0.2.10:443".parse().ok(),
        started: "2024-05-01T12:00:05Z".to_owned(),
        truncated: None,
        error: None,
    };
    vec![
        get(
            MAIN_URL,
            MAIN_TS,
            200,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunked(html.as_bytes(), 40),
        ),
        get(
            "https://example.com/notes.txt",
            "2024-05-01T12:00:01Z",
            200,
            &format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                notes.len()
            ),
            notes,
        ),
        get(
            "https://example.com/img.png",
            "2024-05-01T12:00:01.5Z",
            200,
            &format!("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n", png.len()),
            png,
        ),
        get(
            "https://example.com/missing",
            "2024-05-01T12:00:02Z",
            404,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\n",
            b"Not found".to_vec(),
        ),
        cut,
        refused,
        post,
    ]
}

/// Writes the synthetic WACZ signed with `signer` into `dir`.
fn build(dir: &Path, signer: &SigningKey) -> PathBuf {
    let exchanges = exchanges();
    let input = WaczInput {
        exchanges: &exchanges,
        pages: vec![Page {
            url: MAIN_URL.to_owned(),
            ts: MAIN_TS.to_owned(),
            title: Some("River report".to_owned()),
            text: Some(format!("River crossing\n{PAGE_TEXT}")),
        }],
        main_page_url: MAIN_URL.to_owned(),
        main_page_date: MAIN_TS.to_owned(),
        title: "Synthetic capture".to_owned(),
        software: "Athar test".to_owned(),
        created: "2024-05-01T12:00:06.250+00:00".to_owned(),
        signing_key: signer,
    };
    let path = dir.join("capture.wacz");
    let summary = wacz::write_wacz(&path, &input).expect("the WACZ is written");
    assert_eq!(summary.created, "2024-05-01T12:00:06Z");
    // warcinfo; three records per answered request but the refused one (request+metadata).
    assert_eq!(summary.records, 1 + 6 * 2 + 2);
    path
}

/// A zip entry: name, compression, bytes.
type Entry = (String, zip::CompressionMethod, Vec<u8>);

/// Every entry of a zip, in order.
fn entries(path: &Path) -> Vec<Entry> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("entry");
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).expect("read entry");
            (file.name().to_owned(), file.compression(), bytes)
        })
        .collect()
}

/// Writes `entries` as a new zip (fresh CRCs, so only hashes can tell).
fn write_zip(path: &Path, entries: &[Entry]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    for (name, method, bytes) in entries {
        let options = zip::write::SimpleFileOptions::default().compression_method(*method);
        zip.start_file(name.as_str(), options).expect("start entry");
        zip.write_all(bytes).expect("write entry");
    }
    zip.finish().expect("finish zip");
}

fn entry<'a>(all: &'a mut [Entry], name: &str) -> &'a mut Vec<u8> {
    &mut all
        .iter_mut()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in the zip"))
        .2
}

#[test]
fn verify_accepts_it_and_names_the_tampered_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = key(7);
    let path = build(dir.path(), &signer);
    let verified = wacz::verify_wacz(&path).expect("our own WACZ verifies");
    assert_eq!(verified.public_key, Some(spki(&signer)));
    assert_eq!(verified.wacz_version, "1.1.1");
    assert_eq!(verified.main_page_url.as_deref(), Some(MAIN_URL));
    let paths: Vec<&str> = verified.resources.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, [wacz::WARC_PATH, wacz::INDEX_PATH, wacz::PAGES_PATH]);

    // Layout: WARC and index stored, the rest deflated, no zip64.
    let all = entries(&path);
    let layout: Vec<(&str, zip::CompressionMethod)> =
        all.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
    use zip::CompressionMethod::{Deflated, Stored};
    assert_eq!(
        layout,
        [
            (wacz::WARC_PATH, Stored),
            (wacz::INDEX_PATH, Stored),
            (wacz::PAGES_PATH, Deflated),
            (wacz::DATAPACKAGE_PATH, Deflated),
            (wacz::DIGEST_PATH, Deflated),
        ]
    );
    let raw = std::fs::read(&path).expect("read");
    assert!(
        !raw.windows(4).any(|w| w == [0x50, 0x4b, 0x06, 0x06]),
        "no zip64 end record"
    );
    let pages =
        String::from_utf8(entry(&mut all.clone(), wacz::PAGES_PATH).clone()).expect("utf-8");
    let first: serde_json::Value =
        serde_json::from_str(pages.lines().next().expect("header")).expect("json");
    assert_eq!(
        first,
        serde_json::json!({"format": "json-pages-1.0", "id": "pages", "title": "All Pages", "hasText": true})
    );
    assert!(pages.contains(PAGE_TEXT));

    // One byte of the WARC flipped, the zip rewritten around it.
    let mut tampered = all.clone();
    let warc_bytes = entry(&mut tampered, wacz::WARC_PATH);
    let middle = warc_bytes.len() / 2;
    warc_bytes[middle] ^= 0x01;
    let bad = dir.path().join("tampered.wacz");
    write_zip(&bad, &tampered);
    match wacz::verify_wacz(&bad) {
        Err(WaczError::HashMismatch { entry, .. }) => assert_eq!(entry, wacz::WARC_PATH),
        other => panic!("expected a hash mismatch on the WARC, got {other:?}"),
    }
    let message = wacz::verify_wacz(&bad).expect_err("tampered").to_string();
    assert!(message.contains(wacz::WARC_PATH), "{message}");

    // One byte flipped in place (the zip's own CRC then fails first).
    let mut in_place = raw.clone();
    let data_start = {
        let mut archive =
            zip::ZipArchive::new(std::fs::File::open(&path).expect("open")).expect("zip");
        let file = archive.by_name(wacz::WARC_PATH).expect("warc");
        file.data_start()
    };
    in_place[data_start as usize + 200] ^= 0x80;
    let flipped = dir.path().join("flipped.wacz");
    std::fs::write(&flipped, &in_place).expect("write");
    let message = wacz::verify_wacz(&flipped)
        .expect_err("flipped byte")
        .to_string();
    assert!(message.contains(wacz::WARC_PATH), "{message}");

    // A file the manifest does not list.
    let mut extra = all.clone();
    extra.push((
        "archive/extra.warc.gz".to_owned(),
        Stored,
        b"unlisted".to_vec(),
    ));
    let unlisted = dir.path().join("unlisted.wacz");
    write_zip(&unlisted, &extra);
    match wacz::verify_wacz(&unlisted) {
        Err(WaczError::Invalid { entry, .. }) => assert_eq!(entry, "archive/extra.warc.gz"),
        other => panic!("expected the unlisted entry to be named, got {other:?}"),
    }

    // The manifest edited without its digest.
    let mut edited = all.clone();
    let manifest = entry(&mut edited, wacz::DATAPACKAGE_PATH);
    let text = String::from_utf8(manifest.clone())
        .expect("utf-8")
        .replace("Synthetic capture", "Edited capture");
    *manifest = text.into_bytes();
    let edited_path = dir.path().join("edited.wacz");
    write_zip(&edited_path, &edited);
    match wacz::verify_wacz(&edited_path) {
        Err(WaczError::HashMismatch { entry, .. }) => assert_eq!(entry, wacz::DATAPACKAGE_PATH),
        other => panic!("expected datapackage.json's hash to fail, got {other:?}"),
    }

    // A missing entry.
    let missing: Vec<_> = all
        .iter()
        .filter(|(n, _, _)| n != wacz::PAGES_PATH)
        .cloned()
        .collect();
    let missing_path = dir.path().join("missing.wacz");
    write_zip(&missing_path, &missing);
    match wacz::verify_wacz(&missing_path) {
        Err(WaczError::MissingEntry { entry }) => assert_eq!(entry, wacz::PAGES_PATH),
        other => panic!("expected the missing page list to be named, got {other:?}"),
    }

    // Not a zip at all.
    let junk = dir.path().join("junk.wacz");
    std::fs::write(&junk, b"PK\x03\x04 not really").expect("write");
    assert!(wacz::verify_wacz(&junk).is_err());
}

/// `datapackage-digest.json` of `path` with `signedData` changed by `edit`.
fn resign(path: &Path, out: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut all = entries(path);
    let digest = entry(&mut all, wacz::DIGEST_PATH);
    let mut json: serde_json::Value = serde_json::from_slice(digest).expect("digest json");
    edit(&mut json["signedData"]);
    *digest = serde_json::to_vec_pretty(&json).expect("json");
    write_zip(out, &all);
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_signature_by_another_key_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = key(7);
    let theirs = key(9);
    let path = build(dir.path(), &ours);
    let hash = wacz::verify_wacz(&path).expect("verifies").datapackage_hash;

    // Their signature under our public key.
    let forged = dir.path().join("forged.wacz");
    let their_signature = sign(&theirs, &hash);
    resign(&path, &forged, |signed| {
        signed["signature"] = b64(&their_signature).into();
    });
    match wacz::verify_wacz(&forged) {
        Err(WaczError::Signature(_)) => {}
        other => panic!("expected the signature to fail, got {other:?}"),
    }

    // Their signature under their key: valid, but not ours — the caller sees whose.
    let theirs_whole = dir.path().join("theirs.wacz");
    let their_key = theirs.verifying_key().to_public_key_der().expect("spki");
    resign(&path, &theirs_whole, |signed| {
        signed["signature"] = b64(&their_signature).into();
        signed["publicKey"] = b64(their_key.as_bytes()).into();
    });
    let verified = wacz::verify_wacz(&theirs_whole).expect("a valid signature by another key");
    assert_eq!(verified.public_key, Some(spki(&theirs)));
    assert_ne!(verified.public_key, Some(spki(&ours)));

    // Our key signing some other hash.
    let other_hash = dir.path().join("other-hash.wacz");
    let other = format!("sha256:{}", hex::encode(Sha256::digest(b"something else")));
    let other_signature = sign(&ours, &other);
    resign(&path, &other_hash, |signed| {
        signed["hash"] = other.clone().into();
        signed["signature"] = b64(&other_signature).into();
    });
    assert!(matches!(
        wacz::verify_wacz(&other_hash),
        Err(WaczError::Signature(_))
    ));

    // A DER signature (as authsign writes) is accepted too.
    let der = dir.path().join("der.wacz");
    let our_signature = p384::ecdsa::Signature::from_slice(&sign(&ours, &hash)).expect("raw");
    resign(&path, &der, |signed| {
        signed["signature"] = b64(our_signature.to_der().as_bytes()).into();
    });
    wacz::verify_wacz(&der).expect("a DER signature verifies");

    // A P-256 signature (Athar's bundles before P-384) still verifies, raw or DER; one
    // under a P-256 key that did not make it does not.
    let old = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("a valid P-256 scalar");
    let old_sig: p256::ecdsa::Signature = {
        use p256::ecdsa::signature::Signer as _;
        old.sign(hash.as_bytes())
    };
    let old_key = {
        use p256::pkcs8::EncodePublicKey as _;
        old.verifying_key().to_public_key_der().expect("spki")
    };
    for (name, bytes) in [
        ("p256-raw.wacz", old_sig.to_bytes().to_vec()),
        ("p256-der.wacz", old_sig.to_der().as_bytes().to_vec()),
    ] {
        let p = dir.path().join(name);
        resign(&path, &p, |signed| {
            signed["signature"] = b64(&bytes).into();
            signed["publicKey"] = b64(old_key.as_bytes()).into();
        });
        let v = wacz::verify_wacz(&p).expect("a P-256 signature verifies");
        assert_eq!(v.public_key, Some(b64(old_key.as_bytes())));
    }
    let p = dir.path().join("p256-forged.wacz");
    resign(&path, &p, |signed| {
        signed["signature"] = b64(&old_sig.to_bytes()).into();
        signed["publicKey"] = b64({
            use p256::pkcs8::EncodePublicKey as _;
            p256::ecdsa::SigningKey::from_slice(&[9; 32])
                .expect("scalar")
                .verifying_key()
                .to_public_key_der()
                .expect("spki")
        }
        .as_bytes())
        .into();
    });
    assert!(matches!(
        wacz::verify_wacz(&p),
        Err(WaczError::Signature(_))
    ));
}

#[test]
fn index_lines_address_their_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = build(dir.path(), &key(7));
    let mut all = entries(&path);
    let index = String::from_utf8(entry(&mut all, wacz::INDEX_PATH).clone()).expect("utf-8");
    let warc_bytes = entry(&mut all, wacz::WARC_PATH).clone();
    let lines: Vec<&str> = index.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "sorted");
    assert_eq!(lines.len(), 6, "one line per response: {index}");
    for line in &lines {
        let mut parts = line.splitn(3, ' ');
        let (urlkey, timestamp, json) = (
            parts.next().expect("urlkey"),
            parts.next().expect("timestamp"),
            parts.next().expect("json"),
        );
        assert_eq!(timestamp.len(), 14);
        let fields: serde_json::Value = serde_json::from_str(json).expect("json");
        let field = |name: &str| {
            fields[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in {line}"))
                .to_owned()
        };
        let offset: usize = field("offset").parse().expect("offset");
        let length: usize = field("length").parse().expect("length");
        let member = &warc_bytes[offset..offset + length];
        assert_eq!(
            field("recordDigest"),
            format!("sha256:{}", hex::encode(Sha256::digest(member)))
        );
        let mut record = Vec::new();
        GzDecoder::new(member)
            .read_to_end(&mut record)
            .expect("one gzip member");
        let record = String::from_utf8_lossy(&record);
        assert!(
            record.starts_with("WARC/1.1\r\nWARC-Type: response\r\n"),
            "{record}"
        );
        assert!(record.contains(&format!("WARC-Target-URI: {}\r\n", field("url"))));
        assert!(record.contains(&format!("WARC-Payload-Digest: {}\r\n", field("digest"))));
        assert_eq!(field("filename"), "data.warc.gz");
        assert!(!urlkey.is_empty());
    }
    let main = lines
        .iter()
        .find(|l| l.contains("\"url\":\"https://www.example.com/report"))
        .expect("main page line");
    assert!(
        main.starts_with(&format!("com,example)/report?a=1&b=2 {MAIN_TIMESTAMP} ")),
        "{main}"
    );
    assert!(main.contains("\"mime\":\"text/html\""));
    // The chunked page's payload digest is over the de-chunked HTML.
    let html_digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(page_html().as_bytes()))
    );
    assert!(main.contains(&html_digest), "{main}");
    let missing = lines
        .iter()
        .find(|l| l.contains("/missing\""))
        .expect("404 line");
    assert!(missing.contains("\"status\":\"404\""));
    let post = lines
        .iter()
        .find(|l| l.contains("\"method\":\"POST\""))
        .expect("POST line");
    assert!(
        post.starts_with("com,example)/search?__wb_method=post&lang=en&q=river%20crossing "),
        "{post}"
    );
    // The truncated download says so.
    let cut = lines
        .iter()
        .find(|l| l.contains("video.bin"))
        .expect("truncated line");
    let offset: usize =
        serde_json::from_str::<serde_json::Value>(cut.splitn(3, ' ').nth(2).expect("json"))
            .expect("json")["offset"]
            .as_str()
            .expect("offset")
            .parse()
            .expect("number");
    let mut record = Vec::new();
    GzDecoder::new(&warc_bytes[offset..])
        .read_to_end(&mut record)
        .expect("gzip");
    let record = String::from_utf8_lossy(&record);
    assert!(record.contains("WARC-Truncated: length\r\n"), "{record}");
    assert!(record
        .contains("WARC-Athar-Truncated-Reason: response larger than the 4096-byte limit\r\n"));
    // The refused request left a request and a metadata record, but no index line.
    let all_records = decompress_all(&warc_bytes);
    assert!(all_records.contains("WARC-Type: metadata\r\n"));
    assert!(all_records.contains("fetch-error: connection refused\r\n"));
    assert!(!index.contains("unreachable.example"));
}

fn decompress_all(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip members");
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// The Webrecorder tools

#[test]
fn py_wacz_validates_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = build(dir.path(), &key(7));
    let wacz_tool = tool("wacz");
    let (ok, output) = run(Command::new(&wacz_tool)
        .arg("validate")
        .arg("-f")
        .arg(&path));
    assert!(ok, "py-wacz rejects our WACZ:\n{output}");
    assert!(output.contains("Validation succeeded"), "{output}");
    assert!(output.contains("Version detected as 1.1.1"), "{output}");

    // The validator does look: an edited page list fails its hash check. (A flipped byte
    // in the WARC fails too, but as a crash: frictionless gunzips the WARC to sniff it.)
    let mut all = entries(&path);
    let pages = entry(&mut all, wacz::PAGES_PATH);
    let edited = String::from_utf8(pages.clone())
        .expect("utf-8")
        .replace("ferry", "barge");
    *pages = edited.into_bytes();
    let bad = dir.path().join("tampered.wacz");
    write_zip(&bad, &all);
    let (ok, output) = run(Command::new(&wacz_tool).arg("validate").arg("-f").arg(&bad));
    assert!(!ok, "py-wacz accepted a tampered WACZ:\n{output}");
    // Frictionless's own hash check catches it, naming the resource.
    assert!(output.contains("Validation failed"), "{output}");
    assert!(
        output.contains("'pages.jsonl': [{'type': 'hash-count'"),
        "{output}"
    );
}

/// An independent implementation (Python `cryptography`, OpenSSL) checks the signature the
/// way ReplayWeb.page's WebCrypto verifier does: ECDSA P-384/SHA-256 over the `hash` text,
/// raw r‖s.
const CHECK_SIGNATURE_PY: &str = r#"
import base64, hashlib, json, sys, zipfile
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
z = zipfile.ZipFile(sys.argv[1])
package = z.read("datapackage.json")
digest = json.loads(z.read("datapackage-digest.json"))
assert digest["path"] == "datapackage.json"
assert digest["hash"] == "sha256:" + hashlib.sha256(package).hexdigest(), "hash"
signed = digest["signedData"]
assert signed["hash"] == digest["hash"]
assert signed["created"] == json.loads(package)["created"]
key = serialization.load_der_public_key(base64.b64decode(signed["publicKey"]))
assert isinstance(key.curve, ec.SECP384R1)
raw = base64.b64decode(signed["signature"])
assert len(raw) == 96
der = encode_dss_signature(int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big"))
key.verify(der, signed["hash"].encode(), ec.ECDSA(hashes.SHA256()))
print("signature OK")
"#;

#[test]
fn an_independent_verifier_accepts_the_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = build(dir.path(), &key(7));
    let python = tool("python");
    let (ok, output) = run(Command::new(&python)
        .arg("-c")
        .arg(CHECK_SIGNATURE_PY)
        .arg(&path));
    assert!(ok && output.contains("signature OK"), "{output}");

    let forged = dir.path().join("forged.wacz");
    let hash = wacz::verify_wacz(&path).expect("verifies").datapackage_hash;
    let signature = sign(&key(9), &hash);
    resign(&path, &forged, |signed| {
        signed["signature"] = b64(&signature).into()
    });
    let (ok, output) = run(Command::new(&python)
        .arg("-c")
        .arg(CHECK_SIGNATURE_PY)
        .arg(&forged));
    assert!(
        !ok,
        "the independent check accepted a forged signature:\n{output}"
    );
}

#[test]
fn cdxj_indexer_agrees_with_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = build(dir.path(), &key(7));
    let mut all = entries(&path);
    let warc_path = dir.path().join("data.warc.gz");
    std::fs::write(&warc_path, entry(&mut all, wacz::WARC_PATH)).expect("write");
    let ours = String::from_utf8(entry(&mut all, wacz::INDEX_PATH).clone()).expect("utf-8");
    let (ok, theirs) = run(Command::new(tool("cdxj-indexer"))
        .args(["--post-append", "--sort", "--digest-records"])
        .arg(&warc_path));
    assert!(ok, "cdxj-indexer failed:\n{theirs}");
    let project = |index: &str| -> Vec<String> {
        let mut lines: Vec<String> = index
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut parts = line.splitn(3, ' ');
                let urlkey = parts.next().unwrap_or("");
                let timestamp = parts.next().unwrap_or("");
                let json: serde_json::Value =
                    serde_json::from_str(parts.next().unwrap_or("{}")).expect("json");
                let keys = [
                    "url",
                    "mime",
                    "status",
                    "digest",
                    "length",
                    "offset",
                    "filename",
                    "recordDigest",
                    "method",
                    "requestBody",
                ];
                let values: Vec<String> =
                    keys.iter().map(|k| format!("{k}={}", json[*k])).collect();
                format!("{urlkey} {timestamp} {}", values.join(" "))
            })
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        project(&ours),
        project(&theirs),
        "ours:\n{ours}\ncdxj-indexer:\n{theirs}"
    );
}

#[test]
fn surt_matches_the_python_package() {
    let urls = [
        "https://www.example.com/report?b=2&a=1",
        "http://Example.COM:80/A/B/../C/./d/?Z=1&y=2&y&x=",
        "https://www3.example.org:8443/path/#frag",
        "http://example.com",
        "http://example.com/?",
        "https://example.com/a%20b%2Fc%25d?q=%41%2b+x",
        "http://93.184.216.34/x",
        "http://3232235777/",
        "http://[2001:db8::1]:8080/v6",
        "https://user:pw@example.com/secret",
        "https://example.com/x?jsessionid=0123456789abcdef0123456789ABCDEF&keep=1",
        "https://example.com/x?a=1&PHPSESSID=0123456789abcdef0123456789abcdef",
        "https://example.com/x?cfid=123&cftoken=abc&z=1",
        "https://example.com/(S(aaaaaaaaaaaaaaaaaaaaaaaa))/page.aspx?x=1",
        "https://example.com/(bbbbbbbbbbbbbbbbbbbbbbbb)/default.aspx",
        "https://example.com/caf\u{e9}/\u{65e5}\u{672c}?q=\u{fc}",
        "https://example.com//double//slash/",
        "example.com/no-scheme",
        "http://https://example.com/double-scheme",
        "https://..example.com../dots",
        "dns:example.com",
        "https://example.com/search?__wb_method=POST&q=river crossing",
        "https://EXAMPLE.com/%7Euser/",
    ];
    let script =
        "import json, sys, surt\nfor line in sys.stdin:\n    print(surt.surt(json.loads(line)))\n";
    let mut child = Command::new(tool("python"))
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    let input: String = urls
        .iter()
        .map(|u| format!("{}\n", serde_json::to_string(u).expect("json")))
        .collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("python runs");
    assert!(output.status.success());
    let expected: Vec<String> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect();
    let ours: Vec<String> = urls.iter().map(|u| warc::surt(u)).collect();
    let differences: Vec<String> = urls
        .iter()
        .zip(ours.iter().zip(&expected))
        .filter(|(_, (a, b))| a != b)
        .map(|(url, (a, b))| format!("{url}\n  ours:   {a}\n  python: {b}"))
        .collect();
    assert_eq!(expected.len(), urls.len());
    assert!(
        differences.is_empty(),
        "SURT differs:\n{}",
        differences.join("\n")
    );
}

#[test]
fn pywb_replays_the_page() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = build(dir.path(), &key(7));
    let pywb = webrecorder::Pywb::start(&path, dir.path());
    let index = pywb.index();
    assert!(index.contains("com,example)/report?a=1&b=2"), "{index}");
    let (status, body) = pywb.get(MAIN_TIMESTAMP, MAIN_URL);
    let html = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(PAGE_TEXT),
        "the page text does not come back:\n{html}"
    );

    let (status, body) = pywb.get(MAIN_TIMESTAMP, "https://example.com/notes.txt");
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&body), NOTES_TEXT);

    let (status, _) = pywb.get(MAIN_TIMESTAMP, "https://example.com/missing");
    assert_eq!(status, 404);
    drop(pywb);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
