//! The `area` variant taken from the decoder's luma plane (a second FFmpeg output read
//! through a named pipe): a greyscale copy of footage whose colours RGB cannot show
//! (saturated past the gamut, so RGB clips them and their luma shifts) matches its
//! original, and the reference hashes are unchanged by the second output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use athar_media::variants::{self, VariantIndex, VariantKind};
use athar_media::vpdq::{self, VpdqOptions};

/// Synthetic footage (moving plasma) whose chroma reaches far past what RGB can show, so
/// most of its pixels have a clipped channel once converted.
fn saturated_clip(path: &std::path::Path) {
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=80x45:r=25,format=yuv444p,\
         geq=lum='128+60*sin((X*-0.6+Y)/14+T*1.3)+60*cos((Y*0.9-X)/4.4-T*0.6)'\
         :cb='128+90*sin(X/4.4+T)':cr='128+90*cos(Y/14)',scale=320:180",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "18",
        "-pix_fmt",
        "yuv420p",
        path.to_str().expect("utf-8 path"),
    ]);
}

/// The tests of this file one at a time (one counts the side-output folders).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_greyscale_copy_of_out_of_gamut_footage_matches_by_its_luma() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (orig, grey) = (dir.path().join("orig.mp4"), dir.path().join("grey.mp4"));
    saturated_clip(&orig);
    common::ffmpeg(&[
        "-i",
        orig.to_str().unwrap(),
        "-vf",
        "hue=s=0",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "23",
        grey.to_str().unwrap(),
    ]);
    let opts = VpdqOptions::default();
    let (of, ov) = vpdq::hash_video_with_variants(&orig, &opts).unwrap();
    let (gf, gv) = vpdq::hash_video_with_variants(&grey, &opts).unwrap();
    // The second output leaves the reference hashes as they were.
    assert_eq!(of, vpdq::hash_video(&orig, &opts).unwrap());
    assert_eq!(of.len(), 75);

    // One `area` hash a frame, in frame order with the others.
    let area = |v: &[variants::VariantHash]| -> Vec<_> {
        v.iter()
            .filter(|x| x.kind == VariantKind::Area)
            .copied()
            .collect()
    };
    let (oa, ga) = (area(&ov), area(&gv));
    assert_eq!(oa.len(), of.len());
    assert!(ov
        .windows(2)
        .all(|p| p[0].frame_number <= p[1].frame_number));
    let close = |d: u32| d <= 31;
    let reference_close = of
        .iter()
        .zip(&gf)
        .filter(|(a, b)| close(a.hash.distance(&b.hash)))
        .count();
    let area_close = oa
        .iter()
        .zip(&ga)
        .filter(|(a, b)| close(a.hash.distance(&b.hash)))
        .count();
    eprintln!("frames within 31: reference {reference_close}/75, area {area_close}/75");
    // Clipping moved the colour frames' luma: their reference hashes are far apart.
    assert!(reference_close <= 10, "{reference_close}");
    assert!(area_close >= 60, "{area_close}");
    // Found by the search, the transform named.
    let mut base = athar_media::similar::Index::default();
    base.add_video(0, &gf);
    let mut vi = VariantIndex::new();
    vi.add_video(0, &gf, &gv);
    let found = variants::search(&base, &vi, &of, &ov, None);
    let m = found.first().expect("the greyscale copy is found");
    assert!(m.query_match >= 0.8, "{}", m.query_match);
}

#[test]
fn the_luma_output_stops_with_the_frame_limit_and_on_bad_input() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    common::testsrc_clip(&clip, "320x240", 2);
    let opts = VpdqOptions {
        max_frames: Some(10),
        ..VpdqOptions::default()
    };
    let (frames, v) = vpdq::hash_video_with_variants(&clip, &opts).unwrap();
    assert_eq!(frames.len(), 10);
    let area: Vec<u64> = v
        .iter()
        .filter(|x| x.kind == VariantKind::Area)
        .map(|x| x.frame_number)
        .collect();
    assert_eq!(area, (0..10).collect::<Vec<_>>());
    // One a second: the area hashes follow the frames hashed.
    let opts = VpdqOptions {
        seconds_per_hash: 1.0,
        ..VpdqOptions::default()
    };
    let (frames, v) = vpdq::hash_video_with_variants(&clip, &opts).unwrap();
    let numbers: Vec<u64> = frames.iter().map(|f| f.frame_number).collect();
    assert_eq!(numbers, vec![0, 25]);
    let area: Vec<u64> = v
        .iter()
        .filter(|x| x.kind == VariantKind::Area)
        .map(|x| x.frame_number)
        .collect();
    assert_eq!(area, numbers);
    // Folders left by a crashed process that had this one's id are passed over.
    let stale: Vec<_> = (0..60)
        .map(|n| std::env::temp_dir().join(format!("athar-side-{}-{n}", std::process::id())))
        .filter(|d| std::fs::create_dir(d).is_ok())
        .collect();
    let again = vpdq::hash_video_with_variants(&clip, &opts);
    for d in &stale {
        std::fs::remove_dir(d).unwrap();
    }
    assert_eq!(again.unwrap().0, frames);
    // A file that is not a video: an error naming it, and no pipe left behind.
    let bad = dir.path().join("bad.mp4");
    std::fs::write(&bad, b"not a video at all").unwrap();
    let before = side_folders();
    let err = vpdq::hash_video_with_variants(&bad, &VpdqOptions::default()).unwrap_err();
    assert!(err.to_string().contains("bad.mp4"), "{err}");
    assert_eq!(side_folders(), before);
}

/// This process's side-output folders in the temporary folder.
fn side_folders() -> usize {
    let prefix = format!("athar-side-{}-", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .count()
}
