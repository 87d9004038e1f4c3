//! The one door from a Rust thread into Python.
//!
//! A thread that takes the GIL while the interpreter finalizes is ended by CPython with
//! `pthread_exit`, which unwinds through our Rust frames and aborts the process. So every entry
//! from a runtime thread goes through [`enter`], and an `atexit` hook registered at import
//! ([`close`]; `atexit` runs before `Py_FinalizeEx` marks the interpreter as finalizing) closes
//! the gate and waits, with the GIL released, until the entries in flight have left. After
//! that no Rust thread attaches to the interpreter: deliveries are dropped (debug log).

use pyo3::prelude::*;
use std::sync::{Condvar, Mutex, MutexGuard};

struct State {
    /// The process the counters belong to: a forked child starts with an open, empty gate.
    pid: u32,
    closed: bool,
    inside: usize,
}

static STATE: Mutex<State> = Mutex::new(State { pid: 0, closed: false, inside: 0 });
static LEFT: Condvar = Condvar::new();

fn lock() -> MutexGuard<'static, State> {
    let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if s.pid != pid {
        *s = State { pid, closed: false, inside: 0 };
    }
    s
}

struct Inside;

impl Drop for Inside {
    fn drop(&mut self) {
        let mut s = lock();
        s.inside -= 1;
        if s.inside == 0 && s.closed {
            LEFT.notify_all();
        }
    }
}

/// Runs `f` attached to the interpreter, from a thread Python did not create. None when the
/// interpreter is exiting (the gate is closed) or cannot be attached to (pyo3's own check of
/// the interpreter state); `what` names the dropped delivery in the debug log.
pub fn enter<R>(what: &str, f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    {
        let mut s = lock();
        if s.closed {
            tracing::debug!("the interpreter is exiting: {what} dropped");
            return None;
        }
        s.inside += 1;
    }
    let _inside = Inside;
    let r = Python::try_attach(f);
    if r.is_none() {
        tracing::debug!("the interpreter cannot be attached to: {what} dropped");
    }
    r
}

/// The `atexit` hook: closes the gate and waits (GIL released) for the entries in flight.
#[pyfunction]
pub fn close(py: Python<'_>) {
    py.detach(|| {
        let mut s = lock();
        s.closed = true;
        while s.inside > 0 {
            s = LEFT.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    });
}
