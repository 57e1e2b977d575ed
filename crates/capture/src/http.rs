//! Reading recorded HTTP/1.1 messages: header values, and a body as the page saw it (chunk
//! framing removed, gzip or deflate undone), bounded so a decompression bomb stops early.

use std::io::Read;

/// The most bytes a decoded body is allowed to grow to.
pub const DECODED_MAX: u64 = 64 << 20;

/// The first value of header `name` (case-insensitive) in a raw message head.
pub fn header(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The body without chunk framing, when `head` says it is chunked (else as is). A body cut
/// short keeps what arrived.
pub fn dechunk(head: &[u8], body: &[u8]) -> Vec<u8> {
    let chunked = header(head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if !chunked {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&rest[..eol]);
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        if take < size || rest.len() < size + 2 {
            break;
        }
        rest = &rest[size + 2..];
    }
    out
}

/// The body as the page saw it: de-chunked, and gzip or deflate content encoding undone (at
/// most [`DECODED_MAX`] bytes). Other encodings (e.g. br) are left as they are.
pub fn payload(head: &[u8], body: &[u8]) -> Vec<u8> {
    let raw = dechunk(head, body);
    let encoding = header(head, "content-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut out = Vec::new();
    let decoded = match encoding.trim() {
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(&raw[..])
            .take(DECODED_MAX)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(&raw[..])
            .take(DECODED_MAX)
            .read_to_end(&mut out),
        _ => return raw,
    };
    match decoded {
        Ok(_) => out,
        Err(_) if !out.is_empty() => out,
        Err(_) => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn headers_and_chunks() {
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(header(head, "content-type").as_deref(), Some("text/html"));
        assert_eq!(header(head, "location"), None);
        let body = b"5\r\nhello\r\n6;x=1\r\n world\r\n0\r\nTrailer: a\r\n\r\n";
        assert_eq!(dechunk(head, body), b"hello world");
        // Cut short: what arrived.
        assert_eq!(dechunk(head, b"5\r\nhel"), b"hel");
        assert_eq!(dechunk(b"HTTP/1.1 200 OK\r\n\r\n", b"5\r\nx"), b"5\r\nx");
    }

    #[test]
    fn gzip_is_undone_and_bounded() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..80 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        let head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n";
        let out = payload(head, &bomb);
        assert_eq!(out.len() as u64, DECODED_MAX);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all("<p>نص</p>".as_bytes()).unwrap();
        assert_eq!(payload(head, &gz.finish().unwrap()), "<p>نص</p>".as_bytes());
    }
}
