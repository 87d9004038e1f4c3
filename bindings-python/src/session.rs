//! A session on the core's host bridge: one drain task per session takes its host stream in
//! batches and hands each batch to the session's asyncio loop with one `call_soon_threadsafe`.
//! The loop side (`copilot.client._Sink`) dispatches events by subscription id, starts request
//! handlers and settles call futures; the stream's order is the order it sees.
//!
//! A batch is a list of tuples:
//! - `(EVENT, [subscription ids], event)` (the event's wire object, converted once);
//! - `(REQUEST, kind, name, payload, reply, request_id)`: `reply.ok(value)` / `reply.fail(message)`;
//! - `(CANCEL, request_id, reason)`: the stream's `Cancelled`: the answer to that request is no
//!   longer wanted (the core has answered the CLI already and ignores a later reply); the loop
//!   side cancels the handler's task;
//! - `(DONE, future, ok, value_or_exception)`: a call started on this session finished;
//! - `(END,)`: the session's events ended.

use crate::{convert, gate, loops};
use copilot_core::host::{HostMessage, HostPort, HostStream, Responder};
use copilot_core::{Client, Error, ErrorKind, MessageOptions, Pool, Result, Session, SessionConfig};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

pub const EVENT: u8 = 0;
pub const REQUEST: u8 = 1;
pub const DONE: u8 = 2;
pub const END: u8 = 3;
pub const CANCEL: u8 = 4;

/// Messages taken from the stream per batch, at most.
const BATCH: usize = 512;

/// The calls of a session whose result comes through its stream.
#[derive(Default)]
struct Calls {
    next: u64,
    /// Futures waiting for their `Completion`, by call id.
    waiting: HashMap<u64, Py<PyAny>>,
    /// The stream said `End` (or the session never opened).
    ended: bool,
    /// The drain task stopped (ended and no call waiting): later calls settle through the
    /// loop queue, like client-level calls.
    drained: bool,
}

/// What opens a session: a client (one server) or a pool (placed by its ranking, leased).
#[derive(Clone)]
pub enum Opener {
    Client(Client),
    Pool(Pool),
}

impl Opener {
    async fn open(self, resume_id: Option<String>, config: SessionConfig) -> Result<Session> {
        match (self, resume_id) {
            (Opener::Client(c), Some(id)) => c.resume_session(&id, Some(config)).await,
            (Opener::Client(c), None) => c.create_session(config).await,
            (Opener::Pool(p), Some(id)) => p.resume_session(&id, Some(config)).await,
            (Opener::Pool(p), None) => p.create_session(config).await,
        }
    }
}

/// The native session. Python wraps it in `copilot.CopilotSession`.
#[pyclass(frozen)]
pub struct NativeSession {
    opener: Opener,
    port: HostPort,
    /// The config until `open` sends it.
    config: Mutex<Option<SessionConfig>>,
    session: Arc<OnceLock<Session>>,
    calls: Arc<Mutex<Calls>>,
    /// The session's event loop: call futures belong to it.
    event_loop: Py<PyAny>,
}

/// A session to open, from Python's pieces: `config` (without host callables), the request
/// kinds the host answers, the tools it runs, the hook types it registered (None: no hooks)
/// and the loop-side `sink`. The one path for a client's and a pool's sessions.
pub fn build(
    py: Python<'_>,
    opener: Opener,
    config: &Bound<'_, PyAny>,
    handlers: Vec<String>,
    tools: Vec<String>,
    hooks: Option<Vec<String>>,
    sink: Py<PyAny>,
) -> PyResult<NativeSession> {
    let built = convert::config_value("session config", config).and_then(|v| {
        let cfg = SessionConfig::from_json(&v)?;
        let host =
            copilot_core::HostOptions::from_json(&json!({"handlers": handlers, "tools": tools, "hooks": hooks}))?;
        Ok((cfg, host))
    });
    let (cfg, host) = built.map_err(|e| convert::py_error(py, &e))?;
    NativeSession::prepare(py, opener, cfg, host, sink)
}

impl NativeSession {
    /// Attaches the host bridge to `config` and starts the drain task, which delivers to
    /// `sink(batch)` on the running loop.
    fn prepare(
        py: Python<'_>,
        opener: Opener,
        mut config: SessionConfig,
        host: copilot_core::HostOptions,
        sink: Py<PyAny>,
    ) -> PyResult<NativeSession> {
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
        let (port, stream) = copilot_core::host::attach(&mut config, host).map_err(|e| convert::py_error(py, &e))?;
        let calls = Arc::new(Mutex::new(Calls::default()));
        let call_soon = event_loop.getattr("call_soon_threadsafe")?.unbind();
        copilot_core::runtime().spawn(drain(stream, calls.clone(), sink, call_soon));
        Ok(NativeSession {
            opener,
            port,
            config: Mutex::new(Some(config)),
            session: Arc::default(),
            calls,
            event_loop: event_loop.unbind(),
        })
    }

    fn session(&self, py: Python<'_>) -> PyResult<Session> {
        self.session
            .get()
            .cloned()
            .ok_or_else(|| convert::py_error(py, &Error::new(ErrorKind::NotConnected, "the session is not open yet")))
    }

    /// Runs `fut` on the runtime; its future settles on the session's loop, after the events
    /// the stream queued before it finished. Returns the future and the call id.
    fn call<'py>(
        &self,
        py: Python<'py>,
        fut: impl Future<Output = Result<Value>> + Send + 'static,
    ) -> PyResult<(Bound<'py, PyAny>, Option<u64>)> {
        let _rt = copilot_core::runtime().enter();
        // Created before the lock is taken: Python code (a finalizer) may run meanwhile.
        let py_fut = self.event_loop.bind(py).call_method0(intern!(py, "create_future"))?;
        let mut calls = self.calls.lock().unwrap();
        if calls.drained {
            drop(calls);
            return loops::spawn(py, fut).map(|f| (f, None));
        }
        let id = calls.next;
        calls.next += 1;
        calls.waiting.insert(id, py_fut.clone().unbind());
        drop(calls);
        self.port.spawn_call(id, fut);
        Ok((py_fut, Some(id)))
    }

    fn session_call<'py, F, Fut>(&self, py: Python<'py>, f: F) -> PyResult<Bound<'py, PyAny>>
    where
        F: FnOnce(Session) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value>> + Send + 'static,
    {
        let s = self.session(py)?;
        self.call(py, f(s)).map(|(fut, _)| fut)
    }
}

fn message_options(py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<MessageOptions> {
    convert::config_value("message options", message)
        .and_then(|v| MessageOptions::from_json(&v))
        .map_err(|e| convert::py_error(py, &e))
}

#[pymethods]
impl NativeSession {
    /// Creates the session (or resumes `resume_id`) with the prepared config.
    #[pyo3(signature = (resume_id=None))]
    fn open<'py>(&self, py: Python<'py>, resume_id: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let Some(config) = self.config.lock().unwrap().take() else {
            return Err(convert::py_error(py, &Error::new(ErrorKind::InvalidConfig, "the session was opened already")));
        };
        let (opener, cell, calls) = (self.opener.clone(), self.session.clone(), self.calls.clone());
        self.call(py, async move {
            match opener.open(resume_id, config).await {
                Ok(s) => {
                    let _ = cell.set(s);
                    Ok(Value::Null)
                }
                Err(e) => {
                    // No session, so no `End` may ever come: the stream is done after this.
                    calls.lock().unwrap().ended = true;
                    Err(e)
                }
            }
        })
        .map(|(fut, _)| fut)
    }

    #[getter]
    fn session_id(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.session(py)?.id().to_owned())
    }

    /// The fencing token of the session's lease (a pooled session with a lease store), else None.
    #[getter]
    fn lease_token(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        Ok(self.session(py)?.lease_token())
    }

    /// The URL of the server a pooled session is on now (None outside a pool).
    #[getter]
    fn server(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.session(py)?.server())
    }

    /// The create/resume result.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.session(py)?.info())
    }

    /// Delivers events (of these types; None: all) from now on; returns the subscription id
    /// that event messages list.
    #[pyo3(signature = (types=None))]
    fn subscribe(&self, types: Option<Vec<String>>) -> u64 {
        self.port.subscribe(types)
    }

    fn unsubscribe(&self, id: u64) -> bool {
        self.port.unsubscribe(id)
    }

    /// Queues a prompt; resolves to the message id.
    fn send<'py>(&self, py: Python<'py>, message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let m = message_options(py, message)?;
        self.session_call(py, move |s| async move { s.send(m).await.map(Value::String) })
    }

    /// Resolves to the turn's last assistant.message (its wire object) or None, after the
    /// turn's events reached the loop. Cancelling the future aborts the turn.
    fn send_and_wait<'py>(&self, py: Python<'py>, message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let m = message_options(py, message)?;
        let s = self.session(py)?;
        let s2 = s.clone();
        let (fut, call) = self.call(py, async move {
            let ev = s.send_and_wait(m).await?;
            Ok(ev.map_or(Value::Null, |e| serde_json::to_value(e).unwrap_or_default()))
        })?;
        let hook = CancelTurn { port: self.port.clone(), call, session: s2 };
        fut.call_method1(intern!(py, "add_done_callback"), (hook,))?;
        Ok(fut)
    }

    fn abort<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.session_call(py, |s| async move { s.abort().await.map(|_| Value::Null) })
    }

    fn get_messages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.session_call(py, |s| async move { s.get_messages().await.map(|v| json!(v)) })
    }

    #[pyo3(signature = (model, reasoning_effort=None))]
    fn set_model<'py>(
        &self,
        py: Python<'py>,
        model: String,
        reasoning_effort: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.session_call(py, move |s| async move { s.set_model(&model, reasoning_effort.as_deref()).await })
    }

    /// The `session.ui` helpers (`elicitation`, `confirm`, `select`, `input`); see the core's
    /// `Session::ui`.
    #[pyo3(signature = (op, params=None))]
    fn ui<'py>(&self, py: Python<'py>, op: String, params: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let params = convert::rpc_params(py, params, Value::Null)?;
        self.session_call(py, move |s| async move { s.ui(&op, params).await })
    }

    /// Detaches this client from the session; idempotent.
    fn disconnect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.session_call(py, |s| async move { s.disconnect().await.map(|_| Value::Null) })
    }

    /// Any session-scoped method (`sessionId` is added). `timeout` in seconds replaces the
    /// client's `requestTimeout` for this call (infinity: no deadline; None: the default).
    #[pyo3(signature = (method, params=None, timeout=None))]
    fn rpc<'py>(
        &self,
        py: Python<'py>,
        method: String,
        params: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = convert::rpc_params(py, params, Value::Null)?;
        match convert::call_timeout(py, timeout)? {
            None => self.session_call(py, move |s| async move { s.call(&method, params).await }),
            Some(t) => self.session_call(py, move |s| async move { s.call_with_timeout(&method, params, t).await }),
        }
    }
}

/// The done-callback of a `send_and_wait` future: when the caller cancelled it, the call
/// completes at once (cancelled) and the turn is aborted.
#[pyclass(frozen)]
struct CancelTurn {
    port: HostPort,
    call: Option<u64>,
    session: Session,
}

#[pymethods]
impl CancelTurn {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if !fut.call_method0(intern!(fut.py(), "cancelled"))?.is_truthy()? {
            return Ok(());
        }
        if let Some(call) = self.call {
            self.port.cancel_call(call, Some("send_and_wait was cancelled"));
        }
        let s = self.session.clone();
        copilot_core::runtime().spawn(async move {
            if let Err(e) = s.abort().await {
                tracing::debug!("abort after cancellation failed: {e}");
            }
        });
        Ok(())
    }
}

/// Answers one host request, once (`ok` converts the handler's return value). An answer after
/// the core cancelled the request goes nowhere: the core has answered the CLI itself.
#[pyclass(frozen)]
struct Reply(Mutex<Option<Responder>>);

#[pymethods]
impl Reply {
    /// The handler's return value, as it is (the core reads every form its kind accepts).
    fn ok(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = convert::from_py(value)?;
        if let Some(r) = self.0.lock().unwrap().take() {
            r.reply(v);
        }
        Ok(())
    }

    /// The handler failed with this message.
    fn fail(&self, message: String) {
        if let Some(r) = self.0.lock().unwrap().take() {
            r.fail(message);
        }
    }
}

async fn drain(mut stream: HostStream, calls: Arc<Mutex<Calls>>, sink: Py<PyAny>, call_soon: Py<PyAny>) {
    while let Some(batch) = stream.recv_batch(BATCH).await {
        let (futures, stop) = {
            let mut c = calls.lock().unwrap();
            let mut futures = Vec::new();
            for m in &batch {
                match m {
                    HostMessage::Completion { call, .. } => futures.push(c.waiting.remove(call)),
                    HostMessage::End => c.ended = true,
                    _ => {}
                }
            }
            let stop = c.ended && c.waiting.is_empty();
            c.drained |= stop;
            (futures, stop)
        };
        deliver(batch, futures, &sink, &call_soon);
        if stop {
            break;
        }
    }
    calls.lock().unwrap().drained = true;
    // Dropping the stream makes later requests fail fast instead of waiting. The handlers go
    // now, not at pyo3's next deferred cleanup: a handler may hold the session object.
    drop(stream);
    gate::enter("the end of a session", move |_py| drop((sink, call_soon)));
}

fn deliver(batch: Vec<HostMessage>, futures: Vec<Option<Py<PyAny>>>, sink: &Py<PyAny>, call_soon: &Py<PyAny>) {
    let delivered = gate::enter("session messages", |py| -> PyResult<()> {
        let list = PyList::empty(py);
        let mut futures = futures.into_iter();
        for m in batch {
            list.append(message(py, m, &mut futures)?)?;
        }
        call_soon.call1(py, (sink, list))?;
        Ok(())
    });
    if let Some(Err(e)) = delivered {
        // The loop is closed: nobody is listening any more (unanswered requests fail).
        tracing::debug!("session messages dropped: {e}");
    }
}

fn message<'py>(
    py: Python<'py>,
    m: HostMessage,
    futures: &mut impl Iterator<Item = Option<Py<PyAny>>>,
) -> PyResult<Bound<'py, PyTuple>> {
    match m {
        HostMessage::Event { event, subscriptions } => {
            (EVENT, subscriptions, convert::event_to_py(py, &event)?).into_pyobject(py)
        }
        HostMessage::Request(req) => {
            let payload = convert::to_py(py, &req.payload)?;
            let reply = Reply(Mutex::new(Some(req.responder)));
            (REQUEST, req.kind.name(), req.name, payload, reply, req.id).into_pyobject(py)
        }
        HostMessage::Completion { result, .. } => {
            let future = futures.next().flatten().unwrap_or_else(|| py.None());
            let (ok, value) = match result.map_err(|e| convert::py_error(py, &e)).and_then(|v| convert::to_py(py, &v)) {
                Ok(v) => (true, v),
                Err(e) => (false, e.into_value(py).into_bound(py).into_any()),
            };
            (DONE, future, ok, value).into_pyobject(py)
        }
        HostMessage::Cancelled { request, reason } => (CANCEL, request, reason).into_pyobject(py),
        HostMessage::End => (END,).into_pyobject(py),
    }
}
