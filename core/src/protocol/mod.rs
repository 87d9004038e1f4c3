//! The typed protocol, generated from the Copilot CLI's own JSON schemas by
//! `cargo run -p xtask -- codegen` (feature `protocol`, on by default).
//!
//! - [`types`]: every params/result/data type of the schemas;
//! - [`Event`]: every session event type with its data ([`SessionEvent::protocol`]);
//! - [`Client::rpc`] / [`Session::rpc`]: typed namespaces over every server and session method,
//!   each call going through [`Client::call`] / [`Session::call`] (which stay for methods newer
//!   than the schema).
//!
//! Types are a view: an event type, a field or an enum value the schema does not know still
//! reaches the program (`Event::Unknown`, the raw [`SessionEvent`], `Unknown(..)` variants).
//! [`strict`] checks real traffic against the types in the test suites.
//!
//! ```no_run
//! # async fn demo(session: copilot_core::Session) -> copilot_core::Result<()> {
//! use copilot_core::protocol::Event;
//! let current = session.rpc().model().get_current().await?;
//! println!("model: {:?}", current.model_id);
//! let mut events = session.subscribe();
//! while let Some(ev) = events.recv().await {
//!     if let Ok(Event::AssistantMessage(m)) = ev.protocol() {
//!         println!("{}", m.content);
//!     }
//! }
//! # Ok(()) }
//! ```

// Generated files are written as the generator writes them (the drift check compares bytes).
#[rustfmt::skip]
pub mod events;
#[rustfmt::skip]
pub mod hooks;
#[rustfmt::skip]
pub mod rpc;
pub mod strict;
#[rustfmt::skip]
pub mod types;

pub use events::{EVENT_TYPES, Event};
pub use hooks::Hooks;

use crate::{Client, Error, Result, Session, SessionEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Params as JSON (a params type that cannot be written as JSON is a config error).
pub(crate) fn to_params<T: Serialize>(p: T) -> Result<Value> {
    serde_json::to_value(p).map_err(|e| Error::config(format!("params cannot be written as JSON: {e}")))
}

/// Reads a result as its type; in the strict test mode, also records what the type lacks.
pub(crate) fn typed_call<T: DeserializeOwned + Serialize>(v: Value, method: &str) -> Result<T> {
    strict::read(&v, method)
        .map_err(|e| Error::protocol(format!("{method}: the result does not match its schema type: {e}")))
}

impl SessionEvent {
    /// This event's type and data, typed. An event type the schema does not list is
    /// `Ok(Event::Unknown)`; data that does not match its schema type is a protocol error.
    pub fn protocol(&self) -> Result<Event> {
        Event::decode(&self.event_type, &self.data).map_err(|e| {
            Error::protocol(format!("event {}: the data does not match its schema type: {e}", self.event_type))
        })
    }
}

impl Client {
    /// The typed server methods (`client.rpc().models().list()`).
    pub fn rpc(&self) -> rpc::ServerRpc<'_> {
        rpc::ServerRpc { owner: self }
    }

    /// The model list with capabilities, policy and billing (`models.list`), typed.
    pub async fn list_models_typed(&self) -> Result<Vec<types::Model>> {
        Ok(self.rpc().models().list(Default::default()).await?.models)
    }
}

impl Session {
    /// The typed session methods (`session.rpc().model().switch_to(...)`); `sessionId` is filled in.
    pub fn rpc(&self) -> rpc::SessionRpc<'_> {
        rpc::SessionRpc { owner: self }
    }
}

/// Who a hook call is for (the official SDKs' hook invocation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookInvocation {
    pub session_id: String,
}

/// One typed hook handler, erased to JSON in and out.
pub(crate) type HookFn =
    std::sync::Arc<dyn Fn(Value, HookInvocation) -> crate::rpc::BoxFuture<'static, Result<Value>> + Send + Sync>;

/// Wraps a typed hook handler: the input is read as its type (a strict-mode failure when it
/// cannot be), the output written as JSON (`None`: `null`, no change).
pub(crate) fn hook_fn<I, O, F, Fut>(hook_type: &'static str, f: F) -> HookFn
where
    I: DeserializeOwned + Serialize + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(I, HookInvocation) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Option<O>>> + Send + 'static,
{
    let f = std::sync::Arc::new(f);
    std::sync::Arc::new(move |input: Value, inv: HookInvocation| {
        let f = f.clone();
        Box::pin(async move {
            let typed: I = strict::read(&input, &format!("hook {hook_type}"))
                .map_err(|e| Error::protocol(format!("hook {hook_type}: the input does not match its type: {e}")))?;
            match f(typed, inv).await? {
                Some(out) => serde_json::to_value(out)
                    .map_err(|e| Error::config(format!("hook {hook_type}: the output cannot be written as JSON: {e}"))),
                None => Ok(Value::Null),
            }
        })
    })
}

impl hooks::Hooks {
    /// The session's hook handler (`SessionConfig::on_hook`): each hook type goes to its typed
    /// handler; types without one answer `null` (no change).
    pub fn handler(self) -> std::sync::Arc<dyn crate::JsonHandler> {
        std::sync::Arc::new(move |p: Value| {
            let hook_type = p.get("hookType").and_then(Value::as_str).unwrap_or_default().to_string();
            // The session: the request's `sessionId`, else the input's (the CLI puts it in both).
            let session_id = [p.get("sessionId"), p.get("input").and_then(|i| i.get("sessionId"))]
                .into_iter()
                .flatten()
                .find_map(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let inv = HookInvocation { session_id };
            let f = self.get(&hook_type).cloned();
            let input = p.get("input").cloned().unwrap_or(Value::Null);
            async move {
                match f {
                    Some(f) => f(input, inv).await,
                    None => Ok(Value::Null),
                }
            }
        })
    }
}
