//! What the recording proxy saw: each request and response as bytes on the wire, and what
//! the network said about each host (DNS answers, TLS). The WARC writer reads only these.

use std::net::{IpAddr, SocketAddr};

/// One request the page (or a tool) made and the response it got, bytes as sent and as
/// received.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// The absolute URL requested (`https://host/path?query`; default ports left out).
    pub url: String,
    pub method: String,
    /// The request line and headers exactly as sent upstream, ending with the blank line.
    pub request_head: Vec<u8>,
    /// The request body as sent (empty for GET).
    pub request_body: Vec<u8>,
    /// The status line and headers exactly as received, ending with the blank line; empty
    /// when no response came (see `error`).
    pub response_head: Vec<u8>,
    /// The response body exactly as received: content and transfer encodings untouched
    /// (a chunked body keeps its chunk framing).
    pub response_body: Vec<u8>,
    /// The status code (0 when no response came).
    pub status: u16,
    /// The address the response came from.
    pub remote_addr: Option<SocketAddr>,
    /// When the request was sent (RFC 3339, UTC, with fractional seconds).
    pub started: String,
    /// Why the response body stops short of what the server sent (a size or time limit);
    /// None when it is whole.
    pub truncated: Option<String>,
    /// Why no (whole) response came: refused, reset, timed out, a TLS failure.
    pub error: Option<String>,
}

/// What the network said about one host the capture reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostContext {
    pub host: String,
    pub port: u16,
    /// The addresses DNS answered with at capture time, in its order (empty through a
    /// proxy, which resolves names itself).
    pub dns: Vec<IpAddr>,
    /// The TLS session of the first connection to it (None for plain HTTP).
    pub tls: Option<TlsInfo>,
}

/// A TLS session to an origin server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// e.g. `TLSv1_3`.
    pub protocol: String,
    /// e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: String,
    /// The ALPN protocol agreed, if any.
    pub alpn: Option<String>,
    /// The server's certificate chain as it sent it, leaf first (DER).
    pub chain_der: Vec<Vec<u8>>,
}
