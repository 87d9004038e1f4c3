//! The checks behind the fuzz harnesses, written once: the AFL++ binaries (`tests/fuzz/src/bin/*`)
//! call them in their persistent loop, and `core/tests/fuzz_corpus.rs` includes this file with
//! `#[path]` to replay the committed corpus and every saved regression. A check panics when an
//! invariant breaks (for AFL++ that is a crash); typed errors from the code under test are fine.
//!
//! Every check runs on a current-thread runtime whose clock is paused: when every task waits,
//! the clock jumps to the next timer, so a call that would wait forever runs into the harness's
//! own deadline at once and deterministically (a hang is reported as a panic, not a timeout).

use copilot_core::framing::{FrameReader, frame_bytes};
use copilot_core::rpc::{BoxFuture, Connection, ConnectionOptions, Inbound};
use copilot_core::{Error, ErrorKind, RpcErrorData};
use serde_json::Value;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::runtime::Runtime;

/// The maximum message size given to the reader under test: small, so that
/// `MessageTooLarge` is easy to reach.
const MAX_MESSAGE: usize = 4096;

/// How long (in paused, virtual time) one step may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(3600);

/// The error kinds a frame reader may end with.
const FRAMING_ERRORS: [ErrorKind; 4] =
    [ErrorKind::FrameHeader, ErrorKind::FrameLength, ErrorKind::MessageTooLarge, ErrorKind::TransportClosed];

/// The runtime every check runs on (build it once, outside the loop).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("cannot build the fuzzing runtime")
}

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(HANG, f).await {
        Ok(v) => v,
        Err(_) => panic!("hang: {what} did not finish within {HANG:?} of (virtual) time"),
    }
}

/// Polls a future once.
async fn poll_once<F: Future>(mut f: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await
}

/// A reader that hands the input out in pieces of the given sizes (cycled), optionally
/// answering `Pending` (and waking itself at once) before every piece.
struct Chunked<B> {
    data: B,
    pos: usize,
    sizes: &'static [usize],
    turn: usize,
    yields: bool,
    yielded: bool,
}

impl<B: AsRef<[u8]>> Chunked<B> {
    fn new(data: B, sizes: &'static [usize], yields: bool) -> Self {
        Chunked { data, pos: 0, sizes, turn: 0, yields, yielded: false }
    }
}

impl<B: AsRef<[u8]> + Unpin> AsyncRead for Chunked<B> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.yields && !this.yielded {
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.yielded = false;
        let data = this.data.as_ref();
        let size = this.sizes[this.turn % this.sizes.len()];
        this.turn += 1;
        let n = size.min(buf.remaining()).min(data.len() - this.pos);
        buf.put_slice(&data[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// How a frame stream ended: the frames read, then `None` for a clean EOF or the error kind.
#[derive(PartialEq)]
struct Frames {
    frames: Vec<Vec<u8>>,
    end: Option<ErrorKind>,
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lens: Vec<usize> = self.frames.iter().map(Vec::len).collect();
        write!(f, "frames of {lens:?} bytes, then {:?}", self.end)
    }
}

async fn read_frames<R: AsyncRead + Unpin>(reader: R, max: usize) -> Frames {
    let mut r = FrameReader::new(reader, max);
    let mut frames = Vec::new();
    loop {
        match r.next_frame().await {
            Ok(Some(body)) => {
                assert!(body.len() <= max, "a frame of {} bytes passed the limit of {max}", body.len());
                frames.push(body);
            }
            Ok(None) => return Frames { frames, end: None },
            Err(e) => {
                assert!(FRAMING_ERRORS.contains(&e.kind()), "the frame reader failed with {:?}: {e}", e.kind());
                return Frames { frames, end: Some(e.kind()) };
            }
        }
    }
}

/// `FrameReader` on arbitrary bytes: it ends with a frame error kind (never a panic or a
/// hang), returns no frame over the limit, gives the same frames and the same end however the
/// bytes are split across reads, and reads back every frame it returned once re-encoded.
pub fn check_framing(rt: &Runtime, data: &[u8]) {
    rt.block_on(async {
        let whole = within("reading the input in one piece", read_frames(data, MAX_MESSAGE)).await;
        let total: usize = whole.frames.iter().map(Vec::len).sum();
        assert!(total <= data.len(), "{total} body bytes out of {} input bytes", data.len());
        // Byte by byte costs the reader O(n²) on a long header (it rescans the partial line on
        // every read): long inputs come in pieces of 1, 7 and 300 bytes instead.
        let small: &'static [usize] = if data.len() <= 2048 { &[1] } else { &[1, 7, 300] };
        let splits: [(&str, &'static [usize], bool); 2] = [
            ("in small pieces", small, false),
            ("in uneven pieces with pauses", &[3, 1, 7, 64, 2, 4096, 5, 13, 700], true),
        ];
        for (how, sizes, yields) in splits {
            let split = within(how, read_frames(Chunked::new(data, sizes, yields), MAX_MESSAGE)).await;
            assert_eq!(split, whole, "reading {how} differs from reading in one piece");
        }
        for body in &whole.frames {
            let again = read_frames(&frame_bytes(body)[..], MAX_MESSAGE).await;
            assert_eq!(again, Frames { frames: vec![body.clone()], end: None }, "a re-encoded frame reads back");
        }
    });
}

/// The host side of the connection under test: counts what arrives and answers requests.
#[derive(Default)]
struct Host {
    notifications: AtomicUsize,
    requests: AtomicUsize,
    closed: AtomicUsize,
}

impl Inbound for Host {
    fn notification(&self, _method: &str, _params: Value) {
        self.notifications.fetch_add(1, Ordering::Relaxed);
    }

    fn request(&self, method: String, params: Value) -> BoxFuture<'static, Result<Value, RpcErrorData>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            match method.as_str() {
                "echo" => Ok(params),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok(Value::Null)
                }
                _ => Err(RpcErrorData { code: -32601, message: format!("no method {method:?}"), data: Some(params) }),
            }
        })
    }

    fn closed(&self, _error: &Error) {
        self.closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The connection's write side: collects the bytes, taking at most a few at a time and
/// sometimes answering `Pending`, so frames go out in pieces.
struct Collect {
    out: Arc<Mutex<Vec<u8>>>,
    turn: usize,
}

impl AsyncWrite for Collect {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // At most this many bytes per write, or (None) `Pending`, in turn.
        const STEPS: [Option<usize>; 3] = [Some(1000), Some(17), None];
        let this = self.get_mut();
        let step = STEPS[this.turn % STEPS.len()];
        this.turn += 1;
        let Some(max) = step else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let n = buf.len().min(max);
        this.out.lock().unwrap().extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What the input should do to a connection, read with the plain frame reader and JSON parser.
struct Expected {
    /// The first response to our request id 1: its result, or its error object.
    answer: Option<Result<Value, Value>>,
    notifications: usize,
    /// The ids of the server's requests, each of which may get one reply.
    request_ids: Vec<Value>,
    /// Replies that match no pending call.
    unmatched_replies: u64,
    /// How the stream ends (`TransportClosed` on a clean EOF).
    end: ErrorKind,
}

async fn expected(data: &[u8]) -> Expected {
    let read = read_frames(data, MAX_MESSAGE).await;
    let mut exp = Expected {
        answer: None,
        notifications: 0,
        request_ids: Vec::new(),
        unmatched_replies: 0,
        end: read.end.unwrap_or(ErrorKind::TransportClosed),
    };
    for frame in &read.frames {
        let Ok(msg) = serde_json::from_slice::<Value>(frame) else {
            exp.end = ErrorKind::InvalidJson;
            break;
        };
        let Some(obj) = msg.as_object() else { continue };
        let has_method = obj.get("method").is_some_and(Value::is_string);
        match obj.get("id") {
            Some(id) if has_method && !id.is_null() => exp.request_ids.push(id.clone()),
            _ if has_method => exp.notifications += 1,
            Some(id) if id.as_u64() == Some(1) && exp.answer.is_none() => {
                exp.answer = Some(match obj.get("error") {
                    Some(err) => Err(err.clone()),
                    None => Ok(obj.get("result").cloned().unwrap_or(Value::Null)),
                });
            }
            Some(_) => exp.unmatched_replies += 1,
            None => {}
        }
    }
    exp
}

/// A `Connection` reading arbitrary bytes, with one call of ours (id 1) pending: the call
/// completes (with the reply the input carries, or the error that ended the stream), the
/// connection closes once, the host sees every notification and request, replies that match
/// no call are counted, nothing waits forever, no task outlives the connection, and everything
/// the connection wrote is well-formed JSON-RPC: our request, then replies to the server's
/// requests.
pub fn check_rpc(rt: &Runtime, data: &[u8]) {
    rt.block_on(async {
        let exp = expected(data).await;
        let host = Arc::new(Host::default());
        let out = Arc::new(Mutex::new(Vec::new()));
        let conn = Connection::spawn(
            Chunked::new(Vec::from(data), &[512], true),
            Collect { out: out.clone(), turn: 0 },
            host.clone(),
            ConnectionOptions { max_message_size: MAX_MESSAGE, stderr_tail: None, stderr_done: None, metrics: None },
        );
        // Poll the call once before the reader task runs, so that it is pending when the
        // input arrives.
        let result = {
            let mut call = std::pin::pin!(conn.request("fuzz", Value::Null));
            match poll_once(call.as_mut()).await {
                Poll::Ready(r) => r,
                Poll::Pending => within("the pending call", call).await,
            }
        };
        match (&exp.answer, &result) {
            (Some(Ok(want)), Ok(got)) => assert_eq!(got, want, "the call got another result"),
            (Some(Err(err)), Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Rpc, "{e}");
                if let Some(code) = err.get("code").and_then(Value::as_i64) {
                    assert_eq!(e.rpc_code(), Some(code), "{e}");
                }
                if let Some(message) = err.get("message").and_then(Value::as_str) {
                    assert_eq!(e.rpc_error().map(|d| d.message.as_str()), Some(message), "{e}");
                }
            }
            (None, Err(e)) => assert_eq!(e.kind(), exp.end, "the call failed otherwise: {e}"),
            (want, got) => panic!("the call returned {got:?}, the input answers {want:?}"),
        }

        within("closing the connection", conn.wait_closed()).await;
        assert!(conn.is_closed());
        assert_eq!(conn.closed_error().kind(), exp.end, "{}", conn.closed_error());
        assert_eq!(host.closed.load(Ordering::Relaxed), 1, "Inbound::closed calls");
        assert_eq!(host.notifications.load(Ordering::Relaxed), exp.notifications, "notifications delivered");
        assert_eq!(host.requests.load(Ordering::Relaxed), exp.request_ids.len(), "server requests delivered");
        assert_eq!(conn.unmatched_replies(), exp.unmatched_replies, "replies that matched no call");
        let late = {
            let mut late = std::pin::pin!(conn.request("late", Value::Null));
            poll_once(late.as_mut()).await
        };
        match late {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), exp.end, "a call after the close: {e}"),
            other => panic!("a call after the close was not refused at once: {other:?}"),
        }
        drop(conn);

        let handle = tokio::runtime::Handle::current();
        within("the connection's tasks ending", async {
            while handle.metrics().num_alive_tasks() > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
        .await;

        let written = std::mem::take(&mut *out.lock().unwrap());
        check_output(&written, &exp.request_ids).await;
    });
}

/// What the connection wrote: whole frames (the last one may be cut by the close) of JSON-RPC
/// 2.0, first our request, then at most one reply per server request.
async fn check_output(written: &[u8], request_ids: &[Value]) {
    let read = read_frames(written, usize::MAX).await;
    assert!(
        matches!(read.end, None | Some(ErrorKind::TransportClosed)),
        "the connection wrote a broken stream: {read:?}"
    );
    let mut frames = read.frames.iter().map(|f| {
        serde_json::from_slice::<Value>(f).unwrap_or_else(|e| panic!("the connection wrote invalid JSON ({e})"))
    });
    if let Some(first) = frames.next() {
        assert_eq!(first, serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "fuzz", "params": null}));
    }
    let mut unanswered = request_ids.to_vec();
    for reply in frames {
        assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
        let kinds = ["result", "error"].iter().filter(|k| reply.get(**k).is_some()).count();
        assert_eq!(kinds, 1, "a reply needs a result or an error: {reply}");
        let Some(at) = unanswered.iter().position(|id| reply.get("id") == Some(id)) else {
            panic!("a reply to no pending server request: {reply}")
        };
        unanswered.remove(at);
    }
}
