//! The kinds of fingerprint records Athar stores, and the versions recorded beside them.
//!
//! A record's `algorithm` column holds [`Kind::as_str`]; its `algorithm_version` names the
//! implementation that made it. Code that reads records matches on [`Kind`], never on the
//! strings.

/// A kind of fingerprint record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An image's PDQ hash and quality, then its 8 dihedral hashes, one per line.
    Pdq,
    /// A video's reference-compatible vPDQ frame hashes, one frame per line.
    Vpdq,
    /// A video's frame variants (Athar's own: unbordered, mirrored, cropped windows).
    VpdqVariants,
    /// The file's metadata (container, streams, creation time), as JSON.
    Metadata,
    /// Local binary features of an image, or of a video's sampled frames
    /// ([`athar_media::local_match`]'s record).
    Local,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Pdq,
        Kind::Vpdq,
        Kind::VpdqVariants,
        Kind::Metadata,
        Kind::Local,
    ];

    /// The name stored in a record's `algorithm`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Pdq => "pdq",
            Kind::Vpdq => "vpdq",
            Kind::VpdqVariants => athar_media::variants::ALGORITHM,
            Kind::Metadata => "metadata",
            Kind::Local => "local",
        }
    }

    /// The kind a stored `algorithm` names; None for kinds this build does not know.
    pub fn parse(algorithm: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == algorithm)
    }

    /// Whether records of this kind are hashes in the similarity index (the persisted
    /// part: reference-compatible hashes).
    pub fn is_indexed(self) -> bool {
        matches!(self, Kind::Pdq | Kind::Vpdq)
    }

    /// Whether records of this kind are searched for copies (indexed hashes and the
    /// frame variants built beside them).
    pub fn is_searched(self) -> bool {
        matches!(self, Kind::Pdq | Kind::Vpdq | Kind::VpdqVariants)
    }
}

/// Version of the fingerprint implementation recorded beside every PDQ, vPDQ and metadata
/// record.
pub const ALGORITHM_VERSION: &str = concat!(
    "athar-media ",
    env!("CARGO_PKG_VERSION"),
    " (reference-compatible)"
);

/// The generation of the local features (what is sampled, how many features, the record's
/// layout): raised whenever one changes.
macro_rules! local_generation {
    () => {
        "local 1"
    };
}

/// The local features' generation as the version of a stored record shows it.
pub const LOCAL_GENERATION: &str = concat!("(", local_generation!(), ":");

/// Version of the local features recorded beside them: the release and the generation.
pub const LOCAL_VERSION: &str = concat!(
    "athar-media ",
    env!("CARGO_PKG_VERSION"),
    " (",
    local_generation!(),
    ": ORB-like FAST corners and rotated BRIEF, at most 800 a frame, on the luma reduced to 640 pixels; the first frame of every 2 s, at most 20 a video)"
);

/// The generation of the frame variants (Athar's own hashes, not the reference's): raised
/// whenever what they hash changes. Items whose stored variants are of another generation
/// (or have none) get a `variants` job that makes them again; a new release of the same
/// generation does not.
macro_rules! variants_generation {
    () => {
        "variants 4"
    };
}

/// The generation as the version of a stored record shows it.
pub const VARIANTS_GENERATION: &str = concat!("(", variants_generation!(), ":");

/// Version of the frame variants recorded beside them: the release and the generation.
pub const VARIANTS_VERSION: &str = concat!(
    "athar-media ",
    env!("CARGO_PKG_VERSION"),
    " (",
    variants_generation!(),
    ": unbordered inside nested and overlaid borders and blended edge lines, mirrored picture and frame, centre 90%, inner, middle band, picture averaged onto the 64x64 grid from the decoder's luma plane, centre 80% window for crop search)"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("vpdq-variants"), Some(Kind::VpdqVariants));
        assert_eq!(Kind::parse("md5"), None);
        let indexed: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_indexed()).collect();
        assert_eq!(indexed, vec![Kind::Pdq, Kind::Vpdq]);
    }

    #[test]
    fn versions_carry_the_generation() {
        assert!(VARIANTS_VERSION.contains(VARIANTS_GENERATION));
        assert!(!ALGORITHM_VERSION.contains(VARIANTS_GENERATION));
        assert!(LOCAL_VERSION.contains(LOCAL_GENERATION));
        assert!(!VARIANTS_VERSION.contains(LOCAL_GENERATION));
        // The version names what the media crate does.
        use athar_media::local_match as lm;
        for part in [
            format!("at most {} a frame", lm::MAX_FEATURES),
            format!("reduced to {} pixels", lm::WORK_SIDE),
            format!(
                "every {} s, at most {} a video",
                lm::SAMPLE_SECONDS,
                lm::MAX_FRAMES
            ),
        ] {
            assert!(LOCAL_VERSION.contains(&part), "{part}");
        }
    }
}
