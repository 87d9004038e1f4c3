//! JSON-RPC 2.0 over a framed byte stream.
//!
//! One writer task (frames are queued pre-encoded and written whole; frames queued together are
//! flushed together), one reader task (never blocks: notifications are routed synchronously to
//! non-blocking sinks, server→client requests run in their own tasks), a pending-request map
//! for our ids, and a separate id space for the server's requests. When the stream ends or
//! breaks, every pending call fails at once with the same error.

use crate::error::{Error, ErrorKind, Result, RpcErrorData};
mod writer;

use crate::framing::{FrameReader, encode_frame};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use writer::{Outbox, write_loop};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// JSON-RPC error codes used by this SDK when answering the server.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// What the connection does with traffic the server initiates.
pub trait Inbound: Send + Sync + 'static {
    /// A notification. Called on the reader task, in wire order: must not block.
    fn notification(&self, method: &str, params: Value);
    /// A server→client request; the future runs in its own task.
    fn request(&self, method: String, params: Value) -> BoxFuture<'static, std::result::Result<Value, RpcErrorData>>;
    /// The connection is gone (called once).
    fn closed(&self, error: &Error);
}

type Reply = std::result::Result<Value, RpcErrorData>;

/// What a pending call receives.
enum Outcome {
    /// The server's `result` or `error`.
    Reply(Reply),
    /// The connection closed before a reply came.
    Closed,
}

struct Pending {
    map: HashMap<u64, oneshot::Sender<Outcome>>,
    /// Set once the connection is closed; new calls fail with it.
    closed: Option<Error>,
}

struct Inner {
    metrics: Option<Arc<crate::metrics::Metrics>>,
    next_id: AtomicU64,
    pending: Mutex<Pending>,
    out: Arc<Outbox>,
    closed_tx: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    inbound: Arc<dyn Inbound>,
    /// Gives the spawned CLI's last stderr lines for transport errors.
    stderr_tail: Option<Arc<dyn Fn() -> Option<String> + Send + Sync>>,
    /// Resolves once the spawned CLI's stderr has ended.
    stderr_done: Option<watch::Receiver<bool>>,
    /// When the connection started; `last_inbound` counts milliseconds from it.
    born: std::time::Instant,
    /// When the last frame arrived (ms since `born`): the heartbeat only pings a quiet peer.
    last_inbound: AtomicU64,
    /// Replies whose id matched no pending call (never sent, or given up on).
    unmatched_replies: AtomicU64,
}

/// A cheap, clonable handle to one JSON-RPC connection.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

/// Options for [`Connection::spawn`].
pub struct ConnectionOptions {
    pub max_message_size: usize,
    pub stderr_tail: Option<Arc<dyn Fn() -> Option<String> + Send + Sync>>,
    /// Awaited (bounded) before failing pending calls on EOF, so the child's stderr is complete.
    pub stderr_done: Option<watch::Receiver<bool>>,
    /// Where requests and their failures are counted.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

#[derive(Serialize)]
struct OutRequest<'a> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    params: &'a Value,
}

#[derive(Serialize)]
struct OutNotification<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    params: &'a Value,
}

#[derive(Serialize)]
struct OutResult<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: &'a Value,
}

#[derive(Serialize)]
struct OutError<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    code: i64,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
}

impl Connection {
    /// Starts the reader and writer tasks on the current tokio runtime.
    pub fn spawn<R, W>(reader: R, writer: W, inbound: Arc<dyn Inbound>, opts: ConnectionOptions) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let outbox = Outbox::new(Box::new(writer));
        let (closed_tx, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            metrics: opts.metrics,
            next_id: AtomicU64::new(1),
            pending: Mutex::new(Pending { map: HashMap::new(), closed: None }),
            out: outbox.clone(),
            closed_tx,
            tasks: Mutex::new(Vec::new()),
            inbound,
            stderr_tail: opts.stderr_tail,
            stderr_done: opts.stderr_done,
            born: std::time::Instant::now(),
            last_inbound: AtomicU64::new(0),
            unmatched_replies: AtomicU64::new(0),
        });
        let conn = Connection { inner };
        let w = tokio::spawn(write_loop(outbox, conn.downgrade()));
        let r = tokio::spawn(read_loop(FrameReader::new(reader, opts.max_message_size), conn.downgrade()));
        conn.inner.tasks.lock().unwrap().extend([w, r]);
        conn
    }

    fn downgrade(&self) -> WeakConnection {
        WeakConnection(Arc::downgrade(&self.inner))
    }

    /// Sends a request and waits for its reply. Dropping the future forgets the request.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_frame(&OutRequest { jsonrpc: "2.0", id, method, params: &params })?;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.inner.pending.lock().unwrap();
            if let Some(e) = &p.closed {
                return Err(e.clone().unsent());
            }
            p.map.insert(id, tx);
        }
        let guard = PendingGuard { conn: self, id };
        tracing::trace!(target: "copilot::frames", id, method, "-> request");
        if !self.inner.out.push(frame) {
            return Err(self.closed_error().unsent());
        }
        let reply = rx.await;
        std::mem::forget(guard);
        match reply {
            Ok(Outcome::Reply(Ok(v))) => Ok(v),
            Ok(Outcome::Reply(Err(data))) => Err(Error::rpc(method, data)),
            Ok(Outcome::Closed) | Err(_) => Err(self.closed_error()),
        }
    }

    /// [`Connection::request`] with a deadline.
    pub async fn request_timeout(&self, method: &str, params: Value, timeout: Option<Duration>) -> Result<Value> {
        let r = match timeout {
            None => self.request(method, params).await,
            Some(t) => tokio::time::timeout(t, self.request(method, params))
                .await
                .unwrap_or_else(|_| Err(Error::new(ErrorKind::Timeout, format!("{method}: no reply within {t:?}")))),
        };
        if let Some(m) = &self.inner.metrics {
            m.call_done(r.as_ref().map(drop));
        }
        r
    }

    /// Sends a notification (no reply expected).
    pub fn notify(&self, method: &str, params: Value) -> Result<()> {
        let frame = encode_frame(&OutNotification { jsonrpc: "2.0", method, params: &params })?;
        if self.inner.out.push(frame) { Ok(()) } else { Err(self.closed_error()) }
    }

    /// How long since the peer last sent a frame (or since the connection started).
    pub fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.inner.last_inbound.load(Ordering::Relaxed));
        self.inner.born.elapsed().saturating_sub(last)
    }

    /// How many replies arrived whose id matched no pending call.
    pub fn unmatched_replies(&self) -> u64 {
        self.inner.unmatched_replies.load(Ordering::Relaxed)
    }

    /// The error that ended the connection, or a generic one.
    pub fn closed_error(&self) -> Error {
        self.inner.pending.lock().unwrap().closed.clone().unwrap_or_else(|| Error::closed("connection closed"))
    }

    pub fn is_closed(&self) -> bool {
        self.inner.pending.lock().unwrap().closed.is_some()
    }

    /// Resolves once the connection is closed.
    pub async fn wait_closed(&self) {
        let mut rx = self.inner.closed_tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes the connection now: fails every pending call with `error` and stops both tasks.
    pub fn close(&self, error: Error) {
        self.inner.fail_all(error);
        for t in self.inner.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

struct PendingGuard<'a> {
    conn: &'a Connection,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.conn.inner.pending.lock().unwrap().map.remove(&self.id);
    }
}

impl Inner {
    fn fail_all(&self, error: Error) {
        let drained: Vec<_> = {
            let mut p = self.pending.lock().unwrap();
            if p.closed.is_some() {
                return;
            }
            p.closed = Some(error.clone());
            p.map.drain().map(|(_, tx)| tx).collect()
        };
        for tx in drained {
            let _ = tx.send(Outcome::Closed);
        }
        self.closed_tx.send_replace(true);
        self.out.close();
        self.inbound.closed(&error);
    }

    fn send_frame<T: Serialize>(&self, msg: &T) {
        match encode_frame(msg) {
            Ok(f) => {
                self.out.push(f);
            }
            Err(e) => tracing::error!("cannot encode a reply: {e}"),
        }
    }
}

#[derive(Clone)]
struct WeakConnection(std::sync::Weak<Inner>);

impl WeakConnection {
    fn upgrade(&self) -> Option<Arc<Inner>> {
        self.0.upgrade()
    }
}

async fn read_loop<R: AsyncRead + Unpin>(mut reader: FrameReader<R>, conn: WeakConnection) {
    let error = loop {
        let frame = match reader.next_frame().await {
            Ok(Some(f)) => f,
            Ok(None) => break Error::closed("the CLI closed the connection"),
            Err(e) => break e,
        };
        let Some(inner) = conn.upgrade() else { return };
        inner.last_inbound.store(inner.born.elapsed().as_millis() as u64, Ordering::Relaxed);
        let msg: Value = match serde_json::from_slice(&frame) {
            Ok(v) => v,
            Err(e) => {
                break Error::new(
                    ErrorKind::InvalidJson,
                    format!(
                        "the CLI sent a frame that is not valid JSON ({e}): {}",
                        String::from_utf8_lossy(&frame[..frame.len().min(120)])
                    ),
                );
            }
        };
        dispatch(&inner, msg);
    };
    if error.kind() != ErrorKind::TransportClosed {
        tracing::error!("closing the connection: {error}");
    }
    conn.fail_with_stderr(error).await;
}

impl WeakConnection {
    /// Fails the connection with `error` and the spawned CLI's last stderr lines. When the CLI
    /// went away (EOF, broken pipe), its stderr reader is given a moment (≤ 2 s) to catch up,
    /// so the error carries its last words whichever side noticed first.
    pub(super) async fn fail_with_stderr(&self, error: Error) {
        let done = match self.upgrade() {
            Some(inner) if error.kind() == ErrorKind::TransportClosed => inner.stderr_done.clone(),
            Some(_) => None,
            None => return,
        };
        if let Some(mut done) = done {
            let _ = tokio::time::timeout(Duration::from_secs(2), done.wait_for(|d| *d)).await;
        }
        if let Some(inner) = self.upgrade() {
            let tail = inner.stderr_tail.as_ref().and_then(|f| f());
            inner.fail_all(error.with_stderr(tail));
        }
    }
}

fn dispatch(inner: &Arc<Inner>, mut msg: Value) {
    let Some(obj) = msg.as_object_mut() else {
        tracing::warn!("ignoring a JSON-RPC message that is not an object");
        return;
    };
    let method = obj.get("method").and_then(Value::as_str).map(str::to_owned);
    let id = obj.remove("id");
    match (method, id) {
        (Some(method), Some(id)) if !id.is_null() => {
            let params = obj.remove("params").unwrap_or(Value::Null);
            tracing::trace!(target: "copilot::frames", %id, method, "<- server request");
            let fut = inner.inbound.request(method, params);
            let weak = Arc::downgrade(inner);
            tokio::spawn(async move {
                let reply = fut.await;
                if let Some(inner) = weak.upgrade() {
                    match reply {
                        Ok(result) => inner.send_frame(&OutResult { jsonrpc: "2.0", id: &id, result: &result }),
                        Err(e) => inner.send_frame(&OutError {
                            jsonrpc: "2.0",
                            id: &id,
                            error: ErrorObject { code: e.code, message: &e.message, data: e.data.as_ref() },
                        }),
                    }
                }
            });
        }
        (Some(method), _) => {
            let params = obj.remove("params").unwrap_or(Value::Null);
            tracing::trace!(target: "copilot::frames", method, "<- notification");
            inner.inbound.notification(&method, params);
        }
        (None, Some(id)) => {
            let Some(n) = id.as_u64() else {
                inner.unmatched_replies.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%id, "ignoring a reply with an id this client never sent");
                return;
            };
            let reply = if let Some(err) = obj.remove("error") {
                Err(RpcErrorData {
                    code: err.get("code").and_then(Value::as_i64).unwrap_or(codes::INTERNAL_ERROR),
                    message: err.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
                    data: err.get("data").cloned(),
                })
            } else {
                Ok(obj.remove("result").unwrap_or(Value::Null))
            };
            tracing::trace!(target: "copilot::frames", id = n, ok = reply.is_ok(), "<- response");
            let tx = inner.pending.lock().unwrap().map.remove(&n);
            match tx {
                Some(tx) => {
                    let _ = tx.send(Outcome::Reply(reply));
                }
                None => {
                    inner.unmatched_replies.fetch_add(1, Ordering::Relaxed);
                    if n >= inner.next_id.load(Ordering::Relaxed) || n == 0 {
                        tracing::warn!(id = n, "ignoring a reply with an id this client never sent");
                    } else {
                        tracing::warn!(id = n, "ignoring a reply that came after its call gave up (timeout or cancel)");
                    }
                }
            }
        }
        (None, None) => tracing::warn!("ignoring a JSON-RPC message with neither method nor id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::frame_bytes;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    #[derive(Default)]
    struct Recorder {
        notes: Mutex<Vec<(String, Value)>>,
        closed: Mutex<Option<Error>>,
    }
    impl Inbound for Recorder {
        fn notification(&self, method: &str, params: Value) {
            self.notes.lock().unwrap().push((method.into(), params));
        }
        fn request(&self, method: String, params: Value) -> BoxFuture<'static, Reply> {
            Box::pin(async move {
                match method.as_str() {
                    "echo" => Ok(params),
                    "slow" => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(json!("slow"))
                    }
                    _ => Err(RpcErrorData {
                        code: codes::METHOD_NOT_FOUND,
                        message: format!("Unhandled method {method}"),
                        data: None,
                    }),
                }
            })
        }
        fn closed(&self, error: &Error) {
            *self.closed.lock().unwrap() = Some(error.clone());
        }
    }

    /// The peer side: read frames the client wrote, write raw bytes back.
    struct Peer {
        reader: FrameReader<tokio::io::ReadHalf<DuplexStream>>,
        writer: tokio::io::WriteHalf<DuplexStream>,
    }
    impl Peer {
        async fn recv(&mut self) -> Value {
            serde_json::from_slice(&self.reader.next_frame().await.unwrap().unwrap()).unwrap()
        }
        async fn send(&mut self, v: Value) {
            self.writer.write_all(&frame_bytes(v.to_string().as_bytes())).await.unwrap();
        }
        async fn raw(&mut self, b: &[u8]) {
            self.writer.write_all(b).await.unwrap();
        }
    }

    fn pair() -> (Connection, Peer, Arc<Recorder>) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let rec = Arc::new(Recorder::default());
        let conn = Connection::spawn(
            ar,
            aw,
            rec.clone(),
            ConnectionOptions { max_message_size: 4096, stderr_tail: None, stderr_done: None, metrics: None },
        );
        (conn, Peer { reader: FrameReader::new(br, 1 << 20), writer: bw }, rec)
    }

    #[tokio::test]
    async fn request_reply_error_and_out_of_order() {
        let (conn, mut peer, _) = pair();
        let c1 = conn.clone();
        let a = tokio::spawn(async move { c1.request("a", json!({"x": 1})).await });
        let c2 = conn.clone();
        let b = tokio::spawn(async move { c2.request("b", json!({})).await });
        let r1 = peer.recv().await;
        let r2 = peer.recv().await;
        assert_eq!(r1["jsonrpc"], "2.0");
        let (ra, rb) = if r1["method"] == "a" { (r1, r2) } else { (r2, r1) };
        assert_eq!(ra["params"], json!({"x": 1}));
        // Answer b first, with an error; then a.
        peer.send(json!({"jsonrpc":"2.0","id":rb["id"],"error":{"code":-32603,"message":"nope","data":{"k":1}}})).await;
        peer.send(json!({"jsonrpc":"2.0","id":ra["id"],"result":{"ok":true}})).await;
        assert_eq!(a.await.unwrap().unwrap(), json!({"ok": true}));
        let e = b.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rpc);
        assert_eq!(e.rpc_code(), Some(-32603));
        assert_eq!(e.rpc_error().unwrap().data, Some(json!({"k":1})));
    }

    #[tokio::test]
    async fn server_requests_notifications_and_unknown_methods() {
        let (_conn, mut peer, rec) = pair();
        peer.send(json!({"jsonrpc":"2.0","id":"s1","method":"slow","params":{}})).await;
        peer.send(json!({"jsonrpc":"2.0","id":7,"method":"echo","params":{"v":[1,2]}})).await;
        peer.send(json!({"jsonrpc":"2.0","id":8,"method":"nope"})).await;
        peer.send(json!({"jsonrpc":"2.0","method":"note","params":{"n":1}})).await;
        peer.send(json!({"jsonrpc":"2.0","method":"note","params":{"n":2}})).await;
        // The slow request does not hold up the others.
        let first = peer.recv().await;
        assert_eq!(first, json!({"jsonrpc":"2.0","id":7,"result":{"v":[1,2]}}));
        let second = peer.recv().await;
        assert_eq!(second["id"], 8);
        assert_eq!(second["error"]["code"], codes::METHOD_NOT_FOUND);
        let third = peer.recv().await;
        assert_eq!(third, json!({"jsonrpc":"2.0","id":"s1","result":"slow"}));
        let notes = rec.notes.lock().unwrap().clone();
        assert_eq!(notes, vec![("note".into(), json!({"n":1})), ("note".into(), json!({"n":2}))]);
    }

    #[tokio::test]
    async fn eof_fails_pending_calls_at_once() {
        let (conn, peer, rec) = pair();
        let c = conn.clone();
        let call = tokio::spawn(async move { c.request("x", json!({})).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(peer);
        let e = tokio::time::timeout(Duration::from_secs(2), call).await.unwrap().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TransportClosed);
        assert!(e.is_transport_failure());
        assert!(rec.closed.lock().unwrap().is_some());
        // New calls fail immediately too.
        assert_eq!(conn.request("y", json!({})).await.unwrap_err().kind(), ErrorKind::TransportClosed);
    }

    /// Found by the fuzzer: `wait_closed` after the close must return (the supervisor may
    /// start watching a connection that already died).
    #[tokio::test]
    async fn wait_closed_after_the_close_returns() {
        let (conn, peer, _) = pair();
        drop(peer);
        tokio::time::timeout(Duration::from_secs(2), conn.wait_closed()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), conn.wait_closed()).await.expect("a second wait hung");
        let (conn, _peer, _) = pair();
        conn.close(Error::closed("closed here"));
        tokio::time::timeout(Duration::from_secs(2), conn.wait_closed()).await.expect("wait after close hung");
    }

    #[tokio::test]
    async fn garbage_fails_fast_with_typed_errors() {
        for (bytes, kind) in [
            (&b"Content-Length: zz\r\n\r\n"[..], ErrorKind::FrameLength),
            (&b"hello\r\n\r\n"[..], ErrorKind::FrameHeader),
            (&b"Content-Length: 5\r\n\r\n{oops"[..], ErrorKind::InvalidJson),
            (&b"Content-Length: 999999\r\n\r\n"[..], ErrorKind::MessageTooLarge),
        ] {
            let (conn, mut peer, _) = pair();
            let c = conn.clone();
            let call = tokio::spawn(async move { c.request("x", json!({})).await });
            let _ = peer.recv().await;
            peer.raw(bytes).await;
            let e = tokio::time::timeout(Duration::from_secs(2), call).await.unwrap().unwrap().unwrap_err();
            assert_eq!(e.kind(), kind, "{e}");
        }
    }

    #[tokio::test]
    async fn non_rpc_json_is_ignored_and_connection_survives() {
        let (conn, mut peer, _) = pair();
        peer.send(json!([1, 2])).await;
        peer.send(json!({"jsonrpc":"2.0"})).await;
        peer.send(json!({"jsonrpc":"2.0","id":"zz","result":1})).await;
        peer.send(json!({"jsonrpc":"2.0","id":4242,"result":1})).await;
        let c = conn.clone();
        let call = tokio::spawn(async move { c.request("x", json!({})).await });
        let req = peer.recv().await;
        peer.send(json!({"jsonrpc":"2.0","id":req["id"],"result":5})).await;
        assert_eq!(call.await.unwrap().unwrap(), json!(5));
        assert_eq!(conn.unmatched_replies(), 2, "both replies nobody asked for are counted");
    }

    #[tokio::test]
    async fn cancelled_request_is_forgotten_and_timeout_is_typed() {
        let (conn, mut peer, _) = pair();
        let e = conn.request_timeout("x", json!({}), Some(Duration::from_millis(30))).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        let req = peer.recv().await;
        assert!(conn.inner.pending.lock().unwrap().map.is_empty());
        // A late reply to a forgotten request is harmless.
        peer.send(json!({"jsonrpc":"2.0","id":req["id"],"result":1})).await;
        let c = conn.clone();
        let call = tokio::spawn(async move { c.request("y", json!({})).await });
        let req = peer.recv().await;
        peer.send(json!({"jsonrpc":"2.0","id":req["id"],"result":2})).await;
        assert_eq!(call.await.unwrap().unwrap(), json!(2));
    }

    #[tokio::test]
    async fn each_frame_is_written_whole() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let (ar, aw) = tokio::io::split(a);
        let conn = Connection::spawn(
            ar,
            aw,
            Arc::new(Recorder::default()),
            ConnectionOptions { max_message_size: 4096, stderr_tail: None, stderr_done: None, metrics: None },
        );
        conn.notify("n", json!({"big": "y".repeat(1000)})).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = b.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("Content-Length: "));
        assert!(text.ends_with("\"}}"), "frame arrived in pieces: {n} bytes");
    }
}
