//! Session events: an envelope that keeps everything the CLI sent, with typed views of the
//! common events. Unknown event types and unknown fields are kept, never dropped.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One `session.event` as sent by the CLI (`params.event`), plus the session it belongs to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionEvent {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(rename = "parentId", default)]
    pub parent_id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub data: Value,
    /// Transient events (not persisted, never returned by `get_messages`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
    /// Set on sub-agent events.
    #[serde(rename = "agentId", default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Any other envelope field the CLI sends.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool call requested by the model (in `assistant.message`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ToolRequest {
    #[serde(rename = "toolCallId", default)]
    pub tool_call_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub arguments: Value,
}

/// Typed views of the events most programs act on; everything else is [`TypedEvent::Other`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TypedEvent {
    AssistantMessage {
        message_id: String,
        content: String,
        tool_requests: Vec<ToolRequest>,
    },
    AssistantMessageDelta {
        message_id: String,
        delta_content: String,
    },
    AssistantReasoningDelta {
        reasoning_id: String,
        delta_content: String,
    },
    AssistantUsage {
        model: Option<String>,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
        cost: Option<f64>,
        duration_ms: Option<f64>,
    },
    ToolExecutionStart {
        tool_call_id: String,
        tool_name: String,
        arguments: Value,
    },
    ToolExecutionComplete {
        tool_call_id: String,
        success: bool,
        result: Option<String>,
        error: Option<String>,
    },
    SessionIdle {
        aborted: bool,
    },
    SessionError {
        error_type: String,
        message: String,
        status_code: Option<u64>,
    },
    Other,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned()
}
fn os(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

impl SessionEvent {
    /// A typed view of the common events. Cheap: reads only the fields it needs from `data`.
    pub fn typed(&self) -> TypedEvent {
        let d = &self.data;
        match self.event_type.as_str() {
            "assistant.message" => TypedEvent::AssistantMessage {
                message_id: s(d, "messageId"),
                content: s(d, "content"),
                tool_requests: d
                    .get("toolRequests")
                    .and_then(|t| Vec::<ToolRequest>::deserialize(t).ok())
                    .unwrap_or_default(),
            },
            "assistant.message_delta" => {
                TypedEvent::AssistantMessageDelta { message_id: s(d, "messageId"), delta_content: s(d, "deltaContent") }
            }
            "assistant.reasoning_delta" => TypedEvent::AssistantReasoningDelta {
                reasoning_id: s(d, "reasoningId"),
                delta_content: s(d, "deltaContent"),
            },
            "assistant.usage" => TypedEvent::AssistantUsage {
                model: os(d, "model"),
                input_tokens: d.get("inputTokens").and_then(Value::as_u64),
                output_tokens: d.get("outputTokens").and_then(Value::as_u64),
                cost: d.get("cost").and_then(Value::as_f64),
                duration_ms: d.get("duration").and_then(Value::as_f64),
            },
            "tool.execution_start" => TypedEvent::ToolExecutionStart {
                tool_call_id: s(d, "toolCallId"),
                tool_name: s(d, "toolName"),
                arguments: d.get("arguments").cloned().unwrap_or(Value::Null),
            },
            "tool.execution_complete" => TypedEvent::ToolExecutionComplete {
                tool_call_id: s(d, "toolCallId"),
                success: d.get("success").and_then(Value::as_bool).unwrap_or(false),
                result: d.get("result").and_then(|r| os(r, "content")),
                error: d.get("error").and_then(|e| os(e, "message").or_else(|| e.as_str().map(str::to_owned))),
            },
            "session.idle" => {
                TypedEvent::SessionIdle { aborted: d.get("aborted").and_then(Value::as_bool).unwrap_or(false) }
            }
            "session.error" => TypedEvent::SessionError {
                error_type: s(d, "errorType"),
                message: s(d, "message"),
                status_code: d.get("statusCode").and_then(Value::as_u64),
            },
            _ => TypedEvent::Other,
        }
    }

    /// `data.content` as text (the answer, for `assistant.message`).
    pub fn content(&self) -> Option<&str> {
        self.data.get("content").and_then(Value::as_str)
    }
}

/// A `session.lifecycle` notification (broadcast to every connection).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LifecycleEvent {
    /// `session.created`, `session.deleted`, `session.updated`, `session.foreground`, `session.background`.
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(rename = "sessionId", default)]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A subscription's receiving end: events in wire order; `None` once the session is
/// disconnected or the connection is gone.
pub struct EventStream<T = Arc<SessionEvent>> {
    pub(crate) rx: mpsc::UnboundedReceiver<T>,
}

impl<T> EventStream<T> {
    pub async fn recv(&mut self) -> Option<T> {
        self.rx.recv().await
    }
    /// A ready event, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// One subscriber: an optional filter (the event types it wants) and an unbounded queue, so a slow subscriber only
/// delays itself.
pub(crate) struct Subscriber<T> {
    pub id: u64,
    pub filter: Option<Vec<String>>,
    pub tx: mpsc::UnboundedSender<T>,
}

/// The set of subscribers of one stream of events.
pub(crate) struct Fanout<T> {
    next: u64,
    subs: Vec<Subscriber<T>>,
    closed: bool,
}

impl<T: Clone> Fanout<T> {
    pub fn new() -> Self {
        Fanout { next: 1, subs: Vec::new(), closed: false }
    }
    pub fn subscribe(&mut self, filter: Option<Vec<String>>) -> (u64, EventStream<T>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next;
        self.next += 1;
        if !self.closed {
            self.subs.push(Subscriber { id, filter, tx });
        }
        (id, EventStream { rx })
    }
    pub fn unsubscribe(&mut self, id: u64) {
        self.subs.retain(|s| s.id != id);
    }
    pub fn publish(&mut self, event_type: &str, ev: &T) {
        self.subs.retain(|s| {
            if s.filter.as_ref().is_some_and(|f| !f.iter().any(|t| t == event_type)) {
                return !s.tx.is_closed();
            }
            s.tx.send(ev.clone()).is_ok()
        });
    }
    /// Ends every stream; later subscriptions end at once.
    pub fn close(&mut self) {
        self.closed = true;
        self.subs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_types_and_fields_survive_a_round_trip() {
        let wire = json!({"id":"e1","timestamp":"t","parentId":null,"type":"model.turn_started",
            "data":{"x":1},"ephemeral":true,"agentId":"a","futureField":[1]});
        let ev: SessionEvent = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(ev.typed(), TypedEvent::Other);
        assert_eq!(ev.extra["futureField"], json!([1]));
        assert_eq!(serde_json::to_value(&ev).unwrap(), wire);
    }

    #[test]
    fn typed_views() {
        let ev: SessionEvent = serde_json::from_value(json!({"id":"1","timestamp":"t","type":"assistant.message",
            "data":{"messageId":"m","content":"hi","toolRequests":[{"toolCallId":"c","name":"n","arguments":{"a":1}}]}})).unwrap();
        assert_eq!(ev.content(), Some("hi"));
        match ev.typed() {
            TypedEvent::AssistantMessage { content, tool_requests, .. } => {
                assert_eq!(content, "hi");
                assert_eq!(tool_requests[0].name, "n");
            }
            other => panic!("{other:?}"),
        }
        let ev: SessionEvent = serde_json::from_value(json!({"type":"session.idle","data":{"aborted":true}})).unwrap();
        assert_eq!(ev.typed(), TypedEvent::SessionIdle { aborted: true });
        let ev: SessionEvent = serde_json::from_value(
            json!({"type":"session.error","data":{"errorType":"query","message":"boom","statusCode":500}}),
        )
        .unwrap();
        assert_eq!(
            ev.typed(),
            TypedEvent::SessionError { error_type: "query".into(), message: "boom".into(), status_code: Some(500) }
        );
    }

    #[tokio::test]
    async fn fanout_filters_and_drops_dead_subscribers() {
        let mut f = Fanout::<u32>::new();
        let (_, mut all) = f.subscribe(None);
        let (_, mut only_b) = f.subscribe(Some(vec!["b".into()]));
        let (_, mut a_or_b) = f.subscribe(Some(vec!["a".into(), "b".into()]));
        let (_, dead) = f.subscribe(None);
        drop(dead);
        f.publish("a", &1);
        f.publish("b", &2);
        assert_eq!(f.subs.len(), 3);
        assert_eq!((all.recv().await, all.recv().await), (Some(1), Some(2)));
        assert_eq!(only_b.recv().await, Some(2));
        assert_eq!((a_or_b.recv().await, a_or_b.recv().await), (Some(1), Some(2)));
        f.close();
        assert_eq!(all.recv().await, None);
        let (_, mut late) = f.subscribe(None);
        assert_eq!(late.recv().await, None);
    }
}
