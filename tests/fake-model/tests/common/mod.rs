//! A tiny hand-written HTTP/1.1 client for the tests (no extra dependencies).

#![allow(dead_code)]

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Upper bound for any single step of a test, so a bug fails instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// SSE `data:` payloads, with the time each complete event arrived.
    pub events: Vec<(Instant, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The JSON SSE chunks (without the final `[DONE]`), checking `[DONE]` ends the stream.
    pub fn chunks(&self) -> Vec<Value> {
        let (last, rest) = self.events.split_last().expect("no SSE events");
        assert_eq!(last.1, "[DONE]", "stream must end with [DONE]");
        rest.iter().map(|(_, d)| serde_json::from_str(d).expect("SSE data is JSON")).collect()
    }

    /// Concatenated `delta.content` of a streamed text reply.
    pub fn streamed_text(&self) -> String {
        self.chunks().iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_owned)).collect()
    }
}

pub struct Client {
    io: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream =
            tokio::time::timeout(STEP, TcpStream::connect(addr)).await.expect("connect timed out").expect("connect");
        Client { io: BufReader::new(stream) }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.expect("write");
        self.io.get_mut().flush().await.expect("flush");
    }

    /// Send a request with a Content-Length body (if any).
    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) {
        let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = body {
            out.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if let Some(body) = body {
            bytes.extend_from_slice(body);
        }
        self.send_raw(&bytes).await;
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let body = body.map(|b| b.to_string().into_bytes());
        self.send(method, path, headers, body.as_deref()).await;
        self.read_response().await
    }

    pub async fn post_json(&mut self, path: &str, body: &Value) -> Response {
        self.request("POST", path, &[], Some(body)).await
    }

    pub async fn read_response(&mut self) -> Response {
        tokio::time::timeout(STEP, self.read_response_inner()).await.expect("response timed out")
    }

    async fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = self.io.read_line(&mut line).await.expect("read line");
        if n == 0 {
            return None;
        }
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    }

    async fn read_response_inner(&mut self) -> Response {
        loop {
            let status_line = self.read_line().await.expect("connection closed before a response");
            let mut parts = status_line.splitn(3, ' ');
            assert!(parts.next().unwrap().starts_with("HTTP/1."), "bad status line {status_line:?}");
            let status: u16 = parts.next().unwrap().parse().expect("status code");
            let mut headers = Vec::new();
            loop {
                let line = self.read_line().await.expect("eof in headers");
                if line.is_empty() {
                    break;
                }
                let (k, v) = line.split_once(':').expect("header line");
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            if (100..200).contains(&status) {
                continue; // interim response
            }
            let mut resp = Response { status, headers, body: Vec::new(), events: Vec::new() };
            let mut sse = SseSplitter::default();
            let chunked = resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
            if chunked {
                loop {
                    let size_line = self.read_line().await.expect("eof in chunk size");
                    let size =
                        usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).expect("chunk size");
                    if size == 0 {
                        while !self.read_line().await.expect("eof in trailer").is_empty() {}
                        break;
                    }
                    let mut data = vec![0; size];
                    self.io.read_exact(&mut data).await.expect("chunk data");
                    assert_eq!(self.read_line().await.as_deref(), Some(""), "chunk terminator");
                    sse.feed(&data, &mut resp.events);
                    resp.body.extend_from_slice(&data);
                }
            } else if let Some(len) = resp.header("content-length") {
                let len: usize = len.parse().expect("content-length");
                let mut data = vec![0; len];
                self.io.read_exact(&mut data).await.expect("body");
                sse.feed(&data, &mut resp.events);
                resp.body = data;
            } else {
                // Close-delimited.
                let mut buf = [0u8; 4096];
                loop {
                    let n = self.io.read(&mut buf).await.expect("read body");
                    if n == 0 {
                        break;
                    }
                    sse.feed(&buf[..n], &mut resp.events);
                    resp.body.extend_from_slice(&buf[..n]);
                }
            }
            return resp;
        }
    }

    /// Whether the server closed the connection (EOF) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(wait, self.io.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(n)) => panic!("unexpected data: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => false,
        }
    }
}

#[derive(Default)]
struct SseSplitter {
    buf: String,
}

impl SseSplitter {
    fn feed(&mut self, data: &[u8], events: &mut Vec<(Instant, String)>) {
        self.buf.push_str(&String::from_utf8_lossy(data));
        while let Some(end) = self.buf.find("\n\n") {
            let event: String = self.buf.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(d) = line.strip_prefix("data: ") {
                    events.push((Instant::now(), d.to_string()));
                }
            }
        }
    }
}

/// A chat request whose last message is a user message with `text`.
pub fn user_body(text: &str, stream: bool) -> Value {
    json!({
        "model": "gpt-4.1",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": text}
        ]
    })
}

/// One request on a fresh connection.
pub async fn chat(addr: SocketAddr, body: &Value) -> Response {
    Client::connect(addr).await.post_json("/v1/chat/completions", body).await
}

/// Text of a non-streamed reply.
pub fn message_text(resp: &Response) -> String {
    assert_eq!(resp.status, 200, "body: {}", String::from_utf8_lossy(&resp.body));
    let v = resp.json();
    v["choices"][0]["message"]["content"].as_str().expect("content string").to_string()
}
