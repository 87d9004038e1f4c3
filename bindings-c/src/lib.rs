//! # libcopilot: the C ABI of the Copilot CLI server-mode SDK
//!
//! Opaque handles, UTF-8 JSON in and out, one completion callback per asynchronous call, event
//! callbacks and a request callback per session, every callback on one library-owned
//! dispatcher thread. The core decides everything between the protocol and the host (payloads,
//! reply forms, defaults, ordering: `copilot_core::host`); this crate converts values and
//! delivers them. The conventions are written in `bindings-c/README.md`; the header
//! `include/copilot.h` is generated from this file by cbindgen.

#![allow(clippy::missing_safety_doc)]

#[macro_use]
mod boundary;
mod error_codes;
mod log;
mod rt;
mod state;

pub use error_codes::*;
pub use log::*;

use copilot_core::{
    CleanupOptions, Client, ClientOptions, Error as CoreError, ErrorKind, MessageOptions, Pool, PoolOptions,
    SessionListFilter,
};
use rt::{Failure, Gate, UserData, into_raw_string};
use serde_json::{Value, json};
use state::{Callbacks, ClientState, PoolState, ReaperState, SessionState};
use std::ffi::{c_char, c_void};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// A result code: 0 is success, 1–99 are the core's error kinds, 100–199 errors of the ABI
/// itself. Numbers never change and are never reused.
pub type CopilotStatus = i32;

/// Success.
pub const COPILOT_OK: CopilotStatus = 0;
/// A required pointer argument was NULL.
pub const COPILOT_ERR_NULL_POINTER: CopilotStatus = 100;
/// A string argument was not valid UTF-8.
pub const COPILOT_ERR_INVALID_UTF8: CopilotStatus = 101;
/// An argument was not valid JSON, or not an accepted value.
pub const COPILOT_ERR_INVALID_ARGUMENT: CopilotStatus = 102;
/// The library panicked; the panic was caught at the boundary.
pub const COPILOT_ERR_PANIC: CopilotStatus = 103;
/// No pending call or handler request, or no active subscription, has this id.
pub const COPILOT_ERR_UNKNOWN_ID: CopilotStatus = 104;
/// The function may not be called from a callback (the dispatcher thread).
pub const COPILOT_ERR_IN_CALLBACK: CopilotStatus = 105;

/// Raised by each additive ABI change (README, section 1.10).
pub const COPILOT_ABI_VERSION: u32 = 7;

/// A connection to one Copilot CLI (opaque). Created by `copilot_client_new`, freed by
/// `copilot_client_free`.
pub struct CopilotClient {
    inner: Arc<ClientState>,
}

/// A session (opaque). Created by `copilot_client_create_session`,
/// `copilot_client_resume_session`, `copilot_pool_create_session` or
/// `copilot_pool_resume_session`, freed by `copilot_session_free`. Every session function works
/// on a pooled session too.
pub struct CopilotSession {
    inner: Arc<SessionState>,
}

/// Several running CLI servers used as one (opaque; ABI 5). Created by `copilot_pool_new`,
/// freed by `copilot_pool_free`.
pub struct CopilotPool {
    inner: Arc<PoolState>,
}

/// A background reaper of old sessions (opaque; ABI 5). Created by
/// `copilot_client_start_reaper` or `copilot_pool_start_reaper`, freed by
/// `copilot_reaper_free`.
pub struct CopilotReaper {
    inner: Arc<ReaperState>,
}

/// Completion of an asynchronous call: called exactly once, on the dispatcher thread, with the
/// `user_data` given to the call, a status and a JSON text (the result, or the error JSON).
/// `json` is valid only during the call.
pub type CopilotCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, status: CopilotStatus, json: *const c_char)>;

/// A session event or a client lifecycle event (JSON, valid only during the call), on the
/// dispatcher thread, in wire order.
pub type CopilotEventCallback = Option<unsafe extern "C" fn(user_data: *mut c_void, event_json: *const c_char)>;

/// A host request (`kind`: "tool", "permission", "userInput", "hook",
/// "systemMessageTransform", "exitPlanMode", "providerToken", "autoModeSwitch", and since ABI 7
/// "elicitation", "command", "mcpAuth", "sessionFs", "gitHubToken") with the
/// payload the core built for that kind (README 1.8), on the dispatcher thread, in wire order
/// with the session's events. `copilot_request_name` gives the tool name, the hook type as
/// registered, the command name (`command`) or the filesystem operation (`sessionFs`). Answer
/// it once with `copilot_request_reply` or `copilot_request_fail`, now or later, from any
/// thread. `kind` and `payload_json` are valid only during the call.
///
/// Cancellation (ABI 4): when the answer to a request that is still pending is no longer
/// wanted (the turn was aborted or timed out with `abortOnTimeout`, the session disconnected,
/// the client stopped, the connection to the CLI lost), the same callback is called again, on
/// the dispatcher thread and after the request's own call, with the SAME `request_id`, `kind`
/// "cancel" and `payload_json` `{"reason": "<why>"}`. Stop the handler's work then. The core
/// has already answered the CLI: the request is no longer pending, and a later
/// `copilot_request_reply` / `copilot_request_fail` / `copilot_request_name` on it returns
/// `COPILOT_ERR_UNKNOWN_ID` (harmless). A request answered before it was withdrawn gets no
/// "cancel" call; freeing the session or client withdraws pending requests without one.
pub type CopilotRequestCallback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, request_id: u64, kind: *const c_char, payload_json: *const c_char),
>;

/// A log record of the library (ABI 5): its level (`COPILOT_LOG_ERROR` .. `COPILOT_LOG_TRACE`),
/// its target (the module that wrote it, e.g. `"copilot_core::pool"`) and its message (the
/// record's fields follow as ` key=value`), on the dispatcher thread, in the order written.
/// `target` and `message` are valid only during the call.
pub type CopilotLogCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: i32, target: *const c_char, message: *const c_char)>;

// ---------------------------------------------------------------------------------------------
// Library

/// The library version (static string: do not free).
#[unsafe(no_mangle)]
pub extern "C" fn copilot_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version (`COPILOT_ABI_VERSION`), raised by each additive change.
#[unsafe(no_mangle)]
pub extern "C" fn copilot_abi_version() -> u32 {
    COPILOT_ABI_VERSION
}

/// The ABI's own result codes (100–199) as `(number, code, description)`. The core's kinds
/// (1–99) come from `ErrorKind::ALL`; `cargo run -p xtask -- codegen` writes both into the error
/// table of every language.
pub fn abi_errors() -> &'static [(CopilotStatus, &'static str, &'static str)] {
    &[
        (COPILOT_ERR_NULL_POINTER, "null_pointer", "A required pointer argument was NULL."),
        (COPILOT_ERR_INVALID_UTF8, "invalid_utf8", "A string argument was not valid UTF-8."),
        (COPILOT_ERR_INVALID_ARGUMENT, "invalid_argument", "An argument was not valid JSON, or not an accepted value."),
        (COPILOT_ERR_PANIC, "panic", "The library panicked; the panic was caught at the boundary."),
        (
            COPILOT_ERR_UNKNOWN_ID,
            "unknown_id",
            "No pending call or handler request, or no active subscription, has this id.",
        ),
        (
            COPILOT_ERR_IN_CALLBACK,
            "in_callback",
            "The function may not be called from a callback (the dispatcher thread).",
        ),
    ]
}

pub(crate) fn error_name(status: CopilotStatus) -> &'static str {
    match status {
        COPILOT_OK => "ok",
        n if n >= 100 => abi_errors().iter().find(|e| e.0 == n).map_or("unknown", |e| e.1),
        n if n > 0 => ErrorKind::from_number(n as u32).map_or("unknown", ErrorKind::code),
        _ => "unknown",
    }
}

/// The stable name of a status (`"ok"`, `"timeout"`, `"null_pointer"`, …; `"unknown"` for a
/// number without a name). Static string: do not free.
#[unsafe(no_mangle)]
pub extern "C" fn copilot_error_name(status: CopilotStatus) -> *const c_char {
    static NAMES: Mutex<Vec<(CopilotStatus, std::ffi::CString)>> = Mutex::new(Vec::new());
    ffi_boundary! {
        let mut names = rt::lock(&NAMES);
        if let Some((_, c)) = names.iter().find(|(s, _)| *s == status) {
            return Ok(c.as_ptr());
        }
        names.push((status, rt::c_string(error_name(status).to_owned())));
        Ok(names.last().unwrap().1.as_ptr())
    }
}

/// The message of the last error of a synchronous call on this thread, or NULL. Owned: free
/// with `copilot_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn copilot_last_error_message() -> *mut c_char {
    ffi_boundary! { Ok(rt::last_error().map_or(std::ptr::null_mut(), |f| into_raw_string(f.message))) }
}

/// The last error of a synchronous call on this thread as the error JSON
/// (`{"status","code","message","rpc"?,"stderr"?,"transportFailure"}`), or NULL. Owned: free
/// with `copilot_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn copilot_last_error_json() -> *mut c_char {
    ffi_boundary! { Ok(rt::last_error().map_or(std::ptr::null_mut(), |f| into_raw_string(f.to_json()))) }
}

/// Frees a string returned by the library. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_string_free(s: *mut c_char) {
    ffi_boundary! {
        if !s.is_null() {
            drop(unsafe { std::ffi::CString::from_raw(s) });
        }
        Ok(())
    }
}

/// Cancels an in-flight call: its callback runs with `COPILOT_ERR_CANCELLED`. Returns
/// `COPILOT_ERR_UNKNOWN_ID` when the call already completed.
#[unsafe(no_mangle)]
pub extern "C" fn copilot_cancel(call_id: u64) -> CopilotStatus {
    ffi_boundary! { rt::cancel(call_id) }
}

/// Runs the callbacks already queued, then ends and joins the dispatcher thread. Call it after
/// freeing every client (a .NET host on Mono must, before exit). Refused inside a callback
/// (`COPILOT_ERR_IN_CALLBACK`). A later use of the library starts a new dispatcher thread.
#[unsafe(no_mangle)]
pub extern "C" fn copilot_shutdown() -> CopilotStatus {
    ffi_boundary! { rt::shutdown() }
}

/// Forwards the library's log records of `level` and above (`COPILOT_LOG_ERROR` = 1 ..
/// `COPILOT_LOG_TRACE` = 5) to `callback` (see `CopilotLogCallback`), from now on; a NULL
/// callback or `COPILOT_LOG_OFF` (0) stops forwarding. Replaces the previous callback: once
/// this returns (outside a callback), the previous one is not called again. The library installs
/// its own process-wide `tracing` subscriber the first time: `COPILOT_ERR_INVALID_ARGUMENT`
/// when the process already has one (a Rust host's), and for a level outside 0..5.
/// `copilot_shutdown` ends the forwarding (call this again afterwards to resume). (ABI 5)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_set_log_callback(
    level: i32,
    callback: CopilotLogCallback,
    user_data: *mut c_void,
) -> CopilotStatus {
    ffi_boundary! { log::set(level, callback, UserData(user_data)) }
}

/// Answers a host request with the JSON the handler returned, in any form its kind accepts
/// (the core reads it; README 1.8). `COPILOT_ERR_UNKNOWN_ID` when the request is not pending.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_request_reply(request_id: u64, result_json: *const c_char) -> CopilotStatus {
    ffi_boundary! {
        let v = rt::parse_json(try_str!(result_json), "result_json")?;
        rt::answer(request_id, Ok(v))
    }
}

/// Answers a host request as failed: the handler threw (`message` may be NULL). The core's
/// failure rule of the kind applies (README 1.8).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_request_fail(request_id: u64, message: *const c_char) -> CopilotStatus {
    ffi_boundary! {
        let message = try_opt_str!(message).unwrap_or("the host handler failed");
        rt::answer(request_id, Err(message.to_owned()))
    }
}

/// The name of a pending host request, for picking the host's function by exact key: the tool
/// name (`"tool"`), or the hook type spelled as the config's `"hooks"` registered it
/// (`"on_pre_tool_use"`, `"PreToolUse"`, …; the CLI's spelling when `"hooks"` is absent).
/// Writes an owned string (free with `copilot_string_free`) to `*name_out`, or NULL for the
/// other kinds. `COPILOT_ERR_UNKNOWN_ID` when the request is not pending (read it before
/// answering).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_request_name(request_id: u64, name_out: *mut *mut c_char) -> CopilotStatus {
    ffi_boundary! {
        try_out!(name_out, std::ptr::null_mut());
        if let Some(name) = rt::request_name(request_id)? {
            unsafe { *name_out = into_raw_string(name) };
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for the asynchronous exports

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Failure> {
    serde_json::to_string(v).map_err(|e| Failure::kind(ErrorKind::Internal, format!("cannot serialize a result: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Client

/// Creates a client from options JSON (NULL = spawn the CLI over stdio). Keys as the core's
/// `ClientOptions::from_json`: `cliUrl`, `useStdio`, `port`, `cliPath`, `cliArgs`, `env`, `cwd`,
/// `logLevel`, `githubToken`, `useLoggedInUser`, `sessionIdleTimeoutSeconds`,
/// `connectionToken`, `copilotHome`, `maxMessageSize`, `startTimeout`, `stopGrace`,
/// `autoStart`, `tcpQuickack`, and (README 5) `reconnect` (false, or `{"enabled",
/// "maxAttempts", "initialDelay", "maxDelay", "callWait", "maxRestarts", "restartWindow"}`),
/// `requestTimeout` (default 30; 0 = none), `heartbeatInterval` (15; 0 = off),
/// `heartbeatTimeout` (10), `tcpKeepalive` (10; 0 = off), `tcpUserTimeout` (20; 0 = off), the
/// durations in seconds. Nothing starts until `copilot_client_start` or, unless `autoStart`
/// is false, the first call that needs the connection. `on_lifecycle` (may be NULL) receives
/// every `session.lifecycle` notification (`{"type","sessionId","metadata"?}`) and every
/// connection notification (`connection.lost`, `connection.reconnecting`, `connection.restored`,
/// `connection.gave_up`: `sessionId` "", details in `metadata`) from now on, as a
/// lifecycle subscription that lasts as long as the client (`copilot_client_subscribe_lifecycle`
/// adds more, with type filters). Writes the handle to `*client_out` (NULL on failure).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_new(
    options_json: *const c_char,
    on_lifecycle: CopilotEventCallback,
    user_data: *mut c_void,
    client_out: *mut *mut CopilotClient,
) -> CopilotStatus {
    ffi_boundary! {
        try_out!(client_out, std::ptr::null_mut());
        let options = ClientOptions::from_json(&try_json!(options_json))?;
        let inner = ClientState::new(Client::new(options), on_lifecycle, UserData(user_data))?;
        unsafe { *client_out = Box::into_raw(Box::new(CopilotClient { inner })) };
        Ok(())
    }
}

/// Frees a client (NULL is allowed). Pending calls of the client and its sessions complete
/// with `COPILOT_ERR_CANCELLED` before this returns; afterwards no callback of the client or its
/// sessions fires. A started client is force-stopped (use `copilot_client_stop` first for a
/// graceful stop). Session handles stay valid (inert) until freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_free(client: *mut CopilotClient) {
    ffi_boundary! {
        if !client.is_null() {
            unsafe { Box::from_raw(client) }.inner.close();
        }
        Ok(())
    }
}

/// `{"running","port","cliPid","protocolVersion","serverVersion"}` (owned JSON; NULL on a
/// NULL client).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_info(client: *const CopilotClient) -> *mut c_char {
    ffi_boundary! {
        let core = &try_ref!(client).inner.core;
        let info = json!({
            "running": core.protocol_version().is_some(),
            "port": core.port(),
            "cliPid": core.cli_pid(),
            "protocolVersion": core.protocol_version(),
            "serverVersion": core.server_version(),
        });
        Ok(into_raw_string(info.to_string()))
    }
}

/// Starts the client: spawns or connects to the CLI and performs the handshake. Result `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_start(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        async move {
            core.start().await?;
            Ok("null".to_owned())
        }
    })
}

/// Stops gracefully: detaches the client's sessions, shuts down a CLI it spawned. Result `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_stop(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        async move {
            core.stop().await?;
            Ok("null".to_owned())
        }
    })
}

/// Stops at once: no RPCs, the connection is dropped and a spawned CLI killed. Result `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_force_stop(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        async move {
            core.force_stop().await;
            Ok("null".to_owned())
        }
    })
}

/// `ping` with an optional message (NULL = none). Result `{"message","timestamp","protocolVersion"}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_ping(
    client: *const CopilotClient,
    message: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let message = try_opt_str!(message).map(str::to_owned);
        async move { to_json(&core.ping(message.as_deref()).await?) }
    })
}

/// `status.get`. Result `{"version","protocolVersion",…}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_get_status(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| async move { to_json(&core.get_status().await?) })
}

/// `auth.getStatus`. Result `{"isAuthenticated","authType"?,"login"?,…}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_get_auth_status(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        async move { to_json(&core.get_auth_status().await?) }
    })
}

/// `models.list`. Result: an array of model objects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_list_models(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| async move { to_json(&core.list_models().await?) })
}

/// The core reads the filter (`SessionListFilter`: camelCase or snake_case keys, unknown keys
/// refused).
fn list_filter(v: Value) -> Result<Option<SessionListFilter>, Failure> {
    if v.is_null() {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| Failure::kind(ErrorKind::InvalidConfig, format!("invalid session list filter: {e}")))
}

/// `session.list` with an optional filter JSON (`cwd`, `gitRoot`, `repository`, `branch`; NULL
/// = all). Result: `[{"sessionId","startTime","modifiedTime","createdAt","summary"?,…}]`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_list_sessions(
    client: *const CopilotClient,
    filter_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let filter = list_filter(try_json!(filter_json))?;
        async move { to_json(&core.list_sessions(filter).await?) }
    })
}

/// `sessions.getMetadata`: one stored session's metadata (the shape of a `list_sessions` entry),
/// or `null` when there is no such session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_get_session_metadata(
    client: *const CopilotClient,
    session_id: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let id = try_str!(session_id).to_owned();
        async move { to_json(&core.get_session_metadata(&id).await?) }
    })
}

/// `session.delete`: removes a session from disk. Result `null`; `COPILOT_ERR_SESSION_NOT_FOUND`
/// when it does not exist.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_delete_session(
    client: *const CopilotClient,
    session_id: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let id = try_str!(session_id).to_owned();
        async move {
            core.delete_session(&id).await?;
            Ok("null".to_owned())
        }
    })
}

/// `session.getLastId`. Result: the id as a JSON string, or `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_get_last_session_id(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        async move { to_json(&core.get_last_session_id().await?) }
    })
}

/// `session.getForeground` (TUI+server mode). Result: the id as a JSON string, or `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_get_foreground_session_id(
    client: *const CopilotClient,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        async move { to_json(&core.get_foreground_session_id().await?) }
    })
}

/// `session.setForeground` (TUI+server mode; an error otherwise). Result `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_set_foreground_session_id(
    client: *const CopilotClient,
    session_id: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let id = try_str!(session_id).to_owned();
        async move {
            core.set_foreground_session_id(&id).await?;
            Ok("null".to_owned())
        }
    })
}

/// Any server method by name, with params JSON (NULL = `{}`), under the client's
/// `requestTimeout`. Result: the method's result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_rpc(
    client: *const CopilotClient,
    method: *const c_char,
    params_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let method = try_str!(method).to_owned();
        let params = client_params(try_json!(params_json));
        async move { to_json(&core.call(&method, params).await?) }
    })
}

/// `copilot_client_rpc` with a deadline of its own instead of the client's `requestTimeout`:
/// `timeout_seconds` > 0 is the deadline (`COPILOT_ERR_TIMEOUT` after it), 0 waits as long as
/// the connection lives; negative, NaN or infinite is `COPILOT_ERR_INVALID_ARGUMENT`. (ABI 4)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_rpc_with_timeout(
    client: *const CopilotClient,
    method: *const c_char,
    params_json: *const c_char,
    timeout_seconds: f64,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let method = try_str!(method).to_owned();
        let params = client_params(try_json!(params_json));
        let timeout = deadline(timeout_seconds)?;
        async move { to_json(&core.call_with_timeout(&method, params, timeout).await?) }
    })
}

fn client_params(v: Value) -> Value {
    if v.is_null() { json!({}) } else { v }
}

/// `timeout_seconds` of the `_with_timeout` calls: > 0 a deadline, 0 none.
fn deadline(timeout_seconds: f64) -> Result<Option<std::time::Duration>, Failure> {
    if timeout_seconds == 0.0 {
        return Ok(None);
    }
    match std::time::Duration::try_from_secs_f64(timeout_seconds) {
        Ok(d) if timeout_seconds.is_finite() => Ok(Some(d)),
        _ => Err(Failure::abi(
            COPILOT_ERR_INVALID_ARGUMENT,
            format!("`timeout_seconds` must be a finite number of seconds >= 0, got {timeout_seconds}"),
        )),
    }
}

/// Subscribes to the client's `session.lifecycle` notifications from now on: `callback` receives
/// each notification whose type is in `types_json` (a JSON array of lifecycle types such as
/// `"session.deleted"`; NULL or `"null"`: every type), as JSON (`{"type","sessionId",
/// "metadata"?}`), on the dispatcher thread, in wire order. Lifecycle subscriptions belong to the
/// client: they work before it starts (an implicit start included) and across restarts.
/// `*out_subscription` receives the id (for `copilot_client_unsubscribe_lifecycle`; 0 on
/// failure).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_subscribe_lifecycle(
    client: *mut CopilotClient,
    types_json: *const c_char,
    callback: CopilotEventCallback,
    user_data: *mut c_void,
    out_subscription: *mut u64,
) -> CopilotStatus {
    ffi_boundary! {
        try_out!(out_subscription, 0);
        let client = try_ref!(client);
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let types = state::event_types(try_json!(types_json))?;
        let id = client.inner.subscribe_lifecycle(types, callback, UserData(user_data))?;
        unsafe { *out_subscription = id };
        Ok(())
    }
}

/// Ends a subscription made with `copilot_client_subscribe_lifecycle`: after this returns, no
/// callback of that subscription starts (called from another thread, it waits for a callback of
/// the subscription that is running). `COPILOT_ERR_UNKNOWN_ID` when the subscription is not
/// active (the create-time `on_lifecycle` cannot be ended).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_unsubscribe_lifecycle(
    client: *mut CopilotClient,
    subscription: u64,
) -> CopilotStatus {
    ffi_boundary! { try_ref!(client).inner.unsubscribe_lifecycle(subscription) }
}

/// The client's counters (owned JSON; NULL on a NULL client; ABI 5): `{"calls","errors":
/// {code: n},"reconnects","connectionLosses","failoversIn","failoversOut","openSessions",
/// "turns":{"count","sumSeconds","buckets":[{"le","count"}]}}` (cumulative buckets, the last
/// `"le":"+Inf"`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_metrics(client: *const CopilotClient) -> *mut c_char {
    ffi_boundary! { Ok(into_raw_string(try_ref!(client).inner.core.metrics().to_string())) }
}

/// The client's counters in the Prometheus text format (`copilot_calls_total{server="..."}`,
/// ...; the label is the server URL, or `local` for a spawned CLI). Owned text; NULL on a NULL
/// client. (ABI 5)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_metrics_prometheus(client: *const CopilotClient) -> *mut c_char {
    ffi_boundary! { Ok(into_raw_string(try_ref!(client).inner.core.metrics_prometheus())) }
}

fn cleanup_options(v: Value) -> Result<CleanupOptions, Failure> {
    Ok(CleanupOptions::from_json(&v)?)
}

/// `interval_seconds` of the reapers: a finite number of seconds above 0.
fn interval(seconds: f64) -> Result<std::time::Duration, Failure> {
    match std::time::Duration::try_from_secs_f64(seconds) {
        Ok(d) if seconds.is_finite() && !d.is_zero() => Ok(d),
        _ => Err(Failure::abi(
            COPILOT_ERR_INVALID_ARGUMENT,
            format!("`interval_seconds` must be a finite number of seconds above 0, got {seconds}"),
        )),
    }
}

/// Deletes the stored sessions past `maxAge` (seconds since their start) or `maxIdle` (seconds
/// since their last change); options JSON `{"maxAge"?, "maxIdle"?, "includeOpen"?}` (at least
/// one of the first two; otherwise `COPILOT_ERR_INVALID_CONFIG`). A session open on this client
/// is skipped unless `includeOpen` (then it is disconnected first). Result: the deleted
/// sessions' metadata (as `copilot_client_list_sessions`). (ABI 5)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_cleanup_sessions(
    client: *const CopilotClient,
    options_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(client, callback, user_data, call_out, |core| {
        let options = cleanup_options(try_json!(options_json))?;
        async move { to_json(&core.cleanup_sessions(options).await?) }
    })
}

/// Runs `copilot_client_cleanup_sessions` with these options every `interval_seconds` (the
/// first sweep at once) until the reaper is stopped or freed, or the client freed. Each sweep
/// that deleted something, or failed, is announced to the client's lifecycle subscribers as
/// `{"type":"reaper.swept","sessionId":"","metadata":{"deleted":[ids]}}` (or `{"error","code"}`).
/// Writes the handle to `*reaper_out` (NULL on failure). (ABI 5)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_start_reaper(
    client: *const CopilotClient,
    interval_seconds: f64,
    options_json: *const c_char,
    reaper_out: *mut *mut CopilotReaper,
) -> CopilotStatus {
    ffi_boundary! {
        try_out!(reaper_out, std::ptr::null_mut());
        let client = try_ref!(client);
        let every = interval(interval_seconds)?;
        let options = cleanup_options(try_json!(options_json))?;
        let core = client.inner.core.clone();
        let reaper = ReaperState::start(client.inner.gates(), None, UserData(std::ptr::null_mut()), |_| {
            core.start_reaper(every, options)
        })?;
        client.inner.reapers.add(&reaper);
        unsafe { *reaper_out = Box::into_raw(Box::new(CopilotReaper { inner: reaper })) };
        Ok(())
    }
}

/// What opens a session: a client or a pool (either way the same session handle).
enum Opener {
    Client(Client),
    Pool(Pool),
}

/// Shared body of create and resume.
#[allow(clippy::too_many_arguments)]
unsafe fn open_session(
    owner: Option<(Arc<Gate>, Opener)>,
    owner_name: &str,
    resume_id: Option<*const c_char>,
    config_json: *const c_char,
    on_event: CopilotEventCallback,
    on_request: CopilotRequestCallback,
    session_user_data: *mut c_void,
    callback: CopilotCallback,
    user_data: *mut c_void,
    session_out: *mut *mut CopilotSession,
    call_out: *mut u64,
) -> CopilotStatus {
    ffi_boundary! {
        try_out!(session_out, std::ptr::null_mut());
        unsafe { boundary::reset_call_out(call_out) };
        let (owner_gate, opener) = owner.ok_or_else(|| Failure::null(owner_name))?;
        let resume_id = match resume_id {
            Some(session_id) => Some(try_str!(session_id).to_owned()),
            None => None,
        };
        let config = try_json!(config_json);
        let callbacks = Callbacks { on_event, on_request, ud: UserData(session_user_data) };
        let (state, cfg) = SessionState::new(resume_id.clone(), owner_gate, config, callbacks)?;
        // The config carries the host bridge even when the JSON was NULL (an empty config
        // re-sends nothing).
        let opener: std::pin::Pin<Box<dyn Future<Output = copilot_core::Result<copilot_core::Session>> + Send>> =
            match (opener, resume_id) {
                (Opener::Client(core), None) => Box::pin(async move { core.create_session(cfg).await }),
                (Opener::Client(core), Some(id)) => Box::pin(async move { core.resume_session(&id, Some(cfg)).await }),
                (Opener::Pool(pool), None) => Box::pin(async move { pool.create_session(cfg).await }),
                (Opener::Pool(pool), Some(id)) => Box::pin(async move { pool.resume_session(&id, Some(cfg)).await }),
            };
        let handle = Box::into_raw(Box::new(CopilotSession { inner: state.clone() }));
        let launch = state.clone().open(opener);
        match unsafe { boundary::start(state.gates(), callback, user_data, call_out, launch) } {
            Ok(()) => {
                unsafe { *session_out = handle };
                Ok(())
            }
            Err(e) => {
                drop(unsafe { Box::from_raw(handle) });
                Err(e)
            }
        }
    }
}

/// The owner of a session opened by a client.
unsafe fn client_opener(client: *const CopilotClient) -> Option<(Arc<Gate>, Opener)> {
    unsafe { client.as_ref() }.map(|c| (c.inner.gate.clone(), Opener::Client(c.inner.core.clone())))
}

/// The owner of a session opened by a pool.
unsafe fn pool_opener(pool: *const CopilotPool) -> Option<(Arc<Gate>, Opener)> {
    unsafe { pool.as_ref() }.map(|p| (p.inner.gate.clone(), Opener::Pool(p.inner.core.clone())))
}

/// Creates a session from config JSON (NULL = defaults): `sessionId`, `model`, `provider`,
/// `tools`, `systemMessage`, `streaming`, … (the core's `SessionConfig::from_json`; other keys
/// pass through to `session.create`), plus three ABI-only keys: `"handlers"`, the request kinds
/// the request callback answers besides tools (`"permission"`, `"userInput"`, `"hook"`,
/// `"systemMessageTransform"`, `"exitPlanMode"`, `"providerToken"`, `"autoModeSwitch"`, and
/// since ABI 7 `"elicitation"`, `"command"`, `"mcpAuth"`, `"sessionFs"`, `"gitHubToken"`),
/// `"hooks"`, the hook types it answers (any spelling; default: all of them with `"hook"`), and
/// `"toolHandlers"`, the names of the declared tools it runs (kind `"tool"`; the others are
/// declared for another connection to run). Without `"toolHandlers"`, every declared tool is
/// answered by the request callback when there is one. `on_event` and
/// `on_request` may be NULL; both get `session_user_data`; `on_event` sees every event from the
/// first one (`copilot_session_subscribe` adds more event callbacks). `*session_out` receives
/// the handle at once (before the server answers; NULL if the call did not start). Result: the
/// `session.create` result (`sessionId`, `workspacePath`, …).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_create_session(
    client: *const CopilotClient,
    config_json: *const c_char,
    on_event: CopilotEventCallback,
    on_request: CopilotRequestCallback,
    session_user_data: *mut c_void,
    callback: CopilotCallback,
    user_data: *mut c_void,
    session_out: *mut *mut CopilotSession,
    call_out: *mut u64,
) -> CopilotStatus {
    unsafe {
        open_session(
            client_opener(client),
            "client",
            None,
            config_json,
            on_event,
            on_request,
            session_user_data,
            callback,
            user_data,
            session_out,
            call_out,
        )
    }
}

/// Resumes a session by id; config JSON is optional (NULL: no provider, tools or handlers
/// re-sent). Otherwise as `copilot_client_create_session`. Result: the `session.resume` result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_client_resume_session(
    client: *const CopilotClient,
    session_id: *const c_char,
    config_json: *const c_char,
    on_event: CopilotEventCallback,
    on_request: CopilotRequestCallback,
    session_user_data: *mut c_void,
    callback: CopilotCallback,
    user_data: *mut c_void,
    session_out: *mut *mut CopilotSession,
    call_out: *mut u64,
) -> CopilotStatus {
    unsafe {
        open_session(
            client_opener(client),
            "client",
            Some(session_id),
            config_json,
            on_event,
            on_request,
            session_user_data,
            callback,
            user_data,
            session_out,
            call_out,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Session

/// Frees a session handle (NULL is allowed). Pending calls of the session complete with
/// `COPILOT_ERR_CANCELLED` before this returns, pending handler requests fail, and no callback
/// of the session fires afterwards. A session still attached is detached in the background.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_free(session: *mut CopilotSession) {
    ffi_boundary! {
        if !session.is_null() {
            unsafe { Box::from_raw(session) }.inner.close();
        }
        Ok(())
    }
}

/// The session id (owned text; NULL on a NULL session).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_id(session: *const CopilotSession) -> *mut c_char {
    ffi_boundary! { Ok(into_raw_string(try_ref!(session).inner.id.clone())) }
}

/// `{"sessionId","workspacePath","info","leaseToken","server"}` where `info` is the
/// create/resume result (`null` while not open), and, for a session opened by a pool (ABI 5),
/// `leaseToken` is its lease's fencing token (`null` without a lease store) and `server` the URL
/// of the server it is on now (`null` outside a pool). Owned JSON; NULL on a NULL session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_info(session: *const CopilotSession) -> *mut c_char {
    ffi_boundary! { Ok(into_raw_string(try_ref!(session).inner.info().to_string())) }
}

/// The fencing token of a pooled session's lease: it grows with every acquisition of the
/// session's lease (by any instance), so a store the host writes to can refuse a stale holder.
/// 0 when the session has none (not opened by a pool, no lease store, not open) or is NULL.
/// (ABI 5)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_lease_token(session: *const CopilotSession) -> u64 {
    ffi_boundary! { Ok(try_ref!(session).inner.lease_token().unwrap_or(0)) }
}

/// The URL of the server a pooled session is on now, as the pool lists it (owned text), or
/// NULL (not opened by a pool, not open, NULL session). It changes when the session moves
/// (failover, drain, return of its preferred server). (ABI 5)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_server(session: *const CopilotSession) -> *mut c_char {
    ffi_boundary! { Ok(try_ref!(session).inner.server().map_or(std::ptr::null_mut(), into_raw_string)) }
}

/// Subscribes to the session's events from now on: `callback` receives each event whose type is
/// in `types_json` (a JSON array of event type strings; NULL or `"null"`: every type), as JSON,
/// on the dispatcher thread, in wire order (each event is serialized once, however many
/// subscriptions match). The session's `on_event` (given at create/resume) is the way to see the
/// first events; a subscription sees the events after it is made. `*out_subscription` receives
/// the subscription id (for `copilot_session_unsubscribe`). The completion of
/// `copilot_session_send_and_wait` runs after every event callback (`on_event` and every
/// subscription) for the events of its turn, `session.idle` included.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_subscribe(
    session: *mut CopilotSession,
    types_json: *const c_char,
    callback: CopilotEventCallback,
    user_data: *mut c_void,
    out_subscription: *mut u64,
) -> CopilotStatus {
    ffi_boundary! {
        try_out!(out_subscription, 0);
        let session = try_ref!(session);
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let types = state::event_types(try_json!(types_json))?;
        let id = session.inner.subscribe(types, callback, UserData(user_data))?;
        unsafe { *out_subscription = id };
        Ok(())
    }
}

/// Ends a subscription made with `copilot_session_subscribe`: after this returns, no callback of
/// that subscription starts (called from another thread, it waits for a callback of the
/// subscription that is running). `COPILOT_ERR_UNKNOWN_ID` when the subscription is not active.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_unsubscribe(session: *mut CopilotSession, subscription: u64) -> CopilotStatus {
    ffi_boundary! { try_ref!(session).inner.unsubscribe(subscription) }
}

fn message_options(text: &str) -> Result<MessageOptions, Failure> {
    let v = rt::parse_json(text, "options_json")?;
    Ok(MessageOptions::from_json(&v)?)
}

/// Queues a prompt. Options JSON: `{"prompt","attachments"?,"mode"?,"requestHeaders"?}` or a JSON
/// string. Result `{"messageId"}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_send(
    session: *const CopilotSession,
    options_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| {
        let opts = message_options(try_str!(options_json))?;
        async move {
            let id = s.send(opts).await?;
            Ok(json!({"messageId": id}).to_string())
        }
    })
}

/// Sends a prompt and waits for `session.idle`. Options as `copilot_session_send`, plus
/// `timeout` (seconds, default 60), `idleTimeout` (seconds without any event of the session
/// before it fails with `COPILOT_ERR_TIMEOUT`; default off) and `abortOnTimeout`. Result: the
/// turn's last `assistant.message` event, or `null`. Fails with `COPILOT_ERR_SESSION_ERROR`
/// when the turn fails, `COPILOT_ERR_TIMEOUT` after the timeout,
/// `COPILOT_ERR_TURN_OUTCOME_UNKNOWN` when the connection was lost during the turn. Ordering
/// guarantee: the completion runs on the dispatcher thread after every event callback
/// (`on_event` and every subscription) for the events of its turn, `session.idle` included.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_send_and_wait(
    session: *const CopilotSession,
    options_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, state| {
        let opts = message_options(try_str!(options_json))?;
        state.ordered(async move {
            let last = s.send_and_wait(opts).await?;
            serde_json::to_value(last).map_err(|e| CoreError::new(ErrorKind::Internal, e.to_string()))
        })
    })
}

/// Aborts the running turn (fine when idle). Result `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_abort(
    session: *const CopilotSession,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| {
        async move {
            s.abort().await?;
            Ok("null".to_owned())
        }
    })
}

/// The persisted events of the session. Result: an array of events.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_get_messages(
    session: *const CopilotSession,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| async move { to_json(&s.get_messages().await?) })
}

/// Switches the model (`reasoning_effort` may be NULL). Result: the server's result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_set_model(
    session: *const CopilotSession,
    model: *const c_char,
    reasoning_effort: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| {
        let model = try_str!(model).to_owned();
        let effort = try_opt_str!(reasoning_effort).map(str::to_owned);
        async move { to_json(&s.set_model(&model, effort.as_deref()).await?) }
    })
}

/// Any session-scoped method; params JSON is an object or NULL (`sessionId` is added), under
/// the client's `requestTimeout`. Result: the method's result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_rpc(
    session: *const CopilotSession,
    method: *const c_char,
    params_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| {
        let method = try_str!(method).to_owned();
        let params = session_params(try_json!(params_json))?;
        async move { to_json(&s.call(&method, params).await?) }
    })
}

/// `copilot_session_rpc` with a deadline of its own, as `copilot_client_rpc_with_timeout`
/// (`timeout_seconds` > 0 a deadline, 0 none). (ABI 4)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_rpc_with_timeout(
    session: *const CopilotSession,
    method: *const c_char,
    params_json: *const c_char,
    timeout_seconds: f64,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| {
        let method = try_str!(method).to_owned();
        let params = session_params(try_json!(params_json))?;
        let timeout = deadline(timeout_seconds)?;
        async move { to_json(&s.call_with_timeout(&method, params, timeout).await?) }
    })
}

/// The `session.ui` helpers (ABI 7): `op` is `elicitation` (`{message, requestedSchema}` →
/// `{action, content?}`), `confirm` (`{message}` → bool), `select` (`{message, options}` → the
/// choice or null) or `input` (`{message, options?}` → the text or null). Fails with
/// `invalid_config` when the session has no elicitation capability.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_ui(
    session: *const CopilotSession,
    op: *const c_char,
    params_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| {
        let op = try_str!(op).to_owned();
        let params = session_params(try_json!(params_json))?;
        async move { to_json(&s.ui(&op, params).await?) }
    })
}

fn session_params(v: Value) -> Result<Value, Failure> {
    if v.is_null() || v.is_object() {
        Ok(v)
    } else {
        Err(Failure::abi(COPILOT_ERR_INVALID_ARGUMENT, "session rpc params must be a JSON object or NULL"))
    }
}

/// Detaches this client from the session (`session.destroy`; the session stays on disk and can
/// be resumed). Idempotent. Result `null`. The handle still needs `copilot_session_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_session_disconnect(
    session: *const CopilotSession,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    session_call!(session, callback, user_data, call_out, |s, _| {
        async move {
            s.disconnect().await?;
            Ok("null".to_owned())
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Pool (ABI 5)

/// Creates a pool over running CLI servers from options JSON: `urls` (required: an array of
/// `"host:port"`, or one comma-separated string; every instance must list the same servers,
/// spelled the same way), `healthInterval` (seconds between attempts to reach a server that is
/// down; default 2), `lease` (`{"redisUrl","ttl","wait","owner","keyPrefix"}`, seconds: a
/// session's lease in Redis, taken when it is opened; without it, no lease), and any client
/// option (`connectionToken`, `requestTimeout`, `reconnect`, `heartbeatInterval`, ...) for
/// every server's client (`cliUrl`, `cliPath`, `port`, `useStdio`, ... are refused: a pool
/// connects to running servers). Invalid options: `COPILOT_ERR_INVALID_CONFIG`. Nothing
/// connects until `copilot_pool_start` or the first call that needs a server. Writes the handle
/// to `*pool_out` (NULL on failure).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_new(
    options_json: *const c_char,
    pool_out: *mut *mut CopilotPool,
) -> CopilotStatus {
    ffi_boundary! {
        try_out!(pool_out, std::ptr::null_mut());
        let options = PoolOptions::from_json(&try_json!(options_json))?;
        let core = Pool::new(options)?;
        unsafe { *pool_out = Box::into_raw(Box::new(CopilotPool { inner: PoolState::new(core) })) };
        Ok(())
    }
}

/// Frees a pool (NULL is allowed). Pending calls of the pool and of the sessions it opened
/// complete with `COPILOT_ERR_CANCELLED` before this returns; afterwards no callback of them
/// fires (its reapers stop too). The pool stops in the background (its leases are released);
/// use `copilot_pool_stop` first to wait for that. Session handles stay valid (inert) until
/// freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_free(pool: *mut CopilotPool) {
    ffi_boundary! {
        if !pool.is_null() {
            unsafe { Box::from_raw(pool) }.inner.close();
        }
        Ok(())
    }
}

/// Connects to every server and starts watching them (a lost server's sessions fail over to
/// the next server of their ranking; a server that is down is tried again every
/// `healthInterval`). Succeeds when at least one server answers, else `COPILOT_ERR_NO_SERVER`.
/// Idempotent. Result `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_start(
    pool: *const CopilotPool,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(pool, callback, user_data, call_out, |core| {
        async move {
            core.start().await?;
            Ok("null".to_owned())
        }
    })
}

/// Releases every lease, detaches every session and disconnects from every server. The pool can
/// be started again. Result `null`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_stop(
    pool: *const CopilotPool,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(pool, callback, user_data, call_out, |core| {
        async move {
            core.stop().await?;
            Ok("null".to_owned())
        }
    })
}

/// Creates a session on the first healthy server of its ranking (rendezvous hashing of the
/// session id; the config's `sessionId`, or a new one), taking its lease first when the pool
/// has a lease store. Arguments, callbacks and result as `copilot_client_create_session`; the
/// handle is an ordinary session handle (every session function works on it; a prompt first
/// moves the session to the server it belongs on now, and every call fails with
/// `COPILOT_ERR_LEASE_LOST` once its lease was lost). `COPILOT_ERR_LEASE_HELD` when another
/// instance holds the lease beyond the lease's `wait`; `COPILOT_ERR_NO_SERVER` when no server
/// is reachable. Disconnecting (or freeing) the session releases its lease.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_create_session(
    pool: *const CopilotPool,
    config_json: *const c_char,
    on_event: CopilotEventCallback,
    on_request: CopilotRequestCallback,
    session_user_data: *mut c_void,
    callback: CopilotCallback,
    user_data: *mut c_void,
    session_out: *mut *mut CopilotSession,
    call_out: *mut u64,
) -> CopilotStatus {
    unsafe {
        open_session(
            pool_opener(pool),
            "pool",
            None,
            config_json,
            on_event,
            on_request,
            session_user_data,
            callback,
            user_data,
            session_out,
            call_out,
        )
    }
}

/// Resumes a stored session on the first healthy server of its ranking (the servers share
/// their state directory), taking its lease first; otherwise as `copilot_pool_create_session`.
/// `COPILOT_ERR_SESSION_NOT_FOUND` when no server has it. Result: the `session.resume` result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_resume_session(
    pool: *const CopilotPool,
    session_id: *const c_char,
    config_json: *const c_char,
    on_event: CopilotEventCallback,
    on_request: CopilotRequestCallback,
    session_user_data: *mut c_void,
    callback: CopilotCallback,
    user_data: *mut c_void,
    session_out: *mut *mut CopilotSession,
    call_out: *mut u64,
) -> CopilotStatus {
    unsafe {
        open_session(
            pool_opener(pool),
            "pool",
            Some(session_id),
            config_json,
            on_event,
            on_request,
            session_user_data,
            callback,
            user_data,
            session_out,
            call_out,
        )
    }
}

/// The sessions stored by the servers, each once (filter as `copilot_client_list_sessions`).
/// Result: an array of session metadata.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_list_sessions(
    pool: *const CopilotPool,
    filter_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(pool, callback, user_data, call_out, |core| {
        let filter = list_filter(try_json!(filter_json))?;
        async move { to_json(&core.list_sessions(filter).await?) }
    })
}

/// Deletes a stored session (on its server; this pool's lease on it is released first).
/// Result `null`; `COPILOT_ERR_SESSION_NOT_FOUND` when it does not exist.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_delete_session(
    pool: *const CopilotPool,
    session_id: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(pool, callback, user_data, call_out, |core| {
        let id = try_str!(session_id).to_owned();
        async move {
            core.delete_session(&id).await?;
            Ok("null".to_owned())
        }
    })
}

/// As `copilot_client_cleanup_sessions`, across the pool: never a session open on this pool
/// unless `includeOpen`, never one whose lease another instance holds. Result: the deleted
/// sessions' metadata.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_cleanup_sessions(
    pool: *const CopilotPool,
    options_json: *const c_char,
    callback: CopilotCallback,
    user_data: *mut c_void,
    call_out: *mut u64,
) -> CopilotStatus {
    client_call!(pool, callback, user_data, call_out, |core| {
        let options = cleanup_options(try_json!(options_json))?;
        async move { to_json(&core.cleanup_sessions(options).await?) }
    })
}

/// Stops placing sessions on the server `url` (spelled as in `urls`); its open sessions move to
/// their next server at their next prompt. For a rolling restart: drain, wait until
/// `copilot_pool_servers` shows no open session there, restart it, undrain.
/// `COPILOT_ERR_INVALID_CONFIG` for a URL that is not in the pool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_drain(pool: *const CopilotPool, url: *const c_char) -> CopilotStatus {
    ffi_boundary! { Ok(try_ref!(pool).inner.core.drain(try_str!(url))?) }
}

/// Places sessions on the server `url` again (sessions whose preferred server it is move back
/// at their next prompt).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_undrain(pool: *const CopilotPool, url: *const c_char) -> CopilotStatus {
    ffi_boundary! { Ok(try_ref!(pool).inner.core.undrain(try_str!(url))?) }
}

/// Every server's state, in the order of `urls`: `[{"url","healthy","draining",
/// "openSessions"}]`. Owned JSON; NULL on a NULL pool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_servers(pool: *const CopilotPool) -> *mut c_char {
    ffi_boundary! { Ok(into_raw_string(try_ref!(pool).inner.core.servers().to_string())) }
}

/// The pool's servers ranked for a session id (a JSON array of URLs; the first is where the
/// session is placed while it is healthy and not drained; every instance with the same `urls`
/// ranks alike). Owned JSON; NULL on a NULL argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_ranking(pool: *const CopilotPool, session_id: *const c_char) -> *mut c_char {
    ffi_boundary! {
        let pool = try_ref!(pool);
        let ranking = pool.inner.core.ranking(try_str!(session_id));
        Ok(into_raw_string(json!(ranking).to_string()))
    }
}

/// The pool's counters: `{"servers":[{"url","healthy","draining", ...the client counters of
/// copilot_client_metrics}],"failovers","leasesAcquired","leasesLost","leaseWaits","reaped",
/// "placementErrors","openSessions","healthyServers"}`. Owned JSON; NULL on a NULL pool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_metrics(pool: *const CopilotPool) -> *mut c_char {
    ffi_boundary! { Ok(into_raw_string(try_ref!(pool).inner.core.metrics().to_string())) }
}

/// The pool's counters in the Prometheus text format (per server, labelled
/// `server="<url>"`, plus the pool-wide ones). Owned text; NULL on a NULL pool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_metrics_prometheus(pool: *const CopilotPool) -> *mut c_char {
    ffi_boundary! { Ok(into_raw_string(try_ref!(pool).inner.core.metrics_prometheus())) }
}

/// Runs `copilot_pool_cleanup_sessions` with these options every `interval_seconds` (the first
/// sweep at once) until the reaper is stopped or freed, or the pool freed. `on_sweep` (may be
/// NULL) receives each sweep's outcome on the dispatcher thread: `{"deleted":[ids]}` (possibly
/// empty) or `{"error","code","status"}`. Writes the handle to `*reaper_out` (NULL on failure).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_pool_start_reaper(
    pool: *const CopilotPool,
    interval_seconds: f64,
    options_json: *const c_char,
    on_sweep: CopilotEventCallback,
    user_data: *mut c_void,
    reaper_out: *mut *mut CopilotReaper,
) -> CopilotStatus {
    ffi_boundary! {
        try_out!(reaper_out, std::ptr::null_mut());
        let pool = try_ref!(pool);
        let every = interval(interval_seconds)?;
        let options = cleanup_options(try_json!(options_json))?;
        let core = pool.inner.core.clone();
        let reaper = ReaperState::start(pool.inner.gates(), on_sweep, UserData(user_data), |cb| {
            core.start_reaper(every, options, cb)
        })?;
        pool.inner.reapers.add(&reaper);
        unsafe { *reaper_out = Box::into_raw(Box::new(CopilotReaper { inner: reaper })) };
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Reaper (ABI 5)

/// Stops a reaper: no sweep starts afterwards (one in progress is abandoned), and once this
/// returns no sweep callback starts (called from another thread, it waits for one that is
/// running). Idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_reaper_stop(reaper: *const CopilotReaper) -> CopilotStatus {
    ffi_boundary! {
        try_ref!(reaper).inner.stop();
        Ok(())
    }
}

/// Stops (as `copilot_reaper_stop`) and frees a reaper. NULL is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copilot_reaper_free(reaper: *mut CopilotReaper) {
    ffi_boundary! {
        if !reaper.is_null() {
            unsafe { Box::from_raw(reaper) }.inner.stop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_numbers_match_the_constants() {
        let pairs = [
            (ErrorKind::TransportClosed, COPILOT_ERR_TRANSPORT_CLOSED),
            (ErrorKind::Connect, COPILOT_ERR_CONNECT),
            (ErrorKind::CliNotFound, COPILOT_ERR_CLI_NOT_FOUND),
            (ErrorKind::Timeout, COPILOT_ERR_TIMEOUT),
            (ErrorKind::Cancelled, COPILOT_ERR_CANCELLED),
            (ErrorKind::FrameHeader, COPILOT_ERR_FRAME_HEADER),
            (ErrorKind::FrameLength, COPILOT_ERR_FRAME_LENGTH),
            (ErrorKind::MessageTooLarge, COPILOT_ERR_MESSAGE_TOO_LARGE),
            (ErrorKind::InvalidJson, COPILOT_ERR_INVALID_JSON),
            (ErrorKind::Protocol, COPILOT_ERR_PROTOCOL),
            (ErrorKind::VersionMismatch, COPILOT_ERR_VERSION_MISMATCH),
            (ErrorKind::Rpc, COPILOT_ERR_RPC),
            (ErrorKind::Authentication, COPILOT_ERR_AUTHENTICATION),
            (ErrorKind::SessionNotFound, COPILOT_ERR_SESSION_NOT_FOUND),
            (ErrorKind::SessionError, COPILOT_ERR_SESSION_ERROR),
            (ErrorKind::InvalidConfig, COPILOT_ERR_INVALID_CONFIG),
            (ErrorKind::HandlerFailed, COPILOT_ERR_HANDLER_FAILED),
            (ErrorKind::NotConnected, COPILOT_ERR_NOT_CONNECTED),
            (ErrorKind::Io, COPILOT_ERR_IO),
            (ErrorKind::Internal, COPILOT_ERR_INTERNAL),
            (ErrorKind::Reconnecting, COPILOT_ERR_RECONNECTING),
            (ErrorKind::ReconnectFailed, COPILOT_ERR_RECONNECT_FAILED),
            (ErrorKind::TurnOutcomeUnknown, COPILOT_ERR_TURN_OUTCOME_UNKNOWN),
            (ErrorKind::LeaseHeld, COPILOT_ERR_LEASE_HELD),
            (ErrorKind::LeaseLost, COPILOT_ERR_LEASE_LOST),
            (ErrorKind::NoServer, COPILOT_ERR_NO_SERVER),
        ];
        assert_eq!(pairs.len(), ErrorKind::ALL.len(), "a core kind has no C constant");
        for (k, n) in pairs {
            assert_eq!(k.number() as i32, n, "{k:?}");
            assert_eq!(error_name(n), k.code());
            assert!(n < 100, "core numbers stay below the ABI range");
        }
        assert_eq!(error_name(COPILOT_ERR_PANIC), "panic");
        assert_eq!(error_name(9999), "unknown");
    }

    #[test]
    fn per_call_deadlines() {
        assert_eq!(deadline(0.0).unwrap(), None);
        assert_eq!(deadline(1.5).unwrap(), Some(std::time::Duration::from_millis(1500)));
        for bad in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e30] {
            assert_eq!(deadline(bad).unwrap_err().status, COPILOT_ERR_INVALID_ARGUMENT, "{bad}");
        }
    }
}
