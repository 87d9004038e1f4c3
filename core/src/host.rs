//! The host bridge: everything between the protocol and a host language, decided once.
//!
//! A language binding attaches a [`HostPort`] to a session config ([`attach`]) and drains the
//! matching [`HostStream`] on its own thread or event loop. The stream is ONE ordered queue per
//! session that carries, in wire order:
//! - [`HostMessage::Event`]: a session event, with the host subscriptions whose type filter
//!   matches (events nobody subscribed to are not queued);
//! - [`HostMessage::Request`]: a server→host request (tool call, permission prompt, user input,
//!   hook, system-message transform, exit-plan-mode, provider token, auto-mode switch) with the
//!   documented payload of its kind and a [`Responder`];
//! - [`HostMessage::Completion`]: a call started with [`HostPort::spawn_call`] (the bindings'
//!   `send_and_wait`) has finished. The core queues an event before it lets any task see it, so
//!   a completion always follows the events of its turn: no timer, flush or replay is needed;
//! - [`HostMessage::Cancelled`]: the answer to a request (by [`HostRequest::id`]) is no longer
//!   wanted — the turn was aborted or timed out, the session was disconnected, the client
//!   stopped or the connection was lost. The core has already answered the CLI (failure
//!   answer) and ignores a later reply; the binding cancels the host handler (task cancel,
//!   `AbortSignal`, `context`, `CancellationToken`). [`HostRequest::cancel`] fires at the same
//!   moment, for bindings that watch tokens instead;
//! - [`HostMessage::End`]: the session's stream ended (disconnected, client stopped, the client
//!   gave up reconnecting). Completions of calls still running may follow it; nothing else
//!   does. A connection that is lost and restored does not end the stream: the session is
//!   resumed and its subscriptions keep their ids.
//!
//! The payload a host receives, per kind (identical in every language; `sessionId` always set):
//!
//! | kind | payload |
//! |---|---|
//! | `tool` | `{sessionId, requestId, toolCallId, toolName, arguments, workingDirectory, traceparent, tracestate}` (the last three may be null) |
//! | `permission` | `{sessionId, requestId, kind, toolCallId, request}` (`request` = the CLI's `permissionRequest`; `toolCallId` may be null) |
//! | `userInput` | `{sessionId, question, choices, allowFreeform}` |
//! | `hook` | `{sessionId, hookType, input}` (only hook types the host registered) |
//! | `systemMessageTransform` | `{sessionId, sections}` (`sections`: `{<id>: {content}}`) |
//! | `exitPlanMode` | `{sessionId, summary, planContent, actions, recommendedAction}` (as the CLI sent them) |
//! | `providerToken` | `{sessionId, providerName}` |
//! | `autoModeSwitch` | `{sessionId, errorCode, retryAfterSeconds}` (as the CLI sent them) |
//! | `elicitation` | `{sessionId, requestId, message, requestedSchema, mode, elicitationSource, url}` |
//! | `command` | `{sessionId, requestId, command, commandName, args}` (name: the command's) |
//! | `mcpAuth` | `{sessionId, requestId, serverName, serverUrl, reason, …}` (the `mcp.oauth_required` data) |
//! | `sessionFs` | `{sessionId, operation, path, …}` (name: the operation; see [`crate::session_fs`]) |
//! | `gitHubToken` | `{sessionId, host, reason}` (`reason`: `initial` or `refresh`) |
//!
//! The replies a host may give, per kind (bare forms included), and what the CLI gets:
//!
//! | kind | host reply | missing handler | handler failed / invalid reply |
//! |---|---|---|---|
//! | `tool` | any JSON: string = text; `{textResultForLlm, resultType}` = as is; null = `""`; other = its JSON text | not answered (another client's tool) | `failure` result `Tool '<name>' failed: <message>` |
//! | `permission` | `"approve-once"` …, `{kind, feedback?}`, `true` (approve-once), `false` (reject) | not answered | `user-not-available` |
//! | `userInput` | a string, or `{answer, wasFreeform?}`; without `wasFreeform` it is true unless the answer is one of the choices | JSON-RPC error | JSON-RPC error |
//! | `hook` | the hook output object, or null | `{output:{}}` | `{output:{}}` |
//! | `systemMessageTransform` | `{sections}`, a sections object, or null; each section as `{content}` or a string; sections left out stay unchanged | sections unchanged | sections unchanged |
//! | `exitPlanMode` | `true`/`false`, an action name (approved with it), `{approved?, selectedAction?, feedback?}`, or null (approved) | `{approved:true}` | `{approved:false, feedback:<message>}` |
//! | `providerToken` | a string, or `{token}` | JSON-RPC error | JSON-RPC error |
//! | `autoModeSwitch` | `"yes"`, `"yes_always"`, `"no"`, `true` (yes), `false` (no), or `{response}` | `{response:"no"}` | `{response:"no"}` |
//! | `elicitation` | `{action, content?}`, `"accept"`/`"decline"`/`"cancel"`, an object (accepted content), null (cancel) | not answered | `cancel` |
//! | `command` | anything (success) | `Unknown command: <name>` | the message as the command's error |
//! | `mcpAuth` | a token string, `{accessToken, tokenType?, expiresIn?}`, null / `{kind:"cancelled"}` | not answered | `cancelled` |
//! | `sessionFs` | the operation's plain answer, or `{error: {code, message}}` | — (required) | error `UNKNOWN` (`ENOENT` when the message starts with it) |
//! | `gitHubToken` | a token string (8 h), `{accessToken, expiresIn?, tokenType?}`, null / `{kind:"cancelled"}` | — | JSON-RPC error (creation fails) |

use crate::config::SessionConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::events::SessionEvent;
use crate::handlers::{
    CancellationToken, JsonHandler, PermissionDecision, PermissionHandler, PermissionRequest, ToolHandler,
    ToolInvocation, ToolResult, UserInputHandler, UserInputRequest, UserInputResponse,
};
use crate::rpc::BoxFuture;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The kinds of request a session sends to its host. The one list every binding uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    Tool,
    Permission,
    UserInput,
    Hook,
    SystemMessageTransform,
    ExitPlanMode,
    ProviderToken,
    AutoModeSwitch,
    Elicitation,
    Command,
    McpAuth,
    SessionFs,
    GitHubToken,
}

impl RequestKind {
    pub const ALL: [RequestKind; 13] = [
        RequestKind::Tool,
        RequestKind::Permission,
        RequestKind::UserInput,
        RequestKind::Hook,
        RequestKind::SystemMessageTransform,
        RequestKind::ExitPlanMode,
        RequestKind::ProviderToken,
        RequestKind::AutoModeSwitch,
        RequestKind::Elicitation,
        RequestKind::Command,
        RequestKind::McpAuth,
        RequestKind::SessionFs,
        RequestKind::GitHubToken,
    ];

    /// The stable name (camelCase), as bindings and payloads spell it.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Tool => "tool",
            RequestKind::Permission => "permission",
            RequestKind::UserInput => "userInput",
            RequestKind::Hook => "hook",
            RequestKind::SystemMessageTransform => "systemMessageTransform",
            RequestKind::ExitPlanMode => "exitPlanMode",
            RequestKind::ProviderToken => "providerToken",
            RequestKind::AutoModeSwitch => "autoModeSwitch",
            RequestKind::Elicitation => "elicitation",
            RequestKind::Command => "command",
            RequestKind::McpAuth => "mcpAuth",
            RequestKind::SessionFs => "sessionFs",
            RequestKind::GitHubToken => "gitHubToken",
        }
    }

    /// Reads a name in camelCase or snake_case (`userInput`, `user_input`).
    pub fn from_name(name: &str) -> Option<RequestKind> {
        let n = crate::config::camel_key(name);
        RequestKind::ALL.into_iter().find(|k| k.name() == n)
    }
}

impl std::fmt::Display for RequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `on_pre_tool_use`, `pre_tool_use`, `onPreToolUse`, `PreToolUse` → `preToolUse`: the one
/// rule for hook names, so every language may spell them its own way.
pub fn hook_type_name(name: &str) -> String {
    let n = name.strip_prefix("on_").unwrap_or(name);
    let n = match n.strip_prefix("on") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_uppercase()) => rest,
        _ => n,
    };
    let camel = crate::config::camel_key(n);
    let mut chars = camel.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => camel,
    }
}

/// What the host answers, declared when it attaches to a session.
#[derive(Clone, Debug, Default)]
pub struct HostOptions {
    /// Request kinds the host has a handler for (tools are listed in `tools`).
    pub kinds: Vec<RequestKind>,
    /// Names of declared tools the host runs; `None`: every declared tool. Tools left out are
    /// declared only (another connection runs them).
    pub tools: Option<Vec<String>>,
    /// Hook types the host handles (any spelling, see [`hook_type_name`]); `None`: all of them.
    /// Implies [`RequestKind::Hook`] when not empty. With `Hook` also in `kinds`, the other
    /// hook types reach the host too (a catch-all beside named handlers).
    pub hooks: Option<Vec<String>>,
}

impl HostOptions {
    /// From JSON: `{"handlers": ["permission", "userInput", …], "tools": ["name", …] | null,
    /// "hooks": ["preToolUse", …] | null}`. Unknown kinds are an `InvalidConfig` error.
    pub fn from_json(v: &Value) -> Result<HostOptions> {
        let obj = match v {
            Value::Null => return Ok(HostOptions::default()),
            Value::Object(o) => o,
            other => return Err(Error::config(format!("host options must be an object, got {other}"))),
        };
        let names = |key: &str| -> Result<Option<Vec<String>>> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| {
                        x.as_str().map(str::to_owned).ok_or_else(|| {
                            Error::config(format!("host option `{key}` must be an array of strings, got {x} in it"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Some),
                Some(other) => {
                    Err(Error::config(format!("host option `{key}` must be an array of strings, got {other}")))
                }
            }
        };
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "handlers" | "tools" | "hooks")) {
            return Err(Error::config(format!("unknown host option `{k}` (handlers, tools, hooks)")));
        }
        let kinds = names("handlers")?
            .unwrap_or_default()
            .iter()
            .map(|n| {
                RequestKind::from_name(n).ok_or_else(|| {
                    let known: Vec<_> = RequestKind::ALL.iter().map(|k| k.name()).collect();
                    Error::config(format!("unknown handler kind {n:?}; known: {}", known.join(", ")))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HostOptions { kinds, tools: names("tools")?, hooks: names("hooks")? })
    }
}

/// One message of a session's host stream. See the module documentation.
#[derive(Debug)]
pub enum HostMessage {
    /// A session event and the host subscriptions it matches (in subscription order).
    Event { event: Arc<SessionEvent>, subscriptions: Vec<u64> },
    /// A request for the host.
    Request(HostRequest),
    /// A call started with [`HostPort::spawn_call`] finished.
    Completion { call: u64, result: Result<Value> },
    /// The request with this id is no longer wanted (see the module documentation).
    Cancelled { request: u64, reason: String },
    /// The session's event stream ended.
    End,
}

/// A request for the host: run the handler of `kind` (for tools, the tool `name`; for hooks,
/// the hook type in `name`) with `payload`, then answer through the [`Responder`].
#[derive(Debug)]
pub struct HostRequest {
    /// Unique per port: [`HostMessage::Cancelled`] names it.
    pub id: u64,
    pub kind: RequestKind,
    /// The tool name (`tool`), or for `hook` the hook type spelled as the host registered it in
    /// [`HostOptions::hooks`] (`on_pre_tool_use`, `onPreToolUse`, …; the CLI's own spelling
    /// when the host registered none), so a binding finds its function by exact key. None for
    /// the other kinds.
    pub name: Option<String>,
    pub payload: Value,
    pub responder: Responder,
    /// Fires when the answer is no longer wanted.
    pub cancel: CancellationToken,
}

/// Answers one host request, once. Dropping it unanswered counts as a handler failure.
#[derive(Debug)]
pub struct Responder(oneshot::Sender<std::result::Result<Value, String>>);

impl Responder {
    /// The host's answer, in any of the forms its kind accepts.
    pub fn reply(self, value: Value) {
        let _ = self.0.send(Ok(value));
    }
    /// The handler failed (threw, raised, returned an error) with this message.
    pub fn fail(self, message: impl Into<String>) {
        let _ = self.0.send(Err(message.into()));
    }
}

/// The receiving end of a session's host stream.
#[derive(Debug)]
pub struct HostStream {
    rx: mpsc::UnboundedReceiver<HostMessage>,
}

impl HostStream {
    /// The next message; None once the port is gone (session dropped, every call finished).
    pub async fn recv(&mut self) -> Option<HostMessage> {
        self.rx.recv().await
    }
    /// A ready message, without waiting.
    pub fn try_recv(&mut self) -> Option<HostMessage> {
        self.rx.try_recv().ok()
    }
    /// Waits for a message, then takes every ready one too (at most `max`).
    pub async fn recv_batch(&mut self, max: usize) -> Option<Vec<HostMessage>> {
        let first = self.rx.recv().await?;
        let mut batch = vec![first];
        while batch.len() < max.max(1) {
            match self.rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        Some(batch)
    }
    /// Blocking receive, for a binding's own (non-runtime) thread.
    pub fn blocking_recv(&mut self) -> Option<HostMessage> {
        self.rx.blocking_recv()
    }
}

struct Sub {
    id: u64,
    types: Option<Vec<String>>,
}

struct PortState {
    next_sub: u64,
    next_request: u64,
    subs: Vec<Sub>,
    ended: bool,
    /// Calls started with `spawn_call` and not finished: their abort handles.
    calls: HashMap<u64, tokio::task::AbortHandle>,
}

struct PortInner {
    tx: mpsc::UnboundedSender<HostMessage>,
    state: Mutex<PortState>,
    tools: Option<HashSet<String>>,
    /// Registered hook types: the CLI's spelling → the host's.
    hooks: Option<HashMap<String, String>>,
    /// `Hook` is listed in `kinds` too: hook types not in `hooks` still reach the host (a
    /// catch-all handler beside named ones), under the CLI's spelling.
    hooks_catch_all: bool,
    /// Set when the session is opened (the config may not name its id).
    session_id: Mutex<String>,
}

/// A session's end of the host bridge. Cheap to clone; see the module documentation.
#[derive(Clone)]
pub struct HostPort {
    inner: Arc<PortInner>,
}

impl std::fmt::Debug for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostPort").finish_non_exhaustive()
    }
}

/// Attaches a host to a session config: installs the core's handlers for every kind the host
/// answers (they queue requests on the stream) and makes the session publish its events to
/// the port. Call [`HostPort::subscribe`] before creating the session to see its first events.
pub fn attach(config: &mut SessionConfig, options: HostOptions) -> Result<(HostPort, HostStream)> {
    if let Some(tools) = &options.tools {
        if let Some(missing) = tools.iter().find(|n| !config.tools.iter().any(|t| &t.name == *n)) {
            return Err(Error::config(format!(
                "a handler is given for tool `{missing}`, which the session does not declare"
            )));
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let hooks =
        options.hooks.as_ref().map(|h| h.iter().map(|n| (hook_type_name(n), n.clone())).collect::<HashMap<_, _>>());
    let port = HostPort {
        inner: Arc::new(PortInner {
            tx,
            state: Mutex::new(PortState {
                next_sub: 1,
                next_request: 1,
                subs: Vec::new(),
                ended: false,
                calls: HashMap::new(),
            }),
            tools: options.tools.as_ref().map(|t| t.iter().cloned().collect()),
            hooks: hooks.clone(),
            hooks_catch_all: options.kinds.contains(&RequestKind::Hook),
            session_id: Mutex::new(String::new()),
        }),
    };
    for tool in &mut config.tools {
        if port.inner.tools.as_ref().is_none_or(|t| t.contains(&tool.name)) {
            tool.handler = Some(Arc::new(port.clone()));
        }
    }
    let mut kinds: HashSet<RequestKind> = options.kinds.iter().copied().collect();
    if hooks.as_ref().is_some_and(|h| !h.is_empty()) {
        kinds.insert(RequestKind::Hook);
    }
    for kind in kinds {
        let json = |k: RequestKind| -> Option<Arc<dyn JsonHandler>> {
            Some(Arc::new(KindHandler { kind: k, port: port.clone() }))
        };
        match kind {
            RequestKind::Tool => {}
            RequestKind::Permission => config.on_permission_request = Some(Arc::new(port.clone())),
            RequestKind::UserInput => config.on_user_input_request = Some(Arc::new(port.clone())),
            RequestKind::Hook => config.on_hook = json(kind),
            RequestKind::SystemMessageTransform => config.on_system_message_transform = json(kind),
            RequestKind::ExitPlanMode => config.on_exit_plan_mode = json(kind),
            RequestKind::ProviderToken => config.on_provider_token = json(kind),
            RequestKind::AutoModeSwitch => config.on_auto_mode_switch = json(kind),
            RequestKind::Elicitation => config.on_elicitation = json(kind),
            RequestKind::Command => config.on_command = json(kind),
            RequestKind::McpAuth => config.on_mcp_auth = json(kind),
            RequestKind::SessionFs => config.on_session_fs = json(kind),
            RequestKind::GitHubToken => config.on_github_token = json(kind),
        }
    }
    config.host = Some(port.clone());
    Ok((port, HostStream { rx }))
}

impl HostPort {
    /// Delivers events (of these types; None: all) to the host from now on. Returns the id
    /// that [`HostMessage::Event`] lists and [`HostPort::unsubscribe`] takes.
    pub fn subscribe(&self, types: Option<Vec<String>>) -> u64 {
        let mut st = self.inner.state.lock().unwrap();
        let id = st.next_sub;
        st.next_sub += 1;
        st.subs.push(Sub { id, types });
        id
    }

    /// Stops a subscription; false when it was not active.
    pub fn unsubscribe(&self, id: u64) -> bool {
        let mut st = self.inner.state.lock().unwrap();
        let before = st.subs.len();
        st.subs.retain(|s| s.id != id);
        st.subs.len() != before
    }

    /// Runs `fut` on the current runtime; its result arrives on the stream as
    /// [`HostMessage::Completion`] with this `call` id, after every event queued before it
    /// finished. The id is the binding's (unique per port while the call runs).
    pub fn spawn_call<F>(&self, call: u64, fut: F)
    where
        F: Future<Output = Result<Value>> + Send + 'static,
    {
        let me = self.clone();
        // Registered before the task can finish, so a call that ends at once still reports.
        let mut st = self.inner.state.lock().unwrap();
        let task = tokio::spawn(async move {
            let result = fut.await;
            me.finish_call(call, result);
        });
        st.calls.insert(call, task.abort_handle());
    }

    /// Cancels a call started with [`HostPort::spawn_call`]: it completes at once with a
    /// `cancelled` error (the operation itself is not undone: a turn keeps running). False when
    /// the call already finished.
    pub fn cancel_call(&self, call: u64, reason: Option<&str>) -> bool {
        let Some(handle) = self.inner.state.lock().unwrap().calls.remove(&call) else { return false };
        handle.abort();
        let msg = reason.unwrap_or("the call was cancelled");
        let _ =
            self.inner.tx.send(HostMessage::Completion { call, result: Err(Error::new(ErrorKind::Cancelled, msg)) });
        true
    }

    fn finish_call(&self, call: u64, result: Result<Value>) {
        let mut st = self.inner.state.lock().unwrap();
        if st.calls.remove(&call).is_some() {
            // Sent under the lock: a concurrent cancel_call either won (and reported) or sees
            // the call gone.
            let _ = self.inner.tx.send(HostMessage::Completion { call, result });
        }
    }

    pub(crate) fn set_session_id(&self, id: &str) {
        *self.inner.session_id.lock().unwrap() = id.to_owned();
    }

    /// Called by the session, on the reader task, for every event, before any other task can
    /// see it.
    pub(crate) fn publish(&self, event: &Arc<SessionEvent>) {
        let st = self.inner.state.lock().unwrap();
        if st.ended || st.subs.is_empty() {
            return;
        }
        let subscriptions: Vec<u64> = st
            .subs
            .iter()
            .filter(|s| s.types.as_ref().is_none_or(|t| t.iter().any(|t| *t == event.event_type)))
            .map(|s| s.id)
            .collect();
        if !subscriptions.is_empty() {
            let _ = self.inner.tx.send(HostMessage::Event { event: event.clone(), subscriptions });
        }
    }

    /// The session's events ended: queue [`HostMessage::End`] once.
    pub(crate) fn end(&self) {
        let mut st = self.inner.state.lock().unwrap();
        if !st.ended {
            st.ended = true;
            st.subs.clear();
            let _ = self.inner.tx.send(HostMessage::End);
        }
    }

    /// Queues a request and waits for the host's answer. When the caller stops waiting (the
    /// core dropped this future: cancelled, timed out, disconnected), the host is told.
    async fn ask(
        &self,
        kind: RequestKind,
        name: Option<String>,
        payload: Value,
        cancel: Option<CancellationToken>,
    ) -> Result<Value> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut st = self.inner.state.lock().unwrap();
            st.next_request += 1;
            st.next_request - 1
        };
        let cancel = cancel.unwrap_or_default();
        let mut guard = AskGuard { port: self.clone(), id, cancel: cancel.clone(), armed: true };
        let req = HostRequest { id, kind, name, payload, responder: Responder(tx), cancel };
        if self.inner.tx.send(HostMessage::Request(req)).is_err() {
            guard.armed = false;
            return Err(Error::new(
                ErrorKind::HandlerFailed,
                format!("the host stopped reading; the {kind} request was not delivered"),
            ));
        }
        let answer = rx.await;
        guard.armed = false;
        match answer {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(msg)) => Err(Error::new(ErrorKind::HandlerFailed, msg)),
            Err(_) => Err(Error::new(
                ErrorKind::HandlerFailed,
                format!("the host dropped the {kind} request without answering"),
            )),
        }
    }
}

/// Tells the host that a request it holds is no longer wanted, when `ask` is dropped unanswered.
struct AskGuard {
    port: HostPort,
    id: u64,
    cancel: CancellationToken,
    armed: bool,
}

impl Drop for AskGuard {
    fn drop(&mut self) {
        if self.armed {
            self.cancel.cancel("the answer is no longer needed");
            let reason = self.cancel.reason().unwrap_or_default();
            let _ = self.port.inner.tx.send(HostMessage::Cancelled { request: self.id, reason });
        }
    }
}

impl ToolHandler for HostPort {
    fn call(&self, inv: ToolInvocation) -> BoxFuture<'static, Result<ToolResult>> {
        let me = self.clone();
        Box::pin(async move {
            let payload = json!({
                "sessionId": inv.session_id, "requestId": inv.request_id, "toolCallId": inv.tool_call_id,
                "toolName": inv.tool_name, "arguments": inv.arguments, "workingDirectory": inv.working_directory,
                "traceparent": inv.traceparent, "tracestate": inv.tracestate,
            });
            me.ask(RequestKind::Tool, Some(inv.tool_name), payload, Some(inv.cancel)).await.map(ToolResult::from_json)
        })
    }
}

impl PermissionHandler for HostPort {
    fn decide(&self, req: PermissionRequest) -> BoxFuture<'static, Result<PermissionDecision>> {
        let me = self.clone();
        Box::pin(async move {
            let payload = json!({
                "sessionId": req.session_id, "requestId": req.request_id, "kind": req.kind,
                "toolCallId": req.tool_call_id, "request": req.request,
            });
            let v = me.ask(RequestKind::Permission, None, payload, Some(req.cancel)).await?;
            PermissionDecision::from_json(&v)
        })
    }
}

impl UserInputHandler for HostPort {
    fn ask(&self, req: UserInputRequest) -> BoxFuture<'static, Result<UserInputResponse>> {
        let me = self.clone();
        Box::pin(async move {
            let payload = json!({
                "sessionId": req.session_id, "question": req.question, "choices": req.choices,
                "allowFreeform": req.allow_freeform,
            });
            let v = HostPort::ask(&me, RequestKind::UserInput, None, payload, Some(req.cancel.clone())).await?;
            UserInputResponse::from_json(&v, &req.choices)
        })
    }
}

/// The JSON-shaped kinds: the session's `serve` reads the bare forms of the reply.
struct KindHandler {
    kind: RequestKind,
    port: HostPort,
}

impl JsonHandler for KindHandler {
    fn handle(&self, params: Value) -> BoxFuture<'static, Result<Value>> {
        let port = self.port.clone();
        let kind = self.kind;
        Box::pin(async move {
            let Value::Object(mut payload) = params else {
                return Err(Error::protocol(format!("{kind} request params must be an object")));
            };
            let name = if kind == RequestKind::Hook {
                let t = payload.get("hookType").and_then(Value::as_str).unwrap_or_default().to_owned();
                match &port.inner.hooks {
                    None => Some(t),
                    Some(h) => match h.get(&t) {
                        Some(host_name) => Some(host_name.clone()),
                        None if port.inner.hooks_catch_all => Some(t),
                        None => return Ok(Value::Null), // a hook type the host did not register
                    },
                }
            } else if kind == RequestKind::Command {
                payload.get("commandName").and_then(Value::as_str).map(str::to_owned)
            } else if kind == RequestKind::SessionFs {
                payload.get("operation").and_then(Value::as_str).map(str::to_owned)
            } else {
                None
            };
            // `sessionId` comes first in every payload.
            let mut ordered = Map::new();
            let sid = payload.remove("sessionId").unwrap_or_else(|| json!(*port.inner.session_id.lock().unwrap()));
            ordered.insert("sessionId".into(), sid);
            ordered.extend(payload);
            port.ask(kind, name, Value::Object(ordered), None).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for k in RequestKind::ALL {
            assert_eq!(RequestKind::from_name(k.name()), Some(k));
        }
        assert_eq!(RequestKind::from_name("user_input"), Some(RequestKind::UserInput));
        assert_eq!(RequestKind::from_name("system_message_transform"), Some(RequestKind::SystemMessageTransform));
        assert_eq!(RequestKind::from_name("nope"), None);
    }

    #[test]
    fn hook_names() {
        for n in ["preToolUse", "on_pre_tool_use", "pre_tool_use", "onPreToolUse", "PreToolUse"] {
            assert_eq!(hook_type_name(n), "preToolUse", "{n}");
        }
        assert_eq!(hook_type_name("sessionStart"), "sessionStart");
        assert_eq!(hook_type_name("on_session_end"), "sessionEnd");
    }

    #[test]
    fn host_options_from_json() {
        let o =
            HostOptions::from_json(&json!({"handlers": ["permission", "user_input"], "tools": ["a"], "hooks": null}))
                .unwrap();
        assert_eq!(o.kinds, vec![RequestKind::Permission, RequestKind::UserInput]);
        assert_eq!(o.tools, Some(vec!["a".to_owned()]));
        assert!(o.hooks.is_none());
        for bad in [json!({"handlers": ["x"]}), json!({"handlers": "permission"}), json!({"other": 1}), json!(3)] {
            assert_eq!(HostOptions::from_json(&bad).unwrap_err().kind(), ErrorKind::InvalidConfig, "{bad}");
        }
    }

    #[tokio::test]
    async fn completions_follow_events_and_cancel_reports_once() {
        let mut cfg = SessionConfig::default();
        let (port, mut stream) = attach(&mut cfg, HostOptions::default()).unwrap();
        let all = port.subscribe(None);
        let only_idle = port.subscribe(Some(vec!["session.idle".into()]));
        let ev = |t: &str| Arc::new(serde_json::from_value::<SessionEvent>(json!({"type": t, "data": {}})).unwrap());
        port.publish(&ev("assistant.message"));
        port.publish(&ev("session.idle"));
        port.spawn_call(7, async { Ok(json!("done")) });
        match stream.recv().await.unwrap() {
            HostMessage::Event { event, subscriptions } => {
                assert_eq!(event.event_type, "assistant.message");
                assert_eq!(subscriptions, vec![all]);
            }
            other => panic!("{other:?}"),
        }
        match stream.recv().await.unwrap() {
            HostMessage::Event { subscriptions, .. } => assert_eq!(subscriptions, vec![all, only_idle]),
            other => panic!("{other:?}"),
        }
        match stream.recv().await.unwrap() {
            HostMessage::Completion { call: 7, result } => assert_eq!(result.unwrap(), json!("done")),
            other => panic!("{other:?}"),
        }
        port.spawn_call(8, std::future::pending());
        assert!(port.cancel_call(8, None));
        assert!(!port.cancel_call(8, None));
        match stream.recv().await.unwrap() {
            HostMessage::Completion { call: 8, result } => assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled),
            other => panic!("{other:?}"),
        }
        assert!(port.unsubscribe(all));
        port.end();
        port.end();
        assert!(matches!(stream.recv().await.unwrap(), HostMessage::End));
        port.publish(&ev("session.idle"));
        assert!(stream.try_recv().is_none());
    }

    #[tokio::test]
    async fn hooks_reach_the_host_under_its_own_names_and_only_registered_ones() {
        let mut cfg = SessionConfig::default();
        let opts = HostOptions { hooks: Some(vec!["on_pre_tool_use".into()]), ..Default::default() };
        let (_port, mut stream) = attach(&mut cfg, opts).unwrap();
        let hook = cfg.on_hook.clone().unwrap();
        let skipped = hook.handle(json!({"hookType": "sessionStart", "input": {}})).await.unwrap();
        assert_eq!(skipped, Value::Null);
        assert!(stream.try_recv().is_none(), "an unregistered hook type reached the host");
        let call = tokio::spawn(hook.handle(json!({"hookType": "preToolUse", "input": {"toolName": "x"}})));
        match stream.recv().await.unwrap() {
            HostMessage::Request(req) => {
                assert_eq!((req.kind, req.name.as_deref()), (RequestKind::Hook, Some("on_pre_tool_use")));
                assert_eq!(req.payload["hookType"], "preToolUse");
                req.responder.reply(json!({"permissionDecision": "deny"}));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(call.await.unwrap().unwrap(), json!({"permissionDecision": "deny"}));

        // With `hook` in the kinds too, the other types reach a catch-all under the CLI's name.
        let mut cfg = SessionConfig::default();
        let opts = HostOptions {
            kinds: vec![RequestKind::Hook],
            hooks: Some(vec!["PreToolUse".into()]),
            ..Default::default()
        };
        let (_port, mut stream) = attach(&mut cfg, opts).unwrap();
        let call = tokio::spawn(cfg.on_hook.clone().unwrap().handle(json!({"hookType": "sessionStart", "input": {}})));
        match stream.recv().await.unwrap() {
            HostMessage::Request(req) => {
                assert_eq!(req.name.as_deref(), Some("sessionStart"));
                req.responder.reply(Value::Null);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(call.await.unwrap().unwrap(), Value::Null);
    }

    #[tokio::test]
    async fn unknown_tool_handlers_are_refused() {
        let mut cfg = SessionConfig::default();
        let e = attach(&mut cfg, HostOptions { tools: Some(vec!["nope".into()]), ..Default::default() }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    }
}
