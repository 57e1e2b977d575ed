//! Review images: what an investigator sees before deciding to look at the
//! original. An image gets a thumbnail (at most 512 px on its long side); a
//! video gets a contact sheet (up to 4×4 frames spread evenly over its
//! duration, each at most 320 px wide). Each comes in three JPEG variants:
//! `blurred` (greyscale with a strong Gaussian blur, so faces cannot be
//! recognised: the default for reviewers), `greyscale` and `clear`.
//!
//! Images are decoded in-process by the pure-Rust `image` crate with
//! allocation limits; video frames come from FFmpeg children (one short
//! seek-and-decode per frame) under one overall time limit. The bytes are
//! returned; the caller stores them.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GenericImage, GrayImage, ImageDecoder, RgbImage};

use crate::process::{self, Limits};
use crate::vpdq::MAX_FRAME_DIM;
use crate::MediaError;

/// Blur strength: the Gaussian's sigma as a fraction of the long side of the
/// picture it blurs (a thumbnail, or one tile of a contact sheet).
pub const BLUR_SIGMA_FRACTION: f32 = 0.03;

/// How review images are made.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewOptions {
    /// Longest side of an image's thumbnail, in pixels.
    pub thumbnail_max: u32,
    /// Widest a contact-sheet tile may be, in pixels.
    pub tile_max_width: u32,
    /// Contact-sheet grid (columns × rows = most frames shown).
    pub columns: u32,
    pub rows: u32,
    /// JPEG quality 1..=100.
    pub jpeg_quality: u8,
    /// Largest image decoded, in pixels (width × height). Can only lower
    /// [`crate::DECODE_BUDGET`], which every in-process decode is under.
    pub max_image_pixels: u64,
    /// Overall wall-clock limit for a video, and memory limit for each FFmpeg child.
    pub limits: Limits,
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            thumbnail_max: 512,
            tile_max_width: 320,
            columns: 4,
            rows: 4,
            jpeg_quality: 80,
            max_image_pixels: crate::DECODE_BUDGET.max_pixels,
            limits: Limits {
                time: Duration::from_secs(120),
                memory_bytes: 2 << 30,
            },
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
        }
    }
}

/// What the review images show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    /// A still image, scaled down.
    Thumbnail,
    /// Frames of a video on a grid.
    ContactSheet,
}

/// One encoded review image.
#[derive(Clone, PartialEq, Eq)]
pub struct ReviewImage {
    pub width: u32,
    pub height: u32,
    /// JPEG bytes.
    pub jpeg: Vec<u8>,
}

impl std::fmt::Debug for ReviewImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

/// The three variants of one review picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewImages {
    pub kind: ReviewKind,
    /// Greyscale and strongly blurred: show this by default.
    pub blurred: ReviewImage,
    pub greyscale: ReviewImage,
    /// Colour, unblurred: reveal only on a deliberate action.
    pub clear: ReviewImage,
    /// Frames on the contact sheet (1 for a thumbnail).
    pub frames: u32,
}

/// Makes review images for an image or a video, told apart by content.
pub fn review_images(
    path: impl AsRef<Path>,
    opts: &ReviewOptions,
) -> Result<ReviewImages, MediaError> {
    let path = path.as_ref();
    crate::regular_file(path)?;
    let mut head = Vec::with_capacity(64);
    File::open(path)
        .map_err(|e| MediaError::io(path, e))?
        .take(64)
        .read_to_end(&mut head)
        .map_err(|e| MediaError::io(path, e))?;
    // Formats the `image` crate recognises but was built without go to FFmpeg.
    if image::guess_format(&head).is_ok_and(|f| f.reading_enabled()) {
        image_review(path, opts)
    } else {
        video_review(path, opts)
    }
}

/// A thumbnail of a still image (EXIF orientation applied).
pub fn image_review(
    path: impl AsRef<Path>,
    opts: &ReviewOptions,
) -> Result<ReviewImages, MediaError> {
    let path = path.as_ref();
    crate::regular_file(path)?;
    let decode = |source| MediaError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let mut budget = crate::image_rgb::DECODE_BUDGET;
    budget.max_pixels = budget.max_pixels.min(opts.max_image_pixels);
    let mut decoder = crate::image_rgb::open_image(path, &budget)?;
    let orientation = decoder.orientation().map_err(decode)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode)?;
    img.apply_orientation(orientation);
    let max = opts.thumbnail_max.max(1);
    let thumb = if img.width() > max || img.height() > max {
        img.thumbnail(max, max)
    } else {
        img
    };
    let clear = thumb.to_rgb8();
    let grey = DynamicImage::ImageRgb8(clear.clone()).to_luma8();
    let blurred = blur(&grey);
    Ok(ReviewImages {
        kind: ReviewKind::Thumbnail,
        blurred: encode(path, DynamicImage::ImageLuma8(blurred), opts)?,
        greyscale: encode(path, DynamicImage::ImageLuma8(grey), opts)?,
        clear: encode(path, DynamicImage::ImageRgb8(clear), opts)?,
        frames: 1,
    })
}

/// A contact sheet of a video: frames spread evenly over its duration.
pub fn video_review(
    path: impl AsRef<Path>,
    opts: &ReviewOptions,
) -> Result<ReviewImages, MediaError> {
    let path = path.as_ref();
    crate::regular_file(path)?;
    let start = Instant::now();
    let deadline = start + opts.limits.time;
    let meta_opts = crate::metadata::MetadataOptions {
        limits: opts.limits,
        ffprobe: opts.ffprobe.clone(),
    };
    let meta = crate::metadata::ffprobe_only(path, &meta_opts)?;
    let bad = |reason: String| MediaError::BadVideo {
        path: path.to_path_buf(),
        reason,
    };
    let video = meta
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"))
        .ok_or_else(|| bad("no video stream".into()))?;
    let (w, h) = match (video.width, video.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(bad("video stream without a frame size".into())),
    };
    if w > MAX_FRAME_DIM || h > MAX_FRAME_DIM {
        return Err(bad(format!(
            "frame size {w}x{h} above the {MAX_FRAME_DIM} limit"
        )));
    }
    let tw = opts.tile_max_width.clamp(1, w);
    let th = ((u64::from(h) * u64::from(tw) + u64::from(w) / 2) / u64::from(w))
        .clamp(1, u64::from(opts.tile_max_width.max(1)) * 4) as u32;
    let duration = meta
        .duration_s
        .or(video.duration_s)
        .filter(|d| *d > 0.0 && d.is_finite());
    let slots = (opts.columns.max(1) * opts.rows.max(1)) as usize;
    let times: Vec<f64> = match duration {
        Some(d) => (0..slots)
            .map(|i| d * (i as f64 + 0.5) / slots as f64)
            .collect(),
        None => vec![0.0],
    };
    let ffmpeg = crate::vpdq::find_tool(&opts.ffmpeg, path)?;
    let timeout = || MediaError::Timeout {
        path: path.to_path_buf(),
        tool: "ffmpeg".into(),
        limit_s: opts.limits.time.as_secs(),
    };
    // Frames are grabbed by one short child each, a few at a time, in order.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut grabbed: Vec<(usize, Result<Option<RgbImage>, MediaError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(&t) = times.get(i) else { break };
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            out.push((i, Err(timeout())));
                            break;
                        }
                        let limits = Limits {
                            time: left,
                            ..opts.limits
                        };
                        out.push((i, grab_frame(&ffmpeg, path, t, tw, th, limits)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    grabbed.sort_by_key(|(i, _)| *i);
    let mut tiles: Vec<RgbImage> = Vec::new();
    let mut last_err = None;
    for (_, r) in grabbed {
        match r {
            Ok(Some(tile)) => tiles.push(tile),
            Ok(None) => {}
            Err(MediaError::Timeout { .. }) => return Err(timeout()),
            Err(e) => last_err = Some(e),
        }
    }
    if tiles.is_empty() {
        return Err(last_err.unwrap_or_else(|| bad("no frame could be decoded".into())));
    }
    let n = tiles.len() as u32;
    let cols = opts.columns.max(1).min(n);
    let rows = n.div_ceil(cols);
    let sheet =
        |f: &dyn Fn(&RgbImage) -> DynamicImage, grey: bool| -> Result<DynamicImage, MediaError> {
            let mut out = if grey {
                DynamicImage::ImageLuma8(GrayImage::new(cols * tw, rows * th))
            } else {
                DynamicImage::ImageRgb8(RgbImage::new(cols * tw, rows * th))
            };
            for (i, tile) in tiles.iter().enumerate() {
                let i = i as u32;
                out.copy_from(&f(tile), (i % cols) * tw, (i / cols) * th)
                    .map_err(|source| MediaError::Encode {
                        path: path.to_path_buf(),
                        source,
                    })?;
            }
            Ok(out)
        };
    let to_grey = |t: &RgbImage| DynamicImage::ImageRgb8(t.clone()).to_luma8();
    let clear = sheet(&|t| DynamicImage::ImageRgb8(t.clone()), false)?;
    let greyscale = sheet(&|t| DynamicImage::ImageLuma8(to_grey(t)), true)?;
    let blurred = sheet(&|t| DynamicImage::ImageLuma8(blur(&to_grey(t))), true)?;
    Ok(ReviewImages {
        kind: ReviewKind::ContactSheet,
        blurred: encode(path, blurred, opts)?,
        greyscale: encode(path, greyscale, opts)?,
        clear: encode(path, clear, opts)?,
        frames: n,
    })
}

/// Decodes one frame at `t` seconds, scaled to `w`×`h`; `None` past the end.
fn grab_frame(
    ffmpeg: &Path,
    path: &Path,
    t: f64,
    w: u32,
    h: u32,
    limits: Limits,
) -> Result<Option<RgbImage>, MediaError> {
    let args: Vec<OsString> = [
        "-nostdin".to_string(),
        "-hide_banner".into(),
        "-loglevel".into(),
        "error".into(),
        "-noautorotate".into(),
        "-ss".into(),
        format!("{t:.3}"),
        "-i".into(),
    ]
    .into_iter()
    .map(OsString::from)
    .chain([path.as_os_str().to_owned()])
    .chain(
        [
            "-map".to_string(),
            "0:v:0".into(),
            "-an".into(),
            "-sn".into(),
            "-dn".into(),
            "-frames:v".into(),
            "1".into(),
            "-vf".into(),
            format!("scale={w}:{h}:flags=area"),
            "-pix_fmt".into(),
            "rgb24".into(),
            "-f".into(),
            "rawvideo".into(),
            "pipe:1".into(),
        ]
        .into_iter()
        .map(OsString::from),
    )
    .collect();
    let mut child = process::spawn(ffmpeg, &args, limits, path)?;
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    let got = match child.read_frame(&mut buf) {
        Ok(got) => got,
        Err(e) => {
            child.abort();
            return Err(e);
        }
    };
    child.finish()?;
    Ok(if got {
        RgbImage::from_raw(w, h, buf)
    } else {
        None
    })
}

/// Greyscale Gaussian blur with sigma [`BLUR_SIGMA_FRACTION`] of the long side.
fn blur(grey: &GrayImage) -> GrayImage {
    let long = grey.width().max(grey.height()) as f32;
    let sigma = (long * BLUR_SIGMA_FRACTION).max(2.0);
    image::imageops::fast_blur(grey, sigma)
}

fn encode(path: &Path, img: DynamicImage, opts: &ReviewOptions) -> Result<ReviewImage, MediaError> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, opts.jpeg_quality.clamp(1, 100))
        .encode_image(&img)
        .map_err(|source| MediaError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(ReviewImage {
        width: img.width(),
        height: img.height(),
        jpeg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean absolute Laplacian of the luma: high-frequency energy.
    fn laplacian(img: &RgbImage) -> f64 {
        let g = DynamicImage::ImageRgb8(img.clone()).to_luma8();
        let (w, h) = g.dimensions();
        let at = |x: u32, y: u32| f64::from(g.get_pixel(x, y)[0]);
        let mut sum = 0f64;
        let mut n = 0f64;
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let l = 4.0 * at(x, y) - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1);
                sum += l.abs();
                n += 1.0;
            }
        }
        sum / n
    }

    fn decode(r: &ReviewImage) -> RgbImage {
        let img = image::load_from_memory_with_format(&r.jpeg, image::ImageFormat::Jpeg)
            .map(|i| i.to_rgb8())
            .unwrap_or_else(|e| panic!("review JPEG does not decode: {e}"));
        assert_eq!((img.width(), img.height()), (r.width, r.height));
        img
    }

    /// R, G and B within JPEG rounding of each other in every pixel.
    fn grey(img: &RgbImage) -> bool {
        img.pixels().all(|p| {
            let hi = p.0.iter().copied().max().unwrap_or(0);
            let lo = p.0.iter().copied().min().unwrap_or(0);
            hi - lo <= 2
        })
    }

    /// A sharp, text-like picture: thin dark strokes in glyph-sized cells on a light
    /// coloured ground, under a fine checkerboard.
    fn sharp(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (cx, cy) = (x % 12, y % 16);
            let stroke = cx == 2 || cy == 3 || (cx + cy) % 9 == 0;
            let check = (x / 2 + y / 2) % 2 == 0;
            if stroke {
                image::Rgb([20, 10, 40])
            } else if check {
                image::Rgb([250, 200, 120])
            } else {
                image::Rgb([170, 230, 250])
            }
        })
    }

    #[test]
    fn blurred_variant_is_grey_and_blurred_on_its_pixels() {
        let dir = std::env::temp_dir().join(format!("athar-review-blur-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let p = dir.join("sharp-text.png");
        sharp(800, 600)
            .save(&p)
            .unwrap_or_else(|e| panic!("save: {e}"));
        let r = image_review(&p, &ReviewOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let (blurred, greyscale, clear) =
            (decode(&r.blurred), decode(&r.greyscale), decode(&r.clear));
        assert_eq!(blurred.dimensions(), clear.dimensions());
        assert!(grey(&blurred), "the blurred variant is greyscale");
        assert!(grey(&greyscale), "the greyscale variant is greyscale");
        assert!(!grey(&clear), "the clear variant keeps its colour");
        let (lb, lg, lc) = (
            laplacian(&blurred),
            laplacian(&greyscale),
            laplacian(&clear),
        );
        assert!(lc > 20.0, "the picture is sharp: {lc}");
        assert!(lg > lc / 2.0, "greyscale is not blurred: {lg} vs {lc}");
        assert!(lb * 20.0 < lc, "blurred {lb} vs clear {lc}");
    }
}
