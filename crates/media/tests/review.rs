//! Review images: sizes, greyscale blurred variant, blur strength, contact sheets.

mod common;

use athar_media::review::{review_images, ReviewImage, ReviewKind, ReviewOptions};

fn decode(r: &ReviewImage) -> image::RgbImage {
    let img = image::load_from_memory_with_format(&r.jpeg, image::ImageFormat::Jpeg)
        .expect("valid JPEG")
        .to_rgb8();
    assert_eq!((img.width(), img.height()), (r.width, r.height));
    img
}

fn is_grey(img: &image::RgbImage) -> bool {
    img.pixels().all(|p| p[0] == p[1] && p[1] == p[2])
}

/// Mean absolute difference between horizontal and vertical neighbours (luma).
fn high_freq(img: &image::RgbImage) -> f64 {
    let g = image::DynamicImage::ImageRgb8(img.clone()).to_luma8();
    let (w, h) = g.dimensions();
    let mut sum = 0f64;
    let mut n = 0f64;
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            let v = f64::from(g.get_pixel(x, y)[0]);
            sum += (v - f64::from(g.get_pixel(x + 1, y)[0])).abs();
            sum += (v - f64::from(g.get_pixel(x, y + 1)[0])).abs();
            n += 2.0;
        }
    }
    sum / n
}

/// A synthetic picture full of detail: colour gradients under a fine checkerboard.
fn detailed(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let check = if (x / 3 + y / 3) % 2 == 0 { 60 } else { 0 };
        image::Rgb([
            (x * 255 / w) as u8 / 2 + check,
            (y * 255 / h) as u8 / 2 + check,
            128 + check,
        ])
    })
}

#[test]
fn image_thumbnail_variants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("synthetic.png");
    detailed(1200, 800).save(&p).expect("save");
    let r = review_images(&p, &ReviewOptions::default()).expect("review");
    assert_eq!(r.kind, ReviewKind::Thumbnail);
    assert_eq!(r.frames, 1);
    for v in [&r.blurred, &r.greyscale, &r.clear] {
        assert_eq!((v.width, v.height), (512, 341), "{v:?}");
    }
    let (blurred, grey, clear) = (decode(&r.blurred), decode(&r.greyscale), decode(&r.clear));
    assert!(is_grey(&blurred) && is_grey(&grey));
    assert!(!is_grey(&clear));
    let (hb, hc) = (high_freq(&blurred), high_freq(&clear));
    assert!(hb * 20.0 < hc, "blurred {hb} vs clear {hc}");

    // Small images are not enlarged; portrait keeps its orientation.
    let small = dir.path().join("small.jpg");
    detailed(100, 300).save(&small).expect("save");
    let r = review_images(&small, &ReviewOptions::default()).expect("review");
    assert_eq!((r.clear.width, r.clear.height), (100, 300));
    let big = dir.path().join("tall.png");
    detailed(300, 2000).save(&big).expect("save");
    let r = review_images(&big, &ReviewOptions::default()).expect("review");
    assert_eq!(r.blurred.height, 512);
    assert!(
        r.blurred.width <= 77 && r.blurred.width >= 76,
        "{:?}",
        r.blurred
    );
}

#[test]
fn video_contact_sheet() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("synthetic.mp4");
    common::testsrc_clip(&p, "640x360", 4);
    let t = std::time::Instant::now();
    let r = review_images(&p, &ReviewOptions::default()).expect("review");
    assert!(t.elapsed().as_secs() < 30);
    assert_eq!(r.kind, ReviewKind::ContactSheet);
    assert_eq!(r.frames, 16);
    for v in [&r.blurred, &r.greyscale, &r.clear] {
        assert_eq!((v.width, v.height), (4 * 320, 4 * 180), "{v:?}");
    }
    let (blurred, grey, clear) = (decode(&r.blurred), decode(&r.greyscale), decode(&r.clear));
    assert!(is_grey(&blurred) && is_grey(&grey));
    assert!(!is_grey(&clear));
    // Frames differ over time (testsrc has a moving gradient and counter).
    let tile = |i: u32| {
        image::imageops::crop_imm(&clear, (i % 4) * 320, (i / 4) * 180, 320, 180).to_image()
    };
    assert_ne!(tile(0), tile(15));

    // A clip shorter than the grid shows the frames it has, smaller than tile size kept.
    let short = dir.path().join("short.mp4");
    common::testsrc_clip(&short, "160x90", 1);
    let opts = ReviewOptions {
        columns: 2,
        rows: 2,
        ..ReviewOptions::default()
    };
    let r = review_images(&short, &opts).expect("review");
    assert_eq!(r.frames, 4);
    assert_eq!((r.clear.width, r.clear.height), (320, 180));

    // Fine detail (a moving checkerboard) is gone once blurred.
    let fine = dir.path().join("checker.mp4");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "nullsrc=size=640x360:rate=25:duration=2,geq=lum='if(mod(floor((X+N)/8)+floor(Y/8),2),210,40)':cb=128:cr=128",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        fine.to_str().expect("utf-8"),
    ]);
    let r = review_images(&fine, &ReviewOptions::default()).expect("review");
    let (hb, hc) = (high_freq(&decode(&r.blurred)), high_freq(&decode(&r.clear)));
    assert!(hb * 20.0 < hc, "blurred {hb} vs clear {hc}");
}
