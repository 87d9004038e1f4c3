//! What the opaque handles hold, and how host callbacks become the core's handlers.

use crate::rt::{self, Failure, Gate, Gates, UserData, c_string, lock};
use crate::{COPILOT_ERR_INVALID_ARGUMENT, CopilotEventCallback, CopilotRequestCallback};
use copilot_core::{
    Client, ErrorKind, JsonHandler, PermissionDecision, PermissionHandler, PermissionRequest, Session, SessionConfig,
    SessionEvent, ToolHandler, ToolInvocation, ToolResult, UserInputHandler, UserInputRequest, UserInputResponse,
};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Behind `CopilotClient *`.
pub(crate) struct ClientState {
    pub gate: Arc<Gate>,
    pub core: Client,
    pub lifecycle: Option<(CopilotEventCallback, UserData)>,
    pub lifecycle_task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl ClientState {
    pub fn gates(&self) -> Gates {
        Arc::from(vec![self.gate.clone()])
    }

    /// From creation on: forward lifecycle notifications to the host.
    pub fn follow_lifecycle(self: &Arc<Self>) {
        let Some((Some(cb), ud)) = self.lifecycle else { return };
        let Ok(mut stream) = self.core.subscribe_lifecycle() else { return };
        let gates = self.gates();
        let task = copilot_core::runtime().spawn(async move {
            while let Some(ev) = stream.recv().await {
                let text = serde_json::to_string(&ev).unwrap_or_else(|_| "null".into());
                rt::enqueue_gated(gates.clone(), move || {
                    let t = c_string(text);
                    unsafe { cb(ud.ptr(), t.as_ptr()) };
                });
            }
        });
        if let Some(old) = lock(&self.lifecycle_task).replace(task.abort_handle()) {
            old.abort();
        }
    }

    /// For `copilot_client_free`.
    pub fn close(&self) {
        rt::close_gate(&self.gate);
        if let Some(t) = lock(&self.lifecycle_task).take() {
            t.abort();
        }
        let core = self.core.clone();
        copilot_core::runtime().spawn(async move { core.force_stop().await });
    }
}

/// Session state shared with the core's handler closures (never holds the client or the
/// session itself, so no reference cycle keeps either alive).
pub(crate) struct SessionCtx {
    pub gates: Gates,
    pub on_event: CopilotEventCallback,
    pub on_request: CopilotRequestCallback,
    pub ud: UserData,
    /// Send-and-wait calls waiting for the event callback to catch up (see [`FlushWaiter`]).
    waiters: Mutex<Vec<Arc<Mutex<WaiterState>>>>,
}

#[derive(Default)]
struct WaiterState {
    seen: Vec<String>,
    target: Option<String>,
    done: Option<oneshot::Sender<()>>,
}

/// Registered before a send-and-wait: records the ids of the events handed to the dispatcher,
/// so the completion can be queued after the turn's last event.
pub(crate) struct FlushWaiter {
    ctx: Arc<SessionCtx>,
    state: Arc<Mutex<WaiterState>>,
}

impl FlushWaiter {
    /// Waits until the event with this id was queued for the event callback.
    pub async fn wait_for(self, id: &str) {
        let rx = {
            let mut st = lock(&self.state);
            if st.seen.iter().any(|s| s == id) {
                None
            } else {
                let (tx, rx) = oneshot::channel();
                st.target = Some(id.to_owned());
                st.done = Some(tx);
                Some(rx)
            }
        };
        if let Some(rx) = rx {
            // The core's event pump is at most a few events behind; the deadline only guards
            // against an id the pump never reports.
            let _ = tokio::time::timeout(Duration::from_secs(10), rx).await;
        }
    }
}

impl Drop for FlushWaiter {
    fn drop(&mut self) {
        lock(&self.ctx.waiters).retain(|w| !Arc::ptr_eq(w, &self.state));
    }
}

impl SessionCtx {
    pub fn flush_waiter(self: &Arc<Self>) -> Option<FlushWaiter> {
        self.on_event?;
        let state = Arc::new(Mutex::new(WaiterState::default()));
        lock(&self.waiters).push(state.clone());
        Some(FlushWaiter { ctx: self.clone(), state })
    }

    /// Called by the core's event pump, in wire order.
    fn forward_event(&self, ev: &SessionEvent) {
        let Some(cb) = self.on_event else { return };
        let text = serde_json::to_string(ev).unwrap_or_else(|_| "null".into());
        let ud = self.ud;
        rt::enqueue_gated(self.gates.clone(), move || {
            let t = c_string(text);
            unsafe { cb(ud.ptr(), t.as_ptr()) };
        });
        if ev.id.is_empty() {
            return;
        }
        for w in lock(&self.waiters).iter() {
            let mut st = lock(w);
            st.seen.push(ev.id.clone());
            if st.target.as_deref() == Some(ev.id.as_str()) {
                if let Some(tx) = st.done.take() {
                    let _ = tx.send(());
                }
            }
        }
    }

    /// Sends one handler request to the host and waits for its answer.
    async fn request(self: Arc<Self>, kind: &'static str, payload: Value) -> copilot_core::Result<Value> {
        let Some(cb) = self.on_request else {
            return Err(copilot_core::Error::new(ErrorKind::HandlerFailed, "no request callback"));
        };
        let ud = self.ud;
        let text = payload.to_string();
        rt::ask(self.gates.clone(), move |id| {
            let k = c_string(kind.to_owned());
            let p = c_string(text);
            unsafe { cb(ud.ptr(), id, k.as_ptr(), p.as_ptr()) };
        })
        .await
    }
}

/// The handler kinds a config may list in `"handlers"` (tools are implied by `tools`).
pub(crate) const HANDLER_KINDS: &[&str] =
    &["permission", "userInput", "hook", "systemMessageTransform", "exitPlanMode", "providerToken"];

/// Parses a session config JSON (with the ABI-only `"handlers"` key) and wires the host
/// callbacks in as the core's handlers.
pub(crate) fn session_config(v: Value, ctx: &Arc<SessionCtx>) -> Result<SessionConfig, Failure> {
    let mut v = match v {
        Value::Null => json!({}),
        o @ Value::Object(_) => o,
        other => {
            return Err(Failure::kind(
                ErrorKind::InvalidConfig,
                format!("session config must be an object, got {other}"),
            ));
        }
    };
    let kinds: Vec<String> = match v.as_object_mut().unwrap().remove("handlers") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|k| match k {
                Value::String(s) if HANDLER_KINDS.contains(&s.as_str()) => Ok(s),
                other => Err(Failure::abi(
                    COPILOT_ERR_INVALID_ARGUMENT,
                    format!("unknown handler kind {other} in \"handlers\"; known: {}", HANDLER_KINDS.join(", ")),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(Failure::abi(
                COPILOT_ERR_INVALID_ARGUMENT,
                format!("\"handlers\" must be an array of kinds, got {other}"),
            ));
        }
    };
    if !kinds.is_empty() && ctx.on_request.is_none() {
        return Err(Failure::abi(
            COPILOT_ERR_INVALID_ARGUMENT,
            "\"handlers\" needs a request callback (on_request is NULL)",
        ));
    }
    let mut cfg = SessionConfig::from_json(&v)?;
    if ctx.on_request.is_some() {
        for tool in &mut cfg.tools {
            let c = ctx.clone();
            let handler: Arc<dyn ToolHandler> = Arc::new(move |inv: ToolInvocation| {
                let c = c.clone();
                async move {
                    let payload = json!({
                        "sessionId": inv.session_id, "requestId": inv.request_id, "toolCallId": inv.tool_call_id,
                        "toolName": inv.tool_name, "arguments": inv.arguments, "workingDirectory": inv.working_directory,
                    });
                    c.request("tool", payload).await.map(ToolResult::from_json)
                }
            });
            tool.handler = Some(handler);
        }
    }
    for kind in kinds {
        let c = ctx.clone();
        match kind.as_str() {
            "permission" => {
                let h: Arc<dyn PermissionHandler> = Arc::new(move |req: PermissionRequest| {
                    let c = c.clone();
                    async move {
                        let payload = json!({
                            "sessionId": req.session_id, "requestId": req.request_id, "kind": req.kind,
                            "toolCallId": req.tool_call_id, "request": req.request,
                        });
                        let answer = c.request("permission", payload).await?;
                        PermissionDecision::from_json(&answer)
                    }
                });
                cfg.on_permission_request = Some(h);
            }
            "userInput" => {
                let h: Arc<dyn UserInputHandler> = Arc::new(move |req: UserInputRequest| {
                    let c = c.clone();
                    async move {
                        let payload = json!({
                            "sessionId": req.session_id, "question": req.question, "choices": req.choices,
                            "allowFreeform": req.allow_freeform,
                        });
                        let answer = c.request("userInput", payload).await?;
                        user_input_response(answer)
                    }
                });
                cfg.on_user_input_request = Some(h);
            }
            other => {
                let kind: &'static str = HANDLER_KINDS.iter().find(|k| **k == other).copied().unwrap();
                let h: Arc<dyn JsonHandler> = Arc::new(move |params: Value| c.clone().request(kind, params));
                match kind {
                    "hook" => cfg.on_hook = Some(h),
                    "systemMessageTransform" => cfg.on_system_message_transform = Some(h),
                    "exitPlanMode" => cfg.on_exit_plan_mode = Some(h),
                    "providerToken" => cfg.on_provider_token = Some(h),
                    _ => unreachable!(),
                }
            }
        }
    }
    if ctx.on_event.is_some() {
        let c = ctx.clone();
        cfg.on_event = Some(Arc::new(move |ev: &SessionEvent| c.forward_event(ev)));
    }
    Ok(cfg)
}

fn user_input_response(v: Value) -> copilot_core::Result<UserInputResponse> {
    match v {
        Value::String(answer) => Ok(UserInputResponse { answer, was_freeform: true }),
        Value::Object(ref m) if m.get("answer").is_some_and(Value::is_string) => Ok(UserInputResponse {
            answer: m["answer"].as_str().unwrap().to_owned(),
            was_freeform: m.get("wasFreeform").and_then(Value::as_bool).unwrap_or(false),
        }),
        other => Err(copilot_core::Error::new(
            ErrorKind::HandlerFailed,
            format!(
                "a user-input answer must be a string or {{\"answer\": string, \"wasFreeform\"?: bool}}, got {other}"
            ),
        )),
    }
}

/// Behind `CopilotSession *`.
pub(crate) struct SessionState {
    pub id: String,
    pub gate: Arc<Gate>,
    pub client: Arc<ClientState>,
    pub ctx: Arc<SessionCtx>,
    open: Mutex<OpenState>,
}

#[derive(Default)]
struct OpenState {
    core: Option<Session>,
    /// The create/resume call was cancelled (or the handle freed): close the session if the
    /// server opens it anyway.
    abandoned: bool,
}

impl SessionState {
    pub fn new(
        id: String,
        client: Arc<ClientState>,
        on_event: CopilotEventCallback,
        on_request: CopilotRequestCallback,
        ud: UserData,
    ) -> Arc<SessionState> {
        let gate = Gate::new();
        let gates: Gates = Arc::from(vec![client.gate.clone(), gate.clone()]);
        let ctx = Arc::new(SessionCtx { gates, on_event, on_request, ud, waiters: Mutex::new(Vec::new()) });
        Arc::new(SessionState { id, gate, client, ctx, open: Mutex::new(OpenState::default()) })
    }

    pub fn gates(&self) -> Gates {
        self.ctx.gates.clone()
    }

    /// The open core session, or the error a call on a closed handle gets.
    pub fn core(&self) -> Result<Session, Failure> {
        if self.client.gate.is_closing() {
            return Err(Failure::kind(ErrorKind::NotConnected, "the client of this session was freed"));
        }
        lock(&self.open).core.clone().ok_or_else(|| {
            Failure::kind(
                ErrorKind::SessionNotFound,
                format!("session {} is not open (its create/resume did not succeed)", self.id),
            )
        })
    }

    pub fn info(&self) -> Value {
        let core = lock(&self.open).core.clone();
        json!({
            "sessionId": self.id,
            "workspacePath": core.as_ref().and_then(Session::workspace_path),
            "info": core.as_ref().map(Session::info).unwrap_or(Value::Null),
        })
    }

    /// Runs a create/resume: the core call runs in a task of its own, so cancelling the call
    /// (dropping this future) cannot leave a half-open session behind.
    pub async fn open(
        self: Arc<Self>,
        opener: impl Future<Output = copilot_core::Result<Session>> + Send + 'static,
    ) -> Result<String, Failure> {
        let me = self.clone();
        let task = copilot_core::runtime().spawn(async move {
            let r = opener.await;
            if let Ok(s) = &r {
                let abandoned = {
                    let mut st = lock(&me.open);
                    if !st.abandoned {
                        st.core = Some(s.clone());
                    }
                    st.abandoned
                };
                if abandoned {
                    let _ = s.disconnect().await;
                }
            }
            r
        });
        let mut guard = AbandonOnDrop(Some(self.clone()));
        let r = task.await;
        guard.0 = None;
        let s = r.map_err(|e| Failure::kind(ErrorKind::Internal, format!("session open task failed: {e}")))??;
        Ok(s.info().to_string())
    }

    /// For `copilot_session_free`.
    pub fn close(&self) {
        rt::close_gate(&self.gate);
        let core = {
            let mut st = lock(&self.open);
            st.abandoned = true;
            st.core.take()
        };
        if let Some(s) = core {
            if !self.client.gate.is_closing() {
                copilot_core::runtime().spawn(async move {
                    let _ = s.disconnect().await;
                });
            }
        }
    }
}

struct AbandonOnDrop(Option<Arc<SessionState>>);
impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            let core = {
                let mut st = lock(&s.open);
                st.abandoned = true;
                st.core.take()
            };
            if let Some(core) = core {
                copilot_core::runtime().spawn(async move {
                    let _ = core.disconnect().await;
                });
            }
        }
    }
}
