//! `copilot._copilot`: the private native module under the `copilot` Python package.
//!
//! This layer converts values and delivers them on the caller's asyncio loop; every decision
//! about payloads, replies, ordering and defaults is the core's (`copilot_core::host`).
//! - Values cross as Python objects (`convert`), never as JSON text.
//! - Client-level calls settle their futures in batches per event loop (`loops`).
//! - Each session drains its host stream and hands each batch to its loop (`session`).
//! - Every entry from a Rust thread into Python goes through one gate that closes at
//!   interpreter exit (`gate`). The GIL is never held while Rust waits.

mod convert;
mod gate;
mod loops;
mod session;

use copilot_core::{Client, ClientOptions, ErrorKind, HostOptions, SessionConfig, SessionListFilter};
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::{Value, json};
use session::NativeSession;

fn to_value<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// The native client. Python wraps it in `copilot.CopilotClient`.
#[pyclass(frozen)]
struct NativeClient {
    inner: Client,
}

#[pymethods]
impl NativeClient {
    /// `options`: a dict of client options (snake_case or camelCase keys).
    #[new]
    #[pyo3(signature = (options=None))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let v = options.map_or(Ok(Value::Null), |o| convert::config_value("client options", o));
        let opts = v.and_then(|v| ClientOptions::from_json(&v)).map_err(|e| convert::py_error(py, &e))?;
        Ok(NativeClient { inner: Client::new(opts) })
    }

    fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        loops::spawn(py, async move { c.start().await.map(|_| Value::Null) })
    }

    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        loops::spawn(py, async move { c.stop().await.map(|_| Value::Null) })
    }

    fn force_stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        loops::spawn(py, async move {
            c.force_stop().await;
            Ok(Value::Null)
        })
    }

    /// A client-level call by name (`ping`, `get_status`, `get_auth_status`, `list_models`,
    /// `list_sessions`, `delete_session`, `get_last_session_id`, `get_foreground_session_id`,
    /// `set_foreground_session_id`); resolves to the result as Python objects.
    #[pyo3(signature = (name, arg=None))]
    fn call<'py>(&self, py: Python<'py>, name: &str, arg: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.inner.clone();
        let text = || -> PyResult<Option<String>> { arg.map(|a| a.extract()).transpose() };
        match name {
            "ping" => {
                let m = text()?;
                loops::spawn(py, async move { c.ping(m.as_deref()).await.map(to_value) })
            }
            "get_status" => loops::spawn(py, async move { c.get_status().await.map(to_value) }),
            "get_auth_status" => loops::spawn(py, async move { c.get_auth_status().await.map(to_value) }),
            "list_models" => loops::spawn(py, async move { c.list_models().await.map(to_value) }),
            "list_sessions" => {
                let filter: Option<SessionListFilter> = match arg {
                    Some(f) if !f.is_none() => Some(
                        convert::config_value("session filter", f)
                            .and_then(|v| {
                                serde_json::from_value(v).map_err(|e| {
                                    copilot_core::Error::new(
                                        ErrorKind::InvalidConfig,
                                        format!("invalid session filter: {e}"),
                                    )
                                })
                            })
                            .map_err(|e| convert::py_error(py, &e))?,
                    ),
                    _ => None,
                };
                loops::spawn(py, async move { c.list_sessions(filter).await.map(to_value) })
            }
            "delete_session" => {
                let id = text()?.unwrap_or_default();
                loops::spawn(py, async move { c.delete_session(&id).await.map(|_| Value::Null) })
            }
            "get_last_session_id" => loops::spawn(py, async move { c.get_last_session_id().await.map(to_value) }),
            "get_foreground_session_id" => {
                loops::spawn(py, async move { c.get_foreground_session_id().await.map(to_value) })
            }
            "set_foreground_session_id" => {
                let id = text()?.unwrap_or_default();
                loops::spawn(py, async move { c.set_foreground_session_id(&id).await.map(|_| Value::Null) })
            }
            other => Err(convert::py_error(
                py,
                &copilot_core::Error::new(ErrorKind::Internal, format!("unknown native call {other}")),
            )),
        }
    }

    /// Any server method by name (the escape hatch). `timeout` in seconds replaces the
    /// client's `requestTimeout` for this call (infinity: no deadline; None: the default).
    #[pyo3(signature = (method, params=None, timeout=None))]
    fn rpc<'py>(
        &self,
        py: Python<'py>,
        method: String,
        params: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = convert::rpc_params(py, params, json!({}))?;
        let c = self.inner.clone();
        match convert::call_timeout(py, timeout)? {
            None => loops::spawn(py, async move { c.rpc(&method, params).await }),
            Some(t) => loops::spawn(py, async move { c.rpc_with_timeout(&method, params, t).await }),
        }
    }

    /// A session to open (`NativeSession.open`), on the running loop: `config` without host
    /// callables, the request kinds the host answers (`handlers`), the tools it runs, the hook
    /// types it registered (None: no hooks), and `sink(batch)` for the session's messages.
    #[pyo3(signature = (config, handlers, tools, hooks, sink))]
    fn session(
        &self,
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        handlers: Vec<String>,
        tools: Vec<String>,
        hooks: Option<Vec<String>>,
        sink: Py<PyAny>,
    ) -> PyResult<NativeSession> {
        let built = convert::config_value("session config", config).and_then(|v| {
            let cfg = SessionConfig::from_json(&v)?;
            let host = HostOptions::from_json(&json!({"handlers": handlers, "tools": tools, "hooks": hooks}))?;
            Ok((cfg, host))
        });
        let (cfg, host) = built.map_err(|e| convert::py_error(py, &e))?;
        NativeSession::prepare(py, self.inner.clone(), cfg, host, sink)
    }

    /// Lifecycle notifications from now on: `sink([event, ...])` on the running loop, a batch
    /// at a time, in order.
    fn subscribe_lifecycle(&self, py: Python<'_>, sink: Py<PyAny>) -> PyResult<()> {
        let call_soon = py.import("asyncio")?.call_method0("get_running_loop")?.getattr("call_soon_threadsafe")?;
        let call_soon = call_soon.unbind();
        let mut stream = self.inner.subscribe_lifecycle().map_err(|e| convert::py_error(py, &e))?;
        copilot_core::runtime().spawn(async move {
            while let Some(first) = stream.recv().await {
                let mut batch = vec![first];
                while let Some(ev) = stream.try_recv() {
                    batch.push(ev);
                }
                let delivered = gate::enter("lifecycle events", |py| -> PyResult<()> {
                    let list = PyList::empty(py);
                    for ev in &batch {
                        list.append(convert::to_py(py, &to_value(ev))?)?;
                    }
                    call_soon.call1(py, (&sink, list))?;
                    Ok(())
                });
                if let Some(Err(e)) = delivered {
                    tracing::debug!("lifecycle events dropped: {e}");
                }
            }
            // The client is gone: let go of the handlers now (not at pyo3's deferred cleanup).
            gate::enter("the end of lifecycle events", move |_py| drop((sink, call_soon)));
        });
        Ok(())
    }

    /// Synchronous force-stop for interpreter exit (`atexit`): kills a spawned CLI and closes
    /// the connection without an event loop. The GIL is released meanwhile.
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

/// The core's error codes: `[(code, number), ...]` (the generated `_error_codes.py` must agree).
#[pyfunction]
fn error_codes() -> Vec<(&'static str, u32)> {
    ErrorKind::ALL.iter().map(|k| (k.code(), k.number())).collect()
}

/// The hook type a hook name stands for, as the core normalises it
/// (`on_pre_tool_use` -> `preToolUse`).
#[pyfunction]
fn hook_type_name(name: &str) -> String {
    copilot_core::host::hook_type_name(name)
}

/// The CLI version this build pins.
#[pyfunction]
fn pinned_cli_version() -> &'static str {
    copilot_core::PINNED_CLI_VERSION
}

#[pymodule]
fn _copilot(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeClient>()?;
    m.add_class::<NativeSession>()?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(hook_type_name, m)?)?;
    m.add_function(wrap_pyfunction!(pinned_cli_version, m)?)?;
    m.add("EVENT", session::EVENT)?;
    m.add("REQUEST", session::REQUEST)?;
    m.add("DONE", session::DONE)?;
    m.add("END", session::END)?;
    m.add("CANCEL", session::CANCEL)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Registered first, so it runs last among the package's atexit hooks (after clients left
    // alive are force-stopped), and before the interpreter starts finalizing.
    let close = wrap_pyfunction!(gate::close, m)?;
    m.py().import("atexit")?.call_method1("register", (close,))?;
    Ok(())
}
