//! What the opaque handles hold, and how a session's host stream reaches the C callbacks.
//!
//! A session is attached to the core's host bridge (`copilot_core::host`): the core answers the
//! protocol, builds every payload and reads every reply; this module only moves the stream's
//! messages, in order, onto the dispatcher thread — events to the event callbacks, requests to
//! the request callback (and a request's cancellation to it again, as kind `"cancel"`),
//! completions of `send_and_wait` to their call's callback. A client's
//! lifecycle subscriptions are streams of the core's lifecycle fan-out, moved the same way.

use crate::boundary::Launch;
use crate::rt::{self, Cancel, Failure, Gate, Gates, UserData, c_string, lock};
use crate::{COPILOT_ERR_INVALID_ARGUMENT, COPILOT_ERR_UNKNOWN_ID, CopilotEventCallback, CopilotRequestCallback};
use copilot_core::host::{self, HostMessage, HostOptions, HostPort, HostRequest, HostStream};
use copilot_core::{Client, Error as CoreError, ErrorKind, Pool, Reaper, Session, SessionConfig, SessionEvent};
use serde_json::{Map, Value, json};
use std::ffi::{c_char, c_void};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// An event callback that is set (the non-NULL case of [`CopilotEventCallback`]).
pub(crate) type EventFn = unsafe extern "C" fn(user_data: *mut c_void, event_json: *const c_char);

/// Behind `CopilotClient *`.
pub(crate) struct ClientState {
    pub gate: Arc<Gate>,
    pub core: Client,
    /// The lifecycle subscriptions (the create-time `on_lifecycle` is id 0).
    lifecycle: Mutex<Vec<LifecycleSub>>,
    /// The reapers started on this client: stopped when it is freed.
    pub reapers: Reapers,
}

/// One lifecycle subscription: a stream of the core's lifecycle fan-out, drained by a task of
/// its own onto the dispatcher.
struct LifecycleSub {
    id: u64,
    /// Cleared by unsubscribe: jobs already queued then call nothing.
    active: Arc<AtomicBool>,
    task: tokio::task::AbortHandle,
}

impl ClientState {
    /// The core keeps lifecycle subscribers per client, so `on_lifecycle` follows from here on,
    /// across an implicit start and restarts.
    pub fn new(core: Client, on_lifecycle: CopilotEventCallback, ud: UserData) -> Result<Arc<ClientState>, Failure> {
        let state = Arc::new(ClientState {
            gate: Gate::new(),
            core,
            lifecycle: Mutex::new(Vec::new()),
            reapers: Reapers::default(),
        });
        if let Some(cb) = on_lifecycle {
            state.add_lifecycle(0, None, cb, ud)?;
        }
        Ok(state)
    }

    pub fn gates(&self) -> Gates {
        Arc::from(vec![self.gate.clone()])
    }

    /// `copilot_client_subscribe_lifecycle`.
    pub fn subscribe_lifecycle(&self, types: Option<Vec<String>>, cb: EventFn, ud: UserData) -> Result<u64, Failure> {
        let id = rt::next_id();
        self.add_lifecycle(id, types, cb, ud)?;
        Ok(id)
    }

    /// Subscribes to the core's lifecycle fan-out (at once: notifications from now on) and
    /// forwards each notification, in wire order, to `cb` on the dispatcher. The core's fan-out
    /// filters by type.
    fn add_lifecycle(&self, id: u64, types: Option<Vec<String>>, cb: EventFn, ud: UserData) -> Result<(), Failure> {
        let mut stream = self.core.subscribe_lifecycle_types(types);
        let active = Arc::new(AtomicBool::new(true));
        let (gates, on) = (self.gates(), active.clone());
        let task = copilot_core::runtime().spawn(async move {
            while let Some(ev) = stream.recv().await {
                let text = c_string(serde_json::to_string(&ev).unwrap_or_else(|_| "null".into()));
                let on = on.clone();
                rt::enqueue_gated(gates.clone(), move || {
                    if on.load(Ordering::SeqCst) {
                        unsafe { cb(ud.ptr(), text.as_ptr()) };
                    }
                });
            }
        });
        lock(&self.lifecycle).push(LifecycleSub { id, active, task: task.abort_handle() });
        Ok(())
    }

    /// `copilot_client_unsubscribe_lifecycle`: once it returns, no callback of the subscription
    /// starts.
    pub fn unsubscribe_lifecycle(&self, id: u64) -> Result<(), Failure> {
        let sub = {
            let mut subs = lock(&self.lifecycle);
            let at = subs.iter().position(|s| s.id == id && id != 0);
            at.map(|i| subs.remove(i))
        };
        let sub = sub.ok_or_else(|| Failure::abi(COPILOT_ERR_UNKNOWN_ID, format!("no active subscription {id}")))?;
        sub.active.store(false, Ordering::SeqCst);
        sub.task.abort();
        // A callback of it may be running on the dispatcher: wait for that job.
        rt::barrier();
        Ok(())
    }

    /// For `copilot_client_free`.
    pub fn close(&self) {
        rt::close_gate(&self.gate);
        self.reapers.stop_all();
        for sub in lock(&self.lifecycle).drain(..) {
            sub.task.abort();
        }
        let core = self.core.clone();
        copilot_core::runtime().spawn(async move { core.force_stop().await });
    }
}

/// Behind `CopilotPool *`: a core pool and its gate (what `copilot_pool_free` closes; the
/// sessions the pool opened carry it as their owner's gate).
pub(crate) struct PoolState {
    pub gate: Arc<Gate>,
    pub core: Pool,
    /// The reapers started on this pool: stopped when it is freed.
    pub reapers: Reapers,
}

impl PoolState {
    pub fn new(core: Pool) -> Arc<PoolState> {
        Arc::new(PoolState { gate: Gate::new(), core, reapers: Reapers::default() })
    }

    pub fn gates(&self) -> Gates {
        Arc::from(vec![self.gate.clone()])
    }

    /// For `copilot_pool_free`: pending calls of the pool and its sessions complete as
    /// cancelled, its reapers stop, and the pool stops in the background (leases released,
    /// sessions detached, connections closed).
    pub fn close(&self) {
        rt::close_gate(&self.gate);
        self.reapers.stop_all();
        let core = self.core.clone();
        copilot_core::runtime().spawn(async move {
            if let Err(e) = core.stop().await {
                tracing::debug!("stopping a freed pool: {e}");
            }
        });
    }
}

/// The reapers of a client or pool (weakly: a reaper handle is freed on its own).
#[derive(Default)]
pub(crate) struct Reapers(Mutex<Vec<Weak<ReaperState>>>);

impl Reapers {
    pub fn add(&self, r: &Arc<ReaperState>) {
        let mut list = lock(&self.0);
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(r));
    }

    /// Stops every reaper still running (the owner is being freed: a sweep would restart it).
    pub fn stop_all(&self) {
        let list: Vec<_> = lock(&self.0).drain(..).collect();
        for r in list.iter().filter_map(Weak::upgrade) {
            r.stop_task();
        }
    }
}

/// Behind `CopilotReaper *`: the core's background reaper.
pub(crate) struct ReaperState {
    reaper: Mutex<Option<Reaper>>,
    /// Cleared by stop: sweep callbacks already queued then call nothing.
    active: Arc<AtomicBool>,
}

impl ReaperState {
    /// Starts a reaper with `start`, which gets the callback to call with each sweep's JSON
    /// (`{"deleted":[ids]}` or `{"error","code","status"}`): it reaches `on_sweep` on the
    /// dispatcher while `gates` are open and the reaper is not stopped.
    pub fn start(
        gates: Gates,
        on_sweep: Option<EventFn>,
        ud: UserData,
        start: impl FnOnce(Option<copilot_core::reaper::SweepCallback>) -> copilot_core::Result<Reaper>,
    ) -> Result<Arc<ReaperState>, Failure> {
        let active = Arc::new(AtomicBool::new(true));
        let on = active.clone();
        let callback = on_sweep.map(|cb| {
            Arc::new(move |r: copilot_core::Result<&[copilot_core::SessionMetadata]>| {
                let v = match r {
                    Ok(deleted) => {
                        json!({"deleted": deleted.iter().map(|m| m.session_id.as_str()).collect::<Vec<_>>()})
                    }
                    Err(e) => json!({"error": e.message(), "code": e.code(), "status": e.kind().number()}),
                };
                let text = c_string(v.to_string());
                let on = on.clone();
                rt::enqueue_gated(gates.clone(), move || {
                    if on.load(Ordering::SeqCst) {
                        unsafe { cb(ud.ptr(), text.as_ptr()) };
                    }
                });
            }) as copilot_core::reaper::SweepCallback
        });
        // The core spawns the reaper's task: on the core's runtime.
        let reaper = {
            let _rt = copilot_core::runtime().enter();
            start(callback)?
        };
        Ok(Arc::new(ReaperState { reaper: Mutex::new(Some(reaper)), active }))
    }

    fn stop_task(&self) {
        self.active.store(false, Ordering::SeqCst);
        if let Some(r) = lock(&self.reaper).take() {
            r.stop();
        }
    }

    /// `copilot_reaper_stop`: no sweep starts afterwards, and no sweep callback starts after it
    /// returns (called from another thread, it waits for one that is running).
    pub fn stop(&self) {
        self.stop_task();
        rt::barrier();
    }
}

/// The callbacks given to create/resume.
pub(crate) struct Callbacks {
    pub on_event: CopilotEventCallback,
    pub on_request: CopilotRequestCallback,
    pub ud: UserData,
}

/// One event callback: the session's `on_event` (id 0) or a `copilot_session_subscribe`.
struct Sub {
    /// The ABI's id (process-unique; 0 for `on_event`, which cannot be unsubscribed).
    id: u64,
    /// The host port's id, as [`HostMessage::Event`] lists it.
    port_id: u64,
    cb: EventFn,
    ud: UserData,
}

/// What the session's drain task delivers to. Holds neither the port nor the core session, so
/// the stream ends once the session is gone.
struct Sinks {
    gates: Gates,
    /// The session's gate id: with the core's request id, it names a pending request.
    session_gate: u64,
    on_request: CopilotRequestCallback,
    ud: UserData,
    subs: Mutex<Vec<Sub>>,
}

impl Sinks {
    /// The session's one reader of its host stream: every message becomes a dispatcher job (or
    /// a call's completion) in stream order.
    async fn drain(self: Arc<Self>, mut stream: HostStream) {
        while let Some(msg) = stream.recv().await {
            match msg {
                HostMessage::Event { event, subscriptions } => self.event(&event, subscriptions),
                HostMessage::Request(req) => self.request(req),
                HostMessage::Completion { call, result } => {
                    rt::finish(call, result.map(|v| v.to_string()).map_err(Failure::from));
                }
                HostMessage::Cancelled { request, reason } => self.cancelled(request, reason),
                HostMessage::End => {}
            }
        }
    }

    /// One job per event: serialized once, handed to each matching subscription still active.
    fn event(self: &Arc<Self>, event: &SessionEvent, subscriptions: Vec<u64>) {
        let text = c_string(serde_json::to_string(event).unwrap_or_else(|_| "null".into()));
        let me = self.clone();
        rt::enqueue_gated(self.gates.clone(), move || {
            for port_id in subscriptions {
                let sub = lock(&me.subs).iter().find(|s| s.port_id == port_id).map(|s| (s.cb, s.ud));
                if let Some((cb, ud)) = sub {
                    unsafe { cb(ud.ptr(), text.as_ptr()) };
                }
            }
        });
    }

    /// Hands a host request to the request callback under a request id; the host reads its name
    /// with `copilot_request_name` and answers it with `copilot_request_reply` /
    /// `copilot_request_fail` (see `rt::answer`).
    fn request(&self, req: HostRequest) {
        let HostRequest { id: port_id, kind, name, payload, responder, .. } = req;
        let Some(cb) = self.on_request else {
            // Not reached: the core asks only for kinds attached with a request callback.
            return responder.fail("the session has no request callback");
        };
        match rt::register_request(self.gates.clone(), (self.session_gate, port_id), name, responder) {
            Ok(id) => {
                let ud = self.ud;
                let payload = payload.to_string();
                rt::enqueue_gated(self.gates.clone(), move || {
                    let k = c_string(kind.name().to_owned());
                    let p = c_string(payload);
                    unsafe { cb(ud.ptr(), id, k.as_ptr(), p.as_ptr()) };
                });
            }
            Err(responder) => responder.fail("the session was freed"),
        }
    }

    /// The core no longer wants the answer to a request (turn aborted or timed out, session
    /// disconnected, client stopped, connection lost): if the host has not answered it yet,
    /// the request callback is called again with the same id, kind `"cancel"` and
    /// `{"reason": …}`, after the request's own call (stream order). From then on the request
    /// is not pending.
    fn cancelled(&self, port_id: u64, reason: String) {
        let Some(cb) = self.on_request else { return };
        let Some(id) = rt::withdraw_request((self.session_gate, port_id)) else { return };
        let ud = self.ud;
        let payload = c_string(json!({ "reason": reason }).to_string());
        rt::enqueue_gated(self.gates.clone(), move || {
            unsafe { cb(ud.ptr(), id, c"cancel".as_ptr(), payload.as_ptr()) };
        });
    }
}

/// Splits a session config JSON into the core's config and the host options from the ABI-only
/// keys `"handlers"` (kinds besides tools), `"hooks"` (hook types) and `"toolHandlers"` (the
/// declared tools the host runs; absent: every declared tool when there is a request callback,
/// none without).
fn session_config(v: Value, has_request_callback: bool) -> Result<(SessionConfig, HostOptions), Failure> {
    let mut obj = match v {
        Value::Null => Map::new(),
        Value::Object(o) => o,
        other => {
            return Err(Failure::kind(
                ErrorKind::InvalidConfig,
                format!("session config must be an object, got {other}"),
            ));
        }
    };
    let mut host = Map::new();
    for key in ["handlers", "hooks"] {
        if let Some(v) = obj.remove(key) {
            host.insert(key.into(), v);
        }
    }
    let tool_handlers = string_list(obj.remove("toolHandlers").unwrap_or(Value::Null), || {
        Failure::kind(ErrorKind::InvalidConfig, "\"toolHandlers\" must be null or an array of tool names")
    })?;
    let mut options = HostOptions::from_json(&Value::Object(host))?;
    options.tools = match tool_handlers {
        Some(names) => Some(names),
        None if has_request_callback => None,
        None => Some(Vec::new()),
    };
    let non_empty = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|l| !l.is_empty());
    if !has_request_callback && (!options.kinds.is_empty() || non_empty(&options.hooks) || non_empty(&options.tools)) {
        return Err(Failure::abi(
            COPILOT_ERR_INVALID_ARGUMENT,
            "\"handlers\", \"hooks\" and \"toolHandlers\" need a request callback (on_request is NULL)",
        ));
    }
    Ok((SessionConfig::from_json(&Value::Object(obj))?, options))
}

/// `types_json` of `copilot_session_subscribe` and `copilot_client_subscribe_lifecycle`: null
/// (every type) or an array of type names.
pub(crate) fn event_types(v: Value) -> Result<Option<Vec<String>>, Failure> {
    string_list(v, || {
        Failure::abi(COPILOT_ERR_INVALID_ARGUMENT, "`types_json` must be null or an array of event types")
    })
}

/// null (None) or an array of strings; `bad()` otherwise.
fn string_list(v: Value, bad: impl Fn() -> Failure) -> Result<Option<Vec<String>>, Failure> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => {
            a.into_iter().map(|t| t.as_str().map(str::to_owned).ok_or_else(&bad)).collect::<Result<_, _>>().map(Some)
        }
        _ => Err(bad()),
    }
}

/// Behind `CopilotSession *`.
pub(crate) struct SessionState {
    pub id: String,
    gate: Arc<Gate>,
    gates: Gates,
    /// The gate of the client or pool that opened the session.
    owner: Arc<Gate>,
    port: HostPort,
    sinks: Arc<Sinks>,
    drain: tokio::task::AbortHandle,
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
    /// Attaches the callbacks to a session config (before create/resume, so `on_event` sees
    /// the first event) and starts the session's drain task. Returns the config to open. The
    /// id is known before the server answers (`copilot_session_id` works at once): the resumed
    /// one, the config's, or a new one written into the config.
    pub fn new(
        resume_id: Option<String>,
        owner: Arc<Gate>,
        config: Value,
        callbacks: Callbacks,
    ) -> Result<(Arc<SessionState>, SessionConfig), Failure> {
        let (mut cfg, options) = session_config(config, callbacks.on_request.is_some())?;
        let id = match resume_id {
            Some(id) => id,
            None => cfg.session_id.get_or_insert_with(|| uuid::Uuid::new_v4().to_string()).clone(),
        };
        let (port, stream) = host::attach(&mut cfg, options)?;
        let gate = Gate::new();
        let gates: Gates = Arc::from(vec![owner.clone(), gate.clone()]);
        let subs = callbacks.on_event.map(|cb| Sub { id: 0, port_id: port.subscribe(None), cb, ud: callbacks.ud });
        let sinks = Arc::new(Sinks {
            gates: gates.clone(),
            session_gate: gate.id,
            on_request: callbacks.on_request,
            ud: callbacks.ud,
            subs: Mutex::new(subs.into_iter().collect()),
        });
        let drain = copilot_core::runtime().spawn(sinks.clone().drain(stream)).abort_handle();
        let state = SessionState { id, gate, gates, owner, port, sinks, drain, open: Mutex::new(OpenState::default()) };
        Ok((Arc::new(state), cfg))
    }

    pub fn gates(&self) -> Gates {
        self.gates.clone()
    }

    /// The open core session, or the error a call on a closed handle gets.
    pub fn core(&self) -> Result<Session, Failure> {
        self.check_client()?;
        lock(&self.open).core.clone().ok_or_else(|| {
            Failure::kind(
                ErrorKind::SessionNotFound,
                format!("session {} is not open (its create/resume did not succeed)", self.id),
            )
        })
    }

    fn check_client(&self) -> Result<(), Failure> {
        if self.owner.is_closing() {
            return Err(Failure::kind(ErrorKind::NotConnected, "the client (or pool) of this session was freed"));
        }
        Ok(())
    }

    /// The fencing token of a pooled session's lease.
    pub fn lease_token(&self) -> Option<u64> {
        lock(&self.open).core.as_ref().and_then(Session::lease_token)
    }

    /// The server a pooled session is on now.
    pub fn server(&self) -> Option<String> {
        lock(&self.open).core.as_ref().and_then(Session::server)
    }

    pub fn info(&self) -> Value {
        let core = lock(&self.open).core.clone();
        json!({
            "sessionId": self.id,
            "workspacePath": core.as_ref().and_then(Session::workspace_path),
            "info": core.as_ref().map(Session::info).unwrap_or(Value::Null),
            "leaseToken": core.as_ref().and_then(Session::lease_token),
            "server": core.as_ref().and_then(Session::server),
        })
    }

    /// `copilot_session_subscribe`.
    pub fn subscribe(&self, types: Option<Vec<String>>, cb: EventFn, ud: UserData) -> Result<u64, Failure> {
        self.check_client()?;
        // Under the lock: a job for an event published right after `port.subscribe` finds it.
        let mut subs = lock(&self.sinks.subs);
        let id = rt::next_id();
        subs.push(Sub { id, port_id: self.port.subscribe(types), cb, ud });
        Ok(id)
    }

    /// `copilot_session_unsubscribe`: once it returns, no callback of the subscription starts.
    pub fn unsubscribe(&self, id: u64) -> Result<(), Failure> {
        let sub = {
            let mut subs = lock(&self.sinks.subs);
            let at = subs.iter().position(|s| s.id == id && id != 0);
            at.map(|i| subs.remove(i))
        };
        let sub = sub.ok_or_else(|| Failure::abi(COPILOT_ERR_UNKNOWN_ID, format!("no active subscription {id}")))?;
        self.port.unsubscribe(sub.port_id);
        // A callback of it may be running on the dispatcher (jobs look the subscription up
        // when they run): wait for that job.
        rt::barrier();
        Ok(())
    }

    /// A call whose completion comes through the session's host stream, after the events
    /// queued before it finished (`send_and_wait`: its result follows its turn's events).
    pub fn ordered<F>(&self, fut: F) -> Ordered<F>
    where
        F: Future<Output = copilot_core::Result<Value>> + Send + 'static,
    {
        Ordered { port: self.port.clone(), fut }
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

    /// Marks the session abandoned and takes the open core session, if any.
    fn abandon(&self) -> Option<Session> {
        let mut st = lock(&self.open);
        st.abandoned = true;
        st.core.take()
    }

    /// For `copilot_session_free`: pending calls complete, pending requests fail, the stream's
    /// reader stops; a session still attached is detached in the background.
    pub fn close(&self) {
        rt::close_gate(&self.gate);
        self.drain.abort();
        if let Some(s) = self.abandon() {
            if !self.owner.is_closing() {
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
        if let Some(core) = self.0.take().and_then(|s| s.abandon()) {
            copilot_core::runtime().spawn(async move {
                let _ = core.disconnect().await;
            });
        }
    }
}

/// See [`SessionState::ordered`].
pub(crate) struct Ordered<F> {
    port: HostPort,
    fut: F,
}

impl<F> Launch for Ordered<F>
where
    F: Future<Output = copilot_core::Result<Value>> + Send + 'static,
{
    fn launch(self, id: u64, cancel: Cancel) {
        let Ordered { port, fut } = self;
        let _rt = copilot_core::runtime().enter();
        port.spawn_call(id, async move {
            tokio::select! {
                r = fut => r,
                // Completed as cancelled already (rt::cancel); this result is ignored.
                _ = cancel => Err(CoreError::new(ErrorKind::Cancelled, "the call was cancelled")),
            }
        });
    }
}
