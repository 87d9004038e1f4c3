//! Client-level calls resolve their asyncio futures in batches: one queue per event loop
//! collects the finished calls, and the loop is woken (one `call_soon_threadsafe`) only when
//! that queue goes from empty to non-empty; the wake-up resolves everything queued by then.

use crate::{convert, gate};
use copilot_core::Result;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, Mutex};

struct Done {
    future: Py<PyAny>,
    result: Result<Value>,
}

#[derive(Default)]
struct Pending {
    done: Vec<Done>,
    /// A wake-up is on its way to the loop.
    woken: bool,
}

/// The finished calls of one event loop, waiting for the loop to pick them up.
pub struct LoopQueue {
    /// `weakref.ref(loop)`: the queue (kept in a WeakKeyDictionary keyed by the loop) must not
    /// keep its loop alive.
    weak_loop: Py<PyAny>,
    pending: Mutex<Pending>,
}

/// The `LoopQueue` of a loop, as a Python object (the value of the per-loop registry).
#[pyclass(frozen)]
pub struct LoopHandle(Arc<LoopQueue>);

/// A wake-up: resolves the futures queued so far, on the loop.
#[pyclass(frozen)]
struct Wake(Arc<LoopQueue>);

#[pymethods]
impl Wake {
    fn __call__(&self, py: Python<'_>) {
        let done = {
            let mut p = self.0.pending.lock().unwrap();
            p.woken = false;
            std::mem::take(&mut p.done)
        };
        for d in done {
            let fut = d.future.bind(py);
            if let Err(e) = settle(py, fut, d.result) {
                e.print(py);
            }
        }
    }
}

/// Completes `fut` with a call's result unless it is already done (cancelled by its caller).
pub fn settle(py: Python<'_>, fut: &Bound<'_, PyAny>, result: Result<Value>) -> PyResult<()> {
    if fut.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    let value = result.map_err(|e| convert::py_error(py, &e)).and_then(|v| convert::to_py(py, &v));
    match value {
        Ok(v) => fut.call_method1(intern!(py, "set_result"), (v,))?,
        Err(e) => fut.call_method1(intern!(py, "set_exception"), (e.into_value(py),))?,
    };
    Ok(())
}

impl LoopQueue {
    fn push(self: &Arc<Self>, future: Py<PyAny>, result: Result<Value>) {
        let wake = {
            let mut p = self.pending.lock().unwrap();
            p.done.push(Done { future, result });
            !std::mem::replace(&mut p.woken, true)
        };
        if !wake {
            return;
        }
        let woken = gate::enter("call results", |py| -> PyResult<bool> {
            let lp = self.weak_loop.bind(py).call0()?;
            if lp.is_none() {
                return Ok(false);
            }
            lp.call_method1(intern!(py, "call_soon_threadsafe"), (Wake(self.clone()),))?;
            Ok(true)
        });
        if !matches!(woken, Some(Ok(true))) {
            // The loop is gone or closed, or the interpreter exits: nobody awaits these.
            let dropped = {
                let mut p = self.pending.lock().unwrap();
                p.woken = false;
                std::mem::take(&mut p.done)
            };
            tracing::debug!("{} call results dropped: their event loop is gone", dropped.len());
        }
    }
}

/// The running loop and its queue (created on first use).
fn running(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Arc<LoopQueue>)> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static REGISTRY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let lp = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let registry = REGISTRY
        .get_or_try_init(py, || py.import("weakref")?.getattr("WeakKeyDictionary")?.call0().map(Bound::unbind))?
        .bind(py);
    let found = registry.call_method1(intern!(py, "get"), (&lp,))?;
    if let Ok(h) = found.cast::<LoopHandle>() {
        return Ok((lp, h.get().0.clone()));
    }
    let weak_loop = py.import("weakref")?.getattr("ref")?.call1((&lp,))?.unbind();
    let q = Arc::new(LoopQueue { weak_loop, pending: Mutex::default() });
    registry.set_item(&lp, LoopHandle(q.clone()))?;
    Ok((lp, q))
}

/// Runs `fut` on the core runtime; returns an asyncio future of the running loop that its
/// result settles. A cancelled future does not stop the call; its result is dropped.
pub fn spawn<'py>(
    py: Python<'py>,
    fut: impl Future<Output = Result<Value>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>> {
    let (lp, queue) = running(py)?;
    let py_fut = lp.call_method0(intern!(py, "create_future"))?;
    let handle = py_fut.clone().unbind();
    copilot_core::runtime().spawn(async move {
        let result = fut.await;
        queue.push(handle, result);
    });
    Ok(py_fut)
}
