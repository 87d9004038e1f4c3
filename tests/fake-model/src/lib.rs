//! A scripted OpenAI-compatible chat-completions server, used as the BYOK
//! model provider of the real Copilot CLI in integration tests.
//!
//! The reply is decided by the request's `messages`:
//!
//! * last message has role `tool` → text `Tool returned: <content>` (≤ 2000 chars);
//! * otherwise the text of the last `user` message is searched line by line for
//!   directives, first match wins in this order:
//!   `CALL <tool> <json-args>` (one tool call per such line), `ERROR <status>`
//!   (or `ERROR<status>`), `HANG`, `SLOW [<n> <ms>]`, `REPLY <text>`, `ECHO`;
//!   without a directive the reply is `Hello from the fake model.`
//!
//! Routes: `GET /v1/models`, `GET /models`, `POST /v1/chat/completions`,
//! `POST /chat/completions`; an OAuth-protected MCP server at `POST /mcp` (streamable HTTP,
//! JSON replies; one tool, `issue_count`; without `Authorization: Bearer <MCP_TOKEN>` it
//! answers 401 with a `WWW-Authenticate` pointing at `GET /.well-known/oauth-protected-resource`,
//! which is how the real CLI comes to ask the host for a token); anything else is a JSON 404.

mod http;
pub mod script;

use serde_json::{Value, json};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncWrite, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use script::{Plan, ToolCall};

/// One HTTP request received by the server.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Request target as sent (query string included).
    pub path: String,
    /// Header names lower-cased, values trimmed, in the order received.
    pub headers: Vec<(String, String)>,
    /// Parsed JSON body; `Null` if empty or not JSON.
    pub body: Value,
}

impl RecordedRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct State {
    requests: Mutex<Vec<RecordedRequest>>,
    log: Option<Mutex<std::fs::File>>,
}

impl State {
    fn record(&self, req: RecordedRequest) {
        if let Some(log) = &self.log {
            let line = json!({
                "method": req.method,
                "path": req.path,
                "body": req.body,
                "authorization": req.header("authorization"),
            });
            let mut line = line.to_string();
            line.push('\n');
            let mut file = log.lock().unwrap_or_else(PoisonError::into_inner);
            // Logging is best effort; a full disk must not break the server.
            let _ = file.write_all(line.as_bytes()).and_then(|()| file.flush());
        }
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).push(req);
    }
}

/// A running fake model server. Dropping it stops the server.
pub struct FakeModel {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeModel").field("addr", &self.addr).finish()
    }
}

impl FakeModel {
    /// Start on `127.0.0.1` with an OS-assigned port.
    pub async fn start() -> io::Result<FakeModel> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Start on the given address.
    pub async fn start_on(addr: SocketAddr) -> io::Result<FakeModel> {
        Self::start_inner(addr, None).await
    }

    /// Start on the given address and append every request as one JSON line
    /// `{"method","path","body","authorization"}` to the file at `log`.
    pub async fn start_with_log(addr: SocketAddr, log: impl AsRef<Path>) -> io::Result<FakeModel> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log.as_ref())?;
        Self::start_inner(addr, Some(file)).await
    }

    async fn start_inner(addr: SocketAddr, log: Option<std::fs::File>) -> io::Result<FakeModel> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State { requests: Mutex::new(Vec::new()), log: log.map(Mutex::new) });
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, state.clone(), stop_rx));
        Ok(FakeModel { addr, state, stop: Some(stop_tx), task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// BYOK provider object for `session.create`.
    pub fn provider(&self) -> Value {
        json!({"type": "openai", "baseUrl": self.base_url(), "apiKey": "fake-key"})
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Only the chat-completions requests received so far, in order.
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| is_chat_path(route_path(&r.path))).collect()
    }

    pub fn clear_requests(&self) {
        self.state.requests.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Stop accepting and close every open connection; returns once done.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stop: oneshot::Receiver<()>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            // Resolves on an explicit stop and when the sender is dropped.
            _ = &mut stop => break,
            res = listener.accept() => match res {
                Ok((stream, _)) => {
                    conns.spawn(handle_connection(stream, state.clone()));
                }
                // E.g. out of file descriptors: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// What to do with the connection after a response.
enum Next {
    Continue,
    Close,
    /// Never answer; keep the connection until the client closes it.
    Hang,
}

async fn handle_connection(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let head = match http::read_head(&mut rd).await {
            Ok(Some(head)) => head,
            Ok(None) | Err(http::ReadError::Io) => return,
            Err(http::ReadError::Bad(status, msg)) => {
                let _ = write_error(&mut wr, status, msg, "invalid_request_error", false).await;
                return;
            }
        };
        if head.expects_continue() && head.has_body() {
            use tokio::io::AsyncWriteExt;
            if wr.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                return;
            }
        }
        let body = match http::read_body(&mut rd, &head).await {
            Ok(body) => body,
            Err(http::ReadError::Io) => return,
            Err(http::ReadError::Bad(status, msg)) => {
                let _ = write_error(&mut wr, status, msg, "invalid_request_error", false).await;
                return;
            }
        };
        let keep_alive = head.keep_alive();
        let json_body =
            if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap_or(Value::Null) };
        let request = RecordedRequest {
            method: head.method.clone(),
            path: head.target.clone(),
            headers: head.headers.clone(),
            body: json_body,
        };
        let body_is_json = !body.is_empty() && !request.body.is_null();
        state.record(request.clone());

        let next = match respond(&mut wr, &head, &request, body_is_json, keep_alive).await {
            Ok(next) => next,
            // The client went away (or the socket failed): just stop.
            Err(_) => return,
        };
        match next {
            Next::Continue if keep_alive => continue,
            Next::Continue | Next::Close => return,
            Next::Hang => {
                // Read (and discard) until the client closes the connection.
                let _ = tokio::io::copy(&mut rd, &mut tokio::io::sink()).await;
                return;
            }
        }
    }
}

/// The access token the fake MCP server at `/mcp` accepts.
pub const MCP_TOKEN: &str = "mcp-test-token";

/// The fake OAuth-protected MCP server (see the crate documentation).
async fn mcp<W: AsyncWrite + Unpin>(
    w: &mut W,
    head: &http::Head,
    req: &RecordedRequest,
    keep_alive: bool,
) -> io::Result<Next> {
    let base = format!("http://{}", head.header("host").unwrap_or("127.0.0.1"));
    if head.path().starts_with("/.well-known/oauth-protected-resource") {
        let meta = json!({"resource": format!("{base}/mcp"), "authorization_servers": [base], "bearer_methods_supported": ["header"]});
        write_json(w, 200, &meta, keep_alive).await?;
        return Ok(Next::Continue);
    }
    if req.method != "POST" {
        write_error(w, 405, "method not allowed", "invalid_request_error", keep_alive).await?;
        return Ok(Next::Continue);
    }
    if head.header("authorization") != Some(&format!("Bearer {MCP_TOKEN}")) {
        let challenge = format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource\"");
        let body = json!({"error": "invalid_token"}).to_string();
        http::write_response_with(
            w,
            401,
            "application/json",
            &[("www-authenticate", &challenge)],
            body.as_bytes(),
            keep_alive,
        )
        .await?;
        return Ok(Next::Continue);
    }
    let id = req.body.get("id").cloned();
    let Some(id) = id else {
        // A notification (`notifications/initialized`): accepted, no body.
        http::write_response(w, 202, "application/json", b"", keep_alive).await?;
        return Ok(Next::Continue);
    };
    let params = req.body.get("params").cloned().unwrap_or(Value::Null);
    let result = match req.body.get("method").and_then(Value::as_str).unwrap_or_default() {
        "initialize" => json!({
            "protocolVersion": params.get("protocolVersion").cloned().unwrap_or(json!("2025-03-26")),
            "capabilities": {"tools": {}}, "serverInfo": {"name": "fake-issues", "version": "1.0.0"},
        }),
        "tools/list" => json!({"tools": [{"name": "issue_count", "description": "Counts the open issues",
                                          "inputSchema": {"type": "object", "properties": {}}}]}),
        "tools/call" => json!({"content": [{"type": "text", "text": "42 open issues"}]}),
        "ping" => json!({}),
        other => {
            let e =
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("no method {other}")}});
            write_json(w, 200, &e, keep_alive).await?;
            return Ok(Next::Continue);
        }
    };
    write_json(w, 200, &json!({"jsonrpc": "2.0", "id": id, "result": result}), keep_alive).await?;
    Ok(Next::Continue)
}

fn route_path(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or("")
}

fn is_chat_path(path: &str) -> bool {
    matches!(path, "/v1/chat/completions" | "/chat/completions")
}

async fn respond<W: AsyncWrite + Unpin>(
    w: &mut W,
    head: &http::Head,
    req: &RecordedRequest,
    body_is_json: bool,
    keep_alive: bool,
) -> io::Result<Next> {
    let path = head.path();
    match path {
        "/v1/models" | "/models" => {
            if req.method != "GET" {
                write_error(w, 405, "method not allowed", "invalid_request_error", keep_alive).await?;
                return Ok(Next::Continue);
            }
            let body = json!({
                "object": "list",
                "data": [
                    {"id": "gpt-4.1", "object": "model"},
                    {"id": "gpt-5", "object": "model"},
                    {"id": "claude-sonnet-4.5", "object": "model"},
                ]
            });
            write_json(w, 200, &body, keep_alive).await?;
            Ok(Next::Continue)
        }
        p if is_chat_path(p) => {
            if req.method != "POST" {
                write_error(w, 405, "method not allowed", "invalid_request_error", keep_alive).await?;
                return Ok(Next::Continue);
            }
            if !body_is_json || !req.body.is_object() {
                write_error(w, 400, "request body must be a JSON object", "invalid_request_error", keep_alive).await?;
                return Ok(Next::Continue);
            }
            chat(w, head, &req.body, keep_alive).await
        }
        p if p == "/mcp" || p.starts_with("/.well-known/oauth-protected-resource") => {
            mcp(w, head, req, keep_alive).await
        }
        _ => {
            let msg = format!("no route for {} {}", req.method, path);
            write_error(w, 404, &msg, "not_found_error", keep_alive).await?;
            Ok(Next::Continue)
        }
    }
}

async fn write_json<W: AsyncWrite + Unpin>(w: &mut W, status: u16, body: &Value, keep_alive: bool) -> io::Result<()> {
    http::write_response(w, status, "application/json", body.to_string().as_bytes(), keep_alive).await
}

async fn write_error<W: AsyncWrite + Unpin>(
    w: &mut W,
    status: u16,
    message: &str,
    kind: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let body = json!({"error": {"message": message, "type": kind}});
    write_json(w, status, &body, keep_alive).await
}

fn usage() -> Value {
    json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A random-looking 64-bit value (no `rand` dependency needed).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

fn new_call_id() -> String {
    format!("call_{:08x}", random_u64() as u32)
}

struct Meta {
    id: String,
    created: u64,
    model: Value,
}

impl Meta {
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        });
        if finish_reason.is_some() {
            chunk["usage"] = usage();
        }
        chunk
    }

    fn completion(&self, message: Value, finish_reason: &str) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": usage(),
        })
    }
}

async fn chat<W: AsyncWrite + Unpin>(w: &mut W, head: &http::Head, body: &Value, keep_alive: bool) -> io::Result<Next> {
    let plan = script::plan_request(body, head.header("authorization"));
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    let meta = Meta {
        id: format!("chatcmpl-{:016x}", random_u64()),
        created: unix_now(),
        model: body.get("model").filter(|m| !m.is_null()).cloned().unwrap_or_else(|| json!("fake-model")),
    };
    // Streams use chunked coding on HTTP/1.1; on HTTP/1.0 they are
    // close-delimited.
    let chunked = head.http11;
    let after_stream = if keep_alive && chunked { Next::Continue } else { Next::Close };

    match plan {
        Plan::Hang => Ok(Next::Hang),
        Plan::Error(status) => {
            write_error(w, status, "fake upstream failure", "server_error", keep_alive).await?;
            Ok(Next::Continue)
        }
        Plan::ToolCalls(calls) => {
            let calls: Vec<(String, ToolCall)> = calls.into_iter().map(|c| (new_call_id(), c)).collect();
            if !stream {
                let tool_calls: Vec<Value> = calls
                    .iter()
                    .map(|(id, c)| {
                        json!({
                            "id": id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments},
                        })
                    })
                    .collect();
                let message = json!({"role": "assistant", "content": null, "tool_calls": tool_calls});
                write_json(w, 200, &meta.completion(message, "tool_calls"), keep_alive).await?;
                return Ok(Next::Continue);
            }
            let mut sse = http::EventStream::start(w, chunked, keep_alive).await?;
            let announce: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (id, c))| {
                    json!({
                        "index": i,
                        "id": id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": ""},
                    })
                })
                .collect();
            let delta = json!({"role": "assistant", "content": null, "tool_calls": announce});
            sse.data(&meta.chunk(delta, None).to_string()).await?;
            for (i, (_, c)) in calls.iter().enumerate() {
                let (first, second) = script::halves(&c.arguments);
                for part in [first, second] {
                    let delta = json!({"tool_calls": [{"index": i, "function": {"arguments": part}}]});
                    sse.data(&meta.chunk(delta, None).to_string()).await?;
                }
            }
            sse.data(&meta.chunk(json!({}), Some("tool_calls")).to_string()).await?;
            sse.finish().await?;
            Ok(after_stream)
        }
        Plan::Text { text, chunk_delay, total_delay } => {
            if !stream {
                if !total_delay.is_zero() {
                    tokio::time::sleep(total_delay).await;
                }
                let message = json!({"role": "assistant", "content": text});
                write_json(w, 200, &meta.completion(message, "stop"), keep_alive).await?;
                return Ok(Next::Continue);
            }
            let mut sse = http::EventStream::start(w, chunked, keep_alive).await?;
            for (i, word) in script::word_chunks(&text).into_iter().enumerate() {
                if i > 0 && !chunk_delay.is_zero() {
                    tokio::time::sleep(chunk_delay).await;
                }
                let delta =
                    if i == 0 { json!({"role": "assistant", "content": word}) } else { json!({"content": word}) };
                sse.data(&meta.chunk(delta, None).to_string()).await?;
            }
            sse.data(&meta.chunk(json!({}), Some("stop")).to_string()).await?;
            sse.finish().await?;
            Ok(after_stream)
        }
    }
}
