//! The fingerprint jobs' analyzer: PDQ for images (decoded in-process by the pure-Rust
//! `image` crate), vPDQ and frame variants for videos (frames from an FFmpeg child process
//! under time and memory limits), local features of images and of sampled video frames
//! (from the same decode), metadata, and the review images a reviewer sees first.

use std::path::Path;
use std::sync::OnceLock;

use athar_core::jobs::{self, Analysis, Analyzer, DerivedFile, Refreshable};
use athar_core::{Fingerprint, Item};
use athar_media::{image_rgb, local_match, metadata, pdq, review, variants, vpdq};

use crate::kinds::{Kind, ALGORITHM_VERSION, LOCAL_VERSION, VARIANTS_GENERATION, VARIANTS_VERSION};

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

    fn refreshable(&self) -> Vec<Refreshable> {
        let mut r = vec![VARIANTS_REFRESH];
        r.extend(LOCAL_REFRESH);
        r
    }

    fn analyze_refresh(&self, job: &str, item: &Item, path: &Path) -> Result<Fingerprint, String> {
        match job {
            jobs::VARIANTS => self.analyze_variants(item, path),
            LOCAL_JOB => self.analyze_local(item, path),
            other => Err(format!(
                "this analyzer makes no record alone for {other:?} jobs"
            )),
        }
    }
}

/// The frame variants record as a record a video analysed by an earlier build lacks or
/// holds of another generation: made again alone by a [`jobs::VARIANTS`] job
/// ([`MediaAnalyzer::analyze_variants`]).
pub const VARIANTS_REFRESH: Refreshable = Refreshable {
    job: jobs::VARIANTS,
    with: Kind::Vpdq.as_str(),
    algorithm: Kind::VpdqVariants.as_str(),
    generation: VARIANTS_GENERATION,
};

/// The job kind that makes an item's `local` record again, and nothing else, when it is
/// missing (the item was fingerprinted before the kind existed) or of another generation
/// ([`LOCAL_REFRESH`]).
pub const LOCAL_JOB: &str = "local";

impl MediaAnalyzer {
    /// Makes only the frame variants record of a video (a [`jobs::VARIANTS`] job), exactly
    /// as [`Analyzer::analyze`] would.
    pub fn analyze_variants(&self, item: &Item, path: &Path) -> Result<Fingerprint, String> {
        if !item.media_type.starts_with("video/") {
            return Err(format!(
                "frame variants are made for videos, and this item is {}",
                item.media_type
            ));
        }
        // The same decode as a fingerprint job's; its reference hashes are not stored again.
        let (frames, extra, _) =
            vpdq::hash_video_fingerprints(path, &vpdq::VpdqOptions::default(), false)
                .map_err(|e| e.to_string())?;
        if frames.is_empty() {
            return Err("no video frames could be decoded".into());
        }
        Ok(self.variants_record(&extra))
    }
}

/// The `local` record as a record an item analysed by an earlier build lacks: for images
/// (which hold `pdq`) and for videos (`vpdq`), of the generation this build makes. Made
/// again alone by a [`LOCAL_JOB`] job ([`MediaAnalyzer::analyze_local`]), which
/// `athar_core::jobs::enqueue_stale_records` queues like the frame variants' refresh.
pub const LOCAL_REFRESH: [Refreshable; 2] = [
    Refreshable {
        job: LOCAL_JOB,
        with: Kind::Pdq.as_str(),
        algorithm: Kind::Local.as_str(),
        generation: crate::kinds::LOCAL_GENERATION,
    },
    Refreshable {
        job: LOCAL_JOB,
        with: Kind::Vpdq.as_str(),
        algorithm: Kind::Local.as_str(),
        generation: crate::kinds::LOCAL_GENERATION,
    },
];

impl MediaAnalyzer {
    /// Makes only the `local` record of an image or video, exactly as
    /// [`Analyzer::analyze`] would (for items analysed before the kind existed).
    pub fn analyze_local(&self, item: &Item, path: &Path) -> Result<Fingerprint, String> {
        if item.media_type.starts_with("image/") {
            let img = image_rgb::load_rgb(path).map_err(|e| e.to_string())?;
            let features = local_match::frame_features(&img.pixels, img.width, img.height)
                .map_err(|e| e.to_string())?;
            let local = [local_match::LocalFrame {
                frame_number: 0,
                timestamp: 0.0,
                features,
            }];
            Ok(self.local_record(&local, "image-rs (in-process)".into()))
        } else if item.media_type.starts_with("video/") {
            let (frames, _, local) =
                vpdq::hash_video_fingerprints(path, &vpdq::VpdqOptions::default(), true)
                    .map_err(|e| e.to_string())?;
            if frames.is_empty() {
                return Err("no video frames could be decoded".into());
            }
            Ok(self.local_record(&local, self.ffmpeg_version().to_owned()))
        } else {
            Err(format!(
                "local features are made for images and videos, and this item is {}",
                item.media_type
            ))
        }
    }

    /// A video's frame variants as stored: their own kind, beside the reference record.
    fn variants_record(&self, extra: &[variants::VariantHash]) -> Fingerprint {
        Fingerprint {
            algorithm: Kind::VpdqVariants.as_str().into(),
            algorithm_version: VARIANTS_VERSION.into(),
            decoder: self.ffmpeg_version().to_owned(),
            data: variants::format_lines(extra),
        }
    }

    /// Local features as stored: their own kind, with their own version.
    fn local_record(&self, frames: &[local_match::LocalFrame], decoder: String) -> Fingerprint {
        Fingerprint {
            algorithm: Kind::Local.as_str().into(),
            algorithm_version: LOCAL_VERSION.into(),
            decoder,
            data: local_match::encode(frames),
        }
    }

    fn fingerprints(&self, item: &Item, path: &Path) -> Result<Vec<Fingerprint>, String> {
        if item.media_type.starts_with("image/") {
            let r = pdq::hash_image_file(path).map_err(|e| e.to_string())?;
            let mut data = format!("{} {}\n", r.hash, r.quality);
            for h in r.dihedral.to_array() {
                data.push_str(&format!("{h}\n"));
            }
            Ok(vec![
                Fingerprint {
                    algorithm: Kind::Pdq.as_str().into(),
                    algorithm_version: ALGORITHM_VERSION.into(),
                    decoder: "image-rs (in-process)".into(),
                    data,
                },
                // The image decoded again, under the same budget, for its local features.
                self.analyze_local(item, path)?,
            ])
        } else if item.media_type.starts_with("video/") {
            // One decode: the reference-compatible hashes, and from the same frames the
            // variants (borders removed, mirrored, cropped, logo- and caption-free parts)
            // and the local features of sampled frames, each stored as their own kind.
            let (frames, extra, local) =
                vpdq::hash_video_fingerprints(path, &vpdq::VpdqOptions::default(), true)
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
                self.local_record(&local, self.ffmpeg_version().to_owned()),
            ])
        } else {
            Ok(Vec::new())
        }
    }
}
