//! The inbound router: a connection's server traffic (session events, lifecycle notifications,
//! server→client requests) to the sessions open on it and the client's lifecycle subscribers.

use crate::error::{Error, RpcErrorData};
use crate::events::{Fanout, LifecycleEvent, SessionEvent};
use crate::rpc::{BoxFuture, Inbound, codes};
use crate::session::SessionInner;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Routes a connection's server traffic to sessions and lifecycle subscribers.
pub(crate) struct Registry {
    pub sessions: Mutex<HashMap<String, Arc<SessionInner>>>,
    /// The client's lifecycle subscribers (they outlive one connection).
    pub lifecycle: Arc<Mutex<Fanout<LifecycleEvent>>>,
}

impl Registry {
    pub fn new(lifecycle: Arc<Mutex<Fanout<LifecycleEvent>>>) -> Arc<Self> {
        Arc::new(Registry { sessions: Mutex::new(HashMap::new()), lifecycle })
    }
    fn get(&self, id: &str) -> Option<Arc<SessionInner>> {
        self.sessions.lock().unwrap().get(id).cloned()
    }
    pub fn insert(&self, s: Arc<SessionInner>) {
        let new = s.clone();
        if let Some(old) = self.sessions.lock().unwrap().insert(s.id().to_owned(), s) {
            // A second handle for the same id on this client: the old one stops receiving
            // (the same handle registered again, as a moving session is, keeps its streams).
            if !Arc::ptr_eq(&old, &new) {
                old.close_streams();
            }
        }
    }
    /// Registers `s` unless another handle of the same id is registered (false then).
    pub fn insert_unless_other(&self, s: Arc<SessionInner>) -> bool {
        let mut map = self.sessions.lock().unwrap();
        match map.get(s.id()) {
            Some(cur) if !Arc::ptr_eq(cur, &s) => false,
            _ => {
                map.insert(s.id().to_owned(), s);
                true
            }
        }
    }

    /// Whether a handle other than `s` is registered under its id.
    pub fn has_other(&self, s: &Arc<SessionInner>) -> bool {
        self.sessions.lock().unwrap().get(s.id()).is_some_and(|cur| !Arc::ptr_eq(cur, s))
    }

    /// Removes `s` when it is the handle registered under its id (not a newer one).
    pub fn remove_if_same(&self, s: &Arc<SessionInner>) -> bool {
        let mut map = self.sessions.lock().unwrap();
        if map.get(s.id()).is_some_and(|cur| Arc::ptr_eq(cur, s)) {
            map.remove(s.id());
            return true;
        }
        false
    }
    pub fn len(&self) -> usize {
        self.sessions.lock().unwrap().len()
    }
    pub fn remove(&self, id: &str) -> Option<Arc<SessionInner>> {
        self.sessions.lock().unwrap().remove(id)
    }
    pub fn all(&self) -> Vec<Arc<SessionInner>> {
        self.sessions.lock().unwrap().values().cloned().collect()
    }
    pub fn take_all(&self) -> Vec<Arc<SessionInner>> {
        self.sessions.lock().unwrap().drain().map(|(_, s)| s).collect()
    }
}

impl Inbound for Registry {
    fn notification(&self, method: &str, params: Value) {
        match method {
            "session.event" => {
                let Some(sid) = params.get("sessionId").and_then(Value::as_str) else { return };
                let Some(session) = self.get(sid) else {
                    tracing::trace!(session = sid, "event for a session this client does not know");
                    return;
                };
                let Some(raw) = params.get("event") else { return };
                match SessionEvent::deserialize_owned(raw) {
                    Ok(ev) => session.on_event(ev),
                    Err(e) => tracing::warn!("dropping a malformed session.event ({e}): {raw}"),
                }
            }
            "session.lifecycle" => match serde_json::from_value::<LifecycleEvent>(params) {
                Ok(ev) => {
                    let t = ev.event_type.clone();
                    self.lifecycle.lock().unwrap().publish(&t, &ev);
                }
                Err(e) => tracing::warn!("malformed session.lifecycle: {e}"),
            },
            other => tracing::trace!(method = other, "ignoring notification"),
        }
    }

    fn request(&self, method: String, params: Value) -> BoxFuture<'static, std::result::Result<Value, RpcErrorData>> {
        let sid = params.get("sessionId").and_then(Value::as_str).map(str::to_owned);
        let session = sid.as_deref().and_then(|s| self.get(s));
        Box::pin(async move {
            match session {
                Some(s) => s.serve(method, params).await,
                None => Err(RpcErrorData {
                    code: if sid.is_none() { codes::INVALID_PARAMS } else { codes::METHOD_NOT_FOUND },
                    message: match sid {
                        Some(sid) => format!("Unhandled method {method}: session {sid} is not open on this client"),
                        None => format!("Unhandled method {method}"),
                    },
                    data: None,
                }),
            }
        })
    }

    /// The sessions outlive a connection: the client's supervisor resumes them on the next
    /// one, or ends them when it gives up.
    fn closed(&self, error: &Error) {
        tracing::debug!("connection closed: {error}");
    }
}

impl SessionEvent {
    fn deserialize_owned(raw: &Value) -> serde_json::Result<SessionEvent> {
        serde::Deserialize::deserialize(raw)
    }
}
