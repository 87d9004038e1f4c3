//! The typed protocol (generated from the CLI's schemas) against the real CLI: typed server and
//! session calls, typed events, and the strict mode reading every event and result of the run.

mod common;

use common::connect_shared;
use copilot_core::protocol::types::{
    PingRequest, SessionLogParams, SessionMode, SessionModeSetParams, SessionModelSwitchToParams, SessionNameSetParams,
    SessionPlanUpdateParams, ToolsListRequest,
};
use copilot_core::protocol::{EVENT_TYPES, Event, strict};
use copilot_core::{ErrorKind, SessionConfig};
use fake_model::FakeModel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_and_events_against_the_real_cli() {
    strict::enable();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;

    // Server methods.
    let pong = client.rpc().ping(PingRequest { message: Some("typed".into()) }).await.unwrap();
    assert_eq!(pong.message, "pong: typed");
    assert_eq!(pong.protocol_version, 3);
    let tools = client.rpc().tools().list(ToolsListRequest::default()).await.unwrap();
    assert!(tools.tools.iter().any(|t| !t.name.is_empty() && !t.description.is_empty()), "{:?}", tools.tools.first());
    let catalog = client.rpc().models().get_built_in_catalog().await.unwrap();
    assert!(!catalog.models.is_empty());
    client.rpc().account().get_current_auth().await.unwrap();
    // Unauthenticated: a typed RPC error through the typed call too.
    assert_eq!(client.list_models_typed().await.unwrap_err().kind(), ErrorKind::Rpc);

    // Session methods: sessionId is filled in by the core.
    let config =
        SessionConfig { model: Some("gpt-4.1".into()), provider: Some(model.provider()), ..Default::default() };
    let session = client.create_session(config).await.unwrap();
    let mut stream = session.subscribe();
    let switched = session
        .rpc()
        .model()
        .switch_to(SessionModelSwitchToParams { model_id: "gpt-5".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(switched.model_id.as_deref(), Some("gpt-5"), "{switched:?}");
    assert_eq!(session.rpc().model().get_current().await.unwrap().model_id.as_deref(), Some("gpt-5"));
    assert_eq!(session.rpc().mode().get().await.unwrap(), SessionMode::Interactive);
    session.rpc().mode().set(SessionModeSetParams { mode: SessionMode::Plan, ..Default::default() }).await.unwrap();
    assert_eq!(session.rpc().mode().get().await.unwrap(), SessionMode::Plan);
    session.rpc().name().set(SessionNameSetParams { name: "typed session".into() }).await.unwrap();
    assert_eq!(session.rpc().name().get().await.unwrap().name.as_deref(), Some("typed session"));
    session.rpc().plan().update(SessionPlanUpdateParams { content: "# plan\n- one".into() }).await.unwrap();
    let plan = session.rpc().plan().read().await.unwrap();
    assert!(plan.exists && plan.content.as_deref() == Some("# plan\n- one"), "{plan:?}");
    let logged = session
        .rpc()
        .log(SessionLogParams { message: "from a typed call".into(), ..Default::default() })
        .await
        .unwrap();
    assert!(!logged.event_id.is_empty());
    session
        .rpc()
        .mode()
        .set(SessionModeSetParams { mode: SessionMode::Interactive, ..Default::default() })
        .await
        .unwrap();

    // A turn, read as typed events.
    let answer = session.send_and_wait("Say typed hello").await.unwrap().unwrap();
    let Event::AssistantMessage(m) = answer.protocol().unwrap() else { panic!("{answer:?}") };
    assert!(!m.content.is_empty());
    let (mut user, mut assistant, mut idle, mut model_change) = (0, 0, 0, 0);
    while let Some(ev) = stream.try_recv() {
        match ev.protocol().unwrap() {
            Event::UserMessage(d) => {
                assert_eq!(d.content, "Say typed hello");
                user += 1;
            }
            Event::AssistantMessage(d) => {
                assert_eq!(d.content, m.content);
                assistant += 1;
            }
            Event::Idle(_) => idle += 1,
            Event::ModelChange(d) => {
                assert_eq!(d.new_model, "gpt-5");
                model_change += 1;
            }
            Event::Unknown => assert!(!EVENT_TYPES.contains(&ev.event_type.as_str())),
            _ => {}
        }
    }
    assert_eq!((user, assistant, idle, model_change), (1, 1, 1, 1));

    // Methods newer than the schema stay reachable by name.
    assert_eq!(session.call("session.mode.get", serde_json::json!({})).await.unwrap(), "interactive");
    client.stop().await.unwrap();

    let s = strict::stats();
    eprintln!("{}", strict::report());
    assert!(s.events >= 6 && s.results >= 10, "{s:?}");
    assert!(s.failures.is_empty(), "events or results the types cannot read: {:#?}", s.failures);
}

/// The arguments of a typed tool: the parameter schema comes from this type.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Forecast {
    /// The city.
    city: String,
    days: u32,
    #[serde(default)]
    metric: Option<bool>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_tool_gets_its_schema_from_the_arguments_type() {
    strict::enable();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let tool = copilot_core::Tool::typed("forecast", move |a: Forecast, inv| {
        let s2 = s2.clone();
        async move {
            assert_eq!(inv.tool_name, "forecast");
            s2.lock().unwrap().push((a.city.clone(), a.days, a.metric));
            Ok(serde_json::json!({"city": a.city, "sky": "clear"}))
        }
    })
    .description("Weather forecast")
    .skip_permission(true);
    let schema = tool.parameters.clone().unwrap();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["days"]["type"], "integer");
    assert_eq!(schema["properties"]["city"]["description"], "The city.");
    assert_eq!(schema["required"], serde_json::json!(["city", "days"]));
    let config = SessionConfig {
        model: Some("gpt-4.1".into()),
        provider: Some(model.provider()),
        tools: vec![tool],
        ..Default::default()
    };
    let session = client.create_session(config).await.unwrap();
    let answer = session.send_and_wait(r#"CALL forecast {"city":"Oslo","days":3}"#).await.unwrap().unwrap();
    assert!(answer.content().unwrap().contains("clear"), "{answer:?}");
    // Arguments that do not match the type: the model gets the failure, the handler is not run.
    let answer = session.send_and_wait(r#"CALL forecast {"city":"Oslo","days":"many"}"#).await.unwrap().unwrap();
    assert!(answer.content().unwrap().contains("invalid arguments for forecast"), "{answer:?}");
    assert_eq!(*seen.lock().unwrap(), vec![("Oslo".to_string(), 3, None)]);
    // The model received the schema derived from the type.
    let req = model.chat_requests().first().unwrap().body.clone();
    let declared =
        req["tools"].as_array().unwrap().iter().find(|t| t["function"]["name"] == "forecast").unwrap().clone();
    assert_eq!(declared["function"]["parameters"]["properties"]["days"]["type"], "integer", "{declared}");
    client.stop().await.unwrap();
    assert!(strict::stats().failures.is_empty(), "{:#?}", strict::stats().failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_hooks_against_the_real_cli() {
    use copilot_core::protocol::Hooks;
    use copilot_core::protocol::types::{
        PostToolUseHookOutput, PreToolUseHookOutput, PreToolUseHookOutputPermissionDecision,
        UserPromptSubmittedHookOutput,
    };
    use std::sync::{Arc, Mutex};
    strict::enable();
    let model = FakeModel::start().await.unwrap();
    let client = connect_shared().await;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    let hooks = Hooks::new()
        .on_user_prompt_submitted(move |input, inv| {
            s1.lock().unwrap().push(format!("prompt:{}:{}", input.prompt, inv.session_id));
            async move {
                Ok(Some(UserPromptSubmittedHookOutput {
                    additional_context: Some("REMEMBER-THE-TYPED-HOOK".into()),
                    ..Default::default()
                }))
            }
        })
        .on_pre_tool_use(move |input, inv| {
            let deny = input.tool_name == "forbidden";
            // The wire timestamp is Unix milliseconds; cwd is the session's working directory.
            assert!(input.timestamp > 1.6e12 && !input.cwd.is_empty(), "{}", input.timestamp);
            s2.lock().unwrap().push(format!("pre:{}:{}", input.tool_name, inv.session_id));
            async move {
                Ok(deny.then(|| PreToolUseHookOutput {
                    permission_decision: Some(PreToolUseHookOutputPermissionDecision::Deny),
                    permission_decision_reason: Some("typed hooks say no".into()),
                    ..Default::default()
                }))
            }
        })
        .on_post_tool_use(move |input, _inv| {
            let text = input.tool_result.and_then(|r| r.text_result_for_llm).unwrap_or_default();
            s3.lock().unwrap().push(format!("post:{}:{text}", input.tool_name));
            async move { Ok(None::<PostToolUseHookOutput>) }
        });
    let echo = copilot_core::Tool::new("allowed", |_i: copilot_core::ToolInvocation| async {
        Ok(copilot_core::ToolResult::from("allowed ran"))
    })
    .skip_permission(true);
    let never = copilot_core::Tool::new("forbidden", |_i: copilot_core::ToolInvocation| async {
        Ok(copilot_core::ToolResult::from("must not run"))
    })
    .skip_permission(true);
    let config = SessionConfig {
        model: Some("gpt-4.1".into()),
        provider: Some(model.provider()),
        tools: vec![echo, never],
        on_hook: Some(hooks.handler()),
        ..Default::default()
    };
    let session = client.create_session(config).await.unwrap();
    let id = session.id().to_string();
    let answer = session.send_and_wait("CALL forbidden {}").await.unwrap().unwrap();
    assert!(answer.content().unwrap().contains("typed hooks say no"), "{:?}", answer.content());
    session.send_and_wait("CALL allowed {}").await.unwrap();
    // The prompt hook's additional context reached the model.
    assert!(model.chat_requests().iter().any(|r| r.body.to_string().contains("REMEMBER-THE-TYPED-HOOK")));
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains(&format!("prompt:CALL forbidden {{}}:{id}")), "{seen:?}");
    assert!(seen.contains(&format!("pre:forbidden:{id}")) && seen.contains(&format!("pre:allowed:{id}")), "{seen:?}");
    assert!(seen.contains(&"post:allowed:allowed ran".to_string()), "{seen:?}");
    assert!(!seen.iter().any(|s| s.starts_with("post:forbidden")), "{seen:?}");
    client.stop().await.unwrap();
    assert!(strict::stats().failures.is_empty(), "{:#?}", strict::stats().failures);
}
