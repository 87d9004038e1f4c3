//! Extension points: one async trait per callback kind. Closures implement them directly;
//! each binding implements them with host-language objects.
//!
//! Failure rules (what the CLI receives when a handler fails or panics):
//! - tool: a `failure` result whose text reaches the model (`Tool '<name>' failed: …`);
//! - permission: `user-not-available` (the tool is denied);
//! - user input, provider token: a JSON-RPC error (the CLI reports the failure);
//! - hook: `{"output":{}}` (no-op, as the official SDKs do), logged;
//! - system-message transform: the sections unchanged;
//! - exit plan mode: `{"approved":false,"feedback":<error>}`;
//! - auto-mode switch: `{"response":"no"}`.
//!
//! The bare reply forms every JSON-shaped handler may use are listed in [`crate::host`].

use crate::error::{Error, ErrorKind, Result};
use crate::rpc::BoxFuture;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;

/// A client-side tool the model may call.
#[derive(Clone)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments object.
    pub parameters: Option<Value>,
    /// Run without a permission prompt.
    pub skip_permission: bool,
    /// Required to replace a built-in tool of the same name (e.g. `bash`).
    pub overrides_built_in_tool: bool,
    /// Declared but executed elsewhere (another connection): no handler here.
    pub handler: Option<Arc<dyn ToolHandler>>,
    /// Other wire fields (`defer`, `metadata`, `isTerminal`, …).
    pub extra: serde_json::Map<String, Value>,
}

impl Tool {
    pub fn new(name: impl Into<String>, handler: impl ToolHandler + 'static) -> Self {
        Tool {
            name: name.into(),
            description: None,
            parameters: None,
            skip_permission: false,
            overrides_built_in_tool: false,
            handler: Some(Arc::new(handler)),
            extra: Default::default(),
        }
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    pub fn parameters(mut self, schema: Value) -> Self {
        self.parameters = Some(schema);
        self
    }
    pub fn skip_permission(mut self, yes: bool) -> Self {
        self.skip_permission = yes;
        self
    }
    pub fn overrides_built_in_tool(mut self, yes: bool) -> Self {
        self.overrides_built_in_tool = yes;
        self
    }

    pub(crate) fn to_wire(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("name".into(), json!(self.name));
        if let Some(d) = &self.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(p) = &self.parameters {
            m.insert("parameters".into(), p.clone());
        }
        if self.skip_permission {
            m.insert("skipPermission".into(), json!(true));
        }
        if self.overrides_built_in_tool {
            m.insert("overridesBuiltInTool".into(), json!(true));
        }
        Value::Object(m)
    }
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool").field("name", &self.name).field("has_handler", &self.handler.is_some()).finish()
    }
}

/// Tells a running handler that its answer is no longer wanted: the turn was aborted, it timed
/// out, the session was disconnected, the client stopped, or the connection was lost. The
/// core stops waiting for the handler at that moment (dropping its future) and answers the CLI
/// itself; the token lets work that is not a future (a thread, a child process) stop too.
#[derive(Clone, Debug)]
pub struct CancellationToken(Arc<tokio::sync::watch::Sender<Option<String>>>);

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken(Arc::new(tokio::sync::watch::Sender::new(None)))
    }
}

impl CancellationToken {
    pub fn new() -> Self {
        Self::default()
    }
    /// Cancels with a reason (the first reason wins). Returns false when already cancelled.
    pub fn cancel(&self, reason: &str) -> bool {
        self.0.send_if_modified(|r| {
            if r.is_some() {
                return false;
            }
            *r = Some(reason.to_owned());
            true
        })
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.borrow().is_some()
    }
    /// Why it was cancelled.
    pub fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }
    /// Resolves (with the reason) once cancelled.
    pub async fn cancelled(&self) -> String {
        let mut rx = self.0.subscribe();
        let r = rx.wait_for(Option::is_some).await.map(|r| r.clone().unwrap_or_default());
        r.unwrap_or_default()
    }
}

/// What a tool call carries (`external_tool.requested`).
#[derive(Clone, Debug)]
pub struct ToolInvocation {
    pub session_id: String,
    pub request_id: String,
    pub tool_call_id: String,
    pub tool_name: String,
    pub arguments: Value,
    pub working_directory: Option<String>,
    /// The W3C trace context the CLI ran the tool under (restore it around the handler).
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// The whole event payload.
    pub raw: Value,
    /// Cancelled when the answer is no longer wanted (see [`CancellationToken`]).
    pub cancel: CancellationToken,
}

/// A tool's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolResult {
    /// Text for the model.
    Text(String),
    /// A failure whose message the model sees.
    Failure(String),
    /// A full result object (`textResultForLlm`, `resultType`, `binaryResultsForLlm`, …),
    /// sent as is.
    Object(Value),
}

impl ToolResult {
    /// Converts any JSON value the way the official SDKs do: strings as text, a valid result
    /// object as is, null as empty text, anything else as its JSON text.
    pub fn from_json(v: Value) -> ToolResult {
        match v {
            Value::Null => ToolResult::Text(String::new()),
            Value::String(s) => ToolResult::Text(s),
            Value::Object(ref m)
                if m.get("textResultForLlm").is_some_and(Value::is_string)
                    && m.get("resultType")
                        .and_then(Value::as_str)
                        .is_some_and(|t| matches!(t, "success" | "failure" | "rejected" | "denied" | "timeout")) =>
            {
                ToolResult::Object(v)
            }
            other => ToolResult::Text(other.to_string()),
        }
    }

    pub(crate) fn to_wire(&self) -> Value {
        match self {
            ToolResult::Text(t) => json!(t),
            ToolResult::Failure(msg) => json!({"textResultForLlm": msg, "resultType": "failure", "error": msg}),
            ToolResult::Object(v) => v.clone(),
        }
    }
}

impl From<String> for ToolResult {
    fn from(s: String) -> Self {
        ToolResult::Text(s)
    }
}
impl From<&str> for ToolResult {
    fn from(s: &str) -> Self {
        ToolResult::Text(s.to_owned())
    }
}

pub trait ToolHandler: Send + Sync {
    fn call(&self, invocation: ToolInvocation) -> BoxFuture<'static, Result<ToolResult>>;
}
impl<F, Fut> ToolHandler for F
where
    F: Fn(ToolInvocation) -> Fut + Send + Sync,
    Fut: Future<Output = Result<ToolResult>> + Send + 'static,
{
    fn call(&self, invocation: ToolInvocation) -> BoxFuture<'static, Result<ToolResult>> {
        Box::pin(self(invocation))
    }
}

/// A permission prompt (`permission.requested`).
#[derive(Clone, Debug)]
pub struct PermissionRequest {
    pub session_id: String,
    pub request_id: String,
    /// `shell`, `write`, `read`, `custom-tool`, `mcp`, `url`, … (keep unknown kinds opaque).
    pub kind: String,
    pub tool_call_id: Option<String>,
    /// `data.permissionRequest`.
    pub request: Value,
    /// The whole event payload.
    pub raw: Value,
    /// Cancelled when the answer is no longer wanted (see [`CancellationToken`]).
    pub cancel: CancellationToken,
}

/// The decision kinds the CLI accepts for tool prompts.
#[derive(Clone, Debug, PartialEq)]
pub enum PermissionDecision {
    ApproveOnce,
    ApproveForSession,
    Reject {
        feedback: Option<String>,
    },
    UserNotAvailable,
    /// Send nothing: another client (or a later call) answers.
    NoResult,
    /// Any other result object, sent as is (e.g. `approve-for-location`).
    Custom(Value),
}

impl PermissionDecision {
    pub(crate) fn to_wire(&self) -> Option<Value> {
        Some(match self {
            PermissionDecision::ApproveOnce => json!({"kind": "approve-once"}),
            PermissionDecision::ApproveForSession => json!({"kind": "approve-for-session"}),
            PermissionDecision::Reject { feedback: Some(f) } => json!({"kind": "reject", "feedback": f}),
            PermissionDecision::Reject { feedback: None } => json!({"kind": "reject"}),
            PermissionDecision::UserNotAvailable => json!({"kind": "user-not-available"}),
            PermissionDecision::NoResult => return None,
            PermissionDecision::Custom(v) => v.clone(),
        })
    }

    /// Reads a decision from JSON: `{"kind": ...}`, a bare kind string, or a boolean (`true`:
    /// approve once, `false`: reject). Outcome-only kinds (`approved`, `denied-…`) are
    /// refused: the CLI would fail the tool on them.
    pub fn from_json(v: &Value) -> Result<PermissionDecision> {
        if let Value::Bool(b) = v {
            return Ok(if *b {
                PermissionDecision::ApproveOnce
            } else {
                PermissionDecision::Reject { feedback: None }
            });
        }
        let kind = v.as_str().or_else(|| v.get("kind").and_then(Value::as_str)).ok_or_else(|| {
            Error::config(format!("a permission decision needs a \"kind\" (approve-once, approve-for-session, reject, user-not-available, no-result), got {v}"))
        })?;
        Ok(match kind {
            "approve-once" => PermissionDecision::ApproveOnce,
            "approve-for-session" => PermissionDecision::ApproveForSession,
            "reject" => {
                PermissionDecision::Reject { feedback: v.get("feedback").and_then(Value::as_str).map(str::to_owned) }
            }
            "user-not-available" => PermissionDecision::UserNotAvailable,
            "no-result" => PermissionDecision::NoResult,
            "approve-for-location" | "approve-permanently" if v.is_object() => PermissionDecision::Custom(v.clone()),
            other => {
                return Err(Error::config(format!(
                    "unknown permission decision kind {other:?}; use approve-once, approve-for-session, approve-for-location, reject, user-not-available or no-result"
                )));
            }
        })
    }
}

pub trait PermissionHandler: Send + Sync {
    fn decide(&self, request: PermissionRequest) -> BoxFuture<'static, Result<PermissionDecision>>;
}
impl<F, Fut> PermissionHandler for F
where
    F: Fn(PermissionRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<PermissionDecision>> + Send + 'static,
{
    fn decide(&self, request: PermissionRequest) -> BoxFuture<'static, Result<PermissionDecision>> {
        Box::pin(self(request))
    }
}

/// A permission handler that approves every prompt once.
pub fn approve_all() -> Arc<dyn PermissionHandler> {
    Arc::new(|_req: PermissionRequest| async { Ok(PermissionDecision::ApproveOnce) })
}

/// A question for the user (`userInput.request`, from the `ask_user` tool).
#[derive(Clone, Debug)]
pub struct UserInputRequest {
    pub session_id: String,
    pub question: String,
    pub choices: Vec<String>,
    pub allow_freeform: bool,
    pub raw: Value,
    /// Cancelled when the answer is no longer wanted (see [`CancellationToken`]).
    pub cancel: CancellationToken,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserInputResponse {
    pub answer: String,
    pub was_freeform: bool,
}

impl UserInputResponse {
    /// Reads a host's answer: a string, or `{answer, wasFreeform?}` (`was_freeform` also
    /// accepted). Without `wasFreeform`, the answer counts as freeform unless it is one of the
    /// offered `choices`.
    pub fn from_json(v: &Value, choices: &[String]) -> Result<UserInputResponse> {
        let (answer, flag) = match v {
            Value::String(s) => (s.clone(), None),
            Value::Object(o) => match o.get("answer") {
                Some(Value::String(a)) => {
                    let flag = o.get("wasFreeform").or_else(|| o.get("was_freeform"));
                    match flag {
                        None | Some(Value::Null) => (a.clone(), None),
                        Some(Value::Bool(b)) => (a.clone(), Some(*b)),
                        Some(other) => {
                            return Err(Error::new(
                                ErrorKind::HandlerFailed,
                                format!("`wasFreeform` must be a boolean, got {other}"),
                            ));
                        }
                    }
                }
                _ => return Err(Self::bad(v)),
            },
            _ => return Err(Self::bad(v)),
        };
        let was_freeform = flag.unwrap_or_else(|| !choices.contains(&answer));
        Ok(UserInputResponse { answer, was_freeform })
    }

    fn bad(v: &Value) -> Error {
        Error::new(
            ErrorKind::HandlerFailed,
            format!("a user-input answer must be a string or {{\"answer\": string, \"wasFreeform\"?: bool}}, got {v}"),
        )
    }
}

pub trait UserInputHandler: Send + Sync {
    fn ask(&self, request: UserInputRequest) -> BoxFuture<'static, Result<UserInputResponse>>;
}
impl<F, Fut> UserInputHandler for F
where
    F: Fn(UserInputRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<UserInputResponse>> + Send + 'static,
{
    fn ask(&self, request: UserInputRequest) -> BoxFuture<'static, Result<UserInputResponse>> {
        Box::pin(self(request))
    }
}

/// A JSON-in, JSON-out handler, used for hooks (`hooks.invoke`: input `{hookType, input}`,
/// output the hook output or null), the system-message transform (input `{sections}`, output
/// `{sections}`), exit-plan-mode (input the request, output `{approved, selectedAction?,
/// feedback?}`) and the provider bearer token (input `{providerName}`, output `{token}` or a
/// string).
pub trait JsonHandler: Send + Sync {
    fn handle(&self, params: Value) -> BoxFuture<'static, Result<Value>>;
}
impl<F, Fut> JsonHandler for F
where
    F: Fn(Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value>> + Send + 'static,
{
    fn handle(&self, params: Value) -> BoxFuture<'static, Result<Value>> {
        Box::pin(self(params))
    }
}

/// Runs a handler future in its own task so that a panic becomes an error instead of
/// unwinding through the connection.
/// Runs a handler in a task of its own (a panic becomes `handler_failed`). Dropping the returned
/// future aborts that task: a cancelled handler does not run on.
pub(crate) async fn guarded<T: Send + 'static>(what: &str, fut: BoxFuture<'static, Result<T>>) -> Result<T> {
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(tokio::spawn(fut));
    match (&mut task.0).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(Error::new(ErrorKind::HandlerFailed, format!("{what} handler panicked: {msg}")))
        }
        Err(e) => Err(Error::new(ErrorKind::Cancelled, format!("{what} handler was cancelled: {e}"))),
    }
}

#[cfg(feature = "schemars")]
impl Tool {
    /// A tool whose parameter schema is derived from its arguments type (`#[derive(JsonSchema,
    /// Deserialize)]`) and whose handler receives the arguments already read as that type.
    /// Arguments that do not match the type answer the model with a failure naming the problem
    /// (the handler is not called). The handler's value is sent as text: a string as it is,
    /// anything else as JSON.
    ///
    /// ```no_run
    /// # use copilot_core::Tool;
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Weather { city: String }
    /// let tool = Tool::typed("get_weather", |a: Weather, _inv| async move {
    ///     Ok(format!("Sunny in {}", a.city))
    /// })
    /// .description("The weather of a city");
    /// ```
    pub fn typed<A, R, F, Fut>(name: impl Into<String>, handler: F) -> Tool
    where
        A: schemars::JsonSchema + serde::de::DeserializeOwned + Send + 'static,
        R: serde::Serialize + Send + 'static,
        F: Fn(A, ToolInvocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        let mut schema = serde_json::to_value(schemars::schema_for!(A)).unwrap_or_else(|_| json!({"type": "object"}));
        if let Some(m) = schema.as_object_mut() {
            m.remove("$schema");
        }
        let handler = Arc::new(handler);
        let call = move |inv: ToolInvocation| {
            let handler = handler.clone();
            async move {
                let args: A = match serde_json::from_value(inv.arguments.clone()) {
                    Ok(a) => a,
                    Err(e) => return Ok(ToolResult::Failure(format!("invalid arguments for {}: {e}", inv.tool_name))),
                };
                let value = serde_json::to_value(handler(args, inv).await?)
                    .map_err(|e| crate::Error::config(format!("the tool's result cannot be written as JSON: {e}")))?;
                Ok(match value {
                    Value::String(s) => ToolResult::Text(s),
                    other => ToolResult::Text(other.to_string()),
                })
            }
        };
        Tool::new(name, call).parameters(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_handler_future_stops_its_task() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let fut: BoxFuture<'static, Result<()>> = Box::pin(async move {
            let _tx = tx; // dropped when the task is aborted
            std::future::pending::<()>().await;
            Ok(())
        });
        let run = guarded("test", fut);
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), run).await.is_err());
        tokio::time::timeout(std::time::Duration::from_secs(1), rx).await.unwrap().unwrap_err();
    }

    #[test]
    fn tool_results_follow_the_sdk_rules() {
        assert_eq!(ToolResult::from_json(Value::Null).to_wire(), json!(""));
        assert_eq!(ToolResult::from_json(json!("x")).to_wire(), json!("x"));
        assert_eq!(ToolResult::from_json(json!({"a": 1})).to_wire(), json!("{\"a\":1}"));
        let obj = json!({"textResultForLlm": "t", "resultType": "success", "sessionLog": "s"});
        assert_eq!(ToolResult::from_json(obj.clone()).to_wire(), obj);
        assert_eq!(ToolResult::Failure("bad".into()).to_wire()["resultType"], "failure");
    }

    #[test]
    fn permission_decisions() {
        assert_eq!(PermissionDecision::from_json(&json!("approve-once")).unwrap(), PermissionDecision::ApproveOnce);
        assert_eq!(
            PermissionDecision::from_json(&json!({"kind": "reject", "feedback": "no"})).unwrap().to_wire().unwrap(),
            json!({"kind": "reject", "feedback": "no"})
        );
        assert_eq!(PermissionDecision::NoResult.to_wire(), None);
        assert_eq!(PermissionDecision::from_json(&json!(true)).unwrap(), PermissionDecision::ApproveOnce);
        assert_eq!(
            PermissionDecision::from_json(&json!(false)).unwrap(),
            PermissionDecision::Reject { feedback: None }
        );
        for bad in [json!("approved"), json!("denied-interactively-by-user"), json!(3), json!({})] {
            assert_eq!(PermissionDecision::from_json(&bad).unwrap_err().kind(), ErrorKind::InvalidConfig, "{bad}");
        }
    }

    #[test]
    fn user_input_answers() {
        let choices = vec!["red".to_owned(), "blue".to_owned()];
        let r = |v: Value| UserInputResponse::from_json(&v, &choices);
        assert_eq!(r(json!("blue")).unwrap(), UserInputResponse { answer: "blue".into(), was_freeform: false });
        assert_eq!(r(json!("teal")).unwrap(), UserInputResponse { answer: "teal".into(), was_freeform: true });
        assert!(!r(json!({"answer": "red"})).unwrap().was_freeform);
        assert!(r(json!({"answer": "red", "wasFreeform": true})).unwrap().was_freeform);
        assert!(!r(json!({"answer": "x", "was_freeform": false})).unwrap().was_freeform);
        for bad in [json!(null), json!(3), json!({"answer": 1}), json!({"answer": "a", "wasFreeform": "yes"})] {
            assert_eq!(r(bad.clone()).unwrap_err().kind(), ErrorKind::HandlerFailed, "{bad}");
        }
    }

    #[tokio::test]
    async fn panics_become_errors() {
        let e = guarded::<()>("tool", Box::pin(async { panic!("kaboom") })).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::HandlerFailed);
        assert!(e.message().contains("kaboom"));
    }
}
