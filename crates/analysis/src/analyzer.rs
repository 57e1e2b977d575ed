//! The fingerprint jobs' analyzer: PDQ for images (decoded in-process by the pure-Rust
//! `image` crate), vPDQ and frame variants for videos (frames from an FFmpeg child process
//! under time and memory limits), metadata, and the review images a reviewer sees first.

use std::path::Path;
use std::sync::OnceLock;

use athar_core::jobs::{Analysis, Analyzer, DerivedFile, Refreshable};
use athar_core::{Fingerprint, Item};
use athar_media::{metadata, pdq, review, variants, vpdq};

use crate::kinds::{Kind, ALGORITHM_VERSION, VARIANTS_GENERATION, VARIANTS_VERSION};

/// Fingerprints, metadata and review images of images and videos: the analyzer of the
/// background jobs.
#[derive(Debug, Default)]
pub struct MediaAnalyzer {
    ffmpeg: OnceLock<String>,
}

impl MediaAnalyzer {
    /// The first line of `ffmpeg -version`, or `ffmpeg (version unknown)`.
    fn ffmpeg_version(&self) -> &str {
        self.ffmpeg.get_or_init(|| {
            std::process::Command::new("ffmpeg")
                .arg("-version")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.lines().next().map(str::to_owned))
                .unwrap_or_else(|| "ffmpeg (version unknown)".to_owned())
        })
    }
}

impl Analyzer for MediaAnalyzer {
    fn analyze(&self, item: &Item, path: &Path) -> Result<Analysis, String> {
        let mut records = self.fingerprints(item, path)?;
        let meta = metadata::probe_metadata(path).map_err(|e| e.to_string())?;
        records.push(Fingerprint {
            algorithm: Kind::Metadata.as_str().into(),
            algorithm_version: ALGORITHM_VERSION.into(),
            decoder: self.ffmpeg_version().replace("ffmpeg", "ffprobe"),
            data: serde_json::to_string(&meta).map_err(|e| e.to_string())?,
        });
        // Review images: blurred and greyscale by default; the clear one exists but is
        // never what a reviewer sees first.
        let r = review::review_images(path, &review::ReviewOptions::default())
            .map_err(|e| e.to_string())?;
        let what = match r.kind {
            review::ReviewKind::Thumbnail => "thumbnail",
            review::ReviewKind::ContactSheet => "contact-sheet",
        };
        let derived = [
            ("blurred", r.blurred),
            ("greyscale", r.greyscale),
            ("clear", r.clear),
        ]
        .into_iter()
        .map(|(variant, img)| DerivedFile {
            role: format!("review-{what}-{variant}"),
            media_type: "image/jpeg".into(),
            bytes: img.jpeg,
        })
        .collect();
        Ok(Analysis { records, derived })
    }

    fn variants(&self) -> Option<Refreshable> {
        Some(Refreshable {
            with: Kind::Vpdq.as_str(),
            algorithm: Kind::VpdqVariants.as_str(),
            generation: VARIANTS_GENERATION,
        })
    }

    fn analyze_variants(&self, item: &Item, path: &Path) -> Result<Fingerprint, String> {
        if !item.media_type.starts_with("video/") {
            return Err(format!(
                "frame variants are made for videos, and this item is {}",
                item.media_type
            ));
        }
        // The same decode as a fingerprint job's; its reference hashes are not stored again.
        let (frames, extra) = vpdq::hash_video_with_variants(path, &vpdq::VpdqOptions::default())
            .map_err(|e| e.to_string())?;
        if frames.is_empty() {
            return Err("no video frames could be decoded".into());
        }
        Ok(self.variants_record(&extra))
    }
}

impl MediaAnalyzer {
    /// A video's frame variants as stored: their own kind, beside the reference record.
    fn variants_record(&self, extra: &[variants::VariantHash]) -> Fingerprint {
        Fingerprint {
            algorithm: Kind::VpdqVariants.as_str().into(),
            algorithm_version: VARIANTS_VERSION.into(),
            decoder: self.ffmpeg_version().to_owned(),
            data: variants::format_lines(extra),
        }
    }

    fn fingerprints(&self, item: &Item, path: &Path) -> Result<Vec<Fingerprint>, String> {
        if item.media_type.starts_with("image/") {
            let r = pdq::hash_image_file(path).map_err(|e| e.to_string())?;
            let mut data = format!("{} {}\n", r.hash, r.quality);
            for h in r.dihedral.to_array() {
                data.push_str(&format!("{h}\n"));
            }
            Ok(vec![Fingerprint {
                algorithm: Kind::Pdq.as_str().into(),
                algorithm_version: ALGORITHM_VERSION.into(),
                decoder: "image-rs (in-process)".into(),
                data,
            }])
        } else if item.media_type.starts_with("video/") {
            // One decode: the reference-compatible hashes, and from the same frames the
            // variants (borders removed, mirrored, cropped, logo- and caption-free parts)
            // stored as their own kind.
            let (frames, extra) =
                vpdq::hash_video_with_variants(path, &vpdq::VpdqOptions::default())
                    .map_err(|e| e.to_string())?;
            if frames.is_empty() {
                return Err("no video frames could be decoded".into());
            }
            Ok(vec![
                Fingerprint {
                    algorithm: Kind::Vpdq.as_str().into(),
                    algorithm_version: ALGORITHM_VERSION.into(),
                    decoder: self.ffmpeg_version().to_owned(),
                    data: vpdq::format_lines(&frames),
                },
                self.variants_record(&extra),
            ])
        } else {
            Ok(Vec::new())
        }
    }
}
