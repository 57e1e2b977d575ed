//! `athar pdq` and `athar vpdq`: perceptual hashes of files on disk, no archive needed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use athar_media::pdq::PdqHasher;
use athar_media::vpdq::{self, VpdqFrame, VpdqOptions};
use athar_media::MediaError;
use clap::Args;

use crate::{EXIT_INPUT, EXIT_INTERNAL};

#[derive(Args, Debug)]
pub(crate) struct PdqArgs {
    /// One JSON object per image: file, pdq, quality, dihedral (8 hashes).
    #[arg(long)]
    json: bool,
    /// Image files (JPEG, PNG, WebP, GIF, BMP, TIFF).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct VpdqArgs {
    /// One JSON object per hashed frame: frame, quality, pdq, timestamp.
    #[arg(long)]
    json: bool,
    /// Hash one frame every S seconds (0: every frame).
    #[arg(long, value_name = "S", default_value_t = 0.0)]
    seconds_per_hash: f64,
    /// Scale frames to WxH before hashing (default: native size).
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    downsample: Option<(u32, u32)>,
    /// The video file.
    file: PathBuf,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WxH, got {s:?}"))?;
    let num = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("bad size {s:?}: expected WxH in pixels"))
    };
    let (w, h) = (num(w)?, num(h)?);
    if w == 0 || h == 0 {
        return Err(format!("bad size {s:?}: width and height must be above 0"));
    }
    Ok((w, h))
}

/// Exit code for a failed file: missing tools are an internal failure, the rest input errors.
fn exit_code(e: &MediaError) -> u8 {
    match e {
        MediaError::ToolMissing { .. } => EXIT_INTERNAL,
        _ => EXIT_INPUT,
    }
}

fn write_err(e: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("writing to standard output")
}

pub(crate) fn pdq(args: &PdqArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut hasher = PdqHasher::new();
    let mut worst = 0u8;
    for file in &args.files {
        let r = athar_media::image_rgb::load_rgb(file)
            .and_then(|img| hasher.hash_rgb(&img.pixels, img.width, img.height));
        match r {
            Ok(r) => {
                if args.json {
                    let dihedral: Vec<String> =
                        r.dihedral.to_array().iter().map(|h| h.to_hex()).collect();
                    let v = serde_json::json!({
                        "file": display(file),
                        "pdq": r.hash.to_hex(),
                        "quality": r.quality,
                        "dihedral": dihedral,
                    });
                    writeln!(out, "{v}").map_err(write_err)?;
                } else {
                    writeln!(
                        out,
                        "{} {} {}",
                        r.hash,
                        r.quality,
                        crate::output::term(file.display())
                    )
                    .map_err(write_err)?;
                }
            }
            Err(e) => {
                out.flush().map_err(write_err)?;
                eprintln!("athar: error: {}", crate::output::term(&e));
                worst = worst.max(exit_code(&e));
            }
        }
    }
    out.flush().map_err(write_err)?;
    Ok(if worst == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(worst)
    })
}

pub(crate) fn vpdq(args: &VpdqArgs) -> anyhow::Result<ExitCode> {
    if !(args.seconds_per_hash.is_finite() && args.seconds_per_hash >= 0.0) {
        eprintln!("athar: error: --seconds-per-hash must be a number ≥ 0");
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    let (w, h) = args.downsample.unwrap_or((0, 0));
    let opts = VpdqOptions {
        seconds_per_hash: args.seconds_per_hash,
        downsample_width: w,
        downsample_height: h,
        ..VpdqOptions::default()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_failed: Option<std::io::Error> = None;
    let json = args.json;
    let r = vpdq::hash_video_each(&args.file, &opts, |f: VpdqFrame| {
        if write_failed.is_some() {
            return;
        }
        let res = if json {
            let v = serde_json::json!({
                "frame": f.frame_number,
                "quality": f.quality,
                "pdq": f.hash.to_hex(),
                "timestamp": format!("{:.3}", f.timestamp).parse::<f64>().unwrap_or(f.timestamp),
            });
            writeln!(out, "{v}")
        } else {
            writeln!(out, "{}", f.to_line())
        };
        if let Err(e) = res {
            write_failed = Some(e);
        }
    });
    if let Some(e) = write_failed {
        return Err(write_err(e));
    }
    out.flush().map_err(write_err)?;
    match r {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("athar: error: {}", crate::output::term(&e));
            Ok(ExitCode::from(exit_code(&e)))
        }
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
