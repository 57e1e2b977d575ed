//! What the local features add to a video's fingerprinting: the archive's decode
//! (`vpdq::hash_video_fingerprints`: reference hashes and frame variants) without and with
//! the local features of sampled frames, three rounds each, and the size of the stored
//! record. The reference hashes must come out the same either way.
//!
//! `cargo run --release -p athar-media --example local_cost -- VIDEO`
#![allow(clippy::unwrap_used)]
use athar_media::vpdq;
use std::time::Instant;
fn main() {
    let p = std::env::args().nth(1).unwrap();
    let opts = vpdq::VpdqOptions::default();
    let mut base = Vec::new();
    let mut with = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (f, _, _) = vpdq::hash_video_fingerprints(&p, &opts, false).unwrap();
        base.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let (g, _, l) = vpdq::hash_video_fingerprints(&p, &opts, true).unwrap();
        with.push(t.elapsed().as_secs_f64());
        assert_eq!(f, g);
        let rec = athar_media::local_match::encode(&l);
        println!(
            "frames {} local frames {} features {} record {} bytes ({} per frame)",
            f.len(),
            l.len(),
            l.iter().map(|x| x.features.len()).sum::<usize>(),
            rec.len(),
            rec.len() / l.len().max(1)
        );
    }
    base.sort_by(f64::total_cmp);
    with.sort_by(f64::total_cmp);
    println!(
        "without local {:?} with local {:?} median ratio {:.3}",
        base,
        with,
        with[1] / base[1]
    );
}
