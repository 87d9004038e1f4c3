//! Runs the shared, language-neutral scenarios of `tests/scenarios/` against the real CLI.

mod common;

use copilot_core::{
    Error, ErrorKind, PermissionDecision, PermissionRequest, SessionConfig, SessionEvent, Tool, ToolInvocation,
    ToolResult, UserInputRequest, UserInputResponse,
};
use fake_model::FakeModel;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(scenario_dir().join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[derive(Default)]
struct Seen {
    permission_kinds: Vec<String>,
    questions: Vec<String>,
    hooks: Vec<String>,
}

fn build_config(s: &Value, model: &FakeModel, seen: &Arc<Mutex<Seen>>) -> SessionConfig {
    let mut c = SessionConfig {
        model: Some("gpt-4.1".into()),
        provider: Some(model.provider()),
        streaming: s.get("streaming").and_then(Value::as_bool),
        ..Default::default()
    };
    for t in s.get("tools").and_then(Value::as_array).cloned().unwrap_or_default() {
        let result = t.get("result").and_then(Value::as_str).map(str::to_owned);
        let fail = t.get("fail").and_then(Value::as_str).map(str::to_owned);
        let handler = move |_inv: ToolInvocation| {
            let (result, fail) = (result.clone(), fail.clone());
            async move {
                match fail {
                    Some(f) => Err(Error::new(ErrorKind::HandlerFailed, f)),
                    None => Ok(ToolResult::Text(result.unwrap_or_default())),
                }
            }
        };
        let mut tool = Tool::new(t["name"].as_str().unwrap(), handler)
            .skip_permission(t.get("skipPermission").and_then(Value::as_bool).unwrap_or(false));
        if let Some(d) = t.get("description").and_then(Value::as_str) {
            tool = tool.description(d);
        }
        if let Some(p) = t.get("parameters") {
            tool = tool.parameters(p.clone());
        }
        c.tools.push(tool);
    }
    if let Some(p) = s.get("permission").and_then(Value::as_str) {
        let p = p.to_owned();
        let feedback = s.get("permissionFeedback").and_then(Value::as_str).map(str::to_owned);
        let seen = seen.clone();
        c.on_permission_request = Some(Arc::new(move |req: PermissionRequest| {
            seen.lock().unwrap().permission_kinds.push(req.kind.clone());
            let (p, feedback) = (p.clone(), feedback.clone());
            async move {
                match p.as_str() {
                    "fail" => Err(Error::new(ErrorKind::HandlerFailed, "permission handler exploded")),
                    "reject" => Ok(PermissionDecision::Reject { feedback }),
                    other => PermissionDecision::from_json(&json!(other)),
                }
            }
        }));
    }
    if let Some(u) = s.get("userInput") {
        let u = u.clone();
        let seen = seen.clone();
        c.on_user_input_request = Some(Arc::new(move |req: UserInputRequest| {
            seen.lock().unwrap().questions.push(req.question.clone());
            let u = u.clone();
            async move {
                match u.get("fail").and_then(Value::as_str) {
                    Some(f) => Err(Error::new(ErrorKind::HandlerFailed, f)),
                    None => Ok(UserInputResponse { answer: u["answer"].as_str().unwrap_or_default().into(), was_freeform: false }),
                }
            }
        }));
    }
    if s.get("hooks").and_then(Value::as_bool) == Some(true) {
        let seen = seen.clone();
        c.on_hook = Some(Arc::new(move |p: Value| {
            seen.lock().unwrap().hooks.push(p["hookType"].as_str().unwrap_or_default().to_owned());
            async { Ok(Value::Null) }
        }));
    }
    c
}

fn assert_subsequence(what: &str, want: &[String], got: &[String]) {
    let mut it = got.iter();
    for w in want {
        assert!(it.any(|g| g == w), "{what}: expected {want:?} in order, got {got:?}");
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

async fn run(name: &str) {
    common::init_tracing();
    let sc = load(name);
    assert_eq!(sc["name"], name);
    let model = FakeModel::start().await.unwrap();
    let client = common::connect_shared().await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let session = client.create_session(build_config(&sc["session"], &model, &seen)).await.unwrap();
    for (i, turn) in sc["turns"].as_array().unwrap().iter().enumerate() {
        let ctx = format!("{name} turn {i}");
        *seen.lock().unwrap() = Seen::default();
        let mut events = session.subscribe();
        let prompt = turn["prompt"].as_str().unwrap();
        let result = session.send_and_wait(copilot_core::MessageOptions::new(prompt).timeout(Duration::from_secs(90))).await;
        let mut evs: Vec<Arc<SessionEvent>> = vec![];
        while let Some(e) = events.try_recv() {
            evs.push(e);
        }
        let types: Vec<String> = evs.iter().map(|e| e.event_type.clone()).collect();
        let x = &turn["expect"];
        if let Some(code) = x.get("error").and_then(Value::as_str) {
            let e = result.expect_err(&ctx);
            assert_eq!(e.code(), code, "{ctx}: {e}");
            continue;
        }
        let answer_event = result.unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let answer = answer_event.as_ref().and_then(|e| e.content()).unwrap_or_default().to_owned();
        if let Some(a) = x.get("answer").and_then(Value::as_str) {
            assert_eq!(answer, a, "{ctx}");
        }
        for s in strings(x.get("answerContains")) {
            assert!(answer.contains(&s), "{ctx}: answer {answer:?} lacks {s:?}");
        }
        assert_subsequence(&ctx, &strings(x.get("events")), &types);
        for t in strings(x.get("noEvents")) {
            assert!(!types.contains(&t), "{ctx}: unexpected {t} in {types:?}");
        }
        if let Some(tc) = x.get("toolComplete") {
            let last = evs.iter().rev().find(|e| e.event_type == "tool.execution_complete").unwrap_or_else(|| panic!("{ctx}: no tool.execution_complete"));
            assert_eq!(last.data["success"], tc["success"], "{ctx}: {}", last.data);
            if let Some(s) = tc.get("contains").and_then(Value::as_str) {
                assert!(last.data.to_string().contains(s), "{ctx}: {} lacks {s:?}", last.data);
            }
        }
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        if x.get("permissionKinds").is_some() {
            assert_eq!(seen.permission_kinds, strings(x.get("permissionKinds")), "{ctx}");
        }
        if x.get("userInputQuestions").is_some() {
            assert_eq!(seen.questions, strings(x.get("userInputQuestions")), "{ctx}");
        }
        assert_subsequence(&format!("{ctx} hooks"), &strings(x.get("hooks")), &seen.hooks);
        if x.get("deltasConcatenate").and_then(Value::as_bool) == Some(true) {
            let final_ev = answer_event.as_ref().unwrap();
            let id = final_ev.data["messageId"].as_str().unwrap();
            let deltas: String = evs
                .iter()
                .filter(|e| e.event_type == "assistant.message_delta" && e.data["messageId"] == id)
                .map(|e| e.data["deltaContent"].as_str().unwrap_or_default())
                .collect();
            assert!(types.iter().filter(|t| *t == "assistant.message_delta").count() >= 2, "{ctx}: {types:?}");
            assert_eq!(deltas, answer, "{ctx}");
        }
    }
    session.disconnect().await.unwrap();
    client.stop().await.unwrap();
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { run(stringify!($name)).await }
        )*
        const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios!(
    plain_turn,
    streaming_deltas,
    tool_round_trip,
    tool_failure,
    permission_approve,
    permission_reject,
    permission_handler_fails,
    user_input,
    hooks,
    model_error,
);

#[test]
fn every_scenario_file_is_run() {
    let mut files: Vec<String> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_owned))
        .collect();
    files.sort();
    let mut names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    names.sort();
    assert_eq!(files, names, "tests/scenarios and the runner's list differ");
}
