//! In-process image decoding (pure-Rust `image` crate) and conversion to
//! 8-bit RGB the way Pillow's `Image.convert("RGB")` does it, so hashes agree
//! with tools built on Pillow.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use image::DynamicImage;

use crate::MediaError;

/// Packed 8-bit RGB pixels, row-major, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Decodes `path` (format sniffed from content, not from the name) to RGB.
///
/// Conversion follows Pillow: alpha is dropped without compositing; palette
/// images expand to their colours; 16-bit greyscale is clipped to 255 (Pillow
/// `I;16` → `RGB`); 16-bit colour and 16-bit grey+alpha keep the high byte.
/// No EXIF orientation is applied. Floating-point images are refused.
pub fn load_rgb(path: &Path) -> Result<RgbImage, MediaError> {
    crate::regular_file(path)?;
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    let reader = image::ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| MediaError::io(path, e))?;
    let img = reader.decode().map_err(|source| MediaError::Decode {
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
    let pixels: Vec<u8> = match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageRgba8(b) => b.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        DynamicImage::ImageLuma8(b) => b.iter().flat_map(|&v| [v, v, v]).collect(),
        DynamicImage::ImageLumaA8(b) => {
            b.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0]]).collect()
        }
        DynamicImage::ImageLuma16(b) => b
            .iter()
            .map(|&v| v.min(255) as u8)
            .flat_map(|v| [v, v, v])
            .collect(),
        DynamicImage::ImageLumaA16(b) => b
            .chunks_exact(2)
            .map(|p| (p[0] >> 8) as u8)
            .flat_map(|v| [v, v, v])
            .collect(),
        DynamicImage::ImageRgb16(b) => b.iter().map(|&v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(b) => b
            .chunks_exact(4)
            .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
            .collect(),
        _ => return None,
    };
    Some(RgbImage {
        width,
        height,
        pixels,
    })
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
