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
mod log;
mod loops;
mod session;

use copilot_core::reaper::SweepCallback;
use copilot_core::{
    CleanupOptions, Client, ClientOptions, Error, ErrorKind, Pool, PoolOptions, Reaper, SessionListFilter,
    SessionMetadata,
};
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::{Value, json};
use session::{NativeSession, Opener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// `list_sessions`, `get_session_metadata`, `delete_session`, `get_last_session_id`, `get_foreground_session_id`,
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
                let filter = session_filter(py, arg)?;
                loops::spawn(py, async move { c.list_sessions(filter).await.map(to_value) })
            }
            "get_session_metadata" => {
                let id = text()?.unwrap_or_default();
                loops::spawn(py, async move { c.get_session_metadata(&id).await.map(to_value) })
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
            None => loops::spawn(py, async move { c.call(&method, params).await }),
            Some(t) => loops::spawn(py, async move { c.call_with_timeout(&method, params, t).await }),
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
        session::build(py, Opener::Client(self.inner.clone()), config, handlers, tools, hooks, sink)
    }

    /// The client's counters: `{calls, errors: {code: n}, reconnects, connectionLosses,
    /// failoversIn, failoversOut, openSessions, turns: {count, sumSeconds, buckets}}`.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.inner.metrics())
    }

    /// The client's counters in the Prometheus text format.
    fn metrics_prometheus(&self) -> String {
        self.inner.metrics_prometheus()
    }

    /// Deletes stored sessions past `maxAge` / `maxIdle` (`options`: `{maxAge, maxIdle,
    /// includeOpen}`, seconds); resolves to the deleted sessions' metadata.
    fn cleanup_sessions<'py>(&self, py: Python<'py>, options: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let o = cleanup_options(py, options)?;
        let c = self.inner.clone();
        loops::spawn(py, async move { c.cleanup_sessions(o).await.map(to_value) })
    }

    /// Runs `cleanup_sessions(options)` every `interval` seconds until the reaper is stopped;
    /// sweeps are announced as lifecycle `reaper.swept` events.
    fn start_reaper(&self, py: Python<'_>, interval: f64, options: &Bound<'_, PyAny>) -> PyResult<NativeReaper> {
        let o = cleanup_options(py, options)?;
        let every = interval_of(py, interval)?;
        let _rt = copilot_core::runtime().enter();
        let r = self.inner.start_reaper(every, o).map_err(|e| convert::py_error(py, &e))?;
        Ok(NativeReaper(Mutex::new(Some(r))))
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

fn session_filter(py: Python<'_>, arg: Option<&Bound<'_, PyAny>>) -> PyResult<Option<SessionListFilter>> {
    match arg {
        Some(f) if !f.is_none() => convert::config_value("session filter", f)
            .and_then(|v| {
                serde_json::from_value(v)
                    .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("invalid session filter: {e}")))
            })
            .map(Some)
            .map_err(|e| convert::py_error(py, &e)),
        _ => Ok(None),
    }
}

fn cleanup_options(py: Python<'_>, options: &Bound<'_, PyAny>) -> PyResult<CleanupOptions> {
    convert::config_value("cleanup options", options)
        .and_then(|v| CleanupOptions::from_json(&v))
        .map_err(|e| convert::py_error(py, &e))
}

fn interval_of(py: Python<'_>, seconds: f64) -> PyResult<Duration> {
    if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 {
        return Ok(Duration::from_secs_f64(seconds));
    }
    Err(convert::py_error(
        py,
        &Error::new(
            ErrorKind::InvalidConfig,
            format!("the reaper's interval must be a positive number of seconds, got {seconds}"),
        ),
    ))
}

/// A background reaper; `stop()` ends it (so does dropping it).
#[pyclass(frozen)]
struct NativeReaper(Mutex<Option<Reaper>>);

#[pymethods]
impl NativeReaper {
    /// Stops sweeping (a sweep in progress is abandoned); idempotent.
    fn stop(&self) {
        if let Some(r) = self.0.lock().unwrap().take() {
            r.stop();
        }
    }

    #[getter]
    fn running(&self) -> bool {
        self.0.lock().unwrap().is_some()
    }
}

/// The native pool. Python wraps it in `copilot.CopilotPool`.
#[pyclass(frozen)]
struct NativePool {
    inner: Pool,
}

#[pymethods]
impl NativePool {
    /// `options`: a dict of pool options (`urls`, `lease`, `healthInterval`, and client options).
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyAny>) -> PyResult<Self> {
        let opts = convert::config_value("pool options", options)
            .and_then(|v| PoolOptions::from_json(&v))
            .map_err(|e| convert::py_error(py, &e))?;
        let _rt = copilot_core::runtime().enter();
        let inner = Pool::new(opts).map_err(|e| convert::py_error(py, &e))?;
        Ok(NativePool { inner })
    }

    fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let p = self.inner.clone();
        loops::spawn(py, async move { p.start().await.map(|_| Value::Null) })
    }

    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let p = self.inner.clone();
        loops::spawn(py, async move { p.stop().await.map(|_| Value::Null) })
    }

    #[pyo3(signature = (filter=None))]
    fn list_sessions<'py>(&self, py: Python<'py>, filter: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let filter = session_filter(py, filter)?;
        let p = self.inner.clone();
        loops::spawn(py, async move { p.list_sessions(filter).await.map(to_value) })
    }

    fn delete_session<'py>(&self, py: Python<'py>, session_id: String) -> PyResult<Bound<'py, PyAny>> {
        let p = self.inner.clone();
        loops::spawn(py, async move { p.delete_session(&session_id).await.map(|_| Value::Null) })
    }

    /// Stops placing sessions on `url`; its open sessions move at their next prompt.
    fn drain(&self, py: Python<'_>, url: &str) -> PyResult<()> {
        self.inner.drain(url).map_err(|e| convert::py_error(py, &e))
    }

    fn undrain(&self, py: Python<'_>, url: &str) -> PyResult<()> {
        self.inner.undrain(url).map_err(|e| convert::py_error(py, &e))
    }

    /// `[{url, healthy, draining, openSessions}]`, in the order given.
    fn servers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.inner.servers())
    }

    fn urls(&self) -> Vec<String> {
        self.inner.urls()
    }

    /// The servers ranked for a session (first = where it goes when all are healthy).
    fn ranking(&self, session_id: &str) -> Vec<String> {
        self.inner.ranking(session_id)
    }

    /// Where a new or resumed session would be placed now (None: no server is usable).
    fn server_for(&self, session_id: &str) -> Option<String> {
        self.inner.server_for(session_id)
    }

    /// The client of one server of the pool.
    fn client(&self, py: Python<'_>, url: &str) -> PyResult<NativeClient> {
        let c = self.inner.client(url).map_err(|e| convert::py_error(py, &e))?;
        Ok(NativeClient { inner: c })
    }

    /// A session to open on the pool (see `NativeClient.session`).
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
        session::build(py, Opener::Pool(self.inner.clone()), config, handlers, tools, hooks, sink)
    }

    /// Deletes stored sessions past `maxAge` / `maxIdle` across the pool; resolves to the
    /// deleted sessions' metadata.
    fn cleanup_sessions<'py>(&self, py: Python<'py>, options: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let o = cleanup_options(py, options)?;
        let p = self.inner.clone();
        loops::spawn(py, async move { p.cleanup_sessions(o).await.map(to_value) })
    }

    /// Runs `cleanup_sessions(options)` every `interval` seconds until the reaper is stopped.
    /// `on_sweep(deleted, error)` (optional) is called on the running loop after each sweep:
    /// the deleted sessions' metadata (a list), or None and the exception.
    #[pyo3(signature = (interval, options, on_sweep=None))]
    fn start_reaper(
        &self,
        py: Python<'_>,
        interval: f64,
        options: &Bound<'_, PyAny>,
        on_sweep: Option<Py<PyAny>>,
    ) -> PyResult<NativeReaper> {
        let o = cleanup_options(py, options)?;
        let every = interval_of(py, interval)?;
        let cb: Option<SweepCallback> = match on_sweep {
            None => None,
            Some(f) => {
                let call_soon =
                    py.import("asyncio")?.call_method0("get_running_loop")?.getattr("call_soon_threadsafe")?.unbind();
                Some(Arc::new(move |r: copilot_core::Result<&[SessionMetadata]>| {
                    let delivered = gate::enter("a reaper sweep", |py| -> PyResult<()> {
                        let (deleted, error) = match r {
                            Ok(d) => (convert::to_py(py, &to_value(d))?, py.None().into_bound(py)),
                            Err(e) => (
                                py.None().into_bound(py),
                                convert::py_error(py, &e).into_value(py).into_bound(py).into_any(),
                            ),
                        };
                        call_soon.call1(py, (&f, deleted, error))?;
                        Ok(())
                    });
                    if let Some(Err(e)) = delivered {
                        tracing::debug!("a reaper sweep's result was dropped: {e}");
                    }
                }))
            }
        };
        let _rt = copilot_core::runtime().enter();
        let r = self.inner.start_reaper(every, o, cb).map_err(|e| convert::py_error(py, &e))?;
        Ok(NativeReaper(Mutex::new(Some(r))))
    }

    /// Counters per server and for the pool (`{servers: [...], failovers, leasesAcquired,
    /// leasesLost, leaseWaits, reaped, placementErrors, openSessions, healthyServers}`).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.inner.metrics())
    }

    /// The pool's counters in the Prometheus text format.
    fn metrics_prometheus(&self) -> String {
        self.inner.metrics_prometheus()
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
    m.add_class::<NativePool>()?;
    m.add_class::<NativeReaper>()?;
    m.add_function(wrap_pyfunction!(log::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(hook_type_name, m)?)?;
    m.add_function(wrap_pyfunction!(pinned_cli_version, m)?)?;
    m.add("EVENT", session::EVENT)?;
    m.add("REQUEST", session::REQUEST)?;
    m.add("DONE", session::DONE)?;
    m.add("END", session::END)?;
    m.add("CANCEL", session::CANCEL)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    log::install(m.py())?;
    // Registered first, so it runs last among the package's atexit hooks (after clients left
    // alive are force-stopped), and before the interpreter starts finalizing.
    let close = wrap_pyfunction!(gate::close, m)?;
    m.py().import("atexit")?.call_method1("register", (close,))?;
    Ok(())
}
