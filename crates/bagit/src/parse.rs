//! Parsers for the lines of BagIt tag files, and the path rules shared by reader and writer.
//! Everything here takes untrusted text and must never panic.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// A `BagIt-Version` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major version (`1` in `1.0`).
    pub major: u32,
    /// Minor version (`97` in `0.97`).
    pub minor: u32,
}

impl Version {
    /// BagIt 1.0, RFC 8493.
    pub const V1_0: Version = Version { major: 1, minor: 0 };

    /// Parses `M.N` where both are ASCII decimal numbers; anything else is `None`.
    pub fn parse(s: &str) -> Option<Version> {
        let (a, b) = s.split_once('.')?;
        let num = |p: &str| -> Option<u32> {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        Some(Version {
            major: num(a)?,
            minor: num(b)?,
        })
    }

    /// Versions whose layout this crate validates: 0.93 to 0.97 and 1.0.
    pub fn is_supported(self) -> bool {
        self == Version::V1_0 || (self.major == 0 && (93..=97).contains(&self.minor))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A `label: value` line of `bagit.txt`, split strictly: RFC 8493 §2.1.1 allows exactly
/// `Label: value`, one space after the colon, no other whitespace around label or value.
pub(crate) struct StrictField<'a> {
    pub(crate) label: &'a str,
    pub(crate) value: &'a str,
    /// What was wrong with the spacing, if anything (the field is still returned, trimmed).
    pub(crate) defect: Option<&'static str>,
}

pub(crate) fn strict_field(line: &str) -> Option<StrictField<'_>> {
    let (raw_label, raw_value) = line.split_once(':')?;
    let label = raw_label.trim();
    let value = raw_value.trim();
    let defect = if raw_label != label {
        Some("whitespace around the label")
    } else if !raw_value.starts_with(' ') || raw_value.get(1..) != Some(value) {
        Some("the value must follow the colon after exactly one space, with no other whitespace")
    } else {
        None
    };
    Some(StrictField {
        label,
        value,
        defect,
    })
}

/// One parsed manifest line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ManifestLine {
    /// Lowercase hex digest.
    pub(crate) digest: String,
    /// The path as written (still percent-encoded).
    pub(crate) raw_path: String,
    /// The path was written `*path`, as md5sum does in binary mode.
    pub(crate) binary_marker: bool,
}

/// Parses `digest<whitespace>path`. Returns an error message for malformed lines.
pub(crate) fn manifest_line(line: &str, hex_len: usize) -> Result<ManifestLine, String> {
    let line = line.trim();
    let Some(split) = line.find([' ', '\t']) else {
        return Err("expected `<digest> <path>`, found no path".into());
    };
    let digest = line.get(..split).unwrap_or_default();
    let mut path = line
        .get(split..)
        .unwrap_or_default()
        .trim_start_matches([' ', '\t']);
    if path.is_empty() {
        return Err("expected `<digest> <path>`, found no path".into());
    }
    if digest.len() != hex_len || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "digest {digest:?} is not {hex_len} hexadecimal characters"
        ));
    }
    let mut binary_marker = false;
    if let Some(rest) = path.strip_prefix('*') {
        binary_marker = true;
        path = rest;
    }
    Ok(ManifestLine {
        digest: digest.to_ascii_lowercase(),
        raw_path: path.to_owned(),
        binary_marker,
    })
}

/// One parsed `fetch.txt` line: `url length path`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FetchLine {
    pub(crate) url: String,
    pub(crate) length: Option<u64>,
    pub(crate) raw_path: String,
}

pub(crate) fn fetch_line(line: &str) -> Result<FetchLine, String> {
    let line = line.trim();
    let mut parts = line.splitn(3, [' ', '\t']);
    let url = parts.next().unwrap_or_default();
    let length = parts.next().unwrap_or_default();
    let path = parts
        .next()
        .unwrap_or_default()
        .trim_start_matches([' ', '\t']);
    if url.is_empty() || length.is_empty() || path.is_empty() {
        return Err("expected `<url> <length> <path>`".into());
    }
    let length = if length == "-" {
        None
    } else {
        Some(
            length
                .parse()
                .map_err(|_| format!("length {length:?} is neither a number nor `-`"))?,
        )
    };
    Ok(FetchLine {
        url: url.to_owned(),
        length,
        raw_path: path.to_owned(),
    })
}

/// Decodes the percent-encoding RFC 8493 §2.1.3 defines for manifest paths: only `%0D`,
/// `%0A` and `%25` (case-insensitive). Any other `%` is a literal character, as in 0.97 bags
/// with names like `%7Etest1.txt`.
pub(crate) fn percent_decode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let code = rest.get(i + 1..i + 3).map(str::to_ascii_uppercase);
        let decoded = match code.as_deref() {
            Some("0D") => Some('\r'),
            Some("0A") => Some('\n'),
            Some("25") => Some('%'),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = rest.get(i + 3..).unwrap_or_default();
            }
            None => {
                out.push('%');
                rest = rest.get(i + 1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Encodes a path for a manifest line (inverse of [`percent_decode_path`]).
pub(crate) fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// A manifest or fetch path after decoding and checking.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CheckedPath {
    /// Normalised path, relative to the bag root, `/`-separated.
    pub(crate) path: String,
    /// A leading `./` was removed.
    pub(crate) had_dot_slash: bool,
}

/// Decodes a manifest path and refuses anything that could name a file outside the bag or
/// that different systems would read differently.
pub(crate) fn check_bag_path(raw: &str) -> Result<CheckedPath, String> {
    let decoded = percent_decode_path(raw);
    let mut path = decoded.as_str();
    let mut had_dot_slash = false;
    while let Some(rest) = path.strip_prefix("./") {
        had_dot_slash = true;
        path = rest;
    }
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.contains('\0') {
        return Err("path contains a NUL character".into());
    }
    if path.starts_with('/') {
        return Err(format!("absolute path {path:?}"));
    }
    if path.starts_with('~') {
        return Err(format!("home-directory shortcut in {path:?}"));
    }
    if path.contains('\\') {
        return Err(format!(
            "backslash in {path:?} (a Windows separator; could escape the bag there)"
        ));
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b.first().is_some_and(u8::is_ascii_alphabetic) && b.get(1) == Some(&b':') {
        return Err(format!("drive-letter path {path:?}"));
    }
    for comp in path.split('/') {
        match comp {
            ".." => return Err(format!("`..` in {path:?} climbs out of its directory")),
            "." => return Err(format!("`.` component in {path:?}")),
            "" => return Err(format!("empty component in {path:?}")),
            _ => {}
        }
    }
    Ok(CheckedPath {
        path: path.to_owned(),
        had_dot_slash,
    })
}

/// Names that Windows reserves as devices, whatever the extension.
const WINDOWS_DEVICES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Turns a caller-supplied relative path into a safe, portable one: `/` or `\` separate
/// components; empty and `.` components are dropped; `..` is refused; control characters,
/// characters Windows forbids (`<>:"|?*`) and `%` become `_` (`%` because implementations
/// disagree on decoding `%25`: bagit-python 1.9 does not); components are trimmed of surrounding
/// whitespace and normalised to Unicode NFC; Windows device names get a `_` prefix; a
/// component longer than 255 bytes is refused.
pub fn sanitize_relative_path(input: &str) -> Result<String, String> {
    let mut parts: Vec<String> = Vec::new();
    for comp in input.split(['/', '\\']) {
        let comp = comp.trim();
        match comp {
            "" | "." => continue,
            ".." => return Err("`..` would leave the bag".into()),
            _ => {}
        }
        let mut clean: String = comp
            .nfc()
            .map(|c| {
                if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '%') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let stem = clean
            .split('.')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if WINDOWS_DEVICES.contains(&stem.trim_end()) {
            clean.insert(0, '_');
        }
        if clean.len() > 255 {
            return Err(format!("component {clean:?} is longer than 255 bytes"));
        }
        parts.push(clean);
    }
    if parts.is_empty() {
        return Err("empty path".into());
    }
    Ok(parts.join("/"))
}

/// Key under which two names are "the same" on a Unicode-normalising file system.
pub(crate) fn nfc_key(s: &str) -> String {
    s.nfc().collect()
}

/// Key under which two names are "the same" on a case-insensitive, normalising file system.
pub(crate) fn fold_key(s: &str) -> String {
    s.nfc().flat_map(char::to_lowercase).collect()
}

/// Operating-system metadata files that copying tools routinely create or strip.
pub(crate) fn is_system_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        ".ds_store" | "thumbs.db" | "desktop.ini" | "ehthumbs.db" | ".directory"
    ) || name.starts_with("._")
}

/// A manifest line as [`parse_manifest`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Lowercase hex digest.
    pub digest: String,
    /// The path, percent-decoded and checked, relative to the bag root.
    pub path: String,
}

/// A `fetch.txt` line as [`parse_fetch`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchEntry {
    pub url: String,
    /// `None` for `-` (length unknown).
    pub length: Option<u64>,
    /// The path, percent-decoded and checked, relative to the bag root.
    pub path: String,
}

/// Decodes tag-file bytes in the encoding named as `bagit.txt`'s
/// `Tag-File-Character-Encoding` names it (`None`: a name [`crate::validate`] refuses) and
/// returns the non-blank lines, numbered from 1.
fn tag_lines(bytes: &[u8], encoding: &str) -> Option<Vec<(usize, String)>> {
    let enc = crate::encoding::TagEncoding::from_name(encoding)?;
    let text = crate::encoding::decode(bytes, enc).text;
    Some(
        crate::encoding::lines(&text)
            .into_iter()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| (n, l.to_owned()))
            .collect(),
    )
}

/// Reads the lines of a manifest or tag manifest from its bytes with the parsers
/// [`crate::validate`] uses, without a bag on disk (for fuzzing and for tools): decoded in
/// `encoding` (as `bagit.txt` names it; `None` if the name is not supported), split on LF,
/// CRLF or CR, blank lines skipped, each line parsed as `digest path` for `algorithm`, its
/// path percent-decoded and checked. Each line gives its number and the entry or the message
/// `validate` reports for it. Payload-only rules (`data/`), duplicates and the files
/// themselves are `validate`'s business. Never panics.
pub fn parse_manifest(
    bytes: &[u8],
    encoding: &str,
    algorithm: crate::Algorithm,
) -> Option<Vec<(usize, Result<ManifestEntry, String>)>> {
    let lines = tag_lines(bytes, encoding)?;
    let entry = |line: &str| {
        let ml = manifest_line(line, algorithm.hex_len())?;
        Ok(ManifestEntry {
            digest: ml.digest,
            path: check_bag_path(&ml.raw_path)?.path,
        })
    };
    Some(lines.iter().map(|(n, l)| (*n, entry(l))).collect())
}

/// [`parse_manifest`] for `fetch.txt`: each line `url length path`. Nothing is fetched.
pub fn parse_fetch(
    bytes: &[u8],
    encoding: &str,
) -> Option<Vec<(usize, Result<FetchEntry, String>)>> {
    let lines = tag_lines(bytes, encoding)?;
    let entry = |line: &str| {
        let fl = fetch_line(line)?;
        Ok(FetchEntry {
            url: fl.url,
            length: fl.length,
            path: check_bag_path(&fl.raw_path)?.path,
        })
    };
    Some(lines.iter().map(|(n, l)| (*n, entry(l))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            Version::parse("0.97"),
            Some(Version {
                major: 0,
                minor: 97
            })
        );
        assert_eq!(Version::parse("1.0"), Some(Version::V1_0));
        for bad in [".97", "1.", "1", "1.0 ", "a.b", "1.0.0", "+1.0", ""] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
        assert!(!Version { major: 2, minor: 0 }.is_supported());
    }

    #[test]
    fn strict_fields() {
        let f = strict_field("BagIt-Version: 1.0").unwrap();
        assert!(f.defect.is_none());
        assert_eq!((f.label, f.value), ("BagIt-Version", "1.0"));
        for bad in [
            "BagIt-Version : 1.0",
            "BagIt-Version: 1.0 ",
            "BagIt-Version:1.0",
        ] {
            let f = strict_field(bad).unwrap();
            assert!(f.defect.is_some(), "{bad:?}");
            assert_eq!(f.value, "1.0");
        }
        assert!(strict_field("no colon").is_none());
    }

    #[test]
    fn manifest_lines() {
        let l = manifest_line("ABCD  data/a b.txt", 4).unwrap();
        assert_eq!(l.digest, "abcd");
        assert_eq!(l.raw_path, "data/a b.txt");
        assert!(manifest_line("abcd *data/x", 4).unwrap().binary_marker);
        assert!(manifest_line("abcd", 4).is_err());
        assert!(manifest_line("abcd   ", 4).is_err());
        assert!(manifest_line("abcg data/x", 4).is_err());
        assert!(manifest_line("abc data/x", 4).is_err());
        assert!(manifest_line("é data/x", 4).is_err());
        assert!(manifest_line("", 4).is_err());
    }

    #[test]
    fn fetch_lines() {
        let f = fetch_line("http://x/y - data/a b").unwrap();
        assert_eq!((f.length, f.raw_path.as_str()), (None, "data/a b"));
        assert_eq!(fetch_line("u 12 data/x").unwrap().length, Some(12));
        assert!(fetch_line("u x data/x").is_err());
        assert!(fetch_line("u 1").is_err());
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_decode_path("a%0d%0A%25b"), "a\r\n%b");
        assert_eq!(percent_decode_path("%7Etest%"), "%7Etest%");
        assert_eq!(percent_decode_path("%2"), "%2");
        let s = "x%\r\ny";
        assert_eq!(percent_decode_path(&percent_encode_path(s)), s);
    }

    #[test]
    fn bag_paths() {
        let ok = |p: &str| check_bag_path(p).unwrap().path;
        assert_eq!(ok("data/a"), "data/a");
        assert_eq!(ok("./data/a"), "data/a");
        assert!(check_bag_path("./data/a").unwrap().had_dot_slash);
        assert_eq!(ok("data/~x"), "data/~x");
        for bad in [
            "",
            "./",
            "/tmp/foo",
            "~/foo",
            "~root/foo",
            "../../../README.md",
            "data/../../x",
            "data/./x",
            "data//x",
            "\\.\\./x",
            "C:\\Windows\\x",
            "C:/x",
            "\\\\?\\UNC\\server\\x",
            "%HomeDrive%\\Windows",
            "data/a\0b",
        ] {
            assert!(check_bag_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sanitising() {
        let s = |p: &str| sanitize_relative_path(p);
        assert_eq!(s("a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(s("/abs//./x\\y ").unwrap(), "abs/x/y");
        assert_eq!(s("a\nb?:*%.txt").unwrap(), "a_b____.txt");
        assert_eq!(s("CON.txt").unwrap(), "_CON.txt");
        assert_eq!(s("Nu\u{301}n\u{303}ez").unwrap(), "Núñez");
        assert!(s("a/../b").is_err());
        assert!(s("").is_err());
        assert!(s("/./").is_err());
        assert!(s(&"x".repeat(256)).is_err());
    }

    #[test]
    fn system_files() {
        assert!(is_system_file("data/.DS_Store"));
        assert!(is_system_file("data/x/Thumbs.db"));
        assert!(is_system_file("data/._foo"));
        assert!(!is_system_file("data/foo"));
    }
}
