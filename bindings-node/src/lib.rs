//! Native half of the Node.js binding (`@copilot-hub/node`).
//!
//! This module is private: `index.js` wraps it with the public API. It only converts values and
//! delivers them on Node's thread; every decision (payloads, reply forms and defaults, ordering,
//! event filtering, implicit start) is the core's (`copilot_core::host`, `copilot_core::Client`).
//! - One tokio runtime: the core's, built with `copilot_core::runtime_builder()` and handed to
//!   napi at load time, so napi's async functions poll the core's futures on its own workers.
//! - Values cross as JSON text both ways: `JSON.stringify` in JS and `serde_json` here, or
//!   `serde_json` here (off the JS thread) and one `JSON.parse` in JS.
//! - A failed call rejects with an `Error` whose message is [`ERROR_MARK`] followed by a JSON
//!   object (`code`, `number`, `message`, `rpc`, `stderr`, `causes`, `transport`, `retriable`).
//! - A session's host stream (`copilot_core::host::HostStream`: events, host requests,
//!   cancellations of host requests and `sendAndWait` completions, in order) is drained by one
//!   task that encodes the ready messages and calls one weak thread-safe function once per
//!   batch; JS takes the batch (one JSON array) with `take()`. Messages that arrive before JS
//!   took the batch join it, so a busy JS thread gets bigger batches, not more calls. Weak
//!   functions never keep the event loop alive.
//! - A cancelled host request (`HostMessage::Cancelled`, after its request) reaches JS once,
//!   unless JS answered it first; JS aborts the handler's `AbortSignal`.

use copilot_core::host::{self, HostMessage, HostOptions, HostPort, HostStream, RequestKind, Responder};
use copilot_core::{self as core, ErrorKind, MessageOptions, SessionConfig, SessionListFilter};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod log;
mod pool;

/// Prefix of the message of every error this module raises; JSON details follow.
pub const ERROR_MARK: &str = "COPILOT_ERROR:";

/// Most host messages handed to JS in one call.
const MAX_BATCH: usize = 4096;

/// A JS function called from any thread with one string (JSON text); weak (does not keep the
/// event loop alive), not callee-handled (no error-first argument).
type JsSink = ThreadsafeFunction<String, (), String, Status, false, true>;

/// A weak JS function called from any thread without data: "take the session's batch".
type WakeSink = ThreadsafeFunction<(), (), (), Status, false, true>;

/// The process runs one tokio runtime: the core's, owned by napi from load time on.
#[napi_derive::module_init]
fn init() {
    let rt = core::runtime_builder().build().expect("cannot start the copilot-rt runtime");
    create_custom_tokio_runtime(rt);
}

fn error_json(e: &core::Error) -> Value {
    let mut causes = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        causes.push(Value::String(s.to_string()));
        src = s.source();
    }
    let mut v = json!({
        "code": e.code(),
        "number": e.kind().number(),
        "message": e.message(),
        "transport": e.is_transport_failure(),
        "retriable": e.is_retriable(),
        "causes": causes,
    });
    if let Some(r) = e.rpc_error() {
        v["rpc"] = json!({"code": r.code, "message": r.message, "data": r.data});
    }
    if let Some(t) = e.stderr_tail() {
        v["stderr"] = json!(t);
    }
    v
}

fn to_napi(e: core::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{ERROR_MARK}{}", error_json(&e)))
}

fn invalid(msg: impl Into<String>) -> napi::Error {
    to_napi(core::Error::new(ErrorKind::InvalidConfig, msg))
}

/// JSON text from JS (`JSON.stringify`); None and `"null"` are JSON null.
fn parse(text: Option<String>, what: &str) -> Result<Value> {
    match text {
        None => Ok(Value::Null),
        Some(t) => serde_json::from_str(&t).map_err(|e| invalid(format!("{what}: not JSON ({e})"))),
    }
}

/// JSON text for JS.
fn text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn core_text<T: Serialize>(r: core::Result<T>) -> Result<String> {
    r.map(|v| text(&v)).map_err(to_napi)
}

/// A per-call deadline from JS, in seconds: None keeps the client's `requestTimeout`
/// (`Default`), 0 is no deadline.
enum Deadline {
    Default,
    Override(Option<Duration>),
}

fn deadline(seconds: Option<f64>) -> Result<Deadline> {
    match seconds {
        None => Ok(Deadline::Default),
        Some(0.0) => Ok(Deadline::Override(None)),
        Some(s) => Duration::try_from_secs_f64(s)
            .map(|d| Deadline::Override(Some(d)))
            .map_err(|_| invalid(format!("timeout must be a non-negative number of seconds, got {s}"))),
    }
}

/// The Copilot CLI version this SDK is tested with.
#[napi]
pub fn pinned_cli_version() -> String {
    core::PINNED_CLI_VERSION.to_string()
}

/// The names of the request kinds a session sends to its host (the core's list).
#[napi]
pub fn request_kinds() -> Vec<String> {
    RequestKind::ALL.iter().map(|k| k.name().to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Client.

/// Private native client; use `CopilotClient` from the package instead.
#[napi]
pub struct NativeClient {
    inner: core::Client,
    /// Lifecycle subscriptions: their forwarding tasks.
    lifecycle: Mutex<HashMap<u32, tokio::task::AbortHandle>>,
    next_lifecycle: Mutex<u32>,
}

#[napi]
impl NativeClient {
    /// `options`: JSON text of the client options (camelCase or snake_case), checked at once.
    #[napi(constructor)]
    pub fn new(options: String) -> Result<Self> {
        let o = core::ClientOptions::from_json(&parse(Some(options), "client options")?).map_err(to_napi)?;
        Ok(NativeClient { inner: core::Client::new(o), lifecycle: Mutex::default(), next_lifecycle: Mutex::new(1) })
    }

    #[napi]
    pub async fn start(&self) -> Result<()> {
        self.inner.start().await.map_err(to_napi)
    }

    #[napi]
    pub async fn stop(&self) -> Result<()> {
        self.inner.stop().await.map_err(to_napi)
    }

    #[napi]
    pub async fn force_stop(&self) {
        self.inner.force_stop().await
    }

    /// JSON text of the ping response.
    #[napi]
    pub async fn ping(&self, message: Option<String>) -> Result<String> {
        core_text(self.inner.ping(message.as_deref()).await)
    }

    #[napi]
    pub async fn get_status(&self) -> Result<String> {
        core_text(self.inner.get_status().await)
    }

    #[napi]
    pub async fn get_auth_status(&self) -> Result<String> {
        core_text(self.inner.get_auth_status().await)
    }

    #[napi]
    pub async fn list_models(&self) -> Result<String> {
        core_text(self.inner.list_models().await)
    }

    /// `filter`: JSON text of `{cwd, gitRoot, repository, branch}` or null.
    #[napi]
    pub async fn list_sessions(&self, filter: Option<String>) -> Result<String> {
        core_text(self.inner.list_sessions(list_filter(filter)?).await)
    }

    /// JSON text of the session's metadata, or `null` when no such session is stored.
    #[napi]
    pub async fn get_session_metadata(&self, session_id: String) -> Result<String> {
        core_text(self.inner.get_session_metadata(&session_id).await)
    }

    #[napi]
    pub async fn delete_session(&self, session_id: String) -> Result<()> {
        self.inner.delete_session(&session_id).await.map_err(to_napi)
    }

    #[napi]
    pub async fn get_last_session_id(&self) -> Result<Option<String>> {
        self.inner.get_last_session_id().await.map_err(to_napi)
    }

    #[napi]
    pub async fn get_foreground_session_id(&self) -> Result<Option<String>> {
        self.inner.get_foreground_session_id().await.map_err(to_napi)
    }

    #[napi]
    pub async fn set_foreground_session_id(&self, session_id: String) -> Result<()> {
        self.inner.set_foreground_session_id(&session_id).await.map_err(to_napi)
    }

    /// `params`: JSON text or null (`{}`); `timeout`: seconds (0: none; null: the client's
    /// `requestTimeout`); resolves to the JSON text of the result.
    #[napi]
    pub async fn rpc(&self, method: String, params: Option<String>, timeout: Option<f64>) -> Result<String> {
        let params = match parse(params, "rpc params")? {
            Value::Null => json!({}),
            p => p,
        };
        core_text(match deadline(timeout)? {
            Deadline::Default => self.inner.call(&method, params).await,
            Deadline::Override(t) => self.inner.call_with_timeout(&method, params, t).await,
        })
    }

    /// A session of this client, not open yet: `config` is the JSON text of the session
    /// options (functions removed), `host` the JSON text of the core's host options
    /// (`{handlers, tools, hooks}`). `wake` is called (on Node's thread) when messages of the
    /// session's host stream are ready for `take()`: events, host requests, `sendAndWait`
    /// completions, the end and cancelled host requests, in order, as
    /// `[0, subscriptionIds, event]`, `[1, requestId, kind, name, payload]`,
    /// `[2, callId, ok, resultOrError]`, `[3]`, `[4, requestId, reason]`.
    #[napi(ts_args_type = "config: string, host: string, wake: () => void")]
    pub fn session(&self, config: String, host: String, wake: WakeSink) -> Result<NativeSession> {
        NativeSession::new(Opener::Client(self.inner.clone()), config, host, wake)
    }

    /// Lifecycle notifications (of these types; all: null) to `sink` as JSON text, from now on
    /// (also across restarts) until `offLifecycle`. Returns the subscription id.
    #[napi(ts_args_type = "types: string[] | null, sink: (event: string) => void")]
    pub fn on_lifecycle(&self, types: Option<Vec<String>>, sink: JsSink) -> u32 {
        let mut stream = self.inner.subscribe_lifecycle_types(types);
        let task = spawn(async move {
            while let Some(ev) = stream.recv().await {
                sink.call(text(&ev), ThreadsafeFunctionCallMode::NonBlocking);
            }
        });
        let mut next = self.next_lifecycle.lock().unwrap();
        let id = *next;
        *next += 1;
        self.lifecycle.lock().unwrap().insert(id, task.abort_handle());
        id
    }

    #[napi]
    pub fn off_lifecycle(&self, id: u32) {
        if let Some(task) = self.lifecycle.lock().unwrap().remove(&id) {
            task.abort();
        }
    }

    /// Whether the client is started (and not stopped since).
    #[napi(getter)]
    pub fn connected(&self) -> bool {
        self.inner.protocol_version().is_some()
    }

    #[napi(getter)]
    pub fn port(&self) -> Option<u32> {
        self.inner.port().map(u32::from)
    }

    #[napi(getter)]
    pub fn cli_pid(&self) -> Option<u32> {
        self.inner.cli_pid()
    }

    #[napi(getter)]
    pub fn protocol_version(&self) -> Option<u32> {
        self.inner.protocol_version()
    }

    #[napi(getter)]
    pub fn server_version(&self) -> Option<String> {
        self.inner.server_version()
    }

    /// JSON text of this client's counters (`{calls, errors, reconnects, connectionLosses,
    /// failoversIn, failoversOut, openSessions, turns}`).
    #[napi]
    pub fn metrics(&self) -> String {
        text(&self.inner.metrics())
    }

    /// This client's counters in the Prometheus text format.
    #[napi]
    pub fn metrics_prometheus(&self) -> String {
        self.inner.metrics_prometheus()
    }

    /// `options`: JSON text of `{maxAge, maxIdle, includeOpen}` (seconds); resolves to the JSON
    /// text of the deleted sessions' metadata.
    #[napi]
    pub async fn cleanup_sessions(&self, options: String) -> Result<String> {
        let o = cleanup_options(options)?;
        core_text(self.inner.cleanup_sessions(o).await)
    }

    /// A background reaper sweeping every `interval` seconds; each sweep that deleted something
    /// or failed is a `reaper.swept` lifecycle notification.
    #[napi]
    pub fn start_reaper(&self, interval: f64, options: String) -> Result<NativeReaper> {
        NativeReaper::start(interval, options, |every, o| self.inner.start_reaper(every, o))
    }
}

/// A session list filter from JS: the JSON text of `{cwd, gitRoot, repository, branch}`, or null.
fn list_filter(filter: Option<String>) -> Result<Option<SessionListFilter>> {
    match parse(filter, "session list filter")? {
        Value::Null => Ok(None),
        f => serde_json::from_value(f).map(Some).map_err(|e| invalid(format!("session list filter: {e}"))),
    }
}

fn cleanup_options(options: String) -> Result<core::CleanupOptions> {
    core::CleanupOptions::from_json(&parse(Some(options), "cleanup options")?).map_err(to_napi)
}

/// Private native reaper; `startReaper` of the package returns `{stop()}` over it.
#[napi]
pub struct NativeReaper {
    inner: Mutex<Option<core::Reaper>>,
}

impl NativeReaper {
    /// Checks `interval` (seconds, above zero) and the JSON text of the cleanup options, then
    /// starts the core's reaper with them (inside the runtime: it spawns a task).
    fn start(
        interval: f64,
        options: String,
        start: impl FnOnce(Duration, core::CleanupOptions) -> core::Result<core::Reaper>,
    ) -> Result<NativeReaper> {
        let o = cleanup_options(options)?;
        let every = match Duration::try_from_secs_f64(interval) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                return Err(invalid(format!(
                    "the reaper's interval must be a positive number of seconds, got {interval}"
                )));
            }
        };
        let r = within_runtime_if_available(|| start(every, o)).map_err(to_napi)?;
        Ok(NativeReaper { inner: Mutex::new(Some(r)) })
    }
}

#[napi]
impl NativeReaper {
    /// Stops sweeping (idempotent).
    #[napi]
    pub fn stop(&self) {
        if let Some(r) = self.inner.lock().unwrap().take() {
            r.stop();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The host stream, to JS.

/// The host requests JS is running, by the core's request id (the id JS answers with). An
/// answered or cancelled request leaves: a late answer finds nothing, a late cancellation too.
#[derive(Default)]
struct Responders {
    state: Mutex<HashMap<u64, Responder>>,
}

impl Responders {
    fn insert(&self, id: u64, responder: Responder) {
        self.state.lock().unwrap().insert(id, responder);
    }

    fn remove(&self, id: u64) -> Option<Responder> {
        self.state.lock().unwrap().remove(&id)
    }

    /// The responder of request `id` (a JS number), unless it was answered or cancelled.
    fn take(&self, id: i64) -> Option<Responder> {
        self.remove(u64::try_from(id).ok()?)
    }

    /// Request `id` is no longer wanted: true when JS still runs its handler (and must be told).
    /// Its responder is dropped unanswered: the core answered the CLI already.
    fn cancel(&self, id: u64) -> bool {
        self.remove(id).is_some()
    }
}

/// The messages the drain task encoded and JS has not taken yet: the elements of a JSON array
/// (see [`NativeClient::session`]), and whether JS was told to take them.
struct Outbox {
    state: Mutex<(Vec<u8>, bool)>,
}

impl Outbox {
    fn new() -> Outbox {
        Outbox { state: Mutex::new((b"[".to_vec(), false)) }
    }

    /// Appends encoded messages; true when JS must be told (it was not yet).
    fn push(&self, encoded: &[u8]) -> bool {
        let mut st = self.state.lock().unwrap();
        if st.0.len() > 1 {
            st.0.push(b',');
        }
        st.0.extend_from_slice(encoded);
        !std::mem::replace(&mut st.1, true)
    }

    /// Everything queued, as the JSON text of an array; None when nothing is.
    fn take(&self) -> Option<String> {
        let mut st = self.state.lock().unwrap();
        st.1 = false;
        if st.0.len() == 1 {
            return None;
        }
        let mut out = std::mem::replace(&mut st.0, b"[".to_vec());
        drop(st);
        out.push(b']');
        Some(String::from_utf8(out).expect("serde_json writes UTF-8"))
    }
}

/// Messages as the comma-separated JSON texts of the elements of a batch (empty when none is
/// for JS).
fn encode(batch: Vec<HostMessage>, responders: &Responders) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 * batch.len());
    for m in batch {
        let sep = out.len();
        if sep > 0 {
            out.push(b',');
        }
        let written = match m {
            HostMessage::Event { event, subscriptions } => {
                serde_json::to_writer(&mut out, &(0, subscriptions, &*event))
            }
            HostMessage::Request(req) => {
                responders.insert(req.id, req.responder);
                serde_json::to_writer(&mut out, &(1, req.id, req.kind.name(), req.name, req.payload))
            }
            HostMessage::Cancelled { request, reason } => {
                if !responders.cancel(request) {
                    out.truncate(sep); // JS answered it already
                    continue;
                }
                serde_json::to_writer(&mut out, &(4, request, reason))
            }
            HostMessage::Completion { call, result: Ok(v) } => serde_json::to_writer(&mut out, &(2, call, true, v)),
            HostMessage::Completion { call, result: Err(e) } => {
                serde_json::to_writer(&mut out, &(2, call, false, error_json(&e)))
            }
            HostMessage::End => serde_json::to_writer(&mut out, &(3,)),
        };
        written.expect("host messages are JSON");
    }
    out
}

/// The session's one reader: encodes what is ready (off the JS thread) into the outbox and
/// tells JS once, until JS takes it; whatever arrives meanwhile joins that batch. So JS gets
/// one call per batch, and a busy JS thread gets bigger batches, not more calls.
async fn drain(mut stream: HostStream, wake: WakeSink, outbox: Arc<Outbox>, responders: Arc<Responders>) {
    while let Some(batch) = stream.recv_batch(MAX_BATCH).await {
        let encoded = encode(batch, &responders);
        if !encoded.is_empty()
            && outbox.push(&encoded)
            && wake.call((), ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok
        {
            break; // the JS environment is gone
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Session.

/// Where a session is opened: one server's client, or a pool (which places it, leases it and
/// moves it). Both open through the core's own path.
pub(crate) enum Opener {
    Client(core::Client),
    Pool(core::Pool),
}

/// Private native session; use `CopilotSession` from the package instead.
#[napi]
pub struct NativeSession {
    opener: Opener,
    /// The config until `open` takes it.
    config: Mutex<Option<SessionConfig>>,
    session: OnceLock<core::Session>,
    port: HostPort,
    responders: Arc<Responders>,
    outbox: Arc<Outbox>,
    next_call: Mutex<u32>,
}

impl NativeSession {
    /// A session of `opener`, not open yet (see [`NativeClient::session`]).
    pub(crate) fn new(opener: Opener, config: String, host: String, wake: WakeSink) -> Result<NativeSession> {
        let mut cfg = SessionConfig::from_json(&parse(Some(config), "session config")?).map_err(to_napi)?;
        let options = HostOptions::from_json(&parse(Some(host), "host options")?).map_err(to_napi)?;
        let (port, stream) = host::attach(&mut cfg, options).map_err(to_napi)?;
        let responders = Arc::new(Responders::default());
        let outbox = Arc::new(Outbox::new());
        spawn(drain(stream, wake, outbox.clone(), responders.clone()));
        Ok(NativeSession {
            opener,
            config: Mutex::new(Some(cfg)),
            session: OnceLock::new(),
            port,
            responders,
            outbox,
            next_call: Mutex::new(1),
        })
    }

    fn session(&self) -> Result<core::Session> {
        self.session.get().cloned().ok_or_else(|| {
            to_napi(core::Error::new(ErrorKind::NotConnected, "the session is not open (create or resume failed)"))
        })
    }
}

#[napi]
impl NativeSession {
    /// The session's host messages queued since the last call, as the JSON text of an array
    /// (see `NativeClient.session`); null when there are none.
    #[napi]
    pub fn take(&self) -> Option<String> {
        self.outbox.take()
    }

    /// Delivers events of these types (all: null) from now on; returns the id the batches
    /// list with each event.
    #[napi]
    pub fn subscribe(&self, types: Option<Vec<String>>) -> u32 {
        self.port.subscribe(types) as u32
    }

    #[napi]
    pub fn unsubscribe(&self, id: u32) -> bool {
        self.port.unsubscribe(u64::from(id))
    }

    /// Creates the session, or resumes `resumeId`.
    #[napi]
    pub async fn open(&self, resume_id: Option<String>) -> Result<()> {
        let cfg = self.config.lock().unwrap().take().ok_or_else(|| invalid("the session was opened already"))?;
        let opened = match (&self.opener, resume_id) {
            (Opener::Client(c), Some(id)) => c.resume_session(&id, Some(cfg)).await,
            (Opener::Client(c), None) => c.create_session(cfg).await,
            (Opener::Pool(p), Some(id)) => p.resume_session(&id, Some(cfg)).await,
            (Opener::Pool(p), None) => p.create_session(cfg).await,
        };
        let s = opened.map_err(to_napi)?;
        let _ = self.session.set(s);
        Ok(())
    }

    #[napi(getter)]
    pub fn session_id(&self) -> Option<String> {
        self.session.get().map(|s| s.id().to_owned())
    }

    /// The fencing token of the session's lease (pooled sessions with a lease store).
    #[napi(getter)]
    pub fn lease_token(&self) -> Option<i64> {
        self.session.get().and_then(core::Session::lease_token).map(|t| t as i64)
    }

    /// The URL of the server a pooled session is on now.
    #[napi(getter)]
    pub fn server(&self) -> Option<String> {
        self.session.get().and_then(core::Session::server)
    }

    #[napi(getter)]
    pub fn workspace_path(&self) -> Option<String> {
        self.session.get().and_then(core::Session::workspace_path)
    }

    /// JSON text of the `session.create` / `session.resume` result.
    #[napi(getter)]
    pub fn info(&self) -> String {
        text(&self.session.get().map(core::Session::info))
    }

    /// `options`: JSON text of the message options; resolves to the message id.
    #[napi]
    pub async fn send(&self, options: String) -> Result<String> {
        let o = MessageOptions::from_json(&parse(Some(options), "message options")?).map_err(to_napi)?;
        self.session()?.send(o).await.map_err(to_napi)
    }

    /// Starts a send-and-wait; its result arrives on the sink as a completion of the returned
    /// call id, after the events of the turn.
    #[napi]
    pub fn send_and_wait(&self, options: String) -> Result<u32> {
        let o = MessageOptions::from_json(&parse(Some(options), "message options")?).map_err(to_napi)?;
        let s = self.session()?;
        let call = {
            let mut next = self.next_call.lock().unwrap();
            *next = next.wrapping_add(1);
            *next
        };
        within_runtime_if_available(|| {
            self.port.spawn_call(u64::from(call), async move {
                let answer = s.send_and_wait(o).await?;
                Ok(serde_json::to_value(answer).unwrap_or(Value::Null))
            })
        });
        Ok(call)
    }

    /// Cancels a send-and-wait: it completes at once with a `cancelled` error. The turn itself
    /// keeps running (call `abort` to stop it).
    #[napi]
    pub fn cancel_wait(&self, call: u32, reason: Option<String>) -> bool {
        self.port.cancel_call(u64::from(call), reason.as_deref())
    }

    /// Answers host request `id` with the JSON text the JS handler returned (any form the
    /// request kind accepts: the core reads it). Late, repeated or cancelled answers are
    /// ignored.
    #[napi]
    pub fn reply(&self, id: i64, value: String) {
        if let Some(r) = self.responders.take(id) {
            match serde_json::from_str(&value) {
                Ok(v) => r.reply(v),
                Err(e) => r.fail(format!("the handler's value is not JSON: {e}")),
            }
        }
    }

    /// The JS handler of request `id` threw (or rejected) with this message.
    #[napi]
    pub fn fail(&self, id: i64, message: String) {
        if let Some(r) = self.responders.take(id) {
            r.fail(message);
        }
    }

    #[napi]
    pub async fn abort(&self) -> Result<()> {
        self.session()?.abort().await.map_err(to_napi)
    }

    /// JSON text of the persisted events.
    #[napi]
    pub async fn get_messages(&self) -> Result<String> {
        core_text(self.session()?.get_messages().await)
    }

    #[napi]
    pub async fn set_model(&self, model: String, reasoning_effort: Option<String>) -> Result<String> {
        core_text(self.session()?.set_model(&model, reasoning_effort.as_deref()).await)
    }

    /// `params`: JSON text or null; `timeout`: seconds (0: none; null: the client's
    /// `requestTimeout`); resolves to the JSON text of the result.
    #[napi]
    pub async fn rpc(&self, method: String, params: Option<String>, timeout: Option<f64>) -> Result<String> {
        let params = parse(params, "rpc params")?;
        let session = self.session()?;
        core_text(match deadline(timeout)? {
            Deadline::Default => session.call(&method, params).await,
            Deadline::Override(t) => session.call_with_timeout(&method, params, t).await,
        })
    }

    /// The `session.ui` helpers (`elicitation`, `confirm`, `select`, `input`): `params` is JSON
    /// text; resolves to the JSON text of the answer.
    #[napi]
    pub async fn ui(&self, op: String, params: Option<String>) -> Result<String> {
        let params = parse(params, "ui params")?;
        core_text(self.session()?.ui(&op, params).await)
    }

    #[napi]
    pub async fn disconnect(&self) -> Result<()> {
        self.session()?.disconnect().await.map_err(to_napi)
    }
}
