//! Container, stream and capture metadata of a media file.
//!
//! Container and stream facts come from `ffprobe -print_format json
//! -show_format -show_streams`, run as a supervised child (time and memory
//! limits); its JSON is kept as given (`raw`) and parsed into typed fields.
//! Image EXIF (capture time, GPS position, camera make and model,
//! orientation) is read in-process by the pure-Rust `kamadak-exif` crate.
//!
//! Nothing here trusts the file: malformed values become `None`, never a panic.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::process::{self, Limits};
use crate::MediaError;

/// Most bytes of ffprobe JSON read (a file with thousands of streams is refused).
const MAX_PROBE_JSON: u64 = 8 << 20;
/// Largest file whose EXIF is read (TIFF-based containers are read whole).
const MAX_EXIF_FILE: u64 = 256 << 20;

/// How to probe.
#[derive(Clone, Debug, PartialEq)]
pub struct MetadataOptions {
    /// Limits for the ffprobe child.
    pub limits: Limits,
    /// ffprobe executable (looked up on PATH when not a path).
    pub ffprobe: PathBuf,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        MetadataOptions {
            limits: Limits {
                time: Duration::from_secs(60),
                memory_bytes: 2 << 30,
            },
            ffprobe: PathBuf::from("ffprobe"),
        }
    }
}

/// A point on Earth (WGS 84 degrees; altitude in metres when known).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GeoLocation {
    pub latitude: f64,
    pub longitude: f64,
    pub altitude: Option<f64>,
}

/// One stream of a container.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamMetadata {
    pub index: u32,
    /// `video`, `audio`, `subtitle`, `data`, `attachment`.
    pub codec_type: Option<String>,
    pub codec_name: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Frames per second (`avg_frame_rate`, else `r_frame_rate`).
    pub frame_rate: Option<f64>,
    pub channels: Option<u32>,
    pub sample_rate: Option<u32>,
    pub duration_s: Option<f64>,
    /// Display rotation in degrees, as ffprobe reports it.
    pub rotation: Option<f64>,
}

/// EXIF fields of a still image.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExifMetadata {
    /// `DateTimeOriginal` as `YYYY-MM-DDTHH:MM:SS`, with `OffsetTimeOriginal`
    /// appended when present (otherwise camera-local time of unknown zone).
    pub date_time_original: Option<String>,
    pub location: Option<GeoLocation>,
    pub make: Option<String>,
    pub model: Option<String>,
    /// EXIF orientation 1..=8.
    pub orientation: Option<u16>,
}

/// What is known about a media file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MediaMetadata {
    /// ffprobe's `format_name` (e.g. `mov,mp4,m4a,3gp,3g2,mj2`).
    pub format: Option<String>,
    pub format_long_name: Option<String>,
    pub duration_s: Option<f64>,
    pub size_bytes: Option<u64>,
    pub bit_rate: Option<u64>,
    pub streams: Vec<StreamMetadata>,
    /// Container `creation_time` tag (else the first stream's), as written.
    pub creation_time: Option<String>,
    pub encoder: Option<String>,
    /// ISO 6709 location tag, parsed.
    pub location: Option<GeoLocation>,
    pub make: Option<String>,
    pub model: Option<String>,
    /// Rotation of the first video stream, in degrees.
    pub rotation: Option<f64>,
    /// EXIF of still images (JPEG, TIFF, PNG, WebP, HEIF), when present.
    pub exif: Option<ExifMetadata>,
    /// ffprobe's JSON output as it was.
    pub raw: Value,
}

/// Probes `path` with default options.
pub fn probe_metadata(path: impl AsRef<Path>) -> Result<MediaMetadata, MediaError> {
    probe_metadata_with(path, &MetadataOptions::default())
}

/// Probes `path` with ffprobe (supervised) and reads EXIF from images.
pub fn probe_metadata_with(
    path: impl AsRef<Path>,
    opts: &MetadataOptions,
) -> Result<MediaMetadata, MediaError> {
    let path = path.as_ref();
    let size = crate::regular_file(path)?;
    let mut meta = ffprobe_only(path, opts)?;
    if size <= MAX_EXIF_FILE {
        meta.exif = read_exif(path)?;
    }
    Ok(meta)
}

/// Container and stream facts only (no EXIF).
///
/// A file in which ffprobe finds no usable stream (no stream at all, or only
/// video streams without a frame size and no audio) is an error, with
/// ffprobe's complaints: ffprobe itself exits 0 on, for example, a PNG whose
/// header claims an impossible size.
pub(crate) fn ffprobe_only(
    path: &Path,
    opts: &MetadataOptions,
) -> Result<MediaMetadata, MediaError> {
    let (raw, stderr) = run_ffprobe(path, opts)?;
    let meta = parse_ffprobe(raw).map_err(|reason| MediaError::BadVideo {
        path: path.to_path_buf(),
        reason,
    })?;
    let usable = meta.streams.iter().any(|s| match s.codec_type.as_deref() {
        Some("video") => s.width.unwrap_or(0) > 0 && s.height.unwrap_or(0) > 0,
        Some("audio") => s.sample_rate.unwrap_or(0) > 0 || s.channels.unwrap_or(0) > 0,
        _ => false,
    });
    if !usable {
        let mut reason = String::from("no usable video or audio stream");
        if !stderr.is_empty() {
            let tail: String = stderr.chars().take(400).collect();
            reason.push_str(&format!(" (ffprobe: {})", tail.replace('\n', "; ")));
        }
        return Err(MediaError::BadVideo {
            path: path.to_path_buf(),
            reason,
        });
    }
    Ok(meta)
}

/// ffprobe's JSON and what it said on stderr.
fn run_ffprobe(path: &Path, opts: &MetadataOptions) -> Result<(Value, String), MediaError> {
    let ffprobe = crate::vpdq::find_tool(&opts.ffprobe, path)?;
    let args: Vec<OsString> = [
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]
    .iter()
    .map(OsString::from)
    .chain([path.as_os_str().to_owned()])
    .collect();
    let mut child = process::spawn(&ffprobe, &args, opts.limits, path)?;
    let mut text = Vec::new();
    let read = (&mut child.stdout)
        .take(MAX_PROBE_JSON + 1)
        .read_to_end(&mut text);
    if let Err(e) = read {
        child.abort();
        return Err(MediaError::io(path, e));
    }
    if text.len() as u64 > MAX_PROBE_JSON {
        child.abort();
        return Err(MediaError::BadVideo {
            path: path.to_path_buf(),
            reason: format!("ffprobe output above {MAX_PROBE_JSON} bytes"),
        });
    }
    let stderr = child.finish()?;
    let raw = serde_json::from_slice(&text).map_err(|e| MediaError::BadVideo {
        path: path.to_path_buf(),
        reason: format!("unreadable ffprobe output: {e}"),
    })?;
    Ok((raw, stderr))
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num_of(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn uint_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn rate_of(v: &Value) -> Option<f64> {
    let s = v.as_str()?;
    let (n, d) = s.split_once('/')?;
    let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    let r = n / d;
    (r.is_finite() && r > 0.0).then_some(r)
}

/// Looks a tag up case-insensitively (ffprobe keeps the container's case).
fn tag(tags: &Value, key: &str) -> Option<String> {
    tags.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| str_of(v))
}

fn parse_stream(s: &Value) -> StreamMetadata {
    let tags = &s["tags"];
    let side_rotation = s["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| num_of(&d["rotation"])));
    StreamMetadata {
        index: uint_of(&s["index"])
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0),
        codec_type: str_of(&s["codec_type"]),
        codec_name: str_of(&s["codec_name"]),
        width: uint_of(&s["width"]).and_then(|v| u32::try_from(v).ok()),
        height: uint_of(&s["height"]).and_then(|v| u32::try_from(v).ok()),
        frame_rate: rate_of(&s["avg_frame_rate"]).or_else(|| rate_of(&s["r_frame_rate"])),
        channels: uint_of(&s["channels"]).and_then(|v| u32::try_from(v).ok()),
        sample_rate: uint_of(&s["sample_rate"]).and_then(|v| u32::try_from(v).ok()),
        duration_s: num_of(&s["duration"]),
        rotation: side_rotation.or_else(|| tag(tags, "rotate").and_then(|r| r.parse().ok())),
    }
}

/// Parses ffprobe's JSON (`-show_format -show_streams`).
fn parse_ffprobe(raw: Value) -> Result<MediaMetadata, String> {
    if !raw.is_object() {
        return Err("ffprobe output is not a JSON object".into());
    }
    let format = &raw["format"];
    let tags = &format["tags"];
    let streams: Vec<StreamMetadata> = raw["streams"]
        .as_array()
        .map(|l| l.iter().map(parse_stream).collect())
        .unwrap_or_default();
    let stream_tag = |key: &str| {
        raw["streams"]
            .as_array()
            .and_then(|l| l.iter().find_map(|s| tag(&s["tags"], key)))
    };
    let location = ["com.apple.quicktime.location.ISO6709", "location"]
        .iter()
        .filter_map(|k| tag(tags, k))
        .find_map(|s| parse_iso6709(&s));
    let rotation = streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"))
        .and_then(|s| s.rotation);
    Ok(MediaMetadata {
        format: str_of(&format["format_name"]),
        format_long_name: str_of(&format["format_long_name"]),
        duration_s: num_of(&format["duration"]),
        size_bytes: uint_of(&format["size"]),
        bit_rate: uint_of(&format["bit_rate"]),
        creation_time: tag(tags, "creation_time").or_else(|| stream_tag("creation_time")),
        encoder: tag(tags, "encoder"),
        location,
        make: tag(tags, "com.apple.quicktime.make").or_else(|| tag(tags, "make")),
        model: tag(tags, "com.apple.quicktime.model").or_else(|| tag(tags, "model")),
        rotation,
        streams,
        exif: None,
        raw,
    })
}

/// Parses an ISO 6709 point such as `+35.1234+036.5678/`,
/// `+37.3349-122.0090+012.5/`, or the degree-minute(-second) forms
/// `+3507.40+03634.07/` and `+350724.4+0363404.1/`.
pub fn parse_iso6709(s: &str) -> Option<GeoLocation> {
    let s = s.trim().trim_end_matches('/');
    let s = s.split("CRS").next()?.trim_end_matches('/');
    if !s.starts_with(['+', '-']) {
        return None;
    }
    // Split into signed numbers.
    let mut parts = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c == '+' || c == '-' {
            if let Some(b) = start {
                parts.push(&s[b..i]);
            }
            start = Some(i);
        } else if !(c.is_ascii_digit() || c == '.') {
            return None;
        }
    }
    parts.push(&s[start?..]);
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let latitude = sexagesimal(parts[0], 2)?;
    let longitude = sexagesimal(parts[1], 3)?;
    if latitude.abs() > 90.0 || longitude.abs() > 180.0 {
        return None;
    }
    let altitude = match parts.get(2) {
        Some(a) => Some(a.parse::<f64>().ok().filter(|a| a.is_finite())?),
        None => None,
    };
    Some(GeoLocation {
        latitude,
        longitude,
        altitude,
    })
}

/// `±DD.D`, `±DDMM.M` or `±DDMMSS.S` (with `deg_digits` degree digits) to degrees.
fn sexagesimal(part: &str, deg_digits: usize) -> Option<f64> {
    let (sign, body) = part.split_at(1);
    let sign = if sign == "-" { -1.0 } else { 1.0 };
    let int_len = body.find('.').unwrap_or(body.len());
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let frac: f64 = if int_len < body.len() {
        format!("0{}", &body[int_len..]).parse().ok()?
    } else {
        0.0
    };
    let int = &body[..int_len];
    let field = |r: std::ops::Range<usize>| int.get(r)?.parse::<f64>().ok();
    let value = match int_len {
        n if n == deg_digits => field(0..n)? + frac,
        n if n == deg_digits + 2 => {
            let m = field(deg_digits..n)? + frac;
            (m < 60.0).then_some(())?;
            field(0..deg_digits)? + m / 60.0
        }
        n if n == deg_digits + 4 => {
            let m = field(deg_digits..deg_digits + 2)?;
            let sec = field(deg_digits + 2..n)? + frac;
            (m < 60.0 && sec < 60.0).then_some(())?;
            field(0..deg_digits)? + m / 60.0 + sec / 3600.0
        }
        _ => return None,
    };
    Some(sign * value)
}

/// Reads EXIF from an image container; `None` when there is none.
fn read_exif(path: &Path) -> Result<Option<ExifMetadata>, MediaError> {
    let file = std::fs::File::open(path).map_err(|e| MediaError::io(path, e))?;
    let mut reader = std::io::BufReader::new(file);
    // `kamadak-exif` reads a TIFF container whole into memory: not one larger
    // than the decoding budget (other containers are read segment by segment).
    let head = std::io::BufRead::fill_buf(&mut reader).map_err(|e| MediaError::io(path, e))?;
    let tiff = head.starts_with(b"II*\0") || head.starts_with(b"MM\0*");
    if tiff && crate::regular_file(path)? > crate::DECODE_BUDGET.max_alloc {
        return Ok(None);
    }
    let exif = match exif::Reader::new().read_from_container(&mut reader) {
        Ok(e) => e,
        Err(exif::Error::Io(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            return Err(MediaError::io(path, e))
        }
        // Not an image container, no EXIF, or EXIF too damaged to use.
        Err(_) => return Ok(None),
    };
    Ok(Some(exif_fields(&exif)))
}

fn ascii(exif: &exif::Exif, tag: exif::Tag) -> Option<String> {
    let f = exif.get_field(tag, exif::In::PRIMARY)?;
    match &f.value {
        exif::Value::Ascii(v) => {
            let s = String::from_utf8_lossy(v.first()?);
            let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            (!s.is_empty()).then(|| s.to_string())
        }
        _ => None,
    }
}

fn rationals(exif: &exif::Exif, tag: exif::Tag) -> Option<Vec<f64>> {
    let f = exif.get_field(tag, exif::In::PRIMARY)?;
    match &f.value {
        exif::Value::Rational(v) => {
            let out: Vec<f64> = v.iter().map(|r| r.to_f64()).collect();
            out.iter().all(|x| x.is_finite()).then_some(out)
        }
        _ => None,
    }
}

fn gps_coord(exif: &exif::Exif, tag: exif::Tag, reference: exif::Tag, neg: &str) -> Option<f64> {
    let v = rationals(exif, tag)?;
    let deg = v.first()? + v.get(1).unwrap_or(&0.0) / 60.0 + v.get(2).unwrap_or(&0.0) / 3600.0;
    let r = ascii(exif, reference).unwrap_or_default();
    Some(if r.eq_ignore_ascii_case(neg) {
        -deg
    } else {
        deg
    })
}

fn exif_fields(exif: &exif::Exif) -> ExifMetadata {
    use exif::Tag;
    let date_time_original = ascii(exif, Tag::DateTimeOriginal).and_then(|d| {
        let b = d.as_bytes();
        // "YYYY:MM:DD HH:MM:SS"
        if b.len() < 19 || b[4] != b':' || b[7] != b':' || b[10] != b' ' {
            return None;
        }
        let mut iso = format!("{}-{}-{}T{}", &d[0..4], &d[5..7], &d[8..10], &d[11..19]);
        if let Some(off) = ascii(exif, Tag::OffsetTimeOriginal) {
            iso.push_str(&off);
        }
        Some(iso)
    });
    let lat = gps_coord(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, "S");
    let lon = gps_coord(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, "W");
    let location = match (lat, lon) {
        (Some(latitude), Some(longitude)) if latitude.abs() <= 90.0 && longitude.abs() <= 180.0 => {
            let below = exif
                .get_field(Tag::GPSAltitudeRef, exif::In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
                == Some(1);
            let altitude = rationals(exif, Tag::GPSAltitude)
                .and_then(|v| v.first().copied())
                .map(|a| if below { -a } else { a });
            Some(GeoLocation {
                latitude,
                longitude,
                altitude,
            })
        }
        _ => None,
    };
    let orientation = exif
        .get_field(Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (1..=8).contains(o));
    ExifMetadata {
        date_time_original,
        location,
        make: ascii(exif, Tag::Make),
        model: ascii(exif, Tag::Model),
        orientation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str, want: Option<(f64, f64, Option<f64>)>) {
        let got = parse_iso6709(s).map(|g| (g.latitude, g.longitude, g.altitude));
        match (got, want) {
            (Some(g), Some(w)) => {
                assert!((g.0 - w.0).abs() < 1e-9, "{s}: {g:?} vs {w:?}");
                assert!((g.1 - w.1).abs() < 1e-9, "{s}: {g:?} vs {w:?}");
                assert_eq!(g.2, w.2, "{s}");
            }
            (g, w) => assert_eq!(g, w, "{s}"),
        }
    }

    #[test]
    fn iso6709_cases() {
        check("+35.1234+036.5678/", Some((35.1234, 36.5678, None)));
        check(
            "+37.3349-122.0090+012.500/",
            Some((37.3349, -122.009, Some(12.5))),
        );
        check(
            "-33.8688+151.2093-5/",
            Some((-33.8688, 151.2093, Some(-5.0))),
        );
        check("+3530.00+03630.00/", Some((35.5, 36.5, None)));
        check("+353000+0363000/", Some((35.5, 36.5, None)));
        check("+35.1+036.5CRSWGS_84/", Some((35.1, 36.5, None)));
        check("", None);
        check("/", None);
        check("+95.0+036.0/", None);
        check("+35.0+190.0/", None);
        check("+35.0/", None);
        check("35.0 36.0", None);
        check("+35.0+036.0+1+2/", None);
        check("+3575.00+03630.00/", None);
        check("+-/", None);
        check("+3.5+36.5/", None);
        check("1+35.0+036.0/", None);
    }

    #[test]
    fn ffprobe_json_is_parsed_defensively() {
        let raw: Value = serde_json::json!({
            "streams": [
                {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 160,
                 "height": 120, "avg_frame_rate": "0/0", "r_frame_rate": "25/1",
                 "tags": {"rotate": "270"}},
                {"index": 1, "codec_type": "audio", "codec_name": "aac", "channels": 2,
                 "sample_rate": "22050", "avg_frame_rate": "0/0",
                 "tags": {"creation_time": "2020-01-01T00:00:00Z"}},
                {"index": "junk", "width": -4, "height": "x"}
            ],
            "format": {"format_name": "mov,mp4", "duration": "1.5", "size": "1234",
                       "bit_rate": "N/A",
                       "tags": {"LOCATION": "+10.5-020.25/", "make": "Synth", "model": 7}}
        });
        let m = parse_ffprobe(raw.clone()).unwrap();
        assert_eq!(m.format.as_deref(), Some("mov,mp4"));
        assert_eq!(m.duration_s, Some(1.5));
        assert_eq!(m.size_bytes, Some(1234));
        assert_eq!(m.bit_rate, None);
        assert_eq!(m.streams.len(), 3);
        assert_eq!(m.streams[0].frame_rate, Some(25.0));
        assert_eq!(m.streams[1].sample_rate, Some(22050));
        assert_eq!(m.streams[2].width, None);
        assert_eq!(m.rotation, Some(270.0));
        assert_eq!(m.creation_time.as_deref(), Some("2020-01-01T00:00:00Z"));
        assert_eq!(m.model.as_deref(), Some("7"));
        let loc = m.location.unwrap();
        assert_eq!((loc.latitude, loc.longitude), (10.5, -20.25));
        assert_eq!(m.raw, raw);
        assert!(parse_ffprobe(Value::Null).is_err());
        assert!(parse_ffprobe(serde_json::json!({})).is_ok());
    }
}
