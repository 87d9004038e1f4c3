//! Native half of `CopilotPool`: the core's `Pool` (several CLI servers as one), with values as
//! JSON text both ways like the rest of the addon. Sessions it opens are ordinary
//! [`NativeSession`]s whose opener is the pool.

use super::{
    JsSink, NativeReaper, NativeSession, Opener, WakeSink, cleanup_options, core_text, error_json, list_filter, parse,
    text, to_napi,
};
use copilot_core as core;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use serde_json::json;
use std::sync::Arc;

/// Private native pool; use `CopilotPool` from the package instead.
#[napi]
pub struct NativePool {
    inner: core::Pool,
}

#[napi]
impl NativePool {
    /// `options`: JSON text of the pool options (`urls`, `healthInterval`, `lease`, client
    /// options), checked at once.
    #[napi(constructor)]
    pub fn new(options: String) -> Result<Self> {
        let o = core::PoolOptions::from_json(&parse(Some(options), "pool options")?).map_err(to_napi)?;
        Ok(NativePool { inner: core::Pool::new(o).map_err(to_napi)? })
    }

    #[napi]
    pub async fn start(&self) -> Result<()> {
        self.inner.start().await.map_err(to_napi)
    }

    #[napi]
    pub async fn stop(&self) -> Result<()> {
        self.inner.stop().await.map_err(to_napi)
    }

    /// A session of this pool, not open yet (as `NativeClient.session`): `open()` creates it on
    /// its server, or resumes it, taking its lease first when leases are on.
    #[napi(ts_args_type = "config: string, host: string, wake: () => void")]
    pub fn session(&self, config: String, host: String, wake: WakeSink) -> Result<NativeSession> {
        NativeSession::new(Opener::Pool(self.inner.clone()), config, host, wake)
    }

    /// `filter`: JSON text of `{cwd, gitRoot, repository, branch}` or null.
    #[napi]
    pub async fn list_sessions(&self, filter: Option<String>) -> Result<String> {
        core_text(self.inner.list_sessions(list_filter(filter)?).await)
    }

    #[napi]
    pub async fn delete_session(&self, session_id: String) -> Result<()> {
        self.inner.delete_session(&session_id).await.map_err(to_napi)
    }

    #[napi]
    pub fn drain(&self, url: String) -> Result<()> {
        self.inner.drain(&url).map_err(to_napi)
    }

    #[napi]
    pub fn undrain(&self, url: String) -> Result<()> {
        self.inner.undrain(&url).map_err(to_napi)
    }

    /// JSON text of `[{url, healthy, draining, openSessions}]`.
    #[napi]
    pub fn servers(&self) -> String {
        text(&self.inner.servers())
    }

    /// The servers ranked for a session (first: where it goes when every server is healthy).
    #[napi]
    pub fn ranking(&self, session_id: String) -> Vec<String> {
        self.inner.ranking(&session_id)
    }

    /// Where a session would be placed now (null: no server is usable).
    #[napi]
    pub fn server_for(&self, session_id: String) -> Option<String> {
        self.inner.server_for(&session_id)
    }

    /// The pool's servers, in the order given.
    #[napi]
    pub fn urls(&self) -> Vec<String> {
        self.inner.urls()
    }

    /// `options`: JSON text of `{maxAge, maxIdle, includeOpen}` (seconds); resolves to the JSON
    /// text of the deleted sessions' metadata.
    #[napi]
    pub async fn cleanup_sessions(&self, options: String) -> Result<String> {
        let o = cleanup_options(options)?;
        core_text(self.inner.cleanup_sessions(o).await)
    }

    /// A background reaper sweeping every `interval` seconds. `onSweep` (weak: it never keeps
    /// Node alive) gets the JSON text of `{deleted: [metadata]}` or `{error}` after each sweep.
    #[napi(ts_args_type = "interval: number, options: string, onSweep?: ((result: string) => void) | undefined | null")]
    pub fn start_reaper(&self, interval: f64, options: String, on_sweep: Option<JsSink>) -> Result<NativeReaper> {
        let cb = on_sweep.map(|sink| {
            let sink = Arc::new(sink);
            Arc::new(move |r: core::Result<&[core::config::SessionMetadata]>| {
                let v = match r {
                    Ok(d) => json!({ "deleted": d }),
                    Err(e) => json!({ "error": error_json(&e) }),
                };
                sink.call(text(&v), ThreadsafeFunctionCallMode::NonBlocking);
            }) as copilot_core::reaper::SweepCallback
        });
        NativeReaper::start(interval, options, |every, o| self.inner.start_reaper(every, o, cb))
    }

    /// JSON text of the pool's counters (`{servers: [...], failovers, leasesAcquired, …}`).
    #[napi]
    pub fn metrics(&self) -> String {
        text(&self.inner.metrics())
    }

    /// The pool's counters in the Prometheus text format.
    #[napi]
    pub fn metrics_prometheus(&self) -> String {
        self.inner.metrics_prometheus()
    }
}
