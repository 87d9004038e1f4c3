//! A deliberately small HTTP/1.1 implementation: request parsing (with
//! Content-Length and chunked bodies) and response writing (fixed-length and
//! chunked / close-delimited streams).

use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest accepted request line or header line.
const MAX_LINE: usize = 16 * 1024;
/// Largest accepted header section.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 200;
/// Largest accepted request body.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Request line and headers.
#[derive(Debug)]
pub struct Head {
    pub method: String,
    /// Request target as sent, with an absolute-form scheme/authority removed.
    pub target: String,
    /// `true` for HTTP/1.1 (or later 1.x), `false` for HTTP/1.0.
    pub http11: bool,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection may be reused after this request.
    pub fn keep_alive(&self) -> bool {
        if self.http11 {
            !self.header_has_token("connection", "close")
        } else {
            self.header_has_token("connection", "keep-alive")
        }
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("")
    }

    fn is_chunked(&self) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k == "transfer-encoding")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .rfind(|t| !t.is_empty())
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    }

    fn has_transfer_encoding(&self) -> bool {
        self.headers.iter().any(|(k, _)| k == "transfer-encoding")
    }

    fn content_length(&self) -> Result<usize, ReadError> {
        let mut len: Option<usize> = None;
        for (_, v) in self.headers.iter().filter(|(k, _)| k == "content-length") {
            for part in v.split(',') {
                let n: usize = part.trim().parse().map_err(|_| ReadError::Bad(400, "invalid content-length"))?;
                if len.is_some_and(|l| l != n) {
                    return Err(ReadError::Bad(400, "conflicting content-length"));
                }
                len = Some(n);
            }
        }
        Ok(len.unwrap_or(0))
    }

    /// Whether a request body follows the head.
    pub fn has_body(&self) -> bool {
        self.has_transfer_encoding() || self.content_length().is_ok_and(|n| n > 0)
    }

    pub fn expects_continue(&self) -> bool {
        self.http11 && self.header_has_token("expect", "100-continue")
    }
}

#[derive(Debug)]
pub enum ReadError {
    /// The peer closed or the socket failed; nothing can be answered.
    Io,
    /// A malformed request: answer with this status, then close.
    Bad(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Read one line terminated by LF (CR before it stripped). `Ok(None)` on EOF
/// before any byte.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if line.is_empty() {
                return Ok(None);
            }
            return Err(ReadError::Io);
        }
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&buf[..pos]);
            r.consume(pos + 1);
            break;
        }
        let n = buf.len();
        line.extend_from_slice(buf);
        r.consume(n);
        if line.len() > max {
            return Err(ReadError::Bad(431, "line too long"));
        }
    }
    if line.len() > max {
        return Err(ReadError::Bad(431, "line too long"));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Read a request head. `Ok(None)` when the peer closed cleanly between requests.
pub async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<Head>, ReadError> {
    // Tolerate a few empty lines before the request line (RFC 9112 §2.2).
    let mut request_line = None;
    for _ in 0..8 {
        match read_line(r, MAX_LINE).await? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => {
                request_line = Some(l);
                break;
            }
        }
    }
    let request_line = request_line.ok_or(ReadError::Bad(400, "missing request line"))?;
    let request_line = String::from_utf8(request_line).map_err(|_| ReadError::Bad(400, "bad request line"))?;
    let mut parts = request_line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "bad request line"));
    };
    let http11 = match version {
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/1.") => true,
        _ => return Err(ReadError::Bad(505, "unsupported HTTP version")),
    };
    if !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_') {
        return Err(ReadError::Bad(400, "bad method"));
    }

    let mut headers = Vec::new();
    let mut total = request_line.len();
    loop {
        let line = read_line(r, MAX_LINE).await?.ok_or(ReadError::Io)?;
        if line.is_empty() {
            break;
        }
        total += line.len() + 2;
        if total > MAX_HEAD || headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad(431, "header section too large"));
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400, "bad header line"));
        };
        if name.is_empty() || name.contains(|c: char| c.is_whitespace()) {
            return Err(ReadError::Bad(400, "bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()));
    }

    Ok(Some(Head { method: method.to_string(), target: strip_absolute_form(target).to_string(), http11, headers }))
}

/// `http://host:port/path?q` → `/path?q`.
fn strip_absolute_form(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if target.len() > scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = &target[scheme.len()..];
            return match rest.find('/') {
                Some(i) => &rest[i..],
                None => "/",
            };
        }
    }
    target
}

/// Read the request body described by `head`.
pub async fn read_body<R: AsyncBufRead + Unpin>(r: &mut R, head: &Head) -> Result<Vec<u8>, ReadError> {
    if head.has_transfer_encoding() {
        if !head.is_chunked() {
            return Err(ReadError::Bad(501, "unsupported transfer-encoding"));
        }
        return read_chunked(r).await;
    }
    let len = head.content_length()?;
    if len > MAX_BODY {
        return Err(ReadError::Bad(413, "body too large"));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(body)
}

async fn read_chunked<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r, MAX_LINE).await?.ok_or(ReadError::Io)?;
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| ReadError::Bad(400, "bad chunk size"))?;
        if size == 0 {
            // Trailer section, terminated by an empty line.
            loop {
                let line = read_line(r, MAX_LINE).await?.ok_or(ReadError::Io)?;
                if line.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::Bad(413, "body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).await?;
        let end = read_line(r, MAX_LINE).await?.ok_or(ReadError::Io)?;
        if !end.is_empty() {
            return Err(ReadError::Bad(400, "bad chunk terminator"));
        }
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

fn connection_header(keep_alive: bool) -> &'static str {
    if keep_alive { "keep-alive" } else { "close" }
}

/// Write a complete response with a Content-Length body.
pub async fn write_response<W: AsyncWrite + Unpin>(
    w: &mut W,
    status: u16,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    write_response_with(w, status, content_type, &[], body, keep_alive).await
}

/// [`write_response`] with extra header lines (`name`, `value`).
pub async fn write_response_with<W: AsyncWrite + Unpin>(
    w: &mut W,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let extra: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: {}\r\n{extra}\r\n",
        reason(status),
        body.len(),
        connection_header(keep_alive),
    )
    .into_bytes();
    out.extend_from_slice(body);
    w.write_all(&out).await?;
    w.flush().await
}

/// A `text/event-stream` response body, sent with chunked transfer coding on
/// HTTP/1.1 and close-delimited on HTTP/1.0.
pub struct EventStream<'a, W: AsyncWrite + Unpin> {
    w: &'a mut W,
    chunked: bool,
}

impl<'a, W: AsyncWrite + Unpin> EventStream<'a, W> {
    /// Write the response head. With `chunked == false` the connection must be
    /// closed after the stream.
    pub async fn start(w: &'a mut W, chunked: bool, keep_alive: bool) -> io::Result<Self> {
        let keep_alive = keep_alive && chunked;
        let framing = if chunked { "transfer-encoding: chunked\r\n" } else { "" };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n{framing}connection: {}\r\n\r\n",
            connection_header(keep_alive),
        );
        w.write_all(head.as_bytes()).await?;
        w.flush().await?;
        Ok(EventStream { w, chunked })
    }

    /// Send one SSE event `data: <data>\n\n`.
    pub async fn data(&mut self, data: &str) -> io::Result<()> {
        let event = format!("data: {data}\n\n");
        let out = if self.chunked { format!("{:x}\r\n{event}\r\n", event.len()) } else { event };
        self.w.write_all(out.as_bytes()).await?;
        self.w.flush().await
    }

    /// Send `data: [DONE]` and end the body.
    pub async fn finish(mut self) -> io::Result<()> {
        self.data("[DONE]").await?;
        if self.chunked {
            self.w.write_all(b"0\r\n\r\n").await?;
            self.w.flush().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn parse(raw: &[u8]) -> Result<Option<(Head, Vec<u8>)>, ReadError> {
        let mut r = BufReader::new(raw);
        let Some(head) = read_head(&mut r).await? else {
            return Ok(None);
        };
        let body = read_body(&mut r, &head).await?;
        Ok(Some((head, body)))
    }

    #[tokio::test]
    async fn parses_content_length() {
        let (h, b) = parse(
            b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX-Thing:  v \r\n\r\nabcdef",
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(h.method, "POST");
        assert_eq!(h.path(), "/v1/chat/completions");
        assert_eq!(h.target, "/v1/chat/completions?x=1");
        assert_eq!(h.header("x-thing"), Some("v"));
        assert_eq!(h.header("HOST"), Some("a"));
        assert!(h.keep_alive());
        assert_eq!(b, b"abc");
    }

    #[tokio::test]
    async fn parses_chunked() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
        let (_, b) = parse(raw).await.unwrap().unwrap();
        assert_eq!(b, b"abc0123456789");
    }

    #[tokio::test]
    async fn absolute_form_and_http10() {
        let (h, _) = parse(b"GET http://127.0.0.1:1/v1/models HTTP/1.0\r\n\r\n").await.unwrap().unwrap();
        assert_eq!(h.target, "/v1/models");
        assert!(!h.keep_alive());
    }

    #[tokio::test]
    async fn rejects_garbage() {
        assert!(matches!(parse(b"nonsense\r\n\r\n").await, Err(ReadError::Bad(400, _))));
        assert!(matches!(parse(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").await, Err(ReadError::Bad(400, _))));
        assert!(parse(b"").await.unwrap().is_none());
    }
}
