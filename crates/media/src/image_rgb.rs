//! In-process image decoding (pure-Rust `image` crate) and conversion to
//! 8-bit RGB the way Pillow's `Image.convert("RGB")` does it, so hashes agree
//! with tools built on Pillow.
//!
//! Every image this crate decodes in-process goes through [`open_image`],
//! under the one [`DecodeBudget`]: the dimensions in the file's header are
//! checked against it before a single pixel is decoded, and the `image`
//! crate's own [`image::Limits`] (largest side, largest allocation) back that
//! check up inside the decoders. A small file that declares a huge picture (a
//! "decompression bomb") is refused with [`MediaError::TooLarge`], naming
//! the file and the dimensions, instead of allocating gigabytes.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use image::{DynamicImage, ImageDecoder};

use crate::MediaError;

/// How large an image this process agrees to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeBudget {
    /// Widest and tallest picture, in pixels.
    pub max_side: u32,
    /// Most pixels (width × height).
    pub max_pixels: u64,
    /// Largest buffer the decoder may allocate for the decoded pixels, in bytes.
    pub max_alloc: u64,
}

/// The budget for every in-process decode (PDQ, review images, `athar pdq`).
///
/// 2^26 pixels (67 megapixels: every camera sensor up to 8192×8192 or
/// 9504×6336) and 512 MiB of decoded pixels (2^26 pixels at 8 bytes each,
/// 16-bit RGBA). Decoding, expanding to RGB and hashing such an image peaks
/// near 1.3 GB; anything larger is refused before decoding.
pub const DECODE_BUDGET: DecodeBudget = DecodeBudget {
    max_side: 65_535,
    max_pixels: 1 << 26,
    max_alloc: 512 << 20,
};

impl Default for DecodeBudget {
    fn default() -> Self {
        DECODE_BUDGET
    }
}

impl DecodeBudget {
    /// The same budget as `image` crate limits, which its decoders enforce too.
    pub fn limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_side);
        limits.max_image_height = Some(self.max_side);
        limits.max_alloc = Some(self.max_alloc);
        limits
    }

    /// Refuses a `width`×`height` picture whose decoded pixels take
    /// `decoded_bytes` when it is over this budget.
    pub fn check(
        &self,
        path: &Path,
        width: u32,
        height: u32,
        decoded_bytes: u64,
    ) -> Result<(), MediaError> {
        let pixels = u64::from(width) * u64::from(height);
        let reason = if width > self.max_side || height > self.max_side {
            format!("more than {} pixels on a side", self.max_side)
        } else if pixels > self.max_pixels {
            format!("more than {} pixels", self.max_pixels)
        } else if decoded_bytes > self.max_alloc {
            format!(
                "{decoded_bytes} bytes decoded, more than {} MiB",
                self.max_alloc >> 20
            )
        } else {
            return Ok(());
        };
        Err(MediaError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            reason,
        })
    }
}

/// Packed 8-bit RGB pixels, row-major, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Opens `path` as an image (format sniffed from content, not from the name)
/// and checks the dimensions its header declares against `budget` before
/// anything is decoded. The decoder returned keeps `budget` as its limits.
pub fn open_image(
    path: &Path,
    budget: &DecodeBudget,
) -> Result<impl ImageDecoder + 'static, MediaError> {
    crate::regular_file(path)?;
    let decode = |source| MediaError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    let mut reader = image::ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| MediaError::io(path, e))?;
    // Sides are checked by `budget.check` below, so that a refusal names them;
    // the allocation limit already applies while the header is read.
    let mut header_limits = budget.limits();
    header_limits.max_image_width = None;
    header_limits.max_image_height = None;
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(decode)?;
    let (width, height) = decoder.dimensions();
    budget.check(path, width, height, decoder.total_bytes())?;
    decoder.set_limits(budget.limits()).map_err(decode)?;
    Ok(decoder)
}

/// Decodes `path` (format sniffed from content, not from the name) to RGB,
/// under [`DECODE_BUDGET`].
///
/// Conversion follows Pillow: alpha is dropped without compositing; palette
/// images expand to their colours; 16-bit greyscale is clipped to 255 (Pillow
/// `I;16` → `RGB`); 16-bit colour and 16-bit grey+alpha keep the high byte.
/// No EXIF orientation is applied. Floating-point images are refused.
pub fn load_rgb(path: &Path) -> Result<RgbImage, MediaError> {
    let decoder = open_image(path, &DECODE_BUDGET)?;
    let img = DynamicImage::from_decoder(decoder).map_err(|source| MediaError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    to_rgb(img).ok_or_else(|| MediaError::Unsupported {
        path: path.to_path_buf(),
        reason: "floating-point pixels".into(),
    })
}

fn to_rgb(img: DynamicImage) -> Option<RgbImage> {
    let width = img.width() as usize;
    let height = img.height() as usize;
    let n = width * height;
    let pixels = match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageRgba8(b) => expand(n, b.chunks_exact(4).map(|p| [p[0], p[1], p[2]])),
        DynamicImage::ImageLuma8(b) => expand(n, b.iter().map(|&v| [v, v, v])),
        DynamicImage::ImageLumaA8(b) => expand(n, b.chunks_exact(2).map(|p| [p[0], p[0], p[0]])),
        DynamicImage::ImageLuma16(b) => expand(
            n,
            b.iter().map(|&v| {
                let v = v.min(255) as u8;
                [v, v, v]
            }),
        ),
        DynamicImage::ImageLumaA16(b) => expand(
            n,
            b.chunks_exact(2).map(|p| {
                let v = (p[0] >> 8) as u8;
                [v, v, v]
            }),
        ),
        DynamicImage::ImageRgb16(b) => expand(
            n,
            b.chunks_exact(3)
                .map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8]),
        ),
        DynamicImage::ImageRgba16(b) => expand(
            n,
            b.chunks_exact(4)
                .map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8]),
        ),
        _ => return None,
    };
    Some(RgbImage {
        width,
        height,
        pixels,
    })
}

/// RGB bytes of `n` pixels, sized once: a collect from `flat_map` would grow
/// by doubling, up to twice the memory for a large picture.
fn expand(n: usize, it: impl Iterator<Item = [u8; 3]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(n.saturating_mul(3));
    for p in it {
        out.extend_from_slice(&p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};

    #[test]
    fn conversions_follow_pillow() {
        let g16 = ImageBuffer::<Luma<u16>, _>::from_raw(3, 1, vec![0u16, 255, 256]).unwrap();
        assert_eq!(
            to_rgb(g16.into()).unwrap().pixels,
            vec![0, 0, 0, 255, 255, 255, 255, 255, 255]
        );
        let la16 = ImageBuffer::<LumaA<u16>, _>::from_raw(1, 1, vec![0x12f0u16, 7]).unwrap();
        assert_eq!(to_rgb(la16.into()).unwrap().pixels, vec![0x12; 3]);
        let rgb16 =
            ImageBuffer::<Rgb<u16>, _>::from_raw(1, 1, vec![0x00ffu16, 0x0100, 0xff80]).unwrap();
        assert_eq!(to_rgb(rgb16.into()).unwrap().pixels, vec![0, 1, 0xff]);
        let rgba = ImageBuffer::<Rgba<u8>, _>::from_raw(1, 1, vec![10u8, 20, 30, 0]).unwrap();
        assert_eq!(to_rgb(rgba.into()).unwrap().pixels, vec![10, 20, 30]);
        let la = ImageBuffer::<LumaA<u8>, _>::from_raw(1, 1, vec![9u8, 0]).unwrap();
        assert_eq!(to_rgb(la.into()).unwrap().pixels, vec![9, 9, 9]);
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("athar-media-garbage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("not-an-image.png");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\n garbage").unwrap();
        let e = load_rgb(&p).unwrap_err();
        assert!(e.to_string().contains("not-an-image.png"), "{e}");
        let missing = load_rgb(&dir.join("missing.jpg")).unwrap_err();
        assert!(matches!(missing, MediaError::NotFound { .. }), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
