//! A small, strict DER reader and writer: only what RFC 3161 and the parts of CMS it uses need.
//!
//! Strict means: definite lengths only, minimal length encodings, low tag numbers only,
//! minimal INTEGER encodings, DER BOOLEANs (0x00 / 0xFF), no trailing bytes where a structure
//! ends. Every length is checked against the bytes that remain, so no input can panic.

use std::fmt;

pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
pub(crate) const TELETEX_STRING: u8 = 0x14;
pub(crate) const IA5_STRING: u8 = 0x16;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const BMP_STRING: u8 = 0x1e;
pub(crate) const UNIVERSAL_STRING: u8 = 0x1c;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;

/// Context-specific tag `[n]`, constructed.
pub(crate) const fn ctx_cons(n: u8) -> u8 {
    0xa0 | n
}

/// Context-specific tag `[n]`, primitive.
pub(crate) const fn ctx_prim(n: u8) -> u8 {
    0x80 | n
}

/// Why a DER structure was refused, and which field was being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DerError {
    pub(crate) field: &'static str,
    pub(crate) reason: String,
}

impl DerError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        DerError {
            field,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// One tag-length-value element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) value: &'a [u8],
    /// The whole element, header included.
    pub(crate) raw: &'a [u8],
}

/// Reads consecutive elements from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next element, whatever its tag.
    pub(crate) fn read_any(&mut self, field: &'static str) -> Result<Tlv<'a>, DerError> {
        let start = self.pos;
        let rest = self.data.get(start..).unwrap_or_default();
        let (&tag, rest) = rest
            .split_first()
            .ok_or_else(|| DerError::new(field, "missing (input ends)"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::new(field, "high tag numbers are not supported"));
        }
        let (&first, rest) = rest
            .split_first()
            .ok_or_else(|| DerError::new(field, "truncated length"))?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else if first == 0x80 {
            return Err(DerError::new(field, "indefinite length is not DER"));
        } else {
            let n = usize::from(first & 0x7f);
            if n > 4 {
                return Err(DerError::new(field, "length too large"));
            }
            if rest.len() < n {
                return Err(DerError::new(field, "truncated length"));
            }
            let (len_bytes, rest) = rest.split_at(n);
            if len_bytes.first() == Some(&0) {
                return Err(DerError::new(field, "non-minimal length encoding"));
            }
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(DerError::new(field, "non-minimal length encoding"));
            }
            (len, rest)
        };
        if rest.len() < len {
            return Err(DerError::new(
                field,
                format!("length {len} exceeds the {} bytes available", rest.len()),
            ));
        }
        let header_len = self.data.len() - start - rest.len();
        let value = &rest[..len];
        let end = start + header_len + len;
        let raw = &self.data[start..end];
        self.pos = end;
        Ok(Tlv { tag, value, raw })
    }

    /// Reads the next element, which must have `tag`.
    pub(crate) fn read_tlv(&mut self, tag: u8, field: &'static str) -> Result<Tlv<'a>, DerError> {
        let got = self
            .peek_tag()
            .ok_or_else(|| DerError::new(field, "missing (input ends)"))?;
        if got != tag {
            return Err(DerError::new(
                field,
                format!("expected tag 0x{tag:02x}, found 0x{got:02x}"),
            ));
        }
        self.read_any(field)
    }

    /// Reads the next element's value, which must have `tag`.
    pub(crate) fn read(&mut self, tag: u8, field: &'static str) -> Result<&'a [u8], DerError> {
        Ok(self.read_tlv(tag, field)?.value)
    }

    /// Reads the next element's value if it has `tag`.
    pub(crate) fn read_optional(
        &mut self,
        tag: u8,
        field: &'static str,
    ) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek_tag() == Some(tag) {
            Ok(Some(self.read(tag, field)?))
        } else {
            Ok(None)
        }
    }

    /// Fails if bytes remain.
    pub(crate) fn finish(&self, field: &'static str) -> Result<(), DerError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DerError::new(field, "unexpected trailing data"))
        }
    }
}

/// Parses a whole buffer as exactly one element with `tag` and returns its value.
pub(crate) fn parse_single<'a>(
    data: &'a [u8],
    tag: u8,
    field: &'static str,
) -> Result<&'a [u8], DerError> {
    let mut r = Reader::new(data);
    let v = r.read(tag, field)?;
    r.finish(field)?;
    Ok(v)
}

/// Checks an INTEGER's content octets for DER minimality and returns them.
pub(crate) fn integer<'a>(value: &'a [u8], field: &'static str) -> Result<&'a [u8], DerError> {
    match value {
        [] => Err(DerError::new(field, "empty INTEGER")),
        [0x00, b, ..] if *b < 0x80 => Err(DerError::new(field, "non-minimal INTEGER")),
        [0xff, b, ..] if *b >= 0x80 => Err(DerError::new(field, "non-minimal INTEGER")),
        _ => Ok(value),
    }
}

/// Reads a non-negative INTEGER and returns its magnitude (big-endian, no leading zero).
pub(crate) fn unsigned_integer<'a>(
    value: &'a [u8],
    field: &'static str,
) -> Result<&'a [u8], DerError> {
    let v = integer(value, field)?;
    if v[0] & 0x80 != 0 {
        return Err(DerError::new(field, "negative INTEGER"));
    }
    Ok(if v.len() > 1 && v[0] == 0 { &v[1..] } else { v })
}

/// Reads a non-negative INTEGER that fits in a u64.
pub(crate) fn small_unsigned(value: &[u8], field: &'static str) -> Result<u64, DerError> {
    let m = unsigned_integer(value, field)?;
    if m.len() > 8 {
        return Err(DerError::new(field, "INTEGER too large"));
    }
    Ok(m.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Reads a DER BOOLEAN.
pub(crate) fn boolean(value: &[u8], field: &'static str) -> Result<bool, DerError> {
    match value {
        [0x00] => Ok(false),
        [0xff] => Ok(true),
        _ => Err(DerError::new(
            field,
            "BOOLEAN must be one byte, 0x00 or 0xFF",
        )),
    }
}

/// Decodes an OBJECT IDENTIFIER to dotted form.
pub(crate) fn oid_to_string(value: &[u8], field: &'static str) -> Result<String, DerError> {
    if value.is_empty() {
        return Err(DerError::new(field, "empty OBJECT IDENTIFIER"));
    }
    let mut arcs: Vec<u128> = Vec::new();
    let mut acc: u128 = 0;
    let mut in_arc = false;
    for &b in value {
        if !in_arc && b == 0x80 {
            return Err(DerError::new(field, "non-minimal OBJECT IDENTIFIER arc"));
        }
        if acc > (u128::MAX >> 7) {
            return Err(DerError::new(field, "OBJECT IDENTIFIER arc too large"));
        }
        acc = (acc << 7) | u128::from(b & 0x7f);
        in_arc = b & 0x80 != 0;
        if !in_arc {
            arcs.push(acc);
            acc = 0;
        }
    }
    if in_arc {
        return Err(DerError::new(field, "truncated OBJECT IDENTIFIER"));
    }
    let first = arcs[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Ok(s)
}

/// Converts a GeneralizedTime as RFC 3161 requires it (`YYYYMMDDhhmmss[.s+]Z`, no trailing
/// zeros in the fraction) to RFC 3339 UTC (`YYYY-MM-DDThh:mm:ss[.s+]Z`).
pub(crate) fn generalized_time_to_rfc3339(
    value: &[u8],
    field: &'static str,
) -> Result<String, DerError> {
    let bad = |why: &str| DerError::new(field, format!("invalid GeneralizedTime: {why}"));
    let s = std::str::from_utf8(value).map_err(|_| bad("not ASCII"))?;
    let body = s
        .strip_suffix('Z')
        .ok_or_else(|| bad("must end in Z (UTC)"))?;
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected YYYYMMDDhhmmss"));
    }
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) || f.ends_with('0') {
            return Err(bad("fraction must be digits without trailing zeros"));
        }
    }
    let num = |r: std::ops::Range<usize>| main[r].parse::<u32>().unwrap_or(u32::MAX);
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    let (hour, minute, second) = (num(8..10), num(10..12), num(12..14));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad("month out of range")),
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return Err(bad("field out of range"));
    }
    let mut out = format!(
        "{}-{}-{}T{}:{}:{}",
        &main[0..4],
        &main[4..6],
        &main[6..8],
        &main[8..10],
        &main[10..12],
        &main[12..14]
    );
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out.push('Z');
    Ok(out)
}

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 UTC time as produced by
/// [`generalized_time_to_rfc3339`] (fraction dropped; a leap second counts as :59).
pub(crate) fn rfc3339_to_unix(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?.min(59));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Encodes one element.
pub(crate) fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a non-negative INTEGER from a u64.
pub(crate) fn encode_u64(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    let mut content = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&bytes[skip..]);
    encode(INTEGER, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_be_minimal_and_definite() {
        assert!(Reader::new(&[0x04, 0x80, 0x00, 0x00])
            .read_any("x")
            .is_err());
        assert!(Reader::new(&[0x04, 0x81, 0x01, 0xaa])
            .read_any("x")
            .is_err());
        assert!(Reader::new(&[0x04, 0x82, 0x00, 0x81])
            .read_any("x")
            .is_err());
        assert!(Reader::new(&[0x04, 0x05, 0x00]).read_any("x").is_err());
        assert!(Reader::new(&[0x1f, 0x01, 0x00]).read_any("x").is_err());
        let t = Reader::new(&[0x04, 0x01, 0xaa]).read_any("x").unwrap();
        assert_eq!(t.value, &[0xaa]);
        let long = encode(OCTET_STRING, &[7; 300]);
        let t = Reader::new(&long).read_any("x").unwrap();
        assert_eq!(t.value.len(), 300);
        assert_eq!(t.raw, &long[..]);
    }

    #[test]
    fn integers() {
        for n in [0u64, 1, 0x7f, 0x80, 0xff, 0x100, u64::MAX, 1 << 63] {
            let enc = encode_u64(n);
            let v = parse_single(&enc, INTEGER, "n").unwrap();
            assert_eq!(small_unsigned(v, "n").unwrap(), n, "{enc:02x?}");
        }
        assert!(integer(&[0x00, 0x01], "n").is_err());
        assert!(integer(&[0xff, 0x80], "n").is_err());
        assert!(unsigned_integer(&[0x80], "n").is_err());
        assert!(small_unsigned(&[0x01; 9], "n").is_err());
    }

    #[test]
    fn oids() {
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        assert_eq!(
            oid_to_string(&sha256, "o").unwrap(),
            "2.16.840.1.101.3.4.2.1"
        );
        assert_eq!(oid_to_string(&[0x2b, 0x06, 0x01], "o").unwrap(), "1.3.6.1");
        assert!(oid_to_string(&[], "o").is_err());
        assert!(oid_to_string(&[0x2b, 0x86], "o").is_err());
        assert!(oid_to_string(&[0x2b, 0x80, 0x01], "o").is_err());
        assert!(oid_to_string(&[0xff; 40], "o").is_err());
    }

    #[test]
    fn unix_times() {
        assert_eq!(rfc3339_to_unix("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_to_unix("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(rfc3339_to_unix("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(
            rfc3339_to_unix("2026-11-27T01:45:09.5Z"),
            Some(1_795_743_909)
        );
        assert_eq!(rfc3339_to_unix("2026-11-27"), None);
    }

    #[test]
    fn generalized_times() {
        let ok = |s: &str| generalized_time_to_rfc3339(s.as_bytes(), "t").unwrap();
        assert_eq!(ok("20261127014509Z"), "2026-11-27T01:45:09Z");
        assert_eq!(ok("20240229235960.125Z"), "2024-02-29T23:59:60.125Z");
        for bad in [
            "20261127014509",
            "20261127014509.10Z",
            "20261127014509.Z",
            "2026112701450Z",
            "20230229000000Z",
            "20261327000000Z",
            "20261127244509Z",
            "2026112701450+Z",
            "20261127014509+0100",
        ] {
            assert!(
                generalized_time_to_rfc3339(bad.as_bytes(), "t").is_err(),
                "{bad}"
            );
        }
    }
}
