//! Constant-colour borders (letterbox, pillarbox, padding) around a picture.
//!
//! Re-uploads are often letterboxed or padded to another aspect ratio; the bars change the
//! PDQ hash of every frame beyond the match distance. [`detect`] finds the picture inside
//! such bars so that an extra hash of the picture alone can be taken (see
//! [`crate::variants`]). It works on packed RGB, checks only lines from the edges inwards,
//! and tolerates compression noise in the bars.

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
    let (w, h) = (width, height);
    let top = f.bar(|i| Line::Row(i, 0, w), h);
    if top >= h {
        return None;
    }
    let bottom = f.bar(|i| Line::Row(h - 1 - i, 0, w), h - top);
    let (y0, y1) = (top, h - bottom);
    let left = f.bar(|i| Line::Col(i, y0, y1), w);
    if left >= w {
        return None;
    }
    let right = f.bar(|i| Line::Col(w - 1 - i, y0, y1), w - left);
    let (x0, x1) = (left, w - right);
    let (cw, ch) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    if (cw as f64) < MIN_CONTENT_SHARE * w as f64 || (ch as f64) < MIN_CONTENT_SHARE * h as f64 {
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

    fn mean(&self, line: Line) -> [i32; 3] {
        let (mut s, mut n) = ([0i64; 3], 0i64);
        for p in self.pixels(line) {
            for c in 0..3 {
                s[c] += i64::from(p[c]);
            }
            n += 1;
        }
        let n = n.max(1);
        [(s[0] / n) as i32, (s[1] / n) as i32, (s[2] / n) as i32]
    }

    /// Whether nearly all of the line is within tolerance of `colour`.
    fn uniform(&self, line: Line, colour: [i32; 3]) -> bool {
        let (mut ok, mut n) = (0usize, 0usize);
        for p in self.pixels(line) {
            ok += usize::from((0..3).all(|c| (p[c] - colour[c]).abs() <= TOLERANCE));
            n += 1;
        }
        n > 0 && ok as f64 >= UNIFORM_SHARE * n as f64
    }

    /// How many lines from one edge are bar of the edge line's colour; `line(i)` is the
    /// i-th line from that edge, at most `limit` are looked at.
    fn bar(&self, line: impl Fn(usize) -> Line, limit: usize) -> usize {
        let colour = self.mean(line(0));
        let mut n = 0;
        while n < limit && self.uniform(line(n), colour) {
            n += 1;
        }
        n
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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
}
