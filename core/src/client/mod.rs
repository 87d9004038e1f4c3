//! The client: lifecycle of the connection (and of a spawned CLI), the handshake, and the
//! client-level methods. `supervisor` watches the connection (heartbeat) and reconnects or
//! restarts the CLI when it is lost.

mod supervisor;

use crate::config::{
    AuthStatus, ClientOptions, PingResponse, SessionConfig, SessionListFilter, SessionMetadata, StatusResponse,
};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EventStream, Fanout, LifecycleEvent};
use crate::link::Link;
use crate::reaper::{CleanupOptions, Reaper, Store};
use crate::router::Registry;
use crate::rpc::BoxFuture;
use crate::rpc::{Connection, ConnectionOptions, codes};
use crate::session::{Session, SessionInner};
use crate::transport::{self, ChildProcess, SpawnSpec, Transport};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// Protocol versions this SDK speaks.
pub const MIN_PROTOCOL_VERSION: u32 = 3;
pub const MAX_PROTOCOL_VERSION: u32 = 3;

/// A connection that passed the handshake, with what came with it.
struct Connected {
    conn: Connection,
    child: Option<ChildProcess>,
    protocol_version: u32,
    server_version: Option<String>,
    port: Option<u16>,
}

struct Running {
    /// The sessions open on this client: they outlive one connection.
    registry: Arc<Registry>,
    /// The current connection (closed while reconnecting).
    current: Connected,
}

#[derive(Default)]
enum State {
    #[default]
    New,
    Running(Box<Running>),
    Stopped,
    /// Gave up reconnecting (or the connection was lost with reconnection off): calls fail
    /// with this error until `start()`.
    Failed(Error),
}

struct ClientInner {
    options: ClientOptions,
    /// Lifecycle subscribers: they may subscribe before start and survive a restart; their
    /// streams end when the client is dropped.
    lifecycle: Arc<Mutex<Fanout<LifecycleEvent>>>,
    /// Serialises start/stop.
    start_lock: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    /// The connection sessions use (shared with them).
    link: Arc<Link>,
    /// Bumped (under the state lock) by every start, stop and give-up: a supervisor works for
    /// one generation and stops when it changes.
    generation: watch::Sender<u64>,
    /// When the spawned CLI was restarted, within the restart window.
    restarts: Mutex<VecDeque<Instant>>,
    /// False for a client over caller-given streams: nothing to reconnect to.
    reopenable: bool,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        // Dropped without stop(): close the connection and end the sessions' streams; a
        // spawned CLI is killed when its `Child` drops (kill_on_drop), and by the kernel if
        // this process dies (PDEATHSIG).
        self.link.set_down(Error::new(ErrorKind::NotConnected, "the client was dropped"));
        if let State::Running(r) = std::mem::take(&mut *self.state.lock().unwrap()) {
            r.current.conn.close(Error::new(ErrorKind::NotConnected, "the client was dropped"));
            for s in r.registry.take_all() {
                s.mark_disconnected();
            }
        }
    }
}

/// A connection to one Copilot CLI. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl Client {
    /// A client that starts (spawns or connects) on [`Client::start`] or on first use.
    pub fn new(options: ClientOptions) -> Client {
        Client::build(options, true)
    }

    fn build(options: ClientOptions, reopenable: bool) -> Client {
        Client {
            inner: Arc::new(ClientInner {
                link: Arc::new(Link::new(options.reconnect.call_wait)),
                options,
                lifecycle: Arc::new(Mutex::new(Fanout::new())),
                start_lock: tokio::sync::Mutex::new(()),
                state: Mutex::new(State::New),
                generation: watch::Sender::new(0),
                restarts: Mutex::new(VecDeque::new()),
                reopenable,
                metrics: Default::default(),
            }),
        }
    }

    /// A client over an existing byte stream (in-memory peers in tests, custom transports).
    /// Performs the handshake. It cannot reconnect: when the stream ends, the client fails.
    pub async fn from_streams<R, W>(reader: R, writer: W, options: ClientOptions) -> Result<Client>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let client = Client::build(options, false);
        let stream = transport::Stream { reader: Box::new(reader), writer: Box::new(writer), child: None, port: None };
        {
            let _g = client.inner.start_lock.lock().await;
            client.start_with(stream, None).await?;
        }
        Ok(client)
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Spawns or connects to the CLI and performs the `connect` handshake. Idempotent and
    /// single-flight: concurrent calls make one CLI and one connection.
    pub async fn start(&self) -> Result<()> {
        let _g = self.inner.start_lock.lock().await;
        if matches!(*self.inner.state.lock().unwrap(), State::Running(_)) {
            return Ok(());
        }
        let (stream, token) = self.open_stream().await?;
        self.start_with(stream, token).await
    }

    /// Spawns the CLI or connects to the server, as the options say.
    async fn open_stream(&self) -> Result<(transport::Stream, Option<String>)> {
        let o = &self.inner.options;
        o.check()?;
        let tcp = transport::TcpOptions {
            quickack: o.tcp_quickack,
            keepalive: o.tcp_keepalive,
            user_timeout: o.tcp_user_timeout,
        };
        let (stream, token) = match &o.transport {
            Transport::Stdio => (transport::spawn_stdio(self.spawn_spec(None)?).await?, None),
            Transport::Tcp { port } => {
                let token = o.connection_token.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let stream =
                    transport::spawn_tcp(self.spawn_spec(Some((*port, token.clone())))?, o.start_timeout, tcp).await?;
                (stream, Some(token))
            }
            Transport::Url(url) => {
                // An external server owns its login: with a URL, `github_token` becomes every
                // session's own identity (see `open_session`), and only `use_logged_in_user:
                // false` (the guide's per-user sample) makes sense.
                if o.use_logged_in_user == Some(true) {
                    return Err(Error::config(
                        "use_logged_in_user: true applies to a CLI this client spawns; an external server (cli_url) uses its own login",
                    ));
                }
                let addr = transport::parse_cli_url(url)?;
                (transport::connect_tcp(&addr.host, addr.port, o.start_timeout, tcp).await?, o.connection_token.clone())
            }
        };
        Ok((stream, token))
    }

    fn spawn_spec(&self, tcp: Option<(u16, String)>) -> Result<SpawnSpec> {
        let o = &self.inner.options;
        let program = transport::resolve_cli_path(o.cli_path.as_deref())?;
        let mut args = o.cli_args.clone();
        args.extend(["--headless".into(), "--no-auto-update".into()]);
        if let Some(l) = &o.log_level {
            args.extend(["--log-level".into(), l.clone()]);
        }
        let mut extra_env = Vec::new();
        match &tcp {
            None => args.push("--stdio".into()),
            Some((port, token)) => {
                args.extend(["--port".into(), port.to_string()]);
                extra_env.push(("COPILOT_CONNECTION_TOKEN".into(), token.clone()));
            }
        }
        if let Some(t) = &o.github_token {
            args.extend(["--auth-token-env".into(), "COPILOT_SDK_AUTH_TOKEN".into()]);
            extra_env.push(("COPILOT_SDK_AUTH_TOKEN".into(), t.clone()));
        }
        if !o.use_logged_in_user.unwrap_or(o.github_token.is_none()) {
            args.push("--no-auto-login".into());
        }
        if o.session_idle_timeout_secs > 0 {
            args.extend(["--session-idle-timeout".into(), o.session_idle_timeout_secs.to_string()]);
        }
        if let Some(h) = &o.copilot_home {
            extra_env.push(("COPILOT_HOME".into(), h.display().to_string()));
        }
        if let Some(t) = &o.telemetry {
            extra_env.extend(t.env());
        }
        if o.empty_mode {
            extra_env.push(("COPILOT_DISABLE_KEYTAR".into(), "1".into()));
        }
        Ok(SpawnSpec { program, args, env: o.env.clone(), extra_env, cwd: o.cwd.clone() })
    }

    async fn start_with(&self, stream: transport::Stream, token: Option<String>) -> Result<()> {
        let registry = Registry::new(self.inner.lifecycle.clone());
        let current = self.connect_on(stream, token, registry.clone()).await?;
        let conn = current.conn.clone();
        let generation = {
            let mut st = self.inner.state.lock().unwrap();
            *st = State::Running(Box::new(Running { registry, current }));
            self.bump_generation()
        };
        self.inner.restarts.lock().unwrap().clear();
        self.inner.link.set_up(conn.clone());
        supervisor::spawn(Arc::downgrade(&self.inner), generation, conn);
        Ok(())
    }

    /// Marks the client stopped (ending a reconnection in progress: new generation) and takes
    /// what it was running; calls fail with `not_connected` (`why`) from now on.
    fn take_for_stop(&self, why: &str) -> State {
        let taken = {
            let mut st = self.inner.state.lock().unwrap();
            self.bump_generation();
            std::mem::replace(&mut *st, State::Stopped)
        };
        self.inner.link.set_down(Error::new(ErrorKind::NotConnected, why));
        taken
    }

    /// Starts a new generation (call with the state lock held); returns it.
    fn bump_generation(&self) -> u64 {
        let mut g = 0;
        self.inner.generation.send_modify(|v| {
            *v += 1;
            g = *v;
        });
        g
    }

    /// Runs the JSON-RPC connection over `stream` and performs the handshake.
    async fn connect_on(
        &self,
        stream: transport::Stream,
        token: Option<String>,
        registry: Arc<Registry>,
    ) -> Result<Connected> {
        let o = &self.inner.options;
        let port = stream.port;
        let mut child = stream.child;
        let tail = child.as_ref().map(|c| c.stderr.clone());
        let conn = Connection::spawn(
            stream.reader,
            stream.writer,
            registry,
            ConnectionOptions {
                max_message_size: o.max_message_size,
                stderr_tail: tail
                    .clone()
                    .map(|t| Arc::new(move || t.text()) as Arc<dyn Fn() -> Option<String> + Send + Sync>),
                stderr_done: tail.map(|t| t.done()),
                metrics: Some(self.inner.metrics.clone()),
            },
        );
        let hs = tokio::time::timeout(o.start_timeout, handshake(&conn, token)).await.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Timeout,
                format!("the CLI did not answer the handshake within {:?}", o.start_timeout),
            ))
        });
        match hs {
            Ok((protocol_version, server_version)) => {
                tracing::debug!(protocol_version, ?server_version, "connected to the Copilot CLI");
                if let Some(fs) = &o.session_fs {
                    // Every connection registers again: a restarted CLI knows no provider.
                    let r = conn
                        .request_timeout("sessionFs.setProvider", fs.set_provider_params(), o.request_timeout)
                        .await;
                    if let Err(e) = r.and_then(|r| check_success("sessionFs.setProvider", &r, ErrorKind::Rpc)) {
                        conn.close(Error::new(ErrorKind::NotConnected, "sessionFs.setProvider failed"));
                        if let Some(c) = child.as_mut() {
                            c.kill().await;
                        }
                        return Err(e);
                    }
                }
                Ok(Connected { conn, child, protocol_version, server_version, port })
            }
            Err(e) => {
                conn.close(Error::new(ErrorKind::NotConnected, "handshake failed"));
                let stderr = child.as_ref().and_then(|c| c.stderr.text());
                if let Some(c) = child.as_mut() {
                    c.kill().await;
                }
                Err(if e.stderr_tail().is_none() { e.with_stderr(stderr) } else { e })
            }
        }
    }

    fn running<T>(&self, f: impl FnOnce(&Running) -> T) -> Result<T> {
        match &*self.inner.state.lock().unwrap() {
            State::Running(r) => Ok(f(r)),
            State::New => Err(Error::new(ErrorKind::NotConnected, "the client is not started")),
            State::Stopped => Err(Error::new(ErrorKind::NotConnected, "the client is stopped")),
            State::Failed(e) => Err(e.clone()),
        }
    }

    /// The connection, started if need be. The one rule for implicit start, in every
    /// language: a client that was never started starts on the first call that needs the
    /// server (unless `auto_start` is off); a stopped client stays stopped until `start()`.
    /// While reconnecting, calls wait for the connection up to `reconnect.call_wait`.
    async fn started_conn(&self) -> Result<(Connection, Arc<Registry>)> {
        let registry = match self.running(|r| r.registry.clone()) {
            Ok(r) => r,
            Err(e) => {
                match &*self.inner.state.lock().unwrap() {
                    State::New => {}
                    State::Stopped => {
                        return Err(Error::new(
                            ErrorKind::NotConnected,
                            "the client is stopped; call start() to use it again",
                        ));
                    }
                    _ => return Err(e),
                }
                if !self.inner.options.auto_start {
                    return Err(Error::new(
                        ErrorKind::NotConnected,
                        "the client is not started (auto_start is off); call start() first",
                    ));
                }
                self.start().await?;
                self.running(|r| r.registry.clone())?
            }
        };
        Ok((self.inner.link.conn().await?, registry))
    }

    fn place(&self, registry: &Arc<Registry>) -> crate::session::Place {
        crate::session::Place {
            link: self.inner.link.clone(),
            registry: Arc::downgrade(registry),
            metrics: self.inner.metrics.clone(),
        }
    }

    /// Whether the client is connected now (not reconnecting, stopped or given up).
    pub fn is_connected(&self) -> bool {
        self.inner.link.epoch().is_some()
    }

    pub(crate) fn metrics_handle(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// How many sessions are open on this client.
    pub fn open_sessions(&self) -> usize {
        self.running(|r| r.registry.len()).unwrap_or(0)
    }

    /// Whether a session with this id is open on this client.
    pub fn has_session(&self, session_id: &str) -> bool {
        self.running(|r| r.registry.sessions.lock().unwrap().contains_key(session_id)).unwrap_or(false)
    }

    /// Takes a session that was open elsewhere (another server of its pool): resumes it here
    /// with the params it was opened with — `session.resume` only, so a server that does not
    /// share the state directory answers `session_not_found` — and routes its traffic here.
    pub(crate) async fn adopt(&self, s: &Arc<SessionInner>) -> Result<()> {
        let (conn, registry) = self.started_conn().await?;
        let Some((params, mode)) = s.reopen_params() else {
            return Err(Error::new(ErrorKind::SessionNotFound, format!("session {} was disconnected", s.id())));
        };
        // Another handle of this session is open here (the host opened it again): leave it be.
        if !registry.insert_unless_other(s.clone()) {
            return Err(Error::new(
                ErrorKind::SessionNotFound,
                format!("session {} is open on this server through another handle", s.id()),
            ));
        }
        let timeout = self.inner.options.request_timeout;
        let opened = async {
            let info = conn.request_timeout("session.resume", Value::Object(params), timeout).await?;
            if let Some(mode) = mode {
                conn.request_timeout("session.mode.set", json!({"sessionId": s.id(), "mode": mode}), timeout).await?;
            }
            Ok::<_, Error>(info)
        };
        match opened.await {
            Ok(info) => {
                s.move_to(self.place(&registry));
                s.reopened(info);
                // The host disconnected it while it moved: detach it here too, or this server
                // would keep a copy that misses what other servers append later.
                if s.is_disconnected() && registry.remove_if_same(s) && !registry.has_other(s) {
                    let _ = conn
                        .request_timeout("session.destroy", json!({"sessionId": s.id()}), Some(Duration::from_secs(5)))
                        .await;
                }
                Ok(())
            }
            Err(e) => {
                registry.remove_if_same(s);
                Err(e)
            }
        }
    }

    /// Lets go of a session that moves to another server: it leaves this client's registry and,
    /// when this server is still reachable, is detached here (`session.destroy`) so this
    /// server drops its copy — a server that kept it would answer from a stale history.
    pub(crate) async fn release_moved(&self, s: &Arc<SessionInner>) {
        if let Ok(reg) = self.running(|r| r.registry.clone()) {
            reg.remove_if_same(s);
        }
        if let Some(conn) = self.connection_now() {
            let r = conn
                .request_timeout("session.destroy", json!({"sessionId": s.id()}), Some(Duration::from_secs(5)))
                .await;
            if let Err(e) = r {
                tracing::debug!(session = s.id(), "detaching a moved session from its old server failed: {e}");
            }
        }
    }

    pub(crate) fn owns_link(&self, link: &Arc<Link>) -> bool {
        Arc::ptr_eq(&self.inner.link, link)
    }

    /// The sessions open on this client now.
    pub(crate) fn sessions_now(&self) -> Vec<Arc<SessionInner>> {
        self.running(|r| r.registry.all()).unwrap_or_default()
    }

    pub(crate) fn session_handle(&self, session_id: &str) -> Option<Session> {
        let inner = self.running(|r| r.registry.sessions.lock().unwrap().get(session_id).cloned()).ok()??;
        Some(Session { inner })
    }

    /// Never started, or gave up: a pool's health loop starts it again.
    pub(crate) fn needs_start(&self) -> bool {
        matches!(*self.inner.state.lock().unwrap(), State::New | State::Failed(_))
    }

    /// Deletes stored sessions past `max_age` (since start) or `max_idle` (since the last
    /// change); never one open on this client unless `include_open` (then it is disconnected
    /// first). Returns what it deleted; one another instance deleted meanwhile is skipped.
    pub async fn cleanup_sessions(&self, options: CleanupOptions) -> Result<Vec<SessionMetadata>> {
        crate::reaper::sweep(&WeakClient(Arc::downgrade(&self.inner)), &options).await
    }

    /// Runs [`Client::cleanup_sessions`] every `interval` until the returned reaper is stopped
    /// or dropped; each sweep that deleted something (or failed) is announced to lifecycle
    /// subscribers as `reaper.swept` (`{deleted: [ids]}` or `{error, code}`).
    pub fn start_reaper(&self, interval: Duration, options: CleanupOptions) -> Result<Reaper> {
        let me = self.clone();
        let weak = Arc::downgrade(&self.inner);
        let on_sweep = Arc::new(move |r: Result<&[SessionMetadata]>| {
            let Some(inner) = weak.upgrade() else { return };
            let c = Client { inner };
            match r {
                Ok([]) => {}
                Ok(d) => c.emit(
                    "reaper.swept",
                    json!({"deleted": d.iter().map(|m| m.session_id.clone()).collect::<Vec<_>>()}),
                ),
                Err(e) => c.emit("reaper.swept", json!({"error": e.message(), "code": e.code()})),
            }
        });
        Reaper::spawn(Arc::new(WeakClient(Arc::downgrade(&me.inner))), interval, options, on_sweep)
    }

    /// The current connection, without waiting or starting.
    pub(crate) fn connection_now(&self) -> Option<Connection> {
        match &*self.inner.link.subscribe().borrow() {
            crate::link::LinkState::Up { conn, .. } => Some(conn.clone()),
            _ => None,
        }
    }

    /// The link's changes (connected, reconnecting, down), for a pool's health watch.
    pub(crate) fn link_watch(&self) -> watch::Receiver<crate::link::LinkState> {
        self.inner.link.subscribe()
    }

    /// This client's counters as JSON (see [`crate::metrics::Metrics::snapshot`]).
    pub fn metrics(&self) -> Value {
        self.inner.metrics.snapshot(self.open_sessions())
    }

    /// This client's counters in the Prometheus text format, labelled with the server URL
    /// (or `local` for a spawned CLI).
    pub fn metrics_prometheus(&self) -> String {
        let label = match &self.inner.options.transport {
            Transport::Url(u) => u.clone(),
            _ => "local".to_owned(),
        };
        crate::metrics::prometheus_text(&[(label, self.metrics())], None)
    }

    async fn call_timeout(&self, method: &str, params: Value, timeout: Option<Duration>) -> Result<Value> {
        let conn = self.started_conn().await?.0;
        conn.request_timeout(method, params, timeout).await
    }

    /// Sends a `connection.*` lifecycle notification to the client's lifecycle subscribers.
    fn emit(&self, event_type: &str, details: Value) {
        let ev = LifecycleEvent {
            event_type: event_type.to_owned(),
            session_id: String::new(),
            metadata: Some(details),
            extra: Default::default(),
        };
        self.inner.lifecycle.lock().unwrap().publish(event_type, &ev);
    }

    /// The protocol version the server reported in the handshake.
    pub fn protocol_version(&self) -> Option<u32> {
        self.running(|r| r.current.protocol_version).ok()
    }

    /// The CLI version reported by `connect` (None after a `ping` fallback).
    pub fn server_version(&self) -> Option<String> {
        self.running(|r| r.current.server_version.clone()).ok().flatten()
    }

    /// The TCP port of the server (spawned on TCP, or connected by URL).
    pub fn port(&self) -> Option<u16> {
        self.running(|r| r.current.port).ok().flatten()
    }

    /// Process id of a spawned CLI.
    pub fn cli_pid(&self) -> Option<u32> {
        self.running(|r| r.current.child.as_ref().and_then(|c| c.id())).ok().flatten()
    }

    /// Stops gracefully: detaches every session this client opened, asks a CLI it spawned to
    /// shut down, closes the connection, waits for the child (up to `stop_grace`), then kills
    /// it. Never sends `runtime.shutdown` to an external server. Idempotent; also ends a
    /// reconnection in progress. Returns the first error met (all of them are logged); the
    /// client is stopped either way.
    pub async fn stop(&self) -> Result<()> {
        let _g = self.inner.start_lock.lock().await;
        let State::Running(mut r) = self.take_for_stop("the client is stopped") else { return Ok(()) };
        let mut first_err: Option<Error> = None;
        let mut tasks = tokio::task::JoinSet::new();
        for s in r.registry.take_all() {
            let conn = r.current.conn.clone();
            s.cancel_handlers("the client is stopping");
            tasks.spawn(async move {
                let res = detach(&conn, &s).await;
                s.mark_disconnected();
                res
            });
        }
        while let Some(res) = tasks.join_next().await {
            if let Ok(Err(e)) = res {
                tracing::warn!("stop: {e}");
                first_err.get_or_insert(e);
            }
        }
        let stop_grace = self.inner.options.stop_grace;
        let conn = r.current.conn.clone();
        if let Some(child) = r.current.child.as_mut() {
            if !conn.is_closed() {
                let _ = conn.request_timeout("runtime.shutdown", json!({}), Some(Duration::from_secs(2))).await;
            }
            conn.close(Error::new(ErrorKind::NotConnected, "the client is stopped"));
            child.reap(stop_grace).await;
        } else {
            conn.close(Error::new(ErrorKind::NotConnected, "the client is stopped"));
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Stops at once: no RPCs, the connection is dropped and a spawned CLI is killed.
    pub async fn force_stop(&self) {
        if let State::Running(mut r) = self.take_for_stop("the client was force-stopped") {
            r.current.conn.close(Error::new(ErrorKind::NotConnected, "the client was force-stopped"));
            for s in r.registry.take_all() {
                s.mark_disconnected();
            }
            if let Some(c) = r.current.child.as_mut() {
                c.kill().await;
            }
        }
    }

    /// `ping`: round trip to the server.
    pub async fn ping(&self, message: Option<&str>) -> Result<PingResponse> {
        let p = message.map_or_else(|| json!({}), |m| json!({"message": m}));
        parse("ping", self.call("ping", p).await?)
    }

    /// `status.get`: CLI version and protocol version.
    pub async fn get_status(&self) -> Result<StatusResponse> {
        parse("status.get", self.call("status.get", json!({})).await?)
    }

    /// `auth.getStatus`.
    pub async fn get_auth_status(&self) -> Result<AuthStatus> {
        parse("auth.getStatus", self.call("auth.getStatus", json!({})).await?)
    }

    /// `models.list` (needs GitHub authentication on the CLI).
    pub async fn list_models(&self) -> Result<Vec<Value>> {
        let r = self.call("models.list", json!({})).await?;
        Ok(r.get("models").and_then(Value::as_array).cloned().unwrap_or_default())
    }

    /// Creates a session. Handlers and the `on_event` callback are registered before the
    /// request goes out, so no early event or callback is missed.
    pub async fn create_session(&self, config: SessionConfig) -> Result<Session> {
        let id = config.session_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.open_session("session.create", id, config).await
    }

    /// Resumes a session by id (config optional: handlers and provider are re-sent if given).
    pub async fn resume_session(&self, session_id: &str, config: Option<SessionConfig>) -> Result<Session> {
        if session_id.is_empty() {
            return Err(Error::config("resume_session needs a session id"));
        }
        self.open_session("session.resume", session_id.to_owned(), config.unwrap_or_default()).await
    }

    async fn open_session(&self, method: &str, id: String, config: SessionConfig) -> Result<Session> {
        self.open_session_in(method, id, config, None).await
    }

    /// Opens a session here; a pool passes the session's `home` (lease check, moves).
    pub(crate) async fn open_session_in(
        &self,
        method: &str,
        id: String,
        config: SessionConfig,
        home: Option<Arc<dyn crate::session::Home>>,
    ) -> Result<Session> {
        let o = &self.inner.options;
        let mut params = config.to_wire();
        params.insert("sessionId".into(), json!(id));
        if config.on_github_token.is_some() {
            if config.github_token.is_some() || params.contains_key("gitHubToken") {
                return Err(Error::config("gitHubToken and a GitHub token provider cannot be used together"));
            }
            if config.provider.is_some() {
                return Err(Error::config(
                    "a GitHub token provider cannot be used with a BYOK `provider` (the session would not use GitHub auth)",
                ));
            }
            params.insert("gitHubTokenProviderRegistrationId".into(), json!(uuid::Uuid::new_v4().to_string()));
        } else if let (Transport::Url(_), Some(token)) = (&o.transport, &o.github_token) {
            params.entry("gitHubToken").or_insert_with(|| json!(token));
        }
        if o.session_fs.is_some() && config.on_session_fs.is_none() {
            return Err(Error::config(
                "the client has a session filesystem (sessionFs): every session needs its provider (createSessionFsProvider)",
            ));
        }
        if o.empty_mode {
            crate::config::empty_mode::apply(&mut params, &config)?;
        }
        crate::telemetry::put(&mut params, &config.traceparent, &config.tracestate, o.trace_context.as_ref());
        let (conn, registry) = self.started_conn().await?;
        let inner = SessionInner::new(id.clone(), self.place(&registry), &config, o.request_timeout);
        inner.set_trace_provider(o.trace_context.clone());
        if let Some(h) = home {
            inner.set_home(h);
        }
        registry.insert(inner.clone());
        let result =
            conn.request_timeout(method, Value::Object(params.clone()), self.inner.options.request_timeout).await;
        let info = match result {
            Ok(info) => info,
            Err(e) => {
                if let Some(s) = registry.remove(&id) {
                    s.mark_disconnected();
                }
                return Err(e);
            }
        };
        if let Some(got) = info.get("sessionId").and_then(Value::as_str) {
            if got != id {
                registry.remove(&id);
                inner.mark_disconnected();
                return Err(Error::protocol(format!("{method}: asked for session {id}, the server answered {got}")));
            }
        }
        inner.set_info(info);
        inner.set_opened_with(params, config.mode.clone());
        let session = Session { inner };
        if let Some(mode) = &config.mode {
            session.call("session.mode.set", json!({"mode": mode})).await?;
        }
        if config.on_mcp_auth.is_some() {
            session.register_mcp_auth_interest().await?;
        }
        if o.empty_mode {
            let patch = crate::config::empty_mode::patch(&config);
            if let Err(e) = session.call("session.options.update", patch).await {
                let _ = session.disconnect().await;
                return Err(e);
            }
        }
        Ok(session)
    }

    /// `session.list`: sessions stored by the CLI, with `start_time`, `modified_time` and
    /// `created_at` (= start time).
    /// One stored session's metadata (`sessions.getMetadata`), `None` when there is no such
    /// session (the official SDKs' `getSessionMetadata`).
    pub async fn get_session_metadata(&self, session_id: &str) -> Result<Option<SessionMetadata>> {
        let r = self.call("sessions.getMetadata", json!({"sessionId": session_id})).await?;
        match r.get("session") {
            Some(v) if !v.is_null() => {
                Ok(Some(parse::<SessionMetadata>("sessions.getMetadata", v.clone())?.normalize()))
            }
            _ => Ok(None),
        }
    }

    pub async fn list_sessions(&self, filter: Option<SessionListFilter>) -> Result<Vec<SessionMetadata>> {
        let p = match filter {
            Some(f) => json!({"filter": f}),
            None => json!({}),
        };
        let r = self.call("session.list", p).await?;
        let list: Vec<SessionMetadata> =
            parse("session.list", r.get("sessions").cloned().unwrap_or_else(|| json!([])))?;
        Ok(list.into_iter().map(SessionMetadata::normalize).collect())
    }

    /// `session.delete`: removes a session from disk. Fails when it does not exist.
    pub async fn delete_session(&self, session_id: &str) -> Result<()> {
        let r = self.call("session.delete", json!({"sessionId": session_id})).await?;
        if let Ok(reg) = self.running(|r| r.registry.clone()) {
            if let Some(s) = reg.remove(session_id) {
                s.mark_disconnected();
            }
        }
        check_success("session.delete", &r, ErrorKind::SessionNotFound)
    }

    /// `session.getLastId`: the most recently modified session.
    pub async fn get_last_session_id(&self) -> Result<Option<String>> {
        let r = self.call("session.getLastId", json!({})).await?;
        Ok(r.get("sessionId").and_then(Value::as_str).map(str::to_owned))
    }

    /// `session.getForeground` (TUI+server mode only; None otherwise).
    pub async fn get_foreground_session_id(&self) -> Result<Option<String>> {
        let r = self.call("session.getForeground", json!({})).await?;
        Ok(r.get("sessionId").and_then(Value::as_str).map(str::to_owned))
    }

    /// `session.setForeground` (TUI+server mode only; an error otherwise).
    pub async fn set_foreground_session_id(&self, session_id: &str) -> Result<()> {
        let r = self.call("session.setForeground", json!({"sessionId": session_id})).await?;
        check_success("session.setForeground", &r, ErrorKind::Rpc)
    }

    /// `session.lifecycle` notifications (created, deleted, updated, …) from now on. Works
    /// before `start` (also an implicit one) and across restarts; the stream ends when the
    /// client is dropped. (Always `Ok`; the `Result` is kept for compatibility.)
    pub fn subscribe_lifecycle(&self) -> Result<EventStream<LifecycleEvent>> {
        Ok(self.subscribe_lifecycle_types(None))
    }

    /// Lifecycle notifications of one type (e.g. `session.deleted`).
    pub fn subscribe_lifecycle_type(&self, event_type: &str) -> Result<EventStream<LifecycleEvent>> {
        Ok(self.subscribe_lifecycle_types(Some(vec![event_type.to_owned()])))
    }

    /// Lifecycle notifications of these types (None: every type), in wire order, on one stream.
    pub fn subscribe_lifecycle_types(&self, types: Option<Vec<String>>) -> EventStream<LifecycleEvent> {
        self.inner.lifecycle.lock().unwrap().subscribe(types).1
    }

    /// Calls `f` for every lifecycle notification, on a task of its own.
    pub fn on_lifecycle(&self, f: impl Fn(&LifecycleEvent) + Send + Sync + 'static) -> Result<()> {
        let mut stream = self.subscribe_lifecycle()?;
        tokio::spawn(async move {
            while let Some(ev) = stream.recv().await {
                f(&ev);
            }
        });
        Ok(())
    }

    /// Any server method by name: for methods newer than the typed `rpc()` namespaces.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.call_timeout(method, params, self.inner.options.request_timeout).await
    }

    /// [`Client::call`] with its own deadline instead of `request_timeout` (None: no deadline).
    pub async fn call_with_timeout(&self, method: &str, params: Value, timeout: Option<Duration>) -> Result<Value> {
        self.call_timeout(method, params, timeout).await
    }
}

/// The reaper's view of a client. It holds the client weakly: a background reaper does not keep
/// a dropped client alive.
struct WeakClient(std::sync::Weak<ClientInner>);

impl WeakClient {
    fn get(&self) -> Result<Client> {
        self.0
            .upgrade()
            .map(|inner| Client { inner })
            .ok_or_else(|| Error::new(ErrorKind::NotConnected, "the client was dropped"))
    }
}

impl Store for WeakClient {
    fn list(&self) -> BoxFuture<'_, Result<Vec<SessionMetadata>>> {
        Box::pin(async move { self.get()?.list_sessions(None).await })
    }
    fn is_open(&self, id: &str) -> bool {
        self.get().is_ok_and(|c| c.has_session(id))
    }
    fn is_leased<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
    fn disconnect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(s) = self.get().ok().and_then(|c| c.session_handle(id)) {
                let _ = s.disconnect().await;
            }
        })
    }
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.get()?.delete_session(id).await })
    }
}

async fn detach(conn: &Connection, s: &SessionInner) -> Result<()> {
    let mut last = None;
    for delay in [100u64, 200, 0] {
        match conn
            .request_timeout("session.destroy", json!({"sessionId": s.id()}), Some(std::time::Duration::from_secs(5)))
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.is_transport_failure() => return Ok(()),
            Err(e) => last = Some(e),
        }
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
    }
    Err(last.unwrap_or_else(|| Error::new(ErrorKind::Internal, "detach failed")))
}

async fn handshake(conn: &Connection, token: Option<String>) -> Result<(u32, Option<String>)> {
    let params = token.map_or_else(|| json!({}), |t| json!({"token": t}));
    let reply = match conn.request("connect", params).await {
        Ok(r) => r,
        Err(e) if e.rpc_code() == Some(codes::METHOD_NOT_FOUND) => conn.request("ping", json!({})).await?,
        Err(e) => return Err(e),
    };
    let version = reply.get("protocolVersion").and_then(Value::as_u64);
    let server = reply.get("version").and_then(Value::as_str).map(str::to_owned);
    match version {
        Some(v) if (MIN_PROTOCOL_VERSION as u64..=MAX_PROTOCOL_VERSION as u64).contains(&v) => Ok((v as u32, server)),
        Some(v) => Err(Error::new(
            ErrorKind::VersionMismatch,
            format!(
                "SDK protocol version mismatch: the server speaks protocol version {v}{}, this SDK supports {MIN_PROTOCOL_VERSION}..={MAX_PROTOCOL_VERSION}",
                server.map(|s| format!(" (CLI {s})")).unwrap_or_default()
            ),
        )),
        None => Err(Error::new(
            ErrorKind::VersionMismatch,
            format!(
                "the server did not report a protocol version; this SDK supports {MIN_PROTOCOL_VERSION}..={MAX_PROTOCOL_VERSION}"
            ),
        )),
    }
}

fn parse<T: serde::de::DeserializeOwned>(method: &str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::protocol(format!("{method}: unexpected result: {e}")))
}

fn check_success(method: &str, r: &Value, kind: ErrorKind) -> Result<()> {
    if r.get("success").and_then(Value::as_bool) == Some(false) {
        let why = r.get("error").and_then(Value::as_str).unwrap_or("the server refused");
        return Err(Error::new(kind, format!("{method}: {why}")));
    }
    Ok(())
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Client>();
    is::<Session>();
}
