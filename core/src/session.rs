//! Sessions: event routing, send / send-and-wait, and the handlers the CLI calls back into.

use crate::config::{EventCallback, MessageOptions, SessionConfig};
use crate::error::{Error, ErrorKind, Result, RpcErrorData};
use crate::events::{EventStream, Fanout, SessionEvent};
use crate::handlers::{
    CancellationToken, JsonHandler, PermissionDecision, PermissionHandler, PermissionRequest, ToolHandler,
    ToolInvocation, ToolResult, UserInputHandler, UserInputRequest, guarded,
};
use crate::link::{Link, LinkState};
use crate::rpc::codes;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Handlers registered for one session.
#[derive(Default, Clone)]
pub(crate) struct Handlers {
    tools: HashMap<String, Arc<dyn ToolHandler>>,
    permission: Option<Arc<dyn PermissionHandler>>,
    user_input: Option<Arc<dyn UserInputHandler>>,
    hook: Option<Arc<dyn JsonHandler>>,
    transform: Option<Arc<dyn JsonHandler>>,
    exit_plan: Option<Arc<dyn JsonHandler>>,
    provider_token: Option<Arc<dyn JsonHandler>>,
    auto_mode_switch: Option<Arc<dyn JsonHandler>>,
    elicitation: Option<Arc<dyn JsonHandler>>,
    command: Option<Arc<dyn JsonHandler>>,
    commands: Vec<String>,
    mcp_auth: Option<Arc<dyn JsonHandler>>,
    session_fs: Option<Arc<dyn JsonHandler>>,
    github_token: Option<Arc<dyn JsonHandler>>,
}

impl Handlers {
    pub(crate) fn from_config(c: &SessionConfig) -> Self {
        Handlers {
            tools: c.tools.iter().filter_map(|t| t.handler.clone().map(|h| (t.name.clone(), h))).collect(),
            permission: c.on_permission_request.clone(),
            user_input: c.on_user_input_request.clone(),
            hook: c.on_hook.clone(),
            transform: c.on_system_message_transform.clone(),
            exit_plan: c.on_exit_plan_mode.clone(),
            provider_token: c.on_provider_token.clone(),
            auto_mode_switch: c.on_auto_mode_switch.clone(),
            elicitation: c.on_elicitation.clone(),
            command: c.on_command.clone(),
            commands: c.commands.iter().map(|c| c.name.clone()).collect(),
            mcp_auth: c.on_mcp_auth.clone(),
            session_fs: c.on_session_fs.clone(),
            github_token: c.on_github_token.clone(),
        }
    }
}

struct State {
    disconnected: bool,
    /// Why the session ended when it was not disconnected by the host (the client gave up on
    /// the CLI): later calls fail with this error instead of `session_not_found`.
    ended_by: Option<Error>,
    /// The `session.create` / `session.resume` result.
    info: Value,
    /// The params the session was opened with (`sessionId` included) and its mode: sent again
    /// with `session.resume` after a reconnect.
    opened_with: Option<(Map<String, Value>, Option<String>)>,
    /// Handlers running now, by a local id: cancelled on abort, disconnect, stop and reconnect.
    running: HashMap<u64, CancellationToken>,
    next_running: u64,
    /// Permission kinds already logged as denied for lack of a handler.
    warned_kinds: std::collections::HashSet<String>,
    /// The GitHub host the token provider was last asked for (for a refresh).
    github_host: Option<String>,
    /// A token refresh after an authentication error is running.
    refreshing_token: bool,
}

/// Where a session lives now: the connection its calls use, the registry that routes its
/// traffic, and the metrics its turns count in. A pool moves a session by replacing it.
#[derive(Clone)]
pub(crate) struct Place {
    pub link: Arc<Link>,
    pub registry: Weak<crate::router::Registry>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// What a pool adds to a session it placed: the lease check before every call, the move to
/// its server before a prompt, and the release when the host is done with it.
pub(crate) trait Home: Send + Sync {
    /// Fails when the session may not be driven from here (its lease is lost).
    fn check(&self) -> Result<()>;
    /// Before a prompt: moves the session to the server it belongs on now, if it is elsewhere.
    fn prepare(&self, session: Arc<SessionInner>) -> crate::rpc::BoxFuture<'static, Result<()>>;
    /// The host disconnected the session on this client.
    fn released(&self, session_id: &str);
    /// The lease's fencing token, when the session holds a lease.
    fn lease_token(&self) -> Option<u64>;
    /// The URL of the server the session is on.
    fn server(&self, session: &SessionInner) -> Option<String>;
}

pub(crate) struct SessionInner {
    id: String,
    place: Mutex<Place>,
    /// Bumped by every move: a call waiting for a reconnecting server follows the session.
    moves: tokio::sync::watch::Sender<u64>,
    home: Mutex<Option<Arc<dyn Home>>>,
    handlers: Handlers,
    events: Mutex<Fanout<Arc<SessionEvent>>>,
    state: Mutex<State>,
    /// Serialises `send_and_wait` calls on one session: each waits for its own idle.
    turn: tokio::sync::Mutex<()>,
    /// Serialises moves of a pooled session (failover and a prompt's own move may race).
    pub(crate) moving: tokio::sync::Mutex<()>,
    /// Set when this client sends a prompt, cleared by `session.idle`: whether earlier work
    /// may still produce an idle that is not the next turn's.
    busy: std::sync::atomic::AtomicBool,
    request_timeout: Option<Duration>,
    /// A language binding's host bridge: sees every event first.
    host: Option<crate::host::HostPort>,
    /// The client's trace-context provider (asked on send when the message carries none).
    trace: Mutex<Option<crate::telemetry::TraceContextProvider>>,
}

/// A conversation with the agent. Cheap to clone; all clones are the same session.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

/// A callback subscription made with [`Session::on`].
pub struct Subscription {
    session: Weak<SessionInner>,
    id: u64,
}

impl Subscription {
    /// Stops the callback. Dropping a `Subscription` without calling this keeps it running.
    pub fn unsubscribe(self) {
        if let Some(s) = self.session.upgrade() {
            s.events.lock().unwrap().unsubscribe(self.id);
        }
    }
}

/// Runs a subscription's callbacks, in order, off the runtime's worker threads (on a multi-thread
/// runtime, through `spawn_blocking`, a batch of ready events at a time), so a slow or blocking
/// callback (a host language waiting for its lock) delays only its own subscription.
fn pump_callback(mut stream: EventStream, cb: EventCallback, on_end: Option<Arc<dyn Fn() + Send + Sync>>) {
    let off_workers = tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
    // Runs `f` on the blocking pool (multi-thread runtime) or inline (current-thread runtime,
    // where nothing may block anyway); a panic is logged and ends nothing.
    let call = move |what: &'static str, f: Box<dyn FnOnce() + Send>| async move {
        let guarded = move || {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                tracing::error!("{what} panicked");
            }
        };
        if off_workers {
            let _ = tokio::task::spawn_blocking(guarded).await;
        } else {
            guarded();
        }
    };
    tokio::spawn(async move {
        while let Some(first) = stream.recv().await {
            let mut batch = vec![first];
            while let Some(ev) = stream.try_recv() {
                batch.push(ev);
            }
            let cb = cb.clone();
            call(
                "an event callback",
                Box::new(move || {
                    batch.iter().for_each(|ev| {
                        // One event's panic must not skip the rest of the batch.
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(ev))).is_err() {
                            tracing::error!(event = ev.event_type, "an event callback panicked");
                        }
                    })
                }),
            )
            .await;
        }
        if let Some(end) = on_end {
            call("an end-of-events callback", Box::new(move || end())).await;
        }
    });
}

impl SessionInner {
    pub(crate) fn new(
        id: String,
        place: Place,
        config: &SessionConfig,
        request_timeout: Option<Duration>,
    ) -> Arc<Self> {
        let inner = Arc::new(SessionInner {
            id,
            place: Mutex::new(place),
            moves: tokio::sync::watch::Sender::new(0),
            home: Mutex::new(None),
            handlers: Handlers::from_config(config),
            events: Mutex::new(Fanout::new()),
            state: Mutex::new(State {
                disconnected: false,
                ended_by: None,
                info: Value::Null,
                opened_with: None,
                running: HashMap::new(),
                next_running: 0,
                warned_kinds: Default::default(),
                github_host: None,
                refreshing_token: false,
            }),
            turn: tokio::sync::Mutex::new(()),
            moving: tokio::sync::Mutex::new(()),
            busy: std::sync::atomic::AtomicBool::new(false),
            request_timeout,
            host: config.host.clone(),
            trace: Mutex::new(None),
        });
        if let Some(h) = &inner.host {
            h.set_session_id(&inner.id);
        }
        if let Some(cb) = config.on_event.clone() {
            let (_, stream) = inner.subscribe(None);
            pump_callback(stream, cb, config.on_event_end.clone());
        }
        inner
    }

    /// Events of these types (None: all) from now on, with the subscription's id.
    fn subscribe(&self, types: Option<Vec<String>>) -> (u64, EventStream) {
        self.events.lock().unwrap().subscribe(types)
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The link of the connection the session uses now.
    pub(crate) fn link(&self) -> Arc<Link> {
        self.place.lock().unwrap().link.clone()
    }

    pub(crate) fn place(&self) -> Place {
        self.place.lock().unwrap().clone()
    }

    /// Moves the session: its calls use `place`'s link from now on. The caller moved its
    /// registry entry.
    pub(crate) fn move_to(&self, place: Place) {
        *self.place.lock().unwrap() = place;
        self.moves.send_modify(|n| *n += 1);
    }

    /// The connection to call on: the current link's, and when that link is reconnecting
    /// while a pool moves the session elsewhere, the new link's.
    async fn conn(&self) -> Result<crate::rpc::Connection> {
        loop {
            let mut moved = self.moves.subscribe();
            moved.borrow_and_update();
            let link = self.link();
            tokio::select! {
                biased;
                c = link.conn() => return c,
                _ = moved.changed() => continue,
            }
        }
    }

    pub(crate) fn wants_mcp_auth(&self) -> bool {
        self.handlers.mcp_auth.is_some()
    }

    pub(crate) fn set_trace_provider(&self, p: Option<crate::telemetry::TraceContextProvider>) {
        *self.trace.lock().unwrap() = p;
    }

    pub(crate) fn set_home(&self, home: Arc<dyn Home>) {
        *self.home.lock().unwrap() = Some(home);
    }

    fn home(&self) -> Option<Arc<dyn Home>> {
        self.home.lock().unwrap().clone()
    }

    /// Leaves the registry that routes this session's traffic (when it still holds this handle).
    fn leave_registry(self: &Arc<Self>) {
        let registry = self.place.lock().unwrap().registry.upgrade();
        if let Some(r) = registry {
            r.remove_if_same(self);
        }
    }

    pub(crate) fn set_info(&self, info: Value) {
        self.state.lock().unwrap().info = info;
    }

    pub(crate) fn set_opened_with(&self, params: Map<String, Value>, mode: Option<String>) {
        self.state.lock().unwrap().opened_with = Some((params, mode));
    }

    /// What to send again to resume this session on a new connection (None once disconnected).
    pub(crate) fn reopen_params(&self) -> Option<(Map<String, Value>, Option<String>)> {
        let st = self.state.lock().unwrap();
        if st.disconnected { None } else { st.opened_with.clone() }
    }

    /// The session was opened again on a new connection: earlier work is gone with the old one.
    pub(crate) fn reopened(&self, info: Value) {
        self.busy.store(false, std::sync::atomic::Ordering::SeqCst);
        self.set_info(info);
    }

    /// A token for a handler that starts now, and its id for [`SessionInner::untrack`].
    fn track(&self) -> (u64, CancellationToken) {
        let mut st = self.state.lock().unwrap();
        st.next_running += 1;
        let token = CancellationToken::new();
        let id = st.next_running;
        st.running.insert(id, token.clone());
        (id, token)
    }

    fn untrack(&self, id: u64) {
        self.state.lock().unwrap().running.remove(&id);
    }

    /// Cancels every handler running for this session (their answers are no longer wanted).
    pub(crate) fn cancel_handlers(&self, reason: &str) {
        let running: Vec<_> = self.state.lock().unwrap().running.drain().map(|(_, t)| t).collect();
        if !running.is_empty() {
            tracing::debug!(session = self.id, count = running.len(), "cancelling running handlers: {reason}");
        }
        for t in running {
            t.cancel(reason);
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.state.lock().unwrap().disconnected
    }

    /// Ends local state: streams end, handlers stop answering.
    pub(crate) fn mark_disconnected(&self) {
        self.state.lock().unwrap().disconnected = true;
        self.cancel_handlers("the session was disconnected");
        self.close_streams();
    }

    /// Ends the session because the client gave up on the CLI: calls fail with `error`.
    pub(crate) fn mark_ended(&self, error: &Error) {
        self.state.lock().unwrap().ended_by = Some(error.clone());
        self.mark_disconnected();
    }

    /// Ends every event stream of this handle (and the host stream's events).
    pub(crate) fn close_streams(&self) {
        self.events.lock().unwrap().close();
        if let Some(h) = &self.host {
            h.end();
        }
    }

    /// Called on the reader task for every `session.event` of this session, in wire order.
    pub(crate) fn on_event(self: &Arc<Self>, ev: SessionEvent) {
        match ev.event_type.as_str() {
            "external_tool.requested" => self.spawn_tool_call(&ev.data),
            "permission.requested" => self.spawn_permission(&ev.data),
            "elicitation.requested" => self.spawn_elicitation(&ev.data),
            "command.execute" => self.spawn_command(&ev.data),
            "mcp.oauth_required" => self.spawn_mcp_auth(&ev.data),
            "session.error" if ev.data.get("errorType").and_then(Value::as_str) == Some("authentication") => {
                self.spawn_token_refresh()
            }
            "session.idle" => self.busy.store(false, std::sync::atomic::Ordering::SeqCst),
            _ => {}
        }
        #[cfg(feature = "protocol")]
        crate::protocol::strict::observe_event(&ev);
        let ev = Arc::new(ev);
        // The host stream first: a host call completes only after a task saw the event, so its
        // completion is queued behind it.
        if let Some(h) = &self.host {
            h.publish(&ev);
        }
        self.events.lock().unwrap().publish(&ev.event_type, &ev);
    }

    async fn call(&self, method: &str, params: Map<String, Value>) -> Result<Value> {
        self.call_timeout(method, params, self.request_timeout).await
    }

    async fn call_timeout(&self, method: &str, params: Map<String, Value>, timeout: Option<Duration>) -> Result<Value> {
        if let Some(home) = self.home() {
            home.check()?;
        }
        self.call_anyway(method, params, timeout).await
    }

    /// A call even when the lease is lost (detaching must still work).
    async fn call_anyway(
        &self,
        method: &str,
        mut params: Map<String, Value>,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        params.insert("sessionId".into(), json!(self.id));
        let params = Value::Object(params);
        let epoch = self.link().epoch();
        match self.conn().await?.request_timeout(method, params.clone(), timeout).await {
            // The connection was already dead (its end not yet noticed by the client): the call
            // never went out, so once the session has a new connection (reconnected, or moved
            // by its pool) it is sent there, once.
            Err(e) if e.is_unsent() => {
                self.until_link_changes(epoch, Duration::from_secs(10)).await;
                self.conn().await?.request_timeout(method, params, timeout).await
            }
            r => r,
        }
    }

    /// Waits (at most `limit`) until the session's connection is not the one of `epoch` any
    /// more: the link went down or reconnecting, or the session moved.
    async fn until_link_changes(&self, epoch: Option<u64>, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let link = self.link();
            let mut state = link.subscribe();
            let mut moved = self.moves.subscribe();
            if link.epoch() != epoch {
                return;
            }
            tokio::select! {
                _ = state.changed() => {}
                _ = moved.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    fn spawn_tool_call(self: &Arc<Self>, data: &Value) {
        let name = data.get("toolName").and_then(Value::as_str).unwrap_or_default().to_owned();
        // Tools declared without a handler here are someone else's to answer.
        let Some(handler) = self.handlers.tools.get(&name).cloned() else { return };
        let Some(request_id) = data.get("requestId").and_then(Value::as_str).map(str::to_owned) else {
            tracing::warn!("external_tool.requested without a requestId");
            return;
        };
        let (tracked, cancel) = self.track();
        let inv = ToolInvocation {
            session_id: self.id.clone(),
            request_id: request_id.clone(),
            tool_call_id: data.get("toolCallId").and_then(Value::as_str).unwrap_or_default().to_owned(),
            tool_name: name.clone(),
            arguments: data.get("arguments").cloned().unwrap_or(Value::Null),
            working_directory: data.get("workingDirectory").and_then(Value::as_str).map(str::to_owned),
            traceparent: data.get("traceparent").and_then(Value::as_str).map(str::to_owned),
            tracestate: data.get("tracestate").and_then(Value::as_str).map(str::to_owned),
            raw: data.clone(),
            cancel: cancel.clone(),
        };
        let me = self.clone();
        let epoch = self.link().epoch();
        tokio::spawn(async move {
            let result = tokio::select! {
                biased;
                r = guarded("tool", handler.call(inv)) => match r {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(tool = name, "tool handler failed: {e}");
                        ToolResult::Failure(format!("Tool '{name}' failed: {}", e.message()))
                    }
                },
                reason = cancel.cancelled() => ToolResult::Failure(format!("Tool '{name}' was cancelled: {reason}")),
            };
            me.untrack(tracked);
            // A request of a connection that is gone cannot be answered on the next one.
            if me.is_disconnected() || me.link().epoch() != epoch {
                return;
            }
            let mut p = Map::new();
            p.insert("requestId".into(), json!(request_id));
            p.insert("result".into(), result.to_wire());
            if let Err(e) = me.call("session.tools.handlePendingToolCall", p).await {
                tracing::warn!(tool = name, "could not deliver a tool result: {e}");
            }
        });
    }

    /// Runs `handler` for a broadcast request (an event carrying a `requestId` that some client
    /// answers with a call), then sends `method` with `{requestId, ..answer(result)}`. Nothing
    /// is sent when `answer` gives None, the session ended or the connection changed.
    fn spawn_broadcast(
        self: &Arc<Self>,
        what: &'static str,
        handler: Arc<dyn JsonHandler>,
        data: &Value,
        method: &'static str,
        answer: impl FnOnce(Result<Value>) -> Option<Map<String, Value>> + Send + 'static,
    ) {
        let Some(request_id) = data.get("requestId").and_then(Value::as_str).map(str::to_owned) else {
            tracing::warn!("{what} request without a requestId");
            return;
        };
        let mut payload = Map::new();
        payload.insert("sessionId".into(), json!(self.id));
        if let Value::Object(o) = data {
            payload.extend(o.iter().filter(|(k, _)| *k != "sessionId").map(|(k, v)| (k.clone(), v.clone())));
        }
        let (tracked, cancel) = self.track();
        let me = self.clone();
        let epoch = self.link().epoch();
        tokio::spawn(async move {
            let result = tokio::select! {
                biased;
                r = guarded(what, handler.handle(Value::Object(payload))) => r,
                reason = cancel.cancelled() => Err(Error::new(ErrorKind::Cancelled, reason)),
            };
            me.untrack(tracked);
            if let Err(e) = &result {
                tracing::warn!("{what} handler failed: {e}");
            }
            let Some(mut p) = answer(result) else { return };
            if me.is_disconnected() || me.link().epoch() != epoch {
                return;
            }
            p.insert("requestId".into(), json!(request_id));
            if let Err(e) = me.call(method, p).await {
                tracing::warn!("could not deliver the {what} answer: {e}");
            }
        });
    }

    fn spawn_elicitation(self: &Arc<Self>, data: &Value) {
        let Some(h) = self.handlers.elicitation.clone() else { return };
        self.spawn_broadcast("elicitation", h, data, "session.ui.handlePendingElicitation", |r| {
            let result = r.map(crate::ui::elicitation_result).unwrap_or_else(|_| json!({"action": "cancel"}));
            Some(Map::from_iter([("result".to_owned(), result)]))
        });
    }

    fn spawn_command(self: &Arc<Self>, data: &Value) {
        let name = data.get("commandName").and_then(Value::as_str).unwrap_or_default().to_owned();
        let method = "session.commands.handlePendingCommand";
        match self.handlers.command.clone() {
            Some(h) if self.handlers.commands.contains(&name) => {
                self.spawn_broadcast("command", h, data, method, |r| {
                    Some(match r {
                        Ok(_) => Map::new(),
                        Err(e) => Map::from_iter([("error".to_owned(), json!(e.message()))]),
                    })
                })
            }
            // Declared here without a handler: another connection's command.
            None if self.handlers.commands.contains(&name) => {}
            None if self.handlers.commands.is_empty() => {}
            _ => {
                let unknown: Arc<dyn JsonHandler> = Arc::new(|_: Value| async { Ok(Value::Null) });
                self.spawn_broadcast("command", unknown, data, method, move |_| {
                    Some(Map::from_iter([("error".to_owned(), json!(format!("Unknown command: {name}")))]))
                });
            }
        }
    }

    fn spawn_mcp_auth(self: &Arc<Self>, data: &Value) {
        let Some(h) = self.handlers.mcp_auth.clone() else { return };
        self.spawn_broadcast("MCP OAuth", h, data, "session.mcp.oauth.handlePendingRequest", |r| {
            let result = r.map(crate::ui::mcp_auth_result).unwrap_or_else(|_| json!({"kind": "cancelled"}));
            Some(Map::from_iter([("result".to_owned(), result)]))
        });
    }

    /// An authentication error with a token provider: ask it again (`reason: "refresh"`) and
    /// install the new token on the session (`session.gitHubAuth.setCredentials`), once at a time.
    fn spawn_token_refresh(self: &Arc<Self>) {
        let Some(h) = self.handlers.github_token.clone() else { return };
        let host = {
            let mut st = self.state.lock().unwrap();
            if st.refreshing_token {
                return;
            }
            st.refreshing_token = true;
            st.github_host.clone().unwrap_or_else(|| "https://github.com".into())
        };
        let me = self.clone();
        tokio::spawn(async move {
            let payload = json!({"sessionId": me.id, "host": host, "reason": "refresh"});
            let r = guarded("GitHub token", h.handle(payload)).await.and_then(crate::ui::github_token_result);
            match r {
                Ok(t) if t["kind"] == "token" => {
                    let creds = json!({"type": "token", "host": host, "token": t["accessToken"]});
                    let p = Map::from_iter([("credentials".to_owned(), creds)]);
                    if let Err(e) = me.call("session.gitHubAuth.setCredentials", p).await {
                        tracing::warn!("could not install the refreshed GitHub token: {e}");
                    }
                }
                Ok(_) => {
                    tracing::warn!("the GitHub token provider cancelled the refresh after an authentication error")
                }
                Err(e) => tracing::warn!("the GitHub token provider failed to refresh: {e}"),
            }
            me.state.lock().unwrap().refreshing_token = false;
        });
    }

    /// Without a permission handler, the session's own tools (declared with a handler here)
    /// are approved and every other kind is denied, logged once per kind.
    fn default_permission(&self, req: &PermissionRequest) -> PermissionDecision {
        let tool = req.request.get("toolName").and_then(Value::as_str).unwrap_or_default();
        if req.kind == "custom-tool" && self.handlers.tools.contains_key(tool) {
            return PermissionDecision::ApproveOnce;
        }
        if self.state.lock().unwrap().warned_kinds.insert(req.kind.clone()) {
            tracing::warn!(
                session = self.id,
                kind = req.kind,
                "denied a `{}` permission request: the session has no permission handler (only its own tools are approved by default)",
                req.kind
            );
        }
        PermissionDecision::UserNotAvailable
    }

    fn spawn_permission(self: &Arc<Self>, data: &Value) {
        if data.get("resolvedByHook").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let Some(request_id) = data.get("requestId").and_then(Value::as_str).map(str::to_owned) else { return };
        let request = data.get("permissionRequest").cloned().unwrap_or(Value::Null);
        let (tracked, cancel) = self.track();
        let req = PermissionRequest {
            session_id: self.id.clone(),
            request_id: request_id.clone(),
            kind: request.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned(),
            tool_call_id: request.get("toolCallId").and_then(Value::as_str).map(str::to_owned),
            request,
            raw: data.clone(),
            cancel: cancel.clone(),
        };
        let handler = self.handlers.permission.clone();
        let me = self.clone();
        let epoch = self.link().epoch();
        tokio::spawn(async move {
            let decision = match handler {
                None => me.default_permission(&req),
                Some(handler) => tokio::select! {
                    biased;
                    d = guarded("permission", handler.decide(req)) => d.unwrap_or_else(|e| {
                        tracing::warn!("permission handler failed, answering user-not-available: {e}");
                        PermissionDecision::UserNotAvailable
                    }),
                    _ = cancel.cancelled() => PermissionDecision::UserNotAvailable,
                },
            };
            me.untrack(tracked);
            let Some(result) = decision.to_wire() else { return };
            if me.is_disconnected() || me.link().epoch() != epoch {
                return;
            }
            let mut p = Map::new();
            p.insert("requestId".into(), json!(request_id));
            p.insert("result".into(), result);
            if let Err(e) = me.call("session.permissions.handlePendingPermissionRequest", p).await {
                tracing::warn!("could not deliver a permission decision: {e}");
            }
        });
    }

    /// A direct server→client request for this session. A cancelled handler (abort, stop,
    /// reconnect) is answered with a JSON-RPC error saying so.
    pub(crate) async fn serve(
        self: Arc<Self>,
        method: String,
        params: Value,
    ) -> std::result::Result<Value, RpcErrorData> {
        let (tracked, cancel) = self.track();
        let me = self.clone();
        let r = tokio::select! {
            biased;
            r = me.serve_request(method, params, cancel.clone()) => r,
            reason = cancel.cancelled() => Err(RpcErrorData {
                code: codes::INTERNAL_ERROR,
                message: format!("cancelled: {reason}"),
                data: None,
            }),
        };
        self.untrack(tracked);
        r
    }

    async fn serve_request(
        self: Arc<Self>,
        method: String,
        mut params: Value,
        cancel: CancellationToken,
    ) -> std::result::Result<Value, RpcErrorData> {
        let failed = |what: &str, e: Error| RpcErrorData {
            code: codes::INTERNAL_ERROR,
            message: format!("{what} handler failed: {}", e.message()),
            data: None,
        };
        if let Some(o) = params.as_object_mut() {
            o.remove("sessionId");
        }
        match method.as_str() {
            "userInput.request" => {
                let Some(h) = self.handlers.user_input.clone() else {
                    return Err(RpcErrorData {
                        code: codes::INTERNAL_ERROR,
                        message: "User input requested but no handler registered".into(),
                        data: None,
                    });
                };
                let req = UserInputRequest {
                    session_id: self.id.clone(),
                    question: params.get("question").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    choices: params
                        .get("choices")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                    allow_freeform: params.get("allowFreeform").and_then(Value::as_bool).unwrap_or(true),
                    raw: params,
                    cancel,
                };
                match guarded("user input", h.ask(req)).await {
                    Ok(r) => Ok(json!({"answer": r.answer, "wasFreeform": r.was_freeform})),
                    Err(e) => Err(failed("user input", e)),
                }
            }
            "hooks.invoke" => {
                let Some(h) = self.handlers.hook.clone() else { return Ok(json!({"output": {}})) };
                match guarded("hook", h.handle(params)).await {
                    Ok(Value::Null) => Ok(json!({"output": {}})),
                    Ok(out) => Ok(json!({"output": out})),
                    Err(e) => {
                        tracing::warn!("hook handler failed (answering an empty output): {e}");
                        Ok(json!({"output": {}}))
                    }
                }
            }
            "systemMessage.transform" => {
                let sections = params.get("sections").cloned().unwrap_or_else(|| json!({}));
                let Some(h) = self.handlers.transform.clone() else { return Ok(json!({"sections": sections})) };
                match guarded("system message transform", h.handle(params)).await {
                    Ok(v) => Ok(json!({"sections": merge_sections(sections, v)})),
                    Err(e) => {
                        tracing::warn!("system message transform failed (keeping the sections): {e}");
                        Ok(json!({"sections": sections}))
                    }
                }
            }
            "exitPlanMode.request" => {
                let Some(h) = self.handlers.exit_plan.clone() else { return Ok(json!({"approved": true})) };
                match guarded("exit plan mode", h.handle(params)).await {
                    Ok(v) => Ok(exit_plan_reply(v)),
                    Err(e) => Ok(json!({"approved": false, "feedback": e.message()})),
                }
            }
            "autoModeSwitch.request" => {
                let Some(h) = self.handlers.auto_mode_switch.clone() else { return Ok(json!({"response": "no"})) };
                let answer = match guarded("auto mode switch", h.handle(params)).await {
                    Ok(Value::Bool(true)) => "yes".to_owned(),
                    Ok(Value::String(s)) if matches!(s.as_str(), "yes" | "yes_always" | "no") => s,
                    Ok(Value::Object(o)) => match o.get("response").and_then(Value::as_str) {
                        Some(r @ ("yes" | "yes_always" | "no")) => r.to_owned(),
                        _ => "no".to_owned(),
                    },
                    Ok(_) => "no".to_owned(),
                    Err(e) => {
                        tracing::warn!("auto mode switch handler failed (answering no): {e}");
                        "no".to_owned()
                    }
                };
                Ok(json!({"response": answer}))
            }
            "providerToken.getToken" => {
                let Some(h) = self.handlers.provider_token.clone() else {
                    return Err(RpcErrorData {
                        code: codes::INTERNAL_ERROR,
                        message: "no bearer token provider registered".into(),
                        data: None,
                    });
                };
                match guarded("provider token", h.handle(params)).await {
                    Ok(Value::String(t)) => Ok(json!({"token": t})),
                    Ok(v) if v.get("token").is_some_and(Value::is_string) => Ok(v),
                    Ok(v) => Err(RpcErrorData {
                        code: codes::INTERNAL_ERROR,
                        message: format!("provider token handler returned {v}, expected a string"),
                        data: None,
                    }),
                    Err(e) => Err(failed("provider token", e)),
                }
            }
            "gitHubToken.getToken" => {
                let Some(h) = self.handlers.github_token.clone() else {
                    return Err(RpcErrorData {
                        code: codes::INTERNAL_ERROR,
                        message: "no GitHub token provider registered for this session".into(),
                        data: None,
                    });
                };
                if let Some(host) = params.get("host").and_then(Value::as_str) {
                    self.state.lock().unwrap().github_host = Some(host.to_owned());
                }
                let payload = json!({
                    "sessionId": self.id,
                    "host": params.get("host").cloned().unwrap_or(Value::Null),
                    "reason": params.get("reason").cloned().unwrap_or_else(|| json!("initial")),
                });
                guarded("GitHub token", h.handle(payload))
                    .await
                    .and_then(crate::ui::github_token_result)
                    .map_err(|e| failed("GitHub token provider", e))
            }
            m if m.starts_with("sessionFs.") => {
                let op = &m["sessionFs.".len()..];
                if !crate::session_fs::OPERATIONS.contains(&op) {
                    return Err(RpcErrorData {
                        code: codes::METHOD_NOT_FOUND,
                        message: format!("Unhandled method {method}"),
                        data: None,
                    });
                }
                let Some(h) = self.handlers.session_fs.clone() else {
                    return Err(RpcErrorData {
                        code: codes::INTERNAL_ERROR,
                        message: format!("no session filesystem provider on this client for {method}"),
                        data: None,
                    });
                };
                let mut payload = Map::new();
                payload.insert("operation".into(), json!(op));
                if let Value::Object(o) = params {
                    payload.extend(o);
                }
                let r = guarded("session filesystem", h.handle(Value::Object(payload))).await;
                Ok(crate::session_fs::wire_result(op, r.map_err(|e| e.message().to_owned())))
            }
            _ => Err(RpcErrorData {
                code: codes::METHOD_NOT_FOUND,
                message: format!("Unhandled method {method}"),
                data: None,
            }),
        }
    }
}

impl Session {
    /// The session id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The `session.create` / `session.resume` result (workspacePath, capabilities, …).
    pub fn info(&self) -> Value {
        self.inner.state.lock().unwrap().info.clone()
    }

    /// The session's workspace folder on the CLI's machine.
    pub fn workspace_path(&self) -> Option<String> {
        self.inner.state.lock().unwrap().info.get("workspacePath").and_then(Value::as_str).map(str::to_owned)
    }

    /// Every event from now on, in wire order.
    pub fn subscribe(&self) -> EventStream {
        self.inner.subscribe(None).1
    }

    /// Events of one type from now on.
    pub fn subscribe_type(&self, event_type: impl Into<String>) -> EventStream {
        self.inner.subscribe(Some(vec![event_type.into()])).1
    }

    /// Calls `f` for every event, in order, on a task of its own (a slow callback delays only
    /// itself).
    pub fn on(&self, f: impl Fn(&SessionEvent) + Send + Sync + 'static) -> Subscription {
        self.on_filtered(None, Arc::new(f))
    }

    /// Calls `f` for every event of one type.
    pub fn on_type(
        &self,
        event_type: impl Into<String>,
        f: impl Fn(&SessionEvent) + Send + Sync + 'static,
    ) -> Subscription {
        self.on_filtered(Some(event_type.into()), Arc::new(f))
    }

    fn on_filtered(&self, filter: Option<String>, cb: EventCallback) -> Subscription {
        let (id, stream) = self.inner.subscribe(filter.map(|t| vec![t]));
        pump_callback(stream, cb, None);
        Subscription { session: Arc::downgrade(&self.inner), id }
    }

    fn check_connected(&self) -> Result<()> {
        let st = self.inner.state.lock().unwrap();
        if let Some(e) = &st.ended_by {
            return Err(e.clone());
        }
        if st.disconnected {
            return Err(Error::new(
                ErrorKind::SessionNotFound,
                format!("session {} was disconnected on this client", self.inner.id),
            ));
        }
        Ok(())
    }

    /// Queues a prompt; returns the message id.
    pub async fn send(&self, options: impl Into<MessageOptions>) -> Result<String> {
        self.check_connected()?;
        if !self.inner.busy.load(std::sync::atomic::Ordering::SeqCst) {
            if let Some(home) = self.inner.home() {
                home.prepare(self.inner.clone()).await?;
            }
        }
        self.send_now(options.into()).await
    }

    async fn send_now(&self, options: MessageOptions) -> Result<String> {
        self.check_connected()?;
        crate::telemetry::check(&options.traceparent, &options.tracestate)?;
        let Value::Object(mut p) = options.to_wire(&self.inner.id) else { unreachable!() };
        let provider = self.inner.trace.lock().unwrap().clone();
        crate::telemetry::put(&mut p, &options.traceparent, &options.tracestate, provider.as_ref());
        self.inner.busy.store(true, std::sync::atomic::Ordering::SeqCst);
        let r = self.inner.call("session.send", p).await?;
        Ok(r.get("messageId").and_then(Value::as_str).unwrap_or_default().to_owned())
    }

    /// Asks the CLI to broadcast `mcp.oauth_required` to this connection (the official SDKs do
    /// this when an MCP OAuth handler is set).
    pub(crate) async fn register_mcp_auth_interest(&self) -> Result<()> {
        self.call("session.eventLog.registerInterest", json!({"eventType": "mcp.oauth_required"})).await.map(|_| ())
    }

    /// The `session.ui` helpers, answered by whichever client handles elicitation (this one too):
    /// `elicitation {message, requestedSchema}` → `{action, content?}`; `confirm {message}` →
    /// bool; `select {message, options}` → the choice or null; `input {message, options?}` → the
    /// text or null. Fails with `invalid_config` when the session has no elicitation capability
    /// (no client of it registered an elicitation handler).
    pub async fn ui(&self, op: &str, params: Value) -> Result<Value> {
        let call = crate::ui::ui_call(op, &params)?;
        let info = self.info();
        if info.pointer("/capabilities/ui/elicitation").and_then(Value::as_bool) != Some(true) {
            return Err(Error::config(
                "elicitation is not supported by this session: create or resume it with an elicitation handler (onElicitationRequest) first",
            ));
        }
        let Value::Object(p) = call.params.clone() else { unreachable!() };
        let r = self.inner.call_timeout("session.ui.elicitation", p, None).await?;
        Ok(call.read(&r))
    }

    /// Sends a prompt and waits for `session.idle`. Returns the last `assistant.message` of the
    /// turn (None when the turn produced none). Fails with the `session.error` message; with
    /// `timeout` after `options.timeout`, or after `options.idle_timeout` without any event
    /// (the turn keeps running unless `abort_on_timeout`); with `turn_outcome_unknown` when the
    /// connection is lost during the turn. Concurrent calls on one session queue up: each waits
    /// for its own turn.
    pub async fn send_and_wait(&self, options: impl Into<MessageOptions>) -> Result<Option<SessionEvent>> {
        let options = options.into();
        let timeout = options.timeout;
        let idle = options.idle_timeout;
        let abort = options.abort_on_timeout;
        // Set by the turn whenever an event arrives: the inactivity timer restarts from it.
        let activity = Arc::new(Mutex::new(tokio::time::Instant::now()));
        let seen = activity.clone();
        let turn = async {
            let _turn = self.inner.turn.lock().await;
            // Only the events the wait reads (all of them with an inactivity timeout), so
            // streamed deltas wake no task of ours otherwise.
            let filter = match idle {
                Some(_) => None,
                None => Some(
                    ["user.message", "assistant.message", "session.idle", "session.error"].map(String::from).to_vec(),
                ),
            };
            let mut stream = self.inner.subscribe(filter).1;
            // With earlier work still running (a plain `send` whose idle has not come), events
            // before our own `user.message` belong to that work and are skipped, so the answer
            // is always ours. An idle session needs no such wait: a turn can fail before its
            // user.message is recorded (no model access), and its error is still ours.
            let earlier_work = self.inner.busy.load(std::sync::atomic::Ordering::SeqCst);
            // Before a prompt, a pooled session moves to the server it belongs on now (its
            // server was drained or failed, or its preferred one is back).
            if let Some(home) = self.inner.home() {
                home.prepare(self.inner.clone()).await?;
            }
            let mut link = self.inner.link().subscribe();
            link.borrow_and_update();
            let before = self.inner.link().epoch();
            *seen.lock().unwrap() = tokio::time::Instant::now();
            let message_id = match self.send_now(options).await {
                Ok(id) => id,
                // Never written: nothing to be unsure about.
                Err(e) if e.is_unsent() => return Err(e),
                // The prompt may have reached the CLI before the connection broke.
                Err(e)
                    if e.is_transport_failure()
                        || (e.kind() == ErrorKind::Timeout
                            && before.is_some()
                            && before != self.inner.link().epoch()) =>
                {
                    return Err(self.outcome_unknown(&e));
                }
                Err(e) => return Err(e),
            };
            // The connection the prompt went out on (a send made while reconnecting waited for
            // the new one): losing it from now on loses the turn.
            let epoch = self.inner.link().epoch();
            let mut ours = !earlier_work;
            let mut last: Option<Arc<SessionEvent>> = None;
            let mut failed: Option<Error> = None;
            loop {
                let next = tokio::select! {
                    ev = async {
                        match &failed {
                            // After session.error the turn still ends with session.idle; wait
                            // for it (briefly) so the next turn does not see this one's idle.
                            Some(_) => tokio::time::timeout(Duration::from_secs(5), stream.recv()).await.ok().flatten(),
                            None => stream.recv().await,
                        }
                    } => ev,
                    _ = link.changed() => {
                        if self.lost_since(epoch) {
                            return Err(self.outcome_unknown(&self.link_cause()));
                        }
                        continue;
                    }
                };
                let Some(ev) = next else {
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    // The client gave up: its sessions end (closing this stream) just before
                    // the link goes down, so the ending, not the link, tells first.
                    let ended = self.inner.state.lock().unwrap().ended_by.clone();
                    if let Some(e) = ended {
                        return Err(self.outcome_unknown(&e));
                    }
                    if self.lost_since(epoch) {
                        return Err(self.outcome_unknown(&self.link_cause()));
                    }
                    return Err(Error::new(
                        ErrorKind::SessionNotFound,
                        format!("session {} was disconnected while waiting", self.inner.id),
                    ));
                };
                *seen.lock().unwrap() = tokio::time::Instant::now();
                match ev.event_type.as_str() {
                    "user.message" if !ours => {
                        let id = ev.data.get("messageId").and_then(Value::as_str);
                        ours = message_id.is_empty() || id.is_none_or(|id| id == message_id);
                    }
                    _ if !ours => {}
                    "assistant.message" if ev.agent_id.is_none() => last = Some(ev),
                    "session.idle" => {
                        return match failed {
                            Some(e) => Err(e),
                            None => Ok(last.map(|e| (*e).clone())),
                        };
                    }
                    "session.error" => {
                        let msg = ev.data.get("message").and_then(Value::as_str).unwrap_or("the turn failed");
                        failed = Some(Error::new(ErrorKind::SessionError, msg.to_owned()));
                    }
                    _ => {}
                }
            }
        };
        // The inactivity watch: resolves once no event came for `idle`.
        let quiet = async {
            let Some(idle) = idle else { return std::future::pending().await };
            loop {
                let deadline = *activity.lock().unwrap() + idle;
                if tokio::time::Instant::now() >= deadline {
                    return idle;
                }
                tokio::time::sleep_until(deadline).await;
            }
        };
        let started = std::time::Instant::now();
        let span = tracing::debug_span!("copilot.turn", session = %self.inner.id);
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, tracing::Instrument::instrument(turn, span)) => r.map_err(|_| {
                format!("Timeout after {}ms waiting for session.idle", timeout.as_millis())
            }),
            idle = quiet => Err(format!(
                "Timeout: session {} sent no event for {}ms (idle timeout) while waiting for session.idle",
                self.inner.id,
                idle.as_millis()
            )),
        };
        let result = match outcome {
            Ok(r) => r,
            Err(message) => {
                if abort {
                    if let Err(e) = self.abort().await {
                        tracing::warn!("abort after timeout failed: {e}");
                    }
                }
                Err(Error::new(ErrorKind::Timeout, message))
            }
        };
        self.inner.place().metrics.turn_done(started.elapsed(), result.as_ref().err());
        result
    }

    /// The fencing token of the session's lease (pooled sessions with a lease store): it grows
    /// with every acquisition, so a store the host writes to can refuse a stale holder.
    pub fn lease_token(&self) -> Option<u64> {
        self.inner.home().and_then(|h| h.lease_token())
    }

    /// The URL of the server a pooled session is on now (None outside a pool).
    pub fn server(&self) -> Option<String> {
        self.inner.home().and_then(|h| h.server(&self.inner))
    }

    /// True when the connection a turn started on (`epoch`) is gone.
    fn lost_since(&self, epoch: Option<u64>) -> bool {
        epoch.is_none() || self.inner.link().epoch() != epoch
    }

    /// Why the link is not up (for a turn that lost its connection).
    fn link_cause(&self) -> Error {
        match &*self.inner.link().subscribe().borrow() {
            LinkState::Reconnecting { cause } => cause.clone(),
            LinkState::Down { error } => error.clone(),
            LinkState::Up { .. } => Error::closed("the connection was replaced"),
        }
    }

    fn outcome_unknown(&self, cause: &Error) -> Error {
        cause.rekind(
            ErrorKind::TurnOutcomeUnknown,
            format!(
                "session {}: the connection to the CLI was lost during the turn ({}); whether the CLI finished the turn is unknown. Once the client has reconnected (the session is resumed), read its messages before sending the prompt again",
                self.inner.id,
                cause.message()
            ),
        )
    }

    /// Aborts the running turn (also fine when idle). Handlers still running for the session
    /// are cancelled (their tokens fire) and the CLI gets their failure answers.
    pub async fn abort(&self) -> Result<()> {
        self.check_connected()?;
        self.inner.cancel_handlers("the turn was aborted");
        self.inner.call("session.abort", Map::new()).await.map(drop)
    }

    /// The persisted events of the session (no ephemeral ones).
    /// [`Session::get_messages`] under the official SDKs' current name.
    pub async fn get_events(&self) -> Result<Vec<SessionEvent>> {
        self.get_messages().await
    }

    pub async fn get_messages(&self) -> Result<Vec<SessionEvent>> {
        self.check_connected()?;
        let r = self.inner.call("session.getMessages", Map::new()).await?;
        let events = r.get("events").cloned().unwrap_or_else(|| json!([]));
        serde_json::from_value(events)
            .map_err(|e| Error::protocol(format!("session.getMessages: unexpected events: {e}")))
    }

    /// Switches the model (`session.model.switchTo`).
    pub async fn set_model(&self, model: &str, reasoning_effort: Option<&str>) -> Result<Value> {
        self.check_connected()?;
        let mut p = Map::new();
        p.insert("modelId".into(), json!(model));
        if let Some(r) = reasoning_effort {
            p.insert("reasoningEffort".into(), json!(r));
        }
        self.inner.call("session.model.switchTo", p).await
    }

    /// Any session-scoped method by name (`sessionId` is added to `params`, an object or null):
    /// for methods newer than the typed `rpc()` namespaces.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.call_with_timeout(method, params, self.inner.request_timeout).await
    }

    /// [`Session::call`] with its own deadline (None: no deadline).
    pub async fn call_with_timeout(&self, method: &str, params: Value, timeout: Option<Duration>) -> Result<Value> {
        let p = match params {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => return Err(Error::config(format!("session.call params must be an object, got {other}"))),
        };
        self.inner.call_timeout(method, p, timeout).await
    }

    /// Detaches this client from the session (`session.destroy`); the session stays on disk and
    /// can be resumed. Idempotent; ends every event stream of this handle.
    pub async fn disconnect(&self) -> Result<()> {
        // A pool may be moving the session to another server right now: let it finish, then
        // detach from wherever it landed.
        let _moving = self.inner.moving.lock().await;
        let already = {
            let mut st = self.inner.state.lock().unwrap();
            std::mem::replace(&mut st.disconnected, true)
        };
        if already {
            // Ended by the client (gave up, failover impossible) or disconnected before: the
            // host is done with it, so its lease goes too (idempotent).
            self.inner.leave_registry();
            if let Some(home) = self.inner.home() {
                home.released(&self.inner.id);
            }
            return Ok(());
        }
        // Over a lost connection there is nothing to detach from (the server dropped this
        // connection's attachment with it, and a reconnect does not resume a disconnected
        // session): no waiting for the link to come back.
        let r = if self.inner.link().epoch().is_some() {
            self.inner.call_anyway("session.destroy", Map::new(), self.inner.request_timeout).await
        } else {
            Ok(Value::Null)
        };
        self.inner.mark_disconnected();
        self.inner.leave_registry();
        if let Some(home) = self.inner.home() {
            home.released(&self.inner.id);
        }
        match r {
            Err(e) if !e.is_transport_failure() => Err(e),
            _ => Ok(()),
        }
    }

    /// Same as [`Session::disconnect`] (the official SDKs' name).
    pub async fn destroy(&self) -> Result<()> {
        self.disconnect().await
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.inner.id).finish()
    }
}

/// The transform's answer, section by section: `{sections: {...}}` or the sections object
/// itself; each section as `{content}` or a string; sections it leaves out (or null) keep
/// their content.
fn merge_sections(mut sections: Value, reply: Value) -> Value {
    let reply = match reply {
        Value::Object(mut o) if o.get("sections").is_some_and(Value::is_object) => {
            o.remove("sections").unwrap_or_default()
        }
        other => other,
    };
    let (Value::Object(out), Value::Object(changes)) = (&mut sections, reply) else { return sections };
    for (id, change) in changes {
        let content = match change {
            Value::String(s) => s,
            Value::Object(ref o) => match o.get("content").and_then(Value::as_str) {
                Some(c) => c.to_owned(),
                None => continue,
            },
            _ => continue,
        };
        if let Some(Value::Object(section)) = out.get_mut(&id) {
            section.insert("content".into(), Value::String(content));
        } else if out.contains_key(&id) {
            out.insert(id, json!({"content": content}));
        }
    }
    sections
}

/// Exit-plan-mode answers: a boolean, an action name (approved with it), an object (its
/// `approved` defaults to true), or null (approved).
fn exit_plan_reply(v: Value) -> Value {
    match v {
        Value::Bool(b) => json!({"approved": b}),
        Value::String(action) => json!({"approved": true, "selectedAction": action}),
        Value::Object(mut o) => {
            let approved = o.get("approved").and_then(Value::as_bool).unwrap_or(true);
            o.insert("approved".into(), json!(approved));
            o.retain(|k, v| matches!(k.as_str(), "approved" | "selectedAction" | "feedback") && !v.is_null());
            Value::Object(o)
        }
        _ => json!({"approved": true}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_answers_merge_section_by_section() {
        let sections = json!({"tone": {"content": "old tone"}, "safety": {"content": "old safety"}});
        let merged = |reply: Value| merge_sections(sections.clone(), reply);
        assert_eq!(
            merged(json!({"tone": "new"})),
            json!({"tone": {"content": "new"}, "safety": {"content": "old safety"}})
        );
        assert_eq!(
            merged(json!({"sections": {"safety": {"content": "s"}, "unknown": "x"}})),
            json!({"tone": {"content": "old tone"}, "safety": {"content": "s"}})
        );
        assert_eq!(merged(Value::Null), sections);
        assert_eq!(merged(json!({"tone": 3})), sections);
    }

    #[test]
    fn exit_plan_answers() {
        assert_eq!(exit_plan_reply(json!(false)), json!({"approved": false}));
        assert_eq!(exit_plan_reply(json!("autopilot")), json!({"approved": true, "selectedAction": "autopilot"}));
        assert_eq!(exit_plan_reply(Value::Null), json!({"approved": true}));
        assert_eq!(
            exit_plan_reply(json!({"feedback": "later", "approved": false, "x": 1})),
            json!({"approved": false, "feedback": "later"})
        );
        assert_eq!(
            exit_plan_reply(json!({"selectedAction": "interactive"})),
            json!({"approved": true, "selectedAction": "interactive"})
        );
    }
}
