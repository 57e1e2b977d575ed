//! WARC/1.1 writing: the recorded exchanges as `response` and `request` records, each record
//! its own gzip member so that an offset and a length address one record, plus the CDXJ
//! index lines that replay tools (pywb, ReplayWeb.page) look records up by.
//!
//! What is written, per exchange:
//! - with a response: a `response` record (block = status line and headers as received, then
//!   the body as received, chunk framing and content encoding untouched) followed by a
//!   `request` record (block = request line, headers and body as sent) whose
//!   `WARC-Concurrent-To` names the response;
//! - without one (refused, reset, TLS failure): the `request` record and a `metadata` record
//!   (`application/warc-fields`, `fetch-error: …`) that refers to it. Replay tools skip both.
//!
//! A response cut short carries `WARC-Truncated` (`length`, `time`, `disconnect` or
//! `unspecified`, guessed from the exchange's `truncated` words; `disconnect` when only
//! `error` is set) and the words themselves in `WARC-Athar-Truncated-Reason`.
//!
//! `WARC-Payload-Digest` is over the entity body: a `Transfer-Encoding: chunked` body is
//! de-chunked first (WARC 1.1, section on `WARC-Payload-Digest`); a `Content-Encoding` stays.
//!
//! The index follows what `cdxj-indexer` (used by py-wacz) writes: `response` records only,
//! keyed by the SURT of the URL as the Python `surt` package computes it (pywb computes its
//! look-up keys with the same code, so a key that differs is a record replay cannot find);
//! requests other than GET carry `__wb_method=…` (and, for POST and PUT, the form or the
//! base64 body) in the key, as pywb's `MethodQueryCanonicalizer` does.

use std::fmt::Write as _;
use std::io::{self, Write};

use base64::Engine as _;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::exchange::Exchange;

/// What went wrong writing a WARC.
#[derive(Debug, thiserror::Error)]
pub enum WarcError {
    /// The output could not be written.
    #[error("writing the WARC: {0}")]
    Io(#[from] io::Error),
    /// An exchange's `started` is not an RFC 3339 time.
    #[error("exchange for {url}: `started` is not an RFC 3339 time: {value:?}")]
    BadTime {
        /// The exchange's URL.
        url: String,
        /// The value found.
        value: String,
    },
    /// The operating system's random source failed (record ids are random).
    #[error("drawing a random WARC record id: {0}")]
    Random(String),
}

/// The kind of a WARC record this writer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// The `warcinfo` record at the start of the file.
    Warcinfo,
    /// An HTTP response.
    Response,
    /// The HTTP request that a response answered (or that got no response).
    Request,
    /// A note about a request that got no response.
    Metadata,
}

impl RecordType {
    /// The `WARC-Type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Warcinfo => "warcinfo",
            RecordType::Response => "response",
            RecordType::Request => "request",
            RecordType::Metadata => "metadata",
        }
    }
}

/// Where one written record lies and what a CDXJ line for it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// The record's `WARC-Type`.
    pub record_type: RecordType,
    /// `WARC-Record-ID`, e.g. `<urn:uuid:…>`.
    pub record_id: String,
    /// `WARC-Target-URI` (empty for `warcinfo`).
    pub url: String,
    /// The SURT look-up key (with `__wb_method=…` for requests other than GET).
    pub urlkey: String,
    /// `WARC-Date` as 14 digits, `YYYYMMDDhhmmss`.
    pub timestamp: String,
    /// The response's media type, parameters dropped (responses only; None without one).
    pub mime: Option<String>,
    /// The HTTP status (responses only).
    pub status: Option<u16>,
    /// `WARC-Payload-Digest`, `sha256:<hex>` (None for `warcinfo` and `metadata`).
    pub digest: Option<String>,
    /// SHA-256 of the record's gzip member as stored, `sha256:<hex>` (py-wacz's
    /// `recordDigest`; lets a reader check one record without the whole file).
    pub record_digest: String,
    /// Offset of the record's gzip member in the file.
    pub offset: u64,
    /// Length of the record's gzip member.
    pub length: u64,
    /// The WARC file's name, as the index names it.
    pub filename: String,
    /// The request method when it is not GET (responses only).
    pub method: Option<String>,
    /// For POST and PUT, the body as pywb folds it into the key (responses only).
    pub request_body: Option<String>,
}

/// What the `warcinfo` record says.
#[derive(Debug, Clone)]
pub struct WarcInfo<'a> {
    /// The software that wrote the file, e.g. `Athar 0.1.0`.
    pub software: &'a str,
    /// When the file was written (its `WARC-Date`).
    pub created: OffsetDateTime,
    /// Further `name: value` lines, in order (e.g. `isPartOf`, `description`).
    pub fields: &'a [(&'a str, &'a str)],
}

/// Writes gzip-per-record WARC/1.1 to `W`, recording where each record went.
#[derive(Debug)]
pub struct WarcWriter<W: Write> {
    out: Tally<W>,
    filename: String,
    records: Vec<RecordInfo>,
}

impl<W: Write> WarcWriter<W> {
    /// Starts a WARC named `filename` (the name the index will use) and writes its
    /// `warcinfo` record.
    pub fn new(out: W, filename: &str, info: &WarcInfo<'_>) -> Result<Self, WarcError> {
        let mut writer = WarcWriter {
            out: Tally::new(out),
            filename: filename.to_owned(),
            records: Vec::new(),
        };
        writer.write_warcinfo(info)?;
        Ok(writer)
    }

    /// Writes the records for one exchange (see the module documentation).
    pub fn write_exchange(&mut self, exchange: &Exchange) -> Result<(), WarcError> {
        let date = parse_started(exchange)?;
        let warc_date = format_warc_date(date);
        let timestamp = format_timestamp(date);
        let url = clean_value(&exchange.url);
        let ip = exchange.remote_addr.map(|addr| addr.ip().to_string());

        if exchange.response_head.is_empty() {
            let request_id = self.write_request(exchange, &url, &warc_date, &timestamp, None)?;
            let reason = exchange.error.as_deref().unwrap_or("no response");
            let body = format!("fetch-error: {}\r\n", clean_value(reason));
            let record_id = new_record_id()?;
            let block_digest = sha256_label(&[body.as_bytes()]);
            let headers = vec![
                ("WARC-Type", "metadata".to_owned()),
                ("WARC-Record-ID", record_id.clone()),
                ("WARC-Date", warc_date.clone()),
                ("WARC-Target-URI", url.clone()),
                ("WARC-Refers-To", request_id),
                ("Content-Type", "application/warc-fields".to_owned()),
                ("WARC-Block-Digest", block_digest),
                ("Content-Length", body.len().to_string()),
            ];
            let (offset, length, record_digest) =
                self.write_record(&headers, &[body.as_bytes()])?;
            self.records.push(RecordInfo {
                record_type: RecordType::Metadata,
                record_id,
                url: url.clone(),
                urlkey: surt(&url),
                timestamp,
                mime: None,
                status: None,
                digest: None,
                record_digest,
                offset,
                length,
                filename: self.filename.clone(),
                method: None,
                request_body: None,
            });
            return Ok(());
        }

        let head = &exchange.response_head;
        let body = &exchange.response_body;
        let record_id = new_record_id()?;
        let block_digest = sha256_label(&[head, body]);
        let payload_digest = payload_digest(head, body);
        let mut headers = vec![
            ("WARC-Type", "response".to_owned()),
            ("WARC-Record-ID", record_id.clone()),
            ("WARC-Date", warc_date.clone()),
            ("WARC-Target-URI", url.clone()),
        ];
        if let Some(ip) = &ip {
            headers.push(("WARC-IP-Address", ip.clone()));
        }
        headers.push((
            "Content-Type",
            "application/http; msgtype=response".to_owned(),
        ));
        let cut = match (&exchange.truncated, &exchange.error) {
            (Some(reason), _) => Some((truncation_kind(reason), reason.as_str())),
            (None, Some(error)) => Some(("disconnect", error.as_str())),
            (None, None) => None,
        };
        if let Some((kind, reason)) = cut {
            headers.push(("WARC-Truncated", kind.to_owned()));
            headers.push(("WARC-Athar-Truncated-Reason", clean_value(reason)));
        }
        headers.push(("WARC-Block-Digest", block_digest));
        headers.push(("WARC-Payload-Digest", payload_digest.clone()));
        headers.push(("Content-Length", (head.len() + body.len()).to_string()));
        let (offset, length, record_digest) = self.write_record(&headers, &[head, body])?;

        let status = status_code(head).unwrap_or(exchange.status);
        let mime = header_value(head, "content-type").and_then(|value| {
            let mime = value
                .split(|c: char| c == ';' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .trim();
            (!mime.is_empty()).then(|| mime.to_owned())
        });
        let (urlkey, method, request_body) = method_key(exchange, &url);
        self.records.push(RecordInfo {
            record_type: RecordType::Response,
            record_id: record_id.clone(),
            url: url.clone(),
            urlkey: urlkey.clone(),
            timestamp: timestamp.clone(),
            mime,
            status: Some(status),
            digest: Some(payload_digest),
            record_digest,
            offset,
            length,
            filename: self.filename.clone(),
            method,
            request_body,
        });

        self.write_request(exchange, &url, &warc_date, &timestamp, Some(&record_id))?;
        Ok(())
    }

    /// The records written so far, in file order.
    pub fn records(&self) -> &[RecordInfo] {
        &self.records
    }

    /// Flushes and returns the output, the records written, the file's size and its SHA-256
    /// (lowercase hex).
    pub fn finish(mut self) -> Result<WarcOutput<W>, WarcError> {
        self.out.inner.flush()?;
        let sha256 = hex::encode(self.out.whole.finalize());
        Ok(WarcOutput {
            out: self.out.inner,
            records: self.records,
            bytes: self.out.offset,
            sha256,
        })
    }

    fn write_warcinfo(&mut self, info: &WarcInfo<'_>) -> Result<(), WarcError> {
        let date = info.created.to_offset(UtcOffset::UTC);
        let mut body = String::new();
        let mut field = |name: &str, value: &str| {
            let _ = write!(body, "{}: {}\r\n", clean_name(name), clean_value(value));
        };
        field("software", info.software);
        field("format", "WARC File Format 1.1");
        field(
            "conformsTo",
            "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        );
        for (name, value) in info.fields {
            field(name, value);
        }
        let record_id = new_record_id()?;
        let headers = vec![
            ("WARC-Type", "warcinfo".to_owned()),
            ("WARC-Record-ID", record_id.clone()),
            ("WARC-Date", format_warc_date(date)),
            ("WARC-Filename", clean_value(&self.filename)),
            ("Content-Type", "application/warc-fields".to_owned()),
            ("WARC-Block-Digest", sha256_label(&[body.as_bytes()])),
            ("Content-Length", body.len().to_string()),
        ];
        let (offset, length, record_digest) = self.write_record(&headers, &[body.as_bytes()])?;
        self.records.push(RecordInfo {
            record_type: RecordType::Warcinfo,
            record_id,
            url: String::new(),
            urlkey: String::new(),
            timestamp: format_timestamp(date),
            mime: None,
            status: None,
            digest: None,
            record_digest,
            offset,
            length,
            filename: self.filename.clone(),
            method: None,
            request_body: None,
        });
        Ok(())
    }

    fn write_request(
        &mut self,
        exchange: &Exchange,
        url: &str,
        warc_date: &str,
        timestamp: &str,
        concurrent_to: Option<&str>,
    ) -> Result<String, WarcError> {
        let head = &exchange.request_head;
        let body = &exchange.request_body;
        let record_id = new_record_id()?;
        let payload_digest = payload_digest(head, body);
        let mut headers = vec![
            ("WARC-Type", "request".to_owned()),
            ("WARC-Record-ID", record_id.clone()),
            ("WARC-Date", warc_date.to_owned()),
            ("WARC-Target-URI", url.to_owned()),
        ];
        if let Some(concurrent) = concurrent_to {
            headers.push(("WARC-Concurrent-To", concurrent.to_owned()));
        }
        headers.push((
            "Content-Type",
            "application/http; msgtype=request".to_owned(),
        ));
        headers.push(("WARC-Block-Digest", sha256_label(&[head, body])));
        headers.push(("WARC-Payload-Digest", payload_digest.clone()));
        headers.push(("Content-Length", (head.len() + body.len()).to_string()));
        let (offset, length, record_digest) = self.write_record(&headers, &[head, body])?;
        self.records.push(RecordInfo {
            record_type: RecordType::Request,
            record_id: record_id.clone(),
            url: url.to_owned(),
            urlkey: surt(url),
            timestamp: timestamp.to_owned(),
            mime: None,
            status: None,
            digest: Some(payload_digest),
            record_digest,
            offset,
            length,
            filename: self.filename.clone(),
            method: None,
            request_body: None,
        });
        Ok(record_id)
    }

    /// Writes one record as one gzip member; returns its offset, length and digest.
    fn write_record(
        &mut self,
        headers: &[(&str, String)],
        block: &[&[u8]],
    ) -> Result<(u64, u64, String), WarcError> {
        let start = self.out.offset;
        self.out.member = Sha256::new();
        let mut gz = GzEncoder::new(&mut self.out, Compression::default());
        gz.write_all(b"WARC/1.1\r\n")?;
        for (name, value) in headers {
            gz.write_all(name.as_bytes())?;
            gz.write_all(b": ")?;
            gz.write_all(value.as_bytes())?;
            gz.write_all(b"\r\n")?;
        }
        gz.write_all(b"\r\n")?;
        for part in block {
            gz.write_all(part)?;
        }
        gz.write_all(b"\r\n\r\n")?;
        gz.finish()?;
        let digest = std::mem::take(&mut self.out.member).finalize();
        Ok((
            start,
            self.out.offset - start,
            format!("sha256:{}", hex::encode(digest)),
        ))
    }
}

/// What [`WarcWriter::finish`] hands back.
#[derive(Debug)]
pub struct WarcOutput<W> {
    /// The output the writer wrote to.
    pub out: W,
    /// Every record written, in file order, `warcinfo` first.
    pub records: Vec<RecordInfo>,
    /// The file's size in bytes.
    pub bytes: u64,
    /// The file's SHA-256, lowercase hex.
    pub sha256: String,
}

/// The CDXJ lines (`<urlkey> <timestamp> {json}`, no newline) for the `response` records,
/// sorted as pywb and ReplayWeb.page binary-search them. The JSON has `url`, `mime`,
/// `status`, `digest`, `length`, `offset`, `filename` and `recordDigest` (numbers as
/// strings, as `cdxj-indexer` writes them), plus `method` and `requestBody` for requests
/// other than GET.
pub fn cdxj_lines(records: &[RecordInfo]) -> Vec<String> {
    #[derive(Serialize)]
    struct Fields<'a> {
        url: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        mime: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        digest: Option<&'a str>,
        length: String,
        offset: String,
        filename: &'a str,
        #[serde(rename = "recordDigest")]
        record_digest: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        method: Option<&'a str>,
        #[serde(rename = "requestBody", skip_serializing_if = "Option::is_none")]
        request_body: Option<&'a str>,
    }
    let mut lines: Vec<String> = records
        .iter()
        .filter(|record| record.record_type == RecordType::Response)
        .map(|record| {
            let fields = Fields {
                url: &record.url,
                mime: record.mime.as_deref(),
                status: record.status.map(|status| status.to_string()),
                digest: record.digest.as_deref(),
                length: record.length.to_string(),
                offset: record.offset.to_string(),
                filename: &record.filename,
                record_digest: &record.record_digest,
                method: record.method.as_deref(),
                request_body: record.request_body.as_deref(),
            };
            // Serialising a struct of strings cannot fail.
            let json = serde_json::to_string(&fields).unwrap_or_default();
            format!("{} {} {}", record.urlkey, record.timestamp, json)
        })
        .collect();
    lines.sort();
    lines
}

// ---------------------------------------------------------------------------------------
// Output accounting

/// Counts bytes, hashes the whole output and the current gzip member.
#[derive(Debug)]
struct Tally<W> {
    inner: W,
    offset: u64,
    whole: Sha256,
    member: Sha256,
}

impl<W> Tally<W> {
    fn new(inner: W) -> Self {
        Tally {
            inner,
            offset: 0,
            whole: Sha256::new(),
            member: Sha256::new(),
        }
    }
}

impl<W: Write> Write for Tally<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = &buf[..n];
        self.whole.update(written);
        self.member.update(written);
        self.offset += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------------------
// Record fields

fn parse_started(exchange: &Exchange) -> Result<OffsetDateTime, WarcError> {
    OffsetDateTime::parse(exchange.started.trim(), &Rfc3339)
        .map(|date| date.to_offset(UtcOffset::UTC))
        .map_err(|_| WarcError::BadTime {
            url: exchange.url.clone(),
            value: exchange.started.clone(),
        })
}

/// `WARC-Date`: UTC, seconds, microseconds when there are any.
fn format_warc_date(date: OffsetDateTime) -> String {
    let date = date.to_offset(UtcOffset::UTC);
    let formatted = if date.microsecond() == 0 {
        date.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
    } else {
        date.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
    };
    formatted.unwrap_or_default()
}

/// The 14-digit timestamp of CDXJ and replay URLs.
fn format_timestamp(date: OffsetDateTime) -> String {
    date.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default()
}

/// A random version-4 UUID as a WARC record id.
fn new_record_id() -> Result<String, WarcError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|error| WarcError::Random(error.to_string()))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    Ok(format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// `WARC-Truncated` wants one of a few tokens; the exchange says why in words.
fn truncation_kind(reason: &str) -> &'static str {
    let reason = reason.to_ascii_lowercase();
    if reason.contains("time") {
        "time"
    } else if ["length", "size", "byte", "limit", "large"]
        .iter()
        .any(|word| reason.contains(word))
    {
        "length"
    } else if ["disconnect", "reset", "closed", "eof"]
        .iter()
        .any(|word| reason.contains(word))
    {
        "disconnect"
    } else {
        "unspecified"
    }
}

/// A header value on one line: control characters become spaces.
fn clean_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A `warc-fields` name: no separators, no controls.
fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control() && *c != ':' && !c.is_whitespace())
        .collect()
}

fn sha256_label(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The payload digest of an HTTP message: over the body with chunk framing removed when
/// the head says `Transfer-Encoding: chunked` (and the framing parses), else over the body.
fn payload_digest(head: &[u8], body: &[u8]) -> String {
    if is_chunked(head) {
        if let Some(plain) = dechunk(body) {
            return sha256_label(&[&plain]);
        }
    }
    sha256_label(&[body])
}

fn is_chunked(head: &[u8]) -> bool {
    header_values(head, "transfer-encoding").any(|value| {
        value
            .split(',')
            .any(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
    })
}

/// Removes chunk framing. A body cut short (inside a chunk or its size line) yields what
/// arrived; framing that does not parse yields None. Trailers are ignored.
fn dechunk(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    loop {
        let Some(line_end) = rest.iter().position(|&b| b == b'\n') else {
            // Nothing left, or cut inside a size line: what arrived is the payload.
            let size = rest
                .split(|&b| b == b';')
                .next()
                .unwrap_or(b"")
                .trim_ascii();
            return size.iter().all(u8::is_ascii_hexdigit).then_some(out);
        };
        let line = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 1..];
        if size == 0 {
            return Some(out);
        }
        let take = usize::try_from(size).unwrap_or(usize::MAX).min(rest.len());
        out.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if (take as u64) < size {
            return Some(out);
        }
        if rest.starts_with(b"\r\n") {
            rest = &rest[2..];
        } else if rest.starts_with(b"\n") {
            rest = &rest[1..];
        } else if rest.is_empty() || rest == b"\r" {
            return Some(out);
        } else {
            return None;
        }
    }
}

/// The values of header `name` (lowercase) in a raw HTTP head, in order.
fn header_values<'a>(head: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    head.split(|&b| b == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .filter_map(move |line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let (key, value) = line.split_at(colon);
            if !key.trim_ascii().eq_ignore_ascii_case(name.as_bytes()) {
                return None;
            }
            std::str::from_utf8(&value[1..]).ok().map(str::trim)
        })
}

fn header_value<'a>(head: &'a [u8], name: &'a str) -> Option<&'a str> {
    header_values(head, name).next()
}

/// The status code from a response's status line.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// Look-up keys

/// pywb's `MethodQueryCanonicalizer` caps the folded body at this many characters.
const MAX_QUERY_LENGTH: usize = 4096;

/// The urlkey for a response, and the `method`/`requestBody` fields, as `cdxj-indexer
/// --post-append` and pywb's look-up compute them. GET keeps the plain SURT.
fn method_key(exchange: &Exchange, url: &str) -> (String, Option<String>, Option<String>) {
    let method = exchange.method.trim().to_ascii_uppercase();
    if method.is_empty() || method == "GET" {
        return (surt(url), None, None);
    }
    let mut query = String::new();
    if method == "POST" || method == "PUT" {
        query = body_query(exchange);
    }
    let mut appended = String::from(url);
    appended.push(if url.contains('?') { '&' } else { '?' });
    appended.push_str("__wb_method=");
    appended.push_str(&method);
    if !query.is_empty() {
        appended.push('&');
        appended.push_str(&query);
    }
    let body = (!query.is_empty()).then_some(query);
    (surt(&appended), Some(method), body)
}

/// The request body folded into a query string: forms decoded, other bodies base64 under
/// `__wb_post_data`. JSON and multipart bodies, which pywb re-encodes field by field, are
/// left out (their key then carries only `__wb_method`).
fn body_query(exchange: &Exchange) -> String {
    let head = &exchange.request_head;
    let mut body: &[u8] = &exchange.request_body;
    if let Some(length) = header_value(head, "content-length") {
        let Ok(length) = length.parse::<usize>() else {
            return String::new();
        };
        body = &body[..length.min(body.len())];
    }
    if body.is_empty() {
        return String::new();
    }
    let mime = header_value(head, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let binary = |data: &[u8]| {
        format!(
            "__wb_post_data={}",
            base64::engine::general_purpose::STANDARD.encode(data)
        )
    };
    let query = if mime.starts_with("application/x-www-form-urlencoded") {
        match std::str::from_utf8(body) {
            Ok(text) => unquote_plus(text),
            Err(_) => binary(body),
        }
    } else if mime.starts_with("multipart/")
        || mime.starts_with("application/json")
        || mime.starts_with("text/plain")
        || mime.starts_with("application/x-amf")
    {
        String::new()
    } else {
        binary(body)
    };
    query.chars().take(MAX_QUERY_LENGTH).collect()
}

/// Python's `urllib.parse.unquote_plus`.
fn unquote_plus(text: &str) -> String {
    let spaced = text.replace('+', " ");
    String::from_utf8_lossy(&unquote_bytes(spaced.as_bytes())).into_owned()
}

/// The SURT look-up key of a URL, as the Python `surt` package (`surt.surt(url)`, used by
/// pywb and py-wacz) computes it: host reversed and comma-joined, `www.` dropped, default
/// port dropped, path and query lowercased, query arguments sorted, session ids removed,
/// fragment dropped; e.g. `https://www.Example.com/Path?b=2&a=1` → `com,example)/path?a=1&b=2`.
/// A URL it cannot parse comes back unchanged, as `cdxj-indexer` does.
pub fn surt(url: &str) -> String {
    surt_bytes(url.as_bytes()).unwrap_or_else(|| url.to_owned())
}

#[derive(Debug, Default)]
struct HandyUrl {
    scheme: Vec<u8>,
    host: Option<Vec<u8>>,
    port: Option<u16>,
    path: Option<Vec<u8>>,
    query: Option<Vec<u8>>,
}

fn surt_bytes(url: &[u8]) -> Option<String> {
    if url.is_empty() {
        return Some("-".to_owned());
    }
    if url.starts_with(b"filedesc") {
        return Some(String::from_utf8_lossy(url).into_owned());
    }
    let mut hurl = parse_handyurl(url)?;
    google_canonicalize(&mut hurl);
    ia_canonicalize(&mut hurl);
    let bytes = surt_string(&hurl);
    String::from_utf8(bytes).ok()
}

fn scheme_len(url: &[u8]) -> Option<usize> {
    let first = *url.first()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let len = url
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.'))?;
    (url[len] == b':').then_some(len)
}

/// `handyurl.parse`.
fn parse_handyurl(url: &[u8]) -> Option<HandyUrl> {
    let url = url.trim_ascii();
    let mut url: Vec<u8> = url
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && b != b'\r' && b != b'\t')
        .collect();
    if url.is_empty() {
        return None;
    }
    if scheme_len(&url).is_none() {
        let mut with_scheme = b"http://".to_vec();
        with_scheme.extend_from_slice(&url);
        url = with_scheme;
    }
    // `^(https?://)+` → its last repetition.
    let mut rest: &[u8] = &url;
    let mut last: Option<&[u8]> = None;
    loop {
        if rest.starts_with(b"http://") {
            last = Some(b"http://");
            rest = &rest[7..];
        } else if rest.starts_with(b"https://") {
            last = Some(b"https://");
            rest = &rest[8..];
        } else {
            break;
        }
    }
    let url: Vec<u8> = match last {
        Some(prefix) => [prefix, rest].concat(),
        None => url.clone(),
    };

    // The RFC 2396 split.
    let (scheme, mut rest) = match scheme_len(&url) {
        Some(len) => (url[..len].to_vec(), &url[len + 1..]),
        None => (Vec::new(), &url[..]),
    };
    let mut netloc: &[u8] = b"";
    if rest.starts_with(b"//") {
        let after = &rest[2..];
        let end = after
            .iter()
            .position(|&b| b == b'/' || b == b'?' || b == b'#')
            .unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
    }
    let (before_fragment, _fragment) = match rest.iter().position(|&b| b == b'#') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (path, query) = match before_fragment.iter().position(|&b| b == b'?') {
        Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
        None => (before_fragment, None),
    };
    if scheme.is_empty() {
        return None;
    }
    let query = query.filter(|q| !q.is_empty()).map(<[u8]>::to_vec);
    let netloc = netloc.strip_suffix(b":").unwrap_or(netloc);

    // urllib's hostname and port.
    let hostinfo = match netloc.iter().rposition(|&b| b == b'@') {
        Some(i) => &netloc[i + 1..],
        None => netloc,
    };
    let (hostname, port_text): (&[u8], &[u8]) = match hostinfo.iter().position(|&b| b == b'[') {
        Some(open) => {
            let bracketed = &hostinfo[open + 1..];
            match bracketed.iter().position(|&b| b == b']') {
                Some(close) => {
                    let after = &bracketed[close + 1..];
                    let port = match after.iter().position(|&b| b == b':') {
                        Some(colon) => &after[colon + 1..],
                        None => b"",
                    };
                    (&bracketed[..close], port)
                }
                None => (bracketed, b""),
            }
        }
        None => match hostinfo.iter().position(|&b| b == b':') {
            Some(colon) => (&hostinfo[..colon], &hostinfo[colon + 1..]),
            None => (hostinfo, b""),
        },
    };
    let port = if port_text.is_empty() {
        None
    } else {
        if !port_text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value: u32 = std::str::from_utf8(port_text).ok()?.parse().ok()?;
        let value = u16::try_from(value).ok()?;
        (value != 0).then_some(value)
    };
    let mut host = if hostname.is_empty() {
        None
    } else {
        // Lowercased except an IPv6 zone after `%`.
        let (name, zone) = match hostname.iter().position(|&b| b == b'%') {
            Some(i) => hostname.split_at(i),
            None => (hostname, &b""[..]),
        };
        let mut lowered = name.to_ascii_lowercase();
        lowered.extend_from_slice(zone);
        Some(lowered)
    };
    let mut path = (!path.is_empty()).then(|| path.to_vec());
    if scheme.starts_with(b"http") && host.is_none() {
        if let Some(p) = &path {
            let trimmed: &[u8] = {
                let start = p.iter().position(|&b| b != b'/').unwrap_or(p.len());
                &p[start..]
            };
            let (first, remainder) = match trimmed.iter().position(|&b| b == b'/') {
                Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
                None => (trimmed, &b""[..]),
            };
            host = Some(first.to_vec());
            let mut new_path = b"/".to_vec();
            new_path.extend_from_slice(remainder);
            path = Some(new_path);
        }
    }
    Some(HandyUrl {
        scheme,
        host,
        port,
        path,
        query,
    })
}

/// `GoogleURLCanonicalizer.canonicalize` (the fragment is already gone).
fn google_canonicalize(url: &mut HandyUrl) {
    if let Some(query) = url.query.take() {
        url.query = Some(escape_once(&unescape_repeatedly(&query)));
    }
    if let Some(host) = url.host.take() {
        let host = unescape_repeatedly(&host);
        let host = replace_double_dots(&host);
        let host = trim_dots(&host);
        url.host = Some(match attempt_ip_formats(host) {
            Some(ip) => ip.into_bytes(),
            None => escape_once(&host.to_ascii_lowercase()),
        });
    }
    let path = url.path.take().map(|p| unescape_repeatedly(&p));
    let path = if url.host.as_ref().is_some_and(|h| !h.is_empty()) {
        Some(normalize_path(path.as_deref()))
    } else {
        path
    };
    url.path = path.map(|p| escape_once(&p));
}

/// `IAURLCanonicalizer.canonicalize` with its defaults.
fn ia_canonicalize(url: &mut HandyUrl) {
    if let Some(host) = url.host.as_mut() {
        host.make_ascii_lowercase();
        // massageHost: a leading `www\d*.` goes.
        if host.starts_with(b"www") {
            let digits = host[3..].iter().take_while(|b| b.is_ascii_digit()).count();
            if host.get(3 + digits) == Some(&b'.') {
                host.drain(..3 + digits + 1);
            }
        }
    }
    let default_port = match url.scheme.to_ascii_lowercase().as_slice() {
        b"http" => Some(80),
        b"https" => Some(443),
        _ => None,
    };
    if url.port.is_some() && url.port == default_port {
        url.port = None;
    }
    if let Some(path) = url.path.take() {
        let mut path = path.to_ascii_lowercase();
        if !path.is_empty() {
            path = strip_path_session_id(&path);
        }
        if path.len() > 1 && path.ends_with(b"/") {
            path.pop();
        }
        url.path = Some(path);
    }
    if let Some(query) = url.query.take() {
        let query = strip_query_session_id(&query);
        let query = query.to_ascii_lowercase();
        let query = alpha_reorder_query(&query);
        url.query = (!query.is_empty()).then_some(query);
    }
}

/// `handyurl.geturl_bytes(surt=True, with_scheme=False)`.
fn surt_string(url: &HandyUrl) -> Vec<u8> {
    let mut out = Vec::new();
    let host = url.host.as_ref().filter(|h| !h.is_empty());
    match host {
        Some(host) => {
            let mut parts: Vec<&[u8]> = host.split(|&b| b == b'.').collect();
            parts.reverse();
            out.extend_from_slice(&parts.join(&b","[..]));
            if let Some(port) = url.port {
                out.extend_from_slice(format!(":{port}").as_bytes());
            }
            out.push(b')');
        }
        None => {
            out.extend_from_slice(&url.scheme);
            out.push(b':');
        }
    }
    match &url.path {
        Some(path) if !path.is_empty() => out.extend_from_slice(path),
        _ => {
            if url.query.is_some() {
                out.push(b'/');
            }
        }
    }
    if let Some(query) = &url.query {
        out.push(b'?');
        out.extend_from_slice(query);
    }
    out
}

/// `unquote_to_bytes` once: `%XX` with two hex digits becomes the byte.
fn unquote_bytes(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(hi), Some(lo)) = (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unescape_repeatedly(input: &[u8]) -> Vec<u8> {
    let mut current = input.to_vec();
    loop {
        let next = unquote_bytes(&current);
        if next == current {
            return current;
        }
        current = next;
    }
}

/// `escapeOnce`: percent-encode bytes outside 0x21–0x7e, and `#` and `%`.
fn escape_once(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if b > 0x20 && b < 0x7f && b != b'#' && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// Python's `bytes.replace(b'..', b'.')`: non-overlapping, left to right.
fn replace_double_dots(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'.' && input.get(i + 1) == Some(&b'.') {
            out.push(b'.');
            i += 2;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

fn trim_dots(input: &[u8]) -> &[u8] {
    let start = input.iter().position(|&b| b != b'.').unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|&b| b != b'.')
        .map_or(start, |i| i + 1);
    &input[start..end.max(start)]
}

/// `attemptIPFormats`: an all-digit host is a 32-bit address; dotted decimal or octal forms
/// are read as `inet_aton` reads them.
fn attempt_ip_formats(host: &[u8]) -> Option<String> {
    if host.is_empty() {
        return None;
    }
    if host.iter().all(u8::is_ascii_digit) {
        let value: u128 = std::str::from_utf8(host).ok()?.parse().ok()?;
        let value = (value & 0xffff_ffff) as u32;
        return Some(std::net::Ipv4Addr::from(value).to_string());
    }
    let parts: Vec<&[u8]> = host.split(|&b| b == b'.').collect();
    if parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let decimal = parts[0][0] != b'0' && parts.iter().all(|p| p.iter().all(u8::is_ascii_digit));
    let octal = parts[0][0] == b'0'
        && parts
            .iter()
            .all(|p| p.iter().all(|&b| (b'0'..=b'7').contains(&b)));
    if !decimal && !octal {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let text = std::str::from_utf8(part).ok()?;
        let value = if part.len() > 1 && part[0] == b'0' {
            u64::from_str_radix(&text[1..], 8).ok()?
        } else {
            text.parse::<u64>().ok()?
        };
        numbers.push(value);
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if last_bits < 64 && *last >= (1u64 << last_bits) {
        return None;
    }
    let mut value: u64 = 0;
    for (i, n) in leading.iter().enumerate() {
        value |= n << (24 - 8 * i as u32);
    }
    value |= last;
    Some(std::net::Ipv4Addr::from(value as u32).to_string())
}

/// `normalizePath`: resolve `.` and `..`, collapse repeated slashes.
fn normalize_path(path: Option<&[u8]>) -> Vec<u8> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return b"/".to_vec();
    };
    let mut kept: Vec<&[u8]> = Vec::new();
    for segment in path.split(|&b| b == b'/').skip(1) {
        match segment {
            b"." => {}
            b".." => {
                if kept.pop().is_none() {
                    kept.push(segment);
                }
            }
            _ => kept.push(segment),
        }
    }
    let mut out = b"/".to_vec();
    if let Some((last, init)) = kept.split_last() {
        for segment in init {
            if !segment.is_empty() {
                out.extend_from_slice(segment);
                out.push(b'/');
            }
        }
        out.extend_from_slice(last);
    }
    out
}

/// `alphaReorderQuery`: sort `name[=value]` arguments, a bare name before `name=`.
fn alpha_reorder_query(query: &[u8]) -> Vec<u8> {
    if query.len() <= 1 {
        return query.to_vec();
    }
    let mut args: Vec<(&[u8], Option<&[u8]>)> = query
        .split(|&b| b == b'&')
        .map(|arg| match arg.iter().position(|&b| b == b'=') {
            Some(i) => (&arg[..i], Some(&arg[i + 1..])),
            None => (arg, None),
        })
        .collect();
    args.sort();
    let mut out = Vec::with_capacity(query.len());
    for (i, (name, value)) in args.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        if let Some(value) = value {
            out.push(b'=');
            out.extend_from_slice(value);
        }
    }
    out
}

/// How many bytes a pattern matched at the start of a slice.
type MatchLen = Option<usize>;
/// A pattern anchored at the start of a slice.
type Matcher = dyn Fn(&[u8]) -> MatchLen;

/// `stripQuerySessionID`: each pattern `^(.*)TOKEN(?:&(.*))?$` (case-insensitive), applied
/// once, at its last match.
fn strip_query_session_id(query: &[u8]) -> Vec<u8> {
    fn alnum(b: u8) -> bool {
        b.is_ascii_alphanumeric()
    }
    fn fixed(prefix: &'static [u8], count: usize) -> impl Fn(&[u8]) -> Option<usize> {
        move |s: &[u8]| {
            let n = prefix.len();
            if s.len() < n + count || !s[..n].eq_ignore_ascii_case(prefix) {
                return None;
            }
            s[n..n + count]
                .iter()
                .all(|&b| alnum(b))
                .then_some(n + count)
        }
    }
    let asp = |s: &[u8]| -> Option<usize> {
        let prefix = b"aspsessionid";
        let n = prefix.len();
        if s.len() < n + 8 + 1 + 24 || !s[..n].eq_ignore_ascii_case(prefix) {
            return None;
        }
        let letters = |r: &[u8]| r.iter().all(u8::is_ascii_alphabetic);
        (letters(&s[n..n + 8]) && s[n + 8] == b'=' && letters(&s[n + 9..n + 9 + 24]))
            .then_some(n + 9 + 24)
    };
    let cf = |s: &[u8]| -> Option<usize> {
        let prefix = b"cfid=";
        if s.len() < prefix.len() || !s[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return None;
        }
        let mut i = prefix.len();
        let start = i;
        while i < s.len() && s[i] != b'&' {
            i += 1;
        }
        if i == start {
            return None;
        }
        let token = b"&cftoken=";
        if s.len() < i + token.len() || !s[i..i + token.len()].eq_ignore_ascii_case(token) {
            return None;
        }
        i += token.len();
        let start = i;
        while i < s.len() && s[i] != b'&' {
            i += 1;
        }
        (i > start).then_some(i)
    };
    let jsession = fixed(b"jsessionid=", 32);
    let php = fixed(b"phpsessid=", 32);
    let sid = fixed(b"sid=", 32);
    let patterns: [&Matcher; 5] = [&jsession, &php, &sid, &asp, &cf];
    let mut query = query.to_vec();
    for pattern in patterns {
        for start in (0..=query.len()).rev() {
            let Some(len) = pattern(&query[start..]) else {
                continue;
            };
            let end = start + len;
            if end == query.len() {
                query.truncate(start);
                break;
            }
            if query[end] == b'&' {
                let mut joined = query[..start].to_vec();
                joined.extend_from_slice(&query[end + 1..]);
                query = joined;
                break;
            }
        }
    }
    query
}

/// `stripPathSessionID`: ASP.NET cookieless session segments before a `.aspx` path.
fn strip_path_session_id(path: &[u8]) -> Vec<u8> {
    // `\((?:[a-z]\([0-9a-z]{24}\))+\)/`
    fn nested(s: &[u8]) -> Option<usize> {
        if s.first() != Some(&b'(') {
            return None;
        }
        let mut i = 1;
        let mut units = 0;
        while i + 27 <= s.len()
            && s[i].is_ascii_alphabetic()
            && s[i + 1] == b'('
            && s[i + 2..i + 26].iter().all(u8::is_ascii_alphanumeric)
            && s[i + 26] == b')'
        {
            i += 27;
            units += 1;
        }
        (units > 0 && s.get(i) == Some(&b')') && s.get(i + 1) == Some(&b'/')).then_some(i + 2)
    }
    // `\([0-9a-z]{24}\)/`
    fn flat(s: &[u8]) -> Option<usize> {
        (s.len() >= 27
            && s[0] == b'('
            && s[1..25].iter().all(u8::is_ascii_alphanumeric)
            && s[25] == b')'
            && s[26] == b'/')
            .then_some(27)
    }
    // `[^?]+\.aspx.*`
    fn aspx_rest(s: &[u8]) -> bool {
        (1..s.len()).any(|k| {
            s[k..].len() >= 5
                && s[k..k + 5].eq_ignore_ascii_case(b".aspx")
                && !s[..k].contains(&b'?')
        })
    }
    let mut path = path.to_vec();
    let patterns: [fn(&[u8]) -> MatchLen; 2] = [nested, flat];
    for pattern in patterns {
        let slashes: Vec<usize> = path
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'/')
            .map(|(i, _)| i)
            .collect();
        for &slash in slashes.iter().rev() {
            let rest = &path[slash + 1..];
            let Some(len) = pattern(rest) else {
                continue;
            };
            if aspx_rest(&rest[len..]) {
                let mut joined = path[..=slash].to_vec();
                joined.extend_from_slice(&rest[len..]);
                path = joined;
                break;
            }
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn surt_examples() {
        let check = |url: &str, expected: &str| assert_eq!(surt(url), expected, "{url}");
        check("https://example.com/path?q", "com,example)/path?q");
        check("http://www.Example.com/", "com,example)/");
        check("https://example.com", "com,example)/");
        check(
            "https://www2.example.com:443/A/B/?b=2&a=1#frag",
            "com,example)/a/b?a=1&b=2",
        );
        check("http://example.com:8080/x", "com,example:8080)/x");
        check("http://1.2.3.4/x", "4,3,2,1)/x");
        check("example.com/a/./b/../c", "com,example)/a/c");
        check("http://example.com/a%20b%2541", "com,example)/a%20ba");
        check("http://example.com/?", "com,example)/");
        check(
            "http://example.com/x?jsessionid=0123456789abcdef0123456789abcdef&a=1",
            "com,example)/x?a=1",
        );
        check("dns:example.com", "dns:example.com");
        check("http://[::1]:8080/x", "::1:8080)/x");
    }

    #[test]
    fn dechunk_examples() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(
            dechunk(b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: y\r\n\r\n").as_deref(),
            Some(&b"hello"[..])
        );
        // Cut short inside a chunk: what arrived.
        assert_eq!(dechunk(b"a\r\nhello").as_deref(), Some(&b"hello"[..]));
        // Not chunk framing at all.
        assert_eq!(dechunk(b"hello world"), None);
        assert_eq!(dechunk(b"5\r\nhelloXX"), None);
    }

    #[test]
    fn payload_digest_of_chunked_body_is_over_the_entity() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let plain = format!("sha256:{}", hex::encode(Sha256::digest(b"hello world")));
        assert_eq!(payload_digest(head, body), plain);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 37\r\n\r\n";
        let raw = format!("sha256:{}", hex::encode(Sha256::digest(body)));
        assert_eq!(payload_digest(head, body), raw);
    }

    fn exchange(url: &str, head: &str, body: &[u8]) -> Exchange {
        Exchange {
            url: url.to_owned(),
            method: "GET".to_owned(),
            request_head: b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
            request_body: Vec::new(),
            response_head: head.as_bytes().to_vec(),
            response_body: body.to_vec(),
            status: 200,
            remote_addr: "192.0.2.7:443".parse().ok(),
            started: "2024-05-01T12:34:56.789Z".to_owned(),
            truncated: None,
            error: None,
        }
    }

    /// Each gzip member decompresses to exactly one WARC record whose Content-Length
    /// matches its block.
    #[test]
    fn records_frame_and_index() -> Result<(), Box<dyn std::error::Error>> {
        let info = WarcInfo {
            software: "test",
            created: OffsetDateTime::UNIX_EPOCH,
            fields: &[("isPartOf", "unit test")],
        };
        let mut writer = WarcWriter::new(Vec::new(), "data.warc.gz", &info)?;
        writer.write_exchange(&exchange(
            "https://example.com/",
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ))?;
        let mut cut = exchange(
            "https://example.com/big",
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
            b"0123456789",
        );
        cut.truncated = Some("size limit".to_owned());
        writer.write_exchange(&cut)?;
        let mut failed = exchange("https://down.example/", "", b"");
        failed.error = Some("connection refused".to_owned());
        writer.write_exchange(&failed)?;
        let output = writer.finish()?;
        let file = output.out;
        assert_eq!(output.bytes, file.len() as u64);
        let types: Vec<&str> = output
            .records
            .iter()
            .map(|r| r.record_type.as_str())
            .collect();
        assert_eq!(
            types,
            ["warcinfo", "response", "request", "response", "request", "request", "metadata"]
        );

        let mut expected_offset = 0;
        for record in &output.records {
            assert_eq!(record.offset, expected_offset);
            expected_offset += record.length;
            let member = &file[record.offset as usize..(record.offset + record.length) as usize];
            assert_eq!(
                record.record_digest,
                format!("sha256:{}", hex::encode(Sha256::digest(member)))
            );
            let mut decoder = GzDecoder::new(member);
            let mut text = Vec::new();
            decoder.read_to_end(&mut text)?;
            // One member holds exactly one record: nothing follows it in the member.
            let mut trailing = Vec::new();
            decoder.into_inner().read_to_end(&mut trailing)?;
            assert!(trailing.is_empty());
            assert!(text.starts_with(b"WARC/1.1\r\n"));
            let split = text
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .ok_or("no header end")?;
            let headers = std::str::from_utf8(&text[..split])?;
            let length: usize = headers
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .ok_or("no Content-Length")?
                .parse()?;
            let block = &text[split + 4..];
            assert_eq!(block.len(), length + 4, "block then CRLF CRLF");
            assert!(block.ends_with(b"\r\n\r\n"));
            assert!(headers.contains(&format!("WARC-Type: {}", record.record_type.as_str())));
            assert!(headers.contains(&format!("WARC-Record-ID: {}", record.record_id)));
            let block_digest = format!("sha256:{}", hex::encode(Sha256::digest(&block[..length])));
            assert!(
                headers.contains(&format!("WARC-Block-Digest: {block_digest}")),
                "{headers}"
            );
        }
        assert_eq!(expected_offset, file.len() as u64);

        let response = &output.records[1];
        assert_eq!(response.timestamp, "20240501123456");
        assert_eq!(response.mime.as_deref(), Some("text/html"));
        assert_eq!(response.urlkey, "com,example)/");
        let hello = format!("sha256:{}", hex::encode(Sha256::digest(b"hello")));
        assert_eq!(response.digest.as_deref(), Some(hello.as_str()));

        let lines = cdxj_lines(&output.records);
        assert_eq!(lines.len(), 2, "responses only: {lines:?}");
        assert!(lines[0].starts_with("com,example)/ 20240501123456 {\"url\":\"https://example.com/\",\"mime\":\"text/html\",\"status\":\"200\""), "{}", lines[0]);
        assert!(lines[1].starts_with("com,example)/big 20240501123456 "));
        Ok(())
    }

    #[test]
    fn post_keys_fold_the_form() {
        let mut post = exchange("https://example.com/search", "HTTP/1.1 200 OK\r\n\r\n", b"");
        post.method = "POST".to_owned();
        post.request_head = b"POST /search HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 16\r\n\r\n".to_vec();
        post.request_body = b"q=river+crossing".to_vec();
        let (key, method, body) = method_key(&post, &post.url);
        assert_eq!(
            key,
            "com,example)/search?__wb_method=post&q=river%20crossing"
        );
        assert_eq!(method.as_deref(), Some("POST"));
        assert_eq!(body.as_deref(), Some("q=river crossing"));

        post.request_head =
            b"POST /search HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
        post.request_body = vec![0, 1, 2];
        let (key, _, _) = method_key(&post, &post.url);
        assert_eq!(
            key,
            "com,example)/search?__wb_method=post&__wb_post_data=aaec"
        );
    }

    #[test]
    fn warc_dates() {
        let date = OffsetDateTime::parse("2024-05-01T14:34:56.5+02:00", &Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(format_warc_date(date), "2024-05-01T12:34:56.500000Z");
        assert_eq!(format_timestamp(date), "20240501123456");
        assert_eq!(
            format_warc_date(OffsetDateTime::UNIX_EPOCH),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn record_ids_are_uuid_v4() -> Result<(), WarcError> {
        let id = new_record_id()?;
        assert_eq!(id.len(), "<urn:uuid:>".len() + 36);
        assert_eq!(&id[10 + 14..10 + 15], "4");
        assert_ne!(id, new_record_id()?);
        Ok(())
    }
}
