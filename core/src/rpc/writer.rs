//! The write side of a connection: whole frames, in order, written straight from the caller
//! when the socket takes them, otherwise by the writer task.

use super::WeakConnection;
use crate::error::Error;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

pub(super) type BoxWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// The write side. A frame is written straight from the caller when nothing is queued and the
/// socket takes it whole without blocking (the common case: no task hop, one `write` call).
/// Otherwise it is queued, in order, for the writer task. Either way a frame is never split by
/// another frame, and a caller that is cancelled never leaves half a frame behind.
pub(super) struct Outbox {
    state: Mutex<OutState>,
    wake: Notify,
}

struct OutState {
    /// None while the writer task is writing with it.
    io: Option<BoxWriter>,
    queue: VecDeque<Vec<u8>>,
    closed: bool,
}

impl Outbox {
    pub(super) fn new(writer: BoxWriter) -> Arc<Outbox> {
        Arc::new(Outbox {
            state: Mutex::new(OutState { io: Some(writer), queue: VecDeque::new(), closed: false }),
            wake: Notify::new(),
        })
    }

    /// Queues or writes a frame; false when the connection is closed.
    pub(super) fn push(&self, frame: Vec<u8>) -> bool {
        let mut st = self.state.lock().unwrap();
        if st.closed {
            return false;
        }
        let mut written = 0;
        if st.queue.is_empty() {
            if let Some(io) = st.io.as_mut() {
                let mut cx = Context::from_waker(Waker::noop());
                while written < frame.len() {
                    match Pin::new(&mut *io).poll_write(&mut cx, &frame[written..]) {
                        Poll::Ready(Ok(n)) if n > 0 => written += n,
                        // Pending, an error or a zero write: the writer task takes over (and
                        // reports errors).
                        _ => break,
                    }
                }
                if written == frame.len() && Pin::new(&mut *io).poll_flush(&mut cx).is_ready() {
                    return true;
                }
            }
        }
        let rest = if written == 0 { frame } else { frame[written..].to_vec() };
        if !rest.is_empty() {
            st.queue.push_back(rest);
        }
        drop(st);
        self.wake.notify_one();
        true
    }

    /// Refuses new frames and drops the write half (closing the pipe or the socket's write
    /// side) unless the writer task is using it, in which case it does so itself.
    pub(super) fn close(&self) {
        let io = {
            let mut st = self.state.lock().unwrap();
            st.closed = true;
            st.queue.clear();
            st.io.take()
        };
        drop(io);
        self.wake.notify_one();
    }
}

pub(super) async fn write_loop(out: Arc<Outbox>, conn: WeakConnection) {
    loop {
        let (mut io, batch, closing) = {
            let mut st = out.state.lock().unwrap();
            let closing = st.closed && st.queue.is_empty();
            match st.io.take() {
                Some(io) => (io, st.queue.drain(..).collect::<Vec<_>>(), closing),
                None => return,
            }
        };
        if closing {
            let _ = io.shutdown().await;
            return;
        }
        let mut res = Ok(());
        for f in &batch {
            res = io.write_all(f).await;
            if res.is_err() {
                break;
            }
        }
        if res.is_ok() {
            res = io.flush().await;
        }
        if let Err(e) = res {
            conn.fail_with_stderr(Error::closed(format!("write to the CLI failed: {e}")).with_source(e)).await;
            return;
        }
        let idle = {
            let mut st = out.state.lock().unwrap();
            st.io = Some(io);
            st.queue.is_empty() && !st.closed
        };
        if idle {
            out.wake.notified().await;
        }
    }
}
