//! `copilot._copilot`: the private native module under the `copilot` Python package.
//!
//! Everything crosses the boundary as JSON text (parsed by the core's `from_json` forms), so
//! this layer stays small: awaitables bridged onto the caller's asyncio loop, host callbacks
//! bridged into the core's handler traits, and errors turned into the Python exception
//! hierarchy defined in `copilot/errors.py`. The GIL is never held while Rust waits.

use copilot_core::{
    Client, ClientOptions, Error, ErrorKind, JsonHandler, MessageOptions, PermissionDecision, PermissionHandler,
    PermissionRequest, Session, SessionConfig, SessionEvent, ToolHandler, ToolInvocation, ToolResult, UserInputHandler,
    UserInputRequest, UserInputResponse,
};
use pyo3::prelude::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// `copilot._bridge`, the Python half of this bridge (resolving futures, building exceptions).
fn bridge(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("copilot._bridge")
}

/// Turns a core error into an instance of the matching `copilot.errors` class, with the Rust
/// error (its debug form) chained as `__cause__`.
fn py_error(py: Python<'_>, e: &Error) -> PyErr {
    let rpc = e.rpc_error().map(|r| json!({"code": r.code, "message": r.message, "data": r.data}).to_string());
    let built = bridge(py).and_then(|b| {
        b.getattr("make_error")?.call1((
            e.code(),
            e.kind().number(),
            e.message(),
            rpc,
            e.stderr_tail(),
            format!("{e:?}"),
        ))
    });
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

fn config_error(msg: String) -> Error {
    Error::new(ErrorKind::InvalidConfig, msg)
}

fn parse_json(what: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| config_error(format!("{what} is not valid JSON: {e}")))
}

/// What a finished Rust future hands back to Python.
enum Out {
    None,
    Str(String),
    OptStr(Option<String>),
    Session(Session),
    Bool(bool),
}

impl Out {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Out::None => py.None(),
            Out::Str(s) => s.into_pyobject(py)?.into_any().unbind(),
            Out::OptStr(s) => s.into_pyobject(py)?.into_any().unbind(),
            Out::Session(s) => Py::new(py, NativeSession { inner: s, subs: Mutex::new(HashMap::new()) })?.into_any(),
            Out::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any().unbind(),
        })
    }
}

/// Called by asyncio when the awaiting future is done; on cancellation it aborts the Rust task
/// (and runs an extra cancel action, e.g. aborting the turn for send_and_wait).
#[pyclass]
struct CancelHook {
    abort: tokio::task::AbortHandle,
    on_cancel: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

#[pymethods]
impl CancelHook {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0("cancelled")?.is_truthy()? {
            self.abort.abort();
            if let Some(f) = self.on_cancel.lock().unwrap().take() {
                f();
            }
        }
        Ok(())
    }
}

/// Runs `fut` on the core runtime and returns an asyncio future of the caller's running loop.
fn spawn_py<'py>(
    py: Python<'py>,
    fut: impl Future<Output = Result<Out, Error>> + Send + 'static,
    on_cancel: Option<Box<dyn FnOnce() + Send>>,
) -> PyResult<Bound<'py, PyAny>> {
    let asyncio = py.import("asyncio")?;
    let event_loop = asyncio.call_method0("get_running_loop")?;
    let py_fut = event_loop.call_method0("create_future")?;
    let fut_ref = py_fut.clone().unbind();
    let loop_ref = event_loop.clone().unbind();
    let handle = copilot_core::runtime().spawn(async move {
        let result = fut.await;
        Python::attach(|py| {
            let value: PyResult<(bool, Py<PyAny>)> = match result {
                Ok(out) => out.into_py(py).map(|v| (true, v)),
                Err(e) => Ok((false, py_error(py, &e).into_value(py).into_any())),
            };
            let (ok, value) = match value {
                Ok(v) => v,
                Err(e) => (false, e.into_value(py).into_any()),
            };
            let resolve = match bridge(py).and_then(|b| b.getattr("resolve")) {
                Ok(r) => r,
                Err(e) => {
                    e.print(py);
                    return;
                }
            };
            // The loop may be closed already (the caller went away): nothing to resolve then.
            let _ = loop_ref.call_method1(py, "call_soon_threadsafe", (resolve, fut_ref, ok, value));
        });
    });
    let hook = CancelHook { abort: handle.abort_handle(), on_cancel: Mutex::new(on_cancel) };
    py_fut.call_method1("add_done_callback", (Py::new(py, hook)?,))?;
    Ok(py_fut)
}

/// One-shot answer channel handed to Python handler dispatchers.
#[pyclass]
struct Reply {
    tx: Mutex<Option<oneshot::Sender<Result<String, String>>>>,
}

#[pymethods]
impl Reply {
    /// Answers with a JSON text.
    fn ok(&self, json: String) {
        if let Some(tx) = self.tx.lock().unwrap().take() {
            let _ = tx.send(Ok(json));
        }
    }
    /// Answers with a failure message.
    fn fail(&self, message: String) {
        if let Some(tx) = self.tx.lock().unwrap().take() {
            let _ = tx.send(Err(message));
        }
    }
}

/// Bridges every handler kind to one Python dispatcher: `dispatch(kind, payload_json, reply)`.
#[derive(Clone)]
struct PyDispatch {
    dispatch: Arc<Py<PyAny>>,
}

impl PyDispatch {
    fn call(&self, kind: &'static str, payload: Value) -> BoxFuture<Result<Value, Error>> {
        let (tx, rx) = oneshot::channel();
        let started = Python::attach(|py| {
            let reply = Py::new(py, Reply { tx: Mutex::new(Some(tx)) })?;
            self.dispatch.call1(py, (kind, payload.to_string(), reply)).map(drop)
        });
        Box::pin(async move {
            if let Err(e) = started {
                return Err(Error::new(
                    ErrorKind::HandlerFailed,
                    format!("cannot call the Python {kind} handler: {e}"),
                ));
            }
            match rx.await {
                Ok(Ok(text)) => serde_json::from_str(&text).map_err(|e| {
                    Error::new(ErrorKind::HandlerFailed, format!("the {kind} handler returned invalid JSON: {e}"))
                }),
                Ok(Err(msg)) => Err(Error::new(ErrorKind::HandlerFailed, msg)),
                Err(_) => Err(Error::new(
                    ErrorKind::HandlerFailed,
                    format!("the {kind} handler never answered (event loop closed?)"),
                )),
            }
        })
    }
}

impl ToolHandler for PyDispatch {
    fn call(&self, inv: ToolInvocation) -> BoxFuture<copilot_core::Result<ToolResult>> {
        let payload = json!({
            "sessionId": inv.session_id, "toolCallId": inv.tool_call_id, "toolName": inv.tool_name,
            "arguments": inv.arguments, "workingDirectory": inv.working_directory,
        });
        let f = PyDispatch::call(self, "tool", payload);
        Box::pin(async move { f.await.map(ToolResult::from_json) })
    }
}

impl PermissionHandler for PyDispatch {
    fn decide(&self, req: PermissionRequest) -> BoxFuture<copilot_core::Result<PermissionDecision>> {
        let f = self.call("permission", req.raw.clone());
        Box::pin(async move { PermissionDecision::from_json(&f.await?) })
    }
}

impl UserInputHandler for PyDispatch {
    fn ask(&self, req: UserInputRequest) -> BoxFuture<copilot_core::Result<UserInputResponse>> {
        let f = self.call("user_input", req.raw.clone());
        Box::pin(async move {
            let v = f.await?;
            match v {
                Value::String(answer) => Ok(UserInputResponse { answer, was_freeform: true }),
                Value::Object(ref o) if o.get("answer").is_some_and(Value::is_string) => Ok(UserInputResponse {
                    answer: o["answer"].as_str().unwrap_or_default().to_owned(),
                    was_freeform: o.get("wasFreeform").and_then(Value::as_bool).unwrap_or(true),
                }),
                other => Err(Error::new(
                    ErrorKind::HandlerFailed,
                    format!("the user input handler returned {other}; expected a string or {{\"answer\": ...}}"),
                )),
            }
        })
    }
}

/// A JSON handler of one kind.
struct KindHandler {
    kind: &'static str,
    dispatch: PyDispatch,
}

impl JsonHandler for KindHandler {
    fn handle(&self, params: Value) -> BoxFuture<copilot_core::Result<Value>> {
        self.dispatch.call(self.kind, params)
    }
}

fn event_json(e: &SessionEvent) -> String {
    serde_json::to_string(e).unwrap_or_else(|_| "{}".into())
}

/// Builds a core SessionConfig from JSON plus the Python dispatcher and the handler kinds set.
fn build_config(
    config_json: &str,
    dispatch: Option<Py<PyAny>>,
    kinds: Vec<String>,
    tools_with_handlers: Vec<String>,
    on_event: Option<Py<PyAny>>,
    on_event_end: Option<Py<PyAny>>,
) -> Result<SessionConfig, Error> {
    let mut c = SessionConfig::from_json(&parse_json("session config", config_json)?)?;
    if let Some(d) = dispatch {
        let d = PyDispatch { dispatch: Arc::new(d) };
        for t in &mut c.tools {
            if tools_with_handlers.contains(&t.name) {
                t.handler = Some(Arc::new(d.clone()));
            }
        }
        for k in kinds {
            let h =
                |kind: &'static str| -> Arc<dyn JsonHandler> { Arc::new(KindHandler { kind, dispatch: d.clone() }) };
            match k.as_str() {
                "permission" => c.on_permission_request = Some(Arc::new(d.clone())),
                "user_input" => c.on_user_input_request = Some(Arc::new(d.clone())),
                "hook" => c.on_hook = Some(h("hook")),
                "transform" => c.on_system_message_transform = Some(h("transform")),
                "exit_plan" => c.on_exit_plan_mode = Some(h("exit_plan")),
                "provider_token" => c.on_provider_token = Some(h("provider_token")),
                other => return Err(config_error(format!("unknown handler kind {other:?}"))),
            }
        }
    }
    if let Some(cb) = on_event {
        let cb = Arc::new(cb);
        c.on_event = Some(Arc::new(move |e: &SessionEvent| {
            let text = event_json(e);
            Python::attach(|py| {
                if let Err(err) = cb.call1(py, (text,)) {
                    err.print(py);
                }
            });
        }));
    }
    if let Some(cb) = on_event_end {
        c.on_event_end = Some(Arc::new(move || {
            Python::attach(|py| {
                if let Err(err) = cb.call0(py) {
                    err.print(py);
                }
            });
        }));
    }
    Ok(c)
}

/// The native client. Python wraps it in `copilot.CopilotClient`.
#[pyclass(frozen)]
struct NativeClient {
    inner: Client,
}

#[pymethods]
impl NativeClient {
    #[new]
    fn new(py: Python<'_>, options_json: &str) -> PyResult<Self> {
        let opts = parse_json("client options", options_json)
            .and_then(|v| ClientOptions::from_json(&v))
            .map_err(|e| py_error(py, &e))?;
        Ok(NativeClient { inner: Client::new(opts) })
    }

    fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        spawn_py(py, async move { c.start().await.map(|_| Out::None) }, None)
    }

    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        spawn_py(py, async move { c.stop().await.map(|_| Out::None) }, None)
    }

    fn force_stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        spawn_py(
            py,
            async move {
                c.force_stop().await;
                Ok(Out::None)
            },
            None,
        )
    }

    /// Any client-level call by method name; params and result are JSON text. The typed
    /// helpers of the Python wrapper (ping, status, list, ...) go through here or through
    /// the dedicated methods below.
    fn call<'py>(&self, py: Python<'py>, name: String, arg: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        spawn_py(
            py,
            async move {
                let to_s = |v: Value| Out::Str(v.to_string());
                match name.as_str() {
                    "ping" => c.ping(arg.as_deref()).await.map(|r| to_s(json!(r))),
                    "get_status" => c.get_status().await.map(|r| to_s(json!(r))),
                    "get_auth_status" => c.get_auth_status().await.map(|r| to_s(json!(r))),
                    "list_models" => c.list_models().await.map(|r| to_s(json!(r))),
                    "list_sessions" => {
                        let filter = match arg {
                            Some(f) => Some(
                                serde_json::from_value(parse_json("filter", &f)?)
                                    .map_err(|e| config_error(format!("invalid session filter: {e}")))?,
                            ),
                            None => None,
                        };
                        c.list_sessions(filter).await.map(|r| to_s(json!(r)))
                    }
                    "delete_session" => c.delete_session(arg.as_deref().unwrap_or_default()).await.map(|_| Out::None),
                    "get_last_session_id" => c.get_last_session_id().await.map(Out::OptStr),
                    "get_foreground_session_id" => c.get_foreground_session_id().await.map(Out::OptStr),
                    "set_foreground_session_id" => {
                        c.set_foreground_session_id(arg.as_deref().unwrap_or_default()).await.map(|_| Out::None)
                    }
                    other => Err(Error::new(ErrorKind::Internal, format!("unknown native call {other}"))),
                }
            },
            None,
        )
    }

    /// The generic escape hatch: any server method, params and result as JSON text.
    fn rpc<'py>(&self, py: Python<'py>, method: String, params_json: String) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        spawn_py(
            py,
            async move {
                let params = parse_json("params", &params_json)?;
                c.rpc(&method, params).await.map(|v| Out::Str(v.to_string()))
            },
            None,
        )
    }

    #[pyo3(signature = (resume_id, config_json, dispatch, kinds, tools_with_handlers, on_event, on_event_end))]
    #[allow(clippy::too_many_arguments)]
    fn open_session<'py>(
        &self,
        py: Python<'py>,
        resume_id: Option<String>,
        config_json: String,
        dispatch: Option<Py<PyAny>>,
        kinds: Vec<String>,
        tools_with_handlers: Vec<String>,
        on_event: Option<Py<PyAny>>,
        on_event_end: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        let config = build_config(&config_json, dispatch, kinds, tools_with_handlers, on_event, on_event_end)
            .map_err(|e| py_error(py, &e))?;
        spawn_py(
            py,
            async move {
                let s = match resume_id {
                    Some(id) => c.resume_session(&id, Some(config)).await?,
                    None => c.create_session(config).await?,
                };
                Ok(Out::Session(s))
            },
            None,
        )
    }

    /// Lifecycle notifications: `callback(json_text)` from a library thread, in order.
    fn subscribe_lifecycle(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let mut stream = self.inner.subscribe_lifecycle().map_err(|e| py_error(py, &e))?;
        copilot_core::runtime().spawn(async move {
            while let Some(ev) = stream.recv().await {
                let text = serde_json::to_string(&ev).unwrap_or_default();
                Python::attach(|py| {
                    if let Err(e) = callback.call1(py, (text,)) {
                        e.print(py);
                    }
                });
            }
        });
        Ok(())
    }

    /// Synchronous force-stop for interpreter exit (`atexit`): kills a spawned CLI and closes
    /// the connection before Python finalizes, without an event loop. The GIL is released.
    fn close_now(&self, py: Python<'_>) {
        let c = self.inner.clone();
        py.detach(|| copilot_core::runtime().block_on(c.force_stop()));
    }

    fn port(&self) -> Option<u16> {
        self.inner.port()
    }
    fn cli_pid(&self) -> Option<u32> {
        self.inner.cli_pid()
    }
    fn protocol_version(&self) -> Option<u32> {
        self.inner.protocol_version()
    }
    fn server_version(&self) -> Option<String> {
        self.inner.server_version()
    }
}

/// The native session. Python wraps it in `copilot.CopilotSession`.
#[pyclass(frozen)]
struct NativeSession {
    inner: Session,
    subs: Mutex<HashMap<u64, copilot_core::Subscription>>,
}

#[pymethods]
impl NativeSession {
    #[getter]
    fn session_id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The create/resume result as JSON text.
    fn info(&self) -> String {
        self.inner.info().to_string()
    }

    fn send<'py>(&self, py: Python<'py>, message_json: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.clone();
        spawn_py(
            py,
            async move {
                let m = MessageOptions::from_json(&parse_json("message options", &message_json)?)?;
                s.send(m).await.map(Out::Str)
            },
            None,
        )
    }

    /// Resolves to the last assistant.message event as JSON text, or None. Cancelling the
    /// awaiting task aborts the turn.
    fn send_and_wait<'py>(&self, py: Python<'py>, message_json: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.clone();
        let s2 = self.inner.clone();
        let on_cancel: Box<dyn FnOnce() + Send> = Box::new(move || {
            copilot_core::runtime().spawn(async move {
                if let Err(e) = s2.abort().await {
                    tracing::debug!("abort after cancellation failed: {e}");
                }
            });
        });
        spawn_py(
            py,
            async move {
                let m = MessageOptions::from_json(&parse_json("message options", &message_json)?)?;
                s.send_and_wait(m).await.map(|ev| Out::OptStr(ev.as_ref().map(event_json)))
            },
            Some(on_cancel),
        )
    }

    fn abort<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.clone();
        spawn_py(py, async move { s.abort().await.map(|_| Out::None) }, None)
    }

    fn get_messages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.clone();
        spawn_py(py, async move { s.get_messages().await.map(|v| Out::Str(json!(v).to_string())) }, None)
    }

    #[pyo3(signature = (model, reasoning_effort=None))]
    fn set_model<'py>(
        &self,
        py: Python<'py>,
        model: String,
        reasoning_effort: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.clone();
        spawn_py(
            py,
            async move { s.set_model(&model, reasoning_effort.as_deref()).await.map(|v| Out::Str(v.to_string())) },
            None,
        )
    }

    fn disconnect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.clone();
        spawn_py(py, async move { s.disconnect().await.map(|_| Out::Bool(true)) }, None)
    }

    fn rpc<'py>(&self, py: Python<'py>, method: String, params_json: String) -> PyResult<Bound<'py, PyAny>> {
        let s = self.inner.clone();
        spawn_py(
            py,
            async move {
                let params = parse_json("params", &params_json)?;
                s.rpc(&method, params).await.map(|v| Out::Str(v.to_string()))
            },
            None,
        )
    }

    /// Events from now on: `callback(json_text)` from a library thread, in wire order.
    /// Returns an id for `unsubscribe`.
    #[pyo3(signature = (callback, event_type=None))]
    fn subscribe(&self, callback: Py<PyAny>, event_type: Option<String>) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let f = move |e: &SessionEvent| {
            let text = event_json(e);
            Python::attach(|py| {
                if let Err(err) = callback.call1(py, (text,)) {
                    err.print(py);
                }
            });
        };
        let _guard = copilot_core::runtime().enter();
        let sub = match event_type {
            Some(t) => self.inner.on_type(t, f),
            None => self.inner.on(f),
        };
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.subs.lock().unwrap().insert(id, sub);
        id
    }

    fn unsubscribe(&self, id: u64) -> bool {
        match self.subs.lock().unwrap().remove(&id) {
            Some(s) => {
                s.unsubscribe();
                true
            }
            None => false,
        }
    }
}

/// Stable error codes of the core: `[(code, number), ...]`, for the Python error table test.
#[pyfunction]
fn error_codes() -> Vec<(String, u32)> {
    ErrorKind::ALL.iter().map(|k| (k.code().to_owned(), k.number())).collect()
}

/// The CLI version this build pins.
#[pyfunction]
fn pinned_cli_version() -> &'static str {
    copilot_core::PINNED_CLI_VERSION
}

/// Parses client options the way the client would, raising the typed error on bad input.
#[pyfunction]
fn check_client_options(py: Python<'_>, options_json: &str) -> PyResult<()> {
    parse_json("client options", options_json)
        .and_then(|v| ClientOptions::from_json(&v))
        .map(drop)
        .map_err(|e| py_error(py, &e))
}

#[pymodule]
fn _copilot(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeClient>()?;
    m.add_class::<NativeSession>()?;
    m.add_class::<Reply>()?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(pinned_cli_version, m)?)?;
    m.add_function(wrap_pyfunction!(check_client_options, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
