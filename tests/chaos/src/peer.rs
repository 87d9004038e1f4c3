//! `copilot-chaos peer --mode MODE [--listen PORT] [--answer-pings]`: a
//! hostile JSON-RPC server speaking the CLI's framing
//! (`Content-Length: N\r\n\r\n` + N bytes of JSON).
//!
//! On each connection it first answers the handshake properly: `ping` gets a
//! pong and `connect` the CLI's greeting, which ends the handshake. From then
//! on every request gets what MODE says (see [`Mode`]). `--answer-pings`
//! keeps answering `ping` properly in every mode (until a connection is
//! poisoned by `bad-header` or `huge`), so that a test can tell the
//! per-request timeout from the heartbeat.
//!
//! Stdin command: `count` → `ok count <n>`, the requests (messages with a
//! `method` and an `id`) received so far on all connections, handshake
//! included. Notifications and replies are read and ignored.

use crate::control::{self, Commands};
use serde_json::{Value, json};
use std::io;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The protocol version the greeting announces.
const PROTOCOL_VERSION: u32 = 3;
/// Longest header line and largest body read from a client.
const MAX_HEADER_LINE: u64 = 8 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;
/// The `bad-header` reply: no colon, bare `\n` line ends.
const BAD_HEADER: &[u8] = b"Content-Length 12\n\n";
/// The `huge` reply: a 4 GiB body announced, never sent.
const HUGE_HEADER: &[u8] = b"Content-Length: 4294967296\r\n\r\n";
/// The `garbage-json` body (well framed, but not JSON).
const GARBAGE: &[u8] = b"this is not JSON {\"jsonrpc\":\"2.0\",";

/// What the peer does with each request after the handshake.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Never answers (the socket stays open).
    Silent,
    /// Answers with a result whose id nobody asked for: a numeric id plus
    /// 1000, or for any other id the string `"chaos-<id as JSON>"`.
    UnknownId,
    /// Answers the next request with `Content-Length 12\n\n`, then never
    /// sends anything again.
    BadHeader,
    /// Answers with a well-framed body that is not JSON.
    GarbageJson,
    /// Announces `Content-Length: 4294967296`, then never sends anything
    /// again.
    Huge,
    /// Writes the header and the first half of the body of a proper reply,
    /// then closes the socket (FIN).
    CloseMidReply,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "silent" => Mode::Silent,
            "unknown-id" => Mode::UnknownId,
            "bad-header" => Mode::BadHeader,
            "garbage-json" => Mode::GarbageJson,
            "huge" => Mode::Huge,
            "close-mid-reply" => Mode::CloseMidReply,
            other => return Err(format!("unknown mode {other:?}")),
        })
    }
}

pub struct Config {
    pub mode: Mode,
    /// Port to listen on (0 = any free port).
    pub listen: u16,
    pub answer_pings: bool,
}

struct Shared {
    mode: Mode,
    answer_pings: bool,
    requests: AtomicU64,
}

/// Runs the peer until stdin closes.
pub async fn run(config: Config) -> io::Result<()> {
    let listener = control::bind(config.listen)?;
    let port = listener.local_addr()?.port();
    let shared = Arc::new(Shared { mode: config.mode, answer_pings: config.answer_pings, requests: AtomicU64::new(0) });
    tokio::spawn(accept(listener, shared.clone()));
    control::say(&format!("listening on port {port}"));

    let mut commands = Commands::new();
    while let Some(words) = commands.next().await {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        control::answer(match words.as_slice() {
            ["count"] => Ok(format!("count {}", shared.requests.load(Ordering::SeqCst))),
            [] => Err("empty command".to_string()),
            _ => Err(format!("unknown command {:?}", words.join(" "))),
        });
    }
    Ok(())
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, shared.clone()));
            }
            Err(e) => {
                eprintln!("copilot-chaos peer: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One client connection.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    if let Ok(Ending::HangUp) = converse(&mut stream, &shared).await {
        // A clean close: FIN, then wait for the client to close its side.
        let _ = stream.shutdown().await;
        control::drain(&mut stream).await;
    }
}

/// How a conversation ends without an I/O error.
enum Ending {
    /// The client closed the connection.
    ClientLeft,
    /// `close-mid-reply` hangs up on the client.
    HangUp,
}

/// What to do about one request.
enum Action {
    Nothing,
    Send(Vec<u8>),
    SendAndHangUp(Vec<u8>),
}

/// Where one connection stands.
#[derive(Default)]
struct Conn {
    /// `connect` was answered: the handshake is over.
    greeted: bool,
    /// A broken header went out: nothing more is ever sent.
    poisoned: bool,
}

/// Reads requests and answers them until the client leaves or we hang up.
async fn converse(stream: &mut TcpStream, shared: &Shared) -> io::Result<Ending> {
    let (read, mut write) = stream.split();
    let mut read = BufReader::new(read);
    let mut conn = Conn::default();
    while let Some(body) = read_frame(&mut read).await? {
        let Ok(message) = serde_json::from_slice::<Value>(&body) else { continue };
        let (Some(method), Some(id)) = (message.get("method").and_then(Value::as_str), message.get("id")) else {
            continue;
        };
        shared.requests.fetch_add(1, Ordering::SeqCst);
        match respond(shared, &mut conn, method, id) {
            Action::Nothing => {}
            Action::Send(bytes) => write.write_all(&bytes).await?,
            Action::SendAndHangUp(bytes) => {
                write.write_all(&bytes).await?;
                return Ok(Ending::HangUp);
            }
        }
    }
    Ok(Ending::ClientLeft)
}

/// Decides the answer to one request.
fn respond(shared: &Shared, conn: &mut Conn, method: &str, id: &Value) -> Action {
    if conn.poisoned {
        return Action::Nothing;
    }
    let greeting = || json!({"protocolVersion": PROTOCOL_VERSION, "version": "chaos"});
    // The CLI's `timestamp` is an ISO date string.
    let pong =
        || json!({"message": "pong", "timestamp": "1970-01-01T00:00:00.000Z", "protocolVersion": PROTOCOL_VERSION});
    match method {
        "connect" if !conn.greeted => {
            conn.greeted = true;
            return Action::Send(frame(&reply(id, greeting())));
        }
        "ping" if !conn.greeted || shared.answer_pings => return Action::Send(frame(&reply(id, pong()))),
        _ => {}
    }
    let proper = if method == "ping" { pong() } else { json!({}) };
    match shared.mode {
        Mode::Silent => Action::Nothing,
        Mode::UnknownId => Action::Send(frame(&reply(&unknown_id(id), proper))),
        Mode::BadHeader => {
            conn.poisoned = true;
            Action::Send(BAD_HEADER.to_vec())
        }
        Mode::GarbageJson => Action::Send(frame(GARBAGE)),
        Mode::Huge => {
            conn.poisoned = true;
            Action::Send(HUGE_HEADER.to_vec())
        }
        Mode::CloseMidReply => {
            let body = reply(id, proper);
            let mut bytes = header(body.len());
            bytes.extend_from_slice(&body[..body.len() / 2]);
            Action::SendAndHangUp(bytes)
        }
    }
}

/// A JSON-RPC 2.0 result, serialized.
fn reply(id: &Value, result: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string().into_bytes()
}

/// An id that nobody asked for.
fn unknown_id(id: &Value) -> Value {
    match id.as_i64().and_then(|n| n.checked_add(1000)) {
        Some(n) => Value::from(n),
        None => Value::from(format!("chaos-{id}")),
    }
}

fn header(len: usize) -> Vec<u8> {
    format!("Content-Length: {len}\r\n\r\n").into_bytes()
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = header(body.len());
    bytes.extend_from_slice(body);
    bytes
}

/// Reads one framed message; `None` when the client closed the connection.
/// Lenient on what it reads (any header order and case, bare `\n`); a frame
/// without a usable `Content-Length` ends the connection.
async fn read_frame(read: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut length = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if (&mut *read).take(MAX_HEADER_LINE).read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let Some(length) = length.filter(|&n| n <= MAX_BODY) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no usable Content-Length"));
    };
    let mut body = vec![0u8; length];
    read.read_exact(&mut body).await?;
    Ok(Some(body))
}
