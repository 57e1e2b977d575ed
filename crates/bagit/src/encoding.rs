//! Decoding tag files in the character encoding that `bagit.txt` declares.

/// Character encodings accepted for tag files other than `bagit.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagEncoding {
    Utf8,
    Latin1,
    /// UTF-16 with byte order taken from the BOM, big-endian without one.
    Utf16,
    Utf16Le,
    Utf16Be,
}

impl TagEncoding {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_uppercase().replace('_', "-");
        Some(match n.as_str() {
            "UTF-8" | "UTF8" | "US-ASCII" | "ASCII" => TagEncoding::Utf8,
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "LATIN-1" | "ISO-LATIN-1" => {
                TagEncoding::Latin1
            }
            "UTF-16" | "UTF16" => TagEncoding::Utf16,
            "UTF-16LE" => TagEncoding::Utf16Le,
            "UTF-16BE" => TagEncoding::Utf16Be,
            _ => return None,
        })
    }
}

/// Result of decoding: the text, whether a BOM was stripped, and the byte offset of the
/// first invalid sequence (the text then holds replacement characters).
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) text: String,
    pub(crate) had_bom: bool,
    pub(crate) invalid: bool,
}

pub(crate) fn decode(bytes: &[u8], enc: TagEncoding) -> Decoded {
    match enc {
        TagEncoding::Utf8 => {
            let (had_bom, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
                Some(rest) => (true, rest),
                None => (false, bytes),
            };
            match std::str::from_utf8(body) {
                Ok(s) => Decoded {
                    text: s.to_owned(),
                    had_bom,
                    invalid: false,
                },
                Err(_) => Decoded {
                    text: String::from_utf8_lossy(body).into_owned(),
                    had_bom,
                    invalid: true,
                },
            }
        }
        TagEncoding::Latin1 => Decoded {
            text: bytes.iter().map(|&b| char::from(b)).collect(),
            had_bom: false,
            invalid: false,
        },
        TagEncoding::Utf16 | TagEncoding::Utf16Le | TagEncoding::Utf16Be => {
            let (mut little, mut had_bom, mut body) = (enc == TagEncoding::Utf16Le, false, bytes);
            if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
                (little, had_bom, body) = (true, true, rest);
            } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
                (little, had_bom, body) = (false, true, rest);
            }
            let mut invalid = body.len() % 2 != 0;
            let units = body.chunks_exact(2).map(|c| {
                let pair = [
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ];
                if little {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            });
            let text = char::decode_utf16(units)
                .map(|r| {
                    r.unwrap_or_else(|_| {
                        invalid = true;
                        char::REPLACEMENT_CHARACTER
                    })
                })
                .collect();
            Decoded {
                text,
                // A BOM is how UTF-16 states its byte order: not a defect there.
                had_bom: had_bom && enc != TagEncoding::Utf16,
                invalid,
            }
        }
    }
}

/// Splits text into lines on LF, CRLF or CR, numbering from 1. A final empty line (after a
/// trailing newline) is not returned.
pub(crate) fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        match rest.find(['\r', '\n']) {
            Some(i) => {
                out.push((n, rest.get(..i).unwrap_or_default()));
                let skip = if rest.get(i..i + 2) == Some("\r\n") {
                    2
                } else {
                    1
                };
                rest = rest.get(i + skip..).unwrap_or_default();
            }
            None => {
                out.push((n, rest));
                rest = "";
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_all_line_endings() {
        let got = lines("a\r\nb\nc\rd");
        assert_eq!(got, vec![(1, "a"), (2, "b"), (3, "c"), (4, "d")]);
        assert_eq!(lines("a\n"), vec![(1, "a")]);
        assert_eq!(lines("a\n\nb"), vec![(1, "a"), (2, ""), (3, "b")]);
        assert!(lines("").is_empty());
    }

    #[test]
    fn decodes_utf16_and_latin1() {
        let d = decode(b"\xFF\xFEa\x00b\x00", TagEncoding::Utf16);
        assert_eq!(d.text, "ab");
        assert!(!d.invalid && !d.had_bom);
        let d = decode(b"\x00a\x00", TagEncoding::Utf16);
        assert!(d.invalid);
        assert_eq!(decode(b"N\xfa", TagEncoding::Latin1).text, "Nú");
        let d = decode(b"\xEF\xBB\xBFx\xff", TagEncoding::Utf8);
        assert!(d.had_bom && d.invalid);
    }
}
