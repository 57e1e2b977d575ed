//! Media type detection from content (magic bytes), never from the file name.

/// The media type of a file whose first bytes are `head` and whose size is `size`.
pub fn detect(head: &[u8], size: u64) -> String {
    if size == 0 {
        return "application/x-empty".to_owned();
    }
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if looks_like_text(head) {
        return "text/plain".to_owned();
    }
    "application/octet-stream".to_owned()
}

fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sample is still text.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::detect;

    fn check(head: &[u8], expected: &str) {
        assert_eq!(detect(head, head.len() as u64), expected, "head {head:?}");
    }

    #[test]
    fn by_content_not_name() {
        check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png");
        check(b"\xff\xd8\xff\xe0\0\x10JFIF\0", "image/jpeg");
        check(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom", "video/mp4");
        check(b"%PDF-1.7\n", "application/pdf");
        check("شهادة witness statement\n".as_bytes(), "text/plain");
        check(&"ش".as_bytes()[..1], "text/plain");
        check(b"\x01\x02\x00\xff", "application/octet-stream");
        check(b"", "application/x-empty");
    }
}
