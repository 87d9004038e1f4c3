//! The shell every export shares, written once: the panic boundary, the pointer and string
//! checks, and the start of an asynchronous call.
//!
//! Each export keeps its `pub extern "C" fn` signature and doc comment in `lib.rs` (cbindgen
//! reads those); only its BODY goes through these macros:
//! - [`ffi_boundary!`] runs the body (a block evaluating to `Result<_, Failure>`) inside
//!   `catch_unwind`: a panic never unwinds into the caller; a failure is recorded as the
//!   thread's last error and becomes what the function returns on failure ([`Exported`]:
//!   its status, NULL, or nothing);
//! - `try_ref!`, `try_str!`, `try_opt_str!`, `try_json!`, `try_out!` check one argument and
//!   leave the body with the matching failure (`COPILOT_ERR_NULL_POINTER`,
//!   `COPILOT_ERR_INVALID_UTF8`, `COPILOT_ERR_INVALID_ARGUMENT`), naming the parameter;
//! - [`client_call!`] / [`session_call!`] are the body of an asynchronous export: check the
//!   handle, prepare the call synchronously (argument errors are returned at once), then
//!   register it and launch what the prepared body evaluates to ([`Launch`]).

use crate::rt::{self, Cancel, Completion, Failure, Gates, UserData};
use crate::{COPILOT_ERR_PANIC, COPILOT_OK, CopilotCallback, CopilotStatus};
use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What an export returns, on success and on failure.
pub(crate) trait Exported {
    /// What the body yields on success.
    type Ok;
    fn ok(value: Self::Ok) -> Self;
    fn failed(status: CopilotStatus) -> Self;
}

impl Exported for CopilotStatus {
    type Ok = ();
    fn ok((): ()) -> Self {
        COPILOT_OK
    }
    fn failed(status: CopilotStatus) -> Self {
        status
    }
}

impl<T> Exported for *mut T {
    type Ok = *mut T;
    fn ok(value: *mut T) -> Self {
        value
    }
    fn failed(_: CopilotStatus) -> Self {
        std::ptr::null_mut()
    }
}

impl<T> Exported for *const T {
    type Ok = *const T;
    fn ok(value: *const T) -> Self {
        value
    }
    fn failed(_: CopilotStatus) -> Self {
        std::ptr::null()
    }
}

/// Functions returning a number (0 on failure).
impl Exported for u64 {
    type Ok = u64;
    fn ok(value: u64) -> Self {
        value
    }
    fn failed(_: CopilotStatus) -> Self {
        0
    }
}

/// Functions without a result (`_free`): a failure is only recorded.
impl Exported for () {
    type Ok = ();
    fn ok((): ()) -> Self {}
    fn failed(_: CopilotStatus) -> Self {}
}

/// See [`ffi_boundary!`].
pub(crate) fn boundary<R: Exported>(body: impl FnOnce() -> Result<R::Ok, Failure>) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => R::ok(value),
        Ok(Err(failure)) => {
            let status = failure.status;
            rt::set_last_error(failure);
            R::failed(status)
        }
        Err(panic) => {
            rt::set_last_error(Failure::panic(panic));
            R::failed(COPILOT_ERR_PANIC)
        }
    }
}

/// The body of an export, inside the panic boundary. The statements may leave with `?` (or the
/// `try_*!` macros); the last expression is the `Result`.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        $crate::boundary::boundary(|| { $($body)* })
    };
}

/// `&*ptr` of a handle argument, or leave with `COPILOT_ERR_NULL_POINTER`.
macro_rules! try_ref {
    ($p:ident) => {
        unsafe { $p.as_ref() }.ok_or_else(|| $crate::rt::Failure::null(stringify!($p)))?
    };
}

/// A required string argument (NUL-terminated UTF-8), borrowed for the call.
macro_rules! try_str {
    ($p:ident) => {
        unsafe { $crate::rt::arg_str($p, stringify!($p)) }?
    };
}

/// An optional string argument (NULL = None).
macro_rules! try_opt_str {
    ($p:ident) => {
        unsafe { $crate::rt::opt_str($p, stringify!($p)) }?
    };
}

/// An optional JSON argument (NULL = `null`).
macro_rules! try_json {
    ($p:ident) => {
        unsafe { $crate::rt::opt_json($p, stringify!($p)) }?
    };
}

/// A required out-pointer: reset to `$none` at once (so a failure leaves it there).
macro_rules! try_out {
    ($p:ident, $none:expr) => {
        if $p.is_null() {
            return Err($crate::rt::Failure::null(stringify!($p)));
        } else {
            unsafe { *$p = $none };
        }
    };
}

/// The body of an asynchronous client or pool export (any handle whose `inner` has `core` and
/// `gates()`): `$body` sees the core client (or pool) as `$core`, checks
/// and converts the arguments, and evaluates to what runs (a future of the result JSON).
macro_rules! client_call {
    ($client:ident, $callback:ident, $user_data:ident, $call_out:ident, |$core:ident| $body:expr) => {
        ffi_boundary! {
            unsafe { $crate::boundary::reset_call_out($call_out) };
            let handle = try_ref!($client);
            let $core = handle.inner.core.clone();
            let launch = $body;
            unsafe { $crate::boundary::start(handle.inner.gates(), $callback, $user_data, $call_out, launch) }
        }
    };
}

/// The body of an asynchronous session export: as [`client_call!`], with the open core
/// session as `$core` and the handle's state as `$state`.
macro_rules! session_call {
    ($session:ident, $callback:ident, $user_data:ident, $call_out:ident, |$core:ident, $state:pat_param| $body:expr) => {
        ffi_boundary! {
            unsafe { $crate::boundary::reset_call_out($call_out) };
            let handle = try_ref!($session);
            let $core = handle.inner.core()?;
            let $state = &handle.inner;
            let launch = $body;
            unsafe { $crate::boundary::start(handle.inner.gates(), $callback, $user_data, $call_out, launch) }
        }
    };
}

/// How a prepared call runs once registered: given its id and its cancel signal, it must
/// deliver its result with [`rt::finish`] (directly or through the session's host stream).
pub(crate) trait Launch {
    fn launch(self, id: u64, cancel: Cancel);
}

/// A plain future: a task of its own on the core's runtime.
impl<F> Launch for F
where
    F: Future<Output = Result<String, Failure>> + Send + 'static,
{
    fn launch(self, id: u64, cancel: Cancel) {
        rt::run_task(id, cancel, self)
    }
}

/// Zeroes `*call_out` (if given) before the call is checked, so a refused call leaves 0.
///
/// # Safety
/// `call_out` is NULL or valid for a write.
pub(crate) unsafe fn reset_call_out(call_out: *mut u64) {
    if !call_out.is_null() {
        unsafe { *call_out = 0 };
    }
}

/// Registers an asynchronous call, writes its id to `*call_out` (before anything can complete
/// it), then launches it.
///
/// # Safety
/// `call_out` is NULL or valid for a write.
pub(crate) unsafe fn start(
    owners: Gates,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
    launch: impl Launch,
) -> Result<(), Failure> {
    let (id, cancel) = rt::register_call(owners, Completion { cb: callback, ud: UserData(user_data) })?;
    if !call_out.is_null() {
        unsafe { *call_out = id };
    }
    launch.launch(id, cancel);
    Ok(())
}
