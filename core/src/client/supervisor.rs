//! Keeps a client connected: a heartbeat on a quiet connection, and when the connection is lost,
//! reconnection (URL) or a restarted CLI (spawned), with exponential backoff and jitter, then
//! every open session resumed with the config it was opened with.
//!
//! What a host sees, in order: in-flight calls fail with the connection's error (`transport_closed`,
//! or `timeout` when the heartbeat declared the CLI dead); running handlers are cancelled; a
//! waiting `send_and_wait` fails with `turn_outcome_unknown`; lifecycle subscribers get
//! `connection.lost`, then `connection.reconnecting` per attempt, then `connection.restored` (calls
//! made meanwhile waited up to `reconnect.call_wait`, or failed with `reconnecting`) or
//! `connection.gave_up` (calls fail with `reconnect_failed` until `start()`).

use super::{Client, ClientInner, Connected, State};
use crate::error::{Error, ErrorKind, Result};
use crate::router::Registry;
use crate::rpc::Connection;
use crate::transport::Transport;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Starts the supervisor of one client generation.
pub(super) fn spawn(client: Weak<ClientInner>, generation: u64, conn: Connection) {
    tokio::spawn(supervise(client, generation, conn));
}

async fn supervise(weak: Weak<ClientInner>, generation: u64, mut conn: Connection) {
    loop {
        let (interval, timeout) = match weak.upgrade() {
            Some(inner) => (inner.options.heartbeat_interval, inner.options.heartbeat_timeout),
            None => return,
        };
        watch(&conn, interval, timeout).await;
        let cause = conn.closed_error();
        let Some(inner) = weak.upgrade() else { return };
        let client = Client { inner };
        let Some(registry) = client.registry_of(generation) else { return };
        tracing::warn!("lost the connection to the CLI: {cause}");
        client.inner.metrics.connection_lost();
        client.emit("connection.lost", json!({"error": cause.message(), "code": cause.code()}));
        for s in registry.all() {
            s.cancel_handlers("the connection to the CLI was lost");
        }
        if !client.inner.options.reconnect.enabled || !client.inner.reopenable {
            let why =
                if client.inner.reopenable { "reconnection is off" } else { "the client runs over given streams" };
            let e = cause.clone();
            client.give_up(generation, e, json!({"attempts": 0, "reason": why})).await;
            return;
        }
        client.inner.link.set_reconnecting(cause.clone());
        if let Some(mut child) = client.take_child(generation) {
            child.kill().await;
        }
        drop(client);
        match reconnect(&weak, generation, cause, registry).await {
            Ok(c) => conn = c,
            Err(None) => return,
            Err(Some((e, attempts))) => {
                if let Some(inner) = weak.upgrade() {
                    Client { inner }.give_up(generation, e, json!({"attempts": attempts})).await;
                }
                return;
            }
        }
    }
}

/// Returns once `conn` is closed. With a heartbeat, pings the CLI whenever it has been quiet
/// for `interval`; a ping unanswered within `timeout` closes the connection (kind `timeout`).
async fn watch(conn: &Connection, interval: Option<Duration>, timeout: Duration) {
    let Some(interval) = interval else { return conn.wait_closed().await };
    loop {
        let wait = interval.saturating_sub(conn.quiet_for());
        tokio::select! {
            _ = conn.wait_closed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if conn.quiet_for() < interval {
            continue;
        }
        if let Err(e) = conn.request_timeout("ping", json!({}), Some(timeout)).await {
            if e.kind() == ErrorKind::Timeout {
                conn.close(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the CLI did not answer a heartbeat ping within {timeout:?}: the connection is considered dead"
                    ),
                ));
                return;
            }
        }
    }
}

/// ±25 % around `d`.
fn jitter(d: Duration) -> Duration {
    let r = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
    d.mul_f64(0.75 + r * 0.5)
}

/// The reconnection loop of one outage. `Err(None)`: the client was stopped or dropped
/// meanwhile; `Err(Some)`: gave up, with the error and the attempts made.
async fn reconnect(
    weak: &Weak<ClientInner>,
    generation: u64,
    cause: Error,
    registry: Arc<Registry>,
) -> std::result::Result<Connection, Option<(Error, u32)>> {
    let (policy, spawned, mut gen_rx) = {
        let inner = weak.upgrade().ok_or(None)?;
        (
            inner.options.reconnect.clone(),
            !matches!(inner.options.transport, Transport::Url(_)),
            inner.generation.subscribe(),
        )
    };
    let down_since = Instant::now();
    let mut last = cause;
    let mut attempt = 0;
    loop {
        if policy.max_attempts > 0 && attempt >= policy.max_attempts {
            let e = last.rekind(
                ErrorKind::ReconnectFailed,
                format!(
                    "gave up reconnecting to the CLI after {attempt} attempts in {:?} (last error: {})",
                    down_since.elapsed(),
                    last.message()
                ),
            );
            return Err(Some((e, attempt)));
        }
        attempt += 1;
        let delay = jitter(policy.delay(attempt));
        {
            let client = Client { inner: weak.upgrade().ok_or(None)? };
            client.emit(
                "connection.reconnecting",
                json!({"attempt": attempt, "maxAttempts": policy.max_attempts, "delayMs": delay.as_millis() as u64,
                       "error": last.message(), "code": last.code()}),
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = gen_rx.wait_for(|g| *g != generation) => return Err(None),
        }
        let client = Client { inner: weak.upgrade().ok_or(None)? };
        if *client.inner.generation.borrow() != generation {
            return Err(None);
        }
        if spawned {
            if let Err(e) = client.spend_restart(&policy) {
                return Err(Some((e, attempt)));
            }
        }
        let connected = match client.open_stream().await {
            Ok((stream, token)) => client.connect_on(stream, token, registry.clone()).await,
            Err(e) => Err(e),
        };
        let mut connected = match connected {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(attempt, "reconnect attempt failed: {e}");
                last = e;
                continue;
            }
        };
        let (resumed, lost) = resume_all(&client, &connected.conn, &registry).await;
        if connected.conn.is_closed() {
            last = connected.conn.closed_error();
            if let Some(c) = connected.child.as_mut() {
                c.kill().await;
            }
            continue;
        }
        let conn = connected.conn.clone();
        if !client.install(generation, connected).await {
            return Err(None);
        }
        client.inner.link.set_up(conn.clone());
        tracing::info!(attempt, resumed, lost, "reconnected to the CLI");
        client.inner.metrics.reconnected();
        client.emit(
            "connection.restored",
            json!({"attempts": attempt, "downtimeMs": down_since.elapsed().as_millis() as u64, "restarted": spawned,
                   "sessionsResumed": resumed, "sessionsLost": lost}),
        );
        return Ok(conn);
    }
}

/// Opens every session of `registry` again on `conn`: `session.resume` with the params it was
/// opened with (a session the server does not know, e.g. one with no turn yet on a restarted
/// CLI, is created again under the same id), then its mode. Sessions that cannot be opened are
/// ended (their streams end). Returns (resumed, lost).
async fn resume_all(client: &Client, conn: &Connection, registry: &Arc<Registry>) -> (usize, usize) {
    let timeout = client.inner.options.request_timeout;
    let mut tasks = tokio::task::JoinSet::new();
    for s in registry.all() {
        let Some((params, mode)) = s.reopen_params() else { continue };
        let conn = conn.clone();
        tasks.spawn(async move {
            let r = reopen(&conn, params, mode, timeout).await;
            (s, r)
        });
    }
    let (mut resumed, mut lost) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let Ok((s, r)) = done else { continue };
        match r {
            Ok(info) => {
                s.reopened(info);
                if s.wants_mcp_auth() {
                    let p = json!({"sessionId": s.id(), "eventType": "mcp.oauth_required"});
                    if let Err(e) = conn.request_timeout("session.eventLog.registerInterest", p, timeout).await {
                        tracing::warn!(session = s.id(), "could not register for MCP OAuth requests again: {e}");
                    }
                }
                resumed += 1;
            }
            Err(e) => {
                tracing::warn!(session = s.id(), "could not resume the session after reconnecting: {e}");
                if let Some(s) = registry.remove(s.id()) {
                    s.mark_disconnected();
                }
                lost += 1;
            }
        }
    }
    (resumed, lost)
}

async fn reopen(
    conn: &Connection,
    params: Map<String, Value>,
    mode: Option<String>,
    timeout: Option<Duration>,
) -> Result<Value> {
    let sid = params.get("sessionId").cloned().unwrap_or(Value::Null);
    let info = match conn.request_timeout("session.resume", Value::Object(params.clone()), timeout).await {
        Ok(info) => info,
        Err(e) if e.is_transport_failure() || e.kind() == ErrorKind::Timeout => return Err(e),
        Err(e) => {
            tracing::debug!("session.resume failed ({e}); creating the session again under its id");
            conn.request_timeout("session.create", Value::Object(params), timeout).await?
        }
    };
    if let Some(mode) = mode {
        conn.request_timeout("session.mode.set", json!({"sessionId": sid, "mode": mode}), timeout).await?;
    }
    Ok(info)
}

impl Client {
    /// The sessions of this generation, if it is still the client's.
    fn registry_of(&self, generation: u64) -> Option<Arc<Registry>> {
        let st = self.inner.state.lock().unwrap();
        match &*st {
            State::Running(r) if *self.inner.generation.borrow() == generation => Some(r.registry.clone()),
            _ => None,
        }
    }

    /// The spawned CLI of a lost connection, to be reaped.
    fn take_child(&self, generation: u64) -> Option<crate::transport::ChildProcess> {
        let mut st = self.inner.state.lock().unwrap();
        match &mut *st {
            State::Running(r) if *self.inner.generation.borrow() == generation => r.current.child.take(),
            _ => None,
        }
    }

    /// Counts a restart of the spawned CLI; fails once the budget of the window is spent.
    fn spend_restart(&self, policy: &crate::config::ReconnectPolicy) -> Result<()> {
        let mut r = self.inner.restarts.lock().unwrap();
        let now = Instant::now();
        while r.front().is_some_and(|t| now.duration_since(*t) > policy.restart_window) {
            r.pop_front();
        }
        if r.len() as u32 >= policy.max_restarts {
            return Err(Error::new(
                ErrorKind::ReconnectFailed,
                format!(
                    "the CLI was restarted {} times within {:?} and died again: giving up (restart budget spent)",
                    r.len(),
                    policy.restart_window
                ),
            ));
        }
        r.push_back(now);
        Ok(())
    }

    /// Makes `connected` the client's connection if `generation` is still current; otherwise
    /// closes it (and kills its CLI) and returns false.
    async fn install(&self, generation: u64, mut connected: Connected) -> bool {
        {
            let mut st = self.inner.state.lock().unwrap();
            if let State::Running(r) = &mut *st {
                if *self.inner.generation.borrow() == generation {
                    r.current = connected;
                    return true;
                }
            }
        }
        connected.conn.close(Error::new(ErrorKind::NotConnected, "the client was stopped while reconnecting"));
        if let Some(c) = connected.child.as_mut() {
            c.kill().await;
        }
        false
    }

    /// Ends a generation for good: calls fail with `error` until `start()`, sessions end.
    async fn give_up(&self, generation: u64, error: Error, details: Value) {
        let taken = {
            let mut st = self.inner.state.lock().unwrap();
            if *self.inner.generation.borrow() != generation || !matches!(*st, State::Running(_)) {
                return;
            }
            self.bump_generation();
            std::mem::replace(&mut *st, State::Failed(error.clone()))
        };
        tracing::error!("the client gave up on the CLI: {error}");
        // Sessions end first, so a host that reacts to `connection.gave_up` finds every call
        // failing with the same error.
        let State::Running(mut r) = taken else { return };
        for s in r.registry.take_all() {
            s.mark_ended(&error);
        }
        self.inner.link.set_down(error.clone());
        let mut d = details;
        d["error"] = json!(error.message());
        d["code"] = json!(error.code());
        self.emit("connection.gave_up", d);
        r.current.conn.close(error);
        if let Some(c) = r.current.child.as_mut() {
            c.kill().await;
        }
    }
}
