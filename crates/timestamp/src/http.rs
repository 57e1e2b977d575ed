//! A minimal HTTP/1.1 client: one POST over `std::net::TcpStream`, plain `http://` only.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::TsaError;

/// Largest response (headers and body) accepted.
pub(crate) const MAX_RESPONSE: usize = 1024 * 1024;
const MAX_HEADERS: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `host[:port]` as written, for the Host header.
    pub(crate) authority: String,
    pub(crate) path: String,
}

pub(crate) fn parse_url(url: &str) -> Result<Url, TsaError> {
    let unsupported = |reason: &str| TsaError::UnsupportedUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(unsupported("contains spaces or control characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| unsupported("not an http:// URL"))?;
    if scheme.eq_ignore_ascii_case("https") {
        return Err(unsupported(
            "https is not supported (this client has no TLS); use the TSA's http:// URL — \
             the token is signed, so the transport does not need to be trusted",
        ));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(unsupported("only http:// URLs are supported"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(unsupported("user information in URLs is not supported"));
    }
    let path = tail.split('#').next().unwrap_or_default();
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| unsupported("unterminated [IPv6] host"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| unsupported("bad port"))?),
        };
        (h, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(unsupported("missing host"));
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| unsupported("bad port"))?,
    };
    Ok(Url {
        host: host.to_owned(),
        port,
        authority: authority.to_owned(),
        path,
    })
}

struct Conn<'u> {
    stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
    deadline: Instant,
    url: &'u str,
    timeout: Duration,
}

impl Conn<'_> {
    fn io_err(&self, e: io::Error) -> TsaError {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            TsaError::Timeout {
                url: self.url.to_owned(),
                timeout: self.timeout,
            }
        } else {
            TsaError::Io {
                url: self.url.to_owned(),
                source: e,
            }
        }
    }

    fn remaining(&self) -> Result<Duration, TsaError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(TsaError::Timeout {
                url: self.url.to_owned(),
                timeout: self.timeout,
            })
        } else {
            Ok(left)
        }
    }

    /// Reads more bytes into `buf`; returns false at end of stream.
    fn read_more(&mut self) -> Result<bool, TsaError> {
        if self.eof {
            return Ok(false);
        }
        if self.buf.len() >= MAX_RESPONSE {
            return Err(TsaError::TooLarge {
                url: self.url.to_owned(),
                limit: MAX_RESPONSE,
            });
        }
        let left = self.remaining()?;
        self.stream
            .set_read_timeout(Some(left))
            .map_err(|e| self.io_err(e))?;
        let mut chunk = [0u8; 16 * 1024];
        let want = chunk.len().min(MAX_RESPONSE - self.buf.len());
        loop {
            match self.stream.read(&mut chunk[..want]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_err(e)),
            }
        }
    }

    /// Ensures at least `n` bytes are buffered.
    fn fill(&mut self, n: usize, what: &str) -> Result<(), TsaError> {
        if n > MAX_RESPONSE {
            return Err(TsaError::TooLarge {
                url: self.url.to_owned(),
                limit: MAX_RESPONSE,
            });
        }
        while self.buf.len() < n {
            if !self.read_more()? {
                return Err(http_err(
                    self.url,
                    format!("connection closed in the middle of the {what}"),
                ));
            }
        }
        Ok(())
    }

    /// Finds `\r\n` at or after `from`, reading more as needed (up to `limit` bytes from `from`).
    fn find_crlf(&mut self, from: usize, limit: usize, what: &str) -> Result<usize, TsaError> {
        let mut searched = from;
        loop {
            if let Some(i) = find(&self.buf[searched.min(self.buf.len())..], b"\r\n") {
                return Ok(searched + i);
            }
            searched = self.buf.len().saturating_sub(1).max(from);
            if self.buf.len() - from > limit {
                return Err(http_err(self.url, format!("{what} too long")));
            }
            if !self.read_more()? {
                return Err(http_err(
                    self.url,
                    format!("connection closed in the middle of the {what}"),
                ));
            }
        }
    }
}

fn http_err(url: &str, reason: impl Into<String>) -> TsaError {
    TsaError::Http {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// POSTs `body` to `url` and returns the response body of a 200 answer.
pub(crate) fn post(
    url: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, TsaError> {
    let parsed = parse_url(url)?;
    let deadline = Instant::now() + timeout;
    let stream = connect(&parsed, url, deadline, timeout)?;
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        eof: false,
        deadline,
        url,
        timeout,
    };
    conn.send_request(&parsed, content_type, body)?;
    let (headers_end, headers) = conn.read_head()?;
    conn.read_body(headers_end, &headers)
}

/// Resolves the host and connects to the first address that answers before `deadline`.
fn connect(
    parsed: &Url,
    url: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, TsaError> {
    let addrs = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()
        .map_err(|e| TsaError::Connect {
            url: url.to_owned(),
            source: e,
        })?;
    let mut last_err = io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TsaError::Timeout {
                url: url.to_owned(),
                timeout,
            });
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last_err = e,
        }
    }
    if last_err.kind() == io::ErrorKind::TimedOut {
        Err(TsaError::Timeout {
            url: url.to_owned(),
            timeout,
        })
    } else {
        Err(TsaError::Connect {
            url: url.to_owned(),
            source: last_err,
        })
    }
}

/// One parsed status line and header block.
struct Head {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

impl Conn<'_> {
    /// Writes the request line, headers and `body`.
    fn send_request(
        &mut self,
        parsed: &Url,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), TsaError> {
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: athar-timestamp/{}\r\n\
             Content-Type: {content_type}\r\nAccept: application/timestamp-reply\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            parsed.path,
            parsed.authority,
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        let left = self.remaining()?;
        self.stream
            .set_write_timeout(Some(left))
            .map_err(|e| self.io_err(e))?;
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.stream
            .write_all(&request)
            .map_err(|e| self.io_err(e))?;
        self.stream.flush().map_err(|e| self.io_err(e))
    }

    /// Reads the status line and headers of the final response, skipping any 1xx interim
    /// responses; fails unless the status is 200. Returns where the body starts and the
    /// headers (names lowercased).
    fn read_head(&mut self) -> Result<(usize, Vec<(String, String)>), TsaError> {
        let mut start = 0;
        loop {
            let end = self.find_headers_end(start)?;
            let head = self.parse_head(start, end)?;
            if (100..200).contains(&head.status) {
                start = end + 4;
                continue;
            }
            if head.status != 200 {
                return Err(TsaError::HttpStatus {
                    url: self.url.to_owned(),
                    status: head.status,
                    reason: head.reason,
                });
            }
            return Ok((end + 4, head.headers));
        }
    }

    /// Finds the `\r\n\r\n` that ends the header block starting at `start`.
    fn find_headers_end(&mut self, start: usize) -> Result<usize, TsaError> {
        let url = self.url;
        loop {
            if let Some(i) = find(&self.buf[start..], b"\r\n\r\n") {
                return Ok(start + i);
            }
            if self.buf.len() - start > MAX_HEADERS {
                return Err(http_err(url, "response headers too long"));
            }
            if !self.read_more()? {
                return Err(http_err(
                    url,
                    if self.buf.is_empty() {
                        "connection closed without a response".to_owned()
                    } else {
                        "connection closed in the middle of the headers".to_owned()
                    },
                ));
            }
        }
    }

    /// Parses the status line and headers in `buf[start..end]`.
    fn parse_head(&self, start: usize, end: usize) -> Result<Head, TsaError> {
        let url = self.url;
        let head = std::str::from_utf8(&self.buf[start..end])
            .map_err(|_| http_err(url, "response headers are not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(http_err(
                url,
                format!("not an HTTP/1.x response: {:.60}", status_line),
            ));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..1000).contains(s))
            .ok_or_else(|| http_err(url, format!("bad status line: {:.60}", status_line)))?;
        let reason = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        for line in lines {
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| http_err(url, format!("bad header line: {:.60}", line)))?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        Ok(Head {
            status,
            reason,
            headers,
        })
    }

    /// Reads the body that starts at `headers_end`: chunked, by Content-Length, or to the end
    /// of the connection.
    fn read_body(
        &mut self,
        headers_end: usize,
        headers: &[(String, String)],
    ) -> Result<Vec<u8>, TsaError> {
        let url = self.url;
        let header = |name: &'static str| {
            headers
                .iter()
                .filter(move |(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let chunked =
            header("transfer-encoding").any(|v| v.to_ascii_lowercase().contains("chunked"));
        let lengths: Vec<&str> = header("content-length").collect();

        if chunked {
            return self.read_chunked(headers_end);
        }

        if let Some(first) = lengths.first() {
            if lengths.iter().any(|l| l != first) {
                return Err(http_err(url, "conflicting Content-Length headers"));
            }
            let len: usize = first
                .parse()
                .map_err(|_| http_err(url, format!("bad Content-Length {:.20?}", first)))?;
            if len > MAX_RESPONSE {
                return Err(TsaError::TooLarge {
                    url: url.to_owned(),
                    limit: MAX_RESPONSE,
                });
            }
            self.fill(headers_end + len, "body")?;
            return Ok(self.buf[headers_end..headers_end + len].to_vec());
        }

        // Neither: the body runs to the end of the connection.
        while self.read_more()? {}
        Ok(self.buf[headers_end..].to_vec())
    }

    /// Reads a chunked body starting at `pos`.
    fn read_chunked(&mut self, mut pos: usize) -> Result<Vec<u8>, TsaError> {
        let url = self.url;
        let mut body = Vec::new();
        loop {
            let line_end = self.find_crlf(pos, 1024, "chunk size line")?;
            let line = std::str::from_utf8(&self.buf[pos..line_end])
                .map_err(|_| http_err(url, "bad chunk size line"))?;
            let size_str = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| http_err(url, format!("bad chunk size {:.20?}", size_str)))?;
            pos = line_end + 2;
            if size == 0 {
                break; // Trailers, if any, are not needed.
            }
            if size > MAX_RESPONSE || body.len() + size > MAX_RESPONSE {
                return Err(TsaError::TooLarge {
                    url: url.to_owned(),
                    limit: MAX_RESPONSE,
                });
            }
            self.fill(pos + size + 2, "chunked body")?;
            body.extend_from_slice(&self.buf[pos..pos + size]);
            if &self.buf[pos + size..pos + size + 2] != b"\r\n" {
                return Err(http_err(url, "chunk not followed by CRLF"));
            }
            pos += size + 2;
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://tsa.example:8080/tsr?x=1#frag").unwrap();
        assert_eq!(
            u,
            Url {
                host: "tsa.example".into(),
                port: 8080,
                authority: "tsa.example:8080".into(),
                path: "/tsr?x=1".into()
            }
        );
        let u = parse_url("HTTP://[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 80, "/"));
        for bad in [
            "https://tsa.example/",
            "ftp://x/",
            "tsa.example",
            "http://",
            "http://a:0/",
            "http://a:99999/",
            "http://u@a/",
            "http://a/b c",
            "http://a/\r\nX: y",
            "http://[::1/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
