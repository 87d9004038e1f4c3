//! Strict `Content-Length` framing (LSP style), identical on stdio and TCP.
//!
//! A frame is `Content-Length: N\r\n` (other `Name: value` headers are allowed and ignored),
//! an empty line, then exactly N bytes of UTF-8 JSON. The reader never trusts the peer: the
//! header block is bounded, the length must be plain decimal digits, the body is bounded by the
//! configured maximum, and each violation is its own [`ErrorKind`].

use crate::error::{Error, ErrorKind, Result};
use serde::Serialize;
use std::io::Write as _;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Default maximum size of one message body: 64 MiB. `session.getMessages` on a long session
/// returns the whole history (including full prompt snapshots), so this is generous on purpose.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;
/// Maximum size of a header block. Real headers are ~25 bytes.
pub const MAX_HEADER_SIZE: usize = 8 * 1024;

const READ_CHUNK: usize = 64 * 1024;

/// Reads frames from a byte stream. Each body is copied once, from the read buffer (or straight
/// from the stream for large bodies) into its own `Vec`.
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_message_size: usize,
    /// How far the current header has been checked (offsets from `start`).
    scan: HeaderScan,
}

/// The part of a header already checked, so each byte is looked at once however the header is
/// split into reads.
#[derive(Default, Clone, Copy)]
struct HeaderScan {
    /// Start of the line being read.
    line_start: usize,
    /// First byte not checked yet.
    pos: usize,
    /// The line being read has a colon.
    colon: bool,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, max_message_size: usize) -> Self {
        FrameReader { inner, buf: vec![0; READ_CHUNK], start: 0, end: 0, max_message_size, scan: HeaderScan::default() }
    }

    /// The next frame body, `Ok(None)` on a clean EOF between frames.
    pub async fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        let (header_len, body_len) = loop {
            // Every complete header line is checked as soon as it arrives, so a malformed one
            // fails at once instead of leaving the reader waiting for a blank line.
            if let Some((block_end, header_len)) = scan_header(&self.buf[self.start..self.end], &mut self.scan)? {
                self.scan = HeaderScan::default();
                // The same limit whether the header came in one read or in many.
                if header_len > MAX_HEADER_SIZE {
                    return Err(header_too_long());
                }
                let len = parse_headers(&self.buf[self.start..self.start + block_end])?;
                break (header_len, len);
            }
            if self.end - self.start > MAX_HEADER_SIZE {
                return Err(header_too_long());
            }
            if self.fill().await? == 0 {
                return if self.start == self.end {
                    Ok(None)
                } else {
                    Err(Error::closed("connection closed in the middle of a frame header"))
                };
            }
        };
        if body_len > self.max_message_size {
            return Err(Error::new(
                ErrorKind::MessageTooLarge,
                format!("incoming message of {body_len} bytes exceeds the limit of {} bytes", self.max_message_size),
            ));
        }
        self.start += header_len;
        let buffered = (self.end - self.start).min(body_len);
        let mut body = Vec::with_capacity(body_len);
        body.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if buffered < body_len {
            // Large body: read the rest directly into its final place.
            body.resize(body_len, 0);
            let mut filled = buffered;
            while filled < body_len {
                let n = self.inner.read(&mut body[filled..]).await.map_err(|e| Error::io("read", e))?;
                if n == 0 {
                    return Err(Error::closed(format!(
                        "connection closed in the middle of a frame body ({filled} of {body_len} bytes)"
                    )));
                }
                filled += n;
            }
        }
        Ok(Some(body))
    }

    /// Reads more bytes into the buffer; returns how many (0 = EOF).
    async fn fill(&mut self) -> Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.inner.read(&mut self.buf[self.end..]).await.map_err(|e| Error::io("read", e))?;
        self.end += n;
        Ok(n)
    }
}

fn header_too_long() -> Error {
    Error::new(ErrorKind::FrameHeader, format!("frame header exceeds {MAX_HEADER_SIZE} bytes"))
}

/// Checks the header bytes received so far, from where the last call stopped: every line ends
/// with `\r\n`, is printable ASCII and (unless it is the blank line that ends the block) has a
/// colon. Returns the end of the header block (without its last `\r\n`) and the length of the
/// block with the blank line, once the blank line has arrived.
fn scan_header(b: &[u8], st: &mut HeaderScan) -> Result<Option<(usize, usize)>> {
    let bad = |why: String| Err(Error::new(ErrorKind::FrameHeader, why));
    while st.pos < b.len() {
        let i = st.pos;
        let c = b[i];
        st.pos += 1;
        // A CR only ends a line (also when the byte after it came in a later read).
        if c != b'\n' && i > st.line_start && b[i - 1] == b'\r' {
            return bad("frame header has a CR that does not end a line".into());
        }
        match c {
            b'\n' => {
                let line = &b[st.line_start..i];
                let Some(content) = line.strip_suffix(b"\r") else {
                    return bad(format!("frame header line {:?} ends with a bare \\n", clip_bytes(line)));
                };
                if content.is_empty() {
                    return Ok(Some((st.line_start.saturating_sub(2), i + 1)));
                }
                if !st.colon {
                    return bad(format!("malformed frame header line {:?} (no colon)", clip_bytes(content)));
                }
                st.line_start = i + 1;
                st.colon = false;
            }
            b':' => st.colon = true,
            b'\r' => {}
            b'\t' | 0x20..=0x7e => {}
            _ => return bad(format!("frame header has a byte that is not printable ASCII (0x{c:02x})")),
        }
    }
    Ok(None)
}

fn clip_bytes(b: &[u8]) -> String {
    clip(&String::from_utf8_lossy(b))
}

/// Parses a header block (without the final blank line) and returns the Content-Length.
fn parse_headers(block: &[u8]) -> Result<usize> {
    let text = std::str::from_utf8(block)
        .map_err(|_| Error::new(ErrorKind::FrameHeader, "frame header is not valid UTF-8"))?;
    let mut length: Option<usize> = None;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(Error::new(ErrorKind::FrameHeader, format!("malformed frame header line {:?}", clip(line))));
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
            return Err(Error::new(ErrorKind::FrameHeader, format!("malformed frame header name {:?}", clip(name))));
        }
        if name.eq_ignore_ascii_case("content-length") {
            let v = value.trim();
            if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Error::new(
                    ErrorKind::FrameLength,
                    format!("Content-Length is not a number: {:?}", clip(v)),
                ));
            }
            let n: usize = v
                .parse()
                .map_err(|_| Error::new(ErrorKind::FrameLength, format!("Content-Length out of range: {}", clip(v))))?;
            if length.is_some() {
                return Err(Error::new(ErrorKind::FrameLength, "duplicate Content-Length header"));
            }
            length = Some(n);
        }
    }
    length.ok_or_else(|| Error::new(ErrorKind::FrameLength, "frame has no Content-Length header"))
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Encodes one message as a complete frame in a single buffer (one write per frame).
pub fn encode_frame<T: Serialize + ?Sized>(msg: &T) -> Result<Vec<u8>> {
    let body = serde_json::to_vec(msg)
        .map_err(|e| Error::new(ErrorKind::InvalidJson, format!("cannot serialize message: {e}")))?;
    Ok(frame_bytes(&body))
}

/// Wraps an already serialized body in a frame.
pub fn frame_bytes(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 32);
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn read_all(input: &[u8], max: usize) -> (Vec<Vec<u8>>, Option<Error>) {
        let mut r = FrameReader::new(input, max);
        let mut out = vec![];
        loop {
            match r.next_frame().await {
                Ok(Some(b)) => out.push(b),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[tokio::test]
    async fn round_trip_and_extra_headers() {
        let mut input = encode_frame(&serde_json::json!({"a": "é"})).unwrap();
        input.extend_from_slice(
            b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: 2\r\n\r\n{}",
        );
        let (frames, err) = read_all(&input, 1024).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames, vec!["{\"a\":\"é\"}".as_bytes().to_vec(), b"{}".to_vec()]);
    }

    #[tokio::test]
    async fn length_counts_bytes_not_chars() {
        let body = "{\"x\":\"日本語\"}".as_bytes();
        let frame = frame_bytes(body);
        assert!(frame.starts_with(format!("Content-Length: {}\r\n", body.len()).as_bytes()));
        let (frames, err) = read_all(&frame, 1024).await;
        assert!(err.is_none());
        assert_eq!(frames[0], body);
    }

    #[tokio::test]
    async fn malformed_inputs_are_distinct_errors() {
        let cases: &[(&[u8], ErrorKind)] = &[
            (b"Content-Length: abc\r\n\r\n{}", ErrorKind::FrameLength),
            (b"Content-Length: -5\r\n\r\n{}", ErrorKind::FrameLength),
            (b"Content-Length: 99999999999999999999999\r\n\r\n{}", ErrorKind::FrameLength),
            (b"Content-Type: x\r\n\r\n{}", ErrorKind::FrameLength),
            (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", ErrorKind::FrameLength),
            (b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", ErrorKind::FrameLength),
            (b"\r\n{}", ErrorKind::FrameLength),
            (b"Content-Length: 2\n\n{}", ErrorKind::FrameHeader),
            (b"X-\xc3\xa9: 1\r\nContent-Length: 2\r\n\r\n{}", ErrorKind::FrameHeader),
            (b"garbage line\r\n\r\n{}", ErrorKind::FrameHeader),
            (b"Bad Name: 1\r\n\r\n", ErrorKind::FrameHeader),
            (b"Content-Length: \xff\r\n\r\n", ErrorKind::FrameHeader),
            (b"Content-Length: 2000\r\n\r\n{}", ErrorKind::MessageTooLarge),
            (b"Content-Length: 10\r\n\r\n{}", ErrorKind::TransportClosed),
            (b"Content-Len", ErrorKind::TransportClosed),
        ];
        for (input, kind) in cases {
            let (_, err) = read_all(input, 1000).await;
            let err = err.unwrap_or_else(|| panic!("no error for {:?}", String::from_utf8_lossy(input)));
            assert_eq!(err.kind(), *kind, "{:?}: {err}", String::from_utf8_lossy(input));
        }
    }

    /// A malformed header line fails as soon as it is complete, while the peer keeps the
    /// connection open and sends nothing more.
    #[tokio::test]
    async fn malformed_header_lines_fail_without_waiting_for_more_bytes() {
        for (input, kind) in [
            (&b"Content-Length 12\n\n"[..], ErrorKind::FrameHeader),
            (&b"Content-Length: 2\nX"[..], ErrorKind::FrameHeader),
            (&b"garbage\r\n"[..], ErrorKind::FrameHeader),
            (&b"Content-Length: \x01"[..], ErrorKind::FrameHeader),
            (&b"Content-Length:\r 2"[..], ErrorKind::FrameHeader),
            (&b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n"[..], ErrorKind::FrameLength),
        ] {
            let (mut client, mut server) = tokio::io::duplex(1024);
            server.write_all(input).await.unwrap();
            let mut r = FrameReader::new(&mut client, 1000);
            let e = tokio::time::timeout(std::time::Duration::from_secs(2), r.next_frame())
                .await
                .unwrap_or_else(|_| panic!("{:?}: the reader waited for more bytes", String::from_utf8_lossy(input)))
                .unwrap_err();
            assert_eq!(e.kind(), kind, "{:?}: {e}", String::from_utf8_lossy(input));
            drop(server);
        }
    }

    #[tokio::test]
    async fn endless_header_is_bounded() {
        let input = vec![b'a'; MAX_HEADER_SIZE * 3];
        let (_, err) = read_all(&input, 1000).await;
        assert_eq!(err.unwrap().kind(), ErrorKind::FrameHeader);
    }

    /// Found by the fuzzer: a long header was refused when it came in pieces and accepted when
    /// it came in one read.
    #[tokio::test]
    async fn header_limit_does_not_depend_on_reads() {
        let mut input = format!("X-Pad: {}\r\n", "p".repeat(MAX_HEADER_SIZE)).into_bytes();
        input.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
        let (_, err) = read_all(&input, 1000).await;
        assert_eq!(err.unwrap().kind(), ErrorKind::FrameHeader);
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            let _ = server.write_all(&input).await;
        });
        let mut r = FrameReader::new(&mut client, 1000);
        assert_eq!(r.next_frame().await.unwrap_err().kind(), ErrorKind::FrameHeader);
        drop(r);
        drop(client);
        let _ = writer.await;
    }

    #[tokio::test]
    async fn clean_eof_is_none() {
        let (frames, err) = read_all(b"", 10).await;
        assert!(frames.is_empty() && err.is_none());
    }

    #[tokio::test]
    async fn byte_by_byte_and_large_bodies() {
        let big = serde_json::json!({"s": "x".repeat(300_000)});
        let mut input = encode_frame(&big).unwrap();
        input.extend(encode_frame(&serde_json::json!(1)).unwrap());
        let (mut client, mut server) = tokio::io::duplex(7);
        let writer = tokio::spawn(async move {
            for chunk in input.chunks(4093) {
                server.write_all(chunk).await.unwrap();
            }
        });
        let mut r = FrameReader::new(&mut client, DEFAULT_MAX_MESSAGE_SIZE);
        let a = r.next_frame().await.unwrap().unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&a).unwrap(), big);
        assert_eq!(r.next_frame().await.unwrap().unwrap(), b"1");
        writer.await.unwrap();
        assert!(r.next_frame().await.unwrap().is_none());
    }
}
