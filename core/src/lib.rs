//! # copilot-core
//!
//! The Rust core of an SDK for the GitHub Copilot CLI's server mode (`copilot --headless`):
//! transport (spawned child over stdio or TCP, or an external server), strict `Content-Length`
//! framing, JSON-RPC 2.0, and a session manager with events and host-side handlers (tools,
//! permission prompts, user input, hooks, …). Every language binding is a thin layer over it.
//!
//! ```no_run
//! # async fn demo() -> copilot_core::Result<()> {
//! use copilot_core::{Client, ClientOptions, SessionConfig};
//! let client = Client::new(ClientOptions::default());
//! client.start().await?;
//! let session = client
//!     .create_session(SessionConfig { model: Some("gpt-4.1".into()), ..Default::default() })
//!     .await?;
//! let answer = session.send_and_wait("Say hello").await?;
//! println!("{}", answer.and_then(|e| e.content().map(str::to_owned)).unwrap_or_default());
//! client.stop().await?;
//! # Ok(()) }
//! ```

pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod framing;
pub mod handlers;
pub mod host;
mod link;
pub mod metrics;
pub mod pool;
#[cfg(feature = "protocol")]
pub mod protocol;
pub mod reaper;
mod router;
pub mod rpc;
pub mod session;
pub mod session_fs;
pub mod telemetry;
pub mod transport;
pub mod ui;

pub use client::{Client, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION};
pub use config::{
    AuthStatus, ClientOptions, MessageOptions, PingResponse, ReconnectPolicy, RuntimeConnection, SessionConfig,
    SessionListFilter, SessionMetadata, StatusResponse, camel_key, tool_from_json,
};
pub use error::{Error, ErrorKind, Result, RpcErrorData};
pub use events::{EventStream, LifecycleEvent, SessionEvent, ToolRequest, TypedEvent};
pub use handlers::{
    CancellationToken, JsonHandler, PermissionDecision, PermissionHandler, PermissionRequest, Tool, ToolHandler,
    ToolInvocation, ToolResult, UserInputHandler, UserInputRequest, UserInputResponse, approve_all,
};
pub use host::{HostMessage, HostOptions, HostPort, HostRequest, HostStream, RequestKind, Responder};
pub use pool::lease::{LeaseOptions, LeaseStore, RedisLeaseStore};
pub use pool::{Pool, PoolOptions};
pub use reaper::{CleanupOptions, Reaper};
pub use session::{Session, Subscription};
pub use transport::{PINNED_CLI_VERSION, Transport};

/// How the core's runtime is built: multi-thread, 2 worker threads named `copilot-rt`, I/O and
/// timers on. A binding whose host framework must own the runtime (napi-rs) builds it with
/// this and hands it over, so the process still runs one runtime configured the core's way.
pub fn runtime_builder() -> tokio::runtime::Builder {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2).thread_name("copilot-rt").enable_all();
    b
}

/// The process-wide runtime the language bindings run the core on: a multi-thread tokio
/// runtime with 2 worker threads named `copilot-rt`, created on first use. After `fork()` the
/// child gets a fresh runtime (the parent's threads do not exist there); clients created
/// before the fork belong to the parent and are not usable in the child.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    use std::sync::Mutex;
    static RT: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = RT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, rt)) = *slot {
        if p == pid {
            return rt;
        }
    }
    let rt = runtime_builder().build().expect("cannot start the copilot-rt runtime");
    let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    rt
}
