//! Crop windows: matching copies cropped at an unknown offset.
//!
//! PDQ is not shift-tolerant: a copy that keeps 90 % of each side, cut anywhere between the
//! edges, is beyond the match distance of the original, and so is any one fixed window of
//! it. So each stored frame keeps one more hash, of the centre [`STORED_KEEP`] of its
//! picture (the `window` variant), and a query lays a grid of windows over a sample of its
//! own frames (about one a second, [`SAMPLE_SECONDS`]) at the sizes and offsets where that
//! stored window must lie if one of the two is a crop of the other, fine enough
//! ([`GRID_STEP`]) that one of them lands within tolerance:
//!
//! - the query is the crop (it keeps `k` of a side): the original's centre window is
//!   inside the query, `STORED_KEEP / k` of its size, anywhere over its slack;
//! - the query is the original: the crop's centre window is `STORED_KEEP * k` of the
//!   query's size, around its centre within the crop's slack.
//!
//! Both are laid for every crop in [`CROP_KEEPS`] (`k` of the width, of the height: both
//! sides cropped, or one only, as a frame with bars cropped across them is once the bars
//! are taken off), so it does not matter which of the two
//! was stored first or which is the query. Windows are hashed from the frame reduced for
//! the variants ([`crate::variants::Reduced`]), relative to the picture inside its borders,
//! as the stored window is.
//!
//! [`search`] scores the window hits as [`crate::similar::search`] scores frames, over the
//! sampled query frames: a sampled frame is matched when one of its windows is within the
//! distance of an item's stored window (both of quality ≥ 50).

use std::collections::HashMap;

use crate::borders::{self, Rect};
use crate::pdq::{LumaMode, PdqHash, PdqHasher, MATCH_DISTANCE, MIN_QUALITY};
use crate::similar::{self, Hit, Index, Match};
use crate::variants::{self, Reduced};
use crate::MediaError;

/// Share of each side of the picture kept by the stored centre window.
pub const STORED_KEEP: f64 = 0.8;
/// The crops the query grid is laid for: share of the width and of the height the crop
/// keeps. Cropped on both sides, or on one only: a frame with bars cropped across them
/// loses bars on that side and the picture inside them keeps more of it (up to all).
pub const CROP_KEEPS: [(f64, f64); 3] = [(0.9, 0.9), (0.9, 1.0), (1.0, 0.9)];
/// Spacing of the grid's windows, as a share of the picture's side.
pub const GRID_STEP: f64 = 0.008;
/// One query frame in this many seconds gets the window grid.
pub const SAMPLE_SECONDS: f64 = 1.0;

/// The hash of a window of `small` (quality 0 when it is too small to hash).
pub fn hash_window(
    hasher: &mut PdqHasher,
    small: &Reduced,
    r: Rect,
) -> Result<(PdqHash, u8), MediaError> {
    let stride = small.width * 3;
    hasher.hash_rgb_plain(
        &small.rgb[r.y * stride + r.x * 3..],
        r.width,
        r.height,
        stride,
        LumaMode::Float,
        false,
    )
}

/// The window `size` (share of each side: width, height) at offset `at` (share of each
/// side, from the picture's top left corner) of `picture`.
fn window(picture: Rect, size: (f64, f64), at: (f64, f64)) -> Rect {
    let len = |side: usize, share: f64| ((side as f64) * share).round() as usize;
    let (w, h) = (
        len(picture.width, size.0).max(1),
        len(picture.height, size.1).max(1),
    );
    let off = |share: f64, side: usize, len: usize| {
        (((side as f64) * share).round() as usize).min(side.saturating_sub(len))
    };
    Rect {
        x: picture.x + off(at.0, picture.width, w),
        y: picture.y + off(at.1, picture.height, h),
        width: w,
        height: h,
    }
}

/// The stored window of a frame: the centre [`STORED_KEEP`] of its `picture`.
pub fn centre(
    hasher: &mut PdqHasher,
    small: &Reduced,
    picture: Rect,
) -> Result<(PdqHash, u8), MediaError> {
    let margin = (1.0 - STORED_KEEP) / 2.0;
    hash_window(
        hasher,
        small,
        window(picture, (STORED_KEEP, STORED_KEEP), (margin, margin)),
    )
}

/// Offsets `from..=to` in steps of at most `step`.
fn offsets(from: f64, to: f64, step: f64) -> Vec<f64> {
    let n = ((to - from) / step).ceil().max(0.0) as usize;
    (0..=n)
        .map(|i| {
            if n == 0 {
                from
            } else {
                from + (to - from) * i as f64 / n as f64
            }
        })
        .collect()
}

/// One window of the grid, as shares of the picture's sides: its width and height, and
/// its offset from the top left corner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridWindow {
    pub size: (f64, f64),
    pub at: (f64, f64),
}

/// The grid's windows for a `picture`.
pub fn grid_layout() -> Vec<GridWindow> {
    layout(&CROP_KEEPS, GRID_STEP)
}

/// A grid for the crops keeping `keeps` (of the width, of the height), windows `step`
/// apart.
pub fn layout(keeps: &[(f64, f64)], step: f64) -> Vec<GridWindow> {
    let margin = (1.0 - STORED_KEEP) / 2.0;
    // Per side kept `k`: (window size, offsets) where the other side's centre window lies.
    // The query is the crop (cut at any offset in 0..1-k of the original): the original's
    // centre window is `STORED_KEEP / k` of the query, from (margin - (1 - k)) / k to
    // margin / k.
    let crop = |k: f64| {
        let from = ((margin - (1.0 - k)) / k).max(0.0);
        (STORED_KEEP / k, offsets(from, margin / k, step))
    };
    // The query is the original: the crop's centre window is `STORED_KEEP * k` of it, from
    // margin * k to margin * k + (1 - k).
    let original = |k: f64| {
        let from = margin * k;
        (STORED_KEEP * k, offsets(from, from + (1.0 - k), step))
    };
    let mut out = Vec::new();
    for &(kx, ky) in keeps {
        for (x, y) in [(crop(kx), crop(ky)), (original(kx), original(ky))] {
            for &at_y in &y.1 {
                for &at_x in &x.1 {
                    out.push(GridWindow {
                        size: (x.0, y.0),
                        at: (at_x, at_y),
                    });
                }
            }
        }
    }
    out
}

/// The grid of one query frame: the hashes of its windows of quality ≥ 50.
pub fn grid(
    hasher: &mut PdqHasher,
    small: &Reduced,
    picture: Rect,
    layout: &[GridWindow],
) -> Result<Vec<PdqHash>, MediaError> {
    let mut out = Vec::new();
    for w in layout {
        let (h, q) = hash_window(hasher, small, window(picture, w.size, w.at))?;
        if q >= MIN_QUALITY {
            out.push(h);
        }
    }
    Ok(out)
}

/// One sampled query frame's window grid.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryGrid {
    pub frame_number: u64,
    pub timestamp: f64,
    /// The windows' hashes (quality ≥ 50 only).
    pub hashes: Vec<PdqHash>,
}

/// Whether a frame at `timestamp` is sampled for the grid, given the time of the frame
/// before it (`None` for the first): the first frame of every [`SAMPLE_SECONDS`].
pub fn sampled(timestamp: f64, previous: Option<f64>) -> bool {
    previous.is_none_or(|p| (timestamp / SAMPLE_SECONDS).floor() > (p / SAMPLE_SECONDS).floor())
}

/// The picture of a reduced frame: inside its borders ([`crate::borders`]), else all of it.
pub fn picture(small: &Reduced) -> Rect {
    borders::detect(&small.rgb, small.width, small.height, small.width * 3).unwrap_or(Rect {
        x: 0,
        y: 0,
        width: small.width,
        height: small.height,
    })
}

/// The grid of a decoded frame (packed RGB, `width * 3` bytes a row), reduced and cut to
/// its picture as the variants are.
pub(crate) fn frame_grid(
    hasher: &mut PdqHasher,
    rgb: &[u8],
    width: usize,
    height: usize,
) -> Result<Vec<PdqHash>, MediaError> {
    match variants::reduce(rgb, width, height, width * 3) {
        Some(small) => grid(hasher, &small, picture(&small), &grid_layout()),
        None => Ok(Vec::new()),
    }
}

/// Items whose stored centre windows (`stored`, built from their `window` variants) are hit
/// by the query's grids, scored over the sampled frames that have a usable window.
pub fn search(stored: &Index, grids: &[QueryGrid], exclude: Option<u32>) -> Vec<Match> {
    let usable: Vec<&QueryGrid> = grids.iter().filter(|g| !g.hashes.is_empty()).collect();
    let mut hits = Vec::new();
    for (qi, g) in usable.iter().enumerate() {
        // Per item frame, the closest window.
        let mut best: HashMap<(u32, u32), Hit> = HashMap::new();
        for found in stored.radius_many(&g.hashes, MATCH_DISTANCE) {
            for (posting, distance) in found {
                let e = best.entry((posting.owner, posting.frame)).or_insert(Hit {
                    query_frame: qi,
                    query_time: g.timestamp,
                    posting,
                    distance,
                    transform: "cropped",
                });
                if distance < e.distance {
                    e.distance = distance;
                }
            }
        }
        hits.extend(best.into_values());
    }
    similar::score(usable.len(), |o| stored.usable_frames(o), hits, exclude)
}

/// Merges the window matches into the frame matches: per item the better of the two
/// (by the larger share), best first as [`similar::score`] orders them.
pub fn merge(frames: Vec<Match>, windows: Vec<Match>) -> Vec<Match> {
    let mut by_owner: HashMap<u32, Match> = HashMap::new();
    for m in frames.into_iter().chain(windows) {
        let share = |m: &Match| m.query_match.max(m.item_match);
        match by_owner.get(&m.owner) {
            Some(old) if share(old) >= share(&m) => {}
            _ => {
                by_owner.insert(m.owner, m);
            }
        }
    }
    let mut out: Vec<Match> = by_owner.into_values().collect();
    out.sort_by(|a, b| {
        (b.query_match + b.item_match)
            .total_cmp(&(a.query_match + a.item_match))
            .then(a.distance.cmp(&b.distance))
            .then(a.owner.cmp(&b.owner))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpdq::VpdqFrame;

    /// A textured picture (smooth, as camera footage is at this scale, with finer detail
    /// than the variants' tests use, for small windows).
    fn picture_rgb(w: usize, h: usize) -> Vec<u8> {
        crate::borders::tests::textured(w, h, 25.0, 20.0)
    }

    fn crop(rgb: &[u8], w: usize, at: (usize, usize), size: (usize, usize)) -> Vec<u8> {
        let mut out = Vec::with_capacity(size.0 * size.1 * 3);
        for y in at.1..at.1 + size.1 {
            out.extend_from_slice(&rgb[(y * w + at.0) * 3..][..size.0 * 3]);
        }
        out
    }

    fn reduced(rgb: Vec<u8>, width: usize, height: usize) -> Reduced {
        Reduced { rgb, width, height }
    }

    fn closest(grid: &[PdqHash], h: &PdqHash) -> u32 {
        grid.iter().map(|g| g.distance(h)).min().unwrap_or(u32::MAX)
    }

    #[test]
    fn crops_at_any_offset_meet_the_other_sides_centre_window() {
        let (w, h) = (320, 180);
        let orig = reduced(picture_rgb(w, h), w, h);
        let mut hasher = PdqHasher::new();
        let (ow, oq) = centre(&mut hasher, &orig, picture(&orig)).unwrap();
        assert!(oq >= MIN_QUALITY, "{oq}");
        let og = grid(&mut hasher, &orig, picture(&orig), &grid_layout()).unwrap();
        let (cw, ch) = (288, 162);
        // Corners and points in between of the 32×18 slack.
        for at in [(0, 0), (32, 18), (0, 18), (32, 0), (13, 5), (27, 11)] {
            let copy = reduced(crop(&orig.rgb, w, at, (cw, ch)), cw, ch);
            let (cwin, _) = centre(&mut hasher, &copy, picture(&copy)).unwrap();
            // Without the grid, the corner crops' centre windows are not near the
            // original's.
            if at.0 % 32 == 0 && at.1 % 18 == 0 {
                assert!(cwin.distance(&ow) > MATCH_DISTANCE, "{at:?}");
            }
            let cg = grid(&mut hasher, &copy, picture(&copy), &grid_layout()).unwrap();
            // The copy as the query finds the original's window, and the other way round.
            let (d1, d2) = (closest(&cg, &ow), closest(&og, &cwin));
            assert!(
                d1 <= MATCH_DISTANCE && d2 <= MATCH_DISTANCE,
                "{at:?}: {d1} {d2}"
            );
        }
        // Cropped across the height only (the whole width kept), or across the width only.
        for (at, size) in [((0, 18), (w, ch)), ((0, 0), (w, ch)), ((32, 0), (cw, h))] {
            let copy = reduced(crop(&orig.rgb, w, at, size), size.0, size.1);
            let (cwin, _) = centre(&mut hasher, &copy, picture(&copy)).unwrap();
            let cg = grid(&mut hasher, &copy, picture(&copy), &grid_layout()).unwrap();
            let (d1, d2) = (closest(&cg, &ow), closest(&og, &cwin));
            assert!(
                d1 <= MATCH_DISTANCE && d2 <= MATCH_DISTANCE,
                "{at:?} {size:?}: {d1} {d2}"
            );
            // Only the one-sided windows find it.
            let both = grid(
                &mut hasher,
                &copy,
                picture(&copy),
                &layout(&[(0.9, 0.9)], GRID_STEP),
            )
            .unwrap();
            assert!(closest(&both, &ow) > d1, "{at:?} {size:?}");
        }
    }

    #[test]
    fn the_grid_stays_inside_the_picture() {
        let l = grid_layout();
        // Two window sizes per crop, every offset inside the picture.
        assert!(l.len() > 100, "{}", l.len());
        for w in &l {
            let ((sw, sh), (x, y)) = (w.size, w.at);
            assert!(sw > 0.5 && sw < 1.0 && sh > 0.5 && sh < 1.0, "{w:?}");
            assert!(x >= 0.0 && y >= 0.0 && x + sw <= 1.0 + 1e-9 && y + sh <= 1.0 + 1e-9);
        }
        // A side that is not cropped has one offset: the stored window's own.
        let one_sided = layout(&[(1.0, 0.9)], GRID_STEP);
        assert!(one_sided
            .iter()
            .all(|w| (w.at.0 - 0.1).abs() < 1e-9 && w.size.0 == 0.8));
        let p = Rect {
            x: 10,
            y: 4,
            width: 140,
            height: 240,
        };
        for w in grid_layout() {
            let r = window(p, w.size, w.at);
            assert!(r.x >= p.x && r.x + r.width <= p.x + p.width, "{r:?}");
            assert!(r.y >= p.y && r.y + r.height <= p.y + p.height, "{r:?}");
        }
    }

    #[test]
    fn one_frame_a_second_is_sampled() {
        let at = |n: u64| n as f64 / 30.0;
        let every: Vec<u64> = (0..100u64)
            .filter(|&n| sampled(at(n), n.checked_sub(1).map(at)))
            .collect();
        assert_eq!(every, vec![0, 30, 60, 90]);
        // Every 4th frame read (a stride): still the first of each second.
        let strided: Vec<u64> = (0..100u64)
            .step_by(4)
            .filter(|&n| sampled(at(n), n.checked_sub(4).map(at)))
            .collect();
        assert_eq!(strided, vec![0, 32, 60, 92]);
    }

    fn rand_hash(seed: u64) -> PdqHash {
        PdqHash::pseudo_random(seed)
    }

    #[test]
    fn window_hits_are_scored_over_the_sampled_frames_and_merged() {
        // Item 0 stores windows w0..w9 (one per second), item 1 unrelated ones.
        let mut stored = Index::new();
        let frames = |seed: u64| -> Vec<VpdqFrame> {
            (0..10)
                .map(|i| VpdqFrame {
                    frame_number: i * 30,
                    quality: 90,
                    hash: rand_hash(seed + i),
                    timestamp: i as f64,
                })
                .collect()
        };
        stored.add_video(0, &frames(0));
        stored.add_video(1, &frames(1000));
        // Four sampled query frames: two carry item 0's window among unrelated ones, one
        // none, one has no usable window at all (it does not count).
        let grids = vec![
            QueryGrid {
                frame_number: 0,
                timestamp: 0.0,
                hashes: vec![rand_hash(500), rand_hash(2)],
            },
            QueryGrid {
                frame_number: 30,
                timestamp: 1.0,
                hashes: vec![rand_hash(3), rand_hash(501)],
            },
            QueryGrid {
                frame_number: 60,
                timestamp: 2.0,
                hashes: vec![rand_hash(502)],
            },
            QueryGrid {
                frame_number: 90,
                timestamp: 3.0,
                hashes: Vec::new(),
            },
        ];
        let m = search(&stored, &grids, None);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!((m[0].owner, m[0].transform), (0, "cropped"));
        assert!((m[0].query_match - 2.0 / 3.0).abs() < 1e-9, "{m:?}");
        assert!((m[0].item_match - 0.2).abs() < 1e-9, "{m:?}");
        assert!(search(&stored, &grids, Some(0)).is_empty());
        // Merged with frame matches: each item keeps its better result.
        let frame_match = |owner, share| Match {
            owner,
            query_match: share,
            item_match: share,
            distance: 3,
            transform: "original",
            segments: Vec::new(),
        };
        let merged = merge(vec![frame_match(0, 0.1), frame_match(1, 0.9)], m);
        let got: Vec<(u32, &str)> = merged.iter().map(|m| (m.owner, m.transform)).collect();
        assert_eq!(got, vec![(1, "original"), (0, "cropped")]);
    }
}
