//! A pool: several CLI servers used as one.
//!
//! Each session is placed by rendezvous (highest-random-weight) hashing of its id over the
//! servers that are healthy and not drained, so every backend instance with the same server
//! list picks the same server without talking to the others, and adding or removing a server
//! moves only that server's share. Each server is a [`Client`] with its own reconnect logic;
//! the pool watches them. When a server is lost, its sessions continue on the next server of
//! their ranking (`session.resume`, which works when the servers share their state directory);
//! a drained server, or a preferred server that came back, gets or loses its sessions at their
//! next prompt. An optional lease keeps two instances from driving one session at once.

pub mod lease;
mod redis;

use crate::client::Client;
use crate::config::{ClientOptions, SessionConfig, SessionListFilter, SessionMetadata};
use crate::error::{Error, ErrorKind, Result};
use crate::reaper::{CleanupOptions, Reaper, Store};
use crate::rpc::BoxFuture;
use crate::session::{Home, Session, SessionInner};
use crate::transport::Transport;
use lease::{HeldLease, LeaseCounters, LeaseOptions};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

pub use lease::{LeaseStore, RedisLeaseStore};

/// How a pool is made.
#[derive(Clone)]
pub struct PoolOptions {
    /// The servers (`host:port`, `port` or `http://host:port`). Every backend instance must
    /// list the same servers, spelled the same way: the spelling is what is hashed.
    pub urls: Vec<String>,
    /// Options for each server's client (token, timeouts, reconnect policy, …); its transport
    /// is replaced by each URL.
    pub client: ClientOptions,
    /// How often a server that is down is tried again (default 2 s).
    pub health_interval: Duration,
    /// Session leases (None: no lease).
    pub lease: Option<LeaseOptions>,
}

impl PoolOptions {
    /// Defaults: a silent server is declared lost after 5 s of silence plus a 5 s unanswered
    /// ping (a lone client waits 15 + 10 s: in a pool another server can take over).
    pub fn new<S: Into<String>>(urls: impl IntoIterator<Item = S>) -> PoolOptions {
        PoolOptions {
            urls: urls.into_iter().map(Into::into).collect(),
            client: pool_client_defaults(ClientOptions::default()),
            health_interval: Duration::from_secs(2),
            lease: None,
        }
    }
}

pub(crate) fn pool_client_defaults(mut o: ClientOptions) -> ClientOptions {
    o.heartbeat_interval = Some(Duration::from_secs(5));
    o.heartbeat_timeout = Duration::from_secs(5);
    o
}

/// How many sessions of a lost server are resumed elsewhere at once.
const FAILOVER_BATCH: usize = 16;

struct Member {
    url: String,
    client: Client,
    draining: AtomicBool,
}

#[derive(Default)]
struct Counters {
    failovers: AtomicU64,
    placement_errors: AtomicU64,
    reaped: AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    New,
    Running,
    Stopped,
}

struct PoolInner {
    members: Vec<Member>,
    lease: Option<LeaseOptions>,
    lease_counters: Arc<LeaseCounters>,
    counters: Counters,
    /// Leases held by sessions open on this pool, by session id.
    held: Mutex<HashMap<String, Arc<HeldLease>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    phase: tokio::sync::Mutex<Phase>,
    health_interval: Duration,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// Several CLI servers as one. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

/// The score of `server` for `session_id` in the rendezvous ranking: FNV-1a over both, then a
/// 64-bit finaliser (splitmix64) — fixed here so that every instance, build and language ranks
/// alike.
pub fn rendezvous_score(server: &str, session_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in server.bytes().chain([0u8]).chain(session_id.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Pool {
    /// A pool over `options.urls`; nothing connects before [`Pool::start`] (or the first call).
    pub fn new(options: PoolOptions) -> Result<Pool> {
        if options.urls.is_empty() {
            return Err(Error::config("a pool needs at least one server URL"));
        }
        let mut seen = std::collections::HashSet::new();
        let mut members = Vec::new();
        for url in &options.urls {
            if !seen.insert(url.clone()) {
                return Err(Error::config(format!("the pool lists {url} twice")));
            }
            let mut o = options.client.clone();
            o.transport = Transport::Url(url.clone());
            members.push(Member { url: url.clone(), client: Client::new(o), draining: AtomicBool::new(false) });
        }
        if !options.client.reconnect.enabled {
            return Err(Error::config(
                "a pool's servers must reconnect (reconnect: false): failover starts when a server's connection is lost",
            ));
        }
        if let Some(l) = &options.lease {
            if l.ttl < Duration::from_millis(300) {
                return Err(Error::config("the lease ttl must be at least 300 ms"));
            }
        }
        Ok(Pool {
            inner: Arc::new(PoolInner {
                members,
                lease: options.lease,
                lease_counters: Default::default(),
                counters: Default::default(),
                held: Mutex::new(HashMap::new()),
                tasks: Mutex::new(Vec::new()),
                phase: tokio::sync::Mutex::new(Phase::New),
                health_interval: options.health_interval.max(Duration::from_millis(50)),
            }),
        })
    }

    /// Connects to every server (concurrently) and starts watching them. Succeeds when at least
    /// one server answers; the others are tried again in the background. Idempotent; also
    /// starts a stopped pool again.
    pub async fn start(&self) -> Result<()> {
        let mut phase = self.inner.phase.lock().await;
        if *phase == Phase::Running {
            return Ok(());
        }
        let results = futures_join(self.inner.members.iter().map(|m| m.client.start())).await;
        if results.iter().all(Result::is_err) {
            let why: Vec<String> =
                self.inner.members.iter().zip(&results).map(|(m, r)| format!("{}: {}", m.url, r_err(r))).collect();
            return Err(Error::new(
                ErrorKind::NoServer,
                format!("no server of the pool answered ({})", why.join("; ")),
            ));
        }
        let weak = Arc::downgrade(&self.inner);
        let mut tasks = self.inner.tasks.lock().unwrap();
        for i in 0..self.inner.members.len() {
            tasks.push(tokio::spawn(watch_member(weak.clone(), i)));
        }
        tasks.push(tokio::spawn(health_loop(weak)));
        *phase = Phase::Running;
        Ok(())
    }

    /// The implicit start (the client's rule): a pool never started starts on first use; a
    /// stopped pool stays stopped until `start()`.
    async fn ensure_started(&self) -> Result<()> {
        match *self.inner.phase.lock().await {
            Phase::Running => return Ok(()),
            Phase::Stopped => {
                return Err(Error::new(ErrorKind::NotConnected, "the pool is stopped; call start() to use it again"));
            }
            Phase::New => {}
        }
        self.start().await
    }

    /// Releases every lease, detaches every session and stops every server's client.
    pub async fn stop(&self) -> Result<()> {
        *self.inner.phase.lock().await = Phase::Stopped;
        let held: Vec<_> = self.inner.held.lock().unwrap().drain().map(|(_, l)| l).collect();
        for t in self.inner.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        let mut first_error = None;
        for r in futures_join(self.inner.members.iter().map(|m| m.client.stop())).await {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        }
        for l in held {
            l.release().await;
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The pool's servers, in the order given.
    pub fn urls(&self) -> Vec<String> {
        self.inner.members.iter().map(|m| m.url.clone()).collect()
    }

    /// The client of one server (for server-level calls such as `ping` or `rpc`).
    pub fn client(&self, url: &str) -> Result<Client> {
        Ok(self.inner.member(url)?.client.clone())
    }

    /// Every server's state: `[{url, healthy, draining, openSessions}]`.
    pub fn servers(&self) -> Value {
        Value::Array(
            self.inner
                .members
                .iter()
                .map(|m| {
                    json!({"url": m.url, "healthy": m.client.is_connected(), "draining": m.draining.load(Ordering::SeqCst),
                           "openSessions": m.client.open_sessions()})
                })
                .collect(),
        )
    }

    /// The servers ranked for a session (first = where it is placed when all are healthy).
    pub fn ranking(&self, session_id: &str) -> Vec<String> {
        self.inner.ranked(session_id).into_iter().map(|m| m.url.clone()).collect()
    }

    /// Where a new or resumed session would be placed now (None: no server is usable).
    pub fn server_for(&self, session_id: &str) -> Option<String> {
        self.inner.candidates(session_id, None).first().map(|m| m.url.clone())
    }

    /// Stops placing sessions on `url`; its open sessions move at their next prompt (a rolling
    /// restart: drain, wait until `servers()` shows no open session there, restart, `undrain`).
    pub fn drain(&self, url: &str) -> Result<()> {
        self.inner.member(url)?.draining.store(true, Ordering::SeqCst);
        tracing::info!(server = url, "draining");
        Ok(())
    }

    /// Places sessions on `url` again.
    pub fn undrain(&self, url: &str) -> Result<()> {
        self.inner.member(url)?.draining.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Creates a session on its server (taking its lease first when leases are on).
    pub async fn create_session(&self, config: SessionConfig) -> Result<Session> {
        let id = config.session_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.open("session.create", id, config).await
    }

    /// Resumes a session on its server (taking its lease first when leases are on). A server
    /// that does not share the state directory answers `session_not_found`.
    pub async fn resume_session(&self, session_id: &str, config: Option<SessionConfig>) -> Result<Session> {
        if session_id.is_empty() {
            return Err(Error::config("resume_session needs a session id"));
        }
        self.open("session.resume", session_id.to_owned(), config.unwrap_or_default()).await
    }

    async fn open(&self, method: &str, id: String, config: SessionConfig) -> Result<Session> {
        self.ensure_started().await?;
        let lease = match &self.inner.lease {
            Some(o) => {
                if self.inner.held.lock().unwrap().contains_key(&id) {
                    return Err(Error::config(format!(
                        "session {id} is already open on this pool: use that handle, or disconnect it first"
                    )));
                }
                Some(HeldLease::acquire(o, &id, self.inner.lease_counters.clone()).await?)
            }
            None => None,
        };
        let home: Arc<dyn Home> = Arc::new(PoolHome { pool: Arc::downgrade(&self.inner), lease: lease.clone() });
        let span = tracing::debug_span!("copilot.pool.open", session = %id, method);
        let r = tracing::Instrument::instrument(self.open_on_candidates(method, &id, config, home), span).await;
        match (&r, lease) {
            (Ok(_), Some(l)) => {
                self.inner.held.lock().unwrap().insert(id, l);
            }
            (Err(_), Some(l)) => l.release().await,
            _ => {}
        }
        r
    }

    async fn open_on_candidates(
        &self,
        method: &str,
        id: &str,
        config: SessionConfig,
        home: Arc<dyn Home>,
    ) -> Result<Session> {
        let candidates = self.inner.candidates(id, None);
        if candidates.is_empty() {
            self.inner.counters.placement_errors.fetch_add(1, Ordering::Relaxed);
            return Err(self.inner.no_server());
        }
        let mut last = None;
        for m in candidates {
            match m.client.open_session_in(method, id.to_owned(), config.clone(), Some(home.clone())).await {
                Ok(s) => return Ok(s),
                // The server went away under us: the next one in the ranking.
                Err(e) if e.is_transport_failure() || e.kind() == ErrorKind::Reconnecting => last = Some(e),
                Err(e) if method == "session.resume" && is_not_found(&e) => {
                    return Err(e.rekind(
                        ErrorKind::SessionNotFound,
                        format!(
                            "session {id} was not found on server {} ({}); the servers of a pool must share their state directory",
                            m.url,
                            e.message()
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        self.inner.counters.placement_errors.fetch_add(1, Ordering::Relaxed);
        Err(last.unwrap_or_else(|| self.inner.no_server()))
    }

    /// Sessions stored by the servers, each once (servers sharing a state directory list the
    /// same ones).
    pub async fn list_sessions(&self, filter: Option<SessionListFilter>) -> Result<Vec<SessionMetadata>> {
        Ok(self.list_with_server(filter).await?.into_iter().map(|(m, _)| m).collect())
    }

    async fn list_with_server(&self, filter: Option<SessionListFilter>) -> Result<Vec<(SessionMetadata, usize)>> {
        self.ensure_started().await?;
        let healthy: Vec<usize> =
            (0..self.inner.members.len()).filter(|i| self.inner.members[*i].client.is_connected()).collect();
        if healthy.is_empty() {
            return Err(self.inner.no_server());
        }
        let lists =
            futures_join(healthy.iter().map(|i| self.inner.members[*i].client.list_sessions(filter.clone()))).await;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut first_error = None;
        let mut any = false;
        for (i, list) in healthy.into_iter().zip(lists) {
            match list {
                Ok(list) => {
                    any = true;
                    out.extend(list.into_iter().filter(|m| seen.insert(m.session_id.clone())).map(|m| (m, i)));
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (any, first_error) {
            (false, Some(e)) => Err(e),
            _ => Ok(out),
        }
    }

    /// Deletes a session from disk (on its server, or any healthy one).
    pub async fn delete_session(&self, session_id: &str) -> Result<()> {
        self.ensure_started().await?;
        self.inner.release_lease(session_id).await;
        let candidates = self.inner.candidates(session_id, None);
        let Some(m) = candidates.first() else { return Err(self.inner.no_server()) };
        m.client.delete_session(session_id).await
    }

    /// Deletes stored sessions past `max_age` (since start) or `max_idle` (since the last
    /// change), across the pool; never one open on this pool unless `include_open`, never one
    /// leased by another instance. Returns what it deleted.
    pub async fn cleanup_sessions(&self, options: CleanupOptions) -> Result<Vec<SessionMetadata>> {
        let d = crate::reaper::sweep(&PoolStore(Arc::downgrade(&self.inner)), &options).await?;
        self.inner.counters.reaped.fetch_add(d.len() as u64, Ordering::Relaxed);
        Ok(d)
    }

    /// Runs [`Pool::cleanup_sessions`] every `interval` until the returned reaper is stopped or
    /// dropped. `on_sweep` (optional) hears each sweep's result.
    pub fn start_reaper(
        &self,
        interval: Duration,
        options: CleanupOptions,
        on_sweep: Option<crate::reaper::SweepCallback>,
    ) -> Result<Reaper> {
        let weak = Arc::downgrade(&self.inner);
        let cb = Arc::new(move |r: Result<&[SessionMetadata]>| {
            if let (Ok(d), Some(p)) = (&r, weak.upgrade()) {
                p.counters.reaped.fetch_add(d.len() as u64, Ordering::Relaxed);
            }
            if let Some(f) = &on_sweep {
                f(r);
            }
        });
        Reaper::spawn(Arc::new(PoolStore(Arc::downgrade(&self.inner))), interval, options, cb)
    }

    /// Counters per server and for the pool: `{servers: [{url, healthy, draining, ...client
    /// metrics}], failovers, leasesAcquired, leasesLost, leaseWaits, reaped, placementErrors,
    /// openSessions, healthyServers}`.
    pub fn metrics(&self) -> Value {
        let i = &self.inner;
        let servers: Vec<Value> = i
            .members
            .iter()
            .map(|m| {
                let mut s = m.client.metrics();
                s["url"] = json!(m.url);
                s["healthy"] = json!(m.client.is_connected());
                s["draining"] = json!(m.draining.load(Ordering::SeqCst));
                s
            })
            .collect();
        let open: u64 = servers.iter().filter_map(|s| s["openSessions"].as_u64()).sum();
        let healthy = servers.iter().filter(|s| s["healthy"] == true).count();
        let lc = &i.lease_counters;
        json!({
            "servers": servers,
            "failovers": i.counters.failovers.load(Ordering::Relaxed),
            "leasesAcquired": lc.acquired.load(Ordering::Relaxed),
            "leasesLost": lc.lost.load(Ordering::Relaxed),
            "leaseWaits": lc.waits.load(Ordering::Relaxed),
            "reaped": i.counters.reaped.load(Ordering::Relaxed),
            "placementErrors": i.counters.placement_errors.load(Ordering::Relaxed),
            "openSessions": open,
            "healthyServers": healthy,
        })
    }

    /// [`Pool::metrics`] in the Prometheus text format.
    pub fn metrics_prometheus(&self) -> String {
        let m = self.metrics();
        let servers: Vec<(String, Value)> = m["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| (s["url"].as_str().unwrap_or_default().to_owned(), s.clone()))
            .collect();
        crate::metrics::prometheus_text(&servers, Some(&m))
    }
}

fn r_err(r: &Result<()>) -> String {
    r.as_ref().err().map(|e| e.to_string()).unwrap_or_default()
}

fn is_not_found(e: &Error) -> bool {
    let m = e.message().to_ascii_lowercase();
    e.kind() == ErrorKind::SessionNotFound || m.contains("not found")
}

/// Awaits every future concurrently, results in order.
async fn futures_join<F, T>(futs: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut slots: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    let mut futs: Vec<_> = futs.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        slots[i] = Some(v);
                        *f = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    slots.into_iter().map(|s| s.expect("every future finished")).collect()
}

impl PoolInner {
    fn member(&self, url: &str) -> Result<&Member> {
        self.members
            .iter()
            .find(|m| m.url == url)
            .ok_or_else(|| Error::config(format!("{url} is not a server of this pool")))
    }

    fn ranked(&self, session_id: &str) -> Vec<&Member> {
        let mut r: Vec<&Member> = self.members.iter().collect();
        r.sort_by_key(|m| std::cmp::Reverse(rendezvous_score(&m.url, session_id)));
        r
    }

    /// Healthy servers in ranking order, the drained ones last (used only when nothing else is
    /// healthy); `except` is left out.
    fn candidates(&self, session_id: &str, except: Option<&Member>) -> Vec<&Member> {
        let healthy: Vec<&Member> = self
            .ranked(session_id)
            .into_iter()
            .filter(|m| m.client.is_connected() && !except.is_some_and(|e| std::ptr::eq(*m, e)))
            .collect();
        let (mut open, drained): (Vec<_>, Vec<_>) =
            healthy.into_iter().partition(|m| !m.draining.load(Ordering::SeqCst));
        open.extend(drained);
        open
    }

    fn no_server(&self) -> Error {
        Error::new(
            ErrorKind::NoServer,
            format!(
                "no server of the pool is reachable now ({}); it retries every {:?}",
                self.members.iter().map(|m| m.url.as_str()).collect::<Vec<_>>().join(", "),
                self.health_interval
            ),
        )
    }

    /// The server a session is on now.
    fn home_of(&self, s: &SessionInner) -> Option<&Member> {
        let link = s.link();
        self.members.iter().find(|m| m.client.owns_link(&link))
    }

    async fn release_lease(&self, session_id: &str) {
        let held = self.held.lock().unwrap().remove(session_id);
        if let Some(l) = held {
            l.release().await;
        }
    }

    /// Moves `s` from `from` to the first of `targets` that takes it.
    async fn relocate(&self, s: &Arc<SessionInner>, from: Option<&Member>, targets: Vec<&Member>) -> Result<()> {
        let mut last = None;
        for to in targets {
            if let Some(f) = from {
                f.client.release_moved(s).await;
            }
            match to.client.adopt(s).await {
                Ok(()) => {
                    if let Some(f) = from {
                        f.client.metrics_handle().failover(false);
                    }
                    to.client.metrics_handle().failover(true);
                    self.counters.failovers.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        session = s.id(),
                        from = from.map(|f| f.url.as_str()),
                        to = to.url,
                        "the session moved to another server"
                    );
                    return Ok(());
                }
                Err(_) if s.is_disconnected() => return Ok(()),
                Err(e) => {
                    tracing::warn!(session = s.id(), server = to.url, "moving the session failed: {e}");
                    let fatal = !(e.is_transport_failure() || e.kind() == ErrorKind::Reconnecting);
                    last = Some(if is_not_found(&e) {
                        e.rekind(
                            ErrorKind::SessionNotFound,
                            format!(
                                "session {} was not found on server {} ({}); the servers of a pool must share their state directory",
                                s.id(),
                                to.url,
                                e.message()
                            ),
                        )
                    } else {
                        e
                    });
                    if fatal {
                        break;
                    }
                }
            }
        }
        // Nowhere else: back where it was, if that server still answers.
        if let Some(f) = from.filter(|f| f.client.is_connected()) {
            if f.client.adopt(s).await.is_ok() {
                return Ok(());
            }
        }
        self.counters.placement_errors.fetch_add(1, Ordering::Relaxed);
        Err(last.unwrap_or_else(|| self.no_server()))
    }

    /// Sessions of a server that was lost continue on the next server of their ranking. With
    /// no other server healthy they stay: the server's own reconnect resumes them.
    async fn fail_over(&self, index: usize) {
        let from = &self.members[index];
        let sessions = from.client.sessions_now();
        // A few at a time: each is one `session.resume` on its next server.
        for batch in sessions.chunks(FAILOVER_BATCH) {
            futures_join(batch.iter().map(|s| async move {
                let _moving = s.moving.lock().await;
                // A prompt may have moved it meanwhile.
                if !self.home_of(s).is_some_and(|h| std::ptr::eq(h, from)) || s.is_disconnected() {
                    return;
                }
                let targets = self.candidates(s.id(), Some(from));
                if targets.is_empty() {
                    return;
                }
                if let Err(e) = self.relocate(s, Some(from), targets).await {
                    tracing::warn!(session = s.id(), "failover failed: {e}");
                    s.mark_ended(&e);
                }
            }))
            .await;
        }
    }
}

/// Fails the sessions of a server over as soon as its connection is lost.
async fn watch_member(pool: Weak<PoolInner>, index: usize) {
    let mut rx = {
        let Some(p) = pool.upgrade() else { return };
        p.members[index].client.link_watch()
    };
    loop {
        if rx.changed().await.is_err() {
            return;
        }
        let up = matches!(&*rx.borrow_and_update(), crate::link::LinkState::Up { .. });
        let Some(p) = pool.upgrade() else { return };
        if !up {
            tracing::warn!(server = p.members[index].url, "lost a server of the pool; failing its sessions over");
            p.fail_over(index).await;
        } else {
            tracing::info!(server = p.members[index].url, "a server of the pool is up");
        }
    }
}

/// Starts again the servers whose clients gave up (or never started).
async fn health_loop(pool: Weak<PoolInner>) {
    loop {
        let every = match pool.upgrade() {
            Some(p) => p.health_interval,
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(p) = pool.upgrade() else { return };
        let down: Vec<Client> = p.members.iter().filter(|m| m.client.needs_start()).map(|m| m.client.clone()).collect();
        drop(p);
        for c in down {
            if let Err(e) = tokio::time::timeout(every.max(Duration::from_secs(5)), c.start())
                .await
                .unwrap_or_else(|_| Err(Error::new(ErrorKind::Timeout, "starting the server's client took too long")))
            {
                tracing::debug!("a server of the pool is still down: {e}");
            }
        }
    }
}

struct PoolHome {
    pool: Weak<PoolInner>,
    lease: Option<Arc<HeldLease>>,
}

impl Home for PoolHome {
    fn check(&self) -> Result<()> {
        match &self.lease {
            Some(l) => l.check(),
            None => Ok(()),
        }
    }

    fn prepare(&self, s: Arc<SessionInner>) -> BoxFuture<'static, Result<()>> {
        let pool = self.pool.clone();
        let check = self.check();
        Box::pin(async move {
            check?;
            let Some(p) = pool.upgrade() else { return Ok(()) };
            // One move at a time (the failover of its server may be moving it now); where it
            // is is read after the lock.
            let _moving = s.moving.lock().await;
            let home = p.home_of(&s);
            let targets = p.candidates(s.id(), None);
            let Some(best) = targets.first() else {
                // Nothing is healthy: the call waits for (or fails with) its own server.
                return Ok(());
            };
            let stay = home.is_some_and(|h| {
                std::ptr::eq(h, *best)
                    || (h.client.is_connected()
                        && !h.draining.load(Ordering::SeqCst)
                        && best.draining.load(Ordering::SeqCst))
            });
            if stay {
                return Ok(());
            }
            p.relocate(&s, home, targets).await
        })
    }

    fn released(&self, session_id: &str) {
        let Some(p) = self.pool.upgrade() else { return };
        let held = p.held.lock().unwrap().remove(session_id);
        if let Some(l) = held {
            tokio::spawn(async move { l.release().await });
        }
    }

    fn lease_token(&self) -> Option<u64> {
        self.lease.as_ref().map(|l| l.token)
    }

    fn server(&self, session: &SessionInner) -> Option<String> {
        let p = self.pool.upgrade()?;
        p.home_of(session).map(|m| m.url.clone())
    }
}

/// The reaper's view of a pool. It holds the pool weakly: a background reaper does not keep a
/// dropped pool (its health loop and watchers) alive.
struct PoolStore(Weak<PoolInner>);

impl PoolStore {
    fn pool(&self) -> Result<Pool> {
        self.0
            .upgrade()
            .map(|inner| Pool { inner })
            .ok_or_else(|| Error::new(ErrorKind::NotConnected, "the pool was dropped"))
    }
}

impl Store for PoolStore {
    fn list(&self) -> BoxFuture<'_, Result<Vec<SessionMetadata>>> {
        Box::pin(async move { self.pool()?.list_sessions(None).await })
    }
    fn is_open(&self, id: &str) -> bool {
        self.pool().is_ok_and(|p| p.inner.members.iter().any(|m| m.client.has_session(id)))
    }
    fn is_leased<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Ok(p) = self.pool() else { return true };
            match &p.inner.lease {
                // When the store cannot tell, count it as leased: never delete what may be in use.
                Some(l) => l.store.holder(id).await.map(|h| h.is_some()).unwrap_or(true),
                None => false,
            }
        })
    }
    fn disconnect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok(p) = self.pool() else { return };
            for m in &p.inner.members {
                if let Some(s) = m.client.session_handle(id) {
                    let _ = s.disconnect().await;
                }
            }
        })
    }
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.pool()?.delete_session(id).await })
    }
}
