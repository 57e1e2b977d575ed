//! The long-lived similarity index against the embedded catalog: what it finds, what a
//! catch-up reads, and that its file and a rebuild agree.

use athar_analysis::similarity::Similarity;
use athar_analysis::Kind;
use athar_core::{Catalog, Fingerprint, ItemId, NewItem, Sha256, Sighting, TOOL_VERSION};
use athar_media::hamming::IndexKind;
use athar_store::SqliteCatalog;

/// A 256-bit hash from a seed (a simple xorshift: distinct seeds give far-apart hashes).
fn hash(seed: u64) -> [u8; 32] {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = [0u8; 32];
    for b in &mut out {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 24) as u8;
    }
    out
}

/// `h` with `bits` of its bits flipped.
fn flipped(mut h: [u8; 32], bits: usize) -> [u8; 32] {
    for i in 0..bits {
        h[(i * 7) % 32] ^= 1 << (i % 8);
    }
    h
}

/// A stored `pdq` record: the hash and quality, then 8 dihedral hashes.
fn pdq_record(h: [u8; 32]) -> Fingerprint {
    let mut data = format!("{} 100\n", hex::encode(h));
    data.push_str(&format!("{}\n", hex::encode(h)));
    for k in 1..8u64 {
        let mut d = h;
        d[0] ^= k as u8;
        d[31] ^= 0xff;
        data.push_str(&format!(
            "{}\n",
            hex::encode(hash(u64::from(d[0]) << 8 | k))
        ));
    }
    Fingerprint {
        algorithm: Kind::Pdq.as_str().to_owned(),
        algorithm_version: "test".to_owned(),
        decoder: "test".to_owned(),
        data,
    }
}

/// Records an image item and gives it these fingerprints (as a finished job does).
fn image(c: &mut SqliteCatalog, n: u8, prints: &[Fingerprint]) -> ItemId {
    let mut sha = [n; 32];
    sha[0] = 0xa0;
    let new = NewItem {
        sha256: Sha256(sha),
        size: 10,
        media_type: "image/png".to_owned(),
        sighting: Sighting {
            original_name: format!("{n}.png"),
            original_path: format!("/evidence/{n}.png"),
            collector: "amal".to_owned(),
            tool_version: TOOL_VERSION.to_owned(),
            ..Sighting::default()
        },
        derived: None,
        at: "2026-01-01T00:00:00.000000Z".to_owned(),
    };
    let item = c.record(&[new], None, 0).expect("record").remove(0).item.id;
    refingerprint(c, &item, prints);
    item
}

fn refingerprint(c: &mut SqliteCatalog, item: &ItemId, prints: &[Fingerprint]) {
    c.requeue_jobs(&[(item.clone(), "fingerprint".to_owned())])
        .expect("queue");
    let job = c.claim_job(3).expect("claim").expect("a job");
    c.finish_job(&job, Ok(prints), 3).expect("finish");
}

/// A video item's records: its frames' vPDQ hashes and one mirrored variant per frame.
fn video_prints(seed: u64, variant_seed: u64) -> Vec<Fingerprint> {
    use athar_media::pdq::PdqHash;
    use athar_media::variants::{VariantHash, VariantKind};
    use athar_media::vpdq::VpdqFrame;
    let pdq = |s: u64| PdqHash::from_hex(&hex::encode(hash(s))).expect("hash");
    let frames: Vec<VpdqFrame> = (0..6)
        .map(|i| VpdqFrame {
            frame_number: i,
            quality: 100,
            hash: pdq(seed * 100 + i),
            timestamp: i as f64,
        })
        .collect();
    let variants: Vec<VariantHash> = (0..6)
        .map(|i| VariantHash {
            kind: VariantKind::Mirrored,
            frame_number: i,
            quality: 100,
            hash: pdq(variant_seed * 100 + i),
            timestamp: i as f64,
        })
        .collect();
    let record = |kind: Kind, data: String| Fingerprint {
        algorithm: kind.as_str().to_owned(),
        algorithm_version: "test".to_owned(),
        decoder: "test".to_owned(),
        data,
    };
    vec![
        record(Kind::Vpdq, athar_media::vpdq::format_lines(&frames)),
        record(
            Kind::VpdqVariants,
            athar_media::variants::format_lines(&variants),
        ),
    ]
}

fn near(s: &Similarity, item: &ItemId) -> Vec<ItemId> {
    let index = s.read().expect("read");
    let owner = index.owner_of(item).expect("indexed");
    let mut found: Vec<ItemId> = index
        .near(owner, 0.5)
        .into_iter()
        .map(|m| index.item_of(m.owner).expect("known owner").clone())
        .collect();
    found.sort();
    found
}

fn sorted(mut v: Vec<ItemId>) -> Vec<ItemId> {
    v.sort();
    v
}

#[test]
fn catch_up_adds_new_items_and_rebuilds_when_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = SqliteCatalog::open(&dir.path().join("c.sqlite"), true).expect("catalog");
    let original = hash(1);
    let a = image(&mut c, 1, &[pdq_record(original)]);
    let far = image(&mut c, 2, &[pdq_record(hash(2))]);
    for kind in [IndexKind::Mih, IndexKind::Compact] {
        let root = dir.path().join(format!("{kind:?}"));
        let s = Similarity::open(&root, kind, &c).expect("open");
        assert_eq!(near(&s, &a), Vec::<ItemId>::new(), "nothing like it yet");
        assert!(!s.catch_up(&c).expect("catch up"), "nothing new");
        // A re-encoded copy (a few bits apart) arrives: the catch-up indexes it.
        let copy = image(&mut c, 3 + kind as u8, &[pdq_record(flipped(original, 6))]);
        assert!(s.catch_up(&c).expect("catch up"));
        assert_eq!(near(&s, &a), vec![copy.clone()]);
        assert_eq!(near(&s, &copy), vec![a.clone()]);
        // The file saved by the catch-up opens to the same index.
        let reopened = Similarity::open(&root, kind, &c).expect("reopen");
        assert_eq!(near(&reopened, &a), vec![copy.clone()]);
        // The far item is analysed again into another copy: rebuilt, found both ways.
        refingerprint(&mut c, &far, &[pdq_record(flipped(original, 3))]);
        assert!(s.catch_up(&c).expect("catch up"));
        assert_eq!(near(&s, &a), sorted(vec![copy.clone(), far.clone()]));
        assert_eq!(near(&s, &far), sorted(vec![a.clone(), copy.clone()]));
        // Put back for the next kind.
        refingerprint(&mut c, &far, &[pdq_record(hash(2))]);
        refingerprint(&mut c, &copy, &[pdq_record(hash(50 + kind as u64))]);
    }
}

#[test]
fn open_survives_a_damaged_file_and_a_kind_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = SqliteCatalog::open(&dir.path().join("c.sqlite"), true).expect("catalog");
    let a = image(&mut c, 1, &[pdq_record(hash(7))]);
    let b = image(&mut c, 2, &[pdq_record(flipped(hash(7), 10))]);
    let root = dir.path().join("archive");
    drop(Similarity::open(&root, IndexKind::Mih, &c).expect("open"));
    let file = root.join("index/similar.idx");
    assert!(file.is_file(), "saved");
    // Another kind converts it.
    let s = Similarity::open(&root, IndexKind::Compact, &c).expect("converted");
    assert_eq!(near(&s, &a), vec![b.clone()]);
    // A damaged file (a cache any process may replace) is rebuilt from the catalog.
    let mut bytes = std::fs::read(&file).expect("read");
    let half = bytes.len() / 2;
    bytes.truncate(half);
    std::fs::write(&file, &bytes).expect("damage");
    let s = Similarity::open(&root, IndexKind::Compact, &c).expect("rebuilt");
    assert_eq!(near(&s, &b), vec![a]);
}

#[test]
fn items_without_hashes_are_not_indexed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = SqliteCatalog::open(&dir.path().join("c.sqlite"), true).expect("catalog");
    let meta = Fingerprint {
        algorithm: Kind::Metadata.as_str().to_owned(),
        algorithm_version: "test".to_owned(),
        decoder: "test".to_owned(),
        data: "{}".to_owned(),
    };
    let doc = image(&mut c, 1, &[meta]);
    let s = Similarity::open(&dir.path().join("a"), IndexKind::Mih, &c).expect("open");
    assert!(s.read().expect("read").owner_of(&doc).is_none());
}

#[test]
fn variants_made_again_replace_the_variants_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = SqliteCatalog::open(&dir.path().join("c.sqlite"), true).expect("catalog");
    let video = image(&mut c, 1, &video_prints(3, 4));
    let root = dir.path().join("archive");
    let s = Similarity::open(&root, IndexKind::Mih, &c).expect("open");
    let (owner, frames, first) = {
        let index = s.read().expect("read");
        let owner = index.owner_of(&video).expect("indexed");
        (
            owner,
            index.index.frames_of(owner),
            index.variants_of(owner).to_vec(),
        )
    };
    assert_eq!((frames.len(), first.len()), (6, 6));
    let file = root.join("index/similar.idx");
    let saved = std::fs::read(&file).expect("saved");
    // A variants job of a newer generation replaces the variants record alone.
    let again = video_prints(3, 5).remove(1);
    refingerprint(&mut c, &video, &[again]);
    assert!(s.catch_up(&c).expect("catch up"));
    let index = s.read().expect("read");
    assert_eq!(
        index.owner_of(&video),
        Some(owner),
        "not rebuilt: the same owner"
    );
    assert_eq!(index.index.frames_of(owner), frames, "the hashes stay");
    let now = index.variants_of(owner).to_vec();
    assert_eq!(now.len(), 6);
    assert_ne!(now, first, "the variants are the new ones");
    assert_eq!(
        std::fs::read(&file).expect("file"),
        saved,
        "the hash file is not rewritten"
    );
}
