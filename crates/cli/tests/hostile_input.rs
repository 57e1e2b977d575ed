//! Hostile input end to end (issue #22): terminal escapes in free text are shown escaped
//! by every human-form listing, and a decompression bomb is refused from its header by
//! `athar pdq` and by the fingerprint job, leaving the archive consistent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{json_lines, Env};

const FORGED: &str = "review\n  #999 2026-01-01T00:00:00Z access by admin1\x1b[2J\u{202e}";

fn assert_no_raw_controls(what: &str, stdout: &[u8]) {
    let text = String::from_utf8_lossy(stdout);
    assert!(!stdout.contains(&0x1b), "{what}: raw ESC in {text}");
    assert!(
        !text.contains('\u{202e}'),
        "{what}: raw bidi override in {text}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("#999")),
        "{what}: forged line in {text}"
    );
}

#[test]
fn free_text_is_escaped_in_human_output() {
    let env = Env::new();
    let file = env.path("evidence\x1b[31m.txt");
    std::fs::write(&file, "synthetic evidence for the escape test").unwrap();
    let out = env.run_paths(
        &[
            "ingest",
            "--json",
            "--source",
            "source\x1b]0;title\x07",
            "--note",
            "note\r\nline",
        ],
        &[&file],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let item = json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = env.run(&["cat", "--purpose", FORGED, &item]);
    assert!(out.status.success());

    let show = env.run(&["show", &item]);
    assert!(show.status.success());
    assert_no_raw_controls("show", &show.stdout);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains(
            "      purpose review\\n  #999 2026-01-01T00:00:00Z access by admin1\\x1b[2J\\u{202e}\n"
        ),
        "{text}"
    );
    assert!(text.contains("evidence\\x1b[31m.txt"), "{text}");
    assert!(text.contains("source\\x1b]0;title\\x07"), "{text}");
    assert!(text.contains("note\\r\\nline"), "{text}");

    let list = env.run(&["list"]);
    assert!(list.status.success());
    assert_no_raw_controls("list", &list.stdout);
    assert!(String::from_utf8_lossy(&list.stdout).contains("evidence\\x1b[31m.txt"));

    // JSON stays JSON, holding the text as it was given.
    let v: serde_json::Value =
        serde_json::from_slice(&env.run(&["show", "--json", &item]).stdout).unwrap();
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["details"]["purpose"], FORGED);
    env.assert_verifies();
}

/// `zlib_zeros` and `black_png` as in `crates/media/tests/bad_media.rs`: a valid PNG of
/// black pixels, a few MB whatever its size once decoded.
fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let (mut acc, mut len) = (0u64, 0u32);
    let mut put = |out: &mut Vec<u8>, v: u64, n: u32| {
        acc |= v << len;
        len += n;
        while len >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            len -= 8;
        }
    };
    let rev = |code: u64, n: u32| (0..n).fold(0, |r, i| r | ((code >> i) & 1) << (n - 1 - i));
    put(&mut out, 1, 1);
    put(&mut out, 1, 2);
    let mut left = n;
    if left > 0 {
        put(&mut out, rev(0x30, 8), 8);
        left -= 1;
    }
    while left >= 258 {
        put(&mut out, rev(0xc5, 8), 8);
        put(&mut out, 0, 5);
        left -= 258;
    }
    for _ in 0..left {
        put(&mut out, rev(0x30, 8), 8);
    }
    put(&mut out, 0, 7);
    put(&mut out, 0, 7);
    out.extend_from_slice(&((((n % 65521) << 16) | 1) as u32).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn black_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    let z = zlib_zeros(u64::from(h) * (u64::from(w) + 1));
    for part in z.chunks(1 << 20) {
        png_chunk(&mut out, b"IDAT", part);
    }
    png_chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn decompression_bomb_is_refused_by_pdq_and_by_its_job() {
    let env = Env::new();
    let bomb = env.path("bomb-22000.png");
    std::fs::write(&bomb, black_png(22_000, 22_000)).unwrap();
    let small = env.path("black-300.png");
    std::fs::write(&small, black_png(300, 200)).unwrap();

    let t = Instant::now();
    let out = env.run_paths(&["pdq"], &[&bomb, &small]);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bomb-22000.png: image of 22000x22000 pixels is too large to decode"),
        "{stderr}"
    );
    // The file after it is still hashed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("black-300.png"));

    let out = env.run_paths(&["ingest", "--json", "--wait"], &[&bomb]);
    assert!(
        out.status.success(),
        "preserving must not depend on decoding"
    );
    let item = json_lines(&out.stdout)[0]["item"]
        .as_str()
        .unwrap()
        .to_owned();
    let jobs: serde_json::Value =
        serde_json::from_slice(&env.run(&["jobs", "--json"]).stdout).unwrap();
    let failed: Vec<&serde_json::Value> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["state"] == "failed")
        .collect();
    assert!(!failed.is_empty(), "{jobs}");
    for j in failed {
        assert_eq!(j["item"], item.as_str(), "{jobs}");
        assert!(
            j["error"].as_str().unwrap().contains("22000x22000"),
            "{jobs}"
        );
    }
    assert_eq!(env.cat(&item).stdout, std::fs::read(&bomb).unwrap());
    env.assert_verifies();
}
