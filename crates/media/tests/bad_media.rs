//! Hostile and broken input: every entry point (PDQ, vPDQ, metadata, review
//! images) must answer each file with a result or a `MediaError` naming the
//! file, within the limits given, and never panic or hang. The test builds its
//! own broken files.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use athar_media::metadata::{probe_metadata_with, MetadataOptions};
use athar_media::review::{review_images, ReviewOptions};
use athar_media::vpdq::{hash_video, VpdqOptions};
use athar_media::{Limits, MediaError};

const LIMITS: Limits = Limits {
    time: Duration::from_secs(10),
    memory_bytes: 1 << 30,
};
/// Longest any one call may take with `LIMITS` (limit plus slack).
const DEADLINE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// A `MediaError` naming the file.
    Err,
    /// Success (the file is valid for this operation).
    Ok,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Pdq,
    Vpdq,
    Metadata,
    Review,
}

fn run(op: Op, path: &Path, limits: Limits) -> Result<(), MediaError> {
    match op {
        Op::Pdq => athar_media::pdq::hash_image_file(path).map(drop),
        Op::Vpdq => hash_video(
            path,
            &VpdqOptions {
                limits,
                threads: 1,
                ..VpdqOptions::default()
            },
        )
        .map(drop),
        Op::Metadata => probe_metadata_with(
            path,
            &MetadataOptions {
                limits,
                ..MetadataOptions::default()
            },
        )
        .map(drop),
        Op::Review => review_images(
            path,
            &ReviewOptions {
                limits,
                ..ReviewOptions::default()
            },
        )
        .map(drop),
    }
}

/// CRC-32 (IEEE) for hand-made PNG chunks.
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
    out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A PNG whose header claims 100000×100000 RGB pixels, with a tiny IDAT.
fn huge_png() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream: a stored block of a few zero bytes.
    png_chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0x04, 0, 1,
        ],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A minimal ZIP archive holding one stored file.
fn zip_bytes() -> Vec<u8> {
    let name = b"note.txt";
    let data = b"appended archive";
    let crc = crc32(data);
    let mut z = Vec::new();
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    le32(&mut z, 0x0403_4b50);
    for x in [20u16, 0, 0, 0, 0] {
        le16(&mut z, x);
    }
    le32(&mut z, crc);
    le32(&mut z, data.len() as u32);
    le32(&mut z, data.len() as u32);
    le16(&mut z, name.len() as u16);
    le16(&mut z, 0);
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let cd = z.len() as u32;
    le32(&mut z, 0x0201_4b50);
    for x in [20u16, 20, 0, 0, 0, 0] {
        le16(&mut z, x);
    }
    le32(&mut z, crc);
    le32(&mut z, data.len() as u32);
    le32(&mut z, data.len() as u32);
    for x in [name.len() as u16, 0, 0, 0, 0] {
        le16(&mut z, x);
    }
    le32(&mut z, 0);
    le32(&mut z, 0);
    z.extend_from_slice(name);
    let cd_len = z.len() as u32 - cd;
    le32(&mut z, 0x0605_4b50);
    for x in [0u16, 0, 1, 1] {
        le16(&mut z, x);
    }
    le32(&mut z, cd_len);
    le32(&mut z, cd);
    le16(&mut z, 0);
    z
}

fn jpeg_bytes() -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x ^ y) * 4) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut out)
        .encode_image(&img)
        .expect("encode");
    out
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

struct Case {
    path: PathBuf,
    /// Expected outcome for pdq, vpdq, metadata, review.
    want: [Want; 4],
}

fn check(cases: &[Case], limits: Limits, deadline: Duration) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let name = case
            .path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        for (op, want) in [Op::Pdq, Op::Vpdq, Op::Metadata, Op::Review]
            .into_iter()
            .zip(case.want)
        {
            let t = Instant::now();
            let got = run(op, &case.path, limits);
            let took = t.elapsed();
            eprintln!(
                "{name:>22} {op:<8?} {:>6} ms  {}",
                took.as_millis(),
                match &got {
                    Ok(()) => "ok".to_string(),
                    Err(e) => e.to_string().chars().take(140).collect(),
                }
            );
            if took > deadline {
                failures.push(format!("{name} {op:?}: took {took:?}"));
            }
            match (got, want) {
                (Ok(()), Want::Ok) => {}
                (Err(e), Want::Err) => {
                    if !e.to_string().contains(&name) {
                        failures.push(format!("{name} {op:?}: error does not name the file: {e}"));
                    }
                }
                (Ok(()), Want::Err) => failures.push(format!("{name} {op:?}: expected an error")),
                (Err(e), Want::Ok) => failures.push(format!("{name} {op:?}: unexpected error {e}")),
            }
        }
    }
    failures
}

#[test]
fn broken_files_give_errors_naming_them() {
    if !common::have_ffmpeg() {
        return;
    }
    use Want::{Err as E, Ok as K};
    let dir = tempfile::tempdir().expect("tempdir");
    let at = |n: &str| dir.path().join(n);

    let valid = at("valid.mp4");
    common::testsrc_clip(&valid, "320x240", 2);
    let mp4 = std::fs::read(&valid).expect("read");
    std::fs::write(at("truncated.mp4"), &mp4[..mp4.len() / 5]).expect("write");
    std::fs::write(at("empty.mp4"), b"").expect("write");
    std::fs::write(at("random.mp4"), random_bytes(256 << 10)).expect("write");
    let mut polyglot = jpeg_bytes();
    polyglot.extend_from_slice(&zip_bytes());
    std::fs::write(at("jpeg-with-zip.jpg"), &polyglot).expect("write");
    let mut png_mp4 = b"\x89PNG\r\n\x1a\n".to_vec();
    png_mp4.extend_from_slice(&mp4);
    std::fs::write(at("png-header-mp4.png"), &png_mp4).expect("write");
    std::fs::write(at("huge-100000.png"), huge_png()).expect("write");
    let fifo = at("endless-fifo.mp4");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());

    let mut cases = vec![
        // The valid clip is a video: PDQ (images only) refuses it.
        Case {
            path: valid.clone(),
            want: [E, K, K, K],
        },
        Case {
            path: at("truncated.mp4"),
            want: [E, E, E, E],
        },
        Case {
            path: at("empty.mp4"),
            want: [E, E, E, E],
        },
        Case {
            path: at("random.mp4"),
            want: [E, E, E, E],
        },
        // A JPEG with a ZIP appended is a valid JPEG (FFmpeg reads it as a
        // one-frame video too); the trailing archive is ignored.
        Case {
            path: at("jpeg-with-zip.jpg"),
            want: [K, K, K, K],
        },
        Case {
            path: at("png-header-mp4.png"),
            want: [E, E, E, E],
        },
        Case {
            path: at("huge-100000.png"),
            want: [E, E, E, E],
        },
        Case {
            path: PathBuf::from("/dev/zero"),
            want: [E, E, E, E],
        },
    ];
    if made {
        cases.push(Case {
            path: fifo,
            want: [E, E, E, E],
        });
    } else {
        eprintln!("NOTICE: mkfifo unavailable; FIFO case skipped");
    }
    let failures = check(&cases, LIMITS, DEADLINE);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn time_limits_stop_long_work() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let long = dir.path().join("long-clip.mp4");
    common::testsrc_clip(&long, "320x240", 60);
    let tiny = Limits {
        time: Duration::from_millis(1),
        memory_bytes: 1 << 30,
    };
    let short = Limits {
        time: Duration::from_millis(300),
        memory_bytes: 1 << 30,
    };
    for (op, limits) in [(Op::Vpdq, short), (Op::Metadata, tiny), (Op::Review, short)] {
        let t = Instant::now();
        let e = run(op, &long, limits).expect_err("time limit");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{op:?}: {:?}",
            t.elapsed()
        );
        assert!(matches!(e, MediaError::Timeout { .. }), "{op:?}: {e}");
        assert!(e.to_string().contains("long-clip.mp4"), "{e}");
    }
}

/// A zlib stream of `n` zero bytes, small: one literal, then matches of 258
/// bytes at distance 1 (fixed Huffman codes), then the rest as literals.
fn zlib_zeros(n: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        /// `len` bits of `v`, least significant first.
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.len;
            self.len += len;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// A Huffman code of `len` bits, most significant first.
        fn code(&mut self, code: u64, len: u32) {
            let rev = (0..len).fold(0, |r, i| r | ((code >> i) & 1) << (len - 1 - i));
            self.put(rev, len);
        }
    }
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman codes
    let mut left = n;
    if left > 0 {
        b.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        b.code(0xc5, 8); // length 258
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block
    b.put(0, 7); // pad to a byte
    let adler = ((n % 65521) << 16) | 1;
    b.out.extend_from_slice(&(adler as u32).to_be_bytes());
    b.out
}

/// A valid 8-bit greyscale PNG of `w`×`h` black pixels: a few MB at most,
/// whatever its size once decoded.
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
fn the_bomb_generator_makes_valid_pngs() {
    let img = image::load_from_memory(&black_png(300, 7)).expect("valid PNG");
    assert_eq!((img.width(), img.height()), (300, 7));
    assert!(img.to_luma8().iter().all(|&v| v == 0));
}

/// Finding 5 of issue #22: a small PNG declaring 22000×22000 pixels (484 MB
/// once decoded, under the `image` crate's default 512 MiB limit) is refused
/// from its header, quickly, by every in-process decoder, naming the file and
/// the dimensions.
#[test]
fn decompression_bomb_is_refused_from_its_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bomb = dir.path().join("bomb-22000.png");
    let bytes = black_png(22_000, 22_000);
    assert!(bytes.len() < 4 << 20, "{} bytes", bytes.len());
    std::fs::write(&bomb, &bytes).expect("write");
    let review = |p: &Path| review_images(p, &ReviewOptions::default()).map(drop);
    let pdq = |p: &Path| athar_media::pdq::hash_image_file(p).map(drop);
    let rgb = |p: &Path| athar_media::image_rgb::load_rgb(p).map(drop);
    for (what, op) in [
        ("pdq", &pdq as &dyn Fn(&Path) -> Result<(), MediaError>),
        ("review", &review),
        ("load_rgb", &rgb),
    ] {
        let t = Instant::now();
        let e = op(&bomb).expect_err("over budget");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{what}: {:?}",
            t.elapsed()
        );
        assert!(matches!(e, MediaError::TooLarge { .. }), "{what}: {e}");
        let msg = e.to_string();
        assert!(
            msg.contains("bomb-22000.png") && msg.contains("22000x22000"),
            "{what}: {msg}"
        );
    }
    // Within the budget, the same kind of file decodes.
    let ok = dir.path().join("black-2000.png");
    std::fs::write(&ok, black_png(2000, 1500)).expect("write");
    let r = athar_media::pdq::hash_image_file(&ok).expect("within budget");
    assert_eq!(r.quality, 0);
}

#[test]
fn decode_budget_edges() {
    use athar_media::DECODE_BUDGET as B;
    let p = Path::new("edge.png");
    let side = B.max_side;
    assert!(B.check(p, 8192, 8192, 8192 * 8192 * 3).is_ok());
    assert!(B.check(p, 8192, 8193, 8192 * 8193).is_err());
    assert!(B.check(p, side, 1, u64::from(side)).is_ok());
    assert!(B.check(p, side + 1, 1, u64::from(side) + 1).is_err());
    assert!(B.check(p, 1, side + 1, u64::from(side) + 1).is_err());
    assert!(B.check(p, 4096, 4096, B.max_alloc + 1).is_err());
    let e = B.check(p, 30_000, 30_000, 1).expect_err("too many pixels");
    assert!(
        e.to_string()
            .contains("edge.png: image of 30000x30000 pixels"),
        "{e}"
    );
}
