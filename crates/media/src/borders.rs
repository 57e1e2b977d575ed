//! Constant-colour borders (letterbox, pillarbox, padding) around a picture.
//!
//! Re-uploads are often letterboxed or padded to another aspect ratio; the bars change the
//! PDQ hash of every frame beyond the match distance. [`detect`] finds the picture inside
//! such bars so that an extra hash of the picture alone can be taken (see
//! [`crate::variants`]). It works on packed RGB, checks only lines from the edges inwards,
//! and tolerates compression noise in the bars and overlays laid over them: a channel logo
//! in a corner or a caption band across the frame leaves a bar line uniform except for one
//! stretch, where a line of picture differs from the bar colour all along. Borders inside
//! borders (a padded copy of a letterboxed clip) are removed too.

/// A rectangle in pixels: left, top, width, height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// Largest per-channel difference from the bar's colour still counted as bar.
const TOLERANCE: i32 = 24;
/// Share of a line's pixels that must be within tolerance for the line to be bar.
const UNIFORM_SHARE: f64 = 0.97;
/// A line of a black bar is also bar when its pixels out of tolerance (but for a few
/// strays) lie within one stretch no longer than this share of the line: an overlay over
/// the bar.
const OVERLAY_SHARE: f64 = 0.45;
/// Bars this dark (every channel at most this) are black bars, the kind logos and
/// captions are laid over; bars of other colours (padding, or a flat wall in the picture)
/// must be uniform.
const BLACK: i32 = 40;
/// A bar that is not black is only a border when the line after it has less than this
/// share of the bar's colour.
const EDGE_SHARE: f64 = 0.5;
/// Lines between a bar that is not black and the picture that may blend the two.
const BLEND_LINES: usize = 2;
/// Borders inside borders removed at most.
const MAX_NESTED: usize = 3;
/// Bars thinner than this share of the side (both edges together) are ignored.
const MIN_BORDER_SHARE: f64 = 0.03;
/// A picture smaller than this share of a side is not a picture (a blank or fading frame).
const MIN_CONTENT_SHARE: f64 = 0.3;

/// The picture inside constant-colour borders, or `None` when the frame has no borders
/// worth removing (or is itself nearly uniform). `rgb` is packed 8-bit RGB with `stride`
/// bytes per row.
pub fn detect(rgb: &[u8], width: usize, height: usize, stride: usize) -> Option<Rect> {
    if width < 8
        || height < 8
        || stride < width * 3
        || rgb.len() < stride * (height - 1) + width * 3
    {
        return None;
    }
    let f = Frame { rgb, stride };
    let mut found: Option<Rect> = None;
    for _ in 0..MAX_NESTED {
        let outer = found.unwrap_or(Rect {
            x: 0,
            y: 0,
            width,
            height,
        });
        match detect_in(&f, outer, (width, height)) {
            Some(r) => found = Some(r),
            None => break,
        }
    }
    found
}

/// The picture inside constant-colour borders within `outer`, as [`detect`] describes;
/// `frame` is the whole frame's size (the picture must keep a share of it).
fn detect_in(f: &Frame<'_>, outer: Rect, frame: (usize, usize)) -> Option<Rect> {
    let (ox, oy, w, h) = (outer.x, outer.y, outer.width, outer.height);
    if w < 8 || h < 8 {
        return None;
    }
    let top = f.bar(|i| Line::Row(oy + i, ox, ox + w), h);
    if top >= h {
        return None;
    }
    let bottom = f.bar(|i| Line::Row(oy + h - 1 - i, ox, ox + w), h - top);
    let (y0, y1) = (oy + top, oy + h - bottom);
    let left = f.bar(|i| Line::Col(ox + i, y0, y1), w);
    if left >= w {
        return None;
    }
    let right = f.bar(|i| Line::Col(ox + w - 1 - i, y0, y1), w - left);
    let (x0, x1) = (ox + left, ox + w - right);
    let (cw, ch) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    if (cw as f64) < MIN_CONTENT_SHARE * frame.0 as f64
        || (ch as f64) < MIN_CONTENT_SHARE * frame.1 as f64
    {
        return None;
    }
    let removed_x = (w - cw) as f64 / w as f64;
    let removed_y = (h - ch) as f64 / h as f64;
    if removed_x < MIN_BORDER_SHARE && removed_y < MIN_BORDER_SHARE {
        return None;
    }
    Some(Rect {
        x: x0,
        y: y0,
        width: cw,
        height: ch,
    })
}

/// A row (`y`, from `x0` to `x1`) or a column (`x`, from `y0` to `y1`) of pixels.
#[derive(Clone, Copy)]
enum Line {
    Row(usize, usize, usize),
    Col(usize, usize, usize),
}

struct Frame<'a> {
    rgb: &'a [u8],
    stride: usize,
}

impl Frame<'_> {
    fn px(&self, x: usize, y: usize) -> [i32; 3] {
        let o = y * self.stride + x * 3;
        [
            i32::from(self.rgb[o]),
            i32::from(self.rgb[o + 1]),
            i32::from(self.rgb[o + 2]),
        ]
    }

    fn pixels(&self, line: Line) -> impl Iterator<Item = [i32; 3]> + '_ {
        let (fixed, range, row) = match line {
            Line::Row(y, a, b) => (y, a..b, true),
            Line::Col(x, a, b) => (x, a..b, false),
        };
        range.map(move |i| {
            if row {
                self.px(i, fixed)
            } else {
                self.px(fixed, i)
            }
        })
    }

    /// The line's median colour (per channel): the bar's colour even where an overlay
    /// covers part of the line.
    fn median(&self, line: Line) -> [i32; 3] {
        let mut ch: [Vec<i32>; 3] = Default::default();
        for p in self.pixels(line) {
            for c in 0..3 {
                ch[c].push(p[c]);
            }
        }
        ch.map(|mut v| {
            if v.is_empty() {
                return 0;
            }
            let mid = v.len() / 2;
            *v.select_nth_unstable(mid).1
        })
    }

    /// Whether the line is bar of `colour`: nearly all of it within tolerance, or, for a
    /// black bar, all but one stretch (an overlay) no longer than [`OVERLAY_SHARE`] of it,
    /// apart from a few stray pixels.
    fn uniform(&self, line: Line, colour: [i32; 3]) -> bool {
        let mut off = Vec::new();
        let mut n = 0usize;
        for (i, p) in self.pixels(line).enumerate() {
            if !(0..3).all(|c| (p[c] - colour[c]).abs() <= TOLERANCE) {
                off.push(i);
            }
            n += 1;
        }
        if n == 0 {
            return false;
        }
        let strays = ((1.0 - UNIFORM_SHARE) * n as f64) as usize;
        if off.len() <= strays {
            return true;
        }
        if colour.iter().any(|&c| c > BLACK) {
            return false;
        }
        // Leave out up to `strays` pixels at the two ends of the off-colour stretch.
        let (a, b) = (strays / 2, off.len() - 1 - strays / 2);
        b >= a && ((off[b] - off[a] + 1) as f64) <= OVERLAY_SHARE * n as f64
    }

    /// How many lines from one edge are bar of the edge line's colour; `line(i)` is the
    /// i-th line from that edge, at most `limit` are looked at.
    fn bar(&self, line: impl Fn(usize) -> Line, limit: usize) -> usize {
        // The outermost line may be blended with what lies beyond it (chroma subsampling
        // at the edge of a pad around a letterboxed picture): the colour is taken one line
        // in, and the outermost line goes with the bar.
        let first = usize::from(limit > 2);
        let colour = self.median(line(first));
        let mut n = first;
        while n < limit && self.uniform(line(n), colour) {
            n += 1;
        }
        if n == first {
            return 0;
        }
        // A bar ends at an edge: the next line is mostly picture. Where it is mostly the
        // bar's colour still, this is flat picture (a wall, the sky), not a border. Black
        // bars are the exception: dark picture often meets them. Up to [`BLEND_LINES`]
        // lines between bar and picture may be a blend of the two (a picture edge that
        // falls inside a pixel when the frame is scaled, chroma subsampling): they go with
        // the bar when the picture proper follows them.
        if colour.iter().all(|&c| c <= BLACK) {
            return n;
        }
        for blend in 0..=BLEND_LINES {
            if n + blend >= limit {
                return n + blend;
            }
            if self.share_of(line(n + blend), colour) < EDGE_SHARE {
                return n + blend;
            }
        }
        0
    }

    /// Share of the line's pixels within tolerance of `colour`.
    fn share_of(&self, line: Line, colour: [i32; 3]) -> f64 {
        let (mut ok, mut n) = (0usize, 0usize);
        for p in self.pixels(line) {
            ok += usize::from((0..3).all(|c| (p[c] - colour[c]).abs() <= TOLERANCE));
            n += 1;
        }
        ok as f64 / n.max(1) as f64
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A smooth textured picture (as camera footage is at these sizes), packed RGB: broad
    /// waves, plus finer ones of amplitude `fine` and `finer` (0 leaves them out).
    pub(crate) fn textured(w: usize, h: usize, fine: f64, finer: f64) -> Vec<u8> {
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let (u, v) = (x as f64 / w as f64, y as f64 / h as f64);
                let l = 128.0
                    + 60.0 * (u * 9.0 + v * 2.0).sin()
                    + 50.0 * (v * 7.0 - u * u * 5.0).cos()
                    + fine * (u * 31.0).sin() * (v * 23.0).cos()
                    + finer * (u * 47.0 + v * 13.0).sin() * (v * 37.0 - u * 5.0).cos();
                let l = l.clamp(0.0, 255.0) as u8;
                rgb[(y * w + x) * 3..][..3].copy_from_slice(&[l, l / 2, 255 - l]);
            }
        }
        rgb
    }

    /// A `w`×`h` frame of textured picture, with `pad` = (left, top, right, bottom) bars of
    /// `colour` (plus a little noise in the bars, as a codec leaves).
    pub(crate) fn framed(
        w: usize,
        h: usize,
        pad: (usize, usize, usize, usize),
        colour: [u8; 3],
    ) -> Vec<u8> {
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let o = (y * w + x) * 3;
                let inside = x >= pad.0 && y >= pad.1 && x < w - pad.2 && y < h - pad.3;
                let v = if inside {
                    let (u, v) = (x - pad.0, y - pad.1);
                    [
                        ((u * 7 + v * 3) % 256) as u8,
                        ((u * v / 5) % 256) as u8,
                        ((u ^ v) % 256) as u8,
                    ]
                } else {
                    let n = ((x * 31 + y * 17) % 7) as u8;
                    [
                        colour[0].saturating_add(n),
                        colour[1].saturating_add(n),
                        colour[2].saturating_add(n),
                    ]
                };
                rgb[o..o + 3].copy_from_slice(&v);
            }
        }
        rgb
    }

    #[test]
    fn check_border_cases() {
        let check = |w: usize,
                     h: usize,
                     pad: (usize, usize, usize, usize),
                     colour: [u8; 3],
                     want: Option<(usize, usize, usize, usize)>| {
            let rgb = framed(w, h, pad, colour);
            let got = detect(&rgb, w, h, w * 3).map(|r| (r.x, r.y, r.width, r.height));
            assert_eq!(got, want, "{w}x{h} pad {pad:?} colour {colour:?}");
        };
        // Letterbox (black bars top and bottom).
        check(160, 120, (0, 15, 0, 15), [0, 0, 0], Some((0, 15, 160, 90)));
        // Pillarbox in grey, and padding on all sides in a colour.
        check(
            160,
            90,
            (20, 0, 20, 0),
            [128, 128, 128],
            Some((20, 0, 120, 90)),
        );
        check(
            200,
            150,
            (10, 12, 14, 16),
            [20, 90, 200],
            Some((10, 12, 176, 122)),
        );
        // No borders, or bars too thin to matter.
        check(160, 120, (0, 0, 0, 0), [0, 0, 0], None);
        check(160, 120, (0, 1, 0, 1), [0, 0, 0], None);
        // A blank frame is not a picture in borders.
        check(160, 120, (80, 60, 80, 60), [0, 0, 0], None);
        // Too small to judge, and a short buffer.
        check(6, 6, (0, 1, 0, 1), [0, 0, 0], None);
        assert_eq!(detect(&[0u8; 10], 160, 120, 480), None);
    }

    #[test]
    fn a_line_blending_bar_and_picture_goes_with_the_bar() {
        let (w, h) = (160, 120);
        let yellow = [224, 170, 22];
        // A yellow pad above the picture, and one line where the two blend (most of it
        // still near the pad's colour, as a scaled frame leaves it).
        let blended = |lines: usize| {
            let mut rgb = framed(w, h, (0, 20, 0, 0), yellow);
            for y in 20..20 + lines {
                for x in (0..w).filter(|x| x % 5 != 0) {
                    rgb[(y * w + x) * 3..][..3].copy_from_slice(&yellow);
                }
            }
            detect(&rgb, w, h, w * 3).map(|r| (r.x, r.y, r.width, r.height))
        };
        assert_eq!(blended(1), Some((0, 21, w, 99)));
        assert_eq!(blended(2), Some((0, 22, w, 98)));
        // Many such lines are flat picture (a wall) running into the frame: no border.
        assert_eq!(blended(4), None);
    }

    /// Paints a `colour` rectangle (x, y, w, h) over a `w`-wide frame.
    fn paint(rgb: &mut [u8], w: usize, r: (usize, usize, usize, usize), colour: [u8; 3]) {
        for y in r.1..r.1 + r.3 {
            for x in r.0..r.0 + r.2 {
                rgb[(y * w + x) * 3..][..3].copy_from_slice(&colour);
            }
        }
    }

    #[test]
    fn overlays_over_the_bars_and_borders_inside_borders() {
        let (w, h) = (160, 120);
        // Pillarbox (24-pixel bars) with a caption band across the whole width near the
        // bottom, or a logo over the top-left corner: still the same picture.
        for overlay in [(0, 96, w, 10), (4, 4, 40, 30)] {
            let mut rgb = framed(w, h, (24, 0, 24, 0), [0, 0, 0]);
            paint(&mut rgb, w, overlay, [250, 250, 60]);
            let r = detect(&rgb, w, h, w * 3).map(|r| (r.x, r.y, r.width, r.height));
            assert_eq!(r, Some((24, 0, 112, 120)), "{overlay:?}");
        }
        // The same pillarboxed picture padded in yellow, off centre: both borders go.
        let (pw, ph) = (200, 150);
        let inner = framed(w, h, (24, 0, 24, 0), [0, 0, 0]);
        let mut padded = framed(pw, ph, (pw, ph, 0, 0), [230, 230, 30]);
        for y in 0..h {
            padded[((y + 10) * pw + 30) * 3..][..w * 3]
                .copy_from_slice(&inner[y * w * 3..][..w * 3]);
        }
        let r = detect(&padded, pw, ph, pw * 3).map(|r| (r.x, r.y, r.width, r.height));
        assert_eq!(r, Some((54, 10, 112, 120)));
        // Lines of picture that are mostly as dark as the bars but differ all along (bright
        // specks scattered over it) are not bar.
        let mut dark = framed(w, h, (0, 20, 0, 20), [0, 0, 0]);
        for y in 20..100 {
            for x in 0..w {
                let v = if (x + 3 * y) % 8 < 2 { 255 } else { 0 };
                dark[(y * w + x) * 3..][..3].copy_from_slice(&[v, v, v]);
            }
        }
        let r = detect(&dark, w, h, w * 3).map(|r| (r.x, r.y, r.width, r.height));
        assert_eq!(r, Some((0, 20, w, 80)));
    }
}
