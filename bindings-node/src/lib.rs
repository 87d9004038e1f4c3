//! Native half of the Node.js binding (`@copilot-hub/node`).
//!
//! This module is private: `index.js` wraps it with the public, idiomatic API. The contract:
//! - every core future runs on `copilot_core::runtime()`; napi only polls the join handle;
//! - values cross as JSON (`serde_json::Value` <-> JS objects);
//! - a failed call rejects with an `Error` whose message is [`ERROR_MARK`] followed by a JSON
//!   object (`code`, `number`, `message`, `rpc`, `stderr`, `causes`, `transport`); the JS wrapper
//!   turns it into a `CopilotError` with `.code`;
//! - everything a session sends to JS (events, handler calls, `sendAndWait` completions) goes
//!   through ONE weak thread-safe function per session, in order: a completion is queued only
//!   after the events of its turn, so listeners have seen them when the Promise settles. Weak
//!   functions never keep the event loop alive; the JS side holds a ref'd handle only while a
//!   Promise or an iterator is waiting.

use copilot_core::{
    self as core, ErrorKind, MessageOptions, PermissionDecision, PermissionRequest, SessionConfig, SessionEvent,
    SessionListFilter, ToolInvocation, ToolResult, UserInputRequest, UserInputResponse,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Prefix of the message of every error this module raises; JSON details follow.
pub const ERROR_MARK: &str = "COPILOT_ERROR:";

/// A JS function called from any thread with one JSON argument; weak (does not keep the event
/// loop alive) and not callee-handled (no error-first argument).
type JsSink = ThreadsafeFunction<Value, (), Value, Status, false, true>;

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

fn core_err(kind: ErrorKind, msg: impl Into<String>) -> core::Error {
    core::Error::new(kind, msg)
}

fn invalid(msg: impl Into<String>) -> napi::Error {
    to_napi(core_err(ErrorKind::InvalidConfig, msg))
}

/// Runs a core future on the core runtime and awaits it from napi's side.
async fn on_core<T: Send + 'static>(fut: impl Future<Output = core::Result<T>> + Send + 'static) -> Result<T> {
    match core::runtime().spawn(fut).await {
        Ok(r) => r.map_err(to_napi),
        Err(e) => Err(to_napi(core_err(ErrorKind::Internal, format!("core task failed: {e}")))),
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Replies from JS handlers.

type Reply = std::result::Result<Value, Value>;

static NEXT_CALL: AtomicU32 = AtomicU32::new(1);
static PENDING: Mutex<Option<HashMap<u32, oneshot::Sender<Reply>>>> = Mutex::new(None);

fn pending_insert(tx: oneshot::Sender<Reply>) -> u32 {
    let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
    PENDING.lock().unwrap().get_or_insert_with(HashMap::new).insert(id, tx);
    id
}

fn pending_take(id: u32) -> Option<oneshot::Sender<Reply>> {
    PENDING.lock().unwrap().as_mut().and_then(|m| m.remove(&id))
}

/// Settles a handler call: `ok` with the handler's value, or not `ok` with
/// `{message, code?, name?}` from the thrown error. Unknown ids are ignored (late replies).
#[napi]
pub fn reply(id: u32, ok: bool, value: Option<Value>) {
    if let Some(tx) = pending_take(id) {
        let v = value.unwrap_or(Value::Null);
        let _ = tx.send(if ok { Ok(v) } else { Err(v) });
    }
}

/// The stable error table of the core: `[{code, number}]` in number order.
#[napi]
pub fn error_codes() -> Value {
    Value::Array(ErrorKind::ALL.iter().map(|k| json!({"code": k.code(), "number": k.number()})).collect())
}

/// The Copilot CLI version this SDK is tested with.
#[napi]
pub fn pinned_cli_version() -> String {
    core::PINNED_CLI_VERSION.to_string()
}

// ---------------------------------------------------------------------------------------------
// The per-session ordered channel to JS.

struct PumpState {
    /// Ids of the events already queued to JS (recent ones).
    recent: VecDeque<String>,
    /// Completions waiting for an event id to be queued first.
    waiting: Vec<(String, Value)>,
}

struct Pump {
    sink: JsSink,
    state: Mutex<PumpState>,
}

impl Pump {
    fn new(sink: JsSink) -> Arc<Pump> {
        Arc::new(Pump { sink, state: Mutex::new(PumpState { recent: VecDeque::new(), waiting: Vec::new() }) })
    }

    fn send_locked(&self, msg: Value) {
        self.sink.call(msg, ThreadsafeFunctionCallMode::NonBlocking);
    }

    fn send(&self, msg: Value) {
        let _g = self.state.lock().unwrap();
        self.send_locked(msg);
    }

    fn event(&self, ev: &SessionEvent) {
        let mut st = self.state.lock().unwrap();
        self.send_locked(json!({"k": "event", "event": to_value(ev)}));
        if ev.id.is_empty() {
            return;
        }
        st.recent.push_back(ev.id.clone());
        if st.recent.len() > 1024 {
            st.recent.pop_front();
        }
        if st.waiting.iter().any(|(id, _)| *id == ev.id) {
            let waiting = std::mem::take(&mut st.waiting);
            for (id, msg) in waiting {
                if id == ev.id {
                    self.send_locked(msg);
                } else {
                    st.waiting.push((id, msg));
                }
            }
        }
    }

    /// Queues `msg` right after the event `after` (at once if it was already queued).
    fn after_event(self: &Arc<Self>, after: Option<String>, msg: Value) {
        let mut st = self.state.lock().unwrap();
        match after {
            Some(id) if !st.recent.contains(&id) => {
                st.waiting.push((id.clone(), msg));
                // The event should follow within microseconds; never wait on it forever.
                let me = self.clone();
                core::runtime().spawn(async move {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    me.flush(&id);
                });
            }
            _ => self.send_locked(msg),
        }
    }

    fn flush(&self, id: &str) {
        let mut st = self.state.lock().unwrap();
        let waiting = std::mem::take(&mut st.waiting);
        for (w, msg) in waiting {
            if w == id {
                self.send_locked(msg);
            } else {
                st.waiting.push((w, msg));
            }
        }
    }

    /// Asks JS to run a handler and waits for its reply.
    async fn call(&self, kind: &str, name: Option<&str>, payload: Value) -> core::Result<Value> {
        let (tx, rx) = oneshot::channel();
        let id = pending_insert(tx);
        let mut msg = json!({"k": "call", "id": id, "kind": kind, "payload": payload});
        if let Some(n) = name {
            msg["name"] = json!(n);
        }
        let status = {
            let _g = self.state.lock().unwrap();
            self.sink.call(msg, ThreadsafeFunctionCallMode::NonBlocking)
        };
        if status != Status::Ok {
            pending_take(id);
            return Err(core_err(ErrorKind::HandlerFailed, format!("{kind} handler could not be called ({status})")));
        }
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let msg = e.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| e.to_string());
                Err(core_err(ErrorKind::HandlerFailed, msg))
            }
            Err(_) => Err(core_err(ErrorKind::HandlerFailed, format!("{kind} handler was dropped"))),
        }
    }
}

/// Tells JS that the session's event stream ended (disconnected, client stopped, connection
/// lost) once the core drops the event callback.
struct ClosedSignal(Arc<Pump>);
impl Drop for ClosedSignal {
    fn drop(&mut self) {
        self.0.send(json!({"k": "closed"}));
    }
}

/// Which host handlers the JS side registered (functions stay in JS).
fn handler_flags(flags: &Value, key: &str) -> bool {
    flags.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn build_config(config: Option<Value>, flags: &Value, pump: &Arc<Pump>) -> Result<SessionConfig> {
    let mut c = SessionConfig::from_json(&config.unwrap_or(Value::Null)).map_err(to_napi)?;
    // Tools declared without a JS handler are executed elsewhere (another connection).
    let with_handler: Vec<&str> = flags
        .get("tools")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for tool in c.tools.iter_mut().filter(|t| with_handler.contains(&t.name.as_str())) {
        let name = tool.name.clone();
        let p = pump.clone();
        tool.handler = Some(Arc::new(move |inv: ToolInvocation| {
            let p = p.clone();
            let name = name.clone();
            async move {
                let payload = json!({
                    "sessionId": inv.session_id,
                    "toolCallId": inv.tool_call_id,
                    "toolName": inv.tool_name,
                    "arguments": inv.arguments,
                    "workingDirectory": inv.working_directory,
                });
                p.call("tool", Some(&name), payload).await.map(ToolResult::from_json)
            }
        }));
    }
    if handler_flags(flags, "permission") {
        let p = pump.clone();
        c.on_permission_request = Some(Arc::new(move |req: PermissionRequest| {
            let p = p.clone();
            async move {
                let payload = json!({"sessionId": req.session_id, "requestId": req.request_id, "request": req.request});
                let v = p.call("permission", None, payload).await?;
                PermissionDecision::from_json(&v)
                    .map_err(|e| core_err(ErrorKind::HandlerFailed, e.message().to_owned()))
            }
        }));
    }
    if handler_flags(flags, "userInput") {
        let p = pump.clone();
        c.on_user_input_request = Some(Arc::new(move |req: UserInputRequest| {
            let p = p.clone();
            async move {
                let payload = json!({
                    "sessionId": req.session_id,
                    "question": req.question,
                    "choices": req.choices,
                    "allowFreeform": req.allow_freeform,
                    "raw": req.raw,
                });
                let v = p.call("userInput", None, payload).await?;
                match v {
                    Value::String(answer) => Ok(UserInputResponse { answer, was_freeform: true }),
                    Value::Object(ref o) if o.get("answer").is_some_and(Value::is_string) => Ok(UserInputResponse {
                        answer: o["answer"].as_str().unwrap_or_default().to_owned(),
                        was_freeform: o.get("wasFreeform").and_then(Value::as_bool).unwrap_or(false),
                    }),
                    other => Err(core_err(
                        ErrorKind::HandlerFailed,
                        format!("the user input handler must return a string or {{answer, wasFreeform}}, got {other}"),
                    )),
                }
            }
        }));
    }
    let json_handler = |kind: &'static str| -> Arc<dyn core::JsonHandler> {
        let p = pump.clone();
        Arc::new(move |params: Value| {
            let p = p.clone();
            async move { p.call(kind, None, params).await }
        })
    };
    if handler_flags(flags, "hooks") {
        c.on_hook = Some(json_handler("hook"));
    }
    if handler_flags(flags, "systemMessageTransform") {
        c.on_system_message_transform = Some(json_handler("systemMessageTransform"));
    }
    if handler_flags(flags, "exitPlanMode") {
        c.on_exit_plan_mode = Some(json_handler("exitPlanMode"));
    }
    if handler_flags(flags, "providerToken") {
        c.on_provider_token = Some(json_handler("providerToken"));
    }
    let signal = Arc::new(ClosedSignal(pump.clone()));
    c.on_event = Some(Arc::new(move |ev: &SessionEvent| signal.0.event(ev)));
    Ok(c)
}

// ---------------------------------------------------------------------------------------------
// Client.

/// Private native client; use `CopilotClient` from the package instead.
#[napi]
pub struct NativeClient {
    inner: core::Client,
}

#[napi]
impl NativeClient {
    /// Validates the options (camelCase or snake_case) at once; connects on `start`.
    #[napi(constructor)]
    pub fn new(options: Option<Value>) -> Result<Self> {
        let o = core::ClientOptions::from_json(&options.unwrap_or(Value::Null)).map_err(to_napi)?;
        Ok(NativeClient { inner: core::Client::new(o) })
    }

    #[napi]
    pub async fn start(&self) -> Result<()> {
        let c = self.inner.clone();
        on_core(async move { c.start().await }).await
    }

    #[napi]
    pub async fn stop(&self) -> Result<()> {
        let c = self.inner.clone();
        on_core(async move { c.stop().await }).await
    }

    #[napi]
    pub async fn force_stop(&self) -> Result<()> {
        let c = self.inner.clone();
        on_core(async move {
            c.force_stop().await;
            Ok(())
        })
        .await
    }

    #[napi]
    pub async fn ping(&self, message: Option<String>) -> Result<Value> {
        let c = self.inner.clone();
        on_core(async move { c.ping(message.as_deref()).await.map(|r| to_value(&r)) }).await
    }

    #[napi]
    pub async fn get_status(&self) -> Result<Value> {
        let c = self.inner.clone();
        on_core(async move { c.get_status().await.map(|r| to_value(&r)) }).await
    }

    #[napi]
    pub async fn get_auth_status(&self) -> Result<Value> {
        let c = self.inner.clone();
        on_core(async move { c.get_auth_status().await.map(|r| to_value(&r)) }).await
    }

    #[napi]
    pub async fn list_models(&self) -> Result<Value> {
        let c = self.inner.clone();
        on_core(async move { c.list_models().await.map(Value::Array) }).await
    }

    /// `config`: session options without functions; `flags`: which handlers JS registered;
    /// `sink`: receives `{k: "event"|"call"|"done"|"closed", ...}` in order.
    #[napi(ts_args_type = "config: any, flags: any, sink: (msg: any) => void")]
    pub async fn create_session(&self, config: Option<Value>, flags: Value, sink: JsSink) -> Result<NativeSession> {
        let pump = Pump::new(sink);
        let cfg = build_config(config, &flags, &pump)?;
        let c = self.inner.clone();
        let session = on_core(async move { c.create_session(cfg).await }).await?;
        Ok(NativeSession::new(session, pump))
    }

    #[napi(ts_args_type = "sessionId: string, config: any, flags: any, sink: (msg: any) => void")]
    pub async fn resume_session(
        &self,
        session_id: String,
        config: Option<Value>,
        flags: Value,
        sink: JsSink,
    ) -> Result<NativeSession> {
        let pump = Pump::new(sink);
        let cfg = build_config(config, &flags, &pump)?;
        let c = self.inner.clone();
        let session = on_core(async move { c.resume_session(&session_id, Some(cfg)).await }).await?;
        Ok(NativeSession::new(session, pump))
    }

    #[napi]
    pub async fn list_sessions(&self, filter: Option<Value>) -> Result<Value> {
        let filter: Option<SessionListFilter> = match filter {
            None | Some(Value::Null) => None,
            Some(f) => Some(serde_json::from_value(f).map_err(|e| invalid(format!("session list filter: {e}")))?),
        };
        let c = self.inner.clone();
        on_core(async move { c.list_sessions(filter).await.map(|l| to_value(&l)) }).await
    }

    #[napi]
    pub async fn delete_session(&self, session_id: String) -> Result<()> {
        let c = self.inner.clone();
        on_core(async move { c.delete_session(&session_id).await }).await
    }

    #[napi]
    pub async fn get_last_session_id(&self) -> Result<Option<String>> {
        let c = self.inner.clone();
        on_core(async move { c.get_last_session_id().await }).await
    }

    #[napi]
    pub async fn get_foreground_session_id(&self) -> Result<Option<String>> {
        let c = self.inner.clone();
        on_core(async move { c.get_foreground_session_id().await }).await
    }

    #[napi]
    pub async fn set_foreground_session_id(&self, session_id: String) -> Result<()> {
        let c = self.inner.clone();
        on_core(async move { c.set_foreground_session_id(&session_id).await }).await
    }

    #[napi]
    pub async fn rpc(&self, method: String, params: Option<Value>) -> Result<Value> {
        let c = self.inner.clone();
        let params = match params {
            None | Some(Value::Null) => json!({}),
            Some(p) => p,
        };
        on_core(async move { c.rpc(&method, params).await }).await
    }

    /// Lifecycle notifications (`{type, sessionId, metadata?}`) to `sink` until `stop`.
    #[napi(ts_args_type = "sink: (event: any) => void")]
    pub fn subscribe_lifecycle(&self, sink: JsSink) -> Result<()> {
        let mut stream = self.inner.subscribe_lifecycle().map_err(to_napi)?;
        core::runtime().spawn(async move {
            while let Some(ev) = stream.recv().await {
                sink.call(to_value(&ev), ThreadsafeFunctionCallMode::NonBlocking);
            }
        });
        Ok(())
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
}

// ---------------------------------------------------------------------------------------------
// Session.

/// Private native session; use `CopilotSession` from the package instead.
#[napi]
pub struct NativeSession {
    inner: core::Session,
    pump: Arc<Pump>,
    /// Pending send-and-waits: registered before their task starts (the abort handle follows),
    /// so a task that finishes at once still finds its entry and reports.
    waits: Arc<Mutex<HashMap<u32, Option<tokio::task::AbortHandle>>>>,
}

impl NativeSession {
    fn new(inner: core::Session, pump: Arc<Pump>) -> Self {
        NativeSession { inner, pump, waits: Arc::default() }
    }
}

#[napi]
impl NativeSession {
    #[napi(getter)]
    pub fn session_id(&self) -> String {
        self.inner.id().to_owned()
    }

    #[napi(getter)]
    pub fn workspace_path(&self) -> Option<String> {
        self.inner.workspace_path()
    }

    #[napi(getter)]
    pub fn info(&self) -> Value {
        self.inner.info()
    }

    #[napi]
    pub async fn send(&self, options: Value) -> Result<String> {
        let o = MessageOptions::from_json(&options).map_err(to_napi)?;
        let s = self.inner.clone();
        on_core(async move { s.send(o).await }).await
    }

    /// Starts a send-and-wait whose result arrives on the sink as
    /// `{k: "done", id, ok, value | error}`, after the events of the turn.
    #[napi]
    pub fn send_and_wait(&self, id: u32, options: Value) -> Result<()> {
        let o = MessageOptions::from_json(&options).map_err(to_napi)?;
        let s = self.inner.clone();
        let pump = self.pump.clone();
        let waits = self.waits.clone();
        self.waits.lock().unwrap().insert(id, None);
        let task = core::runtime().spawn(async move {
            // Everything published until the answer is in `seen`; the completion is queued
            // after the last of those events reached JS.
            let mut seen = s.subscribe();
            let r = s.send_and_wait(o).await;
            let mut last = None;
            while let Some(ev) = seen.try_recv() {
                if !ev.id.is_empty() {
                    last = Some(ev.id.clone());
                }
            }
            let msg = match r {
                Ok(ev) => {
                    json!({"k": "done", "id": id, "ok": true, "value": ev.map(|e| to_value(&e))})
                }
                Err(e) => json!({"k": "done", "id": id, "ok": false, "error": error_json(&e)}),
            };
            if waits.lock().unwrap().remove(&id).is_some() {
                pump.after_event(last, msg);
            }
        });
        if let Some(slot) = self.waits.lock().unwrap().get_mut(&id) {
            *slot = Some(task.abort_handle());
        }
        Ok(())
    }

    /// Cancels a pending send-and-wait: it settles at once with a `cancelled` error. The turn
    /// itself keeps running (call `abort` to stop it).
    #[napi]
    pub fn cancel_wait(&self, id: u32, reason: Option<String>) {
        if let Some(h) = self.waits.lock().unwrap().remove(&id) {
            if let Some(h) = h {
                h.abort();
            }
            let e = core_err(ErrorKind::Cancelled, reason.unwrap_or_else(|| "sendAndWait was cancelled".into()));
            self.pump.send(json!({"k": "done", "id": id, "ok": false, "error": error_json(&e)}));
        }
    }

    #[napi]
    pub async fn abort(&self) -> Result<()> {
        let s = self.inner.clone();
        on_core(async move { s.abort().await }).await
    }

    #[napi]
    pub async fn get_messages(&self) -> Result<Value> {
        let s = self.inner.clone();
        on_core(async move { s.get_messages().await.map(|l| to_value(&l)) }).await
    }

    #[napi]
    pub async fn set_model(&self, model: String, reasoning_effort: Option<String>) -> Result<Value> {
        let s = self.inner.clone();
        on_core(async move { s.set_model(&model, reasoning_effort.as_deref()).await }).await
    }

    #[napi]
    pub async fn rpc(&self, method: String, params: Option<Value>) -> Result<Value> {
        let s = self.inner.clone();
        on_core(async move { s.rpc(&method, params.unwrap_or(Value::Null)).await }).await
    }

    #[napi]
    pub async fn disconnect(&self) -> Result<()> {
        let s = self.inner.clone();
        on_core(async move { s.disconnect().await }).await
    }
}
