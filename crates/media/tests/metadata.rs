//! Metadata of synthetic media: container and stream facts, QuickTime tags
//! (creation time, ISO 6709 location, make/model, rotation) and image EXIF.

mod common;

use std::io::Cursor;

use athar_media::metadata::{probe_metadata, MediaMetadata};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn video_container_streams_and_tags() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("synthetic.mp4");
    let a_s = a.to_str().expect("utf-8");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=22050:duration=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-metadata",
        "creation_time=2024-03-05T10:20:30Z",
        "-metadata",
        "location=+35.1234+036.5678/",
        "-metadata",
        "make=SynthCam",
        "-metadata",
        "model=Model 7",
        "-movflags",
        "use_metadata_tags",
        a_s,
    ]);
    let m: MediaMetadata = probe_metadata(&a).expect("probe");
    assert!(
        m.format.as_deref().is_some_and(|f| f.contains("mp4")),
        "{:?}",
        m.format
    );
    assert!(
        m.duration_s.is_some_and(|d| (d - 1.0).abs() < 0.1),
        "{:?}",
        m.duration_s
    );
    assert_eq!(m.streams.len(), 2);
    let v = &m.streams[0];
    assert_eq!(v.codec_type.as_deref(), Some("video"));
    assert_eq!(v.codec_name.as_deref(), Some("h264"));
    assert_eq!((v.width, v.height), (Some(160), Some(120)));
    assert_eq!(v.frame_rate, Some(25.0));
    let s = &m.streams[1];
    assert_eq!(s.codec_type.as_deref(), Some("audio"));
    assert_eq!((s.channels, s.sample_rate), (Some(2), Some(22050)));
    assert_eq!(m.creation_time.as_deref(), Some("2024-03-05T10:20:30Z"));
    assert!(m.encoder.as_deref().is_some_and(|e| e.starts_with("Lavf")));
    let loc = m.location.expect("location");
    assert!(
        close(loc.latitude, 35.1234) && close(loc.longitude, 36.5678),
        "{loc:?}"
    );
    assert_eq!(loc.altitude, None);
    assert_eq!(m.make.as_deref(), Some("SynthCam"));
    assert_eq!(m.model.as_deref(), Some("Model 7"));
    assert_eq!(m.rotation, None);
    assert_eq!(m.exif, None);
    assert_eq!(m.raw["format"]["tags"]["make"], "SynthCam");

    // Apple keys take precedence; the rotation comes from the display matrix.
    let r = dir.path().join("rotated.mov");
    common::ffmpeg(&[
        "-i",
        a_s,
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        "-metadata",
        "com.apple.quicktime.make=SynthPhone",
        "-metadata",
        "com.apple.quicktime.model=SP 1",
        "-metadata",
        "com.apple.quicktime.location.ISO6709=-33.8688+151.2093+012.500/",
        "-movflags",
        "use_metadata_tags",
        r.to_str().expect("utf-8"),
    ]);
    let m = probe_metadata(&r).expect("probe");
    assert_eq!(m.make.as_deref(), Some("SynthPhone"));
    assert_eq!(m.model.as_deref(), Some("SP 1"));
    let loc = m.location.expect("location");
    assert!(
        close(loc.latitude, -33.8688) && close(loc.longitude, 151.2093),
        "{loc:?}"
    );
    assert_eq!(loc.altitude, Some(12.5));
    assert!(
        m.rotation.is_some_and(|r| r.abs() == 90.0),
        "{:?}",
        m.rotation
    );
}

/// A JPEG with an EXIF APP1 segment written with kamadak-exif's writer.
fn jpeg_with_exif() -> Vec<u8> {
    use exif::{Field, In, Rational, Tag, Value};
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&img)
        .expect("encode");
    let ascii = |tag, s: &str| Field {
        tag,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![s.as_bytes().to_vec()]),
    };
    let r = |num, denom| Rational { num, denom };
    let fields = [
        ascii(Tag::Make, "SynthCam"),
        ascii(Tag::Model, "SC-100"),
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![6]),
        },
        ascii(Tag::DateTimeOriginal, "2023:07:14 09:08:07"),
        ascii(Tag::OffsetTimeOriginal, "+03:00"),
        ascii(Tag::GPSLatitudeRef, "N"),
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(35, 1), r(30, 1), r(36, 1)]),
        },
        ascii(Tag::GPSLongitudeRef, "W"),
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(36, 1), r(15, 1), r(0, 1)]),
        },
        Field {
            tag: Tag::GPSAltitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Byte(vec![0]),
        },
        Field {
            tag: Tag::GPSAltitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(2505, 10)]),
        },
    ];
    let mut w = exif::experimental::Writer::new();
    for f in &fields {
        w.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    w.write(&mut tiff, false).expect("write exif");
    let tiff = tiff.into_inner();
    let len = u16::try_from(2 + 6 + tiff.len()).expect("small");
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn image_exif() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("synthetic-photo.jpg");
    std::fs::write(&p, jpeg_with_exif()).expect("write");
    let m = probe_metadata(&p).expect("probe");
    let v = &m.streams[0];
    assert_eq!((v.width, v.height), (Some(64), Some(48)));
    assert_eq!(v.codec_name.as_deref(), Some("mjpeg"));
    let e = m.exif.expect("exif");
    assert_eq!(e.make.as_deref(), Some("SynthCam"));
    assert_eq!(e.model.as_deref(), Some("SC-100"));
    assert_eq!(e.orientation, Some(6));
    assert_eq!(
        e.date_time_original.as_deref(),
        Some("2023-07-14T09:08:07+03:00")
    );
    let loc = e.location.expect("gps");
    assert!(close(loc.latitude, 35.51), "{loc:?}");
    assert!(close(loc.longitude, -36.25), "{loc:?}");
    assert_eq!(loc.altitude, Some(250.5));

    // An image without EXIF has none; a PNG probes as an image.
    let png = dir.path().join("plain.png");
    image::RgbImage::new(8, 8).save(&png).expect("png");
    let m = probe_metadata(&png).expect("probe");
    assert_eq!(m.exif, None);
    assert_eq!(m.streams[0].codec_name.as_deref(), Some("png"));
}
