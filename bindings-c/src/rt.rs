//! The machinery behind the exports: the dispatcher thread, gates (what `_free` closes), the
//! table of in-flight calls, the table of pending host requests, and the error type.
//!
//! Locking rule: no lock of this module is held while a foreign callback runs (a callback may
//! call back into the library). Jobs are queued while holding the calls lock where ordering
//! matters, so a barrier queued by `_free` comes after every completion queued before it.

use crate::{
    COPILOT_ERR_CANCELLED, COPILOT_ERR_IN_CALLBACK, COPILOT_ERR_INVALID_ARGUMENT, COPILOT_ERR_INVALID_UTF8,
    COPILOT_ERR_NULL_POINTER, COPILOT_ERR_PANIC, COPILOT_ERR_UNKNOWN_ID, COPILOT_OK, CopilotCallback, CopilotStatus,
};
use copilot_core::{Error as CoreError, ErrorKind, Responder};
use serde_json::{Map, Value, json};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_void};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use tokio::sync::oneshot;

// ---------------------------------------------------------------------------------------------
// Ids, user data, small helpers

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Call ids, request ids and gate ids: unique in the process, never reused, never 0.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A foreign `void *`, carried across threads. The host promised it may be used from the
/// dispatcher thread; the library never dereferences it.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub *mut c_void);
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    /// Taking `self` makes closures capture the whole (Send) wrapper, not the raw field.
    pub fn ptr(self) -> *mut c_void {
        self.0
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A Rust string as an owned C string (JSON never holds a raw NUL; other text has them dropped).
pub(crate) fn c_string(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|b| *b != 0);
        CString::new(bytes).expect("NULs removed")
    })
}

pub(crate) fn into_raw_string(s: String) -> *mut c_char {
    c_string(s).into_raw()
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An error as the ABI reports it: a status number and the error JSON.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub status: CopilotStatus,
    pub code: &'static str,
    pub message: String,
    pub rpc: Option<Value>,
    pub stderr: Option<String>,
    pub transport_failure: bool,
    pub retriable: bool,
}

impl Failure {
    pub fn abi(status: CopilotStatus, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code: crate::error_name(status),
            message: message.into(),
            rpc: None,
            stderr: None,
            transport_failure: false,
            retriable: false,
        }
    }
    pub fn kind(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure::from(CoreError::new(kind, message))
    }
    pub fn null(what: &str) -> Failure {
        Failure::abi(COPILOT_ERR_NULL_POINTER, format!("`{what}` must not be NULL"))
    }
    pub fn cancelled() -> Failure {
        Failure::abi(COPILOT_ERR_CANCELLED, "the call was cancelled")
    }
    pub fn panic(p: Box<dyn std::any::Any + Send>) -> Failure {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Failure::abi(COPILOT_ERR_PANIC, format!("the library panicked: {msg}"))
    }
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), json!(self.status));
        m.insert("code".into(), json!(self.code));
        m.insert("message".into(), json!(self.message));
        if let Some(r) = &self.rpc {
            m.insert("rpc".into(), r.clone());
        }
        if let Some(s) = &self.stderr {
            m.insert("stderr".into(), json!(s));
        }
        m.insert("transportFailure".into(), json!(self.transport_failure));
        m.insert("retriable".into(), json!(self.retriable));
        Value::Object(m)
    }
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Failure {
        let status = e.kind().number() as CopilotStatus;
        Failure {
            status,
            code: e.code(),
            message: e.message().to_owned(),
            rpc: e.rpc_error().map(|r| json!({"code": r.code, "message": r.message, "data": r.data})),
            stderr: e.stderr_tail().map(str::to_owned),
            transport_failure: e.is_transport_failure(),
            retriable: e.is_retriable(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(f: Failure) {
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(f));
}

pub(crate) fn last_error() -> Option<Failure> {
    LAST_ERROR.with(|l| l.borrow().clone())
}

// ---------------------------------------------------------------------------------------------
// Arguments

/// A required string argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|e| Failure::abi(COPILOT_ERR_INVALID_UTF8, format!("`{name}` is not valid UTF-8: {e}")))
}

/// An optional string argument (NULL = absent).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn opt_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if p.is_null() { Ok(None) } else { unsafe { arg_str(p, name) }.map(Some) }
}

/// An optional JSON argument (NULL = `null`).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn opt_json(p: *const c_char, name: &str) -> Result<Value, Failure> {
    match unsafe { opt_str(p, name) }? {
        None => Ok(Value::Null),
        Some(text) => parse_json(text, name),
    }
}

pub(crate) fn parse_json(text: &str, name: &str) -> Result<Value, Failure> {
    serde_json::from_str(text)
        .map_err(|e| Failure::abi(COPILOT_ERR_INVALID_ARGUMENT, format!("`{name}` is not valid JSON: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Gates: what `_free` closes

/// One per client and one per session. `closing` (set first, by `_free`) refuses new calls and
/// handler requests; `open` (cleared last, on the dispatcher) stops callbacks.
pub(crate) struct Gate {
    pub id: u64,
    closing: AtomicBool,
    open: AtomicBool,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate { id: next_id(), closing: AtomicBool::new(false), open: AtomicBool::new(true) })
    }
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
    fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }
}

pub(crate) type Gates = Arc<[Arc<Gate>]>;

fn any_closing(gates: &[Arc<Gate>]) -> bool {
    gates.iter().any(|g| g.is_closing())
}

// ---------------------------------------------------------------------------------------------
// The dispatcher thread

type Job = Box<dyn FnOnce() + Send>;

struct Dispatcher {
    tx: mpsc::Sender<Job>,
    handle: std::thread::JoinHandle<()>,
    pid: u32,
}

static DISPATCHER: Mutex<Option<Dispatcher>> = Mutex::new(None);

thread_local! {
    static ON_DISPATCHER: Cell<bool> = const { Cell::new(false) };
}

/// True on the dispatcher thread (inside a callback).
pub(crate) fn on_dispatcher() -> bool {
    ON_DISPATCHER.with(Cell::get)
}

fn start_dispatcher() -> Dispatcher {
    let (tx, rx) = mpsc::channel::<Job>();
    let handle = std::thread::Builder::new()
        .name("copilot-callbacks".into())
        .spawn(move || {
            ON_DISPATCHER.with(|d| d.set(true));
            while let Ok(job) = rx.recv() {
                // A panic on the Rust side of a job must not end the thread.
                let _ = catch_unwind(AssertUnwindSafe(job));
            }
        })
        .expect("cannot start the copilot-callbacks thread");
    Dispatcher { tx, handle, pid: std::process::id() }
}

/// Queues a job for the dispatcher thread (starting it if needed).
pub(crate) fn enqueue(job: Job) {
    let mut d = lock(&DISPATCHER);
    let pid = std::process::id();
    if d.as_ref().is_some_and(|d| d.pid != pid) {
        // After fork(): the parent's thread does not exist here.
        std::mem::forget(d.take());
    }
    let disp = d.get_or_insert_with(start_dispatcher);
    if let Err(mpsc::SendError(job)) = disp.tx.send(job) {
        *disp = start_dispatcher();
        let _ = disp.tx.send(job);
    }
}

/// Queues a job only while the dispatcher thread runs (never starts it): log records, so that
/// none reaches the host after `copilot_shutdown`.
pub(crate) fn enqueue_if_running(job: Job) {
    let d = lock(&DISPATCHER);
    if let Some(d) = d.as_ref().filter(|d| d.pid == std::process::id()) {
        let _ = d.tx.send(job);
    }
}

/// [`barrier`] when the dispatcher thread runs (nothing to wait for otherwise).
pub(crate) fn barrier_if_running() {
    let running = lock(&DISPATCHER).as_ref().is_some_and(|d| d.pid == std::process::id());
    if running {
        barrier();
    }
}

/// Queues a job that runs only while every gate is open.
pub(crate) fn enqueue_gated(gates: Gates, job: impl FnOnce() + Send + 'static) {
    enqueue(Box::new(move || {
        if gates.iter().all(|g| g.is_open()) {
            job()
        }
    }))
}

/// Waits until the dispatcher ran every job queued so far (nothing to wait for on the
/// dispatcher itself: no other job runs while a callback does).
pub(crate) fn barrier() {
    if on_dispatcher() {
        return;
    }
    let (tx, rx) = mpsc::channel::<()>();
    enqueue(Box::new(move || {
        let _ = tx.send(());
    }));
    let _ = rx.recv();
}

/// `copilot_shutdown`: runs what is queued, then ends and joins the dispatcher thread.
pub(crate) fn shutdown() -> Result<(), Failure> {
    if on_dispatcher() {
        return Err(Failure::abi(COPILOT_ERR_IN_CALLBACK, "copilot_shutdown cannot be called from a callback"));
    }
    // No log record is forwarded from now on (records never restart the thread).
    crate::log::clear();
    let taken = lock(&DISPATCHER).take();
    if let Some(d) = taken {
        if d.pid != std::process::id() {
            std::mem::forget(d);
            return Ok(());
        }
        drop(d.tx);
        let _ = d.handle.join();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// In-flight calls

/// A completion callback with its user data.
#[derive(Clone, Copy)]
pub(crate) struct Completion {
    pub cb: CopilotCallback,
    pub ud: UserData,
}

impl Completion {
    fn invoke(self, status: CopilotStatus, json: &str) {
        if let Some(cb) = self.cb {
            let text = c_string(json.to_owned());
            unsafe { cb(self.ud.ptr(), status, text.as_ptr()) };
        }
    }
}

enum CallState {
    Pending(Option<oneshot::Sender<()>>),
    Done(CopilotStatus, String),
}

struct CallEntry {
    owners: Gates,
    completion: Completion,
    state: CallState,
}

static CALLS: Mutex<Option<HashMap<u64, CallEntry>>> = Mutex::new(None);

fn calls() -> MutexGuard<'static, Option<HashMap<u64, CallEntry>>> {
    let mut g = lock(&CALLS);
    g.get_or_insert_with(HashMap::new);
    g
}

/// The job that delivers a finished call (if `_free` or a cancel did not deliver it already).
fn deliver(id: u64) -> Job {
    Box::new(move || {
        let entry = calls().as_mut().unwrap().remove(&id);
        if let Some(CallEntry { completion, state: CallState::Done(status, json), .. }) = entry {
            completion.invoke(status, &json);
        }
    })
}

/// Hands a call's result to its completion (ignored when the call already completed).
pub(crate) fn finish(id: u64, result: Result<String, Failure>) {
    let (status, json) = match result {
        Ok(j) => (COPILOT_OK, j),
        Err(f) => (f.status, f.to_json()),
    };
    let mut g = calls();
    if let Some(e) = g.as_mut().unwrap().get_mut(&id) {
        if matches!(e.state, CallState::Pending(_)) {
            e.state = CallState::Done(status, json);
            enqueue(deliver(id));
        }
    }
}

/// The cancel signal of a call: fires when `copilot_cancel` or `_free` completed it.
pub(crate) type Cancel = oneshot::Receiver<()>;

/// Registers an asynchronous call owned by `owners`: its completion runs exactly once, with the
/// result given to [`finish`] or as cancelled. The caller then launches the call's future,
/// which stops on the [`Cancel`] signal.
pub(crate) fn register_call(owners: Gates, completion: Completion) -> Result<(u64, Cancel), Failure> {
    let id = next_id();
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    let mut g = calls();
    if any_closing(&owners) {
        return Err(Failure::kind(ErrorKind::NotConnected, "the client or session is being freed"));
    }
    g.as_mut().unwrap().insert(id, CallEntry { owners, completion, state: CallState::Pending(Some(cancel_tx)) });
    Ok((id, cancel_rx))
}

/// Runs a registered call's future on the core's runtime; its result reaches the completion.
pub(crate) fn run_task<F>(id: u64, cancel: Cancel, fut: F)
where
    F: Future<Output = Result<String, Failure>> + Send + 'static,
{
    copilot_core::runtime().spawn(async move {
        tokio::select! {
            r = fut => finish(id, r),
            _ = cancel => {}
        }
    });
}

/// `copilot_cancel`.
pub(crate) fn cancel(id: u64) -> Result<(), Failure> {
    let mut g = calls();
    match g.as_mut().unwrap().get_mut(&id) {
        Some(e) => match &mut e.state {
            CallState::Pending(tx) => {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
                e.state = CallState::Done(COPILOT_ERR_CANCELLED, Failure::cancelled().to_json());
                enqueue(deliver(id));
                Ok(())
            }
            CallState::Done(..) => Err(Failure::abi(COPILOT_ERR_UNKNOWN_ID, format!("call {id} already completed"))),
        },
        None => Err(Failure::abi(COPILOT_ERR_UNKNOWN_ID, format!("no pending call {id}"))),
    }
}

/// Closes a gate for `_free`: pending calls complete as cancelled and queued completions are
/// delivered before this returns; pending handler requests fail; no callback of the gate runs
/// afterwards.
pub(crate) fn close_gate(gate: &Arc<Gate>) {
    let taken: Vec<CallEntry>;
    {
        let mut g = calls();
        gate.closing.store(true, Ordering::SeqCst);
        let map = g.as_mut().unwrap();
        let ids: Vec<u64> =
            map.iter().filter(|(_, e)| e.owners.iter().any(|o| o.id == gate.id)).map(|(id, _)| *id).collect();
        taken = ids
            .into_iter()
            .filter_map(|id| map.remove(&id))
            .map(|mut e| {
                if let CallState::Pending(tx) = &mut e.state {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                    e.state = CallState::Done(COPILOT_ERR_CANCELLED, Failure::cancelled().to_json());
                }
                e
            })
            .collect();
        purge_requests(gate.id);
        if !on_dispatcher() {
            // The barrier: queued (under the calls lock) after every completion queued so far.
            let (tx, rx) = mpsc::channel::<()>();
            let gate2 = gate.clone();
            enqueue(Box::new(move || {
                run_taken(taken);
                gate2.open.store(false, Ordering::SeqCst);
                let _ = tx.send(());
            }));
            drop(g);
            let _ = rx.recv();
            return;
        }
    }
    // Inside a callback: deliver now, on this (the dispatcher) thread.
    run_taken(taken);
    gate.open.store(false, Ordering::SeqCst);
}

fn run_taken(taken: Vec<CallEntry>) {
    for e in taken {
        if let CallState::Done(status, json) = e.state {
            let c = e.completion;
            let _ = catch_unwind(AssertUnwindSafe(|| c.invoke(status, &json)));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handler requests (tools, permissions, user input, hooks, ...)

struct PendingRequest {
    owners: Gates,
    /// Where the request came from: the session's gate id and the core's `HostRequest::id`
    /// (unique per session), which `HostMessage::Cancelled` names.
    origin: (u64, u64),
    /// The core's `HostRequest::name`: the tool name, or the hook type as the host registered it.
    name: Option<String>,
    responder: Responder,
}

static REQUESTS: Mutex<Option<HashMap<u64, PendingRequest>>> = Mutex::new(None);

fn requests() -> MutexGuard<'static, Option<HashMap<u64, PendingRequest>>> {
    let mut g = lock(&REQUESTS);
    g.get_or_insert_with(HashMap::new);
    g
}

fn purge_requests(gate_id: u64) {
    // Dropping a responder answers its request as failed.
    requests().as_mut().unwrap().retain(|_, r| !r.owners.iter().any(|o| o.id == gate_id));
}

/// Keeps a host request until `copilot_request_reply` / `copilot_request_fail` answers it (or
/// [`withdraw_request`] takes it back); returns its id. Refused (the responder is handed back)
/// while an owner is being freed.
pub(crate) fn register_request(
    owners: Gates,
    origin: (u64, u64),
    name: Option<String>,
    responder: Responder,
) -> Result<u64, Responder> {
    let mut g = requests();
    if any_closing(&owners) {
        return Err(responder);
    }
    let id = next_id();
    g.as_mut().unwrap().insert(id, PendingRequest { owners, origin, name, responder });
    Ok(id)
}

/// The core no longer wants the answer to the request `origin` names: takes it out of the
/// table (a later reply, fail or name is `COPILOT_ERR_UNKNOWN_ID`) and returns its id; None
/// when the host has answered it already. The core has answered the CLI itself: the responder
/// is dropped unused.
pub(crate) fn withdraw_request(origin: (u64, u64)) -> Option<u64> {
    let mut g = requests();
    let map = g.as_mut().unwrap();
    let id = map.iter().find(|(_, r)| r.origin == origin).map(|(id, _)| *id)?;
    map.remove(&id);
    Some(id)
}

/// `copilot_request_name`: the name of a pending request (None for kinds without one).
pub(crate) fn request_name(id: u64) -> Result<Option<String>, Failure> {
    match requests().as_mut().unwrap().get(&id) {
        Some(r) => Ok(r.name.clone()),
        None => Err(Failure::abi(COPILOT_ERR_UNKNOWN_ID, format!("no pending handler request {id}"))),
    }
}

/// `copilot_request_reply` / `copilot_request_fail`.
pub(crate) fn answer(id: u64, result: Result<Value, String>) -> Result<(), Failure> {
    let entry = requests().as_mut().unwrap().remove(&id);
    match (entry, result) {
        (Some(r), Ok(v)) => r.responder.reply(v),
        (Some(r), Err(message)) => r.responder.fail(message),
        (None, _) => return Err(Failure::abi(COPILOT_ERR_UNKNOWN_ID, format!("no pending handler request {id}"))),
    }
    Ok(())
}
