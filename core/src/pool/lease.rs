//! Session leases: at most one backend instance drives a session at a time.
//!
//! A lease has an owner, an expiry (renewed in the background while the session is open) and a
//! fencing token that grows with every acquisition of that session's lease, so a store the host
//! writes to can refuse a holder whose lease has passed to someone else. A lease that expires
//! or is taken over while held makes the session's calls fail with `lease_lost`.

use super::redis::{Redis, Reply, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::rpc::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where leases live. [`RedisLeaseStore`] is the shipped one; any other store implements this.
pub trait LeaseStore: Send + Sync {
    /// Takes the lease when nobody holds it: its fencing token, or None when it is held.
    fn try_acquire<'a>(
        &'a self,
        session_id: &'a str,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<u64>>>;
    /// Extends a lease this owner holds with this token: false when it is no longer ours.
    fn renew<'a>(
        &'a self,
        session_id: &'a str,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool>>;
    /// Lets go of a lease this owner holds with this token (nothing when it is not ours).
    fn release<'a>(&'a self, session_id: &'a str, owner: &'a str, token: u64) -> BoxFuture<'a, Result<()>>;
    /// Who holds the lease now (`owner|token`), if anyone.
    fn holder<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<String>>>;
}

/// Leases in Redis: `<prefix><session id>` holds `owner|token` with a millisecond expiry;
/// `<prefix>fence:<session id>` counts the tokens. Each operation is one Lua script, so it is
/// atomic on the server.
pub struct RedisLeaseStore {
    redis: Redis,
    prefix: String,
}

const ACQUIRE: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end \
    local t = redis.call('INCR', KEYS[2]) \
    redis.call('PEXPIRE', KEYS[2], 2592000000) \
    redis.call('SET', KEYS[1], ARGV[1] .. '|' .. t, 'PX', ARGV[2]) \
    return t";
const RENEW: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

impl RedisLeaseStore {
    /// A store at `redis://[user:password@]host:port[/db]`; keys start with `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisLeaseStore> {
        Ok(RedisLeaseStore {
            redis: Redis::new(Target::parse(url)?, Duration::from_secs(5)),
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, session_id: &str) -> String {
        format!("{}{session_id}", self.prefix)
    }

    async fn eval(&self, script: &str, keys: &[&str], args: &[&str]) -> Result<Reply> {
        let n = keys.len().to_string();
        let mut a: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), n.as_bytes()];
        a.extend(keys.iter().map(|k| k.as_bytes()));
        a.extend(args.iter().map(|v| v.as_bytes()));
        self.redis.cmd(&a).await
    }
}

fn int(r: Reply) -> Result<i64> {
    match r {
        Reply::Int(i) => Ok(i),
        other => Err(Error::protocol(format!("redis: expected a number, got {other:?}"))),
    }
}

impl LeaseStore for RedisLeaseStore {
    fn try_acquire<'a>(
        &'a self,
        session_id: &'a str,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<u64>>> {
        Box::pin(async move {
            let key = self.key(session_id);
            let fence = format!("{}fence:{session_id}", self.prefix);
            let ttl = ttl.as_millis().max(1).to_string();
            let t = int(self.eval(ACQUIRE, &[&key, &fence], &[owner, &ttl]).await?)?;
            Ok(if t < 0 { None } else { Some(t as u64) })
        })
    }

    fn renew<'a>(
        &'a self,
        session_id: &'a str,
        owner: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let value = format!("{owner}|{token}");
            let ttl = ttl.as_millis().max(1).to_string();
            Ok(int(self.eval(RENEW, &[&self.key(session_id)], &[&value, &ttl]).await?)? == 1)
        })
    }

    fn release<'a>(&'a self, session_id: &'a str, owner: &'a str, token: u64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let value = format!("{owner}|{token}");
            int(self.eval(RELEASE, &[&self.key(session_id)], &[&value]).await?).map(drop)
        })
    }

    fn holder<'a>(&'a self, session_id: &'a str) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            let key = self.key(session_id);
            match self.redis.cmd(&[b"GET", key.as_bytes()]).await? {
                Reply::Nil => Ok(None),
                Reply::Bytes(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
                other => Err(Error::protocol(format!("redis: GET answered {other:?}"))),
            }
        })
    }
}

/// How a pool leases its sessions.
#[derive(Clone)]
pub struct LeaseOptions {
    pub store: Arc<dyn LeaseStore>,
    /// This instance's name in the store (default: host name, process id and a random part).
    pub owner: String,
    /// How long a lease lasts without renewal (default 30 s); renewed every third of it.
    pub ttl: Duration,
    /// How long opening a session waits for another holder to let go (default 30 s; 0: fail at once).
    pub wait: Duration,
}

impl LeaseOptions {
    pub fn new(store: Arc<dyn LeaseStore>) -> LeaseOptions {
        LeaseOptions { store, owner: default_owner(), ttl: Duration::from_secs(30), wait: Duration::from_secs(30) }
    }

    /// Leases in the Redis at `url`, keys prefixed `copilot:lease:`.
    pub fn redis(url: &str) -> Result<LeaseOptions> {
        Ok(LeaseOptions::new(Arc::new(RedisLeaseStore::new(url, "copilot:lease:")?)))
    }
}

fn default_owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &rand[..8])
}

/// Counters of the lease machinery (pool-wide).
#[derive(Default)]
pub(crate) struct LeaseCounters {
    pub acquired: std::sync::atomic::AtomicU64,
    pub lost: std::sync::atomic::AtomicU64,
    pub waits: std::sync::atomic::AtomicU64,
}

/// A lease this instance holds, renewed by a task until released or lost.
pub(crate) struct HeldLease {
    pub session_id: String,
    pub token: u64,
    options: LeaseOptions,
    state: Mutex<HeldState>,
    renewer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct HeldState {
    valid_until: Instant,
    lost: Option<Error>,
    released: bool,
}

impl HeldLease {
    /// Takes the session's lease, waiting up to `options.wait` for another holder to let go.
    pub async fn acquire(
        options: &LeaseOptions,
        session_id: &str,
        counters: Arc<LeaseCounters>,
    ) -> Result<Arc<HeldLease>> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(20);
        let mut waited = false;
        loop {
            let asked = Instant::now();
            if let Some(token) = options.store.try_acquire(session_id, &options.owner, options.ttl).await? {
                counters.acquired.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let lease = Arc::new(HeldLease {
                    session_id: session_id.to_owned(),
                    token,
                    options: options.clone(),
                    state: Mutex::new(HeldState { valid_until: asked + options.ttl, lost: None, released: false }),
                    renewer: Mutex::new(None),
                });
                let task = tokio::spawn(renew_loop(Arc::downgrade(&lease), counters));
                *lease.renewer.lock().unwrap() = Some(task);
                tracing::debug!(session = session_id, token, "lease acquired");
                return Ok(lease);
            }
            if !waited {
                waited = true;
                counters.waits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if started.elapsed() >= options.wait {
                let holder = options.store.holder(session_id).await.ok().flatten().unwrap_or_else(|| "?".into());
                return Err(Error::new(
                    ErrorKind::LeaseHeld,
                    format!(
                        "session {session_id} is leased by {} (waited {:?}); another instance is driving it",
                        holder.rsplit_once('|').map_or(holder.as_str(), |(o, _)| o),
                        started.elapsed()
                    ),
                ));
            }
            tokio::time::sleep(delay.min(options.wait.saturating_sub(started.elapsed()))).await;
            delay = (delay * 2).min(Duration::from_millis(250));
        }
    }

    /// Ok while the lease is ours and unexpired.
    pub fn check(&self) -> Result<()> {
        let st = self.state.lock().unwrap();
        if let Some(e) = &st.lost {
            return Err(e.clone());
        }
        if Instant::now() >= st.valid_until {
            return Err(Error::new(
                ErrorKind::LeaseLost,
                format!(
                    "the lease on session {} (token {}) expired: it could not be renewed in time",
                    self.session_id, self.token
                ),
            ));
        }
        Ok(())
    }

    /// Stops renewing and lets go of the lease in the store.
    pub async fn release(&self) {
        {
            let mut st = self.state.lock().unwrap();
            if st.released {
                return;
            }
            st.released = true;
        }
        if let Some(t) = self.renewer.lock().unwrap().take() {
            t.abort();
        }
        if let Err(e) = self.options.store.release(&self.session_id, &self.options.owner, self.token).await {
            tracing::warn!(session = self.session_id, "could not release the lease (it will expire): {e}");
        }
    }
}

async fn renew_loop(lease: std::sync::Weak<HeldLease>, counters: Arc<LeaseCounters>) {
    loop {
        let Some(l) = lease.upgrade() else { return };
        let every = l.options.ttl / 3;
        drop(l);
        tokio::time::sleep(every).await;
        let Some(l) = lease.upgrade() else { return };
        let asked = Instant::now();
        let r = l.options.store.renew(&l.session_id, &l.options.owner, l.token, l.options.ttl).await;
        let mut st = l.state.lock().unwrap();
        if st.released || st.lost.is_some() {
            return;
        }
        match r {
            Ok(true) => st.valid_until = asked + l.options.ttl,
            Ok(false) => {
                counters.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(session = l.session_id, token = l.token, "the session's lease was lost");
                st.lost = Some(Error::new(
                    ErrorKind::LeaseLost,
                    format!(
                        "the lease on session {} (token {}) expired or was taken over by another instance",
                        l.session_id, l.token
                    ),
                ));
                return;
            }
            Err(e) => {
                tracing::warn!(session = l.session_id, "renewing the lease failed (retrying): {e}");
                if Instant::now() >= st.valid_until {
                    counters.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    st.lost = Some(e.rekind(
                        ErrorKind::LeaseLost,
                        format!(
                            "the lease on session {} (token {}) expired: the store was unreachable ({})",
                            l.session_id,
                            l.token,
                            e.message()
                        ),
                    ));
                    return;
                }
            }
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        if let Some(t) = self.renewer.lock().unwrap().take() {
            t.abort();
        }
    }
}
